"""``signalops sweep``: the grid, recompiling with new params, the long-only screen over the
vectorised verdicts, and the command's table.

Known answers come from the raw Binance export (``examples/data/ohlcv``): RSI through TA-Lib on
the CSV's closes, fill prices from the CSV's opens with the slippage applied by hand. A grid of
thresholds is compiled twice, not once per combination: each combination must still screen as
the strategy compiled with its values does, and a bad value must fail with the compiler's
words. The curve's metrics run in numpy and must equal the plain Python definitions to the bit.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib
from click.testing import CliRunner
from conftest import DATA, STRATEGIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import metrics
from signalops.backtest import sweep as sweep_module
from signalops.backtest.bars import Bars
from signalops.backtest.sweep import (
    format_value,
    parse_grid,
    parse_grid_value,
    simulate,
    sweep,
    with_params,
)
from signalops.cli import cli
from signalops.errors import SignalOpsError
from signalops.evaluation.vectorized import BLOCKED, BUY, HOLD, SELL, screen
from signalops.pipeline.loop import simulated_times
from signalops.strategy import load, loads

BASELINE = STRATEGIES / "technical_baseline.yaml"
START, END = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
DAY = 86_400


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw_daily() -> dict[str, dict[str, str]]:
    """The Binance BTC/USDT daily export, by date (the day the candle opens)."""
    with (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").open(encoding="utf-8") as handle:
        handle.readline()  # the CryptoDataDownload URL banner
        return {row["Date"][:10]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def rows(replay_dir: Path):
    return sweep(
        BASELINE.read_text(encoding="utf-8"),
        grid={"oversold": [25, 30, 35]},
        store=SnapshotStore(replay_dir),
        asset="BTC",
        start=START,
        end=END,
        fee_bps=10,
        slippage_bps=5,
    )


# --- the grid --------------------------------------------------------------------------------


def test_grid_values_read_like_thresholds():
    assert [parse_grid_value(v) for v in ("30", "5%", "1.5k", "-1B", "2.5", "4h", " 7 ")] == [
        30,
        "5%",  # a percent as written: the compiler checks its unit as in a file
        1500,
        -1_000_000_000,
        2.5,
        "4h",
        7,
    ]
    assert parse_grid(["oversold=25,30,30", "$limit=-1B, 5%", "frame=4h"]) == {
        "oversold": [25, 30],
        "limit": [-1_000_000_000, "5%"],
        "frame": ["4h"],
    }
    assert [format_value(v) for v in (30, 0.05, 1500, -1_000_000_000, 1234, "4h")] == [
        "30",
        "0.05",
        "1.5k",
        "-1B",
        "1234",
        "4h",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("oversold", "expected NAME=V1,V2"),
        ("=25", "expected NAME=V1,V2"),
        ("oversold=", "empty value"),
        ("oversold=25,,30", "empty value"),
    ],
)
def test_bad_grid_specs_are_clear_errors(spec: str, message: str):
    with pytest.raises(SignalOpsError, match=message):
        parse_grid([spec])
    with pytest.raises(SignalOpsError, match="'oversold' given twice"):
        parse_grid(["oversold=25", "oversold=30"])


def test_an_unknown_param_lists_the_strategys_params(replay_dir: Path):
    with pytest.raises(SignalOpsError, match=r"unknown parameter 'nope': .* params are oversold"):
        sweep(
            BASELINE.read_text(encoding="utf-8"),
            grid={"nope": [1]},
            store=SnapshotStore(replay_dir),
            start=START,
            end=END,
        )


def test_with_params_recompiles_and_keeps_string_params_strings():
    strategy = load(BASELINE)
    assert with_params(strategy.document, {"oversold": 25}, registry.catalogue()).params == {
        "oversold": 25
    }
    with pytest.raises(
        SignalOpsError, match=r"oversold=abc: .*'\$oversold' is 'abc', not a number"
    ):
        with_params(strategy.document, {"oversold": "abc"}, registry.catalogue())
    election = load(STRATEGIES / "election_odds_gate.yaml")
    # A market id read as the number 511754 goes back into the file as the string it was.
    changed = with_params(election.document, {"election_market": 511754}, registry.catalogue())
    assert changed.params["election_market"] == "511754"


# --- the screen ------------------------------------------------------------------------------


def implied_round_trips(verdicts: np.ndarray) -> list[tuple[int, int | None]]:
    """Long-only, one position: the first BUY while flat, then the first SELL while long."""
    trips, entry = [], None
    for k, code in enumerate(verdicts):
        if code == BUY and entry is None:
            entry = k
        elif code == SELL and entry is not None:
            trips.append((entry, k))
            entry = None
    return trips + ([(entry, None)] if entry is not None else [])


def test_oversold_30_trades_where_the_verdicts_say_at_the_next_bars_open(rows, replay_dir: Path):
    row = next(r for r in rows if r.params == {"oversold": 30})
    store = SnapshotStore(replay_dir)
    assert row.times[0] == START.timestamp() and row.times[-1] == END.timestamp()
    assert len(row.times) == (END - START).days + 1
    # The verdicts are those of vectorized.screen on the same strategy and times.
    expected = screen(row.strategy, "BTC", store, row.times)
    np.testing.assert_array_equal(row.verdicts, expected.verdicts)
    trips = [(t.entry_bar, t.exit_bar) for t in row.trades]
    assert trips == implied_round_trips(row.verdicts)
    assert len(trips) >= 2

    # Every fill is the raw open of the bar that opens at the decision time (daily, midnight).
    raw = raw_daily()
    for trade in row.trades:
        decided = datetime.fromtimestamp(row.times[trade.entry_bar], UTC)
        assert trade.entry_time == decided
        assert trade.entry_open == float(raw[f"{decided:%Y-%m-%d}"]["Open"])
        assert trade.entry_price == pytest.approx(trade.entry_open * 1.0005, rel=1e-12)
        if trade.closed:
            sold = datetime.fromtimestamp(row.times[trade.exit_bar], UTC)
            assert trade.exit_time == sold
            assert trade.exit_open == float(raw[f"{sold:%Y-%m-%d}"]["Open"])
            assert trade.exit_price == pytest.approx(trade.exit_open * 0.9995, rel=1e-12)

    # Known answer: RSI(14) on the CSV's closes first falls below 30 with the 2022-01-07 candle,
    # so the decision at its close (2022-01-08 00:00) buys at the 2022-01-08 open, 41566.48.
    days = sorted(d for d in raw if d <= "2022-01-07")
    rsi = talib.RSI(np.array([float(raw[d]["Close"]) for d in days]), timeperiod=14)
    assert rsi[-1] < 30 and (rsi[-8:-1] >= 30).all()
    first = row.trades[0]
    assert first.entry_bar == 7 and first.entry_time == day("2022-01-08")
    assert first.entry_open == 41566.48
    assert first.entry_price == pytest.approx(41566.48 * 1.0005)
    assert first.quantity == pytest.approx(10_000 / (41566.48 * 1.0005 * 1.001))
    # RSI(14) back above 55 with the 2022-02-04 candle: sold at the 2022-02-05 open, 41571.70.
    assert first.exit_time == day("2022-02-05") and first.exit_open == 41571.70
    assert first.proceeds == pytest.approx(first.quantity * 41571.70 * 0.9995 * 0.999)
    assert row.verdicts[first.entry_bar] == BUY and row.verdicts[first.exit_bar] == SELL

    # The metrics follow from the trades: the cash compounds through the round trips.
    closed = [t for t in row.trades if t.closed]
    assert row.win_rate.trades == len(closed)
    assert row.win_rate.wins == sum(1 for t in closed if t.pnl > 0)
    if not row.open_trade:
        assert 1 + row.total_return == pytest.approx(np.prod([t.proceeds / t.cost for t in closed]))
    assert row.blocked == int((row.verdicts == BLOCKED).sum()) == 0  # no vetoes
    assert -1 < row.max_drawdown < 0 and 0 < row.exposure < 1


def test_results_differ_across_the_grid(rows):
    assert [r.params["oversold"] for r in rows] == [25, 30, 35]
    assert len({round(r.total_return, 9) for r in rows}) == 3
    assert len({len(r.trades) for r in rows}) == 3
    # A higher oversold threshold can only enter earlier or more often.
    assert rows[0].trades[0].entry_bar >= rows[1].trades[0].entry_bar >= rows[2].trades[0].entry_bar


def test_simulate_ignores_repeats_and_orders_without_a_next_bar():
    closes = np.arange(1, 6) * DAY + 0.0  # bar i opens at day i and closes at day i + 1
    opens, marks = np.array([10.0, 20, 40, 80, 160]), np.array([20.0, 40, 80, 160, 320])
    bars = Bars("BTC", DAY, closes, opens, marks)
    # Decided at each bar's close. The 2nd BUY is while long; the last BUY has no bar after it.
    verdicts = np.array([BUY, BUY, HOLD, SELL, BUY])
    sim = simulate(verdicts, closes, bars, DAY, fee_bps=0, slippage_bps=0, cash=100.0)
    (trade,) = sim.trades
    assert (trade.entry_bar, trade.entry_open, trade.exit_bar, trade.exit_open) == (0, 20, 3, 160)
    assert trade.proceeds == pytest.approx(800.0)
    assert sim.held.tolist() == [True, True, True, False, False]
    assert sim.equity.tolist() == pytest.approx([200.0, 400.0, 800.0, 800.0, 800.0])
    # Fees and slippage on both fills.
    paid = simulate(verdicts, closes, bars, DAY, fee_bps=10, slippage_bps=5, cash=100.0)
    (trade,) = paid.trades
    quantity = 100 / (20 * 1.0005 * 1.001)
    assert trade.proceeds == pytest.approx(quantity * 160 * 0.9995 * 0.999)
    assert paid.fees == pytest.approx(
        quantity * 20 * 1.0005 * 0.001 + quantity * 160 * 0.9995 * 0.001
    )


# --- the command -----------------------------------------------------------------------------


def test_sweep_command_prints_the_table_best_return_first(replay_dir: Path):
    result = CliRunner().invoke(
        cli,
        ["sweep", str(BASELINE), "--grid", "oversold=25,30,35", "--from", "2022-01-01",
         "--to", "2024-12-31", "--data", str(replay_dir)],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Technical_Baseline · BTC · 2022-01-01 .. 2024-12-31 every 1d · 3 combinations · "
        "fee 10 bps, slippage 5 bps"
    )
    assert lines[1] == "oversold    return    max DD   trades   win rate   exposure   blocked bars"
    assert set(lines[2]) == {"─"}
    table = lines[3:-1]
    assert len(table) == 3
    returns = [float(line.split()[1].rstrip("%")) for line in table]
    assert returns == sorted(returns, reverse=True)
    assert sorted(line.split()[0] for line in table) == ["25", "30", "35"]
    assert lines[-1] == (
        "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
        "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
        "backtest"
    )


def test_sweep_command_unknown_param_fails_clearly(replay_dir: Path):
    result = CliRunner().invoke(
        cli,
        ["sweep", str(BASELINE), "--grid", "oversld=25", "--from", "2022-01-01",
         "--to", "2022-12-31", "--data", str(replay_dir)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "unknown parameter 'oversld': the strategy's params are oversold" in result.stderr


def test_sweep_every_matches_the_decision_interval(replay_dir: Path):
    (row,) = sweep(
        load(BASELINE),
        grid={"oversold": [30]},
        store=SnapshotStore(replay_dir),
        start=START,
        end=START + timedelta(days=10),
        every=timedelta(days=2),
    )
    assert np.diff(row.times).tolist() == [2 * DAY] * 5


def test_every_decision_time_is_the_backtests_clock(replay_dir: Path):
    start = datetime(2022, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    every = timedelta(hours=7, microseconds=3)
    (row,) = sweep(
        load(BASELINE),
        grid={"oversold": [35]},
        store=SnapshotStore(replay_dir),
        start=start,
        end=datetime(2022, 6, 10, tzinfo=UTC),
        every=every,
    )
    expected = [
        m.timestamp() for m in simulated_times(start, datetime(2022, 6, 10, tzinfo=UTC), every)
    ]
    assert row.times.tolist() == expected


def test_simulate_leaves_the_last_buy_open_and_marks_it_at_the_last_close():
    closes = np.arange(1, 7) * DAY + 0.0  # bar i opens at day i and closes at day i + 1
    opens, marks = np.array([10.0, 20, 40, 80, 160, 320]), np.array([20.0, 40, 80, 160, 320, 640])
    bars = Bars("BTC", DAY, closes, opens, marks)
    # BUY, SELL while flat is nothing, a SELL, a BUY that fills and stays open.
    verdicts = np.array([BUY, SELL, SELL, BUY, BLOCKED, HOLD])
    sim = simulate(verdicts, closes, bars, DAY, fee_bps=0, slippage_bps=0, cash=100.0)
    first, last = sim.trades
    assert (first.entry_bar, first.exit_bar, last.entry_bar, last.exit_bar) == (0, 1, 3, None)
    assert not last.closed and last.entry_open == 160 and last.cost == pytest.approx(200.0)
    assert sim.held.tolist() == [True, False, False, True, True, True]
    assert sim.equity.tolist() == pytest.approx([200.0, 200.0, 200.0, 400.0, 800.0, 800.0])


# --- a grid compiled once ------------------------------------------------------------------------

# Params as thresholds in every form the compiler turns into a constant: a structured threshold
# and range, a when: comparison and range, a factor, a negation, a divisor, a string param.
THRESHOLDS = """
strategy:
  name: thresholds
  assets: [BTC]
  params:
    lo: 20
    hi: 45
    k: 0.9
    neg: 0.02
    pct: "5%"
    d: 1
    cut: 25
  rules:
    - id: band
      source: technical
      conditions:
        - when: "rsi(14) between $lo and $hi"
        - when: "close > sma(50) * $k"
    - id: dip
      source: technical
      conditions:
        - when: "return(3d) > -$neg"
        - when: "close / $d > 100"
  exit:
    rules:
      - id: up
        source: technical
        conditions:
          - metric: rsi_14
            operator: between
            threshold: [$hi, 80]
      - id: pct
        source: technical
        conditions:
          - when: "return(7d) > $pct"
  vetoes:
    - id: crash
      source: technical
      conditions:
        - metric: rsi_14
          operator: "<"
          threshold: $cut
  execution:
    require_confirmations: 1
