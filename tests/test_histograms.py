"""featevo.histograms (stage 03's per-latent activation histograms) and their drawing in the report's cards."""

import numpy as np

from featevo.histograms import latent_histogram, parse_counts
from featevo.report.histograms import hist_svg


def test_latent_histogram_counts_nonzero_values_from_zero_to_the_max():
    r = latent_histogram(np.array([0.0, 0.5, 1.0, 0.0, 0.25, 0.75], dtype=np.float32), bins=4)
    assert (r["tokens"], r["fires"], r["max_act"]) == (6, 4, 1.0)
    assert parse_counts(r["counts"]) == [0, 1, 1, 2]  # [0, .25) [.25, .5) [.5, .75) [.75, 1]
    never = latent_histogram(np.zeros(5))
    assert never == {"tokens": 5, "fires": 0, "max_act": 0.0, "counts": ""} and parse_counts(never["counts"]) == []


def test_hist_svg_draws_one_bar_per_nonempty_bin_with_its_count():
    row = latent_histogram(np.array([0.0] * 6 + [0.1, 0.2, 0.2, 2.0]), bins=4)
    svg, note = hist_svg(row, (255, 127, 14))
    assert svg.startswith("<svg") and svg.count("<rect") == 2
    assert "<title>3 tokens</title>" in svg and "<title>1 tokens</title>" in svg and ">2</text>" in svg
    assert "first 10 eval tokens" in note and "fires on 40.0%" in note
    svg, note = hist_svg(latent_histogram(np.zeros(3)), (0, 0, 0))
    assert svg == "" and note == "never fires on the first 3 eval tokens"
    assert hist_svg(latent_histogram(np.zeros(0)), (0, 0, 0)) == ("", "")
