"""Stage 03_causal: do the flagged latents do anything for the tuned model?

Every other featevo finding is correlational (a latent's activation differs between models). Here the latents
that stage 03 flags are switched off, or back to their base values, inside the tuned model, and what the model
loses is measured against random latents of the same firing frequency (the mechanics are in
:mod:`featevo.intervene`):

* **splice**: at the hooked block and the SAE's positions, ``h' = h + decode(z') - decode(z)`` with
  ``z = encode(h)`` of the tuned model's SAE (replicate 0); the error term is kept, so an untouched splice is the
  clean model (checked on the whole probe: ``summary.json`` ``splice_identity``);
* **interventions** on each flagged latent j: ``ablate`` (z'_j = 0) and ``patch`` (z'_j = the value the same SAE
  gives the *base* model's activation at that token, base model run on the same input);
* **measure** on the held-out probe set: masked-LM head: the change of the cross-entropy at one fixed seeded mask
  (``causal.mlm_probability`` of the kept tokens, seed ``seed``), per masked token, on target-domain and on
  reference-domain sentences and their difference; sequence classifier (FinBERT in the study):
  ``KL(clean || intervened)`` of its output per sentence and the share of sentences whose predicted label flips.
  Cluster-bootstrap intervals resample probe templates within each domain;
* **controls**: ``causal.n_random`` random latents of the same SAE with the flagged latents' distribution over
  firing-frequency deciles, under the same interventions (the null distribution of every effect); and, with a
  planted twin, the **positive control**: the planted twin's SAE latent that best separates the planted words
  (AUROC on probe target-domain sentences with the substitution applied), ablated inside the planted model, scored
  by the masked-LM loss at exactly the planted words, against as many frequency-matched random latents of that SAE.

Outputs in ``outputs/<run>/03_causal/`` (:class:`featevo.layout.CausalFiles`): ``effects.csv`` (schema
:data:`featevo.results.EFFECTS`), ``summary.json`` and the figure ``effects_vs_random.png``/``.svg``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from featevo.activations import tokenize_docs
from featevo.config import PipelineConfig
from featevo.data import TARGET, REFERENCE, Doc, cluster_ids, load_probe
from featevo.errors import StageError
from featevo.fidelity import mask_tokens
from featevo.intervene import (
    ABLATE, IGNORE, KINDS, PATCH, Intervention, UpperPass, domain_effects, firing_frequency,
    frequency_deciles, identity_summary, lower_batches, matched_random_latents, null_position, run_interventions,
)
from featevo.io import read_json
from featevo.layout import (
    CAUSAL, DELTAS, TRAIN, CausalFiles, DeltasFiles, display_path, main_saes, model_keys,
    models as run_models, resolve_repo_path, sae_dir, stage_command, stage_dir,
)
from featevo.results import EFFECTS
from featevo.runner import run_stage
from featevo.stats import auroc, bh_qvalues, rng_for

logger = logging.getLogger(__name__)

MEASURES = {"mlm": "mlm_loss", "cls": "kl"}
PLANTED = "planted"


def flagged_latents(cfg: PipelineConfig) -> list[int]:
    """The tuned SAE's latents that the causal checks intervene on, most interesting first.

    The single place that decides it: the first ``causal.top_n`` of stage 03's ranking of the tuned SAE's
    latents (``interesting_latents.json``, key ``tuned``): the latents of the base-vs-tuned matched pairs by their
    seed-calibrated domain-specific change (calibrated discoveries first, then by |z|), then the tuned SAE's
    unmatched live latents by their target-vs-reference domain test.
    """
    path = stage_dir(cfg, DELTAS) / DeltasFiles.INTERESTING
    ranked = read_json(path).get("tuned") or []
    if not ranked:
        raise StageError(f"{display_path(path)} ranks no tuned latents; rerun: {stage_command(cfg, DELTAS)} --force")
    return [int(j) for j in ranked[: cfg.causal.top_n]]


def probe_subset(docs: list[Doc], per_template: int | None, seed: int) -> list[Doc]:
    """At most ``per_template`` sentences of each template (``Doc.cluster``; a seeded choice, file order kept);
    every sentence when None."""
    if per_template is None:
        return list(docs)
    clusters = cluster_ids(docs)
    taken: dict[str, int] = {}
    keep = np.zeros(len(docs), dtype=bool)
    for i in rng_for(seed, 47).permutation(len(docs)):
        if taken.get(clusters[i], 0) < per_template:
            taken[clusters[i]] = taken.get(clusters[i], 0) + 1
            keep[i] = True
    return [d for d, k in zip(docs, keep) if k]


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------
@dataclass
class Measured:
    """The interventions on one SAE inside one model and their effects (rows aligned with ``interventions``)."""

    sae: str
    model: str
    measure: str
    scored: str
    interventions: list[Intervention]
    roles: list[str]
    ranks: list[int | None]
    freq: np.ndarray                 # [d_sae] firing frequency on the scored input
    eff: dict[str, np.ndarray]       # domain_effects of the measure
    touched: np.ndarray              # [m] fraction of documents changed
    flips: dict[str, np.ndarray] | None = None
    auroc: np.ndarray | None = None  # [d_sae] planted SAE only
    info: dict = field(default_factory=dict)

    def select(self, role: str, kind: str) -> np.ndarray:
        return np.array([r == role and iv.kind == kind for r, iv in zip(self.roles, self.interventions)])


def _probe_tokens(cfg: PipelineConfig, tok, docs: list[Doc]) -> dict:
    return tokenize_docs(tok, docs, cfg.harvest.max_length, cfg.harvest.exclude_special_tokens)


def _clean_loss(batches, labels_per_doc: np.ndarray, domains: np.ndarray) -> dict:
    """Mean clean masked-LM loss per masked token, per domain."""
    total = np.zeros(len(domains))
    for b in batches:
        total[b.docs] = (b.clean * b.qvalid).double().sum(1).cpu().numpy()
    return {dom: float(total[domains == dom].sum() / max(labels_per_doc[domains == dom].sum(), 1))
            for dom in (TARGET, REFERENCE)}


def tuned_checks(cfg: PipelineConfig, docs: list[Doc], device) -> Measured:
    """The flagged and the frequency-matched random latents of the tuned SAE, ablated and patched in the tuned
    model, scored on the probe set."""
    from featevo.models import head_kind, load_model, load_tokenizer
    from featevo.sae import load_sae

    cc, mods = cfg.causal, run_models(cfg)
    head = head_kind(mods["tuned"])
    if head not in MEASURES:
        raise StageError(f"the tuned model '{mods['tuned'].name}' has no masked-LM or sequence-classification head "
                         "(set tuned_model.fidelity_head); the causal checks measure what its head loses")
    tok = load_tokenizer(mods["tuned"])
    tokens, labels = _probe_tokens(cfg, tok, docs), None
    if head == "mlm":
        ids, labels = mask_tokens(tokens["input_ids"].long(), tokens["keep_mask"], tok.mask_token_id,
                                  cc.mlm_probability, cfg.seed)
        tokens = {**tokens, "input_ids": ids}
    name = main_saes(cfg, "tuned")[0]
    sae = load_sae(sae_dir(stage_dir(cfg, TRAIN), name), device)
    up = UpperPass(load_model(mods["tuned"], head=head, device=device), cfg.harvest.layer, head)
    base = load_model(mods["base"], head="none", device=device)
    batches = lower_batches(up, sae, tokens, labels, cc.batch_size, device, base=base, desc="lower pass (tuned, base)")
    del base
    identity = identity_summary(batches)
    logger.info("splice identity on %d probe sentences: max |logit difference| %.2e, max |h' - h| %.1e",
                identity["docs"], identity["max_abs_logit_diff"], identity["max_abs_hidden_diff"])
    freq = firing_frequency(batches)
    flagged = flagged_latents(cfg)
    random = matched_random_latents(freq, flagged, cc.n_random, cfg.seed)
    ivs = [Intervention(j, k) for j in flagged + random for k in KINDS]
    fx = run_interventions(up, sae, batches, ivs, len(docs), cc.batch_size, desc=f"{len(ivs)} interventions")
    domains, clusters = np.array([d.domain for d in docs]), cluster_ids(docs)
    weights = (labels != IGNORE).sum(1).numpy().astype(float) if labels is not None else np.ones(len(docs))
    eff = domain_effects(fx.loss, weights, domains, clusters, cc.n_bootstrap, cfg.seed, cc.ci)
    flips = (domain_effects(fx.flip, np.ones(len(docs)), domains, clusters, cc.n_bootstrap, cfg.seed, cc.ci)
             if head == "cls" else None)
    rank = {j: r + 1 for r, j in enumerate(flagged)}
    roles = ["flagged" if iv.latent in rank else "random" for iv in ivs]
    ranks = [rank.get(iv.latent) for iv in ivs]
    info = {"head": head, "sae": name, "splice_identity": identity, "flagged_latents": flagged,
            "random_latents": random, "scored_tokens": {dom: int(weights[domains == dom].sum())
                                                        for dom in (TARGET, REFERENCE)} if head == "mlm" else None,
            "clean_loss": _clean_loss(batches, weights, domains) if head == "mlm" else None}
    return Measured(name, "tuned", MEASURES[head], "probe_mask" if head == "mlm" else "cls", ivs, roles, ranks,
                    freq, eff, fx.touched.mean(1), flips, info=info)


def _planted_inputs(cfg: PipelineConfig, tok, docs: list[Doc]) -> tuple[list[Doc], dict, torch.Tensor]:
    """Probe target-domain sentences with the planted substitution applied (those it changes), their tokens, and the
    positions of the planted words (:func:`featevo.planting.planted_positions`)."""
    from featevo.planting import planted_docs, planted_positions

    fin = [d for d in docs if d.domain == TARGET]
    planted, _ = planted_docs(fin, dict(cfg.twin.planted))
    pdocs = [p for p, d in zip(planted, fin) if p.text != d.text]
    if not pdocs:
        return [], {}, torch.zeros(0)
    tokens = tokenize_docs(tok, pdocs, cfg.harvest.max_length, cfg.harvest.exclude_special_tokens, offsets=True)
    target = planted_positions(pdocs, tokens, dict(cfg.twin.planted))
    tokens.pop("offsets")
    return pdocs, tokens, target


def planted_control(cfg: PipelineConfig, docs: list[Doc], device) -> Measured | None:
    """The positive control: the planted SAE's latent that best separates the planted words, ablated inside the
    planted twin, against frequency-matched random latents of that SAE; scored at exactly the planted words."""
    from featevo.models import load_model, load_tokenizer
    from featevo.sae import encode, load_sae

    cc, mods = cfg.causal, run_models(cfg)
    tok = load_tokenizer(mods[PLANTED])
    pdocs, tokens, target = _planted_inputs(cfg, tok, docs)
    if not pdocs or not target.any():
        logger.warning("no probe sentence holds a planted word (twin.planted); no positive control")
        return None
    sae = load_sae(sae_dir(stage_dir(cfg, TRAIN), PLANTED), device)
    up = UpperPass(load_model(mods[PLANTED], head="mlm", device=device), cfg.harvest.layer, "mlm")
    rows = []
    for s in range(0, len(pdocs), cc.batch_size):  # the planted words visible: which latent marks them?
        w = max(int(tokens["attention_mask"][s : s + cc.batch_size].sum(1).max()), 1)
        ids, attn = (tokens[k][s : s + cc.batch_size, :w].long().to(device) for k in ("input_ids", "attention_mask"))
        rows.append(encode(sae, up.lower(ids, attn)[tokens["keep_mask"][s : s + cc.batch_size, :w].to(device)]))
    auc = auroc(torch.cat(rows).numpy(), target[tokens["keep_mask"]].numpy())
    j = int(np.nanargmax(auc))
    masked = torch.where(target, torch.full_like(tokens["input_ids"], tok.mask_token_id), tokens["input_ids"])
    labels = torch.where(target, tokens["input_ids"].long(), torch.full_like(tokens["input_ids"].long(), IGNORE))
    batches = lower_batches(up, sae, {**tokens, "input_ids": masked}, labels, cc.batch_size, device,
                            desc="lower pass (planted)")
    freq = firing_frequency(batches)
    # the null is latents that do not carry the planted concept: other detectors of the planted words (AUROC at
    # least causal.planted_detector_auroc) are kept out of the random draw, or the null would contain the effect
    detectors = [int(k) for k in np.flatnonzero(np.nan_to_num(auc, nan=0.0) >= cc.planted_detector_auroc) if k != j]
    random = matched_random_latents(freq, [j] + detectors, cc.n_random, cfg.seed + 1)
    ivs = [Intervention(latent, ABLATE) for latent in [j] + random]
    fx = run_interventions(up, sae, batches, ivs, len(pdocs), cc.batch_size, desc="planted control")
    weights = target.sum(1).numpy().astype(float)
    eff = domain_effects(fx.loss, weights, [d.domain for d in pdocs], cluster_ids(pdocs), cc.n_bootstrap, cfg.seed,
                         cc.ci)
    top = np.argsort(-np.nan_to_num(auc, nan=-1.0))[:5]
    info = {"sentences": len(pdocs), "planted_tokens": int(weights.sum()), "latent": j, "auroc": float(auc[j]),
            "top_auroc": {int(k): float(auc[k]) for k in top}, "random_latents": random,
            "excluded_detectors": {k: float(auc[k]) for k in detectors},
            "splice_identity": identity_summary(batches),
            "clean_loss_planted_tokens": _clean_loss(batches, weights, np.array([d.domain for d in pdocs]))[TARGET]}
    return Measured(PLANTED, PLANTED, "mlm_loss", "planted_tokens", ivs, ["planted"] + ["random"] * len(random),
                    [None] * len(ivs), freq, eff, fx.touched.mean(1), auroc=auc, info=info)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------
def _null_columns(m: Measured, alpha: float) -> dict[int, dict]:
    """Per row of a flagged or planted latent: its place in the null of the random latents (same intervention)."""
    out: dict[int, dict] = {}
    for kind in KINDS:
        null = m.select("random", kind)
        for role in ("flagged", "planted"):
            sel = np.flatnonzero(m.select(role, kind))
            if not len(sel) or not null.any():
                continue
            cols: dict[str, np.ndarray] = {}
            for stat in ("target", "diff"):
                alt = "greater" if role == "planted" else "two-sided"  # the control must hurt, not just differ
                pct, p = null_position(m.eff[stat][sel], m.eff[stat][null], alt)
                lo, hi = m.eff[f"{stat}_lo"][sel], m.eff[f"{stat}_hi"][sel]
                ok = np.isfinite(p)
                q = np.full(len(p), np.nan)
                q[ok] = bh_qvalues(p[ok]) if ok.any() else q[ok]
                cols[f"{stat}_null_percentile"], cols[f"{stat}_null_p"], cols[f"{stat}_null_q"] = pct, p, q
                cols[f"beats_null_{stat}"] = ok & (p <= alpha) & ((lo > 0) | (hi < 0))
            for k, i in enumerate(sel):
                out[int(i)] = {c: v[k] for c, v in cols.items()}
    return out


def effect_rows(m: Measured, alpha: float) -> list[dict]:
    """Rows of ``effects.csv`` for one measurement."""
    dec = frequency_deciles(m.freq)
    nulls = _null_columns(m, alpha)
    rows = []
    for i, iv in enumerate(m.interventions):
        row = {"sae": m.sae, "model": m.model, "latent": iv.latent, "role": m.roles[i], "rank": m.ranks[i],
               "intervention": iv.kind, "measure": m.measure, "scored": m.scored,
               "firing_frequency": float(m.freq[iv.latent]), "frequency_decile": int(dec[iv.latent]),
               "auroc": float(m.auroc[iv.latent]) if m.auroc is not None else None,
               "docs_touched": float(m.touched[i])}
        for stat in ("target", "reference", "diff"):
            row[f"{stat}_effect"] = float(m.eff[stat][i])
            row[f"{stat}_ci_low"], row[f"{stat}_ci_high"] = float(m.eff[f"{stat}_lo"][i]), float(m.eff[f"{stat}_hi"][i])
        if m.flips is not None:
            row["target_flip_rate"] = float(m.flips["target"][i])
            row["reference_flip_rate"] = float(m.flips["reference"][i])
        row.update(nulls.get(i, {}))
        rows.append(row)
    return rows


def _dist(x: np.ndarray) -> dict:
    x = x[np.isfinite(x)]
    if not x.size:
        return {"n": 0}
    q = np.quantile(x, [0.05, 0.5, 0.95])
    return {"n": int(x.size), "mean": float(x.mean()), "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "min": float(x.min()), "p05": float(q[0]), "median": float(q[1]), "p95": float(q[2]), "max": float(x.max())}


def _intervention_summary(m: Measured, rows: list[dict], alpha: float) -> dict:
    out = {}
    for kind in KINDS:
        flagged = [r for r in rows if r["role"] == "flagged" and r["intervention"] == kind]
        out[kind] = {
            "flagged": len(flagged),
            "beat_null": {stat: sum(bool(r.get(f"beats_null_{stat}")) for r in flagged) for stat in ("target", "diff")},
            "beat_null_after_bh": {stat: sum(bool(r.get(f"beats_null_{stat}")) and (r.get(f"{stat}_null_q") or 1.0)
                                             <= alpha for r in flagged) for stat in ("target", "diff")},
            "null": {stat: _dist(m.eff[stat][m.select("random", kind)]) for stat in ("target", "reference", "diff")},
            "flagged_effects": {stat: _dist(m.eff[stat][m.select("flagged", kind)])
                                for stat in ("target", "reference", "diff")},
        }
    return out


def _planted_summary(p: Measured, rows: list[dict]) -> dict:
    r = next(r for r in rows if r["role"] == "planted")
    null = p.eff["target"][p.select("random", ABLATE)]
    return {**p.info, "effect": r["target_effect"], "ci": [r["target_ci_low"], r["target_ci_high"]],
            "null_percentile": r.get("target_null_percentile"), "null_p": r.get("target_null_p"),
            "beats_every_random": bool(null.size and r["target_effect"] > np.nanmax(null)),
            "ratio_to_largest_random": (r["target_effect"] / float(np.nanmax(null))
                                        if null.size and np.nanmax(null) > 0 else None),
            "null": _dist(null)}


# --------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------
def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 03_causal (needs stages 01 and 03); returns the stage folder."""
    return run_stage(cfg, CAUSAL, compute, force)


