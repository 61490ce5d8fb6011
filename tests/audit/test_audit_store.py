"""The SQLite store: appends, queries, follow-ups, the approval queue, export, indexes and
concurrent writers — all against real files in tmp_path through sqlite-utils."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest
from audit_scenarios import AS_OF, REPO, SCENARIOS, STRATEGY, schema_checked_log

from bench.audit_records import synthetic_records
from signalops.audit.chain import GENESIS, check
from signalops.audit.record import build_followup, json_safe
from signalops.audit.store import (
    AuditLog,
    DuplicateRecordError,
    TransactionEndedError,
    sortable_time,
)
from signalops.audit.verify import verify
from signalops.canonical import content_hash
from signalops.errors import AuditError, AuditNotFound, AuditUnreadable

DAY = timedelta(days=1)


@pytest.fixture
def log(tmp_path):
    with schema_checked_log(tmp_path / "audit.db") as opened:
        yield opened


def approval(record, *, by="alice", approved=True, at=None, n=1):
    return build_followup(
        "approval",
        decision_id=record["decision_id"],
        recorded_at=at or AS_OF + timedelta(minutes=10),
        n=n,
        approval_id=record["execution"]["approval_id"],
        approved=approved,
        by=by,
    )


def expiry(record, *, at=None):
    return build_followup(
        "expiry",
        decision_id=record["decision_id"],
        recorded_at=at or AS_OF + timedelta(hours=2),
        approval_id=record["execution"]["approval_id"],
        expires_at=record["execution"]["expires_at"],
    )


# --- appending -------------------------------------------------------------------------------


def test_appends_get_consecutive_seqs_linked_by_prev_hash(log):
    first = log.append(SCENARIOS.record("hold"))
    second = log.append(SCENARIOS.record("buy", as_of=AS_OF + DAY))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    assert check(first) and check(second)
    assert log.head() == (2, second["hash"])


def test_an_append_rolled_back_inside_a_transaction_leaves_the_head_and_chain_as_before(log):
    batch = [SCENARIOS.record("hold", as_of=AS_OF + i * DAY) for i in range(3)]
    with log.transaction():
        first = log.append(batch[0])
        assert log.head() == (1, first["hash"])  # this transaction's own head
        with pytest.raises(RuntimeError), log.transaction():  # a savepoint, rolled back
            log.append(batch[1])
            raise RuntimeError("after the append")
        assert log.head() == (1, first["hash"])
        third = log.append(batch[2])
    assert third["seq"] == 2 and third["prev_hash"] == first["hash"]
    assert log.head() == (2, third["hash"])
    assert verify(log).ok


def test_get_returns_exactly_the_sealed_record(log):
    sealed = log.append(SCENARIOS.record("buy"))
    assert log.get(sealed["id"]) == sealed
    assert log.get("dec-000000000000000000000000") is None


def test_duplicate_decision_is_refused_and_nothing_is_written(log):
    log.append(SCENARIOS.record("buy"))
    head = log.head()
    with pytest.raises(DuplicateRecordError, match="already in the audit log") as caught:
        log.append(SCENARIOS.record("buy"))
    assert caught.value.ids == (SCENARIOS.record("buy")["id"],)
    assert log.count() == 1 and log.head() == head


def test_append_many_is_all_or_nothing(log):
    batch = [SCENARIOS.record("hold", as_of=AS_OF + i * DAY) for i in range(3)]
    with pytest.raises(DuplicateRecordError) as caught:
        log.append_many([*batch, batch[1]])
    assert caught.value.ids == (batch[1]["id"],)
    assert log.count() == 0 and log.head() is None
    assert log.append_many(batch) == 3
    sealed = list(log.records())
    assert [r["id"] for r in sealed] == [r["id"] for r in batch]
    assert [r["seq"] for r in sealed] == [1, 2, 3]
    assert [r["prev_hash"] for r in sealed] == [GENESIS] + [r["hash"] for r in sealed[:-1]]
    assert log.head() == (3, sealed[-1]["hash"])


def test_append_refuses_records_not_built_by_the_builders(log):
    with pytest.raises(ValueError, match=r"not a signalops\.audit/1 or signalops\.audit/2 record"):
        log.append({"kind": "decision", "id": "x"})
    with pytest.raises(ValueError, match="unknown kind"):
        log.append({**SCENARIOS.record("hold"), "kind": "note"})
    with pytest.raises(ValueError, match="already sealed"):
        log.append(log.append(SCENARIOS.record("hold")))


def test_records_are_append_only_even_for_raw_sql(log):
    log.append(SCENARIOS.record("buy"))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log.db.execute("UPDATE records SET verdict = 'HOLD'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        log.db.execute("DELETE FROM records")
    assert log.get(SCENARIOS.record("buy")["id"])["verdict"] == "BUY"


def test_log_uses_write_ahead_logging(log):
    assert log.db.journal_mode == "wal"


def test_reopening_a_log_continues_its_chain(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as first:
        one = first.append(SCENARIOS.record("hold"))
    with AuditLog(path) as again:
        two = again.append(SCENARIOS.record("buy", as_of=AS_OF + DAY))
        assert two["seq"] == 2 and two["prev_hash"] == one["hash"]
        assert verify(again).ok


# --- opening for reading ----------------------------------------------------------------------


def test_opening_a_missing_log_for_reading_is_audit_not_found_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "nope.db"

    with pytest.raises(AuditNotFound) as info:
        AuditLog.open(missing, create=False)

    assert str(info.value) == f"{missing}: no such audit log"
    assert list(tmp_path.iterdir()) == []


def test_opening_a_missing_log_for_writing_creates_it_and_its_folder(tmp_path):
    with AuditLog.open(tmp_path / "new" / "audit.db", create=True) as made:
        assert made.count() == 0
    assert (tmp_path / "new" / "audit.db").is_file()


def test_a_folder_is_not_an_audit_log(tmp_path):
    with pytest.raises(AuditUnreadable) as info:
        AuditLog.open_readonly(tmp_path)

    assert str(info.value) == f"{tmp_path}: not a SignalOps audit log (it is a folder)"


def test_a_log_opened_for_reading_refuses_to_write_and_the_file_is_unchanged(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as writer:
        writer.append(SCENARIOS.record("hold"))
    before = path.read_bytes()

    with AuditLog.open_readonly(path) as reader:
        assert reader.count() == 1 and verify(reader).ok
        with pytest.raises(AuditError, match="opened read-only"):
            reader.append(SCENARIOS.record("buy", as_of=AS_OF + DAY))

    assert path.read_bytes() == before


def test_a_reader_sees_what_a_writer_appends_while_it_is_open(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as writer, AuditLog.open_readonly(path) as reader:
        assert reader.count() == 0
        writer.append(SCENARIOS.record("hold"))
        assert reader.count() == 1


def _damaged_log(folder):
    """``cut.db``: a copy of ``whole.db`` (200 records) with its second half zeroed."""
    whole = folder / "whole.db"
    with AuditLog(whole) as writer:
        writer.append_many(synthetic_records(200))
    cut = folder / "cut.db"
    data = whole.read_bytes()
    half = len(data) // 2 // 4096 * 4096  # whole pages of records zeroed, the schema intact
    cut.write_bytes(data[:half] + bytes(len(data) - half))
    return cut


def test_a_log_damaged_past_its_first_pages_is_unreadable_when_read_and_leaves_no_files(tmp_path):
    cut = _damaged_log(tmp_path)

    reader = AuditLog.open_readonly(cut)  # the schema pages are intact
    with pytest.raises(AuditUnreadable, match=r"^.*cut.db: not a SignalOps audit log \("):
        verify(reader)

    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.db", "whole.db"]


def test_export_from_a_damaged_log_leaves_no_partial_file(tmp_path):
    cut = _damaged_log(tmp_path)

    with pytest.raises(AuditUnreadable):
        AuditLog.open_readonly(cut).export_jsonl(tmp_path / "out.jsonl")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["cut.db", "whole.db"]


# --- transactions ----------------------------------------------------------------------------


def test_transaction_commits_records_and_the_callers_own_table_together(log):
    with log.transaction() as db:
        log.append(SCENARIOS.record("buy"))
        db.table("paper_positions").insert({"asset": "BTC", "quantity": "0.05"}, pk="asset")
    assert log.count() == 1
    assert list(log.db.table("paper_positions").rows) == [{"asset": "BTC", "quantity": "0.05"}]


def test_transaction_rolls_back_records_and_the_callers_own_table_together(log):
    log.db.table("paper_positions").create({"asset": str, "quantity": str}, pk="asset")
    with pytest.raises(RuntimeError), log.transaction() as db:
        log.append(SCENARIOS.record("buy"))
        db.table("paper_positions").insert({"asset": "BTC", "quantity": "0.05"})
        raise RuntimeError("the executor crashed")
    assert log.count() == 0 and log.head() is None
    assert log.db.table("paper_positions").count == 0


def test_transaction_committed_early_by_someone_else_refuses_further_appends(log):
    # What sqlite-utils 3.x table writes do inside a transaction: commit it.
    with pytest.raises(TransactionEndedError), log.transaction():
        log.append(SCENARIOS.record("buy"))
        log.db.conn.commit()
        log.append(SCENARIOS.record("hold", as_of=AS_OF + DAY))
    assert log.count() == 1  # what was committed stays; nothing was appended unlocked
    assert verify(log).ok


def test_failed_append_inside_a_transaction_leaves_the_rest_of_it_intact(log):
    with log.transaction():
        log.append(SCENARIOS.record("buy"))
        with pytest.raises(DuplicateRecordError) as caught:
            log.append_many([SCENARIOS.record("hold", as_of=AS_OF + DAY), SCENARIOS.record("buy")])
        assert caught.value.ids == (SCENARIOS.record("buy")["id"],)
        log.append(SCENARIOS.record("hold", as_of=AS_OF + 2 * DAY))
    assert [r["seq"] for r in log.records()] == [1, 2]
    assert verify(log).ok


# --- strategies ------------------------------------------------------------------------------


def test_strategy_document_is_stored_once_per_content_hash(log):
    assert log.remember_strategy(STRATEGY) is True
    assert log.remember_strategy(STRATEGY) is False
    document = log.strategy_document(STRATEGY.content_hash)
    assert document == json_safe(STRATEGY.document)
    assert content_hash(document) == STRATEGY.content_hash
    assert log.strategy_document("sha256:" + "0" * 64) is None


# --- queries ---------------------------------------------------------------------------------


@pytest.fixture
def history(log):
    """BTC on three days (hold, blocked, buy), ETH on day two (buy), in that append order."""
    records = {
        "btc1": SCENARIOS.record("hold", as_of=AS_OF),
        "eth2": SCENARIOS.record("buy", as_of=AS_OF + DAY, asset="ETH"),
        "btc2": SCENARIOS.record("blocked", as_of=AS_OF + DAY),
        "btc3": SCENARIOS.record("buy", as_of=AS_OF + 2 * DAY),
    }
    for record in records.values():
        log.append(record)
    return {name: record["id"] for name, record in records.items()}


def ids(records):
    return [r["id"] for r in records]


def test_decisions_come_newest_first(log, history):
    assert ids(log.decisions()) == [
        history["btc3"],
        history["btc2"],
        history["eth2"],
        history["btc1"],
    ]


def test_decisions_filter_by_asset_verdict_and_strategy(log, history):
    assert ids(log.decisions(asset="BTC")) == [history["btc3"], history["btc2"], history["btc1"]]
    assert ids(log.decisions(verdict="BUY")) == [history["btc3"], history["eth2"]]
    assert ids(log.decisions(asset="BTC", verdict="BLOCKED")) == [history["btc2"]]
    assert len(log.decisions(strategy="Banking_Crisis_Dip")) == 4
    assert len(log.decisions(strategy=STRATEGY.content_hash)) == 4
    assert log.decisions(strategy="Other") == []


def test_decisions_filter_by_time_with_inclusive_bounds_and_whole_days(log, history):
    assert ids(log.decisions(since=AS_OF + DAY)) == [
        history["btc3"],
        history["btc2"],
        history["eth2"],
    ]
    assert ids(log.decisions(until=AS_OF)) == [history["btc1"]]
    day_two = (AS_OF + DAY).date()
    assert ids(log.decisions(since=day_two, until=day_two)) == [history["btc2"], history["eth2"]]
    assert ids(log.decisions(limit=1)) == [history["btc3"]]


def test_decisions_leave_out_followups(log):
    pending = log.append(SCENARIOS.record("pending"))
    log.append(approval(pending))
    assert ids(log.decisions()) == [pending["id"]]


def test_decision_at_a_time_is_the_latest_at_or_before_it(log, history):
    assert log.decision_at("BTC", AS_OF + DAY + timedelta(hours=3))["id"] == history["btc2"]
    assert log.decision_at("BTC", AS_OF + DAY)["id"] == history["btc2"]
    assert log.decision_at("BTC", AS_OF - timedelta(seconds=1)) is None
    assert log.decision_at("ETH", AS_OF + 5 * DAY)["id"] == history["eth2"]


def test_decision_at_a_date_is_that_days_latest_or_none(log, history):
    later = log.append(SCENARIOS.record("hold", as_of=AS_OF + DAY + timedelta(hours=20)))
    assert log.decision_at("BTC", (AS_OF + DAY).date())["id"] == later["id"]
    assert log.decision_at("BTC", date(2023, 3, 20)) is None
    assert log.decision_at("SOL", AS_OF.date()) is None


def test_decision_at_can_be_narrowed_to_a_strategy(log, history):
    assert log.decision_at("BTC", AS_OF, strategy="Banking_Crisis_Dip")["id"] == history["btc1"]
    assert log.decision_at("BTC", AS_OF, strategy="Other") is None


def test_sub_second_times_sort_after_the_whole_second(log):
    whole = log.append(SCENARIOS.record("hold", as_of=AS_OF))
    later = log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(milliseconds=500)))
    assert log.decision_at("BTC", AS_OF + DAY)["id"] == later["id"]
    assert log.decision_at("BTC", AS_OF)["id"] == whole["id"]
    assert sortable_time("2023-03-13T00:00:00Z") < sortable_time("2023-03-13T00:00:00.5Z")


def test_followups_come_in_order_and_has_decision_knows_decisions_only(log):
    pending = log.append(SCENARIOS.record("pending"))
    other = log.append(SCENARIOS.record("hold", as_of=AS_OF + DAY))
    approved = log.append(approval(pending))
    intent = SCENARIOS.intent(mode="notify")
    fill = log.append(
        build_followup(
            "fill",
            decision_id=pending["decision_id"],
            recorded_at=AS_OF + timedelta(minutes=11),
            client_order_id=intent.client_order_id,
            fill=SCENARIOS.fill(intent),
        )
    )
    assert ids(log.followups(pending["id"])) == [approved["id"], fill["id"]]
    assert log.followups(other["id"]) == []
    assert log.has_decision(pending["id"]) and log.has_decision(other["id"])
    assert not log.has_decision(approved["id"])
    assert not log.has_decision("dec-000000000000000000000000")


# --- the approval queue ----------------------------------------------------------------------


def test_pending_approvals_list_waiting_decisions_with_their_expiry(log):
    first = log.append(SCENARIOS.record("pending", as_of=AS_OF))
    second = log.append(SCENARIOS.record("pending", as_of=AS_OF - timedelta(minutes=30)))
    log.append(SCENARIOS.record("buy", as_of=AS_OF + DAY))  # paper: never pending
    pending = log.pending_approvals(AS_OF + timedelta(minutes=45))
    assert [p.decision_id for p in pending] == [second["id"], first["id"]]  # soonest expiry first
    assert [p.expired for p in pending] == [True, False]
    assert pending[1].expires_at == AS_OF + timedelta(hours=1)
    assert pending[1].approval_id == first["execution"]["approval_id"]
    assert (pending[1].asset, pending[1].strategy) == ("BTC", "Banking_Crisis_Dip")
    assert pending[1].record == first


def test_an_approval_or_an_expiry_takes_a_decision_off_the_queue(log):
    approved = log.append(SCENARIOS.record("pending", as_of=AS_OF))
    expired = log.append(SCENARIOS.record("pending", as_of=AS_OF + DAY))
    rejected = log.append(SCENARIOS.record("pending", as_of=AS_OF + 2 * DAY))
    assert len(log.pending_approvals(AS_OF)) == 3
    log.append(approval(approved))
    log.append(expiry(expired))
    log.append(approval(rejected, approved=False, by="bob"))
    assert log.pending_approvals(AS_OF + 3 * DAY) == []


def steps_of(log, action) -> int:
    """SQLite VM instructions ``action`` runs on the log's connection (in thousands)."""
    counted = [0]

    def tick() -> int:
        counted[0] += 1
        return 0

    log.conn.set_progress_handler(tick, 1000)
    try:
        action()
    finally:
        log.conn.set_progress_handler(None, 1000)
    return counted[0]


