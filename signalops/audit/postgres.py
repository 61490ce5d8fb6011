"""The audit log in PostgreSQL: several runners, on several machines, append to one log.

``PostgresAuditLog(url, runner=...)`` is the PostgreSQL twin of ``signalops.audit.store.AuditLog``
(SQLite), behind the same store interface (``signalops.audit.interface.AuditStore``;
``open_log`` picks the backend from ``--audit``); psycopg 3 is imported here only, and this module
only by code that was given a ``postgresql://`` URL (commands on SQLite never load psycopg).
Besides the interface: ``url``, ``runner``, ``grant_writer(role)``; ``decisions(runner=...)`` and
``runners()`` filter by the process that wrote.

The paper ledger lives in the same database (``signalops.audit.postgres_ledger``): one account
for every runner, each strategy its own book in it, as on SQLite; a fill commits with the
records that state it. A runner's local state (its breaker file) is ``local_file``: in
``.signalops/`` of the folder it runs in. Signing (record MACs and checkpoints, issue 11) is
SQLite's for now: ``key`` is None here and ``copy_log`` refuses to copy a signed log into
PostgreSQL rather than drop its MACs.

The chain: ONE global chain, serialised by the database. Every append transaction first takes
the row lock of the one ``chain_head`` row (``SELECT ... FOR UPDATE``), reads seq and hash
there, writes its records at seq = head + 1, ... and moves the head; the next appender (any
process, any machine) blocks on that row until the commit and then reads the new head (under
READ COMMITTED a locked row is re-read at its newest version). Why one chain rather than one per
runner: ``verify`` stays the one walk it is on SQLite (a log copied between backends is the same
chain), records keep one total order (a decision, its approval from the dashboard and its fill
from the runner are ordered in the log as they happened), and deleting the whole chain of one
runner cannot go unnoticed (per-runner chains would need a registry of runners to notice a
missing one). The cost is that appends of different runners queue on one row lock for the
length of an append transaction (a few ms); runners append a handful of records per cycle, so
this is far from a bottleneck. Each record row carries the ``runner`` that wrote it (a column,
not in the hashed record: the record format and its hashes stay those of SQLite logs; the
column is protected by the append-only triggers, not by the chain).

Append-only, enforced by the database (for every client, not just this API):

- triggers raise on UPDATE, DELETE and TRUNCATE of ``records``, ``strategies``, ``trees``,
  ``seals`` and the paper ledger's two tables ("audit records are append-only: never updated");
- ``chain_head`` may only move forward onto a record that is there (a trigger), and is never
  deleted or truncated;
- a writer role gets INSERT and SELECT only (and UPDATE of the head row): ``grant_writer(role)``
  runs, as the owner of the tables::

      GRANT USAGE ON SCHEMA public TO signalops_writer;
      GRANT SELECT, INSERT ON records, strategies, trees, seals, paper_account,
                             paper_fills TO signalops_writer;
      GRANT SELECT, UPDATE ON chain_head TO signalops_writer;

  Runners connect as that role; the owner (who could drop the triggers) creates the schema
  once (``PostgresAuditLog(owner_url)``) and is not used by runners.

Approvals are answered exactly once: an approval's id is deterministic (``approval-<decision>-1``)
and ``records.id`` is UNIQUE, so a second approve of the same decision, from any process,
fails on insert; the unique violation becomes ``DuplicateRecordError``, exactly as on SQLite.

Records are stored in the legacy layout (``signalops.audit.layout.LegacyLayout``): the sealed
record's canonical JSON in ``body`` (TEXT), copies of the filtered fields in text columns (times
fixed-width, so text order is time order). ``verify`` reads them with the same code as SQLite
logs. The compact layout (deflated bodies, side tables) is SQLite's for now.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from signalops.audit.chain import GENESIS
from signalops.audit.interface import (
    BEFORE_FIRST,
    before_first,
    moment_of,
    redacted,
    userinfo_problem,
)
from signalops.audit.layout import COLUMNS, LegacyLayout, Stored, Undecodable, records_of
from signalops.audit.paper_ledger import FILL_COLUMNS
from signalops.audit.postgres_ledger import LEDGER_SCHEMA, LEDGER_TABLES, PostgresLedger
from signalops.audit.record import (
    APPROVAL,
    DECISION,
    EXPIRY,
    KINDS,
    SCHEMAS,
    Appendable,
    PreparedRecord,
    as_prepared,
)
from signalops.audit.record import loads_record as _loads
from signalops.canonical import canonical_json, content_hash, json_safe
from signalops.errors import (
    AuditError,
    AuditIntegrityError,
    AuditLogHeld,
    AuditNotFound,
    AuditUnreadable,
    DuplicateRecordError,
)
from signalops.observation import utc

if TYPE_CHECKING:
    import psycopg

    from signalops.audit.store import PendingApproval
    from signalops.strategy.model import Strategy

PENDING_APPROVAL = "PENDING_APPROVAL"
_CHUNK = 1_000  # rows per executemany (pipelined by psycopg)
_ONE_BY_ONE = 3  # up to this many rows are inserted by one statement each (``_insert``)
_PAGE = 1_000  # rows per read
_SCHEMA_LOCK = 0x5167_A0D1  # advisory lock key: two processes creating the schema queue up
_APPEND_ONLY = (
    ("records", "audit records"),
    ("strategies", "stored strategies"),
    ("trees", "stored trees"),
    ("seals", "record MACs"),
)
_SELECT = ", ".join((*COLUMNS, "body"))
_INSERT = (
    f"INSERT INTO records ({', '.join(COLUMNS)}, body, runner) "
    f"VALUES ({', '.join(['%s'] * (len(COLUMNS) + 2))})"
)
_NEWEST_FIRST = "ORDER BY as_of DESC, seq DESC"

_SCHEMA = (
    "CREATE TABLE records (seq BIGINT PRIMARY KEY, id TEXT NOT NULL, kind TEXT NOT NULL, "
    "decision_id TEXT, recorded_at TEXT, as_of TEXT, strategy TEXT, strategy_hash TEXT, "
    "asset TEXT, verdict TEXT, mode TEXT, status TEXT, prev_hash TEXT NOT NULL, "
    "hash TEXT NOT NULL, body TEXT NOT NULL, runner TEXT NOT NULL, "
    "CONSTRAINT records_id UNIQUE (id))",
    "CREATE TABLE strategies (hash TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT, "
    "document TEXT NOT NULL)",
    "CREATE TABLE trees (hash TEXT PRIMARY KEY, strategy_hash TEXT NOT NULL, "
    "document TEXT NOT NULL)",
    "CREATE TABLE seals (seq BIGINT PRIMARY KEY, key_id TEXT NOT NULL, mac TEXT NOT NULL)",
    "CREATE TABLE chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq BIGINT NOT NULL, "
    "hash TEXT NOT NULL)",
    f"INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')",
    "CREATE INDEX records_asset_as_of ON records (asset, as_of) WHERE kind = 'decision'",
    "CREATE INDEX records_strategy_as_of ON records (strategy, as_of) WHERE kind = 'decision'",
    "CREATE INDEX records_verdict_as_of ON records (verdict, as_of) WHERE kind = 'decision'",
    "CREATE INDEX records_kind_as_of ON records (kind, as_of, seq)",
    "CREATE INDEX records_kind_seq ON records (kind, seq)",
    "CREATE INDEX records_decision_id ON records (decision_id)",
    "CREATE INDEX records_hash ON records (hash)",
    "CREATE INDEX records_runner ON records (runner, seq)",
    f"CREATE INDEX records_pending ON records (seq) WHERE status = '{PENDING_APPROVAL}'",
    """CREATE FUNCTION signalops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '% are append-only: never %d', TG_ARGV[0], lower(TG_OP)
            USING ERRCODE = 'integrity_constraint_violation';
    END $$""",
    # A record is inserted only at the head, linked to the one before, under the head's lock;
    # and by the commit the head must have moved over it. So a stray row (a writer's INSERT
    # that skips ``append``) can never be committed past the head, where it would block every
    # later append (their seq would be taken).
    """CREATE FUNCTION signalops_append_at_head() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        head_seq BIGINT;
        head_hash TEXT;
        pending BIGINT;
        previous TEXT;
    BEGIN
        SELECT seq, hash INTO head_seq, head_hash FROM chain_head WHERE id = 1 FOR UPDATE;
        SELECT count(*) INTO pending FROM records WHERE seq > head_seq;
        IF NEW.seq <> head_seq + pending + 1 THEN
            RAISE EXCEPTION 'records are appended at the chain head (seq %), not at seq %',
                head_seq + pending + 1, NEW.seq USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        IF pending = 0 THEN
            previous := head_hash;
        ELSE
            SELECT hash INTO previous FROM records WHERE seq = NEW.seq - 1;
        END IF;
        IF NEW.prev_hash IS DISTINCT FROM previous THEN
            RAISE EXCEPTION 'record seq % does not link to the record before it', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE FUNCTION signalops_head_covers() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT seq FROM chain_head WHERE id = 1) < NEW.seq THEN
            RAISE EXCEPTION 'record seq % was appended without moving the chain head', NEW.seq
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER records_at_head BEFORE INSERT ON records "
    "FOR EACH ROW EXECUTE FUNCTION signalops_append_at_head()",
    "CREATE CONSTRAINT TRIGGER records_head_covers AFTER INSERT ON records "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION signalops_head_covers()",
    """CREATE FUNCTION signalops_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.id <> OLD.id OR NEW.seq <= OLD.seq OR NOT EXISTS (
            SELECT 1 FROM records WHERE seq = NEW.seq AND hash = NEW.hash) THEN
            RAISE EXCEPTION 'the chain head only moves forward, onto a stored record'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$""",
    "CREATE TRIGGER chain_head_forward BEFORE UPDATE ON chain_head "
    "FOR EACH ROW EXECUTE FUNCTION signalops_head_forward()",
    "CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON chain_head "
    "FOR EACH ROW EXECUTE FUNCTION signalops_append_only('the chain head')",
    "CREATE TRIGGER chain_head_no_truncate BEFORE TRUNCATE ON chain_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION signalops_append_only('the chain head')",
    *LEDGER_SCHEMA,
    *(
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"FOR EACH {'STATEMENT' if verb == 'TRUNCATE' else 'ROW'} "
        f"EXECUTE FUNCTION signalops_append_only('{what}')"
        for table, what in (*_APPEND_ONLY, *LEDGER_TABLES)
        for verb in ("UPDATE", "DELETE", "TRUNCATE")
    ),
)
_TABLES = ("records", "strategies", "trees", "seals", "chain_head", "paper_account", "paper_fills")


