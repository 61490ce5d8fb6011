"""Adapters by source name: the five built-ins plus any installed through entry points.

A third-party package adds a source by declaring, in its ``pyproject.toml``::

    [project.entry-points."signalops.adapters"]
    weather = "my_package.weather:WeatherAdapter"

The object the entry point names must have ``source`` and ``catalogue`` attributes (the catalogue
the compiler checks metric names against) and the ``live(...)`` / ``replay(store)`` constructors.

The venue configuration (``signalops.venues``) reaches the sources that read from venues: the
technical source builds each asset's candle feed from it. The SEC User-Agent of the configuration
(``fundamental: {sec_user_agent: ...}``) reaches the live fundamentals source's EDGAR client (whose
split histories come from Yahoo, through the same yfinance session as the equity candles), and
its news feeds (``news: {feeds: ...}``) reach the news source, live and replayed.

Recording: ``live_adapters(record=SnapshotStore(DIR))`` (``signalops run --record DIR``) makes
every live source append what it fetched to the store, under the very keys its replay twin reads.

``Connections`` is the seam of a live run without the network: where the live sources' requests
go (an ``httpx`` transport, a ccxt exchange per venue, yfinance's session) and the wall clock they
stamp fetches with. Tests put recorded answers there; the CLI never sets it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, cast

from signalops.adapters.base import Adapter
from signalops.catalogue import installed
from signalops.catalogue.spec import SourceCatalogue
from signalops.venues import Venue, Venues

if TYPE_CHECKING:  # snapshots pulls in numpy, which commands that only read the log never need
    from signalops.adapters.snapshots import SnapshotStore

ENTRY_POINT_GROUP = installed.ENTRY_POINT_GROUP

BUILTIN: Mapping[str, str] = {
    "fundamental": "signalops.adapters.fundamental:FundamentalAdapter",
    "polymarket": "signalops.adapters.polymarket:PolymarketAdapter",
    "onchain": "signalops.adapters.onchain:OnchainAdapter",
    "technical": "signalops.adapters.technical:TechnicalAdapter",
    "news": "signalops.adapters.news:NewsAdapter",
}


class AdapterClass(Protocol):
    """What a source's class offers: its catalogue and the two ways to build an adapter."""

    source: str
    catalogue: SourceCatalogue

    def live(self, *, record: SnapshotStore | None = None) -> Adapter: ...

    def replay(self, store: SnapshotStore) -> Adapter: ...


def _load(target: str) -> AdapterClass:
    module, _, name = target.partition(":")
    # Loaded by name (so that validating never imports ccxt): the type is declared, not inferred;
    # tests/adapters/test_registry.py checks each built-in class against it.
    return cast(AdapterClass, getattr(importlib.import_module(module), name))


def adapter_classes() -> dict[str, AdapterClass]:
    """Every adapter class by source: built-ins first, then entry points (which may not shadow)."""
    found = {name: _load(target) for name, target in BUILTIN.items()}
    found.update(plugin_classes())
    return found


def plugin_classes() -> dict[str, AdapterClass]:
    """Adapters installed through entry points (built-in names cannot be shadowed)."""
    # Checked by ``installed.plugin_classes`` to carry a SourceCatalogue; the rest of the
    # protocol is the plugin's promise (its live/replay constructors are called when used).
    return cast(dict[str, AdapterClass], installed.plugin_classes())


catalogue = installed.catalogue  # the installed catalogue: kept here for plugins' imports


# Sources whose constructors take ``venues=``.
VENUE_SOURCES = frozenset({"technical"})

# The built-in sources a ``Connections`` reaches (a plugin gets its own defaults).
_CONNECTED = frozenset({"technical", "onchain", "polymarket", "news", "fundamental"})


@dataclass(frozen=True)
class Connections:
    """Where the built-in live sources send their requests, and their wall clock.

    Every field's default is the real thing (the network, ``datetime.now``). A test of a live
    run sets them to serve recorded answers through the libraries' own transport boundaries:

    - ``http``: an ``httpx`` transport for every request made through ``HttpClient``: DeFiLlama,
      Polymarket Gamma and CLOB price history, RSS feeds, SEC EDGAR. (py-clob-client's own
      requests -- midpoints, order books -- go through its process-global client; install a
      transport for them with ``signalops.adapters.polymarket.clob_transport``.)
    - ``exchange``: builds the ccxt exchange of a ccxt venue (default: ccxt's class for the
      venue's exchange id); a test returns that class with recorded answers at its session.
    - ``yahoo_session``: the session yfinance uses (equity candles, fundamentals, and the split
      histories that put EDGAR's filed share counts in the units of the split-adjusted close).
    - ``now``: the wall clock live sources stamp fetches with (the run's clock should agree).
    - ``sleep``: how HTTP clients wait between retries and requests.
    """

    http: Any = None  # httpx.BaseTransport (not imported: validating never imports httpx)
    exchange: Callable[[Venue], Any] | None = None
    yahoo_session: Any = None
    now: Callable[[], datetime] | None = None
    sleep: Callable[[float], None] | None = None

    @property
    def default(self) -> bool:
        return self == Connections()


