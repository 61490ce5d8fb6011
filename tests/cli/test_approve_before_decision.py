"""An answer dated before its decision is refused: nothing is re-checked, filled or recorded.

Regression test: ``approve --at`` a day before the decision re-checked on that day's data and
filled at its price (``FILLED — paper BUY ... at 21,730.28 USDT`` for a decision priced at
19,760.78), and ``why`` listed the follow-ups before the decision; ``audit verify`` said ok.
The dashboard answers through the same function, with its clock (``SIGNALOPS_NOW``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.dashboard.accounts import MIN_ITERATIONS, hash_password
from signalops.dashboard.api import Settings, answer_approval
from signalops.errors import ApprovalError

STRATEGY = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
TOO_EARLY = "before its decision was made (2023-03-10T00:00:00Z)"


@pytest.fixture
def pending(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A BUY decided at 2023-03-10T00:00 in notify mode; (audit path, approval id)."""
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "audit.db")
    made = run(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
        "--from", "2023-03-10", "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    listed = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", db)
    return db, listed.stdout.split()[0]


def kinds(db: str) -> list[str]:
    return [record["kind"] for record in AuditLog(Path(db)).records()]


@pytest.mark.parametrize(
    ("verb", "recorded"), [("approve", ["approval", "fill"]), ("reject", ["approval"])]
)
def test_an_answer_dated_before_the_decision_is_refused_and_nothing_recorded(
    pending: tuple[str, str], replay_dir: Path, verb: str, recorded: list[str]
):
    db, approval = pending

    def answer(at: str):
        return run(
            verb, approval, "--by", "alice", "--note", "checked", "--replay", str(replay_dir),
            "--at", at, "--audit", db,
        )  # fmt: skip

    result = answer("2023-03-09T01:00:00Z")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: approval {approval} cannot be answered at 2023-03-09T01:00:00Z, {TOO_EARLY}\n"
    )
    assert kinds(db) == ["decision"]
    still = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", db)
    assert still.stdout.split()[0] == approval
    # At the decision's own time it is answerable.
    assert answer("2023-03-10T00:00:00Z").exit_code == 0
    assert kinds(db) == ["decision", *recorded]


def test_the_dashboard_refuses_it_too(pending: tuple[str, str], replay_dir: Path, tmp_path: Path):
    db, approval = pending
    password = hash_password("long enough pass", iterations=MIN_ITERATIONS, salt=b"0" * 16)
    config = tmp_path / "signalops.yaml"
    config.write_text(f'dashboard:\n  operators:\n    alice: {{password_hash: "{password}"}}\n')
    settings = Settings.from_env(
        {
            "SIGNALOPS_AUDIT": db,
            "SIGNALOPS_CONFIG": str(config),
            "SIGNALOPS_REPLAY": str(replay_dir),
            "SIGNALOPS_NOW": "2023-03-09T23:59:59Z",
        }
    )

    with pytest.raises(ApprovalError) as refused:
        answer_approval(settings, approval, approve=True, by="alice")

    assert str(refused.value) == (
        f"approval {approval} cannot be answered at 2023-03-09T23:59:59Z, {TOO_EARLY}"
    )
    assert kinds(db) == ["decision"]


def test_an_answer_after_the_decision_time_but_before_its_write_is_accepted():
    """A live runner writes a decision a moment after its cycle's time; an approver whose clock
    runs behind the runner's answers between the two, and is not refused."""
    from datetime import UTC, datetime

    from signalops.audit.store import PendingApproval
    from signalops.pipeline.approvals import _not_before_decision

    pending = PendingApproval(
        decision_id="dec-1",
        approval_id="apv-1",
        asset="BTC",
        strategy="S",
        as_of="2023-03-10T00:00:00Z",
        expires_at=None,
        expired=False,
        record={"recorded_at": "2023-03-10T00:00:05Z"},
    )

    _not_before_decision(pending, "apv-1", datetime(2023, 3, 10, 0, 0, 2, tzinfo=UTC))
    with pytest.raises(ApprovalError, match=r"answered at 2023-03-09T23:59:59Z, before"):
        _not_before_decision(pending, "apv-1", datetime(2023, 3, 9, 23, 59, 59, tzinfo=UTC))
