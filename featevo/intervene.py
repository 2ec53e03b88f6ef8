"""Interventions on SAE latents inside an encoder: the machinery of the causal checks (stage ``03_causal``).

**The splice.** At the hooked block L (module ``encoder.layer.L``, output ``h = hidden_states[L + 1]``) and only at
the kept positions (never padding; no [CLS]/[SEP] when ``harvest.exclude_special_tokens``, as in SAE training)::

    h' = h + (decode(z') - decode(z)),    z = sae.encode(h)

The SAE's error term ``h - decode(z)`` is kept, so ``h' == h`` bit for bit when ``z' == z``: an untouched splice
changes nothing. An intervention changes one latent j of z at every kept token: ``ablate`` sets it to 0, ``patch``
sets it to the value the same SAE's encoder gives the *base* model's activation at the same token (the base model
run on the same input ids). The forward pass then continues through blocks L+1.. and the model's head.

**The upward pass** (:class:`UpperPass`). The lower blocks 0..L run once per batch of documents
(:func:`lower_batches`); an intervention reruns only the blocks above L, and only for the documents it changes (a
document where ``z'_j == z_j`` at every kept token has exactly the clean output: effect 0). The documents that
several interventions change are packed into batches of ``batch_size``. The last block is computed only at the
positions the head reads (the masked positions for a masked-LM head, [CLS] for a sequence classifier), and the
masked-LM head only at the masked positions. BERT-family models only (``BertForMaskedLM``,
``BertForSequenceClassification``, ``BertModel``); ``tests/test_causal.py`` checks the upward pass against the
model's own forward.

**Effects** (:func:`run_interventions`, :func:`domain_effects`). Per intervention and document: for a masked-LM
head the summed change of the cross-entropy at the document's masked tokens; for a classifier
``KL(clean || intervened)`` of its output distribution and whether the predicted label flipped. Per domain the
effect is the mean per masked token (MLM) or per document (classifier), with cluster-bootstrap intervals that
resample probe templates within each domain, and the target-minus-reference difference.

**Controls.** :func:`matched_random_latents` draws random latents with the flagged latents' distribution over
firing-frequency deciles: the null distribution of an effect. :func:`null_position` places an effect in it.
:func:`featevo.stats.auroc` ranks latents by how well they separate given tokens (the planted positive control).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from featevo.progress import tqdm

from featevo.activations import layer_and_last_output, layer_output
from featevo.data import TARGET, REFERENCE
from featevo.errors import ModelLoadError
from featevo.models import encoder, encoder_layers
from featevo.stats import cluster_bootstrap_weights, empirical_p, percentile_ci, rng_for

logger = logging.getLogger(__name__)

ABLATE, PATCH = "ablate", "patch"
KINDS = (ABLATE, PATCH)
IGNORE = -100  # label of an unscored position (as in transformers)


def _first(x):
    return x[0] if isinstance(x, tuple) else x


# --------------------------------------------------------------------------------------------
# The upward pass
# --------------------------------------------------------------------------------------------
def _block_at(blk: nn.Module, h: torch.Tensor, attn: torch.Tensor, qpos: torch.Tensor) -> torch.Tensor:
    """A ``BertLayer``'s output [B, Q, d] at the query positions ``qpos`` [B, Q] only (keys and values from all
    positions; ``attn`` [B, T] the 2-D attention mask)."""
    sa = blk.attention.self
    b, t, d = h.shape
    q_n = qpos.shape[1]
    nh, dh = sa.num_attention_heads, sa.attention_head_size
    hq = h.gather(1, qpos[:, :, None].expand(b, q_n, d))
    q = sa.query(hq).view(b, q_n, nh, dh).transpose(1, 2)
    k = sa.key(h).view(b, t, nh, dh).transpose(1, 2)
    v = sa.value(h).view(b, t, nh, dh).transpose(1, 2)
    ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attn.bool()[:, None, None, :], scale=sa.scaling)
    a = blk.attention.output(ctx.transpose(1, 2).reshape(b, q_n, nh * dh), hq)
    return blk.output(blk.intermediate(a), a)


class UpperPass:
    """A BERT-family model split at block ``layer``: :meth:`lower` gives the block's output, :meth:`upper` continues
    from a (spliced) block output to the head's output at chosen positions.

    ``head``: ``mlm`` (``BertForMaskedLM``: logits at the query positions), ``cls``
    (``BertForSequenceClassification``: the classifier's logits; the query is [CLS]) or ``none`` (hidden states).
    """

    def __init__(self, model: nn.Module, layer: int, head: str):
        from transformers import BertModel

        enc = encoder(model)
        name = type(model).__name__
        if not isinstance(enc, BertModel) or enc.config.is_decoder or getattr(enc.config, "add_cross_attention", False):
            raise ModelLoadError(f"causal checks support BERT-family encoders (BertModel, BertForMaskedLM, "
                                 f"BertForSequenceClassification); {name} is not one")
        if head == "mlm" and not hasattr(getattr(model, "cls", None), "predictions"):
            raise ModelLoadError(f"{name} has no BERT masked-LM head (model.cls.predictions)")
        if head == "cls" and (enc.pooler is None or not isinstance(getattr(model, "classifier", None), nn.Linear)):
            raise ModelLoadError(f"{name} is not a BertForSequenceClassification (pooler and linear classifier)")
        if head not in ("mlm", "cls", "none"):
            raise ValueError(f"head must be mlm, cls or none, not {head!r}")
        self.blocks = encoder_layers(model)
        if not 0 <= layer < len(self.blocks):
            raise ModelLoadError(f"layer {layer} is out of range for {name} with {len(self.blocks)} blocks")
        self.model, self.layer, self.head, self.config = model, layer, head, enc.config

    def lower(self, ids: torch.Tensor, attn: torch.Tensor) -> torch.Tensor:
        """Block ``layer``'s output [B, T, d] (blocks 0..layer only)."""
        return layer_output(self.model, ids, attn, self.layer)

    def _head(self, hq: torch.Tensor, qvalid: torch.Tensor) -> torch.Tensor:
        if self.head == "mlm":
            return self.model.cls.predictions(hq[qvalid])
        if self.head == "cls":
            return self.model.classifier(self.model.dropout(encoder(self.model).pooler(hq)))
        return hq[qvalid]

    @torch.no_grad()
    def upper(self, h: torch.Tensor, attn: torch.Tensor, qpos: torch.Tensor, qvalid: torch.Tensor) -> torch.Tensor:
        """The head's output from block output ``h`` [B, T, d]: ``mlm``/``none`` [N, ...] at the valid query
        positions (``qpos`` [B, Q], ``qvalid`` [B, Q], row-major); ``cls`` [B, labels] (``qpos[:, 0]`` = 0)."""
        from transformers.masking_utils import create_bidirectional_mask

        n = len(self.blocks)
        if self.layer + 1 == n:
            return self._head(h.gather(1, qpos[:, :, None].expand(-1, -1, h.shape[-1])), qvalid)
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=h, attention_mask=attn)
        for blk in self.blocks[self.layer + 1 : n - 1]:
            h = _first(blk(h, mask))
        return self._head(_block_at(self.blocks[n - 1], h, attn, qpos), qvalid)

    @torch.no_grad()
    def head_at(self, last: torch.Tensor, qpos: torch.Tensor, qvalid: torch.Tensor) -> torch.Tensor:
        """The head's output from the encoder's last hidden state (the model's own forward), as :meth:`upper`."""
        return self._head(last.gather(1, qpos[:, :, None].expand(-1, -1, last.shape[-1])), qvalid)


