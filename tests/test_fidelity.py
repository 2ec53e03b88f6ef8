"""SAE fidelity (featevo/fidelity.py) on tiny random BERTs: the splice at real-token positions (primary) and at
[MASK] positions apart, delta-CE, KL to the clean output and the mean-ablation reference against direct
computations."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from featevo.fidelity import (
    BATCH_MEAN,
    TRAIN_MEAN,
    capture,
    loss_recovered,
    loss_recovered_many,
    mask_tokens,
    position_sets,
    splice,
)

VOCAB, D, LAYERS, LAYER, MASK_ID, PROB, SEED = 60, 16, 3, 1, 4, 0.3, 0


def _bert(kind: str = "mlm", seed: int = 0):
    from transformers import BertConfig, BertForMaskedLM, BertForSequenceClassification

    torch.manual_seed(seed)
    conf = BertConfig(vocab_size=VOCAB, hidden_size=D, num_hidden_layers=LAYERS, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=32, num_labels=3,
                      initializer_range=2.0)
    return (BertForMaskedLM if kind == "mlm" else BertForSequenceClassification)(conf).eval()


def _tokens(n: int = 9, t: int = 12, seed: int = 2) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (n, t), generator=g)
    attn = torch.ones(n, t, dtype=torch.bool)
    attn[1, 7:] = False  # padded documents
    attn[4, 4:] = False
    keep = attn.clone()
    keep[:, 0] = False  # [CLS] excluded, as in training
    return {"input_ids": ids, "attention_mask": attn, "keep_mask": keep}


def _model_and_tokens(kind: str = "mlm"):
    """A random BERT with sharp outputs and documents whose masked-LM labels are its own clean predictions, so the
    clean loss is low and zero- or mean-ablating the hooked layer raises it (with random labels it need not)."""
    model, tokens = _bert(kind), _tokens()
    if kind != "mlm":
        return model, tokens
    ids, labels = mask_tokens(tokens["input_ids"], tokens["keep_mask"], MASK_ID, PROB, SEED)
    with torch.no_grad():
        pred = model(input_ids=ids, attention_mask=tokens["attention_mask"].long()).logits.argmax(-1)
    sel = labels != -100  # the chosen positions depend on the shape and keep mask only, not on the ids
    tokens["input_ids"] = torch.where(sel, pred, tokens["input_ids"])
    return model, tokens


def _run(model, fns: dict, tokens: dict, head: str = "mlm", **kw) -> dict:
    return loss_recovered_many(model, head, fns, tokens, LAYER, MASK_ID, torch.device("cpu"), batch_size=64,
                               seed=SEED, mlm_probability=PROB, **kw)


def _direct(model, tokens: dict, fn=None, where: str = "real"):
    """Masked ids, labels, clean log-probs and (if fn) spliced log-probs at the label positions, computed here."""
    ids, labels = mask_tokens(tokens["input_ids"], tokens["keep_mask"], MASK_ID, PROB, SEED)
    attn = tokens["attention_mask"].long()
    sel = labels != -100
    with torch.no_grad():
        clean = F.log_softmax(model(input_ids=ids, attention_mask=attn).logits, -1)[sel]
        if fn is None:
            return ids, labels, clean, None
        m = position_sets(ids, tokens["keep_mask"], MASK_ID)[where]
        with splice(model, LAYER, fn, m):
            spliced = F.log_softmax(model(input_ids=ids, attention_mask=attn).logits, -1)[sel]
    return ids, labels, clean, spliced


def test_position_sets_split_the_kept_positions_by_mask_input():
    tokens = _tokens()
    ids, labels = mask_tokens(tokens["input_ids"], tokens["keep_mask"], MASK_ID, PROB, SEED)
    sets = position_sets(ids, tokens["keep_mask"], MASK_ID)
    assert not (sets["real"] & sets["mask"]).any()
    assert torch.equal(sets["real"] | sets["mask"], tokens["keep_mask"])
    assert (ids[sets["mask"]] == MASK_ID).all() and (ids[sets["real"]] != MASK_ID).all()
    # a loss position whose input stayed a real token (80/10/10 style) is a real-token input
    ids2 = ids.clone()
    first = (labels != -100).nonzero()[0]
    ids2[first[0], first[1]] = 7
    assert position_sets(ids2, tokens["keep_mask"], MASK_ID)["real"][first[0], first[1]]


def test_identity_recovers_everything_and_zero_nothing_at_both_position_sets():
    model, tokens = _model_and_tokens()
    res = _run(model, {"id": lambda h: h, "zero": torch.zeros_like}, tokens)
    ident, zero = res["id"], res["zero"]
    for suffix in ("", "_mask_positions"):
        assert ident[f"zero_ablation_loss{suffix}"] > ident["clean_loss"]  # the references are defined here
        assert ident[f"loss_recovered{suffix}"] == pytest.approx(1.0, abs=1e-5)
        assert ident[f"delta_ce_nats{suffix}"] == pytest.approx(0.0, abs=1e-5)
        assert ident[f"kl_to_clean_nats{suffix}"] == pytest.approx(0.0, abs=1e-5)
        assert ident[f"loss_recovered_vs_mean_ablation{suffix}"] == pytest.approx(1.0, abs=1e-5)
        assert zero[f"loss_recovered{suffix}"] == pytest.approx(0.0, abs=1e-6)
        assert zero[f"kl_to_clean_nats{suffix}"] > 0
    assert ident["spliced_rows"] + ident["spliced_rows_mask_positions"] == int(tokens["keep_mask"].sum())
    assert ident["spliced_rows_mask_positions"] == ident["n"]  # every label position is a [MASK] input here
    assert "real-token" in ident["splice_positions"] and ident["mean_ablation"] == BATCH_MEAN
    single = loss_recovered(model, "mlm", lambda h: h, tokens, LAYER, MASK_ID, torch.device("cpu"), batch_size=4,
                            seed=SEED, mlm_probability=PROB)  # several batches: the same sums
    assert single["loss_recovered"] == pytest.approx(1.0, abs=1e-5)
    assert single["clean_loss"] == pytest.approx(ident["clean_loss"], rel=1e-5)


def _mask_rows(model, tokens) -> torch.Tensor:
    """The clean hooked-layer rows of the [MASK] inputs, the rows no SAE trains on."""
    ids, _ = mask_tokens(tokens["input_ids"], tokens["keep_mask"], MASK_ID, PROB, SEED)
    acts: list = []
    with torch.no_grad(), capture(model, LAYER, acts):
        model(input_ids=ids, attention_mask=tokens["attention_mask"].long())
    return acts[0][position_sets(ids, tokens["keep_mask"], MASK_ID)["mask"]]


def test_a_reconstruction_bad_only_on_mask_rows_leaves_the_real_token_splice_exact():
    """The evaluation bug: an SAE exact on real-token rows but wrong on [MASK] rows must recover the whole loss at
    the real-token positions (the primary number) and lose it only in the [MASK]-position number."""
    model, tokens = _model_and_tokens()
    bank = _mask_rows(model, tokens)

    def bad_on_mask(h):
        is_mask = torch.cdist(h, bank, compute_mode="donot_use_mm_for_euclid_dist").min(1).values < 1e-5
        return torch.where(is_mask[:, None], torch.zeros_like(h), h)

    f = _run(model, {"sae": bad_on_mask}, tokens)["sae"]
    assert f["loss_recovered"] == pytest.approx(1.0, abs=1e-5)
    assert f["delta_ce_nats"] == pytest.approx(0.0, abs=1e-5) and f["kl_to_clean_nats"] == pytest.approx(0, abs=1e-5)
    assert f["loss_recovered_mask_positions"] < 0.5
    assert f["kl_to_clean_nats_mask_positions"] > 1e-3


def test_kl_and_delta_ce_equal_a_direct_computation():
    model, tokens = _model_and_tokens()
    fn = lambda h: 0.5 * h + 0.3  # noqa: E731
    f = _run(model, {"sae": fn}, tokens)["sae"]
    for where, suffix in (("real", ""), ("mask", "_mask_positions")):
        _, labels, clean, spliced = _direct(model, tokens, fn, where)
        tgt = labels[labels != -100]
        kl = (clean.exp() * (clean - spliced)).sum(-1).mean().item()
        assert kl >= 0 and f[f"kl_to_clean_nats{suffix}"] == pytest.approx(kl, rel=1e-4)
        dce = (F.nll_loss(spliced, tgt) - F.nll_loss(clean, tgt)).item()
        assert f[f"delta_ce_nats{suffix}"] == pytest.approx(dce, rel=1e-4, abs=1e-6)
        assert f[f"sae_loss{suffix}"] == pytest.approx(F.nll_loss(spliced, tgt).item(), rel=1e-5)
    assert f["clean_loss"] == pytest.approx(F.nll_loss(clean, tgt).item(), rel=1e-5)


def test_mean_ablation_reference_equals_a_direct_computation():
    model, tokens = _model_and_tokens()
    ids, labels, clean, _ = _direct(model, tokens)
    tgt = labels[labels != -100]
    acts: list = []
    with torch.no_grad(), capture(model, LAYER, acts):
        model(input_ids=ids, attention_mask=tokens["attention_mask"].long())
    real = position_sets(ids, tokens["keep_mask"], MASK_ID)["real"]
    train_mean = torch.linspace(-1, 1, D)
    for given, vec in ((None, acts[0][real].mean(0)), (train_mean, train_mean)):
        f = _run(model, {"sae": lambda h: 0.9 * h}, tokens, mean_activation=given)["sae"]
        _, _, _, ablated = _direct(model, tokens, lambda h, v=vec: v.expand_as(h).clone(), "real")
        want = F.nll_loss(ablated, tgt).item()
        assert f["mean_ablation_loss"] == pytest.approx(want, rel=1e-5)
        rec = (want - f["sae_loss"]) / (want - f["clean_loss"])
        assert f["loss_recovered_vs_mean_ablation"] == pytest.approx(rec, rel=1e-5)
        assert f["mean_ablation"] == (BATCH_MEAN if given is None else TRAIN_MEAN)


def test_cls_head_keeps_the_kl_form():
    model, tokens = _model_and_tokens("cls")
    res = _run(model, {"id": lambda h: h, "half": lambda h: 0.5 * h}, tokens, head="cls")
    ident, half = res["id"], res["half"]
    assert ident["clean_loss"] == 0 and ident["loss"].startswith("KL")
    assert ident["kl_to_clean_nats"] == pytest.approx(0.0, abs=1e-6) and ident["delta_ce_nats"] is None
    assert ident["spliced_rows"] == int(tokens["keep_mask"].sum()) and ident["spliced_rows_mask_positions"] == 0
    assert ident["loss_recovered_mask_positions"] is None
    assert half["kl_to_clean_nats"] == pytest.approx(half["sae_loss"])
    if half["zero_ablation_loss"] > 0:
        assert half["loss_recovered"] == pytest.approx(1 - half["sae_loss"] / half["zero_ablation_loss"])
