"""Progress bars that also reach the stage's log file.

``tqdm`` draws on the terminal only, so a stage's ``logs/<stage>.log`` used to stay silent for minutes while a
twin or an SAE trained. :class:`tqdm` here is ``tqdm.auto.tqdm`` that also logs one plain line (``desc: n/total
unit, rate, ETA, postfix``) to the ``featevo.progress`` logger at most every :data:`LOG_EVERY_S` seconds and when it
closes. The console handler drops that logger's records (the bar is already there); the log file keeps them.
"""

from __future__ import annotations

import logging
import time

from tqdm.auto import tqdm as _tqdm

LOGGER_NAME = "featevo.progress"
LOG_EVERY_S = 30.0
"""Seconds between two progress lines of one bar in the log file."""

log = logging.getLogger(LOGGER_NAME)


def progress_line(desc: str, n: float, total: float | None, unit: str, elapsed: float, postfix: str = "") -> str:
    """``desc: n/total unit (pct), rate, elapsed, ETA[, postfix]``."""
    rate = n / elapsed if elapsed > 0 else 0.0
    parts = [f"{desc or 'progress'}: {n:,.0f}" + (f"/{total:,.0f}" if total else "") + f" {unit}"]
    if total:
        parts[0] += f" ({100.0 * n / total:.0f}%)"
    parts.append(f"{rate:.3g} {unit}/s" if rate >= 1 or rate == 0 else f"{1.0 / rate:.3g} s/{unit}")
    parts.append(f"elapsed {elapsed:.0f}s")
    if total and rate > 0 and n < total:
        parts.append(f"ETA {(total - n) / rate:.0f}s")
    if postfix:
        parts.append(postfix)
    return ", ".join(parts)


class tqdm(_tqdm):  # noqa: N801 - a drop-in for tqdm.auto.tqdm
    """``tqdm.auto.tqdm`` that also logs its progress to the stage log (see the module docstring)."""

    def __init__(self, *args, **kwargs):
        self._log_t0 = self._log_last = time.monotonic()
        self._logged_n = None
        super().__init__(*args, **kwargs)

    def _log_progress(self) -> None:
        now = time.monotonic()
        self._log_last, self._logged_n = now, self.n
        log.info(progress_line(self.desc.rstrip(": "), self.n, self.total, self.unit, now - self._log_t0,
                               (self.postfix or "").strip(", ")))

    def update(self, n=1):
        out = super().update(n)
        if not self.disable and time.monotonic() - self._log_last >= LOG_EVERY_S:
            self._log_progress()
        return out

    def close(self):
        if not getattr(self, "_log_closed", False) and hasattr(self, "_log_t0") and not self.disable:
            self._log_closed = True
            # one closing line for a bar that ran long enough to have logged (short bars stay out of the log)
            if self._logged_n is not None and self._logged_n != self.n:
                self._log_progress()
        return super().close()
