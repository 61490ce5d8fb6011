"""The pre-trade risk gate: every check passes and denies with its exact code and details, all
checks are recorded in order, SELLs that reduce risk get through, and sizing is exact Decimal.

The base situation, unless a case says otherwise: 10,000 in cash, no positions, a day that
started at 10,000, a BUY of 0.01 BTC at 50,000 (notional 500, 5% of equity), checked at T0 on
data from T0, under the default limits.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.codes import Code
from signalops.orders import (
    FillCosts,
    Mode,
    OrderIntent,
    PortfolioView,
    Position,
    Side,
    client_order_id,
)
from signalops.risk import (
    CHECKS,
    DEFAULT_LIMITS,
    CashCut,
    Kelly,
    RiskDecision,
    RiskLimits,
    RiskReason,
    RiskState,
    Sizing,
    TradingState,
    check,
    kill_switch_active,
    size_order,
    sized_order,
)

D = Decimal
T0 = datetime(2024, 11, 6, 12, 0, tzinfo=UTC)
ORDER = [
    "KILL_SWITCH",
    "TRADING_STATE",
    "DATA_STALE",
    "DUPLICATE_DECISION",
    "NO_POSITION",
    "MAX_POSITION",
    "MAX_EXPOSURE",
    "MAX_DAILY_LOSS",
    "ORDER_RATE",
    "COOLDOWN",
    "MIN_NOTIONAL",
    "MAX_NOTIONAL",
]


def position(asset: str, quantity: str, price: str, average: str | None = None) -> Position:
    return Position(asset, D(quantity), D(average or price), D(price))


def portfolio(cash: str = "10000", *positions: Position, day_start: str = "10000") -> PortfolioView:
    return PortfolioView(D(cash), {p.asset: p for p in positions}, D(0), D(day_start))


def intent(
    side: str = "BUY",
    quantity: str = "0.01",
    price: str = "50000",
    asset: str = "BTC",
    decision: str = "dec-1",
    notional: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy="s",
        asset=asset,
        side=Side(side),
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(notional) if notional is not None else D(quantity) * D(price),
        as_of=T0,
        mode=Mode.PAPER,
    )


def run(
    order: OrderIntent | None = None,
    state: RiskState | None = None,
    limits: RiskLimits = DEFAULT_LIMITS,
    *,
    as_of: datetime = T0,
    data_time: datetime = T0,
) -> RiskDecision:
    return check(
        order or intent(),
        state or RiskState(portfolio()),
        limits,
        as_of=as_of,
        data_time=data_time,
    )


def outcome(decision: RiskDecision, code: str) -> dict[str, Any]:
    [found] = [c.to_dict() for c in decision.checks if c.code == code]
    return found


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


# --- each check, passing and denying ------------------------------------------------------------

HELD = position("BTC", "0.02", "50000")  # 1,000 of BTC
CASE_FIELDS = ("order", "state", "limits", "as_of", "data_time", "code", "passed", "details")


def case(
    id: str,
    code: str,
    passed: bool,
    details: dict[str, Any],
    *,
    order: OrderIntent | None = None,
    state: RiskState | None = None,
    limits: RiskLimits = DEFAULT_LIMITS,
    as_of: datetime = T0,
    data_time: datetime = T0,
) -> Any:
    return pytest.param(order, state, limits, as_of, data_time, code, passed, details, id=id)


CASES = [
    # KILL_SWITCH
    case(
        "kill_switch_off_passes",
        "KILL_SWITCH",
        True,
        {"limit": "inactive", "actual": "inactive", "unit": "kill switch", "file": None},
    ),
    case(
        "kill_switch_on_denies_and_names_the_file",
        "KILL_SWITCH",
        False,
        {"limit": "inactive", "actual": "active", "unit": "kill switch", "file": "/run/KILL"},
        state=RiskState(portfolio(), kill_switch=True),
        limits=RiskLimits(kill_switch_file="/run/KILL"),
    ),
    case(
        "kill_switch_on_denies_a_reducing_sell_too",
        "KILL_SWITCH",
        False,
        {"limit": "inactive", "actual": "active", "unit": "kill switch", "file": None},
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD), kill_switch=True),
    ),
    # TRADING_STATE
    case(
        "active_state_passes_a_buy",
        "TRADING_STATE",
        True,
        {"limit": "ACTIVE", "actual": "BUY", "unit": "trading state", "allowed": ["BUY", "SELL"]},
    ),
    case(
        "halted_state_denies_a_buy",
        "TRADING_STATE",
        False,
        {"limit": "HALTED", "actual": "BUY", "unit": "trading state", "allowed": []},
        limits=RiskLimits(trading_state="HALTED"),
    ),
    case(
        "halted_state_denies_a_reducing_sell",
        "TRADING_STATE",
        False,
        {"limit": "HALTED", "actual": "SELL", "unit": "trading state", "allowed": []},
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD)),
        limits=RiskLimits(trading_state="HALTED"),
    ),
    case(
        "reducing_state_denies_a_buy",
        "TRADING_STATE",
        False,
        {"limit": "REDUCING", "actual": "BUY", "unit": "trading state", "allowed": ["SELL"]},
        limits=RiskLimits(trading_state="REDUCING"),
    ),
    case(
        "reducing_state_passes_a_sell_that_reduces_a_position",
        "TRADING_STATE",
        True,
        {"limit": "REDUCING", "actual": "SELL", "unit": "trading state", "allowed": ["SELL"]},
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD)),
        limits=RiskLimits(trading_state="REDUCING"),
    ),
    case(
        "reducing_state_denies_a_sell_without_a_position",
        "TRADING_STATE",
        False,
        {"limit": "REDUCING", "actual": "SELL", "unit": "trading state", "allowed": ["SELL"]},
        order=intent("SELL"),
        limits=RiskLimits(trading_state="REDUCING"),
    ),
    # DATA_STALE
    case(
        "data_exactly_max_data_age_old_passes",
        "DATA_STALE",
        True,
        {
            "limit": "900",
            "actual": "900",
            "unit": "seconds",
            "data_time": "2024-11-06T11:45:00Z",
            "as_of": "2024-11-06T12:00:00Z",
        },
        data_time=T0 - seconds(900),
    ),
    case(
        "approval_clicked_hours_later_is_stale",
        "DATA_STALE",
        False,
        {
            "limit": "900",
            "actual": "10800",
            "unit": "seconds",
            "data_time": "2024-11-06T09:00:00Z",
            "as_of": "2024-11-06T12:00:00Z",
        },
        data_time=T0 - timedelta(hours=3),
    ),
    case(
        "data_a_microsecond_past_the_limit_is_stale",
        "DATA_STALE",
        False,
        {
            "limit": "900",
            "actual": "900.000001",
            "unit": "seconds",
            "data_time": "2024-11-06T11:44:59.999999Z",
            "as_of": "2024-11-06T12:00:00Z",
        },
        data_time=T0 - timedelta(seconds=900, microseconds=1),
    ),
    case(
        "data_dated_after_the_check_is_refused",
        "DATA_STALE",
        False,
        {
            "limit": "900",
            "actual": "-1",
            "unit": "seconds",
            "data_time": "2024-11-06T12:00:01Z",
            "as_of": "2024-11-06T12:00:00Z",
        },
        data_time=T0 + seconds(1),
    ),
    case(
        "stale_data_denies_a_reducing_sell_too",
        "DATA_STALE",
        False,
        {
            "limit": "900",
            "actual": "3600",
            "unit": "seconds",
            "data_time": "2024-11-06T11:00:00Z",
            "as_of": "2024-11-06T12:00:00Z",
        },
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD)),
        data_time=T0 - timedelta(hours=1),
    ),
    # DUPLICATE_DECISION
    case(
        "new_decision_passes",
        "DUPLICATE_DECISION",
        True,
        {"limit": 1, "actual": 1, "unit": "executions of this decision", "decision_id": "dec-1"},
        state=RiskState(portfolio(), executed_decisions=frozenset({"dec-0"})),
    ),
    case(
        "decision_already_executed_is_a_duplicate",
        "DUPLICATE_DECISION",
        False,
        {"limit": 1, "actual": 2, "unit": "executions of this decision", "decision_id": "dec-1"},
        state=RiskState(portfolio(), executed_decisions=frozenset({"dec-1"})),
    ),
    case(
        "duplicate_sell_is_denied_too",
        "DUPLICATE_DECISION",
        False,
        {"limit": 1, "actual": 2, "unit": "executions of this decision", "decision_id": "dec-1"},
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD), executed_decisions=frozenset({"dec-1"})),
    ),
    # NO_POSITION
    case(
        "buy_is_exempt_from_no_position",
        "NO_POSITION",
        True,
        {"limit": "0", "actual": "0.01", "unit": "asset units", "exempt": "BUY"},
    ),
    case(
        "sell_without_a_position_is_no_position",
        "NO_POSITION",
        False,
        {"limit": "0", "actual": "0.01", "unit": "asset units"},
        order=intent("SELL"),
    ),
    case(
        "sell_of_more_than_is_held_is_no_position",
        "NO_POSITION",
        False,
        {"limit": "0.02", "actual": "0.03", "unit": "asset units"},
        order=intent("SELL", "0.03"),
        state=RiskState(portfolio("9000", HELD)),
    ),
    case(
        "sell_of_the_whole_position_passes",
        "NO_POSITION",
        True,
        {"limit": "0.02", "actual": "0.02", "unit": "asset units"},
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD)),
    ),
    # MAX_POSITION (the asset's value after the order / equity)
    case(
        "buy_to_exactly_max_position_passes",
        "MAX_POSITION",
        True,
        {
            "limit": "0.10",
            "actual": "0.100000",
            "unit": "fraction of equity",
            "position_value": "1000.00",
            "equity": "10000",
        },
        order=intent("BUY", "0.02"),
    ),
    case(
        "buy_onto_a_held_position_past_max_position_is_denied",
        "MAX_POSITION",
        False,
        {
            "limit": "0.10",
            "actual": "0.150000",
            "unit": "fraction of equity",
            "position_value": "1500.00",
            "equity": "10000.00",
        },
        state=RiskState(portfolio("9000", HELD)),
    ),
    case(
        "held_position_is_marked_at_the_reference_price",
        # bought at 40,000, last seen at 40,000, now 50,000: 0.02 BTC is 1,000 (not 800) of
        # equity 10,000 (not 9,800), so the BUY of 500 makes 15%
        "MAX_POSITION",
        False,
        {
            "limit": "0.10",
            "actual": "0.150000",
            "unit": "fraction of equity",
            "position_value": "1500.00",
            "equity": "10000.00",
        },
        state=RiskState(portfolio("9000", position("BTC", "0.02", "40000"))),
    ),
    case(
        "buy_with_no_equity_is_denied_max_position",
        "MAX_POSITION",
        False,
        {
            "limit": "0.10",
            "actual": None,
            "unit": "fraction of equity",
            "position_value": "500.00",
            "equity": "0",
        },
        state=RiskState(portfolio("0")),
    ),
    case(
        "reducing_sell_is_exempt_from_max_position",
        "MAX_POSITION",
        True,
        {
            "limit": "0.05",
            "actual": "0.050000",
            "unit": "fraction of equity",
            "position_value": "500.00",
            "equity": "10000.00",
            "exempt": "SELL",
        },
        order=intent("SELL", "0.01"),
        state=RiskState(portfolio("9000", HELD)),
        limits=RiskLimits(max_position=D("0.05")),
    ),
    # MAX_EXPOSURE (all positions after the order / equity)
    case(
        "buy_within_max_exposure_passes",
        "MAX_EXPOSURE",
        True,
        {
            "limit": "0.50",
            "actual": "0.500000",
            "unit": "fraction of equity",
            "exposure": "5000.00",
            "equity": "10000.0",
        },
        state=RiskState(portfolio("5500", position("ETH", "1.5", "3000"))),
    ),
    case(
        "buy_past_max_exposure_is_denied",
        "MAX_EXPOSURE",
        False,
        {
            "limit": "0.50",
            "actual": "0.500001",
            "unit": "fraction of equity",
            "exposure": "5000.0100000",
            "equity": "10000.0",
        },
        order=intent("BUY", "0.0100002"),
        state=RiskState(portfolio("5500", position("ETH", "1.5", "3000"))),
    ),
    case(
        "reducing_sell_is_exempt_from_max_exposure",
        "MAX_EXPOSURE",
        True,
        {
            "limit": "0.10",
            "actual": "0.550000",
            "unit": "fraction of equity",
            "exposure": "5500.00",
            "equity": "10000.00",
            "exempt": "SELL",
        },
        order=intent("SELL", "0.01"),
        state=RiskState(portfolio("4000", HELD, position("ETH", "2", "2500"))),
        limits=RiskLimits(max_exposure=D("0.10")),
    ),
    # MAX_DAILY_LOSS
    case(
        "loss_just_under_the_limit_passes",
        "MAX_DAILY_LOSS",
        True,
        {
            "limit": "0.03",
            "actual": "-0.029900",
            "unit": "fraction of day-start equity (change)",
            "equity": "9701",
            "day_start_equity": "10000",
        },
        state=RiskState(portfolio("9701")),
    ),
    case(
        "loss_of_exactly_the_limit_stops_buys",
        "MAX_DAILY_LOSS",
        False,
        {
            "limit": "0.03",
            "actual": "-0.030000",
            "unit": "fraction of day-start equity (change)",
            "equity": "9700",
            "day_start_equity": "10000",
        },
        state=RiskState(portfolio("9700")),
    ),
    case(
        "day_without_a_starting_equity_stops_buys",
        "MAX_DAILY_LOSS",
        False,
        {
            "limit": "0.03",
            "actual": None,
            "unit": "fraction of day-start equity (change)",
            "equity": "10000",
            "day_start_equity": "0",
        },
        state=RiskState(portfolio(day_start="0")),
    ),
    case(
        "reducing_sell_on_a_losing_day_is_exempt",
        "MAX_DAILY_LOSS",
        True,
        {
            "limit": "0.03",
            "actual": "-0.100000",
            "unit": "fraction of day-start equity (change)",
            "equity": "9000.00",
            "day_start_equity": "10000",
            "exempt": "SELL",
        },
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("8000", HELD)),
    ),
    # ORDER_RATE (trailing hour)
    case(
        "tenth_order_in_the_hour_passes",
        "ORDER_RATE",
        True,
        {"limit": 10, "actual": 10, "unit": "orders in the last hour, this one included"},
        state=RiskState(portfolio(), order_times=tuple(T0 - seconds(60 * i) for i in range(9))),
    ),
    case(
        "eleventh_order_in_the_hour_is_denied",
        "ORDER_RATE",
        False,
        {"limit": 10, "actual": 11, "unit": "orders in the last hour, this one included"},
        state=RiskState(portfolio(), order_times=tuple(T0 - seconds(60 * i) for i in range(10))),
    ),
    case(
        "order_exactly_an_hour_ago_has_left_the_window",
        "ORDER_RATE",
        True,
        {"limit": 10, "actual": 10, "unit": "orders in the last hour, this one included"},
        state=RiskState(
            portfolio(),
            order_times=(T0 - seconds(3600), *(T0 - seconds(60 * i) for i in range(9))),
        ),
    ),
    case(
        "order_a_microsecond_inside_the_hour_still_counts",
        "ORDER_RATE",
        False,
        {"limit": 10, "actual": 11, "unit": "orders in the last hour, this one included"},
        state=RiskState(
            portfolio(),
            order_times=(
                T0 - timedelta(seconds=3599, microseconds=999999),
                *(T0 - seconds(60 * i) for i in range(9)),
            ),
        ),
    ),
    case(
        "reducing_sell_is_exempt_from_order_rate",
        "ORDER_RATE",
        True,
        {
            "limit": 1,
            "actual": 3,
            "unit": "orders in the last hour, this one included",
            "exempt": "SELL",
        },
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD), order_times=(T0, T0)),
        limits=RiskLimits(max_orders_per_hour=1),
    ),
    # COOLDOWN (per asset)
    case(
        "first_trade_on_an_asset_has_no_cooldown",
        "COOLDOWN",
        True,
        {
            "limit": "3600",
            "actual": None,
            "unit": "seconds since the last trade on the asset",
            "last_trade": None,
        },
        state=RiskState(portfolio(), last_trade={"ETH": T0}),
    ),
    case(
        "buy_a_second_before_the_cooldown_ends_is_denied",
        "COOLDOWN",
        False,
        {
            "limit": "3600",
            "actual": "3599",
            "unit": "seconds since the last trade on the asset",
            "last_trade": "2024-11-06T11:00:01Z",
        },
        state=RiskState(portfolio(), last_trade={"BTC": T0 - seconds(3599)}),
    ),
    case(
        "buy_when_the_cooldown_ends_passes",
        "COOLDOWN",
        True,
        {
            "limit": "3600",
            "actual": "3600",
            "unit": "seconds since the last trade on the asset",
            "last_trade": "2024-11-06T11:00:00Z",
        },
        state=RiskState(portfolio(), last_trade={"BTC": T0 - seconds(3600)}),
    ),
    case(
        "a_trade_dated_after_the_check_is_pending_its_age_0_not_negative_with_no_cooldown_it_passes",
        "COOLDOWN",
        True,
        {
            "limit": "0",
            "actual": "0",
            "unit": "seconds since the last trade on the asset",
            "last_trade": "2024-11-08T14:30:00Z",
        },
        state=RiskState(portfolio(), last_trade={"BTC": T0 + timedelta(days=2, hours=2.5)}),
        limits=RiskLimits(cooldown=0),
    ),
    case(
        "a_trade_dated_after_the_check_is_pending_with_a_cooldown_it_is_denied_at_age_0",
        "COOLDOWN",
        False,
        {
            "limit": "3600",
            "actual": "0",
            "unit": "seconds since the last trade on the asset",
            "last_trade": "2024-11-08T14:30:00Z",
        },
        state=RiskState(portfolio(), last_trade={"BTC": T0 + timedelta(days=2, hours=2.5)}),
    ),
    case(
        "reducing_sell_right_after_a_buy_is_exempt_from_cooldown",
        "COOLDOWN",
        True,
        {
            "limit": "3600",
            "actual": "60",
            "unit": "seconds since the last trade on the asset",
            "last_trade": "2024-11-06T11:59:00Z",
            "exempt": "SELL",
        },
        order=intent("SELL", "0.02"),
        state=RiskState(portfolio("9000", HELD), last_trade={"BTC": T0 - seconds(60)}),
    ),
    # MIN_NOTIONAL / MAX_NOTIONAL
    case(
        "order_of_exactly_min_notional_passes",
        "MIN_NOTIONAL",
        True,
        {"limit": "10", "actual": "10.0000", "unit": "quote currency"},
        order=intent("BUY", "0.0002"),
    ),
    case(
        "order_below_min_notional_is_denied",
        "MIN_NOTIONAL",
        False,
        {"limit": "10", "actual": "9.950000", "unit": "quote currency"},
        order=intent("BUY", "0.000199"),
    ),
    case(
        "sell_closing_a_dust_position_is_exempt_from_min_notional",
        "MIN_NOTIONAL",
        True,
        {"limit": "10", "actual": "5.0000", "unit": "quote currency", "exempt": "SELL"},
        order=intent("SELL", "0.0001"),
        state=RiskState(portfolio("9995", position("BTC", "0.0001", "50000"))),
    ),
    case(
        "partial_sell_below_min_notional_is_denied",
        "MIN_NOTIONAL",
        False,
        {"limit": "10", "actual": "5.0000", "unit": "quote currency"},
        order=intent("SELL", "0.0001"),
        state=RiskState(portfolio("9000", HELD)),
    ),
    case(
        "order_of_exactly_max_notional_passes",
        "MAX_NOTIONAL",
        True,
        {"limit": "10000", "actual": "10000.0", "unit": "quote currency"},
        order=intent("BUY", "0.2"),
    ),
    case(
        "order_above_max_notional_is_denied",
        "MAX_NOTIONAL",
        False,
        {"limit": "10000", "actual": "10000.0050000", "unit": "quote currency"},
        order=intent("BUY", "0.2000001"),
    ),
    case(
        "no_absolute_cap_passes_any_notional",
        "MAX_NOTIONAL",
        True,
        {"limit": None, "actual": "5000000", "unit": "quote currency"},
        order=intent("BUY", "100"),
        limits=RiskLimits(max_notional=None),
    ),
    case(
        "large_sell_is_exempt_from_max_notional",
        "MAX_NOTIONAL",
        True,
        {"limit": "10000", "actual": "50000", "unit": "quote currency", "exempt": "SELL"},
        order=intent("SELL", "1"),
        state=RiskState(portfolio("0", position("BTC", "1", "50000"))),
    ),
]


@pytest.mark.parametrize(CASE_FIELDS, CASES)
def test_check_records_the_exact_code_outcome_and_details(
    order, state, limits, as_of, data_time, code, passed, details
):
    decision = run(order, state, limits, as_of=as_of, data_time=data_time)
    assert outcome(decision, code) == {"code": code, "passed": passed, "details": details}
    assert decision.approved is all(c.passed for c in decision.checks)
    assert (code in decision.codes) is (not passed)


# --- the decision as a whole ---------------------------------------------------------------------


def test_every_check_is_recorded_in_order_when_all_pass():
    decision = run()
    assert [c.code for c in decision.checks] == ORDER == [code for code, _ in CHECKS]
    assert decision.approved
    assert decision.denials == ()
    assert all(c.passed for c in decision.checks)


def test_every_check_is_still_recorded_when_the_first_one_denies():
    state = RiskState(portfolio(), kill_switch=True)
    decision = run(state=state)
    assert [c.code for c in decision.checks] == ORDER
    assert not decision.approved
    assert decision.codes == ("KILL_SWITCH",)


def test_several_denials_are_all_reported_in_check_order():
    state = RiskState(
        portfolio("9000", HELD),
        executed_decisions=frozenset({"dec-1"}),
        last_trade={"BTC": T0 - seconds(10)},
    )
    decision = run(intent("BUY", "0.3"), state, data_time=T0 - timedelta(hours=2))
    assert decision.codes == (
        "DATA_STALE",
        "DUPLICATE_DECISION",
        "MAX_POSITION",
        "MAX_EXPOSURE",
        "COOLDOWN",
        "MAX_NOTIONAL",
    )
    assert [r.code for r in decision.denials] == list(decision.codes)
    assert all(isinstance(r, RiskReason) for r in decision.denials)
    assert decision.denials[0].details["limit"] == D(900)


def test_to_dict_is_json_with_decimals_as_strings_and_times_in_utc():
    state = RiskState(portfolio("9000", HELD), last_trade={"BTC": T0 - timedelta(hours=2)})
    text = json.dumps(run(state=state).to_dict())
    data = json.loads(text)
    assert data["approved"] is False
    assert [c["code"] for c in data["checks"]] == ORDER
    cooldown = data["checks"][ORDER.index("COOLDOWN")]["details"]
    assert cooldown["last_trade"] == "2024-11-06T10:00:00Z"
    assert cooldown["limit"] == "3600"


def test_details_hold_decimals_not_floats():
    decision = run(state=RiskState(portfolio("9000", HELD)))
    for found in decision.checks:
        for value in found.details.values():
            assert not isinstance(value, float)
    position_check = decision.checks[ORDER.index("MAX_POSITION")]
    assert position_check.details["actual"] == D("0.15")
    assert isinstance(position_check.details["equity"], Decimal)


def test_decision_and_checks_are_frozen():
    decision = run()
    with pytest.raises(FrozenInstanceError):
        decision.approved = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        decision.checks[0].details["limit"] = "x"  # type: ignore[index]


def test_times_in_other_zones_are_compared_in_utc():
    tokyo = T0.astimezone(ZoneInfo("Asia/Tokyo"))
    decision = run(as_of=tokyo, data_time=T0 - seconds(30))
    assert outcome(decision, "DATA_STALE")["details"]["actual"] == "30"
    assert outcome(decision, "DATA_STALE")["details"]["as_of"] == "2024-11-06T12:00:00Z"


def test_naive_check_time_is_refused_as_a_programming_error():
    with pytest.raises(ValueError, match="no time zone"):
        run(as_of=datetime(2024, 11, 6, 12))


# --- SELLs that reduce risk ---------------------------------------------------------------------


def test_reducing_sell_is_approved_in_reducing_state_past_every_exposure_limit():
    # A bad day (equity 9,000 of 10,000), over-concentrated, just traded, orders piling up:
    # a BUY would be denied five times over; selling is still allowed.
    state = RiskState(
        portfolio("8000", HELD, day_start="10000"),
        order_times=tuple(T0 for _ in range(20)),
        last_trade={"BTC": T0},
    )
    limits = RiskLimits(trading_state="REDUCING", max_position=D("0.01"), max_exposure=D("0.01"))
    assert run(intent("SELL", "0.02"), state, limits).approved
    buy = run(intent("BUY"), state, replace(limits, trading_state=TradingState.ACTIVE))
    assert buy.codes == ("MAX_POSITION", "MAX_EXPOSURE", "MAX_DAILY_LOSS", "ORDER_RATE", "COOLDOWN")


def test_partial_sell_reduces_and_is_approved():
    assert run(intent("SELL", "0.01"), RiskState(portfolio("9000", HELD))).approved


@pytest.mark.parametrize(
    ("state", "limits", "data_time", "code"),
    [
        (
            RiskState(portfolio("9000", HELD), kill_switch=True),
            DEFAULT_LIMITS,
            T0,
            "KILL_SWITCH",
        ),
        (
            RiskState(portfolio("9000", HELD)),
            RiskLimits(trading_state="HALTED"),
            T0,
            "TRADING_STATE",
        ),
        (RiskState(portfolio("9000", HELD)), DEFAULT_LIMITS, T0 - seconds(901), "DATA_STALE"),
        (
            RiskState(portfolio("9000", HELD), executed_decisions=frozenset({"dec-1"})),
            DEFAULT_LIMITS,
            T0,
            "DUPLICATE_DECISION",
        ),
    ],
    ids=["kill_switch", "halted", "stale_data", "duplicate"],
)
def test_reducing_sell_is_still_stopped_by_hard_stops_and_integrity_checks(
    state, limits, data_time, code
):
    decision = run(intent("SELL", "0.02"), state, limits, data_time=data_time)
    assert decision.codes == (code,)


def test_sell_without_a_position_is_denied_no_position_only():
    assert run(intent("SELL")).codes == ("NO_POSITION",)


# --- never raising ------------------------------------------------------------------------------


def test_nan_in_the_intent_denies_as_not_computable_instead_of_raising():
    decision = run(intent(price="NaN", notional="NaN"))
    assert not decision.approved
    assert [c.code for c in decision.checks] == ORDER
    failed = outcome(decision, "MAX_POSITION")
    assert failed["passed"] is False
    assert failed["details"] == {"limit": None, "actual": None, "error": "NOT_COMPUTABLE"}


def test_naive_time_in_the_order_history_denies_order_rate_instead_of_raising():
    state = RiskState(portfolio(), order_times=(datetime(2024, 11, 6, 11),))
    decision = run(state=state)
    assert decision.codes == ("ORDER_RATE",)
    assert outcome(decision, "ORDER_RATE")["details"]["error"] == "NOT_COMPUTABLE"


# --- kill switch file ---------------------------------------------------------------------------


def test_kill_switch_without_a_file_is_never_active():
    assert kill_switch_active(RiskLimits()) is False


def test_kill_switch_file_absent_is_inactive_and_present_is_active(tmp_path: Path):
    limits = RiskLimits(kill_switch_file=str(tmp_path / "KILL"))
    assert kill_switch_active(limits) is False
    (tmp_path / "KILL").touch()
    assert kill_switch_active(limits) is True


def test_kill_switch_as_a_dangling_symlink_is_active(tmp_path: Path):
    (tmp_path / "KILL").symlink_to(tmp_path / "nowhere")
    assert kill_switch_active(RiskLimits(kill_switch_file=str(tmp_path / "KILL"))) is True


def test_kill_switch_under_a_missing_folder_is_inactive(tmp_path: Path):
    limits = RiskLimits(kill_switch_file=str(tmp_path / "no" / "KILL"))
    assert kill_switch_active(limits) is False


def test_kill_switch_that_cannot_be_checked_counts_as_active(monkeypatch: pytest.MonkeyPatch):
    def refuse(self: Path) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "lstat", refuse)
    assert kill_switch_active(RiskLimits(kill_switch_file="/locked/KILL")) is True


def test_kill_switch_path_that_is_not_a_path_counts_as_active():
    assert kill_switch_active(RiskLimits(kill_switch_file="KI\0LL")) is True


# --- limits -------------------------------------------------------------------------------------


def test_default_limits_are_the_documented_cautious_ones():
    assert DEFAULT_LIMITS.to_dict() == {
        "kill_switch_file": None,
        "trading_state": "ACTIVE",
        "max_data_age": 900,
        "max_position": "0.10",
        "max_exposure": "0.50",
        "max_daily_loss": "0.03",
        "max_orders_per_hour": 10,
        "cooldown": 3600,
        "min_notional": "10",
        "max_notional": "10000",
        "kelly": None,
    }


def test_limits_given_as_floats_become_the_decimals_they_print_as():
    limits = RiskLimits(
        max_position=0.1, min_notional=5.5, kelly={"fraction": 0.5, "win_rate": 0.55, "payoff": 1.2}
    )
    assert limits.max_position == D("0.1") and isinstance(limits.max_position, Decimal)
    assert limits.min_notional == D("5.5")
    assert limits.kelly == Kelly(D("0.5"), D("0.55"), D("1.2"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_position": D("1.5")}, "max_position must be a fraction from 0 to 1"),
        ({"max_exposure": D("-0.1")}, "max_exposure must be a fraction"),
        ({"cooldown": -1}, "cooldown must be a whole number >= 0"),
        ({"max_data_age": 1.5}, "max_data_age must be a whole number"),
        ({"max_notional": D(0)}, "max_notional must be > 0"),
        ({"min_notional": D(-1)}, "min_notional must be >= 0"),
        ({"trading_state": "PAUSED"}, "PAUSED"),
    ],
)
def test_impossible_limits_are_refused_when_built(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RiskLimits(**kwargs)


# --- Kelly --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "win_rate", "payoff", "full", "cap"),
    [
        ("0.5", "0.55", "1.2", "0.175", "0.0875"),  # 0.55 - 0.45 / 1.2 = 0.175
        ("1", "0.6", "1", "0.2", "0.2"),  # even money, 60%: bet 20%
        ("0.25", "0.5", "2", "0.25", "0.0625"),  # 0.5 - 0.5 / 2
        ("0.5", "0.4", "1", "-0.2", "0"),  # no edge: the cap is zero, never negative
        ("0.5", "1", "3", "1", "0.5"),  # a sure thing: still only the fraction
    ],
)
def test_kelly_cap_is_fraction_times_full_kelly_and_never_negative(
    fraction, win_rate, payoff, full, cap
):
    kelly = Kelly(D(fraction), D(win_rate), D(payoff))
    assert kelly.full == D(full)
    assert kelly.cap == D(cap)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"fraction": "0", "win_rate": "0.5", "payoff": "1"},
        {"fraction": "1.1", "win_rate": "0.5", "payoff": "1"},
        {"fraction": "0.5", "win_rate": "1.1", "payoff": "1"},
        {"fraction": "0.5", "win_rate": "0.5", "payoff": "0"},
    ],
)
def test_impossible_kelly_parameters_are_refused(kwargs):
    with pytest.raises(ValueError, match="kelly"):
        Kelly(**{k: D(v) for k, v in kwargs.items()})


# --- sizing -------------------------------------------------------------------------------------


def size(**overrides: Any) -> OrderIntent | None:
    return size_order(**sizing_arguments(**overrides))


def sized(**overrides: Any) -> Sizing:
    return sized_order(**sizing_arguments(**overrides))


def sizing_arguments(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "decision_id": "dec-abc",
        "strategy": "s",
        "asset": "BTC",
        "side": Side.BUY,
        "reference_price": D("50000"),
        "position_size": D("0.03"),
        "portfolio": portfolio(),
        "limits": DEFAULT_LIMITS,
        "as_of": T0,
        "mode": Mode.PAPER,
    }
    arguments.update(overrides)
    return arguments


def test_buy_is_sized_as_position_size_times_equity():
    order = size()
    assert order == OrderIntent(
        decision_id="dec-abc",
        client_order_id="so-abc",
        strategy="s",
        asset="BTC",
        side=Side.BUY,
        quantity=D("0.006"),
        reference_price=D("50000"),
        notional=D("300"),
        as_of=T0,
        mode=Mode.PAPER,
    )
    assert order.client_order_id == client_order_id("dec-abc")


def test_buy_quantity_rounds_down_to_eight_decimals_and_never_exceeds_the_target():
    order = size(reference_price=D("3"), position_size=D("0.01"))  # 100 / 3
    assert order is not None
    assert order.quantity == D("33.33333333")
    assert order.notional == D("99.99999999")
    assert order.notional <= D("100")


def test_float_inputs_are_taken_as_printed_decimals():
    order = size(reference_price=0.1, position_size=0.03)  # 300 / 0.1
    assert order is not None
    assert order.quantity == D("3000") and order.reference_price == D("0.1")
    assert isinstance(order.quantity, Decimal) and isinstance(order.notional, Decimal)


def test_buy_size_is_capped_by_fractional_kelly():
    limits = RiskLimits(kelly=Kelly(D("0.5"), D("0.55"), D("1.2")))  # cap 0.0875
    order = size(position_size=D("0.10"), limits=limits)
    assert order is not None
    assert order.notional == D("875") and order.quantity == D("0.0175")


def test_kelly_cap_above_the_position_size_leaves_it_alone():
    limits = RiskLimits(kelly=Kelly(D("1"), D("0.6"), D("1")))  # cap 0.2
    order = size(position_size=D("0.03"), limits=limits)
    assert order is not None and order.notional == D("300")


def test_kelly_without_an_edge_sizes_nothing():
    limits = RiskLimits(kelly=Kelly(D("0.5"), D("0.4"), D("1")))
    assert size(limits=limits) is None


def test_buy_size_counts_a_held_position_at_the_reference_price():
    # 9,000 cash + 0.02 BTC last seen at 40,000 but now 50,000: equity 10,000, 3% = 300
    held = portfolio("9000", position("BTC", "0.02", "40000"))
    order = size(portfolio=held)
    assert order is not None and order.notional == D("300")


PAPER_COSTS = FillCosts(fee_bps=D(10), slippage_bps=D(5))  # the paper broker's defaults
STEP = D("0.00000001")
ALL_IN = RiskLimits(max_position=D(1), max_exposure=D(1))  # an all-in book's limits


def test_an_all_in_buy_leaves_room_for_its_slippage_and_fee_in_the_cash():
    """position_size 1.0 sized 0.2 BTC, 10,000 of notional, which cost 10,015.00 with the
    paper broker's slippage and fee: every such BUY failed INSUFFICIENT_FUNDS."""
    order = size(position_size=D(1), costs=PAPER_COSTS, limits=ALL_IN)
    assert order is not None
    # 10,000 / (50,000 x 1.0005 x 1.001) = 0.199700345..., rounded down
    assert (order.quantity, order.notional) == (D("0.19970034"), D("9985.01700000"))
    assert PAPER_COSTS.buy_cost(order.quantity, order.reference_price) == D("9999.999518008500")
    # the most that fits: a step more would not
    assert PAPER_COSTS.buy_cost(order.quantity + STEP, order.reference_price) > D(10000)


