"""Reads of the audit log that the pipeline and the backtest make by record kind.

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


__all__ = ["records_of_kind", "records_since"]
