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
    COOLDOWN            a trade on the same asset less than ``cooldown`` ago (``last_trade``:
                        the caller's scope; the pipeline's is the strategy's own trades, each
                        from when it was placed; one dated after the check is pending: age 0)
    MIN_NOTIONAL        the order is too small to be worth its fees
    MAX_NOTIONAL        the order is larger than the absolute cap (a fat-finger guard)

and, only when the limits set them (``OPTIONAL``; a config without them records exactly the
checks above):

    MAX_SECTOR          the sector's positions after the order, as a fraction of equity (both the
                        account's; ``RiskState.sectors`` maps assets to sectors, an asset without
                        one is its own sector)
    MAX_VAR, MAX_CVAR   the account's VaR / CVaR after the order (``signalops.risk.measures``)
                        from ``RiskState.history``, the price history the caller gathered up to
                        the decision's data time; too little history is a denial (fail closed)

Reducing risk is always allowed: a SELL (which can only close or shrink a long position; anything
else is NO_POSITION) passes MAX_POSITION, MAX_EXPOSURE, MAX_DAILY_LOSS, ORDER_RATE, COOLDOWN,
MAX_NOTIONAL and the optional checks with ``"exempt": "SELL"`` in its details, passes TRADING_STATE
when REDUCING, and passes MIN_NOTIONAL when it closes the whole position (dust must stay sellable).
A SELL is still stopped by the hard stops (KILL_SWITCH, HALTED) and by the integrity checks:
DUPLICATE_DECISION, NO_POSITION and DATA_STALE. A stale SELL is denied on purpose: the exit signal
may no longer hold and the price it was judged at is gone; the next evaluation, on fresh data,
issues the SELL again if it still holds (and the kill switch / HALTED are the manual ways out).

Books: ``RiskState.portfolio`` is the account, ``RiskState.book`` the strategy's own book
(``PaperBroker.book``; None when the account is the book). NO_POSITION, the REDUCING state,
MIN_NOTIONAL's dust exemption and MAX_POSITION read the book, and COOLDOWN the last trades the
caller passes (the pipeline: the strategy's own, so that two strategies signalling together on
one asset both trade); MAX_EXPOSURE, MAX_DAILY_LOSS, ORDER_RATE and the kill switch stay
account-wide. With ``RiskState.book_name`` set (several strategies share the account) COOLDOWN's
details name the book and say its time is since *this strategy's* last trade.

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

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType
from typing import Any

from signalops.codes import Code
from signalops.observation import utc
from signalops.orders import OrderIntent, PortfolioView
from signalops.risk.decision import CheckResult, RiskDecision, checked
from signalops.risk.limits import RiskLimits, TradingState
from signalops.risk.valuation import all_usable, equity_and_others, unvalued
from signalops.side import Side

# What the exempt SELL checks say.
EXEMPT_SELL = Side.SELL.value
EXEMPT_BUY = Side.BUY.value

ORDER_RATE_WINDOW = 3600  # seconds: max_orders_per_hour counts orders in this trailing window
_WINDOW = timedelta(seconds=ORDER_RATE_WINDOW)
_SHOWN = Decimal("0.000001")  # fractions in details: 6 decimal places, rounded up
_ZERO = Decimal(0)
_ALLOWED = {
    TradingState.ACTIVE: (Side.BUY, Side.SELL),
    TradingState.REDUCING: (Side.SELL,),  # and only one that reduces a position
    TradingState.HALTED: (),
}
_NOT_COMPUTABLE = Code.NOT_COMPUTABLE.value
# COOLDOWN's unit, alone on the account and sharing it (``explain.figures`` reads "since the
# last trade" in either: a null figure is "no earlier trade").
_SINCE_TRADE = "seconds since the last trade on the asset"
_SINCE_OWN_TRADE = "seconds since the last trade of this strategy on the asset"


