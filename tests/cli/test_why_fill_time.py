"""``why`` of a backtest of a stock: a fill's follow-up says when it filled.

Regression test: FOLLOW-UPS read ``2020-01-02T00:00:00Z  filled ...`` under ``fill ... at
2020-01-02T14:30:00Z``: the fill record's ``recorded_at`` (a backtest records it at the
decision's time), not the next session's open it filled at.
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
    out = tmp_path_factory.mktemp("why_fill") / "report"
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
