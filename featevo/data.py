"""Corpus and probe-set loading (through ``datasets``), with line-numbered errors and a seeded split."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from pathlib import Path

from featevo.config import DataConfig
from featevo.errors import DataError
from featevo.layout import display_path, resolve_repo_path

logger = logging.getLogger(__name__)

FINANCIAL = "financial"
GENERAL = "general"


@dataclass(frozen=True)
class Doc:
    text: str
    category: str
    domain: str  # "financial", "general" or "unlabelled"
    cluster: str = ""
    """Documents of one cluster (e.g. sentences of one template) are not independent; "" = its own."""


def cluster_ids(docs: list[Doc]) -> list[str]:
    """Each document's cluster; a document without one is a cluster of its own."""
    return [d.cluster or f"#doc{i}" for i, d in enumerate(docs)]


def _domain_of(category: str, cfg: DataConfig) -> str | None:
    if category in cfg.financial_categories:
        return FINANCIAL
    if category in cfg.general_categories:
        return GENERAL
    return None


def validate_jsonl(path: Path, cfg: DataConfig, require_category: bool) -> list[Doc]:
    """Parse a JSON-lines file strictly: every bad line is reported with its number."""
    where = display_path(path)
    if not path.is_file():
        raise DataError(f"{where}: file not found")
    try:
        raw = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    docs: list[Doc] = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{where}:{lineno}: bad JSON line ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{where}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        text = obj.get(cfg.text_field)
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{where}:{lineno}: field '{cfg.text_field}' must be a non-empty string")
        category = "unlabelled"
        if cfg.category_field is not None:
            cat = obj.get(cfg.category_field)
            if cat is None and not require_category:
                cat = "unlabelled"
            if not isinstance(cat, str) or not cat:
                raise DataError(f"{where}:{lineno}: field '{cfg.category_field}' must be a non-empty string")
            category = cat
        elif require_category:
            raise DataError(f"{where}: data.category_field is null but this file needs categories")
        domain = _domain_of(category, cfg)
        if domain is None:
            if require_category or category != "unlabelled":
                raise DataError(
                    f"{where}:{lineno}: category '{category}' is in neither data.financial_categories "
                    f"nor data.general_categories"
                )
            domain = "unlabelled"
        if cfg.domain_field is not None and cfg.domain_field in obj and obj[cfg.domain_field] != domain:
            raise DataError(
                f"{where}:{lineno}: field '{cfg.domain_field}' is {obj[cfg.domain_field]!r} but category "
                f"'{category}' is {domain}"
            )
        cluster = obj.get(cfg.cluster_field) if cfg.cluster_field is not None else None
        if cluster is not None and not isinstance(cluster, (str, int)):
            raise DataError(f"{where}:{lineno}: field '{cfg.cluster_field}' must be a string or an integer")
        docs.append(Doc(text.strip(), category, domain, "" if cluster is None else str(cluster)))
    if not docs:
        raise DataError(f"{where}: no documents (file is empty)")
    return docs


def _load_with_datasets(spec: str, cfg: DataConfig, require_category: bool) -> list[Doc]:
    """Load ``spec`` through ``datasets``: local JSON lines (validated first) or a hub dataset."""
    import datasets

    path = resolve_repo_path(spec)
    if path.suffix in (".jsonl", ".json") or path.exists():
        checked = validate_jsonl(path, cfg, require_category)
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
        if len(ds) != len(checked):  # blank lines are skipped by both; anything else is a bug
            raise DataError(f"{display_path(path)}: datasets read {len(ds)} rows, expected {len(checked)}")
        return checked
    try:
        ds = datasets.load_dataset(spec, split=cfg.corpus_split)
    except Exception as e:  # datasets raises many types for a missing dataset / offline hub
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(
            f"data.corpus: cannot load '{spec}' as a local file or hub dataset ({first}); "
            f"offline? give a local .jsonl path or set HF_DATASETS_OFFLINE=1 with a cached copy"
        ) from None
    if cfg.text_field not in ds.column_names:
        raise DataError(f"data.corpus '{spec}': no column '{cfg.text_field}' (columns: {ds.column_names})")
    docs = []
    has_cat = cfg.category_field is not None and cfg.category_field in ds.column_names
    for row in ds:
        text = row[cfg.text_field]
        if not isinstance(text, str) or not text.strip():
            continue
        cat = str(row[cfg.category_field]) if has_cat else "unlabelled"
        docs.append(Doc(text.strip(), cat, _domain_of(cat, cfg) or "unlabelled"))
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
    for dom in (FINANCIAL, GENERAL):
        if dom not in domains:
            raise DataError(f"{where}: no {dom} categories in the probe set (found: {sorted(cats)})")
    small = sorted(c for c in cats if sum(d.category == c for d in docs) < min_per_category)
    if small:
        raise DataError(f"{where}: categories with fewer than {min_per_category} sentences: {small}")
    return docs


def input_files(cfg: DataConfig) -> list[Path]:
    """Local data files a stage depends on (hashed into its manifest)."""
    out = []
    for spec in (cfg.corpus, cfg.probe):
        p = resolve_repo_path(spec)
        if p.is_file():
            out.append(p)
    return out
