"""The contract between stages: the run's folder layout, every file name, the stage registry and the
run-level concepts (which models, which SAEs with which seeds: :mod:`featevo.run_saes`, re-exported here).

This is a low module: it imports only the config. Stage modules (``train``, ``compare``, ``deltas``,
``interpret``, ``report``) read each other's outputs through the names and paths defined here and the
typed readers of :mod:`featevo.results`; they never import one another.

Layout of ``outputs/<run>/``::

    01_twin/                 the demo's domain-tuned twin (when ``twin.enabled``)
    01_train_sae/            tokens, activations, SAEs and their metrics
    02_compare_features/     every SAE comparison (fine-tuning, seed, control, ...): matching, classes, claims
    03_activation_deltas/    domain-specific change of matched pairs on the probe set, seed-calibrated; contexts;
                             with a twin, the twins' masked-LM loss on the probe (twin_eval.json)
    03_study/                the study reproduced as published beside its baselines, one correction at a time
    04_interpret/            Delphi labels and scores
    05_report/               report.html, report.md, findings.json, figures/
    logs/<stage>.log         each stage's log
    .<stage>.partial/        a stage being written (never read by another stage)

Adding a stage touches one :class:`StageSpec` below plus its module and script; the Makefile and
docs/pipeline.md's stage table are checked against :data:`STAGES` by ``tests/test_layout.py``.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from featevo.config import ModelConfig, PipelineConfig
from featevo.run_saes import (  # noqa: F401  (re-exported: stages import these from featevo.layout)
    FAMILIES, MODEL_KEYS, Comparison, SaeSpec, comparisons, main_saes, model_keys, null_sae_names, sae_name,
    sae_specs,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# Stage registry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageSpec:
    """One stage: its output folder, script, Makefile target, config it reads and upstream stages."""

    id: str
    """Folder name under ``outputs/<run>/`` (also the manifest's ``stage``)."""
    script: str
    """Repository-relative script that runs it."""
    make_target: str
    """Makefile target that runs the script (several stages may share one target)."""
    reads: tuple[str, ...]
    """Config keys its outputs depend on, exactly those it reads: a section (``sae``) or one field
    (``harvest.max_length``). Its manifest records and its fingerprint covers these values only, so changing
    another key (``data.probe`` for stage 01) leaves it current."""
    upstream: tuple[str, ...]
    """Stages whose outputs it reads, exactly those (those not enabled for a config are skipped);
    ``tests/test_dag.py`` checks that the stage reads every one and no other."""
    summary: str
    """One line for docs/pipeline.md's stage table."""
    enabled_by: str | None = None
    """Boolean config key that switches the stage on (``twin.enabled``); None: always on."""
    optional: tuple[str, ...] = ()
    """Upstream stages read when they ran: a missing one is not an error, a stale one is."""
    verify: tuple[str, ...] = ()
    """Upstream stages whose every output file is re-hashed before the stage runs (the others are checked by
    manifest, config and staleness only: stage 01's activation shards are large)."""
    inputs: tuple[str, ...] = ()
    """Data files hashed into its manifest: ``corpus`` (the corpus file), ``probe`` (the probe set)."""

    def enabled(self, cfg: PipelineConfig) -> bool:
        if self.enabled_by is None:
            return True
        section, _, key = self.enabled_by.partition(".")
        return bool(getattr(getattr(cfg, section), key))


TWIN = "01_twin"
TRAIN = "01_train_sae"
COMPARE = "02_compare_features"
DIFFING = "02_model_diffing"
DELTAS = "03_activation_deltas"
CAUSAL = "03_causal"
STUDY = "03_study"
INTERPRET = "04_interpret"
REPORT = "05_report"

DATA_LABELS = ("data.text_field", "data.category_field", "data.domain_field", "data.cluster_field",
               "data.target_domain", "data.reference_domain", "data.target_categories", "data.reference_categories")
"""How corpus and probe files are read: their columns, the two domains' names and category lists."""
CORPUS_KEYS = ("data.corpus", "data.corpus_split", *DATA_LABELS, "data.eval_fraction", "data.max_docs",
               "data.corpus_domain")
"""The config fields that decide the corpus documents and their split (not the probe set)."""
PROBE_KEYS = ("data.probe", *DATA_LABELS)
"""The config fields that decide the probe set."""

STAGES: tuple[StageSpec, ...] = (
    StageSpec(TWIN, "01_train_sae/make_twin.py", "stage01",
              ("seed", "base_model", "tuned_model", *CORPUS_KEYS, "twin", "harvest.max_length", "harvest.stride",
               "harvest.max_windows"), (),
              "the demo's domain-tuned twin: continued masked-LM pretraining of the base on target-domain text",
              enabled_by="twin.enabled", inputs=("corpus",)),
    StageSpec(TRAIN, "01_train_sae/train_sae.py", "stage01",
              ("run_name", "seed", "base_model", "tuned_model", *CORPUS_KEYS, "harvest", "twin", "sae"), (TWIN,),
              "tokens, layer activations of both models, one TopK SAE per model plus seed-baseline SAEs",
              inputs=("corpus",)),
    StageSpec(COMPARE, "02_compare_features/compare_features.py", "stage02", ("compare",), (TRAIN, TWIN),
              "Hungarian matching of every SAE comparison (fine-tuning, seed, control, planted, wide seeds), "
              "family claims against the seed spread, dictionary-size stability, transfer", verify=(TRAIN,)),
    StageSpec(DIFFING, "02_compare_features/model_diffing.py", "stage02",
              ("seed", "diffing", "twin.planted", *PROBE_KEYS), (TRAIN, TWIN),
              "stage-wise SAE fine-tuning and BatchTopK crosscoders against their nulls; the planted positive control",
              verify=(TRAIN,), inputs=("probe",)),
    StageSpec(DELTAS, "03_activation_deltas/activation_deltas.py", "stage03", ("deltas", *PROBE_KEYS),
              (TRAIN, COMPARE, TWIN),
              "domain-specific change (target minus reference domain) of matched pairs on the probe set, template-"
              "clustered resampling, calibrated against seed pairs and the control twin; held-out selection; with "
              "a twin, every model's masked-LM loss on the probe", verify=(TRAIN, COMPARE), inputs=("probe",)),
    StageSpec(CAUSAL, "03_activation_deltas/causal_checks.py", "stage03", ("seed", "causal", *PROBE_KEYS),
              (TRAIN, DELTAS, TWIN),
              "flagged latents ablated or patched to their base values inside the tuned model, against random latents",
              verify=(DELTAS,), inputs=("probe",)),
    StageSpec(STUDY, "03_activation_deltas/study_as_published.py", "stage03", ("seed", "study", *PROBE_KEYS),
              (TRAIN, COMPARE, DELTAS, TWIN),
              "the study reproduced as published (its layer, encoder, pooling, index pairing, top-20 typing) beside "
              "chance, seed and control baselines, one correction at a time", inputs=("probe",)),
    StageSpec(INTERPRET, "04_interpret/interpret.py", "stage04", ("interpret",), (TRAIN, COMPARE, DELTAS, TWIN),
              "Delphi labels with detection and fuzzing scores against a shuffled-label floor"),
    StageSpec(REPORT, "05_report/report.py", "stage05", ("report",),
              (TRAIN, COMPARE, DIFFING, DELTAS, CAUSAL, STUDY, INTERPRET, TWIN),
              "self-contained HTML report, its Markdown twin and findings.json",
              optional=(DIFFING, CAUSAL, STUDY), verify=(COMPARE, DELTAS, INTERPRET)),
)
_BY_ID = {s.id: s for s in STAGES}


def stage_spec(stage: str) -> StageSpec:
    try:
        return _BY_ID[stage]
    except KeyError:
        raise KeyError(f"unknown stage {stage!r} (known: {', '.join(_BY_ID)})") from None


def upstream_stages(cfg: PipelineConfig, stage: str) -> tuple[str, ...]:
    """The enabled upstream stages of ``stage`` for this config."""
    return tuple(u for u in stage_spec(stage).upstream if stage_spec(u).enabled(cfg))


# --------------------------------------------------------------------------------------------
# Run folders
# --------------------------------------------------------------------------------------------
MANIFEST = "manifest.json"
PARTIAL_CONFIG = "_partial_config.json"
LOGS_DIR = "logs"
LLM_SERVER_LOG = "04_llm_server.log"


def resolve_repo_path(p: str | Path) -> Path:
    """Absolute path for ``p``; relative paths are taken from the repository root."""
    p = Path(p).expanduser()
    return p if p.is_absolute() else REPO_ROOT / p


def display_path(p: Path | str) -> str:
    """``p`` relative to the repository root when inside it (for messages and manifests)."""
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def run_dir(cfg: PipelineConfig) -> Path:
    return resolve_repo_path(cfg.output_root) / cfg.run_name


def stage_dir(cfg: PipelineConfig, stage: str) -> Path:
    return run_dir(cfg) / stage


def partial_dir(cfg: PipelineConfig, stage: str) -> Path:
    return run_dir(cfg) / f".{stage}.partial"


def old_dir(cfg: PipelineConfig, stage: str) -> Path:
    return run_dir(cfg) / f".{stage}.old"


def log_path(cfg: PipelineConfig, stage: str) -> Path:
    return run_dir(cfg) / LOGS_DIR / f"{stage}.log"


def stage_command(cfg: PipelineConfig, stage: str) -> str:
    """The command that runs ``stage`` for this config, with the ``--set`` overrides the config was loaded with."""
    conf = display_path(Path(cfg.config_path)) if cfg.config_path else "<your config>"
    sets = "".join(f" --set {shlex.quote(o)}" for o in getattr(cfg, "set_overrides", ()))
    return f"python {stage_spec(stage).script} --config {conf}{sets}"


# --------------------------------------------------------------------------------------------
# File names, per stage (relative to the stage folder)
# --------------------------------------------------------------------------------------------
class TwinFiles:
    """``01_twin/``: two ``save_pretrained`` folders and the report."""

    BASE = "base"
    TUNED = "tuned"
    REPORT = "twin_report.json"
    LOOP_LOG = "log.json"  # a finished loop's loss log, kept in its work folder until the report is written
    HEAD_WORK = "work_head"
    TWIN_WORK = "work_twin"


class TrainFiles:
    """``01_train_sae/``::

        models.json                       which models were used (resolved), d_in, hookpoint
        <split>/tokens.safetensors        shared token stream; <split>/docs.jsonl the documents
        <split>/<model>/shard_*.safetensors, index.json   activations (split = train, eval)
        saes/<name>/sae/                  sae-lens format (cfg.json, sae_weights.safetensors)
        saes/<name>/steps.csv             per-step loss, FVU, L0, dead fraction, lr
        saes/<name>/metrics.json          held-out FVU, L0, dead latents, loss recovered
        summary.json                      all metrics side by side
        training_curves.png
    """

    MODELS = "models.json"
    SUMMARY = "summary.json"
    CURVES = "training_curves.png"
    SPLITS = ("train", "eval")
    TOKENS = "tokens.safetensors"
    DOCS = "docs.jsonl"
    INDEX = "index.json"
    SAES = "saes"
    SAE = "sae"                  # sae-lens inference format inside saes/<name>/
    SAE_CFG = "cfg.json"
    SAE_WEIGHTS = "sae_weights.safetensors"
    STEPS = "steps.csv"
    METRICS = "metrics.json"
    TRAIN_DONE = "train_done.json"
    CHECKPOINT = "checkpoint"


class CompareFiles:
    """``02_compare_features/``."""

    LATENTS = "latents.csv"                    # primary comparison (base vs tuned, replicate 0): every latent
    PAIRS = "pairs.csv"                        # primary comparison: its decoder-Hungarian pairs
    ALL_PAIRS = "comparison_pairs.csv"         # every comparison's pairs (stage 03 reads the matched ones)
    COMPARISONS = "comparisons.csv"            # one row per comparison with its statistics
    SUMMARY = "summary.json"
    SIMILARITY_HIST = "similarity_hist.png"
    MATCHED_SCATTER = "matched_scatter.png"
    CONTINUUM = "continuum.png"


class DeltasFiles:
    """``03_activation_deltas/``."""

    PER_CATEGORY = "per_category.csv"
    FEATURE_TABLE = "feature_table.csv"
    RANKING = "ranking_by_delta.csv"
    TOP_FEATURES = "top_target_features.csv"
    PAIR_EFFECTS = "pair_effects.csv"          # every comparison's matched pairs: domain-specific change
    COMPARISON_COUNTS = "comparison_counts.csv"  # per comparison: calibrated discoveries
    HELD_OUT = "held_out_top.csv"              # selected on half A of the templates, estimated on half B
    DOMAIN_LATENTS = "domain_latents.csv"      # per SAE: significantly target / reference latents
    SUMMARY = "summary.json"
    INTERESTING = "interesting_latents.json"
    CONTEXTS = "contexts"        # contexts/<base|tuned>.json
    FOUR_PANEL = "four_panel.png"
    TWIN_EVAL = "twin_eval.json"               # with a twin: every model's masked-LM loss on the probe
    HISTOGRAMS = "activation_histograms.csv"   # per base/tuned latent: histogram of its eval activations


class DiffingFiles:
    """``02_model_diffing/``."""

    STAGEWISE = "stagewise"            # stagewise/<contrast>_o<order>/sae/ (sae-lens format)
    STAGEWISE_LATENTS = "stagewise_latents.csv"
    CROSSCODERS = "crosscoders"        # crosscoders/<a>_<b>/ (sae-lens format on concatenated activations)
    CROSSCODER_LATENTS = "crosscoder_latents.csv"
    FIXED_DICTIONARY_LATENTS = "fixed_dictionary_latents.csv"
    PLANTED = "planted.json"
    SUMMARY = "summary.json"
    ROTATION_FIG = "rotation_vs_null.png"
    RHO_FIG = "relative_decoder_norm.png"


class CausalFiles:
    """``03_causal/``."""

    EFFECTS = "effects.csv"
    SUMMARY = "summary.json"
    EFFECTS_FIG = "effects_vs_random.png"


class StudyFiles:
    """``03_study/``."""

    LADDER = "ladder.csv"                  # the headline after each correction, beside its baselines
    TOP = "top_financial.csv"             # the study's top-20 table (and the same rule for the baselines)
    EMERGING = "emerging.csv"             # the study's "emerging features" table
    LATENTS = "latents.csv"               # the study's per-latent table (every latent index, every comparison)
    CHANGE_SUMMARY = "change_summary.csv"  # the study's summary (up/down split, mean and max change) per comparison
    DELTAS = "activation_count_deltas.csv"  # the study's "activation delta" ranking per comparison
    HEADLINE = "headline.csv"             # the study's headline numbers: published, this run, baselines
    SUMMARY = "summary.json"
    FOUR_PANEL = "study_four_panel.png"   # the study's figure in its original layout, by its procedure
    FOUR_PANEL_CORRECTED = "study_four_panel_corrected.png"  # the same layout after every correction


class InterpretFiles:
    """``04_interpret/``."""

    LATENTS = "latents"          # latents/<sae>_<latent>.json, one per labelled latent
    SHUFFLED = "shuffled"        # shuffled/<sae>_<latent>.json, the shuffled-label floor
    CROSS = "cross"              # cross/pair_<pair_id>.json, each pair's labels scored on the other latent
    PROMPTS = "prompts"
    LABELS = "labels_comparison.csv"
    LABELS_SUMMARY = "labels_summary.csv"
    SCORES = "scores.csv"                 # long: sae, latent, scorer, kind (own/floor/baseline/partner), value
    SCORES_SUMMARY = "scores_summary.csv"  # long: one row per SAE and scorer
    EXPLANATIONS = "explanations.json"
    SUMMARY = "summary.json"


class ReportFiles:
    """``05_report/``."""

    HTML = "report.html"
    MD = "report.md"
    FIGURES = "figures"
    FINDINGS = "findings.json"
    EXPORTS = "exports"          # exports/<sae>/batch-0.json, index.json: python -m featevo.export (featevo/export.py)
    # figures/: stage 05's own figures (each with an SVG twin) ...
    SAE_LOSSES = "05_sae_losses.png"
    TWIN = "05_twin.png"
    CLASS_COUNTS = "05_class_counts.png"
    LABEL_SCORES = "05_label_scores.png"
    # ... and copies of the stages' figures, prefixed with the stage number
    TRAINING_CURVES = "01_training_curves.png"
    SIMILARITY_HIST = "02_similarity_hist.png"
    MATCHED_SCATTER = "02_matched_scatter.png"
    CONTINUUM = "02_continuum.png"
    FOUR_PANEL = "03_four_panel.png"
    DIFFING_ROTATION = "02_rotation_vs_null.png"
    DIFFING_RHO = "02_relative_decoder_norm.png"
    CAUSAL_EFFECTS = "03_effects_vs_random.png"
    STUDY_FOUR_PANEL = "03_study_four_panel.png"
    STUDY_FOUR_PANEL_CORRECTED = "03_study_four_panel_corrected.png"


# --------------------------------------------------------------------------------------------
# Paths inside stage 01 (``s1`` is the stage folder, or its partial folder while it is written)
# --------------------------------------------------------------------------------------------
def split_dir(s1: Path, split: str) -> Path:
    return s1 / split


def acts_dir(s1: Path, split: str, model: str) -> Path:
    return s1 / split / model


def sae_work_dir(s1: Path, name: str) -> Path:
    return s1 / TrainFiles.SAES / name


def sae_dir(s1: Path, name: str) -> Path:
    """The sae-lens folder of SAE ``name`` (load with :func:`featevo.sae.load_sae`)."""
    return s1 / TrainFiles.SAES / name / TrainFiles.SAE


def sae_metrics_path(s1: Path, name: str) -> Path:
    return s1 / TrainFiles.SAES / name / TrainFiles.METRICS


def contexts_path(s3: Path, sae: str) -> Path:
    return s3 / DeltasFiles.CONTEXTS / f"{sae}.json"


# --------------------------------------------------------------------------------------------
# Run-level concepts: models (the SAEs and their comparisons: featevo.run_saes, re-exported above)
# --------------------------------------------------------------------------------------------
def models(cfg: PipelineConfig) -> dict[str, ModelConfig]:
    """Model key -> model; with a twin, the folders written by ``01_twin``."""
    if cfg.twin.enabled:
        tdir = stage_dir(cfg, TWIN)
        return {k: ModelConfig(name=str(tdir / k)) for k in model_keys(cfg)}
    return {"base": cfg.base_model, "tuned": cfg.tuned_model}


def replica_models(cfg: PipelineConfig) -> dict[str, ModelConfig]:
    """``{"replica": its folder}`` when ``twin.replica`` (the tuned twin's recipe and text, another seed; no SAE
    is trained on it, so it is not one of :func:`model_keys`), else empty."""
    if cfg.twin.enabled and cfg.twin.replica:
        return {"replica": ModelConfig(name=str(stage_dir(cfg, TWIN) / "replica"))}
    return {}


def model_label(cfg: PipelineConfig, key: str) -> str:
    """How outputs meant to be shared name a model: its configured name (hub id, ``pkg:...``, or a folder
    relative to the repository, or else relative to the run folder), or for a twin its folder relative to
    the run folder (``01_twin/tuned``); never an absolute machine path."""
    if cfg.twin.enabled:
        return f"{TWIN}/{key}"
    name = (cfg.base_model if key == "base" else cfg.tuned_model).name
    if not Path(name).expanduser().is_absolute():
        return name
    path = Path(name).expanduser().resolve()
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:  # outside the repository: relative to the run folder, so a copied run still names it
        return os.path.relpath(path, run_dir(cfg).resolve())


# --------------------------------------------------------------------------------------------
# Every output file (outputs/README.md's listing is generated from this)
# --------------------------------------------------------------------------------------------
def _fig(name: str) -> str:
    """A figure and its SVG twin."""
    return f"{name[:-4]}.{{png,svg}}" if name.endswith(".png") else name


def output_files() -> dict[str, tuple[tuple[str, str], ...]]:
    """Per folder of ``outputs/<run>/`` (each stage, then ``logs``): (path pattern, what it holds), built from the
    file-name constants above. Patterns: ``<name>`` is one path component (or part of one), ``{a,b}`` one of
    the alternatives."""
    return {**_stage01_02_files(), **_stage03_05_files()}


def _stage01_02_files() -> dict[str, tuple[tuple[str, str], ...]]:
    T, C, F = TrainFiles, CompareFiles, DiffingFiles
    sae = (f"{T.SAE}/{{{T.SAE_CFG},{T.SAE_WEIGHTS}}}", "sae-lens inference format (SAE.load_from_disk)")
    return {
        TWIN: (
            ("<model>/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json}",
             "save_pretrained folders: base (published encoder + fitted MLM head), tuned, control, planted, replica"),
            (TwinFiles.REPORT, "parameter drift per block, MLM eval loss before/after, per twin"),
        ),
        TRAIN: (
            (T.MODELS, "resolved models, hookpoint, layer, d_in, fidelity head"),
            (f"<split>/{T.TOKENS}", "token ids of the split (train, eval), shared by every model"),
            (f"<split>/{T.DOCS}", "the split's documents (text, category, domain)"),
            ("<split>/<model>/shard_<n>.safetensors", "layer activations of one model"),
            (f"<split>/<model>/{T.INDEX}", "the shards and their row counts"),
            (f"{T.SAES}/<sae>/{sae[0]}", f"{sae[1]}: base, tuned, `<model>_seed<r>` (seed baselines), "
                                         "`base_wide<r>`, control, planted"),
            (f"{T.SAES}/<sae>/{T.STEPS}", "per-step loss, FVU, L0, dead fraction, learning rate"),
            (f"{T.SAES}/<sae>/{T.METRICS}", "held-out FVU, L0, dead latents, loss recovered"),
            (f"{T.SAES}/<sae>/{T.TRAIN_DONE}", "marks a finished SAE (resume skips it)"),
            (T.SUMMARY, "every SAE's metrics"),
            (_fig(T.CURVES), "training curves of every SAE"),
        ),
        COMPARE: (
            (C.LATENTS, "every latent of the primary comparison (base vs tuned): class, firing frequency, partners"),
            (C.PAIRS, "the primary comparison's decoder-Hungarian pairs (pair_id is stable across stages 02-05)"),
            (C.ALL_PAIRS, "every comparison's pairs"),
            (C.COMPARISONS, "one row per comparison (family, matched fraction, new, lost, ...)"),
            (C.SUMMARY, "family claims against the seed spread, dictionary-size stability, transfer"),
            (_fig(C.SIMILARITY_HIST), "decoder-cosine histograms"),
            (_fig(C.MATCHED_SCATTER), "matched pairs: decoder cosine against activation correlation"),
            (_fig(C.CONTINUUM), "the matched-to-new continuum against the seed baseline"),
        ),
        DIFFING: (
            (f"{F.STAGEWISE}/<contrast>_o<order>/{sae[0]}", f"stage-wise fine-tuned SAEs ({sae[1]})"),
            (f"{F.STAGEWISE}/<contrast>_o<order>/{T.TRAIN_DONE}", "marks a finished stage-wise SAE"),
            (F.STAGEWISE_LATENTS, "per contrast and latent: rotation, frequency and activation change vs null"),
            (f"{F.CROSSCODERS}/<a>_<b>/{sae[0]}", "BatchTopK crosscoders on concatenated activations"),
            (f"{F.CROSSCODERS}/<a>_<b>/{T.TRAIN_DONE}", "marks a finished crosscoder"),
            (F.CROSSCODER_LATENTS, "per crosscoder latent: relative decoder norm, class"),
            (F.FIXED_DICTIONARY_LATENTS, "per dictionary, contrast and latent: domain-specific change and its test"),
            (F.PLANTED, "the planted positive control: recovery per lens"),
            (F.SUMMARY, "claims of the stage"),
            (_fig(F.ROTATION_FIG), "rotation against its null"),
            (_fig(F.RHO_FIG), "relative decoder norms of the crosscoders"),
        ),
    }


def _stage03_05_files() -> dict[str, tuple[tuple[str, str], ...]]:
    D, K, IF, R, S = DeltasFiles, CausalFiles, InterpretFiles, ReportFiles, StudyFiles
    return {
        DELTAS: (
            (D.PER_CATEGORY, "per latent and probe category: mean activation"),
            (D.FEATURE_TABLE, "per matched pair of the primary comparison: domain-specific change, CI, z, q"),
            (D.RANKING, "the pairs ranked by their change"),
            (D.TOP_FEATURES, "the most domain-selective latents of each SAE with their matched pair"),
            (D.PAIR_EFFECTS, "every comparison's matched pairs: domain-specific change"),
            (D.COMPARISON_COUNTS, "per comparison: calibrated discoveries"),
            (D.HELD_OUT, "top pairs selected on half A of the templates, estimated on half B"),
            (D.DOMAIN_LATENTS, "per SAE: significantly domain-selective latents"),
            (D.SUMMARY, "claims of the stage, families, calibration"),
            (D.INTERESTING, "the pairs and latents stage 04 labels"),
            (D.TWIN_EVAL, "with a twin: every model's masked-LM loss on the probe per domain, planted-word loss"),
            (f"{D.CONTEXTS}/<sae>.json", "top-activating contexts per latent (base, tuned)"),
            (D.HISTOGRAMS, "per base and tuned latent: histogram of its activations on stage 01's eval split"),
            (_fig(D.FOUR_PANEL), "the study's four-panel figure"),
        ),
        CAUSAL: (
            (K.EFFECTS, "per flagged and random latent: effect of ablating / patching inside the tuned model"),
            (K.SUMMARY, "claims of the stage"),
            (_fig(K.EFFECTS_FIG), "effects against random latents"),
        ),
        STUDY: (
            (S.LADDER, "the study's headline after one correction at a time, beside chance, seed and control"),
            (S.HEADLINE, "the study's headline numbers: published, this run, its baselines"),
            (S.TOP, "the study's top-20 table by its procedure, per comparison (tuned, seed, control)"),
            (S.EMERGING, "the study's emerging-features table, per comparison"),
            (S.LATENTS, "the study's per-latent table (index pairing), per comparison"),
            (S.CHANGE_SUMMARY, "the study's summary (up/down split, mean and max change) and the checks"),
            (S.DELTAS, "the study's activation-count delta ranking, per comparison"),
            (S.SUMMARY, "claims (checks) of the stage, the corrected answer quoted from stages 02-03"),
            (_fig(S.FOUR_PANEL), "the study's four-panel figure in its original layout, by its procedure"),
            (_fig(S.FOUR_PANEL_CORRECTED), "the same layout after every correction"),
        ),
        INTERPRET: (
            (IF.LABELS, "per labelled pair / latent: labels, label-quality marks, cross verdict, change"),
            (IF.SCORES, "every score, long: per SAE, latent, scorer and kind (own, floor, baseline, partner)"),
            (IF.LABELS_SUMMARY, "per SAE: label counts"),
            (IF.SCORES_SUMMARY, "per SAE and scorer: score means, paired floor statistics, counts"),
            (IF.EXPLANATIONS, "the explanations per SAE and latent"),
            (IF.SUMMARY, "backend, scores, paired floor statistics, scorer accounting"),
            (f"{IF.LATENTS}/<sae>_<latent>.json", "one labelled latent: explanation and per-scorer results"),
            (f"{IF.SHUFFLED}/<sae>_<latent>.json", "the latent scored with other latents' labels (the floor)"),
            (f"{IF.CROSS}/pair_<pair_id>.json", "each pair's labels scored on the other latent"),
            (f"{IF.PROMPTS}/<sae>_<latent>.txt", "the explainer's prompt"),
        ),
        REPORT: (
            (R.HTML, "the self-contained report"),
            (R.MD, "its Markdown twin"),
            (R.FINDINGS, "every finding sentence with its values and claims"),
            (f"{R.FIGURES}/<figure>.{{png,svg}}", "the report's figures (for report.md; report.html embeds them)"),
            (f"{R.EXPORTS}/index.json", "SAEDashboard / Neuronpedia exports (python -m featevo.export): index"),
            (f"{R.EXPORTS}/<sae>/batch-0.json",
             "one NeuronpediaDashboardBatch per SAE (SAEDashboard's own reader loads it)"),
            (f"{R.EXPORTS}/<sae>/featevo.json", "per feature what that format has no field for: quantiles, labels, "
             "context sources"),
        ),
        LOGS_DIR: (
            ("<stage>.log", "each stage's log (appended on every run)"),
            (LLM_SERVER_LOG, "the local LLM server's log (stage 04)"),
            ("05_export.log", "python -m featevo.export's log"),
        ),
    }


if __name__ == "__main__":  # pragma: no cover - prints the docs' stage table (--outputs: outputs/README's)
    import sys

    from featevo.layout_docs import outputs_listing_markdown, stage_table_markdown

    sys.stdout.write((outputs_listing_markdown() if "--outputs" in sys.argv else stage_table_markdown()) + "\n")
