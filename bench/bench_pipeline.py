"""What one decision costs end to end, and how fast ``why`` answers on a 1,000,000-record log.

Part 1, the pipeline. Three strategies that run on the bundled replay data
(tests/fixtures/banking_crisis_pipeline.yaml, strategies/banking_crisis_dip.yaml,
strategies/technical_baseline.yaml, all on BTC, paper mode) are decided once a day from
2018-01-01 to 2025-08-31 (``--quick``: the first half of 2023). The observations for every day
are gathered from the replay adapters once, before timing. Then, in one run:

  (a) baseline: ``strategy.evaluate(answers, as_of, asset)``, the bare traced evaluation on the
      pre-gathered answers;
  (b) ``Pipeline.decide(strategy, asset, as_of, answers)``: evaluate -> size -> risk gate ->
      paper broker -> audit record, committed to a real SQLite file (WAL, synchronous=FULL) in a
      temp dir; paper fills commit in the same transaction as their records;
  (c) ``Pipeline.cycle(as_of)``: the same with the gather through the replay adapters included
      (one gather per day for the three strategies; the row shows cycle time / 3). A cycle
      holds the records of its decisions that do not act (HOLD, BLOCKED, denied) and commits
      them together, at its end or with the next decision that acts (the write order of
      ``signalops.pipeline.records``), so a cycle commits about once where (b) commits once per
      decision: (c) can be cheaper per decision than (b);
  (d) for information: the gather alone (``engine.gather`` on the replay adapters, / 3);
  (e) for information: (b) with the audit log and paper ledger in an in-memory SQLite database,
      i.e. (b) without the disk: the difference is the cost of committing to the file;
  (f) for information: (b) without resting between days: SQLite then checkpoints its WAL in
      the commit of whichever decision takes it past 1,000 pages (every few dozen decisions).
  (g) for information: the disk's floor, in the same temp dir: one 600-byte row inserted and
      committed per call (``BEGIN IMMEDIATE`` ... ``COMMIT``, WAL, the audit log's
      ``synchronous``), as many calls as (b), resting between days as (b). No durable decision
      can be cheaper than this; its p99 is the disk's tail (fsync), which no code here moves.

Between days, (b), (c) and (e) let the pipeline rest (``Pipeline.rest``, untimed), as the live
loop does between cycles while it waits for the next one: the WAL is checkpointed there.

Each timed pass starts from a fresh audit log and paper account (decisions are idempotent, so a
second pass over the same log would only skip them) and after one warm-up gather (the replay
store loads its files on first use: set-up, not a per-decision cost). Every call is timed with
``time.perf_counter_ns``: µs/op is the pass's wall time / decisions, p50/p99 are of the single
calls, of the best of N passes (lowest wall time). "p99 low" is the p99 over the decisions of
each decision's lowest time in the N passes (every pass takes the same decisions in the same
order): what the decisions cost without the stalls other processes cause on a shared machine
(a busy disk delays some fsyncs by milliseconds, in no pass at the same decision); compare it
with p99 to see how much of the tail was the machine. Garbage collection stays on: its pauses
are part of a real decision's latency.

Checked before anything is timed: the decisions include BUYs and SELLs that filled, a BLOCKED
veto, risk-gate denials and HOLDs; the audit chain verifies; the bare evaluation gives the same
verdicts as the pipeline. Checked on every timed pass: the pass ends with the same chain head
hash as the checked run, i.e. byte-identical audit records whichever path made them.

Where (b)'s time goes: one more pass of (b) on a file log, instrumented (the functions still
run; a wrapper times them): per decision, the records built (``build_decision_record`` and
the follow-ups), their appends with the commit and its fsync (``AuditLog.append`` /
``append_many``, and the BEGIN and COMMIT of the ``transaction`` around a paper fill), and
the rest: the pipeline's own work (the recorded check, evaluation, sizing, risk gate, paper
broker, log lines); then the same over the decisions that act
only (a paper fill, or a BUY/SELL the gate's full risk check ran on): they are few (most
decisions HOLD or are SELLs with nothing to sell, denied before the check) and they are (b)'s
p99. ``--profile`` prints instead the functions a cProfile of (b) on a file log spends most in
(own time, then cumulative) and stops there; ``--profile-acting`` the same for the decisions
that act only.

Part 2, ``why`` on a big log: N records (default 1,000,000; ``--quick`` 20,000), made from the
real decision records (and fill records) of the checked run, re-keyed with new ids, assets
(10 of them) and hourly as_of times so that they are distinct, sealed through
``AuditLog.append_many`` (one transaction). Timed over random decisions, best of N passes:
``get(id)`` (the baseline: one primary-key read), ``decision_at(asset, day)``,
``followups(decision_id)``, rendering ``why(...)`` lines through a rich console (as the CLI
prints them), and the whole ``signalops why ASSET --at DAY`` path (find + follow-ups + render,
without process start-up). Building 1M records takes minutes and ~6 GB: ``--keep PATH`` builds
the log there once and reuses it on later runs.

How to read it: the ratio column says how many bare evaluations one decision costs. The gap
between (b) and (a) is the price of an auditable, crash-safe decision (the record with its full
trace, the hash chain, the SQLite commit), and (e) shows how much of that is the disk. The
``why`` rows should stay flat as the log grows: they are index lookups. The machine may be
shared; compare rows of one run, not numbers across runs.

Run:  .venv/bin/python bench/bench_pipeline.py [--quick] [--records N] [--keep PATH] [--repeats N]
      .venv/bin/python bench/bench_pipeline.py --quick --profile   # cProfile of (b) only
      .venv/bin/python bench/bench_pipeline.py --quick --profile-acting   # of its acting ones
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.audit_records import template_record
from signalops.adapters import gather as engine
from signalops.adapters import registry
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit import store as audit_store
from signalops.audit import why
from signalops.audit.chain import SEALED_FIELDS, check
from signalops.audit.layout import stamp
from signalops.audit.record import followup_id
from signalops.audit.schema import record_errors
from signalops.audit.store import AuditLog, rest_wal
from signalops.audit.verify import verify
from signalops.canonical import canonical_json, iso
from signalops.config import DEFAULT_CONFIG_FILE
from signalops.observation import Request
from signalops.orders import ExecutionStatus, Mode, client_order_id, decision_id
from signalops.pipeline import PRICE_TIMEFRAMES, Outcome, Pipeline
from signalops.pipeline import records as pipeline_records
from signalops.strategy.model import Strategy
from signalops.workspace import build_pipeline, load_strategies, open_workspace

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
STRATEGY_FILES = (
    ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml",
    ROOT / "strategies" / "banking_crisis_dip.yaml",
    ROOT / "strategies" / "technical_baseline.yaml",
)
# The big log: the checked run's records re-keyed onto these assets, one cycle an hour.
LOG_ASSETS = ("BTC", "ETH", "SOL", "XRP", "BNB", "ADA", "DOGE", "AVAX", "LINK", "DOT")
LOG_START = datetime(2020, 1, 1, tzinfo=UTC)
LOG_STEP = timedelta(hours=1)
SEED = 20230310
GB = 1e9
BYTES_PER_RECORD = 6_500  # on disk, indexes included (6,401 measured on the 1M log)


@dataclass(frozen=True)
class Plan:
    start: date
    end: date  # exclusive
    records: int
    repeats: int
    lookups: int
    lookup_repeats: int


FULL = Plan(date(2018, 1, 1), date(2025, 9, 1), 1_000_000, 3, 2_000, 5)
QUICK = Plan(date(2023, 1, 1), date(2023, 7, 1), 20_000, 3, 150, 3)


@dataclass(frozen=True)
class Timing:
    """One pass: wall time of the whole pass and each call's time, in ns. ``lows``: each
    call's lowest time over all the passes (the same calls in the same order), when known."""

    wall: int
    calls: list[int]
    per: int = 1  # decisions per call (a cycle decides several)
    lows: list[int] | None = None

    @property
    def mean_us(self) -> float:
        return self.wall / (len(self.calls) * self.per) / 1e3

    def pct_us(self, p: float, *, lows: bool = False) -> float:
        ordered = sorted(self.lows if lows and self.lows is not None else self.calls)
        return ordered[round(p / 100 * (len(ordered) - 1))] / self.per / 1e3