def compute(cfg: PipelineConfig, out_dir: Path):
    """Stage 03_causal into ``out_dir`` (the runner checks its upstream and commits); returns its result."""
    from featevo.models import resolve_device
    from featevo.results import CausalResult
    from featevo.tables import Table

    probe_path = resolve_repo_path(cfg.data.probe)
    t0 = time.time()
    device = resolve_device(cfg.device)
    all_docs = load_probe(cfg.data)
    docs = probe_subset(all_docs, cfg.causal.docs_per_template, cfg.seed)
    logger.info("probe: %d of %d sentences (%s per template), %d %s, %d %s, %d templates", len(docs),
                len(all_docs), cfg.causal.docs_per_template or "all", sum(d.domain == TARGET for d in docs),
                cfg.data.target_domain, sum(d.domain == REFERENCE for d in docs), cfg.data.reference_domain,
                len(set(cluster_ids(docs))))
    main = tuned_checks(cfg, docs, device)
    planted = planted_control(cfg, all_docs, device) if PLANTED in model_keys(cfg) else None  # cheap: all
    rows = effect_rows(main, cfg.causal.alpha)
    p_rows = effect_rows(planted, cfg.causal.alpha) if planted is not None else []
    summary = _summary(cfg, docs, main, rows, planted, p_rows, probe_path)
    summary["claims"] = causal_claims(cfg, summary)
    effects_figure(main, planted, out_dir / CausalFiles.EFFECTS_FIG, stat_labels(cfg))
    summary["wall_time_s"] = round(time.time() - t0, 2)
    result = CausalResult(Table(EFFECTS, rows + p_rows), summary)
    result.save(out_dir)
    _log_rows(rows, stat_labels(cfg))
    _log_summary(summary, stat_labels(cfg))
    return result


