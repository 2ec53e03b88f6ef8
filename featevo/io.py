"""Paths, atomic stage folders and manifests.

Every stage writes into ``outputs/<run>/.<stage>.partial/`` and, on success, writes
``manifest.json`` last and renames the folder to ``outputs/<run>/<stage>/``. A kill at any point
leaves either the previous complete outputs or none: the partial folder is never read by another
stage. Long stages keep their checkpoints in the partial folder, so a rerun with the same config
resumes there; a rerun with another config starts it afresh. A kill inside the final swap (between
two renames) is finished or undone by the next run (:func:`recover_interrupted_commit`).

A stage records each input stage by its *fingerprint*: the hash of that stage's config section,
inputs and output sha256s (not its timings). A ``--force`` rerun that reproduces the same bytes
(CPU, same seed) therefore leaves the stages built on it current.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

from featevo.config import PipelineConfig, section_dict, stable_hash, to_dict
from featevo.errors import StageError
from featevo.layout import (
    LOGS_DIR, MANIFEST, PARTIAL_CONFIG, REPO_ROOT, display_path, old_dir, partial_dir, run_dir, stage_command,
    stage_dir, stage_spec, upstream_stages,
)

logger = logging.getLogger(__name__)

_STRAY_TMP = re.compile(r"\..+\.(tmp|old)")  # temporary names of atomic_path (a kill can leave one)

VERSIONED_PACKAGES = (
    "torch", "transformers", "datasets", "safetensors", "sae-lens", "numpy", "scipy", "pandas",
    "matplotlib", "eai-delphi", "eai-sparsify", "llama_cpp_python",
)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Write a file or folder atomically: ``with atomic_path(p) as tmp: <write tmp>``.

    ``tmp`` is the sibling ``.<name>.tmp``; when the block succeeds it replaces ``path`` (a folder that
    exists is first parked as ``.<name>.old``, then removed). On an exception ``tmp`` is removed. A kill
    can leave ``.<name>.tmp``/``.old``: the next write removes them, and :meth:`StageRun.commit` never
    lists them as outputs. Every atomic write in featevo goes through here.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, old = path.with_name(f".{path.name}.tmp"), path.with_name(f".{path.name}.old")
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    if tmp.is_dir() and path.exists():
        _remove(old)
        os.replace(path, old)
        os.replace(tmp, path)
        _remove(old)
    else:
        os.replace(tmp, path)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StageError(f"{display_path(path)}: file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{display_path(path)}: not valid JSON ({e})") from None


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_commit() -> str | None:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    if not sha:
        return None
    return sha + ("-dirty" if dirty else "")


# --------------------------------------------------------------------------------------------
# Manifests and upstream checks
# --------------------------------------------------------------------------------------------
def manifest_sha(cfg: PipelineConfig, stage: str) -> str:
    return sha256_file(stage_dir(cfg, stage) / MANIFEST)


def manifest_fingerprint(man: dict) -> str:
    """What a downstream stage records about an input stage: its config, inputs and outputs."""
    return stable_hash({k: man.get(k) for k in ("stage", "config", "inputs", "outputs")})


def stage_fingerprint(cfg: PipelineConfig, stage: str) -> str:
    return manifest_fingerprint(read_json(stage_dir(cfg, stage) / MANIFEST))


def _upstream_unchanged(cfg: PipelineConfig, up: str, recorded: str | None) -> bool:
    """True when input stage ``up`` is still the one recorded (fingerprint; older runs: manifest sha256; None: an
    optional upstream that had not run, unchanged while it still has not)."""
    path = stage_dir(cfg, up) / MANIFEST
    if recorded is None:
        return not path.is_file()
    if not path.is_file():
        return False
    try:
        if recorded == manifest_fingerprint(read_json(path)):
            return True
    except StageError:
        return False
    return recorded == sha256_file(path)


def _swap_into_place(src: Path, final: Path, old: Path) -> None:
    """Replace ``final`` by ``src`` (two renames; ``old`` holds the previous outputs in between)."""
    if old.exists():
        if final.exists():
            shutil.rmtree(old)
        else:  # a previous swap was cut between its two renames: old is the last complete output
            os.replace(old, final)
    if final.exists():
        os.replace(final, old)
    os.replace(src, final)
    if old.exists():
        shutil.rmtree(old)


def recover_interrupted_commit(cfg: PipelineConfig, stage: str) -> None:
    """Finish a commit that a kill cut short, so a stage folder is never missing or mixed.

    A partial folder holding ``manifest.json`` is complete (the manifest is written last): it is
    swapped into place. Otherwise, a previous output parked in ``.<stage>.old`` while the stage
    folder is missing is put back.
    """
    final, partial, old = stage_dir(cfg, stage), partial_dir(cfg, stage), old_dir(cfg, stage)
    try:
        if (partial / MANIFEST).is_file():
            logger.info("finishing an interrupted commit of %s", display_path(final))
            _swap_into_place(partial, final, old)
        elif old.exists():
            if not final.exists() and (old / MANIFEST).is_file():
                logger.info("restoring %s after an interrupted commit", display_path(final))
                os.replace(old, final)
            else:
                shutil.rmtree(old)
    except OSError as e:  # e.g. another process finishing the same commit
        logger.warning("could not recover an interrupted commit of %s: %s", display_path(final), e)


def load_manifest(cfg: PipelineConfig, stage: str) -> dict | None:
    path = stage_dir(cfg, stage) / MANIFEST
    if not path.is_file() or (partial_dir(cfg, stage) / MANIFEST).is_file():
        recover_interrupted_commit(cfg, stage)
    if not path.is_file():
        return None
    return read_json(path)


def _config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    diffs = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            diffs += _config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            diffs.append(f"{prefix}{k}")
    return diffs


def require_stage(cfg: PipelineConfig, stage: str, verify_files: bool = True) -> dict:
    """Return the manifest of upstream ``stage``, or raise a one-line error naming what to run.

    Checks that the stage ran, with the same config sections as ``cfg``, that its own upstream
    stages have not been rerun since, and (``verify_files``) that every output file still has the
    sha256 the manifest recorded. What it opens is a check, not a read (:func:`record_reads`).
    """
    _PAUSED[0] += 1
    try:
        return _require_stage(cfg, stage, verify_files)
    finally:
        _PAUSED[0] -= 1


def require_upstream(cfg: PipelineConfig, stage: str) -> dict[str, dict]:
    """The manifests of ``stage``'s enabled upstream stages (:class:`featevo.layout.StageSpec`), each checked by
    :func:`require_stage` (its outputs re-hashed when listed in ``verify``); an ``optional`` one that has not run
    is left out (one that ran but is stale or from another config is an error, as for any other)."""
    spec = stage_spec(stage)
    out = {}
    for up in upstream_stages(cfg, stage):
        if up in spec.optional and load_manifest(cfg, up) is None:
            continue
        out[up] = require_stage(cfg, up, verify_files=up in spec.verify)
    return out


def _require_stage(cfg: PipelineConfig, stage: str, verify_files: bool) -> dict:
    sdir = stage_dir(cfg, stage)
    cmd = stage_command(cfg, stage)
    man = load_manifest(cfg, stage)
    if man is None:
        raise StageError(f"{display_path(sdir)} has no {MANIFEST}: stage {stage} has not finished; run: {cmd}")
    want = section_dict(cfg, stage_spec(stage).reads)
    diffs = _config_diff(man.get("config", {}), want)
    if diffs:
        raise StageError(
            f"{display_path(sdir)} was made with a different config (differs in: {', '.join(diffs[:6])}); "
            f"rerun: {cmd} --force"
        )
    for up, recorded in man.get("inputs", {}).get("stages", {}).items():
        if not _upstream_unchanged(cfg, up, recorded):
            raise StageError(
                f"{display_path(sdir)} is stale: its input stage {up} has changed since; rerun: {cmd}"
            )
    if verify_files:
        for rel, digest in man.get("outputs", {}).items():
            p = sdir / rel
            if not p.is_file():
                raise StageError(f"{display_path(p)} listed in the manifest is missing; rerun: {cmd} --force")
            if sha256_file(p) != digest:
                raise StageError(
                    f"{display_path(p)} does not match its sha256 in the manifest (corrupted or edited); "
                    f"rerun: {cmd} --force"
                )
    return man


def _upstream_hashes(cfg: PipelineConfig, stage: str) -> dict[str, str | None]:
    """What a stage records of its enabled upstream stages: their fingerprints; None for an optional one that
    has not run (it turns the stage stale once it runs)."""
    out: dict[str, str | None] = {}
    for up in upstream_stages(cfg, stage):
        if (stage_dir(cfg, up) / MANIFEST).is_file():
            out[up] = stage_fingerprint(cfg, up)
        elif up in stage_spec(stage).optional:
            out[up] = None
    return out


def stage_is_current(cfg: PipelineConfig, stage: str, input_files: dict[str, str] | None = None) -> bool:
    """True when ``stage``'s outputs exist, match the config, and its inputs are unchanged."""
    man = load_manifest(cfg, stage)
    if man is None:
        return False
    if _config_diff(man.get("config", {}), section_dict(cfg, stage_spec(stage).reads)):
        return False
    recorded = man.get("inputs", {})
    for up, digest in recorded.get("stages", {}).items():
        if not _upstream_unchanged(cfg, up, digest):
            return False
    if input_files is not None and recorded.get("files", {}) != input_files:
        return False
    for rel, digest in man.get("outputs", {}).items():
        if not (stage_dir(cfg, stage) / rel).is_file():
            return False
    return True


