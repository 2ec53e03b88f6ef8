"""The fixed-dictionary lens's statistics on simulated probes with a known answer: the shared permutation draws
equal featevo.stats' test, the global and per-latent tests are calibrated when nothing interacts, they find a
planted interaction (and only where it was planted), and robustness across dictionaries follows the decoders."""

from __future__ import annotations

import numpy as np
import pytest

from featevo.fixed_dictionary import cluster_permutation_draws, interaction, per_column_p, robust_latents
from featevo.inference import Design
from featevo.stats import cluster_permutation_test


def _probe(rng, n_templates=30, per=4, latents=40):
    """Half the templates target-domain; x = template effect + sentence noise, per latent; model b = model a
    plus a general shift and noise (no domain-specific change)."""
    clusters = np.repeat(np.arange(n_templates), per).astype(str)
    is_target = np.repeat(np.arange(n_templates) < n_templates // 2, per)
    tmpl = rng.normal(0, 1, (n_templates, latents))[np.repeat(np.arange(n_templates), per)]
    x_a = tmpl + rng.normal(0, 0.5, (len(clusters), latents))
    x_b = x_a + 0.3 + rng.normal(0, 0.3, tmpl.shape) + 0.3 * tmpl * rng.normal(0, 1, latents)
    return x_a, x_b, is_target, clusters


def test_the_shared_draws_give_featevo_stats_permutation_p_exactly():
    rng = np.random.default_rng(1)
    x_a, x_b, is_target, clusters = _probe(rng)
    obs, draws = cluster_permutation_draws(x_b - x_a, is_target, clusters, 300, 7)
    ref_obs, ref_p = cluster_permutation_test(x_b - x_a, is_target, clusters, 300, 7)
    assert draws.shape == (300, x_a.shape[1])
    np.testing.assert_array_equal(obs, ref_obs)
    np.testing.assert_array_equal(per_column_p(obs, draws), ref_p)


def test_calibrated_when_nothing_interacts():
    rng = np.random.default_rng(2)
    glob, any_disc = [], []
    for i in range(60):
        x_a, x_b, is_target, clusters = _probe(rng)
        r = interaction(x_b, x_a, Design.of(is_target, clusters, 50, i), 0.95, 199, i, 0.05)
        glob.append(r.glob["p"])
        any_disc.append(r.discovered.any())
        assert r.min_attainable_p == pytest.approx(1 / 200)
    assert np.mean(np.asarray(glob) <= 0.05) <= 0.12  # nominal 0.05; 60 draws
    assert np.mean(any_disc) <= 0.12  # BH: family-wise under the complete null
    assert 0.3 < np.mean(glob) < 0.7  # p roughly uniform


@pytest.mark.parametrize("effect", [1.0, -1.0])
def test_finds_a_planted_interaction_where_it_was_planted(effect):
    rng = np.random.default_rng(3)
    hits, others, glob = 0, 0, []
    planted = np.arange(5)
    for i in range(10):
        x_a, x_b, is_target, clusters = _probe(rng)
        x_b[np.ix_(is_target, planted)] += effect
        r = interaction(x_b, x_a, Design.of(is_target, clusters, 200, i), 0.95, 999, i, 0.05)
        glob.append(r.glob["p"])
        hits += r.discovered[planted].sum()
        others += r.discovered[5:].sum()
        assert np.all(np.sign(r.estimate[planted]) == np.sign(effect))
        assert np.all((r.ci_low[planted] <= r.estimate[planted]) & (r.estimate[planted] <= r.ci_high[planted]))
    assert max(glob) <= 0.01
    assert hits >= 0.9 * 10 * len(planted)
    assert others <= 0.1 * hits


def test_a_latent_holds_across_dictionaries_only_where_its_decoder_match_agrees():
    rng = np.random.default_rng(4)
    W = rng.normal(0, 1, (20, 8))
    perm = rng.permutation(20)
    W2 = W[perm] + rng.normal(0, 0.01, (20, 8))  # the same dictionary, latents reordered
    inv = np.argsort(perm)  # latent j of W is latent inv[j] of W2
    disc = np.zeros(20, bool)
    disc[[2, 5, 7]] = True
    sign = np.where(np.arange(20) % 2 == 0, 1.0, -1.0)
    disc2, sign2 = disc[perm], sign[perm].copy()
    sign2[inv[5]] *= -1  # latent 5 changes sign in the other dictionary
    disc2[inv[7]] = False  # latent 7 is not a discovery there
    r = robust_latents({"a": disc, "b": disc2}, {"a": sign, "b": sign2}, {"a": W, "b": W2}, "a", 0.9)
    assert r["held"] == [2] and r["discoveries"] == 3
    assert r["per_dictionary"]["b"] == {"confirmed": 1, "matched": 3}
    far = robust_latents({"a": disc, "b": disc2}, {"a": sign, "b": sign2}, {"a": W, "b": rng.normal(0, 1, (20, 8))},
                         "a", 0.9)
    assert far["held"] == []  # no decoder close enough: nothing holds
