"""``why`` warns, and exits 1, when a record's indexed columns disagree with it, as ``audit
verify`` reports them (EDITED).

Regression test: with the ``verdict`` and ``status`` columns of a BUY decision set to SELL and
FILLED by SQL (the record and its hash untouched), ``decisions --verdict SELL`` listed it and
``audit verify`` said ``EDITED seq 20: indexed column verdict says 'SELL', the record says
'BUY'``, but ``why`` of that decision showed no warning and exited 0.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

STRATEGY = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
EDITED = (
    "indexed column verdict says 'SELL', the record says 'BUY'; column status says 'FILLED', "
    "the record says 'PENDING_APPROVAL'"
)


@pytest.fixture
def edited(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    """A notify-mode BUY whose verdict and status columns were edited; (log, its seq)."""
    monkeypatch.chdir(tmp_path)
    db = str(tmp_path / "audit.db")
    made = run(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
        "--from", "2023-03-10", "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    sql = sqlite3.connect(db)
    (seq,) = sql.execute("SELECT seq FROM records WHERE verdict = 'BUY'").fetchone()
    sql.execute("DROP TRIGGER records_no_update")
    sql.execute("UPDATE records SET verdict = 'SELL', status = 'FILLED' WHERE seq = ?", (seq,))
    sql.commit()
    sql.close()
    return db, seq


def test_why_warns_of_an_edited_column_and_exits_1(edited: tuple[str, int]):
    db, seq = edited
    (line,) = run("decisions", "--verdict", "SELL", "--audit", db).stdout.splitlines()
    decision = line.split()[-1]

    result = run("why", decision, "--audit", db)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith("BTC at 2023-03-10T00:00:00Z: BUY awaiting")
    assert result.stderr == (
        f"WARNING: record seq {seq} does not verify; do not trust the explanation above:\n"
        f"  - {EDITED}\n"
        "  run 'signalops audit verify' for the whole log\n"
    )
    verified = run("audit", "verify", "--audit", db)
    assert f"EDITED seq {seq}: {EDITED}\n" in verified.stderr


def test_why_json_lists_it_among_the_integrity_problems(edited: tuple[str, int]):
    db, _ = edited

    result = run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", db)

    assert result.exit_code == 1
    assert json.loads(result.stdout)["integrity_problems"] == [EDITED]
