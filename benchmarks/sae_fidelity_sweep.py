"""SAE training settings against held-out FVU and loss recovered at real-token positions (issue 23).

Trains one SAE per (variant, model) on a finished run's stored stage-01 activations, with stage 01's seed
for that model's first SAE, then evaluates every variant of a model in one :func:`featevo.fidelity.
loss_recovered_many` pass (stage 01's masked tokens, ``eval_docs`` documents, the real-token splice and
zero-ablation at the same positions). Reads only; writes SAEs under ``--work``.

    PYTHONPATH=. python benchmarks/sae_fidelity_sweep.py --run outputs/demo --models base,tuned \\
        --variant now: --variant lr2e-3:lr=2e-3
A variant is ``name:key=value,...`` over :class:`featevo.config.SAEConfig` fields (empty: the run's config).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

import torch

from featevo.activations import ActivationStore, TokenTable
from featevo.config import SAEConfig
from featevo.fidelity import activation_mean, loss_recovered_many
from featevo.models import load_model, load_tokenizer
from featevo.config_sections import ModelConfig
from featevo.sae import load_sae, reconstruction_metrics, train_sae

SEEDS = {"base": 0, "tuned": 1000, "control": 2000, "planted": 3000}


def _value(v: str):
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(v.lower(), v)


def parse_variant(spec: str) -> tuple[str, dict]:
    name, _, rest = spec.partition(":")
    kv = dict(item.split("=", 1) for item in rest.split(",") if item)
    return name, {k: _value(v) for k, v in kv.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="a run folder (outputs/<run>)")
    ap.add_argument("--models", default="base,tuned")
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--work", type=Path, default=None,
                    help="where the trained SAEs go (default: <run>/../_fid_sweep_<run name>, beside the run)")
    ap.add_argument("--eval-docs", type=int, default=256)
    ap.add_argument("--replicate", type=int, default=0, help="seed of stage 01's SAE r of the model (0: first)")
    args = ap.parse_args()
    args.work = args.work or args.run.parent / f"_fid_sweep_{args.run.name}"
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    s1 = args.run / "01_train_sae"
    run_cfg = json.loads((s1 / "manifest.json").read_text())["config"]["sae"]
    base_cfg = SAEConfig(**{k: v for k, v in run_cfg.items() if k in {f.name for f in dataclasses.fields(SAEConfig)}})
    variants = dict(parse_variant(v) for v in args.variant)
    tt = TokenTable(s1 / "eval")
    tokens = {"input_ids": tt.input_ids, "attention_mask": tt.attention_mask, "keep_mask": tt.keep_mask}
    rows = []
    for key in args.models.split(","):
        store = ActivationStore(s1 / "train" / key)
        saes, secs = {}, {}
        for name, over in variants.items():
            cfg = dataclasses.replace(base_cfg, checkpoint_every=10**9, **over)
            work = args.work / name / key
            if work.exists():
                shutil.rmtree(work)
            t0 = time.perf_counter()
            res = train_sae(store, cfg, work, SEEDS[key] + args.replicate, torch.device("cpu"), key, "layer",
                            desc=f"{name}/{key}")
            secs[name] = time.perf_counter() - t0
            saes[name] = load_sae(res.sae_dir)
        mcfg = ModelConfig(name=str(args.run / "01_twin" / key))
        model = load_model(mcfg, head="mlm", device=torch.device("cpu"))
        fid = loss_recovered_many(
            model, "mlm", {n: (lambda h, s=s: s.decode(s.encode(h))) for n, s in saes.items()}, tokens, 4,
            load_tokenizer(mcfg).mask_token_id, torch.device("cpu"), seed=0, max_docs=args.eval_docs,
            mean_activation=activation_mean(store.iter_rows()))
        for name, sae in saes.items():
            rec = reconstruction_metrics(sae, ActivationStore(s1 / "eval" / key))
            f = fid[name]
            rows.append({"variant": name, "model": key, "replicate": args.replicate, "fvu": rec["fvu"],
                         "dead_eval": rec["dead_fraction_eval"],
                         "loss_recovered": f["loss_recovered"], "delta_ce_nats": f["delta_ce_nats"],
                         "seconds": secs[name]})
            print(json.dumps(rows[-1]), flush=True)
    print(f"{'variant':24s} {'model':8s} {'FVU':>6s} {'dead':>5s} {'LR_real':>7s} {'dCE':>6s} {'sec':>5s}")
    for r in rows:
        print(f"{r['variant']:24s} {r['model']:8s} {r['fvu']:6.3f} {r['dead_eval']:5.2f} {r['loss_recovered']:7.3f} "
              f"{r['delta_ce_nats']:6.3f} {r['seconds']:5.1f}")


if __name__ == "__main__":
    main()
