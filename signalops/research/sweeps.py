"""A parameter sweep over one or several assets, as tasks on an executor.

    report = run_sweep(strategy, grid={"oversold": [25, 30, 35]}, assets=["BTC", "ETH"],
                       store=store, start=..., end=..., executor=connect(None))

The screen is ``signalops.backtest.sweep``'s, unchanged: each asset is one ``ScreenJob`` and
its combinations are screened in chunks (``tasks``). In this process a job is one task, so a
sweep costs what ``sweep()`` costs; on Ray the market data is put in the object store once and
each worker screens several chunks. The rows are the same either way, in grid order: a
combination is screened by the same code on the same data whichever chunk it is in.

Input that no task could use (an empty grid, an unknown parameter, a reversed period, an asset
without candles for the period) is an error before any task starts, as for ``sweep()``. A
combination that fails is reported with its parameters and the others are kept.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.runner import candle_timeframe
from signalops.backtest.sweep import (
    SweepRow,
    check_grid,
    check_inputs,
    data_notes,
    decision_times,
    grid_combinations,
    plain_document,
    with_params,
)
from signalops.catalogue import installed
from signalops.observation import utc
from signalops.research.executors import Executor, Shared
from signalops.research.market import Market, pack, sources_read
from signalops.research.tasks import (
    Failed,
    Scored,
    ScreenJob,
    ScreenTask,
    Settings,
    label,
    release,
    screen_chunk,
)
from signalops.strategy.model import Strategy

__all__ = [
    "TASKS_PER_WORKER",
    "AssetSweep",
    "Progress",
    "Screened",
    "SweepReport",
    "chunks",
    "first_timeframe",
    "run_screens",
    "run_sweep",
    "share_market",
]

# Chunks per worker on Ray: enough that a slow chunk does not leave the others idle, few
# enough that Ray's cost per task (about a millisecond) stays small next to the screening.
TASKS_PER_WORKER = 4

Progress = Callable[[str, int, int], None]
"""``(label, tasks done, tasks in all)``."""


@dataclass(frozen=True)
class AssetSweep:
    asset: str
    rows: tuple[SweepRow, ...]  # grid order; a failed combination has none
    failed: tuple[Failed, ...]
    # What a backtest of the period would say of the asset's data (``sweep.data_notes``): a
    # period the candles do not cover is screened as cash, which the table alone hides.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepReport:
    strategy: str
    grid: Mapping[str, Sequence[Any]]
    start: datetime
    end: datetime
    step: timedelta
    assets: tuple[AssetSweep, ...]
    tasks: int

    @property
    def combinations(self) -> int:
        return len(grid_combinations(self.grid))

    @property
    def failed(self) -> tuple[Failed, ...]:
        return tuple(f for asset in self.assets for f in asset.failed)


def run_sweep(
    strategy: Strategy,
    *,
    grid: Mapping[str, Sequence[Any]],
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    executor: Executor,
    assets: Sequence[str] | None = None,
    every: timedelta | None = None,
    fee_bps: float | Decimal,
    slippage_bps: float | Decimal,
    settings: Settings | None = None,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> SweepReport:
    """Screen every combination of ``grid`` on each of ``assets`` (default: the strategy's
    first); ``chunk`` combinations per task (default: see ``chunks``)."""
    settings = settings or Settings()
    document = plain_document(strategy)
    check_grid(document, grid)
    chosen = tuple(assets or strategy.assets[:1])
    start, end = utc(start), utc(end)
    timeframe = first_timeframe(strategy, document, grid)
    step = every or timedelta(seconds=timeframe)
    venues = settings.load().venues
    bars = check_inputs(store, chosen, timeframe, start, end, step, venues)
    notes = {
        asset: data_notes(
            bars[asset], decision_times(start, end, step, venues.in_sessions([asset]))
        )
        for asset in chosen
    }

    run = uuid.uuid4().hex
    jobs = [
        ScreenJob(
            document,
            strategy.file,
            grid,
            asset,
            timeframe,
            start,
            end,
            step,
            float(fee_bps),
            float(slippage_bps),
            settings,
            run=run,
        )
        for asset in chosen
    ]
    shared = share_market(executor, store, [strategy])
    screened, tasks = run_screens(executor, shared, jobs, chunk=chunk, progress=progress)
    return SweepReport(
        strategy.name,
        grid,
        start,
        end,
        step,
        tuple(
            _asset(job.asset, found, notes[job.asset])
            for job, found in zip(jobs, screened, strict=True)
        ),
        tasks,
    )


def _asset(asset: str, found: Screened, notes: tuple[str, ...]) -> AssetSweep:
    rows = tuple(found.scored[i].row for i in sorted(found.scored))
    return AssetSweep(asset, rows, tuple(_named(asset, f) for f in found.failed), notes)


def _named(asset: str, failed: Failed) -> Failed:
    return Failed(f"{asset} {failed.what}", failed.error, failed.index)


# --- shared by sweeps and walk-forward ---------------------------------------------------------


def first_timeframe(
    strategy: Strategy, document: Mapping[str, Any], grid: Mapping[str, Sequence[Any]]
) -> int:
    """The candles ``sweep()`` uses: the first combination's (the file's own when that one
    does not compile: its task then reports why)."""
    try:
        first = with_params(document, grid_combinations(grid)[0], installed.catalogue())
    except Exception:
        return candle_timeframe(strategy)
    return candle_timeframe(first)


def share_market(
    executor: Executor, store: SnapshotStore, strategies: Iterable[Strategy]
) -> Shared[Market]:
    """The market data, put once: the folder's store in this process, its files' bytes (the
    sources ``strategies`` read) elsewhere."""
    market: Market = store if executor.in_process else pack(store, sources_read(strategies, store))
    return executor.put(market)


def chunks(points: int, jobs: int, executor: Executor, chunk: int | None = None) -> int:
    """Combinations per task: ``chunk`` if given; in this process a whole job; on Ray enough
    tasks that each worker gets ``TASKS_PER_WORKER`` of them."""
    if chunk is not None:
        return max(1, chunk)
    if executor.in_process:
        return max(1, points)
    per_job = max(1, math.ceil(executor.workers * TASKS_PER_WORKER / max(1, jobs)))
    return max(1, math.ceil(points / per_job))


@dataclass
class Screened:
    """What the tasks of one job sent back: rows by grid index, and the failures."""

    scored: dict[int, Scored]
    failed: list[Failed]


def run_screens(
    executor: Executor,
    shared: Shared[Market],
    jobs: Sequence[ScreenJob],
    *,
    chunk: int | None = None,
    indices: Sequence[Sequence[int]] | None = None,
    progress: Progress | None = None,
    what: str = "tasks",
) -> tuple[list[Screened], int]:
    """Screen ``indices[k]`` of ``jobs[k]``'s grid (default: every combination), cut into
    chunks; returns each job's results and the number of tasks."""
    wanted = [
        list(range(len(grid_combinations(job.grid)))) if indices is None else list(indices[k])
        for k, job in enumerate(jobs)
    ]
    size = chunks(max((len(w) for w in wanted), default=1), len(jobs), executor, chunk)
    tasks = [
        ScreenTask(job, tuple(chosen[i : i + size]))
        for job, chosen in zip(jobs, wanted, strict=True)
        for i in range(0, len(chosen), size)
    ]
    found = {id(job): Screened({}, []) for job in jobs}
    for done, finished in enumerate(executor.run(screen_chunk, shared, tasks), 1):
        task = finished.item
        into = found[id(task.job)]
        if finished.error is not None:  # the whole task: each of its sets is reported
            points = grid_combinations(task.job.grid)
            into.failed.extend(Failed(label(points[i]), finished.error, i) for i in task.indices)
        for result in finished.value or ():
            if isinstance(result, Failed):
                into.failed.append(result)
            else:
                into.scored[result.index] = result
        if progress is not None:
            progress(what, done, len(tasks))
    for screened in found.values():  # in grid order, whatever order the tasks finished in
        screened.failed.sort(key=lambda failed: failed.index)
    if executor.in_process:
        release()
    return [found[id(job)] for job in jobs], len(tasks)
