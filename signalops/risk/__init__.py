"""The pre-trade risk gate: ordered checks over an order intent, each denial a value with a code.

    decision = check(intent, state, limits, as_of=now, data_time=evaluation.as_of)
    decision.approved            # True iff no check failed
    decision.denials             # (RiskReason("MAX_POSITION", {...}), ...)
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
    MAX_POSITION        the asset's value after the order, as a fraction of equity
    MAX_EXPOSURE        all positions' value after the order, as a fraction of equity
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

Valuation: the traded asset is marked at the intent's ``reference_price`` (the freshest price the
decision has) in the position, exposure and equity figures; other positions at their
``last_price``. Exposure is gross (absolute market values). A figure that cannot be computed
(equity or day-start equity at or below zero) fails its check: the gate fails closed, and a check
that meets an arithmetic error (e.g. a NaN in the portfolio) is recorded as failed with
``"error": "NOT_COMPUTABLE"`` instead of raising.

Fractions in details are shown to 6 decimal places rounded up (towards +inf), so that for limits
with at most 6 decimals the shown value compares with the limit as the exact one did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from signalops.canonical import json_safe
from signalops.observation import utc
from signalops.orders import (
    Mode,
    OrderIntent,
    PortfolioView,
    Position,
    Side,
    client_order_id,
    to_decimal,
)

__all__ = [
    "CHECKS",
    "DEFAULT_LIMITS",
    "ORDER_RATE_WINDOW",
    "QUANTITY_STEP",
    "Kelly",
    "RiskCheck",
    "RiskDecision",
    "RiskLimits",
    "RiskReason",
    "RiskState",
    "TradingState",
    "check",
    "kill_switch_active",
    "size_order",
]

# Reason codes: stable, filtered on by audit queries and dashboards. Never rename one.
KILL_SWITCH = "KILL_SWITCH"
TRADING_STATE = "TRADING_STATE"
DATA_STALE = "DATA_STALE"
DUPLICATE_DECISION = "DUPLICATE_DECISION"
NO_POSITION = "NO_POSITION"
MAX_POSITION = "MAX_POSITION"
MAX_EXPOSURE = "MAX_EXPOSURE"
MAX_DAILY_LOSS = "MAX_DAILY_LOSS"
ORDER_RATE = "ORDER_RATE"
COOLDOWN = "COOLDOWN"
MIN_NOTIONAL = "MIN_NOTIONAL"
MAX_NOTIONAL = "MAX_NOTIONAL"

# What the exempt SELL checks say, and what a check that could not be computed says.
EXEMPT_SELL = "SELL"
NOT_COMPUTABLE = "NOT_COMPUTABLE"

ORDER_RATE_WINDOW = 3600  # seconds: max_orders_per_hour counts orders in this trailing window
QUANTITY_STEP = Decimal("0.00000001")  # sizing rounds quantities down to 8 decimal places
_SHOWN = Decimal("0.000001")  # fractions in details: 6 decimal places, rounded up


class TradingState(StrEnum):
    """NautilusTrader's trading states, in increasing strictness."""

    ACTIVE = "ACTIVE"  # everything the other checks allow
    REDUCING = "REDUCING"  # only SELLs that reduce a position
    HALTED = "HALTED"  # nothing, not even SELLs

    @property
    def strictness(self) -> int:
        return list(TradingState).index(self)


