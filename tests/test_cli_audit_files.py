"""Which files the commands open: readers never create or touch a log, run may create one.

Regression tests for issue 9: a missing audit log used to "verify" (and be created), a file that
is not a log gave a traceback, and a deeply nested YAML file stalled ``validate`` in PyYAML.
Every case goes through the command line and checks the exact output and exit status, then
that the files on disk are as they were.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.strategy._yaml import MAX_DEPTH

READ_COMMANDS = [
    pytest.param(["audit", "verify"], id="audit_verify"),
    pytest.param(["decisions"], id="decisions"),
    pytest.param(["why", "BTC", "--at", "2023-03-10"], id="why"),
    pytest.param(["approvals"], id="approvals"),
    pytest.param(["audit", "export", "out.jsonl"], id="audit_export"),
    pytest.param(["dashboard"], id="dashboard"),  # refused before any server starts
]
TOO_DEEP = f"the document is nested too deeply (more than {MAX_DEPTH} levels)"


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> bytes:
    """The bytes of a real audit log: five daily cycles of a replayed strategy."""
    log = tmp_path_factory.mktemp("real") / "real.db"
    result = run(
        "run",
        str(STRATEGIES / "banking_crisis_dip.yaml"),
        "--replay",
        str(replay_dir),
        "--from",
        "2023-03-08",
        "--to",
        "2023-03-12",
        "--every",
        "1d",
        "--audit",
        str(log),
    )
    assert result.exit_code == 0, result.output
    return log.read_bytes()


# --- a missing log ------------------------------------------------------------------------------


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_read_command_on_a_missing_log_says_so_and_creates_nothing(in_tmp: Path, command):
    result = run(*command, "--audit", "typo/nope.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "error: typo/nope.db: no such audit log\n"
    assert list(in_tmp.iterdir()) == []  # neither the log, nor its folder, nor an export


@pytest.mark.parametrize("command", READ_COMMANDS)
def test_read_command_without_audit_option_names_the_default_log_it_did_not_find(
    in_tmp: Path, command
):
    result = run(*command)

    assert result.exit_code == 1
    assert result.stderr == "error: signalops.db: no such audit log\n"
    assert list(in_tmp.iterdir()) == []


# --- a file that is not a log -------------------------------------------------------------------


def _foreign_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE prices (asset TEXT, price REAL)")
    db.close()


NOT_LOGS = {
    "some.csv": (
        lambda path, real: path.write_bytes(b"time,asset,price\n2023-03-10,BTC,20000\n"),
        "file is not a database",
    ),
    "random.bin": (
        lambda path, real: path.write_bytes(random.Random(9).randbytes(5000)),
        "file is not a database",
    ),
    "truncated.db": (
        lambda path, real: path.write_bytes(real[:3000]),
        "database disk image is malformed",
    ),
    "foreign.db": (
        lambda path, real: _foreign_sqlite(path),
        "no chain_head, records, strategies tables",
    ),
}


@pytest.mark.parametrize("command", READ_COMMANDS)
@pytest.mark.parametrize("name", sorted(NOT_LOGS))
def test_read_command_on_a_file_that_is_not_a_log_says_why_and_leaves_it_as_it_was(
    in_tmp: Path, real_log: bytes, name: str, command
):
    make, reason = NOT_LOGS[name]
    make(in_tmp / name, real_log)
    before = listing(in_tmp)

    result = run(*command, "--audit", name)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {name}: not a SignalOps audit log ({reason})\n"
    assert listing(in_tmp) == before  # same bytes, no -wal, -shm or export


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["audit", "verify"], id="audit_verify"),
        pytest.param(["decisions"], id="decisions"),
        pytest.param(["why", "BTC", "--at", "2023-03-10"], id="why"),
        pytest.param(["approvals"], id="approvals"),
        pytest.param(["audit", "replay", "--all"], id="audit_replay"),
    ],
)
def test_read_command_on_a_log_leaves_its_folder_as_it_was(
    in_tmp: Path, real_log: bytes, command: list[str]
):
    # SQLite gives a WAL log -wal and -shm files even when it only reads it; the reader's
    # close takes them away (regression: every read left them beside the log).
    (in_tmp / "audit.db").write_bytes(real_log)
    before = listing(in_tmp)

    result = run(*command, "--audit", "audit.db")

    assert result.exit_code == 0, result.stderr
    assert listing(in_tmp) == before  # same bytes, no -wal or -shm


def test_a_reader_closing_while_a_writer_has_the_log_open_leaves_the_writers_files(
    in_tmp: Path, real_log: bytes
):
    from signalops.audit.store import AuditLog

    (in_tmp / "audit.db").write_bytes(real_log)
    reader = AuditLog.open_readonly(in_tmp / "audit.db")  # its open makes -wal and -shm
    with AuditLog(in_tmp / "audit.db") as writer:
        assert reader.count() == writer.count() > 0
        reader.close()
        assert (in_tmp / "audit.db-wal").exists() and (in_tmp / "audit.db-shm").exists()
        assert writer.count() == len(list(writer.records()))  # still reads its log
    assert listing(in_tmp) == {"audit.db": real_log}  # the writer's own close took them away


def test_a_reader_given_up_while_another_program_writes_the_file_leaves_that_programs_wal(
    in_tmp: Path, real_log: bytes
):
    from signalops.audit.store import AuditLog

    (in_tmp / "audit.db").write_bytes(real_log)
    reader = AuditLog.open_readonly(in_tmp / "audit.db")  # its open makes -wal and -shm
    other = sqlite3.connect(in_tmp / "audit.db")  # e.g. a program pointed at the same file
    other.execute("CREATE TABLE notes (text)")
    other.execute("INSERT INTO notes VALUES ('committed by the other program')")
    other.commit()  # in the WAL the reader's open made

    reader._discard()  # what a reader does when the file turns out not to be a (sound) log

    fresh = sqlite3.connect(in_tmp / "audit.db")
    assert fresh.execute("SELECT text FROM notes").fetchall() == [
        ("committed by the other program",)
    ]  # the WAL was not taken from under the other program (it was, before)
    fresh.close()
    other.close()


def test_a_reader_of_a_log_moved_away_meanwhile_does_not_make_an_empty_one(
    in_tmp: Path, real_log: bytes
):
    from signalops.audit.store import AuditLog

    (in_tmp / "audit.db").write_bytes(real_log)
    reader = AuditLog.open_readonly(in_tmp / "audit.db")
    assert reader.count() > 0
    (in_tmp / "audit.db").rename(in_tmp / "rotated.db")

    reader.close()

    assert not (in_tmp / "audit.db").exists()


def in_memory(log: bytes) -> sqlite3.Connection:
    """A read-only look at a log's bytes (a WAL-mode header is set to rollback for the copy)."""
    probe = sqlite3.connect(":memory:")
    probe.deserialize(log[:18] + b"\x01\x01" + log[20:])
    return probe


