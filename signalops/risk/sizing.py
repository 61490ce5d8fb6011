"""Sizing: the order a BUY or SELL verdict turns into, before the gate checks it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from types import MappingProxyType

from signalops.codes import Code
from signalops.observation import utc
from signalops.orders import (
    QUANTITY_STEP,
    FillCosts,
    Mode,
    OrderIntent,
    PortfolioView,
    client_order_id,
    to_decimal,
)
from signalops.risk.decision import CheckResult
from signalops.risk.limits import RiskLimits
from signalops.risk.valuation import marked_equity, unvalued
from signalops.side import Side


@dataclass(frozen=True, slots=True)
class CashCut:
    """A paper BUY whose cost, slippage and fee included, was more than the cash it may spend,
    cut to the most that cash pays: what was asked for and what the cash was."""

    asked: Decimal  # the quantity position_size (and Kelly) asked for
    cash: Decimal  # the cash the BUY may spend (``PaperBroker.spendable``)
    costs: FillCosts

    def check(self, order: OrderIntent) -> CheckResult:
        """A passed CASH_SIZE check for the decision's record (``why`` shows it with the
        others): the quantity asked for and its cost, the cash, and the cost of the order as
        cut, each at the order's reference price with slippage and fee. Not a limit and its
        actual value: the two would always read the same to the cent."""
        costs, price = self.costs, order.reference_price
        details = {
            "asked_quantity": self.asked,
            "asked_cost": costs.buy_cost(self.asked, price),
            "cash": self.cash,
            "cost": costs.buy_cost(order.quantity, price),
            "fee_bps": costs.fee_bps,
            "slippage_bps": costs.slippage_bps,
        }
        return CheckResult(Code.CASH_SIZE, True, MappingProxyType(details))


@dataclass(frozen=True, slots=True)
class Sizing:
    """The order a verdict turns into (None when there is nothing to order) and, when the cash
    cut a paper BUY, by how much (``cut``; None when it is as asked)."""

    order: OrderIntent | None
    cut: CashCut | None = None


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
    kelly_cap: Decimal | None = None,
    costs: FillCosts | None = None,
    cash: Decimal | None = None,
) -> OrderIntent | None:
    """The order a verdict turns into, before the gate; None when there is nothing to order
    (``sized_order``'s, without what the cash cut)."""
    return sized_order(
        decision_id=decision_id, strategy=strategy, asset=asset, side=side,
        reference_price=reference_price, position_size=position_size, portfolio=portfolio,
        limits=limits, as_of=as_of, mode=mode, kelly_cap=kelly_cap, costs=costs, cash=cash,
    ).order  # fmt: skip


def sized_order(
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
    kelly_cap: Decimal | None = None,
    costs: FillCosts | None = None,
    cash: Decimal | None = None,
) -> Sizing:
    """The order a verdict turns into, before the gate, and what the cash cut of it.

    BUY: notional = min(position_size, Kelly cap if configured, ``kelly_cap``: the measured one)
    x equity (the asset marked at
    ``reference_price``), quantity = notional / price rounded *down* to 8 decimal places (never
    more than asked for), notional recomputed from the rounded quantity. SELL: the whole position.

    ``portfolio`` is the strategy's own book (``PaperBroker.book``): a SELL sells only what the
    strategy holds, a BUY is a fraction of its equity (its capital, or the shared account's).

    ``costs``: the paper broker's slippage and fee, which a BUY pays out of ``cash`` (the cash
    the broker lets it spend; default ``portfolio.cash``). A BUY that costs more than that cash
    with them is cut to the most the cash pays with them (``Sizing.cut`` says what was asked):
    the last equal share of an all-in book, which the earlier BUYs' fees left short, and an
    all-in ``position_size: 1.0`` fill instead of failing INSUFFICIENT_FUNDS (or being denied
    MAX_EXPOSURE at 100%). One the cash pays not a step of (8 decimal places) stays as asked:
    the gate's limits or the broker refuse it, naming the cash; so does one whose position would
    pass ``max_position`` as asked (MAX_POSITION denies it): the cut is for the cash alone, so a
    top-up past the limit is denied whether the cash is short or not. None (a venue's orders): the
    venue's cash and costs are its own, and nothing is cut.

    Sizing does not shrink an order to fit MAX_POSITION, MAX_NOTIONAL and the like: the gate
    denies it, so the audit says which limit bound instead of a silently smaller trade. Venue
    step sizes (whole shares, lot sizes) are the executor's business.

    No order when: the portfolio cannot be valued (``unvalued``); the price is not a positive
    finite number; BUY with no equity, a zero size or a Kelly cap of zero (no edge); quantity
    rounds to zero; SELL with no position.
    """
    side = side if type(side) is Side else Side(side)  # an enum call costs a microsecond
    mode = mode if type(mode) is Mode else Mode(mode)
    # A gate passes Decimals and a UTC time: converted only when not (a call each).
    price = reference_price if type(reference_price) is Decimal else to_decimal(reference_price)
    if not price.is_finite() or price <= 0 or unvalued(portfolio):
        return _NOTHING
    position = portfolio.positions.get(asset)
    held = position.quantity if position is not None else Decimal(0)
    cut = None
    if side is Side.SELL:
        quantity = held
    else:
        equity = marked_equity(portfolio, position, price)
        fraction = position_size if type(position_size) is Decimal else to_decimal(position_size)
        if limits.kelly is not None:
            fraction = min(fraction, limits.kelly.cap)
        if kelly_cap is not None:  # Kelly from the strategy's own trades (the caller's estimate)
            fraction = min(fraction, kelly_cap)
        if not equity.is_finite() or equity <= 0 or not fraction.is_finite() or fraction <= 0:
            return _NOTHING
        quantity = (fraction * equity / price).quantize(QUANTITY_STEP, rounding=ROUND_DOWN)
        # Cut for the cash only: an order the position limit denies as asked stays as asked
        # (a top-up cut to the cash left would pass a limit the same order with more cash fails).
        if (
            costs is not None
            and quantity > 0
            and (held + quantity) * price <= (limits.max_position * equity)
        ):
            cut = _cash_cut(quantity, price, portfolio.cash if cash is None else cash, costs)
            if cut is not None:
                quantity = costs.most_that_fits(cut.cash, price, QUANTITY_STEP)
    if quantity <= 0:
        return _NOTHING
    order = OrderIntent(
        decision_id=decision_id,
        client_order_id=client_order_id(decision_id),
        strategy=strategy,
        asset=asset,
        side=side,
        quantity=quantity,
        reference_price=price,
        notional=quantity * price,
        as_of=as_of if as_of.tzinfo is UTC else utc(as_of),
        mode=mode,
    )
    return Sizing(order, cut)


_NOTHING = Sizing(None)


def _cash_cut(quantity: Decimal, price: Decimal, cash: Decimal, costs: FillCosts) -> CashCut | None:
    """The cut of a BUY of ``quantity`` that costs more than ``cash`` with its slippage and fee
    and of which the cash pays at least a step; None when it fits, or the cash pays nothing."""
    if costs.buy_cost(quantity, price) <= cash or costs.buy_cost(QUANTITY_STEP, price) > cash:
        return None
    return CashCut(quantity, cash, costs)


__all__ = ["QUANTITY_STEP", "CashCut", "Sizing", "size_order", "sized_order"]
