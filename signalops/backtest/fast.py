"""The fast event-driven backtest: the pipeline's decisions, records and fills, bar by bar,
without asking the adapters bar by bar.

``Pipeline.cycle`` gathers from the replay adapters, evaluates, sizes, gates, fills on paper and
records, once per decision time. A backtest knows every decision time in advance and replays
recorded data, so this loop takes the same steps with the same functions and leaves out only
what cannot change an outcome:

- data: ``ReplayAnswers`` gives, for every bar at once, exactly what the replay adapters answer
  (the same values to the bit, data times, ``fetched_at`` and ``detail``; the adapters
  themselves answer what it cannot read from a candle series);
- evaluation: the strategy's own generated evaluator, bar by bar (``evaluate_aligned``, what
  ``Strategy.evaluate`` runs), which gives the trace the record needs as it decides;
- a BUY or SELL goes through the pipeline's own gate (``Pipeline.gate``: limits, reference
  price, portfolio, book, ``risk.sized_order``, the risk state read from the log, ``risk.check``)
  and, when approved, its own paper execution (``Recorder.paper``: the decision record, the
  broker's fill and the fill record together); a HOLD or BLOCKED verdict needs neither, only its
  record, as in the pipeline. A SELL while nothing is held gets the gate's answer to the last
  such SELL given the same flat views, once this bar is checked to have a price (the gate
  answers it from those alone: ``_flat_sell``);
- records: built by the ``DecisionTemplate`` that ``build_decision_record`` is made of (so
  scrubbed the same way), and sealed into the chain by the log's ``append_many``. Those of
  decisions that place nothing take their times, ids and observations' JSON from what was
  worked out for a batch of bars at once (``DecisionTemplate.times``, ``ReplayAnswers.entries``,
  ``DecisionTemplate.prepare_at``), and a stretch of bars known quiet for every asset (a
  HOLD with nothing to tell, a flat SELL) has its records and decisions made at once, in the
  order bar by bar makes them (``FastRun._stretch``). They are held and appended in order
  before anything else is written (a fill), ``BATCH`` decisions to a transaction: the log
  holds the pipeline's records in the pipeline's order, hash for hash. Their log lines (shown:
  one cycle to a transaction) are logged once the transaction has committed, in the order the
  records were written;
- the broker is the pipeline's ``PaperBroker``, which while the account holds nothing gives the
  views it gave again (``FlatViewBroker``: they cannot depend on prices then; it is told each
  bar's UTC midnight, worked out once a day); the equity curve marks the positions the broker
  last reported at each bar's closes until the next fill (``PortfolioView.equity``'s sum, in
  its order), the points of the bars between two orders made together once the next order
  is placed (``_Span``), from closes made Decimal once for the run and shared with the
  buy-and-hold benchmark (``bars.MarkCloses``). Inside a batch's transaction on a SQLite log
  that holds the ledger too (a backtest's own), nothing but this loop writes either, so the
  pipeline reads each once per batch and keeps them up to date with its own writes
  (``Pipeline.sole_writer``), instead of asking both again at every gate and fill.

What the pipeline path does that this loop leaves out is what a fresh backtest log never
needs: looking up each decision in the log before deciding it (none is there), expiring
approvals (paper mode asks for none) and reconciling a venue (there is none). ``run_backtest``
keeps the pipeline path (``engine="pipeline"``), and tests compare the two record for record.
"""

from __future__ import annotations

import gc
import logging
import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from itertools import chain, repeat
from typing import Any, TypeVar, cast

import numpy as np

from signalops.audit.record import (
    DecisionTemplate,
    DecisionTimes,
    PreparedRecord,
    Repeat,
    secret_values,
    template_for,
)
from signalops.audit.store import AuditLog
from signalops.backtest.answers import ReplayAnswers
from signalops.backtest.bars import Bars, MarkCloses, closes_at_marks
from signalops.backtest.clock import SimulatedClock
from signalops.backtest.ledger import Decision, EquityPoint, equity_point, equity_points
from signalops.backtest.ledger import decision as make_decision
from signalops.backtest.unknowns import UnknownTally
from signalops.codes import Code
from signalops.evaluation.tree import Evaluation, Verdict
from signalops.evaluation.unread import unread_metrics
from signalops.evaluation.vectorized import HOLD as HOLD_CODE
from signalops.evaluation.vectorized import PASS as PASS_CODE
from signalops.evaluation.vectorized import SELL as SELL_CODE
from signalops.evaluation.vectorized import Reason, SeriesInput, evaluate_series
from signalops.execution.paper import MarkSource, PaperBroker, day_start_of
from signalops.observation import Request
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Mode,
    OrderIntent,
    PortfolioView,
    to_decimal,
)
from signalops.orders import decision_id as make_decision_id
from signalops.pipeline import Pipeline
from signalops.pipeline.cycle import DENIED, NO_SIGNAL, _why_not, not_executed
from signalops.pipeline.records import Logged, Recorder, log_records
from signalops.risk import RiskDecision
from signalops.side import Side
from signalops.strategy.model import Strategy

BATCH = 4096  # decisions per transaction of the backtest's log (a fill's is nested in it)
# Moments whose records' times are worked out together at least (``FastRun._times_for``): with
# thousands of assets a batch is a moment or two, and the work per call would cost more than
# it saves.
_TIMES_MIN = 32
_ACTS = (Verdict.BUY, Verdict.SELL)
_HOLD, _SELL = Verdict.HOLD, Side.SELL
_QUIET_HOLD, _QUIET_SELL = 1, 2  # what ``FastRun._quiet`` knows a bar's decision to be
# Quiet bars recorded together at least (``FastRun._stretch``): one is decided as cheaply alone.
_STRETCH_MIN = 2
_NO_DENIALS: tuple[str, ...] = ()
# A quiet bar's verdict and action as its Decision gives them (an enum's ``.value`` is a
# Python-level lookup: once here, not once per stretch).
_HOLD_TEXT, _SELL_TEXT = Verdict.HOLD.value, Verdict.SELL.value
_NOT_EXECUTED = ExecutionStatus.NOT_EXECUTED.value
_LOGGERS = ("signalops.pipeline", "signalops.adapters", "signalops.execution")


