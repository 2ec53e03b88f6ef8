"""Stage 05's model-diffing and causal sections on real tiny runs of ``02_model_diffing`` and ``03_causal``.

The report fixture of test_report.py (stages 01-04, placeholders for the two stages) is copied, the two stages are
run for real with small configs, and the report is rebuilt from perturbed copies of their outputs: the sentences
must follow the numbers (a count that does not beat its null is said not to), the causal table has one row per
flagged latent with its null beside it, findings.json carries values, null and interval, and the lens agreement
table equals a recomputation from the stage CSVs.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import pytest

from featevo.layout import CAUSAL, DIFFING, stage_dir
from test_report import _Parser, copy_of_run, report_cfg, shown_equals, table  # noqa: F401  (session fixture)


@pytest.fixture(scope="module")
def lens_cfg(report_cfg, tmp_path_factory):  # noqa: F811
    """A copy of the report fixture's run with 02_model_diffing, 03_causal and 03_study run for real (small configs;
    the report fixture's placeholders of these optional stages are reported absent)."""
    from featevo import causal, diffing, study_stage
    from featevo.config import CrosscoderConfig, DiffingConfig, StagewiseConfig

    cfg = copy_of_run(
        report_cfg, tmp_path_factory.mktemp("report_diffing") / "outputs",
        diffing=DiffingConfig(stagewise=StagewiseConfig(tokens=1024, orders=2, domain_orders=1),
                              crosscoder=CrosscoderConfig(tokens=1024), max_tokens=3000),
        causal=dataclasses.replace(report_cfg.causal, top_n=3, n_random=6, n_bootstrap=50, batch_size=32))
    diffing.run(cfg, force=True)
    causal.run(cfg, force=True)
    study_stage.run(cfg, force=True)
    return cfg


def _build(cfg, up, out: Path) -> tuple[dict, str, _Parser]:
    from featevo.report import build_report

    build_report(cfg, out, up)
    findings = {f["id"]: f for f in json.loads((out / "findings.json").read_text())}
    p = _Parser()
    p.feed((out / "report.html").read_text(encoding="utf-8"))
    return findings, (out / "report.md").read_text(encoding="utf-8"), p


@pytest.fixture(scope="module")
def built(lens_cfg, tmp_path_factory):
    from featevo.report import load_upstream

    up = load_upstream(lens_cfg)
    assert up.diffing is not None and up.causal is not None and not up.absent
    return up, *_build(lens_cfg, up, tmp_path_factory.mktemp("rep"))


def _up(lens_cfg):
    from featevo.report import load_upstream

    up = load_upstream(lens_cfg)
    up.diffing.summary = copy.deepcopy(up.diffing.summary)
    up.causal.summary = copy.deepcopy(up.causal.summary)
    return up


def _reclaim(cfg, up) -> None:
    """The stages' claims made again from their (perturbed) summaries, as the stages make them."""
    from featevo.causal import causal_claims
    from featevo.diffing import diffing_claims

    s = up.diffing.summary
    s["claims"] = diffing_claims(s, cfg.diffing.alpha)
    up.causal.summary["claims"] = causal_claims(cfg, up.causal.summary)


# --------------------------------------------------------------------------------------------
# Model diffing
# --------------------------------------------------------------------------------------------
def _null_runs(sw: dict, name: str) -> list[float]:
    null = "planted_null" if name == "planted" else "null"
    return sw[null]["rotation_mean_per_order"] + sw[f"{null}_held_out"]["rotation_mean_per_order"]