@pytest.mark.parametrize("answered", [200, 2000])
def test_the_queue_reads_from_the_first_decision_still_waiting(tmp_path, answered):
    with AuditLog(tmp_path / "audit.db") as log:
        for hour in range(answered):
            asked = log.append(SCENARIOS.record("pending", as_of=AS_OF + hour * timedelta(hours=1)))
            log.append(approval(asked, at=AS_OF + hour * timedelta(hours=1)))
        waiting = log.append(SCENARIOS.record("pending", as_of=AS_OF + answered * DAY))
        first = steps_of(log, lambda: log.pending_approvals(AS_OF))
        again = steps_of(log, lambda: log.pending_approvals(AS_OF))
        assert [p.decision_id for p in log.pending_approvals(AS_OF)] == [waiting["id"]]
    # The first look reads every decision ever asked about; the next only the one waiting.
    print(f"{answered} answered: {first}k VM steps, then {again}k")
    assert first >= answered // 100
    assert again <= 1


def test_an_answer_rolled_back_puts_its_decision_back_on_the_queue(log):
    asked = log.append(SCENARIOS.record("pending", as_of=AS_OF))
    later = log.append(SCENARIOS.record("pending", as_of=AS_OF + DAY))
    with pytest.raises(RuntimeError), log.transaction():
        log.append(approval(asked))
        log.append(approval(later))
        assert log.pending_approvals(AS_OF) == []  # inside: answered
        raise RuntimeError("the approval's notification failed")
    assert [p.decision_id for p in log.pending_approvals(AS_OF)] == [asked["id"], later["id"]]


