"""Stage 05 on the tiny config: the report renders, its figures decode, its tables equal the stage
outputs, nothing undefined leaks into the text, and the stage skips, refuses and reruns correctly.

Stages 01-03 are the real ones (01 shared through ``tiny_stage01``, copied; 02 and 03 run here).
Stage 04 needs a local LLM, so its outputs are fabricated here in the documented format
(labels_comparison.csv, labels_summary.csv, explanations.json, scores_summary.json), including one
failed explanation, so that the report's handling of missing values is exercised.
"""

from __future__ import annotations

import base64
import dataclasses
import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from featevo.config import config_from_dict, to_dict
from featevo.errors import StageError
from featevo.io import StageRun, read_json
from featevo.layout import run_dir, stage_dir

LEAK = re.compile(r"\b(nan|NaN|None|null|inf|Infinity)\b")


# --------------------------------------------------------------------------------------------
# Fixture: stages 01-04 on the tiny config, then stage 05
# --------------------------------------------------------------------------------------------
SCORE_KEYS = {"detection": ("detection", "own"), "fuzzing": ("fuzzing", "own"),
              "detection_shuffled": ("detection", "floor")}


def long_scores(rows: list[dict]) -> list[dict]:
    """The fixture's per-latent scores (``<side>_detection``, ...) as rows of the long ``scores.csv``."""
    out = []
    for r in rows:
        for side in ("base", "tuned"):
            if r[f"{side}_latent"] in ("", None):
                continue
            out += [{"sae": side, "latent": int(r[f"{side}_latent"]), "scorer": sc, "kind": kind,
                     "value": r[f"{side}_{key}"] if r[f"{side}_{key}"] != "" else None}
                    for key, (sc, kind) in SCORE_KEYS.items()]
    return out


def fake_stage04(cfg) -> None:
    """Stage 04's outputs in featevo/interpret.py's format (write_outputs), from the real stage 02/03
    outputs: labels_comparison.csv, labels_summary.csv, explanations.json and summary.json, with one
    failed explanation and one labelled latent without a matched partner."""
    s2, s3 = stage_dir(cfg, "02_compare_features"), stage_dir(cfg, "03_activation_deltas")
    pairs = {int(r["pair_id"]): r for r in csv.DictReader(open(s2 / "pairs.csv", encoding="utf-8"))}
    ft = {int(r["pair_id"]): r for r in csv.DictReader(open(s3 / "feature_table.csv", encoding="utf-8"))
          if r["pair_id"] and r["did"]}
    interesting = json.loads((s3 / "interesting_latents.json").read_text())
    rng = np.random.default_rng(0)
    words = ["earnings per share", "rate decisions", "sports scores", "numbers and percentages", "bank names",
             "weather forecasts", "merger terms"]

    def score() -> float:
        return round(float(rng.uniform(0.5, 0.9)), 4)

    rows = []
    for i, pid in enumerate([p for p in interesting["pairs"] if p in ft][:4]):
        p, f = pairs[pid], ft[pid]
        failed = i == 1  # the report must show a dash and the reason
        rows.append({
            "pair_id": pid, "base_latent": p["base_latent"], "tuned_latent": p["tuned_latent"], "class": p["class"],
            "decoder_cosine": p["decoder_cosine"], "base_label": f"Mentions of {words[i % len(words)]}",
            "tuned_label": "[failed: no [EXPLANATION] line after 3 attempts]" if failed else
            f"Financial {words[(i + 2) % len(words)]}",
            "base_detection": score(), "base_fuzzing": score(),
            "tuned_detection": "" if failed else score(), "tuned_fuzzing": "" if failed else score(),
            "base_detection_shuffled": round(float(rng.uniform(0.4, 0.6)), 4),
            "tuned_detection_shuffled": "" if failed else round(float(rng.uniform(0.4, 0.6)), 4),
            "did": f["did"], "did_ci_low": f["did_ci_low"], "did_ci_high": f["did_ci_high"],
            "q_calibrated": f["q_calibrated"],
        })
    tuned = [r for r in csv.DictReader(open(s2 / "latents.csv", encoding="utf-8")) if r["sae"] == "tuned"]
    used = {str(r["tuned_latent"]) for r in rows}
    lat = [r for r in tuned if r["class"] in ("new", "split")] or [r for r in tuned if r["latent"] not in used]
    rows.append({"pair_id": "", "base_latent": "", "tuned_latent": lat[0]["latent"], "class": "new",
                 "decoder_cosine": "", "base_label": "", "tuned_label": "Dollar amounts", "base_detection": "",
                 "base_fuzzing": "", "tuned_detection": 0.71, "tuned_fuzzing": 0.64, "base_detection_shuffled": "",
                 "tuned_detection_shuffled": 0.52, "did": "", "did_ci_low": "", "did_ci_high": "",
                 "q_calibrated": ""})
    st = StageRun(cfg, "04_interpret").open()

    from featevo.label_scores import add_marks, score_index
    from featevo.results import LABELS, LABELS_SUMMARY, SCORES, SCORES_SUMMARY

    scores = long_scores(rows)
    marked = [dict(r, **{k: (None if v == "" else int(v)) for k, v in r.items() if k.endswith("_latent")})
              for r in rows]
    add_marks(marked, score_index(scores), ("detection", "fuzzing"))  # stage 04's label-quality marks
    LABELS.write(st.dir, marked)  # columns this fixture does not fill (cross verdicts) stay blank
    SCORES.write(st.dir, scores)
    SCORES_SUMMARY.write(st.dir, [])

    def mean(side, col):
        v = [float(r[f"{side}_{col}"]) for r in rows if r[f"{side}_{col}"] != ""]
        return sum(v) / len(v) if v else None

    summary_rows = []
    for side in ("base", "tuned"):
        n = sum(1 for r in rows if r[f"{side}_latent"] != "")
        n_failed = sum(1 for r in rows if str(r[f"{side}_label"]).startswith("[failed"))
        summary_rows.append({
            "sae": side, "latents": n, "labelled": n - n_failed, "failed": n_failed, "dead": 0, "retried": n_failed,
            "detection_accuracy_mean": mean(side, "detection"),
            "detection_accuracy_shuffled_mean": mean(side, "detection_shuffled"),
            "detection_f1_score_mean": 0.6, "detection_f1_score_shuffled_mean": 0.4,
            "detection_beats_shuffled_fraction": 0.75,
            "fuzzing_accuracy_mean": mean(side, "fuzzing"), "fuzzing_accuracy_shuffled_mean": 0.5,
            "fuzzing_f1_score_mean": 0.6, "fuzzing_f1_score_shuffled_mean": 0.45,
            "fuzzing_beats_shuffled_fraction": 0.5,
        })
    LABELS_SUMMARY.write(st.dir, summary_rows)
    (st.dir / "explanations.json").write_text(json.dumps({"base": {}, "tuned": {}}), encoding="utf-8")
    (st.dir / "summary.json").write_text(json.dumps({
        "backend": {"backend": "local", "model": "smollm2"},
        "latents_per_sae": {r["sae"]: r["latents"] for r in summary_rows},
        "failures": {r["sae"]: r["failed"] for r in summary_rows},
        "scores": {r["sae"]: {k: v for k, v in r.items() if k != "sae"} for r in summary_rows},
        "wall_time_s": 1.0,
    }), encoding="utf-8")
    st.commit()


BUILT_HERE = {"01_twin", "01_train_sae", "02_compare_features", "03_activation_deltas", "04_interpret"}


