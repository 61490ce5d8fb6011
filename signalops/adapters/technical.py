"""Technical indicators: crypto candles through ccxt, equities through yfinance, TA-Lib on both.

Only *closed* candles count: at ``as_of`` the last usable candle is the one whose close time
(open + timeframe) is at or before ``as_of``, and an observation's data time is that close. Live
candles come from any ccxt exchange (default binance) with pagination; replayed candles come
from the snapshot store (series ``candles/<exchange>/<BASE>/<QUOTE>/<timeframe>``, ``t`` = close
time, ``v`` = ``[open, high, low, close, volume]``). Both feed the same indicator code.

Every answer an exchange's ``requests`` session reads is bounded before ccxt parses it
(``bound_exchange``): at most ``MAX_RESPONSE_BYTES``, JSON no deeper than ``MAX_JSON_DEPTH``, a
candle page no larger than its ``limit`` can be (``candle_page``); a transport failing in a way
``requests`` has no class for is TRANSPORT_ERROR and a redirect loop REDIRECT_LOOP.

Gaps (missing candles, e.g. an exchange outage) are detected and reported in the observation's
detail; indicators are computed over the candles that exist, and a missing *latest* candle shows
up as staleness, which the leaf's ``max_age`` turns into UNKNOWN.

A series without volume (an index such as ^VIX or an exchange rate, which Yahoo gives with
volume 0, or candles imported from a file without volume, stored as 0) has no volume to read:
``volume`` and ``volume_z`` are NOT_APPLICABLE when no candle of the window they read has a
volume other than 0 (``VOLUME_METRICS``), rather than a volume of 0 that ``volume < 1M`` passes.

Equities and ETFs (an asset on a ``yfinance`` venue) have daily candles only, known at the US
market's close, 16:00 New York, on each trading day (``signalops.adapters.equities``); weekends
and holidays have no candle and are not gaps.

``import_bundled`` turns the bundled Binance exports (``examples/data/ohlcv``) into the same
series: ``candles/binance/{BTC,ETH}/USDT/1d`` and ``candles/binance/BTC/USDT/1h``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import localcontext
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import talib

from signalops.adapters import calendar, hints
from signalops.adapters.base import BaseAdapter
from signalops.adapters.http import (
    MAX_JSON_DEPTH,
    MAX_RESPONSE_BYTES,
    declared_secrets,
    json_shape,
    redact,
    too_deep,
)
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.builtin import TECHNICAL
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import AdapterError, DataNotFound
from signalops.extras import require
from signalops.observation import Observation, Request
from signalops.venues import DEFAULT_VENUES, Venue, VenueKind, Venues

SOURCE = "technical"
CCXT_TIMEFRAMES = {60: "1m", 300: "5m", 900: "15m", 1800: "30m", 3600: "1h", 14400: "4h",
                   86400: "1d", 604800: "1w"}  # fmt: skip


@dataclass(frozen=True)
class Candles:
    """Closed candles, oldest first; ``close_time`` in Unix seconds."""

    close_time: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    timeframe: int
    # Daily bars on US trading days only (equities): weekends and holidays are not gaps.
    sessions: bool = False

    def __len__(self) -> int:
        return len(self.close_time)

    def tail(self, bars: int) -> Candles:
        """The last ``bars`` candles (all of them when there are fewer)."""
        if len(self) <= bars:
            return self
        return self.window(len(self) - bars, len(self))

    def window(self, start: int, stop: int) -> Candles:
        """The candles ``[start, stop)`` (views of the same arrays, not copies)."""
        return Candles(
            self.close_time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            self.timeframe,
            self.sessions,
        )

    def gaps(self) -> list[dict[str, Any]]:
        """Each run of missing candles: where it starts and how many are missing."""
        if len(self) < 2:
            return []
        if self.sessions:
            return self._missing_sessions()
        # Contiguous windows (nearly all of them) are recognised in O(1) without a diff.
        if self.close_time[-1] - self.close_time[0] == (len(self) - 1) * self.timeframe:
            return []
        steps = np.diff(self.close_time)
        found = []
        for i in np.nonzero(steps != self.timeframe)[0]:
            missing = round(float(steps[i]) / self.timeframe) - 1
            if missing > 0:
                start = self.close_time[i] + self.timeframe
                found.append({"first_missing_close": _iso(start), "missing": missing})
        return found

    def _missing_sessions(self) -> list[dict[str, Any]]:
        # Consecutive trading days' closes are about a day apart (23-25 h across DST changes);
        # only a longer step can hide a missing session. The same steps recur in every window
        # of a backtest (and for every asset), so each set of steps is worked out once.
        i = np.nonzero(np.diff(self.close_time) > 90000)[0]
        steps = np.stack([self.close_time[i], self.close_time[i + 1]], axis=1).astype(float)
        return [dict(gap) for gap in _missing_across(steps.tobytes())]


@lru_cache(maxsize=4096)
def _missing_across(steps: bytes) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """The missing sessions hidden in (close, next close) steps, as ``_missing_sessions`` says."""
    found = []
    for before_close, after_close in np.frombuffer(steps, dtype=float).reshape(-1, 2):
        before = calendar.trading_day(float(before_close))
        after = calendar.trading_day(float(after_close))
        missing = calendar.sessions_between(before, after)
        if missing:
            first = _iso(calendar.session_close(missing[0]))
            found.append((("first_missing_close", first), ("missing", len(missing))))
    return tuple(found)


class CandleFeed(Protocol):
    """Where candles come from: an exchange (live) or the snapshot store (replay)."""

    name: str

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        """The last ``bars`` candles closed at or before ``as_of`` (Unix seconds)."""
        ...


def symbol_for(asset: str, quote: str) -> str:
    return asset if "/" in asset else f"{asset}/{quote}"


def series_key(exchange: str, symbol: str, timeframe: int) -> str:
    return f"candles/{exchange}/{symbol}/{format_duration(timeframe)}"


class CcxtCandleFeed:
    """Live candles from a ccxt exchange, paginated, optionally recorded to a snapshot store.

    ``exchange`` is a ccxt exchange instance (its HTTP session is the test seam); by default a
    ``ccxt.binance`` with rate limiting on. API keys are not needed for candles. ``symbols``
    names an asset's symbol where it is not ``BASE/QUOTE`` (e.g. ``ETH-USD``).
    """

    def __init__(
        self,
        exchange: Any = None,
        *,
        quote: str = "USDT",
        page_size: int = 1000,
        record: SnapshotStore | None = None,
        symbols: Mapping[str, str] | None = None,
    ) -> None:
        if exchange is None:
            require("ccxt", "live", "live exchange data")
            import ccxt

            exchange = ccxt.binance({"enableRateLimit": True})
        bound_exchange(exchange)
        self.exchange = exchange
        self.name = exchange.id
        self.quote = quote
        self.page_size = page_size
        self.record = record
        self.symbols = dict(symbols or {})

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:

        code = CCXT_TIMEFRAMES.get(timeframe)
        if code is None:
            raise AdapterError(
                f"timeframe {format_duration(timeframe)} is not supported",
                source=SOURCE,
                reason=Code.BAD_REQUEST,
            )
        symbol = self.symbols.get(asset) or symbol_for(asset, self.quote)
        # Ask for ~10% more time than ``bars`` candles span: a window with missing candles (an
        # outage) still yields the last ``bars`` candles that exist, as the replay feed does;
        # otherwise live and replay would seed RSI/EMA from different first candles.
        span = bars + bars // 10 + 2
        since_ms = int((as_of - span * timeframe) * 1000)
        rows: dict[int, list[float]] = {}
        max_pages = span // self.page_size + 2
        with ccxt_errors(self.name, symbol):
            for _ in range(max_pages):
                with candle_page(self.exchange, self.page_size):
                    page = self.exchange.fetch_ohlcv(
                        symbol, code, since=since_ms, limit=self.page_size
                    )
                if not page:
                    require_json_body(self.exchange, symbol)
                    break
                # ccxt trims a page to ``limit`` after parsing it (``candle_page`` bounds what
                # it parses); an exchange class that does not trim still cannot flood the feed.
                if len(page) > self.page_size:
                    raise AdapterError(
                        f"{self.name} answered {len(page):,} candles for a page of "
                        f"{self.page_size:,}",
                        source=SOURCE,
                        reason=Code.RESPONSE_TOO_LARGE,
                    )
                for row in page:
                    rows[candle_time(row, symbol)] = row
                last_open = candle_time(page[-1], symbol)
                if last_open / 1000 + timeframe > as_of or len(page) < self.page_size:
                    break
                since_ms = last_open + timeframe * 1000
        closed = []
        for open_ms in sorted(rows):
            row = rows[open_ms]
            close_time = open_ms / 1000 + timeframe
            if close_time <= as_of:
                closed.append((close_time, *plausible_candle(row[1:6], symbol)))
        if self.record is not None and closed:
            key = series_key(self.name, symbol, timeframe)
            self.record.append(SOURCE, ((key, c[0], list(c[1:])) for c in closed))
        return _to_candles(closed[-bars:], timeframe)


class ReplayCandleFeed:
    """Candles from the snapshot store: never one that closed after ``as_of``."""

    def __init__(
        self,
        store: SnapshotStore,
        *,
        exchange: str = "binance",
        quote: str = "USDT",
        symbols: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.name = exchange
        self.quote = quote
        self.symbols = dict(symbols or {})

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        mapped = self.symbols.get(asset)
        symbol = mapped or symbol_for(asset, self.quote)
        series = self.store.series(SOURCE, series_key(self.name, symbol, timeframe))
        if series is None:
            frame = format_duration(timeframe)
            provide = hints.candles(
                asset,
                symbol,
                self.name,
                configured=bool(mapped),
                timeframe=timeframe,
                as_of=as_of,
                bars=bars,
                to=self.store.directory,
            )
            raise AdapterError(
                f"no recorded {frame} candles for {symbol} on {self.name}: {provide}",
                source=SOURCE,
                reason=Code.NO_DATA,
            )
        end = series.end(as_of)
        start = max(0, end - bars)
        times = series.time_array[start:end]
        return Candles(
            close_time=times,
            open=series.column(0)[start:end],
            high=series.column(1)[start:end],
            low=series.column(2)[start:end],
            close=series.column(3)[start:end],
            volume=series.column(4)[start:end],
            timeframe=timeframe,
        )


class VenueFeeds:
    """Each asset's candle feed: the feed of the venue the configuration routes it to.

    ``build`` makes a venue's feed, once, on the first asset that needs it (so a run never
    builds an exchange none of its assets trades on).
    """

    def __init__(
        self,
        venues: Venues,
        build: Callable[[Venue, Mapping[str, str]], CandleFeed],
        *,
        every: CandleFeed | None = None,
    ) -> None:
        self.venues = venues
        self._build = build
        self._every = every
        self._feeds: dict[str, CandleFeed] = {}

    @classmethod
    def single(cls, feed: CandleFeed) -> VenueFeeds:
        """One feed for every asset (a feed built by hand, as tests and benchmarks do)."""
        return cls(DEFAULT_VENUES, lambda venue, symbols: feed, every=feed)

    def feed_for(self, asset: str) -> CandleFeed:
        """``asset``'s feed; an ``AdapterError`` (NO_ADAPTER) when no venue with candles
        (a ccxt exchange or yfinance) serves it."""
        if self._every is not None:
            return self._every
        venue = self.venues.venue_of(asset)
        if venue is None:
            raise AdapterError(
                f"no configured venue serves {asset} (add it under assets: or set default_venue)",
                source=SOURCE,
                reason=Code.NO_ADAPTER,
            )
        if not venue.kind.serves_candles:
            raise AdapterError(
                f"{asset} is served by venue '{venue.name}' ({venue.exchange}), which has no "
                f"candles: map it to a ccxt exchange or yfinance under assets:",
                source=SOURCE,
                reason=Code.NO_ADAPTER,
            )
        feed = self._feeds.get(venue.name)
        if feed is None:
            symbols = {
                name: mapped.symbol
                for name, mapped in self.venues.assets.items()
                if mapped.venue == venue.name and mapped.symbol is not None
            }
            feed = self._feeds[venue.name] = self._build(venue, symbols)
        return feed


def ccxt_exchange(venue: Venue) -> Any:
    """ccxt's own class for the venue's exchange id, with the venue's options."""
    require("ccxt", "live", "live exchange data")
    import ccxt

    exchange = getattr(ccxt, venue.exchange)(venue.ccxt_options())
    bound_exchange(exchange)
    return exchange


