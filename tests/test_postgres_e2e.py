"""``signalops`` against a real PostgreSQL server, from the command line as a user types it.

The server is ``tests/postgres_server.py``'s throw-away cluster, started once for the module (the
tests skip, saying why, where it cannot start). Each log is a database of its own, set up as the
PostgreSQL backend's docs say a deployment is: a non-superuser owner role creates the schema,
and commands connect as the writer role ``grant_writer`` made (INSERT and SELECT only). An
attacker "with owner rights" is that owner role, which can switch the append-only triggers off.

The run is the March 2023 paper run of ``tests/test_pipeline_end_to_end.py`` (the fixture
strategy on the bundled real data, 2023-03-08..16: a BUY filled, a BUY denied, a BUY blocked by
the veto, a SELL filled), into PostgreSQL and into SQLite in the same session. The records are
the same, hash for hash (the runner id is a column, not part of the record), so everything
derived from them is byte for byte the same: ``why`` (text and JSON), ``decisions``, the JSONL
export and the ``verify`` line. What legitimately differs is only how the log is named in a
message: a file path, or the URL without its password.

Golden files (``tests/golden/``, compared byte for byte; rewrite them by hand, from a run, when
an output changes on purpose):

- ``run_postgres_banking_crisis_pipeline.txt``: the run's stdout, each line without its
  duration (``  [0.01s]``, the one part that is not fixed);
- ``audit_copy_sqlite_postgres_sqlite.txt``: ``audit copy`` there and back, the log names
  replaced by ``<sqlite>``, ``<postgres>`` and ``<copy>``.

``tests/test_postgres_concurrency.py`` runs several processes at once on one database with the
fixtures and helpers here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import postgres_server
import psycopg
import pytest
from click.testing import Result
from conftest import ROOT, invoke
from postgres_server import Server, Unavailable, start

from signalops.audit.layout import COLUMNS, CompactLayout, LegacyLayout
from signalops.audit.postgres import PostgresAuditLog
from signalops.audit.record import prepare
from signalops.audit.store import AuditLog
from signalops.canonical import canonical_json

GOLDEN = ROOT / "tests" / "golden"
STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"  # relative: the records cite it so
MARCH = ("--from", "2023-03-08", "--to", "2023-03-16", "--every", "1d")
DAYS = tuple(f"2023-03-{day:02d}" for day in range(8, 17))
OWNER, WRITER = "audit_owner", "signalops_writer"
PASSWORD = "s3cret"  # trust authentication ignores it; it must never reach a message
SEALED = ("seq", "prev_hash", "hash")
_NAMES = itertools.count(1)
_DURATION = re.compile(r"  \[\d+\.\d+s\]$")
# What a command run as a user would inherit and the tests must not: another log or config.
_OWN_ENV = ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "SIGNALOPS_RUNNER")


# --- the server, its roles and one database per log -------------------------------------------


@dataclass(frozen=True)
class Database:
    """One log's database: URLs of its owner (who made the schema) and of the writer role."""

    name: str
    owner_url: str
    writer_url: str

    def url_with_password(self) -> str:
        return self.writer_url.replace(f"{WRITER}@", f"{WRITER}:{PASSWORD}@")


@dataclass(frozen=True)
class Postgres:
    """The module's server, with the owner and writer roles made once."""

    server: Server

    def superuser(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.server.database_url(database), autocommit=True)

    def empty(self, template: str | None = None) -> Database:
        """A new database owned by the owner role, without the schema (or a copy of
        ``template``, tables, rows and owners alike)."""
        name = f"e2e_{next(_NAMES)}"
        copy = f" TEMPLATE {template}" if template else ""
        with self.superuser() as conn:
            conn.execute(f"CREATE DATABASE {name}{copy} OWNER {OWNER}")
        url = self.server.database_url
        return Database(name, url(name, OWNER), url(name, WRITER))

    def log(self) -> Database:
        """A new, empty log: the schema made by the owner, the writer role granted."""
        database = self.empty()
        with PostgresAuditLog(database.owner_url) as log:
            log.grant_writer(WRITER)
        return database


