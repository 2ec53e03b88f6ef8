"""A CSV of long, real-looking articles through stages 01-03 (twin included): no token is dropped silently.

The fixture writes 30 articles of several hundred tokens each (two domains, category and story-cluster columns,
quoted commas and line breaks inside fields) and runs the tiny model through the twin, stage 01, 02 and 03 with
overlapping windows and a window cap. Stage 01's manifest must account for every token the tokenizer finds in
the CSV's text column (read here with pandas, not featevo's loader): kept, or dropped for a named reason.
"""

from __future__ import annotations

import random

import pandas as pd
import pytest
from conftest import tiny_config_dict

from featevo.config import config_from_dict
from featevo.io import read_json, require_stage
from featevo.layout import COMPARE, DELTAS, TRAIN, TWIN, TrainFiles, acts_dir, split_dir, stage_dir

MAX_LENGTH, STRIDE, MAX_WINDOWS = 48, 30, 8

STORIES = {
    ("markets", "financial"): [
        "Shares of {c} fell {n} percent on Tuesday after the company cut its full-year outlook, citing weaker "
        "freight volumes in Europe.",
        "Ten-year Treasury yields rose to {n} basis points above the two-year note, the steepest curve since March.",
        "\"We are not panicking, but we are watching the credit markets closely,\" said a portfolio manager at {c}.",
    ],
    ("earnings", "financial"): [
        "{c} reported quarterly earnings of {n} cents per share, beating analyst estimates by a wide margin.",
        "Revenue at {c} grew {n} percent, while operating margins widened to their highest level in three years.",
        "The board approved a buyback of {n} million dollars, and the dividend was raised for a fifth year.",
    ],
    ("banking", "financial"): [
        "{c} Bank raised its loan-loss provisions by {n} million dollars as commercial property prices slid.",
        "Deposits at regional lenders fell {n} percent during the quarter, according to central bank data.",
        "Analysts said net interest income, the bank's main profit engine, would peak later this year.",
    ],
    ("sports", "general"): [
        "The home side won by {n} points after a late comeback, with the captain scoring twice in the final minutes.",
        "Fans queued for hours outside the stadium; {n} thousand tickets sold out within an hour of release.",
        "\"It was a strange game, but we never stopped believing,\" the coach told reporters afterwards.",
    ],
    ("weather", "general"): [
        "Heavy rain is expected across the coast, with up to {n} millimetres forecast for the weekend.",
        "Temperatures will climb to {n} degrees by Saturday afternoon before a cold front arrives on Monday.",
        "Forecasters warned drivers to avoid the mountain passes, where snow and ice made several roads unsafe.",
    ],
    ("science", "general"): [
        "Researchers observed {n} new species of beetle in the rainforest canopy during a two-year survey.",
        "The telescope captured light from a galaxy that formed roughly {n} million years after the Big Bang.",
        "The team said the results, published on Wednesday, still need to be confirmed by independent groups.",
    ],
}
COMPANIES = ["Northwind Holdings", "Globex", "Initech", "Umbrella Corp.", "Vandelay Industries", "Hooli"]


