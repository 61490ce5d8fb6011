"""What a candle file says of its own market, checked against the series it would be stored in.

Candles land under the venue and symbol the configuration routes ``--asset`` to (without one,
binance and ``BASE/USDT``), where a replay reads them as that venue's prices. A file that names
another market is refused rather than stored there:

- a Yahoo export (an ``Adj Close`` column, however spelt: ``adj_close``, ``AdjClose``;
  yfinance's ``Dividends`` and ``Stock Splits`` columns, or its three-line header) going to a
  crypto exchange: Yahoo's prices, a stock's or its own composite of a coin's, are not that
  exchange's candles;
- a ``Symbol`` (``Ticker``, ``Pair``) column, or yfinance's ``Ticker`` line, naming another
  symbol (``BTCEUR`` for ``BTC/USDT``; case, separators, a TradingView ``EXCHANGE:`` prefix,
  ccxt's ``:SETTLE`` suffix and Kraken's ``XBT`` for BTC make no difference);
- CryptoDataDownload's two volume columns (``Volume BTC,Volume EUR``): the one not in the base
  currency is in the quote, which must be the stored symbol's.

The refusal says how to import the file where it belongs: its own pair with ``--asset``, and
the exchange a CryptoDataDownload file name starts with (``Kraken_BTCEUR_d.csv``) with
``--venue``, when it is a configured venue or exchange, or a ccxt exchange id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from signalops.adapters.importing.rows import Table, adj_close_column, cell, normalized
from signalops.errors import InputError
from signalops.extras import installed
from signalops.venues import Venue, VenueKind, Venues

SYMBOL_COLUMNS = ("symbol", "ticker", "pair")
_SEPARATORS = re.compile(r"[/\-_. ]")
_VOLUME_IN = re.compile(r"volume ([a-z]{2,6})")  # a normalized name: ``Volume_BTC`` too


@dataclass(frozen=True)
class Market:
    """Where the candles would be stored: ``symbol`` on ``venue``, priced in ``quote``."""

    venue: Venue
    symbol: str
    base: str
    quote: str


def refuse_other_market(table: Table, venues: Venues, asset: str, venue: Venue) -> Market:
    """The market ``asset``'s candles are stored as on ``venue``; ``table`` is refused when it
    names another."""
    market = _market(venue, venues.symbol_of(asset))
    if venue.kind is VenueKind.CCXT:
        _refuse_yahoo(table, market)
    _refuse_other_symbol(table, market, venues, asset)
    if venue.kind is VenueKind.CCXT:
        _refuse_other_quote(table, market, venues, asset)
    return market


def _market(venue: Venue, symbol: str) -> Market:
    base, sep, rest = symbol.partition("/")
    if not sep and venue.kind is VenueKind.CCXT:
        base, sep, rest = symbol.partition("-")  # Coinbase's ETH-USD
    quote = rest.partition(":")[0] if sep else venue.quote
    if not sep and venue.kind is VenueKind.CCXT and _compact(symbol).endswith(_compact(quote)):
        base = symbol[: -len(quote)] or symbol  # a configured BTCEUR on a venue quoted in EUR
    return Market(venue, symbol, base, quote)


def _refuse_yahoo(table: Table, market: Market) -> None:
    names = {normalized(name) for name in table.header}
    if (adjusted := adj_close_column(table)) is not None:
        mark = f"its {adjusted.strip()} column"
    elif {"dividends", "stock splits"} <= names:
        mark = "its Dividends and Stock Splits columns"
    elif table.yfinance:
        mark = "yfinance's three-line header"
    else:
        return
    raise InputError(
        f"{table.path}: a Yahoo export ({mark}) is not candles of {market.venue.name}, a crypto "
        f"exchange, where it would be stored as {market.symbol}: import a stock's prices with "
        "--venue yfinance (or a config venue with exchange: yfinance), a coin's from its "
        "exchange's own export"
    )


def _refuse_other_symbol(table: Table, market: Market, venues: Venues, asset: str) -> None:
    ours = {_compact(market.symbol), _compact(market.base)}
    if table.ticker is not None:
        written, where = table.ticker
        if _compact(written) not in ours:
            _refuse(f"{where}: Ticker: {written!r}", written, table, market, venues, asset)
    position = {normalized(name): i for i, name in enumerate(table.header)}
    index = next((position[name] for name in SYMBOL_COLUMNS if name in position), None)
    if index is None:
        return
    for row in table.rows:
        written = str(cell(row, index, "symbol")).strip()
        if written and _compact(written) not in ours:
            place = f"{row.at(index, 'symbol')}: {written!r}"
            _refuse(place, written, table, market, venues, asset)


def _refuse_other_quote(table: Table, market: Market, venues: Venues, asset: str) -> None:
    """CryptoDataDownload's ``Volume BTC`` and ``Volume EUR``: the second is in the quote."""
    currencies = _volume_currencies(table)
    base = _compact(market.base)
    if len(currencies) != 2 or base not in currencies:
        return
    ((quote, column),) = ((c, n) for c, n in currencies.items() if c != base)
    if quote == _compact(market.quote):
        return
    place = f"{table.path}: its column {column.strip()!r} is in {quote}, so the file"
    _refuse(place, f"{market.base}/{quote}", table, market, venues, asset)


