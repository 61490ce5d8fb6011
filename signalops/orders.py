"""The values that flow from a verdict to a trade: intents, fills, execution outcomes, positions.

Money and quantities are ``Decimal`` (prices arrive from adapters as floats and are converted
through ``str`` exactly once, in ``to_decimal``). Every value here is frozen and JSON-ready
through ``to_dict``, because each of them ends up in an audit record.

Identifiers are derived, never random, so that a restart recomputes them:

- ``decision_id`` = hash of (strategy content hash, asset, as_of, mode): evaluating the same
  strategy for the same asset at the same time is the same decision;
- ``client_order_id`` = derived from the decision id and sent to the venue, so the venue itself
  can tell us whether a decision was already placed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any

from signalops.canonical import iso, json_safe
from signalops.side import Side


class Mode(StrEnum):
    PAPER = "paper"
    NOTIFY = "notify"
    AUTO = "auto"


class ExecutionStatus(StrEnum):
    FILLED = "FILLED"  # the order filled (paper fills are immediate)
    SUBMITTED = "SUBMITTED"  # sent to a venue, not (yet) known to be filled
    PENDING_APPROVAL = "PENDING_APPROVAL"  # notify mode: waiting for a human
    NOT_EXECUTED = "NOT_EXECUTED"  # nothing to do: HOLD, BLOCKED, or denied by the risk gate
    FAILED = "FAILED"  # the venue refused or the request failed


def to_decimal(value: float | int | str | Decimal) -> Decimal:
    """Exact decimal of what was printed, not of the binary float (0.1 stays 0.1)."""
    if isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def decision_id(strategy_hash: str, asset: str, as_of: datetime, mode: str) -> str:
    digest = hashlib.sha256(f"{strategy_hash}|{asset}|{iso(as_of)}|{mode}".encode()).hexdigest()
    return f"dec-{digest[:24]}"


def client_order_id(decision: str) -> str:
    """Venue-safe (<= 36 chars of [A-Za-z0-9-]) and derived from the decision id."""
    return "so-" + decision.removeprefix("dec-")[:24]


@dataclass(frozen=True)
class OrderIntent:
    """What the pipeline wants to do for one decision, after sizing, before the risk gate.

    ``quantity`` is in the asset's units; ``notional`` = quantity x ``reference_price`` in the
    quote currency. A SELL intent closes (part of) an existing position.
    """

    decision_id: str
    client_order_id: str
    strategy: str
    asset: str
    side: Side
    quantity: Decimal
    reference_price: Decimal
    notional: Decimal
    as_of: datetime
    mode: Mode

    def to_dict(self) -> dict[str, Any]:
        return json_safe(self.__dict__)


_BPS = Decimal(10_000)
QUANTITY_STEP = Decimal("0.00000001")  # quantities are sized (and paper fills cut) to 8 places


@dataclass(frozen=True)
class FillCosts:
    """What a paper fill costs beyond the price it was asked at: a BUY fills at price x (1 +
    slippage), a SELL at price x (1 - slippage), and the fee is notional x fee_bps / 10,000.

    The paper broker fills with these and sizing leaves a BUY room for them, with the same
    ``Decimal`` operations in the same order: both then agree on what fits to the last digit.
    """

    fee_bps: Decimal
    slippage_bps: Decimal

    def price(self, side: Side, base_price: Decimal) -> Decimal:
        slip = self.slippage_bps / _BPS
        return base_price * (1 + slip if side is Side.BUY else 1 - slip)

    def fee(self, notional: Decimal) -> Decimal:
        return notional * self.fee_bps / _BPS

    def buy_cost(self, quantity: Decimal, base_price: Decimal) -> Decimal:
        """The cash a BUY of ``quantity`` at ``base_price`` takes, fee included."""
        notional = quantity * self.price(Side.BUY, base_price)
        return notional + self.fee(notional)

    def most_that_fits(self, cash: Decimal, base_price: Decimal, step: Decimal) -> Decimal:
        """The largest multiple of ``step`` a BUY at ``base_price`` may take with ``cash``,
        fee included (zero when not one step fits)."""
        fits = (cash / self.buy_cost(Decimal(1), base_price)).quantize(step, rounding=ROUND_DOWN)
        # The division keeps 28 digits and may round its last one up: what fits is decided by
        # ``buy_cost`` itself, a step lower while it does not fit.
        while fits > 0 and self.buy_cost(fits, base_price) > cash:
            fits -= step
        return max(fits, Decimal(0))


@dataclass(frozen=True)
class Fill:
    """A (simulated or real) execution of an intent."""

    client_order_id: str
    asset: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    at: datetime
    venue: str
    venue_order_id: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.quantity * self.price

    def to_dict(self) -> dict[str, Any]:
        return dict(self._plain)  # a copy (of plain values): the caller's to change

    @cached_property
    def _plain(self) -> dict[str, Any]:
        """The fill as plain values, made once: a paper fill is written into two records (its
        decision's execution, and the fill record), and the fill is frozen."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # not ``_plain`` itself
        return json_safe({**values, "notional": self.notional})


@dataclass(frozen=True)
class ExecutionResult:
    """What an executor did with an intent: a status, the fill if any, and why."""

    status: ExecutionStatus
    message: str = ""
    fill: Fill | None = None
    approval_id: str | None = None
    expires_at: datetime | None = None
    venue_order_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = json_safe(
            {
                "status": self.status,
                "message": self.message,
                "fill": None,
                "approval_id": self.approval_id,
                "expires_at": self.expires_at,
                "venue_order_id": self.venue_order_id,
                "details": self.details,
            }
        )
        if self.fill:
            fill = self.fill.to_dict()
            # A Fill's is json_safe's already: not walked a second time (put in its place).
            plain["fill"] = fill if self.fill.__class__ is Fill else json_safe(fill)
        return plain


@dataclass(frozen=True)
class Position:
    asset: str
    quantity: Decimal
    average_price: Decimal
    last_price: Decimal

    @property
    def market_value(self) -> Decimal:
        return self.quantity * self.last_price

    @property
    def unrealised_pnl(self) -> Decimal:
        return (self.last_price - self.average_price) * self.quantity


DAY_START_MARKET = "market"
DAY_START_LAST_FILL = "last fill"


@dataclass(frozen=True)
class DayStartMark:
    """The price a position held at the day's start (00:00 UTC) is valued at in
    ``PortfolioView.day_start_equity``, and where it comes from: ``source`` ``"market"`` (the
    market's price at midnight: the asset's last close at or before it, or an outcome's last
    recorded price, from its price source; ``at`` is that price's time) or ``"last fill"``
    (its last fill price before midnight; ``at`` is that fill price's time)."""

    asset: str
    quantity: Decimal
    price: Decimal
    at: datetime
    source: str

    def to_dict(self) -> dict[str, Any]:
        return json_safe({"price": self.price, "at": self.at, "source": self.source})


@dataclass(frozen=True)
class PortfolioView:
    """The portfolio as the risk gate sees it at one moment.

    ``day_start_marks``: what each position held at 00:00 UTC was valued at in
    ``day_start_equity``, in asset order; empty when nothing was held then, or when the view's
    maker has no source of midnight prices (the positions are then at their last fill before
    it, as ``day_start_equity`` always counted them)."""

    cash: Decimal
    positions: dict[str, Position]
    realised_pnl: Decimal
    day_start_equity: Decimal
    day_start_marks: tuple[DayStartMark, ...] = ()

    @property
    def exposure(self) -> Decimal:
        return sum((p.market_value for p in self.positions.values()), Decimal(0))

    @property
    def equity(self) -> Decimal:
        return self.cash + self.exposure

    def marks_dict(self) -> dict[str, Any]:
        """``day_start_marks`` as a record says them: ``{asset: {price, at, source}}``."""
        return {mark.asset: mark.to_dict() for mark in self.day_start_marks}

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = json_safe(
            {
                "cash": self.cash,
                "equity": self.equity,
                "exposure": self.exposure,
                "realised_pnl": self.realised_pnl,
                "day_start_equity": self.day_start_equity,
                "positions": {
                    a: {
                        "quantity": p.quantity,
                        "average_price": p.average_price,
                        "last_price": p.last_price,
                        "unrealised_pnl": p.unrealised_pnl,
                    }
                    for a, p in sorted(self.positions.items())
                },
            }
        )
        if self.day_start_marks:  # only then: a view without marks reads as it always did
            plain["day_start_marks"] = self.marks_dict()
        return plain
