"""A scorer is added through featevo.scorers alone: a toy scorer, registered here and nowhere else, is accepted by
``interpret.scorers``, runs in stage 04 (own label, shuffled floor, top-token baseline, cross scores), lands in the
long ``scores.csv``, ``scores_summary.csv``, ``summary.json`` and the label-quality marks, and is rendered by
stage 05."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest
from test_dag import _Client, pipeline  # noqa: F401  (module fixture: the tiny pipeline, stage 04 scripted)

from featevo import interpret, report
from featevo.config import InterpretConfig
from featevo.layout import INTERPRET, REPORT, InterpretFiles, ReportFiles, run_dir, stage_dir
from featevo.report.templates import fsigned
from featevo.results import LABELS, SCORES, SCORES_SUMMARY
from featevo.scorers import SCORERS, Scorer, register, unregister

TOY = "toy_overlap"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", str(text).lower()))


async def _identity(record):
    return record


def _overlap(record) -> dict:
    """Fraction of the activating test contexts that share a word with the label (a label scorer needing no LLM)."""
    label = _words(record.explanation)
    hits = [bool(label & _words("".join(ex.str_tokens))) for ex in record.test]
    return {"accuracy": sum(hits) / len(hits), "f1_score": None}


@pytest.fixture
def toy():
    register(Scorer(TOY, True, lambda env: _identity, _overlap, "share of activating contexts naming a label word"))
    try:
        yield SCORERS[TOY]
    finally:
        unregister(TOY)


def test_an_unregistered_scorer_is_a_config_error():
    assert TOY not in SCORERS
    with pytest.raises(ValueError, match="scorers"):
        InterpretConfig(scorers=["detection", TOY])


def test_a_toy_scorer_runs_through_the_registry_alone(pipeline, toy, tmp_path, monkeypatch):  # noqa: F811
    cfg, _ = pipeline
    icfg = dataclasses.replace(cfg.interpret, scorers=["detection", TOY])  # validated against the registry
    cfg2 = dataclasses.replace(cfg, output_root=str(tmp_path / "outputs"), interpret=icfg)
    shutil.copytree(run_dir(cfg), run_dir(cfg2), ignore=lambda d, names: [n for n in names
                                                                         if n in (INTERPRET, REPORT)])
    monkeypatch.setattr(interpret, "make_client", _Client)
    interpret.run(cfg2)
    s4 = stage_dir(cfg2, INTERPRET)

    rows = [r for r in SCORES.read(s4) if r["scorer"] == TOY]
    assert {r["kind"] for r in rows} >= {"own", "floor", "baseline"}
    for r in rows:  # own: the number the toy scorer computed, stored in the latent's file
        if r["kind"] == "own":
            stored = json.loads((s4 / InterpretFiles.LATENTS / f"{r['sae']}_{r['latent']}.json").read_text())
            assert r["value"] == stored["scores"][TOY]["accuracy"] and 0 <= r["value"] <= 1
    # the top-token label names words of the latent's contexts, the scripted "numbers" label does not
    assert any(r["kind"] == "baseline" and r["value"] > 0 for r in rows)

    # the label-quality marks count it among the label scorers: own <= floor is no win over the floor
    val = {(r["sae"], r["latent"], r["kind"]): r["value"] for r in rows}
    below = {(sae, lat) for sae, lat, kind in val if kind == "own" and val.get((sae, lat, "floor")) is not None
             and val[sae, lat, "own"] <= val[sae, lat, "floor"]}
    assert below
    for r in LABELS.read(s4):
        for sae in ("base", "tuned"):
            marked = TOY in (r[f"{sae}_below_floor"] or "").split(", ")
            assert marked == ((sae, r[f"{sae}_latent"]) in below)
    stats = {r["sae"]: r for r in SCORES_SUMMARY.read(s4) if r["scorer"] == TOY}
    assert set(stats) == {"base", "tuned"} and stats["base"]["floor"] == "shuffled labels"
    summary = json.loads((s4 / InterpretFiles.SUMMARY).read_text())
    for sae in ("base", "tuned"):
        own = [r["value"] for r in rows if r["sae"] == sae and r["kind"] == "own"]
        assert stats[sae]["scored"] == len(own) == summary["scorer_accounting"][sae][TOY]["scored"]
        assert summary["scores"][sae][f"{TOY}_paired_n"] == stats[sae]["paired_n"]
        baseline = [r["value"] for r in rows if r["sae"] == sae and r["kind"] == "baseline"]
        assert stats[sae]["baseline_mean"] == pytest.approx(sum(baseline) / len(baseline))
    assert TOY in summary["cross"]

    out = report.run(cfg2, force=True)
    md = (out / ReportFiles.MD).read_text(encoding="utf-8")
    toy_rows = [line for line in md.splitlines() if line.startswith("|") and f"| {TOY} |" in line]
    assert {line.split("|")[1].strip() for line in toy_rows} == {"base", "tuned"}  # one per SAE, paired table
    # the findings' score tile: the first scorer run (registry order) with paired numbers on both SAEs, by name
    paired = {(r["sae"], r["scorer"]): r["paired_diff"] for r in SCORES_SUMMARY.read(s4)}
    first = next(m for m in ("detection", TOY) if all(paired.get((sae, m)) is not None for sae in ("base", "tuned")))
    assert f"label {first} score minus shuffled labels, paired per latent (base / tuned)" in md
    assert f"**{fsigned(paired['base', first], 3)} / {fsigned(paired['tuned', first], 3)}**" in md
