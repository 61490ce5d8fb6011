"""One decision cycle: gather -> evaluate -> size -> risk gate -> execute -> record.

The same ``Pipeline`` runs live (``signalops run``), on replayed history, and inside backtests:
only the adapters, the clock and the executors differ. The order in which records are written
(the crash-safety contract) is ``signalops.pipeline.records``; answering approvals is
``signalops.pipeline.approvals``.

What orders are sized and checked against: the strategy's own book in the paper ledger (its
positions, its capital or the shared account: ``PaperBroker.book``) for sizing, NO_POSITION and
MAX_POSITION, its own past trades for COOLDOWN, the whole account for the account-wide limits
(ORDER_RATE counts every strategy's orders); except in auto mode with an
executor that reports the venue's holdings (``ReportsHoldings``, e.g. ``CcxtExecutor``): real
fills never reach the ledger, so the venue's account is the only one that knows what can be
sold. A venue that cannot be asked is a PORTFOLIO_UNAVAILABLE denial (recorded, no order), a
holding nothing prices blocks BUYs (UNPRICED_HOLDINGS): the limits cannot be verified, and a
portfolio that cannot be valued at all (a NaN or float quantity, a missing price) is a
PORTFOLIO_UNVALUED denial before sizing.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from signalops import risk
from signalops.adapters import calendar
from signalops.adapters import gather as engine
from signalops.adapters.base import Adapter, HasCandleFeeds
from signalops.audit.interface import AuditStore
from signalops.audit.prepared import PreparedRecord
from signalops.audit.queries import records_of_kind, records_since
from signalops.codes import Code
from signalops.config import Config, capital_by_strategy, limits_for
from signalops.errors import DuplicateRecordError, SignalOpsError
from signalops.evaluation.nodes import Metric, Node, Status
from signalops.evaluation.tree import Evaluation, Verdict
from signalops.evaluation.unread import unread_metrics
from signalops.execution.base import Executor, Reconciles, ReportsHoldings, VenuePortfolio
from signalops.execution.paper import PaperBroker
from signalops.observation import DataError, Observation, Request
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    FillCosts,
    Mode,
    OrderIntent,
    PortfolioView,
    decision_id,
    to_decimal,
)
from signalops.pipeline.records import RATE_WINDOW, Held, OrdersSeen, Recorder, Unanswered
from signalops.pipeline.summary import CycleSummary, Outcome
from signalops.risk import CheckResult, RiskDecision
from signalops.side import Side
from signalops.strategy.model import Strategy
from signalops.venues import Venues

# Sizing and paper fills need a price even when a strategy never reads one: the pipeline asks
# the technical source for the latest closes and uses the freshest that is not stale (an asset
# on a Polymarket venue, which has no candles: its outcome token's price; asset_price_requests).
PRICE_TIMEFRAMES = (3600, 86400)
_DAY = 86400
_NO_HISTORY: Mapping[str, Any] = MappingProxyType({})


def candle_timeframe(strategy: Strategy) -> int:
    """The shortest candle timeframe the strategy reads (seconds); 1d when it reads none."""
    found = [
        int(request.param_dict["timeframe"])
        for request in strategy.tree.requests(strategy.assets[0] if strategy.assets else None)
        if request.source == "technical" and "timeframe" in request.param_dict
    ]
    return min(found, default=_DAY)


@dataclass
class Pipeline:
    """Strategies x assets through the gate to an executor, every step recorded.

    ``mode`` overrides each strategy's ``action_mode`` (the CLI's ``--mode``). ``auto`` needs
    ``auto_executor`` (built only with ``--live``); without it auto decisions are denied with
    AUTO_NOT_ENABLED rather than silently paper-traded. ``simulated``: a backtest's pipeline,
    whose failed orders its report tells (they are INFO log lines, not a live run's WARNING:
    ``signalops.pipeline.records``).
    """

    strategies: Sequence[Strategy]
    adapters: Mapping[str, Adapter]
    audit: AuditStore
    broker: PaperBroker
    config: Config
    mode: Mode | None = None
    notifier: Executor | None = None
    auto_executor: Executor | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_progress: Callable[[int, int], None] | None = None
    simulated: bool = False
    _orders: OrdersSeen = field(default_factory=lambda: OrdersSeen(), init=False, repr=False)
    _venue_books: _VenueBooks = field(default_factory=lambda: _VenueBooks(), init=False, repr=False)
    _held: Held = field(default_factory=lambda: Held(), init=False, repr=False)
    _unanswered: Unanswered = field(default_factory=lambda: Unanswered(), init=False, repr=False)
    _limits_seen: _LimitsSeen = field(default_factory=lambda: _LimitsSeen(), init=False, repr=False)
    _price_sources: _PriceSources = field(
        default_factory=lambda: _PriceSources(), init=False, repr=False
    )
    _reports: tuple[object, ReportsHoldings | None] = field(
        default=(None, None), init=False, repr=False
    )

    def __post_init__(self) -> None:
        for strategy in self.strategies:
            self.audit.remember_strategy(strategy)
        self.broker.allocate(capital_by_strategy(self.config, self.broker.starting_cash))

    @property
    def records(self) -> Recorder:
        """The writer of this pipeline's records (see ``signalops.pipeline.records``)."""
        return Recorder(
            self.audit,
            self.broker,
            self.clock,
            self._held,
            self._unanswered,
            orders=self._orders,
            simulated=self.simulated,
        )

    @contextmanager
    def sole_writer(self) -> Iterator[None]:
        """A block in which nothing but this pipeline writes its audit log and paper ledger,
        nor undoes what it wrote (a backtest's batch, in its own transaction): the ledger and
        the past orders are read once, and kept up to date with its own writes after that
        (``PaperBroker.sole_writer``, ``OrdersSeen.sole_writer``). The caller vouches for it;
        an error ends the block."""
        with self.broker.sole_writer(), self._orders.sole_writer():
            yield

    # --- the cycle ---

    def cycle(self, as_of: datetime) -> CycleSummary:
        started = time.perf_counter()
        reconciled = self.reconcile()
        expired = self.expire_approvals(as_of)
        work = [(s, a) for s in self.strategies for a in s.assets]
        # Recorded decisions first: a restart replaying a cycle fetches no data for them.
        recorded = [self._recorded(strategy, asset, as_of) for strategy, asset in work]
        requests: list[Request] = []
        for (strategy, asset), (_, outcome) in zip(work, recorded, strict=True):
            if outcome is None:
                requests.extend(strategy.requests(asset))
                requests.extend(self.price_requests_of(asset))
        if requests:
            requests.extend(self.venue_price_requests())
            requests.extend(self.held_price_requests(as_of))
        answers = engine.gather(requests, self.adapters, as_of)
        outcomes = []
        # The cycle's decisions that do not act are held and committed together (at the end,
        # or with the next record that acts): the write order of ``signalops.pipeline.records``.
        decided: set[str] = set()
        with self.records.holding():
            for done, ((strategy, asset), (did, outcome)) in enumerate(
                zip(work, recorded, strict=True), 1
            ):
                if outcome is None and did in decided:  # the same decision twice in one cycle
                    outcome = self._recorded(strategy, asset, as_of)[1]
                decided.add(did)
                outcomes.append(outcome or self._decide(strategy, asset, as_of, answers, did))
                if self.on_progress is not None:
                    self.on_progress(done, len(work))
        return CycleSummary(
            as_of, tuple(outcomes), expired, reconciled, time.perf_counter() - started
        )

    def decide(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        answers: Mapping[Request, Any],
    ) -> Outcome:
        """Evaluate, size, gate, execute and record one decision; its record is committed (or,
        inside a cycle, held with the cycle's other records that do not act) on return."""
        did, skipped = self._recorded(strategy, asset, as_of)
        if skipped is not None:
            return skipped
        return self._decide(strategy, asset, as_of, answers, did)

    def _decide(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        answers: Mapping[Request, Any],
        did: str,
    ) -> Outcome:
        mode = self.mode or Mode(strategy.execution.action_mode)
        evaluation = strategy.evaluate(answers, as_of, asset)
        try:
            gate, execution = self._act(strategy, asset, as_of, evaluation, answers, did, mode)
        except DuplicateRecordError:
            # Another runner on this log decided it since we looked (the same strategy under
            # two runner names): its transaction won and ours was rolled back, a fill and all.
            # Skipped, as when the log had it before we looked.
            skipped = self._recorded(strategy, asset, as_of)[1]
            if skipped is None:
                raise
            return skipped
        denials = gate.codes if gate is not None else ()
        stale = _stale_by_metric(evaluation)
        return Outcome(
            did,
            strategy.name,
            asset,
            evaluation.verdict,
            execution.status,
            denials,
            data_errors=data_errors(evaluation),
            stale=tuple(stale.values()),
            stalled=_stalled(stale, evaluation.as_of, self.config.venues, asset),
            unread=unread_metrics(evaluation),
        )

    def _act(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        evaluation: Evaluation,
        answers: Mapping[Request, Any],
        did: str,
        mode: Mode,
    ) -> tuple[RiskDecision | None, ExecutionResult]:
        """Gate and execute a BUY or SELL, or hold the record of what does not act: the gate's
        answer (None when not asked) and the execution."""
        records = self.records
        if evaluation.verdict not in (Verdict.BUY, Verdict.SELL):
            execution = not_executed(_why_not(evaluation))
            records.hold(records.decision_record(strategy, evaluation, mode, None, None, execution))
            return None, execution
        intent, gate = self.gate(strategy, asset, as_of, evaluation, answers, did, mode)
        if intent is not None and gate.approved:
            return gate, self._execute(intent, mode, as_of, strategy, evaluation, gate)
        execution = not_executed(DENIED)
        records.hold(records.decision_record(strategy, evaluation, mode, intent, gate, execution))
        return gate, execution

    def _recorded(
        self, strategy: Strategy, asset: str, as_of: datetime
    ) -> tuple[str, Outcome | None]:
        """The decision's id, and its skipped outcome when it is recorded (or held)."""
        mode = self.mode or Mode(strategy.execution.action_mode)
        did = decision_id(strategy.content_hash, asset, as_of, mode.value)
        verdict = self._held.verdict(did)
        if verdict is None:
            if not self.audit.has_decision(did):
                return did, None
            found = self.audit.get(did)
            assert found is not None
            verdict = found["verdict"]
        skipped = Outcome(
            did, strategy.name, asset, Verdict(verdict), ExecutionStatus.NOT_EXECUTED, skipped=True
        )
        return did, skipped

    # --- sizing and the gate ---

    def limits(self, strategy: Strategy, evaluation: Evaluation) -> risk.RiskLimits:
        """The strategy's limits; ``max_data_age`` follows its timeframe unless a config set it.

        Made once per strategy, config and acting side (the loop swaps the config to halt or
        reload: a new config object starts afresh), not merged again for every decision.
        """
        seen = self._limits_seen
        if seen.config is not self.config:
            seen.config, seen.found = self.config, {}
        tree = evaluation.tree
        exits = evaluation.action is Side.SELL
        key = (id(strategy), id(tree), exits)
        found = seen.found.get(key)
        if found is not None and found[0] is strategy and found[1] is tree:
            return found[2]
        limits = limits_for(strategy, self.config)
        if "max_data_age" not in self.config.risk and "max_data_age" not in strategy.risk:
            limits = risk.following_timeframe(limits, acting_max_ages(evaluation))
        seen.found[key] = (strategy, tree, limits)  # the objects too: their ids stay theirs
        return limits

    def gate(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        evaluation: Evaluation,
        answers: Mapping[Request, Any],
        did: str,
        mode: Mode,
    ) -> tuple[OrderIntent | None, RiskDecision]:
        """The order a BUY or SELL verdict turns into and the risk gate's answer to it (None
        and the denial when nothing can be ordered)."""
        # The gate only reads the ledger (the account, the book, Kelly's trades): it is asked
        # once for all of them.
        with self.broker.sole_writer():
            return self._gate(strategy, asset, as_of, evaluation, answers, did, mode)

    def _gate(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        evaluation: Evaluation,
        answers: Mapping[Request, Any],
        did: str,
        mode: Mode,
    ) -> tuple[OrderIntent | None, RiskDecision]:
        limits = self.limits(strategy, evaluation)
        sources = self.price_requests_of(asset)
        price = reference_price(asset, answers, as_of, limits.max_data_age, sources)
        side = Side.BUY if evaluation.verdict is Verdict.BUY else Side.SELL
        if price is None:
            return None, RiskDecision.denied(Code.NO_PRICE, _no_price(asset, sources))
        self.broker.note_midnight_price(
            asset, as_of, lambda: reference_price(asset, answers, as_of, None, sources)
        )
        prices = self._marks(asset, price[0], answers, as_of)
        found = self._portfolio(asset, prices, answers, as_of, limits, mode)
        if isinstance(found, RiskDecision):
            return None, found
        portfolio = found
        book = self._book(strategy.name, asset, prices, as_of, mode)
        if isinstance(book, RiskDecision):
            return None, book
        if book is None and side is Side.SELL and self._has_own_book(strategy.name):
            book = self._venue_book(strategy.name, asset, portfolio)
        kelly = self._kelly(strategy, as_of, limits) if side is Side.BUY else None
        size = Decimal(str(strategy.execution.position_size))
        paid = self._paper_buy(strategy.name, mode, portfolio, book) if side is Side.BUY else None
        sizing = risk.sized_order(
            decision_id=did,
            strategy=strategy.name,
            asset=asset,
            side=side,
            reference_price=price[0],
            position_size=size,
            portfolio=portfolio if book is None else book,
            limits=limits,
            as_of=as_of,
            mode=mode,
            kelly_cap=None if kelly is None else kelly.fraction,
            costs=None if paid is None else paid[0],
            cash=None if paid is None else paid[1],
        )
        intent = sizing.order
        if intent is None:
            if side is Side.SELL:
                # Whose holding was looked at, when the account is shared: this strategy's, not
                # the others'. (Alone on its account, the book is the account and the record
                # as before.)
                shared = book is not None and self._shares_account(strategy.name)
                return None, _nothing_to_sell(asset, strategy.name if shared else None)
            details: dict[str, Any] = {"asset": asset, "equity": str(portfolio.equity)}
            if kelly is not None:  # Kelly found no edge: the size it gave is zero
                details["kelly"] = kelly.details()
            return None, RiskDecision.denied(Code.ZERO_SIZE, details)
        history = self._history(strategy, asset, portfolio, as_of, limits)
        state = self.risk_state(portfolio, as_of, limits, book, history, strategy=strategy.name)
        data_time = decision_data_time(evaluation, price[1])
        decision = risk.check(intent, state, limits, as_of=as_of, data_time=data_time)
        if kelly is not None:
            decision = decision.with_check(_kelly_check(kelly, size))
        if sizing.cut is not None:  # the cash cut the BUY: the record says from what
            decision = decision.with_check(sizing.cut.check(intent))
        if side is Side.BUY and isinstance(portfolio, VenuePortfolio) and portfolio.unpriced:
            # Equity and exposure are unknown, so no BUY limit can be verified: fail closed. A
            # SELL only reduces risk and stays allowed.
            held = {c: str(quantity) for c, quantity in sorted(portfolio.unpriced.items())}
            held_details: dict[str, Any] = {"asset": asset, "holdings": held}
            unpriced = CheckResult(Code.UNPRICED_HOLDINGS, False, held_details)
            decision = decision.with_check(unpriced)
        if isinstance(portfolio, VenuePortfolio):
            mismatch = self.reconcile_books(asset, portfolio)
            if mismatch is not None:
                decision = decision.with_check(mismatch)
        return intent, decision

    def _paper_buy(
        self, strategy: str, mode: Mode, account: PortfolioView, book: PortfolioView | None
    ) -> tuple[FillCosts, Decimal] | None:
        """The paper broker's slippage and fee and the cash it lets ``strategy`` spend, when
        the paper broker fills the BUY (paper mode; notify mode's once approved, with no auto
        executor: ``approvals``); None when a venue does, whose costs are its own."""
        if not (mode is Mode.PAPER or (mode is Mode.NOTIFY and self.auto_executor is None)):
            return None
        if book is None:
            return None
        broker = self.broker
        return broker.costs, broker.spendable(strategy, account.cash, book.cash)

    def reconcile_books(self, asset: str, venue: PortfolioView) -> CheckResult | None:
        """A failed RECONCILE_MISMATCH check when the venue holds less of ``asset`` than the
        strategies' venue books add up to; None when it holds at least that.

        A venue book is what a strategy's orders at the venue left it (from the audit log's
        order results: a BUY adds what filled less a fee taken in the asset, a SELL closes the
        position, a partial SELL takes what filled). Holding *more* is allowed: balances
        nobody here bought (a testnet's coins, a manual purchase) are no strategy's. Holding
        less means something sold outside SignalOps or a fill was never recorded: no order on
        the asset until someone looks (never a silent trade on a wrong position).
        """
        books = self._venue_books.update(self.audit).held(asset)
        expected = sum(books.values(), Decimal(0))
        position = venue.positions.get(asset)
        held = position.quantity if position is not None else Decimal(0)
        if expected <= held:
            return None
        details: dict[str, Any] = {
            "asset": asset,
            "limit": expected,
            "actual": held,
            "unit": "asset units held at the venue vs the books' sum",
            "books": {name: str(quantity) for name, quantity in sorted(books.items())},
        }
        return CheckResult(Code.RECONCILE_MISMATCH, False, details)

    def _portfolio(
        self,
        asset: str,
        prices: dict[str, Decimal],
        answers: Mapping[Request, Any],
        as_of: datetime,
        limits: risk.RiskLimits,
        mode: Mode,
    ) -> PortfolioView | RiskDecision:
        """What the order is sized and checked against, or the denial saying why there is none.

        The venue's account when the auto executor reports holdings (every asset priced this
        cycle, so its other holdings are valued, not unknown); else the paper ledger.
        """
        venue = self._holdings_venue() if mode is Mode.AUTO else None
        try:
            if venue is not None:
                # The venue's holdings at prices no older than the limit (an unpriced one is
                # denied below), not at the paper ledger's marks (``_marks``: any age).
                known = self._known_prices(answers, as_of, limits.max_data_age)
                portfolio = venue.portfolio({**known, asset: prices[asset]}, as_of)
            else:
                portfolio = self.broker.portfolio(prices, as_of)
        except SignalOpsError as exc:  # no holdings, nothing to size or check against
            details: dict[str, Any] = {"asset": asset, "error": str(exc)}
            return RiskDecision.denied(Code.PORTFOLIO_UNAVAILABLE, details)
        except (ArithmeticError, TypeError, ValueError) as exc:  # a ledger nobody can read
            details = {"asset": asset, "error": f"{type(exc).__name__}: {exc}"}
            return RiskDecision.denied(Code.PORTFOLIO_UNVALUED, details)
        unvalued = risk.unvalued(portfolio)
        if unvalued:
            details = {"asset": asset, "unvalued": list(unvalued)}
            return RiskDecision.denied(Code.PORTFOLIO_UNVALUED, details)
        return portfolio

    def _marks(
        self, asset: str, price: Decimal, answers: Mapping[Request, Any], as_of: datetime
    ) -> dict[str, Decimal]:
        """The prices the gate values the paper account at: ``asset`` at its reference price,
        and every other asset the account holds at the freshest price the cycle's answers give
        for it, whatever its age (a stock's last close is still its best price on a Sunday),
        unless its last fill is newer (the broker then values it at that fill's price, as it
        does an asset no answer prices). Sizing and the exposure limits then see the account
        at market, not each other holding at the price it last traded at."""
        broker = self.broker
        marks: dict[str, Decimal] = {}
        for other, filled in broker.held_at(as_of):
            if other == asset or not broker.starts_day_at_market(other, as_of):
                continue  # at its last fill at midnight: at its last fill now too
            found = reference_price(other, answers, as_of, None, self.price_requests_of(other))
            if found is not None and (filled is None or found[1] >= filled):
                marks[other] = found[0]
        marks[asset] = price
        return marks

    def _holdings_venue(self) -> ReportsHoldings | None:
        """The auto executor when it reports the venue's holdings, else None.

        Asked once per executor object: an ``isinstance`` of a runtime-checkable protocol
        inspects the class every time (tens of µs, a tenth of a decision's budget)."""
        executor = self.auto_executor
        if executor is None:
            return None
        if self._reports[0] is not executor:
            reports = executor if isinstance(executor, ReportsHoldings) else None
            self._reports = (executor, reports)
        return self._reports[1]

    def _has_own_book(self, strategy: str) -> bool:
        return len(self.strategies) > 1 or strategy in self.broker.capital

    def _shares_account(self, strategy: str) -> bool:
        """Whether ``strategy``'s denials name its book: it has one of its own, or another
        strategy's orders are in the log (an earlier run, or an approval answered alone).
        Alone on its account, its book is the account and the records read as they always did.
        """
        if self._has_own_book(strategy):
            return True
        self._orders.update(self.audit)
        return self._orders.traded_by_others(strategy)

    def _book(
        self, strategy: str, asset: str, prices: dict[str, Decimal], as_of: datetime, mode: Mode
    ) -> PortfolioView | RiskDecision | None:
        """The strategy's own paper book (its positions, its cash); None when orders go to a
        venue that reports its holdings: real fills never reach the paper books."""
        if mode is Mode.AUTO and self._holdings_venue() is not None:
            return None
        try:
            book = self.broker.book(strategy, prices, as_of)
        except (ArithmeticError, TypeError, ValueError) as exc:  # a ledger nobody can read
            details: dict[str, Any] = {"asset": asset, "error": f"{type(exc).__name__}: {exc}"}
            return RiskDecision.denied(Code.PORTFOLIO_UNVALUED, details)
        unvalued = risk.unvalued(book)
        if unvalued:
            details = {"asset": asset, "book": strategy, "unvalued": list(unvalued)}
            return RiskDecision.denied(Code.PORTFOLIO_UNVALUED, details)
        return book

    def _venue_book(self, strategy: str, asset: str, venue: PortfolioView) -> PortfolioView:
        """What a SELL at a venue may close: this strategy's venue book of ``asset``, never
        more than the venue holds (a shortfall is RECONCILE_MISMATCH's to report), never the
        coins another strategy bought. Cash and the rest stay the account's."""
        own = self._venue_books.update(self.audit).held(asset).get(strategy, Decimal(0))
        position = venue.positions.get(asset)
        held = min(own, position.quantity) if position is not None else Decimal(0)
        positions = (
            {} if held <= 0 or position is None else {asset: replace(position, quantity=held)}
        )
        return replace(venue, positions=positions)

    def _assets(self) -> list[str]:
        return list(dict.fromkeys(a for s in self.strategies for a in s.assets))

    def venue_price_requests(self) -> list[Request]:
        """Every loaded asset's price, when a venue's holdings will be valued with them."""
        if self._holdings_venue() is None:
            return []
        return [r for asset in self._assets() for r in self.price_requests_of(asset)]

    def _known_prices(
        self, answers: Mapping[Request, Any], as_of: datetime, max_age: float | None
    ) -> dict[str, Decimal]:
        known = {}
        for asset in self._assets():
            found = reference_price(asset, answers, as_of, max_age, self.price_requests_of(asset))
            if found is not None:
                known[asset] = found[0]
        return known

    def held_price_requests(self, as_of: datetime) -> list[Request]:
        """The price requests of every asset the paper account holds at ``as_of``: the gate
        values them at market (``_marks``), whether or not their own decision at this time is
        made now (a resumed cycle, an approval's re-check, size as a whole cycle does)."""
        return [r for held, _ in self.broker.held_at(as_of) for r in self.price_requests_of(held)]

    def price_requests_of(self, asset: str) -> tuple[Request, ...]:
        """The requests ``asset``'s reference price comes from under the config's venues, made
        once per asset and venue table (a reloaded config starts afresh)."""
        seen = self._price_sources
        venues = self.config.venues
        if seen.venues is not venues:
            seen.venues, seen.found = venues, {}
        found = seen.found.get(asset)
        if found is None:
            found = seen.found[asset] = asset_price_requests(asset, venues)
        return found

    def _kelly(self, strategy: Strategy, as_of: datetime, limits: risk.RiskLimits) -> Any:
        """Kelly from the strategy's own closed trades before ``as_of`` (its paper book's
        SELLs), when the limits ask for it; None otherwise."""
        spec = limits.kelly_from_trades
        if spec is None:
            return None
        return spec.estimate(self.broker.closed_trades(strategy.name, as_of))

    def _history(
        self,
        strategy: Strategy,
        asset: str,
        portfolio: PortfolioView,
        as_of: datetime,
        limits: risk.RiskLimits,
    ) -> Mapping[str, Any]:
        """The closes MAX_VAR and MAX_CVAR estimate from: of the ordered asset and of every
        holding, in the strategy's candle timeframe, up to ``as_of``, through the technical
        source's candle feed (live: the venue; replay: the snapshots). An asset whose candles
        cannot be had is left out: the check then has no estimate and fails closed."""
        if limits.max_var is None and limits.max_cvar is None:  # most strategies: asked no more
            return _NO_HISTORY
        specs = [spec for spec in (limits.max_var, limits.max_cvar) if spec is not None]
        adapter = self.adapters.get("technical")
        if not specs or not isinstance(adapter, HasCandleFeeds):
            return _NO_HISTORY
        feeds = adapter.feeds
        from signalops.risk.measures import PriceHistory

        bars = max(spec.window + spec.horizon for spec in specs) + 1
        timeframe, moment = candle_timeframe(strategy), as_of.timestamp()
        found: dict[str, Any] = {}
        for name in sorted({asset, *portfolio.positions}):
            try:
                candles = feeds.feed_for(name).candles(name, timeframe, moment, bars)
            except (SignalOpsError, LookupError, ValueError, OSError):
                continue
            found[name] = PriceHistory(candles.close_time, candles.close)
        return found

    def risk_state(
        self,
        portfolio: PortfolioView,
        as_of: datetime,
        limits: risk.RiskLimits,
        book: PortfolioView | None = None,
        history: Mapping[str, Any] = _NO_HISTORY,
        *,
        strategy: str | None = None,
    ) -> risk.RiskState:
        """Order rate, cooldowns and executed decisions, read from the audit log itself.

        An order counts when it was placed (a paper fill, or an order sent to a venue); times
        are the decisions' ``as_of`` so that replays and backtests see their simulated clock.
        ``order_times`` are those of the rate window only (what the gate counts: every
        strategy's orders), and ``last_trade`` and ``executed_decisions`` are read-only views of
        what the pipeline keeps: the state is for the check that follows, not to be kept past
        the next call. With ``strategy``, ``last_trade`` is that strategy's own (COOLDOWN is per
        book: another strategy's trade on the asset does not hold it back), and its book is
        named (``book_name``) when the account is shared (``_shares_account``); without, the
        account's.
        """
        # Incremental: only records appended since the last call are read, so a gated decision
        # costs the same on a log of a million records as on a fresh one. Another process may
        # append too (a CLI approval); reading by seq picks its records up as well. The paper
        # fills this pipeline records are noted as written (``OrdersSeen.note_written``).
        known = self._orders
        if not known.covers(as_of):  # older than the times kept (an approval dated back)
            known.restart()  # read the log again, from the start
        known.update(self.audit)
        # Only the orders of the rate window count (``RiskState``), and the gate only reads the
        # others: the runner's own collections (read-only views), not copies of every order
        # ever placed. They change at the next call only, after this state has been checked.
        known.trim(as_of)
        recent = bisect_right(known.times, as_of - RATE_WINDOW)
        last_trade: Mapping[str, datetime] = known.last_trade_view
        book_name = None
        if strategy is not None:
            last_trade = known.last_trade_of(strategy)
            shared = self._has_own_book(strategy) or known.traded_by_others(strategy)
            book_name = strategy if shared else None  # ``_shares_account``, the log just read
        return risk.RiskState(
            portfolio=portfolio,
            order_times=known.times[recent:],
            last_trade=last_trade,
            executed_decisions=known.executed_view,
            kill_switch=risk.kill_switch_active(limits),
            book=book,
            sectors=self.config.sectors,
            history=history,
            book_name=book_name,
        )

    # --- execution ---

    def _execute(
        self,
        intent: OrderIntent,
        mode: Mode,
        as_of: datetime,
        strategy: Strategy,
        evaluation: Evaluation,
        gate: RiskDecision,
    ) -> ExecutionResult:
        records = self.records

        def decision(result: ExecutionResult) -> PreparedRecord:
            return records.decision_record(strategy, evaluation, mode, intent, gate, result)

        if mode is Mode.PAPER:
            return records.paper(intent, as_of, decision)
        if mode is Mode.NOTIFY:
            if self.notifier is None:
                result = ExecutionResult(
                    ExecutionStatus.FAILED, "notify mode has no notifier configured"
                )
            else:
                result = self.notifier.execute(intent, as_of=as_of)
            records.append(decision(result))
            return result
        if self.auto_executor is None:
            result = ExecutionResult(
                ExecutionStatus.NOT_EXECUTED,
                "auto mode is not enabled: run with --mode auto --live and exchange credentials",
                details={"reason": Code.AUTO_NOT_ENABLED},
            )
            records.append(decision(result))
            return result
        submitted = ExecutionResult(ExecutionStatus.SUBMITTED, "sending to the venue")
        return records.send(self.auto_executor, intent, as_of, decision(submitted))

    # --- approvals and housekeeping ---

    def rest(self) -> None:
        """Housekeeping while no cycle runs (the live loop calls it while it waits).

        The audit log's own housekeeping (``checkpoint``: SQLite copies its WAL into the file
        now, so that the next decisions' commits need not; never an error).
        """
        self.audit.checkpoint()

    def expire_approvals(self, now: datetime) -> int:
        return self.records.expire(now)

    def reconcile(self) -> int:
        """Record the venue's answer for orders sent but not recorded (a crash in between)."""
        if not isinstance(self.auto_executor, Reconciles):
            return 0
        return self.records.reconcile(self.auto_executor)


