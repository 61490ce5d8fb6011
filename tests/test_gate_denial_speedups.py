"""The shortcuts of gated decisions and their records give what the general ways give.

- a SELL that finds nothing to sell is denied with one frozen value per asset and book, so that
  its records repeat the outcome their template built first, byte for byte what a new template
  builds the general way;
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from signalops.adapters import registry
from signalops.adapters.gather import gather
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.record import (
    DecisionTemplate,
)
from signalops.audit.store import AuditLog
from signalops.config import Config
from signalops.evaluation.tree import Evaluation, Verdict
from signalops.execution.paper import PaperBroker
from signalops.orders import Mode, decision_id
from signalops.pipeline import Pipeline
from signalops.pipeline.cycle import DENIED, not_executed
from signalops.risk import RiskDecision
from signalops.strategy import load

STRATEGY = load(ROOT / "strategies" / "technical_baseline.yaml")
# Signals SELL on 2023-03-10 and 03-11 while holding nothing.
SECOND = load(ROOT / "tests" / "fixtures" / "books_second.yaml")
BANKING = load(ROOT / "strategies" / "banking_crisis_dip.yaml")
AS_OF = datetime(2023, 3, 13, tzinfo=UTC)
NEW_YORK = timezone(timedelta(hours=-5))
D = Decimal


# --- a SELL with nothing to sell --------------------------------------------------------------


def _pipeline(tmp_path: Path, replay_dir: Path, *strategies: Any) -> Pipeline:
    log = AuditLog(tmp_path / "audit.db")
    store = SnapshotStore(replay_dir)
    return Pipeline(
        strategies=list(strategies),
        adapters=registry.replay_adapters(store),
        audit=log,
        broker=PaperBroker(log.db, starting_cash="10000"),
        config=Config(),
        mode=Mode.PAPER,
        clock=lambda: AS_OF,
    )


def _sell(pipeline: Pipeline, day: int) -> tuple[Evaluation, RiskDecision]:
    """SECOND's SELL of BTC on 2023-03-``day`` and the gate's answer to it."""
    as_of = datetime(2023, 3, day, tzinfo=UTC)
    requests = [*SECOND.requests("BTC"), *pipeline.price_requests_of("BTC")]
    answers = gather(requests, pipeline.adapters, as_of)
    evaluation = SECOND.evaluate(answers, as_of, "BTC")
    assert evaluation.verdict is Verdict.SELL
    did = decision_id(SECOND.content_hash, "BTC", as_of, "paper")
    intent, gate = pipeline.gate(SECOND, "BTC", as_of, evaluation, answers, did, Mode.PAPER)
    assert intent is None
    return evaluation, gate


@pytest.mark.parametrize("shared", [False, True], ids=["alone", "shared"])
def test_a_sell_with_nothing_to_sell_is_denied_with_one_value_its_records_repeat(
    tmp_path: Path, replay_dir: Path, shared: bool
):
    strategies = (SECOND, BANKING) if shared else (SECOND,)
    pipeline = _pipeline(tmp_path, replay_dir, *strategies)
    first, denied = _sell(pipeline, 10)
    second, again = _sell(pipeline, 11)
    assert again is denied  # the same frozen value: its records repeat their first outcome
    details = {"asset": "BTC", "side": "SELL"}
    if shared:  # the book looked at is named, as the gate always named it
        details.update(book=SECOND.name, actual="0", unit="asset units")
    assert denied.to_dict() == {
        "approved": False,
        "checks": [{"code": "NO_POSITION", "passed": False, "details": details}],
    }
    execution = not_executed(DENIED)
    kept = DecisionTemplate(SECOND, "BTC", "paper")
    for evaluation in (first, second):
        fields = {
            "as_of": evaluation.as_of,
            "verdict": evaluation.verdict,
            "action": evaluation.action,
            "observations": evaluation.observations,
            "risk": denied,
            "execution": execution,
            "recorded_at": evaluation.as_of,
        }
        built = kept.prepare(**fields)
        general = DecisionTemplate(SECOND, "BTC", "paper").prepare(**fields)
        assert built.text == general.text
        assert list(built.record.items()) == list(general.record.items())
    assert kept._last is not None and kept._last.risk is denied  # built on, the second time
