"""docs/example.ipynb runs top to bottom (nbclient) on the tiny run of the report tests, and shows what it says:
the top pairs, a figure, and the chosen latent's label."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_report import report_cfg  # noqa: F401  (session fixture: stages 01-05 on the tiny config)

from featevo.layout import REPO_ROOT, run_dir

NOTEBOOK = REPO_ROOT / "docs" / "example.ipynb"


def test_example_notebook_executes(report_cfg, monkeypatch):  # noqa: F811
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import featevo

    monkeypatch.setenv("FEATEVO_RUN", str(run_dir(report_cfg)))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(Path(NOTEBOOK).parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = "\n".join(str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", "")) for o in outputs)
    assert "q_calibrated" in texts and "Run('tiny'" in texts
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"
    run = featevo.load_run(run_dir(report_cfg))
    labelled = [r for r in run.top_changes(len(run.ranking)) if run.label("tuned", r["tuned_latent"])]
    lat = int((labelled[0] if labelled else run.top_changes(1)[0])["tuned_latent"])
    assert f"tuned latent {lat}: {run.label('tuned', lat) or '(not labelled)'}" in texts
