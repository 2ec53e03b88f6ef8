"""Small helpers shared by the report's sections: cells, key-value tables, JSON lookups, wording.

Numbers become text only through the formatters of :mod:`featevo.report.templates`; the helpers here
compose them (a change between two numbers, a plural, a label that may be a failure marker).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from featevo.report.templates import MISSING, Cell, Para, Table, finite

SAE_ORDER = ("base", "tuned")

# label text shown as "no label" (stage 04 leaves the cell blank; these words are no label either)
_NO_LABEL = {"", "nan", "NaN", "NAN", "None", "none", "null", "NULL", "NA", "N/A", "n/a", "inf", "-inf"}


def source(stage: str, *parts: str) -> str:
    """A stage output as shown in a table's source note: ``<stage>/<file>``."""
    return "/".join((stage, *parts))


def num(text: str) -> Cell:
    return Cell(text, numeric=True)


def kv_table(tid: str, caption: str, items: list[tuple[str, Any]], source: str = "", notes=None) -> Table:
    rows = [[k, Cell(v.text) if isinstance(v, Cell) else Cell(str(v))] for k, v in items]
    return Table(tid, ["item", "value"], rows, caption=caption, source=source, notes=list(notes or []))


def code(s: Any) -> str:
    return f"`{s}`" if s not in (None, "") else MISSING


def text_or_missing(s: Optional[str]) -> str:
    return MISSING if s is None else s


def dig(obj: Any, *path: Any, default: Any = None) -> Any:
    """``obj[p0][p1]...`` of a JSON value, ``default`` when a key is absent or the value is null."""
    for p in path:
        if isinstance(obj, dict) and p in obj:
            obj = obj[p]
        elif isinstance(obj, list) and isinstance(p, int) and -len(obj) <= p < len(obj):
            obj = obj[p]
        else:
            return default
    return default if obj is None else obj


def first(d: dict) -> dict:
    """The first value of a JSON object (the first seed baseline), ``{}`` when there is none."""
    return next(iter(d.values()), None) or {}


def pct_change(new: Any, old: Any) -> Optional[float]:
    if finite(new) and finite(old) and old != 0:
        return (new - old) / abs(old)
    return None


def diff(a: Any, b: Any) -> Optional[float]:
    return a - b if finite(a) and finite(b) else None


def frac(pct: Any) -> Optional[float]:
    """``change_pct`` columns hold percentages; fpct wants a fraction."""
    return pct / 100.0 if finite(pct) else None


def as_float(v: Any) -> Optional[float]:
    return float(v) if finite(v) else None


def mean(xs: list) -> Optional[float]:
    return sum(xs) / len(xs) if xs else None


def word_change(new: Any, old: Any, up: str = "rose", down: str = "fell", same: str = "stayed at") -> str:
    if not (finite(new) and finite(old)):
        return "changed"
    return up if new > old else down if new < old else same


def plural(n: Any, one: str, many: Optional[str] = None) -> str:
    return one if n == 1 else (many or one + "s")


def when(manifest: dict) -> str:
    """``started_at`` of a manifest as 'YYYY-MM-DD HH:MM'."""
    t = manifest.get("started_at")
    return str(t).replace("T", " ")[:16] if t else MISSING


def label_text(v: Any) -> str:
    """A label on one line, MISSING when there is none."""
    if not isinstance(v, str):
        return MISSING
    t = " ".join(v.split())
    if t in _NO_LABEL:
        return MISSING
    return t


def split_label(v: Any) -> tuple[str, str]:
    """(label or MISSING, failure reason or ""). Stage 04 writes a failure as ``[failed: reason]``."""
    t = label_text(v)
    m = re.fullmatch(r"\[failed:?\s*(.*)\]", t) if t != MISSING else None
    if m:
        return MISSING, (m.group(1).strip() or "no usable explanation")
    return t, ""


def absent_stage(ctx, sec, loaded: Any, stage: str, fid: str, heading: str, finding: str) -> bool:
    """When the optional upstream ``stage`` was not loaded (``loaded`` is None), say why in ``sec`` and in one
    finding ``fid`` and return True (the section then has nothing else to show)."""
    if loaded is not None:
        return False
    why = ctx.up.absent.get(stage, f"stage {stage} was not run")
    sec.add(Para(f"{heading}: {why}.", "note"))
    ctx.find(fid, f"{finding}: {why}.", supported=None)
    return True
