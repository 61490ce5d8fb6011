"""why: a decision record and its follow-ups, told to a trader from the stored record alone."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from audit_scenarios import AS_OF, SCENARIOS, STRATEGY, schema_checked_log

from signalops.audit.record import build_decision_record, build_followup
from signalops.audit.why import find_decision, headline, outcome, why, why_json, with_facts
from signalops.orders import ExecutionResult, ExecutionStatus


@pytest.fixture
def log(tmp_path):
    with schema_checked_log(tmp_path / "audit.db") as opened:
        yield opened


def stored(log, situation, **kwargs):
    """The record as ``signalops why`` reads it back (``find_decision``: expanded with the tree
    the log stores for its strategy)."""
    log.remember_strategy(STRATEGY)
    return find_decision(log, log.append(SCENARIOS.record(situation, **kwargs))["id"])


def lines(record, followups=()):
    return [line.plain for line in why(record, followups)]


def header(record, said):
    return [
        f"BTC at 2023-03-13T00:00:00Z: {said}",
        f"Banking_Crisis_Dip  {STRATEGY.content_hash[:19]}…  mode {record['mode']}  "
        "(strategies/banking_crisis_dip.yaml)",
        f"decision {record['id']}  recorded 2023-03-13T00:00:05Z  "
        f"seq {record['seq']}  hash {record['hash'][:12]}…",
    ]


ENTRY_PASSES = [
    "PASS    BUY when this rule passes",
    "└── PASS    rule rsi_oversold [technical]: all of",
    "    └── PASS    rsi(14) < 30   technical",
    "            value 25 · threshold < 30",
    "            rsi(n=14, timeframe=1d) = 25 at 2023-03-12T23:00:00Z (1h old, max 2d)",
]


def exit_fails(rsi):
    return [
        "FAIL    SELL when any of 2 rules passes",
        "├── FAIL    rule rsi_recovered [technical]: all of",
        "│   └── FAIL    rsi(14) > 55   technical",
        f"│           value {rsi} · threshold > 55",
        f"│           rsi(n=14, timeframe=1d) = {rsi} at 2023-03-12T23:00:00Z (1h old, max 2d)",
        "└── FAIL    rule stop_loss [technical]: all of",
        "    └── FAIL    return(7d) < -15%   technical",
        "            value -2% · threshold < -15%",
        "            return(timeframe=1d, window=7d) = -2% at 2023-03-12T23:00:00Z "
        "(1h old, max 2d)",
    ]


VETO_CLEAR = [
    "clear   VETO usdc_outflow: blocks BUY when this passes or is unknown"
    " — USDC supply falling fast: a run on stablecoins",
    "└── FAIL    stablecoin_net_flow('USDC', 2d) < -1B   onchain",
    "        value -500M · threshold < -1B",
    "        stablecoin_net_flow(chain=all, stablecoin=USDC, window=2d) = -500M"
    " at 2023-03-12T23:00:00Z (1h old, max 2d)",
]
NOTHING_DONE = [
    "RISK: not checked (no order to check)",
    "ORDER: none",
    "EXECUTION: none",
    "FOLLOW-UPS: none",
]


def test_why_a_buy_was_made(log):
    record = stored(log, "buy")
    assert lines(record) == [
        *header(record, "BOUGHT"),
        *ENTRY_PASSES,
        *exit_fails(25),
        *VETO_CLEAR,
        "RISK: approved",
        "  PASS    MAX_POSITION: limit 10% of equity, would be 5%",
        "  PASS    DAILY_LOSS",
        f"ORDER: BUY 0.05 BTC at 20,000.00 (notional 1,000.00), client order so-{record['id'][4:]}",
        "EXECUTION: FILLED: paper fill",
        "  fill 0.05 BTC at 20,010.00, fee 1.00 (paper) at 2023-03-13T00:00:00Z",
        "FOLLOW-UPS: none",
    ]


def test_why_a_buy_was_blocked_by_a_veto(log):
    record = stored(log, "blocked")
    assert lines(record) == [
        *header(record, "would have bought but BLOCKED by veto usdc_outflow"),
        "conflict: BUY signal conflicts with veto 'usdc_outflow'",
        *ENTRY_PASSES,
        *exit_fails(25),
        "BLOCKS  VETO usdc_outflow: blocks BUY when this passes or is unknown"
        " — USDC supply falling fast: a run on stablecoins",
        "└── PASS    stablecoin_net_flow('USDC', 2d) < -1B   onchain",
        "        value -4.1B · threshold < -1B",
        "        stablecoin_net_flow(chain=all, stablecoin=USDC, window=2d) = -4.1B"
        " at 2023-03-12T23:00:00Z (1h old, max 2d)",
        *NOTHING_DONE,
    ]


def test_why_a_buy_was_denied_by_the_risk_gate(log):
    record = stored(log, "denied")
    assert lines(record) == [
        *header(
            record, "DENIED by the risk gate: MAX_POSITION (limit 10% of equity, would be 14.2%)"
        ),
        *ENTRY_PASSES,
        *exit_fails(25),
        *VETO_CLEAR,
        "RISK: DENIED",
        "  FAIL    MAX_POSITION: limit 10% of equity, would be 14.2%",
        "  PASS    DAILY_LOSS",
        f"ORDER: BUY 0.05 BTC at 20,000.00 (notional 1,000.00), client order so-{record['id'][4:]}",
        "EXECUTION: NOT_EXECUTED: denied by the risk gate: MAX_POSITION",
        "FOLLOW-UPS: none",
    ]


def test_why_nothing_happened(log):
    record = stored(log, "hold")
    assert lines(record) == [
        *header(record, "HOLD: no entry signal"),
        "FAIL    BUY when this rule passes",
        "└── FAIL    rule rsi_oversold [technical]: all of",
        "    └── FAIL    rsi(14) < 30   technical",
        "            value 45 · threshold < 30",
        "            rsi(n=14, timeframe=1d) = 45 at 2023-03-12T23:00:00Z (1h old, max 2d)",
        *exit_fails(45),
        *VETO_CLEAR,
        *NOTHING_DONE,
    ]


def test_the_story_is_the_same_before_and_after_the_record_is_stored(log):
    for day, situation in enumerate(("buy", "blocked", "denied", "hold", "pending")):
        built = SCENARIOS.record(situation, as_of=AS_OF + timedelta(days=day))
        kept = log.get(log.append(built)["id"])
        assert lines(built)[3:] == lines(kept)[3:]  # only the seq/hash line is new
        assert lines(built)[:2] == lines(kept)[:2]


def test_exit_signal_without_an_order_says_so():
    record = SCENARIOS.record("hold", values=(60.0, -0.02, -5e8))
    assert (record["verdict"], record["action"]) == ("SELL", "SELL")
    assert lines(record)[0] == "BTC at 2023-03-13T00:00:00Z: SELL signal (no order recorded)"
    assert outcome(record) == "SIGNAL"


def test_unknown_data_is_explained_in_words():
    record = SCENARIOS.record("blocked", values=(25.0, -0.02, None))
    shown = lines(record)
    assert shown[0] == (
        "BTC at 2023-03-13T00:00:00Z: would have bought but BLOCKED by veto "
        "usdc_outflow (data unknown)"
    )
    assert shown[-8:-4] == [
        "└── UNKNOWN stablecoin_net_flow('USDC', 2d) < -1B   onchain",
        "        value unknown · threshold < -1B",
        "        stablecoin_net_flow(chain=all, stablecoin=USDC, window=2d): no data",
        "        UNKNOWN: no data for this metric",
    ]


def test_stale_data_says_how_old_it_was():
    stale = SCENARIOS.evaluate((45.0, -0.02, -5e8), age=timedelta(days=3))
    record = build_decision_record(
        strategy=STRATEGY,
        evaluation=stale,
        mode="paper",
        intent=None,
        risk=None,
        execution=None,
        recorded_at=AS_OF,
        environ={},
    )
    shown = lines(record)
    assert (
        shown[0] == "BTC at 2023-03-13T00:00:00Z: HOLD: no entry signal (the entry data is unknown)"
    )
    assert shown[5:8] == [
        "    └── UNKNOWN rsi(14) < 30   technical",
        "            value 45 · threshold < 30",
        "            rsi(n=14, timeframe=1d) = 45 at 2023-03-10T00:00:00Z (3d old, max 2d)",
    ]
    assert shown[8] == "            UNKNOWN: data older than max age"


# --- approvals and follow-ups ----------------------------------------------------------------


def approve(log, record, *, approved=True, by="alice"):
    return log.append(
        build_followup(
            "approval",
            decision_id=record["decision_id"],
            recorded_at=AS_OF + timedelta(minutes=10),
            approval_id=record["execution"]["approval_id"],
            approved=approved,
            by=by,
            note="looks right",
        )
    )


def test_pending_approval_says_until_when(log):
    record = stored(log, "pending")
    shown = lines(record, log.followups(record["id"]))
    assert (
        shown[0] == "BTC at 2023-03-13T00:00:00Z: BUY awaiting approval until 2023-03-13T01:00:00Z"
    )
    assert shown[-3:] == [
        "EXECUTION: PENDING_APPROVAL: waiting for approval",
        f"  approval {record['execution']['approval_id']}, expires 2023-03-13T01:00:00Z",
        "FOLLOW-UPS: none",
    ]


def test_approved_then_filled_shows_who_approved_and_the_fill_price(log):
    record = stored(log, "pending")
    approve(log, record)
    intent = SCENARIOS.intent(mode="notify")
    log.append(
        build_followup(
            "fill",
            decision_id=record["decision_id"],
            recorded_at=AS_OF + timedelta(minutes=11),
            client_order_id=intent.client_order_id,
            fill=SCENARIOS.fill(intent, price="20050", at=AS_OF + timedelta(minutes=11)),
        )
    )
    followups = log.followups(record["id"])
    shown = lines(record, followups)
    assert shown[0] == "BTC at 2023-03-13T00:00:00Z: BOUGHT"
    assert shown[-3:] == [
        "FOLLOW-UPS:",
        "  2023-03-13T00:10:00Z  approved by alice: looks right",
        "  2023-03-13T00:11:00Z  filled 0.05 BTC at 20,050.00, fee 1.00 (paper)",
    ]
    assert outcome(record, followups) == "FILLED"


def test_approved_but_not_yet_filled(log):
    record = stored(log, "pending")
    approve(log, record)
    assert headline(record, log.followups(record["id"])) == "BUY approved by alice, not filled yet"


def test_rejected_approval_is_the_outcome(log):
    record = stored(log, "pending")
    approve(log, record, approved=False, by="bob")
    followups = log.followups(record["id"])
    assert headline(record, followups) == "BUY REJECTED by bob"
    assert lines(record, followups)[-1] == "  2023-03-13T00:10:00Z  rejected by bob: looks right"


def test_expired_approval_is_the_outcome(log):
    record = stored(log, "pending")
    log.append(
        build_followup(
            "expiry",
            decision_id=record["decision_id"],
            recorded_at=AS_OF + timedelta(hours=1, seconds=30),
            approval_id=record["execution"]["approval_id"],
            expires_at=AS_OF + timedelta(hours=1),
        )
    )
    followups = log.followups(record["id"])
    assert headline(record, followups) == "BUY EXPIRED without approval"
    assert lines(record, followups)[-1] == (
        f"  2023-03-13T01:00:30Z  expired (approval {record['execution']['approval_id']} "
        "was due by 2023-03-13T01:00:00Z)"
    )


def test_auto_order_submitted_then_failed(log):
    record = stored(log, "pending")
    intent = SCENARIOS.intent(mode="notify")
    for kind, fields in (
        ("order_submitted", {"order": intent}),
        (
            "order_result",
            {"execution": ExecutionResult(ExecutionStatus.FAILED, "insufficient balance")},
        ),
    ):
        log.append(
            build_followup(
                kind,
                decision_id=record["decision_id"],
                recorded_at=AS_OF + timedelta(minutes=1),
                client_order_id=intent.client_order_id,
                **fields,
            )
        )
    followups = log.followups(record["id"])
    assert headline(record, followups) == "BUY FAILED: insufficient balance"
    assert lines(record, followups)[-2:] == [
        f"  2023-03-13T00:01:00Z  order {intent.client_order_id} submitted",
        f"  2023-03-13T00:01:00Z  order {intent.client_order_id}: FAILED: insufficient balance",
    ]


# --- for programs, and finding the record ----------------------------------------------------


def test_why_json_tells_the_same_story_as_plain_json(log):
    record = stored(log, "pending")
    approve(log, record)
    followups = log.followups(record["id"])
    story = why_json(record, followups)
    json.dumps(story, allow_nan=False)
    assert story["outcome"] == "APPROVED"
    assert story["headline"] == "BUY approved by alice, not filled yet"
    assert (story["decision_id"], story["seq"], story["hash"]) == (
        record["id"],
        record["seq"],
        record["hash"],
    )
    assert story["entry"] == record["trace"]["entry"]
    assert story["risk"] == record["risk"]
    assert [(f["kind"], f["summary"]) for f in story["followups"]] == [
        ("approval", "approved by alice: looks right")
    ]


def test_decisions_are_found_by_id_or_by_asset_and_day(log):
    buy = stored(log, "buy")
    later = stored(log, "hold", as_of=AS_OF + timedelta(hours=6))
    assert find_decision(log, buy["id"]) == buy
    assert find_decision(log, "BTC", AS_OF.date()) == later
    assert find_decision(log, "BTC", AS_OF + timedelta(hours=1)) == buy
    assert find_decision(log, "ETH", AS_OF.date()) is None
    assert find_decision(log, "dec-000000000000000000000000") is None


def test_a_followup_is_not_a_decision_to_explain(log):
    record = stored(log, "pending")
    followup = approve(log, record)
    assert find_decision(log, followup["id"]) is None
    with pytest.raises(ValueError, match="is a approval, not a decision"):
        why(followup)


def _filed(form, filed, end):
    return {
        "accn": f"acc-{filed}",
        "concept": "us-gaap:StockholdersEquity",
        "end": end,
        "filed": filed,
        "form": form,
        "val": 1.0,
    }


def _reading_of(observation):
    return {
        "source": "fundamental",
        "metric": "price_to_book",
        "params": {},
        "data_timestamp": observation["data_time"],
        "value": observation["value"],
    }


def test_a_reading_gets_the_filed_facts_of_the_one_observation_read_alike():
    answered = {
        "source": "fundamental",
        "metric": "price_to_book",
        "data_time": "T",
        "value": 1.5,
        "detail": {"equity": _filed("10-Q", "2023-02-03", "2022-12-31")},
    }
    trace = {"leaves": [{"readings": [_reading_of(answered)]}], "triggers_met": []}
    (reading,) = with_facts(trace, [answered])["leaves"][0]["readings"]
    assert reading["facts"] == [_filed("10-Q", "2023-02-03", "2022-12-31")]
    assert "facts" not in trace["leaves"][0]["readings"][0]  # the record's trace is unchanged


def test_a_reading_two_observations_with_different_filings_match_alike_gets_no_filing():
    # Which of the two the reading is cannot be told: no filing is better than a wrong one.
    first = {
        "source": "fundamental",
        "metric": "price_to_book",
        "data_time": "T",
        "value": 1.5,
        "detail": {"equity": _filed("10-Q", "2023-02-03", "2022-12-31")},
    }
    second = {**first, "detail": {"equity": _filed("10-K", "2022-10-28", "2022-09-24")}}
    trace = {"leaves": [{"readings": [_reading_of(first)]}]}
    (reading,) = with_facts(trace, [first, second])["leaves"][0]["readings"]
    assert "facts" not in reading
