"""A backtest whose decisions are further apart than its candles stops at the close of the
candle that opens at ``--to``, not one ``--every`` after its last decision.

Regression tests: ``backtest technical_baseline.yaml --from 2022-01-01 --to 2022-12-31
--every 7d`` marked its last period at 2023-01-07 (the close of 2023-01-06): the strategy, its
buy-and-hold (-63.38% instead of -64.26%) and the CAGR (over 371 days) ran a week past the
period the header shows; a weekly stock run counted three 2024 sessions in its annualisation.
The last periods now end at ``clock.window_end`` (BTC's 2022-12-31 candle closes at
2023-01-01 00:00 at 16,542.40), in both engines, the sweep's screen and walk-forward windows
(each at its own end). A step of one candle is unchanged (the goldens hold it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import STRATEGIES

from signalops import breakers, numbers
from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.backtest.clock import period_ends, window_end
from signalops.backtest.report import method_lines
from signalops.backtest.study import run_study
from signalops.backtest.sweep import Screen
from signalops.backtest.universe import breakdown
from signalops.config import BreakersConfig, load_config
from signalops.pipeline.summary import CycleSummary
from signalops.strategy import load, loads
from signalops.stress import scenario_backtests
from signalops.stress.scenario_backtests import would_trip

ROOT = Path(__file__).resolve().parents[2]
WEEK = timedelta(days=7)
FROM, TO = datetime(2022, 1, 1, tzinfo=UTC), datetime(2022, 12, 31, tzinfo=UTC)
NEW_YEAR = datetime(2023, 1, 1, tzinfo=UTC)  # the close of BTC's 2022-12-31 daily candle
CLOSE_2022 = Decimal("16542.4")
AAPL_TREND = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")
EQUITIES = load_config(ROOT / "examples" / "signalops.equities.yaml")


def weekly(store: SnapshotStore, out: Path, engine: str = "fast"):
    strategy = load(STRATEGIES / "technical_baseline.yaml", registry.catalogue())
    return run_backtest(
        strategy, store=store, start=FROM, end=TO, every=WEEK, out_dir=out, engine=engine
    )


def test_period_ends_cut_only_the_periods_past_the_window():
    times = [FROM + k * WEEK for k in range(53)]  # the last: 2022-12-31
    ends = period_ends(times, WEEK, window_end(TO, 86400))
    assert ends[:52] == [t + WEEK for t in times[:52]]
    assert ends[51] == datetime(2022, 12, 31, tzinfo=UTC) and ends[52] == NEW_YEAR


@pytest.mark.parametrize("engine", ["fast", "pipeline"])
def test_a_weekly_backtest_and_its_buy_and_hold_stop_at_the_close_of_to(
    replay_store: SnapshotStore, tmp_path: Path, engine: str
):
    result = weekly(replay_store, tmp_path / engine, engine)

    assert result.equity[-1].time == NEW_YEAR and result.buy_and_hold[-1].time == NEW_YEAR
    bars = result.prices["BTC"]
    assert bars.close_at(NEW_YEAR)[0] == CLOSE_2022
    paper = result.paper
    entry = Decimal(str(bars.next_open(FROM)[0])) * (1 + paper.slippage_bps / 10_000)
    held = paper.starting_cash / (entry * (1 + paper.fee_bps / 10_000))
    assert result.buy_and_hold[-1].equity == pytest.approx(held * CLOSE_2022, abs=Decimal("1e-6"))
    assert f"{result.buy_and_hold[-1].equity / paper.starting_cash - 1:.2%}" == "-64.26%"


def test_both_engines_give_the_same_weekly_backtest(replay_store: SnapshotStore, tmp_path: Path):
    fast, pipeline = (weekly(replay_store, tmp_path / e, e) for e in ("fast", "pipeline"))
    assert fast.equity == pipeline.equity and fast.metrics == pipeline.metrics


def test_the_sweeps_screen_marks_its_last_period_at_the_close_of_to(replay_store: SnapshotStore):
    screen = Screen(replay_store, "BTC", 86400, FROM, TO, WEEK)
    assert screen.prices.marks[-1] == float(CLOSE_2022)


def test_a_walk_forward_windows_screen_stops_at_the_windows_own_end(replay_store: SnapshotStore):
    # The last decision (06-25) + 7 days is past the window's end (06-29): cut there.
    end = datetime(2022, 6, 29, tzinfo=UTC)
    screen = Screen(replay_store, "BTC", 86400, FROM, end - timedelta(seconds=1), WEEK, until=end)
    bars = Screen(replay_store, "BTC", 86400, FROM, TO, WEEK).prices.bars
    assert screen.prices.marks[-1] == float(bars.close_at(end)[0])
    assert screen.prices.marks[-1] != float(bars.close_at(end + timedelta(days=3))[0])


def test_a_weekly_stock_runs_last_fill_is_marked_at_its_sessions_close(
    replay_store: SnapshotStore, tmp_path: Path
):
    # To a Saturday: its decision fills at Monday's open, after --to's "close" (Sunday 00:00).
    result = run_backtest(
        loads(AAPL_TREND), store=replay_store, start=FROM,
        end=datetime(2022, 7, 23, tzinfo=UTC), every=WEEK, out_dir=tmp_path, config=EQUITIES,
    )  # fmt: skip
    monday_close = result.prices["AAPL"].fill_close(datetime(2022, 7, 23, tzinfo=UTC))
    assert monday_close == datetime(2022, 7, 25, 20, tzinfo=UTC)  # 16:00 New York
    assert result.equity[-1].time == monday_close
    assert all(leg.filled_at <= result.equity[-1].time for leg in result.legs)


def test_a_universes_assets_count_the_last_decisions_fills(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = load(STRATEGIES / "technical_baseline.yaml", registry.catalogue())
    result = run_backtest(
        strategy, store=replay_store, start=FROM, end=datetime(2022, 1, 8, tzinfo=UTC),
        every=WEEK, out_dir=tmp_path, assets=["BTC", "ETH"],
    )  # fmt: skip
    parts = {part.asset: part for part in breakdown(result, {}).assets}
    # Both bought at the last decision: each held for the last period, as the portfolio was.
    assert {asset: part.exposure for asset, part in parts.items()} == {"BTC": 0.5, "ETH": 0.5}


def test_a_stress_breaker_sees_the_last_periods_equity(replay_store: SnapshotStore, tmp_path):
    # The drawdown breaker looked the last period's equity up at t + every, past the cut end
    # (2023-01-07 for a point at 2023-01-01): None, so that period was never checked.
    result = weekly(replay_store, tmp_path)
    cycles = [CycleSummary(t, (), 0, 0, 0.0) for t in result.times]
    seen, original = [], breakers.observe

    def observe(state, summary, equity, limits):  # what would_trip gives the breakers
        seen.append(equity)
        return original(state, summary, equity, limits)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scenario_backtests.breakers, "observe", observe)
        would_trip(cycles, result, BreakersConfig(max_drawdown=Decimal("0.99")))
    assert seen == [point.equity for point in result.equity[1:]]
    assert result.equity[-1].time == NEW_YEAR


def test_a_weekly_stock_run_says_its_periods_are_counted_in_sessions(
    replay_store: SnapshotStore, tmp_path: Path
):
    text = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")
    study = run_study(
        loads(text), store=replay_store, start=FROM, end=TO, every=WEEK, out_dir=tmp_path,
        config=load_config(ROOT / "examples" / "signalops.equities.yaml"),
    )  # fmt: skip
    per_year = study.result.metrics.periods_per_year
    assert method_lines(study)[0] == (
        "Sharpe/Sortino: risk-free rate 0.00% a year; annualised with "
        f"{numbers.number(per_year)} periods a year (7d periods counted in US equity "
        "sessions, 252 a year)"
    )
    # Its last decision (Saturday 12-31) fills at the next session's open (Tuesday, after New
    # Year's Day): the run ends at that session's close, not a week on.
    last = study.result.times[-1]
    assert last == datetime(2022, 12, 31, tzinfo=UTC)
    assert study.result.equity[-1].time == datetime(2023, 1, 3, 21, tzinfo=UTC)
