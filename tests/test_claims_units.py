"""The unit of inference is what was sampled: the SAE-unit permutation test of stage 02's family claims, the run-level
p of the stage-wise and crosscoder lenses, and how the report groups comparisons, controls and checks.

Known answers: hand-computed p on small designs, calibration under exchangeable SAEs / runs (P(p <= the smallest
attainable p) equals it), and power under a planted shift (the smallest attainable p, where the pseudo-replicated test
of crossed pairs it replaces claims 1/5005).
"""

from __future__ import annotations

from itertools import combinations
from types import SimpleNamespace

import numpy as np
import pytest

from featevo.claims import evaluate, run_claim, sae_family_claim, sae_permutation_test

BASE, TUNED = ["b0", "b1", "b2"], ["t0", "t1", "t2"]


def _pairs(groups: list[list[str]], value) -> list[dict]:
    """Every pair of SAEs across and within ``groups`` (crossed first), valued by ``value(a, b)``."""
    units = [u for g in groups for u in g]
    return [{"a": a, "b": b, "value": value(a, b)} for a, b in combinations(units, 2)]


def test_hand_computed_crossed_vs_within_case():
    # 2 + 2 SAEs: 6 relabellings, 3 distinct splits (swapping the labels gives the same pairs' families)
    v = {("b0", "b1"): 0.5, ("t0", "t1"): 0.7, ("b0", "t0"): 0.1, ("b0", "t1"): 0.2, ("b1", "t0"): 0.3,
         ("b1", "t1"): 0.4}
    pairs = [{"a": a, "b": b, "value": x} for (a, b), x in v.items()]
    groups = {"base": ["b0", "b1"], "tuned": ["t0", "t1"]}
    less = sae_permutation_test(pairs, groups, "crossed_vs_within", "less")
    # observed: crossed mean 0.25 minus within mean 0.6; the other two splits give 0.425 - 0.25 = +0.175
    assert less["statistic"] == pytest.approx(-0.35) and less["relabellings"] == 6
    assert less["p"] == pytest.approx(1 / 3) and less["min_attainable_p"] == pytest.approx(1 / 3)
    assert sae_permutation_test(pairs, groups, "crossed_vs_within", "greater")["p"] == pytest.approx(1.0)


def test_hand_computed_shared_reference_case():
    pairs = [{"a": "r0", "b": "x0", "value": 1.0}, {"a": "r0", "b": "y0", "value": 2.0},
             {"a": "r0", "b": "y1", "value": 3.0}]
    groups = {"reference": ["r0"], "observed": ["x0"], "null": ["y0", "y1"]}
    t = sae_permutation_test(pairs, groups, "shared_reference", "less")
    # relabellings: x0 observed (1 - 2.5 = -1.5), y0 (2 - 2 = 0), y1 (3 - 1.5 = +1.5)
    assert t["statistic"] == pytest.approx(-1.5) and t["relabellings"] == 3
    assert t["p"] == pytest.approx(1 / 3) and t["min_attainable_p"] == pytest.approx(1 / 3)
    assert sae_permutation_test(pairs, groups, "shared_reference", "greater")["p"] == pytest.approx(1.0)


def _sae_world(rng, shift: float = 0.0) -> list[dict]:
    """Pair values with a random effect per SAE (pairs that share an SAE are correlated) and a model shift on the
    crossed pairs (no shift: the SAEs are exchangeable)."""
    u = {s: rng.normal(0, 1.0) for s in BASE + TUNED}

    def value(a, b):
        crossed = (a in BASE) != (b in BASE)
        return 0.35 - (shift if crossed else 0.0) + 0.05 * (u[a] + u[b]) + 0.01 * rng.normal()

    return _pairs([BASE, TUNED], value)


