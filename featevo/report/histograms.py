"""Per-card activation histograms: a carded latent's activations on stage 01's held-out ``eval`` split,
drawn as a small inline SVG (the report stays one self-contained file).

The SAE is applied with numpy straight from its sae-lens files (``cfg.json``, ``sae_weights.safetensors``):
importing sae-lens would cost the report seconds. Only the TopK architecture without input normalisation is
read this way (what stage 01 trains); for another SAE :func:`latent_activations` returns None and the cards
show no histogram. The unit is stage 03's (activation x decoder norm, :func:`featevo.probe.scaled_encode`).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from featevo.layout import TrainFiles

MAX_ROWS = 50_000
"""Eval rows encoded at most (the first ones): bounds the report's time on a large run."""
BINS = 24


def latent_activations(sae_path: Path, acts_path: Path, latents: Sequence[int],
                       max_rows: int = MAX_ROWS) -> Optional[dict[int, np.ndarray]]:
    """latent -> its activations (activation x decoder norm) on the first ``max_rows`` rows of an activation
    store, or None when the SAE or the activations cannot be read this way."""
    from safetensors.numpy import load_file

    try:
        cfg = json.loads((sae_path / TrainFiles.SAE_CFG).read_text(encoding="utf-8"))
        if (cfg.get("architecture") != "topk" or cfg.get("normalize_activations", "none") not in ("none", None)
                or cfg.get("reshape_activations", "none") not in ("none", None)):
            return None
        w = load_file(str(sae_path / TrainFiles.SAE_WEIGHTS))
        index = json.loads((acts_path / TrainFiles.INDEX).read_text(encoding="utf-8"))
        rows, parts = 0, []
        for sh in index["shards"]:
            if rows >= max_rows:
                break
            x = load_file(str(acts_path / sh["file"]))["acts"]
            parts.append(np.asarray(x[: max_rows - rows], dtype=np.float32))
            rows += parts[-1].shape[0]
    except (OSError, ValueError, KeyError, TypeError):  # TypeError: a dtype numpy lacks (bfloat16)
        return None
    if not parts:
        return None
    x = np.concatenate(parts)
    W_enc, b_enc, W_dec, b_dec = (np.asarray(w[k], dtype=np.float32) for k in ("W_enc", "b_enc", "W_dec", "b_dec"))
    norms = np.linalg.norm(W_dec, axis=1)
    if cfg.get("apply_b_dec_to_input", True):
        x = x - b_dec
    k = int(cfg["k"])
    out = {int(j): np.zeros(x.shape[0], dtype=np.float32) for j in latents}
    cols = np.array(sorted(out), dtype=np.int64)
    for s in range(0, x.shape[0], 8192):
        pre = x[s:s + 8192] @ W_enc + b_enc
        if cfg.get("rescale_acts_by_decoder_norm"):
            pre = pre * norms
        kth = np.partition(pre, pre.shape[1] - k, axis=1)[:, pre.shape[1] - k][:, None]  # k-th largest per row
        sel = pre[:, cols]
        z = np.where(sel >= kth, np.maximum(sel, 0.0), 0.0) * norms[cols]
        for i, j in enumerate(cols):
            out[int(j)][s:s + 8192] = z[:, i]
    return out


def hist_svg(values: np.ndarray, rgb: tuple[int, int, int], width: int = 260, height: int = 56) -> tuple[str, str]:
    """(inline SVG, note): the histogram of a latent's nonzero activations, bar heights on a log scale, and what it
    shows (share of tokens it fires on, range). ("", note) when it never fires."""
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    nz = v[v > 0]
    if n == 0:
        return "", ""
    share = nz.size / n
    if nz.size == 0:
        return "", f"never fires on the first {n:,} eval tokens"
    hi = float(nz.max())
    counts, _ = np.histogram(nz, bins=BINS, range=(0.0, hi if hi > 0 else 1.0))
    top = math.log10(counts.max() + 1)
    pad, bw = 2, (width - 4) / BINS
    h = height - 14
    bars = []
    for i, c in enumerate(counts):
        if c <= 0:
            continue
        bh = max(1.0, h * math.log10(c + 1) / top)
        bars.append(f'<rect x="{pad + i * bw:.1f}" y="{pad + h - bh:.1f}" width="{max(bw - 1, 1):.1f}" '
                    f'height="{bh:.1f}"><title>{int(c):,} tokens</title></rect>')
    fill = f"rgb({rgb[0]},{rgb[1]},{rgb[2]})"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           f'role="img" aria-label="activation histogram"><g fill="{fill}">{"".join(bars)}</g>'
           f'<line x1="{pad}" x2="{width - pad}" y1="{pad + h + 0.5}" y2="{pad + h + 0.5}" stroke="#8a919c"/>'
           f'<text x="{pad}" y="{height - 2}" font-size="10" fill="#5b6472">0</text>'
           f'<text x="{width - pad}" y="{height - 2}" font-size="10" fill="#5b6472" text-anchor="end">'
           f'{html.escape(f"{hi:.3g}")}</text></svg>')
    note = (f"Activation histogram on the first {n:,} eval tokens: fires on {100 * share:.1f}% of them; "
            f"bars: its nonzero activations (activation × decoder norm) from 0 to {hi:.3g}, heights on a log scale.")
    return svg, note
