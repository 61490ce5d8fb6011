"""Reads of the audit log by record kind, for the pipeline, the backtest and the dashboard.

They go through the follow-ups' kind index from the seq asked for on, so the risk gate's
incremental read of past orders costs the same on a log of a million records as on a fresh one;
the distinct strategies and assets are one index seek each, not a walk of the index.
"""

from __future__ import annotations

from typing import Any

from signalops.audit.expand import with_trace
from signalops.audit.record import DECISION
from signalops.audit.store import AuditLog


def records_since(
    audit: AuditLog, *kinds: str, after_seq: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, record) of these kinds after ``after_seq``, in chain order, through the index.

    Records as stored; a compact decision's ``record["trace"]`` is derived when asked for
    (``signalops.audit.expand.StoredDecision``; ``expanded`` gives the whole ``/1`` shape).
    """
    found = audit.records_since(*kinds, after_seq=after_seq)
    if DECISION not in kinds:
        return found
    return [(seq, with_trace(record, audit)) for seq, record in found]


def records_of_kind(audit: AuditLog, *kinds: str) -> list[dict[str, Any]]:
    """Records of these kinds in chain order, through the ``kind`` index (not a full scan)."""
    return [record for _, record in records_since(audit, *kinds)]


def decision_values(audit: AuditLog, column: str) -> list[str]:
    """The distinct values of an indexed decision column (``strategy`` or ``asset``), sorted.

    A skip scan of the column's index: each next value is one seek past the last (the columns
    are set on decisions only), so it costs a few µs per value however many decisions share it.
    A compact log keeps names by id; they are sorted by name.
    """
    if column not in ("strategy", "asset"):
        raise ValueError(column)
    rows = audit.conn.execute(
        f"WITH RECURSIVE found(value) AS ("
        f" SELECT (SELECT min({column}) FROM records WHERE {column} IS NOT NULL)"
        f" UNION ALL SELECT (SELECT min({column}) FROM records WHERE {column} > value)"
        f" FROM found WHERE value IS NOT NULL)"
        f" SELECT value FROM found WHERE value IS NOT NULL"
    ).fetchall()
    values = [row[0] for row in rows]
    if column == "strategy" and audit.compact:
        names = (audit.strategy_name_of(value) for value in values)
        return sorted(name for name in names if name is not None)
    return values


def newest_first(audit: AuditLog, kind: str) -> list[dict[str, Any]]:
    """Records of one kind, the last appended first."""
    return audit.newest_first(kind)


def relax_durability(audit: AuditLog) -> None:
    """Commit without waiting for the disk (WAL ``synchronous=NORMAL``): for rebuildable logs.

    Still consistent after a crash, but the last commits may be lost: only for a log that the
    same run can write again, such as a backtest's.
    """
    audit.conn.execute("PRAGMA synchronous=NORMAL")


__all__ = [
    "decision_values",
    "newest_first",
    "records_of_kind",
    "records_since",
    "relax_durability",
]
