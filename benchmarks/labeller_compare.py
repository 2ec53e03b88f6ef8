"""Stage 04 on a finished run's latents with another local labeller or scorer set, written elsewhere.

Reads stage 01-03 of ``--config``'s run (never writes there) and labels the same latents stage 04 would, with
``--model`` (``smollm2`` or a GGUF path) and ``--scorers``, writing per-latent files and ``result.json`` (per-SAE
own-minus-floor statistics, labels, seconds per call kind) under ``--out``. Used for docs/labelling.md's
comparison of local labellers::

    python benchmarks/labeller_compare.py --config configs/demo.yaml --out outputs/labeller_gemma \\
        --model models/gemma-3-270m-q4_k_m.gguf --chat-format gemma --scorers detection,embedding
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
from dataclasses import replace
from pathlib import Path

from featevo import interpret as it
from featevo.config import load_config
from featevo.io import read_json
from featevo.layout import TRAIN, TrainFiles, sae_dir, split_dir, stage_dir
from featevo.layout import models as run_models
from featevo.llm_server import LocalLLMServer
from featevo.models import load_tokenizer, resolve_device

KEEP = ("_scored", "_failed", "_undefined", "_accuracy_mean", "_accuracy_shuffled_mean", "_chance_mean",
        "_paired_diff", "_paired_ci_low", "_paired_ci_high", "_paired_n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--set", action="append", default=[], help="config override, e.g. output_root=/path")
    ap.add_argument("--out", required=True, type=Path, help="folder for this comparison's files (not the run)")
    ap.add_argument("--model", default="smollm2", help="smollm2 or a local GGUF path")
    ap.add_argument("--chat-format", default=None, help="llama-cpp chat format for a GGUF without a template")
    ap.add_argument("--scorers", default="detection,embedding,intruder")
    ap.add_argument("--no-baseline", action="store_true", help="skip the top-token baseline label")
    a = ap.parse_args()

    cfg = load_config(a.config, a.set)
    cfg = replace(cfg, interpret=replace(cfg.interpret, scorers=a.scorers.split(","), cross_score_pairs=False,
                                         baseline_label=not a.no_baseline))
    icfg = cfg.interpret
    out = a.out.resolve()
    if out.is_relative_to(stage_dir(cfg, TRAIN).parent.resolve()):
        raise SystemExit("--out must not be inside the run's outputs")
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device("cpu")
    s1 = stage_dir(cfg, TRAIN)
    tok = load_tokenizer(run_models(cfg)["base"])
    d_sae = {m: read_json(sae_dir(s1, m) / TrainFiles.SAE_CFG)["d_sae"] for m in it.MODELS}
    chosen = it.choose_latents(cfg, d_sae)
    examples = {m: it.collect_examples(sae_dir(s1, m), split_dir(s1, "train"), m, chosen[m], icfg, cfg.seed, device)
                for m in it.MODELS}
    embedder = it._load_embedder(icfg, device)
    extra = dict(it.PROMPT_CACHE)
    if a.chat_format:
        extra["chat_format"] = a.chat_format
    t0 = time.perf_counter()
    with LocalLLMServer(model_path=it.resolve_gguf(a.model), n_ctx=icfg.n_ctx, n_threads=icfg.n_threads or None,
                        log_path=out / "server.log", extra_args=extra) as srv:
        async def go() -> None:
            client = it.make_client(icfg, srv.base_url, srv.model_name)
            try:
                await it._label_all(cfg, out, chosen, examples, tok, client, True, embedder, None,
                                    lambda: srv.running)
            finally:
                await client.aclose()

        asyncio.run(go())
    res: dict = {"model": a.model, "scorers": icfg.scorers, "wall_s": round(time.perf_counter() - t0, 1), "sae": {}}
    per_call: dict[str, list[float]] = {}
    for f in sorted((out / "prompts").glob("*.txt")):
        for stage, sec in re.findall(r"^===== (\S+) \(([\d.]+)s\) =====$", f.read_text(), re.M):
            per_call.setdefault(stage.split("#")[0], []).append(float(sec))
    res["seconds_by_call_kind"] = {k: {"calls": len(v), "total_s": round(sum(v), 1)} for k, v in per_call.items()}
    lr = it.LabelResults.load(out, chosen)
    for m in it.MODELS:
        row = it.summary_row(m, lr, cfg.seed)
        res["sae"][m] = {k: v for k, v in row.items() if k in ("latents", "labelled", "failed") or k.endswith(KEEP)}
        res["sae"][m]["labels"] = {lat: r.get("label") for lat, r in lr.latents[m].items()}
    (out / "result.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
