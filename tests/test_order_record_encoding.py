"""The shortcuts that encode a sized order's decision record write the general encoders' bytes.

A gated decision's record holds its risk decision (a dozen checks), its order and, when the
order filled, the execution; each is encoded at every gated decision of a backtest. Each fast
path is compared with the general way it stands for, on realistic and on odd inputs (many
checks, Decimal edge values, None, floats, odd enums, times in other zones and at a fall-back
hour, text JSON escapes, secret-looking text):

- ``json_ready`` (a copy with only what JSON cannot write converted) against ``json_safe``;
- ``RiskDecision.to_json`` against ``canonical_json_of_plain(to_dict())``;
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.audit.record import canonical_json_of_plain
from signalops.canonical import (
    canonical_json,
    canonical_json_without_floats,
    json_ready,
    json_safe,
    writes_as_stdlib,
)
from signalops.codes import Code
from signalops.orders import Mode, OrderIntent, client_order_id, decision_id
from signalops.risk import CheckResult, RiskDecision, TradingState
from signalops.risk.decision import checked
from signalops.side import Side
from signalops.strategy import load

AS_OF = datetime(2023, 3, 13, 14, tzinfo=UTC)
NEW_YORK = ZoneInfo("America/New_York")
ZONES = (UTC, ZoneInfo("Europe/Paris"), NEW_YORK, timezone(timedelta(hours=5)))
# 01:30 on 2023-11-05 happens twice in New York: equal wall times an hour apart.
FIRST_HALF_PAST_ONE = datetime(2023, 11, 5, 1, 30, tzinfo=NEW_YORK)
SECOND_HALF_PAST_ONE = FIRST_HALF_PAST_ONE.replace(fold=1)
STRATEGY = load(ROOT / "strategies" / "technical_baseline.yaml")


class Shouted(str, Enum):  # noqa: UP042 (a str enum whose value is not its text)
    LOUD = "loud"

    def __new__(cls, value: str) -> Shouted:
        member = str.__new__(cls, value.upper())
        member._value_ = value
        return member


class Named(str, Enum):  # noqa: UP042 (prints its name, though its value is its text)
    BUY = "BUY"


class Tag(str):
    """Text of another class: JSON writes its text."""


leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**70)
    | st.floats()
    | st.sampled_from([0.0, -0.0, 1e16, 1e-5, 5e-324, float("nan"), float("inf")])
    | st.text(max_size=6)
    | st.sampled_from(["sha256:5e", "1e5", "0.00001", "api_key=abc", "null", 'a"b', "a\\b"])
    | st.decimals()
    | st.sampled_from([Decimal("0E-8"), Decimal("-0"), Decimal("1E+3"), Decimal("sNaN")])
    | st.datetimes(timezones=st.sampled_from(ZONES))
    | st.sampled_from([AS_OF, FIRST_HALF_PAST_ONE, SECOND_HALF_PAST_ONE])
    | st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(1200, 1, 1), timezones=st.just(UTC)
    )
    | st.sampled_from([*Side, *TradingState, *Code, Shouted.LOUD, Named.BUY, Tag("tag")])
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(st.sampled_from([*Side, "BUY", Shouted.LOUD, Named.BUY]), max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
        | st.frozensets(st.integers(), max_size=3)
    ),
    max_leaves=8,
)
keys = st.text(max_size=6) | st.sampled_from(["limit", "actual", "unit", "exempt", "equity"])
details = st.dictionaries(keys, values, max_size=7) | st.dictionaries(
    keys | st.integers(), values, max_size=3
)


def written(value: Any) -> str:
    """The bytes the general way writes a value's plain data as."""
    return canonical_json_of_plain(json_safe(value))


# --- json_ready ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(details, st.booleans())
def test_a_mapping_made_ready_is_json_safe_of_it_and_sure_only_when_orjson_writes_it_alike(
    mapping, as_view
):
    given_mapping = MappingProxyType(mapping) if as_view else mapping
    before = canonical_json(json_safe(mapping))
    ready, sure = json_ready(given_mapping)
    assert type(ready) is dict
    if any(type(key) is not str for key in mapping):
        # Kept as it is (json_safe turns it to text): orjson refuses it, the caller goes the
        # general way.
        with pytest.raises(TypeError):
            orjson.dumps(ready, option=orjson.OPT_SORT_KEYS)
        return
    assert canonical_json_of_plain(ready) == written(mapping)
    assert canonical_json(ready) == before
    assert sure == writes_as_stdlib(json_safe(mapping))
    if sure:
        assert canonical_json_without_floats(ready) == canonical_json(ready)
    assert canonical_json(json_safe(mapping)) == before  # the mapping itself is left as it was
    assert ready is not mapping


