"""The PostgreSQL audit log against a real server: the chain, duplicates, append-only enforced
by the database (triggers and a writer role), and several processes appending at once."""

from __future__ import annotations

import io
import itertools
import multiprocessing
import os
import signal
import time
from datetime import timedelta

import psycopg
import pytest
from audit_scenarios import AS_OF, SCENARIOS, STRATEGY, tamper
from pg_fixtures import (  # noqa: F401  (fixtures)
    append_worker,
    approve_worker,
    batch_worker,
    pg_server,
    pg_url,
)

from signalops.audit.copy import copy_log
from signalops.audit.interface import redacted
from signalops.audit.postgres import PostgresAuditLog
from signalops.audit.record import build_followup
from signalops.audit.store import AuditLog
from signalops.audit.verify import ProblemKind, verify
from signalops.errors import (
    AuditError,
    AuditIntegrityError,
    AuditNotFound,
    DuplicateRecordError,
)

pytestmark = pytest.mark.usefixtures("pg_server")


@pytest.fixture
def log(pg_url):  # noqa: F811
    with PostgresAuditLog(pg_url, runner="runner-a") as opened:
        yield opened


def approval(record, *, by="alice", approved=True):
    return build_followup(
        "approval",
        decision_id=record["decision_id"],
        recorded_at=AS_OF + timedelta(minutes=10),
        n=1,
        approval_id=record["execution"]["approval_id"],
        approved=approved,
        by=by,
    )


def superuser(url):
    return psycopg.connect(url, autocommit=True)


def test_appended_records_form_one_chain_that_verifies(log):
    log.remember_strategy(STRATEGY)
    first = log.append(SCENARIOS.record("buy"))
    second = log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    assert (first["seq"], second["seq"]) == (1, 2)
    assert second["prev_hash"] == first["hash"]
    assert log.head() == (2, second["hash"])
    assert log.get(first["id"]) == first
    report = verify(log)
    assert report.ok, str(report)
    assert (report.checked, report.head_seq) == (2, 2)


def test_the_same_records_give_the_same_hashes_and_export_as_on_sqlite(log, tmp_path):
    records = [SCENARIOS.record(s, as_of=AS_OF + timedelta(hours=i)) for i, s in enumerate(
        ("buy", "blocked", "hold", "denied", "pending")
    )]  # fmt: skip
    with AuditLog(tmp_path / "audit.db") as lite:
        lite.remember_strategy(STRATEGY)
        lite.append_many(records)
        expected = io.StringIO()
        lite.export_jsonl(expected)
    log.remember_strategy(STRATEGY)
    assert log.append_many(records) == 5
    got = io.StringIO()
    assert log.export_jsonl(got) == 5
    assert got.getvalue() == expected.getvalue()


def test_queries_answer_as_on_sqlite(log):
    pending = log.append(SCENARIOS.record("pending"))
    hold = log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    assert [d["id"] for d in log.decisions()] == [hold["id"], pending["id"]]
    assert [d["id"] for d in log.decisions(verdict="HOLD")] == [hold["id"]]
    assert log.decision_at("BTC", AS_OF.date())["id"] == pending["id"]
    assert [p.decision_id for p in log.pending_approvals(AS_OF)] == [pending["id"]]
    approved = log.append(approval(pending))
    assert log.pending_approvals(AS_OF) == []
    assert log.followups(pending["id"]) == [approved]
    assert log.has_decision(pending["id"]) and not log.has_decision(approved["id"])
    assert log.runners() == ["runner-a"]


def test_a_duplicate_id_is_refused_and_nothing_of_its_batch_is_written(log):
    record = SCENARIOS.record("hold")
    log.append(record)
    fresh = SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1))
    with pytest.raises(DuplicateRecordError) as raised:
        log.append_many([fresh, record])
    assert raised.value.ids == (record["id"],)
    assert log.count() == 1 and log.head()[0] == 1
    assert log.append(fresh)["seq"] == 2  # the connection and the chain carry on


def test_a_duplicate_inside_a_caller_transaction_undoes_only_that_append(log):
    record = log.append(SCENARIOS.record("hold"))
    with log.transaction():
        with pytest.raises(DuplicateRecordError):
            log.append({k: record[k] for k in record if k not in ("seq", "prev_hash", "hash")})
        log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    assert log.count() == 2
    assert verify(log).ok


