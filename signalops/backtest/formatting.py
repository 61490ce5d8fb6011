"""Numbers and times as a backtest report shows them to people, in the terminal and on the page.

Percentages and money carry thousands separators, ratios two decimals (``signalops.numbers``, which
the dashboard formats through too), times the day alone when they fall at midnight UTC, a drawdown's
marks as the days (or times) they are dated (``dated``). The report's tables, its charts' hover
labels and the CLI's table all format through these, so they agree.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from signalops import numbers
from signalops.canonical import iso
from signalops.catalogue.spec import format_duration

DASH = "—"


def pct(value: float | None, *, signed: bool = False, digits: int = 2) -> str:
    """A percentage with thousands separators: ``+1,234.56%``."""
    return DASH if value is None else numbers.percent(value, signed=signed, digits=digits)


def ratio(value: float | None) -> str:
    return DASH if value is None else numbers.ratio(value)


def profit_factor(value: float | None, gross_profit: Decimal | str | None) -> str:
    """Gross profit over gross loss; ``∞ (no losing trade)`` when trades gained and none lost
    (``metrics.json`` keeps null there: JSON has no infinity), ``—`` without a trade that
    gained or lost."""
    gained = numbers.as_number(gross_profit)
    if value is None and gained is not None and gained > 0:
        return "∞ (no losing trade)"
    return ratio(value)


def money(value: Decimal, quote: str | None = "USDT") -> str:
    return numbers.money(value, quote)


def day(moment: datetime | None) -> str:
    """``2023-03-10`` at midnight UTC, else ``2023-03-10 05:00`` (UTC)."""
    if moment is None:
        return DASH
    text = iso(moment) or DASH
    return text[:10] if text.endswith("T00:00:00Z") else text[:16].replace("T", " ")


def dated(when: date | datetime | None) -> str:
    """What a mark is dated as (``metrics.Drawdown.dates``): a day as ``2020-02-19``, a time
    as ``2020-02-20 00:00`` (UTC), with its time even at midnight: an hourly mark there is the
    close of 23:00's hour, not a day."""
    if when is None:
        return DASH
    if isinstance(when, datetime):
        return (iso(when) or DASH)[:16].replace("T", " ")
    return when.isoformat()


def horizon(span: timedelta) -> str:
    """A horizon in its largest whole unit, as --every and the errors show a length: ``--horizon
    7d`` (or ``168h``) reads ``7d``, the default 72h ``3d``, ``36h`` stays ``36h``."""
    return format_duration(span.total_seconds())