def test_an_all_in_buy_fits_in_the_cash_the_caller_says_it_may_spend():
    # Equity 10,000 (its book), but 6,000 it may spend (its allocation): 60% must fit in it.
    order = size(position_size=D("0.6"), costs=PAPER_COSTS, cash=D(6000), limits=ALL_IN)
    assert order is not None and order.quantity == D("0.11982020")
    assert PAPER_COSTS.buy_cost(order.quantity, order.reference_price) <= D(6000)
    assert PAPER_COSTS.buy_cost(order.quantity + STEP, order.reference_price) > D(6000)


@pytest.mark.parametrize("fraction", ["0.03", "0.5", "0.998"])
def test_a_buy_that_fits_with_its_slippage_and_fee_is_sized_as_without_them(fraction):
    plain = size(position_size=D(fraction))
    assert size(position_size=D(fraction), costs=PAPER_COSTS) == plain


def test_a_buy_the_cash_cannot_pay_is_cut_to_what_it_pays_and_says_from_what():
    """5,000 cash and 2 ETH (5,000): 100% of equity is 10,000, twice the cash (the last
    equal share of an all-in book, after the others' fees). It stayed as asked and the broker
    refused it (INSUFFICIENT_FUNDS), or MAX_EXPOSURE at 100% denied it: every such entry was
    missed. It buys what the cash pays with slippage and fee, and says what was asked."""
    held = portfolio("5000", position("ETH", "2", "2500"))
    sizing = sized(position_size=D(1), portfolio=held, costs=PAPER_COSTS, limits=ALL_IN)
    order = sizing.order
    assert order is not None and order.quantity == D("0.09985017")
    assert size(position_size=D(1), portfolio=held, costs=PAPER_COSTS, limits=ALL_IN) == order
    assert sizing.cut == CashCut(asked=D("0.2"), cash=D(5000), costs=PAPER_COSTS)
    check = sizing.cut.check(order)
    assert (check.code, check.passed) == (Code.CASH_SIZE, True)
    assert check.to_dict()["details"] == {
        "asked_quantity": "0.20000000",
        "asked_cost": "10015.005000000000",  # 0.2 x 50,000 x 1.0005, and 10 bps of that
        "cash": "5000",
        "cost": "4999.999759004250",
        "fee_bps": "10",
        "slippage_bps": "5",
    }


