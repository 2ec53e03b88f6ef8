"""Shared command line for the stage scripts.

Every stage script is ``main(argv) -> run_stage(<run function>, <stage id>, argv)``. It parses
``--config``, repeated ``--set section.key=value``, ``--force`` and ``--print-config`` (print the resolved
config with each key's documentation and exit), sends log lines to the terminal
and to ``outputs/<run>/logs/<stage>.log``, and turns a :class:`FeatevoError` into one line on
stderr and exit status 2. Ctrl-C and SIGTERM (``kill``, a job scheduler's timeout) take the same
path: ``finally`` blocks run (the local LLM server is stopped), the partial outputs stay for the
next run to resume from, and the exit status is 130.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import logging
import os
import re
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import yaml

from featevo import config as config_module
from featevo import config_sections
from featevo.config import PipelineConfig, load_config
from featevo.errors import FeatevoError
from featevo.layout import log_path
from featevo.progress import LOGGER_NAME as PROGRESS_LOGGER

DEFAULT_CONFIG = "configs/demo.yaml"


def help_description(doc: str | None) -> str:
    """The first paragraph of a script's docstring, without reST markup (````x````, ``:func:`x```)."""
    first = (doc or "").strip().split("\n\n")[0]
    first = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", first)
    return re.sub(r"``([^`]+)``", r"\1", first).replace("`", "")


def parse_args(argv: list[str] | None, description: str,
               add_arguments: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=help_description(description),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline YAML (default: %(default)s)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set sae.k=16 (repeatable)",
    )
    p.add_argument(
        "--force", action="store_true", default=os.environ.get("FORCE", "") not in ("", "0"),
        help="rerun even if the outputs match the config (also FORCE=1)",
    )
    p.add_argument("--print-config", action="store_true",
                   help="print the resolved config (after --set) with each key's documentation, and exit")
    if add_arguments is not None:
        add_arguments(p)
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------
# --print-config
# --------------------------------------------------------------------------------------------
def field_docs() -> dict[str, dict[str, str]]:
    """Dataclass name -> field -> the docstring under the field in featevo/config.py or featevo/config_sections.py
    (the sections it re-exports)."""
    out: dict[str, dict[str, str]] = {}
    nodes = [n for m in (config_sections, config_module) for n in ast.parse(inspect.getsource(m)).body]
    for node in nodes:
        if not isinstance(node, ast.ClassDef):
            continue
        docs: dict[str, str] = {}
        body = node.body
        for a, b in zip(body, body[1:]):
            if isinstance(a, ast.AnnAssign) and isinstance(a.target, ast.Name) and isinstance(b, ast.Expr) \
                    and isinstance(b.value, ast.Constant) and isinstance(b.value.value, str):
                docs[a.target.id] = " ".join(inspect.cleandoc(b.value.value).split())
        out[node.name] = docs
    return out


def _yaml_value(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True, width=10**9, allow_unicode=True).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def format_config(cfg: PipelineConfig) -> str:
    """The resolved config as YAML, each key preceded by its documentation as a comment (``--print-config``).
    ``yaml.safe_load`` of the text gives back the config's values."""
    docs = field_docs()
    lines = [f"# resolved config of run {cfg.run_name!r}" + (f" ({cfg.config_path} and --set overrides)"
                                                             if cfg.config_path else "")]

    def emit(obj: Any, indent: str) -> None:
        cls_docs = docs.get(type(obj).__name__, {})
        for f in dataclasses.fields(obj):
            if f.name == "config_path":
                continue
            value = getattr(obj, f.name)
            doc = cls_docs.get(f.name)
            if doc:
                lines.extend(f"{indent}# {chunk}" for chunk in _wrap(doc, 116 - len(indent)))
            if dataclasses.is_dataclass(value):
                lines.append(f"{indent}{f.name}:")
                emit(value, indent + "  ")
            else:
                lines.append(f"{indent}{f.name}: {_yaml_value(value)}")

    emit(cfg, "")
    return "\n".join(lines) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, max(width, 40)) or [""]


def setup_logging(cfg: PipelineConfig | None, stage: str) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    # progress lines are for the log file; the terminal has the bar itself
    console.addFilter(lambda r: not r.name.startswith(PROGRESS_LOGGER))
    root.addHandler(console)
    if cfg is not None:
        lp = log_path(cfg, stage)
        lp.parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(lp, encoding="utf-8")
        fh.setFormatter(fmt)
        root.addHandler(fh)
    root.setLevel(logging.INFO)
    try:
        import datasets
        import transformers

        transformers.utils.logging.set_verbosity_error()
        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass
    for noisy in ("httpx", "urllib3", "filelock", "datasets", "transformers.modeling_utils", "faiss", "faiss.loader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so cleanup code runs."""


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` (a ``KeyboardInterrupt``) in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise Terminated(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_stage(
    run: Callable[..., object], stage: str, argv: list[str] | None, description: str,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None, log_name: str | None = None,
) -> int:
    """Parse arguments, run ``run(cfg, force)`` and map user errors to a one-line message.

    ``add_arguments``: a script's own options; ``run`` is then called as ``run(cfg, args)``. ``log_name``:
    the log file's name when it is not the stage's (a tool writing into a stage folder, e.g. the export).
    """
    args = parse_args(argv, description, add_arguments)
    try:
        with sigterm_as_interrupt():
            cfg = load_config(args.config, args.overrides)
            if args.print_config:
                sys.stdout.write(format_config(cfg))
                sys.stdout.flush()
                return 0
            setup_logging(cfg, log_name or stage)
            if add_arguments is not None:
                run(cfg, args)
            else:
                run(cfg, args.force)
    except FeatevoError as e:
        _report(f"error: {e}", logging.ERROR)
        return 2
    except KeyboardInterrupt as e:
        how = "by SIGTERM" if isinstance(e, Terminated) else "by Ctrl-C"
        _report(f"interrupted: stage {stage} stopped {how}; partial outputs kept; rerun the same command to resume",
                logging.WARNING)
        return 130
    return 0


def _report(message: str, level: int) -> None:
    """The first line of ``message`` on stderr (one line, no log prefix); all of it in the stage's log file.

    Only a few messages have more lines (the LLM server's log tail); their first line names the log.
    """
    sys.stderr.write((message.splitlines()[0] if message.strip() else message) + "\n")
    sys.stderr.flush()
    record = logging.LogRecord("featevo.cli", level, __file__, 0, message, None, None)
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            try:
                h.handle(record)
                h.flush()
            except Exception:  # pragma: no cover - never mask the real error
                pass
