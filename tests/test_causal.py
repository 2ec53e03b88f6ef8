"""Causal checks (featevo/intervene.py, featevo/causal.py): the upward pass against the model's own forward, the
splice identity, interventions with known effects on tiny constructed models, the controls, and the stage end to
end on the tiny config."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from featevo.fidelity import mask_tokens
from featevo.fidelity import splice as hook_splice
from featevo.intervene import (
    ABLATE,
    IGNORE,
    KINDS,
    PATCH,
    Intervention,
    UpperPass,
    decoder_direction,
    domain_effects,
    frequency_deciles,
    identity_summary,
    lower_batches,
    matched_random_latents,
    null_position,
    query_positions,
    run_interventions,
    splice,
)
from featevo.stats import auroc

VOCAB, D, LAYERS = 60, 16, 3


def _bert(kind: str, seed: int = 0):
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

    torch.manual_seed(seed)
    conf = BertConfig(vocab_size=VOCAB, hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=32, num_labels=3)
    cls = BertForMaskedLM if kind == "mlm" else BertForSequenceClassification
    return cls(conf).eval()


def _sae(seed: int = 1, d_sae: int = 12, k: int = 3):
    from sae_lens import TopKSAE, TopKSAEConfig

    torch.manual_seed(seed)
    sae = TopKSAE(TopKSAEConfig(d_in=D, d_sae=d_sae, k=k))
    with torch.no_grad():
        sae.b_enc.normal_(0, 0.1)
    return sae.eval()


def _tokens(n: int = 7, t: int = 10, seed: int = 2) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (n, t), generator=g)
    attn = torch.ones(n, t, dtype=torch.bool)
    attn[1, 6:] = False  # padded documents
    attn[4, 3:] = False
    keep = attn.clone()
    keep[:, 0] = False  # [CLS] excluded, as in training
    return {"input_ids": ids, "attention_mask": attn, "keep_mask": keep}


def _masked(tokens: dict, seed: int = 0):
    ids, labels = mask_tokens(tokens["input_ids"], tokens["keep_mask"], 4, 0.3, seed)
    return {**tokens, "input_ids": ids}, labels


@pytest.mark.parametrize("kind", ["mlm", "cls"])
@pytest.mark.parametrize("layer", range(LAYERS))
def test_upward_pass_equals_the_full_forward(kind, layer):
    model = _bert(kind)
    tokens, labels = _masked(_tokens())
    ids, attn = tokens["input_ids"], tokens["attention_mask"].long()
    up = UpperPass(model, layer, kind)
    lab = labels if kind == "mlm" else None
    qpos, qvalid = query_positions(lab, ids.shape[0], kind)
    got = up.upper(up.lower(ids, attn), attn, qpos, qvalid)
    with torch.no_grad():
        ref = model(input_ids=ids, attention_mask=attn).logits
    ref = ref[labels != IGNORE] if kind == "mlm" else ref
    assert got.shape == ref.shape
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)


def test_only_bert_models_are_accepted():
    from transformers import DistilBertConfig, DistilBertModel

    from featevo.errors import ModelLoadError

    other = DistilBertModel(DistilBertConfig(vocab_size=VOCAB, dim=D, n_layers=2, n_heads=2, hidden_dim=32))
    with pytest.raises(ModelLoadError, match="BERT-family"):
        UpperPass(other, 0, "none")
    with pytest.raises(ModelLoadError, match="BertForSequenceClassification"):
        UpperPass(_bert("mlm"), 0, "cls")


@pytest.mark.parametrize("kind", ["mlm", "cls"])
def test_untouched_splice_changes_nothing(kind):
    model, sae = _bert(kind), _sae()
    tokens, labels = _masked(_tokens())
    up = UpperPass(model, 1, kind)
    batches = lower_batches(up, sae, tokens, labels if kind == "mlm" else None, 3, "cpu")
    ident = identity_summary(batches)
    assert ident["docs"] == 7 and ident["max_abs_hidden_diff"] == 0.0
    assert ident["max_abs_logit_diff"] < 1e-5
    b = batches[0]
    assert torch.equal(splice(b.h, b.keep, sae, b.z, b.z), b.h)  # bit for bit: the error term is kept
    # and through the model's own forward with the splice hooked in: the same logits
    ids, attn = tokens["input_ids"], tokens["attention_mask"].long()
    with torch.no_grad():
        clean = model(input_ids=ids, attention_mask=attn).logits
        with hook_splice(model, 1, lambda h: h + (sae.decode(sae.encode(h)) - sae.decode(sae.encode(h))),
                         tokens["keep_mask"]):
            spliced = model(input_ids=ids, attention_mask=attn).logits
    assert torch.equal(clean, spliced)


def test_one_latent_splice_is_the_decode_difference():
    sae = _sae()
    z = sae.encode(torch.randn(50, D, generator=torch.Generator().manual_seed(0)))
    z2 = z.clone()
    z2[:, 3] = torch.rand(50)
    with torch.no_grad():
        full = sae.decode(z2) - sae.decode(z)
    torch.testing.assert_close((z2[:, 3] - z[:, 3])[:, None] * decoder_direction(sae, 3), full, atol=1e-6, rtol=1e-5)


def _hooked_mlm_loss(model, tokens, labels, layer, fn) -> float:
    """Mean masked-LM cross-entropy of the full model with ``fn`` applied to block ``layer``'s kept rows."""
    ids, attn = tokens["input_ids"], tokens["attention_mask"].long()
    with torch.no_grad(), hook_splice(model, layer, fn, tokens["keep_mask"]):
        logits = model(input_ids=ids, attention_mask=attn).logits
    return float(F.cross_entropy(logits[labels != IGNORE], labels[labels != IGNORE], reduction="sum"))


