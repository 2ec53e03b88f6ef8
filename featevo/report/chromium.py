"""Headless Chromium: the report's browser test and the README screenshot (``make screenshot``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0", "--hide-scrollbars",
)


def chromium_path() -> Optional[str]:
    """Debian's ``chromium`` (``make browser`` installs it), or None."""
    for name in ("chromium", "chromium-browser"):
        if p := shutil.which(name):
            return p
    return None


def run_chromium(url: str, *extra: str, timeout: int = 120):
    """Run headless Chromium on ``url`` with a fresh profile; returns the CompletedProcess (stderr holds
    the console log: lines with ``:CONSOLE``)."""
    import subprocess
    import tempfile

    exe = chromium_path()
    if exe is None:
        raise FileNotFoundError("chromium is not installed (make browser)")
    with tempfile.TemporaryDirectory(prefix="featevo-chromium-") as profile:
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                              capture_output=True, text=True, timeout=timeout)


def docs_screenshot(html_path: str | Path, out_png: str | Path, height: int = 2200, width: int = 1050) -> int:
    """Screenshot the top of a report (1400 px wide window), scaled to ``width`` and palette-compressed
    (the README image); returns its size in bytes."""
    import tempfile

    from PIL import Image

    html_path = Path(html_path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        shot = Path(tmp) / Path(out_png).name  # the full-size screenshot, before scaling
        res = run_chromium(html_path.as_uri(), f"--screenshot={shot}", f"--window-size=1400,{max(height, 3000)}")
        if res.returncode != 0 or not shot.is_file():
            raise RuntimeError(f"chromium failed: {res.stderr[-500:]}")
        im = Image.open(shot).convert("RGB").crop((0, 0, 1400, height))
    im = im.resize((width, round(height * width / 1400)), Image.LANCZOS)
    im = im.quantize(colors=96, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    im.save(out_png, optimize=True)
    return out_png.stat().st_size
