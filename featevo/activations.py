"""Activation harvesting: the ONE place where featevo reads an encoder layer.

Layer convention: ``layer = L`` hooks module ``encoder.layer.L`` (0-based block index, sparsify's
hookpoint name). Its output equals ``hidden_states[L + 1]`` from ``output_hidden_states=True``,
because ``hidden_states[0]`` is the embedding output. ``tests/test_activations.py`` checks this.

Data layout of a harvested split (``<dir>``):

* ``tokens.safetensors``: ``input_ids`` [windows, max_length] int32, ``attention_mask`` and
  ``keep_mask`` (bool, same shape), ``window_doc`` [windows] (each window's document: a document
  longer than ``max_length`` is split into several consecutive windows, see :func:`tokenize_windows`).
  ``keep_mask`` marks the positions that enter an SAE: never padding, a token only once, and
  [CLS]/[SEP] only if ``exclude_special_tokens`` is false.
* ``docs.jsonl``: text, category and domain of each document.
* ``<model_key>/shard_00000.safetensors`` ...: ``acts`` [rows, d_in] in ``harvest.store_dtype`` (float32,
  bfloat16 or float16; every reader upcasts to float32, :meth:`ActivationStore.shard`); row r is the r-th
  True entry of ``keep_mask`` in row-major (window, position) order, identical for every model,
  so the base and tuned activations align row by row.
* ``<model_key>/index.json``: shard sizes, d_in, layer, hookpoint and the stored dtype (written last).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn
from featevo.progress import tqdm

from featevo.data import Doc
from featevo.errors import ConfigError, StageError, TrainingError
from featevo.io import atomic_path, atomic_write_json, atomic_write_text, read_json
from featevo.layout import TrainFiles, display_path
from featevo.models import DTYPE_MAP, check_layer, encoder, encoder_layers, hookpoint_name

logger = logging.getLogger(__name__)



class _StopForward(Exception):
    """Raised by the hook to skip the blocks above the harvested layer."""


def safe_load(path: Path) -> dict[str, torch.Tensor]:
    """``safetensors`` load with a one-line error for missing, truncated or corrupted files."""
    if not path.is_file():
        raise StageError(f"{display_path(path)}: file not found")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise StageError(f"{display_path(path)}: corrupted or truncated safetensors file ({e})") from None


def safe_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Write a safetensors file atomically."""
    with atomic_path(path) as tmp:
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------
def tokenize_docs(tokenizer, docs: Sequence[Doc], max_length: int, exclude_special_tokens: bool,
                  offsets: bool = False) -> dict:
    """Each document as one row of ``max_length`` tokens (truncated); ``offsets``: also each position's
    character span in its document's text (``offsets`` [rows, max_length, 2], (0, 0) for special and padding
    positions), which :func:`featevo.planting.planted_positions` reads."""
    enc = tokenizer(
        [d.text for d in docs], max_length=max_length, truncation=True, padding="max_length",
        return_tensors="pt", return_special_tokens_mask=True, **({"return_offsets_mapping": True} if offsets else {}),
    )
    attn = enc["attention_mask"].bool()
    keep = attn.clone()
    if exclude_special_tokens:
        keep &= ~enc["special_tokens_mask"].bool()
    out = {"input_ids": enc["input_ids"].to(torch.int32), "attention_mask": attn, "keep_mask": keep}
    if offsets:
        out["offsets"] = enc["offset_mapping"].to(torch.int32)
    return out