@pytest.mark.parametrize("layer", [0, 1, LAYERS - 1])
def test_ablation_matches_the_hooked_full_model(layer):
    """The packed upward pass gives the loss change that the full model with the ablation hooked in gives."""
    model, sae = _bert("mlm"), _sae()
    tokens, labels = _masked(_tokens())
    up = UpperPass(model, layer, "mlm")
    batches = lower_batches(up, sae, tokens, labels, 4, "cpu")
    latents = [int(j) for j in torch.cat([b.z for b in batches]).gt(0).sum(0).argsort(descending=True)[:3]]
    fx = run_interventions(up, sae, batches, [Intervention(j, ABLATE) for j in latents], 7, batch_size=5)
    clean = _hooked_mlm_loss(model, tokens, labels, layer, lambda h: h)
    for i, j in enumerate(latents):
        def ablate(h, j=j):
            z = sae.encode(h)
            z2 = z.clone()
            z2[:, j] = 0
            return h + (sae.decode(z2) - sae.decode(z))

        expected = _hooked_mlm_loss(model, tokens, labels, layer, ablate) - clean
        assert fx.loss[i].sum() == pytest.approx(expected, abs=1e-4)
        assert fx.touched[i].any()


def test_ablation_of_a_latent_the_head_reads_has_the_computed_effect():
    """Hooked at the last block, the head reads h directly: the effect of removing z_j * d_j at the masked
    positions is computable from the head alone; a latent with a zero decoder row has no effect at all."""
    model, sae = _bert("mlm"), _sae(d_sae=8, k=8)  # k = d_sae: every latent active wherever it is positive
    with torch.no_grad():
        sae.W_dec[5] = 0.0
    tokens, labels = _masked(_tokens())
    layer = LAYERS - 1
    up = UpperPass(model, layer, "mlm")
    batches = lower_batches(up, sae, tokens, labels, 7, "cpu")
    fx = run_interventions(up, sae, batches, [Intervention(2, ABLATE), Intervention(5, ABLATE)], 7, batch_size=7)
    ids, attn = tokens["input_ids"], tokens["attention_mask"].long()
    with torch.no_grad():
        h = model.bert(input_ids=ids, attention_mask=attn).last_hidden_state
        sel = labels != IGNORE
        z = sae.encode(h[sel])
        direction = sae.decode(torch.eye(8)[2:3]) - sae.decode(torch.zeros(1, 8))
        moved = h[sel] - z[:, 2:3] * direction
        head = model.cls.predictions
        expected = (F.cross_entropy(head(moved), labels[sel], reduction="sum")
                    - F.cross_entropy(head(h[sel]), labels[sel], reduction="sum"))
    assert fx.loss[0].sum() == pytest.approx(float(expected), abs=1e-4)
    assert abs(float(expected)) > 1e-4  # a real effect, not a vacuous check
    assert np.abs(fx.loss[1]).max() < 1e-6  # zero decoder row: nothing reaches the model


def test_patch_to_base_is_a_no_op_when_base_is_the_tuned_model():
    model, sae = _bert("cls"), _sae()
    tokens = _tokens()
    up = UpperPass(model, 1, "cls")
    batches = lower_batches(up, sae, tokens, None, 4, "cpu", base=model)
    ivs = [Intervention(j, PATCH) for j in range(12)] + [Intervention(0, ABLATE)]
    fx = run_interventions(up, sae, batches, ivs, 7, batch_size=8)
    assert not fx.touched[:-1].any() and (fx.loss[:-1] == 0).all() and (fx.flip[:-1] == 0).all()
    assert fx.touched[-1].any() and (fx.loss[-1] >= -1e-7).all()  # KL is never negative


