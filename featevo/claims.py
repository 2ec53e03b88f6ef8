"""Claims: a number beside its null, with an interval, and whether the data support the statement.

Every analysis that makes a statement in the report ("fine-tuning changed more features than seed noise")
records it as a claim in its ``summary.json``: the observed values (one per comparison, e.g. the nine
base-vs-tuned SAE seed pairs), the null's values (e.g. the same-model seed pairs), an interval for each,
the test and its p-value, and ``supported``. The report builds every sentence from these fields, so no
sentence can say more than the numbers: a claim that is not supported is said in words ("no change beyond
seed noise"), never dropped.

Intervals of a family of comparisons are the range (min-max) of its values and a percentile interval of
its mean over a bootstrap of the comparisons; with only a handful of seed pairs the range is the honest
summary, and the test is the exact two-sample permutation test of :func:`featevo.stats.two_sample_exact`.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Sequence

import numpy as np

from featevo.stats import percentile_ci, rng_for, two_sample_exact

Alternative = Literal["greater", "less", "two-sided"]
ROLES = ("claim", "comparison", "positive_control", "negative_control", "check")
"""What a claim is for: ``claim`` (a finding); ``comparison`` (a real change set beside the claim's, e.g. what the
control twin's fine-tuning on reference-domain text changes: neither a pass nor a fail); ``positive_control`` (a
planted change the method must find); ``negative_control`` (a true null, where nothing changed, the method must find
nothing); ``check`` (a check of the design or the machinery)."""


def describe(values: Sequence[float], level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict:
    """Mean, range and a bootstrap interval of the mean of ``values`` (NaN/None dropped)."""
    v = np.array([x for x in values if x is not None and not (isinstance(x, float) and math.isnan(x))],
                 dtype=np.float64)
    out: dict[str, Any] = {"n": int(v.size), "values": [float(x) for x in v]}
    if v.size == 0:
        return {**out, "mean": None, "min": None, "max": None, "ci_low": None, "ci_high": None}
    out.update(mean=float(v.mean()), min=float(v.min()), max=float(v.max()))
    if v.size > 1:
        idx = rng_for(seed, 43).integers(0, v.size, size=(n_boot, v.size))
        lo, hi = percentile_ci(v[idx].mean(axis=1)[:, None], level)
        out.update(ci_low=float(lo[0]), ci_high=float(hi[0]))
    else:
        out.update(ci_low=float(v[0]), ci_high=float(v[0]))
    return out


def min_attainable_p(n_observed: int, n_null: int, alternative: Alternative = "greater") -> float | None:
    """The smallest p-value the exact two-sample test can give with these family sizes (1 / number of splits;
    twice that two-sided). A claim whose smallest attainable p exceeds alpha cannot be supported by any data."""
    from math import comb

    if n_observed < 1 or n_null < 1:
        return None
    p = 1.0 / comb(n_observed + n_null, n_observed)
    return min(1.0, 2 * p) if alternative == "two-sided" else p


def family_claim(claim_id: str, statement: str, observed: Sequence[float], null: Sequence[float],
                 alternative: Alternative, alpha: float = 0.05, observed_family: str = "fine-tuning",
                 null_family: str = "seed", unit: str = "", level: float = 0.95, negation: str = "",
                 stat: str = "", lens: str = "", role: str = "claim") -> dict:
    """A claim that a statistic differs between two families of comparisons (``observed`` vs ``null``).

    ``statement`` is what is claimed when supported, e.g. "base-vs-tuned SAE pairs match less often than two
    seeds of one model"; ``negation`` what the report says when it is not (e.g. "no feature-level change
    detectable beyond seed noise"). Supported when the exact permutation test of the two families gives
    p <= alpha. ``stat`` names the statistic compared (for tables). ``lens`` names the analysis that makes the
    claim (e.g. "matching", "deltas") and ``role`` what it is for (one of
    :data:`ROLES`), so that the report can group claims without knowing their ids.
    """
    obs, nul = describe(observed, level), describe(null, level)
    p = two_sample_exact(obs["values"], nul["values"], alternative)
    return {
        "id": claim_id, "statement": statement, "negation": negation, "unit": unit, "stat": stat, "kind": "family",
        "observed": {"family": observed_family, **obs}, "null": {"family": null_family, **nul},
        "test": {"name": "exact two-sample permutation test of the family means", "alternative": alternative,
                 "p": p, "alpha": alpha, "min_attainable_p": min_attainable_p(obs["n"], nul["n"], alternative)},
        "supported": bool(p is not None and p <= alpha),
        "testable": p is not None and obs["n"] > 0 and nul["n"] > 0, "lens": lens, "role": role,
    }


def count_claim(claim_id: str, statement: str, observed: Sequence[float], expected: Sequence[float],
                alpha: float = 0.05, observed_family: str = "fine-tuning", null_family: str = "seed",
                level: float = 0.95, negation: str = "", stat: str = "", lens: str = "",
                role: str = "claim") -> dict:
    """How many latents/pairs something holds for, against the count the null gives (same procedure applied
    to the null family): supported when the observed counts exceed the null's (one-sided exact test)."""
    c = family_claim(claim_id, statement, observed, expected, "greater", alpha, observed_family, null_family,
                     "count", level, negation, stat, lens, role)
    c["kind"] = "count"
    return c


