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


def test_why_of_an_approval_id_whose_decision_waited_for_none_is_refused(
    in_tmp: Path, replay_dir: Path
):
    """It explained the paper decision of the same hex as if an approval had asked about it."""
    made = run(
        "run", str(NOTIFY), "--mode", "paper", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", "p.db",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    decision = run("decisions", "--audit", "p.db").stdout.split()[-1]
    assert decision.startswith("dec-")
    twin = "apv-" + decision.removeprefix("dec-")

    result = run("why", twin, "--audit", "p.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {twin} is an approval id, and no approval with that id exists in p.db "
        f"(decision {decision} waited for none)\n"
    )
    assert run("why", decision, "--audit", "p.db").exit_code == 0


def test_why_of_an_approval_id_of_no_decision_names_the_approval_id(in_tmp: Path, replay_dir: Path):
    made = run(
        "run", str(NOTIFY), "--replay", str(replay_dir), "--from", "2023-03-10", "--audit", "p.db"
    )
    assert made.exit_code == 0, made.stderr

    result = run("why", "apv-000000000000000000000000", "--json", "--audit", "p.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: apv-000000000000000000000000 is an approval id, and no approval with that id "
        "exists in p.db\n"
    )


def test_why_of_an_unknown_decision_id_is_not_told_of_assets(in_tmp: Path, replay_dir: Path):
    """It said 'the log has no asset dec-ffff (its assets: ETH)', as if the id were an asset."""
    made = run(
        "run", str(NOTIFY), "--replay", str(replay_dir), "--from", "2023-03-10", "--audit", "p.db"
    )
    assert made.exit_code == 0, made.stderr

    result = run("why", "dec-ffff", "--audit", "p.db")

    assert (result.exit_code, result.stderr) == (1, "error: no decision for dec-ffff in p.db\n")
