"""Matplotlib figures shared by the stages. Base is always blue, tuned always orange."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from featevo.io import atomic_path  # noqa: E402

BASE_COLOR = "#1f77b4"
TUNED_COLOR = "#ff7f0e"
NULL_COLOR = "#7f7f7f"


def color_for(name: str) -> str:
    if name.startswith("base_seed"):
        return NULL_COLOR
    return TUNED_COLOR if name.startswith("tuned") else BASE_COLOR


def save_figure(fig, path: Path) -> None:
    """Save PNG (and SVG twin) atomically."""
    path = Path(path)
    for p in (path, path.with_suffix(".svg")):
        with atomic_path(p) as tmp:
            fig.savefig(tmp, dpi=130, bbox_inches="tight", format=p.suffix[1:])
    plt.close(fig)


def training_curves(sae_work_dirs: dict[str, Path], out: Path) -> None:
    """FVU, L0 and dead fraction per training step for every SAE (from each ``steps.csv``)."""
    from featevo.results import STEPS

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, work in sae_work_dirs.items():
        steps = STEPS.read(work, missing_ok=True)
        if not len(steps):
            continue
        style = "--" if name.startswith("base_seed") else "-"
        for ax, key in zip(axes, ("fvu", "l0", "dead_fraction")):
            ax.plot(steps["tokens"] / 1e6, steps[key], style, color=color_for(name), label=name, lw=1.2)
    for ax, title in zip(axes, ("FVU (train batch)", "L0 (active latents / token)", "dead fraction (window)")):
        ax.set_title(title)
        ax.set_xlabel("training tokens (millions)")
        ax.grid(alpha=0.3)
    axes[0].set_yscale("log")
    axes[0].legend()
    fig.suptitle("SAE training curves")
    save_figure(fig, out)
