"""The one place that imports EleutherAI's Delphi (PyPI ``eai-delphi``, import name ``delphi``).

Delphi 0.1.3 hard-requires vLLM: ``delphi.clients`` (and through it ``delphi.explainers`` and
``delphi.scorers``) runs ``from vllm import LLM, SamplingParams`` at import time. vLLM needs CUDA and
does not install on a CPU machine, so ``eai-delphi`` is installed with ``--no-deps`` and this module
imports Delphi's offline client with a *temporary* stand-in for ``vllm`` in ``sys.modules`` when the
real one is missing. The stand-in is removed right after the import (so ``import vllm`` elsewhere still
fails normally); Delphi's ``Offline`` client keeps references to its stand-in classes and raises
:class:`VLLMUnavailableError` only when someone constructs it.

Everything stage 04 needs is re-exported from here:

* clients: :class:`OpenAICompatible` (Delphi's ``OpenRouter`` client pointed at any OpenAI-compatible
  ``/v1`` root, e.g. the local llama-cpp server of :mod:`featevo.llm_server`), ``OpenRouter``,
  ``Offline`` (vLLM, GPU only), ``Client``, ``Response``;
* explainers / scorers: ``DefaultExplainer``, ``ExplainerResult``, ``DetectionScorer``,
  ``FuzzingScorer``, ``IntruderScorer`` (label-free: it never reads the explanation),
  ``ScorerResult``, ``ClassifierOutput``;
* record types: ``Latent``, ``LatentRecord``, ``Example``, ``ActivatingExample``,
  ``NonActivatingExample``;
* samplers: ``SamplerConfig``, ``sampler``, ``normalize_activations``, ``split_quantiles``;
* pipeline: ``Pipe``, ``Pipeline``, ``process_wrapper``;
* helpers that build records from our own windows without Delphi's LatentCache
  (:func:`token_strings`, :func:`build_latent_record`) and turn scorer output into metrics
  (:func:`classifier_metrics`, same formulas as ``delphi.log.result_analysis``; the metrics and label
  helpers live in :mod:`featevo.delphi_metrics`, which needs no Delphi import, and are re-exported here).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import random
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch

from featevo.delphi_metrics import (  # noqa: F401 - Delphi's scorer outputs as metrics (no Delphi import), re-exported
    auc, classifier_metrics, embedding_metrics, intruder_metrics, is_parsed_explanation, load_embedding_model,
    top_token_label,
)
from featevo.errors import FeatevoError

VLLM_HINT = (
    "Delphi's Offline client needs vLLM and a CUDA GPU (pip install vllm on a GPU machine); "
    "on a CPU machine use the OpenAI-compatible client with a local llama-cpp server "
    "(featevo.llm_server.LocalLLMServer + featevo.delphi_compat.OpenAICompatible)"
)


class DelphiUnavailableError(FeatevoError, ImportError):
    """eai-delphi (or one of its light dependencies) is not installed."""


class VLLMUnavailableError(FeatevoError, ImportError):
    """A part of Delphi that needs vLLM was used on a machine without vLLM."""


def vllm_available() -> bool:
    """True when a real ``vllm`` package is importable (not our stand-in)."""
    mod = sys.modules.get("vllm")
    if mod is not None:
        return not getattr(mod, "__featevo_stub__", False)
    try:
        return importlib.util.find_spec("vllm") is not None
    except (ImportError, ValueError):
        return False


def _unavailable(name: str):
    class _Unavailable:
        __featevo_stub__ = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise VLLMUnavailableError(f"vllm.{name} is not available: vllm is not installed. {VLLM_HINT}")

    _Unavailable.__name__ = _Unavailable.__qualname__ = name
    return _Unavailable


def _unavailable_fn(name: str):
    def _fn(*args: Any, **kwargs: Any) -> None:
        raise VLLMUnavailableError(f"vllm...{name}() is not available: vllm is not installed. {VLLM_HINT}")

    _fn.__name__ = name
    return _fn


def _make_vllm_stub() -> dict[str, types.ModuleType]:
    """Stand-in modules for exactly the names delphi/clients/offline.py imports."""

    def mod(name: str, is_pkg: bool) -> types.ModuleType:
        m = types.ModuleType(name, f"featevo stand-in for the missing '{name}' (see featevo.delphi_compat)")
        m.__spec__ = importlib.machinery.ModuleSpec(name, loader=None, is_package=is_pkg)
        if is_pkg:
            m.__path__ = []  # type: ignore[attr-defined]
        m.__featevo_stub__ = True  # type: ignore[attr-defined]
        return m

    vllm = mod("vllm", True)
    vllm.LLM = _unavailable("LLM")  # type: ignore[attr-defined]
    vllm.SamplingParams = _unavailable("SamplingParams")  # type: ignore[attr-defined]
    dist = mod("vllm.distributed", True)
    ps = mod("vllm.distributed.parallel_state", False)
    ps.destroy_distributed_environment = _unavailable_fn("destroy_distributed_environment")  # type: ignore[attr-defined]
    ps.destroy_model_parallel = _unavailable_fn("destroy_model_parallel")  # type: ignore[attr-defined]
    inputs = mod("vllm.inputs", False)
    inputs.TokensPrompt = _unavailable("TokensPrompt")  # type: ignore[attr-defined]
    vllm.distributed = dist  # type: ignore[attr-defined]
    vllm.inputs = inputs  # type: ignore[attr-defined]
    dist.parallel_state = ps  # type: ignore[attr-defined]
    return {m.__name__: m for m in (vllm, dist, ps, inputs)}


@contextmanager
def _temporary_vllm_stub() -> Iterator[None]:
    """Put the stand-in into sys.modules for the duration of Delphi's imports, then take it out."""
    if vllm_available():
        yield
        return
    stubs = _make_vllm_stub()
    saved = {k: sys.modules[k] for k in stubs if k in sys.modules}
    sys.modules.update(stubs)
    try:
        yield
    finally:
        for k in stubs:
            if sys.modules.get(k) is stubs[k]:
                del sys.modules[k]
        sys.modules.update(saved)


