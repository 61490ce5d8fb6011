"""What the live decision path skips to stay fast still says what it said.

Real runs on the bundled data (the March 2023 banking crisis: a BUY filled on 03-10, a BUY
denied by the cooldown on 03-11, SELLs with nothing to sell, HOLDs), in paper mode, in notify
mode (approvals requested), in notify mode with no notifier (FAILED) and in auto mode without
an executor (approved by the gate, not executed):

- a decision whose log lines nobody would see is not turned back into a dict for them: at
  every logger level, a decision's lines from its prepared record are the lines from its dict;
  a fill's too (its line is INFO: below that, its text and fields are not made either);
- a decision's data time (the oldest data its acting side relied on) is read from the leaves'
  data times, not from each leaf's full view: the same time for every evaluation.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from signalops.adapters import gather as engine
from signalops.audit.prepared import PreparedRecord, prepare
from signalops.audit.record import prepare_fill
from signalops.evaluation.nodes import Predicate, Status
from signalops.evaluation.tree import Evaluation
from signalops.orders import ExecutionStatus, Fill, Mode
from signalops.pipeline import Pipeline, decision_data_time
from signalops.pipeline.records import log_record
from signalops.side import Side
from signalops.workspace import build_pipeline, load_strategies, open_workspace

STRATEGIES = (
    ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml",
    ROOT / "strategies" / "banking_crisis_dip.yaml",
    ROOT / "strategies" / "technical_baseline.yaml",
)
DAYS = [datetime(2023, 3, 6, tzinfo=UTC) + timedelta(days=n) for n in range(12)]
LEVELS = (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR)


def _pipeline(tmp_path: Path, replay_dir: Path, name: str, mode: Mode) -> Pipeline:
    workspace = open_workspace(audit=tmp_path / f"{name}.db")
    now = [DAYS[0]]
    pipeline = build_pipeline(
        workspace,
        load_strategies(STRATEGIES),
        mode=Mode.PAPER if mode is Mode.AUTO else mode,
        replay=replay_dir,
        clock=lambda: now[0],
    )
    if mode is Mode.AUTO:  # no executor: approved decisions are denied AUTO_NOT_ENABLED
        pipeline = replace(pipeline, mode=Mode.AUTO)
    return pipeline


def _decided(pipeline: Pipeline) -> list[dict[str, Any]]:
    """Every decision of the days, taken one by one (committed each), as the log holds them."""
    for as_of in DAYS:
        pipeline.cycle(as_of)
    records = [r for r in pipeline.audit.records() if r["kind"] == "decision"]
    pipeline.audit.close()
    return records


@pytest.fixture(scope="module")
def decisions(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("latency")
    found = []
    for name, mode in (("paper", Mode.PAPER), ("notify", Mode.NOTIFY), ("auto", Mode.AUTO)):
        found += _decided(_pipeline(tmp, replay_dir, name, mode))
    silent = replace(_pipeline(tmp, replay_dir, "unnotified", Mode.NOTIFY), notifier=None)
    found += _decided(silent)
    return found


def _lines(caplog: pytest.LogCaptureFixture, record: Any) -> list[tuple[str, int, str]]:
    caplog.clear()
    log_record(record)
    return [(r.name, r.levelno, r.getMessage()) for r in caplog.records]


@pytest.mark.parametrize("level", LEVELS, ids=logging.getLevelName)
def test_a_decision_logs_the_same_lines_from_its_prepared_record_as_from_its_dict(
    decisions: list[dict[str, Any]], caplog: pytest.LogCaptureFixture, level: int
) -> None:
    statuses = {r["execution"]["status"] for r in decisions}
    assert {
        ExecutionStatus.FILLED,
        ExecutionStatus.NOT_EXECUTED,
        ExecutionStatus.PENDING_APPROVAL,
        ExecutionStatus.FAILED,
    } <= statuses
    assert any(r["risk"] and not r["risk"]["approved"] for r in decisions)  # denials
    caplog.set_level(level, logger="signalops")
    lines = 0
    for record in decisions:
        expected = _lines(caplog, record)
        assert _lines(caplog, prepare(record)) == expected, record["decision_id"]
        lines += len(expected)
    assert lines if level <= logging.WARNING else not lines  # FAILED orders are warnings


def _fill_record() -> Any:
    fill = Fill(
        client_order_id="cli-1", asset="BTC", side=Side.BUY, quantity=Decimal("0.25"),
        price=Decimal("20123.5"), fee=Decimal("5.03"), at=DAYS[1], venue="paper",
    )  # fmt: skip
    return prepare_fill(
        decision_id="dec-1", client_order_id="cli-1", fill=fill, recorded_at=DAYS[1]
    )


@pytest.mark.parametrize("level", LEVELS, ids=logging.getLevelName)
def test_a_fill_logs_the_same_lines_from_its_prepared_record_as_from_its_dict(
    caplog: pytest.LogCaptureFixture, level: int
) -> None:
    caplog.set_level(level, logger="signalops")
    expected = _lines(caplog, _fill_record().record)
    assert _lines(caplog, _fill_record()) == expected
    assert len(expected) == (level <= logging.INFO)


def test_a_fill_whose_line_nobody_would_see_is_not_turned_back_into_a_dict_for_it(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str | None] = []
    plain = PreparedRecord.record

    def counted(self: PreparedRecord) -> dict[str, Any]:
        built.append(self.kind)
        return plain.fget(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(PreparedRecord, "record", property(counted))
    caplog.set_level(logging.WARNING, logger="signalops")
    assert _lines(caplog, _fill_record()) == [] and built == []
    caplog.set_level(logging.INFO, logger="signalops")
    assert len(_lines(caplog, _fill_record())) == 1 and built == ["fill"]


def _from_readings(evaluation: Evaluation, price_time: datetime) -> datetime:
    """The data time as each leaf's full view (``trace.leaf``) gives it."""
    tree = evaluation.tree
    action = evaluation.action
    side = tree.entry if action is None or action is Side.BUY else tree.exit
    oldest = price_time
    trace = evaluation.trace
    for node in side.walk() if side is not None else ():
        if isinstance(node, Predicate) and trace.status(node) is Status.PASS:
            for reading in trace.leaf(node).readings:
                if reading.data_time is not None and reading.data_time < oldest:
                    oldest = reading.data_time
    return oldest


def test_a_decisions_data_time_is_the_oldest_reading_of_its_passing_acting_leaves(
    replay_dir: Path, tmp_path: Path
) -> None:
    pipeline = _pipeline(tmp_path, replay_dir, "times", Mode.PAPER)
    work = [(s, a) for s in pipeline.strategies for a in s.assets]
    requests = [r for s, a in work for r in s.requests(a)]
    older = 0
    actions = set()
    for as_of in DAYS:
        answers = engine.gather(requests, pipeline.adapters, as_of)
        for strategy, asset in work:
            evaluation = strategy.evaluate(answers, as_of, asset)
            actions.add(evaluation.action)
            for price_time in (as_of, as_of + timedelta(days=400)):
                found = decision_data_time(evaluation, price_time)
                assert found == _from_readings(evaluation, price_time)
                older += found < price_time
    pipeline.audit.close()
    assert {Side.BUY, Side.SELL} <= actions
    assert older  # passing leaves read data older than a later price: the walk is not vacuous
