"""featevo.load_run on the tiny run of the report tests (stages 01-05, stage 04 fabricated): every accessor
returns the stage's own typed table or file, and a missing stage is one line naming the command that makes it."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
from test_report import report_cfg  # noqa: F401  (session fixture: stages 01-05 on the tiny config)

import featevo
from featevo.errors import StageError
from featevo.layout import run_dir, stage_dir
from featevo.results import LABELS, PAIRS, RANKING, CompareResult


@pytest.fixture(scope="module")
def run(report_cfg):  # noqa: F811
    return featevo.load_run(report_cfg)


def test_exported_from_package():
    from featevo.api import Run, load_run

    assert featevo.load_run is load_run and featevo.Run is Run


def test_tables_equal_stage_outputs(run, report_cfg):  # noqa: F811
    s2, s3, s4 = (stage_dir(report_cfg, s) for s in ("02_compare_features", "03_activation_deltas", "04_interpret"))
    assert run.pairs.rows() == PAIRS.read(s2).rows()
    assert run.latents.rows() == CompareResult.load(s2).latents.rows()
    assert len(run.comparison_pairs) >= len(run.pairs) and len(run.comparisons) > 1
    assert run.ranking.rows() == RANKING.read(s3).rows()
    assert len(run.pair_effects) > 0 and len(run.feature_table) > 0
    top = run.top_changes(3)
    assert [r["rank"] for r in top] == sorted(r["rank"] for r in run.ranking)[:3]
    assert run.labels.rows() == LABELS.read(s4).rows()
    assert run.manifest("02_compare_features")["stage"] == "02_compare_features"
    assert set(run.stages()) >= {"01_train_sae", "02_compare_features", "05_report"}
    assert run.has("05_report") and run.report_html.is_file() and isinstance(run.findings, (list, dict))
    assert set(run.twin_eval["eval_mlm_loss"]["target"]) >= {"base", "tuned"} and "drift" in run.twin_report


def test_labels_and_contexts(run):
    rows = [r for r in run.labels if r["tuned_latent"] is not None]
    ok = [r for r in rows if not str(r["tuned_label"]).startswith("[failed")]
    failed = [r for r in rows if str(r["tuned_label"]).startswith("[failed")]
    assert ok and failed
    assert run.label("tuned", ok[0]["tuned_latent"]) == ok[0]["tuned_label"]
    assert run.label("tuned", failed[0]["tuned_latent"]) is None
    assert run.label("tuned", 10_000) is None
    assert set(run.labels_for("tuned")) == {r["tuned_latent"] for r in ok}
    lat = int(run.top_changes(1)[0]["tuned_latent"])
    ctx = run.latent_contexts("tuned", lat)
    assert ctx and {"tokens", "acts", "max_act", "text"} <= set(ctx[0])
    cats = run.category_activations("tuned", lat)
    assert {r["domain"] for r in cats} == {"financial", "general"}


def test_sae_loads_through_sae_lens(run):
    sae = run.sae("tuned")
    assert sae.cfg.d_sae == 24
    assert run.sae_metrics("tuned")["l0"] > 0 if "l0" in run.sae_metrics("tuned") else True
    assert set(run.train_summary) >= {"base", "tuned"}
    assert len(run.steps("base")) > 0
    with pytest.raises(KeyError, match="no SAE 'nope'"):
        run.sae("nope")


def test_open_by_folder_and_copied_folder(run, report_cfg, tmp_path):  # noqa: F811
    by_dir = featevo.load_run(run_dir(report_cfg))
    assert by_dir.dir.resolve() == run.dir.resolve()
    assert by_dir.pairs.rows() == run.pairs.rows()
    copy = tmp_path / "moved" / "tinycopy"
    shutil.copytree(run_dir(report_cfg), copy)
    moved = featevo.load_run(str(copy))
    assert moved.name == "tinycopy" and moved.dir.resolve() == copy.resolve()
    np.testing.assert_array_equal(moved.ranking["did"], run.ranking["did"])


def test_missing_stage_is_one_line_with_command(tiny_stage01, tmp_path):
    cfg = dataclasses.replace(tiny_stage01, output_root=str(tmp_path / "outputs"))
    cfg.config_path = "configs/demo.yaml"
    for st in ("01_twin", "01_train_sae"):
        shutil.copytree(stage_dir(tiny_stage01, st), stage_dir(cfg, st))
    r = featevo.load_run(cfg)
    assert r.sae("base").cfg.d_sae == 24
    for attr, stage, script in (("pairs", "02_compare_features", "02_compare_features/compare_features.py"),
                                ("ranking", "03_activation_deltas", "03_activation_deltas/activation_deltas.py"),
                                ("labels", "04_interpret", "04_interpret/interpret.py"),
                                ("stagewise_latents", "02_model_diffing", "02_compare_features/model_diffing.py")):
        with pytest.raises(StageError) as e:
            getattr(r, attr)
        msg = str(e.value)
        assert "\n" not in msg and stage in msg and f"python {script} --config configs/demo.yaml" in msg, msg
    with pytest.raises(StageError, match="neither a run folder nor a config file"):
        featevo.load_run(tmp_path / "nothing")
