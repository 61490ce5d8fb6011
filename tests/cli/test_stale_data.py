"""A cycle decided on data too old for its leaves (STALE) warns, and ``run --once`` exits 1.

Regression tests: a run after the replayed data ends (as a stuck live feed, or a recording that
stopped, would look) printed a plain ``1 decisions: 1 HOLD`` line and exited 0 while every leaf
was UNKNOWN on data years old, where a cycle a source could not answer warns and exits 1. The
source answered there, so the line says so apart from the data errors: how many metrics were
refused as STALE and how old the newest of that data is.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionStatus
from signalops.pipeline.summary import CycleSummary, Outcome

STRATEGY = str(STRATEGIES / "banking_crisis_dip.yaml")
DURATION = r"  \[\d+\.\d\ds\]$"
# The bundled data's last daily candle (rsi, return) is 2026-03-31; its USDC supply ends earlier.
NEWEST = "2026-03-31T00:00:00Z"


def without_duration(text: str) -> list[str]:
    return [re.sub(DURATION, "", line) for line in text.splitlines()]


def test_a_once_cycle_on_stale_data_warns_and_exits_1(in_tmp: Path, replay_dir: Path):
    result = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2030-01-01", "--to", "2030-01-01",
    )  # fmt: skip

    assert result.exit_code == 1
    assert without_duration(result.stdout) == [
        "2030-01-01T00:00:00Z  1 decision: 1 HOLD  "
        "WARNING stale data: STALE x3 (newest 1,372 days old)"
    ]
    (warning,) = result.stderr.splitlines()
    assert warning.endswith(
        " WARNING signalops.pipeline: cycle 2030-01-01T00:00:00Z decided with leaves UNKNOWN on "
        "stale data: STALE x3 (newest 1,372 days old) as_of=2030-01-01T00:00:00Z code=STALE "
        f"count=3 newest={NEWEST}"
    )


def test_the_stale_warning_is_a_json_log_event(in_tmp: Path, replay_dir: Path):
    result = run(
        "--log-format", "json", "run", STRATEGY, "--replay", str(replay_dir),
        "--from", "2026-04-02T12:00",
    )  # fmt: skip

    assert result.exit_code == 1
    logged = json.loads(result.stderr)
    assert {k: v for k, v in logged.items() if k != "time"} == {
        "level": "WARNING",
        "logger": "signalops.pipeline",
        "event": "stale_data",
        "message": "cycle 2026-04-02T12:00:00Z decided with leaves UNKNOWN on stale data: "
        "STALE x3 (newest 2 days 12 hours old)",
        "as_of": "2026-04-02T12:00:00Z",
        "code": "STALE",
        "count": 3,
        "newest": NEWEST,
    }


def test_a_run_of_several_stale_cycles_warns_in_each_line_and_exits_0(
    in_tmp: Path, replay_dir: Path
):
    result = run(
        "-q", "run", STRATEGY, "--replay", str(replay_dir), "--from", "2026-04-03",
        "--to", "2026-04-05", "--every", "1d",
    )  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert without_duration(result.stdout) == [
        f"2026-04-0{day}T00:00:00Z  1 decision: 1 HOLD  "
        f"WARNING stale data: STALE x3 (newest {day} days old)"
        for day in (3, 4, 5)
    ]


def test_a_cycle_on_fresh_data_has_no_stale_warning(in_tmp: Path, replay_dir: Path):
    result = run("run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-10")

    assert (result.exit_code, result.stderr) == (0, "")
    assert without_duration(result.stdout) == ["2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)"]


@pytest.mark.parametrize(
    ("newest", "said"),
    [
        # Regression: read "2 days" against a 2d max age, as if within it.
        (datetime(2026, 3, 31, 21, tzinfo=UTC), "2 days 3 hours"),
        (datetime(2026, 4, 1, tzinfo=UTC), "2 days"),
        (datetime(2026, 4, 1, 23, tzinfo=UTC), "1 day 1 hour"),
        (datetime(2026, 4, 2, 18, 30, tzinfo=UTC), "5 hours 30 minutes"),
        (datetime(2026, 4, 2, 23, 47, 59, tzinfo=UTC), "12 minutes 1 second"),
        (datetime(2026, 4, 2, 23, 48, tzinfo=UTC), "12 minutes"),
        (datetime(2019, 9, 30, 23, 59, 30, tzinfo=UTC), "2,376 days"),  # 30 seconds: no hours
        (datetime(2026, 4, 3, tzinfo=UTC), "0 seconds"),
    ],
)
def test_the_age_of_stale_data_says_the_next_unit_when_it_is_not_zero(newest: datetime, said: str):
    held = Outcome("dec-1", "S", "BTC", Verdict.HOLD, ExecutionStatus.NOT_EXECUTED, stale=(newest,))
    summary = CycleSummary(datetime(2026, 4, 3, tzinfo=UTC), (held,), 0, 0, 0.0)

    assert summary.stale_text() == f"STALE x1 (newest {said} old)"
