"""Numbers, ages and UNKNOWN reasons in words: plain strings shared by every view."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from signalops import numbers
from signalops.catalogue.builtin import BUILTIN
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

# A leaf a source answered with an error is ADAPTER_ERROR whatever the error (the record keeps
# each reading's ``CODE: message``); these codes are no failure of the source but what it lacks,
# said as that when every reading's error has the one code.
_ANSWERS: dict[str, str] = {
    Code.NO_DATA: "the source has no data for this time",
    Code.INSUFFICIENT_HISTORY: "too little history for the indicator",
    Code.LOOK_AHEAD: "the source only has data from after the decision time",
    Code.NOT_APPLICABLE: "the metric does not apply to this asset",
    Code.NOT_REPORTED: "the filer does not report this figure",
    Code.NO_SPLIT_HISTORY: "the stock split (its filed share counts say so): no split history",
    Code.MARKET_CLOSED: "the market was closed or resolved",
}

# Catalogue units read as a percentage (``0.05`` is ``+5%``) or as a price.
FRACTION = "fraction"
_PRICE_UNITS = frozenset({"quote currency"})


def describe_reason(reason: str, errors: Iterable[Any] = ()) -> str:
    """Why a leaf is UNKNOWN, for a trader: ``STALE`` -> ``data older than max age``.

    ``errors``: its readings' errors (``"NO_DATA: no recorded ..."``, None for a reading without
    one). An ``ADAPTER_ERROR`` leaf whose errors all have a code that is no failure of the source
    says what that code means (``NO_DATA``: ``the source has no data for this time``)."""
    if reason == Code.ADAPTER_ERROR:
        codes = {str(e).split(":", 1)[0] for e in errors if isinstance(e, str) and e}
        if len(codes) == 1 and (code := codes.pop()) in _ANSWERS:
            return _ANSWERS[code]
    return _REASONS.get(reason, reason)


def format_value(value: Any) -> str:
    """``-92.27M``, ``29.3046``, ``20,362.2``: large numbers with a suffix, six significant
    digits, thousands separators."""
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
            if abs(value) >= size:
                return f"{value / size:.4g}{suffix}"
        return f"{value:,.6g}"
    return str(value)


def metric_unit(source: Any, metric: Any) -> str:
    """The unit the built-in catalogue declares for ``source``'s ``metric`` (``fraction``,
    ``quote currency``...); ``''`` for a metric it does not know (a plugin's: shown as a
    plain number)."""
    catalogue = BUILTIN.sources.get(source) if isinstance(source, str) else None
    spec = catalogue.get(metric) if catalogue is not None and isinstance(metric, str) else None
    return spec.unit if spec is not None else ""


def format_in_unit(value: Any, unit: str) -> str:
    """A metric's value as its unit reads: a fraction as a percentage (``-0.0193101`` ->
    ``-1.93%``), a price to six significant digits (``20,362.22``), anything else as
    ``format_value`` shows it."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if unit == FRACTION:
            return numbers.percent_trimmed(value, digits=2)
        if unit in _PRICE_UNITS and abs(value) < 1e6:
            return numbers.trade_price(value)
    return format_value(value)


def format_age(seconds: float) -> str:
    """``0s``, ``5m``, ``1.5h``, ``2d``."""
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{seconds:.0f}s"
