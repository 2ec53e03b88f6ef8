"""Stage 04: label SAE latents with Delphi and score every label (detection + fuzzing).

For each chosen latent of the base and the tuned SAE:

1. **Examples** come from stage 01's token shards of the training split, encoded through the one
   encode path (``featevo.sae.load_sae`` + ``encode``). A context is one corpus document (a
   sentence of at most ``harvest.max_length`` tokens, without [CLS]/[SEP]); its per-token
   activations are the latent's. The top ``n_train`` contexts go to the explainer (Delphi's
   ``train_type="top"``); ``n_test`` others, drawn evenly from activation quantiles, and
   ``n_non_activating`` random contexts where the latent never fires go to the scorers.
2. **Explanation**: Delphi's ``DefaultExplainer``. A reply without a parsable
   ``[EXPLANATION]:`` line is retried (``interpret.max_retries``, higher temperature) and then
   recorded as a *failure with its raw text*, never as a label.
3. **Scores**: Delphi's ``DetectionScorer`` and ``FuzzingScorer``; balanced accuracy and F1 as
   Delphi's result analysis computes them (``featevo.delphi_compat.classifier_metrics``).
4. **Floor**: the same scorers with labels shuffled across latents (a derangement, seeded). A label
   that means something must beat its latent's shuffled score.
5. **Intruder** (``interpret.scorers`` with ``intruder``): Delphi's ``IntruderScorer`` shows a few activating
   contexts and one non-activating one and asks which is the outsider. It never reads the label, so it scores the
   *latent* (how coherent its contexts are), once per labelled latent; its floor is chance (1 / contexts shown),
   not shuffled labels, and it has no top-token baseline or cross score.

Every latent's result is written to ``latents/<sae>_<id>.json`` as soon as it finishes; a rerun
after a crash or Ctrl-C continues with the latents not yet done.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from featevo.progress import tqdm

from featevo.config import InterpretConfig, PipelineConfig
from featevo.errors import ConfigError
from featevo.io import atomic_write_json, atomic_write_text, read_json
from featevo.layout import (
    COMPARE, DELTAS, INTERPRET, LLM_SERVER_LOG, TRAIN, DeltasFiles, InterpretFiles, TrainFiles, log_path,
    models as run_models, sae_dir, split_dir, stage_dir,
)
from featevo.label_examples import LatentExamples, collect_examples, context_ids  # noqa: F401 - re-exported
from featevo.label_examples import make_record as _record
from featevo.label_scores import (  # noqa: F401 - stage 04's tables, re-exported for callers of this module
    DEAD_FAILURE, LabelResults, cross_summary, cross_verdict, floor_score, label_rows, paired_stats,
    scorer_accounting, scorer_stats, scorer_status, summary_row, write_outputs,
)
from featevo.results import CompareResult
from featevo.models import load_tokenizer, resolve_device
from featevo.runner import run_stage
from featevo.scorers import SCORERS, ScorerEnv, in_order

logger = logging.getLogger(__name__)

MODELS = ("base", "tuned")
# The local server's prompt cache (shared prompt prefixes). llama-cpp-python evicts by the llama state size
# only, while each cached state also holds its prompt's logits (tokens x vocabulary floats, ~200 MB for a
# 1,000-token prompt with SmolLM2), so the default 2 GiB capacity let the server grow to 17 GB RSS in the demo
# and be killed by the out-of-memory killer. 128 MiB keeps about five states, enough for consecutive prompts.
PROMPT_CACHE = {"cache": True, "cache_size": 128 << 20}


def server_args(icfg: InterpretConfig) -> dict:
    """Extra ``python -m llama_cpp.server`` flags of the local backend: the prompt cache, and ``chat_format`` when
    the config names one (a GGUF without a chat template)."""
    return {**PROMPT_CACHE, **({"chat_format": icfg.chat_format} if icfg.chat_format else {})}


# --------------------------------------------------------------------------------------------
# Which latents
# --------------------------------------------------------------------------------------------
def choose_latents(cfg: PipelineConfig, d_sae: dict[str, int]) -> dict[str, list[int]]:
    """The first N latents of each SAE in stage 02/03's ranking (``interpret.latents``)."""
    spec = cfg.interpret.latents
    ranking_path = stage_dir(cfg, DELTAS) / DeltasFiles.INTERESTING
    ranking = read_json(ranking_path) if ranking_path.is_file() else {}
    out = {}
    for m in MODELS:
        ranked = [int(i) for i in ranking.get(m, [])]
        seen = set(ranked)
        ranked += [i for i in range(d_sae[m]) if i not in seen]  # anything unranked goes last
        out[m] = ranked if spec == "all" else ranked[:spec]
    return out


