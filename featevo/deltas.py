"""Stage 03 logic: how the matched latents' activations on financial vs general text changed.

Both models and their SAEs run on the probe set (category-labelled sentences, held out from SAE
training). Everything is computed per *sentence* first and then averaged over sentences, so every
sentence weighs the same and the bootstrap and permutation tests resample sentences, not tokens.

Definitions (all per latent; ``a_t`` is the latent's activation on token t, i.e. its sae-lens
``encode`` output times the norm of its decoder row, which is the norm of the latent's
contribution to the reconstruction; sae-lens saves unit-norm decoder rows, so it equals the
encoder output):

* sentence activation ``m_d`` = mean of ``a_t`` over the kept tokens of sentence d (no [CLS],
  [SEP] or padding); sentence frequency = fraction of its kept tokens with ``a_t > 0``;
* **financial score** ``fin`` = mean of ``m_d`` over the financial probe sentences; **general
  score** ``gen`` = the same over the general ones; per-category scores likewise;
* **specialization** ``spec = (fin - gen) / (fin + gen + 1e-8)`` in [-1, 1]: +1 fires only on
  financial text, -1 only on general text, 0 no preference or never fires. It is scale-free, so
  it compares latents of different SAEs whose activation scales differ;
* for a matched pair (stage 02, decoder Hungarian, class ``shared`` or ``shifted``):
  ``delta_matched = fin(tuned latent) - fin(base latent)``, ``change_pct_matched = 100 *
  delta_matched / fin(base latent)`` (blank when the base score is below 1% of the median base
  score: a percentage of almost nothing is noise), ``specialization_change = spec(tuned) -
  spec(base)``;
* ``relative_change_matched = 2 * delta_matched / (fin(tuned) + fin(base) + 1e-8)`` in [-2, 2], a
  scale-free change; ``beyond_seed_noise``: the delta is BH-significant *and* its relative change
  exceeds the 95th percentile of ``|relative change|`` over the matched pairs of the null baseline
  (base SAE vs a base SAE of another seed, on the same model), i.e. larger than what two seeds of
  the same model already differ by.

Statistics (:mod:`featevo.stats`, seeded from ``cfg.seed``):

* bootstrap percentile intervals (``deltas.ci``) of every score, delta and specialization from
  ``deltas.n_bootstrap`` resamples of sentences within each domain; base and tuned latents are
  resampled on the same sentences (paired);
* ``p_value`` of a delta: paired sign-flip permutation test on the per-sentence differences
  (tuned minus base) over the financial sentences; ``q_value``: Benjamini-Hochberg across the
  matched pairs; ``significant`` = q <= alpha;
* financial-vs-general test of each latent: permutation of the sentences' domain labels, on
  ``fin - gen``; BH across the latents of that SAE (``base_financial_q`` ...).

The same delta analysis between the base SAE and a base SAE of another seed (matched pairs from
``null_pairs.csv``) is the null baseline: significant "changes" there are seed noise.

The stage computes everything first (:func:`analyse` -> :class:`DeltasAnalysis`, arrays only), then
one writer per output file (names in :class:`featevo.layout.DeltasFiles`, columns in
:mod:`featevo.results`): the study's comprehensive table 2.2 (corrected), its tables 2.1/2.3, summary
2.4, ranking 3.0 and figure 3.1, plus the contexts and the labelling order for stages 04 and 05.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from featevo.config import PipelineConfig
from featevo.data import FINANCIAL, GENERAL, Doc, load_probe
from featevo.io import StageRun, atomic_write_json, hash_inputs, require_stage, stage_is_current
from featevo.layout import (
    COMPARE, DELTAS, TRAIN, DeltasFiles, contexts_path, display_path, models as run_models,
    null_sae_names, resolve_repo_path, sae_dir, sae_specs, stage_dir,
)
from featevo.probe import ACTIVATION_UNIT, Source, doc_aggregates, eval_source, harvest_probe, top_contexts
from featevo.results import FEATURE_TABLE, PER_CATEGORY, RANKING, TOP_FEATURES, CompareResult, MatchedPairs
from featevo.sae import load_sae
from featevo.stats import (
    bh_qvalues, percentile_ci, permutation_test_groups, sign_flip_test, stratified_bootstrap_weights,
)

logger = logging.getLogger(__name__)

EPS = 1e-8
MODEL_KEYS = ("base", "tuned")  # the two sides of the primary comparison


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def specialization(fin: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """(fin - gen) / (fin + gen + 1e-8): +1 financial only, -1 general only, 0 no preference."""
    return (fin - gen) / (fin + gen + EPS)


# --------------------------------------------------------------------------------------------
# Statistics per SAE and per matched pair
# --------------------------------------------------------------------------------------------
@dataclass
class LatentStats:
    fin: np.ndarray
    gen: np.ndarray
    spec: np.ndarray
    fin_boot: np.ndarray   # [B, L]
    gen_boot: np.ndarray
    diff: np.ndarray       # fin - gen (permutation statistic)
    p: np.ndarray
    q: np.ndarray
    freq_fin: np.ndarray
    freq_gen: np.ndarray

    @property
    def spec_boot(self) -> np.ndarray:
        return specialization(self.fin_boot, self.gen_boot)

    def significant_financial(self, alpha: float) -> np.ndarray:
        return (self.q <= alpha) & (self.diff > 0)

    def significant_general(self, alpha: float) -> np.ndarray:
        return (self.q <= alpha) & (self.diff < 0)


def latent_stats(X: np.ndarray, F: np.ndarray, is_fin: np.ndarray, boot: dict, n_perm: int, seed: int) -> LatentStats:
    (idx_f, W_f), (idx_g, W_g) = boot[FINANCIAL], boot[GENERAL]
    fin, gen = X[is_fin].mean(0), X[~is_fin].mean(0)
    diff, p = permutation_test_groups(X, is_fin, n_perm, seed)
    return LatentStats(fin=fin, gen=gen, spec=specialization(fin, gen), fin_boot=W_f @ X[idx_f],
                       gen_boot=W_g @ X[idx_g], diff=diff, p=p, q=bh_qvalues(p), freq_fin=F[is_fin].mean(0),
                       freq_gen=F[~is_fin].mean(0))


@dataclass
class PairStats:
    a: np.ndarray           # base latents
    b: np.ndarray           # other SAE's latents
    delta: np.ndarray
    delta_lo: np.ndarray
    delta_hi: np.ndarray
    spec_change: np.ndarray
    spec_change_lo: np.ndarray
    spec_change_hi: np.ndarray
    p: np.ndarray
    q: np.ndarray


def pair_stats(a: np.ndarray, b: np.ndarray, Xa: np.ndarray, Xb: np.ndarray, sa: LatentStats, sb: LatentStats,
               is_fin: np.ndarray, level: float, n_perm: int, seed: int) -> PairStats:
    """Deltas (b minus a) of matched pairs with paired bootstrap CIs and sign-flip p / BH q."""
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    if len(a) == 0:
        e = np.zeros(0)
        return PairStats(a, b, e, e, e, e, e, e, e, e)
    delta = sb.fin[b] - sa.fin[a]
    lo, hi = percentile_ci(sb.fin_boot[:, b] - sa.fin_boot[:, a], level)
    sc = sb.spec[b] - sa.spec[a]
    slo, shi = percentile_ci(sb.spec_boot[:, b] - sa.spec_boot[:, a], level)
    D = Xb[is_fin][:, b] - Xa[is_fin][:, a]
    _, p = sign_flip_test(D, n_perm, seed)
    return PairStats(a, b, delta, lo, hi, sc, slo, shi, p, bh_qvalues(p))


def relative_change(delta: np.ndarray, base: np.ndarray, tuned: np.ndarray) -> np.ndarray:
    """Symmetric relative change 2 (tuned - base) / (tuned + base + 1e-8), in [-2, 2]."""
    return 2.0 * delta / (tuned + base + EPS)


def seed_noise_threshold(null: PairStats | None, sa: LatentStats, sn: LatentStats | None,
                         q: float = 0.95) -> float | None:
    """The ``q`` quantile of |relative change| over the null baseline's matched pairs."""
    if null is None or sn is None or len(null.delta) == 0:
        return None
    rel = relative_change(null.delta, sa.fin[null.a], sn.fin[null.b])
    return float(np.quantile(np.abs(rel), q))


