"""The scorer registry of stage 04: every scorer a label or a latent can be scored with, in one table.

A :class:`Scorer` says what the pipeline needs to know about it:

* whether it **reads the label** (``reads_label``). A label scorer (detection, fuzzing, embedding) is run on
  every label: the latent's own, the shuffled donors' labels (its floor), the top-token baseline and the cross
  scores of matched pairs. A label-free scorer (intruder) scores the *latent*, once per labelled latent;
* how its **floor** is computed (``floor``): for a label scorer, the mean score of other latents' labels on the
  same latent (:func:`shuffled_floor`); for a label-free one, chance (:func:`chance_floor`);
* how to **build** it (``build``: a :class:`ScorerEnv` -> an awaitable ``scorer(record)``, or None when it
  cannot run, e.g. no embedding model), which record it sees (``record``) and how its result becomes the
  metrics dict stage 04 stores (``metrics``: ``accuracy`` is the score, plus ``f1_score`` and details).

Config validation (``interpret.scorers``), stage 04's result schema (the long ``scores.csv`` and
``scores_summary.csv``: one row per scorer, not one column), stage 04 itself and the report's label section all
read :data:`SCORERS`; :func:`register` adds one (a new scorer adds rows, not columns).

The kinds of score a latent gets from one scorer (the ``kind`` column of ``scores.csv``, :data:`KINDS`): ``own``
(its own label; a label-free scorer: the latent), ``floor`` (the shuffled-label floor, or chance), ``baseline``
(the top-token label; label scorers only) and ``partner`` (a matched pair's other label on this latent's
contexts; label scorers only).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

KINDS = ("own", "floor", "baseline", "partner")
FLOOR_SHUFFLED = "shuffled labels"
FLOOR_CHANCE = "chance"
NO_INTRUDERS = "no non-activating context of 2+ tokens (the intruder scorer's placeholder would replace it)"


@dataclass
class ScorerEnv:
    """What a scorer may be built from: the recording LLM client, ``interpret``'s config, whether the backend
    takes a grammar, and the embedding model (None: not loaded)."""

    client: Any
    icfg: Any
    grammar: bool
    embedder: Any = None


def score_of(r: Optional[dict], name: str, key: str = "accuracy"):
    """``key`` of scorer ``name``'s metrics in a result dict with a ``scores`` block (None when absent)."""
    if not r or not r.get("scores"):
        return None
    return (r["scores"].get(name) or {}).get(key)


def mean_defined(xs: list) -> Optional[float]:
    """Mean of the defined (not None, not NaN) values; None when there is none."""
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else None


def shuffled_floor(name: str, latent: Optional[dict], shuffled: Optional[dict], key: str = "accuracy"):
    """A label scorer's floor: the mean score of the latent's shuffled donors' labels (defined donors only); old
    files with a single donor (``scores`` at the top) read as one donor. ``latent`` is unused."""
    if not shuffled:
        return None
    donors = shuffled.get("donors") or ([shuffled] if "scores" in shuffled else [])
    return mean_defined([score_of(d, name, key) for d in donors])


def chance_floor(name: str, latent: Optional[dict], shuffled: Optional[dict], key: str = "accuracy"):
    """A label-free scorer's floor: the score of guessing, stored beside its score (``chance``); no F1."""
    return score_of(latent, name, "chance") if key == "accuracy" else None


def floor_count(name: str, shuffled: Optional[dict]) -> int:
    """How many shuffled donors gave scorer ``name`` a defined score."""
    donors = (shuffled or {}).get("donors") or ([shuffled] if shuffled and "scores" in shuffled else [])
    return sum(1 for d in donors if score_of(d, name) is not None)


@dataclass(frozen=True)
class Scorer:
    """One entry of :data:`SCORERS` (see the module docstring)."""

    name: str
    reads_label: bool
    build: Callable[[ScorerEnv], Any]
    metrics: Callable[[Any], dict]
    doc: str
    """What its score is (one clause, for column meanings and report notes)."""
    record: Callable[[Any], Any] = lambda rec: rec
    default: bool = False
    """Run when ``interpret.scorers`` is not set."""
    short: str = ""
    """Its column heading in the report's label table and a fact on the feature cards ("" : not shown there)."""
    needs_embedder: bool = False
    """Built from the embedding model (``interpret.embedding_model``), loaded only when such a scorer runs."""
    filtered_reason: str = ""
    """Why its score is undefined when ``record`` dropped every non-activating context the latent has."""
    note: str = ""
    """A note under the report's table of scores against their floor, when the scorer has a row there."""

    @property
    def floor_kind(self) -> str:
        return FLOOR_SHUFFLED if self.reads_label else FLOOR_CHANCE

    def floor(self, latent: Optional[dict], shuffled: Optional[dict], key: str = "accuracy"):
        """The latent's floor for this scorer (``key``: accuracy or f1_score)."""
        return (shuffled_floor if self.reads_label else chance_floor)(self.name, latent, shuffled, key)


SCORERS: dict[str, Scorer] = {}
"""name -> scorer, in the order the tables and the report list them."""


def register(scorer: Scorer) -> Scorer:
    """Add ``scorer`` to :data:`SCORERS` (a name already registered is an error)."""
    if scorer.name in SCORERS:
        raise ValueError(f"scorer {scorer.name!r} is already registered")
    SCORERS[scorer.name] = scorer
    return scorer


def unregister(name: str) -> None:
    """Remove scorer ``name`` from :data:`SCORERS` (tests registering a toy scorer clean up with it)."""
    SCORERS.pop(name, None)


def names() -> tuple[str, ...]:
    """Every registered scorer's name, in registry order."""
    return tuple(SCORERS)


