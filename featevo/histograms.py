"""Per-latent activation histograms on stage 01's held-out ``eval`` split, for the report's feature cards.

Stage ``03_activation_deltas`` writes them (``activation_histograms.csv``, :data:`featevo.results.HISTOGRAMS`)
for every latent of the base and tuned SAEs: each SAE encodes the first :data:`MAX_ROWS` eval rows of its own
model with the real encoder (:func:`featevo.probe.scaled_encode`, the unit of stage 03's contexts: activation x
decoder norm), and every latent's nonzero activations are counted in :data:`BINS` equal bins from 0 to its
largest activation. Stage 05 only draws them (:mod:`featevo.report.histograms`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featevo.activations import ActivationStore
from featevo.layout import acts_dir

MAX_ROWS = 50_000
"""Eval rows encoded at most (the first ones): bounds the stage's time on a large run."""
BINS = 24
"""Equal-width bins from 0 to a latent's largest activation."""


def latent_histogram(values: np.ndarray, bins: int = BINS) -> dict:
    """One latent's activations (a column of ``z``): ``tokens`` (how many), ``fires`` (how many are > 0),
    ``max_act`` (the largest; 0.0 when it never fires) and ``counts`` (``bins`` counts of the nonzero values in
    equal bins from 0 to ``max_act``, space-separated; empty when it never fires)."""
    v = np.asarray(values, dtype=np.float64)
    nz = v[v > 0]
    if nz.size == 0:
        return {"tokens": int(v.size), "fires": 0, "max_act": 0.0, "counts": ""}
    hi = float(nz.max())
    counts, _ = np.histogram(nz, bins=bins, range=(0.0, hi))
    return {"tokens": int(v.size), "fires": int(nz.size), "max_act": hi, "counts": " ".join(map(str, counts))}


def parse_counts(counts: str | None) -> list[int]:
    """The bin counts of a ``counts`` cell (empty for a latent that never fires)."""
    return [int(c) for c in (counts or "").split()]


def histogram_rows(s1: Path, saes: dict, sae_models: dict[str, str], names, max_rows: int = MAX_ROWS,
                   bins: int = BINS) -> list[dict]:
    """Rows of :data:`featevo.results.HISTOGRAMS`: per SAE of ``names`` (loaded in ``saes``; ``sae_models``: SAE
    name -> model key) and per latent, the histogram of its activations on the first ``max_rows`` rows of stage
    01's (``s1``) eval split."""
    from featevo.probe import scaled_encode

    rows = []
    for name in names:
        x = ActivationStore(acts_dir(s1, "eval", sae_models[name])).read_all(max_rows)
        z = scaled_encode(saes[name], x)
        rows += [{"sae": name, "latent": j, **latent_histogram(z[:, j], bins)} for j in range(z.shape[1])]
    return rows