def test_sae_unit_test_is_calibrated_under_exchangeable_saes():
    rng = np.random.default_rng(0)
    groups = {"base": BASE, "tuned": TUNED}
    p_sae = np.array([sae_permutation_test(_sae_world(rng), groups, "crossed_vs_within", "less")["p"]
                      for _ in range(1500)])
    assert p_sae.min() == pytest.approx(0.1)  # 3 + 3 SAEs: 10 distinct splits
    assert 0.075 <= (p_sae <= 0.1 + 1e-9).mean() <= 0.125  # P(p <= 0.1) = 0.1 under the null
    assert 0.25 <= (p_sae <= 0.3 + 1e-9).mean() <= 0.35


def test_sae_unit_test_has_power_under_a_planted_shift():
    rng = np.random.default_rng(1)
    groups = {"base": BASE, "tuned": TUNED}
    for _ in range(20):
        c = sae_family_claim("m", "fewer matches", _sae_world(rng, shift=1.0), groups, "crossed_vs_within", "less",
                             alpha=0.1)
        assert c["test"]["p"] == pytest.approx(0.1) == c["test"]["min_attainable_p"]
        assert c["supported"] and c["observed"]["n"] == 9 and c["null"]["n"] == 6
    # the same pairs taken as 9 + 6 independent values claim far more than 3 + 3 SAEs allow
    from featevo.stats import two_sample_exact

    pairs = _sae_world(rng, shift=1.0)
    crossed = [p["value"] for p in pairs if (p["a"] in BASE) != (p["b"] in BASE)]
    within = [p["value"] for p in pairs if (p["a"] in BASE) == (p["b"] in BASE)]
    assert two_sample_exact(crossed, within, "less") == pytest.approx(1 / 5005)
    # at alpha 0.05 no data can support it with 3 + 3 SAEs
    assert not sae_family_claim("m", "x", _sae_world(rng, 1.0), groups, "crossed_vs_within", "less")["supported"]


def test_sae_family_claim_verdict_is_rederived_from_its_pairs():
    rng = np.random.default_rng(2)
    groups = {"base": BASE, "tuned": TUNED}
    c = sae_family_claim("m", "fewer matches", _sae_world(rng, 1.0), groups, "crossed_vs_within", "less",
                         alpha=0.1, role="comparison", lens="matching")
    assert c["supported"] and evaluate(c)["supported"] and evaluate(c)["role"] == "comparison"
    flipped = {**c, "pairs": [{**p, "value": -p["value"]} for p in c["pairs"]], "test": {**c["test"], "p": 0.0}}
    e = evaluate(flipped)  # crossed pairs now match more: the stored p and verdict are not trusted
    assert not e["supported"] and e["test"]["p"] == pytest.approx(1.0)
    assert e["observed"]["mean"] == pytest.approx(-c["observed"]["mean"])
    assert e["observed"]["ci_low"] == pytest.approx(-c["observed"]["ci_high"])  # the interval re-derived too


def test_run_claim_exact_values_calibration_and_its_smallest_p():
    c = run_claim("r", "more", "not more", 5.0, [1.0, 2.0, 3.0])
    assert c["test"]["p"] == pytest.approx(0.25) == c["test"]["min_attainable_p"] and not c["supported"]
    assert run_claim("r", "x", "y", 2.0, [1.0, 2.0, 3.0])["test"]["p"] == pytest.approx(0.75)  # ties count
    assert run_claim("r", "x", "y", 2.0, [1.0, 2.0, 3.0], alternative="less")["test"]["p"] == pytest.approx(0.75)
    assert not run_claim("r", "x", "y", None, [1.0])["testable"]
    rng = np.random.default_rng(3)
    ps = np.array([run_claim("r", "x", "y", *(lambda v: (v[0], v[1:]))(rng.normal(size=20)))["test"]["p"]
                   for _ in range(4000)])
    assert ps.min() == pytest.approx(0.05) and 0.04 <= (ps <= 0.05 + 1e-9).mean() <= 0.06
    shifted = run_claim("r", "x", "y", 10.0, list(rng.normal(size=19)))
    assert shifted["supported"] and shifted["test"]["p"] == pytest.approx(0.05)
    tampered = {**shifted, "observed": {"value": -10.0}}
    assert not evaluate(tampered)["supported"] and evaluate(tampered)["test"]["p"] == pytest.approx(1.0)