def test_stagewise_findings_carry_the_counts_beside_their_nulls(lens_cfg, built):
    up, findings, md, parsed = built
    sw = up.diffing.summary["stagewise"]
    n = lens_cfg.sae.num_latents
    for name in ("tuned", "control", "planted"):
        f = findings[f"diffing_stagewise_{name}"]
        (c,) = f["claims"]
        # the flag count rides along as a descriptive number; the test's unit is the run
        assert c["observed"]["count"] == sw[name]["flagged"] and c["observed"]["n"] == n
        runs = _null_runs(sw, name)
        assert len(runs) == lens_cfg.diffing.stagewise.orders + 1  # every null data order is one null run
        assert c["null"]["values"] == pytest.approx(runs)
        assert c["observed"]["value"] == pytest.approx(sw[name]["rotation_mean"])
        at_least = sum(r >= sw[name]["rotation_mean"] for r in runs)
        assert c["test"]["p"] == pytest.approx((1 + at_least) / (1 + len(runs)))
        assert c["test"]["min_attainable_p"] == pytest.approx(1 / (1 + len(runs)))
        held = sw["planted_null_held_out" if name == "planted" else "null_held_out"]["flagged"]
        v = f["values"]
        assert v["held_out_flags"] == held and v["null_expects"] == pytest.approx(lens_cfg.diffing.alpha * n)
        assert ("does not rotate the latents detectably more" in f["text"]) == (not f["supported"])
        assert "smallest attainable" in f["text"] and "binomial" not in f["text"]
        assert f"{sw[name]['flagged']} of {n} latents flagged" in f["text"]
        assert f["text"] in md
    assert findings["diffing_stagewise_control"]["role"] == "comparison"
    _, rows = table(parsed, "tbl-diffing-stagewise")
    assert [r[0] for r in rows][:3] == ["the tuned twin", "the control twin (a comparison: the same recipe on "
                                       "reference-domain text)", "the planted twin (positive control)"]
    assert [r[1] for r in rows][:3] == ["claim", "comparison", "positive control"]
    assert rows[0][4] == f"{sw['tuned']['flagged']} of {n}"


@pytest.mark.parametrize("run", ["above", "below"])
def test_stagewise_sentence_follows_the_run_statistic(lens_cfg, tmp_path, run):
    up = _up(lens_cfg)
    sw = up.diffing.summary["stagewise"]
    sw["null"]["rotation_mean_per_order"] = [0.01 * (1 + i % 7) for i in range(30)]  # 31 null runs with the held out
    sw["tuned"]["rotation_mean"] = 1.0 if run == "above" else 0.0
    _reclaim(lens_cfg, up)
    findings, md, parsed = _build(lens_cfg, up, tmp_path)
    f = findings["diffing_stagewise_tuned"]
    held = sw["null_held_out"]["rotation_mean_per_order"][0]
    if run == "above":
        expected = (1 + int(held >= 1.0)) / 32
        assert f"p = {expected:.3f}" in f["text"] and "smallest attainable 0.031" in f["text"]
        assert f["supported"] is True and "rotates the latents more" in f["text"]
    else:
        assert "p = 1.000, smallest attainable 0.031" in f["text"]
        assert f["supported"] is False and "does not rotate the latents detectably more" in f["text"]
    _, rows = table(parsed, "tbl-diffing-stagewise")
    assert rows[0][11] == ("yes" if run == "above" else "no")
    assert rows[0][10] == "0.031"


@pytest.mark.parametrize("case", ["beyond", "equal"])
def test_crosscoder_and_comparison_sentences_follow_the_numbers(lens_cfg, tmp_path, case):
    up = _up(lens_cfg)
    cc = up.diffing.summary["crosscoder"]
    cc["base~tuned"]["b_only_confirmed"] = 20 if case == "beyond" else 3
    cc["base~base"]["b_only_confirmed"] = 0 if case == "beyond" else 3
    sw = up.diffing.summary["stagewise"]
    sw["null"]["rotation_mean_per_order"] = [0.0] * 30  # 31 null runs: the control twin's run can beat them
    sw["control"]["rotation_mean"] = 1.0 if case == "beyond" else -1.0
    sw["planted_null"]["rotation_mean_per_order"] = [0.0] * 30  # the planted twin's run passes its control
    sw["planted"]["rotation_mean"] = 1.0
    _reclaim(lens_cfg, up)
    findings, md, parsed = _build(lens_cfg, up, tmp_path)
    t = findings["diffing_crosscoder_base_tuned"]["text"]
    assert t.startswith(f"The base~tuned crosscoder has {20 if case == 'beyond' else 3} tuned-specific latents")
    assert f"against {0 if case == 'beyond' else 3} for the base~base null" in t
    # the unit is the crosscoder: with one null crosscoder p is 1/2 at best, so 20 against 0 is not claimed
    assert "does not exceed the null crosscoders" in t and "this exceeds" not in t
    assert f"p = {'0.500' if case == 'beyond' else '1.000'}, smallest attainable 0.500" in t
    assert "the counts are descriptive" in t
    neg = findings["diffing_stagewise_control"]
    assert neg["role"] == "comparison" and neg["supported"] is (case == "beyond")
    assert "This is a comparison, not a control" in neg["text"] and "fails" not in neg["text"]
    # the control twin's run is listed among the comparisons, never among the controls, and cautions nothing
    box = md[:md.index("<a id=\"setup\">")]
    first = box.index(neg["text"])
    assert box.index("**Comparisons**") < first < box.index("**Controls**")
    assert findings["diffing_stagewise_planted"]["supported"] is True
    assert "(Caution: a control of stage-wise diffing fails" not in md  # the control twin's run cautions nothing
    _, rows = table(parsed, "tbl-diffing-crosscoder")
    null_row = next(r for r in rows if r[0].startswith("base~base"))
    assert null_row[0] == "base~base (null)" and null_row[9] == ("0" if case == "beyond" else "3")


