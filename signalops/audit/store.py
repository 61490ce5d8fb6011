"""The audit log on disk: one SQLite file (WAL), append-only, hash-chained.

Tables (the ``records`` table's layout is ``signalops.audit.layout``'s: compact in a log made
by this version, the text columns of older logs in those)::

    records       seq INTEGER PRIMARY KEY   chain order, 1, 2, 3...
                  id (UNIQUE), kind, decision_id, as_of, strategy, asset, verdict, status...
                                            indexed columns (``verify`` checks those copied
                                            from the record against it)
                  prev_hash, hash           the chain
                  body                      the record (whole, or what its columns do not hold)
    strategies    hash PRIMARY KEY, name, file, document (JSON)   one row per content hash
    trees         hash PRIMARY KEY, strategy_hash, document       one compiled tree per hash
                                            (``signalops.audit.trees``: what compact decisions
                                            are re-derived from)
    chain_head    one row: seq and hash of the last record appended
    seals         record MACs of a signed log (``signalops.audit.signing``)
    runs, run_ids, run_kinds
                  a backtest's decisions that placed nothing, many to a row
                                            (``signalops.audit.runs``; every reader below
                                            gives their records as if they were rows)

Every filter of ``decisions`` is an index range in the order of the answer (a filter without a
verdict merges the four verdicts' ranges), on a log of any length. A writer's open adds the
indexes an older log lacks; a reader reads with what the file has (the same answers, only
slower on a big old log). Copied columns are set for decisions only, so ``asset = ?`` alone
finds decisions, and ``as_of IS NULL`` follow-ups.

``status`` is the decision's execution status: an extra indexed column so that the approval
queue (``pending_approvals``) is an index lookup, not a scan of every decision.

Reads give records as they were sealed (``get``, ``decisions``, ``records``...): a compact
decision without its trace. ``signalops.audit.expand.expanded(record, log)`` gives the full
shape (trace, observations with their requests); every reader that shows a decision uses it.

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
on ``records``, ``strategies``, ``trees`` and the compact layout's side tables from any client
(dropping the triggers is a deliberate act). ``chain_head`` is the one row that changes: it is
written in the same transaction as each append, and is what lets ``verify`` notice that the
*last* records were deleted, which the chain alone cannot show (a truncated chain is a valid
chain). It does not stop someone with write access from rewriting the whole file consistently;
for that, keep ``head()`` somewhere else (a notification, a signed export) and compare.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from pathlib import Path
from time import monotonic, sleep
from typing import IO, TYPE_CHECKING, Any, cast

from signalops.audit import runs as record_runs
from signalops.audit.chain import GENESIS
from signalops.audit.interface import BEFORE_FIRST, before_first, moment_of
from signalops.audit.layout import (
    COLUMNS,
    COMPACT_INDEXES,
    COMPACT_VERSION,
    VERDICTS,
    CompactLayout,
    Layout,
    LegacyLayout,
    Stored,
    Undecodable,
    compact_schema,
    index_columns,
    records_of,
    sortable_time,
)
from signalops.audit.record import (
    APPROVAL,
    DECISION,
    EXPIRY,
    KINDS,
    SCHEMAS,
    Appendable,
    PreparedRecord,
    Repeat,
    as_prepared,
    json_safe,
)
from signalops.audit.record import loads_record as _loads
from signalops.canonical import canonical_json, content_hash, parse_iso
from signalops.errors import (
    AuditError,
    AuditIntegrityError,
    AuditNotFound,
    AuditUnreadable,
    DiskFull,
    DuplicateRecordError,
    TransactionEndedError,
)
from signalops.observation import utc

if TYPE_CHECKING:
    import sqlite_utils

    from signalops.audit.paper_ledger import SQLiteLedger
    from signalops.audit.signing import SigningKey
    from signalops.strategy.model import Strategy

# = signalops.audit.signing.KEY_ENV (a test holds them equal). The signing module (and httpx,
# which it posts checkpoints with) is imported only for a log opened with a key set.
KEY_ENV = "SIGNALOPS_AUDIT_KEY"

PENDING_APPROVAL = "PENDING_APPROVAL"
_LOG = logging.getLogger("signalops.audit")
_ENV = object()  # AuditLog's default key: the one in SIGNALOPS_AUDIT_KEY, if any
_CHUNK = 10_000  # rows per executemany: bounded memory for bulk appends
_PAGE = 1_000  # rows per read: iterators never hold a read transaction between pages

# SQLite refuses UPDATE and DELETE on these tables from any client, not just this API.
_APPEND_ONLY = (
    ("records", "audit records"),
    ("strategies", "stored strategies"),
    ("seals", "record MACs"),
    ("trees", "stored trees"),
    ("names", "strategy names"),
    ("contexts", "record contexts"),
    ("dictionaries", "body dictionaries"),
    ("runs", "record runs"),
    ("run_ids", "record run ids"),
    ("run_kinds", "record run kinds"),
)


def _triggers(tables: Iterable[str]) -> list[str]:
    what = dict(_APPEND_ONLY)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{what[table]} are append-only: never {verb}d'); END"
        for table in tables
        for verb in ("update", "delete")
    ]


# Tables of both layouts (made by writers of older logs too where they are missing).
_COMMON = (
    "CREATE TABLE IF NOT EXISTS strategies (hash TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "file TEXT, document TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
    "hash TEXT NOT NULL)",
    # Record MACs (``signalops.audit.signing``); a log written without a key has none.
    "CREATE TABLE IF NOT EXISTS seals (seq INTEGER PRIMARY KEY, key_id TEXT NOT NULL, "
    "mac TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS trees (hash TEXT PRIMARY KEY, strategy_hash TEXT NOT NULL, "
    "document TEXT NOT NULL)",
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


_NEWEST_FIRST = "ORDER BY as_of DESC, seq DESC"


def _citing_arms(
    layout: CompactLayout, strategy_hash: str, verdict: str | None
) -> list[tuple[int, str]]:
    """``(context, verdict)`` of the decisions a content hash's contexts hold (of ``verdict``,
    if given): every verdict of a plain context, an outcome context's own."""
    return [
        (context, wanted)
        for context, holds in layout.contexts_citing(strategy_hash)
        for wanted in ((holds,) if holds is not None else VERDICTS)
        if verdict is None or wanted == str(verdict)
    ]


def _newest_first(row: Sequence[Any]) -> tuple[Any, Any]:
    """``_NEWEST_FIRST``'s key of a compact row (sorted in reverse)."""
    return row[4], row[0]


def _merged_by_verdict(select: str, where: str, params: list[Any]) -> tuple[str, list[Any]]:
    """One index range per verdict, merged newest first.

    SQLite merges the ranges of a UNION ALL that are each in the ORDER BY's order, and stops at
    the LIMIT: a filter without a verdict costs four short index seeks, not a sort of every
    decision that matches (a compound SELECT orders by its result columns, which hold as_of and
    seq).
    """
    arm = f"SELECT {select} FROM records WHERE {where}{' AND ' if where else ''}verdict = ?"
    sql = " UNION ALL ".join([arm] * len(VERDICTS)) + f" {_NEWEST_FIRST}"
    return sql, [value for verdict in VERDICTS for value in (*params, verdict)]


def _merged_by_context(
    select: str, where: str, params: list[Any], arms: Sequence[tuple[int, str]]
) -> tuple[str, list[Any]]:
    """One index range per (context, verdict) of a content hash, merged newest first (as
    ``_merged_by_verdict``)."""
    arm = f"SELECT {select} FROM records WHERE {where}{' AND ' if where else ''}"
    arm += "context = ? AND verdict = ?"
    sql = " UNION ALL ".join([arm] * len(arms)) + f" {_NEWEST_FIRST}"
    return sql, [value for context, verdict in arms for value in (*params, context, verdict)]


