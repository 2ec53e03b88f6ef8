"""The crosscoder lens of ``02_model_diffing``: its claims (model-specific latents against the base~base null).

Per crosscoder pair a~b (base~tuned, base~control as negative control, tuned~planted as positive control), the
count of b-only latents confirmed by Latent Scaling is set against the same count of the base~base crosscoder
(one model twice, where every model-specific latent is a training artefact) by the conditional binomial test of
two counts (:func:`featevo.claims.pair_claim`).
"""

from __future__ import annotations

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
