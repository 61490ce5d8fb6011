"""Walk-forward: choose parameters on a training window, judge them on the window after it.

    forward = run_walkforward(strategy, grid={"oversold": [25, 30, 35]}, store=store,
                              start=..., end=..., train=timedelta(days=365),
                              test=timedelta(days=90), executor=connect(None))

The windows: the first test window starts ``train`` after ``start``; each next one starts where
the last ended, until a test window would run past ``end`` (its last decision time after it).
Each test window's training window is the ``train`` before it (rolling) or everything from
``start`` (``anchored``). Decision times run every ``step`` from a window's start; a training
window ends just before its test window starts, so no decision time is in both.

For each asset and window the whole grid is screened on the training window (the fast screen of
``signalops.backtest.sweep``: tasks of parameter set x asset x window), the set with the best
``objective`` there is chosen (ties: the first in grid order; a set whose objective is undefined
is never chosen, and a window where no set has one holds cash), and that set alone is screened
on the test window. A span the asset's data does not reach at all is not screened: a training
span without data chooses nothing and a test span without data is not judged (the table says
"no data", not cash); every window's share of data is shown when some span is not wholly
covered, and an asset no training span of which has data is refused (``DataNotFound``).
A parameter set the compiler refuses would fail alike in every window: it is left out of the
walk and reported once (``WalkForward.uncompiled``), and a grid of nothing else is refused
before anything is screened (``InputError``).
Each test window starts flat with the starting cash; a position still open at its end is
marked at the last close (not sold). The stitched out-of-sample curve chains the
test windows' curves, each starting from the equity the last one ended with: a position open at
a window's end is sold there at its last close, exit costs paid (the next window starts flat),
a closed round trip of the stitched record; the last window's stays open.

Objectives (``OBJECTIVES``): ``sharpe`` (annualised, as the sweep computes it), ``return``
(the total return; compared across windows of different lengths as an annual rate) and
``calmar`` (that annual rate over the depth of the maximum drawdown; undefined without a
drawdown, and then shown as "—", but a gain without any drawdown is chosen over every set that
had one: it is the best a Calmar can be, never the worst; among several such, the higher annual
rate). In-sample vs out-of-sample degradation compares the chosen set's objective on its
training window and on its test window.

A Calmar is defined over a year or more only, as a backtest's is (``metrics.ANNUALISED_FROM``:
under a year the annual rate extrapolates, +10% in three weeks being +424% a year): ``calmar``
needs a training window of a year or more (an input error otherwise: no window could choose),
and a test window or stitched record shorter than a year has none ("—", and ``short_note``
says why under the table).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np

from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.bars import Bars
from signalops.backtest.clock import window_end
from signalops.backtest.coverage import priced
from signalops.backtest.metrics import (
    ANNUALISED_FROM,
    WinRate,
    annualisable,
    exposure,
    max_drawdown_depth,
    period_returns,
    sharpe,
    total_return,
)
from signalops.backtest.sweep import (
    STARTING_CASH,
    SweepRow,
    check_grid,
    check_inputs,
    data_notes,
    decision_times,
    grid_combinations,
    periods_a_year,
    plain_document,
)
from signalops.catalogue.spec import format_duration
from signalops.errors import DataNotFound, InputError
from signalops.numbers import counted, listed
from signalops.observation import utc
from signalops.research.executors import Executor
from signalops.research.sweeps import (
    Progress,
    Screened,
    first_timeframe,
    run_screens,
    share_market,
)
from signalops.research.tasks import Curve, Failed, ScreenJob, Settings, compile_failures
from signalops.strategy.model import Strategy

__all__ = [
    "OBJECTIVES",
    "AssetWalk",
    "Coverage",
    "Objective",
    "Span",
    "Stitched",
    "WalkForward",
    "Window",
    "WindowResult",
    "choose",
    "run_walkforward",
    "short_note",
    "stitch",
    "windows",
]

_JUST_BEFORE = timedelta(microseconds=1)  # a window's last instant: decision times are < its end


# --- objectives ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """How long a screened period is: the years its returns are annualised over (a stock's
    counted in sessions, 252 a year) and its length by the calendar, from its first decision
    time to where its last period ends."""

    years: float
    elapsed: timedelta


@dataclass(frozen=True)
class Objective:
    """What "best" means: a number per screened row over a ``Span`` (larger is better)."""

    name: str
    title: str  # as a column heading says it
    measure: Callable[[SweepRow, float], float | None]  # of the row and the span's years
    # Ranks rows the measure leaves undefined but that are still best (see ``_calmar_rank``).
    beyond: Callable[[SweepRow, float], float | None] | None = None
    # A ratio of the annual rate (Calmar): defined over a year or more only, as a backtest's
    # Calmar is (``metrics.ANNUALISED_FROM``). The return objective is the annual rate itself,
    # shown for what it is (return/yr), and ranks a window's sets as their returns do.
    annualised: bool = False

    def defined_over(self, span: Span) -> bool:
        return not self.annualised or annualisable(span.elapsed)

    def value(self, row: SweepRow, span: Span) -> float | None:
        if not self.defined_over(span):
            return None
        found = self.measure(row, span.years)
        return None if found is None or math.isnan(found) else found

    def rank(self, row: SweepRow, span: Span) -> tuple[int, float] | None:
        """How good a row is: larger is better; None: never chosen."""
        if not self.defined_over(span):
            return None
        if self.beyond is not None:
            above = self.beyond(row, span.years)
            if above is not None:
                return 1, above
        found = self.value(row, span)
        return None if found is None else (0, found)


def annual_rate(row: SweepRow, years: float) -> float | None:
    """The total return as a compound annual rate (None for a loss of everything)."""
    growth = 1 + row.total_return
    if years <= 0 or growth <= 0:
        return None
    return float(growth ** (1 / years) - 1)


def _calmar(row: SweepRow, years: float) -> float | None:
    rate = annual_rate(row, years)
    return None if rate is None or row.max_drawdown >= 0 else rate / -row.max_drawdown


def _gain_without_drawdown(row: SweepRow, years: float) -> float | None:
    """The annual rate of a gain that never fell below a peak (Calmar's unbounded best)."""
    rate = annual_rate(row, years)
    return rate if rate is not None and rate > 0 and row.max_drawdown >= 0 else None


OBJECTIVES: Mapping[str, Objective] = {
    "sharpe": Objective("sharpe", "Sharpe", lambda row, _years: row.sharpe),
    "return": Objective("return", "return/yr", annual_rate),
    "calmar": Objective(
        "calmar", "Calmar", _calmar, beyond=_gain_without_drawdown, annualised=True
    ),
}


def choose(rows: Mapping[int, SweepRow], objective: Objective, span: Span) -> int | None:
    """The grid index of the row with the best objective over ``span``; ties go to the first
    in grid order; None when no row has one."""
    best: int | None = None
    best_rank = (0, -math.inf)
    for index in sorted(rows):
        rank = objective.rank(rows[index], span)
        if rank is not None and (best is None or rank > best_rank):
            best, best_rank = index, rank
    return best


# --- windows -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    number: int  # from 1
    train_start: datetime
    test_start: datetime  # the training window ends just before it
    test_end: datetime  # exclusive

    @property
    def train(self) -> tuple[datetime, datetime]:
        """First and last instant of the training window (the last inclusive)."""
        return self.train_start, self.test_start - _JUST_BEFORE

    @property
    def test(self) -> tuple[datetime, datetime]:
        return self.test_start, self.test_end - _JUST_BEFORE


def windows(
    start: datetime,
    end: datetime,
    *,
    train: timedelta,
    test: timedelta,
    step: timedelta,
    anchored: bool = False,
) -> list[Window]:
    """The windows of ``start`` .. ``end`` (inclusive): see the module docstring."""
    if train < step or test < step:
        raise InputError(
            f"--train ({format_duration(train.total_seconds())}) and --test "
            f"({format_duration(test.total_seconds())}) must each hold at least one decision "
            f"every {format_duration(step.total_seconds())}"
        )
    found: list[Window] = []
    test_start = start + train
    while test_start + (test - _JUST_BEFORE) // step * step <= end:  # its last decision time
        train_start = start if anchored else test_start - train
        found.append(Window(len(found) + 1, train_start, test_start, test_start + test))
        test_start += test
    if not found:
        raise InputError(
            f"no walk-forward window fits in {start:%Y-%m-%d} .. {end:%Y-%m-%d}: it needs "
            f"--train {format_duration(train.total_seconds())} and then at least --test "
            f"{format_duration(test.total_seconds())}"
        )
    return found


def _span(
    first: datetime, last: datetime, step: timedelta, sessions: bool, until: datetime
) -> tuple[int, Span]:
    """How many decision times the period has, and its span (its last period ending at
    ``until``)."""
    periods, per_year = _per_year(first, last, step, sessions, until)
    return periods, Span(periods / per_year, until - first)


def _per_year(
    first: datetime, last: datetime, step: timedelta, sessions: bool, until: datetime
) -> tuple[int, float]:
    """How many decision times the period has, and how many of them make a year (its last
    period ending at ``until`` at the latest: the window's end)."""
    times = decision_times(first, last, step, sessions)
    return len(times), periods_a_year(times, step, sessions, until)


# --- the data a window has ----------------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How much of a window's span the asset's data covers: its decision times that can price
    an order (``coverage.priced``: none before the data starts or after the candles end)."""

    priced: int
    decisions: int

    @property
    def none(self) -> bool:
        return self.priced == 0

    @property
    def whole(self) -> bool:
        return self.priced == self.decisions

    @property
    def share(self) -> float:
        return self.priced / self.decisions if self.decisions else 0.0


def _coverage(
    bars: Bars, first: datetime, last: datetime, step: timedelta, sessions: bool
) -> Coverage:
    times = decision_times(first, last, step, sessions)
    return Coverage(priced(bars, times), len(times))


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowResult:
    window: Window
    index: int | None  # the chosen set's place in the grid; None: none chosen (cash)
    params: Mapping[str, Any] | None
    in_sample: SweepRow | None
    in_sample_value: float | None  # the objective
    out_of_sample: SweepRow | None
    out_of_sample_value: float | None
    screened: int  # sets screened in-sample (the grid less its failures)
    failed: tuple[Failed, ...]  # in-sample failures, then the test's
    curve: Curve | None  # the test window's, for the stitched curve
    periods: int  # decision times in the test window
    test_span: Span
    # The data each span has. A span with none is not screened: the window chooses nothing
    # (training) or is not judged (test), which the table says apart from a choice of cash.
    train_data: Coverage
    test_data: Coverage

    @property
    def unscreened(self) -> bool:
        """Nothing was chosen because the training span has no data (not for want of an
        objective)."""
        return self.train_data.none


@dataclass(frozen=True)
class Stitched:
    """The test windows' curves chained: the out-of-sample record of the whole walk, scored as
    a sweep row is (``params`` empty)."""

    row: SweepRow
    periods: int  # decision times in all the test windows
    cash_windows: int  # windows with no chosen set or a failed test, counted as cash
    step: timedelta
    per_year: float  # decision times a year
    elapsed: timedelta  # the test windows' length, one after the other

    @property
    def years(self) -> float:
        return self.periods / self.per_year

    @property
    def span(self) -> Span:
        return Span(self.years, self.elapsed)


@dataclass(frozen=True)
class AssetWalk:
    asset: str
    windows: tuple[WindowResult, ...]
    stitched: Stitched
    data: str  # what the data is (``Bars.label``: ``1d BTC candles``)
    data_span: tuple[datetime, datetime]  # its first and last close
    # What a backtest of the test windows would say of the data (``sweep.data_notes``): the
    # stitched record counts the time before it starts as cash and holds its last close after.
    notes: tuple[str, ...] = ()

    @property
    def covered(self) -> bool:
        """Every window's training and test spans have data at every decision time."""
        return all(w.train_data.whole and w.test_data.whole for w in self.windows)

    @property
    def chosen(self) -> list[WindowResult]:
        return [w for w in self.windows if w.params is not None]

    def stability(self) -> dict[str, list[tuple[Any, int]]]:
        """Per parameter, each value chosen and in how many windows, most often first (ties:
        grid order)."""
        chosen = self.chosen
        if not chosen:
            return {}
        names = list(chosen[0].params or {})
        out = {}
        for name in names:
            counts = Counter(repr(w.params[name]) for w in chosen if w.params is not None)
            values = {repr(w.params[name]): w.params[name] for w in chosen if w.params is not None}
            order = list(values)  # first chosen first
            ranked = sorted(order, key=lambda key: -counts[key])
            out[name] = [(values[key], counts[key]) for key in ranked]
        return out

    @property
    def changes(self) -> int:
        """How often the chosen set differs from the one before it."""
        sets = [w.index for w in self.chosen]
        return sum(1 for a, b in pairwise(sets) if a != b)

    def degradation(self) -> tuple[float | None, float | None]:
        """The chosen sets' mean objective in-sample and out-of-sample (where both exist)."""
        pairs = [
            (w.in_sample_value, w.out_of_sample_value)
            for w in self.windows
            if w.in_sample_value is not None and w.out_of_sample_value is not None
        ]
        if not pairs:
            return None, None
        return (
            float(np.mean([a for a, _ in pairs])),
            float(np.mean([b for _, b in pairs])),
        )


@dataclass(frozen=True)
class WalkForward:
    strategy: str
    grid: Mapping[str, Sequence[Any]]
    start: datetime
    end: datetime
    step: timedelta
    train: timedelta
    test: timedelta
    anchored: bool
    objective: Objective
    assets: tuple[AssetWalk, ...]
    tasks: int
    # The combinations the compiler refuses, in grid order: left out of every window (not
    # screened, never chosen), each reported once, not once a window.
    uncompiled: tuple[Failed, ...] = ()

    @property
    def combinations(self) -> int:
        return len(grid_combinations(self.grid))

    @property
    def walked(self) -> int:
        """The combinations screened in every window: the grid's less those that fail to
        compile."""
        return self.combinations - len(self.uncompiled)

    @property
    def failed(self) -> tuple[Failed, ...]:
        """The screens that failed, each window's (its asset and number named)."""
        return tuple(f for a in self.assets for w in a.windows for f in w.failed)


def short_note(walk: WalkForward, asset: AssetWalk) -> str | None:
    """Why the objective is "—" where a period is shorter than a year (Calmar's, which
    annualises), said under the table; None when every test window screened and the stitched
    record have one. A training window is never that short (``run_walkforward`` refuses it)."""
    goal, stitched = walk.objective, asset.stitched
    short = [
        w
        for w in asset.windows
        if w.out_of_sample is not None and not goal.defined_over(w.test_span)
    ]
    whole_short = not goal.defined_over(stitched.span)
    if not short and not whole_short:
        return None
    named = []
    if short:
        lengths = sorted({w.test_span.elapsed for w in short})
        each = listed([format_duration(length.total_seconds()) for length in lengths])
        named.append(f"{counted(len(short), 'test window')} of {each}")
    whole = f"stitched ({format_duration(stitched.elapsed.total_seconds())})"
    if whole_short:
        named.append(whole)
    year = format_duration(ANNUALISED_FROM.total_seconds())
    note = (
        f"{goal.title} — for {listed(named)}: it annualises the return, and under a year "
        f"({year}) that extrapolates it (+10% in a month is over +200% a year)"
    )
    return note if whole_short else f"{note}; {whole} has one"


# --- the walk ------------------------------------------------------------------------------------


def run_walkforward(
    strategy: Strategy,
    *,
    grid: Mapping[str, Sequence[Any]],
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    train: timedelta,
    test: timedelta,
    executor: Executor,
    assets: Sequence[str] | None = None,
    anchored: bool = False,
    objective: str = "sharpe",
    every: timedelta | None = None,
    fee_bps: float | Decimal,
    slippage_bps: float | Decimal,
    settings: Settings | None = None,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> WalkForward:
    """Walk ``strategy`` forward over ``grid`` on each of ``assets`` (default: its first)."""
    if objective not in OBJECTIVES:
        raise InputError(f"unknown objective '{objective}' (one of: {', '.join(OBJECTIVES)})")
    goal = OBJECTIVES[objective]
    if goal.annualised and not annualisable(train):
        year = format_duration(ANNUALISED_FROM.total_seconds())
        raise InputError(
            f"--objective {goal.name} needs --train {year} or longer (got "
            f"{format_duration(train.total_seconds())}): {goal.title} annualises the return, "
            f"and under a year that extrapolates it; train longer, or choose by --objective "
            f"sharpe or return"
        )
    settings = settings or Settings()
    document = plain_document(strategy)
    check_grid(document, grid)
    chosen_assets = tuple(dict.fromkeys(assets or strategy.assets[:1]))
    start, end = utc(start), utc(end)
    timeframe = first_timeframe(strategy, document, grid)
    step = every or timedelta(seconds=timeframe)
    found = windows(start, end, train=train, test=test, step=step, anchored=anchored)
    last = found[-1].test[1]
    venues = settings.load().venues
    bars = check_inputs(store, chosen_assets, timeframe, start, last, step, venues)
    sessions = {asset: venues.in_sessions([asset]) for asset in chosen_assets}

    run = uuid.uuid4().hex
    last_close = window_end(end, timeframe)

    def ending(w: Window) -> datetime:
        """Where a test window's periods end at the latest: its end, or --to's last candle's
        close for the last window (which may end after it)."""
        return min(w.test_end, last_close)

    def job(
        asset: str, first: datetime, final: datetime, until: datetime, curves: bool
    ) -> ScreenJob:
        # ``until``: the window's end (a step longer than a candle stops there, at the next
        # window's start, not past it).
        return ScreenJob(
            document,
            strategy.file,
            grid,
            asset,
            timeframe,
            first,
            final,
            step,
            float(fee_bps),
            float(slippage_bps),
            settings,
            curves=curves,
            run=run,
            until=until,
        )

    # Before anything is screened: a set the compiler refuses would fail in every window.
    uncompiled = compile_failures(document, grid, strategy.file)
    compiled = _compiled_indices(uncompiled, len(grid_combinations(grid)))
    shared = share_market(executor, store, [strategy])
    places = [(asset, w) for asset in chosen_assets for w in found]
    data = [
        (
            _coverage(bars[asset], *w.train, step, sessions[asset]),
            _coverage(bars[asset], *w.test, step, sessions[asset]),
        )
        for asset, w in places
    ]
    _check_training_data(bars, places, data)
    # A training span without data is not screened: every set would be flat cash there, and
    # the window would seem to have chosen (or found no objective) where it had nothing.
    with_data = [k for k, (train_data, _) in enumerate(data) if not train_data.none]
    trains = [
        job(places[k][0], *places[k][1].train, places[k][1].test_start, False) for k in with_data
    ]
    screened_trains, train_tasks = run_screens(
        executor,
        shared,
        trains,
        chunk=chunk,
        indices=None if compiled is None else [compiled] * len(trains),
        progress=progress,
        what="in-sample",
    )
    trained = [Screened({}, []) for _ in places]
    for k, screened in zip(with_data, screened_trains, strict=True):
        trained[k] = screened
    picks = [
        choose(
            {i: s.row for i, s in screened.scored.items()},
            goal,
            _span(*w.train, step, sessions[asset], w.test_start)[1],
        )
        for (asset, w), screened in zip(places, trained, strict=True)
    ]
    # A test span without data is not judged: the stitched record holds cash there.
    judged = [(k, pick) for k, pick in enumerate(picks) if pick is not None and not data[k][1].none]
    tested, test_tasks = run_screens(
        executor,
        shared,
        [job(places[k][0], *places[k][1].test, ending(places[k][1]), True) for k, _ in judged],
        chunk=1,
        indices=[[pick] for _, pick in judged],
        progress=progress,
        what="out-of-sample",
    )
    tests = {k: screened for (k, _), screened in zip(judged, tested, strict=True)}
    by_asset: dict[str, list[WindowResult]] = {asset: [] for asset in chosen_assets}
    span = (found[0].test[0], found[-1].test[1])  # the test windows, one after the other
    until = ending(found[-1])
    for k, ((asset, w), screened, pick) in enumerate(zip(places, trained, picks, strict=True)):
        walked = _window(
            asset, w, screened, pick, tests.get(k), goal, step, sessions[asset], ending(w), data[k]
        )
        by_asset[asset].append(walked)
    return WalkForward(
        strategy.name,
        grid,
        start,
        end,
        step,
        train,
        test,
        anchored,
        goal,
        tuple(
            AssetWalk(
                a,
                tuple(rs),
                stitch(
                    rs,
                    step,
                    _per_year(*span, step, sessions[a], until)[1],
                    fee_bps=float(fee_bps),
                    slippage_bps=float(slippage_bps),
                ),
                bars[a].label,
                (bars[a].first_close, bars[a].last_close),
                _stitched_notes(bars[a], found, step, sessions[a]),
            )
            for a, rs in by_asset.items()
        ),
        train_tasks + test_tasks,
        uncompiled,
    )


def _compiled_indices(uncompiled: Sequence[Failed], combinations: int) -> list[int] | None:
    """The grid indices a walk screens: None (all) when every combination compiles, else
    those that do; ``InputError`` when none does, naming the first failure (as the sweep says
    it: "the only combination failed", "all N combinations failed")."""
    if not uncompiled:
        return None
    refused = {failed.index for failed in uncompiled}
    compiled = [index for index in range(combinations) if index not in refused]
    if compiled:
        return compiled
    first = uncompiled[0].error
    if combinations == 1:
        raise InputError(f"the only combination failed: {first}")
    raise InputError(f"all {counted(combinations, 'combination')} failed; the first: {first}")


def _check_training_data(
    bars: Mapping[str, Bars],
    places: Sequence[tuple[str, Window]],
    data: Sequence[tuple[Coverage, Coverage]],
) -> None:
    """``DataNotFound`` for an asset no window of which has data in its training span: nothing
    could be chosen, and a table of windows marked "no data" would walk nothing."""
    for asset, found in bars.items():
        spans = [(w, d) for (a, w), d in zip(places, data, strict=True) if a == asset]
        if all(train.none for _, (train, _) in spans):
            last = spans[-1][0]
            raise DataNotFound(
                f"no walk-forward window has {found.label} in its training span (the last: "
                f"{_day(last.train[0])} .. {_day(last.train[1])}): the recorded data covers "
                f"{_day(found.first_close)} .. {_day(found.last_close)}; start --from later or "
                "train for less (--train)"
            )


def _day(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}"


def _stitched_notes(
    bars: Bars, found: Sequence[Window], step: timedelta, sessions: bool
) -> tuple[str, ...]:
    """The backtest's notes of the data (``sweep.data_notes``) at the test windows' decision
    times, one window after the other: the stitched record's."""
    times = np.concatenate([decision_times(*w.test, step, sessions) for w in found])
    return data_notes(bars, times)


def _window(
    asset: str,
    window: Window,
    trained: Screened,
    pick: int | None,
    tested: Screened | None,
    goal: Objective,
    step: timedelta,
    sessions: bool,
    until: datetime,
    data: tuple[Coverage, Coverage],
) -> WindowResult:
    """``until``: where the test window's periods end at the latest; ``data``: the training
    and test spans' coverage."""
    periods, test_span = _span(*window.test, step, sessions, until)
    _, train_span = _span(*window.train, step, sessions, window.test_start)
    failed = list(trained.failed) + (list(tested.failed) if tested is not None else [])
    what = f"{asset} window {window.number}"
    named = tuple(Failed(f"{what} {f.what}", f.error, f.index) for f in failed)
    if pick is None:
        return WindowResult(
            window,
            None,
            None,
            None,
            None,
            None,
            None,
            len(trained.scored),
            named,
            None,
            periods,
            test_span,
            *data,
        )
    row = trained.scored[pick].row
    scored = tested.scored.get(pick) if tested is not None else None
    out_row = scored.row if scored is not None else None
    return WindowResult(
        window,
        pick,
        dict(row.params),
        row,
        goal.value(row, train_span),
        out_row,
        None if out_row is None else goal.value(out_row, test_span),
        len(trained.scored),
        named,
        scored.curve if scored is not None else None,
        periods,
        test_span,
        *data,
    )


def stitch(
    results: Sequence[WindowResult],
    step: timedelta,
    per_year: float,
    *,
    fee_bps: float = 0.0,
    slippage_bps: float = 0.0,
) -> Stitched:
    """The test windows' curves chained (a window without one held cash for its length);
    ``per_year``: the decision times a year of their period.

    The next window starts flat, so a position still open at a window's end is sold at its last
    close before it, as the screen sells (slippage, then the fee on what it fetched): a closed
    round trip of the stitched record, its exit costs paid. The last window's stays open."""
    values = [STARTING_CASH]
    held: list[np.ndarray] = []
    wins = closed = blocked = cash = 0
    fees = 0.0
    open_trade = False
    slip, fee = slippage_bps / 10_000, fee_bps / 10_000
    for k, result in enumerate(results):
        curve, row = result.curve, result.out_of_sample
        if curve is None or row is None:
            values.extend([values[-1]] * result.periods)
            held.append(np.zeros(result.periods, dtype=bool))
            cash += 1
            open_trade = False
            continue
        scale = values[-1] / STARTING_CASH
        values.extend((curve.equity * scale).tolist())
        held.append(curve.held)
        wins, closed, blocked = wins + curve.wins, closed + curve.closed, blocked + row.blocked
        fees += row.fees * scale
        open_trade = row.open_trade
        if open_trade and k < len(results) - 1:
            # All in: the position is the whole equity. Its cost is the cash before its entry.
            fetched = values[-1] * (1 - slip)
            fees += fetched * fee
            values[-1] = fetched * (1 - fee)
            wins += values[-1] > _entry_cash(curve) * scale
            closed += 1
            open_trade = False
    curve_values = np.array(values)
    all_held = np.concatenate(held) if held else np.zeros(0, dtype=bool)
    row = SweepRow(
        params={},
        total_return=total_return(curve_values),
        max_drawdown=max_drawdown_depth(curve_values),
        sharpe=sharpe(period_returns(curve_values), per_year),
        win_rate=WinRate.of(wins, closed),
        exposure=exposure(all_held) if len(all_held) else 0.0,
        blocked=blocked,
        fees=fees,
        open_trade=open_trade,
    )
    elapsed = sum((result.test_span.elapsed for result in results), timedelta())
    return Stitched(row, len(all_held), cash, step, per_year, elapsed)


def _entry_cash(curve: Curve) -> float:
    """The cash the position open at the end of ``curve`` was bought with (all in): the equity
    before the decision time that bought it, the starting cash when that is the first."""
    flat = np.flatnonzero(~curve.held)
    first_held = int(flat[-1]) + 1 if len(flat) else 0
    return float(curve.equity[first_held - 1]) if first_held else STARTING_CASH
