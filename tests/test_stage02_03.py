"""Stages 02 and 03 end to end on the tiny config (shared stage 01 fixture), and their refusals."""

import csv
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from featevo import compare, deltas
from featevo.config import config_from_dict, to_dict
from featevo.errors import StageError
from featevo.io import load_manifest, require_stage
from featevo.layout import REPO_ROOT, stage_dir
from featevo.sae import load_sae

CLASSES = {"shared", "shifted", "new", "lost", "split", "dead"}


def _csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _has_nan(path: Path) -> bool:
    return re.search(r"(^|,)(nan|inf|-inf)(,|$)", path.read_text(), re.M | re.I) is not None


def _as_dict(cfg) -> dict:
    d = to_dict(cfg)
    d.pop("config_path", None)
    return d


def _script(rel: str):
    spec = importlib.util.spec_from_file_location(rel.replace("/", "_")[:-3], REPO_ROOT / rel)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def stage02(tiny_stage01):
    compare.run(tiny_stage01)
    return tiny_stage01


@pytest.fixture(scope="module")
def stage03(stage02):
    deltas.run(stage02)
    return stage02


def test_stage02_outputs(stage02):
    cfg = stage02
    out = stage_dir(cfg, "02_compare_features")
    man = require_stage(cfg, "02_compare_features")
    for f in ("latents.csv", "pairs.csv", "null_pairs.csv", "summary.json", "similarity_hist.png",
              "similarity_hist.svg", "matched_scatter.png", "matched_scatter.svg"):
        assert f in man["outputs"], f
    assert "01_train_sae" in man["inputs"]["stages"]
    for f in ("latents.csv", "pairs.csv", "null_pairs.csv"):
        assert not _has_nan(out / f)

    lat = _csv(out / "latents.csv")
    assert len(lat) == 2 * 24 and {r["sae"] for r in lat} == {"base", "tuned"}
    assert {r["class"] for r in lat} <= CLASSES
    pairs = _csv(out / "pairs.csv")
    s1 = stage_dir(cfg, "01_train_sae")
    wb = load_sae(s1 / "saes" / "base" / "sae").W_dec
    wt = load_sae(s1 / "saes" / "tuned" / "sae").W_dec
    cos = compare.decoder_cosine(wb, wt)
    by = {(r["sae"], int(r["latent"])): r for r in lat}
    used_b, used_t = set(), set()
    for p in pairs:
        a, b = int(p["base_latent"]), int(p["tuned_latent"])
        assert float(p["decoder_cosine"]) == pytest.approx(cos[a, b], abs=1e-5)
        assert int(by[("base", a)]["match_decoder"]) == b and int(by[("tuned", b)]["match_decoder"]) == a
        assert p["class"] in ("shared", "shifted", "unmatched")
        if p["class"] != "unmatched":
            assert by[("base", a)]["class"] == by[("tuned", b)]["class"] == p["class"]
        assert -1 <= float(p["activation_correlation"]) <= 1
        used_b.add(a)
        used_t.add(b)
    assert len(used_b) == len(used_t) == len(pairs)  # one-to-one
    for r in lat:
        if r["class"] == "dead":
            assert float(r["firing_frequency"]) == 0 and r["match_decoder"] == ""
        elif r["class"] in ("new", "lost"):
            assert float(r["best_decoder_cosine"]) < cfg.compare.new_threshold
        elif r["class"] == "split":
            # its one-to-one partner (if it has one: more live latents on one side leave some without)
            # is below the threshold, while some other latent is above it
            assert float(r["best_decoder_cosine"]) >= cfg.compare.new_threshold
            assert r["decoder_cosine"] == "" or float(r["decoder_cosine"]) < cfg.compare.new_threshold

    summ = json.loads((out / "summary.json").read_text())
    bt = summ["base_vs_tuned"]
    assert bt["pairs"] == len(pairs)
    assert sum(bt["class_counts"]["base"].values()) == 24
    assert bt["class_counts"]["pairs"].get("shared", 0) == sum(p["class"] == "shared" for p in pairs)
    assert 0 <= bt["agreement"] <= 1 and 0 <= bt["matched_fraction"] <= 1
    assert "base_seed1" in summ["null_baselines"]
    null = _csv(out / "null_pairs.csv")
    assert len(null) == summ["null_baselines"]["base_seed1"]["pairs"]
    tr = summ["transfer"]
    assert set(tr) == {"base_sae_on_tuned", "tuned_sae_on_base"}
    for v in tr.values():
        assert v["fvu"] > 0 and v["fvu_increase"] == pytest.approx(v["fvu"] - v["fvu_own_sae"])

    # up to date: a rerun rewrites nothing
    before = (out / "manifest.json").read_bytes()
    compare.run(cfg)
    assert (out / "manifest.json").read_bytes() == before


