"""Delphi on a CPU machine without vLLM (featevo.delphi_compat)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap

import pytest

dc = pytest.importorskip("featevo.delphi_compat", reason="eai-delphi not installed", exc_type=ImportError)

from featevo.errors import FeatevoError  # noqa: E402
from featevo.llm_server import LocalLLMServer, local_llm_available  # noqa: E402

no_vllm = pytest.mark.skipif(dc.VLLM_AVAILABLE, reason="vllm is installed here")


# --------------------------------------------------------------------------------------------
# Imports without vLLM
# --------------------------------------------------------------------------------------------
def test_reexports():
    for name in (
        "OpenAICompatible", "OpenRouter", "Offline", "DefaultExplainer", "DetectionScorer", "FuzzingScorer",
        "LatentRecord", "Latent", "Example", "ActivatingExample", "NonActivatingExample", "sampler",
        "SamplerConfig", "Pipeline", "Pipe", "process_wrapper", "ClassifierOutput",
    ):  # fmt: skip
        assert hasattr(dc, name), name
    assert dc.DELPHI_VERSION == "0.1.3"
    assert issubclass(dc.OpenAICompatible, dc.OpenRouter)


@no_vllm
def test_no_vllm_stub_left_behind():
    assert "vllm" not in sys.modules
    with pytest.raises(ModuleNotFoundError):
        import vllm  # noqa: F401


@no_vllm
def test_offline_client_fails_clearly_when_used():
    with pytest.raises(dc.VLLMUnavailableError, match="vllm") as ei:
        dc.Offline("some/model", num_gpus=0)
    assert isinstance(ei.value, FeatevoError)
    assert "OpenAI-compatible" in str(ei.value)


def test_fresh_interpreter_imports_delphi_without_vllm():
    """In a new process (with vllm hidden even if installed) delphi's clients/explainers/scorers import."""
    code = textwrap.dedent(
        """
        import sys, importlib.abc
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "vllm" or name.startswith("vllm."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        sys.meta_path.insert(0, Block())
        for k in [k for k in sys.modules if k == "vllm" or k.startswith("vllm.")]:
            del sys.modules[k]
        import featevo.delphi_compat as dc
        import delphi.clients, delphi.explainers, delphi.scorers, delphi.latents
        assert not dc.VLLM_AVAILABLE and "vllm" not in sys.modules
        try:
            dc.Offline("m")
        except dc.VLLMUnavailableError as e:
            print("CLEAR:", e)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "CLEAR: vllm.LLM is not available" in r.stdout


# --------------------------------------------------------------------------------------------
# Records, scorers and metrics with a scripted client (no LLM)
# --------------------------------------------------------------------------------------------
class WordTokenizer:
    """Minimal HF-like tokenizer: one id per word, decode joins with spaces."""

    def __init__(self, words):
        self.vocab = {w: i for i, w in enumerate(sorted(set(words)))}
        self.inv = {i: w for w, i in self.vocab.items()}

    def encode(self, text):
        return [self.vocab[w] for w in text.split()]

    def decode(self, ids, **kw):
        return " ".join(self.inv[int(i)] for i in ids)

    def convert_ids_to_tokens(self, ids):
        return [self.inv[int(i)] for i in ids]


ANIMAL_TEXTS = [
    "the cat sat on the mat", "a dog ran in the park", "my cat likes warm milk", "the horse ate hay today",
    "one dog and one cat", "a small bird sang loud", "the cow stood still there", "an old dog slept well",
]  # fmt: skip
OTHER_TEXTS = ["the market fell sharply today", "rain is expected this week", "she wrote a long letter",
               "the train was late again", "we painted the old fence", "he fixed the broken door"]  # fmt: skip
ANIMALS = {"cat", "dog", "horse", "bird", "cow"}


def _record(tok, n_train=3, n_test=4, n_non=4):
    act = []
    for j, t in enumerate(ANIMAL_TEXTS):
        ids = tok.encode(t)
        acts = [float(2 + j) if w in ANIMALS else 0.0 for w in t.split()]
        act.append((ids, acts))
    non = [tok.encode(t) for t in OTHER_TEXTS]
    return dc.build_latent_record("layer3", 7, act, non, tok, n_train=n_train, n_test=n_test, n_quantiles=2,
                                  n_non_activating=n_non)  # fmt: skip


@pytest.fixture
def tok():
    return WordTokenizer(" ".join(ANIMAL_TEXTS + OTHER_TEXTS).split())


def test_build_latent_record(tok):
    rec = _record(tok)
    assert str(rec.latent) == "layer3_latent7"
    assert len(rec.train) == 3 and len(rec.test) == 4 and len(rec.not_active) == 4
    assert rec.extra_examples is rec.not_active
    # train = top windows by max activation, test disjoint from train
    assert [e.max_activation for e in rec.train] == sorted((e.max_activation for e in rec.examples), reverse=True)[:3]
    assert not {id(e) for e in rec.train} & {id(e) for e in rec.test}
    assert {e.quantile for e in rec.test} == {0, 1}
    for e in rec.train + rec.test:
        assert e.normalized_activations is not None and float(e.normalized_activations.max()) <= 10
        assert len(e.str_tokens) == len(e.tokens) == len(e.activations)
        assert "".join(e.str_tokens) == tok.decode(e.tokens.tolist())
    assert float(rec.train[0].normalized_activations.max()) == 10
    for e in rec.not_active:
        assert float(e.activations.abs().sum()) == 0.0 and e.str_tokens


def test_token_strings_wordpiece(minilm_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    ids = t("The ducklings didn't swim, 1969!", add_special_tokens=False)["input_ids"]
    s = dc.token_strings(t, ids)
    assert len(s) == len(ids)
    assert "".join(s) == t.decode(ids)
    assert "##" not in "".join(s)


class ScriptedClient(dc.Client):
    """Answers like a perfect model: explanation 'animals'; scorers mark examples with an animal word
    (detection) or whose every highlighted span is an animal (fuzzing)."""

    def __init__(self):
        super().__init__("scripted")
        self.prompts = []

    async def generate(self, prompt, **kwargs):
        self.prompts.append((prompt, kwargs))
        user = prompt[-1]["content"]
        if "Latent explanation:" not in user:
            return dc.Response(text="Some thoughts.\n[EXPLANATION]: names of animals")
        answers = []
        for line in re.findall(r"^Example \d+:(.*)$", user, flags=re.M):
            spans = re.findall(r"<<(.*?)>>", line)
            if spans:
                ok = all(w.strip() in ANIMALS for w in spans)
            else:
                ok = any(w in ANIMALS for w in line.split())
            answers.append(int(ok))
        return dc.Response(text=str(answers).replace(" ", ""))


def test_explainer_and_scorers_end_to_end(tok):
    rec = _record(tok, n_train=3, n_test=4, n_non=4)
    client = ScriptedClient()

    async def go():
        ex = await dc.DefaultExplainer(client, threshold=0.3, generation_kwargs={"max_tokens": 50})(rec)
        rec.explanation = ex.explanation
        det = await dc.DetectionScorer(client, n_examples_shown=4, max_tokens=20)(rec)
        fuz = await dc.FuzzingScorer(client, n_examples_shown=4, max_tokens=20)(rec)
        return ex, det, fuz

    ex, det, fuz = asyncio.run(go())
    assert ex.explanation == "names of animals" and dc.is_parsed_explanation(ex.explanation)
    explain_prompt = client.prompts[0][0][-1]["content"]
    assert "<< cat>>" in explain_prompt or "<< dog>>" in explain_prompt  # highlighted, with activations
    assert "Activations:" in explain_prompt
    assert client.prompts[0][1] == {"temperature": 0.0, "max_tokens": 50}
    assert client.prompts[1][1] == {"temperature": 0.0, "max_tokens": 20}
    for res in (det, fuz):
        m = dc.classifier_metrics(res.score)
        assert m["n_examples"] == 8 and m["n_failed"] == 0
        assert m["total_positives"] == 4 and m["total_negatives"] == 4
        assert m["accuracy"] == 1.0 and m["f1_score"] == 1.0


def test_partial_last_batch_fails_to_parse_without_grammar(tok):
    """Delphi asserts len(predictions) == n_examples_shown, so a short last batch always fails:
    keep (n_test + n_non_activating) a multiple of n_examples_shown."""
    rec = _record(tok, n_train=3, n_test=3, n_non=4)  # 7 samples, batches of 4 -> 4 + 3
    rec.explanation = "names of animals"
    det = asyncio.run(dc.DetectionScorer(ScriptedClient(), n_examples_shown=4)(rec))
    m = dc.classifier_metrics(det.score)
    assert m["n_examples"] == 7 and m["n_failed"] == 3


def test_classifier_metrics_formulas():
    C = dc.ClassifierOutput

    def o(act, pred):
        return C(str_tokens=["x"], activations=[0.0], distance=0, activating=act, prediction=pred)

    outs = [o(True, True), o(True, False), o(True, None), o(False, False), o(False, True), o(False, False)]
    m = dc.classifier_metrics(outs)
    assert (m["true_positives"], m["false_negatives"], m["true_negatives"], m["false_positives"]) == (1, 1, 2, 1)
    assert m["n_failed"] == 1 and m["n_examples"] == 6
    assert m["accuracy"] == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert m["precision"] == pytest.approx(0.5) and m["recall"] == pytest.approx(0.5)
    assert m["f1_score"] == pytest.approx(0.5)
    assert dc.classifier_metrics([o(True, None)])["accuracy"] is None


def test_scorer_grammar():
    g = dc.scorer_grammar(3)
    assert g.startswith('root ::= "[" b "," b "," b "]"')
    with pytest.raises(ValueError):
        dc.scorer_grammar(0)


def test_openai_compatible_url_and_forwarding():
    c = dc.OpenAICompatible("m", "http://127.0.0.1:1/v1/", max_tokens=7, request_timeout=3)
    assert c.url == "http://127.0.0.1:1/v1/chat/completions"
    assert c.max_tokens == 7 and c.request_timeout == 3
    assert "grammar" in dc.FORWARDED_PARAMS


def test_openai_compatible_connection_error_is_raised():
    from featevo.llm_server import free_port

    c = dc.OpenAICompatible("m", f"http://127.0.0.1:{free_port()}/v1", request_timeout=2)

    async def go():
        try:
            await c.generate([{"role": "user", "content": "hi"}])
        finally:
            await c.aclose()

    with pytest.raises(RuntimeError, match="failed after 1 attempt"):
        asyncio.run(go())


# --------------------------------------------------------------------------------------------
# The real thing: local SmolLM2 server, grammar-constrained so that replies always parse
# --------------------------------------------------------------------------------------------
@pytest.mark.llm
@pytest.mark.skipif(not local_llm_available(), reason="needs llama-cpp server + GGUF")
def test_real_llm_explain_and_score(tok, tmp_path):
    rec = _record(tok, n_train=3, n_test=2, n_non=2)
    with LocalLLMServer(n_ctx=2048, log_path=tmp_path / "server.log") as srv:
        client = dc.OpenAICompatible(srv.model_name, srv.base_url, temperature=0.0, request_timeout=120)

        async def go():
            try:
                ex = await dc.DefaultExplainer(
                    client, generation_kwargs={"max_tokens": 24, "grammar": dc.EXPLANATION_GRAMMAR}
                )(rec)
                rec.explanation = ex.explanation
                det = await dc.DetectionScorer(client, n_examples_shown=4, max_tokens=16, grammar=dc.scorer_grammar(4))(
                    rec
                )
                return ex, det
            finally:
                await client.aclose()

        ex, det = asyncio.run(go())
    assert dc.is_parsed_explanation(ex.explanation), ex.explanation
    m = dc.classifier_metrics(det.score)
    assert m["n_examples"] == 4 and m["n_failed"] == 0
    assert client.n_failures == 0
