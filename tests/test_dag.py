"""Declared edges equal the edges read: every stage's own code (its ``check`` and ``compute``, run by
featevo.runner) opens exactly the stage folders that the registry (featevo/layout.py STAGES) names as its
enabled upstream, optional ones included when they ran.

The tiny pipeline (twin with control and planted twins, all eight stages, stage 04 with a scripted LLM client) runs
once under :func:`featevo.io.record_reads`, which records the folders opened while each stage's code runs
(manifests and require_stage's checks are not reads).
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from conftest import tiny_config_dict
from test_interpret import _Replay

from featevo.config import CrosscoderConfig, DiffingConfig, StagewiseConfig, config_from_dict
from featevo.errors import StageError
from featevo.interpret import _RecordingMixin
from featevo.io import StageRun, atomic_write_json, reading_as, record_reads, require_stage
from featevo.layout import (
    CAUSAL, COMPARE, DELTAS, DIFFING, REPORT, STAGES, STUDY, TRAIN, DeltasFiles, partial_dir, run_dir, stage_dir,
    stage_spec, upstream_stages,
)


class _Endless(list):
    def pop(self, index=-1):
        return "[EXPLANATION]: numbers"


class _Client(_RecordingMixin, _Replay):
    """Stage 04's LLM: every explanation is "numbers"; as a scorer it marks the contexts with digits."""

    def __init__(self, *args):
        _Replay.__init__(self, "scripted")
        self._init_log()
        self.explain_replies = _Endless()


def _commit(cfg, stage, name="out.txt", text="x"):
    st = StageRun(cfg, stage).open()
    (st.dir / name).write_text(text)
    st.commit()


def test_reads_are_recorded_only_for_the_stage_code(tiny_cfg):
    """The recorder sees a file of another stage opened by a stage's code; not a manifest, not require_stage's
    hashing, not the stage's own folder, and nothing outside :func:`reading_as`."""
    cfg = tiny_cfg
    _commit(cfg, DELTAS, DeltasFiles.INTERESTING, "{}")
    with record_reads() as reads:
        (stage_dir(cfg, DELTAS) / DeltasFiles.INTERESTING).read_text()  # not inside a stage
        with reading_as(cfg, CAUSAL):
            require_stage(cfg, DELTAS)  # reads the manifest and hashes every output: a check
            json.loads((stage_dir(cfg, DELTAS) / "manifest.json").read_text())
            partial_dir(cfg, CAUSAL).mkdir(parents=True)
            (partial_dir(cfg, CAUSAL) / "own.txt").write_text("own outputs are not upstream reads")
        assert reads == {CAUSAL: set()}
        with reading_as(cfg, CAUSAL):
            (stage_dir(cfg, DELTAS) / DeltasFiles.INTERESTING).read_text()
        assert reads == {CAUSAL: {DELTAS}}
    with reading_as(cfg, COMPARE):  # nothing records outside record_reads
        (stage_dir(cfg, DELTAS) / DeltasFiles.INTERESTING).read_text()
    assert reads == {CAUSAL: {DELTAS}}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, tiny_model_dir, tiny_data):
    """All eight stages on a small tiny config, each stage's reads recorded; returns (cfg, reads)."""
    from featevo import causal, compare, deltas, diffing, interpret, report, study_stage, train

    root = tmp_path_factory.mktemp("dag") / "outputs"
    d = tiny_config_dict(root, tiny_model_dir, tiny_data,
                         twin={"steps": 2, "head_fit_max_steps": 10},
                         sae={"training_tokens": 1024},
                         interpret={"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "scripted",
                                    "latents": 2, "scorers": ["detection"]})
    cfg = config_from_dict(d)
    cfg = dataclasses.replace(
        cfg, diffing=DiffingConfig(stagewise=StagewiseConfig(tokens=1024, orders=2, domain_orders=1),
                                   crosscoder=CrosscoderConfig(tokens=1024), max_tokens=3000),
        causal=dataclasses.replace(cfg.causal, top_n=2, n_random=4, n_bootstrap=20, batch_size=32))
    mp = pytest.MonkeyPatch()
    mp.setattr(interpret, "make_client", _Client)
    try:
        with record_reads() as reads:
            train.run(cfg)  # makes the twins first
            for mod in (compare, diffing, deltas, causal, study_stage, interpret, report):
                mod.run(cfg)
    finally:
        mp.undo()
    return cfg, reads


def test_every_stage_reads_exactly_its_declared_upstream(pipeline):
    cfg, reads = pipeline
    assert set(reads) == {s.id for s in STAGES}
    for s in STAGES:
        assert reads[s.id] == set(upstream_stages(cfg, s.id)), (
            f"{s.id} reads {sorted(reads[s.id])}, the registry declares {sorted(upstream_stages(cfg, s.id))}")
    assert DIFFING not in stage_spec(CAUSAL).upstream  # causal reads nothing of the model-diffing stage


def test_optional_upstream_is_read_only_when_it_ran(pipeline, tmp_path):
    """The report without 02_model_diffing, 03_causal and 03_study: not an error, and none is read; a stale one
    stops it."""
    from featevo import report

    cfg, _ = pipeline
    cfg2 = dataclasses.replace(cfg, output_root=str(tmp_path / "outputs"))
    shutil.copytree(run_dir(cfg), run_dir(cfg2),
                    ignore=lambda d, names: [n for n in names if n in (DIFFING, CAUSAL, STUDY, REPORT)])
    with record_reads() as reads:
        report.run(cfg2)
    spec = stage_spec(REPORT)
    assert reads[REPORT] == set(upstream_stages(cfg2, REPORT)) - set(spec.optional)
    # an optional upstream that ran and is stale (its input stage 01 changed since) is an error
    shutil.copytree(stage_dir(cfg, DIFFING), stage_dir(cfg2, DIFFING))
    man = json.loads((stage_dir(cfg2, DIFFING) / "manifest.json").read_text())
    man["inputs"]["stages"][TRAIN] = "0" * 64
    atomic_write_json(stage_dir(cfg2, DIFFING) / "manifest.json", man)
    with pytest.raises(StageError, match=f"{DIFFING}.*stale"):
        report.run(cfg2, force=True)
