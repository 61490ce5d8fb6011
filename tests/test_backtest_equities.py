"""Backtests of US stocks on their configured venue (yfinance series), and the benchmark column.

Known answers come from the bundled daily price files (``examples/data/equities/prices/daily``),
not from the code under test: buy-and-hold of the S&P 500 buys at the open of the first session
after the period starts (5 bps slippage, 10 bps fee) and is marked at the last close.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT, with_usd_coin

from signalops.adapters.calendar import NEW_YORK
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.backtest.metrics import period_returns, sharpe
from signalops.backtest.report import title
from signalops.backtest.runner import BacktestResult
from signalops.backtest.study import run_study
from signalops.backtest.sweep import STARTING_CASH, sweep
from signalops.cli import cli
from signalops.config import load_config, loads_config
from signalops.errors import DataNotFound, InputError
from signalops.evaluation.vectorized import decode_verdicts, screen
from signalops.strategy import loads

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
PRICES = DATA / "equities" / "prices" / "daily"

AAPL_TREND = (ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def trading_config() -> Path:
    """The equities config, which allows prices as old as a weekend: a daily stock bar closes
    at 16:00 New York, hours before a 00:00 UTC decision, and the risk gate's 15-minute default
    would deny every order NO_PRICE."""
    assert "max_data_age: 4d" in EQUITIES.read_text(encoding="utf-8")
    return EQUITIES


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def aapl_backtest(
    store: SnapshotStore, out_dir: Path, start: str, end: str, **options: Any
) -> BacktestResult:
    """The AAPL trend fixture backtested on the equities config from ``start`` to ``end``."""
    return run_backtest(
        loads(AAPL_TREND),
        store=store,
        start=utc(start),
        end=utc(end),
        out_dir=out_dir,
        config=load_config(EQUITIES),
        **options,
    )


def raw_prices(ticker: str) -> dict[str, dict[str, str]]:
    with (PRICES / f"{ticker}.csv").open(encoding="utf-8") as handle:
        return {row["date"]: row for row in csv.DictReader(handle)}


def test_vectorised_screen_of_aapl_equals_the_event_driven_decisions_on_the_same_dates(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = loads(AAPL_TREND)
    venues = load_config(EQUITIES).venues
    result = run_backtest(
        strategy,
        store=replay_store,
        start=utc("2022-01-01"),
        end=utc("2022-12-31"),
        out_dir=tmp_path,
        config=load_config(EQUITIES),
    )
    times = np.array([d.as_of.timestamp() for d in result.decisions])
    fast = screen(strategy, "AAPL", replay_store, times, venues)
    event_driven = [d.verdict for d in result.decisions]
    assert [v.value for v in decode_verdicts(fast.verdicts)] == event_driven
    # One decision before each session, at 00:00 UTC of its date: the dates of the price file.
    sessions = [day for day in raw_prices("AAPL") if day.startswith("2022")]
    assert [d.as_of.date().isoformat() for d in result.decisions] == sessions
    assert len(event_driven) == 251
    assert {"BUY", "SELL", "HOLD"} <= set(event_driven)
    assert result.metrics.periods_per_year == 252


def test_a_stock_order_fills_at_the_open_of_the_first_session_after_its_decision(
    replay_store: SnapshotStore, tmp_path: Path
):
    # A 00:00 UTC decision sees the previous evening's close; the next price anyone can trade
    # at is the following session's 09:30 New York open (14:30 UTC in winter, 13:30 in summer).
    result = aapl_backtest(replay_store, tmp_path, "2022-01-01", "2022-12-31")
    aapl = raw_prices("AAPL")
    sessions = sorted(aapl)
    assert len(result.legs) >= 4
    for leg in result.legs:
        decided = leg.decided_at.astimezone(NEW_YORK).date().isoformat()
        session = next(day for day in sessions if day > decided)  # the decision saw its eve
        opened = datetime.combine(date.fromisoformat(session), time(9, 30), NEW_YORK)
        assert leg.filled_at == opened.astimezone(UTC)
        slip = Decimal("1.0005") if leg.side.value == "BUY" else Decimal("0.9995")
        assert leg.price == Decimal(aapl[session]["open"]) * slip


def test_a_stock_backtests_paper_account_is_in_its_venues_quote_currency(
    replay_store: SnapshotStore, tmp_path: Path
):
    result = aapl_backtest(replay_store, tmp_path, "2022-01-01", "2022-06-30")
    with AuditLog.open_readonly(result.audit_path) as log:
        executions = [
            record["execution"]
            for _, record in log.records_of_kind("decision")
            if record["execution"]["status"] == "FILLED"
        ]
    assert executions
    assert {execution["details"]["quote"] for execution in executions} == {"USD"}
    assert all(" USD (fee " in execution["message"] for execution in executions)


def test_a_swept_stock_trade_enters_and_exits_when_the_backtest_does(
    replay_store: SnapshotStore, tmp_path: Path
):
    config = load_config(EQUITIES)
    start, end = utc("2022-01-01"), utc("2022-12-31")
    result = run_backtest(
        loads(AAPL_TREND), store=replay_store, start=start, end=end, out_dir=tmp_path, config=config
    )
    (row,) = sweep(
        AAPL_TREND, grid={"fast": [20]}, store=replay_store, start=start, end=end,
        venues=config.venues,
    )  # fmt: skip
    firsts = [trade.entries[0].filled_at for trade in result.trades]
    exits = [trade.exits[0].filled_at if trade.exits else None for trade in result.trades]
    assert [trade.entry_time for trade in row.trades] == firsts
    assert [trade.exit_time for trade in row.trades] == exits
    assert {moment.astimezone(NEW_YORK).time() for moment in firsts} == {time(9, 30)}


def test_a_sweep_of_a_stock_decides_before_each_session_and_annualises_by_sessions(
    replay_store: SnapshotStore,
):
    (row,) = sweep(
        AAPL_TREND, grid={"fast": [20]}, store=replay_store, start=utc("2022-01-01"),
        end=utc("2022-12-31"), venues=load_config(EQUITIES).venues,
    )  # fmt: skip
    days = [datetime.fromtimestamp(t, UTC).date().isoformat() for t in row.times]
    assert days == [day for day in raw_prices("AAPL") if day.startswith("2022")]
    values = np.concatenate(([STARTING_CASH], row.equity))
    assert row.sharpe == sharpe(period_returns(values), 252)


def test_assets_that_do_not_all_trade_in_sessions_decide_every_day(
    usd_coin_dir: Path, tmp_path: Path
):
    result = run_backtest(
        loads(AAPL_TREND),
        store=SnapshotStore(usd_coin_dir),
        start=utc("2022-01-01"),
        end=utc("2022-01-31"),
        out_dir=tmp_path,
        assets=["AAPL", "BTC"],  # BTC quoted in USD too: one account holds one currency
        config=loads_config(with_usd_coin(EQUITIES.read_text(encoding="utf-8"))),
    )
    assert not result.sessions
    assert len(result.decisions) == 31 * 2
    assert result.metrics.periods_per_year == 365


def test_a_period_in_which_no_session_opens_is_refused_before_anything_runs(
    replay_store: SnapshotStore, tmp_path: Path
):
    # Friday's close is in the period, but the next opening (Monday's) is after its last
    # decision time's day.
    with pytest.raises(InputError, match="no US equity session opens from 2022-01-07T20:00:00Z"):
        run_backtest(
            loads(AAPL_TREND),
            store=replay_store,
            start=utc("2022-01-07T20:00:00"),
            end=utc("2022-01-08T20:00:00"),
            out_dir=tmp_path,
            config=load_config(EQUITIES),
        )
    assert not list(tmp_path.iterdir())


def test_sweep_screens_a_stock_on_its_configured_venue(replay_store: SnapshotStore):
    rows = sweep(
        AAPL_TREND,
        grid={"fast": [10, 20]},
        store=replay_store,
        start=utc("2022-01-01"),
        end=utc("2022-12-31"),
        venues=load_config(EQUITIES).venues,
    )
    assert [row.params for row in rows] == [{"fast": 10}, {"fast": 20}]
    assert all(row.closed_trades > 0 for row in rows)


def test_without_the_equities_config_a_stock_has_no_binance_candles(replay_store: SnapshotStore):
    with pytest.raises(DataNotFound, match="AAPL/USDT"):
        sweep(
            AAPL_TREND,
            grid={"fast": [10]},
            store=replay_store,
            start=utc("2022-01-01"),
            end=utc("2022-12-31"),
        )


def test_benchmark_buys_the_sp500_at_the_first_sessions_open_and_marks_the_last_close(
    replay_store: SnapshotStore, tmp_path: Path
):
    study = run_study(
        loads(AAPL_TREND),
        store=replay_store,
        start=utc("2023-01-01"),
        end=utc("2023-01-31"),
        out_dir=tmp_path,
        config=load_config(EQUITIES),
        benchmark="GSPC",
        report=False,
    )
    held = study.benchmark
    assert held is not None and held.metrics is not None
    assert (held.asset, held.symbol) == ("GSPC", "^GSPC")
    gspc = raw_prices("GSPC")
    # 2023-01-02 was a holiday: the first bar opening after 2023-01-01 is 2023-01-03's.
    price = Decimal(gspc["2023-01-03"]["open"]) * Decimal("1.0005")
    quantity = Decimal(10_000) / (price * Decimal("1.001"))
    expected = quantity * Decimal(gspc["2023-01-31"]["close"])
    cash_left = Decimal(10_000) - quantity * price * Decimal("1.001")
    assert float(held.metrics.end_equity) == pytest.approx(float(expected + cash_left), abs=1e-6)
    assert held.metrics.total_return == pytest.approx(float(expected) / 10_000 - 1, abs=1e-9)


def test_backtest_command_shows_buy_and_hold_of_the_benchmark_beside_the_strategy(
    replay_dir: Path, tmp_path: Path
):
    strategy = tmp_path / "aapl_trend.yaml"
    strategy.write_text(AAPL_TREND, encoding="utf-8")
    out = tmp_path / "report"
    args = [
        "backtest", str(strategy), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2023-01-01", "--to", "2023-01-31", "--report", str(out), "--benchmark", "GSPC",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    table = result.stdout.split("filter:")[0]
    assert table == TABLE
    # The fixture keeps the default 2d max age on daily stock candles: told, on stderr.
    assert result.stderr.startswith(f"warning: {strategy}: AAPL trades in sessions ")
    assert (
        "buy & hold: the strategy's assets in equal parts; buy & hold GSPC: the benchmark ^GSPC "
        "alone; both bought with all the cash at the first fill, same fee and slippage, held to "
        "the end\n"
    ) in result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["benchmark"]["asset"] == "GSPC"
    assert metrics["benchmark"]["symbol"] == "^GSPC"
    assert metrics["benchmark"]["metrics"]["end_equity"] == "10563.67993692212471621689492"


TABLE = """\
aapl_trend · AAPL · 2023-01-01 → 2023-01-31 · 20 sessions
metric                strategy   buy & hold   buy & hold GSPC
─────────────────────────────────────────────────────────────
total return            +0.00%      +10.59%            +5.64%
CAGR                    +0.00%     +254.90%           +99.41%
max drawdown             0.00%       -4.18%            -2.51%
drawdown peak                —   2023-01-03        2023-01-13
drawdown trough              —   2023-01-05        2023-01-19
recovered                    —   2023-01-10        2023-01-23
Sharpe                       —         4.89              4.14
Sortino                      —         7.70              7.56
trades                       0            —                 —
win rate [95% CI]            —            —                 —
p (win rate = 50%)           —            —                 —
exposure                  0.0%       100.0%            100.0%
fees (USD)                0.00         9.99              9.99
end equity (USD)     10,000.00    11,058.78         10,563.68
false signals (3d)      0 of 0            —                 —
blocked decisions            0            —                 —
"""


def test_an_unserved_benchmark_fails_before_the_backtest_runs(replay_dir: Path, tmp_path: Path):
    args = [
        "backtest", str(ROOT / "strategies" / "technical_baseline.yaml"), "--data",
        str(replay_dir), "--from", "2023-01-01", "--to", "2023-01-31", "--report",
        str(tmp_path / "r"), "--benchmark", "GSPC",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "GSPC" in result.output
    assert not (tmp_path / "r" / "backtest.db").exists()


def test_each_asset_on_its_own_counts_a_stocks_sessions(replay_dir: Path, tmp_path: Path):
    strategy = tmp_path / "aapl_trend.yaml"
    strategy.write_text(AAPL_TREND, encoding="utf-8")
    args = [
        "backtest", str(strategy), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2023-01-01", "--to", "2023-01-31", "--each-asset",
        "--report", str(tmp_path / "each"),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    first = result.stdout.splitlines()[0]
    assert first == "aapl_trend · each asset on its own · 2023-01-01 → 2023-01-31 · 20 sessions"
    summary = json.loads((tmp_path / "each" / "AAPL" / "metrics.json").read_text("utf-8"))
    assert (summary["periods"], summary["sessions"]) == (20, True)


@pytest.mark.parametrize("days", [2, 3, 7])
def test_a_stock_deciding_every_few_days_fills_each_decision_at_its_own_session(
    replay_store: SnapshotStore, tmp_path: Path, days: int
):
    every = timedelta(days=days)
    result = aapl_backtest(replay_store, tmp_path, "2022-01-01", "2022-12-31", every=every)
    times = sorted({d.as_of for d in result.decisions})
    bars = result.prices["AAPL"]
    opened = [bars.next_open(moment)[1] for moment in times]
    assert len(set(opened)) == len(times)  # no two decisions fill at one opening
    assert all(open_ < moment + every for open_, moment in zip(opened, times, strict=True))
    # Annualised by the share of the sessions (the price file's dates) that had a decision, up
    # to the last period's end: at most the close of the candle opening at --to, or of the
    # session the last decision fills in (Saturday 12-31's: Tuesday 01-03, 21:00 UTC).
    fill_close = bars.fill_close(times[-1])
    assert fill_close is not None
    last_end = min(times[-1] + every, max(utc("2022-12-31") + timedelta(days=1), fill_close))
    assert result.equity[-1].time == last_end
    # Sessions opening before it (an opening is 13:30 or 14:30 UTC).
    first, last = times[0].date().isoformat(), (last_end - timedelta(hours=12)).date().isoformat()
    sessions = [day for day in raw_prices("AAPL") if first <= day <= last]
    assert result.metrics.periods_per_year == pytest.approx(252 * len(times) / len(sessions))
    assert not result.by_session
    study = run_study(
        loads(AAPL_TREND), store=replay_store, start=utc("2022-01-01"), end=utc("2022-12-31"),
        every=every, out_dir=tmp_path / "study", config=load_config(EQUITIES), report=False,
        baseline=False,
    )  # fmt: skip
    assert title(study).endswith(f" · {len(times)} periods of {days}d")


def test_a_stock_filled_at_the_next_close_trades_at_its_sessions_close(
    replay_store: SnapshotStore, tmp_path: Path
):
    result = aapl_backtest(replay_store, tmp_path, "2022-01-01", "2022-12-31", fill="next_close")
    aapl = raw_prices("AAPL")
    assert result.legs
    for leg in result.legs:
        day = leg.decided_at.date().isoformat()  # 00:00 UTC: the session of that date
        closed = datetime.combine(date.fromisoformat(day), time(16), NEW_YORK)
        assert leg.filled_at == closed.astimezone(UTC)
        slip = Decimal("1.0005") if leg.side.value == "BUY" else Decimal("0.9995")
        assert leg.price == Decimal(aapl[day]["close"]) * slip


def test_each_asset_of_a_stock_and_a_coin_leaves_the_period_count_to_each(
    replay_dir: Path, tmp_path: Path
):
    strategy = tmp_path / "mixed.yaml"
    strategy.write_text(AAPL_TREND.replace("assets: [AAPL]", "assets: [AAPL, BTC]"), "utf-8")
    args = [
        "backtest", str(strategy), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2023-01-01", "--to", "2023-01-31", "--each-asset",
        "--report", str(tmp_path / "each"),
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0]
        == "aapl_trend · each asset on its own · 2023-01-01 → 2023-01-31"
    )
    counts = {
        asset: json.loads((tmp_path / "each" / asset / "metrics.json").read_text("utf-8"))
        for asset in ("AAPL", "BTC")
    }
    assert (counts["AAPL"]["periods"], counts["AAPL"]["sessions"]) == (20, True)
    assert (counts["BTC"]["periods"], counts["BTC"]["sessions"]) == (31, False)


FORWARD_PE = """\
strategy:
  name: "Cheap_Ahead"
  assets: ["AAPL", "TSLA"]
  rules:
    - id: cheap
      source: fundamental
      conditions:
        - when: "forward_pe < 20"
  exit:
    rules:
      - id: dear
        source: fundamental
        conditions:
          - when: "trailing_pe > 40"
  execution:
    position_size: 0.05
    action_mode: paper
