"""Stage 02 (``02_model_diffing``): model diffing that keeps feature identity, each lens against its null,
with the planted twin as positive control and the control twin as negative control.

The lenses are the entries of :data:`featevo.diffing_lenses.LENSES` (the :class:`featevo.diffing_lenses.Lens`
protocol): :func:`compute` fits each, writes its summary sections, scores it on the planted control, collects
its negative control, its flagged set as base SAE latents (lens agreement) and its claims. The built-in lenses:

* Stage-wise diffing (:mod:`featevo.stagewise`): stage 01's base SAE continued on another model's activations
  of the same tokens. Contrasts (start SAE -> activations): ``tuned`` (base -> tuned), ``control`` (base ->
  control twin), ``planted`` (tuned -> planted twin), each against its null: ``null`` (base -> base) and
  ``planted_null`` (tuned -> tuned), the same continued training on the start model's own activations with
  other data orders. With both domains in the corpus, the 2x2 (model x data) on the rows of the target-domain
  or reference-domain documents: ``null_reference`` (base model, reference rows), ``data`` (base, target),
  ``model`` (tuned, reference) and ``both`` (tuned, target), each against ``null_reference``.
* BatchTopK crosscoders (:mod:`featevo.crosscoder`) for (base, tuned), (base, control), (tuned, planted) and the
  null (base, base): relative decoder norm, decoder cosine, classes and Latent Scaling.
* Positive control (:mod:`featevo.planted_control`): per lens, the best latent for the planted tokens in
  held-out sentences, its AUROC and its rank in the lens's change ranking of the planted contrast, and the
  same for the main base-vs-tuned diff. The matching lens (stage 01's independent ``tuned`` and ``planted``
  SAEs, 1 - best decoder cosine) is scored beside them.

Outputs (:class:`featevo.layout.DiffingFiles`): ``stagewise/<contrast>_o<order>/sae`` and
``crosscoders/<a>_<b>/sae`` (sae-lens format), ``stagewise_latents.csv``, ``crosscoder_latents.csv``
(:data:`featevo.results.STAGEWISE_LATENTS`, :data:`featevo.results.CROSSCODER_LATENTS`), ``planted.json``,
``summary.json``, ``rotation_vs_null.png`` and ``relative_decoder_norm.png``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from featevo.progress import tqdm

from featevo.activations import ActivationStore, TokenTable
from featevo.config import PipelineConfig
from featevo.data import TARGET, REFERENCE, load_probe
from featevo.diffing_lenses import LENSES, PARTS, DiffingRun
from featevo.io import read_json
from featevo.layout import (
    DIFFING, TRAIN, DiffingFiles, TrainFiles, acts_dir, main_saes, model_keys, models,
    sae_dir, sae_work_dir, split_dir, stage_dir,
)
from featevo.results import (
    CROSSCODER_LATENTS, STAGEWISE_LATENTS, STAGEWISE_STATS, DiffingResult, load_models_info,
)
from featevo.runner import run_stage
from featevo.sae import encode, load_sae
from featevo.tables import Table
from featevo.stagewise import (
    RowSubsetStore, TensorStore, activity, against_null, continue_sae, flags, latent_change, rank_desc,
    reproducibility,
)

logger = logging.getLogger(__name__)

ALL_ROWS = "all"
PLANTED_AIM = {"rank_at_most": 3, "auroc_at_least": 0.9}


# --------------------------------------------------------------------------------------------
# Held-out rows
# --------------------------------------------------------------------------------------------
@dataclass
class Rows:
    """Aligned rows of every model for the per-latent statistics: stage 01's eval split, then its train split,
    ``diffing.max_tokens`` rows in all."""

    x: dict[str, torch.Tensor]
    domain: np.ndarray

    def select(self, key: str, rows: str) -> torch.Tensor:
        return self.x[key] if rows == ALL_ROWS else self.x[key][torch.from_numpy(self.domain == rows)]


@dataclass
class PlantedText:
    """Both twins' activations of the corpus with the plant applied (``diffing.planted_text``): training stores
    and the rows for the per-latent statistics."""

    stores: dict[str, ActivationStore]
    rows: Rows
    changed_docs: dict[str, int]
    planted_tokens: dict[str, int]


def planted_text(cfg: PipelineConfig, s1: Path, device) -> PlantedText:
    from featevo.models import load_model, load_tokenizer
    from featevo.planted_control import planted_split

    mdl = models(cfg)
    tok = load_tokenizer(mdl["base"])
    loaded = {k: load_model(mdl[k], head="none", device=device, dtype=cfg.harvest.dtype) for k in ("tuned", "planted")}
    h = cfg.harvest
    split = {sp: planted_split(s1, sp, dict(cfg.twin.planted), tok, loaded, h.layer, h.batch_size, h.max_length,
                               h.exclude_special_tokens, device, h.stride, h.max_windows) for sp in TrainFiles.SPLITS}
    n_eval = min(cfg.diffing.max_tokens, len(split["eval"][1]))
    n_train = min(cfg.diffing.max_tokens - n_eval, len(split["train"][1]))
    rows = Rows({k: torch.cat([split["eval"][0][k][:n_eval], split["train"][0][k][:n_train]]) for k in loaded},
                np.concatenate([split["eval"][1][:n_eval], split["train"][1][:n_train]]))
    logger.info("planted text: %d train and %d eval documents changed (%d and %d planted tokens); %d train rows",
                split["train"][2], split["eval"][2], split["train"][3], split["eval"][3], len(split["train"][1]))
    return PlantedText({k: TensorStore(split["train"][0][k]) for k in loaded}, rows,
                       {sp: split[sp][2] for sp in split}, {sp: split[sp][3] for sp in split})


def load_rows(s1: Path, keys: tuple[str, ...], max_tokens: int) -> Rows:
    parts = []
    left = max_tokens
    for split in TrainFiles.SPLITS[::-1]:  # eval first
        n = min(left, TokenTable(split_dir(s1, split)).n_rows)
        if n > 0:
            parts.append((split, n))
        left -= n
    x = {k: torch.cat([ActivationStore(acts_dir(s1, sp, k)).read_all(n) for sp, n in parts]) for k in keys}
    domain = np.concatenate([TokenTable(split_dir(s1, sp)).row_domains()[:n] for sp, n in parts])
    return Rows(x, domain)


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


# --------------------------------------------------------------------------------------------
# Positive control: the planted concept
# --------------------------------------------------------------------------------------------
def _best_cosine_change(sae_b, sae_a) -> np.ndarray:
    """1 - the best decoder cosine of each latent of ``sae_b`` to any latent of ``sae_a`` (matching lens)."""
    A = torch.nn.functional.normalize(sae_a.W_dec.detach().double().cpu(), dim=1)
    B = torch.nn.functional.normalize(sae_b.W_dec.detach().double().cpu(), dim=1)
    return (1.0 - (B @ A.T).max(dim=1).values).numpy()


def planted_control(run: DiffingRun, states: dict) -> dict:
    """Per lens of :data:`featevo.diffing_lenses.LENSES` (and the matching lens): the best latent for the planted
    tokens of held-out sentences, its AUROC and rank in the lens's ranking of the planted contrast (``planted``)
    and of the main base-vs-tuned diff (``main``)."""
    from featevo.models import load_model, load_tokenizer
    from featevo.planted_control import harvest_rows, planted_sentences, planted_tokens, score_lens

    cfg, s1, device = run.cfg, run.s1, run.device
    subs = dict(cfg.twin.planted)
    docs = planted_sentences(load_probe(cfg.data), subs)
    if not docs:
        return {"available": False, "reason": "no probe sentence contains a planted word"}
    mdl = models(cfg)
    tokens, is_planted = planted_tokens(load_tokenizer(mdl["base"]), docs, subs, cfg.harvest.max_length,
                                        cfg.harvest.exclude_special_tokens)
    acts = {}
    for key in ("base", "tuned", "planted"):
        model = load_model(mdl[key], head="none", device=device, dtype=cfg.harvest.dtype)
        acts[key] = harvest_rows(model, tokens, cfg.harvest.layer, cfg.harvest.batch_size, device, f"planted {key}")
        del model
    lenses = {}
    for name, lens in LENSES.items():
        change = {part: lens.change(states[name], part) for part in PARTS}
        if any(v is None for v in change.values()):
            continue
        lenses[name] = {part: score_lens(lens.codes(run, states[name], acts, part), is_planted, change[part],
                                         lens.statistic(part)) for part in PARTS}

    def z(sae, *xs):
        return encode(sae, torch.cat(xs, 1)).numpy()

    sae = {m: load_sae(sae_dir(s1, main_saes(cfg, m)[0]), device) for m in ("base", "tuned", "planted")}
    lenses["matching"] = {
        "planted": score_lens(z(sae["planted"], acts["planted"]), is_planted,
                              _best_cosine_change(sae["planted"], sae["tuned"]),
                              "1 - best decoder cosine of the planted SAE's latent to the tuned SAE's"),
        "main": score_lens(z(sae["tuned"], acts["tuned"]), is_planted, _best_cosine_change(sae["tuned"], sae["base"]),
                           "1 - best decoder cosine of the tuned SAE's latent to the base SAE's")}
    for lens, r in lenses.items():
        p = r["planted"]
        p["meets_aim"] = p["rank"] <= PLANTED_AIM["rank_at_most"] and p["auroc"] >= PLANTED_AIM["auroc_at_least"]
        logger.info("planted concept, %s: best latent %d, AUROC %.3f, rank %d of %d in the planted contrast; in the "
                    "main diff best latent %d (AUROC %.3f) ranks %d", lens, p["best_latent"], p["auroc"], p["rank"],
                    p["n_latents"], r["main"]["best_latent"], r["main"]["auroc"], r["main"]["rank"])
    return {"available": True, "substitutions": subs, "sentences": len(docs), "rows": int(len(is_planted)),
            "planted_rows": int(is_planted.sum()), "aim": PLANTED_AIM, "lenses": lenses,
            "definitions": {
                "sentences": "probe target-domain sentences containing a planted key word, with the substitution "
                             "applied",
                "planted_rows": "token positions of the replacement word's pieces; AUROC against every other kept "
                                "position of the same sentences",
                "best_latent": "the lens's latent with the highest AUROC (its activations on the lens's own inputs)",
                "rank": "rank of that latent in the lens's change statistic (1 = most changed)",
                "first_recovering_latent": "the first latent down the lens's ranking whose AUROC reaches "
                                           f"{PLANTED_AIM['auroc_at_least']}",
                "planted": "the planted-vs-unplanted contrast (tuned -> planted twin)",
                "main": "the main base-vs-tuned diff, whose models never saw the planted word in training"}}


# --------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------
def _clean(obj):
    """``obj`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 02_model_diffing (needs stage 01); returns the stage folder."""
    return run_stage(cfg, DIFFING, compute, force)


def compute(cfg: PipelineConfig, out_dir: Path) -> DiffingResult:
    """Stage 02_model_diffing into ``out_dir`` (the runner checks its upstream and commits): every lens of
    :data:`featevo.diffing_lenses.LENSES` fitted, summarised, scored on the planted control and its claims made;
    returns the result."""
    from featevo.models import resolve_device

    device = resolve_device(cfg.device)
    s1, keys, dc = stage_dir(cfg, TRAIN), model_keys(cfg), cfg.diffing
    timings, t0 = {}, time.time()
    rows = load_rows(s1, keys, dc.max_tokens)
    train_domain = TokenTable(split_dir(s1, "train")).row_domains()
    has_domains = bool(np.isin([TARGET, REFERENCE], train_domain).all())
    ptext = planted_text(cfg, s1, device) if "planted" in keys and dc.planted_text else None
    run = DiffingRun(cfg, s1, out_dir, rows, train_domain, has_domains, ptext, keys, device)
    states, summary = {}, {}
    for name, lens in LENSES.items():
        t = time.time()
        states[name] = lens.fit(run)
        summary.update(lens.summary(run, states[name]))
        timings[f"{name}_s"] = round(time.time() - t, 1)
    t2 = time.time()
    planted = (planted_control(run, states) if "planted" in keys
               else {"available": False, "reason": "no planted twin (twin.planted is empty)"})
    timings["planted_s"] = round(time.time() - t2, 1)
    for name, lens in LENSES.items():
        lens.figures(run, states[name])
    summary["negative_control"] = {name: nc for name, lens in LENSES.items()
                                   if (nc := lens.negative_control(run, states[name], summary)) is not None}
    summary.update({
        "planted": {lens: {part: {k: r[part][k] for k in ("best_latent", "auroc", "rank", "n_latents",
                                                          "first_recovering_latent")}
                           for part in ("planted", "main")} for lens, r in planted.get("lenses", {}).items()},
        "planted_text": None if ptext is None else {"changed_docs": ptext.changed_docs,
                                                    "planted_tokens": ptext.planted_tokens},
        "rows_measured": int(len(rows.domain)), "timings": {**timings, "total_s": round(time.time() - t0, 1)}})
    summary = _clean(summary)
    summary["lens_sets"] = lens_sets(run, states)
    summary["claims"] = diffing_claims(summary, dc.alpha)
    tables = {name: lens.table(states[name]) for name, lens in LENSES.items()}
    result = DiffingResult(summary, _clean(planted),
                           *(tables.get(k) if tables.get(k) is not None else Table(schema, [])
                             for k, schema in (("stagewise", STAGEWISE_LATENTS), ("crosscoder", CROSSCODER_LATENTS))))
    result.save(out_dir)
    return result


def diffing_claims(summary: dict, alpha: float) -> list[dict]:
    """The stage's claims, each with its lens and role: every lens's counts against its null (lens order)."""

    return [c for lens in LENSES.values() for c in lens.claims(summary, alpha)]


def lens_sets(run: DiffingRun, states: dict) -> dict:
    """Every lens's flagged set as base SAE latents (for lens agreement, :func:`featevo.lenses.lens_agreement`),
    out of the base SAE's latents."""
    from featevo.lenses import decoder

    w = decoder(sae_dir(run.s1, main_saes(run.cfg, "base")[0]) / TrainFiles.SAE_WEIGHTS)
    return {"n_latents": 0 if w is None else int(w.shape[0]),
            "lenses": {lens.agreement_name: lens.flagged_base_latents(run, states[name])
                       for name, lens in LENSES.items()}}