def test_a_top_up_past_the_position_limit_is_not_cut_to_the_cash_but_left_for_the_gate():
    """BTC held at 96% of equity, a BUY of 25% more with 100 of cash left: cut to the cash it
    passed MAX_POSITION (25%: the cut order is all the gate sees) and filled, where the same
    BUY with more cash is denied. The cut is for the cash alone: as asked, the gate denies it."""
    limits = RiskLimits(max_position=D("0.25"), max_exposure=D(1))
    held = portfolio("100", position("BTC", "0.05", "50000"))  # 2,500 of 2,600
    sizing = sized(position_size=D("0.25"), portfolio=held, costs=PAPER_COSTS, limits=limits)
    assert sizing.cut is None
    assert sizing.order == size(position_size=D("0.25"), portfolio=held, limits=limits)
    assert sizing.order is not None and sizing.order.notional == D("650.00000000")
    # With nothing held the same 25% passes the limit as asked: cut to the 100 of cash.
    entry = sized(position_size=D("0.25"), portfolio=portfolio("100", position("ETH", "1", "2500")),
                  costs=PAPER_COSTS, limits=limits)  # fmt: skip
    assert entry.cut is not None and entry.order is not None and entry.order.notional < 100


def test_a_buy_that_fits_or_that_a_venue_fills_is_not_cut():
    held = portfolio("5000", position("BTC", "0.1", "50000"))
    assert sized(position_size=D("0.4"), portfolio=held, costs=PAPER_COSTS).cut is None
    venue = sized(position_size=D(1), portfolio=held)  # a venue's cash and costs are its own
    assert venue.cut is None and venue.order is not None and venue.order.quantity == D("0.2")


