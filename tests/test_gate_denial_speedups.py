"""The shortcuts of gated decisions and their records give what the general ways give.

- a SELL that finds nothing to sell is denied with one frozen value per asset and book, so that
  its records repeat the outcome their template built first, byte for byte what a new template
  builds the general way;
- an order's JSON in a decision record is written from its fields at once (``_intent_json``):
  what ``_plain`` and ``_values`` write of it, and those for anything but an ``OrderIntent``
  of exact field types;
- a backtest's denied order takes its stamp, id, seconds and observations' JSON from the times
  worked out for its batch (``DecisionTemplate.prepare_order_at``): ``prepare_decision``'s
  record, and ``prepare_decision``'s way when it was recorded at another time;
- a risk decision's JSON with lists of sides (TRADING_STATE's allowed ones) is the canonical
  JSON of its dict, whatever else the lists hold;
- the optional checks are worked out once per limits object, and never another one's.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT

from signalops.adapters import registry
from signalops.adapters.gather import gather
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.prepared import _values
from signalops.audit.record import (
    DecisionTemplate,
    _intent_json,
    _plain,
    observation_entries,
    prepare_decision,
)
from signalops.audit.store import AuditLog
from signalops.canonical import all_text, canonical_json, canonical_json_of_plain, iso
from signalops.codes import Code
from signalops.config import Config
from signalops.evaluation.tree import Evaluation, Verdict
from signalops.execution.paper import PaperBroker
from signalops.observation import Observation
from signalops.orders import Mode, OrderIntent, PortfolioView, client_order_id, decision_id
from signalops.pipeline import Pipeline
from signalops.pipeline.cycle import DENIED, not_executed
from signalops.risk import CheckResult, RiskDecision, RiskLimits, TradingState, check
from signalops.risk.checks import RiskState, _checks
from signalops.side import Side
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


# --- an order's JSON --------------------------------------------------------------------------


def _order(**changes: Any) -> OrderIntent:
    did = decision_id(STRATEGY.content_hash, "BTC", AS_OF, "paper")
    order = OrderIntent(
        did, client_order_id(did), STRATEGY.name, "BTC", Side.BUY, D("0.02818513"),
        D("17930.86"), D("0.02818513") * D("17930.86"), AS_OF, Mode.PAPER,
    )  # fmt: skip
    return replace(order, **changes)


class Loud(str, Enum):  # noqa: UP042 (a str enum whose value is not its text)
    BUY = "BUY"

    def __new__(cls, value: str) -> Loud:
        member = str.__new__(cls, value.lower())
        member._value_ = value
        return member


@dataclass(frozen=True)
class Intent(OrderIntent):
    """An order of another class (its JSON is ``_plain``'s)."""


WRITTEN = {
    "plain": {},
    "odd text": {"strategy": 'Quote "q" \\ back\nslash é \u2028 \x01', "asset": "ÉTH/€"},
    "new york": {"as_of": datetime(2023, 3, 13, 7, 30, tzinfo=NEW_YORK)},
    "microseconds": {"as_of": AS_OF.replace(microsecond=120)},
    "year 999": {"as_of": datetime(999, 1, 1, tzinfo=UTC)},
    "exponents": {"quantity": D("1E+3"), "reference_price": D("-0.0"), "notional": D("1e-9")},
    "not numbers": {"quantity": D("NaN"), "reference_price": D("Infinity"), "notional": D("-0")},
    "sell, notify": {"side": Side.SELL, "mode": Mode.NOTIFY},
}
GENERAL = {
    "float quantity": {"quantity": 0.1},
    "float notional": {"notional": 1e16},
    "text side": {"side": "BUY"},
    "odd enum side": {"side": Loud.BUY},
    "text mode": {"mode": "paper"},
    "int price": {"reference_price": 17930},
}


def _general(order: Any) -> str:
    """What the record wrote as the order's JSON before ``_intent_json``."""
    return _values([[], [], _plain(order)])[2]


def _written(order: Any, moment: datetime = AS_OF) -> str | None:
    """``_intent_json`` of ``order`` in a record of a decision at ``moment``."""
    return _intent_json(order, moment, str(iso(moment)))


# The decision's time the order's as_of is written beside: most often that very time.
MOMENTS = {
    "its own time": None,
    "an equal time": AS_OF.replace(),
    "an equal time elsewhere": AS_OF.astimezone(NEW_YORK),
    "another time": AS_OF + timedelta(hours=1),
}


@pytest.mark.parametrize("moment", MOMENTS.values(), ids=MOMENTS.keys())
@pytest.mark.parametrize("changes", WRITTEN.values(), ids=WRITTEN.keys())
def test_an_orders_json_is_written_from_its_fields_as_the_general_way_writes_it(changes, moment):
    order = _order(**changes)
    written = _written(order, order.as_of if moment is None else moment)
    assert written is not None
    assert written == _general(order)
    assert written == canonical_json(_plain(order))


@pytest.mark.parametrize("changes", GENERAL.values(), ids=GENERAL.keys())
def test_an_order_of_other_types_is_left_to_the_general_way(changes):
    assert _written(_order(**changes)) is None


def test_an_order_at_a_naive_time_is_refused_as_the_general_way_refuses_it():
    order = _order(as_of=datetime(2023, 3, 13))
    with pytest.raises(ValueError, match="has no time zone") as general:
        _general(order)
    with pytest.raises(ValueError, match="has no time zone") as written:
        _written(order)
    assert str(written.value) == str(general.value)


def test_an_order_of_another_class_or_with_more_attributes_is_left_to_the_general_way():
    fields = vars(_order())
    assert _written(Intent(**fields)) is None
    extra = _order()
    object.__setattr__(extra, "venue", "x")  # json_safe of its __dict__ would write it
    assert _written(extra) is None
    assert '"venue":"x"' in _general(extra)


TEXTS = {
    "a quote": 'say "hi"',
    "a backslash": "a\\b",
    "a new line": "a\nb",
    "a control character": "a\x01b",
    "a delete": "a\x7fb",
    "not ascii": "ÉTH/€",
    "a line separator": "a\u2028b",
    "a lone surrogate": "a\ud800b",
}


@pytest.mark.parametrize("field", ["asset", "client_order_id", "decision_id", "strategy"])
@pytest.mark.parametrize("text", TEXTS.values(), ids=TEXTS.keys())
def test_an_orders_text_that_json_escapes_is_written_as_the_general_way_writes_it(field, text):
    order = _order(**{field: text})
    assert _written(order) == _general(order)


def test_a_decision_record_with_an_order_holds_the_general_ways_order_member():
    kept = DecisionTemplate(STRATEGY, "BTC", "paper")
    answers = [Observation(1.0, AS_OF, "technical", fetched_at=AS_OF)] * len(kept.requests)
    risk = RiskDecision(False, (CheckResult(Code.MAX_POSITION, False, {"limit": D("0.1")}),))
    for changes in (*WRITTEN.values(), *GENERAL.values()):
        order = _order(**changes)
        prepared = kept.prepare(
            as_of=AS_OF, verdict="BUY", action=Side.BUY, observations=answers, risk=risk,
            order=order, execution=not_executed(DENIED), recorded_at=AS_OF,
        )  # fmt: skip
        assert f'"order":{_general(order)}' in prepared.texts
        assert prepared.record["order"] == _plain(order)


# --- a denied order's record at a batch's time ------------------------------------------------


def _evaluation(moment: datetime, value: float = 25.0) -> Evaluation:
    answers = {
        request: Observation(value, moment, "technical", fetched_at=moment)
        for request in STRATEGY.requests("BTC")
    }
    return STRATEGY.evaluate(answers, moment, "BTC")


MOMENTS = tuple(AS_OF + timedelta(hours=k) for k in range(3))


def _at(kept: DecisionTemplate, observed: bool) -> Any:
    """``kept``'s times of ``MOMENTS``, with their observations' JSON written (as
    ``ReplayAnswers.entries`` writes a run's) or not."""
    times = kept.times(MOMENTS)
    if not observed:
        return times
    count = len(kept.requests)
    written = []
    for moment, stamp in zip(MOMENTS, times.stamps, strict=True):
        at = [moment] * count
        entries = observation_entries([25.0] * count, at, at, [stamp] * count, [""] * count)
        written.append("[" + ",".join(entries) + "]")
    return times.with_observed(written)


def _denied(moment: datetime, *, tag: str = "") -> tuple[OrderIntent, RiskDecision]:
    order = _order(as_of=moment)
    did = decision_id(STRATEGY.content_hash + tag, "BTC", moment, "paper")
    order = replace(order, decision_id=did, client_order_id=client_order_id(did))
    details = {"limit": D("0.10"), "actual": D("0.150395"), "as_of": moment}
    risk = RiskDecision(False, (CheckResult(Code.MAX_POSITION, False, details),))
    return order, risk


def _same(found: Any, general: Any) -> None:
    assert found.text == general.text
    assert list(found.record.items()) == list(general.record.items())
    for name in ("id", "as_of", "recorded_at", "as_of_seconds", "recorded_seconds", "status"):
        assert getattr(found, name) == getattr(general, name), name
    assert (found.verdict, found.context, found.strategy_name) == (
        general.verdict,
        general.context,
        general.strategy_name,
    )


@pytest.mark.parametrize("observed", [False, True], ids=["observations", "observed-json"])
@pytest.mark.parametrize("later", [False, True], ids=["at-its-time", "recorded-later"])
def test_a_denied_orders_record_at_a_batch_time_is_prepare_decisions(observed, later):
    kept = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = _at(kept, observed)
    execution = not_executed(DENIED)
    for i, moment in enumerate(MOMENTS):
        evaluation = _evaluation(moment)
        order, risk = _denied(moment)
        recorded = moment + timedelta(minutes=5) if later else moment
        found = kept.prepare_order_at(times, i, evaluation, order, risk, execution, recorded)
        general = prepare_decision(
            strategy=STRATEGY, evaluation=evaluation, mode="paper", intent=order, risk=risk,
            execution=execution, recorded_at=recorded,
        )  # fmt: skip
        _same(found, general)


def test_a_denied_order_at_an_equal_time_not_the_batchs_own_is_built_the_general_way():
    kept = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = _at(kept, True)
    moment = MOMENTS[1].astimezone(NEW_YORK)  # equal, but printed from its own fields
    evaluation = _evaluation(moment)
    order, risk = _denied(MOMENTS[1])
    found = kept.prepare_order_at(times, 1, evaluation, order, risk, not_executed(DENIED), moment)
    general = prepare_decision(
        strategy=STRATEGY, evaluation=evaluation, mode="paper", intent=order, risk=risk,
        execution=not_executed(DENIED), recorded_at=moment,
    )  # fmt: skip
    _same(found, general)


def test_a_secret_in_a_batch_times_stamp_is_scrubbed_as_prepare_decision_scrubs_it(
    monkeypatch: pytest.MonkeyPatch,
):
    kept = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = _at(kept, True)
    monkeypatch.setenv("VENUE_API_KEY", times.stamps[1])
    evaluation = _evaluation(MOMENTS[1])
    order, risk = _denied(MOMENTS[1])
    found = kept.prepare_order_at(
        times, 1, evaluation, order, risk, not_executed(DENIED), MOMENTS[1]
    )
    assert times.stamps[1] not in found.text
    general = prepare_decision(
        strategy=STRATEGY, evaluation=evaluation, mode="paper", intent=order, risk=risk,
        execution=not_executed(DENIED), recorded_at=MOMENTS[1],
    )  # fmt: skip
    _same(found, general)


def test_a_denied_order_of_another_decision_or_asset_is_refused():
    kept = DecisionTemplate(STRATEGY, "BTC", "paper")
    times = _at(kept, False)
    evaluation = _evaluation(MOMENTS[0])
    order, risk = _denied(MOMENTS[0], tag="other")
    with pytest.raises(ValueError, match="order intent belongs to decision"):
        kept.prepare_order_at(times, 0, evaluation, order, risk, not_executed(DENIED), MOMENTS[0])
    with pytest.raises(ValueError, match="an evaluation of BTC, not ETH"):
        DecisionTemplate(STRATEGY, "ETH", "paper").prepare_order_at(
            times, 0, evaluation, *_denied(MOMENTS[0]), not_executed(DENIED), MOMENTS[0]
        )


# --- a risk decision's lists ------------------------------------------------------------------


@pytest.mark.parametrize(
    "allowed",
    [
        [Side.BUY, Side.SELL],
        [],
        ["BUY", TradingState.ACTIVE, Code.NO_POSITION],
        [Side.BUY, Loud.BUY],
        [Side.BUY, 1, None, D("1.5")],
        [Side.SELL, 1e16],
        [[Side.BUY]],
    ],
    ids=["sides", "empty", "texts", "odd-enum", "mixed", "float", "nested"],
)
def test_a_risk_decisions_json_with_lists_is_the_canonical_json_of_its_dict(allowed):
    details = {"limit": TradingState.ACTIVE, "actual": Side.BUY, "allowed": allowed}
    decision = RiskDecision(True, (CheckResult(Code.TRADING_STATE, True, details),))
    assert decision.to_json() == canonical_json_of_plain(decision.to_dict())
    assert decision.to_dict()["checks"][0]["details"]["allowed"] is not allowed  # a copy


def test_a_list_is_written_at_once_only_when_it_holds_nothing_but_text():
    assert all_text([Side.BUY, Side.SELL]) and all_text([]) and all_text(["BUY", Code.NO_POSITION])
    assert not all_text([Side.BUY, Loud.BUY]) and not all_text([Side.BUY, 1])
    assert not all_text([[]])


# --- the optional checks ---------------------------------------------------------------------


def test_the_optional_checks_of_a_limits_object_are_worked_out_once():
    limits = RiskLimits(max_sector=D("0.5"))
    found = _checks(limits)
    assert found is _checks(limits)
    assert [code for code, _ in found][-1] is Code.MAX_SECTOR


def test_the_optional_checks_are_each_limits_objects_own():
    state = RiskState(
        portfolio=PortfolioView(cash=D(10_000), positions={}, realised_pnl=D(0),
                                day_start_equity=D(10_000))
    )  # fmt: skip
    for k in range(40):  # made and dropped in turn: a new object may get a dropped one's id
        limits = RiskLimits(max_sector=D("0.5")) if k % 2 else RiskLimits()
        decision = check(_order(), state, limits, as_of=AS_OF, data_time=AS_OF)
        assert (Code.MAX_SECTOR in [c.code for c in decision.checks]) == (k % 2 == 1)
        del limits, decision
        gc.collect()