def _kelly_check(kelly: Any, wanted: Decimal) -> CheckResult:
    """A passed KELLY_SIZE check: what Kelly from the strategy's trades said, and whether it
    capped the BUY below ``wanted`` (its ``position_size``; ``why`` shows it with the others)."""
    details: dict[str, Any] = {
        "limit": kelly.fraction,
        "actual": wanted,
        "unit": "fraction of equity (Kelly's vs position_size)",
        "capped": kelly.fraction is not None and kelly.fraction < wanted,
        **kelly.details(),
    }
    return CheckResult(Code.KELLY_SIZE, True, details)


@dataclass
class _LimitsSeen:
    """The limits made for each (strategy, tree, acting side) under one config."""

    config: Config | None = None
    found: dict[tuple[int, int, bool], tuple[Strategy, Any, risk.RiskLimits]] = field(
        default_factory=dict
    )


@dataclass
class _VenueBooks:
    """Each strategy's holdings at the venue, from the order results in the audit log (read
    incrementally, like ``OrdersSeen``). The last result of an order is the one that counts
    (a SUBMITTED order's later FILLED answer replaces it), in the place of its first.

    ``orders``: client order id -> (strategy, asset, change), in the order of their first
    answer with a fill. ``books`` keeps each asset's sum, brought up to date as new orders are
    answered: the gate asks for it at every gated decision, and adding up every order ever
    filled there made a cycle's cost grow with the log. An order answered again changes a sum
    in the middle: that asset is added up again (``stale``) when next asked for.
    """

    seq: int = 0
    orders: dict[str, tuple[str, str, Decimal | None]] = field(default_factory=dict)
    books: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # asset -> name -> held
    stale: set[str] = field(default_factory=set)

    def update(self, audit: AuditStore) -> _VenueBooks:
        for seq, record in records_since(audit, "order_result", after_seq=self.seq):
            self.seq = seq
            execution = record.get("execution") or {}
            fill = execution.get("fill")
            if not fill:
                continue
            asset, coid = fill["asset"], record["client_order_id"]
            change = _held_change(fill, execution.get("details") or {})
            before = self.orders.get(coid)
            if before is None:
                name = _strategy_of(audit, record["decision_id"])
                books = self.books.get(asset)
                if books is not None:
                    _apply(books, name, change)
            else:  # answered again: the sums it is part of change in the middle
                name = before[0]
                self.stale.update((before[1], asset))
            self.orders[coid] = (name, asset, change)
        return self

    def held(self, asset: str) -> dict[str, Decimal]:
        books = self.books.get(asset)
        if books is None or asset in self.stale:
            books = {}
            for name, traded, change in self.orders.values():
                if traded == asset:
                    _apply(books, name, change)
            self.books[asset] = books
            self.stale.discard(asset)
        return {name: quantity for name, quantity in books.items() if quantity}