def serve() -> Iterator[Postgres]:
    """A new server with the owner and writer roles, stopped when the generator is closed."""
    try:
        server = start()
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            for role in (OWNER, WRITER):
                conn.execute(f"CREATE ROLE {role} LOGIN")
        yield Postgres(server)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from serve()


@pytest.fixture(autouse=True)
def _no_inherited_log(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _OWN_ENV:
        monkeypatch.delenv(name, raising=False)


# --- running the CLI -----------------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment of a ``signalops`` subprocess: this one's, minus any log or config."""
    env = {k: v for k, v in os.environ.items() if k not in _OWN_ENV}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def signalops(
    *args: str, cwd: Path = ROOT, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m signalops ARGS`` as its own process, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "signalops", *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def ok(result: Result) -> str:
    """The stdout of an in-process command that must have succeeded."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def cycle_lines(stdout: str) -> list[str]:
    """The run's lines without their durations."""
    return [_DURATION.sub("", line) for line in stdout.splitlines()]


def unsealed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in SEALED}


def edit_sqlite_body(path: Path, seq: int, edit: Callable[[dict[str, Any]], object]) -> None:
    """The record at ``seq`` of a SQLite log edited in place and not re-sealed, as someone with
    the file and sqlite3 could (the triggers dropped; a compact body written back as JSON)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TRIGGER records_no_update")
        layout = CompactLayout(lambda sql, params: conn.execute(sql, params).fetchall())
        (body,) = conn.execute("SELECT body FROM records WHERE seq = ?", (seq,)).fetchone()
        fields = layout.body(body)
        edit(fields)
        conn.execute("UPDATE records SET body = ? WHERE seq = ?", (canonical_json(fields), seq))
        conn.commit()
    finally:
        conn.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_march(audit: str, replay_dir: Path, *extra: str) -> str:
    """The March paper run into ``audit``, in process, from the project folder (the records
    cite the strategy by the path it was run with); its stdout."""
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        args = ("run", STRATEGY, "--replay", str(replay_dir), *MARCH, "--audit", audit)
        return ok(invoke(*args, *extra))
    finally:
        os.chdir(here)


@dataclass(frozen=True)
class March:
    """The same run into PostgreSQL (as the writer, runner desk-1) and into a SQLite file."""

    database: Database
    sqlite: Path
    stdout: str
    sqlite_stdout: str


@pytest.fixture(scope="module")
def march(postgres: Postgres, replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> March:
    database = postgres.log()
    stdout = run_march(database.writer_url, replay_dir, "--runner", "desk-1")
    sqlite = tmp_path_factory.mktemp("march") / "audit.db"
    sqlite_stdout = run_march(str(sqlite), replay_dir)
    return March(database, sqlite, stdout, sqlite_stdout)


# --- 1. a run into PostgreSQL, explained as on SQLite ----------------------------------------


def test_a_run_into_postgres_prints_the_golden_lines_and_its_log_verifies(march: March):
    golden = (GOLDEN / "run_postgres_banking_crisis_pipeline.txt").read_text(encoding="utf-8")
    assert "\n".join(cycle_lines(march.stdout)) + "\n" == golden
    assert cycle_lines(march.sqlite_stdout) == cycle_lines(march.stdout)

    verified = ok(invoke("audit", "verify", "--audit", march.database.writer_url))
    on_sqlite = ok(invoke("audit", "verify", "--audit", str(march.sqlite)))
    assert verified == on_sqlite
    assert verified.startswith("ok 11 records, chain intact\nhead seq 11 ")


@pytest.mark.parametrize("day", DAYS)
def test_why_on_postgres_is_byte_for_byte_the_sqlite_runs(march: March, day: str):
    url = march.database.writer_url
    shown = ok(invoke("why", "BTC", "--at", day, "--audit", url))
    assert shown == ok(invoke("why", "BTC", "--at", day, "--audit", str(march.sqlite)))
    as_json = ok(invoke("why", "BTC", "--at", day, "--json", "--audit", url))
    sqlite_json = ok(invoke("why", "BTC", "--at", day, "--json", "--audit", str(march.sqlite)))
    assert json.loads(as_json) == json.loads(sqlite_json)
    pinned = GOLDEN / f"why_BTC_{day}.txt"  # the SQLite run's, pinned by the end-to-end test
    if pinned.exists():
        assert shown == pinned.read_text()


def test_decisions_and_the_export_are_the_sqlite_runs_and_every_record_names_its_runner(
    march: March, tmp_path: Path
):
    url = march.database.writer_url
    assert ok(invoke("decisions", "--audit", url)) == ok(
        invoke("decisions", "--audit", str(march.sqlite))
    )
    ok(invoke("audit", "export", str(tmp_path / "pg.jsonl"), "--audit", url))
    ok(invoke("audit", "export", str(tmp_path / "lite.jsonl"), "--audit", str(march.sqlite)))
    assert (tmp_path / "pg.jsonl").read_bytes() == (tmp_path / "lite.jsonl").read_bytes()
    with PostgresAuditLog.open_readonly(url) as log:
        assert log.runners() == ["desk-1"]
        assert len(log.decisions(runner="desk-1", limit=None)) == len(DAYS)
        assert log.decisions(runner="desk-2") == []


@pytest.mark.parametrize(
    ("day", "nearest"),
    [
        ("2023-04-01", "the last is on 2023-03-16"),
        ("9999-12-31", "the last is on 2023-03-16"),  # a day with no next one to end at
        ("0001-01-01", "the first is on 2023-03-08"),
    ],
)
def test_a_missing_day_names_the_log_by_its_url_without_the_password(
    march: March, day: str, nearest: str
):
    result = invoke("why", "BTC", "--at", day, "--audit", march.database.url_with_password())
    assert result.exit_code == 1
    assert PASSWORD not in result.stderr
    redacted = march.database.writer_url.replace(f"{WRITER}@", f"{WRITER}:***@")
    assert result.stderr == f"error: no decision for BTC at {day} in {redacted}: {nearest}\n"


def test_the_json_outputs_are_byte_for_byte_the_sqlite_runs(march: March):
    url, sqlite = march.database.writer_url, str(march.sqlite)
    for args in (("decisions", "--json"), ("why", "BTC", "--at", "2023-03-10", "--json")):
        assert ok(invoke(*args, "--audit", url)) == ok(invoke(*args, "--audit", sqlite))


# --- 6. verify on PostgreSQL finds what an owner changed behind the triggers -----------------


def _edit(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE records DISABLE TRIGGER USER")
    conn.execute(
        'UPDATE records SET body = replace(body, \'"verdict":"BLOCKED"\', \'"verdict":"HOLD"\'),'
        " verdict = 'HOLD' WHERE seq = 6"
    )


def _delete(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE records DISABLE TRIGGER USER")
    conn.execute("DELETE FROM records WHERE seq = 6")


def _insert(conn: psycopg.Connection[Any]) -> None:
    """A decision for a day the run never saw, sealed and linked after the last record with the
    project's own code: a flawless chain, but the head (moved only by ``append``) says 11.
    The database refuses such a row from a writer (a deferred trigger): the owner turns it off."""
    conn.execute("ALTER TABLE records DISABLE TRIGGER USER")
    seq, head = conn.execute("SELECT seq, hash FROM chain_head").fetchone()  # type: ignore[misc]
    body = conn.execute("SELECT body FROM records WHERE seq = 7").fetchone()[0]  # type: ignore[index]
    record = unsealed(json.loads(body))
    record |= {"id": "dec-" + "f" * 24, "decision_id": "dec-" + "f" * 24}
    record |= {"as_of": "2023-03-17T00:00:00Z", "recorded_at": "2023-03-17T00:00:00Z"}
    row, _ = LegacyLayout().row(prepare(record), seq + 1, head)
    marks = ", ".join(["%s"] * (len(COLUMNS) + 2))
    conn.execute(
        f"INSERT INTO records ({', '.join(COLUMNS)}, body, runner) VALUES ({marks})",
        [*row, "desk-1"],
    )


def _ledger(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE paper_fills DISABLE TRIGGER USER")
    conn.execute("UPDATE paper_fills SET quantity = '5' WHERE seq = 1")


TAMPERING = {
    "edited": (
        _edit,
        ["EDITED seq 6: the record does not match its hash"],
    ),
    "deleted": (
        _delete,
        [
            "DELETED seq 6: seq 6 missing: seq 7 (dec-{seq_7}) links to a record that is not there",
        ],
    ),
    "inserted": (
        _insert,
        ["INSERTED seq 12: seq 12 after the chain head (seq 11): not written by an append"],
    ),
    "ledger": (
        _ledger,
        [
            "LEDGER seq {fill}: ledger row 1 differs: quantity 5 in the ledger, {quantity} in the "
            "record"
        ],
    ),
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_audit_verify_on_postgres_names_what_the_owner_changed_behind_the_triggers(
    postgres: Postgres, march: March, how: str
):
    tamper, expected = TAMPERING[how]
    with PostgresAuditLog.open_readonly(march.database.writer_url) as log:
        decision_7 = log.body_at(7)
        fill = next(r for r in log.records() if r["kind"] == "fill")
    assert decision_7 is not None
    database = postgres.empty(template=march.database.name)
    # As the owner, not a superuser: the owner may switch its tables' triggers off.
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        tamper(conn)
    facts = {
        "seq_7": json.loads(decision_7)["decision_id"].removeprefix("dec-"),
        "fill": fill["seq"],
        "quantity": fill["fill"]["quantity"],
    }
    result = invoke("audit", "verify", "--audit", database.writer_url)
    assert result.exit_code == 1
    assert re.fullmatch(r"head seq \d+ [0-9a-f]{64}\n", result.stdout)  # what was checked
    lines = [line.format(**facts) for line in expected]
    assert result.stderr.splitlines() == [
        *lines,
        f"audit log FAILED verification: {len(lines)} problem{'s' * (len(lines) > 1)}",
    ]


def test_the_writer_role_cannot_switch_the_triggers_off(march: March):
    with (
        psycopg.connect(march.database.writer_url, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="must be owner"),
    ):
        conn.execute("ALTER TABLE records DISABLE TRIGGER USER")


# --- 7. audit copy there and back ---------------------------------------------------------------


def _exported(audit: str, tmp_path: Path, name: str) -> bytes:
    target = tmp_path / f"{name}.jsonl"
    assert signalops("audit", "export", str(target), "--audit", audit).returncode == 0
    return target.read_bytes()


def test_audit_copy_sqlite_to_postgres_to_sqlite_keeps_every_byte_of_the_export(
    postgres: Postgres, march: March, tmp_path: Path
):
    database = postgres.log()  # the schema made by the owner: the writer copies into it
    back = tmp_path / "back.db"
    there = signalops(
        "audit", "copy", str(march.sqlite), database.writer_url, "--runner", "archive"
    )
    assert (there.returncode, there.stderr) == (0, "")
    again = signalops("audit", "copy", database.writer_url, str(back))
    assert (again.returncode, again.stderr) == (0, "")

    shown = (there.stdout + again.stdout).replace(str(march.sqlite), "<sqlite>")
    shown = shown.replace(database.writer_url, "<postgres>")
    golden = GOLDEN / "audit_copy_sqlite_postgres_sqlite.txt"
    assert shown.replace(str(back), "<copy>") == golden.read_text(encoding="utf-8")

    exports = [
        _exported(where, tmp_path, name)
        for name, where in (("lite", str(march.sqlite)), ("pg", database.writer_url),
                            ("back", str(back)))
    ]  # fmt: skip
    assert exports[0] == exports[1] == exports[2]
    for where in (database.writer_url, str(back)):
        verified = signalops("audit", "verify", "--audit", where)
        assert verified.returncode == 0, verified.stderr
        assert verified.stdout.startswith("ok 11 records, chain intact")
    with (
        AuditLog(back) as copy,
        AuditLog(march.sqlite) as source,
        PostgresAuditLog.open_readonly(database.writer_url) as between,
    ):
        assert copy.paper_fill_rows() == source.paper_fill_rows()
        assert between.paper_fill_rows() == source.paper_fill_rows()
        assert len(source.paper_fill_rows()) == 2
        assert between.runners() == ["archive"]  # the records carry the copy's --runner


def test_audit_copy_into_a_log_that_has_records_is_refused_and_writes_nothing(
    march: March, tmp_path: Path
):
    url = march.database.writer_url
    with PostgresAuditLog.open_readonly(url) as log:
        before = (log.count(), log.head())
    refused = signalops("audit", "copy", str(march.sqlite), url)
    assert refused.returncode == 1
    assert refused.stderr == (f"error: {url}: not empty; copy into a new file or database\n")
    with PostgresAuditLog.open_readonly(url) as log:
        assert (log.count(), log.head()) == before


def test_audit_copy_onto_an_existing_file_is_refused_and_leaves_it_as_it_was(
    march: March, tmp_path: Path
):
    existing = tmp_path / "archive.db"
    existing.write_bytes(march.sqlite.read_bytes())
    before = digest(existing)
    refused = signalops("audit", "copy", march.database.writer_url, str(existing))
    assert refused.returncode == 1
    assert refused.stderr == f"error: {existing}: already exists; copy into a new file\n"
    assert digest(existing) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.db"]


def test_audit_copy_from_an_edited_postgres_log_is_refused_and_leaves_no_file(
    postgres: Postgres, march: March, tmp_path: Path
):
    database = postgres.empty(template=march.database.name)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        _edit(conn)
    target = tmp_path / "copy.db"
    refused = signalops("audit", "copy", database.writer_url, str(target))
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"error: {database.writer_url}: ")
    assert refused.stderr.endswith("nothing copied; `signalops audit verify` lists every problem\n")
    assert len(refused.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .partial


def test_audit_copy_from_an_edited_sqlite_log_into_postgres_writes_no_record(
    postgres: Postgres, march: March, tmp_path: Path
):
    edited = tmp_path / "edited.db"
    edited.write_bytes(march.sqlite.read_bytes())
    edit_sqlite_body(edited, 6, lambda fields: fields.update(verdict="HOLD"))
    assert signalops("audit", "verify", "--audit", str(edited)).returncode == 1
    database = postgres.log()
    refused = signalops("audit", "copy", str(edited), database.writer_url)
    assert refused.returncode == 1
    assert "nothing copied" in refused.stderr
    with PostgresAuditLog.open_readonly(database.writer_url) as log:
        assert (log.count(), log.head(), log.stored_strategies()) == (0, None, [])
    # Still an empty log: the copy of the intact source goes through.
    assert signalops("audit", "copy", str(march.sqlite), database.writer_url).returncode == 0


def _edit_strategy(conn: psycopg.Connection[Any]) -> None:
    conn.execute("ALTER TABLE strategies DISABLE TRIGGER USER")
    conn.execute("UPDATE strategies SET document = replace(document, '35', '45')")


@pytest.mark.parametrize("tamper", [_ledger, _edit_strategy], ids=["ledger", "strategy"])
def test_audit_copy_from_a_log_whose_ledger_or_strategy_was_edited_is_refused(
    postgres: Postgres,
    march: March,
    tmp_path: Path,
    tamper: Callable[[psycopg.Connection[Any]], None],
):
    database = postgres.empty(template=march.database.name)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        tamper(conn)
    assert signalops("audit", "verify", "--audit", database.writer_url).returncode == 1
    refused = signalops("audit", "copy", database.writer_url, str(tmp_path / "copy.db"))
    assert refused.returncode == 1, refused.stdout
    assert list(tmp_path.iterdir()) == []


# --- what the server says, as one line ---------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_database_that_does_not_exist_is_no_such_audit_log(postgres: Postgres):
    url = postgres.server.database_url("nowhere", WRITER)
    result = invoke("audit", "verify", "--audit", url)
    assert (result.exit_code, result.stderr) == (1, f"error: {url}: no such audit log\n")


def test_a_server_that_does_not_answer_is_a_one_line_error_without_the_password():
    url = f"postgresql://{WRITER}:{PASSWORD}@127.0.0.1:{_closed_port()}/audit"
    result = invoke("audit", "verify", "--audit", url)
    assert result.exit_code == 1
    assert PASSWORD not in result.stderr
    assert result.stderr.startswith(f"error: postgresql://{WRITER}:***@127.0.0.1:")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_an_at_sign_in_the_password_is_refused_before_the_driver_prints_a_piece_of_it():
    # libpq ends the user part at the first '@': it took "t-Desk@127.0.0.1" for the host and
    # printed it ("failed to resolve host 't-Desk@127.0.0.1'"), the tail of the password.
    url = f"postgresql://{WRITER}:S3cr@t-Desk@127.0.0.1:{_closed_port()}/audit"
    for command in (("audit", "verify"), ("decisions",)):
        result = invoke(*command, "--audit", url)
        assert (result.exit_code, result.stderr) == (
            1,
            f"error: postgresql://{WRITER}:***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}"
            "/audit: the user or password holds an '@': write it as %40 (user:p%40ss@host)\n",
        )
        assert "t-Desk" not in result.output


@pytest.mark.parametrize("mark", ["/", "#", "?"])
def test_a_slash_hash_or_question_mark_in_the_password_is_refused_and_never_shown(mark: str):
    url = f"postgresql://{WRITER}:S3cr{mark}t-Desk@127.0.0.1:{_closed_port()}/audit"
    result = invoke("decisions", "--audit", url)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: postgresql://***@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/audit: the "
        "user or password holds a '/', '?' or '#': write them as %2F, %3F and %23 "
        "(user:p%2Fss@host)\n",
    )
    assert "t-Desk" not in result.output and "S3cr" not in result.output


def test_a_cluster_that_fails_to_start_leaves_no_directory_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    binaries = tmp_path / "bin"
    binaries.mkdir()
    for program in ("initdb", "pg_ctl"):  # real programs that fail, as a broken install's
        script = binaries / program
        script.write_text("#!/bin/sh\necho 'initdb: error: cannot run' >&2\nexit 1\n")
        script.chmod(0o755)
    monkeypatch.setattr(postgres_server, "bindir", lambda: binaries)
    root = tmp_path / "clusters"
    root.mkdir()
    with pytest.raises(Unavailable, match="failed"):
        start(root)
    assert list(root.iterdir()) == []


def test_a_server_that_pg_ctl_gave_up_on_is_stopped_before_its_directory_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # pg_ctl -w start can fail while the postmaster runs on ("server did not start in time").
    binaries, stopped = tmp_path / "bin", tmp_path / "stopped"
    binaries.mkdir()
    scripts = {
        "initdb": 'mkdir -p "$2"',  # initdb -D DIR ...
        "pg_ctl": (
            'case "$*" in *stop*) echo "$*" > ' + str(stopped) + "; exit 0;; esac\n"
            'touch "$2/postmaster.pid"; echo "pg_ctl: server did not start in time" >&2; exit 1'
        ),
    }
    for program, body in scripts.items():
        script = binaries / program
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
    monkeypatch.setattr(postgres_server, "bindir", lambda: binaries)
    monkeypatch.setattr(postgres_server, "_cluster_owner", lambda: None)  # run them as we are
    root = tmp_path / "clusters"
    root.mkdir()
    with pytest.raises(Unavailable, match="server did not start in time"):
        start(root)
    assert "-m immediate stop" in stopped.read_text()
    assert list(root.iterdir()) == []
