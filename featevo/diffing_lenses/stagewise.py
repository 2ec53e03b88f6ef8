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


class StagewiseLens:
    """Stage-wise diffing (:mod:`featevo.stagewise`): stage 01's base SAE continued on another model's activations
    of the same tokens, per contrast and data order, against the same continued training on the start model's own
    activations (the null). Config: ``diffing.stagewise``; table: ``stagewise_latents.csv``."""

    name = LENS
    agreement_name = AGREEMENT_NAME

    def fit(self, run) -> dict:
        from featevo.diffing import run_contrast, stagewise_contrasts, stagewise_rows, stagewise_statistics
        from featevo.progress import tqdm
        from featevo.results import STAGEWISE_LATENTS
        from featevo.tables import Table

        contrasts = stagewise_contrasts(run.cfg, run.keys, run.has_domains)
        before: dict = {}
        results = {c.name: run_contrast(run.cfg, run.s1, run.out, c, run.rows, run.train_domain, run.device, before,
                                        run.ptext)
                   for c in tqdm(contrasts, desc="stage-wise contrasts", unit="contrast")}
        stats = stagewise_statistics(contrasts, results, run.cfg.diffing.alpha)
        return {"stats": stats, "results": results, "table": Table(STAGEWISE_LATENTS, stagewise_rows(stats, results))}

    def table(self, state: dict):
        return state["table"]

    def summary(self, run, state: dict) -> dict:
        from featevo.diffing import stagewise_summary, two_by_two_summary

        sws = stagewise_summary(state["stats"], state["results"])
        for name, e in sws.items():
            e["latents"] = int(len(state["stats"][name]["rotation"]))
        return {"stagewise": sws, "two_by_two": two_by_two_summary(state["stats"])}

    def change(self, state: dict, part: str):
        st = state["stats"].get("planted" if part == "planted" else "tuned")
        return None if st is None else st["rotation_excess"]

    def codes(self, run, state: dict, acts: dict, part: str):
        from featevo.layout import DiffingFiles, TrainFiles
        from featevo.sae import encode, load_sae

        contrast, model = ("planted", "planted") if part == "planted" else ("tuned", "tuned")
        sae = load_sae(run.out / DiffingFiles.STAGEWISE / f"{contrast}_o0" / TrainFiles.SAE, run.device)
        return encode(sae, acts[model]).numpy()

    def statistic(self, part: str) -> str:
        return ("rotation excess of planted over planted_null" if part == "planted"
                else "rotation excess of tuned over null")

    def negative_control(self, run, state: dict, summary: dict) -> dict:
        sws, alpha = summary["stagewise"], run.cfg.diffing.alpha
        n = len(state["stats"]["tuned"]["rotation"])

        def get(name: str):
            return sws[name]["flagged"] if name in sws else None

        return {"tuned": get("tuned"), "control": get("control"), "null_held_out": get("null_held_out"),
                "what": f"latents whose rotation beyond the null has an empirical p-value <= {alpha} (against the "
                        f"pooled leave-one-out null orders)",
                "null_expects": n * alpha if n else None,
                "null_expects_what": "alpha times the number of latents (calibrated per-latent p-values); "
                                     "null_held_out is the count the rule gives on one more null order held out from "
                                     "the reference (conservative p-values give fewer)"}

    def flagged_base_latents(self, run, state: dict) -> dict:
        return flagged_base_latents(state["table"])

    def claims(self, summary: dict, alpha: float) -> list[dict]:
        sws = summary.get("stagewise") or {}
        return claims(sws, {k: int(e.get("latents") or 0) for k, e in sws.items()}, alpha)

    def figures(self, run, state: dict) -> None:
        from featevo.diffing_figures import rotation_vs_null
        from featevo.layout import DiffingFiles

        stats = state["stats"]
        if "tuned" in stats:
            rotation_vs_null(stats["tuned"], stats.get("control"), stats.get("null_held_out"),
                             run.out / DiffingFiles.ROTATION_FIG)