def page_limit(exchange: Any, default: int = 1000) -> int:
    """The most candles one request to ``exchange`` returns (ccxt's ``features``; Coinbase:
    300), so that a full page is told apart from the last one."""
    features = getattr(exchange, "features", None) or {}
    limit = (features.get("spot") or {}).get("fetchOHLCV", {}).get("limit")
    return min(int(limit), default) if isinstance(limit, int) and limit > 0 else default


# --- ccxt's HTTP session: bounded answers ----------------------------------------------------

# Values (arrays, objects, commas) a candle page may hold per candle asked for: a Binance kline
# is 13, an exchange sending one object per candle about twice that. 600,000 candles in one
# answer took 8.8 s and 550 MB inside ccxt before it trimmed the page to ``limit``.
VALUES_PER_CANDLE = 64


@dataclass
class AnswerLimits:
    """What one session (an exchange's) accepts; ``max_values`` is set only while a candle page
    is fetched (``candle_page``): market listings are legitimately much larger."""

    name: str
    max_bytes: int = MAX_RESPONSE_BYTES
    max_values: int | None = None


class BoundedAdapter:
    """A ``requests`` transport adapter around the exchange session's own one.

    ccxt reads every answer whole and parses it (orjson, but the feed and ccxt's fallbacks use
    the json module, whose C parser recurses on the C stack): here an answer is read at most
    ``max_bytes`` far and refused before anything parses it when it is larger, nested deeper
    than ``MAX_JSON_DEPTH`` or, during a candle page, holds more values than that page can. A
    failure of the wrapped adapter that ``requests`` has no class for is TRANSPORT_ERROR.
    Refusals are ``AdapterError``s, which ccxt does not catch (it converts ``requests``'
    exceptions only), so they reach ``ccxt_errors``'s caller as they are.
    """

    def __init__(self, inner: Any, limits: AnswerLimits) -> None:
        self.inner = inner
        self.limits = limits

    def send(self, request: Any, **kwargs: Any) -> Any:
        import requests

        try:
            response = self.inner.send(request, **kwargs)
        except (requests.RequestException, AdapterError):
            raise  # ccxt maps requests' errors (timeouts, connection errors) itself
        except Exception as exc:
            raise _ccxt_error(
                f"{self.limits.name}: request to {_where(request)} failed "
                f"({type(exc).__name__}: {redact(str(exc), tuple(declared_secrets()))[:200]})",
                Code.TRANSPORT_ERROR,
            ) from None
        self._check(request, self._body(request, response))
        return response

    def _body(self, request: Any, response: Any) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.limits.max_bytes:
            raise self._too_large(request, response)
        if response.raw is None:  # built with its body already (a recorded answer)
            body: bytes = response.content or b""
            if len(body) > self.limits.max_bytes:
                raise self._too_large(request, response)
            return body
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > self.limits.max_bytes:
                raise self._too_large(request, response)
            chunks.append(chunk)
        body = b"".join(chunks)
        # What ``Response.content`` stores once read: ccxt's read then reuses these bytes.
        response._content, response._content_consumed = body, True
        return body

    def _check(self, request: Any, body: bytes) -> None:
        limit = self.limits.max_values
        if limit is None:
            if too_deep(body):
                raise self._too_deep(request)
            return
        depth, values = json_shape(body)
        if depth > MAX_JSON_DEPTH:
            raise self._too_deep(request)
        if values > limit:
            raise _ccxt_error(
                f"{self.limits.name} answered about {values:,} values for a page of "
                f"{limit // VALUES_PER_CANDLE:,} candles (at most {limit:,})",
                Code.RESPONSE_TOO_LARGE,
            )

    def _too_deep(self, request: Any) -> AdapterError:
        return _ccxt_error(
            f"{self.limits.name}: JSON from {_where(request)} is nested too deeply to read",
            Code.RESPONSE_TOO_DEEP,
        )

    def _too_large(self, request: Any, response: Any) -> AdapterError:
        if response.raw is not None:
            response.close()  # the rest stays unread
        return _ccxt_error(
            f"{self.limits.name}: {_where(request)} answered more than "
            f"{self.limits.max_bytes:,} bytes",
            Code.RESPONSE_TOO_LARGE,
        )

    def close(self) -> None:
        self.inner.close()