@dataclass(frozen=True, slots=True)
class RiskState:
    """What the gate knows besides the intent, gathered by the caller at check time.

    ``order_times``: when orders were placed (at least the last hour's; the caller decides the
    scope, e.g. every strategy of the runner); ``last_trade``: the last trade time per asset
    (the caller decides whose: the pipeline passes the strategy's own); ``executed_decisions``:
    decision ids already executed; ``kill_switch``: the kill switch as the caller found it
    (see ``kill_switch_active(limits)``); ``sectors``: asset -> sector for MAX_SECTOR;
    ``history``: asset -> ``measures.PriceHistory`` for MAX_VAR/MAX_CVAR (the gate ignores
    points after the decision's data time); ``book_name``: the strategy whose book ``book``
    and ``last_trade`` are, when several strategies share the account (COOLDOWN's details
    then name it); None: the details read as for a strategy alone on its account.

    The gate only iterates ``order_times`` and asks ``in`` of ``executed_decisions``: a caller
    that keeps them up to date may pass its own collections (or views of them) instead of
    copying every order it ever placed into a new tuple and frozenset for each decision, as
    long as they do not change while ``check`` runs. Only times after ``as_of`` minus
    ``ORDER_RATE_WINDOW`` count, so passing just those gives the same decision (and keeps the
    gate's cost flat however long the runner has been trading).
    """

    portfolio: PortfolioView
    order_times: Sequence[datetime] = ()
    last_trade: Mapping[str, datetime] = field(default_factory=lambda: MappingProxyType({}))
    executed_decisions: AbstractSet[str] = frozenset()
    kill_switch: bool = False
    book: PortfolioView | None = None
    sectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    history: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    book_name: str | None = None

    @property
    def own(self) -> PortfolioView:
        """The strategy's book (None: the account is its book, as when it runs alone)."""
        return self.portfolio if self.book is None else self.book


class _Context:
    """Everything the checks read, computed once per ``check`` call and kept as plain
    attributes (slots, not properties: reading them is much of what the checks do).

    ``held``: the quantity of the asset in the strategy's book; ``equity`` and ``exposure``
    (gross): the account's; ``book_equity``: the book's (the account's when it is the book),
    all with the asset marked at the intent's price. When the portfolio could not be valued,
    ``_Unvalued`` stands in: reading one of those four raises ArithmeticError, so exactly the
    checks that need them are recorded as NOT_COMPUTABLE.
    """

    __slots__ = (
        "as_of",
        "book_equity",
        "buy",
        "data_time",
        "equity",
        "exposure",
        "held",
        "intent",
        "limits",
        "price",
        "state",
    )
    held: Decimal
    equity: Decimal
    exposure: Decimal
    book_equity: Decimal

    def __init__(
        self,
        intent: OrderIntent,
        state: RiskState,
        limits: RiskLimits,
        as_of: datetime,
        data_time: datetime,
    ) -> None:
        self.intent = intent
        self.state = state
        self.limits = limits
        self.as_of = as_of
        self.data_time = data_time
        self.buy = intent.side is Side.BUY
        self.price = intent.reference_price

    def reducing(self) -> bool:
        """A SELL of a held quantity: it can only lower risk."""
        return not self.buy and self.held > 0 and 0 < self.intent.quantity <= self.held


def _not_valued(_: _Context) -> Decimal:
    raise ArithmeticError("the portfolio could not be valued")


class _Unvalued(_Context):
    __slots__ = ()
    # Properties over the base class's slots: nothing sets them, every read raises.
    held = property(_not_valued)
    equity = property(_not_valued)
    exposure = property(_not_valued)
    book_equity = property(_not_valued)


# A check answers (denied, details): the details are recorded whether it passed or not.
Outcome = tuple[bool, dict[str, Any]]
Check = Callable[[_Context], Outcome]


def _exempt(details: dict[str, Any], side: str = EXEMPT_SELL) -> Outcome:
    """A pass: ``side`` cannot add the risk this check limits. The figures are still kept."""
    details["exempt"] = side
    return False, details