def test_a_buy_the_cash_pays_not_a_step_of_stays_as_asked_for_the_gate_or_broker_to_refuse():
    # 0.0004 of cash pays no 0.00000001 BTC at 50,000 with its costs (0.00050075).
    held = portfolio("0.0004", position("BTC", "0.2", "50000"))
    sizing = sized(position_size=D("0.5"), portfolio=held, costs=PAPER_COSTS)
    assert sizing.cut is None
    assert sizing.order == size(position_size=D("0.5"), portfolio=held)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cash=st.decimals(min_value=D("0.01"), max_value=D("1e9"), places=8),
    price=st.decimals(min_value=D("0.0001"), max_value=D("1e6"), places=6),
    fraction=st.decimals(min_value=D("0.001"), max_value=D(1), places=4),
    fee_bps=st.decimals(min_value=D(0), max_value=D(100), places=2),
    slippage_bps=st.decimals(min_value=D(0), max_value=D(100), places=2),
)
def test_a_sized_buy_never_costs_more_than_the_cash_that_pays_a_step_of_it(
    cash, price, fraction, fee_bps, slippage_bps
):
    costs = FillCosts(fee_bps, slippage_bps)
    account = portfolio(str(cash), day_start=str(cash))
    plain = size(reference_price=price, position_size=fraction, portfolio=account, limits=ALL_IN)
    order = size(
        reference_price=price, position_size=fraction, portfolio=account, costs=costs,
        limits=ALL_IN,
    )  # fmt: skip
    if plain is None:
        assert order is None
        return
    if costs.buy_cost(plain.quantity, price) <= cash:  # it fits: sized exactly as before
        assert order == plain
        return
    if costs.buy_cost(STEP, price) > cash:  # the cash pays not a step: left as asked
        assert order == plain
        return
    assert order is not None and order.quantity < plain.quantity
    fits = order.quantity
    assert costs.buy_cost(fits, price) <= cash < costs.buy_cost(fits + STEP, price)


