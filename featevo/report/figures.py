"""Figures made by stage 05 itself (the stages' own figures are embedded as they are).

Base is always blue, tuned always orange and the seed baseline grey (:mod:`featevo.plots`).
Every function takes plain numbers already read from the stage outputs and writes a PNG (and an
SVG twin) through :func:`featevo.plots.save_figure`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

from featevo.plots import CONTROL_COLOR, MODEL_COLORS, NULL_COLOR, TUNED_COLOR, color_for, plt, save_figure


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _style(ax) -> None:
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)


def sae_losses(rows: Sequence[dict], loss_name: str, out: Path) -> None:
    """Per SAE, one line from the clean loss to the zero-ablated loss with the SAE-spliced loss on it:
    the SAE marker's position along the line is the loss recovered.

    ``rows``: [{"name", "clean", "sae", "zero", "recovered"}]; missing values are skipped.
    """
    fig, ax = plt.subplots(figsize=(9.5, 0.9 + 0.75 * len(rows)))
    ys = list(range(len(rows)))[::-1]
    for y, r in zip(ys, rows):
        color = color_for(r["name"])
        clean, sae, zero = r.get("clean"), r.get("sae"), r.get("zero")
        if _ok(clean) and _ok(zero):
            ax.plot([clean, zero], [y, y], color="#c9ced6", lw=3, zorder=1, solid_capstyle="round")
        if _ok(clean):
            ax.scatter([clean], [y], s=70, facecolor="white", edgecolor="#1d2430", lw=1.6, zorder=3,
                       label="clean model" if y == ys[0] else None)
        if _ok(zero):
            ax.scatter([zero], [y], s=80, marker="X", color="#1d2430", zorder=3,
                       label="layer zero-ablated" if y == ys[0] else None)
        if _ok(sae):
            ax.scatter([sae], [y], s=120, marker="D", color=color, edgecolor="white", lw=1, zorder=4,
                       label="SAE spliced in" if y == ys[0] else None)
        rec = r.get("recovered")
        txt = f"loss recovered {100 * rec:.1f}%" if _ok(rec) else "loss recovered: undefined"
        ax.annotate(txt, (1.0, y), xycoords=("axes fraction", "data"), xytext=(8, 0), textcoords="offset points",
                    va="center", fontsize=9, color=color, fontweight="bold")
    ax.set_yticks(ys, [r["name"] for r in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(loss_name)
    ax.set_title("Loss with the SAE reconstruction spliced in at the hooked layer")
    ax.grid(axis="x", alpha=0.3)
    for s_ in ("top", "right", "left"):
        ax.spines[s_].set_visible(False)
    ax.tick_params(axis="y", length=0)
    height = 0.9 + 0.75 * len(rows)  # inches: the legend goes about 0.7 inch under the axes, whatever their height
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.75 / (0.8 * height)), ncol=3, frameon=False, fontsize=8.5)
    save_figure(fig, out)


def twin_drift_and_loss(drift: dict[str, dict], mlm: dict[str, dict], out: Path) -> None:
    """Left: relative parameter drift per block. Right: held-out MLM loss of the base and of every twin in
    ``mlm`` (one colour per model family, the legend outside the bars)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12.5, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    names = list(drift)
    vals = [100 * drift[n].get("relative", float("nan")) for n in names]
    a1.bar(range(len(names)), vals, color=TUNED_COLOR, alpha=0.85)
    a1.set_xticks(range(len(names)), [n.replace("layer_", "block ") for n in names], rotation=30, ha="right")
    a1.set_ylabel("relative L2 change of weights (%)")
    a1.set_title("Parameter drift, base → tuned")
    _style(a1)
    domains = list(mlm)
    keys = [k for k in MODEL_COLORS if any(_ok(mlm[d].get(k)) for d in domains)]
    width = 0.8 / max(1, len(keys))
    for j, key in enumerate(keys):
        xs = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(domains))]
        ys = [mlm[d].get(key) for d in domains]
        ys = [y if _ok(y) else 0.0 for y in ys]
        label = {"base": "base (before)", "tuned": "tuned (after)"}.get(key, f"{key} twin")
        a2.bar(xs, ys, width * 0.95, color=MODEL_COLORS[key], label=label)
        for x, y in zip(xs, ys):
            a2.text(x, y, f"{y:.2f}", ha="center", va="bottom", fontsize=7, rotation=90 if len(keys) > 2 else 0)
    a2.set_xticks(range(len(domains)), [f"{d} text" for d in domains])
    a2.set_ylabel("masked-LM loss (held out)")
    a2.set_title("MLM loss before vs after fine-tuning")
    a2.set_ylim(0, 1.15 * max([mlm[d].get(k) for d in domains for k in keys if _ok(mlm[d].get(k))], default=1.0))
    a2.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _style(a2)
    fig.tight_layout()
    save_figure(fig, out)