def hash_inputs(paths: list[Path]) -> dict[str, str]:
    """sha256 of input files (corpus, probe set), keyed by their display path."""
    return {display_path(p): sha256_file(p) for p in paths if p.is_file()}


@dataclass
class StageRun:
    """An in-progress stage: a partial folder to write into, finished by :meth:`commit`."""

    cfg: PipelineConfig
    stage: str
    input_files: dict[str, str] = field(default_factory=dict)
    device: str = "cpu"
    extra: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)

    @property
    def final_dir(self) -> Path:
        return stage_dir(self.cfg, self.stage)

    @property
    def dir(self) -> Path:
        return partial_dir(self.cfg, self.stage)

    def open(self) -> "StageRun":
        """Create the partial folder, or reuse it (resume) when it was made with the same config."""
        recover_interrupted_commit(self.cfg, self.stage)
        stamp = {"config": section_dict(self.cfg, stage_spec(self.stage).reads), "inputs": self._inputs()}
        marker = self.dir / PARTIAL_CONFIG
        if self.dir.exists():
            try:
                same = json.loads(marker.read_text()) == json.loads(json.dumps(stamp, default=str))
            except (OSError, json.JSONDecodeError):
                same = False
            if same:
                logger.info("resuming from partial outputs in %s", display_path(self.dir))
            else:
                logger.info("discarding partial outputs from another config in %s", display_path(self.dir))
                shutil.rmtree(self.dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(marker, stamp)
        return self

    def discard_if_unstarted(self) -> None:
        """Remove the partial folder when it holds nothing but its config stamp (a start that failed)."""
        if self.dir.is_dir() and {p.name for p in self.dir.iterdir()} <= {PARTIAL_CONFIG}:
            shutil.rmtree(self.dir)

    def _inputs(self) -> dict:
        return {"stages": _upstream_hashes(self.cfg, self.stage), "files": self.input_files}

    def commit(self, seed: int | None = None) -> dict:
        """Hash every output, write ``manifest.json`` last, and swap the folder into place.

        Until the manifest exists the partial folder keeps its config stamp, so a kill while hashing
        still resumes; once it exists the folder is complete (see :func:`recover_interrupted_commit`).
        """
        for p in sorted(self.dir.rglob(".*tmp*"), key=lambda q: len(q.parts), reverse=True):
            if _STRAY_TMP.fullmatch(p.name):  # left by a kill inside an atomic write: not an output
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        outputs = {}
        for p in sorted(self.dir.rglob("*")):
            rel = p.relative_to(self.dir).as_posix()
            if p.is_file() and rel not in (MANIFEST, PARTIAL_CONFIG):
                outputs[rel] = sha256_file(p)
        manifest = {
            "stage": self.stage,
            "run_name": self.cfg.run_name,
            "config": section_dict(self.cfg, stage_spec(self.stage).reads),
            "full_config": to_dict(self.cfg),
            "config_hash": stable_hash(section_dict(self.cfg, stage_spec(self.stage).reads)),
            "inputs": self._inputs(),
            "outputs": outputs,
            "seed": self.cfg.seed if seed is None else seed,
            "device": self.device,
            "versions": package_versions(),
            "git_commit": git_commit(),
            "command": stage_command(self.cfg, self.stage),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
            "wall_time_s": round(time.time() - self.started, 2),
            **self.extra,
        }
        atomic_write_json(self.dir / MANIFEST, manifest)
        (self.dir / PARTIAL_CONFIG).unlink(missing_ok=True)
        final = self.final_dir
        _swap_into_place(self.dir, final, old_dir(self.cfg, self.stage))
        logger.info("stage %s done in %.1fs: %s", self.stage, manifest["wall_time_s"], display_path(final))
        return manifest


# --------------------------------------------------------------------------------------------
# Which stage folders a stage reads (tests/test_dag.py holds them against the registry)
# --------------------------------------------------------------------------------------------
_READS: list[dict[str, set[str]]] = []   # while record_reads is active: stage -> folders its own code opened
_CURRENT: list[tuple[str, tuple[str, ...]]] = []   # (stage, its run folder's spellings) while reading_as runs
_PAUSED = [0]                              # > 0 inside require_stage: its checks are not reads
_READ_EVENTS = {"open", "os.listdir", "os.scandir"}
_HOOKED = [False]


def _audit(event: str, args: tuple) -> None:
    if event not in _READ_EVENTS or not _READS or not _CURRENT or _PAUSED[0]:
        return
    try:
        if not args or args[0] is None or isinstance(args[0], int):
            return
        path = os.path.abspath(os.fsdecode(os.fspath(args[0])))
        stage, roots = _CURRENT[-1]
        for root in roots:
            if path.startswith(root + os.sep):
                folder, _, rest = path[len(root) + 1:].partition(os.sep)
                if rest != MANIFEST and folder not in (stage, f".{stage}.partial", f".{stage}.old", LOGS_DIR):
                    _READS[-1].setdefault(stage, set()).add(folder)
                return
    except Exception:  # noqa: BLE001 - an audit hook must never break the operation it watches
        return


@contextmanager
def record_reads() -> Iterator[dict[str, set[str]]]:
    """Within the block, record per stage the other folders of its run folder (stages, or a ``.<stage>.partial``
    that must never be read) that its own code opens (a file opened, a folder listed) while :func:`reading_as`
    marks it, as ``{stage: {folder, ...}}``. Manifests are not counted (reading one is a check, not a use of the
    outputs), nor what :func:`require_stage` opens. Off by default: the first use installs an audit hook
    (:func:`sys.addaudithook`) that does nothing outside the block."""
    if not _HOOKED[0]:
        sys.addaudithook(_audit)
        _HOOKED[0] = True
    _READS.append({})
    try:
        yield _READS[-1]
    finally:
        _READS.pop()


@contextmanager
def reading_as(cfg: PipelineConfig, stage: str) -> Iterator[None]:
    """Mark the block as ``stage``'s own code for :func:`record_reads` (a no-op when nothing records)."""
    if not _READS:
        yield
        return
    root = run_dir(cfg)
    _CURRENT.append((stage, tuple({os.path.abspath(root), os.path.realpath(root)})))
    _READS[-1].setdefault(stage, set())
    try:
        yield
    finally:
        _CURRENT.pop()
