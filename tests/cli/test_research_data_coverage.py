"""``sweep`` and ``walkforward`` say which part of the period the data does not cover, as
``backtest`` does (the same notes), and a walk-forward window without data is not shown as a
choice of cash.

Regression tests (a trader walkthrough): in a folder whose BTC candles cover one year, ``sweep
--from 2022-01-01 --to 2024-12-31`` printed a clean table over three years (exit 0) where
``backtest`` notes that the candles start late and end early; ``walkforward`` showed windows
whose training years had no data as "cash" ("no set has a Sharpe in-sample"), listed each of
their sets as failed, and its stitched record counted the time without data as flat.

The bundled BTC daily candles run from 2017-08-18 to 2026-03-31 (their closes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.backtest.bars import Bars
from signalops.backtest.sweep import simulate
from signalops.evaluation.vectorized import BUY, HOLD

BASELINE = str(STRATEGIES / "technical_baseline.yaml")
DAY = 86_400.0
STARTS = (
    "the 1d BTC candles start at 2017-08-18T00:00:00Z, after the first decision ({first}): "
    "{n} decisions before could price no order, and the metrics count that time as cash"
)
ENDS = (
    "the 1d BTC candles end at 2026-03-31T00:00:00Z, before the last decision ({last}): {n} "
    "decisions after could price no order, and the metrics value BTC at that last close from "
    "then on"
)
FOOTER = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)
WALK_FOOTER = (
    "each test window starts flat with the starting cash; stitched chains them, selling a "
    "position open at a window's end at its last close (fee and slippage); " + FOOTER
)
DATA_LINE = (
    "data IS / OOS: the share of each window's decision times the 1d BTC candles "
    "(2017-08-18 .. 2026-03-31) can price an order at"
)


def test_the_sweep_notes_the_decisions_before_and_after_the_data(replay_dir: Path):
    result = run(
        "sweep", BASELINE, "--grid", "oversold=25,30", "--from", "2017-06-01",
        "--to", "2026-06-30", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Technical_Baseline · BTC · 2017-06-01 .. 2026-06-30 every 1d · 2 combinations · "
        "fee 10 bps, slippage 5 bps",
        "oversold    return    max DD   trades   win rate   exposure   blocked bars",
        "──────────────────────────────────────────────────────────────────────────",
        "      30   +56.86%   -51.14%       18        61%      19.8%              0",
        "      25    -4.35%   -44.79%       12        67%      16.1%              0",
        "note: " + STARTS.format(first="2017-06-01T00:00:00Z", n=78),
        "note: " + ENDS.format(last="2026-06-30T00:00:00Z", n=92),
        FOOTER,
    ]


def test_the_backtest_says_the_same_of_the_same_period(replay_dir: Path, tmp_path: Path):
    result = run(
        "backtest", BASELINE, "--from", "2017-06-01", "--to", "2026-06-30",
        "--data", str(replay_dir), "--report", str(tmp_path / "report"),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    notes = result.stderr.splitlines()
    assert "note: " + STARTS.format(first="2017-06-01T00:00:00Z", n=78) in notes
    assert "note: " + ENDS.format(last="2026-06-30T00:00:00Z", n=92) in notes


def test_a_walk_forward_window_without_training_data_is_not_a_choice_of_cash(replay_dir: Path):
    result = run(
        "walkforward", BASELINE, "--grid", "oversold=25,30", "--from", "2016-07-01",
        "--to", "2019-06-30", "--train", "365d", "--test", "180d", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the window without data is not a failed screen
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    assert lines == [
        "Technical_Baseline · BTC · walk-forward, rolling: train 365d, test 180d · 4 windows "
        "tested 2017-07-01 .. 2019-06-20 every 1d · 2 combinations · objective Sharpe · "
        "fee 10 bps, slippage 5 bps",
        "window     in-sample                  out-of-sample              data IS / OOS   "
        "oversold   IS Sharpe   OOS Sharpe    return    max DD      trades   win rate   exposure",
        "─" * 168,
        "1          2016-07-01 .. 2017-06-30   2017-07-01 .. 2017-12-27      none / 73%          "
        "—           —            —   no data",
        "2          2016-12-28 .. 2017-12-27   2017-12-28 .. 2018-06-25       36% / all          "
        "—           —            —      cash",
        "3          2017-06-26 .. 2018-06-25   2018-06-26 .. 2018-12-22       85% / all         "
        "30        1.60        -1.58   -33.36%   -45.80%   0 +1 open          —      21.1%",
        "4          2017-12-23 .. 2018-12-22   2018-12-23 .. 2019-06-20       all / all         "
        "30        0.40            —    +0.00%     0.00%           0          —       0.0%",
        "stitched                              2017-07-01 .. 2019-06-20                        "
        "                       -0.79   -33.46%   -45.80%           1         0%       5.3%",
        "oversold chosen: 30 in 2 of 4 windows (50%)",
        "the chosen set changed 0 times in 1 step",
        "1 window without a choice (no set has a Sharpe in-sample) held cash",
        DATA_LINE + "; none in-sample in window 1: not screened, nothing chosen "
        '("no data", not a choice of cash)',
        "stitched: " + STARTS.format(first="2017-07-01T00:00:00Z", n=48),
        "in-sample → out-of-sample Sharpe (mean of the 1 window with both): 1.60 → -1.58, "
        "out/in -98%",
        WALK_FOOTER,
    ]


def test_a_walk_forward_test_window_past_the_data_is_not_judged(replay_dir: Path):
    result = run(
        "walkforward", BASELINE, "--grid", "oversold=25,30", "--from", "2025-01-01",
        "--to", "2026-12-31", "--train", "180d", "--test", "120d", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    cells = {line.split()[0]: line.split()[7:] for line in lines[3:7]}
    assert cells["3"][:3] == ["all", "/", "28%"]
    assert cells["4"] == ["52%", "/", "none", "25", "-0.33", "—", "no", "data"]
    assert DATA_LINE + "; none out-of-sample in window 4: not judged, cash in stitched" in lines
    assert "stitched: " + ENDS.format(last="2026-10-22T00:00:00Z", n=206) in lines


def test_a_walk_forward_no_training_span_of_which_has_data_is_refused(replay_dir: Path):
    result = run(
        "walkforward", BASELINE, "--grid", "oversold=25,30", "--from", "2015-01-01",
        "--to", "2017-12-31", "--train", "730d", "--test", "180d", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: no walk-forward window has 1d BTC candles in its training span (the last: "
        "2015-06-30 .. 2017-06-28): the recorded data covers 2017-08-18 .. 2026-03-31; start "
        "--from later or train for less (--train)\n"
    )


def test_the_screen_fills_no_order_decided_before_the_first_close():
    """As the backtest's risk gate (no price to size it with): a BUY decided before the data
    starts bought at the first bar's open, and the position was worth 0 until its first close
    (a -100% drawdown)."""
    closes = np.arange(1, 5) * DAY  # bar i opens at day i and closes at day i + 1
    bars = Bars(
        "BTC", int(DAY), closes, np.array([10.0, 20, 40, 80]), np.array([20.0, 40, 80, 160])
    )
    times = np.arange(-1, 3) * DAY  # the first two before the first close (day 1)
    sim = simulate(
        np.array([BUY, HOLD, BUY, HOLD]), times, bars, DAY, fee_bps=0, slippage_bps=0, cash=100.0
    )
    (trade,) = sim.trades
    # The BUY at the first close (day 1) fills at the open of the bar that opens then.
    assert (trade.entry_bar, trade.entry_open) == (2, 20.0)
    assert sim.held.tolist() == [False, False, True, True]
    assert sim.equity.tolist() == [100.0, 100.0, 200.0, 400.0]