def test_a_second_approval_of_a_decision_from_another_connection_is_refused(log, pg_url):  # noqa: F811
    pending = log.append(SCENARIOS.record("pending"))
    with PostgresAuditLog(pg_url, runner="dashboard") as other:
        other.append(approval(pending, by="alice"))
        with pytest.raises(DuplicateRecordError, match="already in the audit log: approval-"):
            log.append(approval(pending, by="bob", approved=False))
    assert [r["by"] for r in log.followups(pending["id"])] == ["alice"]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE records SET verdict = 'BUY'",
        "DELETE FROM records WHERE seq = 1",
        "TRUNCATE records",
        "UPDATE strategies SET name = 'x'",
        "DELETE FROM trees",
        "DELETE FROM chain_head",
        "UPDATE chain_head SET seq = 1",
    ],
)
def test_the_database_refuses_to_change_or_remove_what_was_appended(log, pg_url, statement):  # noqa: F811
    log.remember_strategy(STRATEGY)
    log.append(SCENARIOS.record("hold"))
    log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    with superuser(pg_url) as conn, pytest.raises(psycopg.errors.IntegrityConstraintViolation):
        conn.execute(statement)
    assert verify(log).ok and log.count() == 2


def test_a_writer_role_appends_but_cannot_update_or_drop_the_triggers(log, pg_server, pg_url):  # noqa: F811
    with superuser(pg_url) as conn:
        conn.execute("DO $$ BEGIN CREATE ROLE audit_writer LOGIN; "
                     "EXCEPTION WHEN duplicate_object THEN NULL; END $$")  # fmt: skip
    log.grant_writer("audit_writer")
    name = pg_url.rsplit("/", 1)[1]
    writer_url = pg_server.database_url(name, user="audit_writer")
    with PostgresAuditLog(writer_url, runner="runner-b") as writer:
        writer.remember_strategy(STRATEGY)
        writer.append(SCENARIOS.record("hold"))
    with psycopg.connect(writer_url, autocommit=True) as conn:
        for statement in (
            "UPDATE records SET verdict = 'BUY'",
            "TRUNCATE records",
            "ALTER TABLE records DISABLE TRIGGER records_no_update",
            "DROP TRIGGER records_no_update ON records",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert verify(log).ok and log.runners() == ["runner-b"]


def _stray_row(log, seq: int, prev_hash: str) -> list:
    """The row ``append`` would write for a hold at ``seq`` after ``prev_hash`` (not stored)."""
    from signalops.audit.record import prepare

    row, _ = log.layout.row(
        prepare(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=7))), seq, prev_hash
    )
    return [*row, "intruder"]


def test_a_row_inserted_past_the_head_without_moving_it_never_commits_nor_blocks_appends(
    log,
    pg_url,  # noqa: F811
):
    from signalops.audit.postgres import _INSERT

    first = log.append(SCENARIOS.record("hold"))
    stray = _stray_row(log, 2, first["hash"])
    with (
        superuser(pg_url) as conn,
        pytest.raises(
            psycopg.errors.IntegrityConstraintViolation, match="without moving the chain head"
        ),
    ):
        conn.execute(_INSERT, stray)  # autocommit: the deferred check runs at its commit
    for seq, prev in ((5, first["hash"]), (2, "0" * 64)):
        with (
            superuser(pg_url) as conn,
            pytest.raises(
                psycopg.errors.IntegrityConstraintViolation, match=r"at the chain head|link"
            ),
        ):
            conn.execute(_INSERT, _stray_row(log, seq, prev))
    log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    assert log.count() == 2 and verify(log).ok


def test_verify_finds_a_record_edited_behind_the_triggers_by_the_owner(log, pg_url):  # noqa: F811
    log.append(SCENARIOS.record("hold"))
    second = log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=2)))
    with superuser(pg_url) as conn:
        conn.execute("ALTER TABLE records DISABLE TRIGGER USER")
        conn.execute("UPDATE records SET body = replace(body, '\"HOLD\"', '\"BUY\"') WHERE seq = 2")
        conn.execute("DELETE FROM records WHERE seq = 3")
    kinds = {(p.kind, p.seq) for p in verify(log).problems}
    assert (ProblemKind.EDITED, 2) in kinds
    assert (ProblemKind.DELETED, 3) in kinds
    assert second["seq"] == 2


def test_a_reader_cannot_write_and_a_missing_database_is_not_found(log, pg_server):  # noqa: F811
    with (
        PostgresAuditLog.open_readonly(log.url) as reader,
        pytest.raises(AuditError, match="read-only"),
    ):
        reader.append(SCENARIOS.record("hold"))
    with pytest.raises(AuditNotFound):
        PostgresAuditLog.open_readonly(pg_server.database_url("no_such_log"))


