"""The shortcuts that make a record cheaper to build and seal write the general encoders' bytes.

Each fast path is compared with the long way it replaces, on realistic and on odd inputs:

- an observation's detail, encoded once per content (``DecisionTemplate._detail_json``), against
  ``canonical_json_of_plain(json_safe(detail))``; a dict edited in place gets its new bytes;
- ``RiskDecision.to_json`` (one walk, orjson's bytes kept when nothing can differ) against
  ``canonical_json_of_plain(risk.to_dict())``, what the template encoded before;
- ``iso``, ``json_safe`` and ``ExecutionResult.to_dict`` on exact UTC datetimes, Decimals and
  fills against the formulas they shortcut;
- an observation time equal to the decision's in another zone prints as its own UTC time;
- a decision whose outcome (verdict, action, vetoes, conflicts, risk, execution) repeats one the
  template built before (``DecisionTemplate._again``: only the time, ids and observations are
  encoded) against a new template's general way, across zones, odd values, secrets and edits;
- ``CompactLayout.row``'s precomputed leave sets and remembered plans, alternating decisions and
  follow-ups, against the canonical JSON of the sealed record.
"""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.audit.layout import CompactLayout, compact_schema, seal_texts
from signalops.audit.record import (
    DecisionTemplate,
    build_followup,
    canonical_json_of_plain,
    prepare,
)
from signalops.canonical import (
    canonical_json,
    is_plain_finite,
    iso,
    json_safe,
    text_enum,
    writes_as_stdlib,
)
from signalops.codes import Code
from signalops.observation import Observation
from signalops.orders import ExecutionResult, ExecutionStatus, Fill
from signalops.risk import CheckResult, RiskDecision, TradingState
from signalops.side import Side
from signalops.strategy import load

ZONES = (UTC, ZoneInfo("Europe/Paris"), ZoneInfo("America/New_York"), timezone(timedelta(hours=5)))
AS_OF = datetime(2023, 3, 13, tzinfo=UTC)
STRATEGY = load(ROOT / "strategies" / "technical_baseline.yaml")


class Shouted(str, Enum):  # noqa: UP042 (a StrEnum's value is always its text)
    """A str enum whose value is not its text: orjson writes the value, the stdlib the text."""

    LOUD = "loud"

    def __new__(cls, value: str) -> Shouted:
        member = str.__new__(cls, value.upper())
        member._value_ = value
        return member


leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63, max_value=2**70)
    | st.floats()
    | st.sampled_from([0.0, -0.0, 1.0, 1e16, 1e-5, 5e-324, 0.1])
    | st.text(max_size=5)
    | st.sampled_from(["sha256:5e", "1e5", "0.00001", "api_key=x"])
    | st.decimals()
    | st.datetimes(timezones=st.sampled_from(ZONES))
    | st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(1200, 1, 1), timezones=st.just(UTC)
    )
    | st.sampled_from([*Side, *TradingState, *Code, Shouted.LOUD])
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=3), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=8,
)
plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from([0.0, -0.0, 1, 1.0, True, 1e16, 1e-5])
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
)


def general_detail(detail: Any) -> str:
    """What the template wrote for an observation's detail before the content cache."""
    return f'"detail":{canonical_json_of_plain(json_safe(detail))},'


def template() -> DecisionTemplate:
    return DecisionTemplate(STRATEGY, "BTC", "paper")


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(max_size=4), values, max_size=5))
def test_an_observation_detail_of_any_shape_is_written_as_the_general_encoder_writes_it(detail):
    found = template()
    assert found._detail_json(detail) == general_detail(detail)
    assert found._detail_json(detail) == general_detail(detail)  # from the cache, this time


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=2), plain_values, max_size=3), max_size=8))
def test_details_one_template_sees_in_turn_never_get_another_ones_bytes(details):
    # Equal as Python values (1 == 1.0 == True, 0.0 == -0.0), written apart as JSON.
    found = template()
    for detail in details:
        assert found._detail_json(detail) == general_detail(detail)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ({"n": 1}, {"n": 1.0}),
        ({"n": 1}, {"n": True}),
        ({"n": 0.0}, {"n": -0.0}),
        ({"n": None}, {"n": float("nan")}),
        ({"n": [1, 2]}, {"n": (1, 2)}),
        ({"n": {"a": 1, "b": 2}}, {"n": {"b": 2, "a": 1}}),
        ({"n": 1e16}, {"n": 10**16}),
        ({"n": "1e16"}, {"n": 1e16}),
    ],
    ids=[
        "int-float",
        "int-bool",
        "zero-negative",
        "null-nan",
        "list-tuple",
        "key-order",
        "exp",
        "str",
    ],
)
def test_details_equal_in_python_but_not_in_json_are_each_written_as_they_are(first, then):
    found = template()
    assert found._detail_json(first) == general_detail(first)
    assert found._detail_json(then) == general_detail(then)


