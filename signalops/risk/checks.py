"""The pre-trade risk gate: ordered checks over an order intent, each denial a value with a code.

    decision = check(intent, state, limits, as_of=now, data_time=evaluation.as_of)
    decision.approved            # True iff no check failed
    decision.denials             # (RiskReason(Code.MAX_POSITION, {...}), ...)
    decision.to_dict()           # {"approved": false, "checks": [{"code", "passed", ...}]}

Modelled on NautilusTrader's risk engine: a denial is never an exception and never free text, but a
stable UPPER_SNAKE code with details that carry the limit and the actual value. Unlike a gate that
stops at the first denial, ``check`` runs *every* check and records each one, passed or not, so an
audit record shows how close an approved order came to each limit and every reason a denied order
had.

The checks, in order (``CHECKS``):

    KILL_SWITCH         the kill switch is on (the caller looked at the file: checks stay pure)
    TRADING_STATE       HALTED: nothing trades; REDUCING: only SELLs that reduce a position
    DATA_STALE          the decision's data is older than max_data_age at check time (an approval
                        clicked hours later), or dated after the check time (clock skew)
    DUPLICATE_DECISION  this decision was already executed (idempotency across restarts)
    NO_POSITION         a SELL without a position to sell, or of more than is held (no shorts)
                        by the strategy's own book: it never sells another strategy's holding
    MAX_POSITION        the asset's value after the order, as a fraction of equity (both the
                        strategy's book's)
    MAX_EXPOSURE        all positions' value after the order, as a fraction of equity (both the
                        account's)
    MAX_DAILY_LOSS      equity is down max_daily_loss or more from the day's start: no new BUYs
    ORDER_RATE          more than max_orders_per_hour orders in the last hour
    COOLDOWN            a trade on the same asset less than ``cooldown`` ago
    MIN_NOTIONAL        the order is too small to be worth its fees
    MAX_NOTIONAL        the order is larger than the absolute cap (a fat-finger guard)

Reducing risk is always allowed: a SELL (which can only close or shrink a long position; anything
else is NO_POSITION) passes MAX_POSITION, MAX_EXPOSURE, MAX_DAILY_LOSS, ORDER_RATE, COOLDOWN and
MAX_NOTIONAL with ``"exempt": "SELL"`` in its details, passes TRADING_STATE when REDUCING, and
passes MIN_NOTIONAL when it closes the whole position (dust must stay sellable). A SELL is still
stopped by the hard stops (KILL_SWITCH, HALTED) and by the integrity checks: DUPLICATE_DECISION,
NO_POSITION and DATA_STALE. A stale SELL is denied on purpose: the exit signal may no longer hold
and the price it was judged at is gone; the next evaluation, on fresh data, issues the SELL again
if it still holds (and the kill switch / HALTED are the manual ways out).

Books: ``RiskState.portfolio`` is the account, ``RiskState.book`` the strategy's own book
(``PaperBroker.book``; None when the account is the book). NO_POSITION, the REDUCING state,
MIN_NOTIONAL's dust exemption and MAX_POSITION read the book; MAX_EXPOSURE, MAX_DAILY_LOSS and
the kill switch stay account-wide.

Valuation: the traded asset is marked at the intent's ``reference_price`` (the freshest price the
decision has) in the position, exposure and equity figures; other positions at their
``last_price``. Exposure is gross (absolute market values). A portfolio that cannot be valued at
all (a NaN or float quantity, a missing price: see ``valuation.unvalued``) adds a failed
PORTFOLIO_UNVALUED check *before* the others, naming each figure; the checks still run, and
those that need the portfolio's figures fail. A figure that cannot be computed (equity or
day-start equity at or below zero) fails its check: the gate fails closed, and a check that
meets an arithmetic error (e.g. a NaN reference price) is recorded as failed with
``"error": "NOT_COMPUTABLE"`` instead of raising. Nothing raises out of ``check``.

Fractions in details are shown to 6 decimal places rounded up (towards +inf), so that for limits
with at most 6 decimals the shown value compares with the limit as the exact one did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType
from typing import Any

from signalops.codes import Code
from signalops.observation import utc
from signalops.orders import OrderIntent, PortfolioView
from signalops.risk.decision import CheckResult, RiskDecision, RiskReason
from signalops.risk.limits import RiskLimits, TradingState
from signalops.risk.valuation import marked_equity, unvalued
from signalops.side import Side

# What the exempt SELL checks say.
EXEMPT_SELL = Side.SELL.value

ORDER_RATE_WINDOW = 3600  # seconds: max_orders_per_hour counts orders in this trailing window
_SHOWN = Decimal("0.000001")  # fractions in details: 6 decimal places, rounded up


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the gate knows besides the intent, gathered by the caller at check time.

    ``order_times``: when orders were placed (at least the last hour's; the caller decides the
    scope, e.g. every strategy of the runner); ``last_trade``: the last trade time per asset;
    ``executed_decisions``: decision ids already executed; ``kill_switch``: the kill
    switch as the caller found it (see ``kill_switch_active(limits)``).
    """

    portfolio: PortfolioView
    order_times: tuple[datetime, ...] = ()
    last_trade: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    executed_decisions: frozenset[str] = frozenset()
    kill_switch: bool = False
    book: PortfolioView | None = None

    @property
    def own(self) -> PortfolioView:
        """The strategy's book (None: the account is its book, as when it runs alone)."""
        return self.portfolio if self.book is None else self.book


