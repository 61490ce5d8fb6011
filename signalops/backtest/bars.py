"""Candle prices a backtest trades and marks at, read from the replay store by time.

A backtest needs prices at three kinds of moments, and each lookup is written so that it can only
see what existed at that moment:

- a fill for a decision taken at ``t``: the bar that *opens* at or after ``t`` (its open, or its
  close for the ``next_close`` rule). A decision is taken on the close of the bar that produced
  the signal, so that bar's own prices are never the fill: no look-ahead;
- the mark of the portfolio at the end of a period: the last close at or before that moment;
- a counterfactual exit (filter accounting): the close ``horizon`` after the entry.

Candles are the technical adapter's series, ``candles/<exchange>/<symbol>/<timeframe>`` (the
symbol as the configured venue names it: ``BTC/USDT`` on Binance, ``AAPL`` on yfinance), with
``t`` = close time and ``v`` = ``[open, high, low, close, volume]``. A bar's open time is its
close time minus the timeframe, except on an exchange with sessions (equities on yfinance): a
daily bar there opens at 09:30 New York on its date, not at the previous day's 16:00 close (a
decision taken after Monday's close fills at Tuesday's open, not Wednesday's).

An asset on a Polymarket venue has no candles: its bars are its outcome token's recorded prices
(``Bars.outcome_prices``), each opening and closing at the moment it was recorded; an order fills
at the price then, the last recorded at or before its decision.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, overload

import numpy as np

from signalops.adapters import calendar, hints
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.adapters.technical import SOURCE
from signalops.backtest.clock import epoch_seconds
from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.errors import AdapterError, DataNotFound, InputError
from signalops.evaluation.vectorized import candle_key
from signalops.orders import to_decimal
from signalops.venues import Venues

_DAY = 86400
# How a decision at ``t`` is filled; both use the bar that opens at or after ``t``.
NEXT_OPEN = "next_open"
NEXT_CLOSE = "next_close"
FILL_RULES = (NEXT_OPEN, NEXT_CLOSE)


@dataclass(frozen=True, eq=False)
class Bars:
    """One asset's candles of one timeframe, oldest first (close times in Unix seconds).

    ``sessions``: when each bar's session opens, for an exchange with sessions (``load`` gives
    them); without them a bar opens a timeframe before its close."""

    asset: str
    timeframe: int
    close_time: np.ndarray
    open: np.ndarray
    close: np.ndarray
    sessions: np.ndarray | None = None
    points: bool = False  # prices recorded at moments (an outcome's), not candles

    @cached_property
    def open_time(self) -> np.ndarray:
        """When each bar opens (Unix seconds)."""
        if self.sessions is not None:
            return self.sessions
        return self.close_time - self.timeframe

    @classmethod
    def load(
        cls,
        store: SnapshotStore,
        asset: str,
        timeframe: int,
        venues: Venues | None = None,
        *,
        index: bool = False,
    ) -> Bars:
        """``asset``'s candles from the series of the venue that serves it (``candle_key``).

        Raises ``DataNotFound`` when no configured venue serves it or nothing is recorded
        (``index``: an unrouted asset read beside stocks, ``hints.routed``)."""
        if (venues or Venues()).trades_outcome(asset):
            return cls.outcome_prices(store, asset, timeframe, venues or Venues())
        series = _candles(store, asset, timeframe, venues or Venues(), index=index)
        closes = series.time_array
        daily_sessions = timeframe == _DAY and (venues or Venues()).in_sessions([asset])
        opens = _session_opens(closes) if daily_sessions else None
        return cls(asset, timeframe, closes, series.column(0), series.column(3), opens)

    @classmethod
    def outcome_prices(
        cls, store: SnapshotStore, asset: str, timeframe: int, venues: Venues
    ) -> Bars:
        """The recorded prices of the Polymarket outcome ``asset`` trades as (its configured
        CLOB token), each a bar that opens and closes when it was recorded, at that price.

        A decision at ``t`` fills at the last price recorded at or before ``t``: the price
        then, which the gate sized the order at and checked for staleness, as a paper fill on
        the live CLOB midpoint takes the midpoint then (``_next_index``). Marks are the last
        price by then, as for candles.

        Raises ``DataNotFound`` with the adapter's message (which says what to download) when
        no recorded market lists the token or its prices are missing or malformed."""
        from signalops.adapters import polymarket  # its client is imported on use only

        token = polymarket.asset_token(venues, asset)
        try:
            times, prices = polymarket.ReplayFeed(store).token_prices(token)
        except AdapterError as exc:
            mapped = venues.assets.get(asset)
            if mapped is None or not mapped.symbol:  # the asset's own name is no token id
                raise DataNotFound(
                    f"{asset} trades on a Polymarket venue without a symbol: set its "
                    "outcome's CLOB token id (Gamma's clobTokenIds) in the config: assets: "
                    f'{asset}: {{venue: ..., symbol: "TOKEN_ID"}}'
                ) from None
            raise DataNotFound(f"{asset} (Polymarket): {exc.message}") from None
        at = np.asarray(times, dtype=np.float64)
        price = np.asarray(prices, dtype=np.float64)
        return cls(asset, timeframe, at, price, price, at, points=True)

    @property
    def label(self) -> str:
        """What the bars are, for messages: ``1d BTC candles``, ``recorded TRUMP_YES prices``."""
        if self.points:
            return f"recorded {self.asset} prices"
        return f"{format_duration(self.timeframe)} {self.asset} candles"

    def __len__(self) -> int:
        return len(self.close_time)

    @property
    def first_close(self) -> datetime:
        return _utc(self.close_time[0])

    @cached_property
    def last_close(self) -> datetime:
        return _utc(self.close_time[-1])

    @property
    def last_open(self) -> datetime:
        return _utc(self.open_time[-1])

    def closes_between(self, start: datetime, end: datetime) -> int:
        """How many bars close in ``[start, end]``."""
        lo = np.searchsorted(self.close_time, start.timestamp(), side="left")
        hi = np.searchsorted(self.close_time, end.timestamp(), side="right")
        return int(hi - lo)

    def _next_index(self, at: datetime) -> int:
        """The bar an order decided at ``at`` fills at: the first that opens at or after ``at``
        (raises LookupError when the data ends); of recorded prices, the last recorded at or
        before ``at`` (LookupError before the first)."""
        if self.points:
            # The price then. A later one would be booked at ``at``: the curve and the gate
            # would see a price recorded after the decision.
            i = int(self.close_time.searchsorted(at.timestamp(), side="right")) - 1
            if i < 0:
                raise LookupError(
                    f"no {self.asset} price is recorded at or before {iso(at)}: the data starts "
                    f"with the price at {iso(self.first_close)}"
                )
            return i
        i = int(self.open_time.searchsorted(at.timestamp(), side="left"))
        if i >= len(self):
            raise LookupError(
                f"no {format_duration(self.timeframe)} {self.asset} bar opens at or after "
                f"{iso(at)}: the data ends with the bar closing at {iso(self.last_close)}"
            )
        return i

    def next_open(self, at: datetime) -> tuple[Decimal, datetime]:
        """The open of the first bar opening at or after ``at``, and that bar's open time (of
        recorded prices: the last at or before ``at``, and its time)."""
        i = self._next_index(at)
        return to_decimal(float(self.open[i])), _utc(self.open_time[i])

    def next_close(self, at: datetime) -> tuple[Decimal, datetime]:
        """The close of the first bar opening at or after ``at``, and its close time (of
        recorded prices: as ``next_open``)."""
        i = self._next_index(at)
        return to_decimal(float(self.close[i])), _utc(self.close_time[i])

    def fill_close(self, at: datetime) -> datetime | None:
        """The close time of the bar an order decided at ``at`` fills in (``next_open``'s
        bar): a stock's Saturday decision fills at Monday's open and is first marked at its
        close. None when no bar comes (or for recorded prices, which fill at ``at``)."""
        if self.points:
            return None
        try:
            return _utc(self.close_time[self._next_index(at)])
        except LookupError:
            return None

    def fill_bars(self, times: np.ndarray) -> np.ndarray:
        """``_next_index`` of each of ``times`` (Unix seconds) at once; ``len(self)`` where
        there is none."""
        if not self.points:
            return np.searchsorted(self.open_time, times, side="left")
        found = np.searchsorted(self.close_time, times, side="right") - 1
        return np.where(found < 0, len(self), found)

    def hold_entry(self, rule: str, at: datetime) -> tuple[Decimal, datetime]:
        """Where a buy-and-hold from ``at`` buys: ``fill(rule, at)``; recorded prices at the
        first at or after ``at`` (a passive benchmark may wait for its first price: it is
        counted as cash until then)."""
        if not self.points:
            return self.fill(rule, at)
        i = int(self.close_time.searchsorted(at.timestamp(), side="left"))
        if i >= len(self):
            raise LookupError(f"no {self.asset} price is recorded at or after {iso(at)}")
        return to_decimal(float(self.close[i])), _utc(self.close_time[i])

    def fill(self, rule: str, at: datetime) -> tuple[Decimal, datetime]:
        if rule == NEXT_OPEN:
            return self.next_open(at)
        if rule == NEXT_CLOSE:
            return self.next_close(at)
        raise InputError(f"unknown fill rule '{rule}' (one of: {', '.join(FILL_RULES)})")

    def close_at(self, at: datetime) -> tuple[Decimal, datetime] | None:
        """The last close at or before ``at`` (None before the first bar)."""
        i = int(self.close_time.searchsorted(at.timestamp(), side="right")) - 1
        if i < 0:
            return None
        return to_decimal(float(self.close[i])), _utc(self.close_time[i])

    @overload
    def closes_at(self, moments: Sequence[datetime]) -> list[Decimal | None]: ...

    @overload
    def closes_at(self, moments: Sequence[datetime], before: Decimal) -> list[Decimal]: ...

    def closes_at(
        self, moments: Sequence[datetime], before: Decimal | None = None
    ) -> list[Decimal] | list[Decimal | None]:
        """``close_at(m)[0]`` for each of ``moments`` at once; ``before`` for a moment before the
        first bar."""
        found = np.searchsorted(self.close_time, epoch_seconds(moments), side="right") - 1
        return _decimal_closes(self.close, found, before)

    def window(self, start: datetime, end: datetime) -> tuple[list[datetime], list[float]]:
        """Close times and closes of the bars closing in ``[start, end]`` (for charts)."""
        lo = int(np.searchsorted(self.close_time, start.timestamp(), side="left"))
        hi = int(np.searchsorted(self.close_time, end.timestamp(), side="right"))
        return [_utc(t) for t in self.close_time[lo:hi]], [float(c) for c in self.close[lo:hi]]


def _decimal_closes(close: np.ndarray, found: np.ndarray, before: Any = None) -> list[Any]:
    """``to_decimal(close[i])`` for each index ``i`` of ``found``; ``before`` for an index below 0
    (a moment before the first bar)."""
    if not len(found) or not len(close):  # no moment, or no bar to index
        return [before] * len(found)
    # One Decimal per distinct close. ``to_decimal`` of a float is ``Decimal(str(x))``, and a
    # float's ``str`` is its ``repr``: both made by ``map``, without a Python call per close.
    distinct, where = np.unique(found, return_inverse=True)
    made: list[Any] = list(map(Decimal, map(repr, close[distinct].tolist())))
    if distinct[0] < 0:
        made[0] = before
    return list(map(made.__getitem__, where.ravel().tolist()))


class MarkCloses:
    """One asset's last close at or before each of a run's marks (``bars.close_at(m)[0]`` for
    each ``m`` of ``moments``, None before the first bar), by position.

    The bars are found for every mark at once; the Decimals are made once, all together, when
    first asked (``decimals``): the equity curve of a position held and the buy-and-hold
    benchmark mark at the same moments and share them."""

    def __init__(self, bars: Bars, moments: Sequence[datetime], seconds: np.ndarray) -> None:
        """``seconds``: the Unix times of ``moments`` (``epoch_seconds``)."""
        self.bars = bars
        self.moments = moments
        found = np.searchsorted(bars.close_time, seconds, side="right") - 1
        self._found = found
        self.index: list[int] = found.tolist()  # the bar of each mark; -1 before the first
        before = np.flatnonzero(found < 0)
        # From this mark on, every mark has a close (each one after a mark without one).
        self.closed_from = int(before[-1]) + 1 if len(before) else 0
        self._made: list[Decimal | None] | None = None

    def __len__(self) -> int:
        return len(self.index)

    def at(self, i: int) -> Decimal | None:
        """The close at the ``i``-th mark."""
        if self._made is not None:
            return self._made[i]
        index = self.index[i]
        return None if index < 0 else to_decimal(float(self.bars.close[index]))

    def decimals(self) -> list[Decimal | None]:
        """The close at every mark, in order (one Decimal per distinct close)."""
        if self._made is None:
            self._made = _decimal_closes(self.bars.close, self._found)
        return self._made


def closes_at_marks(
    prices: Mapping[str, Bars], moments: Sequence[datetime]
) -> dict[str, MarkCloses]:
    """Each asset's ``MarkCloses`` at ``moments`` (their Unix times worked out once for all)."""
    seconds = epoch_seconds(moments)
    return {asset: MarkCloses(bars, moments, seconds) for asset, bars in prices.items()}


