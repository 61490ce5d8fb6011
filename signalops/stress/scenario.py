"""A stress scenario as values: a window of history and the shocks applied on top of it.

A scenario without shocks is a *historical* one (the window as recorded: March 2020, the FTX
collapse); one with shocks is *synthetic*. Every time is UTC; a shock's span is half-open,
``[start, end)``, so that an outage of 24 hours from midnight covers exactly that day's decision
times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from signalops.canonical import iso
from signalops.catalogue.spec import format_duration

HISTORICAL, SYNTHETIC = "historical", "synthetic"


@dataclass(frozen=True)
class Gap:
    """``asset``'s prices from ``at`` on scaled by ``factor``: the candles opening at or after
    ``at`` whole (open, high, low, close), one open across ``at`` but its open (``gapped``)."""

    asset: str
    at: datetime
    pct: float  # -20: a 20% fall

    @property
    def factor(self) -> float:
        return 1 + self.pct / 100

    @property
    def when(self) -> datetime:
        return self.at

    def describe(self) -> str:
        return f"{self.asset} gaps {self.pct:+g}% at {iso(self.at)}"

    def to_dict(self) -> dict[str, Any]:
        return {"gap": {"asset": self.asset, "at": iso(self.at), "pct": self.pct}}


@dataclass(frozen=True)
class PredictionJump:
    """Market ``market``'s ``outcome`` trades at ``to`` from ``at`` on."""

    market: str
    at: datetime
    to: float
    outcome: str = "yes"

    @property
    def when(self) -> datetime:
        return self.at

    def describe(self) -> str:
        return f"market {self.market} {self.outcome} jumps to {self.to:g} at {iso(self.at)}"

    def to_dict(self) -> dict[str, Any]:
        jump = {"market": self.market, "outcome": self.outcome, "at": iso(self.at), "to": self.to}
        return {"prediction_jump": jump}


class _Span:
    """A shock that lasts: ``[start, start + hours)`` (a mixin: the shocks declare the fields,
    in their own order)."""

    start: datetime
    hours: float

    @property
    def when(self) -> datetime:
        return self.start

    @property
    def end(self) -> datetime:
        return self.start + timedelta(hours=self.hours)

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True)
class Outage(_Span):
    """Source ``source`` answers nothing to decisions taken in ``[start, end)``."""

    source: str
    start: datetime
    hours: float

    def describe(self) -> str:
        return f"{self.source} data unreachable for {_hours(self.hours)} from {iso(self.start)}"

    def to_dict(self) -> dict[str, Any]:
        return {"outage": {"source": self.source, "from": iso(self.start), "hours": self.hours}}


@dataclass(frozen=True)
class VenueRejects(_Span):
    """Every order placed in ``[start, end)`` is rejected by the venue."""

    start: datetime
    hours: float

    def describe(self) -> str:
        return f"the venue rejects every order for {_hours(self.hours)} from {iso(self.start)}"

    def to_dict(self) -> dict[str, Any]:
        return {"venue_rejects": {"from": iso(self.start), "hours": self.hours}}


Shock = Gap | PredictionJump | Outage | VenueRejects


@dataclass(frozen=True)
class Scenario:
    """A window ``[start, end]`` of decision times and the shocks applied to its data."""

    name: str
    start: datetime
    end: datetime
    shocks: tuple[Shock, ...] = ()
    description: str = ""
    every: timedelta | None = None  # None: the strategy's candle timeframe
    file: str = ""

    @property
    def kind(self) -> str:
        return SYNTHETIC if self.shocks else HISTORICAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "from": iso(self.start),
            "to": iso(self.end),
            "every": None if self.every is None else format_duration(self.every.total_seconds()),
            "shocks": [shock.to_dict() for shock in self.shocks],
            "file": self.file,
        }


def _hours(hours: float) -> str:
    return f"{hours:g}h"


__all__ = [
    "HISTORICAL",
    "SYNTHETIC",
    "Gap",
    "Outage",
    "PredictionJump",
    "Scenario",
    "Shock",
    "VenueRejects",
]
