"""The names a replay finds Polymarket markets by, read from a snapshot file without its points.

``validate`` warns of a market a strategy names that nothing recorded (``cli.strategy``). A
recording of order books runs to hundreds of megabytes, and ``SnapshotStore`` parses, keeps and
caches every point of a file it reads: this reads each line's series name alone (and the value of
the few ``markets/`` metadata lines), and imports neither the adapter nor numpy.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from signalops.codes import Code
from signalops.errors import AdapterError

SOURCE = "polymarket"
_PREFIX = '{"series": '  # how ``SnapshotStore`` writes each line (``snapshots._line``)
_DECODER = json.JSONDecoder()


def recorded_names(records: Iterable[tuple[str, Any]]) -> set[str]:
    """The names a replay finds a market by (``ReplayFeed._key``), from ``(series, value)``
    records: the market part of every ``prices/``, ``books/`` and ``markets/`` series, and the
    id and slug its recorded metadata lists."""
    names: set[str] = set()
    for key, value in records:
        kind, _, rest = key.partition("/")
        if kind in ("prices", "books"):
            names.add(rest.rpartition("/")[0])
        elif kind == "markets":
            names.add(rest)
            if isinstance(value, dict):
                names.update(str(v) for v in (value.get("id"), value.get("slug")) if v)
    return names


def names_in(directory: Path) -> set[str]:
    """``recorded_names`` of the Polymarket snapshot file in ``directory`` (none if it has none).
    Raises ``AdapterError`` (BAD_SNAPSHOT, with file and line) for a line that is not a point."""
    path = Path(directory) / f"{SOURCE}.jsonl"
    if not path.is_file():
        return set()
    return recorded_names(_series(path))


def _series(path: Path) -> Iterable[tuple[str, Any]]:
    """``(series, value)`` per line, the value read only for ``markets/`` lines."""
    seen: set[str] = set()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            key = _key(line)
            if key is None or key.startswith("markets/"):
                point = _point(path, number, line)
                yield point["series"], point.get("v")
            elif key not in seen:
                seen.add(key)
                yield key, None


def _key(line: str) -> str | None:
    """The series name at the start of a line as ``SnapshotStore`` writes it; None for a line
    written otherwise (read whole)."""
    if not line.startswith(_PREFIX):
        return None
    try:
        key, _ = _DECODER.raw_decode(line, len(_PREFIX))
    except ValueError:
        return None
    return key if isinstance(key, str) else None


def _point(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        point = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _bad(path, number, f"not JSON ({exc.msg})") from None
    if not isinstance(point, dict) or not isinstance(point.get("series"), str):
        raise _bad(path, number, "not a point with a series name")
    return point


def _bad(path: Path, number: int, why: str) -> AdapterError:
    return AdapterError(f"{path}:{number}: {why}", source=SOURCE, reason=Code.BAD_SNAPSHOT)


__all__ = ["names_in", "recorded_names"]
