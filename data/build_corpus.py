#!/usr/bin/env python3
"""Build the synthetic featevo text corpus (stdlib only, deterministic).

Writes, next to this script (or into --out-dir):

* ``corpus.jsonl`` -- SAE / fine-tuning training corpus, shuffled with the seed.
* ``probe.jsonl``  -- held-out probe set, 60 sentences per category, grouped by
  category.  Probe sentences come exclusively from each category's
  ``probe_templates``, which are *never* used for the corpus, so no
  template+filler combination is shared with the corpus.

Every line is ``{"text": str, "category": str, "domain": "financial"|"general", "template": str}``; ``template``
names the template that wrote the sentence (``<category>/c<i>`` corpus, ``<category>/p<i>`` probe).

The text is synthetic: sentences are produced from hand-written templates and
lexicons.  Company, bank, fund, person, team, restaurant, artist and work
titles are invented; well-known institutions (central banks, indexes, rating
agencies, journals, cities) appear only as generic context.

The words live in ``corpus_source/`` beside this script: ``<category>.json``
holds a category's ``corpus_templates``, ``probe_templates`` and the ``slots``
only it uses; ``shared.json`` holds the ``slots`` several categories use and
the ``lexicons`` (names, companies, central banks, ...) that the generator
functions below draw from.  A slot is a list (one element is drawn with
``rng.choice``; elements are strings or records, i.e. objects) or a spec
``{"fn": name, "args": [...], "kwargs": {...}}`` naming a function of
``GENERATORS`` (registered below with ``@factory`` or ``@sampler``), which
gives a list or a ``callable(rng)``.  A string ``"@name"`` anywhere in a slot
(the whole slot, or an argument of a spec) stands for ``lexicons[name]``.

Template syntax: ``{slot}`` draws a value from ``S[slot]`` (a list or a
``callable(rng)``); ``{slot.field}`` reads a field of a record-valued slot;
``{slot2}`` is a second, *different* draw from the same slot; the same key
repeated in one template reuses its value.  ``[a|b|c]`` picks one alternative
(an empty alternative is allowed) and ``a(n)`` becomes "a" or "an" depending on
the following word.  Sentences outside 10-40 words, and duplicates (exact or
after lowercasing / punctuation stripping) across both files, are re-drawn.

Usage::

    python data/build_corpus.py            # seed 0, writes data/*.jsonl
    python data/build_corpus.py --seed 1 --out-dir build/corpus
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

FINANCIAL = ["earnings", "markets", "banking", "macro", "central_banks", "credit", "mna"]
GENERAL = ["weather", "sports", "science", "food", "travel", "arts"]
CATEGORIES = FINANCIAL + GENERAL
DOMAIN = {c: "financial" for c in FINANCIAL} | {c: "general" for c in GENERAL}

N_CORPUS = {c: 350 for c in FINANCIAL} | {c: 300 for c in GENERAL}
N_PROBE = 60
MIN_CORPUS_TEMPLATES = 25
MIN_WORDS, MAX_WORDS = 10, 40
SOURCE_DIR = Path(__file__).resolve().parent / "corpus_source"

LEX: dict = {}  # lexicon name -> list or mapping (shared.json "lexicons")
S: dict = {}  # slot name -> list of strings/records, or callable(rng)
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {}  # category -> (corpus templates, probe templates)
GENERATORS: dict[str, Callable] = {}  # "fn" of a slot spec -> factory(*args, **kwargs) -> list or callable(rng)


def factory(f):
    """Register ``f``: the spec ``{"fn": f.__name__, "args": a, "kwargs": k}`` becomes ``f(*a, **k)``."""
    GENERATORS[f.__name__] = f
    return f


def sampler(f):
    """Register a slot function ``f(rng)``: the spec ``{"fn": f.__name__}`` becomes ``f`` itself."""
    GENERATORS[f.__name__] = lambda: f
    return f


# ---------------------------------------------------------------------------
# Value generators (the rng calls, and their order, define the corpus)
# ---------------------------------------------------------------------------


def ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return str(n) + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


@factory
def integer(lo, hi, step=1, commas=True):
    def gen(r):
        v = r.randrange(lo, hi + 1, step)
        return f"{v:,}" if commas else str(v)

    return gen


@factory
def word_int(lo, hi):
    return lambda r: LEX["num_words"][r.randint(lo, hi)]


@factory
def word_ord(lo, hi):
    return lambda r: LEX["ordinal_words"][r.randint(lo, hi)]


@factory
def ordinal_num(lo, hi):
    """"72nd", "18th", ..."""
    return lambda r: ordinal_suffix(r.randint(lo, hi))


@factory
def dec(lo, hi, dp=1, suffix=""):
    return lambda r: f"{r.uniform(lo, hi):.{dp}f}{suffix}"


@factory
def pct(lo, hi, dp=1):
    return dec(lo, hi, dp, "%")


@factory
def coupon(lo, hi):
    """A bond coupon in eighths of a percentage point: "4.375%"."""
    return lambda r: f"{0.125 * r.randint(lo, hi):.3f}".rstrip("0").rstrip(".") + "%"


@factory
def fmt(template, *draws, replace=None):
    """``template.format(*values)`` with values drawn in order, each ``["uniform", lo, hi]``,
    ``["randint", lo, hi]``, ``["randrange", lo, stop, step]`` or ``["choice", options]``;
    then ``str.replace(*replace)`` if given."""
    for d in draws:
        assert d[0] in ("uniform", "randint", "randrange", "choice"), f"unknown draw {d!r}"

    def gen(r):
        s = template.format(*[getattr(r, d[0])(*d[1:]) for d in draws])
        return s.replace(*replace) if replace else s

    return gen


@factory
def pick_fmt(*options):
    """Fill every option (``[template, *draws]`` as for :func:`fmt`), in order, then choose one."""
    gens = [fmt(*o) for o in options]
    return lambda r: r.choice([g(r) for g in gens])


@factory
def concat(*lists):
    return [x for xs in lists for x in xs]


def _fmt_money(v: float, unit: str, cur: str, dp: int) -> str:
    if unit == "million" and v >= 1000:
        v, unit = v / 1000, "billion"
    elif unit == "billion" and v < 1:
        v, unit, dp = v * 1000, "million", 0
    s = f"{v:.{dp}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return f"{cur}{s} {unit}".strip()


@factory
def money(lo, hi, unit="million", cur="$", dp=None):
    if dp is None:
        dp = 0 if unit == "million" else 1
    return lambda r: _fmt_money(r.uniform(lo, hi), unit, cur, dp)


@factory
def money_pair(lo, hi, unit="million", rel=(0.06, 0.35), cur="$"):
    """{"hi": larger, "lo": smaller} amounts for 'rose to X from Y' phrases."""
    dp = 0 if unit == "million" else 1

    def gen(r):
        while True:
            a = r.uniform(lo, hi)
            b = a * (1 - r.uniform(*rel))
            hi_s, lo_s = _fmt_money(a, unit, cur, dp), _fmt_money(b, unit, cur, dp)
            if hi_s != lo_s:
                return {"hi": hi_s, "lo": lo_s}

    return gen


@factory
def pct_pair(lo, hi, gap=(0.3, 3.0), dp=1):
    def gen(r):
        a = r.uniform(lo, hi)
        b = a - r.uniform(*gap)
        return {"hi": f"{a:.{dp}f}%", "lo": f"{b:.{dp}f}%"}

    return gen


@factory
def eps_pair(lo=0.2, hi=6.0):
    def gen(r):
        a = r.uniform(lo, hi)
        b = a * (1 - r.uniform(0.03, 0.15))
        a_s, b_s = f"${a:.2f}", f"${b:.2f}"
        if a_s == b_s:
            b_s = f"${b - 0.01:.2f}"
        return {"hi": a_s, "lo": b_s}

    return gen


@factory
def score(max_w, min_w=1, min_l=0):
    """{"w": winner's score, "l": loser's score}, w > l."""

    def gen(r):
        w = r.randint(max(min_w, min_l + 1), max_w)
        return {"w": str(w), "l": str(r.randint(min_l, w - 1))}

    return gen


@factory
def maybe(p, options):
    """With probability p pick one of `options`, else empty string."""
    return lambda r: r.choice(options) if r.random() < p else ""


@factory
def rating_pair(scales):
    """An agency and two adjacent rating notches of its scale: {"agency", "hi", "lo"}."""

    def gen(r):
        agency = r.choice(sorted(scales))
        sc = scales[agency]
        i = r.randrange(2, len(sc) - 1)
        return {"agency": agency, "hi": sc[i], "lo": sc[i + 1]}

    return gen


@sampler
def person(r):
    return f"{r.choice(LEX['first_names'])} {r.choice(LEX['last_names'])}"


@sampler
def man(r):
    return f"{r.choice(LEX['male_first_names'])} {r.choice(LEX['last_names'])}"


@sampler
def woman(r):
    return f"{r.choice(LEX['female_first_names'])} {r.choice(LEX['last_names'])}"


@sampler
def chef(r):
    if r.random() < 0.5:
        return {"name": woman(r), "pron": "her", "subj": "she"}
    return {"name": man(r), "pron": "his", "subj": "he"}


@sampler
def next_day(r):
    days = LEX["weekdays"] + LEX["weekend"]
    i = r.randrange(7)
    return {"a": days[i], "b": days[(i + 1) % 7]}


def _unit(c, r):
    return r.choice(LEX["units_by_name"].get(c["name"]) or LEX["units_by_kind"][c["kind"]])


@factory
def company(names=None, kind=None):
    """A record of the ``companies`` lexicon (optionally only ``names`` / one ``kind``) plus a business unit."""
    pool = [c for c in LEX["companies"] if (names is None or c["name"] in names) and kind in (None, c["kind"])]

    def gen(r):
        c = dict(r.choice(pool))
        c["unit"] = _unit(c, r)
        return c

    return gen


@sampler
def deal(r):
    """Acquirer (a_*) and target (t_*); usually from the same broad sector."""
    companies = LEX["companies"]
    a = r.choice(companies)
    same = r.random() < 0.85
    t = r.choice([c for c in companies if c is not a and (c["kind"] == a["kind"] or not same)])
    d = {"name": a["name"] + "|" + t["name"]}
    for pre, c in (("a", a), ("t", t)):
        d[pre] = c["name"]
        d[pre + "_short"] = c["short"]
        d[pre + "_sector"] = c["sector"]
        d[pre + "_plural"] = c["plural"]
        d[pre + "_unit"] = _unit(c, r)
    return d


@factory
def central_bank(only=None, exclude=()):
    """A record of the ``central_banks`` lexicon with a plausible policy rate, vote split and short name."""
    pool = [cb for cb in LEX["central_banks"] if (only is None or cb["short"] in only) and cb["short"] not in exclude]

    def gen(r):
        cb = dict(r.choice(pool))
        policy = LEX["central_bank_policy"][cb["short"]]
        lo, hi = policy["rates"]
        steps = int(round((hi - lo) / 0.25))
        cb["rate"] = f"{lo + 0.25 * r.randint(0, steps):.2f}%"
        cb["vote"] = r.choice(policy.get("votes", [""]))
        cb["the_short"] = policy["the"]
        return cb

    return gen


@sampler
def deal_funding(r):
    total = r.uniform(2.0, 30.0)
    debt = total * r.uniform(0.25, 0.7)
    return {"total": _fmt_money(total, "billion", "$", 1), "debt": _fmt_money(debt, "billion", "$", 1)}


@sampler
def prob_pair(r):
    a = r.randrange(40, 91, 5)
    b = a - r.randrange(15, 36, 5)
    return {"hi": f"{a}%", "lo": f"{b}%"}


@sampler
def streak(r):
    m = r.randint(7, 12)
    return {"n": LEX["num_words"][m - r.randint(1, 2)], "m": LEX["num_words"][m]}


@sampler
def eps_range(r):
    a = r.uniform(1.0, 9.0)
    return f"${a:.2f} to ${a + r.uniform(0.1, 0.4):.2f}"


@sampler
def rev_range(r):
    a = r.uniform(2.0, 40.0)
    return f"${a:.1f} billion and ${a * r.uniform(1.02, 1.06):.1f} billion"


@sampler
def bball_score(r):
    w = r.randint(96, 128)
    return {"w": str(w), "l": str(w - r.randint(1, 17))}


@sampler
def golf_round(r):
    under = r.randint(3, 8)
    return {"under": LEX["num_words"][under], "total": str(72 - under)}


@sampler
def goals_apps(r):
    apps = r.randint(14, 34)
    return {"goals": str(r.randint(8, min(apps, 29))), "apps": str(apps)}


@sampler
def losses_games(r):
    g = r.randint(6, 12)
    return {"l": LEX["num_words"][r.randint(max(4, g - 4), g - 1)], "g": LEX["num_words"][g]}


@sampler
def time_10k(r):
    return (
        f"26:{r.randint(40, 59)}.{r.randint(0, 99):02d}"
        if r.random() < 0.5
        else f"27:{r.randint(0, 30):02d}.{r.randint(0, 99):02d}"
    )


# ---------------------------------------------------------------------------
# Source data
# ---------------------------------------------------------------------------


def _resolve(x):
    """``"@name"`` -> ``LEX[name]``, inside lists and mappings too."""
    if isinstance(x, str) and x.startswith("@"):
        return LEX[x[1:]]
    if isinstance(x, list):
        return [_resolve(v) for v in x]
    if isinstance(x, dict):
        return {k: _resolve(v) for k, v in x.items()}
    return x


def make_slot(name: str, spec):
    """A slot's list, or the callable(rng) its ``{"fn", "args", "kwargs"}`` spec describes."""
    spec = _resolve(spec)
    if isinstance(spec, dict):
        if spec.get("fn") not in GENERATORS or set(spec) - {"fn", "args", "kwargs"}:
            raise ValueError(f"slot {name}: bad spec {spec!r}")
        return GENERATORS[spec["fn"]](*spec.get("args", []), **spec.get("kwargs", {}))
    if not (isinstance(spec, list) and spec):
        raise ValueError(f"slot {name}: neither a non-empty list nor a spec")
    return spec


