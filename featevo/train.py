"""Stage 01 logic: the twin (``01_twin``, demo), tokens, activations, SAEs and their quality metrics.

The layout of ``outputs/<run>/01_train_sae/`` is :class:`featevo.layout.TrainFiles`; the models and
the SAEs (names, models, seeds) are :func:`featevo.layout.models` and :func:`featevo.layout.sae_specs`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import torch

from featevo.activations import ActivationStore, harvest, save_tokens, tokenize_windows
from featevo.config import PipelineConfig
from featevo.data import TARGET, load_corpus
from featevo.errors import ConfigError, ModelLoadError
from featevo.fidelity import activation_mean, loss_recovered_many
from featevo.io import atomic_write_json
from featevo.layout import (
    TRAIN, TWIN, SaeSpec, TrainFiles, acts_dir, model_label, models as run_models, sae_metrics_path, sae_specs,
    sae_work_dir, split_dir,
)
from featevo.results import load_sae_metrics, load_twin_report
from featevo.models import (
    check_layer, check_layer_from_config, head_kind, hookpoint_name, load_model, load_tokenizer, resolve_device,
    same_tokenizer,
)
from featevo.runner import execute, run_stage
from featevo.sae import load_sae, reconstruction_metrics, train_sae

logger = logging.getLogger(__name__)


def run_twin(cfg: PipelineConfig, force: bool = False, stop_after: int | None = None) -> dict | None:
    """Make the twins (stage ``01_twin``) unless they are current; returns their report (None without a twin)."""
    if not cfg.twin.enabled:
        logger.info("twin.enabled is false: the tuned model is %s", cfg.tuned_model.name)
        return None
    out, report = execute(cfg, TWIN, lambda c, d: compute_twin(c, d, stop_after), force, check=check_twin)
    return report if report is not None else load_twin_report(out)


def check_twin(cfg: PipelineConfig) -> None:
    """Before any training: the hooked layer exists, and every planted word occurs in the target-domain part of
    the training split (a plant of a word the planted twin never reads is no plant: it would train for minutes
    and recover nothing)."""
    from featevo.planting import plant

    check_layer_from_config(cfg.base_model, cfg.harvest.layer)  # not after tuning
    if not cfg.twin.planted:
        return
    train, _ = load_corpus(cfg.data, cfg.seed)
    fin = [d for d in train if d.domain == TARGET]
    for word, repl in cfg.twin.planted.items():
        n = sum(plant(d.text, {word: repl})[1] for d in fin)
        if n == 0:
            raise ConfigError(f"twin.planted: {word!r} occurs in no {cfg.data.target_domain!r} training document of "
                              f"{cfg.data.corpus}; plant a word of that domain's text")
        logger.debug("plant %r -> %r: %d occurrences in %d %s training documents", word, repl, n, len(fin),
                    cfg.data.target_domain)


def compute_twin(cfg: PipelineConfig, out_dir: Path, stop_after: int | None = None) -> dict:
    """Stage ``01_twin`` into ``out_dir``: the twins' ``save_pretrained`` folders; returns the twin report."""
    from featevo.activations import Windowing
    from featevo.twin import make_twins

    device = resolve_device(cfg.device)
    train, evald = load_corpus(cfg.data, cfg.seed)
    h = cfg.harvest
    return make_twins(cfg.base_model, cfg.twin, train, evald, out_dir, cfg.seed, device,
                      Windowing(h.max_length, h.stride, h.max_windows), stop_after=stop_after,
                      tuned_cfg=cfg.tuned_model)


def run(cfg: PipelineConfig, force: bool = False, stop_after_steps: int | None = None) -> Path:
    """Run stage 01 end to end (making the twins first when configured and missing or stale; ``force`` reruns
    this stage, not its upstream twin stage, which has its own script); returns the stage folder."""
    run_twin(cfg)
    seeds: dict = {"sae_seeds": {name: s.seed for name, s in sae_specs(cfg).items()}}
    if cfg.twin.enabled:
        seeds["twin_seed"] = cfg.seed
    return run_stage(cfg, TRAIN, lambda c, d: compute(c, d, stop_after_steps), force, extra=seeds,
                     manifest=lambda r: {"tokenisation": r["tokenisation"]}, check=check_train)


def check_train(cfg: PipelineConfig) -> dict:
    """Before any work: the activations and SAEs fit the output root's disk
    (:func:`featevo.harvest_budget.check_disk`, on the corpus's kept tokens after windowing and
    ``harvest.max_tokens``); returns the need and the free space."""
    from featevo.harvest_budget import check_disk
    from featevo.models import hidden_size

    _, tok, _ = split_tokens(cfg)
    kept = sum(int(t["keep_mask"].sum()) for t in tok.values())
    return check_disk(cfg, kept, hidden_size(run_models(cfg)["base"]))


