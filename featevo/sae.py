"""TopK SAE training (sae-lens ``TopKTrainingSAE`` + ``SAETrainer``), checkpoints, loading, encoding.

Every stage encodes through :func:`load_sae` + :func:`encode`, i.e. sae-lens's own loader and
``SAE.encode`` (the exact training-time TopK). Nothing else in featevo re-implements the encoder.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from featevo.activations import ActivationStore, safe_load, safe_save
from featevo.config import SAEConfig
from featevo.errors import StageError, TrainingError
from featevo.io import atomic_write_json, atomic_write_text, display_path, read_json

logger = logging.getLogger(__name__)

SAE_SUBDIR = "sae"  # sae-lens inference format: cfg.json + sae_weights.safetensors
CHECKPOINT = "checkpoint"
STEPS_CSV = "steps.csv"
METRICS_JSON = "metrics.json"
TRAIN_DONE = "train_done.json"
STEP_FIELDS = ["step", "tokens", "lr", "mse_loss", "aux_loss", "fvu", "l0", "dead_fraction"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _sae_lens():
    # sae-lens imports wandb and transformer-lens; keep that cost out of module import.
    from sae_lens import SAE, TopKTrainingSAE, TopKTrainingSAEConfig
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.saes.sae import SAEMetadata
    from sae_lens.training.sae_trainer import SAETrainer

    return SAE, SAETrainerConfig, TopKTrainingSAE, TopKTrainingSAEConfig, LoggingConfig, SAEMetadata, SAETrainer


# --------------------------------------------------------------------------------------------
# Loading and encoding (the one encode path)
# --------------------------------------------------------------------------------------------
def load_sae(path: Path, device: str | torch.device = "cpu"):
    """Load an SAE saved by :func:`train_sae` with sae-lens's ``SAE.load_from_disk``."""
    SAE = _sae_lens()[0]
    path = Path(path)
    if not (path / "cfg.json").is_file() or not (path / "sae_weights.safetensors").is_file():
        raise StageError(f"{display_path(path)}: not an SAE folder (needs cfg.json and sae_weights.safetensors)")
    safe_load(path / "sae_weights.safetensors")  # clear error for a truncated/corrupted file
    try:
        sae = SAE.load_from_disk(str(path), device=str(device))
    except (ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:
        raise StageError(f"{display_path(path)}: cannot load SAE ({e})") from None
    sae.eval()
    return sae


@torch.no_grad()
def encode(sae, x: torch.Tensor, chunk: int = 8192) -> torch.Tensor:
    """Latent activations [rows, d_sae] of activation rows ``x`` (sae-lens ``encode``)."""
    dev = sae.W_enc.device
    out = [sae.encode(x[s : s + chunk].to(dev, sae.W_enc.dtype)).cpu() for s in range(0, x.shape[0], chunk)]
    return torch.cat(out) if out else torch.empty(0, sae.cfg.d_sae)


@torch.no_grad()
def reconstruct(sae, x: torch.Tensor) -> torch.Tensor:
    return sae.decode(sae.encode(x))


@torch.no_grad()
def reconstruction_metrics(sae, store: ActivationStore, max_rows: int | None = None) -> dict:
    """FVU, explained variance, L0 and never-fired latents over (held-out) activation rows."""
    d_sae = sae.cfg.d_sae
    sq_err = 0.0
    n = 0
    s1 = torch.zeros(store.d_in, dtype=torch.float64)
    s2 = 0.0
    l0_sum = 0.0
    fired = torch.zeros(d_sae, dtype=torch.bool)
    counts = torch.zeros(d_sae, dtype=torch.float64)
    dev = sae.W_enc.device
    for x in store.iter_rows(max_rows):
        x = x.to(dev)
        z = sae.encode(x)
        xh = sae.decode(z)
        sq_err += (xh - x).double().pow(2).sum().item()
        s1 += x.double().sum(0).cpu()
        s2 += x.double().pow(2).sum().item()
        act = (z > 0).cpu()
        l0_sum += act.sum().item()
        fired |= act.any(0)
        counts += act.double().sum(0)
        n += x.shape[0]
    if n == 0:
        raise StageError(f"{display_path(store.dir)}: no activation rows to evaluate")
    total_var = s2 - (s1.pow(2).sum().item() / n)
    fvu = sq_err / total_var
    return {
        "rows": n,
        "fvu": fvu,
        "explained_variance": 1.0 - fvu,
        "l0": l0_sum / n,
        "dead_fraction_eval": float((~fired).float().mean()),
        "firing_frequency": (counts / n).tolist(),
    }


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    sae_dir: Path
    steps: int
    train_metrics: dict
    resumed_from_step: int


def _checkpoint_dirs(work: Path) -> list[Path]:
    return [work / CHECKPOINT, work / f"{CHECKPOINT}.tmp", work / f"{CHECKPOINT}.old"]


def _find_checkpoint(work: Path) -> Path | None:
    for d in _checkpoint_dirs(work):
        if (d / "done.json").is_file():
            return d
    return None


def _save_checkpoint(work: Path, trainer, scaling_factor: float, rows: list[dict]) -> None:
    tmp, final, old = work / f"{CHECKPOINT}.tmp", work / CHECKPOINT, work / f"{CHECKPOINT}.old"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    safe_save({k: v.detach().cpu() for k, v in trainer.sae.state_dict().items()}, tmp / "sae.safetensors")
    safe_save(
        {"act_freq_scores": trainer.act_freq_scores.cpu(),
         "n_forward_passes_since_fired": trainer.n_forward_passes_since_fired.cpu()},
        tmp / "trackers.safetensors",
    )
    torch.save(
        {"optimizer": trainer.optimizer.state_dict(), "lr_scheduler": trainer.lr_scheduler.state_dict(),
         "coefficient_schedulers": {n: s.state_dict() for n, s in trainer.coefficient_schedulers.items()}},
        tmp / "optimizer.pt",
    )
    _write_steps_csv(tmp / STEPS_CSV, rows)
    atomic_write_json(tmp / "done.json", {
        "n_training_steps": trainer.n_training_steps, "n_training_samples": trainer.n_training_samples,
        "n_frac_active_samples": trainer.n_frac_active_samples, "scaling_factor": scaling_factor,
        "started_fine_tuning": trainer.started_fine_tuning,
    })
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
    os.replace(tmp, final)
    if old.exists():
        shutil.rmtree(old)


def _load_checkpoint(ckpt: Path, trainer) -> tuple[float, list[dict]]:
    state = read_json(ckpt / "done.json")
    trainer.sae.load_state_dict(safe_load(ckpt / "sae.safetensors"))
    trk = safe_load(ckpt / "trackers.safetensors")
    dev = trainer.act_freq_scores.device
    trainer.act_freq_scores = trk["act_freq_scores"].to(dev)
    trainer.n_forward_passes_since_fired = trk["n_forward_passes_since_fired"].to(dev)
    try:
        opt = torch.load(ckpt / "optimizer.pt", map_location=dev, weights_only=True)
    except Exception as e:  # truncated pickle-free torch file
        raise StageError(f"{display_path(ckpt / 'optimizer.pt')}: cannot read checkpoint ({e})") from None
    trainer.optimizer.load_state_dict(opt["optimizer"])
    trainer.lr_scheduler.load_state_dict(opt["lr_scheduler"])
    for n, s in opt["coefficient_schedulers"].items():
        trainer.coefficient_schedulers[n].load_state_dict(s)
    trainer.n_training_steps = state["n_training_steps"]
    trainer.n_training_samples = state["n_training_samples"]
    trainer.n_frac_active_samples = state["n_frac_active_samples"]
    trainer.started_fine_tuning = state["started_fine_tuning"]
    return float(state["scaling_factor"]), _read_steps_csv(ckpt / STEPS_CSV)


def _write_steps_csv(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=STEP_FIELDS)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def _read_steps_csv(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: (int(v) if k in ("step", "tokens") else float(v)) for k, v in r.items()} for r in csv.DictReader(f)]


