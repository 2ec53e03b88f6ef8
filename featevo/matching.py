"""Matching the latents of two SAEs: decoder cosine, activation correlation, one-to-one assignments, classes
and the statistics of one comparison. Pure numpy/torch, no stage I/O (stage 02 in :mod:`featevo.compare`
runs it over every comparison of a run).

Two SAEs share no feature index: latent 103 of one is not latent 103 of the other. Latents are paired
explicitly, in two independent ways:

* **decoder matching**: cosine similarity of decoder rows (the direction each latent writes into the
  residual stream), solved as an optimal one-to-one assignment (Hungarian algorithm,
  ``scipy.optimize.linear_sum_assignment``, maximising the summed cosine);
* **activation matching**: Pearson correlation of the two latents' activations over the same token rows
  (each SAE encodes its own model's activations of the same tokens), with the same assignment on the
  correlation matrix.

Their *agreement* is the fraction of live latents of side a whose decoder partner is also their activation
partner.

Classes (thresholds from :class:`~featevo.config.CompareConfig`; ``c`` is the decoder cosine and ``r`` the
activation correlation of a latent and its decoder partner):

* ``dead``: never fired on the comparison tokens; left out of both assignments;
* ``shared``: ``c >= shared_threshold`` and ``r >= shifted_correlation``;
* ``shifted``: ``c >= new_threshold`` but not shared: the direction moved (``c < shared_threshold``) and/or
  the firing pattern changed (``r < shifted_correlation``);
* ``new`` (side b) / ``lost`` (side a): no latent of the other SAE has a decoder cosine of at least
  ``new_threshold`` (best cosine below it);
* ``split``: its one-to-one partner is below ``new_threshold`` but some other latent of the other SAE is
  above it: that latent is taken by a closer partner (feature splitting or merging).

``new_threshold`` cuts a continuum, so every comparison also records the *continuum*: quantiles of each
latent's best decoder cosine to the other SAE and the fraction of latents above a grid of thresholds, beside
the chance level (the best cosine of a random direction to the decoder, :func:`chance_best_cosine`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from featevo.config import CompareConfig
from featevo.errors import StageError

MATCHED = ("shared", "shifted")
"""Pair classes that count as a match (the pairs stage 03 measures)."""
CONTINUUM_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


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

    Only ``rows``/``cols`` (index arrays; default all) take part. Returns, for every row of ``sim``, the
    matched column or -1 (row not taking part, or more rows than columns).
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


def _sparse_cross(za: torch.Tensor, zb: torch.Tensor) -> np.ndarray:
    """``za.T @ zb`` in float64 from the nonzero entries only (each row of a TopK code has at most k)."""
    ka = int((za != 0).sum(1).max()) if za.numel() else 0
    kb = int((zb != 0).sum(1).max()) if zb.numel() else 0
    da, db = za.shape[1], zb.shape[1]
    if ka == 0 or kb == 0:
        return np.zeros((da, db))
    va, ia = za.topk(ka, dim=1)
    vb, ib = zb.topk(kb, dim=1)
    flat = (ia[:, :, None] * db + ib[:, None, :]).reshape(-1)
    w = (va.double()[:, :, None] * vb.double()[:, None, :]).reshape(-1)
    return torch.bincount(flat, weights=w, minlength=da * db).reshape(da, db).numpy()


class CorrelationAccumulator:
    """Streaming Pearson correlation between the latents of several SAEs over the same rows.

    ``update({name: z})`` with latent activations [rows, d_sae] of each SAE for one chunk of rows (the same
    rows for every SAE). Keeps, in float64, per-SAE sums, sums of squares and firing counts, and the
    cross-product matrix of each requested pair: memory O(d_sae^2) per pair.

    ``precision="exact"`` forms every chunk's cross products in float64. ``"fast"`` forms them in float32
    (a chunk's sum of at most ``chunk`` products; the running total stays float64), and for wide pairs
    (more than ``sparse_above`` entries) in float64 from the nonzero entries only (a TopK code has k nonzeros
    per row), which is exact and much cheaper than a dense product there.
    """

    def __init__(self, pairs: list[tuple[str, str]], precision: Literal["exact", "fast"] = "exact",
                 sparse_above: int = 250_000):
        self.pairs = list(dict.fromkeys(pairs))
        self.precision = precision
        self.sparse_above = sparse_above
        self.n = 0
        self.s: dict[str, np.ndarray] = {}
        self.ss: dict[str, np.ndarray] = {}
        self.fires: dict[str, np.ndarray] = {}
        self.cross: dict[tuple[str, str], np.ndarray] = {}

    def _cross(self, za: torch.Tensor, zb: torch.Tensor) -> np.ndarray:
        if self.precision == "exact":
            return (za.double().T @ zb.double()).numpy()
        if za.shape[1] * zb.shape[1] > self.sparse_above:
            return _sparse_cross(za, zb)
        return (za.float().T @ zb.float()).double().numpy()

    def update(self, z: dict[str, torch.Tensor]) -> None:
        rows = {int(v.shape[0]) for v in z.values()}
        if len(rows) != 1:
            raise ValueError(f"chunks of different lengths: {sorted(rows)}")
        zz = {k: v.detach().cpu() for k, v in z.items()}
        for k, v in zz.items():
            if k not in self.s:
                self.s[k] = np.zeros(v.shape[1])
                self.ss[k] = np.zeros(v.shape[1])
                self.fires[k] = np.zeros(v.shape[1], dtype=np.int64)
            if self.precision == "exact":
                vd = v.double()
                self.s[k] += vd.sum(0).numpy()
                self.ss[k] += vd.pow(2).sum(0).numpy()
                self.fires[k] += (v > 0).sum(0).numpy()
            else:  # a chunk's column sums as float32 products with a row of ones (far faster than reductions)
                vf = v.float()
                ones = torch.ones(1, vf.shape[0])
                self.s[k] += (ones @ vf)[0].double().numpy()
                self.ss[k] += (ones @ vf.square())[0].double().numpy()
                self.fires[k] += np.rint((ones @ (vf > 0).float())[0].numpy()).astype(np.int64)
        for a, b in self.pairs:
            prod = self._cross(zz[a], zz[b])
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
def _describe(x: np.ndarray) -> dict:
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return {"n": 0}
    q = np.quantile(x, [0.1, 0.5, 0.9])
    return {"n": int(x.size), "mean": float(x.mean()), "p10": float(q[0]), "median": float(q[1]),
            "p90": float(q[2]), "min": float(x.min()), "max": float(x.max())}


def _count(arr) -> dict:
    vals, n = np.unique(np.asarray(arr, dtype=str), return_counts=True)
    return {str(v): int(c) for v, c in zip(vals, n)}


@dataclass
class Matching:
    """The comparison of SAE a with SAE b (base vs tuned, or two seeds of one model, ...)."""

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
        return {"a": _count(self.class_a), "b": _count(self.class_b), "pairs": _count(self.pair_class)}

    def summary(self, name_a: str, name_b: str) -> dict:
        n_live_a, n_live_b = int(self.live_a.sum()), int(self.live_b.sum())
        n_pairs = len(self.pair_a)
        shared = int((self.pair_class == "shared").sum())
        m = np.isin(self.pair_class, MATCHED)
        live = self.live_a
        agree_all = float((self.dec_match_a[live] == self.act_match_a[live]).mean()) if live.any() else 0.0
        counts = self.class_counts()
        shifted = self.pair_class == "shifted"
        low_cos = self.pair_cos < self.shared_threshold
        low_corr = self.pair_corr < self.shifted_correlation
        return {
            "saes": [name_a, name_b],
            "live_latents": {name_a: n_live_a, name_b: n_live_b},
            "pairs": n_pairs,
            "class_counts": {name_a: counts["a"], name_b: counts["b"], "pairs": counts["pairs"]},
            "shared_fraction": shared / max(n_pairs, 1),
            "matched_fraction": int(m.sum()) / max(n_pairs, 1),
            "pair_decoder_cosine": _describe(self.pair_cos),
            "pair_activation_correlation": _describe(self.pair_corr),
            "activation_match_correlation": _describe(
                self.corr[np.flatnonzero(self.act_match_a >= 0), self.act_match_a[self.act_match_a >= 0]]),
            "agreement": agree_all,
            "same_index_fraction": float((self.pair_a == self.pair_b).mean()) if n_pairs else 0.0,
            "agreement_matched_pairs": float(self.pair_agree[m].mean()) if m.any() else None,
            "shifted_reasons": {
                "direction_only": int((shifted & low_cos & ~low_corr).sum()),
                "activation_only": int((shifted & ~low_cos).sum()),
                "both": int((shifted & low_cos & low_corr).sum()),
            },
        }


def match_latents(cos: np.ndarray, corr: np.ndarray, live_a: np.ndarray, live_b: np.ndarray,
                  cfg: CompareConfig, unmatched_names: tuple[str, str] = ("lost", "new")) -> Matching:
    """Decoder and activation assignments among live latents, and the class of every latent.

    ``cos``/``corr`` [n_a, n_b]; ``live_*`` mark latents that fired at least once. See the module docstring
    for the classes; ``unmatched_names`` names the no-match class of side a and side b.
    """
    live_a, live_b = np.asarray(live_a, bool), np.asarray(live_b, bool)
    rows, cols = np.flatnonzero(live_a), np.flatnonzero(live_b)
    n_a, n_b = cos.shape
    dec_a = hungarian(cos, rows, cols)
    act_a = hungarian(corr, rows, cols)
    dec_b, act_b = inverse_match(dec_a, n_b), inverse_match(act_a, n_b)

    best_a, best_b = np.zeros(n_a), np.zeros(n_b)
    if len(rows) and len(cols):
        sub = cos[np.ix_(rows, cols)]
        best_a[rows] = sub.max(axis=1)
        best_b[cols] = sub.max(axis=0)

    pa = np.flatnonzero(dec_a >= 0)
    pb = dec_a[pa]
    pcos, pcorr = cos[pa, pb], corr[pa, pb]
    shared = (pcos >= cfg.shared_threshold) & (pcorr >= cfg.shifted_correlation)
    pclass = np.where(pcos < cfg.new_threshold, "unmatched", np.where(shared, "shared", "shifted")).astype(object)

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
    return Matching(cos=cos, corr=corr, live_a=live_a, live_b=live_b, dec_match_a=dec_a, dec_match_b=dec_b,
                    act_match_a=act_a, act_match_b=act_b, best_cos_a=best_a, best_cos_b=best_b,
                    class_a=class_a, class_b=class_b, pair_a=pa, pair_b=pb, pair_cos=pcos, pair_corr=pcorr,
                    pair_class=pclass, pair_agree=act_a[pa] == pb, shared_threshold=cfg.shared_threshold,
                    shifted_correlation=cfg.shifted_correlation)


def compare_saes(sae_a, sae_b, x_a: torch.Tensor, x_b: torch.Tensor, cfg: CompareConfig,
                 unmatched_names: tuple[str, str] = ("lost", "new"), chunk: int = 8192) -> Matching:
    """Match two loaded SAEs: decoders, and activations of ``sae_a`` on ``x_a`` vs ``sae_b`` on ``x_b``
    (aligned rows: the same tokens through each SAE's own model)."""
    from featevo.sae import encode

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
    return {"samples": n_samples, "d_in": int(W.shape[1]), "latents": int(W.shape[0]),
            "p50": float(np.quantile(best, 0.5)), "p99": float(np.quantile(best, 0.99)), "max": float(best.max()),
            "cosine_sd_random_pair": float(1.0 / np.sqrt(W.shape[1]))}


# --------------------------------------------------------------------------------------------
# The statistics of one comparison
# --------------------------------------------------------------------------------------------
def continuum(best: np.ndarray, live: np.ndarray, grid: tuple[float, ...]) -> dict:
    """Quantiles of the best decoder cosines of the live latents of one side, and the fraction of them at or
    above each threshold of ``grid``."""
    b = np.asarray(best, dtype=np.float64)[np.asarray(live, bool)]
    if b.size == 0:
        return {"n": 0, "quantiles": {}, "fraction_at_or_above": {}}
    q = np.quantile(b, CONTINUUM_QUANTILES)
    return {"n": int(b.size), "quantiles": {f"p{int(100 * p)}": float(v) for p, v in zip(CONTINUUM_QUANTILES, q)},
            "fraction_at_or_above": {f"{t:g}": float((b >= t).mean()) for t in grid}}


STAT_DOCS = {
    "matched_fraction": "fraction of the decoder-Hungarian pairs that are shared or shifted",
    "shared_fraction": "fraction of the decoder-Hungarian pairs that are shared",
    "mean_pair_cosine": "mean decoder cosine of the decoder-Hungarian pairs",
    "agreement": "fraction of live side-a latents whose decoder and activation partners agree",
    "new": "live side-b latents with no decoder cosine >= new_threshold to any live side-a latent",
    "lost": "live side-a latents with no decoder cosine >= new_threshold to any live side-b latent",
    "above_chance_fraction": "fraction of live latents (both sides) whose best decoder cosine to the other SAE "
                             "exceeds the chance level (99th percentile of a random direction's best cosine)",
}
"""The per-comparison statistics every family of comparisons is summarised and tested on."""


def comparison_stats(m: Matching, chance_p99: float) -> dict:
    """The statistics of :data:`STAT_DOCS` for one comparison, plus counts needed beside them."""
    n_pairs = len(m.pair_a)
    ca, cb = m.class_counts()["a"], m.class_counts()["b"]
    best = np.concatenate([m.best_cos_a[m.live_a], m.best_cos_b[m.live_b]])
    return {
        "pairs": n_pairs,
        "matched": int(np.isin(m.pair_class, MATCHED).sum()),
        "shared": int((m.pair_class == "shared").sum()),
        "matched_fraction": float(np.isin(m.pair_class, MATCHED).sum() / max(n_pairs, 1)),
        "shared_fraction": float((m.pair_class == "shared").sum() / max(n_pairs, 1)),
        "mean_pair_cosine": float(m.pair_cos.mean()) if n_pairs else None,
        "agreement": float((m.dec_match_a[m.live_a] == m.act_match_a[m.live_a]).mean()) if m.live_a.any() else 0.0,
        "new": int(cb.get("new", 0)), "lost": int(ca.get("lost", 0)),
        "split_a": int(ca.get("split", 0)), "split_b": int(cb.get("split", 0)),
        "dead_a": int(ca.get("dead", 0)), "dead_b": int(cb.get("dead", 0)),
        "live_a": int(m.live_a.sum()), "live_b": int(m.live_b.sum()),
        "above_chance_fraction": float((best > chance_p99).mean()) if best.size else None,
    }
