"""An approval whose re-check failed is told as what it was: approved, re-checked, not executed.

Regression test: bob approved a notify-mode BUY; its re-check failed (the walkthrough's was a
COOLDOWN, here the kill switch pulled after the decision) and nothing was executed, as the
approval record says (``outcome: {status: NOT_EXECUTED}``). Yet ``why`` said ``BUY approved by
bob, not filled yet``, ``decisions`` and the dashboard's feed said APPROVED, and a second
``approve`` said only ``already approved by bob``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.dashboard.tables import decision_rows

STRATEGY = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
HEADLINE = "BUY approved by bob; re-check failed (KILL_SWITCH): not executed"
FOLLOWUP = "approved by bob: go; re-check failed (KILL_SWITCH): not executed"


@pytest.fixture
def answered(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "audit.db")
    made = run(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
        "--from", "2023-03-10", "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    approval = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", db).stdout.split()[0]
    (tmp_path / "HALT").write_text("")  # the operator pulled the kill switch meanwhile
    (tmp_path / "halted.yaml").write_text("kill_switch: HALT\n")
    failed = run(
        "approve", approval, "--by", "bob", "--note", "go", "--replay", str(replay_dir),
        "--at", "2023-03-10T00:06:00Z", "--config", "halted.yaml", "--audit", db,
    )  # fmt: skip
    assert failed.stdout == f"{approval}: RECHECK_FAILED — re-check failed: KILL_SWITCH\n"
    return {"db": db, "replay": str(replay_dir), "apv": approval}


def test_why_says_the_recheck_failed_and_nothing_was_executed(answered: dict[str, str]):
    result = run("why", "BTC", "--at", "2023-03-10", "--audit", answered["db"])

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"BTC at 2023-03-10T00:00:00Z: {HEADLINE}"
    assert lines[-2:] == ["FOLLOW-UPS:", f"  2023-03-10T00:06:00Z  {FOLLOWUP}"]


def test_why_json_says_not_executed(answered: dict[str, str]):
    result = run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", answered["db"])

    told = json.loads(result.stdout)
    assert (told["outcome"], told["headline"]) == ("NOT_EXECUTED", HEADLINE)
    assert told["followups"][0]["summary"] == FOLLOWUP


def test_decisions_and_the_dashboard_feed_say_not_executed(answered: dict[str, str]):
    result = run("decisions", "--verdict", "BUY", "--audit", answered["db"])

    assert [line.split()[:4] for line in result.stdout.splitlines()] == [
        ["2023-03-10T00:00:00Z", "BTC", "BUY", "NOT_EXECUTED"],
    ]
    with AuditLog.open(Path(answered["db"]), create=False) as log:
        (row,) = decision_rows(log, verdict="BUY")
    assert (row["outcome"], row["what happened"]) == ("NOT_EXECUTED", HEADLINE)


def test_approving_it_again_says_the_recheck_failed_and_the_decision_is_closed(
    answered: dict[str, str],
):
    again = run(
        "approve", answered["apv"], "--by", "bob", "--replay", answered["replay"],
        "--at", "2023-03-10T00:10:00Z", "--audit", answered["db"],
    )  # fmt: skip

    assert again.exit_code == 1
    assert again.stderr == (
        f"error: approval {answered['apv']} was already approved by bob at "
        "2023-03-10T00:06:00Z; its re-check failed (KILL_SWITCH): not executed, and the "
        "decision is closed\n"
    )
