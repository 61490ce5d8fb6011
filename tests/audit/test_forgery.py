"""Issue 11: attacks on a log by someone who can write the file but does not hold the key.

Each attack is done the way an attacker would (plain sqlite3, triggers dropped, the chain
re-computed with the project's own sealing code, so the chain itself is flawless), then
``signalops audit verify`` must name it by kind. The same attacks on a log without a key show
what the chain alone cannot see (a forged append "by ceo@example.com" passes it).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from attacks import append_sealed, attacker, move_head, reseal_from, reseal_one
from audit_scenarios import AS_OF, SCENARIOS
from click.testing import Result
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.audit.record import build_followup
from signalops.audit.signing import KEY_ENV, SigningKey, checkpoint_path
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify as verify_report
from signalops.errors import AuditError

KEY = "k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
OTHER_KEY = "an0ther-k3y-0f-the-s4me-l3ngth-9f8e7d6c5b4a39281706"


def replayed_run(
    log: Path, replay_dir: Path, start: str = "2023-03-08", end: str = "2023-03-14"
) -> None:
    result = run(
        "run",
        str(STRATEGIES / "banking_crisis_dip.yaml"),
        "--replay",
        str(replay_dir),
        "--from",
        start,
        "--to",
        end,
        "--every",
        "1d",
        "--audit",
        str(log),
    )
    assert result.exit_code == 0, result.output


@pytest.fixture
def signed_log(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real log of seven replayed days (a paper BUY on 2023-03-10), written under KEY."""
    monkeypatch.setenv(KEY_ENV, KEY)
    log = tmp_path / "signed.db"
    replayed_run(log, replay_dir)
    return log


@pytest.fixture
def unsigned_log(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(KEY_ENV, raising=False)
    log = tmp_path / "unsigned.db"
    replayed_run(log, replay_dir)
    return log


def forge_approval(log: Path) -> None:
    """A correctly chained approval "by ceo@example.com" appended, with the head moved."""
    db = attacker(log)
    record = {
        "schema": "signalops.audit/1",
        "kind": "approval",
        "id": "approval-forged-1",
        "decision_id": "dec-forged",
        "approval_id": "apv-forged",
        "approved": True,
        "by": "ceo@example.com",
        "recorded_at": "2023-03-15T00:00:00Z",
    }
    append_sealed(db, [record])
    db.commit()
    db.close()


def verify(log: Path) -> Result:
    return run("audit", "verify", "--audit", str(log))


def kinds(result: Result) -> list[str]:
    lines = result.stderr.splitlines()
    return sorted(
        {line.split(" ", 1)[0] for line in lines if not line.startswith(("audit", "note"))}
    )


# --- the chain alone, and with the key -----------------------------------------------------------


def test_forged_append_with_the_head_moved_passes_the_chain_alone(unsigned_log: Path):
    forge_approval(unsigned_log)

    assert verify(unsigned_log).exit_code == 0  # why the key exists


def test_forged_append_with_the_head_moved_is_forged_under_the_key(signed_log: Path):
    forge_approval(signed_log)

    result = verify(signed_log)

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "FORGED seq 11: no MAC: not appended by a holder of the log's key (a forged append)\n"
    )
    assert result.stdout.startswith("head seq 11 ")  # the head the problems are relative to


def test_a_signed_log_verifies_and_prints_its_head(signed_log: Path):
    head = sqlite3.connect(signed_log).execute("SELECT seq, hash FROM chain_head").fetchone()

    result = verify(signed_log)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"ok 10 records, chain intact, MACs and checkpoints valid\nhead seq {head[0]} {head[1]}\n"
    )


def test_truncated_tail_with_the_head_rewritten_is_truncated(signed_log: Path):
    db = attacker(signed_log)
    db.execute("DELETE FROM records WHERE seq >= 8")
    move_head(db)
    db.commit()
    db.close()

    result = verify(signed_log)

    assert result.exit_code == 1
    assert kinds(result) == ["LEDGER", "TRUNCATED"]  # the cut took a fill record too
    assert "the log ends at seq 7, but a checkpoint made at " in result.stderr
    assert "signed seq 10: records were cut from the end" in result.stderr


