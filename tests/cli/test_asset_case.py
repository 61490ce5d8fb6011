"""An asset typed in another case than the log's: ``decisions --asset btc`` and ``why btc --at``
find the log's BTC.

Regression tests: both said nothing matched (``no decisions match``, ``error: no decision for
btc at 2023-03-10``) while ``--verdict buy`` (a choice, any case) worked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

HOURLY = str(ROOT / "tests" / "fixtures" / "hourly_rsi.yaml")


@pytest.fixture(scope="module")
def hourly_log(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A backtest's log of 24 hourly BTC decisions on 2023-03-10."""
    report = tmp_path_factory.mktemp("hourly") / "report"
    made = run(
        "backtest", HOURLY, "--data", str(replay_dir), "--from", "2023-03-10",
        "--to", "2023-03-10T23:00:00Z", "--every", "1h", "--report", str(report),
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    return str(report / "backtest.db")


def test_decisions_for_an_asset_in_lower_case_lists_the_logs_upper_case_one(hourly_log: str):
    lower = run("decisions", "--asset", "btc", "--limit", "2", "--audit", hourly_log)
    upper = run("decisions", "--asset", "BTC", "--limit", "2", "--audit", hourly_log)

    assert lower.exit_code == 0, lower.output
    assert lower.stdout == upper.stdout
    assert [line.split()[:2] for line in lower.stdout.splitlines()] == [
        ["2023-03-10T23:00:00Z", "BTC"],
        ["2023-03-10T22:00:00Z", "BTC"],
        ["the", "newest"],  # 2 shown; more match
    ]


def test_why_an_asset_in_lower_case_explains_the_logs_upper_case_one(hourly_log: str):
    lower = run("why", "btc", "--at", "2023-03-10T05:00:00Z", "--audit", hourly_log)
    upper = run("why", "BTC", "--at", "2023-03-10T05:00:00Z", "--audit", hourly_log)

    assert lower.exit_code == 0, lower.output
    assert lower.stdout == upper.stdout
    assert lower.stdout.startswith("BTC at 2023-03-10T05:00:00Z: ")


def test_an_asset_the_log_does_not_hold_in_any_case_still_matches_nothing(hourly_log: str):
    listed = run("decisions", "--asset", "eth", "--audit", hourly_log)
    explained = run("why", "eth", "--at", "2023-03-10", "--audit", hourly_log)

    # Nothing near it in the log: the log's assets are listed.
    hint = "the log has no asset eth (its assets: BTC)"
    assert (listed.exit_code, listed.stdout) == (0, f"no decisions match: {hint}\n")
    assert explained.exit_code == 1
    assert explained.stderr == (
        f"error: no decision for eth at 2023-03-10 in {hourly_log}: {hint}\n"
    )
