"""Clustered resampling on simulated data with a known answer: calibration under the null (the false-positive
rate stays near the nominal 5% however correlated the documents of a cluster are), power under a planted
effect, interval coverage, and the calibration helpers (empirical p-values, the exact two-sample test)."""

import numpy as np
import pytest

from featevo.stats import (
    cluster_bootstrap_weights, cluster_permutation_test, cluster_sign_flip_test, empirical_p, percentile_ci,
    permutation_test_groups, sign_flip_test, stratified_bootstrap_weights, two_sample_exact,
)

K_PER_GROUP, DOCS_PER_CLUSTER, COLS = 30, 7, 400  # like the probe: ~60 templates a domain, ~7 sentences each


def _clustered(icc: float, shift: float, seed: int, cols: int = COLS):
    """Documents in clusters nested in two groups; cluster effects give intra-class correlation ``icc``;
    group a is shifted by ``shift`` (in units of the total SD). Each column is an independent dataset."""
    r = np.random.default_rng(seed)
    k = 2 * K_PER_GROUP
    clusters = np.repeat(np.arange(k), DOCS_PER_CLUSTER)
    in_a = clusters < K_PER_GROUP
    X = (np.sqrt(icc) * r.normal(size=(k, cols))[clusters] + np.sqrt(1 - icc) * r.normal(size=(len(clusters), cols)))
    X[in_a] += shift
    return X, in_a, clusters


@pytest.mark.parametrize("icc", [0.1, 0.3, 0.5])
def test_cluster_permutation_is_calibrated_where_the_document_test_is_not(icc):
    X, in_a, clusters = _clustered(icc, 0.0, seed=int(icc * 10))
    _, p_cluster = cluster_permutation_test(X, in_a, clusters, 399, seed=0)
    fpr = np.mean(p_cluster <= 0.05)
    assert 0.025 <= fpr <= 0.085, fpr  # 400 datasets: binomial SD ~ 0.011 around 0.05
    _, p_doc = permutation_test_groups(X, in_a, 399, seed=0)  # treats sentences as independent
    assert np.mean(p_doc <= 0.05) > fpr + 0.05  # the pseudo-replication the cluster test removes


def test_cluster_permutation_has_power_under_a_planted_effect():
    X, in_a, clusters = _clustered(0.3, 0.5, seed=7)
    obs, p = cluster_permutation_test(X, in_a, clusters, 399, seed=1)
    assert np.mean(p <= 0.05) > 0.8
    assert obs.mean() == pytest.approx(0.5, abs=0.05)


def test_cluster_permutation_rejects_clusters_that_straddle_groups():
    X, in_a, clusters = _clustered(0.1, 0.0, seed=0, cols=2)
    in_a[0] = ~in_a[0]
    with pytest.raises(ValueError, match="both groups"):
        cluster_permutation_test(X, in_a, clusters, 10, seed=0)


@pytest.mark.parametrize("icc", [0.1, 0.5])
def test_cluster_sign_flip_is_calibrated(icc):
    X, _, clusters = _clustered(icc, 0.0, seed=11 + int(10 * icc))  # paired differences with mean 0
    _, p = cluster_sign_flip_test(X, clusters, 399, seed=2)
    assert 0.025 <= np.mean(p <= 0.05) <= 0.085
    _, p_doc = sign_flip_test(X, 399, seed=2)
    assert np.mean(p_doc <= 0.05) > np.mean(p <= 0.05) + 0.05


def test_cluster_bootstrap_interval_covers_the_truth():
    X, in_a, clusters = _clustered(0.4, 0.3, seed=5)
    boot = cluster_bootstrap_weights(clusters, np.where(in_a, "a", "b"), 1000, seed=3)
    (ia, Wa), (ib, Wb) = boot["a"], boot["b"]
    lo, hi = percentile_ci(Wa @ X[ia] - Wb @ X[ib], 0.95)
    cover = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert 0.89 <= cover <= 0.99, cover
    # the document bootstrap's intervals are too narrow on the same data
    sb = stratified_bootstrap_weights(np.where(in_a, "a", "b"), 1000, seed=3)
    lo_d, hi_d = percentile_ci(sb["a"][1] @ X[sb["a"][0]] - sb["b"][1] @ X[sb["b"][0]], 0.95)
    assert np.mean((lo_d <= 0.3) & (0.3 <= hi_d)) < cover - 0.1
    assert np.allclose(Wa.sum(1), 1.0)


