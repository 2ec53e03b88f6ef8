"""Figures of stages 02 and 03 (matplotlib, PNG + SVG through :func:`featevo.plots.save_figure`).

Colours follow featevo/plots.py (one per model family): a family of comparisons takes the colour of the model it
compares with base (fine-tuning: tuned orange, control: green, planted: purple); the null (seed pairs) is grey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from featevo.plots import (BASE_COLOR, CONTROL_COLOR, NULL_COLOR, PLANTED_COLOR, TUNED_COLOR, plt, save_figure,
                           shade)

SIG_COLOR = "#d62728"


def _threshold_lines(ax, xs: Sequence[tuple[float, str, str]], vertical: bool = True) -> None:
    for x, style, label in xs:
        (ax.axvline if vertical else ax.axhline)(x, color="black", ls=style, lw=1, label=label)


# --------------------------------------------------------------------------------------------
# Stage 02
# --------------------------------------------------------------------------------------------
FAMILY_COLORS = {"fine-tuning": TUNED_COLOR, "seed": NULL_COLOR, "control": CONTROL_COLOR, "planted": PLANTED_COLOR,
                 "wide-seed": shade(NULL_COLOR, 2)}


def _family_color(label: str) -> str:
    return next((c for f, c in FAMILY_COLORS.items() if label.startswith(f)), BASE_COLOR)


def similarity_histogram(groups: dict[str, tuple[np.ndarray, np.ndarray]], cc, chance: dict | None, out: Path) -> None:
    """Decoder cosine and activation correlation of Hungarian-matched pairs per family of comparisons
    (``groups``: label -> (pair cosines, pair correlations), pooled over the family's comparisons), with the
    class thresholds and the chance level of a best cosine. Densities, so families of different sizes compare."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    lo = min([-0.2] + [float(np.min(c, initial=0)) for c, _ in groups.values()])
    bins = np.linspace(lo, 1.0, 41)
    rbins = np.linspace(-0.2, 1.0, 41)
    for ax, i, b in ((axes[0], 0, bins), (axes[1], 1, rbins)):
        for k, (label, vals) in enumerate(groups.items()):
            x = vals[i]
            if not len(x):
                continue
            kw = dict(alpha=0.7) if k == 0 else dict(histtype="step", lw=2)
            ax.hist(x, bins=b, weights=np.full(len(x), 1.0 / len(x)), color=_family_color(label),
                    label=f"{label}, n={len(x)}", **kw)
        ax.set_ylabel("fraction of pairs")
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
    for ax in axes:  # below the axes: a legend inside would cover the histograms
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    fig.suptitle("SAE latent matching: each family of comparisons (seed pairs are the null)")
    fig.tight_layout()
    save_figure(fig, out)


def matched_scatter(groups: dict[str, tuple[np.ndarray, np.ndarray]], cc, out: Path) -> None:
    """Every Hungarian pair as a point (decoder cosine, activation correlation) per family; regions = classes."""
    fig, ax = plt.subplots(figsize=(7.2, 6))
    items = list(groups.items())
    for label, (c, r) in items[1:][::-1] + items[:1]:  # the first family (fine-tuning) on top
        ax.scatter(c, r, s=10, color=_family_color(label), alpha=0.5 if label != items[0][0] else 0.85,
                   edgecolor="none", label=label)
    allc = np.concatenate([c for c, _ in groups.values()]) if groups else np.zeros(0)
    allr = np.concatenate([r for _, r in groups.values()]) if groups else np.zeros(0)
    ax.axvline(cc.new_threshold, color="black", ls="--", lw=1)
    ax.axvline(cc.shared_threshold, color="black", ls="-", lw=1)
    ax.plot([cc.shared_threshold, 1.02], [cc.shifted_correlation] * 2, color="black", ls=":", lw=1)
    ax.plot([cc.new_threshold, cc.shared_threshold], [cc.shifted_correlation] * 2, color="black", ls=":", lw=1,
            alpha=0.4)
    ymin = min(-0.1, float(np.min(allr, initial=0)) - 0.05)
    xmin = min(-0.1, float(np.min(allc, initial=0)) - 0.05)
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


def continuum_curves(grid: Sequence[float], curves: dict[str, list[list]], chance_p99: dict[str, float],
                     new_threshold: float, out: Path) -> None:
    """Fraction of live latents whose best decoder cosine to the other SAE reaches each threshold: per family,
    the mean over its comparisons (both sides) with the min-max band, beside the chance level."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    g = np.asarray(grid, dtype=np.float64)
    for fam, rows in curves.items():
        y = np.array([[np.nan if v is None else v for v in r] for r in rows], dtype=np.float64)
        if not y.size:
            continue
        color = FAMILY_COLORS.get(fam, BASE_COLOR)
        ax.plot(g, np.nanmean(y, 0), color=color, lw=2, marker="o", ms=3, label=f"{fam} ({len(rows) // 2})")
        ax.fill_between(g, np.nanmin(y, 0), np.nanmax(y, 0), color=color, alpha=0.15)
    for k, (name, c) in enumerate(chance_p99.items()):
        ax.axvline(c, color="black", ls=":", lw=1, alpha=0.5 + 0.25 * k,
                   label=f"chance p99, {name} size ({c:.2f})")
    ax.axvline(new_threshold, color="black", ls="--", lw=1, label=f"new_threshold {new_threshold:g}")
    ax.set_xlabel("threshold on the best decoder cosine to the other SAE")
    ax.set_ylabel("fraction of live latents at or above it")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("The continuum behind 'new' and 'lost': best decoder cosines per family\n"
                 "(line: mean over comparisons and both sides; band: min-max)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    save_figure(fig, out)


# --------------------------------------------------------------------------------------------
# Stage 03
# --------------------------------------------------------------------------------------------
def four_panel(
    top: list[dict],
    spec_base: np.ndarray, spec_tuned: np.ndarray, spec_sig: np.ndarray,
    z_groups: dict[str, np.ndarray],
    heat: np.ndarray, heat_labels: list[str], categories: list[str], n_target_categories: int,
    out: Path, activation_unit: str = "mean activation", domains: tuple[str, str] = ("financial", "general"),
    seed_band: dict | None = None,
) -> None:
    """The study's figure 3.1, on matched pairs and the domain-specific change; ``domains``: the target and
    reference domains' names (``data.target_domain`` / ``data.reference_domain``) for the axis labels.

    (a) domain-specific change (did) of the top pairs with cluster-bootstrap intervals; (b) specialization of
    every matched pair, base vs tuned; (c) distribution of z = did / se per family of comparisons (the seed
    pairs are the null); (d) per-category change (tuned minus base) of the top pairs.
    ``top`` rows: label, did, lo, hi, discovered. ``seed_band`` (:func:`seed_band`, from the seed comparisons' pairs)
    draws in (a) what seed noise alone gives, so a bar whose interval excludes 0 is not read as beyond it.
    """
    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    _top_pairs_panel(axes[0, 0], top, activation_unit, domains, seed_band)
    _specialization_panel(axes[0, 1], spec_base, spec_tuned, spec_sig, domains)
    _z_hist_panel(axes[1, 0], z_groups)
    _category_heat_panel(fig, axes[1, 1], heat, heat_labels, categories, n_target_categories, activation_unit,
                         domains)
    fig.suptitle("Feature evolution under fine-tuning: matched SAE latents, domain-specific change, seed-calibrated")
    fig.tight_layout()
    save_figure(fig, out)


def seed_band(seed_dids: list[np.ndarray]) -> dict | None:
    """What seed noise gives to the domain-specific change (did) of matched pairs, from each seed comparison's pairs
    (``seed_dids``: one array per comparison): ``lo`` / ``hi``, the central 95% of every pair pooled, and
    ``extreme``, the largest |did| of a comparison (mean over the comparisons): the size the top pairs of a
    comparison reach by seed noise alone. None without a seed comparison."""
    arrs = [np.asarray(d, dtype=np.float64)[np.isfinite(d)] for d in seed_dids]
    arrs = [a for a in arrs if a.size]
    if not arrs:
        return None
    pooled = np.concatenate(arrs)
    lo, hi = np.quantile(pooled, [0.025, 0.975])
    return {"lo": float(lo), "hi": float(hi), "extreme": float(np.mean([np.max(np.abs(a)) for a in arrs])),
            "comparisons": len(arrs)}


def _seed_band_lines(ax, band: dict | None) -> None:
    if band is None:
        return
    ax.axvspan(band["lo"], band["hi"], color=NULL_COLOR, alpha=0.22, lw=0, zorder=0,
               label="seed pairs: central 95% of the change")
    for x in (-band["extreme"], band["extreme"]):
        ax.axvline(x, color=NULL_COLOR, ls=":", lw=1.4, zorder=0,
                   label=(f"seed pairs: largest |change| of a comparison (mean of {band['comparisons']})"
                          if x < 0 else None))


def _top_pairs_panel(ax, top: list[dict], activation_unit: str, domains: tuple[str, str],
                     band: dict | None = None) -> None:
    """(a) domain-specific change of the top pairs, with cluster-bootstrap intervals, over the seed band."""
    _seed_band_lines(ax, band)
    n = len(top)
    y = np.arange(n)
    if n:
        d = np.array([r["did"] for r in top])
        err = np.abs(np.array([[r["did"] - r["lo"], r["hi"] - r["did"]] for r in top]).T)
        colors = [SIG_COLOR if r["discovered"] else NULL_COLOR for r in top]
        ax.barh(y, d, 0.6, xerr=err, color=colors, error_kw=dict(lw=0.8))
        ax.set_yticks(y)
        ax.set_yticklabels([r["label"] + (" *" if r["discovered"] else "") for r in top], fontsize=8)
        ax.invert_yaxis()
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel(f"domain-specific change: ({domains[0]} - {domains[1]}) of tuned minus base latent "
                  f"({activation_unit})")
    ax.set_title("(a) Largest |z| of the domain-specific change, matched pairs\n"
                 "(* beyond seed noise: seed-calibrated BH discovery; grey: what seed pairs give)")
    ax.grid(alpha=0.3, axis="x")
    if band is not None:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1, frameon=False)


def _specialization_panel(ax, spec_base: np.ndarray, spec_tuned: np.ndarray, spec_sig: np.ndarray,
                          domains: tuple[str, str]) -> None:
    """(b) specialization of every matched pair, base vs tuned."""
    spec_sig = np.asarray(spec_sig, bool)
    ax.scatter(spec_base[~spec_sig], spec_tuned[~spec_sig], s=14, color=NULL_COLOR, alpha=0.6,
               label="not beyond seed noise")
    ax.scatter(spec_base[spec_sig], spec_tuned[spec_sig], s=18, color=SIG_COLOR, alpha=0.85,
               label="domain-specific change beyond seed noise")
    ax.plot([-1, 1], [-1, 1], color="black", lw=1, ls="--")
    ax.axhline(0, color="black", lw=0.5)
    ax.axvline(0, color="black", lw=0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    t, r = domains
    ax.set_xlabel(f"base latent specialization ({t} - {r}) / ({t} + {r})")
    ax.set_ylabel("matched tuned latent specialization")
    ax.set_title(f"(b) Specialization change of matched pairs (above diagonal: more {t})")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)


def _z_hist_panel(ax, z_groups: dict[str, np.ndarray]) -> None:
    """(c) distribution of z per family of comparisons, against the seed pairs."""
    allv = np.concatenate([np.asarray(v) for v in z_groups.values()]) if z_groups else np.zeros(0)
    if allv.size:
        lim = float(np.quantile(np.abs(allv), 0.995)) or 1.0
        bins = np.linspace(-lim, lim, 41)
        for k, (label, v) in enumerate(z_groups.items()):
            v = np.clip(np.asarray(v), -lim, lim)
            if not len(v):
                continue
            kw = dict(alpha=0.7) if k == 0 else dict(histtype="step", lw=2)
            ax.hist(v, bins=bins, weights=np.full(len(v), 1.0 / len(v)), color=_family_color(label),
                    label=f"{label} (n={len(v)})", **kw)
    ax.axvline(0, color="black", lw=1)
    ax.set_xlabel("z = domain-specific change / cluster-bootstrap SE (matched pairs)")
    ax.set_ylabel("fraction of matched pairs")
    ax.set_title("(c) Distribution of z per family (seed pairs: the null)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    ax.grid(alpha=0.3)


def _category_heat_panel(fig, ax, heat: np.ndarray, heat_labels: list[str], categories: list[str],
                         n_target_categories: int, activation_unit: str, domains: tuple[str, str]) -> None:
    """(d) per-category change (tuned minus base) of the top pairs."""
    if heat.size:
        lim = float(np.max(np.abs(heat))) or 1.0
        im = ax.imshow(heat, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_yticks(np.arange(len(heat_labels)))
        ax.set_yticklabels(heat_labels, fontsize=8)
        ax.set_xticks(np.arange(len(categories)))
        ax.set_xticklabels(categories, rotation=45, ha="right", fontsize=8)
        ax.axvline(n_target_categories - 0.5, color="black", lw=1.5)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label(f"tuned minus base ({activation_unit})")
    ax.set_xlabel(f"probe category ({domains[0]} | {domains[1]})")
    ax.set_title("(d) Per-category change of the top pairs")