def test_sell_closes_the_whole_position():
    order = size(side="SELL", portfolio=portfolio("9000", position("BTC", "0.02", "40000")))
    assert order is not None
    assert (order.side, order.quantity, order.notional) == (Side.SELL, D("0.02"), D("1000.00"))


@pytest.mark.parametrize(
    "overrides",
    [
        {"side": Side.SELL},  # nothing held
        {"reference_price": D(0)},
        {"reference_price": D("-1")},
        {"reference_price": D("NaN")},
        {"portfolio": portfolio("0")},
        {"portfolio": portfolio("-50")},
        {"position_size": D(0)},
        {"reference_price": D("1e12")},  # 300 / 1e12 rounds down to 0
    ],
    ids=[
        "sell_nothing_held",
        "zero_price",
        "negative_price",
        "nan_price",
        "no_equity",
        "negative_equity",
        "zero_size",
        "rounds_to_zero",
    ],
)
def test_sizing_with_nothing_to_order_gives_none(overrides):
    assert size(**overrides) is None


def test_sized_buy_within_the_limits_is_approved():
    order = size()
    assert order is not None
    assert run(order).approved


# --- properties ---------------------------------------------------------------------------------

ASSETS = ("BTC", "ETH", "SOL")
money = st.decimals(min_value=-1000, max_value=10**7, places=2, allow_nan=False)
price = st.decimals(min_value=0, max_value=10**5, places=2, allow_nan=False)
quantity = st.decimals(min_value=0, max_value=100, places=8, allow_nan=False)
fraction = st.decimals(min_value=0, max_value=1, places=3, allow_nan=False)
moment = st.integers(min_value=-7200, max_value=7200).map(lambda s: T0 + seconds(s))


