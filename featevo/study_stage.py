"""Stage 03_study: the study reproduced as published, on this run's SAEs and probe set, beside its baselines and
the corrected answer.

The study is "Neural Feature Evolution in Domain Adaptation: A Comprehensive Analysis of BERT to FinBERT
Fine-tuning" (tatsath/InterpUseCases, UseCase_BERTvsFinBERT). Its procedure (:mod:`featevo.study`) runs here on the
configured probe set (``data.probe``) and this run's SAEs: base vs tuned (the study's comparison), base vs another
seed of base (``base_seed1``: the same-model baseline, when ``sae.seeds > 1``) and base vs the control twin's SAE
(when the run has a control twin). Like the study it reads the layer one block below the SAE's hookpoint
(``hidden_states[layer]``, the output of block ``layer - 1``) and encodes with ``ReLU(W_enc x + b_enc)``.

Outputs (``outputs/<run>/03_study/``, :class:`featevo.layout.StudyFiles`): the study's published tables recomputed by
its procedure for each comparison (top-20 table, emerging features, per-latent table, summary with the checks, the
activation-count delta ranking), its headline numbers beside the published ones and the baselines, the ladder of
corrections (:mod:`featevo.study_ladder`), the four-panel figure in the study's layout by its procedure and after
every correction, and ``summary.json`` with the stage's claims (lens ``study``, role ``check``) and the corrected
answer quoted, not recomputed, from stages 02_compare_features and 03_activation_deltas.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import torch

from featevo.activations import TokenTable, iter_layer_rows, tokenize_docs
from featevo.claims import pvalue_claim, value_claim
from featevo.config import PipelineConfig
from featevo.errors import ConfigError
from featevo.data import REFERENCE, TARGET, cluster_ids, load_probe
from featevo.io import load_manifest, read_json
from featevo.layout import (
    COMPARE, DELTAS, STUDY, TRAIN, CompareFiles, DeltasFiles, StudyFiles, model_keys,
    models as run_models, sae_dir, sae_specs, split_dir, stage_dir,
)
from featevo.results import CompareResult
from featevo.runner import run_stage
from featevo.stats import cluster_bootstrap_weights
from featevo.study import activation_counts, count_delta_ranking, mean_pool, study_block, study_checks, study_encode
from featevo.study_ladder import (
    CONTROL, ENCODE, LAYER, SEED, SPECIAL, STUDY as AS_PUBLISHED, TUNED, change_summary, emerging_table,
    ladder_rows, latent_table, top_table,
)
from featevo.study_results import StudyResult

logger = logging.getLogger(__name__)

LENS = "study"
PUBLISHED = {
    "new_fraction": 0.75, "consistent": 2, "n_up": 102, "n_down": 98, "mean_change": 0.006, "max_change": 0.927,
    "max_change_latent": 127, "corr_fin_gen_change": 0.80, "top_more_on_general": 12,
    "top5_deltas": [69679, 63242, 59306, 50704, 49211], "specialist_firing_rate": [0.46, 0.54],
}
"""The study's published numbers (its BERT vs FinBERT run), quoted for reference beside this run's."""
CORRECTED_CLAIMS = (
    (COMPARE, CompareFiles.SUMMARY, "matched_fraction:fine-tuning_vs_seed"),
    (DELTAS, DeltasFiles.SUMMARY, "domain_specific_change"),
    (DELTAS, DeltasFiles.SUMMARY, "target_specific_beyond_control"),
    (DELTAS, DeltasFiles.SUMMARY, "target_latents:tuned_vs_control"),
)
"""featevo's own answer to the study's question, quoted from the stages that made it (stage, file, claim id); the
report adds the fixed-dictionary lens's claims of 02_model_diffing (an optional stage this one does not read)."""