def split_tokens(cfg: PipelineConfig) -> tuple[dict, dict, dict]:
    """Documents, tokens and accounting of both corpus splits, windowed with the base tokenizer
    (:func:`featevo.activations.tokenize_windows`) and cut to ``harvest.max_tokens``
    (:func:`featevo.harvest_budget.cap_tokens`)."""
    from featevo.harvest_budget import cap_tokens, split_caps

    train, evald = load_corpus(cfg.data, cfg.seed)
    tok = load_tokenizer(run_models(cfg)["base"])
    h = cfg.harvest
    docs, tokens, stats = {"train": train, "eval": evald}, {}, {}
    for split, d in docs.items():
        tokens[split], stats[split] = tokenize_windows(tok, d, h.max_length, h.exclude_special_tokens, h.stride,
                                                       h.max_windows)
    caps = split_caps({s: st["tokens_kept"] for s, st in stats.items()}, h.max_tokens)
    for split in docs:
        tokens[split], stats[split], docs[split] = cap_tokens(tokens[split], stats[split], docs[split], caps[split])
    return docs, tokens, stats


def compute(cfg: PipelineConfig, out_dir: Path, stop_after_steps: int | None = None) -> dict:
    """Stage 01 into ``out_dir``: tokens, activations, SAEs and their metrics; returns ``{"summary": every SAE's
    metrics, "tokenisation": per split the accounting of documents, windows and tokens}``."""
    device = resolve_device(cfg.device)
    specs = sae_specs(cfg)
    tokens, tokenisation = write_tokens(cfg, out_dir)
    model_info = harvest_models(cfg, out_dir, tokens, device)
    for name, spec in specs.items():
        train_one_sae(cfg, out_dir, spec, model_info, device, stop_after_steps)
    summary = evaluate_saes(cfg, out_dir, specs, device)
    atomic_write_json(out_dir / TrainFiles.SUMMARY, summary)
    from featevo.plots import training_curves

    training_curves({k: sae_work_dir(out_dir, k) for k in summary}, out_dir / TrainFiles.CURVES)
    return {"summary": summary, "tokenisation": tokenisation}


