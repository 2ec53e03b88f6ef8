"""Stage 03: how matched latents' preference for target-domain over reference-domain text (``data.target_domain``
vs ``data.reference_domain``, financial vs general in the demo) changed, calibrated against seed
pairs and the control twin.

Every model of the run (base, tuned, control, planted) and every main-size SAE run on the probe set
(category-labelled sentences from templates, held out from SAE training). Everything is computed per
*sentence* first (a latent's mean activation over the sentence's kept tokens; "activation" is the sae-lens
``encode`` output times the norm of its decoder row, the norm of the latent's contribution to the
reconstruction), and every resampling unit is a *template* (``data.cluster_field``), because sentences of one
template share their wording.

Definitions (statistics in :mod:`featevo.inference`):

* **target score** ``target`` / **reference score** ``reference`` of a latent: mean sentence activation over the
  target-domain / reference-domain probe sentences; **specialization**
  ``(target - reference) / (target + reference + 1e-8)``;
* **domain-specific change** of a matched pair (stage 02, class shared or shifted; latent a of SAE A on model
  A, latent b of SAE B on model B), the primary estimand:
  ``did = (target_b - target_a) - (reference_b - reference_a)``; its
  cluster-bootstrap interval and SE, ``z = did / se``, the sampling p of a permutation of the templates' domain
  labels; the raw ``delta_target = target_b - target_a`` and ``delta_reference`` are secondary columns;
* **calibrated p**: the two-sided empirical p of z against the z of every matched pair of the seed comparisons
  (two SAEs of one model; leave one out for a seed comparison itself); BH within the comparison gives its
  **discoveries**, changes beyond seed noise. Every comparison (fine-tuning, seed, control, planted) gets its
  counts by this same procedure, so each count stands beside the seed family's and the control family's;
* **held-out check**: the templates are split into two halves stratified by category (seeded); per comparison
  the ``deltas.top_n`` pairs with the largest |z| on half A are re-estimated on half B (did, interval,
  calibrated p against the seed pairs' half-B z, BH among the selected): the top table shows half-B numbers, so
  it is not a winner's curse;
* **target / reference latent** of an SAE: ``target - reference`` with BH q <= alpha in a cluster permutation
  test of the templates' domain labels; counted for every SAE and compared between the base, tuned and control SAEs.

Claims (:mod:`featevo.claims`, in ``summary.json``): the counts of each family of comparisons against the seed
family (fine-tuning moves more pairs than seed noise) and against the control family (target-specific change
beyond what fine-tuning on reference text does), the held-out confirmations, each tested with the SAE as the unit
(the SAEs' model labels permuted, :func:`featevo.claims.sae_family_claim`: crossed pairs share their SAEs, so they are
not independent values); the control family against the seed family is a comparison (what the control twin changes),
not a control; and the domain-latent counts of the tuned SAEs against the base and control SAEs (one value per SAE).

The primary comparison (base vs tuned, replicate 0) keeps the study's tables (corrected): the feature table,
ranking, top target-domain latents, per-category means, the four-panel figure, contexts and the labelling order
for stages 04/05 and 03_causal (``interesting_latents.json``). Every base and tuned latent's activation histogram
on stage 01's eval split is written for the report's feature cards (:mod:`featevo.histograms`); the contexts,
histograms and figure are written by :mod:`featevo.deltas_outputs`. One writer per output file (names in
:class:`featevo.layout.DeltasFiles`, columns in :mod:`featevo.results`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from featevo.progress import tqdm

from featevo.claims import count_claim, describe, sae_contrast, sae_family_claim
from featevo.config import PipelineConfig
from featevo.data import TARGET, REFERENCE, Doc, cluster_ids, load_probe
from featevo.inference import (
    Design, LatentStats, PairEffects, calibrate, comparison_effects, latent_stats, template_halves,
)
from featevo.io import atomic_write_json
from featevo.layout import (
    COMPARE, DELTAS, TRAIN, DeltasFiles, display_path, models as run_models, replica_models, resolve_repo_path,
    sae_dir, sae_specs, stage_dir,
)
from featevo.deltas_outputs import CONTEXT_SAES, write_contexts, write_four_panel, write_histograms
from featevo.probe import ACTIVATION_UNIT, Source, doc_aggregates, harvest_probe
from featevo.results import (
    COMPARISON_COUNTS, DOMAIN_LATENTS, FEATURE_TABLE, HELD_OUT, PAIR_EFFECTS, PER_CATEGORY, RANKING, TOP_FEATURES,
    CompareResult,
)
from featevo.runner import run_stage
from featevo.sae import load_sae
from featevo.stats import percentile_ci

logger = logging.getLogger(__name__)



# --------------------------------------------------------------------------------------------
# The probe and the per-SAE statistics
# --------------------------------------------------------------------------------------------
@dataclass
class ProbeInfo:
    """The probe set as the statistics see it."""

    docs: list[Doc]
    is_target: np.ndarray           # [docs] bool
    cat_of: np.ndarray           # [docs] category
    clusters: np.ndarray         # [docs] template (a document without one is its own)
    half_a: np.ndarray           # [docs] bool: its template is in the selection half
    categories: list[str]        # categories present, target-domain ones first (config order)
    cat_domain: list[str]        # their domain roles (TARGET / REFERENCE)
    tokens: int                  # kept tokens (SAE rows)
    file: str
    names: dict = field(default_factory=lambda: {TARGET: "financial", REFERENCE: "general"})
    """Domain role -> its configured name (``data.target_domain`` / ``data.reference_domain``)."""

    @property
    def n_target_categories(self) -> int:
        return sum(d == TARGET for d in self.cat_domain)

    def templates(self, mask: np.ndarray | None = None) -> int:
        return len(set(self.clusters[mask].tolist() if mask is not None else self.clusters.tolist()))


def probe_info(cfg: PipelineConfig, docs: list[Doc], probe: Source) -> ProbeInfo:
    present = {d.category for d in docs}
    categories = [c for c in cfg.data.target_categories + cfg.data.reference_categories if c in present]
    clusters = np.array(cluster_ids(docs))
    cat_of = np.array([d.category for d in docs])
    return ProbeInfo(docs, np.array([d.domain == TARGET for d in docs]), cat_of, clusters,
                     template_halves(clusters, cat_of, cfg.seed), categories,
                     [TARGET if c in cfg.data.target_categories else REFERENCE for c in categories],
                     len(probe.row_doc), display_path(resolve_repo_path(cfg.data.probe)),
                     {TARGET: cfg.data.target_domain, REFERENCE: cfg.data.reference_domain})


@dataclass
class DeltasAnalysis:
    """Everything stage 03 writes, as arrays: the writers below turn it into files."""

    probe: ProbeInfo
    X: dict[str, np.ndarray]        # SAE -> [docs, d_sae] sentence-mean activation
    F: dict[str, np.ndarray]        # SAE -> [docs, d_sae] sentence firing frequency
    stats: dict[str, LatentStats]   # every main-size SAE
    effects: dict[str, PairEffects]  # every comparison (wide ones aside), the primary first
    null_names: list[str]           # the seed comparisons (the calibration's null)
    primary: str
    cls: dict[str, np.ndarray]      # base / tuned: stage 02 class of every latent (primary comparison)
    unmatched: dict[str, dict]      # base / tuned: stage 02 latents without a match (latent, class, cosine)
    alpha: float
    level: float
    sae_model: dict[str, str]       # SAE -> the model it encodes

    @property
    def main(self) -> PairEffects:
        return self.effects[self.primary]

    def target_sig(self, sae: str) -> np.ndarray:
        return self.stats[sae].test.target(self.alpha)

    def reference_sig(self, sae: str) -> np.ndarray:
        return self.stats[sae].test.reference(self.alpha)

    def by_calibrated(self) -> np.ndarray:
        """Primary pair indices, calibrated discoveries first, then by |z| (largest first)."""
        e = self.main
        return np.lexsort((-np.abs(e.full.z), ~e.discovered)) if len(e) else np.zeros(0, dtype=np.int64)

    def counts(self) -> dict[str, dict]:
        return {n: e.counts(self.alpha) for n, e in self.effects.items()}

    def family_values(self, family: str, key: str) -> list:
        return [c[key] for c in self.counts().values() if c["family"] == family]

    def by_model(self) -> dict[str, list[str]]:
        """Model -> its SAEs (replicate 0 first)."""
        out: dict[str, list[str]] = {}
        for n in self.stats:
            out.setdefault(self.sae_model[n], []).append(n)
        return out


def analyse(cfg: PipelineConfig, probe: Source, info: ProbeInfo, s2r: CompareResult) -> DeltasAnalysis:
    """Statistics of every latent and of every comparison's matched pairs on the probe set."""
    dc, seed = cfg.deltas, cfg.seed
    names = list(probe.z)
    X, F = {}, {}
    for n in names:
        X[n], F[n] = doc_aggregates(probe.z[n], probe.row_doc, len(info.docs))
    designs = {"full": Design.of(info.is_target, info.clusters, dc.n_bootstrap, seed),
               "a": Design.of(info.is_target, info.clusters, dc.n_bootstrap, seed + 1, np.flatnonzero(info.half_a)),
               "b": Design.of(info.is_target, info.clusters, dc.n_bootstrap, seed + 2, np.flatnonzero(~info.half_a))}
    stats = {n: latent_stats(X[n], F[n], designs["full"], dc.n_permutations, seed)
             for n in tqdm(names, desc="latent statistics", unit="sae")}
    rows = [r for r in s2r.comparison_rows() if r["sae_a"] in X and r["sae_b"] in X]
    effects = {r["comparison"]: comparison_effects(r["comparison"], r["family"], r["sae_a"], r["sae_b"],
                                                   s2r.matched(r["comparison"]), X[r["sae_a"]], X[r["sae_b"]],
                                                   designs, dc.ci, dc.n_permutations, seed)
               for r in tqdm(rows, desc="pair effects", unit="comparison")}
    null_names = calibrate(effects, dc.alpha, dc.top_n)
    primary = s2r.summary.get("primary") or rows[0]["comparison"]
    cls_of = s2r.latent_class()
    sides = {}
    for side in CONTEXT_SAES:
        t = s2r.unmatched_latents(side)
        sides[side] = {"latent": t["latent"], "class": t["class"], "decoder_cosine": t["decoder_cosine"]}
    cls = {side: np.array([cls_of.get((side, j)) for j in range(X[side].shape[1])], dtype=object)
           for side in CONTEXT_SAES}
    return DeltasAnalysis(info, X, F, stats, effects, null_names, primary, cls, sides, dc.alpha, dc.ci,
                          {n: s.model for n, s in sae_specs(cfg).items() if n in X})


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------
def family_sae_claim(a: DeltasAnalysis, cid: str, obs: str, null: str, key: str, alt, statement: str,
                     negation: str, role: str = "claim") -> dict | None:
    """The claim that ``key`` of family ``obs``'s comparisons differs from family ``null``'s, tested with the SAE as
    the unit (:func:`featevo.claims.sae_family_claim`; None when either family is missing)."""
    counts = list(a.counts().values())
    if not any(c["family"] == obs for c in counts) or not any(c["family"] == null for c in counts):
        return None
    comps = [{"a": c["sae_a"], "b": c["sae_b"], "family": c["family"], "value": c[key]} for c in counts]
    design, groups, used = sae_contrast(comps, a.sae_model, obs, null)
    c = sae_family_claim(cid, statement, used, groups, design, alt, a.alpha, obs, null, negation=negation, stat=key,
                         lens="deltas", role=role)
    return c if c["observed"]["n"] and c["null"]["n"] else None