# --------------------------------------------------------------------------------------------
# LLM backends
# --------------------------------------------------------------------------------------------
class _RecordingMixin:
    """Keeps every prompt and raw reply of the current latent (for auditing and failures)."""

    def _init_log(self) -> None:
        self.calls: list[dict] = []
        self.tag = ""

    async def generate(self, prompt, **kwargs):  # type: ignore[override]
        entry: dict[str, Any] = {"stage": self.tag, "prompt": prompt}
        t = time.perf_counter()
        try:
            resp = await super().generate(prompt, **kwargs)  # type: ignore[misc]
            entry["response"] = getattr(resp, "text", str(resp))
            return resp
        except Exception as e:
            entry["error"] = repr(e)
            raise
        finally:
            entry["seconds"] = round(time.perf_counter() - t, 3)
            self.calls.append(entry)


def make_client(icfg: InterpretConfig, base_url: str | None, model_name: str):
    """A Delphi client for the configured backend (API keys only from the environment)."""
    from featevo import delphi_compat as dc

    if icfg.backend == "vllm":
        if not dc.VLLM_AVAILABLE:
            raise dc.VLLMUnavailableError(
                "interpret.backend=vllm needs vLLM and a GPU (pip install -r requirements-gpu.txt); "
                "on a CPU machine use backend: local"
            )

        class Recording(_RecordingMixin, dc.Offline):
            pass

        client = Recording(icfg.model, max_memory=0.8, max_model_len=icfg.n_ctx, num_gpus=1)
    else:
        key = os.environ.get(icfg.api_key_env) if icfg.backend == "openai" else None

        class Recording(_RecordingMixin, dc.OpenAICompatible):
            pass

        client = Recording(model_name, base_url, api_key=key, max_tokens=icfg.explain_max_tokens,
                           temperature=0.0, request_timeout=icfg.request_timeout)
    client._init_log()
    return client


# --------------------------------------------------------------------------------------------
# Labelling
# --------------------------------------------------------------------------------------------
LLM_FAILURE = "LLM request failed"
NO_NEGATIVES = "no non-activating examples"


class LLMServerDied(RuntimeError):
    """The local LLM server is gone: stage 04 stops instead of recording every later latent as failed."""


