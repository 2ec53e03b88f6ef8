"""featevo.compare on constructed cases where the right answer is known."""

import copy

import numpy as np
import pytest
import torch

from featevo.matching import CorrelationAccumulator, compare_saes, decoder_cosine, hungarian, match_latents
from featevo.config import CompareConfig


def _sae(d_in, d_sae, k, seed):
    from sae_lens import TopKSAE, TopKSAEConfig

    torch.manual_seed(seed)
    sae = TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=k))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.1)
    return sae.eval()


def _permuted_copy(sae, perm):
    """The same SAE with its latents reordered: new latent j = old latent perm[j]."""
    out = copy.deepcopy(sae)
    with torch.no_grad():
        out.W_enc.copy_(sae.W_enc[:, perm])
        out.b_enc.copy_(sae.b_enc[perm])
        out.W_dec.copy_(sae.W_dec[perm])
    return out


def test_permuted_copy_is_matched_back_exactly():
    sae = _sae(64, 48, 8, seed=0)
    perm = torch.randperm(48, generator=torch.Generator().manual_seed(1))
    other = _permuted_copy(sae, perm)
    x = torch.randn(3000, 64, generator=torch.Generator().manual_seed(2))
    m = compare_saes(sae, other, x, x, CompareConfig(), chunk=700)
    inv = torch.argsort(perm).numpy()  # old latent i sits at new index inv[i]
    assert m.live_a.all() and m.live_b.all()
    assert np.array_equal(m.dec_match_a, inv)
    assert np.array_equal(m.act_match_a, inv)
    assert np.allclose(m.pair_cos, 1.0, atol=1e-6)
    assert np.allclose(m.pair_corr, 1.0, atol=1e-6)
    assert set(m.class_a) == {"shared"} and set(m.class_b) == {"shared"}
    s = m.summary("base", "tuned")
    assert s["shared_fraction"] == 1.0 and s["agreement"] == 1.0


def test_random_sae_does_not_match():
    cc = CompareConfig()
    a, b = _sae(384, 200, 16, seed=0), _sae(384, 200, 16, seed=1)
    cos = decoder_cosine(a.W_dec, b.W_dec)
    assert cos.max() < cc.new_threshold  # chance cosine ~ N(0, 1/sqrt(384))
    x = torch.randn(2000, 384, generator=torch.Generator().manual_seed(3))
    m = compare_saes(a, b, x, x, cc)
    assert set(m.pair_class) == {"unmatched"}
    assert set(m.class_a) <= {"lost", "dead"} and set(m.class_b) <= {"new", "dead"}
    assert (m.class_a == "lost").sum() >= 190
    assert m.summary("a", "b")["matched_fraction"] == 0.0


def test_classes_on_constructed_case():
    cc = CompareConfig(shared_threshold=0.7, new_threshold=0.4, shifted_correlation=0.5)
    n_a, n_b = 6, 7
    cos = np.full((n_a, n_b), 0.05)
    corr = np.full((n_a, n_b), 0.02)
    cos[0, 0], corr[0, 0] = 0.95, 0.9   # shared
    cos[1, 1], corr[1, 1] = 0.90, 0.2   # same direction, firing changed -> shifted
    cos[2, 2], corr[2, 2] = 0.55, 0.8   # direction rotated, same firing -> shifted
    cos[5, 0] = 0.60                    # base 5 is close to tuned 0, which base 0 takes -> split
    cos[1, 5] = 0.50                    # tuned 5 is close to base 1, which tuned 1 takes -> split
    live_a = np.array([1, 1, 1, 1, 0, 1], bool)     # base 4 never fires
    live_b = np.array([1, 1, 1, 1, 0, 1, 1], bool)  # tuned 4 never fires
    cos[4, 4] = 0.99                    # dead latents are never matched, however similar
    m = match_latents(cos, corr, live_a, live_b, cc)
    assert m.class_a.tolist() == ["shared", "shifted", "shifted", "lost", "dead", "split"]
    assert m.class_b.tolist() == ["shared", "shifted", "shifted", "new", "dead", "split", "new"]
    assert m.dec_match_a[:3].tolist() == [0, 1, 2] and m.dec_match_a[4] == -1 and m.dec_match_b[4] == -1
    assert m.pair_class[:3].tolist() == ["shared", "shifted", "shifted"]
    assert set(m.pair_class[3:]) == {"unmatched"}
    reasons = m.summary("base", "tuned")["shifted_reasons"]
    assert reasons == {"direction_only": 1, "activation_only": 1, "both": 0}
    assert m.best_cos_a[4] == 0 and m.best_cos_a[5] == pytest.approx(0.6)


def test_hungarian_beats_greedy():
    sim = np.array([[0.9, 0.8], [0.85, 0.1]])  # greedy would take (0,0) then (1,1): 1.0 < 1.65
    assert hungarian(sim).tolist() == [1, 0]
    assert hungarian(sim, rows=np.array([0])).tolist() == [0, -1]


def test_streaming_correlation_matches_numpy_and_dead_is_zero():
    r = np.random.default_rng(0)
    za = np.maximum(r.normal(size=(1000, 5)), 0)
    zb = np.maximum(za[:, [2, 0, 1]] + 0.3 * r.normal(size=(1000, 3)), 0)
    za[:, 4] = 0  # dead latent
    acc = CorrelationAccumulator([("a", "b")])
    for s in range(0, 1000, 128):
        acc.update({"a": torch.tensor(za[s : s + 128]), "b": torch.tensor(zb[s : s + 128])})
    c = acc.correlation("a", "b")
    ref = np.corrcoef(za[:, :4].T, zb.T)[:4, 4:]
    assert np.allclose(c[:4], ref, atol=1e-9)
    assert np.all(c[4] == 0) and np.isfinite(c).all()
    assert acc.frequency("a")[4] == 0 and acc.n == 1000
