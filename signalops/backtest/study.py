"""Filter on vs off: a strategy, the same strategy with its vetoes removed, and buy-and-hold.

``run_study`` is what ``signalops backtest`` calls: the backtest, its vetoes-removed baseline
through the same backtest (same data, period, fills, risk limits; its own audit log), then the
report files. For each block it also says what the baseline did at that same decision time: a
block only changed the outcome if, without the veto, the order would have passed the risk gate
(a BUY blocked during a cooldown would have been denied anyway).

A ``universe`` (``signalops.backtest.universe``) sets the assets, in place of the strategy's, and
adds its sectors to the config's ``sectors:`` so that the risk gate's MAX_SECTOR limit applies to
them; the assets share one book (one cash balance), as any multi-asset backtest does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.bars import NEXT_OPEN
from signalops.backtest.comparison import Study
from signalops.backtest.filters import DEFAULT_HORIZON, without_vetoes
from signalops.backtest.report import write_report
from signalops.backtest.runner import benchmark_bars, hold_benchmark, run_backtest
from signalops.backtest.universe import Universe
from signalops.config import Config, limits_for
from signalops.errors import InputError
from signalops.strategy.model import Strategy

__all__ = ["BASELINE_AUDIT_FILE", "Study", "StudyProgress", "run_study"]

BASELINE_AUDIT_FILE = "baseline.db"

StudyProgress = Callable[[str, int, int], None]
"""``(which run: "strategy" or "baseline", periods done, periods in all)``."""


def run_study(
    strategy: Strategy,
    *,
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    out_dir: str | Path,
    every: timedelta | None = None,
    assets: Sequence[str] | None = None,
    config: Config | None = None,
    fill: str = NEXT_OPEN,
    horizon: timedelta = DEFAULT_HORIZON,
    risk_free: float = 0.0,
    baseline: bool = True,
    progress: StudyProgress | None = None,
    report: bool = True,
    benchmark: str | None = None,
    universe: Universe | None = None,
) -> Study:
    """Backtest ``strategy`` and (if it has vetoes and ``baseline``) its vetoes-removed twin,
    then write the report into ``out_dir``. ``benchmark`` names an asset (an index such as GSPC)
    whose buy-and-hold over the same period is shown beside them; ``universe``: the assets to
    run over (not with ``assets``) and their sectors."""
    out = Path(out_dir)
    config = config or Config()
    if universe is not None:
        if assets:
            raise InputError("give the assets either as a universe or one by one, not both")
        assets, config = universe.assets, universe.configured(config)
    common: dict[str, Any] = dict(
        store=store,
        start=start,
        end=end,
        out_dir=out,
        every=every,
        assets=assets,
        config=config,
        fill=fill,
        horizon=horizon,
        risk_free=risk_free,
    )
    index = None
    if benchmark is not None:
        index = benchmark_bars(
            benchmark, strategy, store=store, start=start, end=end, config=config
        )
    result = run_backtest(strategy, progress=_labelled(progress, "strategy"), **common)
    twin = without_vetoes(strategy) if baseline else None
    other = None
    if twin is not None:
        other = run_backtest(
            twin,
            progress=_labelled(progress, "baseline"),
            audit_file=BASELINE_AUDIT_FILE,
            **common,
        )
    held = None if index is None else hold_benchmark(*index, result, risk_free=risk_free)
    study = Study(
        result,
        other,
        out,
        held,
        universe=universe,
        sectors=config.sectors,
        limits=limits_for(result.strategy, config),
        quote=config.account_quote(result.assets),
    )
    if report:
        write_report(study, store=store, venues=config.venues)
    return study


def _labelled(progress: StudyProgress | None, label: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(label, done, total)