def test_planted_control_table_recomputes_the_aim(lens_cfg, built, tmp_path):
    up, findings, md, parsed = built
    lenses = up.diffing.planted["lenses"]
    _, rows = table(parsed, "tbl-diffing-planted")
    assert len(rows) == len(lenses)
    for r, (lens, v) in zip(rows, lenses.items()):
        p = v["planted"]
        assert p["rule"] == "change" and p["p_rank"] == pytest.approx(p["rank"] / p["n_latents"])
        assert r[3] == f"{p['rank']} of {p['n_latents']}" and shown_equals(r[2], p["auroc"])
        assert r[5] == ("met" if p["rank"] <= 3 else "not met")
        assert r[7] == f"{v['main']['rank']} of {v['main']['n_latents']}"
        assert (r[6] != "\u2013") == ("null" in p)  # the replica's same rule, when there is a replica
    up = _up(lens_cfg)
    up.diffing.planted = copy.deepcopy(up.diffing.planted)
    for v in up.diffing.planted["lenses"].values():
        v["planted"].update(rank=1, auroc=0.97, meets_aim=False)  # a stale stored flag must not be trusted
    f2, _, p2 = _build(lens_cfg, up, tmp_path)
    assert f2["diffing_planted"]["text"].startswith("The planted positive control, scored on change, meets its aim")
    assert f"for {len(lenses)} of {len(lenses)} lenses" in f2["diffing_planted"]["text"]
    assert all(r[5] == "met" for r in table(p2, "tbl-diffing-planted")[1])


def test_lens_agreement_table_equals_a_recomputation(lens_cfg, built):
    from featevo.lenses import overlap_test

    up, findings, md, parsed = built
    n = lens_cfg.sae.num_latents
    stagewise = {r["latent"] for r in up.diffing.stagewise.where(contrast="tuned") if r["flagged"]}
    _, sets_rows = table(parsed, "tbl-lens-sets")
    names = [r[0] for r in sets_rows]
    assert names[:3] == ["stage-wise", "matching", "crosscoder"] and set(names[3:]) <= {"fixed dictionary"}
    assert sets_rows[0][1] == f"{len(stagewise)} of {n}"
    _, rows = table(parsed, "tbl-lens-overlap")
    n_pairs = len(names) * (len(names) - 1) // 2
    assert len(rows) == n_pairs  # every lens is there: every pair
    f = findings["lens_agreement"]
    got = {(p["a"], p["b"]): p for p in f["values"]["pairs"]}
    sw_cc = got[("stage-wise", "crosscoder")]
    assert sw_cc["size_a"] == len(stagewise)
    # the row equals the hypergeometric test of the sets the finding records
    cc_set = set(range(sw_cc["size_b"]))  # same size; overlap recomputed below from the latent table
    assert overlap_test(stagewise, cc_set, n)["expected"] == pytest.approx(sw_cc["expected"])
    _, lat_rows = table(parsed, "tbl-lens-latents") if "tbl-lens-latents" in parsed.tables else (None, [])
    both = sum(1 for r in lat_rows if r[1] == "yes" and r[3] == "yes")
    assert both == sw_cc["overlap"] or len(lat_rows) == 40
    assert ("beyond chance" in f["text"]) and re.search(rf"agree beyond chance for \d of {n_pairs} pairs", f["text"])


