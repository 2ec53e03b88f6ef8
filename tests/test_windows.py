"""Stage 01 windowing: long documents are split into windows, never truncated silently; short ones as before."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
import torch

from featevo.activations import TokenTable, save_tokens, tokenize_docs, tokenize_windows
from featevo.config import DataConfig
from featevo.data import Doc, validate_jsonl

SENTENCES = [
    "Shares of Northwind Holdings fell 4.2 percent on Tuesday after the company cut its full-year outlook.",
    "Analysts at two brokerages lowered their price targets, citing weaker freight volumes in Europe.",
    "The central bank is expected to keep its benchmark rate unchanged at its meeting next week.",
    "Ten-year Treasury yields rose to 4.31 percent, the highest level since early March.",
    "Chief executive Maria Olsen said the quarter was \"disappointing, but not a turning point\".",
    "Credit spreads on high-yield bonds widened by 18 basis points as investors sold riskier debt.",
]


def articles(n: int, seed: int = 0) -> list[dict]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        k = r.choice([1, 2, 8, 25, 60])  # from one sentence (~20 tokens) to ~1,500 tokens
        out.append({"text": "\n".join(r.choice(SENTENCES) for _ in range(k)), "category": "markets"})
    return out


@pytest.fixture(scope="module")
def tok(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)


def _check_accounting(tok, docs, tokens, st, max_length, exclude_special):
    dropped = st["dropped"]
    assert st["tokens_kept"] + sum(dropped.values()) == st["tokens_total"]
    assert st["windows"] == tokens["input_ids"].shape[0] == len(tokens["window_doc"])
    assert tokens["input_ids"].shape[1] == max_length
    assert np.all(np.diff(tokens["window_doc"].numpy()) >= 0)  # a document's windows are consecutive
    special = set(tok.all_special_ids)
    for di, d in enumerate(docs):
        full = tok(d.text, add_special_tokens=False)["input_ids"]
        w = (tokens["window_doc"] == di).nonzero().flatten()
        kept = tokens["input_ids"][w][tokens["keep_mask"][w]].tolist()
        content = [t for t in kept if t not in special] if not exclude_special else kept
        if dropped["truncation"] == 0:
            assert content == full  # every token exactly once, in order, in exactly one window
        else:
            assert content == full[: len(content)]


@pytest.mark.parametrize("stride", [None, 40])
def test_long_csv_articles_lose_no_token(tmp_path, tok, stride):
    p = tmp_path / "news.csv"
    pd.DataFrame(articles(30)).to_csv(p, index=False)
    docs = validate_jsonl(p, DataConfig(), require_category=False)
    assert max(len(d.text) for d in docs) > 4000
    tokens, st = tokenize_windows(tok, docs, 64, True, stride=stride)
    assert st["dropped"]["truncation"] == 0 and st["documents"] == 30 and st["documents_split"] > 10
    assert st["windows"] > 30 and (st["context_only"] > 0) == (stride is not None)
    _check_accounting(tok, docs, tokens, st, 64, True)
    assert st["dropped"]["special_tokens"] == 2 * st["windows"]


def test_special_tokens_kept_and_max_windows_truncate(tok):
    docs = [Doc(d["text"], d["category"], "target") for d in articles(12, seed=3)]
    tokens, st = tokenize_windows(tok, docs, 32, False)
    assert st["dropped"]["special_tokens"] == 0 and st["tokens_kept"] + st["dropped"]["padding"] == st["tokens_total"]
    tokens, st = tokenize_windows(tok, docs, 32, True, max_windows=1)
    assert st["windows"] == 12 and st["dropped"]["truncation"] > 0
    _check_accounting(tok, docs, tokens, st, 32, True)
    # one window per document is exactly the old truncating tokenisation
    old = tokenize_docs(tok, docs, 32, True)
    for k in ("input_ids", "attention_mask", "keep_mask"):
        assert torch.equal(tokens[k], old[k]), k


def test_short_documents_tokenise_exactly_as_before(tok):
    docs = [Doc(s, "markets", "target") for s in SENTENCES]
    new, st = tokenize_windows(tok, docs, 64, True)
    old = tokenize_docs(tok, docs, 64, True)
    for k in ("input_ids", "attention_mask", "keep_mask"):
        assert torch.equal(new[k], old[k]), k
    assert st["windows"] == len(docs) and st["documents_split"] == 0


def test_token_table_maps_rows_to_documents(tmp_path, tok):
    docs = [Doc(d["text"], d["category"], "target") for d in articles(8, seed=1)]
    tokens, st = tokenize_windows(tok, docs, 48, True)
    save_tokens(tmp_path, tokens, docs)
    tt = TokenTable(tmp_path)
    assert len(tt.docs) == 8 and tt.n_rows == st["tokens_kept"]
    assert np.all(np.diff(tt.row_doc) >= 0) and set(tt.row_doc) == set(range(8))
    starts = np.searchsorted(tt.row_doc, np.arange(len(tt.docs) + 1))
    for d in range(8):
        assert tt.row_token[starts[d]:starts[d + 1]].tolist() == tok(docs[d].text, add_special_tokens=False)[
            "input_ids"]
    from featevo.probe import doc_aggregates

    z = np.ones((tt.n_rows, 3), dtype=np.float32)
    mean, frac = doc_aggregates(z, tt.row_doc, len(tt.docs))
    assert mean.shape[0] == 8


def test_bad_stride_is_a_config_error(tok):
    from featevo.errors import ConfigError

    with pytest.raises(ConfigError, match=r"harvest\.stride=70 must be in 1\.\.62"):
        tokenize_windows(tok, [Doc("x", "markets", "target")], 64, True, stride=70)
