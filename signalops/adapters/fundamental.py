"""Company fundamentals through yfinance: valuation ratios, balance-sheet health, net-net value.

Live data comes from ``yfinance.Ticker(symbol, session=...)``: ``.info`` (Yahoo's quoteSummary
modules plus the v7 quote, flattened by yfinance) and ``.get_balance_sheet(freq=...)`` (the
fundamentals-timeseries API) for ``ncav_per_share``. The asset name is the Yahoo symbol (AAPL,
BRK-B, 7203.T). Replayed data comes from the snapshot store. Both feed the same metric code.

Series keys (source ``fundamental``):

- ``info/<SYMBOL>``: ``t`` = when the snapshot was fetched (Yahoo gives fundamentals no per-field
  timestamp), ``v`` = the flattened info fields this adapter reads, as Yahoo sent them:
  ``quoteType, currency, financialCurrency, priceToBook, trailingPE, forwardPE,
  priceToSalesTrailing12Months, debtToEquity, currentRatio, marketCap, sharesOutstanding``
  (absent fields are left out; a non-finite number is kept as the string "NaN"/"Infinity" so
  that replay reproduces the live BAD_RESPONSE).
- ``balance/<SYMBOL>``: ``t`` = fetch time, ``v`` = ``{period_end, freq, current_assets,
  total_liabilities, shares}`` from the newest statement column that has current assets and
  total liabilities (``shares`` = ordinary shares number of that column, or null).

- ``splits/<SYMBOL>`` and ``splits/<SYMBOL>/listed``: Yahoo's split history
  (``Ticker.splits``), which the EDGAR metrics need to put filed share counts in the units of
  the split-adjusted close (see ``signalops.adapters.edgar``). Live, it is fetched with the same
  session, cached like the snapshots, and a failure makes the EDGAR per-share answer UNKNOWN
  (a missing split would make it wrong by the split's ratio). In a replay, a company with none
  recorded whose filed share counts jump by a split's ratio is NO_SPLIT_HISTORY alike.

Time: an observation's ``as_of`` is the fetch time of the snapshot it was computed from (for
``ncav_per_share`` the older of the info and balance-sheet snapshots); ``detail.period_end``
says which statement the balance-sheet numbers are from. A live fetch that completes shortly
after ``as_of`` (the loop's own latency, up to ``LIVE_SKEW`` seconds) is stamped ``as_of``; a live
adapter asked about an older ``as_of`` leaves the true fetch time, which the base adapter refuses
as LOOK_AHEAD (today's numbers were not known then; use a replay for the past).

Not applicable: crypto assets (``KNOWN_CRYPTO``, by base symbol: BTC, BTC-USD, BTC/USDT, and
the assets a configuration routes to one of Yahoo's crypto symbols, ``RNDR: {symbol:
RNDR-USD}``) are answered NOT_APPLICABLE without asking Yahoo, and so is any symbol whose Yahoo
``quoteType`` is CRYPTOCURRENCY, CURRENCY, FUTURE, INDEX or OPTION. Nothing is ever invented for
them.

Currencies (CURRENCY_MISMATCH): Yahoo quotes the price in ``currency`` and the statements in
``financialCurrency``. Ratios that divide a price-side amount by a statement-side amount are
meaningless when the two differ (an ADR priced in USD reporting in CNY, a London share priced in
pence "GBp" reporting in pounds "GBP"; the comparison is case-sensitive on purpose), and Yahoo
does not reliably convert. So these metrics are refused with CURRENCY_MISMATCH when the two
currencies differ, and with NO_DATA when either is unknown (the mix cannot be ruled out):

- ``price_to_book`` (price / book value per share), ``trailing_pe`` (price / trailing EPS),
  ``forward_pe`` (price / forward EPS estimate), ``price_to_sales`` (market cap / revenue);
- ``ncav_per_share``: computed from statements only, but it is in the statement currency while
  every other amount a strategy sees (price, market cap) is in the trading currency, and its
  purpose is to be compared with the share price (net-net screens), so it is refused too.

Not flagged: ``debt_to_equity`` and ``current_ratio`` (both sides from the statements) and
``market_cap`` (price x shares, in the trading currency; ``detail.currency`` names it).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Protocol, cast

from signalops.adapters.base import BaseAdapter, live_time
from signalops.adapters.edgar import (
    EDGAR_METRICS,
    EDGAR_ONLY,
    PER_SHARE_METRICS,
    Close,
    EdgarClient,
    EdgarFactsFeed,
    FactsFeed,
    PriceSource,
    ReplayFactsFeed,
    ShareJump,
    Split,
    StoreCloses,
    no_split_history,
    point_in_time,
    split_listing,
    stored_splits,
    unrecorded_splits,
)
from signalops.adapters.hints import provide
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.builtin import FUNDAMENTAL, KNOWN_CRYPTO, base_symbol
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.extras import require
from signalops.observation import Observation, Request

log = logging.getLogger(__name__)

SOURCE = "fundamental"


# When the four bundled quoteSummary files were recorded (their HTTP Date headers are 09:34:51 to
# 09:35:29 UTC on 2025-02-24); the bundled snapshots are dated here.
BUNDLED_RECORDED_AT = datetime(2025, 2, 24, 9, 35, tzinfo=UTC)

NO_FUNDAMENTALS_QUOTE_TYPES = frozenset({"CRYPTOCURRENCY", "CURRENCY", "FUTURE", "INDEX", "OPTION"})

# metric -> Yahoo info field
INFO_FIELDS: dict[str, str] = {
    "price_to_book": "priceToBook",
    "trailing_pe": "trailingPE",
    "forward_pe": "forwardPE",
    "price_to_sales": "priceToSalesTrailing12Months",
    "debt_to_equity": "debtToEquity",
    "current_ratio": "currentRatio",
    "market_cap": "marketCap",
}
# Ratios whose negative value measures nothing (what it would be of), and would pass a screen's
# ``< threshold`` as the cheapest or soundest: NOT_APPLICABLE, as EDGAR answers them.
NOT_A_VALUATION_BELOW_ZERO = {
    "price_to_book": "a price-to-book of a negative book",
    "debt_to_equity": "debt to negative equity",
    "trailing_pe": "a P/E of losses",
    "forward_pe": "a P/E of expected losses",
}
# Metrics that combine the price side (currency) with the statement side (financialCurrency).
MIXES_PRICE_AND_STATEMENTS = frozenset(
    {"price_to_book", "trailing_pe", "forward_pe", "price_to_sales", "ncav_per_share"}
)
INFO_KEYS = (
    "quoteType",
    "currency",
    "financialCurrency",
    *INFO_FIELDS.values(),
    "sharesOutstanding",
)
# The quoteSummary modules yfinance requests for .info, in its order (a later module's field wins
# when two modules carry the same name, as in yfinance's flattening).
INFO_MODULES = (
    "financialData",
    "quoteType",
    "defaultKeyStatistics",
    "assetProfile",
    "summaryDetail",
)

Snapshot = tuple[float, dict[str, Any]]  # (data time in Unix seconds, raw fields)


class FundamentalsFeed(Protocol):
    """Where fundamentals come from: Yahoo through yfinance (live) or the store (replay)."""

    name: str

    def info(self, symbol: str, as_of: float) -> Snapshot:
        """The info fields of ``symbol`` and their data time (never after ``as_of`` in replay)."""
        ...

    def balance(self, symbol: str, as_of: float) -> Snapshot:
        """The newest complete balance-sheet column of ``symbol`` and its data time."""
        ...


class SplitsFeed(Protocol):
    """Where a company's split history comes from: Yahoo (live) or the store (replay)."""

    def splits(self, symbol: str, as_of: float) -> Sequence[Split]:
        """Every split known for ``symbol`` (those after ``as_of`` too: the stored prices are
        divided by them)."""
        ...


