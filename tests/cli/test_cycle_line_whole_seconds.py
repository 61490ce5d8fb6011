"""A live run's cycle lines are stamped in whole seconds, its first (at its start) too.

Regression test: a live run's first cycle is at the moment it starts, so its line read
``2026-12-05T02:56:51.441154Z  1 decision: ...`` while every later one, on the ``--every`` grid,
read ``2026-12-05T03:00:00Z``. The decision keeps its exact ``as_of`` (the records, ``why``);
only the line's stamp is cut to the second.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_record import CRISIS_STRATEGY
from test_run_data_errors import offline

from signalops.audit.store import AuditLog
from signalops.cli import cli

STARTED = datetime(2023, 3, 11, 2, 56, 51, 441154, tzinfo=UTC)


def test_a_live_first_cycle_off_the_second_prints_whole_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    Path("crisis.yaml").write_text(CRISIS_STRATEGY)
    connections = replace(offline(), now=lambda: STARTED)

    result = CliRunner().invoke(
        cli, ["run", "crisis.yaml", "--once", "--audit", "live.db"], obj=connections,
        prog_name="signalops",
    )  # fmt: skip

    assert re.sub(r"  \[\d+\.\d\ds\]$", "", result.stdout.strip()) == (
        "2023-03-11T02:56:51Z  1 decision: 1 HOLD  WARNING data errors: CONNECTION_ERROR x6"
    )
    (decision,) = [r for r in AuditLog(Path("live.db")).records() if r["kind"] == "decision"]
    assert decision["as_of"] == "2023-03-11T02:56:51.441154Z"
