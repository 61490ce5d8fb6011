"""Shocks as transformations of what a backtest reads: never an edit of a file.

- prices (``Gap``, ``PredictionJump``): a ``ShockedStore`` hands out the snapshot store's series
  with the shocked ones transformed. Everything that reads prices reads them through the store
  (the replay adapters, so indicators; the backtest's fills and marks; the filter accounting),
  so all of them see the same shocked market;
- a data outage (``Outage``): the source's replay adapter is wrapped (``with_outages``) so that
  it answers every request of a decision taken inside the outage with a CONNECTION_ERROR, as a
  live source that cannot be reached does. Hiding the recorded points instead would not do:
  the adapter would then serve the last point before the outage, which is what a replay reads
  after an outage, not during one;
- a venue rejecting orders (``VenueRejects``): the paper broker's venue refuses every order
  placed inside the span with ORDER_REJECTED (``refusal``, the backtest's ``refuse`` hook).

A shock at ``t`` changes nothing a decision before ``t`` reads or fills at: a gap scales the
prices from ``t`` on (the candles opening at or after ``t``, and the part after ``t`` of one that
opens before it), a jump the prices dated at or after ``t``; outages and refusals act on
decisions taken inside their span only.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from signalops.adapters import polymarket
from signalops.adapters.base import Adapter, Answer
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.adapters.technical import SOURCE as TECHNICAL
from signalops.backtest.bars import bar_open
from signalops.canonical import iso
from signalops.catalogue.builtin import DAY
from signalops.catalogue.spec import SourceCatalogue, parse_duration
from signalops.codes import Code
from signalops.errors import InputError
from signalops.evaluation.vectorized import candle_key
from signalops.execution.outcomes import failed
from signalops.observation import DataError, Request, utc
from signalops.orders import ExecutionResult, OrderIntent
from signalops.stress.scenario import Gap, Outage, PredictionJump, Shock, VenueRejects
from signalops.venues import Venues

Transform = Callable[[Series], Series]


class ShockedStore(SnapshotStore):
    """``base``'s series, with the shocked ones transformed (each once, on first use).

    Read-only: a stressed run records nothing into the data it replays.
    """

    def __init__(self, base: SnapshotStore, transforms: Mapping[tuple[str, str], Transform]):
        super().__init__(base.directory)
        self.base = base
        self._transforms = dict(transforms)
        self._made: dict[tuple[str, str], Series | None] = {}

    def series(self, source: str, key: str) -> Series | None:
        transform = self._transforms.get((source, key))
        if transform is None:
            return self.base.series(source, key)
        if (source, key) not in self._made:
            found = self.base.series(source, key)
            self._made[(source, key)] = None if found is None else transform(found)
        return self._made[(source, key)]

    def keys(self, source: str) -> list[str]:
        return self.base.keys(source)

    def sources(self) -> list[str]:
        return self.base.sources()

    def append(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        raise InputError("a stressed replay is read-only: nothing is recorded into it")

    def write(self, source: str, records: Iterable[tuple[str, float, Any]]) -> int:
        raise InputError("a stressed replay is read-only: nothing is written into it")


def shocked_store(store: SnapshotStore, shocks: Sequence[Shock], venues: Venues) -> SnapshotStore:
    """``store`` with the price shocks among ``shocks`` applied (``store`` itself if none)."""
    transforms: dict[tuple[str, str], Transform] = {}
    for shock in shocks:
        for key, transform in _transforms(store, shock, venues):
            before = transforms.get(key)
            # Two shocks on one series apply in the scenario's order.
            transforms[key] = transform if before is None else _then(before, transform)
    return ShockedStore(store, transforms) if transforms else store


def _then(first: Transform, second: Transform) -> Transform:
    return lambda series: second(first(series))


def _transforms(
    store: SnapshotStore, shock: Shock, venues: Venues
) -> list[tuple[tuple[str, str], Transform]]:
    if isinstance(shock, Gap):
        sessions = venues.in_sessions([shock.asset])
        return [
            ((TECHNICAL, key), _gap(shock, candle_timeframe(key), sessions))
            for key in candle_keys(store, shock.asset, venues)
        ]
    if isinstance(shock, PredictionJump):
        return _jump_transforms(store, shock)
    return []


# --- gaps -----------------------------------------------------------------------------------


def candle_keys(store: SnapshotStore, asset: str, venues: Venues) -> list[str]:
    """Every recorded candle series of ``asset`` on the venue that serves it (each timeframe)."""
    key = candle_key(asset, DAY, venues)
    if key is None:
        return []
    prefix = key.rsplit("/", 1)[0] + "/"
    return [
        k
        for k in store.keys(TECHNICAL)
        if k.startswith(prefix) and parse_duration(k[len(prefix) :]) is not None
    ]


def candle_timeframe(key: str) -> int:
    """The timeframe of the candle series ``key`` (``candles/binance/BTC/USDT/1h``: 3600)."""
    timeframe = parse_duration(key.rsplit("/", 1)[1])
    assert timeframe is not None  # candle_keys lists only keys that end in one
    return timeframe


def _gap(shock: Gap, timeframe: int, sessions: bool) -> Transform:
    at, factor = shock.at.timestamp(), shock.factor

    def opens(close: float) -> float:  # as the backtest's fills read a bar's open
        return bar_open(close, timeframe, sessions)

    def gap(series: Series) -> Series:
        return gapped(series, at, factor, opens)

    return gap


def gapped(series: Series, at: float, factor: float, opens: Callable[[float], float]) -> Series:
    """Candles ``[open, high, low, close, volume]`` with their prices from ``at`` on times
    ``factor`` (the volume as it was); ``opens``: a candle's open time from its close time.

    A candle opening at or after ``at`` is scaled whole. One that opens before ``at`` and closes
    after it (a gap inside a day) keeps its open, traded before the gap and the price an order
    decided before it fills at: its close is scaled, and its range holds both the recorded one
    (what traded before the gap, the open among it) and the scaled one (what may trade after
    it): a bound, as one candle does not say which of its prices came before ``at``."""
    times, values = series.times, series.values
    first = bisect_right(times, at)  # the first candle closing after ``at``
    shocked = [
        [v[0] * factor, v[1] * factor, v[2] * factor, v[3] * factor, *v[4:]] for v in values[first:]
    ]
    if first < len(times) and opens(times[first]) < at:
        o, high, low, close, *rest = values[first]
        shocked[0] = [o, max(high, high * factor), min(low, low * factor), close * factor, *rest]
    return Series(series.key, list(times), [*values[:first], *shocked])


# --- prediction markets ---------------------------------------------------------------------


def market_key(store: SnapshotStore, ref: str) -> str | None:
    """The name ``ref`` (a market's id or slug) is recorded under; None when not recorded."""
    keys = store.keys(polymarket.SOURCE)
    if polymarket.markets_key(ref) in keys or any(k.startswith(f"prices/{ref}/") for k in keys):
        return ref
    for key in keys:
        if key.startswith("markets/"):
            series = store.series(polymarket.SOURCE, key)
            values = series.values if series is not None else []
            if any(
                isinstance(v, dict) and ref in (str(v.get("id")), v.get("slug")) for v in values
            ):
                return key.removeprefix("markets/")
    return None


def _names(value: Any, ref: str) -> bool:
    """Whether a recorded market (its metadata) has ``ref`` as its id or slug."""
    return isinstance(value, dict) and ref in (str(value.get("id")), value.get("slug"))


def outcome_keys(store: SnapshotStore, market: str) -> list[str]:
    prefix = f"prices/{market}/"
    return [k for k in store.keys(polymarket.SOURCE) if k.startswith(prefix)]


def _jump_transforms(
    store: SnapshotStore, shock: PredictionJump
) -> list[tuple[tuple[str, str], Transform]]:
    market = market_key(store, shock.market)
    if market is None:
        return []
    jumped = polymarket.prices_key(market, shock.outcome)
    keys = outcome_keys(store, market)
    if jumped not in keys:
        return []
    at = shock.at.timestamp()
    found: list[tuple[tuple[str, str], Transform]] = [
        ((polymarket.SOURCE, jumped), lambda s: jumped_to(s, at, shock.to))
    ]
    others = [k for k in keys if k != jumped]
    if len(others) == 1:  # a binary market: the other side moves with it
        found.append(((polymarket.SOURCE, others[0]), lambda s: jumped_to(s, at, 1 - shock.to)))
    return found


def jumped_to(series: Series, at: float, price: float) -> Series:
    """The price series at ``price`` from ``at`` on: a point at ``at``, every later one moved."""
    times, values = series.times, series.values
    first = bisect_left(times, at)
    later = [t for t in times[first:] if t > at]
    return Series(
        series.key, [*times[:first], at, *later], [*values[:first], *([price] * (1 + len(later)))]
    )


# --- outages --------------------------------------------------------------------------------


class OutageAdapter:
    """A source that cannot be reached during ``outages``; ``inner`` answers at other times."""

    def __init__(self, inner: Adapter, outages: Sequence[Outage]) -> None:
        self.inner = inner
        self.source: str = inner.source
        self.catalogue: SourceCatalogue = inner.catalogue
        self.outages = tuple(outages)

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> Mapping[Request, Answer]:
        moment = utc(as_of)
        for outage in self.outages:
            if outage.covers(moment):
                error = DataError(
                    Code.CONNECTION_ERROR,
                    f"{self.source} could not be reached (stress scenario: outage from "
                    f"{iso(outage.start)} to {iso(outage.end)})",
                    self.source,
                )
                return dict.fromkeys(requests, error)
        return self.inner.fetch(requests, as_of)


def with_outages(
    outages: Sequence[Outage],
) -> Callable[[dict[str, Adapter]], Mapping[str, Adapter]]:
    """The backtest's ``wrap_adapters`` hook: each source with an outage wrapped."""

    def wrap(adapters: dict[str, Adapter]) -> Mapping[str, Adapter]:
        wrapped = dict(adapters)
        for source in dict.fromkeys(o.source for o in outages):
            inner = adapters.get(source)
            if inner is not None:
                wrapped[source] = OutageAdapter(inner, [o for o in outages if o.source == source])
        return wrapped

    return wrap


# --- a venue rejecting orders ---------------------------------------------------------------


def refusal(
    spans: Sequence[VenueRejects],
) -> Callable[[OrderIntent, datetime], ExecutionResult | None]:
    """The backtest's ``refuse`` hook: ORDER_REJECTED for an order placed inside a span."""

    def refuse(intent: OrderIntent, as_of: datetime) -> ExecutionResult | None:
        moment = utc(as_of)
        for span in spans:
            if span.covers(moment):
                return failed(
                    Code.ORDER_REJECTED,
                    f"the venue rejected {intent.side} {intent.asset} (stress scenario: every "
                    f"order rejected from {iso(span.start)} to {iso(span.end)})",
                    venue="paper",
                )
        return None

    return refuse


__all__ = [
    "OutageAdapter",
    "ShockedStore",
    "candle_keys",
    "candle_timeframe",
    "gapped",
    "jumped_to",
    "market_key",
    "outcome_keys",
    "refusal",
    "shocked_store",
    "with_outages",
]