def test_lens_agreement_says_which_lens_is_missing(lens_cfg, tmp_path):
    from featevo.tables import Table

    from featevo.diffing_lenses.crosscoder import flagged_base_latents

    up = _up(lens_cfg)
    up.diffing.crosscoder = Table(up.diffing.crosscoder.schema, [])
    up.diffing.summary["lens_sets"]["lenses"]["crosscoder"] = flagged_base_latents(up.diffing.crosscoder, tmp_path,
                                                                                   tmp_path)
    findings, md, parsed = _build(lens_cfg, up, tmp_path)
    _, rows = table(parsed, "tbl-lens-overlap")
    pairs = [r[0] for r in rows]
    assert "stage-wise & matching" in pairs and not any("crosscoder" in r for r in pairs)
    assert "Missing crosscoder (no base~tuned crosscoder" in md
    assert "(missing: crosscoder)" in findings["lens_agreement"]["text"]


# --------------------------------------------------------------------------------------------
# Causal checks
# --------------------------------------------------------------------------------------------
def test_causal_table_has_one_row_per_flagged_latent_with_its_null(lens_cfg, built):
    up, findings, md, parsed = built
    flagged = [r for r in up.causal.effects if r["role"] == "flagged"]
    _, rows = table(parsed, "tbl-causal-effects")
    assert len(rows) == len(flagged) == 2 * lens_cfg.causal.top_n
    by = {(r["latent"], r["intervention"]): r for r in flagged}
    for row in rows:
        e = by[(int(row[0]), row[2])]
        pct, p = row[5].split(" / ")
        assert shown_equals(pct, e["target_null_percentile"]) and shown_equals(p, e["target_null_p"])
        assert row[9] == ("yes" if e["beats_null_target"] else "no")
    s = up.causal.summary
    for kind in s["interventions"]:
        f = findings[f"causal_{kind}_target"]
        (c,) = f["claims"]
        assert c["observed"]["count"] == s["interventions"][kind]["beat_null"]["target"]
        assert c["observed"]["n"] == lens_cfg.causal.top_n and c["null"]["value"] == lens_cfg.causal.alpha
        assert c["observed"]["ci_low"] <= c["observed"]["estimate"] <= c["observed"]["ci_high"]
        assert ("does not exceed chance" in f["text"]) == (not f["supported"])
    ident = findings["causal_identity"]
    assert ident["values"]["passed"] is True and "the check passes" in ident["text"]
    (pc,) = findings["causal_planted"]["claims"]
    assert pc["observed"]["estimate"] == pytest.approx(s["planted_control"]["effect"])
    assert [pc["observed"]["ci_low"], pc["observed"]["ci_high"]] == pytest.approx(s["planted_control"]["ci"])


def test_causal_sentences_follow_perturbed_numbers(lens_cfg, tmp_path):
    up = _up(lens_cfg)
    s = up.causal.summary
    n = s["interventions"]["ablate"]["flagged"]
    s["interventions"]["ablate"]["beat_null"]["target"] = n
    s["interventions"]["patch"]["beat_null"]["target"] = 0
    s["splice_identity"]["max_abs_logit_diff"] = 0.5
    pc = s["planted_control"]
    pc.update(effect=2.0, ci=[1.5, 2.5], null_p=0.01)
    _reclaim(lens_cfg, up)
    findings, md, _ = _build(lens_cfg, up, tmp_path)
    assert "this exceeds chance" in findings["causal_ablate_target"]["text"]
    assert f"{n} of {n} flagged" in findings["causal_ablate_target"]["text"]
    assert "this does not exceed chance" in findings["causal_patch_target"]["text"]
    assert "the check fails" in findings["causal_identity"]["text"]
    assert findings["causal_planted"]["supported"] is True and "+2.00" in findings["causal_planted"]["text"]
    pc.update(ci=[-0.5, 2.5])  # the interval now holds 0: no longer beyond the null
    _reclaim(lens_cfg, up)
    findings, _, _ = _build(lens_cfg, up, tmp_path / "again")
    assert findings["causal_planted"]["supported"] is False and "does not beat the null" in \
        findings["causal_planted"]["text"]


