"""Candle history: any ccxt exchange page by page, equities through yfinance.

ccxt: ``fetch_ohlcv(symbol, timeframe, since=..., limit=...)`` from the start of the window,
``limit`` the exchange's page size (``technical.page_limit``); the next page starts just after
the last candle returned, until a candle closes at or after ``until`` or a page brings nothing
new. Only closed candles are stored (close = open + timeframe, at or before ``until``), each page
as soon as it arrives (one durable append), under the key the replay reads
(``candles/<exchange>/<symbol>/<timeframe>``, ``t`` = close, ``v`` = ``[o, h, l, c, volume]``).

Where to start: a series already stored from ``since`` on (or any stored series when no ``since``
is given) continues after its last stored candle, so a rerun after an interruption fetches only
the rest and a rerun of a finished download asks nothing; otherwise the download starts at
``since`` (default: ``window`` before ``until``) and stores only candles it does not hold yet.

Gaps are the missing bars between the stored candles the download covers (for equities, only
missing NYSE sessions), found by the replay feeds' own ``Candles.gaps``.

Equities: Yahoo's prices are divided by every split it knows, so its split history goes with
them (``download_yahoo_splits``), into the fundamentals' ``splits/<ASSET>`` series that the
EDGAR metrics read to put filed share counts in the same units (see
``signalops.adapters.edgar``), with a ``splits/<ASSET>/listed`` mark even when there is none.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import Any

from signalops.adapters import calendar, edgar
from signalops.adapters.download.result import Downloaded, Gap, Progress, SeriesWriter, gaps_of
from signalops.adapters.equities import EXCHANGE as YAHOO
from signalops.adapters.equities import EquityReplayFeed, YahooCandleFeed, require_daily
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import (
    CCXT_TIMEFRAMES,
    SOURCE,
    ReplayCandleFeed,
    candle_page,
    candle_time,
    ccxt_errors,
    page_limit,
    plausible_candle,
    require_json_body,
    series_key,
)
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import AdapterError, InputError
from signalops.venues import yahoo_crypto

DAY = 86400
DEFAULT_WINDOW = 365 * DAY


def start_of(
    writer: SeriesWriter, since: float | None, until: float, window: float, step: float
) -> float:
    """Where a download begins: after the last stored point when the store already holds the
    series from ``since`` on (its first point at most ``step`` after it; always, without
    ``since``); else at ``since``, or ``window`` before ``until``."""
    first, last = writer.first_stored, writer.last_stored
    if last is not None and (since is None or (first is not None and first <= since + step)):
        return last if since is None else max(since, last)
    return since if since is not None else until - window


def download_ccxt(
    exchange: Any,
    symbol: str,
    timeframe: int,
    store: SnapshotStore,
    *,
    until: float,
    since: float | None = None,
    window: float = DEFAULT_WINDOW,
    page_size: int | None = None,
    progress: Progress | None = None,
) -> Downloaded:
    """Candles of ``symbol`` from a ccxt ``exchange`` instance into ``store`` (see module doc)."""
    code = CCXT_TIMEFRAMES.get(timeframe)
    if code is None:
        known = ", ".join(CCXT_TIMEFRAMES.values())
        raise InputError(f"--timeframe: {format_duration(timeframe)} is not one of {known}")
    writer = SeriesWriter(store, SOURCE, series_key(exchange.id, symbol, timeframe))
    start = start_of(writer, since, until, window, timeframe)
    limit = page_size or page_limit(exchange)
    label = f"{exchange.id} {symbol} {code}"
    total = max(1, math.ceil((until - start) / timeframe))
    cursor = int(start * 1000)
    while cursor / 1000 + timeframe <= until:
        page = _page(exchange, symbol, code, cursor, limit)
        stamped = ((candle_time(row, symbol), row) for row in page)
        rows = sorted((opened, row) for opened, row in stamped if opened >= cursor)
        if not rows:
            break
        closed = [
            (opened / 1000 + timeframe, plausible_candle(row[1:6], symbol))
            for opened, row in rows
            if opened / 1000 + timeframe <= until
        ]
        writer.write(closed)
        cursor = rows[-1][0] + timeframe * 1000
        if progress is not None:
            progress(label, min(total, round((cursor / 1000 - start) / timeframe)), total)
    feed = ReplayCandleFeed(store, exchange=exchange.id, symbols={symbol: symbol})
    return writer.result(_gaps(feed, store, writer.key, symbol, timeframe, start, until))


def download_yahoo(
    symbol: str,
    store: SnapshotStore,
    *,
    until: float,
    since: float | None = None,
    window: float = DEFAULT_WINDOW,
    session: Any = None,
    timeframe: int = DAY,
    progress: Progress | None = None,
) -> Downloaded:
    """Daily bars of an equity or ETF through yfinance (``session``: its HTTP session, the test
    seam), stored at 16:00 New York of each trading day as ``YahooCandleFeed`` records them;
    of Yahoo's crypto (``BTC-USD``), at the 00:00 UTC that ends each day."""
    require_daily(symbol, timeframe)
    writer = SeriesWriter(store, SOURCE, series_key(YAHOO, symbol, DAY))
    start = start_of(writer, since, until, window, 4 * DAY)
    closing = _days_closing if yahoo_crypto(symbol) else _sessions_closing
    sessions = closing(start, until)
    if sessions:
        # One request: the live feed asks yfinance for enough days to hold ``bars`` sessions.
        candles = YahooCandleFeed(session).candles(symbol, DAY, until, sessions + 5)
        writer.write(
            (float(t), [float(candles.open[i]), float(candles.high[i]), float(candles.low[i]),
                        float(candles.close[i]), float(candles.volume[i])])
            for i, t in enumerate(candles.close_time)
            if t > start
        )  # fmt: skip
        if progress is not None:
            progress(f"yfinance {symbol} 1d", 1, 1)
    feed = EquityReplayFeed(store, symbols={symbol: symbol})
    return writer.result(_gaps(feed, store, writer.key, symbol, DAY, start, until))


