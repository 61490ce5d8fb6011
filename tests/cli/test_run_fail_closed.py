"""``signalops run`` refuses an audit log that does not verify, and stops when one stops verifying.

Regression tests: a run on a log ``audit verify`` failed (a paper-ledger row edited behind the
triggers, a record's indexed column edited, a signed log cut at the end) exited 0 and said
nothing: it sized and gated on the forged ledger, and appended over the cut (TRUNCATED became
REWRITTEN). The chain was checked only when an alert for it went to a webhook, and then trading
went on. Now the run checks the log before it appends anything (one ``error:`` line, exit 1,
the log left as it was) and again between cycles (the run stops before the next cycle).
"""

from __future__ import annotations

import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

from signalops.audit.signing import KEY_ENV
from signalops.errors import AuditIntegrityError
from signalops.pipeline import loop

PIPELINE = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")  # fills 03-10
KEY = "k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
SEE = "; see `signalops audit verify`\n"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", KEY_ENV, "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def replay(replay_dir: Path, first: str, last: str):
    return run(
        "run", PIPELINE, "--replay", str(replay_dir), "--from", first, "--to", last,
        "--audit", "a.db",
    )  # fmt: skip


def daily_plan(replay_dir: Path, last_day: int) -> loop.RunPlan:
    """The fixture's replay run from 2023-03-08 to March ``last_day``, daily, into a.db: what
    ``replay`` runs, for a test that looks between its cycles (``loop.run_plan``)."""
    return loop.RunPlan(
        strategies=(Path(PIPELINE),),
        replay=replay_dir,
        start=datetime(2023, 3, 8, tzinfo=UTC),
        end=datetime(2023, 3, last_day, tzinfo=UTC),
        every=timedelta(days=1),
        audit="a.db",
    )


class Killed(BaseException):
    """A run's death after its last cycle committed, before its last check (a SIGKILL there)."""


def killed_before_its_last_check(replay_dir: Path, last_day: int) -> None:
    """``daily_plan``'s run, killed once its last cycle is committed: the records of the
    cycles since its last check (the start's) are in the log, unread by any check."""

    def die(summary: loop.CycleSummary) -> None:
        if summary.as_of.day == last_day:
            raise Killed

    with pytest.raises(Killed):
        loop.run_plan(daily_plan(replay_dir, last_day), on_cycle=die)


def lines(stdout: str) -> list[str]:
    return [re.sub(r"  \[\d+\.\d+s\]$", "", line) for line in stdout.splitlines()]


def tamper(sql: str) -> None:
    db = sqlite3.connect("a.db")
    db.executescript(sql)
    db.close()


def contents() -> tuple[int, int, bytes]:
    """The records, the ledger rows and the checkpoints: what a refused run must leave alone."""
    db = sqlite3.connect("a.db")
    (records,) = db.execute("SELECT count(*) FROM records").fetchone()
    (fills,) = db.execute("SELECT count(*) FROM paper_fills").fetchone()
    db.close()
    checkpoints = Path("a.db.checkpoints")
    return records, fills, checkpoints.read_bytes() if checkpoints.exists() else b""


def hash_at(seq: int) -> str:
    db = sqlite3.connect("a.db")
    (digest,) = db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
    db.close()
    return digest.hex() if isinstance(digest, bytes) else digest


def first_problem() -> str:
    """The first problem ``signalops audit verify`` prints, as it prints it."""
    verified = run("audit", "verify", "--audit", "a.db")
    assert verified.exit_code == 1
    return next(line for line in verified.stderr.splitlines() if not line.startswith("note:"))


def test_a_paper_ledger_row_edited_behind_the_triggers_refuses_the_run(
    in_tmp: Path, replay_dir: Path
):
    assert replay(replay_dir, "2023-03-08", "2023-03-10").exit_code == 0  # a BUY fills 03-10
    tamper(
        "DROP TRIGGER paper_fills_append_only_update;"
        "UPDATE paper_fills SET quantity = '1.02455527' WHERE seq = 1;"
    )
    before = contents()

    result = replay(replay_dir, "2023-03-11", "2023-03-12")

    assert result.exit_code == 1
    assert result.stdout == ""
    problem = (
        "LEDGER seq 4: ledger row 1 differs: quantity 1.02455527 in the ledger, 0.02455527 in the "
        "record"
    )
    assert result.stderr == (
        f"error: a.db FAILED verification, so the run did not start: {problem}{SEE}"
    )
    assert contents() == before
    assert first_problem() == problem


def test_an_indexed_column_edited_since_the_last_check_refuses_the_run(
    in_tmp: Path, replay_dir: Path
):
    killed_before_its_last_check(replay_dir, 10)  # HOLD, HOLD, BUY and its fill: no check read
    tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'SELL' WHERE seq = 3;")
    before = contents()

    result = replay(replay_dir, "2023-03-11", "2023-03-12")

    assert result.exit_code == 1
    assert result.stdout == ""
    problem = "EDITED seq 3: indexed column verdict says 'SELL', the record says 'BUY'"
    assert result.stderr == (
        f"error: a.db FAILED verification, so the run did not start: {problem}{SEE}"
    )
    assert contents() == before


