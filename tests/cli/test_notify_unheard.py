"""Notify mode with no webhooks: approvals wait in ``signalops approvals`` and nobody is told, so
``run`` warns once as it starts and ``validate`` warns for a notify-mode strategy.

Regression tests: ``run --mode notify`` without webhooks printed ``1 BUY (1 awaiting
approval)`` and nothing else; ``validate`` said the notify strategy was fine.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

PIPELINE = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")  # action_mode: paper
# action_mode: notify, on a market the bundled data records (nothing else to warn of)
NOTIFY = str(STRATEGIES / "election_odds_gate.yaml")
PAPER = str(STRATEGIES / "technical_baseline.yaml")
WARNING = (
    "warning: notify mode with no webhooks: approvals wait in 'signalops approvals', "
    "nobody is told\n"
)
WEBHOOKS = "notify:\n  webhooks:\n    - {kind: slack, url_env: SIGNALOPS_TEST_SLACK_URL}\n"


def replay(replay_dir: Path, *mode: str):
    return run(
        "run", PIPELINE, *mode, "--replay", str(replay_dir), "--from", "2023-03-10",
        "--audit", "n.db",
    )  # fmt: skip


def test_run_in_notify_mode_without_webhooks_warns_once_as_it_starts(
    in_tmp: Path, replay_dir: Path
):
    result = replay(replay_dir, "--mode", "notify")

    assert result.exit_code == 0, result.output
    assert result.stderr == WARNING
    assert result.stdout.startswith("2023-03-10T00:00:00Z  1 decision: 1 BUY (1 awaiting approval)")


def test_run_in_paper_mode_does_not_warn(in_tmp: Path, replay_dir: Path):
    result = replay(replay_dir)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_validate_warns_for_a_notify_strategy_when_the_config_has_no_webhooks(in_tmp: Path):
    result = run("validate", NOTIFY, PAPER)

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: {NOTIFY}: notify mode with no webhooks in the config: approvals wait in "
        "'signalops approvals', nobody is told\n"
    )


def test_validate_does_not_warn_when_the_config_has_webhooks(in_tmp: Path):
    (in_tmp / "signalops.yaml").write_text(WEBHOOKS, encoding="utf-8")

    result = run("validate", NOTIFY, PAPER)

    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_run_of_a_strategy_whose_action_mode_is_notify_warns_too(in_tmp: Path, replay_dir: Path):
    text = Path(PIPELINE).read_text(encoding="utf-8")
    assert text.count("action_mode: paper") == 1
    (in_tmp / "notify.yaml").write_text(text.replace("action_mode: paper", "action_mode: notify"))

    result = run(
        "run", "notify.yaml", "--replay", str(replay_dir), "--from", "2023-03-10", "--audit", "n.db"
    )

    assert result.exit_code == 0, result.output
    assert result.stderr == WARNING
    assert "(1 awaiting approval)" in result.stdout
