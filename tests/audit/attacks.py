"""What an attacker with write access to the log file (but not the key) can do to it.

Plain sqlite3 with the append-only triggers dropped, and the chain re-computed with the
project's own sealing and layout code (``signalops.audit.layout``, on the attacker's own
connection), so that what is left is a flawless chain: only the key can tell.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from signalops.audit import runs
from signalops.audit.chain import GENESIS
from signalops.audit.layout import COMPACT_VERSION, CompactLayout, Layout, LegacyLayout
from signalops.audit.record import prepare
from signalops.canonical import canonical_json

SEALED = ("seq", "prev_hash", "hash")


def attacker(log: Path) -> sqlite3.Connection:
    """The file opened as an attacker would: plain sqlite3, every trigger dropped."""
    db = sqlite3.connect(log)
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        db.execute(f"DROP TRIGGER {name}")
    return db


def layout_of(db: sqlite3.Connection) -> Layout:
    """The log's layout, working on the attacker's connection."""
    if db.execute("PRAGMA user_version").fetchone()[0] in (COMPACT_VERSION, runs.RUNS_VERSION):
        return CompactLayout(lambda sql, params: db.execute(sql, params).fetchall())
    return LegacyLayout()


def _hex(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value


def last(db: sqlite3.Connection) -> tuple[int, str]:
    seq, digest = db.execute("SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    return seq, _hex(digest)


def row_of(
    db: sqlite3.Connection, record: Mapping[str, Any], seq: int, prev_hash: str
) -> tuple[dict[str, Any], str]:
    """The stored row (columns by name) of ``record`` (unsealed) sealed at ``seq``, and its
    hash; its body is plain JSON."""
    layout = layout_of(db)
    row, digest = layout.row(prepare(record), seq, prev_hash, compress=False)
    return dict(zip((*layout.columns, "body"), row, strict=True)), digest


def insert(db: sqlite3.Connection, record: Mapping[str, Any], seq: int, prev_hash: str) -> str:
    """``record`` (unsealed) stored sealed at ``seq`` after ``prev_hash``; returns its hash."""
    row, digest = row_of(db, record, seq, prev_hash)
    names, marks = ", ".join(row), ", ".join("?" * len(row))
    db.execute(f"INSERT INTO records ({names}) VALUES ({marks})", [*row.values()])
    return digest


def update(db: sqlite3.Connection, record: Mapping[str, Any], seq: int, prev_hash: str) -> str:
    """The row at ``seq`` replaced by ``record`` (unsealed) sealed there after ``prev_hash``."""
    row, digest = row_of(db, record, seq, prev_hash)
    assignments = ", ".join(f"{name} = ?" for name in row if name != "seq")
    values = [value for name, value in row.items() if name != "seq"]
    db.execute(f"UPDATE records SET {assignments} WHERE seq = ?", [*values, seq])
    return digest


def stored(db: sqlite3.Connection, where: str = "1", params: Any = ()) -> list[dict[str, Any]]:
    """The sealed records of the rows matching ``where``, in seq order."""
    layout = layout_of(db)
    sql = f"SELECT {layout.select} FROM records WHERE {where} ORDER BY seq"
    return [layout.decode(row) for row in db.execute(sql, params).fetchall()]


def unsealed(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in SEALED}


def move_head(db: sqlite3.Connection) -> None:
    """The chain head set to the last record, as ``AuditLog.append`` would have."""
    seq, hash = last(db)
    db.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, hash))


def append_sealed(db: sqlite3.Connection, records: list[dict[str, Any]]) -> None:
    """Records chained after the last one, the head moved to the new end."""
    seq, prev = last(db)
    for record in records:
        seq += 1
        prev = insert(db, record, seq, prev)
    move_head(db)


def reseal_from(db: sqlite3.Connection, start: int, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Edit the record at ``start`` and re-seal it and everything after it."""
    bodies = [unsealed(record) for record in stored(db, "seq >= ?", (start,))]
    prev = db.execute("SELECT hash FROM records WHERE seq = ?", (start - 1,)).fetchone()
    prev_hash = _hex(prev[0]) if prev else GENESIS
    db.execute("DELETE FROM records WHERE seq >= ?", (start,))
    for seq, body in enumerate(bodies, start):
        if seq == start:
            edit(body)
        prev_hash = insert(db, body, seq, prev_hash)
    move_head(db)


def reseal_one(db: sqlite3.Connection, seq: int, edit: Callable[[dict[str, Any]], Any]) -> None:
    """Edit the record at ``seq`` and re-seal it alone (its successors still link to the old
    hash)."""
    (record,) = stored(db, "seq = ?", (seq,))
    prev_hash = record["prev_hash"]
    body = unsealed(record)
    edit(body)
    update(db, body, seq, prev_hash)


def edit_body(db: sqlite3.Connection, seq: int, edit: Callable[[dict[str, Any]], Any]) -> None:
    """The stored body at ``seq`` edited in place, not re-sealed (its hash stays as it was):
    a compact body is read, edited and written back as plain JSON."""
    layout = layout_of(db)
    found = db.execute("SELECT body FROM records WHERE seq = ?", (seq,)).fetchone()
    if found is None:
        edit_run(db, seq, lambda row: (*row[:13], _edited(layout, row[13], edit)))
        return
    db.execute("UPDATE records SET body = ? WHERE seq = ?", (_edited(layout, found[0], edit), seq))


def _edited(layout: Layout, body: Any, edit: Callable[[dict[str, Any]], Any]) -> str:
    fields = layout.body(body) if isinstance(layout, CompactLayout) else json.loads(body)
    edit(fields)
    return canonical_json(fields)


def edit_run(
    db: sqlite3.Connection, seq: int, edit: Callable[[tuple[Any, ...]], tuple[Any, ...]]
) -> None:
    """The record at ``seq`` that a run holds replaced in it by ``edit`` of its compact row
    (the run written again with the project's own code, not re-sealed)."""
    (first,) = db.execute(
        "SELECT first FROM runs WHERE first <= ? ORDER BY first DESC LIMIT 1", (seq,)
    ).fetchone()
    stored = db.execute(f"SELECT {runs._SELECT} FROM runs WHERE first = ?", (first,)).fetchone()
    run = runs.RunBuilder()
    for row in runs.decode(stored):
        run.add(edit(row) if row[0] == seq else row)
    names = [name for (_, name, *_) in db.execute("PRAGMA table_info(runs)").fetchall()]
    assignments = ", ".join(f"{name} = ?" for name in names[1:])
    db.execute(f"UPDATE runs SET {assignments} WHERE first = ?", [*run.params()[1:], first])