class FlatViewBroker(PaperBroker):
    """A ``PaperBroker`` that gives its portfolio and book views again while the account is flat.

    ``portfolio(prices, as_of)`` is the account after the fills placed by ``as_of``, marked at
    ``prices``, with the equity at the day's start (the fills placed before midnight). In a
    backtest every fill is placed by this run, at the decision time being simulated, in time
    order: at any later ``as_of`` the whole ledger counts. With no position, nothing is marked:
    the view is then a function of the ledger and of which fills were placed before midnight,
    whatever the prices (a position sold since midnight starts the day at its midnight mark,
    the market's price then, which the prices asked with do not change). So a flat view is
    kept until the next ``execute`` (which may change the ledger) and given again on the same
    day; and on every later day too once no fill was placed after its midnight (the day's
    start then counts the whole ledger as well, and nothing was held at that midnight). With a
    position the broker answers every call itself. (Allocations are set once, when the
    pipeline is made, before any view.)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (whose view, strategy) -> (midnight, view, whether later days may have it too)
        self._flat: dict[tuple[str, str], tuple[datetime, PortfolioView, bool]] = {}
        self._last_placed: datetime | None = None
        self._day: tuple[datetime | None, datetime | None] = (None, None)
        self.executions = 0  # how many times the ledger may have changed

    def at_day(self, as_of: datetime, midnight: datetime) -> None:
        """Be told ``day_start_of(as_of)`` (which a caller deciding at many times worked out
        for them all at once): the views asked at ``as_of`` next need not work it out."""
        self._day = (as_of, midnight)

    def _midnight(self, as_of: datetime) -> datetime:
        moment, midnight = self._day
        if as_of is not moment or midnight is None:  # the gate, book and mark ask at one time
            midnight = day_start_of(as_of)
            self._day = (as_of, midnight)
        return midnight

    def _day_start(self, as_of: datetime) -> datetime:
        return self._midnight(as_of)  # the broker's own views ask it too: told it once

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        self._flat = {}  # the ledger may change (and a rolled-back fill changes it again)
        self.executions += 1
        if self._last_placed is None or as_of > self._last_placed:
            self._last_placed = as_of
        return super().execute(intent, as_of=as_of)

    def flat_portfolio(self, as_of: datetime) -> PortfolioView | None:
        """The account at ``as_of`` if it is known to hold nothing then; None otherwise."""
        return self._kept(("account", ""), self._midnight(as_of))

    def portfolio(
        self, prices: Mapping[str, Decimal | float | str], as_of: datetime
    ) -> PortfolioView:
        midnight = self._midnight(as_of)
        found = self._kept(("account", ""), midnight)
        if found is not None:
            return found
        view = super().portfolio(prices, as_of)
        if not view.positions:
            self._keep(("account", ""), midnight, view)
        return view

    def book(
        self, strategy: str, prices: Mapping[str, Decimal | float | str], as_of: datetime
    ) -> PortfolioView:
        midnight = self._midnight(as_of)
        found = self._kept(("book", strategy), midnight)
        if found is not None:
            return found
        view = super().book(strategy, prices, as_of)
        if not view.positions and self._kept(("account", ""), midnight) is not None:
            self._keep(("book", strategy), midnight, view)
        return view

    def flat_book(self, strategy: str, as_of: datetime) -> PortfolioView | None:
        """The strategy's book at ``as_of`` if it is known to hold nothing then; None otherwise."""
        return self._kept(("book", strategy), self._midnight(as_of))

    def _kept(self, key: tuple[str, str], midnight: datetime) -> PortfolioView | None:
        found = self._flat.get(key)
        if found is None:
            return None
        day, view, later = found
        return view if day == midnight or (later and day < midnight) else None

    def _keep(self, key: tuple[str, str], midnight: datetime, view: PortfolioView) -> None:
        settled = self._last_placed is None or self._last_placed < midnight
        self._flat[key] = (midnight, view, settled)


