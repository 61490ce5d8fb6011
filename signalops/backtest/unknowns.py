"""The data a backtest's decisions could not read, per asset and metric.

A rule whose data is never there never passes: the run shows 0 trades, and only the trace of
one decision says why (a Polymarket id that was never recorded, a stock without SEC facts, a
Yahoo metric that has no history). Both engines give each decision's unread metrics
(``signalops.evaluation.unread``) to an ``UnknownTally``; the result keeps one ``UnknownData``
per asset, metric and reason, with the first decision that had it, so the report can say how
often each was missing and point at a decision to ask ``why``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signalops.canonical import iso
from signalops.evaluation.nodes import Metric
from signalops.evaluation.unread import UnreadMetric


@dataclass(frozen=True)
class UnknownData:
    """One metric an asset's decisions had no usable value of, for one reason."""

    asset: str
    metric: str  # as written in a rule: ``forward_pe``, ``rsi(14)``
    source: str
    reason: str  # NO_DATA, NOT_APPLICABLE, STALE...
    decisions: int  # how many of the asset's decisions
    first_at: datetime
    first_id: str  # the first such decision, for ``why``
    message: str  # what the source (or the leaf) said then

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset": self.asset,
            "metric": self.metric,
            "source": self.source,
            "reason": self.reason,
            "decisions": self.decisions,
            "first": {"as_of": iso(self.first_at), "decision_id": self.first_id},
            "message": self.message,
        }


class UnknownTally:
    """Counts the unread metrics of a backtest's decisions as they are made."""

    def __init__(self) -> None:
        # (asset, metric, reason) -> [count, first time, first decision id, first message]
        self._found: dict[tuple[str, Metric, str], list[Any]] = {}

    def add(
        self, asset: str, as_of: datetime, decision_id: str, unread: Iterable[UnreadMetric]
    ) -> None:
        for metric, reason, message in unread:
            key = (asset, metric, reason)
            found = self._found.get(key)
            if found is None:
                self._found[key] = [1, as_of, decision_id, message]
            else:
                found[0] += 1

    def result(self) -> tuple[UnknownData, ...]:
        """One per asset, metric and reason, in the order first met."""
        return tuple(
            UnknownData(asset, metric.render(), metric.source, reason, count, at, did, message)
            for (asset, metric, reason), (count, at, did, message) in self._found.items()
        )


__all__ = ["UnknownData", "UnknownTally"]
