"""The stage preamble, written once: every stage module's ``run(cfg, force)`` hands its ``compute`` to
:func:`run_stage`, driven by the stage's entry in the registry (:class:`featevo.layout.StageSpec`).

For stage ``s`` the runner

1. checks every enabled upstream stage of ``s`` (:func:`featevo.io.require_upstream`: ran with this config,
   not stale, the outputs of those in ``verify`` re-hashed; an ``optional`` one only when it ran), so a missing
   or stale input stops with one line naming the command to run;
2. hashes the data files ``s`` declares (``inputs``) and returns the stage folder when ``s`` is current, unless
   ``force``;
3. runs the module's ``check(cfg)``, if it has one (what must fail before the partial folder exists);
4. opens the partial folder (:class:`featevo.io.StageRun`: one made with the same config is resumed) with the
   device and the manifest entries known before the work;
5. calls ``compute(cfg, out_dir) -> result`` with ``out_dir`` the partial folder, adds ``manifest(result)``'s
   entries and commits (manifest last, folder swapped into place). A failure before ``compute`` wrote anything
   leaves no partial folder; a later one keeps it for the rerun to resume from.

Steps 3 and 5 are the stage's own code: :func:`featevo.io.record_reads` records which stage folders it reads
(``tests/test_dag.py`` checks them against the registry's edges); the checks of step 1 are not reads.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from featevo.config import PipelineConfig
from featevo.io import StageRun, hash_inputs, reading_as, require_upstream, stage_is_current
from featevo.layout import display_path, resolve_repo_path, stage_dir, stage_spec

logger = logging.getLogger(__name__)

Compute = Callable[[PipelineConfig, Path], Any]


def input_files(cfg: PipelineConfig, stage: str) -> dict[str, str]:
    """sha256 of the data files ``stage`` declares (``StageSpec.inputs``), keyed by their display path."""
    from featevo.data import input_files as data_files

    paths: list[Path] = []
    for name in stage_spec(stage).inputs:
        if name == "corpus":
            paths += data_files(cfg.data, probe=False)
        elif name == "probe":
            paths.append(resolve_repo_path(cfg.data.probe))
        else:
            raise ValueError(f"stage {stage}: unknown input {name!r} in the registry (known: corpus, probe)")
    return hash_inputs(paths)


def execute(cfg: PipelineConfig, stage: str, compute: Compute, force: bool = False, *,
            check: Callable[[PipelineConfig], None] | None = None, device: bool = True, extra: dict | None = None,
            manifest: Callable[[Any], dict] | None = None) -> tuple[Path, Any]:
    """Run ``stage`` through ``compute`` unless it is current (the steps of this module's docstring); returns the
    stage folder and ``compute``'s result (None when the stage was current and skipped).

    ``device``: record the configured device in the manifest (False: ``cpu``, a stage that computes on none);
    ``extra``: manifest entries known before the work; ``manifest``: entries taken from the result.
    """
    final = stage_dir(cfg, stage)
    require_upstream(cfg, stage)
    files = input_files(cfg, stage)
    if not force and stage_is_current(cfg, stage, files):
        logger.info("stage %s is up to date (use --force to rerun): %s", stage, display_path(final))
        return final, None
    if check is not None:
        with reading_as(cfg, stage):
            check(cfg)
    where = "cpu"
    if device:
        from featevo.models import resolve_device

        where = str(resolve_device(cfg.device))
    st = StageRun(cfg, stage, input_files=files, device=where, extra=dict(extra or {})).open()
    try:
        with reading_as(cfg, stage):
            result = compute(cfg, st.dir)
    except Exception:
        st.discard_if_unstarted()  # a start that fails before any work leaves no partial folder
        raise
    if manifest is not None:
        st.extra.update(manifest(result))
    st.commit()
    return final, result


def run_stage(cfg: PipelineConfig, stage: str, compute: Compute, force: bool = False, **kw) -> Path:
    """:func:`execute`, returning the stage folder only (what every stage module's ``run`` returns)."""
    return execute(cfg, stage, compute, force, **kw)[0]