def test_another_writers_answers_and_questions_reach_the_queue(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as runner, AuditLog(path) as dashboard:
        asked = runner.append(SCENARIOS.record("pending", as_of=AS_OF))
        assert [p.decision_id for p in dashboard.pending_approvals(AS_OF)] == [asked["id"]]
        runner.append(approval(asked))
        assert dashboard.pending_approvals(AS_OF) == []
        later = runner.append(SCENARIOS.record("pending", as_of=AS_OF + DAY))
        assert [p.decision_id for p in dashboard.pending_approvals(AS_OF)] == [later["id"]]


# --- reading everything ----------------------------------------------------------------------


def test_records_iterates_in_chain_order_across_pages(log):
    assert log.append_many(synthetic_records(2_500)) == 2_500
    assert log.count() == 2_500
    every = list(log.records())
    assert [r["seq"] for r in every] == list(range(1, 2_501))
    assert list(log.records(after_seq=2_498)) == every[-2:]
    assert list(log.records(after_seq=2_500)) == []


def test_export_jsonl_round_trips_and_every_line_verifies(log, tmp_path):
    for situation in ("buy", "blocked", "denied", "hold"):
        log.append(SCENARIOS.record(situation, as_of=AS_OF + len(situation) * DAY))
    path = tmp_path / "audit.jsonl"
    assert log.export_jsonl(path) == 4
    lines = path.read_text(encoding="utf-8").splitlines()
    exported = [json.loads(line) for line in lines]
    assert exported == list(log.records())
    assert all(check(record) for record in exported)
    assert [r["prev_hash"] for r in exported] == [GENESIS] + [r["hash"] for r in exported[:-1]]
    buffer = io.StringIO()
    assert log.export_jsonl(buffer) == 4
    assert buffer.getvalue().splitlines() == lines


def test_empty_log_exports_nothing_and_counts_zero(log, tmp_path):
    assert log.export_jsonl(tmp_path / "empty.jsonl") == 0
    assert log.count() == 0 and list(log.records()) == []


# --- indexes ---------------------------------------------------------------------------------


def query_plans(log, action):
    """Run ``action`` and return the query plan of every SELECT of records it issued (not the
    lookups of the compact layout's small side tables: names, contexts)."""
    issued = []
    with log.db.tracer(lambda sql, params: issued.append((sql, params))):
        action()
    plans = []
    for sql, params in issued:
        if sql.lstrip().upper().startswith("SELECT") and "FROM records" in sql:
            rows = log.db.conn.execute("EXPLAIN QUERY PLAN " + sql, params or []).fetchall()
            plans.append(" | ".join(row[-1] for row in rows))
    assert plans, "the action issued no SELECT"
    return plans


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (lambda log: log.get("dec-x"), "USING INDEX records_id (id=?)"),
        (lambda log: log.has_decision("dec-x"), "USING INDEX records_id (id=?)"),
        (
            lambda log: log.decision_at("BTC", AS_OF),
            "USING INDEX records_asset_verdict_as_of (asset=? AND verdict=? AND as_of<?)",
        ),
        (
            lambda log: log.decision_at("BTC", AS_OF.date()),
            "USING INDEX records_asset_verdict_as_of "
            "(asset=? AND verdict=? AND as_of>? AND as_of<?)",
        ),
        (
            lambda log: log.decisions(asset="BTC", limit=20),
            "USING INDEX records_asset_verdict_as_of (asset=? AND verdict=?)",
        ),
        (
            lambda log: log.decisions(strategy="bench", limit=20),  # synthetic_records' own
            "USING INDEX records_strategy_verdict_as_of (strategy=? AND verdict=?)",
        ),
        (lambda log: log.decisions(limit=20), "USING INDEX records_verdict_as_of (verdict=?)"),
        (
            lambda log: log.followups("dec-x"),
            "USING INDEX records_decision_id (decision_id=?)",
        ),
        (  # from the first decision that may still wait (the newest it read, then the rest)
            lambda log: log.pending_approvals(AS_OF),
            "INDEX records_pending (status=? AND rowid>?)",
        ),
    ],
)
def test_lookups_use_an_index_and_never_scan_or_sort_the_table(log, action, expected):
    log.append_many(synthetic_records(50))
    for plan in query_plans(log, lambda: action(log)):
        assert expected in plan
        assert "SCAN records" not in plan.replace("SCAN records USING", "")
        assert "TEMP B-TREE" not in plan