@dataclass(frozen=True, slots=True)
class Kelly:
    """A fractional-Kelly cap on the BUY size: ``fraction x max(0, p - (1 - p) / b)`` of equity.

    ``win_rate`` (p) and ``payoff`` (b, average win / average loss) are the strategy's own
    estimates, e.g. from a backtest; ``fraction`` scales the full Kelly bet down (0.25-0.5 is
    usual, since full Kelly on estimated odds overbets).
    """

    fraction: Decimal
    win_rate: Decimal
    payoff: Decimal

    def __post_init__(self) -> None:
        for name in ("fraction", "win_rate", "payoff"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        if not (0 < self.fraction <= 1):
            raise ValueError(f"kelly fraction must be in (0, 1], got {self.fraction}")
        if not (0 <= self.win_rate <= 1):
            raise ValueError(f"kelly win_rate must be in [0, 1], got {self.win_rate}")
        if not self.payoff > 0:
            raise ValueError(f"kelly payoff must be > 0, got {self.payoff}")

    @property
    def full(self) -> Decimal:
        """Full Kelly f* = p - (1 - p) / b; negative when the edge is negative."""
        return self.win_rate - (1 - self.win_rate) / self.payoff

    @property
    def cap(self) -> Decimal:
        """The largest fraction of equity a BUY may use: never negative."""
        return max(self.full, Decimal(0)) * self.fraction


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits the gate enforces. Money is ``Decimal`` in the quote currency; durations are
    whole seconds; fractions are of equity. The defaults are the cautious ones:

    - ``kill_switch_file`` None: no file is watched until the config names one;
    - ``trading_state`` ACTIVE;
    - ``max_data_age`` 15 minutes: a decision acted on later than that (a late approval) is
      re-evaluated instead; equal to the default approval expiry;
    - ``max_position`` 10% of equity per asset, ``max_exposure`` 50% of equity in positions:
      at least half the portfolio stays in cash;
    - ``max_daily_loss`` 3% of the day's starting equity: after that, no new BUYs that day;
    - ``max_orders_per_hour`` 10: a strategy on candles trades a few times a day, so more is a
      runaway loop;
    - ``cooldown`` 1 hour per asset: no buying back what was just sold (whipsaw);
    - ``min_notional`` 10: below typical exchange minimums, and fees eat it;
    - ``max_notional`` 10,000: an absolute per-order cap that holds even if equity is miscounted
      (None: no absolute cap);
    - ``kelly`` None: sizing follows ``position_size`` alone.
    """

    kill_switch_file: str | None = None
    trading_state: TradingState = TradingState.ACTIVE
    max_data_age: int = 900
    max_position: Decimal = Decimal("0.10")
    max_exposure: Decimal = Decimal("0.50")
    max_daily_loss: Decimal = Decimal("0.03")
    max_orders_per_hour: int = 10
    cooldown: int = 3600
    min_notional: Decimal = Decimal("10")
    max_notional: Decimal | None = Decimal("10000")
    kelly: Kelly | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "trading_state", TradingState(self.trading_state))
        for name in ("max_position", "max_exposure", "max_daily_loss", "min_notional"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        if self.max_notional is not None:
            object.__setattr__(self, "max_notional", to_decimal(self.max_notional))
        if isinstance(self.kelly, Mapping):
            object.__setattr__(self, "kelly", Kelly(**self.kelly))
        for name in ("max_position", "max_exposure", "max_daily_loss"):
            value = getattr(self, name)
            if not (0 <= value <= 1):
                raise ValueError(f"{name} must be a fraction from 0 to 1, got {value}")
        for name in ("max_data_age", "max_orders_per_hour", "cooldown"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.min_notional < 0:
            raise ValueError(f"min_notional must be >= 0, got {self.min_notional}")
        if self.max_notional is not None and self.max_notional <= 0:
            raise ValueError(f"max_notional must be > 0, got {self.max_notional}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the audit record of the limits a decision was checked against."""
        kelly = self.kelly
        return json_safe(
            {
                "kill_switch_file": self.kill_switch_file,
                "trading_state": self.trading_state,
                "max_data_age": self.max_data_age,
                "max_position": self.max_position,
                "max_exposure": self.max_exposure,
                "max_daily_loss": self.max_daily_loss,
                "max_orders_per_hour": self.max_orders_per_hour,
                "cooldown": self.cooldown,
                "min_notional": self.min_notional,
                "max_notional": self.max_notional,
                "kelly": None
                if kelly is None
                else {
                    "fraction": kelly.fraction,
                    "win_rate": kelly.win_rate,
                    "payoff": kelly.payoff,
                },
            }
        )


DEFAULT_LIMITS = RiskLimits()


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


@dataclass(frozen=True, slots=True)
class RiskReason:
    """Why a check denied an order: a stable code and JSON-ready-able details."""

    code: str
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RiskCheck:
    """One check's outcome, passed or not, with the limit and the actual value it compared."""

    code: str
    passed: bool
    details: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "passed": self.passed, "details": json_safe(self.details)}


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Every check, in order; approved iff none failed."""

    approved: bool
    checks: tuple[RiskCheck, ...]

    @property
    def denials(self) -> tuple[RiskReason, ...]:
        return tuple(RiskReason(c.code, c.details) for c in self.checks if not c.passed)

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of the failed checks, in check order."""
        return tuple(c.code for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {"approved": self.approved, "checks": [c.to_dict() for c in self.checks]}


def kill_switch_active(limits: RiskLimits) -> bool:
    """True when the kill switch file exists (a dangling symlink counts); a path that cannot be
    checked (e.g. a folder without permission) counts as on: fail closed.

    Kept out of ``check`` so that the checks are pure functions of their arguments (replayable);
    the caller looks once per cycle and passes the answer in ``RiskState``.
    """
    if limits.kill_switch_file is None:
        return False
    try:
        Path(limits.kill_switch_file).expanduser().lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError, RuntimeError):
        return True
    return True


