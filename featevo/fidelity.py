"""Fidelity of an SAE inside its model: loss with the SAE spliced in vs clean, zero- and mean-ablated.

``loss recovered = (L_zero - L_sae) / (L_zero - L_clean)`` (SAEBench's fidelity figure): 1 means
the reconstruction is as good as the real activations for the model's own task, 0 means no better
than deleting them. The model's own loss is its head's:

* ``mlm``: masked-LM cross-entropy on a fixed, seeded 15% of the kept tokens (replaced by [MASK]);
* ``cls``: the sequence classifier has no labels on our corpus, so its "loss" is the KL divergence
  of the classifier's output to the clean output (KL_clean = 0): recovered = 1 - KL_sae / KL_zero.

Where the splice goes. The SAEs are trained on real-token rows only, never on a row whose input is
[MASK], yet the masked-LM loss is measured at the [MASK] positions. So the **primary** splice replaces
the hooked block's output at the kept positions whose input is a real token (every kept position
whose input id is not the [MASK] id: a loss position kept as a real or random token counts as real);
the [MASK] positions keep their clean rows and the loss is still read there. The splice at the [MASK]
input positions only is reported apart (keys ending ``_mask_positions``): it measures how the SAE
reconstructs a row it never trained on. Padding and, if excluded, [CLS]/[SEP] always keep their
clean values.

Beside loss recovered, for each position set: ``delta_ce_nats`` = L_sae - L_clean (mean nats per
loss position; ``mlm`` only), ``kl_to_clean_nats`` = mean KL(clean output || spliced output) at the
loss positions (nats; for ``cls`` it is the loss itself), and a mean-ablation reference: the spliced
rows replaced by a mean activation (``mean_ablation`` says which: the model's training-split mean at
the hooked layer when the caller passes it, else the mean of the replaced rows of each eval batch),
with ``loss_recovered_vs_mean_ablation`` = (L_mean - L_sae) / (L_mean - L_clean).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from featevo.progress import tqdm

from featevo.models import encoder_layers

logger = logging.getLogger(__name__)

REAL, MASKED = "real", "mask"
SPLICE_POSITIONS = ("primary: kept positions whose input token is not [MASK] (real-token inputs); "
                    "*_mask_positions: kept positions whose input is [MASK] only; "
                    "the loss is read at the masked-LM label positions in both")
SPLICE_POSITIONS_CLS = "all kept positions (the classifier's inputs have no [MASK])"
TRAIN_MEAN = "mean of the model's training-split activations at the hooked layer (the rows its SAEs train on)"
BATCH_MEAN = "mean of the replaced rows of each eval batch"


@contextmanager
def splice(model: nn.Module, layer: int, fn: Callable[[torch.Tensor], torch.Tensor], mask: torch.Tensor):
    """Within the block, replace block ``layer``'s output h[mask] by fn(h[mask])."""

    def hook(_mod, _inp, output):
        h = output[0] if isinstance(output, tuple) else output
        h = h.clone()
        m = mask[:, : h.shape[1]]
        h[m] = fn(h[m]).to(h.dtype)
        return (h, *output[1:]) if isinstance(output, tuple) else h

    handle = encoder_layers(model)[layer].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextmanager
def capture(model: nn.Module, layer: int, into: list):
    """Within the block, append block ``layer``'s output (detached) to ``into``."""

    def hook(_mod, _inp, output):
        into.append((output[0] if isinstance(output, tuple) else output).detach())

    handle = encoder_layers(model)[layer].register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def mask_tokens(input_ids: torch.Tensor, keep_mask: torch.Tensor, mask_id: int, prob: float, seed: int):
    """Seeded [MASK] replacement of ``prob`` of the kept tokens; returns (masked ids, labels)."""
    g = torch.Generator().manual_seed(seed)
    chosen = (torch.rand(input_ids.shape, generator=g) < prob) & keep_mask
    # at least one masked token per document that has kept tokens
    none = ~chosen.any(1) & keep_mask.any(1)
    for i in none.nonzero().flatten().tolist():
        pos = keep_mask[i].nonzero().flatten()
        chosen[i, pos[torch.randint(len(pos), (1,), generator=g)]] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    masked = torch.where(chosen, torch.full_like(input_ids, mask_id), input_ids)
    return masked, labels


def position_sets(ids: torch.Tensor, keep: torch.Tensor, mask_id: int | None) -> dict[str, torch.Tensor]:
    """The two splice position sets: kept real-token inputs (primary) and kept [MASK] inputs."""
    if mask_id is None:
        return {REAL: keep, MASKED: torch.zeros_like(keep)}
    is_mask = ids == mask_id
    return {REAL: keep & ~is_mask, MASKED: keep & is_mask}


