"""Graceful shutdown: SIGTERM or SIGINT (Ctrl-C) finish the cycle in progress, then exit 0.

``signalops run`` replays a whole month hourly (721 cycles, each waiting on the slow test plugin
in ``tests/fixtures/slow_feed_plugin``: about five minutes if it never stopped). The signal is
sent while the second cycle is waiting on that slow source. The run must finish that cycle,
record it, say how many cycles it ran, and exit 0 right away; the audit log then holds exactly
those cycles' decisions (both assets of each, none of the next) and its chain verifies.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from run_process import ASSETS, STRATEGY_NAME, RunProcess, run_args

from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.canonical import iso

START = "2023-03-01T00:00:00Z"
END = "2023-03-31T00:00:00Z"
FIRST = datetime(2023, 3, 1, tzinfo=UTC)
DELAY = 0.4  # seconds per cycle spent waiting on the slow source


def _decisions(path: Path) -> int:
    with AuditLog(path) as log:
        return len(log.decisions(limit=None))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_mid_cycle_finishes_that_cycle_and_exits_zero_with_a_complete_log(
    signum: int, replay_dir: Path, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.db"
    began = time.monotonic()
    run = RunProcess(run_args(replay_dir, audit, START, END), cwd=tmp_path, delay=DELAY)
    try:
        run.wait_for_lines(1, timeout=60)  # the first cycle is recorded: handlers are in place
        started = time.monotonic() - began
        time.sleep(DELAY / 2)  # the second cycle is now waiting on the slow source
        recorded_at_signal = _decisions(audit)
        sent = time.monotonic()
        run.send(signum)
        code = run.finish(timeout=60)
        took = time.monotonic() - sent
    finally:
        run.stop()

    assert code == 0, run.stderr()
    assert run.stderr() == ""
    cycles = run.cycle_lines()
    n = len(cycles)
    assert run.lines == [*cycles, f"stopped after {n} cycles; audit log is complete"]
    # Right away: the rest of one cycle and the exit, not more cycles (a whole month would take
    # minutes). Both are mostly CPU, as the start-up is: on a loaded machine (CI's shared cores)
    # the exit alone took 5 s where the start-up took 20, so the bound is 5 s or the start-up.
    assert took < max(5.0, started), f"took {took:.1f}s to stop, {started:.1f}s to start"
    # The cycle running when the signal came (the second, or a later one on a slow machine) was
    # finished and recorded, not dropped, and no other was begun after it (the "+ 2" allows for
    # a cycle that ended between our look at the log and the signal).
    finished_at_signal = recorded_at_signal // 2
    assert n >= 2
    assert finished_at_signal < n <= finished_at_signal + 2
    hours = [FIRST + timedelta(hours=i) for i in range(n)]
    assert [line.split()[0] for line in cycles] == [iso(t) for t in hours]
    assert all(line.split()[1:3] == ["2", "decisions:"] for line in cycles)

    with AuditLog(audit) as log:
        report = verify(log)
        assert report.ok, str(report)
        decisions = log.decisions(limit=None)
        keys = Counter((d["strategy"]["name"], d["asset"], d["as_of"]) for d in decisions)
        assert keys == Counter((STRATEGY_NAME, a, iso(t)) for t in hours for a in ASSETS)
        # Nothing half-done either: every fill belongs to a recorded, filled decision and
        # every filled decision has its fill.
        filled = {d["decision_id"] for d in decisions if d["execution"]["status"] == "FILLED"}
        fills = [r for r in log.records() if r["kind"] == "fill"]
        assert {r["decision_id"] for r in fills} == filled
        assert log.count() == len(decisions) + len(fills)
