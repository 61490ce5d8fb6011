"""Histories over HTTP: SEC EDGAR company facts, DeFiLlama series, Polymarket, RSS items.

Each goes through the live adapter's own client and parser and is written under the keys its
replay reads (see each adapter's module docstring); only points the store does not already hold
with the same value are written, so a rerun adds nothing that is already there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from signalops.adapters import edgar, news, onchain, polymarket
from signalops.adapters.download.result import Downloaded, Progress, SeriesWriter
from signalops.adapters.http import HttpClient
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.codes import Code
from signalops.errors import AdapterError, InputError

DAY = 86400
DEFAULT_FLOW_DAYS = 30  # exchange flows cost one request a day

ONCHAIN_FORMS = (
    "stablecoin_supply/<SYMBOL>/<chain or all>, chain_tvl/<chain>, protocol_tvl/<slug>, "
    "cex_net_flow/<slug>"
)


def _step(progress: Progress | None, label: str, done: int, total: int) -> None:
    if progress is not None:
        progress(label, done, total)


# --- SEC EDGAR --------------------------------------------------------------------------------


def download_edgar(
    symbol: str,
    store: SnapshotStore,
    *,
    now: float,
    user_agent: str | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Progress | None = None,
) -> list[Downloaded]:
    """The company's ``companyfacts`` as the live EDGAR feed records them: the facts of each
    filing day (only the days not yet stored), a fetch mark and the ticker's CIK at ``now``."""
    client = edgar.EdgarClient(user_agent, transport=transport)
    try:
        ticker = symbol.strip().upper()
        cik = client.cik(ticker)
        document = client.companyfacts(cik)
    finally:
        client.close()
    _step(progress, f"EDGAR {ticker}", 1, 1)
    facts = SeriesWriter(store, edgar.SOURCE, edgar.facts_key(cik))
    marks = []
    for key, t, value in edgar.recording(ticker, cik, document, now):
        if key == facts.key:
            facts.write([(t, value)])
        else:
            marks.append((key, t, value))
    # The fetch mark says the record is complete up to now, so it is written even when no
    # filing is new: replay then knows the facts are current.
    store.append(edgar.SOURCE, marks)
    return [facts.result()]


# --- DeFiLlama --------------------------------------------------------------------------------


def download_onchain(
    name: str,
    store: SnapshotStore,
    *,
    until: float,
    since: float | None = None,
    transport: httpx.BaseTransport | None = None,
    api_key: str | None = None,
    progress: Progress | None = None,
) -> list[Downloaded]:
    """One DeFiLlama series named by its key (``ONCHAIN_FORMS``), points up to ``until``."""
    parts = name.strip().split("/")
    kind = parts[0]
    feed = onchain.DefiLlamaFeed(
        HttpClient(onchain.SOURCE, transport=transport, min_interval=0.25), api_key=api_key
    )
    load: Callable[[float], Series]
    if kind == "stablecoin_supply" and len(parts) == 3 and all(parts):
        symbol = feed.stablecoin_symbol(parts[1])
        load = lambda at: feed.stablecoin_supply(symbol, parts[2], at)  # noqa: E731
    elif kind in ("chain_tvl", "protocol_tvl", "cex_net_flow") and len(parts) == 2 and parts[1]:
        load = {
            "chain_tvl": lambda at: feed.chain_tvl(parts[1], at),
            "protocol_tvl": lambda at: feed.protocol_tvl(parts[1], at),
            "cex_net_flow": lambda at: feed.cex_net_flow(parts[1], at),
        }[kind]
    else:
        raise InputError(f"--asset: '{name}' names no on-chain series; use one of {ONCHAIN_FORMS}")
    if kind == "cex_net_flow":
        return [_daily_flows(load, store, onchain.cex_flow_key(parts[1]), since, until, progress)]
    series = load(until)
    _step(progress, f"DeFiLlama {series.key}", 1, 1)
    writer = SeriesWriter(store, onchain.SOURCE, series.key)
    points = zip(series.times, series.values, strict=True)
    writer.write((t, v) for t, v in points if since is None or t > since)
    return [writer.result()]


def _daily_flows(
    load: Callable[[float], Series],
    store: SnapshotStore,
    key: str,
    since: float | None,
    until: float,
    progress: Progress | None,
) -> Downloaded:
    """A CEX's net flow per UTC day: one request a day, from after the last stored day."""
    writer = SeriesWriter(store, onchain.SOURCE, key)
    last_day = math.floor(until / DAY) * DAY
    if since is None:
        stored = writer.last_stored
        start = stored if stored is not None else last_day - DEFAULT_FLOW_DAYS * DAY
    else:
        start = math.floor(since / DAY) * DAY
    days = range(int(start) + DAY, int(last_day) + 1, DAY)
    for i, day_end in enumerate(days, 1):
        series = load(day_end)
        writer.write(zip(series.times, series.values, strict=True))
        _step(progress, f"DeFiLlama {key}", i, len(days))
    return writer.result()