def class_counts(classes: Sequence[str], groups: Sequence[tuple], out: Path, ylabel: str = "latents") -> None:
    """Latent classes per comparison group: ``groups`` = [(label, values, lows or None, highs or None)], the
    first drawn orange (the primary comparison), the others grey/green with min-max whiskers (families)."""
    fig, ax = plt.subplots(figsize=(9, 3.8))
    n = max(1, len(groups))
    width = 0.8 / n
    xs = range(len(classes))
    colors = [TUNED_COLOR, NULL_COLOR, CONTROL_COLOR, MODEL_COLORS["planted"]]
    for j, (label, vals, lo, hi) in enumerate(groups):
        pos = [x + (j - (n - 1) / 2) * width for x in xs]
        ys = [v if _ok(v) else 0.0 for v in vals]
        err = None
        if lo is not None and hi is not None:
            err = [[max(0.0, y - (lv if _ok(lv) else y)) for y, lv in zip(ys, lo)],
                   [max(0.0, (hv if _ok(hv) else y) - y) for y, hv in zip(ys, hi)]]
        ax.bar(pos, ys, width * 0.95, color=colors[j % len(colors)], label=label, yerr=err,
               error_kw=dict(lw=0.8, capsize=2))
        tops = [y + (e or 0.0) for y, e in zip(ys, err[1] if err else [0.0] * len(ys))]
        for x, v, top in zip(pos, vals, tops):  # above the whisker, upright, so neighbours do not overprint
            txt = (f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}") if _ok(v) else "n/a"
            ax.text(x, top, " " + txt, ha="center", va="bottom", fontsize=7, rotation=90)
    ax.set_xticks(list(xs), list(classes), rotation=20, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.12)
    ax.set_title("Latent classes: the primary comparison\nagainst the seed pairs (baseline) and the control twin")
    ax.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _style(ax)
    save_figure(fig, out)


def label_scores(groups: dict[str, dict[str, Optional[float]]], baseline: dict[str, dict[str, Optional[float]]],
                 out: Path) -> None:
    """Mean explanation scores per SAE (``groups``: side -> metric -> mean); ``baseline`` (side -> metric ->
    mean with shuffled labels) drawn as a black dash across each bar."""
    metrics = sorted({m for g in groups.values() for m in g})
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    width = 0.8 / max(1, len(groups))
    first = True
    for j, (side, vals) in enumerate(groups.items()):
        pos = [i + (j - (len(groups) - 1) / 2) * width for i in range(len(metrics))]
        ys = [vals.get(m) for m in metrics]
        ax.bar(pos, [y if _ok(y) else 0.0 for y in ys], width * 0.92, color=color_for(side), label=side)
        for x, y, m in zip(pos, ys, metrics):
            ax.text(x, (y if _ok(y) else 0) + 0.01, f"{y:.2f}" if _ok(y) else "n/a", ha="center", va="bottom",
                    fontsize=8.5)
            b = baseline.get(side, {}).get(m)
            if _ok(b):
                ax.hlines(b, x - width * 0.46, x + width * 0.46, colors="black", linestyles="--", linewidth=1.4,
                          label="shuffled labels" if first else None)
                first = False
    ax.axhline(0.5, color=NULL_COLOR, lw=0.8, ls=":")
    ax.text(len(metrics) - 0.5, 0.5, " chance", va="center", ha="left", fontsize=8, color=NULL_COLOR)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("mean balanced accuracy")
    ax.set_title("How well the labels predict activations")
    ax.legend(frameon=False, fontsize=8.5, loc="upper left", bbox_to_anchor=(1.06, 1.0))
    _style(ax)
    save_figure(fig, out)
