"""The event-driven backtest: the live ``Pipeline`` on replayed data and a simulated clock.

    result = run_backtest(strategy, store=SnapshotStore("examples/replay"),
                          start=datetime(2023, 3, 1, tzinfo=UTC), end=datetime(2023, 3, 31,
                          tzinfo=UTC), out_dir="reports/x")

Nothing here decides anything. Each period the live pipeline's own steps run: data from the
replay adapters, the compiled tree's evaluation, sizing, the risk gate, a ``PaperBroker`` fill
and an audit record in a fresh log in ``out_dir``, so a backtest decision is a live decision at a
simulated time (backtest-live parity). Two engines take those steps and write the same log,
record for record and hash for hash (``tests/test_backtest_fast_parity.py``):

- ``fast`` (the default, ``signalops.backtest.fast``): every bar's data read at once, each
  decision through ``Pipeline.gate`` and ``Recorder.paper``, records committed in batches;
- ``pipeline``: the very ``Pipeline.cycle`` that ``signalops run`` uses, at every decision time.

The log is written as ``<audit_file>.<pid>.partial`` (each run its own: two runs into one
folder never write or delete each other's) and renamed when complete
(``signalops.audit.files.publish``): a backtest killed half way never leaves a log under its
name that verifies but is cut short, and one stopped by an error or Ctrl-C removes its
``.partial``. A report of several files is written into a folder beside its own and published
at the end in one step (``signalops.backtest.folders``): a report folder never holds parts of
two runs.

The only backtest-specific parts are:

- the clock: decision times from ``start`` to ``end`` inclusive, every ``every`` (default: the
  strategy's candle timeframe), and records stamped with that simulated time; when every asset
  trades only in sessions (stocks), only the times with a session opening before the next time
  (``decision_times``);
- the fill price: the broker fills a decision taken at ``t`` at the open of the next bar, the
  bar that opens at or after ``t`` (``fill="next_close"``: at its close), with the configured
  slippage and fee. The bars the signal was computed from closed by ``t`` and are never traded
  at (a stock's daily bar opens at 09:30 New York: ``Bars.open_time``). When there is no next
  bar (the data ends) the order FAILS with that reason, recorded like any other;
- the mode: always paper, whatever the strategy's ``action_mode`` says (a backtest sends no
  notifications and places no orders);
- the kill switch: never read (``backtest_config``). It is today's live control: a simulated
  history that read it would be zeroed by a file touched today;
- the accounting afterwards (equity curve, trades, metrics, filter accounting), which only reads
  the audit log and the recorded prices.

Several strategies run together as ``signalops run`` runs them: one ``Pipeline`` with all of
them, one ``PaperBroker`` account in which each strategy keeps its own book (the config's
``strategies: {NAME: {capital: ...}}`` allocations applied by the pipeline, as a run's are), at
the same decision times, into one log. They take the ``pipeline`` engine: the fast engine takes
one strategy's decisions over every time at once, and strategies together share the account's
cash and limits at each time. The decision times are every ``every``, by default the
strategies' candle timeframe, which they must then share (``run_timeframe``); with ``every`` the
fills and marks use the shortest of their timeframes.

Two hooks let stress scenarios (``signalops.stress``) shock a run without another code path:
``wrap_adapters`` replaces replay adapters (a source that answers nothing for a while) and
``refuse`` lets the venue turn orders down (the paper broker answers FAILED with the refusal's
code before it fills anything). Shocked prices need no hook: they come from a ``store`` whose
series are transformed. Without them a run is exactly as before.

Equity curve: the first point is the starting cash at the first decision time (``start``,
unless a stock's first session comes later); then one point per period
``[t, t + every)``, at its end, with the portfolio after the decisions at ``t`` marked at the last
close at or before ``t + every`` (the orders of ``t`` fill at the start of that period); no
period ends after the close of the candle that opens at ``end`` (``clock.window_end``: an
``every`` longer than a candle would carry the last one, and the results, past ``--to``). The
buy-and-hold benchmark buys the assets in equal parts at the first fill price (same slippage and
fee) and is marked the same way.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from itertools import chain, compress, repeat
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import numpy as np

from signalops.adapters import calendar, registry
from signalops.adapters.base import Adapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.files import PARTIAL, publish, remove
from signalops.audit.store import AuditLog
from signalops.backtest.bars import FILL_RULES, NEXT_OPEN, Bars, MarkCloses, closes_at_marks
from signalops.backtest.clock import (
    SimulatedClock,
    epoch_seconds,
    period_ends,
    session_decisions,
    session_periods_per_year,
    window_end,
)
from signalops.backtest.fast import FastRun, FlatViewBroker, fewer_collections
from signalops.backtest.filters import DEFAULT_HORIZON, Accounting, account
from signalops.backtest.ledger import (
    Decision,
    EquityPoint,
    Leg,
    Trade,
    book_trips,
    equity_points,
    parse_time,
    round_trips,
)
from signalops.backtest.metrics import Metrics, summarize, summarize_columns
from signalops.backtest.unknowns import UnknownData, UnknownTally
from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.config import Config, PaperConfig
from signalops.errors import DataNotFound, InputError
from signalops.execution import marks
from signalops.execution.paper import PaperBroker
from signalops.observation import utc
from signalops.orders import ExecutionResult, Mode, OrderIntent, Side
from signalops.pipeline import Pipeline, records_of_kind
from signalops.pipeline.cycle import candle_timeframe
from signalops.pipeline.loop import simulated_times
from signalops.strategy.model import Strategy
from signalops.venues import Venues

AUDIT_FILE = "backtest.db"
# How the decisions are taken: ``fast`` (``signalops.backtest.fast``: the pipeline's gate,
# broker and records, with every bar's data read at once) or ``pipeline`` (``Pipeline.cycle``
# at each decision time, the reference the fast engine is tested against record for record).
FAST, PIPELINE = "fast", "pipeline"
ENGINES = (FAST, PIPELINE)
_BPS = Decimal(10_000)
# Cycles written per commit of the pipeline engine's log: the log is rebuildable output (see
# ``_fresh_log``), so a crash may lose the last batch, never leave a half-written cycle.
_CYCLES_PER_COMMIT = 64

OnProgress = Callable[[int, int], None]
"""``(periods done, periods in all)``, called after each cycle."""

Refusal = Callable[[OrderIntent, datetime], ExecutionResult | None]
"""``(intent, as_of) -> result``: the venue's refusal of an order (a FAILED result), or None
to let the paper broker execute it."""

WrapAdapters = Callable[[dict[str, Adapter]], Mapping[str, Adapter]]
"""The replay adapters by source -> the adapters the run uses."""


DAY = timedelta(days=1)


@dataclass(frozen=True)
class BacktestResult:
    """Everything a backtest produced; the audit log at ``audit_path`` has every decision."""

    strategy: Strategy
    assets: tuple[str, ...]
    start: datetime
    end: datetime
    every: timedelta
    timeframe: int  # candle timeframe (seconds) the fills and marks use
    fill: str
    paper: PaperConfig
    quote: str  # the paper account's currency, which every money figure is in
    horizon: timedelta
    audit_path: Path
    prices: Mapping[str, Bars]  # the candles fills and marks used, by asset
    equity: tuple[EquityPoint, ...]
    buy_and_hold: tuple[EquityPoint, ...]
    decisions: tuple[Decision, ...]
    legs: tuple[Leg, ...]
    unknown: tuple[UnknownData, ...]  # the data the decisions could not read, per asset and metric
    trades: tuple[Trade, ...]
    metrics: Metrics
    benchmark: Metrics | None  # buy-and-hold; None when it could not buy (no price)
    blocked: Accounting  # every BLOCKED decision's trade, played out over ``horizon``
    signals: Accounting  # every FILLED BUY, played out the same way (false signals)
    seconds: float
    sessions: bool = False  # its assets trade in sessions: it decided before them only
    # The strategies that ran beside ``strategy`` (the first named) in its account, each with
    # its own book; empty when it ran alone.
    others: tuple[Strategy, ...] = ()
    # The strategy each decision is of (decision id -> name), when several ran.
    owners: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # The books' allocations (the config's ``strategies: {NAME: {capital: ...}}``), by name.
    capital: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def strategies(self) -> tuple[Strategy, ...]:
        """Every strategy of the run, in the order named."""
        return (self.strategy, *self.others)

    def owner(self, decision_id: str) -> str:
        """The name of the strategy whose decision ``decision_id`` is."""
        return self.owners.get(decision_id, self.strategy.name)

    @property
    def by_session(self) -> bool:
        """Whether it decided once before each session (a step of a day or less)."""
        return self.sessions and self.every <= DAY

    @property
    def periods(self) -> int:
        return len(self.equity) - 1

    @cached_property
    def times(self) -> list[datetime]:
        """The decision times, in order: one per point of ``equity`` after the first (which
        marks each at its period's end)."""
        return decision_times(self.start, self.end, self.every, self.sessions)

    def decision(self, as_of: datetime, asset: str) -> Decision | None:
        """The decision for ``asset`` at ``as_of`` (one per strategy, asset and time)."""
        return self._by_time.get((as_of, asset))

    @cached_property
    def _by_time(self) -> dict[tuple[datetime, str], Decision]:
        return {(d.as_of, d.asset): d for d in self.decisions}

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self._strategy_dict(),
            **({"strategies": self._strategies_dict()} if self.others else {}),
            "assets": list(self.assets),
            "from": iso(self.start),
            "to": iso(self.end),
            "every": format_duration(self.every.total_seconds()),
            "timeframe": format_duration(self.timeframe),
            "periods": self.periods,
            "sessions": self.by_session,  # one decision before each session (stocks)
            "fill": {
                "rule": self.fill,
                "fee_bps": str(self.paper.fee_bps),
                "slippage_bps": str(self.paper.slippage_bps),
            },
            "starting_cash": str(self.paper.starting_cash),
            "quote": self.quote,
            "audit_log": str(self.audit_path),
            "decisions": {
                verdict: sum(1 for d in self.decisions if d.verdict == verdict)
                for verdict in ("BUY", "SELL", "HOLD", "BLOCKED")
            },
            "metrics": self.metrics.to_dict(),
            "unknown_data": [found.to_dict() for found in self.unknown],
            "blocked": self._accounted(self.blocked, blocked=True),
            "signals": self._accounted(self.signals, blocked=False),
            "seconds": round(self.seconds, 3),
        }

    def _accounted(self, accounting: Accounting, *, blocked: bool) -> dict[str, Any]:
        """``accounting`` as metrics.json has it; of several strategies, each decision played
        out names its strategy first (as trades.csv's rows do): their vetoes and entries are
        one list, and a decision id alone does not say whose it is."""
        data = accounting.to_dict(blocked=blocked)
        if self.others:
            data["decisions"] = [
                {"strategy": self.owner(item["decision_id"]), **item} for item in data["decisions"]
            ]
        return data

    def _strategy_dict(self) -> dict[str, Any]:
        """The strategy; of several run together, the run as the report's title names it: no
        one file, hash or vetoes are the run's, and the first's read as if it had run alone
        (each one's are in ``strategies``, beside it)."""
        if self.others:
            names = " + ".join(s.name for s in self.strategies)
            return {"name": names, "file": None, "hash": None, "vetoes": None}
        return {
            "name": self.strategy.name,
            "file": self.strategy.file,
            "hash": self.strategy.content_hash,
            "vetoes": [veto.id for veto in self.strategy.tree.vetoes],
        }

    def _strategies_dict(self) -> list[dict[str, Any]]:
        """Each strategy of a run of several, in the order named, with its allocation."""
        return [
            {
                "name": s.name,
                "file": s.file,
                "hash": s.content_hash,
                "assets": list(s.assets),
                "vetoes": [veto.id for veto in s.tree.vetoes],
                "capital": None if s.name not in self.capital else str(self.capital[s.name]),
            }
            for s in self.strategies
        ]


