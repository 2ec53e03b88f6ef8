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
import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from featevo.progress import tqdm

from featevo.activations import ActivationStore, TokenTable
from featevo.config import InterpretConfig, PipelineConfig
from featevo.errors import ConfigError
from featevo.io import atomic_write_json, atomic_write_text, read_json
from featevo.layout import (
    COMPARE, DELTAS, INTERPRET, LLM_SERVER_LOG, TRAIN, DeltasFiles, InterpretFiles, TrainFiles, log_path,
    models as run_models, sae_dir, split_dir, stage_dir,
)
from featevo.results import LABELS, LABELS_SUMMARY, CompareResult, DeltasResult
from featevo.models import load_tokenizer, resolve_device
from featevo.runner import run_stage
from featevo.sae import encode, load_sae

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


DEAD_FAILURE = "dead latent: never fires on the training split"


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
# Examples from stage 01's shards
# --------------------------------------------------------------------------------------------
@dataclass
class LatentExamples:
    activating: list[tuple[list[int], list[float]]]
    non_activating: list[list[int]]
    n_docs_active: int
    max_activation: float
    n_contexts_active: int | None = None   # token windows (contexts) where the latent fires
    n_contexts: int | None = None          # all contexts searched


def context_ids(row_doc: np.ndarray, ctx_len: int) -> np.ndarray:
    """The context of each token row: documents cut into consecutive windows of ``ctx_len`` tokens (Delphi's
    ``example_ctx_len``; the last window of a document may be shorter); ``ctx_len`` 0: one context per document.
    Rows are in document order; returns ids 0..n_contexts-1, non-decreasing."""
    n = len(row_doc)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    row_doc = np.asarray(row_doc, dtype=np.int64)
    new_doc = np.ones(n, dtype=bool)
    new_doc[1:] = row_doc[1:] != row_doc[:-1]
    if ctx_len <= 0:
        return np.cumsum(new_doc) - 1
    doc_start = np.maximum.accumulate(np.where(new_doc, np.arange(n), 0))
    pos = np.arange(n) - doc_start
    new_ctx = new_doc | (pos % ctx_len == 0)
    return np.cumsum(new_ctx) - 1