def claims(a: DeltasAnalysis) -> list[dict]:
    """What stage 03 claims, each against its null (see the module docstring); the families of SAE comparisons are
    tested with the SAE as the unit."""
    out, al = [], a.alpha
    tgt, ref = a.probe.names[TARGET], a.probe.names[REFERENCE]
    for cid, obs, null, key, alt, statement, negation in (
        ("pair_change_size", "fine-tuning", "seed", "mean_abs_z", "greater",
         "matched base-vs-tuned pairs change their domain preference more (mean |z| of the domain-specific change) "
         "than matched pairs of two seeds of one model differ",
         "matched base-vs-tuned pairs change their domain preference no more than two seeds of one model differ"),
        ("domain_specific_change", "fine-tuning", "seed", "discoveries", "greater",
         "fine-tuning changes more matched pairs in a domain-specific way than seed noise does",
         "no feature-level domain-specific change detectable beyond seed noise"),
        ("target_specific_beyond_control", "fine-tuning", "control", "toward_target", "greater",
         f"the {tgt} twin moves more matched pairs toward {tgt} text than the control twin (the same "
         f"recipe on {ref} text) does", f"no {tgt}-specific change beyond what fine-tuning on {ref} text does"),
        ("control_change", "control", "seed", "discoveries", "greater",
         f"fine-tuning on {ref} text (the control twin) changes more matched pairs than seed noise does",
         "the control twin's changes are not detectable beyond seed noise"),
        ("held_out_confirmation", "fine-tuning", "seed", "confirmed", "greater",
         "the largest changes, selected on half of the templates, are confirmed on the other half more often for "
         "base vs tuned than for two seeds of one model", "the largest changes do not replicate on held-out "
         "templates beyond what seed pairs show"),
    ):
        c = family_sae_claim(a, cid, obs, null, key, alt, statement, negation,
                             "comparison" if cid == "control_change" else "claim")
        if c is not None:
            out.append(c)
    by_model = a.by_model()
    for cid, obs, null, statement, negation in (
        ("target_latents:tuned_vs_base", "tuned", "base",
         f"the tuned SAEs have more significantly {tgt} latents than the base SAEs",
         f"the tuned SAEs have no more significantly {tgt} latents than the base SAEs"),
        ("target_latents:tuned_vs_control", "tuned", "control",
         f"the tuned SAEs have more significantly {tgt} latents than the control SAEs",
         f"the tuned SAEs have no more significantly {tgt} latents than the control SAEs"),
    ):
        if by_model.get(obs) and by_model.get(null):
            out.append(count_claim(cid, statement, [int(a.target_sig(n).sum()) for n in by_model[obs]],
                                   [int(a.target_sig(n).sum()) for n in by_model[null]], al, f"{obs} SAEs",
                                   f"{null} SAEs", negation=negation, stat="target_latents", lens="deltas"))
    return out


