"""The study's four-panel figure in its original layout: by its procedure, and the same layout after every correction
(stage 03_study, :mod:`featevo.study_stage`).

(a) top-20 bars, base vs tuned financial activation; (b) "financial specialisation improvement" bars of the same
latents; (c) histogram of the change over all latents; (d) scatter of financial vs general activation for both
models with y = x. The corrected version draws matched pairs (stage 02) instead of latent i beside latent i, the
SAE's own encode at its hookpoint without special tokens, specialisation against each model's own reference, and
in (c) the same histogram between two seeds of the base model (the baseline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from featevo.plots import BASE_COLOR, NULL_COLOR, TUNED_COLOR, plt, save_figure
from featevo.study import domain_means, top_n
from featevo.study_ladder import SEED, SPECIAL, TUNED


def _bars(ax, labels, base, tuned, title, xlabel) -> None:
    y = np.arange(len(labels))
    ax.barh(y - 0.2, base, 0.4, color=BASE_COLOR, label="base")
    ax.barh(y + 0.2, tuned, 0.4, color=TUNED_COLOR, label="tuned")
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)
    ax.legend(fontsize=7)


def _improvement(ax, labels, change, title, xlabel, seed: np.ndarray | None = None) -> None:
    """Bars of the change; with ``seed`` (the same change between two seeds of one model, every pair), the band of
    its central 95% and its largest |value| behind them, so a bar is read against seed noise."""
    y = np.arange(len(labels))
    change = np.asarray(change, dtype=np.float64)
    if seed is not None and np.isfinite(seed).any():
        s = np.asarray(seed, dtype=np.float64)[np.isfinite(seed)]
        lo, hi = np.quantile(s, [0.025, 0.975])
        ax.axvspan(lo, hi, color=NULL_COLOR, alpha=0.22, lw=0, zorder=0, label="two seeds of base: central 95%")
        ext = float(np.max(np.abs(s)))
        ax.axvline(-ext, color=NULL_COLOR, ls=":", lw=1.4, zorder=0, label="two seeds of base: largest |change|")
        ax.axvline(ext, color=NULL_COLOR, ls=":", lw=1.4, zorder=0)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    ax.barh(y, change, 0.6, color=np.where(change >= 0, TUNED_COLOR, BASE_COLOR))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel, fontsize=8)


def _scatter(ax, fin_b, gen_b, fin_t, gen_t, domains) -> None:
    ax.scatter(gen_b, fin_b, s=8, alpha=0.6, color=BASE_COLOR, label="base")
    ax.scatter(gen_t, fin_t, s=8, alpha=0.6, color=TUNED_COLOR, label="tuned")
    allv = np.concatenate([fin_b, gen_b, fin_t, gen_t])
    lo, hi = float(np.nanmin(allv)), float(np.nanmax(allv))
    ax.plot([lo, hi], [lo, hi], color="black", lw=0.8, ls="--", label="y = x")
    ax.set_xlabel(f"mean activation on {domains[1]} sentences", fontsize=8)
    ax.set_ylabel(f"mean activation on {domains[0]} sentences", fontsize=8)
    ax.set_title(f"(d) {domains[0]} vs {domains[1]} activation, every latent", fontsize=10)
    ax.legend(fontsize=7)


def study_four_panel(rows: Sequence[dict], n: int, out: Path, domains: tuple[str, str]) -> None:
    """The figure by the study's procedure; ``rows``: the study's per-latent table of base vs tuned
    (:func:`featevo.study_ladder.latent_table`)."""
    top = sorted(rows, key=lambda r: (-r["change"], r["latent"]))[:n]
    labels = [f"{r['latent']} ({r['type']})" for r in top]
    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    _bars(axes[0, 0], labels, [r["base_fin"] for r in top], [r["tuned_fin"] for r in top],
          f"(a) top {n} latents by {domains[0]} change: latent i of base beside latent i of tuned",
          f"mean activation on {domains[0]} sentences")
    _improvement(axes[0, 1], labels, [r["spec_change"] for r in top],
                 f"(b) {domains[0]} specialisation improvement (study's formula: fin_T - gen_B - (fin_B - gen_B))",
                 "specialisation change")
    ax = axes[1, 0]
    ax.hist([r["score_change"] for r in rows], bins=30, color=TUNED_COLOR, alpha=0.8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title(f"(c) finetuning-score change over all {len(rows)} latents (index pairing)", fontsize=10)
    ax.set_xlabel("score change (tuned latent i minus base latent i)", fontsize=8)
    ax.set_ylabel("latents", fontsize=8)
    _scatter(axes[1, 1], *(np.array([r[k] for r in rows]) for k in ("base_fin", "base_gen", "tuned_fin",
                                                                     "tuned_gen")), domains)
    fig.suptitle("The study's figure by its procedure: the layer below the SAE's, ReLU(W_enc x + b_enc), special "
                 "tokens pooled, latent i paired with latent i")
    fig.tight_layout()
    save_figure(fig, out)


def _pair_changes(ma: dict, mb: dict, partner: Mapping[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(latents of a, their partners in b, own-specialisation change per pair)."""
    a = np.array(sorted(partner), dtype=np.int64)
    b = np.array([partner[int(i)] for i in a], dtype=np.int64)
    sa, sb = ma["fin"] - ma["gen"], mb["fin"] - mb["gen"]
    return a, b, (sb[b] - sa[a]) if len(a) else np.zeros(0)


