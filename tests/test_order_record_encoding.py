"""The shortcuts that encode a sized order's decision record write the general encoders' bytes.

A gated decision's record holds its risk decision (a dozen checks), its order and, when the
order filled, the execution; each is encoded at every gated decision of a backtest. Each fast
path is compared with the general way it stands for, on realistic and on odd inputs (many
checks, Decimal edge values, None, floats, odd enums, times in other zones and at a fall-back
hour, text JSON escapes, secret-looking text):

- ``json_ready`` (a copy with only what JSON cannot write converted) against ``json_safe``;
- ``RiskDecision.to_json`` against ``canonical_json_of_plain(to_dict())``;
- an ``ExecutionResult``'s encoding (``_execution_encoded``) against ``to_dict()`` encoded;
- a whole order record, secrets in its checks included, against a new template's general way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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

from signalops.audit.record import (
    REDACTED,
    DecisionTemplate,
    _execution_encoded,
    canonical_json_of_plain,
)
from signalops.canonical import (
    canonical_json,
    canonical_json_without_floats,
    json_ready,
    json_safe,
    writes_as_stdlib,
)
from signalops.codes import Code
from signalops.observation import Observation
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    client_order_id,
    decision_id,
)
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
def test_a_key_that_is_not_text_is_written_as_the_general_way_turns_it_to_text(key):
    checks = [(Code.MAX_POSITION, False, {key: Decimal("1.5"), "a": 2**70, "unit": "u"})]
    for as_gate in (False, True):
        made = (
            as_gate_makes(checks)
            if as_gate
            else RiskDecision(False, tuple(CheckResult(c, p, d) for c, p, d in checks))
        )
        assert made.to_json() == canonical_json_of_plain(made.to_dict())
    result = ExecutionResult(ExecutionStatus.FILLED, "m", details={key: Decimal("2"), "b": 1})
    assert _execution_encoded(result) == general_execution(result)


class _ReadOnly(Mapping[str, Any]):
    """A mapping with no ``copy`` (a plugin's details may be one, seen through a view)."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def test_details_seen_through_a_view_of_a_mapping_without_copy_are_written_as_before():
    details = MappingProxyType(_ReadOnly({"limit": Decimal("0.10"), "value": 2, "unit": "u"}))
    made = RiskDecision(False, (CheckResult(Code.MAX_POSITION, False, details),))
    assert made.to_json() == canonical_json_of_plain(made.to_dict())
    assert json_ready(details) == ({"limit": "0.10", "value": 2, "unit": "u"}, True)


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


# --- an execution ----------------------------------------------------------------------------


def _fill(**changes: Any) -> Fill:
    fill = Fill(
        "so-1", "BTC", Side.BUY, Decimal("0.03814956"), Decimal("13106.31"),
        Decimal("0.4999999597236"), AS_OF, "paper", "paper-1",
    )  # fmt: skip
    return replace(fill, **changes)


class LaterFill(Fill):
    """A fill of another class: ``to_dict`` walks its dict again."""


PAPER_DETAILS = {
    "base_price": Decimal("13106.31"),
    "cash_after": Decimal("9499.5000403166764"),
    "fee_bps": Decimal(10),
    "position_after": Decimal("0E-8"),
    "price_time": AS_OF,
    "quote": "USDT",
    "slippage_bps": Decimal(0),
    "venue": "paper",
}


def general_execution(result: ExecutionResult) -> tuple[Any, str]:
    plain = result.to_dict()
    return plain, canonical_json_of_plain(plain)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from([*ExecutionStatus, "FILLED", Shouted.LOUD, Named.BUY, Tag("SUBMITTED")]),
    st.text(max_size=8) | st.sampled_from(['paper "BUY"', "token=abc", "a\\b\n"]),
    st.sampled_from([None, "fill", "later fill", "odd fill"]),
    st.none() | st.text(max_size=4),
    st.none() | st.datetimes(timezones=st.sampled_from(ZONES)),
    st.none() | st.text(max_size=4) | st.integers(),
    details | st.just(PAPER_DETAILS),
)
def test_an_executions_json_is_what_its_dict_encodes_to(
    status, message, fill, approval_id, expires_at, venue_order_id, venue_details
):
    fills = {
        None: None,
        "fill": _fill(),
        "later fill": LaterFill(**vars(_fill())),
        "odd fill": _fill(price=Decimal("NaN"), fee=1e-05),  # type: ignore[arg-type]
    }
    result = ExecutionResult(
        status, message, fills[fill], approval_id, expires_at, venue_order_id, venue_details
    )
    plain, text = _execution_encoded(result)
    assert (plain, text) == general_execution(result)
    assert plain.get("status") is result.to_dict().get("status")