def activation_mean(rows) -> torch.Tensor:
    """Mean of an iterable of activation row chunks (e.g. ``ActivationStore.iter_rows()``), in float64."""
    total, n = None, 0
    for part in rows:
        s = part.double().sum(0)
        total = s if total is None else total + s
        n += part.shape[0]
    if not n:
        raise ValueError("activation_mean: no rows")
    return (total / n).float()


@torch.no_grad()
def model_loss(model: nn.Module, head: str, ids, attn, labels=None, ref_logp=None) -> tuple[float, int, torch.Tensor]:
    """(sum of loss, count, log-probs) of one batch for head ``mlm`` (CE) or ``cls`` (KL to ref)."""
    out = model(input_ids=ids, attention_mask=attn)
    logp = F.log_softmax(out.logits.float(), dim=-1)
    if head == "mlm":
        sel = labels != -100
        loss = F.nll_loss(logp[sel], labels[sel], reduction="sum")
        return loss.item(), int(sel.sum()), logp
    if ref_logp is None:
        return 0.0, ids.shape[0], logp
    kl = F.kl_div(logp, ref_logp, log_target=True, reduction="sum")
    return kl.item(), ids.shape[0], logp


@torch.no_grad()
def _loss_positions_logp(model: nn.Module, head: str, ids, attn, labels) -> torch.Tensor:
    """Log-probs at the loss positions: the masked-LM label positions (``mlm``) or one row per document (``cls``)."""
    logp = F.log_softmax(model(input_ids=ids, attention_mask=attn).logits.float(), dim=-1)
    return logp[labels != -100] if head == "mlm" else logp


def _loss_and_kl(head: str, logp: torch.Tensor, ref: torch.Tensor, targets) -> tuple[float, float]:
    """(sum of the head's loss, sum of KL(ref || logp)) over the loss positions."""
    kl = F.kl_div(logp, ref, log_target=True, reduction="sum").item()
    if head == "mlm":
        return F.nll_loss(logp, targets, reduction="sum").item(), kl
    return kl, kl


@torch.no_grad()
def loss_recovered(
    model: nn.Module, head: str, reconstruct_fn: Callable[[torch.Tensor], torch.Tensor], tokens: dict,
    layer: int, mask_id: int | None, device: torch.device, batch_size: int = 32, seed: int = 0,
    mlm_probability: float = 0.15, max_docs: int | None = None, desc: str = "loss recovered",
    mean_activation: Optional[torch.Tensor] = None,
) -> dict:
    """Clean, spliced, zero- and mean-ablated loss over ``tokens`` and the recovered fractions."""
    return loss_recovered_many(model, head, {"sae": reconstruct_fn}, tokens, layer, mask_id, device, batch_size,
                               seed, mlm_probability, max_docs, desc, mean_activation)["sae"]


class _Totals:
    """Running sums over batches: loss and KL per (position set, variant) and the loss-position count."""

    def __init__(self, variants: list[str]):
        self.sums = {(p, v): [0.0, 0.0] for p in (REAL, MASKED) for v in variants}
        self.clean, self.count, self.rows = 0.0, 0, {REAL: 0, MASKED: 0}

    def add(self, pos: str, variant: str, loss: float, kl: float) -> None:
        self.sums[(pos, variant)][0] += loss
        self.sums[(pos, variant)][1] += kl

    def mean(self, pos: str, variant: str) -> tuple[float, float]:
        loss, kl = self.sums[(pos, variant)]
        return loss / max(self.count, 1), kl / max(self.count, 1)


def _batch(model, head, fns: dict, b: dict, layer: int, mean_activation, tot: _Totals) -> None:
    """Clean pass, then every variant (SAEs, zero, mean) spliced at each position set of one batch."""
    acts: list = []
    with capture(model, layer, acts):
        ref = _loss_positions_logp(model, head, b["ids"], b["attn"], b["labels"])
    targets = b["labels"][b["labels"] != -100] if head == "mlm" else None
    clean, _ = _loss_and_kl(head, ref, ref, targets)
    tot.clean += clean
    tot.count += ref.shape[0]
    for pos, where in b["sets"].items():
        n_rows = int(where.sum())
        tot.rows[pos] += n_rows
        if not n_rows:  # nothing to splice: every variant's output is the clean one
            for v in (*fns, "zero", "mean"):
                tot.add(pos, v, clean, 0.0)
            continue
        mean = mean_activation.to(acts[0]) if mean_activation is not None else acts[0][where].mean(0)
        variants = {**fns, "zero": torch.zeros_like, "mean": lambda h, m=mean: m.expand_as(h).clone()}
        for v, fn in variants.items():
            with splice(model, layer, fn, where):
                logp = _loss_positions_logp(model, head, b["ids"], b["attn"], b["labels"])
            tot.add(pos, v, *_loss_and_kl(head, logp, ref, targets))