def load_source(src: Path = SOURCE_DIR) -> None:
    """Fill LEX, S and TEMPLATES from ``src/shared.json`` and ``src/<category>.json``."""
    files = {p.stem for p in src.glob("*.json")}
    if files != set(CATEGORIES) | {"shared"}:
        raise ValueError(f"{src}: expected shared.json and one file per category, found {sorted(files)}")
    shared = json.loads((src / "shared.json").read_text("utf-8"))
    LEX.update(shared["lexicons"])
    specs = dict(shared["slots"])
    for cat in CATEGORIES:
        d = json.loads((src / f"{cat}.json").read_text("utf-8"))
        TEMPLATES[cat] = (d["corpus_templates"], d["probe_templates"])
        if twice := set(specs) & set(d["slots"]):
            raise ValueError(f"{cat}.json: slots already defined elsewhere: {sorted(twice)}")
        specs.update(d["slots"])
    S.update({name: make_slot(name, spec) for name, spec in specs.items()})


# ---------------------------------------------------------------------------
# Template engine
# ---------------------------------------------------------------------------

# {base}, {base2}, {base.field}, {base2.field}; same key -> same value within a
# sentence; different index -> a different value of the same slot.
PLACEHOLDER = re.compile(r"\{([a-z_]+?)(\d*)(?:\.([a-z_]+))?\}")
# [option a|option b|...] inline alternation (an empty option is allowed)
ALTERNATION = re.compile(r"\[([^\[\]]*)\]")
ARTICLE = re.compile(r"\b([Aa])\(n\) (\S+)")
_AN_EXCEPTIONS = ("uni", "use", "usu", "ut", "eu", "one", "once", "ubiq", "ura")
_AN_SILENT_H = ("hour", "honest", "honor", "heir")


