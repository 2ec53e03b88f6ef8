"""Lens agreement: do the diffing lenses flag the same latents, more often than chance?

Every lens's flagged set is expressed as a set of *base SAE* latents (stage 01's ``base`` SAE, replicate 0), so
that sets from different lenses can be intersected:

* **stage-wise**: latent i of the continued SAE is latent i of the base SAE (continued training keeps identity);
* **independent matching** (stage 03): a base-vs-tuned pair names its base latent;
* **crosscoder**: a crosscoder latent maps to the base SAE latent whose decoder row has the highest cosine with
  the crosscoder's base-side decoder half (best match, not one-to-one: several crosscoder latents may map to
  one base latent; the cosine of each mapping is kept so a weak one can be seen).

Overlap against chance: with ``N`` base latents and two flagged sets of sizes ``a`` and ``b`` drawn
independently, the overlap is hypergeometric: expected ``a * b / N``, one-sided p = P(X >= observed)
(:func:`overlap_test`).

Stage 02_model_diffing expresses each of its lenses' flagged sets as base SAE latents (its summary's
``lens_sets``); the matching lens's set comes from stage 03_activation_deltas. No stage before the report reads
both, so :func:`lens_agreement` is a function of the two typed results (:class:`featevo.results.DiffingResult`,
:class:`featevo.results.DeltasResult`) that the report calls and renders.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

MATCHING = "matching"
ORDER = ("stage-wise", MATCHING, "crosscoder")
"""The lenses' order in the agreement tables (lenses not named here follow, in the stage's order)."""


def best_match(rows: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``rows`` [m, d], the index of the row of ``reference`` [n, d] with the highest cosine, and
    that cosine (a zero row gets index -1 and cosine NaN)."""
    a = np.asarray(rows, dtype=np.float64)
    b = np.asarray(reference, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = (a / np.where(na > 0, na, 1.0)[:, None]) @ (b / np.where(nb > 0, nb, 1.0)[:, None]).T
    idx = cos.argmax(axis=1) if cos.size else np.zeros(len(a), dtype=int)
    best = cos[np.arange(len(a)), idx] if cos.size else np.full(len(a), np.nan)
    zero = na == 0
    return np.where(zero, -1, idx).astype(int), np.where(zero, np.nan, best)


def overlap_test(a: Iterable[int], b: Iterable[int], n: int) -> dict:
    """Overlap of two sets of latents out of ``n``: observed, expected under independence (hypergeometric mean
    ``|a| |b| / n``), the ratio, and the one-sided p-value P(X >= observed)."""
    from scipy.stats import hypergeom

    sa, sb = set(int(x) for x in a), set(int(x) for x in b)
    k = len(sa & sb)
    expected = len(sa) * len(sb) / n if n > 0 else None
    p = float(hypergeom.sf(k - 1, n, len(sa), len(sb))) if n > 0 and sa and sb else None
    p_min = float(hypergeom.sf(min(len(sa), len(sb)) - 1, n, len(sa), len(sb))) if n > 0 and sa and sb else None
    return {"n": int(n), "size_a": len(sa), "size_b": len(sb), "overlap": k, "expected": expected,
            "ratio": (k / expected) if expected else None, "p": p, "min_attainable_p": p_min,
            "jaccard": (k / len(sa | sb)) if (sa | sb) else None}


def agreement(sets: dict[str, Optional[Iterable[int]]], n: int) -> dict:
    """Every pair of lenses with a set (None: the lens is missing) tested for overlap; per latent flagged by any
    lens, which lenses flag it; per lens, the latents only it flags (where the lenses disagree)."""
    have = {k: sorted(set(int(x) for x in v)) for k, v in sets.items() if v is not None}
    pairs = [{"a": x, "b": y, **overlap_test(have[x], have[y], n)} for x, y in combinations(have, 2)]
    union = sorted(set().union(*have.values())) if have else []
    by_latent = {j: [k for k in have if j in set(have[k])] for j in union}
    only = {k: [j for j in have[k] if by_latent[j] == [k]] for k in have}
    return {"n": int(n), "lenses": list(have), "missing": [k for k, v in sets.items() if v is None],
            "sets": have, "pairs": pairs, "by_latent": by_latent, "only": only,
            "all_lenses": [j for j, ks in by_latent.items() if len(ks) == len(have)] if len(have) > 1 else []}


def decoder(path: Path) -> Optional[np.ndarray]:
    """``W_dec`` of the sae-lens weights file at ``path`` as float64 (None when the file or the key is missing)."""
    if not Path(path).is_file():
        return None
    from safetensors.numpy import load_file

    w = load_file(str(path)).get("W_dec")
    return None if w is None else np.asarray(w, dtype=np.float64)


def matching_set(deltas, primary: str) -> tuple[Optional[list[int]], str]:
    """The matching lens's set as base SAE latents: stage 03's calibrated discoveries of the ``primary``
    comparison (else its top pairs on the selection half), with its definition (or why it is missing)."""
    pe = [r for r in deltas.pair_effects if r["comparison"] == primary]
    disc = [r["latent_a"] for r in pe if r["discovered"]]
    if disc:
        return disc, f"stage 03's calibrated discoveries of {primary} (base latent of each pair)"
    if pe:
        return [r["latent_a"] for r in pe if r["selected"]], (
            f"stage 03 calibrates no discovery for {primary}: its top pairs by |z| on the selection half instead "
            "(base latent of each pair)")
    return None, f"missing: stage 03 has no pairs of {primary}"


def lens_agreement(diffing, deltas, primary: str, alpha: float, n_fallback: int = 0) -> dict:
    """Lens agreement of the typed results of 02_model_diffing (its ``lens_sets``) and 03_activation_deltas
    (the matching lens, comparison ``primary``): :func:`agreement` of the sets, with each lens's definition
    (``what``), the crosscoder's mapping cosines, and each pair's verdict (``beyond``: p <= ``alpha``)."""
    ls = (diffing.summary.get("lens_sets") or {}).get("lenses") or {}
    n = int((diffing.summary.get("lens_sets") or {}).get("n_latents") or n_fallback)
    sets: dict = {k: v.get("latents") for k, v in ls.items()}
    what: dict = {k: v.get("what", "") for k, v in ls.items()}
    sets[MATCHING], what[MATCHING] = matching_set(deltas, primary)
    names = [k for k in ORDER if k in sets] + [k for k in sets if k not in ORDER]
    res = agreement({k: sets[k] for k in names}, n)
    for p in res["pairs"]:
        p["beyond"] = bool(p["p"] is not None and np.isfinite(p["p"]) and p["p"] <= alpha)
    cos = {int(j): x for j, x in ((ls.get("crosscoder") or {}).get("mapping_cosine") or {}).items()}
    return {**res, "order": names, "all_sets": {k: sets[k] for k in names}, "what": {k: what[k] for k in names},
            "mapping_cosine": cos, "alpha": alpha, "n_beyond": sum(p["beyond"] for p in res["pairs"])}
