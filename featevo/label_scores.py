"""Stage 04's tables, made from its per-latent files: ``labels_comparison.csv`` (the labels side by side), the long
``scores.csv`` (every score: one row per SAE, latent, scorer and kind), ``labels_summary.csv`` (label counts per
SAE), ``scores_summary.csv`` (per SAE and scorer: its score against its floor, paired per latent) and
``summary.json``. The scorers come from :data:`featevo.scorers.SCORERS`: a new scorer adds rows, not columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from featevo.config import PipelineConfig
from featevo.io import atomic_write_json, read_json
from featevo.label_quality import label_marks
from featevo.layout import COMPARE, DELTAS, InterpretFiles, stage_dir
from featevo.results import LABELS, LABELS_SUMMARY, SCORES, SCORES_SUMMARY, CompareResult, DeltasResult
from featevo.scorers import SCORERS, in_order, label_free_scorers, label_scorers, names, score_of

MODELS = ("base", "tuned")
DEAD_FAILURE = "dead latent: never fires on the training split"
ScoreIndex = dict  # (sae, latent, scorer, kind) -> value, the rows of scores.csv


def scorer_status(m: dict) -> tuple[str, str | None]:
    """(``scored`` | ``undefined`` | ``failed``, reason) of one scorer's result dict."""
    if m.get("status"):
        return m["status"], m.get("reason")
    if m.get("error"):  # files of earlier runs
        return "failed", m["error"]
    if m.get("accuracy") is None:
        return "undefined", m.get("undefined") or "no score"
    return "scored", None


# --------------------------------------------------------------------------------------------
# Statistics: each label against its floor, paired per latent
# --------------------------------------------------------------------------------------------
def paired_stats(real: list, floor: list, seed: int = 0, n_boot: int = 2000, ci: float = 0.95) -> dict:
    """Real-minus-floor per latent (pairs where both are defined): the mean difference with a percentile
    bootstrap interval over latents, the means of both sides over the *same* latents, and a two-sided sign
    test (``scipy.stats.binomtest`` on wins vs losses; ties dropped and counted)."""
    from scipy.stats import binomtest

    pairs = [(float(a), float(b)) for a, b in zip(real, floor)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    out: dict[str, Any] = {"n": len(pairs), "mean_real": None, "mean_floor": None, "mean_diff": None,
                           "ci_low": None, "ci_high": None, "wins": 0, "losses": 0, "ties": 0, "sign_test_p": None}
    if not pairs:
        return out
    d = np.array([a - b for a, b in pairs])
    out.update(mean_real=float(np.mean([a for a, _ in pairs])), mean_floor=float(np.mean([b for _, b in pairs])),
               mean_diff=float(d.mean()), wins=int((d > 1e-12).sum()), losses=int((d < -1e-12).sum()))
    out["ties"] = len(d) - out["wins"] - out["losses"]
    if len(d) > 1:
        rng = np.random.default_rng(seed)
        boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
        lo, hi = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2])
        out.update(ci_low=float(lo), ci_high=float(hi))
    n = out["wins"] + out["losses"]
    if n:
        out["sign_test_p"] = float(binomtest(out["wins"], n, 0.5).pvalue)
    return out


def floor_score(sh: dict | None, name: str, key: str = "accuracy") -> float | None:
    """A label scorer's floor of a latent: the mean score of its shuffled donors' labels (defined donors only)."""
    return SCORERS[name].floor(None, sh, key) if name in SCORERS else None