VLLM_AVAILABLE = vllm_available()

try:
    with _temporary_vllm_stub():
        import delphi
        from delphi.clients import Offline, OpenRouter
        from delphi.clients.client import Client, Response
        from delphi.config import ConstructorConfig, SamplerConfig
        from delphi.explainers import DefaultExplainer
        from delphi.explainers.explainer import ExplainerResult
        from delphi.latents import (
            ActivatingExample,
            Example,
            Latent,
            LatentRecord,
            NonActivatingExample,
            sampler,
        )
        from delphi.latents.samplers import normalize_activations, split_quantiles
        from delphi.pipeline import Pipe, Pipeline, process_wrapper
        from delphi.scorers import DetectionScorer, FuzzingScorer
        from delphi.scorers.classifier.intruder import IntruderResult, IntruderScorer
        from delphi.scorers.embedding.embedding import EmbeddingOutput, EmbeddingScorer
        from delphi.scorers.classifier.sample import ClassifierOutput
        from delphi.scorers.scorer import ScorerResult
except ModuleNotFoundError as e:  # pragma: no cover - depends on the environment
    missing = e.name or str(e)
    raise DelphiUnavailableError(
        f"cannot import Delphi: module '{missing}' is missing. Install eai-delphi's light dependencies "
        "and then `pip install --no-deps eai-delphi==0.1.3` (see requirements.txt)"
    ) from e

DELPHI_VERSION: str = getattr(delphi, "__version__", "unknown")


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------
FORWARDED_PARAMS = (
    "grammar",  # llama-cpp-python server: a GBNF grammar string that constrains the output
    "response_format",
    "stop",
    "seed",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
)
"""OpenAI / llama-cpp request fields that :class:`OpenAICompatible` forwards from generation kwargs
(Delphi's OpenRouter client silently drops everything but max_tokens and temperature)."""


