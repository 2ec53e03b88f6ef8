"""A study-shaped run: BERT-base-shaped random models through every stage of ``make study``'s order.

The study (configs/bert_finbert.yaml) pairs a masked-LM base (bert-base-uncased: 12 blocks, d 768) with a
``BertForSequenceClassification`` tuned model (ProsusAI/finbert), on a corpus of one domain without category
column, with the replica and the planted twin continuing the tuned model's masked-LM training. Here both models are
randomly initialised at that shape with the demo's tokenizer (MiniLM's), the corpus is a few hundred tokens of the
synthetic financial text carrying only a text column, and stage 04's LLM is scripted. Every size that sets the
run time is shrunk; nothing of the study's shape (width, depth, heads, classifier head, layer 6, controls) is.
Random weights cannot meet the report's loss-recovered gate, so ``report.min_loss_recovered`` is 0, as a user would
set it. The run is repeated with ``harvest.store_dtype: bfloat16`` (shards stored in bfloat16).
"""

from __future__ import annotations

import json
import math
import os

import pandas as pd
import pytest
import torch
from conftest import FIN, write_corpus
from test_dag import _Client  # stage 04's scripted LLM: every explanation is "numbers"

from featevo.config import ModelConfig, config_from_dict
from featevo.io import read_json
from featevo.layout import (
    CAUSAL, COMPARE, DELTAS, DIFFING, INTERPRET, REPORT, STUDY, TRAIN, TWIN, CompareFiles, DiffingFiles,
    ReportFiles, StudyFiles, TrainFiles, acts_dir, sae_specs, sae_work_dir, stage_dir,
)

D, BLOCKS, HEADS, FFN, LATENTS = 768, 12, 12, 3072, 16


@pytest.fixture(scope="module")
def bert_base_pair(tmp_path_factory, minilm_dir):
    """Random BERT-base-shaped models with MiniLM's tokenizer: an MLM base and a 3-label classifier (FinBERT's
    head) whose encoder is the base's moved a little."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM, BertForSequenceClassification

    root = tmp_path_factory.mktemp("bert_base")
    tok = AutoTokenizer.from_pretrained(minilm_dir, local_files_only=True)
    conf = BertConfig(vocab_size=len(tok), hidden_size=D, num_hidden_layers=BLOCKS, num_attention_heads=HEADS,
                      intermediate_size=FFN, max_position_embeddings=128, num_labels=3)
    torch.manual_seed(0)
    base = BertForMaskedLM(conf)
    base.save_pretrained(root / "base", safe_serialization=True)
    tok.save_pretrained(root / "base")
    clf = BertForSequenceClassification(conf)
    clf.bert.load_state_dict(base.bert.state_dict(), strict=False)  # the classifier's pooler stays its own
    with torch.no_grad():
        for p in clf.bert.encoder.parameters():
            p.add_(0.02 * torch.randn_like(p))
    clf.save_pretrained(root / "tuned", safe_serialization=True)
    tok.save_pretrained(root / "tuned")
    return root / "base", root / "tuned"


def _study_data(root):
    """A corpus of one domain carrying only a text column (the study's hub corpus) and a labelled probe."""
    full = write_corpus(root / "full.jsonl", 6, 0)
    rows = [json.loads(line) for line in full.read_text().splitlines()]
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in rows if r["category"] in FIN))
    return corpus, write_corpus(root / "probe.jsonl", 2, 1)