def _recovered(ref_loss: float, sae_loss: float, clean: float) -> Optional[float]:
    """(L_ref - L_sae) / (L_ref - L_clean); None (undefined) unless the reference raised the loss."""
    return (ref_loss - sae_loss) / (ref_loss - clean) if ref_loss - clean > 0 else None


def _set_summary(head: str, tot: _Totals, pos: str, k: str, clean: float) -> dict:
    sae, kl = tot.mean(pos, k)
    zero, mean = tot.mean(pos, "zero")[0], tot.mean(pos, "mean")[0]
    if not tot.rows[pos]:
        return {"sae_loss": None, "zero_ablation_loss": None, "mean_ablation_loss": None, "loss_recovered": None,
                "loss_recovered_vs_mean_ablation": None, "delta_ce_nats": None, "kl_to_clean_nats": None}
    return {"sae_loss": sae, "zero_ablation_loss": zero, "mean_ablation_loss": mean,
            "loss_recovered": _recovered(zero, sae, clean),
            "loss_recovered_vs_mean_ablation": _recovered(mean, sae, clean),
            "delta_ce_nats": sae - clean if head == "mlm" else None, "kl_to_clean_nats": kl}


@torch.no_grad()
def loss_recovered_many(
    model: nn.Module, head: str, reconstruct_fns: dict[str, Callable[[torch.Tensor], torch.Tensor]], tokens: dict,
    layer: int, mask_id: int | None, device: torch.device, batch_size: int = 32, seed: int = 0,
    mlm_probability: float = 0.15, max_docs: int | None = None, desc: str = "loss recovered",
    mean_activation: Optional[torch.Tensor] = None,
) -> dict[str, dict]:
    """:func:`loss_recovered` of several SAEs of one model: the clean and ablated passes run once, on the
    same masked tokens (``seed``) for every SAE. ``mean_activation`` (d_in): the mean-ablation vector (the
    model's training-split mean); None: the mean of the replaced rows of each batch."""
    if head not in ("mlm", "cls"):
        note = {"head": head, "note": "model has no MLM or classification head; loss recovered not defined"}
        return {k: dict(note) for k in reconstruct_fns}
    ids, attn, keep = tokens["input_ids"].long(), tokens["attention_mask"].long(), tokens["keep_mask"].bool()
    if max_docs is not None:
        ids, attn, keep = ids[:max_docs], attn[:max_docs], keep[:max_docs]
    labels = torch.full_like(ids, -100)
    if head == "mlm":
        ids, labels = mask_tokens(ids, keep, mask_id, mlm_probability, seed)
    sets = position_sets(ids, keep, mask_id if head == "mlm" else None)
    tot = _Totals([*reconstruct_fns, "zero", "mean"])
    for s in tqdm(range(0, ids.shape[0], batch_size), desc=desc, unit="batch"):
        width = max(int(attn[s : s + batch_size].sum(1).max()), 1)
        b = {"ids": ids[s : s + batch_size, :width].to(device), "attn": attn[s : s + batch_size, :width].to(device),
             "labels": labels[s : s + batch_size, :width].to(device),
             "sets": {p: m[s : s + batch_size, :width].to(device) for p, m in sets.items()}}
        _batch(model, head, reconstruct_fns, b, layer, mean_activation, tot)
    clean = tot.clean / max(tot.count, 1)
    kind = "masked-LM cross-entropy" if head == "mlm" else "KL divergence to the clean classifier output"
    out = {}
    for k in reconstruct_fns:
        primary, at_mask = _set_summary(head, tot, REAL, k, clean), _set_summary(head, tot, MASKED, k, clean)
        out[k] = {
            "head": head, "loss": kind, "clean_loss": clean, **primary,
            **{f"{key}_mask_positions": v for key, v in at_mask.items()},
            "n": tot.count, "mask_seed": seed, "spliced_rows": tot.rows[REAL],
            "spliced_rows_mask_positions": tot.rows[MASKED],
            "splice_positions": SPLICE_POSITIONS if head == "mlm" else SPLICE_POSITIONS_CLS,
            "mean_ablation": TRAIN_MEAN if mean_activation is not None else BATCH_MEAN,
        }
    return out