def best(passes: Sequence[Timing]) -> Timing:
    """The pass with the lowest wall time, with each call's lowest time over the passes."""
    found = min(passes, key=lambda t: t.wall)
    lows = [min(times) for times in zip(*(t.calls for t in passes), strict=True)]
    return replace(found, lows=lows)


# --- part 1: the pipeline ---------------------------------------------------------------------


@dataclass
class Setup:
    replay: Path
    scratch: Path
    strategies: list[Strategy]
    work: list[tuple[Strategy, str]]
    requests: list[Request]
    times: list[datetime]
    answers: list[dict[Request, Any]]


def day_times(plan: Plan) -> list[datetime]:
    days = (plan.end - plan.start).days
    first = datetime.combine(plan.start, datetime.min.time(), UTC)
    return [first + timedelta(days=i) for i in range(days)]


def cycle_requests(work: Sequence[tuple[Strategy, str]]) -> list[Request]:
    """What ``Pipeline.cycle`` gathers: each strategy's requests and the asset's closes."""
    requests: list[Request] = []
    for strategy, asset in work:
        requests.extend(strategy.requests(asset))
        requests.extend(
            Request("technical", "close", (("timeframe", tf),), asset) for tf in PRICE_TIMEFRAMES
        )
    return requests


def new_pipeline(setup: Setup, audit: str | Path) -> tuple[Pipeline, list[datetime]]:
    """A fresh workspace (audit log + paper account) and a replay pipeline on a simulated clock."""
    workspace = open_workspace(audit=audit)
    now = [setup.times[0]]
    pipeline = build_pipeline(
        workspace,
        setup.strategies,
        mode=Mode.PAPER,
        replay=setup.replay,
        clock=lambda: now[0],  # recorded_at = the decision time, as a replay run records it
    )
    engine.gather(setup.requests, pipeline.adapters, setup.times[0])  # warm-up: store loads
    return pipeline, now