def _where(request: Any) -> str:
    return redact(str(getattr(request, "url", "") or ""), tuple(declared_secrets()))


def bound_exchange(exchange: Any) -> AnswerLimits | None:
    """``bound_session`` on a ccxt exchange's ``requests`` session (None: it has none)."""
    session = getattr(exchange, "session", None)
    if session is None:
        return None
    return bound_session(session, str(getattr(exchange, "id", "exchange")))


def bound_session(session: Any, name: str) -> AnswerLimits | None:
    """Wrap every transport adapter mounted on the ``requests`` ``session`` in a
    ``BoundedAdapter`` (those mounted since the last call too); the limits they share, or None
    when nothing is mounted."""
    adapters = getattr(session, "adapters", None)
    if not isinstance(adapters, Mapping) or not adapters:
        return None
    found = [a.limits for a in adapters.values() if isinstance(a, BoundedAdapter)]
    limits = found[0] if found else AnswerLimits(name)
    for prefix, adapter in list(adapters.items()):
        if not isinstance(adapter, BoundedAdapter):
            session.mount(prefix, BoundedAdapter(adapter, limits))
    return limits


@contextmanager
def candle_page(exchange: Any, page_size: int) -> Iterator[None]:
    """Inside the block, ``exchange`` answers at most ``VALUES_PER_CANDLE`` values per candle
    of a ``page_size`` page. Its markets are loaded first, outside that bound."""
    limits = bound_exchange(exchange)
    if limits is None:
        yield
        return
    exchange.load_markets()
    limits.max_values = max(page_size, 1) * VALUES_PER_CANDLE
    try:
        yield
    finally:
        limits.max_values = None