def scorer_grammar(n_examples_shown: int) -> str:
    """GBNF grammar forcing a scorer reply of exactly ``n`` 0/1 predictions, e.g. ``[1,0,0,1,1]``.

    Pass as ``DetectionScorer(client, n_examples_shown=n, grammar=scorer_grammar(n))`` (llama-cpp
    server only). A shorter last batch still parses: the extra predictions are ignored by Delphi.
    """
    if n_examples_shown < 1:
        raise ValueError("n_examples_shown must be >= 1")
    return 'root ::= "[" b' + ' "," b' * (n_examples_shown - 1) + ' "]"\nb ::= "0" | "1"\n'


def intruder_grammar(n_examples_shown: int) -> str:
    """GBNF grammar forcing the intruder scorer's reply into ``[RESPONSE]: <index>`` with an index below
    ``n_examples_shown`` (llama-cpp server only; Delphi's ``IntruderScorer._parse`` reads exactly this)."""
    if not 2 <= n_examples_shown <= 10:
        raise ValueError("the intruder grammar needs 2 <= n_examples_shown <= 10")
    return f'root ::= "[RESPONSE]: " [0-{n_examples_shown - 1}]\n'


EXPLANATION_GRAMMAR = 'root ::= "[EXPLANATION]: " [^\\n\\[\\]]+\n'
"""GBNF grammar forcing the explainer's reply into Delphi's ``[EXPLANATION]: ...`` form, one line.
Pass as ``DefaultExplainer(client, generation_kwargs={"grammar": EXPLANATION_GRAMMAR, ...})``; do
not combine with ``cot=True``."""