def _config(out_root, base, tuned, corpus, probe, store_dtype):
    return config_from_dict({
        "run_name": "study_shaped", "seed": 0, "device": "cpu", "output_root": str(out_root),
        "base_model": {"name": str(base), "fidelity_head": "mlm"},
        "tuned_model": {"name": str(tuned), "fidelity_head": "cls"},
        "twin": {"enabled": True, "steps": 2, "batch_size": 4, "lr": 5e-5, "head_fit_max_steps": 4,
                 "head_fit_eval_every": 2, "head_fit_maskings": 1, "checkpoint_every": 250, "replica": True,
                 "planted": {"stocks": "lanterns"}, "planted_from": "tuned", "control": False},
        "data": {"corpus": str(corpus), "probe": str(probe), "category_field": "category", "domain_field": None,
                 "corpus_domain": "target", "eval_fraction": 0.2},
        "harvest": {"layer": 6, "max_length": 16, "batch_size": 32, "exclude_special_tokens": True,
                    "shard_tokens": 256, "dtype": "float32", "store_dtype": store_dtype},
        "sae": {"num_latents": LATENTS, "k": 4, "training_tokens": 512, "batch_size": 128, "lr": 4e-4,
                "dead_window_tokens": 256, "checkpoint_every": 100, "seeds": 2, "wide_num_latents": 32,
                "wide_seeds": 2, "eval_docs": 4},
        "compare": {"max_tokens": 2000},
        "diffing": {"max_tokens": 1000, "stagewise": {"tokens": 256, "orders": 2, "domain_orders": 0},
                    "crosscoder": {"num_latents": 32, "k": 4, "tokens": 256, "null_pair": True},
                    "fixed_dictionary": {"n_permutations": 20, "n_bootstrap": 10}},
        "deltas": {"n_bootstrap": 20, "n_permutations": 20, "top_n": 3, "contexts_per_latent": 3,
                   "min_per_category": 2},
        "causal": {"top_n": 1, "n_random": 2, "n_bootstrap": 10, "batch_size": 64, "docs_per_template": 1},
        "study": {"top_n": 5, "emerging_n": 3, "delta_top_n": 5, "count_windows": 20, "n_bootstrap": 10},
        "interpret": {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "scripted", "latents": 1,
                      "scorers": ["detection"], "n_train": 3, "n_test": 2, "n_non_activating": 2,
                      "n_examples_shown": 2, "n_quantiles": 1, "explain_max_tokens": 40, "n_shuffled_donors": 1,
                      "cross_score_pairs": False},
        "report": {"min_loss_recovered": 0.0, "feature_cards": 2, "change_cards": 1},
    })


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def study_run(request, tmp_path_factory, bert_base_pair):
    """Every stage of ``make study``'s order (Makefile stage01..stage05) on the study-shaped config, once per
    shard dtype; returns the config. The bfloat16 run reuses the float32 run's twins (01_twin reads no harvest
    dtype, so the runner finds them current: the same skip a user's second run gets)."""
    from featevo import causal, compare, deltas, diffing, interpret, report, study_stage, train

    root = tmp_path_factory.mktemp(f"study_{request.param}")
    corpus, probe = _study_data(root)
    cfg = _config(root / "outputs", *bert_base_pair, corpus, probe, request.param)
    shared = getattr(request.config, "_study_shaped_twin", None)
    if shared is not None and shared[1] == (corpus.read_bytes(), probe.read_bytes()):
        _link_tree(shared[0], stage_dir(cfg, TWIN))
    mp = pytest.MonkeyPatch()
    mp.setattr(interpret, "make_client", _Client)
    try:
        train.run_twin(cfg)                     # stage01: make_twin.py
        train.run(cfg)                          #          train_sae.py
        compare.run(cfg)                        # stage02: compare_features.py
        diffing.run(cfg)                        #          model_diffing.py
        deltas.run(cfg)                         # stage03: activation_deltas.py
        causal.run(cfg)                         #          causal_checks.py
        study_stage.run(cfg)                    #          study_as_published.py
        interpret.run(cfg)                      # stage04: interpret.py
        report.run(cfg)                         # stage05: report.py
    finally:
        mp.undo()
    request.config._study_shaped_twin = (stage_dir(cfg, TWIN), (corpus.read_bytes(), probe.read_bytes()))
    return cfg


def _link_tree(src, dst):
    """``cp -al src dst``: stages replace files by atomic rename, so hard links are safe."""
    for dirpath, _, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            os.link(os.path.join(dirpath, f), os.path.join(dst, rel, f))


def test_stage01_twin_keeps_the_classifier_and_fits_an_mlm_head(study_run):
    from featevo.models import head_kind, load_model

    cfg = study_run
    rep = read_json(stage_dir(cfg, TWIN) / "twin_report.json")
    tuned = rep["twins"]["tuned"]
    assert tuned["made_here"] is False and tuned["own_head"] == "cls" and tuned["source"] == cfg.tuned_model.name
    fit = tuned["head_fit"]
    assert fit["train_positions"] > 0 and math.isfinite(fit["best_eval_loss"])
    assert rep["twins"]["planted"]["start"] == "tuned" and rep["twins"]["replica"]["start"] == "tuned"
    assert rep["twins"]["replica"]["seed_offset"] == 1 and rep["twins"]["planted"]["changed_docs"] > 0
    folder = stage_dir(cfg, TWIN) / "tuned"
    assert head_kind(ModelConfig(name=str(folder))) == "cls"
    as_mlm = load_model(ModelConfig(name=str(folder)), head="mlm")
    assert as_mlm.config.hidden_size == D and as_mlm.config.num_hidden_layers == BLOCKS
    models = read_json(stage_dir(cfg, TRAIN) / TrainFiles.MODELS)
    assert set(models) == {"base", "tuned", "planted"}  # the replica is a null for stage 02, no SAE of its own
    assert models["tuned"]["fidelity_head"] == "cls" and models["base"]["fidelity_head"] == "mlm"
    assert {m["d_in"] for m in models.values()} == {D}
    assert {m["hookpoint"] for m in models.values()} == {"encoder.layer.6"}