def comparisons(cfg: PipelineConfig) -> dict[str, tuple[str, str]]:
    """The study's comparison (tuned) and its baselines this run has: comparison -> (SAE a, SAE b)."""
    names = set(sae_specs(cfg))
    out = {TUNED: ("base", "tuned")}
    if "base_seed1" in names:
        out[SEED] = ("base", "base_seed1")
    if "control" in model_keys(cfg) and "control" in names:
        out[CONTROL] = ("base", "control")
    return out


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------
def _rows(model, tokens: dict, block: int, cfg: PipelineConfig, device, desc: str) -> torch.Tensor:
    return torch.cat(list(iter_layer_rows(model, tokens, block, cfg.harvest.batch_size, device, desc=desc,
                                          progress=False)))


def _eval_tokens(cfg: PipelineConfig) -> dict:
    """The first ``study.count_windows`` windows of stage 01's eval split, every non-padding position kept (the
    study counted every token position, special tokens included)."""
    tt = TokenTable(split_dir(stage_dir(cfg, TRAIN), "eval"))
    w = cfg.study.count_windows
    attn = tt.attention_mask[:w]
    return {"input_ids": tt.input_ids[:w], "attention_mask": attn, "keep_mask": attn.clone()}


def activations(cfg: PipelineConfig, docs: list, saes: dict[str, str], device) -> tuple[dict, dict, int]:
    """Per (variant, SAE): per-sentence pooled activations of the probe [sentences, d] (variants of
    :data:`featevo.study_ladder.VARIANTS`); per SAE: the study's activation counts on the eval windows; and the
    positions counted. ``saes``: SAE name -> model key."""
    from featevo.models import load_model, load_tokenizer
    from featevo.sae import encode, load_sae

    models = run_models(cfg)
    tok = load_tokenizer(models["base"])
    layer = cfg.harvest.layer
    block = study_block(layer)
    tokens = tokenize_docs(tok, docs, cfg.harvest.max_length, exclude_special_tokens=False)
    plain = tokenize_docs(tok, docs, cfg.harvest.max_length, exclude_special_tokens=True)["keep_mask"]
    keep = tokens["keep_mask"]
    row_doc = keep.nonzero(as_tuple=False)[:, 0].numpy()
    not_special = plain[keep].numpy()
    ev = _eval_tokens(cfg)
    n_pos = int(ev["keep_mask"].sum())
    s1 = stage_dir(cfg, TRAIN)
    pooled, counts = {}, {}
    n = len(docs)
    for mkey in dict.fromkeys(saes.values()):
        model = load_model(models[mkey], head="none", device=device, dtype=cfg.harvest.dtype)
        x_study = _rows(model, tokens, block, cfg, device, f"study {mkey} block {block}")
        x_right = _rows(model, tokens, layer, cfg, device, f"study {mkey} block {layer}")
        x_eval = _rows(model, ev, block, cfg, device, f"study counts {mkey}")
        del model
        for name in (s for s, m in saes.items() if m == mkey):
            sae = load_sae(sae_dir(s1, name), device="cpu")
            W, b = sae.W_enc.detach().cpu().numpy(), sae.b_enc.detach().cpu().numpy()
            pooled[(AS_PUBLISHED, name)] = mean_pool(study_encode(W, b, x_study.numpy()), row_doc, n)
            pooled[(LAYER, name)] = mean_pool(study_encode(W, b, x_right.numpy()), row_doc, n)
            z = encode(sae, x_right).numpy()
            pooled[(ENCODE, name)] = mean_pool(z, row_doc, n)
            pooled[(SPECIAL, name)] = mean_pool(z, row_doc, n, keep=not_special)
            counts[name] = activation_counts(study_encode(W, b, x_eval.numpy()), cfg.study.count_threshold)
    return pooled, counts, n_pos


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def partners(s2r: CompareResult, pairs: dict[str, tuple[str, str]]) -> dict[str, dict[int, int] | None]:
    """Per comparison: stage 02's matched pairs (shared or shifted) as latent of a -> latent of b (None: stage 02
    has no such comparison)."""
    have = set(r["comparison"] for r in s2r.all_pairs)
    out: dict[str, dict[int, int] | None] = {}
    for comp, (a, b) in pairs.items():
        cid = f"{a}~{b}"
        mp = s2r.matched(cid) if cid in have else None
        out[comp] = None if mp is None else {int(i): int(j) for i, j in zip(mp.a, mp.b)}
    return out