@dataclass
class LabelResults:
    """The per-latent files of :func:`_label_all` for the chosen latents."""

    latents: dict[str, dict[int, dict]]           # sae -> latent -> latents/<sae>_<latent>.json
    shuffled: dict[str, dict[int, dict | None]]   # sae -> latent -> shuffled/<sae>_<latent>.json (None: absent)
    cross: dict[int, dict] = field(default_factory=dict)  # pair_id -> cross/pair_<pair_id>.json

    @classmethod
    def load(cls, st_dir: Path, chosen: dict[str, list[int]]) -> "LabelResults":
        def shuffled(m: str, lat: int) -> dict | None:
            p = st_dir / InterpretFiles.SHUFFLED / f"{m}_{lat}.json"
            return read_json(p) if p.is_file() else None

        cross_dir = st_dir / InterpretFiles.CROSS
        cross = {int(r["pair_id"]): r for r in (read_json(p) for p in sorted(cross_dir.glob("pair_*.json")))} \
            if cross_dir.is_dir() else {}
        return cls({m: {lat: read_json(st_dir / InterpretFiles.LATENTS / f"{m}_{lat}.json") for lat in chosen[m]}
                    for m in MODELS},
                   {m: {lat: shuffled(m, lat) for lat in chosen[m]} for m in MODELS}, cross)

    def get(self, sae: str, latent: int | None) -> dict | None:
        return self.latents[sae].get(latent) if latent is not None else None

    def get_shuffled(self, sae: str, latent: int | None) -> dict | None:
        return self.shuffled[sae].get(latent) if latent is not None else None


def _label_units(chosen: dict[str, list[int]], pairs: list[dict]) -> list[tuple]:
    """(matched pair or None, sae, latent, base latent, tuned latent) per chosen latent, in order; a matched
    pair (shared/shifted) once, pairing a base label with a tuned label; other latents keep their class."""
    by_latent = {"base": {p["base_latent"]: p for p in pairs}, "tuned": {p["tuned_latent"]: p for p in pairs}}
    units, seen = [], set()
    for m in MODELS:
        for lat in chosen[m]:
            p = by_latent[m].get(lat)
            if p is not None:
                key, b, t = ("pair", p["pair_id"]), p["base_latent"], p["tuned_latent"]
            else:
                key, (b, t) = (m, lat), ((lat, None) if m == "base" else (None, lat))
            if key not in seen:
                seen.add(key)
                units.append((p, m, lat, b, t))
    return units


def _baseline(r: dict | None) -> dict | None:
    return (r or {}).get("baseline")


def _issues(r: dict | None) -> str | None:
    """Why a side's scores are blank: ``scorer: undefined (reason)`` / ``scorer: failed (reason)``."""
    if not r or not r.get("scores"):
        return None
    parts = []
    for name, m in r["scores"].items():
        status, reason = scorer_status(m)
        if status != "scored":
            parts.append(f"{name}: {status} ({reason})")
    return "; ".join(parts) or None


def _partner_scores(lr: LabelResults) -> dict[tuple[str, int], dict]:
    """(sae, latent) -> the scores of its matched partner's label on its contexts (cross/pair_*.json)."""
    out: dict[tuple[str, int], dict] = {}
    for cr in lr.cross.values():
        b, t = int(cr["base_latent"]), int(cr["tuned_latent"])
        if b in lr.latents["base"] and t in lr.latents["tuned"]:
            out["tuned", t] = cr.get("base_label_on_tuned") or {}
            out["base", b] = cr.get("tuned_label_on_base") or {}
    return out


def _latent_score_rows(m: str, lat: int, r: dict, sh: dict | None, partner: dict | None) -> list[dict]:
    """The rows of ``scores.csv`` of one latent: per scorer that ran on it, own, floor, baseline and partner."""
    own = r.get("scores") or {}
    donors = (sh or {}).get("donors") or []
    base = (_baseline(r) or {}).get("scores") or {}
    rows = []
    for name, spec in SCORERS.items():
        ran = name in own or any(name in (d.get("scores") or {}) for d in donors)
        if not ran:
            continue
        vals = [("own", score_of(r, name) if name in own else None), ("floor", spec.floor(r, sh))]
        if spec.reads_label and name in base:
            vals.append(("baseline", score_of({"scores": base}, name)))
        if spec.reads_label and partner and name in partner:
            vals.append(("partner", score_of({"scores": partner}, name)))
        rows += [{"sae": m, "latent": lat, "scorer": name, "kind": k, "value": v} for k, v in vals]
    return rows


def score_rows(lr: LabelResults) -> list[dict]:
    """``scores.csv``: one row per SAE, latent, scorer and kind (own / floor / baseline / partner)."""
    partners = _partner_scores(lr)
    rows = []
    for m in MODELS:
        for lat, r in lr.latents[m].items():
            rows += _latent_score_rows(m, lat, r, lr.get_shuffled(m, lat), partners.get((m, lat)))
    return rows


