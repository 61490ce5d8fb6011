"""Logs in the layout written before compact records, for the tests that read and write them.

``LEGACY_DUMP`` is a real log written by the version before compact records
(``signalops.audit/1`` decisions, text columns, whole JSON bodies): a paper run of
``tests/fixtures/banking_crisis_pipeline.yaml`` over 2023-03-08..16 on the bundled data, dumped
with ``sqlite3``'s ``iterdump``. ``legacy_log`` makes an empty log with that file's schema (its
tables, indexes and triggers), which ``AuditLog`` then reads and appends to in that layout.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "audit_v1"
LEGACY_DUMP = FIXTURES / "march_2023.sql"
_AUDIT_TABLES = ("records", "strategies", "chain_head", "seals")


def restore_legacy(path: Path) -> Path:
    """The legacy fixture log, restored into a file at ``path``."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
    finally:
        conn.close()
    return path


def legacy_schema() -> list[str]:
    """The CREATE statements of the legacy fixture's audit tables, indexes and triggers."""
    probe = sqlite3.connect(":memory:")
    try:
        probe.executescript(LEGACY_DUMP.read_text(encoding="utf-8"))
        marks = ", ".join("?" * len(_AUDIT_TABLES))
        rows = probe.execute(
            f"SELECT type, sql FROM sqlite_master WHERE tbl_name IN ({marks}) AND sql IS NOT NULL",
            _AUDIT_TABLES,
        ).fetchall()
    finally:
        probe.close()
    order = {"table": 0, "index": 1, "trigger": 2}
    return [sql for _, sql in sorted(rows, key=lambda row: order[row[0]])]


def legacy_log(path: Path) -> Path:
    """An empty log at ``path`` in the legacy layout."""
    conn = sqlite3.connect(path)
    try:
        for statement in legacy_schema():
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()
    return path
