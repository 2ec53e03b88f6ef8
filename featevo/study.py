"""The study's procedure, faithfully, as pure functions over arrays (no stage I/O; the stage is
:mod:`featevo.study_stage`).

The study is "Neural Feature Evolution in Domain Adaptation: A Comprehensive Analysis of BERT to FinBERT
Fine-tuning" (public repository tatsath/InterpUseCases, folder UseCase_BERTvsFinBERT). Its comparison script
reads a layer, encodes it with an SAE of each model, pools per sentence and compares latent ``i`` of one SAE with
latent ``i`` of the other. Each of its choices is reproduced here as it was, beside the sound alternative, so that
the stage can apply one correction at a time (the ladder of :mod:`featevo.study_stage`):

* **layer**: it reads ``hidden_states[layer]`` for an SAE trained on block ``layer``'s output, which is
  ``hidden_states[layer + 1]``; so it reads the output of block ``layer - 1`` (:func:`study_block`);
* **encoder**: ``ReLU(W_enc x + b_enc)`` from the SAE's weights (:func:`study_encode`): no ``- b_dec``, no TopK, so
  the codes are dense; the SAE's own ``encode`` (:func:`featevo.sae.encode`) is the correction;
* **pooling**: the mean over every token of a sentence, [CLS]/[SEP] included (:func:`mean_pool`);
* **scores**: per latent, the mean pooled activation on each domain's sentences and the "finetuning score" =
  (fraction of sentences with activation > 0) x (mean activation) (:func:`finetuning_score`);
* **specialisation**: base ``fin_B - gen_B``, tuned ``fin_T - gen_B`` (the base model's general mean subtracted
  from the tuned model's financial mean, so the "specialisation change" equals the financial change exactly);
  the correction is each model against its own reference (:func:`specialisation`);
* **index pairing**: latent ``i`` of one SAE is compared with latent ``i`` of the other (:func:`index_overlap`);
  two SAEs trained independently share no index, so the correction is a matching (:func:`matched_overlap`);
* **typing**: by top-20 membership of the financial score in each SAE (:func:`type_latents`);
* **activation-count delta**: per latent, token positions with activation above a threshold in the tuned SAE minus
  the same in the base SAE (:func:`activation_counts`).

The chance overlap of two top-``n`` sets of independent latents is hypergeometric (:func:`chance_overlap`): two
independent top-20 sets of 200 latents share 2 on average (10%), so "90% new" is what chance gives.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

TUNED_FIN, BASE_FIN, CONSISTENT, GENERAL = "tuned financial", "base financial", "consistent", "general"
TYPES = (TUNED_FIN, BASE_FIN, CONSISTENT, GENERAL)
"""The study's latent types ("FinBERT Financial", "BERT Financial", "Consistent", "General"), named by role."""


# --------------------------------------------------------------------------------------------
# Reading and encoding as the study did
# --------------------------------------------------------------------------------------------
def study_block(layer: int) -> int:
    """The block whose output the study reads for an SAE trained on block ``layer``'s output.

    It reads ``hidden_states[layer]``; ``hidden_states[0]`` is the embedding output, so ``hidden_states[layer]`` is
    the output of block ``layer - 1``, one block below the SAE's (which is ``hidden_states[layer + 1]``)."""
    if layer < 1:
        raise ValueError(f"layer={layer}: the study's reading (hidden_states[layer]) of block 0 is the embedding "
                         "output, not a block; needs layer >= 1")
    return layer - 1


def hidden_state_index(block: int) -> int:
    """Index into ``output_hidden_states`` of block ``block``'s output (``hidden_states[0]`` is the embeddings)."""
    return block + 1


