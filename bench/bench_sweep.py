"""The vectorised sweep (screen + portfolio + metrics) against vectorbt, same data and grid.

Five years of hourly BTC candles (Binance, 2020-10..2025-10, ``examples/data/ohlcv``, the file
``bench/bench_backtest.py`` uses), decisions at every candle close from the 300th on (RSI's
history before it), one strategy: BUY when RSI(14) < ``entry``, SELL when RSI(14) > ``exit``,
long-only and all-in, filled at the next bar's open with a 10 bps fee and no slippage, starting
with 10,000. The grid: ``entry`` x ``exit`` (default 20,25,30,35 x 50,55,60,65,70: 20 points).

- SignalOps: ``signalops.backtest.sweep`` with the strategy's YAML text: compile, TA-Lib over the
  candle history, the vectorised evaluator, the position and every metric of ``SweepRow`` (total
  return, max drawdown, Sharpe, win rate with its Wilson interval and exact binomial p-value,
  exposure, blocked bars), for every grid point.
- vectorbt: TA-Lib's RSI on the same closes, the entry and exit signal matrices of the grid
  (shifted one bar: a signal at a bar's close fills at the next bar's open), then
  ``Portfolio.from_signals(close, entries, exits, price=open, fees=0.001)`` over all grid points
  at once, with ``total_return``, ``max_drawdown``, ``sharpe_ratio`` and the trades' win rate.
  Its frames use a naive (UTC) hourly index: vectorbt's fast path. With a tz-aware index
  pandas 3 turns every timestamp into an object on each ``wrap``, and vectorbt runs ~40x slower.

Before timing, every grid point is checked: the same entry and exit signals, the same round
trips (entry and exit bars), and total returns equal to 12 significant digits (Sharpe and max
drawdown are compared too). Times are the minimum of ``--repeat`` runs, engines alternating.

The second table scales the sweep out (``signalops.research``): ``--sets`` parameter sets (default
1,000: RSI(14) entry 20..39 x exit 50..99) of a daily RSI strategy on every bundled asset (BTC
and ETH on Binance, AAPL, MSFT, GOOGL, NVDA, JPM and TSLA through the equities config), 2019 to
2024, as ``signalops sweep`` runs them: in this process (one task per asset, the baseline being
``sweep()`` called per asset without the executor) and on a local Ray of ``--cpus`` CPUs with
the default chunks (about 4 tasks per worker) and with ``--chunks`` parameter sets per task, down
to one task per parameter set x asset. A run of empty tasks gives Ray's bare round trip. The
overhead per task is ``(Ray's time - local time / workers) / tasks``: what a task costs beyond
a perfect split of the local work over the workers. Ray's rows are checked equal to the local
ones before timing; ``ray.init`` and the one ``ray.put`` of the market data are timed apart.

Run:  .venv/bin/python bench/bench_sweep.py [--entry 20,25,30,35] [--exit 50,55,60,65,70]
      .venv/bin/python bench/bench_sweep.py --part ray [--sets 1000] [--cpus 2] [--chunks 1,10,100]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import talib

from signalops.adapters import technical
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.sweep import SweepRun, sweep
from signalops.evaluation.vectorized import BUY, SELL

ROOT = Path(__file__).resolve().parents[1]
SERIES = "candles/binance/BTC/USDT/1h"
WARM_UP = 300  # candles before the first decision
FEE_BPS = 10
CASH = 10_000.0

STRATEGY = textwrap.dedent(
    """
    strategy:
      name: "Hourly_RSI_Sweep"
      assets: ["BTC"]
      params:
        entry: 30
        exit: 55
      defaults:
        params:
          timeframe: 1h
      rules:
        - id: oversold
          source: technical
          conditions:
            - when: "rsi(14) < $entry"
      exit:
        rules:
          - id: recovered
            source: technical
            conditions:
              - when: "rsi(14) > $exit"
      execution:
        position_size: 0.05
        action_mode: paper
    """
)


@dataclass(frozen=True)
class Candles:
    close_time: np.ndarray  # Unix seconds, all candles
    open: np.ndarray
    close: np.ndarray

    @property
    def decisions(self) -> np.ndarray:
        return self.close_time[WARM_UP:]


def load_candles(store: SnapshotStore) -> Candles:
    series = store.series("technical", SERIES)
    assert series is not None, f"no {SERIES} in the bundled data"
    return Candles(series.time_array, series.column(0), series.column(3))


# --- the two engines ---------------------------------------------------------------------------


def ours(store: SnapshotStore, candles: Candles, grid: dict[str, list[int]]) -> list[SweepRun]:
    times = candles.decisions
    rows = sweep(
        STRATEGY,
        grid=grid,
        store=store,
        asset="BTC",
        start=datetime.fromtimestamp(float(times[0]), UTC),
        end=datetime.fromtimestamp(float(times[-1]), UTC),
        fee_bps=FEE_BPS,
        slippage_bps=0,
    )
    for row in rows:  # every metric the table of `signalops sweep` shows, and Sharpe
        _ = (row.total_return, row.max_drawdown, row.sharpe, row.win_rate.rate, row.exposure)
        _ = (row.closed_trades, row.open_trade, row.blocked)
    return rows


@dataclass(frozen=True)
class Theirs:
    entries: np.ndarray  # (bars, points) after the one-bar shift
    exits: np.ndarray
    total_return: np.ndarray
    max_drawdown: np.ndarray
    sharpe: np.ndarray  # computed for the timing, not compared: see check()
    win_rate: np.ndarray
    trades: np.ndarray  # vectorbt's trade records


def vectorbt_sweep(
    vbt: Any, pd: Any, candles: Candles, points: Sequence[tuple[int, int]]
) -> Theirs:
    rsi = talib.RSI(candles.close, timeperiod=14)[WARM_UP:]
    entry = np.array([e for e, _ in points], dtype=np.float64)
    exit_ = np.array([x for _, x in points], dtype=np.float64)
    # A signal at a bar's close fills at the next bar's open: shift the signals one bar.
    entries = np.zeros((len(rsi), len(points)), dtype=bool)
    exits = np.zeros_like(entries)
    with np.errstate(invalid="ignore"):
        entries[1:] = rsi[:-1, None] < entry[None, :]
        exits[1:] = rsi[:-1, None] > exit_[None, :]
    index = pd.to_datetime(candles.decisions - 3600, unit="s")  # open times, naive UTC
    columns = pd.MultiIndex.from_arrays([entry, exit_], names=["entry", "exit"])
    portfolio = vbt.Portfolio.from_signals(
        pd.Series(candles.close[WARM_UP:], index=index),
        pd.DataFrame(entries, index=index, columns=columns),
        pd.DataFrame(exits, index=index, columns=columns),
        price=pd.Series(candles.open[WARM_UP:], index=index),
        fees=FEE_BPS / 10_000,
        init_cash=CASH,
        direction="longonly",
        freq="1h",
    )
    return Theirs(
        entries,
        exits,
        portfolio.total_return().to_numpy(),
        portfolio.max_drawdown().to_numpy(),
        portfolio.sharpe_ratio().to_numpy(),
        portfolio.trades.win_rate().to_numpy(),
        portfolio.trades.values,
    )


# --- the checks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    points: int
    round_trips: int
    total_return: float  # the largest relative difference
    max_drawdown: float


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b)) if a != b else 0.0


def check(rows: Sequence[SweepRun], theirs: Theirs, candles: Candles) -> Agreement:
    """The sweep decides every hour, vectorbt at every candle: they meet at candle closes (an
    hour without a candle repeats the last candle's verdict, or holds on stale data, so it never
    moves the position)."""
    closes = candles.decisions
    opens = closes - 3600  # vectorbt's index: the bars' open times
    worst = {"total_return": 0.0, "max_drawdown": 0.0}
    trips = 0
    for col, row in enumerate(rows):
        label = f"grid point {dict(row.params)}"
        at_close = row.verdicts[np.searchsorted(row.times, closes)]
        # The verdict at a candle's close is vectorbt's signal on the next bar.
        assert np.array_equal(theirs.entries[1:, col], (at_close == BUY)[:-1]), label
        assert np.array_equal(theirs.exits[1:, col], (at_close == SELL)[:-1]), label
        records = theirs.trades[theirs.trades["col"] == col]
        bar = {float(t): i for i, t in enumerate(opens)}
        ours_trips = [
            (
                bar[t.entry_time.timestamp()],
                bar[t.exit_time.timestamp()] if t.exit_time is not None else None,
            )
            for t in row.trades
        ]
        still_open = records["status"] == 0  # vectorbt: 0 open, 1 closed
        their_trips = [
            (int(e), None if still else int(x))
            for e, x, still in zip(
                records["entry_idx"], records["exit_idx"], still_open, strict=True
            )
        ]
        assert ours_trips == their_trips, f"{label}: different round trips"
        trips += len(ours_trips)
        theirs_return = float(theirs.total_return[col])
        assert math.isclose(row.total_return, theirs_return, rel_tol=1e-12, abs_tol=0), (
            f"{label}: total return {row.total_return!r} vs vectorbt {theirs_return!r}"
        )
        worst["total_return"] = max(
            worst["total_return"], relative(row.total_return, theirs_return)
        )
        drawdown = float(theirs.max_drawdown[col])  # both <= 0
        worst["max_drawdown"] = max(worst["max_drawdown"], relative(row.max_drawdown, drawdown))
    return Agreement(len(rows), trips, **worst)


# --- timing ------------------------------------------------------------------------------------


def fastest(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    best = dict.fromkeys(runs, math.inf)
    for _ in range(repeat):
        for name, run in runs.items():  # alternating, so that load drifts hit both
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def values(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entry", type=values, default=[20, 25, 30, 35])
    parser.add_argument("--exit", type=values, default=[50, 55, 60, 65, 70])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--part", choices=["vectorbt", "ray", "both"], default="both")
    parser.add_argument("--sets", type=int, default=1000, help="parameter sets (scale-out part)")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--chunks", type=values, default=[100, 10, 1], help="sets per Ray task")
    args = parser.parse_args()
    if args.part in ("vectorbt", "both"):
        against_vectorbt(args)
    if args.part in ("ray", "both"):
        if args.part == "both":
            print()
        scale_out(args)


def against_vectorbt(args: argparse.Namespace) -> None:
    try:
        import pandas as pd
        import vectorbt as vbt
    except ImportError:
        sys.exit("vectorbt is not installed: pip install 'signalops[bench]'")
    warnings.filterwarnings("ignore", module="vectorbt")

    grid = {"entry": args.entry, "exit": args.exit}
    points = [(e, x) for e in args.entry for x in args.exit]  # the sweep's order
    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(Path(tmp) / "replay")
        store.write("technical", technical.import_bundled(ROOT / "examples" / "data"))
        candles = load_candles(store)
        bars = len(candles.decisions)

        # Correctness first (this also warms up numba's compiled loops and TA-Lib).
        rows = ours(store, candles, grid)
        agreement = check(rows, vectorbt_sweep(vbt, pd, candles, points), candles)

        best = fastest(
            {
                "vectorbt": lambda: vectorbt_sweep(vbt, pd, candles, points),
                "signalops": lambda: ours(store, candles, grid),
            },
            args.repeat,
        )

    work = bars * len(points)
    print(
        f"Python {sys.version.split()[0]}, numpy {np.__version__}, vectorbt {vbt.__version__}; "
        f"BTC/USDT 1h, {bars:,} decision bars x {len(points)} grid points"
    )
    print(
        f"grid: RSI(14) < entry {args.entry} x RSI(14) > exit {args.exit}; next-bar-open fills, "
        f"{FEE_BPS} bps fee, long-only all-in"
    )
    print(
        f"checked: {agreement.points} points, same entry and exit signals, same "
        f"{agreement.round_trips:,} round trips; largest relative difference of total return "
        f"{agreement.total_return:.1e} (asserted < 1e-12), of max drawdown "
        f"{agreement.max_drawdown:.1e}\n"
    )
    heading = f"engine (min of {args.repeat})"
    print(f"{heading:<58}{'seconds':>9}{'bars x points/s':>17}{'vs vectorbt':>13}")
    print("-" * 97)
    names = {
        "vectorbt": f"vectorbt {vbt.__version__} (from_signals + 4 metrics)",
        "signalops": "SignalOps sweep (compile + screen + position + metrics)",
    }
    for key in ("vectorbt", "signalops"):
        seconds = best[key]
        ratio = best["vectorbt"] / seconds
        print(f"{names[key]:<58}{seconds:>9.3f}{work / seconds:>17,.0f}{ratio:>12.2f}x")


# --- scaling out: local vs local Ray ----------------------------------------------------------

ASSETS = ("BTC", "ETH", "AAPL", "MSFT", "GOOGL", "NVDA", "JPM", "TSLA")
SCALE_FROM, SCALE_TO = datetime(2019, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
DAILY = STRATEGY.replace("timeframe: 1h", "timeframe: 1d").replace("Hourly_RSI", "Daily_RSI")


def scale_grid(sets: int) -> dict[str, list[int]]:
    """``sets`` parameter sets: RSI entry 20, 21, ... x exit 50..99 (50 exits per entry)."""
    exits = list(range(50, 50 + min(sets, 50)))
    entries = list(range(20, 20 + math.ceil(sets / len(exits))))
    assert len(entries) * len(exits) == sets, "--sets: a multiple of 50 (or fewer than 50)"
    return {"entry": entries, "exit": exits}


def scale_out(args: argparse.Namespace) -> None:
    import logging
    import os

    try:
        import ray
    except ImportError:
        sys.exit("ray is not installed: pip install 'signalops[ray]'")
    from signalops.adapters import registry
    from signalops.adapters.bundled import import_bundled
    from signalops.research.executors import LocalExecutor, RayExecutor
    from signalops.research.market import pack, sources_read
    from signalops.research.sweeps import run_sweep
    from signalops.research.tasks import Settings
    from signalops.strategy import loads

    grid = scale_grid(args.sets)
    settings = Settings.read(ROOT / "examples" / "signalops.equities.yaml")
    strategy = loads(DAILY, "<bench>", registry.catalogue())
    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(Path(tmp) / "replay")
        import_bundled(ROOT / "examples" / "data", store.directory)
        common: dict[str, Any] = dict(
            grid=grid,
            store=store,
            start=SCALE_FROM,
            end=SCALE_TO,
            assets=ASSETS,
            fee_bps=FEE_BPS,
            slippage_bps=0,
            settings=settings,
        )
        venues = settings.load().venues

        def plain() -> list[Any]:  # the library's sweep(), asset by asset: no executor at all
            return [
                sweep(
                    DAILY,
                    grid=grid,
                    store=store,
                    asset=asset,
                    start=SCALE_FROM,
                    end=SCALE_TO,
                    fee_bps=FEE_BPS,
                    slippage_bps=0,
                    venues=venues,
                )
                for asset in ASSETS
            ]

        local = run_sweep(strategy, executor=LocalExecutor(), **common)
        assert [list(a.rows) for a in local.assets] == [[r.row() for r in rows] for rows in plain()]
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        began = time.perf_counter()
        ray.init(
            num_cpus=args.cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
            _node_ip_address="127.0.0.1",
        )
        started = time.perf_counter() - began
        try:
            executor = RayExecutor()
            packed = pack(store, sources_read([strategy], store))
            began = time.perf_counter()
            ray.get(ray.put(packed))
            put = time.perf_counter() - began
            size = sum(a.nbytes for a in packed.files.values())
            runs: dict[str, Callable[[], object]] = {
                "plain": plain,
                "local": lambda: run_sweep(strategy, executor=LocalExecutor(), **common),
                "ray": lambda: run_sweep(strategy, executor=executor, **common),
            }
            tasks = {"plain": len(ASSETS), "local": local.tasks}
            for chunk in args.chunks:
                there = run_sweep(strategy, executor=executor, chunk=chunk, **common)
                assert there.assets == local.assets, f"chunk {chunk}: not the local rows"
                tasks[f"chunk {chunk}"] = there.tasks
                runs[f"chunk {chunk}"] = partial(run_sweep, strategy, executor=executor,
                                                 chunk=chunk, **common)  # fmt: skip
            default = run_sweep(strategy, executor=executor, **common)
            assert default.assets == local.assets
            tasks["ray"] = default.tasks
            empty = len(ASSETS) * args.sets
            runs["empty"] = lambda: list(executor.run(_nothing, executor.put(None), range(empty)))
            tasks["empty"] = empty
            best = fastest(runs, args.repeat)
        finally:
            ray.shutdown()

    screens = len(ASSETS) * args.sets
    decisions = _decisions()
    print(
        f"scale-out: {args.sets:,} parameter sets x {len(ASSETS)} bundled assets "
        f"({', '.join(ASSETS)}) = {screens:,} screens; RSI(14) entry x exit, daily "
        f"{SCALE_FROM:%Y-%m-%d} .. {SCALE_TO:%Y-%m-%d} ({decisions:,} decisions each)"
    )
    print(
        f"Ray {ray.__version__}, a local Ray of {args.cpus} CPUs on this machine: ray.init "
        f"{started:.1f} s and one ray.put of the market data ({size / 1e6:.1f} MB) "
        f"{put * 1000:.0f} ms, not in the times below; every Ray run's rows checked equal to "
        f"the local ones\n"
    )
    names = {
        "plain": "sweep() per asset, no executor",
        "local": "signalops sweep, in process (local executor)",
        "ray": f"--ray, default chunks ({math.ceil(screens / tasks['ray'])} sets/task)",
        **{f"chunk {c}": f"--ray --chunk {c}" for c in args.chunks},
        "empty": "Ray, empty tasks (bare round trip)",
    }
    heading = f"run (min of {args.repeat})"
    print(
        f"{heading:<50}{'tasks':>7}{'seconds':>9}{'screens/s':>11}{'vs local':>10}"
        f"{'overhead/task':>15}"
    )
    print("-" * 102)
    local_time = best["local"]
    for key, name in names.items():
        seconds = best[key]
        if key == "empty":
            print(f"{name:<50}{tasks[key]:>7,}{seconds:>9.3f}{'':>11}{'':>10}"
                  f"{seconds / tasks[key] * 1e3:>12.2f} ms")  # fmt: skip
            continue
        extra = ""
        if key not in ("plain", "local"):
            overhead = (seconds - local_time / args.cpus) / tasks[key]
            extra = f"{overhead * 1e3:>12.2f} ms"
        print(
            f"{name:<50}{tasks[key]:>7,}{seconds:>9.3f}{screens / seconds:>11,.0f}"
            f"{local_time / seconds:>9.2f}x{extra:>15}"
        )


def _decisions() -> int:
    from signalops.backtest.sweep import decision_times

    return len(decision_times(SCALE_FROM, SCALE_TO, timedelta(days=1)))


def _nothing(_shared: object, _item: int) -> None:
    return None


if __name__ == "__main__":
    main()
