"""Technical indicators over exchange candles: candles through ccxt, indicators through TA-Lib.

Only *closed* candles count: at ``as_of`` the last usable candle is the one whose close time
(open + timeframe) is at or before ``as_of``, and an observation's data time is that close. Live
candles come from any ccxt exchange (default binance) with pagination; replayed candles come
from the snapshot store (series ``candles/<exchange>/<BASE>/<QUOTE>/<timeframe>``, ``t`` = close
time, ``v`` = ``[open, high, low, close, volume]``). Both feed the same indicator code.

Gaps (missing candles, e.g. an exchange outage) are detected and reported in the observation's
detail; indicators are computed over the candles that exist, and a missing *latest* candle shows
up as staleness, which the leaf's ``max_age`` turns into UNKNOWN.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import talib

from signalops.adapters.base import BaseAdapter
from signalops.adapters.catalogue import format_duration
from signalops.adapters.metrics import TECHNICAL
from signalops.adapters.store import SnapshotStore
from signalops.errors import AdapterError
from signalops.observation import Observation, Request

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

    def __len__(self) -> int:
        return len(self.close_time)

    def gaps(self) -> list[dict[str, Any]]:
        """Each run of missing candles: where it starts and how many are missing."""
        if len(self) < 2:
            return []
        steps = np.diff(self.close_time)
        found = []
        for i in np.nonzero(steps != self.timeframe)[0]:
            missing = round(float(steps[i]) / self.timeframe) - 1
            if missing > 0:
                start = self.close_time[i] + self.timeframe
                found.append({"first_missing_close": _iso(start), "missing": missing})
        return found


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
    ``ccxt.binance`` with rate limiting on. API keys are not needed for candles.
    """

    def __init__(
        self,
        exchange: Any = None,
        *,
        quote: str = "USDT",
        page_size: int = 1000,
        record: SnapshotStore | None = None,
    ) -> None:
        if exchange is None:
            import ccxt

            exchange = ccxt.binance({"enableRateLimit": True})
        self.exchange = exchange
        self.name = exchange.id
        self.quote = quote
        self.page_size = page_size
        self.record = record

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        import ccxt

        code = CCXT_TIMEFRAMES.get(timeframe)
        if code is None:
            raise AdapterError(
                f"timeframe {format_duration(timeframe)} is not supported",
                source=SOURCE,
                reason="BAD_REQUEST",
            )
        symbol = symbol_for(asset, self.quote)
        since_ms = int((as_of - (bars + 1) * timeframe) * 1000)
        rows: dict[int, list[float]] = {}
        max_pages = bars // self.page_size + 3
        try:
            for _ in range(max_pages):
                page = self.exchange.fetch_ohlcv(symbol, code, since=since_ms, limit=self.page_size)
                if not page:
                    break
                for row in page:
                    rows[int(row[0])] = row
                last_open = int(page[-1][0])
                if last_open / 1000 + timeframe > as_of or len(page) < self.page_size:
                    break
                since_ms = last_open + timeframe * 1000
        except ccxt.BadSymbol as exc:
            raise AdapterError(
                f"{self.name} has no market {symbol}: {exc}", source=SOURCE, reason="UNKNOWN_SYMBOL"
            ) from None
        except ccxt.RequestTimeout:
            raise AdapterError(f"{self.name} timed out", source=SOURCE, reason="TIMEOUT") from None
        except ccxt.DDoSProtection:
            raise AdapterError(
                f"{self.name} rate limited the request", source=SOURCE, reason="RATE_LIMITED"
            ) from None
        except ccxt.NetworkError as exc:
            raise AdapterError(
                f"{self.name} network error: {type(exc).__name__}",
                source=SOURCE,
                reason="CONNECTION_ERROR",
            ) from None
        except ccxt.ExchangeError as exc:
            raise AdapterError(
                f"{self.name} error: {exc}", source=SOURCE, reason="HTTP_ERROR"
            ) from None
        closed = []
        for open_ms in sorted(rows):
            row = rows[open_ms]
            close_time = open_ms / 1000 + timeframe
            if close_time <= as_of:
                closed.append((close_time, *(_finite(row[i], symbol) for i in range(1, 6))))
        if self.record is not None and closed:
            key = series_key(self.name, symbol, timeframe)
            self.record.append(SOURCE, ((key, c[0], list(c[1:])) for c in closed))
        return _to_candles(closed[-bars:], timeframe)


class ReplayCandleFeed:
    """Candles from the snapshot store: never one that closed after ``as_of``."""

    def __init__(
        self, store: SnapshotStore, *, exchange: str = "binance", quote: str = "USDT"
    ) -> None:
        self.store = store
        self.name = exchange
        self.quote = quote

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        symbol = symbol_for(asset, self.quote)
        series = self.store.series(SOURCE, series_key(self.name, symbol, timeframe))
        if series is None:
            raise AdapterError(
                f"no recorded {format_duration(timeframe)} candles for {symbol} on {self.name}",
                source=SOURCE,
                reason="NO_DATA",
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


def _finite(value: Any, symbol: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AdapterError(
            f"{symbol}: candle field {value!r} is not a number",
            source=SOURCE,
            reason="BAD_RESPONSE",
        ) from None
    if not math.isfinite(number):
        raise AdapterError(
            f"{symbol}: candle field is {number}", source=SOURCE, reason="BAD_RESPONSE"
        )
    return number


def _to_candles(rows: list[tuple[float, ...]], timeframe: int) -> Candles:
    array = np.asarray(rows, dtype=float).reshape(-1, 6)
    return Candles(*(np.ascontiguousarray(array[:, i]) for i in range(6)), timeframe=timeframe)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


# --- indicators --------------------------------------------------------------------------------

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

    def __init__(self, feed: CandleFeed) -> None:
        self.feed = feed

    @classmethod
    def live(cls, exchange: Any = None, *, record: SnapshotStore | None = None) -> TechnicalAdapter:
        return cls(CcxtCandleFeed(exchange, record=record))

    @classmethod
    def replay(cls, store: SnapshotStore, *, exchange: str = "binance") -> TechnicalAdapter:
        return cls(ReplayCandleFeed(store, exchange=exchange))

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        if request.asset is None:
            raise AdapterError(
                "technical metrics need an asset", source=SOURCE, reason="BAD_REQUEST"
            )
        params = dict(request.params)
        timeframe = int(params["timeframe"])
        needed = bars_needed(request.metric, params)
        bars = max(needed, 250)
        key = (request.asset, timeframe)
        candles = batch.get(key)
        if candles is None or (len(candles) < bars and batch.get((key, "bars"), 0) < bars):
            candles = self.feed.candles(request.asset, timeframe, as_of.timestamp(), bars)
            batch[key] = candles
            batch[(key, "bars")] = bars
        if len(candles) < needed:
            raise AdapterError(
                f"{request.metric} needs {needed} closed {format_duration(timeframe)} candles, "
                f"{len(candles)} available",
                source=SOURCE,
                reason="INSUFFICIENT_HISTORY",
            )
        value = INDICATORS[request.metric](candles, params)
        if not math.isfinite(value):
            raise AdapterError(
                f"{request.metric} is undefined on the available candles",
                source=SOURCE,
                reason="INSUFFICIENT_HISTORY",
            )
        data_time = datetime.fromtimestamp(float(candles.close_time[-1]), UTC)
        detail: dict[str, Any] = {"exchange": self.feed.name, "candles": len(candles)}
        gaps = candles.gaps()
        if gaps:
            detail["gaps"] = gaps
        return Observation(value, data_time, SOURCE, fetched_at=as_of, detail=detail)
