"""Whose a paper fill is (COOLDOWN waits per strategy book) is read for all the fills of an
``OrdersSeen.update`` at once, from their decisions' indexed ``strategy`` column: a read of a log
of many fills (every run start, ``signalops approve``, a restart) makes a few queries, and learns
the books that reading each fill's decision gives.

Regression test: ``update`` read and decoded the whole decision record of every paper fill, one
query each (~70 µs a fill on a backtest's log: ~35 s at every run start on 500,000 fills, and on
PostgreSQL a round trip each). Held on SQLite in both layouts (compact: the column is an id into
``names``; legacy: the name itself) and on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

# pg_fixtures lives with the audit tests, whose folder is not on sys.path when only
# tests/pipeline runs (pytest puts each test module's own folder there).
sys.path.insert(0, str(ROOT / "tests" / "audit"))

from pg_fixtures import pg_server, pg_url  # noqa: F401  (fixtures)

from signalops.audit.interface import AuditStore
from signalops.audit.postgres import PostgresAuditLog
from signalops.audit.record import SCHEMA, build_followup
from signalops.audit.store import AuditLog
from signalops.pipeline.records import OrdersSeen

T0 = datetime(2024, 3, 1, tzinfo=UTC)
FILLS = 120
STRATEGIES = ("Alpha", "Beta", "Gamma")
# More statements than this for FILLS fills is a read per fill: the fills are one query, their
# decisions' strategies another, and a compact log looks up each name and context it has not
# met yet once (3 strategies, 1 context of fills), after SQLite's data_version.
FEW = 8


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _orders(first: int, n: int) -> Iterator[dict[str, Any]]:
    """``n`` paper fills from the ``first``-th, each after its decision, by three strategies
    on two assets; every 5th decision names no strategy, every 7th fill's decision is not in
    the log (both: no book), and every 10th is another runner's order_submitted instead."""
    for i in range(first, first + n):
        at = T0 + i * timedelta(hours=1)
        did = f"dec-{i:06d}"
        asset = ("BTC", "ETH")[i % 2]
        if i % 10 == 9:
            order = {"strategy": "Elsewhere", "asset": asset, "as_of": _stamp(at), "side": "BUY"}
            yield build_followup(
                "order_submitted", decision_id=did, recorded_at=at,
                client_order_id=f"so-{did}", order=order,
            )  # fmt: skip
            continue
        if i % 7 != 6:
            yield _decision(did, at, asset, None if i % 5 == 4 else STRATEGIES[i % 3])
        fill = {"asset": asset, "side": "BUY", "quantity": "0.01", "at": _stamp(at)}
        yield build_followup(
            "fill", decision_id=did, recorded_at=at, client_order_id=f"so-{did}", fill=fill
        )


def _decision(did: str, at: datetime, asset: str, strategy: str | None) -> dict[str, Any]:
    record = {
        "schema": SCHEMA, "kind": "decision", "id": did, "decision_id": did,
        "recorded_at": _stamp(at), "as_of": _stamp(at), "asset": asset, "verdict": "BUY",
        "mode": "paper", "execution": {"status": "FILLED", "message": "paper fill"},
    }  # fmt: skip
    if strategy is not None:
        record["strategy"] = {"name": strategy, "hash": f"sha256:{strategy.lower():0>64}"}
    return record


def _books_read_decision_by_decision(log: AuditStore) -> dict[str, dict[str, datetime]]:
    """Each strategy's last order per asset, its fills' owners read from their decisions one
    by one (what ``update`` did before)."""
    books: dict[str, dict[str, datetime]] = {}
    for _, record in log.records_since("fill", "order_submitted"):
        order = record.get("order") or {}
        owner = order.get("strategy")
        if owner is None:
            owner = ((log.get(record["decision_id"]) or {}).get("strategy") or {}).get("name")
        if owner is not None:
            at = datetime.fromisoformat(order.get("as_of") or record["fill"]["at"])
            asset = order.get("asset") or record["fill"]["asset"]
            book = books.setdefault(owner, {})
            book[asset] = max(book.get(asset, at), at)
    return books


def _books(orders: OrdersSeen) -> dict[str, dict[str, datetime]]:
    return {name: dict(book) for name, book in orders.books.items() if book}


