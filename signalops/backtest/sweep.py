"""A parameter sweep: the vectorised evaluator over a small grid of ``strategy.params`` values.

    rows = sweep(text, grid={"oversold": [25, 30, 35]}, store=store, asset="BTC",
                 start=datetime(2022, 1, 1, tzinfo=UTC), end=datetime(2024, 12, 31, tzinfo=UTC))

For every combination of values the strategy document's ``strategy.params`` are replaced, the
document is compiled again (so a bad value fails exactly as it would in the file), and
``signalops.evaluation.vectorized`` evaluates the tree at every decision time at once. A simple
long-only position is then played through the verdict arrays:

- decision times are those of ``signalops backtest``: ``start`` to ``end`` inclusive, every
  ``every`` (default: the strategy's candle timeframe);
- a BUY while flat puts all the cash into the asset at the open of the next bar (the bar that
  opens at or after the decision time, as ``Bars.next_open``), at ``open x (1 + slippage)`` plus
  ``fee_bps`` of the notional; a SELL while long sells everything at the next bar's open,
  ``open x (1 - slippage)`` minus the fee. BUY while long, SELL while flat, HOLD and BLOCKED do
  nothing; a decision with no next bar (the data ends) does not fill;
- the equity curve is marked like the backtest's: the starting cash at ``start``, then after each
  decision time ``t`` the portfolio at the last close at or before ``t + every``.

Metrics come from ``signalops.backtest.metrics`` (total return, max drawdown, Sharpe, win rate of
closed round trips with pnl > 0 after fees, exposure), plus the count of BLOCKED decision times.

THIS IS A FAST SCREEN, NOT A BACKTEST. It has no risk gate (no limits, cool-downs or kill
switch), no position sizing (always all-in, ignoring ``execution.position_size``), no confirmation
rounds, no approvals and no audit log, and it computes in float64 rather than the paper broker's
Decimal. The technical fast path also warms recursive indicators up over the whole history (see
``signalops.evaluation.vectorized``). Its numbers are therefore *not* those of
``signalops backtest``: use it to pick candidates, then confirm them with the event-driven backtest.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import SOURCE
from signalops.backtest.bars import Bars
from signalops.backtest.metrics import (
    WinRate,
    exposure,
    max_drawdown,
    period_returns,
    periods_per_year,
    sharpe,
    total_return,
)
from signalops.backtest.runner import _check_coverage, _check_input, candle_timeframe
from signalops.catalogue.spec import Catalogue, format_duration
from signalops.config import PaperConfig
from signalops.errors import InputError, StrategyError
from signalops.evaluation.vectorized import (
    BLOCKED,
    BUY,
    SELL,
    evaluate_series,
    inputs_from_adapters,
    technical_inputs,
)
from signalops.observation import utc
from signalops.pipeline.loop import simulated_times
from signalops.strategy import loads
from signalops.strategy.compiler import parse_number
from signalops.strategy.model import Strategy
from signalops.venues import Venues

__all__ = [
    "SweepRow",
    "SweepTrade",
    "format_value",
    "grid_combinations",
    "parse_grid",
    "parse_grid_value",
    "simulate",
    "sweep",
    "with_params",
]

_PAPER = PaperConfig()
STARTING_CASH = float(_PAPER.starting_cash)


# --- the grid ------------------------------------------------------------------------------------


def parse_grid_value(text: str) -> int | float | str:
    """A value as a threshold reads it: '30' -> 30, '5%' -> 0.05, '1.5k' -> 1500, '-1B'.

    Whole numbers become ints (so a value can also serve as a period); anything that is not a
    number (a duration such as '4h', a word) stays the string it is.
    """
    text = text.strip()
    number = parse_number(text)
    if number is None:
        return text
    return int(number) if number.is_integer() else number


def format_value(value: Any) -> str:
    """A grid value as a threshold would be written: 30, 0.05, 1.5k, -1B, 4h."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    for suffix, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if abs(value) >= scale and float(value * 10 / scale).is_integer():  # 1k, 1.5k
            return f"{value / scale:g}{suffix}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """``["oversold=25,30", "exit=55"]`` -> ``{"oversold": [25, 30], "exit": [55]}``.

    A leading ``$`` on the name is allowed (``$oversold=25``). Repeated values are kept once.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().removeprefix("$")
        if not sep or not name:
            raise InputError(f"--grid '{spec}': expected NAME=V1,V2,... (e.g. oversold=25,30)")
        if name in grid:
            raise InputError(f"--grid: parameter '{name}' given twice")
        texts = [v.strip() for v in values.split(",")]
        if not values.strip() or any(not v for v in texts):
            raise InputError(f"--grid '{spec}': empty value (expected NAME=V1,V2,...)")
        parsed: list[Any] = []
        for value in map(parse_grid_value, texts):
            if value not in parsed:
                parsed.append(value)
        grid[name] = parsed
    return grid


