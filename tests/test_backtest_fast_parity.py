"""The fast backtest engine writes the pipeline engine's log, record for record and hash for hash.

``run_backtest(engine="fast")`` (the default) reads every bar's data at once and takes each
decision with the pipeline's own gate, broker and record writer; ``engine="pipeline"`` runs
``Pipeline.cycle`` at every decision time. On every demo strategy that runs on the bundled data,
the banking-crisis fixture (daily and hourly) and the hourly RSI strategy of the benchmark, the
two engines must leave the same log (every record as the store gives it back, its seq and hash
with it; the chain head, the paper ledger, the stored strategies and trees, row for row) and the
same ``BacktestResult`` (decisions, fills, trades, equity curve, metrics, filter accounting).
How the records are kept differs: the fast engine's log keeps most in runs
(``signalops.audit.runs``), the pipeline engine's each in a row.

Below that, the pieces the fast engine reads data with are held to the adapters' answers: the
replay adapters' observations at every bar (values to the bit, data times, details with gaps,
errors) and TA-Lib's RSI over each adapter window.
"""

from __future__ import annotations

import gc
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import talib
from conftest import ROOT, STRATEGIES
from log_contents import records, tables

from signalops.adapters import registry
from signalops.adapters.gather import gather
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.layout import COMPACT_INDEXES
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.backtest.answers import ReplayAnswers, windowed_rsi
from signalops.backtest.runner import BacktestResult
from signalops.canonical import canonical_json
from signalops.config import Config, load_config, loads_config
from signalops.errors import DiskFull, InputError
from signalops.execution.marks import MidnightMarks
from signalops.observation import Request
from signalops.orders import Side
from signalops.strategy import load, loads

HOUR, DAY = 3600, 86400
EQUITIES = load_config(ROOT / "examples" / "signalops.equities.yaml")
FIXTURE = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
HOURLY_RSI = (Path(__file__).parent / "fixtures" / "hourly_rsi.yaml").read_text(encoding="utf-8")
# Strategies in strategies/ that cannot run on the bundled data (no candles for their assets).
NOT_ON_BUNDLED_DATA = {"value_screen.yaml"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def assert_same_backtest(fast: BacktestResult, pipeline: BacktestResult) -> None:
    ours, theirs = tables(fast.audit_path), tables(pipeline.audit_path)
    assert ours.keys() == theirs.keys()
    for name, rows in theirs.items():
        for mine, reference in zip(ours[name], rows, strict=True):
            assert mine == reference, f"{name}: first difference at {reference[0]!r}"
    for mine, reference in zip(records(fast.audit_path), records(pipeline.audit_path), strict=True):
        assert mine == reference, f"records: first difference at seq {reference['seq']}"
    for field in ("decisions", "legs", "trades", "equity", "buy_and_hold", "metrics",
                  "benchmark", "blocked", "signals", "periods", "unknown"):  # fmt: skip
        assert getattr(fast, field) == getattr(pipeline, field), field


def both_engines(
    strategy: Any, store: SnapshotStore, tmp_path: Path, **options: Any
) -> tuple[BacktestResult, BacktestResult]:
    runs = tuple(
        run_backtest(strategy, store=store, out_dir=tmp_path / engine, engine=engine, **options)
        for engine in ("fast", "pipeline")
    )
    return runs[0], runs[1]


# Each demo over a period where it decides what it can: (file, from, to, options, verdicts seen).
DEMOS = [
    ("banking_crisis_dip.yaml", "2022-06-01", "2023-06-30", {}, "BUY SELL HOLD"),
    ("technical_baseline.yaml", "2022-01-01", "2023-12-31", {}, "BUY SELL HOLD"),
    ("election_odds_gate.yaml", "2024-06-01", "2025-01-31", {}, "BUY SELL HOLD BLOCKED"),
    ("event_filter.yaml", "2025-12-01", "2026-02-07", {}, "BUY HOLD BLOCKED"),
    ("news_risk_off.yaml", "2024-01-01", "2025-10-01", {}, "HOLD BLOCKED"),
    ("weighted_sources.yaml", "2024-01-01", "2024-06-30", {}, "BUY SELL HOLD"),
    (
        "graham_value_event_filter.yaml",
        "2024-06-01",
        "2024-12-31",
        {"config": EQUITIES},
        "SELL HOLD",
    ),
]


def test_every_demo_strategy_that_runs_on_the_bundled_data_is_compared():
    compared = {name for name, *_ in DEMOS}
    assert {p.name for p in STRATEGIES.glob("*.yaml")} == compared | NOT_ON_BUNDLED_DATA


@pytest.mark.parametrize(
    ("name", "start", "end", "options", "verdicts"), DEMOS, ids=[d[0] for d in DEMOS]
)
def test_a_demo_strategy_leaves_the_same_log_and_result_on_both_engines(
    replay_store: SnapshotStore,
    tmp_path: Path,
    name: str,
    start: str,
    end: str,
    options: dict,
    verdicts: str,
):
    strategy = load(STRATEGIES / name, registry.catalogue())
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc(start), end=utc(end), **options
    )
    assert_same_backtest(fast, pipeline)
    assert {d.verdict for d in fast.decisions} == set(verdicts.split())


