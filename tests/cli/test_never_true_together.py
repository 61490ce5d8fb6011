"""Two comparisons of the same metric with constants, in a group whose conditions must all pass
(a rule, an ``all:``, an ``and``), whose ranges do not meet can never be true together:
``validate`` warns at the second (``signalops.strategy.thresholds.never_together``). A warning,
not an error: each alone is a sound condition. The ends of the ranges are exact (``<= 30`` and
``>= 30`` meet at 30), and comparisons of two metrics, arithmetic, ``!=`` and conditions under
``any``, ``not`` or a vote are left alone.

Regression test: ``rsi(14) < 30 and rsi(14) > 70``, a rule that can never confirm, validated
without a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

from signalops.backtest.sweep import grid_warnings
from signalops.catalogue.builtin import BUILTIN
from signalops.strategy import loads

STRATEGY = """\
strategy:
  name: Dead
  assets: [BTC]
  params: {oversold: 30}
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < $oversold and rsi(14) > 70"
        - when: "return(7d) > 5%"
        - all:
            - when: "return(1w) < 0"
            - metric: volume_z
              operator: between
              threshold: [1, 2]
        - any:
            - when: "volume_z(20) > 3"
        - when: "rsi(14) <= 30 and rsi(14) >= 30"
"""


def test_validate_warns_at_the_condition_that_can_never_be_true_with_an_earlier_one(
    in_tmp: Path,
):
    Path("s.yaml").write_text(STRATEGY, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 0
    assert result.stdout == (
        "ok s.yaml  Dead: 1 entry rule, 0 exit rules, 0 vetoes, 8 conditions\n1 file: 1 valid\n"
    )
    assert result.stderr.splitlines() == [
        "warning: s.yaml:9:42: rules[0].conditions[0].when: rsi(14) > 70 can never be true "
        "together with rsi(14) < 30",
        '          - when: "rsi(14) < $oversold and rsi(14) > 70"',
        "                                           ^",
        "warning: s.yaml:12:22: rules[0].conditions[2].all[0].when: return(7d) < 0 can never be "
        "true together with line 10: return(7d) > 5%",
        '              - when: "return(1w) < 0"',
        "                       ^",
        "warning: s.yaml:18:18: rules[0].conditions[4].when: rsi(14) <= 30 can never be true "
        "together with line 9: rsi(14) > 70",
        '          - when: "rsi(14) <= 30 and rsi(14) >= 30"',
        "                   ^",
        "warning: s.yaml:18:36: rules[0].conditions[4].when: rsi(14) >= 30 can never be true "
        "together with line 9: rsi(14) < 30",
        '          - when: "rsi(14) <= 30 and rsi(14) >= 30"',
        "                                     ^",
    ]


def test_the_warning_is_told_beside_the_errors_of_the_file(in_tmp: Path):
    text = STRATEGY.replace('"return(7d) > 5%"', '"return(7d) > < 5%"')
    Path("s.yaml").write_text(text, encoding="utf-8")

    result = run("validate", "s.yaml")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[:4] == [
        "error: s.yaml:10:31: rules[0].conditions[1].when: unexpected '<'",
        '          - when: "return(7d) > < 5%"',
        "                                ^",
        "  expected one of: '$param', '(', '-', duration, name, number, string",
    ]
    # The rule's other conditions are still checked together.
    assert [line for line in result.stderr.splitlines() if line.startswith("warning")] == [
        "warning: s.yaml:9:42: rules[0].conditions[0].when: rsi(14) > 70 can never be true "
        "together with rsi(14) < 30",
        "warning: s.yaml:18:18: rules[0].conditions[4].when: rsi(14) <= 30 can never be true "
        "together with line 9: rsi(14) > 70",
        "warning: s.yaml:18:36: rules[0].conditions[4].when: rsi(14) >= 30 can never be true "
        "together with line 9: rsi(14) < 30",
    ]


def _warnings(when: str) -> list[str]:
    text = (
        "strategy:\n"
        "  name: T\n"
        "  assets: [BTC]\n"
        "  rules:\n"
        "    - id: r\n"
        "      source: technical\n"
        "      conditions:\n"
        f'        - when: "{when}"\n'
    )
    return [warning.message for warning in loads(text, "s.yaml").warnings]


@pytest.mark.parametrize(
    ("when", "later", "earlier"),
    [
        ("rsi(14) < 30 and rsi(14) > 70", "rsi(14) > 70", "rsi(14) < 30"),
        ("rsi(14) < 30 and rsi(14) >= 30", "rsi(14) >= 30", "rsi(14) < 30"),
        ("rsi(14) <= 30 and rsi(14) > 30", "rsi(14) > 30", "rsi(14) <= 30"),
        ("rsi(14) == 30 and rsi(14) > 30", "rsi(14) > 30", "rsi(14) == 30"),
        ("rsi(14) between 30 and 40 and rsi(14) > 40", "rsi(14) > 40",
         "rsi(14) between 30 and 40"),
        ("rsi(14) between 30 and 40 and rsi(14) < 30", "rsi(14) < 30",
         "rsi(14) between 30 and 40"),
        ("30 > rsi(14) and rsi(14) > 70", "rsi(14) > 70", "30 > rsi(14)"),
        ("rsi(n=14) < 30 and rsi(14) > 70", "rsi(14) > 70", "rsi(14) < 30"),  # one metric
        ("return(24h) > 5% and return(1d) < 0", "return(1d) < 0", "return(1d) > 5%"),
        ("technical.close < 100 and close > 200", "close > 200", "close < 100"),
        ("rsi(14) < 30 and rsi(14) > 20 and rsi(14) > 35", "rsi(14) > 35", "rsi(14) < 30"),
        # the inner 'or' may fail; the two after it must both pass, and are told once
        ("(rsi(14) < 30 or close > 1) and rsi(14) > 70 and rsi(14) < 30", "rsi(14) < 30",
         "rsi(14) > 70"),
    ],
)  # fmt: skip
def test_ranges_that_do_not_meet_are_told_once_at_the_later_condition(
    when: str, later: str, earlier: str
):
    assert _warnings(when) == [f"{later} can never be true together with {earlier}"]


@pytest.mark.parametrize(
    "when",
    [
        "rsi(14) <= 30 and rsi(14) >= 30",  # both pass at 30
        "rsi(14) == 30 and rsi(14) between 30 and 40",
        "rsi(14) between 30 and 40 and rsi(14) between 40 and 50",
        "rsi(14) < 30 or rsi(14) > 70",
        "rsi(14) < 30 and rsi(7) > 70",  # another metric: other arguments
        "rsi(14) < 30 and rsi(14, timeframe=4h) > 70",
        "close < sma(20) and close > sma(20) * 1.1",  # two metrics: not constants
        "rsi(14) < 30 and (rsi(14) > 70 or close > 1)",
    ],
)
def test_ranges_that_meet_or_conditions_that_may_both_pass_are_not_told(when: str):
    assert _warnings(when) == []


def test_a_sweep_value_that_makes_a_rule_never_true_is_warned_of_without_a_line():
    # The sweep compiles each value from a one-line JSON document: a line there is no line of
    # the file, so the condition is named without one.
    strategy = loads(
        "strategy:\n"
        "  name: T\n"
        "  assets: [BTC]\n"
        "  params: {oversold: 30, floor: 20}\n"
        "  rules:\n"
        "    - id: r\n"
        "      source: technical\n"
        "      conditions:\n"
        '        - when: "rsi(14) < $oversold"\n'
        '        - when: "rsi(14) > $floor"\n',
        "s.yaml",
    )

    assert grid_warnings(strategy, {"floor": [20, 80]}, BUILTIN, "s.yaml") == [
        "floor=80: s.yaml: rules[0].conditions[1].when: rsi(14) > 80 can never be true "
        "together with rsi(14) < 30"
    ]