# --------------------------------------------------------------------------------------------
# Rows of the primary comparison's tables
# --------------------------------------------------------------------------------------------
def _opt(x) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _did_cols(e: PairEffects, k: int) -> dict:
    f = e.full
    return {"did": f.did[k], "did_ci_low": f.lo[k], "did_ci_high": f.hi[k], "did_se": f.se[k], "z": f.z[k],
            "p_sampling": e.p_sampling[k], "p_calibrated": _opt(e.p_calibrated[k]),
            "q_calibrated": _opt(e.q_calibrated[k]), "discovered": bool(e.discovered[k])}


def pair_type(a: DeltasAnalysis, k: int) -> str:
    """``toward-target``/``toward-reference``: a calibrated discovery; otherwise ``stable-target``/
    ``stable-reference`` when the tuned latent prefers one domain significantly, else ``stable``."""
    e = a.main
    if e.discovered[k]:
        return "toward-target" if e.full.did[k] > 0 else "toward-reference"
    j = int(e.b[k])
    return ("stable-target" if a.target_sig("tuned")[j] else "stable-reference" if a.reference_sig("tuned")[j]
            else "stable")


def pair_row(a: DeltasAnalysis, k: int) -> dict:
    """Primary pair ``k`` as a row of the feature table."""
    e, lv = a.main, a.level
    i, j = int(e.a[k]), int(e.b[k])
    sb, st = a.stats["base"], a.stats["tuned"]
    spec_lo, spec_hi = percentile_ci(st.spec_boot[:, [j]] - sb.spec_boot[:, [i]], lv)
    f = e.full
    row = {"pair_id": int(e.pair_id[k]), "base_latent": i, "tuned_latent": j, "class": e.cls[k],
           "type": pair_type(a, k), **_did_cols(e, k),
           "delta_target": f.delta_target[k], "delta_target_ci_low": f.target_lo[k],
           "delta_target_ci_high": f.target_hi[k], "delta_reference": f.delta_reference[k],
           "delta_reference_ci_low": f.reference_lo[k], "delta_reference_ci_high": f.reference_hi[k],
           "specialization_change": st.spec[j] - sb.spec[i], "specialization_change_ci_low": spec_lo[0],
           "specialization_change_ci_high": spec_hi[0]}
    for side, lat in (("base", i), ("tuned", j)):
        row.update(side_cols(a, side, lat))
    return row