@contextmanager
def ccxt_errors(name: str, symbol: str) -> Iterator[None]:
    """ccxt's exceptions as the technical source's reason codes (live feed and download).

    Inside, ccxt works in a decimal context of its own (``decimal.localcontext``): its
    ``decimal_to_precision`` sets the thread's context to round half up and trap underflow,
    and left so, every Decimal of the process (sizing, fees, the figures ``why`` prints)
    rounded differently after the first call."""
    import ccxt
    import requests

    try:
        with localcontext():
            yield
    except ccxt.BadSymbol as exc:
        raise _ccxt_error(f"{name} has no market {symbol}: {exc}", Code.UNKNOWN_SYMBOL) from None
    except ccxt.RequestTimeout:
        raise _ccxt_error(f"{name} timed out", Code.TIMEOUT) from None
    except (ccxt.DDoSProtection, ccxt.RateLimitExceeded):  # ccxt raises either for an HTTP 429
        # Not retried here: Binance bans IPs that keep calling after a 429 (HTTP 418), and
        # the next evaluation cycle is the retry; meanwhile the leaves are UNKNOWN.
        raise _ccxt_error(f"{name} rate limited the request", Code.RATE_LIMITED) from None
    except ccxt.ExchangeNotAvailable as exc:
        # ccxt raises this (a NetworkError) for HTTP 5xx and most 4xx answers: the server
        # did answer, with an error status, so it is an HTTP_ERROR as in http.py. The message
        # carries the body: an error page can be long.
        message = f"{name} answered with an error: {str(exc)[:300]}"
        raise _ccxt_error(message, Code.HTTP_ERROR) from None
    except ccxt.InvalidNonce as exc:  # a signed request the exchange answered: no connection fault
        message = f"{name} refused the request's nonce (is this machine's clock right?): {exc}"
        raise _ccxt_error(message[:400], Code.CLOCK_SKEW) from None
    except ccxt.NetworkError as exc:
        # Its own message is the request's method and URL (a signed one carries its
        # signature); what went wrong is in the exceptions under it.
        message = f"connection to {name} failed ({_what_failed(exc)})"
        raise _ccxt_error(message, Code.CONNECTION_ERROR) from None
    except ccxt.ExchangeError as exc:
        if isinstance(exc.__cause__, requests.TooManyRedirects):
            raise _ccxt_error(f"{name} redirects in a loop", Code.REDIRECT_LOOP) from None
        raise _ccxt_error(f"{name} error: {str(exc)[:300]}", Code.HTTP_ERROR) from None
    except RecursionError:
        # Only an exchange without a bounded session gets here (``bound_exchange``).
        raise _ccxt_error(
            f"JSON from {name} is nested too deeply to read", Code.RESPONSE_TOO_DEEP
        ) from None


