"""Long-lived things shared by every session of the dashboard process: the read connection to
the audit log and its verification (``signalops.dashboard.verification``).

Why cached: the page refreshes every few seconds in every open tab; one read connection per
audit log avoids reopening it each time. The connection is read-only (SQLite's ``mode=ro``,
PostgreSQL's read-only transactions): looking never writes to the log, nor makes it. Writes
(answers to approvals) never use it: they open their own workspace
(``signalops.dashboard.api.answer_approval``).

Either backend: a SQLite file is absent until its first run writes it; a PostgreSQL log
(``postgresql://``) is absent while its database, or the log's tables in it, do not exist
(``AuditNotFound`` from the store). Both read as "nothing recorded yet".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from signalops.dashboard.api import Settings
from signalops.dashboard.verification import Status, verifier_for
from signalops.errors import AuditNotFound, SignalOpsError
from signalops.workspace import Workspace, open_workspace


@dataclass
class Reader:
    """One workspace for reading, used by one script run at a time (a connection and the
    paper ledger's cache are not meant for concurrent use)."""

    workspace: Workspace
    lock: threading.RLock = field(default_factory=threading.RLock)

    @contextmanager
    def use(self) -> Iterator[Workspace]:
        with self.lock:
            yield self.workspace


def _still_there(reader: Reader) -> bool:
    audit = reader.workspace.audit
    if isinstance(audit.path, Path):
        # A replaced or deleted file means a new log: reopen rather than read a stale handle.
        return audit.path.exists()
    # A database server that restarted (or dropped the connection) leaves it broken for good:
    # one cheap read says so, and the next page run connects again.
    with reader.lock:
        try:
            audit.head()
        except Exception:  # any failure of the old connection: a new one says what is wrong
            with suppress(Exception):
                reader.workspace.close()
            return False
    return True


@st.cache_resource(max_entries=8, show_spinner=False, validate=_still_there)
def _reader(audit: str, config: str | None) -> Reader:
    return Reader(open_workspace(audit=audit, config=config, create=False))


def reader(settings: Settings) -> Reader | None:
    """The shared reader, or None while there is no audit log (first run: nothing to read,
    and the dashboard must not create one just by looking)."""
    if isinstance(settings.audit, Path):
        if not settings.audit.exists():
            return None
        return open_reader(settings)
    try:  # a URL: only the server knows whether the log is there
        return open_reader(settings)
    except AuditNotFound:
        return None


def open_reader(settings: Settings) -> Reader:
    """The shared reader of an existing log: ``AuditNotFound`` when there is no such file or
    database, ``AuditUnreadable`` when it is not a SignalOps audit log; nothing is created."""
    config = str(settings.config) if settings.config else None
    audit = settings.audit
    return _reader(str(audit.resolve()) if isinstance(audit, Path) else audit, config)


def _log_exists(settings: Settings) -> bool:
    if isinstance(settings.audit, Path):
        return settings.audit.is_file()
    try:
        return reader(settings) is not None
    except SignalOpsError:  # unreachable or not a log: the page says so, not the banner
        return False


def verification(settings: Settings) -> Status | None:
    """Where the audit log's verification stands; starts a check in the background when the
    log changed, never waits for one. None while there is no log."""
    if not _log_exists(settings):
        return None
    return verifier_for(settings.audit).poll()


def request_full_check(settings: Settings, operator: str) -> bool:
    """A full check (every record) for a logged-in operator; see ``Verifier.request_full``."""
    return verifier_for(settings.audit).request_full(operator)