def side_cols(a: DeltasAnalysis, side: str, j: int) -> dict:
    """The per-latent columns of latent ``j`` of the base or tuned SAE."""
    s, lv = a.stats[side], a.level
    flo, fhi = percentile_ci(s.target_boot[:, [j]], lv)
    slo, shi = percentile_ci(s.spec_boot[:, [j]], lv)
    return {f"{side}_target_score": s.fin[j], f"{side}_target_ci_low": flo[0], f"{side}_target_ci_high": fhi[0],
            f"{side}_reference_score": s.gen[j], f"{side}_specialization": s.spec[j],
            f"{side}_specialization_ci_low": slo[0], f"{side}_specialization_ci_high": shi[0],
            f"{side}_domain_q": s.test.q[j]}


def unmatched_type(cls: str, target_sig: bool, reference_sig: bool) -> str:
    if cls == "dead":
        return "dead"
    return f"{cls}-target" if target_sig else f"{cls}-reference" if reference_sig else cls


def unmatched_rows(a: DeltasAnalysis, side: str) -> list[dict]:
    """The unmatched latents of SAE ``side`` as rows of the feature table."""
    u = a.unmatched[side]
    return [{f"{side}_latent": int(j), "class": c, "decoder_cosine": _opt(cos),
             "type": unmatched_type(c, bool(a.target_sig(side)[j]), bool(a.reference_sig(side)[j])),
             **side_cols(a, side, int(j))} for j, c, cos in zip(u["latent"], u["class"], u["decoder_cosine"])]


