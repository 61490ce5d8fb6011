"""``signalops run`` notices an audit log that was removed, cut short or replaced.

Regression tests: a log removed while a run had it open took the run's next commits with it,
and the run said "audit log is complete"; the next run made a new, empty log in its place and
started, although ``<log>.verified.json`` beside it said the last run had verified it up to a
record the new log does not have (a signed log too: only a later ``audit verify`` said so).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import invoke as run
from test_run_fail_closed import PIPELINE, daily_plan, in_tmp, lines, replay

from signalops.errors import AuditIntegrityError
from signalops.pipeline import loop

__all__ = ["in_tmp"]  # the fixture, used by name


def test_a_log_removed_between_runs_refuses_the_next_run(in_tmp: Path, replay_dir: Path):
    assert replay(replay_dir, "2023-03-08", "2023-03-11").exit_code == 0
    # The second run's last check verified every record: seq 6 (five decisions and the fill
    # of 03-10).
    assert replay(replay_dir, "2023-03-12", "2023-03-12").exit_code == 0
    for name in ("a.db", "a.db-wal", "a.db-shm"):
        Path(name).unlink(missing_ok=True)

    result = replay(replay_dir, "2023-03-13", "2023-03-13")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: a.db FAILED verification, so the run did not start: the log is empty, but "
        "a.db.verified.json says the last run verified it up to seq 6: it was removed, cut "
        "short or replaced; restore the log, or remove a.db.verified.json to start a new one "
        "there\n"
    )


def test_a_log_put_back_from_an_older_copy_refuses_the_next_run(in_tmp: Path, replay_dir: Path):
    assert replay(replay_dir, "2023-03-08", "2023-03-09").exit_code == 0
    older = Path("a.db").read_bytes()
    assert replay(replay_dir, "2023-03-10", "2023-03-11").exit_code == 0
    assert replay(replay_dir, "2023-03-12", "2023-03-12").exit_code == 0  # checked up to there
    Path("a.db").write_bytes(older)

    result = replay(replay_dir, "2023-03-13", "2023-03-13")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: a.db FAILED verification, so the run did not start: the log ends at seq 2, but "
        "a.db.verified.json says the last run verified it up to seq "
    )


def test_a_log_removed_while_the_run_goes_on_stops_it_before_the_next_cycle(
    in_tmp: Path, replay_dir: Path
):
    printed: list[str] = []

    def after(summary: loop.CycleSummary) -> None:
        printed.append(lines(summary.line())[0])
        if summary.as_of.day == 9:
            os.unlink("a.db")  # the run's connection still writes to the removed file

    with pytest.raises(AuditIntegrityError) as raised:
        loop.run_plan(daily_plan(replay_dir, 11), on_cycle=after)

    assert printed == [
        "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
    ]
    assert str(raised.value) == (
        "a.db was removed or moved, so trading stopped before 2023-03-10T00:00:00Z: the "
        "records since are only in the file the run had open"
    )


def test_a_log_removed_during_the_last_cycle_is_not_called_complete(in_tmp: Path, replay_dir: Path):
    def after(summary: loop.CycleSummary) -> None:
        if summary.as_of.day == 9:
            os.unlink("a.db")

    with pytest.raises(AuditIntegrityError) as raised:
        loop.run_plan(daily_plan(replay_dir, 9), on_cycle=after)

    assert str(raised.value) == (
        "a.db was removed or moved, after the run's last cycle: the records since are only in "
        "the file the run had open"
    )


def test_runs_into_a_log_in_memory_leave_no_files_and_each_starts(in_tmp: Path, replay_dir: Path):
    """Review: a :memory: log left :memory:.verified.json (and a lock file) in the folder, and
    the next run was refused: its new, empty log did not hold the record the file named."""
    for _ in range(2):
        result = run(
            "run", PIPELINE, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
            "2023-03-11", "--audit", ":memory:",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    assert list(in_tmp.iterdir()) == []