def run_decide(
    setup: Setup,
    audit: str | Path,
    *,
    rest: bool = True,
    profiler: cProfile.Profile | None = None,
    profiled: frozenset[int] = frozenset(),
) -> tuple[Timing, list[Outcome], str]:
    """(b) once; ``profiler`` (when given) runs during the decisions numbered ``profiled``."""
    pipeline, now = new_pipeline(setup, audit)
    decide, calls, outcomes = pipeline.decide, [], []
    clock = time.perf_counter_ns
    gc.collect()
    resting = 0
    start = clock()
    for as_of, answers in zip(setup.times, setup.answers, strict=True):
        now[0] = as_of
        for strategy, asset in setup.work:
            on = profiler if profiler is not None and len(calls) in profiled else None
            if on is not None:
                on.enable()
            t0 = clock()
            outcomes.append(decide(strategy, asset, as_of, answers))
            calls.append(clock() - t0)
            if on is not None:
                on.disable()
        if rest:  # between cycles, untimed: the live loop is waiting for the next one
            t0 = clock()
            pipeline.rest()
            resting += clock() - t0
    wall = clock() - start - resting
    head = pipeline.audit.head()
    pipeline.audit.close()
    return Timing(wall, calls), outcomes, head[1] if head else ""


def run_cycle(setup: Setup, audit: str | Path) -> tuple[Timing, list[Outcome], str]:
    pipeline, now = new_pipeline(setup, audit)
    cycle, calls, outcomes = pipeline.cycle, [], []
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    resting = 0
    for as_of in setup.times:
        now[0] = as_of
        t0 = clock()
        summary = cycle(as_of)
        calls.append(clock() - t0)
        outcomes.extend(summary.outcomes)
        t0 = clock()
        pipeline.rest()  # between cycles, untimed, as the live loop
        resting += clock() - t0
    wall = clock() - start - resting
    head = pipeline.audit.head()
    pipeline.audit.close()
    return Timing(wall, calls, per=len(setup.work)), outcomes, head[1] if head else ""


def run_restless(setup: Setup, audit: str | Path) -> tuple[Timing, list[Outcome], str]:
    return run_decide(setup, audit, rest=False)


