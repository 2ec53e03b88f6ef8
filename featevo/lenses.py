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
(:func:`overlap_test`). Pure computation, no files: the report (:mod:`featevo.report.diffing`) reads the inputs.
"""

from __future__ import annotations

from itertools import combinations
from typing import Iterable, Optional

import numpy as np


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
    return {"n": int(n), "size_a": len(sa), "size_b": len(sb), "overlap": k, "expected": expected,
            "ratio": (k / expected) if expected else None, "p": p,
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
