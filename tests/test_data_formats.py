"""Corpus and probe loading through ``datasets``: JSON lines, CSV, Parquet, plain text; row-numbered errors."""

from __future__ import annotations

import json

import pytest

from featevo.config import DataConfig
from featevo.data import load_corpus, load_probe, validate_jsonl
from featevo.errors import DataError

ROWS = [
    {"text": "Stocks fell as yields rose.", "category": "markets", "template": "m/0"},
    {"text": "It rained all day, the forecast said.", "category": "weather", "template": "w/0"},
    {"text": "The bank raised its provisions.", "category": "banking", "template": "b/0"},
    {"text": "The striker scored twice.", "category": "sports", "template": "s/0"},
]


def write(tmp_path, fmt: str, rows=ROWS, name="data"):
    import pandas as pd

    p = tmp_path / f"{name}.{fmt}"
    if fmt == "jsonl":
        p.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        pd.DataFrame(rows).to_csv(p, index=False)
    elif fmt == "parquet":
        pd.DataFrame(rows).to_parquet(p, index=False)
    elif fmt == "txt":
        p.write_text("\n".join(r["text"] for r in rows) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_each_format_loads_the_same_documents(tmp_path, fmt):
    docs = load_probe(DataConfig(probe=str(write(tmp_path, fmt))))
    assert [(d.text, d.category, d.cluster) for d in docs] == [(r["text"], r["category"], r["template"])
                                                               for r in ROWS]
    assert [d.domain for d in docs] == ["target", "reference", "target", "reference"]


def test_plain_text_one_document_per_line(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("First article.\n\n  \nSecond article, longer.\nThird.\n", encoding="utf-8")
    train, evald = load_corpus(DataConfig(corpus=str(p), eval_fraction=0.34), seed=0)
    assert sorted(d.text for d in train + evald) == ["First article.", "Second article, longer.", "Third."]
    assert {d.domain for d in train + evald} == {"unlabelled"}


def test_column_names_from_the_config(tmp_path):
    rows = [{"body": r["text"], "label": r["category"], "story": r["template"]} for r in ROWS]
    cfg = DataConfig(probe=str(write(tmp_path, "csv", rows)), text_field="body", category_field="label",
                     cluster_field="story", domain_field=None)
    assert [d.cluster for d in load_probe(cfg)] == ["m/0", "w/0", "b/0", "s/0"]
    with pytest.raises(DataError, match=r"data\.csv: no column 'text' \(data\.text_field; columns: body, label"):
        load_probe(DataConfig(probe=cfg.probe))


@pytest.mark.parametrize("fmt,where", [("jsonl", ":3:"), ("csv", ": row 3:"), ("parquet", ": row 3:")])
def test_bad_rows_are_numbered(tmp_path, fmt, where):
    empty = [*ROWS[:2], {**ROWS[2], "text": ""}, ROWS[3]]
    with pytest.raises(DataError, match=rf"data\.{fmt}{where} field 'text' must be a non-empty string") as e:
        load_probe(DataConfig(probe=str(write(tmp_path, fmt, empty))))
    assert "\n" not in str(e.value)
    unknown = [*ROWS[:2], {**ROWS[2], "category": "astrology"}, ROWS[3]]
    with pytest.raises(DataError, match=rf"{where} category 'astrology' is in neither"):
        load_probe(DataConfig(probe=str(write(tmp_path, fmt, unknown))))
    nocat = [*ROWS[:2], {k: v for k, v in ROWS[2].items() if k != "category"}, ROWS[3]]
    with pytest.raises(DataError, match=rf"{where} field 'category' must be a non-empty string"):
        load_probe(DataConfig(probe=str(write(tmp_path, fmt, nocat))))


def test_csv_with_long_multiline_articles(tmp_path):
    rows = [{"text": "Markets opened higher.\nLater, \"banks\" led, with commas, too.", "category": "markets"},
            {"text": "Rain", "category": "weather"}]
    docs = validate_jsonl(write(tmp_path, "csv", rows), DataConfig(), require_category=True)
    assert docs[0].text == rows[0]["text"] and docs[1].category == "weather"


def test_malformed_files_name_the_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "Rates rose.", "category": "markets"}\n\n{"text": "oops, "category": "markets"}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl:3: bad JSON line"):
        validate_jsonl(bad, DataConfig(), require_category=False)
    odd = tmp_path / "x.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match=r"x\.xlsx: unknown file type '\.xlsx' \(accepted: \.jsonl"):
        validate_jsonl(odd, DataConfig(), require_category=False)
    csv = tmp_path / "broken.csv"
    csv.write_text('text,category\n"unclosed,markets\n')
    with pytest.raises(DataError, match=r"broken\.csv"):
        validate_jsonl(csv, DataConfig(), require_category=False)


def test_one_parse(tmp_path, monkeypatch):
    """A valid local file is read once, by ``datasets`` (no hand-parse before it)."""
    import datasets

    calls = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or real(*a, **k))
    p = write(tmp_path, "jsonl")
    from featevo import data

    monkeypatch.setattr(data, "_scan_json_lines", lambda *a, **k: pytest.fail("hand-parsed"))
    load_probe(DataConfig(probe=str(p)))
    assert len(calls) == 1


def test_domain_names_are_configuration(tmp_path):
    """A clinical twin names its own domains: the domain column holds the configured names, documents get the
    two roles, and errors speak of the configured names (issue 15)."""
    from featevo.data import REFERENCE, TARGET

    cfg = DataConfig(target_domain="clinical", reference_domain="everyday", target_categories=["diagnosis"],
                     reference_categories=["weather"])
    rows = [{"text": "The patient was diagnosed with anaemia.", "category": "diagnosis", "domain": "clinical"},
            {"text": "It rained all day.", "category": "weather", "domain": "everyday"}]
    docs = load_probe(DataConfig(**{**cfg.__dict__, "probe": str(write(tmp_path, "jsonl", rows))}))
    assert [d.domain for d in docs] == [TARGET, REFERENCE]
    bad = [{**rows[0], "domain": "financial"}, rows[1]]
    with pytest.raises(DataError, match=r"'domain' is 'financial' but category 'diagnosis' is clinical"):
        load_probe(DataConfig(**{**cfg.__dict__, "probe": str(write(tmp_path, "jsonl", bad, "bad"))}))
    only = [rows[0]]
    with pytest.raises(DataError, match=r"no everyday categories in the probe set"):
        load_probe(DataConfig(**{**cfg.__dict__, "probe": str(write(tmp_path, "jsonl", only, "only"))}))
    with pytest.raises(ValueError, match="both 'clinical'"):
        DataConfig(target_domain="clinical", reference_domain="clinical")
    with pytest.raises(ValueError, match="non-empty"):
        DataConfig(reference_domain=" ")
