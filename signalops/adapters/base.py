"""The adapter protocol: a source answers a batch of requests at an explicit ``as_of``.

An adapter never raises for one bad request: each request gets an ``Observation`` or a
``DataError`` with a stable reason code, so one failing market or ticker never discards the
others, and the leaf that needed it becomes UNKNOWN with that reason (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from signalops.catalogue.spec import SourceCatalogue
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.observation import DataError, Observation, Request, utc

log = logging.getLogger(__name__)

Answer = Observation | DataError

# The engine fixes as_of when a cycle starts and the fetches follow: a live value fetched at most
# this long after as_of is the cycle's own latency and is stamped as_of. Anything later would be
# refused as look-ahead (a live source cannot answer for the past; a replay can).
LIVE_SKEW = 300.0


def live_time(fetched: float, as_of: float, max_skew: float = LIVE_SKEW) -> float:
    """The data time of a live value that has no timestamp of its own (Unix seconds)."""
    if as_of < fetched <= as_of + max_skew:
        return as_of
    return fetched


@runtime_checkable
class Adapter(Protocol):
    """What the engine needs from a data source."""

    source: str
    catalogue: SourceCatalogue

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> Mapping[Request, Answer]:
        """Answer every request as of ``as_of``: never with data dated after it."""
        ...


class CandleFeedOf(Protocol):
    """A venue's candle feed, as the risk gate's price history reads it."""

    def candles(self, asset: str, timeframe: int, as_of: float, bars: int) -> Any:
        """The last ``bars`` closed candles of ``asset`` at ``as_of`` (close_time, close)."""
        ...


class AssetFeeds(Protocol):
    def feed_for(self, asset: str) -> CandleFeedOf: ...


@runtime_checkable
class HasCandleFeeds(Protocol):
    """A source that reads candles from each asset's venue (the technical source): the risk
    gate's VaR/CVaR history reads the very same feeds."""

    feeds: AssetFeeds


class BaseAdapter:
    """Turns ``observe(request, as_of, batch)`` into the batch protocol with per-request errors.

    ``batch`` is a dict shared by the requests of one ``fetch`` call, so that e.g. twelve
    indicators on the same candles download those candles once.
    """

    source: str = ""
    catalogue: SourceCatalogue

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> dict[Request, Answer]:
        as_of = utc(as_of)
        batch: dict[Any, Any] = {}
        answers: dict[Request, Answer] = {}
        for request in requests:
            if request in answers:
                continue
            answers[request] = self._answer(request, as_of, batch)
        return answers

    def _answer(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Answer:
        if self.catalogue.get(request.metric) is None:
            return DataError(Code.UNKNOWN_METRIC, f"{self.source} has no metric '{request.metric}'")
        try:
            observation = self.observe(request, as_of, batch)
        except AdapterError as exc:
            return DataError(exc.reason, exc.message, self.source)
        except Exception as exc:  # a bug or an unexpected library error: fail closed, loudly
            log.exception("%s adapter failed on %s", self.source, request)
            return DataError(Code.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", self.source)
        if observation.epoch > as_of.timestamp():
            # An adapter must never hand the engine the future; treat it as a bug, not data.
            return DataError(
                Code.LOOK_AHEAD, f"data dated {observation.as_of.isoformat()} is after as_of"
            )
        return observation

    def observe(self, request: Request, as_of: datetime, batch: dict[Any, Any]) -> Observation:
        raise NotImplementedError
