"""``signalops why apv-...`` explains the decision an approval asks about.

Regression test: the approval id the queue, the phone and the dashboard show was refused:
``Error: give a decision id, or an asset with --at DATE``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from conftest import invoke as run

NOTIFY = ROOT / "tests" / "dashboard" / "fixtures" / "eth_crisis_pipeline.yaml"


def test_why_of_an_approval_id_is_why_of_its_decision(in_tmp: Path, replay_dir: Path):
    made = run(
        "run", str(NOTIFY), "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", "a.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    listed = run("approvals", "--audit", "a.db", "--at", "2023-03-10T00:05:00Z")
    approval = listed.stdout.split()[0]
    assert approval.startswith("apv-")

    by_approval = run("why", approval, "--audit", "a.db")
    by_decision = run("why", "dec-" + approval.removeprefix("apv-"), "--audit", "a.db")

    assert by_approval.exit_code == 0, by_approval.stderr
    assert by_approval.stdout == by_decision.stdout
    assert by_approval.stdout.startswith("ETH at 2023-03-10T00:00:00Z: ")