def write_tokens(cfg: PipelineConfig, out: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """Tokenise the corpus splits once with the base tokenizer (every model reads exactly these tokens), long
    documents split into windows (:func:`featevo.activations.tokenize_windows`). Returns the tokens and, per
    split, the accounting of documents, windows, tokens kept and dropped by cause (recorded in the manifest)."""
    models = run_models(cfg)
    toks = {k: load_tokenizer(m) for k, m in models.items()}
    for k in models:
        if not same_tokenizer(toks["base"], toks[k]):
            raise ModelLoadError(
                f"models '{models['base'].name}' and '{models[k].name}' have different tokenizers; featevo "
                f"compares a base model with a fine-tuned copy that shares its vocabulary")
    h = cfg.harvest
    docs, tokens, stats = split_tokens(cfg)
    for split in docs:
        if not (split_dir(out, split) / TrainFiles.TOKENS).is_file():
            save_tokens(split_dir(out, split), tokens[split], docs[split])
        s = stats[split]
        logger.info("corpus %s: %d documents in %d windows (%d split), %d of %d tokens kept; dropped: %s",
                    split, s["documents"], s["windows"], s["documents_split"], s["tokens_kept"], s["tokens_total"],
                    ", ".join(f"{k} {v}" for k, v in s["dropped"].items()))
        if s["dropped"]["truncation"]:
            logger.warning("corpus %s: %d tokens dropped by harvest.max_windows=%s", split,
                           s["dropped"]["truncation"], h.max_windows)
        if s["dropped"].get("max_tokens"):
            logger.warning("corpus %s: %d kept tokens (%d documents) cut by harvest.max_tokens=%d", split,
                           s["dropped"]["max_tokens"], s["documents_cut"], h.max_tokens)
    return tokens, stats


def harvest_models(cfg: PipelineConfig, out: Path, tokens: dict, device: torch.device) -> dict:
    """Layer activations of every model on both splits; writes and returns ``models.json``."""
    model_info = {}
    for key, mcfg in run_models(cfg).items():
        head = head_kind(mcfg)
        model = load_model(mcfg, head="none", device=device, dtype=cfg.harvest.dtype)
        check_layer(model, cfg.harvest.layer, mcfg.name)
        for split in TrainFiles.SPLITS:
            harvest(model, tokens[split], cfg.harvest.layer, acts_dir(out, split, key), cfg.harvest.batch_size,
                    cfg.harvest.shard_tokens, device, model_label(cfg, key), desc=f"harvest {key}/{split}",
                    store_dtype=cfg.harvest.store_dtype)
        model_info[key] = {
            "name": model_label(cfg, key), "configured_as": _configured_as(cfg, key), "fidelity_head": head,
            "hookpoint": hookpoint_name(model, cfg.harvest.layer), "layer": cfg.harvest.layer,
            "d_in": ActivationStore(acts_dir(out, "train", key)).d_in,
        }
        del model
    atomic_write_json(out / TrainFiles.MODELS, model_info)
    return model_info


def _configured_as(cfg: PipelineConfig, key: str) -> str:
    if key == "base":
        return cfg.base_model.name
    if not cfg.twin.enabled or (key == "tuned" and cfg.tuned_model is not None):
        return cfg.tuned_model.name
    given = {"control": cfg.twin.control_model}.get(key)
    if given is not None:
        return given.name
    t, r = cfg.data.target_domain, cfg.data.reference_domain
    return {"tuned": f"twin: continued masked-LM pretraining on the {t} documents",
            "control": f"control twin: the same recipe on the {r} documents",
            "planted": "planted twin: the tuned twin's recipe and documents with a concept planted"}[key]


def train_one_sae(cfg: PipelineConfig, out: Path, spec: SaeSpec, model_info: dict, device: torch.device,
                  stop_after_steps: int | None = None) -> None:
    """Train SAE ``spec`` on its model's training activations (skipped when already trained)."""
    sae_cfg = cfg.sae if not spec.wide else dataclasses.replace(cfg.sae, num_latents=spec.num_latents,
                                                                expansion_factor=None)
    train_sae(ActivationStore(acts_dir(out, "train", spec.model)), sae_cfg, sae_work_dir(out, spec.name), spec.seed,
              device, model_name=model_info[spec.model]["name"], hookpoint=model_info[spec.model]["hookpoint"],
              desc=spec.name, stop_after_steps=stop_after_steps, wandb_cfg=cfg.wandb)


def evaluate_saes(cfg: PipelineConfig, out: Path, specs: dict[str, SaeSpec], device: torch.device) -> dict:
    """Held-out FVU / L0 / dead latents of every SAE and its loss recovered; every SAE of a model is spliced
    in on the same masked tokens (seed ``cfg.seed``), so their losses compare. Writes ``metrics.json`` each."""
    from featevo.activations import TokenTable

    summary: dict = {}
    tt = TokenTable(split_dir(out, "eval"))
    tokens = {"input_ids": tt.input_ids, "attention_mask": tt.attention_mask, "keep_mask": tt.keep_mask}
    for key, mcfg in run_models(cfg).items():
        names = [n for n, s in specs.items() if s.model == key]
        todo = [n for n in names if not sae_metrics_path(out, n).is_file()]
        saes = {n: load_sae(sae_work_dir(out, n) / TrainFiles.SAE, device) for n in todo}
        head = head_kind(mcfg)
        fidelity = {n: {"head": head} for n in todo}
        if head != "none" and todo:
            model = load_model(mcfg, head=head, device=device)
            fidelity = loss_recovered_many(
                model, head, {n: (lambda h, s=saes[n]: s.decode(s.encode(h))) for n in todo}, tokens,
                cfg.harvest.layer, load_tokenizer(mcfg).mask_token_id, device, seed=cfg.seed,
                max_docs=cfg.sae.eval_docs, desc=f"loss recovered {key}",
                mean_activation=activation_mean(ActivationStore(acts_dir(out, "train", key)).iter_rows()))
            del model
        for n in names:
            if n in todo:
                metrics = _reconstruction(cfg, out, saes[n], key)
                metrics.update(fidelity=fidelity[n], model=key, seed=specs[n].seed,
                               train=read_train_done(sae_work_dir(out, n)))
                atomic_write_json(sae_metrics_path(out, n), metrics)
                logger.info("SAE %s: FVU %.3f, L0 %.1f, dead %.1f%%, loss recovered %s at real-token positions "
                            "(%s at [MASK] positions)", n, metrics["fvu"], metrics["l0"],
                            100 * metrics["dead_fraction"], _fmt(fidelity[n].get("loss_recovered")),
                            _fmt(fidelity[n].get("loss_recovered_mask_positions")))
            summary[n] = {k: v for k, v in load_sae_metrics(out, n).items() if k != "firing_frequency"}
    return {n: summary[n] for n in specs}


def read_train_done(work: Path) -> dict:
    from featevo.io import read_json

    return read_json(work / TrainFiles.TRAIN_DONE)


def _reconstruction(cfg: PipelineConfig, out: Path, sae, key: str) -> dict:
    rec = reconstruction_metrics(sae, ActivationStore(acts_dir(out, "eval", key)))
    train_freq = reconstruction_metrics(sae, ActivationStore(acts_dir(out, "train", key)),
                                        max_rows=cfg.sae.dead_window_tokens)
    return {**rec, "dead_fraction": train_freq["dead_fraction_eval"],
            "dead_window": f"never fired on the first {train_freq['rows']} training tokens",
            "d_sae": sae.cfg.d_sae, "k": sae.cfg.k, "d_in": sae.cfg.d_in}


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"
