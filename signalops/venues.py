"""Venues: which market serves each asset's candles, and which one auto mode trades on.

Configured in ``signalops.yaml`` (``signalops.config`` reads and checks the file)::

    venues:                       # named venues; binance and polymarket exist without being listed
      coinbase: {exchange: coinbaseexchange, quote: USD, rate_limit: 350}
      kraken:   {exchange: kraken, quote: USD, sandbox: false}
      stocks:   {exchange: yfinance, quote: USD}
    assets:                       # per asset: its venue and, when not BASE/QUOTE, its symbol
      ETH:  {venue: coinbase, symbol: ETH/USD}
      AAPL: {venue: stocks}
    default_venue: binance        # every asset not listed (null: only the listed ones)
    executor: kraken              # auto mode's venue (default: the default venue)

``exchange`` is a ccxt exchange id (its candles and orders go through ccxt's own class),
``yfinance`` (equities and ETFs) or ``polymarket`` (an executor only). Without any of this the
behaviour is the historical one: every asset is ``BASE/USDT`` on Binance, and auto mode trades on
Binance's testnet.

On a yfinance venue, a symbol Yahoo names a cryptocurrency by (its coin, a dash and the currency
it is priced in: ``BTC-USD``, ``ETH-EUR``; ``yahoo_crypto``) is crypto, not a stock: Yahoo's
daily bars of it run every day and cover the UTC day (exchange CCC, time zone UTC), so it
trades around the clock (``Venues.in_sessions`` is false for it) and each bar closes at the
next 00:00 UTC, and its money is in that currency, not the venue's quote (``asset_quote``:
``ETH-EUR`` is EUR on a USD venue, which ``validate`` warns of). Any other symbol there
(``AAPL``, ``BRK-B``, ``7203.T``) trades in NYSE sessions.

A symbol is kept as written, and so is the replay series it names:
``candles/<exchange>/<symbol>/<timeframe>``. On a ccxt exchange it is best ccxt's unified
``BASE/QUOTE``: an exchange's own market id (``ETH-USD`` on Coinbase) is resolved by ccxt only
when it is that exchange's, which nothing offline can confirm, so ``validate`` warns of one
(``signalops.config``), and of a ``BASE/QUOTE`` in another quote than its venue's.

``sandbox`` says where orders go: true (the default) is the exchange's testnet; false is
mainnet, which auto mode also requires ``--live`` for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import TypeVar

from signalops.errors import InputError
from signalops.extras import installed

__all__ = [
    "BINANCE",
    "DEFAULT_VENUES",
    "DOLLARS",
    "POLYMARKET",
    "AssetVenue",
    "Venue",
    "VenueKind",
    "Venues",
    "default_quote",
    "exchange_problem",
    "one_money",
    "venue_for_option",
    "yahoo_crypto",
    "yahoo_crypto_quote",
]

# The currencies Yahoo prices a cryptocurrency in, as the end of its symbol (BTC-USD, ETH-EUR,
# ETH-BTC). A share class or series on Yahoo ends in a letter or two (BRK-B, BAC-PB, a unit's
# -UN, a warrant's -WT), never in a currency code.
YAHOO_CRYPTO_QUOTES = frozenset(
    {
        "USD", "EUR", "GBP", "JPY", "CAD", "AUD", "NZD", "CHF", "CNY", "HKD", "SGD", "KRW",
        "INR", "BRL", "MXN", "RUB", "TRY", "ZAR", "SEK", "NOK", "DKK", "PLN",
        "BTC", "ETH", "USDT", "USDC",
    }
)  # fmt: skip


def yahoo_crypto(symbol: str) -> bool:
    """Whether ``symbol`` is how Yahoo names a cryptocurrency: ``COIN-CCY`` with ``CCY`` a
    currency it prices coins in (``BTC-USD``, ``SOL-EUR``), not a share class (``BRK-B``)."""
    return yahoo_crypto_quote(symbol) is not None


def yahoo_crypto_quote(symbol: str) -> str | None:
    """The currency a Yahoo cryptocurrency symbol is priced in (``ETH-EUR``: EUR); None when
    ``symbol`` is not one (``yahoo_crypto``)."""
    coin, dash, quote = symbol.strip().upper().partition("-")
    return quote if dash and coin.isalnum() and quote in YAHOO_CRYPTO_QUOTES else None


class VenueKind(Enum):
    CCXT = "ccxt"  # candles and orders through ccxt's class for the exchange id
    YFINANCE = "yfinance"  # equities and ETFs: daily history through yfinance
    POLYMARKET = "polymarket"  # prediction markets: orders through py-clob-client

    @classmethod
    def of(cls, exchange: str) -> VenueKind:
        for kind in (cls.YFINANCE, cls.POLYMARKET):
            if exchange == kind.value:
                return kind
        return cls.CCXT

    @property
    def serves_candles(self) -> bool:
        return self is not VenueKind.POLYMARKET


@dataclass(frozen=True, slots=True)
class Venue:
    """One named venue. ``rate_limit``: milliseconds between requests (None: ccxt's own)."""

    name: str
    exchange: str
    quote: str = "USDT"
    sandbox: bool = True
    rate_limit: int | None = None

    @property
    def kind(self) -> VenueKind:
        return VenueKind.of(self.exchange)

    def ccxt_options(self) -> dict[str, object]:
        """The options a ccxt exchange class is built with for this venue."""
        options: dict[str, object] = {"enableRateLimit": True}
        if self.rate_limit is not None:
            options["rateLimit"] = self.rate_limit
        return options


@dataclass(frozen=True, slots=True)
class AssetVenue:
    """Where one asset trades: a venue name and its symbol there (None: ``BASE/QUOTE``)."""

    venue: str
    symbol: str | None = None


BINANCE = Venue("binance", "binance", "USDT")
# Polymarket has no testnet: auto mode refuses it until a venue says ``sandbox: false``.
POLYMARKET = Venue("polymarket", "polymarket", "USDC")


def default_quote(exchange: str) -> str:
    """A venue's quote when its section names none: USDC on Polymarket (what its outcomes are
    priced and settled in), else USDT."""
    return POLYMARKET.quote if VenueKind.of(exchange) is VenueKind.POLYMARKET else BINANCE.quote


V = TypeVar("V")


def _frozen(values: Mapping[str, V]) -> Mapping[str, V]:
    return MappingProxyType(dict(values))


# The dollar and the stablecoins pegged one to one to it: an account may hold assets quoted in
# any of them (BTC/USDT on Binance beside AAPL in USD), its money counted at par, 1 USDT = 1 USD,
# which a run or backtest says (``Config.par_note``). SignalOps has no exchange rates: any other
# mix (EUR and USD) is refused. A depeg is not modelled.
DOLLARS = frozenset({"USD", "USDT", "USDC", "BUSD", "DAI", "TUSD", "FDUSD", "USDP", "PYUSD"})


def one_money(quotes: Iterable[str]) -> bool:
    """Whether money in ``quotes`` adds up without an exchange rate: one currency, or dollars
    (``DOLLARS``) at par."""
    found = set(quotes)
    return len(found) <= 1 or found <= DOLLARS


@dataclass(frozen=True, slots=True)
class Venues:
    """The venue table of a configuration, and the routing of assets through it."""

    venues: Mapping[str, Venue] = field(
        default_factory=lambda: MappingProxyType({v.name: v for v in (BINANCE, POLYMARKET)})
    )
    assets: Mapping[str, AssetVenue] = field(default_factory=lambda: MappingProxyType({}))
    default: str | None = BINANCE.name
    executor: str | None = None  # None: the default venue

    def venue_of(self, asset: str) -> Venue | None:
        """The venue serving ``asset``'s candles; None when no configured venue does."""
        mapped = self.assets.get(asset)
        name = mapped.venue if mapped is not None else self.default
        return None if name is None else self.venues.get(name)

    def symbol_of(self, asset: str) -> str:
        """``asset``'s symbol on its venue: as configured, else ``BASE/QUOTE`` (a pair as given)."""
        mapped = self.assets.get(asset)
        if mapped is not None and mapped.symbol is not None:
            return mapped.symbol
        venue = self.venue_of(asset)
        if "/" in asset or venue is None or venue.kind is VenueKind.YFINANCE:
            return asset
        return f"{asset}/{venue.quote}"

    def quote_of(self, assets: Sequence[str]) -> str | None:
        """The currency money is in when trading ``assets``: their venues' quote, when they
        share one; USD when they are all dollars (``DOLLARS``: BTC/USDT beside AAPL in USD,
        at par); None when they are not (or no venue serves them)."""
        quotes = self.by_quote(assets)
        if len(quotes) == 1:
            return next(iter(quotes))
        return "USD" if quotes and one_money(quotes) else None

    def by_quote(self, assets: Sequence[str]) -> dict[str, dict[str, list[str]]]:
        """``assets`` by the currency they are priced in (``asset_quote``), then by venue name,
        in the order named; an asset no configured venue serves is left out."""
        found: dict[str, dict[str, list[str]]] = {}
        for asset in dict.fromkeys(assets):
            venue, quote = self.venue_of(asset), self.asset_quote(asset)
            if venue is not None and quote is not None:
                found.setdefault(quote, {}).setdefault(venue.name, []).append(asset)
        return found

    def asset_quote(self, asset: str) -> str | None:
        """The currency ``asset``'s prices are in: its venue's quote, except on a yfinance
        venue under one of Yahoo's crypto symbols, whose own currency it is (``ETH-EUR`` is in
        EUR whatever the venue's quote: Yahoo serves it as written); None when no venue serves
        it."""
        venue = self.venue_of(asset)
        if venue is None:
            return None
        if venue.kind is VenueKind.YFINANCE:
            return yahoo_crypto_quote(self.symbol_of(asset)) or venue.quote
        return venue.quote

    def trades_stock(self, asset: str) -> bool:
        """Whether ``asset`` is a stock or ETF: on a yfinance venue, under a symbol that is not
        one of Yahoo's cryptocurrencies (``yahoo_crypto``: BTC-USD trades around the clock)."""
        venue = self.venue_of(asset)
        return (
            venue is not None
            and venue.kind is VenueKind.YFINANCE
            and not yahoo_crypto(self.symbol_of(asset))
        )

    def yahoo_crypto_assets(self) -> frozenset[str]:
        """The assets configured on a yfinance venue under one of Yahoo's crypto symbols."""
        return frozenset(
            asset
            for asset in self.assets
            if (venue := self.venue_of(asset)) is not None
            and venue.kind is VenueKind.YFINANCE
            and yahoo_crypto(self.symbol_of(asset))
        )

    def in_sessions(self, assets: Sequence[str]) -> bool:
        """Whether every one of ``assets`` trades only in US equity sessions (a stock on a
        yfinance venue, ``trades_stock``): a backtest of them decides once before each
        session (``backtest.clock``)."""
        return bool(assets) and all(self.trades_stock(asset) for asset in assets)

    def on_stock_venues(self, names: Iterable[str]) -> frozenset[str]:
        """Those of ``names`` this configuration trades as stocks on a yfinance venue, by their
        own entry or the default venue, whatever a crypto coin of that ticker (SUI is Sun
        Communities there, LINK Interlink); not one configured as Yahoo's crypto symbol
        (``BTC: {venue: yahoo, symbol: BTC-USD}``)."""
        return frozenset(name for name in names if self.trades_stock(name))

    def trades_outcome(self, asset: str) -> bool:
        """Whether ``asset`` is a Polymarket outcome: its venue is a Polymarket one (no candles;
        its symbol is the outcome's CLOB token)."""
        venue = self.venue_of(asset)
        return venue is not None and venue.kind is VenueKind.POLYMARKET

    def serves(self, asset: str) -> bool:
        venue = self.venue_of(asset)
        return venue is not None and venue.kind.serves_candles

    def executor_venue(self) -> Venue | None:
        name = self.executor or self.default
        return None if name is None else self.venues.get(name)

    def symbols_on(self, venue: Venue) -> dict[str, str]:
        """The symbols configured for assets on ``venue`` (auto mode trades them as such)."""
        return {
            asset: mapped.symbol
            for asset, mapped in self.assets.items()
            if mapped.venue == venue.name and mapped.symbol is not None
        }

    def named(self, name: str) -> Venue | None:
        return self.venues.get(name)

    def only(self, venue: Venue) -> Venues:
        """Every asset on ``venue`` (the CLI's ``--venue``): a symbol configured for that venue
        is kept, any other asset becomes ``BASE/QUOTE`` there; auto mode trades there too."""
        kept = {a: m for a, m in self.assets.items() if m.venue == venue.name}
        return replace(
            self,
            venues=_frozen({**self.venues, venue.name: venue}),
            assets=_frozen(kept),
            default=venue.name,
            executor=venue.name,
        )


DEFAULT_VENUES = Venues()


def exchange_problem(exchange: str, names: Iterable[str] = ()) -> tuple[str, str | None] | None:
    """Why ``exchange`` is not a venue's exchange, with a did-you-mean; None when it is one.

    ccxt is imported only here (about a second), so only a configuration that names a venue
    pays for it.
    """
    if VenueKind.of(exchange) is not VenueKind.CCXT or not installed("ccxt"):
        # Without the 'live' extra the id cannot be checked here; trading on it says what is
        # missing (signalops.extras), and replays never need ccxt.
        return None
    import difflib

    import ccxt

    known: list[str] = list(ccxt.exchanges)
    if exchange in known:
        return None
    # Configured venue names first: ``--venue coinbse`` most likely means the venue ``coinbase``.
    candidates = [*names, *known, "yfinance", "polymarket"]
    close = difflib.get_close_matches(exchange, candidates, n=1)
    hint = f"did you mean '{close[0]}'?" if close else None
    return f"unknown exchange '{exchange}': not a ccxt exchange id, yfinance or polymarket", hint


def venue_for_option(venues: Venues, name: str) -> Venue:
    """The venue ``--venue NAME`` means: a configured venue, else an exchange id of that name
    (quoted in the default venue's currency)."""
    configured = venues.named(name)
    if configured is not None:
        return configured
    problem = exchange_problem(name, venues.venues)
    if problem is not None:
        message, hint = problem
        listed = ", ".join(sorted(venues.venues))
        raise InputError(
            f"--venue: {message}; configured venues: {listed}" + (f" ({hint})" if hint else "")
        )
    default = venues.venues.get(venues.default) if venues.default is not None else None
    quote = default.quote if default is not None else BINANCE.quote
    return Venue(name, name, quote)