def test_an_edited_fill_resealed_to_the_end_is_forged(signed_log: Path):
    db = attacker(signed_log)
    (fill_seq,) = db.execute("SELECT seq FROM records WHERE kind = 'fill'").fetchone()

    def bigger(body: dict[str, Any]) -> None:
        body["fill"]["quantity"] = "5"

    reseal_from(db, fill_seq, bigger)
    db.commit()
    db.close()

    result = verify(signed_log)

    assert result.exit_code == 1
    assert f"FORGED seq {fill_seq}: its MAC does not match" in result.stderr
    assert "REWRITTEN" in kinds(result)  # the last checkpoint names the old head
    assert "LEDGER" in kinds(result)  # and the ledger still says what was really filled


def test_a_head_moved_back_without_cutting_is_caught(signed_log: Path):
    db = attacker(signed_log)
    row = db.execute("SELECT seq, hash FROM records WHERE seq = 5").fetchone()
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", row)
    db.commit()
    db.close()

    result = verify(signed_log)

    assert result.exit_code == 1
    assert kinds(result) == ["INSERTED"]


def test_a_forged_ledger_row_is_a_ledger_problem_even_without_the_key(unsigned_log: Path):
    db = attacker(unsigned_log)
    row = list(db.execute("SELECT * FROM paper_fills ORDER BY seq DESC").fetchone())
    row[0], row[1], row[6] = None, "so-forged", "5"
    cursor = db.execute(f"INSERT INTO paper_fills VALUES ({', '.join('?' * len(row))})", row)
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER chain: ledger row {cursor.lastrowid} ({row[5]} 5 BTC at {row[7]}) has no fill "
        "record in the chain: a position the log never decided\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_an_edited_ledger_quantity_is_named(unsigned_log: Path):
    db = attacker(unsigned_log)
    db.execute("UPDATE paper_fills SET quantity = '5' WHERE seq = 1")
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert "ledger row 1 differs: quantity 5 in the ledger, 0.02455527 in the record" in (
        result.stderr
    )


def test_a_forged_ledger_row_placed_first_is_one_problem_not_a_cascade(unsigned_log: Path):
    # Before every real row in ledger order: the ledger and the chain are paired by client
    # order id, not by position, so the real rows still find their fills.
    db = attacker(unsigned_log)
    row = list(db.execute("SELECT * FROM paper_fills ORDER BY seq").fetchone())
    row[0], row[1] = 0, "so-forged"
    db.execute(f"INSERT INTO paper_fills VALUES ({', '.join('?' * len(row))})", row)
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER chain: ledger row 0 ({row[5]} {row[6]} BTC at {row[7]}) has no fill record in "
        "the chain: a position the log never decided\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_a_deleted_ledger_row_is_one_problem_at_its_fill(unsigned_log: Path):
    db = attacker(unsigned_log)
    (quantity,) = db.execute("SELECT quantity FROM paper_fills WHERE seq = 1").fetchone()
    (fill_seq,) = db.execute(
        "SELECT seq FROM records WHERE kind = 'fill' ORDER BY seq LIMIT 1"
    ).fetchone()
    db.execute("DELETE FROM paper_fills WHERE seq = 1")
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER seq {fill_seq}: the chain records a paper fill (BUY {quantity} BTC) that the "
        "ledger does not hold\n"
        "audit log FAILED verification: 1 problem\n"
    )


# --- the paper account: derived from what the chain states ---------------------------------------


def first_fill(log: Path) -> int:
    with sqlite3.connect(log) as conn:
        return int(
            conn.execute("SELECT seq FROM records WHERE kind = 'fill' ORDER BY seq").fetchone()[0]
        )


