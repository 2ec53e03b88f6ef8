"""Stage 05 logic: one self-contained HTML report and its Markdown twin, generated from stages 01-04.

Layout of ``outputs/<run>/05_report/``::

    report.html        self-contained (figures as base64 data URIs, inline CSS, no scripts, no network)
    report.md          the same document in Markdown; it references figures/*.png
    figures/           every figure of the report: the stages' own (copied) and stage 05's (made here)
    findings.json      the findings as text and as the numbers they were generated from
    manifest.json

Every number in the report is read from a stage output and formatted by
:mod:`featevo.report_templates`; the findings are sentences generated from those numbers, so the
text cannot disagree with the data. A value that is missing or undefined is shown as an en dash
and the table says why. Stage 05 refuses to run unless stages 01-04 have finished with the same
config (:func:`featevo.io.require_stage`), and skips when its own manifest is current.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from featevo.config import PipelineConfig
from featevo.io import StageRun, atomic_write_json, atomic_write_text, read_json, require_stage, stage_is_current
from featevo.layout import (
    COMPARE, DELTAS, INTERPRET, PARTIAL_CONFIG, REPORT, TRAIN, TWIN, CompareFiles, DeltasFiles, InterpretFiles,
    ReportFiles, TrainFiles, TwinFiles, display_path, stage_command, stage_dir, upstream_stages,
)
from featevo.report_templates import (
    MISSING, fsig, Bullets, Card, Cards, CardSide, Cell, Context, Doc, Figure, Para, Section, Table, Tile, Tiles, fci, finite, fint,
    fnum, fp, fpct, fsigned, render_html, render_md,
)

logger = logging.getLogger(__name__)

STAGE = REPORT
UPSTREAM: tuple[str, ...] = (TRAIN, COMPARE, DELTAS, INTERPRET)
TWIN_STAGE = TWIN
HTML_FILE = ReportFiles.HTML
MD_FILE = ReportFiles.MD
FIGURES_DIR = ReportFiles.FIGURES
FINDINGS_FILE = ReportFiles.FINDINGS

# Upstream files read here (names are the stages' contracts).
S1_SUMMARY, S1_MODELS, S1_CURVES = TrainFiles.SUMMARY, TrainFiles.MODELS, TrainFiles.CURVES
TWIN_REPORT = TwinFiles.REPORT
S2_SUMMARY, S2_LATENTS, S2_PAIRS, S2_NULL = (CompareFiles.SUMMARY, CompareFiles.LATENTS, CompareFiles.PAIRS,
                                             CompareFiles.NULL_PAIRS)
S2_FIGS = ((CompareFiles.SIMILARITY_HIST, "Decoder cosine and activation correlation of the Hungarian-matched pairs, "
            "base vs tuned against the seed baseline, with the class thresholds."),
           (CompareFiles.MATCHED_SCATTER, "Every matched pair: decoder cosine against activation correlation; the "
            "thresholds split the plane into the classes."))
S3_SUMMARY, S3_PER_CAT, S3_TABLE, S3_TOP = (DeltasFiles.SUMMARY, DeltasFiles.PER_CATEGORY, DeltasFiles.FEATURE_TABLE,
                                          DeltasFiles.TOP_FEATURES)
S3_FIGS = ((DeltasFiles.FOUR_PANEL, "The study's four-panel figure, corrected: matched pairs instead of equal indices, "
            "bootstrap CIs, BH-adjusted tests and the seed baseline."),)
S3_CONTEXTS, S3_INTERESTING = DeltasFiles.CONTEXTS, DeltasFiles.INTERESTING
S4_LABELS, S4_LABEL_SUMMARY = InterpretFiles.LABELS, InterpretFiles.LABELS_SUMMARY
S4_SCORE_SUMMARIES = (InterpretFiles.SUMMARY,)

SAE_ORDER = ("base", "tuned")
_NA = {"", "nan", "NaN", "NAN", "None", "none", "null", "NULL", "NA", "N/A", "n/a", "inf", "-inf"}


# --------------------------------------------------------------------------------------------
# Reading upstream outputs defensively
# --------------------------------------------------------------------------------------------
def parse_value(s: Any) -> Any:
    """CSV text -> None / bool / int / float / str. NaN, inf and blanks become None."""
    if s is None:
        return None
    if not isinstance(s, str):
        return s if not (isinstance(s, float) and not math.isfinite(s)) else None
    t = s.strip()
    if t in _NA:
        return None
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    try:
        v = float(t)
    except ValueError:
        return t
    return v if math.isfinite(v) else None


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: parse_value(v) for k, v in r.items() if k is not None} for r in csv.DictReader(f)]


def read_json_opt(path: Path) -> Any:
    return read_json(path) if path.is_file() else None


def pick(row: Optional[dict], *names: str, default: Any = None) -> Any:
    """First present, non-missing value among ``names`` (column names may vary between versions)."""
    if not row:
        return default
    for n in names:
        v = row.get(n)
        if v is not None and not (isinstance(v, float) and not math.isfinite(v)):
            return v
    return default


def dig(obj: Any, *path: Any, default: Any = None) -> Any:
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and -len(obj) <= p < len(obj):
            obj = obj[p]
        else:
            return default
    return default if obj is None else obj


def as_int(x: Any) -> Optional[int]:
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x
    if isinstance(x, float) and math.isfinite(x) and x == int(x):
        return int(x)
    if isinstance(x, str) and re.fullmatch(r"\s*[+-]?\d+\s*", x):
        return int(x)
    return None


@dataclass
class Upstream:
    """Everything stage 05 reads, loaded once."""

    cfg: PipelineConfig
    manifests: dict[str, dict]
    dirs: dict[str, Path]
    models: dict
    sae_summary: dict
    twin: Optional[dict]
    compare: dict
    latents: list[dict]
    pairs: list[dict]
    null_pairs: list[dict]
    deltas: dict
    per_category: list[dict]
    feature_table: list[dict]
    top_features: list[dict]
    contexts: dict[str, dict]
    interesting: dict
    labels: list[dict]
    labels_summary: list[dict]
    scores: dict
    scores_file: str
    counts: dict = field(default_factory=dict)


def load_upstream(cfg: PipelineConfig) -> Upstream:
    """Check stages 01-04 (one-line error naming what to run) and read their outputs."""
    manifests = {}
    for st in UPSTREAM:
        # stage 01 holds the activation shards (hundreds of MB): its hashes are checked by the stages
        # that read them; stage 05 reads only its small JSON/CSV/PNG files.
        manifests[st] = require_stage(cfg, st, verify_files=(st != "01_train_sae"))
    if cfg.twin.enabled:
        manifests[TWIN_STAGE] = require_stage(cfg, TWIN_STAGE, verify_files=False)
    dirs = {st: stage_dir(cfg, st) for st in (*UPSTREAM, TWIN_STAGE)}
    d1, d2, d3, d4 = (dirs[s] for s in UPSTREAM)
    contexts = {}
    for side in SAE_ORDER:
        c = read_json_opt(d3 / S3_CONTEXTS / f"{side}.json")
        contexts[side] = c if isinstance(c, dict) else {}
    scores, scores_file = {}, ""
    for name in S4_SCORE_SUMMARIES:
        s = read_json_opt(d4 / name)
        if isinstance(s, dict):
            scores, scores_file = s, f"04_interpret/{name}"
            break
    counts = {}
    for split in ("train", "eval"):
        docs = d1 / split / TrainFiles.DOCS
        if docs.is_file():
            with open(docs, encoding="utf-8") as f:
                counts[f"{split}_docs"] = sum(1 for line in f if line.strip())
        idx = read_json_opt(d1 / split / "base" / TrainFiles.INDEX)
        if isinstance(idx, dict):
            counts[f"{split}_tokens"] = idx.get("n_rows")
    return Upstream(
        cfg=cfg, manifests=manifests, dirs=dirs,
        models=read_json_opt(d1 / S1_MODELS) or {}, sae_summary=read_json_opt(d1 / S1_SUMMARY) or {},
        twin=read_json_opt(dirs[TWIN_STAGE] / TWIN_REPORT) if cfg.twin.enabled else None,
        compare=read_json_opt(d2 / S2_SUMMARY) or {}, latents=read_rows(d2 / S2_LATENTS),
        pairs=read_rows(d2 / S2_PAIRS), null_pairs=read_rows(d2 / S2_NULL),
        deltas=read_json_opt(d3 / S3_SUMMARY) or {}, per_category=read_rows(d3 / S3_PER_CAT),
        feature_table=read_rows(d3 / S3_TABLE), top_features=read_rows(d3 / S3_TOP), contexts=contexts,
        interesting=read_json_opt(d3 / S3_INTERESTING) or {}, labels=read_rows(d4 / S4_LABELS),
        labels_summary=read_rows(d4 / S4_LABEL_SUMMARY), scores=scores, scores_file=scores_file, counts=counts,
    )


# --------------------------------------------------------------------------------------------
# Small builders
# --------------------------------------------------------------------------------------------
def num(text: str) -> Cell:
    return Cell(text, numeric=True)


def kv_table(tid: str, caption: str, items: list[tuple[str, Any]], source: str = "", notes=None) -> Table:
    rows = [[k, Cell(v.text) if isinstance(v, Cell) else Cell(str(v))] for k, v in items]
    return Table(tid, ["item", "value"], rows, caption=caption, source=source, notes=list(notes or []))


def code(s: Any) -> str:
    return f"`{s}`" if s not in (None, "") else MISSING


def pct_change(new: Any, old: Any) -> Optional[float]:
    if finite(new) and finite(old) and old != 0:
        return (new - old) / abs(old)
    return None


def word_change(new: Any, old: Any, up: str = "rose", down: str = "fell", same: str = "stayed at") -> str:
    if not (finite(new) and finite(old)):
        return "changed"
    return up if new > old else down if new < old else same


def plural(n: Any, one: str, many: Optional[str] = None) -> str:
    return one if n == 1 else (many or one + "s")


@dataclass
class Finding:
    id: str
    text: str
    values: dict


class Report:
    """Builds the :class:`Doc` and the figures from an :class:`Upstream`."""

    def __init__(self, up: Upstream, out_dir: Path):
        self.up = up
        self.cfg = up.cfg
        self.out = out_dir
        self.fig_dir = out_dir / FIGURES_DIR
        self.fig_dir.mkdir(parents=True, exist_ok=True)
        self.findings: list[Finding] = []

    # ---------------------------------------------------------------- figures
    def copy_figure(self, src: Path, name: str) -> Optional[Path]:
        if not src.is_file():
            return None
        dst = self.fig_dir / name
        shutil.copyfile(src, dst)
        svg = src.with_suffix(".svg")
        if svg.is_file():
            shutil.copyfile(svg, dst.with_suffix(".svg"))
        return dst

    def figure_block(self, path: Optional[Path], caption: str, alt: str, fid: str = "", max_width: int = 0) -> list:
        if path is None or not path.is_file():
            return [Para(f"Figure not available: {alt} (the upstream stage did not write it).", "note")]
        return [Figure(path, caption, alt, fid, max_width)]

    def find(self, fid: str, text: str, **values) -> None:
        self.findings.append(Finding(fid, text, values))

    # ---------------------------------------------------------------- document
    def build(self) -> Doc:
        sections = [
            self.setup_section(),
            self.sae_section(),
            self.twin_section(),
            self.matching_section(),
            self.deltas_section(),
            self.labels_section(),
            self.cards_section(),
            self.provenance_section(),
        ]
        sections = [s for s in sections if s is not None]
        findings = Section("findings", "Findings", [
            *([Tiles(self.tiles())] if self.tiles() else []),
            Para("Each statement below is generated from the stage outputs when the report is built; the numbers "
                 "are the ones in the tables further down, so the text cannot disagree with the data.", "note"),
            Bullets([f.text for f in self.findings] or ["No findings could be computed."], "finding"),
        ])
        man1 = self.up.manifests.get("01_train_sae", {})
        m = self.up.models
        subtitle = (
            f"How the features of a sparse autoencoder change when **{self.model_name('base')}** is fine-tuned "
            f"into **{self.model_name('tuned')}**, at `{dig(m, 'base', 'hookpoint', default=MISSING)}` "
            f"({fint(self.sae_cfg('num_latents'))} TopK latents, k = {fint(self.sae_cfg('k'))})."
        )
        meta = [
            ("run", code(self.cfg.run_name)),
            ("config", code(display_path(Path(self.cfg.config_path))) if self.cfg.config_path else
             "none (configured from Python)"),
            ("git commit", code(man1.get("git_commit"))),
            ("built from", ", ".join(f"`{s}` ({_when(self.up.manifests[s])})"
                                     for s in UPSTREAM if s in self.up.manifests)),
        ]
        return Doc(self.cfg.report.title, subtitle, meta, [findings, *sections])

    def tiles(self) -> list[Tile]:
        """Headline numbers (each also in a table below), tuned against its reference."""
        up, out = self.up, []
        b, t = up.sae_summary.get("base", {}), up.sae_summary.get("tuned", {})
        lb, lt = dig(b, "fidelity", "loss_recovered"), dig(t, "fidelity", "loss_recovered")
        if finite(lb) or finite(lt):
            out.append(Tile(f"{fpct(lb)} / {fpct(lt)}", "loss recovered by the SAEs", "base / tuned model"))
        fin = dig(up.twin, "eval_mlm_loss", "financial") if isinstance(up.twin, dict) else None
        gen = dig(up.twin, "eval_mlm_loss", "general") if isinstance(up.twin, dict) else None
        if isinstance(fin, dict) and finite(pct_change(fin.get("tuned"), fin.get("base"))):
            sub = (f"general text {fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)}"
                   if isinstance(gen, dict) else "")
            out.append(Tile(fpct(pct_change(fin.get("tuned"), fin.get("base")), 1, True),
                            "MLM loss on financial text after tuning", sub))
        bt = up.compare.get("base_vs_tuned") or {}
        nulls = up.compare.get("null_baselines") or {}
        nb = nulls.get(next(iter(nulls), None)) or {}
        if finite(bt.get("shared_fraction")):
            out.append(Tile(fpct(bt.get("shared_fraction")), "matched pairs shared, base vs tuned",
                            f"seed baseline {fpct(nb.get('shared_fraction'))}" if nb else "no seed baseline"))
        ds = up.deltas.get("base_vs_tuned") or {}
        dn = next(iter((up.deltas.get("null_baselines") or {}).values()), {}) or {}
        if finite(ds.get("significant_after_bh")):
            out.append(Tile(f"{fint(ds.get('significant_after_bh'))} / {fint(ds.get('matched_pairs'))}",
                            "pairs whose financial score changed (BH)",
                            f"seed baseline {fint(dn.get('significant_after_bh'))} / {fint(dn.get('matched_pairs'))}"
                            if dn else "no seed baseline"))
        st = self.score_stats()
        if finite(dig(st, "base", "detection")) and finite(dig(st, "tuned", "detection")):
            sub = (f"shuffled labels {fnum(dig(st, 'base', 'detection_shuffled'), 2)} / "
                   f"{fnum(dig(st, 'tuned', 'detection_shuffled'), 2)}")
            out.append(Tile(f"{fnum(st['base']['detection'], 2)} / {fnum(st['tuned']['detection'], 2)}",
                            "label detection score", sub + " (base / tuned)"))
        return out

    # ---------------------------------------------------------------- helpers
    def model_name(self, key: str) -> str:
        info = self.up.models.get(key, {})
        conf = info.get("configured_as")
        if key == "tuned" and self.cfg.twin.enabled:
            return "a domain-tuned twin (continued masked-LM pretraining on financial text)"
        return str(conf or info.get("name") or MISSING)

    def sae_cfg(self, key: str) -> Any:
        s = self.up.sae_summary.get("base", {})
        if key == "num_latents":
            return s.get("d_sae", self.cfg.sae.num_latents)
        if key == "k":
            return s.get("k", self.cfg.sae.k)
        return getattr(self.cfg.sae, key, None)

    def llm_desc(self) -> str:
        b = self.up.scores.get("backend")
        if not isinstance(b, dict) or not b:
            return f"{MISSING} (not recorded by stage 04)"
        parts = [str(b.get("model") or MISSING)]
        if b.get("gguf"):
            parts.append(f"({b['gguf']})")
        return " ".join(parts) + (f" via the {b['backend']} backend" if b.get("backend") else "")

    def sae_names(self) -> list[str]:
        names = list(self.up.sae_summary)
        return [n for n in SAE_ORDER if n in names] + sorted(n for n in names if n not in SAE_ORDER)

    # ---------------------------------------------------------------- 1. setup
    def setup_section(self) -> Section:
        up = self.up
        man1 = up.manifests.get("01_train_sae", {})
        full = man1.get("full_config", {})
        sec = Section("setup", "Setup")
        rows = []
        for key in SAE_ORDER:
            info = up.models.get(key, {})
            rows.append([key, code(info.get("configured_as") or info.get("name")), code(info.get("name")),
                         code(info.get("hookpoint")), num(fint(info.get("layer"))), num(fint(info.get("d_in"))),
                         info.get("fidelity_head") or MISSING])
        sec.add(Table("tbl-models", ["model", "configured as", "loaded from", "hookpoint", "layer", "d_in",
                                     "fidelity head"], rows, caption="Models and hookpoint",
                      source="01_train_sae/models.json",
                      notes=["`layer` L hooks module `encoder.layer.L` (0-based block); its output is "
                             "`hidden_states[L + 1]` of `output_hidden_states=True`."]))
        data = full.get("data", {}) or {}
        sae = full.get("sae", {}) or {}
        harvest = full.get("harvest", {}) or {}
        seeds = ", ".join(f"{n} {fint(v.get('seed'))}" for n, v in up.sae_summary.items() if isinstance(v, dict))
        items = [
            ("corpus", code(data.get("corpus"))),
            ("documents (train / eval split)", num(f"{fint(up.counts.get('train_docs'))} / "
                                                   f"{fint(up.counts.get('eval_docs'))}")),
            ("SAE token rows (train / eval)", num(f"{fint(up.counts.get('train_tokens'))} / "
                                                  f"{fint(up.counts.get('eval_tokens'))}")),
            ("probe set (stage 03)", code(data.get("probe"))),
            ("max tokens per document", num(fint(harvest.get("max_length")))),
            ("special tokens in SAE data", "excluded" if harvest.get("exclude_special_tokens") else "included"),
            ("SAE", f"TopK, {fint(self.sae_cfg('num_latents'))} latents, k = {fint(self.sae_cfg('k'))}"),
            ("SAE training tokens / batch / lr", num(f"{fint(sae.get('training_tokens'))} / "
                                                     f"{fint(sae.get('batch_size'))} / {sae.get('lr', MISSING)}")),
            ("seed-baseline SAEs", num(fint(sae.get("seed_baselines")))),
            ("probe sentences (financial / general)", num(
                f"{fint(dig(up.deltas, 'probe', 'sentences'))} ({fint(dig(up.deltas, 'probe', 'financial'))} / "
                f"{fint(dig(up.deltas, 'probe', 'general'))})")),
            ("bootstrap resamples / permutations", num(f"{fint(up.deltas.get('n_bootstrap'))} / "
                                                       f"{fint(up.deltas.get('n_permutations'))}")),
            ("labelling LLM (stage 04)", self.llm_desc()),
            ("seeds", f"pipeline {fint(full.get('seed'))}; SAEs: {seeds or MISSING}"),
            ("device (stage 01)", code(man1.get("device"))),
            ("git commit", code(man1.get("git_commit"))),
        ]
        sec.add(kv_table("tbl-setup", "Data, SAE configuration and seeds", items,
                         source="01_train_sae/manifest.json, 01_train_sae/train|eval/"))
        versions = man1.get("versions", {}) or {}
        if versions:
            sec.add(Para("Versions (stage 01 manifest): " + ", ".join(f"`{k} {v}`" for k, v in versions.items())
                         + ".", "note"))
        sec.add(Para(
            "**Methods note.** The study this pipeline corrects compared *feature i vs feature i* of two "
            "independently trained SAEs. SAE latent indices are arbitrary: two SAEs trained on the same activations "
            "learn similar features in an unrelated order, so index i of one says nothing about index i of the "
            "other. Here latents are matched one-to-one with the Hungarian algorithm, once on decoder cosine "
            "similarity and once on activation correlation over the same tokens, and every count is reported "
            "against a seed baseline: the same matching between the base SAE and a base SAE that differs only in "
            "its random seed, i.e. what SAE training noise alone produces with no fine-tuning at all."))
        return sec

    # ---------------------------------------------------------------- 2. SAE quality
    def sae_section(self) -> Section:
        up = self.up
        sec = Section("sae-quality", "SAE quality")
        rows, fig_rows, undefined, loss_name = [], [], [], None
        for name in self.sae_names():
            s = up.sae_summary[name]
            f = s.get("fidelity", {}) or {}
            loss_name = loss_name or f.get("loss")
            rec = f.get("loss_recovered")
            if rec is None and f.get("head", "none") != "none":
                undefined.append(name)
            rows.append([name, s.get("model", MISSING), num(fint(s.get("seed"))), num(fnum(s.get("fvu"), 3)),
                         num(fnum(s.get("explained_variance"), 3)), num(fnum(s.get("l0"), 1)),
                         num(fpct(s.get("dead_fraction"), 1)), num(fnum(f.get("clean_loss"), 3)),
                         num(fnum(f.get("sae_loss"), 3)), num(fnum(f.get("zero_ablation_loss"), 3)),
                         num(fpct(rec, 1))])
            fig_rows.append({"name": name, "clean": f.get("clean_loss"), "sae": f.get("sae_loss"),
                             "zero": f.get("zero_ablation_loss"), "recovered": rec})
        notes = ["FVU: fraction of variance unexplained on the held-out split (explained variance = 1 - FVU). "
                 "L0: active latents per token. Loss recovered = (zero-ablation loss - SAE loss) / "
                 "(zero-ablation loss - clean loss)."]
        dw = dig(up.sae_summary, "base", "dead_window")
        if dw:
            notes.append(f"Dead latents: {dw}.")
        if loss_name:
            notes.append(f"Loss: {loss_name}.")
        if undefined:
            notes.append(f"{MISSING} for {', '.join(undefined)}: loss recovered is undefined because zero-ablating "
                         "the layer did not raise the loss above the clean loss.")
        no_head = [n for n in self.sae_names() if (up.sae_summary[n].get("fidelity") or {}).get("head") == "none"]
        if no_head:
            notes.append(f"{MISSING} for {', '.join(no_head)}: the model has no head to measure a loss with.")
        sec.add(Table("tbl-sae-quality", ["SAE", "model", "seed", "FVU", "explained variance", "L0",
                                          "dead latents", "clean loss", "SAE loss", "zero-ablation loss",
                                          "loss recovered"], rows, caption="Held-out reconstruction and fidelity",
                      notes=notes, source="01_train_sae/summary.json"))
        if any(finite(r["clean"]) for r in fig_rows):
            from featevo.report_figures import sae_losses

            p = self.fig_dir / "05_sae_losses.png"
            sae_losses(fig_rows, loss_name or "loss", p)
            sec.add(*self.figure_block(p, "Loss of each model with its SAE's reconstruction spliced in at the "
                                          "hooked layer, against the clean model and the layer zero-ablated.",
                                       "Clean, SAE-spliced and zero-ablated loss per SAE", "fig-sae-losses", 940))
        curves = self.copy_figure(up.dirs["01_train_sae"] / S1_CURVES, "01_training_curves.png")
        sec.add(*self.figure_block(curves, "Training curves of every SAE (base blue, tuned orange, seed baseline "
                                           "grey dashed): FVU on the training batch, L0 and the dead fraction.",
                                   "SAE training curves", "fig-training-curves"))
        b, t = up.sae_summary.get("base", {}), up.sae_summary.get("tuned", {})
        if b and t:
            lb, lt = dig(b, "fidelity", "loss_recovered"), dig(t, "fidelity", "loss_recovered")
            text = (f"The base SAE explains {fpct(b.get('explained_variance'))} of the variance of the hooked layer "
                    f"(FVU {fnum(b.get('fvu'))}), the tuned SAE {fpct(t.get('explained_variance'))} (FVU "
                    f"{fnum(t.get('fvu'))}), at L0 {fnum(b.get('l0'), 1)} and {fnum(t.get('l0'), 1)}")
            if finite(lb) and finite(lt):
                text += (f"; spliced into their models they recover {fpct(lb)} and {fpct(lt)} of the "
                         f"{'loss' if not loss_name else loss_name}.")
            else:
                text += "; loss recovered is undefined for at least one of them (see the SAE quality table)."
            self.find("sae_quality", text, base_fvu=b.get("fvu"), tuned_fvu=t.get("fvu"), base_loss_recovered=lb,
                      tuned_loss_recovered=lt)
        return sec

    # ---------------------------------------------------------------- 3. twin
    def twin_section(self) -> Optional[Section]:
        tw = self.up.twin
        if not self.cfg.twin.enabled:
            return None
        sec = Section("twin", "The fine-tuned twin")
        if not isinstance(tw, dict):
            sec.add(Para(f"{MISSING} The twin report (`01_twin/{TWIN_REPORT}`) is missing.", "note"))
            return sec
        sec.add(Para(
            f"The tuned model is made here: {self.model_name('base')} continued its masked-LM pretraining on the "
            f"financial documents of the training split ({fint(tw.get('financial_train_docs'))} documents"
            + (", after fitting a masked-LM head on the frozen base, which ships without one" if
               tw.get("base_had_mlm_head") is False else "") + "). The drift shows how far each block moved."))
        drift = tw.get("drift", {}) or {}
        rows = [[name.replace("layer_", "block "), num(fnum(d.get("l2"), 4)), num(fpct(d.get("relative"), 2))]
                for name, d in drift.items() if isinstance(d, dict)]
        sec.add(Table("tbl-twin-drift", ["parameters", "L2 change", "relative change"], rows,
                      caption="Parameter drift per block (tuned minus base)",
                      notes=["Relative change: ||W_tuned - W_base|| / ||W_base|| over the block's parameters."],
                      source=f"01_twin/{TWIN_REPORT}"))
        mlm = tw.get("eval_mlm_loss", {}) or {}
        rows = []
        for dom, v in mlm.items():
            if not isinstance(v, dict):
                continue
            rows.append([f"{dom} text", num(fint(v.get("docs"))), num(fnum(v.get("base"), 3)),
                         num(fnum(v.get("tuned"), 3)), num(fsigned(_diff(v.get("tuned"), v.get("base")), 3)),
                         num(fpct(pct_change(v.get("tuned"), v.get("base")), 1, signed=True))])
        sec.add(Table("tbl-twin-mlm", ["held-out text", "documents", "base MLM loss", "tuned MLM loss", "change",
                                       "change (%)"], rows, caption="Masked-LM loss before and after fine-tuning",
                      source=f"01_twin/{TWIN_REPORT}"))
        if drift and mlm:
            from featevo.report_figures import twin_drift_and_loss

            p = self.fig_dir / "05_twin.png"
            twin_drift_and_loss({k: v for k, v in drift.items() if isinstance(v, dict)},
                                {k: v for k, v in mlm.items() if isinstance(v, dict)}, p)
            sec.add(*self.figure_block(p, "Left: relative parameter drift per block. Right: held-out masked-LM loss "
                                          "of the base (blue) and tuned (orange) model.",
                                       "Twin parameter drift and MLM loss", "fig-twin"))
        fin, gen = mlm.get("financial", {}), mlm.get("general", {})
        if isinstance(fin, dict) and isinstance(gen, dict) and finite(fin.get("base")) and finite(gen.get("base")):
            self.find("twin", (
                f"Fine-tuning {word_change(fin.get('tuned'), fin.get('base'), 'raised', 'lowered', 'kept')} the "
                f"held-out masked-LM loss on financial text from {fnum(fin.get('base'))} to {fnum(fin.get('tuned'))} "
                f"({fpct(pct_change(fin.get('tuned'), fin.get('base')), 1, True)}); on general text it "
                f"{word_change(gen.get('tuned'), gen.get('base'))} from {fnum(gen.get('base'))} to "
                f"{fnum(gen.get('tuned'))} ({fpct(pct_change(gen.get('tuned'), gen.get('base')), 1, True)})."),
                financial=fin, general=gen)
        return sec

    # ---------------------------------------------------------------- 4. matching
    def matching_section(self) -> Section:
        up, cmp_ = self.up, self.up.compare
        sec = Section("matching", "Feature matching against the seed baseline")
        th = cmp_.get("thresholds", {}) or {}
        sh = th.get("shared_threshold", self.cfg.compare.shared_threshold)
        nt = th.get("new_threshold", self.cfg.compare.new_threshold)
        sc = th.get("shifted_correlation", self.cfg.compare.shifted_correlation)
        sec.add(Para(
            f"Classes of a latent and its decoder partner (decoder cosine c, activation correlation r over the same "
            f"{fint(cmp_.get('token_rows'))} tokens): **shared** c >= {fnum(sh, 2)} and r >= {fnum(sc, 2)}; "
            f"**shifted** c >= {fnum(nt, 2)} but not shared; **new** (tuned) / **lost** (base): no latent of the "
            f"other SAE reaches c = {fnum(nt, 2)}; **split**: its own partner is below {fnum(nt, 2)} but another "
            f"latent is above it; **dead**: never fired."))
        bt = cmp_.get("base_vs_tuned", {}) or {}
        nulls = cmp_.get("null_baselines", {}) or {}
        null_name = next(iter(nulls), None)
        nb = nulls.get(null_name, {}) if null_name else {}
        seed_label = f"seed baseline (base vs {null_name})" if null_name else "seed baseline"

        def live(s: dict, i: int) -> str:
            names = s.get("saes") or []
            lv = s.get("live_latents") or {}
            return fint(lv.get(names[i])) if len(names) > i else MISSING

        metrics = [
            ("live latents (first / second SAE)", lambda s: f"{live(s, 0)} / {live(s, 1)}"),
            ("matched decoder pairs", lambda s: fint(s.get("pairs"))),
            ("shared pairs", lambda s: fpct(s.get("shared_fraction"))),
            ("shared or shifted pairs", lambda s: fpct(s.get("matched_fraction"))),
            ("mean decoder cosine of pairs", lambda s: fnum(dig(s, "pair_decoder_cosine", "mean"))),
            ("median decoder cosine of pairs", lambda s: fnum(dig(s, "pair_decoder_cosine", "median"))),
            ("mean activation correlation of pairs", lambda s: fnum(dig(s, "pair_activation_correlation", "mean"))),
            ("decoder and activation matching agree", lambda s: fpct(s.get("agreement"))),
            ("... among shared/shifted pairs", lambda s: fpct(s.get("agreement_matched_pairs"))),
        ]
        rows = [[name, num(f(bt)), num(f(nb) if nb else MISSING)] for name, f in metrics]
        notes = []
        if not nb:
            notes.append(f"{MISSING}: no seed-baseline SAE was trained (sae.seed_baselines = 0).")
        sec.add(Table("tbl-matching", ["", "base vs tuned", seed_label], rows,
                      caption="Hungarian matching: base vs tuned against the seed baseline", notes=notes,
                      source="02_compare_features/summary.json"))

        # per-latent classes
        cc_bt, cc_nb = bt.get("class_counts", {}) or {}, nb.get("class_counts", {}) or {}
        second = (nb.get("saes") or [None, null_name])[1] if nb else None
        order = ["shared", "shifted", "split", "new", "lost", "dead"]
        found = set(order[:5])  # always shown, 0 included; dead only when some latent is dead
        for d in (cc_bt.get("tuned"), cc_bt.get("base"), cc_nb.get(second) if second else None, cc_nb.get("base")):
            found |= set((d or {}).keys())
        classes = [c for c in order if c in found] + sorted(found - set(order))
        rows = []
        for c in classes:
            rows.append([c, num(fint(dig(cc_bt, "tuned", c, default=0))),
                         num(fint(dig(cc_nb, second, c, default=0)) if second else MISSING),
                         num(fint(dig(cc_bt, "base", c, default=0))),
                         num(fint(dig(cc_nb, "base", c, default=0)) if cc_nb else MISSING)])
        sec.add(Table("tbl-classes", ["class", "tuned SAE latents (vs base)", "seed SAE latents (vs base)",
                                      "base SAE latents (vs tuned)", "base SAE latents (vs seed SAE)"], rows,
                      caption="Latents per class", source="02_compare_features/summary.json",
                      notes=["The seed SAE's latents play the tuned SAE's role in the baseline: its unmatched "
                             "latents count as new, the base SAE's as lost."]))
        if classes and cc_bt:
            from featevo.report_figures import class_counts

            p = self.fig_dir / "05_class_counts.png"
            class_counts(classes, [dig(cc_bt, "tuned", c, default=0) for c in classes],
                         [dig(cc_nb, second, c, default=0) if second else None for c in classes], p,
                         ylabel="latents of the second SAE")
            sec.add(*self.figure_block(p, "Classes of the tuned SAE's latents (orange) against the seed SAE's "
                                          "latents in the seed baseline (grey).", "Latent class counts",
                                       "fig-class-counts", 760))
        for name, caption in S2_FIGS:
            p = self.copy_figure(up.dirs["02_compare_features"] / name, f"02_{name}")
            sec.add(*self.figure_block(p, caption, name.replace("_", " ").replace(".png", ""),
                                       "fig-" + name.split(".")[0].replace("_", "-")))

        # transfer
        tr = cmp_.get("transfer", {}) or {}
        rows = []
        for key, v in tr.items():
            if not isinstance(v, dict):
                continue
            rows.append([f"{v.get('sae', MISSING)} SAE on {v.get('activations', MISSING)} activations",
                         num(fnum(v.get("fvu"))), num(fnum(v.get("fvu_own_sae"))),
                         num(fsigned(v.get("fvu_increase"))), num(fpct(v.get("loss_recovered"))),
                         num(fpct(v.get("loss_recovered_own_sae"))),
                         num(fpct(v.get("loss_recovered_drop"), 1, True))])
        if rows:
            notes = ["Own SAE: the SAE trained on those activations (stage 01). A transfer close to the own SAE "
                     "means the dictionary still describes the other model."]
            if any(MISSING in r[4].text or MISSING in r[5].text for r in rows):
                notes.append(f"{MISSING}: loss recovered undefined (zero-ablation does not raise the loss).")
            sec.add(Table("tbl-transfer", ["SAE on activations", "FVU", "FVU of own SAE", "FVU increase",
                                           "loss recovered", "own SAE", "drop"], rows,
                          caption="Transfer: each SAE on the other model's held-out activations", notes=notes,
                          source="02_compare_features/summary.json"))

        # the study's index-identity assumption, measured
        base_rows = [r for r in up.latents if r.get("sae") == "base" and r.get("match_decoder") is not None]
        same = sum(1 for r in base_rows if as_int(r.get("match_decoder")) == as_int(r.get("latent")))
        if base_rows:
            sec.add(Para(
                f"How wrong is *feature i vs feature i*? Of the {fint(len(base_rows))} live base latents with a "
                f"decoder partner, {fint(same)} ({fpct(same / len(base_rows))}) are matched to the tuned latent with "
                f"the same index. (The base and tuned SAEs here start from the same seed, which makes equal indices "
                f"likelier than for independently initialised SAEs; the study assumed 100%.)", "note"))
        if bt and nb:
            ps, pn = bt.get("shared_fraction"), nb.get("shared_fraction")
            ms, mn = bt.get("matched_fraction"), nb.get("matched_fraction")
            text = (f"Of {fint(bt.get('pairs'))} Hungarian-matched decoder pairs, {fpct(ps)} are shared and "
                    f"{fpct(ms)} shared or shifted between the base and tuned SAEs, against {fpct(pn)} and {fpct(mn)} "
                    f"between the base SAE and a base SAE of another seed (mean pair cosine "
                    f"{fnum(dig(bt, 'pair_decoder_cosine', 'mean'))} vs {fnum(dig(nb, 'pair_decoder_cosine', 'mean'))})")
            if finite(ms) and finite(mn) and ms < mn:
                text += ": fine-tuning changed more features than SAE seed noise alone does."
            elif finite(ms) and finite(mn) and ms > mn:
                text += (": the base and tuned dictionaries agree more than two seeds of the same model, so the "
                         "matching shows no feature change beyond seed noise.")
            else:
                text += "."
            if finite(mn) and mn < 0.5:
                text += (f" Only {fpct(mn)} of the latents recur (shared or shifted) even between two seeds of the "
                         f"base SAE: most individual latents at this dictionary size are not stable across training "
                         f"runs, so latent-level comparisons carry that noise.")
            seeds = {n: dig(up.sae_summary, n, "seed") for n in ("base", "tuned", null_name)}
            if seeds["base"] is not None and seeds["base"] == seeds["tuned"] != seeds[null_name]:
                text += (f" Caveat: the base and tuned SAEs share seed {fint(seeds['base'])} (same initialisation and "
                         f"batch order) while the seed SAE uses {fint(seeds[null_name])}, which favours base-vs-tuned "
                         f"agreement.")
            self.find("matching", text, shared_fraction=ps, shared_fraction_seed=pn, matched_fraction=ms,
                      matched_fraction_seed=mn)
            nn_t, nn_s = dig(cc_bt, "tuned", "new", default=0), dig(cc_nb, second, "new", default=0)
            nl_t, nl_s = dig(cc_bt, "base", "lost", default=0), dig(cc_nb, "base", "lost", default=0)
            self.find("new_lost", (
                f"{fint(nn_t)} tuned {plural(nn_t, 'latent')} {plural(nn_t, 'has', 'have')} no counterpart in the "
                f"base SAE (new) and {fint(nl_t)} base {plural(nl_t, 'latent')} no counterpart in the tuned SAE "
                f"(lost); the seed baseline has {fint(nn_s)} and {fint(nl_s)}."),
                new=nn_t, lost=nl_t, new_seed=nn_s, lost_seed=nl_s)
        elif bt:
            self.find("matching", (
                f"Of {fint(bt.get('pairs'))} Hungarian-matched decoder pairs, {fpct(bt.get('shared_fraction'))} are "
                f"shared between the base and tuned SAEs (mean pair cosine "
                f"{fnum(dig(bt, 'pair_decoder_cosine', 'mean'))}); no seed-baseline SAE was trained "
                f"(sae.seed_baselines = 0), so these counts cannot be told apart from SAE seed noise."),
                shared_fraction=bt.get("shared_fraction"), shared_fraction_seed=None)
        if base_rows:
            self.find("index_identity", (
                f"Comparing feature i with feature i, as the study did, would pair "
                f"{fpct((len(base_rows) - same) / len(base_rows))} of the live base latents with a latent that is not "
                f"their best one-to-one decoder match."), same_index=same, live_with_partner=len(base_rows))
        t_bt = tr.get("base_sae_on_tuned", {}) if isinstance(tr, dict) else {}
        if isinstance(t_bt, dict) and finite(t_bt.get("fvu")):
            self.find("transfer", (
                f"The base SAE reconstructs the tuned model's activations with FVU {fnum(t_bt.get('fvu'))}, against "
                f"{fnum(t_bt.get('fvu_own_sae'))} for the tuned model's own SAE ({fsigned(t_bt.get('fvu_increase'))})."),
                **{k: t_bt.get(k) for k in ("fvu", "fvu_own_sae", "fvu_increase")})
        return sec

    # ---------------------------------------------------------------- 5. deltas
    def delta_rows(self) -> list[dict]:
        """Feature-table rows ordered by |delta|, largest first."""
        rows = [r for r in self.up.feature_table if finite(pick(r, "delta_matched", "delta"))]
        return sorted(rows, key=lambda r: -abs(pick(r, "delta_matched", "delta")))

    def deltas_section(self) -> Section:
        up, cfg = self.up, self.cfg
        sec = Section("deltas", "Activation deltas on the probe set")
        ds = up.deltas
        alpha = ds.get("alpha", cfg.deltas.alpha)
        ci = ds.get("ci", cfg.deltas.ci)
        sec.add(Para(
            "The financial score of a latent is its mean activation on the financial probe sentences. The study "
            "subtracted the score of base latent i from tuned latent i; here the change is tuned minus base for "
            "**matched pairs**, with a bootstrap confidence interval over probe sentences and a permutation test "
            f"whose p-values are adjusted across pairs (Benjamini-Hochberg, q < {fnum(alpha, 2)} is significant)."))
        sec.add(*self.delta_summary_tables())
        if up.per_category:
            sec.add(self.per_category_table())
        rows = self.delta_rows()
        n_rows = cfg.report.table_rows
        trs = []
        for r in rows[:n_rows]:
            sig = pick(r, "significant")
            trs.append([
                num(fint(pick(r, "pair_id"))),
                num(f"{fint(pick(r, 'base_latent'))} → {fint(pick(r, 'tuned_latent'))}"),
                pick(r, "class", default=MISSING), num(fsig(pick(r, "base_fin_score"))),
                num(fsig(pick(r, "tuned_fin_score"))), num(fsig(pick(r, "delta_matched", "delta"), signed=True)),
                num(fci(pick(r, "delta_ci_low"), pick(r, "delta_ci_high"))),
                num(fpct(_frac(pick(r, "change_pct_matched", "change_pct")), 1, True)),
                num(fnum(pick(r, "base_specialization"), 2) + " → " + fnum(pick(r, "tuned_specialization"), 2)),
                num(fp(pick(r, "q_value"))), "yes" if sig is True else "no" if sig is False else MISSING,
                pick(r, "type", default=MISSING),
            ])
        notes = [f"The {fint(min(n_rows, len(rows)))} matched pairs with the largest |change| of "
                 f"{fint(len(rows))}; all pairs are in `03_activation_deltas/{S3_TABLE}`. CI: "
                 f"{fpct(ci, 0)} bootstrap interval. Specialization: (fin - gen) / (fin + gen)."]
        if any(pick(r, "change_pct_matched", "change_pct") is None for r in rows[:n_rows]):
            notes.append(f"{MISSING} in change (%): the base score is 0, so a relative change is undefined.")
        sec.add(Table("tbl-top-deltas", ["pair", "latents, base → tuned", "class", "base fin. score",
                                         "tuned fin. score", "change", "CI", "change (%)", "specialization",
                                         "q", "sig.", "type"], trs,
                      caption="Largest changes in financial score, matched pairs (the study's table, corrected)",
                      notes=notes, source=f"03_activation_deltas/{S3_TABLE}"))
        if up.top_features:
            sec.add(self.top_features_table())
        for name, caption in S3_FIGS:
            p = self.copy_figure(up.dirs["03_activation_deltas"] / name, f"03_{name}")
            sec.add(*self.figure_block(p, caption, "four-panel figure of activation deltas", "fig-four-panel"))
        bt = ds.get("base_vs_tuned") or {}
        nulls = ds.get("null_baselines") or {}
        nb = nulls.get(next(iter(nulls), None)) or {}
        if rows:
            n_sig = bt.get("significant_after_bh", sum(1 for r in rows if pick(r, "significant") is True))
            n_pairs = bt.get("matched_pairs", len(rows))
            up_ = max(rows, key=lambda r: pick(r, "delta_matched", "delta"))
            dn_ = min(rows, key=lambda r: pick(r, "delta_matched", "delta"))

            def desc(r: dict) -> str:
                return (f"pair {fint(pick(r, 'pair_id'))} (base latent {fint(pick(r, 'base_latent'))} → tuned latent "
                        f"{fint(pick(r, 'tuned_latent'))}), change {fsig(pick(r, 'delta_matched', 'delta'), signed=True)} "
                        f"{fci(pick(r, 'delta_ci_low'), pick(r, 'delta_ci_high'))}")

            def share(k: Any, n: Any) -> str:
                return f" ({fpct(k / n)})" if finite(k) and finite(n) and n > 0 else ""

            text = (f"{fint(n_sig)} of {fint(n_pairs)}{share(n_sig, n_pairs)} matched pairs change their financial "
                    f"score significantly at BH q <= {fnum(alpha, 2)}")
            if nb and nb.get("matched_pairs"):
                text += (f", against {fint(nb.get('significant_after_bh'))} of {fint(nb.get('matched_pairs'))}"
                         f"{share(nb.get('significant_after_bh'), nb.get('matched_pairs'))} between two seeds of the "
                         f"base SAE")
            elif nb:
                text += " (the seed baseline has no matched pairs to compare)"
            text += f". Largest increase: {desc(up_)}"
            if pick(dn_, "delta_matched", "delta") < 0:
                text += f"; largest decrease: {desc(dn_)}."
            else:
                text += "; no pair decreased."
            self.find("deltas", text, significant=n_sig, pairs=n_pairs, top_increase=pick(up_, "pair_id"),
                      top_decrease=pick(dn_, "pair_id"), seed_significant=nb.get("significant_after_bh"),
                      seed_pairs=nb.get("matched_pairs"))
        fin = ds.get("financial_latents") or {}
        if finite(fin.get("base")) and finite(fin.get("tuned")):
            gen = ds.get("general_latents") or {}
            self.find("domain_latents", (
                f"{fint(fin['tuned'])} latents of the tuned SAE prefer financial over general probe sentences "
                f"significantly, against {fint(fin['base'])} of the base SAE (general text: {fint(gen.get('tuned'))} "
                f"and {fint(gen.get('base'))})."), financial=fin, general=gen)
        return sec

    def delta_summary_tables(self) -> list:
        ds = self.up.deltas
        bt = ds.get("base_vs_tuned") or {}
        nulls = ds.get("null_baselines") or {}
        null_name = next(iter(nulls), None)
        nb = nulls.get(null_name) or {}
        out = []
        if bt:
            metrics = [("matched pairs", "matched_pairs", fint), ("financial score rose", "positive_change", fint),
                       ("financial score fell", "negative_change", fint),
                       ("significant after BH", "significant_after_bh", fint),
                       ("... rose", "significant_positive", fint), ("... fell", "significant_negative", fint),
                       ("CI excludes zero", "ci_excludes_zero", fint), ("mean change", "mean_delta", lambda x: fsig(x, signed=True)),
                       ("mean |change|", "mean_abs_delta", fsig), ("95th percentile of |change|", "p95_abs_delta", fsig)]
            rows = [[name, num(f(bt.get(key))), num(f(nb.get(key)) if nb else MISSING)] for name, key, f in metrics]
            notes = []
            if nb and not nb.get("matched_pairs"):
                notes.append(f"{MISSING} in the seed baseline: it has no shared or shifted pairs, so no changes to "
                             "measure.")
            if not nb:
                notes.append(f"{MISSING}: no seed-baseline SAE (sae.seed_baselines = 0).")
            out.append(Table("tbl-delta-summary", ["", "base vs tuned",
                                                   f"seed baseline (base vs {null_name})" if null_name else
                                                   "seed baseline"], rows,
                             caption="Changes in financial score of matched (shared or shifted) pairs", notes=notes,
                             source=f"03_activation_deltas/{S3_SUMMARY}"))
        fin, gen = ds.get("financial_latents") or {}, ds.get("general_latents") or {}
        if fin or gen:
            rows = [[side, num(fint(fin.get(side))), num(fint(gen.get(side)))] for side in list(fin or gen)]
            out.append(Table("tbl-domain-latents", ["SAE", "financial latents", "general latents"], rows,
                             caption="Domain-selective latents (financial vs general probe sentences, BH-adjusted "
                                     "permutation test)", source=f"03_activation_deltas/{S3_SUMMARY}"))
        return out

    def top_features_table(self) -> Table:
        """top_financial_features.csv (the study's 'top financial features' table, corrected): the most
        financial latents of each SAE, each with its matched partner's change."""
        per = max(1, self.cfg.report.table_rows // 2)
        rows, n_by, shown = [], {}, []
        for r in self.up.top_features:
            m = pick(r, "model", default=MISSING)
            n_by[m] = n_by.get(m, 0) + 1
            if n_by[m] > per:
                continue
            shown.append(r)
            rows.append([str(m), num(fint(pick(r, "rank"))), num(fint(pick(r, "latent"))), pick(r, "class", default=MISSING),
                         num(fsig(pick(r, "fin_score"))), num(fci(pick(r, "fin_ci_low"), pick(r, "fin_ci_high"))),
                         num(fsig(pick(r, "gen_score"))), num(fnum(pick(r, "specialization"), 2)),
                         num(fp(pick(r, "q_value"))), num(fint(pick(r, "matched_latent"))),
                         num(fsig(pick(r, "delta_matched"), signed=True))])
        notes = [f"Up to {fint(per)} latents per SAE whose financial score exceeds their general score significantly "
                 "(domain-label permutation test, BH), ranked by fin - gen; q: that test's BH-adjusted p-value. "
                 "Matched latent / change: the decoder-matched latent of the other SAE and the tuned-minus-base "
                 "change of the pair."]
        if any(pick(r, "matched_latent") is None for r in shown):
            notes.append(f"{MISSING} in matched latent / change: the latent has no shared or shifted partner.")
        return Table("tbl-top-financial", ["SAE", "rank", "latent", "class", "fin. score", "CI", "gen. score",
                                           "specialization", "q", "matched latent", "change"], rows,
                     caption="Most financial latents of each SAE", notes=notes,
                     source=f"03_activation_deltas/{S3_TOP}")

    def per_category_table(self) -> Table:
        """per_category.csv averaged over latents: one row per probe category."""
        agg: dict[str, dict] = {}
        for r in self.up.per_category:
            cat = r.get("category")
            a = agg.setdefault(cat, {"domain": r.get("domain"), "n": r.get("n_sentences"),
                                     "act": {}, "freq": {}})
            m = r.get("model")
            if finite(r.get("mean_activation")):
                a["act"].setdefault(m, []).append(r["mean_activation"])
            if finite(r.get("frequency")):
                a["freq"].setdefault(m, []).append(r["frequency"])

        def mean(xs):
            return sum(xs) / len(xs) if xs else None

        rows = []
        for cat, a in agg.items():
            b, t = mean(a["act"].get("base", [])), mean(a["act"].get("tuned", []))
            rows.append([str(cat), str(a["domain"] or MISSING), num(fint(a["n"])), num(fsig(b)), num(fsig(t)),
                         num(fpct(pct_change(t, b), 1, True))])
        return Table("tbl-per-category", ["probe category", "domain", "sentences", "base: mean activation",
                                          "tuned: mean activation", "change"], rows,
                     caption="Activation per probe category, averaged over all latents of each SAE",
                     notes=["Mean activation: a latent's mean activation over a sentence's tokens, averaged over the "
                            "category's sentences and then over the SAE's latents (TopK fixes how many latents fire, "
                            "so this measures how strongly they fire). Per-latent values are in the source."],
                     source=f"03_activation_deltas/{S3_PER_CAT}")

    def generic_table(self, tid: str, rows: list[dict], caption: str, source: str,
                      max_rows: Optional[int] = None) -> Table:
        """A CSV as it is: integers with separators, p/q-values in p-format, other numbers 3 decimals."""
        cols = list(rows[0].keys()) if rows else []
        float_cols = {c for c in cols if any(isinstance(r.get(c), float) for r in rows)}
        out = []
        for r in rows[: max_rows or len(rows)]:
            cells = []
            for c in cols:
                v = r.get(c)
                if isinstance(v, bool):
                    cells.append("yes" if v else "no")
                elif isinstance(v, int) and c not in float_cols:
                    cells.append(num(fint(v)))
                elif isinstance(v, (int, float)):
                    cells.append(num(fp(v) if re.search(r"(^|_)(p|q)(_value)?$", c) else fnum(v, 3)))
                elif v is None:
                    cells.append(num(MISSING))
                else:
                    cells.append(str(v))
            out.append(cells)
        notes = []
        if any(r.get(c) is None for r in rows for c in cols):
            notes.append(f"{MISSING}: no value in the source file (undefined for this row).")
        return Table(tid, [c.replace("_", " ") for c in cols], out, caption=caption, source=source, notes=notes)

    # ---------------------------------------------------------------- 6. labels
    def labels_section(self) -> Section:
        sec = Section("labels", "Labelled features, side by side")
        n = self.cfg.report.table_rows
        shown = self.ordered_labels()[:n]
        trs, failed = [], False
        for r in shown:
            cells = [num(fint(pick(r, "pair_id"))), pick(r, "class", default=MISSING)]
            for side in SAE_ORDER:
                lab, why = split_label(pick(r, f"{side}_label"))
                failed |= bool(why) or (lab == MISSING and pick(r, f"{side}_latent") is not None)
                cells += [num(fint(pick(r, f"{side}_latent"))), Cell(lab, wrap=True),
                          num(fnum(pick(r, f"{side}_detection"), 2)), num(fnum(pick(r, f"{side}_fuzzing"), 2))]
            cells.append(num(fsig(pick(r, "delta_matched", "delta", "delta_fin_score",
                                       default=self.ft_value(r, "delta_matched")), signed=True)))
            cells.append(num(fci(pick(r, "delta_ci_low", default=self.ft_value(r, "delta_ci_low")),
                                 pick(r, "delta_ci_high", default=self.ft_value(r, "delta_ci_high")))))
            trs.append(cells)
        notes = ["det. / fuzz.: Delphi's detection and fuzzing scores (balanced accuracy of an LLM predicting from "
                 "the label which contexts activate the latent; 0.5 is chance)."]
        if failed:
            notes.append(f"{MISSING} as a label: no usable explanation (the LLM's reply did not parse after retries, or "
                         "the latent never fires); its scores are then undefined too. The reason is on its card and in "
                         f"`04_interpret/{S4_LABELS}`.")
        if any(lab_ok and (pick(r, f"{side}_detection") is None or pick(r, f"{side}_fuzzing") is None)
               for r in shown for side in SAE_ORDER
               for lab_ok in [split_label(pick(r, f"{side}_label"))[0] != MISSING]):
            notes.append(f"{MISSING} as a score: the scorer returned no usable predictions for that latent.")
        if any(pick(r, "base_latent") is None or pick(r, "tuned_latent") is None for r in shown):
            notes.append(f"{MISSING} as a latent: the latent has no matched partner (new or lost).")
        if len(self.up.labels) > n:
            notes.append(f"The first {fint(n)} of {fint(len(self.up.labels))} labelled rows.")
        sec.add(Table("tbl-labels", ["pair", "class", "base latent", "base label", "det.", "fuzz.", "tuned latent",
                                     "tuned label", "det.", "fuzz.", "change in fin. score", "CI"], trs,
                      caption="Labels and scores of the labelled latents (most interesting first)", notes=notes,
                      source=f"04_interpret/{S4_LABELS}"))
        stats = self.score_stats()
        if stats:
            rows = []
            for side, st in stats.items():
                rows.append([side, num(fint(st.get("latents"))), num(fint(st.get("labelled"))),
                             num(fint(st.get("failed"))),
                             num(fnum(st.get("detection"), 3)), num(fnum(st.get("detection_shuffled"), 3)),
                             num(fpct(st.get("detection_beats"), 0)),
                             num(fnum(st.get("fuzzing"), 3)), num(fnum(st.get("fuzzing_shuffled"), 3)),
                             num(fpct(st.get("fuzzing_beats"), 0))])
            notes = ["Shuffled: the same latents scored with labels of other latents (a seeded derangement); a label "
                     "means something only where it beats its shuffled score. Beats shuffled: fraction of labelled "
                     "latents whose own label scores higher than the shuffled one."]
            if any(MISSING in c.text for r in rows for c in r[1:]):
                notes.append(f"{MISSING}: not recorded by stage 04 for this SAE.")
            sec.add(Table("tbl-label-scores", ["SAE", "latents", "labelled", "failed", "detection", "shuffled",
                                               "beats shuffled", "fuzzing", "shuffled", "beats shuffled"], rows,
                          caption="Explanation scores against the shuffled-label baseline (means over labelled "
                                  "latents)", notes=notes,
                          source=self.up.scores_file or f"04_interpret/{S4_LABEL_SUMMARY}"))
            from featevo.report_figures import label_scores

            p = self.fig_dir / "05_label_scores.png"
            label_scores({side: {m: st.get(m) for m in ("detection", "fuzzing")} for side, st in stats.items()},
                         {side: {m: st.get(f"{m}_shuffled") for m in ("detection", "fuzzing")}
                          for side, st in stats.items()}, p)
            sec.add(*self.figure_block(p, "Mean detection and fuzzing scores of the base (blue) and tuned (orange) "
                                          "labels; black dashes: the same latents scored with shuffled labels.",
                                       "Label score bars", "fig-label-scores", 760))
            b, t = stats.get("base", {}), stats.get("tuned", {})
            if finite(b.get("detection")) and finite(t.get("detection")):
                text = (f"The labels predict activations with mean detection score {fnum(b['detection'], 2)} (base) "
                        f"and {fnum(t['detection'], 2)} (tuned)")
                if finite(b.get("detection_shuffled")) and finite(t.get("detection_shuffled")):
                    text += (f", against {fnum(b['detection_shuffled'], 2)} and {fnum(t['detection_shuffled'], 2)} "
                             f"with shuffled labels.")
                else:
                    text += "; no shuffled-label baseline was recorded."
                fails = [st["failed"] for st in stats.values() if finite(st.get("failed"))]
                total = [st["latents"] for st in stats.values() if finite(st.get("latents"))]
                if fails:
                    nf = sum(fails)
                    text += (f" {fint(nf)} of {fint(sum(total))} explanations failed." if len(total) == len(fails)
                             else f" {fint(nf)} {plural(nf, 'explanation')} failed.")
                self.find("labels", text, scores=stats)
        return sec

    def score_stats(self) -> dict[str, dict]:
        """Per SAE: latents, labelled, failed, mean detection/fuzzing, their shuffled means and beat fractions.

        From 04's summary JSON (``scores.<sae>``), else labels_summary.csv, else averaged from
        labels_comparison.csv (the baseline then from its per-latent ``*_shuffled`` columns)."""
        s = self.up.scores
        by_csv = {r.get("sae"): r for r in self.up.labels_summary if r.get("sae")}
        out = {}
        for side in SAE_ORDER:
            e = dig(s, "scores", side) or by_csv.get(side) or dig(s, side) or {}
            if not isinstance(e, dict):
                e = {}
            st: dict[str, Any] = {"latents": e.get("latents"), "labelled": e.get("labelled"),
                                  "failed": e.get("failed", dig(s, "failures", side))}
            for m in ("detection", "fuzzing"):
                st[m] = _first_num(e.get(f"{m}_accuracy_mean"), e.get(f"{m}_mean"), e.get(f"mean_{m}"),
                                   dig(e, m, "mean"), dig(e, m))
                st[f"{m}_shuffled"] = _first_num(e.get(f"{m}_accuracy_shuffled_mean"), e.get(f"{m}_shuffled_mean"),
                                                 dig(s, "shuffled", m, "mean"), dig(s, "shuffled", m))
                st[f"{m}_beats"] = _first_num(e.get(f"{m}_beats_shuffled_fraction"))
                for key, col in ((m, f"{side}_{m}"), (f"{m}_shuffled", f"{side}_{m}_shuffled")):
                    if st[key] is None:  # fall back to the per-latent table
                        vals = [v for v in (pick(r, col) for r in self.up.labels) if finite(v)]
                        st[key] = sum(vals) / len(vals) if vals else None
            if any(finite(st[m]) for m in ("detection", "fuzzing")):
                out[side] = st
        return out

    # ---------------------------------------------------------------- 7. cards
    def ordered_labels(self) -> list[dict]:
        """Labelled rows, most interesting first: stage 03's ranking, then |change|, then unmatched."""
        rows = list(self.up.labels)
        rank: dict[Any, int] = {}
        for i, p in enumerate(self.up.interesting.get("pairs", []) or []):
            pid = as_int(p.get("pair_id") if isinstance(p, dict) else p)
            if pid is not None:
                rank.setdefault(pid, i)
        deltas = {as_int(pick(r, "pair_id")): abs(pick(r, "delta_matched", "delta"))
                  for r in self.up.feature_table if finite(pick(r, "delta_matched", "delta"))}

        def key(r: dict):
            pid = as_int(pick(r, "pair_id"))
            d = pick(r, "delta_matched", "delta")
            d = abs(d) if finite(d) else deltas.get(pid, -1.0)
            return (rank.get(pid, len(rank)), -d, pid if pid is not None else 1 << 30)

        return sorted(rows, key=key)

    def contexts_for(self, side: str, latent: Any) -> list[Context]:
        lat = as_int(latent)
        if lat is None:
            return []
        data = self.up.contexts.get(side, {})
        data = data.get("latents", data) if isinstance(data.get("latents"), dict) else data
        raw = data.get(str(lat)) or []
        out = []
        for c in raw[: self.cfg.report.contexts_per_card]:
            toks, acts = c.get("tokens") or [], c.get("acts") or []
            if not toks:
                continue
            acts = [float(a) if finite(a) else 0.0 for a in acts]
            m = c.get("max_act")
            note = ", ".join(str(c[k]) for k in ("source", "category") if isinstance(c.get(k), str) and c[k])
            out.append(Context(tokens=[str(t) for t in toks], acts=acts,
                               max_act=float(m) if finite(m) else max(acts, default=0.0), doc=str(c.get("doc", "")),
                               note=note))
        return out

    def card_side(self, side: str, r: dict, cls: Any) -> CardSide:
        latent = as_int(pick(r, f"{side}_latent"))
        if latent is None:
            other = "tuned" if side == "base" else "base"
            reason = (f"No {side} latent: the {other} latent has no matched partner"
                      + (f" (class {cls})." if cls not in (None, MISSING) else "."))
            return CardSide(side, None, "", [], [], reason)
        label, why = split_label(pick(r, f"{side}_label"))
        facts = [("detection", fnum(pick(r, f"{side}_detection"), 2)),
                 ("shuffled", fnum(pick(r, f"{side}_detection_shuffled"), 2)),
                 ("fuzzing", fnum(pick(r, f"{side}_fuzzing"), 2)),
                 ("fin. score", fsig(pick(r, f"{side}_fin_score", default=self.ft_value(r, f"{side}_fin_score"))))]
        freq = self.firing(side, latent)
        if finite(freq):
            facts.append(("fires on", fpct(freq, 2) + " of tokens"))
        ctx = self.contexts_for(side, latent)
        reason = "" if ctx else f"No activating contexts saved for this latent in `03_activation_deltas/{S3_CONTEXTS}`."
        if label == MISSING:
            label = f"{MISSING} (no usable explanation{': ' + why if why else ''})"
        return CardSide(side, latent, label, facts, ctx, reason)

    def ft_value(self, r: dict, col: str) -> Any:
        pid = as_int(pick(r, "pair_id"))
        for f in self.up.feature_table:
            if pid is not None and as_int(pick(f, "pair_id")) == pid:
                return pick(f, col)
        return None

    def firing(self, side: str, latent: int) -> Any:
        return self.latent_value(side, latent, "firing_frequency")

    def latent_value(self, side: str, latent: Optional[int], col: str) -> Any:
        for row in self.up.latents:
            if row.get("sae") == side and as_int(row.get("latent")) == latent:
                return row.get(col)
        return None

    def cards_section(self) -> Section:
        sec = Section("cards", "Feature cards")
        n = self.cfg.report.feature_cards
        sec.add(Para(
            f"The {fint(min(n, len(self.up.labels)))} most interesting labelled latents (stage 03's ranking, then the "
            "size of the change). Each context is a probe or held-out window around a top activation; the shade of a "
            "token is its activation relative to the strongest shown for that latent (hover for the value), the "
            "outlined token is the maximum. Base in blue, tuned in orange."))
        cards = []
        for r in self.ordered_labels()[:n]:
            pid = as_int(pick(r, "pair_id"))
            cls = pick(r, "class", default=MISSING)
            d = pick(r, "delta_matched", "delta", default=self.ft_value(r, "delta_matched"))
            lo = pick(r, "delta_ci_low", default=self.ft_value(r, "delta_ci_low"))
            hi = pick(r, "delta_ci_high", default=self.ft_value(r, "delta_ci_high"))
            q = pick(r, "q_value", default=self.ft_value(r, "q_value"))
            b, t = as_int(pick(r, "base_latent")), as_int(pick(r, "tuned_latent"))
            if pid is not None:
                title = f"Pair {fint(pid)}: base latent {fint(b)} → tuned latent {fint(t)}"
                facts = [("class", str(cls)), ("decoder cosine", fnum(self.pair_value(pid, "decoder_cosine"), 2)),
                         ("activation corr.", fnum(self.pair_value(pid, "activation_correlation"), 2)),
                         ("change in fin. score", f"{fsig(d, signed=True)} {fci(lo, hi)}".strip()), ("q", fp(q))]
            else:
                side = "tuned" if t is not None else "base"
                title = f"{side.capitalize()} latent {fint(t if t is not None else b)} (no matched partner)"
                best = self.latent_value(side, t if t is not None else b, "best_decoder_cosine")
                facts = [("class", str(cls)), ("best decoder cosine to the other SAE", fnum(best, 2))]
            cards.append(Card(f"card-{len(cards) + 1}", title, facts, self.card_side("base", r, cls),
                              self.card_side("tuned", r, cls)))
        if cards:
            sec.add(Cards(cards))
        else:
            sec.add(Para(f"{MISSING} No labelled latents in `04_interpret/{S4_LABELS}`.", "note"))
        return sec

    def pair_value(self, pid: Optional[int], col: str) -> Any:
        if pid is None:
            return None
        for p in self.up.pairs:
            if as_int(p.get("pair_id")) == pid:
                return p.get(col)
        return None

    # ---------------------------------------------------------------- 8. provenance
    def provenance_section(self) -> Section:
        sec = Section("provenance", "Provenance")
        rows = []
        for st in (TWIN_STAGE, *UPSTREAM):
            m = self.up.manifests.get(st)
            if not m:
                continue
            started = _when(m)
            rows.append([code(st), started, num(fnum(m.get("wall_time_s"), 1)), code(m.get("device")),
                         code(m.get("git_commit")), code((m.get("config_hash") or "")[:12] or None),
                         num(fint(len(m.get("outputs") or {})))])
        sec.add(Table("tbl-provenance", ["stage", "started", "wall time (s)", "device", "git commit", "config hash",
                                         "output files"], rows, caption="Stage manifests",
                      source="<stage>/manifest.json",
                      notes=["Each stage folder's manifest.json holds the resolved config, input hashes, the sha256 "
                             "of every output, package versions, seed and device."]))
        cmds = []
        for st in (*UPSTREAM, STAGE):
            m = self.up.manifests.get(st) or {}
            cmd = m.get("command") or stage_command(self.cfg, st)
            if cmd and cmd not in cmds:
                cmds.append(cmd)
        sec.add(Para("To reproduce, run the stages in order (each skips when its outputs are current; `--force` "
                     "reruns it):"), Bullets([f"`{c}`" for c in cmds]))
        return sec


def _when(manifest: dict) -> str:
    """``started_at`` of a manifest as 'YYYY-MM-DD HH:MM'."""
    t = manifest.get("started_at")
    return str(t).replace("T", " ")[:16] if t else MISSING


def _diff(a: Any, b: Any) -> Optional[float]:
    return a - b if finite(a) and finite(b) else None


def _frac(pct: Any) -> Optional[float]:
    """``change_pct`` columns hold percentages; fpct wants a fraction."""
    return pct / 100.0 if finite(pct) else None


def _first_num(*vals: Any) -> Optional[float]:
    for v in vals:
        if finite(v):
            return float(v)
    return None


def split_label(v: Any) -> tuple[str, str]:
    """(label or MISSING, failure reason or ""). Stage 04 writes a failure as ``[failed: reason]``."""
    t = label_text(v)
    m = re.fullmatch(r"\[failed:?\s*(.*)\]", t) if t != MISSING else None
    if m:
        return MISSING, (m.group(1).strip() or "no usable explanation")
    return t, ""


def label_text(v: Any) -> str:
    if not isinstance(v, str):
        return MISSING
    t = " ".join(v.split())
    if not t or t in _NA:
        return MISSING
    return t


# --------------------------------------------------------------------------------------------
# Headless Chromium (the browser test and the README screenshot)
# --------------------------------------------------------------------------------------------
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
)


def chromium_path() -> Optional[str]:
    """Debian's ``chromium`` (``make browser`` installs it), or None."""
    for name in ("chromium", "chromium-browser"):
        if p := shutil.which(name):
            return p
    return None


def run_chromium(url: str, *extra: str, timeout: int = 120):
    """Run headless Chromium on ``url`` with a fresh profile; returns the CompletedProcess (stderr holds
    the console log: lines with ``:CONSOLE``)."""
    import subprocess
    import tempfile

    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (make browser)")
    with tempfile.TemporaryDirectory(prefix="featevo-chromium-") as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout)


