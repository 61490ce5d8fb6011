"""The tasks research work is cut into, and what each sends back.

One unit of work is one parameter set on one asset over one period (a whole sweep's, or one
window of a walk-forward). Units of the same asset and period share everything but the
parameters (candles, decision times, indicator inputs, the compiled template), so a task takes a
*chunk* of them: ``ScreenTask(job, indices)`` screens the grid combinations ``indices`` of one
``ScreenJob``. In this process a job is one task holding every combination (the sweep as fast as
ever); on Ray the combinations are cut into chunks so that every worker has several tasks. A
chunk of one is the plain unit.

Tasks get the market data as their shared argument (``market.Market``) and everything else in
their item, as plain values: a compiled ``Strategy`` and a ``Config`` do not pickle, so a task
carries the strategy document and the config text and compiles them itself. A worker keeps what
it compiled and read for the tasks of the same job that follow (a few, by the job's key).

A parameter set that fails (a value the compiler refuses, an error while screening) is sent back
as a ``Failed`` with its parameters; the chunk's other sets are kept.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from signalops.backtest.runner import run_backtest
from signalops.backtest.sweep import CompiledGrid, Screen, SweepRow, format_value
from signalops.catalogue import installed
from signalops.config import Config, loads_config
from signalops.research.executors import describe_error
from signalops.research.market import Market, open_store
from signalops.strategy import loads
from signalops.workspace import with_venue

__all__ = [
    "AssetJob",
    "AssetRun",
    "Curve",
    "Failed",
    "Scored",
    "ScreenJob",
    "ScreenTask",
    "Settings",
    "backtest_asset",
    "compile_failures",
    "label",
    "release",
    "screen_chunk",
]

_KEPT = 16  # compiled grids and screens a worker keeps for the tasks that follow


@dataclass(frozen=True)
class Settings:
    """The config, as its text: what a task on another machine loads it from."""

    text: str | None = None  # None: the built-in defaults
    file: str = "<config>"
    base: str | None = None  # the folder relative paths in it are resolved against
    venue: str | None = None  # every asset on this venue (``--venue``)

    @classmethod
    def read(cls, path: str | Path | None, venue: str | None = None) -> Settings:
        """The config file at ``path`` (None: the defaults), read after ``load_config`` has
        checked it."""
        if path is None:
            return cls(venue=venue)
        text = Path(path).read_text(encoding="utf-8")
        return cls(text, str(path), str(Path(path).parent), venue)

    def load(self) -> Config:
        return _cached(("config", self.text, self.file, self.base, self.venue), self._parse)

    def _parse(self) -> Config:
        loaded = (
            Config() if self.text is None else loads_config(self.text, self.file, base=self.base)
        )
        return with_venue(loaded, self.venue)


# --- screening: a chunk of a grid on one asset over one period ----------------------------------


@dataclass(frozen=True)
class ScreenJob:
    """Screen combinations of one grid on one asset from ``start`` to ``end`` (inclusive)."""

    document: Mapping[str, Any]  # the strategy document (``Strategy.document``, plain)
    file: str
    grid: Mapping[str, Sequence[Any]]
    asset: str
    timeframe: int  # the candles fills and marks use (the first combination's)
    start: datetime
    end: datetime
    step: timedelta
    fee_bps: float
    slippage_bps: float
    settings: Settings = field(default_factory=Settings)
    curves: bool = False  # also send back each equity curve (walk-forward's tests)
    run: str = ""  # names the run: workers share what they compiled only within it
    # Where the last periods end at the latest (a walk-forward window's end); None: the close
    # of the candle opening at ``end`` (``clock.window_end``).
    until: datetime | None = None

    @cached_property
    def grid_key(self) -> str:
        return _digest(self.run, self.document, self.file, self.grid)

    @cached_property
    def key(self) -> str:
        return _digest(
            self.grid_key,
            self.asset,
            self.timeframe,
            self.start.isoformat(),
            self.end.isoformat(),
            self.step.total_seconds(),
            self.fee_bps,
            self.slippage_bps,
            self.settings.text,
            self.settings.base,
            self.settings.venue,
            None if self.until is None else self.until.isoformat(),
        )


@dataclass(frozen=True)
class ScreenTask:
    job: ScreenJob
    indices: tuple[int, ...]  # grid combinations, in grid order (``grid_combinations``)


@dataclass(frozen=True)
class Curve:
    """A screened equity curve: one point per decision time (the starting cash precedes it)."""

    equity: np.ndarray
    held: np.ndarray  # bool: a position was held after that decision time
    wins: int  # closed round trips with a profit after fees
    closed: int


@dataclass(frozen=True)
class Scored:
    index: int  # in the grid
    row: SweepRow
    curve: Curve | None = None


@dataclass(frozen=True)
class Failed:
    """A unit of work that failed: what it was (its parameters, its asset) and why."""

    what: str
    error: str
    index: int = -1  # in the grid, for a parameter set


def label(params: Mapping[str, Any]) -> str:
    """``oversold=30, exit=55``: a parameter set as a person reads it."""
    return ", ".join(f"{name}={format_value(value)}" for name, value in params.items())


def screen_chunk(market: Market, task: ScreenTask) -> list[Scored | Failed]:
    """Screen ``task.indices`` of the job's grid; a failing combination becomes a ``Failed``."""
    job = task.job
    grid = _cached(("grid", job.grid_key), lambda: _compile(job))
    screen = _cached(("screen", job.key), lambda: _screen(market, job))
    out: list[Scored | Failed] = []
    for index in task.indices:
        try:
            run = screen.run(grid.combination(index))
        except Exception as exc:  # this set fails; the chunk's others are kept
            out.append(Failed(label(grid.points[index]), describe_error(exc), index))
            continue
        curve = None
        if job.curves:
            fills = run.simulation.fills
            curve = Curve(run.equity, run.simulation.held, fills.wins(), fills.closed)
        out.append(Scored(index, run.row(), curve))
    return out


