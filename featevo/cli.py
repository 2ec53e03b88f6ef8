"""Shared command line for the stage scripts.

Every stage script is ``main(argv) -> run_stage(<run function>, <stage id>, argv)``. It parses
``--config``, repeated ``--set section.key=value`` and ``--force``, sends log lines to the terminal
and to ``outputs/<run>/logs/<stage>.log``, and turns a :class:`FeatevoError` into one line on
stderr and exit status 2. Ctrl-C and SIGTERM (``kill``, a job scheduler's timeout) take the same
path: ``finally`` blocks run (the local LLM server is stopped), the partial outputs stay for the
next run to resume from, and the exit status is 130.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from featevo.config import PipelineConfig, load_config
from featevo.errors import FeatevoError
from featevo.layout import log_path

DEFAULT_CONFIG = "configs/demo.yaml"


def parse_args(argv: list[str] | None, description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", default=DEFAULT_CONFIG, help="pipeline YAML (default: %(default)s)")
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
        help="override one config value, e.g. --set sae.k=16 (repeatable)",
    )
    p.add_argument(
        "--force", action="store_true", default=os.environ.get("FORCE", "") not in ("", "0"),
        help="rerun even if the outputs match the config (also FORCE=1)",
    )
    return p.parse_args(argv)


def setup_logging(cfg: PipelineConfig | None, stage: str) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
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
    run: Callable[[PipelineConfig, bool], object], stage: str, argv: list[str] | None, description: str
) -> int:
    """Parse arguments, run ``run(cfg, force)`` and map user errors to a one-line message."""
    args = parse_args(argv, description)
    try:
        with sigterm_as_interrupt():
            cfg = load_config(args.config, args.overrides)
            setup_logging(cfg, stage)
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
