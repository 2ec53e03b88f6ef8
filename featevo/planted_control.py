"""The planted positive control of the diffing lenses: held-out sentences with the planted word, the token
positions of that word, AUROC of every latent for those positions, and the lens's rank of its best latent.

Held-out sentences: the probe set's target-domain sentences that contain a planted key word (``twin.planted``),
with the substitution applied exactly as the planted twin saw it in training
(:func:`featevo.planting.planted_docs`; the probe's templates never occur in the corpus). Planted tokens:
:func:`featevo.planting.planted_positions`, the positions of every word piece of a replacement word (by character
span). Each lens scores every latent by its AUROC for planted-token positions against all other kept positions of
the same sentences, and ranks its latents by its own change statistic.
"""

from __future__ import annotations

import numpy as np
import torch

from featevo.activations import ActivationStore, TokenTable, iter_layer_rows, tokenize_docs, tokenize_windows
from featevo.data import TARGET, Doc
from featevo.layout import acts_dir, split_dir
from featevo.stagewise import rank_desc
from featevo.stats import auroc
from featevo.planting import planted_docs, planted_positions


def planted_sentences(probe: list[Doc], substitutions: dict[str, str]) -> list[Doc]:
    """The probe's target-domain sentences that contain a planted key word, with the substitution applied."""
    fin = [d for d in probe if d.domain == TARGET]
    docs, _ = planted_docs(fin, substitutions)
    return [d for d, orig in zip(docs, fin) if d.text != orig.text]


def planted_tokens(tokenizer, docs: list[Doc], substitutions: dict[str, str], max_length: int,
                   exclude_special_tokens: bool) -> tuple[dict, np.ndarray]:
    """Tokens of ``docs`` exactly as stage 01 tokenises, and for every kept row (row-major over the kept
    positions, the order of :func:`featevo.activations.iter_layer_rows`) whether it is planted
    (:func:`featevo.planting.planted_positions`: by character span, so word pieces shared with other words do
    not count)."""
    tokens = tokenize_docs(tokenizer, docs, max_length, exclude_special_tokens, offsets=True)
    mark = planted_positions(docs, tokens, substitutions)
    tokens.pop("offsets")
    return tokens, mark[tokens["keep_mask"]].numpy()


def harvest_rows(model, tokens: dict, layer: int, batch_size: int, device, desc: str) -> torch.Tensor:
    """Layer activations of the kept positions of ``tokens`` (featevo's one hook)."""
    return torch.cat(list(iter_layer_rows(model, tokens, layer, batch_size, device, desc=desc, progress=False)))


def planted_split(s1, split: str, substitutions: dict[str, str], tokenizer, models: dict, layer: int,
                  batch_size: int, max_length: int, exclude_special_tokens: bool,
                  device, stride: int | None = None,
                  max_windows: int | None = None) -> tuple[dict, np.ndarray, int, int]:
    """Stage 01's ``split`` with the plant applied to its target-domain documents, as the planted twin read it in
    training: per model in ``models`` its activation rows (stage 01's rows for unchanged documents, which do
    not depend on the others, fresh rows for the changed ones), the row domains, how many documents changed and
    how many of their kept tokens are planted (:func:`featevo.planting.planted_positions`). Every model reads the
    same tokens."""
    tt = TokenTable(split_dir(s1, split))
    new_docs, _ = planted_docs(tt.docs, substitutions)
    changed = [i for i, (a, b) in enumerate(zip(tt.docs, new_docs)) if a.text != b.text]
    starts = np.searchsorted(tt.row_doc, np.arange(len(tt.docs) + 1))
    counts = np.diff(starts)
    out, n_planted = {}, 0
    if changed:
        changed_docs = [new_docs[i] for i in changed]
        t, _ = tokenize_windows(tokenizer, changed_docs, max_length, exclude_special_tokens, stride, max_windows,
                                offsets=True)  # windowed exactly as stage 01
        n_planted = int(planted_positions(changed_docs, t, substitutions).sum())
        t.pop("offsets")
        new_counts = np.bincount(t["window_doc"].long().numpy(), weights=t["keep_mask"].sum(1).numpy(),
                                 minlength=len(changed)).astype(np.int64)
        counts[changed] = new_counts
        new_starts = np.concatenate([[0], np.cumsum(new_counts)])
    for key, model in models.items():
        old = ActivationStore(acts_dir(s1, split, key)).read_all()
        if not changed:
            out[key] = old
            continue
        new = harvest_rows(model, t, layer, batch_size, device, f"planted text {key}/{split}")
        pieces, prev = [], 0
        for j, d in enumerate(changed):
            pieces += [old[starts[prev] : starts[d]], new[new_starts[j] : new_starts[j + 1]]]
            prev = d + 1
        out[key] = torch.cat(pieces + [old[starts[prev] :]])
    row_doc = np.repeat(np.arange(len(tt.docs)), counts)
    return out, np.array([tt.docs[d].domain for d in row_doc]), len(changed), n_planted


