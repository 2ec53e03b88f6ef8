"""Everything stage 05 reads from stages 01-04, loaded once through :mod:`featevo.results`.

CSV files come in as typed tables (the schemas' exact column names, ``None`` for a blank cell), JSON
files through their paired loaders. Stage 05 reads only the small files; the activation shards of
stage 01 are checked by the stages that read them.

``02_model_diffing`` and ``03_causal`` are optional here: they are loaded when their manifest and summary
exist (:data:`OPTIONAL`); otherwise :attr:`Upstream.absent` says why, and their report sections say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from featevo.config import PipelineConfig
from featevo.errors import StageError
from featevo.io import load_manifest, read_json, require_stage
from featevo.layout import (
    CAUSAL, COMPARE, DELTAS, DIFFING, INTERPRET, TRAIN, TWIN, CausalFiles, DeltasFiles, DiffingFiles, TrainFiles,
    TwinFiles,
    acts_dir, split_dir, stage_dir,
)
from featevo.report.common import SAE_ORDER
from featevo.results import (
    CROSSCODER_LATENTS, STAGEWISE_LATENTS, CausalResult, CompareResult, DeltasResult, InterpretResult,
    load_contexts, load_diffing_summary, load_models_info, load_planted, load_train_summary, load_twin_report,
)
from featevo.tables import Table

UPSTREAM: tuple[str, ...] = (TRAIN, COMPARE, DELTAS, INTERPRET)
OPTIONAL: tuple[str, ...] = (DIFFING, CAUSAL)
"""Read when they ran (manifest and summary present); their sections say so in one sentence when not."""
OPTIONAL_SUMMARY = {DIFFING: DiffingFiles.SUMMARY, CAUSAL: CausalFiles.SUMMARY}


@dataclass
class DiffingResult:
    """``02_model_diffing`` as the report reads it."""

    summary: dict
    planted: dict
    stagewise: Table
    crosscoder: Table

    @classmethod
    def load(cls, s2: Path) -> "DiffingResult":
        planted = load_planted(s2) if (s2 / DiffingFiles.PLANTED).is_file() else {"available": False}
        return cls(load_diffing_summary(s2), planted, STAGEWISE_LATENTS.read(s2), CROSSCODER_LATENTS.read(s2))


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
    """01_twin twin_report.json with 03_activation_deltas twin_eval.json (the probe's masked-LM losses) merged in
    (None without a twin, or when the report is missing)."""
    compare: CompareResult
    deltas: DeltasResult
    interpret: InterpretResult
    contexts: dict[str, dict]
    """Per SAE, 03_activation_deltas contexts/<sae>.json (``{}`` when absent)."""
    counts: dict = field(default_factory=dict)
    """Documents and SAE token rows per split (``train_docs``, ``eval_tokens``, ...)."""
    diffing: Optional[DiffingResult] = None
    """02_model_diffing (None when it did not run: see ``absent``)."""
    causal: Optional[CausalResult] = None
    """03_causal (None when it did not run: see ``absent``)."""
    absent: dict = field(default_factory=dict)
    """Optional stage -> why it is not in the report (not run, or ran without its summary)."""

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


def load_optional(cfg: PipelineConfig, stage: str) -> tuple[Optional[dict], str]:
    """(manifest, "") of an optional stage that ran with this config and wrote its summary, else (None, why)."""
    sdir = stage_dir(cfg, stage)
    if load_manifest(cfg, stage) is None:
        return None, f"stage {stage} was not run"
    if not (sdir / OPTIONAL_SUMMARY[stage]).is_file():
        return None, f"stage {stage} finished without its summary (it was not run for this report)"
    try:
        return require_stage(cfg, stage, verify_files=False), ""
    except StageError as e:
        return None, str(e)


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
        if (s3 / DeltasFiles.TWIN_EVAL).is_file():  # the probe's masked-LM losses are measured by stage 03
            twin = {**twin, **read_json(s3 / DeltasFiles.TWIN_EVAL)}
    loaded: dict = {}
    absent: dict = {}
    for st in OPTIONAL:
        dirs[st] = stage_dir(cfg, st)
        man, why = load_optional(cfg, st)
        if man is None:
            absent[st] = why
            continue
        manifests[st] = man
        loaded[st] = (DiffingResult if st == DIFFING else CausalResult).load(dirs[st])
    return Upstream(
        cfg=cfg, manifests=manifests, dirs=dirs, models=load_models_info(s1), sae_summary=load_train_summary(s1),
        twin=twin, compare=CompareResult.load(s2), deltas=DeltasResult.load(s3), interpret=InterpretResult.load(s4),
        contexts={side: load_contexts(s3, side) for side in SAE_ORDER}, counts=_counts(s1),
        diffing=loaded.get(DIFFING), causal=loaded.get(CAUSAL), absent=absent,
    )
