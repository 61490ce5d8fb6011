"""Reads of the audit log by record kind, for the pipeline, the backtest and the dashboard.

They go through the ``records(kind, as_of)`` index, so the risk gate's incremental read of past
orders costs the same on a log of a million records as on a fresh one.
"""

from __future__ import annotations

from typing import Any

from signalops.audit.record import loads_record
from signalops.audit.store import AuditLog


def records_since(
    audit: AuditLog, *kinds: str, after_seq: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, record) of these kinds after ``after_seq``, in chain order, through the index."""
    marks = ", ".join("?" for _ in kinds)
    rows = audit.db.execute(
        f"SELECT seq, body FROM records WHERE kind IN ({marks}) AND seq > ? ORDER BY seq",
        (*kinds, after_seq),
    ).fetchall()
    return [(seq, loads_record(body)) for seq, body in rows]


def records_of_kind(audit: AuditLog, *kinds: str) -> list[dict[str, Any]]:
    """Records of these kinds in chain order, through the ``kind`` index (not a full scan)."""
    return [record for _, record in records_since(audit, *kinds)]


def decision_values(audit: AuditLog, column: str) -> list[str]:
    """The distinct values of an indexed decision column (``strategy`` or ``asset``), sorted."""
    if column not in ("strategy", "asset"):
        raise ValueError(column)
    rows = audit.db.execute(
        f"SELECT DISTINCT {column} FROM records WHERE kind = 'decision' "
        f"AND {column} IS NOT NULL ORDER BY {column}"
    ).fetchall()
    return [row[0] for row in rows]


def newest_first(audit: AuditLog, kind: str) -> list[dict[str, Any]]:
    """Records of one kind, the last appended first."""
    rows = audit.db.execute("SELECT body FROM records WHERE kind = ? ORDER BY seq DESC", (kind,))
    return [loads_record(body) for (body,) in rows.fetchall()]


def relax_durability(audit: AuditLog) -> None:
    """Commit without waiting for the disk (WAL ``synchronous=NORMAL``): for rebuildable logs.

    Still consistent after a crash, but the last commits may be lost: only for a log that the
    same run can write again, such as a backtest's.
    """
    audit.db.execute("PRAGMA synchronous=NORMAL")


__all__ = [
    "decision_values",
    "newest_first",
    "records_of_kind",
    "records_since",
    "relax_durability",
]