@st.composite
def portfolios(draw: st.DrawFn) -> PortfolioView:
    held = draw(st.lists(st.sampled_from(ASSETS), unique=True, max_size=3))
    positions = [Position(a, draw(quantity), draw(price), draw(price)) for a in held]
    return PortfolioView(draw(money), {p.asset: p for p in positions}, D(0), draw(money))


@st.composite
def limit_sets(draw: st.DrawFn, lenient: bool = False) -> RiskLimits:
    """Random limits; ``lenient``: only the size limits are random, the rest let orders through,
    so that approved BUYs are common enough to test what an approval implies."""
    kelly = draw(
        st.none()
        | st.builds(
            Kelly,
            st.decimals(min_value="0.01", max_value=1, places=2),
            fraction,
            st.decimals(min_value="0.1", max_value=10, places=1),
        )
    )
    sizes = {
        "max_position": draw(fraction),
        "max_exposure": draw(fraction),
        "max_notional": draw(st.none() | st.decimals(min_value="0.01", max_value=10**6, places=2)),
        "kelly": kelly,
    }
    if lenient:
        return RiskLimits(max_daily_loss=D(1), min_notional=D(0), cooldown=0, **sizes)
    return RiskLimits(
        trading_state=draw(st.sampled_from(TradingState)),
        max_data_age=draw(st.integers(0, 7200)),
        max_daily_loss=draw(fraction),
        max_orders_per_hour=draw(st.integers(0, 20)),
        cooldown=draw(st.integers(0, 7200)),
        min_notional=draw(st.decimals(min_value=0, max_value=1000, places=2)),
        **sizes,
    )