def require_prices(
    store: SnapshotStore, asset: str, timeframe: int, venues: Venues | None = None
) -> None:
    """Raises the ``DataNotFound`` that ``Bars.load`` would for ``asset`` (no venue serves it,
    or its candles are not recorded), without making its bars."""
    venues = venues or Venues()
    if venues.trades_outcome(asset):
        Bars.outcome_prices(store, asset, timeframe, venues)
    else:
        _candles(store, asset, timeframe, venues)


def recorded_assets(store: SnapshotStore, venues: Venues | None = None) -> list[str]:
    """The assets the config names, then those whose candles (of any timeframe) ``store``
    holds where an asset the config does not name is read: the default venue's series, an
    asset by its ``BASE`` of ``BASE/QUOTE`` (``candles/binance/ETH/USDT/1d``: ``ETH``). Each
    once, in that order."""
    venues = venues or Venues()
    names = dict.fromkeys(venues.assets)
    default = venues.venues.get(venues.default) if venues.default is not None else None
    if default is not None and default.kind.serves_candles:
        prefix = f"candles/{default.exchange}/"
        for key in store.keys(SOURCE):
            if key.startswith(prefix):
                symbol = key.removeprefix(prefix).rpartition("/")[0]
                names.setdefault(symbol.removesuffix(f"/{default.quote}"))
    return list(names)


