"""The event-driven backtest on the bundled real data: known answers, parity, no look-ahead,
metric arithmetic, filter accounting and the ``signalops backtest`` command.

Known answers are checked against the raw Binance export (``examples/data/ohlcv``), not against
anything the backtest itself computed: RSI through TA-Lib on the CSV's closes, and fill prices
from the CSV's opens with the configured fee and slippage applied by hand.
"""

from __future__ import annotations

import csv
import html
import json
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib
from click.testing import CliRunner
from conftest import DATA, ROOT, STRATEGIES, with_usd_coin

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest, without_vetoes
from signalops.backtest.bars import Bars
from signalops.backtest.filters import LOSS, PROFIT, UNRESOLVED, account
from signalops.backtest.ledger import Decision, EquityPoint, Leg, round_trips
from signalops.backtest.metrics import (
    binomial_p_value,
    cagr,
    exposure,
    max_drawdown,
    periods_per_year,
    sharpe,
    sortino,
    summarize,
    wilson_interval,
)
from signalops.backtest.study import Study, run_study
from signalops.cli import cli
from signalops.config import Config, PaperConfig
from signalops.orders import Mode, Side
from signalops.pipeline import records_of_kind
from signalops.strategy import load, loads
from signalops.workspace import build_pipeline, open_workspace

