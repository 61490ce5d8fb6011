"""Long-lived things shared by every session of the dashboard process: the read connection to
the audit log and its verification (``signalops.dashboard.verification``).

Why cached: the page refreshes every few seconds in every open tab; one read connection per
audit file avoids reopening it each time. The connection is read-only (``mode=ro``): looking
never writes to the log, nor makes it. Writes (answers to approvals) never use it: they open
their own workspace (``signalops.dashboard.api.answer_approval``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import streamlit as st

from signalops.dashboard.api import Settings
from signalops.dashboard.verification import Status, verifier_for
from signalops.workspace import Workspace, open_workspace


@dataclass
class Reader:
    """One workspace for reading, used by one script run at a time (SQLite connection and the
    paper ledger's cache are not meant for concurrent use)."""

    workspace: Workspace
    lock: threading.RLock = field(default_factory=threading.RLock)

    @contextmanager
    def use(self) -> Iterator[Workspace]:
        with self.lock:
            yield self.workspace


def _still_there(reader: Reader) -> bool:
    # A replaced or deleted file means a new log: reopen rather than read a stale handle.
    return reader.workspace.audit.path.exists()


@st.cache_resource(max_entries=8, show_spinner=False, validate=_still_there)
def _reader(audit: str, config: str | None) -> Reader:
    return Reader(open_workspace(audit=audit, config=config, create=False))


def reader(settings: Settings) -> Reader | None:
    """The shared reader, or None while there is no audit file (first run: nothing to read,
    and the dashboard must not create one just by looking)."""
    if not settings.audit.exists():
        return None
    return open_reader(settings)


def open_reader(settings: Settings) -> Reader:
    """The shared reader of an existing log: ``AuditNotFound`` when there is no file,
    ``AuditUnreadable`` when it is not a SignalOps audit log; nothing is ever created."""
    config = str(settings.config) if settings.config else None
    return _reader(str(settings.audit.resolve()), config)


def verification(settings: Settings) -> Status | None:
    """Where the audit file's verification stands; starts a check in the background when the
    file changed, never waits for one. None while there is no file."""
    if not settings.audit.is_file():
        return None
    return verifier_for(settings.audit).poll()


def request_full_check(settings: Settings, operator: str) -> bool:
    """A full check (every record) for a logged-in operator; see ``Verifier.request_full``."""
    return verifier_for(settings.audit).request_full(operator)
