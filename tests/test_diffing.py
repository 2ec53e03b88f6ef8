"""Stage 02_model_diffing: stage-wise diffing on a synthetic case with a known answer, its statistics, the
planted-control helpers, and the stage end to end on a copy of the tiny stage 01."""

import dataclasses
import shutil

import numpy as np
import pytest
import torch
from scipy.stats import mannwhitneyu

from featevo import stagewise as sw
from featevo.activations import ActivationStore
from featevo.config import CrosscoderConfig, DiffingConfig, SAEConfig, StagewiseConfig
from featevo.planted_control import planted_tokens, score_lens
from featevo.stats import auroc
from featevo.sae import build_trainer, encode, load_sae, save_final_sae


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------
def test_auroc_hand_computed_with_ties_and_against_mann_whitney():
    # positives {0.35, 0.8} vs negatives {0.1, 0.4}: 3 of 4 pairs ordered -> 0.75
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1], bool)) == pytest.approx(0.75)
    # ties count half: positives {1, 0} vs negatives {1, 0, 0}: (0.5 + 1 + 1) + (0 + 0.5 + 0.5) = 3.5 of 6
    assert auroc(np.array([1.0, 0.0, 1.0, 0.0, 0.0]), np.array([1, 1, 0, 0, 0], bool)) == pytest.approx(3.5 / 6)
    rng = np.random.default_rng(0)
    z = np.round(rng.random((60, 4)), 1)  # many ties
    lab = rng.random(60) < 0.3
    want = [mannwhitneyu(z[lab, j], z[~lab, j]).statistic / (lab.sum() * (~lab).sum()) for j in range(4)]
    np.testing.assert_allclose(auroc(z, lab), want)
    assert np.isnan(auroc(z, np.zeros(60, bool))).all()


def test_against_null_leave_one_out_and_empirical_p():
    null = np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]])
    np.testing.assert_allclose(np.sort(sw.loo_null(null)), [-0.2, -0.2, 0.0, 0.0, 0.2, 0.2])
    out = sw.against_null(np.array([[0.6, 0.2, 0.2], [0.4, 0.2, 0.2]]), null, two_sided=False)
    np.testing.assert_allclose(out["excess"], [0.3, 0.0, 0.0])
    np.testing.assert_allclose(out["null_max"], [0.3, 0.2, 0.3])
    # excess 0.3 exceeds every pooled null value: p = 1/7; excess 0 is reached by 4 of 6: p = 5/7
    np.testing.assert_allclose(out["p"], [1 / 7, 5 / 7, 5 / 7])
    assert np.isnan(sw.against_null(null, null[:1], False)["p"]).all()  # one null order: no pooled null
    np.testing.assert_array_equal(sw.rank_desc(np.array([0.2, np.nan, 0.5, 0.2])), [2, 4, 1, 2])
    assert sw.reproducibility(np.array([[1.0, 2, 3], [2.0, 4, 6]])) == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# Stage-wise diffing on a synthetic dictionary
# --------------------------------------------------------------------------------------------
def _save_sae(D: torch.Tensor, k: int, path, scaling: float = 1.0):
    """An sae-lens TopK SAE whose decoder is the dictionary D and encoder its transpose."""
    cfg = SAEConfig(num_latents=D.shape[0], k=k, training_tokens=256, batch_size=256)
    sae, trainer = build_trainer(D.shape[1], cfg, torch.device("cpu"), "m", "h")
    with torch.no_grad():
        sae.W_dec.copy_(D)
        sae.W_enc.copy_(D.T)
        sae.b_enc.zero_()
        sae.b_dec.zero_()
    return save_final_sae(sae, trainer, scaling, path)


