"""SAE training: sae-lens format round trip, one encode path, checkpoint resume, NaN handling."""

import pytest
import torch

from featevo.activations import ActivationStore, safe_save
from featevo.config import SAEConfig
from featevo.errors import StageError, TrainingError
from featevo.io import atomic_write_json
from featevo.sae import encode, load_sae, reconstruction_metrics, steps_table, train_sae


def synthetic_store(path, n=3000, d=16, n_feats=12, seed=0, scale=3.0):
    """Rows that are sparse sums of a few ground-truth directions: an SAE can learn them."""
    g = torch.Generator().manual_seed(seed)
    dirs = torch.nn.functional.normalize(torch.randn(n_feats, d, generator=g), dim=-1)
    codes = (torch.rand(n, n_feats, generator=g) < 0.2).float() * torch.rand(n, n_feats, generator=g) * scale
    x = codes @ dirs + 0.01 * torch.randn(n, d, generator=g)
    path.mkdir(parents=True)
    shards = []
    for i, s in enumerate(range(0, n, 1000)):
        safe_save({"acts": x[s : s + 1000].clone()}, path / f"shard_{i:05d}.safetensors")
        shards.append({"file": f"shard_{i:05d}.safetensors", "rows": min(1000, n - s)})
    atomic_write_json(path / "index.json", {"d_in": d, "n_rows": n, "shards": shards, "layer": 0})
    return ActivationStore(path)


CFG = SAEConfig(num_latents=24, k=4, training_tokens=256 * 60, batch_size=256, lr=1e-2, checkpoint_every=5,
                dead_window_tokens=2048)


def test_train_save_load_encode(tmp_path):
    store = synthetic_store(tmp_path / "acts")
    res = train_sae(store, CFG, tmp_path / "w", seed=0, device=torch.device("cpu"), model_name="m", hookpoint="h")
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


def test_resume_gives_identical_weights(tmp_path):
    store = synthetic_store(tmp_path / "acts")
    dev = torch.device("cpu")
    full = train_sae(store, CFG, tmp_path / "full", 0, dev, "m", "h")
    with pytest.raises(KeyboardInterrupt):  # a crash after step 13 (last checkpoint at 10)
        train_sae(store, CFG, tmp_path / "cut", 0, dev, "m", "h", stop_after_steps=13)
    resumed = train_sae(store, CFG, tmp_path / "cut", 0, dev, "m", "h")
    assert resumed.resumed_from_step == 10
    a, b = load_sae(full.sae_dir).state_dict(), load_sae(resumed.sae_dir).state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert steps_table(tmp_path / "full") == steps_table(tmp_path / "cut")
    other = train_sae(store, CFG, tmp_path / "seed1", 1, dev, "m", "h")
    assert not torch.equal(load_sae(other.sae_dir).W_dec, load_sae(full.sae_dir).W_dec)


def test_nan_stops_and_keeps_checkpoint(tmp_path):
    store = synthetic_store(tmp_path / "acts")
    bad = SAEConfig(**{**CFG.__dict__, "lr": float("inf")})
    with pytest.raises(TrainingError, match="loss became nan.*lower sae.lr"):
        train_sae(store, bad, tmp_path / "w", 0, torch.device("cpu"), "m", "h")


def test_corrupted_sae_file_is_a_clear_error(tmp_path):
    store = synthetic_store(tmp_path / "acts")
    res = train_sae(store, CFG, tmp_path / "w", 0, torch.device("cpu"), "m", "h")
    f = res.sae_dir / "sae_weights.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    with pytest.raises(StageError, match="corrupted or truncated safetensors"):
        load_sae(res.sae_dir)
