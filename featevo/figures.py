"""Figures of stages 02 and 03 (matplotlib, PNG + SVG through :func:`featevo.plots.save_figure`).

Colours follow featevo/plots.py: base blue, tuned orange, null baseline (seed SAE) grey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from featevo.plots import BASE_COLOR, NULL_COLOR, TUNED_COLOR, plt, save_figure

SIG_COLOR = "#d62728"


def _threshold_lines(ax, xs: Sequence[tuple[float, str, str]], vertical: bool = True) -> None:
    for x, style, label in xs:
        (ax.axvline if vertical else ax.axhline)(x, color="black", ls=style, lw=1, label=label)


# --------------------------------------------------------------------------------------------
# Stage 02
# --------------------------------------------------------------------------------------------
def similarity_histogram(main, nulls: dict, cc, chance: dict | None, out: Path) -> None:
    """Decoder cosine and activation correlation of Hungarian-matched pairs, base-vs-tuned against
    the seed baseline(s), with the class thresholds and the chance level of a best cosine."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    lo = min([-0.2, float(np.min(main.pair_cos, initial=0))]
             + [float(np.min(m.pair_cos, initial=0)) for m in nulls.values()])
    bins = np.linspace(lo, 1.0, 41)
    rbins = np.linspace(-0.2, 1.0, 41)
    for ax, attr, b in ((axes[0], "pair_cos", bins), (axes[1], "pair_corr", rbins)):
        x = getattr(main, attr)
        ax.hist(x, bins=b, color=TUNED_COLOR, alpha=0.75, label=f"base vs tuned (n={len(x)})")
        for name, m in nulls.items():
            y = getattr(m, attr)
            ax.hist(y, bins=b, histtype="step", color=NULL_COLOR, lw=2,
                    label=f"base vs {name}: seed baseline (n={len(y)})")
        ax.set_ylabel("matched pairs")
        ax.grid(alpha=0.3)
    lines = [(cc.new_threshold, "--", f"new_threshold {cc.new_threshold:g}"),
             (cc.shared_threshold, "-", f"shared_threshold {cc.shared_threshold:g}")]
    if chance:
        lines.append((chance["p99"], ":", f"chance best cosine p99 ({chance['p99']:.2f})"))
    _threshold_lines(axes[0], lines)
    _threshold_lines(axes[1], [(cc.shifted_correlation, "--", f"shifted_correlation {cc.shifted_correlation:g}")])
    axes[0].set_xlabel("decoder cosine of the matched pair (Hungarian on decoder cosine)")
    axes[1].set_xlabel("activation correlation of the same pair (Pearson over shared tokens)")
    axes[0].set_title("Decoder similarity of matched latents")
    axes[1].set_title("Activation correlation of matched latents")
    for ax in axes:
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("SAE latent matching: fine-tuned model vs seed-noise baseline")
    fig.tight_layout()
    save_figure(fig, out)


