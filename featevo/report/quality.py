"""Marks on labels and latents that a reader should not take at face value (no HTML here: the sections
turn the flags into greyed cells, badges and card headlines, and :func:`legend` into a table note).

Label flags (:func:`label_flags`) render the marks stage 04 wrote as columns of ``labels_comparison.csv``
(``<side>_echoes``, ``<side>_duplicates``, ``<side>_below_floor``, computed by :mod:`featevo.label_quality`):
``echo`` (the label repeats a few-shot example of Delphi's explainer prompt), ``duplicate`` (another latent of
the same SAE has the same label) and ``floor`` (it does not beat its shuffled-label floor).

Latent flag (:func:`is_dense`): the latent fires on more than ``report.dense_threshold`` of tokens; such a
latent moves with overall activity more than with any one concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from featevo.label_quality import UNDEFINED
from featevo.report.templates import finite

FLAG_TEXT = {
    "echo": ("echoes prompt", "copies a few-shot example explanation of Delphi's explainer prompt"),
    "duplicate": ("duplicate", "the same (or nearly the same) label names another latent of this SAE"),
    "floor": ("≤ floor", "does not beat its shuffled-label floor (own − floor ≤ 0 or undefined)"),
    "dense": ("dense", "fires on a large share of tokens"),
}
"""flag -> (short mark, what it means), for badges and legends."""


@dataclass(frozen=True)
class Flag:
    kind: str  # echo / duplicate / floor / dense
    detail: str = ""  # e.g. the scorer that failed, the duplicate latent, the firing share

    @property
    def mark(self) -> str:
        return FLAG_TEXT[self.kind][0]

    @property
    def title(self) -> str:
        return FLAG_TEXT[self.kind][1] + (f" ({self.detail})" if self.detail else "")


def label_flags(rows: Iterable[dict], sides: Sequence[str] = ("base", "tuned")) -> dict[tuple[str, Any], list[Flag]]:
    """Flags per (sae, latent) from the mark columns of stage 04's ``labels_comparison.csv`` rows; a side without
    a label (no marks written) gets no entry."""
    out: dict[tuple[str, Any], list[Flag]] = {}
    for r in rows:
        for side in sides:
            lat = r.get(f"{side}_latent")
            if lat is None or not _labelled(r.get(f"{side}_label")):
                continue
            flags: list[Flag] = []
            if r.get(f"{side}_echoes"):
                flags.append(Flag("echo", f"\u201c{r[f'{side}_echoes']}\u201d"))
            if r.get(f"{side}_duplicates"):
                flags.append(Flag("duplicate", f"also latent {r[f'{side}_duplicates']}"))
            bad = r.get(f"{side}_below_floor")
            if bad:
                flags.append(Flag("floor", "no scorer has both values" if bad == UNDEFINED else bad))
            out[(side, lat)] = flags
    return out


def _labelled(label: Any) -> bool:
    return isinstance(label, str) and bool(label.split()) and not label.startswith("[failed")


def is_dense(freq: Any, threshold: float) -> bool:
    """True when a firing frequency (fraction of tokens) exceeds ``threshold``."""
    return finite(freq) and freq > threshold


def legend(kinds: Iterable[str], dense_threshold: Optional[float] = None) -> str:
    """One table note explaining the marks in ``kinds`` that occur."""
    parts = []
    for k in dict.fromkeys(kinds):
        mark, what = FLAG_TEXT[k]
        if k == "dense" and dense_threshold is not None:
            what = f"fires on more than {100 * dense_threshold:.0f}% of tokens (`report.dense_threshold`)"
        parts.append(f"*{mark}*: {what}")
    if not parts:
        return ""
    text = "Marks: " + "; ".join(parts) + "."
    if any(k in ("echo", "duplicate", "floor") for k in kinds):
        text += " A marked label is greyed and is no reliable description of its latent."
    return text
