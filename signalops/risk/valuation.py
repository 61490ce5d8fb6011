"""Whether a portfolio can be valued at all, and its equity with one asset marked at a new price.

Sizing and every limit multiply quantities by prices; a figure that is not a finite ``Decimal``
(a NaN from a corrupt ledger row, a float a venue returned, a price nobody had) would make that
arithmetic raise or compare meaninglessly. ``unvalued`` names each such figure, so the gate can
deny with PORTFOLIO_UNVALUED and say what it could not value, instead of crashing.
"""

from __future__ import annotations

from decimal import Decimal

from signalops.orders import PortfolioView, Position

_ZERO = Decimal(0)


def _problem(value: object) -> str | None:
    """Why ``value`` is not a usable amount, or None when it is one."""
    if value is None:
        return "missing"
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        return f"{value} ({type(value).__name__}, not Decimal)"
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    return None


def unvalued(portfolio: PortfolioView) -> tuple[str, ...]:
    """Every figure of ``portfolio`` that cannot be valued, as ``"what: why"``; () when none."""
    if all_usable(portfolio):
        return ()
    figures: list[tuple[str, object]] = [
        ("cash", portfolio.cash),
        ("day_start_equity", portfolio.day_start_equity),
    ]
    for asset, position in sorted(portfolio.positions.items()):
        figures.append((f"{asset} quantity", position.quantity))
        figures.append((f"{asset} last_price", position.last_price))
    found = []
    for name, value in figures:
        problem = _problem(value)
        if problem is not None:
            found.append(f"{name}: {problem}")
    return tuple(found)


def all_usable(portfolio: PortfolioView) -> bool:
    """True when every figure is a finite Decimal or an int: the usual answer, found without
    sorting the positions or naming each figure (sizing and the gate ask it per decision).
    False sends ``unvalued`` the long way, which names what it finds."""
    for value in (portfolio.cash, portfolio.day_start_equity):
        kind = type(value)
        if not (kind is int or (kind is Decimal and value.is_finite())):
            return False
    for position in portfolio.positions.values():
        quantity, price = position.quantity, position.last_price
        if not ((type(quantity) is Decimal and quantity.is_finite()) or type(quantity) is int):
            return False
        if not ((type(price) is Decimal and price.is_finite()) or type(price) is int):
            return False
    return True


def marked_equity(portfolio: PortfolioView, position: Position | None, price: Decimal) -> Decimal:
    """Equity with ``position``'s asset marked at ``price`` instead of its last price."""
    equity = equity_and_others(portfolio, None)[0]
    if position is None:
        return equity
    return equity - position.market_value + position.quantity * price


_EQUITY, _EXPOSURE = PortfolioView.equity, PortfolioView.exposure


def equity_and_others(portfolio: PortfolioView, asset: str | None) -> tuple[Decimal, Decimal]:
    """``portfolio.equity``, and the gross value of the positions other than ``asset`` (when
    one is named), in one pass: each position valued once, summed in the same order as
    ``PortfolioView`` sums them, so the figures are the same to the last digit."""
    total = others = _ZERO
    for name, position in portfolio.positions.items():
        value = position.market_value
        total = total + value
        if asset is not None and name != asset:
            others = others + abs(value)
    kind = type(portfolio)
    if kind.equity is _EQUITY and kind.exposure is _EXPOSURE:
        return portfolio.cash + total, others
    return portfolio.equity, others  # a view that values itself otherwise


__all__ = ["all_usable", "equity_and_others", "marked_equity", "unvalued"]
