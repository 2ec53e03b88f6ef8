"""featevo.inference and the per-comparison statistics of featevo.matching on constructed data with known answers:
the difference-in-differences estimator, the seed calibration (uniform p-values under a simulated null of seed
pairs, leave-one-out nulls), the stratified template split, the held-out check, and comparison statistics."""

import numpy as np
import pytest
import torch

from featevo.config import CompareConfig
from featevo.inference import (
    Design, bh_discoveries, calibrate, calibrated_pvalues, comparison_effects, did_estimate, did_sampling_p,
    domain_test, held_out_check, pair_differences, select_top, template_halves, z_scores,
)
from featevo.matching import CorrelationAccumulator, comparison_stats, continuum, match_latents
from featevo.results import MatchedPairs

N_TEMPLATES, PER_TEMPLATE = 12, 6  # per domain


def _design_docs(seed: int = 0):
    """Documents in templates nested in two domains, categories of 3 templates each."""
    k = 2 * N_TEMPLATES
    clusters = np.repeat(np.arange(k), PER_TEMPLATE)
    is_target = clusters < N_TEMPLATES
    category = np.array([f"c{c // 3}" for c in clusters])
    return is_target, clusters.astype(str), category


def _clustered_noise(clusters, cols, icc, rng):
    codes = np.unique(clusters, return_inverse=True)[1]
    return (np.sqrt(icc) * rng.normal(size=(codes.max() + 1, cols))[codes]
            + np.sqrt(1 - icc) * rng.normal(size=(len(codes), cols)))


# --------------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------------
def test_did_is_the_difference_of_domain_changes():
    is_target, clusters, _ = _design_docs()
    n = len(is_target)
    Xa = np.zeros((n, 3))
    Xb = np.zeros((n, 3))
    Xb[:, 0] = 1.0 + 0.5 * is_target      # +1.5 on financial, +1 on general: did 0.5
    Xb[:, 1] = 2.0                     # fires more everywhere: delta_target 2, did 0
    Xb[:, 2] = -0.25 * ~is_target         # quieter on general text only: did +0.25
    D = pair_differences(Xa, Xb, [0, 1, 2], [0, 1, 2])
    est = did_estimate(D, Design.of(is_target, clusters, 200, seed=0), 0.95)
    assert est.did == pytest.approx([0.5, 0.0, 0.25])
    assert est.delta_target == pytest.approx([1.5, 2.0, 0.0])
    assert est.delta_reference == pytest.approx([1.0, 2.0, -0.25])
    assert est.se == pytest.approx([0, 0, 0], abs=1e-12) and est.z.tolist() == [0.0, 0.0, 0.0]  # no variation
    assert est.lo == pytest.approx(est.did) and est.hi == pytest.approx(est.did)


def test_did_interval_covers_the_truth_and_z_is_standardised():
    is_target, clusters, _ = _design_docs()
    rng = np.random.default_rng(1)
    cols = 300
    D = _clustered_noise(clusters, cols, 0.4, rng) + 0.3 * is_target[:, None]  # true did 0.3 in every column
    est = did_estimate(D, Design.of(is_target, clusters, 400, seed=2), 0.95)
    cover = np.mean((est.lo <= 0.3) & (0.3 <= est.hi))
    assert 0.86 <= cover <= 0.99, cover
    assert est.z == pytest.approx(est.did / est.se)
    assert z_scores([1.0, 2.0], [0.0, 4.0]).tolist() == [0.0, 0.5]


def test_did_sampling_p_is_calibrated_on_clustered_null_data():
    is_target, clusters, _ = _design_docs()
    rng = np.random.default_rng(3)
    D = _clustered_noise(clusters, 400, 0.5, rng)
    p = did_sampling_p(D, Design.of(is_target, clusters, 10, seed=0), 399, seed=0)
    assert 0.02 <= np.mean(p <= 0.05) <= 0.09


def test_design_on_a_subset_uses_only_its_documents():
    is_target, clusters, category = _design_docs()
    half = template_halves(clusters, category, seed=0)
    X = np.where(half, 100.0, 1.0)[:, None] * np.ones((1, 2))
    d = Design.of(is_target, clusters, 50, seed=0, docs=np.flatnonzero(~half))
    fin, gen, fb, gb = d.domain_means(X)
    assert fin.tolist() == gen.tolist() == [1.0, 1.0] and np.allclose(fb, 1.0) and np.allclose(gb, 1.0)


