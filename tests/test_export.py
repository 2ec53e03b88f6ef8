"""Stage-05 export (featevo/export.py) on the tiny run of the report tests: the SAEDashboard / Neuronpedia
batches load, carry the numbers recomputed here from the SAE and stage 01's eval activations, the labels of
stage 04, and the CLI writes them; every SAE folder's cfg.json names no absolute path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_report import copy_of_run, report_cfg  # noqa: F401  (session fixture: stages 01-05 on the tiny config)

import featevo
from featevo.layout import ReportFiles, run_dir, sae_specs, stage_dir


@pytest.fixture(scope="module")
def exported(report_cfg):  # noqa: F811
    from featevo.export import export_run

    index = export_run(report_cfg, ["base", "tuned", "base_seed1"], top=3)
    return index, stage_dir(report_cfg, "05_report") / ReportFiles.EXPORTS


def test_index_and_batches_load(exported, report_cfg):  # noqa: F811
    index, folder = exported
    assert json.loads((folder / "index.json").read_text()) == index
    assert set(index["saes"]) == {"base", "tuned", "base_seed1"}
    for name, entry in index["saes"].items():
        batch = json.loads((folder / entry["file"]).read_text())
        extras = json.loads((folder / entry["extras"]).read_text())
        assert batch["sae_id_suffix"] == name and batch["layer"] == report_cfg.harvest.layer
        assert batch["model_id"] == f"01_twin/{sae_specs(report_cfg)[name].model}"
        assert [f["feature_index"] for f in batch["features"]] == list(range(24)) == list(range(extras["d_sae"]))
        assert set(extras["features"]) == {str(j) for j in range(24)}
        for f in batch["features"]:
            x = extras["features"][str(f["feature_index"])]
            assert {"quantiles", "max_act", "mean_act", "n_tokens", "explanations", "contexts"} <= set(x)
            assert len(f["activations"]) <= 3 and len(x["contexts"]) == len(f["activations"])
            for a, c in zip(f["activations"], x["contexts"]):
                assert len(a["tokens"]) == len(a["values"])
                assert a["values"][a["qualifying_token_index"]] == max(a["values"]) == c["max_value"] > 0
            if f["frac_nonzero"] > 0:
                assert sum(f["freq_hist_data_bar_heights"]) == round(f["frac_nonzero"] * x["n_tokens"])


def test_batches_load_in_saedashboards_own_reader(exported):
    """SAEDashboard's NeuronpediaDashboardBatch (the class its Neuronpedia runner writes and compares batches
    with) takes every exported batch as keyword arguments, and gives back the same JSON from to_dict()."""
    nd = pytest.importorskip("sae_dashboard.neuronpedia.neuronpedia_dashboard")
    index, folder = exported
    for entry in index["saes"].values():
        data = json.loads((folder / entry["file"]).read_text())
        batch = nd.NeuronpediaDashboardBatch(**data)  # an unknown field would raise TypeError here
        assert len(batch.features) == len(data["features"])
        assert batch.features[0].activations == [] or isinstance(batch.features[0].activations[0],
                                                                 nd.NeuronpediaDashboardActivation)
        back = batch.to_dict()
        for got, want in zip(back["features"], data["features"]):
            assert {k: got[k] for k in want} == want
        assert {k: back[k] for k in data if k != "features"} == {k: v for k, v in data.items() if k != "features"}


def test_numbers_match_a_recomputation(exported, report_cfg):  # noqa: F811
    from featevo.activations import ActivationStore
    from featevo.layout import acts_dir
    from featevo.probe import scaled_encode

    _, folder = exported
    run = featevo.load_run(report_cfg)
    z = scaled_encode(run.sae("tuned"), ActivationStore(acts_dir(stage_dir(report_cfg, "01_train_sae"), "eval",
                                                                   "tuned")).read_all())
    batch = json.loads((folder / "tuned" / "batch-0.json").read_text())
    extras = json.loads((folder / "tuned" / "featevo.json").read_text())["features"]
    for f in batch["features"]:
        x = extras[str(f["feature_index"])]
        col = z[:, f["feature_index"]]
        nz = col[col > 0]
        assert x["n_tokens"] == len(col)
        assert f["frac_nonzero"] == pytest.approx(nz.size / len(col))
        if nz.size:
            assert x["quantiles"]["0.5"] == pytest.approx(float(np.quantile(nz, 0.5)), rel=1e-5)
            assert x["max_act"] == pytest.approx(float(nz.max()), rel=1e-5)
            assert max(f["activations"][0]["values"]) == pytest.approx(float(nz.max()), abs=1e-4)
        else:
            assert f["activations"] == [] and x["quantiles"]["0.5"] is None


def test_labels_exported(exported, report_cfg):  # noqa: F811
    _, folder = exported
    run = featevo.load_run(report_cfg)
    for sae in ("base", "tuned"):
        extras = json.loads((folder / sae / "featevo.json").read_text())["features"]
        got = {int(j): x["explanations"][0]["description"] for j, x in extras.items() if x["explanations"]}
        assert got == run.labels_for(sae)
    assert run.labels_for("tuned")
    seed = json.loads((folder / "base_seed1" / "featevo.json").read_text())["features"]
    assert not any(x["explanations"] for x in seed.values())


def test_cli_writes_exports_and_rejects_unknown_sae(report_cfg, tmp_path, capsys):  # noqa: F811
    import yaml

    from featevo.config import to_dict
    from featevo.export import main

    conf = tmp_path / "tiny.yaml"
    d = {k: v for k, v in to_dict(report_cfg).items() if k != "config_path"}
    conf.write_text(yaml.safe_dump(d), encoding="utf-8")
    assert main(["--config", str(conf), "--sae", "planted", "--top", "2"]) == 0
    folder = stage_dir(report_cfg, "05_report") / ReportFiles.EXPORTS
    assert set(json.loads((folder / "index.json").read_text())["saes"]) == {"planted"}
    assert (run_dir(report_cfg) / "logs" / "05_export.log").is_file()
    assert main(["--config", str(conf), "--sae", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --sae nope: no such SAE")


def test_sae_cfg_json_has_no_absolute_paths(report_cfg):  # noqa: F811
    cfgs = sorted(Path(run_dir(report_cfg)).rglob("cfg.json"))
    assert len(cfgs) >= len(sae_specs(report_cfg))

    def strings(o):
        if isinstance(o, dict):
            for v in o.values():
                yield from strings(v)
        elif isinstance(o, list):
            for v in o:
                yield from strings(v)
        elif isinstance(o, str):
            yield o

    for p in cfgs:
        bad = [s for s in strings(json.loads(p.read_text())) if Path(s).is_absolute() or str(run_dir(report_cfg)) in s
               or "/tmp/" in s or "/home/" in s]
        assert not bad, f"{p}: absolute paths {bad}"


def test_stage05_rerun_keeps_current_exports(report_cfg, tmp_path):  # noqa: F811
    """A forced rerun of stage 05 keeps exports/ (hashed in its new manifest) while the stages they were computed
    from are unchanged, and drops them once one of those has changed."""
    import shutil

    from featevo import report
    from featevo.export import export_run

    cfg = copy_of_run(report_cfg, tmp_path / "outputs", ignore=shutil.ignore_patterns("exports"))
    export_run(cfg, ["tuned"], top=2)
    folder = stage_dir(cfg, "05_report") / ReportFiles.EXPORTS
    before = (folder / "tuned" / "batch-0.json").read_bytes()
    report.run(cfg, force=True)
    assert (folder / "tuned" / "batch-0.json").read_bytes() == before
    man = json.loads((stage_dir(cfg, "05_report") / "manifest.json").read_text())
    assert f"{ReportFiles.EXPORTS}/tuned/batch-0.json" in man["outputs"] and man["report"]["exports_kept"]
    idx = json.loads((folder / "index.json").read_text())
    idx["source_stages"]["01_train_sae"] = "stale"
    (folder / "index.json").write_text(json.dumps(idx), encoding="utf-8")
    report.run(cfg, force=True)
    assert not folder.exists()
    assert not json.loads((stage_dir(cfg, "05_report") / "manifest.json").read_text())["report"]["exports_kept"]