def grid_combinations(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, the first name varying slowest."""
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]


# --- recompiling ---------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A document (mapping proxies, tuples) as plain JSON data."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _document(source: str | Mapping[str, Any] | Strategy, catalogue: Catalogue) -> dict[str, Any]:
    if isinstance(source, Strategy):
        return _plain(source.document)
    if isinstance(source, str):
        return _plain(loads(source, catalogue=catalogue).document)
    return _plain(source)


def with_params(
    document: Mapping[str, Any],
    params: Mapping[str, Any],
    catalogue: Catalogue,
    file: str = "<sweep>",
) -> Strategy:
    """Compile ``document`` with ``strategy.params`` entries replaced by ``params``."""
    doc = _plain(document)
    spec = doc.get("strategy") if isinstance(doc.get("strategy"), dict) else None
    known = dict(spec.get("params") or {}) if spec else {}
    unknown = [name for name in params if name not in known]
    if unknown:
        listed = ", ".join(sorted(known)) if known else "none (it has no params: section)"
        raise InputError(
            f"unknown parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(u) for u in unknown)}: the strategy's params are {listed}"
        )
    assert spec is not None
    # A param written as a string ("511754", a market id) stays a string: a grid value read as
    # a number goes back in as its text, which a numeric use parses again the same way.
    spec["params"] = {
        **known,
        **{
            name: format_value(value) if isinstance(known[name], str) else value
            for name, value in params.items()
        },
    }
    label = ", ".join(f"{k}={v}" for k, v in params.items())
    # JSON is YAML: the compiler checks the new values exactly as it checks a file. Its errors
    # point into that JSON text, so they are restated without the position.
    try:
        return loads(json.dumps(doc), file, catalogue)
    except StrategyError as exc:
        problems = "; ".join(
            f"{e.path + ': ' if e.path else ''}{e.message}{f' ({e.hint})' if e.hint else ''}"
            for e in exc.errors
        )
        raise InputError(f"{file} with {label}: {problems}") from None


# --- the position --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepTrade:
    """One long round trip. Bars are indices into the decision times; prices are raw opens."""

    entry_bar: int  # the decision time that said BUY
    entry_time: datetime  # the open time of the bar it filled at
    entry_open: float  # that bar's open (before slippage)
    entry_price: float  # open x (1 + slippage)
    quantity: float
    cost: float  # what the position cost, fee included
    exit_bar: int | None = None
    exit_time: datetime | None = None
    exit_open: float | None = None
    exit_price: float | None = None  # open x (1 - slippage)
    proceeds: float | None = None  # what the sale brought, fee deducted

    @property
    def closed(self) -> bool:
        return self.exit_bar is not None

    @property
    def pnl(self) -> float | None:
        return None if self.proceeds is None else self.proceeds - self.cost

    @property
    def ret(self) -> float | None:
        return None if self.proceeds is None else self.proceeds / self.cost - 1


@dataclass(frozen=True)
class Simulation:
    trades: tuple[SweepTrade, ...]
    equity: np.ndarray  # one point per decision time, after its fills, marked at t + every
    held: np.ndarray  # bool: a position was held during the period after that decision time
    fees: float


def simulate(
    verdicts: np.ndarray,
    times: np.ndarray,
    bars: Bars,
    step: float,
    *,
    fee_bps: float,
    slippage_bps: float,
    cash: float = STARTING_CASH,
) -> Simulation:
    """Play a long-only, all-in position through ``verdicts`` (codes of ``vectorized.VERDICTS``).

    ``times`` are the decision times (Unix seconds), ``step`` the period length in seconds. The
    loop only visits BUY and SELL decision times.
    """
    verdicts = np.asarray(verdicts)
    times = np.asarray(times, dtype=np.float64)
    n = len(times)
    fee, slip = fee_bps / 10_000, slippage_bps / 10_000
    # The bar that opens at or after t: close time >= t + timeframe (as Bars.next_open).
    fill_bar = np.searchsorted(bars.close_time, times + bars.timeframe, side="left")
    mark_bar = np.searchsorted(bars.close_time, times + step, side="right") - 1
    marks = np.where(mark_bar >= 0, bars.close[np.maximum(mark_bar, 0)], np.nan)

    initial = cash
    trades: list[SweepTrade] = []
    changes: list[tuple[int, float, float]] = []  # (decision index, cash, quantity) from then on
    quantity, fees, open_trade = 0.0, 0.0, None
    for k in np.flatnonzero((verdicts == BUY) | (verdicts == SELL)):
        i = int(fill_bar[k])
        if i >= len(bars):
            continue  # no next bar: the order fails, as in the backtest
        base = float(bars.open[i])
        at = datetime.fromtimestamp(float(bars.close_time[i] - bars.timeframe), UTC)
        if verdicts[k] == BUY and open_trade is None:
            price = base * (1 + slip)
            quantity = cash / (price * (1 + fee))
            paid = quantity * price
            fees += paid * fee
            open_trade = SweepTrade(int(k), at, base, price, quantity, cost=cash)
            cash = 0.0
        elif verdicts[k] == SELL and open_trade is not None:
            price = base * (1 - slip)
            notional = quantity * price
            fees += notional * fee
            cash = notional * (1 - fee)
            closed = replace(open_trade, exit_bar=int(k), exit_time=at, exit_open=base)
            trades.append(replace(closed, exit_price=price, proceeds=cash))
            quantity, open_trade = 0.0, None
        else:
            continue
        changes.append((int(k), cash, quantity))
    if open_trade is not None:
        trades.append(open_trade)

    index = np.array([c[0] for c in changes], dtype=np.int64)
    cash_at = np.array([initial, *(c[1] for c in changes)])
    qty_at = np.array([0.0, *(c[2] for c in changes)])
    state = np.searchsorted(index, np.arange(n), side="right")  # 0 = before any fill
    qty = qty_at[state]
    held = qty > 0
    equity = cash_at[state] + np.where(held, qty * np.nan_to_num(marks), 0.0)
    return Simulation(tuple(trades), equity, held, fees)


# --- the sweep -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRow:
    """One combination of parameter values and what the fast screen made of it."""

    params: Mapping[str, Any]
    strategy: Strategy
    times: np.ndarray  # decision times, Unix seconds
    verdicts: np.ndarray  # vectorized verdict codes, one per decision time
    trades: tuple[SweepTrade, ...]
    equity: np.ndarray  # after each decision time (the starting cash precedes it)
    total_return: float
    max_drawdown: float  # <= 0
    sharpe: float | None
    win_rate: WinRate  # of closed round trips
    exposure: float
    blocked: int  # decision times whose verdict was BLOCKED
    fees: float

    @property
    def closed_trades(self) -> int:
        return self.win_rate.trades

    @property
    def open_trade(self) -> bool:
        return bool(self.trades) and not self.trades[-1].closed


def sweep(
    strategy_text_or_document: str | Mapping[str, Any] | Strategy,
    *,
    grid: Mapping[str, Sequence[Any]],
    store: SnapshotStore,
    asset: str | None = None,
    start: datetime,
    end: datetime,
    every: timedelta | None = None,
    fee_bps: float | Decimal = _PAPER.fee_bps,
    slippage_bps: float | Decimal = _PAPER.slippage_bps,
    catalogue: Catalogue | None = None,
    venues: Venues | None = None,
) -> list[SweepRow]:
    """Screen every combination of ``grid`` (param name -> values); rows in grid order.

    ``strategy_text_or_document`` is strategy YAML text, a strategy document (the content of a
    file, as ``Strategy.document``) or a compiled ``Strategy``. ``asset`` defaults to the
    strategy's first; ``venues`` says which venue's candles serve it (default: Binance,
    ``BASE/USDT``). A fast screen, not a backtest: see the module docstring.
    """
    catalogue = catalogue or registry.catalogue()
    document = _document(strategy_text_or_document, catalogue)
    if not grid:
        raise InputError("an empty grid: give at least one parameter and its values")
    empty = [name for name, values in grid.items() if not list(values)]
    if empty:
        raise InputError(f"no values for parameter '{empty[0]}'")
    combos = grid_combinations(grid)
    file = strategy_text_or_document.file if isinstance(strategy_text_or_document, Strategy) else ""
    strategies = [with_params(document, p, catalogue, file or "<sweep>") for p in combos]

    first = strategies[0]
    asset = asset or (first.assets[0] if first.assets else None)
    start, end = utc(start), utc(end)
    timeframe = candle_timeframe(first)
    step = every or timedelta(seconds=timeframe)
    _check_input(start, end, step, "next_open", (asset,) if asset else ())
    assert asset is not None
    bars = Bars.load(store, asset, timeframe, venues)
    _check_coverage({asset: bars}, start, end)
    moments = list(simulated_times(start, end, step))
    times = np.array([m.timestamp() for m in moments], dtype=np.float64)
    curve_times = [start, *(m + step for m in moments)]
    per_year = periods_per_year(step)

    # ``vectorized.screen`` per combination, with the inputs shared between combinations that
    # read the same metrics (a changed threshold changes no input): the adapter path, which asks
    # the adapters once per bar, then runs once per distinct set of requests instead of per row.
    adapters: dict[str, Any] | None = None
    inputs_cache: dict[Any, Any] = {}
    rows = []
    for params, strategy in zip(combos, strategies, strict=True):
        key = strategy.tree.requests(asset)
        if key not in inputs_cache:
            if all(m.source == SOURCE for m in strategy.tree.metrics):  # as screen()
                inputs_cache[key] = technical_inputs(store, strategy, asset, times, venues=venues)
            else:
                adapters = adapters or registry.replay_adapters(store, venues)
                inputs_cache[key] = inputs_from_adapters(strategy, asset, times, adapters)
        result = evaluate_series(strategy.tree, inputs_cache[key], times)
        sim = simulate(
            result.verdicts,
            times,
            bars,
            step.total_seconds(),
            fee_bps=float(fee_bps),
            slippage_bps=float(slippage_bps),
        )
        values = [STARTING_CASH, *map(float, sim.equity)]
        closed = [t for t in sim.trades if t.closed]
        wins = sum(1 for t in closed if (t.pnl or 0.0) > 0)
        rows.append(
            SweepRow(
                params=dict(params),
                strategy=strategy,
                times=times,
                verdicts=result.verdicts,
                trades=sim.trades,
                equity=sim.equity,
                total_return=total_return(values),
                max_drawdown=max_drawdown(curve_times, values).depth,
                sharpe=sharpe(period_returns(values), per_year),
                win_rate=WinRate.of(wins, len(closed)),
                exposure=exposure(sim.held.tolist()),
                blocked=int(np.count_nonzero(result.verdicts == BLOCKED)),
                fees=sim.fees,
            )
        )
    return rows


def describe_period(start: datetime, end: datetime, every: timedelta) -> str:
    """``2022-01-01 .. 2024-12-31 every 1d``."""
    return f"{start:%Y-%m-%d} .. {end:%Y-%m-%d} every {format_duration(every.total_seconds())}"
