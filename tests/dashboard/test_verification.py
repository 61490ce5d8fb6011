"""The dashboard's background verification (``signalops.dashboard.verification``), without
Streamlit: checks start on their own when the log changes, read only the new records, and a
full check (an operator's) finds what those cannot and stays shown until a full check passes.
The ledger is compared with the fills again only when either changed; after a failure, checks
go on from where it ended instead of re-reading the whole log on every change."""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import copy_log, prepared_template  # noqa: F401 - fixtures

from signalops.audit.record import SCHEMA
from signalops.audit.store import AuditLog
from signalops.dashboard.verification import Status, Verifier


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


# --- the ledger pass, and checks that coalesce ----------------------------------------------------


def touch(path: Path) -> None:
    """The file changed (a checkpoint, say) and no record did."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def check(verifier: Verifier, clock: FakeClock) -> Status:
    clock.now += 5
    assert verifier.poll().running
    return verifier.wait()


@pytest.fixture
def paper_log(prepared_template: Path, tmp_path: Path) -> Path:
    """The dashboard tests' log: a paper run with two fills and their ledger rows."""
    db = copy_log(prepared_template, tmp_path / "audit.db")
    with AuditLog(db) as log:
        assert len(log.paper_fill_rows()) == 2
    return db


def test_new_records_without_fills_are_checked_without_comparing_the_ledger_again(
    paper_log: Path,
):
    clock = FakeClock()
    verifier = Verifier(paper_log, clock=clock)
    verifier.poll()
    first = verifier.wait().last
    assert first is not None and first.ok and first.full and first.ledger_compared

    touch(paper_log)
    nothing = check(verifier, clock).last
    assert nothing is not None and nothing.ok and nothing.checked == 0
    assert not nothing.ledger_compared  # nothing changed on either side
    append(paper_log, 0, 3)
    holds = check(verifier, clock)
    assert holds.last is not None and holds.last.ok and holds.last.checked == 3
    assert not holds.last.ledger_compared
    assert holds.verified_seq == 15


def test_a_forged_ledger_row_is_found_by_the_next_check(paper_log: Path):
    clock = FakeClock()
    verifier = Verifier(paper_log, clock=clock)
    verifier.poll()
    verifier.wait()
    # INSERT is not refused by the ledger's triggers: a position the chain never decided.
    conn = sqlite3.connect(paper_log)
    conn.execute(
        "INSERT INTO paper_fills (client_order_id, decision_id, strategy, asset, side, "
        "quantity, price, fee, reference_price, fee_bps, slippage_bps, placed_at, filled_at) "
        "SELECT 'so-forged', decision_id, strategy, asset, 'BUY', '5', price, fee, "
        "reference_price, fee_bps, slippage_bps, placed_at, filled_at FROM paper_fills LIMIT 1"
    )
    conn.commit()
    conn.close()
    found = check(verifier, clock)
    assert found.last is not None and found.last.ledger_compared and not found.last.ok
    assert [(kind, ident) for kind, _, ident, _ in found.last.problems] == [("LEDGER", "so-forged")]
    assert found.shown is found.failure


def test_a_new_fill_record_is_compared_with_the_ledger(paper_log: Path):
    clock = FakeClock()
    verifier = Verifier(paper_log, clock=clock)
    verifier.poll()
    verifier.wait()
    with AuditLog(paper_log) as log:
        (fill,) = [r for r in log.records() if r["kind"] == "fill" and r["seq"] == 9]
        forged = {k: v for k, v in fill.items() if k not in ("seq", "hash", "prev_hash")}
        coid = "so-no-row"
        forged.update(
            id="fill-no-row-1", client_order_id=coid, fill={**fill["fill"], "client_order_id": coid}
        )
        log.append(forged)  # through the API, without its ledger row
    found = check(verifier, clock).last
    assert found is not None and found.ledger_compared and found.checked == 1
    assert [(kind, seq, ident) for kind, seq, ident, _ in found.problems] == [("LEDGER", 13, coid)]


