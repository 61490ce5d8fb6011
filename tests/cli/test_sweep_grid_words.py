"""A --grid value the param cannot take (a word where a number goes) is refused before anything
runs: one line naming the option and the value, nothing on stdout.

Regression test: ``sweep --grid oversold=a,b`` screened, printed an empty table, then listed the
two combinations as failed (exit 1). A word a param can take (a timeframe) still runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

BASELINE = str(STRATEGIES / "technical_baseline.yaml")
PROBLEM = (
    "rules[0].conditions[0].threshold: parameter '$oversold' is 'a', not a number "
    "(see strategy.params.oversold)"
)


@pytest.mark.parametrize(
    "command",
    [
        ("sweep",),
        ("walkforward", "--train", "365d", "--test", "90d"),
    ],
    ids=["sweep", "walkforward"],
)
def test_a_word_for_a_numeric_param_is_refused_up_front(replay_dir: Path, command):
    result = run(
        *command, BASELINE, "--grid", "oversold=25,a,b", "--from", "2022-01-01",
        "--to", "2023-12-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: --grid oversold=a: {BASELINE}: {PROBLEM}\n"


TIMEFRAMES = """
strategy:
  name: frames
  assets: [BTC]
  params: {frame: 1d, oversold: 30}
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14, timeframe=$frame) < $oversold"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14, timeframe=$frame) > 55"
"""


def test_a_word_the_param_takes_still_runs(replay_dir: Path, tmp_path: Path):
    strategy = tmp_path / "frames.yaml"
    strategy.write_text(TIMEFRAMES, encoding="utf-8")

    result = run(
        "sweep", str(strategy), "--grid", "frame=1d", "--grid", "oversold=25,30",
        "--from", "2023-01-01", "--to", "2023-03-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert "2 combinations" in result.stdout.splitlines()[0]