def pair_type(sig: bool, delta: float, tuned_fin_sig: bool, tuned_gen_sig: bool) -> str:
    """``financial-gained``/``financial-lost``: BH-significant change of the financial score;
    otherwise ``stable-financial``/``stable-general`` when the tuned latent prefers one domain
    significantly, else ``stable``."""
    if sig:
        return "financial-gained" if delta > 0 else "financial-lost"
    if tuned_fin_sig:
        return "stable-financial"
    if tuned_gen_sig:
        return "stable-general"
    return "stable"


def unmatched_type(cls: str, fin_sig: bool, gen_sig: bool) -> str:
    if cls == "dead":
        return "dead"
    return f"{cls}-financial" if fin_sig else f"{cls}-general" if gen_sig else cls


# --------------------------------------------------------------------------------------------
# The analysis, in memory
# --------------------------------------------------------------------------------------------
@dataclass
class ProbeInfo:
    """The probe set as the statistics see it."""

    docs: list[Doc]
    is_fin: np.ndarray           # [docs] bool
    cat_of: np.ndarray           # [docs] category
    categories: list[str]        # categories present, financial ones first (config order)
    cat_domain: list[str]        # their domains
    tokens: int                  # kept tokens (SAE rows)
    file: str

    @property
    def n_financial_categories(self) -> int:
        return sum(d == FINANCIAL for d in self.cat_domain)