def _expected_books(log: AuditStore) -> dict[str, dict[str, datetime]]:
    books = _books_read_decision_by_decision(log)
    assert set(books) == {*STRATEGIES, "Elsewhere"}  # the log has what the test is about
    return books


# --- SQLite ----------------------------------------------------------------------------------


def _sqlite_log(path: Path, layout: str) -> AuditLog:
    if layout == "legacy":  # PRAGMA user_version 0: text columns, the name in ``strategy``
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TABLE records (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT "
            "NULL, decision_id TEXT, recorded_at TEXT, as_of TEXT, strategy TEXT, strategy_hash "
            "TEXT, asset TEXT, verdict TEXT, mode TEXT, status TEXT, prev_hash TEXT NOT NULL, "
            "hash TEXT NOT NULL, body TEXT NOT NULL)"
        )
        conn.execute("CREATE UNIQUE INDEX records_id ON records (id)")
        conn.commit()
        conn.close()
    log = AuditLog(path)
    assert log.compact == (layout == "compact")
    return log


@pytest.fixture(params=["compact", "legacy"])
def sqlite_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditLog]:
    with _sqlite_log(tmp_path / "audit.db", request.param) as log:
        yield log


def _statements(log: AuditLog, orders: OrdersSeen) -> list[str]:
    """The SQL statements ``orders.update(log)`` runs."""
    ran: list[str] = []
    log.conn.set_trace_callback(ran.append)
    try:
        orders.update(log)
    finally:
        log.conn.set_trace_callback(None)
    return ran


def test_a_read_of_many_fills_makes_a_few_queries_and_learns_every_books_last_trade(
    sqlite_log: AuditLog,
):
    sqlite_log.append_many(_orders(0, FILLS))
    orders = OrdersSeen()
    with AuditLog.open_readonly(sqlite_log.path) as reader:  # a run's start: names not met
        ran = _statements(reader, orders)
    assert len(ran) <= FEW, ran
    assert _books(orders) == _expected_books(sqlite_log)


def test_fills_appended_after_a_read_are_looked_up_together_at_the_next(sqlite_log: AuditLog):
    sqlite_log.append_many(_orders(0, 10))
    orders = OrdersSeen()
    orders.update(sqlite_log)
    sqlite_log.append_many(_orders(10, FILLS))
    ran = _statements(sqlite_log, orders)
    assert len(ran) <= FEW, ran
    assert _books(orders) == _expected_books(sqlite_log)
    orders.restart()  # a restart reads the log from its start: its owners were learnt
    ran = _statements(sqlite_log, orders)
    assert len(ran) <= 2, ran
    assert _books(orders) == _expected_books(sqlite_log)


def test_more_decisions_than_sqlite_binds_in_one_query_are_looked_up_in_parts(tmp_path: Path):
    with _sqlite_log(tmp_path / "audit.db", "compact") as log:
        log.append_many(_orders(0, 30))
        log.conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 8)
        wanted = [f"dec-{i:06d}" for i in range(30)] + ["dec-nowhere"]
        ran: list[str] = []
        log.conn.set_trace_callback(ran.append)
        found = log.strategies_of(wanted)
        log.conn.set_trace_callback(None)
    assert sum("FROM records WHERE id IN" in sql for sql in ran) == 4  # 31 ids, 8 at a time
    expected = {
        f"dec-{i:06d}": None if i % 5 == 4 else STRATEGIES[i % 3]
        for i in range(30)
        if i % 10 != 9 and i % 7 != 6  # an order_submitted, a fill without its decision
    }
    assert found == expected


# --- PostgreSQL ------------------------------------------------------------------------------


class _CountingLog(PostgresAuditLog):
    """Counts the queries sent to the server (every read goes through ``_all``)."""

    sent = 0

    def _all(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.sent += 1
        return super()._all(sql, params)


def test_on_postgresql_a_read_of_many_fills_is_a_few_round_trips(pg_url: str):  # noqa: F811
    with _CountingLog(pg_url, runner="runner-a") as log:
        log.append_many(_orders(0, FILLS))
        orders = OrdersSeen()
        log.sent = 0
        orders.update(log)
        assert log.sent <= 2
        assert _books(orders) == _expected_books(log)
