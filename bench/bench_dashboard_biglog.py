"""The dashboard on a large audit log: what its first page costs, and what verification costs.

Issue 11 measured 189 s for the first page on a 1,000,000-record log: every page ran a full
chain check, under a lock every session shared. Now a page reads only through indexes and a
check runs in a background thread, from the last verified point. This script builds a log of N
records (default 1,000,000; ``--quick`` 100,000) with ``AuditLog.append_many`` (small decision
records by default; ``--real`` clones a real decision record, ~4 KB each, as
``bench/audit_records.py`` does: minutes and gigabytes at 1M) and one decision waiting for
approval at the end, with its strategy stored as a run stores it (``remember_strategy``: the
page re-derives the decision's logic tree from the stored tree, the real path), then times:

  (a) the first page's data path on its own: open the read-only workspace, "any records?",
      the pending approvals twice (the sidebar count and the queue), and the verification poll
      that starts the background check (it returns at once);
  (b) the Approval queue page through Streamlit's AppTest while that check runs: the first
      run of the script (imports included) and a refresh;
  (c) the background full check (what every page used to wait for), until it ends;
  (d) 10 records appended, then the check of the new records from the last verified point.

(a), the page runs of (b) and (d) are repeated (``--repeat``, default 3) and the minimum is
printed; (b)'s first run (imports included) and (c) happen once per process and log. The
ratios are against (c), what the first page cost before it stopped waiting for a full check.

Run:  .venv/bin/python bench/bench_dashboard_biglog.py [--quick] [--records N] [--real]
      [--repeat N] [--keep PATH]   (build the log at PATH once; later runs reuse it)
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signalops.audit.record import SCHEMA  # noqa: E402
from signalops.audit.store import AuditLog  # noqa: E402

if TYPE_CHECKING:
    from signalops.strategy.model import Strategy

NOW = "2024-01-01T00:05:00Z"


def slim_records(start: int, n: int) -> Iterator[dict[str, Any]]:
    for i in range(start, start + n):
        ident = f"decision-{i:08d}"
        yield {
            "schema": SCHEMA, "kind": "decision", "id": ident, "decision_id": ident,
            "recorded_at": "2024-01-01T00:00:00Z", "as_of": "2024-01-01T00:00:00Z",
            "asset": "SOL", "verdict": "HOLD", "mode": "paper",
        }  # fmt: skip


def template_strategy() -> Strategy:
    """The strategy ``bench.audit_records.template_record`` is a decision of (what a run
    stores with ``remember_strategy`` before it appends)."""
    from bench.audit_records import _STRATEGY, template_record
    from signalops.audit.trees import tree_hash
    from signalops.strategy import loads

    strategy = loads(_STRATEGY, "bench.yaml")
    cited = template_record()["strategy"]
    assert (strategy.content_hash, tree_hash(strategy)) == (cited["hash"], cited["tree"]), cited
    return strategy


def pending_record() -> dict[str, Any]:
    """A real decision record (``bench/audit_records.py``'s), made to wait for approval."""
    from bench.audit_records import template_record

    record = template_record()
    ident = "decision-pending"
    return {
        **record, "id": ident, "decision_id": ident, "asset": "ETH", "mode": "notify",
        "as_of": "2024-01-01T00:00:00Z", "recorded_at": "2024-01-01T00:00:00Z",
        "execution": {"status": "PENDING_APPROVAL", "approval_id": "approval-pending-1",
                      "expires_at": "2024-01-01T00:15:00Z"},
    }  # fmt: skip


def build(path: Path, n: int, real: bool) -> float:
    began = time.perf_counter()
    with AuditLog(path) as log:
        log.remember_strategy(template_strategy())
        if real:
            from bench.audit_records import synthetic_records

            log.append_many(synthetic_records(n))
        else:
            log.append_many(slim_records(0, n))
        log.append(pending_record())
    return time.perf_counter() - began


def first_page_data(path: Path) -> tuple[float, int, bool]:
    """(seconds, approvals waiting, whether a background check was running when it returned)."""
    from signalops.dashboard import tables
    from signalops.dashboard.api import parse_time
    from signalops.dashboard.verification import verifier_for
    from signalops.workspace import open_workspace

    began = time.perf_counter()
    workspace = open_workspace(audit=path, config=None, create=False)
    try:
        assert tables.has_records(workspace.audit)
        waiting = workspace.audit.pending_approvals(parse_time(NOW))
        workspace.audit.pending_approvals(parse_time(NOW))
        running = verifier_for(path).poll().running
    finally:
        workspace.close()
    return time.perf_counter() - began, len(waiting), running


def app_env(path: Path, folder: Path) -> None:
    os.environ.update(
        {
            "SIGNALOPS_AUDIT": str(path),
            "SIGNALOPS_NOW": NOW,
            "SIGNALOPS_STRATEGIES": str(folder),
            "SIGNALOPS_REPORTS": str(folder),
            "SIGNALOPS_REPLAY": str(folder),  # no candles: the chart says so, nothing is fetched
            "SIGNALOPS_DASHBOARD_REFRESH": "0",
        }
    )
    os.environ.pop("SIGNALOPS_CONFIG", None)


def new_session() -> Any:
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / "signalops" / "dashboard" / "app.py"), default_timeout=600)