def probe_info(cfg: PipelineConfig, docs: list[Doc], probe: Source) -> ProbeInfo:
    present = {d.category for d in docs}
    categories = [c for c in cfg.data.financial_categories + cfg.data.general_categories if c in present]
    return ProbeInfo(docs, np.array([d.domain == FINANCIAL for d in docs]), np.array([d.category for d in docs]),
                     categories, [FINANCIAL if c in cfg.data.financial_categories else GENERAL for c in categories],
                     len(probe.row_doc), display_path(resolve_repo_path(cfg.data.probe)))


@dataclass
class CategoryMeans:
    """Per category (rows in :attr:`ProbeInfo.categories` order), the mean over its sentences."""

    mean: dict[str, np.ndarray]  # base/tuned -> [categories, d_sae] sentence-mean activation
    freq: dict[str, np.ndarray]  # base/tuned -> [categories, d_sae] firing frequency
    n_sentences: list[int]


def category_means(X: dict, F: dict, info: ProbeInfo) -> CategoryMeans:
    sel = [info.cat_of == c for c in info.categories]
    return CategoryMeans({n: np.stack([X[n][s].mean(0) for s in sel]) for n in MODEL_KEYS},
                         {n: np.stack([F[n][s].mean(0) for s in sel]) for n in MODEL_KEYS},
                         [int(s.sum()) for s in sel])


@dataclass
class Unmatched:
    """The latents of one SAE without a matched partner (stage 02 class new, lost, split or dead)."""

    latent: np.ndarray
    cls: np.ndarray
    decoder_cosine: np.ndarray   # to its decoder-Hungarian partner (NaN for none)
    type: np.ndarray             # :func:`unmatched_type`


@dataclass
class SaeSide:
    """Per-latent results of the base or the tuned SAE."""

    stats: LatentStats
    fin_lo: np.ndarray           # bootstrap percentile interval of the financial score
    fin_hi: np.ndarray
    spec_lo: np.ndarray          # ... and of the specialization
    spec_hi: np.ndarray
    cls: np.ndarray              # stage 02 class of every latent
    unmatched: Unmatched


@dataclass
class DeltasAnalysis:
    """Everything stage 03 writes, as arrays: the writers below turn it into files."""

    probe: ProbeInfo
    stats: dict[str, LatentStats]   # every SAE of the run (sae_specs order)
    fin_sig: dict[str, np.ndarray]  # significantly financial latents, per SAE
    gen_sig: dict[str, np.ndarray]  # significantly general latents, per SAE
    sides: dict[str, SaeSide]       # base, tuned
    categories: CategoryMeans
    pairs: MatchedPairs             # stage 02's matched base/tuned pairs
    main: PairStats                 # their deltas
    null: dict[str, PairStats]      # base vs each seed-baseline SAE
    significant: np.ndarray         # [pairs] q <= alpha
    relative: np.ndarray            # [pairs] relative change
    change_pct: np.ndarray          # [pairs] NaN where blank (tiny base score)
    pct_floor: float
    types: np.ndarray               # [pairs] :func:`pair_type`
    noise: float | None             # seed-noise threshold of |relative change|
    beyond: np.ndarray | None       # [pairs] significant and beyond seed noise (None without a null)

    @property
    def first_null(self) -> str | None:
        return next(iter(self.null), None)

    def by_delta(self) -> np.ndarray:
        """Pair indices, largest increase of the financial score first."""
        return np.argsort(-self.main.delta, kind="stable")

    def by_abs_delta(self) -> np.ndarray:
        return np.argsort(-np.abs(self.main.delta), kind="stable")