@pytest.mark.parametrize(
    ("every", "fill"),
    [(None, "next_open"), (timedelta(hours=5), "next_close")],
    ids=["daily-next-open", "5h-next-close"],
)
def test_a_stocks_session_decisions_fill_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path, every: timedelta | None, fill: str
):
    strategy = loads((ROOT / "tests" / "fixtures" / "aapl_trend.yaml").read_text("utf-8"))
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2022-01-01"), end=utc("2022-06-30"),
        every=every, fill=fill, config=EQUITIES,
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert fast.sessions and fast.legs


def test_point_in_time_price_to_sales_and_market_cap_decide_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path
):
    """SEC EDGAR answers them in a replay (the close of the decision's day and the filings
    known by then): both engines take the same BUYs and SELLs on them."""
    strategy = loads((ROOT / "tests" / "fixtures" / "sales_value.yaml").read_text("utf-8"))
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2022-01-01"), end=utc("2022-06-30"),
        config=EQUITIES,
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert {d.verdict for d in fast.decisions} == {"BUY", "SELL", "HOLD"}
    assert fast.legs


def test_a_book_of_two_assets_held_at_once_sizes_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path
):
    """The gate values the other holding at market (``Pipeline._marks``): the fast engine
    gives it that asset's price answers, as the pipeline's cycle gathers them."""
    strategy = load(STRATEGIES / "banking_crisis_dip.yaml", registry.catalogue())
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2021-01-01"), end=utc("2022-12-31"),
        assets=["BTC", "ETH"],
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    held: dict[str, Decimal] = {}
    both = False
    for leg in fast.legs:
        held[leg.asset] = held.get(leg.asset, Decimal(0)) + (
            leg.quantity if leg.side is Side.BUY else -leg.quantity
        )
        both = both or all(held.get(a, 0) > 0 for a in ("BTC", "ETH"))
    assert both  # a BUY of one was sized with the other held


@pytest.mark.parametrize("every", [None, timedelta(hours=6)], ids=["daily", "6h"])
def test_a_polymarket_outcome_fills_and_marks_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path, every: timedelta | None
):
    from test_backtest_polymarket import CONFIG_TEXT, STRATEGY

    fast, pipeline = both_engines(
        load(STRATEGY), replay_store, tmp_path, start=utc("2024-10-25"), end=utc("2024-11-20"),
        every=every, config=loads_config(CONFIG_TEXT, "signalops.yaml"),
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert [leg.side.value for leg in fast.legs] == ["BUY", "BUY", "SELL"]


@pytest.mark.parametrize("every", [None, timedelta(hours=1)], ids=["daily", "hourly"])
def test_the_banking_crisis_fixture_fills_denies_blocks_and_sells_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path, every: timedelta | None
):
    strategy = load(FIXTURE, registry.catalogue())
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2023-03-01"), end=utc("2023-03-31"),
        every=every,
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    verdicts = {d.verdict for d in fast.decisions}
    assert {"BUY", "SELL", "HOLD", "BLOCKED"} <= verdicts
    assert any(d.denials for d in fast.decisions) and fast.legs


