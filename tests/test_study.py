"""The study's procedure (featevo/study.py) on tiny hand-computed cases, its chance overlap against scipy and a
simulation, and the ladder of corrections (featevo/study_ladder.py) on simulated data with a known answer."""

import numpy as np
import pytest
import torch
from scipy.stats import hypergeom

from featevo.stats import cluster_bootstrap_weights
from featevo.study import (
    BASE_FIN, CONSISTENT, GENERAL, TUNED_FIN, activation_counts, chance_overlap, count_delta_ranking, domain_means,
    finetuning_score, hidden_state_index, index_overlap, matched_overlap, mean_pool, new_fraction, specialisation,
    study_block, study_checks, study_encode, top_n, type_latents,
)
from featevo.study_ladder import RUNGS, VARIANTS, change_summary, emerging_table, ladder_rows, latent_table, top_table


def test_index_overlap_and_the_headline_by_hand():
    shared = index_overlap([3, 1, 7], [7, 2, 3])
    assert shared == [3, 7]
    assert new_fraction(shared, 3) == pytest.approx(1 / 3)
    assert index_overlap([0, 1], [2, 3]) == []


def test_matched_overlap_follows_the_partners_not_the_index():
    partner = {3: 5, 1: 2, 7: 7}
    assert matched_overlap([3, 1], [5, 9, 2], partner) == [2, 5]
    assert matched_overlap([3, 1], [3, 1], partner) == []  # same indices, but they are not each other's partners
    assert matched_overlap([4], [4], partner) == []        # no partner: never shared


def test_the_study_specialisation_formula_makes_its_change_the_financial_change():
    fb, gb, ft, gt = np.array([1.0, 2.0]), np.array([0.5, 0.5]), np.array([3.0, 1.0]), np.array([2.0, 2.0])
    sb, st = specialisation(fb, gb, ft, gt, study=True)
    np.testing.assert_allclose(sb, [0.5, 1.5])
    np.testing.assert_allclose(st, [2.5, 0.5])            # fin_T - gen_B
    np.testing.assert_allclose(st - sb, ft - fb)          # exactly the financial change
    sb2, st2 = specialisation(fb, gb, ft, gt, study=False)
    np.testing.assert_allclose(st2, [1.0, -1.0])          # fin_T - gen_T
    np.testing.assert_allclose(st2 - sb2, [0.5, -2.5])


def test_the_study_reads_one_block_below_the_sae(tiny_model_dir):
    """hidden_states[layer] (what the study reads) is block layer-1's output; the SAE's is hidden_states[layer+1]."""
    from featevo.activations import layer_output, tokenize_docs
    from featevo.config import ModelConfig
    from featevo.data import Doc
    from featevo.models import load_model, load_tokenizer

    assert study_block(6) == 5 and hidden_state_index(study_block(6)) == 6  # BERT: SAE on block 6 = hidden_states[7]
    with pytest.raises(ValueError, match="layer >= 1"):
        study_block(0)
    mcfg = ModelConfig(name=str(tiny_model_dir))
    model, tok = load_model(mcfg), load_tokenizer(mcfg)
    t = tokenize_docs(tok, [Doc("Shares rose after earnings.", "markets", "target")], 16, False)
    ids, attn = t["input_ids"].long(), t["attention_mask"].long()
    with torch.no_grad():
        hs = model(input_ids=ids, attention_mask=attn, output_hidden_states=True).hidden_states
    layer = 1
    studied = layer_output(model, ids, attn, study_block(layer))
    torch.testing.assert_close(studied, hs[layer])
    assert not torch.allclose(studied, hs[layer + 1])
    torch.testing.assert_close(layer_output(model, ids, attn, layer), hs[layer + 1])


