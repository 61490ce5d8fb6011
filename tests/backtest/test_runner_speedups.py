"""The shortcuts of a backtest's accounting give, to the last digit, what the plain
computations they replace give.

Each is checked against the general way, written out here as it was (or as the definition
reads): closes at many moments against ``Bars.close_at`` at each, buy-and-hold against valuing
the held assets mark by mark, a summary against the list comprehensions and the Python
definition of the Sortino ratio, the candles' close times against ``datetime.fromtimestamp``,
the windows' gaps against ``Candles.gaps`` window by window, the replay clock's times against
adding each step, the legs and the filter accounting against a map of every decision and a
``dataclasses.replace`` of a bare counterfactual. Decimals are compared by ``repr`` (their
exponent too: ``Decimal("1.0")`` and ``Decimal("1.00")`` print differently), floats by bits.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.backtest.answers import _History, _whole_second_moments
from signalops.backtest.bars import NEXT_CLOSE, NEXT_OPEN, Bars
from signalops.backtest.clock import epoch_seconds
from signalops.backtest.filters import Counterfactual, account, play_out
from signalops.backtest.ledger import Decision, EquityPoint, Leg, parse_time
from signalops.backtest.metrics import (
    Metrics,
    WinRate,
    _excess,
    cagr,
    equity_values,
    exposure,
    max_drawdown,
    period_returns,
    periods_per_year,
    sharpe,
    sortino,
    summarize,
    summarize_columns,
    total_return,
)
from signalops.backtest.runner import _accounted, _benchmark_fees, _hold, _legs, buy_and_hold
from signalops.canonical import iso
from signalops.config import Config, PaperConfig
from signalops.errors import InputError
from signalops.orders import Side, to_decimal
from signalops.pipeline import records_of_kind
from signalops.pipeline.loop import simulated_times
from signalops.strategy import loads

HOUR = 3600
T0 = datetime(2024, 1, 1, tzinfo=UTC)
BPS = Decimal(10_000)
DAY_HORIZON = timedelta(hours=72)
PAPER = PaperConfig(starting_cash=Decimal("10000"), fee_bps=Decimal(25), slippage_bps=Decimal(8))

TWO_ASSETS = """
strategy:
  name: "Two_Rsi"
  assets: ["BTC", "ETH"]
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 40"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14) > 50"
  execution:
    position_size: 0.05
    action_mode: paper
"""


def exact(values: Sequence[Any]) -> list[str]:
    """Each value's repr: Decimals with their exponent, floats to the last bit."""
    return [repr(v) for v in values]


def points(curve: Sequence[EquityPoint]) -> list[tuple[str, str, str, bool]]:
    return [(iso(p.time), repr(p.equity), repr(p.cash), p.held) for p in curve]


def bits(value: float | None) -> bytes | None:
    return None if value is None else struct.pack("<d", value)


def hourly(closes: Sequence[float], missing: Sequence[int] = (), start: float = 1.7e9) -> Bars:
    """Hourly bars whose k-th candle closes at ``start + k`` hours, without the ``missing`` ks
    (gaps in the candles); each opens at the close before it."""
    kept = [k for k in range(len(closes)) if k not in set(missing)]
    close_time = np.array([start + k * HOUR for k in kept], dtype=np.float64)
    close = np.array([closes[k] for k in kept], dtype=np.float64)
    opened = np.concatenate(([close[0]], close[:-1])) if len(close) else close
    return Bars("X", HOUR, close_time, opened, close)


# Closes whose shortest text takes every form: many digits, exponents, whole numbers.
AWKWARD = [0.1 + 0.2, 1e-7, 1.5e16, 123456789.123, 42.0, 3e-5, 2.5, 1 / 3, 97.125, 1e22]


# --- closes at many moments ----------------------------------------------------------------------


def test_closes_at_many_moments_are_close_at_each_before_between_on_and_after_the_bars():
    bars = hourly([float(k) * 1.1 + 0.01 for k in range(40)], missing=(3, 4, 5, 17))
    first = datetime.fromtimestamp(float(bars.close_time[0]), UTC)
    moments = [first + timedelta(minutes=37 * k - 200) for k in range(120)]
    moments += [moments[10], moments[3], first, first - timedelta(microseconds=1)]  # any order
    expected = [None if (f := bars.close_at(m)) is None else f[0] for m in moments]
    assert exact(bars.closes_at(moments)) == exact(expected)
    zero = Decimal("0.00")  # what a moment before the first bar gets when asked
    with_zero = [zero if close is None else close for close in expected]
    assert exact(bars.closes_at(moments, before=zero)) == exact(with_zero)


