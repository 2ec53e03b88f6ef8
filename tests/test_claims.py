"""Claims follow their numbers: supported exactly when the test says so, with the null beside them."""

import numpy as np
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


def test_threshold_claim_needs_every_value():
    from featevo.claims import threshold_claim

    assert threshold_claim("s", "stable", [0.6, 0.55, 0.7], 0.5)["supported"]
    c = threshold_claim("s", "stable", [0.6, 0.45, 0.7], 0.5, negation="not stable")
    assert not c["supported"] and c["null"]["value"] == 0.5 and c["observed"]["min"] == 0.45
    assert not threshold_claim("s", "x", [], 0.5)["testable"]


def test_min_attainable_p_and_untestable_designs():
    from featevo.claims import min_attainable_p

    assert min_attainable_p(9, 9) == pytest.approx(1 / 48620)
    assert min_attainable_p(1, 9) == pytest.approx(0.1)
    assert min_attainable_p(3, 3, "two-sided") == pytest.approx(0.1)
    c = count_claim("n", "x", [5], [0, 0, 0, 0])  # one observed comparison: p >= 1/5 whatever the data
    assert not c["supported"] and c["test"]["min_attainable_p"] == pytest.approx(0.2)


def test_evaluate_rederives_the_verdict_from_the_numbers():
    from featevo.claims import evaluate, threshold_claim

    c = family_claim("m", "fewer matches", [0.1, 0.12, 0.11, 0.13], [0.3, 0.31, 0.32, 0.33], "less",
                     negation="no change")
    assert c["supported"] and evaluate(c)["supported"]
    flipped = {**c, "observed": {**c["observed"], "values": [0.4, 0.41, 0.42, 0.43]}}
    e = evaluate(flipped)  # the stored verdict says supported, the numbers do not
    assert not e["supported"] and e["test"]["p"] == pytest.approx(1.0) and e["observed"]["mean"] == pytest.approx(0.415)
    assert e["negation"] == "no change" and e["stat"] == c["stat"]
    lie = {**c, "supported": False}
    assert evaluate(lie)["supported"]
    t = threshold_claim("s", "stable", [0.6, 0.7], 0.5)
    assert not evaluate({**t, "observed": {**t["observed"], "values": [0.6, 0.4]}})["supported"]
    v = value_claim("d", "x", 0.3, 0.1, 0.5)
    assert not evaluate({**v, "observed": {"estimate": 0.3, "ci_low": -0.1, "ci_high": 0.5}})["supported"]


def test_every_constructor_carries_its_lens_and_role_and_evaluate_keeps_them():
    from featevo.claims import evaluate, threshold_claim

    made = [family_claim("f", "x", [0.1, 0.2], [0.3, 0.4], "less", lens="matching", role="negative_control"),
            count_claim("c", "x", [3, 4], [0, 1], lens="deltas", role="claim"),
            value_claim("v", "x", 0.3, 0.1, 0.5, lens="fidelity", role="check"),
            threshold_claim("t", "x", [0.6, 0.7], 0.5, lens="matching", role="check")]
    assert [(c["lens"], c["role"]) for c in made] == [("matching", "negative_control"), ("deltas", "claim"),
                                                      ("fidelity", "check"), ("matching", "check")]
    assert [(evaluate(c)["lens"], evaluate(c)["role"]) for c in made] == [(c["lens"], c["role"]) for c in made]
    plain = family_claim("f", "x", [0.1], [0.3], "less")
    assert plain["lens"] == "" and plain["role"] == "claim"


# --------------------------------------------------------------------------------------------
# Counts against their nulls
# --------------------------------------------------------------------------------------------
def test_rate_claim_is_calibrated_under_the_null_and_attains_its_smallest_p():
    from featevo.claims import rate_claim

    rng = np.random.default_rng(0)
    n, rate, alpha = 200, 0.05, 0.05
    ps = [rate_claim("r", "s", "n", int(k), n, rate, alpha)["test"]["p"] for k in rng.binomial(n, rate, 2000)]
    assert np.mean(np.asarray(ps) <= alpha) <= alpha  # exact test: at most alpha under the null
    planted = [rate_claim("r", "s", "n", int(k), n, rate, alpha) for k in rng.binomial(n, 3 * rate, 200)]
    assert np.mean([c["supported"] for c in planted]) > 0.9  # power against a tripled rate
    full = rate_claim("r", "s", "n", n, n, rate, alpha)["test"]
    assert full["p"] == pytest.approx(full["min_attainable_p"]) and full["min_attainable_p"] == pytest.approx(rate ** n)


def test_pair_claim_smallest_attainable_p_is_the_all_in_first_count():
    from featevo.claims import pair_claim

    assert pair_claim("c", "s", "n", 5, 0)["test"]["p"] == pytest.approx(0.5 ** 5)
    assert pair_claim("c", "s", "n", 5, 0)["test"]["min_attainable_p"] == pytest.approx(0.5 ** 5)
    c = pair_claim("c", "s", "n", 2, 2)
    assert c["test"]["min_attainable_p"] == pytest.approx(0.5 ** 4) and not c["supported"]
