"""The typed outputs of every stage: CSV schemas (column names, types and meanings, defined once) and
paired readers for the JSON files, so that stages hand each other typed values, never re-parsed dicts
of strings.

Each stage writes its tables with ``SCHEMA.write(folder, rows)``; later stages and the report read
them with ``SCHEMA.read(folder)`` or the ``load_*`` functions below. The outputs of the two stage-03 analyses
(03_activation_deltas, 03_causal) are defined in :mod:`featevo.results_stage03` and re-exported here, so every
stage's result is imported from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featevo.io import atomic_write_json, read_json
from featevo.layout import (
    CompareFiles, DiffingFiles, InterpretFiles, TrainFiles, TwinFiles,
)
from featevo.results_stage03 import (  # noqa: F401 - stage 03's outputs, re-exported: import them from here
    COMPARISON_COUNTS, DOMAIN_LATENTS, EFFECTS, FEATURE_TABLE, HELD_OUT, HISTOGRAMS, PAIR_EFFECTS, PER_CATEGORY,
    RANKING, TOP_FEATURES, CausalResult, DeltasResult, load_contexts, load_histograms,
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
    """``01_twin/twin_report.json``: head fit, training logs, drift per block and the windows' token accounting
    (the MLM loss on the probe is ``03_activation_deltas/twin_eval.json``)."""
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
    Col("sae", "str", "base or tuned (the primary comparison's SAEs, replicate 0)"),
    Col("latent", "int", "latent index in that SAE"),
    Col("class", "str", "shared / shifted / new / lost / split / dead (featevo/matching.py)"),
    Col("firing_frequency", "float", "fraction of the comparison tokens on which it fires"),
    Col("match_decoder", "int", "its decoder-Hungarian partner in the other SAE (blank: dead)"),
    Col("decoder_cosine", "float", "decoder cosine to that partner"),
    Col("pair_activation_correlation", "float", "activation correlation with that partner"),
    Col("best_decoder_cosine", "float", "best decoder cosine to any live latent of the other SAE"),
    Col("match_activation", "int", "its activation-correlation Hungarian partner"),
    Col("activation_correlation", "float", "activation correlation with that partner"),
    Col("matches_agree", "bool", "the two assignments give the same partner"),
), "every latent of the primary comparison's base and tuned SAEs with its class and partners")
PAIRS = Schema(CompareFiles.PAIRS, (
    Col("pair_id", "int", "row number of the pair (stable across stages 02-05)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    *_PAIR_COLS,
), "decoder-Hungarian pairs of live base and tuned latents (the primary comparison)")
ALL_PAIRS = Schema(CompareFiles.ALL_PAIRS, (
    Col("comparison", "str", "<sae_a>~<sae_b>"),
    Col("family", "str", "fine-tuning / seed / control / planted / wide-seed (featevo.layout.FAMILIES)"),
    Col("sae_a", "str", "first SAE (its latents are the pair's side a)"),
    Col("sae_b", "str", "second SAE"),
    Col("pair_id", "int", "row number of the pair within its comparison (the primary's equals pairs.csv)"),
    Col("latent_a", "int", "latent of sae_a"),
    Col("latent_b", "int", "latent of sae_b"),
    *_PAIR_COLS,
), "the decoder-Hungarian pairs of every comparison of the run")
COMPARISONS = Schema(CompareFiles.COMPARISONS, (
    Col("comparison", "str", "<sae_a>~<sae_b>"),
    Col("family", "str", "fine-tuning / seed / control / planted / wide-seed"),
    Col("sae_a", "str", "first SAE"), Col("sae_b", "str", "second SAE"),
    Col("d_sae_a", "int", "latents of sae_a"), Col("d_sae_b", "int", "latents of sae_b"),
    Col("live_a", "int", "latents of sae_a that fire on the comparison tokens"),
    Col("live_b", "int", "latents of sae_b that fire on the comparison tokens"),
    Col("pairs", "int", "decoder-Hungarian pairs (live x live)"),
    Col("matched", "int", "pairs of class shared or shifted"),
    Col("shared", "int", "pairs of class shared"),
    Col("matched_fraction", "float", "matched / pairs"),
    Col("shared_fraction", "float", "shared / pairs"),
    Col("mean_pair_cosine", "float", "mean decoder cosine of the pairs"),
    Col("agreement", "float", "fraction of live sae_a latents whose decoder and activation partners agree"),
    Col("new", "int", "live sae_b latents without any decoder cosine >= new_threshold to sae_a"),
    Col("lost", "int", "live sae_a latents without any decoder cosine >= new_threshold to sae_b"),
    Col("split_a", "int", "sae_a latents of class split"), Col("split_b", "int", "sae_b latents of class split"),
    Col("dead_a", "int", "sae_a latents that never fire"), Col("dead_b", "int", "sae_b latents that never fire"),
    Col("above_chance_fraction", "float", "fraction of live latents (both sides) whose best decoder cosine to "
                                          "the other SAE exceeds chance_p99"),
    Col("chance_p99", "float", "99th percentile of the best cosine of a random direction to sae_b's decoder"),
    Col("best_cosine_median_a", "float", "median best decoder cosine of live sae_a latents to sae_b"),
    Col("best_cosine_median_b", "float", "median best decoder cosine of live sae_b latents to sae_a"),
), "one row per comparison: the statistics each family of comparisons is summarised and tested on")
MATCHED_CLASSES = ("shared", "shifted")


@dataclass(frozen=True)
class MatchedPairs:
    """Matched pairs (class shared or shifted) of one comparison as columns, in file order."""

    pair_id: np.ndarray
    a: np.ndarray                       # latent of the comparison's first SAE
    b: np.ndarray                       # latent of its second SAE
    cls: np.ndarray
    decoder_cosine: np.ndarray
    activation_correlation: np.ndarray

    def __len__(self) -> int:
        return len(self.pair_id)

    @classmethod
    def from_rows(cls, rows: list[dict], a: str = "latent_a", b: str = "latent_b") -> "MatchedPairs":
        def col(name, dtype):
            return np.array([r[name] for r in rows], dtype=dtype)

        return cls(col("pair_id", np.int64), col(a, np.int64), col(b, np.int64), col("class", object),
                   col("decoder_cosine", np.float64), col("activation_correlation", np.float64))


@dataclass
class CompareResult:
    """Stage 02's outputs as read by later stages."""

    latents: Table
    pairs: Table
    all_pairs: Table
    comparisons: Table
    summary: dict

    @classmethod
    def load(cls, s2: Path) -> "CompareResult":
        return cls(LATENTS.read(s2), PAIRS.read(s2), ALL_PAIRS.read(s2), COMPARISONS.read(s2),
                   read_json(s2 / CompareFiles.SUMMARY))

    @property
    def claims(self) -> list[dict]:
        """Stage 02's claims (featevo/claims.py dicts, each with its ``lens`` and ``role``), in summary order."""
        return list(self.summary.get("claims") or [])

    def matched_pairs(self) -> list[dict]:
        """The primary comparison's matched pairs (rows of pairs.csv)."""
        return [p for p in self.pairs if p["class"] in MATCHED_CLASSES]

    def matched(self, comparison: str | None = None) -> MatchedPairs:
        """The matched pairs of ``comparison`` (``<a>~<b>``; None: the primary comparison, from pairs.csv)."""
        if comparison is None:
            return MatchedPairs.from_rows(self.matched_pairs(), "base_latent", "tuned_latent")
        return MatchedPairs.from_rows([p for p in self.all_pairs if p["comparison"] == comparison
                                       and p["class"] in MATCHED_CLASSES])

    def comparison_rows(self) -> list[dict]:
        return self.comparisons.rows()

    def latent_class(self) -> dict[tuple[str, int], str]:
        return {(r["sae"], r["latent"]): r["class"] for r in self.latents}

    def unmatched_latents(self, sae: str) -> Table:
        """The latents of SAE ``sae`` (base or tuned) without a matched partner, in file order."""
        return Table(LATENTS, [r for r in self.latents if r["sae"] == sae and r["class"] not in MATCHED_CLASSES])


