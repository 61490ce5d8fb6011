"""A backtest's log keeps its decisions that placed nothing in runs (``signalops.audit.runs``),
and every reader of the store answers from it what it answers from the same records in rows.

The same 2,000 hours of the hourly RSI strategy are backtested by the fast engine (its log
keeps runs) and the pipeline engine (a row per record): each reader is asked the same things
of both logs. Tampering with a run is found by ``verify`` as with a row.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import zlib
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import zstandard
from attacks import attacker, edit_body, insert, layout_of, row_of, unsealed

from signalops.audit import runs
from signalops.audit.chain import GENESIS
from signalops.audit.record import Repeat
from signalops.audit.store import AuditLog
from signalops.audit.verify import ProblemKind, check_record, verify
from signalops.backtest import run_backtest
from signalops.errors import AuditIntegrityError, DuplicateRecordError, Undecodable
from signalops.strategy import loads

HOURLY_RSI = (Path(__file__).parents[1] / "fixtures" / "hourly_rsi.yaml").read_text("utf-8")
START, END = datetime(2023, 2, 20, tzinfo=UTC), datetime(2023, 5, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def logs(replay_store: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the fast engine's log, the pipeline engine's) of the same backtest."""
    out = tmp_path_factory.mktemp("runs")
    strategy = loads(HOURLY_RSI, "bench.yaml")
    paths = []
    for engine in ("fast", "pipeline"):
        result = run_backtest(
            strategy, store=replay_store, start=START, end=END, every=timedelta(hours=1),
            out_dir=out / engine, engine=engine,
        )  # fmt: skip
        paths.append(result.audit_path)
    return paths[0], paths[1]