def _apply(books: dict[str, Decimal], name: str, change: Decimal | None) -> None:
    # None: a whole-position SELL (sizing sells the whole book), which closes it.
    books[name] = Decimal(0) if change is None else books.get(name, Decimal(0)) + change


@dataclass
class _PriceSources:
    """Each asset's reference-price requests under one venue table
    (``Pipeline.price_requests_of``)."""

    venues: Venues | None = None
    found: dict[str, tuple[Request, ...]] = field(default_factory=dict)


def _strategy_of(audit: AuditStore, did: str) -> str:
    """The name of the strategy that took decision ``did``."""
    decision = audit.get(did) or {}
    return str((decision.get("strategy") or {}).get("name"))


def _held_change(fill: Mapping[str, Any], details: Mapping[str, Any]) -> Decimal | None:
    """What a fill did to its strategy's holding: + (bought less a fee taken in the asset),
    - (a partial SELL), or None (a SELL that closed the position)."""
    quantity = to_decimal(fill["quantity"])
    if fill["side"] == Side.SELL.value:
        return -quantity if details.get("partial") else None
    base = str(details.get("symbol") or fill["asset"]).partition("/")[0]
    fees = details.get("fees") or []
    taken = sum((to_decimal(f["cost"]) for f in fees if f.get("currency") == base), Decimal(0))
    return quantity - taken