def _env_key() -> SigningKey | None:
    """``signing.key_from_env()``, importing the signing module only when a key is set."""
    if not os.environ.get(KEY_ENV):
        return None
    from signalops.audit.signing import key_from_env

    return key_from_env()


def kind_filter(kinds: Sequence[str]) -> str:
    """``kind IN (?...) AND seq > ?`` (parameters: the kinds, then a seq) as a seek.

    Only decisions have an as_of, so for follow-up kinds ``as_of IS NULL`` makes it a range of
    the follow-ups' kind index from that seq on: reading the fills since the last cycle costs
    the same on a log of a million records as on a new one.
    """
    marks = ", ".join("?" * len(kinds))
    null = "" if DECISION in kinds else " AND as_of IS NULL"
    return f"kind IN ({marks}){null} AND seq > ?"


def _check_appendable(record: PreparedRecord, compact: bool) -> None:
    kind, ident = record.kind, record.id
    if record.schema not in SCHEMAS:
        raise ValueError(f"record {ident} is not a {' or '.join(SCHEMAS)} record")
    if kind not in KINDS:
        raise ValueError(f"record {ident} has unknown kind {kind!r}")
    if not isinstance(ident, str) or not isinstance(record.recorded_at, str):
        raise ValueError("a record needs an id and a recorded_at (use the record builders)")
    if compact and kind == DECISION:
        # What the compact layout's columns hold for a decision (the builders give all of it).
        if record.decision_id != ident:
            raise ValueError(f"decision {ident}: its decision_id must be its id")
        if not isinstance(record.asset, str) or not isinstance(record.as_of, str):
            raise ValueError(f"decision {ident} needs an asset and an as_of")
        if record.verdict not in VERDICTS:
            raise ValueError(
                f"decision {ident} has verdict {record.verdict!r}, not one of {VERDICTS}"
            )