@fewer_collections()  # all of it, its accounting too (``fast.fewer_collections``)
def run_backtest(
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
    progress: OnProgress | None = None,
    audit_file: str = AUDIT_FILE,
    engine: str | None = None,
    wrap_adapters: WrapAdapters | None = None,
    refuse: Refusal | None = None,
) -> BacktestResult:
    """Run ``strategy`` through the live pipeline at every decision time in ``[start, end]``;
    several strategies together in one account (the module's docstring), each on its own
    assets or all on ``assets``.

    ``engine``: ``fast`` (the default for one strategy) or ``pipeline`` (for several, the only
    one); both write the same log, record for record (module ``signalops.backtest.fast``). The
    log appears at ``out_dir/audit_file`` only once complete (``signalops.audit.files.publish``);
    a run that raises (Ctrl-C included) leaves nothing. ``config``'s kill switch file is not
    read (``backtest_config``). ``wrap_adapters`` and ``refuse``: the stress hooks of the
    module docstring.

    Raises ``InputError`` for input that cannot give a backtest (a reversed period, an unknown
    fill rule or engine, no assets, assets whose money is in different currencies
    (``Config.check_quotes``), a horizon shorter than a bar; two strategies of one name,
    or of different candle timeframes without ``every``) and ``DataNotFound`` for
    assets without recorded candles or without a candle for the period's decisions to read
    (``_check_coverage``).
    """
    began = time.perf_counter()
    config = backtest_config(config or Config())
    start, end = utc(start), utc(end)
    strategies = _together(strategy)
    engine = engine or (FAST if len(strategies) == 1 else PIPELINE)
    timeframe = run_timeframe(strategies, every)
    step = every or timedelta(seconds=timeframe)
    chosen = tuple(assets) if assets else _assets_of(strategies)
    _check_input(start, end, step, fill, chosen)
    config.check_quotes(chosen)  # one account, one currency: no prices booked as another's
    if engine not in ENGINES:
        raise InputError(f"unknown backtest engine '{engine}' (one of: {', '.join(ENGINES)})")
    if engine == FAST and len(strategies) > 1:
        raise InputError(
            "the fast engine takes one strategy: several together run on the pipeline engine"
        )
    if horizon < timedelta(seconds=timeframe):
        raise InputError(
            f"the filter horizon ({format_duration(horizon.total_seconds())}) is shorter than one "
            f"{format_duration(timeframe)} bar: a blocked trade could not be played out"
        )
    prices = {asset: load_bars(store, asset, timeframe, config.venues) for asset in chosen}
    _check_coverage(prices, start, end)
    sessions = config.venues.in_sessions(chosen)
    times = decision_times(start, end, step, sessions)
    if not times:
        raise InputError(
            f"no US equity session opens from {iso(start)} to {iso(end + step)}: "
            f"{', '.join(chosen)} cannot be traded in that period"
        )
    if assets:
        strategies = tuple(
            s if s.assets == chosen else replace(s, assets=chosen) for s in strategies
        )
    strategy, others = strategies[0], strategies[1:]

    audit_path = Path(out_dir) / audit_file
    with _writing(audit_path) as log:
        clock = SimulatedClock(start)
        paper = config.paper
        broker_class = _broker_class(engine, refuse)
        broker = broker_class(
            log.db,
            starting_cash=paper.starting_cash,
            fee_bps=paper.fee_bps,
            slippage_bps=paper.slippage_bps,
            quote=config.account_quote(chosen),  # None: the ledger's default
            price=lambda asset, at: _bars_of(prices, asset).fill(fill, at),
            created_at=start,
        )
        if isinstance(broker, _RefusingBroker):
            broker.refuse = refuse
        adapters: Mapping[str, Adapter] = registry.replay_adapters(store, venues=config.venues)
        if wrap_adapters is not None:
            adapters = wrap_adapters(dict(adapters))
        pipeline = Pipeline(
            strategies=list(strategies),
            adapters=adapters,
            audit=log,
            broker=broker,
            config=config,
            mode=Mode.PAPER,
            clock=clock,
            simulated=True,  # its report tells what failed; a live run's warnings are not for it
        )
        marks.attach(pipeline)  # the day's start at the midnight closes, as a run's
        curve = [EquityPoint(times[0], paper.starting_cash, paper.starting_cash, held=False)]
        last_fills = (bars.fill_close(times[-1]) for bars in prices.values())
        ends = period_ends(times, step, window_end(end, timeframe, last_fills))
        closes = closes_at_marks(prices, ends)  # the curve's and buy-and-hold's marks
        bulk = False
        owners: dict[str, str] = {}
        if engine == FAST:
            on_cycle = None if progress is None else _reporting(progress, len(times))
            run = FastRun(
                pipeline, strategy, times, ends, prices, clock=clock, on_cycle=on_cycle,
                closes=closes,
            )  # fmt: skip
            # It never filters decisions (it asks by id and kind), and its .partial file is its own.
            bulk = log.start_bulk_load(private=True)
            curve += run.run()
            decisions, unknown = tuple(run.decisions), run.unknown
            legs = tuple(_leg(*filled) for filled in run.fills)
        else:
            unknown = UnknownTally()
            curve += _pipeline_cycles(pipeline, clock, times, ends, prices, progress, unknown)
            records = records_of_kind(log, "decision")
            decisions = tuple(Decision.from_record(r) for r in records)
            if others:
                owners = {r["decision_id"]: r["strategy"]["name"] for r in records}
            legs = _legs(log, decisions)
        with ThreadPoolExecutor(1, thread_name_prefix="signalops-indexes") as indexing:
            # SQLite builds the log's indexes without holding the GIL: on another core, while
            # the results are worked out here (they read the prices, never the log).
            built = indexing.submit(log.finish_bulk_load) if bulk else None
            outcome = _outcome(
                curve, decisions, legs, prices, times, ends, step, paper, fill, horizon,
                risk_free, sessions, owners, closes,
            )  # fmt: skip
            if built is not None:
                built.result()
    return BacktestResult(
        strategy=strategy,
        assets=chosen,
        start=start,
        end=end,
        every=step,
        timeframe=timeframe,
        fill=fill,
        paper=paper,
        quote=pipeline.broker.quote,
        horizon=horizon,
        audit_path=audit_path,
        prices=prices,
        equity=tuple(curve),
        decisions=decisions,
        legs=legs,
        unknown=unknown.result(),
        **outcome,
        seconds=time.perf_counter() - began,
        sessions=sessions,
        others=others,
        owners=MappingProxyType(owners),
        capital=MappingProxyType(dict(pipeline.broker.capital)),
    )


