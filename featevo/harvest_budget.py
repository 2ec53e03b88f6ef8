"""Stage 01's token budget and disk preflight: how many tokens the harvest keeps (``harvest.max_tokens``) and
whether their activation shards and the SAEs fit the output root's free space, checked before any work.

The disk a harvest needs is ``kept tokens x d_in x bytes per element x models``: every model's activations of
every kept token of both splits, in ``harvest.store_dtype`` (4 bytes for float32, 2 for bfloat16 / float16).
At BERT-base's 768 dimensions that is 3.07 GB per million kept tokens per model in float32, 1.54 GB in bfloat16.
Each SAE adds at most ``SAE_COPIES`` copies of its float32 parameters (weights, a checkpoint with the two Adam
moments). Stage 02's crosscoders and stage-wise SAEs are written later, into stage 02's folder, and not counted.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import torch

from featevo.errors import ConfigError

logger = logging.getLogger(__name__)

STORE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
"""Bytes per stored activation element, by ``harvest.store_dtype``."""
SAE_COPIES = 4
"""Float32 copies of an SAE's parameters on disk at most while it trains: its weights and a checkpoint holding the
weights and Adam's two moments."""
GB = 1e9


def split_caps(kept: dict[str, int], cap: int | None) -> dict[str, int | None]:
    """Each split's share of ``harvest.max_tokens`` (proportional to its kept tokens, at least 1 each); None: no
    cap. A split already under its share keeps all its tokens."""
    total = sum(kept.values())
    if cap is None or total <= cap:
        return {s: None for s in kept}
    return {s: max(1, min(n, cap * n // total)) for s, n in kept.items()}


def cap_tokens(tokens: dict, stats: dict, docs: list, cap: int | None) -> tuple[dict, dict, list]:
    """Tokens, accounting and documents of a split cut to its first ``cap`` kept tokens (None: unchanged).

    Windows after the one holding the ``cap``-th kept token are dropped, and in that window the later positions
    are no longer kept; documents without a window left are dropped (windows are in document order, so the
    documents kept are a prefix). The accounting counts the cut as ``dropped["max_tokens"]`` and stays balanced
    (``tokens_total = tokens_kept + sum(dropped)``)."""
    kept_now = int(tokens["keep_mask"].sum())
    if cap is None or kept_now <= cap:
        return tokens, stats, docs
    per_window = tokens["keep_mask"].sum(1).cumsum(0)
    last = int(torch.searchsorted(per_window, torch.tensor(cap)))  # first window whose running count reaches cap
    out = {k: v[: last + 1].clone() for k, v in tokens.items()}
    before = int(per_window[last - 1]) if last > 0 else 0
    row = out["keep_mask"][last]
    keep_idx = row.nonzero().flatten()
    row[keep_idx[cap - before:]] = False
    n_docs = int(out["window_doc"][-1]) + 1
    st = {**stats, "dropped": {**stats["dropped"], "max_tokens": kept_now - cap}, "tokens_kept": cap,
          "windows": last + 1, "documents": n_docs, "documents_cut": len(docs) - n_docs}
    return out, st, list(docs[:n_docs])


def sae_bytes(num_latents: int, d_in: int) -> int:
    """Disk of one TopK SAE while it trains: ``SAE_COPIES`` float32 copies of encoder, decoder and biases."""
    return SAE_COPIES * 4 * (2 * num_latents * d_in + num_latents + d_in)


def disk_need(kept_tokens: int, d_in: int, n_models: int, store_dtype: str | None, sae_latents: list[int]) -> dict:
    """Bytes stage 01 writes: activations (``kept_tokens`` of both splits, every model) and SAEs."""
    acts = kept_tokens * d_in * STORE_BYTES[store_dtype or "float32"] * n_models
    saes = sum(sae_bytes(n, d_in) for n in sae_latents)
    return {"activations": acts, "saes": saes, "total": acts + saes}


def free_bytes(path: Path) -> int:
    """Free space of the file system holding ``path`` (its nearest existing ancestor)."""
    p = Path(path).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return int(shutil.disk_usage(p).free)


def check_disk(cfg, kept_tokens: int, d_in: int) -> dict:
    """Raise a one-line :class:`ConfigError` naming the need and the free space when stage 01's activations and
    SAEs do not fit the output root's file system; returns the need (bytes) and the free space."""
    from featevo.layout import models as run_models, resolve_repo_path, sae_specs

    latents = [s.num_latents or cfg.sae.resolve_num_latents(d_in) for s in sae_specs(cfg).values()]
    need = disk_need(kept_tokens, d_in, len(run_models(cfg)), cfg.harvest.store_dtype, latents)
    free = free_bytes(resolve_repo_path(cfg.output_root))
    dtype = cfg.harvest.store_dtype or "float32"
    if need["total"] > free:
        raise ConfigError(
            f"harvest: stage 01 needs {need['total'] / GB:.2f} GB ({kept_tokens:,} kept tokens x d_in {d_in} x "
            f"{STORE_BYTES[dtype]} bytes ({dtype}) x {len(run_models(cfg))} models, plus {len(latents)} SAEs) but "
            f"the output root has {free / GB:.2f} GB free; set harvest.store_dtype: bfloat16, harvest.max_tokens "
            f"or another output_root")
    logger.info("disk: stage 01 needs %.2f GB (activations %.2f GB in %s, SAEs %.2f GB); %.2f GB free",
                need["total"] / GB, need["activations"] / GB, dtype, need["saes"] / GB, free / GB)
    return {**need, "free": free}
