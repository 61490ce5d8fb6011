"""The pipeline's fast paths give what the slow ones gave: held records, the kept paper ledger,
the order history the gate reads.

- A cycle holds the records of decisions that do not act and commits them together (at the end
  of the cycle, or first in the transaction of the next decision that acts): the log must be
  the very log of one commit per decision (same records, same order, same chain head), a
  decision that acts must still be committed before it acts with every decision taken before
  it, and a crash must lose only held records, which a restart decides again identically.
- The paper broker keeps the parsed ledger and trusts it while SQLite says nothing changed:
  what it answers must equal what a fresh broker reading the file answers, after fills,
  rolled-back fills, and fills by another connection or another broker on the same one.
- The risk gate gets the orders of the rate window and views of the runner's collections:
  they must say what the audit log says.
- Between cycles the live loop lets the pipeline rest: the WAL goes into the database file
  then, not in some decision's commit.

Everything runs on the bundled real data (hourly BTC, 2023-03-04 18:00 to 2023-03-05 18:00: an
evening dip bought twice, one BUY denied by the cooldown, and a SELL into the night's bounce);
ETH has no hourly candles, so its leaves are UNKNOWN and it holds every hour, ahead of BTC.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from signalops import risk
from signalops.adapters import gather as engine
from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.canonical import iso
from signalops.config import Config
from signalops.execution.paper import PaperBroker
from signalops.observation import Request
from signalops.orders import Mode, OrderIntent, Side, client_order_id
from signalops.pipeline import Pipeline, loop
from signalops.pipeline.cycle import price_requests
from signalops.strategy.model import Strategy
from signalops.workspace import load_strategies

STRATEGY = """\
strategy:
  name: "Hourly_Dip"
  description: "hourly RSI dip on BTC; ETH has no hourly candles and holds"
  assets: ["ETH", "BTC"]
  defaults:
    params:
      timeframe: 1h
  rules:
    - id: rsi_oversold
      source: technical
      conditions:
        - when: "rsi(14) < 35"
  exit:
    rules:
      - id: rsi_recovered
        source: technical
        conditions:
          - when: "rsi(14) > 65"
  execution:
    position_size: 0.05
    action_mode: paper
"""
FIRST = datetime(2023, 3, 4, 18, tzinfo=UTC)
AS_OFS = tuple(FIRST + timedelta(hours=i) for i in range(25))
BUY_HOUR = datetime(2023, 3, 4, 20, tzinfo=UTC)  # ETH holds, then BTC buys and fills


class Killed(BaseException):
    """The process dies here: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def strategy(tmp_path: Path) -> Strategy:
    path = tmp_path / "hourly_dip.yaml"
    path.write_text(STRATEGY)
    (loaded,) = load_strategies([path])
    return loaded


def _pipeline(
    audit: AuditLog, store: SnapshotStore, strategy: Strategy
) -> tuple[Pipeline, dict[str, datetime]]:
    """A replay pipeline on paper, and its simulated clock (``now["as_of"]``) to move."""
    now = {"as_of": AS_OFS[0]}
    pipeline = Pipeline(
        strategies=[strategy],
        adapters=registry.replay_adapters(store),
        audit=audit,
        broker=PaperBroker(audit.db, starting_cash=Decimal(10_000)),
        config=Config(),
        clock=lambda: now["as_of"],
    )
    return pipeline, now


def _cycles(
    path: Path,
    store: SnapshotStore,
    strategy: Strategy,
    on_progress: Callable[[datetime, int], None] | None = None,
) -> list[str]:
    """What ``signalops run --replay`` does, in process; returns the SQL it committed."""
    commits: list[str] = []
    with AuditLog(path) as audit:
        pipeline, now = _pipeline(audit, store, strategy)
        if on_progress is not None:
            pipeline.on_progress = lambda done, _total: on_progress(now["as_of"], done)
        audit.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        for as_of in AS_OFS:
            now["as_of"] = as_of
            pipeline.cycle(as_of)
    return commits


def _one_commit_each(path: Path, store: SnapshotStore, strategy: Strategy) -> list[str]:
    """The same decisions through ``Pipeline.decide`` alone: each committed on its own."""
    commits: list[str] = []
    with AuditLog(path) as audit:
        pipeline, now = _pipeline(audit, store, strategy)
        audit.conn.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
        for as_of in AS_OFS:
            now["as_of"] = as_of
            requests: list[Request] = []
            for asset in strategy.assets:
                requests += [*strategy.requests(asset), *price_requests(asset)]
            answers = engine.gather(requests, pipeline.adapters, as_of)
            for asset in strategy.assets:
                pipeline.decide(strategy, asset, as_of, answers)
    return commits


