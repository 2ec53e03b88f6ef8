"""SAE training: sae-lens format round trip, one encode path, checkpoint resume, NaN handling."""

import dataclasses

import pytest
import torch

from featevo.activations import ActivationStore
from featevo.config import SAEConfig
from featevo.errors import StageError, TrainingError
from featevo.sae import (
    build_trainer, encode, fused_topk_encode, fused_topk_step, fused_trainer_step, load_sae, reconstruction_metrics,
    saelens_trainer_step, save_final_sae, seed_everything, steps_table, train_sae,
)


def synthetic_store(path, n=3000, d=16, n_feats=12, seed=0, scale=3.0):
    """Rows that are sparse sums of a few ground-truth directions: an SAE can learn them."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.nn.functional.normalize(torch.randn(n_feats, d, generator=g), dim=-1)
    codes = (torch.rand(n, n_feats, generator=g) < 0.2).float() * torch.rand(n, n_feats, generator=g) * scale
    x = codes @ dirs + 0.01 * torch.randn(n, d, generator=g)
    return ActivationStore.from_tensor(path, x, shard_rows=1000, layer=0)


CFG = SAEConfig(num_latents=24, k=4, training_tokens=256 * 60, batch_size=256, lr=1e-2, checkpoint_every=5,
                dead_window_tokens=2048)


@pytest.mark.parametrize("trainer", ["fused", "sae-lens"])
def test_train_save_load_encode(tmp_path, trainer):
    store = synthetic_store(tmp_path / "acts")
    cfg = dataclasses.replace(CFG, trainer=trainer)
    res = train_sae(store, cfg, tmp_path / "w", seed=0, device=torch.device("cpu"), model_name="m", hookpoint="h")
    sae = load_sae(res.sae_dir)  # sae-lens SAE.load_from_disk
    assert type(sae).__name__ == "TopKSAE" and sae.cfg.k == 4 and sae.cfg.d_sae == 24
    x = store.read_all()
    z = encode(sae, x)
    assert ((z > 0).sum(-1) <= 4).all()
    torch.testing.assert_close(z, sae.encode(x))
    m = reconstruction_metrics(sae, store)
    assert m["fvu"] < 0.5, m["fvu"]  # learns the planted structure (random init: FVU > 1)
    rows = steps_table(tmp_path / "w")
    assert len(rows) == 60 and rows[-1]["fvu"] < rows[0]["fvu"]


@pytest.mark.parametrize("trainer", ["fused", "sae-lens"])
def test_resume_gives_identical_weights(tmp_path, trainer):
    store = synthetic_store(tmp_path / "acts")
    dev = torch.device("cpu")
    cfg = dataclasses.replace(CFG, trainer=trainer)
    full = train_sae(store, cfg, tmp_path / "full", 0, dev, "m", "h")
    with pytest.raises(KeyboardInterrupt):  # a crash after step 13 (last checkpoint at 10)
        train_sae(store, cfg, tmp_path / "cut", 0, dev, "m", "h", stop_after_steps=13)
    resumed = train_sae(store, cfg, tmp_path / "cut", 0, dev, "m", "h")
    assert resumed.resumed_from_step == 10
    a, b = load_sae(full.sae_dir).state_dict(), load_sae(resumed.sae_dir).state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert steps_table(tmp_path / "full") == steps_table(tmp_path / "cut")
    assert full.train_metrics["trainer"] == trainer
    other = train_sae(store, cfg, tmp_path / "seed1", 1, dev, "m", "h")
    assert not torch.equal(load_sae(other.sae_dir).W_dec, load_sae(full.sae_dir).W_dec)


def _perturbed_training_sae(d_in, d_sae, k, seed=0):
    seed_everything(seed)
    sae, trainer = build_trainer(d_in, SAEConfig(num_latents=d_sae, k=k, batch_size=64, training_tokens=6400,
                                                 aux_loss_coefficient=1 / 32), torch.device("cpu"))
    with torch.no_grad():  # move off the tied, zero-bias init so every term has a gradient
        for p in sae.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return sae, trainer


@pytest.mark.parametrize("n_dead", [0, 5, 40])  # no aux loss; all dead latents used; top d_in/2 of them
def test_fused_step_matches_sae_lens_autograd(n_dead):
    from sae_lens.saes.sae import TrainStepInput

    d_in, d_sae, k = 32, 64, 6
    sae, _ = _perturbed_training_sae(d_in, d_sae, k)
    x = 2.0 * torch.randn(300, d_in)
    dead = torch.zeros(d_sae, dtype=torch.bool)
    dead[torch.randperm(d_sae)[:n_dead]] = True
    ref = sae.training_forward_pass(TrainStepInput(sae_in=x, dead_neuron_mask=dead, coefficients={},
                                                   n_training_steps=0, is_logging_step=False))
    ref.loss.backward()
    out = fused_topk_step(sae.W_enc.detach(), sae.b_enc.detach(), sae.W_dec.detach(), sae.b_dec.detach(), x, k,
                          dead, sae.cfg.aux_loss_coefficient)
    torch.testing.assert_close(out.mse_loss, ref.losses["mse_loss"], rtol=1e-5, atol=0)
    torch.testing.assert_close(out.aux_loss, ref.losses["auxiliary_reconstruction_loss"], rtol=1e-5, atol=1e-7)
    assert (out.aux_loss > 0) == (n_dead > 0)
    for name, g in out.grads.items():
        torch.testing.assert_close(g, getattr(sae, name).grad, rtol=1e-4, atol=1e-6, msg=name)
    dense = torch.zeros(300, d_sae).scatter_(1, out.top_indices, out.top_acts)
    torch.testing.assert_close(dense, ref.feature_acts)
    torch.testing.assert_close(out.fire_counts, (ref.feature_acts > 0).float().sum(0))


def test_fused_and_sae_lens_trainer_steps_agree():
    """Same init, same batches: both steps give the same losses, trackers and (nearly) the same weights."""
    sae_f, tr_f = _perturbed_training_sae(32, 64, 6)
    sae_l, tr_l = _perturbed_training_sae(32, 64, 6)
    for tr in (tr_f, tr_l):
        tr.activation_scaler.scaling_factor = 0.7
        tr.n_forward_passes_since_fired[:10] = 10_000  # some dead latents: the aux loss is on
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        x = torch.randn(64, 32, generator=g)
        a, b = fused_trainer_step(tr_f, x), saelens_trainer_step(tr_l, x)
        for fa, fb in zip(a, b):
            assert fa == pytest.approx(fb, rel=1e-4, abs=1e-6)
        tr_f.n_training_steps += 1
        tr_l.n_training_steps += 1
    assert tr_f.n_training_samples == tr_l.n_training_samples == 5 * 64
    assert tr_f.n_frac_active_samples == tr_l.n_frac_active_samples
    torch.testing.assert_close(tr_f.act_freq_scores, tr_l.act_freq_scores)
    torch.testing.assert_close(tr_f.n_forward_passes_since_fired, tr_l.n_forward_passes_since_fired)
    for name, p in sae_l.named_parameters():
        torch.testing.assert_close(getattr(sae_f, name), p, rtol=1e-3, atol=1e-5, msg=name)


def test_fused_latents_equal_sae_lens_encode_of_the_saved_sae(tmp_path):
    """The latents the fused step trains with are what stages 02-05 get from the saved SAE."""
    store = synthetic_store(tmp_path / "acts")
    cfg = dataclasses.replace(CFG, trainer="fused")
    seed_everything(0)
    sae, trainer = build_trainer(store.d_in, cfg, torch.device("cpu"))
    scaling = 1.7
    trainer.activation_scaler.scaling_factor = scaling
    batches = store.batches(cfg.batch_size, seed=0)
    for _ in range(20):
        fused_trainer_step(trainer, next(batches))
        trainer.n_training_steps += 1
    x = store.read_all()
    acts, idx, _, _ = fused_topk_encode(sae.W_enc.detach(), sae.b_enc.detach(), sae.W_dec.detach(),
                                        sae.b_dec.detach(), x * scaling, cfg.k)
    trained = torch.zeros(x.shape[0], sae.cfg.d_sae).scatter_(1, idx, acts)
    saved = load_sae(save_final_sae(sae, trainer, scaling, tmp_path / "sae"))
    z = encode(saved, x)
    assert ((z > 0) == (trained > 0)).float().mean() > 0.999  # same support (ties aside)
    # the saved SAE takes raw rows; folding the scaling factor divides its latents by it (sae-lens semantics)
    torch.testing.assert_close(z * scaling, trained, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("trainer", ["fused", "sae-lens"])
def test_nan_stops_and_keeps_checkpoint(tmp_path, trainer):
    store = synthetic_store(tmp_path / "acts")
    bad = SAEConfig(**{**CFG.__dict__, "lr": float("inf"), "trainer": trainer})
    with pytest.raises(TrainingError, match="loss became nan.*lower sae.lr"):
        train_sae(store, bad, tmp_path / "w", 0, torch.device("cpu"), "m", "h")


def test_corrupted_sae_file_is_a_clear_error(tmp_path):
    store = synthetic_store(tmp_path / "acts")
    res = train_sae(store, CFG, tmp_path / "w", 0, torch.device("cpu"), "m", "h")
    f = res.sae_dir / "sae_weights.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(StageError, match="corrupted or truncated safetensors"):
        load_sae(res.sae_dir)
