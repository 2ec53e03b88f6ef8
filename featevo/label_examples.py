"""Stage 04's examples: each chosen latent's activating and non-activating contexts from stage 01's token
shards of the training split (encoded through the one encode path, ``featevo.sae.load_sae`` + ``encode``), and
the Delphi record built from them (:func:`make_record`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from featevo.activations import ActivationStore, TokenTable
from featevo.config import InterpretConfig
from featevo.progress import tqdm
from featevo.sae import encode, load_sae


@dataclass
class LatentExamples:
    activating: list[tuple[list[int], list[float]]]
    non_activating: list[list[int]]
    n_docs_active: int
    max_activation: float
    n_contexts_active: int | None = None   # token windows (contexts) where the latent fires
    n_contexts: int | None = None          # all contexts searched


def context_ids(row_doc: np.ndarray, ctx_len: int) -> np.ndarray:
    """The context of each token row: documents cut into consecutive windows of ``ctx_len`` tokens (Delphi's
    ``example_ctx_len``; the last window of a document may be shorter); ``ctx_len`` 0: one context per document.
    Rows are in document order; returns ids 0..n_contexts-1, non-decreasing."""
    n = len(row_doc)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    row_doc = np.asarray(row_doc, dtype=np.int64)
    new_doc = np.ones(n, dtype=bool)
    new_doc[1:] = row_doc[1:] != row_doc[:-1]
    if ctx_len <= 0:
        return np.cumsum(new_doc) - 1
    doc_start = np.maximum.accumulate(np.where(new_doc, np.arange(n), 0))
    pos = np.arange(n) - doc_start
    new_ctx = new_doc | (pos % ctx_len == 0)
    return np.cumsum(new_ctx) - 1


def collect_examples(
    sae_dir: Path, split_dir: Path, model_key: str, latents: list[int], icfg: InterpretConfig, seed: int,
    device: torch.device,
) -> dict[int, LatentExamples]:
    """Per-context activations of ``latents`` over the training split (streamed shard by shard).

    A context is a window of ``interpret.example_ctx_len`` tokens of one document (as Delphi's constructor
    cuts its token cache into ``example_ctx_len`` windows); non-activating examples are contexts where the
    latent never fires, so a latent active somewhere in every document still gets negatives."""
    tt = TokenTable(split_dir)
    store = ActivationStore(split_dir / model_key)
    sae = load_sae(sae_dir, device)
    idx = torch.tensor(latents, dtype=torch.long)
    n_rows = min(store.n_rows, icfg.max_tokens)
    parts = []
    for x in tqdm(store.iter_rows(n_rows), desc=f"encode {model_key}", unit="chunk"):
        parts.append(encode(sae, x)[:, idx])
    acts = torch.cat(parts) if parts else torch.zeros(0, len(latents))  # [rows, chosen]
    row_doc_np = np.asarray(tt.row_doc[:n_rows])
    ctx = context_ids(row_doc_np, icfg.example_ctx_len)
    n_ctx = int(ctx[-1]) + 1 if n_rows else 0
    ctx_t = torch.from_numpy(ctx).long()[:, None].expand(-1, len(latents))
    ctx_max = torch.zeros(n_ctx, len(latents)).scatter_reduce(0, ctx_t, acts, "amax")
    ctx_doc = np.zeros(n_ctx, dtype=np.int64)
    ctx_doc[ctx] = row_doc_np
    starts = np.searchsorted(ctx, np.arange(n_ctx + 1))
    rng = random.Random(seed)
    out = {}
    for j, lat in enumerate(latents):
        order = torch.argsort(ctx_max[:, j], descending=True)
        active = [int(c) for c in order if ctx_max[c, j] > 0]
        inactive = [c for c in range(n_ctx) if ctx_max[c, j] <= 0]
        top = active[: icfg.max_activating]
        rest = active[icfg.max_activating :]
        top += rng.sample(rest, min(len(rest), icfg.max_activating // 2))  # lower quantiles too
        windows = []
        for c in top:
            s, e = int(starts[c]), int(starts[c + 1])
            windows.append((tt.row_token[s:e].tolist(), acts[s:e, j].tolist()))
        non = [tt.row_token[int(starts[c]) : int(starts[c + 1])].tolist()
               for c in rng.sample(inactive, min(len(inactive), icfg.n_non_activating))]
        out[lat] = LatentExamples(windows, non, len({int(ctx_doc[c]) for c in active}),
                                  float(ctx_max[:, j].max()) if n_ctx else 0.0, len(active), n_ctx)
    return out


def make_record(model_key: str, latent: int, ex: LatentExamples, tok, icfg: InterpretConfig, seed: int):
    """Delphi's record of one latent: train / test / non-activating examples (``interpret`` sizes; seeded per
    latent)."""
    from featevo.delphi_compat import build_latent_record

    return build_latent_record(
        f"{model_key}.sae", latent, ex.activating, ex.non_activating, tok, n_train=icfg.n_train,
        n_test=icfg.n_test, n_quantiles=icfg.n_quantiles, n_non_activating=icfg.n_non_activating, seed=seed + latent,
    )