@dataclass(frozen=True, slots=True)
class _Figures:
    """The portfolio's figures with the traded asset marked at the reference price."""

    held: Decimal  # quantity of the asset held by the strategy's book
    equity: Decimal  # the account's
    exposure: Decimal  # the account's, gross
    book_equity: Decimal  # the strategy's book's (the account's when it shares the account)


@dataclass(slots=True)
class _Context:
    """Everything the checks read, computed once per ``check`` call; ``measured`` is where each
    check leaves its limit/actual figures so a *passed* check is recorded with them too.
    ``figures`` is None when the portfolio could not be valued: a check that reads them then
    meets an ArithmeticError and is recorded as NOT_COMPUTABLE."""

    intent: OrderIntent
    state: RiskState
    limits: RiskLimits
    as_of: datetime
    data_time: datetime
    figures: _Figures | None
    measured: dict[str, Any] = field(default_factory=dict)

    def _valued(self) -> _Figures:
        if self.figures is None:
            raise ArithmeticError("the portfolio could not be valued")
        return self.figures

    @property
    def price(self) -> Decimal:
        return self.intent.reference_price

    @property
    def held(self) -> Decimal:
        return self._valued().held

    @property
    def equity(self) -> Decimal:
        return self._valued().equity

    @property
    def exposure(self) -> Decimal:
        return self._valued().exposure

    @property
    def book_equity(self) -> Decimal:
        return self._valued().book_equity

    @property
    def buy(self) -> bool:
        return self.intent.side is Side.BUY

    @property
    def signed_quantity(self) -> Decimal:
        return self.intent.quantity if self.buy else -self.intent.quantity

    @property
    def reducing(self) -> bool:
        """A SELL of a held quantity: it can only lower risk."""
        return not self.buy and self.held > 0 and 0 < self.intent.quantity <= self.held

    def verdict(self, code: Code, denied: bool, details: dict[str, Any]) -> RiskReason | None:
        """Record the figures; a denial is a RiskReason, a pass is None."""
        self.measured = details
        return RiskReason(code, MappingProxyType(details)) if denied else None

    def exempt(
        self, code: Code, details: dict[str, Any], side: str = EXEMPT_SELL
    ) -> RiskReason | None:
        """A pass: ``side`` cannot add the risk this check limits. The figures are still kept."""
        details["exempt"] = side
        return self.verdict(code, False, details)


