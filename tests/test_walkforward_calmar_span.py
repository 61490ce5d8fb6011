"""A Calmar ratio annualises the return, so it is defined over a year or more only: in a
walk-forward's windows and stitched record as in a backtest's extended metrics
(``metrics.ANNUALISED_FROM``).

Regression tests: ``walkforward --objective calmar --test 180d`` annualised each test window's
return, so window 4's +25.26% in 180 days (max drawdown -11.76%) was an OOS Calmar of 4.92
((1.2526 ** (365 / 180) - 1) / 0.1176), beside a stitched 0.98 over the same two years; with
``--train 90d`` an in-sample Calmar reached 386.16 and chose the set. A backtest of half a year
showed its Calmar the same way (the universe golden's -1.33 over 181 days).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from conftest import STRATEGIES, invoke

from signalops.backtest.metrics import WinRate, calmar
from signalops.backtest.sweep import SweepRow
from signalops.research.walkforward import OBJECTIVES, Span, choose

DAY = timedelta(days=1)
BASELINE = STRATEGIES / "technical_baseline.yaml"
WALK = [
    "walkforward", str(BASELINE), "--grid", "oversold=20,25,30,35",
    "--from", "2022-01-01", "--to", "2024-12-31", "--objective", "calmar",
]  # fmt: skip


def row(total_return: float, max_drawdown: float) -> SweepRow:
    return SweepRow({}, total_return, max_drawdown, 1.0, WinRate.of(0, 0), 0.0, 0, 0.0, False)


def test_a_calmar_needs_a_year_by_the_calendar_and_is_the_annual_rate_over_the_drawdown():
    goal = OBJECTIVES["calmar"]
    gained = row(0.10, -0.05)
    # +10% in three weeks would be +424% a year: no Calmar, and no set chosen by one.
    weeks = Span(21 / 365, 21 * DAY)
    assert goal.value(gained, weeks) is None
    assert choose({0: gained, 1: row(0.05, 0.0)}, goal, weeks) is None
    assert goal.value(gained, Span(364 / 365, 364 * DAY)) is None
    # A year: the annual rate is the return itself. A stock's 365 days hold 250 sessions
    # (2023), 250 / 252 of a session year: the calendar decides, not the session count.
    assert goal.value(gained, Span(1.0, 365 * DAY)) == pytest.approx(2.0)
    assert goal.value(gained, Span(250 / 252, 365 * DAY)) == pytest.approx(
        (1.1 ** (252 / 250) - 1) / 0.05
    )
    # The other objectives are what they were over any span.
    assert OBJECTIVES["sharpe"].value(gained, weeks) == 1.0
    assert OBJECTIVES["return"].value(gained, Span(0.5, 182 * DAY)) == pytest.approx(0.21)


def test_a_backtests_calmar_needs_a_run_of_a_year_too():
    assert calmar(0.2, -0.1, 365 * DAY) == pytest.approx(2.0)
    assert calmar(4.24, -0.1, 21 * DAY) is None
    assert calmar(-0.0266, -0.02, 181 * DAY) is None


def test_test_windows_under_a_year_show_no_calmar_and_the_note_says_why(replay_dir: Path):
    result = invoke(*WALK, "--train", "365d", "--test", "180d", "--data", str(replay_dir))

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    cells = {line.split()[0]: line.split() for line in lines[3:8]}
    # window, in-sample (3 words), out-of-sample (3), oversold, IS Calmar, OOS Calmar, ...
    assert [cells[w][9] for w in "1234"] == ["—", "—", "—", "—"]
    assert [cells[w][8] for w in "1234"] == ["-0.15", "6.43", "2.20", "1.65"]  # a year each
    # Stitched: +27.64% over 720 days, (1.2764 ** (365 / 720) - 1) / 0.1350 = 0.98.
    assert cells["stitched"][4:6] == ["0.98", "+27.64%"]
    assert "in-sample vs out-of-sample Calmar: no window has both" in lines
    assert (
        "Calmar — for 4 test windows of 180d: it annualises the return, and under a year (365d) "
        "that extrapolates it (+10% in a month is over +200% a year); stitched (720d) has one"
    ) in lines


def test_a_calmar_walk_of_windows_of_a_year_has_no_note(replay_dir: Path):
    result = invoke(*WALK, "--train", "365d", "--test", "365d", "--data", str(replay_dir))

    assert result.exit_code == 0, result.stderr
    assert "annualises the return" not in result.stdout
    windows = [line.split() for line in result.stdout.splitlines()[3:5]]
    # 365 days each: the annual rate is the return. +1.90% / 9.21% and +26.50% / 11.20%.
    assert [(cells[9], cells[10], cells[11]) for cells in windows] == [
        ("0.21", "+1.90%", "-9.21%"),
        ("2.37", "+26.50%", "-11.20%"),
    ]


def test_calmar_chosen_on_training_windows_under_a_year_is_refused(replay_dir: Path):
    result = invoke(*WALK, "--train", "90d", "--test", "30d", "--data", str(replay_dir))

    assert result.exit_code == 1
    assert result.stderr == (
        "error: --objective calmar needs --train 365d or longer (got 90d): Calmar annualises "
        "the return, and under a year that extrapolates it; train longer, or choose by "
        "--objective sharpe or return\n"
    )
