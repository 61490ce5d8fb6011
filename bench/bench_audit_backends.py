"""What an audit append and a whole decision cost on PostgreSQL, against SQLite in the same run.

Two backends of the one store interface (``signalops.audit.interface``), each as a user gets it:

- SQLite (the baseline): ``AuditLog`` on a file in a temp dir, as ``signalops run`` opens it
  (WAL, synchronous=FULL: each commit is fsynced);
- PostgreSQL: ``PostgresAuditLog`` on a local server over TCP (127.0.0.1), started like the tests
  start theirs (``tests/postgres_server.py``: Debian's binaries, initdb + pg_ctl, fsync on,
  synchronous_commit on: each commit waits for the server's WAL flush), or the server of
  ``--url`` (a superuser URL: each pass makes a database of its own there).

Timed, each pass on a fresh log (a new file, a new database), best of N passes:

  (1) ``append(record)``: one record per transaction (a decision that acts commits alone);
  (2) ``append_many(50 records)``: one transaction per batch (a cycle's held records), shown
      per record; p50/p99 are of the batch calls, divided by 50;
  (3) one whole decision, ``Pipeline.decide(strategy, asset, as_of, answers)``: evaluate ->
      size -> risk gate -> paper broker -> audit record, on observations gathered before timing
      (bench/bench_pipeline.py's (b): three strategies on BTC, daily, the first half of 2023 by
      default). On PostgreSQL the paper ledger lives in the same database and a fill commits
      with its records, under the chain head's row lock, as on SQLite in one transaction.

The records of (1) and (2) are a real decision record (``bench.audit_records``'s template: a
HOLD with its full trace) with its own id, asset and as_of each. Checked before the table:
each backend's log verifies, and the decisions of (3) give the same chain head hash on both
(the same records, hash for hash: the runner is a column, not part of the record).

Every call is timed with ``time.perf_counter_ns``: µs/op is the pass's wall time / ops; p50 and
p99 are of the single calls of the best pass (lowest wall time); "vs SQLite" is µs/op over
SQLite's for the same operation in this run. The machine may be shared (the load average is
printed when high): compare rows of one run, not numbers across runs.

Run:  .venv/bin/python bench/bench_audit_backends.py [--repeats N] [--appends N] [--days N]
      [--url postgresql://USER@HOST:PORT/postgres]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.audit_records import START, synthetic_records, template_record
from bench.bench_pipeline import (
    DATA,
    QUICK,
    ROOT,
    STRATEGY_FILES,
    Setup,
    Timing,
    best,
    busy,
    cycle_requests,
    day_times,
    run_decide,
)
from signalops.adapters import gather as engine
from signalops.adapters import registry
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.interface import AuditStore, open_log
from signalops.audit.verify import verify
from signalops.canonical import canonical_json
from signalops.workspace import load_strategies

BATCH = 50
_DATABASES = itertools.count(1)


# --- the backends --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """Where a pass's fresh log goes: a new SQLite file, or a new database on the server."""

    name: str
    scratch: Path
    server_url: str | None = None  # a superuser URL (the ``postgres`` database) for PostgreSQL

    def fresh(self) -> str:
        """The location of a new, empty log (``--audit`` as a user gives it)."""
        n = next(_DATABASES)
        if self.server_url is None:
            return str(self.scratch / f"audit-{n}.db")
        import psycopg

        name = f"bench_audit_{n}"
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        return self.server_url.rsplit("/", 1)[0] + f"/{name}"

    def drop(self, where: str) -> None:
        """The log gone (a pass's leftovers must not fill the disk over many passes)."""
        if self.server_url is None:
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{where}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {where.rsplit('/', 1)[1]}")

    def describe(self) -> str:
        if self.server_url is None:
            return "file in a temp dir, WAL, synchronous=FULL (each commit fsynced)"
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            settings = {
                name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
            }
        return (
            f"server {settings['server_version'].split()[0]} on 127.0.0.1 (TCP), fsync "
            f"{settings['fsync']}, synchronous_commit {settings['synchronous_commit']}, "
            f"wal_sync_method {settings['wal_sync_method']}"
        )


@contextmanager
def local_server() -> Iterator[str]:
    """A throw-away server started as the tests start theirs; its superuser URL."""
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_server import start

    server = start()
    try:
        yield server.url
    finally:
        server.stop()


# --- the timed paths -----------------------------------------------------------------------------


def records(n: int, offset: int) -> list[dict[str, Any]]:
    """``n`` distinct decision records (the template re-keyed), built before timing."""
    template = template_record()
    start = START + timedelta(days=3650 * offset)
    return list(synthetic_records(n, template, start=start))


def time_calls(items: Sequence[Any], call: Callable[[Any], Any], per: int = 1) -> Timing:
    calls = []
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    for item in items:
        t0 = clock()
        call(item)
        calls.append(clock() - t0)
    return Timing(clock() - start, calls, per=per)


def on_fresh_log(backend: Backend, work: Callable[[AuditStore], Timing]) -> Timing:
    where = backend.fresh()
    try:
        with open_log(where, create=True, runner="bench") as log:
            timing = work(log)
            if not verify(log).ok:
                raise SystemExit(f"{backend.name}: the log of a timed pass does not verify")
        return timing
    finally:
        backend.drop(where)


def appends(backend: Backend, given: list[dict[str, Any]]) -> Timing:
    return on_fresh_log(backend, lambda log: time_calls(given, log.append))


def batches(backend: Backend, given: list[dict[str, Any]]) -> Timing:
    chunks = [given[i : i + BATCH] for i in range(0, len(given), BATCH)]
    return on_fresh_log(backend, lambda log: time_calls(chunks, log.append_many, per=BATCH))


