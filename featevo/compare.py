"""Stage 02 logic: match the latents of two independently trained SAEs, measure transfer, classify.

Two SAEs share no feature index: latent 103 of one is not latent 103 of the other. Latents are
therefore paired explicitly, in two independent ways:

* **decoder matching**: cosine similarity of decoder rows (the direction each latent writes into
  the residual stream), solved as an optimal one-to-one assignment (Hungarian algorithm,
  ``scipy.optimize.linear_sum_assignment``, maximising the summed cosine);
* **activation matching**: Pearson correlation of the two latents' activations over the same
  token rows (both models read the same token stream, so stage 01's rows align one to one), with
  the same assignment on the correlation matrix.

Their *agreement* is the fraction of live base latents whose decoder partner is also their
activation partner.

Classes (thresholds from :class:`~featevo.config.CompareConfig`; ``c`` is the decoder cosine and
``r`` the activation correlation of a latent and its decoder partner):

* ``dead``: never fired on the comparison tokens; left out of both assignments;
* ``shared``: ``c >= shared_threshold`` and ``r >= shifted_correlation``;
* ``shifted``: ``c >= new_threshold`` but not shared: the direction moved
  (``c < shared_threshold``) and/or the firing pattern changed (``r < shifted_correlation``);
* ``new`` (tuned SAE) / ``lost`` (base SAE): no latent of the other SAE has a decoder cosine of at
  least ``new_threshold`` (best cosine below it);
* ``split``: its one-to-one partner is below ``new_threshold`` but some other latent of the other
  SAE is above it: that latent is taken by a closer partner (feature splitting or merging).

The same analysis between the base SAE and a base SAE trained with another seed (``base_seed1``,
on the same base activations) is the null baseline: the counts a reader would see with no
fine-tuning at all, from seed noise alone.

Transfer: the base SAE encodes the tuned model's held-out activations (and vice versa); FVU and
loss recovered are compared with each SAE on its own model (stage 01's numbers, same rows and the
same masked tokens).

The stage computes everything first (:func:`analyse` -> :class:`CompareAnalysis`), then writes it
(file names in :class:`featevo.layout.CompareFiles`, columns in :mod:`featevo.results`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from tqdm.auto import tqdm

from featevo.activations import ActivationStore
from featevo.config import CompareConfig, PipelineConfig
from featevo.errors import StageError
from featevo.io import StageRun, atomic_write_json, require_stage, stage_is_current
from featevo.layout import (
    COMPARE, TRAIN, CompareFiles, acts_dir, display_path, models as run_models, null_sae_names, sae_dir, sae_specs,
    split_dir, stage_dir,
)
from featevo.results import LATENTS, MATCHED_CLASSES, NULL_PAIRS, PAIRS, load_sae_metrics
from featevo.sae import encode, load_sae, reconstruction_metrics

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# Similarities and assignments
# --------------------------------------------------------------------------------------------
def unit_rows(W: np.ndarray | torch.Tensor) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float64 numpy."""
    if isinstance(W, torch.Tensor):
        W = W.detach().cpu().double().numpy()
    W = np.asarray(W, dtype=np.float64)
    n = np.linalg.norm(W, axis=1, keepdims=True)
    return W / np.where(n > 0, n, 1.0)


def decoder_cosine(W_a, W_b) -> np.ndarray:
    """[n_a, n_b] cosine similarity of decoder rows (W: [latents, d_in])."""
    A, B = unit_rows(W_a), unit_rows(W_b)
    if A.shape[1] != B.shape[1]:
        raise StageError(f"decoders have different widths ({A.shape[1]} vs {B.shape[1]}); "
                         "the SAEs read different layers")
    return np.clip(A @ B.T, -1.0, 1.0)


def hungarian(sim: np.ndarray, rows: np.ndarray | None = None, cols: np.ndarray | None = None) -> np.ndarray:
    """Optimal one-to-one assignment maximising the summed similarity.

    Only ``rows``/``cols`` (index arrays; default all) take part. Returns, for every row of
    ``sim``, the matched column or -1 (row not taking part, or more rows than columns).
    """
    n_a, n_b = sim.shape
    rows = np.arange(n_a) if rows is None else np.asarray(rows, dtype=np.int64)
    cols = np.arange(n_b) if cols is None else np.asarray(cols, dtype=np.int64)
    match = np.full(n_a, -1, dtype=np.int64)
    if len(rows) == 0 or len(cols) == 0:
        return match
    r, c = linear_sum_assignment(sim[np.ix_(rows, cols)], maximize=True)
    match[rows[r]] = cols[c]
    return match


