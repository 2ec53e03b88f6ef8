"""Matplotlib figures shared by the stages: one colour per model family, the same in every figure.

Base is blue, tuned orange, the control twin green, the replica twin brown and the planted twin purple
(:data:`MODEL_COLORS`); the SAEs of one family (its seeds, its wide SAEs) are shades of the family's colour with
their own line style (:func:`color_for`, :func:`style_for`). A null baseline (a family of same-model seed pairs)
is grey.
"""

from __future__ import annotations

import colorsys
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from featevo.io import atomic_path  # noqa: E402

BASE_COLOR = "#1f77b4"
TUNED_COLOR = "#ff7f0e"
CONTROL_COLOR = "#2ca02c"
REPLICA_COLOR = "#8c564b"
PLANTED_COLOR = "#9467bd"
NULL_COLOR = "#7f7f7f"
MODEL_COLORS = {"base": BASE_COLOR, "tuned": TUNED_COLOR, "control": CONTROL_COLOR, "replica": REPLICA_COLOR,
                "planted": PLANTED_COLOR}
"""Model family -> colour; an SAE's family is its name up to the first ``_`` (``base_seed1`` -> base)."""
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))


def model_family(name: str) -> str:
    """The model family of an SAE or model name (``tuned_seed2`` -> tuned, ``base_wide0`` -> base)."""
    return name.split("_", 1)[0]


def _member(name: str) -> int:
    """0 for a family's main SAE, then 1, 2, ... for its seeds (``_seed<i>``) and, after them, its wide SAEs."""
    m = re.search(r"_(seed|wide)(\d+)$", name)
    if not m:
        return 0
    return int(m.group(2)) + (0 if m.group(1) == "seed" else 3)


def shade(color: str, k: int) -> str:
    """The ``k``-th shade of ``color`` (0: the colour itself; then alternately lighter and darker, same hue)."""
    if k == 0:
        return mcolors.to_hex(color)
    h, lum, s = colorsys.rgb_to_hls(*mcolors.to_rgb(color))
    step = 0.1 * ((k + 1) // 2)
    lum = min(0.85, lum + step) if k % 2 else max(0.15, lum - step)
    return mcolors.to_hex(colorsys.hls_to_rgb(h, lum, s))


def color_for(name: str) -> str:
    """The colour of an SAE or model: its family's (:data:`MODEL_COLORS`; grey for an unknown family), shaded
    for a family's seeds and wide SAEs."""
    return shade(MODEL_COLORS.get(model_family(name), NULL_COLOR), _member(name))


def style_for(name: str):
    """The line style of an SAE: solid for a family's main SAE, then one style per seed or wide SAE."""
    return LINE_STYLES[_member(name) % len(LINE_STYLES)]


def save_figure(fig, path: Path) -> None:
    """Save PNG (and SVG twin) atomically."""
    path = Path(path)
    for p in (path, path.with_suffix(".svg")):
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=p.suffix[1:])
    plt.close(fig)


def training_curves_figure(sae_work_dirs: dict[str, Path]):
    """The figure of :func:`training_curves` (returned, not saved). L0 gets a panel only when it varies: a TopK SAE
    fixes it at k, and the title says so instead."""
    from featevo.results import STEPS

    curves = {name: STEPS.read(work, missing_ok=True) for name, work in sae_work_dirs.items()}
    curves = {n: s for n, s in curves.items() if len(s)}
    l0 = [float(v) for s in curves.values() for v in s["l0"]]
    l0_fixed = bool(l0) and max(l0) - min(l0) < 1e-6
    keys = [("fvu", "FVU (train batch)"), ("dead_fraction", "dead fraction (window)")]
    if not l0_fixed:
        keys.insert(1, ("l0", "L0 (active latents / token)"))
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys) + 2.2, 3.8), squeeze=False)
    axes = axes[0]
    for name, steps in curves.items():
        for ax, (key, _) in zip(axes, keys):
            ax.plot(steps["tokens"] / 1e6, steps[key], ls=style_for(name), color=color_for(name), label=name, lw=1.2)
    for ax, (_, title) in zip(axes, keys):
        ax.set_title(title)
        ax.set_xlabel("training tokens (millions)")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    if curves:
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False,
                        title="SAE (colour: model)", title_fontsize=8)
    fixed = f"; L0 is {l0[0]:g} at every step (TopK fixes it), so it has no panel" if l0_fixed else ""
    fig.suptitle(f"SAE training curves{fixed}")
    fig.tight_layout()
    return fig


def training_curves(sae_work_dirs: dict[str, Path], out: Path) -> None:
    """FVU and dead fraction (and L0 where it varies) per training step for every SAE (from each ``steps.csv``),
    one colour per model family, one line style per seed."""
    save_figure(training_curves_figure(sae_work_dirs), out)
