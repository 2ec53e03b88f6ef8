"""Smoke tests of the benchmark functions (benchmarks/bench.py) on tiny inputs: sane results, no timings asserted."""

import math
import sys

import pytest
import torch

from benchmarks import bench
from featevo.activations import ActivationStore, _iter_layer_rows, iter_layer_rows, tokenize_docs
from featevo.config import ModelConfig, SAEConfig
from featevo.io import atomic_write_json
from featevo.models import load_model, load_tokenizer


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    mcfg = ModelConfig(name=str(tiny_model_dir))
    return load_model(mcfg), load_tokenizer(mcfg)


def _store(path, n=2000, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g) * 2 + 1
    return ActivationStore.from_tensor(path, x, shard_rows=700, layer=0)


def test_harvest_benchmark_rows_equal_kept_tokens(tiny):
    model, tok = tiny
    tokens = tokenize_docs(tok, bench.corpus_docs(24), 32, exclude_special_tokens=True)
    res, rows = bench.harvest_benchmark(model, tokens, layer=0, batch_size=4, rounds=2)
    assert res["rows_equal_kept_tokens"]
    assert rows.shape == (sum(res["kept_tokens_per_round"]), 32)
    assert all(0 < k < r for k, r in zip(res["kept_tokens_per_round"], res["real_tokens_per_round"]))  # no [CLS]/[SEP]
    assert res["blocks_run_per_batch"] == {"ours": 1, "plain": 2}  # ours stops after block 0 of 2
    assert res["max_abs_diff_ours_vs_plain"] < 1e-4
    for v in res["tokens_per_s"].values():
        assert math.isfinite(v) and v > 0
    assert res["ratio_ours_over_plain"] > 0 and len(res["seconds"]["ours"]) == 2


def test_length_sorted_batches_keep_the_row_order(tiny):
    model, tok = tiny
    tokens = tokenize_docs(tok, bench.corpus_docs(23), 40, exclude_special_tokens=True)
    dev = torch.device("cpu")
    a = list(iter_layer_rows(model, tokens, 1, 5, dev, progress=False))
    b = list(_iter_layer_rows(model, tokens, 1, 5, dev, progress=False, sort_window=1))
    assert [x.shape for x in a] == [x.shape for x in b]  # same rows per yield (5 documents each)
    assert len(a) == 5 and sum(x.shape[0] for x in a) == int(tokens["keep_mask"].sum())
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)


def test_sae_step_benchmark_all_contenders():
    rows = torch.randn(500, 16, generator=torch.Generator().manual_seed(0)) * 3
    res = bench.sae_step_benchmark(rows, d_sae=24, k=4, batch_size=64, rounds=2, dead_fraction=0.25)
    assert set(res["peers"]) == set(bench.PEERS)
    for p, v in res["peers"].items():
        assert v["steps_per_s"] > 0 and v["tokens_per_s"] == pytest.approx(64 * v["steps_per_s"])
        assert math.isfinite(v["first_loss"]) and v["state_mb"] > 0, p
    # same init (same seed), same batch: the fused and the sae-lens step compute the same loss
    f, s = res["peers"]["fused"], res["peers"]["sae-lens"]
    assert f["first_loss"] == pytest.approx(s["first_loss"], rel=1e-5)
    assert f["last_loss"] == pytest.approx(s["last_loss"], rel=1e-3)
    assert set(res["ratio_fused_speedup"]) == {"sae-lens", "sparsify", "plain"}


def test_scale_point_and_quality(tiny_model_dir, tmp_path):
    cfg = SAEConfig(num_latents=24, k=4, batch_size=128, training_tokens=128 * 1000, checkpoint_every=10**6)
    p = bench.scale_point(300, tmp_path / "s", layer=1, batch_size=8, shard_tokens=100, train_steps=3,
                          model_name=str(tiny_model_dir), sae_cfg=cfg)
    assert p["rows"] == p["kept_tokens"] >= 300 and p["shards"] == math.ceil(p["rows"] / 100)
    assert p["train_steps"] == 3 and p["peak_rss_harvest_mb"] > 0
    store = ActivationStore(tmp_path / "s" / "acts")
    q = bench.quality_benchmark(store, store, tmp_path / "q", [("fused", 0, 24, 3), ("sae-lens", 0, 24, 3)],
                                base_cfg=SAEConfig(num_latents=24, k=4, batch_size=128, checkpoint_every=10**6))
    assert [r["trainer"] for r in q] == ["fused", "sae-lens"]
    assert q[0]["eval_fvu"] == pytest.approx(q[1]["eval_fvu"], rel=1e-3)  # same init, same data, same gradients
    assert all(r["eval_l0"] <= 4 for r in q)


def test_quality_on_synthetic_store(tmp_path):
    store = _store(tmp_path / "a")
    q = bench.quality_benchmark(store, store, tmp_path, [("fused", 0, 24, 2)],
                                base_cfg=SAEConfig(num_latents=24, k=4, batch_size=256, checkpoint_every=10**6))
    assert q[0]["steps"] == 2 and 0 < q[0]["eval_fvu"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS reset needs /proc")
def test_peak_rss_tracks_a_big_allocation():
    assert bench.reset_peak_rss()
    before = bench.rss_mb()
    x = torch.ones(16 * 2**20)  # 64 MiB, touched
    del x
    assert bench.peak_rss_mb() - before > 48


def test_slope_markdown_and_end_to_end(tmp_path):
    assert bench.loglog_slope([1, 10, 100], [3, 300, 30000]) == pytest.approx(2.0)
    assert bench.loglog_slope([1, 10, 100], [5, 5, 5]) == pytest.approx(0.0, abs=1e-12)
    for stage, t in (("01_train_sae", 80.0), ("02_compare_features", 20.0)):
        (tmp_path / stage).mkdir()
        atomic_write_json(tmp_path / stage / "manifest.json", {"wall_time_s": t})
    e = bench.end_to_end_times(tmp_path)
    assert e["stages_wall_time_s"] == {"01_train_sae": 80.0, "02_compare_features": 20.0} and e["total_s"] == 100.0
    assert bench.end_to_end_times(tmp_path / "missing")["note"].startswith("no manifests")
    rows = torch.randn(300, 16)
    res = {"host": bench.host_info(), "gpu": "none", "benchmark_wall_s": 1.0,
           "sae_steps": [bench.sae_step_benchmark(rows, 24, k=4, batch_size=64, rounds=1, peers=("fused", "plain"))],
           "end_to_end": e}
    md = bench.to_markdown(res)
    assert "| 16 | 24 | 0% | fused |" in md and "01_train_sae | 80.0" in md
    assert bench.host_kind() == bench.host_info()["host_kind"] and "/" not in bench.host_kind()
