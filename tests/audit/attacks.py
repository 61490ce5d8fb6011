"""What an attacker with write access to the log file (but not the key) can do to it.

Plain sqlite3 with the append-only triggers dropped, and the chain re-computed with the
project's own sealing code, so that what is left is a flawless chain: only the key can tell.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from signalops.audit.chain import GENESIS, seal_to_json
from signalops.audit.store import COLUMNS, index_columns


def attacker(log: Path) -> sqlite3.Connection:
    """The file opened as an attacker would: plain sqlite3, every trigger dropped."""
    db = sqlite3.connect(log)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


def last(db: sqlite3.Connection) -> tuple[int, str]:
    return db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()


def insert(db: sqlite3.Connection, sealed: dict[str, Any], body: str) -> None:
    columns = index_columns(sealed)
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    db.execute(
        f"INSERT INTO records ({', '.join(COLUMNS)}, body) VALUES ({marks})",
        [*(columns[c] for c in COLUMNS), body],
    )


def move_head(db: sqlite3.Connection) -> None:
    """The chain head set to the last record, as ``AuditLog.append`` would have."""
    seq, hash = last(db)
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, hash))


def append_sealed(db: sqlite3.Connection, records: list[dict[str, Any]]) -> None:
    """Records chained after the last one, the head moved to the new end."""
    seq, prev = last(db)
    for record in records:
        seq += 1
        sealed, body = seal_to_json(record, prev, seq)
        insert(db, sealed, body)
        prev = sealed["hash"]
    move_head(db)


def reseal_from(db: sqlite3.Connection, start: int, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Edit the record at ``start`` and re-seal it and everything after it."""
    rows = db.execute("SELECT seq, body FROM records WHERE seq >= ? ORDER BY seq", (start,))
    bodies = [(seq, json.loads(body)) for seq, body in rows.fetchall()]
    prev = db.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,)).fetchone()
    prev_hash = prev[0] if prev else GENESIS
    db.execute("DELETE FROM records WHERE seq >= ?", (start,))
    for seq, body in bodies:
        for name in ("seq", "prev_hash", "hash"):
            body.pop(name)
        if seq == start:
            edit(body)
        sealed, text = seal_to_json(body, prev_hash, seq)
        insert(db, sealed, text)
        prev_hash = sealed["hash"]
    move_head(db)