def study_tables(pooled: dict, is_target: np.ndarray, pairs: dict, partner: dict, pair_class: dict,
                 cfg: PipelineConfig) -> dict[str, list[dict]]:
    """The study's published tables, by its procedure, for each comparison."""
    out: dict[str, list[dict]] = {"latents": [], "top": [], "emerging": [], "change_summary": []}
    for comp, (a, b) in pairs.items():
        rows = latent_table(pooled[(AS_PUBLISHED, a)], pooled[(AS_PUBLISHED, b)], is_target, cfg.study.top_n)
        p = partner.get(comp) or {}
        for r in rows:
            j = p.get(r["latent"])
            r.update(comparison=comp, partner=j, partner_class=pair_class.get((comp, r["latent"])))
        out["latents"] += rows
        out["top"] += [{"comparison": comp, **r} for r in top_table(rows, cfg.study.top_n)]
        out["emerging"] += [{"comparison": comp, **r} for r in emerging_table(rows, cfg.study.emerging_n)]
        top_b = [r["latent"] for r in sorted(rows, key=lambda r: (-r["tuned_fin"], r["latent"]))[: cfg.study.top_n]]
        checks = study_checks(np.array([r["change"] for r in rows]), np.array([r["gen_change"] for r in rows]),
                              np.array([r["tuned_fin"] for r in rows]), np.array([r["tuned_gen"] for r in rows]),
                              top_b)
        out["change_summary"].append({"comparison": comp, **change_summary(rows), **checks})
    return out


def delta_rows(counts: dict, pairs: dict, n_pos: int, n: int) -> list[dict]:
    out = []
    for comp, (a, b) in pairs.items():
        for r in count_delta_ranking(counts[a], counts[b], n):
            out.append({"comparison": comp, **r, "tuned_firing_rate": r["tuned_count"] / max(n_pos, 1)})
    return out


def _by_comp(rows: list[dict], col: str) -> dict:
    return {r["comparison"]: r.get(col) for r in rows}


def headline_rows(ladder: list[dict], summ: list[dict], deltas: list[dict], n: int) -> list[dict]:
    """The study's headline numbers: published, this run (base vs tuned), seed and control baselines, chance."""
    r0 = ladder[0]
    top5 = {c: [r["delta"] for r in deltas if r["comparison"] == c][:5] for c in (TUNED, SEED, CONTROL)}
    fire5 = {c: [r["tuned_firing_rate"] for r in deltas if r["comparison"] == c][:5] for c in (TUNED, SEED, CONTROL)}
    rows = [{"statistic": "fraction of the top-N financial latents not in the base top-N (index pairing)",
             "published": PUBLISHED["new_fraction"], "tuned": r0["tuned_new"], "seed": r0["seed_new"],
             "control": r0["control_new"], "chance": r0["chance_new"]}]
    chance_overlap = None if r0["chance_new"] is None else (1 - r0["chance_new"]) * n
    rows.append({"statistic": "consistent latents (in both top-N sets)", "published": PUBLISHED["consistent"],
                 **{c: _by_comp(summ, "n_consistent").get(c) for c in (TUNED, SEED, CONTROL)},
                 "chance": chance_overlap})
    for key, what in (("n_up", "latents with a positive financial change"),
                      ("n_down", "latents with a negative financial change"),
                      ("mean_change", "mean financial change"), ("max_change", "largest financial change"),
                      ("corr_fin_gen_change", "correlation of the financial and the general change"),
                      ("top_more_on_general", "top-N financial latents with a higher mean on general text")):
        rows.append({"statistic": what, "published": PUBLISHED[key],
                     **{c: _by_comp(summ, key).get(c) for c in (TUNED, SEED, CONTROL)}})
    rows.append({"statistic": "mean of the top-5 activation-count deltas", "published": float(
        np.mean(PUBLISHED["top5_deltas"])), **{c: float(np.mean(v)) if v else None for c, v in top5.items()}})
    rows.append({"statistic": "firing rate of the top-5 'specialists' (mean over token positions)",
                 "published": float(np.mean(PUBLISHED["specialist_firing_rate"])),
                 **{c: float(np.mean(v)) if v else None for c, v in fire5.items()}})
    return rows


