"""verify: a clean log passes; each way of tampering with the file is named, with the seq.

Tampering goes around the API with plain sqlite3 (dropping the append-only triggers first), as
someone holding the file could.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from attacks import attacker, edit_body, insert, unsealed, update
from audit_scenarios import AS_OF, SCENARIOS, tamper
from legacy import legacy_log

from signalops.audit.chain import GENESIS
from signalops.audit.record import build_followup
from signalops.audit.store import AuditLog
from signalops.audit.verify import ProblemKind, verify
from signalops.errors import AuditIntegrityError

EDITED, DELETED = ProblemKind.EDITED, ProblemKind.DELETED
REORDERED, INSERTED = ProblemKind.REORDERED, ProblemKind.INSERTED
DAY = timedelta(days=1)


@pytest.fixture(params=["compact", "legacy"])
def chain(tmp_path, request):
    """Six records: four decisions (buy, blocked, denied, pending) and two follow-ups, in a log
    of this version's layout and in one of the layout before compact records."""
    path = tmp_path / "audit.db"
    if request.param == "legacy":
        legacy_log(path)
    with AuditLog(path) as log:
        assert log.compact == (request.param == "compact")
        log.remember_strategy(SCENARIOS.strategy)
        records = [
            log.append(SCENARIOS.record("buy", as_of=AS_OF)),
            log.append(SCENARIOS.record("blocked", as_of=AS_OF + DAY)),
            log.append(SCENARIOS.record("buy", as_of=AS_OF + 2 * DAY)),
            log.append(SCENARIOS.record("denied", as_of=AS_OF + 3 * DAY)),
            pending := log.append(SCENARIOS.record("pending", as_of=AS_OF + 4 * DAY)),
        ]
        records.append(
            log.append(
                build_followup(
                    "approval",
                    decision_id=pending["decision_id"],
                    recorded_at=AS_OF + 4 * DAY + timedelta(minutes=5),
                    approval_id=pending["execution"]["approval_id"],
                    approved=True,
                    by="alice",
                )
            )
        )
    return path, records


def resealed(path, record, **changes):
    """``record`` edited and consistently re-hashed in its row, as an attacker could."""
    db = attacker(path)
    try:
        edited = unsealed(record) | {k: v for k, v in changes.items() if k != "prev_hash"}
        update(db, edited, record["seq"], changes.get("prev_hash", record["prev_hash"]))
        db.commit()
    finally:
        db.close()


def check_file(path: Path):
    with AuditLog(path) as log:
        return verify(log)


def found(report):
    return [(p.kind, p.seq, p.id) for p in report.problems]


def test_clean_log_verifies_and_reports_its_head(chain):
    path, records = chain
    report = check_file(path)
    assert report.ok and report.problems == ()
    assert report.checked == 6
    assert (report.head_seq, report.head_hash) == (6, records[-1]["hash"])
    assert str(report) == f"ok: 6 records, head seq 6 {records[-1]['hash']}"


def test_empty_log_verifies(tmp_path):
    report = check_file(tmp_path / "empty.db")
    assert report.ok and report.checked == 0 and report.head_hash == GENESIS


def test_edited_body_is_reported_at_its_seq(chain):
    path, records = chain
    db = attacker(path)
    edit_body(db, 3, lambda body: body.update(verdict="HOLD"))
    db.commit()
    db.close()
    report = check_file(path)
    assert found(report) == [(EDITED, 3, records[2]["id"])] * 2
    messages = [p.message for p in report.problems]
    assert "the record does not match its hash" in messages
    assert "indexed column verdict says 'BUY', the record says 'HOLD'" in messages


def test_indexed_column_changed_by_sql_is_reported(chain):
    path, records = chain
    tamper(path, "UPDATE records SET verdict = 'HOLD' WHERE seq = 2")
    report = check_file(path)
    assert found(report) == [(EDITED, 2, records[1]["id"])]
    assert report.problems[0].message == (
        "indexed column verdict says 'HOLD', the record says 'BLOCKED'"
    )


def test_deleted_middle_record_is_reported_with_the_record_that_points_at_it(chain):
    path, records = chain
    tamper(path, "DELETE FROM records WHERE seq = 3")
    report = check_file(path)
    assert found(report) == [(DELETED, 3, None)]
    assert report.problems[0].message == (
        f"seq 3 missing: seq 4 ({records[3]['id']}) links to a record that is not there"
    )


def test_deleted_first_records_are_reported(chain):
    path, _ = chain
    tamper(path, "DELETE FROM records WHERE seq <= 2")
    assert found(check_file(path)) == [(DELETED, 1, None)]


def test_deleted_last_record_is_caught_by_the_chain_head(chain):
    # The chain alone cannot show this: records 1..5 are a perfectly valid chain.
    path, _ = chain
    tamper(path, "DELETE FROM records WHERE seq = 6")
    report = check_file(path)
    assert found(report) == [(DELETED, 6, None)]
    assert "missing at the end: the chain head says the log ends at seq 6" in str(report)