def label_scorers() -> tuple[str, ...]:
    """Scorers that read the label (floor: other latents' labels)."""
    return tuple(n for n, s in SCORERS.items() if s.reads_label)


def label_free_scorers() -> tuple[str, ...]:
    """Scorers of the latent alone (floor: chance)."""
    return tuple(n for n, s in SCORERS.items() if not s.reads_label)


def default_scorers() -> list[str]:
    """``interpret.scorers`` when the config does not set it."""
    return [n for n, s in SCORERS.items() if s.default]


def shown_scorers() -> tuple[str, ...]:
    """Scorers with a column in the report's label table (and a fact on the cards), in order."""
    return tuple(n for n, s in SCORERS.items() if s.short)


def in_order(run: Any) -> tuple[str, ...]:
    """The registered scorers among ``run`` (e.g. ``interpret.scorers``), in registry order."""
    run = set(run)
    return tuple(n for n in SCORERS if n in run)


def validate(scorers: list) -> None:
    """``interpret.scorers``: a non-empty list of registered names (ValueError naming the field otherwise)."""
    unknown = sorted(set(scorers) - set(SCORERS))
    if unknown or not scorers:
        raise ValueError(f"scorers must be a non-empty list of {', '.join(SCORERS)} (got {scorers})")


# --------------------------------------------------------------------------------------------
# Delphi's scorers
# --------------------------------------------------------------------------------------------
def _grammar(env: ScorerEnv) -> dict:
    from featevo import delphi_compat as dc

    return {"grammar": dc.scorer_grammar(env.icfg.n_examples_shown)} if env.grammar else {}


def _detection(env: ScorerEnv):
    from featevo import delphi_compat as dc

    return dc.DetectionScorer(env.client, n_examples_shown=env.icfg.n_examples_shown, verbose=False, log_prob=False,
                              temperature=0.0, max_tokens=env.icfg.score_max_tokens, **_grammar(env))


def _fuzzing(env: ScorerEnv):
    from featevo import delphi_compat as dc

    return dc.FuzzingScorer(env.client, n_examples_shown=env.icfg.n_examples_shown, verbose=False, threshold=0.3,
                            log_prob=False, temperature=0.0, fuzz_type="default",
                            max_tokens=env.icfg.score_max_tokens, **_grammar(env))


def _embedding(env: ScorerEnv):
    from featevo import delphi_compat as dc

    return dc.EmbeddingScorer(env.embedder) if env.embedder is not None else None


def _intruder(env: ScorerEnv):
    """Contexts per intruder prompt: one activating-quantile group (at most ceil(n_test / n_quantiles) contexts)
    plus the intruder, so the reply grammar allows no index beyond the prompt; at least 2, since Delphi divides
    by the activating contexts shown (n - 1)."""
    from featevo import delphi_compat as dc

    icfg = env.icfg
    group = -(-icfg.n_test // icfg.n_quantiles)
    n = max(2, min(icfg.n_examples_shown, group + 1))
    gi = {"grammar": dc.intruder_grammar(n)} if env.grammar and n <= 10 else {}
    return dc.IntruderScorer(env.client, n_examples_shown=n, verbose=False, temperature=0.0, type="default",
                             max_tokens=icfg.score_max_tokens, **gi)


def _classifier_metrics(res) -> dict:
    from featevo.delphi_compat import classifier_metrics

    m = classifier_metrics(res.score)
    m["predictions"] = [{"text": "".join(o.str_tokens), "activating": bool(o.activating),
                         "prediction": o.prediction} for o in res.score]
    return m


def _embedding_metrics(res) -> dict:
    from featevo.delphi_compat import embedding_metrics

    m = embedding_metrics(res.score)
    m["similarities"] = [{"text": o.text, "activating": o.distance >= 0, "similarity": o.similarity}
                         for o in res.score]
    return m


def _intruder_metrics(res) -> dict:
    from featevo.delphi_compat import intruder_metrics

    m = intruder_metrics(res.score)
    m["predictions"] = [{"examples": o.sample.examples, "intruder": o.correct_index, "prediction": o.prediction}
                        for o in res.score if o.sample is not None]
    return m


def intruder_record(record):
    """``record`` for Delphi's intruder scorer: silent contexts of one token dropped. Delphi highlights a few of
    the intruder's tokens to mimic the activating contexts and, for a one-token context, finds none to highlight
    and shows its placeholder sentence ("<<NNsight>> is the best library for <<interpretability>> ...")
    instead, an outsider any reader spots without reading the latent's contexts."""
    rec = copy.copy(record)
    rec.not_active = [e for e in record.not_active if len(e.str_tokens or ()) >= 2]
    return rec


_BALANCED = "balanced accuracy of an LLM predicting from the label which contexts activate the latent"
register(Scorer("detection", True, _detection, _classifier_metrics, f"Delphi's detection score ({_BALANCED})",
                default=True, short="det."))
register(Scorer("fuzzing", True, _fuzzing, _classifier_metrics,
                f"Delphi's fuzzing score ({_BALANCED}'s highlighted tokens)", default=True, short="fuzz."))
register(Scorer("embedding", True, _embedding, _embedding_metrics,
                "Delphi's embedding score (AUC of label-to-context similarity; no generative LLM)", default=True,
                needs_embedder=True))
register(Scorer("intruder", False, _intruder, _intruder_metrics,
                "Delphi's intruder score (label-free: fraction of prompts whose one non-activating context the "
                "LLM found)", record=intruder_record, filtered_reason=NO_INTRUDERS,
                note="Intruder: Delphi's intruder scorer (the LLM picks the one non-activating context among a few "
                     "activating ones). It never reads the label, so it scores the latent, not the label: its floor "
                     "is chance (1 / contexts per prompt), not shuffled labels."))