def decisions(backend: Backend, setup: Setup) -> tuple[Timing, str]:
    where = backend.fresh()
    try:
        timing, _outcomes, head = run_decide(setup, where)
        with open_log(where, create=False) as log:
            if not verify(log).ok:
                raise SystemExit(f"{backend.name}: the decisions' log does not verify")
        return timing, head
    finally:
        backend.drop(where)


# --- the run -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    repeats: int
    appends: int  # records per pass of (1), and of (2) in batches of 50
    days: int  # days of decisions in (3), from 2023-01-01


def decision_setup(scratch: Path, days: int) -> Setup:
    import_bundled(DATA, scratch / "replay")
    strategies = load_strategies(STRATEGY_FILES)
    work = [(s, a) for s in strategies for a in s.assets]
    requests = cycle_requests(work)
    times = day_times(
        replace(QUICK, start=date(2023, 1, 1), end=date(2023, 1, 1) + timedelta(days))
    )
    adapters = registry.replay_adapters(SnapshotStore(scratch / "replay"))
    answers = [engine.gather(requests, adapters, as_of) for as_of in times]
    return Setup(scratch / "replay", scratch, strategies, work, requests, times, answers)


def measure(backends: Sequence[Backend], plan: Plan, setup: Setup) -> list[tuple[str, str, Timing]]:
    single = records(plan.appends, 0)
    batched = records(plan.appends, 1)
    passes: dict[tuple[str, str], list[Timing]] = {}
    heads: dict[str, set[str]] = {}
    for _ in range(plan.repeats):
        for backend in backends:  # interleaved: a slow spell of the machine hits both
            passes.setdefault(("append", backend.name), []).append(appends(backend, single))
            passes.setdefault(("batch", backend.name), []).append(batches(backend, batched))
            timing, head = decisions(backend, setup)
            passes.setdefault(("decide", backend.name), []).append(timing)
            heads.setdefault(backend.name, set()).add(head)
    distinct = set().union(*heads.values())
    if len(distinct) != 1:
        raise SystemExit(f"the decisions gave different chain heads: {heads}")
    print(f"check: every pass's log verifies; (3) ends at one chain head on both: {distinct.pop()}")
    return [(op, name, best(found)) for (op, name), found in passes.items()]


OPERATIONS = {
    "append": "(1) append, 1 record/transaction",
    "batch": f"(2) append_many, {BATCH} records/transaction",
    "decide": "(3) Pipeline.decide -> audit commit",
}
UNITS = {"append": "record", "batch": "record", "decide": "decision"}


def print_table(rows: list[tuple[str, str, Timing]], baseline: str) -> None:
    base = {op: timing.mean_us for op, name, timing in rows if name == baseline}
    width = max(len(text) for text in OPERATIONS.values())
    header = (
        f"{'operation':<{width}}  {'backend':<10}  {'unit':<8}  {'µs/unit':>9}  {'units/s':>8}  "
        f"{'p50 µs':>9}  {'p99 µs':>9}  {'vs SQLite':>9}"
    )
    print(header)
    print("-" * len(header))
    for op in OPERATIONS:
        for found_op, name, timing in rows:
            if found_op != op:
                continue
            mean = timing.mean_us
            print(
                f"{OPERATIONS[op]:<{width}}  {name:<10}  {UNITS[op]:<8}  {mean:>9,.1f}  "
                f"{1e6 / mean:>8,.0f}  {timing.pct_us(50):>9,.1f}  {timing.pct_us(99):>9,.1f}  "
                f"{mean / base[op]:>8,.2f}x"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (default 5)")
    parser.add_argument("--appends", type=int, default=1_000, help="records per append pass")
    parser.add_argument("--days", type=int, default=181, help="days of decisions in (3)")
    parser.add_argument("--url", help="a PostgreSQL superuser URL instead of a local server")
    args = parser.parse_args(argv)
    if args.appends < BATCH or args.appends % BATCH:
        parser.error(f"--appends: a multiple of {BATCH}")
    plan = Plan(args.repeats, args.appends, args.days)
    started = time.perf_counter()
    print(f"Python {platform.python_version()} on {platform.machine()}; best of {plan.repeats}")
    busy()
    with tempfile.TemporaryDirectory(prefix="bench-audit-backends-") as tmp:
        scratch = Path(tmp)
        setup = decision_setup(scratch, plan.days)
        with local_server() if args.url is None else _given(args.url) as url:
            backends = [Backend("SQLite", scratch), Backend("PostgreSQL", scratch, url)]
            for backend in backends:
                print(f"{backend.name}: {backend.describe()}")
            size = len(canonical_json(template_record()))
            print(
                f"records: {plan.appends:,} per pass of (1) and (2) ({size:,} bytes of JSON "
                f"each); (3): {len(setup.times) * len(setup.work):,} decisions "
                f"({len(setup.times)} days x {len(setup.work)} strategies, BTC, paper)"
            )
            rows = measure(backends, plan, setup)
    print()
    print_table(rows, "SQLite")
    print()
    print("how to read this: 'vs SQLite' is how many SQLite appends (or decisions) one costs on")
    print("PostgreSQL. A PostgreSQL transaction is a few round trips to the server (the chain")
    print("head's row lock, the insert, the head's update, the commit) plus the server's WAL")
    print("flush; SQLite's is a write and an fsync in this process. Batches share one commit.")
    busy()
    print(f"total {time.perf_counter() - started:,.0f} s")
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    sys.exit(main())