def test_unfolding_a_saved_sae_into_training_and_back_is_exact(tmp_path):
    torch.manual_seed(0)
    start = load_sae(_save_sae(torch.nn.functional.normalize(torch.randn(12, 8), dim=1), 3, tmp_path / "s"))
    cfg = sw.continued_cfg(SAEConfig(num_latents=99, k=7, training_tokens=256, batch_size=256), start, 512, 1e-3)
    assert (cfg.num_latents, cfg.k, cfg.lr_decay_fraction, cfg.training_tokens) == (12, 3, 0.0, 512)
    sae, trainer = build_trainer(8, cfg, torch.device("cpu"))
    sw.unfold_into_trainer(start, sae, 2.5)
    x = torch.randn(50, 8)
    with torch.no_grad():  # the training SAE reads x * 2.5 and fires the same latents
        torch.testing.assert_close((sae.encode(x * 2.5) > 0), (start.encode(x) > 0))
    back = load_sae(save_final_sae(sae, trainer, 2.5, tmp_path / "b"))
    torch.testing.assert_close(encode(back, x), encode(start, x), rtol=1e-5, atol=1e-6)


def test_stagewise_ranks_the_moved_atom_first_and_the_null_does_not(tmp_path):
    """Model b's activations are model a's with one dictionary atom rotated by 45 degrees. Continued training of
    the (perfect) SAE of a on b rotates that atom's latent most, beyond the null (the same continued training
    on a's own activations, other data orders); the held-out null order does not single it out."""
    torch.manual_seed(0)
    d, n, N, moved = 20, 16, 12000, 5
    Q = torch.linalg.qr(torch.randn(d, d)).Q.T
    D = Q[:n].contiguous()
    D_b = D.clone()
    D_b[moved] = (D[moved] + Q[n]) / 2**0.5
    coef = (torch.rand(N, n) < 3 / n).float() * (1 + torch.rand(N, n))
    xa, xb = coef @ D, coef @ D_b
    start_dir = _save_sae(D, 3, tmp_path / "start")
    stores = {"a": ActivationStore.from_tensor(tmp_path / "xa", xa, 4000),
              "b": ActivationStore.from_tensor(tmp_path / "xb", xb, 4000)}
    start = load_sae(start_dir)
    sae_cfg = SAEConfig(num_latents=n, k=3, training_tokens=256, batch_size=256, dead_window_tokens=10**6)
    rot = {}
    for target, orders in (("a", 3), ("b", 2)):
        rot[target] = []
        for o in range(orders):
            work = tmp_path / f"{target}{o}"
            rec = sw.continue_sae(start_dir, stores[target], sae_cfg, 60 * 256, 5e-3, 100 + o, work, "cpu", 1.0)
            assert rec["steps"] == 60 and rec["seed"] == 100 + o
            ch = sw.latent_change(start, load_sae(work / "sae"), xa[:3000], (xb if target == "b" else xa)[:3000])
            rot[target].append(ch["rotation"])
    main = sw.against_null(np.stack(rot["b"]), np.stack(rot["a"][:2]), two_sided=False)
    assert sw.rank_desc(main["excess"])[moved] == 1
    _, flagged = sw.flags(main["p"], 0.05)
    assert flagged[moved]
    held = sw.against_null(np.stack(rot["a"][2:]), np.stack(rot["a"][:2]), two_sided=False)
    _, held_flags = sw.flags(held["p"], 0.05)
    assert not held_flags[moved] and held["excess"][moved] < 0.2 * main["excess"][moved]
    assert sw.reproducibility(np.stack(rot["b"])) > 0.5
    # a finished run is reused, not retrained
    again = sw.continue_sae(start_dir, stores["b"], sae_cfg, 60 * 256, 5e-3, 100, tmp_path / "b0", "cpu", 1.0)
    assert again == sw.read_json(tmp_path / "b0" / sw.RUN_DONE)