def test_deleted_last_record_and_chain_head_is_still_reported(chain):
    path, _ = chain
    tamper(path, "DELETE FROM records WHERE seq = 6", "DELETE FROM chain_head")
    report = check_file(path)
    assert found(report) == [(DELETED, None, None)]
    assert "the chain head is missing" in report.problems[0].message


def test_appending_after_a_deleted_tail_does_not_hide_the_gap(chain):
    path, records = chain
    tamper(path, "DELETE FROM records WHERE seq >= 5")
    with AuditLog(path) as log:
        later = log.append(SCENARIOS.record("hold", as_of=AS_OF + 9 * DAY))
        assert later["seq"] == 7 and later["prev_hash"] == records[5]["hash"]
        report = verify(log)
    assert found(report) == [(DELETED, 5, None)]
    assert report.problems[0].message.startswith("seqs 5..6 missing: seq 7")


def test_swapped_pair_is_reported_as_reordered(chain):
    path, records = chain
    tamper(
        path,
        "UPDATE records SET seq = -1 WHERE seq = 3",
        "UPDATE records SET seq = 3 WHERE seq = 4",
        "UPDATE records SET seq = 4 WHERE seq = -1",
    )
    report = check_file(path)
    assert found(report) == [(REORDERED, 3, records[2]["id"]), (REORDERED, 4, records[3]["id"])]
    assert report.problems[0].message == (
        "stored as seq 4 but sealed as seq 3; it is stored after seq 4"
    )
    assert report.problems[1].message == "stored as seq 3 but sealed as seq 4"


def test_edited_and_resealed_middle_record_is_caught_by_the_next_link(chain):
    path, records = chain
    resealed(path, records[1], verdict="BUY", blocked_by=[])
    report = check_file(path)
    assert found(report) == [(EDITED, 2, records[1]["id"])]
    assert report.problems[0].message == (
        f"changed and re-sealed: seq 3 links to {records[1]['hash'][:12]}…, "
        "which is not this record's hash"
    )


def test_edited_and_resealed_last_record_is_caught_by_the_chain_head(chain):
    path, records = chain
    resealed(path, records[5], by="mallory")
    report = check_file(path)
    assert found(report) == [(EDITED, 6, records[5]["id"])]
    assert "the chain head holds a different hash" in report.problems[0].message


def test_record_resealed_to_link_past_its_predecessor_is_reported_as_reordered(chain):
    path, records = chain
    resealed(path, records[4], prev_hash=records[2]["hash"])
    assert found(check_file(path)) == [
        (EDITED, 5, records[4]["id"]),  # its new hash is not what seq 6 links to
        (REORDERED, 5, records[4]["id"]),  # it links to seq 3, not seq 4
    ]


def test_record_inserted_after_the_chain_head_is_reported(chain):
    path, records = chain
    db = attacker(path)
    insert(db, SCENARIOS.record("buy", as_of=AS_OF + 8 * DAY), 7, records[-1]["hash"])
    db.commit()
    db.close()
    report = check_file(path)
    assert found(report) == [(INSERTED, 7, None)]


def test_body_that_is_not_json_is_reported_not_raised(chain):
    path, records = chain
    tamper(path, "UPDATE records SET body = 'garbage' WHERE seq = 4")
    assert found(check_file(path)) == [(EDITED, 4, records[3]["id"])]


def test_strict_verify_raises_the_integrity_error_only_when_broken(chain):
    path, _ = chain
    with AuditLog(path) as log:
        assert verify(log, strict=True).ok
    tamper(path, "UPDATE records SET asset = 'ETH' WHERE seq = 1")
    with AuditLog(path) as log, pytest.raises(AuditIntegrityError, match="EDITED: seq 1"):
        verify(log, strict=True)


@pytest.mark.parametrize("seq", [0, -7])
def test_a_record_inserted_before_seq_1_is_reported_whole_and_from_a_point(chain, seq):
    # ``records`` refuses UPDATE and DELETE, not INSERT, and the chain starts at seq 1: a row
    # before it is read by lookups and filters, and no walk read it (the walk reads the seqs
    # after its point, 0 at least). No trigger dropped.
    path, records = chain
    with AuditLog(path) as log:
        earlier = verify(log)
    forged = unsealed(records[1]) | {"id": "dec-" + "cd" * 12, "decision_id": "dec-" + "cd" * 12}
    db = sqlite3.connect(path)
    insert(db, forged, seq, GENESIS)
    db.commit()
    db.close()
    with AuditLog(path) as log:
        assert log.get(forged["id"]) is not None
        assert forged["id"] in {r["id"] for r in log.decisions(limit=None)}
        whole = verify(log)
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
    problem = (
        INSERTED,
        seq,
        forged["id"],
        f"a record at seq {seq}, before seq 1, the chain's first",
    )
    assert [(p.kind, p.seq, p.id, p.message) for p in whole.problems] == [problem]
    assert again.problems == whole.problems
