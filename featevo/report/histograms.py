"""Per-card activation histograms drawn as a small inline SVG (the report stays one self-contained file).

The counts are stage 03's (``activation_histograms.csv``, :mod:`featevo.histograms`: every base and tuned
latent's activations on stage 01's held-out ``eval`` split, encoded by its SAE, in the unit activation x decoder
norm); this module only draws them.
"""

from __future__ import annotations

import html
import math

from featevo.histograms import parse_counts


def hist_svg(row: dict, rgb: tuple[int, int, int], width: int = 260, height: int = 56) -> tuple[str, str]:
    """(inline SVG, note): a latent's histogram row (:data:`featevo.results.HISTOGRAMS`) drawn as the histogram of
    its nonzero activations, bar heights on a log scale, and what it shows (share of tokens it fires on, range).
    ("", note) when it never fires; ("", "") without tokens."""
    n, fires = int(row.get("tokens") or 0), int(row.get("fires") or 0)
    counts = parse_counts(row.get("counts"))
    if n == 0:
        return "", ""
    share = fires / n
    if fires == 0 or not counts:
        return "", f"never fires on the first {n:,} eval tokens"
    hi = float(row["max_act"])
    bins = len(counts)
    top = math.log10(max(counts) + 1)
    pad, bw = 2, (width - 4) / bins
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
