"""The risk gate values the account at market: the asset it trades at its reference price, and
every other asset the account holds at the latest price the cycle gathered for it.

Regression test: the gate priced only the asset it traded, so a book holding ETH sized a BUY
of BTC (``position_size`` x equity) and measured MAX_EXPOSURE and MAX_SECTOR with ETH at the
price it was bought at, a year and half its value earlier.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from signalops.adapters import gather as engine
from signalops.audit.store import AuditLog
from signalops.codes import Code
from signalops.execution.base import VenuePortfolio
from signalops.observation import Observation
from signalops.orders import ExecutionResult, ExecutionStatus, Position
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


# --- what is still not at market ------------------------------------------------------------


def test_a_holding_with_no_price_at_midnight_stays_at_its_last_fill_now_too(pipeline, tmp_path):
    """Like with like: a holding whose day starts at its last fill (no price at midnight, as a
    live outcome's) at market now made its whole move since that fill read as the day's loss."""
    strategy, pipe = pipeline
    real = pipe.broker.midnight_marks
    assert real is not None
    pipe.broker.midnight_marks = lambda asset, midnight: (
        None if asset == "ETH" else real(asset, midnight)
    )
    pipe.decide(strategy, "ETH", ETH_BOUGHT, answers_at(pipe, strategy, "ETH", ETH_BOUGHT))
    (eth,) = pipe.broker.portfolio({}, BTC_BOUGHT).positions.values()

    outcome = pipe.decide(
        strategy, "BTC", BTC_BOUGHT, answers_at(pipe, strategy, "BTC", BTC_BOUGHT)
    )

    assert outcome.status is ExecutionStatus.FILLED  # MAX_DAILY_LOSS did not see ETH's fall
    cash = pipe.broker.portfolio({}, ETH_BOUGHT).cash
    notional = Decimal(order_of(tmp_path / "log.db", outcome.decision_id)["notional"])
    at_fill = cash + eth.quantity * eth.last_price
    assert notional == pytest.approx(Decimal("0.05") * at_fill, rel=Decimal("1e-6"))


def test_a_resumed_cycle_sizes_as_the_whole_cycle_would(pipeline, tmp_path, replay_dir):
    """A restarted cycle gathered prices only for the decisions it had still to make: a holding
    whose own decision at that time was recorded before the crash (BTC, bought in the cycle's
    first decision) was valued at its last fill, so the ETH BUY after it was sized, and hashed,
    otherwise than in the cycle that was not cut."""
    strategy, resumed = pipeline
    whole_log = open_workspace(audit=tmp_path / "whole.db")
    whole = build_pipeline(whole_log, [strategy], replay=replay_dir)
    for pipe in (resumed, whole):
        pipe.decide(strategy, "BTC", ETH_BOUGHT, answers_at(pipe, strategy, "BTC", ETH_BOUGHT))
    resumed.strategies = [replace(strategy, assets=("BTC",))]
    resumed.cycle(BTC_BOUGHT)  # the cycle's BTC decision, recorded before a crash
    resumed.strategies = [strategy]

    cut, uncut = resumed.cycle(BTC_BOUGHT), whole.cycle(BTC_BOUGHT)

    (eth,) = [o for o in cut.outcomes if o.asset == "ETH"]
    assert (eth.skipped, eth.status) == (False, ExecutionStatus.FILLED)
    assert [o.decision_id for o in uncut.outcomes if o.asset == "ETH"] == [eth.decision_id]
    whole_log.close()
    assert order_of(tmp_path / "log.db", eth.decision_id) == order_of(
        tmp_path / "whole.db", eth.decision_id
    )


class ThreeEthVenue:
    """A venue holding 3 ETH beside its cash, which never fills (the gate is what is tested)."""

    def portfolio(self, prices: dict[str, Any], as_of: datetime) -> VenuePortfolio:
        priced = {
            asset: Position(asset, quantity, Decimal(prices[asset]), Decimal(prices[asset]))
            for asset, quantity in {"ETH": Decimal(3)}.items()
            if asset in prices
        }
        unpriced = {"ETH": Decimal(3)} if "ETH" not in priced else {}
        return VenuePortfolio(
            cash=Decimal(10_000), positions=priced, realised_pnl=Decimal(0),
            day_start_equity=Decimal(10_000), unpriced=unpriced,
        )  # fmt: skip

    def execute(self, intent: Any, *, as_of: datetime) -> ExecutionResult:
        return ExecutionResult(ExecutionStatus.FAILED, message="not sent")


def test_a_venue_holding_priced_only_by_a_stale_answer_still_denies_an_auto_buy(pipeline, tmp_path):
    """The venue's holdings were valued at the paper ledger's marks, which take any age: with
    the paper book holding ETH too, a 6-day-old ETH price let an auto BUY reach the venue."""
    strategy, pipe = pipeline
    pipe.decide(strategy, "ETH", ETH_BOUGHT, answers_at(pipe, strategy, "ETH", ETH_BOUGHT))
    pipe.auto_executor = ThreeEthVenue()
    auto = replace(strategy, execution=replace(strategy.execution, action_mode="auto"))
    answers = dict(answers_at(pipe, auto, "BTC", BTC_BOUGHT))
    for request in pipe.price_requests_of("ETH"):
        found = answers.get(request)
        if isinstance(found, Observation):  # as if the ETH feed stopped six days ago
            answers[request] = replace(found, as_of=BTC_BOUGHT - timedelta(days=6))

    outcome = pipe.decide(auto, "BTC", BTC_BOUGHT, answers)

    assert (outcome.status, outcome.denials) == (
        ExecutionStatus.NOT_EXECUTED,
        (Code.UNPRICED_HOLDINGS,),
    )