def damage_records_page(log: bytes) -> bytes:
    """The log with the type byte of its ``records`` table's root page overwritten.

    Found through the schema, not a byte offset, so the damage is the same whatever the paths
    recorded in the log (a byte cut lands in a b-tree page or in a record body by chance).
    """
    page_size = int.from_bytes(log[16:18], "big")
    probe = in_memory(log)
    (root,) = probe.execute("SELECT rootpage FROM sqlite_master WHERE name = 'records'").fetchone()
    probe.close()
    damaged = bytearray(log)
    damaged[(root - 1) * page_size + (100 if root == 1 else 0)] = 0x7F  # no such page type
    return bytes(damaged)


def damage_last_body(log: bytes) -> tuple[bytes, int]:
    """The log with the last record's body no longer JSON (same length), and that record's seq."""
    probe = in_memory(log)
    seq, body = probe.execute("SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    probe.close()
    raw = body.encode("utf-8") if isinstance(body, str) else body  # a deflated body: bytes
    assert log.count(raw[:64]) == 1  # the body's first bytes are stored once, in one page
    at = log.index(raw[:64])
    return log[:at] + b"#" + log[at + 1 :], seq


@pytest.mark.parametrize("command", [["audit", "verify"], ["audit", "export", "out.jsonl"]])
def test_log_with_a_damaged_table_page_is_reported_when_read_and_nothing_is_left_behind(
    in_tmp: Path, real_log: bytes, command
):
    (in_tmp / "cut.db").write_bytes(damage_records_page(real_log))
    before = listing(in_tmp)

    result = run(*command, "--audit", "cut.db")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: cut.db: not a SignalOps audit log (database disk image is malformed)\n"
    )
    assert listing(in_tmp) == before


def test_verify_names_a_record_whose_body_was_damaged(in_tmp: Path, real_log: bytes):
    damaged, seq = damage_last_body(real_log)
    (in_tmp / "cut.db").write_bytes(damaged)

    result = run("audit", "verify", "--audit", "cut.db")

    assert result.exit_code == 1
    assert result.stderr == (
        f"EDITED seq {seq}: the body is not a JSON record\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_export_refuses_a_damaged_record_and_leaves_no_partial_file(in_tmp: Path, real_log: bytes):
    damaged, seq = damage_last_body(real_log)
    (in_tmp / "cut.db").write_bytes(damaged)

    result = run("audit", "export", "out.jsonl", "--audit", "cut.db")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: record seq {seq} is damaged (its body is not a JSON record);"
        " `signalops audit verify` lists every problem\n"
    )
    assert (in_tmp / "cut.db").read_bytes() == damaged
    assert sorted(p.name for p in in_tmp.glob("out.jsonl*")) == []