def inverse_match(match: np.ndarray, n_b: int) -> np.ndarray:
    """Column -> row map of a one-to-one ``match`` (row -> column, -1 for none)."""
    inv = np.full(n_b, -1, dtype=np.int64)
    ok = match >= 0
    inv[match[ok]] = np.flatnonzero(ok)
    return inv


class CorrelationAccumulator:
    """Streaming Pearson correlation between the latents of several SAEs over the same rows.

    ``update({name: z})`` with latent activations [rows, d_sae] of each SAE for one chunk of rows
    (the same rows for every SAE). Keeps, in float64, per-SAE sums, sums of squares and firing
    counts, and the cross-product matrix of each requested pair: memory O(d_sae^2) per pair.
    """

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = list(pairs)
        self.n = 0
        self.s: dict[str, np.ndarray] = {}
        self.ss: dict[str, np.ndarray] = {}
        self.fires: dict[str, np.ndarray] = {}
        self.cross: dict[tuple[str, str], np.ndarray] = {}

    def update(self, z: dict[str, torch.Tensor]) -> None:
        rows = {int(v.shape[0]) for v in z.values()}
        if len(rows) != 1:
            raise ValueError(f"chunks of different lengths: {sorted(rows)}")
        zz = {k: v.detach().cpu().double() for k, v in z.items()}
        for k, v in zz.items():
            if k not in self.s:
                self.s[k] = np.zeros(v.shape[1])
                self.ss[k] = np.zeros(v.shape[1])
                self.fires[k] = np.zeros(v.shape[1], dtype=np.int64)
            self.s[k] += v.sum(0).numpy()
            self.ss[k] += v.pow(2).sum(0).numpy()
            self.fires[k] += (v > 0).sum(0).numpy()
        for a, b in self.pairs:
            prod = (zz[a].T @ zz[b]).numpy()
            self.cross[(a, b)] = prod if (a, b) not in self.cross else self.cross[(a, b)] + prod
        self.n += rows.pop()

    def frequency(self, name: str) -> np.ndarray:
        return self.fires[name] / max(self.n, 1)

    def correlation(self, a: str, b: str) -> np.ndarray:
        """[d_a, d_b] Pearson correlation; 0 where either latent is constant (e.g. never fires)."""
        n = self.n
        if n < 2:
            raise StageError("activation correlation needs at least 2 token rows")
        ma, mb = self.s[a] / n, self.s[b] / n
        va = np.maximum(self.ss[a] / n - ma**2, 0.0)
        vb = np.maximum(self.ss[b] / n - mb**2, 0.0)
        cov = self.cross[(a, b)] / n - np.outer(ma, mb)
        den = np.sqrt(np.outer(va, vb))
        # a variance below 1e-12 of the latent's own second moment is round-off, not signal
        tiny_a = va <= 1e-12 * np.maximum(self.ss[a] / n, 1e-300)
        tiny_b = vb <= 1e-12 * np.maximum(self.ss[b] / n, 1e-300)
        ok = (den > 0) & ~tiny_a[:, None] & ~tiny_b[None, :]
        corr = np.zeros_like(cov)
        corr[ok] = cov[ok] / den[ok]
        return np.clip(corr, -1.0, 1.0)