def test_a_detail_edited_in_place_gets_its_new_bytes():
    found = template()
    detail = {"series": "s", "latest": {"t": "2023-01-01T00:00:00Z", "v": 1.5}}
    assert found._detail_json(detail) == general_detail(detail)
    detail["latest"]["v"] = 2.5
    assert '"v":2.5' in found._detail_json(detail)
    assert found._detail_json(detail) == general_detail(detail)


@settings(max_examples=300, deadline=None)
@given(values)
def test_plain_finite_is_exactly_what_json_safe_gives_back_unchanged(value):
    if is_plain_finite(value):
        assert json_safe(value) == value
        assert canonical_json_of_plain(value) == canonical_json_of_plain(json_safe(value))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Code)),
            st.booleans() | st.sampled_from([0, 1]),
            st.dictionaries(st.text(max_size=6), values, max_size=6),
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_a_risk_decision_as_json_is_what_the_template_encoded_its_dict_as(checks, approved):
    decision = RiskDecision(approved, tuple(CheckResult(c, p, d) for c, p, d in checks))
    assert decision.to_json() == canonical_json_of_plain(decision.to_dict())


@pytest.mark.parametrize(
    "details",
    [
        {"limit": Decimal("0.10"), "actual": Decimal("0.1"), "unit": "fraction"},
        {"limit": TradingState.ACTIVE, "allowed": [Side.BUY, Side.SELL]},
        {"data_time": AS_OF, "as_of": AS_OF.astimezone(ZoneInfo("Asia/Tokyo"))},
        {"fee": 1e-05, "big": 1e16, "id": "sha256:5e"},
        {"loud": Shouted.LOUD, "in": [Shouted.LOUD]},
        {"huge": 2**64, "nan": float("nan"), 3: "a non-str key"},
        {"when": datetime(999, 1, 1, tzinfo=UTC)},
    ],
    ids=["decimals", "enums", "times", "floats", "odd-enum", "odd-values", "year-999"],
)
def test_a_risk_decision_as_json_takes_the_long_way_whenever_orjson_could_differ(details):
    decision = RiskDecision(False, (CheckResult(Code.MAX_POSITION, False, details),))
    assert decision.to_json() == canonical_json_of_plain(decision.to_dict())


def test_an_enum_is_text_only_when_every_value_is_its_text():
    assert text_enum(Side) and text_enum(Code) and text_enum(TradingState)
    assert not text_enum(Shouted)
    assert writes_as_stdlib({"a": [Side.BUY, "x", 1, None, True]})
    assert not writes_as_stdlib({"a": 1.5}) and not writes_as_stdlib([Shouted.LOUD])


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.sampled_from(ZONES)))
def test_iso_prints_every_aware_time_as_astimezone_and_isoformat_print_it(moment):
    assert iso(moment) == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert json_safe(moment) == moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def test_iso_of_a_time_before_the_year_1000_keeps_its_four_digit_year():
    assert iso(datetime(999, 5, 1, 2, 3, 4, 5, tzinfo=UTC)) == "0999-05-01T02:03:04.000005Z"


def test_an_execution_with_a_fill_is_json_safe_of_its_fields_walked_once():
    fill = Fill(
        "so-1",
        "BTC",
        Side.BUY,
        Decimal("0.5"),
        Decimal("20000.10"),
        Decimal("1"),
        AS_OF,
        "paper",
        "p-1",
    )
    result = ExecutionResult(
        ExecutionStatus.FILLED, "filled", fill, details={"price_time": AS_OF, "fee": 1e-05}
    )
    long_way = json_safe(
        {
            "status": result.status,
            "message": result.message,
            "fill": fill.to_dict(),
            "approval_id": None,
            "expires_at": None,
            "venue_order_id": None,
            "details": result.details,
        }
    )
    assert result.to_dict() == long_way
    assert list(result.to_dict()) == list(long_way)
    assert canonical_json(result.to_dict()) == canonical_json(long_way)