def test_stagewise_claims_are_run_level_with_flags_as_description():
    from featevo.diffing_lenses.stagewise import claims

    sws = {"null": {"rotation_mean_per_order": [0.10, 0.12], "flagged": None},
           "null_held_out": {"rotation_mean_per_order": [0.11], "flagged": 9},
           "tuned": {"rotation_mean": 0.5, "rotation_mean_per_order": [0.5, 0.5], "flagged": 197, "orders": 2},
           "control": {"rotation_mean": 0.115, "rotation_mean_per_order": [0.115, 0.115], "flagged": 199,
                       "orders": 2}}
    out = {c["contrast"]: c for c in claims(sws, {"tuned": 200, "control": 200, "null_held_out": 200}, 0.05)}
    t, k = out["tuned"], out["control"]
    assert t["null"]["values"] == [0.10, 0.12, 0.11] and t["test"]["p"] == pytest.approx(0.25)
    assert t["test"]["min_attainable_p"] == pytest.approx(0.25) and not t["supported"]
    assert t["observed"]["count"] == 197 and t["null"]["held_out_flags"] == 9 and t["role"] == "claim"
    assert k["role"] == "comparison" and k["test"]["p"] == pytest.approx(0.5)  # 0.12 >= 0.115


def test_crosscoder_claims_have_the_crosscoder_as_unit():
    from featevo.diffing_lenses.crosscoder import claims

    ccs = {"base~base": {"b_only_confirmed": 0}, "base~tuned": {"model_b": "tuned", "b_only_confirmed": 20},
           "base~control": {"model_b": "control", "b_only_confirmed": 0}}
    out = {c["pair"]: c for c in claims(ccs, 0.05)}
    assert out["base~tuned"]["test"]["p"] == pytest.approx(0.5) == out["base~tuned"]["test"]["min_attainable_p"]
    assert not out["base~tuned"]["supported"] and out["base~tuned"]["observed"]["count"] == 20
    assert out["base~control"]["role"] == "comparison" and out["base~control"]["test"]["p"] == pytest.approx(1.0)


def _analysis():
    """A stage 02 analysis of 3 SAEs per model (base, tuned, control) with a planted matching drop under tuning."""
    from featevo.compare import CompareAnalysis
    from featevo.layout import Comparison, SaeSpec

    models = {"base": BASE, "tuned": TUNED, "control": ["c0", "c1", "c2"]}
    specs = {n: SaeSpec(n, m, i, i) for m, ns in models.items() for i, n in enumerate(ns)}
    comps = [Comparison(a, b, "fine-tuning") for a in BASE for b in TUNED]
    comps += [Comparison(a, b, "seed") for ns in models.values() for a, b in combinations(ns, 2)]
    comps += [Comparison(a, b, "control") for a in BASE for b in models["control"]]
    rng = np.random.default_rng(4)
    stats = {}
    for c in comps:
        mf = {"fine-tuning": 0.17, "seed": 0.34, "control": 0.30}[c.family] + 0.01 * rng.normal()
        stats[c.name] = {"matched_fraction": mf, "shared_fraction": mf / 2, "mean_pair_cosine": mf,
                         "agreement": mf, "above_chance_fraction": mf, "new": int(200 * (1 - mf)),
                         "lost": int(200 * (1 - mf)) + 1}
    return CompareAnalysis(specs=specs, comps=comps, d_sae={n: 200 for n in specs}, token_rows=0, freq={},
                           matchings={}, stats=stats, chance={}, own={}, transfer={})


