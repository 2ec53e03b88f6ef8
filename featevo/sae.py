"""TopK SAE training (sae-lens ``TopKTrainingSAE`` + ``SAETrainer``), checkpoints, loading, encoding.

Every stage encodes through :func:`load_sae` + :func:`encode`, i.e. sae-lens's own loader and
``SAE.encode`` (the exact training-time TopK). Nothing else in featevo re-implements the encoder;
:func:`fused_topk_encode` below is the *training-time* forward of the fused step, and
``tests/test_sae.py`` checks that it selects the same latents as ``encode`` of the saved SAE.

Two training steps (``sae.trainer``), both on the parameters of sae-lens's ``TopKTrainingSAE``
and with sae-lens's ``SAETrainer`` for everything around the step (Adam, lr schedule, gradient
clipping, dead-latent tracking, the checkpoint contents and the saved inference format):

* ``sae-lens``: ``SAETrainer.step``; dense autograd (about six dense [batch x d_in x d_sae]
  matmuls per step plus the auxiliary loss).
* ``fused``: :func:`fused_topk_step`, one dense encoder matmul, then sparse work only: a gathered
  decoder (``embedding_bag`` over the k active rows of the normalised decoder), and a hand-written
  backward (sampled products for the k active latents, latent-major sparse matmuls for the
  encoder and decoder weight gradients), in the manner of sparsify's ``FusedEncoder``. It computes
  the same loss as sae-lens (``rescale_acts_by_decoder_norm=True``, the TopK auxiliary dead-latent
  loss) and the same gradients to float rounding (``tests/test_sae.py``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from featevo.progress import tqdm

from featevo.activations import ActivationStore, safe_load, safe_save
from featevo.config import SAEConfig, WandbConfig
from featevo.errors import StageError, TrainingError
from featevo.io import atomic_path, atomic_write_json, read_json
from featevo.layout import TrainFiles, display_path
from featevo.results import STEPS

logger = logging.getLogger(__name__)

CHECKPOINT = TrainFiles.CHECKPOINT
CHECKPOINT_DONE = "done.json"


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
    if not (path / TrainFiles.SAE_CFG).is_file() or not (path / TrainFiles.SAE_WEIGHTS).is_file():
        raise StageError(f"{display_path(path)}: not an SAE folder (needs cfg.json and sae_weights.safetensors)")
    safe_load(path / TrainFiles.SAE_WEIGHTS)  # clear error for a truncated/corrupted file
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
# The fused TopK training step (sae.trainer = "fused")
# --------------------------------------------------------------------------------------------
class FusedStepOutput(NamedTuple):
    grads: dict[str, torch.Tensor]
    """Gradients of ``loss`` for W_enc, b_enc, W_dec, b_dec (the names of sae-lens's parameters)."""
    loss: torch.Tensor
    mse_loss: torch.Tensor
    aux_loss: torch.Tensor
    fvu: torch.Tensor
    l0: torch.Tensor
    fire_counts: torch.Tensor
    """Rows of the batch in which each latent fired (activation > 0), float [d_sae]."""
    top_acts: torch.Tensor
    """Post-ReLU activations of the k selected latents [batch, k]."""
    top_indices: torch.Tensor
    """Indices of the k selected latents [batch, k]."""


def fused_topk_encode(W_enc: torch.Tensor, b_enc: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor,
                      sae_in: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training-time TopK forward of sae-lens's ``TopKTrainingSAE`` with ``rescale_acts_by_decoder_norm``.

    ``sae_in`` is the (already scaled) activation batch. Returns ``(top_acts, top_indices,
    hidden_pre, W_dec_norm)``; ``top_acts`` are post-ReLU, like sae-lens's ``TopK`` module.
    """
    n = W_dec.norm(dim=-1)
    hidden_pre = torch.addmm(b_enc, sae_in - b_dec, W_enc).mul_(n)  # (x - b_dec) @ W_enc + b_enc, times |W_dec|
    vals, idx = hidden_pre.topk(k, dim=-1, sorted=False)
    return vals.relu(), idx, hidden_pre, n


def _latent_major(idx: torch.Tensor, d_sae: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """CSR structure of the transposed [d_sae, batch] selection pattern: (crow, col = row of x, order)."""
    flat = idx.reshape(-1)
    if flat.device.type == "cpu" and d_sae <= 65536:
        # numpy's stable sort is a radix sort for 16-bit keys: ~1 ms; torch's parallel sort of the
        # same keys can take 100x longer on a busy 2-core machine.
        order = torch.from_numpy(np.argsort(flat.numpy().astype(np.uint16), kind="stable"))
    else:
        order = torch.sort(flat.to(torch.int32), stable=True).indices
    cols = torch.div(order, idx.shape[1], rounding_mode="floor")
    crow = torch.zeros(d_sae + 1, dtype=torch.int64, device=idx.device)
    torch.cumsum(torch.bincount(flat, minlength=d_sae), 0, out=crow[1:])
    return crow, cols, order


def _t_spmm(pattern: tuple[torch.Tensor, torch.Tensor, torch.Tensor], values: torch.Tensor,
            dense: torch.Tensor) -> torch.Tensor:
    """``P.T @ dense`` where P [batch, d_sae] holds ``values`` [batch, k] at the selected latents."""
    crow, cols, order = pattern
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ss]parse CSR tensor support is in beta.*")
        P_t = torch.sparse_csr_tensor(crow, cols, values.reshape(-1)[order], (crow.shape[0] - 1, dense.shape[0]),
                                      check_invariants=False)
        return P_t @ dense


@torch.no_grad()
def fused_topk_step(W_enc: torch.Tensor, b_enc: torch.Tensor, W_dec: torch.Tensor, b_dec: torch.Tensor,
                    sae_in: torch.Tensor, k: int, dead_mask: torch.Tensor | None,
                    aux_loss_coefficient: float) -> FusedStepOutput:
    """Loss and gradients of sae-lens's ``TopKTrainingSAE.training_forward_pass`` without autograd.

    Parameters are sae-lens's (W_enc [d_in, d_sae], b_enc, W_dec [d_sae, d_in], b_dec) with
    ``rescale_acts_by_decoder_norm=True`` and ``apply_b_dec_to_input=True``; ``sae_in`` is the
    scaled batch. With u = W_dec / |W_dec| (row-wise) and the k selected latents per row:
    loss = mean_rows |sum_j a_j u_j + b_dec - x|^2 + aux, where aux is sae-lens's TopK auxiliary
    loss (the top min(d_in/2, n_dead) dead latents reconstruct the detached residual, scaled by
    min(n_dead / (d_in/2), 1) and ``aux_loss_coefficient``).
    """
    N, d_in = sae_in.shape
    d_sae = W_enc.shape[1]
    x = sae_in
    a, idx, h, n = fused_topk_encode(W_enc, b_enc, W_dec, b_dec, x, k)
    u = W_dec / n[:, None]
    s = x - b_dec
    out = F.embedding_bag(idx, u, per_sample_weights=a, mode="sum").add_(b_dec)
    e = out - x
    mse = e.pow(2).sum() / N
    g_out = e * (2.0 / N)
    # d loss / d a[i, j] = g_out[i] . u[idx[i, j]]: embedding_bag's per-sample-weight backward
    with torch.enable_grad():
        a_req = a.detach().requires_grad_()
        (g_a,) = torch.autograd.grad(F.embedding_bag(idx, u, per_sample_weights=a_req, mode="sum"), a_req, g_out)
    active = a > 0
    g_h = g_a.mul_(active)  # through the ReLU; h = pre-activation times |W_dec|
    pattern = _latent_major(idx, d_sae)
    flat = idx.reshape(-1)
    n_sel = n[idx]
    g_u = _t_spmm(pattern, a, g_out)  # [d_sae, d_in]
    g_pre = g_h * n_sel
    g_W_enc_t = _t_spmm(pattern, g_pre, s)  # [d_sae, d_in]
    g_b_enc = torch.zeros(d_sae, dtype=x.dtype, device=x.device).index_add_(0, flat, g_pre.reshape(-1))
    # h = pre * n  ->  d loss / d n = sum over rows of g_h * pre = g_h * h / n
    g_n = torch.zeros(d_sae, dtype=x.dtype, device=x.device).index_add_(0, flat, (g_h * a).reshape(-1)).div_(n)
    aux = mse.new_zeros(())
    n_dead = int(dead_mask.sum()) if dead_mask is not None else 0
    if n_dead > 0:
        k_aux = d_in // 2
        scale = min(n_dead / k_aux, 1.0)
        k_aux = min(k_aux, n_dead)
        dead_idx = dead_mask.nonzero().squeeze(1)
        h_d = h[:, dead_idx]
        if k_aux < n_dead:
            av, ai = h_d.topk(k_aux, dim=-1, sorted=False)
            z = torch.zeros_like(h_d).scatter_(1, ai, av)
            sel = torch.zeros_like(h_d, dtype=torch.bool).scatter_(1, ai, True)
        else:  # every dead latent is selected
            z, sel = h_d, None
        u_d = u[dead_idx]
        ea = (z @ u_d).add_(e)  # recons - residual, residual = x - out = -e (detached)
        aux = ea.pow(2).sum() * (aux_loss_coefficient * scale / N)
        g_rec = ea.mul_(2.0 * aux_loss_coefficient * scale / N)
        g_z = g_rec @ u_d.t()
        if sel is not None:
            g_z.mul_(sel)
        n_d = n[dead_idx]
        g_u.index_add_(0, dead_idx, z.t() @ g_rec)
        g_n.index_add_(0, dead_idx, (g_z * h_d).sum(0).div_(n_d))
        g_pre_d = g_z.mul_(n_d)
        g_W_enc_t.index_add_(0, dead_idx, g_pre_d.t() @ s)
        g_b_enc.index_add_(0, dead_idx, g_pre_d.sum(0))
    # sae_in = x - b_dec enters the encoder: d loss / d b_dec gets -sum_rows(g_pre @ W_enc.T)
    g_b_dec = g_out.sum(0) - W_enc @ g_b_enc
    # u = W_dec / |W_dec| and n = |W_dec|
    g_W_dec = (g_u - (g_u * u).sum(-1, keepdim=True) * u).div_(n[:, None]).add_(g_n[:, None] * u)
    total_var = (x - x.mean(0)).pow(2).sum()
    fire_counts = torch.zeros(d_sae, dtype=x.dtype, device=x.device).index_add_(0, flat, active.reshape(-1).to(x.dtype))
    return FusedStepOutput(
        grads={"W_enc": g_W_enc_t.t().contiguous(), "b_enc": g_b_enc, "W_dec": g_W_dec, "b_dec": g_b_dec},
        loss=mse + aux, mse_loss=mse, aux_loss=aux, fvu=mse * N / total_var, l0=active.sum() / N,
        fire_counts=fire_counts, top_acts=a, top_indices=idx,
    )


class StepStats(NamedTuple):
    loss: float
    mse_loss: float
    aux_loss: float
    fvu: float
    l0: float


def fused_trainer_step(trainer, batch: torch.Tensor) -> StepStats:
    """``SAETrainer.step`` with :func:`fused_topk_step` in place of autograd; same bookkeeping."""
    sae = trainer.sae
    batch = batch.to(sae.device)
    trainer.n_training_samples += batch.shape[0]
    x = trainer.activation_scaler(batch).to(sae.dtype)
    sae.train()
    out = fused_topk_step(sae.W_enc.detach(), sae.b_enc.detach(), sae.W_dec.detach(), sae.b_dec.detach(), x,
                          sae.cfg.k, trainer.dead_neurons, sae.cfg.aux_loss_coefficient)
    with torch.no_grad():
        trainer.n_forward_passes_since_fired += 1
        trainer.n_forward_passes_since_fired[out.fire_counts > 0] = 0
        trainer.act_freq_scores += out.fire_counts
        trainer.n_frac_active_samples += trainer.cfg.train_batch_size_samples
    for name, g in out.grads.items():
        getattr(sae, name).grad = g
    torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad()
    trainer.lr_scheduler.step()
    for scheduler in trainer.coefficient_schedulers.values():
        scheduler.step()
    return StepStats(out.loss.item(), out.mse_loss.item(), out.aux_loss.item(), out.fvu.item(), out.l0.item())


def saelens_trainer_step(trainer, batch: torch.Tensor) -> StepStats:
    """sae-lens's own ``SAETrainer.step`` (dense autograd)."""
    out = trainer.step(batch)
    with torch.no_grad():
        x = out.sae_in
        fvu = (out.sae_out - x).pow(2).sum().item() / (x - x.mean(0)).pow(2).sum().item()
        l0 = (out.feature_acts > 0).float().sum(-1).mean().item()
    aux = out.losses.get("auxiliary_reconstruction_loss", torch.tensor(0.0))
    return StepStats(out.loss.detach().item(), out.losses["mse_loss"].detach().item(), aux.detach().item(), fvu, l0)


TRAINER_STEPS: dict[str, Callable] = {"fused": fused_trainer_step, "sae-lens": saelens_trainer_step}


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
    """The checkpoint, then what a kill inside :func:`~featevo.io.atomic_path` can leave (newest first)."""
    return [work / CHECKPOINT, work / f".{CHECKPOINT}.tmp", work / f".{CHECKPOINT}.old"]


def _find_checkpoint(work: Path) -> Path | None:
    for d in _checkpoint_dirs(work):
        if (d / CHECKPOINT_DONE).is_file():  # written last: the folder is complete
            return d
    return None


def _save_checkpoint(work: Path, trainer, scaling_factor: float, rows: list[dict]) -> None:
    found = _find_checkpoint(work)
    if found is not None and found != work / CHECKPOINT:  # recover a kill inside the last swap
        os.replace(found, work / CHECKPOINT)
    with atomic_path(work / CHECKPOINT) as tmp:
        _write_checkpoint(tmp, trainer, scaling_factor, rows)


def _write_checkpoint(tmp: Path, trainer, scaling_factor: float, rows: list[dict]) -> None:
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
    STEPS.write(tmp, rows)
    atomic_write_json(tmp / CHECKPOINT_DONE, {
        "n_training_steps": trainer.n_training_steps, "n_training_samples": trainer.n_training_samples,
        "n_frac_active_samples": trainer.n_frac_active_samples, "scaling_factor": scaling_factor,
        "started_fine_tuning": trainer.started_fine_tuning,
    })


def _load_checkpoint(ckpt: Path, trainer) -> tuple[float, list[dict]]:
    state = read_json(ckpt / CHECKPOINT_DONE)
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
    return float(state["scaling_factor"]), STEPS.read(ckpt, missing_ok=True).rows()


def estimate_scaling_factor(store: ActivationStore, seed: int, batch_size: int, n_batches: int = 20) -> float:
    """sae-lens's ``expected_average_only_in`` factor: sqrt(d_in) / mean row norm."""
    it = store.batches(batch_size, seed=seed + 7919)
    norms = torch.cat([next(it).norm(dim=-1) for _ in range(n_batches)])
    return math.sqrt(store.d_in) / norms.mean().item()


def build_trainer(d_in: int, cfg: SAEConfig, device: torch.device, model_name: str = "", hookpoint: str = ""):
    """sae-lens's ``TopKTrainingSAE`` and its ``SAETrainer`` (optimizer, schedules, dead-latent trackers)."""
    _, SAETrainerConfig, TopKTrainingSAE, TopKTrainingSAEConfig, LoggingConfig, SAEMetadata, SAETrainer = _sae_lens()
    total_steps = cfg.training_tokens // cfg.batch_size
    sae_cfg = TopKTrainingSAEConfig(
        d_in=d_in, d_sae=cfg.resolve_num_latents(d_in), k=cfg.k, aux_loss_coefficient=cfg.aux_loss_coefficient,
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
    return sae, trainer


def save_final_sae(sae, trainer, scaling_factor: float, out_dir: Path) -> Path:
    """Fold the activation scaling into the weights and save sae-lens's inference format atomically."""
    out_dir = Path(out_dir)
    sae.fold_activation_norm_scaling_factor(scaling_factor)
    trainer.set_final_sae_metadata()
    with atomic_path(out_dir) as tmp:
        sae.save_inference_model(str(tmp))
    return out_dir


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
    wandb_cfg: WandbConfig | None = None,
) -> TrainResult:
    """Train one TopK SAE on ``store``, checkpointing into ``work_dir``; resumes if a checkpoint exists.

    The result is saved in sae-lens's inference format in ``work_dir/sae`` with a per-step CSV.
    ``stop_after_steps`` (tests) stops like a crash would, right after a step.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if (work_dir / TrainFiles.TRAIN_DONE).is_file() and (work_dir / TrainFiles.SAE / TrainFiles.SAE_CFG).is_file():
        done = read_json(work_dir / TrainFiles.TRAIN_DONE)
        logger.info("%s: already trained (%d steps), reusing %s", desc, done["steps"], display_path(work_dir))
        return TrainResult(work_dir / TrainFiles.SAE, done["steps"], done, done.get("resumed_from_step", 0))
    total_steps = cfg.training_tokens // cfg.batch_size
    seed_everything(seed)
    sae, trainer = build_trainer(store.d_in, cfg, device, model_name, hookpoint)
    ckpt = _find_checkpoint(work_dir)
    if ckpt is not None:
        scaling, rows = _load_checkpoint(ckpt, trainer)
        rows = [r for r in rows if r["step"] < trainer.n_training_steps]
        logger.info("%s: resuming from checkpoint at step %d/%d", desc, trainer.n_training_steps, total_steps)
    else:
        scaling, rows = estimate_scaling_factor(store, seed, cfg.batch_size), []
    resumed_from = trainer.n_training_steps
    trainer.activation_scaler.scaling_factor = scaling
    run = _TrainingRun(trainer, cfg, work_dir, desc, total_steps, scaling, rows,
                       _wandb_run(cfg, desc, wandb_cfg or WandbConfig()) if cfg.wandb else None)
    run.loop(store.batches(cfg.batch_size, seed=seed, start_batch=trainer.n_training_steps), stop_after_steps, on_step)
    train_metrics = {
        "steps": total_steps, "tokens": trainer.n_training_samples,
        "dead_fraction_train_window": trainer.dead_neurons.float().mean().item(),
        "dead_window_tokens": trainer.cfg.dead_feature_window * cfg.batch_size,
        "final_fvu_train_batch": rows[-1]["fvu"] if rows else None,
        "activation_scaling_factor": scaling,
        "trainer": cfg.trainer,
    }
    out_dir = save_final_sae(sae, trainer, scaling, work_dir / TrainFiles.SAE)
    STEPS.write(work_dir, rows)
    train_metrics["resumed_from_step"] = resumed_from
    atomic_write_json(work_dir / TrainFiles.TRAIN_DONE, train_metrics)
    for d in _checkpoint_dirs(work_dir):
        if d.exists():
            shutil.rmtree(d)
    if run.wb is not None:
        run.wb.finish()
    return TrainResult(out_dir, total_steps, train_metrics, resumed_from)


@dataclass
class _TrainingRun:
    """The loop of :func:`train_sae`: one row of ``steps.csv`` per step, checkpoints every
    ``cfg.checkpoint_every`` steps (never of non-finite weights)."""

    trainer: Any
    cfg: SAEConfig
    work_dir: Path
    desc: str
    total_steps: int
    scaling: float
    rows: list[dict]
    wb: Any = None

    def loop(self, data: Iterator[torch.Tensor], stop_after_steps: int | None,
             on_step: Callable[[int], None] | None) -> None:
        trainer, train_step = self.trainer, TRAINER_STEPS[self.cfg.trainer]
        pbar = tqdm(total=self.total_steps, initial=trainer.n_training_steps, desc=f"train {self.desc}", unit="step")
        while trainer.n_training_steps < self.total_steps:
            trainer.maybe_reset_sparsity()
            out = train_step(trainer, next(data))
            step = trainer.n_training_steps
            if not math.isfinite(out.loss):
                raise self.error(f"loss became {out.loss}", step)
            row = {
                "step": step, "tokens": trainer.n_training_samples, "lr": trainer.optimizer.param_groups[0]["lr"],
                "mse_loss": out.mse_loss, "aux_loss": out.aux_loss,
                "fvu": out.fvu, "l0": out.l0, "dead_fraction": trainer.dead_neurons.float().mean().item(),
            }
            self.rows.append(row)
            if self.wb is not None:
                self.wb.log(row, step=step)
            trainer.n_training_steps += 1
            pbar.update(1)
            if step % 20 == 0:
                pbar.set_postfix(fvu=f"{out.fvu:.3f}", l0=f"{out.l0:.1f}", dead=f"{row['dead_fraction']:.2f}")
            self.maybe_checkpoint(step)
            if on_step is not None:
                on_step(trainer.n_training_steps)
            if stop_after_steps is not None and trainer.n_training_steps >= stop_after_steps:
                pbar.close()
                raise KeyboardInterrupt(f"stopped after {trainer.n_training_steps} steps")
        pbar.close()

    def maybe_checkpoint(self, step: int) -> None:
        n = self.trainer.n_training_steps
        if n % self.cfg.checkpoint_every == 0 and n < self.total_steps:
            if not all(torch.isfinite(p).all() for p in self.trainer.sae.parameters()):
                raise self.error("weights became non-finite", step)
            _save_checkpoint(self.work_dir, self.trainer, self.scaling, self.rows)

    def error(self, what: str, step: int) -> TrainingError:
        where = _find_checkpoint(self.work_dir)
        kept = f"last good checkpoint kept in {display_path(where)}" if where else "no checkpoint yet"
        return TrainingError(f"SAE {self.desc}: {what} at step {step}; {kept}; lower sae.lr and rerun")


def _wandb_run(cfg: SAEConfig, name: str, wcfg: WandbConfig):
    """A wandb run in ``wcfg.project`` with ``wcfg.mode`` (the config's ``wandb`` section)."""
    import wandb

    return wandb.init(project=wcfg.project, mode=wcfg.mode, name=name, config=vars(cfg), reinit=True)


def steps_table(work_dir: Path) -> list[dict]:
    return STEPS.read(work_dir, missing_ok=True).rows()