def test_stage03_outputs(stage03):
    cfg = stage03
    out = stage_dir(cfg, "03_activation_deltas")
    man = require_stage(cfg, "03_activation_deltas")
    assert set(man["inputs"]["stages"]) == {"01_train_sae", "02_compare_features"}
    assert len(man["inputs"]["files"]) == 1 and list(man["inputs"]["files"])[0].endswith("probe.jsonl")
    for f in ("per_category.csv", "feature_table.csv", "top_financial_features.csv", "summary.json",
              "ranking_by_delta.csv", "four_panel.png", "four_panel.svg", "contexts/base.json",
              "contexts/tuned.json", "interesting_latents.json"):
        assert f in man["outputs"], f
    alpha = cfg.deltas.alpha

    # per-category means reproduce the financial score of the feature table
    cat = _csv(out / "per_category.csv")
    assert len(cat) == 2 * 24 * 13
    fin_cats = set(cfg.data.financial_categories)

    def fin_score(model, j):
        rows = [r for r in cat if r["model"] == model and int(r["latent"]) == j and r["category"] in fin_cats]
        n = np.array([int(r["n_sentences"]) for r in rows])
        return float(np.sum(n * np.array([float(r["mean_activation"]) for r in rows])) / n.sum())

    table = _csv(out / "feature_table.csv")
    assert not _has_nan(out / "feature_table.csv")
    matched = [r for r in table if r["pair_id"] != ""]
    pairs = {int(p["pair_id"]): p for p in _csv(stage_dir(cfg, "02_compare_features") / "pairs.csv")}
    assert len(matched) == sum(p["class"] in ("shared", "shifted") for p in pairs.values())
    for r in matched:
        p = pairs[int(r["pair_id"])]
        assert (r["base_latent"], r["tuned_latent"]) == (p["base_latent"], p["tuned_latent"])
        b, t, d = float(r["base_fin_score"]), float(r["tuned_fin_score"]), float(r["delta_matched"])
        assert abs(d - (t - b)) <= 1e-5 * (abs(t) + abs(b) + abs(d)) + 1e-12  # cells keep 6 significant digits
        assert b == pytest.approx(fin_score("base", int(r["base_latent"])), rel=1e-5, abs=1e-9)
        assert t == pytest.approx(fin_score("tuned", int(r["tuned_latent"])), rel=1e-5, abs=1e-9)
        assert float(r["delta_ci_low"]) <= float(r["delta_ci_high"])
        p_, q_ = float(r["p_value"]), float(r["q_value"])
        assert 0 < p_ <= q_ + 1e-12 <= 1 + 1e-12
        assert (r["significant"] == "true") == (q_ <= alpha)
        sc = float(r["specialization_change"])
        assert sc == pytest.approx(float(r["tuned_specialization"]) - float(r["base_specialization"]), abs=1e-5)
        assert -1 <= float(r["base_specialization"]) <= 1
        if r["change_pct_matched"] != "":
            assert float(r["change_pct_matched"]) == pytest.approx(100 * d / b, rel=1e-3, abs=1e-3)
        if r["significant"] == "true":
            assert r["type"] == ("financial-gained" if d > 0 else "financial-lost")
        if r["beyond_seed_noise"] == "true":
            assert r["significant"] == "true"
        assert float(r["relative_change_matched"]) == pytest.approx(2 * d / (t + b + 1e-8), rel=1e-4, abs=1e-4)
    unmatched = [r for r in table if r["pair_id"] == ""]
    for r in unmatched:
        assert (r["base_latent"] == "") != (r["tuned_latent"] == "")
        assert r["class"] in ("new", "lost", "split", "dead") and r["delta_matched"] == ""
    assert len(matched) * 2 + len(unmatched) == 48

    rank = _csv(out / "ranking_by_delta.csv")
    assert len(rank) == len(matched)
    d = [float(r["delta_matched"]) for r in rank]
    assert d == sorted(d, reverse=True) and [int(r["rank"]) for r in rank] == list(range(1, len(rank) + 1))

    summ = json.loads((out / "summary.json").read_text())
    bt = summ["base_vs_tuned"]
    assert bt["matched_pairs"] == len(matched)
    assert bt["positive_change"] == sum(x > 0 for x in d) and bt["negative_change"] == sum(x < 0 for x in d)
    assert bt["significant_after_bh"] == sum(r["significant"] == "true" for r in matched)
    assert bt["beyond_seed_noise"] == sum(r["beyond_seed_noise"] == "true" for r in matched)
    assert summ["probe"]["sentences"] == 13 * 6
    assert len(summ["top5_by_abs_delta"]) == min(5, len(matched))
    if matched:
        assert summ["max_improvement"]["delta_matched"] == pytest.approx(max(d), rel=1e-3)
    assert "base_seed1" in summ["null_baselines"]

    top = _csv(out / "top_financial_features.csv")
    for r in top:
        assert float(r["q_value"]) <= alpha and float(r["fin_minus_gen"]) > 0
        assert int(r["rank"]) <= cfg.deltas.top_n

    for side in ("base", "tuned"):
        ctx = json.loads((out / "contexts" / f"{side}.json").read_text())
        assert set(ctx["latents"]) == {str(j) for j in range(24)}
        n_ctx = 0
        for lst in ctx["latents"].values():
            assert len(lst) <= cfg.deltas.contexts_per_latent
            maxes = [c["max_act"] for c in lst]
            assert maxes == sorted(maxes, reverse=True)
            for c in lst:
                n_ctx += 1
                assert len(c["tokens"]) == len(c["acts"]) <= 2 * cfg.deltas.context_window + 1
                assert c["acts"][c["max_pos"]] == c["max_act"] == max(c["acts"]) > 0
                assert c["source"] in ("probe", "eval") and isinstance(c["doc"], int) and c["text"]
        assert n_ctx > 0
    inter = json.loads((out / "interesting_latents.json").read_text())
    assert set(inter) == {"base", "tuned", "pairs"}
    assert set(inter["pairs"]) == {int(r["pair_id"]) for r in matched}
    for side in ("base", "tuned"):
        assert len(set(inter[side])) == len(inter[side]) and all(0 <= j < 24 for j in inter[side])

    before = (out / "manifest.json").read_bytes()
    deltas.run(cfg)
    assert (out / "manifest.json").read_bytes() == before


