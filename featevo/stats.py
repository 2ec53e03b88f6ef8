"""Resampling statistics for stage 03: bootstrap intervals, permutation tests, Benjamini-Hochberg.

Pure numpy, vectorised over latents (the columns of every matrix) and seeded: the same seed gives
the same numbers. The unit of resampling is always a *document* (a probe sentence), never a token:
tokens of one sentence are not independent, so every statistic here is computed from one value per
document and latent (e.g. the mean activation of the latent over the sentence's tokens).

* :func:`stratified_bootstrap_weights` draws one set of resamples that several statistics share
  (paired comparisons: base and tuned latents are resampled on the same sentences).
* :func:`percentile_ci` turns bootstrap replicates into percentile intervals.
* :func:`permutation_test_groups`: two-sided test of a difference in group means by permuting the
  group labels of documents (target vs reference domain).
* :func:`sign_flip_test`: two-sided paired permutation test of a mean per-document difference
  (tuned minus base) by exchanging the two members of each pair, i.e. flipping signs.
* :func:`bh_qvalues`: Benjamini-Hochberg adjusted p-values (q-values) across latents.
* :func:`empirical_p`: the p-value of observed statistics against a sample of their null (featevo's one
  empirical p: stage-wise flags, calibrated deltas, the causal random-latent null).
* :func:`auroc`: per column, the area under the ROC curve for given positive rows (featevo's one AUROC:
  the planted positive controls).

Documents are often not independent either: sentences written from one template share their wording,
so their activations are correlated (intra-class correlation). Treating them as independent makes
intervals too narrow and tests reject far more often than their level. The cluster versions resample
the independent unit instead:

* :func:`cluster_bootstrap_weights`: resample *clusters* with replacement within each stratum (domain);
  every document of a drawn cluster comes along. With one document per cluster it is the document
  bootstrap above.
* :func:`cluster_permutation_test`: permute the group labels of whole clusters (a cluster lies in one
  group), the exact test when clusters are exchangeable under the null; :func:`cluster_permutation_draws` keeps
  the same permutations' statistics (for statistics that share them) and :func:`per_column_p` turns them into
  the test's p.
* :func:`cluster_sign_flip_test`: flip the sign of every paired difference of a cluster together.

Permutation p-values are ``(1 + #{|T_perm| >= |T_obs|}) / (n_perm + 1)`` (never 0), so the smallest
attainable p is ``1 / (n_perm + 1)``. With BH at level alpha over m tests a single discovery needs
``p <= alpha / m``: choose ``n_permutations >= m / alpha`` (4000 for 200 latents at 0.05).
"""

from __future__ import annotations

import numpy as np