def test_compare_family_claims_use_the_sae_as_unit_and_merge_new_and_lost():
    from featevo.compare import family_claims

    out = {c["id"]: c for c in family_claims(_analysis(), 0.05)}
    assert not any(k.startswith(("new:", "lost:")) for k in out)  # parts of the matched fraction, not claims
    m = out["matched_fraction:fine-tuning_vs_seed"]
    assert m["kind"] == "sae_permutation" and m["groups"] == {"base": BASE, "tuned": TUNED}
    assert m["observed"]["n"] == 9 and m["null"]["n"] == 6  # base and tuned seed pairs only
    assert m["test"]["p"] == pytest.approx(0.1) == m["test"]["min_attainable_p"] and not m["supported"]
    assert m["parts"]["new"]["observed"]["n"] == 9 and m["parts"]["lost"]["null"]["n"] == 9
    ctl = out["matched_fraction:control_vs_seed"]
    assert ctl["role"] == "comparison" and ctl["groups"]["control"] == ["c0", "c1", "c2"]
    ft = out["matched_fraction:fine-tuning_vs_control"]
    assert ft["test"]["design"] == "shared_reference" and ft["test"]["relabellings"] == 20
    assert ft["test"]["p"] == pytest.approx(0.05) and ft["supported"] and ft["role"] == "claim"


def test_report_states_every_p_with_its_smallest_attainable_value_and_the_parts():
    from featevo.compare import family_claims
    from featevo.report.evidence import claim_sentence

    out = {c["id"]: c for c in family_claims(_analysis(), 0.05)}
    s = claim_sentence(out["matched_fraction:fine-tuning_vs_seed"])
    assert "p = 0.100, smallest attainable 0.100" in s and "the SAE as the unit" in s
    assert "its parts: new latents (second SAE)" in s and "lost latents (first SAE)" in s
    assert "no data could support it" in s
    ft = claim_sentence(out["matched_fraction:fine-tuning_vs_control"])  # the base SAEs are shared, not permuted
    assert "the labels of 6 SAEs permuted, all 20 relabellings" in ft and "smallest attainable 0.050" in ft
    r = claim_sentence(run_claim("r", "the run moved", "the run did not move", 5.0, [1.0, 2.0, 3.0]))
    assert r.startswith("The run did not move") and "p = 0.250, smallest attainable 0.250" in r


def test_supports_box_lists_comparisons_apart_and_words_measured_checks_neutrally():
    from featevo.report.context import Finding
    from featevo.report.findings import control_passes, supports_box
    from featevo.report.templates import Bullets, Para

    ctx = SimpleNamespace(findings=[
        Finding("t", "Tuned twin moved.", {}, [], True, "claim", "stage-wise diffing"),
        Finding("k", "Control twin moved.", {}, [{"id": "x"}], True, "comparison", "stage-wise diffing"),
        Finding("r", "The tuned twin and its replica differ.", {}, [{"id": "y"}], True, "check", "fixed dictionary"),
        Finding("i", "Splice identity holds.", {}, [], True, "check", "causal"),
        Finding("s", "Sham finds nothing.", {}, [{"id": "z"}], False, "negative_control", "fixed dictionary")],
        domains=("financial", "general"))
    box = supports_box(ctx)
    lists = {b.cls: b.items for b in box if isinstance(b, Bullets)}
    assert lists["supports"] == ["Tuned twin moved."]  # no caution: the control twin is not a control
    assert lists["comparisons"] == ["Control twin moved."]
    assert lists["controls"] == ["Check: the tuned twin and its replica differ.", "Passes: Splice identity holds.",
                                 "Passes: Sham finds nothing."]
    assert control_passes(ctx.findings[2]) is None
    assert any(isinstance(b, Para) and "2 of 2 pass; 1 measured check worded neutrally" in b.text for b in box)
    assert not any("fails" in x.lower() for x in lists["controls"] + lists["comparisons"])