def _outcome(
    curve: list[EquityPoint],
    decisions: tuple[Decision, ...],
    legs: tuple[Leg, ...],
    prices: dict[str, Bars],
    times: list[datetime],
    ends: list[datetime],
    step: timedelta,
    paper: PaperConfig,
    fill: str,
    horizon: timedelta,
    risk_free: float,
    sessions: bool,
    owners: Mapping[str, str],
    closes: Mapping[str, MarkCloses] | None = None,
) -> dict[str, Any]:
    """What a run's decisions and fills came to: the ``BacktestResult`` fields of its trades,
    metrics, buy-and-hold and filter accounting. ``owners``: the strategy of each decision
    when several ran, whose trades are each book's round trips (``ledger.book_trips``);
    ``closes``: each asset's closes at ``ends``, if worked out already."""
    trades = book_trips(legs, owners) if owners else round_trips(legs)
    fees = sum((leg.fee for leg in legs), Decimal(0))
    seconds = step.total_seconds()
    per_year = (
        session_periods_per_year(epoch_seconds(times), seconds, ends[-1].timestamp())
        if sessions
        else None
    )
    hold = _hold(prices, times, step, paper, fill, ends, closes)
    blocked, acted = _accounted(decisions)
    return {
        "buy_and_hold": () if hold is None else hold.points,
        "trades": trades,
        "metrics": summarize(curve, trades, fees, step, risk_free=risk_free, per_year=per_year),
        "benchmark": None if hold is None else hold.summary(paper, step, risk_free, per_year),
        "blocked": account(blocked, prices, horizon, paper, fill),
        "signals": account(acted, prices, horizon, paper, fill),
    }