def _an(word: str) -> bool:
    w = word.lstrip("\"'($€£")
    if not w:
        return False
    if w[0].isdigit():
        return bool(re.match(r"(8|11(?!\d)|18(?!\d))", w))
    head = re.split(r"[-\s]", w)[0]
    if len(head) >= 2 and head.replace(".", "").isupper():  # acronym, read letter by letter
        return head[0] in "AEFHILMNORSX"
    lw = w.lower()
    if lw.startswith(_AN_SILENT_H):
        return True
    if lw.startswith(_AN_EXCEPTIONS):
        return False
    return lw[0] in "aeiou"


def resolve_articles(text: str) -> str:
    def sub(m):
        a, nxt = m.group(1), m.group(2)
        art = "an" if _an(nxt) else "a"
        return (art.capitalize() if a == "A" else art) + " " + nxt

    return ARTICLE.sub(sub, text)


def draw(base: str, r: random.Random):
    try:
        src = S[base]
    except KeyError:
        raise KeyError(f"unknown slot {{{base}}}") from None
    return src(r) if callable(src) else r.choice(src)


def fill(template: str, r: random.Random) -> str:
    chosen: dict = {}
    used: dict = defaultdict(set)

    def sub(m):
        base, idx, field = m.groups()
        key = (base, idx)
        if key not in chosen:
            for _ in range(100):
                v = draw(base, r)
                ident = v["name"] if isinstance(v, dict) and "name" in v else json.dumps(v, sort_keys=True)
                if ident not in used[base]:
                    break
            used[base].add(ident)
            chosen[key] = v
        v = chosen[key]
        if isinstance(v, dict):
            return v[field or "name"]
        if field:
            raise KeyError(f"slot {{{base}}} has no fields")
        return v

    text = ALTERNATION.sub(lambda m: r.choice(m.group(1).split("|")), template)
    for _ in range(4):  # slot values may contain placeholders
        new = PLACEHOLDER.sub(sub, text)
        if new == text:
            break
        text = new
    return tidy(resolve_articles(text))


def tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[a-z]s)'s\b", "'", text)  # "Industries's" -> "Industries'"
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\.\.(?=\s|$)", ".", text)  # "7 a.m.." -> "7 a.m."
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text


def norm(text: str) -> str:
    """Normalisation used for duplicate / overlap checks."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def norm_loose(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def n_words(text: str) -> int:
    return len(text.split())


def generate(cat: str, templates: list[str], n: int, r: random.Random, seen: set, seen_loose: set,
             kind: str) -> list[dict]:
    """Round-robin over (shuffled) templates so each is used ~equally often. Each row names its template
    (``<category>/<kind><index>``, kind ``c`` corpus or ``p`` probe): sentences of one template share
    their wording, so statistics resample templates (clusters), not sentences."""
    rows, dead = [], set()
    order: list[int] = []
    while len(rows) < n:
        if len(dead) == len(templates):
            raise RuntimeError(f"{cat}: templates exhausted after {len(rows)} sentences")
        if not order:
            order = [i for i in range(len(templates)) if i not in dead]
            r.shuffle(order)
        i = order.pop()
        for _ in range(200):
            text = fill(templates[i], r)
            if not MIN_WORDS <= n_words(text) <= MAX_WORDS:
                continue
            k, kl = norm(text), norm_loose(text)
            if k in seen or kl in seen_loose:
                continue
            seen.add(k)
            seen_loose.add(kl)
            rows.append({"text": text, "category": cat, "domain": DOMAIN[cat], "template": f"{cat}/{kind}{i:02d}"})
            break
        else:
            dead.add(i)
    return rows


def validate_templates() -> None:
    """Every {...} group must be a well-formed placeholder naming a known slot."""
    for cat, (train_t, probe_t) in TEMPLATES.items():
        for t in train_t + probe_t:
            for grp in re.findall(r"\{[^{}]*\}", t):
                m = PLACEHOLDER.fullmatch(grp)
                assert m and m.group(1) in S, f"{cat}: bad placeholder {grp} in {t!r}"
            rest = PLACEHOLDER.sub("", ALTERNATION.sub("", t))
            assert not re.search(r"[{}\[\]|]", rest), f"{cat}: stray bracket in {t!r}"
    for name, src in S.items():
        assert not re.search(r"\d", name), f"slot names must not contain digits: {name}"


def build(seed: int):
    validate_templates()
    seen: set = set()
    seen_loose: set = set()
    corpus, probe = [], []
    for cat in CATEGORIES:
        train_t, probe_t = TEMPLATES[cat]
        # string seeds are hashed deterministically (sha512) by random.Random
        corpus += generate(cat, train_t, N_CORPUS[cat], random.Random(f"{seed}:{cat}:corpus"), seen, seen_loose, "c")
        probe += generate(cat, probe_t, N_PROBE, random.Random(f"{seed}:{cat}:probe"), seen, seen_loose, "p")
    random.Random(f"{seed}:shuffle").shuffle(corpus)
    return corpus, probe


# ---------------------------------------------------------------------------
# Invariants and reporting
# ---------------------------------------------------------------------------


def check(corpus: list[dict], probe: list[dict]) -> None:
    assert set(TEMPLATES) == set(CATEGORIES) and len(CATEGORIES) == 13
    for cat in CATEGORIES:
        train_t, probe_t = TEMPLATES[cat]
        assert len(train_t) >= MIN_CORPUS_TEMPLATES, (cat, len(train_t))
        assert len(set(train_t + probe_t)) == len(train_t + probe_t), f"{cat}: duplicate template"
        assert not set(train_t) & set(probe_t)
    for name, rows, want in (("corpus", corpus, N_CORPUS), ("probe", probe, {c: N_PROBE for c in CATEGORIES})):
        counts = Counter(row["category"] for row in rows)
        assert set(counts) == set(CATEGORIES), (name, sorted(counts))
        assert counts == Counter(want), (name, counts)
        for row in rows:
            assert set(row) == {"text", "category", "domain", "template"}, row
            assert row["domain"] == DOMAIN[row["category"]], row
            t = row["text"]
            assert isinstance(t, str) and t.strip() == t and t, row
            assert not re.search(r"[{}\[\]|]|\(n\)", t), row
            assert MIN_WORDS <= n_words(t) <= MAX_WORDS, row
        keys = [norm(row["text"]) for row in rows]
        assert len(keys) == len(set(keys)), f"{name}: duplicate sentences"
    c_keys = {norm(row["text"]) for row in corpus}
    p_keys = {norm(row["text"]) for row in probe}
    assert not c_keys & p_keys, "probe/corpus exact overlap"
    assert not ({norm_loose(r["text"]) for r in corpus} & {norm_loose(r["text"]) for r in probe})


def report(corpus: list[dict], probe: list[dict]) -> str:
    lines = []
    hdr = (f"| {'category':<14} | {'domain':<9} | {'corpus':>6} | {'probe':>5} | {'tmpl (corpus/probe)':>19} "
           f"| {'mean words':>10} |")
    lines += [hdr, "|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|"]
    for cat in CATEGORIES:
        tr, pr = TEMPLATES[cat]
        rows = [r for r in corpus if r["category"] == cat]
        mw = statistics.mean(n_words(r["text"]) for r in rows)
        nc = len(rows)
        npb = sum(r["category"] == cat for r in probe)
        lines.append(
            f"| {cat:<14} | {DOMAIN[cat]:<9} | {nc:>6} | {npb:>5} | {f'{len(tr)}/{len(pr)}':>19} | {mw:>10.1f} |"
        )
    lines.append(
        f"| {'TOTAL':<14} | {'':<9} | {len(corpus):>6} | {len(probe):>5} | {'':>19} | "
        f"{statistics.mean(n_words(r['text']) for r in corpus):>10.1f} |"
    )
    lines.append("")
    for dom in ("financial", "general"):
        rows = [r for r in corpus if r["domain"] == dom]
        words = sum(n_words(r["text"]) for r in rows)
        lines.append(
            f"corpus {dom:<9}: {len(rows):>5} sentences, {words:>6} words "
            f"({words / sum(n_words(r['text']) for r in corpus):.1%} of words)"
        )
    wc = [n_words(r["text"]) for r in corpus + probe]
    lines.append(
        f"words per sentence (all): min {min(wc)}, max {max(wc)}, "
        f"mean {statistics.mean(wc):.1f}, median {statistics.median(wc)}"
    )
    return "\n".join(lines)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)

    load_source()
    corpus, probe = build(args.seed)
    check(corpus, probe)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out_dir / "corpus.jsonl", corpus)
    write_jsonl(args.out_dir / "probe.jsonl", probe)
    sys.stdout.write(report(corpus, probe) + "\n")
    sys.stdout.write(
        f"\nwrote {args.out_dir / 'corpus.jsonl'} and {args.out_dir / 'probe.jsonl'} "
        f"(seed {args.seed}); all invariants passed\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
