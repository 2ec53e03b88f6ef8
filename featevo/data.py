"""Corpus and probe-set loading (through ``datasets``), with line-numbered errors and a seeded split."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass, replace
from pathlib import Path

from featevo.config import DataConfig
from featevo.errors import DataError
from featevo.layout import display_path, resolve_repo_path

logger = logging.getLogger(__name__)

TARGET = "target"
"""Role of a document of the target domain (``data.target_domain``, e.g. financial): what the tuned model was
tuned on. Code uses the two roles; tables, figures and text show the configured names (``DataConfig.domain_name``)."""
REFERENCE = "reference"
"""Role of a document of the reference domain (``data.reference_domain``, e.g. general)."""
FINANCIAL, GENERAL = TARGET, REFERENCE
"""Deprecated aliases of :data:`TARGET` and :data:`REFERENCE` (code written before domains were configurable)."""


@dataclass(frozen=True)
class Doc:
    text: str
    category: str
    domain: str  # role: TARGET, REFERENCE or "unlabelled"
    cluster: str = ""
    """Documents of one cluster (e.g. sentences of one template) are not independent; "" = its own."""


def cluster_ids(docs: list[Doc]) -> list[str]:
    """Each document's cluster; a document without one is a cluster of its own."""
    return [d.cluster or f"#doc{i}" for i, d in enumerate(docs)]


def _domain_of(category: str, cfg: DataConfig) -> str | None:
    if category in cfg.target_categories:
        return TARGET
    if category in cfg.reference_categories:
        return REFERENCE
    return None


FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".txt": "text"}
"""Local file suffix -> ``datasets`` builder. ``.txt`` holds one document per line (blank lines skipped)."""


def _first_line(e: BaseException) -> str:
    while e.__cause__ is not None:  # datasets wraps the reader's error; its root names the problem
        e = e.__cause__
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _read_local(path: Path, builder: str, cfg: DataConfig, require_category: bool):
    """``path`` through ``datasets`` (one parse); a JSON file that fails is re-scanned only to name the bad line."""
    import datasets

    where = display_path(path)
    kwargs = {"keep_default_na": False, "na_values": [""]} if builder == "csv" else {}
    verbosity = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(datasets.logging.CRITICAL)  # its own error log would duplicate ours
    try:
        return datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
    except Exception as e:  # datasets/pyarrow/pandas raise many types for malformed files
        if builder == "json":
            _scan_json_lines(path, cfg, require_category)  # raises the line-numbered error when it finds one
        raise DataError(f"{where}: cannot read as {builder.upper()} ({_first_line(e)})") from None
    finally:
        datasets.logging.set_verbosity(verbosity)


def _scan_json_lines(path: Path, cfg: DataConfig, require_category: bool) -> None:
    """Error path only: find the first line that is not a JSON object (or not UTF-8) and raise its error."""
    where = display_path(path)
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}:{lineno}: bad JSON line ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        _row_to_doc(obj, f"{where}:{lineno}", cfg, require_category, strict=True)


def _row_labels(path: Path, builder: str, n_rows: int) -> list[str]:
    """How a row is named in errors: ``file:LINE`` for JSON lines and text, ``file: row N`` for CSV/Parquet
    (CSV fields may span lines; N counts data rows from 1, the header excluded)."""
    where = display_path(path)
    if builder in ("json", "text"):
        raw = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        lines = [i for i, line in enumerate(raw, 1) if builder == "text" or line.strip()]
        if len(lines) == n_rows:
            return [f"{where}:{i}" for i in lines]
    return [f"{where}: row {i}" for i in range(1, n_rows + 1)]


def _row_to_doc(obj: dict, at: str, cfg: DataConfig, require_category: bool, strict: bool) -> Doc | None:
    """One row as a :class:`Doc`, or a one-line :class:`DataError` naming ``at`` (file and line/row).
    ``strict`` false (hub datasets): empty rows are skipped and unknown categories are unlabelled."""
    text = obj.get(cfg.text_field)
    if not isinstance(text, str) or not text.strip():
        if not strict:
            return None
        raise DataError(f"{at}: field '{cfg.text_field}' must be a non-empty string")
    category = "unlabelled"
    if cfg.category_field is not None:
        cat = obj.get(cfg.category_field)
        if cat is None and not require_category:
            cat = "unlabelled"
        if not strict and cat is not None and not isinstance(cat, str):
            cat = str(cat)
        if not isinstance(cat, str) or not cat:
            raise DataError(f"{at}: field '{cfg.category_field}' must be a non-empty string")
        category = cat
    elif require_category:
        raise DataError(f"{at.split(':')[0]}: data.category_field is null but this file needs categories")
    domain = _domain_of(category, cfg)
    if domain is None:
        if strict and (require_category or category != "unlabelled"):
            raise DataError(
                f"{at}: category '{category}' is in neither data.target_categories nor data.reference_categories"
            )
        domain = "unlabelled"
    dom = obj.get(cfg.domain_field) if cfg.domain_field is not None else None
    if strict and dom is not None and dom != cfg.domain_name(domain):
        raise DataError(f"{at}: field '{cfg.domain_field}' is {dom!r} but category '{category}' is "
                        f"{cfg.domain_name(domain)}")
    cluster = obj.get(cfg.cluster_field) if cfg.cluster_field is not None else None
    if cluster is not None and not isinstance(cluster, (str, int)):
        raise DataError(f"{at}: field '{cfg.cluster_field}' must be a string or an integer")
    return Doc(text.strip(), category, domain, "" if cluster is None else str(cluster))