def corrected_answer(cfg: PipelineConfig) -> list[dict]:
    """featevo's own analysis of the study's question, quoted from stages 02 and 03 (never recomputed)."""
    out = []
    for stage, name, cid in CORRECTED_CLAIMS:
        path = stage_dir(cfg, stage) / name
        if load_manifest(cfg, stage) is None or not path.is_file():
            continue
        c = next((c for c in read_json(path).get("claims") or [] if c.get("id") == cid), None)
        if c is not None:
            out.append({"stage": stage, **{k: c.get(k) for k in ("id", "statement", "negation", "kind", "stat",
                                                                  "supported", "lens", "role", "observed", "null",
                                                                  "test")}})
    return out


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------
def study_claims(ladder: list[dict], n: int, alpha: float = 0.05) -> list[dict]:
    """The study's headline as checks (lens ``study``, role ``check``): its overlap against chance by its own rule
    and after matching, and the corrected headline against a second seed of base with its clustered interval."""
    out = []
    for k, cid, how in ((0, "study:index_overlap_vs_chance", "by the study's own rule (index pairing)"),
                        (5, "study:matched_overlap_vs_chance", "after every correction up to matching")):
        r = ladder[k]
        exp = None if r["chance_new"] is None else (1 - r["chance_new"]) * n
        out.append(pvalue_claim(
            cid, f"{how}, the base and tuned top-{n} sets share fewer latents than chance",
            f"{how}, the base and tuned top-{n} sets share no fewer latents than chance: the study's \"new\" "
            "is not beyond what chance gives", r["p_chance_at_most"], alpha,
            observed={"count": r["tuned_overlap"], "n": n, "estimate": r["tuned_new"]},
            null={"expected_count": exp, "value": r["chance_new"]},
            name="hypergeometric P(overlap <= observed)", lens=LENS, role="check"))
    last = ladder[-1]
    if last["headline"] is not None:
        out.append(value_claim(
            "study:beyond_seed", f"the tuned SAE's top-{n} is more \"new\" against base than a second seed of base "
            "is (matched pairs, own specialisation; cluster-bootstrap interval over probe templates)",
            last["headline"], last["ci_low"], last["ci_high"], 0.0, unit="fraction",
            negation=f"the tuned SAE's top-{n} is no more \"new\" against base than a second seed of base is (the "
                     "interval over probe templates includes 0)", lens=LENS, role="check"))
    return out


# --------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------
def check(cfg: PipelineConfig) -> None:
    """What must fail before the stage starts: the study's reading needs a block below the SAE's."""
    if cfg.harvest.layer < 1:
        raise ConfigError(f"harvest.layer={cfg.harvest.layer}: the study reads hidden_states[layer], the output of "
                          "block layer - 1, so its procedure needs harvest.layer >= 1")


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 03_study (needs stages 01, 02_compare_features and 03_activation_deltas); returns the stage
    folder."""
    return run_stage(cfg, STUDY, compute, force, check=check)


def _pair_class(s2r: CompareResult, pairs: dict) -> dict:
    have = {f"{a}~{b}": comp for comp, (a, b) in pairs.items()}
    return {(have[r["comparison"]], r["latent_a"]): r["class"] for r in s2r.all_pairs if r["comparison"] in have}


def class_base_rate(s2r: CompareResult, pooled: dict, is_target: np.ndarray, n: int) -> dict:
    """Stage 02's class "new" (no decoder match to any base latent) among the tuned SAE's top-``n`` (by the study's
    ranking, and by the corrected one) against its base rate among all the tuned SAE's live latents."""
    from featevo.study import domain_means, top_n

    cls = {int(r["latent"]): r["class"] for r in s2r.latents if r["sae"] == "tuned"}
    live = [c for c in cls.values() if c != "dead"]
    out = {"all_live": sum(c == "new" for c in live) / len(live) if live else None, "n_live": len(live)}
    for key, variant, rank in (("top_as_published", AS_PUBLISHED, "fin"), ("top_corrected", SPECIAL, "spec")):
        m = domain_means(pooled[(variant, "tuned")], is_target)
        top = top_n(m["fin"] if rank == "fin" else m["fin"] - m["gen"], n)
        out[key] = sum(cls.get(int(j)) == "new" for j in top) / n
    return out


