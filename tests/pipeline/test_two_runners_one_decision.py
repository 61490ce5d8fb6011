"""Two runners of one strategy on one log (two runner names, as for redundancy on PostgreSQL)
that decide the same BUY at once: the second's transaction fails on the first's records and is
rolled back, fill and all, and its decision is skipped, as when the log had it before it looked.

Regression test: the second runner exited 1 with ``error: already in the audit log:
dec-4a2a50ec8216e1d7ba161921, fill-4a2a50ec8216e1d7ba161921-1`` at the first trade both
decided (the log stayed sound: one fill).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import STRATEGIES

from signalops.adapters import gather as engine
from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionResult, ExecutionStatus, Mode, OrderIntent
from signalops.workspace import build_pipeline, load_strategies, open_workspace

BOUGHT = datetime(2023, 3, 10, tzinfo=UTC)  # banking_crisis_dip's BUY on the bundled data


@pytest.fixture
def runners(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """Runners a and b of banking_crisis_dip on one log, and the answers at its BUY."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    strategies = load_strategies([STRATEGIES / "banking_crisis_dip.yaml"])
    workspaces = [open_workspace(audit=tmp_path / "shared.db", runner=n) for n in ("a", "b")]
    pipelines = [build_pipeline(w, strategies, replay=replay_dir) for w in workspaces]
    (strategy,) = strategies
    requests = [*strategy.requests("BTC"), *pipelines[0].price_requests_of("BTC")]
    answers = engine.gather(requests, pipelines[0].adapters, BOUGHT)
    # Runner b looks for the decision (not recorded yet) before runner a commits it.
    looked = pipelines[1].audit.has_decision
    first_look = iter([False])
    monkeypatch.setattr(
        pipelines[1].audit, "has_decision", lambda ident: next(first_look, None) or looked(ident)
    )
    yield strategy, answers, *pipelines
    for workspace in workspaces:
        workspace.close()


def counts(log: Path) -> tuple[int, int, int]:
    with sqlite3.connect(log) as db:
        return (
            db.execute("SELECT count(*) FROM paper_fills").fetchone()[0],
            db.execute("SELECT count(*) FROM records WHERE kind = 'fill'").fetchone()[0],
            db.execute("SELECT count(*) FROM records WHERE kind = 'decision'").fetchone()[0],
        )


def test_the_runner_that_loses_the_race_for_a_fill_skips_it_and_goes_on(runners, tmp_path: Path):
    strategy, answers, a, b = runners
    decided = []
    gate = b.gate

    def both_gated(*args: object, **kwargs: object):  # a decides and commits meanwhile
        found = gate(*args, **kwargs)
        decided.append(a.decide(strategy, "BTC", BOUGHT, answers))
        return found

    b.gate = both_gated
    lost = b.decide(strategy, "BTC", BOUGHT, answers)

    (won,) = decided
    assert (won.verdict, won.status, won.skipped) == (Verdict.BUY, ExecutionStatus.FILLED, False)
    assert (lost.decision_id, lost.verdict, lost.skipped) == (won.decision_id, Verdict.BUY, True)
    assert counts(tmp_path / "shared.db") == (1, 1, 1)


def test_an_auto_order_whose_answer_another_runner_recorded_is_still_the_runners_own(
    runners, tmp_path: Path
):
    """Runner b reconciles a's order while the venue answers a (b's cycle found it sent and
    unanswered): a's own answer is then a duplicate. The order was sent: a reports its answer,
    not a skipped decision (it did, once duplicates were skipped)."""
    strategy, answers, a, b = runners
    sent: list[str] = []

    class Venue:
        def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
            sent.append(intent.client_order_id)
            accepted = ExecutionResult(ExecutionStatus.SUBMITTED, "accepted by the venue")
            b.records.result(intent, accepted)  # b's reconcile, meanwhile
            return accepted

    a.mode, a.auto_executor = Mode.AUTO, Venue()
    outcome = a.decide(strategy, "BTC", BOUGHT, answers)

    assert len(sent) == 1
    assert (outcome.status, outcome.skipped) == (ExecutionStatus.SUBMITTED, False)
    with sqlite3.connect(tmp_path / "shared.db") as db:
        kinds = dict(db.execute("SELECT kind, count(*) FROM records GROUP BY kind").fetchall())
    assert (kinds["order_submitted"], kinds["order_result"]) == (1, 1)