def _shown_fraction(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    """``numerator / denominator`` as details show it; None when the denominator is not
    positive (no such fraction)."""
    if denominator <= 0:
        return None
    return (numerator / denominator).quantize(_SHOWN, rounding=ROUND_CEILING)


def _seconds(delta: timedelta) -> Decimal:
    whole = Decimal(delta.days * 86400 + delta.seconds)
    return whole + Decimal(delta.microseconds).scaleb(-6) if delta.microseconds else whole


def _kill_switch(c: _Context) -> Outcome:
    on = c.state.kill_switch
    details = {
        "limit": "inactive",
        "actual": "active" if on else "inactive",
        "unit": "kill switch",
        "file": c.limits.kill_switch_file,
    }
    return on, details


def _trading_state(c: _Context) -> Outcome:
    state = c.limits.trading_state
    allowed = list(_ALLOWED[state])
    denied = not (state is TradingState.ACTIVE or (state is TradingState.REDUCING and c.reducing()))
    details = {
        "limit": state,
        "actual": c.intent.side,
        "unit": "trading state",
        "allowed": allowed,
    }
    return denied, details


def _data_stale(c: _Context) -> Outcome:
    age = _seconds(c.as_of - c.data_time)
    limit = Decimal(c.limits.max_data_age)  # compared as it is shown: the same number
    details = {
        "limit": limit,
        "actual": age,
        "unit": "seconds",
        "data_time": c.data_time,
        "as_of": c.as_of,
    }
    # Data dated after the check is a clock or look-ahead problem: refused like stale data.
    return age > limit or age < 0, details


def _duplicate_decision(c: _Context) -> Outcome:
    done = c.intent.decision_id in c.state.executed_decisions
    details = {
        "limit": 1,
        "actual": 2 if done else 1,
        "unit": "executions of this decision",
        "decision_id": c.intent.decision_id,
    }
    return done, details


def _no_position(c: _Context) -> Outcome:
    details = {"limit": c.held, "actual": c.intent.quantity, "unit": "asset units"}
    if c.buy:
        return _exempt(details, EXEMPT_BUY)
    return not c.reducing(), details


def _signed_quantity(c: _Context) -> Decimal:
    return c.intent.quantity if c.buy else -c.intent.quantity


def _max_position(c: _Context) -> Outcome:
    after = (c.held + _signed_quantity(c)) * c.price
    limit = c.limits.max_position
    return _fraction_of_equity(c, limit, "position_value", after, c.book_equity)


def _max_exposure(c: _Context) -> Outcome:
    after = c.exposure + _signed_quantity(c) * c.price
    limit = c.limits.max_exposure
    return _fraction_of_equity(c, limit, "exposure", after, c.equity)


def _fraction_of_equity(
    c: _Context, limit: Decimal, name: str, after: Decimal, equity: Decimal
) -> Outcome:
    """Deny a BUY when ``after`` (in the details as ``name``) exceeds ``limit`` of ``equity``
    (the strategy's book's for its position, the account's for the exposure)."""
    details = {
        "limit": limit,
        "actual": _shown_fraction(after, equity),
        "unit": "fraction of equity",
        name: after,
        "equity": equity,
    }
    if not c.buy:
        return _exempt(details)
    # Compared by multiplying, not dividing: exact for any figure Decimal holds.
    return equity <= 0 or after > limit * equity, details


def _max_daily_loss(c: _Context) -> Outcome:
    portfolio = c.state.portfolio
    start = portfolio.day_start_equity
    change = c.equity - start
    limit = c.limits.max_daily_loss
    details: dict[str, Any] = {
        "limit": limit,
        "actual": _shown_fraction(change, start),
        "unit": "fraction of day-start equity (change)",
        "equity": c.equity,
        "day_start_equity": start,
    }
    if portfolio.day_start_marks:  # what each position held at 00:00 UTC was valued at
        details["day_start_marks"] = portfolio.marks_dict()
    if not c.buy:
        return _exempt(details)
    return start <= 0 or change <= -limit * start, details


def _order_rate(c: _Context) -> Outcome:
    count = _recent(c.state.order_times, c.as_of - _WINDOW)
    limit = c.limits.max_orders_per_hour
    details = {
        "limit": limit,
        "actual": count + 1,
        "unit": "orders in the last hour, this one included",
    }
    if not c.buy:
        return _exempt(details)
    return count + 1 > limit, details


def _recent(times: Iterable[datetime], since: datetime) -> int:
    """How many of ``times`` are after ``since`` (an aware UTC time); orders dated after the
    check count too: they are recent by any reading (fail closed).

    An aware time compares with ``since`` as its UTC reading does, so the history (a runner
    passes every order it placed) is counted without converting each time to UTC first. A
    naive time cannot be compared: the exact reading then raises as it always did (ValueError,
    recorded as NOT_COMPUTABLE).
    """
    try:
        return sum(1 for t in times if t > since)
    except TypeError:
        return sum(1 for t in times if utc(t) > since)


def _cooldown(c: _Context) -> Outcome:
    """A BUY within ``cooldown`` of the strategy's last trade on the asset.

    A trade counts from when it was placed (its decision), not from its fill: an order placed
    before ``as_of`` that fills after it (a Saturday's stock order filling at Monday's open,
    seen from Sunday's decision on a coin) is a trade already made. The pipeline passes
    placement times; a last trade the caller dates after ``as_of`` anyway (a fill time, a
    clock ahead) is pending, so it happens now: its age is 0, never negative (with a cooldown
    of 0 it passes; with any other it is denied, fail closed)."""
    state = c.state
    last = state.last_trade.get(c.intent.asset)
    elapsed = None
    if last is not None:  # ``utc`` refuses a naive time (NOT_COMPUTABLE); UTC is none
        elapsed = max(_seconds(c.as_of - (last if last.tzinfo is UTC else utc(last))), _ZERO)
    limit = Decimal(c.limits.cooldown)
    details = {"limit": limit, "actual": elapsed, "unit": _SINCE_TRADE, "last_trade": last}
    if state.book_name is not None:  # whose last trade: not another strategy's on the asset
        details["unit"], details["book"] = _SINCE_OWN_TRADE, state.book_name
    if not c.buy:
        return _exempt(details)
    return elapsed is not None and elapsed < limit, details


def _min_notional(c: _Context) -> Outcome:
    limit = c.limits.min_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if c.reducing() and c.intent.quantity == c.held:
        # Closing a dust position must stay possible.
        return _exempt(details)
    return c.intent.notional < limit, details


def _max_notional(c: _Context) -> Outcome:
    limit = c.limits.max_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if not c.buy:
        return _exempt(details)
    return limit is not None and c.intent.notional > limit, details


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


def _max_sector(c: _Context) -> Outcome:
    limit = c.limits.max_sector
    assert limit is not None  # run only when set
    sectors, asset = c.state.sectors, c.intent.asset
    sector = sectors.get(asset, asset)
    account = c.state.portfolio
    value = _ZERO
    for name, position in account.positions.items():
        if name != asset and sectors.get(name, name) == sector:
            value += abs(position.market_value)
    held = account.positions.get(asset)
    quantity = (held.quantity if held is not None else _ZERO) + _signed_quantity(c)
    after = value + abs(quantity * c.price)
    outcome = _fraction_of_equity(c, limit, "sector_value", after, c.equity)
    outcome[1]["sector"] = sector
    return outcome


def _tail(c: _Context, code: Code) -> Outcome:
    from signalops.risk.measures import ProposedOrder, portfolio_tail_risk

    spec = c.limits.max_var if code is Code.MAX_VAR else c.limits.max_cvar
    assert spec is not None  # run only when set
    account = c.state.portfolio
    risk = portfolio_tail_risk(
        spec.model(),
        holdings={name: p.quantity for name, p in account.positions.items()},
        prices={name: p.last_price for name, p in account.positions.items()},
        cash=account.cash,
        history=c.state.history,
        as_of=c.data_time,  # the decision's data time: replayable, no look-ahead
        order=ProposedOrder.of(c.intent),
    )
    estimate = risk.var if code is Code.MAX_VAR else risk.cvar
    details = {"limit": spec.limit, **estimate.details()}
    if not c.buy:
        return _exempt(details)
    return estimate.exceeds(spec.limit), details  # no estimate: denied, "error" says why


OPTIONAL: tuple[tuple[Code, str, Check], ...] = (
    (Code.MAX_SECTOR, "max_sector", _max_sector),
    (Code.MAX_VAR, "max_var", lambda c: _tail(c, Code.MAX_VAR)),
    (Code.MAX_CVAR, "max_cvar", lambda c: _tail(c, Code.MAX_CVAR)),
)


def _checks(limits: RiskLimits) -> tuple[tuple[Code, Check], ...]:
    """``CHECKS`` and the optional checks the limits set, in that order: worked out once per
    limits object (frozen; a pipeline gives the same one to every decision of a strategy)."""
    kept = _CHECKS_SEEN.get(id(limits))
    if kept is not None and kept[0] is limits:
        return kept[1]
    extra = tuple((code, run) for code, name, run in OPTIONAL if getattr(limits, name) is not None)
    found = CHECKS + extra if extra else CHECKS
    if len(_CHECKS_SEEN) >= _CHECKS_KEPT:
        _CHECKS_SEEN.clear()
    _CHECKS_SEEN[id(limits)] = (limits, found)  # the limits too: their id stays theirs
    return found


_CHECKS_SEEN: dict[int, tuple[RiskLimits, tuple[tuple[Code, Check], ...]]] = {}
_CHECKS_KEPT = 256


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
    # Both are UTC already at every gated decision: ``utc`` only for the others (a call each).
    if as_of.tzinfo is not UTC:
        as_of = utc(as_of)
    if data_time.tzinfo is not UTC:
        data_time = utc(data_time)
    checks = []
    problems = _unvalued(state.portfolio)
    if state.book is not None:
        in_book = _unvalued(state.book)
        if in_book:
            problems += tuple(f"book {p}" for p in in_book)
    if problems:
        details = {"limit": None, "actual": None, "unvalued": list(problems)}
        checks.append(CheckResult(Code.PORTFOLIO_UNVALUED, False, details))
    context = None if problems else _valued(intent, state, limits, as_of, data_time)
    if context is None:
        context = _Unvalued(intent, state, limits, as_of, data_time)
    approved = not problems
    append = checks.append
    for code, run in _checks(limits):
        try:
            denied, details = run(context)
            passed = not denied
        except (ArithmeticError, TypeError, ValueError):
            passed, details = False, _uncomputable()
        approved = approved and passed
        append(checked(code, passed, MappingProxyType(details)))
    return RiskDecision(approved, tuple(checks))


def _uncomputable() -> dict[str, Any]:
    return {"limit": None, "actual": None, "error": _NOT_COMPUTABLE}


def _unvalued(portfolio: PortfolioView) -> tuple[str, ...]:
    try:
        return () if all_usable(portfolio) else unvalued(portfolio)
    except (AttributeError, TypeError) as exc:  # not a portfolio's shape at all
        return (f"portfolio: {type(exc).__name__}",)


def _valued(
    intent: OrderIntent, state: RiskState, limits: RiskLimits, as_of: datetime, data_time: datetime
) -> _Context | None:
    """The context with the asset marked at the reference price; None when a figure cannot be
    computed (e.g. a NaN price under a trap): every check that needs one fails closed."""
    context = _Context(intent, state, limits, as_of, data_time)
    try:
        asset, price = intent.asset, context.price
        account, book = state.portfolio, state.book
        position = account.positions.get(asset)
        equity, others = equity_and_others(account, asset)
        account_held = position.quantity if position is not None else _ZERO
        context.equity = _marked_equity(equity, position, price)
        context.exposure = others + abs(account_held * price)
        if book is None:  # the account is the strategy's book
            context.held, context.book_equity = account_held, context.equity
        else:
            own = book.positions.get(asset)
            context.held = own.quantity if own is not None else _ZERO
            context.book_equity = _marked_equity(equity_and_others(book, None)[0], own, price)
    except (ArithmeticError, TypeError, ValueError):
        return None
    return context


def _marked_equity(equity: Decimal, position: Any, price: Decimal) -> Decimal:
    """``valuation.marked_equity`` from the portfolio's equity already computed."""
    if position is None:
        return equity
    return equity - position.market_value + position.quantity * price


__all__ = ["CHECKS", "OPTIONAL", "ORDER_RATE_WINDOW", "RiskState", "check"]