def decision_times(
    start: datetime, end: datetime, step: timedelta, sessions: bool
) -> list[datetime]:
    """A backtest's decision times: every ``step`` from ``start`` to ``end``, inclusive; for
    assets that all trade in sessions, only those before a session opens
    (``clock.session_decisions``)."""
    times = list(simulated_times(start, end, step))
    if sessions:
        keep = session_decisions(epoch_seconds(times), step.total_seconds())
        times = list(compress(times, keep.tolist()))
    return times


# --- input checks ---------------------------------------------------------------------------------


def _together(strategy: Strategy | Sequence[Strategy]) -> tuple[Strategy, ...]:
    """The strategies of a run: one, or several of different names (``signalops run``'s rule:
    two of one name would share one book, its positions and its cooldown)."""
    from signalops.setup_warnings import duplicate_names

    strategies = (strategy,) if isinstance(strategy, Strategy) else tuple(strategy)
    if not strategies:
        raise InputError("no strategy to backtest")
    duplicate = duplicate_names(strategies)
    if duplicate is not None:
        raise InputError(duplicate)
    return strategies


def run_timeframe(strategies: Sequence[Strategy], every: timedelta | None) -> int:
    """The candle timeframe (seconds) a run's fills and marks use: its strategy's
    (``candle_timeframe``); of several, the one they share, or with ``every`` (which sets the
    decision times) the shortest. Strategies of different timeframes without ``every`` are
    refused: no decision times suit them all (a daily strategy deciding every hour would act
    24 times on one close; an hourly one deciding daily, on a day-old signal)."""
    frames = {s.name: candle_timeframe(s) for s in strategies}
    if every is None and len(set(frames.values())) > 1:
        shown = ", ".join(f"{name} {format_duration(tf)}" for name, tf in frames.items())
        shortest = format_duration(min(frames.values()))
        raise InputError(
            f"the strategies read candles of different timeframes ({shown}) and decide together "
            f"at the same times: choose them with --every (e.g. --every {shortest})"
        )
    return min(frames.values())


