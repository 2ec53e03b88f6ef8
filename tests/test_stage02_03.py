"""Stages 02 and 03 end to end on the tiny config (shared stage 01 fixture), and their refusals."""

import csv
import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from featevo import compare, deltas
from featevo.config import config_from_dict, to_dict
from featevo.errors import StageError
from featevo.io import load_manifest, require_stage
from featevo.layout import REPO_ROOT, comparisons, sae_specs, stage_dir
from featevo.matching import decoder_cosine
from featevo.results import CompareResult, DeltasResult
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


def _float(x: str) -> float:
    return float("nan") if x == "" else float(x)


def test_stage02_outputs(stage02):
    cfg = stage02
    out = stage_dir(cfg, "02_compare_features")
    man = require_stage(cfg, "02_compare_features")
    for f in ("latents.csv", "pairs.csv", "comparison_pairs.csv", "comparisons.csv", "summary.json",
              "similarity_hist.png", "similarity_hist.svg", "matched_scatter.png", "matched_scatter.svg",
              "continuum.png", "continuum.svg"):
        assert f in man["outputs"], f
    assert "01_train_sae" in man["inputs"]["stages"]
    for f in ("latents.csv", "pairs.csv", "comparison_pairs.csv"):
        assert not _has_nan(out / f)

    lat = _csv(out / "latents.csv")
    assert len(lat) == 2 * 24 and {r["sae"] for r in lat} == {"base", "tuned"}
    assert {r["class"] for r in lat} <= CLASSES
    pairs = _csv(out / "pairs.csv")
    s1 = stage_dir(cfg, "01_train_sae")
    W = {n: load_sae(s1 / "saes" / n / "sae").W_dec for n in ("base", "tuned", "base_seed1", "control")}
    cos = decoder_cosine(W["base"], W["tuned"])
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
            assert float(r["best_decoder_cosine"]) >= cfg.compare.new_threshold
            # its one-to-one partner is below the threshold, or it has none (more live latents than the other SAE)
            assert r["decoder_cosine"] == "" or float(r["decoder_cosine"]) < cfg.compare.new_threshold

    # every comparison of the run, its pairs one-to-one; the primary's pairs are pairs.csv
    comps = {c.name: c for c in comparisons(cfg)}
    allp = _csv(out / "comparison_pairs.csv")
    assert {r["comparison"] for r in allp} == set(comps)
    prim = [r for r in allp if r["comparison"] == "base~tuned"]
    assert [(r["latent_a"], r["latent_b"], r["class"]) for r in prim] == \
        [(p["base_latent"], p["tuned_latent"], p["class"]) for p in pairs]
    for name, c in comps.items():
        rows = [r for r in allp if r["comparison"] == name]
        assert {r["family"] for r in rows} == {c.family} and {(r["sae_a"], r["sae_b"]) for r in rows} == {(c.a, c.b)}
        assert len({r["latent_a"] for r in rows}) == len({r["latent_b"] for r in rows}) == len(rows)
    cos_seed = decoder_cosine(W["base"], W["base_seed1"])
    for r in (r for r in allp if r["comparison"] == "base~base_seed1"):
        assert float(r["decoder_cosine"]) == pytest.approx(cos_seed[int(r["latent_a"]), int(r["latent_b"])], abs=1e-5)

    table = {r["comparison"]: r for r in _csv(out / "comparisons.csv")}
    assert list(table) == list(comps)  # one row each, the primary first
    for name, r in table.items():
        rows = [x for x in allp if x["comparison"] == name]
        matched = sum(x["class"] in ("shared", "shifted") for x in rows)
        assert int(r["pairs"]) == len(rows) and int(r["matched"]) == matched
        assert int(r["shared"]) == sum(x["class"] == "shared" for x in rows)
        assert float(r["matched_fraction"]) == pytest.approx(matched / len(rows), abs=1e-6)
        # every latent of each side is in exactly one class
        assert matched + int(r["split_b"]) + int(r["new"]) + int(r["dead_b"]) == int(r["d_sae_b"]) == 24
        assert matched + int(r["split_a"]) + int(r["lost"]) + int(r["dead_a"]) == int(r["d_sae_a"]) == 24
        assert 0 <= float(r["above_chance_fraction"]) <= 1 and 0 <= float(r["agreement"]) <= 1

    summ = json.loads((out / "summary.json").read_text())
    bt = summ["base_vs_tuned"]
    assert bt["pairs"] == len(pairs) and summ["primary"] == "base~tuned"
    assert sum(bt["class_counts"]["base"].values()) == 24
    assert bt["class_counts"]["pairs"].get("shared", 0) == sum(p["class"] == "shared" for p in pairs)
    assert 0 <= bt["agreement"] <= 1 and 0 <= bt["matched_fraction"] <= 1
    assert set(summ["family_stats"]) == {"fine-tuning", "seed", "control", "planted"}
    for fam, fs in summ["family_stats"].items():
        want = [float(table[n]["matched_fraction"]) for n in comps if comps[n].family == fam]
        assert fs["matched_fraction"]["values"] == pytest.approx(want, abs=1e-6)
        assert fs["matched_fraction"]["min"] <= fs["matched_fraction"]["mean"] <= fs["matched_fraction"]["max"]
    assert summ["sae_seeds"]["base"] != summ["sae_seeds"]["tuned"]
    claims = {c["id"]: c for c in summ["claims"]}
    assert {"matched_fraction:fine-tuning_vs_seed", "matched_fraction:fine-tuning_vs_control",
            "seed_stability:main"} <= set(claims)
    assert not any(cid.startswith(("new:", "lost:")) for cid in claims)  # parts of the matched fraction
    model = {n: s.model for n, s in sae_specs(cfg).items()}
    for cid, c in claims.items():
        if c["kind"] == "sae_permutation":  # the SAE is the unit: every value is one pair of its SAEs
            stat, fam = c["stat"], c["observed"]["family"]
            want = [_float(table[n][stat]) for n in comps if comps[n].family == fam]
            assert sorted(c["observed"]["values"]) == pytest.approx(sorted(want), abs=1e-6), cid
            units = {u for g in c["groups"].values() for u in g}
            assert {p["a"] for p in c["pairs"]} | {p["b"] for p in c["pairs"]} == units
            if c["test"]["design"] == "crossed_vs_within":  # same-model seed pairs of the two models only
                assert all(model[p["a"]] == model[p["b"]] or comps[f"{p['a']}~{p['b']}"].family == fam
                           for p in c["pairs"])
                k, n = len(next(iter(c["groups"].values()))), len(units)
                assert c["test"]["min_attainable_p"] == pytest.approx((2 if 2 * k == n else 1) / math.comb(n, k))
            assert c["supported"] == (c["test"]["p"] <= cfg.compare.alpha), cid
            assert c["test"]["min_attainable_p"] <= c["test"]["p"]
            assert c["negation"] and c["statement"]
    parts = claims["matched_fraction:fine-tuning_vs_seed"]["parts"]
    assert parts["new"]["observed"]["values"] == [int(table[n]["new"]) for n in comps
                                                  if comps[n].family == "fine-tuning"]
    assert {c["lens"] for c in claims.values()} == {"matching"}
    assert claims["matched_fraction:control_vs_seed"]["role"] == "comparison"
    assert claims["matched_fraction:fine-tuning_vs_seed"]["role"] == "claim"
    assert claims["seed_stability:main"]["role"] == "check"
    assert CompareResult.load(out).claims == summ["claims"]
    stab = claims["seed_stability:main"]
    assert stab["supported"] == (min(stab["observed"]["values"]) >= cfg.compare.stable_fraction)
    assert summ["dictionary_size"]["main"]["num_latents"] == 24
    cont = summ["comparisons"]["base~tuned"]["continuum"]["b"]
    assert list(cont["fraction_at_or_above"]) == [f"{t:g}" for t in cfg.compare.continuum_grid]
    fr = list(cont["fraction_at_or_above"].values())
    assert fr == sorted(fr, reverse=True)
    tr = summ["transfer"]
    assert set(tr) == {"base_sae_on_tuned", "tuned_sae_on_base"}
    for v in tr.values():
        assert v["fvu"] > 0 and v["fvu_increase"] == pytest.approx(v["fvu"] - v["fvu_own_sae"])

    # up to date: a rerun rewrites nothing
    before = (out / "manifest.json").read_bytes()
    compare.run(cfg)
    assert (out / "manifest.json").read_bytes() == before