def run_floor(setup: Setup, path: Path, synchronous: int) -> Timing:
    """(g): what committing costs the disk alone. One 600-byte row per call, committed as (b)
    commits (its own ``BEGIN IMMEDIATE`` ... ``COMMIT``, WAL, the audit log's ``synchronous``),
    as many calls as (b) decides, resting between days as (b) rests (``AuditLog.checkpoint``:
    the WAL copied into the file, then started over)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE rows (seq INTEGER PRIMARY KEY, body TEXT)")
    body, calls, restarted = "x" * 600, [], None
    clock = time.perf_counter_ns
    gc.collect()
    start, resting = clock(), 0
    for _ in setup.times:
        for _ in setup.work:
            t0 = clock()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO rows (body) VALUES (?)", (body,))
            conn.execute("COMMIT")
            calls.append(clock() - t0)
        t0 = clock()
        restarted = rest_wal(conn, restarted)
        resting += clock() - t0
    wall = clock() - start - resting
    conn.close()
    return Timing(wall, calls)


def run_evaluate(setup: Setup) -> tuple[Timing, list[str]]:
    calls, verdicts = [], []
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    for as_of, answers in zip(setup.times, setup.answers, strict=True):
        for strategy, asset in setup.work:
            t0 = clock()
            evaluation = strategy.evaluate(answers, as_of, asset)
            calls.append(clock() - t0)
            verdicts.append(evaluation.verdict.value)
    return Timing(clock() - start, calls), verdicts


def run_gather(setup: Setup, adapters: Mapping[str, Any]) -> Timing:
    calls = []
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    for as_of in setup.times:
        t0 = clock()
        engine.gather(setup.requests, adapters, as_of)
        calls.append(clock() - t0)
    return Timing(clock() - start, calls, per=len(setup.work))


def kind_of(outcome: Outcome) -> str:
    if outcome.verdict.value in ("HOLD", "BLOCKED"):
        return outcome.verdict.value
    if outcome.denials:
        return f"{outcome.verdict.value} denied"
    return f"{outcome.verdict.value} {outcome.status.value.lower()}"


def check_run(setup: Setup) -> tuple[list[Outcome], str, list[dict[str, Any]]] | None:
    """The pipeline once on a file log, checked; returns its outcomes, head and records."""
    path = setup.scratch / "check.db"
    _, outcomes, head = run_decide(setup, path)
    kinds = Counter(kind_of(o) for o in outcomes)
    codes = Counter(code for o in outcomes for code in o.denials)
    with AuditLog(path) as log:
        report = verify(log)
        records = list(log.records())
    _, verdicts = run_evaluate(setup)
    same_verdicts = verdicts == [o.verdict.value for o in outcomes]
    fills = sum(o.status is ExecutionStatus.FILLED for o in outcomes)
    days = f"{setup.times[0]:%Y-%m-%d}..{setup.times[-1]:%Y-%m-%d}"
    print(
        f"check: {len(outcomes):,} decisions ({len(setup.times):,} days {days} x "
        f"{len(setup.work)} strategies), {len(records):,} audit records ({fills} fills)"
    )
    print("       " + ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items())))
    print("       denials: " + ", ".join(f"{k} {n:,}" for k, n in sorted(codes.items())))
    print(f"       audit chain: {report}")
    print(f"       bare evaluate gives the pipeline's verdicts: {'OK' if same_verdicts else 'NO'}")
    wanted = ("BUY filled", "SELL filled", "BLOCKED", "HOLD")
    missing = [k for k in wanted if not kinds[k]] + ([] if codes else ["a risk denial"])
    problems = []
    if missing:
        problems.append(f"the decisions lack {', '.join(missing)}")
    if not report.ok:
        problems.append("the audit chain does not verify")
    if not same_verdicts:
        problems.append("bare evaluation and pipeline disagree")
    if len(records) != len(outcomes) + fills:
        problems.append(f"{len(records)} records for {len(outcomes)} decisions + {fills} fills")
    if problems:
        print("check FAILED: " + "; ".join(problems))
        return None
    return outcomes, head, records


def pipeline_rows(setup: Setup, plan: Plan, outcomes: list[Outcome], head: str) -> list[Any]:
    """Time every path ``plan.repeats`` times; each pass must rebuild the same audit chain."""
    same = [(o.decision_id, o.verdict, o.status, o.denials) for o in outcomes]
    evaluate, decide, memory, cycle, gather, tired, floor = [], [], [], [], [], [], []
    probe = AuditLog(setup.scratch / "probe.db")
    synchronous = probe.conn.execute("PRAGMA synchronous").fetchone()[0]
    probe.close()
    gather_adapters = registry.replay_adapters(SnapshotStore(setup.replay))
    engine.gather(setup.requests, gather_adapters, setup.times[0])
    for n in range(plan.repeats):
        evaluate.append(run_evaluate(setup)[0])
        for name, runner, audit, into in (
            ("decide", run_decide, setup.scratch / f"decide-{n}.db", decide),
            ("decide in memory", run_decide, ":memory:", memory),
            ("cycle", run_cycle, setup.scratch / f"cycle-{n}.db", cycle),
            ("decide, no rest", run_restless, setup.scratch / f"restless-{n}.db", tired),
        ):
            timing, got, got_head = runner(setup, audit)
            mismatch = [(o.decision_id, o.verdict, o.status, o.denials) for o in got] != same
            if mismatch or got_head != head:
                raise SystemExit(f"{name} pass {n + 1}: different decisions or audit chain")
            into.append(timing)
            if isinstance(audit, Path):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{audit}{suffix}").unlink(missing_ok=True)
        gather.append(run_gather(setup, gather_adapters))
        floor_db = setup.scratch / f"floor-{n}.db"
        floor.append(run_floor(setup, floor_db, synchronous))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{floor_db}{suffix}").unlink(missing_ok=True)
    k = len(setup.work)
    return [
        ("(a) baseline: strategy.evaluate(answers)", best(evaluate)),
        ("(b) Pipeline.decide -> audit commit (file)", best(decide)),
        (f"(c) Pipeline.cycle: gather + (b), /{k}", best(cycle)),
        (f"(d) info: engine.gather (replay), /{k}", best(gather)),
        ("(e) info: (b) with :memory: SQLite", best(memory)),
        ("(f) info: (b) without rest between days", best(tired)),
        ("(g) info: the disk: commit one row (file)", best(floor)),
    ]


@dataclass
class Split:
    """One instrumented pass of (b): per decision, ns in each part."""

    total: list[int]
    build: list[int]
    store: list[int]

    @property
    def rest(self) -> list[int]:
        return [t - b - s for t, b, s in zip(self.total, self.build, self.store, strict=True)]


def _timed(owner: Any, name: str, into: list[int]) -> Callable[[], None]:
    """Wrap ``owner.name`` so that its time adds to ``into[0]``; returns the undo."""
    original = getattr(owner, name)
    clock = time.perf_counter_ns

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = clock()
        try:
            return original(*args, **kwargs)
        finally:
            into[0] += clock() - t0

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def _timed_block(owner: Any, name: str, into: list[int]) -> Callable[[], None]:
    """Wrap the context manager ``owner.name`` so that its entry and exit (a transaction's
    BEGIN and its COMMIT with the fsync), not its block, add to ``into[0]``; returns the undo."""
    original = getattr(owner, name)
    clock = time.perf_counter_ns

    @contextmanager
    def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
        t0 = clock()
        with ExitStack() as stack:
            value = stack.enter_context(original(*args, **kwargs))
            into[0] += clock() - t0
            try:
                yield value
            finally:
                t0 = clock()
        into[0] += clock() - t0

    setattr(owner, name, timed)
    return lambda: setattr(owner, name, original)


def split_decide(setup: Setup, audit: Path) -> Split:
    """(b) once, with the record builds and the appends (commit included) timed apart."""
    build, store = [0], [0]
    undo = [
        _timed(pipeline_records.Recorder, "decision_record", build),
        _timed(pipeline_records, "build_followup", build),
        _timed(audit_store.AuditLog, "append", store),
        _timed(audit_store.AuditLog, "append_many", store),
        # A paper fill's records commit at the end of the transaction around them.
        _timed_block(audit_store.AuditLog, "transaction", store),
    ]
    split = Split([], [], [])
    try:
        pipeline, now = new_pipeline(setup, audit)
        clock = time.perf_counter_ns
        gc.collect()
        for as_of, answers in zip(setup.times, setup.answers, strict=True):
            now[0] = as_of
            for strategy, asset in setup.work:
                build[0] = store[0] = 0
                t0 = clock()
                pipeline.decide(strategy, asset, as_of, answers)
                split.total.append(clock() - t0)
                split.build.append(build[0])
                split.store.append(store[0])
            pipeline.rest()
        pipeline.audit.close()
    finally:
        for restore in undo:
            restore()
    return split


def acting_decisions(outcomes: list[Outcome], records: list[dict[str, Any]]) -> frozenset[int]:
    """The numbers of the decisions that act: a paper fill, or a BUY/SELL that the gate's risk
    check ran on (its record has more than the one check of a denial before the check)."""
    checked = {
        r["decision_id"]
        for r in records
        if r["kind"] == "decision" and len((r.get("risk") or {}).get("checks") or ()) > 1
    }
    return frozenset(
        n
        for n, o in enumerate(outcomes)
        if o.status is ExecutionStatus.FILLED or o.decision_id in checked
    )


def print_split(split: Split, acting: frozenset[int]) -> None:
    def pct(values: list[int], p: float) -> float:
        ordered = sorted(values)
        return ordered[round(p / 100 * (len(ordered) - 1))] / 1e3

    def only(values: list[int]) -> list[int]:
        return [v for n, v in enumerate(values) if n in acting]

    rows = [
        ("(b) Pipeline.decide, instrumented", split.total),
        ("  records built (audit.record builders)", split.build),
        ("  appends + commit + fsync (AuditLog)", split.store),
        ("  the rest: pipeline, gate, broker, logs", split.rest),
    ]
    if acting:
        rows += [
            (f"acting decisions only ({len(acting)})", only(split.total)),
            ("  records built", only(split.build)),
            ("  appends + commit + fsync", only(split.store)),
            ("  the rest: pipeline, gate, broker, logs", only(split.rest)),
        ]
    width = max(len(name) for name, _ in rows)
    header = (
        f"{'part of a decision':<{width}}  {'mean µs':>9}  {'p50 µs':>9}  {'p99 µs':>9}  "
        f"{'max µs':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, values in rows:
        mean = sum(values) / len(values) / 1e3
        print(
            f"{name:<{width}}  {mean:>9,.1f}  {pct(values, 50):>9,.1f}  {pct(values, 99):>9,.1f}  "
            f"{max(values) / 1e3:>9,.1f}"
        )
    print("(percentiles of each part over the decisions: the parts' p99s do not add up)")


def profile_decide(
    setup: Setup, top: int = 20, acting: frozenset[int] | None = None, passes: int = 5
) -> None:
    """cProfile of one pass of (b) on a file log: the top functions by own and total time.
    With ``acting``: of those decisions only, over ``passes`` passes (they are few)."""
    profiler = cProfile.Profile()
    if acting is None:
        profiler.enable()
        run_decide(setup, setup.scratch / "profile.db")
        profiler.disable()
    else:
        for n in range(passes):
            run_decide(setup, setup.scratch / f"profile-{n}.db", profiler=profiler, profiled=acting)
        print(f"{len(acting)} acting decisions x {passes} passes")
    stats = pstats.Stats(profiler)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# --- part 2: why on a big log -----------------------------------------------------------------


def template_groups(records: list[dict[str, Any]]) -> list[list[list[dict[str, Any]]]]:
    """The checked run's records as cycles (one as_of) of groups (a decision + its follow-ups)."""
    cycles: list[list[list[dict[str, Any]]]] = []
    by_decision: dict[str, list[dict[str, Any]]] = {}
    for sealed in records:
        record = {k: v for k, v in sealed.items() if k not in SEALED_FIELDS}
        if record["kind"] == "decision":
            group = [record]
            by_decision[record["decision_id"]] = group
            if not cycles or cycles[-1][0][0]["as_of"] != record["as_of"]:
                cycles.append([])
            cycles[-1].append(group)
        else:
            by_decision[record["decision_id"]].append(record)
    return cycles


