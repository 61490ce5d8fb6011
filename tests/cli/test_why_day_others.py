"""``why ASSET --at DAY`` explains the day's latest decision and says how many others that day
holds, and how to list them.

Regression test: on an hourly log it showed the 23:00 decision alone, with no word of the 23
earlier ones. A day of one decision (the daily goldens) gets no such line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

HOURLY = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")
LISTING = "signalops decisions --asset BTC{by} --since 2023-03-10 --until 2023-03-10"


def backtest(replay_dir: Path, folder: Path, strategy: str, *extra: str) -> str:
    made = run(
        "backtest", strategy, "--data", str(replay_dir), "--from", "2023-03-10",
        "--report", str(folder), *extra,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(folder / "backtest.db")


@pytest.fixture(scope="module")
def hourly_log(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """24 hourly BTC decisions on 2023-03-10."""
    folder = tmp_path_factory.mktemp("hourly") / "report"
    return backtest(replay_dir, folder, HOURLY, "--to", "2023-03-10T23:00:00Z", "--every", "1h")


def test_why_on_a_day_of_hourly_decisions_says_how_many_others_and_how_to_list_them(
    hourly_log: str,
):
    result = run("why", "BTC", "--at", "2023-03-10", "--audit", hourly_log)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("BTC at 2023-03-10T23:00:00Z: ")
    assert lines[-1] == f"(23 earlier decisions on 2023-03-10: {LISTING.format(by='')})"
    assert sum(line.startswith("(") and "earlier" in line for line in lines) == 1


def test_with_a_strategy_the_listing_names_it(hourly_log: str):
    result = run(
        "why", "BTC", "--at", "2023-03-10", "--strategy", "Hourly_RSI_Bench",
        "--audit", hourly_log,
    )  # fmt: skip

    assert result.stdout.splitlines()[-1] == (
        f"(23 earlier decisions on 2023-03-10: {LISTING.format(by=' --strategy Hourly_RSI_Bench')})"
    )


def test_the_listing_it_names_lists_the_other_decisions(hourly_log: str):
    listed = run(
        "decisions", "--asset", "BTC", "--since", "2023-03-10", "--until", "2023-03-10",
        "--audit", hourly_log,
    )  # fmt: skip

    assert len(listed.stdout.splitlines()) == 24


def test_a_time_or_a_day_of_one_decision_says_nothing_more(
    hourly_log: str, replay_dir: Path, tmp_path: Path
):
    at_a_time = run("why", "BTC", "--at", "2023-03-10T05:00:00Z", "--audit", hourly_log)
    baseline = str(STRATEGIES / "technical_baseline.yaml")
    daily = backtest(replay_dir, tmp_path / "daily", baseline, "--to", "2023-03-12")
    one_that_day = run("why", "BTC", "--at", "2023-03-10", "--audit", daily)

    for result in (at_a_time, one_that_day):
        assert result.exit_code == 0, result.output
        assert "earlier decision" not in result.stdout
        assert not result.stdout.splitlines()[-1].startswith("(")


def test_json_stays_json(hourly_log: str):
    result = run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", hourly_log)

    assert json.loads(result.stdout)["as_of"] == "2023-03-10T23:00:00Z"