@pytest.mark.parametrize(
    "observed",
    [
        AS_OF,
        AS_OF.replace(),  # equal, another object
        AS_OF.astimezone(ZoneInfo("Europe/Paris")),  # the same instant in another zone
        AS_OF - timedelta(hours=1),
        AS_OF - timedelta(microseconds=5),
    ],
    ids=["same", "equal", "other-zone", "earlier", "micro"],
)
def test_an_observation_time_prints_as_its_own_utc_time_whatever_the_decision_time(observed):
    found = template()
    answers = [
        Observation(25.0, observed, "technical", fetched_at=observed, detail={"candles": 250})
        for _ in found.requests
    ]
    prepared = found.prepare(as_of=AS_OF, verdict="HOLD", observations=answers, recorded_at=AS_OF)
    assert prepared.text == canonical_json(prepared.record)
    stamp = iso(observed)
    assert all(entry["data_time"] == stamp for entry in prepared.record["observations"])


def sealed_text(record: dict[str, Any], seq: int, prev: str) -> str:
    return canonical_json({**record, "seq": seq, "prev_hash": prev})


def test_rows_sealed_in_turn_for_decisions_and_follow_ups_hash_their_canonical_json():
    conn = sqlite3.connect(":memory:")
    for statement in compact_schema():
        conn.execute(statement)
    layout = CompactLayout(lambda sql, params: conn.execute(sql, params).fetchall())
    found = template()
    answers = [
        Observation(25.0 + i, AS_OF, "technical", fetched_at=AS_OF, detail={"candles": 250})
        for i in range(len(found.requests))
    ]
    moments = [AS_OF + timedelta(hours=h, microseconds=m) for h, m in [(0, 0), (1, 0), (2, 7)]]
    records = []
    for moment in moments:
        decision = found.prepare(
            as_of=moment, verdict="HOLD", observations=answers, recorded_at=moment
        )
        records.append(decision)
        follow = build_followup(
            "approval",
            decision_id=decision.id,
            recorded_at=moment,
            approval_id="a",
            approved=True,
            by="me",
        )
        records.append(prepare(follow))
        records.append(
            prepare(
                {k: v for k, v in follow.items() if k != "decision_id"} | {"id": "x" + str(moment)}
            )
        )
    prev = "0" * 64
    for seq, prepared in enumerate(records, 1):
        row, digest = layout.row(prepared, seq, prev)
        text = sealed_text(prepared.record, seq, prev)
        assert digest == hashlib.sha256(text.encode()).hexdigest()
        assert seal_texts(prepared, seq, prev)[1] == digest
        decoded = layout.decode((*row[:-1], row[-1]))
        assert decoded == {**prepared.record, "seq": seq, "prev_hash": prev, "hash": digest}
        prev = digest


def test_a_check_results_details_stay_in_the_gates_order_in_each_record_its_own_copy():
    found = template()
    risk = RiskDecision(
        False,
        (CheckResult(Code.NO_POSITION, False, MappingProxyType({"z": 1, "a": Decimal("2")})),),
    )
    answers = [Observation(1.0, AS_OF, "technical", fetched_at=AS_OF) for _ in found.requests]
    first, second = (
        found.prepare(
            as_of=AS_OF + timedelta(hours=h),
            verdict="SELL",
            action="SELL",
            observations=answers,
            risk=risk,
            recorded_at=AS_OF,
        )
        for h in (0, 1)
    )
    assert list(first.record["risk"]["checks"][0]["details"]) == ["z", "a"]
    assert first.record["risk"] == second.record["risk"] == risk.to_dict()
    assert first.record["risk"] is not second.record["risk"]
    first.record["risk"]["checks"][0]["details"]["z"] = 5
    assert second.record["risk"] == risk.to_dict()