def query_positions(labels: torch.Tensor | None, batch: int, head: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(qpos, qvalid) [B, Q]: the scored positions of each document, left-aligned (``labels != IGNORE``), or
    [CLS] (position 0) for a classifier (``labels`` None)."""
    if head == "cls" or labels is None:
        return torch.zeros(batch, 1, dtype=torch.long), torch.ones(batch, 1, dtype=torch.bool)
    sel = labels != IGNORE
    q_n = max(int(sel.sum(1).max()), 1)
    order = torch.argsort((~sel).to(torch.int8), dim=1, stable=True)[:, :q_n]
    return order, sel.gather(1, order)


# --------------------------------------------------------------------------------------------
# The splice
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def splice(h: torch.Tensor, keep: torch.Tensor, sae, z: torch.Tensor, z_new: torch.Tensor) -> torch.Tensor:
    """``h`` with ``h[keep] + decode(z_new) - decode(z)`` at the kept positions (``z``: the SAE code of
    ``h[keep]``); exactly ``h`` when ``z_new == z``."""
    out = h.clone()
    out[keep] = h[keep] + (sae.decode(z_new) - sae.decode(z))
    return out


@torch.no_grad()
def decoder_direction(sae, j: int) -> torch.Tensor:
    """``decode(e_j) - decode(0)``: what one unit of latent j adds to the reconstruction. sae-lens decoders are affine
    (``z @ W_dec + b_dec``, rows rescaled by their norms when ``rescale_acts_by_decoder_norm``), so a change of z_j
    alone changes ``decode(z)`` by ``(z'_j - z_j)`` times this (the splice for one latent, without a dense decode)."""
    if getattr(sae.cfg, "normalize_activations", "none") in ("constant_norm_rescale", "layer_norm"):
        raise ValueError("the splice needs an SAE without run-time activation normalisation (fold it first)")
    e = torch.zeros(2, sae.cfg.d_sae, dtype=sae.W_dec.dtype, device=sae.W_dec.device)
    e[0, j] = 1.0
    out = sae.decode(e)
    return out[0] - out[1]


@dataclass(frozen=True)
class Intervention:
    latent: int
    kind: str  # ABLATE or PATCH


@dataclass
class Batch:
    """One batch of documents after the lower pass (tensors on the model's device)."""

    docs: np.ndarray            # [B] indices of the documents in the probe
    attn: torch.Tensor          # [B, T] attention mask
    keep: torch.Tensor          # [B, T] positions the SAE sees
    qpos: torch.Tensor          # [B, Q] scored positions
    qvalid: torch.Tensor        # [B, Q]
    targets: torch.Tensor       # [B, Q] MLM label at each query (0 where not valid); empty for cls
    h: torch.Tensor             # [B, T, d] the model's block-L output
    z: torch.Tensor             # [R, d_sae] SAE code of h[keep] (rows in row-major order)
    z_base: torch.Tensor | None  # [R, d_sae] SAE code of the base model's block-L output
    row_doc: torch.Tensor       # [R] local document of each row
    row_pos: torch.Tensor       # [R] position of each row
    clean: torch.Tensor = None  # MLM: [B, Q] clean cross-entropy per query; cls: [B, labels] clean log-probs
    identity: tuple[float, float] = (0.0, 0.0)
    """Splice identity on this batch: max |h' - h| and max |head output difference| of the untouched splice
    continued upward vs the model's own forward."""


@torch.no_grad()
def lower_batches(up: UpperPass, sae, tokens: dict, labels: torch.Tensor | None, batch_size: int, device,
                  base: nn.Module | None = None, desc: str = "lower pass") -> list[Batch]:
    """Per batch of documents: one full forward of the model (its block-L output and, as the reference, its own
    head output), the base model's blocks 0..L when ``base`` is given, the SAE codes, and the untouched splice
    continued upward (the clean scores, checked against the reference). ``labels`` [docs, T]: MLM targets,
    ``IGNORE`` elsewhere (None for a classifier)."""
    n = tokens["input_ids"].shape[0]
    out = []
    for s in tqdm(range(0, n, batch_size), desc=desc, unit="batch"):
        sl = slice(s, s + batch_size)
        width = max(int(tokens["attention_mask"][sl].sum(1).max()), 1)
        ids = tokens["input_ids"][sl, :width].long().to(device)
        attn = tokens["attention_mask"][sl, :width].long().to(device)
        keep = tokens["keep_mask"][sl, :width].bool().to(device)
        lab = labels[sl, :width] if labels is not None else None
        qpos, qvalid = (t.to(device) for t in query_positions(lab, ids.shape[0], up.head))
        targets = (lab.long().to(device).gather(1, qpos).clamp_min(0) if lab is not None and up.head == "mlm"
                   else torch.zeros(0, dtype=torch.long, device=device))
        h, last = layer_and_last_output(up.model, ids, attn, up.layer)
        z = sae.encode(h[keep].to(sae.W_enc.dtype))
        z_base = sae.encode(layer_output(base, ids, attn, up.layer)[keep].to(sae.W_enc.dtype)) if base else None
        rows = keep.nonzero()
        b = Batch(np.arange(s, s + ids.shape[0]), attn, keep, qpos, qvalid, targets, h, z, z_base, rows[:, 0],
                  rows[:, 1])
        spliced = splice(h, keep, sae, z, z)
        got, ref = up.upper(spliced, attn, qpos, qvalid), up.head_at(last, qpos, qvalid)
        b.identity = (float((spliced - h).abs().max()), float((got.float() - ref.float()).abs().max()))
        b.clean = _score_clean(up, b, got)
        out.append(b)
    return out


def identity_summary(batches: Sequence[Batch]) -> dict:
    """The splice identity over all batches: an untouched splice (``z' = z``) continued upward against the model's
    own forward on the same input (float round-off only), and |h' - h| (exactly 0)."""
    return {"max_abs_logit_diff": max((b.identity[1] for b in batches), default=0.0),
            "max_abs_hidden_diff": max((b.identity[0] for b in batches), default=0.0),
            "docs": int(sum(len(b.docs) for b in batches))}


def _score_clean(up: UpperPass, b: Batch, out: torch.Tensor) -> torch.Tensor:
    if up.head == "mlm":
        ce = torch.zeros(b.qpos.shape, dtype=torch.float32, device=out.device)
        ce[b.qvalid] = F.cross_entropy(out.float(), b.targets[b.qvalid], reduction="none")
        return ce
    if up.head == "cls":
        return F.log_softmax(out.float(), dim=-1)
    raise ModelLoadError("causal checks need a masked-LM or sequence-classification head (the model has neither)")


# --------------------------------------------------------------------------------------------
# Interventions
# --------------------------------------------------------------------------------------------
@dataclass
class DocEffects:
    """Per intervention (rows) and probe document (columns)."""

    loss: np.ndarray     # MLM: summed cross-entropy change at the document's masked tokens; cls: KL(clean || int)
    flip: np.ndarray     # cls: 1 when the predicted label changed (MLM: 0)
    touched: np.ndarray  # bool: the intervention changed the document's block-L output


def _intervened(direction: torch.Tensor, b: Batch, iv: Intervention) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(local documents changed by ``iv``, their spliced block-L outputs), or None when nothing changes. Only z_j
    changes, so ``decode(z') - decode(z) = (z'_j - z_j) * direction`` at each changed row (``direction`` =
    :func:`decoder_direction` of latent j)."""
    j = iv.latent
    old = b.z[:, j]
    if iv.kind == ABLATE:
        new = torch.zeros_like(old)
    elif iv.kind == PATCH:
        if b.z_base is None:
            raise ValueError("a patch intervention needs the base model's codes (lower_batches(base=...))")
        new = b.z_base[:, j]
    else:
        raise ValueError(f"unknown intervention {iv.kind!r}")
    changed = (new != old).nonzero().flatten()
    if changed.numel() == 0:
        return None
    local, inv = torch.unique(b.row_doc[changed], return_inverse=True)
    hs = b.h[local].clone()
    pos = b.row_pos[changed]
    step = (new[changed] - old[changed])[:, None] * direction[None, :]
    hs[inv, pos] = hs[inv, pos] + step.to(hs.dtype)
    return local, hs


def _packed(items: list[tuple[int, torch.Tensor, torch.Tensor]], batch_size: int):
    """Group (intervention, documents, outputs) items into runs of at most ``batch_size`` documents (an item with
    more documents is a run of its own)."""
    run, size = [], 0
    for it in items:
        if run and size + len(it[1]) > batch_size:
            yield run
            run, size = [], 0
        run.append(it)
        size += len(it[1])
    if run:
        yield run


@torch.no_grad()
def _score_run(up: UpperPass, b: Batch, run, fx: DocEffects) -> None:
    local = torch.cat([it[1] for it in run])
    out = up.upper(torch.cat([it[2] for it in run]), b.attn[local], b.qpos[local], b.qvalid[local])
    if up.head == "mlm":
        qv = b.qvalid[local]
        ce = torch.zeros(qv.shape, dtype=torch.float32, device=out.device)
        ce[qv] = F.cross_entropy(out.float(), b.targets[local][qv], reduction="none")
        per_doc = ((ce - b.clean[local]) * qv).double().sum(1)
        flips = torch.zeros_like(per_doc)
    else:
        logp, ref = F.log_softmax(out.float(), dim=-1), b.clean[local]
        per_doc = (ref.exp() * (ref - logp)).sum(-1).double()
        flips = (logp.argmax(-1) != ref.argmax(-1)).double()
    per_doc, flips, s = per_doc.cpu().numpy(), flips.cpu().numpy(), 0
    for i, docs, _ in run:
        g = b.docs[docs.cpu().numpy()]
        fx.loss[i, g], fx.flip[i, g], fx.touched[i, g] = per_doc[s : s + len(docs)], flips[s : s + len(docs)], True
        s += len(docs)


@torch.no_grad()
def run_interventions(up: UpperPass, sae, batches: Sequence[Batch], interventions: Sequence[Intervention],
                      n_docs: int, batch_size: int, desc: str = "interventions") -> DocEffects:
    """Every intervention on every batch: only the changed documents go upward, packed ``batch_size`` at a time."""
    m = len(interventions)
    fx = DocEffects(np.zeros((m, n_docs)), np.zeros((m, n_docs)), np.zeros((m, n_docs), dtype=bool))
    directions = {j: decoder_direction(sae, j) for j in {iv.latent for iv in interventions}}
    for b in tqdm(batches, desc=desc, unit="batch"):
        items = []
        for i, iv in enumerate(interventions):
            sub = _intervened(directions[iv.latent], b, iv)
            if sub is not None:
                items.append((i, *sub))
        for run in _packed(items, batch_size):
            _score_run(up, b, run, fx)
    return fx


def firing_frequency(batches: Sequence[Batch], base: bool = False) -> np.ndarray:
    """Fraction of the kept tokens on which each latent fires (of the model's codes, or the base model's)."""
    fired = sum(((b.z_base if base else b.z) > 0).sum(0).double().cpu() for b in batches)
    rows = sum(b.z.shape[0] for b in batches)
    return (fired / max(rows, 1)).numpy()


# --------------------------------------------------------------------------------------------
# Effects and controls
# --------------------------------------------------------------------------------------------
def domain_effects(values: np.ndarray, weights: np.ndarray, domains: Sequence[str], clusters: Sequence[str],
                   n_boot: int, seed: int, level: float = 0.95) -> dict[str, np.ndarray]:
    """Per row of ``values`` [m, docs]: the effect on target-domain and on reference-domain documents
    (``sum(values) / sum(weights)`` over the domain's documents: per masked token with ``weights`` = masked tokens
    per document, per document with weights 1) and their difference, each with a cluster-bootstrap percentile
    interval (templates resampled within each domain). Keys ``target``, ``target_lo``, ``target_hi``,
    ``reference``..., ``diff``...; NaN for a domain without documents."""
    values, weights, domains = np.asarray(values, float), np.asarray(weights, float), np.asarray(domains)
    m = values.shape[0]
    strata = cluster_bootstrap_weights(clusters, domains, n_boot, seed)
    out: dict[str, np.ndarray] = {}
    reps = {}
    for dom, key in ((TARGET, "target"), (REFERENCE, "reference")):
        if dom not in strata or weights[strata[dom][0]].sum() <= 0:
            out[key] = out[f"{key}_lo"] = out[f"{key}_hi"] = np.full(m, np.nan)
            reps[key] = np.full((n_boot, m), np.nan)
            continue
        idx, w = strata[dom]
        out[key] = values[:, idx].sum(1) / weights[idx].sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            reps[key] = (w @ values[:, idx].T) / (w @ weights[idx])[:, None]
        out[f"{key}_lo"], out[f"{key}_hi"] = percentile_ci(reps[key], level)
    out["diff"] = out["target"] - out["reference"]
    out["diff_lo"], out["diff_hi"] = percentile_ci(reps["target"] - reps["reference"], level)
    return out


def frequency_deciles(freq: np.ndarray) -> np.ndarray:
    """Decile (0..9) of each latent's firing frequency among the live latents; -1 for a latent that never fires."""
    freq = np.asarray(freq, float)
    live = freq > 0
    out = np.full(freq.shape, -1, dtype=np.int64)
    if live.any():
        edges = np.quantile(freq[live], np.linspace(0.1, 0.9, 9))
        out[live] = np.searchsorted(edges, freq[live], side="right")
    return out


def matched_random_latents(freq: np.ndarray, targets: Sequence[int], n: int, seed: int) -> list[int]:
    """``n`` live latents (not in ``targets``) drawn at random with the targets' distribution over firing-frequency
    deciles: each decile gets a share of ``n`` proportional to its number of targets (largest remainders); a decile
    with too few latents is topped up from the nearest deciles. Seeded; fewer than ``n`` only when fewer are live."""
    dec = frequency_deciles(freq)
    taken = set(int(t) for t in targets)
    t_dec = np.array([dec[t] for t in targets if dec[t] >= 0])
    if t_dec.size == 0:  # only dead targets: match nothing, draw from every live latent
        t_dec = dec[dec >= 0]
    counts = np.bincount(t_dec, minlength=10).astype(float)
    exact = n * counts / counts.sum()
    quota = np.floor(exact).astype(int)
    for d in np.argsort(-(exact - quota), kind="stable")[: n - quota.sum()]:
        quota[d] += 1
    rng = rng_for(seed, 43)
    pools = {d: [int(j) for j in rng.permutation(np.flatnonzero(dec == d)) if int(j) not in taken] for d in range(10)}
    out: list[int] = []
    for d in range(10):
        for near in sorted(range(10), key=lambda e: (abs(e - d), e)):
            while quota[d] > 0 and pools[near]:
                out.append(pools[near].pop(0))
                quota[d] -= 1
    return out


def null_position(observed: np.ndarray, null: np.ndarray,
                  alternative: str = "two-sided") -> tuple[np.ndarray, np.ndarray]:
    """(percentile 0..100 of each observed value in the null sample, counting ties half; empirical p-value
    ``(1 + #{null at least as extreme}) / (n + 1)``: of |observed| against |null| (``two-sided``) or of observed
    against null (``greater``: is it larger than the null's?))."""
    observed, null = np.asarray(observed, float), np.asarray(null, float)
    null = null[np.isfinite(null)]
    if null.size == 0:
        return np.full(observed.shape, np.nan), np.full(observed.shape, np.nan)
    below = (null[None, :] < observed[:, None]).sum(1) + 0.5 * (null[None, :] == observed[:, None]).sum(1)
    pct = np.where(np.isfinite(observed), 100.0 * below / null.size, np.nan)
    # one-sided: exact comparisons (no round-off tolerance), as this null has always been read
    p = empirical_p(observed, null, "greater", rtol=0.0) if alternative == "greater" else empirical_p(
        observed, null, alternative)
    return pct, np.where(np.isfinite(observed), p, np.nan)