def test_row_subset_store_keeps_only_the_selected_rows(tmp_path):
    x = torch.arange(30, dtype=torch.float32).reshape(15, 2)
    keep = np.arange(15) % 3 == 0
    store = sw.RowSubsetStore(ActivationStore.from_tensor(tmp_path / "s", x, 4).dir, keep)
    assert store.n_rows == 5
    torch.testing.assert_close(store.read_all(), x[torch.from_numpy(keep)])
    seen = torch.cat([next(store.batches(5, seed=1)) for _ in range(1)])
    assert sorted(seen[:, 0].tolist()) == sorted(x[torch.from_numpy(keep)][:, 0].tolist())


# --------------------------------------------------------------------------------------------
# Planted control helpers
# --------------------------------------------------------------------------------------------
def test_score_lens_finds_the_planted_latent_and_its_rank():
    rng = np.random.default_rng(1)
    planted = rng.random(200) < 0.1
    z = rng.random((200, 6)) * (rng.random((200, 6)) < 0.2)
    z[:, 4] = np.where(planted, 1.0 + rng.random(200), 0.0)  # fires on exactly the planted tokens
    change = np.array([0.1, 0.5, 0.3, 0.2, 0.4, 0.0])
    out = score_lens(z, planted, change, "test")
    assert (out["best_latent"], out["rank"], out["n_latents"]) == (4, 2, 6)
    assert out["auroc"] == pytest.approx(1.0)
    assert [t["latent"] for t in out["top"]] == [1, 4, 2, 3, 0]


def test_planted_tokens_are_marked_by_their_character_span(minilm_dir):
    from transformers import AutoTokenizer

    from featevo.data import Doc

    tok = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    docs = [Doc("Lanternfish and lanterns: the lanternfish rose.", "markets", "target")]
    subs = {"stocks": "lanternfish"}
    tokens, mark = planted_tokens(tok, docs, subs, 32, True)
    pieces = tok.convert_ids_to_tokens(tokens["input_ids"][tokens["keep_mask"]].tolist())
    marked = [p for p, m in zip(pieces, mark) if m]
    assert len(marked) >= 2 and "".join(marked).replace("##", "") == "lanternfish" * 2
    assert not any(m for p, m in zip(pieces, mark) if p.startswith("lanterns"))


# --------------------------------------------------------------------------------------------
# The stage end to end
# --------------------------------------------------------------------------------------------
SMALL = DiffingConfig(stagewise=StagewiseConfig(tokens=1024, orders=2, domain_orders=1),
                      crosscoder=CrosscoderConfig(tokens=1024), max_tokens=3000)


@pytest.fixture(scope="module")
def diffing_cfg(tiny_stage01, tmp_path_factory):
    """A copy of the shared tiny stage 01 (never rewritten) with a small diffing config."""
    from featevo.layout import run_dir

    root = tmp_path_factory.mktemp("diffing") / "outputs"
    shutil.copytree(run_dir(tiny_stage01), root / tiny_stage01.run_name)
    return dataclasses.replace(tiny_stage01, output_root=str(root), diffing=SMALL)


