"""What every section of the report gets: the upstream results (read only), the output folder and the
findings collector, plus the views several sections share (model names, label order, score means).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from featevo.claims import ROLES as CLAIM_ROLES
from featevo.config import PipelineConfig
from featevo.layout import ReportFiles
from featevo.report.common import SAE_ORDER, as_float, mean
from featevo.report.quality import Flag, is_dense, label_flags
from featevo.report.templates import MISSING, Cell, Figure, Para, finite, fint, fpct
from featevo.report.upstream import Upstream
from featevo.results import SCORES_SUMMARY
from featevo.scorers import in_order, names, shown_scorers
from featevo.tables import Table


ROLES = CLAIM_ROLES
"""A finding's roles: those of claims (:data:`featevo.claims.ROLES`)."""
_PAIRED_KEYS = ("paired_n", "paired_diff", "paired_ci_low", "paired_ci_high", "paired_wins", "paired_losses",
                "paired_ties", "paired_sign_p")


@dataclass
class Finding:
    id: str
    text: str
    values: dict
    claims: list = field(default_factory=list)
    """The claims the sentence states (featevo.report.evidence.claim_values): observed and null values,
    intervals, test and ``supported``; empty for a finding that only reports numbers."""
    supported: Optional[bool] = None
    role: str = "claim"
    """``claim``; ``comparison`` (a real change set beside the claim's, e.g. what the control twin changes: neither
    passes nor fails); ``positive_control`` (a planted change the method must find: ``supported`` means it passes);
    ``negative_control`` (a true null, where the method must find nothing: ``supported`` means it fails); ``check``
    (a check of the machinery or the design: ``supported`` means it passes; a check that states a claim, a measured
    test such as "the tuned twin and its replica differ", is worded neutrally and neither passes nor fails). The
    "What this run supports" box groups the comparisons and the controls."""
    lens: Optional[str] = None
    """The method a claim or control belongs to (``stage-wise diffing``); a supported claim whose lens has a
    failing control is marked in the box."""