ODD = {
    "odd enum": Shouted.LOUD,
    "enum printing its name": Named.BUY,
    "text of another class": Tag("tag"),
    "list with an odd enum": [Side.BUY, Shouted.LOUD],
    "float": 1e16,
    "nan": float("nan"),
    "int key": {1: "a"},
    "nested odd enum": {"a": [Shouted.LOUD]},
    "tuple": (Side.BUY, Decimal("1.5")),
    "set": frozenset({3, 1}),
    "huge int": 2**70,
    "naive-free times": [AS_OF, SECOND_HALF_PAST_ONE],
    "fine": {"a": [Side.BUY, "x", 1, None, True]},
}


@pytest.mark.parametrize("value", ODD.values(), ids=ODD.keys())
def test_an_odd_value_made_ready_is_sure_only_when_json_safe_of_it_writes_alike(value):
    mapping = {"limit": Decimal("0.10"), "value": value, "unit": "u"}
    ready, sure = json_ready(MappingProxyType(mapping))
    assert canonical_json_of_plain(ready) == written(mapping)
    assert sure == writes_as_stdlib(json_safe(mapping))


# --- a risk decision -------------------------------------------------------------------------


def gate_details(order: OrderIntent, equity: Decimal, last_trade: datetime | None) -> list[Any]:
    """The checks a gate records for ``order`` (their details as the gate writes them)."""
    notional, quantity = order.notional, order.quantity
    fraction = "fraction of equity"
    marks = {"BTC": {"at": "2023-03-13T00:00:00Z", "price": "20000.10", "source": "market"}}
    cooldown = None if last_trade is None else Decimal(7200)
    return [
        (
            Code.KILL_SWITCH,
            True,
            {"limit": "inactive", "actual": "inactive", "unit": "kill switch", "file": None},
        ),
        (
            Code.TRADING_STATE,
            True,
            {
                "limit": TradingState.ACTIVE,
                "actual": order.side,
                "unit": "trading state",
                "allowed": [Side.BUY, Side.SELL],
            },
        ),
        (
            Code.DATA_STALE,
            True,
            {
                "limit": Decimal(7200),
                "actual": Decimal(0),
                "unit": "seconds",
                "data_time": order.as_of,
                "as_of": order.as_of.replace(),
            },
        ),
        (
            Code.DUPLICATE_DECISION,
            True,
            {"limit": 1, "actual": 1, "unit": "executions", "decision_id": order.decision_id},
        ),
        (
            Code.NO_POSITION,
            True,
            {"limit": Decimal("0.5"), "actual": quantity, "unit": "units", "exempt": "BUY"},
        ),
        (
            Code.MAX_POSITION,
            False,
            {
                "limit": Decimal("0.10"),
                "actual": Decimal("0.100001"),
                "unit": fraction,
                "position_value": notional * 2,
                "equity": equity,
            },
        ),
        (
            Code.MAX_DAILY_LOSS,
            True,
            {
                "limit": Decimal("0.03"),
                "actual": Decimal("-0.000191"),
                "unit": fraction,
                "equity": equity,
                "day_start_equity": Decimal(10000),
                "day_start_marks": marks,
            },
        ),
        (Code.ORDER_RATE, True, {"limit": 10, "actual": 1, "unit": "orders in the last hour"}),
        (
            Code.COOLDOWN,
            True,
            {"limit": Decimal(3600), "actual": cooldown, "unit": "s", "last_trade": last_trade},
        ),
        (Code.MIN_NOTIONAL, True, {"limit": Decimal(10), "actual": notional, "unit": "quote"}),
        (Code.MAX_NOTIONAL, True, {"limit": Decimal(10000), "actual": notional, "unit": "quote"}),
    ]


