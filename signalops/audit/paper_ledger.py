"""The paper broker's ledger tables: the only SQL the paper broker runs.

    paper_account  id (always 1), starting_cash, quote, created_at
    paper_fills    seq (ledger order), client_order_id (UNIQUE), decision_id, strategy, asset,
                   side, quantity, price, fee, reference_price, fee_bps, slippage_bps,
                   placed_at (the as_of the order was placed at), filled_at (the price's time)

Rows are only ever inserted; triggers refuse UPDATE and DELETE, so a new row's ``seq`` (one
past the largest) is never one a row had before, without ``AUTOINCREMENT`` (whose counter table
was one more page written with every fill; ledgers made with it keep it). Money and quantities
are decimal TEXT, so they read back exactly; rows come back as tuples in ``FILL_COLUMNS``
order, and the broker (``signalops.execution.paper``) gives them meaning.

``PaperLedger`` is what the broker needs of a ledger; ``SQLiteLedger`` keeps it in a SQLite file
(the audit log's, or one of its own), ``signalops.audit.postgres_ledger.PostgresLedger`` in the
PostgreSQL audit log's database. An audit log gives its own with ``log.paper_ledger()``.

Transactions: ``write()`` runs inside the caller's transaction on the same database when one is
open (a SAVEPOINT, never a commit: the audit log's ``transaction()`` decides, so a fill and its
audit records commit or roll back together), else in its own ``BEGIN IMMEDIATE`` ... ``COMMIT``
(taking the write lock before the broker reads the position it checks against).
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import sqlite_utils

_SAVEPOINT = "signalops_paper_execute"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS paper_account (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        starting_cash TEXT NOT NULL,
        quote TEXT NOT NULL,
        created_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS paper_fills (
        seq INTEGER PRIMARY KEY,
        client_order_id TEXT NOT NULL UNIQUE,
        decision_id TEXT NOT NULL,
        strategy TEXT NOT NULL,
        asset TEXT NOT NULL,
        side TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
        quantity TEXT NOT NULL,
        price TEXT NOT NULL,
        fee TEXT NOT NULL,
        reference_price TEXT NOT NULL,
        fee_bps TEXT NOT NULL,
        slippage_bps TEXT NOT NULL,
        placed_at TEXT NOT NULL,
        filled_at TEXT NOT NULL
    )""",
    *(
        f"""CREATE TRIGGER IF NOT EXISTS {table}_append_only_{op.lower()}
        BEFORE {op} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"""
        for table in ("paper_account", "paper_fills")
        for op in ("UPDATE", "DELETE")
    ),
)

FILL_COLUMNS = (
    "seq, client_order_id, decision_id, strategy, asset, side, quantity, price, fee, "
    "reference_price, fee_bps, slippage_bps, placed_at, filled_at"
)
_INSERTED = FILL_COLUMNS.removeprefix("seq, ")
_INSERT = (
    f"INSERT INTO paper_fills ({_INSERTED}) VALUES ({', '.join('?' * len(_INSERTED.split(',')))})"
)

Row = tuple[Any, ...]


class PaperLedger(Protocol):
    """What the paper broker reads and writes (both backends; see the module doc)."""

    @property
    def readonly(self) -> bool:
        """Opened by a command that only reads: the ledger is read as it is, never created."""
        ...

    def write(self) -> AbstractContextManager[None]:
        """The block's reads and inserts as one unit under the writers' lock."""
        ...

    def in_transaction(self) -> bool: ...

    def state(self) -> tuple[int, int] | None:
        """A value that changes whenever the committed ledger may have (another connection
        committed, or this one wrote); None inside a transaction, whose writes may roll back."""
        ...

    def changes(self) -> int:
        """A count that moves whenever rows read before may be stale: this connection wrote
        (a rollback does not lower it), or (PostgreSQL) it has just taken the writers' lock."""
        ...

    def create(self) -> None: ...
    def exists(self) -> bool: ...
    def account(self) -> tuple[str, str, str] | None: ...
    def open_account(self, starting_cash: str, quote: str, created_at: str) -> None: ...
    def fill_at(self, seq: int) -> Row | None: ...
    def fills_after(self, seq: int | None, limit: int | None = None) -> list[Row]:
        """The fill rows after ``seq`` in ledger order (the first ``limit`` of them); None:
        from the first row, whatever its seq (``verify`` reads every row there is)."""
        ...

    def fill_for(self, client_order_id: str) -> Row | None: ...
    def insert_fill(self, values: Row) -> int: ...


