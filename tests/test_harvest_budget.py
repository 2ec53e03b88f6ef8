"""Stage 01's disk preflight, the harvest's token budget (``harvest.max_tokens``) and activation shards stored in
bfloat16 / float16 (``harvest.store_dtype``), read back as float32."""

import json

import pytest
import torch

from conftest import tiny_config_dict
from featevo.activations import ActivationStore, harvest, tokenize_windows
from featevo.config import ModelConfig, SAEConfig, config_from_dict
from featevo.data import load_corpus
from featevo.errors import ConfigError
from featevo.harvest_budget import GB, cap_tokens, disk_need, sae_bytes, split_caps
from featevo.layout import TRAIN, acts_dir, stage_dir
from featevo.models import load_model, load_tokenizer
from featevo.sae import load_sae, reconstruction_metrics, train_sae


def _twinless_cfg(tmp_path, tiny_model_dir, tiny_data, **harvest):
    d = tiny_config_dict(tmp_path / "outputs", tiny_model_dir, tiny_data, twin={"enabled": False},
                         tuned_model={"name": str(tiny_model_dir)}, harvest=harvest)
    return config_from_dict(d)


def test_disk_need_is_tokens_times_width_times_bytes_times_models():
    need = disk_need(1_000_000, 768, 2, None, [])
    assert need["activations"] == 1_000_000 * 768 * 4 * 2 and need["saes"] == 0
    assert disk_need(1_000_000, 768, 2, "bfloat16", [])["activations"] * 2 == need["activations"]
    assert abs(need["activations"] / 2 / GB - 3.072) < 1e-9  # the README's 3.1 GB per million tokens per model
    assert disk_need(10, 8, 1, "float16", [16, 16])["saes"] == 2 * sae_bytes(16, 8) == 2 * 4 * 4 * (2 * 128 + 24)


def test_run_over_the_free_space_is_refused_before_any_file(tmp_path, tiny_model_dir, tiny_data, monkeypatch):
    import featevo.harvest_budget as hb
    from featevo.train import run

    cfg = _twinless_cfg(tmp_path, tiny_model_dir, tiny_data)
    seen = []

    class Usage:
        free = 123_000

    def fake_usage(path):
        seen.append(path)
        return Usage()

    monkeypatch.setattr(hb.shutil, "disk_usage", fake_usage)
    with pytest.raises(ConfigError) as e:
        run(cfg)
    msg = str(e.value)
    assert "\n" not in msg and "harvest: stage 01 needs" in msg and "0.00 GB free" in msg and "x d_in 32 x 4" in msg
    assert seen, "the free space was not asked"
    assert not (tmp_path / "outputs").exists() or not any((tmp_path / "outputs").rglob("*.safetensors"))
    assert not stage_dir(cfg, TRAIN).exists()
    # the need it names is the corpus's kept tokens after windowing: at bfloat16 the activation part halves
    kept = int(msg.split(" kept tokens")[0].split("(")[-1].replace(",", ""))
    train, evald = load_corpus(cfg.data, cfg.seed)
    tok = load_tokenizer(cfg.base_model)
    assert kept == sum(int(tokenize_windows(tok, d, 24, True)[0]["keep_mask"].sum()) for d in (train, evald))