def test_study_encode_is_relu_of_the_affine_map_without_b_dec_or_topk():
    W = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, 0.5]])   # [d_in=2, d_sae=3], sae-lens layout
    b = np.array([0.0, -1.0, 0.25])
    x = np.array([[1.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(study_encode(W, b, x), [[1.0, 0.0, 1.25], [0.0, 0.0, 0.0]])
    dense = study_encode(np.eye(4), np.zeros(4), np.array([[1.0, 2.0, 3.0, 4.0]]))
    assert (dense > 0).sum() == 4  # no TopK: every positive latent is kept
    with pytest.raises(ValueError):
        study_encode(W, b, np.ones((1, 3)))


def test_mean_pool_with_and_without_special_tokens():
    z = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 5.0]])
    row_doc = np.array([0, 0, 1])
    np.testing.assert_allclose(mean_pool(z, row_doc, 3), [[2.0, 1.0], [5.0, 5.0], [0.0, 0.0]])
    np.testing.assert_allclose(mean_pool(z, row_doc, 2, keep=np.array([True, False, True])), [[1.0, 0.0], [5.0, 5.0]])


def test_finetuning_score_and_domain_means_by_hand():
    pooled = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 0.0]])
    np.testing.assert_allclose(finetuning_score(pooled[:2]), [0.5 * 1.0, 1.0 * 2.0])
    m = domain_means(pooled, np.array([True, True, False]))
    np.testing.assert_allclose(m["fin"], [1.0, 2.0])
    np.testing.assert_allclose(m["gen"], [4.0, 0.0])
    np.testing.assert_allclose(m["gen_score"], [4.0, 0.0])


def test_types_ranking_and_counts_by_hand():
    types = type_latents([0, 1], [1, 2], 4)
    assert list(types) == [BASE_FIN, CONSISTENT, TUNED_FIN, GENERAL]
    assert list(top_n(np.array([0.1, 0.5, 0.5, 0.2]), 3)) == [1, 2, 3]  # ties: lower index first
    z = np.array([[0.0, 0.2, 1.0], [0.5, 0.0, 1.0]])
    np.testing.assert_array_equal(activation_counts(z, 0.1), [1, 1, 2])
    rank = count_delta_ranking(np.array([5, 0, 3]), np.array([1, 4, 9]), 2)
    assert [(r["latent"], r["delta"]) for r in rank] == [(2, 6), (1, 4)]


def test_chance_overlap_matches_scipy_and_a_simulation():
    c = chance_overlap(200, 20, 20, observed=5)
    assert c["expected_overlap"] == pytest.approx(2.0)
    assert c["expected_new_fraction"] == pytest.approx(0.9)
    assert c["p_at_least"] == pytest.approx(hypergeom(200, 20, 20).sf(4))
    assert c["p_at_least"] == pytest.approx(0.035, abs=0.002)  # the number STUDY.md quotes
    assert c["p_at_most"] == pytest.approx(hypergeom(200, 20, 20).cdf(5))
    rng = np.random.default_rng(0)
    sims = np.array([len(index_overlap(rng.permutation(200)[:20], rng.permutation(200)[:20])) for _ in range(20000)])
    assert sims.mean() == pytest.approx(2.0, abs=0.05)
    assert (sims >= 5).mean() == pytest.approx(c["p_at_least"], abs=0.006)
    with pytest.raises(ValueError):
        chance_overlap(10, 11, 2)


def test_checks_by_hand():
    fin_c, gen_c = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0])
    c = study_checks(fin_c, gen_c, np.array([1.0, 1.0, 1.0]), np.array([2.0, 0.0, 0.5]), [0, 1, 2])
    assert c["corr_fin_gen_change"] == pytest.approx(1.0)
    assert c["top_more_on_general"] == 1


