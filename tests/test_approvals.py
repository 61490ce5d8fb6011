"""Notify mode end to end: a pending approval, then approve / reject / expire / re-check fails.

Decisions are made on the replayed real data of 2023-03-10 (a BUY of BTC on daily RSI), and the
human's answer is given minutes later on the same replay, so the re-check sees the same data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.cli import cli
from signalops.pipeline.records import Recorder

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def pending(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A notify-mode decision awaiting approval; returns (audit path, approval id, replay)."""
    monkeypatch.chdir(ROOT)
    db = tmp_path / "audit.db"
    made = run(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", str(db),
    )  # fmt: skip
    assert made.stdout.startswith("2023-03-10T00:00:00Z  1 decision: 1 BUY (1 awaiting approval)")
    listed = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", str(db))
    approval_id = listed.stdout.split()[0]
    assert approval_id.startswith("apv-")
    assert listed.stdout.rstrip().endswith("expires 2023-03-10T00:15:00Z")
    return db, approval_id, replay_dir


def answer(verb: str, pending, *extra: str, at: str = "2023-03-10T00:05:00Z"):
    db, approval_id, replay = pending
    return run(verb, approval_id, "--replay", str(replay), "--at", at, "--audit", str(db), *extra)


def kinds(db: Path) -> list[str]:
    return [r["kind"] for r in AuditLog(db).records()]


def test_approving_rechecks_then_fills_on_paper_and_records_who(pending):
    result = answer("approve", pending, "--by", "alice", "--note", "looks right")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{pending[1]}: FILLED — paper BUY 0.02455527 BTC at ")
    db = pending[0]
    assert kinds(db) == ["decision", "approval", "fill"]
    approval = next(r for r in AuditLog(db).records() if r["kind"] == "approval")
    assert (approval["by"], approval["note"], approval["approved"]) == (
        "alice",
        "looks right",
        True,
    )
    assert approval["recheck"]["verdict"] == "BUY"
    assert approval["recheck"]["risk"]["approved"] is True
    assert verify(AuditLog(db)).ok


def test_approving_twice_is_refused_with_who_already_did(pending):
    answer("approve", pending, "--by", "alice")
    again = answer("approve", pending, "--by", "bob", at="2023-03-10T00:06:00Z")
    assert again.exit_code == 1
    assert again.stderr == (
        f"error: approval {pending[1]} was already approved by alice at 2023-03-10T00:05:00Z\n"
    )
    assert kinds(pending[0]).count("fill") == 1


def test_rejecting_records_the_note_and_executes_nothing(pending):
    result = answer("reject", pending, "--by", "carol", "--note", "FOMC in an hour")
    assert result.exit_code == 0
    assert result.stdout == f"{pending[1]}: REJECTED — FOMC in an hour\n"
    assert kinds(pending[0]) == ["decision", "approval"]
    listed = run("approvals", "--at", "2023-03-10T00:06:00Z", "--audit", str(pending[0]))
    assert listed.stdout == "no approvals pending\n"


def test_approving_after_the_expiry_records_the_expiry_and_refuses(pending):
    result = answer("approve", pending, at="2023-03-10T00:20:00Z")
    assert result.exit_code == 1
    assert result.stdout == f"{pending[1]}: EXPIRED — expired at 2023-03-10T00:15:00Z\n"
    assert kinds(pending[0]) == ["decision", "expiry"]


def test_a_failed_recheck_is_recorded_and_nothing_executes(pending, tmp_path: Path):
    # The operator pulled the kill switch after the decision was made.
    (tmp_path / "HALT").write_text("")
    config = tmp_path / "signalops.yaml"
    config.write_text("kill_switch: HALT\n")
    result = answer("approve", pending, "--by", "alice", "--config", str(config))
    assert result.exit_code == 1
    assert result.stdout == f"{pending[1]}: RECHECK_FAILED — re-check failed: KILL_SWITCH\n"
    records = list(AuditLog(pending[0]).records())
    assert [r["kind"] for r in records] == ["decision", "approval"]
    assert records[1]["approved"] is True  # the click is recorded even though nothing ran
    assert records[1]["outcome"] == {"status": "NOT_EXECUTED"}