def compute(cfg: PipelineConfig, out_dir: Path) -> StudyResult:
    from featevo.models import resolve_device
    from featevo.study_figures import corrected_four_panel, study_four_panel

    t0 = time.time()
    docs = [d for d in load_probe(cfg.data) if d.domain in (TARGET, REFERENCE)]
    is_target = np.array([d.domain == TARGET for d in docs])
    pairs = comparisons(cfg)
    saes = {s: sae_specs(cfg)[s].model for s in dict.fromkeys(x for ab in pairs.values() for x in ab)}
    pooled, counts, n_pos = activations(cfg, docs, saes, resolve_device(cfg.device))
    s2r = CompareResult.load(stage_dir(cfg, COMPARE))
    partner = partners(s2r, pairs)
    n = cfg.study.top_n
    clusters, strata = cluster_ids(docs), is_target
    w = cluster_bootstrap_weights(clusters, strata, cfg.study.n_bootstrap, cfg.seed)
    ladder = ladder_rows(pooled, is_target, pairs, partner, n, boot={True: w[True], False: w[False]},
                         level=cfg.study.ci)
    tabs = study_tables(pooled, is_target, pairs, partner, _pair_class(s2r, pairs), cfg)
    deltas = delta_rows(counts, pairs, n_pos, cfg.study.delta_top_n)
    head = headline_rows(ladder, tabs["change_summary"], deltas, n)
    summary = {
        "description": "the study reproduced as published (featevo/study.py), beside chance, seed and control "
                       "baselines, one correction at a time (featevo/study_ladder.py)",
        "study": {"title": "Neural Feature Evolution in Domain Adaptation: A Comprehensive Analysis of BERT to "
                           "FinBERT Fine-tuning", "repository": "tatsath/InterpUseCases (UseCase_BERTvsFinBERT)",
                  "published": PUBLISHED},
        "comparisons": {c: list(ab) for c, ab in pairs.items()},
        "layer": cfg.harvest.layer, "study_block": study_block(cfg.harvest.layer), "top_n": n,
        "probe": {"sentences": len(docs), "target": int(is_target.sum()), "reference": int((~is_target).sum()),
                  "templates": len(set(clusters))},
        "count_positions": n_pos, "count_threshold": cfg.study.count_threshold,
        "n_bootstrap": cfg.study.n_bootstrap, "ci": cfg.study.ci,
        "ladder": ladder, "corrected_answer": corrected_answer(cfg),
        "class_new": class_base_rate(s2r, pooled, is_target, n),
        "claims": study_claims(ladder, n),
    }
    res = StudyResult(ladder=ladder, top=tabs["top"], emerging=tabs["emerging"],
                      change_summary=tabs["change_summary"], deltas=deltas, headline=head, summary=summary,
                      latents=tabs["latents"])
    study_four_panel([r for r in tabs["latents"] if r["comparison"] == TUNED], n, out_dir / StudyFiles.FOUR_PANEL,
                     (cfg.data.target_domain, cfg.data.reference_domain))
    corrected_four_panel(pooled, is_target, pairs, partner, n, out_dir / StudyFiles.FOUR_PANEL_CORRECTED,
                         (cfg.data.target_domain, cfg.data.reference_domain))
    summary["wall_time_s"] = round(time.time() - t0, 1)
    res.save(out_dir)
    _log(ladder)
    return res


def _log(ladder: list[dict]) -> None:
    def f(x):
        return "n/a" if x is None else f"{x:.2f}"

    for r in ladder:
        logger.info("ladder %d (%s): headline %s; chance %s, seed %s, control %s%s", r["rung"], r["correction"],
                    f(r["headline"]), f(r["chance_new"]), f(r["seed_new"]), f(r["control_new"]),
                    f" [{f(r['ci_low'])}, {f(r['ci_high'])}]" if r["ci_low"] is not None else "")
