"""``signalops run FOLDER`` runs the strategies ``signalops validate FOLDER`` checks.

Regression test: ``validate strategies/`` accepted a folder and ``run strategies/`` refused it
("is a directory, not a strategy file"), so the folder a workspace keeps its strategies in had
to be spelt out file by file (or by a shell glob, which misses the sub-folders validate reads).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.audit.store import AuditLog

DIP = (STRATEGIES / "banking_crisis_dip.yaml").read_text(encoding="utf-8")
BASELINE = (STRATEGIES / "technical_baseline.yaml").read_text(encoding="utf-8")
CYCLES = [
    "2023-03-08T00:00:00Z  2 decisions: 2 HOLD",
    "2023-03-09T00:00:00Z  2 decisions: 2 HOLD",
    "2023-03-10T00:00:00Z  2 decisions: 2 BUY (2 filled)",
]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of two strategies, one in a sub-folder, beside a config file."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine" / "daily").mkdir(parents=True)
    (tmp_path / "mine" / "dip.yaml").write_text(DIP, encoding="utf-8")
    (tmp_path / "mine" / "daily" / "baseline.yml").write_text(BASELINE, encoding="utf-8")
    (tmp_path / "mine" / "signalops.yaml").write_text("risk: {max_position: 0.05}\n")
    return tmp_path


def replay(replay_dir: Path, audit: str, *strategies: str):
    return run(
        "run", *strategies, "--replay", str(replay_dir), "--from", "2023-03-08",
        "--to", "2023-03-10", "--audit", audit,
    )  # fmt: skip


def lines(stdout: str) -> list[str]:
    return [re.sub(r"  \[\d+\.\d+s\]$", "", line) for line in stdout.splitlines()]


def decided(audit: str) -> list[tuple[str, str, str]]:
    """(strategy, its file, asset) of each decision in the log, in order."""
    log = AuditLog(Path(audit))
    try:
        found = {
            (d["strategy"]["name"], d["strategy"]["file"], d["asset"])
            for d in log.decisions(limit=None)
        }
    finally:
        log.close()
    return sorted(found)


def test_a_folder_runs_its_strategies_as_if_each_were_named(in_tmp: Path, replay_dir: Path):
    checked = run("validate", "mine")
    folder = replay(replay_dir, "folder.db", "mine")
    named = replay(replay_dir, "named.db", "mine/dip.yaml", "mine/daily/baseline.yml")

    assert checked.exit_code == 0, checked.output
    assert (folder.exit_code, folder.stderr) == (0, "")
    assert lines(folder.stdout) == CYCLES
    assert (named.exit_code, lines(named.stdout)) == (0, CYCLES)
    both = [
        ("Banking_Crisis_Dip", "mine/dip.yaml", "BTC"),
        ("Technical_Baseline", "mine/daily/baseline.yml", "BTC"),
    ]
    assert decided("folder.db") == decided("named.db") == both


def test_a_file_named_beside_its_folder_runs_once(in_tmp: Path, replay_dir: Path):
    result = replay(replay_dir, "a.db", "mine", "mine/dip.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
    assert lines(result.stdout) == CYCLES


def test_two_files_of_one_strategy_in_a_folder_are_refused_together(in_tmp: Path, replay_dir: Path):
    (in_tmp / "mine" / "daily" / "copy.yaml").write_text(DIP, encoding="utf-8")

    result = replay(replay_dir, "a.db", "mine")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: mine/daily/copy.yaml and mine/dip.yaml both name strategy Banking_Crisis_Dip: "
        "one file per name (they would share one book, its positions and its cooldown)\n"
    )
    assert not (in_tmp / "a.db").exists()


def test_a_folder_without_strategies_is_refused_as_validate_refuses_it(in_tmp: Path):
    (in_tmp / "empty").mkdir()
    (in_tmp / "configs").mkdir()
    (in_tmp / "configs" / "signalops.yaml").write_text("risk: {max_position: 0.05}\n")

    empty = run("run", "empty", "--once", "--audit", "a.db")
    checked = run("validate", "empty")
    configs = run("run", "configs", "--once", "--audit", "a.db")

    nothing = "error: no strategy files (*.yaml, *.yml) found in empty\n"
    assert (empty.exit_code, empty.stderr) == (1, nothing)
    assert (checked.exit_code, checked.stderr) == (1, nothing)
    assert (configs.exit_code, configs.stderr) == (
        1,
        "error: no strategy files (*.yaml, *.yml) found in configs, only config files "
        "(configs/signalops.yaml)\n",
    )
    assert not (in_tmp / "a.db").exists()


def test_run_help_says_it_takes_folders():
    shown = " ".join(run("run", "--help").stdout.split())

    assert "STRATEGIES are strategy files or folders of them" in shown
    assert "signalops run strategies/ --mode notify --every 5m" in shown