# --- concurrent writers ----------------------------------------------------------------------


def test_two_logs_on_one_file_interleaving_appends_keep_one_chain(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as loop, AuditLog(path) as cli:
        for i in range(10):
            writer = loop if i % 2 == 0 else cli
            writer.append(SCENARIOS.record("hold", as_of=AS_OF + i * DAY))
        report = verify(loop)
        assert report.ok, str(report)
        assert [r["seq"] for r in cli.records()] == list(range(1, 11))


def test_threads_with_their_own_logs_keep_one_chain(tmp_path):
    path = tmp_path / "audit.db"  # created by whichever thread opens it first
    errors = []

    def work(k: int) -> None:
        try:
            with AuditLog(path) as mine:
                start = AS_OF + timedelta(days=1000 * k)
                for record in synthetic_records(40, start=start):
                    mine.append(record)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with AuditLog(path) as log_:
        assert log_.count() == 160
        report = verify(log_)
        assert report.ok, str(report)


def test_threads_sharing_one_log_object_keep_one_chain(log):
    def work(k: int) -> None:
        for record in synthetic_records(30, start=AS_OF + timedelta(days=1000 * k)):
            log.append(record)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert log.count() == 90
    assert verify(log).ok


_WRITER = """
import sys
from datetime import timedelta
from bench.audit_records import START, synthetic_records
from signalops.audit.store import AuditLog

path, k = sys.argv[1], int(sys.argv[2])
with AuditLog(path) as log:
    for record in synthetic_records(60, start=START + timedelta(days=1000 * k)):
        log.append(record)
"""


def test_two_processes_appending_to_one_file_keep_one_chain(tmp_path):
    path = tmp_path / "audit.db"  # both processes race to create it, too
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), str(k)], cwd=REPO)
        for k in range(2)
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with AuditLog(path) as log_:
        assert log_.count() == 120
        report = verify(log_)
        assert report.ok, str(report)


