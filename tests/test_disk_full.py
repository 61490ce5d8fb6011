"""Issue 11: a full disk ends a command with one line, and nothing half-written.

SQLite's own "database or disk is full" is produced for real with ``PRAGMA max_page_count``
(the file may not grow past its pages, exactly as on a full disk); a file write meets a real
ENOSPC on ``/dev/full``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.errors import DiskFull
from signalops.pipeline import loop
from signalops.workspace import build_pipeline, load_strategies, open_workspace


def test_a_run_that_fills_the_disk_stops_with_one_error_and_a_sound_log(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    path = tmp_path / "audit.db"
    workspace = open_workspace(audit=path, create=True)
    strategies = load_strategies([STRATEGIES / "banking_crisis_dip.yaml"])
    pipeline = build_pipeline(workspace, strategies, replay=replay_dir)
    start = datetime(2023, 3, 1, tzinfo=UTC)
    loop.run(pipeline, [start])  # one cycle fits
    pages = workspace.audit.db.execute("PRAGMA page_count").fetchone()[0]
    workspace.audit.db.execute(f"PRAGMA max_page_count = {pages}")  # and then the disk is full

    with pytest.raises(DiskFull, match=f"^disk full writing {path}: nothing of this cycle"):
        loop.run(pipeline, [start + timedelta(days=d) for d in range(1, 30)])
    workspace.close()

    with AuditLog.open_readonly(path) as log:
        report = verify(log)
        assert report.ok, str(report)  # ledger and records agree: no fill without its record
        # Whole cycles only: compact records fit a few more cycles in the pages the first made.
        decisions = [r for r in log.records() if r["kind"] == "decision"]
        assert report.checked >= 1 and len(decisions) == len({r["as_of"] for r in decisions})


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full on this system")
def test_an_export_to_a_full_disk_is_one_line(tmp_path: Path, replay_dir: Path):
    log = tmp_path / "audit.db"
    assert (
        run(
            "run",
            str(STRATEGIES / "banking_crisis_dip.yaml"),
            "--replay",
            str(replay_dir),
            "--from",
            "2023-03-08",
            "--audit",
            str(log),
        ).exit_code
        == 0
    )

    result = run("audit", "export", "/dev/full", "--audit", str(log))

    assert (result.exit_code, result.stderr) == (1, "error: disk full writing /dev/full\n")
