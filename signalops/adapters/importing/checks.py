"""What ``data import FILE`` refuses before anything is written, each time naming the row.

A file is checked as the live adapters check a response: a candle has prices above zero, a high
not below its low and a volume not negative (``technical.plausible_candle``, the BAD_RESPONSE
rules). Beyond that, a file cannot say two things about one moment (two rows at one time with
other values; a repeat of a row is left out and reported), cannot silently change what the
snapshot folder holds (stored points it would change need ``--replace``), and its candles must
be as long as the rows are apart (``typical_gap``, ``aligned``): a daily row read as an hourly
candle would be known 23 hours before its close.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import InputError

CANDLE_VALUES = ("open", "high", "low", "close", "volume")
HOUR = 3600
DAY = 86400

# A point read from a file: series, time, value, and the place of its row (``FILE:LINE``...).
Located = tuple[str, float, Any, str]


@dataclass(frozen=True)
class Repeat:
    """A row left out because an earlier one (``first``) says exactly the same."""

    series: str
    where: str
    first: str


@dataclass(frozen=True)
class Points:
    """A file's points by series and time, each with the place of the row it came from."""

    by_series: Mapping[str, Mapping[float, tuple[Any, str]]]
    repeats: Sequence[Repeat]


def shown(number: float) -> str:
    """A number as a person wrote it: ``90``, ``23141.57``, ``-5``."""
    return str(int(number)) if number.is_integer() else repr(number)


def plausible(where: str, candle: Sequence[float]) -> list[float]:
    """Open, high, low, close, volume, refused unless they can be a real candle."""
    o, h, low, c, v = candle
    for name, price in zip(CANDLE_VALUES, (o, h, low, c), strict=False):
        if price <= 0:
            raise InputError(f"{where}: {name} {shown(price)} is not above zero")
    if h < low:
        raise InputError(f"{where}: high {shown(h)} is below low {shown(low)}")
    if v < 0:
        raise InputError(f"{where}: volume {shown(v)} is negative")
    return list(candle)


def unique(points: Iterable[Located], path: Path) -> Points:
    """The points by series and time; a repeat is left out, another value at a time refused."""
    by_series: dict[str, dict[float, tuple[Any, str]]] = {}
    repeats: list[Repeat] = []
    for key, t, value, where in points:
        series = by_series.setdefault(key, {})
        if t not in series:
            series[t] = (value, where)
            continue
        first_value, first = series[t]
        if not same(first_value, value):
            raise InputError(
                f"{where}: the same time as {short(first, path)}, with other values"
                f"{difference(first_value, value, f'at {short(first, path)}', 'here')}"
            )
        repeats.append(Repeat(key, where, first))
    return Points(by_series, repeats)


def same(stored: Any, new: Any) -> bool:
    """Whether ``new`` is written as ``stored`` reads back (tuples become lists, 1.0 is 1)."""
    return bool(stored == new or stored == json.loads(json.dumps(new)))


def short(where: str, path: Path) -> str:
    """``FILE:3`` -> ``line 3``, ``FILE: item 3`` -> ``item 3``: the other row of one file."""
    rest = where.removeprefix(str(path))
    if rest == where:
        return where
    if rest.startswith(":") and rest[1:].isdigit():
        return f"line {rest[1:]}"
    return rest.removeprefix(": ") or where


def difference(first: Any, second: Any, first_name: str, second_name: str) -> str:
    """`` (close 999 there, 115 here)``: the first field that differs, when it can be named."""
    if _numbers(first) and _numbers(second):
        return f" ({shown(float(first))} {first_name}, {shown(float(second))} {second_name})"
    if _candle(first) and _candle(second):
        for name, a, b in zip(CANDLE_VALUES, first, second, strict=True):
            if a != b:
                return f" ({name} {shown(float(a))} {first_name}, {shown(float(b))} {second_name})"
    return ""


def _numbers(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _candle(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == len(CANDLE_VALUES)


# --- merging into the snapshot folder ---------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A stored point the file gives another value for."""

    series: str
    where: str
    stored: Any
    new: Any


def changes(store: SnapshotStore, source: str, points: Points) -> list[Change]:
    """The stored points the file would change, in the file's series and time order."""
    found: list[Change] = []
    for key in sorted(points.by_series):
        series = store.series(source, key)
        if series is None:
            continue
        stored = dict(zip(series.times, series.values, strict=True))
        for t, (value, where) in sorted(points.by_series[key].items()):
            if t in stored and not same(stored[t], value):
                found.append(Change(key, where, stored[t], value))
    return found


def refuse_changes(found: Sequence[Change], store: SnapshotStore, source: str) -> None:
    """Stored points are changed only when asked: the first is named, with how many in all."""
    if not found:
        return
    first = found[0]
    count = "1 stored point" if len(found) == 1 else f"{len(found):,} stored points"
    raise InputError(
        f"{first.where}: {first.series} in {store.path(source)} already holds other values at "
        f"this time{difference(first.stored, first.new, 'stored', 'here')}; {count} would "
        f"change: add --replace to replace {'it' if len(found) == 1 else 'them'}"
    )


# --- the timeframe ----------------------------------------------------------------------------


def typical_gap(gaps: Sequence[float]) -> float | None:
    """The most common time between two rows (the shortest of equally common ones): a file's
    timeframe, which gaps in the data (weekends, missing bars) make longer but never shorter."""
    if not gaps:
        return None
    counts = Counter(gaps)
    return min(counts, key=lambda gap: (-counts[gap], gap))


def aligned(gap: float, step: int) -> bool:
    """Whether ``gap`` is a whole number of candles; a daily or longer candle may be an hour
    off, as dates at local midnight are across a daylight-saving change."""
    off = math.fmod(gap, step)
    slack = HOUR if step >= DAY else 0
    return off <= slack or step - off <= slack
