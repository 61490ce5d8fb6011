"""Reads of the audit log by record kind, for the pipeline, the backtest and the dashboard.

They go through the follow-ups' kind index from the seq asked for on, so the risk gate's
incremental read of past orders costs the same on a log of a million records as on a fresh one;
the distinct strategies and assets come from the store (one index seek each on SQLite), and so
do the strategies of a batch of decisions (``strategies_of``: one query, no record decoded).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from signalops.audit.expand import with_trace
from signalops.audit.interface import AuditStore
from signalops.audit.record import DECISION


def records_since(
    audit: AuditStore, *kinds: str, after_seq: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, record) of these kinds after ``after_seq``, in chain order, through the index.

    Records as stored; a compact decision's ``record["trace"]`` is derived when asked for
    (``signalops.audit.expand.StoredDecision``; ``expanded`` gives the whole ``/1`` shape).
    """
    found = audit.records_since(*kinds, after_seq=after_seq)
    if DECISION not in kinds:
        return found
    return [(seq, with_trace(record, audit)) for seq, record in found]


def records_of_kind(audit: AuditStore, *kinds: str) -> list[dict[str, Any]]:
    """Records of these kinds in chain order, through the ``kind`` index (not a full scan)."""
    return [record for _, record in records_since(audit, *kinds)]


def strategies_of(audit: AuditStore, decision_ids: Iterable[str]) -> dict[str, str | None]:
    """The strategy name of each of these decisions the log holds (None: a decision without
    one), from the indexed ``strategy`` column in one query: no record is read or decoded."""
    return audit.strategies_of(decision_ids)


def decision_values(audit: AuditStore, column: str) -> list[str]:
    """The distinct values of an indexed decision column (``strategy`` or ``asset``), sorted."""
    return audit.distinct_values(column)


def newest_first(audit: AuditStore, kind: str) -> list[dict[str, Any]]:
    """Records of one kind, the last appended first."""
    return audit.newest_first(kind)


def relax_durability(audit: AuditStore) -> None:
    """Commit without waiting for the disk: for rebuildable logs (``relax_durability``)."""
    audit.relax_durability()


__all__ = [
    "decision_values",
    "newest_first",
    "records_of_kind",
    "records_since",
    "relax_durability",
    "strategies_of",
]