def _check_appendable(record: PreparedRecord) -> None:
    if record.schema not in SCHEMAS:
        raise ValueError(f"record {record.id} is not a {' or '.join(SCHEMAS)} record")
    if record.kind not in KINDS:
        raise ValueError(f"record {record.id} has unknown kind {record.kind!r}")
    if not isinstance(record.id, str) or not isinstance(record.recorded_at, str):
        raise ValueError("a record needs an id and a recorded_at (use the record builders)")


class _Duplicate(Exception):
    """A unique violation on insert; the ids are worked out once the savepoint is undone."""

    def __init__(self, ids: list[str], first_seq: int) -> None:
        super().__init__(ids)
        self.ids, self.first_seq = ids, first_seq


class PostgresAuditLog:
    """An append-only, hash-chained audit log in a PostgreSQL database (see the module doc).

    ``url`` is a libpq URL (``postgresql://user@host:port/db``); ``runner`` names the process
    that writes (default: the host name), stored with every record it appends. One object may be
    shared by threads (a lock serialises its connection); any number of objects, processes and
    machines may share one database (the chain head's row lock serialises appends).
    """

    compact = False

    def __init__(
        self,
        url: str,
        *,
        runner: str | None = None,
        timeout: float = 30.0,
        readonly: bool = False,
        create: bool = True,
    ) -> None:
        from signalops.extras import require

        require("psycopg", "postgres", "a PostgreSQL audit log")
        import psycopg

        self.url = url
        self.path = redacted(url)  # what messages name: a URL, not a file (see the seams)
        self.runner = runner or socket.gethostname()
        self.readonly = readonly
        self.key = None  # signing (record MACs, checkpoints) is SQLite's for now
        self.layout = LegacyLayout()
        self._lock = threading.RLock()
        problem = userinfo_problem(url)
        if problem is not None:  # before libpq reads a piece of the password as the host
            raise AuditError(f"{self.path}: {problem}")
        try:
            self.conn: psycopg.Connection[Any] = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=max(1, int(timeout)),
                application_name=f"signalops {self.runner}"[:63],  # pg_stat_activity shows it
            )
        except psycopg.OperationalError as exc:
            if "does not exist" in str(exc):  # the database
                raise AuditNotFound(self.path) from None
            # libpq's message has line breaks: one line, as every error is.
            reason = " ".join(str(exc).split())
            raise AuditError(f"{self.path}: cannot connect ({reason})") from None
        self._lock_timeout = int(timeout * 1000)
        self.conn.execute(f"SET lock_timeout = '{self._lock_timeout}ms'")
        if readonly:
            self.conn.execute("SET default_transaction_read_only = on")
        try:
            present = self._table_names()
            missing = sorted(set(_TABLES) - present)
            if missing and "records" not in present and create and not readonly:
                self._create()
            elif missing:
                self.conn.close()
                if "records" not in present and not create:
                    raise AuditNotFound(self.path)
                raise AuditUnreadable(self.path, f"no {', '.join(missing)} tables")
        except BaseException:
            self.conn.close()
            raise

    @classmethod
    def open(cls, url: str, *, create: bool, timeout: float = 30.0) -> PostgresAuditLog:
        """A writer that may create the schema, or a reader of an existing log."""
        if create:
            return cls(url, timeout=timeout)
        return cls.open_readonly(url, timeout=timeout)

    @classmethod
    def open_readonly(cls, url: str, *, timeout: float = 30.0) -> PostgresAuditLog:
        """An existing log; every transaction of the session is READ ONLY."""
        return cls(url, timeout=timeout, readonly=True, create=False)

    def _create(self) -> None:
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
            if "records" in self._table_names():  # another process made it meanwhile
                return
            for statement in _SCHEMA:
                self.conn.execute(statement)

    def grant_writer(self, role: str) -> None:
        """Let ``role`` append and read, nothing else (run as the owner of the tables)."""
        from psycopg import sql

        who = sql.Identifier(role)
        with self._lock, self.conn.transaction():
            self.conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who))
            self.conn.execute(
                sql.SQL(
                    "GRANT SELECT, INSERT ON records, strategies, trees, seals, paper_account, "
                    "paper_fills TO {}"
                ).format(who)
            )
            self.conn.execute(sql.SQL("GRANT SELECT, UPDATE ON chain_head TO {}").format(who))

    def _table_names(self) -> set[str]:
        rows = self.conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
        return {row[0] for row in rows}

    # --- lifecycle and transactions ------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> PostgresAuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Housekeeping between cycles: none (the server checkpoints on its own)."""

    def relax_durability(self) -> None:
        """Commit without waiting for the server's disk (``synchronous_commit = off``): for
        rebuildable logs; a server crash may lose the last commits, never half of one."""
        with self._lock:
            self.conn.execute("SET synchronous_commit = off")

    @contextmanager
    def hold_runner(self, *, wait: bool) -> Iterator[None]:
        """Be the one process running as ``self.runner`` for the block.

        Runners of other ids write at the same time (that is what the shared log is for); two
        processes under one id would decide the same things twice. A session advisory lock
        keyed by the id: the server drops it when this connection ends (a SIGKILL included).
        """
        key = [f"signalops runner {self.runner}"]
        with self._lock:
            if wait:
                self.conn.execute("SET lock_timeout = 0")
                try:
                    self.conn.execute("SELECT pg_advisory_lock(hashtext(%s))", key)
                finally:
                    self.conn.execute(f"SET lock_timeout = '{self._lock_timeout}ms'")
            else:
                row = self.conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", key).fetchone()
                if not (row and row[0]):
                    raise AuditLogHeld(
                        f"{self.path}: runner {self.runner!r} is already running "
                        f"({self._holder(key[0])}); give this one another --runner, "
                        "or pass --wait"
                    )
        try:
            yield
        finally:
            with self._lock, suppress(Exception):  # a lost connection has released it
                self.conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", key)

    def _holder(self, key: str) -> str:
        row = self.conn.execute(
            "SELECT a.client_addr, a.backend_start FROM pg_locks AS l JOIN pg_stat_activity "
            "AS a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.objid = hashtext(%s)::oid AND a.pid <> pg_backend_pid() LIMIT 1",
            [key],
        ).fetchone()
        if row is None:
            return "held by another connection"
        since = row[1].astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return f"connected from {row[0] or 'a local socket'} since {since}"

    def local_file(self, suffix: str) -> Path:
        """A file of this runner on this machine (its breaker state): in ``.signalops/`` of
        the working folder (made by whoever writes the file), named by the database and the
        runner id."""
        where = urlsplit(self.url)
        name = f"{where.hostname or 'local'}-{where.port or 5432}{where.path or '/'}"
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{name}-{self.runner}").strip("_")
        return Path(".signalops") / f"{name}{suffix}"

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction: everything in it commits or none of it (nested: a savepoint).

        Yields the connection, for the caller's own writes in the same transaction.
        """
        with self._write():
            yield self.conn

    @contextmanager
    def _write(self) -> Iterator[None]:
        if self.readonly:
            raise AuditError(f"{self.path}: opened read-only (for a command that only reads)")
        with self._lock, self._server_errors(), self.conn.transaction():
            yield

    @contextmanager
    def _server_errors(self) -> Iterator[None]:
        """What the server refuses, as the one-line errors of ``signalops.errors``: a lock
        waited for past the timeout, a trigger's refusal, a missing privilege, a lost
        connection (psycopg's messages name the host, never the password)."""
        import psycopg
        from psycopg import errors

        try:
            yield
        except errors.LockNotAvailable:
            raise AuditError(
                f"{self.path}: waited {self._lock_timeout / 1000:g}s for another writer's lock; "
                "try again"
            ) from None
        except errors.IntegrityConstraintViolation as exc:  # the triggers' code (23000)
            raise AuditIntegrityError(f"{self.path}: {exc.diag.message_primary}") from None
        except errors.InsufficientPrivilege as exc:
            raise AuditError(f"{self.path}: {exc.diag.message_primary}") from None
        except errors.ReadOnlySqlTransaction:
            raise AuditError(
                f"{self.path}: opened read-only (for a command that only reads)"
            ) from None
        except psycopg.OperationalError as exc:
            # libpq's message has line breaks: one line, as every error is.
            raise AuditError(
                f"{self.path}: {' '.join(str(exc).split()) or 'connection lost'}"
            ) from None

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction (REPEATABLE READ): every read inside sees one moment."""
        with self._lock:
            from psycopg.pq import TransactionStatus

            if self.conn.info.transaction_status != TransactionStatus.IDLE:  # inside one
                yield
                return
            with self.conn.transaction():
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._server_errors():
            return self.conn.execute(sql, list(params)).fetchall()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return records_of(self.layout, self._all(sql, params), self.path)

    # --- writing -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record appended (None before the first)."""
        rows = self._all("SELECT seq, hash FROM chain_head WHERE id = 1")
        if not rows or rows[0][0] == 0:
            return None
        return int(rows[0][0]), rows[0][1]

    def append(self, record: Appendable) -> dict[str, Any]:
        """Seal ``record`` after the last one (of any runner) and store it; the sealed record.

        ``DuplicateRecordError`` when its id is already in the log (nothing is written).
        """
        kept: list[dict[str, Any]] = []
        self._append([record], kept)
        return kept[0]

    def append_many(self, records: Iterable[Appendable]) -> int:
        """Append records in order, in one transaction; how many. A duplicate rolls back all."""
        return self._append(records, None)

    def _append(
        self,
        records: Iterable[Appendable],
        kept: list[dict[str, Any]] | None,
    ) -> int:
        try:
            return self._append_locked(records, kept)
        except _Duplicate as dup:
            # The savepoint (or transaction) is undone: the ids stored before are queryable.
            marks = ", ".join(["%s"] * len(dup.ids))
            sql = f"SELECT id FROM records WHERE id IN ({marks}) AND seq < %s"
            before = {row[0] for row in self._all(sql, [*dup.ids, dup.first_seq])}
            repeated = {i for i, n in Counter(dup.ids).items() if n > 1}
            raise DuplicateRecordError(sorted(before | repeated)) from None

    def _append_locked(
        self,
        records: Iterable[Appendable],
        kept: list[dict[str, Any]] | None,
    ) -> int:
        appended = 0
        layout, runner = self.layout, self.runner
        with self._write():
            # The head row's lock serialises appenders of every process until this commits.
            head = self.conn.execute(
                "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE"
            ).fetchone()
            if head is None:
                raise AuditIntegrityError(f"{self.path}: the chain head row is missing")
            seq, prev = int(head[0]), str(head[1])
            chunk: list[tuple[Any, ...]] = []
            for given in records:
                given = as_prepared(given)
                _check_appendable(given)
                seq += 1
                before = prev
                row, prev = layout.row(given, seq, prev)
                chunk.append((*row, runner))
                appended += 1
                if kept is not None:
                    kept.append({**given.record, "seq": seq, "prev_hash": before, "hash": prev})
                if len(chunk) >= _CHUNK:
                    self._insert(chunk)
                    chunk = []
            if chunk:
                self._insert(chunk)
            if appended:
                self.conn.execute(
                    "UPDATE chain_head SET seq = %s, hash = %s WHERE id = 1", [seq, prev]
                )
        return appended

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        import psycopg

        try:
            with self.conn.cursor() as cursor:
                if len(rows) <= _ONE_BY_ONE:
                    # A decision and its fill: one statement each. psycopg pipelines
                    # ``executemany``, and a duplicate inside a pipeline (two runners approving
                    # one trade) printed psycopg's own warning beside the refusal.
                    for row in rows:
                        cursor.execute(_INSERT, row)
                else:
                    cursor.executemany(_INSERT, rows)
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name == "records_id":
                raise _Duplicate([row[1] for row in rows], rows[0][0]) from None
            # A seq past the chain head is taken: rows were put there by something other than
            # ``append`` (which moves the head in the same transaction).
            raise AuditIntegrityError(
                f"{self.path}: records after the chain head (seq {rows[0][0]}...); "
                "`signalops audit verify` lists every problem"
            ) from None

    def remember_strategy(self, strategy: Strategy) -> bool:
        """Store the strategy document and its compiled tree once each; True if either was new."""
        from signalops.audit.trees import tree_document, tree_hash

        document = json_safe(strategy.document)
        if content_hash(document) != strategy.content_hash:
            raise ValueError(f"strategy {strategy.name}: document does not match its content hash")
        tree = tree_document(strategy)
        with self._write():
            cursor = self.conn.execute(
                "INSERT INTO strategies (hash, name, file, document) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (hash) DO NOTHING",
                [strategy.content_hash, strategy.name, strategy.file, canonical_json(document)],
            )
            new = cursor.rowcount == 1
            cursor = self.conn.execute(
                "INSERT INTO trees (hash, strategy_hash, document) VALUES (%s, %s, %s) "
                "ON CONFLICT (hash) DO NOTHING",
                [tree_hash(strategy), strategy.content_hash, canonical_json(tree)],
            )
            return new or cursor.rowcount == 1

    # --- reading -------------------------------------------------------------------------------

    def keep_documents(
        self, strategies: Iterable[tuple[str, str, str]], trees: Iterable[tuple[str, str, str]]
    ) -> None:
        """Store strategy documents and trees as another log holds them (known hashes kept)."""
        with self._write(), self.conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO strategies (hash, name, file, document) VALUES (%s, %s, NULL, %s) "
                "ON CONFLICT (hash) DO NOTHING",
                list(strategies),
            )
            cursor.executemany(
                "INSERT INTO trees (hash, strategy_hash, document) VALUES (%s, %s, %s) "
                "ON CONFLICT (hash) DO NOTHING",
                list(trees),
            )

    def distinct_values(self, column: str) -> list[str]:
        """The distinct values of a decision column (``strategy`` or ``asset``), sorted."""
        if column not in ("strategy", "asset"):
            raise ValueError(column)
        return self._skip_scan(column, f"kind = '{DECISION}'")

    def _skip_scan(self, column: str, where: str) -> list[str]:
        """Distinct values of an indexed column, one index seek per value (a loose index
        scan: ``SELECT DISTINCT`` would walk every row of the index, on every dashboard
        refresh)."""
        rows = self._all(
            f"WITH RECURSIVE found(value) AS ("
            f" SELECT (SELECT min({column}) FROM records WHERE {where} AND {column} IS NOT NULL)"
            f" UNION ALL SELECT (SELECT min({column}) FROM records WHERE {where}"
            f" AND {column} > found.value) FROM found WHERE found.value IS NOT NULL)"
            f" SELECT value FROM found WHERE value IS NOT NULL"
        )
        return [row[0] for row in rows]

    def strategy_document(self, hash: str) -> dict[str, Any] | None:
        rows = self._all("SELECT document FROM strategies WHERE hash = %s", [hash])
        return _loads(rows[0][0]) if rows else None

    def tree_document(self, hash: str) -> dict[str, Any] | None:
        rows = self._all("SELECT document FROM trees WHERE hash = %s", [hash])
        if not rows:
            return None
        try:
            return _loads(rows[0][0])
        except ValueError:
            return {}  # a damaged document: it hashes to nothing, which ``verify`` reports

    def stored_strategies(self) -> list[tuple[str, str, str]]:
        rows = self._all("SELECT hash, name, document FROM strategies ORDER BY hash")
        return [(r[0], r[1], r[2]) for r in rows]

    def stored_trees(self) -> list[tuple[str, str, str]]:
        rows = self._all("SELECT hash, strategy_hash, document FROM trees ORDER BY hash")
        return [(r[0], r[1], r[2]) for r in rows]

    def get(self, id: str) -> dict[str, Any] | None:
        found = self._rows(f"SELECT {_SELECT} FROM records WHERE id = %s", [id])
        return found[0] if found else None

    def has_decision(self, decision_id: str) -> bool:
        rows = self._all("SELECT kind FROM records WHERE id = %s", [decision_id])
        return bool(rows) and rows[0][0] == DECISION

    def newest_recorded(self, *kinds: str, runner: str | None = None) -> dict[str, Any] | None:
        """The follow-up of these kinds recorded last (``AuditLog.newest_recorded``), of
        ``runner`` when given."""
        marks = ", ".join(["%s"] * len(kinds))
        where, params = f"kind IN ({marks})", list(kinds)
        if runner is not None:
            where += " AND runner = %s"
            params.append(runner)
        sql = (
            f"SELECT {_SELECT} FROM records WHERE {where} "
            "ORDER BY recorded_at DESC, seq DESC LIMIT 1"
        )
        found = self._rows(sql, params)
        return found[0] if found else None

    def decisions(
        self,
        *,
        asset: str | None = None,
        strategy: str | None = None,
        verdict: str | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int | None = 100,
        runner: str | None = None,
    ) -> list[dict[str, Any]]:
        """Decision records, newest ``as_of`` first (the filters of ``AuditLog.decisions``,
        and ``runner``)."""
        where: list[str] = ["kind = %s"]
        params: list[Any] = [DECISION]
        for column, value in (("asset", asset), ("verdict", verdict), ("runner", runner)):
            if value is not None:
                where.append(f"{column} = %s")
                params.append(str(value))
        if strategy is not None:
            column = "strategy_hash" if strategy.startswith("sha256:") else "strategy"
            where.append(f"{column} = %s")
            params.append(strategy)
        bound = self.layout.time_bound
        if since is not None:
            where.append("as_of >= %s")
            params.append(bound(moment_of(since)))
        if until is not None:
            where.append("as_of <= %s" if isinstance(until, datetime) else "as_of < %s")
            params.append(bound(moment_of(until, end=True)))
        sql = f"SELECT {_SELECT} FROM records WHERE {' AND '.join(where)} {_NEWEST_FIRST}"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(limit)
        return self._rows(sql, params)

    def decision_at(
        self, asset: str, when: datetime | date, *, strategy: str | None = None
    ) -> dict[str, Any] | None:
        """The decision in force for ``asset`` at ``when`` (a date: that UTC day's latest)."""
        if isinstance(when, datetime):
            found = self.decisions(asset=asset, strategy=strategy, until=when, limit=1)
        else:
            found = self.decisions(asset=asset, strategy=strategy, since=when, until=when, limit=1)
        return found[0] if found else None

    def strategy_name_of(self, value: Any) -> str | None:
        return value if isinstance(value, str) else None

    def strategies_of(self, decision_ids: Iterable[str]) -> dict[str, str | None]:
        """The strategy name of each of these decisions the log holds, from its ``strategy``
        column (see ``AuditLog.strategies_of``): one round trip, the ids as one array."""
        ids = list(dict.fromkeys(decision_ids))
        if not ids:
            return {}
        rows = self._all("SELECT id, strategy FROM records WHERE id = ANY(%s)", [ids])
        return {ident: self.strategy_name_of(value) for ident, value in rows}

    def followups(self, decision_id: str) -> list[dict[str, Any]]:
        return self._rows(
            f"SELECT {_SELECT} FROM records WHERE decision_id = %s AND kind <> %s ORDER BY seq",
            [decision_id, DECISION],
        )

    def pending_approvals(self, now: datetime) -> list[PendingApproval]:
        """Decisions waiting for a human, soonest expiry first."""
        from signalops.audit.store import pending_from

        now = utc(now)
        select = ", ".join(f"d.{column}" for column in _SELECT.split(", "))
        sql = (
            f"SELECT {select} FROM records AS d WHERE d.status = '{PENDING_APPROVAL}' "
            "AND d.kind = %s AND NOT EXISTS (SELECT 1 FROM records AS f WHERE "
            "f.decision_id = d.decision_id AND f.kind IN (%s, %s) AND f.seq > d.seq) "
            "ORDER BY d.seq"
        )
        return pending_from(self._rows(sql, [DECISION, APPROVAL, EXPIRY]), now)

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        from signalops.audit.store import undamaged

        return undamaged(self.stored_rows(after_seq))

    def stored_rows(self, after_seq: int = 0) -> Iterator[Stored]:
        stored = self.layout.stored
        for row in self._pages(f"SELECT {_SELECT} FROM records WHERE seq > %s", after_seq):
            yield stored(row)

    def stored_at(self, seq: int) -> Stored | None:
        rows = self._all(f"SELECT {_SELECT} FROM records WHERE seq = %s", [seq])
        return self.layout.stored(rows[0]) if rows else None

    def raw_rows(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        names = (*COLUMNS, "body", "runner")
        sql = f"SELECT {_SELECT}, runner FROM records WHERE seq > %s"
        for row in self._pages(sql, after_seq):
            yield dict(zip(names, row, strict=True))

    def _pages(self, select: str, after_seq: int, *params: Any) -> Iterator[tuple[Any, ...]]:
        """Rows in seq order a page at a time (``select`` ends with a ``seq > %s`` term)."""
        sql = f"{select} ORDER BY seq LIMIT %s"
        last = after_seq
        while True:
            page = self._all(sql, [*params, last, _PAGE])
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def records_since(self, *kinds: str, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        marks = ", ".join(["%s"] * len(kinds))
        sql = f"SELECT {_SELECT} FROM records WHERE kind IN ({marks}) AND seq > %s ORDER BY seq"
        return [(r["seq"], r) for r in self._rows(sql, [*kinds, after_seq])]

    def records_of_kind(self, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(seq, record)`` of every record of ``kind``; a damaged row is skipped."""
        select = f"SELECT {_SELECT} FROM records WHERE kind = %s AND seq > %s"
        stored = self.layout.stored
        for row in self._pages(select, 0, kind):
            found = stored(row)
            if found.record is not None:
                yield found.seq, found.record

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        sql = f"SELECT {_SELECT} FROM records WHERE kind = %s ORDER BY seq DESC"
        return self._rows(sql, [kind])

    def body_at(self, seq: int) -> str | None:
        rows = self._all("SELECT body FROM records WHERE seq = %s", [seq])
        return rows[0][0] if rows else None

    def hash_at(self, seq: int) -> str | None:
        rows = self._all("SELECT hash FROM records WHERE seq = %s", [seq])
        return rows[0][0] if rows else None

    def storage_problems(self, after_seq: int = 0) -> list[tuple[str, int | None, str | None, str]]:
        """Rows before seq 1, which no walk reads and lookups and filters do (``BEFORE_FIRST``:
        the table refuses an INSERT after the chain head, not before its first; one seek of the
        seq key, whatever ``after_seq``). A PostgreSQL log keeps each record in a row: nothing
        else is stored apart from them (``AuditLog.storage_problems``)."""
        return [before_first(int(seq), ident) for seq, ident in self._all(BEFORE_FIRST)]

    def seq_of_hash(self, hash: str) -> int | None:
        rows = self._all("SELECT seq FROM records WHERE hash = %s LIMIT 1", [hash])
        return int(rows[0][0]) if rows else None

    def count(self) -> int:
        return int(self._all("SELECT count(*) FROM records")[0][0])

    def runners(self) -> list[str]:
        """Every runner that appended to the log (for the dashboard's filter)."""
        return self._skip_scan("runner", "TRUE")

    # Signing (record MACs and checkpoints) is SQLite's for now: a PostgreSQL log has none.
    def seals(self, after_seq: int = 0) -> Iterator[tuple[int, str, str]]:
        return iter(())

    def seal_at(self, seq: int) -> tuple[int, str, str] | None:
        return None

    def signed_by(self) -> str | None:
        return None

    def paper_fill_rows(self) -> list[tuple[Any, ...]]:
        """The paper ledger's rows (``FILL_COLUMNS`` order)."""
        return self._all(f"SELECT {FILL_COLUMNS} FROM paper_fills ORDER BY seq")

    def paper_ledger(self) -> PostgresLedger:
        """The paper broker's ledger in this database: fills commit with this log's
        transactions."""
        return PostgresLedger(self)

    def export_jsonl(self, target: str | Path | IO[str]) -> int:
        """Every record as sealed, one canonical JSON line each, in chain order."""
        if isinstance(target, str | Path):
            partial = Path(str(target) + ".partial")
            try:
                with open(partial, "w", encoding="utf-8", newline="\n") as file:
                    written = self.export_jsonl(file)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            partial.replace(target)
            return written
        written = 0
        with self.snapshot():
            for row in self._pages(f"SELECT {_SELECT} FROM records WHERE seq > %s", 0):
                try:
                    line = self.layout.text(row)
                except Undecodable as exc:
                    raise AuditIntegrityError(
                        f"record seq {row[0]} is damaged ({exc}); `signalops audit verify` "
                        "lists every problem"
                    ) from None
                target.write(line + "\n")
                written += 1
        return written


__all__ = ["PENDING_APPROVAL", "PostgresAuditLog"]