@st.composite
def situations(
    draw: st.DrawFn, lenient: bool = False
) -> tuple[OrderIntent, RiskState, RiskLimits, datetime]:
    """An order, the state and limits it meets, and its data time. Half of the orders come from
    ``size_order``, the others are arbitrary (any side, quantity and price)."""
    view = draw(portfolios())
    limits = draw(limit_sets(lenient))
    asset = draw(st.sampled_from(ASSETS))
    side = Side.BUY if lenient else draw(st.sampled_from(Side))
    sized = None
    if draw(st.booleans()):
        sized = size_order(
            decision_id="dec-p",
            strategy="s",
            asset=asset,
            side=side,
            reference_price=draw(price),
            position_size=draw(st.decimals(min_value=0, max_value=1, places=3)),
            portfolio=view,
            limits=limits,
            as_of=T0,
            mode=Mode.PAPER,
        )
    if sized is None:
        q, p = draw(quantity), draw(price)
        sized = OrderIntent("dec-p", "so-p", "s", asset, side, q, p, q * p, T0, Mode.PAPER)
    if lenient:
        return sized, RiskState(view), limits, T0
    state = RiskState(
        portfolio=view,
        order_times=tuple(draw(st.lists(moment, max_size=25))),
        last_trade=draw(st.dictionaries(st.sampled_from(ASSETS), moment, max_size=3)),
        executed_decisions=draw(st.frozensets(st.sampled_from(["dec-p", "dec-q"]), max_size=2)),
        kill_switch=draw(st.booleans()),
    )
    return sized, state, limits, draw(moment)