@dataclass
class Labeller:
    client: Any
    icfg: InterpretConfig
    grammar: bool
    embedder: Any = None
    scorers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        env = ScorerEnv(self.client, self.icfg, self.grammar, self.embedder)
        built = {name: SCORERS[name].build(env) for name in in_order(self.icfg.scorers)
                 if not SCORERS[name].needs_embedder or self.embedder is not None}
        self.scorers = {k: v for k, v in built.items() if v is not None}

    def explainer(self, temperature: float):
        from featevo import delphi_compat as dc

        gen = {"max_tokens": self.icfg.explain_max_tokens}
        if self.grammar:
            gen["grammar"] = dc.EXPLANATION_GRAMMAR
        return dc.DefaultExplainer(self.client, threshold=0.3, temperature=temperature, activations=False,
                                   cot=False, generation_kwargs=gen)

    async def explain(self, record) -> dict:
        from featevo.delphi_compat import is_parsed_explanation

        attempts, errors = [], []
        for attempt in range(self.icfg.max_retries + 1):
            self.client.tag = f"explain#{attempt}"
            n_calls = len(self.client.calls)
            try:
                res = await self.explainer(0.0 if attempt == 0 else 0.7)(record)
                label = res.explanation
            except Exception as e:  # network/server failure of this attempt
                label, raw = None, f"error: {e!r}"
                errors.append(repr(e))
            else:
                raw = next((c.get("response") for c in reversed(self.client.calls[n_calls:]) if "response" in c), "")
                errors += [c["error"] for c in self.client.calls[n_calls:] if "error" in c]
            attempts.append(raw)
            if label is not None and is_parsed_explanation(label):
                return {"label": label.strip(), "attempts": len(attempts), "raw": attempts}
        out = {"label": None, "attempts": len(attempts), "raw": attempts, "failure": "explanation could not be parsed"}
        if len(errors) >= len(attempts):  # every attempt was a failed request, not an unparsable reply
            out.update(failure=f"{LLM_FAILURE}: {errors[-1][:300]}", llm_error=True)
        return out

    async def score(self, record, label: str, latent_scorers: bool = False) -> dict:
        """Each scorer's metrics for ``label`` on ``record``, with ``status`` scored / undefined / failed and the
        reason: undefined when a class of examples is missing (balanced accuracy and AUC need both), failed when
        the scorer raised (e.g. Delphi's assertions), its LLM requests failed or no reply parsed.
        ``latent_scorers``: also run the label-free scorers (intruder), once per latent with its own label."""
        record.explanation = label
        out = {}
        full = record
        for name, scorer in self.scorers.items():
            spec = SCORERS[name]
            if not spec.reads_label and not latent_scorers:
                continue
            record = spec.record(full)
            self.client.tag = name
            n0 = len(self.client.calls)
            if not record.test:
                m: dict[str, Any] = _undefined("no activating test examples")
            elif not record.not_active:
                m = _undefined(spec.filtered_reason if spec.filtered_reason and full.not_active else NO_NEGATIVES)
            else:
                try:
                    res = await scorer(record)
                except Exception as e:  # a scorer that crashes is a failure of this latent's score, counted
                    m = _undefined(f"{type(e).__name__}: {e}"[:300], "failed")
                else:
                    m = spec.metrics(res)
                    _set_status(m, [c["error"] for c in self.client.calls[n0:] if "error" in c])
            out[name] = m
        return out


def _undefined(reason: str, status: str = "undefined") -> dict:
    return {"accuracy": None, "f1_score": None, "status": status, "reason": reason}


def _set_status(m: dict, errors: list[str]) -> None:
    """``status`` and ``reason`` of a scorer's metrics ``m`` from its score and the LLM errors of its requests."""
    if errors:
        m["n_llm_errors"] = len(errors)
    if m["accuracy"] is not None:
        m["status"] = "scored"
    elif errors:
        m.update(status="failed", reason=f"{LLM_FAILURE}: {errors[-1][:300]}", llm_error=True)
    elif m.get("undefined") == "no scorer prediction parsed":
        m.update(status="failed", reason="no scorer reply parsed")
    else:
        m.update(status="undefined", reason=m.get("undefined"))


def _prompt_text(calls: list[dict]) -> str:
    lines = []
    for c in calls:
        lines.append(f"===== {c['stage']} ({c['seconds']}s) =====")
        for m in c["prompt"] if isinstance(c["prompt"], list) else [{"role": "user", "content": c["prompt"]}]:
            lines.append(f"--- {m['role']} ---\n{m['content']}")
        lines.append(f"--- reply ---\n{c.get('response', c.get('error', ''))}")
    return "\n".join(lines) + "\n"


def derangement(items: list, seed: int) -> list:
    """A seeded permutation with no fixed point (for 2+ items)."""
    if len(items) < 2:
        return list(items)
    rng = random.Random(seed)
    while True:
        perm = items[:]
        rng.shuffle(perm)
        if all(a != b for a, b in zip(items, perm)):
            return perm


def choose_donors(labelled: list[int], latent: int, k: int, seed: int) -> list[int]:
    """``k`` distinct other labelled latents whose labels make ``latent``'s floor (seeded per latent, so a
    latent's donors do not depend on which others were labelled first); fewer when fewer exist."""
    others = [x for x in labelled if x != latent]
    rng = random.Random(f"{seed}:{latent}")
    return rng.sample(others, min(k, len(others)))


