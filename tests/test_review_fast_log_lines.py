"""The fast backtest engine logs a record's lines once its transaction is committed, never before.

With log lines shown (``-v``), the fast engine commits one cycle per transaction; a cycle whose
transaction does not commit (here: the run stops with an error in that cycle, after its paper
fill) must leave no line saying that its order was filled, or that its decisions were taken.
A run that commits logs the same lines, in the same order, as before.

``strategies/technical_baseline.yaml`` over March 2023 on the bundled data: it buys once, on
2023-03-11 (daily RSI under 30).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import STRATEGIES

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.strategy import load

START, END = datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 31, tzinfo=UTC)


class Stop(Exception):
    """The run stops here (an error in the middle of a cycle's transaction)."""


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("signalops.")]


def test_a_cycle_whose_transaction_does_not_commit_logs_none_of_its_lines(
    replay_store: SnapshotStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    strategy = load(STRATEGIES / "technical_baseline.yaml", registry.catalogue())
    with caplog.at_level(logging.DEBUG, logger="signalops"):
        done = run_backtest(
            strategy, store=replay_store, start=START, end=END, out_dir=tmp_path / "whole"
        )
    whole = _lines(caplog)
    (bought,) = [i for i, d in enumerate(done.decisions) if d.status == "FILLED"][:1]
    filled = [line for line in whole if " filled: " in line]
    assert filled  # the run's fill is logged when it commits
    caplog.clear()

    def stop_in_the_cycle_of_the_fill(count: int, _total: int) -> None:
        if count == bought + 1:  # its fill is in the transaction, not committed
            raise Stop

    with caplog.at_level(logging.DEBUG, logger="signalops"), pytest.raises(Stop):
        run_backtest(
            strategy,
            store=replay_store,
            start=START,
            end=END,
            out_dir=tmp_path / "stopped",
            progress=stop_in_the_cycle_of_the_fill,
        )
    stopped = _lines(caplog)
    assert not [line for line in stopped if " filled: " in line]
    # What was logged is what the committed cycles logged in the whole run, in its order.
    assert stopped == whole[: len(stopped)]
    assert len([line for line in stopped if "HOLD" in line]) == bought  # one per cycle before
