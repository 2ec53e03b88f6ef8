"""The run's SAEs and SAE comparisons: which models a run holds, which SAEs with which seeds are trained on
them, and which pairs of SAEs are matched (the comparison families).

Part of the contract between stages; :mod:`featevo.layout` re-exports every name, so stages import them from
there. This module imports only the config.
"""

from __future__ import annotations

from dataclasses import dataclass

from featevo.config import PipelineConfig

MODEL_KEYS = ("base", "tuned", "control", "planted")
"""Every model a run can hold, in seed-stride order: the base, the domain-tuned model, and with a twin
the control twin (same recipe on reference-domain text) and the planted twin (positive control)."""


def model_keys(cfg: PipelineConfig) -> tuple[str, ...]:
    """The models of this run: base and tuned, plus the control and planted twins when configured."""
    keys = ["base", "tuned"]
    if cfg.twin.enabled and cfg.twin.control:
        keys.append("control")
    if cfg.twin.enabled and cfg.twin.planted:
        keys.append("planted")
    return tuple(keys)


@dataclass(frozen=True)
class SaeSpec:
    """One SAE of the run: the model whose activations it is trained on, its seed and replicate index."""

    name: str
    model: str
    seed: int
    replicate: int
    num_latents: int | None = None
    """None: ``sae.num_latents`` / ``expansion_factor``; else the wide dictionary size."""

    @property
    def wide(self) -> bool:
        return self.num_latents is not None


def sae_name(model: str, replicate: int, wide: bool = False) -> str:
    """``base``, ``base_seed1``, ``base_seed2``, ...; wide dictionaries ``base_wide0``, ``base_wide1``."""
    if wide:
        return f"{model}_wide{replicate}"
    return model if replicate == 0 else f"{model}_seed{replicate}"


def sae_specs(cfg: PipelineConfig) -> dict[str, SaeSpec]:
    """SAE name -> spec: ``sae.seeds`` SAEs for base, tuned and control, one for the planted twin, and
    ``sae.wide_seeds`` wide base SAEs when ``sae.wide_num_latents`` is set.

    SAE r of model m (index in :data:`MODEL_KEYS`) has seed ``seed + m * sae.model_seed_stride + r``
    (wide ones ``... + 100 + r``): different models never share an initial decoder or batch order, as
    same-model seed pairs do not (see ``sae.model_seed_stride``).
    """
    out: list[SaeSpec] = []
    for key in model_keys(cfg):
        m = MODEL_KEYS.index(key)
        n = 1 if key == "planted" else cfg.sae.seeds
        base_seed = cfg.seed + m * cfg.sae.model_seed_stride
        out += [SaeSpec(sae_name(key, r), key, base_seed + r, r) for r in range(n)]
    if cfg.sae.wide_num_latents is not None:
        out += [SaeSpec(sae_name("base", r, wide=True), "base", cfg.seed + 100 + r, r, cfg.sae.wide_num_latents)
                for r in range(cfg.sae.wide_seeds)]
    return {s.name: s for s in out}


def main_saes(cfg: PipelineConfig, model: str) -> list[str]:
    """The main-size SAEs of ``model``, replicate 0 first."""
    return [n for n, s in sae_specs(cfg).items() if s.model == model and not s.wide]


@dataclass(frozen=True)
class Comparison:
    """Two SAEs whose latents are matched, and the family the comparison belongs to."""

    a: str
    b: str
    family: str

    @property
    def name(self) -> str:
        return f"{self.a}~{self.b}"


FAMILIES = {
    "fine-tuning": "base SAE vs tuned SAE (each seed pair): what the study compares",
    "seed": "two SAEs of the same model with different seeds: the null (no model change at all)",
    "control": "base SAE vs control-twin SAE: the same fine-tuning recipe on reference-domain text",
    "planted": "tuned SAE vs planted-twin SAE: the positive control (one planted concept)",
    "wide-seed": "two wide base SAEs with different seeds: seed stability at the larger dictionary size",
}


def comparisons(cfg: PipelineConfig) -> list[Comparison]:
    """Every SAE comparison of the run (see :data:`FAMILIES`); the first is base vs tuned."""
    specs = sae_specs(cfg)
    by = {k: main_saes(cfg, k) for k in model_keys(cfg)}
    out = [Comparison(a, b, "fine-tuning") for a in by["base"] for b in by["tuned"]]
    for key in ("base", "tuned", "control"):
        names = by.get(key, [])
        out += [Comparison(names[i], names[j], "seed") for i in range(len(names)) for j in range(i + 1, len(names))]
    out += [Comparison(a, b, "control") for a in by["base"] for b in by.get("control", [])]
    out += [Comparison(b, p, "planted") for b in by["tuned"][:1] for p in by.get("planted", [])]
    wide = [n for n, s in specs.items() if s.wide]
    out += [Comparison(wide[i], wide[j], "wide-seed") for i in range(len(wide)) for j in range(i + 1, len(wide))]
    return out


def null_sae_names(cfg: PipelineConfig) -> list[str]:
    """The base model's other-seed SAEs (the matching lens's first null)."""
    return main_saes(cfg, "base")[1:]