def value_claim(claim_id: str, statement: str, estimate: float | None, ci_low: float | None,
                ci_high: float | None, null_value: float = 0.0, p: float | None = None, alpha: float = 0.05,
                unit: str = "", negation: str = "", lens: str = "", role: str = "claim") -> dict:
    """A single estimate with its interval against a fixed null value (e.g. a difference against 0):
    supported when the interval excludes the null value (and ``p <= alpha`` when a p-value is given)."""
    ok = (estimate is not None and ci_low is not None and ci_high is not None
          and not (ci_low <= null_value <= ci_high) and (p is None or p <= alpha))
    return {"id": claim_id, "statement": statement, "negation": negation, "unit": unit, "kind": "value",
            "observed": {"estimate": estimate, "ci_low": ci_low, "ci_high": ci_high},
            "null": {"value": null_value}, "test": {"p": p, "alpha": alpha},
            "supported": bool(ok), "testable": estimate is not None, "lens": lens, "role": role}


def threshold_claim(claim_id: str, statement: str, values: Sequence[float], threshold: float,
                    family: str = "seed", negation: str = "", unit: str = "", level: float = 0.95,
                    stat: str = "", lens: str = "", role: str = "claim") -> dict:
    """A family of values all at or above a fixed threshold (e.g. "two seeds of one model match at least half
    of their latents"): supported when the smallest value reaches the threshold, so that every comparison of
    the family, not only their mean, does."""
    obs = describe(values, level)
    ok = obs["n"] > 0 and obs["min"] >= threshold
    return {"id": claim_id, "statement": statement, "negation": negation, "unit": unit, "kind": "threshold",
            "stat": stat, "observed": {"family": family, **obs}, "null": {"value": threshold},
            "test": {"name": "every value of the family at or above the threshold", "p": None},
            "supported": bool(ok), "testable": obs["n"] > 0, "lens": lens, "role": role}


def pvalue_claim(claim_id: str, statement: str, negation: str, p: float | None, alpha: float = 0.05,
               min_attainable_p: float | None = None, observed: dict | None = None, null: dict | None = None,
               name: str = "", lens: str = "", role: str = "claim") -> dict:
    """A claim decided by one test the stage ran (e.g. a permutation test whose p it computed): supported when
    ``p <= alpha``; ``min_attainable_p`` is the smallest p the design can give (a claim whose smallest attainable p
    exceeds alpha cannot be supported by any data)."""
    ok = p is not None and math.isfinite(p) and p <= alpha
    return {"id": claim_id, "statement": statement, "negation": negation, "unit": "", "kind": "test",
            "observed": dict(observed or {}), "null": dict(null or {}),
            "test": {"name": name, "p": p, "alpha": alpha, "min_attainable_p": min_attainable_p},
            "supported": bool(ok), "testable": p is not None, "lens": lens, "role": role}


