"""A real PostgreSQL server for the audit tests: started once per session, one database per test.

Not a conftest.py (a second ``conftest`` module would shadow the root one); test modules import
the fixtures by name. The server is ``tests/postgres_server.py``'s throw-away cluster; where it
cannot start (no binaries, no ``postgres`` user under root), every test that asks for it is
skipped with the reason ``start`` gave.

``append_worker`` is what the multi-process tests run in each child: a top-level function of a
light module, so a spawned interpreter imports it without the test module.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from postgres_server import Server, Unavailable, start

_NAMES = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    try:
        server = start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: Server) -> str:
    """The URL of a new, empty database of its own (as the superuser)."""
    import psycopg

    name = f"audit_{next(_NAMES)}"
    with psycopg.connect(pg_server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return pg_server.database_url(name)


def synthetic(n: int, asset: str, start: datetime | None = None) -> list[dict[str, Any]]:
    """``n`` decision records for one asset, one every 5 minutes."""
    from bench.audit_records import synthetic_records

    moment = start or datetime(2024, 1, 1, tzinfo=UTC)
    return list(synthetic_records(n, assets=(asset,), start=moment, step=timedelta(minutes=5)))


def append_worker(url: str, runner: str, n: int, shared: int, ready: Any, out: Any) -> None:
    """Append ``n`` records of this runner's own one at a time (one transaction each), and
    try the ``shared`` records every worker tries; report (appended, refused as duplicates).

    ``ready`` is a barrier of all the workers: none appends before every one is connected,
    since a spawned child's start-up (~1 s of imports) outlasts a whole run of appends."""
    from signalops.audit.postgres import PostgresAuditLog
    from signalops.errors import DuplicateRecordError

    own = synthetic(n, f"ASSET-{runner}")
    common = synthetic(shared, "SHARED")
    appended = refused = 0
    with PostgresAuditLog(url, runner=runner) as log:
        ready.wait(120)
        for i, record in enumerate(own):
            log.append(record)
            appended += 1
            if i < len(common):
                try:
                    log.append(common[i])
                    appended += 1
                except DuplicateRecordError:
                    refused += 1
    out.put((runner, appended, refused))


def batch_worker(url: str, runner: str, batch: int, batches: int, out: Any) -> None:
    """Append ``batches`` batches of ``batch`` records, each one ``append_many`` (one
    transaction); report the runner when done (a SIGKILLed worker never does)."""
    from signalops.audit.postgres import PostgresAuditLog

    records = synthetic(batch * batches, f"ASSET-{runner}")
    with PostgresAuditLog(url, runner=runner) as log:
        for at in range(0, len(records), batch):
            log.append_many(records[at : at + batch])
    out.put(runner)


def approve_worker(url: str, pending: dict[str, Any], by: str, ready: Any, out: Any) -> None:
    """Approve ``pending`` as ``by`` once every approver is connected (``ready``, a barrier
    of them all, as in ``append_worker``); report (by, "approved" | "refused")."""
    from signalops.audit.postgres import PostgresAuditLog
    from signalops.audit.record import build_followup
    from signalops.errors import DuplicateRecordError

    record = build_followup(
        "approval",
        decision_id=pending["decision_id"],
        recorded_at=datetime(2023, 3, 13, 0, 10, tzinfo=UTC),
        n=1,
        approval_id=pending["execution"]["approval_id"],
        approved=True,
        by=by,
    )
    with PostgresAuditLog(url, runner=by) as log:
        ready.wait(120)
        try:
            log.append(record)
            out.put((by, "approved"))
        except DuplicateRecordError:
            out.put((by, "refused"))
