"""``signalops audit export TARGET`` never writes onto the log it exports, and replaces nothing
unless told to.

It used to open any TARGET for writing: ``audit export signalops.db`` printed "7 records
written to signalops.db" and left JSON Lines where the log had been; ``audit export
signalops.yaml`` replaced the config; ``-`` made a file named ``-``; on stdout the count became
the last line of the JSON Lines; a folder gave an IsADirectoryError traceback. Every case goes
through the command line and checks the exact output, then the files on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.errors import AuditError

RECORDS = 7  # five daily cycles of banking_crisis_dip, with their strategy and account records


@pytest.fixture(scope="module")
def real_log(tmp_path_factory: pytest.TempPathFactory, replay_dir: Path) -> bytes:
    """The bytes of a real audit log (as tests/test_cli_audit_files.py makes it)."""
    log = tmp_path_factory.mktemp("real") / "real.db"
    result = run(
        "run", str(STRATEGIES / "banking_crisis_dip.yaml"), "--replay", str(replay_dir),
        "--from", "2023-03-08", "--to", "2023-03-12", "--every", "1d", "--audit", str(log),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return log.read_bytes()


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_log: bytes) -> Path:
    """A folder holding the log as ``signalops.db`` (the default log) and a config."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.db").write_bytes(real_log)
    (tmp_path / "signalops.yaml").write_text("risk: {}\n", encoding="utf-8")
    return tmp_path


def listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def exported_lines(text: str) -> list[dict]:
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == RECORDS
    return lines


# --- never onto the log ---------------------------------------------------------------------------


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
@pytest.mark.parametrize("spelling", ["signalops.db", "exports/../signalops.db", "ABSOLUTE"])
def test_the_log_itself_is_refused_even_with_force(in_tmp: Path, spelling: str, force):
    target = str(in_tmp / "signalops.db") if spelling == "ABSOLUTE" else spelling
    (in_tmp / "exports").mkdir()
    before = listing(in_tmp)

    result = run("audit", "export", target, *force)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {target}: is the audit log being exported; export into a new file\n"
    )
    assert listing(in_tmp) == before


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_a_link_to_the_log_is_refused(in_tmp: Path, link: str):
    if link == "symlink":
        (in_tmp / "other.db").symlink_to(in_tmp / "signalops.db")
    else:
        os.link(in_tmp / "signalops.db", in_tmp / "other.db")
    before = listing(in_tmp)

    result = run("audit", "export", "other.db", "--force")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: other.db: is the audit log being exported; export into a new file\n"
    )
    assert listing(in_tmp) == before


@pytest.mark.parametrize("suffix", ["-wal", "-shm", ".checkpoints", ".lock"])
def test_the_files_beside_the_log_are_refused_there_or_not(in_tmp: Path, suffix: str):
    before = listing(in_tmp)

    result = run("audit", "export", f"signalops.db{suffix}", "--force")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: signalops.db{suffix}: is a file of the audit log signalops.db being exported;"
        " export into a new file\n"
    )
    assert listing(in_tmp) == before


def test_a_log_named_by_audit_is_protected_as_the_default_one(in_tmp: Path):
    (in_tmp / "signalops.db").rename(in_tmp / "kept.db")
    before = listing(in_tmp)

    result = run("audit", "export", "kept.db", "--audit", "kept.db")

    assert result.stderr == (
        "error: kept.db: is the audit log being exported; export into a new file\n"
    )
    assert listing(in_tmp) == before


# --- an existing file -----------------------------------------------------------------------------


def test_an_existing_file_is_refused_without_force(in_tmp: Path):
    before = listing(in_tmp)

    result = run("audit", "export", "signalops.yaml")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: signalops.yaml: already exists; export into a new file, or pass --force\n"
    )
    assert listing(in_tmp) == before


def test_force_replaces_an_existing_file_whole_and_leaves_no_temporary_file(in_tmp: Path):
    (in_tmp / "out.jsonl").write_text("an older export\n", encoding="utf-8")

    result = run("audit", "export", "out.jsonl", "--force")

    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        f"{RECORDS} records written to out.jsonl\n",
        "",
    )
    exported_lines((in_tmp / "out.jsonl").read_text(encoding="utf-8"))
    assert sorted(p.name for p in in_tmp.iterdir()) == [
        "out.jsonl", "signalops.db", "signalops.yaml",
    ]  # fmt: skip


def test_a_new_file_gets_the_mode_open_would_give_it(in_tmp: Path):
    mask = os.umask(0o022)
    try:
        result = run("audit", "export", "out.jsonl")
    finally:
        os.umask(mask)

    assert result.exit_code == 0
    assert (in_tmp / "out.jsonl").stat().st_mode & 0o777 == 0o644


def test_a_folder_is_one_line_and_stays_empty(in_tmp: Path):
    (in_tmp / "exports").mkdir()

    result = run("audit", "export", "exports")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "error: exports: Is a directory\n"
    assert list((in_tmp / "exports").iterdir()) == []


# --- stdout ---------------------------------------------------------------------------------------


def test_dash_writes_the_records_to_stdout_and_the_count_to_stderr(in_tmp: Path):
    before = listing(in_tmp)

    result = run("audit", "export", "-")

    assert (result.exit_code, result.stderr) == (0, f"{RECORDS} records written to stdout\n")
    assert [line["seq"] for line in exported_lines(result.stdout)] == list(range(1, RECORDS + 1))
    assert listing(in_tmp) == before  # no file named "-"


def _export_process(target: str, cwd: Path, stdout) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "signalops", "audit", "export", target],
        cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="no /dev/stdout on this system")
def test_dev_stdout_to_a_pipe_has_only_the_records_on_stdout(in_tmp: Path):
    done = _export_process("/dev/stdout", in_tmp, subprocess.PIPE)

    assert (done.returncode, done.stderr) == (
        0,
        f"{RECORDS} records written to /dev/stdout\n".encode(),
    )
    exported_lines(done.stdout.decode("utf-8"))


@pytest.mark.skipif(not os.path.exists("/dev/fd/1"), reason="no /dev/fd on this system")
def test_stdout_redirected_to_a_file_is_written_through_not_replaced(in_tmp: Path):
    # `signalops audit export /dev/fd/1 > out.jsonl`: the name is of a regular file, but it is
    # this process's stdout (an existing file, yet no --force: the shell made it).
    with open(in_tmp / "out.jsonl", "wb") as out:
        done = _export_process("/dev/fd/1", in_tmp, out)

    assert (done.returncode, done.stderr) == (
        0,
        f"{RECORDS} records written to /dev/fd/1\n".encode(),
    )
    exported_lines((in_tmp / "out.jsonl").read_text(encoding="utf-8"))


def test_stdout_appended_to_the_log_is_refused(in_tmp: Path, real_log: bytes):
    # `signalops audit export - >> signalops.db` would append JSON Lines to the log's file.
    with open(in_tmp / "signalops.db", "ab") as out:
        done = _export_process("-", in_tmp, out)

    assert (done.returncode, done.stderr) == (
        1,
        b"error: stdout: is the audit log being exported; export into a new file\n",
    )
    assert (in_tmp / "signalops.db").read_bytes() == real_log


# --- the library call ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["signalops.db", "signalops.db-wal"])
def test_the_library_export_refuses_the_logs_own_files_too(in_tmp: Path, real_log: bytes, name):
    refused = pytest.raises(
        AuditError, match=f"^{name}: is a file of the audit log being exported$"
    )
    with AuditLog.open_readonly(in_tmp / "signalops.db") as log, refused:
        log.export_jsonl(name)
    assert (in_tmp / "signalops.db").read_bytes() == real_log
