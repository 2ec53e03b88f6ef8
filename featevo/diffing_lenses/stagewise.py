"""The stage-wise lens of ``02_model_diffing``: its claims (each contrast's run against the null runs).

A latent is flagged when its rotation beyond the null has an empirical p-value <= ``diffing.alpha``
(:mod:`featevo.stagewise`); the flag counts are descriptive numbers. The unit of the lens's claims is the run, what
was sampled: per contrast (``tuned``, the ``control`` twin as a comparison, the ``planted`` twin as positive control)
its run's statistic (the mean rotation over latents, averaged over its data orders) is set against the same
statistic of every null run (the start SAE continued on its own model's activations, each data order one run, the
held-out order included): p = (1 + null runs at least as large) / (1 + null runs) (:func:`featevo.claims.run_claim`),
so its smallest attainable value is 1 / (1 + null runs). Averaging the contrast's orders makes its statistic less
variable than one null run's, which can only make the test conservative for an upper-tail p.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from featevo.activations import ActivationStore
from featevo.claims import run_claim
from featevo.config import PipelineConfig
from featevo.data import REFERENCE, TARGET
from featevo.diffing_lenses.rows import ALL_ROWS, PlantedText, Rows
from featevo.io import read_json
from featevo.layout import DiffingFiles, TrainFiles, acts_dir, main_saes, sae_dir, sae_work_dir
from featevo.progress import tqdm
from featevo.results import STAGEWISE_LATENTS, STAGEWISE_STATS
from featevo.sae import load_sae
from featevo.stagewise import (
    RowSubsetStore, activity, against_null, continue_sae, flags, latent_change, rank_desc, reproducibility,
)
from featevo.tables import Table

logger = logging.getLogger(__name__)

LENS = "stagewise"
CONTRASTS = (("tuned", "null_held_out", "the tuned twin"),
             ("control", "null_held_out", "the control twin (a comparison: the same recipe on reference-domain text)"),
             ("planted", "planted_null_held_out", "the planted twin (positive control)"))
"""(contrast, its held-out null order, its label in the claim's statement)."""
ROLE = {"control": "comparison", "planted": "positive_control"}
"""Contrast -> the role of its claim (the others: ``claim``). The control twin is a real change (fine-tuning on
reference-domain text), so the lens flagging it is a comparison beside the tuned twin's flags, not a failed control."""
NULL_OF = {"null_held_out": "null", "planted_null_held_out": "planted_null"}
"""Held-out null entry -> its null contrast (whose reference orders are the other null runs)."""


def null_runs(sws: dict, held: str) -> list[float]:
    """The statistic of every null run of held-out null ``held``: the mean rotation over latents of each data order
    of its null contrast (the reference orders, then the held-out one)."""
    return [float(v) for name in (NULL_OF.get(held, ""), held)
            for v in ((sws.get(name) or {}).get("rotation_mean_per_order") or [])]


def flag_claim(name: str, held: str, label: str, sws: dict, n_latents: dict[str, int], alpha: float) -> dict | None:
    """The claim that contrast ``name``'s run rotates the latents more than the null runs (None when the contrast
    did not run). ``sws``: the stage-wise summary (per entry its ``rotation_mean``, ``rotation_mean_per_order`` and
    ``flagged`` count); ``n_latents``: latents per contrast. The flag counts ride along as descriptive numbers."""
    e, h = sws.get(name), sws.get(held) or {}
    n = n_latents.get(name, 0)
    if not isinstance(e, dict) or not n:
        return None
    c = run_claim(f"stagewise_flags:{name}",
                  f"the stage-wise run of {label} rotates the latents more (mean rotation) than the null runs",
                  f"the stage-wise run of {label} does not rotate the latents detectably more than the null runs",
                  e.get("rotation_mean"), null_runs(sws, held), alpha, stat="rotation_mean", unit="stage-wise run",
                  lens=LENS, role=ROLE.get(name, "claim"))
    c["observed"].update(count=e.get("flagged"), n=n, orders=e.get("orders"))
    c["null"].update(alpha_expects=alpha * n, held_out_flags=h.get("flagged"),
                     what="the start SAE continued on its own model's activations, one run per data order")
    c["contrast"], c["label"] = name, label
    return c


def claims(sws: dict, n_latents: dict[str, int], alpha: float) -> list[dict]:
    """Every contrast's run claim, in :data:`CONTRASTS` order."""
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


# --------------------------------------------------------------------------------------------
# Stage-wise contrasts
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contrast:
    """Continued training of model ``start``'s stage 01 SAE on model ``target``'s rows (``rows`` documents)."""

    name: str
    start: str
    target: str
    rows: str
    reference: str | None
    orders: int
    held_out: bool = False
    """A null: its last order is held out and set against the others like any contrast."""
    text: str = "corpus"
    """``corpus`` (stage 01's tokens) or ``planted`` (the corpus with the plant applied)."""

    @property
    def reference_orders(self) -> int:
        return self.orders - 1 if self.held_out else self.orders


def stagewise_contrasts(cfg: PipelineConfig, keys: tuple[str, ...], has_domains: bool) -> list[Contrast]:
    o, do = cfg.diffing.stagewise.orders, cfg.diffing.stagewise.domain_orders
    pt = "planted" if cfg.diffing.planted_text else "corpus"
    out = [Contrast("null", "base", "base", ALL_ROWS, None, o + 1, True),
           Contrast("tuned", "base", "tuned", ALL_ROWS, "null", o)]
    if "control" in keys:
        out.append(Contrast("control", "base", "control", ALL_ROWS, "null", o))
    if "planted" in keys:
        out += [Contrast("planted_null", "tuned", "tuned", ALL_ROWS, None, o + 1, True, pt),
                Contrast("planted", "tuned", "planted", ALL_ROWS, "planted_null", o, False, pt)]
    if has_domains and do > 0:
        out += [Contrast("null_reference", "base", "base", REFERENCE, None, do),
                Contrast("data", "base", "base", TARGET, "null_reference", do),
                Contrast("model", "base", "tuned", REFERENCE, "null_reference", do),
                Contrast("both", "base", "tuned", TARGET, "null_reference", do)]
    return out


def order_seed(cfg: PipelineConfig, order: int) -> int:
    """Batch-order seed of data order ``order`` (shared by every contrast: order o of two contrasts visits
    the same tokens in the same order)."""
    return cfg.seed + 7919 + order


def _scaling_factor(s1: Path, sae_name: str) -> float:
    return float(read_json(sae_work_dir(s1, sae_name) / TrainFiles.TRAIN_DONE)["activation_scaling_factor"])


def run_contrast(cfg: PipelineConfig, s1: Path, out: Path, c: Contrast, rows: Rows, train_domain: np.ndarray,
                 device, before_cache: dict, ptext: PlantedText | None = None) -> dict:
    """Every data order of contrast ``c``: continued SAEs (resumed when finished) and per-latent changes."""
    start_name = main_saes(cfg, c.start)[0]
    start = load_sae(sae_dir(s1, start_name), device)
    store_dir = acts_dir(s1, "train", c.target)
    if c.text == "planted":
        store, rows = ptext.stores[c.target], ptext.rows
    else:
        store = ActivationStore(store_dir) if c.rows == ALL_ROWS else RowSubsetStore(store_dir, train_domain == c.rows)
    x_start, x_target = rows.select(c.start, c.rows), rows.select(c.target, c.rows)
    key = (c.start, c.rows, c.text)
    if key not in before_cache:
        before_cache[key] = activity(start, x_start)
    fvu0 = activity(start, x_target)["fvu"]
    per_order, records = [], []
    for o in range(c.orders):
        work = out / DiffingFiles.STAGEWISE / f"{c.name}_o{o}"
        rec = continue_sae(sae_dir(s1, start_name), store, cfg.sae, cfg.diffing.stagewise.tokens,
                           cfg.diffing.stagewise.lr, order_seed(cfg, o), work, device, _scaling_factor(s1, start_name),
                           desc=f"{c.name} o{o}")
        end = load_sae(work / TrainFiles.SAE, device)
        per_order.append(latent_change(start, end, x_start, x_target, before_cache[key], fvu0))
        records.append(rec)
    res = {k: np.stack([p[k] for p in per_order]) for k in per_order[0]}
    res.update(start_sae=start_name, records=records, rows_measured=int(x_target.shape[0]))
    logger.info("stage-wise %s (%s SAE -> %s, %s rows of the %s text): rotation %.3f, FVU of the start SAE on "
                "the target %.3f -> "
                "%.3f after %d steps", c.name, start_name, c.target, c.rows, c.text, float(res["rotation"].mean()),
                float(res["fvu_start_on_target"].mean()), float(res["fvu_after"].mean()), records[0]["steps"])
    return res


def _entries(contrasts: list[Contrast], results: dict) -> list[tuple[str, Contrast, dict, dict | None]]:
    """(entry name, contrast, its per-order values, the reference null's per-order values or None)."""
    by = {c.name: c for c in contrasts}

    def sl(name: str, a: int, b: int) -> dict:
        return {k: results[name][k][a:b] for k in STAGEWISE_STATS}

    out = []
    for c in contrasts:
        if c.reference is None:
            out.append((c.name, c, sl(c.name, 0, c.reference_orders), None))
            if c.held_out:
                out.append((f"{c.name}_held_out", c, sl(c.name, c.orders - 1, c.orders),
                            sl(c.name, 0, c.reference_orders)))
        else:
            ref = by[c.reference]
            out.append((c.name, c, sl(c.name, 0, c.orders), sl(ref.name, 0, ref.reference_orders)))
    return out


def stagewise_statistics(contrasts: list[Contrast], results: dict, alpha: float) -> dict[str, dict]:
    """Per entry (contrast, or a null's held-out order): every statistic against its null, q-values, flags
    and ranks (arrays over latents)."""
    stats = {}
    for name, c, vals, null in _entries(contrasts, results):
        st: dict = {"contrast": c, "reference": c.name if name.endswith("_held_out") else c.reference,
                    "orders": vals["rotation"].shape[0]}
        for stat, (_, two_sided) in STAGEWISE_STATS.items():
            for k, v in against_null(vals[stat], None if null is None else null[stat], two_sided).items():
                st[stat if k == "value" else f"{stat}_{k}"] = v
        st["rotation_sd"] = vals["rotation"].std(0, ddof=1) if st["orders"] > 1 else None
        st["rotation_q"], st["flagged"] = flags(st.get("rotation_p", np.full_like(st["rotation"], np.nan)), alpha)
        st["rank_excess"] = rank_desc(st["rotation_excess"]) if "rotation_excess" in st else None
        st["rotation_per_order"] = vals["rotation"]
        stats[name] = st
    if "tuned" in stats and "control" in stats:
        stats["tuned"]["rotation_minus_control"] = stats["tuned"]["rotation"] - stats["control"]["rotation"]
        stats["tuned"]["rank_domain"] = rank_desc(stats["tuned"]["rotation_minus_control"])
    return stats


def stagewise_rows(stats: dict, results: dict) -> list[dict]:
    rows = []
    for name, st in stats.items():
        c, res = st["contrast"], results[st["contrast"].name]
        sl = slice(c.orders - 1, c.orders) if name.endswith("_held_out") else slice(0, st["orders"])
        for i in range(len(st["rotation"])):
            row = {"contrast": name, "start_sae": res["start_sae"], "target_model": c.target, "rows": c.rows,
                   "text": c.text,
                   "reference": st["reference"], "orders": st["orders"], "latent": i,
                   "freq_before": res["freq_before"][0, i], "act_before": res["act_before"][0, i],
                   "freq_after": res["freq_after"][sl, i].mean(), "act_after": res["act_after"][sl, i].mean()}
            for col in STAGEWISE_LATENTS.fields:
                v = st.get(col)
                if col not in row and isinstance(v, np.ndarray):
                    row[col] = v[i].item()
            rows.append(row)
    return rows


def stagewise_summary(stats: dict, results: dict) -> dict:
    out = {}
    for name, st in stats.items():
        c, res = st["contrast"], results[st["contrast"].name]
        sl = slice(c.orders - 1, c.orders) if name.endswith("_held_out") else slice(0, st["orders"])
        rot = st["rotation"]
        e = {"start_sae": res["start_sae"], "target_model": c.target, "rows": c.rows, "text": c.text,
             "reference": st["reference"],
             "orders": st["orders"], "steps": res["records"][0]["steps"],
             "tokens_per_order": res["records"][0]["tokens"],
             "rows_measured": res["rows_measured"],
             "fvu_start_sae_on_target": float(res["fvu_start_on_target"][sl].mean()),
             "fvu_after": float(res["fvu_after"][sl].mean()),
             "rotation_mean": float(rot.mean()), "rotation_median": float(np.median(rot)),
             "rotation_mean_per_order": [float(v) for v in np.asarray(st["rotation_per_order"]).mean(axis=1)],
             "rotation_reproducibility_r": reproducibility(st["rotation_per_order"])}
        if "rotation_null_mean" in st:
            per_order_excess = st["rotation_per_order"] - st["rotation_null_mean"][None, :]
            e.update(null_rotation_mean=float(st["rotation_null_mean"].mean()),
                     rotation_ratio_to_null=float(rot.mean() / max(st["rotation_null_mean"].mean(), 1e-12)),
                     excess_rotation_mean=float(st["rotation_excess"].mean()),
                     excess_reproducibility_r=reproducibility(per_order_excess),
                     flagged=int(st["flagged"].sum()), beyond_null_max=int((rot > st["rotation_null_max"]).sum()),
                     top_latents=[{"latent": int(j), "rotation": float(rot[j]),
                                   "excess": float(st["rotation_excess"][j]), "q": float(st["rotation_q"][j])}
                                  for j in np.argsort(-st["rotation_excess"], kind="stable")[:10]])
        if "rotation_minus_control" in st:
            d = st["rotation_minus_control"]
            e["domain_top_latents"] = [{"latent": int(j), "rotation_minus_control": float(d[j])}
                                       for j in np.argsort(-d, kind="stable")[:10]]
        out[name] = e
    return out


def two_by_two_summary(stats: dict) -> dict | None:
    """The 2x2 (model x data) in brief: each cell's mean rotation and excess over ``null_reference``, and how
    the per-latent rotations of the cells relate (is the model effect the data effect?)."""
    cells = ("null_reference", "data", "model", "both")
    if not all(c in stats for c in cells):
        return None

    def r(a: np.ndarray, b: np.ndarray) -> float | None:
        v = np.corrcoef(a, b)[0, 1]
        return float(v) if np.isfinite(v) else None

    rot = {c: stats[c]["rotation"] for c in cells}
    return {"rotation_mean": {c: float(v.mean()) for c, v in rot.items()},
            "excess_rotation_mean": {c: float(stats[c]["rotation_excess"].mean()) for c in cells[1:]},
            "r_model_vs_data": r(rot["model"], rot["data"]),
            "r_both_vs_model": r(rot["both"], rot["model"]), "r_both_vs_data": r(rot["both"], rot["data"]),
            "what": "cells: base or tuned model x reference- or target-domain documents' rows; rotation = 1 - decoder "
                    "cosine to the base SAE; excess over null_reference (base model, reference rows)"}


class StagewiseLens:
    """Stage-wise diffing (:mod:`featevo.stagewise`): stage 01's base SAE continued on another model's activations
    of the same tokens, per contrast and data order, against the same continued training on the start model's own
    activations (the null). Config: ``diffing.stagewise``; table: ``stagewise_latents.csv``."""

    name = LENS
    agreement_name = AGREEMENT_NAME
    label = "stage-wise"

    def fit(self, run) -> dict:
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
        sws = stagewise_summary(state["stats"], state["results"])
        for name, e in sws.items():
            e["latents"] = int(len(state["stats"][name]["rotation"]))
        return {"stagewise": sws, "two_by_two": two_by_two_summary(state["stats"])}

    def change(self, state: dict, part: str):
        st = state["stats"].get("planted" if part == "planted" else "tuned")
        return None if st is None else st["rotation_excess"]

    def codes(self, run, state: dict, acts: dict, part: str):
        from featevo.sae import encode

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

        stats = state["stats"]
        if "tuned" in stats:
            rotation_vs_null(stats["tuned"], stats.get("control"), stats.get("null_held_out"),
                             run.out / DiffingFiles.ROTATION_FIG)
