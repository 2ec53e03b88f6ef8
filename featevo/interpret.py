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
from tqdm.auto import tqdm

from featevo.activations import ActivationStore, TokenTable
from featevo.config import InterpretConfig, PipelineConfig
from featevo.errors import ConfigError
from featevo.io import StageRun, atomic_write_json, atomic_write_text, read_json, require_stage, stage_is_current
from featevo.layout import (
    COMPARE, DELTAS, INTERPRET, LLM_SERVER_LOG, TRAIN, DeltasFiles, InterpretFiles, TrainFiles, display_path, log_path,
    models as run_models, sae_dir, split_dir, stage_dir, upstream_stages,
)
from featevo.results import LABELS, LABELS_SUMMARY, CompareResult, DeltasResult
from featevo.models import load_tokenizer, resolve_device
from featevo.sae import encode, load_sae

logger = logging.getLogger(__name__)

MODELS = ("base", "tuned")
# The local server's prompt cache (shared prompt prefixes). llama-cpp-python evicts by the llama state size
# only, while each cached state also holds its prompt's logits (tokens x vocabulary floats, ~200 MB for a
# 1,000-token prompt with SmolLM2), so the default 2 GiB capacity let the server grow to 17 GB RSS in the demo
# and be killed by the out-of-memory killer. 128 MiB keeps about five states, enough for consecutive prompts.
PROMPT_CACHE = {"cache": True, "cache_size": 128 << 20}
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