def test_domain_test_statistic_is_target_minus_reference():
    is_target, clusters, _ = _design_docs()
    rng = np.random.default_rng(4)
    X = rng.normal(size=(len(is_target), 5))
    X[:, 0] += 3 * is_target
    t = domain_test(X, Design.of(is_target, clusters, 10, seed=0), 199, seed=0)
    assert t.diff == pytest.approx(X[is_target].mean(0) - X[~is_target].mean(0))
    assert t.target(0.05)[0] and not t.reference(0.05)[0] and t.q[0] <= 0.05


# --------------------------------------------------------------------------------------------
# Calibration against seed pairs
# --------------------------------------------------------------------------------------------
def test_calibrated_pvalues_leave_one_out_known_values():
    z_by = {"s1": np.array([0.0, 5.0]), "s2": np.array([1.0]), "ft": np.array([2.0, -6.0])}
    out = calibrated_pvalues(z_by, ["s1", "s2"])
    p_ft, n_ft = out["ft"]
    assert n_ft == 3 and p_ft.tolist() == pytest.approx([2 / 4, 1 / 4])  # |null| = 0, 5, 1
    p_s1, n_s1 = out["s1"]  # against s2 only
    assert n_s1 == 1 and p_s1.tolist() == pytest.approx([1.0, 0.5])
    p_s2, n_s2 = out["s2"]  # against s1 only: |0|, |5| vs 1 -> one at least as extreme
    assert n_s2 == 2 and p_s2.tolist() == pytest.approx([2 / 3])
    assert np.isnan(calibrated_pvalues({"ft": np.array([1.0])}, [])["ft"][0]).all()


def _simulated_comparisons(rng, n_seed: int = 9, pairs: int = 60, effect: float = 0.0):
    """z of 'seed' comparisons and one 'fine-tuning' comparison from the same null (heavier than normal tails,
    a spread wider than 1, as the seed spread makes it), the latter shifted by ``effect`` in 5 pairs."""
    scale = 1.7
    z = {f"seed{i}": scale * rng.standard_t(5, size=pairs) for i in range(n_seed)}
    ft = scale * rng.standard_t(5, size=pairs)
    ft[:5] += effect
    z["ft"] = ft
    return z


def test_calibrated_pvalues_are_uniform_under_a_null_of_seed_pairs():
    rng = np.random.default_rng(5)
    ps, seed_ps, naive = [], [], []
    for _ in range(60):
        z = _simulated_comparisons(rng)
        out = calibrated_pvalues(z, [n for n in z if n.startswith("seed")])
        ps.append(out["ft"][0])
        seed_ps.append(out["seed0"][0])
        naive.append(2 * (1 - _norm_cdf(np.abs(z["ft"]))))  # sampling-only p treats z as N(0, 1)
    ps, seed_ps, naive = np.concatenate(ps), np.concatenate(seed_ps), np.concatenate(naive)
    for p in (ps, seed_ps):
        assert 0.035 <= np.mean(p <= 0.05) <= 0.065
        assert 0.45 <= np.mean(p <= 0.5) <= 0.55
    assert np.mean(naive <= 0.05) > 0.15  # ignoring the seed spread rejects far too often


def _norm_cdf(x):
    from math import erf, sqrt

    return np.array([0.5 * (1 + erf(v / sqrt(2))) for v in np.ravel(x)]).reshape(np.shape(x))


def test_discoveries_under_the_null_are_rare_and_a_planted_effect_is_found():
    rng = np.random.default_rng(6)
    fwer, found = 0, []
    for _ in range(40):
        z = _simulated_comparisons(rng)
        p = calibrated_pvalues(z, [n for n in z if n.startswith("seed")])["ft"][0]
        fwer += bool(bh_discoveries(p, 0.05)[1].any())
        z = _simulated_comparisons(rng, effect=30.0)
        p = calibrated_pvalues(z, [n for n in z if n.startswith("seed")])["ft"][0]
        found.append(np.flatnonzero(bh_discoveries(p, 0.05)[1]).tolist())
    assert fwer / 40 <= 0.125  # BH under the global null: P(any discovery) <= alpha (40 runs)
    assert all(set(range(5)) <= set(f) for f in found)  # every planted change is found ...
    assert np.mean([len(f) - 5 for f in found]) <= 0.5  # ... with few false ones (BH: FDR <= alpha)