def score_index(rows: list[dict]) -> ScoreIndex:
    return {(r["sae"], r["latent"], r["scorer"], r["kind"]): r["value"] for r in rows}


# --------------------------------------------------------------------------------------------
# labels_comparison.csv
# --------------------------------------------------------------------------------------------
def cross_verdict(on_other: list[float | None], other_floor: list[float | None]) -> str | None:
    """``kept`` when each label scores above the other latent's floor on that latent's contexts, ``changed``
    when neither does, ``one-way`` otherwise; None when any of the four numbers is undefined."""
    if any(x is None for x in on_other + other_floor):
        return None
    beats = [a > f for a, f in zip(on_other, other_floor)]
    return "kept" if all(beats) else "changed" if not any(beats) else "one-way"


def _cross(row: dict, idx: ScoreIndex) -> None:
    """The cross verdict of a cross-scored pair's row: on the first label scorer with both partner scores."""
    b, t = row["base_latent"], row["tuned_latent"]
    scorers = label_scorers()
    name = next((n for n in scorers if idx.get(("tuned", t, n, "partner")) is not None
                 and idx.get(("base", b, n, "partner")) is not None), scorers[0])
    row["cross_scorer"] = name
    row["cross_verdict"] = cross_verdict(
        [idx.get(("tuned", t, name, "partner")), idx.get(("base", b, name, "partner"))],
        [idx.get(("tuned", t, name, "floor")), idx.get(("base", b, name, "floor"))])


def _label_row(unit: tuple, lr: LabelResults, idx: ScoreIndex, latent_class: dict, feature_table: dict) -> dict:
    """One row of ``labels_comparison.csv``."""
    p, m, lat, b, t = unit
    rb, rt = lr.get("base", b), lr.get("tuned", t)
    ft = feature_table.get(p["pair_id"]) if p is not None else None
    row = {
        "pair_id": p["pair_id"] if p is not None else None,
        "base_latent": b, "tuned_latent": t,
        "class": (p or {}).get("class") or latent_class.get((m, lat)) or ("new" if m == "tuned" else "lost"),
        "decoder_cosine": (p or {}).get("decoder_cosine"),
        "base_label": (rb or {}).get("label"), "tuned_label": (rt or {}).get("label"),
    }
    for side, r in (("base", rb), ("tuned", rt)):
        row[f"{side}_top_tokens_label"] = (_baseline(r) or {}).get("label")
        row[f"{side}_score_issues"] = _issues(r)
    if p is not None and lr.cross.get(p["pair_id"]) is not None:
        _cross(row, idx)
    for col in ("did", "did_ci_low", "did_ci_high", "q_calibrated"):
        row[col] = (ft or {}).get(col)
    for side, r in (("base", rb), ("tuned", rt)):
        if r is not None and r.get("label") is None and r.get("failure"):
            row[f"{side}_label"] = f"[failed: {r['failure']}]"
    return row


def label_rows(cfg: PipelineConfig, chosen: dict[str, list[int]], lr: LabelResults, idx: ScoreIndex) -> list[dict]:
    """``labels_comparison.csv``: the chosen latents with stage 02's pairs and stage 03's deltas, and the
    label-quality marks (:func:`add_marks`)."""
    s2 = CompareResult.load(stage_dir(cfg, COMPARE))
    feature_table = DeltasResult.load(stage_dir(cfg, DELTAS)).feature_table.index_by("pair_id")
    latent_class = s2.latent_class()
    rows = [_label_row(u, lr, idx, latent_class, feature_table) for u in _label_units(chosen, s2.matched_pairs())]
    add_marks(rows, idx, in_order(cfg.interpret.scorers))
    return rows


