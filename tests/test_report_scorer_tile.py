"""The findings' headline score tile names no scorer: it is the first scorer stage 04 ran (registry order) with
numbers on both SAEs, read from stage 04's scores_summary.csv. A toy scorer registered through featevo.scorers
alone gets the tile when it is the one that ran; with detection among the scorers the tile is the one the report
rendered before (text pinned against a copy of the old code)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from featevo.report.common import dig
from featevo.report.context import ReportContext
from featevo.report.findings import scorer_tile
from featevo.report.templates import Tile, fci, finite, fint, fnum, fsigned
from featevo.results import LABELS, LABELS_SUMMARY, SCORES, SCORES_SUMMARY, InterpretResult
from featevo.scorers import SCORERS, Scorer, register, unregister
from featevo.tables import Table

TOY, TOY_FREE = "toy_words", "toy_free"
PAIRED = {"base": dict(paired_n=12, paired_diff=0.1234, paired_ci_low=0.05, paired_ci_high=0.2),
          "tuned": dict(paired_n=11, paired_diff=-0.031, paired_ci_low=-0.09, paired_ci_high=0.02)}


async def _identity(record):
    return record


@pytest.fixture
def toys():
    register(Scorer(TOY, True, lambda env: _identity, lambda r: {"accuracy": 0.5}, "a toy label scorer"))
    register(Scorer(TOY_FREE, False, lambda env: _identity, lambda r: {"accuracy": 0.5}, "a toy latent scorer"))
    try:
        yield
    finally:
        unregister(TOY)
        unregister(TOY_FREE)


def _ctx(tmp_path, scorers, stats_rows=(), summary_scores=None) -> ReportContext:
    """A report context over a stage 04 result with the given scores_summary.csv rows and summary.json scores
    (the parts of Upstream the tile reads)."""
    res = InterpretResult(Table(LABELS), Table(LABELS_SUMMARY), {"scores": summary_scores or {}}, Table(SCORES),
                          Table(SCORES_SUMMARY, [dict(r) for r in stats_rows]))
    up = SimpleNamespace(cfg=SimpleNamespace(interpret=SimpleNamespace(scorers=list(scorers))), interpret=res)
    return ReportContext(up, tmp_path)


def _rows(scorer, paired=PAIRED, floor="shuffled labels"):
    return [dict(sae=side, scorer=scorer, floor=floor, **vals) for side, vals in paired.items()]


def _old_tiles(ctx) -> list[Tile]:
    """The score tile as featevo/report/findings.py built it before the registry (a2436ea), named literally."""
    scores = (ctx.up.interpret.summary or {}).get("scores") or {}
    b, t = scores.get("base") or {}, scores.get("tuned") or {}
    if finite(b.get("detection_paired_diff")) and finite(t.get("detection_paired_diff")):
        return [Tile(f"{fsigned(b['detection_paired_diff'], 3)} / {fsigned(t['detection_paired_diff'], 3)}",
                     "label detection score minus shuffled labels, paired per latent (base / tuned)",
                     f"95% CI {fci(b.get('detection_paired_ci_low'), b.get('detection_paired_ci_high'), 2)} / "
                     f"{fci(t.get('detection_paired_ci_low'), t.get('detection_paired_ci_high'), 2)}; "
                     f"over {fint(b.get('detection_paired_n'))} / {fint(t.get('detection_paired_n'))} latents")]
    st = ctx.score_stats()
    if finite(dig(st, "base", "detection")) and finite(dig(st, "tuned", "detection")):
        sub = (f"shuffled labels {fnum(dig(st, 'base', 'detection_shuffled'), 2)} / "
               f"{fnum(dig(st, 'tuned', 'detection_shuffled'), 2)}")
        return [Tile(f"{fnum(st['base']['detection'], 2)} / {fnum(st['tuned']['detection'], 2)}",
                     "label detection score", sub + " (base / tuned)")]
    return []


def _summary_keys(scorer, paired=PAIRED, **extra):
    """summary.json's ``scores`` block as stage 04 writes it from the rows (``<scorer>_<key>``)."""
    return {side: {**{f"{scorer}_{k}": v for k, v in vals.items()}, **extra} for side, vals in paired.items()}


def test_a_toy_scorer_registered_alone_gets_the_tile_by_its_name(tmp_path, toys):
    tile = scorer_tile(_ctx(tmp_path, [TOY], _rows(TOY)))
    label = f"label {TOY} score minus shuffled labels, paired per latent (base / tuned)"
    assert tile == [Tile("+0.123 / -0.031", label, "95% CI [0.050, 0.20] / [-0.090, 0.020]; over 12 / 11 latents")]
    free = scorer_tile(_ctx(tmp_path, [TOY_FREE], _rows(TOY_FREE, floor="chance")))
    assert free[0].label == f"{TOY_FREE} score minus chance, paired per latent (base / tuned)"
    assert free[0].value == "+0.123 / -0.031"


def test_the_tile_is_the_first_scorer_that_ran_with_numbers_on_both_saes(tmp_path, toys):
    other = {"base": dict(PAIRED["base"], paired_diff=0.5), "tuned": dict(PAIRED["tuned"], paired_diff=0.25)}
    rows = _rows("detection") + _rows(TOY, other)
    assert "detection" in scorer_tile(_ctx(tmp_path, [TOY, "detection"], rows))[0].label  # registry order
    assert scorer_tile(_ctx(tmp_path, [TOY], rows))[0].value == "+0.500 / +0.250"  # detection did not run
    half = _rows("detection", {"base": PAIRED["base"], "tuned": dict(PAIRED["tuned"], paired_diff=None)})
    assert TOY in scorer_tile(_ctx(tmp_path, ["detection", TOY], half + _rows(TOY, other)))[0].label
    assert scorer_tile(_ctx(tmp_path, ["detection"], half)) == []  # no tile without numbers on both SAEs


def test_detection_tile_reads_scores_summary_and_renders_as_before(tmp_path):
    ctx = _ctx(tmp_path, ["detection", "embedding"], _rows("detection") + _rows("embedding"),
               _summary_keys("detection"))
    new = scorer_tile(ctx)
    assert new == _old_tiles(ctx) and new[0].value == "+0.123 / -0.031"
    # the numbers come from scores_summary.csv: a different row there moves the tile, summary.json does not
    moved = {"base": dict(PAIRED["base"], paired_diff=0.2), "tuned": PAIRED["tuned"]}
    ctx2 = _ctx(tmp_path, ["detection"], _rows("detection", moved), _summary_keys("detection"))
    assert scorer_tile(ctx2)[0].value == "+0.200 / -0.031"
    # a stage 04 without scores_summary.csv rows: summary.json's paired keys, same tile
    ctx3 = _ctx(tmp_path, ["detection"], (), _summary_keys("detection"))
    assert scorer_tile(ctx3) == _old_tiles(ctx3) == new


def test_without_paired_statistics_the_mean_tile_renders_as_before(tmp_path):
    means = {"base": {"detection_accuracy_mean": 0.71, "detection_accuracy_shuffled_mean": 0.52},
             "tuned": {"detection_accuracy_mean": 0.66, "detection_accuracy_shuffled_mean": 0.5}}
    ctx = _ctx(tmp_path, ["detection", "embedding"], (), means)
    tile = scorer_tile(ctx)
    assert tile == _old_tiles(ctx) == [Tile("0.71 / 0.66", "label detection score",
                                            "shuffled labels 0.52 / 0.50 (base / tuned)")]
    assert SCORERS["detection"].floor_kind == "shuffled labels"