def test_two_processes_appending_at_once_leave_one_intact_chain(log, pg_url):  # noqa: F811
    n, shared = 150, 40
    context = multiprocessing.get_context("spawn")
    ready, out = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=append_worker, args=(pg_url, runner, n, shared, ready, out))
        for runner in ("w1", "w2")
    ]
    for worker in workers:
        worker.start()
    results = sorted(out.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    # Every own record once, every shared record exactly once (the other try was refused).
    assert sum(appended for _, appended, _ in results) == 2 * n + shared
    assert sum(refused for _, _, refused in results) == shared
    assert log.count() == 2 * n + shared
    ids = [record["id"] for record in log.records()]
    assert len(set(ids)) == len(ids)
    assert set(log.runners()) == {"w1", "w2"}
    report = verify(log)
    assert report.ok, str(report)
    assert report.head_seq == 2 * n + shared
    # Interleaved, not one after the other: the chain alternates runners somewhere.
    runners = [row["runner"] for row in log.raw_rows()]
    assert sum(a != b for a, b in itertools.pairwise(runners)) > 2


def test_racing_approvals_of_one_decision_from_four_processes_record_exactly_one(log, pg_url):  # noqa: F811
    pending = log.append(SCENARIOS.record("pending"))
    context = multiprocessing.get_context("spawn")
    names = [f"approver-{i}" for i in range(4)]
    # All four connected before any appends: a race, not four start-ups one after the other.
    ready, out = context.Barrier(len(names)), context.Queue()
    workers = [
        context.Process(target=approve_worker, args=(pg_url, pending, name, ready, out))
        for name in names
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(out.get(timeout=120)[1] for _ in workers)
    for worker in workers:
        worker.join(60)
    assert outcomes == ["approved", "refused", "refused", "refused"]
    assert [r["kind"] for r in log.followups(pending["id"])] == ["approval"]
    assert log.pending_approvals(AS_OF) == []
    assert verify(log).ok


def test_a_writer_killed_mid_batch_leaves_no_partial_batch_and_the_other_carries_on(
    log,
    pg_url,  # noqa: F811
):
    batch, batches = 2_000, 6
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    victim = context.Process(target=batch_worker, args=(pg_url, "victim", batch, 50, out))
    survivor = context.Process(target=batch_worker, args=(pg_url, "survivor", batch, batches, out))
    victim.start()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        query = "SELECT count(*) FROM records WHERE runner = 'victim'"
        deadline = time.monotonic() + 120
        while conn.execute(query).fetchone()[0] < batch and time.monotonic() < deadline:
            time.sleep(0.02)
        survivor.start()
        # Killed while its backend holds an open transaction that has written rows.
        writing = (
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'signalops victim' "
            "AND backend_xid IS NOT NULL"
        )
        while not conn.execute(writing).fetchone()[0] and time.monotonic() < deadline:
            pass
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(30)
        assert out.get(timeout=120) == "survivor"
        survivor.join(60)
        killed = conn.execute(query).fetchone()[0]
    assert victim.exitcode == -signal.SIGKILL and survivor.exitcode == 0
    assert killed % batch == 0 and 0 < killed < 50 * batch  # whole batches only
    assert log.count() == killed + batch * batches
    report = verify(log)
    assert report.ok, str(report)
    assert report.head_seq == log.count()


def sqlite_log_with_history(path):
    with AuditLog(path) as lite:
        lite.remember_strategy(STRATEGY)
        pending = lite.append(SCENARIOS.record("pending"))
        for i, situation in enumerate(("buy", "blocked", "hold", "denied")):
            lite.append(SCENARIOS.record(situation, as_of=AS_OF + timedelta(hours=i + 1)))
        lite.append(approval(pending))
        text = io.StringIO()
        lite.export_jsonl(text)
        return text.getvalue(), lite.head()


def test_a_sqlite_log_copied_to_postgres_keeps_its_chain_hash_for_hash(log, tmp_path):
    exported, head = sqlite_log_with_history(tmp_path / "audit.db")
    with AuditLog.open_readonly(tmp_path / "audit.db") as source:
        assert copy_log(source, log).records == 6
    assert log.head() == head
    copied = io.StringIO()
    log.export_jsonl(copied)
    assert copied.getvalue() == exported
    report = verify(log)
    assert report.ok, str(report)
    assert log.strategy_document(STRATEGY.content_hash) is not None


def test_copying_an_edited_log_or_into_a_used_one_is_refused_and_writes_nothing(
    log,
    pg_server,  # noqa: F811
    tmp_path,
):
    path = tmp_path / "audit.db"
    sqlite_log_with_history(path)
    log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=9)))
    with AuditLog.open_readonly(path) as source, pytest.raises(AuditError, match="not empty"):
        copy_log(source, log)
    tamper(path, "DELETE FROM records WHERE seq = 3")
    with superuser(pg_server.url) as conn:
        conn.execute("CREATE DATABASE copy_target")
    target_url = pg_server.database_url("copy_target")
    with (
        PostgresAuditLog(target_url) as target,
        AuditLog.open_readonly(path) as source,
    ):
        with pytest.raises(AuditIntegrityError, match="nothing copied"):
            copy_log(source, target)
        assert target.count() == 0 and target.head() is None


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("postgresql://u:pw@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgresql://u@h/db?password=s3cret", "postgresql://u@h/db?password=***"),
        (
            "postgresql://u@h/db?sslmode=require&password=x&a=b",
            "postgresql://u@h/db?sslmode=require&password=***&a=b",
        ),
        ("host=h password='a b' user=x", "host=h password=*** user=x"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        # A '/', '#' or '?' in the password ends what a URL parser takes for the host: it was
        # shown whole ("postgresql://bob:s3cr/et@dbhost/db: cannot connect").
        ("postgresql://bob:s3cr/et@dbhost/db", "postgresql://***@dbhost/db"),
        ("postgresql://bob:s3cr#et@dbhost:5/db", "postgresql://***@dbhost:5/db"),
        ("postgresql://bob:s3cr?et@dbhost/db", "postgresql://***@dbhost/db"),
    ],
)
def test_a_password_in_the_user_part_a_query_or_a_keyword_never_reaches_a_message(
    given: str, shown: str
):
    assert redacted(given) == shown