def test_hourly_rsi_over_an_exchange_outage_fills_and_gates_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path
):
    # 2,000 hours around the bundled file's longest outage: stale RSI leaves, a BUY that adds
    # to a position, whole-position SELLs, NO_POSITION denials, fills at the next open.
    strategy = loads(HOURLY_RSI, "bench.yaml")
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2023-02-20"), end=utc("2023-05-15"),
        every=timedelta(hours=1),
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert len(fast.legs) >= 20
    assert any("NO_POSITION" in d.denials for d in fast.decisions)


def test_own_capital_next_close_fills_and_a_cooldown_give_the_same_log_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = load(FIXTURE, registry.catalogue())
    config = loads_config(
        "paper: {starting_cash: 50000, fee_bps: 7, slippage_bps: 3}\n"
        "strategies: {Banking_Crisis_Pipeline: {capital: 40%}}\n"
        "risk: {cooldown: 1d, max_position: 0.2}\n"
    )
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2023-02-15"), end=utc("2023-04-15"),
        every=timedelta(hours=6), config=config, fill="next_close",
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert fast.legs


@pytest.mark.parametrize(
    "config",
    [
        "risk: {max_position: 1, max_exposure: 1, max_notional: 1000000}\n",
        "strategies: {Technical_Baseline: {capital: 40%}}\n"
        "risk: {max_position: 1, max_exposure: 1, max_notional: 1000000}\n",
    ],
    ids=["account", "own-capital"],
)
def test_all_in_buys_sized_to_leave_room_for_the_fee_fill_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path, config: str
):
    """position_size 1.0: each BUY is sized down to what the cash it may spend (the account's,
    or its allocation's) pays with slippage and fee, and fills."""
    text = (STRATEGIES / "technical_baseline.yaml").read_text(encoding="utf-8")
    strategy = loads(text.replace("position_size: 0.05", "position_size: 1.0"), "all_in.yaml")
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2022-07-01"), end=utc("2023-06-30"),
        config=loads_config(config),
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert [leg.side for leg in fast.legs][:2] == [Side.BUY, Side.SELL]
    assert not [d for d in fast.decisions if d.status == "FAILED"]


@pytest.mark.parametrize(
    "capital",
    ["", "strategies: {Equal_Quarters: {capital: 5000}}\n"],
    ids=["account", "own-capital"],
)
def test_the_last_equal_share_the_cash_cut_fills_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path, capital: str
):
    """Four stocks at a quarter of equity each: the last quarter is cut to the cash left (a
    CASH_SIZE check in its record), and both engines write the same log."""
    equities = (ROOT / "examples" / "signalops.equities.yaml").read_text(encoding="utf-8")
    limits = "  max_data_age: 4d\n  max_position: 0.25\n  max_exposure: 1\n  max_notional: 999999\n"
    config = loads_config(equities.replace("  max_data_age: 4d\n", limits) + capital)
    strategy = load(ROOT / "tests" / "fixtures" / "equal_quarters.yaml")
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2019-01-01"), end=utc("2019-06-30"),
        config=config,
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    assert not [d for d in fast.decisions if d.status == "FAILED"]
    with AuditLog.open_readonly(fast.audit_path) as log:
        cut = [
            d
            for d in fast.decisions
            if d.status == "FILLED"
            and "CASH_SIZE" in {c["code"] for c in log.get(d.decision_id)["risk"]["checks"]}
        ]
    assert cut


# --- what the fast engine reads data with -----------------------------------------------------