# --------------------------------------------------------------------------------------------
# 02_model_diffing
# --------------------------------------------------------------------------------------------
STAGEWISE_STATS = {
    "rotation": ("1 - cosine of the latent's decoder row after continued training with the row of the start SAE "
                 "(mean over the contrast's data orders)", False),
    "encoder_rotation": ("1 - cosine of the latent's encoder column with the start SAE's", False),
    "freq_change": ("firing frequency after (continued SAE on the target model's held-out rows) minus before "
                    "(start SAE on the start model's rows of the same tokens)", True),
    "act_change": ("mean activation after minus before (same rows; activation of a unit-norm decoder row)", True),
}
"""Stage-wise statistic -> (meaning, tested two-sided)."""


def _stagewise_stat_cols() -> tuple[Col, ...]:
    cols: list[Col] = []
    for name, (doc, two_sided) in STAGEWISE_STATS.items():
        side = "two-sided (|excess|)" if two_sided else "one-sided (excess > 0)"
        cols += [
            Col(name, "float", doc),
            Col(f"{name}_null_mean", "float", "the same statistic under the contrast's null, mean over the null's "
                                              "reference orders (blank for a null's own rows)"),
            Col(f"{name}_null_max", "float", "its maximum over the null's reference orders"),
            Col(f"{name}_excess", "float", f"{name} - {name}_null_mean"),
            Col(f"{name}_p", "float", f"empirical p-value of the excess against the pooled leave-one-out null "
                                      f"(every null order minus the mean of the other null orders, all latents), "
                                      f"{side}; conservative"),
        ]
    return tuple(cols)


