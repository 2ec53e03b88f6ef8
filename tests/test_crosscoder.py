"""BatchTopK crosscoder (featevo/crosscoder.py): the training step against a plain-torch reference, the
sae-lens on-disk round trip, a synthetic case with a known answer, and Latent Scaling."""

import numpy as np
import pytest
import torch

from featevo import crosscoder as cc
from featevo.activations import ActivationStore


def _reference_step(W_enc, b_enc, W_dec, b_dec, x, k, dead, coef):
    """Independent plain-torch crosscoder step: BatchTopK on pre-activations times the sum of the two decoder
    half norms, decoding with the unnormalised decoder, plus the TopK auxiliary loss of the dead latents."""
    d = x.shape[1] // 2
    c = torch.linalg.vector_norm(W_dec[:, :d], dim=1) + torch.linalg.vector_norm(W_dec[:, d:], dim=1)
    pre = (x - b_dec) @ W_enc + b_enc
    score = torch.clamp(pre * c, min=0)
    n_keep = int(k * x.shape[0])
    flat = score.reshape(-1)
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[torch.argsort(flat, descending=True)[:n_keep]] = True
    acts = torch.where(keep.reshape(score.shape), score, torch.zeros_like(score))
    recon = torch.einsum("bn,nd->bd", acts / c, W_dec) + b_dec
    mse = ((recon - x) ** 2).sum(1).mean()
    aux = torch.zeros(())
    n_dead = int(dead.sum())
    if n_dead:
        k_aux = x.shape[1] // 2
        scaled = pre * c
        masked = torch.where(dead[None, :], scaled, torch.full_like(scaled, -float("inf")))
        idx = masked.topk(min(k_aux, n_dead), dim=1).indices
        aux_acts = torch.zeros_like(scaled).scatter(1, idx, scaled.gather(1, idx))
        resid = (x - recon).detach()
        aux = coef * min(n_dead / k_aux, 1.0) * ((torch.einsum("bn,nd->bd", aux_acts / c, W_dec) - resid) ** 2
                                                  ).sum(1).mean()
    return acts, mse, aux


@pytest.mark.parametrize("n_dead", [0, 2])
def test_crosscoder_step_matches_reference(n_dead):
    from sae_lens.saes.sae import TrainStepInput

    torch.manual_seed(3)
    d, n, B, k = 3, 5, 6, 2.0
    sae = cc.build_crosscoder(d, n, k, 0.25, "cpu", {"model_name": "t"})
    with torch.no_grad():
        for p in (sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec):
            p.copy_(torch.randn_like(p))
        sae.W_dec[0, :d] *= 0.1  # halves of unequal norm
    x = torch.randn(B, 2 * d)
    dead = torch.zeros(n, dtype=torch.bool)
    dead[:n_dead] = True
    out = sae.training_forward_pass(TrainStepInput(sae_in=x, coefficients={}, dead_neuron_mask=dead,
                                                   n_training_steps=0, is_logging_step=False))
    params = [p.detach().clone().requires_grad_() for p in (sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec)]
    acts, mse, aux = _reference_step(*params, x, k, dead, 0.25)
    assert int((out.feature_acts > 0).sum()) == int(k * B) == int((acts > 0).sum())  # BatchTopK: k per row on average
    torch.testing.assert_close(out.feature_acts, acts)
    torch.testing.assert_close(out.losses["mse_loss"], mse)
    torch.testing.assert_close(out.losses["auxiliary_reconstruction_loss"], aux)
    out.loss.backward()
    (mse + aux).backward()
    for mine, ref in zip((sae.W_enc, sae.b_enc, sae.W_dec, sae.b_dec), params):
        torch.testing.assert_close(mine.grad, ref.grad, rtol=1e-4, atol=1e-6)


def test_selection_weights_latents_by_the_sum_of_their_decoder_half_norms():
    """A latent writing to both models (halves 0.6, 0.6: sum 1.2, Euclidean 0.85) beats a one-model latent
    (halves 1, 0) of slightly larger pre-activation under the crosscoder's sum, not under sae-lens's norm."""
    sae = cc.build_crosscoder(2, 2, 0.5, 0.0, "cpu", {"model_name": "t"})
    with torch.no_grad():
        sae.W_dec.copy_(torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.6 / 2**0.5, 0.6 / 2**0.5, 0.6 / 2**0.5, 0.6 / 2**0.5]]))
        sae.W_enc.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.9], [0.0, 0.0], [0.0, 0.0]]))
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    x = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])  # B=2, k=0.5: one activation kept
    acts, _ = sae.encode_with_hidden_pre(x)
    assert acts[0, 1] > 0 and acts[0, 0] == 0
    euclid = torch.tensor([1.0, 0.6 * 2**0.5]) * torch.tensor([1.0, 0.9])
    assert euclid.argmax() == 0  # sae-lens's own scaling would have kept latent 0


