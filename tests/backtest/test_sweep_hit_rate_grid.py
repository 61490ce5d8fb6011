"""A sweep over a param of a condition that a hit-rate vote weighs screens each combination as
if it were compiled alone, in whatever order the grid lists its values.

Regression test: the sweep screened every combination after the first on the first one's tree
with its constants swapped, but a hit-rate weight's request carries the voted condition as it
was compiled (the first combination's threshold): each later row took the first one's hit rates,
so ``--grid lvl=30,40`` and ``--grid lvl=40,30`` gave different figures for lvl=40, and
walk-forward picked different params.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from conftest import STRATEGIES

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.sweep import sweep, with_params
from signalops.evaluation.vectorized import screen
from signalops.strategy import loads

WINDOW = {"start": datetime(2022, 1, 1, tzinfo=UTC), "end": datetime(2023, 12, 31, tzinfo=UTC)}


def weighted_with_a_param() -> str:
    text = (STRATEGIES / "weighted_sources.yaml").read_text(encoding="utf-8")
    text = text.replace('  assets: ["BTC"]\n', '  assets: ["BTC"]\n  params: {lvl: 40}\n', 1)
    assert "rsi(14) < 40" in text
    return text.replace("rsi(14) < 40", "rsi(14) < $lvl", 1)


def test_each_row_is_its_combination_screened_alone_in_either_grid_order(replay_dir: Path):
    store = SnapshotStore(replay_dir)
    text = weighted_with_a_param()
    document = loads(text).document
    by_order = []
    for values in ([30, 40], [40, 30]):
        rows = sweep(text, grid={"lvl": values}, store=store, **WINDOW)
        for row in rows:
            alone = with_params(document, row.params, registry.catalogue())
            expected = screen(alone, "BTC", store, row.times)
            np.testing.assert_array_equal(row.verdicts, expected.verdicts, str(row.params))
        by_order.append({row.params["lvl"]: row.total_return for row in rows})
    assert by_order[0] == by_order[1]
    assert by_order[0][30] != by_order[0][40]
