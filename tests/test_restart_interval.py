"""A runner restarted in an interval its strategies already decided waits for the next one.

Regression: a live ``run --every 1h`` decided at once on every start, off the hour: a service
manager restarting a crashing runner every few seconds made a new decision (a new decision id,
so a new order if it bought) at each start, and a trader restarting it by hand made one more.
Now the first cycle waits for the next aligned time when every strategy and asset already has a
decision in this interval; a start in an interval not yet decided still decides at once.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ROOT
from test_run_data_errors import offline

from signalops.audit.store import AuditLog
from signalops.pipeline.loop import RunPlan, run_plan

STRATEGY = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"


def start_at(
    tmp_path: Path, hour: int, minute: int, replay: Path | None, strategy: Path = STRATEGY
) -> tuple[int, list[str]]:
    """A live hourly run started at ``hour:minute`` on 2023-03-11 (its data read from
    ``replay``, else from sources that cannot be reached), stopped after its first cycle (or
    before, once it said it waits): its cycles and what it said."""
    at = datetime(2023, 3, 11, hour, minute, tzinfo=UTC)
    stop = threading.Event()
    notices: list[str] = []

    def told(text: str) -> None:
        notices.append(text)
        stop.set()

    plan = RunPlan(
        strategies=(strategy,),
        replay=replay,
        every=timedelta(hours=1),
        audit=tmp_path / "live.db",
        config=tmp_path / "none.yaml",
        connections=replace(offline(), now=lambda: at),
    )
    result = run_plan(plan, stop=stop, on_cycle=lambda _s: stop.set(), on_notice=told)
    return len(result.summaries), notices


def decided(tmp_path: Path) -> list[str]:
    with AuditLog(tmp_path / "live.db") as log:
        return [r["as_of"] for r in log.decisions(limit=100)]


def test_a_restart_in_an_interval_already_decided_waits_for_the_next(
    tmp_path: Path, replay_dir: Path
):
    (tmp_path / "none.yaml").write_text("{}\n", encoding="utf-8")

    first = start_at(tmp_path, 10, 17, replay_dir)
    again = start_at(tmp_path, 10, 40, replay_dir)
    next_hour = start_at(tmp_path, 11, 5, replay_dir)

    assert first == (1, [])
    assert again == (
        0,
        [
            "every strategy decided at 2023-03-11T10:17:00Z, in this 1h interval already: the "
            "first cycle is the next one, at 2023-03-11T11:00:00Z"
        ],
    )
    assert next_hour == (1, [])
    assert sorted(decided(tmp_path)) == ["2023-03-11T10:17:00Z", "2023-03-11T11:05:00Z"]


def test_a_restart_decides_at_once_after_an_edit_or_a_cycle_that_read_nothing(
    tmp_path: Path, replay_dir: Path
):
    """A trader restarts to fix something: an edited strategy is a new version, and a cycle
    whose sources all failed (no data) decided nothing worth waiting on."""
    (tmp_path / "none.yaml").write_text("{}\n", encoding="utf-8")
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        STRATEGY.read_text(encoding="utf-8").replace("position_size: 0.05", "position_size: 0.04"),
        encoding="utf-8",
    )

    unreachable = start_at(tmp_path, 10, 5, None)  # every leaf UNKNOWN: CONNECTION_ERROR
    fixed = start_at(tmp_path, 10, 17, replay_dir)
    new_version = start_at(tmp_path, 10, 40, replay_dir, edited)

    assert (unreachable, fixed, new_version) == ((1, []), (1, []), (1, []))
    assert len(decided(tmp_path)) == 3
