"""Benchmark featevo against plain PyTorch, sparsify and sae-lens on this machine (``make bench``).

    .venv/bin/python benchmarks/run_benchmarks.py            # all sections, about 5-8 minutes on 2 CPU cores
    .venv/bin/python benchmarks/run_benchmarks.py --sections harvest sae_steps

Writes ``benchmarks/results/<host-kind>.json`` (every number, per-round times included) and
``benchmarks/results/<host-kind>.md`` (the tables). See ``benchmarks/bench.py`` for what is measured.

Environment: unless already set, the script sets ``OMP_WAIT_POLICY=PASSIVE`` (on a busy machine
spinning OpenMP threads slow every torch op down several-fold; ``--omp-wait-policy default`` keeps the
library default), ``MALLOC_MMAP_THRESHOLD_=131072`` (freed tensors go back to the OS, so RSS follows
live memory), ``SPARSIFY_DISABLE_TRITON=1`` and the offline flags, then re-executes itself so that
they apply from process start.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK = "FEATEVO_BENCH_ENV"


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host-kind", default=None, help="results file name (default: cpu-<cores>core-<cpu model>)")
    ap.add_argument("--out-dir", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--work-dir", default=None, help="scratch folder for harvested shards (default: a temp dir)")
    ap.add_argument("--sections", nargs="+", default=None,
                    choices=["harvest", "scale", "sae_steps", "quality", "omp", "end_to_end"])
    ap.add_argument("--omp-wait-policy", default="PASSIVE", choices=["PASSIVE", "ACTIVE", "default"])
    ap.add_argument("--e2e-run", default="demo", help="run folder under outputs/ whose manifests give stage times")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run, numbers not meaningful)")
    return ap.parse_args(argv)


def ensure_env(args) -> None:
    if os.environ.get(MARK) == "1":
        return
    env = dict(os.environ)
    env[MARK] = "1"
    if args.omp_wait_policy != "default":
        env.setdefault("OMP_WAIT_POLICY", args.omp_wait_policy)
    env.setdefault("MALLOC_MMAP_THRESHOLD_", "131072")
    env.setdefault("SPARSIFY_DISABLE_TRITON", "1")
    for k, v in (("HF_HUB_OFFLINE", "1"), ("HF_DATASETS_OFFLINE", "1"), ("TOKENIZERS_PARALLELISM", "false"),
                 ("WANDB_MODE", "disabled"), ("TQDM_DISABLE", "1")):
        env.setdefault(k, v)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def main(argv=None) -> int:
    args = parse(argv)
    ensure_env(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("featevo.sae").setLevel(logging.WARNING)
    from bench import BenchSettings, host_kind, run_all, to_markdown  # benchmarks/bench.py, beside this script

    settings = BenchSettings(e2e_run=args.e2e_run)
    if args.sections:
        settings.sections = tuple(args.sections)
    if args.quick:
        settings = dataclasses.replace(
            settings, harvest_rounds=1, minilm_docs_per_round=16, bert_rounds=1, bert_docs_per_round=8, sae_rounds=1,
            sae_configs=((384, 200), (768, 200)), big_config_rounds=1, dead_fraction_config=None,
            scale_sizes=(1000, 2000, 4000), scale_shard_tokens=512, scale_train_steps=4, quality_steps=4,
            quality_steps_8x=2, eval_docs=16, omp_check=False)
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="featevo-bench-"))
    try:
        results = run_all(settings, work)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    kind = args.host_kind or host_kind()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{kind}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / f"{kind}.md").write_text(to_markdown(results))
    print(f"wrote {out / kind}.json and .md in {results['benchmark_wall_s']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