def evaluate(claim: dict) -> dict:
    """The claim re-derived from its own numbers (observed and null values, estimate and interval), so that a
    reader of the claim, e.g. the report, can never say more than those numbers: the returned copy's ``test``
    and ``supported`` follow from the values, whatever the stored ``supported`` says."""
    c = dict(claim)
    kind, obs, nul = c.get("kind"), c.get("observed") or {}, c.get("null") or {}
    test = dict(c.get("test") or {})
    alpha = float(test.get("alpha", 0.05))
    if kind in ("family", "count"):
        x, y = obs.get("values") or [], nul.get("values") or []
        alt = test.get("alternative", "greater")
        fresh = family_claim(c.get("id", ""), c.get("statement", ""), x, y, alt, alpha, obs.get("family", ""),
                             nul.get("family", ""), c.get("unit", ""), negation=c.get("negation", ""),
                             stat=c.get("stat", ""))
        fresh["kind"] = kind
        return {**c, **{k: fresh[k] for k in ("observed", "null", "test", "supported", "testable")}}
    if kind == "sae_permutation":
        fresh = sae_family_claim(c.get("id", ""), c.get("statement", ""), c.get("pairs") or [], c.get("groups") or {},
                                 test.get("design", "crossed_vs_within"), test.get("alternative", "greater"), alpha,
                                 obs.get("family", ""), nul.get("family", ""))
        keys = ("n", "values", "mean", "min", "max", "ci_low", "ci_high")
        return {**c, **{k: fresh[k] for k in ("test", "supported", "testable")},
                "observed": {**obs, **{k: fresh["observed"][k] for k in keys}},
                "null": {**nul, **{k: fresh["null"][k] for k in keys}}}
    if kind == "runs":
        fresh = run_claim(c.get("id", ""), c.get("statement", ""), c.get("negation", ""), obs.get("value"),
                          nul.get("values") or [], alpha, test.get("alternative", "greater"), unit=c.get("unit", "run"))
        return {**c, "test": {**test, **{k: fresh["test"][k] for k in ("p", "min_attainable_p")}},
                "supported": fresh["supported"], "testable": fresh["testable"]}
    if kind == "threshold":
        fresh = threshold_claim(c.get("id", ""), c.get("statement", ""), obs.get("values") or [],
                                float(nul.get("value", 0.0)), obs.get("family", ""))
        return {**c, **{k: fresh[k] for k in ("observed", "supported", "testable")}}
    if kind == "test":
        p = test.get("p")
        return {**c, "supported": bool(_finite(p) and p <= alpha), "testable": p is not None}
    if kind == "value":
        fresh = value_claim(c.get("id", ""), c.get("statement", ""), obs.get("estimate"), obs.get("ci_low"),
                            obs.get("ci_high"), float(nul.get("value", 0.0)), test.get("p"), alpha)
        return {**c, "supported": fresh["supported"], "testable": fresh["testable"]}
    return c


# --------------------------------------------------------------------------------------------
# Counts against their nulls (the diffing lenses and the causal checks)
# --------------------------------------------------------------------------------------------
# A count of flagged latents is a binomial draw when nothing changed: :func:`rate_claim` sets the observed
# fraction (with its exact Clopper-Pearson 95% interval) against the null's rate, supported when the interval
# excludes the null rate and the one-sided binomial test gives p <= alpha. :func:`pair_claim` sets two counts of
# the same procedure (e.g. a crosscoder's model-specific latents for base~tuned against base~base) against each
# other: given their total, the first is Binomial(total, 1/2) when both have the same rate (conditional test of
# two Poisson counts). Both are ``value`` claims, so :func:`evaluate` re-derives their verdicts.
def _finite(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) and math.isfinite(x)