def test_an_unknown_approval_id_is_a_clear_error(pending):
    db, _, replay = pending
    result = run("approve", "apv-000000000000000000000000", "--replay", str(replay),
                 "--at", "2023-03-10T00:05:00Z", "--audit", str(db))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        "error: no pending approval 'apv-000000000000000000000000' (see 'signalops approvals')\n"
    )


def test_the_loser_of_an_approval_race_reads_who_won_and_no_second_order(
    pending, monkeypatch: pytest.MonkeyPatch
):
    """Both answers found the approval pending; the winner's record lands between the loser's
    look and its append (the race, made deterministic by keeping the loser's stale look)."""
    from datetime import UTC, datetime

    from signalops.pipeline import approvals
    from signalops.workspace import open_workspace

    db, approval_id, replay = pending
    now = datetime(2023, 3, 10, 0, 5, tzinfo=UTC)
    loser = open_workspace(audit=db, create=True)
    stale = loser.audit.pending_approvals(now)
    monkeypatch.setattr(loser.audit, "pending_approvals", lambda _now: stale)
    assert answer("approve", pending, "--by", "alice").exit_code == 0

    with pytest.raises(approvals.ApprovalError) as refused:
        approvals.answer(loser, approval_id, approve=True, by="bob", now=now, replay=replay)
    loser.close()

    assert str(refused.value) == (
        f"approval {approval_id} was already approved by alice at 2023-03-10T00:05:00Z"
    )
    assert kinds(db).count("fill") == 1
    assert kinds(db).count("approval") == 1


class _LookedEarlier(AuditLog):
    """The log as a runner read it just before another one committed the same expiry."""

    def __init__(self, path: Path, seen: list) -> None:
        super().__init__(path)
        self.seen = seen

    def pending_approvals(self, now):  # type: ignore[no-untyped-def]
        return self.seen


def test_an_expiry_another_runner_committed_meanwhile_is_not_an_error(pending):
    db = pending[0]
    late = datetime(2023, 3, 10, 0, 20, tzinfo=UTC)
    seen = AuditLog(db).pending_approvals(late)
    first = Recorder(AuditLog(db), broker=None, clock=lambda: late)  # type: ignore[arg-type]
    assert first.expire(late) == 1
    second = Recorder(_LookedEarlier(db, seen), broker=None, clock=lambda: late)  # type: ignore[arg-type]
    assert second.expire(late) == 0
    assert kinds(db) == ["decision", "expiry"]
    assert verify(AuditLog(db)).ok


def test_an_approval_answered_days_later_is_checked_on_that_days_data_and_fills(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A TTL longer than max_data_age was refused ("an approval given after 15m would be
    denied DATA_STALE"), but the re-check fetches its data when the approval is answered: 71
    hours later (the daily strategy's data may be 2d old) it is that day's data, fresh, and the
    order fills (the RSI dip of June 2022 lasted the week)."""
    monkeypatch.chdir(ROOT)
    db, config = tmp_path / "audit.db", tmp_path / "signalops.yaml"
    config.write_text("notify: {approval_ttl: 3d}\n", encoding="utf-8")
    common = ("--audit", str(db), "--config", str(config))
    made = run(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2022-06-13", *common,
    )  # fmt: skip
    assert "1 BUY (1 awaiting approval)" in made.stdout
    listed = run("approvals", "--at", "2022-06-13T00:01:00Z", *common)
    assert listed.stdout.rstrip().endswith("expires 2022-06-16T00:00:00Z")

    result = run(
        "approve", listed.stdout.split()[0], "--replay", str(replay_dir), "--at",
        "2022-06-15T23:00:00Z", "--by", "alice", *common,
    )  # fmt: skip

    assert result.stdout.split(" — ")[0].endswith(": FILLED"), result.output
    approval = next(r for r in AuditLog(db).records() if r["kind"] == "approval")
    stale = next(c for c in approval["recheck"]["risk"]["checks"] if c["code"] == "DATA_STALE")
    assert stale["passed"] is True
