"""Issue 11: one runner per audit log.

Two real ``signalops run`` processes on one log: the second is refused at once with the first
one's pid and host, or waits for it with ``--wait`` and then runs; the log verifies and holds
each decision once. An approval while a runner runs is not refused.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run
from run_process import RunProcess, plugin_env, run_args

from signalops.audit import runner_lock
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.errors import AuditLogHeld

START = "2023-03-01T00:00:00Z"
END = "2023-03-31T00:00:00Z"
DELAY = 0.3
PROC_LOCKS = Path("/proc/locks")


def _waiting_for_the_lock(process: subprocess.Popen[str], audit: Path, timeout: float = 60) -> None:
    """Block until ``process`` waits for the runner lock of ``audit``: Linux lists a process
    blocked in ``flock`` in /proc/locks (``N: -> FLOCK ... <pid> <dev>:<inode> ...``). Elsewhere,
    a second. Its start-up alone takes a second or more on a loaded machine, so "still running
    after a second" would not show that it got as far as the lock."""
    if not PROC_LOCKS.exists():
        time.sleep(1.0)
        return
    waiter = (str(process.pid), str(runner_lock.lock_path(audit).stat().st_ino))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} instead of waiting")
        lines = (line.split() for line in PROC_LOCKS.read_text().splitlines())
        waiting = {(f[5], f[6].rsplit(":", 1)[-1]) for f in lines if f[1:3] == ["->", "FLOCK"]}
        if waiter in waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"not waiting for the runner lock after {timeout}s")


def test_a_second_run_on_a_held_log_is_refused_naming_the_holder(replay_dir: Path, tmp_path: Path):
    audit = tmp_path / "audit.db"
    first = RunProcess(run_args(replay_dir, audit, START, END), cwd=tmp_path, delay=DELAY)
    try:
        first.wait_for_lines(1, timeout=30)
        second = subprocess.run(
            run_args(replay_dir, audit, START, START),
            cwd=tmp_path,
            env=plugin_env(0.0),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        first.send(signal.SIGTERM)
        first.finish(timeout=15)
        first.stop()

    assert second.returncode == 1
    assert second.stdout == ""
    assert second.stderr.startswith(
        f"error: {audit}: held by signalops run (pid {first.proc.pid} on {socket.gethostname()}, "
        "since "
    )
    assert second.stderr.endswith("); wait for it to stop, or pass --wait\n")


def test_a_second_run_with_wait_runs_once_the_first_stops(replay_dir: Path, tmp_path: Path):
    audit = tmp_path / "audit.db"
    first = RunProcess(run_args(replay_dir, audit, START, END), cwd=tmp_path, delay=DELAY)
    try:
        first.wait_for_lines(1, timeout=30)
        args = [*run_args(replay_dir, audit, "2023-04-01", "2023-04-01T02:00:00Z"), "--wait"]
        second = subprocess.Popen(
            args,
            cwd=tmp_path,
            env=plugin_env(0.0),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _waiting_for_the_lock(second, audit)
        assert second.poll() is None  # waiting, not refused
        first.send(signal.SIGTERM)
        assert first.finish(timeout=15) == 0
        out, err = second.communicate(timeout=60)
    finally:
        first.stop()

    assert second.returncode == 0, err
    assert out.splitlines()[0].startswith("2023-04-01T00:00:00Z")
    with AuditLog(audit) as log:
        assert verify(log).ok
        decisions = log.decisions(limit=None)
    keys = Counter((d["asset"], d["as_of"]) for d in decisions)
    assert max(keys.values()) == 1  # nothing decided twice


def test_the_lock_is_released_when_the_holder_is_killed(replay_dir: Path, tmp_path: Path):
    audit = tmp_path / "audit.db"
    first = RunProcess(run_args(replay_dir, audit, START, END), cwd=tmp_path, delay=DELAY)
    try:
        first.wait_for_lines(1, timeout=30)
        first.send(signal.SIGKILL)
        first.proc.wait(timeout=10)
    finally:
        first.stop()

    with runner_lock.hold(audit):  # taken at once: the kernel dropped the dead holder's lock
        assert runner_lock.lock_path(audit).exists()


def test_an_approval_is_not_refused_while_a_runner_holds_the_log(tmp_path: Path):
    audit = tmp_path / "audit.db"
    AuditLog(audit).close()

    with runner_lock.hold(audit):
        result = run(
            "reject", "apv-000000000000000000000000", "--note", "no", "--audit", str(audit)
        )

    assert result.stderr == (
        "error: no pending approval 'apv-000000000000000000000000' (see 'signalops approvals')\n"
    )


def test_a_log_reached_through_a_symlink_has_the_same_lock(tmp_path: Path):
    audit = tmp_path / "audit.db"
    AuditLog(audit).close()
    link = tmp_path / "other-name.db"
    link.symlink_to(audit)

    assert runner_lock.lock_path(link) == runner_lock.lock_path(audit)
    with (
        runner_lock.hold(audit),
        pytest.raises(AuditLogHeld, match="held by signalops run"),
        runner_lock.hold(link),
    ):
        pass


def test_a_second_run_through_a_symlinked_audit_path_is_refused(replay_dir: Path, tmp_path: Path):
    audit = tmp_path / "audit.db"
    AuditLog(audit).close()
    link = tmp_path / "link" / "audit.db"
    link.parent.mkdir()
    link.symlink_to(audit)

    with runner_lock.hold(audit):  # the first runner, holding the log by its real name
        second = run(
            "run", str(STRATEGIES / "banking_crisis_dip.yaml"), "--replay", str(replay_dir),
            "--from", "2023-03-08", "--once", "--audit", str(link),
        )  # fmt: skip

    assert second.exit_code == 1
    assert second.stdout == ""
    assert second.stderr.startswith(
        f"error: {link}: held by signalops run (pid {os.getpid()} on {socket.gethostname()}, since "
    )
    assert second.stderr.endswith("); wait for it to stop, or pass --wait\n")
    assert not (link.parent / "audit.db.lock").exists()  # one lock, beside the real file