# --------------------------------------------------------------------------------------------
# Writers (one per output file)
# --------------------------------------------------------------------------------------------
def write_per_category(folder: Path, a: DeltasAnalysis) -> None:
    info = a.probe
    sel = [info.cat_of == c for c in info.categories]
    rows = []
    for n in [m for m in a.X if "_seed" not in m]:
        for ci, (c, s) in enumerate(zip(info.categories, sel)):
            mean, freq = a.X[n][s].mean(0), a.F[n][s].mean(0)
            rows += [{"model": n, "latent": j, "category": c, "domain": info.names[info.cat_domain[ci]],
                      "mean_activation": float(mean[j]), "frequency": float(freq[j]), "n_sentences": int(s.sum())}
                     for j in range(len(mean))]
    PER_CATEGORY.write(folder, rows)


def write_feature_table(folder: Path, a: DeltasAnalysis) -> None:
    FEATURE_TABLE.write(folder, [pair_row(a, k) for k in range(len(a.main))]
                        + unmatched_rows(a, "base") + unmatched_rows(a, "tuned"))


def write_ranking(folder: Path, a: DeltasAnalysis) -> None:
    fields = [f for f in RANKING.fields if f != "rank"]
    RANKING.write(folder, ({"rank": rank, **{f: row[f] for f in fields}}
                           for rank, row in enumerate((pair_row(a, int(k)) for k in a.by_calibrated()), start=1)))


def top_feature_rows(a: DeltasAnalysis, side: str, top_n: int) -> list[dict]:
    """The ``top_n`` significantly target-domain latents of SAE ``side`` by target - reference, with their partners."""
    e, s, other = a.main, a.stats[side], ("tuned" if side == "base" else "base")
    mine, theirs = (e.a, e.b) if side == "base" else (e.b, e.a)
    partner = {int(j): k for k, j in enumerate(mine)}
    cand = np.flatnonzero(a.target_sig(side))
    cand = cand[np.argsort(-s.test.diff[cand], kind="stable")][:top_n]
    rows = []
    for rank, j in enumerate(cand, start=1):
        c = side_cols(a, side, int(j))
        row = {"model": side, "rank": rank, "latent": int(j), "class": a.cls[side][j], "target_score": s.fin[j],
               "target_ci_low": c[f"{side}_target_ci_low"], "target_ci_high": c[f"{side}_target_ci_high"],
               "reference_score": s.gen[j],
               "target_minus_reference": s.test.diff[j], "specialization": s.spec[j],
               "specialization_ci_low": c[f"{side}_specialization_ci_low"],
               "specialization_ci_high": c[f"{side}_specialization_ci_high"], "p_value": s.test.p[j],
               "q_value": s.test.q[j], "frequency_target": s.freq_target[j], "frequency_reference": s.freq_reference[j]}
        k = partner.get(int(j))
        if k is not None:
            mj = int(theirs[k])
            row.update({"pair_id": int(e.pair_id[k]), "matched_latent": mj,
                        "matched_target_score": a.stats[other].fin[mj],
                        "did": e.full.did[k], "did_ci_low": e.full.lo[k], "did_ci_high": e.full.hi[k],
                        "q_calibrated": _opt(e.q_calibrated[k])})
        rows.append(row)
    return rows