def score_lens(z: np.ndarray, is_planted: np.ndarray, change: np.ndarray, statistic: str, top: int = 5,
               recovery_auroc: float = 0.9) -> dict:
    """One lens's recovery of the planted concept: ``z`` [rows, L] its latents' activations on the planted
    sentences, ``change`` [L] its native change statistic (larger = more changed). Returns the best latent
    for the planted tokens (highest AUROC), its AUROC, its rank by ``change``, the lens's top ``top`` latents
    with their AUROCs, and the first latent down the ranking whose AUROC reaches ``recovery_auroc``."""
    au = auroc(z, is_planted)
    best = int(np.nanargmax(au))
    change = np.asarray(change, dtype=np.float64)
    rank = rank_desc(change)
    order = np.argsort(-np.where(np.isfinite(change), change, -np.inf), kind="stable")
    hits = [int(j) for j in order if au[j] >= recovery_auroc]
    first = {"latent": hits[0], "rank": int(rank[hits[0]]), "auroc": float(au[hits[0]])} if hits else None
    return {"best_latent": best, "auroc": float(au[best]), "rank": int(rank[best]), "n_latents": int(len(au)),
            "statistic": statistic, "best_latent_statistic": float(change[best]), "first_recovering_latent": first,
            "top": [{"latent": int(j), "rank": int(rank[j]), "statistic": float(change[j]), "auroc": float(au[j])}
                    for j in order[:top]]}


CHANGE_RULE = ("the latent whose activation change on identical tokens (the planted twin's activations minus the "
               "unplanted twin's, both encoded by the lens's own dictionary) best separates the planted positions "
               "from the other positions of the same sentences (highest AUROC of the change); recovery is that "
               "latent's rank in the lens's change statistic, declared by the lens before the run")
"""The planted control's scoring rule, fixed before the run for every lens and every plant."""