def test_split_caps_and_cap_tokens_keep_the_accounting_balanced(minilm_dir, tiny_data):
    tok = load_tokenizer(ModelConfig(name=str(minilm_dir)))
    train, _ = load_corpus(config_from_dict(tiny_config_dict("o", minilm_dir, tiny_data)).data, 0)
    tokens, st = tokenize_windows(tok, train, 12, True)
    kept = st["tokens_kept"]
    assert split_caps({"train": kept, "eval": 100}, None) == {"train": None, "eval": None}
    caps = split_caps({"train": kept, "eval": kept // 9}, kept // 2)
    assert 0 < caps["train"] < kept and caps["train"] + caps["eval"] <= kept // 2
    cap = 777
    t2, s2, d2 = cap_tokens(tokens, st, train, cap)
    assert int(t2["keep_mask"].sum()) == s2["tokens_kept"] == cap
    assert s2["tokens_total"] == s2["tokens_kept"] + sum(s2["dropped"].values())
    assert s2["dropped"]["max_tokens"] == kept - cap
    assert len(d2) == int(t2["window_doc"].max()) + 1 < len(train) and s2["documents_cut"] == len(train) - len(d2)
    # the kept rows are the first `cap` rows of the uncut split, in the same order
    assert torch.equal(t2["input_ids"][t2["keep_mask"]], tokens["input_ids"][tokens["keep_mask"]][:cap])
    assert cap_tokens(tokens, st, train, kept + 5)[0] is tokens


def test_harvest_respects_max_tokens(tmp_path, tiny_model_dir, tiny_data):
    from featevo.train import harvest_models, write_tokens

    cfg = _twinless_cfg(tmp_path, tiny_model_dir, tiny_data, max_tokens=500)
    out = tmp_path / "s1"
    tokens, stats = write_tokens(cfg, out)
    harvest_models(cfg, out, tokens, torch.device("cpu"))
    rows = {s: ActivationStore(acts_dir(out, s, "tuned")).n_rows for s in ("train", "eval")}
    assert sum(rows.values()) <= 500 and rows["train"] > 350 and rows["eval"] > 0
    assert {s: stats[s]["tokens_kept"] for s in rows} == rows
    assert all(stats[s]["dropped"]["max_tokens"] > 0 for s in rows)
    docs = (out / "train" / "docs.jsonl").read_text().splitlines()
    assert len(docs) == stats["train"]["documents"] and json.loads(docs[0])["text"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_shards_round_trip_as_float32(tmp_path, dtype):
    x = torch.randn(300, 16) * 3
    st = ActivationStore.from_tensor(tmp_path / dtype, x, shard_rows=128, store_dtype=dtype)
    full = ActivationStore.from_tensor(tmp_path / "f32", x, shard_rows=128)
    back = st.read_all()
    assert back.dtype == torch.float32 and torch.equal(back, x.to(getattr(torch, dtype)).float())
    assert not torch.equal(back, x) and torch.allclose(back, x, rtol=1e-2, atol=1e-2)
    size = sum((st.dir / s["file"]).stat().st_size for s in st.shards)
    size32 = sum((full.dir / s["file"]).stat().st_size for s in full.shards)
    assert size < 0.55 * size32 and st.index["dtype"] == dtype
    assert next(st.batches(64, seed=0)).dtype == torch.float32


def test_sae_on_bfloat16_shards_matches_float32(tmp_path, minilm_dir, tiny_data):
    """One TopK SAE per storage dtype on MiniLM's layer-3 activations of the tiny corpus, same seed: the
    held-out FVU (on float32 eval rows) moves by less than the gap between two float32 seeds (plus 0.005)."""
    mcfg = ModelConfig(name=str(minilm_dir))
    model, tok = load_model(mcfg), load_tokenizer(mcfg)
    train, evald = load_corpus(config_from_dict(tiny_config_dict("o", minilm_dir, tiny_data)).data, 0)
    cpu = torch.device("cpu")
    for name, docs in (("train", train), ("eval", evald)):
        t, _ = tokenize_windows(tok, docs, 32, True)
        for dt in ("float32", "bfloat16"):
            harvest(model, t, 3, tmp_path / dt / name, 32, 2000, cpu, "m", store_dtype=dt)
    sae_cfg = SAEConfig(num_latents=64, k=8, training_tokens=60_000, batch_size=512, lr=3e-3, checkpoint_every=1000,
                        dead_window_tokens=5000)
    fvu = {}
    for dt, seed in (("float32", 0), ("float32", 1), ("bfloat16", 0)):
        work = tmp_path / f"sae_{dt}_{seed}"
        train_sae(ActivationStore(tmp_path / dt / "train"), sae_cfg, work, seed, cpu, model_name="m",
                  hookpoint="encoder.layer.3")
        sae = load_sae(work / "sae", cpu)
        fvu[dt, seed] = reconstruction_metrics(sae, ActivationStore(tmp_path / "float32" / "eval"))["fvu"]
    assert 0.0 < fvu["float32", 0] < 0.6, fvu
    seed_gap = abs(fvu["float32", 1] - fvu["float32", 0])
    assert abs(fvu["bfloat16", 0] - fvu["float32", 0]) <= seed_gap + 0.005, fvu