def test_cluster_bootstrap_with_singleton_clusters_is_the_document_bootstrap():
    groups = np.array(["a"] * 5 + ["b"] * 4)
    W = cluster_bootstrap_weights(np.arange(9), groups, 50, seed=0)
    for g in ("a", "b"):
        idx, w = W[g]
        assert w.shape == (50, len(idx)) and np.allclose(w.sum(1), 1.0)
        assert np.allclose(w * len(idx), np.round(w * len(idx)))  # integer multiplicities / n


def test_empirical_p_against_a_null_sample():
    null = np.array([-3.0, -1.0, 0.5, 1.0, 2.0])
    p = empirical_p([0.0, 1.0, 5.0], null)
    assert p.tolist() == pytest.approx([6 / 6, 5 / 6, 1 / 6])  # |null| >= |obs| for 5, 4 and 0 null values
    assert np.isnan(empirical_p([1.0], []))[0]


def test_two_sample_exact_known_values():
    x, y = np.arange(9) + 10.0, np.arange(6) * 1.0  # every x above every y
    assert two_sample_exact(x, y) == pytest.approx(1 / 5005)
    assert two_sample_exact(y, x) == pytest.approx(1.0)
    assert 1 / 5005 <= two_sample_exact(x, y, "two-sided") <= 2 / 5005
    assert two_sample_exact([], y) is None
    r = np.random.default_rng(0)  # exchangeable values: p is uniform, so P(p <= 0.05) ~ 0.05
    ps = [two_sample_exact(r.normal(size=4), r.normal(size=4)) for _ in range(400)]
    assert 0.02 <= np.mean(np.array(ps) <= 0.05) <= 0.09


def _old_cluster_permutation_test(X, in_a, clusters, n_perm, seed):
    """The body of featevo.stats.cluster_permutation_test before the draws and the test shared one engine
    (a2436ea), kept verbatim as the reference the shared engine must reproduce bit for bit."""
    from featevo.stats import _CHUNK, _cluster_sums, _codes, _count_extreme, rng_for

    X = np.asarray(X, dtype=np.float64)
    in_a = np.asarray(in_a, dtype=bool)
    codes, k = _codes(clusters)
    a_of = np.zeros(k, dtype=np.int64)
    np.add.at(a_of, codes, in_a.astype(np.int64))
    sizes = np.bincount(codes, minlength=k).astype(np.float64)
    lab = a_of > 0
    S, n = _cluster_sums(X, codes, k), sizes.sum()
    total = S.sum(axis=0)

    def stat(P):
        sa, na = P @ S, (P @ sizes)[:, None]
        return sa / na - (total - sa) / (n - na)

    obs = stat(lab[None, :].astype(np.float64))[0]
    rng = rng_for(seed, 31)
    extreme, done = np.zeros(obs.shape[0], dtype=np.int64), 0
    while done < n_perm:
        m = min(_CHUNK, n_perm - done)
        extreme += _count_extreme(stat(rng.permuted(np.tile(lab, (m, 1)), axis=1).astype(np.float64)), obs)
        done += m
    return obs, (1.0 + extreme) / (n_perm + 1.0)


@pytest.mark.parametrize("seed,n_perm", [(0, 199), (3, 512), (11, 1100), (42, 0)])
def test_one_permutation_engine_reproduces_the_old_test_and_its_draws_bit_for_bit(seed, n_perm):
    from featevo.fixed_dictionary import cluster_permutation_draws as lens_draws
    from featevo.stats import cluster_permutation_draws, per_column_p

    X, in_a, clusters = _clustered(0.3, 0.2 * (seed % 2), seed=seed, cols=37)
    X[:, 0] = 0.0  # an exact tie everywhere: p must be 1 on both paths
    clusters = clusters.astype(str)  # unequal cluster sizes: drop two documents of one cluster
    keep = np.ones(len(clusters), dtype=bool)
    keep[:2] = False
    X, in_a, clusters = X[keep], in_a[keep], clusters[keep]
    ref_obs, ref_p = _old_cluster_permutation_test(X, in_a, clusters, n_perm, seed)
    obs, p = cluster_permutation_test(X, in_a, clusters, n_perm, seed)
    d_obs, draws = cluster_permutation_draws(X, in_a, clusters, n_perm, seed)
    assert draws.shape == (n_perm, X.shape[1])
    assert np.array_equal(obs, ref_obs) and np.array_equal(d_obs, ref_obs)
    assert np.array_equal(p, ref_p) and np.array_equal(per_column_p(d_obs, draws), ref_p)
    assert p[0] == 1.0
    assert lens_draws is cluster_permutation_draws  # the lens keeps importing the one engine
