"""A run's check between cycles costs the same after months as on the first day.

Regression tests. ``LogCheck.before`` read and checked the whole ``<log>.checkpoints`` file of a
signed log before every cycle, one line (its MAC, and the record it names) for each commit the
run ever made: 0.5 s a check at 50,000 lines, 2 s at 200,000 (a month and four of one-minute
cycles). Now a check reads only the lines appended since the last one, while nothing but this
process's appends changed the file; anything else (an old line edited in place, the file cut,
replaced, or written by another process) and it reads the whole file again, so a tampered or
cut file is still found by the next check, and a checkpoint the last check read that is no
longer there (the file cut at a line, or put back from an older copy) stops the run too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signalops.audit import store
from signalops.audit.record import SCHEMA
from signalops.audit.signing import Checkpoint, CheckpointReading, SigningKey
from signalops.audit.store import AuditLog
from signalops.errors import AuditIntegrityError
from signalops.pipeline import loop

KEY = SigningKey.from_secret("k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0")
OTHER_KEY = SigningKey.from_secret("an0ther-k3y-0f-the-s4me-l3ngth-9f8e7d6c5b4a39281706")
AS_OF = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
STOPPED = "a.db FAILED verification, so trading stopped before 2024-01-01T00:05:00Z: "
SEE = "; see `signalops audit verify`"
CHECKPOINTS = Path("a.db.checkpoints")


@pytest.fixture
def log(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditLog]:
    """A signed log of four cycles (three records each, one checkpoint line each: cycles a
    second or more apart, as a live run's are), checked before each cycle."""
    monkeypatch.setattr(store, "_CHECKPOINT_EVERY", 0.0)
    monkeypatch.setattr(loop, "CHECK_EVERY", 0.0)
    with AuditLog("a.db", key=KEY) as opened:
        for _ in range(4):
            cycle(opened)
        yield opened


def decision(i: int) -> dict[str, str]:
    ident = f"decision-{i}"
    return {
        "schema": SCHEMA, "kind": "decision", "id": ident, "decision_id": ident,
        "recorded_at": "2024-01-01T00:00:00Z", "as_of": "2024-01-01T00:00:00Z",
        "asset": "SOL", "verdict": "HOLD", "mode": "paper",
    }  # fmt: skip


def cycle(log: AuditLog) -> None:
    """One cycle's decisions, committed together; the writer then signs the head."""
    first = log.count()
    log.append_many(decision(i) for i in range(first, first + 3))


def checked(log: AuditLog) -> loop.LogCheck:
    check = loop.LogCheck(log)
    check.start()
    cycle(log)
    check.before(AS_OF)
    return check


def stopped(check: loop.LogCheck) -> str:
    with pytest.raises(AuditIntegrityError) as raised:
        check.before(AS_OF)
    return str(raised.value)


def asked_for_hashes(log: AuditLog, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The seqs whose hash the log is asked for from now on (a checkpoint line is compared with
    the record it names that way)."""
    asked: list[int] = []
    hash_at = log.hash_at

    def counted(seq: int) -> str | None:
        asked.append(seq)
        return hash_at(seq)

    monkeypatch.setattr(log, "hash_at", counted)
    return asked


def in_place(line: int, edit: bytes, at: int) -> None:
    """Bytes of line ``line`` (1-based) overwritten from its byte ``at``: the file keeps its
    size and its inode, as an editor writing in place leaves it."""
    data = CHECKPOINTS.read_bytes()
    start = sum(len(part) for part in data.splitlines(keepends=True)[: line - 1])
    with open(CHECKPOINTS, "r+b") as file:
        file.seek(start + at)
        file.write(edit)


def forged_mac(line: int) -> None:
    """Line ``line``'s MAC with its first two hex digits changed, in place."""
    text = CHECKPOINTS.read_bytes().splitlines()[line - 1]
    at = text.index(b'"mac":"') + len(b'"mac":"')
    in_place(line, b"00" if text[at : at + 2] != b"00" else b"11", at)


def replaced_by(data: bytes) -> None:
    """Another file put in the checkpoint file's place (a new inode), as a copy moved in."""
    Path("copy.checkpoints").write_bytes(data)
    os.replace("copy.checkpoints", CHECKPOINTS)


def written_by_another_process(log: AuditLog) -> None:
    """A valid checkpoint of the head appended as another writer of the log appends one."""
    seq, digest = log.head() or (0, "")
    with open(CHECKPOINTS, "a", encoding="utf-8") as file:
        file.write(Checkpoint.make(KEY, seq, digest, "2024-01-01T00:04:00.000000Z").line())


# --- the cost: only what was appended since ------------------------------------------------------


def test_checks_between_cycles_compare_only_the_checkpoints_appended_since_the_last_one(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
):
    check = checked(log)
    asked = asked_for_hashes(log, monkeypatch)
    for _ in range(3):
        head = log.count()
        cycle(log)
        asked.clear()

        check.before(AS_OF)

        # The point of the last check, then the one line appended since (naming the new head):
        # not the cycles before it (four at the start, one more each check, before this fix).
        assert asked == [head, head + 3]


def test_a_checkpoint_another_process_appended_makes_the_next_check_read_the_file_whole(
    log: AuditLog, monkeypatch: pytest.MonkeyPatch
):
    check = checked(log)
    asked = asked_for_hashes(log, monkeypatch)
    written_by_another_process(log)
    cycle(log)

    check.before(AS_OF)  # no problem: another writer's checkpoints are as good as this one's

    assert asked == [15, 3, 6, 9, 12, 15, 15, 18]  # the point, then every line (the other's too)
    asked.clear()
    cycle(log)
    check.before(AS_OF)
    assert asked == [18, 21]  # and from there on, the new lines only again


# --- fail closed: the next check finds what a whole reading finds -------------------------------


@pytest.mark.parametrize("then_a_cycle", [False, True], ids=["alone", "then-a-cycle"])
def test_an_old_checkpoint_line_edited_in_place_stops_the_run_at_the_next_check(
    log: AuditLog, then_a_cycle: bool
):
    check = checked(log)
    forged_mac(2)
    if then_a_cycle:  # the writer appends onto the edited file: the file grew, as it always does
        cycle(log)

    assert stopped(check) == (
        STOPPED + "CHECKPOINT chain: a.db.checkpoints line 2: its MAC does not match the key "
        "(forged)" + SEE
    )


def test_an_old_checkpoint_line_edited_to_name_another_record_stops_the_run(log: AuditLog):
    check = checked(log)
    line = CHECKPOINTS.read_bytes().splitlines()[0]
    in_place(1, b"9", line.index(b'"seq":3') + len(b'"seq":'))  # seq 3 -> seq 9, same size
    cycle(log)

    assert stopped(check) == (
        STOPPED + "CHECKPOINT chain: a.db.checkpoints line 1: its MAC does not match the key "
        "(forged)" + SEE
    )


def test_a_forged_checkpoint_appended_stops_the_run_at_the_next_check(log: AuditLog):
    check = checked(log)
    seq, digest = log.head() or (0, "")
    forged = Checkpoint.make(OTHER_KEY, seq, digest, "2024-01-01T00:04:00.000000Z")
    with open(CHECKPOINTS, "a", encoding="utf-8") as file:
        file.write(forged.line().replace(OTHER_KEY.id, KEY.id))

    assert stopped(check) == (
        STOPPED + "CHECKPOINT chain: a.db.checkpoints line 6: its MAC does not match the key "
        "(forged)" + SEE
    )


def test_a_checkpoint_naming_a_record_past_the_end_stops_the_run_at_the_next_check(
    log: AuditLog,
):
    """A line signed under the key (a copy of a checkpoint from another log, say) naming a
    record this log does not have: TRUNCATED, from the new lines alone."""
    check = checked(log)
    with open(CHECKPOINTS, "a", encoding="utf-8") as file:
        file.write(Checkpoint.make(KEY, 40, "ab" * 32, "2024-01-01T00:04:00.000000Z").line())

    assert stopped(check) == (
        STOPPED + "TRUNCATED seq 16: the log ends at seq 15, but a checkpoint made at "
        "2024-01-01T00:04:00.000000Z signed seq 40: records were cut from the end" + SEE
    )


def test_a_checkpoint_file_cut_within_a_line_stops_the_run_at_the_next_check(log: AuditLog):
    check = checked(log)
    os.truncate(CHECKPOINTS, CHECKPOINTS.stat().st_size - 10)

    assert stopped(check) == (
        STOPPED + "CHECKPOINT chain: a.db.checkpoints line 5: not a checkpoint, and 1 more "
        "problem" + SEE
    )


@pytest.mark.parametrize("then_a_cycle", [False, True], ids=["alone", "then-a-cycle"])
def test_a_checkpoint_file_cut_at_a_line_stops_the_run_at_the_next_check(
    log: AuditLog, then_a_cycle: bool
):
    """Every line left is a valid checkpoint: a whole reading finds nothing wrong with them, but
    the one of seq 15 that the last check read is gone."""
    check = checked(log)
    kept = CHECKPOINTS.read_bytes().splitlines(keepends=True)[:3]
    os.truncate(CHECKPOINTS, sum(len(line) for line in kept))
    if then_a_cycle:
        cycle(log)

    assert stopped(check).startswith(
        STOPPED + "CHECKPOINT chain: a.db.checkpoints no longer holds the checkpoint of seq 15 "
        "made at 20"
    )
    assert stopped(check).endswith(
        ", which an earlier check read: the file was cut or replaced" + SEE
    )


def test_a_checkpoint_file_replaced_by_an_edited_copy_stops_the_run_at_the_next_check(
    log: AuditLog,
):
    check = checked(log)
    lines = CHECKPOINTS.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b'"mac":"', b'"mac":"00', 1)[:-3] + b'"}\n'
    replaced_by(b"".join(lines))

    assert stopped(check) == (
        STOPPED + "CHECKPOINT chain: a.db.checkpoints line 2: its MAC does not match the key "
        "(forged)" + SEE
    )


def test_a_checkpoint_file_put_back_from_an_older_copy_stops_the_run_at_the_next_check(
    log: AuditLog,
):
    older = CHECKPOINTS.read_bytes()  # four cycles' lines, every one valid
    check = checked(log)
    cycle(log)
    check.before(AS_OF)
    replaced_by(older)
    cycle(log)  # the writer appends its next line onto the copy

    assert "a.db.checkpoints no longer holds the checkpoint of seq 18 made at " in stopped(check)


def test_a_checkpoint_file_removed_stops_the_run_at_the_next_check(log: AuditLog):
    check = checked(log)
    CHECKPOINTS.unlink()
    cycle(log)  # the writer starts the file again, with its line of the new head

    assert stopped(check).startswith(
        STOPPED + "CHECKPOINT chain: a.db.checkpoints no longer holds the checkpoint of seq 15 "
    )


# --- the reading itself -------------------------------------------------------------------------


def test_a_reading_goes_on_from_a_last_line_without_its_newline(in_tmp: Path):
    """An append under way in another process (its newline not yet there): the line is read,
    and read again next time, with the same number as a whole reading gives it."""
    one, two, three = (
        Checkpoint.make(KEY, seq, "ab" * 32, f"2024-01-01T00:00:0{seq}.000000Z").line()
        for seq in (1, 2, 3)
    )
    CHECKPOINTS.write_text(one + two.rstrip("\n"))
    first = CheckpointReading(CHECKPOINTS)
    assert [(number, point and point.seq) for number, point in first] == [(1, 1), (2, 2)]
    with open(CHECKPOINTS, "a", encoding="utf-8") as file:  # another process: the file is read
        file.write("\n" + three)  # whole again, and gives the same numbers

    second = CheckpointReading(CHECKPOINTS, first.tail)
    seen = [(number, point and point.seq) for number, point in second]

    assert (second.whole, seen) == (True, [(1, 1), (2, 2), (3, 3)])
    third = CheckpointReading(CHECKPOINTS, second.tail)
    assert list(third) == []
    assert not third.whole
