"""A --grid value is checked in the unit it is written in, as ``validate`` checks the same value
in the file, and the tables show it as written; a walk-forward window says why its length is
refused.

Regression tests (a trader walkthrough):

- ``sweep --grid oversold=30%`` on ``rsi(14) < $oversold`` screened ``rsi < 0.3`` silently (a row
  0.3, no trades, exit 0), where ``validate`` refuses ``oversold: 30%`` (rsi is on a 0-100 scale);
  ``--grid oversold=0.3``, which ``validate`` warns of, said nothing;
- ``--grid drop=-10%`` was shown as ``-0.1``;
- ``walkforward --test 0d`` said ``'0d' is not a duration``, and ``--train 1y`` gave no hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from conftest import ROOT
from conftest import invoke as run

DIP = """
strategy:
  name: dip
  assets: [BTC]
  params: {oversold: 30, drop: -10%}
  rules:
    - id: dip
      source: technical
      conditions:
        - when: "rsi(14) < $oversold"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14) > 60"
      - id: stop
        source: technical
        conditions:
          - when: "return(10d) < $drop"
"""
PERIOD = ("--from", "2023-01-01", "--to", "2023-12-31")
WINDOWS = ("--from", "2022-01-01", "--to", "2023-12-31", "--train", "180d", "--test", "180d")
PERCENT_ON_RSI = (
    "rules[0].conditions[0].when: rsi(14) < 30%: rsi is on a 0-100 scale, so 30% reads as 0.3 "
    "(did you mean 30?)"
)
HEADING = "dip · BTC · 2023-01-01 .. 2023-12-31 every 1d · {} · fee 10 bps, slippage 5 bps"
FOOTER = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)


@pytest.fixture
def dip(tmp_path: Path) -> str:
    path = tmp_path / "dip.yaml"
    path.write_text(DIP, encoding="utf-8")
    assert run("validate", str(path)).stderr == ""  # the file itself is clean
    return str(path)


def _sweep(replay_dir: Path, *args: str) -> Result:
    return run("sweep", *args, *PERIOD, "--data", str(replay_dir))


@pytest.mark.parametrize(
    ("values", "others"),
    [("30%", []), ("25,30%", ["25"]), ("25,35,30%", ["25", "35"])],
    # alone (the first combination), the second tree's value, a value the template checks
    ids=["first", "second", "third"],
)
def test_a_percent_on_a_0_100_scale_fails_as_validate_refuses_it(
    replay_dir: Path, dip: str, values: str, others: list[str]
):
    result = _sweep(replay_dir, dip, "--grid", f"oversold={values}")

    assert result.exit_code == 1
    rows = result.stdout.splitlines()[3:-1]
    assert [row.split()[0] for row in rows] == others  # no row screened as rsi < 0.3
    told = f"1 of {len(others) + 1} combinations failed; the rest are shown above"
    assert result.stderr.splitlines() == [
        f"failed: BTC oversold=30%: {dip} with oversold=30%: {PERCENT_ON_RSI}",
        f"error: {told if others else 'the only combination failed'}",
    ]


def test_a_percent_on_a_0_100_scale_fails_for_every_walkforward_window(replay_dir: Path, dip: str):
    result = run(
        "walkforward", dip, "--grid", "oversold=25,35,30%", *WINDOWS, "--data", str(replay_dir)
    )

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"failed: oversold=30%: {dip} with oversold=30%: {PERCENT_ON_RSI}",
        "error: 1 of 3 combinations failed and was left out of every window; the rest are shown "
        "above",
    ]


def test_a_fraction_on_a_0_100_scale_is_screened_with_validates_warning(replay_dir: Path, dip: str):
    result = _sweep(replay_dir, dip, "--grid", "oversold=25,0.3")

    assert result.exit_code == 0, result.output
    assert result.stderr == (
        f"warning: --grid oversold=0.3: {dip}: rules[0].conditions[0].when: rsi(14) < 0.3: rsi is "
        "on a 0-100 scale, where 0.3 is under 1% (did you mean 30?)\n"
    )
    assert [row.split()[0] for row in result.stdout.splitlines()[3:-1]] == ["25", "0.3"]


def test_a_percent_is_shown_as_written(replay_dir: Path, dip: str):
    result = _sweep(replay_dir, dip, "--grid", "drop=-10%,-5%")

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        HEADING.format("2 combinations"),
        "drop   return   max DD   trades   win rate   exposure   blocked bars",
        "────────────────────────────────────────────────────────────────────",
        "-10%   +4.83%   -9.21%        1       100%      12.3%              0",
        " -5%   -1.03%   -7.06%        1         0%       3.3%              0",
        FOOTER,
    ]


def test_a_percent_is_shown_as_written_in_the_walkforward_table(replay_dir: Path, dip: str):
    result = run("walkforward", dip, "--grid", "drop=-10%,-5%", *WINDOWS, "--data", str(replay_dir))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[4].split()[:6] == ["2", "2022-06-30", "..", "2022-12-26", "2022-12-27", ".."]
    assert lines[4].split()[7] == "-10%"
    assert "drop chosen: -10% in 1 of 3 windows (33%)" in lines


@pytest.mark.parametrize(
    ("train", "test", "message"),
    [
        ("365d", "0d", "--test: '0d' must be longer than 0 (e.g. 90d)"),
        ("0w", "90d", "--train: '0w' must be longer than 0 (e.g. 365d)"),
        ("-30d", "90d", "--train: '-30d' must be longer than 0 (e.g. 365d)"),
        (
            "1y",
            "90d",
            "--train: '1y' is not a duration such as 1h or 1d (there is no year unit: write "
            "365d or 52w)",
        ),
        (
            "2years",
            "90d",
            "--train: '2years' is not a duration such as 1h or 1d (there is no year unit: write "
            "730d or 104w)",
        ),
        (
            "365d",
            "3mo",
            "--test: '3mo' is not a duration such as 1h or 1d (there is no month unit: write "
            "days or weeks, e.g. 90d or 13w)",
        ),
        ("365d", "soon", "--test: 'soon' is not a duration such as 1h or 1d"),
    ],
)
def test_a_window_length_says_what_is_wrong_with_it(
    replay_dir: Path, dip: str, train: str, test: str, message: str
):
    result = run(
        "walkforward", dip, "--grid", "oversold=25,30", "--from", "2022-01-01",
        "--to", "2023-12-31", "--train", train, "--test", test, "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"


def test_a_walk_of_one_window_counts_it_in_the_singular(replay_dir: Path):
    """It said 'oversold chosen: 25 in 1 of 1 windows (100%)'."""
    result = run(
        "walkforward", str(ROOT / "strategies" / "banking_crisis_dip.yaml"), "--grid",
        "oversold=25,30,35", "--from", "2023-03-22", "--to", "2023-12-16", "--train", "180d",
        "--test", "90d", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "oversold chosen: 25 in 1 of 1 window (100%)" in result.stdout.splitlines()
