"""outputs/README.md lists every file of every stage: its listing is the one generated from featevo/layout.py,
and every file a tiny run writes (stages 01-05, plus the SAEDashboard exports) matches a listed pattern."""

from __future__ import annotations

import re

from test_report import report_cfg  # noqa: F401  (session fixture: stages 01-05 on the tiny config)

from featevo.layout import REPO_ROOT, STAGES, output_files, run_dir
from featevo.layout_docs import listed_output, outputs_listing_markdown


def test_outputs_readme_listing_is_the_generated_one():
    text = (REPO_ROOT / "outputs" / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- outputs-listing:.*?-->\n(.*?)\n<!-- /outputs-listing -->", text, re.S)
    assert m, "outputs/README.md has no generated listing"
    assert m.group(1) == outputs_listing_markdown(), \
        "outputs/README.md's listing is stale: paste `python -m featevo.layout --outputs`"
    assert {s.id for s in STAGES} <= set(output_files())  # every stage has its files listed
    assert "see README" not in text


def test_listed_output_patterns():
    for rel in ("01_train_sae/eval/base/shard_00003.safetensors", "01_train_sae/saes/base_seed1/sae/cfg.json",
                "02_model_diffing/stagewise/null_general_o0/sae/sae_weights.safetensors",
                "03_activation_deltas/contexts/tuned.json", "04_interpret/latents/base_31.json",
                "04_interpret/cross/pair_12.json", "04_interpret/prompts/tuned_7.txt", "04_interpret/manifest.json",
                "05_report/figures/05_twin.svg", "05_report/exports/tuned/batch-0.json", "logs/04_llm_server.log"):
        assert listed_output(rel), rel
    for rel in ("02_compare_features/bogus.csv", "05_report/report.pdf", "01_train_sae", "nope/manifest.json",
                "01_train_sae/saes/base/sae/extra.bin"):
        assert not listed_output(rel), rel


def test_every_file_of_a_tiny_run_is_listed(report_cfg):  # noqa: F811
    from featevo.export import export_run

    export_run(report_cfg, ["tuned"], top=2)
    root = run_dir(report_cfg)
    # placeholder.txt: the report fixture's stand-in for stages it does not build (test_report.fake_placeholder_stages)
    files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != "placeholder.txt"]
    assert any(f.startswith("05_report/exports/") for f in files) and any(f.startswith("01_train_sae/") for f in files)
    unlisted = [f for f in files if not listed_output(f)]
    assert not unlisted, f"files not listed in outputs/README.md (featevo.layout.output_files): {unlisted}"
