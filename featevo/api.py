"""Python API: typed, lazy access to one run folder ``outputs/<run>/``.

    import featevo
    run = featevo.load_run("configs/demo.yaml")      # or the run folder "outputs/demo", or a PipelineConfig
    run.ranking.rows()[:5]                           # pairs with the largest calibrated change (stage 03)
    sae = run.sae("tuned")                           # sae-lens SAE (featevo.sae.load_sae)
    run.label("tuned", 7)                            # its Delphi label (stage 04), None when not labelled

Everything is read on first use through the typed loaders of :mod:`featevo.results` and kept. A stage
that has not run raises :class:`featevo.errors.StageError` with one line naming the stage and the command
that makes it. Nothing here writes to the run folder.
"""

from __future__ import annotations

import shlex
from functools import cached_property
from pathlib import Path
from typing import Any

from featevo.config import PipelineConfig, config_from_dict, load_config
from featevo.errors import StageError
from featevo.layout import (
    CAUSAL, COMPARE, DELTAS, DIFFING, INTERPRET, MANIFEST, REPORT, STAGES, TRAIN, TWIN, ReportFiles, display_path,
    model_keys, run_dir, sae_dir, sae_specs, stage_command, stage_dir, stage_spec,
)
from featevo.tables import Table

__all__ = ["Run", "load_run"]


def load_run(path_or_config: str | Path | PipelineConfig, overrides: list[str] | None = None) -> "Run":
    """Open a run: a :class:`PipelineConfig`, a YAML config file (with optional ``--set`` style ``overrides``),
    or a run folder ``outputs/<run>/`` (its config is read back from the newest stage manifest)."""
    if isinstance(path_or_config, PipelineConfig):
        if overrides:
            raise ValueError("overrides apply to a YAML config, not to a PipelineConfig")
        return Run(path_or_config)
    p = Path(path_or_config).expanduser()
    if p.is_dir():
        if overrides:
            raise ValueError("overrides apply to a YAML config, not to a run folder")
        return Run(_config_from_run_dir(p))
    if p.is_file():
        return Run(load_config(p, overrides))
    raise StageError(f"{path_or_config}: neither a run folder nor a config file")


def _config_from_run_dir(folder: Path) -> PipelineConfig:
    """The config recorded by the newest stage manifest in ``folder``, pointed at ``folder`` itself (so a
    moved or copied run still opens)."""
    for spec in reversed(STAGES):
        man_path = folder / spec.id / MANIFEST
        if man_path.is_file():
            from featevo.io import read_json

            man = read_json(man_path)
            full = dict(man.get("full_config") or {})
            if not full:
                continue
            full["output_root"] = str(folder.resolve().parent)
            full["run_name"] = folder.name
            cfg = config_from_dict(full, src=display_path(man_path))
            cfg.config_path = _config_arg(man.get("command", ""))
            return cfg
    raise StageError(f"{display_path(folder)}: no stage manifest with a config found (not a featevo run folder?)")


def _config_arg(command: str) -> str | None:
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    if "--config" in words and words.index("--config") + 1 < len(words):
        conf = words[words.index("--config") + 1]
        return None if conf.startswith("<") else conf
    return None


