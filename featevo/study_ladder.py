"""The study's headline, recomputed one correction at a time (the ladder), and its published tables, over pooled
per-sentence activations (pure numpy; :mod:`featevo.study_stage` feeds it the probe set and writes the outputs).

The headline is the study's sentence "x% of the top-20 financial latents of the tuned SAE are not in the base SAE's
top-20". Every rung keeps the corrections above it and adds one:

0. as published: the layer one block below the SAE's, ``ReLU(W_enc x + b_enc)``, [CLS]/[SEP] pooled, top-20 by
   financial activation, latent i paired with latent i;
1. the right layer (the SAE's hookpoint); 2. the SAE's own encode (``- b_dec``, TopK); 3. special tokens excluded;
4. top-20 by specialisation against the model's own reference (financial minus general of the same model);
5. matching (stage 02's decoder-Hungarian pairs classed shared or shifted) instead of index pairing;
6. the seed and control baselines: the headline minus what the same rule gives between two seeds of one model
   (and, for comparison, base vs the control twin minus the same);
7. clustered intervals: rung 6's number with a cluster-bootstrap interval over probe templates.

Every rung shows beside its number the chance level (hypergeometric: the top set of b drawn at random among b's
latents), and the same rule between two seeds of the base model and between base and the control twin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from featevo.study import (
    chance_overlap, domain_means, index_overlap, matched_overlap, new_fraction, pct_change, specialisation, top_n,
    type_latents, TUNED_FIN,
)

STUDY, LAYER, ENCODE, SPECIAL = "study", "layer", "encode", "special"
VARIANTS = (STUDY, LAYER, ENCODE, SPECIAL)
"""Procedure variants of the activations: as the study read them, then with the right layer, then the SAE's own
encode, then special tokens excluded (each keeps the ones before)."""
TUNED, SEED, CONTROL = "tuned", "seed", "control"
"""The comparisons of every rung: base vs tuned (the study's), base vs another seed of base, base vs control."""


@dataclass(frozen=True)
class Rung:
    correction: str
    variant: str
    rank: str      # "fin": by financial activation; "spec": by the model's own specialisation
    pairing: str   # "index" or "matched"
    against_seed: bool = False
    interval: bool = False


RUNGS = (
    Rung("as published", STUDY, "fin", "index"),
    Rung("right layer (the SAE's hookpoint)", LAYER, "fin", "index"),
    Rung("the SAE's own encode (- b_dec, TopK)", ENCODE, "fin", "index"),
    Rung("special tokens excluded", SPECIAL, "fin", "index"),
    Rung("specialisation against the model's own reference", SPECIAL, "spec", "index"),
    Rung("matching instead of index pairing", SPECIAL, "spec", "matched"),
    Rung("seed and control baselines (minus the seed pair's value)", SPECIAL, "spec", "matched", against_seed=True),
    Rung("clustered intervals over probe templates", SPECIAL, "spec", "matched", against_seed=True, interval=True),
)


def ranking_values(means: dict, rank: str) -> np.ndarray:
    """What a rung ranks latents by: financial mean (``fin``) or own specialisation (``spec``: fin - gen)."""
    return means["fin"] if rank == "fin" else means["fin"] - means["gen"]


def rung_overlap(means_a: dict, means_b: dict, rung: Rung, partner: Mapping[int, int] | None,
                 n: int) -> tuple[list[int], int, int] | None:
    """(shared latents of b's top set, latents of b that a's top set marks, latents of b) for one comparison under
    ``rung``; None when the rung needs a matching and there is none."""
    top_a = top_n(ranking_values(means_a, rung.rank), n)
    top_b = top_n(ranking_values(means_b, rung.rank), n)
    d_b = len(means_b["fin"])
    if rung.pairing == "index":
        return index_overlap(top_a, top_b), len(top_a), d_b
    if partner is None:
        return None
    marked = sum(int(i) in partner for i in top_a)
    return matched_overlap(top_a, top_b, partner), marked, d_b


def comparison_new(means: Mapping[str, dict], pairs: Mapping[str, tuple[str, str]], rung: Rung,
                   partners: Mapping[str, Mapping[int, int] | None], n: int) -> dict[str, dict]:
    """Per comparison (``pairs``: comparison -> (SAE a, SAE b), e.g. ``tuned`` -> (base, tuned)): overlap count, the
    study's new fraction, and the hypergeometric chance of the overlap."""
    out = {}
    for comp, (a, b) in pairs.items():
        r = rung_overlap(means[a], means[b], rung, partners.get(comp), n)
        if r is None:
            continue
        shared, marked, d_b = r
        out[comp] = {"overlap": len(shared), "shared": shared, "new": new_fraction(shared, n),
                     "chance": chance_overlap(d_b, marked, n, len(shared))}
    return out


def _diff(x, y):
    return None if x is None or y is None else x - y


def ladder_rows(pooled: Mapping[tuple[str, str], np.ndarray], is_target: np.ndarray,
                pairs: Mapping[str, tuple[str, str]], partners: Mapping[str, Mapping[int, int] | None], n: int,
                boot: dict | None = None, level: float = 0.95) -> list[dict]:
    """The ladder: one row per :data:`RUNGS` entry. ``pooled[(variant, sae)]`` [sentences, d] per-sentence
    activations; ``boot`` (from :func:`featevo.stats.cluster_bootstrap_weights` over the probe's templates within
    each domain, ``{True: (target idx, W), False: (reference idx, W)}``) gives rung 7 its interval."""
    rows = []
    for k, rung in enumerate(RUNGS):
        means = {sae: domain_means(p, is_target) for (v, sae), p in pooled.items() if v == rung.variant}
        res = comparison_new(means, pairs, rung, partners, n)
        new = {c: res[c]["new"] if c in res else None for c in (TUNED, SEED, CONTROL)}
        t = res.get(TUNED, {})
        row = {"rung": k, "correction": rung.correction, "variant": rung.variant, "rank_by": rung.rank,
               "pairing": rung.pairing, "tuned_overlap": t.get("overlap"), "tuned_new": new[TUNED],
               "chance_new": (t.get("chance") or {}).get("expected_new_fraction"),
               "p_chance_at_most": (t.get("chance") or {}).get("p_at_most"),
               "seed_new": new[SEED], "control_new": new[CONTROL],
               "tuned_minus_seed": _diff(new[TUNED], new[SEED]), "control_minus_seed": _diff(new[CONTROL], new[SEED]),
               "headline": new[TUNED], "ci_low": None, "ci_high": None, "control_ci_low": None,
               "control_ci_high": None}
        if rung.against_seed:
            row["headline"] = row["tuned_minus_seed"]
        if rung.interval and boot is not None and row["headline"] is not None:
            row.update(bootstrap_interval(pooled, is_target, pairs, partners, n, rung, boot, level))
        rows.append(row)
    return rows


def bootstrap_means(pooled: np.ndarray, is_target: np.ndarray, boot: dict) -> list[dict]:
    """Per bootstrap resample: the financial and general means of every latent (clusters resampled per domain)."""
    ti, tw = boot[True]
    ri, rw = boot[False]
    fin, gen = tw @ pooled[ti], rw @ pooled[ri]
    return [{"fin": fin[b], "gen": gen[b]} for b in range(fin.shape[0])]


def bootstrap_interval(pooled, is_target, pairs, partners, n: int, rung: Rung, boot: dict,
                       level: float = 0.95) -> dict:
    """Percentile intervals over the resamples of the headline (tuned minus seed) and of control minus seed."""
    saes = sorted({s for ab in pairs.values() for s in ab})
    reps = {s: bootstrap_means(pooled[(rung.variant, s)], is_target, boot) for s in saes}
    n_boot = len(next(iter(reps.values())))
    vals: dict[str, list[float]] = {TUNED: [], CONTROL: []}
    for b in range(n_boot):
        res = comparison_new({s: reps[s][b] for s in saes}, pairs, rung, partners, n)
        if SEED not in res:
            continue
        for c in vals:
            if c in res:
                vals[c].append(res[c]["new"] - res[SEED]["new"])
    q = ((1 - level) / 2 * 100, (1 + level) / 2 * 100)
    out = {}
    for c, key in ((TUNED, "ci"), (CONTROL, "control_ci")):
        if vals[c]:
            lo, hi = np.percentile(vals[c], q)
            out[f"{key}_low"], out[f"{key}_high"] = float(lo), float(hi)
    return out


# --------------------------------------------------------------------------------------------
# The study's published tables, recomputed
# --------------------------------------------------------------------------------------------
def latent_table(pooled_base: np.ndarray, pooled_tuned: np.ndarray, is_target: np.ndarray, n: int,
                 study_formula: bool = True) -> list[dict]:
    """The study's 200-row table: per latent index i (base latent i beside tuned latent i), financial and general
    means, finetuning scores, their changes, specialisation (the study's formula, or each model's own reference)
    and the study's type."""
    mb, mt = domain_means(pooled_base, is_target), domain_means(pooled_tuned, is_target)
    sb, st = specialisation(mb["fin"], mb["gen"], mt["fin"], mt["gen"], study=study_formula)
    types = type_latents(top_n(mb["fin"], n), top_n(mt["fin"], n), len(mb["fin"]))
    fin_pct = pct_change(mt["fin"], mb["fin"])
    score_pct = pct_change(mt["fin_score"], mb["fin_score"])
    rows = []
    for i in range(len(mb["fin"])):
        rows.append({
            "latent": i, "type": str(types[i]), "base_fin": float(mb["fin"][i]), "tuned_fin": float(mt["fin"][i]),
            "change": float(mt["fin"][i] - mb["fin"][i]), "change_pct": _finite(fin_pct[i]),
            "base_gen": float(mb["gen"][i]), "tuned_gen": float(mt["gen"][i]),
            "gen_change": float(mt["gen"][i] - mb["gen"][i]),
            "base_score": float(mb["fin_score"][i]), "tuned_score": float(mt["fin_score"][i]),
            "score_change": float(mt["fin_score"][i] - mb["fin_score"][i]), "score_change_pct": _finite(score_pct[i]),
            "base_spec": float(sb[i]), "tuned_spec": float(st[i]), "spec_change": float(st[i] - sb[i]),
        })
    return rows


def _finite(x) -> float | None:
    return float(x) if np.isfinite(x) else None


def top_table(rows: Sequence[dict], n: int) -> list[dict]:
    """The study's top-20 table: the ``n`` latents with the largest financial change, largest first."""
    order = top_n(np.array([r["change"] for r in rows]), n)
    return [{"rank": k + 1, **rows[i]} for k, i in enumerate(order)]


def emerging_table(rows: Sequence[dict], n: int) -> list[dict]:
    """The study's "emerging features": the ``n`` latents of type tuned financial with the largest change."""
    em = [r for r in rows if r["type"] == TUNED_FIN]
    em.sort(key=lambda r: (-r["change"], r["latent"]))
    return [{"rank": k + 1, **r} for k, r in enumerate(em[:n])]


def change_summary(rows: Sequence[dict]) -> dict:
    """The study's summary: latents with positive / negative financial change, mean and max change (and where)."""
    ch = np.array([r["change"] for r in rows], dtype=np.float64)
    if ch.size == 0:
        return {"n_latents": 0}
    j = int(np.argmax(ch))
    return {"n_latents": int(ch.size), "n_up": int((ch > 0).sum()), "n_down": int((ch < 0).sum()),
            "mean_change": float(ch.mean()), "max_change": float(ch[j]), "max_change_latent": int(rows[j]["latent"]),
            "n_consistent": sum(r["type"] == "consistent" for r in rows),
            "n_tuned_financial": sum(r["type"] == TUNED_FIN for r in rows)}
