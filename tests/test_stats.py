"""featevo.stats on synthetic data: known effects, no effects, and a hand-computed BH example."""

import numpy as np
import pytest
from scipy import stats as sps

from featevo.stats import (
    bh_qvalues, bh_reject, bootstrap_mean, percentile_ci, permutation_test_groups, sign_flip_test,
    stratified_bootstrap_weights,
)


def _two_groups(n_a, n_b, cols, shift, seed):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n_a + n_b, cols))
    X[:n_a] += shift
    in_a = np.zeros(n_a + n_b, bool)
    in_a[:n_a] = True
    return X, in_a


def test_bootstrap_ci_covers_known_difference_and_excludes_zero():
    X, in_a = _two_groups(150, 150, 1, 1.0, seed=1)
    boot = stratified_bootstrap_weights(np.where(in_a, "a", "b"), 2000, seed=0)
    (ia, Wa), (ib, Wb) = boot["a"], boot["b"]
    diff = (Wa @ X[ia] - Wb @ X[ib])[:, 0]
    lo, hi = percentile_ci(diff[:, None], 0.95)
    assert lo[0] < 1.0 < hi[0]
    assert lo[0] > 0.5  # a strong effect: the interval is far from 0
    assert (Wa.sum(1) == pytest.approx(1.0)) and (Wa.shape == (2000, 150))


def test_bootstrap_coverage_is_nominal_across_columns():
    # 300 independent "latents", true mean 0.3: about 95% of the intervals contain it
    r = np.random.default_rng(2)
    X = r.normal(0.3, 1.0, size=(200, 300))
    lo, hi = percentile_ci(bootstrap_mean(X, 1000, seed=3), 0.95)
    cover = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert 0.89 <= cover <= 0.99
    # same seed, same numbers
    lo2, _ = percentile_ci(bootstrap_mean(X, 1000, seed=3), 0.95)
    assert np.array_equal(lo, lo2)


def test_permutation_test_uniform_without_effect_tiny_with_effect():
    X, in_a = _two_groups(60, 80, 400, 0.0, seed=4)
    obs, p = permutation_test_groups(X, in_a, 500, seed=0)
    assert obs == pytest.approx(X[in_a].mean(0) - X[~in_a].mean(0))
    assert p.min() >= 1 / 501 and p.max() <= 1.0
    assert sps.kstest(p, "uniform").pvalue > 0.001
    assert 0.02 <= np.mean(p < 0.05) <= 0.09
    assert bh_reject(p, 0.05).sum() <= 2
    Xe, in_a = _two_groups(60, 80, 20, 1.5, seed=5)
    _, pe = permutation_test_groups(Xe, in_a, 500, seed=0)
    assert np.all(pe == pytest.approx(1 / 501))
    assert bh_reject(pe, 0.05).all()


def test_permutation_test_constant_column_is_not_significant():
    X = np.zeros((30, 3))
    X[:, 1] = 2.0  # constant but nonzero
    in_a = np.arange(30) < 12
    obs, p = permutation_test_groups(X, in_a, 200, seed=0)
    assert np.allclose(obs, 0) and np.all(p == 1.0)


def test_sign_flip_test_paired():
    r = np.random.default_rng(6)
    null = r.normal(size=(100, 300))
    _, p = sign_flip_test(null, 400, seed=1)
    assert 0.02 <= np.mean(p < 0.05) <= 0.09
    eff = r.normal(0.8, 1.0, size=(100, 5))
    m, pe = sign_flip_test(eff, 400, seed=1)
    assert np.all(m > 0.4) and np.all(pe <= 1 / 401 + 1e-12)
    _, p0 = sign_flip_test(np.zeros((10, 2)), 50, seed=0)
    assert np.all(p0 == 1.0)


def test_bh_hand_computed():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # sorted 0.005, 0.01, 0.03, 0.04, 0.5 -> p*m/rank 0.025, 0.025, 0.05, 0.05, 0.5 (already monotone)
    assert bh_qvalues(p) == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert bh_reject(p, 0.05).tolist() == [True, True, True, True, False]
    assert bh_reject(p, 0.03).tolist() == [True, False, False, True, False]
    # step-up: a later rank pulls earlier q-values down; q capped at 1
    p2 = np.array([0.02, 0.021, 0.9, 0.95])
    assert bh_qvalues(p2) == pytest.approx([0.042, 0.042, 0.95, 0.95])
    assert bh_qvalues(np.array([0.8, 0.9]) * 3).max() == 1.0
    r = np.random.default_rng(0).uniform(size=50)
    assert bh_qvalues(r) == pytest.approx(sps.false_discovery_control(r, method="bh"))
    assert np.all(bh_qvalues(r) >= r - 1e-12)
