"""Replay snapshot load time: the stdlib JSON reading of before vs orjson and the binary sidecar.

The bundled real data is imported into a temporary folder exactly as ``signalops data import``
writes ``examples/replay``; its ``technical.jsonl`` holds the five years of hourly BTC candles
that ``bench/bench_backtest.py`` runs on. Three ways to read the same files, in one run, each the
minimum of ``--repeat`` (5) rounds, every round from a fresh store with the in-process cache
emptied (as a new process starts):

- stdlib json (before): each line through ``json.loads``, grouped and sorted per series, candle
  columns built from the values lists: the loader as it was before issue 13, copied here so the
  baseline stays what it was;
- orjson, first read: ``SnapshotStore`` reading a file version for the first time (orjson line
  by line, then writing the sidecar), the sidecar deleted before each round;
- sidecar: every later read (hash the file, check the sidecar, map its arrays).

Rows: each source file (every series of it loaded), the whole folder, the same with every
series' ``times``/``values`` lists built (the worst case for the sidecar, which builds them on
first use), what a backtest reads (the BTC/USDT 1h close times and five candle columns), and a
first decision (replay adapters computing rsi(14) and sma(200) at the last bar, loading
included). Before timing, every series read through the new path is checked equal, value and
type, to the baseline's. Run:  .venv/bin/python bench/bench_snapshots.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from signalops.adapters import gather as engine
from signalops.adapters import registry, snapshots
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.strategy import loads

ROOT = Path(__file__).resolve().parents[1]
BTC_HOURLY = "candles/binance/BTC/USDT/1h"
STRATEGY = textwrap.dedent(
    """
    strategy:
      name: "Snapshot_Bench"
      assets: ["BTC"]
      defaults:
        params:
          timeframe: 1h
      rules:
        - id: oversold
          source: technical
          conditions:
            - when: "rsi(14) < 30 and close > sma(200) * 0.9"
      execution:
        position_size: 0.05
        action_mode: paper
    """
)


# --- the loader before issue 13 ------------------------------------------------------------------


def stdlib_load(path: Path) -> dict[str, Series]:
    """``SnapshotStore._parse`` as it was: json.loads per line, a dict per series, sorted."""
    points: dict[str, dict[float, Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            t = float(record["t"])
            if not math.isfinite(t):
                raise ValueError(f"{path}: time is not finite")
            points.setdefault(record["series"], {})[t] = record["v"]
    loaded = {}
    for key, by_time in points.items():
        times = sorted(by_time)
        loaded[key] = Series(key, times, [by_time[t] for t in times])
    return loaded


class StdlibStore(SnapshotStore):
    """``SnapshotStore`` as it was: the same bookkeeping per load, the loader of before."""

    def _load(self, source: str) -> dict[str, Series]:
        loaded = self._loaded.get(source)
        if loaded is None:
            path = self.path(source)
            snapshots._stamp(path), path.resolve()  # what the store did before parsing
            loaded = self._loaded[source] = stdlib_load(path) if path.exists() else {}
        return loaded


def candle_arrays(series: Series) -> list[np.ndarray]:
    return [series.time_array, *(series.column(i) for i in range(5))]


# --- the three ways to read -------------------------------------------------------------------


class Reader:
    def __init__(self, folder: Path, sources: list[str]) -> None:
        self.folder, self.sources = folder, sources

    def fresh(self) -> SnapshotStore:
        snapshots._PARSED.clear()
        return SnapshotStore(self.folder)

    def drop_sidecars(self) -> None:
        for source in self.sources:
            snapshots.sidecar_path(self.folder / f"{source}.jsonl").unlink(missing_ok=True)

    def load(self, sources: list[str], *, lists: bool = False) -> None:
        store = self.fresh()
        for source in sources:
            for key in store.keys(source):
                series = store.series(source, key)
                if lists and series is not None:
                    _ = (series.times, series.values)  # built on first use

    def stdlib(self, sources: list[str]) -> None:
        store = StdlibStore(self.folder)
        for source in sources:
            for key in store.keys(source):
                store.series(source, key)


def best(fn: Callable[[], object], repeat: int, before: Callable[[], None] | None = None) -> float:
    times = []
    for _ in range(repeat):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


# --- checks -------------------------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (1 == 1.0 == True is not enough here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def check_equal(reader: Reader) -> int:
    """Every series through the sidecar and through orjson equals the baseline's; returns how
    many series were compared."""
    compared = 0
    for source in reader.sources:
        path = reader.folder / f"{source}.jsonl"
        before = stdlib_load(path)
        for first_read in (True, False):
            if first_read:
                reader.drop_sidecars()
            store = reader.fresh()
            assert store.keys(source) == sorted(before), source
            for key, old in before.items():
                new = store.series(source, key)
                assert new is not None and same(old.times, new.times), (source, key)
                assert same(old.values, new.values), (source, key)
                if key.startswith("candles/"):
                    pairs = zip(candle_arrays(old), candle_arrays(new), strict=True)
                    assert all(np.array_equal(a, b) for a, b in pairs), (source, key)
                compared += 1
    return compared


# --- the run ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repeat = args.repeat

    strategy = loads(STRATEGY, "bench.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "replay"
        import_bundled(ROOT / "examples" / "data", folder)
        sources = sorted(p.stem for p in folder.glob("*.jsonl"))
        reader = Reader(folder, sources)
        compared = check_equal(reader)

        rows = []
        for source in sources:
            path = folder / f"{source}.jsonl"
            loaded = stdlib_load(path)
            size = path.stat().st_size
            label = f"{source}.jsonl ({size / 1e6:.1f} MB, {len(loaded)} series)"
            if size < snapshots.SIDECAR_MIN_BYTES:
                label += " *"
            rows.append((label, *timings(reader, [source], repeat)))
        rows.append(("the whole folder", *timings(reader, sources, repeat)))
        rows.append(
            ("the whole folder, all lists built", *timings(reader, sources, repeat, lists=True))
        )

        reader.load(["technical"])  # the sidecar in place for the warm rows below
        hourly = stdlib_load(folder / "technical.jsonl")[BTC_HOURLY]
        rows.append((f"backtest arrays: BTC 1h, {len(hourly):,} bars", *backtest(reader, repeat)))
        rows.append(
            ("first decision: rsi/sma at the last bar", *decision(reader, strategy, repeat))
        )
        bars = len(hourly)
        sidecars = sum(
            snapshots.sidecar_path(folder / f"{s}.jsonl").stat().st_size
            for s in sources
            if snapshots.sidecar_path(folder / f"{s}.jsonl").exists()
        )

    python = sys.version.split()[0]
    print(f"Python {python}; the bundled replay folder (examples/replay), min of {repeat}")
    print(f"checked: {compared} series equal to the stdlib reading (values and their types)")
    print(f"BTC/USDT 1h: {bars:,} bars; sidecars on disk: {sidecars / 1e6:.1f} MB\n")
    header = f"{'what is read':<52}{'stdlib json':>12}{'orjson 1st':>12}{'sidecar':>10}"
    print(header + f"{'1st vs':>9}{'sidecar vs':>12}")
    print("-" * (len(header) + 21))
    for label, base, cold, warm in rows:
        print(
            f"{label:<52}{ms(base):>12}{ms(cold):>12}{ms(warm):>10}"
            f"{base / cold:>8.1f}x{base / warm:>11.1f}x"
        )
    print(
        "\n1st: the first read of a file version (parse with orjson and write its sidecar);"
        " sidecar: every later read."
        f"\n* under {snapshots.SIDECAR_MIN_BYTES // 1024} KiB: no sidecar, every read parses"
        " the text with orjson."
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.{2 if seconds < 0.01 else 1}f} ms"


def timings(
    reader: Reader, sources: list[str], repeat: int, *, lists: bool = False
) -> tuple[float, float, float]:
    base = best(lambda: reader.stdlib(sources), repeat)  # lists built anyway
    cold = best(lambda: reader.load(sources, lists=lists), repeat, before=reader.drop_sidecars)
    reader.load(sources)
    warm = best(lambda: reader.load(sources, lists=lists), repeat)
    return base, cold, warm


def backtest(reader: Reader, repeat: int) -> tuple[float, float, float]:
    def new() -> None:
        series = reader.fresh().series("technical", BTC_HOURLY)
        assert series is not None
        candle_arrays(series)
        series.end(series.times[-1])

    def old() -> None:
        series = StdlibStore(reader.folder).series("technical", BTC_HOURLY)
        assert series is not None
        candle_arrays(series)
        series.end(series.times[-1])

    return (
        best(old, repeat),
        best(new, repeat, before=reader.drop_sidecars),
        _warm(reader, new, repeat),
    )


def decision(reader: Reader, strategy: Any, repeat: int) -> tuple[float, float, float]:
    last = stdlib_load(reader.folder / "technical.jsonl")[BTC_HOURLY].times[-1]
    moment = datetime.fromtimestamp(last, UTC)

    def evaluate(store: SnapshotStore) -> None:
        engine.evaluate(strategy, "BTC", moment, registry.replay_adapters(store))

    return (
        best(lambda: evaluate(StdlibStore(reader.folder)), repeat),
        best(lambda: evaluate(reader.fresh()), repeat, before=reader.drop_sidecars),
        _warm(reader, lambda: evaluate(reader.fresh()), repeat),
    )


def _warm(reader: Reader, fn: Callable[[], None], repeat: int) -> float:
    fn()  # the first round writes the sidecar
    return best(fn, repeat)


if __name__ == "__main__":
    main()