def sae_statistics(cfg: PipelineConfig, probe: Source, info: ProbeInfo) -> tuple[dict, dict, dict]:
    """Per SAE (``sae_specs`` order): per-sentence mean activation X and firing frequency F
    [sentences, d_sae], and the per-latent :class:`LatentStats`."""
    dc, names = cfg.deltas, list(sae_specs(cfg))
    X, F = {}, {}
    for n in names:
        X[n], F[n] = doc_aggregates(probe.z[n], probe.row_doc, len(info.docs))
    boot = stratified_bootstrap_weights(np.where(info.is_fin, FINANCIAL, GENERAL), dc.n_bootstrap, cfg.seed)
    stats = {n: latent_stats(X[n], F[n], info.is_fin, boot, dc.n_permutations, cfg.seed)
             for n in tqdm(names, desc="latent statistics", unit="sae")}
    return X, F, stats


def _side(side: str, st: LatentStats, s2r: CompareResult, level: float, fin_sig: np.ndarray,
          gen_sig: np.ndarray) -> SaeSide:
    cls_of = s2r.latent_class()
    cls = np.array([cls_of.get((side, j)) for j in range(len(st.fin))], dtype=object)
    t = s2r.unmatched_latents(side)
    latent, ucls = t["latent"], t["class"]
    types = np.array([unmatched_type(c, bool(fin_sig[j]), bool(gen_sig[j])) for c, j in zip(ucls, latent)],
                     dtype=object)
    fin_lo, fin_hi = percentile_ci(st.fin_boot, level)
    spec_lo, spec_hi = percentile_ci(st.spec_boot, level)
    return SaeSide(st, fin_lo, fin_hi, spec_lo, spec_hi, cls, Unmatched(latent, ucls, t["decoder_cosine"], types))


def analyse(cfg: PipelineConfig, probe: Source, info: ProbeInfo, s2r: CompareResult) -> DeltasAnalysis:
    """Statistics of every latent and of every matched pair (main and null) on the probe set."""
    dc = cfg.deltas
    X, F, stats = sae_statistics(cfg, probe, info)
    fin_sig = {n: s.significant_financial(dc.alpha) for n, s in stats.items()}
    gen_sig = {n: s.significant_general(dc.alpha) for n, s in stats.items()}
    sides = {n: _side(n, stats[n], s2r, dc.ci, fin_sig[n], gen_sig[n]) for n in MODEL_KEYS}

    def deltas_of(pairs: MatchedPairs, other: str) -> PairStats:
        return pair_stats(pairs.base, pairs.other, X["base"], X[other], stats["base"], stats[other], info.is_fin,
                          dc.ci, dc.n_permutations, cfg.seed)

    pairs = s2r.matched()
    ps = deltas_of(pairs, "tuned")
    null = {n: deltas_of(s2r.matched(n), n) for n in null_sae_names(cfg)}
    sb, stt = stats["base"], stats["tuned"]
    first = next(iter(null), None)
    noise = seed_noise_threshold(null[first], sb, stats[first]) if first else None
    sig = ps.q <= dc.alpha
    rel = relative_change(ps.delta, sb.fin[ps.a], stt.fin[ps.b]) if len(pairs) else np.zeros(0)
    live_base = sb.fin[sb.fin > 0]
    pct_floor = 0.01 * float(np.median(live_base)) if live_base.size else EPS
    base_fin = sb.fin[ps.a]
    pct_ok = (base_fin >= pct_floor) & (base_fin > 0)
    change_pct = np.where(pct_ok, 100.0 * ps.delta / np.where(pct_ok, base_fin, 1.0), np.nan)
    types = np.array([pair_type(bool(sig[k]), float(ps.delta[k]), bool(fin_sig["tuned"][b]),
                                bool(gen_sig["tuned"][b])) for k, b in enumerate(ps.b)], dtype=object)
    return DeltasAnalysis(
        probe=info, stats=stats, fin_sig=fin_sig, gen_sig=gen_sig, sides=sides,
        categories=category_means(X, F, info), pairs=pairs, main=ps, null=null, significant=sig, relative=rel,
        change_pct=change_pct, pct_floor=pct_floor, types=types, noise=noise,
        beyond=(sig & (np.abs(rel) > noise)) if noise is not None else None,
    )


# --------------------------------------------------------------------------------------------
# Writers (one per output file)
# --------------------------------------------------------------------------------------------
def _opt(x) -> float | None:
    return None if np.isnan(x) else x


