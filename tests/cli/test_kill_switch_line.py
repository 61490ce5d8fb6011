"""``signalops run`` says when the kill switch is on: one line as it starts, and when it changes.

Regression tests: with the kill switch file there, a run printed ``1 BUY (1 denied by risk)``
and nothing else (only ``why`` showed KILL_SWITCH), while a tripped breaker printed a HALTED
line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

from signalops.pipeline import loop

PIPELINE = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")  # fills 03-10
ON = "KILL SWITCH ON (file KILL): orders are denied"
OFF = "KILL SWITCH OFF (file KILL removed): orders are no longer denied by it"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text("kill_switch: KILL\n")
    return tmp_path


def lines(text: str) -> list[str]:
    return [re.sub(r"  \[\d+\.\d+s\]$", "", line) for line in text.splitlines()]


def test_a_kill_switch_on_as_the_run_starts_is_said_once(in_tmp: Path, replay_dir: Path):
    Path("KILL").touch()

    result = run(
        "run", PIPELINE, "--replay", str(replay_dir), "--from", "2023-03-09", "--to",
        "2023-03-11", "--audit", "a.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert lines(result.stdout) == [
        ON,
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",  # it filled without
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
    ]
    assert [re.sub(r"^\S+ ", "", line) for line in result.stderr.splitlines()] == [
        f"WARNING signalops.pipeline: {ON} file=KILL"
    ]


def test_the_kill_switch_appearing_and_going_is_said_at_the_next_cycle(
    in_tmp: Path, replay_dir: Path
):
    """Through the library's run loop: the file is made and removed between cycles, as an
    operator would while ``run --every`` runs."""
    printed: list[str] = []

    def after(summary: loop.CycleSummary) -> None:
        printed.extend(lines(summary.line()))
        if summary.as_of.day == 9:
            Path("KILL").touch()
        elif summary.as_of.day == 11:
            Path("KILL").unlink()

    plan = loop.RunPlan(
        strategies=(Path(PIPELINE),),
        replay=replay_dir,
        start=datetime(2023, 3, 9, tzinfo=UTC),
        end=datetime(2023, 3, 12, tzinfo=UTC),
        every=timedelta(days=1),
        audit="a.db",
        config=Path("signalops.yaml"),
    )

    loop.run_plan(plan, on_cycle=after, on_notice=printed.append)

    assert printed == [
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        ON,
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        OFF,
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
    ]