def _fraction(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if denominator <= 0:
        return None
    return numerator / denominator


def _shown(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(_SHOWN, rounding=ROUND_CEILING)


def _seconds(delta: timedelta) -> Decimal:
    whole = Decimal(delta.days * 86400 + delta.seconds)
    return whole + Decimal(delta.microseconds).scaleb(-6) if delta.microseconds else whole


def _kill_switch(c: _Context) -> RiskReason | None:
    on = c.state.kill_switch
    details = {
        "limit": "inactive",
        "actual": "active" if on else "inactive",
        "unit": "kill switch",
        "file": c.limits.kill_switch_file,
    }
    return c.verdict(Code.KILL_SWITCH, on, details)


def _trading_state(c: _Context) -> RiskReason | None:
    state = c.limits.trading_state
    allowed = {
        TradingState.ACTIVE: [Side.BUY, Side.SELL],
        TradingState.REDUCING: [Side.SELL],  # and only one that reduces a position
        TradingState.HALTED: [],
    }[state]
    denied = not (state is TradingState.ACTIVE or (state is TradingState.REDUCING and c.reducing))
    details = {
        "limit": state,
        "actual": c.intent.side,
        "unit": "trading state",
        "allowed": allowed,
    }
    return c.verdict(Code.TRADING_STATE, denied, details)


def _data_stale(c: _Context) -> RiskReason | None:
    age = _seconds(c.as_of - c.data_time)
    limit = c.limits.max_data_age
    details = {
        "limit": Decimal(limit),
        "actual": age,
        "unit": "seconds",
        "data_time": c.data_time,
        "as_of": c.as_of,
    }
    # Data dated after the check is a clock or look-ahead problem: refused like stale data.
    return c.verdict(Code.DATA_STALE, age > limit or age < 0, details)


def _duplicate_decision(c: _Context) -> RiskReason | None:
    done = c.intent.decision_id in c.state.executed_decisions
    details = {
        "limit": 1,
        "actual": 2 if done else 1,
        "unit": "executions of this decision",
        "decision_id": c.intent.decision_id,
    }
    return c.verdict(Code.DUPLICATE_DECISION, done, details)


def _no_position(c: _Context) -> RiskReason | None:
    details = {"limit": c.held, "actual": c.intent.quantity, "unit": "asset units"}
    if c.buy:
        return c.exempt(Code.NO_POSITION, details, Side.BUY.value)
    return c.verdict(Code.NO_POSITION, not c.reducing, details)


def _max_position(c: _Context) -> RiskReason | None:
    after = (c.held + c.signed_quantity) * c.price
    limit = c.limits.max_position
    return _fraction_of_equity(c, Code.MAX_POSITION, limit, "position_value", after, c.book_equity)


def _max_exposure(c: _Context) -> RiskReason | None:
    after = c.exposure + c.signed_quantity * c.price
    limit = c.limits.max_exposure
    return _fraction_of_equity(c, Code.MAX_EXPOSURE, limit, "exposure", after, c.equity)


def _fraction_of_equity(
    c: _Context, code: Code, limit: Decimal, name: str, after: Decimal, equity: Decimal
) -> RiskReason | None:
    """Deny a BUY when ``after`` (in the details as ``name``) exceeds ``limit`` of ``equity``
    (the strategy's book's for its position, the account's for the exposure)."""
    details = {
        "limit": limit,
        "actual": _shown(_fraction(after, equity)),
        "unit": "fraction of equity",
        name: after,
        "equity": equity,
    }
    if not c.buy:
        return c.exempt(code, details)
    # Compared by multiplying, not dividing: exact for any figure Decimal holds.
    return c.verdict(code, equity <= 0 or after > limit * equity, details)


def _max_daily_loss(c: _Context) -> RiskReason | None:
    start = c.state.portfolio.day_start_equity
    change = c.equity - start
    limit = c.limits.max_daily_loss
    details = {
        "limit": limit,
        "actual": _shown(_fraction(change, start)),
        "unit": "fraction of day-start equity (change)",
        "equity": c.equity,
        "day_start_equity": start,
    }
    if not c.buy:
        return c.exempt(Code.MAX_DAILY_LOSS, details)
    return c.verdict(Code.MAX_DAILY_LOSS, start <= 0 or change <= -limit * start, details)


def _order_rate(c: _Context) -> RiskReason | None:
    since = c.as_of - timedelta(seconds=ORDER_RATE_WINDOW)
    # Orders dated after as_of count too: they are recent by any reading (fail closed).
    count = sum(1 for t in c.state.order_times if utc(t) > since)
    limit = c.limits.max_orders_per_hour
    details = {
        "limit": limit,
        "actual": count + 1,
        "unit": "orders in the last hour, this one included",
    }
    if not c.buy:
        return c.exempt(Code.ORDER_RATE, details)
    return c.verdict(Code.ORDER_RATE, count + 1 > limit, details)


def _cooldown(c: _Context) -> RiskReason | None:
    last = c.state.last_trade.get(c.intent.asset)
    elapsed = None if last is None else _seconds(c.as_of - utc(last))
    limit = c.limits.cooldown
    details = {
        "limit": Decimal(limit),
        "actual": elapsed,
        "unit": "seconds since the last trade on the asset",
        "last_trade": last,
    }
    if not c.buy:
        return c.exempt(Code.COOLDOWN, details)
    return c.verdict(Code.COOLDOWN, elapsed is not None and elapsed < limit, details)


def _min_notional(c: _Context) -> RiskReason | None:
    limit = c.limits.min_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if c.reducing and c.intent.quantity == c.held:
        # Closing a dust position must stay possible.
        return c.exempt(Code.MIN_NOTIONAL, details)
    return c.verdict(Code.MIN_NOTIONAL, c.intent.notional < limit, details)


def _max_notional(c: _Context) -> RiskReason | None:
    limit = c.limits.max_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if not c.buy:
        return c.exempt(Code.MAX_NOTIONAL, details)
    return c.verdict(Code.MAX_NOTIONAL, limit is not None and c.intent.notional > limit, details)


Check = Callable[[_Context], RiskReason | None]

CHECKS: tuple[tuple[Code, Check], ...] = (
    (Code.KILL_SWITCH, _kill_switch),
    (Code.TRADING_STATE, _trading_state),
    (Code.DATA_STALE, _data_stale),
    (Code.DUPLICATE_DECISION, _duplicate_decision),
    (Code.NO_POSITION, _no_position),
    (Code.MAX_POSITION, _max_position),
    (Code.MAX_EXPOSURE, _max_exposure),
    (Code.MAX_DAILY_LOSS, _max_daily_loss),
    (Code.ORDER_RATE, _order_rate),
    (Code.COOLDOWN, _cooldown),
    (Code.MIN_NOTIONAL, _min_notional),
    (Code.MAX_NOTIONAL, _max_notional),
)


def check(
    intent: OrderIntent,
    state: RiskState,
    limits: RiskLimits,
    *,
    as_of: datetime,
    data_time: datetime,
) -> RiskDecision:
    """Run every check on ``intent``; approved iff none failed.

    ``as_of`` is the check time (now, live; the simulated clock in a backtest); ``data_time`` is
    the time of the decision's data (its evaluation's ``as_of``). Both must be time-zone aware.
    Never raises for what it finds: a portfolio that cannot be valued is a PORTFOLIO_UNVALUED
    denial, and a check that cannot compute its figure fails (fail closed).
    """
    as_of, data_time = utc(as_of), utc(data_time)
    checks = []
    problems = _unvalued(state.portfolio)
    if state.book is not None:
        problems += tuple(f"book {p}" for p in _unvalued(state.book))
    if problems:
        details = {"limit": None, "actual": None, "unvalued": list(problems)}
        checks.append(CheckResult(Code.PORTFOLIO_UNVALUED, False, details))
    figures = None if problems else _figures(intent, state.portfolio, state.own)
    context = _Context(intent, state, limits, as_of, data_time, figures)
    for code, run in CHECKS:
        context.measured = {}
        try:
            reason = run(context)
        except (ArithmeticError, TypeError, ValueError):
            reason = _uncomputable()
        if reason is not None:
            checks.append(CheckResult(code, False, reason.details))
        else:
            checks.append(CheckResult(code, True, MappingProxyType(context.measured)))
    return RiskDecision(all(c.passed for c in checks), tuple(checks))


def _unvalued(portfolio: PortfolioView) -> tuple[str, ...]:
    try:
        return unvalued(portfolio)
    except (AttributeError, TypeError) as exc:  # not a portfolio's shape at all
        return (f"portfolio: {type(exc).__name__}",)


def _uncomputable() -> RiskReason:
    details = {"limit": None, "actual": None, "error": Code.NOT_COMPUTABLE.value}
    return RiskReason(Code.NOT_COMPUTABLE, MappingProxyType(details))


def _figures(intent: OrderIntent, portfolio: PortfolioView, book: PortfolioView) -> _Figures | None:
    try:
        price = intent.reference_price
        position = portfolio.positions.get(intent.asset)
        account_held = position.quantity if position is not None else Decimal(0)
        others = sum(
            (abs(p.market_value) for a, p in portfolio.positions.items() if a != intent.asset),
            Decimal(0),
        )
        own = book.positions.get(intent.asset)
        return _Figures(
            held=own.quantity if own is not None else Decimal(0),
            equity=marked_equity(portfolio, position, price),
            exposure=others + abs(account_held * price),
            book_equity=marked_equity(book, own, price),
        )
    except (ArithmeticError, TypeError, ValueError):
        return None


__all__ = ["CHECKS", "ORDER_RATE_WINDOW", "RiskState", "check"]