def price_requests(asset: str) -> list[Request]:
    return list(_price_requests(asset))


@lru_cache(maxsize=65536)
def _price_requests(asset: str) -> tuple[Request, ...]:
    """Made once per asset, not for every decision and every price lookup."""
    return tuple(
        Request("technical", "close", (("timeframe", tf),), asset) for tf in PRICE_TIMEFRAMES
    )


def asset_price_requests(asset: str, venues: Venues) -> tuple[Request, ...]:
    """Where ``asset``'s reference price comes from: the price of the outcome token it trades
    as when ``venues`` put it on a Polymarket venue (which serves no candles), else the
    technical closes (``price_requests``)."""
    if not venues.trades_outcome(asset):
        return _price_requests(asset)
    from signalops.adapters.polymarket import asset_token, token_price_request

    return (token_price_request(asset_token(venues, asset)),)


# A SELL that finds nothing to sell is denied with nothing but what was asked: one frozen value
# per asset and book, given again at every such SELL. Its records then repeat the outcome their
# template built first (``DecisionTemplate``: the same risk object), as a backtest's SELLs while
# nothing is held do, instead of each being encoded anew.
_DENIALS_KEPT = 4096


@lru_cache(maxsize=_DENIALS_KEPT)
def _nothing_to_sell(asset: str, book: str | None) -> RiskDecision:
    """The NO_POSITION denial of a SELL of ``asset`` that sizing found nothing to sell in;
    ``book``: the strategy whose book that is, named when the account is shared."""
    details: dict[str, Any] = {"asset": asset, "side": Side.SELL.value}
    if book is not None:
        details.update(book=book, actual=Decimal(0), unit="asset units")
    return RiskDecision.denied(Code.NO_POSITION, details)


