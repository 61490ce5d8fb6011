"""Compact decision records (``signalops.audit/2``): the same information as a ``/1`` record in
a fraction of the bytes, read back (trace and all) by re-deriving the stored tree.

What is held: the fast builder gives exactly ``build_decision_record``'s bytes; a compact record
expands to what a ``/1`` record stored, byte for byte, on real decisions; the store gives back
exactly the record it sealed, whatever its values; a log written before compact records still
reads, verifies, renders and replays as it did, and takes new records; ``verify`` names edits of
the trees and of the compact layout's side tables; a tree that does not agree with the record,
or cannot be had, is never drawn silently.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from attacks import attacker, reseal_from, stored
from audit_scenarios import AS_OF, SCENARIOS, STRATEGY, VALUES
from conftest import ROOT
from conftest import invoke as run
from hypothesis import given, settings
from hypothesis import strategies as st
from legacy import FIXTURES, legacy_log, restore_legacy

from signalops.audit import layout
from signalops.audit.chain import check
from signalops.audit.expand import PROBLEMS, expanded
from signalops.audit.layout import OUTCOMES_PER_STRATEGY
from signalops.audit.record import (
    DECISION_SCHEMA,
    SCHEMA,
    DecisionTemplate,
    build_decision_record,
    prepare,
    prepare_decision,
)
from signalops.audit.replay import replay_all
from signalops.audit.store import AuditLog
from signalops.audit.trees import tree_document, tree_from_document, tree_hash
from signalops.audit.verify import check_record, verify
from signalops.audit.why import find_decision, why
from signalops.canonical import canonical_json, content_hash
from signalops.codes import Code
from signalops.errors import DuplicateRecordError
from signalops.observation import DataError, Observation
from signalops.orders import ExecutionResult, ExecutionStatus
from signalops.risk.decision import RiskDecision
from signalops.strategy import load

SITUATIONS = ("buy", "blocked", "denied", "hold", "pending")
PIPELINE_STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
V1_DAYS = ("2023-03-10", "2023-03-11", "2023-03-12", "2023-03-13")


def text(record: dict[str, Any]) -> str:
    return canonical_json(record)


# --- building ------------------------------------------------------------------------------------


@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_template_builds_the_bytes_build_decision_record_builds(situation: str):
    record = SCENARIOS.record(situation)
    evaluation = SCENARIOS.evaluate(VALUES[situation if situation in VALUES else "buy"])
    template = DecisionTemplate(STRATEGY, "BTC", record["mode"])
    prepared = template.prepare(
        as_of=AS_OF,
        verdict=record["verdict"],
        action=record["action"],
        blocked_by=record["blocked_by"],
        conflicts=record["conflicts"],
        observations=[o for o in evaluation.observations],
        risk=record["risk"],
        order=record["order"],
        execution=record["execution"],
        recorded_at=AS_OF + timedelta(seconds=5),
        environ={},
    )
    assert prepared.text == text(record)
    assert prepared.record == record


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=3, max_size=3),
    detail=st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5))),
        st.dictionaries(st.text(max_size=5), st.lists(st.floats(allow_nan=False)), max_size=2),
    ),
    fetched=st.booleans(),
)
def test_plain_observations_are_written_as_the_general_encoder_writes_them(
    values: list[float], detail: Any, fetched: bool
):
    # Plain observations take a shorter way to their JSON (floats by repr, flat details encoded
    # once per content); the record read back and encoded the slow way must give its bytes.
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    fetched_at = AS_OF if fetched else None
    answers = [Observation(v, AS_OF, "technical", fetched_at, detail) for v in values]
    for _ in range(2):  # the second time from what the template remembers
        prepared = template.prepare(
            as_of=AS_OF, verdict="HOLD", observations=answers, recorded_at=AS_OF, environ={}
        )
        assert prepared.text == canonical_json(prepared.record)


def test_a_risk_decision_and_its_dict_build_one_record_and_no_two_records_share_a_value():
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    gate = RiskDecision.denied(Code.NO_POSITION, {"asset": "BTC", "side": "SELL"})
    result = ExecutionResult(ExecutionStatus.NOT_EXECUTED, "denied by the risk gate")
    answers = list(SCENARIOS.evaluate(VALUES["buy"]).observations)

    def build(risk: Any) -> Any:
        return template.prepare(
            as_of=AS_OF, verdict="SELL", action="SELL", observations=answers, risk=risk,
            execution=result, recorded_at=AS_OF, environ={},
        )  # fmt: skip

    first, second, from_dict = build(gate), build(gate), build(gate.to_dict())
    assert first.text == second.text == from_dict.text
    first.record["risk"]["checks"].clear()
    first.record["execution"]["message"] = "edited"
    assert second.record == from_dict.record
    assert second.record["risk"]["checks"][0]["code"] == "NO_POSITION"


def test_a_decision_keeps_its_answers_aligned_with_the_requests_and_no_trace():
    error = DataError(Code.HTTP_ERROR, "upstream returned 503", "onchain")
    record = SCENARIOS.record("hold", values=(float("inf"), None, error))
    assert record["schema"] == DECISION_SCHEMA and "trace" not in record
    assert record["observations"] == [
        {"value": "inf", "data_time": "2023-03-12T23:00:00Z", "fetched_at": "2023-03-13T00:00:00Z"},
        None,
        {"error": {"reason": "HTTP_ERROR", "message": "upstream returned 503"}},
    ]


def test_an_answer_of_the_wrong_type_is_kept_with_its_type_and_read_back_as_it_was():
    evaluation = SCENARIOS.evaluate((25.0, -0.02, -5e8))
    answers = list(evaluation.observations)
    answers[2] = ("not", "an", "observation")
    odd = STRATEGY.tree.evaluate_aligned(answers, AS_OF, "BTC")
    record = build_decision_record(
        strategy=STRATEGY,
        evaluation=odd,
        mode="paper",
        intent=None,
        risk=None,
        execution=None,
        recorded_at=AS_OF,
        environ={},
    )
    assert record["observations"][2] == {
        "error": {"reason": "ADAPTER_ERROR", "message": "not an Observation or DataError: tuple"},
        "invalid": "tuple",
    }
    full = expanded(record)
    assert PROBLEMS not in full
    (veto,) = [leaf for leaf in full["trace"]["leaves"] if leaf["rule"] == "usdc_outflow"]
    assert veto["readings"][0]["error"] == "not an Observation or DataError: tuple"
    assert veto["reason"] == "ADAPTER_ERROR"


def test_a_template_given_a_secret_scrubs_it_like_every_builder(monkeypatch):
    monkeypatch.setenv("VENUE_API_SECRET", "s3cr3t-value-123456")
    template = DecisionTemplate(STRATEGY, "BTC", "paper")
    error = DataError(Code.HTTP_ERROR, "GET /x?apikey=abc123 s3cr3t-value-123456", "onchain")
    answers = [Observation(25.0, AS_OF, "technical"), None, error]
    prepared = template.prepare(
        as_of=AS_OF, verdict="HOLD", observations=answers, recorded_at=AS_OF
    )
    assert "s3cr3t-value-123456" not in prepared.text and "abc123" not in prepared.text
    assert prepared.record["observations"][2]["error"]["message"] == "GET /x?apikey=*** ***"


# --- reading: the same information ----------------------------------------------------------------


def compact_of(record: dict[str, Any], tree: str) -> dict[str, Any]:
    """A ``/1`` decision as the compact record of the same decision."""
    entries: list[Any] = []
    for o in record["observations"]:
        if o["status"] == "OK":
            entry = {
                "value": o["value"],
                "data_time": o["data_time"],
                "fetched_at": o["fetched_at"],
            }
            if "detail" in o:
                entry["detail"] = o["detail"]
            entries.append(entry)
        else:
            entries.append({"error": o["error"]} if o["status"] == "ERROR" else None)
    compact = {k: v for k, v in record.items() if k not in ("trace", "seq", "prev_hash", "hash")}
    compact.update(
        schema=DECISION_SCHEMA, observations=entries, strategy={**record["strategy"], "tree": tree}
    )
    return compact


def test_every_v1_decision_expands_back_from_its_compact_record_byte_for_byte(tmp_path: Path):
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the fixture cites the strategy by the path it was run with
        strategy = load(PIPELINE_STRATEGY)
    with AuditLog.open_readonly(restore_legacy(tmp_path / "v1.db")) as log:
        decisions = [r for r in log.records() if r["kind"] == "decision"]
    assert len(decisions) == 9
    for record in decisions:
        full = expanded(compact_of(record, tree_hash(strategy)), strategy=strategy)
        assert PROBLEMS not in full
        assert text(full["trace"]) == text(record["trace"])
        assert text(full["observations"]) == text(record["observations"])


def test_a_stored_tree_rebuilds_the_compiled_tree_with_its_spans():
    document = json.loads(canonical_json(tree_document(STRATEGY)))
    rebuilt = tree_from_document(document)
    assert rebuilt.nodes == STRATEGY.tree.nodes  # spans included
    first = next(str(n.span) for n in rebuilt.leaves())
    assert first == "strategies/banking_crisis_dip.yaml:22:18"
    assert content_hash(document) == tree_hash(STRATEGY)


# --- the store gives back what it sealed ---------------------------------------------------------


def odd_records() -> list[dict[str, Any]]:
    """Records whose fields the compact layout cannot take apart (they stay in the body)."""
    base = SCENARIOS.record("buy")
    fractional = SCENARIOS.record("hold", as_of=AS_OF + timedelta(microseconds=250_001))
    offset = {**SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=2))}
    offset["as_of"] = offset["as_of"].replace("Z", "+00:00")  # not the builders' form
    offset["recorded_at"] = "2023-03-15T01:00:00.500000+00:00"
    huge = copy.deepcopy(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=3)))
    huge["observations"][0]["detail"] = {"big": 2**70, "text": 'ünïcode \u2028 \\ "q"' * 200}
    return [base, fractional, offset, huge]


@pytest.mark.parametrize("layout", ["compact", "legacy"])
def test_the_store_gives_back_exactly_the_record_it_sealed(tmp_path: Path, layout: str):
    path = tmp_path / "audit.db"
    if layout == "legacy":
        legacy_log(path)
    with AuditLog(path) as log:
        sealed = [log.append(record) for record in odd_records()]
        assert [text(log.get(r["id"]) or {}) for r in sealed] == [text(r) for r in sealed]
        assert all(check(r) for r in log.records())
        assert verify(log).ok
        log.export_jsonl(tmp_path / "out.jsonl")
    # One record a line ("\n"; str.splitlines would also split at the U+2028 in a value).
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
    assert lines == [text(r) for r in sealed]  # an export holds the records as sealed


def test_large_bodies_are_deflated_against_a_dictionary_and_read_back(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as log:
        sealed = [
            log.append(SCENARIOS.record("buy", as_of=AS_OF + timedelta(days=day)))
            for day in range(20)
        ]
        kinds = [type(row["body"]).__name__ for row in log.raw_rows()]
        assert kinds == ["bytes"] * 20  # a BUY with its risk checks and fill is large
        assert [text(r) for r in log.records()] == [text(r) for r in sealed]
        sizes = [len(row["body"]) for row in log.raw_rows()]
    assert max(sizes[1:]) * 4 < len(text(sealed[0]))  # the later ones cost a fraction


def test_a_writer_keeps_a_bounded_number_of_primed_dictionaries_and_reads_the_rest_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # One primed compressor per (kind, context, asset) is ~58 KB: a runner over a universe
    # kept one per asset for ever. Here the bound is 8, for 40 assets written twice over.
    monkeypatch.setattr(layout, "_DICTIONARIES_PRIMED", 8)
    monkeypatch.setattr(layout, "_DICTIONARIES_READ", 8)
    assets = [f"A{n:02d}" for n in range(40)]
    records = [
        SCENARIOS.record("buy", as_of=AS_OF + timedelta(days=day), asset=asset)
        for day in range(2)
        for asset in assets
    ]
    tracemalloc.start()
    try:
        with AuditLog(tmp_path / "audit.db") as log:
            before = tracemalloc.get_traced_memory()[0]
            sealed = [log.append(record) for record in records]
            held = tracemalloc.get_traced_memory()[0] - before
            assert [text(r) for r in log.records()] == [text(r) for r in sealed]
            assert verify(log).ok
            bodies = [row["body"] for row in log.raw_rows()]
    finally:
        tracemalloc.stop()
    assert all(isinstance(body, bytes) for body in bodies)  # every one deflated
    assert held < 1_500_000  # 40 primed compressors alone would be ~2.3 MB


def test_a_rolled_back_append_leaves_no_side_row_a_later_record_could_cite(tmp_path: Path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        first = log.append(SCENARIOS.record("hold"))
        other = SCENARIOS.record("pending", as_of=AS_OF + timedelta(days=1))  # a new context
        with pytest.raises(DuplicateRecordError):
            log.append_many([other, SCENARIOS.record("hold")])
        log.append(other)
        assert verify(log).ok
        assert text(log.get(other["id"]) or {}) != text(first)


def test_a_repeated_outcome_is_stored_once_in_a_context_and_each_record_reads_back_whole(
    tmp_path: Path,
):
    holds = [SCENARIOS.record("hold", as_of=AS_OF + timedelta(hours=h)) for h in range(4)]
    with AuditLog(tmp_path / "audit.db") as log:
        sealed = [log.append(record) for record in holds]
        bodies = [json.loads(row["body"]) for row in log.raw_rows()]
        contexts = [row["context"] for row in log.raw_rows()]
        assert [text(r) for r in log.records()] == [text(r) for r in sealed]
        assert verify(log).ok
        shared = log.conn.execute("SELECT json FROM contexts WHERE id = ?", [contexts[1]])
        outcome = json.loads(shared.fetchone()[0])
    # The first HOLD keeps its outcome; from the second on, it is in one context they share.
    assert "execution" in bodies[0] and contexts[0] != contexts[1]
    assert contexts[1:] == [contexts[1]] * 3
    assert all(set(body) == {"observations", "seq"} for body in bodies[1:])
    assert outcome["verdict"] == "HOLD" and outcome["execution"] == holds[0]["execution"]


def test_records_sharing_an_outcome_context_are_each_their_own_copy(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as log:
        # A denial with no order (a SELL while nothing is held): the same from hour to hour.
        sealed = [
            log.append(
                {**SCENARIOS.record("denied", as_of=AS_OF + timedelta(hours=h)), "order": None}
            )
            for h in range(3)
        ]
        contexts = [row["context"] for row in log.raw_rows()]
        assert contexts[1] == contexts[2] != contexts[0]  # the denial is in their context
        first, second = log.get(sealed[1]["id"]), log.get(sealed[2]["id"])
        assert first is not None and second is not None
        first["risk"]["checks"].clear()
        first["execution"]["details"]["edited"] = True
        first["blocked_by"].append("edited")
        again = log.get(sealed[1]["id"])
    assert again is not None and text(again) == text(sealed[1])
    assert text(second) == text(sealed[2])


def test_an_outcome_context_rolled_back_is_written_again_by_the_next_record(tmp_path: Path):
    holds = [SCENARIOS.record("hold", as_of=AS_OF + timedelta(hours=h)) for h in range(4)]
    with AuditLog(tmp_path / "audit.db") as log:
        log.append_many(holds[:1])
        with pytest.raises(DuplicateRecordError):  # the second would make the context
            log.append_many([holds[1], holds[0]])
        sealed = [log.append(record) for record in holds[1:]]
        assert [text(r) for r in log.records()][1:] == [text(r) for r in sealed]
        assert len({row["context"] for row in log.raw_rows()}) == 2
        assert verify(log).ok


def test_a_strategy_gets_at_most_its_share_of_outcome_contexts_and_every_record_reads_back(
    tmp_path: Path,
):
    # 70 assets, each HOLD with its own message: more outcomes a cycle than the cap.
    def hold(asset: str, hour: int) -> dict[str, Any]:
        record = SCENARIOS.record("hold", as_of=AS_OF + timedelta(hours=hour), asset=asset)
        record["execution"] = {"message": f"no signal on {asset}", "status": "NOT_EXECUTED"}
        return record

    assets = [f"A{n:02d}" for n in range(70)]
    with AuditLog(tmp_path / "audit.db") as log:
        sealed = [log.append(hold(asset, hour)) for hour in range(3) for asset in assets]
        assert [text(r) for r in log.records()] == [text(r) for r in sealed]
        assert verify(log).ok
        outcome_contexts = log.conn.execute(
            "SELECT count(*) FROM contexts WHERE json LIKE '%\"verdict\":%'"
        ).fetchone()[0]
        rows = list(log.raw_rows())
        found = log.decisions(strategy=sealed[0]["strategy"]["hash"], limit=None)
    assert outcome_contexts == OUTCOMES_PER_STRATEGY
    # The first 32 assets' outcomes repeat first: their later records cite their contexts.
    wide = [row["asset"] for row in rows if "execution" not in json.loads(row["body"])]
    assert sorted(set(wide)) == assets[:OUTCOMES_PER_STRATEGY]
    assert len(wide) == OUTCOMES_PER_STRATEGY * 2
    assert sorted(r["id"] for r in found) == sorted(r["id"] for r in sealed)


def test_the_fast_path_and_a_plain_dict_store_the_same_record(tmp_path: Path):
    evaluation = SCENARIOS.evaluate((45.0, -0.02, -5e8))
    kwargs = dict(
        strategy=STRATEGY,
        evaluation=evaluation,
        mode="paper",
        intent=None,
        risk=None,
        execution=ExecutionResult(ExecutionStatus.NOT_EXECUTED, "no signal"),
        recorded_at=AS_OF,
        environ={},
    )
    with AuditLog(tmp_path / "a.db") as fast, AuditLog(tmp_path / "b.db") as plain:
        one = fast.append(prepare_decision(**kwargs))  # type: ignore[arg-type]
        two = plain.append(build_decision_record(**kwargs))  # type: ignore[arg-type]
        assert one == two
        assert text(fast.get(one["id"]) or {}) == text(plain.get(two["id"]) or {})
        assert next(fast.raw_rows()) == next(plain.raw_rows())


def test_a_compact_log_is_smaller_than_the_same_records_in_the_legacy_layout(tmp_path: Path):
    records = [
        SCENARIOS.record(("hold", "blocked")[hour % 2], as_of=AS_OF + timedelta(hours=hour))
        for hour in range(80)
    ]
    legacy = legacy_log(tmp_path / "legacy.db")
    full = [
        {**expanded(r), "schema": SCHEMA, "strategy": {**r["strategy"]}}  # the /1 shape
        for r in records
    ]
    for record in full:
        del record["strategy"]["tree"]
    with AuditLog(tmp_path / "compact.db") as compact, AuditLog(legacy) as old:
        compact.append_many(records)
        old.append_many(full)
        compact.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        old.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert (tmp_path / "compact.db").stat().st_size * 3 < legacy.stat().st_size


# --- a log written before compact records -------------------------------------------------------


@pytest.fixture
def v1_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    return restore_legacy(tmp_path / "v1.db")


@pytest.mark.parametrize("day", V1_DAYS)
def test_a_v1_log_tells_why_exactly_as_the_version_that_wrote_it(v1_log: Path, day: str):
    result = run("why", "BTC", "--at", day, "--audit", str(v1_log))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (FIXTURES / f"why_BTC_{day}.txt").read_text(encoding="utf-8")


def test_a_v1_log_verifies_replays_and_exports_lines_that_verify(v1_log: Path, tmp_path: Path):
    with AuditLog.open_readonly(v1_log) as log:
        assert not log.compact
        report = verify(log)
        results = list(replay_all(log))
        log.export_jsonl(tmp_path / "out.jsonl")
    assert report.ok and report.checked == 11
    assert len(results) == 9 and all(r.identical for r in results)
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["schema"] for line in lines] == [SCHEMA] * 11
    assert all(check(json.loads(line)) for line in lines)


def test_a_v1_log_takes_compact_records_and_reads_both(v1_log: Path, replay_dir: Path):
    result = run(
        "run", PIPELINE_STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-17",
        "--to", "2023-03-18", "--every", "1d", "--audit", str(v1_log),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with AuditLog.open_readonly(v1_log) as log:
        schemas = [r["schema"] for r in log.records() if r["kind"] == "decision"]
        assert schemas == [SCHEMA] * 9 + [DECISION_SCHEMA] * 2
        assert verify(log).ok
        assert all(r.identical for r in replay_all(log))
        new = find_decision(log, "BTC", datetime(2023, 3, 18, tzinfo=UTC))
        assert new is not None and new["trace"]["entry"]["status"] == "FAIL"
        assert check_record(log, new) == []
    again = run("why", "BTC", "--at", "2023-03-12", "--audit", str(v1_log))
    assert again.stdout == (FIXTURES / "why_BTC_2023-03-12.txt").read_text(encoding="utf-8")


# --- verify and why on what only a compact log has ----------------------------------------------


@pytest.fixture
def compact_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        log.remember_strategy(STRATEGY)
        for day, situation in enumerate(("hold", "blocked", "buy", "denied")):
            log.append(SCENARIOS.record(situation, as_of=AS_OF + timedelta(days=day)))
    return path


def problems(path: Path) -> list[tuple[str, int | None, str]]:
    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    return [(p.kind.value, p.seq, p.message) for p in report.problems]


def test_an_edited_stored_tree_is_named_by_verify_and_why_warns(compact_log: Path):
    db = attacker(compact_log)
    (document,) = db.execute("SELECT document FROM trees").fetchone()
    db.execute("UPDATE trees SET document = ?", (document.replace("< 30", "< 99"),))
    db.commit()
    db.close()
    found = problems(compact_log)
    assert [(kind, seq) for kind, seq, _ in found] == [("STRATEGY", None)]
    assert "does not hash to its key: it was edited" in found[0][2]
    result = run("why", "BTC", "--at", "2023-03-13", "--audit", str(compact_log))
    assert result.exit_code == 1
    assert "the tree it cites was edited" in result.stderr


def test_a_forged_tree_under_its_own_hash_is_not_what_the_document_compiles_to(
    compact_log: Path,
):
    forged = json.loads(canonical_json(tree_document(STRATEGY)))
    forged["entry"]["items"][0]["items"][0]["right"][0]["const"] = 99.0  # rsi(14) < 99
    key = content_hash(forged)
    db = attacker(compact_log)
    db.execute(
        "INSERT INTO trees (hash, strategy_hash, document) VALUES (?, ?, ?)",
        (key, STRATEGY.content_hash, canonical_json(forged)),
    )
    # Every record re-sealed to cite it: the chain is flawless.
    reseal_from(db, 1, lambda body: body["strategy"].update(tree=key))
    db.commit()
    db.close()
    found = problems(compact_log)
    assert ("STRATEGY", None) in [(kind, seq) for kind, seq, _ in found]
    assert any(
        "is not what its strategy document compiles to: it was forged" in m for *_, m in found
    )
    assert {kind for kind, *_ in found} == {"STRATEGY"}


def test_a_record_whose_stated_verdict_its_tree_does_not_give_is_shown_with_a_warning(
    compact_log: Path,
):
    db = attacker(compact_log)
    reseal_from(db, 1, lambda body: body.update(verdict="BUY", action="BUY"))  # it was a HOLD
    db.commit()
    db.close()
    assert problems(compact_log) == []  # re-sealed consistently: the chain cannot tell
    result = run("why", "BTC", "--at", "2023-03-13", "--audit", str(compact_log))
    assert result.exit_code == 1
    assert "WARNING: re-evaluating its tree gives verdict 'HOLD', the record says 'BUY'" in (
        result.stdout
    )
    assert "re-evaluating its tree gives verdict 'HOLD'" in result.stderr


def test_a_compact_record_whose_tree_is_not_known_is_told_with_a_warning_not_drawn():
    strategy = load(ROOT / "strategies" / "technical_baseline.yaml")  # a fresh object, unseen
    evaluation = strategy.tree.evaluate_aligned([None], AS_OF, "BTC")
    record = build_decision_record(
        strategy=strategy,
        evaluation=evaluation,
        mode="paper",
        intent=None,
        risk=None,
        execution=None,
        recorded_at=AS_OF,
        environ={},
    )
    stray = {**record, "strategy": {**record["strategy"], "tree": "sha256:" + "0" * 64}}
    lines = [line.plain for line in why(stray)]
    assert lines[3].startswith("WARNING: its tree cannot be derived: tree sha256:0000")
    assert "TREES: cannot be shown (see the warning above)" in lines


def test_an_edited_context_or_dictionary_shows_as_edited_records(compact_log: Path):
    db = attacker(compact_log)
    db.execute("UPDATE contexts SET json = replace(json, '\"paper\"', '\"auto\"')")
    db.commit()
    db.close()
    found = problems(compact_log)
    assert {(kind, seq) for kind, seq, _ in found} == {("EDITED", seq) for seq in (1, 2, 3, 4)}


def test_side_tables_are_append_only(compact_log: Path):
    conn = sqlite3.connect(compact_log)
    for table in ("trees", "names", "contexts", "dictionaries"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute(f"DELETE FROM {table}")
    conn.close()


def test_a_stored_compact_record_is_what_was_appended(compact_log: Path):
    db = sqlite3.connect(compact_log)
    try:
        records = stored(db)
    finally:
        db.close()
    assert [r["verdict"] for r in records] == ["HOLD", "BLOCKED", "BUY", "BUY"]
    assert all(check(r) for r in records)
    assert prepare(records[0]).text == text(records[0])


@pytest.mark.parametrize(
    "value",
    [1e16, 1e-05, 0.00001234, -2.5e-07, 2**70, "sha256:5e16", [1.5, "x:1e9", 3e20], {"k": 1e100}],
    ids=["1e16", "1e-05", "small", "negative-small", "big-int", "hash-like", "list", "dict"],
)
def test_a_record_encoded_member_by_member_is_its_canonical_json(value: Any):
    record = {**SCENARIOS.record("hold"), "note": value, "zeta": 1e16, "alpha": "a:5e3"}
    assert prepare(record).text == canonical_json(record)


def _stamp_by_datetime(value: int) -> str:
    """A time column's text as ``datetime`` writes it (what ``layout.stamp`` gave before it
    read the time of day from tables)."""
    return (layout.EPOCH + timedelta(seconds=value)).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-62_135_596_800, max_value=253_402_300_799))
def test_a_whole_second_time_column_reads_back_as_datetime_writes_it(value: int):
    layout._STAMPS.clear()  # each value worked out, not found
    layout._DAYS.clear()
    assert layout.stamp(value) == _stamp_by_datetime(value)
    assert layout.stamp(value) == _stamp_by_datetime(value)  # and found again


def test_times_read_back_across_more_hours_than_the_cache_keeps_are_each_their_own():
    hours = range(0, 3600 * 30_000, 3600)  # 30,000 hours: the cache is emptied several times
    assert all(layout.stamp(v) == _stamp_by_datetime(v) for v in hours)
    for value in (-1, 0, 86_399, 86_400, -86_400, -86_401):
        assert layout.stamp(value) == _stamp_by_datetime(value)