def test_closes_at_gives_to_decimal_of_closes_of_every_form_and_nothing_for_no_moments():
    bars = hourly(AWKWARD)
    moments = [datetime.fromtimestamp(float(t), UTC) for t in bars.close_time]
    assert exact(bars.closes_at(moments)) == exact([to_decimal(c) for c in AWKWARD])
    assert bars.closes_at([]) == []


def test_closes_at_on_bars_without_candles_is_before_at_every_moment_as_close_at_says_none():
    bars = hourly([])
    moments = [T0 + timedelta(minutes=30 * k) for k in range(5)]
    assert [bars.close_at(m) for m in moments] == [None] * 5  # the old way, moment by moment
    assert bars.closes_at(moments) == [None] * 5
    zero = Decimal("0.00")
    assert exact(bars.closes_at(moments, before=zero)) == exact([zero] * 5)
    assert bars.closes_at([], before=zero) == []


@settings(max_examples=60, deadline=None)
@given(
    closes=st.lists(st.floats(1e-9, 1e12, allow_nan=False), min_size=1, max_size=30),
    offsets=st.lists(st.integers(-5 * HOUR, 40 * HOUR), max_size=60),
)
def test_closes_at_is_close_at_for_any_closes_and_moments(closes: list[float], offsets: list[int]):
    bars = hourly(closes, missing=range(1, len(closes), 4))
    first = datetime.fromtimestamp(float(bars.close_time[0]), UTC)
    moments = [first + timedelta(seconds=s) for s in offsets]
    expected = [None if (f := bars.close_at(m)) is None else f[0] for m in moments]
    assert exact(bars.closes_at(moments)) == exact(expected)


# --- buy and hold --------------------------------------------------------------------------------


def held_mark_by_mark(
    prices: dict[str, Bars],
    times: Sequence[datetime],
    step: timedelta,
    paper: PaperConfig,
    fill: str = NEXT_OPEN,
) -> tuple[EquityPoint, ...]:
    """Buy-and-hold as its definition reads: bought at the first fill, each mark valued asset
    by asset at its last close (``close_at``); an asset not bought yet by the mark, or without
    a close by then, counts as what buying it cost; held from the first purchase on."""
    if not times:
        return ()
    slip, fee = paper.slippage_bps / BPS, paper.fee_bps / BPS
    share = paper.starting_cash / len(prices)
    cash, holdings = paper.starting_cash, {}
    for asset, bars in prices.items():
        try:
            base, bought_at = bars.hold_entry(fill, times[0])
        except LookupError:
            return ()
        price = base * (1 + slip)
        quantity = share / (price * (1 + fee))
        holdings[asset] = (quantity, quantity * price * (1 + fee), bought_at)
        cash -= holdings[asset][1]
    curve = [EquityPoint(times[0], paper.starting_cash, paper.starting_cash, held=False)]
    for moment in times:
        at, value = moment + step, cash
        for asset, (quantity, cost, bought_at) in holdings.items():
            found = prices[asset].close_at(at)
            value += cost if at < bought_at or found is None else quantity * found[0]
        held = any(at >= bought_at for _, _, bought_at in holdings.values())
        curve.append(EquityPoint(at, value, cash, held))
    return tuple(curve)


def test_buy_and_hold_of_one_asset_with_gaps_is_valued_mark_by_mark():
    bars = hourly([100.0 + k * 0.37 for k in range(60)], missing=(5, 6, 30))
    start = datetime.fromtimestamp(float(bars.close_time[0]), UTC)
    for step in (timedelta(minutes=20), timedelta(hours=1), timedelta(hours=5)):
        times = list(simulated_times(start, start + timedelta(hours=50), step))
        for fill in (NEXT_OPEN, NEXT_CLOSE):
            found = buy_and_hold({"X": bars}, times, step, PAPER, fill)
            assert points(found) == points(held_mark_by_mark({"X": bars}, times, step, PAPER, fill))


def test_buy_and_hold_of_several_assets_one_not_bought_or_closed_yet_counts_at_its_cost():
    early = hourly([50.0 + k for k in range(48)])
    late = replace(hourly([7.25 * (k % 5 + 1) for k in range(48)], missing=(9,)), asset="Y")
    late = replace(late, close_time=late.close_time + 3 * HOUR)  # its first close is 3h later
    prices = {"X": early, "Y": late}
    start = datetime.fromtimestamp(float(early.close_time[0]), UTC) - timedelta(hours=2)
    times = list(simulated_times(start, start + timedelta(hours=30), timedelta(hours=1)))
    found = buy_and_hold(prices, times, timedelta(hours=1), PAPER)
    assert late.close_at(found[4].time) is None and early.close_at(found[4].time) is not None
    assert points(found) == points(held_mark_by_mark(prices, times, timedelta(hours=1), PAPER))
    # Before Y has a close its part is the cash it cost, not zero: the hold never drops to
    # about half its value at the start (as when a missing close counted as nothing).
    unpriced = [p for p in found[1:] if late.close_at(p.time) is None]
    assert unpriced and min(p.equity for p in unpriced) > PAPER.starting_cash * Decimal("0.9")