def _assets_of(strategies: Sequence[Strategy]) -> tuple[str, ...]:
    """Every asset the strategies trade, each once, in the order they name them."""
    return tuple(dict.fromkeys(asset for s in strategies for asset in s.assets))


def _check_input(
    start: datetime, end: datetime, step: timedelta, fill: str, assets: Sequence[str]
) -> None:
    if fill not in FILL_RULES:
        raise InputError(f"unknown fill rule '{fill}' (one of: {', '.join(FILL_RULES)})")
    if end < start:
        raise InputError(f"the period ends ({iso(end)}) before it starts ({iso(start)})")
    if step <= timedelta(0):
        raise InputError("the decision interval must be positive")
    if not assets:
        raise InputError("no assets to backtest")


def _check_coverage(prices: dict[str, Bars], start: datetime, end: datetime) -> None:
    """``DataNotFound`` unless each asset's bars give the decisions from ``start`` to ``end``
    something to read and something to fill at: a bar closing by ``end`` and no earlier than the
    one a decision at ``start`` reads (``_reach``), and a candle opening from ``start`` to the
    fill of a decision at ``end`` (``_fill_reach``). Whether a bar closes inside the period is not
    the question: a stock's one-session period (a day's 00:00) reads the previous session's close
    and fills at that day's open. A period after the data's end reads its last close, but every
    order would fail without a price to fill at (recorded prices fill at the price read)."""
    for bars in prices.values():
        since, why = _reach(bars, start)
        if bars.closes_between(since, end) == 0:
            raise DataNotFound(
                f"no {bars.label} between {iso(since)} ({why}) and {iso(end)}: the recorded "
                f"data covers {iso(bars.first_close)} to {iso(bars.last_close)}"
            )
        if not bars.points:
            _check_fills(bars, start, end)


def _check_fills(bars: Bars, start: datetime, end: datetime) -> None:
    """``DataNotFound`` unless a candle opens from ``start`` to the fill of a decision at
    ``end``: what the first order of the period fills at (``Bars.next_open``)."""
    until, why = _fill_reach(bars, end)
    first = int(bars.open_time.searchsorted(start.timestamp(), side="left"))
    if first < len(bars) and bars.open_time[first] <= until.timestamp():
        return
    if first < len(bars):
        found = f"the next opens at {iso(datetime.fromtimestamp(bars.open_time[first], UTC))}"
    else:
        last = datetime.fromtimestamp(bars.open_time[-1], UTC)
        found = (
            f"the recorded data ends with the candle opening at {iso(last)} (closing at "
            f"{iso(bars.last_close)})"
        )
    raise DataNotFound(
        f"no {format_duration(bars.timeframe)} {bars.asset} candle opens between {iso(start)} "
        f"and {iso(until)}{why} for the period's orders to fill at: {found}"
    )


def _reach(bars: Bars, start: datetime) -> tuple[datetime, str]:
    """How far back from ``start`` a decision finds the bar it reads, and why: the close of
    the last session at or before ``start`` for a stock's daily bars (Friday's for a Monday's
    decision, a holiday's eve's after it); else one timeframe (candles close every timeframe
    around the clock; recorded prices are read within one as well)."""
    if bars.points or bars.sessions is None:  # an outcome's prices open when recorded
        length = format_duration(bars.timeframe)
        return start - timedelta(seconds=bars.timeframe), f"{length} before {iso(start)}"
    moment = start.timestamp()
    day = calendar.trading_day(moment)
    while not (calendar.is_session(day) and calendar.session_close(day) <= moment):
        day -= timedelta(days=1)
    since = datetime.fromtimestamp(calendar.session_close(day), UTC)
    return since, f"the last session's close by {iso(start)}"