def test_stage01_shards_and_saes_at_bert_base_width(study_run):
    from safetensors import safe_open

    from featevo.sae import load_sae

    cfg = study_run
    out = stage_dir(cfg, TRAIN)
    want = getattr(torch, cfg.harvest.store_dtype)
    for key in ("base", "tuned", "planted"):
        index = read_json(acts_dir(out, "train", key) / TrainFiles.INDEX)
        assert index["dtype"] == cfg.harvest.store_dtype and index["d_in"] == D
        with safe_open(str(acts_dir(out, "train", key) / index["shards"][0]["file"]), "pt") as f:
            acts = f.get_tensor("acts")
        assert acts.dtype == want and acts.shape[1] == D and acts.float().abs().sum() > 0
    summary = read_json(out / TrainFiles.SUMMARY)
    assert set(summary) == set(sae_specs(cfg))
    for name, spec in sae_specs(cfg).items():
        sae = load_sae(sae_work_dir(out, name) / TrainFiles.SAE, torch.device("cpu"))
        assert tuple(sae.W_dec.shape) == (spec.num_latents or LATENTS, D), name
        assert math.isfinite(summary[name]["fvu"]) and summary[name]["d_in"] == D
    tuned0 = next(n for n, s in sae_specs(cfg).items() if s.model == "tuned" and not s.wide)
    fid = summary[tuned0]["fidelity"]
    assert fid["head"] == "cls" and math.isfinite(fid["loss_recovered"])


def test_stage02_matching_and_diffing_claims(study_run):
    cfg = study_run
    pairs = pd.read_csv(stage_dir(cfg, COMPARE) / CompareFiles.PAIRS)
    # a one-to-one matching of the two SAEs' live latents (random weights leave some of the 16 dead)
    assert 0 < len(pairs) <= LATENTS
    assert pairs["base_latent"].is_unique and pairs["tuned_latent"].is_unique
    assert pairs["base_latent"].between(0, LATENTS - 1).all() and pairs["tuned_latent"].between(0, LATENTS - 1).all()
    assert pairs["decoder_cosine"].between(-1, 1).all()
    comps = pd.read_csv(stage_dir(cfg, COMPARE) / CompareFiles.COMPARISONS)
    assert {"base~tuned"} <= set(comps["comparison"]) or len(comps) >= 3
    dsum = read_json(stage_dir(cfg, DIFFING) / DiffingFiles.SUMMARY)
    lenses = {c["lens"] for c in dsum["claims"]}
    assert {"stagewise", "crosscoder"} <= lenses, lenses
    for c in dsum["claims"]:  # every claim's p beside its smallest attainable value, never below it
        p, floor = (c.get("test") or {}).get("p"), (c.get("test") or {}).get("min_attainable_p")
        if p is not None and floor is not None:
            assert floor - 1e-12 <= p <= 1.0, c["id"]


def test_stage03_deltas_causal_and_study(study_run):
    cfg = study_run
    dsum = read_json(stage_dir(cfg, DELTAS) / "summary.json")
    assert dsum
    eval_ = read_json(stage_dir(cfg, DELTAS) / "twin_eval.json")
    losses = eval_["eval_mlm_loss"]["target"]
    assert {"base", "tuned", "replica", "planted"} <= set(losses)
    assert all(math.isfinite(losses[k]) for k in ("base", "tuned", "replica", "planted"))
    csum = read_json(stage_dir(cfg, CAUSAL) / "summary.json")
    assert csum
    effects = pd.read_csv(stage_dir(cfg, CAUSAL) / "effects.csv")
    assert len(effects) > 0
    num = effects.select_dtypes("number")
    assert num.notna().any().any()
    ladder = pd.read_csv(stage_dir(cfg, STUDY) / StudyFiles.LADDER)
    assert len(ladder) > 0


def test_stage04_and_report_name_the_models_and_the_study(study_run):
    cfg = study_run
    scores = pd.read_csv(stage_dir(cfg, INTERPRET) / "scores.csv")
    assert len(scores) > 0 and set(scores["scorer"]) == {"detection"}
    md = (stage_dir(cfg, REPORT) / ReportFiles.MD).read_text()
    html = (stage_dir(cfg, REPORT) / ReportFiles.HTML).read_text()
    for text in (md, html):
        assert "encoder.layer.6" in text or "layer 6" in text
    findings = read_json(stage_dir(cfg, REPORT) / ReportFiles.FINDINGS)
    assert findings