def test_bh_discoveries_without_a_null():
    q, d = bh_discoveries(np.array([np.nan, np.nan]), 0.05)
    assert np.isnan(q).all() and not d.any()
    q, d = bh_discoveries(np.array([0.001, 0.5]), 0.05)
    assert d.tolist() == [True, False] and q == pytest.approx([0.002, 0.5])


def test_calibrate_counts_every_family_by_the_same_procedure():
    is_target, clusters, category = _design_docs()
    rng = np.random.default_rng(7)
    n, L = len(is_target), 40
    base = rng.normal(size=(n, L)) ** 2
    designs = {"full": Design.of(is_target, clusters, 100, 0),
               "a": Design.of(is_target, clusters, 100, 1, np.flatnonzero(template_halves(clusters, category, 0))),
               "b": Design.of(is_target, clusters, 100, 2, np.flatnonzero(~template_halves(clusters, category, 0)))}
    pairs = MatchedPairs(np.arange(L), np.arange(L), np.arange(L), np.array(["shared"] * L, dtype=object),
                         np.ones(L), np.ones(L))
    effects = {}
    for i in range(4):  # seed pairs: the other SAE's latents differ by clustered noise only
        other = base + 0.3 * _clustered_noise(clusters, L, 0.3, rng)
        effects[f"s{i}"] = comparison_effects(f"s{i}", "seed", "a", "b", pairs, base, other, designs, 0.95, 99, 0)
    tuned = base + 0.3 * _clustered_noise(clusters, L, 0.3, rng)
    tuned[:, :6] += 3.0 * is_target[:, None]  # six latents now fire much more on financial text
    effects["ft"] = comparison_effects("ft", "fine-tuning", "a", "b", pairs, base, tuned, designs, 0.95, 99, 0)
    null = calibrate(effects, 0.05, top_n=6)
    assert null == ["s0", "s1", "s2", "s3"]
    ft = effects["ft"]
    assert ft.null_pairs == 4 * L and effects["s0"].null_pairs == 3 * L  # leave one out
    assert set(np.flatnonzero(ft.discovered)) == set(range(6))
    c = ft.counts(0.05)
    assert c["discoveries"] == c["toward_target"] == 6 and c["toward_reference"] == 0
    assert c["min_p"] == pytest.approx(1 / (4 * L + 1)) and c["confirmed"] == 6
    assert sum(effects[f"s{i}"].counts(0.05)["discoveries"] for i in range(4)) <= 2
    # the |z| a pair needs: the largest |z| of the (leave-one-out) seed null, and a z just above it gets min p
    pooled = np.concatenate([np.abs(effects[f"s{i}"].full.z) for i in range(4)])
    assert c["z_needed"] == pytest.approx(pooled.max())
    s0_pool = np.concatenate([np.abs(effects[f"s{i}"].full.z) for i in range(1, 4)])
    assert effects["s0"].counts(0.05)["z_needed"] == pytest.approx(s0_pool.max())
    seeds = {f"s{i}": effects[f"s{i}"].full.z for i in range(4)}
    above = calibrated_pvalues({"x": np.array([pooled.max() * 1.01]), **seeds}, list(seeds))
    assert above["x"][0][0] == pytest.approx(c["min_p"])
    # 40 pairs against 160 null values: min p 1/161 > 0.05/40, so no pair is a discovery alone; the six planted
    # pairs pass together (BH's k-th threshold is k alpha / m)
    assert not c["lone_discovery_attainable"] and c["discoveries"] == 6


def test_lone_discovery_attainable_known_cases():
    from featevo.inference import lone_discovery_attainable

    # the demo's matched pairs: 662 seed-pair z against 38 pairs: 1/663 > 0.05/38, so not alone
    assert not lone_discovery_attainable(662, 38, 0.05)
    assert lone_discovery_attainable(759, 38, 0.05)  # 1/760 <= 0.05/38 = 1/760
    assert not lone_discovery_attainable(0, 38, 0.05) and not lone_discovery_attainable(100, 0, 0.05)