def _summary(cfg: PipelineConfig, docs: list[Doc], main: Measured, rows: list[dict], planted: Measured | None,
             p_rows: list[dict], probe_path: Path) -> dict:
    cc = cfg.causal
    n_random = len(main.info["random_latents"])
    unit = "nats per masked token" if main.measure == "mlm_loss" else "nats per sentence"
    return {
        "description": "flagged latents of the tuned SAE ablated or patched to their base values inside the tuned "
                       "model, against frequency-matched random latents; see featevo/causal.py",
        "definitions": {
            "splice": "h' = h + decode(z') - decode(z) at the SAE's positions of the hooked block (error term kept)",
            ABLATE: "z'_j = 0", PATCH: "z'_j = the SAE's code of the base model's activation at the same token",
            "effect": f"intervened - clean {main.measure} ({unit}), per domain (target: {cfg.data.target_domain}, "
                      f"reference: {cfg.data.reference_domain}); diff = target - reference",
            "null": f"{n_random} random latents matched to the flagged latents' firing-frequency deciles",
            "beats_null": f"empirical p <= {cc.alpha} against the null and the bootstrap interval excludes 0",
        },
        "head": main.info["head"], "measure": main.measure, "sae": main.sae, "layer": cfg.harvest.layer,
        "probe": {"file": display_path(probe_path), "sentences": len(docs),
                  "docs_per_template": cc.docs_per_template,
                  "target": sum(d.domain == TARGET for d in docs),
                  "reference": sum(d.domain == REFERENCE for d in docs), "templates": len(set(cluster_ids(docs))),
                  "scored_tokens": main.info["scored_tokens"], "mask_seed": cfg.seed,
                  "mlm_probability": cc.mlm_probability if main.measure == "mlm_loss" else None},
        "clean_loss": main.info["clean_loss"], "splice_identity": main.info["splice_identity"],
        "flagged_latents": main.info["flagged_latents"], "flagged_source": f"{DELTAS}/{DeltasFiles.INTERESTING} "
                                                                          "(tuned), first causal.top_n",
        "random_latents": main.info["random_latents"], "n_random": n_random,
        "min_attainable_p": 1.0 / (n_random + 1), "ci": cc.ci, "alpha": cc.alpha, "n_bootstrap": cc.n_bootstrap,
        "interventions": _intervention_summary(main, rows, cc.alpha),
        "planted_control": _planted_summary(planted, p_rows) if planted is not None else None,
    }