def write_top_features(folder: Path, a: DeltasAnalysis, top_n: int) -> None:
    TOP_FEATURES.write(folder, [r for side in CONTEXT_SAES for r in top_feature_rows(a, side, top_n)])


def write_pair_effects(folder: Path, a: DeltasAnalysis) -> None:
    rows = []
    for e in a.effects.values():
        h, chk = e.held_out, e.check
        for k in range(len(e)):
            rows.append({"comparison": e.name, "family": e.family, "sae_a": e.sae_a, "sae_b": e.sae_b,
                         "pair_id": int(e.pair_id[k]), "latent_a": int(e.a[k]), "latent_b": int(e.b[k]),
                         "class": e.cls[k], **_did_cols(e, k), "delta_target": e.full.delta_target[k],
                         "delta_reference": e.full.delta_reference[k],
                         "specialization_change": a.stats[e.sae_b].spec[e.b[k]] - a.stats[e.sae_a].spec[e.a[k]],
                         "z_selection": e.z_selection[k], "selected": bool(chk.selected[k]),
                         "did_held_out": h.did[k], "z_held_out": h.z[k], "p_held_out": _opt(e.p_held_out[k]),
                         "q_held_out": _opt(chk.q[k]), "confirmed": bool(chk.confirmed[k])})
    PAIR_EFFECTS.write(folder, rows)


def held_out_rows(a: DeltasAnalysis) -> list[dict]:
    e = a.main
    h, chk = e.held_out, e.check
    order = sorted(np.flatnonzero(chk.selected), key=lambda k: chk.rank[k])
    return [{"rank": int(chk.rank[k]), "pair_id": int(e.pair_id[k]), "base_latent": int(e.a[k]),
             "tuned_latent": int(e.b[k]), "class": e.cls[k], "z_selection": e.z_selection[k],
             "did_held_out": h.did[k], "did_ci_low": h.lo[k], "did_ci_high": h.hi[k], "z_held_out": h.z[k],
             "p_held_out": _opt(e.p_held_out[k]), "q_held_out": _opt(chk.q[k]), "confirmed": bool(chk.confirmed[k]),
             "delta_target_held_out": h.delta_target[k], "delta_reference_held_out": h.delta_reference[k]}
            for k in order]


def domain_latent_rows(cfg: PipelineConfig, a: DeltasAnalysis) -> list[dict]:
    specs = sae_specs(cfg)
    return [{"sae": n, "model": specs[n].model, "replicate": specs[n].replicate,
             "live_latents": int(((a.stats[n].fin + a.stats[n].gen) > 0).sum()),
             "target_latents": int(a.target_sig(n).sum()), "reference_latents": int(a.reference_sig(n).sum())}
            for n in a.stats]


def interesting_latents(a: DeltasAnalysis) -> dict:
    """The order in which stages 04 and 03_causal take latents: the primary comparison's pairs by calibrated
    change (discoveries first, then by |z|); per SAE, the latents of those pairs in that order, then its
    unmatched live latents by domain-test q and |target - reference|."""
    e, order = a.main, [int(k) for k in a.by_calibrated()]
    out = {"pairs": [int(e.pair_id[k]) for k in order]}
    for side, latents in (("base", e.a), ("tuned", e.b)):
        seen = [int(latents[k]) for k in order]
        taken = set(seen)
        t = a.stats[side].test
        for j in np.lexsort((-np.abs(t.diff), t.q)):
            if int(j) not in taken and a.cls[side][j] not in (None, "dead"):
                seen.append(int(j))
                taken.add(int(j))
        out[side] = seen
    return out


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
DEFINITIONS = {
    "activation": f"SAE latent activation ({ACTIVATION_UNIT}) per token; sentence value = mean over its kept tokens",
    "target_score": "mean sentence value over the target-domain probe sentences; reference_score: over the "
                    "reference-domain ones",
    "specialization": "(target - reference) / (target + reference + 1e-8)",
    "did": "primary estimand of a matched pair (latent a of SAE A, b of SAE B): "
           "(target_b - target_a) - (reference_b - reference_a)",
    "did_ci": "cluster-bootstrap percentile interval: templates resampled with replacement within each domain",
    "z": "did / cluster-bootstrap SE",
    "p_sampling": "two-sided cluster permutation test of did: the templates' domain labels permuted",
    "p_calibrated": "two-sided empirical p of z against the z of all matched pairs of the seed comparisons (same "
                    "model, other seed); a seed comparison against the other seed comparisons (leave one out)",
    "discovered": "BH(p_calibrated) <= alpha within the comparison: a domain-specific change beyond seed noise",
    "held_out": "templates split in halves stratified by category; top_n pairs by |z| on half A, re-estimated on "
                "half B; confirmed = BH among the selected of the half-B calibrated p <= alpha",
    "target_latent": "target - reference > 0 with BH q <= alpha (cluster permutation of the templates' domain labels)",
    "delta_target": "secondary: target_b - target_a (the study's delta, which also moves with overall firing)",
    "interesting_latents": "the primary comparison's matched pairs, seed-calibrated discoveries first, then by |z|; "
                           "per SAE ('base', 'tuned') their latents in that order, then its unmatched live latents "
                           "by domain-test q",
}


