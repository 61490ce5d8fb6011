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

Reading fast (the JSON Lines file stays the one truth; nothing here changes what is read):

- Lines are parsed with orjson. A line orjson refuses goes through the standard library's
  ``json`` as it always did (so ``NaN``, lone surrogates and every error message are unchanged),
  and a file with a ``\\r`` or a 19-digit run (orjson turns integers past 64 bits into floats,
  silently) is read by the standard library alone.
- A file of 256 KiB or more gets a binary sidecar, ``.<source>.jsonl.cache`` next to it: each
  series' times and numeric values as float64 columns (a candle's five fields as five columns),
  other values as JSON text decoded on first use. The sidecar names the SHA-256 of the exact
  bytes it was made from and carries a SHA-256 of its own content: a sidecar of another version
  of the file (an append, a rewrite, a copy) or a damaged one is ignored and replaced. It is
  written to a unique temporary file and renamed into place, so concurrent readers and writers
  only ever see a whole sidecar, and a folder that cannot take it (read only, full) just parses
  the text every time. Smaller files parse in milliseconds and get none.
- A series read from a sidecar builds its ``times``/``values`` lists only when asked: a backtest
  reads ``time_array`` and ``column(i)``, which are the sidecar's arrays.

Why raw series rather than finished metric values: replaying candles through the same TA-Lib
code that runs live is what makes a backtest and a live run agree on ``rsi(14)``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import struct
import sys
from bisect import bisect_right
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import orjson

from signalops.codes import Code
from signalops.errors import AdapterError

# A file this size or larger gets a sidecar; below it the text parses in a millisecond or two.
SIDECAR_MIN_BYTES = 256 << 10


class Series:
    """One recorded series: times ascending, values aligned.

    Made from parsed lists, or from a sidecar's arrays; then ``times`` and ``values`` are built
    from the arrays on first use (see the module docstring)."""

    __slots__ = ("_array", "_columns", "_decode", "_times", "_values", "key")
    __hash__ = None  # type: ignore[assignment]  # equal by value (key, times, values)

    def __init__(self, key: str, times: list[float], values: list[Any]) -> None:
        self.key = key
        self._times: list[float] | None = times
        self._values: list[Any] | None = values
        self._decode: Callable[[], list[Any]] | None = None
        self._array: np.ndarray | None = None
        self._columns: dict[int | None, np.ndarray] = {}

    @classmethod
    def from_arrays(
        cls,
        key: str,
        times: np.ndarray,
        columns: dict[int | None, np.ndarray],
        values: Callable[[], list[Any]],
    ) -> Series:
        """A series whose lists are built on first use: ``values()`` makes the values list."""
        series = cls(key, [], [])
        series._times, series._values, series._decode = None, None, values
        series._array, series._columns = times, columns
        return series

    def __len__(self) -> int:
        if self._times is None and self._array is not None:
            return len(self._array)
        return len(self.times)

    def __repr__(self) -> str:
        return f"Series({self.key!r}, {len(self)} points)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Series):
            return NotImplemented
        return (self.key, self.times, self.values) == (other.key, other.times, other.values)

    @property
    def times(self) -> list[float]:
        if self._times is None:
            self._times = self.time_array.tolist()
        return self._times

    @property
    def values(self) -> list[Any]:
        if self._values is None:
            # Decoding twice (two threads at once) gives equal lists: no lock needed.
            self._values = self._decode() if self._decode is not None else []
        return self._values

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
        cached = self._columns.get(index)
        if cached is None:
            if index is None:
                cached = np.asarray(self.values, dtype=float)
            else:
                cached = np.asarray([v[index] for v in self.values], dtype=float)
            self._columns[index] = cached
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
        loaded = read_file(source, path)
        _PARSED[path.resolve()] = (stamp, loaded)
        self._loaded[source] = loaded
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


# --- reading -----------------------------------------------------------------------------------


