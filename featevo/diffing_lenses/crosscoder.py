"""The crosscoder lens of ``02_model_diffing``: its claims (model-specific latents against the base~base null).

Per crosscoder pair a~b (base~tuned, base~control as negative control, tuned~planted as positive control), the
count of b-only latents confirmed by Latent Scaling is set against the same count of the base~base crosscoder
(one model twice, where every model-specific latent is a training artefact) by the conditional binomial test of
two counts (:func:`featevo.claims.pair_claim`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featevo.claims import pair_claim

LENS = "crosscoder"
PAIRS = ("base~tuned", "base~control", "tuned~planted")
"""The pairs set against the null, in claim order."""
NULL_PAIR = "base~base"
ROLE = {"control": "negative_control", "planted": "positive_control"}
"""Second model of a pair -> the role of its claim (the others: ``claim``)."""


def claims(ccs: dict, alpha: float) -> list[dict]:
    """One claim per pair of :data:`PAIRS` that ran, when the null pair ran too (``ccs``: the crosscoder summary)."""
    null = ccs.get(NULL_PAIR)
    out = []
    for p in PAIRS:
        if p not in ccs or not isinstance(null, dict):
            continue
        b = ccs[p].get("model_b", p.split("~")[1])
        c = pair_claim(f"crosscoder_confirmed:{p}",
                       f"the {p} crosscoder has more {b}-specific latents than the base~base null",
                       f"the {p} crosscoder has no more {b}-specific latents than the base~base null",
                       ccs[p].get("b_only_confirmed"), null.get("b_only_confirmed"), alpha, lens=LENS,
                       role=ROLE.get(p.split("~")[1], "claim"))
        c["pair"] = p
        out.append(c)
    return out


AGREEMENT_NAME = "crosscoder"
"""The lens's name in lens agreement (:mod:`featevo.lenses`)."""
MAIN_PAIR = "base~tuned"


def flagged_base_latents(rows, crosscoder_weights: Path, base_weights: Path) -> dict:
    """The lens's flagged set as base SAE latents: the model-specific (a-only or b-only) latents of the base~tuned
    crosscoder, each mapped to the base SAE latent whose decoder row has the highest cosine with its base-side
    decoder half (:func:`featevo.lenses.best_match`; the cosine of each mapping is kept in ``mapping_cosine``).
    ``rows``: the crosscoder latent table; ``latents`` None when the crosscoder or a weights file is missing."""
    from featevo.lenses import best_match, decoder

    cc = [r for r in rows if r["pair"] == MAIN_PAIR]
    w_cc, w_base = decoder(crosscoder_weights), decoder(base_weights)
    if not (cc and w_cc is not None and w_base is not None and w_cc.shape[1] == 2 * w_base.shape[1]):
        return {"latents": None, "what": "missing: no base~tuned crosscoder (or its weights) in the stage outputs"}
    flagged = [int(r["latent"]) for r in cc if r["class"] != "shared"]
    idx, c = best_match(w_cc[flagged, : w_base.shape[1]], w_base) if flagged else (np.array([], int), [])
    return {"latents": sorted({int(j) for j in idx if j >= 0}),
            "mapping_cosine": {str(int(j)): float(x) for j, x in zip(idx, c) if j >= 0},
            "what": "model-specific (a-only or b-only) latents of the base~tuned crosscoder, each mapped to the base "
                    "SAE latent whose decoder row has the highest cosine with its base-side decoder half (best "
                    "match, not one-to-one)"}
