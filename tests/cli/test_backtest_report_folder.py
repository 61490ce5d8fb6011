"""A backtest's report folder holds one run whole: stopped half way (Ctrl-C, an error) it is as
it was, two runs into it at once both finish and the last one's files are all of it.

The interrupted runs are real processes sent SIGINT at a known moment: when the files of the run
(its ``.partial`` log, its first report file, a scenario's log) have appeared in the staging
folder beside the report folder.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, invoke

from signalops.audit.store import AuditLog
from signalops.backtest import report

HOURLY = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")
VETOED = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
LONG = ("--from", "2021-06-01", "--to", "2025-06-30")


def _contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


def _start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALOPS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "signalops", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As from a terminal: a shell running the tests in the background without job control
        # (`make test &` in a script) has SIGINT ignored, and a child would inherit that.
        preexec_fn=_default_interrupt,
    )


def _default_interrupt() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(folder: Path, pattern: str, run: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not any(folder.glob(pattern)):
        assert run.poll() is None, f"ended before {pattern} appeared: {run.communicate()}"
        assert time.monotonic() < deadline, f"no {pattern}"
        time.sleep(0.005)


# (what is being written when Ctrl-C comes, the command's arguments after --report R, the first
# run's, the file in the staging folder whose appearance says the moment has come)
MOMENTS = {
    "backtest log": (
        ["backtest", HOURLY, *LONG],
        ["backtest", HOURLY, "--from", "2024-01-01", "--to", "2024-03-31"],
        ".R.*.staging/backtest.db.*.partial",
    ),
    "report files": (
        ["backtest", HOURLY, *LONG],
        ["backtest", HOURLY, "--from", "2024-01-01", "--to", "2024-03-31"],
        ".R.*.staging/metrics.json",
    ),
    "each asset": (
        ["backtest", HOURLY, *LONG, "--each-asset"],
        ["backtest", HOURLY, "--from", "2024-01-01", "--to", "2024-03-31", "--each-asset"],
        ".R.*.staging/BTC/backtest.db.*.partial",
    ),
    "stress": (
        ["stress", HOURLY],
        ["stress", HOURLY, "--scenario", "banking_crisis_2023-03"],
        ".R.*.staging/*/backtest.db",
    ),
}


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("moment", MOMENTS)
def test_ctrl_c_leaves_the_report_folder_as_it_was_and_nothing_beside_it(
    moment: str, replay_dir: Path, in_tmp: Path
):
    args, first, pattern = MOMENTS[moment]
    data = ("--data", str(replay_dir), "--report", "R")
    made = invoke(*first[:2], *data, *first[2:])
    assert made.exit_code == 0, made.stderr
    before = _contents(in_tmp / "R")

    run = _start(in_tmp, *args[:2], *data, *args[2:])
    _wait_for(in_tmp, pattern, run)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=120)

    said = "interrupted: nothing written (R is as it was)\n"
    assert (run.returncode, err.decode()) == (130, said)
    assert _contents(in_tmp / "R") == before
    assert [p.name for p in in_tmp.iterdir()] == ["R"]  # no staging folder, no .partial


def test_two_backtests_into_one_folder_both_finish_and_the_last_ones_files_are_all_of_it(
    replay_dir: Path, tmp_path: Path
):
    starts = ("2024-06-01", "2024-07-01")
    runs = [
        _start(tmp_path, "backtest", HOURLY, "--data", str(replay_dir), "--report", "R",
               "--from", start, "--to", "2025-06-30")
        for start in starts
    ]  # fmt: skip
    ended = [(run.communicate(timeout=300)[1], run.returncode) for run in runs]

    assert ended == [(b"", 0)] * 2
    assert [p.name for p in tmp_path.iterdir()] == ["R"]
    report = tmp_path / "R"
    assert sorted(p.name for p in report.iterdir()) == [
        "backtest.db", "charts.json", "metrics.json", "report.html", "trades.csv",
    ]  # fmt: skip
    # Every file is of the same run.
    start = json.loads((report / "metrics.json").read_text())["from"][:10]
    assert start in starts
    assert f"{start} → 2025-06-30" in (report / "report.html").read_text()
    with AuditLog.open_readonly(report / "backtest.db") as log:
        decisions = log.decisions(limit=None)
        assert min(d["as_of"] for d in decisions)[:10] == start
        ids = {d["decision_id"] for d in decisions}
    traded = (report / "trades.csv").read_text().splitlines()[1:]
    assert traded and all(row.split(",")[10].split()[0] in ids for row in traded)


def test_the_terminal_and_the_report_read_the_log_before_it_is_published(
    replay_dir: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
):
    # Read after the move, another run publishing into the same folder meanwhile could swap the
    # log under the reader and leave its WAL files beside the next run's log.
    opened: list[Path] = []
    open_readonly = AuditLog.open_readonly.__func__  # type: ignore[attr-defined]

    def recording(cls: type[AuditLog], path: Path, *args: object, **kwargs: object) -> AuditLog:
        opened.append(Path(path).resolve())
        return open_readonly(cls, path, *args, **kwargs)

    monkeypatch.setattr(AuditLog, "open_readonly", classmethod(recording))
    ran = invoke("backtest", HOURLY, "--data", str(replay_dir), "--report", "R",
                 "--from", "2024-06-01", "--to", "2025-06-30")  # fmt: skip

    assert ran.exit_code == 0, ran.stderr
    assert opened  # the notes read the log: its filled BUYs' records
    published = (in_tmp / "R").resolve()
    assert [path for path in opened if path.parent == published] == []


def test_a_run_without_a_baseline_removes_the_last_runs_and_keeps_other_reports(
    replay_dir: Path, in_tmp: Path
):
    common = ("--data", str(replay_dir), "--report", "R", "--from", "2023-03-01", "--to",
              "2023-03-31")  # fmt: skip
    assert invoke("backtest", VETOED, *common).exit_code == 0
    assert invoke("stress", VETOED, "--data", str(replay_dir), "--report", "R/stress",
                  "--scenario", "banking_crisis_2023-03").exit_code == 0  # fmt: skip
    assert (in_tmp / "R" / "baseline.db").is_file()

    again = invoke("backtest", VETOED, *common, "--no-baseline")

    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in (in_tmp / "R").iterdir()) == [
        "backtest.db", "charts.json", "metrics.json", "report.html", "stress", "trades.csv",
    ]  # fmt: skip
    assert (in_tmp / "R" / "stress" / "banking_crisis_2023-03" / "backtest.db").is_file()
    assert sorted(p.name for p in in_tmp.iterdir()) == ["R"]


def test_a_disk_full_at_the_last_file_leaves_the_report_folder_as_it_was(
    replay_dir: Path, in_tmp: Path, monkeypatch: pytest.MonkeyPatch
):
    common = ("--data", str(replay_dir), "--report", "R", "--to", "2023-03-31")
    assert invoke("backtest", VETOED, *common, "--from", "2023-03-01").exit_code == 0
    before = _contents(in_tmp / "R")

    def full(*args: object) -> str:  # the disk fills up as the page is written, its last file
        raise OSError(errno.ENOSPC, "No space left on device", "R/report.html")

    monkeypatch.setattr(report, "render_html", full)
    failed = invoke("backtest", VETOED, *common, "--from", "2023-03-10")

    assert (failed.exit_code, failed.stderr.splitlines()) == (
        1, ["error: disk full writing R/report.html"],
    )  # fmt: skip
    assert _contents(in_tmp / "R") == before
    assert sorted(p.name for p in in_tmp.iterdir()) == ["R"]


def test_a_report_folder_that_is_a_file_is_refused_in_one_line(replay_dir: Path, in_tmp: Path):
    (in_tmp / "R").write_text("mine\n")

    refused = invoke("backtest", HOURLY, "--data", str(replay_dir), "--report", "R",
                     "--from", "2024-01-01", "--to", "2024-01-31")  # fmt: skip

    assert (refused.exit_code, refused.stderr) == (
        1, "error: R is a file, not a folder for the report\n",
    )  # fmt: skip
    assert (in_tmp / "R").read_text() == "mine\n"
    assert sorted(p.name for p in in_tmp.iterdir()) == ["R"]


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_leaves_the_report_folder_as_it_was_like_ctrl_c(
    stop: signal.Signals, replay_dir: Path, in_tmp: Path
):
    args, first, pattern = MOMENTS["backtest log"]
    data = ("--data", str(replay_dir), "--report", "R")
    made = invoke(*first[:2], *data, *first[2:])
    assert made.exit_code == 0, made.stderr
    before = _contents(in_tmp / "R")

    run = _start(in_tmp, *args[:2], *data, *args[2:])
    _wait_for(in_tmp, pattern, run)
    run.send_signal(stop)
    _, err = run.communicate(timeout=120)

    said = "interrupted: nothing written (R is as it was)\n"
    assert (run.returncode, err.decode()) == (128 + stop, said)
    assert _contents(in_tmp / "R") == before
    assert [p.name for p in in_tmp.iterdir()] == ["R"]


def test_the_staging_folder_of_a_run_killed_outright_goes_with_the_next_run(
    replay_dir: Path, in_tmp: Path
):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = in_tmp / f".R.{dead.stdout.strip()}-abc123.staging"
    left.mkdir()
    (left / "backtest.db.1.partial").write_bytes(b"x" * 1000)

    made = invoke("backtest", HOURLY, "--data", str(replay_dir), "--report", "R",
                  "--from", "2024-01-01", "--to", "2024-01-31")  # fmt: skip

    assert made.exit_code == 0, made.stderr
    assert sorted(p.name for p in in_tmp.iterdir()) == ["R"]


def test_a_report_folder_under_a_file_names_the_file(replay_dir: Path, in_tmp: Path):
    (in_tmp / "afile").write_text("mine\n")

    refused = invoke("backtest", HOURLY, "--data", str(replay_dir), "--report", "afile/R",
                     "--from", "2024-01-01", "--to", "2024-01-31")  # fmt: skip

    assert (refused.exit_code, refused.stderr) == (1, "error: afile: Not a directory\n")
    assert sorted(p.name for p in in_tmp.iterdir()) == ["afile"]
