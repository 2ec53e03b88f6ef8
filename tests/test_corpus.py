"""data/build_corpus.py with the default seed reproduces the committed data/corpus.jsonl and data/probe.jsonl."""

import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def test_build_corpus_reproduces_the_committed_files(tmp_path):
    proc = subprocess.run([sys.executable, str(DATA / "build_corpus.py"), "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "all invariants passed" in proc.stdout
    for name in ("corpus.jsonl", "probe.jsonl"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), f"{name} differs: regenerate and commit it"