def fake_placeholder_stages(cfg) -> None:
    """Stage 05 requires every registered upstream stage. Stages other than the ones built here (e.g. a
    model-diffing or causal stage, built on other branches, whose outputs the report does not read yet) get an
    empty placeholder commit so the report's upstream check passes."""
    from featevo.layout import REPORT, upstream_stages

    for stage in upstream_stages(cfg, REPORT):
        if stage in BUILT_HERE or (stage_dir(cfg, stage) / "manifest.json").is_file():
            continue
        st = StageRun(cfg, stage).open()
        (st.dir / "placeholder.txt").write_text(f"{stage} is not built by the report tests\n", encoding="utf-8")
        st.commit()


_BUILT: dict = {}  # test_report_browser.py imports the fixture: build once per session, not once per module


@pytest.fixture(scope="session")
def report_cfg(tiny_stage01, tmp_path_factory):
    """Stages 01-05 on the tiny config in a private output root; returns the config."""
    if id(tiny_stage01) not in _BUILT:
        _BUILT[id(tiny_stage01)] = _build(tiny_stage01, tmp_path_factory)
    return _BUILT[id(tiny_stage01)]


def _build(tiny_stage01, tmp_path_factory):
    from featevo import compare, deltas, report

    root = tmp_path_factory.mktemp("report")
    d = to_dict(tiny_stage01)
    d["output_root"] = str(root / "outputs")
    d["report"] = {**d["report"], "feature_cards": 6}  # all labelled latents, the unmatched one included
    cfg = config_from_dict(d)
    cfg.config_path = None
    for st in ("01_twin", "01_train_sae"):  # only stage 01: other tests may have added later stages there
        shutil.copytree(stage_dir(tiny_stage01, st), stage_dir(cfg, st))
    compare.run(cfg)
    deltas.run(cfg)
    fake_placeholder_stages(cfg)
    fake_stage04(cfg)
    report.run(cfg)
    return cfg


@pytest.fixture(scope="session")
def report_dir(report_cfg) -> Path:
    return stage_dir(report_cfg, "05_report")


def copy_of_run(report_cfg, output_root: Path, ignore=None, **changes):
    """The report fixture's run copied into ``output_root`` (``ignore``: as shutil.copytree's), with config fields
    ``changes``; a test that reruns a stage works on such a copy, never on the shared run. Returns the config."""
    cfg = dataclasses.replace(report_cfg, output_root=str(output_root), **changes)
    shutil.copytree(run_dir(report_cfg), run_dir(cfg), ignore=ignore)
    return cfg


# --------------------------------------------------------------------------------------------
# HTML parsing helpers
# --------------------------------------------------------------------------------------------
class _Parser(HTMLParser):
    """Collects tables (by id), images, visible text, links and scripts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.imgs: list[str] = []
        self.text: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self._table = None
        self._row = None
        self._cell = None
        self._skip = 0
        self._badge = False
        self.badges: list[str] = []  # warning marks (span.badge); not part of a cell's text
        self.anchors: set[str] = set()  # element ids
        self.links: list[str] = []  # in-document links (#...)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.anchors.add(a["id"])
        if tag == "a" and (a.get("href") or "").startswith("#"):
            self.links.append(a["href"][1:])
        if tag == "span" and "badge" in (a.get("class") or "").split():
            self._badge = True
        if tag in ("style", "title"):
            self._skip += 1
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table = a.get("id", f"anon{len(self.tables)}")
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.imgs.append(a.get("src", ""))
        for k in ("src", "href"):
            v = a.get(k)
            if v and not (v.startswith("data:") or v.startswith("#")):
                self.external.append(v)

    def handle_endtag(self, tag):
        if tag == "span":
            self._badge = False
        if tag in ("style", "title"):
            self._skip -= 1
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._badge:
            self.badges.append(data)
        elif self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="session")
def parsed(report_dir) -> _Parser:
    p = _Parser()
    p.feed((report_dir / "report.html").read_text(encoding="utf-8"))
    return p


def numbers(cell: str) -> list[float]:
    """The numbers shown in a cell ('1,234', '-0.123', '12.3%', '[0.1, 0.2]', '1.2e-03')."""
    return [float(x.replace(",", "")) for x in re.findall(r"[-+]?\d[\d,]*\.?\d*(?:e[-+]?\d+)?", cell)]


def shown_equals(cell: str, value, pct: bool = False) -> bool:
    """The cell shows ``value`` at the cell's own precision (``pct``: value is a fraction shown in %)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return cell.strip() == "\u2013"
    got = numbers(cell)
    if len(got) != 1:
        return False
    want = 100 * value if pct else value
    m = re.search(r"\.(\d+)", cell)
    decimals = len(m.group(1)) if m and "e" not in cell else 0
    if "e" in cell:
        return abs(got[0] - want) <= abs(want) * 5e-3
    return abs(got[0] - want) <= 0.5 * 10 ** -decimals + 1e-12


def table(parsed: _Parser, tid: str) -> tuple[list[str], list[list[str]]]:
    assert tid in parsed.tables, f"table {tid} missing; have {sorted(parsed.tables)}"
    rows = parsed.tables[tid]
    return rows[0], rows[1:]


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------
def test_outputs_and_manifest(report_cfg, report_dir):
    for name in ("report.html", "report.md", "findings.json", "manifest.json"):
        assert (report_dir / name).is_file(), name
    man = read_json(report_dir / "manifest.json")
    assert set(man["inputs"]["stages"]) >= {"01_train_sae", "02_compare_features", "03_activation_deltas",
                                            "04_interpret", "01_twin"}
    assert man["config"] == {"report": to_dict(report_cfg)["report"]}
    # every figure the Markdown references exists next to it
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(refs) >= 6
    for ref in refs:
        assert (report_dir / ref).is_file(), ref


def test_html_is_self_contained_and_figures_decode(parsed, report_dir):
    from PIL import Image

    assert not parsed.external, f"external references: {parsed.external[:3]}"
    assert parsed.scripts == 0
    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    assert "<link" not in html_text and "@import" not in html_text and "url(" not in html_text
    for fid in ("fig-sae-losses", "fig-training-curves", "fig-twin", "fig-class-counts", "fig-similarity-hist",
                "fig-matched-scatter", "fig-continuum", "fig-four-panel", "fig-label-scores"):  # every figure
        assert f'<figure id="{fid}"><img src="data:image/png;base64,' in html_text, fid
    assert len(parsed.imgs) == 9
    md_figs = len(re.findall(r"!\[", (report_dir / "report.md").read_text(encoding="utf-8")))
    assert len(parsed.imgs) == md_figs
    for src in parsed.imgs:
        assert src.startswith("data:image/png;base64,")
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1], validate=True)))
        img.load()
        assert img.format == "PNG" and img.width > 300 and img.height > 150
        arr = np.asarray(img.convert("L"))
        assert arr.std() > 5, "blank figure"


def test_sections_present(parsed):
    text = " ".join(parsed.text)
    for heading in ("Findings", "Setup", "SAE quality", "The fine-tuned twin", "Feature matching against the seed "
                    "spread", "Activation deltas on the probe set", "Labelled features, side by side",
                    "Feature cards", "Provenance"):
        assert heading in text, heading
    assert "feature i vs feature i" in text and "Hungarian" in text and "seed pairs" in text
    assert "held-out templates" in text and "control twin" in text


def test_no_undefined_values_leak(parsed, report_dir):
    text = " ".join(parsed.text)
    assert not LEAK.findall(text), sorted(set(LEAK.findall(text)))
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    md_text = re.sub(r"!\[[^\]]*\]\([^)]+\)|<[^>]+>", " ", md)
    assert not LEAK.findall(md_text), sorted(set(LEAK.findall(md_text)))
    for f in json.loads((report_dir / "findings.json").read_text()):
        assert not LEAK.findall(f["text"]), f


