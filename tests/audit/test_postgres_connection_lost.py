"""A PostgreSQL server that drops the connection under a running runner is a one-line
``AuditError``, whichever table was being read: the paper ledger's reads went past the log's
translation of the server's errors.

Regression test: killing the server under ``signalops run`` ended, about once in fifteen, in a
Python traceback from ``psycopg.OperationalError`` at ``postgres_ledger.py`` (the ledger read
of the check between cycles), and otherwise in libpq's three lines.
"""

from __future__ import annotations

import psycopg
import pytest
from pg_fixtures import pg_server, pg_url  # noqa: F401  (fixtures)

from signalops.audit.postgres import PostgresAuditLog
from signalops.errors import AuditError


def dropped(log: PostgresAuditLog, server_url: str) -> None:
    """End the log's connection from the server side, as a server going down does."""
    pid = log.conn.info.backend_pid
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.parametrize("read", ["state", "fills_after", "account"])
def test_a_ledger_read_on_a_dropped_connection_is_a_one_line_audit_error(
    pg_url: str,  # noqa: F811
    pg_server,  # noqa: F811
    read: str,
):
    with PostgresAuditLog(pg_url, runner="runner-a") as log:
        ledger = log.paper_ledger()
        dropped(log, pg_server.url)
        with pytest.raises(AuditError) as caught:
            if read == "fills_after":
                ledger.fills_after(None)
            else:
                getattr(ledger, read)()
    message = str(caught.value)
    assert message.startswith(f"{log.path}: ") and "\n" not in message
    assert "terminating connection" in message or "closed" in message
