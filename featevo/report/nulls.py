"""Counts against their nulls, as claims (:mod:`featevo.claims`) that the diffing and causal sections state.

A count of flagged latents is a binomial draw when nothing changed: :func:`rate_claim` sets the observed
fraction (with its exact Clopper-Pearson 95% interval) against the null's rate, supported when the interval
excludes the null rate and the one-sided binomial test gives p <= alpha. :func:`pair_claim` sets two counts of
the same procedure (e.g. a crosscoder's model-specific latents for base~tuned against base~base) against each
other: given their total, the first is Binomial(total, 1/2) when both have the same rate (conditional test of
two Poisson counts). The report re-derives every verdict from these numbers (:func:`featevo.claims.evaluate`).
"""

from __future__ import annotations

from typing import Optional

from featevo.claims import evaluate, value_claim
from featevo.report.templates import finite


def rate_claim(cid: str, statement: str, negation: str, count, n, null_rate: Optional[float],
               alpha: float = 0.05) -> dict:
    """``count`` of ``n`` against ``null_rate``: exact binomial test (greater) and Clopper-Pearson interval."""
    from scipy.stats import binomtest

    if not (finite(count) and finite(n) and n > 0 and finite(null_rate)):
        return value_claim(cid, statement, None, None, None, float(null_rate or 0.0), None, alpha, negation=negation)
    rate = min(max(float(null_rate), 1e-12), 1 - 1e-12)
    t = binomtest(int(count), int(n), rate, alternative="greater")
    ci = t.proportion_ci(0.95, method="exact")
    c = value_claim(cid, statement, int(count) / int(n), float(ci.low), float(ci.high), float(null_rate),
                    float(t.pvalue), alpha, unit="fraction", negation=negation)
    c["test"]["name"] = "exact one-sided binomial test against the null rate; Clopper-Pearson 95% interval"
    c["observed"].update(count=int(count), n=int(n))
    c["null"]["expected_count"] = float(null_rate) * int(n)
    return c


def pair_claim(cid: str, statement: str, negation: str, count, null_count, alpha: float = 0.05) -> dict:
    """``count`` against ``null_count`` of the same procedure: conditional binomial test of two Poisson counts."""
    from scipy.stats import binomtest

    if not (finite(count) and finite(null_count)) or count + null_count <= 0:
        c = value_claim(cid, statement, None, None, None, 0.5, None, alpha, negation=negation)
    else:
        t = binomtest(int(count), int(count + null_count), 0.5, alternative="greater")
        ci = t.proportion_ci(0.95, method="exact")
        c = value_claim(cid, statement, count / (count + null_count), float(ci.low), float(ci.high), 0.5,
                        float(t.pvalue), alpha, unit="share of the two counts", negation=negation)
        c["test"]["name"] = "conditional binomial test of two counts (share of the first against 1/2)"
    c["observed"]["count"], c["null"]["count"] = count, null_count
    return c


def supported(claim: dict) -> bool:
    return bool(evaluate(claim).get("supported"))