def test_latent_table_spec_change_is_the_financial_change_by_the_study_formula():
    rng = np.random.default_rng(1)
    pb, pt = rng.random((30, 12)), rng.random((30, 12))
    is_t = np.arange(30) < 15
    rows = latent_table(pb, pt, is_t, 4)
    np.testing.assert_allclose([r["spec_change"] for r in rows], [r["change"] for r in rows])
    own = latent_table(pb, pt, is_t, 4, study_formula=False)
    np.testing.assert_allclose([r["spec_change"] for r in own], [r["change"] - r["gen_change"] for r in own])
    assert sum(r["type"] in (TUNED_FIN, CONSISTENT) for r in rows) == 4
    top = top_table(rows, 4)
    assert [r["rank"] for r in top] == [1, 2, 3, 4] and top[0]["change"] == max(r["change"] for r in rows)
    assert all(r["type"] == TUNED_FIN for r in emerging_table(rows, 10))
    s = change_summary(rows)
    assert s["n_up"] + s["n_down"] == 12 and s["max_change"] == top[0]["change"]


def _relabelled(seed: int, d: int = 40, n_docs: int = 60):
    """Base activations with a clear top set at indices 0..4, and two SAEs holding exactly the same features under
    other indices (a relabelling): what two SAEs trained independently on one model look like."""
    rng = np.random.default_rng(seed)
    is_t = np.arange(n_docs) % 2 == 0
    base = rng.random((n_docs, d)) * 0.1
    base[np.ix_(is_t, np.arange(5))] += np.linspace(2.0, 1.0, 5)   # strongly financial latents 0..4
    perm = (np.arange(d) + 20) % d                                 # tuned latent j = base latent perm[j]
    perm2 = (np.arange(d) + 10) % d
    tuned, seed2 = base[:, perm], base[:, perm2]
    partner = {int(perm[j]): j for j in range(d)}
    partner2 = {int(perm2[j]): j for j in range(d)}
    return is_t, base, tuned, seed2, partner, partner2


def test_the_ladder_on_a_relabelling_has_a_known_answer():
    """Same features under other indices: index pairing calls all 5 of the top set "new" (the study's headline,
    100%), matching finds them all (0%), and the seed pair (another relabelling) says the same: 0 beyond the seed
    baseline, with an interval of [0, 0] over templates."""
    is_t, base, tuned, seed2, partner, partner2 = _relabelled(0)
    pooled = {}
    for v in VARIANTS:
        pooled.update({(v, "base"): base, (v, "tuned"): tuned, (v, "base_seed1"): seed2})
    pairs = {"tuned": ("base", "tuned"), "seed": ("base", "base_seed1")}
    clusters = [f"t{i // 2}" for i in range(len(is_t))]
    w = cluster_bootstrap_weights(clusters, is_t, 30, 0)
    rows = ladder_rows(pooled, is_t, pairs, {"tuned": partner, "seed": partner2}, 5, boot={True: w[True],
                                                                                           False: w[False]})
    assert len(rows) == len(RUNGS)
    assert rows[0]["tuned_overlap"] == 0 and rows[0]["tuned_new"] == 1.0
    assert rows[0]["chance_new"] == pytest.approx(1 - 5 * 5 / 40 / 5)
    assert rows[0]["seed_new"] == 1.0 and rows[0]["control_new"] is None
    assert rows[5]["tuned_overlap"] == 5 and rows[5]["tuned_new"] == 0.0 and rows[5]["seed_new"] == 0.0
    assert rows[5]["p_chance_at_most"] == pytest.approx(1.0)
    assert rows[6]["headline"] == 0.0
    assert rows[7]["ci_low"] == 0.0 and rows[7]["ci_high"] == 0.0
    assert rows[4]["tuned_new"] == 1.0  # own specialisation alone does not undo index pairing


def test_the_ladder_says_so_when_matching_is_missing():
    is_t, base, tuned, seed2, partner, _ = _relabelled(1)
    pooled = {(v, s): a for v in VARIANTS for s, a in (("base", base), ("tuned", tuned), ("base_seed1", seed2))}
    rows = ladder_rows(pooled, is_t, {"tuned": ("base", "tuned"), "seed": ("base", "base_seed1")},
                       {"tuned": partner, "seed": None}, 5)
    assert rows[5]["tuned_new"] == 0.0 and rows[5]["seed_new"] is None and rows[6]["headline"] is None
