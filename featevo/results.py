"""The typed outputs of every stage: CSV schemas (column names, types and meanings, defined once) and
paired readers for the JSON files, so that stages hand each other typed values, never re-parsed dicts
of strings.

Each stage writes its tables with ``SCHEMA.write(folder, rows)``; later stages and the report read
them with ``SCHEMA.read(folder)`` or the ``load_*`` functions below.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from featevo.io import read_json
from featevo.layout import (
    CausalFiles, CompareFiles, DeltasFiles, InterpretFiles, TrainFiles, TwinFiles, contexts_path,
)
from featevo.tables import Col, Schema, Table

# --------------------------------------------------------------------------------------------
# 01_train_sae
# --------------------------------------------------------------------------------------------
STEPS = Schema(TrainFiles.STEPS, (
    Col("step", "int", "optimiser step (0-based)"),
    Col("tokens", "int", "activation rows seen so far"),
    Col("lr", "float", "learning rate at this step"),
    Col("mse_loss", "float", "reconstruction MSE of the batch"),
    Col("aux_loss", "float", "TopK auxiliary (dead-latent) loss"),
    Col("fvu", "float", "fraction of variance unexplained on the batch"),
    Col("l0", "float", "mean active latents per row"),
    Col("dead_fraction", "float", "fraction of latents that have not fired within the dead window"),
), "per-step training log of one SAE (saes/<name>/steps.csv)", float_digits=None)


def load_sae_metrics(s1: Path, name: str) -> dict:
    """``saes/<name>/metrics.json``: held-out FVU, L0, dead fraction, loss recovered, seed, model."""
    return read_json(s1 / TrainFiles.SAES / name / TrainFiles.METRICS)


def load_train_summary(s1: Path) -> dict:
    """``summary.json``: every SAE's metrics, keyed by SAE name."""
    return read_json(s1 / TrainFiles.SUMMARY)


def load_models_info(s1: Path) -> dict:
    """``models.json``: per model key, the resolved name, hookpoint, layer, d_in and fidelity head."""
    return read_json(s1 / TrainFiles.MODELS)


def load_twin_report(twin_dir: Path) -> dict:
    """``01_twin/twin_report.json``: drift per block and MLM eval loss before/after."""
    return read_json(twin_dir / TwinFiles.REPORT)


