"""The stage-wise lens of ``02_model_diffing``: its claims (flag counts of each contrast against the null).

A latent is flagged when its rotation beyond the null has an empirical p-value <= ``diffing.alpha``
(:mod:`featevo.stagewise`). Per contrast (``tuned``, the ``control`` twin as negative control, the ``planted``
twin as positive control) the flag count is set against the larger of two null rates: alpha (what calibrated
p-values give) and the rate on one more null order held out from the reference (what the rule gives when
nothing changed), by an exact one-sided binomial test (:func:`featevo.claims.rate_claim`).
"""

from __future__ import annotations

from featevo.claims import rate_claim

LENS = "stagewise"
CONTRASTS = (("tuned", "null_held_out", "the tuned twin"),
             ("control", "null_held_out", "the control twin (negative control)"),
             ("planted", "planted_null_held_out", "the planted twin (positive control)"))
"""(contrast, its held-out null order, its label in the claim's statement)."""
ROLE = {"control": "negative_control", "planted": "positive_control"}
"""Contrast -> the role of its claim (the others: ``claim``)."""


def flag_claim(name: str, held: str, label: str, sws: dict, n_latents: dict[str, int], alpha: float) -> dict | None:
    """The claim that contrast ``name`` flags more latents than its null (None when the contrast did not run).
    ``sws``: the stage-wise summary (per contrast its ``flagged`` count); ``n_latents``: latents per contrast."""
    e, h = sws.get(name), sws.get(held) or {}
    n = n_latents.get(name, 0)
    if not isinstance(e, dict) or not n:
        return None
    k_held, n_held = h.get("flagged"), n_latents.get(held, 0)
    held_rate = k_held / n_held if isinstance(k_held, int) and n_held else 0.0
    c = rate_claim(f"stagewise_flags:{name}", f"stage-wise diffing flags more latents for {label} than the null",
                   f"stage-wise diffing does not flag more latents for {label} than the null", e.get("flagged"), n,
                   max(alpha, held_rate), alpha, lens=LENS, role=ROLE.get(name, "claim"))
    c["null"].update(alpha_expects=alpha * n, held_out_flags=k_held)
    c["contrast"], c["label"] = name, label
    return c


def claims(sws: dict, n_latents: dict[str, int], alpha: float) -> list[dict]:
    """Every contrast's flag claim, in :data:`CONTRASTS` order."""
    return [c for name, held, label in CONTRASTS if (c := flag_claim(name, held, label, sws, n_latents, alpha))]


AGREEMENT_NAME = "stage-wise"
"""The lens's name in lens agreement (:mod:`featevo.lenses`)."""


def flagged_base_latents(rows) -> dict:
    """The lens's flagged set as base SAE latents: the tuned contrast's flagged latents (latent i of the continued
    SAE is latent i of the base SAE). ``rows``: the stage-wise latent table; ``latents`` None when it is missing."""
    tuned = [r for r in rows if r["contrast"] == "tuned"]
    if not tuned:
        return {"latents": None, "what": "missing: no tuned contrast in the stage-wise table"}
    return {"latents": [int(r["latent"]) for r in tuned if r["flagged"]],
            "what": "latents rotated beyond the null (tuned contrast); latent i is base SAE latent i"}
