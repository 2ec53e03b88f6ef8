"""The typed outputs of the two stage-03 analyses, 03_activation_deltas (per-latent activation changes on the
probe, the ranking and the feature tables, activation histograms, top contexts) and 03_causal (interventions on
latents against a random-latent null): their CSV schemas and paired readers.

Part of :mod:`featevo.results`, which re-exports every public name here; import them from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from featevo.io import atomic_write_json, read_json
from featevo.layout import CausalFiles, DeltasFiles, contexts_path
from featevo.tables import Col, Schema, Table

# --------------------------------------------------------------------------------------------
# 03_activation_deltas
# --------------------------------------------------------------------------------------------
_SCORE_DOC = "mean over {dom} probe sentences of the latent's sentence-mean activation"
_CI = "cluster-bootstrap percentile interval (templates resampled within each domain)"
PER_CATEGORY = Schema(DeltasFiles.PER_CATEGORY, (
    Col("model", "str", "SAE (replicate 0 of each model: base, tuned, control, planted)"),
    Col("latent", "int", "latent index"),
    Col("category", "str", "probe category"),
    Col("domain", "str", "the category's domain: data.target_domain or data.reference_domain"),
    Col("mean_activation", "float", "mean over the category's sentences of the sentence-mean activation"),
    Col("frequency", "float", "mean over the category's sentences of the fraction of tokens it fires on"),
    Col("n_sentences", "int", "probe sentences in the category"),
), "per-latent, per-category activation on the probe set")
_DID_COLS = (
    Col("did", "float", "domain-specific change (primary estimand): mean over target-domain sentences "
                        "of D = x_b - x_a minus its mean over reference-domain sentences"),
    Col("did_ci_low", "float", _CI), Col("did_ci_high", "float", _CI),
    Col("did_se", "float", "cluster-bootstrap standard error of did"),
    Col("z", "float", "did / did_se (0 when the SE is 0)"),
    Col("p_sampling", "float", "two-sided cluster permutation test of did (template domain labels permuted)"),
    Col("p_calibrated", "float", "two-sided empirical p of z against the z of every matched pair of the seed "
                                 "comparisons (for a seed comparison: of the other seed comparisons)"),
    Col("q_calibrated", "float", "Benjamini-Hochberg of p_calibrated within the comparison"),
    Col("discovered", "bool", "q_calibrated <= alpha: a domain-specific change beyond seed noise"),
)
PAIR_EFFECTS = Schema(DeltasFiles.PAIR_EFFECTS, (
    Col("comparison", "str", "<sae_a>~<sae_b> (stage 02)"),
    Col("family", "str", "fine-tuning / seed / control / planted"),
    Col("sae_a", "str", "first SAE (on its own model's activations)"), Col("sae_b", "str", "second SAE"),
    Col("pair_id", "int", "stage 02 pair within the comparison"),
    Col("latent_a", "int", "latent of sae_a"), Col("latent_b", "int", "latent of sae_b"),
    Col("class", "str", "stage 02 class (shared or shifted)"),
    *_DID_COLS,
    Col("delta_target", "float", "secondary: fin score of latent_b minus fin score of latent_a"),
    Col("delta_reference", "float", "secondary: gen score of latent_b minus gen score of latent_a"),
    Col("specialization_change", "float", "secondary: spec(latent_b) - spec(latent_a), spec = (target - reference) / "
                                          "(target + reference + 1e-8)"),
    Col("z_selection", "float", "z on half A of the templates (selection half)"),
    Col("selected", "bool", "among the deltas.top_n pairs of its comparison with the largest |z_selection|"),
    Col("did_held_out", "float", "did on half B of the templates (estimation half)"),
    Col("z_held_out", "float", "z on half B"),
    Col("p_held_out", "float", "calibrated p of z_held_out against the seed comparisons' half-B z"),
    Col("q_held_out", "float", "BH of p_held_out among the selected pairs of the comparison"),
    Col("confirmed", "bool", "selected and q_held_out <= alpha"),
), "every comparison's matched pairs: domain-specific change, its calibration and the held-out check")
COMPARISON_COUNTS = Schema(DeltasFiles.COMPARISON_COUNTS, (
    Col("comparison", "str", "<sae_a>~<sae_b>"), Col("family", "str", "comparison family"),
    Col("sae_a", "str", "first SAE"), Col("sae_b", "str", "second SAE"),
    Col("matched_pairs", "int", "stage 02 pairs of class shared or shifted"),
    Col("discoveries", "int", "pairs with q_calibrated <= alpha"),
    Col("toward_target", "int", "discoveries with did > 0"),
    Col("toward_reference", "int", "discoveries with did < 0"),
    Col("sampling_discoveries", "int", "pairs with BH(p_sampling) <= alpha (sampling noise only, not seed noise)"),
    Col("mean_abs_z", "float", "mean |z| over the matched pairs"),
    Col("null_pairs", "int", "seed-pair z values its calibrated p-values were computed against"),
    Col("min_p", "float", "smallest attainable calibrated p, 1 / (null_pairs + 1)"),
    Col("z_needed", "float", "the largest |z| of that null: a pair needs |z| above it for the smallest p"),
    Col("lone_discovery_attainable", "bool", "min_p <= alpha / matched_pairs: one pair can be a discovery alone"),
    Col("confirmed", "int", "selected pairs confirmed on the held-out half"),
), "per comparison: counts of domain-specific changes, calibrated against seed pairs")
HELD_OUT = Schema(DeltasFiles.HELD_OUT, (
    Col("rank", "int", "rank by |z| on half A (selection)"),
    Col("pair_id", "int", "stage 02 pair"),
    Col("base_latent", "int", "base SAE latent"), Col("tuned_latent", "int", "tuned SAE latent"),
    Col("class", "str", "stage 02 class"),
    Col("z_selection", "float", "z on half A, where the pair was selected"),
    Col("did_held_out", "float", "did on half B (held-out templates)"),
    Col("did_ci_low", "float", _CI + ", half B"), Col("did_ci_high", "float", _CI + ", half B"),
    Col("z_held_out", "float", "z on half B"),
    Col("p_held_out", "float", "calibrated p on half B (against the seed comparisons' half-B z)"),
    Col("q_held_out", "float", "BH among the selected pairs"),
    Col("confirmed", "bool", "q_held_out <= alpha"),
    Col("delta_target_held_out", "float", "secondary: target-score change on half B"),
    Col("delta_reference_held_out", "float", "secondary: reference-score change on half B"),
), "primary comparison: the top pairs selected on half of the templates, estimated on the other half")
DOMAIN_LATENTS = Schema(DeltasFiles.DOMAIN_LATENTS, (
    Col("sae", "str", "SAE name"), Col("model", "str", "model it encodes"), Col("replicate", "int", "seed index"),
    Col("live_latents", "int", "latents firing on the probe set"),
    Col("target_latents", "int", "target - reference > 0 with BH q <= alpha (cluster permutation of template labels)"),
    Col("reference_latents", "int", "target - reference < 0 with BH q <= alpha"),
), "per SAE: latents preferring one domain significantly")
FEATURE_TABLE = Schema(DeltasFiles.FEATURE_TABLE, (
    Col("pair_id", "int", "stage 02 pair (blank for unmatched latents)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    Col("class", "str", "stage 02 class"),
    Col("type", "str", "toward-target / toward-reference (a calibrated discovery) / stable(-target|-reference) "
                       "/ <class>(-target|-reference)"),
    Col("decoder_cosine", "float", "stage 02 decoder cosine"),
    Col("activation_correlation", "float", "stage 02 activation correlation"),
    *_DID_COLS,
    Col("base_target_score", "float", _SCORE_DOC.format(dom="target-domain") + " (base latent)"),
    Col("base_target_ci_low", "float", _CI), Col("base_target_ci_high", "float", _CI),
    Col("tuned_target_score", "float", _SCORE_DOC.format(dom="target-domain") + " (tuned latent)"),
    Col("tuned_target_ci_low", "float", _CI), Col("tuned_target_ci_high", "float", _CI),
    Col("base_reference_score", "float", _SCORE_DOC.format(dom="reference-domain") + " (base latent)"),
    Col("tuned_reference_score", "float", _SCORE_DOC.format(dom="reference-domain") + " (tuned latent)"),
    Col("delta_target", "float", "secondary: tuned_target_score - base_target_score"),
    Col("delta_target_ci_low", "float", _CI), Col("delta_target_ci_high", "float", _CI),
    Col("delta_reference", "float", "secondary: tuned_reference_score - base_reference_score"),
    Col("delta_reference_ci_low", "float", _CI), Col("delta_reference_ci_high", "float", _CI),
    Col("base_specialization", "float", "(target - reference) / (target + reference + 1e-8)"),
    Col("base_specialization_ci_low", "float", _CI), Col("base_specialization_ci_high", "float", _CI),
    Col("tuned_specialization", "float", "(target - reference) / (target + reference + 1e-8)"),
    Col("tuned_specialization_ci_low", "float", _CI), Col("tuned_specialization_ci_high", "float", _CI),
    Col("specialization_change", "float", "tuned - base specialization"),
    Col("specialization_change_ci_low", "float", _CI), Col("specialization_change_ci_high", "float", _CI),
    Col("base_domain_q", "float", "BH q of the base latent's target-vs-reference domain test"),
    Col("tuned_domain_q", "float", "BH q of the tuned latent's target-vs-reference domain test"),
), "the primary comparison (base vs tuned, replicate 0): matched pairs first, then unmatched latents")
_FEATURE_COLS = {c.name: c for c in FEATURE_TABLE.cols}
RANKING = Schema(DeltasFiles.RANKING, (
    Col("rank", "int", "1 = most significant calibrated domain-specific change (q_calibrated, then |z|)"),
    *(_FEATURE_COLS[n] for n in (
        "pair_id", "base_latent", "tuned_latent", "class", "type", "did", "did_ci_low", "did_ci_high", "z",
        "p_sampling", "p_calibrated", "q_calibrated", "discovered", "delta_target", "delta_reference",
        "base_target_score",
        "tuned_target_score", "specialization_change")),
), "the primary comparison's matched pairs ranked by calibrated domain-specific change")
TOP_FEATURES = Schema(DeltasFiles.TOP_FEATURES, (
    Col("model", "str", "base or tuned SAE"),
    Col("rank", "int", "rank by target - reference among its significantly target-domain latents"),
    Col("latent", "int", "latent index"),
    Col("class", "str", "stage 02 class"),
    Col("target_score", "float", _SCORE_DOC.format(dom="target-domain")),
    Col("target_ci_low", "float", _CI), Col("target_ci_high", "float", _CI),
    Col("reference_score", "float", _SCORE_DOC.format(dom="reference-domain")),
    Col("target_minus_reference", "float", "target_score - reference_score"),
    Col("specialization", "float", "(target - reference) / (target + reference + 1e-8)"),
    Col("specialization_ci_low", "float", _CI), Col("specialization_ci_high", "float", _CI),
    Col("p_value", "float", "cluster permutation test of target - reference (template domain labels permuted)"),
    Col("q_value", "float", "Benjamini-Hochberg across the SAE's latents"),
    Col("frequency_target", "float", "mean firing frequency on target-domain sentences"),
    Col("frequency_reference", "float", "mean firing frequency on reference-domain sentences"),
    Col("pair_id", "int", "stage 02 pair, when matched"),
    Col("matched_latent", "int", "its partner in the other SAE"),
    Col("matched_target_score", "float", "the partner's target score"),
    Col("did", "float", "domain-specific change of the pair (tuned minus base)"),
    Col("did_ci_low", "float", _CI), Col("did_ci_high", "float", _CI),
    Col("q_calibrated", "float", "seed-calibrated BH q of the pair's change"),
), "each SAE's most target-domain latents (the study's tables 2.1 and 2.3)")


@dataclass
class DeltasResult:
    """Stage 03's outputs as read by later stages."""

    summary: dict
    per_category: Table
    feature_table: Table
    top_features: Table
    interesting: dict
    pair_effects: Table
    comparison_counts: Table
    held_out: Table
    domain_latents: Table

    @classmethod
    def load(cls, s3: Path) -> "DeltasResult":
        return cls(read_json(s3 / DeltasFiles.SUMMARY), PER_CATEGORY.read(s3), FEATURE_TABLE.read(s3),
                   TOP_FEATURES.read(s3), read_json(s3 / DeltasFiles.INTERESTING), PAIR_EFFECTS.read(s3),
                   COMPARISON_COUNTS.read(s3), HELD_OUT.read(s3), DOMAIN_LATENTS.read(s3))

    @property
    def claims(self) -> list[dict]:
        """Stage 03's claims (featevo/claims.py dicts, each with its ``lens`` and ``role``), in summary order."""
        return list(self.summary.get("claims") or [])


