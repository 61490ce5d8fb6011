"""A failed order is a WARNING line in a live run and an INFO line in a simulated one.

Live, an order that did not reach the market may need someone to act, and ``signalops run``
shows WARNINGs by default. In a backtest, stress scenario, sweep or walk-forward it is one of
the run's outcomes that its table and notes count: at WARNING, ``signalops stress`` printed a
wall-clock-stamped line per rejected order above its table. The runs are the banking-crisis
BUY of 2023-03-10 on the bundled data, refused by the venue as the stress scenario refuses it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES, invoke

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.runner import run_backtest
from signalops.execution.paper import PaperBroker
from signalops.orders import ExecutionResult, OrderIntent
from signalops.pipeline import loop
from signalops.strategy import load
from signalops.stress.scenario import VenueRejects
from signalops.stress.shocks import refusal
from signalops.workspace import build_pipeline, load_strategies, open_workspace

STRATEGY = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
DAY = datetime(2023, 3, 10, tzinfo=UTC)
REJECTS = VenueRejects(start=DAY, hours=48)
REFUSE = refusal([REJECTS])


class RejectingBroker(PaperBroker):
    """The paper venue of a live run, refusing every order as the stress scenario's does."""

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        refused = REFUSE(intent, as_of)
        return refused if refused is not None else super().execute(intent, as_of=as_of)


def _failed(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [
        (r.levelname, r.getMessage().split(": ")[0])
        for r in caplog.records
        if r.name == "signalops.execution" and "failed" in r.getMessage()
    ]


def test_a_live_run_logs_an_order_the_venue_rejected_as_a_warning(
    replay_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    workspace = open_workspace(audit=tmp_path / "audit.db", create=True)
    try:
        clock = loop.ReplayClock(DAY, DAY, timedelta(days=1))
        pipeline = build_pipeline(
            workspace, load_strategies([STRATEGY]), replay=replay_dir, clock=clock
        )
        pipeline = replace(pipeline, broker=RejectingBroker(pipeline.broker.ledger))
        with caplog.at_level(logging.WARNING, logger="signalops"):
            loop.run(pipeline, clock.times())
    finally:
        workspace.close()
    assert [level for level, _ in _failed(caplog)] == ["WARNING"]


@pytest.mark.parametrize("engine", ["fast", "pipeline"])
def test_a_backtest_logs_it_at_info_only(
    replay_store: SnapshotStore, tmp_path: Path, caplog: pytest.LogCaptureFixture, engine: str
) -> None:
    strategy = load(STRATEGY)
    common = {
        "store": replay_store,
        "start": DAY,
        "end": DAY + timedelta(days=1),
        "engine": engine,
        "refuse": REFUSE,
    }
    with caplog.at_level(logging.WARNING, logger="signalops"):
        run_backtest(strategy, out_dir=tmp_path / "warning", **common)
    assert _failed(caplog) == []
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="signalops"):
        result = run_backtest(strategy, out_dir=tmp_path / "info", **common)
    assert [level for level, _ in _failed(caplog)] == ["INFO", "INFO"]  # both days' BUYs
    assert [d.status for d in result.decisions if d.action == "BUY"] == ["FAILED", "FAILED"]


def test_stress_prints_its_table_without_log_lines_and_minus_v_shows_them(
    replay_dir: Path, tmp_path: Path
) -> None:
    banking = str(STRATEGIES / "banking_crisis_dip.yaml")
    args = ["stress", banking, "--data", str(replay_dir), "--scenario", "venue_rejects_48h"]
    default = invoke(*args, "--report", str(tmp_path / "default"))
    verbose = invoke("-v", *args, "--report", str(tmp_path / "verbose"))

    assert default.exit_code == 0, default.stderr
    assert default.stderr == ""
    assert default.stdout.startswith("Banking_Crisis_Dip · stress · 1 scenario run")
    rejected = [line for line in verbose.stderr.splitlines() if " failed: " in line]
    assert len(rejected) == 2
    assert all(" INFO signalops.execution: order for dec-" in line for line in rejected)
