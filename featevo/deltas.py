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

Outputs in ``outputs/<run>/03_activation_deltas/``: ``per_category.csv``, ``feature_table.csv``
(the study's "2.2 comprehensive" table, corrected), ``top_financial_features.csv`` (2.1/2.3),
``summary.json`` (2.4), ``ranking_by_delta.csv`` (3.0), ``four_panel.png``/``.svg`` (3.1),
``contexts/<base|tuned>.json`` and ``interesting_latents.json`` (for stages 04 and 05).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from featevo.activations import ActivationStore, TokenTable, iter_layer_rows, tokenize_docs
from featevo.config import PipelineConfig
from featevo.data import FINANCIAL, GENERAL, Doc, load_probe
from featevo.io import StageRun, atomic_write_json, hash_inputs, require_stage, stage_is_current
from featevo.layout import (
    COMPARE, DELTAS, TRAIN, DeltasFiles, acts_dir, contexts_path, display_path, models as run_models, null_sae_names,
    resolve_repo_path, sae_dir, sae_specs, split_dir, stage_dir,
)
from featevo.results import (
    FEATURE_TABLE, MATCHED_CLASSES, PER_CATEGORY, RANKING, TOP_FEATURES, CompareResult,
)
from featevo.sae import encode, load_sae
from featevo.stats import (
    bh_qvalues, percentile_ci, permutation_test_groups, sign_flip_test, stratified_bootstrap_weights,
)

logger = logging.getLogger(__name__)

EPS = 1e-8
ACTIVATION_UNIT = "activation x decoder norm"


# --------------------------------------------------------------------------------------------
# Probe activations
# --------------------------------------------------------------------------------------------
@dataclass
class Source:
    """Latent activations of one token stream (probe set or stage 01's eval split)."""

    name: str
    docs: list[Doc]
    row_doc: np.ndarray      # [rows] document of each SAE row (non-decreasing)
    row_token: np.ndarray    # [rows] token id
    z: dict[str, np.ndarray]  # SAE name -> [rows, d_sae] float32 activations x decoder norm

    @property
    def doc_start(self) -> np.ndarray:
        return np.searchsorted(self.row_doc, np.arange(len(self.docs) + 1))


def _scaled_encode(sae, x: torch.Tensor) -> np.ndarray:
    norms = sae.W_dec.detach().norm(dim=1).cpu()
    return (encode(sae, x) * norms).numpy().astype(np.float32)


def harvest_probe(cfg: PipelineConfig, docs: list[Doc], saes: dict, sae_models: dict, device) -> Source:
    """Tokenise the probe set as stage 01 does, run both models, encode with every SAE."""
    from featevo.models import load_model, load_tokenizer

    models = run_models(cfg)
    tok = load_tokenizer(models["base"])
    tokens = tokenize_docs(tok, docs, cfg.harvest.max_length, cfg.harvest.exclude_special_tokens)
    rows = tokens["keep_mask"].nonzero(as_tuple=False)
    z = {}
    for mkey in ("base", "tuned"):
        model = load_model(models[mkey], head="none", device=device, dtype=cfg.harvest.dtype)
        acts = torch.cat(list(iter_layer_rows(model, tokens, cfg.harvest.layer, cfg.harvest.batch_size, device,
                                              desc=f"probe {mkey}")))
        del model
        for name, mk in sae_models.items():
            if mk == mkey:
                z[name] = _scaled_encode(saes[name], acts)
    return Source("probe", list(docs), rows[:, 0].numpy(), tokens["input_ids"][tokens["keep_mask"]].numpy(), z)


def eval_source(s1: Path, saes: dict, sae_models: dict, names: tuple[str, ...]) -> Source:
    """Stage 01's held-out eval split, encoded with the SAEs ``names``."""
    tt = TokenTable(split_dir(s1, "eval"))
    z = {n: _scaled_encode(saes[n], ActivationStore(acts_dir(s1, "eval", sae_models[n])).read_all()) for n in names}
    return Source("eval", tt.docs, tt.row_doc, tt.row_token, z)


def doc_aggregates(z: np.ndarray, row_doc: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence mean activation and firing frequency [n_docs, d_sae] (float64)."""
    idx = torch.as_tensor(row_doc, dtype=torch.long)
    zt = torch.as_tensor(z, dtype=torch.float64)
    sums = torch.zeros(n_docs, z.shape[1], dtype=torch.float64).index_add_(0, idx, zt)
    fires = torch.zeros(n_docs, z.shape[1], dtype=torch.float64).index_add_(0, idx, (zt > 0).double())
    n = torch.bincount(idx, minlength=n_docs).clamp(min=1).double()[:, None]
    return (sums / n).numpy(), (fires / n).numpy()


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
    return LatentStats(fin=fin, gen=gen, spec=specialization(fin, gen), fin_boot=W_f @ X[idx_f], gen_boot=W_g @ X[idx_g],
                       diff=diff, p=p, q=bh_qvalues(p), freq_fin=F[is_fin].mean(0), freq_gen=F[~is_fin].mean(0))


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


def seed_noise_threshold(null: PairStats | None, sa: LatentStats, sn: LatentStats | None, q: float = 0.95) -> float | None:
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
# Contexts
# --------------------------------------------------------------------------------------------
def top_contexts(sources: list[Source], name: str, k: int, window: int, tokenizer) -> dict[str, list[dict]]:
    """Per latent of SAE ``name``: the ``k`` sentences with the highest activation (one context per
    sentence), each windowed ``window`` kept tokens either side of its maximum."""
    d_sae = sources[0].z[name].shape[1]
    maxima, where = [], []
    for si, src in enumerate(sources):
        z = torch.as_tensor(src.z[name])
        idx = torch.as_tensor(src.row_doc, dtype=torch.long)[:, None].expand(-1, d_sae)
        m = torch.zeros(len(src.docs), d_sae).scatter_reduce(0, idx, z, reduce="amax", include_self=True)
        maxima.append(m.numpy())
        where.append(np.stack([np.full(len(src.docs), si), np.arange(len(src.docs))], 1))
    M = np.concatenate(maxima)           # [all docs, d_sae]
    W = np.concatenate(where)            # [all docs, 2] (source, doc)
    starts = [src.doc_start for src in sources]
    out: dict[str, list[dict]] = {}
    for j in tqdm(range(d_sae), desc=f"contexts {name}", unit="latent"):
        col = M[:, j]
        order = np.argsort(-col, kind="stable")[:k]
        ctxs = []
        for r in order:
            if col[r] <= 0:
                break
            si, doc = int(W[r, 0]), int(W[r, 1])
            src = sources[si]
            s, e = int(starts[si][doc]), int(starts[si][doc + 1])
            acts = src.z[name][s:e, j]
            p = int(np.argmax(acts))
            lo, hi = max(0, p - window), min(e - s, p + window + 1)
            ctxs.append({
                "source": src.name, "doc": doc, "text": src.docs[doc].text, "category": src.docs[doc].category,
                "tokens": tokenizer.convert_ids_to_tokens([int(t) for t in src.row_token[s + lo : s + hi]]),
                "acts": [round(float(v), 5) for v in acts[lo:hi]],
                "max_pos": p - lo, "max_act": round(float(acts[p]), 5),
            })
        out[str(j)] = ctxs
    return out


# --------------------------------------------------------------------------------------------
# Stage
# --------------------------------------------------------------------------------------------
def _num(x):
    return None if x is None else float(x)


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 03 (needs stages 01 and 02); returns the stage folder."""
    from featevo.figures import four_panel
    from featevo.models import load_tokenizer, resolve_device

    require_stage(cfg, TRAIN)
    require_stage(cfg, COMPARE)
    probe_path = resolve_repo_path(cfg.data.probe)
    files = hash_inputs([probe_path])
    if not force and stage_is_current(cfg, DELTAS, files):
        logger.info("stage %s is up to date (use --force to rerun): %s", DELTAS, display_path(stage_dir(cfg, DELTAS)))
        return stage_dir(cfg, DELTAS)
    t0 = time.time()
    dc = cfg.deltas
    device = resolve_device(cfg.device)
    docs = load_probe(cfg.data, min_per_category=dc.min_per_category)
    s1, s2 = stage_dir(cfg, TRAIN), stage_dir(cfg, COMPARE)
    st = StageRun(cfg, DELTAS, input_files=files, device=str(device)).open()
    s2r = CompareResult.load(s2)

    keys = sae_specs(cfg)
    sae_models = {n: s.model for n, s in keys.items()}
    null_names = null_sae_names(cfg)
    saes = {n: load_sae(sae_dir(s1, n), device) for n in keys}
    probe = harvest_probe(cfg, docs, saes, sae_models, device)
    n_docs = len(docs)
    is_fin = np.array([d.domain == FINANCIAL for d in docs])
    cats_present = {d.category for d in docs}
    categories = [c for c in cfg.data.financial_categories + cfg.data.general_categories if c in cats_present]
    cat_of = np.array([d.category for d in docs])
    logger.info("probe: %d sentences (%d financial, %d general), %d tokens, %d categories",
                n_docs, int(is_fin.sum()), int((~is_fin).sum()), len(probe.row_doc), len(categories))

    # per-sentence aggregates and per-latent statistics
    X, F = {}, {}
    for n in keys:
        X[n], F[n] = doc_aggregates(probe.z[n], probe.row_doc, n_docs)
    boot = stratified_bootstrap_weights(np.where(is_fin, FINANCIAL, GENERAL), dc.n_bootstrap, cfg.seed)
    stats = {n: latent_stats(X[n], F[n], is_fin, boot, dc.n_permutations, cfg.seed)
             for n in tqdm(list(keys), desc="latent statistics", unit="sae")}

    # per-category table
    cat_rows = []
    for n in ("base", "tuned"):
        for c in categories:
            sel = cat_of == c
            mean, freq = X[n][sel].mean(0), F[n][sel].mean(0)
            dom = FINANCIAL if c in cfg.data.financial_categories else GENERAL
            for j in range(len(mean)):
                cat_rows.append({"model": n, "latent": j, "category": c, "domain": dom,
                                 "mean_activation": float(mean[j]), "frequency": float(freq[j]),
                                 "n_sentences": int(sel.sum())})
    PER_CATEGORY.write(st.dir, cat_rows)
    cat_mean = {n: np.stack([X[n][cat_of == c].mean(0) for c in categories]) for n in ("base", "tuned")}

    # matched pairs (stage 02) and their deltas
    matched = s2r.matched_pairs()
    ps = pair_stats(np.array([p["base_latent"] for p in matched]), np.array([p["tuned_latent"] for p in matched]),
                    X["base"], X["tuned"], stats["base"], stats["tuned"], is_fin, dc.ci, dc.n_permutations, cfg.seed)
    null_ps = {}
    null_pairs = s2r.null_pairs
    for n in null_names:
        mp = [p for p in null_pairs if p["null_sae"] == n and p["class"] in MATCHED_CLASSES]
        null_ps[n] = pair_stats(np.array([p["base_latent"] for p in mp]), np.array([p["seed_latent"] for p in mp]),
                                X["base"], X[n], stats["base"], stats[n], is_fin, dc.ci, dc.n_permutations, cfg.seed)

    sb, stt = stats["base"], stats["tuned"]
    b_lo, b_hi = percentile_ci(sb.fin_boot, dc.ci)
    t_lo, t_hi = percentile_ci(stt.fin_boot, dc.ci)
    bs_lo, bs_hi = percentile_ci(sb.spec_boot, dc.ci)
    ts_lo, ts_hi = percentile_ci(stt.spec_boot, dc.ci)
    fin_sig = {n: stats[n].significant_financial(dc.alpha) for n in keys}
    gen_sig = {n: stats[n].significant_general(dc.alpha) for n in keys}
    live_base = sb.fin[sb.fin > 0]
    pct_floor = 0.01 * float(np.median(live_base)) if live_base.size else EPS

    feature_rows, ranking = [], []
    sig = ps.q <= dc.alpha
    first_null = null_names[0] if null_names else None
    noise = seed_noise_threshold(null_ps.get(first_null), sb, stats.get(first_null)) if first_null else None
    rel = relative_change(ps.delta, sb.fin[ps.a], stt.fin[ps.b]) if len(matched) else np.zeros(0)
    beyond = (sig & (np.abs(rel) > noise)) if noise is not None else None
    for k, p in enumerate(matched):
        a, b = p["base_latent"], p["tuned_latent"]
        base_fin = float(sb.fin[a])
        row = {
            "pair_id": p["pair_id"], "base_latent": a, "tuned_latent": b, "class": p["class"],
            "type": pair_type(bool(sig[k]), float(ps.delta[k]), bool(fin_sig["tuned"][b]), bool(gen_sig["tuned"][b])),
            "decoder_cosine": p["decoder_cosine"], "activation_correlation": p["activation_correlation"],
            "base_fin_score": base_fin, "base_fin_ci_low": b_lo[a], "base_fin_ci_high": b_hi[a],
            "tuned_fin_score": stt.fin[b], "tuned_fin_ci_low": t_lo[b], "tuned_fin_ci_high": t_hi[b],
            "base_gen_score": sb.gen[a], "tuned_gen_score": stt.gen[b],
            "delta_matched": ps.delta[k], "delta_ci_low": ps.delta_lo[k], "delta_ci_high": ps.delta_hi[k],
            "change_pct_matched": 100.0 * ps.delta[k] / base_fin if base_fin >= pct_floor and base_fin > 0 else None,
            "relative_change_matched": rel[k], "beyond_seed_noise": bool(beyond[k]) if beyond is not None else None,
            "base_specialization": sb.spec[a], "base_specialization_ci_low": bs_lo[a], "base_specialization_ci_high": bs_hi[a],
            "tuned_specialization": stt.spec[b], "tuned_specialization_ci_low": ts_lo[b],
            "tuned_specialization_ci_high": ts_hi[b],
            "specialization_change": ps.spec_change[k], "specialization_change_ci_low": ps.spec_change_lo[k],
            "specialization_change_ci_high": ps.spec_change_hi[k],
            "p_value": ps.p[k], "q_value": ps.q[k], "significant": bool(sig[k]),
            "base_financial_q": sb.q[a], "tuned_financial_q": stt.q[b],
        }
        feature_rows.append(row)
    latents = s2r.latents
    for side, st_ in (("base", sb), ("tuned", stt)):
        lo_, hi_ = (b_lo, b_hi) if side == "base" else (t_lo, t_hi)
        slo, shi = (bs_lo, bs_hi) if side == "base" else (ts_lo, ts_hi)
        for r in latents:
            if r["sae"] != side or r["class"] in MATCHED_CLASSES:
                continue
            j = int(r["latent"])
            feature_rows.append({
                f"{side}_latent": j, "class": r["class"],
                "type": unmatched_type(r["class"], bool(fin_sig[side][j]), bool(gen_sig[side][j])),
                "decoder_cosine": r["decoder_cosine"],
                f"{side}_fin_score": st_.fin[j], f"{side}_fin_ci_low": lo_[j], f"{side}_fin_ci_high": hi_[j],
                f"{side}_gen_score": st_.gen[j], f"{side}_specialization": st_.spec[j],
                f"{side}_specialization_ci_low": slo[j], f"{side}_specialization_ci_high": shi[j],
                f"{side}_financial_q": st_.q[j],
            })
    FEATURE_TABLE.write(st.dir, feature_rows)

    order = np.argsort(-ps.delta, kind="stable")
    for rank, k in enumerate(order, start=1):
        ranking.append({"rank": rank, **{f: feature_rows[k][f] for f in RANKING.fields if f != "rank"}})
    RANKING.write(st.dir, ranking)

    # top financial features per model (2.1 / 2.3)
    partner = {"base": {int(p["base_latent"]): k for k, p in enumerate(matched)},
               "tuned": {int(p["tuned_latent"]): k for k, p in enumerate(matched)}}
    cls_of = {(r["sae"], int(r["latent"])): r["class"] for r in latents}
    top_rows = []
    for side in ("base", "tuned"):
        s_ = stats[side]
        lo_, hi_ = (b_lo, b_hi) if side == "base" else (t_lo, t_hi)
        slo, shi = (bs_lo, bs_hi) if side == "base" else (ts_lo, ts_hi)
        cand = np.flatnonzero(fin_sig[side])
        cand = cand[np.argsort(-s_.diff[cand], kind="stable")][: dc.top_n]
        for rank, j in enumerate(cand, start=1):
            k = partner[side].get(int(j))
            other = "tuned" if side == "base" else "base"
            row = {"model": side, "rank": rank, "latent": int(j), "class": cls_of.get((side, int(j))),
                   "fin_score": s_.fin[j], "fin_ci_low": lo_[j], "fin_ci_high": hi_[j], "gen_score": s_.gen[j],
                   "fin_minus_gen": s_.diff[j], "specialization": s_.spec[j], "specialization_ci_low": slo[j],
                   "specialization_ci_high": shi[j], "p_value": s_.p[j], "q_value": s_.q[j],
                   "frequency_fin": s_.freq_fin[j], "frequency_gen": s_.freq_gen[j]}
            if k is not None:
                mj = int(matched[k][f"{other}_latent"])
                row.update({"pair_id": matched[k]["pair_id"], "matched_latent": mj,
                            "matched_fin_score": stats[other].fin[mj], "delta_matched": ps.delta[k],
                            "delta_ci_low": ps.delta_lo[k], "delta_ci_high": ps.delta_hi[k], "delta_q_value": ps.q[k]})
            top_rows.append(row)
    TOP_FEATURES.write(st.dir, top_rows)

    # summary (2.4)
    def pair_summary(p_: PairStats, other: str) -> dict:
        s_ = p_.q <= dc.alpha
        r_ = relative_change(p_.delta, sb.fin[p_.a], stats[other].fin[p_.b]) if len(p_.delta) else np.zeros(0)
        return {
            "matched_pairs": int(len(p_.delta)),
            "positive_change": int((p_.delta > 0).sum()), "negative_change": int((p_.delta < 0).sum()),
            "significant_after_bh": int(s_.sum()),
            "significant_positive": int((s_ & (p_.delta > 0)).sum()),
            "significant_negative": int((s_ & (p_.delta < 0)).sum()),
            "ci_excludes_zero": int(((p_.delta_lo > 0) | (p_.delta_hi < 0)).sum()),
            "mean_delta": float(p_.delta.mean()) if len(p_.delta) else None,
            "mean_abs_delta": float(np.abs(p_.delta).mean()) if len(p_.delta) else None,
            "p95_abs_delta": float(np.quantile(np.abs(p_.delta), 0.95)) if len(p_.delta) else None,
            "p95_abs_relative_change": float(np.quantile(np.abs(r_), 0.95)) if len(r_) else None,
        }

    def top_entry(k: int) -> dict:
        r = feature_rows[k]
        return {f: r[f] for f in ("pair_id", "base_latent", "tuned_latent", "class", "type", "base_fin_score",
                                  "tuned_fin_score", "delta_matched", "delta_ci_low", "delta_ci_high",
                                  "change_pct_matched", "relative_change_matched", "p_value", "q_value",
                                  "significant", "beyond_seed_noise")}

    pct = np.array([r["change_pct_matched"] for r in feature_rows[: len(matched)] if r["change_pct_matched"] is not None])
    type_counts: dict[str, int] = {}
    for r in feature_rows:
        type_counts[r["type"]] = type_counts.get(r["type"], 0) + 1
    by_abs = np.argsort(-np.abs(ps.delta), kind="stable")
    summary = {
        "description": "financial-score changes of matched latent pairs (stage 02 decoder Hungarian pairs of class "
                       "shared/shifted), not index-to-index; see featevo/deltas.py for definitions",
        "definitions": {
            "activation": f"SAE latent activation ({ACTIVATION_UNIT}) per token; sentence value = mean over its kept tokens",
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
        },
        "alpha": dc.alpha, "ci": dc.ci, "n_bootstrap": dc.n_bootstrap, "n_permutations": dc.n_permutations,
        "probe": {"sentences": n_docs, "financial": int(is_fin.sum()), "general": int((~is_fin).sum()),
                  "tokens": int(len(probe.row_doc)), "categories": categories, "file": display_path(probe_path)},
        "base_vs_tuned": {**pair_summary(ps, "tuned"),
                          "beyond_seed_noise": int(beyond.sum()) if beyond is not None else None,
                          "seed_noise_relative_change_p95": noise,
                          "seed_noise_from": f"{first_null} ({len(null_ps[first_null].delta)} matched pairs)"
                          if first_null else None},
        "null_baselines": {n: pair_summary(p_, n) for n, p_ in null_ps.items()},
        "mean_change_pct_matched": float(pct.mean()) if pct.size else None,
        "median_change_pct_matched": float(np.median(pct)) if pct.size else None,
        "max_improvement": top_entry(int(np.argmax(ps.delta))) if len(matched) else None,
        "max_decline": top_entry(int(np.argmin(ps.delta))) if len(matched) else None,
        "top5_by_abs_delta": [top_entry(int(k)) for k in by_abs[:5]],
        "top5_improvements": [top_entry(int(k)) for k in order[:5]],
        "financial_latents": {n: int(fin_sig[n].sum()) for n in keys},
        "general_latents": {n: int(gen_sig[n].sum()) for n in keys},
        "type_counts": type_counts,
        "contexts": {"sources": ["probe"] + (["eval"] if dc.contexts_from_eval else []),
                     "note": "probe = data.probe sentences; eval = stage 01 held-out eval split; neither was used "
                             "to train the SAEs"},
    }

    # interesting latents (stage 04 labels these first)
    # BH-significant pairs first (those beyond seed noise ahead), then shifted ones, then the rest
    sig_pairs = ([int(k) for k in by_abs if beyond is not None and beyond[k]]
                 + [int(k) for k in by_abs if sig[k] and (beyond is None or not beyond[k])])
    shifted_pairs = [int(k) for k in by_abs if not sig[k] and matched[k]["class"] == "shifted"]
    rest_pairs = [int(k) for k in by_abs if not sig[k] and matched[k]["class"] != "shifted"]
    interesting = {"pairs": [matched[k]["pair_id"] for k in sig_pairs + shifted_pairs + rest_pairs]}
    for side, odd in (("base", "lost"), ("tuned", "new")):
        s_ = stats[side]
        seen: list[int] = []
        for k in sig_pairs:
            seen.append(int(matched[k][f"{side}_latent"]))
        rel = np.lexsort((-np.abs(s_.diff), s_.q))  # by domain-test q, then |fin - gen|
        for j in rel:
            if cls_of.get((side, int(j))) in (odd, "split", "shifted") and int(j) not in seen:
                seen.append(int(j))
        for j in rel:
            if cls_of.get((side, int(j))) != "dead" and int(j) not in seen:
                seen.append(int(j))
        interesting[side] = seen
    atomic_write_json(st.dir / DeltasFiles.INTERESTING, interesting)

    # contexts for stages 04/05
    tok = load_tokenizer(run_models(cfg)["base"])
    sources = [probe]
    if dc.contexts_from_eval:
        sources.append(eval_source(s1, saes, sae_models, ("base", "tuned")))
    for n in ("base", "tuned"):
        ctx = top_contexts(sources, n, dc.contexts_per_latent, dc.context_window, tok)
        atomic_write_json(contexts_path(st.dir, n), {
            "sae": n, "activation_unit": ACTIVATION_UNIT, "context_window": dc.context_window,
            "sources": {s.name: {"documents": len(s.docs)} for s in sources},
            "note": "per latent: top-activating sentences (one context per sentence); 'doc' indexes the "
                    "source ('probe': data.probe lines in file order; 'eval': 01_train_sae/eval/docs.jsonl); "
                    "tokens are the kept (SAE) tokens around the maximum; max_pos indexes tokens/acts",
            "latents": ctx,
        })

    # figure 3.1
    top_k = [int(k) for k in by_abs[: dc.top_n]]
    top = [{"label": f"b{matched[k]['base_latent']}->t{matched[k]['tuned_latent']}",
            "base": feature_rows[k]["base_fin_score"], "base_lo": feature_rows[k]["base_fin_ci_low"],
            "base_hi": feature_rows[k]["base_fin_ci_high"], "tuned": feature_rows[k]["tuned_fin_score"],
            "tuned_lo": feature_rows[k]["tuned_fin_ci_low"], "tuned_hi": feature_rows[k]["tuned_fin_ci_high"],
            "significant": bool(sig[k]), "beyond_seed_noise": bool(beyond[k]) if beyond is not None else False}
           for k in top_k]
    heat = (np.stack([cat_mean["tuned"][:, ps.b[k]] - cat_mean["base"][:, ps.a[k]] for k in top_k])
            if top_k else np.zeros((0, len(categories))))
    n_fin_cats = sum(c in cfg.data.financial_categories for c in categories)
    null_delta = null_ps[first_null].delta if first_null else None
    four_panel(top, sb.spec[ps.a], stt.spec[ps.b], sig, ps.delta, sig, null_delta, heat, [t["label"] for t in top],
               categories, n_fin_cats, st.dir / DeltasFiles.FOUR_PANEL, activation_unit=ACTIVATION_UNIT)

    summary["wall_time_s"] = round(time.time() - t0, 2)
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