# The exceptions under a ccxt NetworkError that say what failed, in words for the error line.
_FAILURES = {
    "NameResolutionError": "the exchange's host name did not resolve: no network or DNS?",
    "gaierror": "the exchange's host name did not resolve: no network or DNS?",
    "ConnectionRefusedError": "the connection was refused",
    "ProxyError": "the proxy refused or failed",
    "SSLError": "the TLS handshake failed",
    "ConnectTimeoutError": "connecting timed out",
    "ConnectionResetError": "the connection was reset",
}


def _what_failed(exc: BaseException) -> str:
    """What under ``exc`` failed (requests' error, urllib3's reason, the socket's), as words
    when it is a known failure, else the deepest exception's class name."""
    seen: list[BaseException] = []
    found: BaseException | None = exc
    while found is not None and found not in seen:
        seen.append(found)
        # requests wraps urllib3's error as its first argument, which keeps its own as reason.
        held = (*found.args[:1], getattr(found, "reason", None))
        found = found.__cause__ or found.__context__
        if found is None:
            found = next((e for e in held if isinstance(e, BaseException)), None)
    for failure in seen:
        words = _FAILURES.get(type(failure).__name__)
        if words is not None:
            return words
    return type(seen[-1]).__name__


def _ccxt_error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


def require_json_body(exchange: Any, symbol: str) -> None:
    """An empty page is "no candles" only if the exchange really sent JSON.

    ccxt's ``parse_json`` swallows a decoding error and ``fetch_ohlcv`` then parses the raw text
    into an empty list, so a truncated or HTML body would otherwise read as an empty history.
    """
    body = getattr(exchange, "last_http_response", None)
    if not isinstance(body, str):
        return
    if too_deep(body):  # the C parser below would recurse once per level
        raise AdapterError(
            f"{symbol}: JSON from {exchange.id} is nested too deeply to read",
            source=SOURCE,
            reason=Code.RESPONSE_TOO_DEEP,
        )
    try:
        json.loads(body)
    except ValueError:
        raise AdapterError(
            f"{symbol}: {exchange.id} sent a response that is not JSON ({body[:40]!r})",
            source=SOURCE,
            reason=Code.BAD_RESPONSE,
        ) from None


