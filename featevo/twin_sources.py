"""Given models in the twin stage: a hub or local tuned model, control or replica (``tuned_model``,
``twin.control_model``, ``twin.replica_model``) written into ``01_twin/<key>`` beside the twins made there.

The study pairs bert-base-uncased with ProsusAI/finbert, a ``BertForSequenceClassification`` made by further
masked-LM pretraining on financial text and then sentiment fine-tuning. Its controls come from the same base by
the twin recipe (:mod:`featevo.twin`): a control on general text, and a replica and a planted twin, which start
from the tuned model itself by default (``twin.planted_from``), so planted vs replica differ by the plant and the
seed only. Continuing a classifier's masked-LM training, and its masked-LM loss on the probe (stage 03), need a
masked-LM head: one is fitted on the frozen encoder exactly as for a base without one
(:func:`featevo.twin.fit_mlm_head`), and written into the same folder beside the classifier head (a *dual-head*
folder), so the folder loads as the classifier (``architectures`` unchanged, fidelity by KL on its own output) and
as a masked-LM model (``load_model(head="mlm")``) with the same encoder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from featevo.config import ModelConfig, TwinConfig
from featevo.data import Doc
from featevo.errors import ModelLoadError, TrainingError
from featevo.io import atomic_path
from featevo.layout import display_path
from featevo.models import head_kind, load_model, load_tokenizer, same_tokenizer
from featevo.sae import seed_everything

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"


def given_models(tuned: ModelConfig | None, cfg: TwinConfig) -> dict[str, ModelConfig]:
    """Twin key -> the given model that fills it (tuned, control, replica); the other twins are made."""
    out = {"tuned": tuned, "control": cfg.control_model, "replica": cfg.replica_model}
    return {k: m for k, m in out.items() if m is not None}


def planted_start(tuned: ModelConfig | None, cfg: TwinConfig) -> str:
    """Folder key the planted twin and a made replica start from: ``twin.planted_from``, else ``tuned`` when the
    tuned model is given and ``base`` when it is made here."""
    return cfg.planted_from or ("tuned" if tuned is not None else "base")


def _mlm_head_state(mlm_model) -> dict[str, torch.Tensor]:
    """The masked-LM head's own tensors (the decoder weight is tied to the word embeddings: not stored)."""
    return {k: v.detach().cpu().clone() for k, v in mlm_model.state_dict().items()
            if k.startswith(("cls.", "lm_head.")) and not k.endswith("decoder.weight")}


def write_dual_head(folder: Path, mlm_model) -> None:
    """Add ``mlm_model``'s masked-LM head tensors to the classifier weights in ``folder`` (same encoder)."""
    path = Path(folder) / WEIGHTS
    if not path.is_file():
        raise TrainingError(f"{display_path(folder)}: no single {WEIGHTS} to add the masked-LM head to")
    tensors = load_file(str(path))
    tensors.update(_mlm_head_state(mlm_model))
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def import_model(key: str, mcfg: ModelConfig, base_cfg: ModelConfig, twin_cfg: TwinConfig, train: list[Doc],
                 evald: list[Doc], out: Path, seed: int, device, window) -> dict:
    """Write the given model ``mcfg`` to ``out/<key>`` (``save_pretrained``, its own architecture), with a masked-LM
    head fitted on its frozen encoder when it has none; returns its report entry (source, head, head fit)."""
    from featevo.twin import _save, fit_mlm_head

    folder = out / key
    head = head_kind(mcfg)
    info: dict = {"source": mcfg.name, "revision": mcfg.revision, "own_head": head, "made_here": False}
    if (folder / "config.json").is_file():
        return info
    tok = load_tokenizer(mcfg)
    if not same_tokenizer(load_tokenizer(base_cfg), tok):
        raise ModelLoadError(f"twin {key}: model '{mcfg.name}' does not share the tokenizer of '{base_cfg.name}'")
    seed_everything(seed)
    mlm = load_model(mcfg, head="mlm", device=device)
    if head != "mlm":
        ref = {k: v.detach().clone() for k, v in mlm.base_model.named_parameters()}
        info["head_fit"] = fit_mlm_head(mlm, tok, train, evald, twin_cfg, seed, window, device)
        if not all(torch.equal(ref[k], v) for k, v in mlm.base_model.named_parameters()):
            raise TrainingError(f"fitting the MLM head changed the encoder of '{mcfg.name}'")  # pragma: no cover
    if head == "cls":
        own = load_model(mcfg, head="cls", device=device)
        with atomic_path(folder) as tmp:
            own.save_pretrained(str(tmp), safe_serialization=True)
            tok.save_pretrained(str(tmp))
            write_dual_head(tmp, mlm)
    else:
        _save(mlm, tok, folder)
    logger.info("twin %s: given model %s (%s head%s)", key, mcfg.name, head,
                "" if head == "mlm" else ", masked-LM head fitted on its frozen encoder")
    return info