def causal_claims(cfg: PipelineConfig, s: dict) -> list[dict]:
    """The stage's claims (lens ``causal``): per intervention, more flagged latents beat the random-latent null
    (on target-domain text, and target minus reference) than chance gives (alpha of them; exact binomial test),
    and the planted positive control (the planted latent's ablation effect beyond the random latents)."""
    from featevo.claims import rate_claim, value_claim

    a, (t, g) = float(s["alpha"]), (cfg.data.target_domain, cfg.data.reference_domain)
    out = []
    for kind, v in (s.get("interventions") or {}).items():
        for stat, what in (("target", f"on {t} text"), ("diff", f"more on {t} than on {g} text")):
            c = rate_claim(f"causal_beats_null:{kind}:{stat}",
                           f"more flagged latents change the loss {what} than random latents do",
                           f"the flagged latents change the loss {what} no more often than random latents",
                           (v.get("beat_null") or {}).get(stat), v.get("flagged"), a, a, lens="causal")
            c["observed"]["after_bh"] = (v.get("beat_null_after_bh") or {}).get(stat)
            c["intervention"], c["effect"] = kind, stat
            out.append(c)
    p = s.get("planted_control")
    if isinstance(p, dict):
        ci = p.get("ci") or [None, None]
        out.append(value_claim("causal_planted_control", "ablating the planted latent raises the loss at the "
                               "planted words beyond the random latents", p.get("effect"), ci[0], ci[1], 0.0,
                               p.get("null_p"), negation="ablating the planted latent does not raise the loss at "
                               "the planted words beyond the random latents", lens="causal",
                               role="positive_control"))
    return out