TOP5_FIELDS = ("pair_id", "base_latent", "tuned_latent", "did", "did_ci_low", "did_ci_high", "z", "q_calibrated",
               "discovered")


def _family_block(a: DeltasAnalysis) -> dict:
    out = {}
    for fam in dict.fromkeys(e.family for e in a.effects.values()):
        out[fam] = {key: describe(a.family_values(fam, key))
                    for key in ("matched_pairs", "discoveries", "toward_target", "toward_reference",
                                "sampling_discoveries", "mean_abs_z", "confirmed")}
    return out


def primary_block(a: DeltasAnalysis) -> dict:
    e = a.main
    f = e.full
    r = (float(np.corrcoef(f.delta_target, f.delta_reference)[0, 1])
         if len(e) > 2 and f.delta_target.std() > 0 and f.delta_reference.std() > 0 else None)
    return {**e.counts(a.alpha), "mean_did": float(f.did.mean()) if len(e) else None,
            "mean_delta_target": float(f.delta_target.mean()) if len(e) else None,
            "mean_delta_reference": float(f.delta_reference.mean()) if len(e) else None,
            "corr_delta_target_delta_reference": r, "selected": int(e.check.selected.sum())}


def build_summary(cfg: PipelineConfig, a: DeltasAnalysis) -> dict:
    """``summary.json`` (the study's 2.4, calibrated), without the wall time."""
    dc, info = cfg.deltas, a.probe
    by_model = a.by_model()
    return {
        "description": "domain-specific change of matched latent pairs of every comparison, template-clustered, "
                       "calibrated against seed pairs; see featevo/deltas.py and featevo/inference.py",
        "definitions": DEFINITIONS,
        "alpha": dc.alpha, "ci": dc.ci, "n_bootstrap": dc.n_bootstrap, "n_permutations": dc.n_permutations,
        "top_n": dc.top_n,
        "probe": {"sentences": len(info.docs), "target": int(info.is_target.sum()),
                  "reference": int((~info.is_target).sum()), "templates": info.templates(),
                  "templates_target": info.templates(info.is_target),
                  "templates_reference": info.templates(~info.is_target),
                  "half_a": {"templates": info.templates(info.half_a), "sentences": int(info.half_a.sum())},
                  "half_b": {"templates": info.templates(~info.half_a), "sentences": int((~info.half_a).sum())},
                  "tokens": info.tokens, "categories": info.categories, "file": info.file},
        "primary": a.primary,
        "calibration": {"null_family": "seed", "null_comparisons": a.null_names,
                        "null_pairs": int(sum(len(a.effects[n]) for n in a.null_names))},
        "comparisons": a.counts(),
        "families": _family_block(a),
        "base_vs_tuned": primary_block(a),
        "domain_latents": {m: {"saes": names, "target": describe([int(a.target_sig(n).sum()) for n in names]),
                               "reference": describe([int(a.reference_sig(n).sum()) for n in names])}
                           for m, names in by_model.items()},
        "target_latents": {n: int(a.target_sig(n).sum()) for n in a.stats},
        "reference_latents": {n: int(a.reference_sig(n).sum()) for n in a.stats},
        "top5_by_z": [{k: pair_row(a, int(i))[k] for k in TOP5_FIELDS}
                      for i in np.argsort(-np.abs(a.main.full.z), kind="stable")[:5]],
        "claims": claims(a),
        "contexts": {"sources": ["probe"] + (["eval"] if dc.contexts_from_eval else []), "saes": list(CONTEXT_SAES),
                     "note": "probe = data.probe sentences; eval = stage 01 held-out eval split; neither was used "
                             "to train the SAEs"},
    }