def test_replay_answers_equal_the_adapters_at_every_bar_with_gaps_and_short_history(
    replay_store: SnapshotStore,
):
    adapters = registry.replay_adapters(replay_store, venues=Config().venues)
    series = replay_store.series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None
    # From before the first candle (too little history, then the adapter's 250) through the
    # 2021 outages, every 5th hour; daily candles and a missing hourly ETH series on the way.
    first = datetime.fromtimestamp(series.times[0], UTC) - timedelta(hours=3)
    moments = [first + timedelta(hours=5 * k) for k in range(1_800)]
    requests = [
        Request("technical", "rsi", (("n", 14), ("timeframe", HOUR)), "BTC"),
        Request("technical", "close", (("timeframe", HOUR),), "BTC"),
        Request("technical", "close", (("timeframe", DAY),), "BTC"),
        Request("technical", "sma", (("n", 200), ("timeframe", HOUR)), "BTC"),
        Request("technical", "volume_z", (("n", 20), ("timeframe", HOUR)), "BTC"),
        Request("technical", "return", (("timeframe", HOUR), ("window", 7 * DAY)), "BTC"),
        Request("technical", "rsi", (("n", 14), ("timeframe", DAY)), "ETH"),
        Request("technical", "close", (("timeframe", HOUR),), "ETH"),
    ]
    answers = ReplayAnswers(requests, adapters, moments)
    gapped = 0
    for i, moment in enumerate(moments):
        expected = gather(requests, adapters, moment)
        for request in requests:
            found = answers.answer(request, i)
            assert found == expected[request], (moment, request)
            assert getattr(found, "epoch", None) == getattr(expected[request], "epoch", None)
            gapped += "gaps" in (getattr(found, "detail", None) or {})
    assert gapped > 100


def test_windowed_rsi_is_talib_to_the_bit_on_every_window_of_the_hourly_file(
    replay_store: SnapshotStore,
):
    series = replay_store.series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None
    close = series.column(3)
    ends = np.arange(250, len(close) + 1)
    expected = np.array([talib.RSI(close[e - 250 : e], timeperiod=14)[-1] for e in ends])
    assert np.array_equal(windowed_rsi(close, ends, 250, 14), expected)


# --- the log appears only when complete --------------------------------------------------------


def _stop_after(cycles: int):
    def progress(done: int, total: int) -> None:
        if done == cycles:
            raise KeyboardInterrupt  # as a kill would, half way

    return progress


@pytest.mark.parametrize("engine", ["fast", "pipeline"])
def test_a_backtest_killed_half_way_leaves_no_log_under_the_backtests_name(
    replay_store: SnapshotStore, tmp_path: Path, engine: str
):
    strategy = load(FIXTURE, registry.catalogue())
    common: dict[str, Any] = {
        "store": replay_store,
        "start": utc("2023-03-01"),
        "out_dir": tmp_path,
    }
    done = run_backtest(strategy, end=utc("2023-03-10"), engine=engine, **common)
    with AuditLog.open_readonly(done.audit_path) as log:
        head = log.head()
    with pytest.raises(KeyboardInterrupt):
        run_backtest(
            strategy, end=utc("2023-03-31"), engine=engine, progress=_stop_after(20), **common
        )
    # The complete log of the earlier run is still the backtest's log; the killed run's
    # .partial file is removed with its records.
    with AuditLog.open_readonly(done.audit_path) as log:
        assert log.head() == head
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backtest.db"]


