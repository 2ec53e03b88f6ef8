"""The bad-input table of docs/troubleshooting.md ("What the errors mean", linked from the README) quotes the
messages the loaders and validators raise.

Each case triggers the real error and checks that the table holds the message's fixed part, so a
reworded message (or a table row that drifts from it) fails here."""

from __future__ import annotations

import re

import pytest

from featevo.config import DataConfig, load_config
from featevo.data import validate_jsonl
from featevo.errors import FeatevoError
from featevo.layout import REPO_ROOT

MINIMAL = "run_name: x\nbase_model: {name: a}\ntuned_model: {name: b}\n"


def _error_table() -> str:
    doc = (REPO_ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    section = doc.split("## What the errors mean", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, "docs/troubleshooting.md has no error table under 'What the errors mean'"
    return "\n".join(rows)


def _message(fn) -> str:
    with pytest.raises(FeatevoError) as e:
        fn()
    return str(e.value)


def _config(tmp_path, extra: str = "", overrides=None):
    p = tmp_path / "c.yaml"
    p.write_text(MINIMAL + extra, encoding="utf-8")
    return lambda: load_config(p, overrides)


def _csv(tmp_path, text: str, name: str = "d.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return lambda: validate_jsonl(p, DataConfig(), require_category=True)


def _stride(minilm_dir):
    from transformers import AutoTokenizer

    from featevo.activations import tokenize_windows
    from featevo.data import Doc

    tok = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    return lambda: tokenize_windows(tok, [Doc("x", "markets", "financial")], 64, True, stride=63)


CASES = {
    # case -> (how to trigger it, a pattern of the whole message, the part the table quotes)
    "bad CSV row": (lambda t, m: _csv(t, 'text,category\n"ok",markets\n"",markets\n'),
                    r"d\.csv: row 2: field 'text' must be a non-empty string",
                    "field 'text' must be a non-empty string"),
    "unknown category": (lambda t, m: _csv(t, "text,category\nhello,nope\n"),
                         r"row 1: category 'nope' is in neither", "is in neither data.target_categories nor "
                                                                  "data.reference_categories"),
    "missing text column": (lambda t, m: _csv(t, "body,category\nhello,markets\n"),
                            r"no column 'text' \(data\.text_field; columns: body, category\)",
                            "no column 'text' (data.text_field; columns: ...)"),
    "unknown file format": (lambda t, m: _csv(t, "x", name="d.xlsx"), r"unknown file type '\.xlsx' \(accepted: ",
                            "unknown file type '.xlsx' (accepted: .jsonl, .json, .csv, .parquet, .pq, .txt)"),
    "unreadable CSV": (lambda t, m: _csv(t, 'text,category\n"open,markets\n'), r"d\.csv: cannot read as CSV \(",
                       "cannot read as CSV"),
    "bad numeric value": (lambda t, m: _config(t, "sae: {lr: -1.0}\n"), r"c\.yaml: sae\.lr must be > 0 \(got -1\.0\)",
                          "sae.lr must be > 0 (got -1.0)"),
    "fraction out of range": (lambda t, m: _config(t, "data: {eval_fraction: 1.5}\n"),
                              r"data\.eval_fraction must be in \(0, 1\) \(got 1\.5\)",
                              "data.eval_fraction must be in (0, 1) (got 1.5)"),
    "--set unknown key": (lambda t, m: _config(t, overrides=["harvest.strid=3"]),
                          r"--set 'harvest\.strid=3': unknown key 'harvest\.strid' \(known keys here: ",
                          "--set 'harvest.strid=3': unknown key 'harvest.strid' (known keys here: ...)"),
    "--set not a section": (lambda t, m: _config(t, overrides=["harvest.stride.x=3"]),
                            r"'harvest\.stride' is a value, not a section", "is a value, not a section"),
    "stride (config)": (lambda t, m: _config(t, "harvest: {stride: 64}\n"),
                        r"invalid values in 'harvest': stride=64 must be in 1\.\.max_length-1",
                        "invalid values in 'harvest': stride=64 must be in 1..max_length-1"),
    "stride (stage 01)": (lambda t, m: _stride(m),
                          r"harvest\.stride=63 must be in 1\.\.62 \(harvest\.max_length minus 2 special tokens\)",
                          "harvest.stride=63 must be in 1..62 (harvest.max_length minus 2 special tokens)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_readme_quotes_the_message(case, tmp_path, minilm_dir):
    trigger, pattern, quoted = CASES[case]
    msg = _message(trigger(tmp_path, minilm_dir))
    assert "\n" not in msg and re.search(pattern, msg), msg
    assert "..." in quoted or quoted in msg, msg  # quoted verbatim unless the table elides a variable part
    assert quoted in _error_table(), f"docs/troubleshooting.md lacks {quoted!r} (the message is: {msg})"
