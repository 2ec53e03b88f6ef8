"""Per-field fingerprints: a stage depends on exactly the config fields it reads (its ``reads``)."""

from __future__ import annotations

import shutil

from conftest import tiny_config_dict

from featevo.config import config_from_dict, section_dict
from featevo.data import input_files
from featevo.io import StageRun, hash_inputs, stage_is_current
from featevo.layout import COMPARE, DELTAS, TRAIN, stage_spec


def _cfg(tmp_path, tiny_model_dir, data):
    d = tiny_config_dict(tmp_path / "outputs", tiny_model_dir, data, twin={"enabled": False},
                         tuned_model={"name": str(tiny_model_dir)})
    return config_from_dict(d)


def _commit(cfg, stage, files):
    st = StageRun(cfg, stage, input_files=files).open()
    (st.dir / "out.txt").write_text(stage)
    st.commit()


def test_stage01_does_not_read_the_probe():
    assert not any(k == "data" or k.startswith("data.probe") for k in stage_spec(TRAIN).reads)
    assert "data.probe" in stage_spec(DELTAS).reads


def test_swapping_the_probe_reruns_only_the_stages_that_read_it(tmp_path, tiny_model_dir, tiny_data):
    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data)
    train_files = hash_inputs(input_files(cfg.data, probe=False))
    probe_files = lambda c: hash_inputs([input_files(c.data)[-1]])  # noqa: E731
    _commit(cfg, TRAIN, train_files)
    _commit(cfg, COMPARE, {})
    _commit(cfg, DELTAS, probe_files(cfg))
    assert stage_is_current(cfg, TRAIN, train_files) and stage_is_current(cfg, DELTAS, probe_files(cfg))

    other = tmp_path / "probe2.jsonl"
    shutil.copy(tiny_data["probe"], other)
    with open(other, "a", encoding="utf-8") as f:
        f.write('{"text": "Another sentence about bonds.", "category": "credit"}\n')
    cfg2 = _cfg(tmp_path, tiny_model_dir, {**tiny_data, "probe": other})  # --set data.probe=...
    assert section_dict(cfg2, stage_spec(TRAIN).reads) == section_dict(cfg, stage_spec(TRAIN).reads)
    assert stage_is_current(cfg2, TRAIN, hash_inputs(input_files(cfg2.data, probe=False)))
    assert stage_is_current(cfg2, COMPARE, {})
    assert not stage_is_current(cfg2, DELTAS, probe_files(cfg2))

    # a field stage 01 reads still makes it stale
    cfg3 = _cfg(tmp_path, tiny_model_dir, tiny_data)
    cfg3.data.eval_fraction = 0.3
    assert not stage_is_current(cfg3, TRAIN, train_files)


def test_with_a_twin_swapping_the_probe_leaves_stage01_current(tmp_path, tiny_model_dir, tiny_data):
    """The twins and the SAEs never read the probe (their masked-LM loss on it is measured by stage 03), so with
    ``twin.enabled`` a probe swap marks only the stages that read the probe stale."""
    from featevo.layout import CAUSAL, DIFFING, TWIN, upstream_stages

    def cfg_for(data):
        return config_from_dict(tiny_config_dict(tmp_path / "outputs", tiny_model_dir, data))

    cfg = cfg_for(tiny_data)
    assert cfg.twin.enabled and upstream_stages(cfg, TRAIN) == (TWIN,)
    assert not any(k == "data" or k.startswith("data.probe") for k in stage_spec(TWIN).reads)
    corpus_files = hash_inputs(input_files(cfg.data, probe=False))
    probe_files = lambda c: hash_inputs([input_files(c.data)[-1]])  # noqa: E731
    _commit(cfg, TWIN, corpus_files)  # in the order the stages run: each records its upstream fingerprints
    _commit(cfg, TRAIN, corpus_files)
    _commit(cfg, COMPARE, {})
    for stage in (DIFFING, DELTAS, CAUSAL):
        _commit(cfg, stage, probe_files(cfg))
    stages = (TWIN, TRAIN, COMPARE, DIFFING, DELTAS, CAUSAL)
    files = {TWIN: corpus_files, TRAIN: corpus_files, COMPARE: {}}
    assert all(stage_is_current(cfg, s, files.get(s, probe_files(cfg))) for s in stages)

    other = tmp_path / "probe2.jsonl"
    shutil.copy(tiny_data["probe"], other)
    with open(other, "a", encoding="utf-8") as f:
        f.write('{"text": "Another sentence about bonds.", "category": "credit"}\n')
    cfg2 = cfg_for({**tiny_data, "probe": other})  # --set data.probe=...
    for stage in (TWIN, TRAIN):
        assert section_dict(cfg2, stage_spec(stage).reads) == section_dict(cfg, stage_spec(stage).reads)
        assert stage_is_current(cfg2, stage, hash_inputs(input_files(cfg2.data, probe=False))), stage
    assert stage_is_current(cfg2, COMPARE, {})
    for stage in (DIFFING, DELTAS, CAUSAL):  # every stage that reads the probe, the twins' probe loss included
        assert any(k.startswith("data.probe") for k in stage_spec(stage).reads)
        assert not stage_is_current(cfg2, stage, probe_files(cfg2)), stage
    # a field the twins read still makes them stale, and stage 01 after them
    cfg3 = cfg_for(tiny_data)
    cfg3.harvest.stride = 10
    assert not stage_is_current(cfg3, TWIN, corpus_files) and not stage_is_current(cfg3, TRAIN, corpus_files)


def test_failed_start_leaves_no_partial_folder(tmp_path, tiny_model_dir, tiny_data):
    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data)
    st = StageRun(cfg, TRAIN).open()
    assert st.dir.is_dir()
    st.discard_if_unstarted()
    assert not st.dir.exists()


def test_models_are_named_without_machine_paths(tmp_path, tiny_model_dir, tiny_data):
    import os

    from featevo.layout import model_label, run_dir

    cfg = _cfg(tmp_path, tiny_model_dir, tiny_data)
    label = model_label(cfg, "base")
    assert not os.path.isabs(label) and (run_dir(cfg) / label).resolve() == tiny_model_dir.resolve()


def test_stage01_outputs_name_no_absolute_path(tiny_stage01):
    import json

    from featevo.layout import TrainFiles, stage_dir

    s1 = stage_dir(tiny_stage01, TRAIN)
    cfgs = list(s1.glob("saes/*/sae/cfg.json"))
    assert cfgs
    for p in cfgs:
        assert json.loads(p.read_text())["metadata"]["model_name"].startswith("01_twin/")
    for p in [*s1.glob("*/*/index.json"), s1 / TrainFiles.MODELS]:
        assert str(tiny_stage01.output_root) not in p.read_text(), p
    man = json.loads((s1 / "manifest.json").read_text())
    tok = man["tokenisation"]["train"]
    assert tok["tokens_kept"] + sum(tok["dropped"].values()) == tok["tokens_total"]