# --- the checks ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Context:
    """Everything the checks read, computed once per ``check`` call; ``measured`` is where each
    check leaves its limit/actual figures so a *passed* check is recorded with them too."""

    intent: OrderIntent
    state: RiskState
    limits: RiskLimits
    as_of: datetime
    data_time: datetime
    held: Decimal  # quantity of the asset held
    price: Decimal  # the intent's reference price
    equity: Decimal  # with the asset marked at the reference price
    exposure: Decimal  # gross, with the asset marked at the reference price
    measured: dict[str, Any] = field(default_factory=dict)

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

    def verdict(self, code: str, denied: bool, details: dict[str, Any]) -> RiskReason | None:
        """Record the figures; a denial is a RiskReason, a pass is None."""
        self.measured = details
        return RiskReason(code, MappingProxyType(details)) if denied else None


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
    return c.verdict(KILL_SWITCH, on, details)


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
    return c.verdict(TRADING_STATE, denied, details)


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
    return c.verdict(DATA_STALE, age > limit or age < 0, details)


def _duplicate_decision(c: _Context) -> RiskReason | None:
    done = c.intent.decision_id in c.state.executed_decisions
    details = {
        "limit": 1,
        "actual": 2 if done else 1,
        "unit": "executions of this decision",
        "decision_id": c.intent.decision_id,
    }
    return c.verdict(DUPLICATE_DECISION, done, details)


def _no_position(c: _Context) -> RiskReason | None:
    details = {"limit": c.held, "actual": c.intent.quantity, "unit": "asset units"}
    if c.buy:
        details["exempt"] = "BUY"
        return c.verdict(NO_POSITION, False, details)
    return c.verdict(NO_POSITION, not c.reducing, details)


def _max_position(c: _Context) -> RiskReason | None:
    after = (c.held + c.signed_quantity) * c.price
    actual = _fraction(after, c.equity)
    limit = c.limits.max_position
    details = {
        "limit": limit,
        "actual": _shown(actual),
        "unit": "fraction of equity",
        "position_value": after,
        "equity": c.equity,
    }
    if not c.buy:
        details["exempt"] = EXEMPT_SELL
        return c.verdict(MAX_POSITION, False, details)
    # Compared by multiplying, not dividing: exact for any figure Decimal holds.
    return c.verdict(MAX_POSITION, c.equity <= 0 or after > limit * c.equity, details)


def _max_exposure(c: _Context) -> RiskReason | None:
    after = c.exposure + c.signed_quantity * c.price
    actual = _fraction(after, c.equity)
    limit = c.limits.max_exposure
    details = {
        "limit": limit,
        "actual": _shown(actual),
        "unit": "fraction of equity",
        "exposure": after,
        "equity": c.equity,
    }
    if not c.buy:
        details["exempt"] = EXEMPT_SELL
        return c.verdict(MAX_EXPOSURE, False, details)
    return c.verdict(MAX_EXPOSURE, c.equity <= 0 or after > limit * c.equity, details)


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
        details["exempt"] = EXEMPT_SELL
        return c.verdict(MAX_DAILY_LOSS, False, details)
    return c.verdict(MAX_DAILY_LOSS, start <= 0 or change <= -limit * start, details)


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
        details["exempt"] = EXEMPT_SELL
        return c.verdict(ORDER_RATE, False, details)
    return c.verdict(ORDER_RATE, count + 1 > limit, details)


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
        details["exempt"] = EXEMPT_SELL
        return c.verdict(COOLDOWN, False, details)
    return c.verdict(COOLDOWN, elapsed is not None and elapsed < limit, details)


def _min_notional(c: _Context) -> RiskReason | None:
    limit = c.limits.min_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if c.reducing and c.intent.quantity == c.held:
        details["exempt"] = EXEMPT_SELL  # closing a dust position must stay possible
        return c.verdict(MIN_NOTIONAL, False, details)
    return c.verdict(MIN_NOTIONAL, c.intent.notional < limit, details)


def _max_notional(c: _Context) -> RiskReason | None:
    limit = c.limits.max_notional
    details = {"limit": limit, "actual": c.intent.notional, "unit": "quote currency"}
    if not c.buy:
        details["exempt"] = EXEMPT_SELL
        return c.verdict(MAX_NOTIONAL, False, details)
    return c.verdict(MAX_NOTIONAL, limit is not None and c.intent.notional > limit, details)


Check = Callable[[_Context], RiskReason | None]

