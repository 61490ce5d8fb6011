"""Numbers, ages and UNKNOWN reasons in words: plain strings shared by every view."""

from __future__ import annotations

import math
from typing import Any

from signalops.codes import Code

# Keyed by the codes, looked up by the plain strings a stored record holds (a Code is a str).
_REASONS: dict[str, str] = {
    Code.MISSING: "no data for this metric",
    Code.STALE: "data older than max age",
    Code.FUTURE: "data dated after the decision time (refused: look-ahead)",
    Code.NOT_A_NUMBER: "the value is not a finite number",
    Code.ADAPTER_ERROR: "the data source reported an error",
    Code.MATH_ERROR: "the arithmetic has no finite result (e.g. division by zero)",
}


def describe_reason(reason: str) -> str:
    """Why a leaf is UNKNOWN, for a trader: ``STALE`` -> ``data older than max age``."""
    return _REASONS.get(reason, reason)


def format_value(value: Any) -> str:
    """``-92.27M``, ``29.3046``: large numbers with a suffix, six significant digits."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
            if abs(value) >= size:
                return f"{value / size:.4g}{suffix}"
        return f"{value:.6g}"
    return str(value)


def format_age(seconds: float) -> str:
    """``0s``, ``5m``, ``1.5h``, ``2d``."""
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{seconds:.0f}s"
