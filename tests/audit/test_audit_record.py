"""Building records: the decision record's fields, JSON safety, ids, follow-ups, and secrets.

A decision record is compact (``signalops.audit/2``): the trace and each observation's request
are re-derived from the tree it cites (``signalops.audit.expand``), here with the strategy
itself; the expanded record is what a ``/1`` record stored.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from audit_scenarios import AS_OF, RISK_APPROVED, SCENARIOS, STRATEGY, STRATEGY_FILE

from signalops.audit.expand import expanded
from signalops.audit.record import (
    DECISION_SCHEMA,
    FOLLOWUP_FIELDS,
    SCHEMA,
    build_decision_record,
    build_followup,
    followup_id,
    scrub_secrets,
    secret_values,
)
from signalops.audit.trees import tree_hash
from signalops.canonical import canonical_json
from signalops.explain import trace_to_dict
from signalops.observation import DataError
from signalops.orders import ExecutionResult, ExecutionStatus, decision_id


def test_buy_decision_record_carries_every_contract_field():
    record = SCENARIOS.record("buy")
    ident = decision_id(STRATEGY.content_hash, "BTC", AS_OF, "paper")
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))
    intent = SCENARIOS.intent()

    assert record["schema"] == DECISION_SCHEMA == "signalops.audit/2" != SCHEMA
    assert record["kind"] == "decision"
    assert record["id"] == record["decision_id"] == ident
    assert record["recorded_at"] == "2023-03-13T00:00:05Z"
    assert record["as_of"] == "2023-03-13T00:00:00Z"
    assert record["strategy"] == {
        "name": "Banking_Crisis_Dip",
        "hash": STRATEGY.content_hash,
        "file": STRATEGY_FILE,
        "tree": tree_hash(STRATEGY),
    }
    assert (record["asset"], record["mode"]) == ("BTC", "paper")
    assert (record["verdict"], record["action"]) == ("BUY", "BUY")
    assert record["blocked_by"] == [] and record["conflicts"] == []
    assert "trace" not in record
    assert expanded(record, strategy=STRATEGY)["trace"] == json.loads(
        canonical_json(trace_to_dict(evaluation.trace, evaluation, STRATEGY))
    )
    assert record["risk"] == RISK_APPROVED
    assert record["order"] == intent.to_dict()
    assert record["execution"]["status"] == "FILLED"
    assert record["execution"]["fill"]["price"] == "20010"


def test_unsealed_record_has_no_chain_fields():
    record = SCENARIOS.record("hold")
    assert not {"seq", "prev_hash", "hash"} & record.keys()


def test_observations_keep_what_each_request_was_answered_in_the_order_of_the_requests():
    record = SCENARIOS.record("buy")
    assert record["observations"] == [
        {"value": 25.0, "data_time": "2023-03-12T23:00:00Z", "fetched_at": "2023-03-13T00:00:00Z"},
        {"value": -0.02, "data_time": "2023-03-12T23:00:00Z", "fetched_at": "2023-03-13T00:00:00Z"},
        {
            "value": -500000000.0,
            "data_time": "2023-03-12T23:00:00Z",
            "fetched_at": "2023-03-13T00:00:00Z",
        },
    ]


def test_expanded_observations_list_one_entry_per_request_with_data_times():
    record = expanded(SCENARIOS.record("buy"), strategy=STRATEGY)
    assert record["observations"] == [
        {
            "source": "technical",
            "metric": "rsi",
            "params": {"n": 14, "timeframe": 86400},
            "asset": "BTC",
            "status": "OK",
            "value": 25.0,
            "data_time": "2023-03-12T23:00:00Z",
            "fetched_at": "2023-03-13T00:00:00Z",
            "error": None,
        },
        {
            "source": "technical",
            "metric": "return",
            "params": {"window": 604800, "timeframe": 86400},
            "asset": "BTC",
            "status": "OK",
            "value": -0.02,
            "data_time": "2023-03-12T23:00:00Z",
            "fetched_at": "2023-03-13T00:00:00Z",
            "error": None,
        },
        {
            "source": "onchain",
            "metric": "stablecoin_net_flow",
            "params": {"stablecoin": "USDC", "window": 172800, "chain": "all"},
            "asset": None,
            "status": "OK",
            "value": -500000000.0,
            "data_time": "2023-03-12T23:00:00Z",
            "fetched_at": "2023-03-13T00:00:00Z",
            "error": None,
        },
    ]


def test_nan_and_infinite_values_are_recorded_as_text_and_the_record_stays_json():
    record = SCENARIOS.record("blocked", values=(float("nan"), float("inf"), -4.1e9))
    values = [o["value"] for o in record["observations"]]
    assert values == ["nan", "inf", -4100000000.0]
    record = expanded(record, strategy=STRATEGY)
    assert [o["value"] for o in record["observations"]] == values
    assert record["trace"]["leaves"][0]["value"] == "nan"
    assert record["trace"]["leaves"][0]["reason"] == "NOT_A_NUMBER"
    canonical_json(record)  # raises on NaN: proves nothing non-JSON is left


def test_adapter_error_and_missing_data_are_distinguished():
    error = DataError("HTTP_ERROR", "upstream returned 503", "onchain")
    stored = SCENARIOS.record("blocked", values=(25.0, None, error))
    assert stored["observations"][1:] == [
        None,
        {"error": {"reason": "HTTP_ERROR", "message": "upstream returned 503"}},
    ]
    record = expanded(stored, strategy=STRATEGY)
    technical_return, flow = record["observations"][1:]
    assert (technical_return["status"], technical_return["error"]) == ("MISSING", None)
    assert flow["status"] == "ERROR"
    assert flow["error"] == {"reason": "HTTP_ERROR", "message": "upstream returned 503"}
    # Unknown data never adds risk: the exit might be passing, and the veto blocks.
    assert record["verdict"] == "HOLD"
    assert record["conflicts"] == [
        "entry rules pass but the exit rules cannot be evaluated: not buying"
    ]
    assert record["trace"]["vetoes"][0]["status"] == "UNKNOWN"


def test_same_inputs_build_the_same_record():
    assert canonical_json(SCENARIOS.record("buy")) == canonical_json(SCENARIOS.record("buy"))


def test_intent_of_another_decision_is_refused():
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))
    other = SCENARIOS.intent(as_of=AS_OF + timedelta(days=1))
    with pytest.raises(ValueError, match="belongs to decision"):
        build_decision_record(
            strategy=STRATEGY,
            evaluation=evaluation,
            mode="paper",
            intent=other,
            risk=None,
            execution=None,
            recorded_at=AS_OF,
        )


def test_naive_recorded_at_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        build_decision_record(
            strategy=STRATEGY,
            evaluation=SCENARIOS.evaluate((45.0, 0.0, 0.0)),
            mode="paper",
            intent=None,
            risk=None,
            execution=None,
            recorded_at=datetime(2023, 3, 13),
        )


# --- secrets ---------------------------------------------------------------------------------

SECRETS = {
    "BINANCE_API_KEY": "binance-key-AKIA1234567890",
    "BINANCE_SECRET": "s3cr3t-binance-0987654321",
    "SIGNALOPS_WEBHOOK_URL": "https://hooks.example.com/services/T000/B000/XXXXSECRET",
    "POLYMARKET_PRIVATE_KEY": "0xdeadbeefdeadbeefdeadbeef",
}


def test_record_built_with_secrets_in_the_environment_contains_none_of_them(
    monkeypatch,
):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))
    record = build_decision_record(
        strategy=STRATEGY,
        evaluation=evaluation,
        mode="paper",
        intent=SCENARIOS.intent(),
        risk=RISK_APPROVED,
        execution=ExecutionResult(ExecutionStatus.FILLED, "ok"),
        recorded_at=AS_OF,
    )
    text = canonical_json(record)
    assert not [value for value in SECRETS.values() if value in text]


def test_secret_quoted_by_an_error_message_is_scrubbed_before_recording(
    monkeypatch,
):
    monkeypatch.setenv("BINANCE_SECRET", SECRETS["BINANCE_SECRET"])
    error = DataError(
        "HTTP_ERROR",
        "GET https://api.example.com/flows?apikey=abc123&x=1 failed, key "
        + SECRETS["BINANCE_SECRET"],
        "onchain",
    )
    failed = ExecutionResult(
        ExecutionStatus.FAILED, f"venue refused signature {SECRETS['BINANCE_SECRET']}"
    )
    record = build_decision_record(
        strategy=STRATEGY,
        evaluation=SCENARIOS.evaluate((25.0, -0.02, error)),
        mode="paper",
        intent=None,
        risk=None,
        execution=failed,
        recorded_at=AS_OF,
    )
    text = canonical_json(record)
    assert SECRETS["BINANCE_SECRET"] not in text and "abc123" not in text
    assert record["observations"][2]["error"]["message"] == (
        "GET https://api.example.com/flows?apikey=***&x=1 failed, key ***"
    )
    assert record["execution"]["message"] == "venue refused signature ***"


def test_short_or_unrelated_environment_values_are_not_treated_as_secrets():
    env = {"API_KEY": "short", "HOME": "/root/very/long/home", "GITHUB_TOKEN": "ghp_abcdefgh"}
    assert secret_values(env) == ("ghp_abcdefgh",)
    assert scrub_secrets({"a": ["x ghp_abcdefgh y"]}, secret_values(env)) == {"a": ["x *** y"]}


# --- follow-ups ------------------------------------------------------------------------------


def test_followup_id_is_kind_decision_hex_and_number():
    assert followup_id("fill", "dec-0123456789abcdef01234567", 2) == (
        "fill-0123456789abcdef01234567-2"
    )


@pytest.mark.parametrize("n", [0, -1])
def test_followup_numbers_below_one_are_refused(n):
    with pytest.raises(ValueError, match="start at 1"):
        followup_id("fill", "dec-0123456789abcdef01234567", n)


def test_followups_of_every_kind_build_with_their_fields():
    intent = SCENARIOS.intent()
    fill = SCENARIOS.fill(intent)
    fields = {
        "order_submitted": {"client_order_id": intent.client_order_id, "order": intent},
        "order_result": {
            "client_order_id": intent.client_order_id,
            "execution": ExecutionResult(ExecutionStatus.SUBMITTED, "accepted"),
        },
        "fill": {"client_order_id": intent.client_order_id, "fill": fill},
        "approval": {"approval_id": "apr-1", "approved": True, "by": "alice"},
        "expiry": {"approval_id": "apr-1", "expires_at": AS_OF + timedelta(hours=1)},
    }
    assert set(fields) == set(FOLLOWUP_FIELDS)
    for kind, given in fields.items():
        record = build_followup(
            kind, decision_id=intent.decision_id, recorded_at=AS_OF, environ={}, **given
        )
        assert record["kind"] == kind
        assert record["id"] == followup_id(kind, intent.decision_id)
        assert record["decision_id"] == intent.decision_id
        json.dumps(record, allow_nan=False)
    built = build_followup(
        "fill", decision_id=intent.decision_id, recorded_at=AS_OF, **fields["fill"]
    )
    assert built["fill"] == fill.to_dict()


def test_followup_missing_a_required_field_is_refused():
    with pytest.raises(ValueError, match="approval record needs approved, by"):
        build_followup("approval", decision_id="dec-0", recorded_at=AS_OF, approval_id="apr-1")


def test_followup_may_not_set_chain_fields():
    with pytest.raises(ValueError, match="hash, seq"):
        build_followup(
            "expiry",
            decision_id="dec-0",
            recorded_at=AS_OF,
            approval_id="a",
            expires_at=AS_OF,
            seq=3,
            hash="x",
        )


def test_unknown_followup_kind_is_refused():
    with pytest.raises(ValueError, match="unknown follow-up kind 'cancel'"):
        build_followup("cancel", decision_id="dec-0", recorded_at=AS_OF)


@pytest.mark.parametrize(
    "secret",
    ['quoted"secret-value', "back\\slash-secret", "ünïcode-sécret-value", "tab\tseparated-secret"],
    ids=["quote", "backslash", "non-ascii", "control"],
)
def test_a_secret_json_writes_escaped_is_still_scrubbed(monkeypatch, secret: str):
    # The fast path looks for secrets in the record's JSON text; one that JSON escapes is not
    # written as it is there, so it must go through the scrubber instead.
    monkeypatch.setenv("VENUE_API_SECRET", secret)
    failed = ExecutionResult(ExecutionStatus.FAILED, f"venue echoed {secret}")
    record = build_decision_record(
        strategy=STRATEGY,
        evaluation=SCENARIOS.evaluate((25.0, -0.02, -5e8)),
        mode="paper",
        intent=None,
        risk=None,
        execution=failed,
        recorded_at=AS_OF,
    )

    assert record["execution"]["message"] == "venue echoed ***"
