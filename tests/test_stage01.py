"""Stage 01 end to end on the tiny config: twin, tokens, activations, SAEs, manifests."""

import json

import pytest
import torch

from featevo.activations import ActivationStore, TokenTable
from featevo.config import config_from_dict
from featevo.errors import StageError
from featevo.fidelity import TRAIN_MEAN
from featevo.io import require_stage, stage_is_current
from featevo.layout import stage_dir
from featevo.sae import encode, load_sae
from featevo.layout import sae_specs as sae_keys
from featevo.train import run


def test_stage01_outputs_reload(tiny_stage01):
    cfg = tiny_stage01
    out = stage_dir(cfg, "01_train_sae")
    man = require_stage(cfg, "01_train_sae")  # verifies every sha256
    assert man["config"]["sae"]["k"] == 4
    assert set(sae_keys(cfg)) == {"base", "base_seed1", "tuned", "tuned_seed1", "control", "control_seed1", "planted"}
    tt = TokenTable(out / "train")
    for key in ("base", "tuned", "control", "planted"):
        store = ActivationStore(out / "train" / key)
        assert store.n_rows == tt.n_rows == int(tt.keep_mask.sum())
        assert store.d_in == 32
    # padding and special tokens never enter the SAE rows
    assert not tt.keep_mask[~tt.attention_mask].any()
    cls_sep = torch.isin(tt.input_ids, torch.tensor([101, 102]))
    assert not (tt.keep_mask & cls_sep).any()
    clean = {}
    for name, spec in sae_keys(cfg).items():
        sae = load_sae(out / "saes" / name / "sae")
        meta = json.loads((out / "saes" / name / "sae" / "cfg.json").read_text())["metadata"]
        assert meta["model_name"] == f"01_twin/{spec.model}"  # shareable: no machine path
        assert sae.cfg.d_sae == 24 and sae.cfg.k == 4
        z = encode(sae, ActivationStore(out / "eval" / "base").read_all())
        assert ((z > 0).sum(-1) <= 4).all()
        m = json.loads((out / "saes" / name / "metrics.json").read_text())
        assert 0 <= m["dead_fraction"] <= 1 and m["l0"] <= 4
        assert m["fidelity"]["head"] == "mlm"
        f = m["fidelity"]
        assert f["mask_seed"] == cfg.seed  # one fixed mask for every SAE ...
        assert f["mean_ablation"] == TRAIN_MEAN and "real-token" in f["splice_positions"]
        assert f["spliced_rows"] > 0 and f["spliced_rows_mask_positions"] == f["n"]
        assert clean.setdefault(spec.model, f["clean_loss"]) == f["clean_loss"]  # ... so a model's clean loss is one
        if f["zero_ablation_loss"] > f["clean_loss"]:
            want = (f["zero_ablation_loss"] - f["sae_loss"]) / (f["zero_ablation_loss"] - f["clean_loss"])
            assert f["loss_recovered"] == pytest.approx(want)
        else:  # random tiny model: ablation need not hurt, and then the ratio is undefined
            assert f["loss_recovered"] is None
    twin = json.loads((stage_dir(cfg, "01_twin") / "twin_report.json").read_text())
    assert twin["base_had_mlm_head"] is False and twin["base_encoder_unchanged"]
    assert set(twin["twins"]) == {"tuned", "control", "planted", "replica"}
    assert twin["twins"]["replica"]["seed_offset"] == 1 and "seed_offset" not in twin["twins"]["tuned"]
    assert twin["twins"]["tuned"]["domain"] == "target" and twin["twins"]["control"]["domain"] == "reference"
    assert twin["twins"]["planted"]["changed_docs"] > 0
    for key in twin["twins"]:
        assert twin["drift"][key]["layer_1"]["l2"] > 0
    curve = twin["head_fit"]["curve"]
    assert curve[0]["step"] == 0 and len(curve) >= 2 and twin["head_fit"]["best_eval_loss"] < curve[0]["eval_loss"]
    assert "eval_mlm_loss" not in twin  # the probe is not read here: stage 03 measures it (twin_eval.json)
    for key, acc in twin["tokenisation"].items():  # the twins' data: stage 01's windows, every token accounted for
        assert acc["tokens_kept"] + sum(acc["dropped"].values()) == acc["tokens_total"], key
    assert twin["twins"]["tuned"]["tokenisation"]["documents"] == twin["twins"]["tuned"]["train_docs"]


def test_stage01_rerun_is_skipped_and_config_change_detected(tiny_stage01):
    cfg = tiny_stage01
    before = (stage_dir(cfg, "01_train_sae") / "manifest.json").read_bytes()
    run(cfg)  # up to date: nothing rewritten
    assert (stage_dir(cfg, "01_train_sae") / "manifest.json").read_bytes() == before
    changed = config_from_dict({**_as_dict(cfg), "sae": {**_as_dict(cfg)["sae"], "k": 3}})
    assert not stage_is_current(changed, "01_train_sae")
    with pytest.raises(StageError, match="different config .*sae.k"):
        require_stage(changed, "01_train_sae")


def _as_dict(cfg):
    from featevo.config import to_dict

    d = to_dict(cfg)
    d.pop("config_path", None)
    return d