def test_a_paper_fills_execution_is_encoded_without_the_scan_and_as_before():
    result = ExecutionResult(
        ExecutionStatus.FILLED, "paper BUY 0.03814956 BTC", _fill(), None, None, "paper-1",
        dict(PAPER_DETAILS),
    )  # fmt: skip
    assert _execution_encoded(result) == general_execution(result)
    assert _execution_encoded(result)[1] == canonical_json(result.to_dict())


# --- a whole order record --------------------------------------------------------------------


def _record_of(
    template: DecisionTemplate, risk: RiskDecision, execution: ExecutionResult, **kw: Any
) -> Any:
    answers = [
        Observation(28.4, AS_OF, "technical", fetched_at=AS_OF, detail={"candles": 250})
        for _ in template.requests
    ]
    return template.prepare(
        as_of=AS_OF,
        verdict="BUY",
        action=Side.BUY,
        observations=answers,
        risk=risk,
        order=_order(),
        execution=execution,
        recorded_at=AS_OF,
        **kw,
    )


@pytest.mark.parametrize("at_batch_time", [False, True], ids=["prepare", "prepare_order_at"])
@pytest.mark.parametrize("filled", [False, True], ids=["denied", "filled"])
def test_an_order_records_members_are_the_general_ways_member_by_member(filled, at_batch_time):
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    order = _order()
    risk = as_gate_makes(gate_details(order, Decimal("9998.09"), AS_OF - timedelta(hours=3)))
    execution = (
        ExecutionResult(ExecutionStatus.FILLED, "paper", _fill(), None, None, "p-1", PAPER_DETAILS)
        if filled
        else ExecutionResult(ExecutionStatus.NOT_EXECUTED, "denied by the risk gate")
    )
    if at_batch_time:
        times = template.times([AS_OF])
        answers = {
            request: Observation(25.0, AS_OF, "technical", fetched_at=AS_OF)
            for request in STRATEGY.requests("BTC")
        }
        evaluation = STRATEGY.evaluate(answers, AS_OF, "BTC")
        prepared = template.prepare_order_at(times, 0, evaluation, order, risk, execution, AS_OF)
    else:
        prepared = _record_of(template, risk, execution)
    # The general way: the same record's plain dict, encoded whole.
    assert prepared.text == canonical_json(prepared.record)
    assert prepared.record["risk"] == risk.to_dict()
    assert prepared.record["order"] == json_safe(order.__dict__)
    assert prepared.record["execution"] == execution.to_dict()


def test_a_secret_in_a_checks_details_is_scrubbed_from_the_order_record():
    secret = "sk-live-0123456789abcdef"
    order = _order()
    checks = gate_details(order, Decimal(10000), None)
    checks[0][2]["file"] = f"/run/{secret}/kill"  # the kill switch's file, named by a secret
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    execution = ExecutionResult(ExecutionStatus.NOT_EXECUTED, "denied", details={"why": secret})
    prepared = _record_of(
        template, as_gate_makes(checks), execution, environ={"VENUE_API_KEY": secret}
    )
    assert secret not in prepared.text
    assert f"/run/{REDACTED}/kill" in prepared.text and '"why":"***"' in prepared.text
    assert prepared.text == canonical_json(prepared.record)
