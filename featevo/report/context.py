"""What every section of the report gets: the upstream results (read only), the output folder and the
findings collector, plus the views several sections share (model names, label order, score means).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from featevo.config import PipelineConfig
from featevo.layout import ReportFiles
from featevo.report.common import SAE_ORDER, as_float, mean
from featevo.report.templates import MISSING, Figure, Para, finite
from featevo.report.upstream import Upstream


@dataclass
class Finding:
    id: str
    text: str
    values: dict
    claims: list = field(default_factory=list)
    """The claims the sentence states (featevo.report.evidence.claim_values): observed and null values,
    intervals, test and ``supported``; empty for a finding that only reports numbers."""
    supported: Optional[bool] = None


@dataclass
class ReportContext:
    """Shared by the section builders; sections add findings through :meth:`find` and figures to
    :attr:`fig_dir`, and change nothing else."""

    up: Upstream
    out: Path
    findings: list[Finding] = field(default_factory=list)

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
             **values) -> None:
        self.findings.append(Finding(fid, text, values, list(claims or []), supported))

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
        """Per SAE: latents, labelled, failed, mean detection/fuzzing, their shuffled means and beat fractions.

        From stage 04's summary (``scores.<sae>``, the rows of labels_summary.csv); a mean it lacks is
        averaged from labels_comparison.csv's per-latent columns."""
        scores = self.up.interpret.summary.get("scores") or {}
        labels = self.up.interpret.labels
        out = {}
        for side in SAE_ORDER:
            e = scores.get(side) or {}
            st: dict[str, Any] = {"latents": e.get("latents"), "labelled": e.get("labelled"), "failed": e.get("failed")}
            for m in ("detection", "fuzzing"):
                st[m] = as_float(e.get(f"{m}_accuracy_mean"))
                st[f"{m}_shuffled"] = as_float(e.get(f"{m}_accuracy_shuffled_mean"))
                st[f"{m}_beats"] = as_float(e.get(f"{m}_beats_shuffled_fraction"))
            for key in ("detection", "fuzzing", "detection_shuffled"):  # the per-latent columns of LABELS
                if st[key] is None:
                    st[key] = mean([v for v in (r[f"{side}_{key}"] for r in labels) if finite(v)])
            if any(finite(st[m]) for m in ("detection", "fuzzing")):
                out[side] = st
        return out
