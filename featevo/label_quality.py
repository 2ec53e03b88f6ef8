"""Stage 04's label-quality marks: labels a reader should not take at face value, written as columns of
``labels_comparison.csv`` (the report only renders them):

* ``echoes``: the label repeats one of Delphi's few-shot example explanations (the explainer's prompt shows
  e.g. *The token "er" at the end of a comparative adjective describing size.*; a small LLM often copies it
  with another token). Detected by word overlap with the examples read from the installed ``delphi``.
* ``duplicates``: the same label (after normalisation, or nearly: word overlap >= 0.8) names another latent of
  the same SAE.
* ``below_floor``: the label does not beat its shuffled-label floor: for a label scorer that ran, own minus
  floor is <= 0, or no scorer has both values (``undefined``).
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

# words that carry no content in a label (the generic frame every label shares)
_STOP = frozenset("""a an the of in on at to for from by with and or as is are be been being that this these those
it its which who whom whose when where what while than then there their them they token tokens word words text
texts end ending start beginning often usually typically sometimes such other into within about after before
following preceding phrase phrases sentence sentences context contexts""".split())

# used when the installed delphi cannot be read (its prompts in delphi 0.x)
FALLBACK_EXAMPLES = (
    "Names of people who are inventors of technical fields",
    "Common idioms in text conveying positive sentiment.",
    'The token "er" at the end of a comparative adjective describing size.',
    "Nouns representing a distinct objects that contains something, sometimes preciding a quotation mark.",
)

ECHO_MIN_WORDS = 3
"""An example is matched only on at least this many content words (``The token "er".`` is too short)."""
ECHO_OVERLAP = 0.6
"""Fraction of an example's content words a label must contain to echo it."""
DUPLICATE_OVERLAP = 0.8
"""Word-set Jaccard similarity at which two labels of one SAE count as duplicates."""


def words(text: str) -> list[str]:
    """Lower-case words of a label (quotes and punctuation dropped)."""
    return re.findall(r"[a-z0-9]+", str(text).lower())


def content_words(text: str) -> set[str]:
    return {w for w in words(text) if w not in _STOP}


@lru_cache(maxsize=1)
def delphi_examples() -> tuple[str, ...]:
    """The example explanations of the installed Delphi's explainer prompts (``[EXPLANATION]: ...`` lines of
    ``delphi/explainers/**.py``), read as text; :data:`FALLBACK_EXAMPLES` when delphi is not installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("delphi")
        if spec is None or not spec.submodule_search_locations:
            return FALLBACK_EXAMPLES
        root = Path(list(spec.submodule_search_locations)[0]) / "explainers"
        found: list[str] = []
        for p in sorted(root.rglob("*.py")):
            for m in re.finditer(r"\[EXPLANATION\]:[ \t]*([^\n{}]+)", p.read_text(encoding="utf-8", errors="ignore")):
                t = m.group(1).strip().strip('"').strip()
                if t and t not in found:
                    found.append(t)
        return tuple(found) or FALLBACK_EXAMPLES
    except (OSError, ImportError, ValueError):
        return FALLBACK_EXAMPLES


def echoed_example(label: str, examples: Optional[Sequence[str]] = None) -> Optional[str]:
    """The Delphi example ``label`` echoes (contains at least :data:`ECHO_OVERLAP` of its content words, the
    example having at least :data:`ECHO_MIN_WORDS`), else None."""
    lw = content_words(label)
    if not lw:
        return None
    for ex in (delphi_examples() if examples is None else examples):
        ew = content_words(ex)
        if len(ew) >= ECHO_MIN_WORDS and len(lw & ew) / len(ew) >= ECHO_OVERLAP:
            return ex
    return None


def near_duplicate(a: str, b: str) -> bool:
    wa, wb = set(words(a)), set(words(b))
    if not wa or not wb:
        return False
    return wa == wb or len(wa & wb) / len(wa | wb) >= DUPLICATE_OVERLAP


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def floor_failures(scores: dict[str, tuple[Any, Any]]) -> list[str]:
    """Scorers (name -> (own, floor)) on which the label does not beat its floor; ``["undefined"]`` when no
    scorer has both values."""
    bad, defined = [], 0
    for m, (own, floor) in scores.items():
        if _finite(own) and _finite(floor):
            defined += 1
            if own - floor <= 0:
                bad.append(m)
    return bad if defined else ["undefined"]


UNDEFINED = "undefined"
"""``below_floor`` when no scorer has both an own score and a floor."""


def label_marks(labels: Iterable[tuple[str, Any, str, dict[str, tuple[Any, Any]]]],
                examples: Optional[Sequence[str]] = None) -> dict[tuple[str, Any], dict[str, Optional[str]]]:
    """Marks per (sae, latent) for labels given as (sae, latent, label, {scorer: (own, floor)}): ``echoes`` (the
    Delphi example it echoes), ``duplicates`` (the other latents of its SAE with the same label, ``"3, 7"``) and
    ``below_floor`` (the scorers it does not beat its floor on, or :data:`UNDEFINED`); None where a mark does not
    apply. A missing label (None / empty) gets no entry."""
    rows = [(sae, lat, lab, sc) for sae, lat, lab, sc in labels if lab]
    out: dict[tuple[str, Any], dict[str, Optional[str]]] = {}
    for i, (sae, lat, lab, sc) in enumerate(rows):
        dups = [other for j, (s2, other, lab2, _) in enumerate(rows)
                if j != i and s2 == sae and other != lat and near_duplicate(lab, lab2)]
        bad = floor_failures(sc)
        out[(sae, lat)] = {"echoes": echoed_example(lab, examples),
                           "duplicates": ", ".join(str(d) for d in dict.fromkeys(dups)) or None,
                           "below_floor": ", ".join(bad) or None}
    return out
