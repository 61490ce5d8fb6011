"""The shortcuts of the decisions that act give what the general paths they shortcut give.

A BUY or SELL goes through the risk gate (the account's and the book's views of the paper
ledger, the past orders read from the audit log) and, when approved, a paper fill. Three things
are kept instead of read again:

- the ledger's rows inside a ``PaperBroker.sole_writer`` block (a gate; a backtest's batch),
  checked at the block's first read only, with the broker's own fills added as written;
- each book's figures but the marks (``_standing``), while the rows and the day are the same;
- the past orders (``OrdersSeen``): the fills a recorder writes are noted, not read back, and
  inside a backtest's batch the log is read once.

Each is held to a fresh reader's answer (a new broker, a new ``OrdersSeen`` reading the whole
log), through fills, days, allocations, rollbacks and other writers (on the same connection or
another); a block's reads of the ledger are counted; and a fast backtest whose batches keep
them writes the log of one that keeps nothing (its broker forgets all it read at every read,
no ``sole_writer`` block, its fills' order records read back from the log) and builds its
fills' records the general way (``prepare_decision``, ``prepare_followup``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.paper_ledger import Row, SQLiteLedger
from signalops.audit.record import (
    PreparedRecord,
    build_followup,
    prepare_decision,
    prepare_followup,
)
from signalops.audit.store import AuditLog
from signalops.backtest.bars import NEXT_OPEN, Bars
from signalops.backtest.clock import SimulatedClock
from signalops.backtest.fast import FastRun, FlatViewBroker
from signalops.config import Config
from signalops.evaluation.tree import Evaluation
from signalops.execution.paper import PaperBroker, _FillRow
from signalops.orders import (
    ExecutionResult,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)
from signalops.pipeline import Pipeline
from signalops.pipeline.records import OrdersSeen, Recorder, Writable
from signalops.strategy import loads

T0 = datetime(2024, 3, 1, 21, tzinfo=UTC)  # three hours before a midnight
HOUR = timedelta(hours=1)
NEW_YORK = timezone(timedelta(hours=-5))
D = Decimal
HOURLY_RSI = (Path(__file__).parent / "fixtures" / "hourly_rsi.yaml").read_text(encoding="utf-8")


def _intent(strategy: str, side: Side, quantity: str, at: datetime, tag: str = "") -> OrderIntent:
    did = decision_id(f"hash-{strategy}{tag}", "BTC", at, "paper")
    price = D("30000")
    return OrderIntent(
        did, client_order_id(did), strategy, "BTC", side, D(quantity), price,
        D(quantity) * price, at, Mode.PAPER,
    )  # fmt: skip


# Fills by hour from T0: two strategies, one with its own capital, over two midnights.
PLAN = {
    1: ("Own", Side.BUY, "0.01"),
    2: ("Shared", Side.BUY, "0.02"),
    4: ("Own", Side.BUY, "0.005"),
    5: ("Shared", Side.SELL, "0.02"),
    9: ("Own", Side.SELL, "0.015"),
    26: ("Shared", Side.BUY, "0.01"),
    28: ("Own", Side.BUY, "0.02"),
}
CAPITAL = {"Own": D("2000")}


def _views(broker: PaperBroker, price: str, at: datetime) -> list[str]:
    """The account and both books at ``at``, marked at ``price``, as exact text (a Decimal's
    repr keeps its exponent: equal values written apart would differ)."""
    prices = {"BTC": D(price)}
    return [
        repr(broker.portfolio(prices, at)),
        *(repr(broker.book(name, prices, at)) for name in ("Own", "Shared")),
    ]


def _fresh(db: sqlite_utils.Database) -> PaperBroker:
    """A broker that has read nothing yet (on the same connection: it sees what is uncommitted)."""
    broker = PaperBroker(db)
    broker.allocate(CAPITAL)
    return broker


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    found = sqlite_utils.Database(tmp_path / "ledger.db")
    PaperBroker(found, starting_cash="10000", fee_bps=10, slippage_bps=5)  # opens the account
    return found


def _broker(db: sqlite_utils.Database) -> PaperBroker:
    broker = PaperBroker(db, fee_bps=10, slippage_bps=5)
    broker.allocate(CAPITAL)
    return broker


def test_views_in_a_sole_writer_block_equal_a_fresh_brokers_through_fills_and_midnights(
    db: sqlite_utils.Database,
):
    broker = _broker(db)
    db.conn.execute("BEGIN IMMEDIATE")
    with broker.sole_writer():
        for hour in range(32):
            at = T0 + hour * HOUR
            planned = PLAN.get(hour)
            if planned is not None:
                strategy, side, quantity = planned
                assert broker.execute(_intent(strategy, side, quantity, at), as_of=at).fill
            # At the hour (a fill just placed), half an hour on (in New York: another date's
            # evening, the same UTC day), and before the last fill (a cut inside the ledger),
            # at prices that move.
            later = (at + HOUR / 2).astimezone(NEW_YORK)
            for moment, price in ((at, "30100"), (later, "29950.5"), (at - HOUR, "30000")):
                assert _views(broker, price, moment) == _views(_fresh(db), price, moment)
    assert broker.fills() == _fresh(db).fills()
    db.conn.execute("COMMIT")


def test_an_order_filled_in_the_block_is_known_filled_as_a_fresh_broker_knows_it(
    db: sqlite_utils.Database,
):
    broker = _broker(db)
    buy = _intent("Shared", Side.BUY, "0.01", T0)
    db.conn.execute("BEGIN IMMEDIATE")
    with broker.sole_writer():
        first = broker.execute(buy, as_of=T0)
        again = broker.execute(buy, as_of=T0)
    fresh = _fresh(db).execute(buy, as_of=T0)
    assert again.details == fresh.details == {"venue": "paper", "already_filled": True}
    assert again.fill == fresh.fill == first.fill
    db.conn.execute("COMMIT")
    assert db.conn.execute("SELECT count(*) FROM paper_fills").fetchone()[0] == 1


def test_a_fill_rolled_back_after_its_block_is_gone_from_the_next_read(
    db: sqlite_utils.Database,
):
    broker = _broker(db)
    prices, later = {"BTC": D("30500")}, T0 + 2 * HOUR
    db.conn.execute("BEGIN IMMEDIATE")
    broker.execute(_intent("Shared", Side.BUY, "0.01", T0), as_of=T0)
    db.conn.execute("SAVEPOINT caller")
    with broker.sole_writer():
        broker.execute(_intent("Shared", Side.BUY, "0.02", T0 + HOUR), as_of=T0 + HOUR)
        assert broker.portfolio(prices, later).positions["BTC"].quantity == D("0.03")
    db.conn.execute("ROLLBACK TO caller")  # the caller's record failed: its fill goes too
    for block in (False, True):
        if block:
            with broker.sole_writer():
                assert _views(broker, "30500", later) == _views(_fresh(db), "30500", later)
        else:
            assert _views(broker, "30500", later) == _views(_fresh(db), "30500", later)
    assert broker.portfolio(prices, later).positions["BTC"].quantity == D("0.01")
    db.conn.execute("COMMIT")


def test_a_books_views_after_its_allocation_changes_equal_a_fresh_brokers(
    db: sqlite_utils.Database,
):
    broker = _broker(db)
    broker.execute(_intent("Own", Side.BUY, "0.01", T0), as_of=T0)
    # The fill's day and the next: an allocated book's day starts at its allocation, then at
    # its allocation plus its equity at midnight. At one moment, only the allocation changes.
    for at in (T0 + HOUR, T0 + 4 * HOUR):
        for capital in ({"Own": D("2000")}, {"Own": D("5000")}, {}):
            broker.allocate(capital)
            fresh = PaperBroker(db)
            fresh.allocate(capital)
            assert _views(broker, "30100", at) == _views(fresh, "30100", at)


class _CountingLedger(SQLiteLedger):
    """A SQLite ledger that counts the reads of its fills (the broker's only read of them)."""

    reads = 0

    def fills_after(self, seq: int | None, limit: int | None = None) -> list[Row]:
        self.reads += 1
        return super().fills_after(seq, limit)


def _gate(broker: PaperBroker, at: datetime) -> list[Any]:
    """What a gate asks the broker for one decision: the account, its book and, for Kelly
    sizing, its closed trades."""
    return [*_views(broker, "30100", at), repr(broker.closed_trades("Own", at))]


def test_a_gate_in_a_sole_writer_block_reads_the_ledger_once_and_after_it_at_every_ask(
    db: sqlite_utils.Database,
):
    ledger = _CountingLedger(db)
    broker = PaperBroker(ledger)
    broker.allocate(CAPITAL)
    for hour, (strategy, side, quantity) in sorted(PLAN.items())[:5]:
        at = T0 + hour * HOUR
        broker.execute(_intent(strategy, side, quantity, at), as_of=at)
    at = T0 + 10 * HOUR
    db.conn.execute("BEGIN IMMEDIATE")  # a transaction: the connection's state says nothing
    ledger.reads = 0
    with broker.sole_writer():
        inside = _gate(broker, at)
    assert ledger.reads == 1
    ledger.reads = 0
    outside = _gate(broker, at)  # the block ended: each ask checks the ledger again
    assert ledger.reads > 1
    assert inside == outside == _gate(_fresh(db), at)
    db.conn.execute("COMMIT")


@pytest.mark.parametrize(
    ("in_transaction", "their_connection"),
    [(True, False), (False, False), (False, True)],
    # Another connection cannot write while ours holds a transaction (BEGIN IMMEDIATE).
    ids=["in_a_transaction", "autocommit", "another_connection"],
)
def test_another_brokers_fill_between_two_blocks_is_seen_by_the_next_one(
    db: sqlite_utils.Database, tmp_path: Path, in_transaction: bool, their_connection: bool
):
    # Another connection: a CLI approval filling an order while a runner gates its decisions.
    other = sqlite_utils.Database(tmp_path / "ledger.db") if their_connection else db
    ours, theirs = _broker(db), _broker(other)
    prices = {"BTC": D("30000")}
    if in_transaction:
        db.conn.execute("BEGIN IMMEDIATE")
    for hour in range(3):
        at = T0 + hour * HOUR
        # Our own fill, kept as written (a block's caller vouches for its own writes only).
        ours.execute(_intent("Own", Side.BUY, "0.001", at), as_of=at)
        with ours.sole_writer():  # a gate: it only reads
            assert _views(ours, "30000", at) == _views(_fresh(db), "30000", at)
        theirs.execute(_intent("Shared", Side.BUY, "0.01", at), as_of=at)
    with ours.sole_writer():
        seen = ours.portfolio(prices, T0 + 3 * HOUR)
        assert _views(ours, "30000", T0 + 3 * HOUR) == _views(_fresh(db), "30000", T0 + 3 * HOUR)
    assert seen.positions["BTC"].quantity == D("0.033")
    if in_transaction:
        db.conn.execute("COMMIT")
    if their_connection:
        other.close()


# --- the past orders ---------------------------------------------------------------------------


class _Log(AuditLog):
    """An audit log that counts the records ``records_since`` gives back and, when armed,
    appends another writer's order record just before the next records it is given."""

    read = 0
    interleave: dict[str, Any] | None = None

    def records_since(self, *kinds: str, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        found = super().records_since(*kinds, after_seq=after_seq)
        self.read += len(found)
        return found

    def append_many(self, records: Any) -> int:
        extra, self.interleave = self.interleave, None
        if extra is not None:
            super().append_many([extra])
        return super().append_many(records)


def _seen(orders: OrdersSeen) -> tuple[Any, ...]:
    return orders.seq, list(orders.times), dict(orders.last_trade), set(orders.executed)


def _read_afresh(log: AuditLog) -> OrdersSeen:
    fresh = OrdersSeen()
    fresh.update(log)
    return fresh


def _approval(intent: OrderIntent, at: datetime) -> Any:
    """The record written with a fill (``first``): an approval, as an approved order's."""

    def first(_: Any) -> Writable:
        return build_followup(
            "approval", decision_id=intent.decision_id, recorded_at=at,
            approval_id=f"apr-{intent.decision_id}", approved=True, by="test",
        )  # fmt: skip

    return first


def _submitted(tag: str, at: datetime) -> dict[str, Any]:
    """Another runner's order sent to a venue (an ``order_submitted`` record)."""
    order = _intent("Elsewhere", Side.BUY, "0.01", at, tag)
    return build_followup(
        "order_submitted", decision_id=order.decision_id, recorded_at=at,
        client_order_id=order.client_order_id, order=order.to_dict(),
    )  # fmt: skip


def _recorders(tmp_path: Path) -> tuple[_Log, OrdersSeen, Recorder, Recorder]:
    log = _Log(tmp_path / "audit.db")
    broker = PaperBroker(log.paper_ledger(), starting_cash="100000")
    orders = OrdersSeen()
    noting = Recorder(log, broker, lambda: T0, orders=orders)
    other = Recorder(log, broker, lambda: T0)  # another writer: it keeps no orders
    return log, orders, noting, other


def test_orders_noted_as_written_equal_the_orders_read_back_from_the_log(tmp_path: Path):
    log, orders, noting, other = _recorders(tmp_path)
    others = 0
    for hour in range(12):
        at = T0 + hour * HOUR
        side = Side.BUY if hour % 4 < 2 else Side.SELL
        if hour % 3 == 2:
            other.paper(
                _intent("Other", Side.BUY, "0.01", at),
                at,
                _approval(_intent("Other", Side.BUY, "0.01", at), at),
            )
            others += 1
        else:
            buy = _intent("Noting", side, "0.01", at)
            noting.paper(buy, at, _approval(buy, at))
        if hour % 5 == 4:
            log.append(_submitted(str(hour), at))
            others += 1
        orders.update(log)  # the gate's read before its next decision
        read = log.read
        assert _seen(orders) == _seen(_read_afresh(log))
        log.read = read
    # Only the other writers' order records were read: each once.
    assert log.read == others
    log.close()


def test_an_order_record_appended_among_the_recorders_own_is_read_not_skipped(tmp_path: Path):
    log, orders, noting, _ = _recorders(tmp_path)
    for hour in range(4):
        at = T0 + hour * HOUR
        if hour == 2:  # another runner's order lands between the read and the fill's records
            log.interleave = _submitted("between", at)
        buy = _intent("Noting", Side.BUY, "0.01", at)
        noting.paper(buy, at, _approval(buy, at))
        orders.update(log)
        assert _seen(orders) == _seen(_read_afresh(log))
    assert len(orders.executed) == 5
    log.close()


def test_inside_a_sole_writer_block_the_orders_are_read_once_and_again_after_it(
    tmp_path: Path,
):
    log, orders, noting, _ = _recorders(tmp_path)
    with orders.sole_writer():
        for hour in range(3):
            at = T0 + hour * HOUR
            orders.update(log)
            buy = _intent("Noting", Side.BUY, "0.01", at)
            noting.paper(buy, at, _approval(buy, at))
            assert _seen(orders) == _seen(_read_afresh(log))
        log.append(_submitted("late", T0 + 3 * HOUR))  # what the block's caller rules out
        orders.update(log)
        assert len(orders.executed) == 3  # not read inside the block
    orders.update(log)
    assert _seen(orders) == _seen(_read_afresh(log))
    log.close()


def test_restarting_the_orders_reads_the_whole_log_again_inside_a_block(tmp_path: Path):
    log, orders, noting, _ = _recorders(tmp_path)
    with orders.sole_writer():
        for hour in range(2):
            at = T0 + hour * HOUR
            buy = _intent("Noting", Side.BUY, "0.01", at)
            noting.paper(buy, at, _approval(buy, at))
        orders.update(log)
        orders.restart()  # an approval dated back: the window's times are read again
        orders.update(log)
        assert _seen(orders) == _seen(_read_afresh(log))
    log.close()


@pytest.mark.parametrize("alone", [False, True], ids=["read between", "sole writer"])
def test_records_given_before_a_paper_fill_go_ahead_of_its_own_and_its_orders_are_noted(
    tmp_path: Path, alone: bool
):
    log, orders, noting, _ = _recorders(tmp_path)
    with orders.sole_writer() if alone else nullcontext():
        orders.update(log)
        for hour in range(3):
            at = T0 + hour * HOUR
            before = [_approval(_intent("Held", Side.BUY, "0.01", at, str(k)), at)(None)
                      for k in range(hour + 1)]  # fmt: skip
            buy = _intent("Noting", Side.BUY, "0.01", at)
            noting.paper(buy, at, _approval(buy, at), before=before)
            kinds = [r["decision_id"] for r in log.records()][-len(before) - 2 :]
            assert kinds == [*(r["decision_id"] for r in before), buy.decision_id, buy.decision_id]
            orders.update(log)
            read = log.read
            assert _seen(orders) == _seen(_read_afresh(log))
            log.read = read
    assert log.read == 0  # each fill noted as written, none read back
    log.close()


def _chain_and_ledger(log: AuditLog) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    records = [(r["seq"], r["id"], r["hash"]) for r in log.records()]
    return records, log.paper_fill_rows()


def test_an_enclosed_paper_fill_writes_what_a_paper_fill_writes(tmp_path: Path):
    # ``enclosed``: the fill's transaction is its caller's (a fast backtest's batch), with no
    # savepoint of its own. The records, their chain and the ledger are those of ``paper``.
    written = []
    for enclosed in (False, True):
        log, orders, noting, _ = _recorders(tmp_path / str(enclosed))
        with log.transaction(), orders.sole_writer():
            orders.update(log)
            for hour in range(4):
                at = T0 + hour * HOUR
                order = _intent("Noting", Side.BUY if hour % 2 == 0 else Side.SELL, "0.01", at)
                noting.paper(order, at, _approval(order, at), enclosed=enclosed)
        assert _seen(orders) == _seen(_read_afresh(log))
        written.append(_chain_and_ledger(log))
        log.close()
    assert written[0] == written[1]
    assert len(written[0][0]) == 8 and len(written[0][1]) == 4


def test_an_enclosed_paper_fill_that_fails_is_undone_by_its_callers_rollback(tmp_path: Path):
    log, _, noting, _ = _recorders(tmp_path)
    order = _intent("Noting", Side.BUY, "0.01", T0)

    def failing(_: Any) -> Writable:
        raise RuntimeError("the decision record cannot be made")

    with pytest.raises(RuntimeError), log.transaction():
        log.append(_submitted("before", T0))
        noting.paper(order, T0, failing, enclosed=True)
    assert _chain_and_ledger(log) == ([], [])
    log.close()


# --- a whole fast backtest ---------------------------------------------------------------------


class _ForgettingBroker(FlatViewBroker):
    """The oracle's broker: it forgets every row, replay, figure and view it kept at each read
    of the ledger, so every view is worked out from the rows read afresh."""

    def _rows(self) -> list[_FillRow]:
        self._cache, self._last_raw, self._trusted = [], None, None
        self._standings, self._views, self._checked = {}, None, False
        self._asked, self._day_marked = None, {}
        self._replays.clear()
        return super()._rows()


class _GeneralRecorder(Recorder):
    """The oracle's recorder: a fill's record built by the follow-up builder
    (``prepare_followup``), not written from the fill's values at once (``prepare_fill``)."""

    @staticmethod
    def _fill_record(intent: OrderIntent, result: ExecutionResult, at: datetime) -> list[Writable]:
        if result.fill is None:
            return []
        return [
            prepare_followup(
                "fill",
                decision_id=intent.decision_id,
                recorded_at=at,
                client_order_id=intent.client_order_id,
                fill=result.fill.to_dict(),
            )
        ]


class _ReadingRun(FastRun):
    """The oracle's run: no ``sole_writer`` block (the broker and the gate's past orders read
    again at every ask), its fills' order records read back from the log by the gate instead
    of noted as written (``orders=None``), and the records of its fills built the general way
    (``prepare_decision``, not with the batch's times; ``_GeneralRecorder``)."""

    @contextmanager
    def _alone(self) -> Iterator[None]:
        yield

    @cached_property
    def _recorder(self) -> Recorder:
        given = self.pipeline.records
        values = {f.name: getattr(given, f.name) for f in fields(Recorder)}
        return _GeneralRecorder(**{**values, "orders": None, "lines": self._lines.extend})

    def _record(
        self,
        evaluation: Evaluation,
        intent: OrderIntent,
        gate: Any,
        result: ExecutionResult,
        i: int,
    ) -> PreparedRecord:
        return prepare_decision(
            strategy=self.strategy, evaluation=evaluation, mode=self.mode, intent=intent,
            risk=gate, execution=result, recorded_at=self.clock(),
        )  # fmt: skip


def _fast_run(store: SnapshotStore, folder: Path, *, arm: str) -> dict[str, Any]:
    """A fast backtest of the hourly RSI strategy over two months with fills; what it decided
    and wrote. ``arm``: ``kept``, its ledger in the log's file (the batches keep rows, figures
    and orders); ``own_ledger``, its ledger in a file of its own (outside the batch's
    transaction: no ``sole_writer`` block); ``oracle``, the log's file again, keeping nothing."""
    folder.mkdir()
    strategy = loads(HOURLY_RSI, "hourly_rsi.yaml")
    config, start, step = Config(), datetime(2021, 5, 1, tzinfo=UTC), HOUR
    prices = {"BTC": Bars.load(store, "BTC", 3600, config.venues)}
    log = AuditLog(folder / "audit.db")
    own_ledger = arm == "own_ledger"
    ledger = sqlite_utils.Database(folder / "ledger.db") if own_ledger else log.db
    clock = SimulatedClock(start)
    broker = (_ForgettingBroker if arm == "oracle" else FlatViewBroker)(
        ledger, starting_cash="10000", fee_bps=10, slippage_bps=0, created_at=start,
        price=lambda asset, at: prices[asset].fill(NEXT_OPEN, at),
    )  # fmt: skip
    pipeline = Pipeline(
        strategies=[strategy], adapters=registry.replay_adapters(store, venues=config.venues),
        audit=log, broker=broker, config=config, mode=Mode.PAPER, clock=clock,
    )  # fmt: skip
    moments = [start + k * step for k in range(24 * 61)]
    ends = [moment + step for moment in moments]
    run = (_ReadingRun if arm == "oracle" else FastRun)(
        pipeline, strategy, moments, ends, prices, clock=clock
    )
    curve = run.run()
    log.close()
    with sqlite3.connect(folder / "audit.db") as conn:
        records = conn.execute("SELECT * FROM records ORDER BY seq").fetchall()
    with sqlite3.connect(folder / ("ledger.db" if own_ledger else "audit.db")) as conn:
        fills = conn.execute("SELECT * FROM paper_fills ORDER BY seq").fetchall()
    return {"decisions": run.decisions, "curve": curve, "records": records, "fills": fills}


def test_a_fast_backtest_keeping_rows_and_orders_writes_what_reading_them_each_time_writes(
    replay_store: SnapshotStore, tmp_path: Path
):
    oracle = _fast_run(replay_store, tmp_path / "oracle", arm="oracle")
    statuses = {d.status for d in oracle["decisions"]}
    assert {"FILLED", "NOT_EXECUTED"} <= statuses and len(oracle["fills"]) >= 4
    assert any("MAX_POSITION" in d.denials for d in oracle["decisions"])
    for arm in ("kept", "own_ledger"):
        found = _fast_run(replay_store, tmp_path / arm, arm=arm)
        for name in ("decisions", "curve", "records", "fills"):
            assert found[name] == oracle[name], (arm, name)