# --------------------------------------------------------------------------------------------
# Matching and classes
# --------------------------------------------------------------------------------------------
@dataclass
class Matching:
    """The comparison of SAE a (base) with SAE b (tuned, or a seed baseline)."""

    cos: np.ndarray            # [n_a, n_b] decoder cosine
    corr: np.ndarray           # [n_a, n_b] activation correlation
    live_a: np.ndarray         # [n_a] bool
    live_b: np.ndarray         # [n_b] bool
    dec_match_a: np.ndarray    # [n_a] decoder partner in b, -1 for none (dead)
    dec_match_b: np.ndarray    # [n_b]
    act_match_a: np.ndarray    # [n_a] activation partner in b, -1 for none
    act_match_b: np.ndarray    # [n_b]
    best_cos_a: np.ndarray     # [n_a] best cosine to any live latent of b (0 when dead)
    best_cos_b: np.ndarray     # [n_b]
    class_a: np.ndarray        # [n_a] str
    class_b: np.ndarray        # [n_b] str
    pair_a: np.ndarray         # [n_pairs] decoder pairs (live x live), sorted by a
    pair_b: np.ndarray
    pair_cos: np.ndarray
    pair_corr: np.ndarray
    pair_class: np.ndarray     # shared / shifted / unmatched
    pair_agree: np.ndarray     # activation partner of pair_a is pair_b
    shared_threshold: float
    shifted_correlation: float

    def class_counts(self) -> dict:
        def count(arr):
            vals, n = np.unique(arr, return_counts=True)
            return {str(v): int(c) for v, c in zip(vals, n)}

        return {"a": count(self.class_a), "b": count(self.class_b), "pairs": count(self.pair_class)}

    def summary(self, name_a: str, name_b: str) -> dict:
        n_live_a, n_live_b = int(self.live_a.sum()), int(self.live_b.sum())
        n_pairs = len(self.pair_a)
        shared = int((self.pair_class == "shared").sum())
        matched = int(np.isin(self.pair_class, MATCHED_CLASSES).sum())
        live = self.live_a
        agree_all = float((self.dec_match_a[live] == self.act_match_a[live]).mean()) if live.any() else 0.0
        m = np.isin(self.pair_class, MATCHED_CLASSES)
        counts = self.class_counts()
        return {
            "saes": [name_a, name_b],
            "live_latents": {name_a: n_live_a, name_b: n_live_b},
            "pairs": n_pairs,
            "class_counts": {name_a: counts["a"], name_b: counts["b"], "pairs": counts["pairs"]},
            "shared_fraction": shared / max(n_pairs, 1),
            "matched_fraction": matched / max(n_pairs, 1),
            "pair_decoder_cosine": _describe(self.pair_cos),
            "pair_activation_correlation": _describe(self.pair_corr),
            "activation_match_correlation": _describe(
                self.corr[np.flatnonzero(self.act_match_a >= 0), self.act_match_a[self.act_match_a >= 0]]),
            "agreement": agree_all,
            "same_index_fraction": float((self.pair_a == self.pair_b).mean()) if n_pairs else 0.0,
            "agreement_matched_pairs": float(self.pair_agree[m].mean()) if m.any() else None,
            "shifted_reasons": {
                "direction_only": int(((self.pair_class == "shifted") & (self.pair_cos < self.shared_threshold)
                                       & (self.pair_corr >= self.shifted_correlation)).sum()),
                "activation_only": int(((self.pair_class == "shifted")
                                        & (self.pair_cos >= self.shared_threshold)).sum()),
                "both": int(((self.pair_class == "shifted") & (self.pair_cos < self.shared_threshold)
                             & (self.pair_corr < self.shifted_correlation)).sum()),
            },
        }