class Run:
    """One run folder. Attributes are loaded lazily and cached; see the module docstring."""

    def __init__(self, cfg: PipelineConfig):
        self.config = cfg

    def __repr__(self) -> str:
        done = [s for s in self.stages() if self.has(s)]
        return f"Run({self.name!r}, {display_path(self.dir)}, stages done: {', '.join(done) or 'none'})"

    # ---- run and stages ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.config.run_name

    @property
    def dir(self) -> Path:
        return run_dir(self.config)

    def stages(self) -> list[str]:
        """The stages enabled for this run's config, in pipeline order."""
        return [s.id for s in STAGES if s.enabled(self.config)]

    def has(self, stage: str) -> bool:
        """True when ``stage`` has finished (its manifest exists)."""
        return stage_spec(stage).enabled(self.config) and (stage_dir(self.config, stage) / MANIFEST).is_file()

    def stage_dir(self, stage: str) -> Path:
        """The folder of a finished ``stage``; a one-line :class:`StageError` naming the command otherwise."""
        spec = stage_spec(stage)
        if not spec.enabled(self.config):
            raise StageError(f"run {self.name}: stage {stage} is not enabled for this config ({spec.enabled_by}: "
                             "false)")
        if not self.has(stage):
            where = display_path(stage_dir(self.config, stage))
            raise StageError(f"run {self.name}: stage {stage} has not run ({where} has no {MANIFEST}); "
                             f"run: {stage_command(self.config, stage)}")
        return stage_dir(self.config, stage)

    def manifest(self, stage: str) -> dict:
        """``<stage>/manifest.json``: the config, inputs, output hashes, versions and timing of a stage."""
        from featevo.io import read_json

        return read_json(self.stage_dir(stage) / MANIFEST)

    def _file(self, stage: str, name: str) -> Path:
        p = self.stage_dir(stage) / name
        if not p.exists():
            raise StageError(f"run {self.name}: {display_path(p)} is missing (stage {stage} wrote no such file); "
                             f"rerun: {stage_command(self.config, stage)} --force")
        return p

    # ---- 01: models and SAEs -----------------------------------------------------------------
    @property
    def models(self) -> tuple[str, ...]:
        """Model keys of the run: base, tuned, and with a twin control / planted."""
        return model_keys(self.config)

    @property
    def sae_names(self) -> list[str]:
        """Every SAE of the run (``base``, ``base_seed1``, ..., ``tuned``, ...)."""
        return list(sae_specs(self.config))

    @cached_property
    def models_info(self) -> dict:
        from featevo.results import load_models_info

        return load_models_info(self.stage_dir(TRAIN))

    @cached_property
    def train_summary(self) -> dict:
        """Every SAE's held-out metrics (FVU, L0, dead fraction, loss recovered), keyed by SAE name."""
        from featevo.results import load_train_summary

        return load_train_summary(self.stage_dir(TRAIN))

    @cached_property
    def twin_report(self) -> dict:
        """``01_twin/twin_report.json``: head fit, training logs, drift per block, the windows' token accounting."""
        from featevo.results import load_twin_report

        return load_twin_report(self.stage_dir(TWIN))

    @cached_property
    def twin_eval(self) -> dict:
        """``03_activation_deltas/twin_eval.json``: every model's masked-LM loss on the probe, per domain, and the
        planted-word loss (runs with a twin)."""
        from featevo.io import read_json
        from featevo.layout import DeltasFiles

        return read_json(self._file(DELTAS, DeltasFiles.TWIN_EVAL))

    def sae_path(self, name: str = "tuned") -> Path:
        """The sae-lens folder of SAE ``name`` (cfg.json, sae_weights.safetensors)."""
        self._check_sae(name)
        return sae_dir(self.stage_dir(TRAIN), name)

    def sae(self, name: str = "tuned", device: str = "cpu"):
        """SAE ``name`` loaded with sae-lens (:func:`featevo.sae.load_sae`)."""
        from featevo.sae import load_sae

        return load_sae(self.sae_path(name), device=device)

    def sae_metrics(self, name: str) -> dict:
        from featevo.results import load_sae_metrics

        self._check_sae(name)
        return load_sae_metrics(self.stage_dir(TRAIN), name)

    def steps(self, name: str) -> Table:
        """Per-step training log of SAE ``name``."""
        from featevo.layout import sae_work_dir
        from featevo.results import STEPS

        self._check_sae(name)
        return STEPS.read(sae_work_dir(self.stage_dir(TRAIN), name))

    def _check_sae(self, name: str) -> None:
        if name not in sae_specs(self.config):
            raise KeyError(f"run {self.name} has no SAE {name!r} (SAEs: {', '.join(self.sae_names)})")

    # ---- 02: comparison -----------------------------------------------------------------------
    @cached_property
    def compare(self):
        """Stage 02's :class:`featevo.results.CompareResult` (latents, pairs, all_pairs, comparisons, summary)."""
        from featevo.results import CompareResult

        return CompareResult.load(self.stage_dir(COMPARE))

    @property
    def pairs(self) -> Table:
        """The primary comparison's (base vs tuned) decoder-Hungarian pairs: ``pairs.csv``."""
        return self.compare.pairs

    @property
    def latents(self) -> Table:
        """Every latent of the primary comparison's base and tuned SAEs with its class: ``latents.csv``."""
        return self.compare.latents

    @property
    def comparison_pairs(self) -> Table:
        """Every comparison's pairs (fine-tuning, seed, control, ...): ``comparison_pairs.csv``."""
        return self.compare.all_pairs

    @property
    def comparisons(self) -> Table:
        return self.compare.comparisons

    # ---- 02: model diffing --------------------------------------------------------------------
    @cached_property
    def diffing_summary(self) -> dict:
        from featevo.results import load_diffing_summary

        self._file(DIFFING, "summary.json")
        return load_diffing_summary(self.stage_dir(DIFFING))

    @cached_property
    def stagewise_latents(self) -> Table:
        from featevo.layout import DiffingFiles
        from featevo.results import STAGEWISE_LATENTS

        return STAGEWISE_LATENTS.read(self._file(DIFFING, DiffingFiles.STAGEWISE_LATENTS).parent)

    @cached_property
    def crosscoder_latents(self) -> Table:
        from featevo.layout import DiffingFiles
        from featevo.results import CROSSCODER_LATENTS

        return CROSSCODER_LATENTS.read(self._file(DIFFING, DiffingFiles.CROSSCODER_LATENTS).parent)

    # ---- 03: deltas and causal checks ---------------------------------------------------------
    @cached_property
    def deltas(self):
        """Stage 03's :class:`featevo.results.DeltasResult` (feature table, pair effects, summary, ...)."""
        from featevo.results import DeltasResult

        return DeltasResult.load(self.stage_dir(DELTAS))

    @property
    def feature_table(self) -> Table:
        return self.deltas.feature_table

    @property
    def pair_effects(self) -> Table:
        """Every comparison's matched pairs with their domain-specific change: ``pair_effects.csv``."""
        return self.deltas.pair_effects

    @property
    def per_category(self) -> Table:
        return self.deltas.per_category

    @cached_property
    def ranking(self) -> Table:
        """The primary comparison's matched pairs ranked by calibrated change (rank 1 first)."""
        from featevo.results import RANKING

        return RANKING.read(self.stage_dir(DELTAS))

    def top_changes(self, n: int = 10) -> list[dict]:
        """The ``n`` matched pairs with the largest calibrated domain-specific change (``ranking_by_delta.csv``)."""
        return sorted(self.ranking.rows(), key=lambda r: r["rank"])[:n]

    def category_activations(self, sae: str, latent: int) -> list[dict]:
        """Per probe category: mean activation and firing frequency of ``latent`` of SAE ``sae`` (a replicate-0
        SAE: base, tuned, control, planted), with the category's domain (``data.target_domain`` /
        ``data.reference_domain``)."""
        return [r for r in self.per_category if r["model"] == sae and r["latent"] == int(latent)]

    def contexts(self, sae: str) -> dict[str, list[dict]]:
        """Per latent (string key) of ``sae`` (base or tuned): its top-activating probe/eval contexts."""
        from featevo.results import load_contexts

        return load_contexts(self.stage_dir(DELTAS), sae).get("latents", {})

    def latent_contexts(self, sae: str, latent: int) -> list[dict]:
        return self.contexts(sae).get(str(int(latent)), [])

    @cached_property
    def causal(self):
        """Stage 03_causal's :class:`featevo.results.CausalResult` (effects, summary)."""
        from featevo.layout import CausalFiles
        from featevo.results import CausalResult

        return CausalResult.load(self._file(CAUSAL, CausalFiles.EFFECTS).parent)

    # ---- 04: labels ---------------------------------------------------------------------------
    @cached_property
    def interpret(self):
        """Stage 04's :class:`featevo.results.InterpretResult` (labels, labels_summary, summary)."""
        from featevo.results import InterpretResult

        return InterpretResult.load(self.stage_dir(INTERPRET))

    @property
    def labels(self) -> Table:
        """``labels_comparison.csv``: labels of the chosen latents side by side, with scores."""
        return self.interpret.labels

    @cached_property
    def _label_index(self) -> dict[tuple[str, int], str]:
        out: dict[tuple[str, int], str] = {}
        for r in self.labels:
            for side in ("base", "tuned"):
                lat, text = r[f"{side}_latent"], r[f"{side}_label"]
                if lat is not None and text and not str(text).startswith("[failed"):
                    out[(side, int(lat))] = str(text)
        return out

    def label(self, sae: str, latent: int) -> str | None:
        """The Delphi label of ``latent`` of SAE ``sae`` (base or tuned); None when it was not labelled or its
        explanation failed."""
        return self._label_index.get((sae, int(latent)))

    def labels_for(self, sae: str) -> dict[int, str]:
        """Every labelled latent of ``sae`` -> its label."""
        return {lat: text for (s, lat), text in self._label_index.items() if s == sae}

    # ---- 05 ----------------------------------------------------------------------------------
    @cached_property
    def findings(self) -> Any:
        """``05_report/findings.json``: the findings as text and the numbers they were generated from."""
        from featevo.io import read_json

        return read_json(self._file(REPORT, ReportFiles.FINDINGS))

    @property
    def report_html(self) -> Path:
        return self._file(REPORT, ReportFiles.HTML)