def _target_score_check(cfg, out, table):
    """The financial and general scores of the feature table are the per-category means weighted by size."""
    cat = _csv(out / "per_category.csv")
    assert len(cat) == 4 * 24 * 13 and {r["model"] for r in cat} == {"base", "tuned", "control", "planted"}
    fin_cats = set(cfg.data.target_categories)

    def score(model, j, fin):
        rows = [r for r in cat if r["model"] == model and int(r["latent"]) == j and (r["category"] in fin_cats) == fin]
        n = np.array([int(r["n_sentences"]) for r in rows])
        return float(np.sum(n * np.array([float(r["mean_activation"]) for r in rows])) / n.sum())

    for r in table:
        for side in ("base", "tuned"):
            if r[f"{side}_latent"] != "":
                j = int(r[f"{side}_latent"])
                assert float(r[f"{side}_target_score"]) == pytest.approx(score(side, j, True), rel=1e-5, abs=1e-9)
                assert float(r[f"{side}_reference_score"]) == pytest.approx(score(side, j, False), rel=1e-5, abs=1e-9)


def _close(a: float, b: float, *scale: float) -> bool:
    return abs(a - b) <= 2e-5 * (sum(abs(x) for x in (a, b, *scale))) + 1e-12  # cells keep 6 significant digits