def test_an_observation_an_hour_before_a_decision_at_the_same_local_fall_back_time_keeps_its_hour():
    # 01:30 happens twice in New York on 2021-11-07: equal wall times in one zone (fold is not
    # compared), an hour apart in UTC.
    new_york = ZoneInfo("America/New_York")
    decided = datetime(2021, 11, 7, 1, 30, tzinfo=new_york, fold=1)
    observed = datetime(2021, 11, 7, 1, 30, tzinfo=new_york, fold=0)
    assert observed == decided and iso(observed) != iso(decided)
    found = template()
    answers = [
        Observation(25.0, observed, "technical", fetched_at=observed, detail={"candles": 250})
        for _ in found.requests
    ]
    prepared = found.prepare(
        as_of=decided, verdict="HOLD", observations=answers, recorded_at=decided
    )
    assert prepared.text == canonical_json(prepared.record)
    entries = prepared.record["observations"]
    assert {entry["data_time"] for entry in entries} == {"2021-11-07T05:30:00Z"}
    assert prepared.record["as_of"] == "2021-11-07T06:30:00Z"


# A few outcomes a run alternates between, each a frozen object given again and again (as the
# pipeline's ``not_executed`` and the gate's kept denial are), and ones that are never reused.
NO_SIGNAL = ExecutionResult(ExecutionStatus.NOT_EXECUTED, "no entry or exit signal")
DENIED = ExecutionResult(ExecutionStatus.NOT_EXECUTED, "denied by the risk gate")
NO_POSITION = RiskDecision(
    False, (CheckResult(Code.NO_POSITION, False, MappingProxyType({"asset": "BTC"})),)
)
OUTCOMES = (
    {"verdict": "HOLD", "execution": NO_SIGNAL},
    {"verdict": "SELL", "action": Side.SELL, "risk": NO_POSITION, "execution": DENIED},
    {"verdict": "BLOCKED", "action": Side.BUY, "blocked_by": ("news",), "execution": NO_SIGNAL},
    {"verdict": "HOLD", "conflicts": ("entry and exit both",), "execution": NO_SIGNAL},
    {"verdict": "HOLD", "execution": {"status": "NOT_EXECUTED", "message": "a dict"}},
)
observations = st.one_of(
    st.tuples(
        st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([float("nan"), 1e16]),
        st.sampled_from(
            [None, {"candles": 250}, {"url": "https://x?api_key=abc"}, {"note": "hunter2-pass"}]
        ),
    ),
    st.just("missing"),
)
# The environment a record is scrubbed against: none, or one whose secret an answer may quote.
ENVIRONMENTS = ({}, {"VENUE_PASSWORD": "hunter2-pass"})


def _answers(found: DecisionTemplate, drawn: Any, moment: datetime) -> list[Any]:
    if drawn == "missing":
        return [None] * len(found.requests)
    value, detail = drawn
    return [
        Observation(value, moment, "technical", fetched_at=moment, detail=detail)
        for _ in found.requests
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(OUTCOMES) - 1),
            observations,
            st.integers(0, 10_000),
            st.sampled_from(ZONES),
            st.integers(0, len(ENVIRONMENTS) - 1),
        ),
        max_size=12,
    )
)
def test_decisions_built_on_a_repeated_outcome_are_what_the_general_way_builds(decisions):
    kept = template()
    for outcome, drawn, hours, zone, environ in decisions:
        moment = (AS_OF + timedelta(hours=hours)).astimezone(zone)
        fields = {
            **OUTCOMES[outcome],
            "as_of": moment,
            "observations": _answers(kept, drawn, moment),
            "recorded_at": moment,
            "environ": ENVIRONMENTS[environ],
        }
        again = kept.prepare(**fields)
        general = template().prepare(**fields)  # a new template builds every member
        assert again.texts == general.texts
        assert list(again.record.items()) == list(general.record.items())  # key order too
        assert (again.id, again.as_of, again.as_of_seconds, again.recorded_seconds) == (
            general.id,
            general.as_of,
            general.as_of_seconds,
            general.recorded_seconds,
        )
        assert (again.verdict, again.status, again.context) == (
            general.verdict,
            general.status,
            general.context,
        )


def test_a_repeated_outcome_is_scrubbed_again_once_a_secret_joins_the_environment():
    kept = template()
    moment = AS_OF
    detail = {"note": "token sk-live-0123456789"}
    answers = [Observation(1.0, moment, "technical", fetched_at=moment, detail=detail)] * len(
        kept.requests
    )
    fields = {"verdict": "HOLD", "execution": NO_SIGNAL, "observations": answers}
    first = kept.prepare(**fields, as_of=moment, recorded_at=moment, environ={})
    assert "sk-live-0123456789" in first.text
    later = moment + timedelta(hours=1)
    secret = {"VENUE_API_KEY": "sk-live-0123456789"}
    second = kept.prepare(**fields, as_of=later, recorded_at=later, environ=secret)
    assert "sk-live-0123456789" not in second.text
    assert (
        second.text
        == template().prepare(**fields, as_of=later, recorded_at=later, environ=secret).text
    )