def compile_failures(
    document: Mapping[str, Any], grid: Mapping[str, Sequence[Any]], file: str
) -> tuple[Failed, ...]:
    """The combinations of ``grid`` the compiler refuses, each as a screen task reports it (its
    parameters, the error, its grid index), in grid order. A combination the template takes is
    its constants checked, not compiled (``CompiledGrid``), so this costs a few compiles and a
    check per combination: what one screen of the grid costs before its first bar."""
    compiled = CompiledGrid(document, grid, installed.catalogue(), file or "<sweep>")
    failed = []
    for index, params in enumerate(compiled.points):
        try:
            compiled.combination(index)
        except Exception as exc:  # as ``screen_chunk`` reports it
            failed.append(Failed(label(params), describe_error(exc), index))
    return tuple(failed)


def _compile(job: ScreenJob) -> CompiledGrid:
    return CompiledGrid(job.document, job.grid, installed.catalogue(), job.file or "<sweep>")


def _screen(market: Market, job: ScreenJob) -> Screen:
    return Screen(
        open_store(market),
        job.asset,
        job.timeframe,
        job.start,
        job.end,
        job.step,
        fee_bps=job.fee_bps,
        slippage_bps=job.slippage_bps,
        venues=job.settings.load().venues,
        until=job.until,
    )


# --- backtesting one asset ----------------------------------------------------------------------


@dataclass(frozen=True)
class AssetJob:
    """Backtest the strategy on one asset alone (its own cash and book) into ``out_dir``."""

    text: str  # the strategy file's text
    file: str
    asset: str
    start: datetime
    end: datetime
    every: timedelta | None
    horizon: timedelta
    out_dir: str | None  # None: a temporary folder (the audit log is not kept)
    settings: Settings = field(default_factory=Settings)


@dataclass(frozen=True)
class AssetRun:
    """What one asset's backtest gives the table: ``BacktestResult.to_dict()`` (metrics,
    decisions, blocks), buy-and-hold's metrics and the backtest's notes (``report.notes``:
    what its table alone would not say; worked out where it ran, beside its result)."""

    asset: str
    summary: Mapping[str, Any]
    buy_and_hold: Mapping[str, Any] | None
    notes: tuple[str, ...] = ()


def backtest_asset(market: Market, job: AssetJob) -> AssetRun:
    """``run_backtest`` on ``job.asset`` alone, through the live pipeline as ever."""
    strategy = loads(job.text, job.file, installed.catalogue())
    if job.out_dir is None:
        with tempfile.TemporaryDirectory(prefix="signalops-backtest-") as folder:
            return _backtest(market, job, strategy, folder)
    return _backtest(market, job, strategy, job.out_dir)


def _backtest(market: Market, job: AssetJob, strategy: Any, folder: str) -> AssetRun:
    from signalops.backtest.report import notes  # the worker's: the result stays there

    result = run_backtest(
        strategy,
        store=open_store(market),
        start=job.start,
        end=job.end,
        out_dir=folder,
        every=job.every,
        assets=[job.asset],
        config=job.settings.load(),
        horizon=job.horizon,
    )
    summary = result.to_dict()
    if job.out_dir is not None:
        (Path(folder) / "metrics.json").write_text(
            json.dumps(summary, indent=2) + "\n", encoding="utf-8"
        )
    held = None if result.benchmark is None else result.benchmark.to_dict()
    return AssetRun(job.asset, summary, held, tuple(notes(result)))


# --- what a worker keeps between tasks ------------------------------------------------------------

_T = TypeVar("_T")
_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _cached(key: tuple[Any, ...], make: Callable[[], _T]) -> _T:
    """``make()`` once per key among the last ``_KEPT`` used (tasks of one job follow each
    other; a failure is not kept, so the next task tries again and reports its own)."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
        value: _T = _CACHE[key]
        return value
    value = make()
    _CACHE[key] = value
    while len(_CACHE) > _KEPT:
        _CACHE.popitem(last=False)
    return value


def release() -> None:
    """Forget what was kept: a run in this process calls it when done (its screens hold arrays
    the size of the history)."""
    _CACHE.clear()


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()