def test_absent_stages_are_said_in_one_sentence(lens_cfg, tmp_path):
    up = _up(lens_cfg)
    up.diffing, up.causal = None, None
    up.absent = {DIFFING: f"stage {DIFFING} was not run", CAUSAL: f"stage {CAUSAL} was not run"}
    findings, md, parsed = _build(lens_cfg, up, tmp_path)
    assert f"No model-diffing results: stage {DIFFING} was not run." in md
    assert f"No causal checks: stage {CAUSAL} was not run." in md
    assert "tbl-diffing-stagewise" not in parsed.tables and "tbl-causal-effects" not in parsed.tables


def test_placeholder_stages_are_reported_absent(report_cfg):  # noqa: F811
    from featevo.report import load_upstream

    up = load_upstream(report_cfg)  # test_report's placeholders: a manifest without a summary
    assert up.diffing is None and up.causal is None
    assert "without its summary" in up.absent[DIFFING] and stage_dir(report_cfg, CAUSAL).is_dir()


def test_the_stages_make_their_claims_and_the_report_renders_them(lens_cfg, built, tmp_path):
    from featevo.claims import evaluate

    up, findings, md, parsed = built
    d, c = up.diffing.claims, up.causal.claims
    assert {x["lens"] for x in d} == {"stagewise", "crosscoder", "fixed_dictionary"}
    assert {x["lens"] for x in c} == {"causal"}
    roles = {x["id"]: x["role"] for x in d + c}
    assert roles["stagewise_flags:control"] == "comparison" and roles["stagewise_flags:planted"] == \
        "positive_control" and roles["crosscoder_confirmed:base~tuned"] == "claim"
    assert roles["crosscoder_confirmed:base~control"] == "comparison"
    assert roles["causal_planted_control"] == "positive_control"
    sw = up.diffing.summary["stagewise"]
    for x in d:
        if x["lens"] == "stagewise":
            assert x["observed"]["count"] == sw[x["contrast"]]["flagged"]
            assert findings[f"diffing_stagewise_{x['contrast']}"]["supported"] == evaluate(x)["supported"]
    # a stored verdict the numbers do not support is not trusted: the report re-derives it
    up2 = _up(lens_cfg)
    tampered = next(x for x in up2.diffing.summary["claims"] if x["id"] == "stagewise_flags:tuned")
    tampered["test"].update(p=0.0, min_attainable_p=0.0)
    tampered["supported"] = True  # 3 null runs: p = 1/4 at best, whatever the stored p says
    f2, _, _ = _build(lens_cfg, up2, tmp_path)
    assert f2["diffing_stagewise_tuned"]["supported"] is False
    assert "does not rotate the latents detectably more" in f2["diffing_stagewise_tuned"]["text"]
    assert "smallest attainable 0.250" in f2["diffing_stagewise_tuned"]["text"]


def test_the_stage_expresses_its_lens_sets_as_base_latents(lens_cfg, built):
    from featevo.layout import TRAIN, TrainFiles, main_saes, sae_dir
    from featevo.lenses import best_match, decoder

    up = built[0]
    ls = up.diffing.summary["lens_sets"]
    assert ls["n_latents"] == lens_cfg.sae.num_latents
    sw = ls["lenses"]["stage-wise"]["latents"]
    assert sw == [r["latent"] for r in up.diffing.stagewise.where(contrast="tuned") if r["flagged"]]
    flagged = [r["latent"] for r in up.diffing.crosscoder.where(pair="base~tuned") if r["class"] != "shared"]
    cc_dir = stage_dir(lens_cfg, DIFFING) / "crosscoders" / "base_tuned" / TrainFiles.SAE
    w_cc = decoder(cc_dir / TrainFiles.SAE_WEIGHTS)
    w_base = decoder(sae_dir(stage_dir(lens_cfg, TRAIN), main_saes(lens_cfg, "base")[0]) / TrainFiles.SAE_WEIGHTS)
    idx, _ = best_match(w_cc[flagged, : w_base.shape[1]], w_base)
    assert ls["lenses"]["crosscoder"]["latents"] == sorted({int(j) for j in idx if j >= 0})