def test_a_log_whose_indexes_fail_to_build_is_never_published(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The indexes are built on another thread while the results are worked out: its error
    # is the backtest's, and the log is never published (its .partial file is removed).
    strategy = load(FIXTURE, registry.catalogue())
    built = AuditLog.finish_bulk_load

    def full(log: AuditLog) -> None:
        log.conn.execute("PRAGMA max_page_count = 1")  # SQLite's own "database or disk is full"
        built(log)

    monkeypatch.setattr(AuditLog, "finish_bulk_load", full)
    with pytest.raises(DiskFull, match="nothing of this cycle was written"):
        run_backtest(
            strategy, store=replay_store, start=utc("2023-03-01"), end=utc("2023-03-10"),
            out_dir=tmp_path,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_engine_is_refused(replay_store: SnapshotStore, tmp_path: Path):
    strategy = load(FIXTURE, registry.catalogue())
    with pytest.raises(InputError, match="unknown backtest engine 'warp'"):
        run_backtest(
            strategy, store=replay_store, start=utc("2023-03-01"), end=utc("2023-03-02"),
            out_dir=tmp_path, engine="warp",
        )  # fmt: skip


def test_a_fast_backtest_leaves_the_garbage_collector_as_it_found_it(
    replay_store: SnapshotStore, tmp_path: Path
):
    strategy = load(FIXTURE, registry.catalogue())
    before = gc.get_threshold()
    common: dict[str, Any] = {
        "store": replay_store,
        "start": utc("2023-03-01"),
        "out_dir": tmp_path,
    }
    run_backtest(strategy, end=utc("2023-03-05"), **common)
    with pytest.raises(KeyboardInterrupt):
        run_backtest(strategy, end=utc("2023-03-31"), progress=_stop_after(3), **common)
    assert gc.get_threshold() == before


def test_sells_while_flat_with_and_without_a_price_are_denied_alike_on_both_engines(
    replay_store: SnapshotStore, tmp_path: Path
):
    # Deciding every half hour with prices good for 20 minutes: on the hour a SELL finds a
    # price and nothing to sell (NO_POSITION), at half past no price (NO_PRICE). The fast
    # engine answers a repeated flat SELL without the gate only once it has checked that there
    # is a price: both denials must be the gate's own, bar for bar.
    strategy = loads(HOURLY_RSI, "bench.yaml")
    config = loads_config("risk: {max_data_age: 20m}\n")
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2023-03-01"), end=utc("2023-04-01"),
        every=timedelta(minutes=30), config=config,
    )  # fmt: skip
    assert_same_backtest(fast, pipeline)
    sells = [d for d in fast.decisions if d.verdict == "SELL" and d.status == "NOT_EXECUTED"]
    assert {("NO_POSITION",), ("NO_PRICE",)} <= {d.denials for d in sells}


def test_a_fast_backtest_log_has_every_index_of_a_new_log(
    replay_store: SnapshotStore, tmp_path: Path
):
    # The filters' indexes are built once the records are in (``AuditLog.bulk_load``).
    strategy = loads(HOURLY_RSI, "bench.yaml")
    result = run_backtest(
        strategy, store=replay_store, out_dir=tmp_path, start=utc("2023-03-01"),
        end=utc("2023-03-08"), every=timedelta(hours=1),
    )  # fmt: skip
    with sqlite3.connect(result.audit_path) as db:
        names = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        plan = db.execute(
            "EXPLAIN QUERY PLAN SELECT seq FROM records WHERE verdict = 'SELL' ORDER BY as_of"
        ).fetchall()
    assert {name for name, *_ in COMPACT_INDEXES} <= names
    assert "records_verdict_as_of" in str(plan)


@pytest.mark.parametrize("engine", ["fast", "pipeline"])
def test_a_daily_backtest_marks_its_midnights_with_the_gates_own_answers(
    replay_store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: str
):
    """A decision at 00:00 that acts while a position is held values the day's start at the
    midnight price the gate was given (``PaperBroker.note_midnight_price``), not by asking the
    sources again: the records say ``market``, and the sources were not asked for their day."""
    asked: list[datetime] = []
    original = MidnightMarks.__call__

    def counted(self: MidnightMarks, asset: str, midnight: datetime) -> Any:
        asked.append(midnight)
        return original(self, asset, midnight)

    monkeypatch.setattr(MidnightMarks, "__call__", counted)
    strategy = load(FIXTURE, registry.catalogue())
    result = run_backtest(
        strategy, store=replay_store, out_dir=tmp_path / engine, engine=engine,
        start=utc("2023-03-01"), end=utc("2023-03-31"),
    )  # fmt: skip
    log = AuditLog(result.audit_path)
    marked = {
        datetime.fromisoformat(r["as_of"])
        for r in log.records()
        if r["kind"] == "decision" and '"source":"market"' in canonical_json(r)
    }
    log.close()
    assert len(marked) >= 2 and all(day.hour == 0 for day in marked)
    assert marked.isdisjoint(asked)  # (the equity curve may ask on days nothing acts)