def test_sae_quality_table_matches_summary(report_cfg, parsed):
    summary = read_json(stage_dir(report_cfg, "01_train_sae") / "summary.json")
    head, rows = table(parsed, "tbl-sae-quality")
    col = {h: i for i, h in enumerate(head)}
    assert {r[0] for r in rows} == set(summary)
    for r in rows:
        s = summary[r[0]]
        f = s["fidelity"]
        assert shown_equals(r[col["FVU"]], s["fvu"])
        assert shown_equals(r[col["explained variance"]], s["explained_variance"])
        assert shown_equals(r[col["L0"]], s["l0"])
        assert shown_equals(r[col["dead latents"]], s["dead_fraction"], pct=True)
        assert shown_equals(r[col["clean loss"]], f["clean_loss"])
        assert shown_equals(r[col["SAE loss"]], f["sae_loss"])
        assert shown_equals(r[col["zero-ablation loss"]], f["zero_ablation_loss"])
        assert shown_equals(r[col["loss recovered"]], f["loss_recovered"], pct=True)  # real-token positions
        assert shown_equals(r[col["loss recovered, [MASK] positions"]], f["loss_recovered_mask_positions"], pct=True)
        assert shown_equals(r[col["loss recovered vs mean ablation"]], f["loss_recovered_vs_mean_ablation"], pct=True)
        assert shown_equals(r[col["delta-CE (nats)"]], f["delta_ce_nats"])
        assert shown_equals(r[col["KL to clean (nats)"]], f["kl_to_clean_nats"])


def test_twin_tables_match_twin_report(report_cfg, parsed):
    tw = read_json(stage_dir(report_cfg, "01_twin") / "twin_report.json")
    head, rows = table(parsed, "tbl-twin-drift")
    twins = ["tuned", "control", "planted", "replica"]
    assert head[1::2] == ["financial twin: L2 change", "control twin: L2 change", "planted twin: L2 change",
                          "replica twin: L2 change"]
    assert len(rows) == len(tw["drift"]["tuned"])
    for r, name in zip(rows, tw["drift"]["tuned"]):
        for k, t in enumerate(twins):
            d = tw["drift"][t][name]
            assert shown_equals(r[1 + 2 * k], d["l2"]) and shown_equals(r[2 + 2 * k], d["relative"], pct=True)
    head, rows = table(parsed, "tbl-twin-mlm")
    assert head[2:7] == ["base MLM loss", "tuned MLM loss", "control MLM loss", "planted MLM loss", "replica MLM loss"]
    assert "eval_mlm_loss" not in tw  # measured by stage 03, where the probe is read
    acc = tw["twins"]["tuned"]["tokenisation"]
    assert f"cut into {acc['windows']:,} windows as stage 01 cuts the corpus" in " ".join(parsed.text)
    mlm = read_json(stage_dir(report_cfg, "03_activation_deltas") / "twin_eval.json")["eval_mlm_loss"]
    assert len(rows) == len(mlm) == 2
    for r, (dom, v) in zip(rows, mlm.items()):
        assert r[0] == {"target": "financial", "reference": "general"}[dom] + " text"  # data.*_domain names
        assert shown_equals(r[2], v["base"]) and shown_equals(r[3], v["tuned"]) and shown_equals(r[4], v["control"])
        assert shown_equals(r[7], (v["tuned"] - v["base"]) / v["base"], pct=True)  # first change column


def test_matching_tables_match_compare_summary(report_cfg, parsed):
    from featevo.results import COMPARISONS

    s = read_json(stage_dir(report_cfg, "02_compare_features") / "summary.json")
    comps = COMPARISONS.read(stage_dir(report_cfg, "02_compare_features")).rows()
    head, rows = table(parsed, "tbl-matching")
    assert head[1:] == ["base vs tuned", "seed pairs (baseline)", "base vs control twin", "tuned vs planted"]
    fams = ["fine-tuning", "seed", "control", "planted"]
    by = {r[0]: r for r in rows}
    for label, stat, pct in (("matched (shared or shifted) pairs", "matched_fraction", True),
                             ("shared pairs", "shared_fraction", True), ("mean decoder cosine of pairs",
                                                                         "mean_pair_cosine", False),
                             ("new latents (second SAE)", "new", False), ("lost latents (first SAE)", "lost", False)):
        for col, fam in enumerate(fams, start=1):
            vals = [r[stat] for r in comps if r["family"] == fam]
            got = numbers(by[label][col])
            want = [sum(vals) / len(vals)] + ([min(vals), max(vals)] if len(vals) > 1 else [])
            scale = 100 if pct else 1
            assert got == pytest.approx([scale * w for w in want], abs=0.051 * scale if pct else 0.051), (label, fam)
    _, rows = table(parsed, "tbl-matching-claims")
    assert len(rows) == len(s["claims"])
    for r, c in zip(rows, s["claims"]):
        assert r[5] == ("yes" if c["supported"] else "no")
        if c["test"].get("p") is not None:
            assert shown_equals(r[3], c["test"]["p"])
        if c["test"].get("min_attainable_p") is not None:  # every p beside its smallest attainable value
            assert shown_equals(r[4], c["test"]["min_attainable_p"])
        if c.get("parts"):  # the matched fraction's row carries new and lost as its parts
            assert "new latents (second SAE)" in r[0] and "lost latents (first SAE)" in r[1]
    _, rows = table(parsed, "tbl-classes")
    prim = next(r for r in comps if r["comparison"] == s["primary"])
    by = {r[0]: r for r in rows}
    assert shown_equals(by["new (second SAE)"][1], prim["new"]) and shown_equals(by["lost (first SAE)"][1],
                                                                                  prim["lost"])
    assert shown_equals(by["shifted"][1], prim["matched"] - prim["shared"])
    _, rows = table(parsed, "tbl-transfer")
    for r, v in zip(rows, s["transfer"].values()):
        assert shown_equals(r[1], v["fvu"]) and shown_equals(r[2], v["fvu_own_sae"])
        assert shown_equals(r[4], v["loss_recovered"], pct=True)
    text = " ".join(parsed.text)
    b_seed, t_seed = s["sae_seeds"]["base"], s["sae_seeds"]["tuned"]
    assert f"use seeds {b_seed:,} and {t_seed:,}" in text and "start from the same seed" not in text


def test_delta_table_matches_feature_table(report_cfg, parsed):
    from featevo.results import FEATURE_TABLE

    ft = {r["pair_id"]: r for r in FEATURE_TABLE.read(stage_dir(report_cfg, "03_activation_deltas"))}
    head, rows = table(parsed, "tbl-top-deltas")
    assert 0 < len(rows) <= report_cfg.report.table_rows
    col = {h: i for i, h in enumerate(head)}
    prev = (False, 0.0)
    for r in rows:
        f = ft[int(numbers(r[col["pair"]])[0])]
        assert numbers(r[col["latents, base → tuned"]]) == [f["base_latent"], f["tuned_latent"]]
        assert shown_equals(r[col["change (did)"]], f["did"])
        lo, hi = numbers(r[col["CI"]])
        assert abs(lo - f["did_ci_low"]) <= 5e-3 * abs(f["did_ci_low"]) + 1e-9
        assert abs(hi - f["did_ci_high"]) <= 5e-3 * abs(f["did_ci_high"]) + 1e-9
        assert shown_equals(r[col["z"]], f["z"]) and shown_equals(r[col["calibrated q"]], f["q_calibrated"])
        assert r[col["beyond seed"]] == ("yes" if f["discovered"] else "no")
        assert shown_equals(r[col["financial change"]], f["delta_target"])
        assert shown_equals(r[col["general change"]], f["delta_reference"])
        key = (not f["discovered"], -abs(f["z"]))
        assert key >= prev  # discoveries first, then by |z|
        prev = key


