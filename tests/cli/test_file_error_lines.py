"""A path the OS refuses (a file where a folder goes, a missing folder) ends a command with one
line, ``error: PATH: reason``, naming the part of the path to fix; and exit status 1.

These used to end in tracebacks: cli/main.py caught an OSError only when the disk was full, so
``--audit afile/x.db`` gave FileExistsError, ``audit export afile/x.jsonl`` NotADirectoryError
and ``init tour/signalops.yaml`` (a file) FileExistsError. An exception that names no file is
still a bug's, and keeps its traceback.
"""

from __future__ import annotations

import errno
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.cli.main import _Commands

STRATEGY = str(STRATEGIES / "banking_crisis_dip.yaml")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with ``afile``, an empty file, where the commands below want a folder."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").touch()
    return tmp_path


def assert_one_line(result, line: str) -> None:
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"error: {line}\n")


def test_an_audit_log_inside_a_file_is_one_line(in_tmp: Path, replay_dir: Path):
    result = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-09", "--every", "1d", "--audit", "afile/x.db",
    )  # fmt: skip

    assert_one_line(result, "afile: Not a directory")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile"]


def test_an_audit_log_in_a_folder_that_cannot_be_made_names_it(in_tmp: Path, replay_dir: Path):
    result = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-09", "--every", "1d", "--audit", "/proc/nope/x.db",
    )  # fmt: skip

    assert_one_line(result, "/proc/nope: No such file or directory")


def test_an_import_into_a_file_is_one_line(in_tmp: Path):
    result = run("data", "import", "--from", str(ROOT / "examples" / "data"), "--to", "afile")

    assert_one_line(result, "afile: Not a directory")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile"]
    assert (in_tmp / "afile").read_bytes() == b""


def test_an_export_inside_a_file_or_a_missing_folder_is_one_line(in_tmp: Path):
    AuditLog(in_tmp / "signalops.db").close()

    inside_a_file = run("audit", "export", "afile/x.jsonl")
    in_no_folder = run("audit", "export", "nowhere/x.jsonl")

    assert_one_line(inside_a_file, "afile: Not a directory")
    assert_one_line(in_no_folder, "nowhere: No such file or directory")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile", "signalops.db"]


def test_init_into_a_file_is_one_line(in_tmp: Path):
    assert run("init", "tour").exit_code == 0

    result = run("init", "tour/signalops.yaml")

    assert_one_line(result, "tour/signalops.yaml: Not a directory")


def test_with_vv_the_traceback_is_logged_before_the_line(in_tmp: Path):
    AuditLog(in_tmp / "signalops.db").close()

    result = run("-vv", "audit", "export", "afile/x.jsonl")

    assert result.exit_code == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert result.stderr.endswith(
        "NotADirectoryError: [Errno 20] Not a directory: "
        "'afile/x.jsonl'\nerror: afile: Not a directory\n"
    )


# --- what stays a traceback -----------------------------------------------------------------------


def _group_raising(exc: BaseException) -> click.Group:
    """A group with the CLI's error handling and one command raising ``exc``."""

    @click.group(cls=_Commands)
    def group() -> None:
        pass

    @group.command("go")
    def go() -> None:
        raise exc

    return group


@pytest.mark.parametrize(
    "exc",
    [
        pytest.param(ValueError("a bug"), id="not_an_oserror"),
        pytest.param(OSError(errno.ECONNREFUSED, "Connection refused"), id="oserror_no_file"),
        pytest.param(OSError(errno.EBADF, "Bad file descriptor", 987), id="oserror_fd_number"),
    ],
)
def test_an_exception_naming_no_file_keeps_its_traceback(exc: BaseException):
    result = CliRunner().invoke(_group_raising(exc), ["go"])

    assert result.exception is exc  # raised through, for click (or Python) to print


def test_an_oserror_naming_a_rename_gives_both_names():
    exc = IsADirectoryError(errno.EISDIR, "Is a directory", "a.jsonl.partial", None, "exports")

    result = CliRunner().invoke(_group_raising(exc), ["go"])

    assert result.exit_code == 1
    assert result.output.endswith("error: a.jsonl.partial -> exports: Is a directory\n")