# relative tolerance when comparing permuted statistics with the observed one (float round-off
# must not turn an exact tie, e.g. a latent that is zero everywhere, into a "more extreme" value)
_TIE_RTOL = 1e-9
_CHUNK = 512  # permutations per matrix product (bounds memory for wide matrices)


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible generator for ``(seed, *stream)``."""
    return np.random.default_rng([int(seed) % (2**32), *[int(s) for s in stream]])


# --------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------
def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """[n_boot, n] resampling weights: multinomial counts of a size-n resample, divided by n.

    ``W @ X`` is then the mean of X's rows over each resample (one row per replicate).
    """
    if n < 1:
        raise ValueError("bootstrap needs at least one document")
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    return counts.astype(np.float64) / n


def stratified_bootstrap_weights(groups: np.ndarray, n_boot: int, seed: int) -> dict:
    """Weights that resample documents *within* each group (group sizes stay fixed).

    Returns ``{group: (index array into the documents, weights [n_boot, n_group])}``; the mean of
    X over group g in replicate b is ``(W_g @ X[idx_g])[b]``. Groups are visited in sorted order
    and each gets its own seeded stream, so adding statistics never changes the resamples.
    """
    groups = np.asarray(groups)
    out = {}
    for gi, g in enumerate(sorted(set(groups.tolist()))):
        idx = np.flatnonzero(groups == g)
        out[g] = (idx, bootstrap_weights(len(idx), n_boot, rng_for(seed, 11, gi)))
    return out


def bootstrap_mean(X: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n_cols] bootstrap replicates of the column means of X (rows resampled)."""
    X = np.asarray(X, dtype=np.float64)
    W = bootstrap_weights(X.shape[0], n_boot, rng_for(seed, 13))
    return W @ X


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of ``replicates`` [n_boot, n_cols]."""
    if not 0.0 < level < 1.0:
        raise ValueError("confidence level must be in (0, 1)")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(replicates, [a, 1.0 - a], axis=0)
    return lo, hi


# --------------------------------------------------------------------------------------------
# Permutation tests
# --------------------------------------------------------------------------------------------
def _count_extreme(perm_stats: np.ndarray, obs: np.ndarray) -> np.ndarray:
    thr = np.abs(obs) * (1.0 - _TIE_RTOL) - 1e-300
    return (np.abs(perm_stats) >= thr).sum(axis=0)


def _permutation_pvalues(obs: np.ndarray, n_perm: int, draw_stats) -> np.ndarray:
    """``(1 + #{|T_perm| >= |T_obs|}) / (n_perm + 1)`` per column; ``draw_stats(m)`` returns the statistics
    of ``m`` fresh permutations [m, cols] (drawn in chunks to bound memory)."""
    extreme = np.zeros(obs.shape[0], dtype=np.int64)
    for m in _chunks(n_perm):
        extreme += _count_extreme(draw_stats(m), obs)
    return (1.0 + extreme) / (n_perm + 1.0)


def _chunks(n_perm: int):
    """The chunk sizes in which ``n_perm`` permutations are drawn (at most ``_CHUNK`` each, in order): the same
    for every caller, so a stream of permutations does not depend on whether its draws are kept."""
    done = 0
    while done < n_perm:
        m = min(_CHUNK, n_perm - done)
        yield m
        done += m


def permutation_test_groups(
    X: np.ndarray, in_a: np.ndarray, n_perm: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided permutation test of ``mean(X[a]) - mean(X[b])`` for every column of X.

    ``X`` [n_docs, n_cols] holds one value per document; ``in_a`` marks group a. The group labels
    of the documents are permuted ``n_perm`` times (group sizes fixed). Returns (observed
    difference, p-value) per column.
    """
    X = np.asarray(X, dtype=np.float64)
    in_a = np.asarray(in_a, dtype=bool)
    n_a, n = int(in_a.sum()), len(in_a)
    n_b = n - n_a
    if n_a == 0 or n_b == 0:
        raise ValueError("both groups need at least one document")
    total = X.sum(axis=0)
    obs = X[in_a].sum(axis=0) / n_a - X[~in_a].sum(axis=0) / n_b
    rng = rng_for(seed, 17)

    def draw(m: int) -> np.ndarray:
        sum_a = rng.permuted(np.tile(in_a, (m, 1)), axis=1).astype(np.float64) @ X
        return sum_a / n_a - (total - sum_a) / n_b

    return obs, _permutation_pvalues(obs, n_perm, draw)


def sign_flip_test(D: np.ndarray, n_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided paired permutation test that the mean of each column of ``D`` is zero.

    ``D`` [n_docs, n_cols] holds per-document paired differences (tuned minus base). Under the
    null the two members of a pair are exchangeable, so each document's difference flips sign
    with probability 1/2. Returns (observed mean, p-value) per column.
    """
    D = np.asarray(D, dtype=np.float64)
    n = D.shape[0]
    if n == 0:
        raise ValueError("sign-flip test needs at least one document")
    obs = D.mean(axis=0)
    rng = rng_for(seed, 19)
    return obs, _permutation_pvalues(obs, n_perm, lambda m: rng.choice(np.array([-1.0, 1.0]), size=(m, n)) @ D / n)


# --------------------------------------------------------------------------------------------
# Clustered resampling
# --------------------------------------------------------------------------------------------
def _codes(labels) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    return codes.astype(np.int64), int(codes.max()) + 1 if len(codes) else 0


def cluster_bootstrap_weights(clusters, strata, n_boot: int, seed: int) -> dict:
    """Like :func:`stratified_bootstrap_weights`, resampling whole clusters within each stratum.

    Returns ``{stratum: (document indices, W [n_boot, n_docs_in_stratum])}``; ``W @ X[idx]`` is the mean of X
    over the documents of each resample (clusters drawn with replacement, as many as the stratum has; a
    document counts as often as its cluster was drawn).
    """
    clusters, strata = np.asarray(clusters).astype(str), np.asarray(strata)
    out = {}
    for gi, g in enumerate(sorted(set(strata.tolist()))):
        idx = np.flatnonzero(strata == g)
        codes, k = _codes(clusters[idx])
        if k == 0:
            raise ValueError("bootstrap needs at least one document")
        sizes = np.bincount(codes, minlength=k).astype(np.float64)
        counts = rng_for(seed, 29, gi).multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(np.float64)
        out[g] = (idx, counts[:, codes] / (counts @ sizes)[:, None])
    return out


def _cluster_sums(X: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    S = np.zeros((k, X.shape[1]))
    np.add.at(S, codes, X)
    return S


def _cluster_permutations(X: np.ndarray, in_a: np.ndarray, clusters, seed: int):
    """The one engine of the cluster permutation tests: (observed ``mean(X[a]) - mean(X[b])`` per column,
    ``draw(m)`` returning that statistic [m, cols] under ``m`` fresh permutations of the clusters' group labels,
    from the stream ``rng_for(seed, 31)``)."""
    X = np.asarray(X, dtype=np.float64)
    in_a = np.asarray(in_a, dtype=bool)
    codes, k = _codes(clusters)
    a_of = np.zeros(k, dtype=np.int64)
    np.add.at(a_of, codes, in_a.astype(np.int64))
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    if ((a_of > 0) & (a_of < sizes)).any():
        raise ValueError("a cluster holds documents of both groups; clusters must be nested in groups")
    lab = a_of > 0
    if lab.all() or not lab.any():
        raise ValueError("both groups need at least one cluster")
    S, n = _cluster_sums(X, codes, k), sizes.sum()
    total = S.sum(axis=0)

    def stat(P: np.ndarray) -> np.ndarray:
        sa, na = P @ S, (P @ sizes)[:, None]
        return sa / na - (total - sa) / (n - na)

    obs = stat(lab[None, :].astype(np.float64))[0]
    rng = rng_for(seed, 31)
    return obs, lambda m: stat(rng.permuted(np.tile(lab, (m, 1)), axis=1).astype(np.float64))


def cluster_permutation_test(X: np.ndarray, in_a: np.ndarray, clusters, n_perm: int,
                             seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided test of ``mean(X[a]) - mean(X[b])`` (document means) per column, permuting the group labels
    of whole clusters. Every cluster must lie in one group. Returns (observed difference, p-value).

    The permutations are those of :func:`cluster_permutation_draws` (same seed, same draws); only the counts
    are kept, so memory stays bounded for wide matrices."""
    obs, draw = _cluster_permutations(X, in_a, clusters, seed)
    return obs, _permutation_pvalues(obs, n_perm, draw)


def cluster_permutation_draws(X: np.ndarray, in_a: np.ndarray, clusters, n_perm: int,
                              seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(observed ``mean(X[a]) - mean(X[b])`` per column, its value under each of ``n_perm`` permutations of the
    clusters' group labels [n_perm, cols]): the draws of :func:`cluster_permutation_test` (same seed, same
    permutations, drawn in the same chunks), kept so that several statistics share them;
    ``per_column_p(obs, draws)`` equals the test's p exactly."""
    obs, draw = _cluster_permutations(X, in_a, clusters, seed)
    draws = [draw(m) for m in _chunks(n_perm)]
    return obs, np.concatenate(draws) if draws else np.zeros((0, obs.shape[0]))


def per_column_p(obs: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Two-sided ``(1 + #{|draw| >= |obs|}) / (n + 1)`` per column of ``draws`` [n, cols] (the tie tolerance of
    the permutation tests)."""
    return (1.0 + _count_extreme(draws, obs)) / (draws.shape[0] + 1.0)


def cluster_sign_flip_test(D: np.ndarray, clusters, n_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided paired test that the document mean of each column of ``D`` is zero, flipping the signs of
    all differences of a cluster together. Returns (observed mean, p-value)."""
    D = np.asarray(D, dtype=np.float64)
    if D.shape[0] == 0:
        raise ValueError("sign-flip test needs at least one document")
    codes, k = _codes(clusters)
    C = _cluster_sums(D, codes, k)
    n = D.shape[0]
    obs = D.mean(axis=0)
    rng = rng_for(seed, 37)
    return obs, _permutation_pvalues(obs, n_perm, lambda m: rng.choice(np.array([-1.0, 1.0]), size=(m, k)) @ C / n)


def empirical_p(observed, null, alternative: str = "two-sided", rtol: float = _TIE_RTOL,
                atol: float = 0.0) -> np.ndarray:
    """Per ``observed`` value, ``(1 + #{null >= observed}) / (len(null) + 1)`` against a sample ``null`` of the
    same statistic (never 0): of |observed| against |null| (``two-sided``) or of observed against null
    (``greater``: is it larger than the null's?). A null value less than ``max(atol, rtol * |observed|)`` below
    the observed one counts as reaching it (float round-off must not break an exact tie). NaN for an empty null.
    """
    if alternative not in ("two-sided", "greater"):
        raise ValueError(f"alternative must be two-sided or greater, not {alternative!r}")
    two = alternative == "two-sided"
    obs = np.asarray(observed, dtype=np.float64)
    null = np.asarray(null, dtype=np.float64)
    if null.size == 0:
        return np.full(obs.shape, np.nan)
    ref = np.sort((np.abs(null) if two else null).ravel())
    obs = np.abs(obs) if two else obs
    ge = ref.size - np.searchsorted(ref, obs - np.maximum(atol, rtol * np.abs(obs)), side="left")
    return (1.0 + ge) / (ref.size + 1.0)


def auroc(scores, positive) -> np.ndarray:
    """Area under the ROC curve of every column of ``scores`` [n, L] (or of a vector) for the rows marked
    ``positive``: the probability that a positive row outscores a negative one, ties counting half
    (Mann-Whitney U / (n_pos * n_neg), with average ranks; 0.5 = no separation). NaN when either class is
    empty."""
    from scipy.stats import rankdata

    scores = np.asarray(scores, dtype=np.float64)
    vec = scores.ndim == 1
    scores = scores[:, None] if vec else scores
    pos = np.asarray(positive, dtype=bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        out = np.full(scores.shape[1], np.nan)
    else:
        r = rankdata(scores, axis=0)
        out = (r[pos].sum(0) - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out[0] if vec else out


def two_sample_exact(x, y, alternative: str = "greater", max_splits: int = 200_000, seed: int = 0) -> float | None:
    """Permutation p-value that the values ``x`` are larger (``greater``), smaller (``less``) or different
    (``two-sided``) than the values ``y``, on the difference in means. Every split of the pooled values into
    groups of the two sizes is enumerated when there are at most ``max_splits`` (9 against 6 values: 5,005
    splits, smallest p 1/5005), otherwise sampled. Exact when the values are exchangeable under the null.
    None when either side is empty."""
    from itertools import combinations
    from math import comb

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size == 0 or y.size == 0:
        return None
    pooled, nx = np.concatenate([x, y]), x.size
    n = pooled.size
    if comb(n, nx) <= max_splits:
        idx = np.array(list(combinations(range(n), nx)), dtype=np.int64)
    else:
        rng = rng_for(seed, 41)
        idx = np.stack([rng.permutation(n)[:nx] for _ in range(max_splits)])
        idx = np.vstack([np.arange(nx)[None, :], idx])  # the observed split counts once
    sx = pooled[idx].sum(axis=1)
    diff = sx / nx - (pooled.sum() - sx) / (n - nx)
    obs = x.mean() - y.mean()
    tol = 1e-12 * max(1.0, float(np.abs(pooled).max()))
    if alternative == "greater":
        hits = diff >= obs - tol
    elif alternative == "less":
        hits = diff <= obs + tol
    else:
        hits = np.abs(diff) >= abs(obs) - tol
    return float(hits.mean())


# --------------------------------------------------------------------------------------------
# Multiple testing
# --------------------------------------------------------------------------------------------
def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values: ``q_(i) = min_{j >= i} p_(j) * m / j``, capped at 1.

    Rejecting ``q <= alpha`` is the BH step-up procedure at false-discovery rate alpha.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return p.copy()
    if np.isnan(p).any():
        raise ValueError("p-values contain NaN")
    m = p.size
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def bh_reject(p: np.ndarray, alpha: float) -> np.ndarray:
    """Boolean mask of the hypotheses BH rejects at false-discovery rate ``alpha``."""
    return bh_qvalues(p) <= alpha
