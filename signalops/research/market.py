"""The recorded market data research tasks read, packed once to travel to other machines.

In this process a task reads the snapshot folder itself (``SnapshotStore``, with its binary
sidecars). A Ray task may run on a machine without that folder, so the driver packs the
snapshot files the strategy can read -- their exact bytes, one entry per source -- and puts the
pack into Ray's object store once; every task gets the reference. On a worker the pack becomes a
read-only store that parses each source's bytes the first time a task asks for it, with the
very parser the folder's store uses, so both read the same series. A worker process keeps the
last few packs it opened, by digest, for the tasks that follow.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from signalops.adapters import registry
from signalops.adapters.snapshots import Series, SnapshotStore, parse
from signalops.adapters.technical import SOURCE as CANDLES
from signalops.errors import InputError
from signalops.strategy.model import Strategy

__all__ = ["Market", "PackedMarket", "open_store", "pack", "sources_read"]

_KEPT = 2  # packs a worker keeps open: one run's, and the next run's while it starts


@dataclass(frozen=True)
class PackedMarket:
    """Snapshot files by source, named by a digest of all of them.

    Each file's bytes are held as a numpy ``uint8`` array: Ray hands a task a stored array
    without copying it (a ``bytes`` object would be copied out of the object store for every
    task); a worker turns it into bytes once, when it first parses that source."""

    directory: str  # the folder they came from: named in messages, as the folder's store does
    files: Mapping[str, np.ndarray]
    digest: str


Market = SnapshotStore | PackedMarket


def sources_read(strategies: Iterable[Strategy], store: SnapshotStore) -> list[str]:
    """The snapshot sources a backtest or screen of ``strategies`` may read: those of their
    metrics and the candles fills are priced from; every source when a plugin's is among them
    (a plugin's adapter may read any file)."""
    wanted = {CANDLES}
    for strategy in strategies:
        wanted |= {metric.source for metric in strategy.tree.metrics}
    present = store.sources()
    if not wanted <= set(registry.BUILTIN):
        return present
    return [source for source in present if source in wanted]


def pack(store: SnapshotStore, sources: Iterable[str]) -> PackedMarket:
    """The bytes of ``sources``' snapshot files (a missing one is left out, as it reads empty)."""
    files = {}
    digest = hashlib.sha256()
    for source in sorted(set(sources)):
        path = store.path(source)
        if path.is_file():
            data = path.read_bytes()
            files[source] = np.frombuffer(data, dtype=np.uint8)
            digest.update(f"{source}\0{len(data)}\0".encode())
            digest.update(data)
    return PackedMarket(str(store.directory), files, digest.hexdigest())


def open_store(market: Market) -> SnapshotStore:
    """The store a task reads: the folder's own here, a store over the pack's bytes there."""
    if isinstance(market, SnapshotStore):
        return market
    store = _OPEN.get(market.digest)
    if store is None:
        store = _PackedStore(market)
        _OPEN[market.digest] = store
        while len(_OPEN) > _KEPT:
            _OPEN.popitem(last=False)
    else:
        _OPEN.move_to_end(market.digest)
    return store


_OPEN: OrderedDict[str, SnapshotStore] = OrderedDict()


class _PackedStore(SnapshotStore):
    """A read-only ``SnapshotStore`` over a pack: each source parsed on first use."""

    def __init__(self, market: PackedMarket) -> None:
        super().__init__(market.directory)
        self._files = market.files
        self._parsed: dict[str, dict[str, Series]] = {}

    def sources(self) -> list[str]:
        return sorted(self._files)

    def series(self, source: str, key: str) -> Series | None:
        return self._source(source).get(key)

    def keys(self, source: str) -> list[str]:
        return sorted(self._source(source))

    def _source(self, source: str) -> dict[str, Series]:
        parsed = self._parsed.get(source)
        if parsed is None:
            data = self._files.get(source)
            parsed = {} if data is None else parse(source, self.path(source), data.tobytes())
            self._parsed[source] = parsed
        return parsed

    def append(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        raise InputError("packed market data is read-only")

    def write(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        raise InputError("packed market data is read-only")
