"""The run loop: cycles on a clock, a summary line each, and a clean stop on SIGINT/SIGTERM.

``run_plan(RunPlan(...))`` is what ``signalops run`` does: load the strategies, open the
workspace for writing, build the pipeline (live or replayed) and run its cycles on the wall
clock or on the replay's simulated clock. A live run with ``record`` appends everything its
sources fetch to that snapshot folder, so it can be replayed (``RunPlan(replay=...)``) later.

A cycle whose decisions had leaves a source could not answer (connection errors, NO_DATA...)
is also logged as a WARNING (``data_errors``, logger ``signalops.pipeline``): its summary line
says so too, and the run goes on; the leaves were UNKNOWN and decided fail-closed.

A stop request never interrupts a cycle: the cycle in progress finishes and its records are
committed, then the loop returns. (SIGKILL cannot be caught; the pipeline's write order makes
that safe too, see ``signalops.pipeline.records``.)
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from signalops.adapters.registry import Connections
from signalops.audit import runner_lock
from signalops.canonical import iso
from signalops.logs import event
from signalops.orders import Mode
from signalops.pipeline import CycleSummary, Pipeline

if TYPE_CHECKING:
    from signalops.strategy.model import Strategy
    from signalops.workspace import Workspace

log = logging.getLogger("signalops.pipeline")


def wall_clock_times(
    every: timedelta | None, now: Callable[[], datetime], stop: threading.Event
) -> Iterator[datetime]:
    """Cycle times on the wall clock: now, then every ``every`` (aligned to the interval)."""
    yield now()
    if every is None:
        return
    step = every.total_seconds()
    while not stop.is_set():
        current = now().timestamp()
        next_at = (current // step + 1) * step
        if stop.wait(next_at - current):
            return
        yield datetime.fromtimestamp(next_at, UTC)


def simulated_times(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    """Replay times from ``start`` to ``end`` inclusive: the simulated clock of a replay run."""
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
) -> list[CycleSummary]:
    """Run one cycle per time until the times run out or a stop is requested."""
    stop = stop or threading.Event()
    summaries = []
    with stop_on_signals(stop):
        for as_of in times:
            if stop.is_set():
                break
            summary = pipeline.cycle(as_of)
            summaries.append(summary)
            _warn_of_data_errors(summary)
            if on_cycle is not None:
                on_cycle(summary)
    return summaries


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
    audit: Path | None = None
    config: Path | None = None
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
        """A run of one cycle whose decisions had leaves no source could answer.

        ``signalops run --once`` exits 1 then (its decisions are recorded all the same). A run
        of several cycles (``--every``, a replay ``--from .. --to``) warns in each line instead.
        """
        return len(self.summaries) == 1 and not self.stopped and bool(self.summaries[0].data_errors)


def run_plan(
    plan: RunPlan,
    *,
    stop: threading.Event | None = None,
    on_cycle: Callable[[CycleSummary], None] | None = None,
) -> RunResult:
    """Load, open, build and run: every cycle recorded in the plan's audit log."""
    # Imported here: the workspace builds pipelines, so it sits above this package.
    from signalops.workspace import load_strategies, open_workspace

    stop = stop or threading.Event()
    strategies = load_strategies(plan.strategies)
    replay_clock = None
    if plan.replay is not None and plan.start is not None:
        replay_clock = ReplayClock(
            plan.start, plan.end or plan.start, plan.every or timedelta(days=1)
        )
    workspace = open_workspace(audit=plan.audit, config=plan.config, create=True, venue=plan.venue)
    try:
        with runner_lock.hold(workspace.audit.path, wait=plan.wait):
            summaries = _run_in(workspace, plan, strategies, replay_clock, stop, on_cycle)
    finally:
        workspace.close()
    return RunResult(tuple(summaries), stop.is_set())


def _run_in(
    workspace: Workspace,
    plan: RunPlan,
    strategies: list[Strategy],
    replay_clock: ReplayClock | None,
    stop: threading.Event,
    on_cycle: Callable[[CycleSummary], None] | None,
) -> list[CycleSummary]:
    from signalops.workspace import build_pipeline

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
        times = wall_clock_times(None if plan.once else plan.every, pipeline.clock, stop)
    return list(run(pipeline, times, stop=stop, on_cycle=on_cycle))