def collect_examples(
    sae_dir: Path, split_dir: Path, model_key: str, latents: list[int], icfg: InterpretConfig, seed: int,
    device: torch.device,
) -> dict[int, LatentExamples]:
    """Per-context activations of ``latents`` over the training split (streamed shard by shard).

    A context is a window of ``interpret.example_ctx_len`` tokens of one document (as Delphi's constructor
    cuts its token cache into ``example_ctx_len`` windows); non-activating examples are contexts where the
    latent never fires, so a latent active somewhere in every document still gets negatives."""
    tt = TokenTable(split_dir)
    store = ActivationStore(split_dir / model_key)
    sae = load_sae(sae_dir, device)
    idx = torch.tensor(latents, dtype=torch.long)
    n_rows = min(store.n_rows, icfg.max_tokens)
    parts = []
    for x in tqdm(store.iter_rows(n_rows), desc=f"encode {model_key}", unit="chunk"):
        parts.append(encode(sae, x)[:, idx])
    acts = torch.cat(parts) if parts else torch.zeros(0, len(latents))  # [rows, chosen]
    row_doc_np = np.asarray(tt.row_doc[:n_rows])
    ctx = context_ids(row_doc_np, icfg.example_ctx_len)
    n_ctx = int(ctx[-1]) + 1 if n_rows else 0
    ctx_t = torch.from_numpy(ctx).long()[:, None].expand(-1, len(latents))
    ctx_max = torch.zeros(n_ctx, len(latents)).scatter_reduce(0, ctx_t, acts, "amax")
    ctx_doc = np.zeros(n_ctx, dtype=np.int64)
    ctx_doc[ctx] = row_doc_np
    starts = np.searchsorted(ctx, np.arange(n_ctx + 1))
    rng = random.Random(seed)
    out = {}
    for j, lat in enumerate(latents):
        order = torch.argsort(ctx_max[:, j], descending=True)
        active = [int(c) for c in order if ctx_max[c, j] > 0]
        inactive = [c for c in range(n_ctx) if ctx_max[c, j] <= 0]
        top = active[: icfg.max_activating]
        rest = active[icfg.max_activating :]
        top += rng.sample(rest, min(len(rest), icfg.max_activating // 2))  # lower quantiles too
        windows = []
        for c in top:
            s, e = int(starts[c]), int(starts[c + 1])
            windows.append((tt.row_token[s:e].tolist(), acts[s:e, j].tolist()))
        non = [tt.row_token[int(starts[c]) : int(starts[c + 1])].tolist()
               for c in rng.sample(inactive, min(len(inactive), icfg.n_non_activating))]
        out[lat] = LatentExamples(windows, non, len({int(ctx_doc[c]) for c in active}),
                                  float(ctx_max[:, j].max()) if n_ctx else 0.0, len(active), n_ctx)
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
SCORERS = ("detection", "fuzzing", "embedding")   # scorers of a label: floor = other latents' labels
LATENT_SCORERS = ("intruder",)                    # scorers of the latent alone (label unused): floor = chance
ALL_SCORERS = SCORERS + LATENT_SCORERS
NO_NEGATIVES = "no non-activating examples"
NO_INTRUDERS = "no non-activating context of 2+ tokens (the intruder scorer's placeholder would replace it)"


class LLMServerDied(RuntimeError):
    """The local LLM server is gone: stage 04 stops instead of recording every later latent as failed."""


def scorer_status(m: dict) -> tuple[str, str | None]:
    """(``scored`` | ``undefined`` | ``failed``, reason) of one scorer's result dict."""
    if m.get("status"):
        return m["status"], m.get("reason")
    if m.get("error"):  # files of earlier runs
        return "failed", m["error"]
    if m.get("accuracy") is None:
        return "undefined", m.get("undefined") or "no score"
    return "scored", None


@dataclass
class Labeller:
    client: Any
    icfg: InterpretConfig
    grammar: bool
    embedder: Any = None
    scorers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        from featevo import delphi_compat as dc

        shown = self.icfg.n_examples_shown
        g = {"grammar": dc.scorer_grammar(shown)} if self.grammar else {}
        self.scorers = {
            "detection": dc.DetectionScorer(self.client, n_examples_shown=shown, verbose=False, log_prob=False,
                                            temperature=0.0, max_tokens=self.icfg.score_max_tokens, **g),
            "fuzzing": dc.FuzzingScorer(self.client, n_examples_shown=shown, verbose=False, threshold=0.3,
                                        log_prob=False, temperature=0.0, fuzz_type="default",
                                        max_tokens=self.icfg.score_max_tokens, **g),
        }
        if self.embedder is not None:
            self.scorers["embedding"] = dc.EmbeddingScorer(self.embedder)
        if "intruder" in self.icfg.scorers:
            # contexts per intruder prompt: one activating-quantile group (at most ceil(n_test / n_quantiles)
            # contexts) plus the intruder, so the reply grammar allows no index beyond the prompt; at least 2,
            # since Delphi divides by the activating contexts shown (n - 1)
            group = -(-self.icfg.n_test // self.icfg.n_quantiles)
            n = max(2, min(shown, group + 1))
            gi = {"grammar": dc.intruder_grammar(n)} if self.grammar and n <= 10 else {}
            self.scorers["intruder"] = dc.IntruderScorer(self.client, n_examples_shown=n, verbose=False,
                                                         temperature=0.0, type="default",
                                                         max_tokens=self.icfg.score_max_tokens, **gi)
        self.scorers = {k: v for k, v in self.scorers.items() if k in self.icfg.scorers}

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
        from featevo.delphi_compat import classifier_metrics, embedding_metrics, intruder_metrics

        record.explanation = label
        out = {}
        full = record
        for name, scorer in self.scorers.items():
            if name in LATENT_SCORERS and not latent_scorers:
                continue
            record = _intruder_record(full) if name == "intruder" else full
            self.client.tag = name
            n0 = len(self.client.calls)
            if not record.test:
                m: dict[str, Any] = {"accuracy": None, "f1_score": None, "status": "undefined",
                                     "reason": "no activating test examples"}
            elif not record.not_active:
                m = {"accuracy": None, "f1_score": None, "status": "undefined",
                     "reason": NO_NEGATIVES if name != "intruder" or not full.not_active else NO_INTRUDERS}
            else:
                try:
                    res = await scorer(record)
                except Exception as e:  # a scorer that crashes is a failure of this latent's score, counted
                    m = {"accuracy": None, "f1_score": None, "status": "failed",
                         "reason": f"{type(e).__name__}: {e}"[:300]}
                else:
                    if name == "embedding":
                        m = embedding_metrics(res.score)
                        m["similarities"] = [{"text": o.text, "activating": o.distance >= 0,
                                              "similarity": o.similarity} for o in res.score]
                    elif name == "intruder":
                        m = intruder_metrics(res.score)
                        m["predictions"] = [{"examples": o.sample.examples, "intruder": o.correct_index,
                                             "prediction": o.prediction} for o in res.score if o.sample is not None]
                    else:
                        m = classifier_metrics(res.score)
                        m["predictions"] = [
                            {"text": "".join(o.str_tokens), "activating": bool(o.activating),
                             "prediction": o.prediction} for o in res.score]
                    errors = [c["error"] for c in self.client.calls[n0:] if "error" in c]
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
            out[name] = m
        return out


def _intruder_record(record):
    """``record`` for Delphi's intruder scorer: silent contexts of one token dropped. Delphi highlights a few of
    the intruder's tokens to mimic the activating contexts and, for a one-token context, finds none to highlight
    and shows its placeholder sentence ("<<NNsight>> is the best library for <<interpretability>> ...")
    instead, an outsider any reader spots without reading the latent's contexts."""
    import copy

    rec = copy.copy(record)
    rec.not_active = [e for e in record.not_active if len(e.str_tokens or ()) >= 2]
    return rec


def _record(model_key: str, latent: int, ex: LatentExamples, tok, icfg: InterpretConfig, seed: int):
    from featevo.delphi_compat import build_latent_record

    return build_latent_record(
        f"{model_key}.sae", latent, ex.activating, ex.non_activating, tok, n_train=icfg.n_train,
        n_test=icfg.n_test, n_quantiles=icfg.n_quantiles, n_non_activating=icfg.n_non_activating, seed=seed + latent,
    )


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


async def _label_all(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], examples, tok, client,
                     grammar: bool, embedder: Any = None, pairs: list[dict] | None = None,
                     alive: Any = None) -> None:
    """Label, score, floor, baseline and cross scores of the chosen latents, one file each as they finish.

    ``alive()`` (the local server's liveness) is checked after every latent: when the server died, the stage
    stops with :class:`LLMServerDied` rather than recording every later latent as a failure; files written
    while requests failed are redone by the next run."""
    icfg = cfg.interpret
    lab = Labeller(client, icfg, grammar, embedder)
    lat_dir = st_dir / InterpretFiles.LATENTS
    prompts_dir = st_dir / InterpretFiles.PROMPTS

    def check_alive() -> None:
        if alive is not None and not alive():
            raise LLMServerDied("the local LLM server died during stage 04 (see its log); rerun to continue")

    records: dict[tuple[str, int], Any] = {}

    def record_of(m: str, lat: int):
        if (m, lat) not in records:
            records[m, lat] = _record(m, lat, examples[m][lat], tok, icfg, cfg.seed)
        return records[m, lat]

    todo = [(m, lat) for m in MODELS for lat in chosen[m]]
    t0 = time.perf_counter()
    done_now = 0
    for m, lat in tqdm(todo, desc="label latents", unit="latent"):
        path = lat_dir / f"{m}_{lat}.json"
        if _done(path):
            continue
        ex = examples[m][lat]
        client.calls = []
        result: dict[str, Any] = {"sae": m, "latent": lat, "n_docs_active": ex.n_docs_active,
                                  "n_contexts_active": ex.n_contexts_active, "n_contexts": ex.n_contexts,
                                  "max_activation": ex.max_activation}
        record = None
        if not ex.activating:
            result.update(label=None, failure=DEAD_FAILURE)
        else:
            try:
                record = record_of(m, lat)
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
        result["seconds"] = round(sum(c["seconds"] for c in client.calls), 2)
        atomic_write_text(prompts_dir / f"{m}_{lat}.txt", _prompt_text(client.calls))
        atomic_write_json(path, result)
        done_now += 1
        check_alive()
    if done_now:
        logger.info("labelled %d latents in %.0fs (%.2f latents/min)", done_now, time.perf_counter() - t0,
                    60 * done_now / max(time.perf_counter() - t0, 1e-9))

    # the floor: each latent scored with several other latents' labels
    shuf_dir = st_dir / InterpretFiles.SHUFFLED
    results = {m: {lat: read_json(lat_dir / f"{m}_{lat}.json") for lat in chosen[m]} for m in MODELS}
    for m in MODELS:
        labelled = [lat for lat, r in results[m].items() if r.get("label")]
        for lat in tqdm(labelled, desc=f"shuffled floor {m}", unit="latent"):
            path = shuf_dir / f"{m}_{lat}.json"
            donors = choose_donors(labelled, lat, icfg.n_shuffled_donors, cfg.seed + (0 if m == "base" else 1))
            if not donors:
                continue
            if _done(path) and [d["label_from"] for d in read_json(path).get("donors", [])] == donors:
                continue
            client.calls = []
            record = record_of(m, lat)
            out = []
            for d in donors:
                label = results[m][d]["label"]
                out.append({"label_from": d, "label": label, "scores": await lab.score(record, label)})
            atomic_write_json(path, {"sae": m, "latent": lat, "donors": out})
            check_alive()

    # cross scores: a matched pair's base label on the tuned latent's contexts and vice versa
    if not (icfg.cross_score_pairs and pairs):
        return
    cross_dir = st_dir / InterpretFiles.CROSS
    for p in tqdm(pairs, desc="cross-scored pairs", unit="pair"):
        b, t = p["base_latent"], p["tuned_latent"]
        rb, rt = results["base"].get(b), results["tuned"].get(t)
        if not (rb and rt and rb.get("label") and rt.get("label")):
            continue
        path = cross_dir / f"pair_{p['pair_id']}.json"
        if _done(path):
            continue
        client.calls = []
        atomic_write_json(path, {
            "pair_id": p["pair_id"], "base_latent": b, "tuned_latent": t,
            "base_label": rb["label"], "tuned_label": rt["label"],
            "base_label_on_tuned": await lab.score(record_of("tuned", t), rb["label"]),
            "tuned_label_on_base": await lab.score(record_of("base", b), rt["label"]),
        })
        check_alive()


# --------------------------------------------------------------------------------------------
# Statistics: each label against its floor, paired per latent
# --------------------------------------------------------------------------------------------
def paired_stats(real: list, floor: list, seed: int = 0, n_boot: int = 2000, ci: float = 0.95) -> dict:
    """Real-minus-floor per latent (pairs where both are defined): the mean difference with a percentile
    bootstrap interval over latents, the means of both sides over the *same* latents, and a two-sided sign
    test (``scipy.stats.binomtest`` on wins vs losses; ties dropped and counted)."""
    from scipy.stats import binomtest

    pairs = [(float(a), float(b)) for a, b in zip(real, floor)
             if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)]
    out: dict[str, Any] = {"n": len(pairs), "mean_real": None, "mean_floor": None, "mean_diff": None,
                           "ci_low": None, "ci_high": None, "wins": 0, "losses": 0, "ties": 0, "sign_test_p": None}
    if not pairs:
        return out
    d = np.array([a - b for a, b in pairs])
    out.update(mean_real=float(np.mean([a for a, _ in pairs])), mean_floor=float(np.mean([b for _, b in pairs])),
               mean_diff=float(d.mean()), wins=int((d > 1e-12).sum()), losses=int((d < -1e-12).sum()))
    out["ties"] = len(d) - out["wins"] - out["losses"]
    if len(d) > 1:
        rng = np.random.default_rng(seed)
        boot = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
        lo, hi = np.quantile(boot, [(1 - ci) / 2, (1 + ci) / 2])
        out.update(ci_low=float(lo), ci_high=float(hi))
    n = out["wins"] + out["losses"]
    if n:
        out["sign_test_p"] = float(binomtest(out["wins"], n, 0.5).pvalue)
    return out


def floor_score(sh: dict | None, name: str, key: str = "accuracy") -> float | None:
    """A latent's floor: the mean score of its shuffled donors' labels (defined donors only); old files with a
    single donor (``scores`` at the top) read as one donor."""
    if not sh:
        return None
    donors = sh.get("donors") or ([sh] if "scores" in sh else [])
    return _mean([_score(d, name, key) for d in donors])


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else None


def _score(r: dict | None, name: str, key: str = "accuracy"):
    if not r or not r.get("scores"):
        return None
    return (r["scores"].get(name) or {}).get(key)


@dataclass
class LabelResults:
    """The per-latent files of :func:`_label_all` for the chosen latents."""

    latents: dict[str, dict[int, dict]]           # sae -> latent -> latents/<sae>_<latent>.json
    shuffled: dict[str, dict[int, dict | None]]   # sae -> latent -> shuffled/<sae>_<latent>.json (None: absent)
    cross: dict[int, dict] = field(default_factory=dict)  # pair_id -> cross/pair_<pair_id>.json

    @classmethod
    def load(cls, st_dir: Path, chosen: dict[str, list[int]]) -> "LabelResults":
        def shuffled(m: str, lat: int) -> dict | None:
            p = st_dir / InterpretFiles.SHUFFLED / f"{m}_{lat}.json"
            return read_json(p) if p.is_file() else None

        cross_dir = st_dir / InterpretFiles.CROSS
        cross = {int(r["pair_id"]): r for r in (read_json(p) for p in sorted(cross_dir.glob("pair_*.json")))} \
            if cross_dir.is_dir() else {}
        return cls({m: {lat: read_json(st_dir / InterpretFiles.LATENTS / f"{m}_{lat}.json") for lat in chosen[m]}
                    for m in MODELS},
                   {m: {lat: shuffled(m, lat) for lat in chosen[m]} for m in MODELS}, cross)

    def get(self, sae: str, latent: int | None) -> dict | None:
        return self.latents[sae].get(latent) if latent is not None else None

    def get_shuffled(self, sae: str, latent: int | None) -> dict | None:
        return self.shuffled[sae].get(latent) if latent is not None else None


def _label_units(chosen: dict[str, list[int]], pairs: list[dict]) -> list[tuple]:
    """(matched pair or None, sae, latent, base latent, tuned latent) per chosen latent, in order; a matched
    pair (shared/shifted) once, pairing a base label with a tuned label; other latents keep their class."""
    by_latent = {"base": {p["base_latent"]: p for p in pairs}, "tuned": {p["tuned_latent"]: p for p in pairs}}
    units, seen = [], set()
    for m in MODELS:
        for lat in chosen[m]:
            p = by_latent[m].get(lat)
            if p is not None:
                key, b, t = ("pair", p["pair_id"]), p["base_latent"], p["tuned_latent"]
            else:
                key, (b, t) = (m, lat), ((lat, None) if m == "base" else (None, lat))
            if key not in seen:
                seen.add(key)
                units.append((p, m, lat, b, t))
    return units


def _baseline(r: dict | None) -> dict | None:
    return (r or {}).get("baseline")


def _issues(r: dict | None) -> str | None:
    """Why a side's scores are blank: ``scorer: undefined (reason)`` / ``scorer: failed (reason)``."""
    if not r or not r.get("scores"):
        return None
    parts = []
    for name, m in r["scores"].items():
        status, reason = scorer_status(m)
        if status != "scored":
            parts.append(f"{name}: {status} ({reason})")
    return "; ".join(parts) or None


def cross_verdict(on_other: list[float | None], other_floor: list[float | None]) -> str | None:
    """``kept`` when each label scores above the other latent's floor on that latent's contexts, ``changed``
    when neither does, ``one-way`` otherwise; None when any of the four numbers is undefined."""
    if any(x is None for x in on_other + other_floor):
        return None
    beats = [a > f for a, f in zip(on_other, other_floor)]
    return "kept" if all(beats) else "changed" if not any(beats) else "one-way"


def _label_row(unit: tuple, lr: LabelResults, latent_class: dict, feature_table: dict) -> dict:
    """One row of ``labels_comparison.csv``."""
    p, m, lat, b, t = unit
    rb, rt = lr.get("base", b), lr.get("tuned", t)
    ft = feature_table.get(p["pair_id"]) if p is not None else None
    row = {
        "pair_id": p["pair_id"] if p is not None else None,
        "base_latent": b, "tuned_latent": t,
        "class": (p or {}).get("class") or latent_class.get((m, lat)) or ("new" if m == "tuned" else "lost"),
        "decoder_cosine": (p or {}).get("decoder_cosine"),
        "base_label": (rb or {}).get("label"), "tuned_label": (rt or {}).get("label"),
    }
    for side, r, latent in (("base", rb, b), ("tuned", rt, t)):
        sh = lr.get_shuffled(side, latent) if latent is not None else None
        for name in SCORERS:
            row[f"{side}_{name}"] = _score(r, name)
            row[f"{side}_{name}_shuffled"] = floor_score(sh, name)
            row[f"{side}_{name}_top_tokens"] = _score(_baseline(r), name)
        for name in LATENT_SCORERS:
            row[f"{side}_{name}"] = _score(r, name)
            row[f"{side}_{name}_chance"] = _score(r, name, "chance")
        row[f"{side}_top_tokens_label"] = (_baseline(r) or {}).get("label")
        row[f"{side}_score_issues"] = _issues(r)
    cr = lr.cross.get(p["pair_id"]) if p is not None else None
    for name in SCORERS:
        row[f"base_label_on_tuned_{name}"] = _score({"scores": (cr or {}).get("base_label_on_tuned")}, name)
        row[f"tuned_label_on_base_{name}"] = _score({"scores": (cr or {}).get("tuned_label_on_base")}, name)
    if cr is not None:
        name = next((n for n in SCORERS if row[f"base_label_on_tuned_{n}"] is not None
                     and row[f"tuned_label_on_base_{n}"] is not None), "detection")
        row["cross_scorer"] = name
        row["cross_verdict"] = cross_verdict([row[f"base_label_on_tuned_{name}"], row[f"tuned_label_on_base_{name}"]],
                                             [row[f"tuned_{name}_shuffled"], row[f"base_{name}_shuffled"]])
    for col in ("did", "did_ci_low", "did_ci_high", "q_calibrated"):
        row[col] = (ft or {}).get(col)
    for side, r in (("base", rb), ("tuned", rt)):
        if r is not None and r.get("label") is None and r.get("failure"):
            row[f"{side}_label"] = f"[failed: {r['failure']}]"
    return row


def label_rows(cfg: PipelineConfig, chosen: dict[str, list[int]], lr: LabelResults) -> list[dict]:
    """``labels_comparison.csv``: the chosen latents with stage 02's pairs and stage 03's deltas."""
    s2 = CompareResult.load(stage_dir(cfg, COMPARE))
    feature_table = DeltasResult.load(stage_dir(cfg, DELTAS)).feature_table.index_by("pair_id")
    latent_class = s2.latent_class()
    return [_label_row(u, lr, latent_class, feature_table) for u in _label_units(chosen, s2.matched_pairs())]


def _reason_key(reason: str | None) -> str:
    return (reason or "unknown")[:120]


def scorer_accounting(m: str, lr: LabelResults) -> dict[str, dict]:
    """Per scorer: how many chosen latents got a score for their label, and why the others did not
    (``undefined``: a class of examples missing; ``failed``: the scorer raised, its requests failed or no
    reply parsed; ``not_attempted``: no label to score), with ``failed_any_run`` counting failures of every
    scorer run of this SAE (own label, floor donors, top-token baseline)."""
    out: dict[str, dict] = {}
    for name in ALL_SCORERS:
        acc: dict[str, Any] = {"scored": 0, "undefined": {}, "failed": {}, "not_attempted": {}, "failed_any_run": {}}
        for lat, r in lr.latents[m].items():
            if not r.get("label"):
                key = "dead latent" if r.get("failure") == DEAD_FAILURE else "no label (explanation failed)"
                acc["not_attempted"][key] = acc["not_attempted"].get(key, 0) + 1
            elif name not in (r.get("scores") or {}):
                acc["not_attempted"]["scorer not run"] = acc["not_attempted"].get("scorer not run", 0) + 1
            else:
                status, reason = scorer_status(r["scores"][name])
                if status == "scored":
                    acc["scored"] += 1
                else:
                    acc[status][_reason_key(reason)] = acc[status].get(_reason_key(reason), 0) + 1
            sh = lr.get_shuffled(m, lat) or {}
            runs = [r.get("scores"), (_baseline(r) or {}).get("scores")]
            runs += [d.get("scores") for d in sh.get("donors", [])]
            for sc in runs:
                if sc and name in sc and scorer_status(sc[name])[0] == "failed":
                    k = _reason_key(scorer_status(sc[name])[1])
                    acc["failed_any_run"][k] = acc["failed_any_run"].get(k, 0) + 1
        out[name] = acc
    return out


def summary_row(m: str, lr: LabelResults, seed: int = 0) -> dict:
    """``labels_summary.csv``'s row of SAE ``m``: counts, per-scorer accounting and each label against its floor
    and against the top-token label, paired per latent (means of both sides over the same latents)."""
    rs = list(lr.latents[m].values())
    labelled = [r for r in rs if r.get("label")]
    entry: dict[str, Any] = {
        "sae": m, "latents": len(rs), "labelled": len(labelled),
        "failed": sum(1 for r in rs if r.get("label") is None and r.get("failure") != DEAD_FAILURE),
        "dead": sum(1 for r in rs if r.get("failure", "").startswith("dead latent")),
        "retried": sum(1 for r in rs if r.get("attempts", 1) > 1),
        "llm_failures": sum(1 for r in rs if r.get("llm_error")),
    }
    acc = scorer_accounting(m, lr)
    for name in SCORERS:
        a = acc[name]
        entry[f"{name}_scored"] = a["scored"]
        entry[f"{name}_undefined"] = sum(a["undefined"].values())
        entry[f"{name}_failed"] = sum(a["failed"].values())
        real = [_score(r, name) for r in labelled]
        floor = [floor_score(lr.get_shuffled(m, r["latent"]), name) for r in labelled]
        st = paired_stats(real, floor, seed=seed)
        entry[f"{name}_accuracy_mean"] = st["mean_real"]
        entry[f"{name}_accuracy_shuffled_mean"] = st["mean_floor"]
        entry[f"{name}_paired_n"] = st["n"]
        entry[f"{name}_paired_diff"] = st["mean_diff"]
        entry[f"{name}_paired_ci_low"], entry[f"{name}_paired_ci_high"] = st["ci_low"], st["ci_high"]
        entry[f"{name}_paired_wins"], entry[f"{name}_paired_losses"] = st["wins"], st["losses"]
        entry[f"{name}_paired_ties"], entry[f"{name}_paired_sign_p"] = st["ties"], st["sign_test_p"]
        entry[f"{name}_beats_shuffled_fraction"] = st["wins"] / st["n"] if st["n"] else None
        f1 = paired_stats([_score(r, name, "f1_score") for r in labelled],
                          [floor_score(lr.get_shuffled(m, r["latent"]), name, "f1_score") for r in labelled], seed=seed)
        entry[f"{name}_f1_score_mean"], entry[f"{name}_f1_score_shuffled_mean"] = f1["mean_real"], f1["mean_floor"]
        bl = paired_stats(real, [_score(_baseline(r), name) for r in labelled], seed=seed)
        entry[f"{name}_top_tokens_n"], entry[f"{name}_top_tokens_mean"] = bl["n"], bl["mean_floor"]
        entry[f"{name}_vs_top_tokens_diff"] = bl["mean_diff"]
        entry[f"{name}_vs_top_tokens_ci_low"], entry[f"{name}_vs_top_tokens_ci_high"] = bl["ci_low"], bl["ci_high"]
        entry[f"{name}_vs_top_tokens_sign_p"] = bl["sign_test_p"]
    for name in LATENT_SCORERS:  # the label is not read: the latent's score against chance, not a label's floor
        a = acc[name]
        entry[f"{name}_scored"] = a["scored"]
        entry[f"{name}_undefined"] = sum(a["undefined"].values())
        entry[f"{name}_failed"] = sum(a["failed"].values())
        st = paired_stats([_score(r, name) for r in labelled], [_score(r, name, "chance") for r in labelled],
                          seed=seed)
        entry[f"{name}_paired_n"] = st["n"]
        entry[f"{name}_accuracy_mean"], entry[f"{name}_chance_mean"] = st["mean_real"], st["mean_floor"]
        entry[f"{name}_paired_diff"] = st["mean_diff"]
        entry[f"{name}_paired_ci_low"], entry[f"{name}_paired_ci_high"] = st["ci_low"], st["ci_high"]
        entry[f"{name}_paired_wins"], entry[f"{name}_paired_losses"] = st["wins"], st["losses"]
        entry[f"{name}_paired_ties"], entry[f"{name}_paired_sign_p"] = st["ties"], st["sign_test_p"]
    return entry


def cross_summary(rows: list[dict], seed: int = 0) -> dict:
    """Over the cross-scored pairs: each label on its partner's contexts against the partner's floor (does it
    still describe the partner?) and against the partner's own label, paired per pair, plus verdict counts."""
    out: dict[str, Any] = {}
    crossed = [r for r in rows if r.get("cross_verdict") is not None or r.get("cross_scorer")]
    verdicts: dict[str, int] = {}
    for r in crossed:
        v = r.get("cross_verdict") or "undefined"
        verdicts[v] = verdicts.get(v, 0) + 1
    out["pairs"] = len(crossed)
    out["verdicts"] = verdicts
    for name in SCORERS:
        on = [r[f"base_label_on_tuned_{name}"] for r in crossed] + [r[f"tuned_label_on_base_{name}"] for r in crossed]
        floor = [r[f"tuned_{name}_shuffled"] for r in crossed] + [r[f"base_{name}_shuffled"] for r in crossed]
        own = [r[f"tuned_{name}"] for r in crossed] + [r[f"base_{name}"] for r in crossed]
        out[name] = {"partner_label_vs_floor": paired_stats(on, floor, seed=seed),
                     "partner_label_vs_own_label": paired_stats(on, own, seed=seed)}
    return out


def write_outputs(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], wall_s: float,
                  backend_info: dict, aborted: str | None = None) -> dict:
    """The stage's tables and JSON files from the per-latent files; returns the summary. ``aborted``: why
    labelling stopped early (latents without a file are then counted as not done)."""
    done = {m: [lat for lat in chosen[m] if (st_dir / InterpretFiles.LATENTS / f"{m}_{lat}.json").is_file()]
            for m in MODELS}
    lr = LabelResults.load(st_dir, done)
    rows = label_rows(cfg, done, lr)
    LABELS.write(st_dir, rows)
    summary_rows = [summary_row(m, lr, cfg.seed) for m in MODELS]
    LABELS_SUMMARY.write(st_dir, summary_rows)
    atomic_write_json(st_dir / InterpretFiles.EXPLANATIONS, {
        m: {str(lat): r for lat, r in lr.latents[m].items()} for m in MODELS})
    n_done = sum(s["latents"] for s in summary_rows)
    summary = {
        "backend": backend_info, "latents_per_sae": {m: len(chosen[m]) for m in MODELS},
        "latents_not_done": {m: len(chosen[m]) - len(done[m]) for m in MODELS},
        "aborted": aborted,
        "failures": {s["sae"]: s["failed"] for s in summary_rows},
        "scorer_accounting": {m: scorer_accounting(m, lr) for m in MODELS},
        "scores": {s["sae"]: {k: v for k, v in s.items() if k not in ("sae",)} for s in summary_rows},
        "cross": cross_summary(rows, cfg.seed),
        "n_shuffled_donors": cfg.interpret.n_shuffled_donors,
        "wall_time_s": round(wall_s, 1),
        "latents_per_minute": round(60 * n_done / wall_s, 2) if wall_s > 0 else None,
        "metric_note": "accuracy = balanced accuracy over scorer examples whose prediction parsed (Delphi's "
                       "result analysis), undefined (blank) when the latent has no activating or no non-activating "
                       "example; embedding = AUC of label-to-context similarity (Delphi's embedding scorer); "
                       "shuffled/floor = the mean score of the same latent with other latents' labels; paired_diff "
                       "= mean over latents of own minus floor, with a bootstrap 95% interval and a sign test; "
                       "intruder = fraction of Delphi's intruder prompts whose outsider context the LLM found "
                       "(over parsed replies); it never reads the label, so it scores the latent, and its "
                       "paired_diff is against chance (1 / contexts in the prompt), not against shuffled labels",
    }
    atomic_write_json(st_dir / InterpretFiles.SUMMARY, summary)
    return summary


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
    if not icfg.embedding_model or "embedding" not in icfg.scorers:
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
    for s in ("base", "tuned"):
        sc = summary["scores"][s]
        logger.info("%s: %d/%d labelled, %d failed; detection own-floor %s [%s, %s] over %d latents (sign p %s); "
                    "embedding own-floor %s; intruder minus chance %s", s, sc["labelled"], sc["latents"], sc["failed"],
                    _fmt(sc["detection_paired_diff"]), _fmt(sc["detection_paired_ci_low"]),
                    _fmt(sc["detection_paired_ci_high"]), sc["detection_paired_n"],
                    _fmt(sc["detection_paired_sign_p"]), _fmt(sc["embedding_paired_diff"]),
                    _fmt(sc.get("intruder_paired_diff")))
    return summary


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


__all__ = ["run", "choose_latents", "choose_donors", "collect_examples", "context_ids", "derangement",
           "paired_stats", "write_outputs"]