def test_held_out_table_matches_csv(report_cfg, parsed):
    from featevo.results import HELD_OUT

    src = HELD_OUT.read(stage_dir(report_cfg, "03_activation_deltas")).rows()
    head, rows = table(parsed, "tbl-held-out")
    assert len(rows) == len(src) == min(report_cfg.deltas.top_n, len(src))
    for r, f in zip(rows, src):
        assert shown_equals(r[0], f["rank"]) and shown_equals(r[1], f["pair_id"])
        assert shown_equals(r[3], f["z_selection"]) and shown_equals(r[4], f["did_held_out"])
        assert shown_equals(r[6], f["z_held_out"]) and shown_equals(r[7], f["q_held_out"])
        assert r[8] == ("yes" if f["confirmed"] else "no")


def test_label_table_and_cards(report_cfg, parsed, report_dir):
    from featevo.results import LABELS, SCORES

    labels = LABELS.read(stage_dir(report_cfg, "04_interpret")).rows()
    scores = {(r["sae"], r["latent"], r["scorer"], r["kind"]): r["value"]
              for r in SCORES.read(stage_dir(report_cfg, "04_interpret"))}
    head, rows = table(parsed, "tbl-labels")
    assert len(rows) == len(labels)
    by_tuned = {r["tuned_latent"]: r for r in labels}
    for r in rows:
        src = by_tuned[int(numbers(r[6])[0])]
        for side, col in (("base", 3), ("tuned", 7)):
            lab = src[f"{side}_label"]
            assert r[col] == ("\u2013" if lab is None or lab.startswith("[failed") else lab)
        assert shown_equals(r[4], scores.get(("base", src["base_latent"], "detection", "own")))
        assert shown_equals(r[9], scores.get(("tuned", src["tuned_latent"], "fuzzing", "own")))
    s4 = read_json(stage_dir(report_cfg, "04_interpret") / "summary.json")
    head, rows = table(parsed, "tbl-label-scores")
    for r in rows:
        sc = s4["scores"][r[0]]
        assert shown_equals(r[1], sc["latents"]) and shown_equals(r[3], sc["failed"])
        assert shown_equals(r[4], sc["detection_accuracy_mean"])
        assert shown_equals(r[5], sc["detection_accuracy_shuffled_mean"])
        assert shown_equals(r[6], sc["detection_beats_shuffled_fraction"], pct=True)
        assert shown_equals(r[7], sc["fuzzing_accuracy_mean"])
    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    labelled = html_text.split('<h3 class="cards-head">')[1] if '<h3 class="cards-head">' in html_text else html_text
    n_cards = labelled.count('<article class="card"')
    assert n_cards == min(report_cfg.report.feature_cards, len(labels))
    assert 'class="tok' in html_text and "rgba(31,119,180," in html_text and "rgba(255,127,14," in html_text
    assert "no matched partner" in html_text  # the unmatched latent's card says why one side is empty
    assert "no usable explanation: no [EXPLANATION] line after 3 attempts" in html_text  # the failed label, why


def test_findings_are_generated_from_outputs(report_cfg, report_dir):
    from featevo.report.templates import fp

    findings = {f["id"]: f for f in json.loads((report_dir / "findings.json").read_text())}
    assert {"sae_quality", "twin", "matching", "dictionary_size", "deltas", "deltas_control",
            "deltas_held_out", "domain_latents", "labels"} <= set(findings)
    assert "new_lost" not in findings and "lost" not in findings  # one effect: the matched fraction and its parts
    s3 = read_json(stage_dir(report_cfg, "03_activation_deltas") / "summary.json")
    s2 = read_json(stage_dir(report_cfg, "02_compare_features") / "summary.json")
    c3 = {c["id"]: c for c in s3["claims"]}
    c2 = {c["id"]: c for c in s2["claims"]}
    for fid, claim in (("deltas", c3["domain_specific_change"]), ("deltas_control",
                                                                  c3["target_specific_beyond_control"]),
                       ("matching", c2["matched_fraction:fine-tuning_vs_seed"])):
        f = findings[fid]
        (fc,) = f["claims"]
        assert fc["observed"]["values"] == claim["observed"]["values"]  # the values ...
        assert fc["null"]["values"] == claim["null"]["values"]  # ... beside the null's ...
        for side in ("observed", "null"):
            assert fc[side]["ci_low"] <= fc[side]["mean"] <= fc[side]["ci_high"]  # ... with an interval
        assert f["supported"] == fc["supported"] == claim["supported"]
        words = claim["statement"] if claim["supported"] else claim["negation"]
        assert f["text"].lower().startswith(words.lower())  # the sentence says what the numbers support
        assert f"smallest attainable {fp(claim['test']['min_attainable_p'])}" in f["text"]
    assert "its parts: new latents (second SAE)" in findings["matching"]["text"]
    assert findings["matching"]["claims"][0]["parts"]["lost"]["observed"]["values"] == \
        c2["matched_fraction:fine-tuning_vs_seed"]["parts"]["lost"]["observed"]["values"]
    if "matching_control_twin" in findings:  # what the control twin changes: a comparison, not a control
        assert findings["matching_control_twin"]["role"] == "comparison"
    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    for f in findings.values():
        assert f["text"].split(" ")[0] in html_text


def test_skip_refuse_and_force(report_cfg, report_dir, caplog):
    from featevo import report

    before = (report_dir / "manifest.json").read_bytes()
    report.run(report_cfg)  # current: skipped
    assert (report_dir / "manifest.json").read_bytes() == before
    report.run(report_cfg, force=True)  # --force: rebuilt
    assert (report_dir / "manifest.json").read_bytes() != before
    # a missing upstream stage: refused with one line naming the command to run
    other = config_from_dict({**to_dict(report_cfg), "run_name": "other"})
    with pytest.raises(StageError, match=r"01_train_sae.*run: python 01_train_sae/train_sae.py"):
        report.run(other)
    # a stage 04 made with another config: refused, pointing at stage 04
    changed = config_from_dict({**to_dict(report_cfg), "interpret": {**to_dict(report_cfg)["interpret"],
                                                                     "max_retries": 7}})
    with pytest.raises(StageError, match="04_interpret"):
        report.run(changed)