def test_the_fixed_dictionary_lens_is_calibrated_against_the_replica_and_rendered(lens_cfg, built):
    from featevo.diffing_lenses.fixed_dictionary import LATENTS, MAIN

    up, findings, md, parsed = built
    alpha = lens_cfg.diffing.alpha
    fd = up.diffing.summary["fixed_dictionary"]
    assert fd["available"] and fd["beyond_replica"]["available"]  # the tiny run has a replica twin
    claims = {x["id"]: x for x in up.diffing.claims if x["lens"] == "fixed_dictionary"}
    assert set(claims) == {f"fixed_dictionary:{c}" for c in ("beyond_replica", MAIN, "tuned~planted", "sham",
                                                              "replica~tuned")}
    roles = {k.split(":")[1]: c["role"] for k, c in claims.items()}
    assert roles == {"beyond_replica": "claim", MAIN: "claim", "tuned~planted": "positive_control",
                     "sham": "negative_control", "replica~tuned": "check"}
    assert claims["fixed_dictionary:sham"]["vacuous"] == (not claims["fixed_dictionary:tuned~planted"]["supported"])
    for c in claims.values():  # every p beside its smallest attainable value, and the verdict from its numbers
        t = c["test"]
        assert t["min_attainable_p"] is not None and 0 < t["min_attainable_p"] <= t["p"] <= 1
        assert c["supported"] == (t["p"] <= alpha)
    br = fd["beyond_replica"]["per_dictionary"]
    assert claims["fixed_dictionary:beyond_replica"]["test"]["p"] == max(e["simes_p"] for e in br.values())
    rows = LATENTS.read(stage_dir(lens_cfg, DIFFING))
    for r in rows:
        if r["contrast"] == MAIN:
            assert r["survives_replica"] == (r["q_vs_replica"] <= alpha and r["discovered"])
        else:
            assert r["p_vs_replica"] is None and r["survives_replica"] is False
    for n, e in br.items():
        assert e["survivors"] == sum(1 for r in rows if r["dictionary"] == n and r["survives_replica"])
    # rendered from its claims: each claim a finding, with its p and smallest attainable p in the text
    for cid, c in claims.items():
        f = findings["diffing_fixed_dictionary_" + "".join(ch if ch.isalnum() else "_" for ch in cid)]
        assert f["supported"] == c["supported"]
        assert "p = " in f["text"] and "smallest attainable" in f["text"]
    # the replica check is a measurement, worded neutrally in the Controls list (neither passes nor fails)
    rep = findings["diffing_fixed_dictionary_fixed_dictionary_replica_tuned"]["text"]
    assert f"Check: {rep[:1].lower()}{rep[1:]}" in md
    assert f"Passes: {rep}" not in md and f"FAILS: {rep}" not in md


def test_the_answer_states_the_lens_planted_rank_by_the_change_rule(lens_cfg, built, tmp_path):
    """The answer's controls carry the fixed-dictionary lens's planted rank from planted.json (pass exactly when the
    rank meets the aim); a perturbed rank changes the verdict."""
    import copy

    up, findings, md, _ = built
    r = up.diffing.planted["lenses"]["fixed_dictionary"]["planted"]
    aim = up.diffing.planted["aim"]["rank_at_most"]
    line = next(x for x in md.splitlines() if "in the lens's localised change" in x)
    assert f"ranks {r['rank']} of {r['n_latents']}" in line
    assert line.startswith("- Passes" if r["rank"] <= aim else "- FAILS")
    up2 = copy.copy(up)
    up2.diffing = copy.copy(up.diffing)
    up2.diffing.planted = copy.deepcopy(up.diffing.planted)
    bad = up2.diffing.planted["lenses"]["fixed_dictionary"]["planted"]
    bad.update(rank=aim + 7, meets_aim=False)
    md2 = _build(lens_cfg, up2, tmp_path)[1]
    line2 = next(x for x in md2.splitlines() if "in the lens's localised change" in x)
    assert line2.startswith("- FAILS") and f"ranks {aim + 7} of" in line2