def add_marks(rows: list[dict], idx: ScoreIndex, scorers: tuple[str, ...]) -> None:
    """Each labelled side's marks (featevo.label_quality) as columns ``<side>_echoes``, ``<side>_duplicates``
    and ``<side>_below_floor`` of its row; ``scorers``: the scorers run, of which those reading the label count
    for the floor (a label-free score never reads the label)."""
    items = []
    for r in rows:
        for side in MODELS:
            lat, lab = r[f"{side}_latent"], r[f"{side}_label"]
            if lat is None or not isinstance(lab, str) or not lab.split() or lab.startswith("[failed"):
                continue
            sc = {m: (idx.get((side, lat, m, "own")), idx.get((side, lat, m, "floor")))
                  for m in scorers if SCORERS[m].reads_label}
            items.append((side, lat, " ".join(lab.split()), sc))
    marks = label_marks(items)
    for r in rows:
        for side in MODELS:
            r.update({f"{side}_{k}": v for k, v in marks.get((side, r[f"{side}_latent"]), {}).items()})


# --------------------------------------------------------------------------------------------
# Accounting and the per-scorer statistics
# --------------------------------------------------------------------------------------------
def _reason_key(reason: str | None) -> str:
    return (reason or "unknown")[:120]


def scorer_accounting(m: str, lr: LabelResults) -> dict[str, dict]:
    """Per scorer: how many chosen latents got a score for their label, and why the others did not
    (``undefined``: a class of examples missing; ``failed``: the scorer raised, its requests failed or no
    reply parsed; ``not_attempted``: no label to score), with ``failed_any_run`` counting failures of every
    scorer run of this SAE (own label, floor donors, top-token baseline)."""
    out: dict[str, dict] = {}
    for name in names():
        acc: dict[str, Any] = {"scored": 0, "undefined": {}, "failed": {}, "not_attempted": {}, "failed_any_run": {}}
        for lat, r in lr.latents[m].items():
            if not r.get("label"):
                key = "dead latent" if r.get("failure") == DEAD_FAILURE else "no label (explanation failed)"
                acc["not_attempted"][key] = acc["not_attempted"].get(key, 0) + 1
            elif name not in (r.get("scores") or {}):
                acc["not_attempted"]["scorer not run"] = acc["not_attempted"].get("scorer not run", 0) + 1
            else:
                status, reason = scorer_status(r["scores"][name])
                if status == "scored":
                    acc["scored"] += 1
                else:
                    acc[status][_reason_key(reason)] = acc[status].get(_reason_key(reason), 0) + 1
            sh = lr.get_shuffled(m, lat) or {}
            runs = [r.get("scores"), (_baseline(r) or {}).get("scores")]
            runs += [d.get("scores") for d in sh.get("donors", [])]
            for sc in runs:
                if sc and name in sc and scorer_status(sc[name])[0] == "failed":
                    k = _reason_key(scorer_status(sc[name])[1])
                    acc["failed_any_run"][k] = acc["failed_any_run"].get(k, 0) + 1
        out[name] = acc
    return out


def _stats_cols(prefix: str, st: dict) -> dict:
    return {f"{prefix}n": st["n"], f"{prefix}mean": st["mean_floor"], f"{prefix}diff": st["mean_diff"],
            f"{prefix}ci_low": st["ci_low"], f"{prefix}ci_high": st["ci_high"], f"{prefix}sign_p": st["sign_test_p"]}


def scorer_stats(m: str, name: str, lr: LabelResults, acc: dict, seed: int = 0) -> dict:
    """One row of ``scores_summary.csv``: scorer ``name`` on SAE ``m``'s labelled latents, each against its floor
    (paired per latent) and, for a label scorer, against the top-token label."""
    spec = SCORERS[name]
    labelled = [r for r in lr.latents[m].values() if r.get("label")]
    real = [score_of(r, name) for r in labelled]
    st = paired_stats(real, [spec.floor(r, lr.get_shuffled(m, r["latent"])) for r in labelled], seed=seed)
    out: dict[str, Any] = {
        "sae": m, "scorer": name, "floor": spec.floor_kind, "scored": acc["scored"],
        "undefined": sum(acc["undefined"].values()), "failed": sum(acc["failed"].values()), "paired_n": st["n"],
        "own_mean": st["mean_real"], "floor_mean": st["mean_floor"], "paired_diff": st["mean_diff"],
        "paired_ci_low": st["ci_low"], "paired_ci_high": st["ci_high"], "paired_wins": st["wins"],
        "paired_losses": st["losses"], "paired_ties": st["ties"], "paired_sign_p": st["sign_test_p"],
    }
    if not spec.reads_label:  # the label is not read: the latent's score against chance, not a label's floor
        return out
    out["beats_floor_fraction"] = st["wins"] / st["n"] if st["n"] else None
    f1 = paired_stats([score_of(r, name, "f1_score") for r in labelled],
                      [spec.floor(r, lr.get_shuffled(m, r["latent"]), "f1_score") for r in labelled], seed=seed)
    out["f1_score_mean"], out["f1_score_floor_mean"] = f1["mean_real"], f1["mean_floor"]
    bl = paired_stats(real, [score_of(_baseline(r), name) for r in labelled], seed=seed)
    out.update(_stats_cols("baseline_", bl))
    out["vs_baseline_diff"] = out.pop("baseline_diff")
    for k in ("ci_low", "ci_high", "sign_p"):
        out[f"vs_baseline_{k}"] = out.pop(f"baseline_{k}")
    return out


