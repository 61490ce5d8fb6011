"""The dashboard dates a drawdown's marks as the CLI's table does.

Regression test: an hourly backtest's trough at 2023-03-09 00:00 (the close of 03-08's last
hour) was ``2023-03-09 00:00`` in ``signalops backtest``'s table and ``2023-03-09`` on the
dashboard, which trimmed every ISO time at midnight to its day: a daily curve's ``2023-03-09``
is another thing, the day whose close the mark holds (``backtest.metrics``). metrics.json
writes a daily curve's marks as days and an hourly curve's as times; the dashboard now shows
each as written, a time with its time (``formatting.dated``, the CLI's
``backtest.formatting.dated``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.dashboard import documents

HOURLY = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")
DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
ROWS = ("drawdown peak", "drawdown trough", "recovered")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def both(replay_dir: Path, *args: str) -> tuple[list[list[str]], list[list[str]]]:
    """The drawdown rows of ``signalops backtest ARGS``'s table (its cells: metric, strategy,
    buy & hold), and the dashboard's rows of the report it wrote."""
    result = run("backtest", *args, "--data", str(replay_dir), "--report", "reports/run",
                 "--no-baseline")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(ROWS)]
    (report,) = documents.backtest_reports(Path("reports"))
    shown = [
        [row["metric"], row["strategy"], row["buy & hold"]]
        for row in report.comparison()
        if row["metric"] in ROWS
    ]
    return [re.split(r"\s{2,}", line) for line in lines], shown


def test_an_hourly_mark_at_midnight_keeps_its_time_as_in_the_table(replay_dir: Path, in_tmp: Path):
    table, shown = both(
        replay_dir, HOURLY, "--from", "2023-03-07", "--to", "2023-03-08T23:00:00Z",
        "--every", "1h",
    )  # fmt: skip

    assert table == [
        ["drawdown peak", "2023-03-08 01:00", "2023-03-07 03:00"],
        ["drawdown trough", "2023-03-09 00:00", "2023-03-09 00:00"],
        ["recovered", "not yet", "not yet"],
    ]
    assert shown == table


def test_a_daily_curve_is_dated_by_days_as_in_the_table(replay_dir: Path, in_tmp: Path):
    table, shown = both(replay_dir, DIP, "--from", "2023-01-01", "--to", "2023-06-30")

    assert table == [
        ["drawdown peak", "2023-03-09", "2023-02-20"],
        ["drawdown trough", "2023-03-10", "2023-03-10"],
        ["recovered", "2023-03-11", "2023-03-16"],
    ]
    assert shown == table