def test_buy_and_hold_bought_after_the_first_decision_is_the_starting_cash_until_it_is_bought():
    bars = hourly([20.0 + k for k in range(30)])
    first_open = datetime.fromtimestamp(float(bars.close_time[0]), UTC) - timedelta(hours=1)
    start = first_open - timedelta(hours=6)  # six hours before there is any data
    times = list(simulated_times(start, start + timedelta(hours=20), timedelta(hours=1)))
    found = buy_and_hold({"X": bars}, times, timedelta(hours=1), PAPER)
    before = [p for p in found if p.time <= first_open]
    assert len(before) == 7 and {p.equity for p in before} == {PAPER.starting_cash}
    assert points(found) == points(held_mark_by_mark({"X": bars}, times, timedelta(hours=1), PAPER))


def test_buy_and_hold_without_a_price_at_the_first_decision_or_without_times_is_empty():
    bars = hourly([1.0, 2.0, 3.0])
    after = datetime.fromtimestamp(float(bars.close_time[-1]), UTC)
    assert buy_and_hold({"X": bars}, [after], timedelta(hours=1), PAPER) == ()
    assert buy_and_hold({"X": bars}, [], timedelta(hours=1), PAPER) == ()


def test_buy_and_hold_of_the_recorded_btc_and_eth_is_valued_mark_by_mark(
    replay_store: SnapshotStore,
):
    venues = Config().venues
    prices = {asset: Bars.load(replay_store, asset, 86_400, venues) for asset in ("BTC", "ETH")}
    step = timedelta(hours=12)
    times = list(
        simulated_times(datetime(2021, 1, 1, tzinfo=UTC), datetime(2022, 6, 1, tzinfo=UTC), step)
    )
    found = buy_and_hold(prices, times, step, PAPER, NEXT_CLOSE)
    assert points(found) == points(held_mark_by_mark(prices, times, step, PAPER, NEXT_CLOSE))


# --- the summary ---------------------------------------------------------------------------------


def summary_by_hand(
    curve: Sequence[EquityPoint], trades: Sequence[Any], fees: Decimal, period: timedelta
) -> Metrics:
    """``summarize`` as written before its shortcuts: list comprehensions over the points."""
    times = [p.time for p in curve]
    values = [float(p.equity) for p in curve]
    returns = period_returns(values)
    per_year = periods_per_year(period)
    closed = [t for t in trades if t.closed]
    wins = sum(1 for t in closed if (t.pnl or 0) > 0)
    return Metrics(
        start_equity=curve[0].equity,
        end_equity=curve[-1].equity,
        total_return=total_return(values),
        cagr=cagr(values[0], values[-1], times[-1] - times[0]),
        drawdown=max_drawdown(times, values),
        sharpe=sharpe(returns, per_year),
        sortino=sortino_by_definition(returns, per_year),
        risk_free=0.0,
        periods_per_year=per_year,
        periods=len(returns),
        trades=len(closed),
        open_trades=len(trades) - len(closed),
        win_rate=WinRate.of(wins, len(closed)),
        exposure=exposure([p.held for p in curve[1:]]),
        fees=fees,
    )


# An equity curve's marks after its start (``flat_then_held``): "flat" (the starting cash,
# nothing held) or the text of a held mark's equity.
MARKS = st.lists(
    st.one_of(
        st.just("flat"),
        st.sampled_from(["10000", "10000.0", "0.5", "9999.99999999999999999999", "1E+4"]),
        st.decimals(min_value=1, max_value=50_000, places=6).map(str),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(marks=MARKS)
def test_a_summary_of_any_curve_is_the_one_by_hand(marks: list[str]):
    # Plateaus at the high, falls to a peak's level, recoveries and shared flat equities: the
    # drawdown and returns read one array of the floats, the by-hand summary the list.
    curve = flat_then_held(marks)
    found = outcome_of(summarize, curve, (), Decimal(0), timedelta(hours=1))
    assert found == outcome_of(summary_by_hand, curve, (), Decimal(0), timedelta(hours=1))


def outcome_of(compute: Any, *args: Any) -> str:
    """``repr`` of what ``compute(*args)`` gives, or the error it raises."""
    try:
        return repr(compute(*args))
    except ArithmeticError as exc:
        return type(exc).__name__


def sortino_by_definition(returns: Any, per_year: float, risk_free: float = 0.0) -> float | None:
    excess = _excess(returns, per_year, risk_free).tolist()
    if len(excess) < 2:
        return None
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in excess) / len(excess))
    if downside <= 0:
        return None
    return sum(excess) / len(excess) / downside * math.sqrt(per_year)