def test_an_edited_starting_cash_is_a_ledger_problem_naming_what_the_chain_states(
    signed_log: Path,
):
    # The audit's attack: triggers dropped, the account given a million; MACs and checkpoints
    # all hold (no record changed), but the first fill's decision states the cash after it.
    db = attacker(signed_log)
    db.execute("UPDATE paper_account SET starting_cash = '1000000'")
    db.commit()
    db.close()

    result = verify(signed_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER seq {first_fill(signed_log)}: the paper account's starting cash 1000000 USDT "
        "does not give the cash the chain states after this fill: the chain states "
        "9499.2499403858459503, the account replays to 999499.2499403858459503 (the chain's "
        "fills start from 10000)\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_an_edited_account_currency_is_a_ledger_problem(unsigned_log: Path):
    db = attacker(unsigned_log)
    db.execute("UPDATE paper_account SET quote = 'EUR'")
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER seq {first_fill(unsigned_log)}: the paper account is in EUR, but the chain "
        "states USDT\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_a_deleted_account_row_is_a_ledger_problem(unsigned_log: Path):
    db = attacker(unsigned_log)
    db.execute("DELETE FROM paper_account")
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert result.stderr == (
        f"LEDGER seq {first_fill(unsigned_log)}: the paper ledger has no account row, but the "
        "chain states the account's cash after this fill (9499.2499403858459503 USDT)\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_an_account_no_fill_states_yet_verifies_with_a_note(tmp_path: Path, replay_dir: Path):
    log = tmp_path / "quiet.db"
    replayed_run(log, replay_dir, end="2023-03-09")  # two HOLDs: the account opened, no fill

    result = verify(log)

    assert result.exit_code == 0
    assert result.stdout.startswith("ok 2 records, chain intact\nhead seq 2 ")
    assert result.stderr == (
        "note: the paper account (starting cash 10,000.00 USDT) is not covered by the chain yet: "
        "no record in the log states its cash after a fill\n"
    )


def test_fills_whose_records_do_not_state_the_account_verify_with_a_note(tmp_path: Path):
    # Appended through the API, with a decision that reports its paper fill without the
    # broker's details: the fill is checked against its row, the account cannot be.
    path = tmp_path / "api.db"
    with AuditLog(path, key=None) as log:
        decision = SCENARIOS.record("buy")
        fill = decision["execution"]["fill"]
        ledger = log.paper_ledger()
        with log.transaction():
            ledger.create()
            ledger.open_account("5000", "USDT", "2023-03-01T00:00:00Z")
            log.append(decision)
            log.append(
                build_followup(
                    "fill", decision_id=decision["decision_id"], recorded_at=AS_OF,
                    client_order_id=fill["client_order_id"], fill=fill,
                )
            )  # fmt: skip
            ledger.insert_fill(
                (
                    fill["client_order_id"], decision["decision_id"], "S", "BTC", "BUY",
                    fill["quantity"], fill["price"], fill["fee"], fill["price"], "10", "5",
                    fill["at"], fill["at"],
                )
            )  # fmt: skip

    result = verify(path)

    assert result.exit_code == 0
    assert result.stderr == (
        "note: the paper account (starting cash 5,000.00 USDT) is not covered by the chain yet: no "
        "record in the log states its cash after a fill\n"
    )


def test_an_edited_strategy_document_is_a_strategy_problem(unsigned_log: Path):
    db = attacker(unsigned_log)
    (document,) = db.execute("SELECT document FROM strategies").fetchone()
    db.execute("UPDATE strategies SET document = ?", (document.replace("30", "99", 1),))
    db.commit()
    db.close()

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert kinds(result) == ["STRATEGY"]
    assert "does not hash to its content hash: it was edited" in result.stderr


def test_a_deleted_checkpoint_file_is_reported(signed_log: Path):
    checkpoint_path(signed_log).unlink()

    result = verify(signed_log)

    assert result.exit_code == 1
    assert kinds(result) == ["CHECKPOINT"]


def test_a_forged_checkpoint_line_is_reported(signed_log: Path):
    path = checkpoint_path(signed_log)
    good = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    path.write_text(
        path.read_text(encoding="utf-8") + json.dumps({**good, "seq": 99}) + "\n",
        encoding="utf-8",
    )

    result = verify(signed_log)

    assert result.exit_code == 1
    assert kinds(result) == ["CHECKPOINT"]
    assert "its MAC does not match the key (forged)" in result.stderr


def test_a_signed_log_verified_without_the_key_says_what_was_not_checked(
    signed_log: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv(KEY_ENV)
    key_id = SigningKey.from_secret(KEY).id

    result = verify(signed_log)

    assert result.exit_code == 0
    assert result.stderr == (
        f"note: signed log (key id {key_id}): set SIGNALOPS_AUDIT_KEY to check its MACs and "
        "checkpoints\n"
    )


def test_the_key_on_an_unsigned_log_is_unsigned(unsigned_log: Path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)

    result = verify(unsigned_log)

    assert result.exit_code == 1
    assert kinds(result) == ["UNSIGNED"]


# --- who may append -------------------------------------------------------------------------------


def test_a_signed_log_refuses_a_writer_without_the_key(signed_log: Path, monkeypatch):
    monkeypatch.delenv(KEY_ENV)

    with pytest.raises(AuditError, match="this log is signed"):
        AuditLog(signed_log)


def test_a_signed_log_refuses_a_writer_with_another_key(signed_log: Path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, OTHER_KEY)

    with pytest.raises(AuditError, match=r"signed with key id .*, but SIGNALOPS_AUDIT_KEY is"):
        AuditLog(signed_log)


def test_an_unsigned_log_with_records_is_not_signed_half_way(unsigned_log: Path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)

    with pytest.raises(AuditError, match="holds 10 records written without SIGNALOPS_AUDIT_KEY"):
        AuditLog(unsigned_log)


def test_a_short_key_is_refused_with_how_to_make_one(monkeypatch, tmp_path: Path):
    monkeypatch.setenv(KEY_ENV, "short")

    result = run("audit", "verify", "--audit", str(tmp_path / "x.db"))

    assert result.exit_code == 1
    assert "SIGNALOPS_AUDIT_KEY is too short" in result.stderr or "no such audit log" in (
        result.stderr
    )


def test_the_key_never_enters_the_log_or_the_checkpoints(signed_log: Path):
    assert KEY.encode() not in signed_log.read_bytes()
    assert KEY not in checkpoint_path(signed_log).read_text(encoding="utf-8")


# --- why checks the record it shows --------------------------------------------------------------


def decided_on(log: Path, day: date) -> int:
    """The seq of the BTC decision of ``day``."""
    with AuditLog.open_readonly(log) as reader:
        (found,) = reader.decisions(asset="BTC", since=day, until=day)
    return int(found["seq"])


def found_id(log: Path, seq: int) -> str:
    with sqlite3.connect(log) as conn:
        return str(conn.execute("SELECT id FROM records WHERE seq = ?", (seq,)).fetchone()[0])


def why_filled(log: Path) -> Result:
    return run("why", "BTC", "--at", "2023-03-10", "--audit", str(log))


def test_why_on_a_sound_record_prints_no_warning(signed_log: Path):
    result = why_filled(signed_log)

    assert (result.exit_code, result.stderr) == (0, "")


def test_why_on_a_resealed_record_warns_loudly_and_exits_1(signed_log: Path):
    seq = decided_on(signed_log, date(2023, 3, 10))
    db = attacker(signed_log)
    reseal_from(db, seq, lambda body: body["order"].update(quantity="5"))
    db.commit()
    db.close()

    result = why_filled(signed_log)

    assert result.exit_code == 1
    assert result.stdout  # the explanation is still shown, under the warning
    fill = f"fill-{found_id(signed_log, seq).removeprefix('dec-')}-1"
    assert result.stderr == (  # re-sealed from the decision on: its fill too
        f"WARNING: record seq {seq} does not verify; do not trust the explanation above:\n"
        "  - its MAC does not match: the record was forged or re-sealed after an edit\n"
        "  run 'signalops audit verify' for the whole log\n"
        f"WARNING: record seq {seq + 1} does not verify; do not trust the explanation above:\n"
        f"  - the fill {fill}: its MAC does not match: the record was forged or re-sealed "
        "after an edit\n"
        "  run 'signalops audit verify' for the whole log\n"
    )


def test_why_on_a_record_resealed_alone_names_the_broken_link(unsigned_log: Path):
    seq = decided_on(unsigned_log, date(2023, 3, 10))
    db = attacker(unsigned_log)
    reseal_one(db, seq, lambda body: body["order"].update(quantity="5"))
    db.commit()
    db.close()

    result = why_filled(unsigned_log)

    assert result.exit_code == 1
    assert f"  - the next record (seq {seq + 1}) links to another hash: it was re-sealed\n" in (
        result.stderr
    )


def forge_approval_of(log: Path, seq: int) -> None:
    """A correctly chained approval "by ceo@example.com" of the real decision at ``seq``."""
    db = attacker(log)
    (decision,) = db.execute("SELECT id FROM records WHERE seq = ?", (seq,)).fetchone()
    record = {
        "schema": "signalops.audit/1",
        "kind": "approval",
        "id": "approval-forged-1",
        "decision_id": decision,
        "approval_id": "apv-forged",
        "approved": True,
        "by": "ceo@example.com",
        "recorded_at": "2023-03-10T00:05:00Z",
    }
    append_sealed(db, [record])
    db.commit()
    db.close()


def test_why_with_a_forged_approval_of_the_decision_warns_loudly_and_exits_1(signed_log: Path):
    forge_approval_of(signed_log, decided_on(signed_log, date(2023, 3, 10)))

    result = why_filled(signed_log)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "BTC at 2023-03-10T00:00:00Z: BUY approved by ceo@example.com, not filled yet"
    )
    assert lines[-1] == "  2023-03-10T00:05:00Z  approved by ceo@example.com"
    assert result.stderr == (
        "WARNING: record seq 11 does not verify; do not trust the explanation above:\n"
        "  - the approval approval-forged-1: no MAC: not appended by a holder of the log's key "
        "(a forged append)\n"
        "  run 'signalops audit verify' for the whole log\n"
    )


def test_why_with_a_resealed_fill_warns_loudly_and_exits_1(signed_log: Path):
    seq = first_fill(signed_log)
    db = attacker(signed_log)
    reseal_from(db, seq, lambda body: body["fill"].update(quantity="5"))
    db.commit()
    db.close()
    fill = found_id(signed_log, seq)

    result = why_filled(signed_log)

    assert result.exit_code == 1
    assert "  filled 5 BTC at 20,372.40 USDT" in result.stdout  # what the forger wanted shown
    assert result.stderr == (
        f"WARNING: record seq {seq} does not verify; do not trust the explanation above:\n"
        f"  - the fill {fill}: its MAC does not match: the record was forged or re-sealed after "
        "an edit\n"
        f"  - the fill {fill}: the paper ledger's row 1 for it differs: quantity 0.02455527 in "
        "the ledger, 5 in the record\n"
        "  run 'signalops audit verify' for the whole log\n"
    )


def test_why_with_a_resealed_fill_without_the_key_names_the_ledger_row(unsigned_log: Path):
    # No MAC to miss: the ledger still holds what was really filled.
    seq = first_fill(unsigned_log)
    db = attacker(unsigned_log)
    reseal_from(db, seq, lambda body: body["fill"].update(quantity="5"))
    db.commit()
    db.close()

    result = run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", str(unsigned_log))

    assert result.exit_code == 1
    fill = found_id(unsigned_log, seq)
    assert json.loads(result.stdout)["integrity_problems"] == [
        f"the fill {fill}: the paper ledger's row 1 for it differs: quantity 0.02455527 in the "
        "ledger, 5 in the record"
    ]


# --- incremental verification (the dashboard's) --------------------------------------------------


def test_verifying_since_an_ok_head_reads_only_the_new_records(signed_log: Path, replay_dir: Path):
    with AuditLog.open_readonly(signed_log) as log:
        first = verify_report(log)
    assert first.ok
    replayed_run(
        signed_log, replay_dir, start="2023-03-15", end="2023-03-21"
    )  # seven more days, same key

    with AuditLog.open_readonly(signed_log) as log:
        again = verify_report(log, since=(first.head_seq, first.head_hash))
        full = verify_report(log)

    assert again.ok and full.ok
    assert again.head_seq == full.head_seq > first.head_seq
    assert again.checked == full.checked - first.checked


def test_verifying_since_a_head_catches_a_forged_append_after_it(signed_log: Path):
    with AuditLog.open_readonly(signed_log) as log:
        first = verify_report(log)
    forge_approval(signed_log)

    with AuditLog.open_readonly(signed_log) as log:
        again = verify_report(log, since=(first.head_seq, first.head_hash))

    assert [p.kind.value for p in again.problems] == ["FORGED"]
    assert again.checked == 1


def test_a_since_point_that_no_longer_holds_falls_back_to_the_whole_log(signed_log: Path):
    with AuditLog.open_readonly(signed_log) as log:
        first = verify_report(log)
    db = attacker(signed_log)
    reseal_from(db, 3, lambda body: body.update(recorded_at="2023-03-01T00:00:00Z"))
    db.commit()
    db.close()

    with AuditLog.open_readonly(signed_log) as log:
        again = verify_report(log, since=(first.head_seq, first.head_hash))

    assert again.checked == first.checked  # the whole log, because seq 10's hash changed
    assert "FORGED" in {p.kind.value for p in again.problems}


def test_verifying_since_an_ok_head_still_checks_the_account(signed_log: Path):
    with AuditLog.open_readonly(signed_log) as log:
        first = verify_report(log)
    db = attacker(signed_log)
    db.execute("UPDATE paper_account SET starting_cash = '1000000'")
    db.commit()
    db.close()

    with AuditLog.open_readonly(signed_log) as log:
        again = verify_report(log, since=(first.head_seq, first.head_hash))

    assert again.checked == 0  # no new record: only the earlier fills, by their kind's index
    assert [(p.kind.value, p.seq) for p in again.problems] == [("LEDGER", first_fill(signed_log))]


# --- a witness elsewhere -----------------------------------------------------------------------


def test_each_checkpoint_is_posted_to_the_witness_when_one_is_set(
    tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    posted: list[dict[str, Any]] = []

    def witness(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        posted.append({"url": str(request.url), "body": json.loads(request.read())})
        return httpx.Response(204)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", witness)  # the socket boundary
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("SIGNALOPS_AUDIT_WITNESS_URL", "https://witness.example.test/heads")
    log = tmp_path / "witnessed.db"

    replayed_run(log, replay_dir)

    on_disk = checkpoint_path(log).read_text(encoding="utf-8").splitlines()
    assert [p["url"] for p in posted] == ["https://witness.example.test/heads"] * len(on_disk)
    assert [p["body"] for p in posted] == [json.loads(line) for line in on_disk]


def test_a_witness_that_is_down_is_logged_and_the_run_goes_on(
    tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    def down(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", down)
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("SIGNALOPS_AUDIT_WITNESS_URL", "https://witness.example.test/heads")
    log = tmp_path / "witnessed.db"

    replayed_run(log, replay_dir)

    assert checkpoint_path(log).exists()
    assert "not posted to the witness: ConnectError" in caplog.text
