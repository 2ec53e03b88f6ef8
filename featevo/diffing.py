"""Stage 02 (``02_model_diffing``): model diffing that keeps feature identity, each lens against its null,
with the planted twin as positive control and the control twin as a comparison (a real change, not a null).

The lenses are the entries of :data:`featevo.diffing_lenses.LENSES` (the :class:`featevo.diffing_lenses.Lens`
protocol): :func:`compute` fits each, writes its summary sections, scores it on the planted control, collects
its negative control, its flagged set as base SAE latents (lens agreement) and its claims. The built-in lenses:

* Stage-wise diffing (:mod:`featevo.diffing_lenses.stagewise` over :mod:`featevo.stagewise`): stage 01's base SAE
  continued on another model's activations of the same tokens. Contrasts (start SAE -> activations): ``tuned`` (base
  -> tuned), ``control`` (base -> control twin), ``planted`` (tuned -> planted twin), each against its null: ``null``
  (base -> base) and ``planted_null`` (tuned -> tuned), the same continued training on the start model's own
  activations with other data orders. With both domains in the corpus, the 2x2 (model x data) on the rows of the
  target-domain or reference-domain documents: ``null_reference`` (base model, reference rows), ``data`` (base,
  target), ``model`` (tuned, reference) and ``both`` (tuned, target), each against ``null_reference``.
* BatchTopK crosscoders (:mod:`featevo.diffing_lenses.crosscoder` over :mod:`featevo.crosscoder`) for (base, tuned),
  (base, control), (tuned, planted) and the null (base, base): relative decoder norm, decoder cosine, classes and
  Latent Scaling.
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
from pathlib import Path

import numpy as np
import torch

from featevo.activations import TokenTable
from featevo.config import PipelineConfig
from featevo.data import TARGET, REFERENCE, load_probe
from featevo.diffing_lenses import LENSES, PARTS, DiffingRun
from featevo.diffing_lenses.rows import load_rows, planted_text
from featevo.layout import DIFFING, TRAIN, TrainFiles, main_saes, model_keys, models, sae_dir, split_dir, stage_dir
from featevo.results import CROSSCODER_LATENTS, STAGEWISE_LATENTS, DiffingResult
from featevo.runner import run_stage
from featevo.sae import encode, load_sae
from featevo.tables import Table

logger = logging.getLogger(__name__)

PLANTED_AIM = {"rank_at_most": 3, "rule": "change"}


# --------------------------------------------------------------------------------------------
# Positive control: the planted concept
# --------------------------------------------------------------------------------------------
def _best_cosine_change(sae_b, sae_a) -> np.ndarray:
    """1 - the best decoder cosine of each latent of ``sae_b`` to any latent of ``sae_a`` (matching lens)."""
    A = torch.nn.functional.normalize(sae_a.W_dec.detach().double().cpu(), dim=1)
    B = torch.nn.functional.normalize(sae_b.W_dec.detach().double().cpu(), dim=1)
    return (1.0 - (B @ A.T).max(dim=1).values).numpy()


SWAP = {"planted": ("planted", "tuned"), "main": ("tuned", "base")}
"""Per part, (the model that changed, the model it changed from): a lens's change codes on identical tokens are
its codes of the real activations minus its codes with the first model's activations replaced by the second's."""


def _change_codes(lens, state, run, acts: dict, part: str, instead: str | None = None) -> np.ndarray:
    """The lens's per-token activation change of ``part`` on identical tokens, under its own dictionary (with
    ``instead``: the changed model's activations replaced by that model's, e.g. the replica for the null)."""
    after, before = SWAP[part]
    changed = acts if instead is None else {**acts, after: acts[instead]}
    return lens.codes(run, state, changed, part) - lens.codes(run, state, {**acts, after: acts[before]}, part)


def planted_control(run: DiffingRun, states: dict) -> dict:
    """Per lens of :data:`featevo.diffing_lenses.LENSES` (and the matching lens): the planted change scored on
    change (:data:`featevo.planted_control.CHANGE_RULE`): the latent whose activation change on identical tokens best
    separates the planted positions of held-out sentences, and its rank in the lens's ranking of the planted
    contrast (``planted``) and, as a false-positive check, of the main base-vs-tuned diff (``main``); the same rule
    on the replica (twin-seed noise) when there is one; and whether the plant is real at the hooked layer."""
    from featevo.data import cluster_ids
    from featevo.layout import replica_models
    from featevo.models import load_model, load_tokenizer
    from featevo.planted_control import CHANGE_RULE, harvest_rows, plant_strength, planted_sentences, \
        planted_tokens, score_change

    cfg, device = run.cfg, run.device
    subs = dict(cfg.twin.planted)
    docs = planted_sentences(load_probe(cfg.data), subs)
    if not docs:
        return {"available": False, "reason": "no probe sentence contains a planted word"}
    mdl = {**models(cfg), **replica_models(cfg)}
    tokens, is_planted = planted_tokens(load_tokenizer(mdl["base"]), docs, subs, cfg.harvest.max_length,
                                        cfg.harvest.exclude_special_tokens)
    row_sentence = tokens["keep_mask"].nonzero(as_tuple=False)[:, 0].numpy()
    acts = {}
    for key in [k for k in ("base", "tuned", "planted", "replica") if k in mdl]:
        model = load_model(mdl[key], head="none", device=device, dtype=cfg.harvest.dtype)
        acts[key] = harvest_rows(model, tokens, cfg.harvest.layer, cfg.harvest.batch_size, device, f"planted {key}")
        del model
    strength = plant_strength(acts, is_planted, row_sentence, np.array(cluster_ids(docs)), 1000, cfg.seed + 6101)

    def score(lens, state, change: dict, statistic) -> dict:
        return {part: score_change(_change_codes(lens, state, run, acts, part), is_planted, change[part],
                                   statistic(part),
                                   _change_codes(lens, state, run, acts, part, "replica")
                                   if part == "planted" and "replica" in acts else None) for part in PARTS}

    lenses = {}
    for name, lens in LENSES.items():
        change = {part: lens.change(states[name], part) for part in PARTS}
        if all(v is not None for v in change.values()):
            lenses[name] = score(lens, states[name], change, lens.statistic)
    matching = _MatchingCodes(run)  # loads the three SAEs once
    lenses["matching"] = score(matching, None, matching.change(), _MatchingCodes.statistic)
    for lens, r in lenses.items():
        p = r["planted"]
        p["meets_aim"] = p["rank"] <= PLANTED_AIM["rank_at_most"]
        logger.info("planted change, %s: true latent %d (AUROC of its change %.3f) ranks %d of %d in the planted "
                    "contrast (p = %.3g against a random ranking); in the main diff its rule's latent ranks %d", lens,
                    p["best_latent"], p["auroc"], p["rank"], p["n_latents"], p["p_rank"], r["main"]["rank"])
    logger.info("plant strength at the hooked layer: planted positions %.3f (elsewhere %.3f) relative change; "
                "replica %s", strength["planted_positions"], strength["elsewhere"],
                "none" if strength.get("replica") is None else f"{strength['replica']['planted_positions']:.3f}")
    return {"available": True, "substitutions": subs, "sentences": len(docs), "rows": int(len(is_planted)),
            "planted_rows": int(is_planted.sum()), "aim": PLANTED_AIM, "rule": CHANGE_RULE, "lenses": lenses,
            "plant_strength": strength,
            "definitions": {
                "sentences": "probe target-domain sentences containing a planted key word, with the substitution "
                             "applied",
                "planted_rows": "token positions of the replacement word's pieces; AUROC against every other kept "
                                "position of the same sentences",
                "best_latent": "the latent whose activation change (planted twin minus tuned twin, identical tokens, "
                               "the lens's dictionary) has the highest AUROC for the planted positions",
                "rank": "rank of that latent in the lens's change statistic (1 = most changed)",
                "p_rank": "rank / latents: the chance that a random ranking puts it this high",
                "planted": "the planted-vs-unplanted contrast (tuned -> planted twin)",
                "main": "the main base-vs-tuned diff, whose models never saw the planted word in training",
                "plant_strength": "relative change of the hooked layer's activations at planted positions, planted "
                                  "twin vs tuned twin, against the replica vs tuned twin (twin-seed noise)"}}


class _MatchingCodes:
    """The matching lens on the planted control: each model's own stage 01 SAE (replicate 0); the planted SAE is
    the dictionary of the planted part, the tuned SAE that of the main part."""

    def __init__(self, run: DiffingRun):
        self.run = run
        self.sae = {m: load_sae(sae_dir(run.s1, main_saes(run.cfg, m)[0]), run.device)
                    for m in ("base", "tuned", "planted")}

    def codes(self, run, state, acts: dict, part: str) -> np.ndarray:
        m = SWAP[part][0]
        return encode(self.sae[m], acts[m]).numpy()

    def change(self) -> dict:
        return {"planted": _best_cosine_change(self.sae["planted"], self.sae["tuned"]),
                "main": _best_cosine_change(self.sae["tuned"], self.sae["base"])}

    @staticmethod
    def statistic(part: str) -> str:
        return ("1 - best decoder cosine of the planted SAE's latent to the tuned SAE's" if part == "planted"
                else "1 - best decoder cosine of the tuned SAE's latent to the base SAE's")


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
    return run_stage(cfg, DIFFING, compute, force, check=check)


def check(cfg: PipelineConfig) -> None:
    """Every lens's config checks (a lens's optional ``check``), before the stage starts."""
    for lens in LENSES.values():
        if hasattr(lens, "check"):
            lens.check(cfg)


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
        "planted": {lens: {part: {k: r[part].get(k) for k in ("best_latent", "auroc", "rank", "n_latents",
                                                              "p_rank")}
                           for part in ("planted", "main")} for lens, r in planted.get("lenses", {}).items()},
        "planted_text": None if ptext is None else {"changed_docs": ptext.changed_docs,
                                                    "planted_tokens": ptext.planted_tokens},
        "rows_measured": int(len(rows.domain)), "timings": {**timings, "total_s": round(time.time() - t0, 1)}})
    summary["lenses"] = {name: {"label": getattr(lens, "label", name), "description": getattr(lens, "description", "")}
                         for name, lens in LENSES.items()}
    summary = _clean(summary)
    summary["lens_sets"] = lens_sets(run, states)
    summary["claims"] = diffing_claims(summary, dc.alpha)
    tables = {name: lens.table(states[name]) for name, lens in LENSES.items()}
    result = DiffingResult(summary, _clean(planted),
                           *(tables.get(k) if tables.get(k) is not None else Table(schema, [])
                             for k, schema in (("stagewise", STAGEWISE_LATENTS), ("crosscoder", CROSSCODER_LATENTS))))
    result.save(out_dir)
    for name, lens in LENSES.items():  # a lens's own table (the built-in two are the result's)
        if getattr(lens, "schema", None) is not None and tables.get(name) is not None:
            lens.schema.write(out_dir, tables[name])
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