class OpenAICompatible(OpenRouter):
    """Delphi's ``OpenRouter`` client pointed at any OpenAI-compatible server.

    ``base_url`` is the API root (``http://127.0.0.1:PORT/v1``); requests go to
    ``{base_url}/chat/completions``. Differences from ``OpenRouter``: the request timeout is
    configurable (OpenRouter hard-codes 100 s), HTTP errors are raised with the server's message
    instead of being parsed as JSON, ``max_retries`` defaults to the constructor value, and besides
    ``max_tokens`` and ``temperature`` the request fields in :data:`FORWARDED_PARAMS` (``grammar``,
    ``stop``, ...) are forwarded from generation kwargs. Logprobs are not supported.
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str | None = None,
        max_tokens: int = 3000,
        temperature: float = 1.0,
        request_timeout: float = 300.0,
        max_retries: int = 1,
    ) -> None:
        url = base_url.rstrip("/")
        if not url.endswith("/chat/completions"):
            url += "/chat/completions"
        super().__init__(model, api_key=api_key or "no-key", base_url=url, max_tokens=max_tokens,
                         temperature=temperature)
        self.request_timeout = request_timeout
        self.max_retries = max_retries
        self.n_requests = 0
        self.n_failures = 0

    def postprocess(self, response):  # type: ignore[override]
        if response.status_code >= 400:  # e.g. 400 context_length_exceeded
            raise RuntimeError(f"HTTP {response.status_code} from {self.url}: {response.text[:500]}")
        return super().postprocess(response)

    async def generate(self, prompt, max_retries: int | None = None, **kwargs):  # type: ignore[override]
        import asyncio

        kwargs.pop("schema", None)
        kwargs.pop("logprobs", None)
        kwargs.pop("top_logprobs", None)
        data = {
            "model": self.model,
            "messages": prompt,
            "max_tokens": kwargs.pop("max_tokens", self.max_tokens),
            "temperature": kwargs.pop("temperature", self.temperature),
        }
        for key in FORWARDED_PARAMS:
            if key in kwargs:
                data[key] = kwargs.pop(key)
        tries = max(1, self.max_retries if max_retries is None else max_retries)
        last: Exception | None = None
        for attempt in range(tries):
            self.n_requests += 1
            try:
                response = await self.client.post(
                    url=self.url, json=data, headers=self.headers, timeout=self.request_timeout
                )
                return self.postprocess(response)
            except Exception as e:  # noqa: BLE001 - mirror Delphi: log and retry
                last = e
                self.n_failures += 1
                delphi.logger.warning(f"{self.url}: attempt {attempt + 1}/{tries} failed: {e!r}")
                if attempt + 1 < tries:
                    await asyncio.sleep(1)
        raise RuntimeError(f"LLM request to {self.url} failed after {tries} attempt(s): {last!r}")

    async def aclose(self) -> None:
        await self.client.aclose()


# --------------------------------------------------------------------------------------------
# Building records from our own windows
# --------------------------------------------------------------------------------------------
def token_strings(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Display strings for token ids such that ``"".join(result)`` reads like the decoded text.

    Delphi joins ``str_tokens`` with ``""``. Its own sampler uses ``tokenizer.batch_decode(ids)``,
    which for WordPiece (BERT) gives ``["the", "cat", "##s"]`` -> "thecat##s". Here each token's
    string is the growth of the decoded prefix (``decode(ids[:i+1])[len(decode(ids[:i])):]``), which
    yields ``[" the", " cat", "s"]``-style strings for BPE, SentencePiece and WordPiece alike.
    Falls back to ``convert_ids_to_tokens`` with ``##`` handling when a prefix decode is not a prefix
    of the next one (cleanup rules). O(len(ids)^2) decodes; fine for 32-64 token windows.
    """
    ids = [int(i) for i in ids]
    out: list[str] = []
    prev = ""
    ok = True
    for i in range(len(ids)):
        cur = tokenizer.decode(ids[: i + 1], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if not cur.startswith(prev):
            ok = False
            break
        out.append(cur[len(prev) :])
        prev = cur
    if ok:
        return out
    toks = tokenizer.convert_ids_to_tokens(ids)
    res = []
    for j, t in enumerate(toks):
        if t.startswith("##"):
            res.append(t[2:])
        else:
            res.append(t.replace("Ġ", " ").replace("▁", " ") if ("Ġ" in t or "▁" in t) else (" " + t if j else t))
    return res


class _StrTokenizer:
    """Duck-typed tokenizer for Delphi's ``sampler``: its ``batch_decode`` returns token_strings."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def batch_decode(self, ids: Any) -> list[str]:
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        return token_strings(self.tokenizer, ids)


def as_delphi_tokenizer(tokenizer: Any) -> _StrTokenizer:
    """Wrap a HF tokenizer so that Delphi's ``sampler(record, cfg, tok)`` builds readable str_tokens."""
    return _StrTokenizer(tokenizer)


def build_latent_record(
    module_name: str,
    latent_index: int,
    activating: Sequence[tuple[Sequence[int], Sequence[float]]],
    non_activating: Sequence[Sequence[int]],
    tokenizer: Any,
    n_train: int = 20,
    n_test: int = 20,
    n_quantiles: int = 5,
    n_non_activating: int | None = None,
    seed: int = 22,
) -> LatentRecord:
    """A Delphi ``LatentRecord`` built from our own windows, ready for explainer and scorers.

    ``activating``: ``(token_ids, per_token_activations)`` windows where the latent fires (any order);
    ``non_activating``: token-id windows where it does not. Train examples (shown to the explainer)
    are the top ``n_train`` windows by max activation, as Delphi's ``train_type="top"``; test examples
    (scored) are drawn, disjoint from train, evenly from ``n_quantiles`` activation quantiles of the
    remaining windows, as Delphi's ``test_type="quantiles"`` (``quantile`` = 0 for the strongest
    bin). With fewer than ``n_train + n_test`` windows, test keeps ``min(n_test, n // 2)`` and train
    gets the rest (Delphi's FuzzingScorer asserts on an empty test set). Both get
    ``normalized_activations`` in 0..10 relative to the record's max activation and ``str_tokens``
    from :func:`token_strings`. ``not_active`` gets up to ``n_non_activating`` (default ``n_test``)
    windows with all-zero activations; ``extra_examples`` mirrors it like Delphi's ``__main__`` does.
    """
    if not activating:
        raise ValueError("build_latent_record: no activating windows")
    examples = []
    for toks, acts in activating:
        t = torch.as_tensor(list(toks), dtype=torch.long)
        a = torch.as_tensor(list(acts), dtype=torch.float32)
        if t.shape != a.shape:
            raise ValueError(f"window has {t.numel()} tokens but {a.numel()} activations")
        examples.append(ActivatingExample(tokens=t, activations=a))
    examples.sort(key=lambda e: e.max_activation, reverse=True)
    record = LatentRecord(latent=Latent(module_name=module_name, latent_index=int(latent_index)))
    record.examples = examples
    max_act = record.max_activation

    if len(examples) < 2:
        raise ValueError(f"latent {module_name}/{latent_index}: need >= 2 activating windows (1 train + 1 test)")
    n_test_eff = min(n_test, len(examples) // 2) if n_test > 0 else 0
    n_train_eff = max(1, min(n_train, len(examples) - n_test_eff))
    train = examples[:n_train_eff]
    rest = examples[n_train_eff:]
    rng = random.Random(seed)
    test: list[ActivatingExample] = []
    if n_test_eff > 0 and rest:
        nq = max(1, min(n_quantiles, len(rest)))
        bounds = [round(i * len(rest) / nq) for i in range(nq + 1)]
        per_q = [n_test_eff // nq + (1 if i < n_test_eff % nq else 0) for i in range(nq)]
        for q in range(nq):
            bin_ = rest[bounds[q] : bounds[q + 1]]
            picked = bin_ if len(bin_) <= per_q[q] else rng.sample(bin_, per_q[q])
            for ex in picked:
                ex.quantile = q
            test.extend(picked)
    for ex in train + test:
        ex.str_tokens = token_strings(tokenizer, ex.tokens.tolist())
    normalize_activations(train, max_act)
    normalize_activations(test, max_act)
    record.train = train
    record.test = test

    n_na = n_test if n_non_activating is None else n_non_activating
    na = list(non_activating)
    if len(na) > n_na:
        na = rng.sample(na, n_na)
    record.not_active = [
        NonActivatingExample(
            tokens=torch.as_tensor(list(t), dtype=torch.long),
            activations=torch.zeros(len(t), dtype=torch.float32),
            str_tokens=token_strings(tokenizer, list(t)),
            distance=-1.0,
        )
        for t in na
    ]
    record.extra_examples = record.not_active  # type: ignore[assignment]
    return record


__all__ = [
    "ActivatingExample",
    "ClassifierOutput",
    "Client",
    "ConstructorConfig",
    "DELPHI_VERSION",
    "DefaultExplainer",
    "EXPLANATION_GRAMMAR",
    "FORWARDED_PARAMS",
    "DelphiUnavailableError",
    "DetectionScorer",
    "EmbeddingOutput",
    "EmbeddingScorer",
    "Example",
    "ExplainerResult",
    "FuzzingScorer",
    "IntruderResult",
    "IntruderScorer",
    "Latent",
    "LatentRecord",
    "NonActivatingExample",
    "Offline",
    "OpenAICompatible",
    "OpenRouter",
    "Pipe",
    "Pipeline",
    "Response",
    "SamplerConfig",
    "ScorerResult",
    "VLLMUnavailableError",
    "VLLM_AVAILABLE",
    "VLLM_HINT",
    "as_delphi_tokenizer",
    "auc",
    "embedding_metrics",
    "intruder_grammar",
    "intruder_metrics",
    "load_embedding_model",
    "top_token_label",
    "build_latent_record",
    "classifier_metrics",
    "is_parsed_explanation",
    "normalize_activations",
    "process_wrapper",
    "sampler",
    "scorer_grammar",
    "split_quantiles",
    "token_strings",
    "vllm_available",
]
