"""Claims as the report states them: every sentence that claims something is generated here from a claim of a
stage's ``summary.json`` (:mod:`featevo.claims`), re-derived from its own numbers first
(:func:`featevo.claims.evaluate`), so the words follow the numbers: a claim the values support is stated with
its observed values beside the null's; one they do not support is said in words (its ``negation``, e.g. "no
feature-level change detectable beyond seed noise"), with the same numbers, never dropped."""

from __future__ import annotations

from typing import Any, Optional

from featevo.claims import evaluate
from featevo.report.common import num
from featevo.report.templates import MISSING, Table, finite, fint, fnum, fp, fpct

PCT_STATS = {"matched_fraction", "shared_fraction", "agreement", "above_chance_fraction"}
COUNT_STATS = {"new", "lost", "discoveries", "toward_target", "toward_reference", "confirmed",
               "target_latents", "reference_latents", "matched_pairs", "sampling_discoveries"}
STAT_LABELS = {
    "matched_fraction": "matched (shared or shifted) pairs", "shared_fraction": "shared pairs",
    "mean_pair_cosine": "mean decoder cosine of pairs", "agreement": "decoder / activation matching agree",
    "above_chance_fraction": "latents with a counterpart above chance", "new": "new latents (second SAE)",
    "lost": "lost latents (first SAE)", "mean_abs_z": "mean |z| of the domain-specific change",
    "discoveries": "pairs changed beyond seed noise", "toward_target": "... toward {target} text",
    "toward_reference": "... toward {reference} text", "confirmed": "top pairs confirmed on held-out templates",
    "target_latents": "significantly {target} latents", "reference_latents": "significantly {reference} latents",
    "matched_pairs": "matched pairs", "sampling_discoveries": "pairs significant for sampling noise only",
}
"""Statistic -> its row label; ``{target}`` / ``{reference}`` stand for the domains' names (:func:`stat_label`)."""


def stat_label(stat: str, domains: tuple[str, str] = ("target-domain", "reference-domain")) -> str:
    """The row label of statistic ``stat``, with the target and reference domains' names filled in."""
    return STAT_LABELS.get(stat, stat).format(target=domains[0], reference=domains[1])


def fval(x: Any, stat: str, mean: bool = False) -> str:
    """One value of statistic ``stat`` (a mean of counts keeps one decimal)."""
    if not finite(x):
        return MISSING
    if stat in PCT_STATS:
        return fpct(x)
    if stat in COUNT_STATS:
        return fnum(x, 1) if mean and float(x) != int(x) else fint(int(round(x)))
    return fnum(x, 3)


def fdist(d: dict, stat: str) -> str:
    """A family's values: ``mean [min–max]`` (a single value alone)."""
    if not isinstance(d, dict) or not d.get("n"):
        return MISSING
    if d["n"] == 1:
        return fval(d.get("mean"), stat)
    return f"{fval(d.get('mean'), stat, True)} [{fval(d.get('min'), stat)}–{fval(d.get('max'), stat)}]"


