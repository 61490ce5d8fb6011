"""What a download reports, and the writer that puts its points into the store page by page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from signalops.adapters.snapshots import SnapshotStore

# ``(label, done, total)`` after each request: the CLI draws it as a progress bar.
Progress = Callable[[str, int, int], None]

_ABSENT = object()


@dataclass(frozen=True)
class Gap:
    """A run of missing bars between stored candles: the close of the first one missing."""

    first_missing_close: float
    missing: int


@dataclass(frozen=True)
class Downloaded:
    """One series a download wrote to: how many points were new and which times they cover."""

    source: str
    series: str
    new_points: int
    first: float | None  # ``t`` of the earliest new point (None: nothing new)
    last: float | None
    path: Path
    gaps: tuple[Gap, ...] = ()


class SeriesWriter:
    """Appends the points of one series that the store does not already hold with that value.

    The stored points are read once; each ``write`` is one durable append of whole lines, so an
    interruption keeps every page written before it, and a rerun writes no duplicates. A point
    whose stored value differs is written again (the later line wins: a correction).
    """

    def __init__(self, store: SnapshotStore, source: str, key: str) -> None:
        self.store = store
        self.source = source
        self.key = key
        series = store.series(source, key)
        self.known: dict[float, Any] = (
            {} if series is None else dict(zip(series.times, series.values, strict=True))
        )
        self.written: list[float] = []

    @property
    def last_stored(self) -> float | None:
        return max(self.known) if self.known else None

    @property
    def first_stored(self) -> float | None:
        return min(self.known) if self.known else None

    def write(self, points: Iterable[tuple[float, Any]]) -> int:
        new = [(t, v) for t, v in points if self.known.get(t, _ABSENT) != v]
        self.store.append(self.source, ((self.key, t, v) for t, v in new))
        for t, v in new:
            self.known[t] = v
            self.written.append(t)
        return len(new)

    def result(self, gaps: Iterable[Gap] = ()) -> Downloaded:
        return Downloaded(
            self.source,
            self.key,
            len(self.written),
            min(self.written, default=None),
            max(self.written, default=None),
            self.store.path(self.source),
            tuple(gaps),
        )


def gaps_of(found: Iterable[dict[str, Any]]) -> tuple[Gap, ...]:
    """``Candles.gaps()`` entries (ISO times) as values."""
    return tuple(
        Gap(
            datetime.fromisoformat(g["first_missing_close"].replace("Z", "+00:00")).timestamp(),
            int(g["missing"]),
        )
        for g in found
    )