def _rekey_fill(fill: Any, asset: str, order_id: str, stamp: str) -> Any:
    if not isinstance(fill, dict):
        return fill
    return {**fill, "asset": asset, "client_order_id": order_id, "at": stamp}


def rekeyed(group: list[dict[str, Any]], asset: str, moment: datetime) -> Iterator[dict[str, Any]]:
    """One decision and its follow-ups as if made for ``asset`` at ``moment``: new ids and times
    at the top level and in the order and fill; the trace and observations as recorded."""
    decision, *followups = group
    ident = decision_id(decision["strategy"]["hash"], asset, moment, decision["mode"])
    order_id, stamp = client_order_id(ident), iso(moment)
    out = {**decision, "id": ident, "decision_id": ident, "asset": asset}
    out.update(as_of=stamp, recorded_at=stamp)
    if out.get("order"):
        out["order"] = {**out["order"], "decision_id": ident, "client_order_id": order_id}
        out["order"].update(asset=asset, as_of=stamp)
    if out.get("execution") and out["execution"].get("fill"):
        fill = _rekey_fill(out["execution"]["fill"], asset, order_id, stamp)
        out["execution"] = {**out["execution"], "fill": fill}
    yield out
    seen: Counter[str] = Counter()
    for item in followups:
        seen[item["kind"]] += 1
        follow = {**item, "id": followup_id(item["kind"], ident, seen[item["kind"]])}
        follow.update(decision_id=ident, recorded_at=stamp)
        if "client_order_id" in follow:
            follow["client_order_id"] = order_id
        if "fill" in follow:
            follow["fill"] = _rekey_fill(follow["fill"], asset, order_id, stamp)
        yield follow