def flat_then_held(marks: Sequence[str]) -> list[EquityPoint]:
    """A curve whose flat stretches share one equity object, as the fast engine marks them."""
    flat = Decimal("10000")
    curve = [EquityPoint(T0, flat, flat, False)]
    for k, mark in enumerate(marks):
        held = mark != "flat"
        equity = Decimal(mark) if held else flat
        curve.append(EquityPoint(T0 + timedelta(hours=k + 1), equity, flat, held))
    return curve


def test_a_summary_of_flat_stretches_and_held_marks_is_the_one_by_hand():
    curve = flat_then_held(["flat", "flat", "10012.5", "9990.000001", "flat", "10000.0", "flat"])
    curve += flat_then_held(["10001", "flat"] * 50)[1:]
    found = summarize(curve, (), Decimal("1.5"), timedelta(hours=1))
    assert repr(found) == repr(summary_by_hand(curve, (), Decimal("1.5"), timedelta(hours=1)))


def test_a_summary_of_a_recorded_run_and_of_its_buy_and_hold_is_the_one_by_hand(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = loads(TWO_ASSETS, "two.yaml", registry.catalogue())
    result = run_backtest(
        strategy,
        store=replay_store,
        start=datetime(2021, 1, 1, tzinfo=UTC),
        end=datetime(2022, 12, 31, tzinfo=UTC),
        out_dir=tmp_path,
    )
    assert result.trades and result.metrics.exposure > 0
    fees = result.metrics.fees
    by_hand = summary_by_hand(result.equity, result.trades, fees, result.every)
    assert repr(result.metrics) == repr(by_hand)
    assert result.benchmark is not None
    held = summary_by_hand(result.buy_and_hold, (), result.benchmark.fees, result.every)
    assert repr(result.benchmark) == repr(held)


@settings(max_examples=100, deadline=None)
@given(
    marks=MARKS,
    risk_free=st.sampled_from([0.0, 0.04]),
    per_year=st.sampled_from([None, 252.0]),
)
def test_a_summary_of_columns_is_the_summary_of_the_points_made_of_them(
    marks: list[str], risk_free: float, per_year: float | None
):
    curve = flat_then_held(marks)
    times, equities = [p.time for p in curve], [p.equity for p in curve]
    held = [p.held for p in curve[1:]]
    found = outcome_of(
        lambda: summarize_columns(
            times, equities, held, (), Decimal(1), timedelta(hours=1),
            risk_free=risk_free, per_year=per_year,
        )
    )  # fmt: skip
    assert found == outcome_of(
        lambda: summarize(
            curve, (), Decimal(1), timedelta(hours=1), risk_free=risk_free, per_year=per_year
        )
    )


def test_a_summary_of_columns_needs_a_point_and_one_of_each_column_per_point():
    with pytest.raises(ValueError, match="at least its starting point"):
        summarize_columns([], [], [], (), Decimal(0), timedelta(hours=1))
    with pytest.raises(ValueError, match="one of each per point"):
        summarize_columns([T0, T0], [Decimal(1)] * 2, [True, True], (), Decimal(0), DAY_HORIZON)


def buy_and_hold_cases() -> list[tuple[dict[str, Bars], list[datetime], timedelta, str]]:
    """Buy-and-holds of one asset with gaps, of two (one with a later first close), bought
    after the first decision, at each fill rule and steps shorter and longer than a bar."""
    gaps = hourly([100.0 + k * 0.37 for k in range(60)], missing=(5, 6, 30))
    early = hourly([50.0 + k for k in range(48)])
    late = replace(hourly([7.25 * (k % 5 + 1) for k in range(48)], missing=(9,)), asset="Y")
    late = replace(late, close_time=late.close_time + 3 * HOUR)
    first = datetime.fromtimestamp(float(gaps.close_time[0]), UTC)
    cases = []
    for step in (timedelta(minutes=20), timedelta(hours=1), timedelta(hours=5)):
        for fill in (NEXT_OPEN, NEXT_CLOSE):
            for prices, start in (
                ({"X": gaps}, first),
                ({"X": early, "Y": late}, first - timedelta(hours=2)),
                ({"X": gaps}, first - timedelta(hours=6)),  # before there is any data
            ):
                cases.append((prices, list(simulated_times(start, start + DAY_HORIZON, step)),
                              step, fill))  # fmt: skip
    return cases


def test_a_buy_and_holds_summary_of_its_columns_is_the_summary_of_its_points():
    for prices, times, step, fill in buy_and_hold_cases():
        hold = _hold(prices, times, step, PAPER, fill, None, None)
        assert hold is not None
        curve = buy_and_hold(prices, times, step, PAPER, fill)
        assert points(hold.points) == points(curve)
        for risk_free, per_year in ((0.0, None), (0.03, 252.0)):
            found = hold.summary(PAPER, step, risk_free, per_year)
            fees = _benchmark_fees(curve, PAPER)
            expected = summarize(curve, (), fees, step, risk_free=risk_free, per_year=per_year)
            assert repr(found) == repr(expected)


def test_equity_values_are_the_floats_of_shared_equal_and_distinct_equities():
    shared = Decimal("1.1")
    curve = [
        EquityPoint(T0, value, Decimal(0), False)
        for value in (shared, shared, Decimal("1.10"), Decimal("1.1"), shared, Decimal("-0"))
    ]
    curve += [EquityPoint(T0, Decimal("Infinity"), Decimal(0), False)]
    assert exact(equity_values(curve)) == exact([float(p.equity) for p in curve])
    assert equity_values([]) == []


def test_equity_values_refuse_a_first_equity_that_is_not_a_number_as_float_does():
    with pytest.raises(TypeError):
        equity_values([EquityPoint(T0, None, Decimal(0), False)])  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    returns=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), max_size=40),
    risk_free=st.sampled_from([0.0, 0.04, -0.01]),
)
def test_sortino_is_its_python_definition_to_the_bit(returns: list[float], risk_free: float):
    array = np.array(returns, dtype=np.float64)
    found = outcome(sortino, array, 8760.0, risk_free)
    assert found == outcome(sortino_by_definition, array, 8760.0, risk_free)