def corrected_four_panel(pooled: Mapping, is_target: np.ndarray, pairs: Mapping[str, tuple[str, str]],
                         partners: Mapping[str, Mapping[int, int] | None], n: int, out: Path,
                         domains: tuple[str, str]) -> None:
    """The same layout after every correction: matched pairs, the SAE's own encode at its hookpoint without special
    tokens, specialisation against each model's own reference; (b) over the seed band and (c) beside the same change
    between two seeds of the base model."""
    means = {s: domain_means(pooled[(SPECIAL, s)], is_target) for s in {s for ab in pairs.values() for s in ab}}
    a_name, b_name = pairs[TUNED]
    ma, mb = means[a_name], means[b_name]
    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    part = partners.get(TUNED) or {}
    a, b, change = _pair_changes(ma, mb, part)
    change_s = (_pair_changes(means[pairs[SEED][0]], means[pairs[SEED][1]], partners[SEED])[2]
                if SEED in pairs and partners.get(SEED) else None)
    order = top_n(change, n) if len(a) else np.zeros(0, dtype=np.int64)
    labels = [f"{a[k]} -> {b[k]}" for k in order]
    _bars(axes[0, 0], labels, ma["fin"][a[order]] if len(a) else [], mb["fin"][b[order]] if len(a) else [],
          f"(a) top {n} matched pairs by change of own specialisation", f"mean activation on {domains[0]} sentences")
    _improvement(axes[0, 1], labels, change[order] if len(a) else [],
                 "(b) specialisation change: (fin_T - gen_T) - (fin_B - gen_B), matched pairs; grey: seed noise",
                 "specialisation change", seed=change_s)
    ax = axes[1, 0]
    ax.hist(change, bins=30, color=TUNED_COLOR, alpha=0.7, label=f"base vs tuned ({len(change)} matched pairs)")
    if change_s is not None:
        ax.hist(change_s, bins=30, color=NULL_COLOR, alpha=0.6,
                label=f"base vs a second seed of base ({len(change_s)} pairs): the baseline")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title("(c) specialisation change of matched pairs, beside two seeds of one model", fontsize=10)
    ax.set_xlabel("specialisation change", fontsize=8)
    ax.set_ylabel("pairs", fontsize=8)
    ax.legend(fontsize=7)
    _scatter(axes[1, 1], ma["fin"], ma["gen"], mb["fin"], mb["gen"], domains)
    fig.suptitle("The same figure corrected: the SAE's hookpoint and own encode, no special tokens, own reference, "
                 "matched pairs (stage 02), seed baseline")
    fig.tight_layout()
    save_figure(fig, out)
