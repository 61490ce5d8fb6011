"""The run loop: cycles on a clock, a summary line each, and a clean stop on SIGINT/SIGTERM.

A stop request never interrupts a cycle: the cycle in progress finishes and its records are
committed, then the loop returns. (SIGKILL cannot be caught; the pipeline's write order makes
that safe too, see ``signalops.pipeline``.)
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from signalops.pipeline import CycleSummary, Pipeline


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
            if on_cycle is not None:
                on_cycle(summary)
    return summaries