def download_yahoo_splits(
    asset: str,
    symbol: str,
    store: SnapshotStore,
    *,
    now: float,
    session: Any = None,
    progress: Progress | None = None,
) -> Downloaded:
    """Yahoo's split history of ``symbol`` (``Ticker.splits``, the whole chart's split events)
    as the fundamentals' ``splits/<ASSET>`` points (``t`` = the ex-date, 00:00 New York), and
    the mark that it was listed at ``now`` (also when it lists none)."""
    from signalops.adapters.fundamental import YahooFundamentalsFeed

    listed = YahooFundamentalsFeed(session).splits(symbol, now)
    if progress is not None:
        progress(f"yfinance {symbol} splits", 1, 1)
    writer = SeriesWriter(store, edgar.SOURCE, edgar.splits_key(asset))
    marks = []
    for key, t, value in edgar.split_listing(asset, listed, now):
        if key == writer.key:
            writer.write([(t, value)])
        else:
            marks.append((key, t, value))
    store.append(edgar.SOURCE, marks)
    return writer.result()


def _days_closing(start: float, until: float) -> int:
    """How many UTC days end in ``(start, until]`` (a cryptocurrency's daily bars)."""
    return int(until // DAY - start // DAY)


def _sessions_closing(start: float, until: float) -> int:
    """How many NYSE sessions close in ``(start, until]``."""
    first, last = calendar.trading_day(start), calendar.trading_day(until)
    days = [first, *calendar.sessions_between(first, last), last] if last > first else [first]
    return sum(
        1
        for day in dict.fromkeys(days)
        if calendar.is_session(day) and start < calendar.session_close(day) <= until
    )


def _gaps(
    feed: ReplayCandleFeed | EquityReplayFeed,
    store: SnapshotStore,
    key: str,
    symbol: str,
    timeframe: int,
    start: float,
    until: float,
) -> tuple[Gap, ...]:
    """Missing bars among the stored candles from the one before ``start`` up to ``until``."""
    series = store.series(SOURCE, key)
    if series is None:
        return ()
    end = series.end(until)
    begin = max(0, bisect_left(series.times, start) - 1)
    if end - begin < 2:
        return ()
    return gaps_of(feed.candles(symbol, timeframe, until, end - begin).gaps())


def _page(exchange: Any, symbol: str, code: str, since_ms: int, limit: int) -> list[Any]:
    """One ``fetch_ohlcv`` page; ccxt's errors become the live feed's reason codes."""
    with ccxt_errors(exchange.id, symbol), candle_page(exchange, limit):
        page: list[Any] = exchange.fetch_ohlcv(symbol, code, since=since_ms, limit=limit)
    if not page:
        require_json_body(exchange, symbol)
    return page


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)
