"""Everything stage 05 reads from stages 01-04, loaded once through :mod:`featevo.results`.

CSV files come in as typed tables (the schemas' exact column names, ``None`` for a blank cell), JSON
files through their paired loaders. Stage 05 reads only the small files; the activation shards of
stage 01 are checked by the stages that read them.

``02_model_diffing``, ``03_causal`` and ``03_study`` are optional here (the registry's ``StageSpec.optional`` of
``05_report``, :data:`OPTIONAL`): they are loaded when they ran and wrote their summary; otherwise
:attr:`Upstream.absent` says why, and their report sections say so. One that ran but is stale stops the report, as
a required one does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Optional

from featevo.config import PipelineConfig
from featevo.io import load_manifest, read_json, require_upstream
from featevo.layout import (
    CAUSAL, COMPARE, DELTAS, DIFFING, INTERPRET, REPORT, STUDY, TRAIN, TWIN, CausalFiles, DeltasFiles, DiffingFiles,
    StudyFiles, TrainFiles, TwinFiles,
    acts_dir, split_dir, stage_dir, stage_spec, upstream_stages,
)
from featevo.report.common import SAE_ORDER
from featevo.study_results import StudyResult
from featevo.results import (
    CausalResult, CompareResult, DeltasResult, DiffingResult, InterpretResult, load_contexts, load_models_info,
    load_train_summary, load_twin_report,
)

OPTIONAL: tuple[str, ...] = stage_spec(REPORT).optional
"""Read when they ran (manifest and summary present); their sections say so in one sentence when not."""
UPSTREAM: tuple[str, ...] = tuple(s for s in stage_spec(REPORT).upstream if s not in (*OPTIONAL, TWIN))
"""The stages the report needs (stages 01-04; the twin's when ``twin.enabled``)."""
OPTIONAL_SUMMARY = {DIFFING: DiffingFiles.SUMMARY, CAUSAL: CausalFiles.SUMMARY, STUDY: StudyFiles.SUMMARY}
_OPTIONAL_RESULT = {DIFFING: DiffingResult, CAUSAL: CausalResult, STUDY: StudyResult}


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
    study: Optional[StudyResult] = None
    """03_study (None when it did not run: see ``absent``)."""
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


def load_optional(cfg: PipelineConfig, stage: str, manifests: dict[str, dict]) -> tuple[Optional[dict], str]:
    """(manifest, "") of an optional stage that ran with this config (``manifests``: the checked upstream) and
    wrote its summary, else (None, why)."""
    if stage not in manifests:
        return None, f"stage {stage} was not run"
    if not (stage_dir(cfg, stage) / OPTIONAL_SUMMARY[stage]).is_file():
        return None, f"stage {stage} finished without its summary (it was not run for this report)"
    return manifests[stage], ""


def load_upstream(cfg: PipelineConfig, checked: bool = False) -> Upstream:
    """Check the report's upstream stages (:func:`featevo.io.require_upstream`: one-line error naming what to
    run; ``checked``: the runner has done it) and read their outputs. Stage 01 holds the activation shards
    (hundreds of MB): its hashes are checked by the stages that read them; stage 05 reads only its small files."""
    if checked:
        manifests = {s: m for s in upstream_stages(cfg, REPORT) if (m := load_manifest(cfg, s)) is not None}
    else:
        manifests = require_upstream(cfg, REPORT)
    dirs = {st: stage_dir(cfg, st) for st in (*UPSTREAM, TWIN)}
    s1, s2, s3, s4 = (dirs[s] for s in (TRAIN, COMPARE, DELTAS, INTERPRET))
    twin = None
    if cfg.twin.enabled and (dirs[TWIN] / TwinFiles.REPORT).is_file():
        twin = load_twin_report(dirs[TWIN])
        if (s3 / DeltasFiles.TWIN_EVAL).is_file():  # the probe's masked-LM losses are measured by stage 03
            twin = {**twin, **read_json(s3 / DeltasFiles.TWIN_EVAL)}
    loaded: dict = {}
    absent: dict = {}
    for st in OPTIONAL:
        dirs[st] = stage_dir(cfg, st)
        man, why = load_optional(cfg, st, manifests)
        if man is None:
            absent[st] = why
            manifests.pop(st, None)  # ran without its summary: not part of the report
            continue
        manifests[st] = man
        loaded[st] = _OPTIONAL_RESULT[st].load(dirs[st])
    return Upstream(
        cfg=cfg, manifests=manifests, dirs=dirs, models=load_models_info(s1), sae_summary=load_train_summary(s1),
        twin=twin, compare=CompareResult.load(s2), deltas=DeltasResult.load(s3), interpret=InterpretResult.load(s4),
        contexts={side: load_contexts(s3, side) for side in SAE_ORDER}, counts=_counts(s1),
        diffing=loaded.get(DIFFING), causal=loaded.get(CAUSAL), study=loaded.get(STUDY), absent=absent,
    )