def _describe(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {"n": 0}
    q = np.quantile(x, [0.1, 0.5, 0.9])
    return {"n": int(x.size), "mean": float(x.mean()), "p10": float(q[0]), "median": float(q[1]),
            "p90": float(q[2]), "min": float(x.min()), "max": float(x.max())}


def match_latents(cos: np.ndarray, corr: np.ndarray, live_a: np.ndarray, live_b: np.ndarray,
                  cfg: CompareConfig, unmatched_names: tuple[str, str] = ("lost", "new")) -> Matching:
    """Decoder and activation assignments among live latents, and the class of every latent.

    ``cos``/``corr`` [n_a, n_b]; ``live_*`` mark latents that fired at least once. See the module
    docstring for the classes; ``unmatched_names`` names the no-match class of side a and side b.
    """
    live_a, live_b = np.asarray(live_a, bool), np.asarray(live_b, bool)
    rows, cols = np.flatnonzero(live_a), np.flatnonzero(live_b)
    n_a, n_b = cos.shape
    dec_a = hungarian(cos, rows, cols)
    act_a = hungarian(corr, rows, cols)
    dec_b, act_b = inverse_match(dec_a, n_b), inverse_match(act_a, n_b)

    best_a = np.zeros(n_a)
    best_b = np.zeros(n_b)
    if len(rows) and len(cols):
        sub = cos[np.ix_(rows, cols)]
        best_a[rows] = sub.max(axis=1)
        best_b[cols] = sub.max(axis=0)

    pa = np.flatnonzero(dec_a >= 0)
    pb = dec_a[pa]
    pcos, pcorr = cos[pa, pb], corr[pa, pb]
    shared = (pcos >= cfg.shared_threshold) & (pcorr >= cfg.shifted_correlation)
    pclass = np.where(pcos < cfg.new_threshold, "unmatched", np.where(shared, "shared", "shifted"))
    pclass = pclass.astype(object)

    class_a = np.full(n_a, "dead", dtype=object)
    class_b = np.full(n_b, "dead", dtype=object)
    pair_of_a = {int(a): k for k, a in enumerate(pa)}
    pair_of_b = {int(b): k for k, b in enumerate(pb)}
    for arr, live, best, pair_of, name in ((class_a, live_a, best_a, pair_of_a, unmatched_names[0]),
                                           (class_b, live_b, best_b, pair_of_b, unmatched_names[1])):
        for i in np.flatnonzero(live):
            k = pair_of.get(int(i))
            if k is not None and pclass[k] != "unmatched":
                arr[i] = pclass[k]
            elif best[i] < cfg.new_threshold:
                arr[i] = name
            else:
                arr[i] = "split"
    agree = act_a[pa] == pb
    m = Matching(cos=cos, corr=corr, live_a=live_a, live_b=live_b, dec_match_a=dec_a, dec_match_b=dec_b,
                 act_match_a=act_a, act_match_b=act_b, best_cos_a=best_a, best_cos_b=best_b,
                 class_a=class_a, class_b=class_b, pair_a=pa, pair_b=pb, pair_cos=pcos, pair_corr=pcorr,
                 pair_class=pclass, pair_agree=agree, shared_threshold=cfg.shared_threshold,
                 shifted_correlation=cfg.shifted_correlation)
    return m


def compare_saes(sae_a, sae_b, x_a: torch.Tensor, x_b: torch.Tensor, cfg: CompareConfig,
                 unmatched_names: tuple[str, str] = ("lost", "new"), chunk: int = 8192) -> Matching:
    """Match two loaded SAEs: decoders, and activations of ``sae_a`` on ``x_a`` vs ``sae_b`` on
    ``x_b`` (aligned rows: the same tokens through each SAE's own model)."""
    if x_a.shape[0] != x_b.shape[0]:
        raise ValueError("x_a and x_b must hold the same token rows")
    acc = CorrelationAccumulator([("a", "b")])
    for s in range(0, x_a.shape[0], chunk):
        acc.update({"a": encode(sae_a, x_a[s : s + chunk]), "b": encode(sae_b, x_b[s : s + chunk])})
    return match_latents(decoder_cosine(sae_a.W_dec, sae_b.W_dec), acc.correlation("a", "b"),
                         acc.frequency("a") > 0, acc.frequency("b") > 0, cfg, unmatched_names)


def chance_best_cosine(W_dec: np.ndarray, n_samples: int, seed: int) -> dict:
    """Best cosine of random unit directions to the rows of ``W_dec``: what 'no match' looks like."""
    W = unit_rows(W_dec)
    rng = np.random.default_rng([seed % (2**32), 23])
    R = unit_rows(rng.standard_normal((n_samples, W.shape[1])))
    best = (R @ W.T).max(axis=1)
    return {"samples": n_samples, "d_in": int(W.shape[1]), "p50": float(np.quantile(best, 0.5)),
            "p99": float(np.quantile(best, 0.99)), "max": float(best.max()),
            "cosine_sd_random_pair": float(1.0 / np.sqrt(W.shape[1]))}


# --------------------------------------------------------------------------------------------
# Stage
# --------------------------------------------------------------------------------------------
def latent_rows(m: Matching, freq_a: np.ndarray, freq_b: np.ndarray, name_a: str, name_b: str) -> list[dict]:
    rows = []
    for name, n, cls, dec, act, best, freq, live, is_a in (
        (name_a, len(m.class_a), m.class_a, m.dec_match_a, m.act_match_a, m.best_cos_a, freq_a, m.live_a, True),
        (name_b, len(m.class_b), m.class_b, m.dec_match_b, m.act_match_b, m.best_cos_b, freq_b, m.live_b, False),
    ):
        for i in range(n):
            j, k = int(dec[i]), int(act[i])
            cos_ij = (m.cos[i, j] if is_a else m.cos[j, i]) if j >= 0 else None
            pcorr = (m.corr[i, j] if is_a else m.corr[j, i]) if j >= 0 else None
            acorr = (m.corr[i, k] if is_a else m.corr[k, i]) if k >= 0 else None
            rows.append({
                "sae": name, "latent": i, "class": cls[i], "firing_frequency": float(freq[i]),
                "match_decoder": j if j >= 0 else None, "decoder_cosine": cos_ij,
                "pair_activation_correlation": pcorr,
                "best_decoder_cosine": float(best[i]) if live[i] else None,
                "match_activation": k if k >= 0 else None, "activation_correlation": acorr,
                "matches_agree": (j == k) if j >= 0 else None,
            })
    return rows


def pair_rows(m: Matching, other: str = "tuned_latent") -> list[dict]:
    """The decoder pairs of ``m``; ``other`` names the column of side b's latent."""
    return [{"pair_id": k, "base_latent": int(a), other: int(b), "decoder_cosine": float(c),
             "activation_correlation": float(r), "class": cl, "activation_match_agrees": bool(ag)}
            for k, (a, b, c, r, cl, ag) in enumerate(zip(m.pair_a, m.pair_b, m.pair_cos, m.pair_corr,
                                                         m.pair_class, m.pair_agree))]


def _aligned_chunks(s1: Path, max_tokens: int, chunk: int = 8192):
    """(base rows, tuned rows) chunks: eval split first, then train, up to ``max_tokens`` rows."""
    left = max_tokens
    for split in ("eval", "train"):
        if left <= 0:
            return
        sb, st = ActivationStore(acts_dir(s1, split, "base")), ActivationStore(acts_dir(s1, split, "tuned"))
        if sb.n_rows != st.n_rows:
            raise StageError(f"{display_path(split_dir(s1, split))}: base and tuned activations have different row "
                             f"counts ({sb.n_rows} vs {st.n_rows}); rerun stage 01 with --force")
        for xb, xt in zip(sb.iter_rows(left, chunk), st.iter_rows(left, chunk)):
            if xb.shape[0] != xt.shape[0]:
                raise StageError(f"{display_path(split_dir(s1, split))}: base and tuned shards are not aligned")
            left -= xb.shape[0]
            yield xb, xt


def transfer_metrics(cfg: PipelineConfig, s1: Path, device: torch.device) -> dict:
    """Each SAE on the other model's held-out activations: FVU and loss recovered, vs its own."""
    from featevo.activations import TokenTable
    from featevo.fidelity import loss_recovered
    from featevo.models import head_kind, load_model, load_tokenizer

    models = run_models(cfg)
    saes = {k: load_sae(sae_dir(s1, k), device) for k in ("base", "tuned")}
    own = {k: load_sae_metrics(s1, k) for k in ("base", "tuned")}
    tt = TokenTable(split_dir(s1, "eval"))
    tokens = {"input_ids": tt.input_ids, "attention_mask": tt.attention_mask, "keep_mask": tt.keep_mask}
    out = {}
    for sae_key, act_key in (("base", "tuned"), ("tuned", "base")):
        sae = saes[sae_key]
        rec = reconstruction_metrics(sae, ActivationStore(acts_dir(s1, "eval", act_key)))
        head = head_kind(models[act_key])
        fid: dict = {"head": head}
        if head != "none":
            model = load_model(models[act_key], head=head, device=device)
            tok = load_tokenizer(models[act_key])
            # the same masked tokens as stage 01's own-SAE number for this model (its SAE's seed)
            mask_seed = int(own[act_key].get("seed", cfg.seed))
            fid = loss_recovered(model, head, lambda h, s=sae: s.decode(s.encode(h)), tokens, cfg.harvest.layer,
                                 tok.mask_token_id, device, seed=mask_seed, max_docs=cfg.sae.eval_docs,
                                 desc=f"loss recovered {sae_key} SAE on {act_key}")
            del model
        own_m = own[act_key]
        lr_t, lr_o = fid.get("loss_recovered"), own_m.get("fidelity", {}).get("loss_recovered")
        out[f"{sae_key}_sae_on_{act_key}"] = {
            "sae": sae_key, "activations": act_key, "rows": rec["rows"],
            "fvu": rec["fvu"], "fvu_own_sae": own_m["fvu"], "fvu_increase": rec["fvu"] - own_m["fvu"],
            "l0": rec["l0"], "dead_fraction_eval": rec["dead_fraction_eval"],
            "loss_recovered": lr_t, "loss_recovered_own_sae": lr_o,
            "loss_recovered_drop": (lr_o - lr_t) if (lr_t is not None and lr_o is not None) else None,
            "fidelity": fid,
        }
        logger.info("transfer: %s SAE on %s activations: FVU %.3f (own SAE %.3f), loss recovered %s (own %s)",
                    sae_key, act_key, rec["fvu"], own_m["fvu"], _f3(lr_t), _f3(lr_o))
    return out


def _f3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


@dataclass
class CompareAnalysis:
    """Everything stage 02 writes, before it is written."""

    names: list[str]                 # every SAE of the run (sae_specs order)
    null_names: list[str]            # the seed-baseline SAEs
    d_sae: dict[str, int]
    token_rows: int                  # aligned token rows of the activation statistics
    freq: dict[str, np.ndarray]      # firing frequency per latent, per SAE
    matchings: dict[str, Matching]   # base vs "tuned" and base vs each seed-baseline SAE
    own: dict[str, dict]             # stage 01's metrics of each SAE
    chance: dict                     # :func:`chance_best_cosine` of the base decoder
    transfer: dict                   # :func:`transfer_metrics`

    @property
    def main(self) -> Matching:
        return self.matchings["tuned"]

    @property
    def nulls(self) -> dict[str, Matching]:
        return {n: self.matchings[n] for n in self.null_names}

    @property
    def seeds(self) -> dict:
        return {n: self.own[n].get("seed") for n in self.names}

    @property
    def same_seed(self) -> bool:
        return _same_seed(self.seeds)


def _same_seed(seeds: dict) -> bool:
    return bool(seeds.get("base") is not None and seeds.get("base") == seeds.get("tuned"))


def activation_statistics(s1: Path, saes: dict, null_names: list[str], max_tokens: int) -> CorrelationAccumulator:
    """Firing counts and activation correlations (base vs tuned, base vs each null SAE) over aligned rows."""
    acc = CorrelationAccumulator([("base", "tuned")] + [("base", n) for n in null_names])
    n_total = sum(ActivationStore(acts_dir(s1, s, "base")).n_rows for s in ("eval", "train"))
    pbar = tqdm(total=min(max_tokens, n_total), desc="activation correlations", unit="tok")
    for xb, xt in _aligned_chunks(s1, max_tokens):
        z = {"tuned": encode(saes["tuned"], xt)}
        for n in ["base", *null_names]:
            z[n] = encode(saes[n], xb)
        acc.update(z)
        pbar.update(xb.shape[0])
    pbar.close()
    logger.info("activation statistics over %d token rows (eval split first, then train)", acc.n)
    return acc


def match_all(W: dict, acc: CorrelationAccumulator, freq: dict, others: list[str], cc: CompareConfig) -> dict:
    """The base SAE matched against each of ``others``."""
    out = {}
    for other in others:
        m = match_latents(decoder_cosine(W["base"], W[other]), acc.correlation("base", other),
                          freq["base"] > 0, freq[other] > 0, cc)
        out[other] = m
        s = m.summary("base", other)
        logger.info("base vs %s: %d pairs, shared %.1f%%, matched %.1f%%, mean pair cosine %.3f, agreement %.1f%%",
                    other, s["pairs"], 100 * s["shared_fraction"], 100 * s["matched_fraction"],
                    s["pair_decoder_cosine"].get("mean", float("nan")), 100 * s["agreement"])
    return out


def analyse(cfg: PipelineConfig, s1: Path, device: torch.device) -> CompareAnalysis:
    """Load stage 01's SAEs, match them, and measure transfer."""
    null_names = null_sae_names(cfg)
    names = [n for n in sae_specs(cfg) if n in ("base", "tuned", *null_names)]
    if not null_names:
        logger.warning("sae.seeds is 1: no null baseline; class counts cannot be told from seed noise")
    saes = {n: load_sae(sae_dir(s1, n), device) for n in names}
    acc = activation_statistics(s1, saes, null_names, cfg.compare.max_tokens)
    W = {n: saes[n].W_dec.detach().cpu().double().numpy() for n in names}
    freq = {n: acc.frequency(n) for n in names}
    matchings = match_all(W, acc, freq, ["tuned", *null_names], cfg.compare)
    own = {n: load_sae_metrics(s1, n) for n in names}
    seeds = {n: own[n].get("seed") for n in names}
    if _same_seed(seeds):
        logger.warning("the base and tuned SAEs were trained with the same seed (%s): they share their initial "
                       "decoder, which inflates base-vs-tuned matching relative to the seed baseline "
                       "(same_index_fraction %.2f); retrain stage 01 with distinct seeds",
                       seeds["base"], matchings["tuned"].summary("base", "tuned")["same_index_fraction"])
    return CompareAnalysis(
        names=names, null_names=null_names, d_sae={n: saes[n].cfg.d_sae for n in names}, token_rows=acc.n,
        freq=freq, matchings=matchings, own=own,
        chance=chance_best_cosine(W["base"], cfg.compare.chance_samples, cfg.seed),
        transfer=transfer_metrics(cfg, s1, device),
    )


def write_tables(folder: Path, a: CompareAnalysis) -> None:
    LATENTS.write(folder, latent_rows(a.main, a.freq["base"], a.freq["tuned"], "base", "tuned"))
    PAIRS.write(folder, pair_rows(a.main))
    NULL_PAIRS.write(folder, [{"null_sae": n, **r} for n, m in a.nulls.items() for r in pair_rows(m, "seed_latent")])


def build_summary(cfg: PipelineConfig, a: CompareAnalysis, wall_time_s: float) -> dict:
    cc = cfg.compare
    summary = {
        "description": "latents of the base and tuned SAEs paired by decoder cosine (Hungarian) and by "
                       "activation correlation; classes per featevo/compare.py; "
                       "null = base vs base SAE of another seed",
        "thresholds": {"shared_threshold": cc.shared_threshold, "new_threshold": cc.new_threshold,
                       "shifted_correlation": cc.shifted_correlation},
        "token_rows": a.token_rows,
        "token_source": "stage 01 eval split first, then train split (same rows for every SAE)",
        "d_sae": a.d_sae,
        "sae_seeds": a.seeds,
        "same_seed_warning": a.same_seed,
        "firing": {n: {"dead": int((f == 0).sum()), "mean_frequency": float(f.mean())} for n, f in a.freq.items()},
        "base_vs_tuned": a.main.summary("base", "tuned"),
        "null_baselines": {n: m.summary("base", n) for n, m in a.nulls.items()},
        "chance_best_decoder_cosine": a.chance,
        "transfer": a.transfer,
        "null_transfer": {n: {"sae": n, "activations": "base", "fvu": a.own[n]["fvu"],
                              "loss_recovered": a.own[n].get("fidelity", {}).get("loss_recovered")}
                          for n in a.null_names},
        "wall_time_s": wall_time_s,
    }
    if a.null_names:
        nb = summary["null_baselines"][a.null_names[0]]
        bt = summary["base_vs_tuned"]
        summary["headline"] = {
            "shared_fraction": bt["shared_fraction"], "shared_fraction_null": nb["shared_fraction"],
            "matched_fraction": bt["matched_fraction"], "matched_fraction_null": nb["matched_fraction"],
            "mean_pair_cosine": bt["pair_decoder_cosine"].get("mean"),
            "mean_pair_cosine_null": nb["pair_decoder_cosine"].get("mean"),
        }
    return summary


def write_figures(folder: Path, a: CompareAnalysis, cc: CompareConfig) -> None:
    from featevo.figures import matched_scatter, similarity_histogram

    similarity_histogram(a.main, a.nulls, cc, a.chance, folder / CompareFiles.SIMILARITY_HIST)
    matched_scatter(a.main, a.nulls, cc, folder / CompareFiles.MATCHED_SCATTER)


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 02 (needs stage 01); returns the stage folder."""
    from featevo.models import resolve_device

    require_stage(cfg, TRAIN)
    if not force and stage_is_current(cfg, COMPARE):
        logger.info("stage %s is up to date (use --force to rerun): %s", COMPARE, display_path(stage_dir(cfg, COMPARE)))
        return stage_dir(cfg, COMPARE)
    t0 = time.time()
    device = resolve_device(cfg.device)
    st = StageRun(cfg, COMPARE, device=str(device)).open()
    a = analyse(cfg, stage_dir(cfg, TRAIN), device)
    write_tables(st.dir, a)
    atomic_write_json(st.dir / CompareFiles.SUMMARY, build_summary(cfg, a, round(time.time() - t0, 2)))
    write_figures(st.dir, a, cfg.compare)
    st.commit()
    return stage_dir(cfg, COMPARE)