def candle_time(row: Any, symbol: str) -> int:
    """A ccxt candle's open time in milliseconds; a string or other non-integer is refused."""
    stamp = row[0] if isinstance(row, list | tuple) and row else None
    if isinstance(stamp, float) and stamp.is_integer():
        stamp = int(stamp)
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise AdapterError(
            f"{symbol}: candle time {stamp!r} is not a number of milliseconds",
            source=SOURCE,
            reason=Code.BAD_RESPONSE,
        )
    return stamp


def plausible_candle(values: Any, symbol: str) -> list[float]:
    """Open, high, low, close, volume as finite floats that can be a real candle: prices above
    zero, high not below low, volume not negative. Anything else is BAD_RESPONSE, never data."""
    if not isinstance(values, list | tuple) or len(values) != 5:
        raise AdapterError(
            f"{symbol}: a candle has {values!r}, not open, high, low, close, volume",
            source=SOURCE,
            reason=Code.BAD_RESPONSE,
        )
    o, h, low, c, v = (candle_field(x, symbol) for x in values)
    problem = candle_problem(o, h, low, c, v)
    if problem is not None:
        raise AdapterError(
            f"{symbol}: implausible candle ({problem})", source=SOURCE, reason=Code.BAD_RESPONSE
        )
    return [o, h, low, c, v]


def candle_problem(o: float, high: float, low: float, c: float, volume: float) -> str | None:
    """Why five numbers cannot be a real candle (``close -105 is not above zero``), or None:
    the one rule for an exchange's answer (``plausible_candle``) and a trader's file
    (``data import``), each wrapping it in its own error."""
    for name, price in (("open", o), ("high", high), ("low", low), ("close", c)):
        if price <= 0:
            return f"{name} {_as_written(price)} is not above zero"
    if high < low:
        return f"high {_as_written(high)} is below low {_as_written(low)}"
    if volume < 0:
        return f"volume {_as_written(volume)} is negative"
    return None


def _as_written(number: float) -> str:
    # The value itself, not a rounding of it (``:g`` shows 23141.57 as 23141.6).
    return str(int(number)) if number.is_integer() else repr(number)


