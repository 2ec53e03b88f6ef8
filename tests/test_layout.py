"""The stage registry (featevo/layout.py) against the Makefile, docs/pipeline.md, the config and the code."""

import ast
import dataclasses
import re
import typing

import pytest

from featevo import layout
from featevo.config import PipelineConfig
from featevo.layout import REPO_ROOT, STAGES
from featevo.layout_docs import stage_table_markdown

# package modules that hold a stage's logic; none may import another
STAGE_MODULES = {"train", "compare", "diffing", "deltas", "causal", "interpret", "report"}


def _makefile_recipes() -> dict[str, list[str]]:
    """Makefile target -> its recipe lines (tab-indented lines after ``target:``)."""
    recipes, current = {}, None
    for line in (REPO_ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_]+):", line)
        if m:
            current = m.group(1)
            recipes[current] = []
        elif line.startswith("\t") and current:
            recipes[current].append(line.strip())
        elif line.strip() and not line.startswith("#"):
            current = None
    return recipes


def test_every_stage_script_exists_and_is_thin():
    for s in STAGES:
        path = REPO_ROOT / s.script
        assert path.is_file(), s.script
        assert len(path.read_text().splitlines()) <= 200, f"{s.script} should stay a thin script"


def test_makefile_runs_every_registered_script_in_registry_order():
    recipes = _makefile_recipes()
    text = (REPO_ROOT / "Makefile").read_text()
    targets = re.search(r"^STAGE_TARGETS := (.+)$", text, re.M).group(1).split()
    # STAGE_TARGETS lists the registry's targets, in registry order, once each
    assert targets == list(dict.fromkeys(s.make_target for s in STAGES))
    for target in targets:
        scripts = [s.script for s in STAGES if s.make_target == target]
        ran = [re.search(r"(\d\d_\w+/\w+\.py)", line).group(1) for line in recipes[target] if ".py" in line]
        assert ran == scripts, f"make {target} runs {ran}, the registry says {scripts}"
    # the demo and the study go through the stage targets, not their own copy of the pipeline
    for target in ("demo", "study"):
        body = "\n".join(recipes[target])
        assert "$(STAGE_TARGETS)" in body and not re.search(r"\d\d_\w+/\w+\.py", body)


def test_docs_stage_table_is_the_generated_one():
    doc = (REPO_ROOT / "docs" / "pipeline.md").read_text()
    m = re.search(r"<!-- stage-table:.*?-->\n(.*?)\n<!-- /stage-table -->", doc, re.S)
    assert m, "docs/pipeline.md has no generated stage table"
    assert m.group(1) == stage_table_markdown(), (
        "docs/pipeline.md's stage table is stale: paste `python -m featevo.layout`")


def _section_type(section: str):
    return typing.get_type_hints(PipelineConfig)[section]


def _has_key(key: str) -> bool:
    section, _, sub = key.partition(".")
    if section not in {f.name for f in dataclasses.fields(PipelineConfig)}:
        return False
    return not sub or sub in {f.name for f in dataclasses.fields(_section_type(section))}


def test_registry_is_consistent_with_the_config():
    ids = [s.id for s in STAGES]
    assert len(ids) == len(set(ids))
    for i, s in enumerate(STAGES):
        assert set(s.upstream) <= set(ids[:i]), f"{s.id} reads a stage that runs after it"
        for key in s.reads:
            assert _has_key(key), f"{s.id} reads unknown config key {key}"
        assert s.enabled_by is None or _has_key(s.enabled_by)
    assert not _has_key("sae.no_such_key") and not _has_key("nothing")


def test_upstream_of_a_disabled_stage_is_skipped(tiny_cfg):
    assert layout.upstream_stages(tiny_cfg, layout.TRAIN) == (layout.TWIN,)  # the tiny config makes a twin
    cfg = dataclasses.replace(tiny_cfg, twin=dataclasses.replace(tiny_cfg.twin, enabled=False),
                              tuned_model=tiny_cfg.base_model)
    assert layout.upstream_stages(cfg, layout.TRAIN) == ()
    assert layout.TWIN not in layout.upstream_stages(cfg, layout.REPORT)
    with pytest.raises(KeyError, match="unknown stage"):
        layout.stage_spec("06_nothing")


def _imports(path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):  # function-level imports included
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("featevo"):
            out.add(node.module.split(".")[1] if "." in node.module else "")
            if node.module == "featevo":
                out |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("featevo.")}
    return out


STAGE_PACKAGES = {"diffing_lenses": "diffing"}
"""Packages that belong to one stage module (02_model_diffing's lens registry)."""


def test_no_stage_module_imports_another_stage_module():
    pkg = REPO_ROOT / "featevo"
    for path in sorted(pkg.rglob("*.py")):
        mod = path.relative_to(pkg).parts[0].removesuffix(".py")
        mod = STAGE_PACKAGES.get(mod, mod)  # a stage's own plug-in package counts as that stage
        imported = _imports(path) & STAGE_MODULES
        assert imported <= {mod}, f"{path.relative_to(REPO_ROOT)} imports stage module(s) {imported - {mod}}"


def test_output_file_names_are_spelled_only_in_layout():
    """Stage modules name their outputs through featevo.layout, never as string literals."""
    pattern = re.compile(r"""["']\w[\w./-]*\.(json|jsonl|csv|png|svg|safetensors|html|md)["']""")
    allowed = {"layout.py"}  # the one home of file names
    for path in sorted((REPO_ROOT / "featevo").rglob("*.py")):
        if path.name in allowed:
            continue
        mod = path.relative_to(REPO_ROOT / "featevo").parts[0].removesuffix(".py")
        if mod not in STAGE_MODULES:
            continue
        hits = [m.group(0) for m in pattern.finditer(path.read_text())]
        assert not hits, f"{path.relative_to(REPO_ROOT)} spells output file names {hits}; use featevo.layout"
