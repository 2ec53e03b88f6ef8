"""Claims follow their numbers: supported exactly when the test says so, with the null beside them."""

import pytest

from featevo.claims import count_claim, describe, family_claim, value_claim


def test_family_claim_supported_only_when_the_families_separate():
    sep = family_claim("m", "fewer matches than seeds", [0.10, 0.12, 0.14, 0.11, 0.13, 0.12, 0.10, 0.15, 0.12],
                       [0.30, 0.33, 0.31, 0.35, 0.32, 0.34], "less")
    assert sep["supported"] and sep["test"]["p"] == pytest.approx(1 / 5005)
    assert sep["observed"]["n"] == 9 and sep["null"]["min"] == 0.30 and sep["null"]["max"] == 0.35
    overlap = family_claim("m", "x", [0.30, 0.34, 0.31], [0.32, 0.33, 0.30], "less")
    assert not overlap["supported"] and overlap["test"]["p"] > 0.05
    assert not family_claim("m", "x", [0.1], [], "less")["testable"]


def test_count_claim_and_value_claim():
    c = count_claim("n", "more changed pairs than seed noise", [9, 11, 10, 12, 8, 10, 11, 9, 10], [1, 2, 0, 1, 2, 1])
    assert c["supported"] and c["kind"] == "count"
    assert not count_claim("n", "x", [1, 2, 1], [1, 2, 1, 2])["supported"]
    assert value_claim("d", "x", 0.3, 0.1, 0.5)["supported"]
    assert not value_claim("d", "x", 0.3, -0.1, 0.5)["supported"]
    assert not value_claim("d", "x", 0.3, 0.1, 0.5, p=0.2)["supported"]


def test_describe_interval_contains_the_mean():
    d = describe([1.0, 2.0, 3.0, 4.0, None, float("nan")])
    assert d["n"] == 4 and d["mean"] == 2.5 and d["min"] == 1.0 and d["ci_low"] <= 2.5 <= d["ci_high"]
    assert describe([])["mean"] is None
