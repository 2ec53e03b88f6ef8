"""Stage 02: match the latents of every comparison of SAEs, summarise each family of comparisons, and claim
only what the base-vs-tuned comparisons show beyond the seed spread.

The matching itself (decoder and activation Hungarian, classes, continuum) is :mod:`featevo.matching`. Seeds
are a random effect: every model has ``sae.seeds`` SAEs, and :func:`featevo.layout.comparisons` lists the
comparisons of a run by family (:data:`featevo.layout.FAMILIES`): ``fine-tuning`` (base_i vs tuned_j),
``seed`` (two SAEs of one model: the null), ``control`` (base_i vs control_j: the same fine-tuning recipe on
reference-domain text), ``planted`` (positive control) and ``wide-seed`` (two seeds at the larger dictionary size).
Every statistic (:data:`featevo.matching.STAT_DOCS`) is computed for every comparison; each family is
summarised by its mean, range and a bootstrap interval of the mean; and a claim ("fine-tuning changed more
features than seed noise") is made only when the exact two-sample permutation test of the two families
supports it (:mod:`featevo.claims`), at ``compare.alpha``. The dictionary-size finding compares the seed
stability of the base model's SAEs at the main size with the wide size.

Each SAE encodes its own model's activations of the same token rows, once per chunk, and every comparison's
activation correlations accumulate from those codes. The primary comparison (base vs tuned, replicate 0)
keeps its per-latent table (``latents.csv``) and pairs (``pairs.csv``); every comparison's pairs are in
``comparison_pairs.csv`` (stage 03 reads the matched ones) and one row per comparison in
``comparisons.csv``.

Transfer: the base SAE encodes the tuned model's held-out activations (and vice versa); FVU and loss recovered
are compared with each SAE on its own model (stage 01's numbers, same rows and the same masked tokens).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from featevo.progress import tqdm

from featevo.activations import ActivationStore
from featevo.claims import describe, family_claim, sae_contrast, sae_family_claim, threshold_claim
from featevo.config import CompareConfig, PipelineConfig
from featevo.errors import StageError
from featevo.io import atomic_write_json
from featevo.layout import (
    COMPARE, FAMILIES, MODEL_KEYS, TRAIN, Comparison, CompareFiles, SaeSpec, acts_dir, comparisons, display_path,
    models as run_models, sae_dir, sae_specs, split_dir, stage_dir,
)
from featevo.matching import (
    STAT_DOCS, CorrelationAccumulator, Matching, chance_best_cosine, comparison_stats, continuum, decoder_cosine,
    match_latents,
)
from featevo.results import ALL_PAIRS, COMPARISONS, LATENTS, PAIRS, load_sae_metrics
from featevo.runner import run_stage
from featevo.sae import encode, load_sae, reconstruction_metrics

logger = logging.getLogger(__name__)

FAMILY_ORDER = tuple(FAMILIES)


# --------------------------------------------------------------------------------------------
# Activation statistics over aligned token rows
# --------------------------------------------------------------------------------------------
def _aligned_chunks(s1: Path, keys: list[str], max_tokens: int, chunk: int = 8192):
    """{model: rows} chunks of the same token rows for every model: eval split first, then train, up to
    ``max_tokens`` rows."""
    left = max_tokens
    for split in ("eval", "train"):
        if left <= 0:
            return
        stores = {k: ActivationStore(acts_dir(s1, split, k)) for k in keys}
        if len({s.n_rows for s in stores.values()}) != 1:
            raise StageError(f"{display_path(split_dir(s1, split))}: the models' activations have different row "
                             f"counts ({', '.join(f'{k} {s.n_rows}' for k, s in stores.items())}); rerun stage 01 "
                             "with --force")
        for parts in zip(*(s.iter_rows(left, chunk) for s in stores.values())):
            if len({p.shape[0] for p in parts}) != 1:
                raise StageError(f"{display_path(split_dir(s1, split))}: the models' shards are not aligned")
            left -= parts[0].shape[0]
            yield dict(zip(keys, parts))


def activation_statistics(s1: Path, saes: dict, specs: dict[str, SaeSpec], comps: list[Comparison],
                          max_tokens: int) -> CorrelationAccumulator:
    """Firing counts of every SAE and activation correlations of every comparison over aligned rows (each SAE
    encodes its own model's activations of the rows, once per chunk)."""
    keys = [k for k in MODEL_KEYS if any(s.model == k for s in specs.values())]
    acc = CorrelationAccumulator([(c.a, c.b) for c in comps], precision="fast")
    n_total = sum(ActivationStore(acts_dir(s1, s, keys[0])).n_rows for s in ("eval", "train"))
    pbar = tqdm(total=min(max_tokens, n_total), desc="activation correlations", unit="tok")
    for rows in _aligned_chunks(s1, keys, max_tokens):
        acc.update({n: encode(saes[n], rows[specs[n].model]) for n in saes})
        pbar.update(next(iter(rows.values())).shape[0])
    pbar.close()
    logger.info("activation statistics of %d SAEs over %d token rows (eval split first, then train)", len(saes),
                acc.n)
    return acc


# --------------------------------------------------------------------------------------------
# Transfer (base and tuned, replicate 0)
# --------------------------------------------------------------------------------------------
def transfer_metrics(cfg: PipelineConfig, s1: Path, device: torch.device) -> dict:
    """Each SAE on the other model's held-out activations: FVU and loss recovered, vs its own."""
    from featevo.activations import TokenTable
    from featevo.fidelity import activation_mean, loss_recovered
    from featevo.models import head_kind, load_model, load_tokenizer

    models = run_models(cfg)
    saes = {k: load_sae(sae_dir(s1, k), device) for k in ("base", "tuned")}
    own = {k: load_sae_metrics(s1, k) for k in ("base", "tuned")}
    tt = TokenTable(split_dir(s1, "eval"))
    tokens = {"input_ids": tt.input_ids, "attention_mask": tt.attention_mask, "keep_mask": tt.keep_mask}
    out = {}
    for sae_key, act_key in (("base", "tuned"), ("tuned", "base")):
        sae = saes[sae_key]
        rec = reconstruction_metrics(sae, ActivationStore(acts_dir(s1, "eval", act_key)))
        head = head_kind(models[act_key])
        fid: dict = {"head": head}
        if head != "none":
            model = load_model(models[act_key], head=head, device=device)
            tok = load_tokenizer(models[act_key])
            # the same masked tokens as stage 01's own-SAE number for this model (its SAE's seed)
            mask_seed = int(own[act_key].get("seed", cfg.seed))
            fid = loss_recovered(model, head, lambda h, s=sae: s.decode(s.encode(h)), tokens, cfg.harvest.layer,
                                 tok.mask_token_id, device, seed=mask_seed, max_docs=cfg.sae.eval_docs,
                                 desc=f"loss recovered {sae_key} SAE on {act_key}",
                                 mean_activation=activation_mean(ActivationStore(acts_dir(s1, "train", act_key))
                                                                 .iter_rows()))
            del model
        own_m = own[act_key]
        lr_t, lr_o = fid.get("loss_recovered"), own_m.get("fidelity", {}).get("loss_recovered")
        out[f"{sae_key}_sae_on_{act_key}"] = {
            "sae": sae_key, "activations": act_key, "rows": rec["rows"],
            "fvu": rec["fvu"], "fvu_own_sae": own_m["fvu"], "fvu_increase": rec["fvu"] - own_m["fvu"],
            "l0": rec["l0"], "dead_fraction_eval": rec["dead_fraction_eval"],
            "loss_recovered": lr_t, "loss_recovered_own_sae": lr_o,
            "loss_recovered_drop": (lr_o - lr_t) if (lr_t is not None and lr_o is not None) else None,
            "fidelity": fid,
        }
        logger.info("transfer: %s SAE on %s activations: FVU %.3f (own SAE %.3f), loss recovered %s (own %s)",
                    sae_key, act_key, rec["fvu"], own_m["fvu"], _f3(lr_t), _f3(lr_o))
    return out


def _f3(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


# --------------------------------------------------------------------------------------------
# The analysis, in memory
# --------------------------------------------------------------------------------------------
@dataclass
class CompareAnalysis:
    """Everything stage 02 writes, before it is written."""

    specs: dict[str, SaeSpec]        # every SAE of the run
    comps: list[Comparison]          # every comparison, the primary first
    d_sae: dict[str, int]
    token_rows: int                  # aligned token rows of the activation statistics
    freq: dict[str, np.ndarray]      # firing frequency per latent, per SAE
    matchings: dict[str, Matching]   # comparison name -> matching
    stats: dict[str, dict]           # comparison name -> :func:`featevo.matching.comparison_stats`
    chance: dict[str, dict]          # SAE name -> :func:`chance_best_cosine` of its decoder
    own: dict[str, dict]             # stage 01's metrics of each SAE
    transfer: dict                   # :func:`transfer_metrics`

    @property
    def primary(self) -> Comparison:
        return self.comps[0]

    @property
    def main(self) -> Matching:
        return self.matchings[self.primary.name]

    @property
    def seeds(self) -> dict:
        return {n: self.own[n].get("seed") for n in self.specs}

    @property
    def same_seed(self) -> bool:
        s = self.seeds
        return bool(s.get("base") is not None and s.get("base") == s.get("tuned"))

    def family(self, family: str) -> list[Comparison]:
        return [c for c in self.comps if c.family == family]

    def values(self, family: str, stat: str, model: str | None = None) -> list:
        """``stat`` of every comparison of ``family`` (only same-``model`` pairs when given)."""
        return [self.stats[c.name][stat] for c in self.family(family)
                if model is None or self.specs[c.a].model == model]


def analyse(cfg: PipelineConfig, s1: Path, device: torch.device) -> CompareAnalysis:
    """Load stage 01's SAEs, match every comparison, and measure transfer."""
    specs = sae_specs(cfg)
    comps = comparisons(cfg)
    if not any(c.family == "seed" for c in comps):
        logger.warning("sae.seeds is 1: no seed pairs, so no comparison can be told from seed noise")
    saes = {n: load_sae(sae_dir(s1, n), device) for n in specs}
    acc = activation_statistics(s1, saes, specs, comps, cfg.compare.max_tokens)
    W = {n: saes[n].W_dec.detach().cpu().double().numpy() for n in specs}
    freq = {n: acc.frequency(n) for n in specs}
    chance = {n: chance_best_cosine(W[n], cfg.compare.chance_samples, cfg.seed) for n in specs}
    matchings, stats = {}, {}
    for c in tqdm(comps, desc="Hungarian matching", unit="comparison"):
        m = match_latents(decoder_cosine(W[c.a], W[c.b]), acc.correlation(c.a, c.b), freq[c.a] > 0, freq[c.b] > 0,
                          cfg.compare)
        matchings[c.name], stats[c.name] = m, comparison_stats(m, chance[c.b]["p99"])
        s = stats[c.name]
        logger.info("%-11s %s: %d pairs, matched %.1f%%, shared %.1f%%, new %d, lost %d, agreement %.1f%%", c.family,
                    c.name, s["pairs"], 100 * s["matched_fraction"], 100 * s["shared_fraction"], s["new"],
                    s["lost"], 100 * s["agreement"])
    own = {n: load_sae_metrics(s1, n) for n in specs}
    a = CompareAnalysis(specs=specs, comps=comps, d_sae={n: saes[n].cfg.d_sae for n in specs}, token_rows=acc.n,
                        freq=freq, matchings=matchings, stats=stats, chance=chance, own=own,
                        transfer=transfer_metrics(cfg, s1, device))
    if a.same_seed:
        logger.warning("the base and tuned SAEs were trained with the same seed (%s): they share their initial "
                       "decoder, which inflates base-vs-tuned matching relative to seed pairs; retrain stage 01 "
                       "with sae.model_seed_stride > 0", a.seeds["base"])
    return a


# --------------------------------------------------------------------------------------------
# Claims
# --------------------------------------------------------------------------------------------
FAMILY_NOUN = {"fine-tuning": "base-vs-tuned SAE pairs", "seed": "two seeds of one model",
               "control": "base-vs-control SAE pairs", "planted": "tuned-vs-planted SAE pairs",
               "wide-seed": "two seeds of the wide base SAE"}
CLAIM_STATS = {  # statistic: (direction of a change, what a change means, its negation)
    "matched_fraction": ("less", "have fewer matched (shared or shifted) pairs", "do not have fewer matched pairs"),
    "shared_fraction": ("less", "have fewer shared pairs", "do not have fewer shared pairs"),
    "mean_pair_cosine": ("less", "have a lower mean decoder cosine of their pairs",
                         "do not have a lower mean decoder cosine of their pairs"),
    "agreement": ("less", "agree less between decoder and activation matching",
                  "do not agree less between decoder and activation matching"),
    "above_chance_fraction": ("less", "have fewer latents with a counterpart above chance",
                              "do not have fewer latents with a counterpart above chance"),
    "new": ("greater", "leave more latents of the second SAE without a counterpart (new)",
            "do not leave more new latents"),
    "lost": ("greater", "leave more latents of the first SAE without a counterpart (lost)",
             "do not leave more lost latents"),
}
CONTRASTS = (("fine-tuning", "seed"), ("control", "seed"), ("fine-tuning", "control"))
NO_CHANGE = {("fine-tuning", "seed"): "no feature-level change detectable beyond seed noise",
             ("control", "seed"): "the control twin's change is not detectable beyond seed noise",
             ("fine-tuning", "control"): "no change specific to the target domain beyond what fine-tuning on "
                                         "the reference domain does"}
# The role of each contrast's claims: the control twin against seed noise is a comparison (what fine-tuning on the
# reference domain changes, set beside the tuned twin's change), not a negative control: the control twin is a real
# change, so a lens that sees it is working.
CONTRAST_ROLE = {("fine-tuning", "seed"): "claim", ("control", "seed"): "comparison",
                 ("fine-tuning", "control"): "claim"}
PARTS = ("new", "lost")
"""Statistics that are parts of the matched fraction's effect (a latent without a counterpart on either side): the
matched-fraction claim carries them (``parts``), with no test of their own."""
def contrast_design(a: CompareAnalysis, obs: str, null: str) -> tuple[str, dict[str, list[str]], list[dict]]:
    """(design, groups of SAEs, pairs with their SAEs) of the SAE-unit test of contrast ``obs`` vs ``null``
    (:func:`featevo.claims.sae_contrast`)."""
    comps = [{"a": c.a, "b": c.b, "family": c.family, "name": c.name} for c in a.comps]
    return sae_contrast(comps, {n: s.model for n, s in a.specs.items()}, obs, null)


def family_claims(a: CompareAnalysis, alpha: float) -> list[dict]:
    """Every statistic of :data:`CLAIM_STATS` but the :data:`PARTS` for every contrast of :data:`CONTRASTS`, tested
    with the SAE as the unit; the matched-fraction claim carries new and lost latents as its parts."""
    out = []
    for obs, null in CONTRASTS:
        if not a.family(obs) or not a.family(null):
            continue
        design, groups, comps = contrast_design(a, obs, null)
        for stat, (alt, claim, neg) in CLAIM_STATS.items():
            if stat in PARTS:
                continue
            pairs = [{"a": c["a"], "b": c["b"], "value": a.stats[c["name"]][stat]} for c in comps]
            negation = f"{FAMILY_NOUN[obs]} {neg} than {FAMILY_NOUN[null]}: {NO_CHANGE[(obs, null)]}"
            c = sae_family_claim(f"{stat}:{obs}_vs_{null}", f"{FAMILY_NOUN[obs]} {claim} than {FAMILY_NOUN[null]}",
                                 pairs, groups, design, alt, alpha, obs, null, negation=negation, stat=stat,
                                 lens="matching", role=CONTRAST_ROLE[(obs, null)])
            if not c["observed"]["n"] or not c["null"]["n"]:
                continue
            if stat == "matched_fraction":
                c["parts"] = {p: {"observed": describe(a.values(obs, p)), "null": describe(a.values(null, p)),
                                  "what": CLAIM_STATS[p][1]} for p in PARTS}
            out.append(c)
    return out


def dictionary_size(cfg: PipelineConfig, a: CompareAnalysis) -> tuple[dict, list[dict]]:
    """Seed stability of the base model's SAEs at the main and the wide size, and its claims."""
    cc, out, claims = cfg.compare, {}, []
    groups = {"main": ("seed", "base"), "wide": ("wide-seed", None)}
    for size, (family, model) in groups.items():
        comps = [c for c in a.family(family) if model is None or a.specs[c.a].model == model]
        if not comps:
            continue
        n = a.d_sae[comps[0].a]
        mf, sf = a.values(family, "matched_fraction", model), a.values(family, "shared_fraction", model)
        out[size] = {"num_latents": n, "comparisons": [c.name for c in comps], "matched_fraction": describe(mf),
                     "shared_fraction": describe(sf),
                     "above_chance_fraction": describe(a.values(family, "above_chance_fraction", model)),
                     "stable": min(mf) >= cc.stable_fraction}
        claims.append(threshold_claim(
            f"seed_stability:{size}", f"feature-level matching is seed-stable at {n} latents: every pair of base-model "
            f"seeds matches at least {100 * cc.stable_fraction:.0f}% of its latents", mf, cc.stable_fraction,
            f"{family} ({n} latents)", negation=f"feature-level matching is not seed-stable at {n} latents: a pair of "
            f"base-model seeds matches fewer than {100 * cc.stable_fraction:.0f}% of its latents, so a single latent "
            "is not a reproducible unit and per-feature claims at this size are not meaningful",
            stat="matched_fraction", lens="matching", role="check"))
    if "main" in out and "wide" in out:
        nm, nw = out["main"]["num_latents"], out["wide"]["num_latents"]
        claims.append(family_claim(
            "seed_stability:wide_vs_main", f"base-model seeds match more of their latents at {nw} than at {nm} latents",
            a.values("wide-seed", "matched_fraction"), a.values("seed", "matched_fraction", "base"), "greater",
            cc.alpha, "wide-seed", "seed (base model)", negation=f"seed stability at {nw} latents is not detectably "
            f"higher than at {nm} latents", stat="matched_fraction", lens="matching", role="check"))
    out["stable_fraction"] = cc.stable_fraction
    return out, claims


def family_summary(a: CompareAnalysis) -> dict:
    """Per family present: its comparisons and, per statistic, mean, range and bootstrap interval."""
    out = {}
    for fam in FAMILY_ORDER:
        comps = a.family(fam)
        if comps:
            out[fam] = {"comparisons": [c.name for c in comps],
                        **{stat: describe(a.values(fam, stat)) for stat in STAT_DOCS}}
    return out


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------
def latent_rows(m: Matching, freq_a: np.ndarray, freq_b: np.ndarray, name_a: str, name_b: str) -> list[dict]:
    rows = []
    for name, n, cls, dec, act, best, freq, live, is_a in (
        (name_a, len(m.class_a), m.class_a, m.dec_match_a, m.act_match_a, m.best_cos_a, freq_a, m.live_a, True),
        (name_b, len(m.class_b), m.class_b, m.dec_match_b, m.act_match_b, m.best_cos_b, freq_b, m.live_b, False),
    ):
        for i in range(n):
            j, k = int(dec[i]), int(act[i])
            cos_ij = (m.cos[i, j] if is_a else m.cos[j, i]) if j >= 0 else None
            pcorr = (m.corr[i, j] if is_a else m.corr[j, i]) if j >= 0 else None
            acorr = (m.corr[i, k] if is_a else m.corr[k, i]) if k >= 0 else None
            rows.append({
                "sae": name, "latent": i, "class": cls[i], "firing_frequency": float(freq[i]),
                "match_decoder": j if j >= 0 else None, "decoder_cosine": cos_ij,
                "pair_activation_correlation": pcorr,
                "best_decoder_cosine": float(best[i]) if live[i] else None,
                "match_activation": k if k >= 0 else None, "activation_correlation": acorr,
                "matches_agree": (j == k) if j >= 0 else None,
            })
    return rows


def pair_rows(m: Matching, first: str = "base_latent", second: str = "tuned_latent") -> list[dict]:
    """The decoder pairs of ``m``; ``first``/``second`` name the columns of the two sides' latents."""
    return [{"pair_id": k, first: int(a), second: int(b), "decoder_cosine": float(c),
             "activation_correlation": float(r), "class": cl, "activation_match_agrees": bool(ag)}
            for k, (a, b, c, r, cl, ag) in enumerate(zip(m.pair_a, m.pair_b, m.pair_cos, m.pair_corr,
                                                         m.pair_class, m.pair_agree))]


def comparison_row(a: CompareAnalysis, c: Comparison) -> dict:
    s, m = a.stats[c.name], a.matchings[c.name]
    med = [float(np.median(best[live])) if live.any() else None
           for best, live in ((m.best_cos_a, m.live_a), (m.best_cos_b, m.live_b))]
    return {"comparison": c.name, "family": c.family, "sae_a": c.a, "sae_b": c.b, "d_sae_a": a.d_sae[c.a],
            "d_sae_b": a.d_sae[c.b], **{k: s[k] for k in COMPARISONS.fields if k in s},
            "chance_p99": a.chance[c.b]["p99"], "best_cosine_median_a": med[0], "best_cosine_median_b": med[1]}


def write_tables(folder: Path, a: CompareAnalysis) -> None:
    p = a.primary
    LATENTS.write(folder, latent_rows(a.main, a.freq[p.a], a.freq[p.b], p.a, p.b))
    PAIRS.write(folder, pair_rows(a.main))
    ALL_PAIRS.write(folder, [{"comparison": c.name, "family": c.family, "sae_a": c.a, "sae_b": c.b, **r}
                             for c in a.comps for r in pair_rows(a.matchings[c.name], "latent_a", "latent_b")])
    COMPARISONS.write(folder, [comparison_row(a, c) for c in a.comps])


def build_summary(cfg: PipelineConfig, a: CompareAnalysis, wall_time_s: float) -> dict:
    cc, p = cfg.compare, a.primary
    size, size_claims = dictionary_size(cfg, a)
    claims = family_claims(a, cc.alpha) + size_claims
    wide = next((n for n, s in a.specs.items() if s.wide), None)
    fams = family_summary(a)
    return {
        "description": "latents of every SAE comparison paired by decoder cosine (Hungarian) and by activation "
                       "correlation; classes and continuum per featevo/matching.py; families per "
                       "featevo/layout.py FAMILIES; claims per featevo/claims.py",
        "families": {f: FAMILIES[f] for f in fams},
        "statistics": STAT_DOCS,
        "primary": p.name,
        "thresholds": {"shared_threshold": cc.shared_threshold, "new_threshold": cc.new_threshold,
                       "shifted_correlation": cc.shifted_correlation},
        "alpha": cc.alpha,
        "token_rows": a.token_rows,
        "token_source": "stage 01 eval split first, then train split (same rows for every SAE; each SAE encodes "
                        "its own model's activations)",
        "d_sae": a.d_sae,
        "sae_seeds": a.seeds,
        "same_seed_warning": a.same_seed,
        "firing": {n: {"dead": int((f == 0).sum()), "mean_frequency": float(f.mean())} for n, f in a.freq.items()},
        "comparisons": {c.name: {"family": c.family, "a": c.a, "b": c.b, "stats": a.stats[c.name],
                                 "continuum": {side: continuum(best, live, tuple(cc.continuum_grid))
                                               for side, best, live in (
                                                   ("a", a.matchings[c.name].best_cos_a, a.matchings[c.name].live_a),
                                                   ("b", a.matchings[c.name].best_cos_b, a.matchings[c.name].live_b))},
                                 "chance_p99": a.chance[c.b]["p99"]}
                        for c in a.comps},
        "family_stats": fams,
        "base_vs_tuned": a.main.summary(p.a, p.b),
        "chance_best_decoder_cosine": {"main": a.chance[p.b], **({"wide": a.chance[wide]} if wide else {})},
        "continuum_grid": list(cc.continuum_grid),
        "dictionary_size": size,
        "transfer": a.transfer,
        "claims": claims,
        "wall_time_s": wall_time_s,
    }


def write_figures(folder: Path, a: CompareAnalysis, summary: dict, cc: CompareConfig) -> None:
    from featevo.figures import continuum_curves, matched_scatter, similarity_histogram

    groups = {}
    for fam in ("fine-tuning", "seed", "control"):
        ms = [a.matchings[c.name] for c in a.family(fam)]
        if ms:
            groups[f"{fam} ({len(ms)} comparisons, pooled)"] = (np.concatenate([m.pair_cos for m in ms]),
                                                                np.concatenate([m.pair_corr for m in ms]))
    chance = summary["chance_best_decoder_cosine"]["main"]
    similarity_histogram(groups, cc, chance, folder / CompareFiles.SIMILARITY_HIST)
    matched_scatter(groups, cc, folder / CompareFiles.MATCHED_SCATTER)
    curves = {}
    for fam in FAMILY_ORDER:
        comps = a.family(fam)
        if comps:
            curves[fam] = [[summary["comparisons"][c.name]["continuum"][side]["fraction_at_or_above"].get(f"{t:g}")
                            for t in cc.continuum_grid] for c in comps for side in ("a", "b")]
    chances = {k: v["p99"] for k, v in summary["chance_best_decoder_cosine"].items()}
    continuum_curves(cc.continuum_grid, curves, chances, cc.new_threshold, folder / CompareFiles.CONTINUUM)


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 02 (needs stage 01); returns the stage folder."""
    return run_stage(cfg, COMPARE, compute, force)


def compute(cfg: PipelineConfig, out_dir: Path) -> dict:
    """Stage 02 into ``out_dir`` (the runner checks its upstream and commits); returns its summary."""
    from featevo.models import resolve_device

    t0 = time.time()
    device = resolve_device(cfg.device)
    a = analyse(cfg, stage_dir(cfg, TRAIN), device)
    write_tables(out_dir, a)
    summary = build_summary(cfg, a, round(time.time() - t0, 2))
    write_figures(out_dir, a, summary, cfg.compare)
    summary["wall_time_s"] = round(time.time() - t0, 2)
    atomic_write_json(out_dir / CompareFiles.SUMMARY, summary)
    for c in summary["claims"]:
        logger.info("claim %s: %s (p = %s)", c["id"], "supported" if c["supported"] else "not supported",
                    c.get("test", {}).get("p"))
    return summary