def test_saved_crosscoder_is_sae_lens_format_and_encodes_raw_activations(tmp_path):
    from sae_lens import SAE

    torch.manual_seed(0)
    d = 4
    sae = cc.build_crosscoder(d, 6, 2.0, 0.0, "cpu", {"model_name": "t", "crosscoder_models": ["a", "b"]})
    with torch.no_grad():
        sae.W_dec.mul_(torch.rand(6, 1) * 3)
    scales = (2.0, 0.5)
    raw = torch.randn(40, 2 * d) * 3
    scaled = torch.cat([raw[:, :d] * scales[0], raw[:, d:] * scales[1]], 1)
    assert cc.calibrate_threshold(sae, [scaled]) > 0
    with torch.no_grad():
        h_all = sae.encode_with_hidden_pre(scaled)[1].flatten().sort().values
    theta = float(h_all[-60:-58].mean())  # between two activations: no value sits on the threshold
    sae.topk_threshold.fill_(theta)
    cc.save_crosscoder(sae, scales, tmp_path / "cc")
    loaded = SAE.load_from_disk(str(tmp_path / "cc"))
    assert type(loaded).__name__ == "JumpReLUSAE" and loaded.cfg.metadata.crosscoder_models == ["a", "b"]
    with torch.no_grad():
        _, h = sae.encode_with_hidden_pre(scaled)
        want = torch.where(h > theta, h, torch.zeros_like(h))
        got = loaded.encode(raw)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        recon_scaled = sae.decode(want)
        recon = torch.cat([recon_scaled[:, :d] / scales[0], recon_scaled[:, d:] / scales[1]], 1)
        torch.testing.assert_close(loaded.decode(got), recon, rtol=1e-4, atol=1e-5)
    d_a, d_b, _, _ = cc.decoder_halves(loaded)  # back in the scaled units: rho as in training
    W = sae.W_dec.detach().double()
    torch.testing.assert_close(torch.as_tensor(cc.relative_norm(d_a, d_b)),
                               (W[:, d:].norm(dim=1) / (W[:, :d].norm(dim=1) + W[:, d:].norm(dim=1))))


def test_synthetic_model_b_adds_one_atom(tmp_path):
    """Model b's activations are model a's plus one more dictionary atom: the crosscoder gives that atom a
    b-only latent (rho near 1, confirmed by Latent Scaling) and every shared atom a latent with rho near 0.5."""
    torch.manual_seed(0)
    d, n_atoms, N = 16, 12, 8000
    D = torch.nn.functional.normalize(torch.randn(n_atoms, d), dim=1)
    coef = (torch.rand(N, n_atoms) < 2 / n_atoms).float() * (1 + torch.rand(N, n_atoms))
    xa, xb = coef[:, :-1] @ D[:-1], coef @ D
    sa = ActivationStore.from_tensor(tmp_path / "a", xa, 3000)
    sb = ActivationStore.from_tensor(tmp_path / "b", xb, 3000)
    rec = cc.train_crosscoder(sa, sb, ("a", "b"), 16, 2, 300 * 512, 512, 1e-2, 1 / 32, 100_000, 0, tmp_path / "w",
                              "cpu")
    assert rec["steps"] == 300
    from featevo.sae import load_sae

    sae = load_sae(tmp_path / "w" / "sae")
    t = cc.latent_table(sae, xa[:4000], xb[:4000], 0.1, 0.5)
    _, d_b, _, _ = cc.decoder_halves(sae)
    match = (torch.nn.functional.normalize(d_b.float(), dim=1) @ D.T).argmax(0)  # best latent per atom
    new = match[-1].item()
    assert t["rho"][new] > 0.9 and t["class"][new] == cc.B_ONLY and t["confirmed"][new]
    shared = match[:-1].numpy()
    assert np.all(np.abs(t["rho"][shared] - 0.5) < 0.1) and not t["confirmed"][shared].any()
    assert (t["class"] == cc.B_ONLY).sum() == 1 and t["fvu"] < 0.05


def test_latent_scaling_closed_form_on_a_constructed_case():
    """Latent 0 is b-only by its decoder, but its direction is just as present in model a's activations (a
    decoupled latent): nu_error near 1. Latent 1's direction is absent from a: nu near 0. The betas equal a
    direct least-squares fit."""
    rng = np.random.default_rng(0)
    N, d = 500, 6
    u, v, w = np.eye(d)[0], np.eye(d)[1], np.eye(d)[2]
    F = np.zeros((N, 3))
    F[:, 0] = rng.random(N) * (rng.random(N) < 0.3)
    F[:, 1] = rng.random(N) * (rng.random(N) < 0.3)
    F[:, 2] = rng.random(N)
    d_a = np.stack([0.0 * u, 0.0 * v, w])
    d_b = np.stack([u, v, w])
    X_a = F[:, [2]] * w + F[:, [0]] * u  # a carries latent 0's direction, not latent 1's
    X_b = F @ d_b
    T = [torch.as_tensor(a) for a in (F, X_a, X_b, d_a, d_b, np.zeros(d), np.zeros(d))]
    out = cc.latent_scaling(*T, probe_b=np.array([True, True, False]))
    assert abs(out["nu_error"][0] - 1.0) < 1e-9 and abs(out["nu_error"][1]) < 1e-9
    assert abs(out["nu_recon"][1]) < 1e-9  # a's reconstruction has nothing along v
    # direct least squares of latent 0's error target for model a: x_a - (recon_a - f_0 d_a,0)
    Y = X_a - (F @ d_a - F[:, [0]] * d_a[0])
    design = (F[:, [0]] * u).ravel()
    beta = np.linalg.lstsq(design[:, None], Y.ravel(), rcond=None)[0][0]
    assert abs(out["beta_error_a"][0] - beta) < 1e-9