# Every decision filter of ``decisions`` (and so ``decision_at``, ``why``, the dashboard's feed)
# is one index range scan in the order it answers (as_of, then seq: SQLite ends every index
# with the rowid, which is seq), however long the log: equality on the filtered columns, a
# range on as_of. The legacy layout's indexes (a log made before compact records):
_LEGACY_INDEXES = (
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
_CONTEXT_INDEX = "records_context_verdict_as_of"
_ASSET_CONTEXT_INDEX = "records_asset_context_verdict_as_of"
# The ranges one content hash's filter merges at most (a compound SELECT takes 500): four
# verdicts of each mode's plain context and one per outcome context (OUTCOMES_PER_STRATEGY).
_MOST_ARMS = 100
_TABLES = ("records", "strategies", "chain_head")
_COMPACT_VERSIONS = (COMPACT_VERSION, record_runs.RUNS_VERSION)
_RUN_TABLES = ("runs", "run_ids")  # made when a log first keeps runs (``start_bulk_load``)
_LATER_TABLES = (*_RUN_TABLES, "run_kinds")  # run_kinds: when it has filled them


def _legacy_index_sql() -> list[str]:
    """CREATE INDEX IF NOT EXISTS for every legacy index, then DROP the obsolete ones."""
    statements = []
    for name, columns, unique in _LEGACY_INDEXES:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        statements.append(f"CREATE {kind} IF NOT EXISTS {name} ON records ({', '.join(columns)})")
    statements += [f"DROP INDEX IF EXISTS {name}" for name in _OBSOLETE_INDEXES]
    return statements


# While a log is loaded in bulk through its WAL, copy the WAL into the file once it passes
# 64 MiB instead of SQLite's 4 MiB (a WAL without bound would slow every read: each looks for
# its page in the WAL's index first); and a page cache of 64 MiB instead of 2 MiB.
_BULK_AUTOCHECKPOINT = 16384
_BULK_CACHE_KIB = -65536
# The settings a bulk load changes, in the order ``finish_bulk_load`` puts them back.
_BULK = ("synchronous", "wal_autocheckpoint", "temp_store", "cache_size")
# The compact layout's indexes of the decision filters (all end with verdict and as_of).
_FILTER_INDEXES = tuple(name for name, columns, _, _ in COMPACT_INDEXES if "verdict" in columns)


def _compact_index_sql() -> list[str]:
    statements = []
    for name, columns, unique, where in COMPACT_INDEXES:
        kind = "UNIQUE INDEX" if unique else "INDEX"
        partial = f" WHERE {where}" if where else ""
        statements.append(
            f"CREATE {kind} IF NOT EXISTS {name} ON records ({', '.join(columns)}){partial}"
        )
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


def _sync_file(path: Path) -> None:
    """fsync the file at ``path`` (its pages written through any descriptor)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _journal_in_memory(conn: sqlite3.Connection) -> bool:
    """Leave WAL for a rollback journal in memory; False (still WAL) when another connection
    has the file open (SQLite says "locked" at once: the mode needs the file to itself)."""
    try:
        return bool(conn.execute("PRAGMA journal_mode = MEMORY").fetchone()[0] == "memory")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return False


Written = tuple[int, int]  # a connection's (data version, total changes)


def rest_wal(conn: sqlite3.Connection, restarted: Written | None) -> Written | None:
    """Copy the WAL into the file (PASSIVE: never waits for a reader) and, once every frame is
    copied, start it over now (``AuditLog.checkpoint`` says why), unless nothing was written
    since it was last started over (``restarted``, what this returned last time). Returns what
    to pass next time. Raises ``OperationalError`` when another writer holds the lock."""
    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    written = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
    if frames > 0 and copied == frames and written != restarted:
        _start_wal_over(conn)
        return written  # the write changes neither count
    return restarted


def _start_wal_over(conn: sqlite3.Connection) -> None:
    """A write of the database's own ``user_version``, as it is, not waiting for another
    writer's lock: SQLite starts a fully copied WAL over at a write."""
    waits = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.execute(f"PRAGMA busy_timeout = {int(waits)}")


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

    _runs: record_runs.Runs | None  # a log that holds runs (``signalops.audit.runs``)

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
            tables = self._table_names()
            if "records" not in tables:
                self._create()
            else:
                self._upgrade(tables)
            self._choose_layout()
            self._indexes = self._index_names()
            self._check_signing()

    def _create(self) -> None:
        """A new log: the compact layout, in one ``BEGIN IMMEDIATE`` (two processes creating
        a file at once would otherwise fail with "database is locked")."""
        with self._write():
            if "records" in self._table_names():  # another process made it meanwhile
                return
            for statement in (
                *compact_schema(),
                *_COMMON,
                *_compact_index_sql(),
                *_triggers(name for name, _ in _APPEND_ONLY if name not in _LATER_TABLES),
            ):
                self.conn.execute(statement)
            self.conn.execute(f"PRAGMA user_version = {COMPACT_VERSION}")

    def _upgrade(self, tables: set[str]) -> None:
        """What a log written by an older version lacks: tables, triggers, indexes (a minute on
        a million records, once). Readers never do this: they read with what is there."""
        compact = self._all("PRAGMA user_version")[0][0] in _COMPACT_VERSIONS
        present = {
            row[0] for row in self._all("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        needed = ["strategies", "chain_head", "seals", "trees"]
        wanted = _compact_index_sql() if compact else _legacy_index_sql()
        names = self._index_names()
        expected = (
            {name for name, *_ in COMPACT_INDEXES}
            if compact
            else {name for name, _, _ in _LEGACY_INDEXES}
        )
        triggers = [
            f"{table}_no_{verb}"
            for table, _ in _APPEND_ONLY
            if table in tables or table in needed
            for verb in ("update", "delete")
        ]
        missing_tables = not set(needed) <= tables
        stale_indexes = not expected <= names or not names.isdisjoint(_OBSOLETE_INDEXES)
        if not missing_tables and not stale_indexes and set(triggers) <= present:
            return
        if stale_indexes:
            _LOG.warning("adding the indexes of this version to %s (once)", self.path)
        with self._write():
            for statement in _COMMON:
                self.conn.execute(statement)
            for statement in wanted if stale_indexes else ():
                self.conn.execute(statement)
            kept = [table for table, _ in _APPEND_ONLY if table in tables or table in needed]
            for statement in _triggers(kept):
                self.conn.execute(statement)

    def _choose_layout(self) -> None:
        version = self._all("PRAGMA user_version")[0][0]
        if version in _COMPACT_VERSIONS:
            self.layout: Layout = CompactLayout(self._query)
        else:
            self.layout = LegacyLayout()
        holds_runs = version == record_runs.RUNS_VERSION
        self._runs = record_runs.Runs(self._query) if holds_runs else None

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._execute(sql, params).fetchall()

    def _check_signing(self) -> None:
        """A signed log takes appends under its own key only; an unsigned one never gets a
        key half way (a signed log is signed from its first record, or ``verify`` could not
        tell unsigned old records from forged ones)."""
        rows = self._all("SELECT key_id FROM seals ORDER BY seq LIMIT 1")
        signed_by = rows[0][0] if rows else None
        if signed_by is None:
            unsigned = self.count()
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
                if not missing:
                    log._choose_layout()
            if missing:
                tables = "table" if len(missing) == 1 else "tables"
                raise AuditUnreadable(path, f"no {', '.join(missing)} {tables}")
        except BaseException:
            log._discard()
            raise
        return log

    def _discard(self) -> None:
        """Close a reader of a file that is not a (sound) log: its close takes away the -wal
        and -shm files that opening it made (looking at a file must leave it as it was), and
        only when no other connection uses them (another program's WAL file, say)."""
        self.close()

    def _attach(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._db: sqlite_utils.Database | None = None
        self._indexes = frozenset[str]()  # the index names, once the schema is known
        # What sqlite-utils sets on a connection it wraps, set here as the wrapper comes later.
        conn.execute("PRAGMA recursive_triggers = ON")
        # SQL can read a record's body whatever its layout (``signalops.backtest.ledger``).
        conn.create_function("record_body", 1, self._body_json, deterministic=True)
        self._lock = threading.RLock()
        self._depth = 0
        # The head this connection's open write transaction last wrote (None: not moved yet).
        self._pending: tuple[int, str] | None = None
        self._closed = False
        self._unchecked: tuple[int, str] | None = None  # a head no checkpoint covers yet
        self._checkpointed = 0.0
        self._head: tuple[int, str] | None = None  # the head this connection last committed
        # Follow-ups appended through this connection (rolled back or not): with SQLite's data
        # version (other connections' commits), whether any follow-up may have appeared.
        self._followups_appended = 0
        # kinds -> (that pair, a seq after which the log had none of them then)
        self._none_after: dict[tuple[str, ...], tuple[tuple[int, int], int]] = {}
        self._restarted: Written | None = None  # when rest last started the WAL over
        # Every decision that waited for approval below this seq has its answer in the log.
        self._answered_below = 0
        self._before_bulk: tuple[Any, ...] = ()  # the settings ``start_bulk_load`` changed
        self._runs = None
        self._packing = False  # appends keep their decisions that placed nothing in runs
        self._row_decisions: set[str] | None = None  # while packing: the decisions in rows

    def _body_json(self, body: Any) -> str | None:
        """SQL ``record_body(body)``: the JSON text of a stored body (the record without what
        the compact layout keeps in columns and contexts), or NULL when it cannot be read."""
        layout = getattr(self, "layout", None)
        try:
            if isinstance(layout, CompactLayout):
                text = layout.body_text(body)
                return text.decode("utf-8") if isinstance(text, bytes) else text
            return body if isinstance(body, str) else None
        except (Undecodable, UnicodeDecodeError):
            return None

    @property
    def compact(self) -> bool:
        """Whether the log has the compact layout (a log made by this version)."""
        return bool(self.layout.compact)

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

    def paper_ledger(self) -> SQLiteLedger:
        """The paper broker's ledger in this file: fills commit with this log's transactions.
        On the connection itself (not ``db``): a reader of the ledger (``verify``, ``why``)
        need not import sqlite-utils."""
        from signalops.audit.paper_ledger import SQLiteLedger

        return SQLiteLedger(self.conn)

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
        if self.readonly and self._made:
            self._tidy()

    def _tidy(self) -> None:
        """Take away the empty -wal and -shm files this reader's open made: SQLite makes them
        even read-only, and only a connection that may write removes them as it closes, and
        only when it is the log's last (it checkpoints a WAL that holds nothing: the file is
        not written). Another connection still open, or a folder that cannot change, keeps
        them: reading a log leaves the folder as it was whenever it can."""
        wal = self.path.with_name(self.path.name + "-wal")
        if not any(file.exists() for file in self._made):
            return
        with suppress(OSError):
            if wal.stat().st_size:  # frames a writer left: its own, not this reader's, to move
                return
        # mode=rw: a log moved away meanwhile is not made again, empty, by its reader.
        uri = f"{self.path.resolve().as_uri()}?mode=rw"
        with suppress(sqlite3.Error, OSError):
            conn = sqlite3.connect(uri, uri=True, timeout=0)
            try:
                conn.execute("PRAGMA query_only = ON")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
            finally:
                conn.close()

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
                pending = self._pending  # the head the savepoint goes back to
                try:
                    yield
                except BaseException:
                    if conn.in_transaction:
                        conn.execute(f"ROLLBACK TO {name}")
                        conn.execute(f"RELEASE {name}")
                    # SQLite may have ended the whole transaction (a full disk, an I/O error):
                    # then no head of it stands.
                    self._pending = pending if conn.in_transaction else None
                    self._forget()
                    raise
                else:
                    self._require_open()
                    conn.execute(f"RELEASE {name}")
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            self._pending = None
            try:
                with self._full_disk_is_one_error():
                    try:
                        yield
                        self._require_open()
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        self._forget()
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
                raise DiskFull(self.path, "nothing of this cycle was written") from None
            raise

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Fill a new, empty log in bulk (a backtest's): the indexes of ``decisions``' filters
        are built once, when the block ends, instead of kept up at every append (sorting the
        finished table costs a third of that), and the WAL is copied into the file every 64 MiB
        and at the end instead of every 4 MiB (hot pages were copied again and again); its
        savepoints' journals stay in memory.

        Inside the block those filters scan the table; lookups by id and follow-ups keep their
        indexes. If the block raises, the indexes stay unbuilt (the next writer to open the
        file adds them). A log that already holds records is left as it is. The two halves are
        ``start_bulk_load`` and ``finish_bulk_load`` (a caller with other work to do while the
        indexes are built runs the second on another thread: SQLite builds them without the GIL).
        """
        started = self.start_bulk_load()
        yield
        if started:
            self.finish_bulk_load()

    def start_bulk_load(self, *, private: bool = False) -> bool:
        """``bulk_load``'s start; False (nothing done) for a log that already holds records.

        ``private``: no other connection opens the file before ``finish_bulk_load`` and nothing
        reads it as a log until it is given its name (a backtest's ``.partial``). Its rollback
        journal is then kept in memory and commits do not wait for the disk, so every page is
        written once, into the file, instead of into the WAL and copied into the file at the
        end (the copy took ~75 ms of the ~350 ms after the benchmark backtest's loop). A crash
        meanwhile may leave the file unreadable; it was never the log, and the run that made it
        makes it again. ``finish_bulk_load`` syncs it before anything can give it its name.
        """
        if not self.layout.compact or self.head() is not None:
            return False
        with self._lock:
            conn = self.conn
            settings = tuple(conn.execute(f"PRAGMA {name}").fetchone()[0] for name in _BULK)
            self._before_bulk = settings
            if private and _journal_in_memory(conn):
                conn.execute("PRAGMA synchronous = OFF")
            else:
                conn.execute(f"PRAGMA wal_autocheckpoint={_BULK_AUTOCHECKPOINT}")
            # Savepoints (appends nested in the loader's transaction, a fill among them) keep
            # the pages they change in a sub-journal, a temporary file once past 64 KiB: a
            # backtest wrote ~180 MB there in ~90,000 writes. In memory it holds the changed
            # pages of one batch at most.
            conn.execute("PRAGMA temp_store = MEMORY")
            # Building the indexes at the end sorts every decision in the page cache (2 MB by
            # default): 64 MB at most keeps a long backtest's sort out of temporary runs.
            conn.execute(f"PRAGMA cache_size = {_BULK_CACHE_KIB}")
        runs = private and self.key is None  # a signed log keeps a MAC row per record
        with self._write():
            for name in _FILTER_INDEXES:
                self.conn.execute(f"DROP INDEX IF EXISTS {name}")
            if runs:
                for statement in (*record_runs.SCHEMA, *_triggers(_RUN_TABLES)):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {record_runs.RUNS_VERSION}")
        if runs:
            self._runs = record_runs.Runs(self._query)
            self._runs.start_packing()
            self._packing = True
        self._indexes = self._index_names()
        return True

    def finish_bulk_load(self) -> None:
        """``bulk_load``'s end, after a ``start_bulk_load`` that returned True: the filters'
        indexes built, the WAL copied into the file (a private load's file back in WAL mode),
        the usual settings back."""
        self._packing = False
        with self._write():
            if self._runs is not None:
                self._runs.finish_packing()
                for statement in _triggers([record_runs.KINDS_TABLE]):
                    self.conn.execute(statement)
            for statement in _compact_index_sql():
                self.conn.execute(statement)
        self._indexes = self._index_names()
        with self._lock:
            conn = self.conn
            synchronous, autocheckpoint, temp_store, cache_size = self._before_bulk
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                # Its commits did not wait for the disk: it is on the disk before it can be
                # given its name (a crash after that finds the whole log, or no log).
                _sync_file(self.path)
                _enable_wal(conn, 0)
            conn.execute(f"PRAGMA synchronous = {synchronous}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {autocheckpoint}")
            conn.execute(f"PRAGMA temp_store = {temp_store}")
            conn.execute(f"PRAGMA cache_size = {cache_size}")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def relax_durability(self) -> None:
        """Commit without waiting for the disk (WAL ``synchronous=NORMAL``): for rebuildable logs.

        Still consistent after a crash, but the last commits may be lost: only for a log that the
        same run can write again, such as a backtest's.
        """
        with self._lock:
            self.conn.execute("PRAGMA synchronous=NORMAL")

    @property
    def in_memory(self) -> bool:
        """A log of this connection only (``:memory:``): no file, and no runner but this one."""
        return str(self.path) == ":memory:"

    @contextmanager
    def hold_runner(self, *, wait: bool) -> Iterator[None]:
        """Be this log's one runner for the block (``signalops.audit.runner_lock``); a log in
        memory has no other, and no lock file beside it."""
        from signalops.audit import runner_lock

        if self.in_memory:
            yield
            return
        with runner_lock.hold(self.path, wait=wait):
            yield

    def local_file(self, suffix: str) -> Path:
        """A file of this log's runner beside the log: ``audit.db`` -> ``audit.db<suffix>``."""
        return self.path.with_name(self.path.name + suffix)

    def checkpoint(self) -> None:
        """Copy the WAL into the file now (PASSIVE: never waits for a reader), between cycles,
        and start the WAL over now rather than at the next decision's commit.

        SQLite checkpoints on the commit that takes the WAL past 1,000 pages, i.e. every few
        dozen decisions, and that commit then also copies and syncs, which made the
        checkpointing decisions the slowest ones. Once every frame is copied, the next write
        starts the WAL over from its beginning: it writes a new WAL header and syncs it before
        its own frames (SQLite's guard against reordered writes), two syncs where a commit
        takes one. So that the next cycle's first decision does not pay for it, a write of the
        log's own ``user_version`` (the same value: nothing changes) starts it over here, once
        after each stretch of writes (that write leaves one frame, which the next rest copies
        without starting over again for it). Never an error and never a wait: a busy log (a
        transaction open on this connection, or another writer's lock) is checkpointed and
        started over another time.
        """
        with self._lock:
            if self.readonly or self._closed or self.conn.in_transaction:
                return
            with suppress(sqlite3.OperationalError):
                self._restarted = rest_wal(self.conn, self._restarted)

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

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """The records of rows selected with ``self.layout.select`` (a damaged row raises)."""
        with self._lock, self._readable():
            return self._decoded(self._execute(sql, list(params)).fetchall())

    def _decoded(self, rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
        """The records of rows (stored or a run's), a damaged one raising."""
        return records_of(self.layout, rows, self.path)

    def _run_row(
        self, *, id: str | None = None, seq: int | None = None, sound: bool = True
    ) -> tuple[Any, ...] | None:
        """The row of a record a run holds, by id or by seq (None: no run holds it). A run
        that does not decode is an ``AuditIntegrityError``, as a damaged row is, unless
        ``sound`` is False: then its record's row is one that fails to decode."""
        if self._runs is None:
            return None
        with self._lock, self._readable(), self._runs_sound():
            if id is not None:
                return self._runs.by_id(id)
            return self._runs.at(cast(int, seq), sound=sound)

    @contextmanager
    def _runs_sound(self) -> Iterator[None]:
        """A run that does not decode, met by a lookup, as a damaged row is (``_decoded``)."""
        try:
            yield
        except Undecodable as exc:
            raise AuditIntegrityError(
                f"{self.path}: a record cannot be read ({exc}); `signalops audit verify` "
                "lists every problem"
            ) from None

    def storage_problems(self, after_seq: int = 0) -> list[tuple[str, int | None, str | None, str]]:
        """What in the log's storage disagrees with its records, beyond each record and the
        chain (``verify``): rows of ``records`` before seq 1, which no walk reads and lookups
        and filters do (``BEFORE_FIRST``, whatever ``after_seq``: one seek); the own columns
        of the runs holding records after ``after_seq`` (``Runs.problems``)."""
        with self._lock, self._readable():
            found = [before_first(seq, ident) for seq, ident in self._query(BEFORE_FIRST, [])]
            if self._runs is not None:
                found += self._runs.problems(after_seq, before=len(found))
        return found

    def _forget(self) -> None:
        """After a rollback: rows this connection wrote in it never existed."""
        layout = getattr(self, "layout", None)
        if layout is not None:
            layout.reset()
        if self._runs is not None:
            self._runs.reset()
        self._row_decisions = None
        self._head = None
        self._answered_below = 0  # an answer rolled back: its decision waits again

    # --- writing -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last record appended, as the chain head row remembers it."""
        with self._lock:
            if self._depth and self._pending is not None and self.conn.in_transaction:
                return self._pending  # the row this transaction last wrote (``_move_head``)
            rows = self._all("SELECT seq, hash FROM chain_head WHERE id = 1")
        return (rows[0][0], rows[0][1]) if rows else None

    def _tail(self) -> tuple[int, str]:
        # The head row, not the last record: after a (forbidden) delete of the last rows, the
        # next record still links to the deleted one, so ``verify`` reports the gap. Read in
        # the write transaction (under the lock): no wrapper, this runs for every append. Once
        # this transaction has moved it, the head is the one it wrote (a savepoint rolled back
        # puts back the one before: ``_write``); no other writer moves it meanwhile.
        if self._pending is not None:
            return self._pending
        head = self.conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head is not None:
            return head[0], head[1]
        rows = self._all("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1")
        last = None if self._runs is None else self._runs.last()
        if last is not None and (not rows or rows[0][0] < last[0]):
            rows = [last]
        if not rows:
            return (0, GENESIS)
        digest = rows[0][1]
        return (rows[0][0], digest.hex() if isinstance(digest, bytes) else digest)

    def append(self, record: Appendable) -> dict[str, Any]:
        """Seal ``record`` after the current last one and store it; returns the sealed record.

        ``record`` is a builder's dict or a ``PreparedRecord`` (``DecisionTemplate.prepare``).
        Raises ``DuplicateRecordError`` when its id is already in the log (nothing is written).
        """
        kept: list[dict[str, Any]] = []
        self._append([record], kept)
        return kept[0]

    def append_many(self, records: Iterable[Appendable]) -> int:
        """Append records in order, in one transaction; returns how many (the bulk path).

        Records are builders' dicts or ``PreparedRecord``s (sealed and stored without being
        encoded again). Memory stays flat however many records the iterable yields (rows go to
        SQLite a chunk at a time and nothing is kept), so a million records can be one
        transaction. A duplicate id anywhere rolls the whole batch back.
        """
        return self._append(records, None)

    def _append(
        self,
        records: Iterable[Appendable],
        kept: list[dict[str, Any]] | None,
    ) -> int:
        if self._packing and kept is None:
            return self._append_packing(records)
        appended = 0
        layout = self.layout
        compact = layout.compact
        with self._write():
            seq, prev = self._tail()
            chunk: list[tuple[Any, ...]] = []
            for given in records:
                given = as_prepared(given)
                _check_appendable(given, compact)
                if given.kind != DECISION:
                    self._followups_appended += 1
                seq += 1
                row, prev = layout.row(given, seq, prev)
                chunk.append(row)
                appended += 1
                if kept is not None:
                    kept.append(
                        {
                            **given.record,
                            "seq": seq,
                            "prev_hash": row_prev(row, compact),
                            "hash": prev,
                        }
                    )
                if len(chunk) >= _CHUNK:
                    self._insert(chunk)
                    chunk = []
            if chunk:
                self._insert(chunk)
            if appended:
                self._move_head(seq, prev)
        return appended

    def _append_packing(self, records: Iterable[Appendable]) -> int:
        """``append_many`` while packing (``start_bulk_load``): the decisions that placed
        nothing go to runs (``signalops.audit.runs``), a repeat sealed from its shape, the
        rest to rows."""
        layout = self.layout
        runs = self._runs
        assert isinstance(layout, CompactLayout) and runs is not None  # packing logs are
        appended = 0
        with self._write():
            rows = self._decision_rows()
            run = record_runs.RunBuilder()
            chunk: list[tuple[Any, ...]] = []
            seq, prev = self._tail()
            items = records if isinstance(records, list) else list(records)
            shape = plan = None  # the last repeat's shape, and how its kind is kept
            at = 0
            while at < len(items):
                item = items[at]
                if item.__class__ is Repeat:
                    if item.outcome.shape is not shape:
                        shape = item.outcome.shape
                        plan = layout.run_plan(shape, item.prepared)
                    if plan is not None:
                        if not run.takes(seq + 1):
                            self._store_run(run)
                        count, sealed = run.seal_repeats(plan, items, at, seq, prev, rows)
                        if count:
                            at, seq, prev = at + count, seq + count, sealed
                            appended += count
                            continue
                at += 1
                seq += 1
                given = as_prepared(item)
                _check_appendable(given, True)
                if given.kind != DECISION:
                    self._followups_appended += 1
                row, prev = layout.row(given, seq, prev, compress=False)
                appended += 1
                if record_runs.fits(row):
                    if row[1] in rows:
                        raise DuplicateRecordError([row[1]])
                    if not run.takes(seq):
                        self._store_run(run)
                    run.add(row)
                    continue
                if run:
                    self._store_run(run)  # before the row: its id is checked against runs
                row = layout.packed(row)
                if row[2] == DECISION:
                    rows.add(row[1])
                chunk.append(row)
                if len(chunk) >= _CHUNK:
                    self._insert(chunk)
                    chunk = []
            if run:
                self._store_run(run)
            if chunk:
                self._insert(chunk)
            if appended:
                self._move_head(seq, prev)
        return appended

    def _move_head(self, seq: int, prev: str) -> None:
        self.conn.execute(
            "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            [seq, prev],
        )
        self._pending = (seq, prev)

    def _store_run(self, run: record_runs.RunBuilder) -> None:
        """Insert ``run`` and start it over; an id a run holds already, or twice in this one,
        is a ``DuplicateRecordError``. Records a run cannot keep after all (an id of another
        form, a body with a newline) are rows."""
        assert self._runs is not None and isinstance(self.layout, CompactLayout)
        taken = self._runs.insert(run)
        if taken:
            raise DuplicateRecordError(taken)
        if taken is None:
            rows = [self.layout.packed(row) for row in run.rows()]
            self._decision_rows().update(row[1] for row in rows)
            self._insert(rows)
        run.clear()  # for the records that follow

    def _decision_rows(self) -> set[str]:
        """The ids of the decisions stored as rows (while packing: read once, then kept up to
        date by the appends; a rollback reads them again)."""
        if self._row_decisions is None:
            rows = self._all("SELECT id FROM records WHERE kind = ?", [DECISION])
            self._row_decisions = {row[0] for row in rows}
        return self._row_decisions

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        compact = self.layout.compact
        if self._runs is not None:
            self._not_in_runs(rows)
            if self._row_decisions is not None:  # kept while packing (``_decision_rows``)
                self._row_decisions.update(row[1] for row in rows if row[2] == DECISION)
        try:
            if len(rows) == 1:
                self.conn.execute(self.layout.insert, rows[0])
            else:
                self.conn.executemany(self.layout.insert, rows)
            if self.key is not None:
                key = self.key
                seals = [
                    (row[0], key.id, key.record_mac(row[0], row_hash(row, compact))) for row in rows
                ]
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

    def _not_in_runs(self, rows: list[tuple[Any, ...]]) -> None:
        """Refuse rows of decisions a run already holds (a run's ids are not in the id index
        of ``records``)."""
        assert self._runs is not None
        found = [row[1] for row in rows if row[2] == DECISION and self._runs.holds(row[1])]
        if found:
            raise DuplicateRecordError(sorted(found))

    def remember_strategy(self, strategy: Strategy) -> bool:
        """Store the strategy document under its content hash, and its compiled tree under the
        tree's (what compact decisions are re-derived from), once; True if either was new."""
        from signalops.audit.trees import tree_document, tree_hash

        document = json_safe(strategy.document)
        if content_hash(document) != strategy.content_hash:
            raise ValueError(f"strategy {strategy.name}: document does not match its content hash")
        tree = tree_document(strategy)
        with self._write():
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO strategies (hash, name, file, document) VALUES (?, ?, ?, ?)",
                [strategy.content_hash, strategy.name, strategy.file, canonical_json(document)],
            )
            new = cursor.rowcount == 1
            cursor = self.conn.execute(
                "INSERT OR IGNORE INTO trees (hash, strategy_hash, document) VALUES (?, ?, ?)",
                [tree_hash(strategy), strategy.content_hash, canonical_json(tree)],
            )
            return new or cursor.rowcount == 1

    # --- reading -------------------------------------------------------------------------------

    def strategy_document(self, hash: str) -> dict[str, Any] | None:
        rows = self._all("SELECT document FROM strategies WHERE hash = ?", [hash])
        return _loads(rows[0][0]) if rows else None

    def tree_document(self, hash: str) -> dict[str, Any] | None:
        """The compiled tree stored under ``hash`` (``signalops.audit.trees``), or None."""
        if "trees" not in self._table_names():
            return None
        rows = self._all("SELECT document FROM trees WHERE hash = ?", [hash])
        if not rows:
            return None
        try:
            return _loads(rows[0][0])
        except ValueError:
            return {}  # a damaged document: it hashes to nothing, which ``verify`` reports

    def stored_trees(self) -> list[tuple[str, str, str]]:
        """``(hash, strategy hash, document text)`` of every stored tree."""
        if "trees" not in self._table_names():
            return []
        return [
            (r[0], r[1], r[2]) for r in self._all("SELECT hash, strategy_hash, document FROM trees")
        ]

    def get(self, id: str) -> dict[str, Any] | None:
        """The record with this id (for a decision: its decision id), or None."""
        found = self._rows(f"SELECT {self.layout.select} FROM records WHERE id = ?", [id])
        if found:
            return found[0]
        row = self._run_row(id=id)
        return None if row is None else self._decoded([row])[0]

    def has_decision(self, decision_id: str) -> bool:
        rows = self._all("SELECT kind FROM records WHERE id = ?", [decision_id])
        if rows:
            return bool(rows[0][0] == DECISION)
        return self._run_row(id=decision_id) is not None

    def newest_recorded(self, *kinds: str, runner: str | None = None) -> dict[str, Any] | None:
        """The follow-up of these kinds recorded last (the latest ``recorded_at``, the last
        appended of those), or None; ``runner``: as ``decisions``, none is a named runner's.

        One read of the kinds' follow-up index: ``run --replay`` asks once, before its first
        cycle. Its ``recorded_at`` column is time-ordered in either layout (seconds, or
        fixed-width text); a compact row whose stamp did not fit it has none and is not found."""
        if runner is not None:
            return None
        sql = (
            f"SELECT {self.layout.select} FROM records WHERE {kind_filter(kinds)} "
            "ORDER BY recorded_at DESC, seq DESC LIMIT 1"
        )
        found = self._rows(sql, [*kinds, 0])
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
        """Decision records, newest ``as_of`` first.

        ``strategy`` is a name or a ``sha256:...`` content hash. ``since``/``until`` are
        inclusive; a date means that whole UTC day. Each combination of filters reads one index
        range per verdict, and a content hash one per context citing it (and verdict). A log
        written before its contexts were indexed, read as it is, narrows a hash by its
        strategy's name (from the ``strategies`` table): an old version's decisions are found
        after reading past the newer versions'. ``runner``: a SQLite log has one unnamed
        writer, so no decision is any named runner's.
        """
        if runner is not None:
            return []
        if limit is not None and limit < 0:
            limit = None  # as SQLite's LIMIT -1: no limit
        arms = None if strategy is None else self._context_arms(strategy, verdict, asset)
        where: list[str] = []
        params: list[Any] = []
        if asset is not None:
            where.append("asset = ?")
            params.append(asset)
        if strategy is not None and arms is None:
            narrowed = self._strategy_filter(strategy)
            if narrowed is None:
                return []
            where += narrowed[0]
            params += narrowed[1]
        if verdict is not None and arms is None:
            where.append("verdict = ?")
            params.append(str(verdict))
        if not where and not self.layout.compact:
            where.append("kind = ?")  # the copied columns are NULL for follow-ups already
            params.append(DECISION)
        bound = self.layout.time_bound
        if since is not None:
            where.append("as_of >= ?")
            params.append(bound(moment_of(since)))
        if until is not None:
            exclusive = not isinstance(until, datetime)
            where.append("as_of < ?" if exclusive else "as_of <= ?")
            params.append(bound(moment_of(until, end=True)))
        select = self.layout.select
        if arms is not None:
            if not arms:
                return []
            sql, params = _merged_by_context(select, " AND ".join(where), params, arms)
        elif self.layout.compact and verdict is None:
            # Every compact index leads with (asset, strategy,) verdict: one range per verdict.
            sql, params = _merged_by_verdict(select, " AND ".join(where), params)
        elif (
            verdict is None
            and "asset = ?" in where
            and "strategy = ?" in where
            and (_MERGE_INDEX in self._indexes)
        ):
            sql, params = _merged_by_verdict(select, " AND ".join(where), params)
        else:
            sql = f"SELECT {select} FROM records WHERE {' AND '.join(where)} {_NEWEST_FIRST}"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        if self._runs is None:
            return self._rows(sql, params)
        kept = self._run_filter(asset, strategy, verdict, arms)
        with self._lock, self._readable(), self._runs_sound():
            rows = self._execute(sql, params).fetchall()
            if kept is not None:
                rows += self._runs.newest(
                    kept,
                    since=None if since is None else bound(moment_of(since)),
                    until=None if until is None else bound(moment_of(until, end=True)),
                    until_inclusive=isinstance(until, datetime),
                    limit=limit,
                )
        rows.sort(key=_newest_first, reverse=True)
        return self._decoded(rows[:limit] if limit is not None else rows)

    def _run_filter(
        self,
        asset: str | None,
        strategy: str | None,
        verdict: str | None,
        arms: list[tuple[int, str]] | None,
    ) -> Callable[[record_runs.Kind], bool] | None:
        """Which kinds of a run's records ``decisions``' filters take (None: none can)."""
        layout = self.layout
        assert isinstance(layout, CompactLayout)  # a log with runs is compact
        name = None
        contexts: frozenset[tuple[int, str]] | None = None
        if strategy is not None:
            if strategy.startswith("sha256:"):
                cited = arms if arms is not None else _citing_arms(layout, strategy, None)
                contexts = frozenset(cited)
            else:
                name = layout.name_id(strategy)
                if name is None:
                    return None
        wanted = None if verdict is None else str(verdict)

        def keep(kind: record_runs.Kind) -> bool:
            held_asset, held_name, context, held_verdict = kind
            return (
                (asset is None or held_asset == asset)
                and (name is None or held_name == name)
                and (wanted is None or held_verdict == wanted)
                and (contexts is None or (context, held_verdict) in contexts)
            )

        return keep

    def _context_arms(
        self, strategy: str, verdict: str | None, asset: str | None
    ) -> list[tuple[int, str]] | None:
        """``(context, verdict)`` of each index range holding a content hash's decisions (of
        ``verdict``, if given): every verdict of a plain context, an outcome context's own.
        None where the log has no index of its contexts (an older compact log read as it is,
        a legacy one) or too many ranges to merge: the name's ranges are read instead."""
        layout = self.layout
        index = _ASSET_CONTEXT_INDEX if asset is not None else _CONTEXT_INDEX
        if not strategy.startswith("sha256:") or not isinstance(layout, CompactLayout):
            return None
        if index not in self._indexes:
            return None
        arms = _citing_arms(layout, strategy, verdict)
        return arms if len(arms) <= _MOST_ARMS else None

    def _strategy_filter(self, strategy: str) -> tuple[list[str], list[Any]] | None:
        """The WHERE terms of a strategy name or ``sha256:`` content hash; None: no decision can
        match (a compact log that never saw the name)."""
        where: list[str] = []
        params: list[Any] = []
        layout = self.layout
        name: str | None = strategy
        if strategy.startswith("sha256:"):
            # By its name too, so that the name's indexes narrow it (a hash has one name).
            name = self._strategy_name(strategy)
            if isinstance(layout, CompactLayout):
                contexts = [context for context, _ in layout.contexts_citing(strategy)]
                if not contexts:
                    return None
                where.append(f"context IN ({', '.join('?' * len(contexts))})")
                params += contexts
            else:
                where.append("strategy_hash = ?")
                params.append(strategy)
        if name is not None:
            value: Any = name
            if isinstance(layout, CompactLayout):
                value = layout.name_id(name)
                if value is None:
                    return None
            where.insert(0, "strategy = ?")
            params.insert(0, value)
        return where, params

    def strategy_name_of(self, value: Any) -> str | None:
        """The strategy name an indexed ``strategy`` column value stands for."""
        if isinstance(self.layout, CompactLayout):
            return self.layout.name(value) if isinstance(value, int) else None
        return value if isinstance(value, str) else None

    def strategies_of(self, decision_ids: Iterable[str]) -> dict[str, str | None]:
        """The strategy name of each of these decisions the log holds, from its indexed
        ``strategy`` column (None: a decision without one); an id no record has is left out.

        A paper fill does not name its strategy, its decision does: the risk gate asks here for
        those of every fill it reads at once. One query per 32,766 ids (SQLite's bound on a
        statement's parameters since 3.32) seeks each in the ``id`` index; no body is decoded."""
        ids = list(dict.fromkeys(decision_ids))
        found: dict[str, str | None] = {}
        if not ids:
            return found
        with self._lock:
            most = self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        for start in range(0, len(ids), most):
            part = ids[start : start + most]
            marks = ", ".join("?" * len(part))
            rows = self._all(f"SELECT id, strategy FROM records WHERE id IN ({marks})", part)
            found.update((ident, self.strategy_name_of(value)) for ident, value in rows)
        if self._runs is not None:
            for ident in ids:
                row = None if ident in found else self._run_row(id=ident)
                if row is not None:
                    found[ident] = self.strategy_name_of(row[5])
        return found

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
        return self._rows(
            f"SELECT {self.layout.select} FROM records WHERE decision_id = ? AND kind != ? "
            "ORDER BY seq",
            [decision_id, DECISION],
        )

    def pending_approvals(self, now: datetime) -> list[PendingApproval]:
        """Decisions waiting for a human, soonest expiry first (those past it say ``expired``).

        Every decision that ever waited keeps its status (an answer is a later record), so the
        connection remembers a seq below which each of them has its answer (an answer is never
        taken back), and reads the status index from there: a runner's or a dashboard's queue
        costs what is waiting, not every approval the log ever asked for. The lock keeps the
        read out of another thread's transaction (a rolled-back answer must not move it)."""
        now = utc(now)
        select = ", ".join(f"d.{column}" for column in self.layout.select.split(", "))
        if self.layout.compact:
            # The partial index holds only decisions waiting for approval; a decision's
            # follow-ups name it by its id.
            status, params = f"d.status = '{PENDING_APPROVAL}'", []
            answer = "f.decision_id = d.id"
        else:
            status, params = "d.status = ?", [PENDING_APPROVAL]
            answer = "f.decision_id = d.decision_id"
        with self._lock:
            since = self._answered_below
            last = self._all(
                f"SELECT max(d.seq) FROM records AS d WHERE {status} AND d.seq >= ?",
                [*params, since],
            )[0][0]
            sql = (
                f"SELECT {select} FROM records AS d WHERE {status} AND d.seq >= ? AND "
                f"d.kind = ? AND NOT EXISTS (SELECT 1 FROM records AS f WHERE {answer} AND "
                "f.kind IN (?, ?) AND f.seq > d.seq) ORDER BY d.seq"
            )
            waiting = self._rows(sql, [*params, since, DECISION, APPROVAL, EXPIRY])
            # Those asked by ``last`` and not waiting have their answers (later ones: seq > last).
            if waiting:
                self._answered_below = waiting[0]["seq"]
            elif last is not None:
                self._answered_below = last + 1
        return pending_from(waiting, now)

    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Every record after ``after_seq``, in chain order (read a page at a time)."""
        return undamaged(self.stored_rows(after_seq))

    def stored_rows(self, after_seq: int = 0) -> Iterator[Stored]:
        """Every stored row after ``after_seq`` in seq order, with its record decoded (or why it
        cannot be), for ``verify``, ``records`` and the export."""
        stored = self.layout.stored
        for row in self._pages(after_seq):
            yield stored(row)

    def _pages(self, after_seq: int) -> Iterator[tuple[Any, ...]]:
        """Every stored row after ``after_seq`` in seq order, the runs' records among them."""
        if self._runs is None:
            return self._row_pages(after_seq)
        return heapq.merge(self._row_pages(after_seq), self._run_rows(after_seq), key=itemgetter(0))

    def _run_rows(self, after_seq: int) -> Iterator[tuple[Any, ...]]:
        """The rows of the records runs hold after ``after_seq``, in seq order (a run at a
        time, each read under the lock)."""
        runs = self._runs
        assert runs is not None
        with self._lock, self._readable():
            found = runs.after(after_seq)
        while True:
            with self._lock, self._readable():
                page = list(itertools.islice(found, _PAGE))
            yield from page
            if len(page) < _PAGE:
                return

    def _row_pages(self, after_seq: int) -> Iterator[tuple[Any, ...]]:
        sql = f"SELECT {self.layout.select} FROM records WHERE seq > ? ORDER BY seq LIMIT ?"
        last = after_seq
        while True:
            page = self._all(sql, [last, _PAGE])
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def stored_at(self, seq: int) -> Stored | None:
        """The stored row at ``seq`` with its record decoded (``stored_rows``'s, one row read:
        ``why`` checks the record it shows against its indexed columns)."""
        rows = self._all(f"SELECT {self.layout.select} FROM records WHERE seq = ?", [seq])
        row = rows[0] if rows else self._run_row(seq=seq, sound=False)
        return None if row is None else self.layout.stored(row)

    def raw_rows(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """The stored rows as they are (columns by name, ``body`` as stored)."""
        names = (*self.layout.columns, "body")
        for row in self._pages(after_seq):
            yield dict(zip(names, row, strict=True))

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
        """The canonical JSON of the record at ``seq`` as sealed (None: no such row; an
        unreadable row gives its stored body as it is, for checks)."""
        rows = self._all(f"SELECT {self.layout.select} FROM records WHERE seq = ?", [seq])
        row = rows[0] if rows else self._run_row(seq=seq, sound=False)
        if row is None:
            return None
        try:
            return self.layout.text(row)
        except Undecodable:
            body = row[-1]
            return body if isinstance(body, str) else ""

    def seal_at(self, seq: int) -> tuple[int, str, str] | None:
        if "seals" not in self._table_names():
            return None
        rows = self._all("SELECT seq, key_id, mac FROM seals WHERE seq = ?", [seq])
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def records_since(self, *kinds: str, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, record)`` of these kinds after ``after_seq``, in chain order (by the kind
        index; see ``kind_filter``).

        The risk gate asks at every BUY and SELL for the orders placed since it last looked;
        usually there are none. Follow-up kinds are then answered from what the last read found
        while nothing can have added one since: no other connection committed (SQLite's data
        version) and this one appended no follow-up (a rolled-back one counts too)."""
        marker = None if DECISION in kinds else self._followups_marker()
        if marker is not None:
            known = self._none_after.get(kinds)
            if known is not None and known[0] == marker and after_seq >= known[1]:
                return []
        sql = f"SELECT {self.layout.select} FROM records WHERE {kind_filter(kinds)} ORDER BY seq"
        if self._runs is not None and DECISION in kinds:
            stored = self._all(sql, [*kinds, after_seq])
            stored = list(heapq.merge(stored, self._run_rows(after_seq), key=itemgetter(0)))
            rows = self._decoded(stored)
        else:
            rows = self._rows(sql, [*kinds, after_seq])
        found = [(record["seq"], record) for record in rows]
        if marker is not None:
            self._none_after[kinds] = (marker, found[-1][0] if found else after_seq)
        return found

    def _followups_marker(self) -> tuple[int, int] | None:
        """Changes whenever a follow-up may have been appended (see ``records_since``); taken
        before the read it vouches for, so a commit landing in between is read next time."""
        with self._lock, self._readable():
            if self._closed:
                return None
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            return int(version), self._followups_appended

    def records_of_kind(self, kind: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(seq, record)`` of every record of ``kind``, in chain order (by the kind index);
        a damaged row is skipped (``verify``'s walk reports it)."""
        sql = (
            f"SELECT {self.layout.select} FROM records WHERE {kind_filter([kind])} "
            "ORDER BY seq LIMIT ?"
        )
        stored = self.layout.stored
        for row in self._kind_pages(sql, kind):
            found = stored(row)
            if found.record is not None:
                yield found.seq, found.record

    def _kind_pages(self, sql: str, kind: str) -> Iterator[tuple[Any, ...]]:
        """The rows ``records_of_kind``'s query pages through, with the runs' decisions."""
        pages = self._kind_rows(sql, kind)
        if self._runs is None or kind != DECISION:
            return pages
        return heapq.merge(pages, self._run_rows(0), key=itemgetter(0))

    def _kind_rows(self, sql: str, kind: str) -> Iterator[tuple[Any, ...]]:
        last = 0
        while True:
            page = self._all(sql, [kind, last, _PAGE])
            yield from page
            if len(page) < _PAGE:
                return
            last = page[-1][0]

    def newest_first(self, kind: str) -> list[dict[str, Any]]:
        """Records of one kind, the last appended first."""
        sql = (
            f"SELECT {self.layout.select} FROM records WHERE {kind_filter([kind])} "
            "ORDER BY seq DESC"
        )
        if self._runs is None or kind != DECISION:
            return self._rows(sql, [kind, 0])
        rows = self._all(sql, [kind, 0])
        rows += self._run_rows(0)
        rows.sort(key=itemgetter(0), reverse=True)
        return self._decoded(rows)

    def hash_at(self, seq: int) -> str | None:
        rows = self._all("SELECT hash FROM records WHERE seq = ?", [seq])
        if not rows:
            if self._runs is None:
                return None
            with self._lock, self._readable():
                digest = self._runs.hash_at(seq)
            return None if digest is None else digest.hex()
        value = rows[0][0]
        return value.hex() if isinstance(value, bytes) else value

    def paper_fill_rows(self) -> list[tuple[Any, ...]]:
        """The paper ledger's rows (``FILL_COLUMNS`` order); none when it has no ledger."""
        if "paper_fills" not in self._table_names():
            return []
        from signalops.audit.paper_ledger import FILL_COLUMNS

        return self._all(f"SELECT {FILL_COLUMNS} FROM paper_fills ORDER BY seq")

    def keep_documents(
        self, strategies: Iterable[tuple[str, str, str]], trees: Iterable[tuple[str, str, str]]
    ) -> None:
        """Store strategy documents ``(hash, name, text)`` and trees ``(hash, strategy hash,
        text)`` as another log holds them (``signalops.audit.copy``); known hashes are kept."""
        with self._write():
            self.conn.executemany(
                "INSERT OR IGNORE INTO strategies (hash, name, file, document) "
                "VALUES (?, ?, NULL, ?)",
                list(strategies),
            )
            self.conn.executemany(
                "INSERT OR IGNORE INTO trees (hash, strategy_hash, document) VALUES (?, ?, ?)",
                list(trees),
            )

    def distinct_values(self, column: str) -> list[str]:
        """The distinct values of an indexed decision column (``strategy`` or ``asset``), sorted.

        A skip scan of the column's index: each next value is one seek past the last (the
        columns are set on decisions only), so it costs a few µs per value however many
        decisions share it. A compact log keeps names by id; they are sorted by name.
        """
        if column not in ("strategy", "asset"):
            raise ValueError(column)
        rows = self._all(
            f"WITH RECURSIVE found(value) AS ("
            f" SELECT (SELECT min({column}) FROM records WHERE {column} IS NOT NULL)"
            f" UNION ALL SELECT (SELECT min({column}) FROM records WHERE {column} > value)"
            f" FROM found WHERE value IS NOT NULL)"
            f" SELECT value FROM found WHERE value IS NOT NULL"
        )
        values = [row[0] for row in rows]
        if self._runs is not None:
            with self._lock, self._readable():
                values = sorted(set(values) | self._runs.values(column))
        if column == "strategy" and self.compact:
            names = (self.strategy_name_of(value) for value in values)
            return sorted(name for name in names if name is not None)
        return values

    def runners(self) -> list[str]:
        """The named runners that appended (none: a SQLite log has one unnamed writer)."""
        return []

    def stored_strategies(self) -> list[tuple[str, str, str]]:
        """``(hash, name, document text)`` of every stored strategy document."""
        return [
            (r[0], r[1], r[2]) for r in self._all("SELECT hash, name, document FROM strategies")
        ]

    def seq_of_hash(self, hash: str) -> int | None:
        """Which record carries this hash (a scan: only ``verify`` asks, and only on a break)."""
        value = self.layout.hash_value(hash)
        if value is None:
            return None
        rows = self._all("SELECT seq FROM records WHERE hash = ? LIMIT 1", [value])
        if rows or self._runs is None or not isinstance(value, bytes):
            return rows[0][0] if rows else None
        with self._lock, self._readable():
            return self._runs.seq_of_hash(value)

    def count(self) -> int:
        counted: int = self._all("SELECT count(*) FROM records")[0][0]
        if self._runs is not None:
            with self._lock, self._readable():
                counted += self._runs.count()
        return counted

    def export_jsonl(self, target: str | Path | IO[str]) -> int:
        """Write every record, one canonical JSON object per line, in chain order.

        Each line is the record as it was sealed (a compact decision as stored, not expanded),
        so ``chain.check`` holds for each line and consecutive lines link by ``prev_hash``.
        Returns the number of lines. A row that does not give back a record (a damaged page)
        cannot be a line: it raises ``AuditIntegrityError``. A file of this log (itself, its
        WAL, shared memory or checkpoints) is never a target: ``AuditError``.
        """
        if isinstance(target, str | Path):
            from signalops.audit.files import file_of_log  # imports signing: only for a file

            if file_of_log(self.path, target) is not None:
                raise AuditError(f"{target}: is a file of the audit log being exported")
            return self._export_file(Path(target))
        written = 0
        text = self.layout.text
        with self.snapshot():
            for row in self._pages(0):
                try:
                    line = text(row)
                except Undecodable as exc:
                    raise AuditIntegrityError(
                        f"record seq {row[0]} is damaged (its body is not a JSON record);"
                        " `signalops audit verify` lists every problem"
                        if str(exc) == "the body is not a JSON record"
                        else f"record seq {row[0]} is damaged ({exc});"
                        " `signalops audit verify` lists every problem"
                    ) from None
                target.write(line + "\n")
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


def row_hash(row: Sequence[Any], compact: bool) -> str:
    """The hash (hex) an INSERT row of either layout carries."""
    value = row[-2] if compact else row[len(COLUMNS) - 1]
    return value.hex() if isinstance(value, bytes) else value


def row_prev(row: Sequence[Any], compact: bool) -> str:
    value = row[-3] if compact else row[len(COLUMNS) - 2]
    return value.hex() if isinstance(value, bytes) else value


__all__ = [
    "COLUMNS",
    "KEY_ENV",
    "PENDING_APPROVAL",
    "VERDICTS",
    "AuditLog",
    "PendingApproval",
    "index_columns",
    "kind_filter",
    "sortable_time",
]


def pending_from(records: Iterable[dict[str, Any]], now: datetime) -> list[PendingApproval]:
    """Pending decision records as approvals waiting at ``now``, soonest expiry first (every
    backend's ``pending_approvals`` ends here once its SQL found them)."""
    pending = []
    for record in records:
        execution = record.get("execution") or {}
        expires = execution.get("expires_at")
        expires_at = parse_iso(expires) if expires else None
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


def undamaged(rows: Iterable[Stored]) -> Iterator[dict[str, Any]]:
    """The records of ``rows``, refusing at the first one that cannot be decoded."""
    for stored in rows:
        if stored.record is None:
            raise AuditIntegrityError(
                f"record seq {stored.seq} is damaged ({stored.error}); `signalops audit "
                "verify` lists every problem"
            )
        yield stored.record
