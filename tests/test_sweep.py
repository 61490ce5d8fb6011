"""``signalops sweep``: the grid, recompiling with new params, the long-only screen over the
vectorised verdicts, and the command's table.

Known answers come from the raw Binance export (``examples/data/ohlcv``): RSI through TA-Lib on
the CSV's closes, fill prices from the CSV's opens with the slippage applied by hand.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import talib
from click.testing import CliRunner
from conftest import DATA, STRATEGIES

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
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
from signalops.strategy import load

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
        0.05,
        1500,
        -1_000_000_000,
        2.5,
        "4h",
        7,
    ]
    assert parse_grid(["oversold=25,30,30", "$limit=-1B, 5%", "frame=4h"]) == {
        "oversold": [25, 30],
        "limit": [-1_000_000_000, 0.05],
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
    assert lines[-1] == "fast screen: no risk gate or sizing; confirm with signalops backtest"


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