def test_a_blocked_by_list_edited_after_its_record_is_not_the_next_records_outcome():
    kept = template()
    answers = [Observation(1.0, AS_OF, "technical", fetched_at=AS_OF)] * len(kept.requests)
    vetoes = ["news"]
    fields = {"verdict": "BLOCKED", "action": Side.BUY, "execution": NO_SIGNAL}
    kept.prepare(**fields, blocked_by=vetoes, observations=answers, as_of=AS_OF, recorded_at=AS_OF)
    vetoes.append("odds")
    later = AS_OF + timedelta(hours=1)
    second = kept.prepare(
        **fields, blocked_by=vetoes, observations=answers, as_of=later, recorded_at=later
    )
    assert second.record["blocked_by"] == ["news", "odds"]
    assert '"blocked_by":["news","odds"]' in second.texts


class CountingTemplate(DecisionTemplate):
    """A template that counts the records it builds the general way."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.general = 0

    def _prepare(self, **fields: Any) -> Any:
        self.general += fields["remember"]  # the lazy record dicts of later ones do not count
        return super()._prepare(**fields)


def test_a_run_of_holds_and_denials_is_built_the_general_way_once_per_outcome():
    kept = CountingTemplate(STRATEGY, "BTC", "paper")
    hold = OUTCOMES[0]
    denial = OUTCOMES[1]
    for hour in range(40):
        moment = AS_OF + timedelta(hours=hour)
        fields = hold if hour % 3 else denial
        answers = _answers(kept, (50.0 + hour, {"candles": 250}), moment)
        prepared = kept.prepare(
            **fields, as_of=moment, observations=answers, recorded_at=moment, environ={}
        )
        assert (
            prepared.text
            == template()
            .prepare(**fields, as_of=moment, observations=answers, recorded_at=moment, environ={})
            .text
        )
    assert kept.general == 2
    # A fresh denial each time (a gate quoting today's equity) is never built on, and does not
    # push out the outcomes that repeat.
    for hour in range(40, 80):
        moment = AS_OF + timedelta(hours=hour)
        fresh = RiskDecision(False, (CheckResult(Code.MAX_POSITION, False, MappingProxyType({})),))
        answers = _answers(kept, (1.0, None), moment)
        kept.prepare(**{**denial, "risk": fresh}, as_of=moment, observations=answers,
                     recorded_at=moment, environ={})  # fmt: skip
        kept.prepare(**hold, as_of=moment, observations=answers, recorded_at=moment, environ={})
    assert kept.general == 2 + 40


def test_a_secret_in_a_decision_id_is_scrubbed_as_the_general_way_scrubs_it():
    kept = template()
    answers = [Observation(1.0, AS_OF, "technical", fetched_at=AS_OF)] * len(kept.requests)
    later = AS_OF + timedelta(hours=1)
    ident = (
        template()
        .prepare(
            verdict="HOLD",
            execution=NO_SIGNAL,
            observations=answers,
            as_of=later,
            recorded_at=later,
        )
        .id
    )
    secret = {"VENUE_API_KEY": ident[4:14]}  # ten hex digits of the next decision's id
    fields = {"verdict": "HOLD", "execution": NO_SIGNAL, "observations": answers}
    kept.prepare(**fields, as_of=AS_OF, recorded_at=AS_OF, environ=secret)
    again = kept.prepare(**fields, as_of=later, recorded_at=later, environ=secret)
    general = template().prepare(**fields, as_of=later, recorded_at=later, environ=secret)
    assert ident[4:14] not in again.text
    assert again.texts == general.texts


def test_vetoes_given_as_a_generator_are_read_once_and_recorded():
    kept = template()
    answers = [Observation(1.0, AS_OF, "technical", fetched_at=AS_OF)] * len(kept.requests)
    prepared = kept.prepare(
        verdict="BLOCKED",
        action=Side.BUY,
        blocked_by=(veto for veto in ["news", "odds"]),
        execution=NO_SIGNAL,
        observations=answers,
        as_of=AS_OF,
        recorded_at=AS_OF,
    )
    assert prepared.record["blocked_by"] == ["news", "odds"]