HISTOGRAMS = Schema(DeltasFiles.HISTOGRAMS, (
    Col("sae", "str", "base or tuned SAE"),
    Col("latent", "int", "latent index"),
    Col("tokens", "int", "stage 01 eval tokens encoded (the first ones, at most featevo.histograms.MAX_ROWS)"),
    Col("fires", "int", "of those, the tokens it fires on (activation > 0)"),
    Col("max_act", "float", "its largest activation (activation x decoder norm); 0 when it never fires"),
    Col("counts", "str", "its nonzero activations counted in featevo.histograms.BINS equal bins from 0 to max_act, "
        "space-separated; empty when it never fires"),
), "per base and tuned latent: histogram of its activations on stage 01's eval split (the report's feature cards)",
    float_digits=None)


def load_histograms(s3: Path) -> dict[tuple[str, int], dict]:
    """``activation_histograms.csv`` by (sae, latent) (empty when absent: a stage 03 from before it existed)."""
    if not (Path(s3) / DeltasFiles.HISTOGRAMS).is_file():
        return {}
    return {(r["sae"], r["latent"]): r for r in HISTOGRAMS.read(s3).rows()}


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
    Col("target_effect", "float", _EFFECT_DOC.format(dom="target-domain", what="target-domain probe sentences")),
    Col("target_ci_low", "float", "cluster-bootstrap interval"),
    Col("target_ci_high", "float", "cluster-bootstrap interval"),
    Col("reference_effect", "float", _EFFECT_DOC.format(dom="reference-domain",
                                                         what="reference-domain probe sentences")),
    Col("reference_ci_low", "float", "cluster-bootstrap interval"),
    Col("reference_ci_high", "float", "cluster-bootstrap interval"),
    Col("diff_effect", "float", "target_effect - reference_effect: how much more the latent matters on target-domain "
                                      "text"),
    Col("diff_ci_low", "float", "cluster-bootstrap interval"),
    Col("diff_ci_high", "float", "cluster-bootstrap interval"),
    Col("target_flip_rate", "float", "cls only: share of target-domain sentences whose predicted label changes"),
    Col("reference_flip_rate", "float", "cls only: share of reference-domain sentences whose predicted label changes"),
    Col("target_null_percentile", "float", "percentile of target_effect among the random latents' (same intervention)"),
    Col("target_null_p", "float", "empirical p-value of target_effect against the random latents': two-sided "
                                  "(|effect|); planted: one-sided, larger loss"),
    Col("target_null_q", "float", "Benjamini-Hochberg of target_null_p across the flagged latents (same intervention)"),
    Col("diff_null_percentile", "float", "percentile of diff_effect among the random latents'"),
    Col("diff_null_p", "float", "two-sided empirical p-value of |diff_effect| against the random latents'"),
    Col("diff_null_q", "float", "Benjamini-Hochberg of diff_null_p across the flagged latents"),
    Col("beats_null_target", "bool", "target_null_p <= causal.alpha and the target interval excludes 0"),
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

    def save(self, s3c: Path) -> None:
        """Write ``effects.csv`` and ``summary.json`` into ``s3c``."""
        EFFECTS.write(s3c, self.effects)
        atomic_write_json(s3c / CausalFiles.SUMMARY, self.summary)

    @property
    def claims(self) -> list[dict]:
        """Stage 03_causal's claims (featevo/claims.py dicts, each with its ``lens`` and ``role``)."""
        return list(self.summary.get("claims") or [])
