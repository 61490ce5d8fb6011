"""The run loop: cycles on a clock, a summary line each, and a clean stop on SIGINT/SIGTERM.

``run_plan(RunPlan(...))`` is what ``signalops run`` does: load the strategies, open the
workspace for writing, build the pipeline (live or replayed) and run its cycles on the wall
clock or on the replay's simulated clock. A live run with ``record`` appends everything its
sources fetch to that snapshot folder, so it can be replayed (``RunPlan(replay=...)``) later.

A cycle whose decisions had leaves a source could not answer (connection errors, NO_DATA...)
is also logged as a WARNING (``data_errors``, logger ``signalops.pipeline``): its summary line
says so too, and the run goes on; the leaves were UNKNOWN and decided fail-closed. Leaves
refused because the data a source gave was older than their max age (STALE: a stuck feed, a
recording that ended) are warned of apart (``stale_data``), with how old the newest of it is.

The run never decides on an audit log that does not verify (fail closed): a ``LogCheck``
verifies it before anything is appended (a run refused at the start appends nothing) and again
before each cycle (a failure stops the run there; the cycles before it are committed), and
once more after the last cycle. Each check reads the records appended since the last one that
passed, see ``LogCheck``.

At each cycle boundary a ``Guard`` (when the config has ``breakers:`` or ``alerts:``) reads the
circuit breakers' state (``signalops.breakers``), hands the pipeline a HALTED config while one
is tripped (the risk gate then denies every order TRADING_STATE; decisions are still evaluated
and recorded), counts the finished cycle into the breakers and posts the alerts it chose
(``signalops.alerts``). The pipeline itself is not changed: its ``config`` is swapped. A
``KillSwitch`` says in one line when the kill switch file appears or goes (the gate denies
every order while it is there).

Before each cycle a ``Reloader`` re-reads the strategy and config files whose bytes changed:
a version that validates replaces the running one (INFO ``reloaded FILE (OLD -> NEW)``, the
strategy's new content hash remembered in the audit log and cited by later decisions; the
config becomes the pipeline's and the guard's), one that does not is refused and the old
version keeps running (WARNING ``reload_failed`` with the one-line error), as is a rename of a
strategy whose book still holds something (nothing would sell it). Strategies are hashed by
content (``Strategy.content_hash``), the config by its file's bytes.

Between two cycles on the wall clock, while it waits, the loop lets the pipeline rest
(``Pipeline.rest``: the audit log's WAL is checkpointed then, not in a decision's commit).

A stop request never interrupts a cycle: the cycle in progress finishes and its records are
committed, then the loop returns. (SIGKILL cannot be caught; the pipeline's write order makes
that safe too, see ``signalops.pipeline.records``.)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, repeat
from operator import add
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from signalops import breakers, numbers, risk
from signalops.adapters import calendar
from signalops.adapters import gather as engine
from signalops.adapters.registry import Connections
from signalops.alerts import (
    Alerts,
    fill_text,
    halt_text,
    kill_switch_text,
    outage_text,
    reconcile_text,
    stale_text,
    verify_failed_text,
)
from signalops.audit.record import FILL, ORDER_SUBMITTED
from signalops.audit.signing import mac_matches
from signalops.canonical import iso, parse_iso
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.config import Config, capital_by_strategy
from signalops.errors import AuditIntegrityError, InputError, SignalOpsError, StrategyError
from signalops.logs import event
from signalops.orders import ExecutionStatus, Mode, decision_id
from signalops.pipeline import CycleSummary, Pipeline
from signalops.pipeline.cycle import reference_price

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore
    from signalops.audit.signing import SigningKey
    from signalops.audit.verify import CheckpointsRead, Problem, VerifyReport
    from signalops.audit.witnesses import Compared
    from signalops.strategy.model import Strategy
    from signalops.workspace import Workspace

log = logging.getLogger("signalops.pipeline")


def wall_clock_times(
    every: timedelta | None,
    now: Callable[[], datetime],
    stop: threading.Event,
    idle: Callable[[], None] | None = None,
    *,
    now_first: bool = True,
) -> Iterator[datetime]:
    """Cycle times on the wall clock: now, then every ``every`` (aligned to the interval).

    ``idle`` is called after each cycle, before waiting for the next one (the pipeline's
    ``rest``: housekeeping that would otherwise fall on a decision). ``now_first`` False: not
    now, the first is the next aligned time (a restart in an interval already decided)."""
    if now_first or every is None:
        yield now()
    if every is None:
        return
    step = every.total_seconds()
    ran = now_first  # idle after a cycle, not before the first
    while not stop.is_set():
        if idle is not None and ran:
            idle()
        ran = True
        current = now().timestamp()
        next_at = (current // step + 1) * step
        if stop.wait(next_at - current):
            return
        yield datetime.fromtimestamp(next_at, UTC)


def simulated_times(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    """Replay times from ``start`` to ``end`` inclusive: the simulated clock of a replay run.

    Between UTC datetimes ``start + k x every`` is exact arithmetic on whole microseconds, so
    the times are ``start`` and ``(end - start) // every`` steps after it: the same additions,
    made by ``accumulate`` (in C; a backtest asks for tens of thousands).
    """
    if start.tzinfo is UTC and end.tzinfo is UTC and every > timedelta(0):
        if end < start:
            return iter(())
        return accumulate(repeat(every, (end - start) // every), add, initial=start)
    return _stepped(start, end, every)


def _stepped(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += every


class ReplayClock:
    """The simulated clock of a replay: it reads the time of the cycle being run.

    Records written during a cycle (``recorded_at``) then carry the replayed time, not the
    wall clock's, so a replayed run is the same whenever it is run.
    """

    def __init__(self, start: datetime, end: datetime, every: timedelta) -> None:
        self.start, self.end, self.every = start, end, every
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def times(self) -> Iterator[datetime]:
        for moment in simulated_times(self.start, self.end, self.every):
            self.now = moment
            yield moment


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` instead of killing the process mid-cycle."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    previous = {}

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, request_stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(
    pipeline: Pipeline,
    times: Iterable[datetime],
    *,
    stop: threading.Event | None = None,
    on_cycle: Callable[[CycleSummary], None] | None = None,
    guard: Guard | None = None,
    reloader: Reloader | None = None,
    check: LogCheck | None = None,
    kill_switch: KillSwitch | None = None,
    decides: Callable[[datetime], bool] | None = None,
) -> list[CycleSummary]:
    """Run one cycle per time until the times run out or a stop is requested.

    ``check`` raises ``AuditIntegrityError`` before a cycle when the log no longer verifies.
    ``decides``: whether a time is decided at all (``session_times``), asked after the checks
    and reloads; one that is not is passed over, nothing recorded."""
    stop = stop or threading.Event()
    summaries = []
    with stop_on_signals(stop):
        for as_of in times:
            if stop.is_set():
                break
            if check is not None:
                check.before(as_of)
            if reloader is not None:
                reloader.check()  # before the guard: it re-applies the config it holds
            if guard is not None:
                guard.before(as_of)
            if kill_switch is not None:
                kill_switch.check(pipeline.config)
            if decides is not None and not decides(as_of):
                continue  # after the reload: whether it decides is the new strategies' call
            summary = pipeline.cycle(as_of)
            summaries.append(summary)
            _warn_of_data_errors(summary)
            _warn_of_stale_data(summary)
            if on_cycle is not None:
                on_cycle(summary)
            if guard is not None:
                guard.after(summary)
    if check is not None:
        check.finish()
    return summaries


# A denial saying the venue's holdings and the books disagree (RECONCILE_MISMATCH).
RECONCILE_CODES = frozenset(c for c in Code if c.value.startswith("RECONCILE"))


class Guard:
    """Breakers and alerts at the cycle boundaries of one run of ``pipeline``.

    ``path``: the breakers' state file (None: no breakers configured). ``notice`` is told, in
    one line, when a breaker trips, a halt is found at the start, or an operator's resume ends
    one (the CLI prints it).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        path: Path | None,
        alerts: Alerts,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.base: Config = pipeline.config
        self.path = path
        self.alerts = alerts
        self.notice = notice or (lambda _text: None)
        self.state = breakers.BreakerState() if path is None else self._read()
        self.outage = 0  # cycles in a row with sources unreachable (for the outage alert)
        self.stalled = 0  # cycles in a row with data that stopped updating (the stale alert)
        if self.state.tripped:
            self.notice(_halted_line(self.state))

    def before(self, as_of: datetime) -> None:
        """Read the breakers (an operator may have resumed) and set the gate's trading state."""
        if self.path is not None:
            self._hold(self._read())
        self.pipeline.config = breakers.halted(self.base) if self.state.tripped else self.base

    def _hold(self, state: breakers.BreakerState) -> None:
        """Take ``state`` as the breakers' now; say so when it ends a halt (a resume).

        Said where the loop first sees it, once: a resume clears the trip, and the next resume
        needs a new trip first."""
        resumed = self.state.tripped and not state.tripped
        self.state = state
        if resumed:
            self._resumed()

    def _resumed(self) -> None:
        # The log's resume record (it is written first); a file cleared by hand has none.
        last = breakers.last_event(self.pipeline.audit)
        done = last[1] if last is not None else (self.state.history or ({},))[-1]
        text = (
            f"RESUMED by {done.get('by')} at {done.get('at')}: {done.get('note')}; "
            "orders are allowed again"
        )
        event(
            log,
            logging.WARNING,
            "breaker_resume_seen",
            text,
            by=done.get("by"),
            at=done.get("at"),
            cleared=done.get("cleared"),
        )
        self.notice(text)

    def _read(self) -> breakers.BreakerState:
        assert self.path is not None
        return breakers.effective(breakers.load(self.path), self.pipeline.audit)

    def after(self, summary: CycleSummary) -> None:
        self._alert_outcomes(summary)
        self._count_breakers(summary)
        self._alert_outage(summary)

    def _count_breakers(self, summary: CycleSummary) -> None:
        if self.path is None:
            return
        limits = self.base.breakers
        equity = _equity(self.pipeline, summary.as_of) if limits.max_drawdown is not None else None
        new = breakers.observe(self.state, summary, equity, limits, self.pipeline.broker.quote)
        tripped_now = new.tripped and not self.state.tripped
        if tripped_now:
            breakers.record(self.pipeline.audit, new)  # the log first: it is the authority
        self._hold(breakers.save_unless_resumed(self.path, new, self.pipeline.audit))
        if tripped_now and self.state.tripped:
            self._tripped(new)

    def _tripped(self, state: breakers.BreakerState) -> None:
        assert state.trigger is not None and state.message is not None
        event(
            log,
            logging.WARNING,
            "breaker_tripped",
            f"trading HALTED by the {state.trigger} breaker: {state.message}",
            code=Code.TRADING_STATE,
            trigger=state.trigger,
            as_of=state.tripped_at,
        )
        self.notice(_halted_line(state))
        self.alerts.send("halt", halt_text(state.trigger, state.message), trigger=state.trigger)

    def _alert_outcomes(self, summary: CycleSummary) -> None:
        for outcome in summary.outcomes:
            if outcome.skipped:
                continue
            if outcome.status is ExecutionStatus.FILLED and self.alerts.wants("fill"):
                for record in self.pipeline.audit.followups(outcome.decision_id):
                    if record["kind"] == "fill":
                        text = fill_text(record["fill"], outcome.strategy)
                        self.alerts.send("fill", text, decision_id=outcome.decision_id)
            mismatch = [c for c in outcome.denials if c in RECONCILE_CODES]
            if mismatch:
                text = reconcile_text(outcome.strategy, outcome.asset, mismatch)
                self.alerts.send("reconcile", text, decision_id=outcome.decision_id)

    def _alert_outage(self, summary: CycleSummary) -> None:
        if not any(not o.skipped for o in summary.outcomes):
            return
        self.outage = self.outage + 1 if breakers.outage_in(summary) else 0
        # With breakers the count survives restarts (a `run --once` from cron), else this run's.
        streak = self.outage if self.path is None else self.state.outage_cycles
        if streak == self.base.alerts.outage_cycles:
            text = outage_text(streak, summary.data_errors_text())
            self.alerts.send("outage", text, as_of=iso(summary.as_of))
        # Alerted apart from an outage: the sources answer, with data that does not move (a
        # feed frozen upstream, a market that resolved), and no breaker halts for it.
        self.stalled = self.stalled + 1 if summary.stalled else 0
        if self.stalled == self.base.alerts.outage_cycles:
            text = stale_text(self.stalled, summary.stalled_text())
            self.alerts.send("stale", text, as_of=iso(summary.as_of))