def as_recorded(
    assets: Sequence[str], store: SnapshotStore, venues: Venues | None = None
) -> tuple[str, ...]:
    """Each of ``assets`` as the config or the recorded data spell it (``recorded_assets``):
    ``eth`` is ``ETH`` when neither knows ``eth`` and exactly one name they know is ``eth`` but
    for case, as ``decisions --asset btc`` finds the log's BTC; else as given. What a command
    line names is read through this once, before anything runs: the asset is then that name
    everywhere (its candles, the strategy's leaves, its decisions, its book)."""
    from signalops.textmatch import spelled

    known = recorded_assets(store, venues)
    return tuple(spelled(asset, known) for asset in assets)


def _candles(
    store: SnapshotStore, asset: str, timeframe: int, venues: Venues, *, index: bool = False
) -> Series:
    """``asset``'s recorded candles of ``timeframe`` where ``venues`` route it, or
    ``DataNotFound``: with the asset it most likely means when the data holds that one's
    (``eth``: ``ETH``), else the commands that would provide them."""
    key = candle_key(asset, timeframe, venues)
    if key is None:
        raise DataNotFound(f"no configured venue serves {asset}: its prices cannot be replayed")
    series = store.series(SOURCE, key)
    if series is not None and len(series) > 0:
        return series
    missing = f"no recorded {format_duration(timeframe)} candles for {asset} in {store.directory}"
    elsewhere = _on_other_venue(store, asset, timeframe, key)
    if elsewhere is not None and elsewhere.split("/")[1] == key.split("/")[1]:
        # The same exchange: routing elsewhere would not help.
        raise DataNotFound(f"{missing} (series {key}): {_same_exchange(asset, elsewhere, venues)}")
    if elsewhere is not None:
        # Imported under another venue (a stock with --venue yfinance, the config routing it
        # to the default crypto exchange): nothing to download, the config must say where.
        exchange = elsewhere.split("/")[1]
        raise DataNotFound(
            f"{missing} (series {key}): the data has them as series {elsewhere}: route "
            f"{asset} to a venue of exchange {exchange} in the config (assets: {{{asset}: "
            f"{{venue: NAME}}}}), or pass --venue {exchange} (every asset there)"
        )
    provide = hints.routed(asset, venues, timeframe, to=store.directory, index=index)
    from signalops.textmatch import closest  # RE2 with it: only for this message

    held = (
        name for name in recorded_assets(store, venues) if _holds(store, name, timeframe, venues)
    )
    meant = closest(asset, held)
    if meant is None:
        raise DataNotFound(f"{missing} (series {key}): {provide}")
    guess = f"did you mean {meant}? (its candles are series {candle_key(meant, timeframe, venues)})"
    if meant.casefold() == asset.casefold():  # the same asset: nothing to download
        raise DataNotFound(f"{missing}: {guess}")
    raise DataNotFound(f"{missing} (series {key}): {guess}; if not, {provide}")