def outcome(compute: Any, *args: Any) -> Any:
    """What ``compute(*args)`` gives, NaN and signed zeros told apart, or the error it raises
    (a square too large for a float raises OverflowError either way)."""
    try:
        value = compute(*args)
    except ArithmeticError as exc:
        return type(exc)
    return "nan" if value is not None and math.isnan(value) else bits(value)


def test_sortino_keeps_signed_zeros_and_nan_as_min_does():
    returns = np.array([0.0, -0.0, 0.01, -0.02, float("nan"), 0.0])
    assert repr(sortino(returns, 365.0)) == repr(sortino_by_definition(returns, 365.0))
    calm = np.array([-0.0, 0.0, 0.02])
    assert bits(sortino(calm, 365.0)) == bits(sortino_by_definition(calm, 365.0))


@pytest.mark.parametrize("risk_free", [0.0, 0.04, -0.01])
def test_sortino_of_a_mostly_flat_curve_squares_only_its_falls_yet_is_its_definition(
    risk_free: float,
):
    # Flat periods (r = 0) and rises add +0.0 terms to the downside's sum, which are skipped.
    rng = np.random.default_rng(7)
    returns = np.where(rng.random(5000) < 0.8, 0.0, rng.normal(0, 0.01, 5000))
    returns[[10, 11, 4000]] = [-0.0, float("-inf"), 1e-300]
    for found in (returns, returns[:12], np.abs(returns[12:])):
        assert outcome(sortino, found, 8760.0, risk_free) == outcome(
            sortino_by_definition, found, 8760.0, risk_free
        )


# --- the candles' close times --------------------------------------------------------------------


def moments_by_hand(close_time: np.ndarray) -> tuple[list[datetime], list[float]]:
    stamps = [datetime.fromtimestamp(float(t), UTC) for t in close_time.tolist()]
    return stamps, [moment.timestamp() for moment in stamps]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 2**33), min_size=1, max_size=50))
def test_whole_second_close_times_are_fromtimestamps_and_their_own_timestamps(seconds: list[int]):
    close_time = np.array(sorted(seconds), dtype=np.float64)
    found = _whole_second_moments(close_time)
    assert found is not None
    stamps, epochs = moments_by_hand(close_time)
    assert found[0] == stamps and all(type(m) is datetime and m.tzinfo is UTC for m in found[0])
    assert [bits(e) for e in found[1]] == [bits(e) for e in epochs]


@settings(max_examples=100, deadline=None)
@given(
    st.integers(1, 2**33),
    st.lists(st.tuples(st.sampled_from([60, 3600, 7200, 86400]), st.integers(1, 400)), max_size=6),
)
def test_close_times_of_a_few_runs_of_equal_steps_are_fromtimestamps_too(
    first: int, runs: list[tuple[int, int]]
):
    """Candles of one timeframe with a few gaps: each run of equal steps is added as a run
    (``_step_deltas``), with the same datetimes as one step at a time."""
    steps = [step for step, count in runs for _ in range(count)]
    close_time = np.array(np.cumsum([first, *steps]), dtype=np.float64)
    found = _whole_second_moments(close_time)
    assert found is not None
    stamps, epochs = moments_by_hand(close_time)
    assert found[0] == stamps and all(type(m) is datetime and m.tzinfo is UTC for m in found[0])
    assert [bits(e) for e in found[1]] == [bits(e) for e in epochs]


