"""Turn the bundled real data (``examples/data``) into replay snapshots.

Each source module knows its own files and exposes ``import_bundled(data_dir)``, yielding
``(series, t, value)`` records; this module runs them and writes one snapshot file per source.
The files replace the old ones only once every source has been read: a bad row in the last
source leaves the snapshot folder exactly as it was (see ``importing.staged``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signalops.adapters.importing.staged import staged
from signalops.adapters.registry import BUILTIN
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import DataNotFound, InputError

DEFAULT_DATA_DIR = Path("examples/data")
DEFAULT_SNAPSHOT_DIR = Path("examples/replay")


@dataclass(frozen=True)
class ImportResult:
    source: str
    records: int
    series: int
    path: Path


def import_bundled(
    data_dir: str | Path = DEFAULT_DATA_DIR,
    out_dir: str | Path = DEFAULT_SNAPSHOT_DIR,
    *,
    sources: Iterable[str] | None = None,
    on_source: Callable[[str], None] | None = None,
) -> list[ImportResult]:
    """Write ``<out_dir>/<source>.jsonl`` for every source with bundled data; returns counts."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    if not data_dir.is_dir():
        raise DataNotFound(f"{data_dir}: no such data folder")
    final = SnapshotStore(out_dir)
    results = []
    with staged(out_dir) as store:
        for source in sources or BUILTIN:
            target = BUILTIN.get(source)
            if target is None:
                raise InputError(f"unknown source '{source}' (one of: {', '.join(BUILTIN)})")
            module = importlib.import_module(target.partition(":")[0])
            reader = getattr(module, "import_bundled", None)
            if reader is None:
                continue
            if on_source is not None:
                on_source(source)
            keys: set[str] = set()
            count = store.write(source, _noting_keys(reader(data_dir), keys))
            results.append(ImportResult(source, count, len(keys), final.path(source)))
    return results


def _noting_keys(
    records: Iterable[tuple[str, float, Any]], keys: set[str]
) -> Iterator[tuple[str, float, Any]]:
    for record in records:
        keys.add(record[0])
        yield record