def _fill_reach(bars: Bars, end: datetime) -> tuple[datetime, str]:
    """The latest open a decision at ``end`` fills at, and why (`` (...)``, or nothing): the
    open of the first session at or after ``end`` for a stock's daily bars (a day's 00:00
    decision fills at that day's open); else ``end`` itself (a candle opens every timeframe
    around the clock)."""
    if bars.sessions is None:
        return end, ""
    moment = end.timestamp()
    day = calendar.trading_day(moment)
    while not (calendar.is_session(day) and calendar.session_open(day) >= moment):
        day += timedelta(days=1)
    until = datetime.fromtimestamp(calendar.session_open(day), UTC)
    return until, f" (the first session's open from {iso(end)})"


def load_bars(store: SnapshotStore, asset: str, timeframe: int, venues: Venues) -> Bars:
    """``asset``'s bars from the series of the venue that serves it (default: Binance)."""
    return Bars.load(store, asset, timeframe, venues)


def _bars_of(prices: dict[str, Bars], asset: str) -> Bars:
    bars = prices.get(asset)
    if bars is None:
        raise LookupError(f"no candles loaded for {asset}")
    return bars


def _pipeline_cycles(
    pipeline: Pipeline,
    clock: SimulatedClock,
    times: Sequence[datetime],
    ends: Sequence[datetime],
    prices: dict[str, Bars],
    progress: OnProgress | None,
    unknown: UnknownTally,
) -> list[EquityPoint]:
    """``Pipeline.cycle`` at each time, and the equity point after each (at its period's end,
    ``ends``); the data each decision could not read goes to ``unknown``."""
    log, curve = pipeline.audit, []
    for first in range(0, len(times), _CYCLES_PER_COMMIT):
        # Each cycle's records are still written in their own (nested) transaction; one
        # commit per batch instead of one per decision was a tenth of a long backtest.
        with log.transaction():
            for done, moment in enumerate(times[first : first + _CYCLES_PER_COMMIT], first + 1):
                clock.now = moment
                for outcome in pipeline.cycle(moment).outcomes:
                    if outcome.unread:
                        unknown.add(outcome.asset, moment, outcome.decision_id, outcome.unread)
                curve.append(_mark(pipeline.broker, prices, moment, ends[done - 1]))
                if progress is not None:
                    progress(done, len(times))
    return curve


class _RefusingBroker(PaperBroker):
    """A ``PaperBroker`` whose venue may refuse an order (``refuse``) before it is filled."""

    refuse: Refusal | None = None

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        refused = None if self.refuse is None else self.refuse(intent, as_of)
        if refused is not None:
            return refused  # nothing placed: the ledger (and a flat view of it) is unchanged
        return super().execute(intent, as_of=as_of)


class _RefusingFlatViewBroker(_RefusingBroker, FlatViewBroker):
    """The fast engine's broker, refusing like ``_RefusingBroker``."""


def _broker_class(engine: str, refuse: Refusal | None) -> type[PaperBroker]:
    if refuse is None:
        return FlatViewBroker if engine == FAST else PaperBroker
    return _RefusingFlatViewBroker if engine == FAST else _RefusingBroker


def _reporting(progress: OnProgress, total: int) -> Callable[[int, datetime], None]:
    return lambda done, moment: progress(done, total)


@contextmanager
def _writing(audit_path: Path) -> Iterator[AuditLog]:
    """A new log for the block, under a name of this run's own (``<name>.<pid>.partial``):
    closed and published as ``audit_path`` when the block ends, removed if it raises (an error,
    Ctrl-C)."""
    writing = audit_path.with_name(f"{audit_path.name}.{os.getpid()}{PARTIAL}")
    try:
        log = _fresh_log(writing)
        try:
            yield log
        finally:
            log.close()
        publish(writing, audit_path)
    except BaseException:
        remove(writing)
        raise


def _fresh_log(path: Path) -> AuditLog:
    """A new, empty audit log at ``path`` (what an earlier run left there is removed).

    A backtest's log is an output that the same run can always rebuild, so it is written without
    waiting for the disk at every commit (``synchronous=NORMAL`` in WAL mode: still consistent
    after a crash, but the last commits may be lost).
    """
    remove(path)
    log = AuditLog(path)
    log.relax_durability()
    return log


# --- what happened --------------------------------------------------------------------------------


def _mark(
    broker: PaperBroker, prices: dict[str, Bars], decided: datetime, at: datetime
) -> EquityPoint:
    marks = {}
    for asset, bars in prices.items():
        found = bars.close_at(at)
        if found is not None:
            marks[asset] = found[0]
    portfolio = broker.portfolio(marks, decided)
    held = any(p.quantity > 0 for p in portfolio.positions.values())
    return EquityPoint(at, portfolio.equity, portfolio.cash, held)


def _accounted(decisions: Sequence[Decision]) -> tuple[list[Decision], list[Decision]]:
    """The BLOCKED decisions and the FILLED BUYs, in order, in one pass over the decisions
    (tens of thousands, scattered in memory: each pass costs about as much as its tests)."""
    blocked, acted = [], []
    for d in decisions:
        if d.verdict == "BLOCKED":
            blocked.append(d)
        if d.action == "BUY" and d.status == "FILLED":
            acted.append(d)
    return blocked, acted