# summary.json's per-scorer keys (``<scorer>_<key>``) from a row of scores_summary.csv, in the summary's order
_LABEL_KEYS = (("scored", "scored"), ("undefined", "undefined"), ("failed", "failed"), ("accuracy_mean", "own_mean"),
               ("accuracy_shuffled_mean", "floor_mean"), ("paired_n", "paired_n"), ("paired_diff", "paired_diff"),
               ("paired_ci_low", "paired_ci_low"), ("paired_ci_high", "paired_ci_high"),
               ("paired_wins", "paired_wins"), ("paired_losses", "paired_losses"), ("paired_ties", "paired_ties"),
               ("paired_sign_p", "paired_sign_p"), ("beats_shuffled_fraction", "beats_floor_fraction"),
               ("f1_score_mean", "f1_score_mean"), ("f1_score_shuffled_mean", "f1_score_floor_mean"),
               ("top_tokens_n", "baseline_n"), ("top_tokens_mean", "baseline_mean"),
               ("vs_top_tokens_diff", "vs_baseline_diff"), ("vs_top_tokens_ci_low", "vs_baseline_ci_low"),
               ("vs_top_tokens_ci_high", "vs_baseline_ci_high"), ("vs_top_tokens_sign_p", "vs_baseline_sign_p"))
_FREE_KEYS = (("scored", "scored"), ("undefined", "undefined"), ("failed", "failed"), ("paired_n", "paired_n"),
              ("accuracy_mean", "own_mean"), ("chance_mean", "floor_mean"), ("paired_diff", "paired_diff"),
              ("paired_ci_low", "paired_ci_low"), ("paired_ci_high", "paired_ci_high"), ("paired_wins", "paired_wins"),
              ("paired_losses", "paired_losses"), ("paired_ties", "paired_ties"), ("paired_sign_p", "paired_sign_p"))


def summary_row(m: str, lr: LabelResults, seed: int = 0, stats: list[dict] | None = None) -> dict:
    """SAE ``m``'s entry of summary.json's ``scores``: counts (its row of ``labels_summary.csv``) and, per scorer,
    ``<scorer>_<key>`` from its rows of ``scores_summary.csv`` (computed when ``stats`` is None)."""
    rs = list(lr.latents[m].values())
    entry: dict[str, Any] = {
        "sae": m, "latents": len(rs), "labelled": sum(1 for r in rs if r.get("label")),
        "failed": sum(1 for r in rs if r.get("label") is None and r.get("failure") != DEAD_FAILURE),
        "dead": sum(1 for r in rs if r.get("failure", "").startswith("dead latent")),
        "retried": sum(1 for r in rs if r.get("attempts", 1) > 1),
        "llm_failures": sum(1 for r in rs if r.get("llm_error")),
    }
    if stats is None:
        acc = scorer_accounting(m, lr)
        stats = [scorer_stats(m, name, lr, acc[name], seed) for name in names()]
    by_name = {s["scorer"]: s for s in stats if s["sae"] == m}
    for name in label_scorers() + label_free_scorers():
        keys = _LABEL_KEYS if SCORERS[name].reads_label else _FREE_KEYS
        entry.update({f"{name}_{k}": by_name[name].get(col) for k, col in keys if name in by_name})
    return entry


