"""What two backtests' logs must agree on to be the same log: every record the store gives
back (with its seq and hash), and every table but those its records are kept in.

The fast engine keeps most records in runs (``signalops.audit.runs``), the pipeline engine each
in a row, so the ``records``, ``runs``, ``run_ids`` and ``run_kinds`` tables and the layout's
side tables (``names``, ``contexts``, ``dictionaries``: how bodies are shortened) differ by
design.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from signalops.audit.store import AuditLog

# Where the records are kept, and how: what two logs of the same records may differ by.
STORAGE = {"records", "runs", "run_ids", "run_kinds", "names", "contexts", "dictionaries"}


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a log file but its records' storage, every row in key order."""
    with sqlite3.connect(path) as db:
        names = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {
            name: db.execute(f"SELECT * FROM {name} ORDER BY 1").fetchall()
            for name in names
            if name not in STORAGE
        }


def records(path: Path) -> list[dict[str, Any]]:
    """Every record of the log at ``path``, in chain order, as the store gives it back."""
    with AuditLog.open_readonly(path) as log:
        return list(log.records())


def log_contents(path: Path) -> dict[str, Any]:
    """``tables`` and ``records`` of the log at ``path`` together."""
    return {**tables(path), "records": records(path)}
