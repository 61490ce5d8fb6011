"""schemas/decision.schema.json: every record kind the code produces conforms, and the schema
refuses records that break the contract."""

from __future__ import annotations

from datetime import timedelta

import pytest
from audit_scenarios import AS_OF, SCENARIOS, schema_checked_log
from jsonschema import Draft202012Validator

from signalops.audit.chain import GENESIS, seal
from signalops.audit.record import KINDS, build_breaker, build_followup
from signalops.audit.schema import record_errors, record_schema
from signalops.orders import ExecutionResult, ExecutionStatus
from signalops.strategy import schema_path

SITUATIONS = ("buy", "blocked", "denied", "hold", "pending")


def every_kind_of_record():
    """One record of each situation and each follow-up kind, unsealed, in append order."""
    records = [
        SCENARIOS.record(situation, as_of=AS_OF + timedelta(days=i))
        for i, situation in enumerate(SITUATIONS)
    ]
    pending = records[-1]
    intent = SCENARIOS.intent(as_of=AS_OF + timedelta(days=4), mode="notify")
    common = {"decision_id": pending["decision_id"], "recorded_at": AS_OF + timedelta(days=5)}
    approval_id = pending["execution"]["approval_id"]
    records += [
        build_followup("approval", **common, approval_id=approval_id, approved=True, by="alice"),
        build_followup(
            "order_submitted", **common, client_order_id=intent.client_order_id, order=intent
        ),
        build_followup(
            "order_result",
            **common,
            client_order_id=intent.client_order_id,
            execution=ExecutionResult(ExecutionStatus.SUBMITTED, "accepted", venue_order_id="9"),
        ),
        build_followup(
            "fill", **common, client_order_id=intent.client_order_id, fill=SCENARIOS.fill(intent)
        ),
        build_followup("expiry", **common, n=2, approval_id="apr-other", expires_at=AS_OF),
        build_breaker(
            {
                "event": "trip",
                "trigger": "max_drawdown",
                "message": "drawdown 12%",
                "at": "2023-03-11T00:00:00Z",
            },
            revision=0,
            recorded_at=AS_OF,
        ),
        build_breaker(
            {
                "event": "resume",
                "by": "alice",
                "note": "ok",
                "at": "2023-03-12T00:00:00Z",
                "cleared": "max_drawdown",
            },
            revision=0,
            recorded_at=AS_OF,
        ),
    ]
    return records


def test_schema_is_valid_json_schema_2020_12_and_lives_in_schemas():
    assert schema_path("decision.schema.json").parent.name == "schemas"
    schema = record_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["kind"]["enum"] == list(KINDS)


def test_every_record_the_code_produces_conforms_once_stored(tmp_path):
    with schema_checked_log(tmp_path / "audit.db") as log:
        log.append_many(every_kind_of_record())
        stored = list(log.records())
    assert {r["kind"] for r in stored} == set(KINDS)
    assert {r.get("verdict") for r in stored} >= {"BUY", "BLOCKED", "HOLD"}
    assert [(r["id"], record_errors(r)) for r in stored] == [(r["id"], []) for r in stored]


def test_records_with_unknown_data_and_nan_values_conform():
    record = SCENARIOS.record("blocked", values=(float("nan"), None, float("-inf")))
    assert record_errors(seal(record, GENESIS, 1)) == []


def sealed(situation="buy", **changes):
    return seal({**SCENARIOS.record(situation), **changes}, GENESIS, 1)


@pytest.mark.parametrize(
    ("record", "error"),
    [
        (SCENARIOS.record("buy"), "(record): 'seq' is a required property"),
        (sealed(kind="note"), "kind: 'note' is not one of"),
        (sealed(verdict="MAYBE"), "verdict: 'MAYBE' is not one of"),
        (sealed(mode="live"), "mode: 'live' is not one of"),
        (sealed(as_of="2023-03-13 00:00"), "as_of: '2023-03-13 00:00' does not match"),
        (sealed(api_key="x"), "Additional properties are not allowed ('api_key' was unexpected)"),
        (sealed(risk={"approved": "yes", "checks": []}), "risk: {'approved': 'yes'"),
        (
            seal(
                {
                    **build_followup(
                        "approval",
                        decision_id=SCENARIOS.record("buy")["id"],
                        recorded_at=AS_OF,
                        approval_id="a",
                        approved=True,
                        by="alice",
                    ),
                    "approved": "yes",
                },
                GENESIS,
                1,
            ),
            "approved: 'yes' is not of type 'boolean'",
        ),
    ],
    ids=[
        "unsealed",
        "unknown-kind",
        "bad-verdict",
        "bad-mode",
        "bad-time",
        "extra-field",
        "bad-risk",
        "bad-approval",
    ],
)
def test_schema_refuses_records_that_break_the_contract(record, error):
    errors = record_errors(record)
    assert any(error in e for e in errors), errors


def test_followup_without_its_required_fields_is_refused():
    fill = seal(
        {
            "schema": "signalops.audit/1",
            "kind": "fill",
            "id": "fill-0123456789abcdef01234567-1",
            "decision_id": "dec-0123456789abcdef01234567",
            "recorded_at": "2023-03-13T00:00:00Z",
        },
        GENESIS,
        1,
    )
    assert record_errors(fill) == [
        "(record): 'client_order_id' is a required property",
        "(record): 'fill' is a required property",
    ]
