"""A length written in a unit durations do not spell so (``4hours``, ``7days``, ``3y``) is called
an invalid duration with the way to write it, worded as the command line words ``--train 3y``
(a number with letters that are no unit, ``5x``, is still an invalid number: test_expression).

Regression test: ``sma(n=50, timeframe=4hours)`` and ``return(7days)`` gave ``invalid number
'4hours'``, which says nothing of durations nor of how to write one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, STRATEGIES
from conftest import invoke as run

from signalops.strategy.expression import ExpressionSyntaxError, parse

STRATEGY = """\
strategy:
  name: Slips
  assets: [BTC]
  rules:
    - id: trend
      source: technical
      conditions:
        - when: "sma(n=50, timeframe=4hours) > 1"
        - when: "return(7days) < -15%"
"""


def test_validate_says_each_misspelt_duration_and_how_to_write_it(in_tmp: Path):
    Path("s.yaml").write_text(STRATEGY, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 1
    assert result.stdout == "1 file: 0 valid, 1 invalid (2 errors)\n"
    assert result.stderr.splitlines() == [
        "error: s.yaml:8:38: rules[0].conditions[0].when: invalid duration '4hours': write 4h",
        '          - when: "sma(n=50, timeframe=4hours) > 1"',
        "                                       ^",
        "error: s.yaml:9:25: rules[0].conditions[1].when: invalid duration '7days': write 7d",
        '          - when: "return(7days) < -15%"',
        "                          ^",
    ]


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("15min", "invalid duration '15min': write 15m"),
        ("4H", "invalid duration '4H': write 4h"),
        ("2weeks", "invalid duration '2weeks': write 2w"),
        ("1.5Hours", "invalid duration '1.5Hours': write 1.5h"),
        ("30secs", "invalid duration '30secs': write 30s"),
        ("3y", "invalid duration '3y': there is no year unit: write 1095d or 156w"),
        ("2years", "invalid duration '2years': there is no year unit: write 730d or 104w"),
        ("3mo", "invalid duration '3mo': there is no month unit: write days or weeks, e.g. 90d "
                "or 13w"),
    ],
)  # fmt: skip
def test_a_length_in_another_spelling_is_an_invalid_duration_with_how_to_write_it(
    written: str, message: str
):
    text = f"return({written}) < 1"
    with pytest.raises(ExpressionSyntaxError) as caught:
        parse(text)
    assert (caught.value.message, caught.value.offset) == (message, len("return("))


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (("backtest", "--from", "2023-01-01", "--to", "2023-01-31"), "--every"),
        (("walkforward", "--grid", "oversold=25,30", "--from", "2022-01-01", "--to",
          "2023-12-31", "--test", "90d"), "--train"),
    ],
)  # fmt: skip
def test_a_command_lines_length_in_another_spelling_says_how_to_write_it(
    in_tmp: Path, command: tuple[str, ...], option: str
):
    # It said only "is not a duration such as 1h or 1d", as for anything else.
    name, *rest = command
    result = run(name, str(STRATEGIES / "technical_baseline.yaml"), *rest, option, "4hours")
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {option}: '4hours' is not a duration such as 1h or 1d (write 4h)\n",
    )


@pytest.mark.parametrize(
    ("command", "option", "written"),
    [
        (("backtest", "--from", "2023-01-01", "--to", "2023-01-31"), "--every", "0d"),
        (("backtest", "--from", "2023-01-01", "--to", "2023-01-31"), "--horizon", "0h"),
        (("backtest", "--from", "2023-01-01", "--to", "2023-01-31"), "--every", "-1d"),
        (("sweep", "--grid", "oversold=25,30", "--from", "2023-01-01", "--to", "2023-01-31"),
         "--every", "0h"),
        (("walkforward", "--grid", "oversold=25,30", "--from", "2022-01-01", "--to",
          "2023-12-31", "--test", "90d", "--train", "365d"), "--every", "0d"),
        (("run",), "--every", "0s"),
    ],
)  # fmt: skip
def test_a_command_lines_length_of_zero_is_said_to_be_one(
    in_tmp: Path, command: tuple[str, ...], option: str, written: str
):
    # '--every 0d' said "'0d' is not a duration such as 1h or 1d": it is one, of no length.
    name, *rest = command
    result = run(name, str(STRATEGIES / "technical_baseline.yaml"), *rest, option, written)
    assert (result.exit_code, result.stderr) == (
        1,
        f"error: {option}: '{written}' must be longer than 0 (e.g. 1h or 1d)\n",
    )


@pytest.mark.parametrize("command", ["import", "download"])
def test_a_timeframe_of_zero_is_said_to_be_one(in_tmp: Path, command: str):
    candles = DATA / "ohlcv" / "BTCUSDT_1h_binance_2020-10_2025-10.csv"
    file = [str(candles)] if command == "import" else []
    result = run("data", command, *file, "--source", "technical", "--asset", "BTC",
                 "--timeframe", "0h", "--to", "out")  # fmt: skip
    assert (result.exit_code, result.stderr) == (
        1,
        "error: --timeframe: '0h' must be longer than 0 (e.g. 1h or 1d)\n",
    )
    assert not Path("out").exists()
