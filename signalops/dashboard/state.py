"""Long-lived things shared by every session of the dashboard process: the read connection to
the audit log and the last hash-chain verification.

Why cached: the page refreshes every few seconds in every open tab; one read connection per
audit file avoids reopening it each time. The connection is read-only (``mode=ro``): looking
never writes to the log, nor makes it. Writes (answers to approvals) never use it: they open
their own workspace (``signalops.dashboard.api.answer_approval``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.dashboard.api import Settings
from signalops.workspace import Workspace, open_workspace

# Verifying re-reads every record; a live run changes the file every cycle, so re-verify at
# most this often unless someone asks (the Integrity page's button).
VERIFY_INTERVAL_SECONDS = 30.0


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


@dataclass(frozen=True)
class Integrity:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: tuple[tuple[str, int | None, str | None, str], ...]  # kind, seq, id, message
    checked_at: float


@dataclass
class _Verifications:
    lock: threading.Lock = field(default_factory=threading.Lock)
    results: dict[str, tuple[tuple[int, ...], Integrity]] = field(default_factory=dict)


@st.cache_resource(show_spinner=False)
def _verifications() -> _Verifications:
    return _Verifications()


def _signature(path: Path) -> tuple[int, ...]:
    """Changes whenever the file (or its write-ahead log) is written."""
    out: list[int] = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            stat = file.stat()
        except FileNotFoundError:
            out += [0, 0]
        else:
            out += [stat.st_mtime_ns, stat.st_size]
    return tuple(out)


def integrity(settings: Settings, *, force: bool = False) -> Integrity | None:
    """The chain verification of the audit file, recomputed when the file changed (at most
    every ``VERIFY_INTERVAL_SECONDS``) or when forced; None while there is no file."""
    path = settings.audit
    if not path.is_file():
        return None
    key = str(path.resolve())
    store = _verifications()
    with store.lock:
        signature = _signature(path)
        known = store.results.get(key)
        if known is not None and not force:
            seen, result = known
            fresh = time.monotonic() - result.checked_at < VERIFY_INTERVAL_SECONDS
            if seen == signature or fresh:
                return result
        with AuditLog.open_readonly(path) as log:
            report = verify(log)
        result = Integrity(
            ok=report.ok,
            checked=report.checked,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
            problems=tuple((str(p.kind), p.seq, p.id, p.message) for p in report.problems),
            checked_at=time.monotonic(),
        )
        store.results[key] = (signature, result)
        return result