def test_stage_script_cli(report_cfg, tmp_path, capsys):
    """The thin script maps a missing stage to one line and exit status 2."""
    import importlib.util

    import yaml

    from featevo.layout import REPO_ROOT

    spec = importlib.util.spec_from_file_location("report_script", REPO_ROOT / "05_report" / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    conf = tmp_path / "c.yaml"
    conf.write_text(yaml.safe_dump({**to_dict(report_cfg), "run_name": "missing"}))
    assert mod.main(["--config", str(conf)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "01_train_sae" in err[0]
    conf.write_text(yaml.safe_dump(to_dict(report_cfg)))
    assert mod.main(["--config", str(conf)]) == 0


def test_degraded_inputs_render_with_dashes(report_cfg, tmp_path):
    """Optional upstream pieces missing (no twin report, scores, contexts, labels summary, loss recovered):
    the report still renders, says why, and prints no undefined value."""
    import copy

    from featevo.report import build_report, load_upstream
    from featevo.results import LABELS_SUMMARY
    from featevo.tables import Table

    up = load_upstream(report_cfg)
    up.twin = None
    up.interpret.summary = {}  # scores then come from the per-latent CSV
    up.interpret.labels_summary = Table(LABELS_SUMMARY, [])
    up.contexts, up.deltas.interesting = {}, {}
    up.sae_summary = copy.deepcopy(up.sae_summary)
    up.sae_summary["tuned"]["fidelity"]["loss_recovered"] = None
    up.deltas.summary = {}
    info = build_report(report_cfg, tmp_path, up)
    assert info["cards"] > 0
    p = _Parser()
    p.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    text = " ".join(p.text)
    assert not LEAK.findall(text)
    assert "twin report" in text and "is missing" in text
    assert "No activating contexts saved" in text
    _, rows = table(p, "tbl-sae-quality")
    assert [r for r in rows if r[0] == "tuned"][0][-1] == "\u2013"


def test_formatting_units():
    from featevo.report.common import label_text, split_label
    from featevo.report.templates import MISSING, fci, fint, fnum, fp, fpct, fsig, token_pieces

    assert fnum(float("nan")) == fnum(None) == fint(None) == fpct(None) == fp(None) == fci(1, None) == MISSING
    assert fnum(-0.0001, 3) == "0.000" and fnum(1234.5678, 1) == "1,234.6"
    assert fsig(0.0012345) == "0.00123" and fsig(12.345) == "12.3" and fsig(-0.5, signed=True) == "-0.500"
    assert fsig(0.02, signed=True) == "+0.0200" and fsig(0) == "0" and "e" in fsig(1.5e-9)
    assert fpct(0.1234) == "12.3%" and fpct(-0.05, 1, signed=True) == "-5.0%"
    assert fp(0.0004) == "4.00e-04" and fp(0.2) == "0.200"
    assert fci(0.01, 0.02) == "[0.0100, 0.0200]"
    assert label_text("  None ") == label_text("") == label_text(None) == MISSING
    assert label_text(" Dollar\n amounts ") == "Dollar amounts"
    assert split_label("[failed: no reply]") == (MISSING, "no reply") and split_label("x") == ("x", "")
    assert "".join(t if not i or not s else " " + t for i, (t, s) in enumerate(
        token_pieces(["the", "company", "'", "s", "down", "##grade", "$", "5", "."]))) == "the company's downgrade $5."


def test_delta_summary_and_per_category_tables(report_cfg, parsed):
    from featevo.results import COMPARISON_COUNTS, DOMAIN_LATENTS, PER_CATEGORY

    s3 = stage_dir(report_cfg, "03_activation_deltas")
    counts = COMPARISON_COUNTS.read(s3).rows()
    head, rows = table(parsed, "tbl-delta-summary")
    by = {r[0]: r for r in rows}
    for col, fam in enumerate(("fine-tuning", "seed", "control"), start=1):
        for label, key in (("matched pairs", "matched_pairs"), ("pairs changed beyond seed noise", "discoveries"),
                           ("top pairs confirmed on held-out templates", "confirmed")):
            vals = [r[key] for r in counts if r["family"] == fam]
            want = [sum(vals) / len(vals)] + ([min(vals), max(vals)] if len(vals) > 1 else [])
            assert numbers(by[label][col]) == pytest.approx(want, abs=0.051), (label, fam)
    dom = DOMAIN_LATENTS.read(s3).rows()
    _, rows = table(parsed, "tbl-domain-latents")
    assert [r[0] for r in rows] == [d["sae"] for d in dom]
    for r, d in zip(rows, dom):
        assert shown_equals(r[3], d["target_latents"]) and shown_equals(r[4], d["reference_latents"])
    per_cat = PER_CATEGORY.read(s3).rows()
    _, rows = table(parsed, "tbl-per-category")
    assert [r[0] for r in rows] == list(dict.fromkeys(r["category"] for r in per_cat))
    for r in rows:
        for col, model in ((3, "base"), (4, "tuned")):
            vals = [x["mean_activation"] for x in per_cat if x["category"] == r[0] and x["model"] == model]
            assert shown_equals(r[col], sum(vals) / len(vals))


def test_markdown_twin_has_the_same_tables(parsed, report_dir):
    """Every HTML table appears in report.md, cell for cell (inline markup aside)."""
    md = (report_dir / "report.md").read_text(encoding="utf-8")

    def clean(cell: str) -> str:
        cell = cell.split(" [!")[0]  # warning marks (badges: not part of a cell's text in the HTML)
        cell = re.sub(r"\[([^\]]+)\]\(#[\w-]+\)", r"\1", cell)  # in-document links
        cell = re.sub(r"^\*([^*].*[^*])\*$", r"\1", cell.strip())  # a greyed (muted) label
        return re.sub(r"`|\*\*|\\\|", lambda m: "|" if m.group(0) == "\\|" else "", cell).strip()

    for tid, rows in parsed.tables.items():
        m = re.search(rf'<a id="{tid}"></a>\n\n((?:\|.*\|\n)+)', md)
        assert m, f"table {tid} missing from report.md"
        lines = [ln for ln in m.group(1).splitlines() if not re.fullmatch(r"\|[-:|]+\|", ln)]
        md_rows = [[clean(c) for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in lines]
        assert md_rows == [[clean(c) for c in r] for r in rows], tid


def test_report_on_real_stage04_outputs(tiny_stage01, tmp_path):
    """When tests/test_interpret.py's end-to-end test has run stages 02-04 for real (local LLM) on the
    shared tiny outputs, render the report from those too: real labels, failures and scores."""
    from featevo import report
    from featevo.results import LABELS

    src = run_dir(tiny_stage01)
    if not (src / "04_interpret" / "manifest.json").is_file():
        pytest.skip("no real stage 04 outputs in this session (tests/test_interpret.py makes them with the local LLM)")
    d = to_dict(tiny_stage01)
    d["output_root"] = str(tmp_path / "outputs")
    cfg = config_from_dict(d)
    for st in ("01_twin", "01_train_sae", "02_compare_features", "03_activation_deltas", "04_interpret"):
        shutil.copytree(src / st, stage_dir(cfg, st))
    fake_placeholder_stages(cfg)
    out = report.run(cfg)
    p = _Parser()
    p.feed((out / "report.html").read_text(encoding="utf-8"))
    assert not LEAK.findall(" ".join(p.text)), sorted(set(LEAK.findall(" ".join(p.text))))
    labels = LABELS.read(stage_dir(cfg, "04_interpret"))
    _, rows = table(p, "tbl-labels")
    assert len(rows) == min(len(labels), cfg.report.table_rows)
    s4 = read_json(stage_dir(cfg, "04_interpret") / "summary.json")
    heads, rows = table(p, "tbl-label-scores")
    assert rows
    for r in rows:
        if "scorer" in heads:  # the paired table: one row per SAE and scorer that ran
            e = s4["scores"][r[0]]
            assert r[1] in cfg.interpret.scorers
            assert shown_equals(r[2], e[f"{r[1]}_scored"]) and shown_equals(r[6], e[f"{r[1]}_accuracy_mean"])
        else:
            assert shown_equals(r[1], s4["scores"][r[0]]["latents"])
            assert shown_equals(r[4], s4["scores"][r[0]]["detection_accuracy_mean"])


def test_top_target_table_matches_csv(report_cfg, tmp_path):
    """top_target_features.csv as rendered; the tiny run may have no significantly financial latent,
    so rows in its format are added when it is empty."""
    from featevo.report import build_report, load_upstream
    from featevo.results import TOP_FEATURES
    from featevo.tables import Table

    up = load_upstream(report_cfg)
    src = TOP_FEATURES.read(stage_dir(report_cfg, "03_activation_deltas")).rows()
    if not src:
        blank = dict.fromkeys(TOP_FEATURES.fields)
        src = [{**blank, "model": m, "rank": i + 1, "latent": i, "class": "shared", "target_score": 0.0123 * (i + 1),
                "target_ci_low": 0.01, "target_ci_high": 0.02, "reference_score": 0.00456,
                "target_minus_reference": 0.0078,
                "specialization": 0.4567, "q_value": 0.0123, "matched_latent": None if i else 5,
                "did": None if i else -0.00321} for m in ("base", "tuned") for i in range(2)]
        up.deltas.top_features = Table(TOP_FEATURES, src)
    build_report(report_cfg, tmp_path, up)
    p = _Parser()
    p.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    _, rows = table(p, "tbl-top-target")
    assert rows
    by = {(r["model"], r["latent"]): r for r in src}
    for r in rows:
        f = by[(r[0], int(numbers(r[2])[0]))]
        assert shown_equals(r[1], f["rank"]) and shown_equals(r[4], f["target_score"])
        assert shown_equals(r[6], f["reference_score"]) and shown_equals(r[7], f["specialization"])
        assert shown_equals(r[8], f["q_value"]) and shown_equals(r[10], f["did"])
        lo, hi = numbers(r[5])
        assert abs(lo - f["target_ci_low"]) <= 5e-3 * abs(f["target_ci_low"])
        assert abs(hi - f["target_ci_high"]) <= 5e-3 * abs(f["target_ci_high"])


# --------------------------------------------------------------------------------------------
# The text follows the numbers: perturb the stage outputs, the sentences change with them
# --------------------------------------------------------------------------------------------
def _with_values(claim: dict, observed: list, null: list) -> dict:
    """The claim with other observed and null values and a stale verdict (the opposite of what they support):
    the report must re-derive the verdict from the numbers, never trust the stored one."""
    from featevo.claims import evaluate

    c = {**claim, "observed": {**claim["observed"], "values": observed},
         "null": {**claim["null"], "values": null}}
    if claim.get("kind") == "sae_permutation":  # the SAE is the unit: the values live on the pairs of SAEs
        g = claim["groups"]
        if claim["test"]["design"] == "crossed_vs_within":
            first = set(next(iter(g.values())))
            crossed = [(p["a"] in first) != (p["b"] in first) for p in claim["pairs"]]
        else:
            crossed = [p["a"] in g["observed"] or p["b"] in g["observed"] for p in claim["pairs"]]
        it = {True: iter(observed), False: iter(null)}
        c["pairs"] = [{**p, "value": next(it[x])} for p, x in zip(claim["pairs"], crossed)]
        # the fixture's few SAEs cannot reach alpha 0.05: test at the design's smallest attainable p
        c["test"] = {**claim["test"], "alpha": claim["test"]["min_attainable_p"]}
    return {**c, "supported": not evaluate(c)["supported"]}


def _build_findings(report_cfg, up, out: Path) -> tuple[dict, str]:
    from featevo.report import build_report

    build_report(report_cfg, out, up)
    findings = {f["id"]: f for f in json.loads((out / "findings.json").read_text())}
    return findings, (out / "report.md").read_text(encoding="utf-8")


def _replace_claim(summary: dict, cid: str, new: dict) -> None:
    summary["claims"] = [new if c["id"] == cid else c for c in summary["claims"]]


@pytest.mark.parametrize("direction", ["supported", "not supported"])
def test_report_text_follows_perturbed_numbers(report_cfg, tmp_path, direction):
    import copy

    from featevo.report import load_upstream

    up = load_upstream(report_cfg)
    up.compare.summary = copy.deepcopy(up.compare.summary)
    up.deltas.summary = copy.deepcopy(up.deltas.summary)
    c2 = {c["id"]: c for c in up.compare.summary["claims"]}
    c3 = {c["id"]: c for c in up.deltas.summary["claims"]}
    m, d, f = (c2["matched_fraction:fine-tuning_vs_seed"], c3["domain_specific_change"],
               c3["target_specific_beyond_control"])
    n_m, n_s = len(m["observed"]["values"]), len(m["null"]["values"])
    n_c = len(f["null"]["values"])
    if direction == "supported":  # fine-tuning far below the seed pairs, far more changed pairs than seeds
        mv = ([0.051 + 0.002 * i for i in range(n_m)], [0.612 + 0.01 * i for i in range(n_s)])
        dv = ([17 + i for i in range(n_m)], [0] * n_s)
        fv = ([13 + i for i in range(n_m)], [1] * n_c)
        stab = [0.71 + 0.01 * i for i in range(len(c2["seed_stability:main"]["observed"]["values"]))]
    else:  # the same families, overlapping
        mv = ([0.612 + 0.01 * i for i in range(n_m)], [0.051 + 0.002 * i for i in range(n_s)])
        dv = ([0] * n_m, [17 + i for i in range(n_s)])
        fv = ([1] * n_m, [13 + i for i in range(n_c)])
        stab = [0.21] * len(c2["seed_stability:main"]["observed"]["values"])
    _replace_claim(up.compare.summary, m["id"], _with_values(m, *mv))
    _replace_claim(up.deltas.summary, d["id"], _with_values(d, *dv))
    _replace_claim(up.deltas.summary, f["id"], _with_values(f, *fv))
    s = c2["seed_stability:main"]
    _replace_claim(up.compare.summary, s["id"], {**s, "observed": {**s["observed"], "values": stab},
                                                 "supported": direction != "supported"})
    up.deltas.summary["base_vs_tuned"]["corr_delta_target_delta_reference"] = 0.94 if direction == "supported" else 0.12
    findings, md = _build_findings(report_cfg, up, tmp_path / direction)

    ok = direction == "supported"
    for fid, claim, first_number in (("matching", m, "5.2%" if ok else "64.2%"),
                                     ("deltas", d, f"{17 + (n_m - 1) / 2:.1f}" if ok else "0 in each of"),
                                     ("deltas_control", f, f"{13 + (n_m - 1) / 2:.1f}" if ok else "1 in each of")):
        text = findings[fid]["text"]
        words = claim["statement"] if ok else claim["negation"]
        assert text.lower().startswith(words.lower()), text
        other = claim["negation"] if ok else claim["statement"]
        assert other.lower() not in text.lower()
        assert first_number in text, (first_number, text)
        assert findings[fid]["supported"] is ok and findings[fid]["claims"][0]["supported"] is ok
        assert text in md  # the Markdown report says the same
    if not ok:
        assert "no feature-level change detectable beyond seed noise" in findings["matching"]["text"]
        assert "no feature-level domain-specific change detectable" in findings["deltas"]["text"].lower()
    stab_text = findings["dictionary_size"]["text"]
    assert ("is seed-stable at" in stab_text) == ok and ("is not seed-stable at" in stab_text) == (not ok)
    assert ("71.0%" in stab_text) == ok and ("21.0%" in stab_text) == (not ok)
    raw = findings["raw_deltas"]["text"]
    assert ("r = 0.94" in raw and "largely follows" in raw) if ok else ("r = 0.12" in raw and "loosely" in raw)
    # the claims tables and the headline tiles follow too
    claim_rows = re.findall(r"^\| pairs changed beyond seed noise \| fine-tuning: .*\| (yes|no) \|$", md, re.M)
    assert claim_rows and claim_rows[0] == ("yes" if ok else "no")
    tiles = md.split("## Findings", 1)[1].split("> Each statement", 1)[0]
    assert ("not beyond the baseline" in tiles) == (not ok) and "beyond the baseline" in tiles
    assert ("criterion 50%: met" in tiles) == ok


def test_supports_box_follows_the_findings_flags():
    """The 'What this run supports' box lists exactly the supported findings, and says 'nothing beyond its
    null' when no tested claim is supported."""
    from types import SimpleNamespace

    from featevo.report.context import Finding
    from featevo.report.findings import supports_box
    from featevo.report.templates import Bullets

    f = [Finding("a", "A moved.", {}, [], True), Finding("b", "B did not move.", {}, [], False),
         Finding("c", "C is a number.", {}, [], None)]
    box = supports_box(SimpleNamespace(findings=f))
    lists = {b.cls: b.items for b in box if isinstance(b, Bullets)}
    assert lists["supports"] == ["A moved."] and lists["unsupported"] == ["B did not move."]
    f[0].supported = False
    lists = {b.cls: b.items for b in supports_box(SimpleNamespace(findings=f)) if isinstance(b, Bullets)}
    assert "Nothing in this run is detectable beyond its baseline" in lists["supports none"][0]
    assert lists["unsupported"] == ["A moved.", "B did not move."]
    assert supports_box(SimpleNamespace(findings=[f[2]])) == []


def test_supports_box_groups_controls_by_whether_they_pass():
    """Controls are not claims: a negative control that is 'supported' (the method flags the control twin) fails,
    a positive control that is supported passes; neither is listed as a supported claim, and a failed control is
    marked as failing."""
    from types import SimpleNamespace

    from featevo.report.context import Finding
    from featevo.report.findings import control_passes, supports_box
    from featevo.report.templates import Bullets, Para

    neg = Finding("n", "Control twin flagged.", {}, [], True, "negative_control")
    pos = Finding("p", "Planted twin flagged.", {}, [], True, "positive_control")
    chk = Finding("i", "Splice identity holds.", {}, [], True, "check")
    claim = Finding("c", "A moved.", {}, [], False)
    assert control_passes(neg) is False and control_passes(pos) is True and control_passes(chk) is True
    box = supports_box(SimpleNamespace(findings=[neg, pos, chk, claim]))
    lists = {b.cls: b.items for b in box if isinstance(b, Bullets)}
    assert lists["controls"] == ["FAILS: Control twin flagged.", "Passes: Planted twin flagged.",
                                 "Passes: Splice identity holds."]
    assert "supports" not in lists and lists["unsupported"] == ["A moved."]
    assert any(isinstance(b, Para) and "2 of 3 pass" in b.text for b in box)
    neg.supported, pos.supported = False, False
    lists = {b.cls: b.items for b in supports_box(SimpleNamespace(findings=[neg, pos]))
             if isinstance(b, Bullets)}
    assert lists["controls"] == ["Passes: Control twin flagged.", "FAILS: Planted twin flagged."]
    import pytest
    with pytest.raises(ValueError, match="unknown role"):
        from featevo.report.context import ReportContext
        ReportContext.find(SimpleNamespace(findings=[]), "x", "X.", role="control")


def test_supported_claim_of_a_lens_with_a_failing_control_is_marked():
    from types import SimpleNamespace

    from featevo.report.context import Finding
    from featevo.report.findings import supports_box
    from featevo.report.templates import Bullets

    f = [Finding("t", "Tuned twin flagged.", {}, [], True, "claim", "stage-wise diffing"),
         Finding("n", "Control twin flagged.", {}, [], True, "negative_control", "stage-wise diffing"),
         Finding("m", "Matching moved.", {}, [], True, "claim", "matching")]
    lists = {b.cls: b.items for b in supports_box(SimpleNamespace(findings=f)) if isinstance(b, Bullets)}
    assert lists["supports"][0].startswith("Tuned twin flagged. (Caution: a control of stage-wise diffing fails")
    assert lists["supports"][1] == "Matching moved."
    f[1].supported = False
    lists = {b.cls: b.items for b in supports_box(SimpleNamespace(findings=f)) if isinstance(b, Bullets)}
    assert lists["supports"][0] == "Tuned twin flagged."


def test_fidelity_check_fails_an_sae_below_the_floor():
    """The SAE fidelity check fails exactly the SAEs that recover less than report.min_loss_recovered."""
    from types import SimpleNamespace

    from featevo.report.context import ReportContext
    from featevo.report.sae_quality import fidelity_check

    def run(floor, rec):
        ctx = SimpleNamespace(findings=[], cfg=SimpleNamespace(report=SimpleNamespace(min_loss_recovered=floor)))
        ctx.find = lambda *a, **k: ReportContext.find(ctx, *a, **k)
        fidelity_check(ctx, rec, "masked-LM cross-entropy")
        return ctx.findings

    (f,) = run(0.8, {"base": 0.505, "tuned": 0.926})
    assert f.role == "check" and f.supported is False and f.values["failing"] == ["base"]
    assert "fails for base (50.5%)" in f.text and f.text.startswith("SAE fidelity: 1 of 2 SAEs")
    assert "at real-token positions their latents miss part of what the model computes" in f.text
    (f,) = run(0.5, {"base": 0.505, "tuned": 0.926})
    assert f.supported is True and "passes" in f.text and "miss part" not in f.text
    assert "at the real-token positions" in f.text
    assert run(0.0, {"base": 0.1, "tuned": 0.2}) == [] and run(0.8, {"base": None, "tuned": float("nan")}) == []


def test_table_latents_link_to_their_cards(parsed, report_dir):
    """Every in-document link resolves; every card side has an anchor card-<sae>-<latent> and the label table's
    latents link to theirs; the Markdown twin has the same anchors."""
    assert set(parsed.links) <= parsed.anchors
    cards = {a for a in parsed.anchors if re.fullmatch(r"card-(base|tuned)-\d+", a)}
    assert cards and {ln for ln in parsed.links if ln.startswith("card-")} <= cards
    head, rows = table(parsed, "tbl-labels")
    for r in rows:
        for side, col in (("base", 2), ("tuned", 6)):
            if numbers(r[col]):
                assert f"card-{side}-{int(numbers(r[col])[0])}" in cards  # labelled latents are all carded here
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    assert all(f'<a id="{a}"></a>' in md for a in cards)
    assert re.search(r"\]\(#card-(base|tuned)-\d+\)", md)


def test_change_cards_new_lost_rotated(report_cfg, report_dir):
    from featevo.results import LATENTS

    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    heads = re.findall(r'<h3 class="cards-head">([^<]+)</h3>', html_text)
    assert heads[0].startswith("Most interesting labelled")
    lat = LATENTS.read(stage_dir(report_cfg, "02_compare_features"))
    if any(r["sae"] == "tuned" and r["class"] == "new" and (r["firing_frequency"] or 0) > 0 for r in lat):
        assert any(h.startswith("New latents") for h in heads)
    assert any(h.startswith("Most rotated") for h in heads)


def test_dense_latents_are_marked(report_cfg, tmp_path):
    """With a threshold every firing latent exceeds, each latent cell of the change table carries a dense mark
    and the table says what the mark means."""
    import dataclasses

    from featevo.report import build_report, load_upstream

    cfg = dataclasses.replace(report_cfg, report=dataclasses.replace(report_cfg.report, dense_threshold=1e-9))
    up = load_upstream(cfg)
    build_report(cfg, tmp_path, up)
    p = _Parser()
    p.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert any("dense" in b for b in p.badges)
    tbl = (tmp_path / "report.html").read_text(encoding="utf-8").split('id="tbl-top-deltas"')[1].split("</table>")[0]
    assert tbl.count('class="badge"') >= 1
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "[!dense" in md and "`report.dense_threshold`" in md


def test_card_histograms_are_stage_03s_encode_drawn(report_cfg, report_dir):
    """Stage 03's activation_histograms.csv holds every tuned latent's histogram of the SAE's own encode
    (featevo.probe.scaled_encode) of stage 01's eval activations, and the cards draw exactly those rows."""
    from featevo.activations import ActivationStore
    from featevo.histograms import BINS, MAX_ROWS, parse_counts
    from featevo.layout import acts_dir, sae_dir
    from featevo.probe import scaled_encode
    from featevo.report.histograms import hist_svg
    from featevo.results import load_histograms
    from featevo.sae import load_sae

    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    s1 = stage_dir(report_cfg, "01_train_sae")
    table = load_histograms(stage_dir(report_cfg, "03_activation_deltas"))
    z = scaled_encode(load_sae(sae_dir(s1, "tuned")), ActivationStore(acts_dir(s1, "eval", "tuned")).read_all(MAX_ROWS))
    assert {lat for sae, lat in table if sae == "tuned"} == set(range(z.shape[1]))
    assert {sae for sae, _ in table} == {"base", "tuned"}
    for j in range(z.shape[1]):
        r, nz = table[("tuned", j)], z[:, j][z[:, j] > 0]
        assert (r["tokens"], r["fires"]) == (z.shape[0], nz.size)
        if nz.size:
            assert r["max_act"] == pytest.approx(float(nz.max()), rel=1e-6)
            assert parse_counts(r["counts"]) == np.histogram(nz, bins=BINS, range=(0.0, float(nz.max())))[0].tolist()
        else:
            assert parse_counts(r["counts"]) == []
    drawn = [hist_svg(r, (255, 127, 14) if sae == "tuned" else (31, 119, 180))[0] for (sae, _), r in table.items()]
    assert html_text.count('<div class="hist"><svg') >= 1
    assert sum(svg in html_text for svg in drawn if svg) == html_text.count('<div class="hist"><svg')


def test_label_quality_finding_counts_the_marks(report_cfg, report_dir):
    from featevo.report.common import split_label
    from featevo.results import LABELS

    labels = LABELS.read(stage_dir(report_cfg, "04_interpret")).rows()
    n = sum(1 for r in labels for s in ("base", "tuned")
            if r[f"{s}_latent"] is not None and split_label(r[f"{s}_label"])[0] != "\u2013")
    f = {f["id"]: f for f in json.loads((report_dir / "findings.json").read_text())}["label_quality"]
    v = f["values"]
    assert v["labels"] == n and 0 <= v["clean"] <= n and all(0 <= v[k] <= n for k in ("echo", "duplicate", "floor"))
    html_text = (report_dir / "report.html").read_text(encoding="utf-8")
    assert html_text.count('<div class="label unreliable">no reliable label</div>') >= n - v["clean"] - 1


def test_report_names_the_configured_domains(report_cfg, tmp_path):
    """With data.target_domain / data.reference_domain set (a clinical twin against everyday text), the tables
    and text the report writes from the config name those domains and never 'financial' (issue 15)."""
    import dataclasses

    from featevo.report import build_report, load_upstream

    up = load_upstream(report_cfg)
    up.cfg = dataclasses.replace(report_cfg, data=dataclasses.replace(
        report_cfg.data, target_domain="clinical", reference_domain="everyday"))
    build_report(up.cfg, tmp_path, up)
    p = _Parser()
    p.feed((tmp_path / "report.html").read_text(encoding="utf-8"))
    heads, _ = table(p, "tbl-domain-latents")
    assert heads[-2:] == ["clinical latents", "everyday latents"]
    heads, _ = table(p, "tbl-top-deltas")
    assert "clinical change" in heads and "everyday change" in heads
    heads, rows = table(p, "tbl-twin-mlm")
    assert {r[0] for r in rows} == {"clinical text", "everyday text"} and "change, clinical twin" in heads
    for tid in ("tbl-domain-latents", "tbl-top-deltas", "tbl-twin-mlm", "tbl-twin-drift", "tbl-setup",
                "tbl-delta-summary"):
        heads, rows = table(p, tid)
        text = " ".join(heads + [cell for r in rows for cell in r]).lower()
        assert "financial" not in text and "general" not in text, tid
    assert "clinical" in " ".join(c for r in table(p, "tbl-setup")[1] for c in r)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "domain-specific change (clinical minus everyday)" in md
    assert "(clinical_b − clinical_a) − (everyday_b − everyday_a)" in md
    findings = {f["id"]: f for f in json.loads((tmp_path / "findings.json").read_text())}
    if "twin" in findings:
        assert "on clinical text" in findings["twin"]["text"] and "financial" not in findings["twin"]["text"]


def test_fidelity_check_uses_the_real_token_splice_not_the_mask_positions():
    """A low loss recovered at the [MASK] input rows (rows no SAE trains on) neither fails the check nor brings the
    'miss part of what the model computes' sentence; it is shown apart in the SAE quality finding."""
    from types import SimpleNamespace

    from featevo.report.context import ReportContext
    from featevo.report.sae_quality import quality_finding

    def fid(real, at_mask):
        return {"fvu": 0.3, "explained_variance": 0.7, "l0": 32.0,
                "fidelity": {"head": "mlm", "loss_recovered": real, "loss_recovered_mask_positions": at_mask,
                             "clean_loss": 2.0, "zero_ablation_loss": 2.5, "delta_ce_nats": (1 - real) * 0.5}}

    def run(real):
        summary = {"base": fid(real, 0.12), "tuned": fid(0.95, 0.2)}
        ctx = SimpleNamespace(findings=[], up=SimpleNamespace(sae_summary=summary), sae_names=lambda: list(summary),
                              cfg=SimpleNamespace(report=SimpleNamespace(min_loss_recovered=0.8)))
        ctx.find = lambda *a, **k: ReportContext.find(ctx, *a, **k)
        quality_finding(ctx, "masked-LM cross-entropy")
        return {f.id: f for f in ctx.findings}

    found = run(0.986)
    assert found["sae_fidelity"].supported is True and "miss part" not in found["sae_fidelity"].text
    assert found["sae_fidelity"].values["loss_recovered"] == {"base": 0.986, "tuned": 0.95}
    assert "98.6% and 95.0%" in found["sae_quality"].text and "12.0% and 20.0%" in found["sae_quality"].text
    assert "delta-CE 0.007 and 0.025 nats against a zero-ablation cost of 0.500 and 0.500 nats" in \
        found["sae_quality"].text
    found = run(0.5)
    assert found["sae_fidelity"].supported is False and "miss part" in found["sae_fidelity"].text


def test_a_control_that_cannot_reach_alpha_is_not_called_a_failure():
    """A positive control whose test's smallest attainable p exceeds alpha (e.g. a run-level test with 3 null runs)
    is listed as unable to pass at this design, not as a failing method; one that could have passed still FAILS."""
    from types import SimpleNamespace

    from featevo.report.context import Finding
    from featevo.report.findings import supports_box, unreachable
    from featevo.report.templates import Bullets, Para

    low = {"test": {"p": 0.25, "alpha": 0.05, "min_attainable_p": 0.25}}
    ok = {"test": {"p": 0.2, "alpha": 0.05, "min_attainable_p": 0.001}}
    a = Finding("a", "Stage-wise finds the plant.", {}, [low], False, "positive_control")
    b = Finding("b", "Crosscoder finds the plant.", {}, [ok], False, "positive_control")
    assert unreachable(a) and not unreachable(b)
    box = supports_box(SimpleNamespace(findings=[a, b]))
    lists = {x.cls: x.items for x in box if isinstance(x, Bullets)}
    assert lists["controls"][0].startswith("Cannot pass at this design") and lists["controls"][1].startswith("FAILS")
    assert any(isinstance(x, Para) and "0 of 2 pass, 1 cannot pass at this design" in x.text for x in box)
