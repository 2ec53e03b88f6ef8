"""Export every SAE's features as SAEDashboard / Neuronpedia JSON.

    python -m featevo.export --config configs/demo.yaml [--set ...] [--sae tuned --sae base] [--top 20]

Writes ``outputs/<run>/05_report/exports/`` (:attr:`featevo.layout.ReportFiles.EXPORTS`)::

    index.json              the SAEs exported, their files, the activation unit and where the numbers come from
    <sae>/batch-0.json      one SAEDashboard ``NeuronpediaDashboardBatch``: model_id, layer, sae_set, sae_id_suffix,
                            features[] -- exactly the fields SAEDashboard's own reader takes, so
                            ``NeuronpediaDashboardBatch(**json.load(f))`` loads it and ``to_dict()`` gives it back
    <sae>/featevo.json      what that format has no field for, per feature index: quantiles (of the nonzero
                            activations), max_act, mean_act, n_tokens, explanations (the Delphi label of stage 04,
                            Neuronpedia's explanation shape) and each top context's source (text, category, doc)

Each feature is SAEDashboard's ``NeuronpediaDashboardFeature`` (``feature_index``, ``frac_nonzero``,
``freq_hist_data_bar_values`` / ``_heights``, ``n_prompts_total``, ``n_tokens_in_prompt``, ``dataset``,
``activations``: top-activating contexts as ``NeuronpediaDashboardActivation`` ``tokens`` / ``values`` /
``qualifying_token_index``, the max token). Logit tables (``pos_str``, ``neg_str``) are left empty: the models are
encoders without a fixed unembedding.

Numbers are computed on stage 01's held-out ``eval`` split, each SAE encoding its own model's activations
(the same encode path and unit, activation x decoder norm, as stage 03's contexts). Needs stage 01; labels
are added when stage 04 has run. A rerun of stage 05 keeps the exports (:func:`carry_exports` copies them into
the new stage folder, where its manifest hashes them) while the stages they were computed from are unchanged;
when one has changed they are dropped with a log line saying to export again.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from pathlib import Path

import numpy as np

from featevo.config import PipelineConfig
from featevo.errors import FeatevoError, StageError
from featevo.io import atomic_path, atomic_write_json, read_json, require_stage, stage_fingerprint
from featevo.layout import (
    INTERPRET, REPORT, TRAIN, ReportFiles, display_path, model_label, models as run_models, sae_dir, sae_specs,
    stage_dir,
)

logger = logging.getLogger(__name__)

QUANTILES = (0.5, 0.9, 0.99)
HIST_BINS = 20
BATCH = "batch-0.json"
EXTRAS = "featevo.json"


def exports_dir(cfg: PipelineConfig):
    return stage_dir(cfg, REPORT) / ReportFiles.EXPORTS


def exports_current(cfg: PipelineConfig, folder) -> tuple[bool, str]:
    """(True, "") when ``folder`` holds an export whose source stages (``index.json``'s ``source_stages``) are
    the current ones, else (False, why)."""
    idx = Path(folder) / "index.json"
    if not idx.is_file():
        return False, "no index.json"
    try:
        recorded = read_json(idx).get("source_stages") or {}
    except (OSError, ValueError, StageError) as e:
        return False, f"unreadable index.json ({e})"
    if TRAIN not in recorded:
        return False, "index.json records no source stages"
    for stage, fp in recorded.items():
        try:
            now = stage_fingerprint(cfg, stage)
        except (OSError, ValueError, StageError):
            return False, f"stage {stage} is missing"
        if now != fp:
            return False, f"stage {stage} changed since the export"
    if INTERPRET not in recorded and (stage_dir(cfg, INTERPRET) / "manifest.json").is_file():
        return False, f"stage {INTERPRET} ran after the export (its labels are missing)"
    return True, ""


def carry_exports(cfg: PipelineConfig, dest) -> bool:
    """Copy the current exports of the finished stage 05 into ``dest`` (the new stage 05 folder being written)
    when they are still current; returns whether they were kept."""
    src = exports_dir(cfg)
    if not src.is_dir():
        return False
    ok, why = exports_current(cfg, src)
    if not ok:
        logger.warning("dropping the exports of the previous stage 05 (%s); export again: python -m featevo.export "
                       "--config ...", why)
        return False
    target = Path(dest) / ReportFiles.EXPORTS
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(src, target)
    logger.info("kept the exports of the previous stage 05 (%s)", display_path(src))
    return True


def latent_statistics(z: np.ndarray, bins: int = HIST_BINS) -> list[dict]:
    """Per latent (column of ``z`` [tokens, d_sae]): firing density, quantiles of its nonzero activations, their
    histogram, max and mean (over all tokens)."""
    out = []
    n = z.shape[0]
    for j in range(z.shape[1]):
        col = z[:, j]
        nz = col[col > 0]
        st = {"frac_nonzero": float(nz.size / n) if n else 0.0, "n_tokens": int(n),
              "max_act": float(nz.max()) if nz.size else 0.0, "mean_act": float(col.mean()) if n else 0.0,
              "quantiles": {str(q): (float(np.quantile(nz, q)) if nz.size else None) for q in QUANTILES},
              "freq_hist_data_bar_values": [], "freq_hist_data_bar_heights": []}
        if nz.size:
            heights, edges = np.histogram(nz, bins=bins)
            st["freq_hist_data_bar_values"] = [float(v) for v in (edges[:-1] + edges[1:]) / 2]
            st["freq_hist_data_bar_heights"] = [int(h) for h in heights]
        out.append(st)
    return out


def _labels(cfg: PipelineConfig) -> tuple[dict[tuple[str, int], str], str]:
    """(sae, latent) -> Delphi label from stage 04 when it has run, and the explainer's name."""
    from featevo.results import InterpretResult

    s4 = stage_dir(cfg, INTERPRET)
    if not (s4 / "manifest.json").is_file():
        return {}, ""
    res = InterpretResult.load(s4)
    backend = res.summary.get("backend", {}) if isinstance(res.summary, dict) else {}
    out = {}
    for r in res.labels:
        for side in ("base", "tuned"):
            lat, text = r[f"{side}_latent"], r[f"{side}_label"]
            if lat is not None and text and not str(text).startswith("[failed"):
                out[(side, int(lat))] = str(text)
    return out, str(backend.get("model", ""))


def _activation(ctx: dict) -> dict:
    """A stage-03-style context as SAEDashboard's ``NeuronpediaDashboardActivation`` (top examples, not a
    quantile bin: bin fields -1)."""
    return {"bin_min": -1, "bin_max": -1, "bin_contains": -1, "tokens": ctx["tokens"], "values": ctx["acts"],
            "qualifying_token_index": int(ctx["max_pos"])}


def _context_source(ctx: dict) -> dict:
    return {"max_value": ctx["max_act"], "text": ctx["text"], "category": ctx["category"], "source": ctx["source"],
            "doc": ctx["doc"]}


def export_run(cfg: PipelineConfig, saes: list[str] | None = None, top: int | None = None) -> dict:
    """Write the exports of ``saes`` (default: every SAE of the run) and return the index written."""
    from featevo.models import load_tokenizer
    from featevo.probe import ACTIVATION_UNIT, eval_source, top_contexts
    from featevo.sae import load_sae

    require_stage(cfg, TRAIN, verify_files=False)
    specs = sae_specs(cfg)
    names = list(specs) if not saes else saes
    unknown = [n for n in names if n not in specs]
    if unknown:
        raise FeatevoError(f"--sae {unknown[0]}: no such SAE in run {cfg.run_name} (SAEs: {', '.join(specs)})")
    top = top or cfg.deltas.contexts_per_latent
    window = cfg.deltas.context_window
    s1 = stage_dir(cfg, TRAIN)
    tok = load_tokenizer(run_models(cfg)["base"])
    labels, explainer = _labels(cfg)
    index = {"run": cfg.run_name, "format": "SAEDashboard NeuronpediaDashboardBatch (one batch per SAE)",
             "activation_unit": ACTIVATION_UNIT, "dataset": "01_train_sae/eval (held-out split)",
             "quantiles_of": "nonzero activations", "top_activations": top, "context_window": window,
             "source_stages": {TRAIN: stage_fingerprint(cfg, TRAIN)}, "saes": {}}
    if labels:
        index["source_stages"][INTERPRET] = stage_fingerprint(cfg, INTERPRET)
    with atomic_path(exports_dir(cfg)) as tmp:
        tmp.mkdir(parents=True)
        for name in names:
            spec = specs[name]
            sae = load_sae(sae_dir(s1, name))
            src = eval_source(s1, {name: sae}, {name: spec.model}, (name,))
            z = src.z[name]
            stats = latent_statistics(z)
            ctx = top_contexts([src], name, top, window, tok)
            features, extras = [], {}
            for j, st in enumerate(stats):
                top_ctx = ctx.get(str(j), [])
                features.append({"feature_index": j, "frac_nonzero": st["frac_nonzero"],
                                 "freq_hist_data_bar_values": st["freq_hist_data_bar_values"],
                                 "freq_hist_data_bar_heights": st["freq_hist_data_bar_heights"],
                                 "n_prompts_total": len(src.docs), "n_tokens_in_prompt": cfg.harvest.max_length,
                                 "dataset": index["dataset"], "pos_str": [], "pos_values": [], "neg_str": [],
                                 "neg_values": [], "activations": [_activation(c) for c in top_ctx]})
                label = labels.get((name, j))
                extras[str(j)] = {"quantiles": st["quantiles"], "max_act": st["max_act"], "mean_act": st["mean_act"],
                                  "n_tokens": st["n_tokens"], "contexts": [_context_source(c) for c in top_ctx],
                                  "explanations": [{"description": label, "explanation_model_name": explainer,
                                                    "typeName": "delphi"}] if label else []}
            batch = {"model_id": model_label(cfg, spec.model), "layer": cfg.harvest.layer, "sae_set": cfg.run_name,
                     "sae_id_suffix": name, "features": features}
            atomic_write_json(tmp / name / BATCH, batch)
            atomic_write_json(tmp / name / EXTRAS, {"hook_name": sae.cfg.metadata.hook_name,
                                                    "d_sae": int(z.shape[1]), "features": extras})
            index["saes"][name] = {"file": f"{name}/{BATCH}", "extras": f"{name}/{EXTRAS}", "model": spec.model,
                                   "features": len(features), "hook_name": sae.cfg.metadata.hook_name,
                                   "labelled": sum(1 for e in extras.values() if e["explanations"])}
            logger.info("exported %s: %d features", name, len(features))
        atomic_write_json(tmp / "index.json", index)
    logger.info("exports written to %s", display_path(exports_dir(cfg)))
    return index


def main(argv: list[str] | None = None) -> int:
    from featevo.cli import run_stage

    def add_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("--sae", action="append", default=[], metavar="NAME",
                       help="export only this SAE (repeatable; default: every SAE of the run)")
        p.add_argument("--top", type=int, default=None, metavar="N",
                       help="top-activating contexts per latent (default: deltas.contexts_per_latent)")

    def run(cfg: PipelineConfig, args: argparse.Namespace) -> None:
        if args.top is not None and args.top < 1:
            raise FeatevoError(f"--top {args.top}: must be >= 1")
        export_run(cfg, args.sae or None, args.top)

    return run_stage(run, REPORT, argv, __doc__, add_arguments=add_arguments, log_name="05_export")


if __name__ == "__main__":
    sys.exit(main())
