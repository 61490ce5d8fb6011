"""What the replay adapters answer at every decision time of a backtest, worked out at once.

The fast backtest (``signalops.backtest.fast``) must see exactly what ``Pipeline.cycle`` sees
when it gathers from the replay adapters bar after bar: the same value to the last bit, the same
data time, ``fetched_at`` and ``detail`` (``{"exchange": "binance", "candles": 250}``, with the
gaps of the window when it has some), the same ``DataError`` with the same message. Anything
else would change the audit records' bytes and hashes. This module gives those answers for every
bar of the run without asking the adapters bar by bar:

- technical metrics served by the replay candle feeds (``ReplayCandleFeed``, ``EquityReplayFeed``:
  both hand out the last ``bars`` candles closed by ``as_of`` of one recorded series) are read
  from that series, each bar's window being the adapter's own ``max(needed, 250)`` candles:
  candle fields are the window's last value; RSI is TA-Lib's recursion run over all windows at
  once (``windowed_rsi``, checked bit for bit against ``talib.RSI`` on sample windows of each
  run, and replaced by the per-window path if one differs); every other indicator is the
  adapter's own function (``technical.INDICATORS``) on each window. Gaps come from the
  adapter's own ``Candles.gaps`` (once per distinct set of gaps a window holds);
- wherever that reading cannot give a clean observation (too few candles, a non-finite value,
  an indicator that raised, a volume metric on a window without volume), and for every other
  source or feed, the real adapters answer, at that bar, through the same calls as the
  pipeline (``gather``), so errors and their messages are theirs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import accumulate, chain, repeat
from operator import add
from typing import Any

import numpy as np
import talib

from signalops.adapters.base import Adapter, Answer
from signalops.adapters.equities import EquityReplayFeed
from signalops.adapters.gather import gather
from signalops.adapters.technical import (
    INDICATORS,
    SOURCE,
    VOLUME_METRICS,
    Candles,
    ReplayCandleFeed,
    TechnicalAdapter,
    bars_needed,
    with_volume,
)
from signalops.audit.record import detail_member, observation_entries
from signalops.backtest.clock import epoch_seconds
from signalops.errors import AdapterError
from signalops.observation import Observation, Request

# The adapter reads at least this many candles for any indicator (``TechnicalAdapter.observe``).
MIN_WINDOW = 250
_FIELDS = {"open": 0, "high": 1, "low": 2, "close": 3, "volume": 4}
_PREFIX_FEEDS = (ReplayCandleFeed, EquityReplayFeed)
_SAMPLES = 64  # windows checked at each end and spread between (windowed_rsi vs talib.RSI)

# ``ReplayAnswers.answer`` makes an Observation without its dataclass __init__ (a frozen,
# slotted class: each field set by its slot's own setter), a third of the cost, at every bar
# for every request; every field is set as __post_init__ would set it.
_SET_VALUE, _SET_AS_OF, _SET_SOURCE, _SET_FETCHED, _SET_DETAIL, _SET_EPOCH = (
    vars(Observation)[name].__set__
    for name in ("value", "as_of", "source", "fetched_at", "detail", "epoch")
)
_new = object.__new__


def windowed_rsi(close: np.ndarray, ends: np.ndarray, window: int, n: int) -> np.ndarray:
    """``talib.RSI(close[e - window:e], n)[-1]`` for every ``e`` of ``ends``, all at once.

    TA-Lib's recursion step by step over the windows side by side, with the arithmetic of the
    library as built (Wilder's averages multiplied by ``1 / n``, zero when gains + losses are not
    positive). Every end must have a whole window behind it. ``ReplayAnswers`` checks the result
    against ``talib.RSI`` on sample windows before using it.
    """
    starts = np.asarray(ends, dtype=np.int64) - window
    if len(starts) and starts.min() < 0:
        raise ValueError("every end needs a whole window of closes before it")
    # Windows that start at the same candle are one window. Each close's change, and the gain
    # and loss it makes, are worked out once for the series: the same operations on the same
    # pairs of closes as step by step in each window, so the same bits.
    distinct, which = np.unique(starts, return_inverse=True)
    change = np.diff(close)  # change[j] = close[j + 1] - close[j]
    ups = np.where(change > 0.0, change, 0.0)
    downs = ups - change
    step = _Steps(distinct)
    r = 1.0 / n
    gain = np.zeros(len(distinct))
    loss = np.zeros(len(distinct))
    for k in range(1, n + 1):
        gain += step(ups, k)
        loss += step(downs, k)
    gain *= r
    loss *= r
    weight = float(n - 1)
    for k in range(n + 1, window):
        gain *= weight  # (gain * (n - 1) + up) * r
        gain += step(ups, k)
        gain *= r
        loss *= weight  # (down + loss * (n - 1)) * r: a sum's order never changes its bits
        loss += step(downs, k)
        loss *= r
    total = loss + gain
    with np.errstate(all="ignore"):
        rsi = np.where(total > 0.0, gain / total * 100.0, 0.0)
    return rsi[which]


class _Steps:
    """The change into the ``k``-th close of each window starting at ``starts`` (sorted,
    distinct): a slice of the series when they follow each other (a bar a decision)."""

    def __init__(self, starts: np.ndarray) -> None:
        self.starts = starts
        count = len(starts)
        self.first = int(starts[0]) if count else 0
        self.count = count
        self.consecutive = bool(count) and int(starts[-1]) - self.first + 1 == count

    def __call__(self, series: np.ndarray, k: int) -> np.ndarray:
        if self.consecutive:
            at = self.first + k - 1
            return series[at : at + self.count]
        return series[self.starts + (k - 1)]


@dataclass(frozen=True)
class _Column:
    """One technical request over every bar, as lists (read once per bar): the value, whether
    the window reading gave a clean one (else the adapter answers that bar), the index of the
    window's last candle (its close time is the data time: ``stamps``, and its timestamp
    ``epochs``, the history's), its number of candles and its gaps (None: none)."""

    values: list[float]
    ok: list[bool]
    last: list[int]
    stamps: list[datetime]
    epochs: list[float]
    counts: list[int]
    gaps: list[list[dict[str, Any]] | None]
    exchange: str
    history: _History