# --------------------------------------------------------------------------------------------
# Selection and estimation on separate templates
# --------------------------------------------------------------------------------------------
def test_template_halves_are_stratified_disjoint_and_seeded():
    is_target, clusters, category = _design_docs()
    half = template_halves(clusters, category, seed=3)
    for c in np.unique(clusters):  # a template lies wholly in one half
        assert len(set(half[clusters == c])) == 1
    sizes = []
    for cat in np.unique(category):
        in_a = {c for c in np.unique(clusters[category == cat]) if half[clusters == c][0]}
        n = len(np.unique(clusters[category == cat]))
        assert 1 <= len(in_a) <= n - 1 and abs(2 * len(in_a) - n) <= 1
        sizes.append(len(in_a))
    assert abs(sum(sizes) - len(np.unique(clusters)) / 2) <= 1  # balanced overall
    assert np.array_equal(half, template_halves(clusters, category, seed=3))
    assert any(not np.array_equal(half, template_halves(clusters, category, seed=s)) for s in range(4, 8))


def test_held_out_check_selects_on_one_half_and_tests_only_the_selected():
    z_sel = np.array([0.1, -5.0, 3.0, 0.2, 4.0])
    p_held = np.array([0.001, 0.001, 0.9, 0.001, 0.01])
    h = held_out_check(z_sel, p_held, top_n=3, alpha=0.05)
    assert select_top(z_sel, 3).tolist() == [1, 4, 2]
    assert h.selected.tolist() == [False, True, True, False, True]
    assert h.rank.tolist() == [0, 1, 3, 0, 2]
    # BH among the three selected: p = 0.001, 0.9, 0.01 -> q = 0.003, 0.9, 0.015
    assert h.q[[1, 2, 4]] == pytest.approx([0.003, 0.9, 0.015]) and np.isnan(h.q[[0, 3]]).all()
    assert h.confirmed.tolist() == [False, True, False, False, True] and h.n_confirmed == 2


# --------------------------------------------------------------------------------------------
# Comparison statistics (featevo.matching)
# --------------------------------------------------------------------------------------------
def test_comparison_stats_and_continuum_on_a_constructed_case():
    cc = CompareConfig(shared_threshold=0.7, new_threshold=0.4, shifted_correlation=0.5)
    cos = np.full((4, 4), 0.05)
    corr = np.full((4, 4), 0.0)
    cos[0, 0], corr[0, 0] = 0.9, 0.9     # shared
    cos[1, 1], corr[1, 1] = 0.5, 0.9     # shifted (direction)
    cos[2, 2] = 0.3                      # unmatched, above chance 0.2: lost / new
    live = np.array([True, True, True, False])
    m = match_latents(cos, corr, live, live, cc)
    s = comparison_stats(m, chance_p99=0.2)
    assert (s["pairs"], s["matched"], s["shared"]) == (3, 2, 1)
    assert s["matched_fraction"] == pytest.approx(2 / 3) and s["shared_fraction"] == pytest.approx(1 / 3)
    assert (s["new"], s["lost"], s["dead_a"], s["dead_b"]) == (1, 1, 1, 1)
    assert s["mean_pair_cosine"] == pytest.approx((0.9 + 0.5 + 0.3) / 3)
    assert s["above_chance_fraction"] == 1.0  # every live latent's best cosine (0.9, 0.5, 0.3) beats 0.2
    c = continuum(m.best_cos_b, m.live_b, (0.2, 0.4, 0.8))
    assert c["n"] == 3 and c["fraction_at_or_above"] == pytest.approx({"0.2": 1.0, "0.4": 2 / 3, "0.8": 1 / 3})
    assert c["quantiles"]["p50"] == pytest.approx(0.5)


@pytest.mark.parametrize("d_b", [6, 700])  # dense float32 path, and the sparse path for wide pairs
def test_fast_correlation_matches_exact(d_b):
    r = np.random.default_rng(8)

    def topk_code(n, d, k):
        x = torch.tensor(r.normal(size=(n, d)))
        v, i = x.topk(k, dim=1)
        return torch.zeros(n, d, dtype=torch.float64).scatter_(1, i, v.relu()).float()

    za, zb = topk_code(3000, 5, 2), topk_code(3000, d_b, 3)
    exact, fast = CorrelationAccumulator([("a", "b")]), CorrelationAccumulator([("a", "b")], "fast", sparse_above=100)
    for s in range(0, 3000, 700):
        exact.update({"a": za[s : s + 700], "b": zb[s : s + 700]})
        fast.update({"a": za[s : s + 700], "b": zb[s : s + 700]})
    assert np.allclose(fast.correlation("a", "b"), exact.correlation("a", "b"), atol=1e-5)