def pair_row(a: DeltasAnalysis, k: int) -> dict:
    """Matched pair ``k`` as a row of the feature table."""
    p, ps, b, t = a.pairs, a.main, a.sides["base"], a.sides["tuned"]
    i, j = int(p.base[k]), int(p.other[k])
    return {
        "pair_id": int(p.pair_id[k]), "base_latent": i, "tuned_latent": j, "class": p.cls[k], "type": a.types[k],
        "decoder_cosine": p.decoder_cosine[k], "activation_correlation": p.activation_correlation[k],
        "base_fin_score": b.stats.fin[i], "base_fin_ci_low": b.fin_lo[i], "base_fin_ci_high": b.fin_hi[i],
        "tuned_fin_score": t.stats.fin[j], "tuned_fin_ci_low": t.fin_lo[j], "tuned_fin_ci_high": t.fin_hi[j],
        "base_gen_score": b.stats.gen[i], "tuned_gen_score": t.stats.gen[j],
        "delta_matched": ps.delta[k], "delta_ci_low": ps.delta_lo[k], "delta_ci_high": ps.delta_hi[k],
        "change_pct_matched": _opt(a.change_pct[k]), "relative_change_matched": a.relative[k],
        "beyond_seed_noise": bool(a.beyond[k]) if a.beyond is not None else None,
        "base_specialization": b.stats.spec[i], "base_specialization_ci_low": b.spec_lo[i],
        "base_specialization_ci_high": b.spec_hi[i],
        "tuned_specialization": t.stats.spec[j], "tuned_specialization_ci_low": t.spec_lo[j],
        "tuned_specialization_ci_high": t.spec_hi[j],
        "specialization_change": ps.spec_change[k], "specialization_change_ci_low": ps.spec_change_lo[k],
        "specialization_change_ci_high": ps.spec_change_hi[k],
        "p_value": ps.p[k], "q_value": ps.q[k], "significant": bool(a.significant[k]),
        "base_financial_q": b.stats.q[i], "tuned_financial_q": t.stats.q[j],
    }


def unmatched_rows(a: DeltasAnalysis, side: str) -> list[dict]:
    """The unmatched latents of SAE ``side`` as rows of the feature table."""
    s = a.sides[side]
    u, st = s.unmatched, s.stats
    return [{
        f"{side}_latent": int(j), "class": u.cls[r], "type": u.type[r], "decoder_cosine": u.decoder_cosine[r],
        f"{side}_fin_score": st.fin[j], f"{side}_fin_ci_low": s.fin_lo[j], f"{side}_fin_ci_high": s.fin_hi[j],
        f"{side}_gen_score": st.gen[j], f"{side}_specialization": st.spec[j],
        f"{side}_specialization_ci_low": s.spec_lo[j], f"{side}_specialization_ci_high": s.spec_hi[j],
        f"{side}_financial_q": st.q[j],
    } for r, j in enumerate(u.latent)]


def write_per_category(folder: Path, a: DeltasAnalysis) -> None:
    cm, info = a.categories, a.probe
    PER_CATEGORY.write(folder, (
        {"model": n, "latent": j, "category": c, "domain": info.cat_domain[ci],
         "mean_activation": float(cm.mean[n][ci, j]), "frequency": float(cm.freq[n][ci, j]),
         "n_sentences": cm.n_sentences[ci]}
        for n in MODEL_KEYS for ci, c in enumerate(info.categories) for j in range(cm.mean[n].shape[1])))


def write_feature_table(folder: Path, a: DeltasAnalysis) -> None:
    FEATURE_TABLE.write(folder, [pair_row(a, k) for k in range(len(a.pairs))]
                        + unmatched_rows(a, "base") + unmatched_rows(a, "tuned"))


def write_ranking(folder: Path, a: DeltasAnalysis) -> None:
    fields = [f for f in RANKING.fields if f != "rank"]
    RANKING.write(folder, ({"rank": rank, **{f: row[f] for f in fields}}
                           for rank, row in enumerate((pair_row(a, int(k)) for k in a.by_delta()), start=1)))


def top_feature_rows(a: DeltasAnalysis, side: str, top_n: int) -> list[dict]:
    """The ``top_n`` significantly financial latents of SAE ``side`` by fin - gen, with their partners."""
    s, ps = a.sides[side], a.main
    st, other = s.stats, ("tuned" if side == "base" else "base")
    mine, theirs = (ps.a, ps.b) if side == "base" else (ps.b, ps.a)
    partner = {int(j): k for k, j in enumerate(mine)}
    cand = np.flatnonzero(a.fin_sig[side])
    cand = cand[np.argsort(-st.diff[cand], kind="stable")][:top_n]
    rows = []
    for rank, j in enumerate(cand, start=1):
        row = {"model": side, "rank": rank, "latent": int(j), "class": s.cls[j],
               "fin_score": st.fin[j], "fin_ci_low": s.fin_lo[j], "fin_ci_high": s.fin_hi[j], "gen_score": st.gen[j],
               "fin_minus_gen": st.diff[j], "specialization": st.spec[j], "specialization_ci_low": s.spec_lo[j],
               "specialization_ci_high": s.spec_hi[j], "p_value": st.p[j], "q_value": st.q[j],
               "frequency_fin": st.freq_fin[j], "frequency_gen": st.freq_gen[j]}
        k = partner.get(int(j))
        if k is not None:
            mj = int(theirs[k])
            row.update({"pair_id": int(a.pairs.pair_id[k]), "matched_latent": mj,
                        "matched_fin_score": a.stats[other].fin[mj], "delta_matched": ps.delta[k],
                        "delta_ci_low": ps.delta_lo[k], "delta_ci_high": ps.delta_hi[k], "delta_q_value": ps.q[k]})
        rows.append(row)
    return rows


