"""The audit store interface: what code outside the stores may ask of an audit log.

Two backends implement it, ``signalops.audit.store.AuditLog`` (one SQLite file, the embedded
default) and ``signalops.audit.postgres.PostgresAuditLog`` (one database that runners on several
machines share); ``open_log`` picks one from where the log is::

    signalops.db, ./logs/a.db          a SQLite file
    sqlite:///logs/a.db                the same, as a URL (four slashes: an absolute path)
    postgresql://user@host:5432/db     PostgreSQL (psycopg 3; ``postgres://`` too)

The same store test-suite runs against both (``tests/audit/test_postgres_store_suite.py``).
What only one backend has stays off this interface: ``log.db`` (SQLite's connection for tests
and benches), ``grant_writer`` (PostgreSQL's roles).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

from signalops.errors import InputError
from signalops.observation import utc

if TYPE_CHECKING:
    from signalops.audit.layout import Layout, Stored
    from signalops.audit.paper_ledger import PaperLedger
    from signalops.audit.record import Appendable
    from signalops.audit.signing import SigningKey
    from signalops.audit.store import PendingApproval
    from signalops.strategy.model import Strategy

_POSTGRES = ("postgresql://", "postgres://")
_SQLITE = "sqlite:///"


class AuditStore(Protocol):
    """An append-only, hash-chained audit log (see the module doc for the two backends).

    ``path`` names the log in messages: the file, or the URL without its password.
    """

    @property
    def path(self) -> Path | str: ...
    @property
    def readonly(self) -> bool: ...
    @property
    def key(self) -> SigningKey | None: ...
    @property
    def compact(self) -> bool: ...
    @property
    def layout(self) -> Layout: ...

    # lifecycle
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def transaction(self) -> AbstractContextManager[object]: ...
    def snapshot(self) -> AbstractContextManager[None]: ...
    def checkpoint(self) -> None: ...
    def relax_durability(self) -> None: ...
    def hold_runner(self, *, wait: bool) -> AbstractContextManager[None]: ...
    def local_file(self, suffix: str) -> Path: ...

    # writing
    def append(self, record: Appendable) -> dict[str, Any]: ...
    def append_many(self, records: Iterable[Appendable]) -> int: ...
    def remember_strategy(self, strategy: Strategy) -> bool: ...
    def keep_documents(
        self, strategies: Iterable[tuple[str, str, str]], trees: Iterable[tuple[str, str, str]]
    ) -> None: ...
    def paper_ledger(self) -> PaperLedger: ...

    # the chain
    def head(self) -> tuple[int, str] | None: ...
    def hash_at(self, seq: int) -> str | None: ...
    def seq_of_hash(self, hash: str) -> int | None: ...
    def body_at(self, seq: int) -> str | None: ...
    def count(self) -> int: ...

    # reading
    def get(self, id: str) -> dict[str, Any] | None: ...
    def has_decision(self, decision_id: str) -> bool: ...
    def newest_recorded(self, *kinds: str, runner: str | None = None) -> dict[str, Any] | None: ...
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
    ) -> list[dict[str, Any]]: ...
    def decision_at(
        self, asset: str, when: datetime | date, *, strategy: str | None = None
    ) -> dict[str, Any] | None: ...
    def followups(self, decision_id: str) -> list[dict[str, Any]]: ...
    def pending_approvals(self, now: datetime) -> list[PendingApproval]: ...
    def records(self, after_seq: int = 0) -> Iterator[dict[str, Any]]: ...
    def stored_rows(self, after_seq: int = 0) -> Iterator[Stored]: ...
    def stored_at(self, seq: int) -> Stored | None: ...
    def raw_rows(self, after_seq: int = 0) -> Iterator[dict[str, Any]]: ...
    def records_since(
        self, *kinds: str, after_seq: int = 0
    ) -> list[tuple[int, dict[str, Any]]]: ...
    def records_of_kind(self, kind: str) -> Iterator[tuple[int, dict[str, Any]]]: ...
    def newest_first(self, kind: str) -> list[dict[str, Any]]: ...
    def strategy_name_of(self, value: Any) -> str | None: ...
    def strategies_of(self, decision_ids: Iterable[str]) -> dict[str, str | None]: ...
    def distinct_values(self, column: str) -> list[str]: ...
    def runners(self) -> list[str]: ...

    # stored documents
    def strategy_document(self, hash: str) -> dict[str, Any] | None: ...
    def tree_document(self, hash: str) -> dict[str, Any] | None: ...
    def stored_strategies(self) -> list[tuple[str, str, str]]: ...
    def stored_trees(self) -> list[tuple[str, str, str]]: ...

    # for verify
    def signed_by(self) -> str | None: ...
    def seals(self, after_seq: int = 0) -> Iterator[tuple[int, str, str]]: ...
    def seal_at(self, seq: int) -> tuple[int, str, str] | None: ...
    def paper_fill_rows(self) -> list[tuple[Any, ...]]: ...
    def storage_problems(
        self, after_seq: int = 0
    ) -> list[tuple[str, int | None, str | None, str]]: ...

    # export
    def export_jsonl(self, target: str | Path | IO[str]) -> int: ...


def moment_of(when: datetime | date, *, end: bool = False) -> datetime:
    """A filter's bound (``since``, ``until``): a datetime as is, in UTC; a date as its UTC
    day's start, or its end (the next day's start; ``date.max``'s last microsecond, a bound <
    which leaves out a decision at that microsecond only)."""
    if isinstance(when, datetime):
        return utc(when)
    if end and when == date.max:  # no next day to end at
        return datetime.max.replace(tzinfo=UTC)
    day = datetime.combine(when, time(), UTC)
    return day + timedelta(days=1) if end else day


# The rows of ``records`` before seq 1, the chain's first: no walk reads them (it reads the seqs
# after its point, which is 0 at least), lookups and filters do. A seek of the seq key; a table
# refuses UPDATE and DELETE, not INSERT, so a row there needs no trigger dropped.
BEFORE_FIRST = "SELECT seq, id FROM records WHERE seq < 1 ORDER BY seq"


def before_first(seq: int, ident: Any) -> tuple[str, int | None, str | None, str]:
    """The problem (``storage_problems``'s) of a record stored at ``seq`` < 1."""
    name = ident if isinstance(ident, str) else None
    return ("INSERTED", seq, name, f"a record at seq {seq}, before seq 1, the chain's first")


# A password as a query parameter (``?password=``) or a keyword (``password=…``), quoted or not.
_PASSWORD_PARAM = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)")


