"""Filter on vs off: a strategy, the same strategy with its vetoes removed, and buy-and-hold.

``run_study`` is what ``signalops backtest`` calls: the backtest, its vetoes-removed baseline
through the same backtest (same data, period, fills, risk limits; its own audit log), then the
report files, all written beside the report folder and published into it at the end
(``folders.staged``): a run stopped half way leaves the folder as it was. For each block it
also says what the baseline did at that same decision time: a block only changed the outcome
if, without the veto, the order would have passed the risk gate (a BUY blocked during a
cooldown would have been denied anyway).

Several strategies run together in one account (``run_backtest`` with all of them) have no
baseline: removing each one's vetoes would change what the others could do in the account, so
the comparison would not be of vetoes alone. Backtest a file alone for its baseline.

A ``universe`` (``signalops.backtest.universe``) sets the assets, in place of the strategy's, and
adds its sectors to the config's ``sectors:`` so that the risk gate's MAX_SECTOR limit applies to
them; the assets share one book (one cash balance), as any multi-asset backtest does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.bars import NEXT_OPEN
from signalops.backtest.comparison import Study
from signalops.backtest.filters import DEFAULT_HORIZON, without_vetoes
from signalops.backtest.folders import staged
from signalops.backtest.report import REPORT_FILES, notes, sizing_lines, write_report
from signalops.backtest.runner import (
    AUDIT_FILE,
    BacktestResult,
    backtest_config,
    benchmark_bars,
    hold_benchmark,
    run_backtest,
)
from signalops.backtest.universe import Universe
from signalops.config import Config, limits_for
from signalops.errors import InputError
from signalops.pipeline.cycle import candle_timeframe
from signalops.risk.limits import RiskLimits
from signalops.strategy.model import Strategy

__all__ = ["BASELINE_AUDIT_FILE", "STUDY_FILES", "Study", "StudyProgress", "run_study"]

BASELINE_AUDIT_FILE = "baseline.db"
# Every file a study writes into its folder: a run that does not write one of them (no baseline,
# no report) removes the earlier run's, so that no file of the folder is of another run.
STUDY_FILES = (AUDIT_FILE, BASELINE_AUDIT_FILE, *REPORT_FILES)

StudyProgress = Callable[[str, int, int], None]
"""``(which run: "strategy", "strategies" (several together) or "baseline", periods done,
periods in all)``."""


def run_study(
    strategy: Strategy | Sequence[Strategy],
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
    then write the report into ``out_dir``; several strategies run together, without a
    baseline (the module's docstring). ``benchmark`` names an asset (an index such as GSPC)
    whose buy-and-hold over the same period is shown beside them; ``universe``: the assets to
    run over (not with ``assets``) and their sectors.

    The files appear in ``out_dir`` together, once all are written (``folders.staged``); until
    then (and for good if it raises) ``out_dir`` is as it was. The config's kill switch is not
    read (``runner.backtest_config``)."""
    out = Path(out_dir)
    config = backtest_config(config or Config())
    strategies = (strategy,) if isinstance(strategy, Strategy) else tuple(strategy)
    several = len(strategies) > 1
    if universe is not None:
        if assets:
            raise InputError("give the assets either as a universe or one by one, not both")
        if several:
            raise InputError("a universe is backtested with one strategy, not several together")
        assets, config = universe.assets, universe.configured(config)
    index = None
    if benchmark is not None:
        # Bars of the candles the run's fills use: the shortest of the strategies' timeframes.
        shortest = min(strategies, key=candle_timeframe)
        index = benchmark_bars(
            benchmark,
            shortest,
            store=store,
            start=start,
            end=end,
            config=config,
            assets=assets or [a for s in strategies for a in s.assets],
        )
    with staged(out, replaces=STUDY_FILES) as work:
        common: dict[str, Any] = dict(
            store=store,
            start=start,
            end=end,
            out_dir=work,
            every=every,
            assets=assets,
            config=config,
            fill=fill,
            horizon=horizon,
            risk_free=risk_free,
        )
        result = run_backtest(
            strategies if several else strategies[0],
            progress=_labelled(progress, "strategies" if several else "strategy"),
            **common,
        )
        twin = without_vetoes(strategies[0]) if baseline and not several else None
        other = None
        if twin is not None:
            other = run_backtest(
                twin,
                progress=_labelled(progress, "baseline"),
                audit_file=BASELINE_AUDIT_FILE,
                **common,
            )
        held = None if index is None else hold_benchmark(*index, result, risk_free=risk_free)
        written = Study(
            result,
            other,
            work,
            held,
            universe=universe,
            sectors=config.sectors,
            limits=None if several else limits_for(result.strategy, config),
            quote=config.account_quote(result.assets),
            book_limits={s.name: limits_for(s, config) for s in result.strategies}
            if several
            else {},
        )
        # The limits whose max_daily_loss the config or the strategy sets (the default 3% is
        # not said to be idle at every daily run).
        daily_loss = tuple(
            limits_for(s, config)
            for s in strategies
            if "max_daily_loss" in config.risk or "max_daily_loss" in s.risk
        )
        study = _published_as(written, out, daily_loss)
        if report:
            write_report(study, store=store, venues=config.venues, into=work)
    return study


def _published_as(study: Study, out: Path, daily_loss: Sequence[RiskLimits] = ()) -> Study:
    """``study`` with its logs where they will be published (in ``out``): the paths the report
    files and the terminal show. What it reads from the logs it reads now, from the staging
    folder, before the files move: read after, a run publishing into the same folder
    meanwhile could swap the log under the reader (and leave its WAL files there)."""
    moved = replace(
        study,
        result=_moved(study.result, out),
        baseline=None if study.baseline is None else _moved(study.baseline, out),
        out_dir=out,
    )
    # The notes name the logs where they will be.
    moved = replace(
        moved,
        notes=tuple(notes(moved.result, study.out_dir, daily_loss)),
        sizing=tuple(sizing_lines(moved, study.out_dir)),
    )
    vars(moved)["failed_closed"] = study.failed_closed  # its cached_property, filled in
    return moved


def _moved(result: BacktestResult, out: Path) -> BacktestResult:
    return replace(result, audit_path=out / result.audit_path.name)


def _labelled(progress: StudyProgress | None, label: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(label, done, total)