def write_top_features(folder: Path, a: DeltasAnalysis, top_n: int) -> None:
    TOP_FEATURES.write(folder, [r for side in MODEL_KEYS for r in top_feature_rows(a, side, top_n)])


def interesting_latents(a: DeltasAnalysis) -> dict:
    """The order in which stage 04 labels latents: BH-significant pairs first (those beyond seed noise
    ahead), then shifted ones, then the rest; per SAE, the latents of the significant pairs, then its
    unmatched or shifted latents, then every other live one (by domain-test q, then |fin - gen|)."""
    by_abs, sig, beyond, cls = a.by_abs_delta(), a.significant, a.beyond, a.pairs.cls
    sig_pairs = ([int(k) for k in by_abs if beyond is not None and beyond[k]]
                 + [int(k) for k in by_abs if sig[k] and (beyond is None or not beyond[k])])
    shifted_pairs = [int(k) for k in by_abs if not sig[k] and cls[k] == "shifted"]
    rest_pairs = [int(k) for k in by_abs if not sig[k] and cls[k] != "shifted"]
    out = {"pairs": [int(a.pairs.pair_id[k]) for k in sig_pairs + shifted_pairs + rest_pairs]}
    for side, odd, latents in (("base", "lost", a.main.a), ("tuned", "new", a.main.b)):
        s = a.sides[side]
        seen = [int(latents[k]) for k in sig_pairs]
        taken = set(seen)
        order = np.lexsort((-np.abs(s.stats.diff), s.stats.q))
        for j in [int(j) for j in order if s.cls[j] in (odd, "split", "shifted")] + [int(j) for j in order
                                                                                       if s.cls[j] != "dead"]:
            if j not in taken:
                seen.append(j)
                taken.add(j)
        out[side] = seen
    return out


def write_contexts(cfg: PipelineConfig, folder: Path, probe: Source, saes: dict) -> None:
    """``contexts/<base|tuned>.json``: per latent, its top-activating sentences (for stages 04 and 05)."""
    from featevo.models import load_tokenizer

    dc = cfg.deltas
    tok = load_tokenizer(run_models(cfg)["base"])
    sources = [probe]
    if dc.contexts_from_eval:
        sae_models = {n: s.model for n, s in sae_specs(cfg).items()}
        sources.append(eval_source(stage_dir(cfg, TRAIN), saes, sae_models, MODEL_KEYS))
    for n in MODEL_KEYS:
        ctx = top_contexts(sources, n, dc.contexts_per_latent, dc.context_window, tok)
        atomic_write_json(contexts_path(folder, n), {
            "sae": n, "activation_unit": ACTIVATION_UNIT, "context_window": dc.context_window,
            "sources": {s.name: {"documents": len(s.docs)} for s in sources},
            "note": "per latent: top-activating sentences (one context per sentence); 'doc' indexes the "
                    "source ('probe': data.probe lines in file order; 'eval': 01_train_sae/eval/docs.jsonl); "
                    "tokens are the kept (SAE) tokens around the maximum; max_pos indexes tokens/acts",
            "latents": ctx,
        })