def cross_summary(rows: list[dict], idx: ScoreIndex, seed: int = 0) -> dict:
    """Over the cross-scored pairs: each label on its partner's contexts against the partner's floor (does it
    still describe the partner?) and against the partner's own label, paired per pair, plus verdict counts."""
    out: dict[str, Any] = {}
    crossed = [r for r in rows if r.get("cross_verdict") is not None or r.get("cross_scorer")]
    verdicts: dict[str, int] = {}
    for r in crossed:
        v = r.get("cross_verdict") or "undefined"
        verdicts[v] = verdicts.get(v, 0) + 1
    out["pairs"] = len(crossed)
    out["verdicts"] = verdicts

    def col(kind: str, name: str) -> list:
        return ([idx.get(("tuned", r["tuned_latent"], name, kind)) for r in crossed]
                + [idx.get(("base", r["base_latent"], name, kind)) for r in crossed])

    for name in label_scorers():
        on = col("partner", name)
        out[name] = {"partner_label_vs_floor": paired_stats(on, col("floor", name), seed=seed),
                     "partner_label_vs_own_label": paired_stats(on, col("own", name), seed=seed)}
    return out


def write_outputs(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], wall_s: float,
                  backend_info: dict, aborted: str | None = None) -> dict:
    """The stage's tables and JSON files from the per-latent files; returns the summary. ``aborted``: why
    labelling stopped early (latents without a file are then counted as not done)."""
    done = {m: [lat for lat in chosen[m] if (st_dir / InterpretFiles.LATENTS / f"{m}_{lat}.json").is_file()]
            for m in MODELS}
    lr = LabelResults.load(st_dir, done)
    long = score_rows(lr)
    SCORES.write(st_dir, long)
    idx = score_index(long)
    rows = label_rows(cfg, done, lr, idx)
    LABELS.write(st_dir, rows)
    accounting = {m: scorer_accounting(m, lr) for m in MODELS}
    stats = [scorer_stats(m, name, lr, accounting[m][name], cfg.seed) for m in MODELS for name in names()]
    SCORES_SUMMARY.write(st_dir, stats)
    summary_rows = [summary_row(m, lr, cfg.seed, stats) for m in MODELS]
    LABELS_SUMMARY.write(st_dir, summary_rows)
    atomic_write_json(st_dir / InterpretFiles.EXPLANATIONS, {
        m: {str(lat): r for lat, r in lr.latents[m].items()} for m in MODELS})
    n_done = sum(s["latents"] for s in summary_rows)
    summary = {
        "backend": backend_info, "latents_per_sae": {m: len(chosen[m]) for m in MODELS},
        "latents_not_done": {m: len(chosen[m]) - len(done[m]) for m in MODELS},
        "aborted": aborted,
        "failures": {s["sae"]: s["failed"] for s in summary_rows},
        "scorer_accounting": accounting,
        "scores": {s["sae"]: {k: v for k, v in s.items() if k not in ("sae",)} for s in summary_rows},
        "cross": cross_summary(rows, idx, cfg.seed),
        "n_shuffled_donors": cfg.interpret.n_shuffled_donors,
        "wall_time_s": round(wall_s, 1),
        "latents_per_minute": round(60 * n_done / wall_s, 2) if wall_s > 0 else None,
        "metric_note": "accuracy = balanced accuracy over scorer examples whose prediction parsed (Delphi's "
                       "result analysis), undefined (blank) when the latent has no activating or no non-activating "
                       "example; embedding = AUC of label-to-context similarity (Delphi's embedding scorer); "
                       "shuffled/floor = the mean score of the same latent with other latents' labels; paired_diff "
                       "= mean over latents of own minus floor, with a bootstrap 95% interval and a sign test; "
                       "intruder = fraction of Delphi's intruder prompts whose outsider context the LLM found "
                       "(over parsed replies); it never reads the label, so it scores the latent, and its "
                       "paired_diff is against chance (1 / contexts in the prompt), not against shuffled labels",
    }
    atomic_write_json(st_dir / InterpretFiles.SUMMARY, summary)
    return summary