def test_close_times_that_are_not_whole_seconds_after_1970_take_the_general_way():
    for odd in ([1.7e9, 1.7e9 + 0.5], [0.0, 3600.0], [-3600.0, 0.0], [1.7e9, math.nan], [2**60]):
        assert _whole_second_moments(np.array(odd, dtype=np.float64)) is None
    assert _whole_second_moments(np.array([], dtype=np.float64)) == ([], [])


def test_a_history_of_hourly_candles_with_gaps_stamps_its_closes_as_fromtimestamp_does(
    replay_adapters: dict[str, Any],
):
    history = _hourly_history(replay_adapters)
    assert len(history._irregular)  # the recorded hours have gaps
    assert history.moments == moments_by_hand(history.close_time)


# --- the windows' gaps ---------------------------------------------------------------------------


def _hourly_history(adapters: dict[str, Any]) -> _History:
    feed = adapters["technical"].feeds.feed_for("BTC")
    return _History(feed.candles("BTC", HOUR, math.inf, 2**62))


def test_the_gaps_of_each_window_are_candles_gaps_window_by_window(
    replay_adapters: dict[str, Any],
):
    history = _hourly_history(replay_adapters)
    rng = np.random.default_rng(11)
    around = np.clip(history._irregular[:, None] + np.arange(-300, 300, 7), 0, len(history.candles))
    ends = np.sort(np.concatenate([around.ravel(), rng.integers(1, len(history.candles), 500)]))
    for width in (250, 3, 1):  # a second width reads the gaps the first one kept
        starts = np.maximum(ends - width, 0)
        expected = [
            history.candles.window(s, e).gaps() or None
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        assert history.gaps(starts, ends) == expected


# --- Unix times of many moments -----------------------------------------------------------------


def timestamps_by_hand(moments: Sequence[datetime]) -> list[bytes | None]:
    return [bits(m.timestamp()) for m in moments]


@settings(max_examples=200, deadline=None)
@given(
    start=st.one_of(  # mostly where microseconds since 1970 are exact floats (1685 to 2255)
        st.datetimes(datetime(1700, 1, 1), datetime(2200, 1, 1), timezones=st.just(UTC)),
        st.datetimes(datetime(1, 1, 2), datetime(9999, 1, 1), timezones=st.just(UTC)),
    ),
    every=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)),
    count=st.integers(0, 300),
)
def test_the_unix_times_of_evenly_spaced_utc_moments_are_their_timestamps(
    start: datetime, every: timedelta, count: int
):
    moments = []
    for k in range(count):
        try:
            moments.append(start + k * every)
        except OverflowError:  # past the year 9999
            break
    assert [bits(t) for t in epoch_seconds(moments).tolist()] == timestamps_by_hand(moments)


class Moment(datetime):
    """A datetime of another type (as a library's timestamps are)."""


def test_the_unix_times_of_moments_not_evenly_spaced_in_utc_are_their_timestamps():
    grid = [T0 + timedelta(hours=k, microseconds=7) for k in range(50)]
    paris = timezone(timedelta(hours=1))
    shaken = [
        [*grid[:20], grid[20] + timedelta(microseconds=1), *grid[21:]],  # one moment off
        grid[::-1],  # falling
        [grid[0]] * 10,  # standing still
        [m.astimezone(paris) for m in grid],  # evenly spaced, in another zone
        grid[:1] + [m.astimezone(paris) for m in grid[1:]],  # the same instants, zones mixed
        [m.replace(tzinfo=None) for m in grid],  # naive: local time
        grid[:1] + [m.replace(tzinfo=None) for m in grid[1:]],
        [Moment.fromtimestamp(m.timestamp(), UTC) for m in grid],
        grid[:2],
        [],
    ]
    for moments in shaken:
        assert [bits(t) for t in epoch_seconds(moments).tolist()] == timestamps_by_hand(moments)


# --- decision times ------------------------------------------------------------------------------


def stepped_by_hand(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """The replay clock's times as it always made them: a step added while not past ``end``."""
    found, moment = [], start
    while moment <= end:
        found.append(moment)
        moment += every
    return found


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    span=st.timedeltas(min_value=timedelta(microseconds=-10), max_value=timedelta(days=40)),
    every=st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3)),
)
def test_simulated_times_between_utc_times_are_each_step_added(
    start: datetime, span: timedelta, every: timedelta
):
    if span / every > 50_000:
        every = span / 50_000 + timedelta(microseconds=1)
    end = start + span
    assert list(simulated_times(start, end, every)) == stepped_by_hand(start, end, every)