def test_a_paper_fill_rolled_back_leaves_no_gap_in_the_ledgers_seq(log):
    """A sequence does not roll back: a fill undone (a runner killed inside its transaction)
    made the next one ``paper-2`` where a run never killed says ``paper-1``, as SQLite does."""
    from decimal import Decimal

    from signalops.execution.paper import PaperBroker
    from signalops.orders import Mode, OrderIntent, Side, client_order_id, decision_id

    def intent(tag: str) -> OrderIntent:
        decided = decision_id(f"strategy-hash-{tag}", "BTC", AS_OF, "paper")
        return OrderIntent(
            decision_id=decided, client_order_id=client_order_id(decided), strategy="S",
            asset="BTC", side=Side.BUY, quantity=Decimal("0.01"),
            reference_price=Decimal("20000"), notional=Decimal("200"), as_of=AS_OF,
            mode=Mode.PAPER,
        )  # fmt: skip

    broker = PaperBroker(log.paper_ledger(), created_at=AS_OF)
    with pytest.raises(RuntimeError), log.transaction():
        assert broker.execute(intent("undone"), as_of=AS_OF).venue_order_id == "paper-1"
        raise RuntimeError("killed before the commit")
    kept = PaperBroker(log.paper_ledger(), created_at=AS_OF)
    assert kept.execute(intent("kept"), as_of=AS_OF).venue_order_id == "paper-1"
    assert [row[0] for row in log.paper_ledger().fills_after(None)] == [1]


@pytest.mark.parametrize("seq", [0, -7])
def test_verify_finds_a_record_inserted_before_seq_1_whole_and_from_a_point(log, pg_url, seq):  # noqa: F811
    # The triggers refuse a row anywhere but at the chain head; the owner can turn them off,
    # as for an edit. A row before seq 1 is read by lookups and filters, and no walk read it
    # (it reads the seqs after its point, 0 at least).
    log.append(SCENARIOS.record("hold"))
    log.append(SCENARIOS.record("hold", as_of=AS_OF + timedelta(days=1)))
    earlier = verify(log)
    forged = "dec-" + "cd" * 12
    columns = (
        "kind, decision_id, recorded_at, as_of, strategy, strategy_hash, asset, verdict, mode, "
        "status, prev_hash, hash, body, runner"
    )
    with superuser(pg_url) as conn:
        conn.execute("ALTER TABLE records DISABLE TRIGGER USER")
        conn.execute(
            f"INSERT INTO records (seq, id, {columns}) SELECT %s, %s, {columns} FROM records "
            "WHERE seq = 2",
            [seq, forged],
        )
    assert forged in {row["id"] for row in log.raw_rows(-10)}
    whole = verify(log)
    again = verify(log, since=(earlier.head_seq, earlier.head_hash))
    assert [(p.kind, p.seq, p.id, p.message) for p in whole.problems] == [
        (
            ProblemKind.INSERTED,
            seq,
            forged,
            f"a record at seq {seq}, before seq 1, the chain's first",
        )
    ]
    assert again.problems == whole.problems
