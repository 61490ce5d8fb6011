"""``signalops data download``: history from every live source into the replay store.

    results = download("technical", "BTC/USDT", to="snapshots", venues=venues,
                       timeframe=3600, since=..., until=now, now=now)

Each source goes through its live adapter's client and parser and lands under the very keys its
replay reads, so downloaded data replays exactly like recorded data:

- ``technical``: candles from any ccxt exchange, paged and resumable, or daily bars of equities
  through yfinance with Yahoo's split history (``signalops.adapters.download.candles``): it is
  fetched with new bars, or when the store has none for the asset, so a rerun of a finished
  download still asks nothing;
- ``fundamental``: SEC EDGAR company facts by ticker; ``onchain``: a DeFiLlama series by its key;
  ``polymarket``: a market by slug with the CLOB price history of each outcome; ``news``: an
  RSS/Atom feed's items (``signalops.adapters.download.others``).

Every page is one durable append (``SnapshotStore(durable=True)``): an interruption keeps what
was written, and a rerun continues from there. ``Connections`` is where the downloads go; its
defaults are the real services, and tests hand it recorded ones (a ccxt exchange whose HTTP
session serves recorded answers, an ``httpx`` transport, a ``requests`` session for yfinance).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from signalops.adapters.download.candles import (
    DEFAULT_WINDOW,
    download_ccxt,
    download_yahoo,
    download_yahoo_splits,
)
from signalops.adapters.download.others import (
    download_edgar,
    download_news,
    download_onchain,
    download_polymarket,
)
from signalops.adapters.download.result import Downloaded, Gap, Progress
from signalops.adapters.edgar import has_split_history
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import InputError
from signalops.venues import DEFAULT_VENUES, Venue, VenueKind, Venues, yahoo_crypto

__all__ = [
    "DEFAULT_WINDOW",
    "SOURCES",
    "Connections",
    "Downloaded",
    "Gap",
    "Progress",
    "download",
]

SOURCES = ("technical", "fundamental", "onchain", "polymarket", "news")


def _ccxt_exchange(venue: Venue) -> Any:
    from signalops.adapters.technical import ccxt_exchange

    return ccxt_exchange(venue)


@dataclass(frozen=True)
class Connections:
    """Where downloads go. ``exchange`` builds the ccxt exchange of a venue (default: ccxt's
    class for its id, rate limited); ``http`` carries EDGAR, DeFiLlama, Polymarket and RSS
    requests (None: the network); ``yahoo_session`` is the session yfinance uses (None: its
    own)."""

    exchange: Callable[[Venue], Any] = _ccxt_exchange
    http: httpx.BaseTransport | None = None
    yahoo_session: Any = None


def download(
    source: str,
    asset: str,
    *,
    to: str | Path,
    until: float,
    now: float,
    since: float | None = None,
    venues: Venues = DEFAULT_VENUES,
    timeframe: int = 86400,
    sec_user_agent: str | None = None,
    news_feeds: Mapping[str, str] | None = None,
    connections: Connections = Connections(),
    progress: Progress | None = None,
) -> list[Downloaded]:
    """Download ``source`` history about ``asset`` into the snapshot folder ``to``.

    ``asset``: for candles an asset that ``venues`` routes to its venue and symbol (the CLI's
    ``--venue`` applied through ``signalops.workspace.with_venue``); a ticker for
    ``fundamental``; the series key for ``onchain``; a market slug or id for ``polymarket``; a
    feed URL or a name of ``news_feeds`` (the configured feeds) for ``news``.
    ``since``/``until``/``now`` are Unix seconds.
    """
    asset = asset.strip()
    if not asset:
        raise InputError("--asset: empty name")
    if since is not None and since >= until:
        raise InputError("--since must be before --until")
    if source in ("fundamental", "news") and since is not None:
        raise InputError(f"--since: {source} downloads have no time window (all that is listed)")
    store = SnapshotStore(to, durable=True)
    http = connections.http
    if source == "technical":
        venue = venues.venue_of(asset)
        if venue is None or not venue.kind.serves_candles:
            raise InputError(f"--asset: no configured venue serves {asset}'s candles; give --venue")
        symbol = venues.symbol_of(asset)
        if venue.kind is VenueKind.YFINANCE:
            session = connections.yahoo_session
            bars = download_yahoo(
                symbol,
                store,
                until=until,
                since=since,
                session=session,
                timeframe=timeframe,
                progress=progress,
            )
            # A cryptocurrency never splits: only a stock's closes need its split history.
            if yahoo_crypto(symbol) or (not bars.new_points and has_split_history(store, asset)):
                return [bars]
            splits = download_yahoo_splits(
                asset, symbol, store, now=now, session=session, progress=progress
            )
            return [bars, splits]
        exchange = connections.exchange(venue)
        return [
            download_ccxt(
                exchange, symbol, timeframe, store, until=until, since=since, progress=progress
            )
        ]
    if source == "fundamental":
        return download_edgar(
            asset, store, now=now, user_agent=sec_user_agent, transport=http, progress=progress
        )
    if source == "onchain":
        return download_onchain(
            asset, store, until=until, since=since, transport=http, progress=progress
        )
    if source == "polymarket":
        return download_polymarket(
            asset, store, now=now, until=until, since=since, transport=http, progress=progress
        )
    if source == "news":
        return download_news(
            asset, store, now=now, feeds=news_feeds, transport=http, progress=progress
        )
    raise InputError(f"--source: cannot download '{source}' (one of: {', '.join(SOURCES)})")
