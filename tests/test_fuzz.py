"""Fuzzing the two loaders users feed by hand: every malformed input ends in the clear-error path."""

import json
import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featevo.config import DataConfig, PipelineConfig, load_config
from featevo.data import validate_jsonl
from featevo.errors import ConfigError, DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(0, 3), max_size=3))
keys = st.sampled_from(["run_name", "base_model", "tuned_model", "twin", "sae", "harvest", "data", "seed", "k",
                        "name", "enabled", "num_latents", "layer", "dtype", "corpus", "junk", "lr"])
trees = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=5), max_leaves=12)


@SETTINGS
@given(tree=st.dictionaries(keys, trees, max_size=8))
def test_config_loader_random_trees(tmp_path, tree):
    p = tmp_path / "fuzz.yaml"
    p.write_text(yaml.safe_dump(tree))
    try:
        cfg = load_config(p)
    except ConfigError as e:
        assert "fuzz.yaml" in str(e) and "\n" not in str(e)
    else:
        assert isinstance(cfg, PipelineConfig)


@SETTINGS
@given(text=st.text(alphabet=string.printable + "\u00e9\u2013", max_size=200))
def test_config_loader_random_text(tmp_path, text):
    p = tmp_path / "fuzz.yaml"
    p.write_text(text, encoding="utf-8")
    try:
        load_config(p, overrides=["sae.k=8"])
    except ConfigError:
        pass


@SETTINGS
@given(overrides=st.lists(st.text(alphabet=string.ascii_letters + "._=[]{}: 0123456789", max_size=20), max_size=3))
def test_config_overrides_random(tmp_path, overrides):
    p = tmp_path / "ok.yaml"
    p.write_text("run_name: t\nbase_model: {name: x}\ntwin: {enabled: true}\n")
    try:
        load_config(p, overrides)
    except ConfigError:
        pass


line = st.one_of(
    st.text(max_size=60),
    st.builds(json.dumps, st.dictionaries(st.sampled_from(["text", "category", "domain", "x"]), scalars, max_size=4)),
    st.builds(lambda t, c: json.dumps({"text": t, "category": c}), st.text(max_size=30),
              st.sampled_from(["markets", "sports", "nope", ""])),
)


@SETTINGS
@given(lines=st.lists(line, max_size=8), raw=st.binary(max_size=20))
def test_corpus_loader_random_lines(tmp_path, lines, raw):
    p = tmp_path / "corpus.jsonl"
    p.write_bytes("\n".join(lines).encode("utf-8") + raw)
    try:
        docs = validate_jsonl(p, DataConfig(), require_category=False)
    except DataError as e:
        assert "corpus.jsonl" in str(e)
    else:
        assert docs and all(d.text.strip() for d in docs)