STAGEWISE_LATENTS = Schema(DiffingFiles.STAGEWISE_LATENTS, (
    Col("contrast", "str", "tuned / control / planted (main contrasts), null / planted_null (the nulls: mean of "
                           "their reference orders), null_held_out / planted_null_held_out (one more null order "
                           "set against the reference orders: what the flag rule gives when nothing changed), "
                           "and the 2x2 cells null_reference / data / model / both"),
    Col("start_sae", "str", "stage 01 SAE that continued training starts from"),
    Col("target_model", "str", "model whose activations it continued on"),
    Col("rows", "str", "all, target or reference (domain role): the documents whose token rows it continued on "
                       "(and was measured on)"),
    Col("text", "str", "corpus (stage 01's tokens) or planted (the corpus with the plant applied, as the planted "
                       "twin read it; diffing.planted_text)"),
    Col("reference", "str", "the null contrast this one is set against (blank for a null)"),
    Col("orders", "int", "data orders averaged"),
    Col("latent", "int", "latent index (the same latent in the start and the continued SAE)"),
    *_stagewise_stat_cols(),
    Col("rotation_sd", "float", "standard deviation of the rotation across the data orders"),
    Col("freq_before", "float", "firing frequency of the start SAE on the start model's held-out rows"),
    Col("freq_after", "float", "firing frequency of the continued SAE on the target model's rows of the same tokens"),
    Col("act_before", "float", "mean activation before"),
    Col("act_after", "float", "mean activation after"),
    Col("rotation_q", "float", "Benjamini-Hochberg q-value of rotation_p across the contrast's latents"),
    Col("flagged", "bool", "rotation_p <= diffing.alpha: rotated beyond the null (per-latent level: the null "
                           "expects alpha times the number of latents; see the held-out null rows)"),
    Col("rank_excess", "int", "rank of rotation_excess within the contrast (1 = largest)"),
    Col("rotation_minus_control", "float", "tuned rows only: rotation under tuned minus rotation under control "
                                           "(what moved because of target-domain text rather than any fine-tuning)"),
    Col("rank_domain", "int", "tuned rows only: rank of rotation_minus_control (1 = largest)"),
), "stage-wise model diffing: every latent of every contrast, against its null")

