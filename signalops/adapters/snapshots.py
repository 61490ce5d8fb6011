"""The snapshot store: recorded raw data that replays feed to the very same adapter code.

Layout: a directory with one JSON Lines file per source, ``<dir>/<source>.jsonl``. Each line is
one point of one series::

    {"series": "candles/binance/BTC/USDT/1d", "t": 1678406400, "v": [o, h, l, c, volume]}
    {"series": "stablecoin_supply/USDC/all", "t": 1678406400, "v": 43180000000.0}
    {"series": "prices/511754/yes", "t": 1730851200, "v": 0.62}

- ``series`` names what was recorded; each adapter documents its keys.
- ``t`` is Unix seconds (UTC) of the time the data *refers to* (a candle's close, a price's
  timestamp), which is what ``as_of`` cut-offs and staleness are measured against.
- ``v`` is a number or any JSON value (a candle, a news item, a fundamentals snapshot).

Lines may be in any order and files may be appended to while recording; on reading, each series
is sorted by ``t`` and, for duplicate times, the last line wins (a re-recording corrects an
earlier one).

Interrupted appends: every append writes whole lines in one call, and a ``durable`` store also
flushes them to disk (fsync) before returning, so a download stopped by Ctrl-C, a crash or a
network error keeps every page written before it. Should the process die inside a write, the
file can end in a line without its newline: a *final* line that has no newline and is not a
valid snapshot line is such a torn append. Reading ignores it and the next append cuts it off;
anywhere else, a line that does not read is an error (BAD_SNAPSHOT) as before.

Why raw series rather than finished metric values: replaying candles through the same TA-Lib
code that runs live is what makes a backtest and a live run agree on ``rsi(14)``.
"""

from __future__ import annotations

import json
import math
import os
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from signalops.codes import Code
from signalops.errors import AdapterError


@dataclass
class Series:
    """One recorded series: times ascending, values aligned."""

    key: str
    times: list[float]
    values: list[Any]
    _columns: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    _array: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.times)

    def end(self, t: float) -> int:
        """How many points are at or before ``t``: ``values[:end(t)]`` is the usable past."""
        return bisect_right(self.times, t)

    def last_at_or_before(self, t: float) -> tuple[float, Any] | None:
        i = self.end(t)
        if i == 0:
            return None
        return self.times[i - 1], self.values[i - 1]

    @property
    def time_array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.asarray(self.times, dtype=float)
        return self._array

    def column(self, index: int | None = None) -> np.ndarray:
        """Values as a float array; ``index`` picks a field of list values (3: a candle's close)."""
        key = -1 if index is None else index
        cached = self._columns.get(key)
        if cached is None:
            if index is None:
                cached = np.asarray(self.values, dtype=float)
            else:
                cached = np.asarray([v[index] for v in self.values], dtype=float)
            self._columns[key] = cached
        return cached


class SnapshotStore:
    """Reads (and appends to) a snapshot directory; each source file is loaded once."""

    def __init__(self, directory: str | Path, *, durable: bool = False) -> None:
        self.directory = Path(directory)
        # fsync each append: a download must survive an interruption page by page.
        self.durable = durable
        self._loaded: dict[str, dict[str, Series]] = {}

    def path(self, source: str) -> Path:
        return self.directory / f"{source}.jsonl"

    def sources(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.jsonl"))

    def series(self, source: str, key: str) -> Series | None:
        return self._load(source).get(key)

    def keys(self, source: str) -> list[str]:
        return sorted(self._load(source))

    def _load(self, source: str) -> dict[str, Series]:
        loaded = self._loaded.get(source)
        if loaded is not None:
            return loaded
        path = self.path(source)
        stamp = _stamp(path)
        shared = _PARSED.get(path.resolve())
        if shared is not None and shared[0] == stamp:
            self._loaded[source] = shared[1]
            return shared[1]
        loaded = self._parse(source, path)
        _PARSED[path.resolve()] = (stamp, loaded)
        self._loaded[source] = loaded
        return loaded

    def _parse(self, source: str, path: Path) -> dict[str, Series]:
        points: dict[str, dict[float, Any]] = {}
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    if not line.strip():
                        continue
                    try:
                        key, t, value = _point(line)
                    except (ValueError, KeyError, TypeError) as exc:
                        if not line.endswith("\n"):  # only the final line can lack it
                            break  # a torn append (see the module docstring)
                        raise AdapterError(
                            f"{path}:{number}: not a snapshot line ({exc})",
                            source=source,
                            reason=Code.BAD_SNAPSHOT,
                        ) from None
                    if not math.isfinite(t):
                        raise AdapterError(
                            f"{path}:{number}: time is not finite",
                            source=source,
                            reason=Code.BAD_SNAPSHOT,
                        )
                    points.setdefault(key, {})[t] = value
        loaded = {}
        for key, by_time in points.items():
            times = sorted(by_time)
            loaded[key] = Series(key, times, [by_time[t] for t in times])
        return loaded

    def append(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        """Append ``(series, t, value)`` points; returns how many were written."""
        text = "".join(_line(key, t, value) for key, t, value in records)
        if not text:
            return 0
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(source)
        _mend_tail(path)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
            if self.durable:
                handle.flush()
                os.fsync(handle.fileno())
        self._loaded.pop(source, None)  # re-read on next use, with the new points merged
        return text.count("\n")

    def write(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        """Replace the source's file with ``records`` (used by ``signalops data import``)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(source)
        tmp = path.with_suffix(".jsonl.tmp")
        count = 0
        with tmp.open("w", encoding="utf-8") as handle:
            for key, t, value in records:
                handle.write(_line(key, t, value))
                count += 1
        tmp.replace(path)
        self._loaded.pop(source, None)
        return count


# One encoder for every line: json.dumps with non-default options builds a new encoder per call,
# which dominated the import of ~200k points.
_ENCODE = json.JSONEncoder(allow_nan=False, separators=(", ", ": ")).encode


@lru_cache(maxsize=4096)
def _key_prefix(key: str) -> str:
    return '{"series": ' + _ENCODE(key) + ', "t": '


# Parsed files shared by every store in the process (a CLI run, a test session, the dashboard
# open several stores on the same folder): keyed by path and invalidated by size and mtime, so
# an append or a rewrite is always seen. Series are read-only once parsed.
_PARSED: dict[Path, tuple[tuple[int, int] | None, dict[str, Series]]] = {}


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    return (info.st_size, info.st_mtime_ns)


def _point(line: str) -> tuple[str, float, Any]:
    record = json.loads(line)
    return record["series"], float(record["t"]), record["v"]


def _mend_tail(path: Path) -> None:
    """Before appending: a final line without its newline is either a torn append (cut off)
    or a complete line a person wrote without one (given its newline)."""
    try:
        handle = path.open("rb+")
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = _last_line_start(handle, size)
        handle.seek(start)
        tail = handle.read()
        try:
            _point(tail.decode("utf-8"))
        except (ValueError, KeyError, TypeError):
            handle.truncate(start)
        else:
            handle.write(b"\n")


def _last_line_start(handle: BinaryIO, size: int) -> int:
    """The offset just after the last newline of the file (0 when it has none)."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _line(key: str, t: float, value: Any) -> str:
    t = float(t)
    if not math.isfinite(t):
        raise ValueError(f"snapshot time must be finite, got {t}")
    t_text = str(int(t)) if t.is_integer() else repr(t)
    return f'{_key_prefix(key)}{t_text}, "v": {_ENCODE(value)}}}\n'
