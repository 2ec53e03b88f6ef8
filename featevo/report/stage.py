"""Stage 05 itself: assemble the document from the sections, write it, and run as a stage."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Optional

from featevo.config import PipelineConfig
from featevo.export import carry_exports
from featevo.io import atomic_write_json, atomic_write_text
from featevo.layout import PARTIAL_CONFIG, REPORT, TRAIN, ReportFiles, display_path
from featevo.report.cards import cards_section, plan_cards
from featevo.report.causal import causal_section
from featevo.report.common import code, dig, when
from featevo.report.context import ReportContext
from featevo.report.deltas import deltas_section
from featevo.report.diffing import diffing_section
from featevo.report.findings import findings_section
from featevo.report.labels import labels_section
from featevo.report.matching import matching_section
from featevo.report.provenance import provenance_section
from featevo.report.sae_quality import sae_section
from featevo.report.setup import setup_section
from featevo.report.study import study_section
from featevo.report.templates import MISSING, Cards, Doc, Figure, fint, render_html, render_md
from featevo.report.twin import twin_section
from featevo.report.upstream import OPTIONAL, UPSTREAM, Upstream, load_upstream
from featevo.runner import execute

logger = logging.getLogger(__package__)  # "featevo.report", as in the stage log

STAGE = REPORT
# in document order (the findings section, built last from what these found, goes first)
SECTIONS = (setup_section, sae_section, twin_section, matching_section, diffing_section, deltas_section,
            causal_section, study_section, labels_section, cards_section, provenance_section)


def build_doc(ctx: ReportContext) -> Doc:
    plan_cards(ctx)  # which latents get a card, before the tables that link to them
    sections = [s for s in (build(ctx) for build in SECTIONS) if s is not None]
    up, cfg = ctx.up, ctx.cfg
    man1 = up.manifests.get(TRAIN, {})
    subtitle = (
        f"How the features of a sparse autoencoder change when **{ctx.model_name('base')}** is fine-tuned "
        f"into **{ctx.model_name('tuned')}**, at `{dig(up.models, 'base', 'hookpoint', default=MISSING)}` "
        f"({fint(ctx.sae_cfg('num_latents'))} TopK latents, k = {fint(ctx.sae_cfg('k'))})."
    )
    meta = [
        ("run", code(cfg.run_name)),
        ("config", code(display_path(Path(cfg.config_path))) if cfg.config_path else "none (configured from Python)"),
        ("git commit", code(man1.get("git_commit"))),
        ("built from", ", ".join(f"`{s}` ({when(up.manifests[s])})" for s in (*UPSTREAM, *OPTIONAL)
                                 if s in up.manifests)),
    ]
    return Doc(cfg.report.title, subtitle, meta, [findings_section(ctx), *sections])


def build_report(cfg: PipelineConfig, out_dir: Path, up: Optional[Upstream] = None) -> dict:
    """Read stages 01-04 and write report.html, report.md, figures/ and findings.json into ``out_dir``."""
    up = up or load_upstream(cfg)
    ctx = ReportContext(up, out_dir)
    doc = build_doc(ctx)
    html_text = render_html(doc)
    fig_rel = {}
    for sec in doc.sections:
        for b in sec.blocks:
            if isinstance(b, Figure):
                fig_rel[b.path] = f"{ReportFiles.FIGURES}/{b.path.name}"
    md_text = render_md(doc, fig_rel)
    atomic_write_text(out_dir / ReportFiles.HTML, html_text)
    atomic_write_text(out_dir / ReportFiles.MD, md_text)
    atomic_write_json(out_dir / ReportFiles.FINDINGS, [
        {"id": f.id, "text": f.text, "values": f.values, "role": f.role,
         **({"supported": f.supported} if f.supported is not None else {}),
         **({"claims": f.claims} if f.claims else {})} for f in ctx.findings])
    return {"figures": len(fig_rel), "findings": len(ctx.findings),
            "cards": sum(len(b.cards) for s in doc.sections for b in s.blocks if isinstance(b, Cards))}


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 05 (needs stages 01-04); returns the stage folder."""
    final, info = execute(cfg, STAGE, compute, force, device=False, manifest=lambda info: {"report": info})
    if info is None:
        logger.info("report: %s", display_path(final / ReportFiles.HTML))
    else:
        logger.info("report with %d figures, %d findings and %d feature cards: %s", info["figures"],
                    info["findings"], info["cards"], display_path(final / ReportFiles.HTML))
    return final


def compute(cfg: PipelineConfig, out_dir: Path) -> dict:
    """Stage 05 into ``out_dir`` (the runner checks its upstream and commits); returns what the manifest records
    (figures, findings and cards written, exports kept)."""
    up = load_upstream(cfg, checked=True)  # before anything is written
    for p in out_dir.iterdir():  # a report is cheap: never resume a half-written one
        if p.name != PARTIAL_CONFIG:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    kept = carry_exports(cfg, out_dir)  # the SAEDashboard exports (python -m featevo.export) survive a rerun
    return {**build_report(cfg, out_dir, up), "exports_kept": kept}