CROSSCODER_LATENTS = Schema(DiffingFiles.CROSSCODER_LATENTS, (
    Col("pair", "str", "<model a>~<model b>: the crosscoder (base~tuned, base~control, tuned~planted; base~base is "
                       "the null: one model twice)"),
    Col("model_a", "str", "model of the first half of the input and decoder"),
    Col("model_b", "str", "model of the second half"),
    Col("text", "str", "corpus, or planted: the corpus with the plant applied (tuned~planted, diffing.planted_text)"),
    Col("latent", "int", "crosscoder latent"),
    Col("norm_a", "float", "norm of the latent's model-a decoder half (each model's activations scaled to mean norm "
                           "sqrt(d))"),
    Col("norm_b", "float", "norm of its model-b decoder half"),
    Col("rho", "float", "relative decoder norm |d_b| / (|d_a| + |d_b|): 0 a-only, 1 b-only, 0.5 shared"),
    Col("rank_rho", "int", "rank of rho (1 = most b-leaning): the lens's native change ranking"),
    Col("cosine", "float", "cosine of the two decoder halves (did a shared latent keep its direction)"),
    Col("class", "str", "a-only (rho <= diffing.crosscoder.model_only_threshold), b-only (rho >= 1 - threshold) or "
                        "shared"),
    Col("firing_frequency", "float", "fraction of the held-out rows on which it fires"),
    Col("mean_activation", "float", "mean activation over those rows"),
    Col("beta_error_a", "float", "Latent Scaling: least-squares scale of the latent's own-model decoder half (probe) "
                                 "times its activation fitted to model a's activation minus every other latent's "
                                 "reconstruction"),
    Col("beta_error_b", "float", "the same for model b"),
    Col("beta_recon_a", "float", "Latent Scaling: the probe's scale fitted to the crosscoder's reconstruction of a"),
    Col("beta_recon_b", "float", "the same for b"),
    Col("nu_error", "float", "beta_error of the other model / of the latent's own model (own: b if rho >= 0.5): near "
                             "0 the other model's activations do not carry the latent (truly model-specific), near "
                             "1 they do (Latent Decoupling)"),
    Col("nu_recon", "float", "the same ratio of beta_recon (near 1: Complete Shrinkage)"),
    Col("confirmed", "bool", "a-only or b-only and both nu <= diffing.crosscoder.latent_scaling_max_ratio: "
                             "model-specific after Latent Scaling"),
), "BatchTopK crosscoders: every latent with its relative decoder norm, class and Latent Scaling")


def load_diffing_summary(s2: Path) -> dict:
    """``02_model_diffing/summary.json``: per lens its contrasts, flag counts, nulls and timings."""
    return read_json(s2 / DiffingFiles.SUMMARY)


def load_planted(s2: Path) -> dict:
    """``02_model_diffing/planted.json``: per lens the best latent for the planted tokens, AUROC and rank."""
    return read_json(s2 / DiffingFiles.PLANTED)


@dataclass
class DiffingResult:
    """Stage 02_model_diffing's outputs: its summary (with its ``claims``), the planted control and the lens tables."""

    summary: dict
    planted: dict
    stagewise: Table
    crosscoder: Table

    @classmethod
    def load(cls, s2: Path) -> "DiffingResult":
        planted = load_planted(s2) if (s2 / DiffingFiles.PLANTED).is_file() else {"available": False}
        return cls(load_diffing_summary(s2), planted, STAGEWISE_LATENTS.read(s2), CROSSCODER_LATENTS.read(s2))

    def save(self, s2: Path) -> None:
        """Write the two tables, ``planted.json`` and ``summary.json`` (strict JSON: no NaN) into ``s2``."""
        STAGEWISE_LATENTS.write(s2, self.stagewise)
        CROSSCODER_LATENTS.write(s2, self.crosscoder)
        atomic_write_json(s2 / DiffingFiles.PLANTED, self.planted)
        atomic_write_json(s2 / DiffingFiles.SUMMARY, self.summary)

    @property
    def claims(self) -> list[dict]:
        """Stage 02_model_diffing's claims (featevo/claims.py dicts, each with its ``lens`` and ``role``)."""
        return list(self.summary.get("claims") or [])