def _has_llm_error(r: dict | None) -> bool:
    """A per-latent file written while the LLM was unreachable: redone by the next run."""
    if not r:
        return False
    if r.get("llm_error"):
        return True
    blocks = [r.get("scores"), (r.get("baseline") or {}).get("scores")]
    blocks += [d.get("scores") for d in r.get("donors", [])]
    blocks += [r.get(k) for k in ("base_label_on_tuned", "tuned_label_on_base")]
    return any(m.get("llm_error") for b in blocks if b for m in b.values())


def _done(path: Path) -> bool:
    return path.is_file() and not _has_llm_error(read_json(path))


@dataclass
class _Run:
    """What the passes of :func:`_label_all` share: the config, the labeller, the examples and their records."""

    cfg: PipelineConfig
    st_dir: Path
    lab: Labeller
    examples: dict
    tok: Any
    alive: Any = None
    records: dict = field(default_factory=dict)

    @property
    def client(self):
        return self.lab.client

    def check_alive(self) -> None:
        if self.alive is not None and not self.alive():
            raise LLMServerDied("the local LLM server died during stage 04 (see its log); rerun to continue")

    def record_of(self, m: str, lat: int):
        if (m, lat) not in self.records:
            self.records[m, lat] = _record(m, lat, self.examples[m][lat], self.tok, self.cfg.interpret,
                                           self.cfg.seed)
        return self.records[m, lat]


async def _label_all(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], examples, tok, client,
                     grammar: bool, embedder: Any = None, pairs: list[dict] | None = None,
                     alive: Any = None) -> None:
    """Label, score, floor, baseline and cross scores of the chosen latents, one file each as they finish.

    ``alive()`` (the local server's liveness) is checked after every latent: when the server died, the stage
    stops with :class:`LLMServerDied` rather than recording every later latent as a failure; files written
    while requests failed are redone by the next run."""
    run = _Run(cfg, st_dir, Labeller(client, cfg.interpret, grammar, embedder), examples, tok, alive)
    await _label_pass(run, chosen)
    lat_dir = st_dir / InterpretFiles.LATENTS
    results = {m: {lat: read_json(lat_dir / f"{m}_{lat}.json") for lat in chosen[m]} for m in MODELS}
    await _floor_pass(run, results)
    if cfg.interpret.cross_score_pairs and pairs:
        await _cross_pass(run, results, pairs)



async def _label_latent(run: _Run, m: str, lat: int) -> dict:
    """One latent's result: its explanation, its label's scores and the top-token baseline's."""
    icfg, lab = run.cfg.interpret, run.lab
    ex = run.examples[m][lat]
    result: dict[str, Any] = {"sae": m, "latent": lat, "n_docs_active": ex.n_docs_active,
                              "n_contexts_active": ex.n_contexts_active, "n_contexts": ex.n_contexts,
                              "max_activation": ex.max_activation}
    record = None
    if not ex.activating:
        result.update(label=None, failure=DEAD_FAILURE)
    else:
        try:
            record = run.record_of(m, lat)
        except ValueError as e:  # e.g. a single activating context: nothing left to score
            result.update(label=None, failure=f"too few examples: {e}")
    if record is not None:
        result["n_train"], result["n_test"], result["n_non_activating"] = (
            len(record.train), len(record.test), len(record.not_active))
        result.update(await lab.explain(record))
        if result["label"] is not None:
            result["scores"] = await lab.score(record, result["label"], latent_scorers=True)
        if icfg.baseline_label:
            from featevo.delphi_compat import top_token_label

            base_label = top_token_label(record)
            if base_label is not None:
                result["baseline"] = {"label": base_label, "scores": await lab.score(record, base_label)}
    return result


