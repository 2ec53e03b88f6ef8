"""Latent activations on a document set: the probe set (or stage 01's held-out split) through the models
and SAEs of a run, per-document aggregates and top-activating contexts.

Rows are kept tokens (no padding, and no [CLS]/[SEP] when ``harvest.exclude_special_tokens``), in the same
order for every model, so the activations of two models align row by row. Activations are in the unit
"activation x decoder norm": the norm of the latent's contribution to the reconstruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from featevo.progress import tqdm

from featevo.activations import ActivationStore, TokenTable, iter_layer_rows, tokenize_docs
from featevo.config import PipelineConfig
from featevo.data import Doc
from featevo.layout import acts_dir, models as run_models, split_dir
from featevo.sae import encode

ACTIVATION_UNIT = "activation x decoder norm"


@dataclass
class Source:
    """Latent activations of one token stream (probe set or stage 01's eval split)."""

    name: str
    docs: list[Doc]
    row_doc: np.ndarray      # [rows] document of each SAE row (non-decreasing)
    row_token: np.ndarray    # [rows] token id
    z: dict[str, np.ndarray]  # SAE name -> [rows, d_sae] float32 activations x decoder norm

    @property
    def doc_start(self) -> np.ndarray:
        return np.searchsorted(self.row_doc, np.arange(len(self.docs) + 1))


def scaled_encode(sae, x: torch.Tensor) -> np.ndarray:
    norms = sae.W_dec.detach().norm(dim=1).cpu()
    return (encode(sae, x) * norms).numpy().astype(np.float32)


def harvest_probe(cfg: PipelineConfig, docs: list[Doc], saes: dict, sae_models: dict, device) -> Source:
    """Tokenise the probe set as stage 01 does, run every model some SAE of ``saes`` reads (``sae_models``:
    SAE name -> model key), and encode each SAE on its own model's activations."""
    from featevo.models import load_model, load_tokenizer

    models = run_models(cfg)
    tok = load_tokenizer(models["base"])
    tokens = tokenize_docs(tok, docs, cfg.harvest.max_length, cfg.harvest.exclude_special_tokens)
    rows = tokens["keep_mask"].nonzero(as_tuple=False)
    z = {}
    for mkey in dict.fromkeys(sae_models[n] for n in saes):
        model = load_model(models[mkey], head="none", device=device, dtype=cfg.harvest.dtype)
        acts = torch.cat(list(iter_layer_rows(model, tokens, cfg.harvest.layer, cfg.harvest.batch_size, device,
                                              desc=f"probe {mkey}")))
        del model
        for name in saes:
            if sae_models[name] == mkey:
                z[name] = scaled_encode(saes[name], acts)
    return Source("probe", list(docs), rows[:, 0].numpy(), tokens["input_ids"][tokens["keep_mask"]].numpy(), z)


def eval_source(s1: Path, saes: dict, sae_models: dict, names: tuple[str, ...]) -> Source:
    """Stage 01's held-out eval split, encoded with the SAEs ``names``."""
    tt = TokenTable(split_dir(s1, "eval"))
    z = {n: scaled_encode(saes[n], ActivationStore(acts_dir(s1, "eval", sae_models[n])).read_all()) for n in names}
    return Source("eval", tt.docs, tt.row_doc, tt.row_token, z)


def doc_aggregates(z: np.ndarray, row_doc: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sentence mean activation and firing frequency [n_docs, d_sae] (float64)."""
    idx = torch.as_tensor(row_doc, dtype=torch.long)
    zt = torch.as_tensor(z, dtype=torch.float64)
    sums = torch.zeros(n_docs, z.shape[1], dtype=torch.float64).index_add_(0, idx, zt)
    fires = torch.zeros(n_docs, z.shape[1], dtype=torch.float64).index_add_(0, idx, (zt > 0).double())
    n = torch.bincount(idx, minlength=n_docs).clamp(min=1).double()[:, None]
    return (sums / n).numpy(), (fires / n).numpy()


def top_contexts(sources: list[Source], name: str, k: int, window: int, tokenizer) -> dict[str, list[dict]]:
    """Per latent of SAE ``name``: the ``k`` sentences with the highest activation (one context per
    sentence), each windowed ``window`` kept tokens either side of its maximum."""
    d_sae = sources[0].z[name].shape[1]
    maxima, where = [], []
    for si, src in enumerate(sources):
        z = torch.as_tensor(src.z[name])
        idx = torch.as_tensor(src.row_doc, dtype=torch.long)[:, None].expand(-1, d_sae)
        m = torch.zeros(len(src.docs), d_sae).scatter_reduce(0, idx, z, reduce="amax", include_self=True)
        maxima.append(m.numpy())
        where.append(np.stack([np.full(len(src.docs), si), np.arange(len(src.docs))], 1))
    M = np.concatenate(maxima)           # [all docs, d_sae]
    W = np.concatenate(where)            # [all docs, 2] (source, doc)
    starts = [src.doc_start for src in sources]
    out: dict[str, list[dict]] = {}
    for j in tqdm(range(d_sae), desc=f"contexts {name}", unit="latent"):
        col = M[:, j]
        order = np.argsort(-col, kind="stable")[:k]
        ctxs = []
        for r in order:
            if col[r] <= 0:
                break
            si, doc = int(W[r, 0]), int(W[r, 1])
            src = sources[si]
            s, e = int(starts[si][doc]), int(starts[si][doc + 1])
            acts = src.z[name][s:e, j]
            p = int(np.argmax(acts))
            lo, hi = max(0, p - window), min(e - s, p + window + 1)
            ctxs.append({
                "source": src.name, "doc": doc, "text": src.docs[doc].text, "category": src.docs[doc].category,
                "tokens": tokenizer.convert_ids_to_tokens([int(t) for t in src.row_token[s + lo : s + hi]]),
                "acts": [round(float(v), 5) for v in acts[lo:hi]],
                "max_pos": p - lo, "max_act": round(float(acts[p]), 5),
            })
        out[str(j)] = ctxs
    return out
