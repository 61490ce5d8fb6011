"""What the engine sees: requests for data and the observations that answer them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from signalops.codes import Code


def utc(moment: datetime) -> datetime:
    """Refuse naive datetimes: a decision time without a zone cannot be replayed exactly."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no time zone; use UTC")
    return moment.astimezone(UTC)


class Request(NamedTuple):
    """One question for one source: metric + normalised parameters (+ asset when asset-scoped).

    A NamedTuple rather than a dataclass because requests are dictionary keys on the evaluation
    hot path, and tuple hashing runs in C.
    """

    source: str
    metric: str
    params: tuple[tuple[str, Any], ...] = ()
    asset: str | None = None

    @property
    def param_dict(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Observation:
    """A value an adapter saw: what it is, when the data is from, when it was fetched, from where.

    ``value`` is a float (ints are converted; NaN and infinity are kept so that the leaf reading
    them can report NOT_A_NUMBER). ``as_of`` is the time the data refers to (the candle's close,
    the price's timestamp), which is
    what staleness is measured against; ``fetched_at`` is when we asked. ``detail`` carries
    source-specific context for the trace (e.g. the headlines behind a news count).
    """

    value: float
    as_of: datetime
    source: str
    fetched_at: datetime | None = None
    detail: Any = None
    epoch: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Values are floats by construction so that evaluation only has to check finiteness;
        # an adapter that produces anything else gets a TypeError and reports a DataError.
        value = self.value
        if value.__class__ is not float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"observation value must be a real number, got {value!r}")
            try:
                value = float(value)
            except OverflowError:
                # An int beyond float range: infinite, so the leaf reports NOT_A_NUMBER instead
                # of the adapter crashing with an error it does not expect.
                value = math.inf if value > 0 else -math.inf
            object.__setattr__(self, "value", value)
        object.__setattr__(self, "epoch", utc(self.as_of).timestamp())


@dataclass(frozen=True, slots=True)
class DataError:
    """A request an adapter could not answer; the leaves that need it become UNKNOWN.

    ``reason`` is a stable UPPER_SNAKE code (``NOT_APPLICABLE``, ``HTTP_ERROR``, ``NO_API_KEY``...).
    """

    reason: Code
    message: str
    source: str = ""