def read_file(source: str, path: Path) -> dict[str, Series]:
    """Every series of one snapshot file, from its sidecar when that was made from these bytes."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    if len(data) < SIDECAR_MIN_BYTES:
        return parse(source, path, data)
    digest = hashlib.sha256(data).digest()
    sidecar = sidecar_path(path)
    loaded = _read_sidecar(sidecar, digest)
    if loaded is None:
        points = _parse(source, path, data)
        loaded = points.series()
        _write_sidecar(sidecar, digest, loaded, points.stdlib)
    return loaded


def parse(source: str, path: Path, data: bytes) -> dict[str, Series]:
    """The series in a file's bytes (``path`` names it in errors): orjson line by line, the
    standard library for any line orjson refuses or might misread."""
    return _parse(source, path, data).series()


def parse_text(source: str, path: Path, lines: Iterable[str]) -> dict[str, Series]:
    """The series in text lines (with their newlines) read by the standard library alone."""
    return _parse_text(source, path, lines).series()


def _parse(source: str, path: Path, data: bytes) -> _Points:
    if b"\r" in data:  # old Mac line ends: the text reader's universal newlines split them
        return _parse_text(source, path, io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    points = _Points(source, path)
    by_key, unordered = points.by_key, points.unordered
    slow = _long_number_lines(data)
    lines = data.split(b"\n")
    final = len(lines)  # the part after the last newline: empty unless the file lacks one
    loads, isfinite = orjson.loads, math.isfinite
    with contextlib.suppress(_TornTail):
        for number, raw in enumerate(lines, 1):
            try:
                if number in slow:
                    raise ValueError("a number orjson may misread")
                record = loads(raw)
                key, t, value = record["series"], float(record["t"]), record["v"]
            except (ValueError, KeyError, TypeError):
                text = raw.decode() + ("\n" if number < final else "")
                point = _checked_point(points, number, text)
                if point is None:
                    continue
                key, t, value = point
                points.stdlib.add(key)
            # points.add, inlined: this loop runs once per line of files of 100,000s of lines
            if not isfinite(t):
                raise points.error(number, "time is not finite")
            entry = by_key.get(key)
            if entry is None:
                by_key[key] = ([t], [value])
                continue
            if t <= entry[0][-1]:
                unordered.add(key)
            entry[0].append(t)
            entry[1].append(value)
    return points


def _long_number_lines(data: bytes) -> set[int]:
    """The lines (numbered from 1) with a run of 19 digits: orjson reads an integer past 64 bits
    as a float where the standard library keeps it exact (a digit string is caught too)."""
    marked = data.translate(_DIGITS)
    found: set[int] = set()
    line, counted = 1, 0
    at = marked.find(_LONG_DIGITS)
    while at >= 0:
        line += data.count(b"\n", counted, at)
        found.add(line)
        counted = data.find(b"\n", at)
        if counted < 0:
            break
        at = marked.find(_LONG_DIGITS, counted)
    return found


def _parse_text(source: str, path: Path, lines: Iterable[str]) -> _Points:
    points = _Points(source, path)
    with contextlib.suppress(_TornTail):
        for number, line in enumerate(lines, 1):
            point = _checked_point(points, number, line)
            if point is not None:
                points.add(number, *point)
                points.stdlib.add(point[0])
    return points


# Digits to "0", anything else to ".": a run of 19 zeros is a number orjson may misread.
_DIGITS = bytes(48 if 48 <= b <= 57 else 46 for b in range(256))
_LONG_DIGITS = b"0" * 19


class _TornTail(Exception):
    """The final line was cut short by an interrupted append (see the module docstring)."""


class _Points:
    """Points grouped by series in file order; a series whose times only rise needs no sort."""

    def __init__(self, source: str, path: Path) -> None:
        self.source, self.path = source, path
        self.by_key: dict[str, tuple[list[float], list[Any]]] = {}
        self.unordered: set[str] = set()
        # Series with a point only the standard library read: NaN, a big integer, a lone
        # surrogate may be in their values, which orjson cannot write back exactly.
        self.stdlib: set[str] = set()

    def add(self, number: int, key: str, t: float, value: Any) -> None:
        if not math.isfinite(t):
            raise self.error(number, "time is not finite")
        entry = self.by_key.get(key)
        if entry is None:
            self.by_key[key] = ([t], [value])
            return
        if t <= entry[0][-1]:
            self.unordered.add(key)
        entry[0].append(t)
        entry[1].append(value)

    def error(self, number: int, why: str) -> AdapterError:
        return AdapterError(
            f"{self.path}:{number}: {why}", source=self.source, reason=Code.BAD_SNAPSHOT
        )

    def series(self) -> dict[str, Series]:
        loaded = {}
        for key, (times, values) in self.by_key.items():
            if key in self.unordered:
                by_time = dict(zip(times, values, strict=True))  # the last line of a time wins
                times = sorted(by_time)
                values = [by_time[t] for t in times]
            loaded[key] = Series(key, times, values)
        return loaded


def _checked_point(points: _Points, number: int, line: str) -> tuple[str, float, Any] | None:
    """One line (with its newline, if it has one) read by the standard library; None if blank."""
    if not line.strip():
        return None
    try:
        return _point(line)
    except (ValueError, KeyError, TypeError) as exc:
        if not line.endswith("\n"):  # only the final line can lack it
            raise _TornTail from None
        raise points.error(number, f"not a snapshot line ({exc})") from None


def _point(line: str) -> tuple[str, float, Any]:
    record = json.loads(line)
    return record["series"], float(record["t"]), record["v"]


# --- the sidecar -------------------------------------------------------------------------------
#
# magic (8) | SHA-256 of the source bytes (32) | SHA-256 of all that follows (32) | index length
# (8, little endian) | index: JSON list of [key, points, kind, width, times offset, values offset,
# values length] | padding to 8 | body: little-endian float64 arrays and JSON texts, each padded
# to 8. Offsets count from the start of the body. Kinds: "f8" numbers, "rows" lists of ``width``
# numbers stored field by field, "json" (orjson reads it) and "json-stdlib" (it may not).

_MAGIC = b"SOSNAP\x00\x01"  # the last byte is the format version: a new one ignores old sidecars
_HEAD = struct.Struct("<8s32s32sQ")
_CHECKED_FROM = 72  # the content SHA-256 covers the index length, the index and the body


def sidecar_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.cache")


def _read_sidecar(path: Path, digest: bytes) -> dict[str, Series] | None:
    try:
        with path.open("rb") as handle:
            buffer = bytearray(os.fstat(handle.fileno()).st_size)
            if handle.readinto(buffer) != len(buffer):
                return None
    except OSError:
        return None
    try:
        return _decode_sidecar(buffer, digest)
    except (ValueError, TypeError, KeyError, IndexError, struct.error):
        return None  # damaged beyond what the checksums catch: the text is read instead


def _decode_sidecar(buffer: bytearray, digest: bytes) -> dict[str, Series] | None:
    magic, source_digest, content_digest, index_length = _HEAD.unpack_from(buffer)
    view = memoryview(buffer)
    if magic != _MAGIC or source_digest != digest:
        return None
    if hashlib.sha256(view[_CHECKED_FROM:]).digest() != content_digest:
        return None
    index = json.loads(bytes(view[_HEAD.size : _HEAD.size + index_length]))
    body = _HEAD.size + _padded(index_length)
    loaded = {}
    for key, count, kind, width, times_at, values_at, size in index:
        times = _floats(buffer, count, body + times_at)
        columns: dict[int | None, np.ndarray] = {}
        values: Callable[[], list[Any]]
        if kind == "f8":
            columns[None] = _floats(buffer, count, body + values_at)
            values = columns[None].tolist
        elif kind == "rows":
            block = _floats(buffer, count * width, body + values_at).reshape(width, count)
            columns.update(enumerate(block))  # each field contiguous, as TA-Lib wants it
            values = block.T.tolist
        elif kind in ("json", "json-stdlib"):
            text = bytes(view[body + values_at : body + values_at + size])
            values = partial(_json_values, text, kind == "json")
        else:
            return None
        loaded[key] = Series.from_arrays(key, times, columns, values)
    return loaded


def _floats(buffer: bytearray, count: int, offset: int) -> np.ndarray:
    if offset + 8 * count > len(buffer):
        raise ValueError("array past the end of the sidecar")
    array = np.frombuffer(buffer, dtype="<f8", count=count, offset=offset)
    return array if sys.byteorder == "little" else array.astype(float)


def _json_values(text: bytes, fast: bool) -> list[Any]:
    if fast:
        with contextlib.suppress(orjson.JSONDecodeError):  # NaN, lone surrogates
            return orjson.loads(text)
    return json.loads(text)


def _write_sidecar(path: Path, digest: bytes, loaded: dict[str, Series], stdlib: set[str]) -> None:
    """Best effort: a folder that cannot take a sidecar (read only, full) reads the text."""
    try:
        content = _encode_sidecar(loaded, stdlib)
    except (TypeError, ValueError, RecursionError):
        return  # a value the sidecar cannot hold exactly: the text it stays
    head = _HEAD.pack(_MAGIC, digest, hashlib.sha256(content).digest(), 0)[:_CHECKED_FROM]
    # A unique name, then an atomic rename: a reader never sees half a sidecar, and two
    # writers of the same file each put a whole (and equal) one in place.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    with contextlib.suppress(OSError):
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            with os.fdopen(fd, "wb") as handle:
                handle.write(head)
                handle.write(content)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


def _encode_sidecar(loaded: dict[str, Series], stdlib: set[str]) -> bytes:
    """Everything after the checked-from offset; the parsed series adopt the arrays made."""
    index: list[list[Any]] = []
    body: list[bytes] = []
    offset = 0

    def put(blob: bytes) -> int:
        nonlocal offset
        at = offset
        body.append(blob + b"\0" * (_padded(len(blob)) - len(blob)))
        offset += _padded(len(blob))
        return at

    for key, series in loaded.items():
        times = np.asarray(series.times, dtype=float)
        kind, width, blob, columns = _columnar(series.values, key not in stdlib)
        index.append([key, len(times), kind, width, put(_little(times)), put(blob), len(blob)])
        series._array = times
        series._columns.update(columns)
    text = json.dumps(index, separators=(",", ":")).encode("ascii")
    padding = b"\0" * (_padded(len(text)) - len(text))
    return struct.pack("<Q", len(text)) + text + padding + b"".join(body)


def _columnar(
    values: list[Any], parsed_by_orjson: bool
) -> tuple[str, int, bytes, dict[int | None, np.ndarray]]:
    """How one series' values are stored: float columns when every value is a float (or a list
    of the same number of floats), else JSON text that reads back to equal values and types."""
    kinds = set(map(type, values))
    if kinds == {float}:
        array = np.asarray(values, dtype=float)
        return "f8", 0, _little(array), {None: array}
    widths = set(map(len, values)) if kinds == {list} else set()
    if (
        len(widths) == 1
        and 0 not in widths
        and set(map(type, chain.from_iterable(values))) == {float}
    ):
        width = widths.pop()
        block = np.ascontiguousarray(np.asarray(values, dtype=float).T)
        return "rows", width, _little(block), dict(enumerate(block))
    if parsed_by_orjson:  # then orjson writes it back exactly (shortest float reprs)
        return "json", 0, orjson.dumps(values), {}
    text = json.dumps(values).encode("ascii")  # NaN, big integers and surrogates kept exactly
    kind = "json-stdlib" if _LONG_DIGITS in text.translate(_DIGITS) else "json"
    return kind, 0, text, {}


def _little(array: np.ndarray) -> bytes:
    return array.astype("<f8", copy=False).tobytes()


def _padded(size: int) -> int:
    return (size + 7) // 8 * 8


# --- writing -----------------------------------------------------------------------------------

# One encoder for every line: json.dumps with non-default options builds a new encoder per call,
# which dominated the import of ~200k points.
_ENCODE = json.JSONEncoder(allow_nan=False, separators=(", ", ": ")).encode


@lru_cache(maxsize=4096)
def _key_prefix(key: str) -> str:
    return '{"series": ' + _ENCODE(key) + ', "t": '


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