def write_four_panel(folder: Path, a: DeltasAnalysis, top_n: int) -> None:
    """The study's figure 3.1 on the ``top_n`` pairs with the largest |delta|."""
    from featevo.figures import four_panel

    ps, b, t, beyond = a.main, a.sides["base"], a.sides["tuned"], a.beyond
    top_k = [int(k) for k in a.by_abs_delta()[:top_n]]
    top = [{"label": f"b{ps.a[k]}->t{ps.b[k]}",
            "base": b.stats.fin[ps.a[k]], "base_lo": b.fin_lo[ps.a[k]], "base_hi": b.fin_hi[ps.a[k]],
            "tuned": t.stats.fin[ps.b[k]], "tuned_lo": t.fin_lo[ps.b[k]], "tuned_hi": t.fin_hi[ps.b[k]],
            "significant": bool(a.significant[k]),
            "beyond_seed_noise": bool(beyond[k]) if beyond is not None else False}
           for k in top_k]
    cm = a.categories.mean
    heat = (np.stack([cm["tuned"][:, ps.b[k]] - cm["base"][:, ps.a[k]] for k in top_k])
            if top_k else np.zeros((0, len(a.probe.categories))))
    null_delta = a.null[a.first_null].delta if a.first_null else None
    four_panel(top, b.stats.spec[ps.a], t.stats.spec[ps.b], a.significant, ps.delta, a.significant, null_delta, heat,
               [r["label"] for r in top], a.probe.categories, a.probe.n_financial_categories,
               folder / DeltasFiles.FOUR_PANEL, activation_unit=ACTIVATION_UNIT)


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------
SUMMARY_PAIR_FIELDS = ("pair_id", "base_latent", "tuned_latent", "class", "type", "base_fin_score", "tuned_fin_score",
                       "delta_matched", "delta_ci_low", "delta_ci_high", "change_pct_matched",
                       "relative_change_matched", "p_value", "q_value", "significant", "beyond_seed_noise")


def pair_summary(p: PairStats, base_fin: np.ndarray, other_fin: np.ndarray, alpha: float) -> dict:
    """Counts and sizes of the changes of a set of matched pairs (base vs tuned, or a null)."""
    sig = p.q <= alpha
    rel = relative_change(p.delta, base_fin[p.a], other_fin[p.b]) if len(p.delta) else np.zeros(0)
    return {
        "matched_pairs": int(len(p.delta)),
        "positive_change": int((p.delta > 0).sum()), "negative_change": int((p.delta < 0).sum()),
        "significant_after_bh": int(sig.sum()),
        "significant_positive": int((sig & (p.delta > 0)).sum()),
        "significant_negative": int((sig & (p.delta < 0)).sum()),
        "ci_excludes_zero": int(((p.delta_lo > 0) | (p.delta_hi < 0)).sum()),
        "mean_delta": float(p.delta.mean()) if len(p.delta) else None,
        "mean_abs_delta": float(np.abs(p.delta).mean()) if len(p.delta) else None,
        "p95_abs_delta": float(np.quantile(np.abs(p.delta), 0.95)) if len(p.delta) else None,
        "p95_abs_relative_change": float(np.quantile(np.abs(rel), 0.95)) if len(rel) else None,
    }


def _definitions(pct_floor: float) -> dict:
    return {
        "activation": f"SAE latent activation ({ACTIVATION_UNIT}) per token; "
                      "sentence value = mean over its kept tokens",
        "fin_score": "mean sentence value over financial probe sentences",
        "gen_score": "mean sentence value over general probe sentences",
        "specialization": "(fin - gen) / (fin + gen + 1e-8)",
        "delta_matched": "fin_score(tuned latent) - fin_score(matched base latent)",
        "change_pct_matched": f"100 * delta_matched / base fin_score; blank when base fin_score < {pct_floor:.3g} "
                              "(1% of the median base score)",
        "p_value": "paired sign-flip permutation test over financial sentences; q_value: Benjamini-Hochberg",
        "relative_change_matched": "2 * delta_matched / (fin(tuned) + fin(base) + 1e-8)",
        "beyond_seed_noise": "significant and |relative change| above the 95th percentile of the seed "
                             "baseline's matched pairs",
        "financial_latent": "fin - gen > 0 with BH q <= alpha (domain-label permutation test)",
    }


def _type_counts(a: DeltasAnalysis) -> dict[str, int]:
    """Pairs and unmatched latents per type, in feature-table order of first appearance."""
    counts: dict[str, int] = {}
    for t in [*a.types, *a.sides["base"].unmatched.type, *a.sides["tuned"].unmatched.type]:
        counts[t] = counts.get(t, 0) + 1
    return counts