def docs_screenshot(html_path: str | Path, out_png: str | Path, height: int = 2200, width: int = 1050) -> int:
    """Screenshot the top of a report (1400 px wide window), scaled to ``width`` and palette-compressed
    (the README image); returns its size in bytes."""
    import tempfile

    from PIL import Image

    html_path = Path(html_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / "shot.png"
        res = run_chromium(html_path.as_uri(), f"--screenshot={shot}", f"--window-size=1400,{max(height, 3000)}")
        if res.returncode != 0 or not shot.is_file():
            raise RuntimeError(f"chromium failed: {res.stderr[-500:]}")
        im = Image.open(shot).convert("RGB").crop((0, 0, 1400, height))
    im = im.resize((width, round(height * width / 1400)), Image.LANCZOS)
    im = im.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    im.save(out_png, optimize=True)
    return out_png.stat().st_size


# --------------------------------------------------------------------------------------------
# Stage
# --------------------------------------------------------------------------------------------
def build_report(cfg: PipelineConfig, out_dir: Path, up: Optional[Upstream] = None) -> dict:
    """Read stages 01-04 and write report.html, report.md, figures/ and findings.json into ``out_dir``."""
    up = up or load_upstream(cfg)
    rep = Report(up, out_dir)
    doc = rep.build()
    html_text = render_html(doc)
    fig_rel = {}
    for sec in doc.sections:
        for b in sec.blocks:
            if isinstance(b, Figure):
                fig_rel[b.path] = f"{FIGURES_DIR}/{b.path.name}"
    md_text = render_md(doc, fig_rel)
    atomic_write_text(out_dir / HTML_FILE, html_text)
    atomic_write_text(out_dir / MD_FILE, md_text)
    atomic_write_json(out_dir / FINDINGS_FILE, [{"id": f.id, "text": f.text, "values": f.values}
                                                for f in rep.findings])
    return {"figures": len(fig_rel), "findings": len(rep.findings),
            "cards": sum(len(b.cards) for s in doc.sections for b in s.blocks if isinstance(b, Cards))}


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 05 (needs stages 01-04); returns the stage folder."""
    final = stage_dir(cfg, STAGE)
    for st_ in upstream_stages(cfg, STAGE):  # upstream must be current for this config
        require_stage(cfg, st_, verify_files=False)
    if not force and stage_is_current(cfg, STAGE):
        logger.info("stage %s is up to date (use --force to rerun): %s", STAGE, display_path(final))
        logger.info("report: %s", display_path(final / HTML_FILE))
        return final
    up = load_upstream(cfg)  # fails with one line naming the stage to run, before a partial folder exists
    st = StageRun(cfg, STAGE).open()
    for p in st.dir.iterdir():  # a report is cheap: never resume a half-written one
        if p.name != PARTIAL_CONFIG:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    info = build_report(cfg, st.dir, up)
    st.extra = {"report": info}
    st.commit()
    logger.info("report with %d figures, %d findings and %d feature cards: %s", info["figures"], info["findings"],
                info["cards"], display_path(final / HTML_FILE))
    return final