def test_stage_outputs_manifest_and_loaders(diffing_cfg, monkeypatch):
    from sae_lens import SAE

    from featevo import diffing
    from featevo.io import require_stage, stage_is_current
    from featevo.layout import DIFFING, DiffingFiles, partial_dir, stage_dir
    from featevo.results import CROSSCODER_LATENTS, STAGEWISE_LATENTS, load_diffing_summary, load_planted

    cfg = diffing_cfg
    real = diffing.planted_control

    def killed(*a, **k):
        raise KeyboardInterrupt("killed after training")

    monkeypatch.setattr(diffing, "planted_control", killed)
    with pytest.raises(KeyboardInterrupt):
        diffing.run(cfg)
    part = partial_dir(cfg, DIFFING) / DiffingFiles.STAGEWISE / "tuned_o0" / "sae" / "sae_weights.safetensors"
    mtime = part.stat().st_mtime_ns
    monkeypatch.setattr(diffing, "planted_control", real)
    out = diffing.run(cfg)  # resumes: the finished runs are reused
    assert out == stage_dir(cfg, DIFFING)
    assert (out / DiffingFiles.STAGEWISE / "tuned_o0" / "sae" / "sae_weights.safetensors").stat().st_mtime_ns == mtime
    man = require_stage(cfg, DIFFING)
    assert any(k.startswith("data/") or "probe" in k for k in man["inputs"]["files"])
    for name in (DiffingFiles.STAGEWISE_LATENTS, DiffingFiles.CROSSCODER_LATENTS, DiffingFiles.PLANTED,
                 DiffingFiles.SUMMARY, DiffingFiles.ROTATION_FIG, DiffingFiles.RHO_FIG):
        assert name in man["outputs"], name
    assert stage_is_current(cfg, DIFFING, man["inputs"]["files"])

    n = cfg.sae.num_latents
    sw_tab, cc_tab = STAGEWISE_LATENTS.read(out), CROSSCODER_LATENTS.read(out)
    contrasts = set(sw_tab["contrast"])
    assert {"null", "null_held_out", "tuned", "control", "planted", "planted_null", "planted_null_held_out",
            "null_reference", "data", "model", "both"} <= contrasts
    assert len(sw_tab.where(contrast="tuned")) == n and np.isfinite(sw_tab["rotation"]).all()
    tuned = sw_tab.where(contrast="tuned")
    assert sorted(r["rank_excess"] for r in tuned)[0] == 1 and all(r["rank_domain"] is not None for r in tuned)
    assert all(r["rotation_p"] is not None and 0 < r["rotation_p"] <= 1 for r in tuned)
    assert set(cc_tab["pair"]) == {"base~tuned", "base~control", "tuned~planted", "base~base"}
    assert set(cc_tab["class"]) <= {"a-only", "b-only", "shared"}
    assert ((cc_tab["rho"] >= 0) & (cc_tab["rho"] <= 1)).all()

    planted, summary = load_planted(out), load_diffing_summary(out)
    assert planted["available"] and planted["planted_rows"] > 0
    for lens in ("stagewise", "crosscoder", "matching", "fixed_dictionary"):
        p = planted["lenses"][lens]["planted"]
        assert 1 <= p["rank"] <= n and 0.0 <= p["auroc"] <= 1.0 and len(p["top"]) == 5 and p["rule"] == "change"
        assert summary["planted"][lens]["planted"]["rank"] == p["rank"]
    neg = summary["negative_control"]
    assert set(neg) == {"stagewise", "crosscoder", "fixed_dictionary"} and set(neg["fixed_dictionary"]["sham"])
    assert neg["stagewise"]["null_expects"] == pytest.approx(0.05 * n)
    assert summary["stagewise"]["tuned"]["orders"] == 2 and summary["stagewise"]["null_held_out"]["orders"] == 1
    # the run-level statistic: one mean rotation per data order, averaging to the contrast's mean rotation
    sws = summary["stagewise"]
    for name in ("tuned", "null", "null_held_out"):
        runs = sws[name]["rotation_mean_per_order"]
        assert len(runs) == sws[name]["orders"] and np.mean(runs) == pytest.approx(sws[name]["rotation_mean"])
    tuned_claim = next(c for c in summary["claims"] if c["id"] == "stagewise_flags:tuned")
    assert tuned_claim["null"]["values"] == pytest.approx(sws["null"]["rotation_mean_per_order"]
                                                          + sws["null_held_out"]["rotation_mean_per_order"])

    sae = load_sae(out / DiffingFiles.STAGEWISE / "planted_o1" / "sae")
    assert sae.cfg.d_sae == n
    cc = SAE.load_from_disk(str(out / DiffingFiles.CROSSCODERS / "tuned_planted" / "sae"))
    assert cc.cfg.d_in == 2 * sae.cfg.d_in and cc.cfg.metadata.crosscoder_models == ["tuned", "planted"]