def _same_exchange(asset: str, elsewhere: str, venues: Venues) -> str:
    """Why ``asset``'s candles at ``elsewhere`` (``candles/EXCHANGE/SYMBOL/TIMEFRAME``) on its
    own venue's exchange are not read, and what to change: a symbol the config writes another
    way (``BTCEUR`` where the data has ``BTC/EUR``), or a pair in another quote currency (a
    venue given quote: USDC, the data holding USDT pairs)."""
    venue = venues.venue_of(asset)
    written = venues.symbol_of(asset)
    held = elsewhere.split("/", 2)[2].rpartition("/")[0]
    base, _, quote = held.partition("/")
    told = f"the data has them as series {elsewhere}"
    if venue is None or not quote or quote == venue.quote:
        default = venue is not None and held == f"{asset}/{venue.quote}"
        unset = f" (or leave the symbol out: {held} is its default)" if default else ""
        where = "" if venue is None else f"venue: {venue.name}, "
        return (
            f"{told}, under the symbol {held}, not {written} as the config writes it: write "
            f"{asset}: {{{where}symbol: {held}}} under the config's assets{unset}"
        )
    return (
        f"{told}, in {quote}, not the venue's quote currency {venue.quote}: give venue "
        f"{venue.name} quote: {quote} in the config, or download or import {base} in "
        f"{venue.quote}"
    )


