"""The fixed-dictionary lens's statistics: one SAE (a *dictionary*) encodes every model's activations of the same
probe sentences, so latent j means the same direction for every model and a change is measured, not matched.

The estimand. For a dictionary and latent j, ``x_m(d)`` is the latent's mean activation over the tokens of probe
sentence d when the dictionary encodes model m's activations. Model b's change beyond model a, specific to the
target domain, is the difference in differences of ``D(d) = x_b(d) - x_a(d)``:

    interaction_j = mean_{d target} D(d) - mean_{d reference} D(d)

With a = the control twin (the same fine-tuning recipe on reference-domain text) and b = the tuned twin, this is
(tuned - control) x (target - reference): how much more the tuned twin changed the latent's domain preference
than fine-tuning on reference-domain text did; the base model cancels (``x_b - x_base - (x_a - x_base)``).

Uncertainty. The probe's unit is the template (:mod:`featevo.inference`): intervals resample templates within
each domain, and every p permutes the templates' domain labels. One set of permutations gives both the
per-latent p (two-sided, :func:`featevo.stats.cluster_permutation_draws`, re-exported here, bit-identical to
:func:`featevo.stats.cluster_permutation_test`) and the **global test** of the dictionary
(:func:`global_test`): ``G = sum_j (interaction_j / sd_j)^2`` with ``sd_j`` the permutation standard deviation of
latent j, against the same sum on every permutation (latents are not independent; the joint permutation keeps
their correlation). The smallest attainable p of either is ``1 / (n_permutations + 1)``. Per-latent discoveries
are Benjamini-Hochberg at ``alpha`` within the dictionary.

Robustness across dictionaries. Template resampling does not see which dictionary was used; a latent's claim is
said to *hold across dictionaries* when, in every other dictionary, the latent whose decoder row has the highest
cosine with it (at least ``min_cosine``) is a discovery with the same sign (:func:`robust_latents`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featevo.inference import Design, bh_discoveries, did_estimate
from featevo.stats import cluster_permutation_draws, per_column_p  # noqa: F401 - re-exported for this lens's callers


def global_test(obs: np.ndarray, draws: np.ndarray) -> dict:
    """The dictionary's global test: ``G = sum_j (obs_j / sd_j)^2`` (``sd_j``: the permutation SD of column j;
    columns that never vary are left out) against the same sum on every permutation. Returns G, the null's mean
    and 95th percentile, p and the smallest attainable p."""
    sd = draws.std(axis=0) if draws.shape[0] > 1 else np.zeros(obs.shape)
    live = sd > 1e-12
    g = float(((obs[live] / sd[live]) ** 2).sum())
    null = ((draws[:, live] / sd[live]) ** 2).sum(axis=1)
    n = int(draws.shape[0])
    return {"statistic": g, "null_mean": float(null.mean()) if n else None,
            "null_q95": float(np.quantile(null, 0.95)) if n else None,
            "p": float((1.0 + (null >= g * (1 - 1e-12)).sum()) / (n + 1.0)), "min_attainable_p": 1.0 / (n + 1.0),
            "latents_tested": int(live.sum()), "permutations": n}


@dataclass
class Interaction:
    """Per latent of one dictionary: model b's domain-specific change beyond model a, and the dictionary's
    global test."""

    estimate: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    se: np.ndarray
    z: np.ndarray
    p: np.ndarray
    q: np.ndarray
    discovered: np.ndarray
    glob: dict

    @property
    def min_attainable_p(self) -> float:
        return self.glob["min_attainable_p"]


def interaction(X_b: np.ndarray, X_a: np.ndarray, design: Design, level: float, n_perm: int, seed: int,
                alpha: float) -> Interaction:
    """Per latent (columns of the sentence-mean activations ``X_b``, ``X_a`` [docs, latents] of one dictionary
    on models b and a): the difference in differences of ``X_b - X_a`` with its template-bootstrap interval, its
    two-sided template-permutation p, BH discoveries at ``alpha``, and the dictionary's global test."""
    D = np.asarray(X_b, dtype=np.float64) - np.asarray(X_a, dtype=np.float64)
    est = did_estimate(D, design, level)
    obs, draws = cluster_permutation_draws(D[design.docs], design.is_target, design.clusters, n_perm, seed)
    p = per_column_p(obs, draws)
    q, disc = bh_discoveries(p, alpha)
    return Interaction(est.did, est.lo, est.hi, est.se, est.z, p, q, disc, global_test(obs, draws))


def best_match(W: np.ndarray, W_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``W``, the row of ``W_other`` with the highest decoder cosine and that cosine."""
    from featevo.lenses import best_match as bm

    return bm(W, W_other)


def robust_latents(discovered: dict[str, np.ndarray], sign: dict[str, np.ndarray], decoders: dict[str, np.ndarray],
                   reference: str, min_cosine: float) -> dict:
    """Which discoveries of dictionary ``reference`` hold across dictionaries: in every other dictionary the
    latent whose decoder row is closest (cosine >= ``min_cosine``) is a discovery with the same sign.
    Returns the held latents and, per other dictionary, how many of the reference's discoveries it confirms."""
    mine = np.flatnonzero(discovered[reference])
    held = np.ones(len(mine), dtype=bool)
    per: dict = {}
    for name in discovered:
        if name == reference:
            continue
        idx, cos = best_match(decoders[reference][mine], decoders[name]) if len(mine) else (np.zeros(0, int), [])
        cos = np.asarray(cos, dtype=np.float64)
        ok = np.array([j >= 0 and c >= min_cosine and bool(discovered[name][j]) and
                       np.sign(sign[name][j]) == np.sign(sign[reference][i]) for i, j, c in zip(mine, idx, cos)],
                      dtype=bool)
        held &= ok
        per[name] = {"confirmed": int(ok.sum()), "matched": int((cos >= min_cosine).sum()) if len(mine) else 0}
    return {"reference": reference, "discoveries": int(len(mine)), "held": [int(j) for j in mine[held]],
            "per_dictionary": per, "min_cosine": min_cosine}
