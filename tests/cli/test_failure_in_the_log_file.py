"""The error that ends a command is in ``--log-file`` (and in ``--log-format json`` lines), not
only on the terminal; on a plain text terminal it is said once.

Regression test: a runner stopped by a failed verification printed its error on stderr only;
its log file ended at its last cycle with no word of why it stopped.
"""

from __future__ import annotations

import errno
import json
import re
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


def test_the_error_that_ends_a_command_is_logged_to_the_log_file(in_tmp: Path):
    result = run("--log-file", "run.log", "decisions", "--audit", "nope.db")

    assert result.exit_code == 1
    assert result.stderr == "error: nope.db: no such audit log\n"
    logged = STAMP.sub("", Path("run.log").read_text(encoding="utf-8"))
    assert logged == ("ERROR signalops.cli: nope.db: no such audit log command=decisions\n")


def test_the_error_is_a_json_event_with_log_format_json(in_tmp: Path):
    result = run("--log-format", "json", "decisions", "--audit", "nope.db")

    assert result.exit_code == 1
    first, second = result.stderr.splitlines()
    line = json.loads(first)
    assert (line["event"], line["level"], line["command"]) == (
        "command_failed",
        "ERROR",
        "decisions",
    )
    assert line["message"] == "nope.db: no such audit log"
    assert second == "error: nope.db: no such audit log"


def test_on_a_text_terminal_the_error_is_said_once(in_tmp: Path):
    result = run("decisions", "--audit", "nope.db")

    assert result.stderr == "error: nope.db: no such audit log\n"


def test_a_full_disk_that_ends_a_command_is_logged_too(
    in_tmp: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """Review: only library errors were logged; a full disk (an OSError told in one line)
    never reached the log file."""
    from signalops.backtest import report

    def full(*args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", "R/report.html")

    monkeypatch.setattr(report, "render_html", full)
    strategy = str(STRATEGIES / "technical_baseline.yaml")

    result = run(
        "--log-file", "run.log", "backtest", strategy, "--data", str(replay_dir), "--report",
        "R", "--from", "2023-03-01", "--to", "2023-03-10",
    )  # fmt: skip

    assert (result.exit_code, result.stderr) == (1, "error: disk full writing R/report.html\n")
    logged = STAMP.sub("", Path("run.log").read_text(encoding="utf-8"))
    assert logged == "ERROR signalops.cli: disk full writing R/report.html command=backtest\n"