def _on_other_venue(store: SnapshotStore, asset: str, timeframe: int, key: str) -> str | None:
    """The series holding ``asset``'s candles of ``timeframe`` under another venue than
    ``key``'s (``candles/yfinance/AMZN/1d`` beside ``candles/binance/AMZN/USDT/1d``); None when
    there is none (or more than one: which the trader meant cannot be told)."""
    frame = format_duration(timeframe)
    found = [
        name
        for name in store.keys(SOURCE)
        if name != key
        and name.startswith("candles/")
        and name.endswith(f"/{frame}")
        and name.split("/")[2] == asset
    ]
    return found[0] if len(found) == 1 and store.series(SOURCE, found[0]) else None


def _holds(store: SnapshotStore, asset: str, timeframe: int, venues: Venues) -> bool:
    key = candle_key(asset, timeframe, venues)
    series = None if key is None else store.series(SOURCE, key)
    return series is not None and len(series) > 0


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def bar_open(close: float, timeframe: int, sessions: bool) -> float:
    """When the bar closing at ``close`` opens (``Bars.open_time`` of one bar): a daily bar of an
    exchange with sessions (``sessions``) at 09:30 New York on the date of its close, any other
    ``timeframe`` seconds before its close."""
    if sessions and timeframe == _DAY:
        return calendar.session_open(calendar.trading_day(close))
    return close - timeframe


def _session_opens(closes: np.ndarray) -> np.ndarray:
    """The opening time of each daily bar closing at ``closes`` on an exchange with sessions."""
    opens = [bar_open(float(t), _DAY, True) for t in closes.tolist()]
    return np.array(opens, dtype=np.float64)