def test_read_commands_on_a_real_log_still_work(in_tmp: Path, real_log: bytes):
    (in_tmp / "real.db").write_bytes(real_log)

    verified = run("audit", "verify", "--audit", "real.db")
    exported = run("audit", "export", "out.jsonl", "--audit", "real.db")

    head = sqlite3.connect(in_tmp / "real.db").execute("SELECT hash FROM chain_head").fetchone()[0]
    assert (verified.exit_code, verified.stdout) == (
        0,
        f"ok 7 records, chain intact\nhead seq 7 {head}\n",
    )
    assert (exported.exit_code, exported.stdout) == (0, "7 records written to out.jsonl\n")
    assert len((in_tmp / "out.jsonl").read_text(encoding="utf-8").splitlines()) == 7
    assert (in_tmp / "real.db").read_bytes() == real_log


def test_a_usage_error_is_reported_before_the_log_is_looked_for(in_tmp: Path):
    result = run("why", "BTC", "--audit", "nope.db")

    assert result.exit_code == 1
    assert result.stderr == "error: give a decision id, or an asset with --at DATE\n"


# --- commands that write: run creates the log, answers need one ---------------------------------


def test_run_creates_a_missing_log_and_its_folder(in_tmp: Path, replay_dir: Path):
    result = run(
        "run",
        str(STRATEGIES / "banking_crisis_dip.yaml"),
        "--replay",
        str(replay_dir),
        "--from",
        "2023-03-10",
        "--audit",
        "state/new.db",
    )

    assert result.exit_code == 0, result.output
    assert run("audit", "verify", "--audit", "state/new.db").stdout.startswith(
        "ok 2 records, chain intact\nhead seq 2 "  # the decision and its paper fill
    )


def test_run_with_a_usage_error_creates_no_log(in_tmp: Path, replay_dir: Path):
    strategy = str(STRATEGIES / "banking_crisis_dip.yaml")

    result = run("run", strategy, "--replay", str(replay_dir), "--audit", "new.db")

    assert result.exit_code == 1
    assert result.stderr == "error: --replay needs --from (and optionally --to and --every)\n"
    assert list(in_tmp.iterdir()) == []