def test_patch_with_another_base_moves_the_output():
    model, other, sae = _bert("cls"), _bert("cls", seed=3), _sae()
    up = UpperPass(model, 0, "cls")
    batches = lower_batches(up, sae, _tokens(), None, 4, "cpu", base=other)
    fx = run_interventions(up, sae, batches, [Intervention(j, k) for j in range(3) for k in KINDS], 7, 16)
    assert fx.touched.any() and fx.loss.max() > 0


def test_frequency_deciles_and_matched_random_latents():
    freq = np.r_[np.zeros(5), np.linspace(0.01, 1.0, 100)]  # 5 dead latents, then 10 latents per decile
    dec = frequency_deciles(freq)
    assert (dec[:5] == -1).all() and np.bincount(dec[5:]).tolist() == [10] * 10
    targets = [104, 103, 30]  # deciles 9, 9, 2
    out = matched_random_latents(freq, targets, 6, seed=0)
    assert len(out) == len(set(out)) == 6 and not set(out) & set(targets)
    assert sorted(dec[out].tolist()) == [2, 2, 9, 9, 9, 9]
    assert out == matched_random_latents(freq, targets, 6, seed=0)
    assert out != matched_random_latents(freq, targets, 6, seed=1)
    short = matched_random_latents(freq, [104], 15, seed=0)  # decile 9 has only 9 others: topped up from 8
    assert sorted(dec[short].tolist()) == [8] * 6 + [9] * 9
    assert (dec[matched_random_latents(freq, targets, 100, seed=0)] >= 0).all()  # never a dead latent