class _Write:
    """``SQLiteLedger.write``'s block (a class: one is opened at every fill, and a generator's
    context manager costs several times this): a savepoint inside the transaction open on
    ``conn``, else a transaction of its own."""

    __slots__ = ("_conn", "_nested")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._nested = False

    def __enter__(self) -> None:
        conn = self._conn
        self._nested = conn.in_transaction
        conn.execute(f"SAVEPOINT {_SAVEPOINT}" if self._nested else "BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        conn = self._conn
        if kind is None:
            conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}" if self._nested else "COMMIT")
        elif conn.in_transaction:  # an error may already have ended the transaction
            if self._nested:
                conn.execute(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
                conn.execute(f"RELEASE SAVEPOINT {_SAVEPOINT}")
            else:
                conn.execute("ROLLBACK")


class SQLiteLedger:
    """The two ledger tables in ``db`` (the audit log's database, or one of their own): a
    ``sqlite_utils.Database`` or the plain connection (what the audit log's readers give, so
    that reading the ledger does not import sqlite-utils and, with it, pandas)."""

    def __init__(self, db: sqlite_utils.Database | sqlite3.Connection) -> None:
        self.conn: sqlite3.Connection = db if isinstance(db, sqlite3.Connection) else db.conn

    @property
    def readonly(self) -> bool:
        # ``AuditLog.open_readonly`` sets ``query_only``: it tells code sharing the connection.
        return bool(self.conn.execute("PRAGMA query_only").fetchone()[0])

    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def state(self) -> tuple[int, int] | None:
        """SQLite's data version (another connection committed) and this connection's total
        changes (it wrote; a rollback does not undo the count)."""
        conn = self.conn
        if conn.in_transaction:
            return None
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def changes(self) -> int:
        return self.conn.total_changes

    def write(self) -> AbstractContextManager[None]:
        """Inside the caller's transaction: a savepoint, never a commit. Else our own."""
        return _Write(self.conn)

    def create(self) -> None:
        """The tables and triggers, each only if missing (call inside ``write()``)."""
        for statement in _SCHEMA:
            self.conn.execute(statement)

    def exists(self) -> bool:
        found = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'paper_account'"
        ).fetchone()
        return found is not None

    def account(self) -> tuple[str, str, str] | None:
        """(starting_cash, quote, created_at) as stored, or None before the account is opened."""
        row = self.conn.execute(
            "SELECT starting_cash, quote, created_at FROM paper_account WHERE id = 1"
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def open_account(self, starting_cash: str, quote: str, created_at: str) -> None:
        self.conn.execute(
            "INSERT INTO paper_account (id, starting_cash, quote, created_at) VALUES (1, ?, ?, ?)",
            (starting_cash, quote, created_at),
        )

    def fill_at(self, seq: int) -> Row | None:
        return self.conn.execute(
            f"SELECT {FILL_COLUMNS} FROM paper_fills WHERE seq = ?", (seq,)
        ).fetchone()

    def fills_after(self, seq: int | None, limit: int | None = None) -> list[Row]:
        """The fill rows after ``seq`` (None: from the first), in ledger order (the first
        ``limit`` of them)."""
        where, params = ("", []) if seq is None else ("WHERE seq > ?", [seq])
        return self.conn.execute(
            f"SELECT {FILL_COLUMNS} FROM paper_fills {where} ORDER BY seq LIMIT ?",
            (*params, -1 if limit is None else limit),
        ).fetchall()

    def fill_for(self, client_order_id: str) -> Row | None:
        return self.conn.execute(
            f"SELECT {FILL_COLUMNS} FROM paper_fills WHERE client_order_id = ?",
            (client_order_id,),
        ).fetchone()

    def insert_fill(self, values: Row) -> int:
        """Append a fill (every column but ``seq``, in order); returns its seq."""
        cursor = self.conn.execute(_INSERT, values)
        seq = cursor.lastrowid
        assert seq is not None
        return seq


__all__ = ["FILL_COLUMNS", "PaperLedger", "Row", "SQLiteLedger"]