def copy_of(path: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "copy.db"
    shutil.copyfile(path, copied)
    return copied


def run_seqs(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT first, last FROM runs ORDER BY first").fetchall()


def test_a_fast_backtest_keeps_every_decision_that_placed_nothing_in_runs(
    logs: tuple[Path, Path],
):
    fast, pipeline = logs
    with sqlite3.connect(fast) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        not_executed = db.execute(
            "SELECT count(*) FROM records WHERE kind = 'decision' AND status = 'NOT_EXECUTED'"
        ).fetchone()[0]
        rows = db.execute("SELECT count(*) FROM records").fetchone()[0]
    kept = sum(last - first + 1 for first, last in run_seqs(fast))
    with AuditLog.open_readonly(fast) as ours, AuditLog.open_readonly(pipeline) as theirs:
        assert ours.count() == theirs.count() == rows + kept
        assert ours.head() == theirs.head()
    assert version == runs.RUNS_VERSION
    assert not_executed == 0
    assert kept > 10 * rows  # HOLDs and denials: nearly every record


def test_records_and_lookups_by_id_seq_and_hash_are_the_same_from_runs_as_from_rows(
    logs: tuple[Path, Path],
):
    with AuditLog.open_readonly(logs[0]) as ours, AuditLog.open_readonly(logs[1]) as theirs:
        records = list(theirs.records())
        assert list(ours.records()) == records
        assert list(ours.records(after_seq=777)) == records[777:]
        for record in records[::37]:
            seq, ident = record["seq"], record["id"]
            assert ours.get(ident) == theirs.get(ident) == record
            assert ours.has_decision(ident) == theirs.has_decision(ident)
            assert ours.hash_at(seq) == theirs.hash_at(seq) == record["hash"]
            assert ours.body_at(seq) == theirs.body_at(seq)
            stored = ours.stored_at(seq)
            assert stored is not None and stored.record == record
            assert ours.seq_of_hash(record["hash"]) == seq
        assert ours.get("dec-000000000000000000000000") is None
        assert ours.stored_at(len(records) + 1) is None
        ids = [record["id"] for record in records]
        assert ours.strategies_of(ids) == theirs.strategies_of(ids)


def written_before_the_kinds_table(path: Path, tmp_path: Path) -> Path:
    """A copy of the log as a backtest wrote it before ``run_kinds``: none, and no span index."""
    copied = copy_of(path, tmp_path)
    db = attacker(copied)
    db.execute("DROP TABLE run_kinds")
    db.execute("DROP INDEX runs_span")
    db.commit()
    db.close()
    return copied


@pytest.mark.parametrize("kinds_table", [True, False], ids=["run_kinds", "written before it"])
def test_decision_filters_answer_the_same_from_runs_as_from_rows(
    logs: tuple[Path, Path], tmp_path: Path, kinds_table: bool
):
    path = logs[0] if kinds_table else written_before_the_kinds_table(logs[0], tmp_path)
    with AuditLog.open_readonly(path) as ours, AuditLog.open_readonly(logs[1]) as theirs:
        assert verify(ours).ok
        content_hash = theirs.records().__next__()["strategy"]["hash"]
        asked: list[dict[str, Any]] = [{}, {"limit": None}, {"limit": 1}, {"limit": 7}]
        for verdict in ("BUY", "SELL", "HOLD", "BLOCKED"):
            asked += [{"verdict": verdict}, {"verdict": verdict, "asset": "BTC", "limit": 5}]
        asked += [
            {"asset": "BTC", "strategy": "Hourly_RSI_Bench", "limit": 300},
            {"strategy": content_hash, "verdict": "SELL", "limit": 40},
            {"strategy": "Another", "limit": None},
            {"asset": "ETH"},
            {
                "since": datetime(2023, 3, 1, 5, tzinfo=UTC),
                "until": date(2023, 3, 3),
                "limit": None,
            },
            {"since": date(2023, 4, 2), "until": datetime(2023, 4, 2, 7, tzinfo=UTC)},
            {"until": datetime(2023, 2, 21, tzinfo=UTC), "verdict": "HOLD", "limit": 3},
        ]
        for filters in asked:
            assert ours.decisions(**filters) == theirs.decisions(**filters), filters
        when = datetime(2023, 4, 9, 13, 30, tzinfo=UTC)
        assert ours.decision_at("BTC", when) == theirs.decision_at("BTC", when)
        assert ours.decision_at("BTC", date(2023, 3, 9)) == theirs.decision_at(
            "BTC", date(2023, 3, 9)
        )
        assert ours.records_since("decision", after_seq=1500) == theirs.records_since(
            "decision", after_seq=1500
        )
        assert list(ours.records_of_kind("decision")) == list(theirs.records_of_kind("decision"))
        assert ours.newest_first("decision") == theirs.newest_first("decision")
        for column in ("asset", "strategy"):
            assert ours.distinct_values(column) == theirs.distinct_values(column)


@pytest.mark.parametrize(
    ("streams", "page"), [(16, 64), (0, 64), (16, 1), (0, 2)],
    ids=["a range per kind", "one range for all kinds", "a run a page", "cut runs"],
)  # fmt: skip
def test_time_windows_with_any_limit_answer_the_same_from_runs_as_from_rows(
    logs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, streams: int, page: int
):
    monkeypatch.setattr(runs, "_STREAMS_MAX", streams)
    monkeypatch.setattr(runs, "_PAGE", page)
    rng = random.Random(13)
    with AuditLog.open_readonly(logs[0]) as ours, AuditLog.open_readonly(logs[1]) as theirs:
        for _ in range(150):
            since = START + timedelta(hours=rng.randrange(0, 2100))
            until = since + timedelta(hours=rng.choice([0, 1, 5, 30, 200, 900]))
            filters: dict[str, Any] = {
                "since": since if rng.random() < 0.8 else None,
                "until": until if rng.random() < 0.8 else None,
                "limit": rng.choice([None, 1, 3, 50, 400]),
            }
            if rng.random() < 0.5:
                filters["verdict"] = rng.choice(["HOLD", "SELL", "BUY"])
            assert ours.decisions(**filters) == theirs.decisions(**filters), filters


def test_verify_finds_a_kinds_table_that_leaves_out_adds_or_misdates_a_runs_kind(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    (first, _), (other, _) = run_seqs(path)[2], run_seqs(path)[8]
    db = attacker(path)
    (kind,) = db.execute("SELECT kind FROM run_kinds WHERE first = ? LIMIT 1", (first,)).fetchone()
    db.execute("DELETE FROM run_kinds WHERE first = ? AND kind = ?", (first, kind))
    (dated, until, since) = db.execute(
        "SELECT kind, until, since FROM run_kinds WHERE first = ? LIMIT 1", (other,)
    ).fetchone()
    db.execute(
        "UPDATE run_kinds SET until = until + 1 WHERE first = ? AND kind = ?", (other, dated)
    )
    db.execute('INSERT INTO run_kinds VALUES (\'["PHANTOM",1,1,"HOLD"]\', 5, 5, ?)', (first,))
    db.execute('INSERT INTO run_kinds VALUES (\'["PHANTOM",1,1,"HOLD"]\', 5, 5, 999999)')
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    found = [(p.seq, p.message) for p in report.problems if p.kind is ProblemKind.EDITED]
    where = "the runs' kinds table"
    phantom = '["PHANTOM",1,1,"HOLD"]'
    assert found == [
        (first, f"{where} leaves out the kind {kind} of the run from seq {first}"),
        (first, f"{where} names the kind {phantom} of a run from seq {first}, which does not "
                "hold it"),
        (other, f"{where} says the kind {dated} of the run from seq {other} is from {since} to "
                f"{until + 1}; the run is from {since} to {until}"),
        (999999, f"{where} names the kind {phantom} of a run from seq 999999, which is not there"),
    ]  # fmt: skip


@pytest.mark.parametrize("how", ["inserted", "deleted", "the run's own times edited"])
def test_a_check_from_an_earlier_one_finds_a_kinds_row_of_a_run_before_it_added_or_taken_out(
    logs: tuple[Path, Path], tmp_path: Path, how: str
):
    # The kinds table tells no row added since a check from another: it is read whole. An
    # inserted row needs no trigger dropped, and one that dates a run later lists its records
    # twice in a filter (``decisions --verdict HOLD``); one taken out makes it miss them. Where
    # the run's own times were edited instead, the table is right: the check says what a whole
    # one says of the run (it blamed the table, a line per kind).
    path = copy_of(logs[0], tmp_path)
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
    assert earlier.ok
    first, last = run_seqs(path)[4]
    db = sqlite3.connect(path) if how == "inserted" else attacker(path)
    kind, until, since = db.execute(
        "SELECT kind, until, since FROM run_kinds WHERE first = ? LIMIT 1", (first,)
    ).fetchone()
    where = "the runs' kinds table"
    if how == "inserted":
        db.execute("INSERT INTO run_kinds VALUES (?, ?, ?, ?)", (kind, until + 86400, since, first))
        message = (
            f"{where} says the kind {kind} of the run from seq {first} is from {since} to "
            f"{until + 86400}; the run is from {since} to {until}"
        )
    elif how == "deleted":
        db.execute("DELETE FROM run_kinds WHERE first = ? AND kind = ?", (first, kind))
        message = f"{where} leaves out the kind {kind} of the run from seq {first}"
    else:
        since, until = db.execute(
            "SELECT since, until FROM runs WHERE first = ?", (first,)
        ).fetchone()
        db.execute("UPDATE runs SET since = 0, until = 0 WHERE first = ?", (first,))
        message = (
            f"the run of seqs {first}..{last} says its decisions are from 0 to 0; they are from "
            f"{since} to {until}"
        )
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
    assert again.checked == 0  # no record after the point
    assert [(p.kind, p.seq, p.message) for p in again.problems] == [
        (ProblemKind.EDITED, first, message)
    ]
    assert again.problems == whole.problems


@pytest.mark.parametrize(
    "kinds",
    [
        lambda own: "[[",
        lambda own: '["abcd"]',  # four letters, as Python once took them
        lambda own: json.dumps(dict(enumerate(json.loads(own)))),  # its own kinds, keyed
    ],
    ids=["not JSON", "not kinds", "an object"],
)
def test_a_run_whose_kinds_column_does_not_decode_is_reported_once_whole_or_from_a_point(
    logs: tuple[Path, Path], tmp_path: Path, kinds: Any
):
    # The kinds table's check read every run's kinds column as JSON in SQL: one that was not
    # made verify raise "malformed JSON" (a traceback from ``audit verify``, and from the
    # dashboard's check from an earlier point). Its run is reported once and left out of the
    # kinds table's check, as a run whose own times are wrong is; filters refuse it.
    path = copy_of(logs[0], tmp_path)
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
    first, last = run_seqs(path)[4]
    db = attacker(path)
    (own,) = db.execute("SELECT kinds FROM runs WHERE first = ?", (first,)).fetchone()
    db.execute("UPDATE runs SET kinds = ? WHERE first = ?", (kinds(own), first))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
        with pytest.raises(AuditIntegrityError, match="its run does not decode"):
            log.decisions(limit=None)
    message = f"the kinds column of the run of seqs {first}..{last} does not decode"
    assert [(p.kind, p.seq, p.id, p.message) for p in again.problems] == [
        (ProblemKind.EDITED, first, None, message)
    ]
    # A whole check's walk also reports each of its records, as for any run that does not decode
    assert [p for p in whole.problems if p.message == message] == list(again.problems)
    others = [p for p in whole.problems if p.message != message]
    assert [p.seq for p in others] == list(range(first, last + 1))
    assert {(p.kind, p.message) for p in others} == {
        (ProblemKind.EDITED, "the body is not a JSON record")
    }


def test_a_kinds_table_holding_what_is_not_a_kind_fails_filters_and_is_reported_by_verify(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    db = attacker(path)
    db.execute("INSERT INTO run_kinds VALUES ('garbage', 5, 5, 50)")
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        with pytest.raises(AuditIntegrityError, match="holds 'garbage', not a kind"):
            log.decisions()
        report = verify(log)
    assert [(p.kind, p.message) for p in report.problems] == [
        (ProblemKind.EDITED, "the runs' kinds table holds 'garbage', not a kind")
    ]


def test_an_export_of_a_log_with_runs_is_the_export_of_the_same_records_in_rows(
    logs: tuple[Path, Path], tmp_path: Path
):
    for path, name in zip(logs, ("ours.jsonl", "theirs.jsonl"), strict=True):
        with AuditLog.open_readonly(path) as log:
            log.export_jsonl(tmp_path / name)
    assert (tmp_path / "ours.jsonl").read_bytes() == (tmp_path / "theirs.jsonl").read_bytes()


def test_verify_finds_nothing_wrong_with_a_log_of_runs(logs: tuple[Path, Path]):
    with AuditLog.open_readonly(logs[0]) as log:
        report = verify(log)
        count = log.count()
    assert report.ok, str(report)
    assert report.checked == count


def test_verify_decodes_each_run_once(logs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch):
    # Its walk decodes every run; the check of the runs' own columns after it takes their
    # records' times from the walk (decoding them again was a fifth of verify on small runs).
    decoded: Counter[int] = Counter()
    real = runs.decode

    def counted(stored: Any) -> list[tuple[Any, ...]]:
        decoded[stored[0]] += 1
        return real(stored)

    monkeypatch.setattr(runs, "decode", counted)
    with AuditLog.open_readonly(logs[0]) as log:
        assert verify(log).ok
    assert sorted(decoded) == [first for first, _ in run_seqs(logs[0])]
    assert set(decoded.values()) == {1}


def test_an_edited_body_in_a_run_is_found_by_verify_at_its_seq(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    first, last = run_seqs(path)[3]
    seq = (first + last) // 2
    db = attacker(path)
    edit_body(db, seq, lambda body: body["observations"][0].update(value=12.5))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    assert [(p.kind, p.seq) for p in report.problems][:1] == [(ProblemKind.EDITED, seq)]


def test_a_deleted_run_is_found_by_verify_as_deleted_records(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    first, last = run_seqs(path)[5]
    db = attacker(path)
    db.execute("DELETE FROM runs WHERE first = ?", (first,))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    kinds = [p for p in report.problems if p.message.startswith("the runs' kinds table")]
    assert kinds and all(
        (p.kind, p.seq) == (ProblemKind.EDITED, first)
        and p.message.startswith("the runs' kinds table names the kind ")
        and p.message.endswith(f"of a run from seq {first}, which is not there")
        for p in kinds
    )
    deleted, ids = [p for p in report.problems if p not in kinds]
    assert (deleted.kind, deleted.seq) == (ProblemKind.DELETED, first)
    assert deleted.message.startswith(f"seqs {first}..{last} missing: seq {last + 1} ")
    assert (ids.kind, ids.seq, ids.message) == (
        ProblemKind.EDITED,
        first,
        f"the runs' id table names {last - first + 1} records of a run from seq {first}, "
        "which is not there",
    )


def test_a_run_that_no_longer_decodes_is_reported_record_by_record(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    first, last = run_seqs(path)[2]
    db = attacker(path)
    db.execute("UPDATE runs SET data = ? WHERE first = ?", (b"not deflated", first))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
        with pytest.raises(Exception, match="damaged"):
            list(log.records())
    damaged = {p.seq for p in report.problems if p.kind is ProblemKind.EDITED}
    assert set(range(first, last + 1)) <= damaged


def test_runs_written_deflated_as_the_first_runs_were_read_back_the_same(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    db = attacker(path)
    stored = db.execute("SELECT first, data FROM runs").fetchall()
    for first, data in stored:
        assert data[:4] == b"\x28\xb5\x2f\xfd"  # written as Zstandard frames
        raw = zstandard.ZstdDecompressor().decompress(data)
        assert raw[0] == 2
        deflated = zlib.compress(b"\x01" + raw[1:], 1)  # format 1, as the first runs had it
        db.execute("UPDATE runs SET data = ? WHERE first = ?", (deflated, first))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as ours, AuditLog.open_readonly(logs[1]) as theirs:
        assert list(ours.records()) == list(theirs.records())
        assert verify(ours).ok


def test_a_bit_flipped_anywhere_in_a_runs_frame_never_decodes_to_other_records(
    logs: tuple[Path, Path],
):
    with sqlite3.connect(logs[0]) as db:
        stored = db.execute(f"SELECT {runs._SELECT} FROM runs ORDER BY length(data)").fetchone()
    whole = runs.decode(stored)
    data = stored[-1]
    for at in range(len(data)):
        for bit in range(8):
            damaged = bytearray(data)
            damaged[at] ^= 1 << bit
            try:
                rows = runs.decode((*stored[:-1], bytes(damaged)))
            except Undecodable:
                continue
            assert rows == whole, f"byte {at} bit {bit}"  # a flip the frame does not hold


def test_a_zstandard_frame_without_its_checksum_does_not_decode(logs: tuple[Path, Path]):
    with sqlite3.connect(logs[0]) as db:
        stored = db.execute(f"SELECT {runs._SELECT} FROM runs LIMIT 1").fetchone()
    raw = zstandard.ZstdDecompressor().decompress(stored[-1])
    unchecked = zstandard.ZstdCompressor(level=1, write_checksum=False).compress(raw)
    assert runs.decode((*stored[:-1], zstandard.ZstdCompressor(level=1, write_checksum=True)
                        .compress(raw))) == runs.decode(stored)  # fmt: skip
    with pytest.raises(Undecodable, match="does not decode"):
        runs.decode((*stored[:-1], unchecked))


@pytest.mark.parametrize(
    "data",
    [
        b"\x28\xb5\x2f\xfd" + b"not a frame",
        b"\x28\xb5\x2f\xfd\x20\xff",  # a frame cut short
        zlib.compress(b"\x02" + bytes(40)),  # deflated, but saying it is a Zstandard frame
    ],
    ids=["garbage", "cut short", "format mismatch"],
)
def test_a_run_whose_frame_is_damaged_fails_to_decode_as_a_damaged_run(data: bytes):
    row = (1, 3, "[]", bytes(32), bytes(36), bytes(96), data)
    with pytest.raises(Undecodable, match="does not decode"):
        runs.decode(row)


def test_runs_and_their_ids_refuse_updates_and_deletes(logs: tuple[Path, Path], tmp_path: Path):
    path = copy_of(logs[0], tmp_path)
    with sqlite3.connect(path) as db:
        for sql in (
            "UPDATE runs SET data = x'00'",
            "DELETE FROM runs",
            "UPDATE run_ids SET first = 1",
            "DELETE FROM run_ids",
            "UPDATE run_kinds SET until = 0",
            "DELETE FROM run_kinds",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                db.execute(sql)


def test_a_decision_a_run_holds_is_refused_again_as_a_row(logs: tuple[Path, Path], tmp_path: Path):
    path = copy_of(logs[0], tmp_path)
    first, _ = run_seqs(path)[1]
    with AuditLog(path) as log:
        stored = log.stored_at(first)
        assert stored is not None and stored.record is not None
        head = log.head()
        with pytest.raises(DuplicateRecordError, match=stored.record["id"]):
            log.append(unsealed(stored.record))
        assert log.head() == head


def test_a_decision_twice_in_one_packing_append_is_refused_and_nothing_is_written(
    logs: tuple[Path, Path], tmp_path: Path
):
    with AuditLog.open_readonly(logs[0]) as source:
        held = [unsealed(r) for r in source.decisions(verdict="HOLD", limit=3)]
    with AuditLog(tmp_path / "new.db") as log:
        assert log.start_bulk_load(private=True)
        with pytest.raises(DuplicateRecordError, match=held[1]["id"]):
            log.append_many([held[0], held[1], held[2], held[1]])
        assert log.count() == 0 and log.head() is None
        assert log.append_many(held) == 3
        log.finish_bulk_load()
        assert [r["id"] for r in log.records()] == [r["id"] for r in held]
        assert verify(log).ok


def test_a_run_appended_in_a_transaction_rolled_back_leaves_nothing_behind(
    logs: tuple[Path, Path], tmp_path: Path
):
    with AuditLog.open_readonly(logs[0]) as source:
        held = [unsealed(r) for r in source.decisions(verdict="HOLD", limit=4)]
    with AuditLog(tmp_path / "new.db") as log:
        log.start_bulk_load(private=True)
        log.append_many(held[:2])
        with pytest.raises(RuntimeError), log.transaction():
            log.append_many(held[2:])
            raise RuntimeError("a fill failed")
        assert log.count() == 2
        assert log.get(held[2]["id"]) is None
        log.append_many(held[2:])
        log.finish_bulk_load()
        assert log.count() == 4 and verify(log).ok


def test_a_writer_appends_rows_after_a_backtests_runs_and_the_chain_goes_on(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    with AuditLog.open_readonly(logs[0]) as source:
        last = source.decisions(limit=1)[0]
    later = unsealed(last)
    later["id"] = later["decision_id"] = "dec-" + "f" * 24
    with AuditLog(path) as log:
        head = log.head()
        assert head is not None
        sealed = log.append(later)
        assert (sealed["seq"], sealed["prev_hash"]) == (head[0] + 1, head[1])
        assert log.get(later["id"]) == sealed
        assert list(log.records(after_seq=head[0])) == [sealed]
        assert verify(log).ok


def backtest_repeats(
    replay_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[Repeat]:
    """The ``Repeat``s three days of the hourly RSI backtest append to its log, in order."""
    repeats: list[Repeat] = []
    append_many = AuditLog.append_many

    def keeping(log: AuditLog, records: Any) -> int:
        records = list(records)
        repeats.extend(r for r in records if isinstance(r, Repeat))
        return append_many(log, records)

    monkeypatch.setattr(AuditLog, "append_many", keeping)
    run_backtest(
        loads(HOURLY_RSI, "bench.yaml"), store=replay_store, start=START,
        end=START + timedelta(days=3), every=timedelta(hours=1), out_dir=tmp_path / "bt",
    )  # fmt: skip
    monkeypatch.undo()
    return repeats


def test_repeats_a_run_cannot_keep_are_stored_as_rows_and_read_back_alike(
    replay_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    repeats = backtest_repeats(replay_store, tmp_path, monkeypatch)
    odd = repeats[0]._replace(id="dec-" + "Z" * 24)  # not hex digits: ``ids`` cannot hold it
    with AuditLog(tmp_path / "new.db") as log:
        log.start_bulk_load(private=True)
        assert log.append_many([odd, repeats[1]]) == 2
        log.finish_bulk_load()
        assert log.db.execute("SELECT count(*) FROM records").fetchone()[0] == 2
        assert log.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
        assert [r["id"] for r in log.records()] == [odd.id, repeats[1].id]
        assert log.get(odd.id) == next(log.records())
        assert next(log.records())["observations"] == odd.prepared().record["observations"]
        assert verify(log).ok


def _runs_row(db: sqlite3.Connection, first: int) -> tuple[Any, ...]:
    found = db.execute(f"SELECT {runs._SELECT} FROM runs WHERE first = ?", (first,)).fetchone()
    assert found is not None
    return tuple(found)


def test_repeats_whose_ids_are_not_24_hex_digits_each_are_rows_even_when_their_lengths_add_up(
    replay_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Two ids one digit short and one digit long hold 48 hex digits between them: cut into
    12-byte ids they would read back as two other ids (``ids`` keeps 24 digits per record)."""
    repeats = backtest_repeats(replay_store, tmp_path, monkeypatch)
    short = repeats[0]._replace(id="dec-" + "a" * 23)
    long = repeats[1]._replace(id="dec-" + "b" * 25)
    with AuditLog(tmp_path / "new.db") as log:
        log.start_bulk_load(private=True)
        assert log.append_many([short, long, repeats[2]]) == 3
        log.finish_bulk_load()
        assert [r["id"] for r in log.records()] == [short.id, long.id, repeats[2].id]
        assert log.get(long.id) == list(log.records())[1]
        assert verify(log).ok
        assert log.db.execute("SELECT count(*) FROM runs").fetchone()[0] == 0


def test_a_run_slipped_inside_another_is_found_by_verify(logs: tuple[Path, Path], tmp_path: Path):
    path = copy_of(logs[0], tmp_path)
    first = next(f for f, last in run_seqs(path)[2:] if last - f > 10)
    db = attacker(path)
    nested = runs.RunBuilder()
    for row in runs.decode(_runs_row(db, first))[3:9]:
        nested.add(row)  # the same records again, as a run of their own (no writer makes one)
    db.execute(runs._INSERT, nested.params())
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    assert not report.ok
    assert (ProblemKind.EDITED, first + 3) in {(p.kind, p.seq) for p in report.problems}
    assert any("overlaps the runs before it" in p.message for p in report.problems)


def forge_run(db: sqlite3.Connection, source: int, at: int, count: int, prev: str) -> list[str]:
    """``count`` records of the run from seq ``source`` (from its fourth on), their observed
    values changed and re-sealed at seqs from ``at`` on after ``prev``, INSERTed as a run of
    their own with its kinds (no trigger dropped: the tables refuse UPDATE and DELETE only);
    their ids."""
    layout = layout_of(db)
    forged = runs.RunBuilder()
    for seq, row in enumerate(runs.decode(_runs_row(db, source))[3 : 3 + count], at):
        record = unsealed(layout.decode(row))
        record["observations"][0]["value"] += 0.5
        sealed, prev = row_of(db, record, seq, prev)
        forged.add(tuple(sealed.values()))
    db.execute(runs._INSERT, forged.params())
    kinds_of_run(db, at)
    return forged.ids


def kinds_of_run(db: sqlite3.Connection, first: int) -> None:
    """The kinds of the run from ``first`` added to ``run_kinds``, as a writer adds them."""
    db.execute(
        "INSERT INTO run_kinds SELECT value, until, since, first FROM runs, json_each(kinds) "
        "WHERE first = ?",
        (first,),
    )
    db.commit()


@pytest.mark.parametrize("where", ["inside a run", "before seq 1", "ending before it starts"])
def test_a_check_from_an_earlier_one_finds_a_run_inserted_among_the_runs_before_it(
    logs: tuple[Path, Path], tmp_path: Path, where: str
):
    # ``runs`` refuses UPDATE and DELETE, not INSERT. A run slipped in among those an earlier
    # check read is read by lookups by seq in place of the records it covers (re-sealed, they
    # check out one by one; past its end they are not found) and by filters; one before seq 1
    # by filters only, and one that ends before it starts hides the records after its first
    # from lookups by seq. Only a whole check walked them, and it found the first alone.
    path = copy_of(logs[0], tmp_path)
    first, last = next((f, last) for f, last in run_seqs(path)[4:] if last - f > 10)
    at = -5 if where == "before seq 1" else first + 3
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
        prev = log.hash_at(at - 1) if at > 1 else GENESIS
    db = sqlite3.connect(path)
    if where == "ending before it starts":
        db.execute(
            "INSERT INTO runs SELECT ?, 0, since, until, kinds, prev_hash, ids, hashes, data "
            "FROM runs WHERE first = ?",
            (at, first),
        )
        kinds_of_run(db, at)
        ids, end = [], 0
    else:
        ids, end = forge_run(db, first, at, 6, str(prev)), at + 5
    db.close()

    with AuditLog.open_readonly(path) as log:
        found = Counter(r["id"] for r in log.decisions(limit=None))
        assert [found[i] for i in ids] == [2] * len(ids)  # forged records beside the real ones
        if where == "inside a run":
            stored = log.stored_at(at + 2)
            assert stored is not None and stored.record is not None
            assert stored.record["id"] == ids[2]
            assert check_record(log, stored.record) == []  # the forged one, and it checks out
        if at > 0:
            assert log.stored_at(last) is None  # the run's later records are not found
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
    run = f"the run of seqs {at}..{end}"
    message = {
        "inside a run": f"{run} overlaps the runs before it (to seq {last})",
        "before seq 1": f"{run} starts before seq 1, the chain's first",
        "ending before it starts": f"{run} ends before it starts",
    }[where]
    # (and the id table names the real runs for the forged records' ids, reported per record)
    assert [(p.kind, p.seq, p.message) for p in again.problems if p.id is None] == [
        (ProblemKind.EDITED, at, message)
    ]
    assert [p.id for p in again.problems if p.id is not None] == ids
    assert set(again.problems) <= set(whole.problems)


@pytest.mark.parametrize("names", ["a run before it", "no run"])
def test_a_check_from_an_earlier_one_finds_an_id_row_added_for_a_run_before_it(
    logs: tuple[Path, Path], tmp_path: Path, names: str
):
    # ``run_ids`` refuses UPDATE and DELETE, not INSERT: a row naming a run for an id it does
    # not hold makes the log refuse a decision of that id as already there (``get`` finds
    # none). Such a check read the rows of the runs after its point only.
    path = copy_of(logs[0], tmp_path)
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
        (decision,) = log.decisions(verdict="HOLD", limit=1)
    first, last = run_seqs(path)[4]
    stray = "dec-" + "ab" * 12
    named = first if names == "a run before it" else first + 1
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO run_ids VALUES (?, ?)", (stray, named))
    db.close()

    with AuditLog.open_readonly(path) as log:
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
    where = "the runs' id table names"
    problem = (
        (ProblemKind.EDITED, first, stray,
         f"{where} the run of seqs {first}..{last} for it, which does not hold it")
        if names == "a run before it"
        else (ProblemKind.EDITED, named, None,
              f"{where} 1 records of a run from seq {named}, which is not there")
    )  # fmt: skip
    assert [(p.kind, p.seq, p.id, p.message) for p in again.problems] == [problem]
    assert again.problems == whole.problems
    with AuditLog(path) as log:
        assert log.get(stray) is None
        with pytest.raises(DuplicateRecordError, match=stray):
            log.append({**unsealed(decision), "id": stray, "decision_id": stray})


def test_a_check_from_an_earlier_one_finds_a_row_inserted_at_a_seq_a_run_before_it_holds(
    logs: tuple[Path, Path], tmp_path: Path
):
    # ``records`` refuses UPDATE and DELETE, not INSERT, and a seq a run holds is free in it: a
    # row slipped in there is what a lookup by seq reads (rows first), and filters list it
    # beside the run's record. Such a check read the rows after its point only.
    path = copy_of(logs[0], tmp_path)
    first, _ = run_seqs(path)[4]
    seq = first + 3
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
        real = log.stored_at(seq)
        prev = log.hash_at(seq - 1)
    assert real is not None and real.record is not None
    forged = unsealed(real.record)
    forged["observations"][0]["value"] += 0.5
    db = sqlite3.connect(path)
    insert(db, forged, seq, str(prev))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        stored = log.stored_at(seq)
        assert stored is not None and stored.record is not None
        assert stored.record["observations"] == forged["observations"]  # the row, not the run's
        assert Counter(r["id"] for r in log.decisions(limit=None))[forged["id"]] == 2
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
    assert [(p.kind, p.seq, p.id, p.message) for p in again.problems] == [
        (ProblemKind.REORDERED, seq, forged["id"], f"seq {seq} appears more than once")
    ]
    assert set(again.problems) <= set(whole.problems)


def test_verify_finds_a_runs_time_range_or_id_table_that_is_not_its_records(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    (first, last), (other, _) = run_seqs(path)[4], run_seqs(path)[6]
    db = attacker(path)
    db.execute("UPDATE runs SET since = 0, until = 0 WHERE first = ?", (first,))
    (gone,) = db.execute("SELECT id FROM run_ids WHERE first = ? LIMIT 1", (other,)).fetchone()
    db.execute("DELETE FROM run_ids WHERE id = ?", (gone,))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    found = {(p.kind, p.seq, p.id): p.message for p in report.problems}
    assert found[(ProblemKind.EDITED, first, None)].startswith(
        f"the run of seqs {first}..{last} says its decisions are from 0 to 0; they are from "
    )
    (missing,) = [key for key in found if key[2] == gone]
    assert found[missing].startswith(f"the runs' id table does not name the run of seqs {other}..")
    with AuditLog.open_readonly(path) as log:
        alone = log.storage_problems()  # no walk before it: it decodes the runs itself
        with log.snapshot():
            assert sum(1 for _ in log.stored_rows()) == report.checked
            assert log.storage_problems() == alone  # the walk's times, the ids columns
    assert len(alone) == 2


def test_verify_finds_an_id_table_naming_another_run_or_a_record_no_run_holds(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    (first, last), (other, other_last) = run_seqs(path)[3], run_seqs(path)[5]
    db = attacker(path)
    (moved,) = db.execute("SELECT id FROM run_ids WHERE first = ? LIMIT 1", (other,)).fetchone()
    db.execute("UPDATE run_ids SET first = ? WHERE id = ?", (first, moved))
    stray = "dec-" + "0" * 24
    db.execute("INSERT INTO run_ids (id, first) VALUES (?, ?)", (stray, first))
    db.execute("INSERT INTO run_ids (id, first) VALUES (?, ?)", ("dec-" + "1" * 24, 999_999))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
    found = {(p.seq, p.id): p.message for p in report.problems if p.kind is ProblemKind.EDITED}
    named = (
        f"the runs' id table names the run of seqs {first}..{last} for it, which does not hold it"
    )
    assert found[(first, moved)] == found[(first, stray)] == named
    (held,) = [key for key in found if key[1] == moved and key[0] != first]
    assert other <= held[0] <= other_last
    assert (
        found[held]
        == f"the runs' id table does not name the run of seqs {other}..{other_last} for it"
    )
    assert found[(999_999, None)] == (
        "the runs' id table names 1 records of a run from seq 999999, which is not there"
    )
    assert len(found) == 4


def test_a_run_that_no_longer_decodes_fails_every_lookup_as_a_damaged_row_does(
    logs: tuple[Path, Path], tmp_path: Path
):
    path = copy_of(logs[0], tmp_path)
    first, _ = run_seqs(path)[2]
    with AuditLog.open_readonly(path) as log:
        inside = log.stored_at(first + 1)
        assert inside is not None and inside.record is not None
        record = inside.record
    db = attacker(path)
    db.execute("UPDATE runs SET data = x'00' WHERE first = ?", (first,))
    db.commit()
    db.close()

    with AuditLog.open_readonly(path) as log:
        for lookup in (
            lambda: log.get(record["id"]),
            lambda: log.has_decision(record["id"]),
            lambda: log.decisions(limit=None),
            lambda: log.decision_at("BTC", datetime.fromisoformat(record["as_of"])),
        ):
            with pytest.raises(AuditIntegrityError, match="its run does not decode"):
                lookup()
        assert log.hash_at(first + 1) == record["hash"]  # the hashes are a column of their own
        stored = log.stored_at(first + 1)
        assert stored is not None and stored.record is None


def test_a_decision_appended_alone_while_packing_is_refused_again_in_a_run(
    logs: tuple[Path, Path], tmp_path: Path
):
    with AuditLog.open_readonly(logs[0]) as source:
        one, two = (unsealed(r) for r in source.decisions(verdict="HOLD", limit=2))
    with AuditLog(tmp_path / "new.db") as log:
        log.start_bulk_load(private=True)
        log.append_many([one])
        log.append(two)
        with pytest.raises(DuplicateRecordError, match=two["id"]):
            log.append_many([two])
        assert log.count() == 2


def test_decisions_with_no_room_or_a_negative_limit_answer_as_on_rows(logs: tuple[Path, Path]):
    with AuditLog.open_readonly(logs[0]) as ours, AuditLog.open_readonly(logs[1]) as theirs:
        for limit in (0, -1):
            assert ours.decisions(limit=limit) == theirs.decisions(limit=limit)
        assert len(ours.decisions(limit=-1)) == len(ours.decisions(limit=None)) > 100


def test_the_id_table_names_each_record_of_each_run_with_its_run(
    logs: tuple[Path, Path], tmp_path: Path
):
    # Written at the end from the runs' id columns, not from the map of ids kept while packing:
    # the same pairs, every record's id (as its run decodes) with its run's first seq. A
    # packing rolled back half way (a fill failed) leaves its runs, and its ids, out of both.
    with sqlite3.connect(logs[0]) as db:
        named = db.execute("SELECT id, first FROM run_ids").fetchall()
        stored = db.execute(f"SELECT {runs._SELECT} FROM runs").fetchall()
    decoded = sorted(
        (row[1], stored_run[0]) for stored_run in stored for row in runs.decode(stored_run)
    )
    assert named == decoded and len(named) == sum(
        last - first + 1 for first, last in run_seqs(logs[0])
    )
    with AuditLog.open_readonly(logs[0]) as source:
        held = [unsealed(r) for r in source.decisions(verdict="HOLD", limit=6)]
    with AuditLog(tmp_path / "new.db") as log:
        log.start_bulk_load(private=True)
        log.append_many(held[:2])
        with pytest.raises(RuntimeError), log.transaction():
            log.append_many(held[2:4])
            raise RuntimeError("a fill failed")
        log.append_many(held[4:])
        log.finish_bulk_load()
        assert verify(log).ok
    with sqlite3.connect(tmp_path / "new.db") as db:
        named = db.execute("SELECT id, first FROM run_ids").fetchall()
        firsts = [first for first, _ in db.execute("SELECT first, last FROM runs ORDER BY first")]
    assert len(firsts) == 2
    expected = [(r["id"], firsts[0]) for r in held[:2]] + [(r["id"], firsts[1]) for r in held[4:]]
    assert named == sorted(expected)


@pytest.mark.parametrize("seed", range(5))
def test_the_id_tables_text_is_every_runs_ids_in_id_order_as_json_of_one_width(seed: int):
    # Made as one block of bytes (the ids sorted as 12-byte strings): the text written out id
    # by id, each run's first after spaces to the widest's width; for runs of one id, of many,
    # of ids of any bytes (zeros at the end sort first, as their hex digits do).
    rng = random.Random(seed)
    edges = [
        bytes(12),
        b"\xff" * 12,
        bytes(11) + b"\x01",
        b"ab" + bytes(10),
        b"ab" + bytes(9) + b"\x01",
    ]
    unique = {*edges, *(rng.randbytes(12) for _ in range(2000))}
    pool = rng.sample(sorted(unique), len(unique))  # ids are unique across a log's runs
    stored = []
    for first in sorted(rng.sample(range(1, 10 ** rng.randint(2, 7)), 12)):
        count = rng.choice([1, 2, 3, rng.randint(4, 150)])
        stored.append((first, b"".join(pool.pop() for _ in range(count))))
    by_id = {
        "dec-" + ids[at : at + 12].hex(): first
        for first, ids in stored
        for at in range(0, len(ids), 12)
    }
    width = len(str(max(first for first, _ in stored)))
    lines = [f'"{ident}":{by_id[ident]:>{width}}' for ident in sorted(by_id)]
    sizes = [(first, len(ids) // 12) for first, ids in stored]
    text = runs._ids_object(sizes, b"".join(ids for _, ids in stored))
    assert text == "{" + ",".join(lines) + "}"
    assert list(json.loads(text).items()) == sorted(by_id.items())
    assert runs._ids_object([*sizes, (10**8, 0)], b"".join(ids for _, ids in stored)) == text
    assert runs._ids_object([], b"") == runs._ids_object([(5, 0)], b"") == "{}"


def insert_before_seq_1(path: Path, seq: int) -> dict[str, Any]:
    """A HOLD of the log's re-sealed at ``seq`` (< 1) with an id of its own, INSERTed into
    ``records`` (no trigger dropped); the record."""
    with AuditLog.open_readonly(path) as log:
        (decision,) = log.decisions(verdict="HOLD", limit=1)
    forged = unsealed(decision) | {"id": "dec-" + "cd" * 12, "decision_id": "dec-" + "cd" * 12}
    db = sqlite3.connect(path)
    insert(db, forged, seq, GENESIS)
    db.commit()
    db.close()
    return forged


@pytest.mark.parametrize("seq", [0, -7])
@pytest.mark.parametrize("engine", ["fast", "pipeline"])
def test_a_record_inserted_before_seq_1_of_a_backtests_log_is_reported_whole_and_from_a_point(
    logs: tuple[Path, Path], tmp_path: Path, engine: str, seq: int
):
    # Read by ``decisions``, ``get`` and ``why``, passed over by every walk (which reads the
    # seqs after its point), and counted with the rows by ``Runs.problems``: the count came
    # out one over, and its search, of the seqs the runs hold, found nothing.
    path = copy_of(logs[0] if engine == "fast" else logs[1], tmp_path)
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
        before = len(log.decisions(limit=None))
    forged = insert_before_seq_1(path, seq)
    with AuditLog.open_readonly(path) as log:
        assert len(log.decisions(limit=None)) == before + 1
        assert log.get(forged["id"]) is not None
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
    assert [(p.kind, p.seq, p.id, p.message) for p in whole.problems] == [
        (ProblemKind.INSERTED, seq, forged["id"], f"a record at seq {seq}, before seq 1, the "
         "chain's first")
    ]  # fmt: skip
    assert again.problems == whole.problems


def test_rows_the_runs_check_cannot_place_are_reported_by_their_count(
    logs: tuple[Path, Path], tmp_path: Path
):
    # The runs' check counts the rows with the runs' records, one per seq; told of none before
    # seq 1 (``before``), a row there is one more than the seqs, which its search of the seqs
    # the runs hold does not find: it says so rather than nothing.
    path = copy_of(logs[0], tmp_path)
    insert_before_seq_1(path, 0)
    db = sqlite3.connect(path)
    held = runs.Runs(lambda sql, params: db.execute(sql, params).fetchall())
    (head,) = db.execute("SELECT seq FROM chain_head").fetchone()
    message = (
        f"the log stores {head + 1:,} records (rows and the runs') for seqs 1 to {head:,}: 1 "
        "more that no check places"
    )
    assert held.problems(head) == held.problems(0) == [("INSERTED", None, None, message)]
    assert held.problems(head, before=1) == held.problems(0, before=1) == []
    db.close()


@pytest.mark.parametrize(
    "column,value,shown",
    [("last", "'zz'", "'zz'"), ("last", "1503.5", "1503.5"), ("since", "'zz'", "'zz'"),
     ("until", "x'00'", "b'\\x00'")],
)  # fmt: skip
def test_a_run_whose_last_seq_or_times_are_not_integers_is_reported_and_fails_lookups(
    logs: tuple[Path, Path], tmp_path: Path, column: str, value: str, shown: str
):
    # ``runs`` refuses UPDATE and DELETE, not INSERT, and SQLite's affinity keeps text or a
    # real number in an INTEGER column: the walk took such a run's seqs for a range, and
    # verify raised TypeError (a traceback from `signalops audit verify` and the dashboard's
    # check). Its seqs and times cannot be told: it is reported, left out of the walk and the
    # other checks, and a filter meeting it fails as one meeting a damaged run does.
    path = copy_of(logs[0], tmp_path)
    first, last = next((f, last) for f, last in run_seqs(path)[4:] if last - f > 10)
    at = first + 3
    with AuditLog.open_readonly(path) as log:
        earlier = verify(log)
    names = ["last", "since", "until", "kinds", "prev_hash", "ids", "hashes", "data"]
    picked = ", ".join(value if name == column else name for name in names)
    db = sqlite3.connect(path)
    db.execute(f"INSERT INTO runs SELECT ?, {picked} FROM runs WHERE first = ?", (at, first))
    kinds_of_run(db, at)  # as a writer adds them: filters read the run
    (since, until) = db.execute(
        "SELECT since, until FROM runs WHERE first = ?", (first,)
    ).fetchone()
    db.close()
    own = {"last": last, "since": since, "until": until}
    says = ", ".join(f"{name} {shown if name == column else own[name]}" for name in own)

    with AuditLog.open_readonly(path) as log:
        again = verify(log, since=(earlier.head_seq, earlier.head_hash))
        whole = verify(log)
        with pytest.raises(AuditIntegrityError, match="last seq or times are not whole numbers"):
            log.decisions(limit=None)
    assert [(p.kind, p.seq, p.id, p.message) for p in whole.problems] == [
        (ProblemKind.EDITED, at, None, f"the run from seq {at} has columns that are not seqs or "
         f"times: {says}")
    ]  # fmt: skip
    assert again.problems == whole.problems
