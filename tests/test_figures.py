"""The figure helpers: one colour per model family, no L0 panel where TopK fixes it, the seed band of the
four-panel's (a), and legends kept off the data."""

from __future__ import annotations

import colorsys

import matplotlib.colors as mcolors
import numpy as np
import pandas as pd
import pytest

from featevo.figures import seed_band
from featevo.plots import MODEL_COLORS, color_for, model_family, plt, style_for, training_curves_figure


def _hue(c: str) -> float:
    return colorsys.rgb_to_hls(*mcolors.to_rgb(c))[0]


def test_a_family_keeps_its_hue_and_families_differ():
    names = ["base", "base_seed1", "base_seed2", "base_wide0", "base_wide1"]
    assert len({color_for(n) for n in names}) == len(names)  # seeds are told apart ...
    assert max(abs(_hue(color_for(n)) - _hue(MODEL_COLORS["base"])) for n in names) < 0.02  # ... in one hue
    assert len({style_for(n) for n in names}) == len(names)
    for fam in ("tuned", "control", "planted"):
        assert _hue(color_for(f"{fam}_seed2")) == pytest.approx(_hue(MODEL_COLORS[fam]), abs=0.02)
        assert abs(_hue(color_for(f"{fam}_seed1")) - _hue(color_for("base_seed1"))) > 0.05
    assert model_family("control_seed2") == "control" and color_for("control") == MODEL_COLORS["control"]


def _steps(tmp_path, name: str, l0) -> object:
    d = tmp_path / name
    d.mkdir()
    n = len(l0)
    pd.DataFrame({"step": range(n), "tokens": np.arange(n) * 1000, "lr": 1e-3, "mse_loss": 1.0, "aux_loss": 0.0,
                  "fvu": np.linspace(1, 0.2, n), "l0": l0, "dead_fraction": 0.0}).to_csv(d / "steps.csv", index=False)
    return d


def test_training_curves_drop_the_l0_panel_only_when_l0_is_fixed(tmp_path):
    fixed = {n: _steps(tmp_path, n, [32.0] * 5) for n in ("base", "tuned_seed1")}
    fig = training_curves_figure(fixed)
    titles = [ax.get_title() for ax in fig.axes]
    assert not any("L0" in t for t in titles) and len(titles) == 2 and "TopK fixes it" in fig._suptitle.get_text()
    lines = {ln.get_label(): ln.get_color() for ln in fig.axes[0].get_lines()}
    assert lines == {"base": color_for("base"), "tuned_seed1": color_for("tuned_seed1")}
    plt.close(fig)
    varying = {"base": _steps(tmp_path, "b2", [40.0, 36.0, 33.0, 32.0, 32.0])}
    fig = training_curves_figure(varying)
    assert any("L0" in ax.get_title() for ax in fig.axes)
    plt.close(fig)


def test_seed_band_is_the_seed_pairs_spread_and_their_mean_extreme():
    rng = np.random.default_rng(0)
    dids = [rng.normal(0, 0.01, 2000) for _ in range(3)]
    b = seed_band(dids + [np.array([np.nan])])
    assert b["comparisons"] == 3
    assert b["lo"] == pytest.approx(-1.96 * 0.01, rel=0.1) and b["hi"] == pytest.approx(1.96 * 0.01, rel=0.1)
    assert b["extreme"] == pytest.approx(np.mean([np.abs(d).max() for d in dids]))
    assert seed_band([]) is None and seed_band([np.array([np.nan])]) is None
