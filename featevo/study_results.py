"""The typed outputs of the stage ``03_study`` (the study reproduced as published, beside its baselines and the
corrected answer: :mod:`featevo.study_stage`): its CSV schemas and the paired reader/writer :class:`StudyResult`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from featevo.io import atomic_write_json, read_json
from featevo.layout import StudyFiles
from featevo.tables import Col, Schema, Table


_COMP = Col("comparison", "str", "tuned (base vs tuned: the study's), seed (base vs another seed of base: the "
                                 "same-model baseline) or control (base vs the control twin's SAE)")
_STUDY_COLS = (
    Col("latent", "int", "latent index i (latent i of the base SAE beside latent i of the other: index pairing)"),
    Col("type", "str", "the study's type by top-20 membership of the financial mean: tuned financial, base "
                       "financial, consistent, general"),
    Col("base_fin", "float", "base SAE: mean over target-domain probe sentences of the sentence-mean activation"),
    Col("tuned_fin", "float", "the other SAE (tuned, or the baseline's): the same"),
    Col("change", "float", "tuned_fin - base_fin (the study's financial change)"),
    Col("change_pct", "float", "100 change / base_fin"),
    Col("base_gen", "float", "base SAE: the same on reference-domain sentences"),
    Col("tuned_gen", "float", "the other SAE: the same on reference-domain sentences"),
    Col("gen_change", "float", "tuned_gen - base_gen"),
    Col("base_score", "float", "the study's finetuning score on target-domain sentences: fraction of sentences "
                               "with activation > 0 times the mean activation"),
    Col("tuned_score", "float", "the same for the other SAE"),
    Col("score_change", "float", "tuned_score - base_score"),
    Col("score_change_pct", "float", "100 score_change / base_score"),
    Col("base_spec", "float", "the study's base specialisation: base_fin - base_gen"),
    Col("tuned_spec", "float", "the study's tuned specialisation: tuned_fin - base_gen (base's general mean)"),
    Col("spec_change", "float", "tuned_spec - base_spec (equals change, by the study's formula)"),
)
LATENTS = Schema(StudyFiles.LATENTS, (_COMP, *_STUDY_COLS,
                                       Col("partner", "int", "stage 02's matched partner (shared or shifted) of "
                                                             "base latent i in the other SAE; blank: none"),
                                       Col("partner_class", "str", "its class in stage 02")),
                 "the study's per-latent table, by its procedure (layer one block below, dense encoder, special "
                 "tokens pooled), for each comparison")
TOP = Schema(StudyFiles.TOP, (_COMP, Col("rank", "int", "by change, largest first"), *_STUDY_COLS),
             "the study's top-20 table: the latents with the largest financial change, by its procedure")
EMERGING = Schema(StudyFiles.EMERGING, (_COMP, Col("rank", "int", "by change, largest first"), *_STUDY_COLS),
                  "the study's emerging features: the latents of type tuned financial with the largest change")
CHANGE_SUMMARY = Schema(StudyFiles.CHANGE_SUMMARY, (
    _COMP,
    Col("n_latents", "int", "latents compared (index pairing)"),
    Col("n_up", "int", "latents with a positive financial change"),
    Col("n_down", "int", "latents with a negative financial change"),
    Col("mean_change", "float", "mean financial change"),
    Col("max_change", "float", "largest financial change"),
    Col("max_change_latent", "int", "its latent"),
    Col("n_consistent", "int", "latents in both top-20 sets (the study's consistent)"),
    Col("n_tuned_financial", "int", "latents in the other SAE's top-20 only"),
    Col("corr_fin_gen_change", "float", "correlation across latents of the financial and the general change (high: "
                                        "the change is not domain-specific)"),
    Col("top_more_on_general", "int", "of the other SAE's top-20 financial latents, how many have a higher mean on "
                                      "reference-domain sentences than on target-domain ones"),
), "the study's summary, by its procedure, for each comparison, with the checks")
DELTAS = Schema(StudyFiles.DELTAS, (
    _COMP, Col("rank", "int", "by delta, largest first"), Col("latent", "int", "latent index i"),
    Col("base_count", "int", "token positions where base latent i exceeds study.count_threshold"),
    Col("tuned_count", "int", "the same for latent i of the other SAE"),
    Col("delta", "int", "tuned_count - base_count (index pairing)"),
    Col("tuned_firing_rate", "float", "tuned_count / token positions counted"),
), "the study's activation-count delta ranking on stage 01's eval windows, by its procedure")
LADDER = Schema(StudyFiles.LADDER, (
    Col("rung", "int", "0: as published; each later rung keeps the corrections above it and adds one"),
    Col("correction", "str", "the correction this rung adds"),
    Col("variant", "str", "activations: study (layer below, dense encoder, special tokens), layer, encode, special"),
    Col("rank_by", "str", "top-20 by fin (financial mean) or spec (financial minus general of the same model)"),
    Col("pairing", "str", "index (latent i with latent i) or matched (stage 02's shared/shifted pairs)"),
    Col("tuned_overlap", "int", "latents shared by the base and tuned top-20 sets"),
    Col("tuned_new", "float", "the study's headline: fraction of the tuned top-20 not shared"),
    Col("chance_new", "float", "expected fraction new when the tuned top-20 is drawn at random (hypergeometric)"),
    Col("p_chance_at_most", "float", "P(overlap <= tuned_overlap) by chance (hypergeometric)"),
    Col("seed_new", "float", "the same rule between two seeds of the base model (base vs base_seed1)"),
    Col("control_new", "float", "the same rule between base and the control twin's SAE"),
    Col("tuned_minus_seed", "float", "tuned_new - seed_new"),
    Col("control_minus_seed", "float", "control_new - seed_new"),
    Col("headline", "float", "the rung's number: tuned_new (rungs 0-5), tuned_minus_seed (rungs 6-7)"),
    Col("ci_low", "float", "rung 7: cluster-bootstrap interval of tuned_minus_seed (templates within domains)"),
    Col("ci_high", "float", "rung 7: upper end"),
    Col("control_ci_low", "float", "rung 7: the same interval of control_minus_seed"),
    Col("control_ci_high", "float", "rung 7: upper end"),
), "the study's headline after one correction at a time, beside its baselines")
HEADLINE = Schema(StudyFiles.HEADLINE, (
    Col("statistic", "str", "the study's headline number"),
    Col("published", "float", "the study's published value (its BERT vs FinBERT run)"),
    Col("tuned", "float", "this run, base vs tuned, by the study's procedure"),
    Col("seed", "float", "the same between two seeds of the base model"),
    Col("control", "float", "the same between base and the control twin"),
    Col("chance", "float", "what chance gives (hypergeometric), where defined"),
), "the study's headline numbers: published, this run and its baselines")


@dataclass
class StudyResult:
    """Stage ``03_study``'s outputs as read by the report."""

    ladder: Table
    top: Table
    emerging: Table
    change_summary: Table
    deltas: Table
    headline: Table
    summary: dict
    latents: Table | None = None

    @classmethod
    def load(cls, s3: Path) -> "StudyResult":
        """Read every table but the per-latent one (the report does not need it)."""
        return cls(LADDER.read(s3), TOP.read(s3), EMERGING.read(s3), CHANGE_SUMMARY.read(s3), DELTAS.read(s3),
                   HEADLINE.read(s3), read_json(s3 / StudyFiles.SUMMARY))

    def save(self, s3: Path) -> None:
        for schema, t in ((LADDER, self.ladder), (TOP, self.top), (EMERGING, self.emerging),
                          (CHANGE_SUMMARY, self.change_summary), (DELTAS, self.deltas), (HEADLINE, self.headline),
                          (LATENTS, self.latents)):
            if t is not None:
                schema.write(s3, t)
        atomic_write_json(s3 / StudyFiles.SUMMARY, self.summary)

    @property
    def claims(self) -> list[dict]:
        """The stage's claims (lens ``study``; the study's numbers are checks, never claims that beat a null)."""
        return list(self.summary.get("claims") or [])
