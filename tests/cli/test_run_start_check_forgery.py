"""``signalops run`` does not start on a forged ledger or a forged point of the last check.

Regression tests. A run's first check reads the records after the point its last check ended
at (``<log>.verified.json``) and compares the paper ledger in full, but the fill records up to
that point were taken as they stood: a fill record and its ledger row edited to agree (the SELL
of 03-14 made 0.01455527 BTC instead of 0.02455527) passed, though ``audit verify`` found the
record EDITED and the account's cash off, and the run sold the 0.01 BTC the chain never held.
And the point itself was taken from the file: a point written by hand at the chain head let a
run start on a log a run had just refused. Now every fill record the start reads is checked
against its hash (and MAC), the record stating the account's cash after it too, and a signed
log's point carries a MAC under the log's key (a point without a valid one is not taken).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import invoke as run
from test_run_fail_closed import (
    SEE,
    daily_plan,
    killed_before_its_last_check,
    lines,
    replay,
    tamper,
)

from signalops.audit.signing import KEY_ENV
from signalops.errors import AuditIntegrityError
from signalops.pipeline import loop

KEY = "k3Yf0r-t3sts-0nly-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
REFUSED = "error: a.db FAILED verification, so the run did not start: "


@pytest.fixture(autouse=True)
def no_key(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(KEY_ENV, raising=False)
    return in_tmp


def head() -> tuple[int, str]:
    db = sqlite3.connect("a.db")
    seq, digest = db.execute("SELECT seq, hash FROM chain_head").fetchone()
    db.close()
    return seq, digest.hex() if isinstance(digest, bytes) else digest


def verify_problems() -> list[str]:
    """The problems ``signalops audit verify`` prints, as it prints them."""
    verified = run("audit", "verify", "--audit", "a.db")
    assert verified.exit_code == 1
    return [
        line
        for line in verified.stderr.splitlines()
        if not line.startswith(("note:", "audit log FAILED"))
    ]


def sell_of_0_01_less() -> None:
    """The SELL of 03-14 (fill record seq 9, ledger row 2) edited to sell 0.01 BTC less, in both
    places alike (the ledger row then agrees with the record)."""
    tamper(
        "DROP TRIGGER records_no_update; DROP TRIGGER paper_fills_append_only_update;"
        'UPDATE records SET body = replace(body, \'"quantity":"0.02455527"\', '
        '\'"quantity":"0.01455527"\') WHERE seq = 9;'
        "UPDATE paper_fills SET quantity = '0.01455527' WHERE seq = 2;"
    )


def test_a_fill_and_its_ledger_row_edited_to_agree_before_the_point_refuse_the_run(
    replay_dir: Path,
):
    assert replay(replay_dir, "2023-03-08", "2023-03-14").exit_code == 0  # BUY 03-10, SELL 03-14
    assert replay(replay_dir, "2023-03-15", "2023-03-15").exit_code == 0
    assert json.loads(Path("a.db.verified.json").read_text())["seq"] == 10  # past both fills
    sell_of_0_01_less()
    problems = verify_problems()
    assert problems == [
        "EDITED seq 9: the record does not match its hash",
        "LEDGER seq 9: the paper account's starting cash 10000 USDT does not give the cash the "
        "chain states after this fill: the chain states 10090.4750789638925701, the account "
        "replays to 9849.4608463638925701 (the chain's fills start from 10241.0142326)",
    ]

    result = replay(replay_dir, "2023-03-16", "2023-03-16")

    assert result.exit_code == 1
    assert result.stdout == ""  # it sold the 0.01 BTC the chain never held
    assert result.stderr == f"{REFUSED}{problems[0]}, and 1 more problem{SEE}"


def test_the_cash_a_record_states_is_checked_at_every_fill_before_the_point(replay_dir: Path):
    """The fill record re-sealed after the edit (its hash recomputed, as anyone can on an
    unsigned log; the next record's link to it is before the point, so not read): the record
    that states the account's cash after the fill (the decision sealed with it) still says what
    the broker counted."""
    assert replay(replay_dir, "2023-03-08", "2023-03-14").exit_code == 0
    assert replay(replay_dir, "2023-03-15", "2023-03-15").exit_code == 0
    assert replay(replay_dir, "2023-03-16", "2023-03-16").exit_code == 0
    assert json.loads(Path("a.db.verified.json").read_text())["seq"] == 11
    sell_of_0_01_less()
    tamper(f"UPDATE records SET hash = x'{resealed(9)}' WHERE seq = 9;")
    problems = verify_problems()
    assert problems[0].startswith("EDITED seq 9: changed and re-sealed: seq 10 links to ")
    assert problems[1:] == [
        "LEDGER seq 9: the paper account's starting cash 10000 USDT does not give the cash the "
        "chain states after this fill: the chain states 10090.4750789638925701, the account "
        "replays to 9849.4608463638925701 (the chain's fills start from 10241.0142326)",
    ]

    result = replay(replay_dir, "2023-03-17", "2023-03-17")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{REFUSED}{problems[1]}{SEE}"


def test_an_edited_starting_cash_is_named_at_the_first_fill_as_audit_verify_names_it(
    replay_dir: Path,
):
    """The start reads the statement of the last fill before the point; when it disagrees, the
    error names the first record that does, as ``audit verify`` does (a guard of that search:
    the start before this change read the first fill's statement, so it named it too)."""
    assert replay(replay_dir, "2023-03-08", "2023-03-14").exit_code == 0
    assert replay(replay_dir, "2023-03-15", "2023-03-15").exit_code == 0
    tamper(
        "DROP TRIGGER paper_account_append_only_update;"
        "UPDATE paper_account SET starting_cash = '20000';"
    )
    Path("signalops.yaml").write_text("paper:\n  starting_cash: 20000\n")  # as the ledger says
    problems = verify_problems()
    assert problems == [
        "LEDGER seq 4: the paper account's starting cash 20000 USDT does not give the cash the "
        "chain states after this fill: the chain states 9499.2499403858459503, the account "
        "replays to 19499.2499403858459503 (the chain's fills start from 10000)",
    ]

    result = replay(replay_dir, "2023-03-16", "2023-03-16")

    assert result.exit_code == 1
    assert result.stderr == f"{REFUSED}{problems[0]}{SEE}"


def resealed(seq: int) -> str:
    """The hash the record at ``seq`` has now, as its seal would be computed."""
    from signalops.audit.chain import record_hash
    from signalops.audit.store import AuditLog

    with AuditLog.open_readonly("a.db") as log:
        stored = log.stored_at(seq)
        assert stored is not None and stored.record is not None
        return record_hash(stored.record)


def test_a_point_written_by_hand_on_a_signed_log_is_not_taken(
    replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    killed_before_its_last_check(replay_dir, 10)  # so no check has read seq 1 since it was
    tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'SELL' WHERE seq = 1;")
    problem = "EDITED seq 1: indexed column verdict says 'SELL', the record says 'HOLD'"
    refused = replay(replay_dir, "2023-03-11", "2023-03-11")
    assert refused.stderr == f"{REFUSED}{problem}{SEE}"
    seq, digest = head()
    Path("a.db.verified.json").write_text(json.dumps({"seq": seq, "hash": digest}) + "\n")

    result = replay(replay_dir, "2023-03-11", "2023-03-11")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{REFUSED}{problem}{SEE}"


def test_a_signed_log_s_point_carries_its_mac_and_the_next_run_goes_on_from_it(
    replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(KEY_ENV, KEY)
    assert replay(replay_dir, "2023-03-08", "2023-03-10").exit_code == 0
    assert replay(replay_dir, "2023-03-11", "2023-03-11").exit_code == 0
    seq, digest = 5, _hash_at(5)  # the head: the second run's last check read its own record
    mac = hmac.new(KEY.encode(), f"verified:{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    assert json.loads(Path("a.db.verified.json").read_text()) == {
        "seq": seq,
        "hash": digest,
        "mac": mac,
    }
    tamper("DROP TRIGGER records_no_update; UPDATE records SET verdict = 'SELL' WHERE seq = 1;")
    result = replay(replay_dir, "2023-03-12", "2023-03-12")  # an edit before the point: not read
    assert result.exit_code == 0, result.stderr
    assert lines(result.stdout) == ["2023-03-12T00:00:00Z  1 decision: 1 BLOCKED"]


def _hash_at(seq: int) -> str:
    db = sqlite3.connect("a.db")
    (digest,) = db.execute("SELECT hash FROM records WHERE seq = ?", (seq,)).fetchone()
    db.close()
    return digest.hex() if isinstance(digest, bytes) else digest


def test_checks_between_cycles_compare_the_new_fills_and_an_old_row_edited_stops_the_run(
    replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Checked before every cycle: the fills of 03-10 and 03-14 are compared as they come (only
    the rows and records after the last check), and a ledger row edited by another connection
    (as at a sqlite3 prompt) while the run goes on is found by the next check, which compares
    the whole ledger again (a guard of the comparison from the last check: the checks before
    it compared the whole ledger after every fill)."""
    monkeypatch.setattr(loop, "CHECK_EVERY", 0.0)
    printed: list[str] = []

    def after(summary: loop.CycleSummary) -> None:
        printed.append(lines(summary.line())[0])
        if summary.as_of.day == 15:
            tamper(
                "DROP TRIGGER paper_fills_append_only_update;"
                "UPDATE paper_fills SET quantity = '1.02455527' WHERE seq = 1;"
            )

    with pytest.raises(AuditIntegrityError) as raised:
        loop.run_plan(daily_plan(replay_dir, 17), on_cycle=after)

    assert printed == [
        "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
        "2023-03-13T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 filled)",
        "2023-03-15T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)",
    ]
    assert str(raised.value) == (
        "a.db FAILED verification, so trading stopped before 2023-03-16T00:00:00Z: LEDGER seq 4: "
        "ledger row 1 differs: quantity 1.02455527 in the ledger, 0.02455527 in the record"
        + SEE.removesuffix("\n")
    )