def _halted_line(state: breakers.BreakerState) -> str:
    return (
        f"HALTED by the {state.trigger} breaker at {state.tripped_at}: {state.message}; "
        "orders are denied until `signalops resume`"
    )


class KillSwitch:
    """One line when the kill switch file is there as the run starts, appears or goes.

    The risk gate looks for the file itself before each cycle and denies every order while it
    is there; without this line a run only said "denied by risk". The ``kill_switch`` alert is
    posted when the file appears (``alerts``: the guard's, when the config chose alerts)."""

    def __init__(
        self, notice: Callable[[str], None] | None = None, alerts: Alerts | None = None
    ) -> None:
        self.notice = notice or (lambda _text: None)
        self.alerts = alerts
        self.on = False

    def check(self, config: Config) -> None:
        on = risk.kill_switch_active(config.limits)
        if on == self.on:
            return
        self.on = on
        file = config.kill_switch
        if on:
            text = f"KILL SWITCH ON (file {file}): orders are denied"
            event(log, logging.WARNING, "kill_switch_on", text, file=file)
            if self.alerts is not None:
                self.alerts.send("kill_switch", kill_switch_text(file))
        else:
            text = f"KILL SWITCH OFF (file {file} removed): orders are no longer denied by it"
            event(log, logging.WARNING, "kill_switch_off", text, file=file)
        self.notice(text)