def study_encode(W_enc: np.ndarray, b_enc: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The study's encoder: ``ReLU(x W_enc + b_enc)`` with sae-lens's ``W_enc`` [d_in, d_sae]; no ``- b_dec``, no
    TopK (dense codes)."""
    W, b, x = (np.asarray(a, dtype=np.float32) for a in (W_enc, b_enc, x))
    if W.shape[0] != x.shape[-1] or b.shape != (W.shape[1],):
        raise ValueError(f"shapes: W_enc {W.shape}, b_enc {b.shape}, x {x.shape}")
    return np.maximum(x @ W + b, 0.0)


def mean_pool(z: np.ndarray, row_doc: np.ndarray, n_docs: int, keep: np.ndarray | None = None) -> np.ndarray:
    """Per-sentence mean of the token rows ``z`` [rows, d] (``row_doc``: each row's sentence); ``keep`` (bool per row)
    restricts it to those rows (e.g. no special tokens). A sentence without rows gets 0."""
    z = np.asarray(z, dtype=np.float64)
    row_doc = np.asarray(row_doc, dtype=np.int64)
    if keep is not None:
        keep = np.asarray(keep, bool)
        z, row_doc = z[keep], row_doc[keep]
    sums = np.zeros((n_docs, z.shape[1]))
    np.add.at(sums, row_doc, z)
    n = np.bincount(row_doc, minlength=n_docs).astype(np.float64)
    return sums / np.maximum(n, 1.0)[:, None]


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------
def finetuning_score(pooled: np.ndarray) -> np.ndarray:
    """The study's "finetuning score" per latent over sentences ``pooled`` [sentences, d]: (fraction of sentences
    with activation > 0) x (mean activation)."""
    pooled = np.asarray(pooled, dtype=np.float64)
    if pooled.shape[0] == 0:
        return np.zeros(pooled.shape[1])
    return (pooled > 0).mean(axis=0) * pooled.mean(axis=0)


def domain_means(pooled: np.ndarray, is_target: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Per latent: mean on target-domain (``fin``) and reference-domain (``gen``) sentences and the finetuning score
    on each; ``weights`` (per sentence, e.g. a bootstrap resample's counts) weight the means (scores unweighted)."""
    pooled = np.asarray(pooled, dtype=np.float64)
    t = np.asarray(is_target, bool)
    w = np.ones(len(t)) if weights is None else np.asarray(weights, dtype=np.float64)

    def wmean(mask):
        ww = w[mask]
        return ww @ pooled[mask] / max(ww.sum(), 1e-12)

    return {"fin": wmean(t), "gen": wmean(~t), "fin_score": finetuning_score(pooled[t]),
            "gen_score": finetuning_score(pooled[~t])}


def specialisation(fin_base: np.ndarray, gen_base: np.ndarray, fin_tuned: np.ndarray, gen_tuned: np.ndarray,
                   study: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(base, tuned) specialisation per latent. ``study``: base ``fin_B - gen_B``, tuned ``fin_T - gen_B`` (the
    study's formula: its change equals the financial change); otherwise each model against its own reference,
    tuned ``fin_T - gen_T``."""
    fb, gb, ft, gt = (np.asarray(a, dtype=np.float64) for a in (fin_base, gen_base, fin_tuned, gen_tuned))
    return fb - gb, ft - (gb if study else gt)


def pct_change(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``100 (new - old) / old`` (NaN where old is 0)."""
    new, old = np.asarray(new, dtype=np.float64), np.asarray(old, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(old != 0, 100.0 * (new - old) / np.where(old != 0, old, 1.0), np.nan)


# --------------------------------------------------------------------------------------------
# Top sets, pairing and typing
# --------------------------------------------------------------------------------------------
def top_n(values: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` largest values, largest first (ties: lower index first)."""
    v = np.asarray(values, dtype=np.float64)
    return np.lexsort((np.arange(len(v)), -v))[:n]


def index_overlap(top_a: Sequence[int], top_b: Sequence[int]) -> list[int]:
    """The study's pairing: latent ``i`` of SAE a is latent ``i`` of SAE b, so the shared latents are the shared
    indices (sorted)."""
    return sorted(set(int(i) for i in top_a) & set(int(j) for j in top_b))


def matched_overlap(top_a: Sequence[int], top_b: Sequence[int], partner: Mapping[int, int]) -> list[int]:
    """The latents of ``top_b`` that are the matched partner (``partner``: latent of a -> its matched latent of b,
    e.g. stage 02's decoder-Hungarian pairs classed shared or shifted) of a latent of ``top_a`` (sorted)."""
    mapped = {int(partner[int(i)]) for i in top_a if int(i) in partner}
    return sorted(mapped & set(int(j) for j in top_b))


def new_fraction(shared: Sequence[int], n: int) -> float:
    """The study's headline: the fraction of the top-``n`` of SAE b not shared with SAE a's top-``n``."""
    return 1.0 - len(shared) / n if n else float("nan")


def type_latents(top_base: Sequence[int], top_tuned: Sequence[int], d_sae: int) -> np.ndarray:
    """The study's typing of every latent index by top-set membership: in the tuned SAE's only ("tuned financial"),
    the base SAE's only ("base financial"), both ("consistent"), neither ("general")."""
    b = np.zeros(d_sae, bool)
    t = np.zeros(d_sae, bool)
    b[np.asarray(list(top_base), dtype=np.int64)] = True
    t[np.asarray(list(top_tuned), dtype=np.int64)] = True
    return np.where(b & t, CONSISTENT, np.where(t, TUNED_FIN, np.where(b, BASE_FIN, GENERAL))).astype(object)


# --------------------------------------------------------------------------------------------
# Chance, counts and checks
# --------------------------------------------------------------------------------------------
def chance_overlap(n_total: int, n_marked: int, n_drawn: int, observed: int | None = None) -> dict:
    """The overlap of a random ``n_drawn``-set of ``n_total`` latents with ``n_marked`` marked ones (hypergeometric,
    ``scipy.stats.hypergeom``): expected count and fraction new, and for an ``observed`` overlap
    ``P(overlap <= observed)`` and ``P(overlap >= observed)``."""
    from scipy.stats import hypergeom

    if not 0 <= n_marked <= n_total or not 0 <= n_drawn <= n_total:
        raise ValueError(f"need 0 <= n_marked, n_drawn <= n_total (got {n_marked}, {n_drawn}, {n_total})")
    rv = hypergeom(n_total, n_marked, n_drawn)
    exp = float(rv.mean())
    out = {"n_total": int(n_total), "n_marked": int(n_marked), "n_drawn": int(n_drawn), "expected_overlap": exp,
           "expected_new_fraction": 1.0 - exp / n_drawn if n_drawn else None}
    if observed is not None:
        out.update(observed_overlap=int(observed), p_at_most=float(rv.cdf(observed)),
                   p_at_least=float(rv.sf(observed - 1)))
    return out


def activation_counts(z: np.ndarray, threshold: float) -> np.ndarray:
    """Per latent, the token positions (rows of ``z``) with activation above ``threshold``."""
    return (np.asarray(z) > threshold).sum(axis=0).astype(np.int64)


def count_delta_ranking(counts_base: np.ndarray, counts_tuned: np.ndarray, n: int) -> list[dict]:
    """The study's "activation delta" ranking: latent ``i`` by tuned count minus base count of latent ``i``
    (index pairing), largest first, the first ``n``."""
    cb, ct = np.asarray(counts_base, np.int64), np.asarray(counts_tuned, np.int64)
    delta = ct - cb
    return [{"rank": r + 1, "latent": int(i), "base_count": int(cb[i]), "tuned_count": int(ct[i]),
             "delta": int(delta[i])} for r, i in enumerate(top_n(delta, n))]


def study_checks(fin_change: np.ndarray, gen_change: np.ndarray, fin_tuned: np.ndarray, gen_tuned: np.ndarray,
                 top_tuned: Sequence[int]) -> dict:
    """The checks a reader of the study wants as numbers: the correlation across latents of the financial and
    the general change (high: the change is not domain-specific) and how many of the tuned SAE's top "financial"
    latents fire more on general text than on financial text."""
    fc, gc = np.asarray(fin_change, np.float64), np.asarray(gen_change, np.float64)
    corr = float(np.corrcoef(fc, gc)[0, 1]) if fc.std() > 0 and gc.std() > 0 else None
    top = np.asarray(list(top_tuned), dtype=np.int64)
    more_general = int((np.asarray(gen_tuned)[top] > np.asarray(fin_tuned)[top]).sum())
    return {"corr_fin_gen_change": corr, "top_more_on_general": more_general, "top_n": int(len(top))}
