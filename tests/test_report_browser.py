"""The report in a real browser: headless Chromium (Debian ``chromium``; ``make browser`` installs it)
loads report.html from disk, decodes every embedded figure, lays the page out without horizontal
overflow and takes a screenshot, with no console error or Content-Security-Policy violation
(the report allows no network access at all). Skipped only when Chromium is not installed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from test_report import report_cfg, report_dir  # noqa: F401  (session fixtures: stages 01-05 on the tiny config)

CONSOLE = re.compile(r":CONSOLE(?::\d+)?\]\s*(.*)")
WIDTH = 1400


def run_chromium(url: str, *extra: str):
    from featevo.report.chromium import chromium_path, run_chromium as run

    if chromium_path() is None:
        pytest.skip("chromium is not installed (run `make browser`, or apt-get install chromium)")
    return run(url, *extra)


def console_messages(stderr: str) -> list[str]:
    return [m.group(1) for line in stderr.splitlines() if (m := CONSOLE.search(line))]


def test_console_capture_works(tmp_path):
    """Control: a page that logs an error is caught, so a clean run below means something."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('featevo-probe');"
                    "missingFunction();</script></body></html>")
    res = run_chromium(page.as_uri(), f"--screenshot={tmp_path / 'bad.png'}", "--window-size=400,300")
    msgs = console_messages(res.stderr)
    assert any("featevo-probe" in m for m in msgs), res.stderr[-2000:]
    assert any("missingFunction" in m for m in msgs)


def test_report_screenshot_without_console_errors(report_dir, tmp_path):  # noqa: F811
    from PIL import Image

    shot = tmp_path / "report.png"
    res = run_chromium((report_dir / "report.html").as_uri(), f"--screenshot={shot}", f"--window-size={WIDTH},3000")
    assert res.returncode == 0, res.stderr[-3000:]
    assert console_messages(res.stderr) == [], console_messages(res.stderr)
    img = Image.open(shot)
    assert img.size == (WIDTH, 3000)
    gray = np.asarray(img.convert("L"), dtype=np.float32)
    assert gray.std() > 10, "blank screenshot"
    assert (gray < 128).mean() > 0.005, "no dark text rendered"


def test_figures_decode_and_page_fits_in_the_browser(report_dir, tmp_path):  # noqa: F811
    """A copy of the report with a probe script (the original's policy forbids scripts): every <img>
    decodes in Chromium, and the page has no horizontal overflow at 1400 px."""
    html = (report_dir / "report.html").read_text(encoding="utf-8")
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    probe = ("<script>window.addEventListener('load', function () {"
             "var imgs = Array.prototype.slice.call(document.images);"
             "var bad = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length;"
             "var b = document.body; b.setAttribute('data-images', imgs.length); b.setAttribute('data-bad', bad);"
             "b.setAttribute('data-scroll-width', document.documentElement.scrollWidth); });</script>")
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    res = run_chromium(page.as_uri(), "--dump-dom", f"--window-size={WIDTH},3000")
    assert res.returncode == 0, res.stderr[-3000:]
    assert console_messages(res.stderr) == []
    m = re.search(r'<body data-images="(\d+)" data-bad="(\d+)" data-scroll-width="(\d+)"', res.stdout)
    assert m, res.stdout[:500]
    n_imgs, bad, width = map(int, m.groups())
    assert n_imgs == html.count("<img ") and n_imgs >= 6
    assert bad == 0, f"{bad} of {n_imgs} figures did not decode in the browser"
    assert width <= WIDTH, f"page is {width}px wide: horizontal overflow"