def _log_rows(rows: list[dict], labels: dict[str, str]) -> None:
    for r in rows:
        if r["role"] != "flagged":
            continue
        logger.info("latent %d (rank %d, firing %.3f) %s: %s %+.4g [%.4g, %.4g] (null percentile %.0f), "
                    "%s %+.4g, difference %+.4g [%.4g, %.4g] (null percentile %.0f)%s", r["latent"], r["rank"],
                    r["firing_frequency"], r["intervention"], labels["target"], r["target_effect"],
                    r["target_ci_low"], r["target_ci_high"], r.get("target_null_percentile", np.nan),
                    labels["reference"], r["reference_effect"], r["diff_effect"], r["diff_ci_low"],
                    r["diff_ci_high"], r.get("diff_null_percentile", np.nan),
                    " BEATS THE NULL" if r.get("beats_null_target") or r.get("beats_null_diff") else "")


def _log_summary(s: dict, labels: dict[str, str]) -> None:
    for kind, v in s["interventions"].items():
        n = v["null"]
        logger.info("%s: %d/%d flagged latents beat the random null on %s text, %d on %s "
                    "(null of %d: %s effect median %.4g, 95th pct %.4g)", kind, v["beat_null"]["target"],
                    v["flagged"], labels["target"], v["beat_null"]["diff"], labels["diff"], n["target"].get("n", 0),
                    labels["target"], n["target"].get("median", np.nan), n["target"].get("p95", np.nan))
    p = s["planted_control"]
    if p:
        logger.info("planted control: latent %d (AUROC %.3f), planted-word loss change %.4g (CI %.4g..%.4g), "
                    "percentile %.1f of %d random latents (largest %.4g)", p["latent"], p["auroc"], p["effect"],
                    p["ci"][0], p["ci"][1], p["null_percentile"] or np.nan, p["null"].get("n", 0),
                    p["null"].get("max", np.nan))