FIXTURE = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
DAY = timedelta(days=1)
BPS = Decimal(10_000)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def raw_daily() -> dict[str, dict[str, str]]:
    """The Binance BTC/USDT daily export, by date (the day the candle opens)."""
    with (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").open(encoding="utf-8") as handle:
        handle.readline()  # the CryptoDataDownload URL banner
        return {row["Date"][:10]: row for row in csv.DictReader(handle)}


def decision_records(path: Path) -> dict[str, dict[str, Any]]:
    log = AuditLog(path)
    try:
        return {r["as_of"]: r for r in records_of_kind(log, "decision")}
    finally:
        log.close()


def fill_records(path: Path) -> dict[str, dict[str, Any]]:
    log = AuditLog(path)
    try:
        return {r["decision_id"]: r["fill"] for r in records_of_kind(log, "fill")}
    finally:
        log.close()


def fixture_series(source: str, key: str) -> bool:
    """The series the banking-crisis fixture can read (candles, USDC supply) and the small
    sources; leaving out the other 280 stablecoins keeps each copied store quick to write."""
    return source != "onchain" or key == "stablecoin_supply/USDC/all"


def rewrite_store(
    source_dir: Path,
    target_dir: Path,
    change: Callable[[str, str, list[tuple[float, Any]]], list[tuple[float, Any]]],
    keep: Callable[[str, str], bool] = fixture_series,
) -> SnapshotStore:
    """A copy of a snapshot folder (the ``keep`` series) with each series' points passed
    through ``change``."""
    old, new = SnapshotStore(source_dir), SnapshotStore(target_dir)
    for source in old.sources():
        records = []
        for key in filter(lambda k: keep(source, k), old.keys(source)):
            series = old.series(source, key)
            assert series is not None
            points = change(source, key, list(zip(series.times, series.values, strict=True)))
            records.extend((key, t, value) for t, value in points)
        new.write(source, records)
    return new


def daily_candles(source: str, key: str) -> bool:
    return key == "candles/binance/BTC/USDT/1d"


RSI_BELOW_30 = """
strategy:
  name: "Rsi_Known_Answer"
  assets: ["BTC"]
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 30"
  execution:
    position_size: 0.05
    action_mode: notify      # a backtest trades on paper whatever the file says
"""
# A fee and slippage that are not the defaults, so the test shows the configured ones apply.
FEES = Config(
    paper=PaperConfig(starting_cash=Decimal("10000"), fee_bps=Decimal(25), slippage_bps=Decimal(8))
)


@pytest.fixture(scope="module")
def march(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Study:
    """The banking-crisis fixture over March 2023, with its baseline and report, once."""
    strategy = load(FIXTURE, registry.catalogue())
    return run_study(
        strategy,
        store=SnapshotStore(replay_dir),
        start=utc("2023-03-01"),
        end=utc("2023-03-31"),
        out_dir=tmp_path_factory.mktemp("march"),
    )


# --- known answers on the raw data ----------------------------------------------------------------


def test_rsi_at_the_end_of_2023_03_10_matches_talib_on_the_raw_csv(replay_dir: Path, tmp_path):
    strategy = loads(RSI_BELOW_30, "rsi.yaml", registry.catalogue())
    as_of = utc("2023-03-11")  # the close of the 2023-03-10 daily candle
    result = run_backtest(
        strategy, store=SnapshotStore(replay_dir), start=as_of, end=as_of, out_dir=tmp_path
    )
    rows = raw_daily()
    days = sorted(day for day in rows if day <= "2023-03-10")
    closes = np.array([float(rows[day]["Close"]) for day in days])
    expected = float(talib.RSI(closes, timeperiod=14)[-1])
    assert expected == pytest.approx(28.2420486, abs=1e-6)

    record = decision_records(result.audit_path)["2023-03-11T00:00:00Z"]
    (leaf,) = record["trace"]["leaves"]
    assert leaf["value"] == pytest.approx(expected, abs=1e-6)  # 250 candles of warm-up vs all
    assert record["observations"][0]["data_time"] == "2023-03-11T00:00:00Z"
    assert record["verdict"] == "BUY"


def test_a_decision_fills_at_the_next_bars_open_with_the_configured_fee_and_slippage(
    replay_dir: Path, tmp_path: Path
):
    strategy = loads(RSI_BELOW_30, "rsi.yaml", registry.catalogue())
    as_of = utc("2023-03-11")  # decided on the 2023-03-10 close ...
    result = run_backtest(
        strategy,
        store=SnapshotStore(replay_dir),
        start=as_of,
        end=as_of,
        out_dir=tmp_path,
        config=FEES,
    )
    (leg,) = result.legs
    next_open = Decimal(raw_daily()["2023-03-11"]["Open"])  # ... filled at the 03-11 open
    price = next_open * (1 + Decimal(8) / BPS)
    assert leg.side is Side.BUY
    assert leg.filled_at == utc("2023-03-11")
    assert leg.price == price
    assert leg.fee == leg.quantity * price * Decimal(25) / BPS
    fill = fill_records(result.audit_path)[leg.decision_id]
    assert (Decimal(fill["price"]), Decimal(fill["fee"])) == (leg.price, leg.fee)
    assert result.metrics.fees == leg.fee
    # The mode is paper whatever the file's action_mode (notify) says.
    assert decision_records(result.audit_path)["2023-03-11T00:00:00Z"]["mode"] == "paper"


def test_the_fill_is_the_next_bars_own_open_not_the_signal_bars_close(
    replay_dir: Path, tmp_path: Path
):
    # On Binance a daily open equals the previous close, so move the 03-11 open to tell them apart.
    opening = utc("2023-03-12").timestamp()  # the close time of the candle that opens 03-11

    def move_open(source: str, key: str, points: list[tuple[float, Any]]):
        if key != "candles/binance/BTC/USDT/1d":
            return points
        return [(t, [20000.0, *v[1:]] if t == opening else v) for t, v in points]

    store = rewrite_store(replay_dir, tmp_path / "moved", move_open, keep=daily_candles)
    strategy = loads(RSI_BELOW_30, "rsi.yaml", registry.catalogue())
    as_of = utc("2023-03-11")
    common = dict(store=store, start=as_of, end=as_of, config=FEES)
    at_open = run_backtest(strategy, out_dir=tmp_path / "open", **common)
    at_close = run_backtest(strategy, out_dir=tmp_path / "close", fill="next_close", **common)
    slip = 1 + Decimal(8) / BPS
    assert at_open.legs[0].price == Decimal("20000.0") * slip
    assert at_close.legs[0].price == Decimal(raw_daily()["2023-03-11"]["Close"]) * slip
    assert at_close.legs[0].filled_at == utc("2023-03-12")


def test_without_a_next_bar_the_order_fails_with_the_reason(replay_dir: Path, tmp_path: Path):
    end = utc("2023-03-11").timestamp()

    def truncate(source: str, key: str, points: list[tuple[float, Any]]):
        return [(t, v) for t, v in points if t <= end] if source == "technical" else points

    store = rewrite_store(replay_dir, tmp_path / "short", truncate, keep=daily_candles)
    strategy = loads(RSI_BELOW_30, "rsi.yaml", registry.catalogue())
    as_of = utc("2023-03-11")
    # 03-10's decision fills at the last candle's open (a period with none is refused up front:
    # tests/backtest/test_coverage_after_data.py); 03-11's has no candle to fill at.
    start = utc("2023-03-10")
    result = run_backtest(strategy, store=store, start=start, end=as_of, out_dir=tmp_path / "o")
    record = decision_records(result.audit_path)["2023-03-11T00:00:00Z"]
    assert record["verdict"] == "BUY"
    assert record["execution"]["status"] == "FAILED"
    assert record["execution"]["message"] == (
        "no paper price for BTC at 2023-03-11T00:00:00Z: no 1d BTC bar opens at or after "
        "2023-03-11T00:00:00Z: the data ends with the bar closing at 2023-03-11T00:00:00Z"
    )
    assert [leg.decided_at for leg in result.legs] == [start]


def test_march_trades_fill_at_the_raw_opens_after_their_decisions(march: Study):
    rows = raw_daily()
    slip = Decimal(5) / BPS  # the default paper config: 10 bps fee, 5 bps slippage
    (trade,) = march.result.trades
    assert [leg.decided_at for leg in (*trade.entries, *trade.exits)] == [
        utc("2023-03-10"),
        utc("2023-03-14"),
    ]
    assert trade.entry_price == Decimal(rows["2023-03-10"]["Open"]) * (1 + slip)
    assert trade.exit_price == Decimal(rows["2023-03-14"]["Open"]) * (1 - slip)
    fees = sum((leg.notional * 10 / BPS for leg in (*trade.entries, *trade.exits)), Decimal(0))
    assert trade.fees == fees
    assert trade.pnl == trade.quantity * (trade.exit_price - trade.entry_price) - fees
    lines = (march.out_dir / "trades.csv").read_text().splitlines()
    assert lines[0] == (
        "asset,status,entry_time,entry_price,exit_time,exit_price,quantity,pnl,return,fees,"
        "entry_decisions,exit_decisions"
    )
    assert lines[1].startswith(
        f"BTC,closed,2023-03-10T00:00:00Z,{trade.entry_price},2023-03-14T00:00:00Z,"
        f"{trade.exit_price},{trade.quantity},{trade.pnl:.4f},"  # trades.csv: money to 4 places
    )
    assert len(lines) == 2


def test_the_equity_curve_has_one_point_per_period_marked_at_the_close(march: Study):
    result = march.result
    assert len(result.equity) == 32  # the starting cash + 31 daily periods
    assert result.equity[0] == EquityPoint(utc("2023-03-01"), Decimal(10000), Decimal(10000), False)
    assert result.equity[-1].time == utc("2023-04-01")
    # 03-10's buy is held through the period that ends at 03-11's close, marked at that close.
    point = next(p for p in result.equity if p.time == utc("2023-03-11"))
    (trade,) = result.trades
    assert point.held
    assert point.exposure == trade.quantity * Decimal(raw_daily()["2023-03-10"]["Close"])
    assert result.metrics.exposure == pytest.approx(4 / 31)  # held 03-10 .. 03-13
    # Buy-and-hold buys at the first decision's fill: the 03-01 open, with slippage and fee.
    bench = result.buy_and_hold
    first_open = Decimal(raw_daily()["2023-03-01"]["Open"]) * (1 + Decimal(5) / BPS)
    quantity = Decimal(10000) / (first_open * (1 + Decimal(10) / BPS))
    last_close = Decimal(raw_daily()["2023-03-31"]["Close"])
    assert bench[-1].equity == pytest.approx(quantity * last_close, rel=Decimal("1e-20"))


# --- backtest-live parity -------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2023-03-10", "2023-03-11", "2023-03-12", "2023-03-13"])
def test_a_backtest_decision_equals_a_run_once_at_the_same_time(
    march: Study, replay_dir: Path, tmp_path: Path, day: str
):
    as_of = utc(day)
    workspace = open_workspace(audit=tmp_path / "live.db")
    strategy = load(FIXTURE, registry.catalogue())
    pipeline = build_pipeline(
        workspace, [strategy], mode=Mode.PAPER, replay=replay_dir, clock=lambda: as_of
    )
    pipeline.cycle(as_of)  # what `signalops run --once --replay` does at that time
    workspace.close()
    live = decision_records(tmp_path / "live.db")[f"{day}T00:00:00Z"]
    replayed = decision_records(march.result.audit_path)[f"{day}T00:00:00Z"]
    assert replayed["decision_id"] == live["decision_id"]
    assert replayed["verdict"] == live["verdict"]
    assert replayed["trace"] == live["trace"]
    assert replayed["observations"] == live["observations"]
    assert replayed["blocked_by"] == live["blocked_by"]


# --- no look-ahead --------------------------------------------------------------------------------

CUT = utc("2023-03-12")  # the blocked day: every decision at or before it is compared


def _shuffle_after_cut(source: str, key: str, points: list[tuple[float, Any]]):
    before = [(t, v) for t, v in points if t <= CUT.timestamp()]
    after = [(t, v) for t, v in points if t > CUT.timestamp()]
    values = [v for _, v in after]
    random.Random(f"{source}/{key}").shuffle(values)
    return before + [(t, v) for (t, _), v in zip(after, values, strict=True)]


def _garbage_after_cut(source: str, key: str, points: list[tuple[float, Any]]):
    def junk(value: Any) -> Any:
        if isinstance(value, list) and all(isinstance(x, int | float) for x in value):
            return [1.0, 1e9, 0.5, 7.0, 1.0]  # a candle no market ever printed
        return -1e15 if isinstance(value, int | float) else value

    return [(t, v if t <= CUT.timestamp() else junk(v)) for t, v in points]


def _truncate_after_cut(source: str, key: str, points: list[tuple[float, Any]]):
    return [(t, v) for t, v in points if t <= CUT.timestamp()]


@pytest.mark.parametrize(
    "change",
    [_shuffle_after_cut, _garbage_after_cut, _truncate_after_cut],
    ids=["shuffled", "garbage", "truncated"],
)
def test_changing_the_future_never_changes_a_past_decision(
    march: Study, replay_dir: Path, tmp_path: Path, change
):
    store = rewrite_store(replay_dir, tmp_path / "future", change)
    strategy = load(FIXTURE, registry.catalogue())
    other = run_backtest(
        strategy, store=store, start=utc("2023-03-01"), end=utc("2023-03-31"), out_dir=tmp_path
    )
    original = decision_records(march.result.audit_path)
    changed = decision_records(other.audit_path)
    decided = ("verdict", "action", "blocked_by", "trace", "observations", "risk", "order")
    for as_of, record in original.items():
        if as_of < "2023-03-12":
            # Filled at opens at or before the cut: the whole record is the same, hash included.
            assert changed[as_of] == record, as_of
        elif as_of == "2023-03-12T00:00:00Z":
            assert {k: changed[as_of][k] for k in decided} == {k: record[k] for k in decided}
    # ... while the future did change what the strategy saw later (the test has teeth).
    later = [a for a in original if a > "2023-03-12"]
    assert any(changed[a]["trace"] != original[a]["trace"] for a in later)
    assert other.equity[:12] == march.result.equity[:12]  # every point up to 03-12's close
    assert other.equity[11].time == CUT


# --- metrics arithmetic ---------------------------------------------------------------------------


def test_max_drawdown_with_its_dates():
    times = [utc("2024-01-01") + i * DAY for i in range(6)]
    dd = max_drawdown(times, [100, 120, 90, 95, 130, 104])
    assert dd.depth == pytest.approx(90 / 120 - 1)  # -25%: 104/130 - 1 = -20% is shallower
    assert (dd.peak, dd.trough, dd.recovered) == (times[1], times[2], times[4])
    never = max_drawdown(times[:3], [100, 80, 90])
    assert (never.depth, never.recovered) == (pytest.approx(-0.2), None)
    assert max_drawdown(times[:3], [1, 2, 3]).depth == 0.0


def test_a_drawdown_peak_is_where_the_fall_began_not_where_the_high_was_first_reached():
    # Flat at 100 for three marks, then one day's fall: the peak is the last mark at 100 before
    # the trough (pyfolio's convention), so the table does not read a three-day fall.
    times = [utc("2024-01-01") + i * DAY for i in range(6)]
    dd = max_drawdown(times, [100, 100, 100, 90, 100, 95])
    assert (dd.peak, dd.trough, dd.recovered) == (times[2], times[3], times[4])
    assert not dd.from_start
    assert [str(d) for d in dd.dates()] == ["2024-01-02", "2024-01-03", "2024-01-04"]
    # Back at an earlier high after a smaller fall: the deepest fall begins at the second 120.
    later = max_drawdown(times, [100, 120, 110, 120, 90, 120])
    assert (later.peak, later.trough, later.recovered) == (times[3], times[4], times[5])
    # The starting cash is the peak only when the curve leaves it at once.
    flat_start = max_drawdown(times[:3], [100, 100, 90])
    assert (flat_start.peak, flat_start.from_start) == (times[1], False)
    assert str(flat_start.dates()[0]) == "2024-01-01"  # the close the second mark holds
    at_once = max_drawdown(times[:3], [100, 90, 100])
    assert (at_once.peak, at_once.from_start) == (times[0], True)
    assert str(at_once.dates()[0]) == "2024-01-01"  # the day the run starts


def test_cagr_and_annualisation():
    assert cagr(100, 121, timedelta(days=730)) == pytest.approx(0.10)
    assert cagr(100, 50, timedelta(days=365)) == pytest.approx(-0.5)
    assert cagr(100, 121, timedelta(0)) is None
    assert periods_per_year(DAY) == 365
    assert periods_per_year(timedelta(hours=1)) == 8760


def test_sharpe_and_sortino_on_a_hand_series():
    returns = [0.01, -0.02, 0.03, 0.0]
    # mean 0.005; sample std sqrt(0.0013 / 3); downside sqrt(0.02^2 / 4) = 0.01
    assert sharpe(returns, 365) == pytest.approx(0.005 / (0.0013 / 3) ** 0.5 * 365**0.5)
    assert sharpe(returns, 365) == pytest.approx(4.588866, abs=1e-6)
    assert sortino(returns, 365) == pytest.approx(0.005 / 0.01 * 365**0.5)
    rf = 1.05 ** (1 / 365) - 1  # 5% a year, per day
    excess = [r - rf for r in returns]
    mean = sum(excess) / 4
    std = (sum((x - mean) ** 2 for x in excess) / 3) ** 0.5
    assert sharpe(returns, 365, risk_free=0.05) == pytest.approx(mean / std * 365**0.5)
    assert sharpe([0.01, 0.01, 0.01], 365) is None  # no variance: undefined, not infinite
    assert sortino([0.01, 0.02], 365) is None  # no downside
    assert sharpe([0.01], 365) is None


def test_wilson_interval_on_known_values():
    assert wilson_interval(9, 10) == pytest.approx((0.59585, 0.98212), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(0, 0) is None


def test_binomial_p_value_on_known_values():
    assert binomial_p_value(9, 10) == 0.021484375  # 2 x (10 + 1) / 1024, exactly
    assert binomial_p_value(1, 10) == 0.021484375
    assert binomial_p_value(5, 10) == 1.0
    assert binomial_p_value(0, 10) == 2 / 1024
    assert binomial_p_value(7, 20) == pytest.approx(0.263176, abs=1e-6)  # R: binom.test(7, 20)
    assert binomial_p_value(7, 10, Fraction(3, 10)) == pytest.approx(0.010592, abs=1e-6)
    assert binomial_p_value(0, 0) == 1.0


def test_exposure_and_a_summary_of_a_small_curve():
    assert exposure([True, False, True, True]) == 0.75
    assert exposure([]) == 0.0
    t0 = utc("2024-01-01")
    curve = [
        EquityPoint(t0, Decimal(100), Decimal(100), False),
        EquityPoint(t0 + DAY, Decimal(110), Decimal(10), True),
        EquityPoint(t0 + 2 * DAY, Decimal(99), Decimal(99), False),
    ]
    metrics = summarize(curve, (), Decimal("0.5"), DAY)
    assert metrics.total_return == pytest.approx(-0.01)
    assert metrics.drawdown.depth == pytest.approx(-0.1)
    assert metrics.exposure == 0.5
    assert metrics.periods == 2 and metrics.periods_per_year == 365
    assert (metrics.trades, metrics.win_rate.rate, metrics.fees) == (0, None, Decimal("0.5"))


def test_round_trips_group_fills_per_position():
    def leg(side: Side, quantity: str, price: str, day: int, fee: str = "1") -> Leg:
        at = utc("2024-01-01") + day * DAY
        return Leg(
            f"dec-{day}", at, "BTC", side, Decimal(quantity), Decimal(price), Decimal(fee), at
        )

    trades = round_trips(
        [
            leg(Side.BUY, "1", "100", 0),
            leg(Side.BUY, "1", "120", 1),
            leg(Side.SELL, "2", "130", 2),
            leg(Side.BUY, "1", "90", 3),
        ]
    )
    closed, still_open = trades
    assert closed.closed and not still_open.closed
    assert closed.entry_price == Decimal(110)
    assert closed.pnl == Decimal(260) - Decimal(220) - Decimal(3)
    assert closed.ret == pytest.approx(37 / 222)
    assert [leg.decision_id for leg in closed.entries] == ["dec-0", "dec-1"]
    assert (still_open.pnl, still_open.exit_time) == (None, None)
    metrics = summarize(
        [EquityPoint(utc("2024-01-01"), Decimal(1), Decimal(1), False)] * 2,
        trades,
        Decimal(4),
        DAY,
    )
    assert (metrics.trades, metrics.open_trades, metrics.win_rate.wins) == (1, 1, 1)


# --- filter accounting ----------------------------------------------------------------------------


def synthetic_bars() -> Bars:
    """Daily bars closing 01-02 .. 01-10; bar i opens at 100 + i and closes at 100 + i + 1,
    except a crash in the bars opening 01-05 .. 01-07."""
    start = utc("2024-01-02").timestamp()
    closes = [101.0, 102.0, 103.0, 90.0, 80.0, 85.0, 110.0, 111.0, 112.0]
    opens = [100.0, 101.0, 102.0, 103.0, 90.0, 80.0, 85.0, 110.0, 111.0]
    times = np.array([start + i * 86400 for i in range(9)])
    return Bars("BTC", 86400, times, np.array(opens), np.array(closes))


def blocked(day: str, action: str = "BUY") -> Decision:
    return Decision(f"dec-{day}", utc(day), "BTC", "BLOCKED", action, ("veto",), "", ())


def test_filter_accounting_on_a_synthetic_decision_set():
    paper = PaperConfig(fee_bps=Decimal(10), slippage_bps=Decimal(5))
    decisions = [
        blocked("2024-01-02"),  # enters at the 01-02 open 101, exits at the 01-05 close 90
        blocked("2024-01-05"),  # enters at 80 (01-05 open? no: 90), exits at the 01-08 close 110
        blocked("2024-01-08"),  # 3 days later is past the data: unresolved
        blocked("2024-01-03", "SELL"),  # sells at 102, buys back at the 01-06 close 80
    ]
    result = account(decisions, {"BTC": synthetic_bars()}, timedelta(hours=72), paper)
    first, second, third, fourth = result.items
    assert (first.entry_price, first.exit_price) == (Decimal("101.0"), Decimal("90.0"))
    assert first.exit_time == utc("2024-01-05")
    assert first.gross_return == pytest.approx(90 / 101 - 1)
    costs = (1 - 0.0005) * (1 - 0.001) / ((1 + 0.0005) * (1 + 0.001))
    assert first.net_return == pytest.approx(90 / 101 * costs - 1)
    assert first.outcome == LOSS  # the block avoided a loss
    assert (second.entry_price, second.exit_price) == (Decimal("90.0"), Decimal("110.0"))
    assert second.outcome == PROFIT  # the block cost a profit: a false positive
    assert third.outcome == UNRESOLVED and "data ends" in (third.note or "")
    assert fourth.gross_return == pytest.approx(102 / 80 - 1)  # sold before the fall
    assert fourth.outcome == PROFIT
    assert (result.total, result.resolved, result.losers, result.winners) == (4, 3, 1, 2)
    assert result.false_positive_rate == pytest.approx(2 / 3)


def test_filter_accounting_on_the_banking_crisis_fixture(march: Study):
    result, baseline = march.result, march.baseline
    assert baseline is not None
    (block,) = result.blocked.items
    rows = raw_daily()
    entry, exit_ = Decimal(rows["2023-03-12"]["Open"]), Decimal(rows["2023-03-14"]["Close"])
    assert (block.as_of, block.blocked_by, block.action) == (
        utc("2023-03-12"),
        ("usdc_outflow",),
        "BUY",
    )
    assert (block.entry_price, block.entry_time) == (entry, utc("2023-03-12"))
    assert (block.exit_price, block.exit_time) == (exit_, utc("2023-03-15"))  # 72h later
    costs = (1 - Decimal("0.0005")) * (1 - Decimal("0.001"))
    costs /= (1 + Decimal("0.0005")) * (1 + Decimal("0.001"))
    assert block.net_return == pytest.approx(float(exit_ / entry * costs - 1))
    assert block.outcome == PROFIT  # BTC rallied 20% after the USDC depeg: a false positive
    assert result.blocked.false_positive_rate == 1.0
    # Without the veto the same BUY would have been denied anyway (the 3-day cooldown).
    without = march.baseline_decision(block)
    assert without is not None
    assert (without.verdict, without.status) == ("BUY", "NOT_EXECUTED")
    assert "COOLDOWN" in without.denials
    assert march.blocks_that_mattered == 0
    # The baseline is the same strategy minus its vetoes, through the same backtest.
    assert baseline.strategy.name == "Banking_Crisis_Pipeline_no_vetoes"
    assert baseline.strategy.tree.vetoes == ()
    assert baseline.blocked.total == 0
    verdicts = {d.as_of: d.verdict for d in result.decisions}
    assert {d.as_of: d.verdict for d in baseline.decisions} == {
        **verdicts,
        utc("2023-03-12"): "BUY",
    }
    assert baseline.metrics.total_return == result.metrics.total_return
    assert (result.signals.total, result.signals.losers) == (1, 0)


def test_without_vetoes_compiles_the_document_minus_its_vetoes():
    dip = load(ROOT / "strategies" / "banking_crisis_dip.yaml", registry.catalogue())
    bare = without_vetoes(dip)
    assert bare is not None
    assert bare.tree.vetoes == () and bare.content_hash != dip.content_hash
    assert bare.tree.entry.text == dip.tree.entry.text
    assert "vetoes" not in bare.document["strategy"]
    assert bare.document["strategy"]["rules"] == dip.document["strategy"]["rules"]
    assert bare.file.endswith("(vetoes removed)")
    baseline = load(ROOT / "strategies" / "technical_baseline.yaml", registry.catalogue())
    assert without_vetoes(baseline) is None


# --- input errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2023-03-05", "2023-03-01", "the period ends (2023-03-01T00:00:00Z) before it starts"),
        ("2010-01-01", "2010-01-31", "no 1d BTC candles between 2009-12-31T00:00:00Z"),
    ],
)
def test_bad_periods_are_refused(replay_dir: Path, tmp_path: Path, start, end, message):
    strategy = load(FIXTURE, registry.catalogue())
    with pytest.raises(Exception, match=r"^" + message.replace("(", r"\(").replace(")", r"\)")):
        run_backtest(
            strategy,
            store=SnapshotStore(replay_dir),
            start=utc(start),
            end=utc(end),
            out_dir=tmp_path,
        )


# --- the command ----------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_backtest_command_prints_the_side_by_side_table_and_writes_the_report(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # the default report folder is reports/<file name>
    result = invoke(
        "backtest", str(FIXTURE), "--from", "2023-03-01", "--to", "2023-03-31",
        "--data", str(replay_dir),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Banking_Crisis_Pipeline · BTC · 2023-03-01 → 2023-03-31 · 31 periods of 1d",
        "metric                       strategy     vetoes removed   buy & hold",
        "─────────────────────────────────────────────────────────────────────",
    ]
    assert [line.split()[0] for line in lines[3:19]] == [
        "total", "CAGR", "max", "drawdown", "drawdown", "recovered", "Sharpe", "Sortino",
        "trades", "win", "p", "exposure", "fees", "end", "false", "blocked",
    ]  # fmt: skip
    assert lines[18:21] == [
        "blocked decisions                   1                  0            —",
        "  by passing veto                   1                  0            —",
        "  failed closed                     0                  0            —",
    ]
    assert lines[21:24] == [
        "filter (usdc_outflow): 1 decision blocked (1 by a passing veto, 0 failed closed: veto "
        "data UNKNOWN); each blocked trade played out over 3d",
        "  by a passing veto: 1 block; the blocked trade would have lost 0 times (loss avoided) "
        "and gained 1 time (profit missed), 0 unresolved; false-positive rate 100% (1 of 1 "
        "resolved); mean net return +20.24%",
        "  failed closed (veto data UNKNOWN, no evidence for the veto): none",
    ]
    baseline_line = (
        "the vetoes-removed baseline at the 1 blocked time: 1 denied MAX_POSITION+COOLDOWN"
    )
    assert baseline_line in lines
    assert (
        "Sharpe/Sortino: risk-free rate 0.00% a year; annualised with 365 periods a year "
        "(1d periods, 365-day year)"
    ) in lines
    # A 99% VaR needs 100 returns (with fewer its quantile is the single worst): it said
    # '99% — / —' and never why.
    assert (
        "VaR / CVaR of one 1d period (over the run's returns): historical 95% 0.01% / 0.03%, "
        "99% — / —; parametric 95% 0.16% / 0.21%, 99% — / — (99% needs 100 periods; the run "
        "has 31)"
    ) in lines
    # Its one closed trade won: the profit factor has no losing trade to divide by. It said
    # 'profit factor —', as for a run without a trade.
    (closed,) = [line for line in lines if line.startswith("closed trades: ")]
    assert closed.startswith(
        "closed trades: 1, profit factor ∞ (no losing trade), expectancy +90.45 USDT (+18.06%) "
    ), closed
    # The file's name, not the strategy's (Banking_Crisis_Pipeline): one file, one folder.
    assert "report: reports/banking_crisis_pipeline/report.html" in lines
    assert [p.name for p in (tmp_path / "reports").iterdir()] == ["banking_crisis_pipeline"]
    folder = tmp_path / "reports" / "banking_crisis_pipeline"
    written = sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))
    assert written == [
        "backtest.db", "baseline.db", "charts.json", "metrics.json", "report.html", "trades.csv",
    ]  # fmt: skip
    metrics = json.loads((folder / "metrics.json").read_text(), parse_constant=_no_constant)
    assert metrics["metrics"]["risk_free_rate"] == 0.0
    assert metrics["metrics"]["periods_per_year"] == 365.0
    trades = metrics["extended"]["trades"]  # JSON has no infinity: null, with the gross sums
    assert (trades["profit_factor"], trades["gross_loss"]) == (None, "0")
    assert metrics["blocked"]["cost_profit"] == 1
    assert metrics["blocked"]["by_passing_veto"]["cost_profit"] == 1
    assert metrics["blocked"]["failed_closed"]["total"] == 0
    assert metrics["blocked"]["decisions"][0]["failed_closed"] is False
    assert metrics["blocked"]["decisions"][0]["without_vetoes"]["status"] == "NOT_EXECUTED"
    assert metrics["baseline"]["strategy"]["name"] == "Banking_Crisis_Pipeline_no_vetoes"
    page = (folder / "report.html").read_text()
    # The charts are drawn by plotly.js, inlined (tests/test_report_html.py has the rest).
    assert page.count("Plotly.newPlot(") == 2
    assert "Filter accounting" in page
    assert "<td>profit factor</td><td>∞ (no losing trade)</td>" in page
    # The blocked decision is in the audit log, for `signalops why`.
    why = invoke("why", metrics["blocked"]["decisions"][0]["decision_id"], "--audit",
                 str(folder / "backtest.db"))  # fmt: skip
    assert why.stdout.splitlines()[0] == (
        "BTC at 2023-03-12T00:00:00Z: would have bought but BLOCKED by veto usdc_outflow"
    )