def _order(**changes: Any) -> OrderIntent:
    did = decision_id(STRATEGY.content_hash, "BTC", AS_OF, "paper")
    order = OrderIntent(
        did, client_order_id(did), STRATEGY.name, "BTC", Side.BUY, Decimal("0.02818513"),
        Decimal("17930.86"), Decimal("0.02818513") * Decimal("17930.86"), AS_OF, Mode.PAPER,
    )  # fmt: skip
    return replace(order, **changes)


def as_gate_makes(checks: list[Any]) -> RiskDecision:
    """A decision as the gate makes it: ``checked`` with a read-only view of each dict."""
    made = tuple(checked(code, passed, MappingProxyType(dict(d))) for code, passed, d in checks)
    return RiskDecision(all(c.passed for c in made), made)


@pytest.mark.parametrize("last_trade", [None, AS_OF - timedelta(hours=2)], ids=["first", "later"])
def test_a_gates_decision_as_json_is_the_canonical_json_of_its_dict(last_trade):
    order = _order()
    for equity in (Decimal(10000), Decimal("9998.0865588422764"), Decimal("0E-10")):
        decision = as_gate_makes(gate_details(order, equity, last_trade))
        assert decision.to_json() == canonical_json_of_plain(decision.to_dict())
        assert decision.to_json() == canonical_json(decision.to_dict())


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Code)),
            st.booleans() | st.sampled_from([0, 1, None]),
            details,
        ),
        max_size=16,
    ),
    st.booleans() | st.just(1),
    st.booleans(),
)
def test_any_risk_decision_as_json_is_the_canonical_json_of_plain_of_its_dict(
    checks, approved, as_gate
):
    if as_gate:
        made = tuple(checked(c, p, MappingProxyType(dict(d))) for c, p, d in checks)
    else:
        made = tuple(CheckResult(c, p, d) for c, p, d in checks)
    decision = RiskDecision(approved, made)
    assert decision.to_json() == canonical_json_of_plain(decision.to_dict())


KEYS = {
    "int": 3,
    "bool": True,
    "none": None,
    "text of another class": Tag("k"),
    "odd enum": Shouted.LOUD,
    "enum printing its name": Named.BUY,
    "code": Code.MAX_POSITION,
}


@pytest.mark.parametrize("key", KEYS.values(), ids=KEYS.keys())
def test_a_key_that_is_not_text_is_written_as_to_dict_turns_it_to_text(key):
    checks = [(Code.MAX_POSITION, False, {key: Decimal("1.5"), "a": 2**70, "unit": "u"})]
    for as_gate in (False, True):
        made = (
            as_gate_makes(checks)
            if as_gate
            else RiskDecision(False, tuple(CheckResult(c, p, d) for c, p, d in checks))
        )
        assert made.to_json() == canonical_json_of_plain(made.to_dict())


def test_equal_times_of_a_fall_back_hour_each_print_their_own_utc_time():
    # Equal in Python (the same wall time, the same zone), an hour apart in UTC.
    assert FIRST_HALF_PAST_ONE == SECOND_HALF_PAST_ONE
    for first, then in [
        (FIRST_HALF_PAST_ONE, SECOND_HALF_PAST_ONE),
        (SECOND_HALF_PAST_ONE, FIRST_HALF_PAST_ONE),
    ]:
        checks = [(Code.DATA_STALE, True, {"data_time": first, "as_of": then})]
        decision = as_gate_makes(checks)
        assert decision.to_json() == canonical_json_of_plain(decision.to_dict())
        assert '"as_of":"2023-11-05T0' in decision.to_json()
    stamps = {json_safe(FIRST_HALF_PAST_ONE), json_safe(SECOND_HALF_PAST_ONE)}
    assert stamps == {"2023-11-05T05:30:00Z", "2023-11-05T06:30:00Z"}


def test_a_time_printed_again_in_the_next_decision_is_its_own():
    earlier = AS_OF - timedelta(hours=5)
    for moment in (AS_OF, AS_OF.replace(), earlier, AS_OF.replace(microsecond=7), AS_OF):
        decision = as_gate_makes([(Code.COOLDOWN, True, {"last_trade": moment})])
        assert decision.to_json() == canonical_json(decision.to_dict())
