"""Stage 03_study end to end on the tiny run (featevo/study_stage.py) and its report section (featevo/report/study.py):
the study's tables, the ladder, its claims and the corrected answer quoted from stages 02-03, then the section."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_report import copy_of_run, report_cfg  # noqa: F401  (session fixture: stages 01-05 on the tiny config)

from featevo.layout import DELTAS, REPORT, STUDY, ReportFiles, StudyFiles, stage_dir
from featevo.study import study_block
from featevo.study_ladder import RUNGS
from featevo.study_results import LATENTS, StudyResult


@pytest.fixture(scope="module")
def study_run(report_cfg, tmp_path_factory):  # noqa: F811
    """The report fixture's run with a real 03_study (its placeholder dropped) and the report rebuilt on it."""
    from featevo import report, study_stage

    cfg = copy_of_run(report_cfg, tmp_path_factory.mktemp("study") / "outputs",
                      ignore=lambda d, names: [n for n in names if n in (STUDY, REPORT)])
    study_stage.run(cfg)
    report.run(cfg)
    return cfg


def test_the_study_stage_writes_its_tables_by_its_procedure(study_run):
    cfg = study_run
    s = stage_dir(cfg, STUDY)
    res = StudyResult.load(s)
    summ = res.summary
    assert summ["study_block"] == study_block(cfg.harvest.layer) == cfg.harvest.layer - 1
    assert set(summ["comparisons"]) == {"tuned", "seed", "control"}
    d_sae = cfg.sae.num_latents
    latents = LATENTS.read(s)
    assert len(latents) == 3 * d_sae
    n = cfg.study.top_n
    for comp in ("tuned", "seed", "control"):
        rows = latents.where(comparison=comp)
        np.testing.assert_allclose([r["spec_change"] for r in rows], [r["change"] for r in rows], atol=2e-6)
        types = [r["type"] for r in rows]
        assert types.count("tuned financial") + types.count("consistent") == n
        summ_row = res.change_summary.where(comparison=comp)[0]
        assert summ_row["n_up"] + summ_row["n_down"] <= d_sae
        assert summ_row["n_consistent"] == types.count("consistent")
    ladder = res.ladder.rows()
    assert [r["rung"] for r in ladder] == list(range(len(RUNGS)))
    r0 = ladder[0]
    assert r0["tuned_overlap"] == res.change_summary.where(comparison="tuned")[0]["n_consistent"]
    assert r0["tuned_new"] == pytest.approx(1 - r0["tuned_overlap"] / n, rel=1e-5)
    assert r0["chance_new"] == pytest.approx(1 - n / d_sae, rel=1e-5)  # CSV floats: 6 significant digits
    assert ladder[6]["headline"] == pytest.approx(ladder[6]["tuned_new"] - ladder[6]["seed_new"], abs=1e-5)
    assert ladder[7]["ci_low"] <= ladder[7]["headline"] <= ladder[7]["ci_high"]
    top = res.top.where(comparison="tuned")
    assert [r["change"] for r in top] == sorted((r["change"] for r in top), reverse=True)
    assert all(r["type"] == "tuned financial" for r in res.emerging)
    assert len(res.deltas.where(comparison="tuned")) == min(cfg.study.delta_top_n, d_sae)
    for f in (StudyFiles.FOUR_PANEL, StudyFiles.FOUR_PANEL_CORRECTED):
        assert (s / f).stat().st_size > 10_000 and (s / f).with_suffix(".svg").is_file()


def test_its_claims_are_checks_and_the_corrected_answer_is_quoted(study_run):
    cfg = study_run
    res = StudyResult.load(stage_dir(cfg, STUDY))
    assert {c["id"] for c in res.claims} == {"study:index_overlap_vs_chance", "study:matched_overlap_vs_chance",
                                             "study:beyond_seed"}
    assert all(c["lens"] == "study" and c["role"] == "check" for c in res.claims)
    c0 = next(c for c in res.claims if c["id"] == "study:index_overlap_vs_chance")
    assert c0["test"]["p"] == pytest.approx(res.ladder.rows()[0]["p_chance_at_most"])
    quoted = {q["id"]: q for q in res.summary["corrected_answer"]}
    s3 = json.loads((stage_dir(cfg, DELTAS) / "summary.json").read_text())
    for c in s3["claims"]:
        if c["id"] in quoted:
            assert quoted[c["id"]]["supported"] == c["supported"] and quoted[c["id"]]["observed"] == c["observed"]
    assert "domain_specific_change" in quoted
    from featevo.layout import COMPARE
    from featevo.results import LATENTS as S2_LATENTS

    s2 = S2_LATENTS.read(stage_dir(cfg, COMPARE))
    live = [r["class"] for r in s2 if r["sae"] == "tuned" and r["class"] != "dead"]
    cn = res.summary["class_new"]
    assert cn["all_live"] == pytest.approx(live.count("new") / len(live)) and cn["n_live"] == len(live)
    assert 0.0 <= cn["top_as_published"] <= 1.0 and 0.0 <= cn["top_corrected"] <= 1.0


def test_the_report_shows_the_study_section_and_its_findings(study_run):
    cfg = study_run
    out = stage_dir(cfg, REPORT)
    html = (out / ReportFiles.HTML).read_text(encoding="utf-8")
    assert 'id="study"' in html and "tatsath/InterpUseCases" in html
    for tid in ("tbl-study-headline", "tbl-study-ladder", "tbl-study-top", "tbl-study-emerging", "tbl-study-summary",
                "tbl-study-deltas"):
        assert f'id="{tid}"' in html
    assert (out / ReportFiles.FIGURES / ReportFiles.STUDY_FOUR_PANEL).is_file()
    findings = {f["id"]: f for f in json.loads((out / ReportFiles.FINDINGS).read_text())}
    res = StudyResult.load(stage_dir(cfg, STUDY))
    head = findings["study_headline"]
    assert head["role"] == "check" and head["values"]["tuned"] == res.ladder.rows()[0]["tuned_new"]
    assert head["values"]["published"] == 0.75
    for cid in ("study_index_overlap_vs_chance", "study_matched_overlap_vs_chance", "study_beyond_seed"):
        assert findings[cid]["role"] == "check" and findings[cid]["claims"]


def test_a_layer_without_a_block_below_is_a_one_line_config_error(study_run):
    import dataclasses

    from featevo.errors import ConfigError
    from featevo.study_stage import check

    with pytest.raises(ConfigError, match="harvest.layer=0"):
        check(dataclasses.replace(study_run, harvest=dataclasses.replace(study_run.harvest, layer=0)))
    check(study_run)