async def _label_pass(run: _Run, chosen: dict[str, list[int]]) -> None:
    lat_dir = run.st_dir / InterpretFiles.LATENTS
    prompts_dir = run.st_dir / InterpretFiles.PROMPTS
    todo = [(m, lat) for m in MODELS for lat in chosen[m]]
    t0 = time.perf_counter()
    done_now = 0
    for m, lat in tqdm(todo, desc="label latents", unit="latent"):
        path = lat_dir / f"{m}_{lat}.json"
        if _done(path):
            continue
        run.client.calls = []
        result = await _label_latent(run, m, lat)
        result["seconds"] = round(sum(c["seconds"] for c in run.client.calls), 2)
        atomic_write_text(prompts_dir / f"{m}_{lat}.txt", _prompt_text(run.client.calls))
        atomic_write_json(path, result)
        done_now += 1
        run.check_alive()
    if done_now:
        logger.info("labelled %d latents in %.0fs (%.2f latents/min)", done_now, time.perf_counter() - t0,
                    60 * done_now / max(time.perf_counter() - t0, 1e-9))


async def _floor_pass(run: _Run, results: dict) -> None:
    """The floor: each latent scored with several other latents' labels."""
    icfg = run.cfg.interpret
    shuf_dir = run.st_dir / InterpretFiles.SHUFFLED
    for m in MODELS:
        labelled = [lat for lat, r in results[m].items() if r.get("label")]
        for lat in tqdm(labelled, desc=f"shuffled floor {m}", unit="latent"):
            path = shuf_dir / f"{m}_{lat}.json"
            donors = choose_donors(labelled, lat, icfg.n_shuffled_donors, run.cfg.seed + (0 if m == "base" else 1))
            if not donors:
                continue
            if _done(path) and [d["label_from"] for d in read_json(path).get("donors", [])] == donors:
                continue
            run.client.calls = []
            record = run.record_of(m, lat)
            out = []
            for d in donors:
                label = results[m][d]["label"]
                out.append({"label_from": d, "label": label, "scores": await run.lab.score(record, label)})
            atomic_write_json(path, {"sae": m, "latent": lat, "donors": out})
            run.check_alive()


async def _cross_pass(run: _Run, results: dict, pairs: list[dict]) -> None:
    """Cross scores: a matched pair's base label on the tuned latent's contexts and vice versa."""
    cross_dir = run.st_dir / InterpretFiles.CROSS
    for p in tqdm(pairs, desc="cross-scored pairs", unit="pair"):
        b, t = p["base_latent"], p["tuned_latent"]
        rb, rt = results["base"].get(b), results["tuned"].get(t)
        if not (rb and rt and rb.get("label") and rt.get("label")):
            continue
        path = cross_dir / f"pair_{p['pair_id']}.json"
        if _done(path):
            continue
        run.client.calls = []
        atomic_write_json(path, {
            "pair_id": p["pair_id"], "base_latent": b, "tuned_latent": t,
            "base_label": rb["label"], "tuned_label": rt["label"],
            "base_label_on_tuned": await run.lab.score(run.record_of("tuned", t), rb["label"]),
            "tuned_label_on_base": await run.lab.score(run.record_of("base", b), rt["label"]),
        })
        run.check_alive()



def resolve_gguf(model: str) -> Path:
    """``interpret.model`` of the local backend: ``smollm2`` or a local GGUF path (``~`` expanded, relative to
    the repository root)."""
    from featevo.llm_server import find_smollm2_gguf

    if model == "smollm2":
        return find_smollm2_gguf()
    p = Path(model).expanduser()
    if not p.is_absolute():
        from featevo.layout import resolve_repo_path

        p = resolve_repo_path(model)
    if not p.is_file():
        raise ConfigError(f"interpret.model: '{model}' is neither 'smollm2' nor an existing GGUF file ({p})")
    return p


def _load_embedder(icfg: InterpretConfig, device: torch.device):
    if not icfg.embedding_model or not any(SCORERS[n].needs_embedder for n in in_order(icfg.scorers)):
        return None
    from featevo.delphi_compat import load_embedding_model

    try:
        return load_embedding_model(icfg.embedding_model, device="cpu" if device.type != "cuda" else str(device))
    except Exception as e:  # noqa: BLE001 - the embedding scorer is optional; say why it is missing
        logger.warning("embedding scorer disabled: cannot load %s (%r)", icfg.embedding_model, e)
        return None


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    """Run stage 04 (needs stages 01-03); returns the stage folder."""
    return run_stage(cfg, INTERPRET, compute, force, check=check_backend)