def test_refuses_without_stage01(tiny_cfg, tmp_path, tiny_model_dir, tiny_data, capsys):
    with pytest.raises(StageError, match=r"01_train_sae/train_sae\.py"):
        compare.run(tiny_cfg)
    with pytest.raises(StageError, match=r"01_train_sae/train_sae\.py"):
        deltas.run(tiny_cfg)
    conf = tmp_path / "tiny.yaml"
    conf.write_text(yaml.safe_dump(_as_dict(tiny_cfg)))
    for rel in ("02_compare_features/compare_features.py", "03_activation_deltas/activation_deltas.py"):
        assert _script(rel).main(["--config", str(conf)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "01_train_sae/train_sae.py" in err and len(err.strip().splitlines()) == 1
    assert not stage_dir(tiny_cfg, "02_compare_features").exists()


def test_refuses_upstream_from_another_config(stage02):
    d = _as_dict(stage02)
    other = config_from_dict({**d, "sae": {**d["sae"], "k": 3}})
    with pytest.raises(StageError, match=r"different config .*sae\.k"):
        compare.run(other)
    # stage 03 with other compare thresholds: stage 02's outputs do not fit
    other = config_from_dict({**d, "compare": {**d["compare"], "shared_threshold": 0.9}})
    with pytest.raises(StageError, match=r"different config .*compare\.shared_threshold.*compare_features\.py"):
        deltas.run(other)
    assert load_manifest(stage02, "02_compare_features")["config"]["compare"]["shared_threshold"] == 0.7
