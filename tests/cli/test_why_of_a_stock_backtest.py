"""``why`` over a backtest of a stock (AAPL's sessions 2020-01-02 to 01-10).

Regression tests:
- FOLLOW-UPS read ``2020-01-02T00:00:00Z  filled ...`` under ``fill ... at
  2020-01-02T14:30:00Z``: the fill record's ``recorded_at`` (a backtest records it at the
  decision's time), not the next session's open it filled at.
- ``why AAPL --at 2020-01-04`` (a Saturday) said only ``no decision for AAPL at 2020-01-04``,
  leaving the trader to guess the days to ask: it names the nearest days with a decision.
- ``why AAPL --at 0001-01-01`` and ``--at 9999-12-31`` raised OverflowError (the day before
  the first, the end of the last), and a time past either end of UTC in its own zone the same:
  the one-line "no decision" error, and a refused --at.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT

from signalops.cli import cli

EQUITIES = ROOT / "examples" / "signalops.equities.yaml"
AAPL_TREND = ROOT / "tests" / "fixtures" / "aapl_trend.yaml"


@pytest.fixture(scope="module")
def log(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AAPL's sessions 2020-01-02 to 01-10: it buys on the 2nd, at that day's open."""
    out = tmp_path_factory.mktemp("why_stock") / "report"
    result = CliRunner().invoke(
        cli,
        ["backtest", str(AAPL_TREND), "--config", str(EQUITIES), "--data", str(replay_dir),
         "--from", "2020-01-01", "--to", "2020-01-10", "--report", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out / "backtest.db"


def why(log: Path, at: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(cli, ["why", "AAPL", "--at", at, "--audit", str(log)])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_a_backtest_fills_follow_up_is_at_the_time_it_filled(log: Path):
    code, lines, _ = why(log, "2020-01-02")
    assert code == 0
    assert lines[0] == "AAPL at 2020-01-02T00:00:00Z: BOUGHT"
    assert lines[-5:] == [
        "EXECUTION: FILLED: paper BUY 13.62212232 AAPL at 74.097 USD (fee 1.01 USD)",
        "  fill 13.62212232 AAPL at 74.097 USD, fee 1.01 USD (paper) at 2020-01-02T14:30:00Z",
        "  venue order paper-1",
        "FOLLOW-UPS:",
        "  2020-01-02T14:30:00Z  filled 13.62212232 AAPL at 74.097 USD, fee 1.01 USD (paper)",
    ]


@pytest.mark.parametrize(
    ("at", "nearest"),
    [
        ("2020-01-04", "the nearest are on 2020-01-03 and 2020-01-06"),  # a Saturday
        ("2020-01-05", "the nearest are on 2020-01-03 and 2020-01-06"),
        ("2020-01-01", "the first is on 2020-01-02"),  # a holiday, before the first session
        ("2015-06-01", "the first is on 2020-01-02"),  # years before
        ("2020-01-01T12:00", "the first is on 2020-01-02"),  # a time: none at or before it
        ("2020-01-11", "the last is on 2020-01-10"),  # after the backtest's end
        ("0001-01-01", "the first is on 2020-01-02"),  # the first day a date can be
        ("9999-12-31", "the last is on 2020-01-10"),  # and the last
        ("0001-01-01T00:00", "the first is on 2020-01-02"),
    ],
)
def test_a_day_without_a_decision_names_the_nearest_days_with_one(log: Path, at: str, nearest: str):
    code, lines, stderr = why(log, at)
    assert (code, lines) == (1, [])
    assert stderr == f"error: no decision for AAPL at {at} in {log}: {nearest}\n"


@pytest.mark.parametrize("at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
def test_a_time_past_either_end_of_utc_is_refused_in_one_line(log: Path, at: str):
    assert why(log, at) == (
        1, [], f"error: --at: '{at}' is not a time UTC has (0001-01-01 to 9999-12-31)\n"
    )  # fmt: skip


def test_a_strategy_named_narrows_the_nearest_days_to_its_decisions(log: Path):
    result = CliRunner().invoke(
        cli, ["why", "AAPL", "--at", "2020-01-04", "--strategy", "aapl_trend", "--audit", str(log)]
    )
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no decision for AAPL at 2020-01-04 by aapl_trend in {log}: "
        "the nearest are on 2020-01-03 and 2020-01-06\n"
    )
