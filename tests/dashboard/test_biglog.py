"""Issue 11: the dashboard's first page on a large log does not read every record.

A 150,012-record log (the prepared log, then 200,000 small decision records through
``AuditLog.append_many``). The first page's reads are counted in SQLite virtual-machine steps
(a progress handler on the page's own connection) against one scan of the records, and the
verification runs in the background: the page renders while it runs, then says how it ended;
records appended later are checked alone. ``bench/bench_dashboard_biglog.py`` does the same at
1,000,000 records with timings.
"""

# Fixtures come from dashboard_fixtures (see test_app.py for why not a conftest.py).
# ruff: noqa: F811

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_fixtures import (  # noqa: F401 - fixtures
    APP,
    NOW,
    OPERATORS_YAML,
    copy_log,
    prepared_template,
)
from streamlit.testing.v1 import AppTest

from signalops.audit.record import SCHEMA
from signalops.audit.store import AuditLog
from signalops.dashboard import tables
from signalops.dashboard.api import parse_time
from signalops.dashboard.verification import verifier_for
from signalops.workspace import open_workspace

BULK = 150_000  # ~20 s for the module, most of it building the log


def slim_records(start: int, n: int) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        ident = f"decision-{i:08d}"
        yield {
            "schema": SCHEMA, "kind": "decision", "id": ident, "decision_id": ident,
            "recorded_at": "2023-03-09T00:00:00Z", "as_of": "2023-03-09T00:00:00Z",
            "asset": "SOL", "verdict": "HOLD", "mode": "paper",
        }  # fmt: skip


@pytest.fixture(scope="module")
def big_log(prepared_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = copy_log(prepared_template, tmp_path_factory.mktemp("big") / "big.db")
    with AuditLog(db) as log:
        assert log.append_many(slim_records(0, BULK)) == BULK
    return db


class Steps:
    """SQLite VM instructions run on one connection, in units of ``EVERY``."""

    EVERY = 10

    def __init__(self, conn: Any) -> None:
        self.count = 0
        conn.set_progress_handler(self._tick, self.EVERY)

    def _tick(self) -> int:
        self.count += 1
        return 0

    def taken(self) -> int:
        return self.count * self.EVERY


def test_the_first_pages_reads_cost_a_tiny_fraction_of_one_pass_over_the_records(big_log: Path):
    began = time.perf_counter()
    workspace = open_workspace(audit=big_log, config=None, create=False)
    try:
        steps = Steps(workspace.audit.db.conn)
        # What the Approval queue reads: records or the first-run message, the sidebar count
        # and the queue itself (verification runs on its own connection: the next test).
        assert tables.has_records(workspace.audit)
        waiting = workspace.audit.pending_approvals(parse_time(NOW))
        assert len(waiting) == 1 and waiting[0].asset == "ETH"
        workspace.audit.pending_approvals(parse_time(NOW))
        page_steps, page_seconds = steps.taken(), time.perf_counter() - began

        steps.count = 0
        workspace.audit.db.execute("SELECT max(length(id)) FROM records").fetchone()
        scan_steps = steps.taken()
    finally:
        workspace.close()
    print(f"first page: {page_steps} VM steps, {page_seconds * 1000:.0f} ms; scan {scan_steps}")
    assert scan_steps > BULK  # the yardstick reads every row
    assert page_steps * 100 < scan_steps  # VM steps, not seconds: the machine's load aside


def test_the_first_page_renders_while_the_log_is_verified_then_says_how_it_ended(
    big_log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    db = copy_log(big_log, tmp_path / "audit.db")
    (tmp_path / "signalops.yaml").write_text(OPERATORS_YAML)
    for name, value in {
        "SIGNALOPS_AUDIT": str(db), "SIGNALOPS_NOW": NOW,
        "SIGNALOPS_CONFIG": str(tmp_path / "signalops.yaml"),
        "SIGNALOPS_STRATEGIES": str(tmp_path), "SIGNALOPS_REPORTS": str(tmp_path),
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)

    at = AppTest.from_file(str(APP), default_timeout=60).run()
    began = time.perf_counter()
    at.run()  # a refresh while the first check runs
    refresh = time.perf_counter() - began
    assert not at.exception, at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "Audit log: verifying… (full check; not verified yet)" in captions
    assert "1 waiting" in "\n".join(m.value for m in at.markdown)

    verifier = verifier_for(db)
    full = verifier.wait(timeout=120)
    assert full.last is not None and full.last.ok and full.last.checked == BULK + 12
    at.run()
    assert f"Audit log: verified, chain intact to seq {BULK + 12} at " in "\n".join(
        c.value for c in at.caption
    )

    with AuditLog(db) as log:
        log.append_many(slim_records(BULK, 5))
    verifier.clock = lambda: float("inf")  # the 5 s between checks have passed
    verifier.poll()
    new = verifier.wait()
    assert new.last is not None and new.last.ok and not new.last.full
    assert (new.last.checked, new.verified_seq) == (5, BULK + 17)
    print(f"refresh during the check: {refresh:.2f}s; full check {full.last.seconds:.1f}s; "
          f"5 new records {new.last.seconds * 1000:.0f} ms")  # fmt: skip
