"""featevo.lenses on synthetic sets with known answers: identical sets overlap far beyond chance; independent
random sets overlap as much as the hypergeometric expects, with p-values no smaller than uniform."""

from __future__ import annotations

import numpy as np
import pytest

from featevo.lenses import agreement, best_match, overlap_test


def test_identical_sets_give_a_tiny_p():
    s = list(range(0, 200, 10))  # 20 of 200
    r = overlap_test(s, s, 200)
    assert r["overlap"] == 20 and r["expected"] == pytest.approx(2.0) and r["ratio"] == pytest.approx(10.0)
    assert r["p"] < 1e-20 and r["jaccard"] == 1.0


def test_disjoint_sets_give_p_one_and_hand_computed_value():
    r = overlap_test([0, 1, 2], [3, 4], 10)
    assert r["overlap"] == 0 and r["p"] == pytest.approx(1.0) and r["expected"] == pytest.approx(0.6)
    # P(X >= 1) with N=10, K=3, n=2: 1 - C(7,2)/C(10,2) = 1 - 21/45
    r = overlap_test([0, 1, 2], [2, 4], 10)
    assert r["overlap"] == 1 and r["p"] == pytest.approx(1 - 21 / 45)


def test_independent_random_sets_overlap_at_chance_and_p_is_not_anticonservative():
    rng = np.random.default_rng(0)
    n, a, b, draws = 300, 30, 40, 2000
    overlaps, ps = [], []
    for _ in range(draws):
        r = overlap_test(rng.choice(n, a, replace=False), rng.choice(n, b, replace=False), n)
        overlaps.append(r["overlap"])
        ps.append(r["p"])
    ps = np.array(ps)
    assert np.mean(overlaps) == pytest.approx(a * b / n, abs=0.15)
    # discrete p-values are super-uniform: P(p <= t) <= t (up to sampling error), and not far below it
    for t in (0.05, 0.2, 0.5):
        assert np.mean(ps <= t) <= t + 0.02
        assert np.mean(ps <= t) >= t - 0.15
    assert 0.45 <= ps.mean() <= 0.65


def test_agreement_reports_pairs_missing_lenses_and_disagreements():
    res = agreement({"stage-wise": [1, 2, 3], "matching": [2, 3, 4], "crosscoder": None}, 50)
    assert res["missing"] == ["crosscoder"] and res["lenses"] == ["stage-wise", "matching"]
    assert len(res["pairs"]) == 1 and res["pairs"][0]["overlap"] == 2
    assert res["only"] == {"stage-wise": [1], "matching": [4]} and res["all_lenses"] == [2, 3]
    assert res["by_latent"][4] == ["matching"]


def test_best_match_finds_the_rotated_row():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(12, 8))
    rows = ref[[5, 0, 7]] * np.array([[2.0], [0.5], [1.0]]) + 0.01 * rng.normal(size=(3, 8))
    rows = np.vstack([rows, np.zeros(8)])
    idx, cos = best_match(rows, ref)
    assert idx.tolist() == [5, 0, 7, -1] and (cos[:3] > 0.99).all() and np.isnan(cos[3])


def test_overlap_smallest_attainable_p_is_the_full_overlap():
    """Two sets of 2 and 3 of 10 latents: the largest overlap is 2, P(X >= 2) = C(3,2) C(7,0) / C(10,2) = 3/45."""
    from featevo.lenses import overlap_test

    got = overlap_test([0, 1], [0, 1, 2], 10)
    assert abs(got["min_attainable_p"] - 3 / 45) < 1e-12 and got["p"] == got["min_attainable_p"]
    assert overlap_test([0, 1], [5, 6, 7], 10)["p"] == 1.0
