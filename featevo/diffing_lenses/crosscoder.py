"""The crosscoder lens of ``02_model_diffing``: its claims (model-specific latents against the base~base null).

Per crosscoder pair a~b (base~tuned; base~control, a comparison: the same recipe on reference-domain text;
tuned~planted as positive control), the count of b-only latents confirmed by Latent Scaling is set against the same
count of every null crosscoder (base~base: one model twice, where every model-specific latent is a training artefact).
The unit is the crosscoder, what was trained: p = (1 + null crosscoders with at least as many) / (1 + null
crosscoders) (:func:`featevo.claims.run_claim`); with one null crosscoder its smallest attainable value is 1/2, so the
counts are descriptive numbers there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from featevo.activations import ActivationStore
from featevo.claims import run_claim
from featevo.config import PipelineConfig
from featevo.diffing_lenses.rows import PlantedText, Rows
from featevo.layout import DiffingFiles, TrainFiles, acts_dir, model_keys
from featevo.progress import tqdm
from featevo.results import load_models_info
from featevo.sae import load_sae
from featevo.stagewise import rank_desc

logger = logging.getLogger(__name__)

LENS = "crosscoder"
PAIRS = ("base~tuned", "base~control", "tuned~planted")
"""The pairs set against the null, in claim order."""
NULL_PAIR = "base~base"
ROLE = {"control": "comparison", "planted": "positive_control"}
"""Second model of a pair -> the role of its claim (the others: ``claim``)."""


def claims(ccs: dict, alpha: float) -> list[dict]:
    """One claim per pair of :data:`PAIRS` that ran, when the null pair ran too (``ccs``: the crosscoder summary)."""
    null = ccs.get(NULL_PAIR)
    out = []
    for p in PAIRS:
        if p not in ccs or not isinstance(null, dict):
            continue
        b = ccs[p].get("model_b", p.split("~")[1])
        c = run_claim(f"crosscoder_confirmed:{p}",
                      f"the {p} crosscoder has more {b}-specific latents than the base~base null",
                      f"the {p} crosscoder has no more {b}-specific latents than the base~base null",
                      ccs[p].get("b_only_confirmed"), [null.get("b_only_confirmed")], alpha, stat="b_only_confirmed",
                      unit="crosscoder", lens=LENS, role=ROLE.get(p.split("~")[1], "claim"))
        c["observed"]["count"], c["null"]["count"] = ccs[p].get("b_only_confirmed"), null.get("b_only_confirmed")
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


def crosscoder_rows(cc: dict) -> list[dict]:
    """One row of :data:`featevo.results.CROSSCODER_LATENTS` per crosscoder latent of every pair."""
    from featevo.results import CROSSCODER_LATENTS

    rows = []
    for name, r in cc.items():
        t = r["table"]
        for i in range(len(t["rho"])):
            row = {"pair": name, "model_a": r["a"], "model_b": r["b"], "text": r["text"], "latent": i}
            for col in CROSSCODER_LATENTS.fields:
                if col not in row:
                    row[col] = t[col][i].item() if hasattr(t[col][i], "item") else t[col][i]
            rows.append(row)
    return rows


def crosscoder_summary(cc: dict) -> dict:
    """Per pair: training record, FVU, L0, class counts (confirmed by Latent Scaling), rho quantiles."""
    out = {}
    for name, r in cc.items():
        t, cls = r["table"], r["table"]["class"]
        hist, edges = np.histogram(t["rho"], bins=20, range=(0.0, 1.0))
        out[name] = {
            "model_a": r["a"], "model_b": r["b"], "text": r["text"],
            **{k: r["record"][k] for k in ("steps", "tokens", "threshold", "activation_scales")},
            "fvu": t["fvu"], "l0": t["l0"], "dead_latents": int((t["firing_frequency"] == 0).sum()),
            "a_only": int((cls == "a-only").sum()), "b_only": int((cls == "b-only").sum()),
            "shared": int((cls == "shared").sum()),
            "b_only_confirmed": int((t["confirmed"] & (cls == "b-only")).sum()),
            "a_only_confirmed": int((t["confirmed"] & (cls == "a-only")).sum()),
            "rho_quantiles": {q: float(np.quantile(t["rho"], float(q)))
                              for q in ("0.05", "0.25", "0.5", "0.75", "0.95")},
            "rho_histogram": {"edges": edges.round(3).tolist(), "counts": hist.tolist()},
            "shared_cosine_median": float(np.median(t["cosine"][cls == "shared"])) if (cls == "shared").any() else None,
        }
    return out


# --------------------------------------------------------------------------------------------
# Crosscoders
# --------------------------------------------------------------------------------------------
def crosscoder_pairs(cfg: PipelineConfig, keys: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = [("base", "tuned")]
    if "control" in keys:
        pairs.append(("base", "control"))
    if "planted" in keys:
        pairs.append(("tuned", "planted"))
    if cfg.diffing.crosscoder.null_pair:
        pairs.append(("base", "base"))
    return pairs


def pair_name(a: str, b: str) -> str:
    return f"{a}~{b}"


def crosscoder_dir(out: Path, a: str, b: str) -> Path:
    return out / DiffingFiles.CROSSCODERS / f"{a}_{b}" / TrainFiles.SAE


def run_crosscoders(cfg: PipelineConfig, s1: Path, out: Path, rows: Rows, device,
                    ptext: PlantedText | None = None) -> dict[str, dict]:
    """Train (or resume) every crosscoder and compute its per-latent table over the held-out rows."""
    from featevo.crosscoder import latent_table, train_crosscoder

    dc, keys = cfg.diffing.crosscoder, model_keys(cfg)
    info = load_models_info(s1)
    d_in = info["base"]["d_in"]
    n = dc.num_latents or cfg.sae.resolve_num_latents(d_in)
    k = dc.k or cfg.sae.k
    res = {}
    for i, (a, b) in enumerate(tqdm(crosscoder_pairs(cfg, keys), desc="crosscoders", unit="pair")):
        text = "planted" if ptext is not None and (a, b) == ("tuned", "planted") else "corpus"
        stores = (ptext.stores[a], ptext.stores[b]) if text == "planted" else (
            ActivationStore(acts_dir(s1, "train", a)), ActivationStore(acts_dir(s1, "train", b)))
        src = ptext.rows if text == "planted" else rows
        rec = train_crosscoder(
            *stores, (a, b), n, k,
            dc.tokens, cfg.sae.batch_size, dc.lr, cfg.sae.aux_loss_coefficient,
            cfg.sae.dead_window_tokens, cfg.seed + 4241 + i, crosscoder_dir(out, a, b).parent, device,
            hook_name=info["base"]["hookpoint"], desc=f"crosscoder {a}~{b}")
        sae = load_sae(crosscoder_dir(out, a, b), device)
        table = latent_table(sae, src.x[a], src.x[b], dc.model_only_threshold, dc.latent_scaling_max_ratio)
        table["rank_rho"] = rank_desc(table["rho"])
        res[pair_name(a, b)] = {"a": a, "b": b, "text": text, "record": rec, "table": table}
        cls = table["class"]
        logger.info("crosscoder %s~%s: FVU %.3f, L0 %.1f; %d %s-only, %d %s-only (%d confirmed by Latent Scaling), "
                    "%d shared; median rho %.3f", a, b, table["fvu"], table["l0"], int((cls == "a-only").sum()), a,
                    int((cls == "b-only").sum()), b, int((table["confirmed"] & (cls == "b-only")).sum()),
                    int((cls == "shared").sum()), float(np.median(table["rho"])))
    return res


class CrosscoderLens:
    """BatchTopK crosscoders (:mod:`featevo.crosscoder`) for (base, tuned), (base, control), (tuned, planted) and the
    null (base, base): relative decoder norm, decoder cosine, classes and Latent Scaling. Config:
    ``diffing.crosscoder``; table: ``crosscoder_latents.csv``."""

    name = LENS
    agreement_name = AGREEMENT_NAME
    label = "crosscoder"
    PLANTED_PAIRS = {"planted": ("tuned", "planted"), "main": ("base", "tuned")}

    def fit(self, run) -> dict:
        from featevo.results import CROSSCODER_LATENTS
        from featevo.tables import Table

        cc = run_crosscoders(run.cfg, run.s1, run.out, run.rows, run.device, run.ptext)
        return {"cc": cc, "table": Table(CROSSCODER_LATENTS, crosscoder_rows(cc))}

    def table(self, state: dict):
        return state["table"]

    def summary(self, run, state: dict) -> dict:
        return {"crosscoder": crosscoder_summary(state["cc"])}

    def change(self, state: dict, part: str):
        a, b = self.PLANTED_PAIRS[part]
        r = state["cc"].get(f"{a}~{b}")
        return None if r is None or "tuned~planted" not in state["cc"] else r["table"]["rho"]

    def codes(self, run, state: dict, acts: dict, part: str):
        import torch

        from featevo.sae import encode

        a, b = self.PLANTED_PAIRS[part]
        return encode(load_sae(crosscoder_dir(run.out, a, b), run.device), torch.cat([acts[a], acts[b]], 1)).numpy()

    def statistic(self, part: str) -> str:
        return "rho toward planted" if part == "planted" else "rho toward tuned"

    def negative_control(self, run, state: dict, summary: dict) -> dict:
        ccs = summary["crosscoder"]

        def get(name: str):
            return ccs[name]["b_only_confirmed"] if name in ccs else None

        return {"tuned": get("base~tuned"), "control": get("base~control"), "null": get(NULL_PAIR),
                "what": "b-only latents (rho >= 1 - model_only_threshold) confirmed by Latent Scaling (both nu ratios "
                        "<= latent_scaling_max_ratio)",
                "null_expects": 0,
                "null_expects_what": "null: the same count for the base model paired with itself (b is a copy of a), "
                                     "where every model-specific latent is a training artefact"}

    def flagged_base_latents(self, run, state: dict) -> dict:
        from featevo.layout import main_saes, sae_dir

        base = sae_dir(run.s1, main_saes(run.cfg, "base")[0]) / TrainFiles.SAE_WEIGHTS
        return flagged_base_latents(state["table"], crosscoder_dir(run.out, "base", "tuned") / TrainFiles.SAE_WEIGHTS,
                                    base)

    def claims(self, summary: dict, alpha: float) -> list[dict]:
        return claims(summary.get("crosscoder") or {}, alpha)

    def figures(self, run, state: dict) -> None:
        from featevo.diffing_figures import rho_histograms

        if state["cc"]:
            rho_histograms({n: r["table"]["rho"] for n, r in state["cc"].items()},
                           run.cfg.diffing.crosscoder.model_only_threshold, run.out / DiffingFiles.RHO_FIG)
