"""The bars an imported candle file leaves out between its first row and its last, which
``data import FILE`` warns of.

A backtest fills an order at the open of the bar after its decision; across missing bars that
open comes later than the next decision, and the report only says so afterwards
(``backtest.report.gap_fill_notes``). The import says it first, counted as the trader thinks of
the series:

- a stock (a yfinance venue; daily candles only, as ``data import`` refuses others) trades
  in sessions: a session of the exchange calendar (``adapters.calendar``: weekends, NYSE
  holidays and closures are none) with no bar in the series is missing.
- anything else trades around the clock: each candle the steps between rows skip is missing
  (exchanges leave out empty ones; a backtest meets the same gap).

The series as stored after the import counts, over the file's span: rows an earlier import gave
fill the file's gaps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

from signalops.adapters import calendar
from signalops.catalogue.spec import format_duration

DAY = 86400

# A missing run: the first missing bar, the last, and how many (sessions or candles) it holds.
Run = tuple[str, str, int]


@dataclass(frozen=True)
class Missing:
    """The sessions (``unit`` session) or candles (``unit`` candle) missing from a series of
    ``timeframe`` candles between ``first`` and ``last``, the file's first and last rows, as runs
    of consecutive ones."""

    timeframe: str
    unit: str
    first: str
    last: str
    runs: tuple[Run, ...]

    @property
    def count(self) -> int:
        return sum(n for _, _, n in self.runs)


def missing_bars(
    closes: Iterable[float], first: float, last: float, step: int, *, sessions: bool
) -> Missing | None:
    """What the stored candle ``closes`` (Unix seconds) lack from the candle closing at
    ``first`` to the one closing at ``last`` (the file's first and last rows); None when
    nothing is missing. ``sessions``: a stock's daily candles (the only ones imported)."""
    within = sorted({t for t in closes if first <= t <= last})
    if sessions:
        return _missing_sessions(within, step)
    return _missing_candles([t - step for t in within], step)


def _missing_sessions(closes: Sequence[float], step: int) -> Missing | None:
    # A daily bar ends within its session's day (at 16:00 New York): a second before its close
    # is on that day.
    days = {calendar.trading_day(t - 1) for t in closes}
    first, last = min(days), max(days)
    runs: list[tuple[date, date, int]] = []
    open_run = False
    for day in calendar.sessions_between(first, last):
        if day in days:
            open_run = False
        elif open_run:
            start, _, n = runs[-1]
            runs[-1] = (start, day, n + 1)
        else:
            runs.append((day, day, 1))
            open_run = True
    if not runs:
        return None
    return Missing(
        format_duration(step),
        "session",
        first.isoformat(),
        last.isoformat(),
        tuple((a.isoformat(), b.isoformat(), n) for a, b, n in runs),
    )


def _missing_candles(opens: Sequence[float], step: int) -> Missing | None:
    runs = []
    for a, b in pairwise(opens):
        skipped = round((b - a) / step) - 1
        if skipped > 0:
            runs.append((_shown(a + step, step), _shown(a + skipped * step, step), skipped))
    if not runs:
        return None
    return Missing(
        format_duration(step),
        "candle",
        _shown(opens[0], step),
        _shown(opens[-1], step),
        tuple(runs),
    )


def _shown(opened: float, step: int) -> str:
    """A candle's open as its file dates it: the day for a daily (or longer) candle opening at
    midnight UTC, else the minute."""
    moment = datetime.fromtimestamp(opened, UTC)
    whole_day = step % DAY == 0 and moment.hour == moment.minute == 0
    return moment.strftime("%Y-%m-%d" if whole_day else "%Y-%m-%d %H:%M")