def _docs_from_dataset(ds, labels, where: str, cfg: DataConfig, require_category: bool, strict: bool) -> list[Doc]:
    cols = list(ds.column_names)
    if cfg.text_field not in cols:
        raise DataError(f"{where}: no column '{cfg.text_field}' (data.text_field; columns: {', '.join(cols)})")
    if require_category and cfg.category_field is not None and cfg.category_field not in cols:
        raise DataError(f"{where}: no column '{cfg.category_field}' (data.category_field; columns: {', '.join(cols)})")
    docs = []
    for i, row in enumerate(ds):
        d = _row_to_doc(row, labels(i), cfg, require_category, strict)
        if d is not None:
            docs.append(d)
    return docs


def validate_jsonl(path: Path, cfg: DataConfig, require_category: bool) -> list[Doc]:
    """A local data file (JSON lines, CSV, Parquet or text), every bad row reported with its line or row."""
    return _load_local(Path(path), cfg, require_category)


def _load_local(path: Path, cfg: DataConfig, require_category: bool) -> list[Doc]:
    where = display_path(path)
    if not path.is_file():
        raise DataError(f"{where}: file not found")
    builder = FORMATS.get(path.suffix.lower())
    if builder is None:
        raise DataError(f"{where}: unknown file type '{path.suffix}' (accepted: {', '.join(FORMATS)})")
    if path.stat().st_size == 0 or (builder != "parquet" and not path.read_bytes().strip()):
        raise DataError(f"{where}: no documents (file is empty)")
    ds = _read_local(path, builder, cfg, require_category)
    if builder == "text":  # one document per line; blank lines separate nothing and are skipped
        keep = [i for i, t in enumerate(ds["text"]) if t.strip()]
        all_labels = _row_labels(path, builder, len(ds))
        ds = ds.select(keep)
        if cfg.text_field != "text":
            ds = ds.rename_column("text", cfg.text_field)
        labels = [all_labels[i] for i in keep]
    else:
        labels = _row_labels(path, builder, len(ds))
    if len(ds) == 0:
        raise DataError(f"{where}: no documents (file is empty)")
    docs = _docs_from_dataset(ds, labels.__getitem__, where, cfg, require_category, strict=True)
    return docs


def _load_with_datasets(spec: str, cfg: DataConfig, require_category: bool) -> list[Doc]:
    """Load ``spec`` through ``datasets``: a local file (see :data:`FORMATS`) or a hub dataset name."""
    import datasets

    path = resolve_repo_path(spec)
    if path.suffix.lower() in FORMATS or path.exists():
        return _load_local(path, cfg, require_category)
    try:
        ds = datasets.load_dataset(spec, split=cfg.corpus_split)
    except Exception as e:  # datasets raises many types for a missing dataset / offline hub
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"data.corpus: cannot load '{spec}' as a local file or hub dataset ({first}); "
            f"offline? give a local .jsonl/.csv/.parquet/.txt path or set HF_DATASETS_OFFLINE=1 with a cached copy"
        ) from None
    docs = _docs_from_dataset(ds, lambda i: f"{spec}: row {i + 1}", f"data.corpus '{spec}'", cfg, require_category,
                              strict=False)
    if not docs:
        raise DataError(f"data.corpus '{spec}': no non-empty '{cfg.text_field}' rows")
    return docs


def load_corpus(cfg: DataConfig, seed: int) -> tuple[list[Doc], list[Doc]]:
    """The SAE training corpus, shuffled with ``seed`` and split into (train, eval)."""
    docs = _load_with_datasets(cfg.corpus, cfg, require_category=False)
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    docs = [docs[i] for i in order]
    if cfg.max_docs is not None:
        docs = docs[: cfg.max_docs]
    if cfg.corpus_domain is not None:
        docs = [replace(d, domain=cfg.corpus_domain) if d.domain == "unlabelled" else d for d in docs]
    n_eval = max(1, int(round(len(docs) * cfg.eval_fraction)))
    if len(docs) - n_eval < 1:
        raise DataError(f"{cfg.corpus}: {len(docs)} documents are too few for a train/eval split")
    return docs[n_eval:], docs[:n_eval]


def load_probe(cfg: DataConfig, min_per_category: int = 1) -> list[Doc]:
    """The held-out probe set: every line needs a known category; both domains must be present."""
    docs = _load_with_datasets(cfg.probe, cfg, require_category=True)
    cats = {d.category for d in docs}
    domains = {d.domain for d in docs}
    where = display_path(resolve_repo_path(cfg.probe))
    for dom in (TARGET, REFERENCE):
        if dom not in domains:
            raise DataError(f"{where}: no {cfg.domain_name(dom)} categories in the probe set (found: {sorted(cats)})")
    small = sorted(c for c in cats if sum(d.category == c for d in docs) < min_per_category)
    if small:
        raise DataError(f"{where}: categories with fewer than {min_per_category} sentences: {small}")
    return docs


def input_files(cfg: DataConfig, probe: bool = True) -> list[Path]:
    """Local data files a stage depends on (hashed into its manifest): the corpus, and the probe set unless
    ``probe`` is false (stage 01 reads only the corpus)."""
    out = []
    for spec in (cfg.corpus, cfg.probe) if probe else (cfg.corpus,):
        p = resolve_repo_path(spec)
        if p.is_file():
            out.append(p)
    return out