def _decisions(path: Path, since: datetime | None = None) -> list[tuple[str, str]]:
    with AuditLog(path) as log:
        found = [r for r in log.records() if r["kind"] == "decision"]
    return [(r["asset"], r["verdict"]) for r in found if since is None or r["as_of"] >= iso(since)]


def _same_log(path: Path, reference: Path) -> None:
    with AuditLog(path) as log, AuditLog(reference) as clean:
        assert verify(log).ok
        assert list(log.records()) == list(clean.records())
        assert log.head() == clean.head()
        assert PaperBroker(log.db).fills() == PaperBroker(clean.db).fills()


def test_a_cycle_commits_its_held_records_in_decision_order_as_one_commit_each_would(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    held = _cycles(tmp_path / "held.db", replay_store, strategy)
    each = _one_commit_each(tmp_path / "each.db", replay_store, strategy)

    _same_log(tmp_path / "held.db", tmp_path / "each.db")
    verdicts = [v for _, v in _decisions(tmp_path / "held.db")]
    assert len(verdicts) == 2 * len(AS_OFS) and {"BUY", "SELL", "HOLD"} <= set(verdicts)
    assert len(each) == 2 * len(AS_OFS)  # one per decision (a fill shares its decision's)
    # One per cycle: a fill's transaction took the HOLD held before it, and nothing after it.
    assert len(held) == len(AS_OFS)


def test_a_decision_that_acts_is_committed_before_it_acts_with_the_decisions_held_before_it(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    def die_after_the_fill(as_of: datetime, done: int) -> None:
        if as_of == BUY_HOUR and done == 2:  # ETH held, then BTC bought and filled
            raise Killed

    with pytest.raises(Killed):
        _cycles(tmp_path / "audit.db", replay_store, strategy, die_after_the_fill)

    assert _decisions(tmp_path / "audit.db", BUY_HOUR) == [("ETH", "HOLD"), ("BTC", "BUY")]
    with AuditLog(tmp_path / "audit.db") as log:
        assert verify(log).ok
        assert [r["kind"] for r in log.records()][-3:] == ["decision", "decision", "fill"]
        assert len(PaperBroker(log.db).fills()) == 1


def test_a_crash_loses_only_held_records_and_the_restart_writes_the_same_log(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    _cycles(tmp_path / "clean.db", replay_store, strategy)

    def die_after_eth(as_of: datetime, done: int) -> None:
        if as_of == BUY_HOUR and done == 1:  # ETH's HOLD is held, not yet committed
            raise Killed

    with pytest.raises(Killed):
        _cycles(tmp_path / "audit.db", replay_store, strategy, die_after_eth)
    assert _decisions(tmp_path / "audit.db", BUY_HOUR) == []  # the held HOLD is gone
    assert len(_decisions(tmp_path / "audit.db")) == 2 * AS_OFS.index(BUY_HOUR)

    _cycles(tmp_path / "audit.db", replay_store, strategy)  # the restart

    _same_log(tmp_path / "audit.db", tmp_path / "clean.db")


def test_a_cycle_that_raises_commits_what_it_held_before_the_error_propagates(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    def fail_after_eth(as_of: datetime, done: int) -> None:
        if as_of == BUY_HOUR and done == 1:
            raise RuntimeError("a bug after ETH was decided")

    with pytest.raises(RuntimeError, match="a bug after ETH"):
        _cycles(tmp_path / "audit.db", replay_store, strategy, fail_after_eth)

    assert _decisions(tmp_path / "audit.db", BUY_HOUR) == [("ETH", "HOLD")]
    with AuditLog(tmp_path / "audit.db") as log:
        assert verify(log).ok


def test_the_same_decision_twice_in_one_cycle_is_recorded_once_while_held(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    twice = replace(strategy, assets=("ETH", "ETH"))
    with AuditLog(tmp_path / "audit.db") as audit:
        summary = _pipeline(audit, replay_store, twice)[0].cycle(FIRST)
        assert [(o.asset, o.verdict.value, o.skipped) for o in summary.outcomes] == [
            ("ETH", "HOLD", False),
            ("ETH", "HOLD", True),
        ]
        assert audit.count() == 1


def test_decide_alone_commits_its_record_on_return(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    with AuditLog(tmp_path / "audit.db") as audit:
        pipeline, _ = _pipeline(audit, replay_store, strategy)
        requests = [*strategy.requests("ETH"), *price_requests("ETH")]
        answers = engine.gather(requests, pipeline.adapters, FIRST)
        outcome = pipeline.decide(strategy, "ETH", FIRST, answers)
        with AuditLog(tmp_path / "audit.db") as other:  # another connection sees it committed
            assert other.has_decision(outcome.decision_id)


# --- the kept paper ledger ---------------------------------------------------------------------


def _intent(n: int, side: Side = Side.BUY, quantity: str = "0.01") -> OrderIntent:
    decision = f"dec-{n:024d}"
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy="Hourly_Dip",
        asset="BTC",
        side=side,
        quantity=Decimal(quantity),
        reference_price=Decimal("20000"),
        notional=Decimal(quantity) * Decimal("20000"),
        as_of=FIRST + timedelta(hours=n),
        mode=Mode.PAPER,
    )


def _answers(broker: PaperBroker, as_of: datetime) -> tuple[Any, ...]:
    prices = {"BTC": Decimal("21000")}
    return (
        broker.fills(),
        broker.portfolio(prices, as_of),
        broker.book("Hourly_Dip", prices, as_of),
        broker.strategies(),
    )


def _fresh(path: Path, as_of: datetime) -> tuple[Any, ...]:
    with AuditLog(path) as log:
        return _answers(PaperBroker(log.db), as_of)


def test_the_kept_ledger_answers_as_a_fresh_read_after_fills_rollbacks_and_other_writers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.db"
    later = FIRST + timedelta(days=1)
    with AuditLog(path) as log:
        broker = PaperBroker(log.db, starting_cash=Decimal(10_000))
        assert _answers(broker, later) == _fresh(path, later)

        assert broker.execute(_intent(1), as_of=_intent(1).as_of).fill is not None
        assert _answers(broker, later) == _fresh(path, later)

        # A fill in a transaction that rolls back: gone from the file, so gone from the broker.
        with pytest.raises(RuntimeError), log.transaction():
            broker.execute(_intent(2), as_of=_intent(2).as_of)
            assert len(broker.fills()) == 2  # visible inside its transaction
            raise RuntimeError("rolled back")
        assert len(broker.fills()) == 1
        assert _answers(broker, later) == _fresh(path, later)

        # Another process (connection) fills: its commit shows in SQLite's data version.
        with AuditLog(path) as other:
            PaperBroker(other.db).execute(_intent(3), as_of=_intent(3).as_of)
        assert len(broker.fills()) == 2
        assert _answers(broker, later) == _fresh(path, later)

        # Another broker on this very connection: its write shows in the connection's changes.
        PaperBroker(log.db).execute(_intent(4, Side.SELL), as_of=_intent(4).as_of)
        assert [f.side for f in broker.fills()] == [Side.BUY, Side.BUY, Side.SELL]
        assert _answers(broker, later) == _fresh(path, later)

        # An order filled by the other broker is found as filled, not filled twice.
        again = broker.execute(_intent(4, Side.SELL), as_of=_intent(4).as_of)
        assert again.details.get("already_filled") is True
        assert len(broker.fills()) == 3

        # Twice in the caller's transaction (the ledger read once per order under its lock).
        with log.transaction():
            first = broker.execute(_intent(5), as_of=_intent(5).as_of)
            second = broker.execute(_intent(5), as_of=_intent(5).as_of)
        assert first.fill is not None and second.details.get("already_filled") is True
        assert second.fill == first.fill
        assert _answers(broker, later) == _fresh(path, later)


# --- the order history the gate reads ------------------------------------------------------------


def test_the_gates_order_history_is_the_logs_orders_of_the_rate_window(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    _cycles(tmp_path / "audit.db", replay_store, strategy)
    with AuditLog(tmp_path / "audit.db") as audit:
        fills = [r for r in audit.records() if r["kind"] == "fill"]
        placed = sorted(datetime.fromisoformat(f["fill"]["at"]) for f in fills)  # paper: as_of
        assert len(placed) >= 3
        pipeline, _ = _pipeline(audit, replay_store, strategy)
        portfolio = pipeline.broker.portfolio({}, AS_OFS[-1])
        for as_of in (placed[1] + timedelta(minutes=30), placed[-1], AS_OFS[-1]):
            state = pipeline.risk_state(portfolio, as_of, risk.DEFAULT_LIMITS)
            window = as_of - timedelta(seconds=risk.ORDER_RATE_WINDOW)
            assert list(state.order_times) == [t for t in placed if t > window]
            assert set(state.executed_decisions) == {f["decision_id"] for f in fills}
            assert all(f["decision_id"] in state.executed_decisions for f in fills)
            assert dict(state.last_trade) == {"BTC": placed[-1]}


# --- resting between cycles ----------------------------------------------------------------------


def _records_in_the_file_alone(path: Path) -> int:
    """Records in the database file itself, its WAL left out (a copy of the file alone)."""
    alone = path.with_name("alone.db")
    alone.write_bytes(path.read_bytes())
    with closing(sqlite3.connect(alone)) as db:
        tables = db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'records'")
        if not tables.fetchone()[0]:
            return 0
        return int(db.execute("SELECT count(*) FROM records").fetchone()[0])


def test_rest_puts_the_wal_into_the_database_file_and_inside_a_transaction_does_nothing(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        pipeline, now = _pipeline(audit, replay_store, strategy)
        for as_of in AS_OFS[:3]:
            now["as_of"] = as_of
            pipeline.cycle(as_of)
        with audit.transaction():
            pipeline.rest()  # a transaction is open: nothing to do, and no error
        assert _records_in_the_file_alone(path) < audit.count() == 7  # 6 decisions, 1 fill

        pipeline.rest()

        assert _records_in_the_file_alone(path) == audit.count() == 7


def test_the_live_loop_rests_between_cycles_while_it_waits() -> None:
    stop = threading.Event()
    seen: list[str] = []
    times = loop.wall_clock_times(
        timedelta(milliseconds=10),
        lambda: datetime.now(UTC),
        stop,
        idle=lambda: seen.append("rest"),
    )
    for n, _ in enumerate(times):
        seen.append("cycle")
        if n == 2:
            stop.set()
    assert seen == ["cycle", "rest", "cycle", "rest", "cycle"]


def _wal_salts(path: Path) -> bytes:
    """The WAL header's salts: new ones each time SQLite starts the WAL over."""
    with open(f"{path}-wal", "rb") as wal:
        return wal.read(24)[16:24]


def _first_cycle(
    audit: AuditLog, replay_store: SnapshotStore, strategy: Strategy
) -> tuple[Pipeline, dict[str, datetime]]:
    """A pipeline on ``audit`` that has decided its first cycle (and written its WAL)."""
    pipeline, now = _pipeline(audit, replay_store, strategy)
    now["as_of"] = AS_OFS[0]
    pipeline.cycle(AS_OFS[0])
    return pipeline, now


def test_rest_starts_the_wal_over_so_the_next_commit_does_not(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    # Starting over writes and syncs a new WAL header before the commit's frames: done at rest,
    # the next cycle's first commit syncs once, not twice.
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        pipeline, now = _first_cycle(audit, replay_store, strategy)
        before = _wal_salts(path)
        version = audit.conn.execute("PRAGMA user_version").fetchone()[0]

        pipeline.rest()
        rested = _wal_salts(path)
        now["as_of"] = AS_OFS[1]
        pipeline.cycle(AS_OFS[1])

        assert before != rested == _wal_salts(path)
        assert audit.conn.execute("PRAGMA user_version").fetchone()[0] == version
        assert verify(audit).ok


def test_rest_starts_the_wal_over_once_after_writes_and_not_again_with_none(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        pipeline, _ = _first_cycle(audit, replay_store, strategy)
        pipeline.rest()
        started = _wal_salts(path)

        pipeline.rest()  # nothing written since: the WAL stays as the last rest left it

        assert _wal_salts(path) == started


def test_rest_does_not_wait_for_another_writer_and_starts_over_later(
    replay_store: SnapshotStore, strategy: Strategy, tmp_path: Path
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, timeout=30) as audit:
        pipeline, _ = _first_cycle(audit, replay_store, strategy)
        before = _wal_salts(path)
        with closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")  # e.g. a CLI approval committing
            began = time.monotonic()
            pipeline.rest()
            waited = time.monotonic() - began
            other.execute("ROLLBACK")
        assert waited < 10 and _wal_salts(path) == before  # not 30 s: skipped this time

        pipeline.rest()

        assert _wal_salts(path) != before