def test_simulated_times_in_another_zone_or_on_the_grid_end_are_each_step_added():
    paris = timezone(timedelta(hours=1))
    start = datetime(2024, 3, 1, tzinfo=paris)
    for end in (start, start + timedelta(hours=5), start - timedelta(seconds=1)):
        for zone in (UTC, paris):
            args = (start.astimezone(zone), end.astimezone(zone), timedelta(hours=1))
            assert list(simulated_times(*args)) == stepped_by_hand(*args)


# --- legs and the filter accounting --------------------------------------------------------------


def legs_by_hand(log: AuditLog, decisions: Sequence[Decision]) -> tuple[Leg, ...]:
    """Each fill record as a leg, its decision's time from a map of every decision."""
    decided = {d.decision_id: d.as_of for d in decisions}
    legs = []
    for record in records_of_kind(log, "fill"):
        fill = record["fill"]
        legs.append(
            Leg(
                decision_id=record["decision_id"],
                decided_at=decided[record["decision_id"]],
                asset=fill["asset"],
                side=Side(fill["side"]),
                quantity=Decimal(fill["quantity"]),
                price=Decimal(fill["price"]),
                fee=Decimal(fill["fee"]),
                filled_at=parse_time(fill["at"]),
            )
        )
    return tuple(legs)


def play_out_by_hand(
    decision: Decision, bars: Bars, horizon: timedelta, paper: PaperConfig, fill: str
) -> Counterfactual:
    """``play_out`` as written before: a bare counterfactual, replaced with its outcome."""
    base = Counterfactual(
        decision.decision_id, decision.as_of, decision.asset, decision.action or "BUY",
        decision.blocked_by,
    )  # fmt: skip
    try:
        entry_price, entry_time = bars.fill(fill, decision.as_of)
    except LookupError as exc:
        return replace(base, note=str(exc))
    exit_at = entry_time + horizon
    if bars.last_close < exit_at:
        note = f"the data ends at {iso(bars.last_close)}, before the exit at {iso(exit_at)}"
        return replace(base, entry_time=entry_time, entry_price=entry_price, note=note)
    found = bars.close_at(exit_at)
    if found is None or found[1] <= entry_time:
        note = f"no bar closes between the entry and {iso(exit_at)}"
        return replace(base, entry_time=entry_time, entry_price=entry_price, note=note)
    exit_price, exit_time = found
    slip, fee = paper.slippage_bps / BPS, paper.fee_bps / BPS
    if base.action == "SELL":
        gross = entry_price / exit_price - 1
        net = entry_price * (1 - slip) * (1 - fee) / (exit_price * (1 + slip) * (1 + fee)) - 1
    else:
        gross = exit_price / entry_price - 1
        net = exit_price * (1 - slip) * (1 - fee) / (entry_price * (1 + slip) * (1 + fee)) - 1
    return replace(
        base, entry_time=entry_time, entry_price=entry_price, exit_time=exit_time,
        exit_price=exit_price, gross_return=float(gross), net_return=float(net),
    )  # fmt: skip