# Beside the log (``AuditStore.local_file``): where the last check of a run that passed ended.
VERIFIED_SUFFIX = ".verified.json"
Point = tuple[int, str]  # (seq, hash) of a record: where a check ended
# Seconds between two checks at the least: a replay's cycles come back to back (a check takes
# about a millisecond, as long as a cycle), a live run's minutes apart.
CHECK_EVERY = 1.0


class LogCheck:
    """The audit log verified before a run appends to it, again before each cycle, and after
    its last (``finish``).

    A run never decides on a log that does not verify (fail closed): ``start`` raises
    ``AuditIntegrityError`` before anything is appended, ``before`` before a cycle (the run
    stops there; the cycles before it are committed). The error is one line: the first problem,
    how many more, and ``signalops audit verify`` for all of them. ``alert`` is told the first
    problem first (the ``verify_failed`` alert). ``before`` checks when ``CHECK_EVERY`` seconds
    have passed since the last check (every cycle of a live run; a replay's about once a
    second).

    A check reads only the records appended since the last check that passed
    (``verify(since=...)``, which checks the whole log when the record there changed): a run's
    first check continues from where the last run's last check ended, kept in
    ``<log>.verified.json`` beside the log; without that file the first check reads the whole
    log (about 20 s a million records). A file naming a record that is not there, or not with
    that hash, stops the run: the log was removed (and a new one made in its place), cut short
    or put back from an older copy. Between cycles the SQLite log's file must still be the
    one the run opened (a file removed under a run takes its commits with it). On a
    signed log the file carries a MAC under the log's key, and a point without a valid one is
    not taken (a point file anyone could write would let the check skip a forged record); an
    unsigned log's point is taken as it is, like the log itself: whoever can write the file
    beside the log can rewrite the whole unsigned chain so that it verifies.

    The paper ledger, which the broker sizes and sells with, is compared at the start with
    every fill the chain states, each fill record checked against its hash (and MAC) and the
    account's cash replayed through them (``verify``'s ``_paper_fills_up_to``; about 28 µs a
    fill on a signed log). Between cycles only the ledger rows and the records appended since
    the last check are compared (both tables are append-only), and the whole ledger again
    when another connection wrote the log since (on PostgreSQL, whose ledger cannot tell
    another runner's fill from this one's, when any fill was recorded). A signed log's
    checkpoint file is read whole at the start, and between cycles only the lines appended
    since the last check, while nothing but this process's appends changed it
    (``signing.CheckpointReading``; anything else, and it is read whole again, and the last
    checkpoint the last check read must still be in it). What a check from a point cannot see
    is an edit made after it was checked of a record at or before that point (a fill record
    aside, at the start; nor, between cycles, one that an old checkpoint names):
    ``signalops audit verify`` reads them all.
    """

    def __init__(self, audit: AuditStore, alert: Callable[[str], None] | None = None) -> None:
        self.audit = audit
        self.alert = alert or (lambda _problem: None)
        # A log in memory starts empty every run: no point of a last run to keep beside it.
        in_memory = getattr(audit, "in_memory", False)
        self.file = None if in_memory else audit.local_file(VERIFIED_SUFFIX)
        self.key = audit.key
        self.point = None if self.file is None else _read_point(self.file, self.key)
        self.writers: object = None  # the ledger's state()[0] before the last check
        self.compared: Compared | None = None  # where the last check's ledger comparison ended
        self.read: CheckpointsRead | None = None  # where its reading of the checkpoints ended
        self.checked_at = 0.0  # time.monotonic() then
        self.identity = _file_identity(audit)  # the SQLite log's file as opened (None: none)

    def start(self) -> None:
        outcome = "so the run did not start"
        self._still_verified(outcome)
        self._check(outcome, whole_ledger=True)

    def before(self, as_of: datetime) -> None:
        outcome = f"so trading stopped before {iso(as_of)}"
        self._still_there(outcome)
        if time.monotonic() - self.checked_at >= CHECK_EVERY:
            self._check(outcome, whole_ledger=False)

    def finish(self) -> None:
        """After the last cycle: the records went into the log's file, not a removed one, and
        one last check of what the run appended since its last check. Without it a run within
        ``CHECK_EVERY`` of its last check (a short replay, a single ``--once`` cycle) left
        ``<log>.verified.json`` one run behind, or unwritten after a new log's first run: the
        next run's first check then read again what this one had appended, or the whole log."""
        outcome = "after the run's last cycle"
        self._still_there(outcome)
        self._check(outcome, whole_ledger=False)

    def _still_verified(self, outcome: str) -> None:
        """The record the last run's last check ended at is still in the log, unchanged: a log
        removed (a new one is then made in its place), cut short or put back from an older
        copy would otherwise pass, its verified past forgotten."""
        point, file = self.point, self.file
        if point is None or file is None or self.audit.hash_at(point[0]) == point[1]:
            return
        head = self.audit.head()
        now = f"ends at seq {head[0]}" if head else "is empty"
        if head is not None and head[0] >= point[0]:
            now = f"holds another record at seq {point[0]}"
        problem = (
            f"the log {now}, but {file.name} says the last run verified it up to seq "
            f"{point[0]}: it was removed, cut short or replaced"
        )
        self.alert(problem)
        raise AuditIntegrityError(
            f"{self.audit.path} FAILED verification, {outcome}: {problem}; restore the log, "
            f"or remove {file.name} to start a new one there"
        )

    def _still_there(self, outcome: str) -> None:
        """The SQLite log's file is still the one the run opened: a run writing on after it was
        removed or moved would commit to a file nobody can open again."""
        if self.identity is None:
            return
        found = _file_identity(self.audit)
        if found == self.identity:
            return
        what = "was removed or moved" if found is None else "was replaced by another file"
        problem = f"the log's file {what} while the run had it open"
        self.alert(problem)
        raise AuditIntegrityError(
            f"{self.audit.path} {what}, {outcome}: the records since are only in the file "
            "the run had open"
        )

    def _check(self, outcome: str, *, whole_ledger: bool) -> None:
        from signalops.audit.verify import verify

        state = self.audit.paper_ledger().state()  # outside verify's read transaction
        writers = None if state is None else state[0]
        # Moves when another connection commits (SQLite's data version; PostgreSQL's last fill,
        # which this run's fills move too): then the whole ledger is compared again.
        alone = not whole_ledger and writers is not None and writers == self.writers
        self.writers = writers
        since = self.point
        report = verify(
            self.audit,
            since=since,
            ledger_from=self.compared if alone else None,
            checkpoints_from=None if whole_ledger else self.read,
        )
        self.checked_at = time.monotonic()
        if not report.ok:
            self._failed(report, outcome)
        self.compared = report.ledger
        self.read = report.checkpoints
        if report.head_seq and (report.head_seq, report.head_hash) != since:
            self.point = (report.head_seq, report.head_hash)
            if self.file is not None:
                _save_point(self.file, self.point, self.key)

    def _failed(self, report: VerifyReport, outcome: str) -> None:
        first = _problem_text(report.problems[0]) if report.problems else str(report)
        more = len(report.problems) - 1
        extra = f", and {numbers.counted(more, 'more problem')}" if more > 0 else ""
        self.alert(first)
        raise AuditIntegrityError(
            f"{self.audit.path} FAILED verification, {outcome}: {first}{extra}; "
            "see `signalops audit verify`"
        )