def collect_examples(
    sae_dir: Path, split_dir: Path, model_key: str, latents: list[int], icfg: InterpretConfig, seed: int,
    device: torch.device,
) -> dict[int, LatentExamples]:
    """Per-document activations of ``latents`` over the training split (streamed shard by shard)."""
    tt = TokenTable(split_dir)
    store = ActivationStore(split_dir / model_key)
    sae = load_sae(sae_dir, device)
    idx = torch.tensor(latents, dtype=torch.long)
    n_rows = min(store.n_rows, icfg.max_tokens)
    parts = []
    for x in tqdm(store.iter_rows(n_rows), desc=f"encode {model_key}", unit="chunk"):
        parts.append(encode(sae, x)[:, idx])
    acts = torch.cat(parts)  # [rows, chosen]
    row_doc = torch.from_numpy(tt.row_doc[:n_rows]).long()
    n_docs = int(row_doc.max()) + 1 if n_rows else 0
    doc_idx = row_doc[:, None].expand(-1, len(latents))
    doc_max = torch.zeros(n_docs, len(latents)).scatter_reduce(0, doc_idx, acts, "amax")
    starts = np.searchsorted(tt.row_doc[:n_rows], np.arange(n_docs + 1))
    rng = random.Random(seed)
    out = {}
    for j, lat in enumerate(latents):
        order = torch.argsort(doc_max[:, j], descending=True)
        active = [int(d) for d in order if doc_max[d, j] > 0]
        inactive = [d for d in range(n_docs) if doc_max[d, j] <= 0]
        top = active[: icfg.max_activating]
        rest = active[icfg.max_activating :]
        top += rng.sample(rest, min(len(rest), icfg.max_activating // 2))  # lower quantiles too
        windows = []
        for d in top:
            s, e = int(starts[d]), int(starts[d + 1])
            windows.append((tt.row_token[s:e].tolist(), acts[s:e, j].tolist()))
        non = [tt.row_token[int(starts[d]) : int(starts[d + 1])].tolist()
               for d in rng.sample(inactive, min(len(inactive), icfg.n_non_activating))]
        out[lat] = LatentExamples(windows, non, len(active), float(doc_max[:, j].max()) if n_docs else 0.0)
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
@dataclass
class Labeller:
    client: Any
    icfg: InterpretConfig
    grammar: bool
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

    def explainer(self, temperature: float):
        from featevo import delphi_compat as dc

        gen = {"max_tokens": self.icfg.explain_max_tokens}
        if self.grammar:
            gen["grammar"] = dc.EXPLANATION_GRAMMAR
        return dc.DefaultExplainer(self.client, threshold=0.3, temperature=temperature, activations=False,
                                   cot=False, generation_kwargs=gen)

    async def explain(self, record) -> dict:
        from featevo.delphi_compat import is_parsed_explanation

        attempts = []
        for attempt in range(self.icfg.max_retries + 1):
            self.client.tag = f"explain#{attempt}"
            n_calls = len(self.client.calls)
            try:
                res = await self.explainer(0.0 if attempt == 0 else 0.7)(record)
                label = res.explanation
            except Exception as e:  # network/server failure of this attempt
                label, raw = None, f"error: {e!r}"
            else:
                raw = next((c.get("response") for c in reversed(self.client.calls[n_calls:]) if "response" in c), "")
            attempts.append(raw)
            if label is not None and is_parsed_explanation(label):
                return {"label": label.strip(), "attempts": len(attempts), "raw": attempts}
        return {"label": None, "attempts": len(attempts), "raw": attempts, "failure": "explanation could not be parsed"}

    async def score(self, record, label: str) -> dict:
        from featevo.delphi_compat import classifier_metrics

        record.explanation = label
        out = {}
        for name, scorer in self.scorers.items():
            self.client.tag = name
            try:
                res = await scorer(record)
                m = classifier_metrics(res.score)
                m["predictions"] = [
                    {"text": "".join(o.str_tokens), "activating": bool(o.activating), "prediction": o.prediction}
                    for o in res.score
                ]
            except Exception as e:  # a scorer that crashes is a failure of this latent's score
                m = {"accuracy": None, "f1_score": None, "error": repr(e)}
            out[name] = m
        return out


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


async def _label_all(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], examples, tok, client,
                     grammar: bool) -> None:
    icfg = cfg.interpret
    lab = Labeller(client, icfg, grammar)
    lat_dir = st_dir / InterpretFiles.LATENTS
    prompts_dir = st_dir / InterpretFiles.PROMPTS
    todo = [(m, lat) for m in MODELS for lat in chosen[m]]
    t0 = time.perf_counter()
    done_now = 0
    for m, lat in tqdm(todo, desc="label latents", unit="latent"):
        path = lat_dir / f"{m}_{lat}.json"
        if path.is_file():
            continue
        ex = examples[m][lat]
        client.calls = []
        result: dict[str, Any] = {"sae": m, "latent": lat, "n_docs_active": ex.n_docs_active,
                                  "max_activation": ex.max_activation}
        if not ex.activating:
            result.update(label=None, failure=DEAD_FAILURE)
        else:
            record = _record(m, lat, ex, tok, icfg, cfg.seed)
            result["n_train"], result["n_test"], result["n_non_activating"] = (
                len(record.train), len(record.test), len(record.not_active))
            result.update(await lab.explain(record))
            if result["label"] is not None:
                result["scores"] = await lab.score(record, result["label"])
        result["seconds"] = round(sum(c["seconds"] for c in client.calls), 2)
        atomic_write_text(prompts_dir / f"{m}_{lat}.txt", _prompt_text(client.calls))
        atomic_write_json(path, result)
        done_now += 1
    if done_now:
        logger.info("labelled %d latents in %.0fs (%.2f latents/min)", done_now, time.perf_counter() - t0,
                    60 * done_now / max(time.perf_counter() - t0, 1e-9))

    # the floor: each latent scored with another latent's label
    shuf_dir = st_dir / InterpretFiles.SHUFFLED
    for m in MODELS:
        results = {lat: read_json(lat_dir / f"{m}_{lat}.json") for lat in chosen[m]}
        labelled = [lat for lat, r in results.items() if r.get("label")]
        perm = derangement(labelled, cfg.seed + (0 if m == "base" else 1))
        for lat, donor in tqdm(list(zip(labelled, perm)), desc=f"shuffled floor {m}", unit="latent"):
            path = shuf_dir / f"{m}_{lat}.json"
            if path.is_file() or lat == donor:
                continue
            client.calls = []
            record = _record(m, lat, examples[m][lat], tok, icfg, cfg.seed)
            scores = await lab.score(record, results[donor]["label"])
            atomic_write_json(path, {"sae": m, "latent": lat, "label_from": donor,
                                     "label": results[donor]["label"], "scores": scores})


def _mean(xs: list) -> float | None:
    xs = [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]
    return float(np.mean(xs)) if xs else None


def _score(r: dict | None, name: str, key: str = "accuracy"):
    if not r or "scores" not in r:
        return None
    return r["scores"].get(name, {}).get(key)


@dataclass
class LabelResults:
    """The per-latent files of :func:`_label_all` for the chosen latents."""

    latents: dict[str, dict[int, dict]]           # sae -> latent -> latents/<sae>_<latent>.json
    shuffled: dict[str, dict[int, dict | None]]   # sae -> latent -> shuffled/<sae>_<latent>.json (None: absent)

    @classmethod
    def load(cls, st_dir: Path, chosen: dict[str, list[int]]) -> "LabelResults":
        def shuffled(m: str, lat: int) -> dict | None:
            p = st_dir / InterpretFiles.SHUFFLED / f"{m}_{lat}.json"
            return read_json(p) if p.is_file() else None

        return cls({m: {lat: read_json(st_dir / InterpretFiles.LATENTS / f"{m}_{lat}.json") for lat in chosen[m]}
                    for m in MODELS},
                   {m: {lat: shuffled(m, lat) for lat in chosen[m]} for m in MODELS})

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
        "base_detection": _score(rb, "detection"), "base_fuzzing": _score(rb, "fuzzing"),
        "tuned_detection": _score(rt, "detection"), "tuned_fuzzing": _score(rt, "fuzzing"),
        "base_detection_shuffled": _score(lr.get_shuffled("base", b), "detection") if b is not None else None,
        "tuned_detection_shuffled": _score(lr.get_shuffled("tuned", t), "detection") if t is not None else None,
    }
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