def realistic_records(n: int, cycles: list[list[list[dict[str, Any]]]]) -> Iterator[dict[str, Any]]:
    """``n`` records: every hour from LOG_START, each asset gets one checked-run cycle."""
    emitted, hour = 0, 0
    while True:
        moment = LOG_START + LOG_STEP * hour
        for a, asset in enumerate(LOG_ASSETS):
            for group in cycles[(hour * len(LOG_ASSETS) + a) % len(cycles)]:
                for record in rekeyed(group, asset, moment):
                    yield record
                    emitted += 1
                    if emitted == n:
                        return
        hour += 1


def preflight(keep: Path | None, n: int) -> str | None:
    """Why the why log cannot be had (checked before the pipeline part runs), or None."""
    if keep is not None and keep.exists():
        with AuditLog(keep) as log:
            count = log.count()
        if count != n:
            return (
                f"{keep}: holds {count:,} records, not {n:,}: delete it or pass --records {count}"
            )
        return None
    folder = keep.parent if keep is not None else Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    estimate = n * BYTES_PER_RECORD
    need = 2 * estimate + 1 * GB  # the WAL holds the whole one-transaction build until checkpoint
    free = shutil.disk_usage(folder).free
    if free < need:
        return (
            f"not enough disk for {n:,} records in {folder}: about {estimate / GB:.1f} GB for "
            f"the file and as much again for its WAL while building, {need / GB:.1f} GB in all; "
            f"{free / GB:.1f} GB free. Use fewer --records, or --keep PATH (or TMPDIR) on a "
            "bigger disk."
        )
    return None


def open_big_log(
    path: Path, n: int, records: list[dict[str, Any]], strategies: list[Strategy]
) -> AuditLog:
    """The N-record log at ``path``: reused when there (``preflight`` checked it), else built."""
    sidecar = Path(f"{path}.bench.json")
    if path.exists():
        info = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        built = info.get("build_seconds")
        when = f"built in {built:,.0f} s in an earlier run" if built else "build time unknown"
        print(f"log: reused {path}: {n:,} records, {_size(path)} ({when})")
        return AuditLog(path)
    cycles = template_groups(records)
    log = AuditLog(path)
    for strategy in strategies:
        log.remember_strategy(strategy)
    start = time.perf_counter()
    appended = log.append_many(realistic_records(n, cycles))
    append_s = time.perf_counter() - start
    start = time.perf_counter()
    log.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    truncate_s = time.perf_counter() - start
    total = append_s + truncate_s
    sidecar.write_text(json.dumps({"records": appended, "build_seconds": total}) + "\n")
    print(
        f"log: built {appended:,} records in {total:,.1f} s (append_many {append_s:,.1f} s = "
        f"{appended / append_s:,.0f} records/s, its commit's WAL checkpoint included; WAL "
        f"truncate {truncate_s:,.1f} s); {_size(path)}"
    )
    return log


def _size(path: Path) -> str:
    size = path.stat().st_size
    wal = Path(f"{path}-wal")
    extra = (
        f" + WAL {wal.stat().st_size / GB:.2f} GB" if wal.exists() and wal.stat().st_size else ""
    )
    return f"file {size / GB:.2f} GB{extra}"


@dataclass(frozen=True)
class Target:
    id: str
    asset: str
    as_of: str

    @property
    def day(self) -> date:
        return date.fromisoformat(self.as_of[:10])


def pick_targets(log: AuditLog, count: int, rng: random.Random) -> list[Target]:
    """Random decisions of the log (by seq), as an id and an (asset, day) to ask about."""
    head = log.head()
    top = head[0] if head else 0
    found: list[Target] = []
    while len(found) < count:
        rows = log.db.execute(
            "SELECT id, asset, as_of FROM records WHERE seq = ? AND kind = 'decision'",
            [rng.randint(1, top)],
        ).fetchall()
        if rows:
            ident, asset, as_of = rows[0]
            if isinstance(as_of, int | float):  # compact logs keep times as UTC seconds
                as_of = stamp(as_of)
            found.append(Target(ident, asset, as_of))
    return found


