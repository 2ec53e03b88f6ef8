"""Number formatting for stage 05: the only place numbers become text in the report (re-exported by
:mod:`featevo.report.templates`). Every formatter shows :data:`MISSING` for None, NaN, inf and non-numbers.
"""

from __future__ import annotations

import math
from typing import Any

MISSING = "\u2013"  # en dash, shown for every missing or undefined number


def finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fnum(x: Any, digits: int = 3) -> str:
    """Fixed-point number, ``MISSING`` for None / NaN / inf / non-numbers."""
    if not finite(x):
        return MISSING
    s = f"{x:,.{digits}f}"
    return "0" + s[2:] if s.startswith("-0") and float(s.replace(",", "")) == 0 else s


def fsigned(x: Any, digits: int = 3) -> str:
    if not finite(x):
        return MISSING
    s = fnum(x, digits)
    return s if s.startswith("-") or float(s.replace(",", "")) == 0 else "+" + s


def fsig(x: Any, sig: int = 3, signed: bool = False) -> str:
    """``sig`` significant digits in fixed point (activations have model-dependent scales: 0.0123, 1.42)."""
    if not finite(x):
        return MISSING
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    decimals = max(0, sig - 1 - e)
    if decimals > 7:
        s = f"{x:.{sig - 1}e}"
    else:
        s = f"{x:,.{decimals}f}"
    return "+" + s if signed and x > 0 else s


def fint(x: Any) -> str:
    if not finite(x):
        return MISSING
    return f"{int(round(x)):,}"


def fpct(x: Any, digits: int = 1, signed: bool = False) -> str:
    """A fraction shown as a percentage (0.123 -> 12.3%)."""
    if not finite(x):
        return MISSING
    return (fsigned if signed else fnum)(100.0 * x, digits) + "%"


def fp(x: Any) -> str:
    """p- and q-values: 3 significant digits, scientific below 0.001."""
    if not finite(x):
        return MISSING
    return f"{x:.2e}" if 0 < x < 1e-3 else f"{x:.3f}"


def fci(lo: Any, hi: Any, sig: int = 3) -> str:
    """A confidence interval, each end to ``sig`` significant digits."""
    if not (finite(lo) and finite(hi)):
        return MISSING
    return f"[{fsig(lo, sig)}, {fsig(hi, sig)}]"