def info_key(symbol: str) -> str:
    return f"info/{symbol}"


def balance_key(symbol: str) -> str:
    return f"balance/{symbol}"


# --- live: yfinance -------------------------------------------------------------------------------


@dataclass
class _Cached:
    monotonic: float
    snapshot: Snapshot


class YahooFundamentalsFeed:
    """Live fundamentals through yfinance, with retries, a TTL cache and optional recording.

    ``session`` is handed to ``yfinance.Ticker`` (a curl_cffi or requests ``Session``; None lets
    yfinance create its browser-impersonating default). It is the test seam: tests pass a
    ``requests.Session`` whose transport adapter serves recorded Yahoo responses.

    yfinance swallows HTTP errors by default (``.info`` comes back empty); every call here runs
    with ``yfinance.config.debug.hide_exceptions`` off so failures surface and get a reason code.
    yfinance itself retries a failed request once (after refreshing its cookie and crumb); on top
    of that this feed retries rate limits, 5xx, timeouts and connection errors ``retries`` times
    with doubling back-off from ``backoff`` seconds (capped at ``max_backoff``), each time with a
    fresh ``Ticker`` and yfinance's response cache cleared, so a retry really asks again.
    """

    name = "yahoo"

    def __init__(
        self,
        session: Any = None,
        *,
        record: SnapshotStore | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        cache_ttl: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.session = session
        self.record = record
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.cache_ttl = cache_ttl
        self.sleep = sleep
        self.clock = clock
        self.now = now or (lambda: datetime.now(UTC))
        self._cache: dict[tuple[str, str], _Cached] = {}
        self._splits: dict[str, tuple[float, list[Split]]] = {}

    def info(self, symbol: str, as_of: float) -> Snapshot:
        return self._cached("info", symbol, as_of, self._fetch_info)

    def splits(self, symbol: str, as_of: float) -> list[Split]:
        """Yahoo's split history (``Ticker.splits``: the split events of the whole chart),
        cached for ``cache_ttl`` and recorded with a mark even when it lists none."""
        hit = self._splits.get(symbol)
        if hit is None or self.clock() - hit[0] >= self.cache_ttl:
            series = self._with_retries(
                symbol, "split history", lambda: self._ticker(symbol).splits
            )
            listed = yahoo_splits(series, symbol)
            if self.record is not None:
                self.record.append(SOURCE, split_listing(symbol, listed, self.now().timestamp()))
            hit = self._splits[symbol] = (self.clock(), listed)
        return hit[1]

    def balance(self, symbol: str, as_of: float) -> Snapshot:
        return self._cached("balance", symbol, as_of, self._fetch_balance)

    def _cached(
        self, kind: str, symbol: str, as_of: float, fetch: Callable[[str], dict[str, Any]]
    ) -> Snapshot:
        hit = self._cache.get((kind, symbol))
        if hit is not None and self.clock() - hit.monotonic < self.cache_ttl:
            fetched, fields = hit.snapshot
        else:
            fields = fetch(symbol)
            fetched = self.now().timestamp()
            self._cache[(kind, symbol)] = _Cached(self.clock(), (fetched, fields))
            if self.record is not None:
                key = info_key(symbol) if kind == "info" else balance_key(symbol)
                self.record.append(SOURCE, [(key, fetched, fields)])
        return live_time(fetched, as_of), fields

    def _ticker(self, symbol: str) -> Any:
        require("yfinance", "equities", "Yahoo Finance fundamentals")
        import yfinance

        return yfinance.Ticker(symbol, session=self.session)

    def _fetch_info(self, symbol: str) -> dict[str, Any]:
        info = self._with_retries(symbol, "info", lambda: self._ticker(symbol).info)
        if not isinstance(info, dict):
            raise _error(f"Yahoo info for {symbol} is {type(info).__name__}", Code.BAD_RESPONSE)
        fields = info_fields(info)
        if "quoteType" not in fields:
            raise _error(f"Yahoo returned no quote for {symbol}", Code.NO_DATA)
        return fields

    def _fetch_balance(self, symbol: str) -> dict[str, Any]:
        for freq in ("quarterly", "yearly"):
            try:
                frame = self._with_retries(
                    symbol,
                    f"{freq} balance sheet",
                    partial(self._balance_sheet, symbol, freq),
                )
            except AdapterError as exc:
                if exc.reason == Code.NO_DATA:
                    continue
                raise
            found = latest_balance(frame)
            if found is not None:
                return {**found, "freq": freq}
        raise _error(
            f"Yahoo has no balance sheet with current assets and total liabilities for {symbol}",
            Code.NO_DATA,
        )

    def _balance_sheet(self, symbol: str, freq: str) -> Any:
        return self._ticker(symbol).get_balance_sheet(freq=freq)

    def _with_retries(self, symbol: str, what: str, call: Callable[[], Any]) -> Any:
        delay = self.backoff
        attempts = self.retries + 1
        for attempt in range(attempts):
            clear_yfinance_cache()
            try:
                with yfinance_raises():
                    return call()
            except Exception as exc:  # yfinance raises many types; classify or re-raise
                error, retryable = classify(exc, f"{what} of {symbol}")
                if error is None:
                    raise
                if not retryable:
                    raise error from None
                if attempt + 1 == attempts:
                    message = f"{error.message} (gave up after {attempts} attempts)"
                    raise _error(message, error.reason) from None
                log.info("fundamental: %s; retrying in %gs", error.message, delay)
            self.sleep(min(delay, self.max_backoff))
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def yfinance_raises() -> Iterator[None]:
    import yfinance

    previous = yfinance.config.debug.hide_exceptions
    yfinance.config.debug.hide_exceptions = False
    try:
        yield
    finally:
        yfinance.config.debug.hide_exceptions = previous


def clear_yfinance_cache() -> None:
    # yfinance keeps fundamentals-timeseries responses (failed ones included) in a process-wide
    # LRU cache for the day; our own TTL cache decides freshness, so a fetch always asks again.
    from yfinance.data import YfData

    clear = getattr(YfData.cache_get, "cache_clear", None)
    if clear is not None:
        clear()


_TIMEOUT_NAMES = ("Timeout", "TimeoutError", "ConnectTimeout", "ReadTimeout")
_CONNECTION_NAMES = ("ConnectionError", "DNSError", "ProxyError", "SSLError", "RemoteDisconnected",
                     "ChunkedEncodingError", "ConnectionResetError", "CurlError")  # fmt: skip


def classify(exc: Exception, what: str) -> tuple[AdapterError | None, bool]:
    """An error raised inside yfinance -> (AdapterError with a reason, retryable); (None, _) if
    it is not a data-source failure (a bug), which the caller re-raises."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "YFRateLimitError" in names:
        return _error(f"Yahoo rate limited the {what}", Code.RATE_LIMITED), True
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if isinstance(status, int) and status >= 400:
        if status == 429:
            return _error(f"Yahoo rate limited the {what} (HTTP 429)", Code.RATE_LIMITED), True
        if status == 404:
            message = f"Yahoo does not know the symbol ({what}: HTTP 404)"
            return _error(message, Code.UNKNOWN_SYMBOL), False
        return _error(f"HTTP {status} from Yahoo for the {what}", Code.HTTP_ERROR), status >= 500
    if names & set(_TIMEOUT_NAMES) or isinstance(exc, TimeoutError):
        return _error(f"Yahoo timed out on the {what}", Code.TIMEOUT), True
    if names & set(_CONNECTION_NAMES) or isinstance(exc, ConnectionError):
        message = f"connection to Yahoo failed on the {what} ({type(exc).__name__})"
        return _error(message, Code.CONNECTION_ERROR), True
    if "YFException" in names:
        if "empty" in str(exc).lower():
            return _error(f"Yahoo returned an empty {what}", Code.NO_DATA), False
        return _error(f"Yahoo's {what} could not be parsed: {exc}", Code.BAD_RESPONSE), False
    if isinstance(exc, ValueError | KeyError | TypeError | AttributeError | IndexError):
        # Malformed JSON (JSONDecodeError is a ValueError) or a body of an unexpected shape that
        # yfinance tripped over while flattening it.
        detail = f"{type(exc).__name__}: {exc}"
        return _error(
            f"malformed Yahoo response for the {what} ({detail})", Code.BAD_RESPONSE
        ), False
    return None, False


def yahoo_splits(series: Any, symbol: str) -> list[Split]:
    """yfinance's splits (a Series of new-per-old ratios indexed by the ex-day, in the
    exchange's time zone) as splits dated in New York."""
    from signalops.adapters.calendar import NEW_YORK

    found = []
    for stamp, ratio in [] if series is None else series.items():
        day = stamp.tz_convert(NEW_YORK).date() if stamp.tzinfo else stamp.date()
        value = _finite_or_none(ratio)
        if value is None or value <= 0:
            message = f"Yahoo lists a split of {symbol} on {day} of {ratio!r}"
            raise _error(message, Code.BAD_RESPONSE)
        found.append(Split(day, value))
    return sorted(found, key=lambda split: split.ex_date)


def info_fields(info: dict[str, Any]) -> dict[str, Any]:
    """The fields this adapter reads, JSON-safe ({raw, fmt} -> raw; non-finite -> a string)."""
    fields: dict[str, Any] = {}
    for key in INFO_KEYS:
        value = _raw(info.get(key))
        if value is None:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            value = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
        elif not isinstance(value, str | int | float | bool):
            value = str(value)
        fields[key] = value
    return fields


def latest_balance(frame: Any) -> dict[str, Any] | None:
    """The newest column of a yfinance balance sheet with current assets and total liabilities."""
    if frame is None or getattr(frame, "empty", True):
        return None
    rows = {re.sub(r"\s+", "", str(label)): label for label in frame.index}
    assets, liabilities = rows.get("CurrentAssets"), rows.get("TotalLiabilitiesNetMinorityInterest")
    if assets is None or liabilities is None:
        return None
    shares = rows.get("OrdinarySharesNumber")
    for column in sorted(frame.columns, reverse=True):
        current_assets = _finite_or_none(frame.at[assets, column])
        total_liabilities = _finite_or_none(frame.at[liabilities, column])
        if current_assets is None or total_liabilities is None:
            continue
        period = column.date().isoformat() if hasattr(column, "date") else str(column)
        return {
            "period_end": period,
            "current_assets": current_assets,
            "total_liabilities": total_liabilities,
            "shares": None if shares is None else _finite_or_none(frame.at[shares, column]),
        }
    return None


def _finite_or_none(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


# --- replay: the snapshot store -------------------------------------------------------------------


class ReplayFundamentalsFeed:
    """Fundamentals snapshots from the store: the last one at or before ``as_of``, never later.

    Its only NO_DATA is a snapshot that was never recorded; the adapter adds to that message the
    command that provides the metric asked (``replay_hint``)."""

    name = "replay"

    def __init__(self, store: SnapshotStore) -> None:
        self.store = store

    def info(self, symbol: str, as_of: float) -> Snapshot:
        return self._last(info_key(symbol), "fundamentals snapshot", symbol, as_of)

    def balance(self, symbol: str, as_of: float) -> Snapshot:
        return self._last(balance_key(symbol), "balance sheet", symbol, as_of)

    def _last(self, key: str, what: str, symbol: str, as_of: float) -> Snapshot:
        series = self.store.series(SOURCE, key)
        point = None if series is None else series.last_at_or_before(as_of)
        if point is None:
            when = datetime.fromtimestamp(as_of, UTC).isoformat()
            raise _error(f"no recorded {what} for {symbol} at or before {when}", Code.NO_DATA)
        t, value = point
        if not isinstance(value, dict):
            raise _error(f"recorded {what} for {symbol} is not an object", Code.BAD_SNAPSHOT)
        return t, value


class StoredSplits:
    """Split histories from the store (``splits/<SYMBOL>``), every one of them: the stored
    closes are divided by the later splits too.

    A company with no split history recorded is read as never having split, unless its
    recorded share counts say it did (``edgar.unrecorded_splits``): that is NO_SPLIT_HISTORY,
    so its per-share answers are UNKNOWN rather than off by the split's ratio. Checked once per
    company (a replay's store does not change under it)."""

    def __init__(self, store: SnapshotStore, facts: ReplayFactsFeed | None = None) -> None:
        self.store = store
        self.facts = facts or ReplayFactsFeed(store)
        self._unrecorded: dict[str, list[ShareJump]] = {}

    def splits(self, symbol: str, as_of: float) -> list[Split]:
        ticker = symbol.upper()
        jumps = self._unrecorded.get(ticker)
        if jumps is None:
            jumps = self._unrecorded[ticker] = unrecorded_splits(self.store, ticker, self.facts)
        if jumps:
            raise no_split_history(ticker, jumps, self.store.directory)
        return stored_splits(self.store, ticker)


def replay_hint(metric: str, symbol: str) -> str:
    """How to get replay data for ``metric`` when no Yahoo snapshot was recorded: EDGAR's
    company facts answer every metric they can (with the daily closes for the price-based
    ones); Yahoo's snapshots have no history to download, only a recorded live run has them."""
    if metric in EDGAR_METRICS:
        return f"{provide(SOURCE, symbol)} (SEC EDGAR company facts answer {metric} in replay)"
    return (
        f"Yahoo's {metric} has no history to download: record it with 'signalops run "
        f"STRATEGY --record DIR' (a live run keeps every snapshot it fetches) and replay DIR "
        f"('run --replay DIR', 'backtest --data DIR')"
    )


# --- the adapter ----------------------------------------------------------------------------------


class FundamentalAdapter(BaseAdapter):
    """Fundamentals from two providers: yfinance snapshots and EDGAR point-in-time facts.

    Which one answers a metric (also stated in the catalogue, ``live_from``/``replay_from``):
    ``edgar_metrics`` go to EDGAR, the rest to yfinance. Live, EDGAR answers only what yfinance
    cannot (``book_value_per_share``, ``shares_outstanding``) unless ``point_in_time=True``; in
    a replay EDGAR answers every metric it can for a company whose facts the store holds, and
    yfinance snapshots answer the rest. Price-based EDGAR metrics read the daily close from
    ``prices`` (the technical candles in the store).

    Split histories (for the EDGAR metrics' share units): ``splits``, a fixed table (a symbol
    it does not list never split), else ``split_feed``: Yahoo's live (``Ticker.splits``,
    recorded with the rest), the store's in a replay (``splits/<SYMBOL>``: bundled, imported,
    downloaded with the candles or recorded).
    """

    source = SOURCE
    catalogue = FUNDAMENTAL

    def __init__(
        self,
        feed: FundamentalsFeed,
        *,
        crypto: Iterable[str] = KNOWN_CRYPTO,
        facts: FactsFeed | None = None,
        prices: PriceSource | None = None,
        splits: Mapping[str, Sequence[Split]] | None = None,
        split_feed: SplitsFeed | None = None,
        edgar_metrics: Iterable[str] = EDGAR_ONLY,
        fallback_to_yahoo: bool = False,
    ) -> None:
        self.feed = feed
        self.crypto = frozenset(c.upper() for c in crypto)
        self.facts = facts
        self.prices = prices
        # A table given is the whole truth: a symbol it does not list never split.
        self.splits = None if splits is None else {k.upper(): list(v) for k, v in splits.items()}
        self.split_feed = split_feed
        self.edgar_metrics = frozenset(edgar_metrics) & EDGAR_METRICS
        self.fallback_to_yahoo = fallback_to_yahoo

    @classmethod
    def live(
        cls,
        session: Any = None,
        *,
        record: SnapshotStore | None = None,
        crypto: Iterable[str] = KNOWN_CRYPTO,
        edgar: EdgarClient | None = None,
        prices: PriceSource | None = None,
        splits: Mapping[str, Sequence[Split]] | None = None,
        point_in_time: bool = False,
        **options: Any,
    ) -> FundamentalAdapter:
        """``options``: retries, backoff, max_backoff, cache_ttl, sleep, clock, now.

        ``edgar`` defaults to a client whose User-Agent comes from ``SIGNALOPS_SEC_USER_AGENT``;
        ``point_in_time`` makes EDGAR answer every metric it can (price-based ones need
        ``prices``). Split histories come from Yahoo through ``session`` unless ``splits``
        gives them."""
        now = options.get("now")
        facts = EdgarFactsFeed(edgar or EdgarClient(), record=record, now=now)
        yahoo = YahooFundamentalsFeed(session, record=record, **options)
        return cls(
            yahoo,
            crypto=crypto,
            facts=facts,
            prices=prices,
            splits=splits,
            split_feed=yahoo,
            edgar_metrics=EDGAR_METRICS if point_in_time else EDGAR_ONLY,
        )

    @classmethod
    def replay(
        cls,
        store: SnapshotStore,
        *,
        crypto: Iterable[str] = KNOWN_CRYPTO,
        price_exchange: str = "yfinance",
        splits: Mapping[str, Sequence[Split]] | None = None,
    ) -> FundamentalAdapter:
        """Splits come from ``splits`` else the store's ``splits/<SYMBOL>`` series."""
        facts = ReplayFactsFeed(store)
        return cls(
            ReplayFundamentalsFeed(store),
            crypto=crypto,
            facts=facts,
            prices=StoreCloses(store, exchange=price_exchange),
            splits=splits,
            split_feed=StoredSplits(store, facts),
            edgar_metrics=EDGAR_METRICS,
            fallback_to_yahoo=True,
        )

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        if not request.asset:
            raise _error("fundamental metrics need an asset", Code.BAD_REQUEST)
        symbol = request.asset.strip().upper()
        if base_symbol(symbol) in self.crypto:
            raise _error(
                f"{symbol} is a crypto asset: it has no company fundamentals", Code.NOT_APPLICABLE
            )
        metric = request.metric
        if self._from_edgar(metric, symbol):
            return self._observe_edgar(metric, symbol, as_of, batch)
        when = as_of.timestamp()
        info_time, info = self._load(batch, "info", symbol, when, metric)
        quote_type = str(info.get("quoteType", "")).upper()
        if quote_type in NO_FUNDAMENTALS_QUOTE_TYPES:
            raise _error(
                f"{symbol} is a {quote_type} on Yahoo: it has no company fundamentals",
                Code.NOT_APPLICABLE,
            )
        if metric in MIXES_PRICE_AND_STATEMENTS:
            check_currencies(info, symbol, metric)
        detail: dict[str, Any] = {
            "symbol": symbol,
            "feed": self.feed.name,
            "currency": info.get("currency"),
            "financial_currency": info.get("financialCurrency"),
        }
        if metric == "ncav_per_share":
            balance_time, balance = self._load(batch, "balance", symbol, when, metric)
            value, more = ncav_per_share(balance, info, symbol)
            detail.update(more)
            data_time = min(info_time, balance_time)
        else:
            field = INFO_FIELDS[metric]
            value = info_number(info, field, symbol)
            if value < 0 and metric in NOT_A_VALUATION_BELOW_ZERO:
                raise _error(
                    f"Yahoo's {field} of {symbol} is {value:,.2f}: "
                    f"{NOT_A_VALUATION_BELOW_ZERO[metric]} is not a valuation",
                    Code.NOT_APPLICABLE,
                )
            detail["field"] = field
            data_time = info_time
        return Observation(
            value, datetime.fromtimestamp(data_time, UTC), SOURCE, fetched_at=as_of, detail=detail
        )

    def _from_edgar(self, metric: str, symbol: str) -> bool:
        if metric not in self.edgar_metrics or self.facts is None:
            return False
        if metric in EDGAR_ONLY or not self.fallback_to_yahoo:
            return True
        return not isinstance(self.facts, ReplayFactsFeed) or self.facts.has(symbol)

    def _observe_edgar(
        self, metric: str, symbol: str, as_of: datetime, batch: dict[Any, Any]
    ) -> Observation:
        assert self.facts is not None  # _from_edgar checked it
        when = as_of.timestamp()
        facts = self.facts
        found = _once(batch, (SOURCE, "edgar", symbol), lambda: facts.facts(symbol, when))
        # A ratio of two statement figures needs no splits (nor a failure to get them).
        splits = self._splits(batch, symbol, when) if metric in PER_SHARE_METRICS else ()
        figures = point_in_time(symbol, found, when, splits=splits)
        figure = figures.answer(metric, lambda: self._close(symbol, when))
        return Observation(
            figure.value,
            datetime.fromtimestamp(figure.time, UTC),
            SOURCE,
            fetched_at=as_of,
            detail=figure.detail,
        )

    def _close(self, symbol: str, when: float) -> Close:
        if self.prices is None:
            raise _error(
                f"no price source for {symbol}: price-based EDGAR metrics need daily closes",
                Code.NO_PRICE,
            )
        return self.prices.close(symbol, when)

    def _splits(self, batch: dict[Any, Any], symbol: str, when: float) -> Sequence[Split]:
        """The split history of ``symbol``, once per batch (a failure too)."""
        if self.splits is not None or self.split_feed is None:
            return (self.splits or {}).get(symbol, ())
        feed = self.split_feed
        found = _once(batch, (SOURCE, "splits", symbol), lambda: feed.splits(symbol, when))
        return cast(Sequence[Split], found)

    def _load(
        self, batch: dict[Any, Any], kind: str, symbol: str, when: float, metric: str
    ) -> Snapshot:
        """One fetch per symbol and kind per batch; a failure is remembered for the batch too,
        so eight metrics of a symbol whose fetch fails do not retry it eight times. A snapshot
        never recorded names the command that provides ``metric``."""
        key = (SOURCE, kind, symbol)
        if key not in batch:
            try:
                getter = self.feed.info if kind == "info" else self.feed.balance
                batch[key] = getter(symbol, when)
            except AdapterError as exc:
                batch[key] = exc
        found = batch[key]
        if isinstance(found, AdapterError):
            if isinstance(self.feed, ReplayFundamentalsFeed) and found.reason == Code.NO_DATA:
                raise _error(f"{found.message}: {replay_hint(metric, symbol)}", found.reason)
            raise found
        return cast(Snapshot, found)


def check_currencies(info: dict[str, Any], symbol: str, metric: str) -> None:
    price_currency, statement_currency = info.get("currency"), info.get("financialCurrency")
    if not price_currency or not statement_currency:
        raise _error(
            f"{metric} of {symbol} mixes price and financial statements, but Yahoo did not say "
            f"both currencies (price: {price_currency}, statements: {statement_currency})",
            Code.NO_DATA,
        )
    if price_currency != statement_currency:
        raise _error(
            f"{metric} of {symbol} mixes a price in {price_currency} with statements in "
            f"{statement_currency}; refusing to divide across currencies",
            Code.CURRENCY_MISMATCH,
        )


def info_number(info: dict[str, Any], field: str, symbol: str) -> float:
    if field not in info:
        raise _error(
            f"Yahoo has no {field} for {symbol} (e.g. negative earnings have no P/E)", Code.NO_DATA
        )
    return _number(info[field], f"{field} of {symbol}")


def ncav_per_share(
    balance: dict[str, Any], info: dict[str, Any], symbol: str
) -> tuple[float, dict[str, Any]]:
    """(current assets - total liabilities) / shares, with the shares of the same statement
    column (ordinary shares number), else Yahoo's current shares outstanding."""
    assets = _number(balance.get("current_assets"), f"current assets of {symbol}")
    liabilities = _number(balance.get("total_liabilities"), f"total liabilities of {symbol}")
    shares_source = "balance_sheet"
    shares_value = balance.get("shares")
    if shares_value is None:
        shares_source = "info.sharesOutstanding"
        shares_value = info.get("sharesOutstanding")
        if shares_value is None:
            raise _error(f"no share count for {symbol}", Code.NO_DATA)
    shares = _number(shares_value, f"share count of {symbol}")
    if shares <= 0:
        raise _error(f"share count of {symbol} is {shares:g}", Code.BAD_RESPONSE)
    detail = {
        "period_end": balance.get("period_end"),
        "current_assets": assets,
        "total_liabilities": liabilities,
        "shares": shares,
        "shares_source": shares_source,
    }
    return (assets - liabilities) / shares, detail


def _number(value: Any, what: str) -> float:
    value = _raw(value)
    if isinstance(value, bool) or value is None:
        raise _error(f"{what} is {value!r}, not a number", Code.BAD_RESPONSE)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise _error(f"{what} is {value!r}, not a number", Code.BAD_RESPONSE) from None
    if not isinstance(value, int | float):
        raise _error(f"{what} is {type(value).__name__}, not a number", Code.BAD_RESPONSE)
    try:
        number = float(value)
    except OverflowError:
        raise _error(f"{what} is out of range", Code.BAD_RESPONSE) from None
    if not math.isfinite(number):
        raise _error(f"{what} is {number}, not a finite number", Code.BAD_RESPONSE)
    return number


def _raw(value: Any) -> Any:
    """Yahoo's formatted values come as {raw, fmt} (and {} for 'none'); the number is ``raw``."""
    if isinstance(value, dict):
        return value.get("raw")
    return value


def _error(message: str, reason: Code) -> AdapterError:
    return AdapterError(message, source=SOURCE, reason=reason)


# --- bundled data ---------------------------------------------------------------------------------


def flatten_modules(modules: dict[str, Any]) -> dict[str, Any]:
    """Flatten quoteSummary module bodies the way yfinance does (a later module's field wins);
    modules yfinance does not request (price, summaryProfile) only fill gaps."""
    flat: dict[str, Any] = {}
    ordered = [m for m in modules if m not in INFO_MODULES] + [
        m for m in INFO_MODULES if m in modules
    ]
    for name in ordered:
        body = modules[name]
        if isinstance(body, dict):
            for key, value in body.items():
                value = _raw(value)
                if value is not None:
                    flat[key] = value
    return flat


def import_bundled(data_dir: Path) -> Iterator[tuple[str, float, Any]]:
    """``fundamentals/yahoo_quoteSummary_<SYMBOL>.json`` -> ``info/<SYMBOL>`` snapshots dated
    2025-02-24T09:35:00Z, when the files were recorded."""
    t = BUNDLED_RECORDED_AT.timestamp()
    for path in sorted((Path(data_dir) / "fundamentals").glob("yahoo_quoteSummary_*.json")):
        document = json.loads(path.read_text(encoding="utf-8"))
        symbol = str(document.get("ticker") or path.stem.rsplit("_", 1)[-1]).upper()
        fields = info_fields(flatten_modules(document["modules"]))
        yield info_key(symbol), t, fields


def _once(batch: dict[Any, Any], key: tuple[str, ...], fetch: Callable[[], Any]) -> Any:
    """``fetch()`` once per batch and key; its failure is kept too, and raised for each ask."""
    if key not in batch:
        try:
            batch[key] = fetch()
        except AdapterError as exc:
            batch[key] = exc
    found = batch[key]
    if isinstance(found, AdapterError):
        raise found
    return found