def rate_claim(cid: str, statement: str, negation: str, count, n, null_rate: float | None,
               alpha: float = 0.05, lens: str = "", role: str = "claim") -> dict:
    """``count`` of ``n`` against ``null_rate``: exact binomial test (greater) and Clopper-Pearson interval."""
    from scipy.stats import binomtest

    if not (_finite(count) and _finite(n) and n > 0 and _finite(null_rate)):
        return value_claim(cid, statement, None, None, None, float(null_rate or 0.0), None, alpha, negation=negation,
                           lens=lens, role=role)
    rate = min(max(float(null_rate), 1e-12), 1 - 1e-12)
    t = binomtest(int(count), int(n), rate, alternative="greater")
    ci = t.proportion_ci(0.95, method="exact")
    c = value_claim(cid, statement, int(count) / int(n), float(ci.low), float(ci.high), float(null_rate),
                    float(t.pvalue), alpha, unit="fraction", negation=negation, lens=lens, role=role)
    c["test"]["name"] = "exact one-sided binomial test against the null rate; Clopper-Pearson 95% interval"
    c["test"]["min_attainable_p"] = float(rate ** int(n))  # every one of the n flagged
    c["observed"].update(count=int(count), n=int(n))
    c["null"]["expected_count"] = float(null_rate) * int(n)
    return c


def pair_claim(cid: str, statement: str, negation: str, count, null_count, alpha: float = 0.05, lens: str = "",
               role: str = "claim") -> dict:
    """``count`` against ``null_count`` of the same procedure: conditional binomial test of two Poisson counts."""
    from scipy.stats import binomtest

    if not (_finite(count) and _finite(null_count)) or count + null_count <= 0:
        c = value_claim(cid, statement, None, None, None, 0.5, None, alpha, negation=negation, lens=lens, role=role)
    else:
        t = binomtest(int(count), int(count + null_count), 0.5, alternative="greater")
        ci = t.proportion_ci(0.95, method="exact")
        c = value_claim(cid, statement, count / (count + null_count), float(ci.low), float(ci.high), 0.5,
                        float(t.pvalue), alpha, unit="share of the two counts", negation=negation, lens=lens,
                        role=role)
        c["test"]["name"] = "conditional binomial test of two counts (share of the first against 1/2)"
        c["test"]["min_attainable_p"] = 0.5 ** int(count + null_count)  # the null count 0, given the total
    c["observed"]["count"], c["null"]["count"] = count, null_count
    return c


# --------------------------------------------------------------------------------------------
# The unit of inference is what was sampled: SAEs, runs
# --------------------------------------------------------------------------------------------
# A family of crossed SAE pairs (base_i vs tuned_j) shares its SAEs: 3 base and 3 tuned SAEs give 9 pairs, not 9
# independent values. :func:`sae_family_claim` permutes the model labels of the SAEs instead (every distinct
# relabelling), so its smallest attainable p is what the SAEs allow (1/10 with 3 + 3). :func:`run_claim` sets one
# run's statistic (a stage-wise run, a crosscoder) against the statistic of each null run: p = (1 + #null runs at
# least as extreme) / (1 + #null runs), so its smallest attainable p is 1 / (1 + #null runs).
DESIGNS = {
    "crossed_vs_within": "mean over crossed pairs (one SAE of each model) minus mean over same-model pairs; the "
                         "model labels of the SAEs permuted",
    "shared_reference": "mean over pairs with the observed model's SAEs minus mean over pairs with the null model's "
                        "SAEs (both against the same reference SAEs); the labels of the observed and null SAEs "
                        "permuted",
}
"""Design of :func:`sae_family_claim` -> its statistic and what is permuted."""


def _pair_lookup(pairs: Sequence[dict]) -> dict[frozenset, float]:
    return {frozenset((p["a"], p["b"])): float(p["value"]) for p in pairs
            if p.get("value") is not None and math.isfinite(float(p["value"]))}


def _design_families(design: str, groups: dict[str, list[str]], first: frozenset,
                     lookup: dict[frozenset, float]) -> tuple[list[float], list[float]]:
    """(observed values, null values) of the pairs when the SAEs in ``first`` carry the first permuted label."""
    if design == "crossed_vs_within":
        units = [u for g in groups.values() for u in g]
        obs, nul = [], []
        for i, a in enumerate(units):
            for b in units[i + 1:]:
                v = lookup.get(frozenset((a, b)))
                if v is not None:
                    (obs if (a in first) != (b in first) else nul).append(v)
        return obs, nul
    if design == "shared_reference":
        ref, moving = groups["reference"], groups["observed"] + groups["null"]
        obs = [v for r in ref for u in moving if u in first and (v := lookup.get(frozenset((r, u)))) is not None]
        nul = [v for r in ref for u in moving if u not in first and (v := lookup.get(frozenset((r, u)))) is not None]
        return obs, nul
    raise ValueError(f"unknown SAE permutation design {design!r} (known: {', '.join(DESIGNS)})")


