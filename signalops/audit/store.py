"""The audit log on disk: one SQLite file (WAL), append-only, hash-chained.

Tables::

    records     seq INTEGER PRIMARY KEY   chain order, 1, 2, 3...
                id TEXT UNIQUE            the record id (a decision's id is its decision id)
                kind, decision_id, recorded_at, as_of, strategy, strategy_hash, asset,
                verdict, mode, status     copies of body fields, for indexes only (the body is
                                          the truth; ``verify`` checks that they agree)
                prev_hash, hash           the chain
                body TEXT                 canonical JSON of the whole sealed record
    strategies  hash PRIMARY KEY, name, file, document (JSON)   one row per content hash
    chain_head  one row: seq and hash of the last record appended

Indexes: records(asset, as_of), (strategy, as_of), (verdict, as_of), (asset, verdict, as_of),
(strategy, verdict, as_of), (asset, strategy, verdict, as_of), (kind, as_of), (decision_id),
(status), UNIQUE (id): every filter of ``decisions`` is one index range, in the order of the
answer, on a log of any length (``_INDEXES``). A writer's open adds those an older log lacks; a
reader reads with what the file has (the same answers, only slower on a big old log). Copied
columns (asset, as_of, strategy, strategy_hash, verdict, mode, status) are set for decisions
only, so ``asset = ?`` alone finds decisions, and ``as_of IS NULL`` follow-ups. Times in the
columns are fixed-width (``2023-03-12T00:00:00.000000Z``) so that text order is time order;
the body keeps the record's own ``...Z`` form.

``status`` is the decision's execution status: an extra indexed column so that the approval
queue (``pending_approvals``) is an index lookup, not a scan of every decision.

Concurrency: every append runs in ``BEGIN IMMEDIATE``, which takes SQLite's write lock before
reading the chain head, so two writers (the run loop and a CLI approval, in two processes)
queue up instead of both linking to the same previous record. ``transaction()`` lets a caller
put several appends and its own writes (the paper portfolio, via ``log.db``, a
``sqlite_utils.Database``) in that one transaction::

    with log.transaction() as db:
        log.append(decision)
        log.append(fill)
        db.table("paper_positions").upsert({...}, pk="asset")   # commits or rolls back with them

(sqlite-utils >= 4 nests its table writes in savepoints when a transaction is open. 3.x commits
them, ending the transaction early: ``transaction()`` then raises ``TransactionEndedError``
rather than append without the write lock; with 3.x, write your own tables with ``db.execute``.)

Append-only: the API has no update or delete, and triggers make SQLite refuse UPDATE and DELETE
on ``records`` and ``strategies`` from any client (dropping the triggers is a deliberate act).
``chain_head`` is the one row that changes: it is written in the same transaction as each
append, and is what lets ``verify`` notice that the *last* records were deleted, which the
chain alone cannot show (a truncated chain is a valid chain). It does not stop someone with
write access from rewriting the whole file consistently; for that, keep ``head()`` somewhere
else (a notification, a signed export) and compare.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from time import monotonic, sleep
from typing import IO, TYPE_CHECKING, Any, cast

from signalops.audit.chain import GENESIS, seal_to_json
from signalops.audit.record import APPROVAL, DECISION, EXPIRY, KINDS, SCHEMA, json_safe
from signalops.audit.record import loads_record as _loads
from signalops.canonical import canonical_json, content_hash
from signalops.errors import (
    AuditError,
    AuditIntegrityError,
    AuditNotFound,
    AuditUnreadable,
    DuplicateRecordError,
    TransactionEndedError,
)
from signalops.observation import utc

if TYPE_CHECKING:
    import sqlite_utils

    from signalops.audit.signing import SigningKey
    from signalops.strategy.model import Strategy

# = signalops.audit.signing.KEY_ENV (a test holds them equal). The signing module (and httpx,
# which it posts checkpoints with) is imported only for a log opened with a key set.
KEY_ENV = "SIGNALOPS_AUDIT_KEY"

# The columns copied from a record's body, in table order (``body`` comes last).
COLUMNS = (
    "seq",
    "id",
    "kind",
    "decision_id",
    "recorded_at",
    "as_of",
    "strategy",
    "strategy_hash",
    "asset",
    "verdict",
    "mode",
    "status",
    "prev_hash",
    "hash",
)
PENDING_APPROVAL = "PENDING_APPROVAL"
_HASH = COLUMNS.index("hash")
_LOG = logging.getLogger("signalops.audit")
_ENV = object()  # AuditLog's default key: the one in SIGNALOPS_AUDIT_KEY, if any
_CHUNK = 10_000  # rows per executemany: bounded memory for bulk appends
_PAGE = 1_000  # rows per read: iterators never hold a read transaction between pages
_SORTABLE = "%Y-%m-%dT%H:%M:%S.%fZ"

_INSERT = (
    f"INSERT INTO records ({', '.join(COLUMNS)}, body) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
)
# SQLite refuses UPDATE and DELETE on these tables from any client, not just this API.
_TRIGGERS = tuple(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{what} are append-only: never {verb}d'); END"
    for table, what in (
        ("records", "audit records"),
        ("strategies", "stored strategies"),
        ("seals", "record MACs"),
    )
    for verb in ("update", "delete")
)
# Record MACs (``signalops.audit.signing``); a log written without a key has none. Made by
# writers of older logs too, so it is not one of the tables a reader requires.
_SEALS = (
    "CREATE TABLE IF NOT EXISTS seals ("
    "seq INTEGER PRIMARY KEY, key_id TEXT NOT NULL, mac TEXT NOT NULL)"
)
_CHECKPOINT_EVERY = 1.0  # seconds between checkpoints while a writer appends


@dataclass(frozen=True)
class PendingApproval:
    """A notify-mode decision still waiting for a human (no approval or expiry recorded).

    ``expired`` says whether ``expires_at`` had passed at the ``now`` that was asked about: the
    caller then records an ``expiry`` follow-up, which takes it off the queue.
    """

    decision_id: str
    approval_id: str | None
    asset: str
    strategy: str
    as_of: str
    expires_at: datetime | None
    expired: bool
    record: dict[str, Any]


def sortable_time(value: str | None) -> str | None:
    """Fixed-width UTC text (microseconds always shown), so that string order is time order.

    ``...:00Z`` and ``...:00.5Z`` would otherwise sort the wrong way round ('.' < 'Z').
    """
    if value is None:
        return None
    if len(value) == 20 and value[19] == "Z" and value[10] == "T":
        return value[:19] + ".000000Z"  # the common whole-second form, without parsing
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.strftime(_SORTABLE)


_NEWEST_FIRST = "ORDER BY as_of DESC, seq DESC"


def _merged_by_verdict(where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """One range of ``records_asset_strategy_verdict_as_of`` per verdict, merged newest first.

    SQLite merges the ranges of a UNION ALL that are each in the ORDER BY's order, and stops at
    the LIMIT: asset + strategy costs four short index seeks, not a sort of every decision the
    strategy made on the asset (a compound SELECT orders by its result columns, hence as_of and
    seq in each arm).
    """
    arm = f"SELECT body, as_of, seq FROM records WHERE {where} AND verdict = ?"
    sql = " UNION ALL ".join([arm] * len(VERDICTS)) + f" {_NEWEST_FIRST}"
    return sql, [value for verdict in VERDICTS for value in (*params, verdict)]


def _time_bound(when: datetime | date, *, end: bool = False) -> str:
    """A column value to compare with: a datetime as is, a date as its UTC day's start (or end)."""
    if isinstance(when, datetime):
        moment = utc(when)
    else:
        moment = datetime.combine(when, time(), UTC) + (timedelta(days=1) if end else timedelta())
    return moment.strftime(_SORTABLE)


