"""Fidelity of an SAE inside its model: loss with the SAE spliced in vs clean vs zero-ablated.

``loss recovered = (L_zero - L_sae) / (L_zero - L_clean)`` (SAEBench's fidelity figure): 1 means
the reconstruction is as good as the real activations for the model's own task, 0 means no better
than deleting them. The model's own loss is its head's:

* ``mlm``: masked-LM cross-entropy on a fixed, seeded 15% of the kept tokens (replaced by [MASK]);
* ``cls``: the sequence classifier has no labels on our corpus, so its "loss" is the KL divergence
  of the classifier's output to the clean output (KL_clean = 0): recovered = 1 - KL_sae / KL_zero.

The splice replaces the hooked block's output only at the positions the SAE was trained on
(``keep_mask``); padding and, if excluded, [CLS]/[SEP] keep their clean values.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from featevo.progress import tqdm

from featevo.models import encoder_layers

logger = logging.getLogger(__name__)


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
def loss_recovered(
    model: nn.Module, head: str, reconstruct_fn: Callable[[torch.Tensor], torch.Tensor], tokens: dict,
    layer: int, mask_id: int | None, device: torch.device, batch_size: int = 32, seed: int = 0,
    mlm_probability: float = 0.15, max_docs: int | None = None, desc: str = "loss recovered",
) -> dict:
    """Clean, spliced and zero-ablated loss over ``tokens`` and the recovered fraction."""
    return loss_recovered_many(model, head, {"sae": reconstruct_fn}, tokens, layer, mask_id, device, batch_size,
                               seed, mlm_probability, max_docs, desc)["sae"]


@torch.no_grad()
def loss_recovered_many(
    model: nn.Module, head: str, reconstruct_fns: dict[str, Callable[[torch.Tensor], torch.Tensor]], tokens: dict,
    layer: int, mask_id: int | None, device: torch.device, batch_size: int = 32, seed: int = 0,
    mlm_probability: float = 0.15, max_docs: int | None = None, desc: str = "loss recovered",
) -> dict[str, dict]:
    """:func:`loss_recovered` of several SAEs of one model: the clean and zero-ablated passes run once, on the
    same masked tokens (``seed``) for every SAE."""
    if head not in ("mlm", "cls"):
        note = {"head": head, "note": "model has no MLM or classification head; loss recovered not defined"}
        return {k: dict(note) for k in reconstruct_fns}
    ids, attn, keep = tokens["input_ids"].long(), tokens["attention_mask"].long(), tokens["keep_mask"]
    if max_docs is not None:
        ids, attn, keep = ids[:max_docs], attn[:max_docs], keep[:max_docs]
    labels = None
    if head == "mlm":
        ids, labels = mask_tokens(ids, keep, mask_id, mlm_probability, seed)
    totals = {"clean": 0.0, "zero": 0.0, **{f"sae:{k}": 0.0 for k in reconstruct_fns}}
    count = 0
    for s in tqdm(range(0, ids.shape[0], batch_size), desc=desc, unit="batch"):
        width = max(int(attn[s : s + batch_size].sum(1).max()), 1)
        b_ids = ids[s : s + batch_size, :width].to(device)
        b_attn = attn[s : s + batch_size, :width].to(device)
        b_keep = keep[s : s + batch_size, :width].to(device)
        b_lab = labels[s : s + batch_size, :width].to(device) if labels is not None else None
        clean, n, ref = model_loss(model, head, b_ids, b_attn, b_lab)
        totals["clean"] += clean
        count += n
        for k, fn in reconstruct_fns.items():
            with splice(model, layer, fn, b_keep):
                totals[f"sae:{k}"] += model_loss(model, head, b_ids, b_attn, b_lab, ref)[0]
        with splice(model, layer, torch.zeros_like, b_keep):
            totals["zero"] += model_loss(model, head, b_ids, b_attn, b_lab, ref)[0]
    mean = {k: v / max(count, 1) for k, v in totals.items()}
    denom = mean["zero"] - mean["clean"]
    kind = "masked-LM cross-entropy" if head == "mlm" else "KL divergence to the clean classifier output"
    out = {}
    for k in reconstruct_fns:
        sae_loss = mean[f"sae:{k}"]
        out[k] = {
            "head": head, "loss": kind, "clean_loss": mean["clean"], "sae_loss": sae_loss,
            "zero_ablation_loss": mean["zero"], "n": count, "mask_seed": seed,
            "loss_recovered": (mean["zero"] - sae_loss) / denom if denom > 0 else None,  # undefined otherwise
        }
    return out