def redacted(url: str) -> str:
    """The URL or connection string without its password (for messages and ``path``): in the
    user part, as a query parameter and as a ``password=`` keyword alike."""
    url = _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}***", url)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: show nothing of it rather than a secret
        return "postgresql://(unparsable connection string)"
    if _past_netloc(url, parts.netloc):  # a '/', '?' or '#' in the password: all of it hidden
        scheme, _, rest = url.partition("//")
        return f"{scheme}//***@{rest.rpartition('@')[2]}"
    if password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def userinfo_problem(url: str) -> str | None:
    """Why the driver would read ``url``'s user and host otherwise than we do (None: it
    would not): an ``@`` in the user or password, which libpq ends the user part at, taking
    the rest of the password for the host (and naming it in its errors)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return None  # ``redacted`` shows nothing of it; the driver says what is wrong
    if netloc.count("@") > 1:
        return "the user or password holds an '@': write it as %40 (user:p%40ss@host)"
    if _past_netloc(url, netloc):
        return (
            "the user or password holds a '/', '?' or '#': write them as %2F, %3F and %23 "
            "(user:p%2Fss@host)"
        )
    return None


def _past_netloc(url: str, netloc: str) -> bool:
    """Whether an ``@`` comes after the part a URL parser takes for the host (which a '/', '?'
    or '#' ends): a password holding one, which the parser reads as the host and the path."""
    _, slashes, rest = url.partition("//")
    return bool(slashes) and "@" in rest[len(netloc) :]


def is_postgres_url(where: object) -> bool:
    """Whether an ``--audit`` value names a PostgreSQL log rather than a SQLite file."""
    return isinstance(where, str) and where.startswith(_POSTGRES)


def sqlite_file(where: str | Path) -> Path:
    """The file a SQLite location names: a path, or a ``sqlite:///`` URL.

    Any other ``scheme://`` is an ``InputError`` (a typo must not become a file of that name).
    """
    text = str(where)
    if text.startswith(_SQLITE):
        return Path(text.removeprefix(_SQLITE))
    if "://" in text:
        scheme = text.split("://", 1)[0]
        raise InputError(
            f"audit log {scheme}://...: not a location SignalOps knows "
            "(a file path, sqlite:///PATH or postgresql://USER@HOST/DB)"
        )
    return Path(text)


def open_log(
    where: str | Path,
    *,
    create: bool,
    runner: str | None = None,
    timeout: float = 30.0,
) -> AuditStore:
    """The log at ``where`` (see the module doc): a writer that may create it, or a reader.

    ``runner`` names the process in a shared (PostgreSQL) log; a SQLite log has one writer.
    """
    if is_postgres_url(where):
        from signalops.audit.postgres import PostgresAuditLog

        url = str(where)
        if create:
            return PostgresAuditLog(url, runner=runner, timeout=timeout)
        return PostgresAuditLog.open_readonly(url, timeout=timeout)
    from signalops.audit.store import AuditLog

    return AuditLog.open(sqlite_file(where), create=create, timeout=timeout)


__all__ = [
    "BEFORE_FIRST",
    "AuditStore",
    "before_first",
    "is_postgres_url",
    "moment_of",
    "open_log",
    "redacted",
    "sqlite_file",
    "userinfo_problem",
]
