"""Stage-wise model diffing (Anthropic, 2024): continue training an SAE on other activations of the same
tokens, so that latent i stays latent i, and measure each latent's change against a null.

* :func:`continue_sae` loads an SAE saved by stage 01 (sae-lens format), un-folds it into sae-lens's
  ``TopKTrainingSAE`` at the start SAE's own activation scale, trains it further with featevo's fused TopK
  step (:func:`featevo.sae.fused_trainer_step`, the same loss as stage 01) at a constant learning rate on a
  seeded batch order, and saves the result in the same sae-lens format.
* :func:`latent_change` gives, per latent, the decoder and encoder cosine to the start, firing frequency
  and mean activation before (start SAE on the start model's rows) and after (continued SAE on the target
  model's rows of the same tokens).
* :func:`against_null` sets one statistic of a contrast against a null contrast (the same continued
  training on the start model's own activations, several data orders): null mean and max, the excess over
  the null mean, and an empirical p-value against the pooled leave-one-out null.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from pathlib import Path

import numpy as np
import torch

from featevo.activations import ActivationStore, safe_load
from featevo.config import SAEConfig
from featevo.errors import StageError
from featevo.stats import empirical_p
from featevo.io import atomic_write_json, read_json
from featevo.layout import TrainFiles, display_path
from featevo.sae import build_trainer, fused_trainer_step, load_sae, save_final_sae, seed_everything
from featevo.stats import bh_qvalues

logger = logging.getLogger(__name__)

RUN_DONE = TrainFiles.TRAIN_DONE  # written last in a continued run's folder: the run is complete


class RowSubsetStore(ActivationStore):
    """An activation store restricted to the rows where ``keep`` is true (same order); used for the 2x2
    of stage-wise diffing (e.g. only the rows of target-domain documents)."""

    def __init__(self, acts_dir: Path, keep: np.ndarray):
        super().__init__(acts_dir)
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_rows,):
            raise StageError(f"{display_path(self.dir)}: row mask has {keep.shape[0]} rows, the store {self.n_rows}")
        self._full = self.shards
        self._masks, shards, start = [], [], 0
        for s in self._full:
            m = keep[start : start + s["rows"]]
            start += s["rows"]
            self._masks.append(torch.from_numpy(m.copy()))
            shards.append({**s, "rows": int(m.sum())})
        self.shards = shards
        self.n_rows = int(keep.sum())

    def shard(self, i: int) -> torch.Tensor:
        acts = safe_load(self.dir / self._full[i]["file"]).get("acts")
        if acts is None or acts.shape != (self._full[i]["rows"], self.d_in):
            raise StageError(f"{display_path(self.dir / self._full[i]['file'])}: wrong shape")
        return acts[self._masks[i]].float()


class TensorStore(ActivationStore):
    """Activation rows held in memory, read like a store on disk (shards of ``shard_rows`` rows)."""

    def __init__(self, x: torch.Tensor, shard_rows: int = 65536, name: str = "memory"):
        self.dir, self.index, self._x, self._shard_rows = Path(name), {}, x, shard_rows
        self.d_in, self.n_rows = int(x.shape[1]), int(x.shape[0])
        self.shards = [{"file": "", "rows": min(shard_rows, self.n_rows - s)}
                       for s in range(0, self.n_rows, shard_rows)]

    def shard(self, i: int) -> torch.Tensor:
        return self._x[i * self._shard_rows : i * self._shard_rows + self.shards[i]["rows"]]


# --------------------------------------------------------------------------------------------
# Continued training
# --------------------------------------------------------------------------------------------
def unfold_into_trainer(start, sae, scaling_factor: float) -> None:
    """Load inference SAE ``start`` (scaling and decoder norms folded in) into training SAE ``sae`` that
    reads activations multiplied by ``scaling_factor``: the same latents fire with the same activations
    (times the factor), and :func:`featevo.sae.save_final_sae` folds it back exactly."""
    s = float(scaling_factor)
    with torch.no_grad():
        sae.W_enc.copy_(start.W_enc.detach().to(sae.W_enc) / s)
        sae.b_enc.copy_(start.b_enc.detach().to(sae.b_enc))
        sae.W_dec.copy_(start.W_dec.detach().to(sae.W_dec) * s)
        sae.b_dec.copy_(start.b_dec.detach().to(sae.b_dec) * s)


def continued_cfg(sae_cfg: SAEConfig, start, tokens: int, lr: float) -> SAEConfig:
    """The stage-01 SAE config for continued training: the start SAE's size and k, ``tokens`` rows and a
    constant learning rate ``lr`` (no warm-up, no decay)."""
    return dataclasses.replace(sae_cfg, num_latents=int(start.cfg.d_sae), expansion_factor=None, k=int(start.cfg.k),
                               training_tokens=max(int(tokens), sae_cfg.batch_size), lr=float(lr),
                               lr_warm_up_steps=0, lr_decay_fraction=0.0)


def continue_sae(start_dir: Path, store: ActivationStore, sae_cfg: SAEConfig, tokens: int, lr: float, seed: int,
                 work_dir: Path, device: torch.device, scaling_factor: float, desc: str = "continue") -> dict:
    """Continue training the SAE in ``start_dir`` on ``store`` (batch order from ``seed``); the result goes to
    ``work_dir/sae`` (sae-lens format) and the run's record to ``work_dir/train_done.json``. A finished run
    is reused. Returns the record (steps, tokens, first and last batch FVU, seed, scaling factor)."""
    from featevo.progress import tqdm

    work_dir = Path(work_dir)
    if (work_dir / RUN_DONE).is_file() and (work_dir / TrainFiles.SAE / TrainFiles.SAE_CFG).is_file():
        return read_json(work_dir / RUN_DONE)
    start = load_sae(start_dir, device)
    if start.cfg.d_in != store.d_in:
        raise StageError(f"{desc}: SAE d_in {start.cfg.d_in} != activations d_in {store.d_in}")
    cfg = continued_cfg(sae_cfg, start, tokens, lr)
    total = cfg.training_tokens // cfg.batch_size
    if store.n_rows < cfg.batch_size:
        raise StageError(f"{desc}: only {store.n_rows} rows for batches of {cfg.batch_size}")
    seed_everything(seed)
    meta = start.cfg.metadata
    sae, trainer = build_trainer(store.d_in, cfg, device, meta.model_name or "", meta.hook_name or "")
    unfold_into_trainer(start, sae, scaling_factor)
    trainer.activation_scaler.scaling_factor = scaling_factor
    data = store.batches(cfg.batch_size, seed=seed)
    fvus = []
    for _ in tqdm(range(total), desc=desc, unit="step", leave=False):
        trainer.maybe_reset_sparsity()
        out = fused_trainer_step(trainer, next(data))
        if not math.isfinite(out.loss):
            raise StageError(f"{desc}: loss became {out.loss} at step {trainer.n_training_steps}; "
                             f"lower diffing.stagewise.lr")
        fvus.append(out.fvu)
        trainer.n_training_steps += 1
    save_final_sae(sae, trainer, scaling_factor, work_dir / TrainFiles.SAE)
    record = {"steps": total, "tokens": trainer.n_training_samples, "lr": lr, "seed": seed,
              "scaling_factor": scaling_factor, "fvu_first_batch": fvus[0], "fvu_last_batch": fvus[-1],
              "start_sae": Path(start_dir).parent.name}
    atomic_write_json(work_dir / RUN_DONE, record)
    return record


# --------------------------------------------------------------------------------------------
# Per-latent change
# --------------------------------------------------------------------------------------------
def _rowwise_cos(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    den = (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-30)
    return ((a * b).sum(1) / den).numpy()


def decoder_cosine(start, end) -> np.ndarray:
    """Cosine of each latent's decoder row in SAE ``end`` with the same latent's row in ``start``."""
    return _rowwise_cos(start.W_dec, end.W_dec)


def encoder_cosine(start, end) -> np.ndarray:
    """Cosine of each latent's encoder column in ``end`` with the same latent's column in ``start``."""
    return _rowwise_cos(start.W_enc.T, end.W_enc.T)


@torch.no_grad()
def activity(sae, x: torch.Tensor, chunk: int = 8192) -> dict[str, np.ndarray | float]:
    """Firing frequency and mean activation of every latent over rows ``x``, and the FVU."""
    d = sae.cfg.d_sae
    fire = torch.zeros(d, dtype=torch.float64)
    act = torch.zeros(d, dtype=torch.float64)
    sq_err, n = 0.0, x.shape[0]
    dev = sae.W_enc.device
    for s in range(0, n, chunk):
        xb = x[s : s + chunk].to(dev)
        z = sae.encode(xb)
        sq_err += (sae.decode(z) - xb).double().pow(2).sum().item()
        fire += (z > 0).double().sum(0).cpu()
        act += z.double().sum(0).cpu()
    total_var = (x.double() - x.double().mean(0)).pow(2).sum().item()
    return {"freq": (fire / max(n, 1)).numpy(), "act": (act / max(n, 1)).numpy(),
            "fvu": sq_err / total_var if total_var > 0 else float("nan")}


def latent_change(start, end, x_start: torch.Tensor, x_target: torch.Tensor, before: dict | None = None,
                  fvu_start_on_target: float | None = None) -> dict[str, np.ndarray | float]:
    """Per latent: ``rotation`` (1 - decoder cosine to the start), ``encoder_rotation``, firing frequency and
    mean activation before (``start`` on ``x_start``) and after (``end`` on ``x_target``, the same tokens)
    and their changes; also the FVU of the start SAE on the target rows and of the continued SAE."""
    before = before if before is not None else activity(start, x_start)
    after = activity(end, x_target)
    return {
        "rotation": 1.0 - decoder_cosine(start, end),
        "encoder_rotation": 1.0 - encoder_cosine(start, end),
        "freq_before": before["freq"], "freq_after": after["freq"], "freq_change": after["freq"] - before["freq"],
        "act_before": before["act"], "act_after": after["act"], "act_change": after["act"] - before["act"],
        "fvu_start_on_target": (activity(start, x_target)["fvu"] if fvu_start_on_target is None
                                else fvu_start_on_target),
        "fvu_after": after["fvu"],
    }


# --------------------------------------------------------------------------------------------
# Against the null
# --------------------------------------------------------------------------------------------
def loo_null(null: np.ndarray) -> np.ndarray:
    """The pooled leave-one-out null of a statistic: for every null order o and latent i,
    ``null[o, i] - mean(null[o', i] for o' != o)`` (flattened); empty with fewer than two orders."""
    null = np.asarray(null, dtype=np.float64)
    n = null.shape[0]
    if n < 2:
        return np.empty(0)
    loo = (null.sum(0, keepdims=True) - null) / (n - 1)
    return (null - loo).ravel()


def against_null(values: np.ndarray, null: np.ndarray | None, two_sided: bool) -> dict[str, np.ndarray]:
    """One statistic of a contrast ([orders, latents]) against its null ([null orders, latents]).

    ``value`` is the mean over the contrast's orders; ``null_mean``/``null_max`` over the null's orders;
    ``excess = value - null_mean``; ``p`` the empirical p-value of the excess against the pooled
    leave-one-out null (:func:`loo_null`). The observed excess averages over the contrast's orders while
    each leave-one-out value is one order, so the p-value is conservative."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    out = {"value": values.mean(0)}
    if null is None:
        return out
    null = np.atleast_2d(np.asarray(null, dtype=np.float64))
    out.update(null_mean=null.mean(0), null_max=null.max(0), null_min=null.min(0))
    out["excess"] = out["value"] - out["null_mean"]
    out["p"] = empirical_p(out["excess"], loo_null(null), "two-sided" if two_sided else "greater", rtol=1e-12,
                           atol=1e-12)
    return out


def flags(p: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg q-values of the p-values and the flagged latents: ``p <= alpha`` (a per-latent level,
    so the null expects ``alpha`` times the number of latents; Benjamini-Hochberg could not flag a single
    latent here, since with R null orders no empirical p-value is below ``1 / (R * latents + 1)``). Nothing is
    flagged without p-values."""
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0 or np.isnan(p).all():
        return np.full(p.shape, np.nan), np.zeros(p.shape, dtype=bool)
    return bh_qvalues(np.nan_to_num(p, nan=1.0)), np.nan_to_num(p, nan=1.0) <= alpha


def reproducibility(per_order: np.ndarray) -> float | None:
    """Mean Pearson correlation of a per-latent statistic between every two orders (None with one order)."""
    per_order = np.atleast_2d(per_order)
    n = per_order.shape[0]
    if n < 2:
        return None
    rs = [np.corrcoef(per_order[i], per_order[j])[0, 1] for i in range(n) for j in range(i + 1, n)]
    rs = [r for r in rs if np.isfinite(r)]
    return float(np.mean(rs)) if rs else None


def rank_desc(x: np.ndarray) -> np.ndarray:
    """1-based rank, 1 = largest; ties share the best rank; NaN ranks last."""
    x = np.where(np.isfinite(x), x, -np.inf)
    srt = np.sort(x)
    return 1 + x.size - np.searchsorted(srt, x, side="right")
