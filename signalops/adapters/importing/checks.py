"""What ``data import FILE`` refuses before anything is written, each time naming the row.

A file is checked as the live adapters check a response: a candle has prices above zero, a high
not below its low and a volume not negative (``technical.candle_problem``, the rule behind the
live BAD_RESPONSE). Beyond that, a file cannot say two things about one moment (two rows at one
time with other values; a repeat of a row is left out and reported), cannot silently change what
the snapshot folder holds (stored points it would change need ``--replace``), and its timeframe
must fit the rows (``default_timeframe``, ``aligned``): no two rows closer than it, some step as
long, longer steps a whole number of candles (ones the exchange left out); a daily row read as an
hourly candle would be known 23 hours before its close.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
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


def plausible(at: Callable[[str], str], candle: Sequence[float]) -> list[float]:
    """Open, high, low, close, volume, refused unless they can be a real candle: the live
    adapters' rule, at the place ``at`` gives of the field the problem names first
    (``FILE:3:9: high: 90 is below low 101``)."""
    from signalops.adapters.technical import candle_problem  # numpy and TA-Lib: candles only

    o, h, low, c, v = candle
    problem = candle_problem(o, h, low, c, v)
    if problem is not None:
        field, _, said = problem.partition(" ")  # "high 90 is below low 101"
        if field not in CANDLE_VALUES:  # a problem not led by its field: the candle's first
            field, said = CANDLE_VALUES[0], problem
        raise InputError(f"{at(field)}: {said}")
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


def default_timeframe(gaps: Sequence[float]) -> float | None:
    """A file's timeframe when none is given, from the steps between its rows (sorted, distinct).

    The shortest step, when the rows read as candles of that length with some left out (as
    exchanges leave out empty ones: Coinbase, illiquid pairs): every step a whole number of
    them, at least half of those from the first row to the last there, and no row alone off the
    grid of the most common step (``_stray``). Else the most common step, and the rows closer
    than it are refused with their line: one row an hour after a daily one must not make a daily
    file hourly (each close known 23 hours early), nor one between two 2h candles a 2h file.
    """
    if not gaps:
        return None
    shortest, typical = min(gaps), typical_gap(gaps)
    if shortest < typical and _with_left_out(gaps, shortest) and not _stray(gaps, typical):
        return shortest
    return typical


def typical_gap(gaps: Sequence[float]) -> float:
    """The most common time between two rows (the shortest of equally common ones)."""
    counts = Counter(gaps)
    return min(counts, key=lambda gap: (-counts[gap], gap))


def _with_left_out(gaps: Sequence[float], step: float) -> bool:
    """Whether the rows can be ``step`` candles, some left out: each gap a whole number of
    candles and at least half of the candles from the first row to the last there (a daily file
    read as hourly would have 1 in 24)."""
    if not all(aligned(gap, step) for gap in gaps):
        return False
    return 2 * (len(gaps) + 1) >= round(sum(gaps) / step) + 1


def _stray(gaps: Sequence[float], step: float) -> bool:
    """Whether a row sits alone off the ``step`` grid: the steps to it and from it are not whole
    numbers of ``step``, and together they are (its neighbours are in line without it). Rows
    of shorter candles with some left out leave the grid and stay off it for a while."""
    return any(
        not aligned(before, step) and not aligned(after, step) and aligned(before + after, step)
        for before, after in pairwise(gaps)
    )


def slack(step: float) -> float:
    """How far from a whole number of candles a gap may be: an hour for daily or longer candles,
    as dates at local midnight are across a daylight-saving change; none for shorter ones."""
    return HOUR if step >= DAY else 0


def aligned(gap: float, step: float) -> bool:
    """Whether ``gap`` is a whole number (one or more) of ``step`` candles, within ``slack``."""
    off, within = math.fmod(gap, step), slack(step)
    return gap >= step - within and (off <= within or step - off <= within)


def refuse_mixed_volume(store: SnapshotStore, points: Points, path: Path) -> None:
    """Refuse candles without volume (every one 0) into a series stored with volume, and
    candles with volume into a series stored without any. The volume metrics read a window as
    NOT_APPLICABLE only when no candle in it has a volume (``technical.VOLUME_METRICS``): a
    window mixing the two reads the 0s as real volumes, and ``volume < 1000`` would pass. A
    stored series of 0s cannot be told from one imported without volume (a real market never
    trades nothing for its whole span), so it is taken as one. Only stored candles the file
    does not give are compared: replacing them all (``--replace``) mixes nothing."""
    for key, new in points.by_series.items():
        series = store.series("technical", key)
        if series is None:
            continue
        kept = [v for t, v in zip(series.times, series.values, strict=True) if t not in new]
        if not kept:
            continue
        stored_volume = any(_volume(v) for v in kept)
        file_volume = any(_volume(v) for v, _ in new.values())
        if stored_volume == file_volume:
            continue
        if stored_volume:
            said = "is stored with volume and this file has none"
            hint = "import it into another folder (--to) or as another asset, or with its volume"
        else:
            said = "is stored without volume (all 0) and this file has volume"
            hint = "import it into another folder (--to), or with --columns volume=none"
        raise InputError(
            f"{path}: {key} {said} (volume and volume_z would read the 0s of a window "
            f"mixing them as volumes): {hint}"
        )


def _volume(candle: Any) -> bool:
    return bool(candle[4]) if isinstance(candle, list | tuple) and len(candle) > 4 else False
