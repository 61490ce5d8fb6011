"""The Portfolio page's figures, without Streamlit: each strategy's paper book and the account,
priced at market.

Market prices are the ones a decision would size with at the dashboard's clock (the replay's
when the dashboard replays, ``SIGNALOPS_REPLAY``; else the live sources): the freshest
technical close, or for an asset the config puts on a Polymarket venue its outcome token's
price (``signalops.pipeline.cycle.asset_price_requests`` and ``reference_price``). An asset
with no market price is marked at its last fill price and said to be (``Mark.source``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from signalops.adapters import gather as engine
from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.config import Config, capital_by_strategy
from signalops.execution.paper import PaperBroker
from signalops.orders import PortfolioView
from signalops.pipeline.cycle import asset_price_requests, reference_price

MARKET = "market"
LAST_FILL = "last fill"


@dataclass(frozen=True)
class Mark:
    """The price an asset is valued at, when it was that price, and where it came from."""

    asset: str
    price: Decimal
    at: datetime | None
    source: str  # MARKET or LAST_FILL


@dataclass(frozen=True)
class Book:
    """One strategy's book; ``capital`` None: it shares the account's cash."""

    strategy: str
    capital: Decimal | None
    view: PortfolioView

    @property
    def unrealised(self) -> Decimal:
        return sum((p.unrealised_pnl for p in self.view.positions.values()), Decimal(0))


@dataclass(frozen=True)
class Books:
    account: PortfolioView
    books: tuple[Book, ...]
    marks: tuple[Mark, ...]


def market_prices(
    config: Config, assets: Iterable[str], now: datetime, *, replay: Path | None = None
) -> dict[str, tuple[Decimal, datetime]]:
    """Each asset's reference price at ``now`` and its time (replayed from ``replay``, else
    live): where the pipeline's gate would price it; an asset nobody could price is left out."""
    wanted = sorted(set(assets))
    if not wanted:
        return {}
    venues, feeds = config.venues, config.news.feeds
    if replay is not None:
        adapters = registry.replay_adapters(SnapshotStore(replay), venues, news_feeds=feeds)
    else:
        adapters = registry.live_adapters(venues=venues, news_feeds=feeds)
    sources = {asset: asset_price_requests(asset, venues) for asset in wanted}
    requests = [request for asked in sources.values() for request in asked]
    # Only the sources asked: a live dashboard must not open the others' connections.
    asked_of = {request.source: adapters[request.source] for request in requests}
    answers = engine.gather(requests, asked_of, now)
    found = {}
    for asset in wanted:
        price = reference_price(asset, answers, now, None, sources[asset])
        if price is not None:
            found[asset] = price
    return found


def held_assets(broker: PaperBroker, now: datetime) -> list[str]:
    """The assets the account holds at ``now`` (those that need a market price)."""
    return sorted(broker.portfolio({}, now).positions)


def portfolio_books(
    broker: PaperBroker,
    config: Config,
    prices: Mapping[str, tuple[Decimal, datetime]],
    now: datetime,
) -> Books:
    """The account and every strategy's book (each one that filled, or has capital), priced
    at ``prices`` (``market_prices``)."""
    capital = capital_by_strategy(config, broker.starting_cash)
    broker.allocate(capital)
    marks = {asset: price for asset, (price, _) in prices.items()}
    account = broker.portfolio(marks, now)
    names = sorted({*broker.strategies(), *capital})
    books = tuple(Book(n, capital.get(n), broker.book(n, marks, now)) for n in names)
    shown = []
    for asset, position in account.positions.items():
        if asset in prices:
            price, at = prices[asset]
            shown.append(Mark(asset, price, at, MARKET))
        else:
            shown.append(Mark(asset, position.last_price, None, LAST_FILL))
    return Books(account, books, tuple(shown))


__all__ = [
    "LAST_FILL",
    "MARKET",
    "Book",
    "Books",
    "Mark",
    "held_assets",
    "market_prices",
    "portfolio_books",
]
