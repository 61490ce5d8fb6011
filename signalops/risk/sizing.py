"""Sizing: the order a BUY or SELL verdict turns into, before the gate checks it."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

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
from signalops.risk.limits import RiskLimits
from signalops.risk.valuation import marked_equity, unvalued
from signalops.side import Side


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
    """The order a verdict turns into, before the gate; None when there is nothing to order.

    BUY: notional = min(position_size, Kelly cap if configured, ``kelly_cap``: the measured one)
    x equity (the asset marked at
    ``reference_price``), quantity = notional / price rounded *down* to 8 decimal places (never
    more than asked for), notional recomputed from the rounded quantity. SELL: the whole position.

    ``portfolio`` is the strategy's own book (``PaperBroker.book``): a SELL sells only what the
    strategy holds, a BUY is a fraction of its equity (its capital, or the shared account's).

    ``costs``: the paper broker's slippage and fee, which a BUY pays out of ``cash`` (the cash
    the broker lets it spend; default ``portfolio.cash``). A BUY whose notional fits in that
    cash but not with them (``position_size: 1.0``) is sized down to the most that fits with
    them, so that it fills instead of failing INSUFFICIENT_FUNDS; one that fits stays as sized.
    None (a venue's orders): no room is left.

    Sizing does not shrink an order to fit MAX_POSITION, MAX_NOTIONAL and the like: the gate
    denies it, so the audit says which limit bound instead of a silently smaller trade; nor to
    fit a cash short of its notional (the broker refuses it, INSUFFICIENT_FUNDS). Venue step
    sizes (whole shares, lot sizes) are the executor's business.

    None when: the portfolio cannot be valued (``unvalued``); the price is not a positive finite
    number; BUY with no equity, a zero size or a Kelly cap of zero (no edge); quantity rounds to
    zero; SELL with no position.
    """
    side = side if type(side) is Side else Side(side)  # an enum call costs a microsecond
    mode = mode if type(mode) is Mode else Mode(mode)
    price = to_decimal(reference_price)
    if not price.is_finite() or price <= 0 or unvalued(portfolio):
        return None
    position = portfolio.positions.get(asset)
    held = position.quantity if position is not None else Decimal(0)
    if side is Side.SELL:
        quantity = held
    else:
        equity = marked_equity(portfolio, position, price)
        fraction = to_decimal(position_size)
        if limits.kelly is not None:
            fraction = min(fraction, limits.kelly.cap)
        if kelly_cap is not None:  # Kelly from the strategy's own trades (the caller's estimate)
            fraction = min(fraction, kelly_cap)
        if not equity.is_finite() or equity <= 0 or not fraction.is_finite() or fraction <= 0:
            return None
        quantity = (fraction * equity / price).quantize(QUANTITY_STEP, rounding=ROUND_DOWN)
        if costs is not None:
            quantity = _room_for_costs(
                quantity, price, portfolio.cash if cash is None else cash, costs
            )
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


def _room_for_costs(quantity: Decimal, price: Decimal, cash: Decimal, costs: FillCosts) -> Decimal:
    """``quantity``, or when its notional fits in ``cash`` but not with its slippage and fee,
    the most that fits with them (to 8 decimal places, rounded down)."""
    if quantity * price > cash or costs.buy_cost(quantity, price) <= cash:
        return quantity
    return min(quantity, costs.most_that_fits(cash, price, QUANTITY_STEP))


__all__ = ["QUANTITY_STEP", "size_order"]
