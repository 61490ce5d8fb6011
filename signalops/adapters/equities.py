"""Daily candles of equities and ETFs: live through yfinance, replayed from the snapshot store.

The technical source reads an asset on a ``yfinance`` venue (``signalops.venues``) through these
feeds and computes the same TA-Lib indicators on them as on crypto candles.

Time: a daily bar is known at the US market's close, 16:00 America/New_York on its date, never
before (``signalops.adapters.calendar``): at 15:59 New York the day's close is not visible, at
16:00 it is. Weekends and exchange holidays have no bar, so on them the previous session's close
is the latest observation, with its own data time, and a leaf's ``max_age`` applies to it.

Prices are **split-adjusted, not dividend-adjusted**: Yahoo's Open/High/Low/Close (yfinance
``history(auto_adjust=False)``), which every later split divides, as are the equity files
``data import`` reads into the store. So a series never jumps at a split, and a per-share
fundamental must be expressed in today's shares to be compared with it: the EDGAR adapter does
that conversion (``signalops.adapters.edgar``). Dividends are not added back; ``Adj Close`` is
not used.

Replay series: ``candles/yfinance/<SYMBOL>/1d``, ``t`` = 16:00 New York on the bar's date,
``v`` = ``[open, high, low, close, volume]``; the live feed records the same records.
Only the daily timeframe exists: any other is NOT_APPLICABLE.

Yahoo's cryptocurrencies (``BTC-USD``, ``signalops.venues.yahoo_crypto``) come through the same
feeds but are no equities: their bars run every day and each covers a UTC day (Yahoo lists them
on exchange CCC, time zone UTC), so a bar is known at the next 00:00 UTC (``t`` of its series),
not at 16:00 New York on its date, four or five hours before it closes; and their candles have
no sessions (a missing day is missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from signalops.adapters import hints
from signalops.adapters.calendar import NEW_YORK, session_close
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import SOURCE, Candles, _to_candles, plausible_candle, series_key
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.extras import require
from signalops.venues import yahoo_crypto

EXCHANGE = "yfinance"
DAY = 86400

__all__ = ["EXCHANGE", "EquityReplayFeed", "YahooCandleFeed", "require_daily"]


def require_daily(asset: str, timeframe: int) -> None:
    """Equities have daily candles only: any other timeframe is NOT_APPLICABLE."""
    if timeframe != DAY:
        raise AdapterError(
            f"{asset} is an equity with daily candles only: timeframe "
            f"{format_duration(timeframe)} is not available (use timeframe: 1d)",
            source=SOURCE,
            reason=Code.NOT_APPLICABLE,
        )


class EquityReplayFeed:
    """Recorded daily candles of equities: never a bar before its 16:00 New York close."""

    def __init__(self, store: SnapshotStore, *, symbols: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.name = EXCHANGE
        self.symbols = dict(symbols or {})

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        require_daily(asset, timeframe)
        symbol = self.symbols.get(asset) or asset
        key = series_key(EXCHANGE, symbol, timeframe)
        series = self.store.series(SOURCE, key)
        if series is None:
            provide = hints.candles(
                asset,
                symbol,
                EXCHANGE,
                configured=bool(self.symbols.get(asset)),
                timeframe=timeframe,
                as_of=as_of,
                bars=bars,
                to=self.store.directory,
            )
            raise AdapterError(
                f"no recorded daily candles for {symbol} ({key}): {provide}",
                source=SOURCE,
                reason=Code.NO_DATA,
            )
        end = series.end(as_of)
        start = max(0, end - bars)
        return Candles(
            close_time=series.time_array[start:end],
            open=series.column(0)[start:end],
            high=series.column(1)[start:end],
            low=series.column(2)[start:end],
            close=series.column(3)[start:end],
            volume=series.column(4)[start:end],
            timeframe=DAY,
            sessions=not yahoo_crypto(symbol),
        )


class YahooCandleFeed:
    """Live daily candles through ``yfinance.Ticker(symbol, session=...).history(...)``.

    ``session`` is handed to yfinance (None: its own browser-impersonating session); it is the
    test seam, where tests serve recorded Yahoo chart responses. yfinance's errors surface (its
    ``hide_exceptions`` is turned off for the call) and become reason codes as in the
    fundamentals adapter. ``record`` keeps every closed bar fetched, under the replay key.
    """

    def __init__(
        self,
        session: Any = None,
        *,
        record: SnapshotStore | None = None,
        symbols: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.record = record
        self.name = EXCHANGE
        self.symbols = dict(symbols or {})

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Candles:
        require_daily(asset, timeframe)
        symbol = self.symbols.get(asset) or asset
        frame = self._history(symbol, as_of, bars)
        crypto = yahoo_crypto(symbol)
        closed = []
        for stamp, row in frame.iterrows():
            # yfinance dates a daily bar at midnight of its date in the exchange's time zone
            # (New York for a US stock, UTC for a cryptocurrency).
            close_time = _crypto_close(stamp) if crypto else _session_close(stamp)
            if close_time <= as_of:
                values = [row[c] for c in ("Open", "High", "Low", "Close", "Volume")]
                closed.append((close_time, *plausible_candle(values, symbol)))
        if self.record is not None and closed:
            key = series_key(EXCHANGE, symbol, DAY)
            self.record.append(SOURCE, ((key, c[0], list(c[1:])) for c in closed))
        return _to_candles(closed[-bars:], DAY, sessions=not crypto)

    def _history(self, symbol: str, as_of: float, bars: int) -> Any:
        require("yfinance", "equities", "Yahoo Finance prices")
        import yfinance

        from signalops.adapters.fundamental import classify, clear_yfinance_cache, yfinance_raises

        # ``bars`` sessions span about 7/5 as many calendar days, plus up to ten holidays a year.
        days = bars * 7 // 5 + bars // 25 + 10
        end = datetime.fromtimestamp(as_of, UTC).astimezone(NEW_YORK).date() + timedelta(days=1)
        clear_yfinance_cache()
        try:
            with yfinance_raises():
                frame = yfinance.Ticker(symbol, session=self.session).history(
                    start=end - timedelta(days=days),
                    end=end,
                    interval="1d",
                    auto_adjust=False,
                    actions=False,
                )
        except Exception as exc:  # yfinance raises many types; classify or re-raise
            error, _ = classify(exc, f"daily history of {symbol}")
            if error is None:
                raise
            raise AdapterError(error.message, source=SOURCE, reason=error.reason) from None
        if frame is None or frame.empty:
            raise AdapterError(
                f"Yahoo returned no daily history for {symbol}", source=SOURCE, reason=Code.NO_DATA
            )
        return frame


def _session_close(stamp: Any) -> float:
    """A stock's bar (a pandas Timestamp of its date) is known at its session's close."""
    return session_close(stamp.tz_convert(NEW_YORK).date() if stamp.tzinfo else stamp.date())


def _crypto_close(stamp: Any) -> float:
    """A cryptocurrency's bar covers its UTC day: known at the next 00:00 UTC."""
    day = stamp.tz_convert(UTC).date() if stamp.tzinfo else stamp.date()
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC).timestamp()