def _no_price(asset: str, sources: Sequence[Request]) -> dict[str, Any]:
    """The details of a NO_PRICE denial: what the price was asked of."""
    if sources and sources[0].source == "polymarket":
        return {"asset": asset, "polymarket_token": sources[0].param_dict["token"]}
    return {"asset": asset, "timeframes": ["1h", "1d"]}


def reference_price(
    asset: str,
    answers: Mapping[Request, Any],
    as_of: datetime,
    max_age: float | None,
    sources: Sequence[Request] | None = None,
) -> tuple[Decimal, datetime] | None:
    """The freshest answer to ``sources`` (default: ``asset``'s technical closes) that is not
    older than ``max_age``."""
    best: tuple[Decimal, datetime] | None = None
    for request in _price_requests(asset) if sources is None else sources:
        answer = answers.get(request)
        if not isinstance(answer, Observation):
            continue
        age = (as_of - answer.as_of).total_seconds()
        if max_age is not None and age > max_age:
            continue
        if best is None or answer.as_of > best[1]:
            best = (to_decimal(answer.value), answer.as_of)
    return best


def _acting_side(evaluation: Evaluation) -> Node | None:
    """The side of the tree the decision acts on: the entry for a BUY (or no action), else the
    exit (None when the strategy has none)."""
    tree = evaluation.tree
    buying = evaluation.action is None or evaluation.action is Side.BUY
    return tree.entry if buying else tree.exit