def write_articles(path, n_per_category: int = 5, seed: int = 0) -> pd.DataFrame:
    """Articles of 10-30 sentences (about 200-700 tokens), each from one story (its cluster)."""
    r = random.Random(seed)
    rows = []
    for (cat, _dom), sentences in STORIES.items():
        for i in range(n_per_category):
            k = r.randint(10, 30)
            paras = [" ".join(r.choice(sentences).format(c=r.choice(COMPANIES), n=r.randint(2, 99))
                              for _ in range(r.randint(2, 4))) for _ in range(k // 3)]
            rows.append({"id": f"{cat}-{i}", "title": f"{cat.title()} report {i}", "text": "\n\n".join(paras),
                         "category": cat, "template": f"{cat}/story{i % 2}"})
    r.shuffle(rows)
    df = pd.DataFrame(rows)
    df.to_csv(path, index=False)
    return df


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory, tiny_model_dir, tiny_data):
    from featevo import compare, deltas
    from featevo.train import run

    root = tmp_path_factory.mktemp("csv_e2e")
    df = write_articles(root / "articles.csv")
    data = {"corpus": root / "articles.csv", "probe": tiny_data["probe"]}
    d = tiny_config_dict(root / "outputs", tiny_model_dir, data,
                         harvest={"layer": 1, "max_length": MAX_LENGTH, "stride": STRIDE, "max_windows": MAX_WINDOWS,
                                  "batch_size": 32, "shard_tokens": 4000},
                         twin={"control": False, "planted": {}, "steps": 4, "head_fit_max_steps": 10,
                               "head_fit_eval_every": 5, "head_fit_maskings": 1},
                         sae={"num_latents": 24, "k": 4, "training_tokens": 2048, "batch_size": 256, "seeds": 2,
                              "checkpoint_every": 100, "dead_window_tokens": 2000, "eval_docs": 16})
    cfg = config_from_dict(d)
    run(cfg)
    compare.run(cfg)
    deltas.run(cfg)
    return cfg, df


def test_every_csv_token_is_kept_or_dropped_for_a_named_reason(csv_run, minilm_dir):
    from transformers import AutoTokenizer

    from featevo.activations import TokenTable

    cfg, df = csv_run
    tok = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    n_tokens = [len(tok(t, add_special_tokens=False)["input_ids"]) for t in df["text"]]
    assert min(n_tokens) > 2 * MAX_LENGTH and sum(n > 300 for n in n_tokens) >= 10  # long articles, many windows
    body = MAX_LENGTH - 2  # [CLS] and [SEP]
    cap = (MAX_WINDOWS - 1) * STRIDE + body  # the most text tokens harvest.max_windows windows cover
    man = require_stage(cfg, TRAIN)
    acc = man["tokenisation"]
    assert set(acc) == {"train", "eval"}
    assert sum(a["documents"] for a in acc.values()) == len(df)
    # kept (each text token once, overlap repeats are context only) + truncated = the tokenizer's count of the CSV
    assert sum(a["tokens_kept"] + a["dropped"]["truncation"] for a in acc.values()) == sum(n_tokens)
    assert sum(a["dropped"]["truncation"] for a in acc.values()) == sum(max(0, n - cap) for n in n_tokens) > 0
    for split, a in acc.items():
        assert a["tokens_kept"] + sum(a["dropped"].values()) == a["tokens_total"], split
        assert a["dropped"]["special_tokens"] == 2 * a["windows"] and a["context_only"] > 0
        assert a["documents_split"] == a["documents"]  # every article needed several windows
        tt = TokenTable(split_dir(stage_dir(cfg, TRAIN), split))
        assert len(tt.docs) == a["documents"] and tt.input_ids.shape[0] == a["windows"]
        assert tt.n_rows == a["tokens_kept"] == read_json(acts_dir(stage_dir(cfg, TRAIN), split, "base") /
                                                          TrainFiles.INDEX)["n_rows"]
        assert sum(len(tok(d.text, add_special_tokens=False)["input_ids"]) for d in tt.docs) == \
            a["tokens_kept"] + a["dropped"]["truncation"]
        assert {d.cluster for d in tt.docs} <= set(df["template"])  # the cluster column came through
    # the twin trained on the same windows, with the same accounting
    twin = read_json(stage_dir(cfg, TWIN) / "twin_report.json")
    assert twin["tokenisation"]["corpus_train"] == acc["train"] and twin["tokenisation"]["corpus_eval"] == acc["eval"]
    tuned = twin["twins"]["tuned"]["tokenisation"]
    assert tuned["documents"] == twin["target_train_docs"] and tuned["windows"] > tuned["documents"]
    assert tuned["tokens_kept"] + sum(tuned["dropped"].values()) == tuned["tokens_total"]
    # stages 02 and 03 ran on it, and stage 03 measured the twins on the probe
    require_stage(cfg, COMPARE)
    require_stage(cfg, DELTAS)
    tw = read_json(stage_dir(cfg, DELTAS) / "twin_eval.json")
    assert set(tw["eval_mlm_loss"]["target"]) >= {"base", "tuned"}


def test_a_new_probe_leaves_the_twin_and_stage01_current(csv_run, tmp_path):
    """On real stage outputs (twin enabled): a swapped probe set reruns stage 03, never the twin or the SAEs."""
    import dataclasses
    import shutil

    from featevo.data import input_files
    from featevo.io import hash_inputs, stage_is_current
    from featevo.train import run

    cfg, _ = csv_run
    probe2 = tmp_path / "probe2.jsonl"
    shutil.copy(cfg.data.probe, probe2)
    with open(probe2, "a", encoding="utf-8") as f:
        f.write('{"text": "Another sentence about bonds.", "category": "credit", "template": "credit/9"}\n')
    cfg2 = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, probe=str(probe2)))
    corpus = hash_inputs(input_files(cfg2.data, probe=False))
    assert stage_is_current(cfg2, TWIN, corpus) and stage_is_current(cfg2, TRAIN, corpus)
    assert stage_is_current(cfg2, COMPARE, None)
    assert not stage_is_current(cfg2, DELTAS, hash_inputs([probe2]))
    before = {s: (stage_dir(cfg, s) / "manifest.json").read_bytes() for s in (TWIN, TRAIN)}
    run(cfg2)  # stage 01 (and the twin it would make) skip
    assert {s: (stage_dir(cfg, s) / "manifest.json").read_bytes() for s in (TWIN, TRAIN)} == before