@pytest.fixture(scope="module")
def two_assets(replay_store: SnapshotStore, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """BTC and ETH daily over the last weeks of the data: fills, and blocks left unresolved."""
    strategy = loads(TWO_ASSETS, "two.yaml", registry.catalogue())
    btc = replay_store.series("technical", "candles/binance/BTC/USDT/1d")
    assert btc is not None
    last = datetime.fromtimestamp(float(btc.times[-1]), UTC)
    return run_backtest(
        strategy,
        store=replay_store,
        start=last - timedelta(days=400),
        end=last + timedelta(days=2),
        config=Config(paper=PAPER),
        out_dir=tmp_path_factory.mktemp("two"),
    )


def test_the_legs_are_the_fills_with_their_decisions_times_from_a_map_of_every_decision(
    two_assets: Any,
):
    log = AuditLog.open_readonly(two_assets.audit_path)
    try:
        assert two_assets.legs and two_assets.legs == _legs(log, two_assets.decisions)
        assert exact(_legs(log, two_assets.decisions)) == exact(
            legs_by_hand(log, two_assets.decisions)
        )
        filled = {leg.decision_id for leg in two_assets.legs}
        with pytest.raises(KeyError):  # a fill whose decision is not given, as before
            _legs(log, [d for d in two_assets.decisions if d.decision_id not in filled])
    finally:
        log.close()


def _decision(verdict: str, action: str | None, status: str, k: int) -> Decision:
    moment = T0 + timedelta(hours=k)
    return Decision(f"dec-{k}", moment, "BTC", verdict, action, (), status, ())


def test_the_blocked_decisions_and_filled_buys_are_the_two_filters_in_order():
    kinds = [
        ("BLOCKED", "BUY", "NOT_EXECUTED"), ("BUY", "BUY", "FILLED"), ("SELL", "SELL", "FILLED"),
        ("HOLD", None, "NOT_EXECUTED"), ("BUY", "BUY", "FAILED"), ("BLOCKED", "SELL", "FILLED"),
        ("BLOCKED", "BUY", "FILLED"), ("BUY", "BUY", "FILLED"),
    ]  # fmt: skip
    decisions = [_decision(*kind, k) for k, kind in enumerate(kinds * 3)]
    blocked, acted = _accounted(decisions)
    assert blocked == [d for d in decisions if d.verdict == "BLOCKED"]
    assert acted == [d for d in decisions if d.action == "BUY" and d.status == "FILLED"]
    assert _accounted([]) == ([], [])


def test_every_decision_played_out_is_the_counterfactual_replaced_by_hand(two_assets: Any):
    prices = two_assets.prices
    shocks = [
        (DAY_HORIZON, NEXT_OPEN),
        (timedelta(hours=1), NEXT_CLOSE),
        (timedelta(days=30), NEXT_OPEN),
    ]
    seen = set()
    for horizon, fill in shocks:
        for decision in two_assets.decisions:
            bars = prices[decision.asset]
            found = play_out(decision, bars, horizon, PAPER, fill)
            assert repr(found) == repr(play_out_by_hand(decision, bars, horizon, PAPER, fill))
            seen.add((found.outcome, found.action, found.note is None))
    assert len(seen) >= 4  # profits and losses, buys and sells, notes of each kind
    blocked = account(two_assets.decisions, prices, DAY_HORIZON, PAPER)
    expected = [
        play_out_by_hand(d, prices[d.asset], DAY_HORIZON, PAPER, NEXT_OPEN)
        for d in two_assets.decisions
    ]
    assert repr(blocked.items) == repr(tuple(expected))


def accounted_cases() -> list[tuple[list[Decision], dict[str, Bars]]]:
    """Decisions of two assets interleaved (and of one without prices), before the first bar,
    between bars, on a gap, near and after the data's end, BUYs, SELLs and signals of none;
    on candles and on recorded prices (which fill at the price then)."""
    x = hourly([100.0 + 3 * math.sin(k / 3) + k * 0.1 for k in range(90)], missing=(4, 5, 40))
    y = replace(hourly([20.0 + (k % 7) * 0.37 for k in range(70)], start=1.7e9 + 1800), asset="Y")
    recorded = replace(x, asset="P", points=True)  # prices at moments: no candles
    first = datetime.fromtimestamp(float(x.close_time[0]), UTC)
    actions, assets = ["BUY", "SELL", None], ["X", "Y", "Z", "P"]
    decisions: list[Decision] = []
    for k in range(160):
        moment, asset = first + timedelta(minutes=37 * k - 150), assets[k % 4]
        blocked = ("veto",)
        decision = Decision(f"dec-{k:024x}", moment, asset, "BLOCKED", actions[k % 3], blocked,
                            "NOT_EXECUTED", ())  # fmt: skip
        decisions.append(decision)
    return [(decisions, {"X": x, "Y": y, "P": recorded})]


@pytest.mark.parametrize(
    "horizon", [timedelta(minutes=30), timedelta(hours=1), DAY_HORIZON, timedelta(days=3.5)]
)
@pytest.mark.parametrize("fill", [NEXT_OPEN, NEXT_CLOSE])
def test_decisions_accounted_at_once_are_each_played_out_alone(horizon: timedelta, fill: str):
    # The entries and exits searched for every decision at once give what ``play_out`` gives
    # each: profits, losses, each kind of note (no entry, the data ends first, no bar by the
    # exit), in the decisions' order; a decision of an asset without prices is left out.
    for decisions, prices in accounted_cases():
        found = account(decisions, prices, horizon, PAPER, fill)
        expected = [
            play_out_by_hand(d, prices[d.asset], horizon, PAPER, fill)
            for d in decisions
            if d.asset in prices
        ]
        assert repr(found.items) == repr(tuple(expected))
        assert found.items == tuple(expected)
        outcomes = {item.outcome for item in found.items}
        assert len(found.items) == 120 and "unresolved" in outcomes
        assert {"profit", "loss"} <= outcomes or horizon < timedelta(hours=1)


def test_decisions_accounted_with_an_unknown_fill_rule_are_refused_as_play_out_refuses_them():
    decisions, prices = accounted_cases()[0]
    with pytest.raises(InputError, match="unknown fill rule 'at_noon'"):
        play_out(decisions[0], prices["X"], DAY_HORIZON, PAPER, "at_noon")
    with pytest.raises(InputError, match="unknown fill rule 'at_noon'"):
        account(decisions, prices, DAY_HORIZON, PAPER, "at_noon")
    assert account([], prices, DAY_HORIZON, PAPER, "at_noon").items == ()
