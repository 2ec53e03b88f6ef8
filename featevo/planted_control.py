"""The planted positive control of the diffing lenses: held-out sentences with the planted word, the token
positions of that word, AUROC of every latent for those positions, and the lens's rank of its best latent.

Held-out sentences: the probe set's financial sentences that contain a planted key word (``twin.planted``),
with the substitution applied exactly as the planted twin saw it in training (:func:`featevo.twin.planted_docs`;
the probe's templates never occur in the corpus). Planted tokens: the positions of every word piece of a
replacement word. Each lens scores every latent by its AUROC for planted-token positions against all other
kept positions of the same sentences, and ranks its latents by its own change statistic.
"""

from __future__ import annotations

import re

import numpy as np
import torch
from scipy.stats import rankdata

from featevo.activations import iter_layer_rows, tokenize_docs
from featevo.data import FINANCIAL, Doc
from featevo.stagewise import rank_desc
from featevo.twin import planted_docs


def auroc(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """Area under the ROC curve of every column of ``scores`` [n, L] (or a vector) for the rows marked
    ``positive``: the probability that a positive row outscores a negative one, ties counting half
    (Mann-Whitney U / (n_pos * n_neg) with average ranks). NaN when either class is empty."""
    scores = np.asarray(scores, dtype=np.float64)
    vec = scores.ndim == 1
    scores = scores[:, None] if vec else scores
    pos = np.asarray(positive, dtype=bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    if n1 == 0 or n0 == 0:
        out = np.full(scores.shape[1], np.nan)
    else:
        r = rankdata(scores, axis=0)
        out = (r[pos].sum(0) - n1 * (n1 + 1) / 2.0) / (n1 * n0)
    return out[0] if vec else out


def planted_sentences(probe: list[Doc], substitutions: dict[str, str]) -> list[Doc]:
    """The probe's financial sentences that contain a planted key word, with the substitution applied."""
    fin = [d for d in probe if d.domain == FINANCIAL]
    docs, _ = planted_docs(fin, substitutions)
    return [d for d, orig in zip(docs, fin) if d.text != orig.text]


def planted_tokens(tokenizer, docs: list[Doc], substitutions: dict[str, str], max_length: int,
                   exclude_special_tokens: bool) -> tuple[dict, np.ndarray]:
    """Tokens of ``docs`` exactly as stage 01 tokenises, and for every kept row (row-major over the kept
    positions, the order of :func:`featevo.activations.iter_layer_rows`) whether it is a piece of a
    replacement word (found by its character span, so word pieces shared with other words do not count)."""
    tokens = tokenize_docs(tokenizer, docs, max_length, exclude_special_tokens)
    enc = tokenizer([d.text for d in docs], max_length=max_length, truncation=True, padding="max_length",
                    return_offsets_mapping=True, return_tensors="pt")
    if not torch.equal(enc["input_ids"].to(tokens["input_ids"].dtype), tokens["input_ids"]):
        raise RuntimeError("tokenisation with offsets differs from stage 01's")  # pragma: no cover
    values = sorted({v.lower() for v in substitutions.values()}, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(v) for v in values) + r")\b", re.IGNORECASE)
    mark = torch.zeros_like(tokens["keep_mask"])
    for i, d in enumerate(docs):
        spans = [m.span() for m in pattern.finditer(d.text)]
        for j, (a, b) in enumerate(enc["offset_mapping"][i].tolist()):
            if b > a and any(s <= a and b <= e for s, e in spans):
                mark[i, j] = True
    return tokens, mark[tokens["keep_mask"]].numpy()


def harvest_rows(model, tokens: dict, layer: int, batch_size: int, device, desc: str) -> torch.Tensor:
    """Layer activations of the kept positions of ``tokens`` (featevo's one hook)."""
    return torch.cat(list(iter_layer_rows(model, tokens, layer, batch_size, device, desc=desc, progress=False)))


def score_lens(z: np.ndarray, is_planted: np.ndarray, change: np.ndarray, statistic: str, top: int = 5) -> dict:
    """One lens's recovery of the planted concept: ``z`` [rows, L] its latents' activations on the planted
    sentences, ``change`` [L] its native change statistic (larger = more changed). Returns the best latent
    for the planted tokens (highest AUROC), its AUROC, its rank by ``change`` and the lens's top ``top``
    latents with their AUROCs."""
    au = auroc(z, is_planted)
    best = int(np.nanargmax(au))
    rank = rank_desc(np.asarray(change, dtype=np.float64))
    order = np.argsort(-np.where(np.isfinite(change), change, -np.inf), kind="stable")[:top]
    return {"best_latent": best, "auroc": float(au[best]), "rank": int(rank[best]), "n_latents": int(len(au)),
            "statistic": statistic, "best_latent_statistic": float(change[best]),
            "top": [{"latent": int(j), "rank": int(rank[j]), "statistic": float(change[j]), "auroc": float(au[j])}
                    for j in order]}