def _no_constant(name: str) -> None:
    raise AssertionError(f"metrics.json holds {name}: not JSON")


def test_backtest_command_without_baseline_has_three_columns(replay_dir: Path, tmp_path: Path):
    result = invoke(
        "backtest", str(FIXTURE), "--from", "2023-03-08", "--to", "2023-03-16",
        "--data", str(replay_dir), "--report", str(tmp_path / "r"), "--no-baseline",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "metric                       strategy    buy & hold"
    assert not (tmp_path / "r" / "baseline.db").exists()


@pytest.mark.parametrize(("horizon", "shown"), [("7d", "7d"), ("168h", "7d"), ("36h", "36h")])
def test_the_filter_horizon_is_shown_in_its_largest_whole_unit(
    replay_dir: Path, tmp_path: Path, horizon: str, shown: str
):
    # --horizon 7d was labelled 'false signals (168h)': the hours it holds, not what was asked.
    result = invoke(
        "backtest", str(FIXTURE), "--from", "2023-03-01", "--to", "2023-03-31", "--horizon",
        horizon, "--data", str(replay_dir), "--report", str(tmp_path / "r"), "--no-baseline",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split("  ")[0] for line in lines if line.startswith("false")] == [
        f"false signals ({shown})"
    ]
    assert any(line.endswith(f"each blocked trade played out over {shown}") for line in lines)
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f"false signals ({shown})" in page and f"over {shown}" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2023-13-01", "--to", "2023-03-31"], "error: --from: '2023-13-01' is not a"),
        (["--from", "2023-03-01", "--to", "soon"], "error: --to: 'soon' is not a date"),
        (["--from", "2010-03-01", "--to", "2010-03-31"], "error: no 1d BTC candles between"),
        (["--from", "2023-03-02", "--to", "2023-03-01"], "error: the period ends"),
        (["--from", "2023-03-01", "--to", "2023-03-02", "--every", "often"], "error: --every:"),
        (["--from", "2023-03-01", "--to", "2023-03-02", "--asset", "DOGE"], "error: no recorded"),
        (
            ["--from", "2023-03-01", "--to", "2023-03-02", "--horizon", "1h"],
            "error: the filter horizon (1h) is shorter than one 1d bar",
        ),
    ],
)
def test_backtest_command_refuses_bad_input_with_an_error_line(
    replay_dir: Path, tmp_path: Path, args: list[str], message: str
):
    result = invoke(
        "backtest", str(FIXTURE), *args, "--data", str(replay_dir), "--report", str(tmp_path)
    )
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr


def test_backtest_command_without_snapshots_says_how_to_make_them(tmp_path: Path):
    missing = tmp_path / "missing"
    result = invoke(
        "backtest", str(FIXTURE), "--from", "2023-03-01", "--to", "2023-03-31",
        "--data", str(tmp_path / "missing"),
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {missing}: no snapshot folder: make it with 'signalops data import --to "
        f"{missing}' (the bundled data) or 'signalops data download --source ... --asset ... "
        f"--to {missing}'\n"
    )


def test_a_snapshot_file_given_for_its_folder_is_told_the_folder(replay_dir: Path):
    """It said to make the folder with 'signalops data import --to .../technical.jsonl', which
    fails: the file is one of the folder's."""
    one = replay_dir / "technical.jsonl"
    result = CliRunner().invoke(
        cli,
        ["backtest", str(FIXTURE), "--from", "2023-03-01", "--to", "2023-03-31", "--data",
         str(one)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {one}: a file, not a snapshot folder: give the folder it is in ({replay_dir})\n"
    )


def test_blocks_whose_veto_had_no_data_are_counted_as_failed_closed_not_as_the_veto_working(
    replay_dir: Path, tmp_path: Path
):
    # The election market's recorded odds do not cover these days: the veto is UNKNOWN and the
    # pipeline blocks rather than trade blind. Those "losses avoided" are no evidence for it.
    out = tmp_path / "report"
    result = invoke(
        "backtest", str(ROOT / "strategies" / "election_odds_gate.yaml"), "--from", "2024-10-01",
        "--to", "2025-01-31", "--data", str(replay_dir), "--report", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # What the README quotes of the demo's run (its --report reports/election_odds_gate): the
    # metric the veto could not read, how often, and why.
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    demo = "reports/election_odds_gate/backtest.db"
    quoted = [
        line + "\n"
        for line in readme.splitlines()
        if line.startswith("note: polymarket(") and demo in line
    ]
    assert len(quoted) == 2
    assert result.stderr == "".join(quoted).replace(demo, str(out / "backtest.db"))
    # The report says them too (it said none of them).
    page = (out / "report.html").read_text(encoding="utf-8")
    for line in result.stderr.splitlines():
        assert f"<p class=note>{html.escape(line)}</p>" in page
    lines = result.stdout.splitlines()
    assert lines[18:21] == [
        "blocked decisions                  11                  0            —",
        "  by passing veto                   0                  0            —",
        "  failed closed                    11                  0            —",
    ]
    assert lines[21:24] == [
        "filter (election_odds): 11 decisions blocked (0 by a passing veto, 11 failed closed: "
        "veto data UNKNOWN); each blocked trade played out over 3d",
        "  by a passing veto: none",
        "  failed closed (veto data UNKNOWN, no evidence for the veto): 11 blocks; the blocked "
        "trade would have lost 7 times (loss avoided) and gained 4 times (profit missed), 0 "
        "unresolved; false-positive rate 36% (4 of 11 resolved); mean net return -1.62%",
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["blocked"]["failed_closed"]["avoided_loss"] == 7
    assert metrics["blocked"]["by_passing_veto"]["total"] == 0
    assert all(item["failed_closed"] for item in metrics["blocked"]["decisions"])


def notes_of(args: list[str]) -> str:
    """What ``signalops backtest ARGS`` says on stderr (it must succeed)."""
    result = CliRunner().invoke(cli, ["backtest", *args], prog_name="signalops")
    assert result.exit_code == 0, result.output
    return result.stderr


def test_a_backtest_from_before_its_first_candle_notes_it_and_holds_cash_until_then(
    replay_dir: Path, tmp_path: Path
):
    """It stopped with ZeroDivisionError: buy-and-hold valued the asset it had not bought yet
    (no candle) at nothing, and its curve fell to the leftover cash."""
    hourly = ROOT / "tests" / "fixtures" / "hourly_rsi.yaml"
    args = [
        str(hourly), "--data", str(replay_dir), "--from", "2020-10-07", "--to", "2020-10-20",
        "--report", str(tmp_path),
    ]  # fmt: skip
    # The bundled hourly file's first row closes at 2020-10-07 19:00 UTC: 19 hours in.
    assert notes_of(args) == (
        "note: the 1h BTC candles start at 2020-10-07T19:00:00Z, after the first decision "
        "(2020-10-07T00:00:00Z): 19 decisions before could price no order, and the metrics "
        "count that time as cash\n"
        # Those 19, and the first 42 with candles (too few for RSI(14)'s 43), read no RSI.
        "note: rsi(14) (technical) was UNKNOWN at 61 of 313 decisions of BTC: "
        "INSUFFICIENT_HISTORY: rsi needs 43 closed 1h candles, 0 available (the first: "
        f"signalops why dec-9b10fdb75cdbf6839f006ba1 --audit {tmp_path / 'backtest.db'})\n"
    )
    metrics = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["buy_and_hold"]["total_return"] is not None


def test_a_backtest_past_the_end_of_its_candles_notes_the_decisions_that_could_not_trade(
    replay_dir: Path, tmp_path: Path
):
    """It said nothing: the metrics counted a month after the data ended, the asset frozen at
    its last close, and only log lines told of the orders that found no price."""
    hourly = ROOT / "tests" / "fixtures" / "hourly_rsi.yaml"
    args = [
        str(hourly), "--data", str(replay_dir), "--from", "2025-10-06", "--to", "2025-10-07",
        "--report", str(tmp_path), "--no-baseline",
    ]  # fmt: skip
    # The bundled hourly file's last row opens at 2025-10-06 17:00 UTC: decisions from 18:00
    # to 00:00 could fill at no bar.
    assert notes_of(args) == (
        "note: the 1h BTC candles end at 2025-10-06T18:00:00Z, before the last decision "
        "(2025-10-07T00:00:00Z): 7 decisions after could price no order, and the metrics "
        "value BTC at that last close from then on\n"
        # From 21:00 the last close (18:00) is past the strategy's 2h max age.
        "note: rsi(14) (technical) was UNKNOWN at 4 of 25 decisions of BTC: STALE: the data is "
        "from 2025-10-06T18:00:00Z (3h old, max 2h) (the first: signalops why "
        f"dec-038e7ae9bc0f65d6bc498156 --audit {tmp_path / 'backtest.db'})\n"
    )


def test_a_fill_after_a_gap_in_the_candles_is_noted(tmp_path: Path):
    """It said nothing: with a day missing from the file, the 2023-03-10 BUY filled at the next
    bar's open, a day late (with sessions missing from a stock's file, sessions late)."""
    daily = (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").read_text(encoding="utf-8")
    gap = tmp_path / "btc_gap.csv"
    gap.write_text(
        "".join(line for line in daily.splitlines(True) if ",2023-03-10,BTCUSDT," not in line),
        encoding="utf-8",
    )
    replay = tmp_path / "replay"
    made = CliRunner().invoke(
        cli,
        [
            "data",
            "import",
            str(gap),
            "--source",
            "technical",
            "--asset",
            "BTC",
            "--to",
            str(replay),
        ],
    )
    assert made.exit_code == 0, made.output
    args = [
        str(STRATEGIES / "technical_baseline.yaml"), "--data", str(replay), "--from",
        "2023-01-01", "--to", "2023-06-30", "--report", str(tmp_path / "r"), "--no-baseline",
    ]  # fmt: skip
    assert notes_of(args) == (
        "note: the 1d BTC candles have gaps: 1 fill came at a bar opening after the next "
        "decision (the first decided at 2023-03-10T00:00:00Z filled at the open of "
        "2023-03-11T00:00:00Z)\n"
    )


def test_a_stock_beside_crypto_filled_at_the_next_session_is_no_gap(
    usd_coin_dir: Path, tmp_path: Path
):
    """Review: with BTC in the run it decides on Good Friday 2022 too, and AAPL's order then
    filled at Monday's opening, which the note called a gap in AAPL's candles. (BTC is quoted
    in USD as AAPL is: one account holds one currency.)"""
    config = tmp_path / "signalops.yaml"
    equities = (ROOT / "examples" / "signalops.equities.yaml").read_text(encoding="utf-8")
    config.write_text(with_usd_coin(equities), encoding="utf-8")
    buy_all = tmp_path / "buy_all.yaml"
    buy_all.write_text(
        'strategy:\n  name: "BuyAll"\n  assets: ["BTC"]\n  rules:\n'
        '    - {id: a, source: technical, conditions: [{when: "close > 1"}]}\n'
        "  execution: {position_size: 0.02, action_mode: paper}\n",
        encoding="utf-8",
    )
    args = [
        str(buy_all), "--universe", "BTC,AAPL", "--config", str(config), "--data",
        str(usd_coin_dir), "--from", "2022-04-10", "--to",
        "2022-04-20", "--report", str(tmp_path / "r"), "--no-baseline",
    ]  # fmt: skip
    assert "have gaps" not in notes_of(args)


def all_in(tmp_path: Path, assets: str = '["BTC"]') -> Path:
    """technical_baseline.yaml with ``position_size: 1.0``: 100% of equity at every BUY."""
    path = tmp_path / "all_in.yaml"
    text = (STRATEGIES / "technical_baseline.yaml").read_text(encoding="utf-8")
    text = text.replace("position_size: 0.05", "position_size: 1.0")
    path.write_text(text.replace('assets: ["BTC"]', f"assets: {assets}"), encoding="utf-8")
    return path


def test_a_backtest_that_bought_nothing_says_what_stopped_every_buy(
    replay_dir: Path, tmp_path: Path
):
    """It said "trades 0" and nothing else: position_size 1.0 is denied MAX_POSITION under the
    default limits."""
    period = ["--data", str(replay_dir), "--from", "2022-01-01", "--to", "2022-03-31"]
    denied = notes_of(
        [str(all_in(tmp_path)), *period, "--report", str(tmp_path / "d"), "--no-baseline"]
    )
    assert re.fullmatch(
        r"note: nothing was bought: the risk gate denied every BUY, 7 BUYs \(MAX_POSITION 7 at "
        r"limit 10%, MAX_EXPOSURE 7 at limit 50%; the last: signalops why dec-[0-9a-f]{24} "
        r"--audit \S+/backtest\.db\)\n",
        denied,
    ), denied


def test_entries_the_default_max_notional_denied_after_a_winning_trade_are_noted(
    replay_dir: Path, tmp_path: Path
):
    """It said "trades 1" and nothing else: an all-in trend strategy outgrew the default
    max_notional of 10,000 after its first winning trade, and every later entry was denied."""
    (tmp_path / "limits.yaml").write_text(
        "risk: {max_position: 1, max_exposure: 1, cooldown: 0s}\n", encoding="utf-8"
    )
    trend = (
        all_in(tmp_path).read_text(encoding="utf-8").replace("rsi(14) < 30", "sma(20) > sma(50)")
    )
    (tmp_path / "trend.yaml").write_text(trend, encoding="utf-8")
    args = [
        str(tmp_path / "trend.yaml"), "--data", str(replay_dir), "--from", "2023-01-01", "--to",
        "2024-12-31", "--config", str(tmp_path / "limits.yaml"), "--report", str(tmp_path / "r"),
        "--no-baseline",
    ]  # fmt: skip
    assert re.fullmatch(
        r"note: the risk gate denied 16 of 17 BUYs made while the book held none of the asset "
        r"\(MAX_NOTIONAL 16 at limit 10,000\.00; the last: signalops why dec-[0-9a-f]{24} "
        r"--audit \S+/backtest\.db\)\n",
        notes_of(args),
    )


def test_an_entry_denied_by_the_cooldown_names_its_limit_as_a_duration(
    replay_dir: Path, tmp_path: Path
):
    (tmp_path / "cd.yaml").write_text(
        "risk: {max_position: 1, max_exposure: 1, cooldown: 30d}\n", encoding="utf-8"
    )
    trend = (
        all_in(tmp_path).read_text(encoding="utf-8").replace("rsi(14) < 30", "sma(20) > sma(50)")
    )
    trend = trend.replace("position_size: 1.0", "position_size: 0.5")
    (tmp_path / "trend.yaml").write_text(trend, encoding="utf-8")
    args = [
        str(tmp_path / "trend.yaml"), "--data", str(replay_dir), "--from", "2023-01-01", "--to",
        "2024-12-31", "--config", str(tmp_path / "cd.yaml"), "--report", str(tmp_path / "r"),
        "--no-baseline",
    ]  # fmt: skip
    assert "COOLDOWN 1 at limit 30d;" in notes_of(args)


def test_candles_in_another_quote_currency_are_told_so_not_to_be_routed(
    replay_dir: Path, tmp_path: Path
):
    """It said to route BTC to a venue of exchange binance, or pass --venue binance: BTC was on
    binance already, in USDC pairs where the data holds USDT ones."""
    (tmp_path / "usdc.yaml").write_text(
        "venues: {binance: {exchange: binance, quote: USDC}}\n", encoding="utf-8"
    )
    result = CliRunner().invoke(
        cli,
        ["backtest", str(STRATEGIES / "technical_baseline.yaml"), "--config",
         str(tmp_path / "usdc.yaml"), "--data", str(replay_dir), "--from", "2023-01-01", "--to",
         "2023-03-01"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.endswith(
        "(series candles/binance/BTC/USDC/1d): the data has them as series "
        "candles/binance/BTC/USDT/1d, in USDT, not the venue's quote currency USDC: give venue "
        "binance quote: USDT in the config, or download or import BTC in USDC\n"
    )


def test_an_all_in_backtest_leaves_room_for_the_fee_and_trades(replay_dir: Path, tmp_path: Path):
    """Under limits that allow it, each BUY of position_size 1.0 failed at the paper broker
    (10,000 of BTC and its fee and slippage, 10,015.00, over 10,000 of cash): trades 0, and a
    note. Sized to leave room for them, the first fills at the next open (BTC's is the close
    it was sized at) and the run trades."""
    (tmp_path / "limits.yaml").write_text("risk: {max_position: 1, max_exposure: 1}\n")
    args = [
        str(all_in(tmp_path)), "--data", str(replay_dir), "--from", "2022-01-01", "--to",
        "2022-03-31", "--config", str(tmp_path / "limits.yaml"), "--report", str(tmp_path / "f"),
        "--no-baseline",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, ["backtest", *args], prog_name="signalops")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert re.search(r"^trades +1 +—$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^fees \(USDT\) +19\.97 +9\.99$", result.stdout, re.MULTILINE)


def test_an_all_in_buy_of_a_stock_opening_above_its_close_buys_what_the_cash_allows_and_says_so(
    replay_dir: Path, tmp_path: Path
):
    """Sizing leaves room for the fee at the decision's price; AAPL opened 2019-01-04 1.6%
    above the close it was sized at, and 100% of the cash cannot pay that. The order failed
    (INSUFFICIENT_FUNDS): an all-in strategy on stocks missed every entry after a gap up. It
    buys what the cash allows, and the note says so."""
    equities = (ROOT / "examples" / "signalops.equities.yaml").read_text(encoding="utf-8")
    limits = "  max_data_age: 4d\n  max_position: 1\n  max_exposure: 1\n"
    config = tmp_path / "signalops.yaml"
    config.write_text(equities.replace("  max_data_age: 4d\n", limits), encoding="utf-8")
    strategy = all_in(tmp_path, '["AAPL"]')
    strategy.write_text(strategy.read_text("utf-8") + "  defaults: {max_age: 4d}\n", "utf-8")
    args = [
        str(strategy), "--data", str(replay_dir), "--from", "2019-01-01", "--to", "2019-01-10",
        "--config", str(config), "--report", str(tmp_path / "r"), "--no-baseline",
    ]  # fmt: skip
    said = notes_of(args)
    cut = "".join(line for line in said.splitlines(True) if line.startswith("note:"))
    assert re.fullmatch(
        r"note: 1 BUY filled less than ordered: the price rose between the decision and its "
        r"fill, and the cash allowed less \(the first, AAPL at 2019-01-04T00:00:00Z: "
        r"276\.36361697 of 280\.87250298; signalops why dec-[0-9a-f]{24} --audit "
        r"\S+/backtest\.db\)\n",
        cut,
    ), cut
    why = re.search(r"signalops why (\S+) --audit (\S+)\)", cut)
    assert why is not None
    said = CliRunner().invoke(cli, ["why", why[1], "--audit", why[2]], prog_name="signalops")
    assert [line for line in said.stdout.splitlines() if line.startswith(("ORDER", "EXEC"))] == [
        "ORDER: BUY 280.87250298 AAPL at 35.55 USD (notional 9,985.02 USD), client order "
        f"so-{why[1][4:]}",
        "EXECUTION: FILLED: paper BUY 276.36361697 AAPL at 36.1481 USD (fee 9.99 USD); "
        "280.87250298 ordered: the price rose to 36.13 USD before it filled, and the cash "
        "allowed less",
    ]


def test_the_periods_a_year_are_a_count_for_people(replay_dir: Path, tmp_path: Path):
    """Every 6h it said 'annualised with 1460 periods a year': no thousands separator."""
    args = [
        "backtest", str(STRATEGIES / "technical_baseline.yaml"), "--data", str(replay_dir),
        "--from", "2023-01-01", "--to", "2023-01-15", "--every", "6h", "--report",
        str(tmp_path), "--no-baseline",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args, prog_name="signalops")
    assert result.exit_code == 0, result.output
    assert (
        "Sharpe/Sortino: risk-free rate 0.00% a year; annualised with 1,460 periods a year "
        "(6h periods, 365-day year)\n"
    ) in result.stdout


def test_hourly_decisions_on_daily_candles_note_that_a_fill_is_booked_before_its_bar_opens(
    replay_dir: Path, tmp_path: Path
):
    strategy = STRATEGIES / "technical_baseline.yaml"  # daily candles
    period = ["--data", str(replay_dir), "--from", "2023-01-01", "--to", "2023-01-15"]
    hourly = [str(strategy), *period, "--every", "1h", "--report", str(tmp_path / "h")]
    assert notes_of(hourly) == (
        "note: decisions every 1h on 1d candles: an order fills at the next bar's open, up to "
        "1d after its decision, and is booked at its decision (the equity curve and the later "
        "decisions until that bar opens already hold the fill)\n"
    )
    assert notes_of([str(strategy), *period, "--report", str(tmp_path / "d")]) == ""