# --------------------------------------------------------------------------------------------
# 02_compare_features
# --------------------------------------------------------------------------------------------
_PAIR_COLS = (
    Col("decoder_cosine", "float", "cosine of the two latents' decoder rows"),
    Col("activation_correlation", "float", "Pearson correlation of their activations over the same tokens"),
    Col("class", "str", "shared / shifted (a match) or unmatched (decoder cosine below compare.new_threshold)"),
    Col("activation_match_agrees", "bool", "the activation-correlation assignment pairs the same two latents"),
)
LATENTS = Schema(CompareFiles.LATENTS, (
    Col("sae", "str", "base or tuned"),
    Col("latent", "int", "latent index in that SAE"),
    Col("class", "str", "shared / shifted / new / lost / split / dead (featevo/compare.py)"),
    Col("firing_frequency", "float", "fraction of the comparison tokens on which it fires"),
    Col("match_decoder", "int", "its decoder-Hungarian partner in the other SAE (blank: dead)"),
    Col("decoder_cosine", "float", "decoder cosine to that partner"),
    Col("pair_activation_correlation", "float", "activation correlation with that partner"),
    Col("best_decoder_cosine", "float", "best decoder cosine to any live latent of the other SAE"),
    Col("match_activation", "int", "its activation-correlation Hungarian partner"),
    Col("activation_correlation", "float", "activation correlation with that partner"),
    Col("matches_agree", "bool", "the two assignments give the same partner"),
), "every latent of the base and tuned SAEs with its class and partners")
PAIRS = Schema(CompareFiles.PAIRS, (
    Col("pair_id", "int", "row number of the pair (stable across stages 02-05)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    *_PAIR_COLS,
), "decoder-Hungarian pairs of live base and tuned latents")
NULL_PAIRS = Schema(CompareFiles.NULL_PAIRS, (
    Col("null_sae", "str", "the seed-baseline SAE (base model, another seed)"),
    Col("pair_id", "int", "row number of the pair within its null SAE"),
    Col("base_latent", "int", "base SAE latent"),
    Col("seed_latent", "int", "latent of the seed-baseline SAE"),
    *_PAIR_COLS,
), "the same pairs between the base SAE and each seed-baseline SAE (the null)")
MATCHED_CLASSES = ("shared", "shifted")


@dataclass
class CompareResult:
    """Stage 02's outputs as read by later stages."""

    latents: Table
    pairs: Table
    null_pairs: Table
    summary: dict

    @classmethod
    def load(cls, s2: Path) -> "CompareResult":
        return cls(LATENTS.read(s2), PAIRS.read(s2), NULL_PAIRS.read(s2, missing_ok=True),
                   read_json(s2 / CompareFiles.SUMMARY))

    def matched_pairs(self) -> list[dict]:
        return [p for p in self.pairs if p["class"] in MATCHED_CLASSES]

    def latent_class(self) -> dict[tuple[str, int], str]:
        return {(r["sae"], r["latent"]): r["class"] for r in self.latents}


# --------------------------------------------------------------------------------------------
# 03_activation_deltas
# --------------------------------------------------------------------------------------------
_SCORE_DOC = "mean over {dom} probe sentences of the latent's sentence-mean activation"
PER_CATEGORY = Schema(DeltasFiles.PER_CATEGORY, (
    Col("model", "str", "base or tuned SAE"),
    Col("latent", "int", "latent index"),
    Col("category", "str", "probe category"),
    Col("domain", "str", "financial or general"),
    Col("mean_activation", "float", "mean over the category's sentences of the sentence-mean activation"),
    Col("frequency", "float", "mean over the category's sentences of the fraction of tokens it fires on"),
    Col("n_sentences", "int", "probe sentences in the category"),
), "per-latent, per-category activation on the probe set")
FEATURE_TABLE = Schema(DeltasFiles.FEATURE_TABLE, (
    Col("pair_id", "int", "stage 02 pair (blank for unmatched latents)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    Col("class", "str", "stage 02 class"),
    Col("type", "str", "financial-gained / financial-lost / stable(-financial|-general) / <class>(-financial|-general)"),
    Col("decoder_cosine", "float", "stage 02 decoder cosine"),
    Col("activation_correlation", "float", "stage 02 activation correlation"),
    Col("base_fin_score", "float", _SCORE_DOC.format(dom="financial") + " (base latent)"),
    Col("base_fin_ci_low", "float", "bootstrap interval"), Col("base_fin_ci_high", "float", "bootstrap interval"),
    Col("tuned_fin_score", "float", _SCORE_DOC.format(dom="financial") + " (tuned latent)"),
    Col("tuned_fin_ci_low", "float", "bootstrap interval"), Col("tuned_fin_ci_high", "float", "bootstrap interval"),
    Col("base_gen_score", "float", _SCORE_DOC.format(dom="general") + " (base latent)"),
    Col("tuned_gen_score", "float", _SCORE_DOC.format(dom="general") + " (tuned latent)"),
    Col("delta_matched", "float", "tuned_fin_score - base_fin_score of the matched pair"),
    Col("delta_ci_low", "float", "paired bootstrap interval"), Col("delta_ci_high", "float", "paired bootstrap interval"),
    Col("change_pct_matched", "float", "100 * delta / base_fin_score (blank when the base score is tiny)"),
    Col("relative_change_matched", "float", "2 * delta / (tuned + base fin scores)"),
    Col("base_specialization", "float", "(fin - gen) / (fin + gen)"),
    Col("base_specialization_ci_low", "float", "bootstrap interval"),
    Col("base_specialization_ci_high", "float", "bootstrap interval"),
    Col("tuned_specialization", "float", "(fin - gen) / (fin + gen)"),
    Col("tuned_specialization_ci_low", "float", "bootstrap interval"),
    Col("tuned_specialization_ci_high", "float", "bootstrap interval"),
    Col("specialization_change", "float", "tuned - base specialization"),
    Col("specialization_change_ci_low", "float", "bootstrap interval"),
    Col("specialization_change_ci_high", "float", "bootstrap interval"),
    Col("p_value", "float", "paired sign-flip permutation test of delta"),
    Col("q_value", "float", "Benjamini-Hochberg across matched pairs"),
    Col("significant", "bool", "q_value <= alpha"),
    Col("beyond_seed_noise", "bool", "significant and |relative change| above the seed baseline's 95th percentile"),
    Col("base_financial_q", "float", "BH q of the base latent's financial-vs-general test"),
    Col("tuned_financial_q", "float", "BH q of the tuned latent's financial-vs-general test"),
), "the study's comprehensive table, corrected: matched pairs first, then unmatched latents")
RANKING = Schema(DeltasFiles.RANKING, (
    Col("rank", "int", "1 = largest increase of the financial score"),
    *(c for c in FEATURE_TABLE.cols if c.name in (
        "pair_id", "base_latent", "tuned_latent", "class", "type", "delta_matched", "delta_ci_low", "delta_ci_high",
        "change_pct_matched", "relative_change_matched", "p_value", "q_value", "significant", "beyond_seed_noise",
        "base_fin_score", "tuned_fin_score", "specialization_change")),
), "matched pairs ranked by delta_matched")
TOP_FEATURES = Schema(DeltasFiles.TOP_FEATURES, (
    Col("model", "str", "base or tuned SAE"),
    Col("rank", "int", "rank by fin - gen among its significantly financial latents"),
    Col("latent", "int", "latent index"),
    Col("class", "str", "stage 02 class"),
    Col("fin_score", "float", _SCORE_DOC.format(dom="financial")),
    Col("fin_ci_low", "float", "bootstrap interval"), Col("fin_ci_high", "float", "bootstrap interval"),
    Col("gen_score", "float", _SCORE_DOC.format(dom="general")),
    Col("fin_minus_gen", "float", "fin_score - gen_score"),
    Col("specialization", "float", "(fin - gen) / (fin + gen)"),
    Col("specialization_ci_low", "float", "bootstrap interval"),
    Col("specialization_ci_high", "float", "bootstrap interval"),
    Col("p_value", "float", "domain-label permutation test"),
    Col("q_value", "float", "Benjamini-Hochberg across the SAE's latents"),
    Col("frequency_fin", "float", "mean firing frequency on financial sentences"),
    Col("frequency_gen", "float", "mean firing frequency on general sentences"),
    Col("pair_id", "int", "stage 02 pair, when matched"),
    Col("matched_latent", "int", "its partner in the other SAE"),
    Col("matched_fin_score", "float", "the partner's financial score"),
    Col("delta_matched", "float", "tuned - base financial score of the pair"),
    Col("delta_ci_low", "float", "paired bootstrap interval"), Col("delta_ci_high", "float", "paired bootstrap interval"),
    Col("delta_q_value", "float", "BH q of the pair's delta"),
), "each SAE's most financial latents (the study's tables 2.1 and 2.3)")


@dataclass
class DeltasResult:
    """Stage 03's outputs as read by later stages."""

    summary: dict
    per_category: Table
    feature_table: Table
    top_features: Table
    interesting: dict

    @classmethod
    def load(cls, s3: Path) -> "DeltasResult":
        return cls(read_json(s3 / DeltasFiles.SUMMARY), PER_CATEGORY.read(s3), FEATURE_TABLE.read(s3),
                   TOP_FEATURES.read(s3), read_json(s3 / DeltasFiles.INTERESTING))


def load_contexts(s3: Path, sae: str) -> dict:
    """``contexts/<sae>.json``: per latent, its top-activating contexts (empty when absent)."""
    p = contexts_path(s3, sae)
    return read_json(p) if p.is_file() else {}


# --------------------------------------------------------------------------------------------
# 03_causal
# --------------------------------------------------------------------------------------------
_EFFECT_DOC = ("{dom}: mean change of the measure on {what} (intervened - clean; MLM: nats per scored token, "
               "cls: KL per document)")
EFFECTS = Schema(CausalFiles.EFFECTS, (
    Col("sae", "str", "SAE whose latent is changed (the tuned model's SAE, or planted for the positive control)"),
    Col("model", "str", "model it is spliced into: tuned, or planted"),
    Col("latent", "int", "latent index in that SAE"),
    Col("role", "str", "flagged (stage 03's ranking), random (frequency-matched null) or planted (positive control)"),
    Col("rank", "int", "position among the flagged latents (1 = first); blank otherwise"),
    Col("intervention", "str", "ablate (latent set to 0) or patch (set to the value the base model's activation "
                               "gives it)"),
    Col("measure", "str", "mlm_loss: masked-LM cross-entropy; kl: KL(clean || intervened) of the classifier"),
    Col("scored", "str", "probe_mask: the probe's fixed seeded mask; planted_tokens: only the planted words masked; "
                         "cls: the classifier output of each sentence"),
    Col("firing_frequency", "float", "fraction of the scored input's kept tokens on which the latent fires"),
    Col("frequency_decile", "int", "decile (0-9) of that frequency among the SAE's live latents"),
    Col("auroc", "float", "planted SAE only: AUROC of the latent for the planted tokens in planted probe sentences"),
    Col("docs_touched", "float", "fraction of the scored documents whose block output the intervention changed"),
    Col("fin_effect", "float", _EFFECT_DOC.format(dom="financial", what="financial probe sentences")),
    Col("fin_ci_low", "float", "cluster-bootstrap interval"), Col("fin_ci_high", "float", "cluster-bootstrap interval"),
    Col("gen_effect", "float", _EFFECT_DOC.format(dom="general", what="general probe sentences")),
    Col("gen_ci_low", "float", "cluster-bootstrap interval"), Col("gen_ci_high", "float", "cluster-bootstrap interval"),
    Col("diff_effect", "float", "fin_effect - gen_effect: how much more the latent matters on financial text"),
    Col("diff_ci_low", "float", "cluster-bootstrap interval"),
    Col("diff_ci_high", "float", "cluster-bootstrap interval"),
    Col("fin_flip_rate", "float", "cls only: share of financial sentences whose predicted label changes"),
    Col("gen_flip_rate", "float", "cls only: share of general sentences whose predicted label changes"),
    Col("fin_null_percentile", "float", "percentile of fin_effect among the random latents' (same intervention)"),
    Col("fin_null_p", "float", "empirical p-value of fin_effect against the random latents': two-sided (|effect|); "
                               "planted: one-sided, larger loss"),
    Col("fin_null_q", "float", "Benjamini-Hochberg of fin_null_p across the flagged latents (same intervention)"),
    Col("diff_null_percentile", "float", "percentile of diff_effect among the random latents'"),
    Col("diff_null_p", "float", "two-sided empirical p-value of |diff_effect| against the random latents'"),
    Col("diff_null_q", "float", "Benjamini-Hochberg of diff_null_p across the flagged latents"),
    Col("beats_null_fin", "bool", "fin_null_p <= causal.alpha and the fin interval excludes 0"),
    Col("beats_null_diff", "bool", "diff_null_p <= causal.alpha and the diff interval excludes 0"),
), "one row per latent and intervention: effects with intervals and their place in the random-latent null")


@dataclass
class CausalResult:
    """Stage 03_causal's outputs as read by the report."""

    effects: Table
    summary: dict

    @classmethod
    def load(cls, s3c: Path) -> "CausalResult":
        return cls(EFFECTS.read(s3c), read_json(s3c / CausalFiles.SUMMARY))


# --------------------------------------------------------------------------------------------
# 04_interpret
# --------------------------------------------------------------------------------------------
LABELS = Schema(InterpretFiles.LABELS, (
    Col("pair_id", "int", "stage 02 pair (blank for an unmatched latent)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    Col("class", "str", "stage 02 class"),
    Col("decoder_cosine", "float", "stage 02 decoder cosine of the pair"),
    Col("base_label", "str", "Delphi explanation of the base latent ([failed: reason] when none parsed)"),
    Col("tuned_label", "str", "Delphi explanation of the tuned latent"),
    Col("base_detection", "float", "detection balanced accuracy of the base label"),
    Col("base_fuzzing", "float", "fuzzing balanced accuracy of the base label"),
    Col("tuned_detection", "float", "detection balanced accuracy of the tuned label"),
    Col("tuned_fuzzing", "float", "fuzzing balanced accuracy of the tuned label"),
    Col("base_detection_shuffled", "float", "the base latent scored with another latent's label"),
    Col("tuned_detection_shuffled", "float", "the tuned latent scored with another latent's label"),
    Col("delta_matched", "float", "stage 03 delta of the pair"),
    Col("delta_ci_low", "float", "stage 03 interval"), Col("delta_ci_high", "float", "stage 03 interval"),
    Col("q_value", "float", "stage 03 BH q of the pair's delta"),
), "labels of the chosen latents side by side, with scores and the shuffled floor", float_digits=None)
_SUMMARY_SCORE_COLS = tuple(
    Col(f"{scorer}_{metric}{suffix}", "float", doc)
    for scorer in ("detection", "fuzzing")
    for metric, suffix, doc in (("accuracy", "_mean", "mean over labelled latents"),
                                ("accuracy", "_shuffled_mean", "the same with shuffled labels"),
                                ("f1_score", "_mean", "mean F1 over labelled latents"),
                                ("f1_score", "_shuffled_mean", "the same with shuffled labels"),
                                ("beats", "_shuffled_fraction", "share of latents whose label beats its shuffled one"))
)
LABELS_SUMMARY = Schema(InterpretFiles.LABELS_SUMMARY, (
    Col("sae", "str", "base or tuned"),
    Col("latents", "int", "latents chosen for labelling"),
    Col("labelled", "int", "latents with a parsed label"),
    Col("failed", "int", "latents whose explanation failed (not dead)"),
    Col("dead", "int", "latents that never fire on the training split"),
    Col("retried", "int", "latents that needed a retry"),
    *_SUMMARY_SCORE_COLS,
), "label quality per SAE", float_digits=None)


@dataclass
class InterpretResult:
    """Stage 04's outputs as read by the report."""

    labels: Table
    labels_summary: Table
    summary: dict

    @classmethod
    def load(cls, s4: Path) -> "InterpretResult":
        return cls(LABELS.read(s4), LABELS_SUMMARY.read(s4), read_json(s4 / InterpretFiles.SUMMARY))


ALL_SCHEMAS = (STEPS, LATENTS, PAIRS, NULL_PAIRS, PER_CATEGORY, FEATURE_TABLE, RANKING, TOP_FEATURES, EFFECTS, LABELS,
               LABELS_SUMMARY)
