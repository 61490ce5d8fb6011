"""The audit log's verification for the dashboard: in the background, from the last checked point.

No Streamlit here. Pages never wait for a check: they ask ``Verifier.poll()``, which starts a
check in a thread when the file changed and returns at once with what is known (a check
running, the last result, the last verified point). A check reads only the records after the
head the last check read (``verify(log, since=...)``); the library falls back to the whole log
when that point no longer holds (the record there changed). A *full* check, from seq 0, re-reads
every record (minutes on a million): only a logged-in operator may start one
(``request_full``), so an anonymous click cannot keep the process busy.

A failure stays on screen until a full check passes: a check from the last ok point cannot
see an edit further back, so its "ok" must not hide what a full check found. Later checks add
what they find to it.

Checks coalesce: file changes while one runs start one check after it, and a check never
starts a full re-read of the log on its own after the first: after a failed check the next ones
continue from the head it read (the failure stays shown), and when even that point no longer
holds they wait for an operator's full check. Only when no check has read the log yet (the
first, or errors only) is an automatic check full, and then at most every twice its duration.

The ledger pass is spared when it would compare what was compared before: ``verify`` from a
point still compares every paper-ledger row with every paper fill the chain states (seconds at
100,000 fills, however few records are new); when no fill record came after the point and the
ledger's last row is the one the last check saw, with nothing after it, this check skips it
(``verify``'s ``ledger_unchanged``, answered by ``_LedgerWatch``; ``Integrity.ledger_compared``
says which).

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
from typing import TYPE_CHECKING, Any

from signalops.audit.interface import AuditStore, open_log, redacted
from signalops.audit.record import FILL
from signalops.audit.verify import VerifyReport, verify

if TYPE_CHECKING:
    from signalops.audit.paper_ledger import PaperLedger

log = logging.getLogger("signalops.dashboard")

# A live run writes every cycle: start a check at most this often (each reads only new records).
CHECK_INTERVAL_SECONDS = 5.0

Clock = Callable[[], float]
WallClock = Callable[[], datetime]
Signature = tuple[object, ...]  # what the log looked like; a change starts a check
Point = tuple[int, str]  # (seq, hash): where a check ended, the next one continues from
# The paper ledger's last row as a check saw it: (its seq, the row); (0, None) for no row.
LedgerMark = tuple[int, tuple[Any, ...] | None]


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
    # False: neither the ledger nor the fill records changed since the check this one continued
    # from, so their comparison (O(fills)) was not run again.
    ledger_compared: bool = True

    @classmethod
    def of(
        cls,
        report: VerifyReport,
        *,
        full: bool,
        at: datetime,
        seconds: float,
        ledger_compared: bool = True,
    ) -> Integrity:
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
            ledger_compared=ledger_compared,
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
    # What failed checks found (the latest's head, every problem since), until a full check passes
    failure: Integrity | None = None
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
        # Where the last check that read the log ended (ok or failed), and the ledger it saw:
        # the next check continues from there. ``_since_ok``: every record up to it checked out.
        self._since: Point | None = None
        self._since_ok = False
        self._ledger: LedgerMark | None = None
        self._paused = False  # that point no longer holds: said once
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
        """Start a check from where the last one ended if the file changed (at most every
        ``interval`` seconds; see the module doc); never waits for one."""
        signature = self._signature_now()
        with self._lock:
            due = self.clock() - self._started >= self._gap()
            if self._thread is None and due and signature != self._signature:
                self._start(full=False, signature=signature)
            return self._status

    def _gap(self) -> float:
        """With the lock held: seconds from one automatic check's start to the next. A full one
        (no check has read the log yet: errors only) waits twice the last one's duration, so
        that a large log that keeps erroring is checked at most half the time."""
        last = self._status.last
        if self._since is None and last is not None:
            return max(self.interval, 2 * last.seconds)
        return self.interval

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
        full = full or since is None  # nothing read yet: this check reads every record
        self._status = replace(
            self._status, running=True, running_full=full, started_at=self.wall()
        )
        # A point a failed check ended at is continued from only while it holds: else verify
        # would re-read the whole log, on every change, for a failure already shown.
        strict = since is not None and not self._since_ok
        ledger = None if full else self._ledger
        self._thread = threading.Thread(
            target=self._run,
            args=(full, since, strict, ledger),
            name=f"verify {self.name}",
            daemon=True,
        )
        self._thread.start()

    def _run(
        self, full: bool, since: Point | None, strict: bool, ledger: LedgerMark | None
    ) -> None:
        began = time.perf_counter()
        mark: LedgerMark | None = None
        result: Integrity | None
        try:
            with open_log(self.path, create=False) as audit:
                if strict and since is not None and not _holds(audit, since):
                    result = None  # the failure stays shown; an operator's full check re-reads
                else:
                    view = _LedgerWatch(since, ledger)
                    report = verify(audit, since=since, ledger_unchanged=view)
                    mark = view.mark
                    result = Integrity.of(
                        report,
                        full=full,
                        at=self.wall(),
                        seconds=time.perf_counter() - began,
                        ledger_compared=not view.skipped,
                    )
        except Exception as exc:
            # Not a log, gone, locked, damaged: say so; a thread that died here would leave
            # "verifying…" on every page for good.
            result = Integrity(
                ok=False, full=full, checked=0, head_seq=0, head_hash="", problems=(),
                finished_at=self.wall(), seconds=time.perf_counter() - began, error=str(exc),
            )  # fmt: skip
        with self._lock:
            self._finish(result, mark)

    def _finish(self, result: Integrity | None, mark: LedgerMark | None) -> None:
        """With the lock held: record the result (None: the check did not run, see ``_start``),
        then run a full check someone asked for."""
        status = replace(self._status, running=False, running_full=False)
        if result is not None:
            status = self._recorded(status, result, mark)
        self._status = status
        self._thread = None
        if result is not None and not result.ok and result.error is None:
            log.warning(
                "audit log %s FAILED verification: %d problem(s)", self.name, len(result.problems)
            )
        elif result is None and not self._paused:
            log.warning(
                "audit log %s: the record the failed check ended at changed; automatic checks "
                "wait for a full check",
                self.name,
            )
        self._paused = result is None
        if self._full_wanted:
            self._full_wanted = False
            self._start(full=True, signature=self._signature_now())

    def _recorded(self, status: Status, result: Integrity, mark: LedgerMark | None) -> Status:
        """With the lock held: ``status`` with ``result``; the next check's starting point."""
        if result.error is not None:  # nothing was read: the next check starts where this did
            return replace(status, last=result)
        failure = status.failure
        self._since, self._ledger = (result.head_seq, result.head_hash), mark
        if result.ok and result.full:
            self._since_ok, failure = True, None
        elif not result.ok:
            self._since_ok, failure = False, _merged(failure, result)
        if result.ok and self._since_ok:
            status = replace(status, verified_seq=result.head_seq, verified_at=result.finished_at)
        return replace(status, last=result, failure=failure)

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