# The cyclic garbage collector's first threshold while backtests run. Each bar allocates a few
# hundred short-lived objects and keeps a few (its decision, its equity point): at Python's
# default (700 allocations) the collector ran every few bars and walked the growing heap of kept
# ones, a quarter of a long backtest's time. Nothing here makes cycles to collect early. The
# whole backtest runs so (``runner.run_backtest``): once the bars are done, its accounting
# allocates as much again next to everything kept, and a collection then walked all of it.
_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_users: list[tuple[int, int, int]] = []  # the thresholds before the first of the running


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the collector's first threshold while a backtest runs (restored by the last one
    of the backtests running at once)."""
    with _gc_lock:
        before = gc.get_threshold()
        _gc_users.append(before)
        if len(_gc_users) == 1 and before[0] < _GC_THRESHOLD:
            gc.set_threshold(_GC_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        with _gc_lock:
            first = _gc_users[0]
            _gc_users.pop()
            if not _gc_users:
                gc.set_threshold(*first)


OnCycle = Callable[[int, datetime], None]


class FastRun:
    """One strategy over ``moments`` with ``pipeline``'s gate, broker and writer.

    ``run()`` returns the equity curve's points after the first (one per decision time, marked
    at its period's end in ``ends``, as the pipeline path marks them) and keeps ``decisions``
    (every decision, in log order) and ``unknown`` (the data they could not read).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        strategy: Strategy,
        moments: Sequence[datetime],
        ends: Sequence[datetime],
        prices: Mapping[str, Bars],
        *,
        clock: SimulatedClock,
        on_cycle: OnCycle | None = None,
        closes: Mapping[str, MarkCloses] | None = None,
    ) -> None:
        """``closes``: each asset's closes at ``ends`` (``bars.closes_at_marks``), when the
        caller has them (the buy-and-hold benchmark marks at them too); else made here."""
        self.pipeline = pipeline
        self.strategy = strategy
        self.moments = list(moments)
        self._ends = list(ends)  # each decision's period's end: where the curve marks it
        self.prices = prices
        self.clock = clock
        self.on_cycle = on_cycle
        self.assets = tuple(dict.fromkeys(strategy.assets))  # one decision per asset and time
        self.mode = pipeline.mode or Mode(strategy.execution.action_mode)
        tree = strategy.tree
        # asset -> (the tree's requests, aligned with its metrics; what the gate is given)
        self._requests = {
            asset: (
                tree.requests(asset),
                (*strategy.requests(asset), *pipeline.price_requests_of(asset)),
            )
            for asset in self.assets
        }
        requests = [r for _, asked in self._requests.values() for r in asked]
        self.answers = ReplayAnswers(requests, pipeline.adapters, self.moments)
        broker = pipeline.broker
        self._broker = broker if isinstance(broker, FlatViewBroker) else None
        self.decisions: list[Decision] = []
        self.unknown = UnknownTally()  # the data the decisions could not read
        # (decision id, decided at, the fill's plain values as its fill record has them) of
        # each order filled: the run's legs without reading its fill records back.
        self.fills: list[tuple[str, datetime, Mapping[str, Any]]] = []
        self._held: list[PreparedRecord | Repeat] = []
        self._lines: list[Logged] = []  # records written in the open transaction, to log
        self._logging = False
        self._closes = dict(closes) if closes is not None else closes_at_marks(prices, ends)
        self._flat_mark: tuple[Any, Decimal, Decimal] = (None, Decimal(0), Decimal(0))
        # The account when last marked, kept while no fill changes it: (the broker's executions
        # then, cash, (asset, quantity) of each position, whether any is held).
        self._holdings: tuple[int, Decimal, tuple[tuple[str, Decimal], ...], bool] | None = None
        # The account ``_mark`` last marked, as ``_Span`` takes it (None: it cannot say).
        self._marked: _Account | None = None
        # The points not made yet: those after ``_span.start``, while the broker's executions
        # are still ``_span_executions`` (-1: none, each bar is marked as it is decided).
        self._span: _Span | None = None
        self._span_executions = -1
        # asset -> (account view, book view, the gate's denial of a SELL given them, the oldest
        # price the SELL's limits take)
        self._flat_sells: dict[
            str, tuple[PortfolioView, PortfolioView, RiskDecision, float | None]
        ] = {}
        self._denied: tuple[RiskDecision | None, tuple[str, ...]] = (None, ())
        # Each asset's template and times of the decisions at moments[from:to] (``_times_for``).
        self._times: dict[str, tuple[DecisionTemplate, DecisionTimes]] = {}
        self._times_from = self._times_to = 0

    def run(self) -> list[EquityPoint]:
        """Every cycle, ``BATCH`` decisions to a transaction (one commit each: a backtest that
        dies loses its last batch, and ``runner._publish`` never names a partial log)."""
        curve: list[EquityPoint] = []
        # Log lines keep their order with the pipeline's: one cycle per batch when they show.
        self._logging = any(logging.getLogger(n).isEnabledFor(logging.INFO) for n in _LOGGERS)
        batch = 1 if self._logging else BATCH
        log, i, count = self.pipeline.audit, 0, len(self.moments)
        broker, width = self._broker, len(self.assets)
        # Stretches of quiet bars are recorded at once (``_stretch``) unless log lines are
        # shown: those go cycle by cycle.
        quiet = not self._logging
        with fewer_collections(), self._column_marks():
            while i < count:
                try:
                    with log.transaction(), self._alone():
                        decided = 0
                        while i < count and decided < batch:
                            if quiet and self._spanning():
                                # The bars left to this batch (one cycle decides each asset).
                                left = -(-(batch - decided) // width)
                                bars = self._stretch(i, min(count, i + left))
                                if bars:
                                    i += bars
                                    decided += bars * width
                                    continue
                            decided += self._cycle(i)
                            if broker is None or broker.executions != self._span_executions:
                                self._mark_from(i, curve)
                            if self.on_cycle is not None:
                                self.on_cycle(i + 1, self.moments[i])
                            i += 1
                        self._flush()
                finally:
                    lines = self._lines.copy()  # the list stays the writer's (``_recorder``)
                    self._lines.clear()
                # Only now that they are committed: the lines say what the log holds.
                log_records(lines, simulated=self.pipeline.simulated)
        if self._span is not None:
            curve += self._span.points(count)
        return curve

    @contextmanager
    def _column_marks(self) -> Iterator[None]:
        """While the run decides, its paper broker values the positions held at a UTC midnight
        at the replay's own closes then (``ColumnMarks``) rather than by asking the adapters,
        which ``marks.MidnightMarks`` does; the source it had is given back after."""
        broker = self.pipeline.broker
        source = broker.midnight_marks
        if source is None:
            yield
            return
        broker.midnight_marks = ColumnMarks(self.pipeline, self.answers, source)
        try:
            yield
        finally:
            broker.midnight_marks = source

    @contextmanager
    def _alone(self) -> Iterator[None]:
        """Inside the batch's transaction (``BEGIN IMMEDIATE``: no other connection writes),
        nothing but this run writes the log and, when the transaction is its too (the log's
        own file), the ledger, until the batch ends (an error ends it, rolled back): the
        pipeline reads them once per batch, not at each gate, fill and mark
        (``Pipeline.sole_writer``)."""
        # A ledger of its own is not in the transaction; a PostgreSQL log takes its lock at
        # the first append only, so another runner could append before it.
        if not isinstance(self.pipeline.audit, AuditLog) or not (
            self.pipeline.broker.ledger.in_transaction()
        ):
            yield
            return
        with self.pipeline.sole_writer():
            yield

    def _flush(self) -> None:
        """Append the held records (decisions that placed nothing), in order, before whatever
        is written next."""
        held, self._held = self._held, []
        if not held:
            return
        self.pipeline.audit.append_many(held)
        if self._logging:
            self._lines.extend(held)

    def _cycle(self, i: int) -> int:
        """The decisions at ``moments[i]``, one per asset; returns how many."""
        moment = self.moments[i]
        self.clock.now = moment
        if self._broker is not None:
            self._broker.at_day(moment, self._midnights[i])
        tree = self.strategy.tree
        for asset in self.assets:
            quiet = self._quiet.get(asset)
            if quiet is not None and quiet[i] and self._quietly(quiet[i], asset, moment, i):
                continue
            evaluation = tree.evaluate_aligned(
                self.answers.row(self._requests[asset][0], i), moment, asset
            )
            if evaluation.verdict in _ACTS:
                record, gate, status = self._act(asset, moment, evaluation, i)
                denials = self._denials_of(gate)
            else:
                why = not_executed(_why_not(evaluation))
                record = self._held_record(evaluation, None, why, i)
                self._held.append(record)
                status, denials = _NOT_EXECUTED, ()
            action = evaluation.action
            assert record.id is not None  # a decision record always has its id
            if any(evaluation.reasons):  # a leaf UNKNOWN: rare, once the data is there
                self.unknown.add(asset, moment, record.id, unread_metrics(evaluation))
            self.decisions.append(
                make_decision(
                    record.id,
                    moment,
                    asset,
                    evaluation.verdict.value,
                    None if action is None else action.value,
                    evaluation.blocked_by,
                    status,
                    denials,
                )
            )
        return len(self.assets)

    def _spanning(self) -> bool:
        """Whether the bars from here on are marked by the span (``_Span``) until the broker
        executes an order: then no bar's mark is due as it is decided."""
        broker = self._broker
        return broker is not None and broker.executions == self._span_executions

    def _stretch(self, i: int, stop: int) -> int:
        """Record the decisions of the quiet bars from ``moments[i]`` on, before ``stop`` (and
        within the batch of times holding ``i``: ``_times_for``), all at once, when at least
        ``_STRETCH_MIN`` bars are quiet for every asset; returns how many bars (0: none,
        ``_cycle`` decides ``i``).

        Each is what ``_cycle`` records at such a bar (``_quietly``: a repeat of the HOLD or
        flat SELL outcome built before), asset by asset in bar order. They are made a segment
        at a time (the bars where no asset's quiet kind changes: ``_quiet_runs``), in bar
        order, each asset's as far as its outcome repeats (``DecisionTemplate.repeat_span``)
        and, for a SELL, the gate's answer is the one kept for the flat views
        (``_flat_span``); the stretch ends with the first segment an asset cannot make whole.
        So each template looks its outcomes up in the order, and at the bars, that ``_cycle``
        would. Nothing a quiet bar does changes what the next one reads: no order, no mark
        (the caller's span marks them: only while ``_spanning``), no unknown leaf, no log line;
        the clock and the broker's day are left as the last bar leaves them. ``on_cycle`` is
        still told of each bar, after their records are made: when it changes the
        environment's secrets (a record's one input from outside the run) before the last,
        the bars after it are taken back and decided again (``_told``)."""
        runs = self._quiet_runs
        if runs is None or runs[0][i] - i < _STRETCH_MIN:
            return 0
        if not self._times_from <= i < self._times_to:
            self._times_for(i)
        calm, segments = runs
        end = min(stop, calm[i], self._times_to)
        if end - i < _STRETCH_MIN:
            return 0
        made: list[tuple[list[Repeat], list[Decision]]] = [([], []) for _ in self.assets]
        start = i
        while start < end:
            until = min(segments[start], end)
            found = [self._quiet_span(asset, start, until) for asset in self.assets]
            bars = min(len(records) for records, _ in found)
            for (records, decisions), (more, decided) in zip(made, found, strict=True):
                records += more[:bars]
                decisions += decided[:bars]
            start += bars
            if start < until:  # an asset's outcome cannot be repeated there: _cycle decides it
                break
        bars = start - i
        if not bars:
            return 0
        if len(made) == 1:
            records, decisions = made[0]
            self._held += records
            self.decisions += decisions
        else:  # bar by bar, asset by asset, as ``_cycle`` appends them
            self._held += _interleaved([records for records, _ in made])
            self.decisions += _interleaved([decisions for _, decisions in made])
        last = start - 1
        self.clock.now = moment = self.moments[last]
        broker = self._broker
        if broker is not None:
            broker.at_day(moment, self._midnights[last])
        if self.on_cycle is None:
            return bars
        return self._told(i, bars)

    def _told(self, i: int, bars: int) -> int:
        """Tell ``on_cycle`` of each of the ``bars`` recorded from ``moments[i]`` on (the
        clock at each); returns how many stay recorded: those up to the one after which the
        environment's secrets changed (the records of the rest are taken back, and their bars
        decided again: they would be scrubbed of the new secrets), or all."""
        secrets, width = secret_values(), len(self.assets)
        on_cycle, clock, moments = self.on_cycle, self.clock, self.moments
        assert on_cycle is not None
        told = 0
        try:
            while told < bars:
                moment = moments[i + told]
                clock.now = moment
                on_cycle(i + told + 1, moment)
                told += 1
                if told < bars and secret_values() is not secrets:
                    break
        finally:
            if told < bars:  # as ``_cycle`` leaves them when it stops there (or it raised)
                del self._held[len(self._held) - (bars - told) * width :]
                del self.decisions[len(self.decisions) - (bars - told) * width :]
        return told

    def _quiet_span(self, asset: str, i: int, end: int) -> tuple[list[Repeat], list[Decision]]:
        """The records and decisions of ``asset`` at the quiet bars from ``moments[i]`` up to
        ``end`` (of one kind: a segment of ``_quiet_runs``), as far as ``_quietly`` would record
        them (``_stretch`` has worked out the times of the batch holding them)."""
        template, times = self._times[asset]
        at = i - self._times_from
        if self._quiet[asset][i] == _QUIET_HOLD:
            records = template.repeat_span(
                times, at, at + end - i, _HOLD, None, (), (), None, self._no_signal
            )
            verdict, action, denials = _HOLD_TEXT, None, _NO_DENIALS
        else:
            gate, end = self._flat_span(asset, i, end)
            if gate is None or end == i:
                return [], []
            records = template.repeat_span(
                times, at, at + end - i, Verdict.SELL, _SELL, (), (), gate, not_executed(DENIED)
            )
            verdict, action, denials = _SELL_TEXT, _SELL_TEXT, self._denials_of(gate)
        decisions = [
            make_decision(record.id, moment, asset, verdict, action, (), _NOT_EXECUTED, denials)
            for record, moment in zip(records, self.moments[i : i + len(records)], strict=True)
        ]
        return records, decisions

    def _flat_span(self, asset: str, i: int, end: int) -> tuple[RiskDecision | None, int]:
        """``_flat_answer`` of ``asset``'s SELLs at ``moments[i:end]``: the gate's answer kept
        for the flat views, and where the bars it answers end (from ``i`` on, up to ``end``).

        The same answer holds while the broker gives the same flat views (nothing executes
        meanwhile: they change only with the day, asked once a day) and the bar has a price:
        the first price source's clean column reading within the SELL's limits (what
        ``ReplayAnswers.priced`` reads first), else ``priced`` itself."""
        found = self._flat_sells.get(asset)
        if found is None:
            return None, i
        sources = self.pipeline.price_requests_of(asset)
        column = self.answers.columns.get(sources[0]) if sources else None
        ok, last, stamps = (column.ok, column.last, column.stamps) if column else ((), (), ())
        max_age, moments, midnights, broker = found[3], self.moments, self._midnights, self._broker
        day = None
        for k in range(i, end):
            moment = moments[k]
            if midnights[k] is not day:
                day = midnights[k]
                if broker is not None:
                    broker.at_day(moment, day)
                views = self._flat_views(moment)
                if views is None or views[0] is not found[0] or views[1] is not found[1]:
                    return found[2], k
            fresh = column is not None and ok[k]
            if fresh and (max_age is None or (moment - stamps[last[k]]).total_seconds() <= max_age):
                continue
            if not self.answers.priced(sources, k, max_age):
                return found[2], k
        return found[2], end

    def _quietly(self, quiet: int, asset: str, moment: datetime, i: int) -> bool:
        """The decision at ``moments[i]`` of a bar ``_quiet`` knows the outcome of, recorded
        without evaluating it; False (nothing done) when the bar must be evaluated after all."""
        if quiet == _QUIET_HOLD:
            return self._quiet_hold(asset, moment, i)
        return self._quiet_sell(asset, moment, i)

    def _quiet_sell(self, asset: str, moment: datetime, i: int) -> bool:
        """The decision at ``moments[i]`` of an asset whose tree is known to SELL there with
        every leaf known (``_quiet``), while nothing is held: recorded without evaluating it,
        with the gate's answer to the last SELL on the same flat views (``_flat_sell``'s,
        once the bar has a price), its record repeating that denial's outcome. False (nothing
        done) when the gate must be asked, or the outcome was not built yet."""
        gate = self._flat_answer(asset, moment, i)
        if gate is None:
            return False
        return self._repeated(asset, moment, i, _SELL, gate, not_executed(DENIED))

    def _quiet_hold(self, asset: str, moment: datetime, i: int) -> bool:
        """The decision at ``moments[i]`` of an asset whose tree is known to hold there with
        nothing to tell (``_quiet``), recorded without evaluating it: its record repeats the
        HOLD outcome built at an earlier bar. False (nothing done) when none was built yet or
        the observations' JSON is not at hand: the bar is evaluated."""
        return self._repeated(asset, moment, i, None, None, self._no_signal)

    def _repeated(
        self,
        asset: str,
        moment: datetime,
        i: int,
        action: Side | None,
        gate: RiskDecision | None,
        result: ExecutionResult,
    ) -> bool:
        """Record the decision at ``moments[i]`` as a repeat of the outcome built before with
        this action (SELL: a SELL; None: a HOLD), no vetoes, ``gate``'s answer and ``result``
        (``DecisionTemplate.repeat_at``); False (nothing done) when there is none to repeat."""
        template, times, at = self._times_at(asset, i)
        verdict = _HOLD if action is None else Verdict.SELL
        record = template.repeat_at(times, at, verdict, action, (), (), gate, result)
        if record is None:
            return False
        self._held.append(record)
        denials = () if gate is None else self._denials_of(gate)
        self.decisions.append(
            make_decision(record.id, moment, asset, verdict.value,
                          None if action is None else action.value, (), _NOT_EXECUTED, denials)
        )  # fmt: skip
        return True

    def _times_at(self, asset: str, i: int) -> tuple[DecisionTemplate, DecisionTimes, int]:
        """The asset's template, the times of the batch holding ``moments[i]`` (worked out
        when the batch is not the current one: ``_times_for``) and ``i``'s place in them."""
        start = self._times_from
        if not start <= i < self._times_to:
            start = self._times_for(i)
        template, times = self._times[asset]
        return template, times, i - start

    @cached_property
    def _no_signal(self) -> ExecutionResult:
        """What became of a HOLD without a signal: ``Pipeline.cycle``'s own value for it."""
        return not_executed(NO_SIGNAL)

    @cached_property
    def _quiet(self) -> dict[str, list[int]]:
        """For each asset whose every request is read from a candle column
        (``ReplayAnswers.columns``): at each bar, what its decision is known to be without
        evaluating it there: a HOLD with nothing to tell (``_QUIET_HOLD``: no entry or exit
        signal, no vetoes, every leaf known), a SELL with every leaf known (``_QUIET_SELL``),
        or not known (0). Every request is a clean reading of its column at such a bar, and
        the tree evaluated over the columns all at once says so (``evaluate_series``, which
        the vectorised evaluator's tests hold equal, bar by bar, to the scalar one that
        ``Pipeline.cycle`` runs), from the same values and data times the observations
        carry."""
        found: dict[str, list[int]] = {}
        tree = self.strategy.tree
        for asset in self.assets:
            columns = [self.answers.columns.get(r) for r in self._requests[asset][0]]
            if not columns or None in columns:
                continue
            inputs, clean = [], np.ones(len(self.moments), dtype=bool)
            for column in columns:
                assert column is not None
                ok = np.array(column.ok, dtype=bool)
                data_times = np.array(column.epochs, dtype=np.float64)[column.last]
                inputs.append(
                    SeriesInput(
                        np.where(ok, column.values, np.nan),
                        np.where(ok, data_times, np.nan),
                        np.where(ok, Reason.OK, Reason.ADAPTER_ERROR).astype(np.int8),
                    )
                )
                clean &= ok
            result = evaluate_series(tree, inputs, self.answers.times)
            entry = result.statuses[tree.entry.index]
            known = clean & ~result.reasons.any(axis=0)
            hold = known & (result.verdicts == HOLD_CODE) & (entry != PASS_CODE)
            sell = known & (result.verdicts == SELL_CODE)  # (SELL, SELL, no vetoes, no conflicts)
            found[asset] = np.select([hold, sell], [_QUIET_HOLD, _QUIET_SELL], 0).tolist()
        return found

    @cached_property
    def _quiet_runs(self) -> tuple[list[int], list[int]] | None:
        """Where the runs of quiet bars end (``_quiet``), at each bar: the first bar from it on
        where some asset's decision is not known quiet (itself when it is one), and the first
        after it where some asset's quiet kind changes. None when some asset's never is."""
        if any(asset not in self._quiet for asset in self.assets):
            return None
        kinds = np.array([self._quiet[asset] for asset in self.assets], dtype=np.int8)
        calm = (kinds != 0).all(axis=0)
        count = len(calm)
        # The first bar from each on that is not calm: itself for those, else the next one's.
        loud = np.where(calm, count, np.arange(count))
        calm_ends = np.minimum.accumulate(loud[::-1])[::-1]
        changes = np.flatnonzero((kinds[:, 1:] != kinds[:, :-1]).any(axis=0)) + 1
        ends = np.append(changes, count)
        segments = np.repeat(ends, np.diff(ends, prepend=0))
        return calm_ends.tolist(), segments.tolist()

    def _denials_of(self, gate: RiskDecision) -> tuple[str, ...]:
        """The codes of the checks ``gate`` failed (made once for the gate answer given again
        and again: ``_flat_sell``)."""
        last, denials = self._denied
        if gate is not last:
            denials = tuple(code.value for code in gate.codes)
            self._denied = (gate, denials)
        return denials

    def _held_record(
        self,
        evaluation: Evaluation,
        gate: RiskDecision | None,
        result: ExecutionResult,
        i: int,
    ) -> PreparedRecord | Repeat:
        """The record at ``moments[i]`` of a decision that placed nothing, built by its template
        with the run's times worked out at once (``DecisionTemplate.prepare_at``): a repeat of
        an outcome built before is kept as its values (``Repeat``), which the backtest's log
        seals without writing its members out (``signalops.audit.runs``)."""
        assert evaluation.asset is not None  # evaluated for one of self.assets
        template, times, at = self._times_at(evaluation.asset, i)
        return template.prepare_at(times, at, evaluation, gate, result, self.clock(), repeat=True)

    def _record(
        self,
        evaluation: Evaluation,
        intent: OrderIntent,
        gate: RiskDecision,
        result: ExecutionResult,
        i: int,
    ) -> PreparedRecord:
        """The record at ``moments[i]`` of a decision that placed an order: what
        ``Recorder.decision_record`` builds (``prepare_decision``), kept ready to be sealed,
        with the times worked out for the batch (as a denied BUY's, ``_act``)."""
        assert evaluation.asset is not None  # evaluated for one of self.assets
        template, times, at = self._times_at(evaluation.asset, i)
        return template.prepare_order_at(times, at, evaluation, intent, gate, result, self.clock())

    def _act(
        self, asset: str, moment: datetime, evaluation: Evaluation, i: int
    ) -> tuple[PreparedRecord | Repeat, RiskDecision, str]:
        """A BUY or SELL: the pipeline's gate, then its paper execution or the denial's record
        (the record, the gate's answer and the execution status)."""
        strategy, mode = self.strategy, self.mode
        flat = self._flat_sell(asset, moment, evaluation, i)
        if flat is not None:
            record = self._held_record(evaluation, flat, not_executed(DENIED), i)
            self._held.append(record)
            return record, flat, _NOT_EXECUTED
        did = make_decision_id(strategy.content_hash, asset, moment, mode.value)
        answers = self.answers.answers(self._gate_requests(asset, moment), i)
        intent, gate = self.pipeline.gate(strategy, asset, moment, evaluation, answers, did, mode)
        if intent is None and evaluation.verdict is Verdict.SELL:
            self._remember_flat_sell(asset, moment, gate, evaluation)
        if intent is not None and gate.approved:
            record, result = self._fill(intent, moment, evaluation, gate, i)
            return record, gate, result.status.value
        denied = not_executed(DENIED)
        if intent is None:
            record = self._held_record(evaluation, gate, denied, i)
        else:  # ``_record``'s, with the times worked out for the batch (as ``_held_record``)
            template, times, at = self._times_at(asset, i)
            record = template.prepare_order_at(
                times, at, evaluation, intent, gate, denied, self.clock()
            )
        self._held.append(record)
        return record, gate, _NOT_EXECUTED

    def _gate_requests(self, asset: str, moment: datetime) -> Sequence[Request]:
        """What the gate is given for ``asset`` at ``moment``: its requests, and the price
        requests of what the account holds, as the pipeline's cycle gathers them
        (``Pipeline.held_price_requests``; the gate values the account with them)."""
        asked = self._requests[asset][1]
        held = self.pipeline.held_price_requests(moment)
        return (*asked, *held) if held else asked

    def _flat_views(self, moment: datetime) -> tuple[PortfolioView, PortfolioView] | None:
        """The account's and the strategy's book's views at ``moment`` when the broker knows
        both hold nothing (``FlatViewBroker``'s kept views); None otherwise."""
        broker = self._broker
        if self.mode is Mode.AUTO or broker is None:
            return None
        account = broker.flat_portfolio(moment)
        book = broker.flat_book(self.strategy.name, moment) if account is not None else None
        return None if account is None or book is None else (account, book)

    def _flat_sell(
        self, asset: str, moment: datetime, evaluation: Evaluation, i: int
    ) -> RiskDecision | None:
        """The gate's answer to a SELL while nothing is held, when it already gave one for the
        same flat views; None when the gate must be asked.

        With nothing held, ``Pipeline.gate`` answers a SELL from its pre-checks: the reference
        price (NO_PRICE when there is none), the account's and the book's views (unvalued or
        not), then ``sized_order``, which finds nothing to sell (NO_POSITION) whatever the price.
        The same view objects and a price give the same answer, so it is asked once per views;
        whether there is a price is still asked at every bar.
        """
        if evaluation.verdict is not Verdict.SELL:
            return None
        return self._flat_answer(asset, moment, i)

    def _flat_answer(self, asset: str, moment: datetime, i: int) -> RiskDecision | None:
        """``_flat_sell``'s answer to a SELL of ``asset`` at ``moments[i]``: the one kept for
        the same flat views, when the bar has a price no older than the SELL's limits allow
        (``reference_price``'s test); None when the gate must be asked."""
        views = self._flat_views(moment)
        found = self._flat_sells.get(asset)
        if views is None or found is None or found[0] is not views[0] or found[1] is not views[1]:
            return None
        sources = self.pipeline.price_requests_of(asset)
        if not self.answers.priced(sources, i, found[3]):
            return None
        return found[2]

    def _remember_flat_sell(
        self, asset: str, moment: datetime, gate: RiskDecision, evaluation: Evaluation
    ) -> None:
        """Keep the gate's denial of a SELL for the flat views it was given (``_flat_sell``),
        with the oldest price the SELL's limits take (the same for every SELL of the tree:
        ``Pipeline.limits`` makes them once per strategy, tree and side)."""
        views = self._flat_views(moment)
        if views is not None and not any(c.code is Code.NO_PRICE for c in gate.checks):
            max_age = self.pipeline.limits(self.strategy, evaluation).max_data_age
            self._flat_sells[asset] = (*views, gate, max_age)

    def _fill(
        self,
        intent: OrderIntent,
        moment: datetime,
        evaluation: Evaluation,
        gate: RiskDecision,
        i: int,
    ) -> tuple[PreparedRecord, ExecutionResult]:
        """The pipeline's paper execution (``Recorder.paper``: the decision record, the broker's
        fill and the fill record in one transaction), after the held records. That transaction
        is the batch's (``run``), which an error anywhere rolls back whole: the fill needs no
        savepoint of its own (``enclosed``)."""
        # The held records go in the fill's append, ahead of its records (one append, not two).
        held, self._held = self._held, []
        if self._logging:
            self._lines.extend(held)
        written: list[PreparedRecord] = []

        def first(result: ExecutionResult) -> PreparedRecord:
            written.append(self._record(evaluation, intent, gate, result, i))
            return written[-1]  # as ``Recorder.decision_record`` gives it

        result = self._recorder.paper(intent, moment, first, enclosed=True, before=held)
        if result.fill is not None:
            self.fills.append((intent.decision_id, moment, result.fill.to_dict()))
        return written[-1], result

    @cached_property
    def _recorder(self) -> Recorder:
        """The pipeline's writer, its lines waiting for the batch's commit with the others'
        (``run``): made once, not at every fill. It hands them to the list's own ``extend``,
        not to a method of the run: a writer kept by the run and holding the run back was a
        reference cycle, which kept the whole run (its answers, its decisions) alive after the
        backtest until the collector's next pass over its older generations walked and freed
        it (a sweep's memory grew by each run's until then)."""
        return replace(self.pipeline.records, lines=self._lines.extend)

    def _mark_from(self, i: int, curve: list[EquityPoint]) -> None:
        """The points of the bars since the last span began (``_Span``: the account they mark
        is the one it began with), then ``moments[i]``'s by the broker (``_mark``), and a new
        span after it when its account can be marked bar by bar from its values alone."""
        if self._span is not None:
            curve += self._span.points(i)
        curve.append(self._mark(i))
        self._span = span = self._span_after(i)
        broker = self._broker
        self._span_executions = -1 if span is None or broker is None else broker.executions

    def _span_after(self, i: int) -> _Span | None:
        """The span of the points after ``moments[i]`` while no order is placed: the account
        ``_mark`` just marked (its cash and positions change only when the broker executes an
        order). None when it does not know that account (a broker that is not a
        ``FlatViewBroker``), or when a position could be without a close at a later mark (the
        broker values it otherwise): those bars are marked one by one."""
        account = self._marked
        if account is None or self._broker is None:
            return None
        for asset, _ in account.holdings:
            closes = self._closes.get(asset)
            if closes is None or closes.closed_from > i + 1:
                return None
        return _Span(account, self._ends, self._closes, i + 1)

    def _mark(self, i: int) -> EquityPoint:
        """The portfolio after the decisions at ``moments[i]``, marked at the end of its period
        (``runner._mark``'s point: the broker's view at the last closes by then)."""
        moment = self.moments[i]
        at = self._ends[i]
        flat = None if self._broker is None else self._broker.flat_portfolio(moment)
        if flat is not None:
            kept_flat, equity, cash = self._flat_mark
            if flat is not kept_flat:
                equity, cash = flat.equity, flat.cash
                self._flat_mark = (flat, equity, cash)
            self._marked = _Account(cash, (), False, equity)
            return equity_point(at, equity, cash, False)
        marks = {}
        for asset, closes in self._closes.items():
            found = closes.at(i)
            if found is not None:
                marks[asset] = found
        executions = None if self._broker is None else self._broker.executions
        kept = self._holdings
        if kept is not None and kept[0] == executions and all(a in marks for a, _ in kept[2]):
            # No fill since: the same positions, marked at this bar's closes as the broker marks
            # them (``PortfolioView.equity``: cash + each quantity x its mark, in asset order).
            _, cash, holdings, held = kept
            exposure = Decimal(0)
            for asset, quantity in holdings:
                exposure += quantity * marks[asset]
            self._marked = _Account(cash, holdings, held, cash + exposure)
            return equity_point(at, cash + exposure, cash, held)
        portfolio = self.pipeline.broker.portfolio(marks, moment)
        held = any(p.quantity > 0 for p in portfolio.positions.values())
        self._marked = None
        if executions is not None:
            holdings = tuple((a, p.quantity) for a, p in portfolio.positions.items())
            self._holdings = (executions, portfolio.cash, holdings, held)
            self._marked = _Account(portfolio.cash, holdings, held, portfolio.equity)
        return equity_point(at, portfolio.equity, portfolio.cash, held)

    def _times_for(self, i: int) -> int:
        """Work out the times of the decisions from ``moments[i]`` on, ``BATCH`` of them but
        at least ``_TIMES_MIN`` moments' (each asset's template's ``DecisionTimes`` of the same
        moments) and the JSON of their observations (``ReplayAnswers.entries``), for the
        bars' records (``_times_at``); returns ``i``, where they start."""
        stop = min(i + max(_TIMES_MIN, BATCH // len(self.assets)), len(self.moments))
        moments = tuple(self.moments[i:stop])
        found: dict[str, tuple[DecisionTemplate, DecisionTimes]] = {}
        like = None
        for asset in self.assets:
            template = self._templates[asset]
            like = template.times(moments, like)
            entries = self.answers.entries(self._requests[asset][0], i, stop, like.stamps)
            found[asset] = (template, like.with_observed(entries))
        self._times, self._times_from, self._times_to = found, i, stop
        return i

    @cached_property
    def _templates(self) -> dict[str, DecisionTemplate]:
        """Each asset's decision template (``prepare_decision``'s)."""
        return {asset: template_for(self.strategy, asset, self.mode) for asset in self.assets}

    @cached_property
    def _midnights(self) -> list[datetime]:
        return day_starts(self.moments)


class ColumnMarks:
    """A paper broker's midnight marks (``MarkSource``) read from a run's candle columns.

    ``marks.MidnightMarks`` asks the pipeline's adapters for the asset's price requests at the
    midnight and takes the freshest answer (``reference_price`` with no age bound). When the
    midnight is one of the run's decision times and each of those requests is a clean reading
    of its column there, the columns hold those very answers (``ReplayAnswers``: the adapters'
    values and data times, to the bit), so the freshest is taken from them, without a fetch
    (~70 us each, a few hundred a long backtest). Any other midnight, or asset, is asked of
    ``fallback``, the source the broker had."""

    def __init__(self, pipeline: Pipeline, answers: ReplayAnswers, fallback: MarkSource) -> None:
        self._pipeline = pipeline
        self._answers = answers
        self._fallback = fallback

    def __call__(self, asset: str, midnight: datetime) -> tuple[Decimal, datetime] | None:
        answers = self._answers
        moments = answers.moments
        i = bisect_left(moments, midnight)
        sources = self._pipeline.price_requests_of(asset)
        columns = [answers.columns.get(request) for request in sources]
        if i == len(moments) or moments[i] != midnight or not columns:
            return self._fallback(asset, midnight)
        best: tuple[Decimal, datetime] | None = None
        for column in columns:
            if column is None or not column.ok[i]:
                return self._fallback(asset, midnight)
            at = column.stamps[column.last[i]]
            if best is None or at > best[1]:  # the first of the freshest, as reference_price
                best = (to_decimal(column.values[i]), at)
        return best


_T = TypeVar("_T")


def _interleaved(lists: Sequence[Sequence[_T]]) -> Iterator[_T]:
    """The first of each list in turn, then the second of each, and so on (all as long)."""
    return chain.from_iterable(zip(*lists, strict=True))


def day_starts(moments: Iterable[datetime]) -> list[datetime]:
    """``day_start_of`` each of ``moments``, worked out once a day (a backtest's broker is
    told its decision times' at once: ``FlatViewBroker.at_day``)."""
    days: dict[int, datetime] = {}
    found = []
    for moment in moments:
        if moment.tzinfo is not UTC:  # its own date may not be its UTC date
            found.append(day_start_of(moment))
            continue
        day = moment.toordinal()
        midnight = days.get(day)
        if midnight is None:
            midnight = days[day] = day_start_of(moment)
        found.append(midnight)
    return found


@dataclass(frozen=True, slots=True)
class _Account:
    """The account as ``FastRun._mark`` valued it: its cash, each position's (asset,
    quantity) in the broker's order, whether any is held, and its equity then."""

    cash: Decimal
    holdings: tuple[tuple[str, Decimal], ...]
    held: bool
    equity: Decimal


_ZERO = Decimal(0)


class _Span:
    """The equity points of the bars from ``start`` while the account stays ``account`` (no
    order placed), made together when the span ends (``points``) rather than one per bar.

    Each is the point ``FastRun._mark`` makes at its bar, to the digit: without positions, the
    account's equity and cash (a flat account's value depends on no price); with positions,
    cash + each quantity x its close at the mark, added in the same order from Decimal(0)
    (``PortfolioView.equity``'s sum), each close ``MarkCloses.decimals``' (made once for the
    run, and shared with the buy-and-hold benchmark)."""

    def __init__(
        self,
        account: _Account,
        ends: Sequence[datetime],
        closes: Mapping[str, MarkCloses],
        start: int,
    ) -> None:
        self.account = account
        self.ends = ends
        self.closes = closes
        self.start = start

    def points(self, stop: int) -> list[EquityPoint]:
        """The points of the bars from ``start`` to ``stop`` (excluded)."""
        start, account = self.start, self.account
        if stop <= start:
            return []
        ends = self.ends[start:stop]
        cash, held = repeat(account.cash), repeat(account.held)
        if not account.holdings:
            return equity_points(ends, repeat(account.equity), cash, held)
        exposure: Iterator[Decimal] | None = None
        for asset, quantity in account.holdings:
            # None of them is None (``FastRun._span_after``).
            closes = cast(list[Decimal], self.closes[asset].decimals()[start:stop])
            worth = map(quantity.__mul__, closes)
            exposure = (
                map(_ZERO.__add__, worth)
                if exposure is None
                else map(Decimal.__add__, exposure, worth)
            )
        assert exposure is not None
        return equity_points(ends, map(account.cash.__add__, exposure), cash, held)


__all__ = ["BATCH", "ColumnMarks", "FastRun", "FlatViewBroker", "day_starts", "fewer_collections"]