def check_backend(cfg: PipelineConfig) -> None:
    """Fail before the partial folder exists: a backend without its endpoint, a local model that is missing."""
    icfg = cfg.interpret
    if icfg.backend == "openai" and not icfg.base_url:
        raise ConfigError("interpret.backend=openai needs interpret.base_url (an OpenAI-compatible /v1 root)")
    if icfg.backend == "local":
        resolve_gguf(icfg.model)


def compute(cfg: PipelineConfig, out_dir: Path) -> dict:
    """Stage 04 into ``out_dir`` (the runner checks its upstream and commits); returns its summary."""
    icfg = cfg.interpret
    gguf = resolve_gguf(icfg.model) if icfg.backend == "local" else None
    device = resolve_device(cfg.device)
    t0 = time.perf_counter()
    s1 = stage_dir(cfg, TRAIN)
    models = run_models(cfg)
    tok = load_tokenizer(models["base"])
    d_sae = {m: read_json(sae_dir(s1, m) / TrainFiles.SAE_CFG)["d_sae"] for m in MODELS}
    chosen = choose_latents(cfg, d_sae)
    logger.info("labelling %d base and %d tuned latents with backend %s (%s)", len(chosen["base"]),
                len(chosen["tuned"]), icfg.backend, icfg.model)
    examples = {m: collect_examples(sae_dir(s1, m), split_dir(s1, "train"), m, chosen[m], icfg, cfg.seed, device)
                for m in MODELS}
    pairs = [p for p in CompareResult.load(stage_dir(cfg, COMPARE)).matched_pairs()
             if p["base_latent"] in chosen["base"] and p["tuned_latent"] in chosen["tuned"]]
    embedder = _load_embedder(icfg, device)
    backend_info = {"backend": icfg.backend, "model": icfg.model,
                    "embedding_model": icfg.embedding_model if embedder is not None else None}

    async def go(base_url: str | None, model_name: str, grammar: bool, alive: Any = None) -> None:
        client = make_client(icfg, base_url, model_name)
        try:
            await _label_all(cfg, out_dir, chosen, examples, tok, client, grammar, embedder, pairs, alive)
        finally:
            if hasattr(client, "aclose"):
                await client.aclose()

    try:
        if icfg.backend == "local":
            from featevo.llm_server import LocalLLMServer

            assert gguf is not None
            backend_info["gguf"] = gguf.name
            log = log_path(cfg, INTERPRET).with_name(LLM_SERVER_LOG)
            log.parent.mkdir(parents=True, exist_ok=True)
            with LocalLLMServer(model_path=gguf, n_ctx=icfg.n_ctx, n_threads=icfg.n_threads or None, log_path=log,
                                extra_args=server_args(icfg)) as srv:
                asyncio.run(go(srv.base_url, srv.model_name, grammar=True, alive=lambda: srv.running))
        elif icfg.backend == "openai":
            asyncio.run(go(icfg.base_url, icfg.model, grammar=False))
        else:
            asyncio.run(go(None, icfg.model, grammar=False))
    except LLMServerDied as e:  # the accounting so far is written; the stage is not committed
        write_outputs(cfg, out_dir, chosen, time.perf_counter() - t0, backend_info, aborted=str(e))
        raise
    summary = write_outputs(cfg, out_dir, chosen, time.perf_counter() - t0, backend_info)
    for s in MODELS:
        sc = summary["scores"][s]
        diffs = "; ".join(f"{n} own-floor {_fmt(sc.get(f'{n}_paired_diff'))} [{_fmt(sc.get(f'{n}_paired_ci_low'))}, "
                          f"{_fmt(sc.get(f'{n}_paired_ci_high'))}] over {sc.get(f'{n}_paired_n')} latents"
                          for n in in_order(icfg.scorers))
        logger.info("%s: %d/%d labelled, %d failed; %s", s, sc["labelled"], sc["latents"], sc["failed"], diffs)
    return summary


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


__all__ = ["run", "choose_latents", "choose_donors", "collect_examples", "context_ids", "derangement",
           "paired_stats", "write_outputs"]