def acting_max_ages(evaluation: Evaluation) -> tuple[int, ...]:
    """The staleness limits of the leaves of the acting side (the ones ``decision_data_time``
    reads): the age of data the strategy itself accepts."""
    side = _acting_side(evaluation)
    if side is None:
        return ()
    return tuple(age for node in evaluation.tree.leaves_under(side) for age in node.max_ages)


def decision_data_time(evaluation: Evaluation, price_time: datetime) -> datetime:
    """The oldest data the decision relied on: the passing leaves of the acting side + price.

    A leaf's data times are its readings' (``trace.data_times``: the same times as
    ``trace.leaf(node).readings``, without building the leaf's view)."""
    side = _acting_side(evaluation)
    oldest = price_time
    if side is None:
        return oldest
    trace = evaluation.trace
    statuses = trace.statuses
    for node in evaluation.tree.leaves_under(side):
        if statuses[node.index] == Status.PASS:
            for data_time in trace.data_times(node):
                if data_time is not None and data_time < oldest:
                    oldest = data_time
    return oldest


def data_errors(evaluation: Evaluation) -> tuple[Code, ...]:
    """The reason code of each metric of the tree a source answered with a ``DataError``.

    These are the leaves that are UNKNOWN because a source failed or had nothing to give (a
    connection error, NO_DATA, INSUFFICIENT_HISTORY...), not because the evaluator refused a
    value it got (STALE, NOT_A_NUMBER): those were answered, and the trace says why.
    """
    return tuple(obs.reason for obs in evaluation.observations if isinstance(obs, DataError))