@dataclass
class ReportContext:
    """Shared by the section builders; sections add findings through :meth:`find` and figures to
    :attr:`fig_dir`, and change nothing else."""

    up: Upstream
    out: Path
    findings: list[Finding] = field(default_factory=list)
    carded: dict = field(default_factory=dict)
    """(sae, latent) -> anchor id of its feature card (set by :func:`featevo.report.cards.plan_cards` before
    the sections are built, so that tables can link to cards)."""
    card_plan: list = field(default_factory=list)
    """The feature cards to render, in groups (featevo.report.cards)."""
    marks_used: set = field(default_factory=set)
    """Flag kinds shown anywhere (for legends)."""
    hist_cache: dict = field(default_factory=dict)
    """SAE -> {latent: activations on stage 01's eval split} for the carded latents (None: not readable)."""

    def __post_init__(self) -> None:
        self.fig_dir.mkdir(parents=True, exist_ok=True)

    @property
    def cfg(self) -> PipelineConfig:
        return self.up.cfg

    @property
    def domains(self) -> tuple[str, str]:
        """The target and reference domains' names (``data.target_domain``, ``data.reference_domain``)."""
        return self.cfg.data.target_domain, self.cfg.data.reference_domain

    @property
    def fig_dir(self) -> Path:
        return self.out / ReportFiles.FIGURES

    def find(self, fid: str, text: str, claims: Optional[list] = None, supported: Optional[bool] = None,
             role: str = "claim", lens: Optional[str] = None, **values) -> None:
        if role not in ROLES:
            raise ValueError(f"finding {fid!r}: unknown role {role!r} (known: {', '.join(ROLES)})")
        self.findings.append(Finding(fid, text, values, list(claims or []), supported, role, lens))

    # ---------------------------------------------------------------- figures
    def copy_figure(self, src: Path, name: str) -> Optional[Path]:
        """Copy a stage's figure (and its SVG twin) into figures/ as ``name``."""
        if not src.is_file():
            return None
        dst = self.fig_dir / name
        shutil.copyfile(src, dst)
        svg = src.with_suffix(".svg")
        if svg.is_file():
            shutil.copyfile(svg, dst.with_suffix(".svg"))
        return dst

    @staticmethod
    def figure_block(path: Optional[Path], caption: str, alt: str, fid: str = "", max_width: int = 0) -> list:
        if path is None or not path.is_file():
            return [Para(f"Figure not available: {alt} (the upstream stage did not write it).", "note")]
        return [Figure(path, caption, alt, fid, max_width)]

    # ---------------------------------------------------------------- run facts
    def model_name(self, key: str) -> str:
        info = self.up.models.get(key, {})
        conf = info.get("configured_as")
        if key == "tuned" and self.cfg.twin.enabled:
            return f"a domain-tuned twin (continued masked-LM pretraining on {self.domains[0]} text)"
        return str(conf or info.get("name") or MISSING)

    def sae_cfg(self, key: str) -> Any:
        """``num_latents`` / ``k`` as trained (stage 01's summary), else as configured."""
        s = self.up.sae_summary.get("base", {})
        if key == "num_latents":
            return s.get("d_sae", self.cfg.sae.num_latents)
        if key == "k":
            return s.get("k", self.cfg.sae.k)
        return getattr(self.cfg.sae, key, None)

    def llm_desc(self) -> str:
        b = self.up.interpret.summary.get("backend")
        if not isinstance(b, dict) or not b:
            return f"{MISSING} (not recorded by stage 04)"
        parts = [str(b.get("model") or MISSING)]
        if b.get("gguf"):
            parts.append(f"({b['gguf']})")
        return " ".join(parts) + (f" via the {b['backend']} backend" if b.get("backend") else "")

    def sae_names(self) -> list[str]:
        names = list(self.up.sae_summary)
        return [n for n in SAE_ORDER if n in names] + sorted(n for n in names if n not in SAE_ORDER)

    # ---------------------------------------------------------------- marks
    @property
    def label_marks(self) -> dict:
        """(sae, latent) -> label flags: the marks stage 04 wrote on its labelled rows (featevo.label_quality)."""
        if getattr(self, "_label_marks", None) is None:
            self._label_marks = label_flags(self.up.interpret.labels, SAE_ORDER)
        return self._label_marks

    def scorers_run(self) -> tuple[str, ...]:
        """The scorers stage 04 ran (``interpret.scorers``), in the registry's order (featevo.scorers)."""
        return in_order(getattr(self.cfg.interpret, "scorers", names()))

    def scorer_summary(self, sae: str, scorer: str) -> dict:
        """Scorer ``scorer`` on SAE ``sae`` against its floor: its row of stage 04's ``scores_summary.csv``
        (``paired_n``, ``paired_diff``, ``paired_ci_low`` / ``_high``, ...); when the table has none (a stage 04
        written without it), the same paired statistics from summary.json's ``<scorer>_paired_*`` keys."""
        rows = (self.up.interpret.scores_summary or Table(SCORES_SUMMARY)).where(sae=sae, scorer=scorer)
        if rows:
            return dict(rows[0])
        e = ((self.up.interpret.summary or {}).get("scores") or {}).get(sae) or {}
        return {k: e.get(f"{scorer}_{k}") for k in _PAIRED_KEYS if f"{scorer}_{k}" in e}

    def flags(self, sae: str, latent) -> list[Flag]:
        """Label flags of a latent (empty when it has no label or none applies)."""
        return list(self.label_marks.get((sae, latent), []))

    def dense_flag(self, sae: str, latent) -> Flag | None:
        freq = self.up.latent_value(sae, latent, "firing_frequency") if latent is not None else None
        thr = self.cfg.report.dense_threshold
        if is_dense(freq, thr):
            return Flag("dense", fpct(freq, 0 if round(100 * freq) > 100 * thr else 1))
        return None

    def latent_badges(self, sae: str, latent, who: str = "") -> list[tuple[str, str]]:
        """The density warning of a latent as a badge (mark, meaning); ``who`` prefixes the mark."""
        d = self.dense_flag(sae, latent)
        if d is None:
            return []
        self.marks_used.add("dense")
        return [(f"{who + ' ' if who else ''}{d.mark} {d.detail}",
                 f"{sae} latent {latent} fires on {d.detail} of tokens (above report.dense_threshold "
                 f"{fpct(self.cfg.report.dense_threshold, 0)})")]

    def latent_link(self, sae: str, latent) -> str:
        """The latent's number, as an in-document link to its card when it has one."""
        a = self.carded.get((sae, latent)) if latent is not None else None
        return f"[{fint(latent)}](#{a})" if a else fint(latent)

    def dense_note(self) -> list[str]:
        """The density legend as a table note, when a dense latent was marked."""
        if "dense" not in self.marks_used:
            return []
        return [f"*dense*: the latent fires on more than {fpct(self.cfg.report.dense_threshold, 0)} of tokens "
                "(`report.dense_threshold`), so it tracks overall activity more than one concept. A linked latent "
                "has a feature card."]

    def pair_cell(self, base_latent, tuned_latent) -> Cell:
        """``base → tuned`` with links to cards and density warnings of either latent."""
        return Cell(f"{self.latent_link('base', base_latent)} → {self.latent_link('tuned', tuned_latent)}",
                    numeric=True, badges=self.latent_badges("base", base_latent, "base")
                    + self.latent_badges("tuned", tuned_latent, "tuned"))

    def latent_cell(self, sae: str, latent, text: str | None = None, numeric: bool = True) -> Cell:
        """A table cell naming a latent: linked to its card when it has one, with a density warning."""
        return Cell(fint(latent) if text is None else text, numeric=numeric,
                    href=self.carded.get((sae, latent), "") if latent is not None else "",
                    badges=self.latent_badges(sae, latent) if latent is not None else [])

    def label_cell(self, sae: str, latent, label: str) -> Cell:
        """A label cell: greyed with its marks when flagged."""
        fl = self.flags(sae, latent) if label != MISSING else []
        self.marks_used.update(f.kind for f in fl)
        return Cell(label, wrap=True, muted=bool(fl), badges=[(f.mark, f.title) for f in fl])

    # ---------------------------------------------------------------- labels
    def ordered_labels(self) -> list[dict]:
        """Labelled rows, most interesting first: stage 03's ranking, then |z| of the change, then unmatched."""
        rank: dict[int, int] = {}
        for i, pid in enumerate(self.up.deltas.interesting.get("pairs") or []):
            rank.setdefault(pid, i)
        zs = {r["pair_id"]: abs(r["z"]) for r in self.up.deltas.feature_table if finite(r["z"])}

        def key(r: dict):
            pid = r["pair_id"]
            d = zs.get(pid, -1.0)
            return (rank.get(pid, len(rank)), -d, pid if pid is not None else 1 << 30)

        return sorted(self.up.interpret.labels, key=key)

    def score_stats(self) -> dict[str, dict]:
        """Per SAE: latents, labelled, failed, and per shown scorer its mean, shuffled mean and beat fraction.

        From stage 04's summary (``scores.<sae>``, the rows of labels_summary.csv); a mean it lacks is
        averaged from labels_comparison.csv's per-latent columns."""
        res = self.up.interpret
        scores = res.summary.get("scores") or {}
        shown = shown_scorers()
        out = {}
        for side in SAE_ORDER:
            e = scores.get(side) or {}
            st: dict[str, Any] = {"latents": e.get("latents"), "labelled": e.get("labelled"), "failed": e.get("failed")}
            for m in shown:
                st[m] = as_float(e.get(f"{m}_accuracy_mean"))
                st[f"{m}_shuffled"] = as_float(e.get(f"{m}_accuracy_shuffled_mean"))
                st[f"{m}_beats"] = as_float(e.get(f"{m}_beats_shuffled_fraction"))
            # a mean the summary lacks, from the per-latent rows of scores.csv
            for m, kind in [(m, "own") for m in shown] + [(m, "floor") for m in shown[:1]]:
                key = m if kind == "own" else f"{m}_shuffled"
                if st[key] is None:
                    vals = (res.score(side, r[f"{side}_latent"], m, kind) for r in res.labels)
                    st[key] = mean([v for v in vals if finite(v)])
            if any(finite(st[m]) for m in shown):
                out[side] = st
        return out
