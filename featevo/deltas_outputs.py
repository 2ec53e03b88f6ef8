"""Stage 03's latent-level outputs beside its tables: every base and tuned latent's top-activating contexts
(``contexts/<sae>.json``, for stages 04 and 05), its activation histogram on stage 01's eval split
(``activation_histograms.csv``, :mod:`featevo.histograms`, for the report's feature cards) and the study's
four-panel figure. Called by :func:`featevo.deltas.write_all`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from featevo.config import PipelineConfig
from featevo.data import TARGET, REFERENCE
from featevo.histograms import histogram_rows
from featevo.io import atomic_write_json
from featevo.layout import TRAIN, DeltasFiles, contexts_path, models as run_models, sae_specs, stage_dir
from featevo.probe import ACTIVATION_UNIT, Source, eval_source, top_contexts
from featevo.results import HISTOGRAMS

CONTEXT_SAES = ("base", "tuned")
"""The SAEs whose latents get contexts, histograms and cards."""


def write_contexts(cfg: PipelineConfig, folder: Path, probe: Source, saes: dict) -> None:
    """``contexts/<base|tuned>.json``: per latent, its top-activating sentences (for stages 04 and 05)."""
    from featevo.models import load_tokenizer

    dc = cfg.deltas
    tok = load_tokenizer(run_models(cfg)["base"])
    sources = [probe]
    if dc.contexts_from_eval:
        sae_models = {n: s.model for n, s in sae_specs(cfg).items()}
        sources.append(eval_source(stage_dir(cfg, TRAIN), saes, sae_models, CONTEXT_SAES))
    for n in CONTEXT_SAES:
        ctx = top_contexts(sources, n, dc.contexts_per_latent, dc.context_window, tok)
        atomic_write_json(contexts_path(folder, n), {
            "sae": n, "activation_unit": ACTIVATION_UNIT, "context_window": dc.context_window,
            "sources": {s.name: {"documents": len(s.docs)} for s in sources},
            "note": "per latent: top-activating sentences (one context per sentence); 'doc' indexes the "
                    "source ('probe': data.probe lines in file order; 'eval': 01_train_sae/eval/docs.jsonl); "
                    "tokens are the kept (SAE) tokens around the maximum; max_pos indexes tokens/acts",
            "latents": ctx,
        })


def write_four_panel(folder: Path, a, top_n: int) -> None:
    """The study's figure 3.1 on the ``top_n`` primary pairs with the largest |z| (``a``: stage 03's
    :class:`featevo.deltas.DeltasAnalysis`, not imported here: a stage module imports no other)."""
    from featevo.figures import four_panel, seed_band

    e, info = a.main, a.probe
    top_k = [int(k) for k in np.argsort(-np.abs(e.full.z), kind="stable")[:top_n]]
    top = [{"label": f"b{e.a[k]}->t{e.b[k]}", "did": e.full.did[k], "lo": e.full.lo[k], "hi": e.full.hi[k],
            "discovered": bool(e.discovered[k])} for k in top_k]
    sel = [info.cat_of == c for c in info.categories]
    heat = (np.stack([[a.X["tuned"][s, e.b[k]].mean() - a.X["base"][s, e.a[k]].mean() for s in sel] for k in top_k])
            if top_k else np.zeros((0, len(info.categories))))
    z_groups = {}
    for fam in ("fine-tuning", "seed", "control"):
        zs = [x.full.z for x in a.effects.values() if x.family == fam]
        if zs:
            z_groups[f"{fam} ({len(zs)} comparisons)"] = np.concatenate(zs)
    four_panel(top, a.stats["base"].spec[e.a], a.stats["tuned"].spec[e.b], e.discovered, z_groups, heat,
               [r["label"] for r in top], info.categories, info.n_target_categories,
               folder / DeltasFiles.FOUR_PANEL, activation_unit=ACTIVATION_UNIT,
               domains=(info.names[TARGET], info.names[REFERENCE]),
               seed_band=seed_band([x.full.did for x in a.effects.values() if x.family == "seed"]))


def write_histograms(cfg: PipelineConfig, folder: Path, saes: dict) -> None:
    """``activation_histograms.csv``: every latent of the :data:`CONTEXT_SAES` encoded on stage 01's eval split."""
    sae_models = {n: s.model for n, s in sae_specs(cfg).items()}
    HISTOGRAMS.write(folder, histogram_rows(stage_dir(cfg, TRAIN), saes, sae_models, CONTEXT_SAES))