def summary_row(m: str, lr: LabelResults) -> dict:
    """``labels_summary.csv``'s row of SAE ``m``: counts, mean scores and the shuffled floor."""
    rs = list(lr.latents[m].values())
    labelled = [r for r in rs if r.get("label")]
    entry = {
        "sae": m, "latents": len(rs), "labelled": len(labelled),
        "failed": sum(1 for r in rs if r.get("label") is None and r.get("failure") != DEAD_FAILURE),
        "dead": sum(1 for r in rs if r.get("failure", "").startswith("dead latent")),
        "retried": sum(1 for r in rs if r.get("attempts", 1) > 1),
    }
    for name in ("detection", "fuzzing"):
        for metric in ("accuracy", "f1_score"):
            entry[f"{name}_{metric}_mean"] = _mean([_score(r, name, metric) for r in labelled])
            entry[f"{name}_{metric}_shuffled_mean"] = _mean(
                [_score(lr.get_shuffled(m, r["latent"]), name, metric) for r in labelled])
        beats = [(_score(r, name), _score(lr.get_shuffled(m, r["latent"]), name)) for r in labelled]
        beats = [(a, b) for a, b in beats if a is not None and b is not None]
        entry[f"{name}_beats_shuffled_fraction"] = (sum(a > b for a, b in beats) / len(beats)) if beats else None
    return entry