def fdist_ci(d: dict, stat: str) -> str:
    """``mean (interval of the mean lo–hi, range min–max, n values)``."""
    if not isinstance(d, dict) or not d.get("n"):
        return MISSING
    if d["n"] == 1:
        return f"{fval(d.get('mean'), stat)} (one value)"
    if d.get("min") == d.get("max"):
        return f"{fval(d.get('min'), stat)} in each of {fint(d.get('n'))}"
    return (f"{fval(d.get('mean'), stat, True)} (interval of the mean {fval(d.get('ci_low'), stat, True)}–"
            f"{fval(d.get('ci_high'), stat, True)}, range {fval(d.get('min'), stat)}–{fval(d.get('max'), stat)}, "
            f"{fint(d.get('n'))} values)")


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def claim_sentence(claim: dict) -> str:
    """The claim in words, from its own numbers: stated when they support it, its negation otherwise."""
    c = evaluate(claim)
    stat = c.get("stat", "")
    obs, nul, test = c.get("observed") or {}, c.get("null") or {}, c.get("test") or {}
    words = c.get("statement", "") if c.get("supported") else (c.get("negation") or f"not shown: {c['statement']}")
    if c.get("kind") == "threshold":
        return (f"{_cap(words)}; {obs.get('family', '')}: {fdist(obs, stat)} against the criterion "
                f"{fval(nul.get('value'), stat)} (supported only when every value reaches it).")
    if c.get("kind") == "value":
        text = (f"{_cap(words)}: {fnum(obs.get('estimate'))} [{fnum(obs.get('ci_low'))}, {fnum(obs.get('ci_high'))}]"
                f" against {fnum(nul.get('value'))}")
        return text + (f" (p = {fp(test['p'])}{_min_p(test)})." if finite(test.get("p")) else ".")
    if c.get("kind") == "test":
        return _test_sentence(c, words)
    if c.get("kind") == "runs":
        return _runs_sentence(c, words)
    if not c.get("testable"):
        return f"{_cap(c.get('statement', ''))}: not testable here (no {nul.get('family') or 'baseline'} comparisons)."
    sided = "two-sided" if test.get("alternative") == "two-sided" else "one-sided"
    if c.get("kind") == "sae_permutation":
        groups = c.get("groups") or {}
        units = sum(len(v) for k, v in groups.items() if k != "reference")  # the SAEs whose labels are permuted
        how = (f"{sided} permutation test with the SAE as the unit: the labels of {fint(units)} SAEs permuted, all "
               f"{fint(test.get('relabellings'))} relabellings")
    else:
        how = f"{sided} exact permutation test of the two families"
    text = (f"{_cap(words)}; {obs.get('family')}: {fdist_ci(obs, stat)}, against {nul.get('family')}: "
            f"{fdist_ci(nul, stat)}{_parts(c)} ({how}, p = {fp(test.get('p'))}{_min_p(test)}")
    mp, alpha = test.get("min_attainable_p"), test.get("alpha", 0.05)
    if not c.get("supported") and finite(mp) and mp > alpha:
        few = "SAEs" if c.get("kind") == "sae_permutation" else "comparisons"
        text += f"; with these few {few} no data could support it at alpha {fnum(alpha, 2)}"
    return text + ")."


def _min_p(test: dict) -> str:
    """``, smallest attainable p X`` (every p the report prints stands beside its smallest attainable value)."""
    mp = test.get("min_attainable_p")
    return f", smallest attainable {fp(mp)}" if finite(mp) else ", smallest attainable p not recorded"


def _parts(c: dict) -> str:
    """The parts of an effect a claim carries (``parts``: the matched fraction's new and lost latents): each part's
    observed and null families in one clause, with no test of its own."""
    parts = c.get("parts") or {}
    if not parts:
        return ""
    bits = [f"{stat_label(k)} {fdist(v.get('observed') or {}, k)} against {fdist(v.get('null') or {}, k)}"
            for k, v in parts.items()]
    return "; its parts: " + ", ".join(bits)


def _runs_sentence(c: dict, words: str) -> str:
    """A claim whose unit is a run (kind ``runs``): the run's statistic against the null runs', p beside its smallest
    attainable value, and the descriptive counts the claim carries (flagged latents)."""
    obs, nul, test = c.get("observed") or {}, c.get("null") or {}, c.get("test") or {}
    unit = c.get("unit") or "run"
    if not c.get("testable"):
        return f"{_cap(c.get('statement', ''))}: not testable here (no null {unit}s)."
    count = (f"; descriptive: {fint(obs['count'])} of {fint(obs['n'])} latents flagged" if finite(obs.get("count"))
             and finite(obs.get("n")) else "")
    text = (f"{_cap(words)} ({fnum(obs.get('value'), 4)} against {fint(nul.get('n'))} null {unit}s "
            f"{fnum(nul.get('min'), 4)}–{fnum(nul.get('max'), 4)}; p = {fp(test.get('p'))}{_min_p(test)}{count})")
    mp, alpha = test.get("min_attainable_p"), test.get("alpha", 0.05)
    if not c.get("supported") and finite(mp) and mp > alpha:
        text += f"; with {fint(nul.get('n'))} null {unit}s no data could support it at alpha {fnum(alpha, 2)}"
    return text + "."