def test_domain_effects_are_ratios_with_cluster_intervals():
    values = np.array([[1.0, 3.0, 0.0, 2.0, 2.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    weights = np.array([1.0, 3.0, 1.0, 2.0, 2.0])
    domains = ["target", "target", "target", "reference", "reference"]
    eff = domain_effects(values, weights, domains, ["a", "a", "b", "c", "d"], n_boot=200, seed=0)
    assert eff["target"][0] == pytest.approx(4 / 5) and eff["reference"][0] == pytest.approx(1.0)
    assert eff["diff"][0] == pytest.approx(-0.2)
    assert eff["target_lo"][0] <= eff["target"][0] <= eff["target_hi"][0]
    assert eff["reference_lo"][0] == eff["reference_hi"][0] == pytest.approx(1.0)  # each reference doc: 1 per weight
    assert eff["target"][1] == eff["target_lo"][1] == eff["diff_hi"][1] == 0.0
    only_fin = domain_effects(values[:, :3], weights[:3], domains[:3], ["a", "a", "b"], n_boot=50, seed=0)
    assert np.isnan(only_fin["reference"]).all() and np.isnan(only_fin["diff"]).all()


def test_null_position_and_auroc():
    pct, p = null_position(np.array([10.0, 0.0, -10.0]), np.arange(-4, 5, dtype=float))
    assert pct.tolist() == pytest.approx([100.0, 50.0, 0.0])
    assert p[0] == p[2] == pytest.approx(1 / 10) and p[1] == 1.0
    _, p1 = null_position(np.array([10.0, -10.0]), np.arange(-4, 5, dtype=float), "greater")
    assert p1.tolist() == pytest.approx([0.1, 1.0])
    scores = np.array([[3.0, 0.0], [2.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert auroc(scores, np.array([True, True, False, False])).tolist() == pytest.approx([1.0, 0.5])


def test_probe_subset_keeps_every_template():
    from featevo.causal import probe_subset
    from featevo.data import Doc

    docs = [Doc(f"s{i}", "c", "target", f"t{i % 4}") for i in range(20)] + [Doc("lone", "c", "reference")]
    sub = probe_subset(docs, 2, seed=0)
    assert len(sub) == 4 * 2 + 1 and {d.cluster for d in sub} == {"t0", "t1", "t2", "t3", ""}
    assert [docs.index(d) for d in sub] == sorted(docs.index(d) for d in sub)  # file order kept
    assert sub == probe_subset(docs, 2, seed=0) != probe_subset(docs, 2, seed=1)
    assert probe_subset(docs, None, seed=0) == docs


# --------------------------------------------------------------------------------------------
# The stage on the tiny config
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def causal_cfg(tiny_stage01, tmp_path_factory):
    """A copy of the shared stage 01 (never rewritten) with a stand-in for stage 03: its manifest and
    ``interesting_latents.json`` (the one file stage 03_causal reads), ranking the tuned SAE's latents."""
    from featevo.io import StageRun, atomic_write_json
    from featevo.layout import DELTAS, TRAIN, TWIN, DeltasFiles, stage_dir

    root = tmp_path_factory.mktemp("causal") / "outputs"
    cfg = dataclasses.replace(tiny_stage01, output_root=str(root),
                              causal=dataclasses.replace(tiny_stage01.causal, top_n=3, n_random=6, n_bootstrap=50,
                                                         batch_size=32))
    for stage in (TWIN, TRAIN):
        shutil.copytree(stage_dir(tiny_stage01, stage), stage_dir(cfg, stage))
    st = StageRun(cfg, DELTAS).open()
    atomic_write_json(st.dir / DeltasFiles.INTERESTING, {"pairs": [], "base": [0, 1], "tuned": [5, 2, 7, 1, 0]})
    st.commit()
    return cfg


def test_stage_end_to_end(causal_cfg):
    from featevo import causal
    from featevo.io import read_json, require_stage, stage_is_current
    from featevo.layout import CAUSAL, MANIFEST, CausalFiles, stage_dir
    from featevo.results import EFFECTS, CausalResult

    cfg = causal_cfg
    assert causal.flagged_latents(cfg) == [5, 2, 7]
    out = causal.run(cfg)
    require_stage(cfg, CAUSAL)
    res = CausalResult.load(out)
    rows = res.effects.rows()
    flagged = [r for r in rows if r["role"] == "flagged"]
    assert sorted({(r["latent"], r["intervention"]) for r in flagged}) == sorted(
        (j, k) for j in (5, 2, 7) for k in KINDS)
    assert [r["rank"] for r in flagged if r["intervention"] == ABLATE] == [1, 2, 3]
    random = [r for r in rows if r["role"] == "random" and r["sae"] == "tuned"]
    assert len(random) == 2 * 6 and not {r["latent"] for r in random} & {5, 2, 7}
    for r in flagged:
        assert r["target_null_percentile"] is not None and r["beats_null_target"] is not None
        assert r["target_ci_low"] <= r["target_ci_high"] and r["diff_ci_low"] <= r["diff_ci_high"]
    s = res.summary
    assert s["splice_identity"]["max_abs_hidden_diff"] == 0.0 and s["splice_identity"]["max_abs_logit_diff"] < 1e-4
    assert s["splice_identity"]["docs"] == s["probe"]["sentences"] > 0
    assert s["measure"] == "mlm_loss" and set(s["interventions"]) == set(KINDS)
    assert s["interventions"][ABLATE]["null"]["target"]["n"] == 6
    p = s["planted_control"]
    assert p is not None and p["planted_tokens"] > 0 and 0.0 <= p["auroc"] <= 1.0
    planted = [r for r in rows if r["role"] == "planted"]
    assert len(planted) == 1 and planted[0]["latent"] == p["latent"] and planted[0]["scored"] == "planted_tokens"
    assert len([r for r in rows if r["sae"] == "planted"]) == 1 + len(p["random_latents"])
    # the null holds no other detector of the planted words: those are excluded and listed
    thr = cfg.causal.planted_detector_auroc
    assert all(r["auroc"] < thr for r in rows if r["sae"] == "planted" and r["role"] == "random")
    assert all(a >= thr for a in p["excluded_detectors"].values())
    assert not set(map(int, p["excluded_detectors"])) & (set(p["random_latents"]) | {p["latent"]})
    assert (out / CausalFiles.EFFECTS_FIG).is_file() and (out / CausalFiles.EFFECTS_FIG).with_suffix(".svg").is_file()
    assert EFFECTS.file in read_json(out / MANIFEST)["outputs"]
    assert stage_is_current(cfg, CAUSAL, None) and causal.run(cfg) == stage_dir(cfg, CAUSAL)  # skips when current


def test_stage_refuses_without_stage_03(tiny_stage01, tmp_path):
    from featevo import causal
    from featevo.errors import StageError
    from featevo.layout import TRAIN, TWIN, stage_dir

    cfg = dataclasses.replace(tiny_stage01, output_root=str(tmp_path / "outputs"))
    for stage in (TWIN, TRAIN):
        shutil.copytree(stage_dir(tiny_stage01, stage), stage_dir(cfg, stage))
    with pytest.raises(StageError, match="03_activation_deltas"):
        causal.run(cfg)
