"""Stage 01 logic: the twin (``01_twin``, demo), tokens, activations, SAEs and their quality metrics.

The layout of ``outputs/<run>/01_train_sae/`` is :class:`featevo.layout.TrainFiles`; the models and
the SAEs (names, models, seeds) are :func:`featevo.layout.models` and :func:`featevo.layout.sae_specs`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from featevo.activations import ActivationStore, harvest, save_tokens, tokenize_docs
from featevo.config import ModelConfig, PipelineConfig
from featevo.data import input_files, load_corpus
from featevo.errors import ModelLoadError
from featevo.fidelity import loss_recovered
from featevo.io import StageRun, atomic_write_json, hash_inputs, require_stage, stage_is_current
from featevo.layout import (
    TRAIN, TWIN, TrainFiles, acts_dir, display_path, models as run_models, sae_metrics_path, sae_specs, sae_work_dir,
    split_dir, stage_dir, upstream_stages,
)
from featevo.results import load_sae_metrics, load_twin_report
from featevo.models import (
    check_layer, check_layer_from_config, head_kind, hookpoint_name, load_model, load_tokenizer, resolve_device,
    same_tokenizer,
)
from featevo.sae import load_sae, reconstruction_metrics, train_sae

logger = logging.getLogger(__name__)


def run_twin(cfg: PipelineConfig, force: bool = False, stop_after: int | None = None) -> dict | None:
    """Make the domain-tuned twin (stage ``01_twin``) unless it is current."""
    from featevo.twin import make_twin

    if not cfg.twin.enabled:
        logger.info("twin.enabled is false: the tuned model is %s", cfg.tuned_model.name)
        return None
    files = hash_inputs(input_files(cfg.data))
    if not force and stage_is_current(cfg, TWIN, files):
        logger.info("twin is up to date: %s", display_path(stage_dir(cfg, TWIN)))
        return load_twin_report(stage_dir(cfg, TWIN))
    device = resolve_device(cfg.device)
    train, evald = load_corpus(cfg.data, cfg.seed)
    check_layer_from_config(cfg.base_model, cfg.harvest.layer)  # fail now, not after the fine-tuning
    st = StageRun(cfg, TWIN, input_files=files, device=str(device)).open()
    report = make_twin(cfg.base_model, cfg.twin, train, evald, st.dir, cfg.seed, device, cfg.harvest.max_length,
                       stop_after=stop_after)
    st.commit()
    return report


def run(cfg: PipelineConfig, force: bool = False, stop_after_steps: int | None = None) -> Path:
    """Run stage 01 end to end; returns the stage folder."""
    run_twin(cfg, force=force)
    files = hash_inputs(input_files(cfg.data))
    if not force and stage_is_current(cfg, TRAIN, files):
        logger.info("stage %s is up to date (use --force to rerun): %s", TRAIN, display_path(stage_dir(cfg, TRAIN)))
        return stage_dir(cfg, TRAIN)
    for up in upstream_stages(cfg, TRAIN):
        require_stage(cfg, up, verify_files=False)
    device = resolve_device(cfg.device)
    specs = sae_specs(cfg)
    seeds = {"sae_seeds": {name: s.seed for name, s in specs.items()}}
    if cfg.twin.enabled:
        seeds["twin_seed"] = cfg.seed
    st = StageRun(cfg, TRAIN, input_files=files, device=str(device), extra=seeds).open()
    out = st.dir
    models = run_models(cfg)

    # tokens: tokenised once with the base tokenizer; both models read exactly these tokens
    toks = {k: load_tokenizer(m) for k, m in models.items()}
    if not same_tokenizer(toks["base"], toks["tuned"]):
        raise ModelLoadError(
            f"models '{models['base'].name}' and '{models['tuned'].name}' have different tokenizers; "
            f"featevo compares a base model with a fine-tuned copy that shares its vocabulary"
        )
    train, evald = load_corpus(cfg.data, cfg.seed)
    split_docs = {"train": train, "eval": evald}
    tokens = {}
    for split, docs in split_docs.items():
        tokens[split] = tokenize_docs(toks["base"], docs, cfg.harvest.max_length, cfg.harvest.exclude_special_tokens)
        if not (split_dir(out, split) / TrainFiles.TOKENS).is_file():
            save_tokens(split_dir(out, split), tokens[split], docs)
    logger.info("corpus: %d train / %d eval documents, %d / %d SAE tokens", len(train), len(evald),
                int(tokens["train"]["keep_mask"].sum()), int(tokens["eval"]["keep_mask"].sum()))

    # activations + fidelity models
    heads = {k: head_kind(m) for k, m in models.items()}
    model_info = {}
    for key, mcfg in models.items():
        model = load_model(mcfg, head=heads[key] if heads[key] != "none" else "none", device=device,
                           dtype=cfg.harvest.dtype)
        check_layer(model, cfg.harvest.layer, mcfg.name)
        for split in TrainFiles.SPLITS:
            harvest(model, tokens[split], cfg.harvest.layer, acts_dir(out, split, key), cfg.harvest.batch_size,
                    cfg.harvest.shard_tokens, device, mcfg.name, desc=f"harvest {key}/{split}")
        model_info[key] = {
            "name": mcfg.name if not cfg.twin.enabled else display_path(Path(mcfg.name)),
            "configured_as": (cfg.base_model.name if key == "base" else
                              (cfg.tuned_model.name if cfg.tuned_model else "twin made by 01_train_sae/make_twin.py")),
            "fidelity_head": heads[key], "hookpoint": hookpoint_name(model, cfg.harvest.layer),
            "layer": cfg.harvest.layer, "d_in": ActivationStore(acts_dir(out, "train", key)).d_in,
        }
        del model
    atomic_write_json(out / TrainFiles.MODELS, model_info)

    # SAEs
    summary = {}
    for name, spec in specs.items():
        mkey, seed = spec.model, spec.seed
        work = sae_work_dir(out, name)
        metrics_path = sae_metrics_path(out, name)
        if metrics_path.is_file():
            summary[name] = load_sae_metrics(out, name)
            continue
        res = train_sae(ActivationStore(acts_dir(out, "train", mkey)), cfg.sae, work, seed, device,
                        model_name=models[mkey].name, hookpoint=model_info[mkey]["hookpoint"], desc=name,
                        stop_after_steps=stop_after_steps)
        summary[name] = evaluate_sae(cfg, res.sae_dir, out, mkey, models[mkey], heads[mkey], device, seed)
        summary[name].update({"model": mkey, "seed": seed, "train": res.train_metrics})
        atomic_write_json(metrics_path, summary[name])
        logger.info("SAE %s: FVU %.3f, L0 %.1f, dead %.1f%%, loss recovered %s", name, summary[name]["fvu"],
                    summary[name]["l0"], 100 * summary[name]["dead_fraction"],
                    _fmt(summary[name]["fidelity"].get("loss_recovered")))
    atomic_write_json(out / TrainFiles.SUMMARY, {k: {kk: vv for kk, vv in v.items() if kk != "firing_frequency"}
                                             for k, v in summary.items()})
    from featevo.plots import training_curves

    training_curves({k: sae_work_dir(out, k) for k in summary}, out / TrainFiles.CURVES)
    st.commit()
    return stage_dir(cfg, TRAIN)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def evaluate_sae(cfg: PipelineConfig, sae_dir: Path, out: Path, mkey: str, mcfg: ModelConfig, head: str,
                 device: torch.device, seed: int) -> dict:
    """Held-out FVU / L0 / dead latents and loss recovered for one SAE."""
    sae = load_sae(sae_dir, device)
    rec = reconstruction_metrics(sae, ActivationStore(acts_dir(out, "eval", mkey)))
    train_freq = reconstruction_metrics(sae, ActivationStore(acts_dir(out, "train", mkey)),
                                        max_rows=cfg.sae.dead_window_tokens)
    fidelity: dict = {"head": head}
    if head != "none":
        from featevo.activations import TokenTable

        model = load_model(mcfg, head=head, device=device)
        tok = load_tokenizer(mcfg)
        tt = TokenTable(split_dir(out, "eval"))
        tokens = {"input_ids": tt.input_ids, "attention_mask": tt.attention_mask, "keep_mask": tt.keep_mask}
        fidelity = loss_recovered(model, head, lambda h: sae.decode(sae.encode(h)), tokens, cfg.harvest.layer,
                                  tok.mask_token_id, device, seed=seed, max_docs=cfg.sae.eval_docs,
                                  desc=f"loss recovered {sae_dir.parent.name}")
    return {
        **rec,
        "dead_fraction": train_freq["dead_fraction_eval"],
        "dead_window": f"never fired on the first {train_freq['rows']} training tokens",
        "fidelity": fidelity,
        "d_sae": sae.cfg.d_sae, "k": sae.cfg.k, "d_in": sae.cfg.d_in,
    }