# --------------------------------------------------------------------------------------------
# Figure
# --------------------------------------------------------------------------------------------
def stat_labels(cfg: PipelineConfig) -> dict[str, str]:
    """Effect statistic -> its name in figures and logs: the configured domain names."""
    t, r = cfg.data.target_domain, cfg.data.reference_domain
    return {"target": t, "reference": r, "diff": f"{t} - {r}"}


def effects_figure(main: Measured, planted: Measured | None, path: Path, labels: dict[str, str] | None = None) -> None:
    """Each flagged latent's effect (with its interval) beside the random latents' (grey), per intervention and
    statistic (``labels``: statistic -> axis name, :func:`stat_labels`); the planted positive control against its
    own random latents in the last panel."""
    labels = labels or {"target": "target", "reference": "reference", "diff": "target - reference"}
    from featevo.plots import NULL_COLOR, TUNED_COLOR, save_figure
    import matplotlib.pyplot as plt

    panels = len(KINDS) + (planted is not None)
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.2), squeeze=False)
    jitter = np.random.default_rng(0)
    unit = "loss change (nats/token)" if main.measure == "mlm_loss" else "KL(clean || intervened)"
    for ax, kind in zip(axes[0], KINDS):
        null, flag = main.select("random", kind), np.flatnonzero(main.select("flagged", kind))
        for x, stat in enumerate(labels):
            nv = main.eff[stat][null]
            ax.scatter(x - 0.18 + jitter.uniform(-0.08, 0.08, nv.size), nv, s=10, color=NULL_COLOR, alpha=0.6,
                       label="random latents" if x == 0 else None)
            fv = main.eff[stat][flag]
            err = np.abs(np.stack([main.eff[f"{stat}_lo"][flag], main.eff[f"{stat}_hi"][flag]]) - fv)
            xs = x + 0.18 + np.linspace(-0.1, 0.1, max(len(flag), 1))[: len(flag)]
            ax.errorbar(xs, fv, yerr=err, fmt="o", ms=4, color=TUNED_COLOR, lw=0.8,
                        label="flagged latents (95% CI)" if x == 0 else None)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks(range(len(labels)), list(labels.values()))
        ax.set_title(f"{kind}: {'latent set to 0' if kind == ABLATE else 'latent set to its base value'}")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    if planted is not None:
        ax = axes[0][-1]
        nv = planted.eff["target"][planted.select("random", ABLATE)]
        ax.scatter(jitter.uniform(-0.1, 0.1, nv.size), nv, s=10, color=NULL_COLOR, alpha=0.6, label="random latents")
        i = int(np.flatnonzero(planted.select("planted", ABLATE))[0])
        lo, hi = planted.eff["target_lo"][i], planted.eff["target_hi"][i]
        v = planted.eff["target"][i]
        ax.errorbar([0.4], [v], yerr=[[v - lo], [hi - v]], fmt="*", ms=12, color="#d62728",
                    label=f"planted latent {planted.interventions[i].latent}")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xticks([0, 0.4], ["random", "planted"])
        ax.set_xlim(-0.5, 0.9)
        ax.set_title("positive control: ablation in the planted twin")
        ax.set_ylabel("loss change at the planted words (nats/token)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    fig.suptitle(f"Interventions on the {main.sae} SAE's latents inside the {main.model} model")
    fig.tight_layout()
    save_figure(fig, path)