def build_summary(cfg: PipelineConfig, a: DeltasAnalysis) -> dict:
    """``summary.json`` (the study's 2.4), without the wall time."""
    dc, info, ps, first = cfg.deltas, a.probe, a.main, a.first_null
    base_fin = a.stats["base"].fin
    pct = a.change_pct[~np.isnan(a.change_pct)]

    def entry(k) -> dict:
        row = pair_row(a, int(k))
        return {f: row[f] for f in SUMMARY_PAIR_FIELDS}

    return {
        "description": "financial-score changes of matched latent pairs (stage 02 decoder Hungarian pairs of class "
                       "shared/shifted), not index-to-index; see featevo/deltas.py for definitions",
        "definitions": _definitions(a.pct_floor),
        "alpha": dc.alpha, "ci": dc.ci, "n_bootstrap": dc.n_bootstrap, "n_permutations": dc.n_permutations,
        "probe": {"sentences": len(info.docs), "financial": int(info.is_fin.sum()),
                  "general": int((~info.is_fin).sum()), "tokens": info.tokens, "categories": info.categories,
                  "file": info.file},
        "base_vs_tuned": {**pair_summary(ps, base_fin, a.stats["tuned"].fin, dc.alpha),
                          "beyond_seed_noise": int(a.beyond.sum()) if a.beyond is not None else None,
                          "seed_noise_relative_change_p95": a.noise,
                          "seed_noise_from": f"{first} ({len(a.null[first].delta)} matched pairs)" if first else None},
        "null_baselines": {n: pair_summary(p, base_fin, a.stats[n].fin, dc.alpha) for n, p in a.null.items()},
        "mean_change_pct_matched": float(pct.mean()) if pct.size else None,
        "median_change_pct_matched": float(np.median(pct)) if pct.size else None,
        "max_improvement": entry(np.argmax(ps.delta)) if len(a.pairs) else None,
        "max_decline": entry(np.argmin(ps.delta)) if len(a.pairs) else None,
        "top5_by_abs_delta": [entry(k) for k in a.by_abs_delta()[:5]],
        "top5_improvements": [entry(k) for k in a.by_delta()[:5]],
        "financial_latents": {n: int(s.sum()) for n, s in a.fin_sig.items()},
        "general_latents": {n: int(s.sum()) for n, s in a.gen_sig.items()},
        "type_counts": _type_counts(a),
        "contexts": {"sources": ["probe"] + (["eval"] if dc.contexts_from_eval else []),
                     "note": "probe = data.probe sentences; eval = stage 01 held-out eval split; neither was used "
                             "to train the SAEs"},
    }


# --------------------------------------------------------------------------------------------
# Stage
# --------------------------------------------------------------------------------------------
def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 03 (needs stages 01 and 02); returns the stage folder."""
    from featevo.models import resolve_device

    require_stage(cfg, TRAIN)
    require_stage(cfg, COMPARE)
    files = hash_inputs([resolve_repo_path(cfg.data.probe)])
    if not force and stage_is_current(cfg, DELTAS, files):
        logger.info("stage %s is up to date (use --force to rerun): %s", DELTAS, display_path(stage_dir(cfg, DELTAS)))
        return stage_dir(cfg, DELTAS)
    t0 = time.time()
    device = resolve_device(cfg.device)
    docs = load_probe(cfg.data, min_per_category=cfg.deltas.min_per_category)
    st = StageRun(cfg, DELTAS, input_files=files, device=str(device)).open()
    s2r = CompareResult.load(stage_dir(cfg, COMPARE))
    specs = sae_specs(cfg)
    saes = {n: load_sae(sae_dir(stage_dir(cfg, TRAIN), n), device) for n in specs}
    probe = harvest_probe(cfg, docs, saes, {n: s.model for n, s in specs.items()}, device)
    info = probe_info(cfg, docs, probe)
    logger.info("probe: %d sentences (%d financial, %d general), %d tokens, %d categories",
                len(docs), int(info.is_fin.sum()), int((~info.is_fin).sum()), info.tokens, len(info.categories))

    a = analyse(cfg, probe, info, s2r)
    write_per_category(st.dir, a)
    write_feature_table(st.dir, a)
    write_ranking(st.dir, a)
    write_top_features(st.dir, a, cfg.deltas.top_n)
    atomic_write_json(st.dir / DeltasFiles.INTERESTING, interesting_latents(a))
    write_contexts(cfg, st.dir, probe, saes)
    write_four_panel(st.dir, a, cfg.deltas.top_n)
    summary = {**build_summary(cfg, a), "wall_time_s": round(time.time() - t0, 2)}
    atomic_write_json(st.dir / DeltasFiles.SUMMARY, summary)
    bt = summary["base_vs_tuned"]
    logger.info("matched pairs %d: %d up / %d down, %d BH-significant, %s beyond seed noise (null %s); "
                "financial latents base %d, tuned %d",
                bt["matched_pairs"], bt["positive_change"], bt["negative_change"], bt["significant_after_bh"],
                bt["beyond_seed_noise"],
                ", ".join(f"{n} {v['significant_after_bh']}" for n, v in summary["null_baselines"].items()) or "n/a",
                summary["financial_latents"]["base"], summary["financial_latents"]["tuned"])
    st.commit()
    return stage_dir(cfg, DELTAS)