def _volume_currencies(table: Table) -> dict[str, str]:
    """``Volume BTC,Volume EUR`` -> ``{"BTC": "Volume BTC", "EUR": "Volume EUR"}``, in order."""
    found = {}
    for name in table.header:
        matched = _VOLUME_IN.fullmatch(normalized(name))
        if matched:
            found[matched.group(1).upper()] = name
    return found


def _refuse(
    place: str, written: str, table: Table, market: Market, venues: Venues, asset: str
) -> NoReturn:
    pair = _pair(written, market, list(_volume_currencies(table)))
    exchange = _exchange_named(table.path, venues)
    fix = f"import them with --asset {pair}"
    if exchange is not None:
        fix += f" --venue {exchange}"
    elif market.venue.kind is VenueKind.CCXT:
        fix += " and the --venue they come from"
    base, _, quote = pair.partition("/")
    same_base = _compact(base) == _compact(market.base)
    if quote and same_base and _compact(quote) != _compact(market.quote):
        fix += f", or route {asset} to a venue quoted in {quote} in the config"
    raise InputError(
        f"{place} is not {market.symbol} on {market.venue.name}, where these candles would be "
        f"stored: {fix}"
    )


def _compact(symbol: str) -> str:
    """``BINANCE:BTC/USDT`` -> ``BTCUSDT``; ``BTC/USDT:USDT`` -> ``BTCUSDT``; ``XBT-EUR`` ->
    ``BTCEUR``: a symbol as several exchanges and tools write it."""
    text = _unprefixed(symbol).upper().partition(":")[0]
    text = _SEPARATORS.sub("", text)
    return "BTC" + text[3:] if text.startswith("XBT") else text


def _unprefixed(symbol: str) -> str:
    """``BINANCE:BTCUSDT`` -> ``BTCUSDT`` (TradingView); ccxt's ``BTC/USDT:USDT`` is kept."""
    head, sep, tail = symbol.strip().partition(":")
    return tail if sep and tail and "/" not in head else symbol.strip()


def _pair(written: str, market: Market, volumes: list[str]) -> str:
    """The file's symbol as ``--asset`` would name it: ``BTCEUR`` -> ``BTC/EUR``, split after
    the stored base or the first volume column's currency; a stock's ticker as written."""
    text = _unprefixed(written).partition(":")[0]
    if "/" in text:
        return text.upper()
    if market.venue.kind is not VenueKind.CCXT:
        return text
    compact = _compact(text)
    for base in (_compact(market.base), *volumes[:1]):
        if compact.startswith(base) and len(compact) > len(base):
            return f"{base}/{compact[len(base) :]}"
    return text


def _exchange_named(path: Path, venues: Venues) -> str | None:
    """The venue a CryptoDataDownload file name starts with (``Kraken_BTCEUR_d.csv``): a
    configured venue (by name or exchange) or a ccxt exchange id; None for any other name."""
    first, sep, _ = path.name.partition("_")
    if not sep:
        return None
    name = first.lower()
    for venue in venues.venues.values():
        if name in (venue.name.lower(), venue.exchange.lower()):
            return venue.name
    if installed("ccxt"):
        import ccxt

        if name in ccxt.exchanges:
            return name
    return None