CHECKS: tuple[tuple[str, Check], ...] = (
    (KILL_SWITCH, _kill_switch),
    (TRADING_STATE, _trading_state),
    (DATA_STALE, _data_stale),
    (DUPLICATE_DECISION, _duplicate_decision),
    (NO_POSITION, _no_position),
    (MAX_POSITION, _max_position),
    (MAX_EXPOSURE, _max_exposure),
    (MAX_DAILY_LOSS, _max_daily_loss),
    (ORDER_RATE, _order_rate),
    (COOLDOWN, _cooldown),
    (MIN_NOTIONAL, _min_notional),
    (MAX_NOTIONAL, _max_notional),
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
    Never raises for what it finds: a check that cannot compute its figure fails (fail closed).
    """
    as_of, data_time = utc(as_of), utc(data_time)
    context = _context(intent, state, limits, as_of, data_time)
    checks = []
    for code, run in CHECKS:
        context.measured = {}
        try:
            reason = run(context) if context is not None else _uncomputable()
        except (ArithmeticError, TypeError, ValueError):
            reason = _uncomputable()
        if reason is not None:
            checks.append(RiskCheck(code, False, reason.details))
        else:
            checks.append(RiskCheck(code, True, MappingProxyType(context.measured)))
    return RiskDecision(all(c.passed for c in checks), tuple(checks))


def _uncomputable() -> RiskReason:
    details = {"limit": None, "actual": None, "error": NOT_COMPUTABLE}
    return RiskReason(NOT_COMPUTABLE, MappingProxyType(details))


def _context(
    intent: OrderIntent, state: RiskState, limits: RiskLimits, as_of: datetime, data_time: datetime
) -> _Context | None:
    try:
        portfolio = state.portfolio
        price = intent.reference_price
        position = portfolio.positions.get(intent.asset)
        held = position.quantity if position is not None else Decimal(0)
        others = sum(
            (abs(p.market_value) for a, p in portfolio.positions.items() if a != intent.asset),
            Decimal(0),
        )
        return _Context(
            intent=intent,
            state=state,
            limits=limits,
            as_of=as_of,
            data_time=data_time,
            held=held,
            price=price,
            equity=_marked_equity(portfolio, position, price),
            exposure=others + abs(held * price),
        )
    except (ArithmeticError, TypeError, ValueError):
        return None


# --- sizing -------------------------------------------------------------------------------------


def size_order(
    *,
    decision_id: str,
    strategy: str,
    asset: str,
    side: Side | str,
    reference_price: Decimal | float | str,
    position_size: Decimal | float | str,
    portfolio: PortfolioView,
    limits: RiskLimits,
    as_of: datetime,
    mode: Mode | str,
) -> OrderIntent | None:
    """The order a verdict turns into, before the gate; None when there is nothing to order.

    BUY: notional = min(position_size, Kelly cap if configured) x equity (the asset marked at
    ``reference_price``), quantity = notional / price rounded *down* to 8 decimal places (never
    more than asked for), notional recomputed from the rounded quantity. SELL: the whole position.

    Sizing does not shrink an order to fit MAX_POSITION, MAX_NOTIONAL and the like: the gate
    denies it, so the audit says which limit bound instead of a silently smaller trade. Venue
    step sizes (whole shares, lot sizes) are the executor's business.

    None when: the price is not a positive finite number; BUY with no equity, a zero size or a
    Kelly cap of zero (no edge); quantity rounds to zero; SELL with no position.
    """
    side = Side(side)
    mode = Mode(mode)
    price = to_decimal(reference_price)
    if not price.is_finite() or price <= 0:
        return None
    position = portfolio.positions.get(asset)
    held = position.quantity if position is not None else Decimal(0)
    if side is Side.SELL:
        quantity = held
    else:
        equity = _marked_equity(portfolio, position, price)
        fraction = to_decimal(position_size)
        if limits.kelly is not None:
            fraction = min(fraction, limits.kelly.cap)
        if not equity.is_finite() or equity <= 0 or not fraction.is_finite() or fraction <= 0:
            return None
        quantity = (fraction * equity / price).quantize(QUANTITY_STEP, rounding=ROUND_DOWN)
    if quantity <= 0:
        return None
    return OrderIntent(
        decision_id=decision_id,
        client_order_id=client_order_id(decision_id),
        strategy=strategy,
        asset=asset,
        side=side,
        quantity=quantity,
        reference_price=price,
        notional=quantity * price,
        as_of=utc(as_of),
        mode=mode,
    )


def _marked_equity(portfolio: PortfolioView, position: Position | None, price: Decimal) -> Decimal:
    """Equity with ``position``'s asset marked at ``price`` instead of its last price."""
    if position is None:
        return portfolio.equity
    return portfolio.equity - position.market_value + position.quantity * price
