"""Figures of stage ``02_model_diffing``: per-latent rotation against the null, and relative decoder norms."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featevo.plots import BASE_COLOR, MODEL_COLORS, NULL_COLOR, TUNED_COLOR, model_family, plt, save_figure


def _diagonal(ax, *arrays: np.ndarray) -> None:
    hi = max(float(np.nanmax(a)) for a in arrays if a.size) if arrays else 1.0
    ax.plot([0, hi], [0, hi], color="k", lw=0.8, ls="--", label="y = x")


def rotation_vs_null(tuned: dict, control: dict | None, held_out: dict | None, out: Path) -> None:
    """Left: each latent's rotation (1 - decoder cosine to the start) under the tuned contrast against the
    null's mean (bars: the null's range over its orders), with the held-out null order for reference.
    Right: rotation under tuned against rotation under control (above the diagonal: moved more on
    target-domain fine-tuning than on reference-domain fine-tuning)."""
    fig, axes = plt.subplots(1, 2 if control is not None else 1, figsize=(11 if control else 5.5, 4.6), squeeze=False)
    ax = axes[0, 0]
    x, y = tuned["rotation_null_mean"], tuned["rotation"]
    ax.errorbar(x, y, xerr=[x - tuned["rotation_null_min"], tuned["rotation_null_max"] - x], fmt="o", ms=3,
                color=TUNED_COLOR, ecolor="#ffbf80", elinewidth=0.6, alpha=0.8,
                label=f"tuned ({int(tuned['flagged'].sum())} flagged)")
    if held_out is not None:
        ax.scatter(held_out["rotation_null_mean"], held_out["rotation"], s=8, color=NULL_COLOR, alpha=0.7,
                   label=f"held-out null order ({int(held_out['flagged'].sum())} flagged)")
    _diagonal(ax, x, y)
    ax.set_xlabel("rotation under the null (mean over its orders)")
    ax.set_ylabel("rotation under the contrast")
    ax.set_title("stage-wise: per-latent rotation vs the null")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if control is not None:
        ax = axes[0, 1]
        ax.scatter(control["rotation"], tuned["rotation"], s=9, color=BASE_COLOR, alpha=0.8)
        _diagonal(ax, control["rotation"], tuned["rotation"])
        ax.set_xlabel("rotation under control (reference-domain twin)")
        ax.set_ylabel("rotation under tuned (target-domain twin)")
        ax.set_title("domain specificity: tuned vs control")
        ax.grid(alpha=0.3)
    save_figure(fig, out)


def rho_color(pair: str) -> str:
    """A crosscoder's colour: the family colour of its second model (base~tuned: tuned orange); grey for a
    crosscoder of one model with itself (the null)."""
    a, b = pair.split("~")
    return NULL_COLOR if a == b else MODEL_COLORS.get(model_family(b), TUNED_COLOR)


def rho_histograms(rhos: dict[str, np.ndarray], threshold: float, out: Path) -> None:
    """Histogram of the relative decoder norm rho = |d_b| / (|d_a| + |d_b|) of every crosscoder, with the
    a-only / b-only thresholds. The formula is written once under the panels (one label per panel collides with
    its neighbours); each panel names its two models in its title and at the ends of its axis."""
    n = max(len(rhos), 1)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False, sharey=True)
    bins = np.linspace(0, 1, 41)
    for ax, (pair, rho) in zip(axes[0], rhos.items()):
        a, b = pair.split("~")
        ax.hist(rho, bins=bins, color=rho_color(pair), alpha=0.85)
        for t in (threshold, 1 - threshold):
            ax.axvline(t, color="k", lw=0.8, ls="--")
        null = " (one model twice: the null)" if a == b else ""
        ax.set_title(f"{pair}{null}\n{int((rho >= 1 - threshold).sum())} {b}-only, {int((rho <= threshold).sum())} "
                     f"{a}-only", fontsize=9)
        ax.set_xticks([0, 0.5, 1], [f"0\n{a}-only", "0.5\nshared", f"1\n{b}-only"], fontsize=8)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("latents")
    fig.supxlabel("rho = |d_b| / (|d_a| + |d_b|): the share of a latent's decoder norm in the second model b of "
                  f"the pair a~b (dashed: the model-only thresholds {threshold:g} and {1 - threshold:g})", fontsize=9)
    fig.suptitle("BatchTopK crosscoders: relative decoder norm")
    fig.tight_layout()
    save_figure(fig, out)
