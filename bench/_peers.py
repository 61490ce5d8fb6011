"""The peers bench/bench_backtest.py runs beside SignalOps: one strategy on the same bars.

Data: Binance BTC/USDT hourly candles, 2020-10-07 18:00 .. 2025-10-06 17:00 UTC, the bundled file
``examples/data/ohlcv/BTCUSDT_1h_binance_2020-10_2025-10.csv`` (43,780 rows, 20 real outage hours
missing; CasArt1/Proyecto_2 @3775001f, MIT; see examples/data/README.md), read through
``technical.import_bundled`` so that the bars are exactly the ones SignalOps replays. Frames are
indexed by the bar's OPEN time (UTC); SignalOps stamps a candle with its close time (open + 1 h).

Strategy, identical in every engine: RSI(14) from TA-Lib on the closes; a signal is taken at a bar's
close from bar ``warm_up`` on (default 300, the first decision of bench_backtest and bench_sweep);
flat and RSI < 30 -> buy, long and RSI > 55 -> sell; fills at the NEXT bar's open with a 10 bps fee
on each side; one position at a time; 10,000 of cash; a position still open at the end is marked at
the last close. An entry is the timestamp of the bar whose open fills the buy.

What each timed run includes (data already loaded into the frame; imports excluded), each engine
computing the TA-Lib RSI itself in its usual way (no progress bars: importing this module sets
TQDM_DISABLE):

- reference: ``talib.RSI``, the position as a forward-filled signal in numpy, returns per trade.
- backtrader: ``Cerebro`` with a ``PandasData`` feed (preloaded by ``run``), ``bt.talib.RSI``, the
  strategy's ``next`` on every bar, the broker; no observers (``stdstats=False``).
- backtesting.py: ``FractionalBacktest`` (satoshi units: plain ``Backtest`` trades whole coins),
  ``self.I(talib.RSI, ...)``, ``next`` on every bar, the statistics ``run`` computes.
- vectorbt: ``talib.RSI``, the signal arrays shifted one bar, ``Portfolio.from_signals(price=open)``
  on a naive UTC index (vectorbt's fast path, see bench_sweep), the trade records, total return.

Sizing: all-in in the reference, vectorbt and backtesting.py (which buys the largest whole number
of satoshis); backtrader sizes at the signal's close and would reject an all-in order whose next
open is higher, so it buys ``BACKTRADER_FRACTION`` of its cash. Entries and exits are the same in
every engine; total returns differ by that sizing (vectorbt's equals the reference's).

Warm-up: backtesting.py calls ``next`` from one bar AFTER the indicator's first value (bar 15 for
RSI(14)), the others from bar 14; on this file RSI(14) is already < 30 at bar 14, so a
``warm_up`` below 15 would shift backtesting.py's first entry by one bar.

Run:  .venv/bin/python -m bench._peers [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import talib

from signalops.adapters import technical

# backtesting.py draws a tqdm progress bar on stderr when tqdm is installed: off, as without tqdm.
# tqdm reads this when it is first imported, so before any peer is.
os.environ.setdefault("TQDM_DISABLE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
SERIES = technical.series_key("binance", "BTC/USDT", 3600)
PROVENANCE = (
    "Binance BTC/USDT 1h, examples/data/ohlcv/BTCUSDT_1h_binance_2020-10_2025-10.csv "
    "(CasArt1/Proyecto_2 @3775001f, MIT), read by signalops.adapters.technical.import_bundled"
)
HOUR = 3600
RSI_PERIOD = 14
ENTRY_BELOW = 30.0
EXIT_ABOVE = 55.0
FEE = 0.001  # 10 bps of the traded value, each side
CASH = 10_000.0
WARM_UP = 300
BACKTRADER_FRACTION = 0.99


@dataclass(frozen=True)
class PeerResult:
    """One engine's run; ``entries``/``exits`` are the fill bars' open times (UTC)."""

    engine: str
    version: str
    entries: tuple[pd.Timestamp, ...]
    exits: tuple[pd.Timestamp, ...]
    seconds: float  # the fastest of the repeats
    total_return: float
    bars: int

    @property
    def bars_per_second(self) -> float:
        return self.bars / self.seconds


@dataclass(frozen=True)
class Availability:
    engine: str
    version: str | None
    reason: str | None  # why it cannot run; None when it can

    @property
    def ok(self) -> bool:
        return self.reason is None


def load_btc_1h(data_dir: Path = DATA) -> pd.DataFrame:
    """The bundled hourly candles as ``Open High Low Close Volume``, indexed by open time (UTC)."""
    rows = [(t, v) for key, t, v in technical.import_bundled(data_dir) if key == SERIES]
    close_times = np.array([t for t, _ in rows], dtype=np.int64)
    index = pd.to_datetime(close_times - HOUR, unit="s", utc=True).rename("open_time")
    values = np.array([v for _, v in rows], dtype=np.float64)
    frame = pd.DataFrame(values, index=index, columns=["Open", "High", "Low", "Close", "Volume"])
    frame.attrs["provenance"] = PROVENANCE
    return frame


# --- the engines -------------------------------------------------------------------------------


def run_reference(df: pd.DataFrame, *, warm_up: int = WARM_UP, repeat: int = 1) -> PeerResult:
    """TA-Lib RSI and numpy: the last signal (+1 entry, -1 exit) carried forward is the position."""
    version = f"numpy {np.__version__}, TA-Lib {talib.__version__}"
    return _timed("reference (numpy)", version, repeat, lambda: _reference(df, warm_up))


def _reference(df: pd.DataFrame, warm_up: int) -> PeerResult:
    close = df["Close"].to_numpy()
    open_ = df["Open"].to_numpy()
    rsi = talib.RSI(close, timeperiod=RSI_PERIOD)
    signal = np.zeros(len(close), dtype=np.int8)
    with np.errstate(invalid="ignore"):  # NaN compares False: no signal during RSI's warm-up
        signal[warm_up:] = (rsi[warm_up:] < ENTRY_BELOW).astype(np.int8) - (
            rsi[warm_up:] > EXIT_ABOVE
        )
    last = np.maximum.accumulate(np.where(signal != 0, np.arange(len(signal)), 0))
    held = np.zeros(len(close), dtype=bool)
    held[1:] = signal[last][:-1] == 1  # a signal at a bar's close holds from the next bar
    change = np.diff(held.astype(np.int8), prepend=np.int8(0))
    buys, sells = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    sell_prices = np.append(open_[sells], close[-1]) if len(sells) < len(buys) else open_[sells]
    exit_costs = np.append(np.full(len(sells), 1 - FEE), 1.0)[: len(buys)]
    growth = np.prod(sell_prices / open_[buys] * exit_costs / (1 + FEE))
    return _result("", "", df, buys, sells, float(growth) - 1)


def run_backtrader(df: pd.DataFrame, *, warm_up: int = WARM_UP, repeat: int = 1) -> PeerResult:
    import backtrader as bt  # type: ignore[import-untyped]

    naive = df.tz_localize(None)  # backtrader's clock is naive; these are UTC times
    strategy = _backtrader_strategy(bt)

    def run() -> PeerResult:
        cerebro = bt.Cerebro(stdstats=False)
        cerebro.adddata(bt.feeds.PandasData(dataname=naive))
        cerebro.addstrategy(strategy, warm_up=warm_up)
        cerebro.broker.setcash(CASH)
        cerebro.broker.setcommission(commission=FEE)
        (done,) = cerebro.run()
        total = float(cerebro.broker.getvalue()) / CASH - 1
        return PeerResult("", "", _stamps(done.entries), _stamps(done.exits), 0.0, total, len(df))

    return _timed("backtrader", bt.__version__, repeat, run)


@cache
def _backtrader_strategy(bt: Any) -> type:
    class RsiStrategy(bt.Strategy):
        params = (("warm_up", WARM_UP),)

        def __init__(self) -> None:
            self.rsi = bt.talib.RSI(self.data.close, timeperiod=RSI_PERIOD)
            self.entries: list[Any] = []
            self.exits: list[Any] = []

        def next(self) -> None:
            if len(self) <= self.p.warm_up:  # len(self) is the current bar's index + 1
                return
            if not self.position:
                if self.rsi[0] < ENTRY_BELOW:
                    cash = self.broker.getcash() * BACKTRADER_FRACTION
                    self.buy(size=cash / self.data.close[0])
            elif self.rsi[0] > EXIT_ABOVE:
                self.close()

        def notify_order(self, order: Any) -> None:
            if order.status == order.Completed:
                fills = self.entries if order.isbuy() else self.exits
                fills.append(bt.num2date(order.executed.dt))
            elif order.status in (order.Margin, order.Rejected):
                raise RuntimeError(f"backtrader refused an order: {order}")

    return RsiStrategy


def run_backtestingpy(df: pd.DataFrame, *, warm_up: int = WARM_UP, repeat: int = 1) -> PeerResult:
    import backtesting  # type: ignore[import-untyped]
    from backtesting.lib import FractionalBacktest  # type: ignore[import-untyped]

    strategy = _backtesting_strategy(backtesting)

    def run() -> PeerResult:
        with warnings.catch_warnings():  # "trades remain open at the end": we read them
            warnings.simplefilter("ignore")
            test = FractionalBacktest(df, strategy, cash=CASH, commission=FEE)
            stats = test.run(warm_up=warm_up)
        done = stats["_strategy"]
        trades = (*done.closed_trades, *done.trades)
        entries = tuple(pd.Timestamp(t.entry_time) for t in trades)
        exits = tuple(pd.Timestamp(t.exit_time) for t in done.closed_trades)
        total = float(stats["Return [%]"]) / 100
        return PeerResult("", "", entries, exits, 0.0, total, len(df))

    return _timed("backtesting.py", backtesting.__version__, repeat, run)


@cache
def _backtesting_strategy(backtesting: Any) -> type:
    class RsiStrategy(backtesting.Strategy):
        warm_up = WARM_UP

        def init(self) -> None:
            self.rsi = self.I(talib.RSI, self.data.Close, RSI_PERIOD)

        def next(self) -> None:
            if len(self.data) <= self.warm_up:  # the data seen so far ends at this bar
                return
            if not self.position:
                if self.rsi[-1] < ENTRY_BELOW:
                    self.buy()
            elif self.rsi[-1] > EXIT_ABOVE:
                self.position.close()

    return RsiStrategy


def run_vectorbt(df: pd.DataFrame, *, warm_up: int = WARM_UP, repeat: int = 1) -> PeerResult:
    import vectorbt as vbt  # type: ignore[import-untyped]

    def run() -> PeerResult:
        close = df["Close"].to_numpy()
        rsi = talib.RSI(close, timeperiod=RSI_PERIOD)
        entries = np.zeros(len(close), dtype=bool)
        exits = np.zeros_like(entries)
        with np.errstate(invalid="ignore"):  # a signal at a bar's close fills at the next open
            entries[warm_up + 1 :] = rsi[warm_up:-1] < ENTRY_BELOW
            exits[warm_up + 1 :] = rsi[warm_up:-1] > EXIT_ABOVE
        index = df.index.tz_localize(None)
        portfolio = vbt.Portfolio.from_signals(
            pd.Series(close, index=index),
            entries,
            exits,
            price=df["Open"].to_numpy(),
            fees=FEE,
            init_cash=CASH,
            direction="longonly",
            freq="1h",
        )
        trades = portfolio.trades.records
        closed = trades["exit_idx"][trades["status"] == 1]
        total = float(portfolio.total_return())
        return _result("", "", df, trades["entry_idx"], closed, total)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _timed("vectorbt", vbt.__version__, repeat, run)


# --- running and checking ----------------------------------------------------------------------

Runner = Callable[..., PeerResult]
PEERS: dict[str, tuple[str, Runner]] = {  # engine -> (module, runner), in the table's order
    "backtrader": ("backtrader", run_backtrader),
    "backtesting.py": ("backtesting", run_backtestingpy),
    "vectorbt": ("vectorbt", run_vectorbt),
}


@cache
def available() -> dict[str, Availability]:
    """Which peers import here (the ``bench`` extra); the others carry the reason they cannot."""
    found = {}
    for engine, (module, _) in PEERS.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                version = str(importlib.import_module(module).__version__)
        except Exception as exc:  # a broken install is as unavailable as a missing one
            reason = f"{module} does not import ({exc}): pip install 'signalops[bench]'"
            found[engine] = Availability(engine, None, reason)
        else:
            found[engine] = Availability(engine, version, None)
    return found


def run_all(df: pd.DataFrame, *, warm_up: int = WARM_UP, repeat: int = 3) -> list[PeerResult]:
    """The reference and every available peer, repeats alternating between engines (so that load
    drifts hit all of them), after one untimed warm-up run each on a slice (numba compiles)."""
    runners: dict[str, Runner] = {"reference (numpy)": run_reference}
    runners |= {name: PEERS[name][1] for name, peer in available().items() if peer.ok}
    for runner in runners.values():
        runner(df.iloc[: warm_up + 500], warm_up=warm_up)
    best: dict[str, PeerResult] = {}
    for _ in range(repeat):
        for name, runner in runners.items():
            result = runner(df, warm_up=warm_up)
            if name not in best or result.seconds < best[name].seconds:
                best[name] = result
    return list(best.values())


def entry_mismatches(results: Sequence[PeerResult]) -> list[str]:
    """How each result's entries differ from the first one's (empty when all agree)."""
    if not results:
        return []
    first, problems = results[0], []
    for other in results[1:]:
        if other.entries != first.entries:
            only_first = _first_three(set(first.entries) - set(other.entries))
            only_other = _first_three(set(other.entries) - set(first.entries))
            problems.append(
                f"{other.engine}: {len(other.entries)} entries vs {first.engine}'s "
                f"{len(first.entries)}; only in {first.engine}: {only_first}, "
                f"only in {other.engine}: {only_other}"
            )
    return problems


def _first_three(stamps: set[pd.Timestamp]) -> str:
    return ", ".join(str(t) for t in sorted(stamps)[:3]) or "none"


def same_entries(results: Iterable[PeerResult]) -> bool:
    return not entry_mismatches(list(results))


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, {platform.machine()}, Python {sys.version.split()[0]} "
        f"({platform.python_implementation()}), {platform.system()}"
    )


def _timed(engine: str, version: str, repeat: int, run: Callable[[], PeerResult]) -> PeerResult:
    """The fastest of ``repeat`` runs, labelled with the engine."""
    best = math.inf
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return PeerResult(
        engine, version, result.entries, result.exits, best, result.total_return, result.bars
    )


def _result(
    engine: str,
    version: str,
    df: pd.DataFrame,
    entries: np.ndarray,
    exits: np.ndarray,
    total_return: float,
) -> PeerResult:
    stamps = df.index
    return PeerResult(
        engine,
        version,
        tuple(stamps[entries]),
        tuple(stamps[exits]),
        0.0,
        total_return,
        len(df),
    )


def _stamps(moments: Iterable[Any]) -> tuple[pd.Timestamp, ...]:
    # backtrader's float day numbers come back a few microseconds off the hour
    return tuple(pd.Timestamp(m, tz="UTC").round("s") for m in moments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warm-up", type=int, default=WARM_UP)
    args = parser.parse_args()
    df = load_btc_1h()
    for engine, peer in available().items():
        if not peer.ok:
            print(f"skipped {engine}: {peer.reason}")
    results = run_all(df, warm_up=args.warm_up, repeat=args.repeat)
    print(f"{machine()}; min of {args.repeat} runs, engines alternating")
    print(f"data: {PROVENANCE}")
    print(
        f"{len(df):,} bars {df.index[0]} .. {df.index[-1]}; RSI({RSI_PERIOD}) < {ENTRY_BELOW:g} "
        f"entry, > {EXIT_ABOVE:g} exit, signals from bar {args.warm_up}, next-bar-open fills, "
        f"{FEE * 10_000:g} bps fee\n"
    )
    base = {r.engine: r for r in results}.get("backtesting.py")
    print(f"{'engine':<20}{'version':<28}{'bars/s':>13}{'entries':>9}{'total return':>14}"
          f"{'vs backtesting.py':>19}")  # fmt: skip
    print("-" * 103)
    for r in results:
        ratio = f"{r.bars_per_second / base.bars_per_second:,.2f}x" if base else "-"
        print(f"{r.engine:<20}{r.version:<28}{r.bars_per_second:>13,.0f}{len(r.entries):>9}"
              f"{r.total_return:>14.4%}{ratio:>19}")  # fmt: skip
    problems = entry_mismatches(results)
    print("\nentries: " + ("the same in every engine" if not problems else "; ".join(problems)))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