# --------------------------------------------------------------------------------------------
# Stage
# --------------------------------------------------------------------------------------------
def write_all(cfg: PipelineConfig, folder: Path, a: DeltasAnalysis, probe: Source, saes: dict) -> dict:
    write_per_category(folder, a)
    write_feature_table(folder, a)
    write_ranking(folder, a)
    write_top_features(folder, a, cfg.deltas.top_n)
    write_pair_effects(folder, a)
    COMPARISON_COUNTS.write(folder, list(a.counts().values()))
    HELD_OUT.write(folder, held_out_rows(a))
    DOMAIN_LATENTS.write(folder, domain_latent_rows(cfg, a))
    atomic_write_json(folder / DeltasFiles.INTERESTING, interesting_latents(a))
    write_contexts(cfg, folder, probe, saes)
    write_histograms(cfg, folder, saes)
    write_four_panel(folder, a, cfg.deltas.top_n)
    return build_summary(cfg, a)


def write_twin_eval(cfg: PipelineConfig, folder: Path, docs: list[Doc], device) -> dict:
    """With a twin: the masked-LM loss of the base (with its fitted head) and every twin on the probe set
    (:func:`featevo.twin.probe_eval`), written to ``twin_eval.json``. It is measured here, where the probe is
    read, so swapping the probe set never reruns the twins or the SAEs of stage 01."""
    from featevo.activations import Windowing
    from featevo.twin import probe_eval

    h = cfg.harvest
    out = probe_eval({**run_models(cfg), **replica_models(cfg)}, docs, dict(cfg.twin.planted), cfg.seed, device,
                     Windowing(h.max_length, h.stride, h.max_windows))
    atomic_write_json(folder / DeltasFiles.TWIN_EVAL, out)
    return out


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 03 (needs stages 01 and 02); returns the stage folder."""
    return run_stage(cfg, DELTAS, compute, force)


def compute(cfg: PipelineConfig, out_dir: Path) -> dict:
    """Stage 03 into ``out_dir`` (the runner checks its upstream and commits); returns its summary."""
    from featevo.models import resolve_device

    t0 = time.time()
    device = resolve_device(cfg.device)
    docs = load_probe(cfg.data, min_per_category=cfg.deltas.min_per_category)
    s2r = CompareResult.load(stage_dir(cfg, COMPARE))
    specs = {n: s for n, s in sae_specs(cfg).items() if not s.wide}
    saes = {n: load_sae(sae_dir(stage_dir(cfg, TRAIN), n), device) for n in specs}
    probe = harvest_probe(cfg, docs, saes, {n: s.model for n, s in specs.items()}, device)
    info = probe_info(cfg, docs, probe)
    logger.info("probe: %d sentences (%d %s, %d %s) from %d templates, %d tokens, %d categories",
                len(docs), int(info.is_target.sum()), cfg.data.target_domain, int((~info.is_target).sum()),
                cfg.data.reference_domain, info.templates(), info.tokens,
                len(info.categories))
    a = analyse(cfg, probe, info, s2r)
    if cfg.twin.enabled:
        write_twin_eval(cfg, out_dir, docs, device)
    summary = {**write_all(cfg, out_dir, a, probe, saes), "wall_time_s": round(time.time() - t0, 2)}
    atomic_write_json(out_dir / DeltasFiles.SUMMARY, summary)
    for n, c in summary["comparisons"].items():
        logger.info("%-11s %s: %d matched pairs, %d calibrated discoveries (%d toward the target domain), %d confirmed "
                    "held-out", c["family"], n, c["matched_pairs"], c["discoveries"], c["toward_target"],
                    c["confirmed"])
    for c in summary["claims"]:
        logger.info("claim %s: %s (p = %s)", c["id"], "supported" if c["supported"] else "not supported",
                    c.get("test", {}).get("p"))
    return summary