def test_a_changed_record_at_the_last_point_is_read_with_the_whole_log_and_its_ledger(
    paper_log: Path,
):
    clock = FakeClock()
    verifier = Verifier(paper_log, clock=clock)
    verifier.poll()
    verifier.wait()
    conn = sqlite3.connect(paper_log)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET hash = zeroblob(32) WHERE seq = 12")
    conn.commit()
    conn.close()
    found = check(verifier, clock).last
    # The point it continued from no longer holds: every record read, the ledger compared
    # with every fill (none hidden from it: no LEDGER problem that is not one).
    assert found is not None and found.checked == 12 and found.ledger_compared
    assert {kind for kind, *_ in found.problems} == {"EDITED"}


def test_after_a_failed_first_check_new_records_are_checked_alone_and_added_to_it(
    paper_log: Path,
):
    conn = sqlite3.connect(paper_log)
    conn.execute("DROP TRIGGER records_no_update")
    conn.execute("UPDATE records SET verdict = 'HOLD' WHERE seq = 3")
    conn.commit()
    conn.close()
    clock = FakeClock()
    verifier = Verifier(paper_log, clock=clock)
    verifier.poll()
    first = verifier.wait()
    assert first.last is not None and first.last.full and not first.last.ok
    assert first.verified_seq is None

    append(paper_log, 0, 2)
    later = check(verifier, clock)
    # Not the whole log again: the two new records, from where the failed check ended.
    assert later.last is not None and not later.last.full and later.last.checked == 2
    assert later.last.ok and later.verified_seq is None  # nothing before them checked out
    assert later.shown is later.failure and later.failure is not None
    assert [(kind, seq) for kind, seq, _, _ in later.failure.problems] == [("EDITED", 3)]

    conn = sqlite3.connect(paper_log)
    conn.execute(
        "INSERT INTO paper_fills (client_order_id, decision_id, strategy, asset, side, "
        "quantity, price, fee, reference_price, fee_bps, slippage_bps, placed_at, filled_at) "
        "SELECT 'so-forged', decision_id, strategy, asset, side, quantity, price, fee, "
        "reference_price, fee_bps, slippage_bps, placed_at, filled_at FROM paper_fills LIMIT 1"
    )
    conn.commit()
    conn.close()
    both = check(verifier, clock).failure
    assert both is not None and both.by_kind() == {"EDITED": 1, "LEDGER": 1}


def test_when_the_point_a_failed_check_ended_at_no_longer_holds_only_a_full_check_runs(
    tmp_path: Path, caplog
):
    db = make_log(tmp_path / "audit.db", 30)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE chain_head SET hash = ?", ["0" * 64])  # the head edited
    conn.commit()
    conn.close()
    clock = FakeClock()
    verifier = Verifier(db, clock=clock)
    verifier.poll()
    failed = verifier.wait()
    assert failed.last is not None and not failed.last.ok and failed.last.checked == 30

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="signalops.dashboard"):
        for _ in range(3):  # a runner writing every cycle
            touch(db)
            after = check(verifier, clock)
            assert after.last is failed.last  # no check of 30 records each time
    assert [r.getMessage() for r in caplog.records] == [
        f"audit log {db}: the record the failed check ended at changed; automatic checks "
        "wait for a full check"
    ]
    assert verifier.request_full("alice")
    full = verifier.wait()
    assert full.last is not None and full.last.full and full.last.checked == 30


def test_a_log_that_cannot_be_read_is_tried_again_no_sooner_than_twice_the_last_try(
    tmp_path: Path,
):
    bogus = tmp_path / "some.csv"
    bogus.write_text("a,b\n1,2\n")
    clock = FakeClock()
    verifier = Verifier(bogus, clock=clock, interval=0.0)
    verifier.poll()
    tried = verifier.wait().last
    assert tried is not None and tried.error is not None
    bogus.write_text("a,b\n1,2\n3,4\n")
    clock.now += tried.seconds
    assert not verifier.poll().running
    clock.now += tried.seconds
    assert verifier.poll().running
    verifier.wait()
