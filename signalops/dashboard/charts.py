"""The price and indicator chart of a decision: what a trader checks before approving it.

From an (expanded) decision record: the asset's candles up to the decision, the decision time
marked with the order's price, and each technical indicator the strategy read (``rsi(14)``,
``sma(20)``...) computed at every candle exactly as the technical adapter computes it at a
decision time (the same TA-Lib function over the same last ``max(needed, 250)`` closed candles,
``signalops.adapters.technical``), so the line meets the value the record holds at the
decision. A condition with a constant threshold (``rsi(14) < 35``) is a level on its pane.

The candles come from the candle feed the decision's data came from: the replay snapshots when
the dashboard replays (``SIGNALOPS_REPLAY``), else the asset's venue. A few candles after the
decision, up to the dashboard's clock, show what the price did while the order waited.

No Streamlit and no plotly here: ``signalops.dashboard.figures`` draws a ``DecisionChart``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from signalops.adapters.technical import INDICATORS, Candles, bars_needed
from signalops.catalogue.builtin import TECHNICAL
from signalops.catalogue.spec import format_duration
from signalops.dashboard.tables import parse_iso
from signalops.errors import SignalOpsError

SOURCE = "technical"
SHOW_BARS = 90  # candles before the decision
AFTER_BARS = 10  # at most this many after it, up to the dashboard's clock
DEFAULT_TIMEFRAME = 86400  # a strategy without technical conditions: daily candles
MIN_BARS = 250  # the adapter computes every indicator on at least this many candles
# Indicators in the price's own units: drawn over the candles, not in a pane of their own.
PRICE_LEVEL = frozenset(
    {"open", "high", "low", "close", "sma", "ema", "bb_upper", "bb_middle", "bb_lower"}
)
_PANE_OF = {"macd": "MACD", "macd_signal": "MACD", "macd_hist": "MACD"}

Params = tuple[tuple[str, Any], ...]
# (asset, timeframe in seconds, until in Unix seconds, bars) -> the closed candles
CandleSource = Callable[[str, int, float, int], Candles]


@dataclass(frozen=True)
class Indicator:
    """One technical metric with its parameters (as the record's observation holds them)."""

    metric: str
    params: Params

    @property
    def timeframe(self) -> int:
        return int(dict(self.params).get("timeframe", DEFAULT_TIMEFRAME))

    @property
    def bars(self) -> int:
        """Candles the adapter computes it on (and the fewest it needs)."""
        return max(bars_needed(self.metric, dict(self.params)), MIN_BARS)

    def label(self, main_timeframe: int) -> str:
        """``rsi(14)``, ``bb_lower(20, 2)``, ``return(3d)``; ``[1h]`` when not the chart's
        timeframe."""
        spec = TECHNICAL.get(self.metric)
        given = dict(self.params)
        args = []
        for param in spec.params if spec is not None else ():
            if param.name != "timeframe" and param.name in given:
                args.append(param.render(given[param.name]))
        text = f"{self.metric}({', '.join(args)})" if args else self.metric
        if self.timeframe != main_timeframe:
            text += f" [{format_duration(self.timeframe)}]"
        return text


@dataclass(frozen=True)
class Level:
    """A constant threshold of a condition, e.g. 35 of ``rsi(14) < 35``; ``status``: the
    condition's at the decision."""

    value: float
    condition: str
    status: str | None


@dataclass(frozen=True)
class Line:
    """An indicator at each candle: ``times`` are the candles' close times (when each value
    was known); ``recorded`` is the value the record holds, known at ``recorded_at``."""

    indicator: Indicator
    label: str
    times: tuple[datetime, ...]
    values: tuple[float | None, ...]
    recorded: float | None
    recorded_at: datetime | None
    levels: tuple[Level, ...] = ()


@dataclass(frozen=True)
class Pane:
    """A pane below the price: one indicator (or MACD's three lines) and its levels."""

    title: str
    lines: tuple[Line, ...]
    percent: bool = False  # ``return`` is a fraction: the axis reads in %

    @property
    def levels(self) -> tuple[Level, ...]:
        return tuple(level for line in self.lines for level in line.levels)


@dataclass(frozen=True)
class Bars:
    """The candles shown: close times (UTC) and prices, oldest first."""

    close_time: tuple[datetime, ...]
    open: tuple[float, ...]
    high: tuple[float, ...]
    low: tuple[float, ...]
    close: tuple[float, ...]
    timeframe: int

    def __len__(self) -> int:
        return len(self.close_time)


@dataclass(frozen=True)
class DecisionChart:
    asset: str
    action: str | None  # BUY, SELL, or None (HOLD, BLOCKED)
    decided_at: datetime
    price: float | None  # the order's reference price
    bars: Bars
    overlays: tuple[Line, ...]  # price-level indicators, drawn over the candles
    price_levels: tuple[Level, ...]  # constant thresholds on the price itself
    panes: tuple[Pane, ...]
    problems: tuple[str, ...] = ()  # what could not be drawn, and why


@dataclass(frozen=True)
class Plan:
    """What a decision's chart needs, read from its record alone."""

    asset: str
    action: str | None
    decided_at: datetime
    price: float | None
    timeframe: int  # the price pane's
    indicators: tuple[Indicator, ...]
    recorded: Mapping[Indicator, tuple[float | None, datetime | None]]
    levels: Mapping[Indicator, tuple[Level, ...]]

    def end(self, until: datetime) -> datetime:
        """The last candle shown closes by then: ``AFTER_BARS`` candles after the decision, no
        later than the dashboard's clock, and never before the decision itself (a replayed
        decision can be later than a fixed clock; the data it read exists all the same)."""
        after = self.decided_at + timedelta(seconds=AFTER_BARS * self.timeframe)
        return max(self.decided_at, min(until, after))

    def fetches(self, until: datetime) -> dict[int, tuple[float, int]]:
        """Per timeframe: (up to when, how many candles) to ask the feed for. Each indicator
        needs its own ``bars`` before the first candle shown."""
        end = self.end(until)
        wanted: dict[int, int] = {self.timeframe: SHOW_BARS + AFTER_BARS}
        for indicator in self.indicators:
            frame = indicator.timeframe
            span = (SHOW_BARS + AFTER_BARS) * self.timeframe // frame + indicator.bars
            wanted[frame] = max(wanted.get(frame, 0), span)
        return {frame: (end.timestamp(), bars) for frame, bars in wanted.items()}


def plan(record: Mapping[str, Any]) -> Plan:
    """The chart's plan: the asset, the decision, its technical indicators and thresholds."""
    asset = str(record["asset"])
    observed = [
        o
        for o in record.get("observations") or []
        if o.get("source") == SOURCE and o.get("asset") == asset and o.get("metric") in INDICATORS
    ]
    indicators: list[Indicator] = []
    recorded: dict[Indicator, tuple[float | None, datetime | None]] = {}
    for item in observed:
        indicator = Indicator(str(item["metric"]), _params(item.get("params") or {}))
        if indicator not in recorded:
            indicators.append(indicator)
            stamp = item.get("data_time")
            value = item.get("value")
            recorded[indicator] = (
                float(value) if isinstance(value, int | float) else None,
                parse_iso(stamp) if isinstance(stamp, str) else None,
            )
    frames = Counter(i.timeframe for i in indicators)
    timeframe = frames.most_common(1)[0][0] if frames else DEFAULT_TIMEFRAME
    order = record.get("order") or {}
    price = order.get("reference_price")
    return Plan(
        asset=asset,
        action=order.get("side") or record.get("action"),
        decided_at=parse_iso(str(record["as_of"])),
        price=float(price) if price is not None else None,
        timeframe=timeframe,
        indicators=tuple(indicators),
        recorded=recorded,
        levels=_levels(record, set(indicators)),
    )


def _params(params: Mapping[str, Any]) -> Params:
    return tuple(sorted(params.items()))


def _levels(record: Mapping[str, Any], known: set[Indicator]) -> dict[Indicator, tuple[Level, ...]]:
    """Constant thresholds of the technical conditions: a leaf that reads one indicator and
    compares it with a number (or two, ``between``). A threshold that reads another metric
    (``close > sma(20)``) moves with it: that metric is drawn instead."""
    found: dict[Indicator, tuple[Level, ...]] = {}
    for leaf in (record.get("trace") or {}).get("leaves", []):
        readings = leaf.get("readings") or []
        if leaf.get("source") != SOURCE or len(readings) != 1:
            continue
        indicator = _indicator_of(readings[0])
        threshold = leaf.get("threshold_value")
        values = threshold if isinstance(threshold, list) else [threshold]
        if indicator not in known or not all(isinstance(v, int | float) for v in values):
            continue
        text, status = str(leaf.get("text") or ""), leaf.get("status")
        found[indicator] = found.get(indicator, ()) + tuple(
            Level(float(v), text, status) for v in values
        )
    return found


def _indicator_of(reading: Mapping[str, Any]) -> Indicator | None:
    """A leaf's reading as the observation names it: parameters as the catalogue coerces
    them (``'1d'`` -> 86400), so the two meet."""
    metric = str(reading.get("metric"))
    spec = TECHNICAL.get(metric)
    if spec is None:
        return None
    params = {}
    for name, value in (reading.get("params") or {}).items():
        param = spec.param(name)
        try:
            params[name] = param.coerce(value) if param is not None else value
        except ValueError:
            return None
    return Indicator(metric, _params(params))


# --- from candles to the chart -------------------------------------------------------------------


def build(plan: Plan, candles: Mapping[int, Candles | str], until: datetime) -> DecisionChart:
    """The chart of ``plan`` from the candles of each timeframe (``fetches``); a timeframe
    whose candles could not be had is the text of why (its indicators are left out and say
    so). Raises ``LookupError`` when the price itself has no candles."""
    main = candles.get(plan.timeframe)
    if not isinstance(main, Candles) or not len(main):
        raise LookupError(main if isinstance(main, str) else f"no candles for {plan.asset}")
    first = _first_shown(main, plan.decided_at)
    end = plan.end(until)
    bars = _bars(main, first, end)
    since = bars.close_time[0] if len(bars) else plan.decided_at
    overlays: list[Line] = []
    panes: dict[str, list[Line]] = {}
    problems: list[str] = []
    for indicator in plan.indicators:
        source = candles.get(indicator.timeframe)
        label = indicator.label(plan.timeframe)
        if not isinstance(source, Candles):
            problems.append(f"{label}: {source or 'no candles'}")
            continue
        line = _line(plan, indicator, label, source, since, end)
        if indicator.metric in PRICE_LEVEL:
            overlays.append(line)
        else:
            title = _PANE_OF.get(indicator.metric, label)
            panes.setdefault(title, []).append(line)
    price_levels = tuple(level for line in overlays for level in line.levels)
    return DecisionChart(
        asset=plan.asset,
        action=plan.action,
        decided_at=plan.decided_at,
        price=plan.price,
        bars=bars,
        overlays=tuple(line for line in overlays if line.indicator.metric != "close"),
        price_levels=price_levels,
        panes=tuple(
            Pane(title, tuple(lines), percent=all(ln.indicator.metric == "return" for ln in lines))
            for title, lines in panes.items()
        ),
        problems=tuple(problems),
    )


def _first_shown(candles: Candles, decided_at: datetime) -> int:
    """Index of the first candle shown: ``SHOW_BARS`` candles up to the decision."""
    at = decided_at.timestamp()
    last = sum(1 for t in candles.close_time if t <= at)
    return max(0, last - SHOW_BARS)


def _bars(candles: Candles, first: int, end: datetime) -> Bars:
    stop = end.timestamp()
    index = [i for i in range(first, len(candles)) if candles.close_time[i] <= stop]
    return Bars(
        close_time=tuple(_utc(candles.close_time[i]) for i in index),
        open=tuple(float(candles.open[i]) for i in index),
        high=tuple(float(candles.high[i]) for i in index),
        low=tuple(float(candles.low[i]) for i in index),
        close=tuple(float(candles.close[i]) for i in index),
        timeframe=candles.timeframe,
    )


def _line(
    plan: Plan,
    indicator: Indicator,
    label: str,
    candles: Candles,
    since: datetime,
    end: datetime,
) -> Line:
    """The indicator at each candle closed in [since, end], each from the last ``bars``
    candles up to it, as the adapter would have computed it at that candle's close."""
    params = dict(indicator.params)
    needed = bars_needed(indicator.metric, params)
    compute = INDICATORS[indicator.metric]
    times, values = [], []
    start, stop = since.timestamp(), end.timestamp()
    for i, t in enumerate(candles.close_time):
        if not start <= t <= stop:
            continue
        window = candles.window(max(0, i + 1 - indicator.bars), i + 1)
        value = compute(window, params) if len(window) >= needed else None
        times.append(_utc(t))
        values.append(value if value is not None and value == value else None)  # NaN: none
    recorded, recorded_at = plan.recorded.get(indicator, (None, None))
    return Line(
        indicator=indicator,
        label=label,
        times=tuple(times),
        values=tuple(values),
        recorded=recorded,
        recorded_at=recorded_at,
        levels=plan.levels.get(indicator, ()),
    )


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def fetch(plan: Plan, source: CandleSource, until: datetime) -> dict[int, Candles | str]:
    """The candles of each timeframe the plan needs; a timeframe the feed could not give
    (no recorded series, no venue, the network) is the message saying why."""
    found: dict[int, Candles | str] = {}
    for frame, (end, bars) in plan.fetches(until).items():
        try:
            found[frame] = source(plan.asset, frame, end, bars)
        except SignalOpsError as exc:
            found[frame] = str(exc)
    return found


def values_at(line: Line, moment: datetime) -> float | None:
    """The line's value at the candle closed at ``moment`` (None when there is none)."""
    for t, value in zip(line.times, line.values, strict=True):
        if t == moment:
            return value
    return None


__all__ = [
    "Bars",
    "CandleSource",
    "DecisionChart",
    "Indicator",
    "Level",
    "Line",
    "Pane",
    "Plan",
    "build",
    "fetch",
    "plan",
    "values_at",
]
