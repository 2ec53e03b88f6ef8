"""Calibrated inference for stage 03: the domain-specific change of a matched pair, its template-clustered
uncertainty, its calibration against seed pairs, and the selection/estimation split of the probe.

The primary estimand. A matched pair is latent ``a`` of SAE A (encoding model A's activations) and latent
``b`` of SAE B (model B's activations of the same sentences). With ``x(d)`` a latent's mean activation over
the tokens of sentence d, the per-sentence difference is ``D(d) = x_b(d) - x_a(d)`` and

    did = mean_{d target} D(d) - mean_{d reference} D(d)
        = (target_b - target_a) - (reference_b - reference_a),

a difference in differences: how much more the pair's activation changed on target-domain than on reference-domain
text (financial vs general in the demo). A latent that merely fires more everywhere after fine-tuning has
``did = 0``; the raw target-domain change
``target_b - target_a`` (kept as a secondary column) does not separate the two.

Uncertainty. Sentences written from one template are not independent, so every resampling unit is a template
(cluster): the bootstrap resamples templates within each domain (:func:`featevo.stats.cluster_bootstrap_weights`,
giving the interval and the standard error ``se``), and the sampling p-value permutes the templates' domain
labels (:func:`featevo.stats.cluster_permutation_test`). ``z = did / se``.

Calibration. Sampling noise is not the only noise: two SAEs trained with different seeds on the *same* model
already disagree about a latent's domain preference. The z of every matched pair of the seed comparisons (same
model, different seeds) is the empirical null of z; a pair's calibrated p is the two-sided empirical p of its z
against that null (:func:`calibrated_pvalues`), and Benjamini-Hochberg within each comparison gives its
discoveries. A seed comparison is calibrated against the *other* seed comparisons (leave one out), so the null
family gets its counts by the same procedure as every other family. The smallest attainable calibrated p is
``1 / (null size + 1)``: with m pairs, BH needs ``p <= alpha k / m`` for k discoveries.

Selection and estimation. Ranking pairs by their change and reporting the winners' estimates on the same data
overstates them (winner's curse). :func:`template_halves` splits the probe's templates into two halves,
stratified by category; pairs are selected on half A and their change is estimated and tested on half B
(:func:`held_out_check`), with BH among the selected pairs only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featevo.stats import (
    bh_qvalues, cluster_bootstrap_weights, cluster_permutation_test, empirical_p, percentile_ci, rng_for,
)

FIN, GEN = "target", "reference"  # the two domain roles (featevo.data.TARGET / REFERENCE)
EPS = 1e-8


# --------------------------------------------------------------------------------------------
# The probe's design
# --------------------------------------------------------------------------------------------
def template_halves(clusters, strata, seed: int) -> np.ndarray:
    """A seeded split of the clusters (templates) into two halves, stratified by ``strata`` (category): within
    each stratum the clusters are shuffled and the first half (rounded up for every other stratum, so the
    halves stay balanced overall) goes to half A. Returns, per document, True for half A. Every cluster lies
    wholly in one half."""
    clusters, strata = np.asarray(clusters).astype(str), np.asarray(strata).astype(str)
    in_a = np.zeros(len(clusters), dtype=bool)
    for si, s in enumerate(sorted(set(strata.tolist()))):
        mine = sorted(set(clusters[strata == s].tolist()))
        order = rng_for(seed, 53, si).permutation(len(mine))
        k = (len(mine) + (1 if si % 2 == 0 else 0)) // 2
        chosen = {mine[i] for i in order[:k]}
        in_a |= (strata == s) & np.isin(clusters, list(chosen))
    return in_a


@dataclass
class Design:
    """Documents as the resampling sees them: domain, cluster, and the cluster bootstrap's weights."""

    is_target: np.ndarray           # [docs] bool
    clusters: np.ndarray         # [docs] str
    boot: dict                   # cluster_bootstrap_weights(clusters, domain, ...)
    docs: np.ndarray             # indices of these documents in the full probe

    @classmethod
    def of(cls, is_target: np.ndarray, clusters, n_boot: int, seed: int, docs: np.ndarray | None = None) -> "Design":
        is_target = np.asarray(is_target, dtype=bool)
        docs = np.arange(len(is_target)) if docs is None else np.asarray(docs)
        fin, cl = is_target[docs], np.asarray(clusters).astype(str)[docs]
        return cls(fin, cl, cluster_bootstrap_weights(cl, np.where(fin, FIN, GEN), n_boot, seed), docs)

    def domain_means(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(fin mean, gen mean, fin bootstrap replicates, gen bootstrap replicates) of the columns of X (rows:
        every probe document; only this design's documents are used)."""
        Xd = np.asarray(X, dtype=np.float64)[self.docs]
        (i_f, W_f), (i_g, W_g) = self.boot[FIN], self.boot[GEN]
        return Xd[self.is_target].mean(0), Xd[~self.is_target].mean(0), W_f @ Xd[i_f], W_g @ Xd[i_g]


# --------------------------------------------------------------------------------------------
# The domain-specific change of matched pairs
# --------------------------------------------------------------------------------------------
@dataclass
class DidEstimate:
    """Per pair (column of D): the difference in differences and its secondary parts."""

    did: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    se: np.ndarray
    z: np.ndarray
    delta_target: np.ndarray
    target_lo: np.ndarray
    target_hi: np.ndarray
    delta_reference: np.ndarray
    reference_lo: np.ndarray
    reference_hi: np.ndarray


def z_scores(est: np.ndarray, se: np.ndarray) -> np.ndarray:
    """est / se, 0 where the standard error is 0 (a pair that never differs)."""
    est, se = np.asarray(est, dtype=np.float64), np.asarray(se, dtype=np.float64)
    ok = se > 1e-12 * np.maximum(np.abs(est), 1e-300)
    return np.where(ok, est / np.where(ok, se, 1.0), 0.0)


def pair_differences(Xa: np.ndarray, Xb: np.ndarray, a, b) -> np.ndarray:
    """D [docs, pairs]: latent b[k] of X_b minus latent a[k] of X_a, per document."""
    return np.asarray(Xb, dtype=np.float64)[:, np.asarray(b, dtype=np.int64)] - \
        np.asarray(Xa, dtype=np.float64)[:, np.asarray(a, dtype=np.int64)]


def did_estimate(D: np.ndarray, design: Design, level: float) -> DidEstimate:
    """The difference in differences of every column of D (rows: all probe documents) on ``design``'s
    documents, with cluster-bootstrap intervals and standard error."""
    fin, gen, fb, gb = design.domain_means(D)
    did, boot = fin - gen, fb - gb
    if D.shape[1] == 0:
        e = np.zeros(0)
        return DidEstimate(e, e, e, e, e, e, e, e, e, e, e)
    lo, hi = percentile_ci(boot, level)
    flo, fhi = percentile_ci(fb, level)
    glo, ghi = percentile_ci(gb, level)
    se = boot.std(axis=0, ddof=1)
    return DidEstimate(did, lo, hi, se, z_scores(did, se), fin, flo, fhi, gen, glo, ghi)


def did_sampling_p(D: np.ndarray, design: Design, n_perm: int, seed: int) -> np.ndarray:
    """Two-sided cluster permutation p of each column's difference in differences (the templates' domain
    labels are permuted: under no domain-specific change a template's D does not depend on its domain)."""
    if D.shape[1] == 0:
        return np.zeros(0)
    _, p = cluster_permutation_test(np.asarray(D)[design.docs], design.is_target, design.clusters, n_perm, seed)
    return p


# --------------------------------------------------------------------------------------------
# Calibration against seed pairs
# --------------------------------------------------------------------------------------------
def calibrated_pvalues(z_by: dict[str, np.ndarray], null_names: list[str]) -> dict[str, tuple[np.ndarray, int]]:
    """Per comparison, (calibrated two-sided p of each z, size of the null it was computed against).

    The null is the pooled z of the comparisons ``null_names`` (seed pairs); a comparison that is itself one
    of them is calibrated against the others only (leave one out). Without a null the p-values are NaN.
    """
    out = {}
    for name, z in z_by.items():
        pool = [np.asarray(z_by[n]) for n in null_names if n != name and n in z_by]
        null = np.concatenate(pool) if pool else np.zeros(0)
        out[name] = (empirical_p(np.asarray(z), null), int(null.size))
    return out


def lone_discovery_attainable(null_size: int, m: int, alpha: float) -> bool:
    """Whether BH over ``m`` tests at ``alpha`` can make one discovery alone: its p must reach ``alpha / m``,
    and the smallest calibrated p against a null of ``null_size`` values is ``1 / (null_size + 1)``."""
    return bool(null_size) and m > 0 and 1.0 / (null_size + 1) <= alpha / m


def bh_discoveries(p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(q, q <= alpha) with Benjamini-Hochberg; NaN p-values (no null) give NaN q and no discovery."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0 or np.isnan(p).any():
        return np.full(p.shape, np.nan), np.zeros(p.shape, dtype=bool)
    q = bh_qvalues(p)
    return q, q <= alpha


def select_top(z: np.ndarray, top_n: int) -> np.ndarray:
    """Indices of the ``top_n`` largest |z| (ties: lower index first), largest first."""
    z = np.asarray(z, dtype=np.float64)
    return np.argsort(-np.abs(z), kind="stable")[: max(0, min(top_n, z.size))]


@dataclass
class HeldOut:
    """The held-out check of one comparison: pairs selected on half A, tested on half B."""

    selected: np.ndarray         # [pairs] bool
    rank: np.ndarray             # [pairs] rank by |z_selection| among the selected (0: not selected)
    q: np.ndarray                # [pairs] BH among the selected of the half-B calibrated p (NaN: not selected)
    confirmed: np.ndarray        # [pairs] bool

    @property
    def n_confirmed(self) -> int:
        return int(self.confirmed.sum())


def held_out_check(z_selection: np.ndarray, p_held_out: np.ndarray, top_n: int, alpha: float) -> HeldOut:
    """Select the ``top_n`` pairs by |z| on half A, then BH among them only on their half-B calibrated p."""
    n = len(z_selection)
    sel_idx = select_top(z_selection, top_n)
    selected, rank = np.zeros(n, dtype=bool), np.zeros(n, dtype=np.int64)
    selected[sel_idx] = True
    rank[sel_idx] = np.arange(1, len(sel_idx) + 1)
    q, confirmed = np.full(n, np.nan), np.zeros(n, dtype=bool)
    if len(sel_idx):
        q_s, c_s = bh_discoveries(np.asarray(p_held_out)[sel_idx], alpha)
        q[sel_idx], confirmed[sel_idx] = q_s, c_s
    return HeldOut(selected, rank, q, confirmed)


# --------------------------------------------------------------------------------------------
# Per-latent domain preference
# --------------------------------------------------------------------------------------------
@dataclass
class DomainTest:
    """Per latent of one SAE: target - reference, its cluster permutation p and BH q."""

    diff: np.ndarray
    p: np.ndarray
    q: np.ndarray

    def target(self, alpha: float) -> np.ndarray:
        return (self.q <= alpha) & (self.diff > 0)

    def reference(self, alpha: float) -> np.ndarray:
        return (self.q <= alpha) & (self.diff < 0)


def domain_test(X: np.ndarray, design: Design, n_perm: int, seed: int) -> DomainTest:
    """Target-vs-reference domain test of every latent (column of X), permuting the templates' domain labels."""
    diff, p = cluster_permutation_test(np.asarray(X)[design.docs], design.is_target, design.clusters, n_perm, seed)
    return DomainTest(diff, p, bh_qvalues(p))


# --------------------------------------------------------------------------------------------
# One comparison's matched pairs, and the calibration of all of them
# --------------------------------------------------------------------------------------------
@dataclass
class PairEffects:
    """The matched pairs of one comparison (latents ``a`` of SAE A, ``b`` of SAE B) and their statistics."""

    name: str
    family: str
    sae_a: str
    sae_b: str
    pair_id: np.ndarray
    a: np.ndarray
    b: np.ndarray
    cls: np.ndarray
    full: DidEstimate            # on every probe document
    p_sampling: np.ndarray       # cluster permutation p of did
    z_selection: np.ndarray      # z on half A
    held_out: DidEstimate        # on half B
    p_calibrated: np.ndarray | None = None
    q_calibrated: np.ndarray | None = None
    discovered: np.ndarray | None = None
    null_pairs: int = 0
    null_max_abs_z: float | None = None  # the largest |z| of the null it was calibrated against
    p_held_out: np.ndarray | None = None
    check: HeldOut | None = None

    def __len__(self) -> int:
        return len(self.pair_id)

    def counts(self, alpha: float) -> dict:
        """The comparison's counts (a row of comparison_counts.csv)."""
        disc = self.discovered if self.discovered is not None else np.zeros(len(self), dtype=bool)
        _, samp = bh_discoveries(self.p_sampling, alpha)
        return {"comparison": self.name, "family": self.family, "sae_a": self.sae_a, "sae_b": self.sae_b,
                "matched_pairs": len(self), "discoveries": int(disc.sum()),
                "toward_target": int((disc & (self.full.did > 0)).sum()),
                "toward_reference": int((disc & (self.full.did < 0)).sum()),
                "sampling_discoveries": int(samp.sum()),
                "mean_abs_z": float(np.abs(self.full.z).mean()) if len(self) else None,
                "null_pairs": self.null_pairs, "min_p": 1.0 / (self.null_pairs + 1) if self.null_pairs else None,
                "z_needed": self.null_max_abs_z, "lone_discovery_attainable": lone_discovery_attainable(
                    self.null_pairs, len(self), alpha),
                "confirmed": self.check.n_confirmed if self.check is not None else 0}


def comparison_effects(name: str, family: str, sae_a: str, sae_b: str, pairs, Xa: np.ndarray, Xb: np.ndarray,
                       designs: dict[str, Design], level: float, n_perm: int, seed: int) -> PairEffects:
    """did, its interval, SE, z and sampling p of every matched pair (``pairs``: pair_id, a, b, cls) on the whole
    probe; z on the selection half and the estimate on the held-out half (``designs``: full, a, b)."""
    D = pair_differences(Xa, Xb, pairs.a, pairs.b)
    return PairEffects(name, family, sae_a, sae_b, np.asarray(pairs.pair_id), np.asarray(pairs.a),
                       np.asarray(pairs.b), np.asarray(pairs.cls, dtype=object),
                       full=did_estimate(D, designs["full"], level),
                       p_sampling=did_sampling_p(D, designs["full"], n_perm, seed),
                       z_selection=did_estimate(D, designs["a"], level).z,
                       held_out=did_estimate(D, designs["b"], level))


def calibrate(effects: dict[str, PairEffects], alpha: float, top_n: int, null_family: str = "seed") -> list[str]:
    """Seed calibration of every comparison in place: calibrated p (leave one out for the null family), BH
    discoveries, and the held-out check (selection on half A, calibrated p on half B against the null family's
    half-B z). Returns the names of the null comparisons."""
    null = [n for n, e in effects.items() if e.family == null_family]
    full = calibrated_pvalues({n: e.full.z for n, e in effects.items()}, null)
    held = calibrated_pvalues({n: e.held_out.z for n, e in effects.items()}, null)
    for n, e in effects.items():
        e.p_calibrated, e.null_pairs = full[n]
        pool = [np.abs(effects[m].full.z) for m in null if m != n]
        pool = np.concatenate(pool) if pool else np.zeros(0)
        e.null_max_abs_z = float(np.nanmax(pool)) if np.isfinite(pool).any() else None
        e.q_calibrated, e.discovered = bh_discoveries(e.p_calibrated, alpha)
        e.p_held_out = held[n][0]
        e.check = held_out_check(e.z_selection, e.p_held_out, top_n, alpha)
    return null


# --------------------------------------------------------------------------------------------
# Per-latent scores of one SAE
# --------------------------------------------------------------------------------------------
def specialization(fin: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """(target - reference) / (target + reference + 1e-8): +1 target only, -1 reference only, 0 no preference."""
    return (fin - gen) / (fin + gen + EPS)


@dataclass
class LatentStats:
    """Per latent of one SAE on the whole probe."""

    fin: np.ndarray
    gen: np.ndarray
    target_boot: np.ndarray   # [B, L] cluster-bootstrap replicates
    reference_boot: np.ndarray
    test: DomainTest
    freq_target: np.ndarray
    freq_reference: np.ndarray

    @property
    def spec(self) -> np.ndarray:
        return specialization(self.fin, self.gen)

    @property
    def spec_boot(self) -> np.ndarray:
        return specialization(self.target_boot, self.reference_boot)


def latent_stats(X: np.ndarray, F: np.ndarray, design: Design, n_perm: int, seed: int) -> LatentStats:
    fin, gen, fb, gb = design.domain_means(X)
    Fd = np.asarray(F)[design.docs]
    return LatentStats(fin, gen, fb, gb, domain_test(X, design, n_perm, seed), Fd[design.is_target].mean(0),
                       Fd[~design.is_target].mean(0))
