"""What every diffing lens reads: the held-out rows of every model (:class:`Rows`, stage 01's eval split then its
train split) and the corpus with the plant applied (:class:`PlantedText`, ``diffing.planted_text``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from featevo.activations import ActivationStore, TokenTable
from featevo.config import PipelineConfig
from featevo.layout import TrainFiles, acts_dir, models, split_dir
from featevo.stagewise import TensorStore

logger = logging.getLogger(__name__)

ALL_ROWS = "all"
"""Every row (rather than one domain's rows)."""


@dataclass
class Rows:
    """Aligned rows of every model for the per-latent statistics: stage 01's eval split, then its train split,
    ``diffing.max_tokens`` rows in all."""

    x: dict[str, torch.Tensor]
    domain: np.ndarray

    def select(self, key: str, rows: str) -> torch.Tensor:
        return self.x[key] if rows == ALL_ROWS else self.x[key][torch.from_numpy(self.domain == rows)]


@dataclass
class PlantedText:
    """Both twins' activations of the corpus with the plant applied (``diffing.planted_text``): training stores
    and the rows for the per-latent statistics."""

    stores: dict[str, ActivationStore]
    rows: Rows
    changed_docs: dict[str, int]
    planted_tokens: dict[str, int]


def planted_text(cfg: PipelineConfig, s1: Path, device) -> PlantedText:
    from featevo.models import load_model, load_tokenizer
    from featevo.planted_control import planted_split

    mdl = models(cfg)
    tok = load_tokenizer(mdl["base"])
    loaded = {k: load_model(mdl[k], head="none", device=device, dtype=cfg.harvest.dtype) for k in ("tuned", "planted")}
    h = cfg.harvest
    split = {sp: planted_split(s1, sp, dict(cfg.twin.planted), tok, loaded, h.layer, h.batch_size, h.max_length,
                               h.exclude_special_tokens, device, h.stride, h.max_windows) for sp in TrainFiles.SPLITS}
    n_eval = min(cfg.diffing.max_tokens, len(split["eval"][1]))
    n_train = min(cfg.diffing.max_tokens - n_eval, len(split["train"][1]))
    rows = Rows({k: torch.cat([split["eval"][0][k][:n_eval], split["train"][0][k][:n_train]]) for k in loaded},
                np.concatenate([split["eval"][1][:n_eval], split["train"][1][:n_train]]))
    logger.info("planted text: %d train and %d eval documents changed (%d and %d planted tokens); %d train rows",
                split["train"][2], split["eval"][2], split["train"][3], split["eval"][3], len(split["train"][1]))
    return PlantedText({k: TensorStore(split["train"][0][k]) for k in loaded}, rows,
                       {sp: split[sp][2] for sp in split}, {sp: split[sp][3] for sp in split})


def load_rows(s1: Path, keys: tuple[str, ...], max_tokens: int) -> Rows:
    parts = []
    left = max_tokens
    for split in TrainFiles.SPLITS[::-1]:  # eval first
        n = min(left, TokenTable(split_dir(s1, split)).n_rows)
        if n > 0:
            parts.append((split, n))
        left -= n
    x = {k: torch.cat([ActivationStore(acts_dir(s1, sp, k)).read_all(n) for sp, n in parts]) for k in keys}
    domain = np.concatenate([TokenTable(split_dir(s1, sp)).row_domains()[:n] for sp, n in parts])
    return Rows(x, domain)