def _legs(log: AuditLog, decisions: Sequence[Decision]) -> tuple[Leg, ...]:
    fills = records_of_kind(log, "fill")
    # Only the decisions that filled (a few of many) go into the map: a map of every
    # decision was half of this.
    filled = {record["decision_id"] for record in fills}
    decided = {d.decision_id: d.as_of for d in decisions if d.decision_id in filled}
    return tuple(
        _leg(record["decision_id"], decided[record["decision_id"]], record["fill"])
        for record in fills
    )


def _leg(decision_id: str, decided_at: datetime, fill: Mapping[str, Any]) -> Leg:
    """The leg of a fill, from its values as its fill record has them (``Fill.to_dict``)."""
    return Leg(
        decision_id=decision_id,
        decided_at=decided_at,
        asset=fill["asset"],
        side=Side(fill["side"]),
        quantity=Decimal(fill["quantity"]),
        price=Decimal(fill["price"]),
        fee=Decimal(fill["fee"]),
        filled_at=parse_time(fill["at"]),
    )


def buy_and_hold(
    prices: dict[str, Bars],
    times: Sequence[datetime],
    step: timedelta,
    paper: PaperConfig,
    fill: str = NEXT_OPEN,
    *,
    ends: Sequence[datetime] | None = None,
    closes: Mapping[str, MarkCloses] | None = None,
) -> tuple[EquityPoint, ...]:
    """Equal parts of each asset bought at the first decision time's fill, held to the end,
    marked where the strategy is: at the end of each decision's period (``ends``, default
    ``t + step``). ``closes``: each asset's closes at ``ends`` when the caller has them
    (``bars.closes_at_marks``: the strategy's curve marks at them too).

    Bought like a strategy order (fill price x (1 + slippage), plus the fee), with all the cash:
    quantity = allocation / (price x (1 + fee)). Empty when some asset has no fill price then.
    Until an asset is bought and has a close (its data starts after the first decision time),
    its part counts as the cash set aside for it, not as nothing.
    """
    hold = _hold(prices, times, step, paper, fill, ends, closes)
    return () if hold is None else hold.points


@dataclass(frozen=True)
class _Hold:
    """A buy-and-hold curve as the columns its points are made of: a time and an equity per
    point (the first: the starting cash at the first decision time), the cash left after
    buying (every later point's), the first mark it held at. Its summary reads these
    (``metrics.summarize_columns``), not every point made of them."""

    times: list[datetime]
    equities: list[Decimal]
    cash: Decimal
    bought: int  # the first mark (the points after the first) with an asset bought

    @cached_property
    def points(self) -> tuple[EquityPoint, ...]:
        first = self.equities[0]
        held = chain(repeat(False, self.bought), repeat(True))
        marks = equity_points(self.times[1:], self.equities[1:], repeat(self.cash), held)
        return (EquityPoint(self.times[0], first, first, held=False), *marks)

    @property
    def held(self) -> np.ndarray:
        """Whether each point after the first holds an asset."""
        return np.arange(len(self.times) - 1) >= self.bought

    def summary(
        self, paper: PaperConfig, step: timedelta, risk_free: float, per_year: float | None
    ) -> Metrics:
        """Its metrics (``summarize``'s of its points), its entry fee as its fees."""
        fees = _benchmark_fees(self.points, paper)
        return summarize_columns(
            self.times, self.equities, self.held, (), fees, step,
            risk_free=risk_free, per_year=per_year,
        )  # fmt: skip


def _hold(
    prices: dict[str, Bars],
    times: Sequence[datetime],
    step: timedelta,
    paper: PaperConfig,
    fill: str,
    ends: Sequence[datetime] | None,
    closes: Mapping[str, MarkCloses] | None,
) -> _Hold | None:
    """``buy_and_hold``'s curve as columns; None when it is empty."""
    if not times:
        return None
    slip, fee_rate = paper.slippage_bps / _BPS, paper.fee_bps / _BPS
    share = paper.starting_cash / len(prices)
    holdings: dict[str, _Held] = {}
    cash = paper.starting_cash
    for asset, bars in prices.items():
        try:
            base, filled_at = bars.hold_entry(fill, times[0])
        except LookupError:
            return None
        price = base * (1 + slip)
        quantity = share / (price * (1 + fee_rate))
        cost = quantity * price * (1 + fee_rate)
        holdings[asset] = _Held(quantity, cost, filled_at)
        cash -= cost
    marked = [moment + step for moment in times] if ends is None else list(ends)
    # Closes made at these very marks only.
    known = {a: found for a, found in (closes or {}).items() if found.moments is ends}
    values = _hold_values(cash, holdings, prices, marked, known)
    # Held from the first purchase on (an asset whose data starts later is bought later).
    first = min(bisect_left(marked, held.bought_at) for held in holdings.values())
    return _Hold([times[0], *marked], [paper.starting_cash, *values], cash, first)


@dataclass(frozen=True, slots=True)
class _Held:
    quantity: Decimal
    cost: Decimal  # what buying it took from the cash, fee included
    bought_at: datetime


