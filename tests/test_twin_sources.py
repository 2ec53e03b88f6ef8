"""Controls for a given pair (featevo/twin_sources.py): a given tuned classifier (FinBERT's shape) written into
01_twin with a fitted masked-LM head beside its own, a given control model, and control / replica / planted twins
made by the twin recipe from the base or from the tuned model. Local tiny models only (no hub)."""

import pytest
import torch

from conftest import tiny_config_dict
from featevo.config import ModelConfig, config_from_dict
from featevo.errors import ConfigError
from featevo.layout import TWIN, models as run_models, stage_dir
from featevo.models import head_kind, load_model


def _distance(a, b) -> float:
    pa = dict(a.base_model.named_parameters())
    sq = sum((pa[k].detach() - v.detach()).pow(2).sum() for k, v in b.base_model.named_parameters() if k in pa)
    return float(sq) ** 0.5


@pytest.fixture(scope="module")
def given_pair(tmp_path_factory, tiny_model_dir):
    """A 'fine-tuned' classifier of the tiny base (its encoder moved, a 3-label head) and an MLM control."""
    from transformers import AutoTokenizer, BertForMaskedLM, BertForSequenceClassification

    root = tmp_path_factory.mktemp("given")
    tok = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    torch.manual_seed(1)
    clf = BertForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3, local_files_only=True)
    with torch.no_grad():
        for p in clf.bert.encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    clf.save_pretrained(root / "clf", safe_serialization=True)
    tok.save_pretrained(root / "clf")
    ctl = BertForMaskedLM.from_pretrained(tiny_model_dir, local_files_only=True)
    with torch.no_grad():
        for p in ctl.bert.encoder.parameters():
            p.add_(0.03 * torch.randn_like(p))
    ctl.save_pretrained(root / "ctl", safe_serialization=True)
    tok.save_pretrained(root / "ctl")
    return root / "clf", root / "ctl"


def _cfg(tmp_path, tiny_model_dir, tiny_data, clf, **twin):
    d = tiny_config_dict(tmp_path / "outputs", tiny_model_dir, tiny_data, tuned_model={"name": str(clf)},
                         twin={"planted": {"stocks": "lanterns"}, **twin})
    return config_from_dict(d)


def test_given_classifier_gets_dual_head_and_twins_start_where_configured(tmp_path, tiny_model_dir, tiny_data,
                                                                         given_pair):
    from featevo.train import run_twin

    clf, ctl = given_pair
    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data, clf, control_model={"name": str(ctl)})
    report = run_twin(cfg)
    folder = stage_dir(cfg, TWIN)
    assert set(run_models(cfg)) == {"base", "tuned", "control", "planted"}
    tuned_cfg = ModelConfig(name=str(folder / "tuned"))
    assert head_kind(tuned_cfg) == "cls"  # still the classifier: fidelity is KL on its own output
    given = load_model(ModelConfig(name=str(clf)), head="cls")
    as_cls, as_mlm = load_model(tuned_cfg, head="cls"), load_model(tuned_cfg, head="mlm")
    assert torch.equal(as_cls.classifier.weight, given.classifier.weight)
    assert _distance(as_cls, given) == 0.0 and _distance(as_mlm, given) == 0.0
    fit = report["twins"]["tuned"]["head_fit"]
    assert fit["best_eval_loss"] < fit["curve"][0]["eval_loss"]  # the fitted head beats its random start
    assert report["twins"]["tuned"]["made_here"] is False and report["twins"]["tuned"]["source"] == str(clf)
    # the given control is copied as is; the planted twin continues the recipe from the tuned model
    ctl_in = load_model(ModelConfig(name=str(folder / "control")), head="mlm")
    assert _distance(ctl_in, load_model(ModelConfig(name=str(ctl)), head="mlm")) == 0.0
    planted = load_model(ModelConfig(name=str(folder / "planted")), head="mlm")
    base = load_model(ModelConfig(name=str(folder / "base")), head="mlm")
    assert report["twins"]["planted"]["start"] == "tuned" and len(report["twins"]["planted"]["log"]) == 8
    assert 0 < _distance(planted, as_mlm) < _distance(planted, base)


def test_made_control_and_replica_from_base_or_tuned(tmp_path, tiny_model_dir, tiny_data, given_pair):
    from featevo.train import run_twin

    clf, _ = given_pair
    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data, clf, control=True, replica=True, planted={},
               planted_from="base")
    report = run_twin(cfg)
    folder = stage_dir(cfg, TWIN)
    base = load_model(ModelConfig(name=str(folder / "base")), head="mlm")
    tuned = load_model(ModelConfig(name=str(folder / "tuned")), head="mlm")
    for key in ("control", "replica"):
        m = load_model(ModelConfig(name=str(folder / key)), head="mlm")
        assert report["twins"][key]["start"] == "base"
        assert 0 < _distance(m, base) < _distance(m, tuned), key
    assert report["twins"]["replica"]["seed_offset"] == 1


def test_given_pair_config_errors(tmp_path, tiny_model_dir, tiny_data, given_pair):
    clf, _ = given_pair
    with pytest.raises((ConfigError, ValueError), match="needs a control, replica or planted twin"):
        _cfg(tmp_path, tiny_model_dir, tiny_data, clf, planted={}, control=False, replica=False)
    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data, clf, replica_model={"name": str(clf)}, planted={})
    assert cfg.twin.replica and cfg.twin.control  # implied by the given replica; control from the fixture's config
