"""The backtest's simulated clock, shared by the pipeline engine and the fast one, the Unix
times of its moments, and which of them decide when the assets trade only in sessions."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate, repeat
from operator import add

import numpy as np

from signalops.adapters import calendar

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_EXACT = 2**53  # every integer below this is a float64


class SimulatedClock:
    """The backtest's "now": the decision time being simulated, for the records' timestamps."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def epoch_seconds(moments: Sequence[datetime]) -> np.ndarray:
    """``[m.timestamp() for m in moments]`` as float64.

    Evenly spaced UTC moments (a backtest's decision times, and their marks) are worked out
    from the first (``stepped_seconds``), at a third of the cost.
    """
    step = _steady_step(moments)
    found = None if step is None else stepped_seconds(moments[0], step, len(moments))
    if found is None:
        return np.array([m.timestamp() for m in moments], dtype=np.float64)
    return found


def _steady_step(moments: Sequence[datetime]) -> timedelta | None:
    """The step of UTC moments that are each ``first + k x step`` itself (as exact as that is);
    None for any others (in a zone with summer time, equal steps are not equal seconds)."""
    if len(moments) < 3 or set(map(type, moments)) != {datetime}:
        return None
    first, second = moments[0], moments[1]
    if first.tzinfo is not UTC or second.tzinfo is None or second <= first:
        return None
    step = second - first
    steps = accumulate(repeat(step, len(moments) - 1), add, initial=first)
    return step if list(moments) == list(steps) else None


def stepped_seconds(first: datetime, step: timedelta, count: int) -> np.ndarray | None:
    """``[(first + k x step).timestamp() for k in range(count)]`` as float64, for a UTC
    ``first`` and a positive ``step``; None beyond 2**53 microseconds (year 2255).

    An aware datetime's ``timestamp()`` is its whole microseconds since 1970 divided by 10**6;
    the k-th time's are the first's plus k steps' (exact integers, as float64 too below 2**53),
    divided as Python divides two such integers: one correctly rounded float division.
    """
    start, every = (first - _EPOCH) // _MICROSECOND, step // _MICROSECOND
    if count <= 0:
        return np.empty(0, dtype=np.float64)
    if max(abs(start), abs(start + every * (count - 1))) >= _EXACT:
        return None
    return (start + every * np.arange(count, dtype=np.int64)) / 1e6


# US equity sessions in a year: what daily stock returns are annualised with (the convention;
# 250 to 253 in practice).
SESSIONS_PER_YEAR = 252


def session_decisions(seconds: np.ndarray, step: float) -> np.ndarray:
    """Which of the decision times ``seconds`` (Unix seconds, ``step`` apart) decide when every
    asset trades only in US equity sessions: those with a session opening at or after them and
    before the next decision time.

    An order on a stock fills at the first session opening at or after its decision
    (``Bars.next_open``). The times with no opening before the next one (a weekend's, a
    holiday's) would all fill there with the same closes known: only the last of them, which
    knows the most (the weekend's news, say), decides; a Saturday's and a Sunday's orders would
    otherwise be placed again on top of each other at Monday's opening."""
    if not len(seconds):
        return np.zeros(0, dtype=bool)
    opens = session_opens(float(seconds[0]), float(seconds[-1]) + step)
    at = np.searchsorted(opens, seconds, side="left")
    following = np.append(opens, np.inf)[at]  # the first opening at or after each time
    return following < seconds + step


def session_periods_per_year(kept: np.ndarray, step: float, until: float | None = None) -> float:
    """The periods a year of the decision times ``session_decisions`` kept (at least one):
    ``SESSIONS_PER_YEAR`` for as many periods as sessions open from the first to the last
    period's end (``period_ends``: ``until`` at the latest). Each session has a decision of its
    own when ``step`` is a day or less (252 a year); a longer step decides before some of them
    only (about 52 a year every 7 days)."""
    last = float(kept[-1]) + step
    opens = session_opens(float(kept[0]), last if until is None else min(last, until))
    return SESSIONS_PER_YEAR * len(kept) / max(1, len(opens))


def period_ends(times: Sequence[datetime], step: timedelta, until: datetime) -> list[datetime]:
    """Where each decision's period ``[t, t + step)`` ends, the last ones cut at ``until``
    (``window_end``): a step longer than a candle does not carry the run past its period."""
    ends = [moment + step for moment in times]
    cut = bisect_right(ends, until)
    if cut < len(ends):
        ends[cut:] = [until] * (len(ends) - cut)
    return ends


def window_end(end: datetime, timeframe: float, filled: Iterable[datetime | None] = ()) -> datetime:
    """The end of a backtest's period ``[start, end]``: the close of the candle that opens at
    ``end`` (``--to 2022-12-31`` on daily candles: 2023-01-01 00:00, the 31st's close), or
    the latest of ``filled`` (where the last decision's orders are first marked: the close of
    the bar they fill in, ``Bars.fill_close``; a stock's Saturday decision fills on Monday).
    Each decision's period ends at ``t + every``, or here when that is later (an ``every``
    longer than a candle), so a run's equity, benchmark and annualisation stop where its period
    does."""
    return not_before(end + timedelta(seconds=timeframe), filled)


def not_before(moment: datetime, filled: Iterable[datetime | None]) -> datetime:
    """``moment``, or the latest of ``filled`` after it (where the last decision's orders are
    first marked: ``window_end``)."""
    for found in filled:
        if found is not None and found > moment:
            moment = found
    return moment


def session_opens(first: float, end: float) -> np.ndarray:
    """The US equity sessions' openings in ``[first, end)`` (Unix seconds, in order)."""
    return np.array(calendar.session_opens(first, end), dtype=np.float64)


__all__ = [
    "SESSIONS_PER_YEAR",
    "SimulatedClock",
    "epoch_seconds",
    "not_before",
    "period_ends",
    "session_decisions",
    "session_opens",
    "session_periods_per_year",
    "stepped_seconds",
    "window_end",
]
