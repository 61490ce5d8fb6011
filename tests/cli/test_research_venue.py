"""``sweep`` and ``walkforward`` take ``--venue``, as ``backtest`` does: the missing-data error
they share with it tells a stock imported from yfinance to "pass --venue yfinance", and that
now works.

Regression test (a trader walkthrough): ``sweep strategies/technical_baseline.yaml --grid
oversold=30 ... --asset AAPL`` said "... or pass --venue yfinance (every asset there)", and
``--venue yfinance`` then gave "No such option '--venue'": neither command had it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

BASELINE = str(STRATEGIES / "technical_baseline.yaml")
SWEEP = (
    "sweep", BASELINE, "--grid", "oversold=25,30", "--from", "2022-01-01", "--to", "2024-12-31",
)  # fmt: skip
WALK = (
    "walkforward", BASELINE, "--grid", "oversold=25,30", "--from", "2022-01-01",
    "--to", "2024-12-31", "--train", "365d", "--test", "365d",
)  # fmt: skip
FOOTER = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)
WEEKENDS = (
    f"warning: {BASELINE}: AAPL trades in sessions (venue yfinance): its last close is 2 to 3 "
    "days old on Mondays and 3 to 4 after a long weekend, past the 2d max age of rsi(14) < 30 "
    "and 1 more leaf, which are then UNKNOWN; add defaults: {max_age: 4d} to the strategy\n"
)


@pytest.mark.parametrize("command", [SWEEP, WALK], ids=["sweep", "walkforward"])
def test_a_stock_on_the_crypto_venue_is_told_to_pass_venue(
    replay_dir: Path, command: tuple[str, ...]
):
    result = run(*command, "--asset", "AAPL", "--data", str(replay_dir))

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: no recorded 1d candles for AAPL in {replay_dir} (series "
        "candles/binance/AAPL/USDT/1d): the data has them as series candles/yfinance/AAPL/1d: "
        "route AAPL to a venue of exchange yfinance in the config (assets: {AAPL: {venue: "
        "NAME}}), or pass --venue yfinance (every asset there)\n"
    )


def test_a_sweep_with_venue_screens_the_stock_there(replay_dir: Path):
    result = run(*SWEEP, "--asset", "AAPL", "--venue", "yfinance", "--data", str(replay_dir))

    assert result.exit_code == 0, result.output
    assert result.stderr == WEEKENDS
    assert result.stdout.splitlines() == [
        "Technical_Baseline · AAPL · 2022-01-01 .. 2024-12-31 every 1d · 2 combinations · "
        "fee 10 bps, slippage 5 bps",
        "oversold    return   max DD   trades   win rate   exposure   blocked bars",
        "─────────────────────────────────────────────────────────────────────────",
        "      30   +23.16%   -7.65%        4       100%      11.0%              0",
        "      25    +1.02%   -7.65%        1       100%       5.0%              0",
        FOOTER,
    ]


def test_a_walk_forward_with_venue_walks_the_stock_there(replay_dir: Path):
    result = run(*WALK, "--asset", "AAPL", "--venue", "yfinance", "--data", str(replay_dir))

    assert result.exit_code == 0, result.output
    assert result.stderr == WEEKENDS
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Technical_Baseline · AAPL · walk-forward, rolling")
    assert lines[5].split() == [
        "stitched", "2023-01-01", "..", "2024-12-30", "0.78", "+12.69%", "-7.65%", "3", "100%",
        "13.4%",
    ]  # fmt: skip


def test_an_unknown_venue_is_one_line(replay_dir: Path):
    result = run(*SWEEP, "--venue", "nope", "--data", str(replay_dir))

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: --venue: unknown exchange 'nope': not a ccxt exchange id, yfinance or "
        "polymarket; configured venues: binance, polymarket\n"
    )
