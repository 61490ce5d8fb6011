"""The sweep and walk-forward say how their screen enters: once, all in, per signal, where the
backtest they send the trader to buys ``position_size`` at every BUY up to ``max_position``.

Regression test (a trader walkthrough): the footer said only "no risk gate or sizing", so the
sweep's trades and win rate differed from the backtest's without a word of why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.sweep import sweep
from signalops.evaluation.vectorized import BUY
from signalops.strategy import load

BASELINE = STRATEGIES / "technical_baseline.yaml"
RULE = (
    "fast screen: one all-in entry per signal, sold at the next SELL (the backtest buys "
    "position_size at every BUY, up to max_position), no risk gate; confirm with signalops "
    "backtest"
)


def test_the_sweep_footer_says_how_it_enters(replay_dir: Path):
    result = run(
        "sweep", str(BASELINE), "--grid", "oversold=25,30", "--from", "2023-01-01",
        "--to", "2023-12-31", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == RULE


def test_the_walk_forward_footer_says_it_too(replay_dir: Path):
    result = run(
        "walkforward", str(BASELINE), "--grid", "oversold=25,30", "--from", "2022-01-01",
        "--to", "2023-12-31", "--train", "365d", "--test", "180d", "--data", str(replay_dir),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].endswith("(fee and slippage); " + RULE)


def test_sweep_help_says_how_it_enters():
    text = " ".join(run("sweep", "--help").stdout.split())

    assert "one all-in entry per signal" in text
    assert "buys position_size at every BUY, up to max_position" in text


def test_the_rule_is_the_screens(replay_dir: Path):
    """BUYs in a row while long are one entry: the trades are the signals, not the BUY bars."""
    (row,) = sweep(
        load(BASELINE),
        grid={"oversold": [35]},
        store=SnapshotStore(replay_dir),
        start=datetime(2022, 1, 1, tzinfo=UTC),
        end=datetime(2024, 12, 31, tzinfo=UTC),
    )
    buys = np.flatnonzero(row.verdicts == BUY)
    assert len(buys) > len(row.trades)  # BUY bars in a row while long add nothing
    for trade, later in zip(row.trades, [*row.trades[1:], None], strict=True):
        # Each entry is a BUY while flat; the BUYs until its exit are the same signal.
        assert row.verdicts[trade.entry_bar] == BUY
        end = trade.exit_bar if trade.exit_bar is not None else len(row.verdicts)
        assert later is None or later.entry_bar > end