def test_without_the_last_checked_point_the_whole_log_is_checked(in_tmp: Path, replay_dir: Path):
    assert replay(replay_dir, "2023-03-08", "2023-03-10").exit_code == 0
    assert replay(replay_dir, "2023-03-11", "2023-03-12").exit_code == 0
    assert Path("a.db.verified.json").exists()  # where the second run's check ended
    Path("a.db.verified.json").unlink()
    tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'BUY' WHERE seq = 1;")

    result = replay(replay_dir, "2023-03-13", "2023-03-13")

    assert result.exit_code == 1
    problem = "EDITED seq 1: indexed column verdict says 'BUY', the record says 'HOLD'"
    assert result.stderr == (
        f"error: a.db FAILED verification, so the run did not start: {problem}{SEE}"
    )


def test_a_signed_log_cut_at_the_end_refuses_the_run_and_stays_truncated(
    in_tmp: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    assert replay(replay_dir, "2023-03-01", "2023-03-09").exit_code == 0  # HOLDs, no fill
    db = sqlite3.connect("a.db")
    (end,) = db.execute("SELECT seq - 2 FROM chain_head").fetchone()
    db.close()
    tamper(
        "DROP TRIGGER records_no_delete; DROP TRIGGER seals_no_delete;"
        f"DELETE FROM records WHERE seq > {end}; DELETE FROM seals WHERE seq > {end};"
        f"UPDATE chain_head SET seq = {end}, hash = '{hash_at(end)}';"
    )
    # The point of the run's last check would name the cut records (test_run_log_removed):
    # whoever cuts the log removes it too, and the signed checkpoints still tell.
    Path("a.db.verified.json").unlink()
    before = contents()
    problem = first_problem()
    assert problem.startswith(f"TRUNCATED seq {end + 1}: the log ends at seq {end}, ")

    result = replay(replay_dir, "2023-03-10", "2023-03-11")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: a.db FAILED verification, so the run did not start: {problem}{SEE}"
    )
    assert contents() == before  # nothing appended over the cut
    assert first_problem() == problem  # still TRUNCATED, not REWRITTEN


def test_an_edit_while_the_run_goes_on_stops_it_before_the_next_cycle(
    in_tmp: Path, replay_dir: Path
):
    """Through the library's run loop, edited between two cycles (as by someone at a sqlite3
    prompt while ``run --every`` waits)."""
    printed: list[str] = []

    def after(summary: loop.CycleSummary) -> None:
        printed.append(lines(summary.line())[0])
        if summary.as_of.day == 9:
            tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'BUY';")
            time.sleep(loop.CHECK_EVERY)  # as the wall clock's wait between two cycles

    with pytest.raises(AuditIntegrityError) as raised:
        loop.run_plan(daily_plan(replay_dir, 11), on_cycle=after)

    assert printed == [
        "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
    ]
    assert str(raised.value) == (
        "a.db FAILED verification, so trading stopped before 2023-03-10T00:00:00Z: EDITED seq 1: "
        "indexed column verdict says 'BUY', the record says 'HOLD', and 1 more problem"
        + SEE.removesuffix("\n")
    )
    result = replay(replay_dir, "2023-03-10", "2023-03-10")  # and the next run does not start
    assert result.exit_code == 1
    assert result.stderr.startswith("error: a.db FAILED verification, so the run did not start: ")


def test_a_sound_log_runs_and_its_next_run_checks_from_where_the_last_check_ended(
    in_tmp: Path, replay_dir: Path
):
    assert replay(replay_dir, "2023-03-08", "2023-03-10").exit_code == 0
    result = replay(replay_dir, "2023-03-11", "2023-03-12")

    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
    ]
    # The second run's last check ended at its own last record, the head (seq 6: the fill and
    # five decisions); it said seq 4, the first run's records only, which its start had read.
    assert Path("a.db.verified.json").read_text() == f'{{"seq": 6, "hash": "{hash_at(6)}"}}\n'
    assert sqlite3.connect("a.db").execute("SELECT seq FROM chain_head").fetchone() == (6,)


def test_a_runs_last_check_reads_what_it_appended_and_names_it_for_the_next(
    in_tmp: Path, replay_dir: Path
):
    """A replay that ended within ``CHECK_EVERY`` of its start never checked what it appended:
    the first run on a new log wrote no a.db.verified.json, and the next run's first check read
    the whole log again (each run's point one run behind)."""
    assert replay(replay_dir, "2023-03-08", "2023-03-10").exit_code == 0

    assert Path("a.db.verified.json").read_text() == f'{{"seq": 4, "hash": "{hash_at(4)}"}}\n'


def test_an_edit_during_the_last_cycle_fails_the_runs_last_check(in_tmp: Path, replay_dir: Path):
    def after(summary: loop.CycleSummary) -> None:
        if summary.as_of.day == 9:
            tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'BUY';")

    with pytest.raises(AuditIntegrityError) as raised:
        loop.run_plan(daily_plan(replay_dir, 9), on_cycle=after)

    assert str(raised.value) == (
        "a.db FAILED verification, after the run's last cycle: EDITED seq 1: indexed column "
        "verdict says 'BUY', the record says 'HOLD', and 1 more problem" + SEE.removesuffix("\n")
    )
    assert not Path("a.db.verified.json").exists()  # no point past a record that fails
