"""featevo.planting: the one definition of planted token positions, on real MiniLM tokens, windowed or not."""

import pytest
import torch

from featevo.activations import Windowing, tokenize_docs, tokenize_windows
from featevo.data import Doc
from featevo.planting import planted_docs, planted_positions, planted_token_ids, replacement_spans

SUBS = {"shares": "lanterns", "stock": "lantern"}


@pytest.fixture(scope="module")
def tok(minilm_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)


def _marked_words(tok, tokens, mark) -> list[str]:
    """The marked word pieces of every row, joined per row (word pieces glued back)."""
    out = []
    for ids, m in zip(tokens["input_ids"], mark):
        out.append(" ".join(tok.convert_ids_to_tokens(ids[m].tolist())).replace(" ##", ""))
    return out


def test_replacement_spans_are_whole_words_any_case():
    text = "Lanterns rose; lanternfish fell; the lantern."
    assert [text[a:b] for a, b in replacement_spans(text, SUBS)] == ["Lanterns", "lantern"]
    assert replacement_spans(text, {}) == []


def test_planted_positions_mark_the_replacement_words_only(tok):
    docs, _ = planted_docs([Doc("Acme shares rose; the stock and its lanternfish fell.", "markets", "target")], SUBS)
    t = tokenize_docs(tok, docs, 32, True, offsets=True)
    mark = planted_positions(docs, t, SUBS)
    assert _marked_words(tok, t, mark) == ["lanterns lantern"]
    # a test on token ids alone would also mark the shared piece of "lanternfish"
    by_id = torch.isin(t["input_ids"], torch.tensor(planted_token_ids(tok, SUBS), dtype=t["input_ids"].dtype))
    assert int((by_id & t["keep_mask"]).sum()) > int(mark.sum()) == 2


def test_planted_positions_follow_the_windows_and_keep_mask(tok):
    words = " ".join(f"w{i} shares" if i % 3 == 0 else f"w{i}" for i in range(60))
    docs, _ = planted_docs([Doc(words, "markets", "target"), Doc("Nothing planted here.", "misc", "target")], SUBS)
    n_words = docs[0].text.count("lanterns")
    for stride in (None, 10):
        t, st = tokenize_windows(tok, docs, 24, True, stride=stride, offsets=True)
        assert st["documents_split"] == 1
        mark = planted_positions(docs, t, SUBS)
        assert not (mark & ~t["keep_mask"]).any()
        # every occurrence counted once, even where windows overlap (the repeat is context, not kept)
        assert int(mark.sum()) == n_words * len(tok("lanterns", add_special_tokens=False)["input_ids"])
        assert not mark[t["window_doc"] == 1].any()
        plain, _ = tokenize_windows(tok, docs, 24, True, stride=stride)
        assert all(torch.equal(plain[k], t[k]) for k in plain)  # offsets change nothing else


def test_windowed_and_truncated_positions_agree_on_a_short_document(tok):
    docs, _ = planted_docs([Doc("Stock and shares: Shares!", "markets", "target")], SUBS)
    a = planted_positions(docs, tokenize_docs(tok, docs, 32, True, offsets=True), SUBS)
    b = planted_positions(docs, Windowing(32).tokens(tok, docs, offsets=True)[0], SUBS)
    assert torch.equal(a, b) and int(a.sum()) == 3


def test_planted_positions_need_offsets(tok):
    docs = [Doc("lanterns", "markets", "target")]
    with pytest.raises(ValueError, match="offsets"):
        planted_positions(docs, tokenize_docs(tok, docs, 16, True), SUBS)