def sae_permutation_test(pairs: Sequence[dict], groups: dict[str, list[str]], design: str,
                         alternative: Alternative = "greater") -> dict:
    """The permutation test whose unit is the SAE: every relabelling of the SAEs (``groups``: label -> SAE names;
    ``crossed_vs_within``: two models' SAEs; ``shared_reference``: ``reference``, ``observed`` and ``null`` SAEs)
    gives the statistic of :data:`DESIGNS` on the pairs' values (``pairs``: dicts with ``a``, ``b``, ``value``).
    Returns the observed statistic, p (the fraction of relabellings at least as extreme, the observed one included),
    the smallest attainable p (relabellings that give the observed split, over all) and the number of relabellings."""
    from itertools import combinations

    lookup = _pair_lookup(pairs)
    if design == "crossed_vs_within":
        labels = list(groups)
        if len(labels) != 2:
            raise ValueError(f"crossed_vs_within needs two groups of SAEs, got {labels}")
        pool, k = groups[labels[0]] + groups[labels[1]], len(groups[labels[0]])
        symmetric = k == len(groups[labels[1]])  # swapping the two labels gives the same pairs' families
    else:
        pool, k, symmetric = groups["observed"] + groups["null"], len(groups["observed"]), False

    def stat(first: frozenset) -> float | None:
        x, y = _design_families(design, groups, first, lookup)
        return (float(np.mean(x)) - float(np.mean(y))) if x and y else None

    observed = stat(frozenset(pool[:k]))
    perms = [stat(frozenset(c)) for c in combinations(pool, k)]
    out = {"design": design, "statistic": observed, "relabellings": len(perms), "p": None,
           "min_attainable_p": (2 if symmetric else 1) / len(perms) if perms else None}
    if observed is None or any(t is None for t in perms):
        return out
    t = np.array(perms)
    tol = 1e-12 * max(1.0, float(np.abs(t).max()))
    hits = {"greater": t >= observed - tol, "less": t <= observed + tol}.get(alternative, np.abs(t) >= abs(observed)
                                                                              - tol)
    out["p"] = float(hits.mean())
    return out


FAMILY_MODELS = {"fine-tuning": ("base", "tuned"), "control": ("base", "control")}
"""A family of crossed SAE pairs -> (first model, second model) of its pairs (:mod:`featevo.layout` FAMILIES)."""


def sae_contrast(comparisons: Sequence[dict], model_of: dict[str, str], obs: str,
                 null: str) -> tuple[str, dict[str, list[str]], list[dict]]:
    """(design, groups of SAEs, the comparisons it uses) of the SAE-unit test of family ``obs`` against ``null``
    (:func:`sae_family_claim`). ``comparisons``: dicts with ``a``, ``b`` (SAE names) and ``family``, in the run's
    order; ``model_of``: SAE -> model. A crossed family against ``seed``: the same-model seed pairs of its two models
    (``crossed_vs_within``); two crossed families: both against the same first-model SAEs (``shared_reference``)."""
    def saes(families: tuple[str, ...], model: str) -> list[str]:
        out: list[str] = []
        for c in comparisons:
            for n in (c["a"], c["b"]):
                if c["family"] in families and model_of.get(n) == model and n not in out:
                    out.append(n)
        return out

    first, second = FAMILY_MODELS[obs]
    if null == "seed":
        groups = {first: saes((obs,), first), second: saes((obs,), second)}
        names = set(groups[first]) | set(groups[second])
        used = [c for c in comparisons if c["family"] == obs
                or (c["family"] == "seed" and c["a"] in names and c["b"] in names)]
        return "crossed_vs_within", groups, used
    groups = {"reference": saes((obs, null), first), "observed": saes((obs,), second),
              "null": saes((null,), FAMILY_MODELS[null][1])}
    return "shared_reference", groups, [c for c in comparisons if c["family"] in (obs, null)]