class WhyCli:
    """What ``signalops why`` does once the log is open: find the decision, read its follow-ups,
    print the lines through the CLI's console (no wrap, no highlight; ANSI styles to a buffer)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        self.buffer = io.StringIO()
        self.console = Console(
            file=self.buffer, soft_wrap=True, highlight=False, force_terminal=True, width=120
        )

    def render(self, record: dict[str, Any], followups: list[dict[str, Any]]) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        for line in why.why(record, followups):
            self.console.print(line)
        return self.buffer.getvalue()

    def story(self, record: dict[str, Any] | None) -> str:
        if record is None:
            raise LookupError("no decision found")
        return self.render(record, self.log.followups(record["decision_id"]))

    def by_day(self, target: Target) -> str:
        """``signalops why ASSET --at DAY``"""
        return self.story(why.find_decision(self.log, target.asset, target.day))

    def by_id(self, target: Target) -> str:
        """``signalops why DECISION_ID``"""
        return self.story(why.find_decision(self.log, target.id))


def check_lookups(log: AuditLog, targets: list[Target]) -> list[str]:
    """Each lookup answers what it should, on every target (the schema on the first 20)."""
    problems = []
    cli = WhyCli(log)
    for n, target in enumerate(targets):
        record = log.get(target.id)
        if record is None or record["id"] != target.id or not check(record):
            problems.append(f"get({target.id}) is wrong")
            continue
        errors = record_errors(record) if n < 20 else []
        if errors:
            problems.append(f"{target.id}: {errors[0]}")
        found = log.decision_at(target.asset, target.day)
        if (
            found is None
            or found["asset"] != target.asset
            or found["as_of"][:10] != target.as_of[:10]
            or found["as_of"] < target.as_of
        ):
            problems.append(f"decision_at({target.asset}, {target.day}) is wrong")
            continue
        followups = log.followups(target.id)
        if any(f["decision_id"] != target.id or f["kind"] == "decision" for f in followups):
            problems.append(f"followups({target.id}) is wrong")
        if f"{target.asset} at {found['as_of']}: " not in cli.by_day(target):
            problems.append(f"why {target.asset} --at {target.day} renders no headline")
        if f"decision {target.id}" not in cli.by_id(target):
            problems.append(f"why {target.id} renders another decision")
    return problems[:5]


def time_each(items: Sequence[Any], fn: Callable[[Any], Any]) -> Timing:
    calls = []
    clock = time.perf_counter_ns
    start = clock()
    for item in items:
        t0 = clock()
        fn(item)
        calls.append(clock() - t0)
    return Timing(clock() - start, calls)


def why_rows(log: AuditLog, plan: Plan) -> tuple[list[Any], Timing, str] | None:
    rng = random.Random(SEED)
    targets = pick_targets(log, plan.lookups, rng)
    other_targets = pick_targets(log, plan.lookups, rng)
    cli = WhyCli(log)

    # The first touch of other decisions' pages, as the page cache is found (checked below).
    first = time_each(other_targets, cli.by_day)
    problems = check_lookups(log, targets + other_targets)
    if problems:
        print("lookup check FAILED: " + "; ".join(problems))
        return None
    print(
        f"check: get / decision_at / followups / why right on {len(targets) * 2:,} random "
        "decisions; each record passes its own hash (and the first 20 the schema)"
    )
    stories = []
    for target in targets:
        record = log.get(target.id) or {}
        stories.append((record, log.followups(target.id)))
    by_id = Counter(why.outcome(*story) for story in stories)
    by_day = Counter()
    for target in targets:
        record = log.decision_at(target.asset, target.day) or {}
        by_day[why.outcome(record, log.followups(record["decision_id"]))] += 1
    mix = (
        f"by id: {', '.join(f'{k} {n}' for k, n in by_id.most_common())}; by day (the day's "
        f"last decision): {', '.join(f'{k} {n}' for k, n in by_day.most_common())}"
    )

    names = ("get", "at", "follow", "render", "day", "id")
    paths: dict[str, list[Timing]] = {name: [] for name in names}
    for _ in range(plan.lookup_repeats):
        paths["get"].append(time_each(targets, lambda t: log.get(t.id)))
        paths["at"].append(time_each(targets, lambda t: log.decision_at(t.asset, t.day)))
        paths["follow"].append(time_each(targets, lambda t: log.followups(t.id)))
        paths["render"].append(time_each(stories, lambda story: cli.render(*story)))
        paths["day"].append(time_each(targets, cli.by_day))
        paths["id"].append(time_each(targets, cli.by_id))
    rows = [
        ("get(id) (baseline: primary-key read)", best(paths["get"])),
        ("decision_at(asset, day)", best(paths["at"])),
        ("followups(decision_id)", best(paths["follow"])),
        ("render why(...) lines (rich console)", best(paths["render"])),
        ("why ASSET --at DAY: find+followups+render", best(paths["day"])),
        ("why DECISION_ID: get+followups+render", best(paths["id"])),
    ]
    return rows, first, mix


# --- output -----------------------------------------------------------------------------------


def print_table(title: str, unit: str, rows: list[tuple[str, Timing]]) -> None:
    base = rows[0][1].mean_us
    width = max(len(name) for name, _ in rows)
    print(title)
    header = (
        f"{'path':<{width}}  {'µs/' + unit:>12}  {unit + 's/s':>12}  {'p50 µs':>10}  "
        f"{'p99 µs':>10}  {'p99 low µs':>10}  {'vs baseline':>11}"
    )
    print(header)
    print("-" * len(header))
    for name, timing in rows:
        mean = timing.mean_us
        print(
            f"{name:<{width}}  {mean:>12,.1f}  {1e6 / mean:>12,.0f}  {timing.pct_us(50):>10,.1f}  "
            f"{timing.pct_us(99):>10,.1f}  {timing.pct_us(99, lows=True):>10,.1f}  "
            f"{mean / base:>10,.1f}x"
        )


def busy() -> None:
    """Say so when other processes compete for the CPUs: the timings then include the wait."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus * 0.75:
        print(f"note: load average {load:.1f} on {cpus} CPUs: timings include waiting for a CPU")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="the first half of 2023 and 20,000 records"
    )
    parser.add_argument("--records", type=int, help="records in the why log (default 1,000,000)")
    parser.add_argument("--keep", type=Path, help="build the why log here once, reuse it later")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile of Pipeline.decide (b) only, then stop"
    )
    parser.add_argument(
        "--profile-acting",
        action="store_true",
        help="cProfile of (b)'s decisions that act (fill, or full risk check) only, then stop",
    )
    parser.add_argument("--repeats", type=int, help="timed passes of part 1 (default 3)")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
    records_wanted = args.records or plan.records
    if records_wanted < 1_000:
        parser.error("--records: at least 1,000")
    refused = preflight(args.keep, records_wanted)
    if refused:
        print(refused)
        return 1
    started = time.perf_counter()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; "
        f"{'--quick' if args.quick else 'full run'}, best of {plan.repeats} passes"
    )
    busy()
    if Path(DEFAULT_CONFIG_FILE).exists():
        print(
            f"note: ./{DEFAULT_CONFIG_FILE} sets the risk limits and paper account (not defaults)"
        )

    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        scratch = Path(tmp)
        import_bundled(DATA, scratch / "replay")
        strategies = load_strategies(STRATEGY_FILES)
        work = [(s, a) for s in strategies for a in s.assets]
        requests = cycle_requests(work)
        times = day_times(plan)
        adapters = registry.replay_adapters(SnapshotStore(scratch / "replay"))
        answers = [engine.gather(requests, adapters, as_of) for as_of in times]
        setup = Setup(scratch / "replay", scratch, strategies, work, requests, times, answers)

        checked = check_run(setup)
        if checked is None:
            return 1
        outcomes, head, records = checked
        acting = acting_decisions(outcomes, records)
        if args.profile or args.profile_acting:
            profile_decide(setup, acting=acting if args.profile_acting else None)
            return 0
        rows = pipeline_rows(setup, plan, outcomes, head)
        print()
        print_table(
            f"Pipeline: {len(outcomes):,} decisions per pass (BTC, daily, {len(work)} strategies)",
            "decision",
            rows,
        )
        print()
        print("Where (b)'s time goes: one more pass, instrumented (file log)")
        print_split(split_decide(setup, scratch / "split.db"), acting)

        print()
        sizes = [len(canonical_json(r)) for r in records]
        helper = len(canonical_json(template_record()))
        print(
            f"why log: {records_wanted:,} records from the checked run's {len(records):,} "
            f"(mean {sum(sizes) / len(sizes):,.0f} bytes of JSON; audit.bench's template "
            f"record: {helper:,}), {len(LOG_ASSETS)} assets, hourly from {LOG_START:%Y-%m-%d}"
        )
        path = args.keep or scratch / f"why-{records_wanted}.db"
        with open_big_log(path, records_wanted, records, strategies) as log:
            count = log.count()
            size = path.stat().st_size
            found = why_rows(log, plan)
        if found is None:
            return 1
        lookups, first, mix = found
        print(f"       outcomes asked about, {mix}")
        print()
        print_table(
            f"why on {count:,} records ({size / GB:.2f} GB, {size / count:,.0f} bytes/record): "
            f"{plan.lookups:,} random decisions, best of {plan.lookup_repeats} passes",
            "lookup",
            lookups,
        )
        print(
            f"first pass over {plan.lookups:,} other decisions (page cache as found): "
            f"why {first.mean_us:,.0f} µs mean, p99 {first.pct_us(99):,.0f} µs"
        )

    print()
    print("how to read this: 'vs baseline' is how many bare evaluations (part 1) or primary-key")
    print("reads (part 2) one op costs. (b) - (a) is the price of the recorded, crash-safe")
    print("decision; (b) - (e) of it is the SQLite file (WAL fsync, checkpoints: the p99), and")
    print("(g) is what the disk alone takes to commit one row: (b)'s p99 cannot be below (g)'s.")
    print("The why rows are index lookups and should not grow with the log; compare rows of one")
    print("run.")
    busy()
    print(f"total {time.perf_counter() - started:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