def _temporary_files_open() -> list[str]:
    """The SQLite temporary files this process holds open (unlinked at once, so only
    ``/proc/self/fd`` still names them)."""
    names = []
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if "etilqs_" in target:
                names.append(target)
    return names


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_bulk_loads_nested_transactions_keep_their_savepoint_journals_in_memory(log):
    # A backtest appends its held records in savepoints of its batch's transaction: each keeps
    # the pages it changes that earlier ones had changed, which past 64 KiB SQLite would spill
    # to a temporary file (a backtest wrote ~180 MB there).
    with log.bulk_load(), log.transaction():
        for n in range(12):
            log.append_many(synthetic_records(300, start=AS_OF + n * DAY))
        opened = _temporary_files_open()
    assert opened == []
    assert log.count() == 3_600


def _settings(log: AuditLog) -> list[object]:
    names = ("journal_mode", "synchronous", "wal_autocheckpoint", "temp_store", "cache_size")
    return [log.conn.execute(f"PRAGMA {name}").fetchone()[0] for name in names]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_private_bulk_load_writes_no_wal_and_leaves_the_log_as_it_found_it(tmp_path, monkeypatch):
    # A backtest's .partial file is its own: its pages go into the file once, not through the
    # WAL and then into the file; and they are on the disk before the file is given its name.
    path = tmp_path / "audit.db"
    synced = []

    def fsync(fd: int) -> None:
        synced.append(Path(os.readlink(f"/proc/self/fd/{fd}")).name)
        real_fsync(fd)

    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", fsync)
    with AuditLog(path) as log_:
        before = _settings(log_)
        assert log_.start_bulk_load(private=True)
        with log_.transaction():
            log_.append_many(synthetic_records(2_000))
        wal = path.with_name("audit.db-wal")
        assert log_.conn.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
        assert not wal.exists() or wal.stat().st_size == 0
        assert synced == []
        log_.finish_bulk_load()
        assert synced == ["audit.db"]
        assert _settings(log_) == before
        assert verify(log_).ok
    with AuditLog.open_readonly(path) as read:
        assert read.count() == 2_000


def test_a_private_bulk_load_of_a_file_another_connection_holds_goes_through_the_wal(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as log_, AuditLog.open_readonly(path) as reader:
        assert log_.start_bulk_load(private=True)
        assert log_.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        with log_.transaction():
            log_.append_many(synthetic_records(300))
        log_.finish_bulk_load()
        assert reader.count() == 300
