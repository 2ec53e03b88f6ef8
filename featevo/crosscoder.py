"""BatchTopK crosscoders on two models' aligned activations (Anthropic 2024; Minder et al. 2025).

A crosscoder here is sae-lens's ``BatchTopKTrainingSAE`` on the concatenated row ``[x_a, x_b]`` (``d_in =
2 d``) whose decoder rows split into the two models' halves ``d_a`` (columns ``:d``) and ``d_b`` (``d:``).
One change makes it a crosscoder in the sense of ``science-of-finetuning/crosscoder_learning``'s
``BatchTopKCrossCoder`` (code normalisation ``CROSSCODER``): the BatchTopK selection ranks ``pre_i * c_i``
with ``c_i = |d_a,i| + |d_b,i|``, the *sum* of the per-model decoder norms, instead of sae-lens's Euclidean
norm of the whole row ``sqrt(|d_a|^2 + |d_b|^2)``. With the Euclidean norm a latent that writes to one model
only costs as much as a shared latent of the same total norm; with the sum a shared latent counts each model
it writes to, which is the crosscoder's L1-of-norms sparsity. :class:`CrosscoderTrainingSAE` overrides
exactly that (encode, decode, the TopK auxiliary loss and the norm folded in at saving); everything else
(parameters, initialisation, ``SAETrainer`` with Adam, dead-latent tracking, the BatchTopK threshold and
saving as a JumpReLU SAE) is sae-lens's own.

Each model's activations are scaled to a mean row norm of ``sqrt(d)`` (sae-lens's ``expected_average_only_in``
factor, one per model) so that decoder norms compare across models. The saved SAE (``cfg.json`` +
``sae_weights.safetensors``, ``SAE.load_from_disk`` gives a ``JumpReLUSAE``) reads *raw* concatenated
activations: the per-model scales and the code norm are folded into the weights, the threshold is the
BatchTopK threshold calibrated after training, and ``metadata`` names the models and their halves
(``crosscoder_models``, ``crosscoder_halves``, ``activation_scales``). :func:`decoder_halves` returns the
halves in the scaled units in which training compared them.

Per latent (:func:`latent_table`): the two decoder norms, ``rho = |d_b| / (|d_a| + |d_b|)``, the cosine of
the two halves, the class (a-only / b-only / shared at ``diffing.crosscoder.model_only_threshold``), firing
frequency,
and Latent Scaling (:func:`latent_scaling`).
"""

from __future__ import annotations

import json
import logging
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from featevo.activations import ActivationStore, safe_save
from featevo.errors import StageError
from featevo.io import atomic_path, atomic_write_json, read_json
from featevo.layout import TrainFiles, display_path
from featevo.sae import estimate_scaling_factor, seed_everything

logger = logging.getLogger(__name__)

RUN_DONE = TrainFiles.TRAIN_DONE
A_ONLY, B_ONLY, SHARED = "a-only", "b-only", "shared"


def code_norm(W_dec: torch.Tensor) -> torch.Tensor:
    """``|d_a,i| + |d_b,i|`` for each decoder row (halves: the first and second half of the columns)."""
    d = W_dec.shape[1] // 2
    return W_dec[:, :d].norm(dim=-1) + W_dec[:, d:].norm(dim=-1)