def stale_data(evaluation: Evaluation) -> tuple[datetime, ...]:
    """When the data is from, for each metric of the tree a leaf refused as STALE (what a
    cycle's ``Outcome.stale`` holds: ``_stale_by_metric``)."""
    return tuple(_stale_by_metric(evaluation).values())


def _stalled(
    found: dict[Metric, datetime], as_of: datetime, venues: Venues, asset: str
) -> tuple[datetime, ...]:
    """Of the stale data ``found`` (``_stale_by_metric``), what the market's own pause does not
    explain: when ``asset`` trades in US equity sessions, its own metrics' data from before a
    night, weekend or holiday in which no session closed is as new as it gets (a daily strategy
    with a 2d max age on a Monday). What is left stopped updating: the stale-data alert counts
    it. (Whether the asset trades in sessions is asked only of stale data: not on every
    decision.)"""
    if not found or not venues.in_sessions((asset,)):
        return tuple(found.values())
    now = as_of.timestamp()
    return tuple(
        data_time
        for metric, data_time in found.items()
        if not metric.asset_scoped or calendar.closes_within(data_time.timestamp(), now)
    )


def _stale_by_metric(evaluation: Evaluation) -> dict[Metric, datetime]:
    """When the data is from, for each metric of the tree a leaf refused as STALE.

    The source answered, with a value older than the leaf's max age: a feed that stopped
    updating, or a recording that ended. Those leaves were UNKNOWN all the same, so the cycle
    warns of them (apart from ``data_errors``: nothing failed to answer). One per metric, as
    ``data_errors`` counts, whichever leaves read it.
    """
    reasons = evaluation.reasons
    if Code.STALE not in reasons:  # every decision asks: one scan of a short tuple
        return {}
    trace, as_of = evaluation.trace, evaluation.as_of
    found: dict[Metric, datetime] = {}
    for node in evaluation.tree.leaves():
        if reasons[node.index] != Code.STALE:
            continue
        readings = zip(node.metrics, node.max_ages, trace.data_times(node), strict=True)
        for metric, max_age, data_time in readings:
            if data_time is not None and (as_of - data_time).total_seconds() > max_age:
                found.setdefault(metric, data_time)
    return found


DENIED = "denied by the risk gate"


@lru_cache(maxsize=256)
def not_executed(message: str) -> ExecutionResult:
    """A decision that placed nothing, and why: one frozen value per reason, so the record's
    template encodes it once (a HOLD's "no entry or exit signal" repeats all day)."""
    return ExecutionResult(ExecutionStatus.NOT_EXECUTED, message)


NO_SIGNAL = "no entry or exit signal"  # why a HOLD without conflicts placed nothing


def _why_not(evaluation: Evaluation) -> str:
    if evaluation.verdict is Verdict.BLOCKED:
        return f"{evaluation.action} blocked by veto {', '.join(evaluation.blocked_by)}"
    if evaluation.conflicts:
        return evaluation.conflicts[0]
    return NO_SIGNAL


__all__ = [
    "NO_SIGNAL",
    "PRICE_TIMEFRAMES",
    "Pipeline",
    "asset_price_requests",
    "data_errors",
    "decision_data_time",
    "not_executed",
    "price_requests",
    "records_of_kind",
    "reference_price",
    "stale_data",
]