"""
GRID = {"lo": [20, 30], "hi": [45, 50.5], "neg": [0.02, 0.05], "pct": [0.03, "6%"], "cut": [20, 25]}
WINDOW = {"start": datetime(2021, 1, 1, tzinfo=UTC), "end": datetime(2024, 12, 31, tzinfo=UTC)}


def test_a_threshold_grid_screens_as_each_combination_compiled_in_full(replay_dir: Path):
    store = SnapshotStore(replay_dir)
    rows = sweep(THRESHOLDS, grid=GRID, store=store, **WINDOW)
    assert [r.params for r in rows] == [
        dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())
    ]
    document = loads(THRESHOLDS).document
    for row in rows:
        compiled = with_params(document, row.params, registry.catalogue())
        expected = screen(compiled, "BTC", store, row.times)
        np.testing.assert_array_equal(row.verdicts, expected.verdicts, err_msg=str(row.params))
        # The strategy a row gives is that one, compiled when asked.
        assert row.strategy.content_hash == compiled.content_hash
        assert row.strategy.tree == compiled.tree
    assert len({r.verdicts.tobytes() for r in rows}) > len(rows) // 2
    assert {BUY, SELL, BLOCKED} <= set(np.concatenate([r.verdicts for r in rows]).tolist())


def test_a_threshold_grid_compiles_twice_whatever_its_size(
    replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    compiled: list[dict[str, Any]] = []
    real = sweep_module.with_params

    def counted(document: Any, params: Any, *args: Any) -> Any:
        compiled.append(dict(params))
        return real(document, params, *args)

    monkeypatch.setattr(sweep_module, "with_params", counted)
    rows = sweep(THRESHOLDS, grid=GRID, store=SnapshotStore(replay_dir), **WINDOW)
    # The first combination, and a second one that takes another value of every param.
    assert compiled == [rows[0].params, {"lo": 30, "hi": 50.5, "neg": 0.05, "pct": "6%", "cut": 25}]
    rows[5].strategy  # noqa: B018 - a row's strategy is compiled when asked
    assert compiled[-1] == rows[5].params


# The bad value comes third: the second tree is compiled with the second, so that the first
# two make a template and the third is refused by its checks, then by the compiler.
@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"lo": [20, 30, 50]}, "with lo=50: rules[0].conditions[0].when: the range 50 to 45"),
        ({"hi": [45, 50, 90]}, "with hi=90: exit.rules[0].conditions[0].threshold: the range [90"),
        ({"d": [1, 2, 0]}, "with d=0: rules[1].conditions[1].when: division by zero"),
        ({"k": [1, 2, math.nan]}, "with k=nan: rules[0].conditions[1].when: parameter '$k' is"),
        ({"cut": [20, 30, "x"]}, "with cut=x: vetoes[0].conditions[0].threshold: parameter"),
        ({"cut": [20, 30, True]}, "with cut=True: params.cut: expected a number or a string"),
        ({"lo": [20, 30, 10**400]}, "with lo=1000000000000000000000"),
        ({"cut": [20, 30, 500]}, "with cut=500: vetoes[0].conditions[0].threshold: rsi(14) < 500"),
    ],
)
def test_a_bad_value_later_in_the_grid_fails_as_the_compiler_says(
    replay_dir: Path, grid: dict[str, list[Any]], message: str
):
    with pytest.raises(SignalOpsError) as raised:
        sweep(THRESHOLDS, grid=grid, store=SnapshotStore(replay_dir), **WINDOW)
    assert message in str(raised.value)
    (name, values), document = next(iter(grid.items())), loads(THRESHOLDS).document
    with pytest.raises(SignalOpsError) as direct:
        with_params(document, {name: values[-1]}, registry.catalogue(), "<sweep>")
    assert str(raised.value) == str(direct.value)


PERIOD = """
strategy:
  name: period
  assets: [BTC]
  params: {n: 14, oversold: 30}
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi($n) < $oversold"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi($n) > 55"
"""


def test_a_param_used_as_a_period_is_compiled_for_each_combination(replay_dir: Path):
    store = SnapshotStore(replay_dir)
    rows = sweep(PERIOD, grid={"n": [7, 14], "oversold": [25, 30]}, store=store, **WINDOW)
    for row in rows:
        compiled = with_params(loads(PERIOD).document, row.params, registry.catalogue())
        assert ("n", row.params["n"]) in compiled.tree.metrics[0].params
        np.testing.assert_array_equal(
            row.verdicts, screen(compiled, "BTC", store, row.times).verdicts
        )
    assert len({r.verdicts.tobytes() for r in rows}) == 4


# --- the curve's metrics, in numpy, to the bit ---------------------------------------------------


def python_drawdown(times: Sequence[Any], values: Sequence[float]) -> tuple[Any, ...]:
    """The definition as a loop (the metrics module's before it ran in numpy)."""
    depth, peak_time, trough = 0.0, None, None
    peak_value, running_time = -math.inf, None
    for time, value in zip(times, values, strict=True):
        if value >= peak_value:  # the last point at the running high: where a fall begins
            peak_value, running_time = value, time
        fall = value / peak_value - 1 if peak_value > 0 else 0.0
        if fall < depth:
            depth, peak_time, trough = fall, running_time, time
    if peak_time is None:
        return depth, None, None, None
    top = values[list(times).index(peak_time)]
    after = [t for t, v in zip(times, values, strict=True) if t > trough and v >= top]
    return depth, peak_time, trough, after[0] if after else None


def python_sharpe(returns: Sequence[float], per_year: float, rf: float) -> float | None:
    excess = [r - ((1 + rf) ** (1 / per_year) - 1) for r in returns]
    if len(excess) < 2:
        return None
    mean = sum(excess) / len(excess)
    variance = sum((x - mean) ** 2 for x in excess) / (len(excess) - 1)
    return None if variance <= 0 else mean / math.sqrt(variance) * math.sqrt(per_year)


def python_p_value(successes: int, trials: int, p: Fraction) -> float:
    if trials == 0:
        return 1.0
    probability = [math.comb(trials, k) * p**k * (1 - p) ** (trials - k) for k in range(trials + 1)]
    observed = probability[successes] * Fraction(1 + 1e-7)
    return min(1.0, float(sum((q for q in probability if q <= observed), Fraction(0))))


def bits(value: float | None) -> Any:
    """A float with its sign (0.0 and -0.0 differ), NaN equal to NaN."""
    if value is None or math.isnan(value):
        return None if value is None else "nan"
    return value, math.copysign(1, value)


STEPS = st.one_of(
    st.just(0.0),  # flat: no position, or an unchanged price
    st.floats(-0.2, 0.2, allow_nan=False),
    st.sampled_from((-1.0, math.nan, math.inf, -math.inf)),  # ruin, and junk a curve can carry
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.one_of(st.floats(1, 1e6), st.sampled_from((0.0, -5.0, math.nan))),
    steps=st.lists(STEPS, max_size=60),
    rf=st.sampled_from((0.0, 0.03)),
)
def test_numpy_metrics_equal_the_python_definitions_to_the_bit(start, steps, rf):
    values = [start]
    for step in steps:
        values.append(values[-1] * (1 + step) if not math.isnan(step) else step)
    times = [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i) for i in range(len(values))]
    got = metrics.max_drawdown(times, values)
    want = python_drawdown(times, values)
    assert (bits(got.depth), got.peak, got.trough, got.recovered) == (bits(want[0]), *want[1:])
    assert bits(metrics.max_drawdown_depth(np.array(values))) == bits(want[0])
    if any(v == 0 for v in values[:-1]):
        with pytest.raises(ZeroDivisionError):
            metrics.period_returns(values)
        return
    returns = [b / a - 1 for a, b in itertools.pairwise(values)]
    got_returns = metrics.period_returns(values).tolist()
    assert [bits(r) for r in got_returns] == [bits(r) for r in returns]
    assert bits(metrics.sharpe(got_returns, 8760.0, rf)) == bits(python_sharpe(returns, 8760.0, rf))


def test_sharpe_squares_as_python_does_not_as_x_times_x():
    # C's pow(x, 2) and the correctly rounded x * x differ for some x; here it shows in the
    # result (x * x would give -59.715332961465336).
    returns = [0.0006846232562127068, -0.01332954034588744]
    assert metrics.sharpe(returns, 8760.0) == python_sharpe(returns, 8760.0, 0.0)
    assert metrics.sharpe(returns, 8760.0) == -59.71533296146534


def test_the_win_rate_p_value_is_the_exact_rational_one():
    for trials in (*range(0, 40), 264, 501):
        for successes in range(0, trials + 1, 1 if trials < 40 else 17):
            for p in (Fraction(1, 2), Fraction(3, 10)):
                got = metrics.binomial_p_value(successes, trials, p)
                assert got == python_p_value(successes, trials, p), (successes, trials, p)
