"""Typed CSV tables: one schema per file, one writer and one reader for every stage.

A :class:`Schema` names a file's columns, their types and what they mean. Stages write rows with
:meth:`Schema.write` and read them back with :meth:`Schema.read`, which returns a :class:`Table`:
columns as numpy arrays typed by the schema, and :meth:`Table.rows` as dicts of typed Python values
(``None`` for a blank cell). The CSV files stay on disk for people; their column names are stable.

Cell format: blank for ``None``/NaN/inf, ``true``/``false`` for booleans, integers as is, floats with
``Schema.float_digits`` significant digits (``None``: Python's shortest round-trip repr).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal

import numpy as np

from featevo.errors import StageError
from featevo.io import atomic_write_text
from featevo.layout import display_path

Kind = Literal["int", "float", "bool", "str"]


@dataclass(frozen=True)
class Col:
    name: str
    kind: Kind
    doc: str = ""


@dataclass(frozen=True)
class Schema:
    """The columns of one CSV file (``file`` is its name inside the stage folder)."""

    file: str
    cols: tuple[Col, ...]
    doc: str = ""
    float_digits: int | None = 6

    @property
    def fields(self) -> list[str]:
        return [c.name for c in self.cols]

    def kind(self, name: str) -> Kind:
        return self._kinds[name]

    @property
    def _kinds(self) -> dict[str, Kind]:
        return {c.name: c.kind for c in self.cols}

    # ---------------------------------------------------------------- write
    def cell(self, x: Any) -> str:
        if x is None:
            return ""
        if isinstance(x, (bool, np.bool_)):
            return "true" if x else "false"
        if isinstance(x, (int, np.integer)):
            return str(int(x))
        if isinstance(x, (float, np.floating)):
            if not math.isfinite(float(x)):
                return ""
            return f"{float(x):.{self.float_digits}g}" if self.float_digits is not None else repr(float(x))
        return str(x)

    def to_text(self, rows: Iterable[dict]) -> str:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: self.cell(r.get(k)) for k in self.fields})
        return buf.getvalue()

    def write(self, folder: Path, rows: Iterable[dict]) -> Path:
        """Write ``rows`` (dicts; missing keys are blank cells) to ``folder/<file>`` atomically."""
        path = Path(folder) / self.file
        atomic_write_text(path, self.to_text(rows))
        return path

    # ---------------------------------------------------------------- read
    def parse(self, name: str, s: str | None) -> Any:
        if s is None or s.strip() == "":
            return None
        kind = self._kinds[name]
        try:
            if kind == "int":
                return int(s)
            if kind == "float":
                v = float(s)
                return v if math.isfinite(v) else None
            if kind == "bool":
                if s.strip().lower() not in ("true", "false"):
                    raise ValueError(s)
                return s.strip().lower() == "true"
        except ValueError:
            raise StageError(f"{self.file}: column '{name}' holds {s!r}, not {kind}") from None
        return s

    def read(self, folder: Path, missing_ok: bool = False) -> "Table":
        """The table in ``folder/<file>``; an empty table when it is absent and ``missing_ok``."""
        path = Path(folder) / self.file
        if not path.is_file():
            if missing_ok:
                return Table(self, [])
            raise StageError(f"{display_path(path)}: file not found")
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            absent = [c for c in self.fields if c not in header]
            if absent:
                raise StageError(f"{display_path(path)}: missing column(s) {', '.join(absent)}; rerun the stage "
                                 "that writes it")
            rows = [{k: self.parse(k, r.get(k)) for k in self.fields} for r in reader]
        return Table(self, rows)


@dataclass
class Table:
    """Typed rows of one CSV file; ``t["col"]`` is a numpy column, ``t.rows()`` the rows as dicts."""

    schema: Schema
    _rows: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self._rows)

    def rows(self) -> list[dict]:
        return list(self._rows)

    def __getitem__(self, name: str) -> np.ndarray:
        """Column ``name``: int64/float64/bool arrays when no cell is blank (floats: NaN for blank),
        else an object array with ``None``."""
        vals = [r[name] for r in self._rows]
        kind = self.schema.kind(name)
        if kind == "float":
            return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        if any(v is None for v in vals) or kind == "str":
            return np.array(vals, dtype=object)
        return np.array(vals, dtype={"int": np.int64, "bool": bool}[kind])

    def where(self, **equal: Any) -> list[dict]:
        """Rows whose columns equal the given values."""
        return [r for r in self._rows if all(r.get(k) == v for k, v in equal.items())]

    def index_by(self, *keys: str) -> dict:
        """Rows keyed by the value (or tuple of values) of ``keys``; rows with a blank key are left out."""
        out = {}
        for r in self._rows:
            k = tuple(r[c] for c in keys) if len(keys) > 1 else r[keys[0]]
            if (k is not None) and not (isinstance(k, tuple) and None in k):
                out[k] = r
        return out