def score_change(dz: np.ndarray, is_planted: np.ndarray, change: np.ndarray, statistic: str,
                 dz_null: np.ndarray | None = None, top: int = 5) -> dict:
    """One lens's recovery of the planted change by :data:`CHANGE_RULE`. ``dz`` [rows, L]: per planted-sentence
    token, each latent's activation change (planted twin minus unplanted twin, one dictionary); ``change`` [L] the
    lens's own change statistic of the planted contrast (larger = more changed). The rank's null is a random
    ranking (``p_rank`` = rank / L, the chance a random ranking puts the true latent this high; smallest attainable
    1 / L). With ``dz_null`` (the same change between two twins of one recipe: twin-seed noise), the same rule on
    the null: its best latent's AUROC and rank, which the plant's must exceed."""
    au = auroc(dz, is_planted)
    best = int(np.nanargmax(au))
    change = np.asarray(change, dtype=np.float64)
    rank = rank_desc(change)
    order = np.argsort(-np.where(np.isfinite(change), change, -np.inf), kind="stable")
    n = int(len(au))
    out = {"rule": "change", "best_latent": best, "auroc": float(au[best]), "rank": int(rank[best]), "n_latents": n,
           "p_rank": float(rank[best]) / n, "min_attainable_p_rank": 1.0 / n, "statistic": statistic,
           "best_latent_statistic": float(change[best]),
           "mean_change_planted": float(dz[is_planted, best].mean()) if is_planted.any() else None,
           "mean_change_elsewhere": float(dz[~is_planted, best].mean()) if (~is_planted).any() else None,
           "top": [{"latent": int(j), "rank": int(rank[j]), "statistic": float(change[j]), "auroc": float(au[j])}
                   for j in order[:top]]}
    if dz_null is not None:
        au0 = auroc(dz_null, is_planted)
        b0 = int(np.nanargmax(au0))
        out["null"] = {"best_latent": b0, "auroc": float(au0[b0]), "rank": int(rank[b0]),
                       "what": "the same rule on the change between the tuned twin and its replica (twin-seed noise)"}
    return out


def plant_strength(acts: dict, is_planted: np.ndarray, row_sentence: np.ndarray, clusters: np.ndarray,
                   n_boot: int, seed: int) -> dict:
    """Is the plant real at the hooked layer? Per planted-sentence token the relative change
    ``||h_planted - h_tuned|| / ||h_tuned||`` and twin-seed noise ``||h_replica - h_tuned|| / ||h_tuned||`` (same
    tokens), at planted positions and elsewhere. The planted twin shares the tuned twin's seed (its training differs
    only by the plant) while the replica does not, so their levels are not comparable; the test is position-specific:
    per sentence, the change at its planted positions minus the change at its other positions (the ``localisation``),
    for the plant minus the same for the replica: a difference in differences, averaged over sentences, with a
    template-bootstrap interval (``real`` when it excludes 0). Without a replica, the plant's localisation alone
    against 0 (``localisation``)."""
    from featevo.stats import cluster_bootstrap_weights

    def rel(a, b):
        a, b = a.double(), b.double()
        return ((a - b).norm(dim=1) / b.norm(dim=1).clamp_min(1e-12)).numpy()

    sents = np.unique(row_sentence[is_planted])
    both = [s for s in sents if (~is_planted & (row_sentence == s)).any()]  # sentences with other positions too
    cl = clusters[np.asarray(both, dtype=np.int64)]
    idx, W = cluster_bootstrap_weights(cl, np.zeros(len(cl)), n_boot, seed)[0]

    def localisation(r: np.ndarray) -> np.ndarray:
        return np.array([r[is_planted & (row_sentence == s)].mean() - r[~is_planted & (row_sentence == s)].mean()
                         for s in both])

    def interval(per: np.ndarray) -> dict:
        lo, hi = np.quantile(W @ per[idx], [0.025, 0.975])
        return {"estimate": float(per.mean()), "ci_low": float(lo), "ci_high": float(hi), "sentences": len(both),
                "templates": int(len(set(cl.tolist()))), "real": bool(lo > 0)}

    r_plant = rel(acts["planted"], acts["tuned"])
    loc = localisation(r_plant)
    out = {"planted_positions": float(r_plant[is_planted].mean()), "elsewhere": float(r_plant[~is_planted].mean()),
           "localisation": interval(loc)}
    if "replica" not in acts:
        out["replica"] = None
        return out
    r_null = rel(acts["replica"], acts["tuned"])
    out["replica"] = {"planted_positions": float(r_null[is_planted].mean()),
                      "elsewhere": float(r_null[~is_planted].mean())}
    out["excess_over_replica"] = {**interval(loc - localisation(r_null)),
                                  "what": "(planted - elsewhere) of the plant minus (planted - elsewhere) of the "
                                          "replica, per sentence"}
    return out
