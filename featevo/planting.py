"""The planted concept: the substitution that makes the planted twin, and which token positions are planted.

``twin.planted`` maps words to a replacement (``shares`` -> ``lanterns`` ...). The planted twin is trained on
the target-domain documents with the substitution applied (:func:`plant`, :func:`planted_docs`); the diffing
lenses' planted control, the causal positive control and the planted-word loss of the probe evaluation all
read text planted the same way.

:func:`planted_positions` is featevo's one definition of a planted token position: a kept position whose
character span lies inside an occurrence of a replacement word in the planted text (whole word, any case).
Word pieces of a replacement that also occur in other words therefore do not count, which a test on
token ids alone (:func:`planted_token_ids`) would get wrong.
"""

from __future__ import annotations

import re
from dataclasses import replace

import torch

from featevo.data import TARGET, Doc


def plant(text: str, substitutions: dict[str, str]) -> tuple[str, int]:
    """``text`` with every whole-word occurrence of a key (any case) replaced by its value, keeping an
    initial capital; returns the new text and the number of replacements."""
    if not substitutions:
        return text, 0
    lower = {k.lower(): v for k, v in substitutions.items()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(lower, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)

    def sub(m: re.Match) -> str:
        v = lower[m.group(1).lower()]
        return v[:1].upper() + v[1:] if m.group(1)[:1].isupper() else v

    return pattern.subn(sub, text)


def planted_docs(docs: list[Doc], substitutions: dict[str, str], domain: str = TARGET) -> tuple[list[Doc], int]:
    """``docs`` with the concept planted into those of ``domain``; returns them and how many changed."""
    out, changed = [], 0
    for d in docs:
        if d.domain == domain:
            text, n = plant(d.text, substitutions)
            changed += n > 0
            d = replace(d, text=text)
        out.append(d)
    return out, changed


def planted_token_ids(tokenizer, substitutions: dict[str, str]) -> list[int]:
    """Token ids of the planted words (every word piece of every replacement, in both cases): the vocabulary
    entries a planted word is made of, not which positions are planted (:func:`planted_positions`)."""
    ids: set[int] = set()
    for v in set(substitutions.values()):
        for form in (v, v[:1].upper() + v[1:]):
            ids.update(tokenizer(form, add_special_tokens=False)["input_ids"])
    return sorted(ids)


def replacement_spans(text: str, substitutions: dict[str, str]) -> list[tuple[int, int]]:
    """Character spans of the whole-word occurrences (any case) of a replacement word in planted ``text``."""
    values = sorted({v.lower() for v in substitutions.values()}, key=len, reverse=True)
    if not values:
        return []
    pattern = re.compile(r"\b(" + "|".join(re.escape(v) for v in values) + r")\b", re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


def planted_positions(docs: list[Doc], tokens: dict, substitutions: dict[str, str]) -> torch.Tensor:
    """Which positions of ``tokens`` are planted: a bool mask shaped like ``tokens["input_ids"]``, True at a kept
    position (``keep_mask``) whose character span lies inside an occurrence of a replacement word.

    ``docs`` are the planted documents and ``tokens`` their tokens with character offsets
    (:func:`featevo.activations.tokenize_docs` or :func:`featevo.activations.tokenize_windows` with
    ``offsets=True``); a window's document is ``tokens["window_doc"]`` when present, else its row."""
    if "offsets" not in tokens:
        raise ValueError("planted_positions needs tokens with character offsets (tokenize with offsets=True)")
    offsets = tokens["offsets"]
    n = offsets.shape[0]
    row_doc = tokens["window_doc"].tolist() if "window_doc" in tokens else list(range(n))
    spans = [replacement_spans(d.text, substitutions) for d in docs]
    mark = torch.zeros(tokens["input_ids"].shape, dtype=torch.bool)
    for i in range(n):
        doc_spans = spans[row_doc[i]]
        if not doc_spans:
            continue
        for j, (a, b) in enumerate(offsets[i].tolist()):
            if b > a and any(s <= a and b <= e for s, e in doc_spans):
                mark[i, j] = True
    return mark & tokens["keep_mask"]