# --- Polymarket -------------------------------------------------------------------------------


def download_polymarket(
    ref: str,
    store: SnapshotStore,
    *,
    now: float,
    until: float,
    since: float | None = None,
    transport: httpx.BaseTransport | None = None,
    fidelity: int = 60,
    gamma_url: str = polymarket.GAMMA_URL,
    clob_url: str = polymarket.CLOB_URL,
    progress: Progress | None = None,
) -> list[Downloaded]:
    """A market by slug (or numeric id): its Gamma record at ``now`` (``markets/<ref>``) and the
    CLOB ``prices-history`` of each outcome (``prices/<ref>/<outcome>``), every ``fidelity``
    minutes over the market's whole life (``interval=max``), points in ``(since, until]``.

    Unlike a live read, a closed market is no error here: its history is what a backtest wants.
    """
    ref = ref.strip()
    http = HttpClient(polymarket.SOURCE, transport=transport)
    try:
        market = _market(http, ref, now, gamma_url)
        steps = 1 + len(market.token_ids)
        _step(progress, f"Polymarket {ref}", 1, steps)
        record = SeriesWriter(store, polymarket.SOURCE, polymarket.markets_key(ref))
        stored = [v for t, v in sorted(record.known.items())]
        if not stored or stored[-1] != market.record():
            record.write([(now, market.record())])
        results = [record.result()]
        for i, outcome in enumerate(market.outcomes):
            params = {"market": market.token(i), "interval": "max", "fidelity": fidelity}
            raw = http.get_json(f"{clob_url.rstrip('/')}/prices-history", params)
            times, prices = polymarket.parse_history(raw, f"CLOB prices-history of {outcome}")
            prices_writer = SeriesWriter(
                store, polymarket.SOURCE, polymarket.prices_key(ref, outcome)
            )
            prices_writer.write(
                (t, p)
                for t, p in zip(times, prices, strict=True)
                if t <= until and (since is None or t > since)
            )
            results.append(prices_writer.result())
            _step(progress, f"Polymarket {ref}", i + 2, steps)
    finally:
        http.close()
    return results


def _market(http: HttpClient, ref: str, now: float, gamma_url: str) -> polymarket.Market:
    gamma = gamma_url.rstrip("/")
    if ref.isdigit():
        raw: Any = http.get_json(f"{gamma}/markets/{ref}")
    else:
        listed = http.get_json(f"{gamma}/markets", {"slug": ref})
        found = [m for m in listed or () if isinstance(m, dict) and m.get("slug") == ref]
        raw = found[0] if found else None
    if not raw:
        raise AdapterError(
            f"Polymarket has no market '{ref}' (Gamma returned none); copy the slug from the "
            f"market's URL or give its numeric id",
            source=polymarket.SOURCE,
            reason=Code.UNKNOWN_MARKET,
        )
    market = polymarket.Market.from_gamma(raw, ref, now)
    if not market.token_ids:
        raise AdapterError(
            f"market {market.label} has no CLOB order book tokens, so no price history",
            source=polymarket.SOURCE,
            reason=Code.NO_DATA,
        )
    return market


# --- RSS --------------------------------------------------------------------------------------


def download_news(
    feed: str,
    store: SnapshotStore,
    *,
    now: float,
    feeds: Mapping[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    progress: Progress | None = None,
) -> list[Downloaded]:
    """The items a feed lists now, through the live ``RssFeed`` recording into ``store``: it
    starts from the items already stored and appends only the new ones. ``feed`` is a URL or a
    name of ``feeds`` (the configured name -> URL); a configured feed is filed under its name
    (``items/<name>``), as the live recording files it, any other URL under itself."""
    name, url = _feed(feed.strip(), feeds or {})
    key = news.items_key(name)
    before = store.series(news.SOURCE, key)
    known = set() if before is None else set(before.times)
    reader = news.RssFeed(
        {name: url},
        client=HttpClient(news.SOURCE, transport=transport),
        record=store,
        now=lambda: datetime.fromtimestamp(now, UTC),
    )
    try:
        reader.load(now)
    finally:
        reader.client.close()
    _step(progress, f"RSS {name}", 1, 1)
    after = store.series(news.SOURCE, key)
    new = [] if after is None else [t for t in after.times if t not in known]
    return [
        Downloaded(news.SOURCE, key, len(new), min(new, default=None), max(new, default=None),
                   store.path(news.SOURCE))
    ]  # fmt: skip


def _feed(feed: str, feeds: Mapping[str, str]) -> tuple[str, str]:
    """``(name, url)`` of a feed given by configured name or by URL."""
    if feed in feeds:
        return feed, feeds[feed]
    for name, url in feeds.items():
        if url == feed:
            return name, url
    if feed.startswith(("http://", "https://")):
        return feed, feed
    configured = f" (configured: {', '.join(feeds)})" if feeds else ""
    raise InputError(f"--asset: '{feed}' is neither a feed URL nor a configured feed{configured}")