def write_outputs(cfg: PipelineConfig, st_dir: Path, chosen: dict[str, list[int]], wall_s: float,
                  backend_info: dict) -> dict:
    """The stage's tables and JSON files from the per-latent files; returns the summary."""
    lr = LabelResults.load(st_dir, chosen)
    LABELS.write(st_dir, label_rows(cfg, chosen, lr))
    summary_rows = [summary_row(m, lr) for m in MODELS]
    LABELS_SUMMARY.write(st_dir, summary_rows)
    atomic_write_json(st_dir / InterpretFiles.EXPLANATIONS, {
        m: {str(lat): r for lat, r in lr.latents[m].items()} for m in MODELS})
    n_done = sum(s["latents"] for s in summary_rows)
    summary = {
        "backend": backend_info, "latents_per_sae": {m: len(chosen[m]) for m in MODELS},
        "failures": {s["sae"]: s["failed"] for s in summary_rows},
        "scores": {s["sae"]: {k: v for k, v in s.items() if k not in ("sae",)} for s in summary_rows},
        "wall_time_s": round(wall_s, 1),
        "latents_per_minute": round(60 * n_done / wall_s, 2) if wall_s > 0 else None,
        "metric_note": "accuracy = balanced accuracy over scorer examples whose prediction parsed (Delphi's "
                       "result analysis); shuffled = the same latent scored with another latent's label",
    }
    atomic_write_json(st_dir / InterpretFiles.SUMMARY, summary)
    return summary


def run(cfg: PipelineConfig, force: bool = False) -> Path:
    for up in upstream_stages(cfg, INTERPRET):
        require_stage(cfg, up, verify_files=False)
    if not force and stage_is_current(cfg, INTERPRET):
        logger.info("stage %s is up to date (use --force to rerun): %s", INTERPRET,
                    display_path(stage_dir(cfg, INTERPRET)))
        return stage_dir(cfg, INTERPRET)
    icfg = cfg.interpret
    if icfg.backend == "openai" and not icfg.base_url:
        raise ConfigError("interpret.backend=openai needs interpret.base_url (an OpenAI-compatible /v1 root)")
    device = resolve_device(cfg.device)
    st = StageRun(cfg, INTERPRET, device=str(device)).open()
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
    backend_info = {"backend": icfg.backend, "model": icfg.model}

    async def go(base_url: str | None, model_name: str, grammar: bool) -> None:
        client = make_client(icfg, base_url, model_name)
        try:
            await _label_all(cfg, st.dir, chosen, examples, tok, client, grammar)
        finally:
            if hasattr(client, "aclose"):
                await client.aclose()

    if icfg.backend == "local":
        from featevo.llm_server import LocalLLMServer, find_smollm2_gguf

        gguf = find_smollm2_gguf() if icfg.model == "smollm2" else Path(icfg.model)
        backend_info["gguf"] = gguf.name
        log = log_path(cfg, INTERPRET).with_name(LLM_SERVER_LOG)
        log.parent.mkdir(parents=True, exist_ok=True)
        with LocalLLMServer(model_path=gguf, n_ctx=icfg.n_ctx, n_threads=icfg.n_threads or None, log_path=log,
                            extra_args=PROMPT_CACHE) as srv:
            asyncio.run(go(srv.base_url, srv.model_name, grammar=True))
    elif icfg.backend == "openai":
        asyncio.run(go(icfg.base_url, icfg.model, grammar=False))
    else:
        asyncio.run(go(None, icfg.model, grammar=False))
    summary = write_outputs(cfg, st.dir, chosen, time.perf_counter() - t0, backend_info)
    for s in ("base", "tuned"):
        sc = summary["scores"][s]
        logger.info("%s: %d/%d labelled, %d failed; detection %s (shuffled %s), fuzzing %s (shuffled %s)", s,
                    sc["labelled"], sc["latents"], sc["failed"], _fmt(sc["detection_accuracy_mean"]),
                    _fmt(sc["detection_accuracy_shuffled_mean"]), _fmt(sc["fuzzing_accuracy_mean"]),
                    _fmt(sc["fuzzing_accuracy_shuffled_mean"]))
    st.commit()
    return stage_dir(cfg, INTERPRET)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.3f}"


__all__ = ["run", "choose_latents", "collect_examples", "derangement", "write_outputs"]