def page_run(app: Any) -> float:
    began = time.perf_counter()
    app.run()
    seconds = time.perf_counter() - began
    if app.exception:
        raise SystemExit(f"the page failed: {app.exception}")
    return seconds


def caption(app: Any) -> str:
    return next((c.value for c in app.caption if c.value.startswith("Audit log:")), "?")


def new_records_check(path: Path, start: int) -> Any:
    """Append 10 records, then the verifier's check of them (its 5 s pause skipped)."""
    from signalops.dashboard.verification import verifier_for

    with AuditLog(path) as log:
        log.append_many(slim_records(start, 10))
    verifier = verifier_for(path)
    verifier.clock = lambda: float("inf")
    verifier.poll()
    verifier.clock = time.monotonic
    new = verifier.wait()
    assert new.last is not None and new.last.ok and not new.last.full, new
    return new.last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="100,000 records")
    parser.add_argument("--real", action="store_true", help="real-size decision records")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the timed runs")
    parser.add_argument("--keep", type=Path, help="build the log here once and reuse it")
    args = parser.parse_args()
    n = 100_000 if args.quick else args.records
    repeat = max(1, args.repeat)
    folder = Path(tempfile.mkdtemp(prefix="signalops-dash-bench-"))
    try:
        path = args.keep or folder / "audit.db"
        if path.exists():
            print(f"reusing {path}")
        else:
            seconds = build(path, n, args.real)
            print(
                f"built {n + 1:,} records in {seconds:.1f}s ({path.stat().st_size / 1e6:,.0f} MB)"
            )
        work = folder / "work.db"  # appended to below: keep a --keep log as it was
        shutil.copyfile(path, work)
        from signalops.dashboard.verification import verifier_for

        runs = [first_page_data(work) for _ in range(repeat)]
        assert runs[0][2], "the first poll starts the background check"
        data_seconds, waiting = min(r[0] for r in runs), runs[0][1]

        app_env(work, folder)
        app = new_session()
        first = page_run(app)  # the process's first run: Streamlit and the adapters imported
        refresh = min(page_run(app) for _ in range(repeat))
        status = caption(app)
        tree = bool(app.get("html"))  # the logic tree, re-derived from the stored tree
        fresh = min(page_run(new_session()) for _ in range(repeat))

        done = verifier_for(work).wait(timeout=3600)
        assert done.last is not None and done.last.full, done
        full = done.last.seconds
        check = min(
            (new_records_check(work, n + 10 * i) for i in range(repeat)), key=lambda c: c.seconds
        )

        def vs_full(seconds: float) -> str:
            return f"(c) takes {full / seconds:,.1f}x as long"

        print(
            f"(a) first page data path: {data_seconds * 1000:.1f} ms ({waiting} waiting; the "
            f"process's first call, imports included: {runs[0][0] * 1000:.1f} ms); "
            f"{vs_full(data_seconds)}"
        )
        print(
            f"(b) Approval queue page: first run {first:.2f}s (imports included; "
            f"{vs_full(first)}), a new session {fresh:.2f}s, refresh {refresh:.2f}s; "
            f"logic tree drawn: {'yes' if tree else 'NO'}"
        )
        print(f"    it says: {status}")
        print(
            f"(c) background full check: {done.last.checked:,} records in {full:.1f}s, "
            f"ok={done.last.ok}"
        )
        print(
            f"(d) check of the new records: {check.checked} records in "
            f"{check.seconds * 1000:.1f} ms, ok={check.ok}; {vs_full(check.seconds)}"
        )
        print(f"(a), (b) new session and refresh, (d): min of {repeat}")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory of this process: {peak:,.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