# --------------------------------------------------------------------------------------------
# 04_interpret
# --------------------------------------------------------------------------------------------
_LABEL_SIDE_COLS = tuple(
    col
    for side in ("base", "tuned")
    for col in (
        Col(f"{side}_top_tokens_label", "str", "the baseline label: the latent's top activating tokens"),
        Col(f"{side}_score_issues", "str", "scorers with no score for this label and why (undefined / failed)"),
        Col(f"{side}_echoes", "str", "the few-shot example of Delphi's explainer prompt the label repeats "
            "(featevo.label_quality; blank: none)"),
        Col(f"{side}_duplicates", "str", "other latents of this SAE with the same (or nearly the same) label"),
        Col(f"{side}_below_floor", "str", "the label scorers on which the label does not beat its floor (own - "
            "floor <= 0), or 'undefined' when none has both; blank: it beats the floor on every one"),
    )
)
LABELS = Schema(InterpretFiles.LABELS, (
    Col("pair_id", "int", "stage 02 pair (blank for an unmatched latent)"),
    Col("base_latent", "int", "base SAE latent"),
    Col("tuned_latent", "int", "tuned SAE latent"),
    Col("class", "str", "stage 02 class"),
    Col("decoder_cosine", "float", "stage 02 decoder cosine of the pair"),
    Col("base_label", "str", "Delphi explanation of the base latent ([failed: reason] when none parsed)"),
    Col("tuned_label", "str", "Delphi explanation of the tuned latent"),
    *_LABEL_SIDE_COLS,
    Col("cross_scorer", "str", "the scorer the cross verdict uses"),
    Col("cross_verdict", "str", "kept: each label beats the partner's floor on the partner's contexts; changed: "
        "neither does; one-way: one does"),
    Col("did", "float", "stage 03 domain-specific change of the pair"),
    Col("did_ci_low", "float", "stage 03 interval"), Col("did_ci_high", "float", "stage 03 interval"),
    Col("q_calibrated", "float", "stage 03 seed-calibrated BH q of the pair's change"),
), "labels of the chosen latents side by side (their scores are rows of scores.csv)", float_digits=None)
SCORES = Schema(InterpretFiles.SCORES, (
    Col("sae", "str", "base or tuned"),
    Col("latent", "int", "the latent"),
    Col("scorer", "str", "the scorer (a name of featevo.scorers.SCORERS)"),
    Col("kind", "str", "own: the latent's own label (a label-free scorer: the latent); floor: mean score of other "
        "latents' labels (interpret.n_shuffled_donors donors), or chance for a label-free scorer; baseline: the "
        "top-token label; partner: the matched partner's label on this latent's contexts"),
    Col("value", "float", "the score (blank: undefined or failed, see labels_comparison.csv's <sae>_score_issues)"),
), "every score of every labelled latent, one row per (latent, scorer, kind): a new scorer adds rows",
    float_digits=None)