def _hold_values(
    cash: Decimal,
    holdings: dict[str, _Held],
    prices: dict[str, Bars],
    marked: list[datetime],
    known: Mapping[str, MarkCloses],
) -> list[Decimal]:
    """The held portfolio's value at each of ``marked``: ``cash + q1 x close1 + q2 x close2 ...``
    in the holdings' order; an asset not bought yet by a mark, or without a close by then,
    counts as its cost.

    The same Decimal operations, in the same order, as valuing it mark by mark, done as one
    ``map`` per asset: a Python loop over the marks was half of buy-and-hold's time."""
    values: list[Decimal] | None = None
    for asset, held in holdings.items():
        found = known.get(asset)
        closes = prices[asset].closes_at(marked) if found is None else found.decimals()
        bought = bisect_left(marked, held.bought_at)
        worth: Iterable[Decimal]
        if bought == 0 and closes[0] is not None:
            # Every mark after the purchase and a close: one multiplication each.
            worth = map(held.quantity.__mul__, cast(list[Decimal], closes))
        else:
            worth = (
                held.cost if i < bought or close is None else held.quantity * close
                for i, close in enumerate(closes)
            )
        values = list(
            map(cash.__add__, worth) if values is None else map(Decimal.__add__, values, worth)
        )
    return [cash] * len(marked) if values is None else values


@dataclass(frozen=True)
class BenchmarkHold:
    """Buy-and-hold of one benchmark asset (an index such as the S&P 500) over a backtest's
    period, bought and marked exactly like the backtest's own buy-and-hold."""

    asset: str
    symbol: str  # the venue's symbol of the asset (``^GSPC``)
    bars: Bars
    equity: tuple[EquityPoint, ...]
    metrics: Metrics | None  # None when it could not buy (no price at the first fill)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "symbol": self.symbol,
            "metrics": None if self.metrics is None else self.metrics.to_dict(),
        }


def benchmark_bars(
    asset: str,
    strategy: Strategy,
    *,
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    config: Config | None = None,
    assets: Sequence[str] = (),
) -> tuple[Bars, str]:
    """The candles of a benchmark ``asset`` a backtest of ``strategy`` (of ``assets``, else its
    own) would be compared with (its venue's series of the strategy's candle timeframe), and its
    symbol on that venue.

    Raises ``DataNotFound`` when no venue serves ``asset`` or it has no candle for the period's
    decisions to read (``_check_coverage``): checked before a long backtest, not after it. Beside
    stocks, an index the config does not route is named with how to route it to Yahoo, not as
    the default crypto venue's ``GSPC/USDT``.
    """
    venues = (config or Config()).venues
    index = venues.in_sessions(assets or strategy.assets) and not venues.trades_stock(asset)
    bars = Bars.load(store, asset, candle_timeframe(strategy), venues, index=index)
    _check_coverage({asset: bars}, utc(start), utc(end))
    # An outcome's symbol is its 77-digit CLOB token: its asset name says more.
    return bars, asset if bars.points else venues.symbol_of(asset)


def hold_benchmark(
    bars: Bars, symbol: str, result: BacktestResult, *, risk_free: float = 0.0
) -> BenchmarkHold:
    """Buy-and-hold of the benchmark's ``bars`` at ``result``'s decision times, with its fill
    rule, fee, slippage and marks: the backtest's own buy-and-hold, of that one asset."""
    prices = {bars.asset: bars}
    ends = [point.time for point in result.equity[1:]]  # where the strategy is marked
    hold = _hold(prices, result.times, result.every, result.paper, result.fill, ends, None)
    if hold is None:
        return BenchmarkHold(bars.asset, symbol, bars, (), None)
    per_year = result.metrics.periods_per_year
    metrics = hold.summary(result.paper, result.every, risk_free, per_year)
    return BenchmarkHold(bars.asset, symbol, bars, hold.points, metrics)


def _benchmark_fees(curve: Sequence[EquityPoint], paper: PaperConfig) -> Decimal:
    """The buy-and-hold entry fee: fee_bps of what was invested."""
    if len(curve) < 2:
        return Decimal(0)
    invested = paper.starting_cash - curve[1].cash
    return invested * paper.fee_bps / (_BPS + paper.fee_bps)


# --- what a backtest runs with --------------------------------------------------------------------


def backtest_config(config: Config) -> Config:
    """``config`` as a backtest (and every command made of backtests) runs with it: without
    the kill switch file. The file is a live control, the state of today: a simulated history
    that read it would decide nothing the day it exists, and another day differently."""
    if config.limits.kill_switch_file is None:
        return config
    return replace(config, limits=replace(config.limits, kill_switch_file=None))


__all__ = [
    "AUDIT_FILE",
    "ENGINES",
    "FAST",
    "PIPELINE",
    "BacktestResult",
    "BenchmarkHold",
    "OnProgress",
    "Refusal",
    "SimulatedClock",
    "WrapAdapters",
    "backtest_config",
    "benchmark_bars",
    "buy_and_hold",
    "candle_timeframe",
    "hold_benchmark",
    "load_bars",
    "run_backtest",
    "run_timeframe",
]