"""


def test_a_backtest_whose_rules_never_had_their_data_says_which_metric_and_why(
    replay_dir: Path, tmp_path: Path
):
    """It said only '0 trades': forward_pe has no history to replay, and a P/E of losses is
    not applicable. Only the trace of one decision told why."""
    strategy = tmp_path / "cheap_ahead.yaml"
    strategy.write_text(FORWARD_PE, encoding="utf-8")
    out = tmp_path / "report"
    args = [
        "backtest", str(strategy), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2020-01-01", "--to", "2020-01-31", "--report", str(out), "--no-baseline",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    audit = out / "backtest.db"
    assert result.stderr == (
        "note: forward_pe (fundamental) was UNKNOWN at all 42 decisions of AAPL and TSLA: "
        "NO_DATA: no recorded fundamentals snapshot for AAPL at or before "
        "2020-01-02T00:00:00+00:00: Yahoo's forward_pe has no history to download: record it "
        "with 'signalops run STRATEGY --record DIR' (a live run keeps every snapshot it "
        "fetches) and replay DIR ('run --replay DIR', 'backtest --data DIR') (signalops why "
        f"dec-1da918ec0e4adbe9e69d9f5b --audit {audit})\n"
        "note: trailing_pe (fundamental) was UNKNOWN at all 21 decisions of TSLA: "
        "NOT_APPLICABLE: TSLA earned -4.69 per share over the last four quarters: a P/E of "
        f"losses is not a valuation (signalops why dec-efa44a1df7ab000a724f5ce3 --audit {audit})\n"
    )
    unknown = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["unknown_data"]
    assert [(u["asset"], u["metric"], u["reason"], u["decisions"]) for u in unknown] == [
        ("AAPL", "forward_pe", "NO_DATA", 21),
        ("TSLA", "forward_pe", "NO_DATA", 21),
        ("TSLA", "trailing_pe", "NOT_APPLICABLE", 21),
    ]
    assert unknown[0]["first"] == {
        "as_of": "2020-01-02T00:00:00Z",
        "decision_id": "dec-1da918ec0e4adbe9e69d9f5b",
    }
    # The decision it names says the same in its trace.
    why = CliRunner().invoke(cli, ["why", "dec-efa44a1df7ab000a724f5ce3", "--audit", str(audit)])
    assert "NOT_APPLICABLE: TSLA earned -4.69 per share" in why.stdout


def test_each_asset_on_its_own_prints_each_backtests_notes_named_by_its_asset(
    replay_dir: Path, tmp_path: Path
):
    """It printed the table alone: '0 trades' for both, never that forward_pe has no history
    or that TSLA's P/E was one of losses, which a backtest of either asset says. The ``why``
    commands name the logs where they are published, not the staging folder."""
    strategy = tmp_path / "cheap_ahead.yaml"
    strategy.write_text(FORWARD_PE, encoding="utf-8")
    out = tmp_path / "each"
    args = [
        "backtest", str(strategy), "--config", str(EQUITIES), "--data", str(replay_dir),
        "--from", "2020-01-01", "--to", "2020-01-31", "--report", str(out), "--each-asset",
    ]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    aapl, tsla = (out.resolve() / asset / "backtest.db" for asset in ("AAPL", "TSLA"))
    no_history = (
        "NO_DATA: no recorded fundamentals snapshot for {asset} at or before "
        "2020-01-02T00:00:00+00:00: Yahoo's forward_pe has no history to download: record it "
        "with 'signalops run STRATEGY --record DIR' (a live run keeps every snapshot it "
        "fetches) and replay DIR ('run --replay DIR', 'backtest --data DIR')"
    )
    assert result.stderr == (
        "note: AAPL: forward_pe (fundamental) was UNKNOWN at all 21 decisions of AAPL: "
        f"{no_history.format(asset='AAPL')} (signalops why dec-1da918ec0e4adbe9e69d9f5b "
        f"--audit {aapl})\n"
        "note: TSLA: forward_pe (fundamental) was UNKNOWN at all 21 decisions of TSLA: "
        f"{no_history.format(asset='TSLA')} (signalops why dec-efa44a1df7ab000a724f5ce3 "
        f"--audit {tsla})\n"
        "note: TSLA: trailing_pe (fundamental) was UNKNOWN at all 21 decisions of TSLA: "
        "NOT_APPLICABLE: TSLA earned -4.69 per share over the last four quarters: a P/E of "
        f"losses is not a valuation (signalops why dec-efa44a1df7ab000a724f5ce3 --audit {tsla})\n"
    )
    assert aapl.is_file() and tsla.is_file()


def test_a_stock_imported_on_yfinance_but_routed_to_binance_is_told_where_its_candles_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """It said to download MSFTX/USDT from binance, with candles/yfinance/MSFTX/1d right there:
    the config (none here) routes an unmapped asset to the default crypto exchange."""
    monkeypatch.chdir(tmp_path)
    daily = PRICES / "MSFT.csv"
    imported = CliRunner().invoke(
        cli,
        ["data", "import", str(daily), "--source", "technical", "--asset", "MSFTX", "--venue",
         "yfinance", "--to", "r"],
    )  # fmt: skip
    assert imported.exit_code == 0, imported.output
    (tmp_path / "s.yaml").write_text(AAPL_TREND.replace("AAPL", "MSFTX"), encoding="utf-8")
    args = ["backtest", "s.yaml", "--data", "r", "--from", "2023-01-01", "--to", "2023-03-01"]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 1
    assert result.stderr.endswith(
        "error: no recorded 1d candles for MSFTX in r (series candles/binance/MSFTX/USDT/1d): the "
        "data has them as series candles/yfinance/MSFTX/1d: route MSFTX to a venue of exchange "
        "yfinance in the config (assets: {MSFTX: {venue: NAME}}), or pass --venue yfinance "
        "(every asset there)\n"
    )
    routed = CliRunner().invoke(cli, [*args, "--venue", "yfinance", "--report", "out"])
    assert routed.exit_code == 0, routed.output
