"""The paper broker's ledger in the PostgreSQL audit log's database (``PaperLedger``'s twin).

The tables are ``signalops.audit.paper_ledger``'s, made with the log's schema
(``LEDGER_SCHEMA``), append-only by the same triggers as the records. A fill is written in the
log's transaction (a savepoint when one is open), so it commits or rolls back with the records
that state it, as on SQLite.

Writers of every process take the chain head's row lock first (what every append takes): so
ledger rows are inserted, and committed, in seq order, which is what lets the broker trust "the
last seq" as the ledger's state; and the locks are always taken in one order (head, then
ledger), so a runner filling while another appends cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from signalops.audit.paper_ledger import FILL_COLUMNS, Row

if TYPE_CHECKING:
    from signalops.audit.postgres import PostgresAuditLog

_INSERTED = FILL_COLUMNS.removeprefix("seq, ")

LEDGER_SCHEMA = (
    "CREATE TABLE paper_account (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "starting_cash TEXT NOT NULL, quote TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE paper_fills (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "client_order_id TEXT NOT NULL UNIQUE, decision_id TEXT NOT NULL, strategy TEXT NOT NULL, "
    "asset TEXT NOT NULL, side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')), "
    "quantity TEXT NOT NULL, price TEXT NOT NULL, fee TEXT NOT NULL, "
    "reference_price TEXT NOT NULL, fee_bps TEXT NOT NULL, slippage_bps TEXT NOT NULL, "
    "placed_at TEXT NOT NULL, filled_at TEXT NOT NULL)",
)
LEDGER_TABLES = (("paper_account", "the paper account"), ("paper_fills", "paper fills"))


class PostgresLedger:
    """The ledger tables of ``log``'s database, on its connection (see the module doc)."""

    def __init__(self, log: PostgresAuditLog) -> None:
        self.log = log
        self._changes = 0

    @property
    def readonly(self) -> bool:
        return self.log.readonly

    @contextmanager
    def write(self) -> Iterator[None]:
        with self.log.transaction() as conn:
            conn.execute("SELECT 1 FROM chain_head WHERE id = 1 FOR UPDATE")
            # Unlike SQLite's BEGIN IMMEDIATE, a transaction here takes the writers' lock only
            # now: rows read before it may be stale (another runner's fill committed while we
            # waited), so the count moves and the broker reads again under the lock.
            self._changes += 1
            yield

    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.log.conn.info.transaction_status != TransactionStatus.IDLE

    def state(self) -> tuple[int, int] | None:
        """The last fill's seq (committed in seq order, see the module doc) and this
        connection's writes; None inside a transaction."""
        if self.in_transaction():
            return None
        last = self._one("SELECT coalesce(max(seq), 0) FROM paper_fills")
        return int(last[0]) if last else 0, self._changes

    def changes(self) -> int:
        return self._changes

    def create(self) -> None:
        """Nothing: the tables come with the log's schema."""

    def exists(self) -> bool:
        return True

    def account(self) -> tuple[str, str, str] | None:
        row = self._one("SELECT starting_cash, quote, created_at FROM paper_account WHERE id = 1")
        return None if row is None else (row[0], row[1], row[2])

    def open_account(self, starting_cash: str, quote: str, created_at: str) -> None:
        self._changes += 1
        self._all(
            "INSERT INTO paper_account (id, starting_cash, quote, created_at) "
            "VALUES (1, %s, %s, %s)",
            [starting_cash, quote, created_at],
            returns=False,
        )

    def fill_at(self, seq: int) -> Row | None:
        return self._one(f"SELECT {FILL_COLUMNS} FROM paper_fills WHERE seq = %s", [seq])

    def fills_after(self, seq: int | None, limit: int | None = None) -> list[Row]:
        """The fill rows after ``seq`` (None: from the first), in ledger order (the first
        ``limit`` of them)."""
        where, params = ("", []) if seq is None else ("WHERE seq > %s", [seq])
        return self._all(
            f"SELECT {FILL_COLUMNS} FROM paper_fills {where} ORDER BY seq LIMIT %s",
            [*params, limit],
        )

    def fill_for(self, client_order_id: str) -> Row | None:
        return self._one(
            f"SELECT {FILL_COLUMNS} FROM paper_fills WHERE client_order_id = %s",
            [client_order_id],
        )

    def insert_fill(self, values: Row) -> int:
        """Append a fill (every column but ``seq``, in order); returns its seq.

        The seq is the last one + 1, as SQLite's rowid gives it, not the identity's next value:
        a sequence does not roll back, so a fill undone (a runner killed inside its
        transaction) left a gap, and the next fill's ``paper-N`` differed from a run never
        killed. Under the writers' lock (``write``) no other fill comes between."""
        self._changes += 1
        marks = ", ".join("%s" for _ in values)
        row = self._one(
            f"INSERT INTO paper_fills (seq, {_INSERTED}) OVERRIDING SYSTEM VALUE "
            f"SELECT coalesce(max(seq), 0) + 1, {marks} FROM paper_fills RETURNING seq",
            list(values),
        )
        assert row is not None
        return int(row[0])

    def _one(self, sql: str, params: list[Any] | None = None) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _all(self, sql: str, params: list[Any] | None = None, *, returns: bool = True) -> list[Row]:
        """The statement's rows, through the log's connection and its translation of the
        server's errors (a lost connection is one line, not the driver's traceback)."""
        with self.log._lock, self.log._server_errors():
            cursor = self.log.conn.execute(sql, params or [])
            return cursor.fetchall() if returns else []


__all__ = ["LEDGER_SCHEMA", "LEDGER_TABLES", "PostgresLedger"]