def matched_scatter(main, nulls: dict, cc, out: Path) -> None:
    """Every Hungarian pair as a point (decoder cosine, activation correlation), regions = classes."""
    fig, ax = plt.subplots(figsize=(7.2, 6))
    for name, m in nulls.items():
        ax.scatter(m.pair_cos, m.pair_corr, s=12, color=NULL_COLOR, alpha=0.5, label=f"base vs {name} (seed baseline)")
    ax.scatter(main.pair_cos, main.pair_corr, s=16, color=TUNED_COLOR, alpha=0.85, edgecolor="none",
               label="base vs tuned")
    ax.axvline(cc.new_threshold, color="black", ls="--", lw=1)
    ax.axvline(cc.shared_threshold, color="black", ls="-", lw=1)
    ax.plot([cc.shared_threshold, 1.02], [cc.shifted_correlation] * 2, color="black", ls=":", lw=1)
    ax.plot([cc.new_threshold, cc.shared_threshold], [cc.shifted_correlation] * 2, color="black", ls=":", lw=1,
            alpha=0.4)
    ymin = min(-0.1, float(np.min(main.pair_corr, initial=0)) - 0.05)
    xmin = min(-0.1, float(np.min(main.pair_cos, initial=0)) - 0.05)
    ax.set_xlim(xmin, 1.02)
    ax.set_ylim(ymin, 1.05)
    kw = dict(fontsize=9, ha="center", bbox=dict(boxstyle="round", fc="white", alpha=0.85))
    top, bottom = 1.03, ymin + 0.02
    ax.text((cc.shared_threshold + 1.02) / 2, top, "shared", va="top", **kw)
    ax.text((cc.shared_threshold + 1.02) / 2, bottom, "shifted\n(firing)", va="bottom", **kw)
    ax.text((cc.new_threshold + cc.shared_threshold) / 2, top, "shifted\n(direction)", va="top", **kw)
    ax.text((xmin + cc.new_threshold) / 2, top, "unmatched:\nnew / lost / split", va="top", **kw)
    ax.set_xlabel("decoder cosine of the matched pair")
    ax.set_ylabel("activation correlation of the pair")
    ax.set_title("Matched latent pairs (Hungarian on decoder cosine)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.11), ncol=2)
    save_figure(fig, out)


# --------------------------------------------------------------------------------------------
# Stage 03
# --------------------------------------------------------------------------------------------
def four_panel(
    top: list[dict],
    spec_base: np.ndarray, spec_tuned: np.ndarray, spec_sig: np.ndarray,
    delta: np.ndarray, delta_sig: np.ndarray, delta_null: np.ndarray | None,
    heat: np.ndarray, heat_labels: list[str], categories: list[str], n_financial_categories: int,
    out: Path, activation_unit: str = "mean activation",
) -> None:
    """The study's figure 3.1, on matched pairs.

    (a) financial score of the top pairs, base vs tuned, with bootstrap CIs; (b) specialization of
    every matched pair, base vs tuned; (c) distribution of the financial-score change against the
    seed baseline; (d) per-category change (tuned minus base) of the top pairs.
    ``top`` rows: label, base, base_lo, base_hi, tuned, tuned_lo, tuned_hi, significant and
    (optional) beyond_seed_noise.
    """
    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    _top_pairs_panel(axes[0, 0], top, activation_unit)
    _specialization_panel(axes[0, 1], spec_base, spec_tuned, spec_sig)
    _delta_hist_panel(axes[1, 0], delta, delta_sig, delta_null)
    _category_heat_panel(fig, axes[1, 1], heat, heat_labels, categories, n_financial_categories, activation_unit)
    fig.suptitle("Feature evolution under fine-tuning: matched SAE latents (corrected study figure 3.1)")
    fig.tight_layout()
    save_figure(fig, out)


def _top_pairs_panel(ax, top: list[dict], activation_unit: str) -> None:
    """(a) financial score of the top pairs, base vs tuned, with bootstrap CIs."""
    n = len(top)
    y = np.arange(n)
    h = 0.38
    if n:
        b = np.array([r["base"] for r in top])
        t = np.array([r["tuned"] for r in top])
        berr = np.abs(np.array([[r["base"] - r["base_lo"], r["base_hi"] - r["base"]] for r in top]).T)
        terr = np.abs(np.array([[r["tuned"] - r["tuned_lo"], r["tuned_hi"] - r["tuned"]] for r in top]).T)
        ax.barh(y - h / 2, b, h, xerr=berr, color=BASE_COLOR, label="base latent", error_kw=dict(lw=0.8))
        ax.barh(y + h / 2, t, h, xerr=terr, color=TUNED_COLOR, label="matched tuned latent", error_kw=dict(lw=0.8))
        ax.set_yticks(y)
        ax.set_yticklabels([r["label"] + (" **" if r.get("beyond_seed_noise") else " *" if r["significant"] else "")
                            for r in top], fontsize=8)
        ax.invert_yaxis()
    ax.set_xlabel(f"financial score ({activation_unit} on financial probe sentences)")
    ax.set_title("(a) Largest |change| in financial score, matched pairs\n"
                 "(* BH-significant, ** also beyond seed noise)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")


def _specialization_panel(ax, spec_base: np.ndarray, spec_tuned: np.ndarray, spec_sig: np.ndarray) -> None:
    """(b) specialization of every matched pair, base vs tuned."""
    spec_sig = np.asarray(spec_sig, bool)
    ax.scatter(spec_base[~spec_sig], spec_tuned[~spec_sig], s=14, color=NULL_COLOR, alpha=0.6,
               label="change not significant")
    ax.scatter(spec_base[spec_sig], spec_tuned[spec_sig], s=18, color=SIG_COLOR, alpha=0.85,
               label="financial-score change BH-significant")
    ax.plot([-1, 1], [-1, 1], color="black", lw=1, ls="--")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("base latent specialization (fin - gen) / (fin + gen)")
    ax.set_ylabel("matched tuned latent specialization")
    ax.set_title("(b) Specialization change of matched pairs (above diagonal: more financial)")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)


def _delta_hist_panel(ax, delta: np.ndarray, delta_sig: np.ndarray, delta_null: np.ndarray | None) -> None:
    """(c) distribution of the financial-score change against the seed baseline."""
    allv = np.concatenate([delta, delta_null]) if delta_null is not None and len(delta_null) else np.asarray(delta)
    if allv.size:
        lim = float(np.max(np.abs(allv))) or 1.0
        bins = np.linspace(-lim, lim, 41)
        if len(delta):
            ax.hist(delta, bins=bins, weights=np.full(len(delta), 1.0 / len(delta)), color=TUNED_COLOR, alpha=0.75,
                    label=f"base -> tuned (n={len(delta)}, {int(np.sum(delta_sig))} BH-significant)")
        if delta_null is not None and len(delta_null):
            ax.hist(delta_null, bins=bins, weights=np.full(len(delta_null), 1.0 / len(delta_null)), histtype="step",
                    color=NULL_COLOR, lw=2, label=f"base -> base seed 1: seed baseline (n={len(delta_null)})")
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel("change in financial score (other SAE's latent minus base latent, matched pairs)")
    ax.set_ylabel("fraction of matched pairs")
    ax.set_title("(c) Distribution of changes vs seed baseline")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _category_heat_panel(fig, ax, heat: np.ndarray, heat_labels: list[str], categories: list[str],
                         n_financial_categories: int, activation_unit: str) -> None:
    """(d) per-category change (tuned minus base) of the top pairs."""
    if heat.size:
        lim = float(np.max(np.abs(heat))) or 1.0
        im = ax.imshow(heat, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_yticks(np.arange(len(heat_labels)))
        ax.set_yticklabels(heat_labels, fontsize=8)
        ax.set_xticks(np.arange(len(categories)))
        ax.set_xticklabels(categories, rotation=45, ha="right", fontsize=8)
        ax.axvline(n_financial_categories - 0.5, color="black", lw=1.5)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label(f"tuned minus base ({activation_unit})")
    ax.set_xlabel("probe category (financial | general)")
    ax.set_title("(d) Per-category change of the top pairs")