def estimate_scaling_factor(store: ActivationStore, seed: int, batch_size: int, n_batches: int = 20) -> float:
    """sae-lens's ``expected_average_only_in`` factor: sqrt(d_in) / mean row norm."""
    it = store.batches(batch_size, seed=seed + 7919)
    norms = torch.cat([next(it).norm(dim=-1) for _ in range(n_batches)])
    return math.sqrt(store.d_in) / norms.mean().item()


def train_sae(
    store: ActivationStore,
    cfg: SAEConfig,
    work_dir: Path,
    seed: int,
    device: torch.device,
    model_name: str,
    hookpoint: str,
    desc: str = "SAE",
    stop_after_steps: int | None = None,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train one TopK SAE on ``store``, checkpointing into ``work_dir``; resumes if a checkpoint exists.

    The result is saved in sae-lens's inference format in ``work_dir/sae`` with a per-step CSV.
    ``stop_after_steps`` (tests) stops like a crash would, right after a step.
    """
    SAE, SAETrainerConfig, TopKTrainingSAE, TopKTrainingSAEConfig, LoggingConfig, SAEMetadata, SAETrainer = _sae_lens()
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if (work_dir / TRAIN_DONE).is_file() and (work_dir / SAE_SUBDIR / "cfg.json").is_file():
        done = read_json(work_dir / TRAIN_DONE)
        logger.info("%s: already trained (%d steps), reusing %s", desc, done["steps"], display_path(work_dir))
        return TrainResult(work_dir / SAE_SUBDIR, done["steps"], done, done.get("resumed_from_step", 0))
    d_sae = cfg.resolve_num_latents(store.d_in)
    total_steps = cfg.training_tokens // cfg.batch_size
    seed_everything(seed)
    sae_cfg = TopKTrainingSAEConfig(
        d_in=store.d_in, d_sae=d_sae, k=cfg.k, aux_loss_coefficient=cfg.aux_loss_coefficient,
        normalize_activations="expected_average_only_in", device=str(device), dtype="float32",
        metadata=SAEMetadata(model_name=model_name, hook_name=hookpoint),
    )
    sae = TopKTrainingSAE(sae_cfg)
    trainer_cfg = SAETrainerConfig(
        total_training_samples=total_steps * cfg.batch_size, train_batch_size_samples=cfg.batch_size,
        lr=cfg.lr, lr_end=cfg.lr_end, lr_scheduler_name="constant", lr_warm_up_steps=cfg.lr_warm_up_steps,
        lr_decay_steps=int(cfg.lr_decay_fraction * total_steps), device=str(device),
        dead_feature_window=max(1, math.ceil(cfg.dead_window_tokens / cfg.batch_size)),
        feature_sampling_window=max(1, math.ceil(cfg.dead_window_tokens / cfg.batch_size)),
        logger=LoggingConfig(log_to_wandb=False),
    )
    trainer = SAETrainer(trainer_cfg, sae, data_provider=iter(()))
    sae.to(device)
    ckpt = _find_checkpoint(work_dir)
    if ckpt is not None:
        scaling, rows = _load_checkpoint(ckpt, trainer)
        rows = [r for r in rows if r["step"] < trainer.n_training_steps]
        logger.info("%s: resuming from checkpoint at step %d/%d", desc, trainer.n_training_steps, total_steps)
    else:
        scaling, rows = estimate_scaling_factor(store, seed, cfg.batch_size), []
    resumed_from = trainer.n_training_steps
    trainer.activation_scaler.scaling_factor = scaling
    wb = _wandb_run(cfg, desc) if cfg.wandb else None
    data = store.batches(cfg.batch_size, seed=seed, start_batch=trainer.n_training_steps)
    pbar = tqdm(total=total_steps, initial=trainer.n_training_steps, desc=f"train {desc}", unit="step")
    while trainer.n_training_steps < total_steps:
        trainer.maybe_reset_sparsity()
        out = trainer.step(next(data))
        step = trainer.n_training_steps
        mse = out.losses["mse_loss"].item()
        if not math.isfinite(out.loss.item()):
            where = _find_checkpoint(work_dir)
            kept = f"last good checkpoint kept in {display_path(where)}" if where else "no checkpoint yet"
            raise TrainingError(f"SAE {desc}: loss became {out.loss.item()} at step {step}; {kept}; lower sae.lr and rerun")
        with torch.no_grad():
            x = out.sae_in
            fvu = (out.sae_out - x).pow(2).sum().item() / (x - x.mean(0)).pow(2).sum().item()
            l0 = (out.feature_acts > 0).float().sum(-1).mean().item()
        row = {
            "step": step, "tokens": trainer.n_training_samples, "lr": trainer.optimizer.param_groups[0]["lr"],
            "mse_loss": mse, "aux_loss": out.losses.get("auxiliary_reconstruction_loss", torch.tensor(0.0)).item(),
            "fvu": fvu, "l0": l0, "dead_fraction": trainer.dead_neurons.float().mean().item(),
        }
        rows.append(row)
        if wb is not None:
            wb.log(row, step=step)
        trainer.n_training_steps += 1
        pbar.update(1)
        if step % 20 == 0:
            pbar.set_postfix(fvu=f"{fvu:.3f}", l0=f"{l0:.1f}", dead=f"{row['dead_fraction']:.2f}")
        if trainer.n_training_steps % cfg.checkpoint_every == 0 and trainer.n_training_steps < total_steps:
            _save_checkpoint(work_dir, trainer, scaling, rows)
        if on_step is not None:
            on_step(trainer.n_training_steps)
        if stop_after_steps is not None and trainer.n_training_steps >= stop_after_steps:
            pbar.close()
            raise KeyboardInterrupt(f"stopped after {trainer.n_training_steps} steps")
    pbar.close()
    train_metrics = {
        "steps": total_steps, "tokens": trainer.n_training_samples,
        "dead_fraction_train_window": trainer.dead_neurons.float().mean().item(),
        "dead_window_tokens": trainer_cfg.dead_feature_window * cfg.batch_size,
        "final_fvu_train_batch": rows[-1]["fvu"] if rows else None,
        "activation_scaling_factor": scaling,
    }
    sae.fold_activation_norm_scaling_factor(scaling)
    trainer.set_final_sae_metadata()
    out_dir = work_dir / SAE_SUBDIR
    tmp = work_dir / f".{SAE_SUBDIR}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    sae.save_inference_model(str(tmp))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    _write_steps_csv(work_dir / STEPS_CSV, rows)
    train_metrics["resumed_from_step"] = resumed_from
    atomic_write_json(work_dir / TRAIN_DONE, train_metrics)
    for d in _checkpoint_dirs(work_dir):
        if d.exists():
            shutil.rmtree(d)
    if wb is not None:
        wb.finish()
    return TrainResult(out_dir, total_steps, train_metrics, resumed_from)


def _wandb_run(cfg: SAEConfig, name: str):
    os.environ.setdefault("WANDB_MODE", "offline")
    import wandb

    return wandb.init(project="featevo", name=name, config=vars(cfg), reinit=True)


def steps_table(work_dir: Path) -> list[dict]:
    return _read_steps_csv(Path(work_dir) / STEPS_CSV)