def test_a_replay_with_every_but_no_end_is_refused_and_creates_no_log(
    in_tmp: Path, replay_dir: Path
):
    """It ran one cycle at --from and exited 0, --every unused."""
    strategy = str(STRATEGIES / "banking_crisis_dip.yaml")

    result = run(
        "run", strategy, "--replay", str(replay_dir), "--from", "2023-06-25", "--every", "1d",
        "--audit", "new.db",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == "error: --every with --replay needs --to (the last decision time)\n"
    assert list(in_tmp.iterdir()) == []


# Commands that write to a log a run made: a mistyped path is refused as readers refuse it (they
# made an empty log, then blamed the approval: "no pending approval 'apv-...'", or the config).
TELEGRAM_CONFIG = (
    "notify:\n"
    "  webhooks: [{kind: telegram, url_env: SIGNALOPS_TELEGRAM_TOKEN, chat_id: '-100'}]\n"
    "  telegram: {allowed_chat_ids: [-100]}\n"
)
ANSWERING_COMMANDS = [
    pytest.param(["approve", "apv-000000000000000000000000"], id="approve"),
    pytest.param(["reject", "apv-000000000000000000000000", "--note", "no"], id="reject"),
    pytest.param(["resume", "--note", "venue back"], id="resume"),
    pytest.param(["telegram", "--once", "--config", "telegram.yaml"], id="telegram"),
]


@pytest.mark.parametrize("command", ANSWERING_COMMANDS)
def test_answering_commands_refuse_a_missing_log_and_create_nothing(
    in_tmp: Path, command, monkeypatch: pytest.MonkeyPatch
):
    (in_tmp / "telegram.yaml").write_text(TELEGRAM_CONFIG)
    monkeypatch.setenv("SIGNALOPS_TELEGRAM_TOKEN", "1:fake")

    result = run(*command, "--audit", "typo/nope.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "error: typo/nope.db: no such audit log\n"
    assert listing(in_tmp) == {"telegram.yaml": TELEGRAM_CONFIG.encode()}
    assert not (in_tmp / "typo").exists()


def test_telegram_checks_its_config_before_the_log_and_creates_nothing(in_tmp: Path):
    result = run("telegram", "--once", "--audit", "typo.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: no telegram webhook in the config's notify: webhooks (its bot token)\n"
    )
    assert list(in_tmp.iterdir()) == []


@pytest.mark.parametrize(
    "answer", [["approve"], ["reject", "--note", "no"]], ids=["approve", "reject"]
)
def test_approve_and_reject_on_an_existing_log_say_what_is_not_pending(
    in_tmp: Path, real_log: bytes, answer
):
    (in_tmp / "real.db").write_bytes(real_log)

    result = run(*answer, "apv-000000000000000000000000", "--audit", "real.db")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: no pending approval 'apv-000000000000000000000000' (see 'signalops approvals')\n"
    )


# --- nesting past the limit ---------------------------------------------------------------------


def _block_mappings(levels: int) -> str:
    return (
        "strategy:\n"
        + "".join("  " * i + f"k{i}:\n" for i in range(1, levels))
        + ("  " * levels + "v: 1\n")
    )


DEEP = {
    "flow": (
        "strategy: " + "[" * 5000 + "]" * 5000 + "\n",
        f"flow.yaml:1:{11 + MAX_DEPTH}: " + "[0]" * MAX_DEPTH,
    ),
    "block": (
        _block_mappings(300),
        f"block.yaml:{MAX_DEPTH + 1}:{2 * MAX_DEPTH + 1}: "
        + ".".join(f"k{i}" for i in range(1, MAX_DEPTH)),
    ),
}


def _composer_depths(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The nesting depth of each node PyYAML composes from now on. Its composer recurses once
    per level: a deep document must be refused before it goes deeper than the limit, which
    says "at once" without timing anything."""
    depths: list[int] = []
    compose = yaml.composer.Composer.compose_node
    level = [0]

    def measured(self: yaml.composer.Composer, parent: object, index: object) -> object:
        level[0] += 1
        depths.append(level[0])
        try:
            return compose(self, parent, index)
        finally:
            level[0] -= 1

    monkeypatch.setattr(yaml.composer.Composer, "compose_node", measured)
    return depths


@pytest.mark.parametrize("style", sorted(DEEP))
def test_validate_refuses_a_strategy_nested_past_the_limit_at_once(
    in_tmp: Path, style: str, monkeypatch: pytest.MonkeyPatch
):
    text, where = DEEP[style]
    (in_tmp / f"{style}.yaml").write_text(text, encoding="utf-8")
    depths = _composer_depths(monkeypatch)

    result = run("validate", f"{style}.yaml")

    assert 0 < max(depths) <= MAX_DEPTH + 1  # PyYAML never went past the limit
    assert result.exit_code == 1
    assert result.stdout == "1 file: 0 valid, 1 invalid (1 error)\n"
    first, source, caret = result.stderr.splitlines()
    assert first == f"error: {where}: {TOO_DEEP}"
    assert source == "  " + text.splitlines()[int(where.split(":")[1]) - 1]
    assert caret == "  " + " " * (int(where.split(":")[2]) - 1) + "^"


@pytest.mark.parametrize("style", sorted(DEEP))
def test_a_config_nested_past_the_limit_is_an_error_at_once(
    in_tmp: Path, style: str, monkeypatch: pytest.MonkeyPatch
):
    text, _ = DEEP[style]
    (in_tmp / "deep.yaml").write_text(text.replace("strategy:", "risk:", 1), encoding="utf-8")
    depths = _composer_depths(monkeypatch)

    result = run("approvals", "--config", "deep.yaml", "--audit", "none.db")

    assert 0 < max(depths) <= MAX_DEPTH + 1
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: deep.yaml:") and first.endswith(f": {TOO_DEEP}")
    assert listing(in_tmp) == {"deep.yaml": text.replace("strategy:", "risk:", 1).encode()}


def test_signalops_config_names_the_config_of_run_and_of_every_read_command(
    in_tmp: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    (in_tmp / "elsewhere.yaml").write_text("audit: {path: from_env.db}\n", encoding="utf-8")
    monkeypatch.setenv("SIGNALOPS_CONFIG", str(in_tmp / "elsewhere.yaml"))
    strategy = str(STRATEGIES / "banking_crisis_dip.yaml")

    ran = run("run", strategy, "--replay", str(replay_dir), "--from", "2023-03-10")
    listed = run("decisions", "--json")

    assert ran.exit_code == 0, ran.output
    assert (in_tmp / "from_env.db").exists() and not (in_tmp / "signalops.db").exists()
    assert [json.loads(line)["asset"] for line in listed.stdout.splitlines()] == ["BTC"]