def sae_family_claim(claim_id: str, statement: str, pairs: Sequence[dict], groups: dict[str, list[str]],
                     design: str, alternative: Alternative, alpha: float = 0.05, observed_family: str = "fine-tuning",
                     null_family: str = "seed", negation: str = "", stat: str = "", level: float = 0.95,
                     lens: str = "", role: str = "claim") -> dict:
    """A claim that a statistic differs between two families of SAE pairs, tested with the SAE as the unit
    (:func:`sae_permutation_test`): the families are described as in :func:`family_claim` (mean, range, interval),
    and the claim keeps its pairs and groups so that :func:`evaluate` re-derives p from them."""
    pairs = [{"a": str(p["a"]), "b": str(p["b"]), "value": p["value"]} for p in pairs]
    groups = {k: [str(u) for u in v] for k, v in groups.items()}
    pool = groups["observed"] if design == "shared_reference" else groups[next(iter(groups))]
    x, y = _design_families(design, groups, frozenset(pool), _pair_lookup(pairs))
    obs, nul = describe(x, level), describe(y, level)
    t = sae_permutation_test(pairs, groups, design, alternative)
    p = t["p"]
    return {
        "id": claim_id, "statement": statement, "negation": negation, "unit": "SAE", "stat": stat,
        "kind": "sae_permutation", "observed": {"family": observed_family, **obs},
        "null": {"family": null_family, **nul}, "pairs": pairs, "groups": groups,
        "test": {"name": f"one-sided permutation test with the SAE as the unit ({DESIGNS[design]}; all "
                         f"{t['relabellings']} relabellings)" if alternative != "two-sided" else
                         f"two-sided permutation test with the SAE as the unit ({DESIGNS[design]})",
                 "design": design, "alternative": alternative, "statistic": t["statistic"], "p": p, "alpha": alpha,
                 "relabellings": t["relabellings"], "min_attainable_p": t["min_attainable_p"]},
        "supported": bool(p is not None and p <= alpha),
        "testable": p is not None and obs["n"] > 0 and nul["n"] > 0, "lens": lens, "role": role,
    }


def run_claim(cid: str, statement: str, negation: str, observed: float | None, null: Sequence[float],
              alpha: float = 0.05, alternative: Alternative = "greater", stat: str = "", unit: str = "run",
              lens: str = "", role: str = "claim") -> dict:
    """One run's statistic ``observed`` against the statistic of each null run (``null``): p = (1 + #null runs at
    least as extreme) / (1 + #null runs), its smallest attainable value 1 / (1 + #null runs); ``unit`` names the
    run (a stage-wise run, a crosscoder). Supported when p <= alpha."""
    nv = [float(v) for v in null if _finite(v)]
    ok = _finite(observed) and len(nv) > 0
    p = None
    if ok:
        x, t = float(observed), np.array(nv)
        tol = 1e-12 * max(1.0, abs(x), float(np.abs(t).max()))
        hits = {"greater": t >= x - tol, "less": t <= x + tol}.get(alternative, np.abs(t) >= abs(x) - tol)
        p = (1 + int(hits.sum())) / (1 + len(nv))
    return {"id": cid, "statement": statement, "negation": negation, "unit": unit, "stat": stat, "kind": "runs",
            "observed": {"value": float(observed) if _finite(observed) else None},
            "null": {"values": nv, "n": len(nv), "min": min(nv) if nv else None, "max": max(nv) if nv else None},
            "test": {"name": f"the {unit}'s statistic against each null {unit}'s (p = (1 + null {unit}s at least as "
                             f"extreme) / (1 + null {unit}s))", "alternative": alternative, "p": p, "alpha": alpha,
                     "min_attainable_p": 1.0 / (1 + len(nv)) if nv else None},
            "supported": bool(p is not None and p <= alpha), "testable": p is not None, "lens": lens, "role": role}


def supported(claim: dict) -> bool:
    """The claim's verdict re-derived from its numbers (:func:`evaluate`)."""
    return bool(evaluate(claim).get("supported"))