@lru_cache(maxsize=1)
def crosscoder_classes():
    """``(CrosscoderTrainingSAE, its config class)`` built on sae-lens (imported lazily: it is slow)."""
    from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.saes.topk_sae import calculate_topk_aux_acts

    class CrosscoderTrainingSAE(BatchTopKTrainingSAE):
        """sae-lens's BatchTopK training SAE with crosscoder code normalisation (see the module doc)."""

        def get_W_dec_norm(self) -> torch.Tensor:  # folded into the encoder when saving
            return code_norm(self.W_dec).clamp(min=1e-8)

        def encode_with_hidden_pre(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            sae_in = self.process_sae_in(x)
            hidden_pre = self.hook_sae_acts_pre(sae_in @ self.W_enc + self.b_enc) * self.get_W_dec_norm()
            return self.hook_sae_acts_post(self.activation_fn(hidden_pre)), hidden_pre

        def decode(self, feature_acts: torch.Tensor) -> torch.Tensor:
            out = (feature_acts / self.get_W_dec_norm()) @ self.W_dec + self.b_dec
            return self.run_time_activation_norm_fn_out(self.hook_sae_recons(out))

        def calculate_aux_loss(self, step_input, feature_acts, hidden_pre, sae_out) -> dict[str, torch.Tensor]:
            # sae-lens's TopK auxiliary loss with the code norm in place of the Euclidean row norm
            dead = step_input.dead_neuron_mask
            if dead is None or (n_dead := int(dead.sum())) == 0:
                return {"auxiliary_reconstruction_loss": sae_out.new_tensor(0.0)}
            residual = (step_input.sae_in - sae_out).detach()
            k_aux = step_input.sae_in.shape[-1] // 2
            scale = min(n_dead / k_aux, 1.0)
            acts = calculate_topk_aux_acts(min(k_aux, n_dead), hidden_pre, dead)
            recons = (acts / self.get_W_dec_norm()) @ self.W_dec
            loss = (recons - residual).pow(2).sum(dim=-1).mean()
            return {"auxiliary_reconstruction_loss": self.cfg.aux_loss_coefficient * scale * loss}

    return CrosscoderTrainingSAE, BatchTopKTrainingSAEConfig


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------
class PairedStore(ActivationStore):
    """Two models' aligned activation stores read as one: row r is ``[scale_a * x_a[r], scale_b * x_b[r]]``."""

    def __init__(self, a: ActivationStore, b: ActivationStore, scale_a: float = 1.0, scale_b: float = 1.0):
        if [s["rows"] for s in a.shards] != [s["rows"] for s in b.shards]:
            raise StageError(f"{display_path(a.dir)} and {display_path(b.dir)} are not aligned row by row")
        self.a, self.b, self.scales = a, b, (float(scale_a), float(scale_b))
        self.dir, self.index, self.shards = a.dir, a.index, a.shards
        self.d_in, self.n_rows = a.d_in + b.d_in, a.n_rows

    def shard(self, i: int) -> torch.Tensor:
        return torch.cat([self.a.shard(i) * self.scales[0], self.b.shard(i) * self.scales[1]], dim=1)


# --------------------------------------------------------------------------------------------
# Training and saving
# --------------------------------------------------------------------------------------------
def build_crosscoder(d_model: int, num_latents: int, k: float, aux_loss_coefficient: float, device, metadata: dict):
    """A fresh :class:`CrosscoderTrainingSAE` (sae-lens initialisation) on ``2 * d_model`` inputs."""
    from sae_lens.saes.sae import SAEMetadata

    cls, cfg_cls = crosscoder_classes()
    cfg = cfg_cls(d_in=2 * d_model, d_sae=num_latents, k=float(k), aux_loss_coefficient=aux_loss_coefficient,
                  normalize_activations="none", device=str(device), dtype="float32",
                  metadata=SAEMetadata(**metadata))
    return cls(cfg).to(device)


def build_trainer(sae, steps: int, batch_size: int, lr: float, dead_window_tokens: int, device):
    """sae-lens's ``SAETrainer`` (Adam, constant lr, dead-latent window) around ``sae``."""
    from sae_lens.config import LoggingConfig, SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    window = max(1, math.ceil(dead_window_tokens / batch_size))
    tcfg = SAETrainerConfig(
        total_training_samples=steps * batch_size, train_batch_size_samples=batch_size, lr=lr, lr_end=lr,
        lr_scheduler_name="constant", lr_warm_up_steps=0, lr_decay_steps=0, device=str(device),
        dead_feature_window=window, feature_sampling_window=window, logger=LoggingConfig(log_to_wandb=False))
    return SAETrainer(tcfg, sae, data_provider=iter(()))


@torch.no_grad()
def calibrate_threshold(sae, batches: list[torch.Tensor]) -> float:
    """The inference threshold: the mean over ``batches`` of the smallest activation BatchTopK keeps (the
    value sae-lens's moving average tracks during training, without its start-up bias)."""
    mins = []
    for x in batches:
        acts, _ = sae.encode_with_hidden_pre(x.to(sae.W_enc.device))
        pos = acts[acts > 0]
        if pos.numel():
            mins.append(pos.min().double().item())
    theta = float(np.mean(mins)) if mins else 0.0
    sae.topk_threshold.fill_(theta)
    return theta


def save_crosscoder(sae, scales: tuple[float, float], out_dir: Path) -> Path:
    """Save in sae-lens's inference format (a JumpReLU SAE): sae-lens folds the code norm and writes the
    threshold; the per-model scales are folded in here, so the saved SAE reads raw activations."""
    sd = {k: v.detach().clone() for k, v in sae.state_dict().items()}
    sae.process_state_dict_for_saving_inference(sd)
    d = sae.cfg.d_in // 2
    for half, s in ((slice(0, d), scales[0]), (slice(d, 2 * d), scales[1])):
        sd["W_enc"][half] *= s
        sd["W_dec"][:, half] /= s
        sd["b_dec"][half] /= s
    cfg = sae.cfg.get_inference_sae_cfg_dict()
    cfg["metadata"]["activation_scales"] = list(scales)
    with atomic_path(Path(out_dir)) as tmp:
        tmp.mkdir(parents=True)
        safe_save({k: v.detach().cpu().contiguous() for k, v in sd.items()}, tmp / TrainFiles.SAE_WEIGHTS)
        (tmp / TrainFiles.SAE_CFG).write_text(json.dumps(cfg, default=str), encoding="utf-8")
    return Path(out_dir)


def train_crosscoder(store_a: ActivationStore, store_b: ActivationStore, models: tuple[str, str], num_latents: int,
                     k: float, tokens: int, batch_size: int, lr: float, aux_loss_coefficient: float,
                     dead_window_tokens: int, seed: int, work_dir: Path, device, hook_name: str = "",
                     desc: str = "crosscoder") -> dict:
    """Train one crosscoder on ``[x_a, x_b]`` and save it to ``work_dir/sae``; a finished run is reused.
    Returns its record (steps, scales, threshold, first and last batch FVU)."""
    from featevo.progress import tqdm

    work_dir = Path(work_dir)
    if (work_dir / RUN_DONE).is_file() and (work_dir / TrainFiles.SAE / TrainFiles.SAE_CFG).is_file():
        return read_json(work_dir / RUN_DONE)
    if store_a.d_in != store_b.d_in:
        raise StageError(f"{desc}: the two models' widths differ ({store_a.d_in} vs {store_b.d_in})")
    seed_everything(seed)
    scales = (estimate_scaling_factor(store_a, seed, batch_size), estimate_scaling_factor(store_b, seed, batch_size))
    paired = PairedStore(store_a, store_b, *scales)
    d = store_a.d_in
    meta = {"model_name": f"crosscoder:{models[0]}|{models[1]}", "hook_name": hook_name,
            "crosscoder_models": list(models), "crosscoder_halves": {models[0]: [0, d], models[1]: [d, 2 * d]},
            "code_normalization": "sum of the per-model decoder norms (crosscoder_learning CROSSCODER)"}
    sae = build_crosscoder(d, num_latents, k, aux_loss_coefficient, device, meta)
    steps = max(1, tokens // batch_size)
    trainer = build_trainer(sae, steps, batch_size, lr, dead_window_tokens, device)
    data = paired.batches(batch_size, seed=seed)
    fvus = []
    for _ in tqdm(range(steps), desc=desc, unit="step", leave=False):
        trainer.maybe_reset_sparsity()
        out = trainer.step(next(data))
        with torch.no_grad():
            x = out.sae_in
            fvus.append((out.sae_out - x).pow(2).sum().item() / (x - x.mean(0)).pow(2).sum().item())
        if not math.isfinite(out.loss.item()):
            raise StageError(f"{desc}: loss became {out.loss.item()}; lower diffing.crosscoder.lr")
        trainer.n_training_steps += 1
    sae.eval()
    theta = calibrate_threshold(sae, [next(data) for _ in range(8)])
    save_crosscoder(sae, scales, work_dir / TrainFiles.SAE)
    record = {"models": list(models), "steps": steps, "tokens": steps * batch_size, "seed": seed, "lr": lr,
              "k": k, "num_latents": num_latents, "activation_scales": list(scales), "threshold": theta,
              "fvu_first_batch": fvus[0], "fvu_last_batch": fvus[-1],
              "dead_fraction_train_window": float(trainer.dead_neurons.float().mean())}
    atomic_write_json(work_dir / RUN_DONE, record)
    return record


# --------------------------------------------------------------------------------------------
# Reading a saved crosscoder
# --------------------------------------------------------------------------------------------
def decoder_halves(sae) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(d_a, d_b, b_a, b_b)`` of a saved crosscoder in the scaled units of training (per-model scale
    times raw units): with activations ``h = sae.encode([x_a, x_b])``, ``s_a x_a ~ h @ d_a + b_a``."""
    meta = sae.cfg.metadata
    scales = meta.get("activation_scales") or [1.0, 1.0]
    d = sae.cfg.d_in // 2
    W, b = sae.W_dec.detach().double().cpu(), sae.b_dec.detach().double().cpu()
    return W[:, :d] * scales[0], W[:, d:] * scales[1], b[:d] * scales[0], b[d:] * scales[1]


def relative_norm(d_a: torch.Tensor, d_b: torch.Tensor) -> np.ndarray:
    """``rho = |d_b| / (|d_a| + |d_b|)`` per latent (0.5 for an all-zero row)."""
    na, nb = d_a.norm(dim=1), d_b.norm(dim=1)
    tot = na + nb
    return torch.where(tot > 0, nb / tot.clamp_min(1e-30), torch.full_like(tot, 0.5)).numpy()


def classify(rho: np.ndarray, threshold: float) -> np.ndarray:
    """a-only (rho <= threshold), b-only (rho >= 1 - threshold), shared otherwise."""
    return np.where(rho <= threshold, A_ONLY, np.where(rho >= 1.0 - threshold, B_ONLY, SHARED))


class ScalingSums:
    """Running sums over rows for Latent Scaling and the table: per model m, ``(x_m - recon_m)^T F`` and
    ``recon_m^T F`` [d, n]; ``sum f^2``, firing counts, activation sums [n]; squared error and moments."""

    def __init__(self, d: int, n: int):
        z = lambda *s: torch.zeros(*s, dtype=torch.float64)  # noqa: E731
        self.err = {"a": z(d, n), "b": z(d, n)}
        self.rec = {"a": z(d, n), "b": z(d, n)}
        self.f2, self.fire, self.act = z(n), z(n), z(n)
        self.sq_err, self.x_sum, self.x_sq, self.rows = 0.0, z(2 * d), 0.0, 0

    def add(self, F: torch.Tensor, X_a: torch.Tensor, X_b: torch.Tensor, halves: tuple) -> None:
        d_a, d_b, b_a, b_b = halves
        F = F.double().cpu()
        for m, X, D, b in (("a", X_a, d_a, b_a), ("b", X_b, d_b, b_b)):
            X = X.double().cpu()
            R = F @ D + b
            self.err[m] += (X - R).T @ F
            self.rec[m] += R.T @ F
            self.sq_err += (X - R).pow(2).sum().item()
        X = torch.cat([X_a, X_b], 1).double().cpu()
        self.x_sum += X.sum(0)
        self.x_sq += X.pow(2).sum().item()
        self.f2 += F.pow(2).sum(0)
        self.fire += (F > 0).double().sum(0)
        self.act += F.sum(0)
        self.rows += F.shape[0]


def latent_scaling_from_sums(sums: ScalingSums, d_a: torch.Tensor, d_b: torch.Tensor,
                             probe_b: np.ndarray) -> dict[str, np.ndarray]:
    """The betas and ratios of :func:`latent_scaling` from accumulated sums."""
    probe_b = np.asarray(probe_b, dtype=bool)
    P = torch.where(torch.as_tensor(probe_b)[:, None], d_b, d_a)
    C = sums.f2
    den = P.pow(2).sum(1) * C
    out = {}
    for m, D in (("a", d_a), ("b", d_b)):
        B_err = (P * sums.err[m].T).sum(1) + (P * D).sum(1) * C  # adding f_j d_m,j back
        B_rec = (P * sums.rec[m].T).sum(1)
        out[f"beta_error_{m}"] = torch.where(den > 0, B_err / den.clamp_min(1e-300), torch.nan).numpy()
        out[f"beta_recon_{m}"] = torch.where(den > 0, B_rec / den.clamp_min(1e-300), torch.nan).numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        for t in ("error", "recon"):
            a, b = out[f"beta_{t}_a"], out[f"beta_{t}_b"]
            out[f"nu_{t}"] = np.where(probe_b, a, b) / np.where(probe_b, b, a)
    return out


def latent_scaling(F: torch.Tensor, X_a: torch.Tensor, X_b: torch.Tensor, d_a: torch.Tensor, d_b: torch.Tensor,
                   b_a: torch.Tensor, b_b: torch.Tensor, probe_b: np.ndarray) -> dict[str, np.ndarray]:
    """Latent Scaling (Minder et al. 2025; diffing-toolkit ``closed_form_scalars``), every latent at once.

    ``F`` [N, n] latent activations, ``X_a``, ``X_b`` [N, d] the two models' (scaled) activations, ``d_a``,
    ``d_b`` [n, d] the decoder halves, ``b_a``, ``b_b`` the decoder biases. Latent j's probe direction p_j is
    its own model's decoder half (``d_b`` where ``probe_b``, else ``d_a``). For a target Y_m (model m) the
    least-squares scale is ``beta = p_j . sum_n f_nj Y_m,n / (|p_j|^2 sum_n f_nj^2)`` with

    * error target: ``Y = x_m - (recon_m - f_j d_m,j)``, the model's activation minus the reconstruction by
      every *other* latent (``beta_error_m``);
    * reconstruction target: ``Y = recon_m`` (with the decoder bias, as in the toolkit; ``beta_recon_m``).

    Returns the betas of both models and the ratios other/own (``nu_error``, ``nu_recon``): near 0 the
    latent's direction is absent from the other model (really model-specific), near 1 it is as present there
    as in its own model (Complete Shrinkage for ``nu_recon``, Latent Decoupling for ``nu_error``)."""
    d_a, d_b, b_a, b_b = (t.double() for t in (d_a, d_b, b_a, b_b))
    sums = ScalingSums(d_a.shape[1], d_a.shape[0])
    sums.add(F, X_a, X_b, (d_a, d_b, b_a, b_b))
    return latent_scaling_from_sums(sums, d_a, d_b, probe_b)


@torch.no_grad()
def latent_table(sae, x_a: torch.Tensor, x_b: torch.Tensor, threshold: float, ls_max: float,
                 chunk: int = 8192) -> dict[str, np.ndarray]:
    """Per-latent statistics of saved crosscoder ``sae`` over aligned raw rows ``x_a``, ``x_b`` (in chunks)."""
    from featevo.sae import encode

    halves = decoder_halves(sae)
    d_a, d_b = halves[0], halves[1]
    scales = sae.cfg.metadata.get("activation_scales") or [1.0, 1.0]
    rho = relative_norm(d_a, d_b)
    cls = classify(rho, threshold)
    na, nb = d_a.norm(dim=1), d_b.norm(dim=1)
    sums = ScalingSums(d_a.shape[1], d_a.shape[0])
    for s in range(0, x_a.shape[0], chunk):
        xa, xb = x_a[s : s + chunk], x_b[s : s + chunk]
        sums.add(encode(sae, torch.cat([xa, xb], 1)), xa * scales[0], xb * scales[1], halves)
    ls = latent_scaling_from_sums(sums, d_a, d_b, rho >= 0.5)
    confirmed = np.isin(cls, [A_ONLY, B_ONLY]) & (ls["nu_error"] <= ls_max) & (ls["nu_recon"] <= ls_max)
    n = max(sums.rows, 1)
    total_var = sums.x_sq - sums.x_sum.pow(2).sum().item() / n
    return {"norm_a": na.numpy(), "norm_b": nb.numpy(), "rho": rho,
            "cosine": ((d_a * d_b).sum(1) / (na * nb).clamp_min(1e-30)).numpy(), "class": cls,
            "firing_frequency": (sums.fire / n).numpy(), "mean_activation": (sums.act / n).numpy(), **ls,
            "confirmed": confirmed, "fvu": sums.sq_err / total_var if total_var > 0 else float("nan"),
            "l0": float(sums.fire.sum() / n)}