def _file_identity(audit: AuditStore) -> tuple[int, int] | None:
    """(device, inode) of a SQLite log's file; None for a server's log, or no file there."""
    from signalops.audit.store import AuditLog

    if not isinstance(audit, AuditLog):
        return None
    try:
        found = os.stat(audit.path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _problem_text(problem: Problem) -> str:
    """As ``signalops audit verify`` prints it: ``LEDGER seq 2: ledger row 1 differs: ...``."""
    where = f"seq {problem.seq}" if problem.seq is not None else "chain"
    return f"{problem.kind.value} {where}: {problem.message}"


def _point_mac(key: SigningKey, point: Point) -> str:
    """The point's MAC under the log's key (its own text: not a record's or a checkpoint's)."""
    text = f"verified:{point[0]}:{point[1]}".encode()
    return hmac.new(key.secret, text, hashlib.sha256).hexdigest()


def _read_point(file: Path, key: SigningKey | None) -> Point | None:
    """The point a file names; None (check the whole log) when it is missing or unreadable, or,
    with the key (a signed log), when its MAC is missing or does not match."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        seq, hash = data["seq"], data["hash"]
        mac = data.get("mac")
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    if type(seq) is not int or seq <= 0 or not isinstance(hash, str):
        return None
    if key is not None and not mac_matches(_point_mac(key, (seq, hash)), mac):
        return None
    return seq, hash


def _save_point(file: Path, point: Point, key: SigningKey | None) -> None:
    """Replaced whole (a reader sees the old point or the new); not synced: a point lost in a
    crash, or a file that cannot be written, only makes the next run's first check longer."""
    fields: dict[str, object] = {"seq": point[0], "hash": point[1]}
    if key is not None:
        fields["mac"] = _point_mac(key, point)
    text = json.dumps(fields) + "\n"
    try:
        file.parent.mkdir(parents=True, exist_ok=True)  # a shared log's runner: .signalops/
        fd, tmp = tempfile.mkstemp(prefix=file.name + ".", suffix=".tmp", dir=file.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, file)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.debug("%s not written: %s", file, exc)


def _alert_verify_failed(
    config: Config, transport: httpx.BaseTransport | None, audit: AuditStore, problem: str
) -> None:
    """The ``verify_failed`` alert, when chosen (posted on its own: the run stops)."""
    if "verify_failed" not in config.alerts.on or not config.notify.webhooks:
        return
    alerts = Alerts(config.alerts, config.notify.webhooks, transport=transport)
    try:
        alerts.send("verify_failed", verify_failed_text(str(audit.path), problem))
    finally:
        alerts.close()


def _equity(pipeline: Pipeline, as_of: datetime) -> Decimal | None:
    """The paper account's equity at ``as_of``, its holdings marked at their latest close.

    A holding no source prices is marked at its last fill (the ledger's own fallback); a
    ledger that cannot be read gives None (no drawdown check this cycle, a WARNING says so).
    """
    try:
        held = [a for a, p in pipeline.broker.portfolio({}, as_of).positions.items() if p.quantity]
        requests = [r for asset in held for r in pipeline.price_requests_of(asset)]
        answers = engine.gather(requests, pipeline.adapters, as_of) if requests else {}
        prices = {}
        for asset in held:
            found = reference_price(asset, answers, as_of, None, pipeline.price_requests_of(asset))
            if found is not None:
                prices[asset] = found[0]
        return pipeline.broker.portfolio(prices, as_of).equity
    except (SignalOpsError, ArithmeticError, TypeError, ValueError) as exc:
        event(
            log,
            logging.WARNING,
            "equity_unknown",
            f"drawdown not checked at {iso(as_of)}: {type(exc).__name__}: {exc}",
            as_of=iso(as_of),
        )
        return None


def _warn_of_data_errors(summary: CycleSummary) -> None:
    errors = summary.data_errors_text()
    if errors:
        event(
            log,
            logging.WARNING,
            "data_errors",
            f"cycle {iso(summary.as_of)} decided with leaves UNKNOWN for lack of data: {errors}",
            as_of=iso(summary.as_of),
            code=errors.split(" ", 1)[0],  # the most frequent
            counts=dict(sorted(summary.data_errors.items())),
        )


def _warn_of_stale_data(summary: CycleSummary) -> None:
    times = summary.stale
    if times:
        event(
            log,
            logging.WARNING,
            "stale_data",
            f"cycle {iso(summary.as_of)} decided with leaves UNKNOWN on stale data: "
            f"{summary.stale_text()}",
            as_of=iso(summary.as_of),
            code=Code.STALE,
            count=len(times),
            newest=iso(max(times)),
        )


# Config sections the running pipeline was built from (adapters, executors, the ledger, the
# log): a change to one of them takes a restart, so a reload that changes them is refused.
RESTART_SECTIONS = ("paper", "notify", "audit", "fundamental", "news", "venues")


class Reloader:
    """Hot reload: strategy and config files re-read at a cycle boundary when they changed.

    A file whose bytes changed is loaded again. A version that validates replaces the running
    one (a strategy is remembered under its new content hash, which later decisions cite; a
    config becomes the pipeline's and the guard's) and an INFO line says so; one that does not
    keeps the old version, and a WARNING gives the one-line error. Either way ``notice`` is told
    (the CLI prints it). A refused version is reported once, not at every cycle.

    A version that renames a strategy whose book holds something is refused too (renamed, the
    strategy would start from an empty book and nothing would ever sell what the old name
    holds; a restart under the new name as well): it waits, and takes over at the first cycle
    boundary where the old name holds nothing, unless the file changes again first.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        strategies: Iterable[Path],
        config: Config,
        *,
        venue: str | None = None,
        guard: Guard | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.venue = venue
        self.guard = guard
        self.notice = notice or (lambda _text: None)
        self.config_path = None if config.file is None else Path(config.file)
        watched = [*strategies, *([self.config_path] if self.config_path else [])]
        self.seen = {path: _file_hash(path) for path in watched}
        # The config file's version in force (``seen`` may hold a refused one).
        self.config_hash = self.seen.get(self.config_path) if self.config_path else None
        self.waiting: dict[Path, Strategy] = {}  # a rename refused while the old name held

    @property
    def config(self) -> Config:
        """The config in force (the guard's: the pipeline's may be its HALTED copy)."""
        return self.guard.base if self.guard is not None else self.pipeline.config

    def check(self) -> None:
        for path, before in list(self.seen.items()):
            now = _file_hash(path)
            if now == before:
                if path in self.waiting:
                    self._take_waiting(path)
                continue
            self.seen[path] = now
            self.waiting.pop(path, None)
            if path == self.config_path:
                self._reload_config(path, now)
            else:
                self._reload_strategy(path)

    def _reload_strategy(self, path: Path) -> None:
        from signalops.workspace import load_strategies

        old = self._running(path)
        try:
            (new,) = load_strategies([path])
            self._allowed(new, old)
        except SignalOpsError as exc:
            self._refused(path, exc, old.content_hash)
            return
        held = self._renamed_holding(new, old)
        if held is not None:
            self.waiting[path] = new
            self._refused(path, held, old.content_hash)
            return
        self._replace(path, old, new)

    def _take_waiting(self, path: Path) -> None:
        """The waiting rename of ``path``, once the old name holds nothing (quietly till then)."""
        old, new = self._running(path), self.waiting[path]
        try:
            self._allowed(new, old)  # again: another file may have taken the name meanwhile
        except SignalOpsError as exc:
            del self.waiting[path]
            self._refused(path, exc, old.content_hash)
            return
        if self._renamed_holding(new, old) is None:
            del self.waiting[path]
            self._replace(path, old, new)

    def _running(self, path: Path) -> Strategy:
        return next(s for s in self.pipeline.strategies if Path(s.file) == path)

    def _replace(self, path: Path, old: Strategy, new: Strategy) -> None:
        if new.content_hash == old.content_hash:
            return  # comments or formatting: the strategy itself is the same
        running = self.pipeline.strategies
        index = next(i for i, s in enumerate(running) if s is old)
        self.pipeline.audit.remember_strategy(new)
        self.pipeline.strategies = [*running[:index], new, *running[index + 1 :]]
        self._reloaded(path, old.content_hash, new.content_hash)

    def _allowed(self, new: Strategy, old: Strategy) -> None:
        """What a running pipeline cannot take from a new version (a restart can)."""
        others = {s.name for s in self.pipeline.strategies if s is not old}
        if new.name in others:
            raise InputError(f"{new.file}: another running strategy is named {new.name}")
        wants_auto = self.pipeline.mode is None and new.execution.action_mode == "auto"
        if wants_auto and self.pipeline.auto_executor is None:
            raise InputError(f"{new.file}: auto mode needs a restart with --live")

    def _renamed_holding(self, new: Strategy, old: Strategy) -> InputError | None:
        """Why ``new`` must wait: it renames ``old`` while ``old``'s book holds something (a
        book is a name's: ``PaperBroker.book``, the venue books)."""
        if new.name == old.name:
            return None
        held = _holdings(self.pipeline, old.name, old.assets)
        if not held:
            return None
        what = " and ".join(f"{numbers.quantity(q)} {asset}" for asset, q in held.items())
        return InputError(
            f"{new.file}: renaming {old.name} to {new.name} would leave the {what} {old.name} "
            f"holds unmanaged; the new version takes over once {old.name} holds nothing"
        )

    def _reload_config(self, path: Path, now: str | None) -> None:
        from signalops.config import load_config
        from signalops.workspace import with_venue

        old = self.config
        try:
            new = with_venue(load_config(path), self.venue)
            self._config_allowed(new, old)
            self._allocate(new)  # last: it is the one step that changes something
        except SignalOpsError as exc:
            self._refused(path, exc, self.config_hash)
            return
        self.pipeline.config = new
        if self.guard is not None:
            self.guard.base = new
            self.guard.alerts.config = new.alerts
        self._reloaded(path, self.config_hash, now)
        self.config_hash = now

    def _config_allowed(self, new: Config, old: Config) -> None:
        changed = [name for name in RESTART_SECTIONS if getattr(new, name) != getattr(old, name)]
        # Breakers and alerts are the guard's, made at the start only when the config asked.
        if new.alerts.on and self.guard is None:
            changed.append("alerts")
        if new.breakers.any and (self.guard is None or self.guard.path is None):
            changed.append("breakers")
        if changed:
            raise InputError(f"{new.file}: {', '.join(changed)} changed: that takes a restart")
        if new.kill_switch != old.kill_switch and risk.kill_switch_active(old.limits):
            # Pointing the config elsewhere (or nowhere) would lift a stop the trader pulled,
            # with the file still there: only removing it does.
            raise InputError(
                f"{new.file}: kill_switch changed while the kill switch is ON ({old.kill_switch} "
                "is there): remove that file to lift it, then change the config"
            )

    def _allocate(self, config: Config) -> None:
        broker = self.pipeline.broker
        broker.allocate(capital_by_strategy(config, broker.starting_cash))

    def _reloaded(self, path: Path, old: str | None, new: str | None) -> None:
        text = f"reloaded {path} ({old} -> {new})"
        event(log, logging.INFO, "reloaded", text, file=str(path), old_hash=old, new_hash=new)
        self.notice(text)

    def _refused(self, path: Path, exc: SignalOpsError, kept: str | None) -> None:
        problem = _one_line(exc)
        text = f"reload refused, keeping {kept}: {problem}"
        event(log, logging.WARNING, "reload_failed", text, file=str(path), kept_hash=kept)
        self.notice(f"WARNING {text}")
        if self.guard is not None:  # posted once config.ALERT_EVENTS lists reload_failed
            self.guard.alerts.send("reload_failed", f"SignalOps {text}", file=str(path))


def _holdings(pipeline: Pipeline, name: str, assets: Iterable[str]) -> dict[str, Decimal]:
    """What the strategy ``name`` holds now: its paper book's positions, and of ``assets`` what
    its orders at a venue left it (auto mode on a venue that reports holdings)."""
    book = pipeline.broker.book(name, {}, pipeline.clock())
    held = {asset: p.quantity for asset, p in book.positions.items() if p.quantity}
    if pipeline.auto_executor is not None:
        venue = pipeline._venue_books.update(pipeline.audit)  # this package's own
        for asset in assets:
            quantity = venue.held(asset).get(name, Decimal(0))
            if quantity:
                held[asset] = held.get(asset, Decimal(0)) + quantity
    return held


def _file_hash(path: Path) -> str | None:
    """``sha256:<hex>`` of the file's bytes; None when it cannot be read (mid-save, removed)."""
    try:
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _one_line(exc: SignalOpsError) -> str:
    """The first problem (file:line:col: message), and how many more there are."""
    if isinstance(exc, StrategyError):
        errors = exc.errors
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return StrategyError.__str__(errors[0]) + more
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class RunPlan:
    """What ``signalops run`` was asked: strategies, where to record, what data, which clock.

    With ``replay`` the cycles run from ``start`` to ``end`` (default: ``start`` alone) every
    ``every`` (default one day) on replayed data; without it, on the wall clock: once, or every
    ``every`` until stopped, appending what the live sources fetch to ``record`` when given.
    ``connections`` is the test seam of a live run (recorded answers, a fixed wall clock).
    """

    strategies: tuple[Path, ...]
    mode: Mode | None = None
    live: bool = False
    replay: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    every: timedelta | None = None
    once: bool = False
    audit: Path | str | None = None  # a SQLite file or a postgresql:// URL
    config: Path | None = None
    runner: str | None = None  # this runner's id in a shared log (None: the config's, or host)
    venue: str | None = None  # every asset (and auto mode) on this venue, else the config's
    record: Path | None = None  # snapshot folder a live run records into
    connections: Connections | None = None  # where live requests go (None: the network)
    wait: bool = False  # wait for another runner to release the log instead of refusing


@dataclass(frozen=True)
class RunResult:
    summaries: tuple[CycleSummary, ...]
    stopped: bool  # a stop was requested (SIGINT/SIGTERM) before the times ran out

    @property
    def failed_closed(self) -> bool:
        """A run of one cycle whose decisions had leaves no source could answer, or whose data
        was too old for them (STALE).

        ``signalops run --once`` exits 1 then (its decisions are recorded all the same). A run
        of several cycles (``--every``, a replay ``--from .. --to``) warns in each line instead.
        """
        if len(self.summaries) != 1 or self.stopped:
            return False
        (summary,) = self.summaries
        return bool(summary.data_errors or summary.stale)


def run_plan(
    plan: RunPlan,
    *,
    stop: threading.Event | None = None,
    on_cycle: Callable[[CycleSummary], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    alert_transport: httpx.BaseTransport | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> RunResult:
    """Load, open, build and run: every cycle recorded in the plan's audit log. ``on_warning``
    is told, before the first cycle, of what the run will do that nobody may expect
    (``UNHEARD``; a stock strategy whose leaves are UNKNOWN every Monday,
    ``signalops.sessions``). A replay that would decide before the log's newest decision or order is
    refused (``InputError``) before that, nothing written (``_behind_the_log``)."""
    # Imported here: the workspace builds pipelines, so it sits above this package.
    from signalops.setup_warnings import (
        config_warnings,
        duplicate_names,
        replay_fills,
        unset_webhooks,
    )
    from signalops.workspace import load_strategies, open_workspace, refuse_unbuildable

    stop = stop or threading.Event()
    strategies = load_strategies(plan.strategies)
    duplicate = duplicate_names(strategies)
    if duplicate is not None:
        raise InputError(duplicate)
    refuse_unbuildable(
        strategies, mode=plan.mode, live=plan.live, replay=plan.replay, record=plan.record
    )
    replay_clock = None
    if plan.replay is not None and plan.start is not None:
        replay_clock = ReplayClock(
            plan.start, plan.end or plan.start, plan.every or timedelta(days=1)
        )
    workspace = open_workspace(
        audit=plan.audit,
        config=plan.config,
        create=True,
        venue=plan.venue,
        runner=plan.runner,
        trades=[asset for strategy in strategies for asset in strategy.assets],
    )
    if replay_clock is not None:
        try:
            behind = _behind_the_log(workspace, strategies, replay_clock, plan.mode)
        except BaseException:
            workspace.close()
            raise
        if behind is not None:  # before any warning: nothing of this run goes on
            workspace.close()
            raise InputError(behind)
    if on_warning is not None and _unheard(workspace.config, strategies, plan.mode):
        on_warning(UNHEARD)
    if on_warning is not None:
        _warn_weekends(strategies, workspace.config, on_warning)
        _warn_loose_limits(strategies, workspace.config, on_warning)
        for warning in config_warnings(workspace.config, [s.name for s in strategies]):
            on_warning(warning)
        for warning in unset_webhooks(workspace.config):
            on_warning(warning)
        fills = None if plan.replay is None else replay_fills(workspace.config, strategies)
        if fills is not None:
            on_warning(fills)
        par = workspace.config.par_note(
            [a for strategy in strategies for a in strategy.assets],
            None if workspace.undecided else workspace.broker.quote,
        )
        if par is not None:  # the run goes on: said once, as it starts
            on_warning(par)
    try:
        with workspace.audit.hold_runner(wait=plan.wait):
            summaries = _run_in(
                workspace,
                plan,
                strategies,
                replay_clock,
                stop,
                on_cycle,
                _Watchers(on_notice, alert_transport),
            )
    finally:
        workspace.close()
    return RunResult(tuple(summaries), stop.is_set())


UNHEARD = "notify mode with no webhooks: approvals wait in 'signalops approvals', nobody is told"


def _unheard(config: Config, strategies: Sequence[Strategy], mode: Mode | None) -> bool:
    """Whether the run will ask for approvals that no webhook announces."""
    if config.notify.webhooks:
        return False
    if mode is not None:
        return mode is Mode.NOTIFY
    return any(s.execution.action_mode == Mode.NOTIFY.value for s in strategies)


def session_times(
    pipeline: Pipeline,
    every: timedelta | None,
    notice: Callable[[str], None] | None = None,
    *,
    first_decides: bool = False,
) -> Callable[[datetime], bool] | None:
    """Which times decide when every asset the pipeline trades (its strategies now: a reload
    may change them) trades only in US equity sessions: those with a session opening before
    the next time, as in a backtest (``backtest.clock``). A Saturday's, Sunday's and Monday's
    00:00 orders would all be filled on top of each other at Monday's opening (on paper, each
    at Friday's close); only Monday's, which knows the most, decides. Every time decides in a
    run with a 24/7 asset; None for one cycle. ``first_decides``: a live run's first cycle (at
    its start, off the grid) decides whatever the time. ``notice`` is told each time passed
    over."""
    if every is None:
        return None
    step = every.total_seconds()
    first = [first_decides]

    def decides(as_of: datetime) -> bool:
        if first[0]:
            first[0] = False
            return True
        assets = [asset for strategy in pipeline.strategies for asset in strategy.assets]
        if not pipeline.config.venues.in_sessions(assets):
            return True
        start = as_of.timestamp()
        if calendar.opens_within(start, start + step):
            return True
        if notice is not None:
            notice(f"{iso(as_of)}  passed over: no US equity session opens before the next time")
        return False

    return decides


def _behind_the_log(
    workspace: Workspace, strategies: Sequence[Strategy], clock: ReplayClock, mode: Mode | None
) -> str | None:
    """Why a replay cannot run into this log: one of its times would decide before the log's
    newest decision, or its newest order (``_newest_order``: an approval's fill can be later
    than every decision) (None when none would).

    The risk gate reads the account from the whole log, every strategy's orders, and takes an
    order dated after the time it decides at as made already (fail closed): an earlier month
    replayed into a log that holds a later one was denied COOLDOWN "0s" after a trade from the
    future, ORDER_RATE counted the later orders, and the paper cash and positions were the
    later ones. So every strategy's decisions and orders count; on a shared (PostgreSQL) log, this
    runner's only: runners share it at once, each ahead of the others in turn (one restarted
    after a crash finds the others' later cycles). A time whose decisions the log has all (a
    restart of the same range: the run skips them) or that decides nothing (no US equity
    session before the next time, as ``session_times`` passes over) decides nothing again; the
    first time that would decide is the one compared."""
    # A SQLite log has one writer and no runner names (``decisions(runner=...)`` finds none).
    runner: str | None = getattr(workspace.audit, "runner", None)
    decided = _newest_decision(workspace.audit, runner)
    order = _newest_order(workspace.audit, runner)
    newest = max((t for t in (decided, order and order[1]) if t is not None), default=None)
    if newest is None or clock.start >= newest:
        return None
    assets = [asset for strategy in strategies for asset in strategy.assets]
    sessions_only = workspace.config.venues.in_sessions(assets)
    step = clock.every.total_seconds()
    for as_of in simulated_times(clock.start, clock.end, clock.every):
        if as_of >= newest:
            return None
        start = as_of.timestamp()
        if sessions_only and not calendar.opens_within(start, start + step):
            continue
        if not _all_recorded(workspace.audit, strategies, as_of, mode):
            first = "" if as_of == clock.start else f" first at {iso(as_of)},"
            held, them = _held_later(runner, decided, order, newest)
            return (
                f"{workspace.audit.path} holds {held}, and a replay from "
                f"{iso(clock.start)} would decide{first} before {them}: the risk gate would "
                "take the later orders as made already (COOLDOWN, ORDER_RATE, the paper "
                f"account): replay into another --audit, or from {iso(newest)} on"
            )
    return None


def _held_later(
    runner: str | None,
    decided: datetime | None,
    order: tuple[tuple[str, str], datetime] | None,
    newest: datetime,
) -> tuple[str, str]:
    """What the log holds that a replay would decide before, in words (``runner``'s, on a
    shared log), and the word for it: its decisions, or its order when that is later."""
    whose = "" if runner is None else f"runner {runner}'s "
    if order is None or (decided is not None and order[1] <= decided):
        return f"{whose}decisions up to {iso(newest)}", "them"
    (article, name), _ = order
    after = "" if decided is None else f", after its newest decision ({iso(decided)})"
    return f"{whose or article + ' '}{name} at {iso(newest)}{after}", "it"


# What the gate reads as the account's orders (``OrdersSeen``), named for the refusal.
_ORDER_NAMES = {FILL: ("a", "fill"), ORDER_SUBMITTED: ("an", "order sent")}


def _newest_order(audit: AuditStore, runner: str | None) -> tuple[tuple[str, str], datetime] | None:
    """What the log's last recorded order is (``_ORDER_NAMES``) and when it was recorded
    (``runner``'s when given).

    A replay records each on its clock, so ``recorded_at`` is when it happened there: a fill
    of an approval answered ``--at`` a time after its decision is later than every decision.
    It is not before the time the gate dates the order at (its decision's, or its fill's when
    earlier), so no order taken as made already is missed. Approvals, expiries and breaker
    records are left out: they change no order the gate reads, and ``reject`` and ``resume``
    without ``--at`` record the wall clock, which would refuse every later replay."""
    found = audit.newest_recorded(FILL, ORDER_SUBMITTED, runner=runner)
    if found is None:
        return None
    return _ORDER_NAMES[found["kind"]], parse_iso(found["recorded_at"])


def _newest_decision(audit: AuditStore, runner: str | None) -> datetime | None:
    """The latest ``as_of`` of a decision in the log, any strategy's or asset's (``runner``'s
    when given)."""
    found = audit.decisions(limit=1, runner=runner)
    return parse_iso(found[0]["as_of"]) if found else None


def _all_recorded(
    audit: AuditStore, strategies: Sequence[Strategy], as_of: datetime, mode: Mode | None
) -> bool:
    """Whether the log has every decision a cycle at ``as_of`` would take (it skips them)."""
    for strategy in strategies:
        chosen = (mode or Mode(strategy.execution.action_mode)).value
        for asset in strategy.assets:
            if not audit.has_decision(decision_id(strategy.content_hash, asset, as_of, chosen)):
                return False
    return True


def _warn_weekends(
    strategies: Sequence[Strategy], config: Config, on_warning: Callable[[str], None]
) -> None:
    """The strategies whose stock leaves are UNKNOWN every Monday (``signalops.sessions``)."""
    from signalops.sessions import weekend_warning

    for strategy in strategies:
        found = weekend_warning(strategy.file, strategy, config.venues)
        if found is not None:
            on_warning(found)


def _warn_loose_limits(
    strategies: Sequence[Strategy], config: Config, on_warning: Callable[[str], None]
) -> None:
    """The strategies' ``risk:`` values the config's limits override (``loose_limits``)."""
    from signalops.loose_limits import loose_limit_warnings

    for strategy in strategies:
        for warning in loose_limit_warnings(strategy.file, strategy, config):
            on_warning(str(warning))


def _decided_this_interval(
    log: AuditStore, strategies: Sequence[Strategy], now: datetime, every: timedelta | None
) -> str | None:
    """What to say when every strategy and asset already has a decision in the ``every``
    interval ``now`` is in (a runner restarted, by hand or by a service manager after a crash):
    its first cycle then waits for the next interval, as the runner before it would have,
    instead of deciding again off the grid at each start. None when a cycle is due now."""
    if every is None or not strategies:
        return None
    step = every.total_seconds()
    start = datetime.fromtimestamp(now.timestamp() // step * step, UTC)
    latest = None
    for strategy in strategies:
        for asset in strategy.assets:
            # This version of it (an edited strategy decides at once) and a decision that read
            # something (one no source could answer is no reason to wait: the trader restarts
            # to fix that).
            found = log.decision_at(asset, now, strategy=strategy.content_hash)
            at = None if found is None else parse_iso(found["as_of"])
            if found is None or at is None or at < start or _read_nothing(found):
                return None
            latest = at if latest is None or at > latest else latest
    if latest is None:
        return None
    upcoming = datetime.fromtimestamp(start.timestamp() + step, UTC)
    return (
        f"every strategy decided at {iso(latest)}, in this {format_duration(step)} interval "
        f"already: the first cycle is the next one, at {iso(upcoming)}"
    )


def _read_nothing(record: Mapping[str, Any]) -> bool:
    """Whether every observation of a decision record is a source's error."""
    observations = record.get("observations") or []
    return bool(observations) and all(isinstance(o, Mapping) and "error" in o for o in observations)


def _run_in(
    workspace: Workspace,
    plan: RunPlan,
    strategies: list[Strategy],
    replay_clock: ReplayClock | None,
    stop: threading.Event,
    on_cycle: Callable[[CycleSummary], None] | None,
    watchers: _Watchers | None = None,
) -> list[CycleSummary]:
    from signalops.workspace import build_pipeline

    watchers = watchers or _Watchers()
    if watchers.transport is None and plan.connections is not None:
        # A test's live connections carry the webhooks' answers too.
        watchers = _Watchers(watchers.notice, plan.connections.http)
    reloader: Reloader | None = None

    def alert(problem: str) -> None:  # under the config in force (a reload may change alerts)
        config = workspace.config if reloader is None else reloader.config
        _alert_verify_failed(config, watchers.transport, workspace.audit, problem)

    check = LogCheck(workspace.audit, alert)
    check.start()  # before the pipeline stores its strategies: a refused run appends nothing
    pipeline = build_pipeline(
        workspace,
        strategies,
        mode=plan.mode,
        live=plan.live,
        replay=plan.replay,
        clock=replay_clock,
        record=plan.record,
        connections=plan.connections,
    )
    if replay_clock is not None:
        times: Iterable[datetime] = replay_clock.times()
    else:
        every = None if plan.once else plan.every
        decided = _decided_this_interval(workspace.audit, strategies, pipeline.clock(), every)
        if decided is not None:
            # What a cycle does first, not left for the next interval: an order sent before a
            # crash but not recorded, and approvals past their expiry.
            pipeline.reconcile()
            pipeline.expire_approvals(pipeline.clock())
            if watchers.notice is not None:
                watchers.notice(decided)
        times = wall_clock_times(
            every, pipeline.clock, stop, idle=pipeline.rest, now_first=decided is None
        )
    guard, alerts = _guard(workspace, pipeline, watchers)
    reloader = Reloader(
        pipeline, plan.strategies, workspace.config, venue=plan.venue, guard=guard,
        notice=watchers.notice,
    )  # fmt: skip
    kill_switch = KillSwitch(watchers.notice, alerts)
    every = replay_clock.every if replay_clock is not None else None if plan.once else plan.every
    try:
        return run(
            pipeline, times, stop=stop, on_cycle=on_cycle, guard=guard, reloader=reloader,
            check=check, kill_switch=kill_switch,
            decides=session_times(
                pipeline, every, watchers.notice, first_decides=replay_clock is None
            ),
        )  # fmt: skip
    finally:
        if alerts is not None:
            alerts.close()


@dataclass(frozen=True)
class _Watchers:
    notice: Callable[[str], None] | None = None
    transport: httpx.BaseTransport | None = None  # where alerts are posted (tests)


def _guard(
    workspace: Workspace, pipeline: Pipeline, watchers: _Watchers
) -> tuple[Guard | None, Alerts | None]:
    """A guard when the config asks for breakers or alerts (or a breaker is still tripped)."""
    config = workspace.config
    path = breakers.state_file(workspace.audit)
    # A breaker tripped under an earlier config still halts (its file deleted too): only
    # `resume` clears it.
    left = path.exists() or breakers.last_event(workspace.audit) is not None
    if not (config.breakers.any or config.alerts.on or left):
        return None, None
    alerts = Alerts(config.alerts, config.notify.webhooks, transport=watchers.transport)
    use = path if (config.breakers.any or left) else None
    return Guard(pipeline, path=use, alerts=alerts, notice=watchers.notice), alerts