@dataclass(frozen=True)
class _Windows:
    """Each bar's window of one length over one history: ``[starts, ends)`` of the candles
    (arrays), how many it holds, and as lists the index of its last candle, its number of
    candles and its gaps (None: none), which the columns reading such windows share."""

    starts: np.ndarray
    ends: np.ndarray
    counts: np.ndarray
    last: list[int]
    count_list: list[int]
    gaps: list[list[dict[str, Any]] | None]


def _detail(exchange: str, candles: int, gaps: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The ``detail`` of a window's observation, as the adapter gives it (its gaps copied)."""
    detail: dict[str, Any] = {"exchange": exchange, "candles": candles}
    if gaps is not None:
        detail["gaps"] = [dict(gap) for gap in gaps]
    return detail


class _History:
    """The whole recorded candle series of one asset and timeframe, as its feed serves it."""

    def __init__(self, candles: Candles) -> None:
        self.candles = candles
        self.close_time = candles.close_time
        steps = np.diff(candles.close_time)
        self._irregular = np.flatnonzero(steps != candles.timeframe)
        # (lo, hi) -> the gaps of the windows holding the irregular steps irregular[lo:hi]
        self._gaps: dict[tuple[int, int], list[dict[str, Any]]] = {}

    @cached_property
    def moments(self) -> tuple[list[datetime], list[float]]:
        """The close time of each candle as the adapter stamps it, and its timestamp, by index
        (made once for all the columns that read this history). Two lists rather than a pair
        per candle: that many tuples made the garbage collector run once more."""
        made = _whole_second_moments(self.close_time)
        if made is not None:
            return made
        stamps, epochs = [], []
        for close in self.close_time.tolist():
            moment = datetime.fromtimestamp(float(close), UTC)
            stamps.append(moment)
            epochs.append(moment.timestamp())
        return stamps, epochs

    def window(self, start: int, end: int) -> Candles:
        return self.candles.window(start, end)

    def gaps(self, starts: np.ndarray, ends: np.ndarray) -> list[list[dict[str, Any]] | None]:
        """``Candles.gaps()`` of each window ``[start, end)``; None where it has none."""
        out: list[list[dict[str, Any]] | None] = [None] * len(starts)
        if self.candles.sessions:  # trading-day gaps depend on the calendar: ask each window
            for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
                if end - start >= 2:
                    out[i] = self.window(start, end).gaps() or None
            return out
        irregular = self._irregular
        if not len(irregular):
            return out
        # A step i lies inside [start, end) when start <= i and i + 1 <= end - 1: the steps
        # irregular[lo:hi].
        lo = np.searchsorted(irregular, starts, side="left")
        hi = np.searchsorted(irregular, ends - 1, side="left")
        inside = np.flatnonzero(hi > lo)
        spans = zip(inside.tolist(), lo[inside].tolist(), hi[inside].tolist(), strict=True)
        for i, first, last in spans:
            found = self._gaps.get((first, last))
            if found is None:
                # The steps inside decide the gaps, whatever the window's ends: ask the
                # adapter's own method once per distinct set of them.
                found = self._gaps[first, last] = self.window(int(starts[i]), int(ends[i])).gaps()
            if found:
                out[i] = found
        return out


# Close times (Unix seconds) up to here are whole seconds below 2**53 microseconds: exact as
# integers in int64, float64 and datetime arithmetic alike (the year 2255).
_LAST_EXACT_SECOND = 2**53 // 10**6
# A run of equal steps costs about as much as this many steps looked up one by one.
_RUN_COST = 8


def _whole_second_moments(close_time: np.ndarray) -> tuple[list[datetime], list[float]] | None:
    """``datetime.fromtimestamp(t, UTC)`` and its ``timestamp()`` for each close time ``t``
    (``_History.moments``), when all are whole seconds after 1970 (None otherwise): made by
    adding the exact steps between them to the first, in C, rather than converting each (which
    was a third of ``ReplayAnswers``' set-up).

    A whole-second ``t`` is its datetime exactly (no microseconds to round), ``datetime +
    timedelta`` is exact arithmetic, and such a datetime's ``timestamp()`` is ``t`` itself
    (its microseconds divided by 10**6: a whole number, exact)."""
    if not len(close_time):
        return [], []
    seconds = close_time.astype(np.float64)
    with np.errstate(all="ignore"):
        whole = bool(np.all(seconds == np.floor(seconds)))
    if not whole or not seconds.min() > 0 or not seconds.max() <= _LAST_EXACT_SECOND:
        return None
    first = datetime.fromtimestamp(float(seconds[0]), UTC)
    stamps = list(accumulate(_step_deltas(np.diff(seconds).astype(np.int64)), add, initial=first))
    return stamps, seconds.tolist()


def _step_deltas(steps: np.ndarray) -> Iterator[timedelta]:
    """``timedelta(seconds=s)`` for each of ``steps`` (one object per distinct step): a
    ``repeat`` of it for each run of equal steps when they are few (candles of one timeframe
    with a few gaps: no lookup per candle), else a lookup per step."""
    if not len(steps):
        return iter(())
    changes = np.flatnonzero(steps[1:] != steps[:-1]) + 1
    if len(changes) * _RUN_COST < len(steps):
        bounds = np.concatenate(([0], changes, [len(steps)]))
        firsts = steps[bounds[:-1]].tolist()
        deltas = {step: timedelta(seconds=step) for step in set(firsts)}
        runs = map(repeat, map(deltas.__getitem__, firsts), np.diff(bounds).tolist())
        return chain.from_iterable(runs)
    each = steps.tolist()
    deltas = {step: timedelta(seconds=step) for step in set(each)}
    return map(deltas.__getitem__, each)


class ReplayAnswers:
    """The replay adapters' answers to ``requests`` at each of ``moments`` (UTC, increasing).

    ``answer(request, i)`` is what ``gather`` would give for it at ``moments[i]``; requests
    the window reading serves are answered from their columns, the others through ``gather``
    once per bar for all of them together (a source answers its whole batch, as in a cycle).
    """

    def __init__(
        self,
        requests: Sequence[Request],
        adapters: Mapping[str, Adapter],
        moments: Sequence[datetime],
    ) -> None:
        self.adapters = adapters
        self.moments = list(moments)
        self.times = epoch_seconds(self.moments)
        unique = list(dict.fromkeys(requests))
        self._histories: dict[tuple[str, int], _History | None] = {}
        self._window_sets: dict[tuple[str, int, int], _Windows] = {}
        self.columns: dict[Request, _Column] = {}
        self.slow: list[Request] = []
        for request in unique:
            column = self._column(request)
            if column is None:
                self.slow.append(request)
            else:
                self.columns[request] = column
        self._slow_bar = -1
        self._slow_answers: dict[Request, Answer] = {}

    # --- per bar ---

    def answer(self, request: Request, i: int) -> Answer | None:
        column = self.columns.get(request)
        if column is None:
            return self._slow(i).get(request)
        if not column.ok[i]:
            return self._adapter_answer(request, i)
        last = column.last[i]
        obs = _new(Observation)
        _SET_VALUE(obs, column.values[i])
        _SET_AS_OF(obs, column.stamps[last])
        _SET_SOURCE(obs, SOURCE)
        _SET_FETCHED(obs, self.moments[i])
        _SET_DETAIL(obs, _detail(column.exchange, column.counts[i], column.gaps[i]))
        _SET_EPOCH(obs, column.epochs[last])
        return obs

    def entries(
        self, requests: Sequence[Request], start: int, stop: int, stamps: Sequence[str]
    ) -> list[str | None]:
        """For each bar ``i`` from ``start`` to ``stop``, the JSON a decision record writes of
        the observations ``row(requests, i)`` (``DecisionTimes.observed``), from the same
        values, times and details; None at a bar where an answer is not a clean reading of its
        column (the template writes those itself, from the answers). ``stamps`` are ``_stamp``
        of each of ``moments[start:stop]`` (a ``DecisionTimes``' own)."""
        columns = [self.columns[request] for request in requests if request in self.columns]
        if not columns or len(columns) != len(requests):
            return [None] * (stop - start)
        parts = [self._entries(column, start, stop, stamps) for column in columns]
        if len(parts) == 1:
            return [None if text is None else f"[{text}]" for text in parts[0]]
        found: list[str | None] = []
        for row in zip(*parts, strict=True):
            texts = [text for text in row if text is not None]
            found.append("[" + ",".join(texts) + "]" if len(texts) == len(row) else None)
        return found

    def _entries(
        self, column: _Column, start: int, stop: int, stamps: Sequence[str]
    ) -> list[str | None]:
        """``observation_entries`` of the column's clean readings from ``start`` to ``stop``
        (what ``answer`` makes of them); None at the others."""
        count = stop - start
        if all(column.ok[start:stop]):  # most windows: slices, not a lookup per bar
            bars: Sequence[int] = range(start, stop)
            values = column.values[start:stop]
            lasts = column.last[start:stop]
            counts = column.counts[start:stop]
            gaps = column.gaps[start:stop]
            moments = self.moments[start:stop]
            fetched = stamps
        else:
            bars = [i for i in range(start, stop) if column.ok[i]]
            values = [column.values[i] for i in bars]
            lasts = [column.last[i] for i in bars]
            counts = [column.counts[i] for i in bars]
            gaps = [column.gaps[i] for i in bars]
            moments = [self.moments[i] for i in bars]
            fetched = [stamps[i - start] for i in bars]
        # A detail's member per (candles, gaps): a few per window (the gaps are the column's
        # own lists, alive all the while: their ids stay theirs).
        keys = list(zip(counts, map(id, gaps), strict=True))
        distinct = dict(zip(keys, zip(counts, gaps, strict=True), strict=True))
        members = {
            key: detail_member(_detail(column.exchange, candles, found))
            for key, (candles, found) in distinct.items()
        }
        texts = observation_entries(
            values,
            list(map(column.stamps.__getitem__, lasts)),
            moments,
            fetched,
            list(map(members.__getitem__, keys)),
        )
        if len(texts) == count:
            return texts  # type: ignore[return-value]
        out: list[str | None] = [None] * count
        for i, text in zip(bars, texts, strict=True):
            out[i - start] = text
        return out

    def row(self, requests: Sequence[Request], i: int) -> tuple[Answer | None, ...]:
        if len(requests) == 1:  # most strategies read one metric per asset
            return (self.answer(requests[0], i),)
        return tuple([self.answer(request, i) for request in requests])

    def priced(self, requests: Iterable[Request], i: int, max_age: float | None) -> bool:
        """Whether ``reference_price`` finds a price among the answers to ``requests`` at
        ``moments[i]`` (``reference_price(..., self.answers(requests, i), ...) is not None``):
        some answer is an observation no older than ``max_age``. Clean column readings are
        judged by their data time alone, without making their observations."""
        moment = self.moments[i]
        for request in requests:
            column = self.columns.get(request)
            if column is not None and column.ok[i]:
                as_of = column.stamps[column.last[i]]
            else:
                answer = self.answer(request, i)
                if not isinstance(answer, Observation):
                    continue
                as_of = answer.as_of
            if max_age is not None and (moment - as_of).total_seconds() > max_age:
                continue
            return True
        return False

    def answers(self, requests: Iterable[Request], i: int) -> dict[Request, Answer]:
        found = {}
        for request in requests:
            answer = self.answer(request, i)
            if answer is not None:
                found[request] = answer
        return found

    def _slow(self, i: int) -> dict[Request, Answer]:
        if self._slow_bar != i:
            self._slow_answers = (
                gather(self.slow, self.adapters, self.moments[i]) if self.slow else {}
            )
            self._slow_bar = i
        return self._slow_answers

    def _adapter_answer(self, request: Request, i: int) -> Answer | None:
        return gather([request], self.adapters, self.moments[i]).get(request)

    # --- columns ---

    def _column(self, request: Request) -> _Column | None:
        """The request over every bar from its candle series; None when the adapter must answer
        it bar by bar (not a technical metric of a prefix feed, or no series)."""
        adapter = self.adapters.get(request.source)
        if request.source != SOURCE or type(adapter) is not TechnicalAdapter:
            return None
        if request.asset is None or adapter.catalogue.get(request.metric) is None:
            return None
        if request.metric not in INDICATORS:
            return None
        params = dict(request.params)
        try:
            timeframe = int(params["timeframe"])
            feed = adapter.feeds.feed_for(request.asset)
        except (AdapterError, KeyError, TypeError, ValueError):
            return None
        if type(feed) not in _PREFIX_FEEDS:
            return None
        history = self._history(feed, request.asset, timeframe)
        if history is None:
            return None
        needed = bars_needed(request.metric, params)
        bars = max(needed, MIN_WINDOW)
        windows = self._windows(history, request.asset, timeframe, bars)
        starts, ends, counts = windows.starts, windows.ends, windows.counts
        enough = counts >= max(needed, 1)
        values = np.full(len(ends), np.nan)
        compute = _VALUES[request.metric]
        with np.errstate(all="ignore"):
            compute(history, params, starts, ends, enough, bars, values)
        ok = enough & np.isfinite(values)
        if request.metric in VOLUME_METRICS:  # a window without volume: NOT_APPLICABLE, said
            ok &= with_volume(history.candles.volume, starts, ends)  # by the adapter itself
        return _Column(
            values.tolist(),
            ok.tolist(),
            windows.last,
            *history.moments,
            windows.count_list,
            windows.gaps,
            feed.name,
            history,
        )

    def _windows(self, history: _History, asset: str, timeframe: int, bars: int) -> _Windows:
        """Each bar's window of ``bars`` candles of ``history`` (the last closed by its time),
        worked out once for every request that reads windows of that length (a price's close
        and an indicator of the same candles)."""
        key = (asset, timeframe, bars)
        found = self._window_sets.get(key)
        if found is None:
            ends = np.searchsorted(history.close_time, self.times, side="right")
            starts = np.maximum(ends - bars, 0)
            counts = ends - starts
            gaps = history.gaps(starts, ends)
            found = _Windows(starts, ends, counts, (ends - 1).tolist(), counts.tolist(), gaps)
            self._window_sets[key] = found
        return found

    def _history(self, feed: Any, asset: str, timeframe: int) -> _History | None:
        key = (asset, timeframe)
        if key not in self._histories:
            try:
                # A prefix feed's window at as_of is the last ``bars`` of this whole history
                # that closed by as_of.
                candles = feed.candles(asset, timeframe, math.inf, 2**62)
            except AdapterError:
                candles = None
            self._histories[key] = _History(candles) if candles is not None else None
        return self._histories[key]


# --- values over every window --------------------------------------------------------------------

_Values = Callable[
    [_History, dict[str, Any], np.ndarray, np.ndarray, np.ndarray, int, np.ndarray], None
]


def _field(name: str) -> _Values:
    def values(
        history: _History,
        params: dict[str, Any],
        starts: np.ndarray,
        ends: np.ndarray,
        enough: np.ndarray,
        bars: int,
        out: np.ndarray,
    ) -> None:
        series = getattr(history.candles, name)
        out[enough] = series[ends[enough] - 1]

    return values


def _indicator(metric: str) -> _Values:
    """The adapter's own indicator function on each bar's window."""
    compute = INDICATORS[metric]

    def values(
        history: _History,
        params: dict[str, Any],
        starts: np.ndarray,
        ends: np.ndarray,
        enough: np.ndarray,
        bars: int,
        out: np.ndarray,
    ) -> None:
        windows: dict[tuple[int, int], float] = {}
        for i in np.flatnonzero(enough).tolist():
            start, end = int(starts[i]), int(ends[i])
            found = windows.get((start, end))
            if found is None:
                try:
                    found = compute(history.window(start, end), params)
                except Exception:  # the adapter will say what went wrong, at that bar
                    found = math.nan
                windows[(start, end)] = found
            out[i] = found

    return values


def _rsi(
    history: _History,
    params: dict[str, Any],
    starts: np.ndarray,
    ends: np.ndarray,
    enough: np.ndarray,
    bars: int,
    out: np.ndarray,
) -> None:
    n = params["n"]
    close = history.candles.close
    whole = enough & (ends - starts == bars)
    partial = enough & ~whole
    if whole.any():
        found = windowed_rsi(close, ends[whole], bars, n)
        if _rsi_matches(close, ends[whole], found, bars, n):
            out[whole] = found
        else:  # not TA-Lib's bits: every window the adapter's own way
            partial = enough
    if partial.any():
        _indicator("rsi")(history, params, starts, ends, partial, bars, out)


def _rsi_matches(
    close: np.ndarray, ends: np.ndarray, found: np.ndarray, window: int, n: int
) -> bool:
    """Whether ``found`` (``windowed_rsi`` of the windows ending at ``ends``) holds
    ``talib.RSI``'s bits on sample windows (the first and last ones and others spread
    between): a TA-Lib built with other arithmetic fails this at once. The samples are read
    from the whole result rather than worked out again: the recursion over a few windows
    costs as many array steps as over all of them."""
    if len(ends) <= 3 * _SAMPLES:
        picked = np.arange(len(ends))
    else:
        spread = np.linspace(0, len(ends) - 1, _SAMPLES).astype(np.int64)
        last = np.arange(len(ends) - _SAMPLES, len(ends))
        picked = np.unique(np.concatenate([np.arange(_SAMPLES), last, spread]))
    slow = [talib.RSI(close[e - window : e], timeperiod=n)[-1] for e in ends[picked].tolist()]
    return bool(np.array_equal(found[picked], np.array(slow), equal_nan=True))


_VALUES: dict[str, _Values] = {
    **{name: _field(name) for name in _FIELDS},
    "rsi": _rsi,
}
for _metric in INDICATORS:
    _VALUES.setdefault(_metric, _indicator(_metric))


__all__ = ["MIN_WINDOW", "ReplayAnswers", "windowed_rsi"]
