"""The dashboard's background verification (``signalops.dashboard.verification``), without
Streamlit: checks start on their own when the log changes, read only the new records, and a
full check (an operator's) finds what those cannot and stays shown until a full check passes."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from signalops.audit.record import SCHEMA
from signalops.audit.store import AuditLog
from signalops.dashboard.verification import Verifier


def slim_records(start: int, n: int) -> Iterator[dict[str, Any]]:
    """Small decision records (the chain does not care about their size)."""
    for i in range(start, start + n):
        ident = f"decision-{i:08d}"
        yield {
            "schema": SCHEMA, "kind": "decision", "id": ident, "decision_id": ident,
            "recorded_at": "2024-01-01T00:00:00Z", "as_of": "2024-01-01T00:00:00Z",
            "asset": "BTC", "verdict": "HOLD", "mode": "paper",
        }  # fmt: skip


def make_log(path: Path, n: int) -> Path:
    with AuditLog(path) as log:
        log.append_many(slim_records(0, n))
    return path


def append(path: Path, start: int, n: int) -> None:
    with AuditLog(path) as log:
        log.append_many(slim_records(start, n))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_first_check_reads_every_record_then_only_the_new_ones(tmp_path: Path):
    db = make_log(tmp_path / "audit.db", 50)
    clock = FakeClock()
    verifier = Verifier(db, clock=clock)

    first = verifier.poll()
    assert first.running and first.verified_seq is None  # the page shows "verifying…"
    done = verifier.wait()
    assert not done.running
    assert done.last is not None and done.last.ok and done.last.full
    assert (done.last.checked, done.verified_seq) == (50, 50)

    assert not verifier.poll().running  # nothing changed: no check
    append(db, 50, 3)
    assert not verifier.poll().running  # changed, but the last check is under 5 s old
    clock.now += 5
    assert verifier.poll().running
    after = verifier.wait()
    assert after.last is not None and after.last.ok and not after.last.full
    assert (after.last.checked, after.last.head_seq, after.verified_seq) == (3, 53, 53)


def test_an_old_edit_is_found_by_a_full_check_and_stays_shown_until_one_passes(
    tmp_path: Path, caplog
):
    db = make_log(tmp_path / "audit.db", 20)
    clock = FakeClock()
    verifier = Verifier(db, clock=clock)
    verifier.poll()
    verifier.wait()
    conn = sqlite3.connect(db)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET verdict = 'BUY' WHERE seq = 3")
    conn.commit()
    conn.close()
    clock.now += 5
    verifier.poll()
    quick = verifier.wait()
    # A check from the last ok point reads no record before it: it cannot see this edit.
    assert quick.last is not None and quick.last.ok and quick.last.checked == 0

    with caplog.at_level(logging.INFO, logger="signalops.dashboard"):
        assert verifier.request_full("alice")
        full = verifier.wait()
    assert full.shown is not None and not full.shown.ok and full.shown.full
    assert [(kind, seq) for kind, seq, _, _ in full.shown.problems] == [("EDITED", 3)]
    assert full.shown.by_kind() == {"EDITED": 1}
    assert [r.getMessage() for r in caplog.records] == [
        f"full audit verification of {db} requested by alice",
        f"audit log {db} FAILED verification: 1 problem(s)",
    ]

    append(db, 20, 2)
    clock.now += 5
    verifier.poll()
    later = verifier.wait()
    assert later.last is not None and later.last.ok and later.last.checked == 2
    assert later.shown is later.failure and later.failure is not None  # still shown


def test_a_second_full_check_request_while_one_is_waiting_queues_nothing(tmp_path: Path):
    db = make_log(tmp_path / "audit.db", 100)
    clock = FakeClock()
    verifier = Verifier(db, clock=clock)
    assert verifier.poll().running_full  # nothing verified yet: the first check is full
    assert not verifier.request_full("alice")  # one is running
    verifier.wait()
    append(db, 100, 2000)
    clock.now += 5
    assert not verifier.poll().running_full  # the new records
    assert verifier.request_full("alice")  # runs after it
    assert not verifier.request_full("carol")
    done = verifier.wait()
    assert done.last is not None and done.last.full and done.last.ok
    assert done.last.checked == 2100 and not done.running


def test_a_file_that_is_not_a_log_is_an_error_not_a_failure(tmp_path: Path):
    bogus = tmp_path / "some.csv"
    bogus.write_text("a,b\n1,2\n")
    verifier = Verifier(bogus, clock=FakeClock())
    verifier.poll()
    done = verifier.wait()
    assert done.last is not None and done.last.error is not None
    assert "not a SignalOps audit log" in done.last.error
    assert done.failure is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["some.csv"]