LABELS_SUMMARY = Schema(InterpretFiles.LABELS_SUMMARY, (
    Col("sae", "str", "base or tuned"),
    Col("latents", "int", "latents chosen for labelling"),
    Col("labelled", "int", "latents with a parsed label"),
    Col("failed", "int", "latents whose explanation failed (not dead)"),
    Col("dead", "int", "latents that never fire on the training split"),
    Col("retried", "int", "latents that needed a retry"),
    Col("llm_failures", "int", "latents whose explanation failed because every LLM request failed"),
), "label counts per SAE (the score statistics are rows of scores_summary.csv)", float_digits=None)
_BASELINE = "the top-token label (label scorers only)"
SCORES_SUMMARY = Schema(InterpretFiles.SCORES_SUMMARY, (
    Col("sae", "str", "base or tuned"),
    Col("scorer", "str", "the scorer (a name of featevo.scorers.SCORERS)"),
    Col("floor", "str", "what its floor is: shuffled labels (a label scorer) or chance (a label-free scorer)"),
    Col("scored", "int", "labelled latents with a defined score"),
    Col("undefined", "int", "labelled latents whose score is undefined (a class of examples missing)"),
    Col("failed", "int", "labelled latents whose scorer failed (reasons in summary.json)"),
    Col("paired_n", "int", "latents with both an own score and a floor"),
    Col("own_mean", "float", "mean own score over the paired latents"),
    Col("floor_mean", "float", "mean floor over the same latents"),
    Col("paired_diff", "float", "mean over latents of own score minus floor"),
    Col("paired_ci_low", "float", "bootstrap 95% interval of paired_diff over latents"),
    Col("paired_ci_high", "float", "bootstrap 95% interval of paired_diff over latents"),
    Col("paired_wins", "int", "latents scoring above their floor"),
    Col("paired_losses", "int", "latents scoring below their floor"),
    Col("paired_ties", "int", "latents at their floor"),
    Col("paired_sign_p", "float", "two-sided sign test of wins vs losses"),
    Col("beats_floor_fraction", "float", "wins / paired_n (label scorers only)"),
    Col("f1_score_mean", "float", "mean F1 over latents with own and floor F1 (label scorers only)"),
    Col("f1_score_floor_mean", "float", "the floor's mean F1 over the same latents"),
    Col("baseline_n", "int", f"latents with both the LLM label and {_BASELINE} scored"),
    Col("baseline_mean", "float", f"mean score of {_BASELINE} over those latents"),
    Col("vs_baseline_diff", "float", "mean of LLM label minus top-token label"),
    Col("vs_baseline_ci_low", "float", "bootstrap 95% interval"),
    Col("vs_baseline_ci_high", "float", "bootstrap 95% interval"),
    Col("vs_baseline_sign_p", "float", "two-sided sign test"),
), "score statistics per SAE and scorer: each scorer against its floor, paired per latent", float_digits=None)


@dataclass
class InterpretResult:
    """Stage 04's outputs as read by the report: the labels, their scores (long: one row per latent, scorer and
    kind), the per-SAE counts and score statistics, and the summary."""

    labels: Table
    labels_summary: Table
    summary: dict
    scores: Table | None = None
    scores_summary: Table | None = None

    @classmethod
    def load(cls, s4: Path) -> "InterpretResult":
        return cls(LABELS.read(s4), LABELS_SUMMARY.read(s4), read_json(s4 / InterpretFiles.SUMMARY),
                   SCORES.read(s4), SCORES_SUMMARY.read(s4))

    def score(self, sae: str, latent: int | None, scorer: str, kind: str = "own") -> float | None:
        """One score of ``scores.csv`` (None: no such row, or the score is undefined)."""
        if latent is None:
            return None
        if getattr(self, "_index", None) is None:
            self._index = {(r["sae"], r["latent"], r["scorer"], r["kind"]): r["value"] for r in self.scores or []}
        return self._index.get((sae, int(latent), scorer, kind))

    def scorers(self) -> tuple[str, ...]:
        """The scorers with a row in ``scores.csv``, in order of first appearance."""
        return tuple(dict.fromkeys(r["scorer"] for r in self.scores or []))


ALL_SCHEMAS = (STEPS, LATENTS, PAIRS, ALL_PAIRS, COMPARISONS, PER_CATEGORY, PAIR_EFFECTS, COMPARISON_COUNTS, HELD_OUT,
               DOMAIN_LATENTS, FEATURE_TABLE, RANKING, TOP_FEATURES, STAGEWISE_LATENTS, CROSSCODER_LATENTS, EFFECTS,
               LABELS, LABELS_SUMMARY, SCORES, SCORES_SUMMARY)
