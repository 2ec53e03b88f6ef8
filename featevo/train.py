"""Stage 01 logic: (twin), tokens, activations, SAEs and their quality metrics.

Layout of ``outputs/<run>/01_train_sae/``::

    models.json                      which models were used (resolved), d_in, hookpoint
    train/tokens.safetensors         shared token stream (see featevo.activations)
    train/docs.jsonl
    train/<base|tuned>/shard_*.safetensors, index.json
    eval/...                         the same for the held-out split
    saes/<key>/sae/cfg.json          sae-lens format (SAE.load_from_disk); key = base, tuned,
    saes/<key>/sae/sae_weights.safetensors         base_seed1, ... (null baseline)
    saes/<key>/steps.csv             per-step loss, FVU, L0, dead fraction, lr
    saes/<key>/metrics.json          held-out FVU, L0, dead latents, loss recovered
    summary.json                     all metrics side by side
    training_curves.png
    manifest.json
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
from featevo.io import (
    StageRun, atomic_write_json, display_path, hash_inputs, read_json, require_stage, stage_dir, stage_is_current,
)
from featevo.models import (
    check_layer, check_layer_from_config, head_kind, hookpoint_name, load_model, load_tokenizer, resolve_device,
    same_tokenizer,
)
from featevo.sae import encode, load_sae, reconstruction_metrics, train_sae

logger = logging.getLogger(__name__)

STAGE = "01_train_sae"
TWIN_STAGE = "01_twin"
SPLITS = ("train", "eval")
MODEL_KEYS = ("base", "tuned")
TUNED_SEED_OFFSET = 1000  # default of sae.tuned_seed_offset (see sae_keys)


def stage_models(cfg: PipelineConfig) -> dict[str, ModelConfig]:
    """The (base, tuned) pair every stage uses; with a twin, the folders made by make_twin."""
    if cfg.twin.enabled:
        tdir = stage_dir(cfg, TWIN_STAGE)
        return {"base": ModelConfig(name=str(tdir / "base")), "tuned": ModelConfig(name=str(tdir / "tuned"))}
    return {"base": cfg.base_model, "tuned": cfg.tuned_model}


def sae_keys(cfg: PipelineConfig) -> dict[str, tuple[str, int]]:
    """SAE name -> (model key, seed). ``base_seed<i>`` are the null-baseline SAEs.

    The tuned SAE gets its own seed (``seed + TUNED_SEED_OFFSET``): with the base SAE's seed it
    would start from the same initial decoder and batch order, and base-vs-tuned matching would
    inherit that shared start, which the null baseline (base vs base_seed<i>, different seeds)
    does not have. With distinct seeds both comparisons differ in initialisation alike.
    """
    keys = {"base": ("base", cfg.seed), "tuned": ("tuned", cfg.seed + cfg.sae.tuned_seed_offset)}
    for i in range(1, cfg.sae.seed_baselines + 1):
        keys[f"base_seed{i}"] = ("base", cfg.seed + i)
    return keys


def run_twin(cfg: PipelineConfig, force: bool = False, stop_after: int | None = None) -> dict | None:
    """Make the domain-tuned twin (stage ``01_twin``) unless it is current."""
    from featevo.twin import make_twin

    if not cfg.twin.enabled:
        logger.info("twin.enabled is false: the tuned model is %s", cfg.tuned_model.name)
        return None
    files = hash_inputs(input_files(cfg.data))
    if not force and stage_is_current(cfg, TWIN_STAGE, files):
        logger.info("twin is up to date: %s", display_path(stage_dir(cfg, TWIN_STAGE)))
        return read_json(stage_dir(cfg, TWIN_STAGE) / "twin_report.json")
    device = resolve_device(cfg.device)
    train, evald = load_corpus(cfg.data, cfg.seed)
    check_layer_from_config(cfg.base_model, cfg.harvest.layer)  # fail now, not after the fine-tuning
    st = StageRun(cfg, TWIN_STAGE, input_files=files, device=str(device)).open()
    report = make_twin(cfg.base_model, cfg.twin, train, evald, st.dir, cfg.seed, device, cfg.harvest.max_length,
                       stop_after=stop_after)
    st.commit()
    return report


def run(cfg: PipelineConfig, force: bool = False, stop_after_steps: int | None = None) -> Path:
    """Run stage 01 end to end; returns the stage folder."""
    run_twin(cfg, force=force)
    files = hash_inputs(input_files(cfg.data))
    upstream = (TWIN_STAGE,) if cfg.twin.enabled else ()
    if not force and stage_is_current(cfg, STAGE, files):
        logger.info("stage %s is up to date (use --force to rerun): %s", STAGE, display_path(stage_dir(cfg, STAGE)))
        return stage_dir(cfg, STAGE)
    if cfg.twin.enabled:
        require_stage(cfg, TWIN_STAGE, verify_files=False)
    device = resolve_device(cfg.device)
    seeds = {"sae_seeds": {name: seed for name, (_, seed) in sae_keys(cfg).items()}}
    if cfg.twin.enabled:
        seeds["twin_seed"] = cfg.seed
    st = StageRun(cfg, STAGE, input_files=files, upstream=upstream, device=str(device), extra=seeds).open()
    out = st.dir
    models = stage_models(cfg)

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
        if not (out / split / "tokens.safetensors").is_file():
            save_tokens(out / split, tokens[split], docs)
    logger.info("corpus: %d train / %d eval documents, %d / %d SAE tokens", len(train), len(evald),
                int(tokens["train"]["keep_mask"].sum()), int(tokens["eval"]["keep_mask"].sum()))

    # activations + fidelity models
    heads = {k: head_kind(m) for k, m in models.items()}
    model_info = {}
    for key, mcfg in models.items():
        model = load_model(mcfg, head=heads[key] if heads[key] != "none" else "none", device=device,
                           dtype=cfg.harvest.dtype)
        check_layer(model, cfg.harvest.layer, mcfg.name)
        for split in SPLITS:
            harvest(model, tokens[split], cfg.harvest.layer, out / split / key, cfg.harvest.batch_size,
                    cfg.harvest.shard_tokens, device, mcfg.name, desc=f"harvest {key}/{split}")
        model_info[key] = {
            "name": mcfg.name if not cfg.twin.enabled else display_path(Path(mcfg.name)),
            "configured_as": (cfg.base_model.name if key == "base" else
                              (cfg.tuned_model.name if cfg.tuned_model else "twin made by 01_train_sae/make_twin.py")),
            "fidelity_head": heads[key], "hookpoint": hookpoint_name(model, cfg.harvest.layer),
            "layer": cfg.harvest.layer, "d_in": ActivationStore(out / "train" / key).d_in,
        }
        del model
    atomic_write_json(out / "models.json", model_info)

    # SAEs
    summary = {}
    for name, (mkey, seed) in sae_keys(cfg).items():
        work = out / "saes" / name
        metrics_path = work / "metrics.json"
        if metrics_path.is_file():
            summary[name] = read_json(metrics_path)
            continue
        res = train_sae(ActivationStore(out / "train" / mkey), cfg.sae, work, seed, device,
                        model_name=models[mkey].name, hookpoint=model_info[mkey]["hookpoint"], desc=name,
                        stop_after_steps=stop_after_steps)
        summary[name] = evaluate_sae(cfg, res.sae_dir, out, mkey, models[mkey], heads[mkey], device, seed)
        summary[name].update({"model": mkey, "seed": seed, "train": res.train_metrics})
        atomic_write_json(metrics_path, summary[name])
        logger.info("SAE %s: FVU %.3f, L0 %.1f, dead %.1f%%, loss recovered %s", name, summary[name]["fvu"],
                    summary[name]["l0"], 100 * summary[name]["dead_fraction"],
                    _fmt(summary[name]["fidelity"].get("loss_recovered")))
    atomic_write_json(out / "summary.json", {k: {kk: vv for kk, vv in v.items() if kk != "firing_frequency"}
                                             for k, v in summary.items()})
    from featevo.plots import training_curves

    training_curves({k: out / "saes" / k / "steps.csv" for k in summary}, out / "training_curves.png")
    st.commit()
    return stage_dir(cfg, STAGE)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def evaluate_sae(cfg: PipelineConfig, sae_dir: Path, out: Path, mkey: str, mcfg: ModelConfig, head: str,
                 device: torch.device, seed: int) -> dict:
    """Held-out FVU / L0 / dead latents and loss recovered for one SAE."""
    sae = load_sae(sae_dir, device)
    rec = reconstruction_metrics(sae, ActivationStore(out / "eval" / mkey))
    train_freq = reconstruction_metrics(sae, ActivationStore(out / "train" / mkey),
                                        max_rows=cfg.sae.dead_window_tokens)
    fidelity: dict = {"head": head}
    if head != "none":
        from featevo.activations import TokenTable

        model = load_model(mcfg, head=head, device=device)
        tok = load_tokenizer(mcfg)
        tt = TokenTable(out / "eval")
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


def encode_store(sae_dir: Path, store: ActivationStore, device: torch.device, max_rows: int | None = None) -> torch.Tensor:
    """Latent activations for all rows of a store (dense; fine up to a few million x d_sae)."""
    sae = load_sae(sae_dir, device)
    return torch.cat([encode(sae, x) for x in store.iter_rows(max_rows)])
