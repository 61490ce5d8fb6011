"""The audit log's verification for the dashboard: in the background, from the last ok point.

No Streamlit here. Pages never wait for a check: they ask ``Verifier.poll()``, which starts a
check in a thread when the file changed and returns at once with what is known (a check
running, the last result, the last verified point). A check reads only the records after the
last ok report's head (``verify(log, since=...)``); the library falls back to the whole log when
that point no longer holds (the record there changed). A *full* check, from seq 0, re-reads
every record (minutes on a million): only a logged-in operator may start one
(``request_full``), so an anonymous click cannot keep the process busy.

A failure stays on screen until a full check passes: a check from the last ok point cannot
see an edit further back, so its "ok" must not hide what a full check found.

Either backend: "changed" is a SQLite file's (and its WAL's) modification time and size, or a
PostgreSQL log's chain head, read on a connection the verifier keeps (a query of one row).
Checks open their own read-only log (``open_log``), so a long one never holds up a page.

One ``Verifier`` per audit log in the process (``verifier_for``), shared by every session.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from signalops.audit.interface import AuditStore, open_log, redacted
from signalops.audit.verify import VerifyReport, verify

log = logging.getLogger("signalops.dashboard")

# A live run writes every cycle: start a check at most this often (each reads only new records).
CHECK_INTERVAL_SECONDS = 5.0

Clock = Callable[[], float]
WallClock = Callable[[], datetime]
Signature = tuple[object, ...]  # what the log looked like; a change starts a check


@dataclass(frozen=True)
class Integrity:
    """One finished check. ``checked``: records read by this check (the new ones, for a check
    from the last ok point); ``head_seq``: the chain head it checked against."""

    ok: bool
    full: bool
    checked: int
    head_seq: int
    head_hash: str
    problems: tuple[tuple[str, int | None, str | None, str], ...]  # kind, seq, id, message
    finished_at: datetime
    seconds: float
    signed_by: str | None = None
    macs_checked: bool = False
    error: str | None = None  # the check could not run (e.g. the file is not a log)

    @classmethod
    def of(cls, report: VerifyReport, *, full: bool, at: datetime, seconds: float) -> Integrity:
        return cls(
            ok=report.ok,
            full=full,
            checked=report.checked,
            head_seq=report.head_seq,
            head_hash=report.head_hash,
            problems=tuple((str(p.kind), p.seq, p.id, p.message) for p in report.problems),
            finished_at=at,
            seconds=seconds,
            signed_by=report.signed_by,
            macs_checked=report.macs_checked,
        )

    def by_kind(self) -> dict[str, int]:
        """How many problems of each kind, in the order ``audit verify`` lists them."""
        counts: dict[str, int] = {}
        for kind, *_ in self.problems:
            counts[kind] = counts.get(kind, 0) + 1
        return counts


@dataclass(frozen=True)
class Status:
    """What a page shows: a check running (and since when), the last result, the last ok point."""

    running: bool = False
    running_full: bool = False
    started_at: datetime | None = None
    last: Integrity | None = None  # the latest finished check
    failure: Integrity | None = None  # the latest failed one, until a full check passes
    verified_seq: int | None = None  # the last ok point: every record up to it checked out
    verified_at: datetime | None = None

    @property
    def shown(self) -> Integrity | None:
        """The result to show: a standing failure over any later ok."""
        return self.failure or self.last


class Verifier:
    """Background checks of one audit log (a file ``Path`` or a ``postgresql://`` URL); see
    the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = time.monotonic,
        wall: WallClock = lambda: datetime.now(UTC),
        interval: float = CHECK_INTERVAL_SECONDS,
    ) -> None:
        self.path = path
        self.name = str(path) if isinstance(path, Path) else redacted(path)  # for messages
        self.clock = clock
        self.wall = wall
        self.interval = interval
        self._lock = threading.Lock()  # held only to read or swap the fields below
        self._status = Status()
        self._since: tuple[int, str] | None = None  # the last ok report's head
        self._signature: Signature | None = None  # the log as the last check saw it
        self._started = float("-inf")
        self._full_wanted = False
        self._thread: threading.Thread | None = None
        self._watch: AuditStore | None = None  # a PostgreSQL log's head is read on this
        self._watch_lock = threading.Lock()

    def status(self) -> Status:
        with self._lock:
            return self._status

    def poll(self) -> Status:
        """Start a check from the last ok point if the file changed (at most every
        ``interval`` seconds); never waits for one."""
        signature = self._signature_now()
        with self._lock:
            due = self.clock() - self._started >= self.interval
            if self._thread is None and due and signature != self._signature:
                self._start(full=False, signature=signature)
            return self._status

    def request_full(self, operator: str) -> bool:
        """A check of every record, for a logged-in operator; False when one is already
        running or waiting (a second click queues nothing)."""
        with self._lock:
            if self._full_wanted or self._status.running_full:
                return False
            log.info("full audit verification of %s requested by %s", self.name, operator)
            if self._thread is None:
                self._start(full=True, signature=self._signature_now())
            else:  # after the check that is running
                self._full_wanted = True
            return True

    def wait(self, timeout: float = 60.0) -> Status:
        """Until no check is running (tests and benchmarks; pages never call this)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None or time.monotonic() >= deadline:
                return self.status()
            thread.join(max(0.0, min(0.05, deadline - time.monotonic())))

    def _start(self, *, full: bool, signature: Signature) -> None:
        """With the lock held."""
        self._started = self.clock()
        self._signature = signature
        since = None if full else self._since
        full = full or since is None  # nothing verified yet: this check reads every record
        self._status = replace(
            self._status, running=True, running_full=full, started_at=self.wall()
        )
        self._thread = threading.Thread(
            target=self._run, args=(full, since), name=f"verify {self.name}", daemon=True
        )
        self._thread.start()

    def _run(self, full: bool, since: tuple[int, str] | None) -> None:
        began = time.perf_counter()
        try:
            with open_log(self.path, create=False) as audit:
                report = verify(audit, since=since)
        except Exception as exc:
            # Not a log, gone, locked, damaged: say so; a thread that died here would leave
            # "verifying…" on every page for good.
            result = Integrity(
                ok=False, full=full, checked=0, head_seq=0, head_hash="", problems=(),
                finished_at=self.wall(), seconds=time.perf_counter() - began, error=str(exc),
            )  # fmt: skip
        else:
            result = Integrity.of(
                report, full=full, at=self.wall(), seconds=time.perf_counter() - began
            )
        with self._lock:
            self._finish(result)

    def _finish(self, result: Integrity) -> None:
        """With the lock held: record the result, then run a full check someone asked for."""
        status = self._status
        failure = status.failure
        if result.ok:
            self._since = (result.head_seq, result.head_hash)
            status = replace(status, verified_seq=result.head_seq, verified_at=result.finished_at)
            if result.full:
                failure = None
        elif result.error is None:
            failure = result
        self._status = replace(status, running=False, running_full=False, last=result,
                               failure=failure)  # fmt: skip
        self._thread = None
        if not result.ok and result.error is None:
            log.warning(
                "audit log %s FAILED verification: %d problem(s)", self.name, len(result.problems)
            )
        if self._full_wanted:
            self._full_wanted = False
            self._start(full=True, signature=self._signature_now())

    def _signature_now(self) -> Signature:
        if isinstance(self.path, Path):
            return _file_signature(self.path)
        return self._head_signature()

    def _head_signature(self) -> Signature:
        """A PostgreSQL log's chain head: it moves with every append, by any runner."""
        with self._watch_lock:
            try:
                if self._watch is None:
                    self._watch = open_log(self.path, create=False)
                return ("head", self._watch.head())
            except Exception:  # gone, unreachable, not a log: the check will say which
                if self._watch is not None:
                    with suppress(Exception):
                        self._watch.close()
                self._watch = None
                return ("unreadable",)


def _file_signature(path: Path) -> Signature:
    """Changes whenever the file (or its write-ahead log) is written."""
    out: list[object] = []
    for file in (path, path.with_name(path.name + "-wal")):
        try:
            stat = file.stat()
        except OSError:
            out += [0, 0]
        else:
            out += [stat.st_mtime_ns, stat.st_size]
    return tuple(out)


_verifiers: dict[str, Verifier] = {}
_verifiers_lock = threading.Lock()


def verifier_for(path: str | Path) -> Verifier:
    """The process's one verifier of this audit log (every session shares it)."""
    key = str(path.resolve()) if isinstance(path, Path) else path
    with _verifiers_lock:
        found = _verifiers.get(key)
        if found is None:
            found = _verifiers[key] = Verifier(Path(key) if isinstance(path, Path) else key)
        return found