def _test_sentence(c: dict, words: str) -> str:
    """A claim decided by one test its stage ran (kind ``test``): the count it rests on, the test, p beside its
    smallest attainable value; a negative control says when its pass is vacuous."""
    obs, nul, test = c.get("observed") or {}, c.get("null") or {}, c.get("test") or {}
    count = (f"{fint(obs['count'])} of {fint(obs['n'])} latents; " if finite(obs.get("count")) and
             finite(obs.get("n")) else "")
    if not c.get("testable"):
        return f"{_cap(c.get('statement', ''))}: not testable here."
    text = (f"{_cap(words)} ({count}null: {nul.get('what', 'its null')}; {test.get('name', 'test')}: p = "
            f"{fp(test.get('p'))}, smallest attainable p {fp(test.get('min_attainable_p'))})")
    if c.get("role") == "negative_control" and c.get("vacuous"):
        text += "; this control is vacuous here: the same lens does not pass its positive control"
    return text + "."


def claim_values(claim: dict) -> dict:
    """What findings.json records of a claim: the numbers, the null's numbers, the test and the verdict."""
    c = evaluate(claim)
    keep = ("n", "values", "mean", "min", "max", "ci_low", "ci_high", "family", "estimate", "value", "count",
            "expected_count")
    return {"id": c.get("id"), "statement": c.get("statement"), "negation": c.get("negation"),
            "stat": c.get("stat"), "kind": c.get("kind"), "supported": bool(c.get("supported")),
            "observed": {k: v for k, v in (c.get("observed") or {}).items() if k in keep},
            "null": {k: v for k, v in (c.get("null") or {}).items() if k in keep},
            "test": c.get("test"), "role": c.get("role", "claim"),
            **({"parts": c["parts"]} if c.get("parts") else {})}


def find_claim(ctx, fid: str, claim: Optional[dict], prefix: str = "", **values) -> None:
    """Add the finding ``fid`` stating ``claim`` (skipped when the stage made no such claim); a claim whose role is
    ``comparison`` (e.g. what the control twin changes) is added as a comparison, every other one as a claim."""
    if not claim:
        return
    c = claim_values(claim)
    role = "comparison" if claim.get("role") == "comparison" else "claim"
    ctx.find(fid, prefix + claim_sentence(claim), claims=[c], supported=c["supported"], role=role, **values)


def by_id(claims: list, cid: str) -> Optional[dict]:
    return next((c for c in claims or [] if isinstance(c, dict) and c.get("id") == cid), None)


def claims_table(tid: str, caption: str, claims: list, src: str,
                 domains: tuple[str, str] = ("target-domain", "reference-domain")) -> Table:
    """One row per claim: what is compared, the observed family, the null family, p and the verdict
    (``domains``: the target and reference domains' names, for the row labels)."""
    rows = []
    for raw in claims or []:
        c = evaluate(raw)
        stat = c.get("stat", "")
        obs, nul, test = c.get("observed") or {}, c.get("null") or {}, c.get("test") or {}
        null_txt = (fval(nul.get("value"), stat) + " (criterion)" if c.get("kind") == "threshold"
                    else f"{nul.get('family', MISSING)}: {fdist(nul, stat)}")
        parts = c.get("parts") or {}
        obs_txt = f"{obs.get('family', MISSING)}: {fdist(obs, stat)}" + "".join(
            f"; {stat_label(k, domains)} {fdist(v.get('observed') or {}, k)}" for k, v in parts.items())
        null_txt += "".join(f"; {stat_label(k, domains)} {fdist(v.get('null') or {}, k)}" for k, v in parts.items())
        label = stat_label(stat, domains) if stat else c.get("id", "")
        if parts:
            label += " (with its parts: " + ", ".join(stat_label(k, domains) for k in parts) + ")"
        rows.append([label, obs_txt, null_txt, num(fp(test.get("p"))), num(fp(test.get("min_attainable_p"))),
                     "yes" if c.get("supported") else "no"])
    heads = ["statistic", "observed family: mean [range]", "baseline family: mean [range]", "p",
             "smallest attainable p", "supported"]
    return Table(tid, heads, rows,
                 caption=caption, source=src,
                 notes=["mean [range]: mean over the family's comparisons (or SAEs), with its smallest and largest "
                        "value. p: one-sided permutation test with the SAE as the unit (the SAEs' model labels "
                        "permuted, every relabelling enumerated) where the families are pairs of SAEs, else the exact "
                        "two-sample permutation test of the family means (every split of the pooled values "
                        "enumerated); beside it the smallest p the design can give. Supported: p <= alpha; a "
                        "threshold claim is supported when every value of the family reaches the criterion."])
