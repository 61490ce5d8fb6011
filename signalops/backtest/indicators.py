"""The strategy's technical indicators as chart panes: which lines, which thresholds, what values.

What to draw comes from the compiled tree: each leaf whose metrics are all technical (``rsi(14) <
30``, ``close < sma(20) * 0.95``) gives a line per side that reads a metric, and a threshold line
per side that is a constant (both bounds of ``between``). Lines go to a pane by the scale they
live on: moving averages, Bollinger bands and candle prices over the price itself, RSI, MACD,
ATR, volume z-scores and returns each in a pane of their own below it.

The values are what the decisions saw, not a look-alike: each candle's value comes from the
technical adapter's own function (``technical.INDICATORS``, the same TA-Lib call) on the same
window of candles the adapter reads at that candle's close (the last ``max(250, bars_needed)``
closed candles), so recursive indicators (RSI, EMA, ATR, MACD) carry the adapter's warm-up too,
and a candle with too little history is a gap, as it is UNKNOWN in the trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import INDICATORS, SOURCE, Candles, bars_needed
from signalops.backtest.bars import Bars
from signalops.catalogue.spec import format_duration
from signalops.evaluation.nodes import (
    Arith,
    Const,
    Metric,
    Neg,
    Node,
    Operand,
    Predicate,
    operand_metrics,
    operand_value,
    render_operand,
)
from signalops.evaluation.tree import DecisionTree
from signalops.evaluation.vectorized import candle_key
from signalops.venues import Venues

PRICE = "price"
# Metrics on the price's own scale: drawn over the closes, not in a pane of their own.
_ON_PRICE = frozenset({"open", "high", "low", "close", "sma", "ema", "bb_upper", "bb_middle",
                       "bb_lower"})  # fmt: skip
# Metrics the backtest's bars (opens and closes) cannot give: they need the whole candles.
_NEED_CANDLES = frozenset({"high", "low", "volume", "atr", "volume_z"})
# What the adapter computes at a candle from the candles before it (``_metric_values``).
_WINDOWED = frozenset(INDICATORS) - {"open", "high", "low", "close", "volume"}

ENTRY, EXIT, VETO = "entry", "exit", "veto"

CandleSource = Callable[[str, int], Candles | None]
"""``(asset, timeframe seconds) -> every recorded candle, oldest first``; None when none is."""


@dataclass(frozen=True)
class Line:
    """One side of a leaf that reads technical metrics: ``sma(20) * 0.95``."""

    label: str
    operand: Operand
    timeframe: int


@dataclass(frozen=True)
class Threshold:
    """A leaf's constant side: the level its line is compared with (``low`` = ``high`` but for
    ``between``)."""

    low: float
    high: float
    label: str  # the rule and the leaf as written: ``rsi_oversold: rsi(14) < 30``
    role: str  # ENTRY, EXIT or VETO


@dataclass(frozen=True)
class Pane:
    key: str  # PRICE, or the indicator family: rsi, macd, atr, return, ...
    lines: tuple[Line, ...]
    thresholds: tuple[Threshold, ...]

    @property
    def title(self) -> str:
        return ", ".join(line.label for line in self.lines) or self.key

    @property
    def percent(self) -> bool:
        """Returns are fractions: the axis reads them as percentages."""
        return self.key == "return"


@dataclass(frozen=True)
class Layout:
    """The panes of a strategy and the leaves they leave out (other sources' data)."""

    panes: tuple[Pane, ...]  # the PRICE pane first when there is one
    left_out: tuple[str, ...]  # leaves reading other sources, as written

    def pane(self, key: str) -> Pane | None:
        return next((pane for pane in self.panes if pane.key == key), None)

    @property
    def below(self) -> tuple[Pane, ...]:
        """The panes under the price."""
        return tuple(pane for pane in self.panes if pane.key != PRICE)


def layout(tree: DecisionTree, timeframe: int) -> Layout:
    """The panes of ``tree``'s technical leaves, in the order the strategy states them (entry,
    exit, vetoes). ``timeframe``: the backtest's candles; lines of another timeframe say theirs.
    """
    lines: dict[str, dict[tuple[Operand, int], Line]] = {}
    thresholds: dict[str, list[Threshold]] = {}
    left_out: list[str] = []
    for leaf, role, rule in _leaves(tree):
        if not leaf.metrics or not all(_drawable(m) for m in leaf.metrics):
            if leaf.metrics:
                left_out.append(leaf.text)
            continue
        sides = (leaf.left, *leaf.right)
        moving = [side for side in sides if any(operand_metrics(side))]
        keys = [_family(side) for side in moving]
        for side, key in zip(moving, keys, strict=True):
            tf = _timeframe(side)
            if tf is None:  # metrics of several timeframes in one expression: not one line
                left_out.append(leaf.text)
                continue
            label = render_operand(side) + ("" if tf == timeframe else f" ({format_duration(tf)})")
            lines.setdefault(key, {}).setdefault((side, tf), Line(label, side, tf))
        levels = [operand_value(side, {}) for side in sides if not any(operand_metrics(side))]
        if len(keys) == 1 and levels and all(v is not None for v in levels):
            found = [v for v in levels if v is not None]
            label = f"{rule}: {leaf.text}" if rule else leaf.text
            thresholds.setdefault(keys[0], []).append(
                Threshold(min(found), max(found), label, role)
            )
    order = sorted(lines, key=lambda key: key != PRICE)  # stable: the price pane first
    panes = tuple(
        Pane(key, tuple(lines[key].values()), tuple(thresholds.get(key, ()))) for key in order
    )
    return Layout(panes, tuple(dict.fromkeys(left_out)))


def merged(layouts: Sequence[tuple[str, Layout]]) -> Layout:
    """The panes of several strategies' ``(name, layout)`` run together on one asset: one pane
    per indicator family (the PRICE pane first), each line once, each threshold and each leaf
    left out named with its strategy (``Technical_Baseline · rsi_oversold: rsi(14) < 30``)."""
    lines: dict[str, dict[tuple[Operand, int], Line]] = {}
    thresholds: dict[str, list[Threshold]] = {}
    left_out: list[str] = []
    for name, found in layouts:
        for pane in found.panes:
            kept = lines.setdefault(pane.key, {})
            for line in pane.lines:
                kept.setdefault((line.operand, line.timeframe), line)
            thresholds.setdefault(pane.key, []).extend(
                replace(t, label=f"{name} · {t.label}") for t in pane.thresholds
            )
        left_out += [f"{name} · {text}" for text in found.left_out]
    order = sorted(lines, key=lambda key: key != PRICE)
    panes = tuple(
        Pane(key, tuple(lines[key].values()), tuple(thresholds.get(key, ()))) for key in order
    )
    return Layout(panes, tuple(left_out))


def _leaves(tree: DecisionTree) -> Iterator[tuple[Predicate, str, str | None]]:
    """Each leaf with its role and the id of the rule (or veto) it belongs to."""
    roots: list[tuple[Node, str, str | None]] = [(tree.entry, ENTRY, None)]
    if tree.exit is not None:
        roots.append((tree.exit, EXIT, None))
    roots += [(veto.node, VETO, veto.id) for veto in tree.vetoes]
    for root, role, veto_id in roots:
        for node in root.walk():
            if isinstance(node, Predicate):
                yield node, role, veto_id or node.rule


def _drawable(metric: Metric) -> bool:
    """A technical metric the adapter computes from candles of one timeframe."""
    return (
        metric.source == SOURCE and metric.name in INDICATORS and "timeframe" in dict(metric.params)
    )


def _family(operand: Operand) -> str:
    name = next(operand_metrics(operand)).name
    if name in _ON_PRICE:
        return PRICE
    return "macd" if name.startswith("macd") else name


def _timeframe(operand: Operand) -> int | None:
    found = {int(dict(m.params)["timeframe"]) for m in operand_metrics(operand)}
    return found.pop() if len(found) == 1 else None


# --- values ------------------------------------------------------------------------------------


def needs_candles(line: Line) -> bool:
    """Whether the line needs highs, lows or volumes, which the backtest's bars do not hold."""
    return any(m.name in _NEED_CANDLES for m in operand_metrics(line.operand))


def values(
    line: Line, candles: Candles, start: datetime, end: datetime
) -> tuple[list[datetime], list[float | None]]:
    """The line at each candle closing in ``[start, end]``, and at the last one before
    ``start`` (the value in force at the start): close times and values, None where the
    adapter would have had no value (too little history, undefined)."""
    times = candles.close_time
    lo = max(int(np.searchsorted(times, start.timestamp(), side="right")) - 1, 0)
    hi = int(np.searchsorted(times, end.timestamp(), side="right"))
    found = _evaluate(line.operand, candles, lo, hi)
    moments = [datetime.fromtimestamp(float(t), UTC) for t in times[lo:hi]]
    return moments, [float(v) if math.isfinite(v) else None for v in found.tolist()]


def _evaluate(operand: Operand, candles: Candles, lo: int, hi: int) -> np.ndarray:
    """The operand over candles ``lo..hi-1``, as the scalar evaluator computes it at each."""
    if isinstance(operand, Const):
        return np.full(hi - lo, operand.value)
    if isinstance(operand, Metric):
        return _metric_values(operand, candles, lo, hi)
    if isinstance(operand, Neg):
        return -_evaluate(operand.operand, candles, lo, hi)
    assert isinstance(operand, Arith)
    left = _evaluate(operand.left, candles, lo, hi)
    right = _evaluate(operand.right, candles, lo, hi)
    with np.errstate(all="ignore"):
        if operand.op == "/":
            result = np.where(right != 0, left / np.where(right != 0, right, 1.0), np.nan)
        else:
            result = {"+": np.add, "-": np.subtract, "*": np.multiply}[operand.op](left, right)
    return np.where(np.isfinite(result), result, np.nan)


def _metric_values(metric: Metric, candles: Candles, lo: int, hi: int) -> np.ndarray:
    params = dict(metric.params)
    if metric.name not in _WINDOWED:  # a candle field: the candle's own value
        return np.asarray(getattr(candles, metric.name)[lo:hi], dtype=float)
    compute = INDICATORS[metric.name]
    needed = bars_needed(metric.name, params)
    bars = max(needed, 250)  # the adapter's window (TechnicalAdapter.observe)
    out = np.full(hi - lo, np.nan)
    for k, end in enumerate(range(lo + 1, hi + 1)):
        if end < needed:
            continue
        value = compute(candles.window(max(0, end - bars), end), params)
        if math.isfinite(value):
            out[k] = value
    return out


# --- where candles come from -------------------------------------------------------------------


def store_candles(store: SnapshotStore, venues: Venues | None = None) -> CandleSource:
    """Candles from the replay store, from the series the technical adapter reads (the venue
    that serves the asset, as ``candle_key`` names it)."""

    def find(asset: str, timeframe: int) -> Candles | None:
        key = candle_key(asset, timeframe, venues)
        series = None if key is None else store.series(SOURCE, key)
        if series is None or len(series) == 0:
            return None
        o, h, low, c, v = (series.column(i) for i in range(5))
        return Candles(series.time_array, o, h, low, c, v, timeframe)

    return find


def bars_candles(prices: Mapping[str, Bars]) -> CandleSource:
    """Candles made of the backtest's own bars (the same series' opens and closes): enough for
    every indicator of closes (RSI, moving averages, MACD, Bollinger bands, returns) at the
    backtest's timeframe. Highs, lows and volumes are unknown (NaN): ``needs_candles`` lines
    are left out rather than drawn from them."""

    def find(asset: str, timeframe: int) -> Candles | None:
        bars = prices.get(asset)
        if bars is None or bars.timeframe != timeframe:
            return None
        unknown = np.full(len(bars), np.nan)
        return Candles(bars.close_time, bars.open, unknown, unknown, bars.close, unknown, timeframe)

    return find
