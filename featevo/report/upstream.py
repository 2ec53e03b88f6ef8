"""Everything stage 05 reads from stages 01-04, loaded once through :mod:`featevo.results`.

CSV files come in as typed tables (the schemas' exact column names, ``None`` for a blank cell), JSON
files through their paired loaders. Stage 05 reads only the small files; the activation shards of
stage 01 are checked by the stages that read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from featevo.config import PipelineConfig
from featevo.io import read_json, require_stage
from featevo.layout import (
    COMPARE, DELTAS, INTERPRET, TRAIN, TWIN, TrainFiles, TwinFiles, acts_dir, split_dir, stage_dir,
)
from featevo.report.common import SAE_ORDER
from featevo.results import (
    CompareResult, DeltasResult, InterpretResult, load_contexts, load_models_info, load_train_summary,
    load_twin_report,
)

UPSTREAM: tuple[str, ...] = (TRAIN, COMPARE, DELTAS, INTERPRET)


@dataclass
class Upstream:
    """Stages 01-04 as the report reads them."""

    cfg: PipelineConfig
    manifests: dict[str, dict]
    dirs: dict[str, Path]
    models: dict
    """01_train_sae models.json: per model key, resolved name, hookpoint, layer, d_in, fidelity head."""
    sae_summary: dict
    """01_train_sae summary.json: every SAE's metrics, keyed by SAE name."""
    twin: Optional[dict]
    """01_twin twin_report.json (None without a twin, or when the report is missing)."""
    compare: CompareResult
    deltas: DeltasResult
    interpret: InterpretResult
    contexts: dict[str, dict]
    """Per SAE, 03_activation_deltas contexts/<sae>.json (``{}`` when absent)."""
    counts: dict = field(default_factory=dict)
    """Documents and SAE token rows per split (``train_docs``, ``eval_tokens``, ...)."""

    # ---------------------------------------------------------------- lookups
    @cached_property
    def _feature_by_pair(self) -> dict[int, dict]:
        out: dict[int, dict] = {}
        for r in self.deltas.feature_table:
            if r["pair_id"] is not None:
                out.setdefault(r["pair_id"], r)
        return out

    @cached_property
    def _pair_by_id(self) -> dict[int, dict]:
        out: dict[int, dict] = {}
        for r in self.compare.pairs:
            out.setdefault(r["pair_id"], r)
        return out

    @cached_property
    def _latent_by_key(self) -> dict[tuple[str, int], dict]:
        out: dict[tuple[str, int], dict] = {}
        for r in self.compare.latents:
            out.setdefault((r["sae"], r["latent"]), r)
        return out

    def feature_value(self, pair_id: Optional[int], col: str):
        """Column ``col`` of the pair's row in stage 03's feature table (None when it has none)."""
        row = self._feature_by_pair.get(pair_id) if pair_id is not None else None
        return row[col] if row else None

    def pair_value(self, pair_id: Optional[int], col: str):
        """Column ``col`` of the pair's row in stage 02's pairs.csv."""
        row = self._pair_by_id.get(pair_id) if pair_id is not None else None
        return row[col] if row else None

    def latent_value(self, sae: str, latent: Optional[int], col: str):
        """Column ``col`` of the latent's row in stage 02's latents.csv."""
        row = self._latent_by_key.get((sae, latent))
        return row[col] if row else None


def _counts(s1: Path) -> dict:
    """Documents and SAE token rows per split of stage 01."""
    counts = {}
    for split in TrainFiles.SPLITS:
        docs = split_dir(s1, split) / TrainFiles.DOCS
        if docs.is_file():
            with open(docs, encoding="utf-8") as f:
                counts[f"{split}_docs"] = sum(1 for line in f if line.strip())
        idx = acts_dir(s1, split, "base") / TrainFiles.INDEX
        if idx.is_file():
            counts[f"{split}_tokens"] = read_json(idx).get("n_rows")
    return counts


def load_upstream(cfg: PipelineConfig) -> Upstream:
    """Check stages 01-04 (one-line error naming what to run) and read their outputs."""
    manifests = {}
    for st in UPSTREAM:
        # stage 01 holds the activation shards (hundreds of MB): its hashes are checked by the stages
        # that read them; stage 05 reads only its small JSON/CSV/PNG files.
        manifests[st] = require_stage(cfg, st, verify_files=(st != TRAIN))
    if cfg.twin.enabled:
        manifests[TWIN] = require_stage(cfg, TWIN, verify_files=False)
    dirs = {st: stage_dir(cfg, st) for st in (*UPSTREAM, TWIN)}
    s1, s2, s3, s4 = (dirs[s] for s in UPSTREAM)
    twin = None
    if cfg.twin.enabled and (dirs[TWIN] / TwinFiles.REPORT).is_file():
        twin = load_twin_report(dirs[TWIN])
    return Upstream(
        cfg=cfg, manifests=manifests, dirs=dirs, models=load_models_info(s1), sae_summary=load_train_summary(s1),
        twin=twin, compare=CompareResult.load(s2), deltas=DeltasResult.load(s3), interpret=InterpretResult.load(s4),
        contexts={side: load_contexts(s3, side) for side in SAE_ORDER}, counts=_counts(s1),
    )
