"""The backtest's simulated clock, shared by the pipeline engine and the fast one, and the
Unix times of its moments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate, repeat
from operator import add

import numpy as np

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
    from the first, at a third of the cost: an aware datetime's ``timestamp()`` is its whole
    microseconds since 1970 divided by 10**6, and the k-th moment's are the first's plus k
    steps' (exact integers, as float64 too below 2**53), divided as Python divides two such
    integers: one correctly rounded float division.
    """
    micros = _even_micros(moments)
    if micros is None:
        return np.array([m.timestamp() for m in moments], dtype=np.float64)
    return micros / 1e6


def _even_micros(moments: Sequence[datetime]) -> np.ndarray | None:
    """The microseconds since 1970 of each moment, when they are UTC datetimes one step apart
    (checked against ``first + k x step`` itself, as exact as that is); None otherwise."""
    count = len(moments)
    if count < 3 or set(map(type, moments)) != {datetime}:
        return None
    first, second = moments[0], moments[1]
    if first.tzinfo is not UTC or second.tzinfo is None:
        return None  # (in a zone with summer time, equal steps are not equal seconds)
    step = second - first
    if step <= timedelta(0):
        return None
    if list(moments) != list(accumulate(repeat(step, count - 1), add, initial=first)):
        return None
    start, every = (first - _EPOCH) // _MICROSECOND, step // _MICROSECOND
    if not (start > -_EXACT and start + every * (count - 1) < _EXACT):
        return None
    return start + every * np.arange(count, dtype=np.int64)


__all__ = ["SimulatedClock", "epoch_seconds"]