PROPERTY = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(situations())
def test_random_portfolios_and_limits_never_make_check_raise(situation):
    order, state, limits, data_time = situation
    decision = check(order, state, limits, as_of=T0, data_time=data_time)
    assert [c.code for c in decision.checks] == ORDER
    assert decision.approved is all(c.passed for c in decision.checks)
    json.dumps(decision.to_dict())


@PROPERTY
@given(situations(lenient=True))
def test_approved_buy_never_takes_the_asset_above_max_position(situation):
    order, state, limits, data_time = situation
    decision = check(order, state, limits, as_of=T0, data_time=data_time)
    if not (decision.approved and order.side is Side.BUY):
        return
    view = state.portfolio
    held = view.positions.get(order.asset)
    held_quantity = held.quantity if held else D(0)
    price_now = order.reference_price
    equity = view.equity - (held.market_value if held else 0) + held_quantity * price_now
    assert equity > 0
    assert (held_quantity + order.quantity) * price_now <= limits.max_position * equity
    if limits.max_notional is not None:
        assert order.notional <= limits.max_notional


# --- a portfolio that cannot be valued ----------------------------------------------------------

UNVALUED_PORTFOLIOS = [
    pytest.param(
        portfolio("10000", Position("BTC", D("sNaN"), D("50000"), D("50000"))),
        ["BTC quantity: sNaN"],
        id="signalling_nan_quantity",
    ),
    pytest.param(
        portfolio("10000", Position("ETH", D("NaN"), D("3000"), D("3000"))),
        ["ETH quantity: NaN"],
        id="nan_quantity",
    ),
    pytest.param(
        portfolio("10000", Position("ETH", 0.5, D("3000"), D("3000"))),
        ["ETH quantity: 0.5 (float, not Decimal)"],
        id="float_quantity_from_a_venue",
    ),
    pytest.param(
        portfolio("10000", Position("ETH", D("1"), D("3000"), None)),
        ["ETH last_price: missing"],
        id="missing_price",
    ),
    pytest.param(portfolio("NaN"), ["cash: NaN"], id="nan_cash"),
    pytest.param(portfolio(day_start="sNaN"), ["day_start_equity: sNaN"], id="nan_day_start"),
]


@pytest.mark.parametrize(("view", "unvalued"), UNVALUED_PORTFOLIOS)
@pytest.mark.parametrize("side", ["BUY", "SELL"])
def test_a_portfolio_that_cannot_be_valued_is_denied_portfolio_unvalued_not_raised(
    view, unvalued, side
):
    decision = run(intent(side), RiskState(view))
    assert not decision.approved
    first = decision.checks[0]
    assert (first.code, first.passed) == (Code.PORTFOLIO_UNVALUED, False)
    assert first.to_dict()["details"] == {"limit": None, "actual": None, "unvalued": unvalued}
    # Every check still runs after it; those that need the portfolio's figures fail closed.
    assert [c.code for c in decision.checks] == [Code.PORTFOLIO_UNVALUED, *ORDER]
    assert outcome(decision, "MAX_EXPOSURE")["details"]["error"] == "NOT_COMPUTABLE"
    json.dumps(decision.to_dict())


def test_an_unvaluable_portfolio_names_every_figure_it_could_not_value():
    view = PortfolioView(
        D("NaN"),
        {
            "BTC": Position("BTC", D("sNaN"), D(1), D(1)),
            "ETH": Position("ETH", D(1), D(1), D("Infinity")),
        },
        D(0),
        D(1000),
    )
    details = run(state=RiskState(view)).checks[0].to_dict()["details"]
    assert details["unvalued"] == ["cash: NaN", "BTC quantity: sNaN", "ETH last_price: Infinity"]


def test_checks_that_do_not_need_the_portfolio_still_say_what_they_found():
    view = portfolio("10000", Position("BTC", D("sNaN"), D(1), D(1)))
    decision = run(state=RiskState(view, kill_switch=True))
    assert outcome(decision, "KILL_SWITCH")["details"]["actual"] == "active"
    assert outcome(decision, "DATA_STALE")["passed"] is True