def candle_field(value: Any, symbol: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AdapterError(
            f"{symbol}: candle field {value!r} is not a number",
            source=SOURCE,
            reason=Code.BAD_RESPONSE,
        ) from None
    if not math.isfinite(number):
        raise AdapterError(
            f"{symbol}: candle field is {number}", source=SOURCE, reason=Code.BAD_RESPONSE
        )
    return number


def _to_candles(
    rows: list[tuple[float, ...]], timeframe: int, *, sessions: bool = False
) -> Candles:
    array = np.asarray(rows, dtype=float).reshape(-1, 6)
    close_time, open_, high, low, close, volume = (
        np.ascontiguousarray(array[:, i]) for i in range(6)
    )
    return Candles(close_time, open_, high, low, close, volume, timeframe, sessions)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


# --- indicators --------------------------------------------------------------------------------

# The metrics that read volumes: NOT_APPLICABLE on a window without any (module docstring).
VOLUME_METRICS = frozenset({"volume", "volume_z"})


def with_volume(volume: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Whether each window ``[start, end)`` of the candles has a volume other than 0, as the
    adapter asks of the window it reads (``volume.any()``), for every window at once."""
    counts = np.concatenate(([0], np.cumsum(volume != 0)))
    return np.asarray(counts[ends] > counts[starts])


def no_volume(candles: Candles) -> str:
    """Why the volume metrics do not apply to candles without volume."""
    count = len(candles)
    return (
        f"no volume on any of the {count:,} {format_duration(candles.timeframe)} candle"
        f"{'s' * (count != 1)} read (an index or exchange rate, or candles imported without "
        "volume)"
    )


Indicator = Callable[[Candles, dict[str, Any]], float]


def _last(values: np.ndarray) -> float:
    return float(values[-1]) if len(values) else math.nan


def _volume_z(c: Candles, p: dict[str, Any]) -> float:
    n = p["n"]
    window = c.volume[-n - 1 : -1]
    std = float(np.std(window))
    if len(window) < n or std == 0:
        return math.nan
    return (float(c.volume[-1]) - float(np.mean(window))) / std


def _return(c: Candles, p: dict[str, Any]) -> float:
    target = c.close_time[-1] - p["window"]
    i = int(np.searchsorted(c.close_time, target, side="right")) - 1
    if i < 0:
        return math.nan
    return float(c.close[-1] / c.close[i] - 1.0)


def _macd(part: int) -> Indicator:
    def compute(c: Candles, p: dict[str, Any]) -> float:
        result = talib.MACD(
            c.close, fastperiod=p["fast"], slowperiod=p["slow"], signalperiod=p["signal"]
        )
        return _last(result[part])

    return compute


def _bbands(part: int) -> Indicator:
    def compute(c: Candles, p: dict[str, Any]) -> float:
        bands = talib.BBANDS(c.close, timeperiod=p["n"], nbdevup=p["k"], nbdevdn=p["k"])
        return _last(bands[part])

    return compute


INDICATORS: dict[str, Indicator] = {
    "open": lambda c, p: _last(c.open),
    "high": lambda c, p: _last(c.high),
    "low": lambda c, p: _last(c.low),
    "close": lambda c, p: _last(c.close),
    "volume": lambda c, p: _last(c.volume),
    "rsi": lambda c, p: _last(talib.RSI(c.close, timeperiod=p["n"])),
    "sma": lambda c, p: _last(talib.SMA(c.close, timeperiod=p["n"])),
    "ema": lambda c, p: _last(talib.EMA(c.close, timeperiod=p["n"])),
    "macd": _macd(0),
    "macd_signal": _macd(1),
    "macd_hist": _macd(2),
    "atr": lambda c, p: _last(talib.ATR(c.high, c.low, c.close, timeperiod=p["n"])),
    "bb_upper": _bbands(0),
    "bb_middle": _bbands(1),
    "bb_lower": _bbands(2),
    "volume_z": _volume_z,
    "return": _return,
}


def bars_needed(metric: str, params: dict[str, Any]) -> int:
    """Candles an indicator needs; recursive ones (EMA, RSI, MACD) get a warm-up of 3x."""
    if metric in ("open", "high", "low", "close", "volume"):
        return 1
    if metric in ("sma", "bb_upper", "bb_middle", "bb_lower"):
        return params["n"]
    if metric == "volume_z":
        return params["n"] + 1
    if metric == "return":
        return int(params["window"] // params["timeframe"]) + 1
    if metric.startswith("macd"):
        return 3 * (params["slow"] + params["signal"])
    return 3 * params["n"] + 1  # rsi, ema, atr: Wilder/EMA smoothing converges after ~3n bars


class TechnicalAdapter(BaseAdapter):
    source = SOURCE
    catalogue = TECHNICAL

    def __init__(self, feed: CandleFeed | VenueFeeds) -> None:
        self.feeds = feed if isinstance(feed, VenueFeeds) else VenueFeeds.single(feed)

    @classmethod
    def live(
        cls,
        exchange: Any = None,
        *,
        record: SnapshotStore | None = None,
        venues: Venues | None = None,
        yahoo_session: Any = None,
        make_exchange: Callable[[Venue], Any] | None = None,
    ) -> TechnicalAdapter:
        """Candles from ``exchange`` for every asset, else from each asset's venue: a ccxt
        exchange (built by ``make_exchange``, default ``ccxt_exchange``: tests give recorded
        answers through it), or yfinance (``yahoo_session``: the session yfinance uses; None:
        its own)."""
        if exchange is not None:
            return cls(CcxtCandleFeed(exchange, record=record))
        build_exchange = make_exchange or ccxt_exchange

        def build(venue: Venue, symbols: Mapping[str, str]) -> CandleFeed:
            if venue.kind is VenueKind.YFINANCE:
                from signalops.adapters.equities import YahooCandleFeed

                return YahooCandleFeed(yahoo_session, record=record, symbols=symbols)
            exchange = build_exchange(venue)
            return CcxtCandleFeed(
                exchange,
                quote=venue.quote,
                page_size=page_limit(exchange),
                record=record,
                symbols=symbols,
            )

        return cls(VenueFeeds(venues or DEFAULT_VENUES, build))

    @classmethod
    def replay(
        cls, store: SnapshotStore, *, exchange: str = "binance", venues: Venues | None = None
    ) -> TechnicalAdapter:
        """Recorded candles: each asset's venue's series (with ``venues``), else ``exchange``'s."""
        if venues is None:
            return cls(ReplayCandleFeed(store, exchange=exchange))

        def build(venue: Venue, symbols: Mapping[str, str]) -> CandleFeed:
            if venue.kind is VenueKind.YFINANCE:
                from signalops.adapters.equities import EquityReplayFeed

                return EquityReplayFeed(store, symbols=symbols)
            return ReplayCandleFeed(
                store, exchange=venue.exchange, quote=venue.quote, symbols=symbols
            )

        return cls(VenueFeeds(venues, build))

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        if request.asset is None:
            raise AdapterError(
                "technical metrics need an asset", source=SOURCE, reason=Code.BAD_REQUEST
            )
        feed = self.feeds.feed_for(request.asset)
        params = dict(request.params)
        timeframe = int(params["timeframe"])
        needed = bars_needed(request.metric, params)
        bars = max(needed, 250)
        key = (request.asset, timeframe)
        candles = batch.get(key)
        if isinstance(candles, AdapterError):
            # The download failed for an earlier request of this batch: give the same answer
            # rather than calling a failing (or rate-limiting) exchange once per indicator.
            raise AdapterError(candles.message, source=SOURCE, reason=candles.reason)
        if candles is None or (len(candles) < bars and batch.get((key, "bars"), 0) < bars):
            try:
                candles = feed.candles(request.asset, timeframe, as_of.timestamp(), bars)
            except AdapterError as exc:
                batch[key] = exc
                raise
            batch[key] = candles
            batch[(key, "bars")] = bars
        # Each indicator sees its own last ``bars`` candles, whatever longer history another
        # request of the batch fetched: RSI/EMA/ATR depend on their first candle, so rsi(14)
        # must not change because the same strategy also asks for sma(300).
        candles = candles.tail(bars)
        if len(candles) < needed:
            raise AdapterError(
                f"{request.metric} needs {needed} closed {format_duration(timeframe)} candles, "
                f"{len(candles)} available",
                source=SOURCE,
                reason=Code.INSUFFICIENT_HISTORY,
            )
        if request.metric in VOLUME_METRICS and not candles.volume.any():
            raise AdapterError(no_volume(candles), source=SOURCE, reason=Code.NOT_APPLICABLE)
        value = INDICATORS[request.metric](candles, params)
        if not math.isfinite(value):
            raise AdapterError(
                f"{request.metric} is undefined on the available candles",
                source=SOURCE,
                reason=Code.INSUFFICIENT_HISTORY,
            )
        data_time = datetime.fromtimestamp(float(candles.close_time[-1]), UTC)
        detail: dict[str, Any] = {"exchange": feed.name, "candles": len(candles)}
        gaps = candles.gaps()
        if gaps:
            detail["gaps"] = gaps
        return Observation(value, data_time, SOURCE, fetched_at=as_of, detail=detail)


# --- bundled data ------------------------------------------------------------------------------

_DAILY_FILES = (("Binance_BTCUSDT_d.csv", "BTC"), ("Binance_ETHUSDT_d.csv", "ETH"))
# Not BTCUSDT_1h_binance_2023-03.csv: it is a slice of this file and would only duplicate it.
_HOURLY_FILE = "BTCUSDT_1h_binance_2020-10_2025-10.csv"


def import_bundled(data_dir: Path) -> Iterator[tuple[str, float, Any]]:
    """Candle records from the bundled Binance exports under ``data_dir/ohlcv``.

    Daily files (CryptoDataDownload): a URL banner line, then rows newest first with ``Unix`` =
    open time in ms; the hourly file: ``open_time`` as ``YYYY-mm-dd HH:MM:SS`` UTC, oldest first.
    ``t`` is the close time (open + timeframe), as the live feed records it.
    """
    folder = Path(data_dir) / "ohlcv"
    for name, base in _DAILY_FILES:
        key = series_key("binance", f"{base}/USDT", 86400)
        columns = ("Open", "High", "Low", "Close", f"Volume {base}")
        for where, row in _csv_rows(folder / name):
            opened = _field(where, row, "Unix") / 1000
            yield key, opened + 86400, [_field(where, row, c) for c in columns]
    key = series_key("binance", "BTC/USDT", 3600)
    columns = ("open", "high", "low", "close", "volume")
    for where, row in _csv_rows(folder / _HOURLY_FILE):
        try:
            opened = datetime.fromisoformat(row["open_time"]).replace(tzinfo=UTC).timestamp()
        except (KeyError, TypeError, ValueError) as exc:
            raise _bad_row(where, exc) from None
        yield key, opened + 3600, [_field(where, row, c) for c in columns]


def _csv_rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """``("path:line", row)`` for each data row, skipping a CryptoDataDownload URL banner."""
    if not path.is_file():
        raise DataNotFound(f"{path}: no such file (bundled candles)")
    with path.open(encoding="utf-8", newline="") as handle:
        header = handle.readline()
        skipped = 1
        if header.startswith("http"):
            header = handle.readline()
            skipped = 2
        reader = csv.DictReader(handle, fieldnames=next(csv.reader([header])))
        for row in reader:
            yield f"{path}:{reader.line_num + skipped}", row


def _field(where: str, row: dict[str, str], name: str) -> float:
    try:
        value = float(row[name])
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_row(where, exc) from None
    if not math.isfinite(value):
        raise _bad_row(where, f"{name} is {value}")
    return value


def _bad_row(where: str, problem: object) -> AdapterError:
    return AdapterError(f"{where}: bad candle row ({problem})", source=SOURCE, reason=Code.BAD_DATA)