def test_stage03_outputs(stage03):
    cfg = stage03
    out = stage_dir(cfg, "03_activation_deltas")
    man = require_stage(cfg, "03_activation_deltas")
    assert set(man["inputs"]["stages"]) == {"01_train_sae", "02_compare_features", "01_twin"}
    assert len(man["inputs"]["files"]) == 1 and list(man["inputs"]["files"])[0].endswith("probe.jsonl")
    for f in ("per_category.csv", "feature_table.csv", "top_target_features.csv", "summary.json",
              "ranking_by_delta.csv", "pair_effects.csv", "comparison_counts.csv", "held_out_top.csv",
              "domain_latents.csv", "four_panel.png", "four_panel.svg", "contexts/base.json", "contexts/tuned.json",
              "interesting_latents.json", "twin_eval.json"):
        assert f in man["outputs"], f
    # the twins' masked-LM loss on the probe (held-out templates) is measured here, where the probe is read
    tw = json.loads((out / "twin_eval.json").read_text())
    for dom in ("target", "reference"):  # the domain roles (data.target_domain / data.reference_domain)
        assert set(tw["eval_mlm_loss"][dom]) >= {"base", "tuned", "control", "planted", "docs", "templates"}
    assert tw["eval_mlm_loss"]["target"]["tuned"] < tw["eval_mlm_loss"]["target"]["base"]
    assert tw["eval_mlm_loss"]["reference"]["control"] < tw["eval_mlm_loss"]["reference"]["base"]
    assert tw["planted_token_loss"]["planted"]["tokens"] > 0
    alpha = cfg.deltas.alpha

    table = _csv(out / "feature_table.csv")
    assert not _has_nan(out / "feature_table.csv")
    _target_score_check(cfg, out, table)
    matched = [r for r in table if r["pair_id"] != ""]
    pairs = {int(p["pair_id"]): p for p in _csv(stage_dir(cfg, "02_compare_features") / "pairs.csv")}
    assert len(matched) == sum(p["class"] in ("shared", "shifted") for p in pairs.values())
    for r in matched:
        p = pairs[int(r["pair_id"])]
        assert (r["base_latent"], r["tuned_latent"]) == (p["base_latent"], p["tuned_latent"])
        bf, tf, bg, tg = (float(r[k]) for k in ("base_target_score", "tuned_target_score", "base_reference_score",
                                                 "tuned_reference_score"))
        did, df, dg = float(r["did"]), float(r["delta_target"]), float(r["delta_reference"])
        assert _close(df, tf - bf, tf, bf) and _close(dg, tg - bg, tg, bg)
        assert _close(did, df - dg, df, dg)  # the primary estimand: the difference in differences
        assert float(r["did_ci_low"]) <= float(r["did_ci_high"])
        assert float(r["delta_target_ci_low"]) <= float(r["delta_target_ci_high"])
        se, z = float(r["did_se"]), float(r["z"])
        assert z == (0.0 if se == 0 else pytest.approx(did / se, rel=1e-4, abs=1e-6))
        p_s, p_c, q_c = float(r["p_sampling"]), float(r["p_calibrated"]), float(r["q_calibrated"])
        assert 0 < p_s <= 1 and 0 < p_c <= q_c + 1e-12 <= 1 + 1e-12
        assert (r["discovered"] == "true") == (q_c <= alpha)
        sc = float(r["specialization_change"])
        assert sc == pytest.approx(float(r["tuned_specialization"]) - float(r["base_specialization"]), abs=1e-5)
        assert -1 <= float(r["base_specialization"]) <= 1
        if r["discovered"] == "true":
            assert r["type"] == ("toward-target" if did > 0 else "toward-reference")
        else:
            assert r["type"].startswith("stable")
    unmatched = [r for r in table if r["pair_id"] == ""]
    for r in unmatched:
        assert (r["base_latent"] == "") != (r["tuned_latent"] == "")
        assert r["class"] in ("new", "lost", "split", "dead") and r["did"] == ""
    assert len(matched) * 2 + len(unmatched) == 48

    # every comparison's pairs (wide ones aside), calibrated against the seed pairs, leave one out
    comps = {c.name: c for c in comparisons(cfg)}
    eff = _csv(out / "pair_effects.csv")
    assert {r["comparison"] for r in eff} == {n for n, c in comps.items() if c.family != "wide-seed"}
    prim = {int(r["pair_id"]): r for r in eff if r["comparison"] == "base~tuned"}
    for r in matched:
        e = prim[int(r["pair_id"])]
        for k in ("did", "did_ci_low", "did_ci_high", "z", "p_sampling", "p_calibrated", "q_calibrated",
                  "discovered", "delta_target", "delta_reference"):
            assert e[k] == r[k], k
    seed_names = [n for n, c in comps.items() if c.family == "seed"]
    z_of = {n: np.array([float(r["z"]) for r in eff if r["comparison"] == n]) for n in comps}
    counts = {r["comparison"]: r for r in _csv(out / "comparison_counts.csv")}
    n_null = sum(len(z_of[n]) for n in seed_names)
    for name, c in comps.items():
        if c.family == "wide-seed":
            continue
        rows = [r for r in eff if r["comparison"] == name]
        cnt = counts[name]
        own = len(rows) if c.family == "seed" else 0
        assert int(cnt["null_pairs"]) == n_null - own
        null = np.concatenate([z_of[n] for n in seed_names if n != name])
        for r in rows:
            p = (1 + np.sum(np.abs(null) >= abs(float(r["z"])) * (1 - 1e-5))) / (len(null) + 1)
            assert abs(float(r["p_calibrated"]) - p) <= 2 / (len(null) + 1)
        assert int(cnt["matched_pairs"]) == len(rows)
        assert int(cnt["discoveries"]) == sum(r["discovered"] == "true" for r in rows)
        assert int(cnt["toward_target"]) == sum(r["discovered"] == "true" and float(r["did"]) > 0 for r in rows)
        sel = [r for r in rows if r["selected"] == "true"]
        assert len(sel) == min(cfg.deltas.top_n, len(rows))
        assert int(cnt["confirmed"]) == sum(r["confirmed"] == "true" for r in rows)
        for r in sel:
            assert (r["confirmed"] == "true") == (float(r["q_held_out"]) <= alpha)
        unsel = [abs(float(r["z_selection"])) for r in rows if r["selected"] != "true"]
        assert not unsel or min(abs(float(r["z_selection"])) for r in sel) >= max(unsel) - 1e-6

    held = _csv(out / "held_out_top.csv")
    assert [int(r["rank"]) for r in held] == list(range(1, len(held) + 1))
    zs = [abs(float(r["z_selection"])) for r in held]
    assert zs == sorted(zs, reverse=True)
    assert {int(r["pair_id"]) for r in held} == {p for p, e in prim.items() if e["selected"] == "true"}

    rank = _csv(out / "ranking_by_delta.csv")
    assert len(rank) == len(matched) and [int(r["rank"]) for r in rank] == list(range(1, len(rank) + 1))
    key = [(r["discovered"] != "true", -abs(float(r["z"]))) for r in rank]
    assert key == sorted(key)

    summ = json.loads((out / "summary.json").read_text())
    bt = summ["base_vs_tuned"]
    assert bt["matched_pairs"] == len(matched)
    assert bt["discoveries"] == sum(r["discovered"] == "true" for r in matched)
    assert summ["probe"]["sentences"] == 13 * 6 and summ["probe"]["templates"] == 26
    assert summ["probe"]["half_a"]["templates"] + summ["probe"]["half_b"]["templates"] == 26
    assert summ["calibration"]["null_comparisons"] == seed_names
    claims = {c["id"]: c for c in summ["claims"]}
    assert {"domain_specific_change", "target_specific_beyond_control", "held_out_confirmation",
            "target_latents:tuned_vs_base"} <= set(claims)
    for cid, stat, fam_obs, fam_null in (("domain_specific_change", "discoveries", "fine-tuning", "seed"),
                                         ("target_specific_beyond_control", "toward_target", "fine-tuning",
                                          "control")):
        c = claims[cid]
        units = {u for g in c["groups"].values() for u in g}
        # the null family's pairs among the SAEs of the contrast (the seed pairs of its two models)
        null_comps = [n for n in comps if comps[n].family == fam_null and comps[n].a in units and comps[n].b in units]
        assert sorted(c["observed"]["values"]) == sorted(int(counts[n][stat]) for n in comps
                                                         if comps[n].family == fam_obs)
        assert sorted(c["null"]["values"]) == sorted(int(counts[n][stat]) for n in null_comps)
        assert c["kind"] == "sae_permutation" and c["supported"] == (c["test"]["p"] <= alpha)
    dom = {r["sae"]: r for r in _csv(out / "domain_latents.csv")}
    assert set(dom) == {n for n, s in sae_specs(cfg).items() if not s.wide}
    assert {c["lens"] for c in claims.values()} == {"deltas"}
    assert {cid for cid, c in claims.items() if c["role"] != "claim"} <= {"control_change"}
    assert claims.get("control_change", {"role": "comparison"})["role"] == "comparison"
    assert DeltasResult.load(out).claims == summ["claims"]
    c = claims["target_latents:tuned_vs_base"]
    assert c["observed"]["values"] == [int(dom[n]["target_latents"]) for n in ("tuned", "tuned_seed1")]
    assert summ["target_latents"] == {n: int(r["target_latents"]) for n, r in dom.items()}

    top = _csv(out / "top_target_features.csv")
    for r in top:
        assert float(r["q_value"]) <= alpha and float(r["target_minus_reference"]) > 0
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
    assert inter["pairs"] == [int(r["pair_id"]) for r in rank]  # the calibrated ranking
    assert inter["tuned"][: len(rank)] == [int(r["tuned_latent"]) for r in rank]
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