def _special_template(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens the tokenizer puts before and after a single text ([CLS] and [SEP] for BERT)."""
    sample = "the"
    with_special = tokenizer(sample)["input_ids"]
    bare = tokenizer(sample, add_special_tokens=False)["input_ids"]
    for p in range(len(with_special) - len(bare) + 1):
        if with_special[p : p + len(bare)] == bare:
            return list(with_special[:p]), list(with_special[p + len(bare) :])
    raise RuntimeError("cannot find the tokenizer's special-token template")  # pragma: no cover


def tokenize_windows(tokenizer, docs: Sequence[Doc], max_length: int, exclude_special_tokens: bool,
                     stride: int | None = None, max_windows: int | None = None,
                     offsets: bool = False) -> tuple[dict, dict]:
    """Stage 01's tokens: each document split into windows of ``max_length`` tokens instead of truncated.

    A document's text tokens (without special tokens) are cut into pieces of ``max_length - <special>``
    tokens starting every ``stride`` tokens (None: no overlap), each wrapped in the tokenizer's special
    tokens and padded, never across documents (as SAE training libraries pack context). With an overlap
    (stride smaller than a piece) a token is *kept* (enters an SAE) only in the first window it appears in;
    the repeat is left context for the new tokens. ``max_windows`` caps the windows per document (the rest
    is dropped as truncation). A document that fits is tokenised exactly as :func:`tokenize_docs`.

    Returns the tokens (``input_ids``, ``attention_mask``, ``keep_mask`` [windows, max_length] and
    ``window_doc`` [windows], each window's document) and the accounting: ``tokens_total`` = text tokens
    of the documents + special and padding positions of the windows = ``tokens_kept`` + ``dropped``
    (``special_tokens``, ``padding``, ``truncation``); ``context_only`` counts overlap repeats (not in the total).
    ``offsets``: the tokens also hold each position's character span in its document's text (``offsets``
    [windows, max_length, 2], (0, 0) for special and padding positions; never saved by stage 01).
    """
    prefix, suffix = _special_template(tokenizer)
    n_special = len(prefix) + len(suffix)
    body = max_length - n_special
    step = body if stride is None else stride
    if not 1 <= step <= body:
        raise ConfigError(f"harvest.stride={stride} must be in 1..{body} (harvest.max_length minus "
                          f"{n_special} special tokens)")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    enc = tokenizer([d.text for d in docs], add_special_tokens=False, truncation=False, verbose=False,
                    **({"return_offsets_mapping": True} if offsets else {}))
    spans = enc["offset_mapping"] if offsets else None
    enc = enc["input_ids"]
    ids_rows, keep_rows, attn_rows, window_doc, off_rows = [], [], [], [], []
    st = {"documents": len(docs), "windows": 0, "documents_split": 0, "tokens_total": 0, "tokens_kept": 0,
          "dropped": {"special_tokens": 0, "padding": 0, "truncation": 0}, "context_only": 0}
    for di, ids in enumerate(enc):
        start, covered, n_win = 0, 0, 0
        while True:
            piece = ids[start : start + body]
            full = prefix + piece + suffix
            special = [True] * len(prefix) + [False] * len(piece) + [True] * len(suffix)
            keep, j = [], start
            for is_special in special:
                if is_special:
                    keep.append(not exclude_special_tokens)
                    st["dropped"]["special_tokens"] += int(exclude_special_tokens)
                else:
                    keep.append(j >= covered)
                    st["context_only"] += int(j < covered)
                    j += 1
            n_pad = max_length - len(full)
            st["dropped"]["padding"] += n_pad
            ids_rows.append(full + [pad] * n_pad)
            if spans is not None:
                off_rows.append([(0, 0)] * len(prefix) + list(spans[di][start : start + body])
                                + [(0, 0)] * (len(suffix) + n_pad))
            attn_rows.append([1] * len(full) + [0] * n_pad)
            keep_rows.append(keep + [False] * n_pad)
            window_doc.append(di)
            n_win += 1
            covered = start + len(piece)
            if covered >= len(ids) or (max_windows is not None and n_win >= max_windows):
                break
            start += step
        st["dropped"]["truncation"] += len(ids) - covered
        st["documents_split"] += int(n_win > 1)
        st["windows"] += n_win
        st["tokens_total"] += len(ids) + n_win * n_special
    tokens = {
        "input_ids": torch.tensor(ids_rows, dtype=torch.int32).reshape(-1, max_length),
        "attention_mask": torch.tensor(attn_rows, dtype=torch.bool).reshape(-1, max_length),
        "keep_mask": torch.tensor(keep_rows, dtype=torch.bool).reshape(-1, max_length),
        "window_doc": torch.tensor(window_doc, dtype=torch.int32),
    }
    if spans is not None:
        tokens["offsets"] = torch.tensor(off_rows, dtype=torch.int32).reshape(-1, max_length, 2)
    st["tokens_kept"] = int(tokens["keep_mask"].sum())
    st["tokens_total"] += st["dropped"]["padding"]
    return tokens, st


@dataclass(frozen=True)
class Windowing:
    """How documents are cut into model inputs: exactly as stage 01 does (``harvest.max_length``,
    ``harvest.stride``, ``harvest.max_windows``), so a long document is split into windows, not truncated."""

    max_length: int
    stride: int | None = None
    max_windows: int | None = None

    @classmethod
    def of(cls, w: "int | Windowing") -> "Windowing":
        return w if isinstance(w, Windowing) else cls(int(w))

    def tokens(self, tokenizer, docs: list[Doc], offsets: bool = False) -> tuple[dict, dict]:
        """:func:`tokenize_windows` without special tokens as targets: (tokens, accounting)."""
        return tokenize_windows(tokenizer, docs, self.max_length, True, self.stride, self.max_windows, offsets)


def save_tokens(out_dir: Path, tokens: dict, docs: Sequence[Doc]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    safe_save(tokens, out_dir / TrainFiles.TOKENS)
    atomic_write_text(out_dir / TrainFiles.DOCS, "".join(json.dumps(asdict(d)) + "\n" for d in docs))


class TokenTable:
    """The shared token stream of a split: documents, positions and the SAE row index."""

    def __init__(self, split_dir: Path):
        self.dir = Path(split_dir)
        t = safe_load(self.dir / TrainFiles.TOKENS)
        self.input_ids: torch.Tensor = t["input_ids"]
        self.attention_mask: torch.Tensor = t["attention_mask"]
        self.keep_mask: torch.Tensor = t["keep_mask"]
        self.docs = [Doc(**json.loads(line)) for line in (self.dir / TrainFiles.DOCS).read_text("utf-8").splitlines()]
        rows = self.keep_mask.nonzero(as_tuple=False)
        self.row_window: np.ndarray = rows[:, 0].numpy()
        """Window (row of ``input_ids``) of each SAE row; older runs and fitting documents: one per document."""
        self.window_doc: np.ndarray = (t["window_doc"].long().numpy() if "window_doc" in t
                                       else np.arange(self.input_ids.shape[0]))
        self.row_doc: np.ndarray = self.window_doc[self.row_window]
        """Document of each SAE row (non-decreasing: a document's windows are consecutive)."""
        self.row_pos: np.ndarray = rows[:, 1].numpy()
        """Position of each SAE row within its window."""
        self.row_token: np.ndarray = self.input_ids[self.keep_mask].numpy()

    @property
    def n_rows(self) -> int:
        return int(self.keep_mask.sum())

    def row_categories(self) -> np.ndarray:
        return np.array([self.docs[d].category for d in self.row_doc])

    def row_domains(self) -> np.ndarray:
        return np.array([self.docs[d].domain for d in self.row_doc])


# --------------------------------------------------------------------------------------------
# Hooks
# --------------------------------------------------------------------------------------------
def _first(output):
    return output[0] if isinstance(output, tuple) else output


def layer_output(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, layer: int) -> torch.Tensor:
    """Output of block ``layer`` [batch, seq, d], running only the blocks up to it."""
    captured: list[torch.Tensor] = []

    def hook(_mod, _inp, output):
        captured.append(_first(output))
        raise _StopForward

    handle = encoder_layers(model)[layer].register_forward_hook(hook)
    try:
        with torch.no_grad():
            encoder(model)(input_ids=input_ids, attention_mask=attention_mask)
    except _StopForward:
        pass
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("layer hook did not fire")  # pragma: no cover
    return captured[0]


def layer_and_last_output(model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                          layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Output of block ``layer`` and the encoder's last hidden state [batch, seq, d], from one full forward."""
    captured: list[torch.Tensor] = []

    def hook(_mod, _inp, output):
        captured.append(_first(output))

    handle = encoder_layers(model)[layer].register_forward_hook(hook)
    try:
        with torch.no_grad():
            last = encoder(model)(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    finally:
        handle.remove()
    if not captured:
        raise RuntimeError("layer hook did not fire")  # pragma: no cover
    return captured[0], last


SORT_WINDOW_BATCHES = 8
"""Documents are batched by length within windows of this many batches (less padding per batch);
rows still come out in document order, batch by batch, exactly as without sorting."""


def iter_layer_rows(
    model: nn.Module, tokens: dict, layer: int, batch_size: int, device: torch.device, desc: str = "harvest",
    progress: bool = True,
) -> Iterator[torch.Tensor]:
    """Yield float32 activation rows (kept positions only) batch by batch, on the CPU.

    The i-th yield holds the rows of documents ``i * batch_size ...`` in row-major order. Internally
    the documents of each window of ``SORT_WINDOW_BATCHES`` batches run in length-sorted batches, so
    a batch is padded only to the longest of similar-length documents (demo corpus: about 30% fewer
    token positions computed); the rows are put back in document order before they are yielded.
    """
    yield from _iter_layer_rows(model, tokens, layer, batch_size, device, desc, progress, SORT_WINDOW_BATCHES)


def _iter_layer_rows(
    model: nn.Module, tokens: dict, layer: int, batch_size: int, device: torch.device, desc: str = "harvest",
    progress: bool = True, sort_window: int = SORT_WINDOW_BATCHES,
) -> Iterator[torch.Tensor]:
    n = tokens["input_ids"].shape[0]
    lengths = tokens["attention_mask"].sum(1)
    window = batch_size * max(1, sort_window)
    pbar = tqdm(total=math.ceil(n / batch_size), desc=desc, unit="batch", disable=not progress)
    for w0 in range(0, n, window):
        w1 = min(n, w0 + window)
        if sort_window > 1:
            order = torch.sort(lengths[w0:w1], stable=True).indices + w0
        else:
            order = torch.arange(w0, w1)
        doc_rows: dict[int, torch.Tensor] = {}
        for b in range(0, w1 - w0, batch_size):
            docs = order[b : b + batch_size]
            ids, attn, keep = (tokens[k][docs] for k in ("input_ids", "attention_mask", "keep_mask"))
            width = max(int(attn.sum(1).max()), 1)  # trim the padding columns (right padding)
            ids, attn, keep = ids[:, :width], attn[:, :width], keep[:, :width]
            out = layer_output(model, ids.long().to(device), attn.long().to(device), layer)
            rows = out[keep.to(device)].float().cpu()
            if not torch.isfinite(rows).all():
                per_doc_ok = [bool(torch.isfinite(r).all()) for r in torch.split(rows, keep.sum(1).tolist())]
                bad = sorted(int(d) for d, ok in zip(docs, per_doc_ok) if not ok)
                raise TrainingError(
                    f"{desc}: non-finite activations (NaN/inf) at layer {layer} in documents "
                    f"{', '.join(map(str, bad[:10]))}{' ...' if len(bad) > 10 else ''} (0-based, in the split's "
                    f"docs.jsonl order; the first batch that had any); check the model weights, or use "
                    f"harvest.dtype: float32"
                )
            for d, r in zip(docs.tolist(), torch.split(rows, keep.sum(1).tolist())):
                doc_rows[d] = r
            pbar.update(1)
        for s0 in range(w0, w1, batch_size):
            yield torch.cat([doc_rows.pop(d) for d in range(s0, min(s0 + batch_size, w1))])
    pbar.close()


def harvest(
    model: nn.Module, tokens: dict, layer: int, out_dir: Path, batch_size: int, shard_tokens: int,
    device: torch.device, spec: str, desc: str = "harvest", store_dtype: str | None = None,
) -> dict:
    """Write the activations of block ``layer`` for the kept tokens to safetensors shards, stored in
    ``store_dtype`` (None: float32).

    Resumable: an existing ``index.json`` means the split is complete and is returned as is.
    """
    out_dir = Path(out_dir)
    if (out_dir / TrainFiles.INDEX).is_file():
        return read_json(out_dir / TrainFiles.INDEX)
    check_layer(model, layer, spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    buf: list[torch.Tensor] = []
    buffered, shards, d_in = 0, [], None
    store = DTYPE_MAP[store_dtype or "float32"]

    def flush(final: bool) -> None:
        nonlocal buf, buffered
        while buffered >= shard_tokens or (final and buffered > 0):
            cat = torch.cat(buf)
            take = min(shard_tokens, cat.shape[0])
            name = f"shard_{len(shards):05d}.safetensors"
            safe_save({"acts": cat[:take].to(store).clone()}, out_dir / name)
            shards.append({"file": name, "rows": int(take)})
            buf = [cat[take:]] if cat.shape[0] > take else []
            buffered = cat.shape[0] - take

    for rows in iter_layer_rows(model, tokens, layer, batch_size, device, desc=desc):
        d_in = rows.shape[1]
        buf.append(rows)
        buffered += rows.shape[0]
        flush(final=False)
    flush(final=True)
    index = {
        "d_in": d_in, "n_rows": sum(s["rows"] for s in shards), "shards": shards, "layer": layer,
        "hookpoint": hookpoint_name(model, layer), "model": spec, "dtype": store_dtype or "float32",
    }
    atomic_write_json(out_dir / TrainFiles.INDEX, index)
    return index


class ActivationStore:
    """Read harvested activation shards without holding the whole corpus in memory."""

    def __init__(self, acts_dir: Path):
        self.dir = Path(acts_dir)
        if not (self.dir / TrainFiles.INDEX).is_file():
            raise StageError(f"{display_path(self.dir)}: no {TrainFiles.INDEX} (activations not harvested)")
        self.index = read_json(self.dir / TrainFiles.INDEX)
        self.d_in: int = self.index["d_in"]
        self.n_rows: int = self.index["n_rows"]
        self.shards: list[dict] = self.index["shards"]

    @classmethod
    def from_tensor(cls, out_dir: Path, x: torch.Tensor, shard_rows: int, store_dtype: str | None = None,
                    **meta) -> "ActivationStore":
        """Write rows ``x`` [n, d] as shards (in ``store_dtype``, None: float32) + ``index.json`` (tests,
        benchmarks) and open them."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        shards = []
        for i, s in enumerate(range(0, x.shape[0], shard_rows)):
            name = f"shard_{i:05d}.safetensors"
            part = x[s : s + shard_rows].to(DTYPE_MAP[store_dtype or "float32"]).clone()
            safe_save({"acts": part}, out_dir / name)
            shards.append({"file": name, "rows": int(part.shape[0])})
        atomic_write_json(out_dir / TrainFiles.INDEX, {"d_in": int(x.shape[1]), "n_rows": int(x.shape[0]),
                                                 "shards": shards, "dtype": store_dtype or "float32", **meta})
        return cls(out_dir)

    def shard(self, i: int) -> torch.Tensor:
        """Shard ``i`` as float32 (shards stored in bfloat16 or float16 are upcast)."""
        acts = safe_load(self.dir / self.shards[i]["file"]).get("acts")
        if acts is None or acts.shape != (self.shards[i]["rows"], self.d_in):
            raise StageError(f"{display_path(self.dir / self.shards[i]['file'])}: wrong shape, expected "
                             f"({self.shards[i]['rows']}, {self.d_in})")
        return acts.float()

    def iter_shards(self) -> Iterator[torch.Tensor]:
        for i in range(len(self.shards)):
            yield self.shard(i)

    def iter_rows(self, max_rows: int | None = None, chunk: int = 8192) -> Iterator[torch.Tensor]:
        """Rows in order, in chunks of at most ``chunk``."""
        seen = 0
        for acts in self.iter_shards():
            for s in range(0, acts.shape[0], chunk):
                part = acts[s : s + chunk]
                if max_rows is not None:
                    part = part[: max_rows - seen]
                if part.shape[0] == 0:
                    return
                seen += part.shape[0]
                yield part

    def read_all(self, max_rows: int | None = None) -> torch.Tensor:
        return torch.cat(list(self.iter_rows(max_rows)))

    def batches(self, batch_size: int, seed: int, start_batch: int = 0) -> Iterator[torch.Tensor]:
        """Endless shuffled training batches, a pure function of (seed, batch number).

        Each epoch visits the shards in a seeded order and the rows of each shard in a seeded
        order; a remainder carries over to the next shard. ``start_batch`` skips batches without
        computing on them, so a resumed run sees exactly the batches an uninterrupted run sees.
        """
        epoch, produced = 0, 0
        carry = torch.empty(0, self.d_in)
        while True:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            for si in torch.randperm(len(self.shards), generator=g).tolist():
                acts = self.shard(si)
                acts = acts[torch.randperm(acts.shape[0], generator=g)]
                pool = torch.cat([carry, acts]) if carry.shape[0] else acts
                n_full = pool.shape[0] // batch_size
                for b in range(n_full):
                    if produced >= start_batch:
                        yield pool[b * batch_size : (b + 1) * batch_size]
                    produced += 1
                carry = pool[n_full * batch_size :]
            epoch += 1


def harvest_dtype(name: str) -> torch.dtype:
    return DTYPE_MAP[name]
