"""The risk gate values the account at market: the asset it trades at its reference price, and
every other asset the account holds at the latest price the cycle gathered for it.

Regression test: the gate priced only the asset it traded, so a book holding ETH sized a BUY
of BTC (``position_size`` x equity) and measured MAX_EXPOSURE and MAX_SECTOR with ETH at the
price it was bought at, a year and half its value earlier.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from signalops.adapters import gather as engine
from signalops.audit.store import AuditLog
from signalops.orders import ExecutionStatus
from signalops.pipeline.cycle import reference_price
from signalops.workspace import build_pipeline, load_strategies, open_workspace

ALWAYS_BUY = """\
strategy:
  name: "Always_Buy"
  assets: ["BTC", "ETH"]
  rules:
    - id: any
      source: technical
      conditions: [{when: "close > 1"}]
  execution: {position_size: 0.05, action_mode: paper}
"""
ETH_BOUGHT = datetime(2022, 3, 10, tzinfo=UTC)
BTC_BOUGHT = datetime(2023, 3, 10, tzinfo=UTC)


@pytest.fixture
def pipeline(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    Path("always.yaml").write_text(ALWAYS_BUY, encoding="utf-8")
    strategies = load_strategies(["always.yaml"])
    workspace = open_workspace(audit=tmp_path / "log.db")
    yield strategies[0], build_pipeline(workspace, strategies, replay=replay_dir)
    workspace.close()


def answers_at(pipeline, strategy, asset: str, at: datetime):
    requests = [*strategy.requests(asset)]
    for each in ("BTC", "ETH"):
        requests.extend(pipeline.price_requests_of(each))
    return engine.gather(requests, pipeline.adapters, at)


def order_of(log_path: Path, decision_id: str) -> dict:
    log = AuditLog(log_path)
    try:
        record = log.get(decision_id)
    finally:
        log.close()
    assert record is not None
    return record["order"]


def test_a_buy_is_sized_on_the_account_with_its_other_holding_at_market(pipeline, tmp_path):
    strategy, pipe = pipeline
    bought = pipe.decide(strategy, "ETH", ETH_BOUGHT, answers_at(pipe, strategy, "ETH", ETH_BOUGHT))
    assert bought.status is ExecutionStatus.FILLED
    (eth,) = pipe.broker.portfolio({}, BTC_BOUGHT).positions.values()

    answers = answers_at(pipe, strategy, "BTC", BTC_BOUGHT)
    outcome = pipe.decide(strategy, "BTC", BTC_BOUGHT, answers)
    assert outcome.status is ExecutionStatus.FILLED

    found = reference_price("ETH", answers, BTC_BOUGHT, None, pipe.price_requests_of("ETH"))
    assert found is not None
    eth_now = found[0]
    cash = pipe.broker.portfolio({}, ETH_BOUGHT).cash
    at_market = cash + eth.quantity * eth_now
    at_fill = cash + eth.quantity * eth.last_price
    assert eth_now < eth.last_price * Decimal("0.7")  # ETH fell by more than 30% in that year
    notional = Decimal(order_of(tmp_path / "log.db", outcome.decision_id)["notional"])
    assert notional == pytest.approx(Decimal("0.05") * at_market, rel=Decimal("1e-6"))
    assert notional != pytest.approx(Decimal("0.05") * at_fill, rel=Decimal("1e-3"))