def _holds(audit: AuditStore, point: Point) -> bool:
    """Whether the record at ``point`` still carries its hash (what ``verify(since=)`` needs)."""
    return point[0] != 0 and audit.hash_at(point[0]) == point[1]


def _merged(standing: Integrity | None, new: Integrity) -> Integrity:
    """A failure to show: ``new`` with the problems found before it that it did not find again
    (a check from a point reads only the records after it). A full check's is the whole story."""
    if standing is None or new.full:
        return new
    problems = standing.problems + tuple(p for p in new.problems if p not in standing.problems)
    return replace(new, full=standing.full, problems=problems)


class _LedgerWatch:
    """Whether one check may skip the paper-ledger comparison: asked by ``verify`` inside its
    snapshot (``ledger_unchanged``), on what it reads there. True when no fill record came after
    ``since``, the record at ``since`` still carries its hash (else ``verify`` walks the whole
    log, fills and all), and the ledger's last row is the one ``mark`` names, with nothing after
    it. Ledger rows are only appended (triggers refuse edits; an edit of an older row behind
    their back is, like an edit of an older record, for a full check to find).
    ``mark`` after the check: the ledger as this one saw it (None: unreadable).
    """

    def __init__(self, since: Point | None, mark: LedgerMark | None) -> None:
        self._since = since
        self.mark = mark
        self.skipped = False

    def __call__(self, audit: AuditStore) -> bool:
        before, since = self.mark, self._since
        try:
            self.mark = _ledger_mark(audit.paper_ledger(), before)
            self.skipped = (
                before is not None
                and self.mark == before
                and since is not None
                and _holds(audit, since)
                and not audit.records_since(FILL, after_seq=since[0])
            )
        except Exception:  # unreadable: verify says what it finds
            self.mark, self.skipped = None, False
        return self.skipped


def _ledger_mark(ledger: PaperLedger, before: LedgerMark | None) -> LedgerMark:
    """The ledger's last row, reading only the rows after ``before``'s while that row stands."""
    try:
        start = 0
        if before is not None and before[0] and _row(ledger.fill_at(before[0])) == before[1]:
            start = before[0]  # rows are only appended: the ones after it are the new ones
        rows = ledger.fills_after(start)
    except Exception:
        if ledger.exists():
            raise
        return (0, None)  # no ledger tables: a log no paper run wrote
    if rows:
        return (rows[-1][0], _row(rows[-1]))
    return before if start and before is not None else (0, None)


def _row(row: Any) -> tuple[Any, ...] | None:
    return None if row is None else tuple(row)


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
