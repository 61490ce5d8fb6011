"""The US equity market calendar (NYSE/Nasdaq): which dates have a daily bar, and when it is known.

A daily bar is known at the regular close, 16:00 America/New_York on its date (DST included),
never before. Half days (13:00 closes) are treated as 16:00 too: later than the real close, so
never early. Weekends and exchange holidays have no bar; between them the previous session's
close stays the latest observation, with its own data time, so a leaf's ``max_age`` sees how old
it is.

Holidays follow NYSE's rules (Rule 7.2 and its observance shifts: a Saturday holiday is observed
on the Friday before, except New Year's Day; a Sunday one on the Monday after), plus the
unscheduled closures since 2001 listed in ``_CLOSURES``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
OPEN = time(9, 30)
CLOSE = time(16)

# Days NYSE closed outside its rules: 9/11, President Reagan's funeral, Hurricane Sandy, the
# national days of mourning for Presidents Ford, G. H. W. Bush and Carter.
_CLOSURES = frozenset(
    {
        date(2001, 9, 11), date(2001, 9, 12), date(2001, 9, 13), date(2001, 9, 14),
        date(2004, 6, 11), date(2007, 1, 2), date(2012, 10, 29), date(2012, 10, 30),
        date(2018, 12, 5), date(2025, 1, 9),
    }
)  # fmt: skip


def session_close(day: date) -> float:
    """Unix seconds at which ``day``'s daily bar becomes known: 16:00 New York that day."""
    return datetime.combine(day, CLOSE, NEW_YORK).timestamp()


def session_open(day: date) -> float:
    """Unix seconds at which ``day``'s session opens: 09:30 New York that day (where an order
    placed after the previous close is filled first)."""
    return datetime.combine(day, OPEN, NEW_YORK).timestamp()


@lru_cache(maxsize=65536)
def trading_day(epoch: float) -> date:
    """The New York calendar date of a moment (cached: a backtest asks for the same closes at
    every decision, and the time zone conversion dominated its calendar work)."""
    return datetime.fromtimestamp(epoch, UTC).astimezone(NEW_YORK).date()


def is_session(day: date) -> bool:
    """Whether the US equity market trades on ``day``."""
    return day.weekday() < 5 and day not in holidays(day.year) and day not in _CLOSURES


def next_open(epoch: float) -> float:
    """When the first session opening at or after ``epoch`` (Unix seconds) opens."""
    day = trading_day(epoch)
    while not (is_session(day) and session_open(day) >= epoch):
        day += timedelta(days=1)
    return session_open(day)


def opens_within(start: float, end: float) -> bool:
    """Whether a session opens in ``[start, end)`` (Unix seconds): a decision at ``start``
    whose next one is at ``end`` is the last before that session (``run``'s and the
    backtest's rule for stocks: the ones before it would fill at the same opening)."""
    return next_open(start) < end


def closes_within(start: float, end: float) -> bool:
    """Whether a session closes in ``(start, end]`` (Unix seconds): a daily bar became known
    then. Data from ``start`` that is old at ``end`` without one is the market's own pause (a
    night, a weekend, a holiday), not a feed that stopped."""
    day, last = trading_day(start), trading_day(end)
    while day <= last:
        if is_session(day) and start < session_close(day) <= end:
            return True
        day += timedelta(days=1)
    return False


def session_opens(first: float, end: float) -> list[float]:
    """The sessions' openings in ``[first, end)`` (Unix seconds, in order)."""
    found = []
    day, last = trading_day(first), trading_day(end)
    while day <= last:
        if is_session(day) and first <= session_open(day) < end:
            found.append(session_open(day))
        day += timedelta(days=1)
    return found


@lru_cache(maxsize=65536)
def sessions_between(first: date, last: date) -> tuple[date, ...]:
    """The trading days strictly after ``first`` and strictly before ``last``."""
    found = []
    day = first + timedelta(days=1)
    while day < last:
        if is_session(day):
            found.append(day)
        day += timedelta(days=1)
    return tuple(found)


@cache
def holidays(year: int) -> frozenset[date]:
    """NYSE's full-day holidays of ``year``, on the dates they are observed."""
    days = {
        _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day: third Monday of January
        _nth_weekday(year, 2, 0, 3),  # Washington's Birthday: third Monday of February
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, 0),  # Memorial Day: last Monday of May
        _observed(date(year, 7, 4)),
        _nth_weekday(year, 9, 0, 1),  # Labor Day: first Monday of September
        _nth_weekday(year, 11, 3, 4),  # Thanksgiving: fourth Thursday of November
        _observed(date(year, 12, 25)),
    }
    new_year = date(year, 1, 1)
    # A Saturday New Year's Day is not observed on the Friday before (that would close the
    # previous year's last session); a Sunday one moves to Monday.
    if new_year.weekday() < 5:
        days.add(new_year)
    elif new_year.weekday() == 6:
        days.add(new_year + timedelta(days=1))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth, observed by NYSE from 2022
    return frozenset(days)


def _observed(day: date) -> date:
    if day.weekday() == 5:
        return day - timedelta(days=1)
    if day.weekday() == 6:
        return day + timedelta(days=1)
    return day


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    line = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * line) // 451
    month, day = divmod(h + line - 7 * m + 114, 31)
    return date(year, month, day + 1)