def index_columns(record: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed columns for a sealed record, all derived from the record itself."""
    decision = record.get("kind") == DECISION
    strategy = record.get("strategy") if decision else None
    strategy = strategy if isinstance(strategy, Mapping) else {}
    execution = record.get("execution") if decision else None
    execution = execution if isinstance(execution, Mapping) else {}
    return {
        "seq": record.get("seq"),
        "id": record.get("id"),
        "kind": record.get("kind"),
        "decision_id": record.get("decision_id"),
        "recorded_at": sortable_time(record.get("recorded_at")),
        "as_of": sortable_time(record.get("as_of")) if decision else None,
        "strategy": strategy.get("name"),
        "strategy_hash": strategy.get("hash"),
        "asset": record.get("asset") if decision else None,
        "verdict": record.get("verdict") if decision else None,
        "mode": record.get("mode") if decision else None,
        "status": execution.get("status"),
        "prev_hash": record.get("prev_hash"),
        "hash": record.get("hash"),
    }


def _env_key() -> SigningKey | None:
    """``signing.key_from_env()``, importing the signing module only when a key is set."""
    if not os.environ.get(KEY_ENV):
        return None
    from signalops.audit.signing import key_from_env

    return key_from_env()


def kind_filter(kinds: Sequence[str]) -> str:
    """``kind IN (?...) AND seq > ?`` (parameters: the kinds, then a seq) as a seek.

    Only decisions have an as_of, so for follow-up kinds ``as_of IS NULL`` makes it a range of
    ``records_kind_as_of`` from that seq on: reading the fills since the last cycle costs the
    same on a log of a million records as on a new one.
    """
    marks = ", ".join("?" * len(kinds))
    null = "" if DECISION in kinds else " AND as_of IS NULL"
    return f"kind IN ({marks}){null} AND seq > ?"


def _check_appendable(record: Mapping[str, Any]) -> None:
    if not isinstance(record, Mapping):
        raise TypeError(f"an audit record is a dict, not {type(record).__name__}")
    if record.get("schema") != SCHEMA:
        raise ValueError(f"record {record.get('id')} is not a {SCHEMA} record")
    if record.get("kind") not in KINDS:
        raise ValueError(f"record {record.get('id')} has unknown kind {record.get('kind')!r}")
    if not isinstance(record.get("id"), str) or not isinstance(record.get("recorded_at"), str):
        raise ValueError("a record needs an id and a recorded_at (use the record builders)")


_TABLES = ("records", "strategies", "chain_head")
# Every decision filter of ``decisions`` (and so ``decision_at``, ``why``, the dashboard's feed)
# is one index range scan in the order it answers (as_of, then seq: SQLite ends every index
# with the rowid, which is seq), however long the log: equality on the filtered columns, a
# range on as_of. Asset + strategy without a verdict merges the four verdicts' ranges of
# ``records_asset_strategy_verdict_as_of`` (``_merged_by_verdict``). Reads by kind of follow-ups
# seek on (kind, as_of NULL, seq): only decisions have an as_of.
_INDEXES = (
    ("records_id", ("id",), True),
    ("records_asset_as_of", ("asset", "as_of"), False),
    ("records_strategy_as_of", ("strategy", "as_of"), False),
    ("records_verdict_as_of", ("verdict", "as_of"), False),
    ("records_asset_verdict_as_of", ("asset", "verdict", "as_of"), False),
    ("records_strategy_verdict_as_of", ("strategy", "verdict", "as_of"), False),
    ("records_asset_strategy_verdict_as_of", ("asset", "strategy", "verdict", "as_of"), False),
    ("records_kind_as_of", ("kind", "as_of"), False),
    ("records_decision_id", ("decision_id",), False),
    ("records_status", ("status",), False),
)
# Made by older versions, now a prefix of another index: dropped by a writer's open.
_OBSOLETE_INDEXES = ("records_verdict",)
_MERGE_INDEX = "records_asset_strategy_verdict_as_of"
# The record schema's verdicts (``schemas/decision.schema.json``): a decision has one of them.
VERDICTS = ("BUY", "SELL", "HOLD", "BLOCKED")


def _index_sql() -> list[str]:
    """CREATE INDEX IF NOT EXISTS for every index, then DROP INDEX IF EXISTS the obsolete."""
    statements = []
    for name, columns, unique in _INDEXES:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        statements.append(f"CREATE {kind} IF NOT EXISTS {name} ON records ({', '.join(columns)})")
    statements += [f"DROP INDEX IF EXISTS {name}" for name in _OBSOLETE_INDEXES]
    return statements


def _schema_sql(db: sqlite_utils.Database) -> list[str]:
    """Every statement that creates the schema, each a no-op when its object exists.

    sqlite-utils writes the CREATE TABLE statements; ``AuditLog`` runs them all in one
    ``BEGIN IMMEDIATE`` transaction, because two processes creating a new file at once would
    otherwise fail with "database is locked" (a deferred transaction cannot wait for a lock).
    """
    text_columns = {name: str for name in COLUMNS if name != "seq"}
    statements = [
        db.create_table_sql(
            "records",
            {"seq": int, **text_columns, "body": str},
            pk="seq",
            not_null=["id", "kind", "recorded_at", "prev_hash", "hash", "body"],
            if_not_exists=True,
        ),
        db.create_table_sql(
            "strategies",
            {"hash": str, "name": str, "file": str, "document": str},
            pk="hash",
            not_null=["name", "document"],
            if_not_exists=True,
        ),
        db.create_table_sql(
            "chain_head",
            {"id": int, "seq": int, "hash": str},
            pk="id",
            not_null=["seq", "hash"],
            if_not_exists=True,
        ),
    ]
    statements += _index_sql()
    statements.append(_SEALS)
    statements += _TRIGGERS
    return statements


def _is_full(exc: sqlite3.DatabaseError) -> bool:
    """SQLite's "database or disk is full" (the disk, or a page limit): the transaction is
    rolled back, so nothing of it is in the file."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """A file that is not SQLite, or SQLite that is corrupt or truncated."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def _enable_wal(conn: sqlite3.Connection, timeout: float) -> None:
    """Switch to WAL, retrying while another process holds the file.

    Changing the journal mode needs the database to itself, and SQLite reports "locked" for it
    at once instead of waiting out the busy timeout; two processes opening a brand-new log
    together (the run loop and a CLI approval) would otherwise fail at random.
    """
    deadline = monotonic() + timeout
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                conn.execute("PRAGMA journal_mode=wal")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or monotonic() > deadline:
                raise
            sleep(0.05)


class AuditLog:
    """An append-only, hash-chained audit log in one SQLite file.

    One object may be shared by threads (a lock serialises its connection); several objects or
    processes may share one file (SQLite's write lock serialises appends). ``timeout`` is how
    long a writer waits for another one's transaction, in seconds.

    Two ways to open one, and only writers may create a file:

    - ``AuditLog(path)`` or ``AuditLog.open(path, create=True)``: for commands that write (run,
      backtest, approve, reject); makes the file, its folder and its tables when missing.
    - ``AuditLog.open_readonly(path)`` (``AuditLog.open(path, create=False)``): for commands that
      only look. The file must exist (else ``AuditNotFound``) and be a SignalOps log (else
      ``AuditUnreadable``); the connection is SQLite's ``mode=ro``, so nothing is ever written,
      and a WAL log stays readable while a writer appends.
    """

    def __init__(
        self, path: str | Path, *, timeout: float = 30.0, key: SigningKey | object | None = _ENV
    ) -> None:
        self.path = Path(path)
        self.readonly = False
        self.key = _env_key() if key is _ENV else cast("SigningKey | None", key)
        self._made: list[Path] = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=timeout, check_same_thread=False)
        self._attach(conn)
        with self._readable():
            _enable_wal(conn, timeout)
            if not {*_TABLES, "seals"} <= self._table_names():
                with self.transaction() as db:
                    for statement in _schema_sql(db):
                        db.execute(statement)
            elif not self._indexes_current():
                # A log written by an older version: the indexes it lacks (a minute on a
                # million records, once). Readers never do this: they read with what is there.
                _LOG.warning("adding the indexes of this version to %s (once)", self.path)
                with self._write():
                    for statement in _index_sql():
                        self.conn.execute(statement)
            self._indexes = self._index_names()
            self._check_signing()

    def _check_signing(self) -> None:
        """A signed log takes appends under its own key only; an unsigned one never gets a
        key half way (a signed log is signed from its first record, or ``verify`` could not
        tell unsigned old records from forged ones)."""
        rows = self._all("SELECT key_id FROM seals ORDER BY seq LIMIT 1")
        signed_by = rows[0][0] if rows else None
        if signed_by is None:
            unsigned = self._all("SELECT count(*) FROM records")[0][0]
            if self.key is not None and unsigned:
                self.close()
                raise AuditError(
                    f"{self.path}: holds {unsigned:,} records written without {KEY_ENV}; a "
                    "signed log is signed from its first record: start a new log (--audit)"
                )
        elif self.key is None:
            self.close()
            raise AuditError(
                f"{self.path}: this log is signed (key id {signed_by}); set {KEY_ENV} to its "
                "key to write to it"
            )
        elif self.key.id != signed_by:
            self.close()
            raise AuditError(
                f"{self.path}: signed with key id {signed_by}, but {KEY_ENV} is key id "
                f"{self.key.id}"
            )

    @classmethod
    def open(cls, path: str | Path, *, create: bool, timeout: float = 30.0) -> AuditLog:
        """A writer that may create the log (``create=True``), or a reader of an existing one."""
        return cls(path, timeout=timeout) if create else cls.open_readonly(path, timeout=timeout)

    @classmethod
    def open_readonly(cls, path: str | Path, *, timeout: float = 30.0) -> AuditLog:
        """An existing log, read-only; ``AuditNotFound`` or ``AuditUnreadable`` otherwise."""
        where = Path(path)
        if not where.exists():
            raise AuditNotFound(path)
        if where.is_dir():
            raise AuditUnreadable(path, "it is a folder")
        # A file whose header says WAL gets -wal and -shm files from SQLite even read-only;
        # when it then turns out not to be a log, take away what this open made.
        siblings = [where.with_name(where.name + suffix) for suffix in ("-wal", "-shm")]
        log = cls.__new__(cls)
        log.path = where
        log.readonly = True
        log.key = _env_key()
        log._made = [file for file in siblings if not file.exists()]
        uri = f"{where.resolve().as_uri()}?mode=ro"
        log._attach(sqlite3.connect(uri, uri=True, timeout=timeout, check_same_thread=False))
        # Also tells code sharing the connection (the paper ledger) that this one only reads.
        log.conn.execute("PRAGMA query_only = ON")
        try:
            with log._readable():
                missing = sorted(set(_TABLES) - log._table_names())
                log._indexes = log._index_names()
            if missing:
                tables = "table" if len(missing) == 1 else "tables"
                raise AuditUnreadable(path, f"no {', '.join(missing)} {tables}")
        except BaseException:
            log._discard()
            raise
        return log

    def _discard(self) -> None:
        """Close a reader of a file that is not a (sound) log, and take away the -wal and -shm
        files that opening it made: looking at a file must leave it as it was."""
        self.close()
        for file in self._made:
            file.unlink(missing_ok=True)

    def _attach(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._db: sqlite_utils.Database | None = None
        self._indexes = frozenset[str]()  # the index names, once the schema is known
        # What sqlite-utils sets on a connection it wraps, set here as the wrapper comes later.
        conn.execute("PRAGMA recursive_triggers = ON")
        self._lock = threading.RLock()
        self._depth = 0
        self._closed = False
        self._unchecked: tuple[int, str] | None = None  # a head no checkpoint covers yet
        self._checkpointed = 0.0

    @property
    def db(self) -> sqlite_utils.Database:
        """The connection as a ``sqlite_utils.Database``, for the paper ledger's tables.

        Made on first use: sqlite-utils imports pandas and numpy at import time (when they are
        installed), which a command that only reads the log never needs.
        """
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn, recursive_triggers=False)
        return self._db

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        # Through ``db`` once it exists, so that its tracer (``db.tracer()``) sees every query.
        if self._db is not None:
            return self._db.execute(sql, params)
        return self.conn.execute(sql, params)

    def _table_names(self) -> set[str]:
        return {row[0] for row in self._all("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _index_names(self) -> frozenset[str]:
        rows = self._all("SELECT name FROM sqlite_master WHERE type = 'index'")
        return frozenset(row[0] for row in rows)

    def _indexes_current(self) -> bool:
        names = self._index_names()
        return {name for name, _, _ in _INDEXES} <= names and names.isdisjoint(_OBSOLETE_INDEXES)

    @contextmanager
    def _readable(self) -> Iterator[None]:
        """SQLite's "not a database" and "malformed" become ``AuditUnreadable`` with its reason.

        Locks and other operational errors pass through: they say nothing about the file.
        """
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) or not _is_damage(exc):
                raise
            if self.readonly:  # a log damaged past its first pages: found only when read
                self._discard()
            raise AuditUnreadable(self.path, str(exc)) from None

    # --- lifecycle and transactions ------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._checkpoint(force=True)
            self._closed = True
            self.conn.close()

    def _checkpoint(self, *, force: bool) -> None:
        """Sign the head into the checkpoint file (at most once a second, and on close)."""
        if self.key is None or self._unchecked is None:
            return
        from signalops.audit.signing import (
            WITNESS_ENV,
            Checkpoint,
            checkpoint_path,
            post_checkpoint,
            write_checkpoint,
        )

        now = monotonic()
        if not force and now - self._checkpointed < _CHECKPOINT_EVERY:
            return
        seq, hash = self._unchecked
        at = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
        checkpoint = Checkpoint.make(self.key, seq, hash, at)
        write_checkpoint(checkpoint_path(self.path), checkpoint)
        self._unchecked, self._checkpointed = None, now
        witness = os.environ.get(WITNESS_ENV)
        if witness:
            failed = post_checkpoint(witness, checkpoint)
            if failed:
                _LOG.warning("checkpoint seq %s not posted to the witness: %s", seq, failed)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction (``BEGIN IMMEDIATE``): everything in it commits or none of it.

        Nested use joins the outer transaction through a savepoint, so a failed inner block
        (e.g. a ``DuplicateRecordError`` the caller catches) leaves no half-written rows.
        Something that commits the transaction early (``conn.commit()``, or sqlite-utils 3.x
        table writes) raises ``TransactionEndedError`` at the next append or at the end of
        the block: after it, appends would read the chain head without the write lock.
        """
        with self._write():
            yield self.db

    @contextmanager
    def _write(self) -> Iterator[None]:
        """``transaction()`` without the ``sqlite_utils.Database`` (appends need none)."""
        if self.readonly:
            raise AuditError(f"{self.path}: opened read-only (for a command that only reads)")
        with self._lock:
            conn = self.conn
            if self._depth:
                self._require_open()
                name = f"audit_{self._depth}"
                conn.execute(f"SAVEPOINT {name}")
                self._depth += 1
                try:
                    yield
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    raise
                else:
                    self._require_open()
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            self._pending: tuple[int, str] | None = None
            try:
                with self._full_disk_is_one_error():
                    try:
                        yield
                        self._require_open()
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                if self._pending is not None and self.key is not None:
                    # The committed head, not the last append's: a savepoint rolled back
                    # inside the transaction may have undone that one.
                    self._unchecked = self.head()
                    self._checkpoint(force=False)
            finally:
                self._depth = 0
                self._pending = None

    @contextmanager
    def _full_disk_is_one_error(self) -> Iterator[None]:
        """SQLite's "database or disk is full" as one line; the transaction was rolled back."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if _is_full(exc):
                raise AuditError(
                    f"disk full writing {self.path}: nothing of this cycle was written"
                ) from None
            raise

    def _require_open(self) -> None:
        if not self.conn.in_transaction:
            raise TransactionEndedError(
                "the audit log's transaction was committed before its end (sqlite-utils < 4 "
                "commits inside its own table writes: use sqlite-utils >= 4 or db.execute)"
            )

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every read inside sees the log as of one moment.

        ``verify`` and ``export_jsonl`` use it so that a concurrent append cannot land between
        reading the chain head and reading the records.
        """
        with self._lock, self._readable():
            conn = self.conn
            if conn.in_transaction:
                yield
                return
            conn.execute("BEGIN")
            try:
                yield
            finally:
                # A reader that found the file damaged has closed itself (``_discard``).
                if not self._closed and conn.in_transaction:
                    conn.execute("COMMIT")

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._readable():
            return self._execute(sql, list(params)).fetchall()

    def _bodies(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        return [_loads(row[0]) for row in self._all(sql, params)]

    # --- writing -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record appended, as the chain head row remembers it."""
        rows = self._all("SELECT seq, hash FROM chain_head WHERE id = 1")
        return (rows[0][0], rows[0][1]) if rows else None

    def _tail(self) -> tuple[int, str]:
        # The head row, not the last record: after a (forbidden) delete of the last rows, the
        # next record still links to the deleted one, so ``verify`` reports the gap.
        head = self.head()
        if head is not None:
            return head
        rows = self._all("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Seal ``record`` after the current last one and store it; returns the sealed record.

        Raises ``DuplicateRecordError`` when its id is already in the log (nothing is written).
        """
        kept: list[dict[str, Any]] = []
        self._append([record], kept)
        return kept[0]

    def append_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Append records in order, in one transaction; returns how many (the bulk path).

        Memory stays flat however many records the iterable yields (rows go to SQLite a chunk
        at a time and nothing is kept), so a million records can be one transaction. A
        duplicate id anywhere rolls the whole batch back.
        """
        return self._append(records, None)

    def _append(
        self, records: Iterable[Mapping[str, Any]], kept: list[dict[str, Any]] | None
    ) -> int:
        appended = 0
        with self._write():
            seq, prev = self._tail()
            chunk: list[tuple[Any, ...]] = []
            for record in records:
                _check_appendable(record)
                seq += 1
                sealed, body = seal_to_json(record, prev, seq)
                prev = sealed["hash"]
                columns = index_columns(sealed)
                chunk.append((*(columns[c] for c in COLUMNS), body))
                appended += 1
                if kept is not None:
                    kept.append(sealed)
                if len(chunk) >= _CHUNK:
                    self._insert(chunk)
                    chunk = []
            if chunk:
                self._insert(chunk)
            if appended:
                self.conn.execute(
                    "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    [seq, prev],
                )
                self._pending = (seq, prev)
        return appended

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        try:
            self.conn.executemany(_INSERT, rows)
            if self.key is not None:
                key = self.key
                seals = [(row[0], key.id, key.record_mac(row[0], row[_HASH])) for row in rows]
                self.conn.executemany(
                    "INSERT INTO seals (seq, key_id, mac) VALUES (?, ?, ?)", seals
                )
        except sqlite3.IntegrityError:
            # Only duplicates of ids stored before this chunk, or repeated within it: rows of
            # the chunk itself may already be in (the transaction rolls them back).
            ids = [row[1] for row in rows]
            placeholders = ", ".join("?" * len(ids))
            sql = f"SELECT id FROM records WHERE id IN ({placeholders}) AND seq < ?"
            before = {r[0] for r in self._all(sql, [*ids, rows[0][0]])}
            repeated = {i for i, n in Counter(ids).items() if n > 1}
            raise DuplicateRecordError(sorted(before | repeated)) from None

    def remember_strategy(self, strategy: Strategy) -> bool:
        """Store the strategy document under its content hash, once; True if it was new."""
        document = json_safe(strategy.document)
        if content_hash(document) != strategy.content_hash:
            raise ValueError(f"strategy {strategy.name}: document does not match its content hash")
        with self._write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO strategies (hash, name, file, document) VALUES (?, ?, ?, ?)",
                [strategy.content_hash, strategy.name, strategy.file, canonical_json(document)],
            )
            return cursor.rowcount == 1

    # --- reading -------------------------------------------------------------------------------

    def strategy_document(self, hash: str) -> dict[str, Any] | None:
        rows = self._all("SELECT document FROM strategies WHERE hash = ?", [hash])
        return _loads(rows[0][0]) if rows else None

    def get(self, id: str) -> dict[str, Any] | None:
        """The record with this id (for a decision: its decision id), or None."""
        found = self._bodies("SELECT body FROM records WHERE id = ?", [id])
        return found[0] if found else None

    def has_decision(self, decision_id: str) -> bool:
        rows = self._all("SELECT kind FROM records WHERE id = ?", [decision_id])
        return bool(rows) and rows[0][0] == DECISION

    def decisions(
        self,
        *,
        asset: str | None = None,
        strategy: str | None = None,
        verdict: str | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        limit: int | None = 100,
    ) -> list[dict[str, Any]]:
        """Decision records, newest ``as_of`` first.

        ``strategy`` is a name or a ``sha256:...`` content hash. ``since``/``until`` are
        inclusive; a date means that whole UTC day. Each combination of filters reads one index
        range (``_INDEXES``), except that a content hash is narrowed by its strategy's name
        (from the ``strategies`` table; no index holds the hash): an old version's decisions
        are found after reading past the newer versions'.
        """
        where: list[str] = []
        params: list[Any] = []
        if asset is not None:
            where.append("asset = ?")
            params.append(asset)
        if strategy is not None and strategy.startswith("sha256:"):
            # By its name too, so that the name's indexes narrow it (a hash has one name).
            name = self._strategy_name(strategy)
            if name is not None:
                where.append("strategy = ?")
                params.append(name)
            where.append("strategy_hash = ?")
            params.append(strategy)
        elif strategy is not None:
            where.append("strategy = ?")
            params.append(strategy)
        if verdict is not None:
            where.append("verdict = ?")
            params.append(str(verdict))
        if not where:
            where.append("kind = ?")  # the copied columns are NULL for follow-ups already
            params.append(DECISION)
        if since is not None:
            where.append("as_of >= ?")
            params.append(_time_bound(since))
        if until is not None:
            exclusive = not isinstance(until, datetime)
            where.append("as_of < ?" if exclusive else "as_of <= ?")
            params.append(_time_bound(until, end=True))
        merge = verdict is None and "asset = ?" in where and "strategy = ?" in where
        if merge and _MERGE_INDEX in self._indexes:
            sql, params = _merged_by_verdict(" AND ".join(where), params)
        else:
            sql = f"SELECT body FROM records WHERE {' AND '.join(where)} {_NEWEST_FIRST}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._bodies(sql, params)

    def _strategy_name(self, strategy_hash: str) -> str | None:
        rows = self._all("SELECT name FROM strategies WHERE hash = ?", [strategy_hash])
        return rows[0][0] if rows else None

    def decision_at(
        self, asset: str, when: datetime | date, *, strategy: str | None = None
    ) -> dict[str, Any] | None:
        """The decision in force for ``asset`` at ``when``: the latest with as_of <= when.

        A ``date`` means that UTC day: the day's latest decision, or None if there was none
        that day ("why did it trade BTC on 2024-11-06?").
        """
        if isinstance(when, datetime):
            found = self.decisions(asset=asset, strategy=strategy, until=when, limit=1)
        else:
            found = self.decisions(asset=asset, strategy=strategy, since=when, until=when, limit=1)
        return found[0] if found else None

    def followups(self, decision_id: str) -> list[dict[str, Any]]:
        """Every later record about a decision (orders, fills, approvals, expiry), in order."""
        return self._bodies(
            "SELECT body FROM records WHERE decision_id = ? AND kind != ? ORDER BY seq",
            [decision_id, DECISION],
        )

    def pending_approvals(self, now: datetime) -> list[PendingApproval]:
        """Decisions waiting for a human, soonest expiry first (those past it say ``expired``)."""
        now = utc(now)
        records = self._bodies(
            "SELECT body FROM records AS d WHERE d.status = ? AND d.kind = ? AND NOT EXISTS ("
            " SELECT 1 FROM records AS f WHERE f.decision_id = d.decision_id"
            " AND f.kind IN (?, ?) AND f.seq > d.seq) ORDER BY d.seq",
            [PENDING_APPROVAL, DECISION, APPROVAL, EXPIRY],
        )
        pending = []
        for record in records:
            execution = record.get("execution") or {}
            expires = execution.get("expires_at")
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None
            pending.append(
                PendingApproval(
                    decision_id=record["decision_id"],
                    approval_id=execution.get("approval_id"),
                    asset=record["asset"],
                    strategy=record["strategy"]["name"],
                    as_of=record["as_of"],
                    expires_at=expires_at,
                    expired=expires_at is not None and expires_at <= now,
                    record=record,
                )
            )
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(pending, key=lambda p: p.expires_at or far)

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Every record after ``after_seq``, in chain order (read a page at a time)."""
        for row in self.raw_rows(after_seq):
            yield _loads(row["body"])

    def raw_rows(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The stored rows as they are (columns and body text), for ``verify``."""
        names = (*COLUMNS, "body")
        sql = f"SELECT {', '.join(names)} FROM records WHERE seq > ? ORDER BY seq LIMIT ?"
        last = after_seq
        while True:
            page = self._all(sql, [last, _PAGE])
            for row in page:
                yield dict(zip(names, row, strict=True))
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def seals(self, after_seq: int = 0) -> Iterator[tuple[int, str, str]]:
        """``(seq, key_id, mac)`` of every record MAC after ``after_seq``, in seq order."""
        if "seals" not in self._table_names():
            return
        sql = "SELECT seq, key_id, mac FROM seals WHERE seq > ? ORDER BY seq LIMIT ?"
        last = after_seq
        while True:
            page = self._all(sql, [last, _PAGE])
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def signed_by(self) -> str | None:
        """The key id the log is signed with; None for a log written without a key."""
        if "seals" not in self._table_names():
            return None
        rows = self._all("SELECT key_id FROM seals ORDER BY seq LIMIT 1")
        return rows[0][0] if rows else None

    def body_at(self, seq: int) -> str | None:
        """The stored body text of the record at ``seq`` (as it is, for checks)."""
        rows = self._all("SELECT body FROM records WHERE seq = ?", [seq])
        return rows[0][0] if rows else None

    def seal_at(self, seq: int) -> tuple[int, str, str] | None:
        if "seals" not in self._table_names():
            return None
        rows = self._all("SELECT seq, key_id, mac FROM seals WHERE seq = ?", [seq])
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def records_of_kind(self, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(seq, record)`` of every record of ``kind``, in chain order (by the kind index)."""
        sql = f"SELECT seq, body FROM records WHERE {kind_filter([kind])} ORDER BY seq LIMIT ?"
        last = 0
        while True:
            page = self._all(sql, [kind, last, _PAGE])
            for seq, body in page:
                try:
                    yield seq, _loads(body)
                except ValueError:  # a damaged body: ``verify``'s walk reports it
                    continue
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def hash_at(self, seq: int) -> str | None:
        rows = self._all("SELECT hash FROM records WHERE seq = ?", [seq])
        return rows[0][0] if rows else None

    def paper_fill_rows(self) -> list[tuple[Any, ...]]:
        """The paper ledger's rows (``FILL_COLUMNS`` order); none when it has no ledger."""
        if "paper_fills" not in self._table_names():
            return []
        from signalops.audit.paper_ledger import FILL_COLUMNS

        return self._all(f"SELECT {FILL_COLUMNS} FROM paper_fills ORDER BY seq")

    def stored_strategies(self) -> list[tuple[str, str, str]]:
        """``(hash, name, document text)`` of every stored strategy document."""
        return [
            (r[0], r[1], r[2]) for r in self._all("SELECT hash, name, document FROM strategies")
        ]

    def seq_of_hash(self, hash: str) -> int | None:
        """Which record carries this hash (a scan: only ``verify`` asks, and only on a break)."""
        rows = self._all("SELECT seq FROM records WHERE hash = ? LIMIT 1", [hash])
        return rows[0][0] if rows else None

    def count(self) -> int:
        return self._all("SELECT count(*) FROM records")[0][0]

    def export_jsonl(self, target: str | Path | IO[str]) -> int:
        """Write every record, one canonical JSON object per line, in chain order.

        Each line is the stored body byte for byte, so ``chain.check`` holds for each line and
        consecutive lines link by ``prev_hash``. Returns the number of lines. A body that is not
        a JSON record (a damaged page) cannot be a line: it raises ``AuditIntegrityError``.
        """
        if isinstance(target, str | Path):
            return self._export_file(Path(target))
        written = 0
        with self.snapshot():
            for row in self.raw_rows():
                target.write(_export_line(row))
                written += 1
        return written

    def _export_file(self, target: Path) -> int:
        """A file appears only complete: a log found damaged halfway leaves no partial export."""
        try:
            return self._export_into(target)
        except OSError as exc:
            if exc.filename is None:  # write() and flush() do not say which file was full
                raise OSError(exc.errno, exc.strerror, str(target)) from None
            raise

    def _export_into(self, target: Path) -> int:
        if target.exists() and not target.is_file():  # a device or pipe, e.g. /dev/stdout
            with open(target, "w", encoding="utf-8", newline="\n") as file:
                return self.export_jsonl(file)
        partial = target.with_name(target.name + ".partial")
        try:
            with open(partial, "w", encoding="utf-8", newline="\n") as file:
                written = self.export_jsonl(file)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        return written


def _export_line(row: dict[str, Any]) -> str:
    body = row["body"]
    try:
        _loads(body)
    except ValueError:
        raise AuditIntegrityError(
            f"record seq {row['seq']} is damaged (its body is not a JSON record);"
            " `signalops audit verify` lists every problem"
        ) from None
    return body + "\n"