def replay_adapters(
    store: SnapshotStore,
    venues: Venues | None = None,
    *,
    news_feeds: Mapping[str, str] | None = None,
) -> dict[str, Adapter]:
    """One replay adapter per source, all reading the same snapshot store; ``venues`` says
    which venue's series serve each asset (default: Binance, BASE/USDT); ``news_feeds`` are the
    configured news feeds (None: every recorded feed)."""
    adapters: dict[str, Adapter] = {}
    for name, cls in adapter_classes().items():
        if name in VENUE_SOURCES and venues is not None:
            adapters[name] = _venue_aware(cls).replay(store, venues=venues)
        elif name == "news" and news_feeds is not None:
            adapters[name] = _news_class().replay(store, news_feeds)
        elif name == "fundamental" and venues is not None:
            adapters[name] = _fundamental_class().replay(store, crypto=_crypto(venues))
        else:
            adapters[name] = cls.replay(store)
    from signalops.evaluation.hit_rate import with_hit_rates

    return with_hit_rates(adapters)  # a derived source over the others (hit-rate weights)


def live_adapters(
    record: SnapshotStore | None = None,
    venues: Venues | None = None,
    *,
    sec_user_agent: str | None = None,
    news_feeds: Mapping[str, str] | None = None,
    connections: Connections | None = None,
) -> dict[str, Adapter]:
    """One live adapter per source with its defaults; ``record`` keeps what they fetch;
    ``venues`` says which venue serves each asset (default: Binance, BASE/USDT);
    ``sec_user_agent`` is what EDGAR requests send (None: ``$SIGNALOPS_SEC_USER_AGENT``);
    ``news_feeds`` are the configured news feeds (None: the adapter's defaults);
    ``connections`` where requests go (None: the network)."""
    connections = connections or Connections()
    adapters: dict[str, Adapter] = {}
    for name, cls in adapter_classes().items():
        if name in _CONNECTED and (
            not connections.default
            or (name == "fundamental" and sec_user_agent is not None)
            or (name == "news" and news_feeds is not None)
        ):
            adapters[name] = _connected(
                name, record, venues, sec_user_agent, news_feeds, connections
            )
        elif name in VENUE_SOURCES and venues is not None:
            adapters[name] = _venue_aware(cls).live(record=record, venues=venues)
        elif name == "fundamental" and venues is not None:
            adapters[name] = _fundamental_class().live(record=record, crypto=_crypto(venues))
        else:
            adapters[name] = cls.live(record=record)
    from signalops.evaluation.hit_rate import with_hit_rates

    return with_hit_rates(adapters)  # a derived source over the others (hit-rate weights)


def _connected(
    name: str,
    record: SnapshotStore | None,
    venues: Venues | None,
    sec_user_agent: str | None,
    news_feeds: Mapping[str, str] | None,
    connections: Connections,
) -> Adapter:
    """A built-in live adapter on ``connections``, with the configuration's settings."""
    # Imported here, as every built-in is loaded by name: validating never imports httpx/ccxt.
    from signalops.adapters.http import HttpClient

    c = connections
    sleep: dict[str, Any] = {"sleep": c.sleep} if c.sleep is not None else {}
    if name == "technical":
        return _technical_live(record, venues, c)
    if name == "onchain":
        from signalops.adapters.onchain import OnchainAdapter

        http = HttpClient("onchain", transport=c.http, min_interval=0.25, **sleep)
        return OnchainAdapter.live(http, record=record)
    if name == "polymarket":
        from signalops.adapters.polymarket import PolymarketAdapter

        now = c.now
        clock: dict[str, Any] = {"clock": lambda: now().timestamp()} if now is not None else {}
        return PolymarketAdapter.live(transport=c.http, record=record, **clock, **sleep)
    if name == "news":
        from signalops.adapters.news import DEFAULT_FEEDS, NewsAdapter

        feeds = news_feeds if news_feeds is not None else DEFAULT_FEEDS
        return NewsAdapter.live(feeds, transport=c.http, record=record, now=c.now, **sleep)
    from signalops.adapters.edgar import EdgarClient
    from signalops.adapters.fundamental import FundamentalAdapter

    edgar = EdgarClient(sec_user_agent, transport=c.http, **sleep)
    options: dict[str, Any] = {"now": c.now} if c.now is not None else {}
    if venues is not None:
        options["crypto"] = _crypto(venues)
    return FundamentalAdapter.live(c.yahoo_session, record=record, edgar=edgar, **options, **sleep)


def _crypto(venues: Venues) -> frozenset[str]:
    """The crypto tickers the fundamental adapter answers NOT_APPLICABLE, less those the
    configuration trades as stocks (SUI, Sun Communities, on a yfinance venue), with those it
    routes to one of Yahoo's crypto symbols (``RNDR: {venue: stocks, symbol: RNDR-USD}``)."""
    from signalops.catalogue.builtin import KNOWN_CRYPTO

    stocks = venues.on_stock_venues(KNOWN_CRYPTO)
    return (frozenset(KNOWN_CRYPTO) - stocks) | venues.yahoo_crypto_assets()


def _technical_live(
    record: SnapshotStore | None, venues: Venues | None, connections: Connections
) -> Adapter:
    """The technical source's live constructor, each ccxt venue's exchange built by
    ``connections.exchange``."""
    from signalops.adapters.technical import TechnicalAdapter

    return TechnicalAdapter.live(
        record=record,
        venues=venues,
        yahoo_session=connections.yahoo_session,
        make_exchange=connections.exchange,
    )


def _fundamental_class() -> Any:
    from signalops.adapters.fundamental import FundamentalAdapter

    return FundamentalAdapter


def _news_class() -> Any:
    from signalops.adapters.news import NewsAdapter

    return NewsAdapter


class _VenueAware(Protocol):
    """The constructors of a source in ``VENUE_SOURCES``."""

    def live(self, *, record: SnapshotStore | None = None, venues: Venues | None) -> Adapter: ...

    def replay(self, store: SnapshotStore, *, venues: Venues | None) -> Adapter: ...


def _venue_aware(cls: AdapterClass) -> _VenueAware:
    return cast(_VenueAware, cls)
