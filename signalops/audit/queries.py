"""Reads of the audit log by record kind, for the pipeline, the backtest and the dashboard.

They go through the ``records(kind, as_of)`` index from the seq asked for on, so the risk gate's
incremental read of past orders costs the same on a log of a million records as on a fresh one;
the distinct strategies and assets are one index seek each, not a walk of the index.
"""

from __future__ import annotations

from typing import Any

from signalops.audit.record import loads_record
from signalops.audit.store import AuditLog, kind_filter


def records_since(
    audit: AuditLog, *kinds: str, after_seq: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, record) of these kinds after ``after_seq``, in chain order, through the index."""
    rows = audit.conn.execute(
        f"SELECT seq, body FROM records WHERE {kind_filter(kinds)} ORDER BY seq",
        (*kinds, after_seq),
    ).fetchall()
    return [(seq, loads_record(body)) for seq, body in rows]


def records_of_kind(audit: AuditLog, *kinds: str) -> list[dict[str, Any]]:
    """Records of these kinds in chain order, through the ``kind`` index (not a full scan)."""
    return [record for _, record in records_since(audit, *kinds)]


def decision_values(audit: AuditLog, column: str) -> list[str]:
    """The distinct values of an indexed decision column (``strategy`` or ``asset``), sorted.

    A skip scan of the column's index: each next value is one seek past the last (the columns
    are set on decisions only), so it costs a few µs per value however many decisions share it.
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
    return [row[0] for row in rows]


def newest_first(audit: AuditLog, kind: str) -> list[dict[str, Any]]:
    """Records of one kind, the last appended first."""
    where = kind_filter([kind])  # a seek from seq 0: in seq order, no sort
    rows = audit.conn.execute(
        f"SELECT body FROM records WHERE {where} ORDER BY seq DESC", (kind, 0)
    )
    return [loads_record(body) for (body,) in rows.fetchall()]


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
