"""Audit records: bytes per record and microseconds per record, legacy format against compact.

Issue 13: a decision record took 6.4 KB on disk (4.9 KB of JSON), and building and committing
it was ~99 % of a decision. This measures, on the same decisions, the record as it was
(``signalops.audit/1``: the rendered trace and every observation with its request, in the text
columns of the layout before compact records) and as it is now (``signalops.audit/2`` in the
compact layout: what cannot be computed again, the trace re-derived from the stored tree).

The decisions: the demo's four backtests (``make demo``) on the bundled data, run through the
pipeline into a temporary folder (``signalops data import`` once, then ``signalops backtest``),
about 11,400 decisions, most of them the Graham screen on six stocks over five years. Every
log's records are then appended again, in order, to a fresh log of each format (the /1 records
are the compact ones expanded: byte for byte what the /1 builder built, which a test holds).

Tables:
1. size per record, per strategy and for all: JSON bytes of the sealed record, bytes on disk
   (the file after a checkpoint, over its records, indexes and side tables included), what the
   records added to an empty log of the layout (its tables' first pages are a fixed ~100 KB that
   a small log spreads over few records), and the records table's and the indexes' share
   (SQLite's ``dbstat``);
2. building one record from an evaluation: the /1 builder (the trace JSON, the observations with
   their requests, ``_finish``: as the previous version built it), ``build_decision_record``
   and ``DecisionTemplate.prepare``, on the HOLD decisions of the demo and on all of them;
3. appending: ``append_many`` of every record in one transaction (seal + insert, commit
   included) per record, and a single ``append`` + commit (WAL, synchronous=FULL: one fsync)
   against a bare one-row commit to the same file (the fsync alone), p50 and p99.

Each timing is the minimum of ``--repeat`` runs (the machine is shared). Run:

    .venv/bin/python bench/bench_records.py [--repeat 3] [--quick] [--keep DIR]

(``--quick``: without the Graham backtest, ~700 decisions; ``--keep DIR``: run the backtests
into DIR once, later runs reuse them.)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from signalops.audit.expand import derive, expanded  # noqa: E402
from signalops.audit.record import (  # noqa: E402
    DECISION,
    SCHEMA,
    DecisionTemplate,
    _finish,
    build_decision_record,
    prepare,
)
from signalops.audit.store import AuditLog  # noqa: E402
from signalops.canonical import canonical_json, iso  # noqa: E402
from signalops.codes import Code  # noqa: E402
from signalops.evaluation.trace_json import trace_to_dict  # noqa: E402
from signalops.observation import DataError, Observation, utc  # noqa: E402
from signalops.orders import decision_id as make_decision_id  # noqa: E402

SIGNALOPS = str(Path(sys.executable).parent / "signalops")
# (report folder, the demo's backtest arguments)
DEMO = (
    (
        "banking_crisis_dip",
        ["strategies/banking_crisis_dip.yaml", "--from", "2023-01-01", "--to", "2023-06-30"],
    ),
    (
        "election_odds_gate",
        ["strategies/election_odds_gate.yaml", "--from", "2024-10-01", "--to", "2025-01-31"],
    ),
    (
        "technical_baseline",
        ["strategies/technical_baseline.yaml", "--from", "2023-01-01", "--to", "2023-06-30"],
    ),
    (
        "graham_value_event_filter",
        [
            "strategies/graham_value_event_filter.yaml",
            "--config",
            "examples/signalops.equities.yaml",
            "--from",
            "2019-01-01",
            "--to",
            "2023-12-31",
        ],
    ),
)


# --- the decisions ---------------------------------------------------------------------------


def demo_logs(folder: Path, quick: bool) -> list[tuple[str, Path]]:
    """The demo's backtest logs in ``folder`` (run once; reused when already there)."""
    data = folder / "replay"
    if not (data / "technical.jsonl").exists():
        subprocess.run(
            [SIGNALOPS, "data", "import", "--to", str(data)], cwd=ROOT, check=True,
            capture_output=True,
        )  # fmt: skip
    logs = []
    for name, args in DEMO:
        if quick and name.startswith("graham"):
            continue
        out = folder / name
        if not (out / "backtest.db").exists():
            print(f"backtest {name} ...", flush=True)
            subprocess.run(
                [SIGNALOPS, "backtest", *args, "--data", str(data), "--report", str(out),
                 "--no-baseline"],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
        logs.append((name, out / "backtest.db"))
    return logs


def read_log(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A log's records as written (compact), and the same records in the /1 form."""
    with AuditLog.open_readonly(path) as log:
        records = list(log.records())
        legacy = [as_v1(expanded(record, log)) for record in records]
    return records, legacy


def as_v1(record: dict[str, Any]) -> dict[str, Any]:
    """An expanded compact decision as the /1 record of the same decision (no tree hash)."""
    if record.get("kind") != DECISION:
        return unsealed(record)
    out = unsealed(record)
    out["schema"] = SCHEMA
    out["strategy"] = {k: v for k, v in record["strategy"].items() if k != "tree"}
    return out


def unsealed(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("seq", "prev_hash", "hash")}


# --- sizes -----------------------------------------------------------------------------------


def legacy_log(path: Path) -> None:
    """An empty log in the layout before compact records (the fixture's schema)."""
    sys.path.insert(0, str(ROOT / "tests" / "audit"))
    from legacy import legacy_log as make

    make(path)


def written(path: Path, records: Sequence[dict[str, Any]], *, legacy: bool) -> dict[str, float]:
    """``records`` appended to a fresh log at ``path``; its size per record and where it went."""
    if legacy:
        legacy_log(path)
    with AuditLog(path) as log:
        log.append_many(unsealed(r) for r in records)
        log.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(path)
    try:
        parts = dict(
            conn.execute(
                "SELECT CASE WHEN name = 'records' THEN 'table' WHEN name LIKE 'records_%' "
                "THEN 'indexes' ELSE 'other' END, sum(pgsize) FROM dbstat GROUP BY 1"
            ).fetchall()
        )
    finally:
        conn.close()
    n = len(records)
    return {
        "disk": path.stat().st_size / n,
        "added": (path.stat().st_size - empty_size(legacy)) / n,
        "table": parts.get("table", 0) / n,
        "indexes": parts.get("indexes", 0) / n,
    }


_EMPTY: dict[bool, int] = {}


def empty_size(legacy: bool) -> int:
    """The bytes of an empty log of the layout (its tables' and indexes' first pages)."""
    if legacy not in _EMPTY:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "empty.db"
            if legacy:
                legacy_log(path)
            with AuditLog(path) as log:
                log.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            _EMPTY[legacy] = path.stat().st_size
    return _EMPTY[legacy]


def json_bytes(records: Iterable[dict[str, Any]]) -> float:
    sizes = [len(canonical_json(r).encode("utf-8")) for r in records]
    return sum(sizes) / len(sizes)


def size_rows(
    logs: list[tuple[str, Path]], scratch: Path
) -> tuple[list[list[str]], list[tuple[dict[str, Any], Any]]]:
    rows = []
    everything: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []
    sealed_samples: list[tuple[dict[str, Any], Any]] = []
    for name, path in logs:
        records, legacy = read_log(path)
        everything.append((records, legacy))
        rows.append(size_row(name, records, legacy, scratch))
        sealed_samples += evaluations(path, records)
    records = [r for pair in everything for r in pair[0]]
    legacy = [r for pair in everything for r in pair[1]]
    rows.append(size_row("all (one log each)", records, legacy, scratch))
    return rows, sealed_samples


def size_row(
    name: str, records: list[dict[str, Any]], legacy: list[dict[str, Any]], scratch: Path
) -> list[str]:
    old = written(scratch / f"{name}-v1.db", legacy, legacy=True)
    new = written(scratch / f"{name}-v2.db", records, legacy=False)
    old_json = json_bytes(sealed_like(legacy))
    new_json = json_bytes(records)
    return [
        name,
        f"{len(records):,}",
        f"{old_json:,.0f}",
        f"{new_json:,.0f}",
        f"{old['disk']:,.0f}",
        f"{new['disk']:,.0f}",
        f"{old['disk'] / new['disk']:.1f}x",
        f"{old['added']:,.0f}",
        f"{new['added']:,.0f}",
        f"{new['table']:,.0f} + {new['indexes']:,.0f}",
    ]


def sealed_like(records: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Unsealed records with a sealed record's chain fields (for their JSON size)."""
    for i, record in enumerate(records, 1):
        yield {**record, "seq": i, "prev_hash": "0" * 64, "hash": "0" * 64}


# --- building --------------------------------------------------------------------------------


def evaluations(path: Path, records: list[dict[str, Any]]) -> list[tuple[dict[str, Any], Any]]:
    """(record, its re-derived evaluation) of every decision of a log."""
    found = []
    with AuditLog.open_readonly(path) as log:
        for record in records:
            if record.get("kind") != DECISION:
                continue
            derivation = derive(record, log)
            if derivation.evaluation is not None:
                found.append((record, derivation.evaluation))
    return found


class _Strategy:
    """What the builders read of a strategy (the compiled tree comes with the evaluation)."""

    def __init__(self, record: dict[str, Any], tree: Any) -> None:
        self.name = record["strategy"]["name"]
        self.content_hash = record["strategy"]["hash"]
        self.file = record["strategy"]["file"]
        self.tree = tree


def v1_build(
    strategy: Any, evaluation: Any, mode: str, risk: Any, execution: Any, recorded_at: datetime
) -> dict[str, Any]:
    """The /1 decision record as the previous version built it (trace JSON and all)."""
    asset = evaluation.asset
    as_of = utc(evaluation.as_of)
    ident = make_decision_id(strategy.content_hash, asset, as_of, mode)
    observations = [
        _v1_entry(request, obs)
        for request, obs in zip(
            evaluation.tree.requests(asset), evaluation.observations, strict=True
        )
    ]
    record = {
        "schema": SCHEMA, "kind": DECISION, "id": ident, "decision_id": ident,
        "recorded_at": iso(utc(recorded_at)), "as_of": iso(as_of),
        "strategy": {"name": strategy.name, "hash": strategy.content_hash, "file": strategy.file},
        "asset": asset, "mode": mode, "verdict": evaluation.verdict.value,
        "action": evaluation.action.value if evaluation.action else None,
        "blocked_by": list(evaluation.blocked_by), "conflicts": list(evaluation.conflicts),
        "trace": trace_to_dict(evaluation.trace, evaluation, strategy),
        "observations": observations, "risk": risk, "order": None, "execution": execution,
    }  # fmt: skip
    return _finish(record, {})


def _v1_entry(request: Any, obs: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source": request.source, "metric": request.metric, "params": dict(request.params),
        "asset": request.asset, "status": Code.MISSING, "value": None, "data_time": None,
        "fetched_at": None, "error": None,
    }  # fmt: skip
    if isinstance(obs, Observation):
        entry.update(
            status="OK",
            value=obs.value,
            data_time=iso(utc(obs.as_of)),
            fetched_at=iso(utc(obs.fetched_at)) if obs.fetched_at else None,
        )
        if obs.detail is not None:
            entry["detail"] = obs.detail
    elif isinstance(obs, DataError):
        entry.update(status="ERROR", error={"reason": obs.reason, "message": obs.message})
    return entry


def best_us(fn: Callable[[], Any], n: int, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times) / n * 1e6


def build_rows(samples: list[tuple[dict[str, Any], Any]], repeat: int) -> list[list[str]]:
    rows = []
    holds = [(r, e) for r, e in samples if r["verdict"] == "HOLD"]
    rsi = [(r, e) for r, e in holds if r["strategy"]["name"] == "Technical_Baseline"]
    for label, chosen in (
        ("Technical_Baseline HOLDs (one RSI)", rsi),
        ("HOLD decisions", holds),
        ("every decision", samples),
    ):
        if not chosen:
            continue
        t_old, t_new, t_fast = time_builders(chosen, repeat)
        rows.append(
            [label, f"{len(chosen):,}", f"{t_old:,.1f}", f"{t_new:,.1f}", f"{t_fast:,.1f}",
             f"{t_old / t_fast:.1f}x"]
        )  # fmt: skip
    return rows


def time_builders(chosen: list[tuple[dict[str, Any], Any]], repeat: int) -> list[float]:
    """µs per record of the /1 builder, ``build_decision_record`` and the template."""
    cases = []
    strategies: dict[int, _Strategy] = {}  # one object per strategy, as a run has
    templates: dict[tuple[int, str], DecisionTemplate] = {}
    for record, evaluation in chosen:
        strategy = strategies.setdefault(id(evaluation.tree), _Strategy(record, evaluation.tree))
        moment = datetime.fromisoformat(record["recorded_at"].replace("Z", "+00:00"))
        cases.append((record, evaluation, strategy, moment))
        key = (id(evaluation.tree), record["asset"])
        if key not in templates:
            templates[key] = DecisionTemplate(
                strategy,  # type: ignore[arg-type]
                record["asset"],
                record["mode"],
            )

    def old() -> None:
        for record, evaluation, strategy, moment in cases:
            v1_build(strategy, evaluation, record["mode"], record["risk"],
                     record["execution"], moment)  # fmt: skip

    def new() -> None:
        for record, evaluation, strategy, moment in cases:
            build_decision_record(
                strategy=strategy, evaluation=evaluation, mode=record["mode"], intent=None,
                risk=record["risk"], execution=None, recorded_at=moment, environ={},
            )  # fmt: skip

    def fast() -> None:
        for record, evaluation, _, moment in cases:
            prepared(templates[id(evaluation.tree), record["asset"]], record, evaluation, moment)

    return [best_us(f, len(cases), repeat) for f in (old, new, fast)]


def prepared(template: DecisionTemplate, record: dict[str, Any], evaluation: Any, moment: datetime):
    """The template's record of a decision (what the fast backtest loop builds)."""
    return template.prepare(
        as_of=evaluation.as_of, verdict=evaluation.verdict, action=evaluation.action,
        blocked_by=evaluation.blocked_by, conflicts=evaluation.conflicts,
        observations=evaluation.observations, risk=record["risk"],
        execution=record["execution"], recorded_at=moment, environ={},
    )  # fmt: skip


# --- appending -------------------------------------------------------------------------------


def append_rows(
    samples: list[tuple[dict[str, Any], Any]], logs: list[tuple[str, Path]], scratch: Path,
    repeat: int,
) -> list[list[str]]:  # fmt: skip
    records: list[dict[str, Any]] = []
    legacy: list[dict[str, Any]] = []
    for _, path in logs:
        mine, old = read_log(path)
        records += [unsealed(r) for r in mine]
        legacy += old
    holds = [(r, e) for r, e in samples if r["verdict"] == "HOLD"]
    fast = []
    templates: dict[tuple[int, str], DecisionTemplate] = {}
    for record, evaluation in holds:
        template = templates.get((id(evaluation.tree), record["asset"]))
        if template is None:
            template = DecisionTemplate(
                _Strategy(record, evaluation.tree),  # type: ignore[arg-type]
                record["asset"],
                record["mode"],
            )
            templates[id(evaluation.tree), record["asset"]] = template
        moment = datetime.fromisoformat(record["recorded_at"].replace("Z", "+00:00"))
        fast.append(prepared(template, record, evaluation, moment))
    held = [r for r in records if r.get("verdict") == "HOLD"]
    held_old = [r for r in legacy if r.get("verdict") == "HOLD"]

    def bulk(items: Sequence[Any], legacy_layout: bool) -> float:
        """µs per record of one ``append_many`` (commit included) into a new, open log."""
        times = []
        for _ in range(repeat):
            path = Path(tempfile.mkdtemp(dir=scratch)) / "append.db"
            if legacy_layout:
                legacy_log(path)
            with AuditLog(path) as log:
                began = time.perf_counter()
                log.append_many(items)
                times.append(time.perf_counter() - began)
        return min(times) / len(items) * 1e6

    rows = []
    for label, old_items, new_items in (
        ("HOLD decisions, prepared (template)", held_old, fast),
        ("HOLD decisions, dicts", held_old, held),
        ("every record, dicts", legacy, records),
    ):
        t_old, t_new = bulk(old_items, True), bulk(new_items, False)
        n = len(new_items)
        rows.append([label, f"{n:,}", f"{t_old:,.1f}", f"{t_new:,.1f}", f"{t_old / t_new:.1f}x"])
    return rows


def commit_rows(records: list[dict[str, Any]], scratch: Path, count: int) -> list[list[str]]:
    """Single appends, each its own transaction (one fsync), each next to a bare one-row commit
    to the same file (the fsync alone), as dicts and as ``PreparedRecord``s."""
    rows = []
    for label, given in (
        ("dict", [unsealed(r) for r in records[:count]]),
        ("PreparedRecord", [prepare(unsealed(r)) for r in records[:count]]),
    ):
        bare, single = [], []
        with AuditLog(Path(tempfile.mkdtemp(dir=scratch)) / "single.db") as log:
            log.conn.execute("PRAGMA synchronous = FULL")
            log.conn.execute("CREATE TABLE IF NOT EXISTS bare (x INTEGER)")
            for record in given:
                began = time.perf_counter()
                log.conn.execute("BEGIN IMMEDIATE")
                log.conn.execute("INSERT INTO bare VALUES (1)")
                log.conn.execute("COMMIT")
                bare.append(time.perf_counter() - began)
                began = time.perf_counter()
                log.append(record)
                single.append(time.perf_counter() - began)
        extra = [s - b for s, b in zip(single, bare, strict=True)]
        for name, times in (
            ("bare one-row commit (the fsync)", bare),
            (f"append ({label}) + commit", single),
            (f"append ({label}) + commit minus the bare one", extra),
        ):
            rows.append(
                [name, f"{len(times):,}", f"{pct(times, 50):,.0f}", f"{pct(times, 99):,.0f}"]
            )
    return rows


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] * 1e6


# --- output ----------------------------------------------------------------------------------


def table(title: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(head, *rows, strict=True)]
    print(title)
    print(
        "  ".join(
            h.rjust(w) if i else h.ljust(w)
            for i, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )
    print("─" * (sum(widths) + 2 * (len(widths) - 1)))
    for row in rows:
        print(
            "  ".join(
                str(c).rjust(w) if i else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="without the Graham backtest")
    parser.add_argument("--keep", type=Path, help="run the backtests into DIR once and reuse")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp:
        folder = args.keep or Path(tmp) / "demo"
        folder.mkdir(parents=True, exist_ok=True)
        logs = demo_logs(folder, args.quick)
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
              f"{os.cpu_count()} cpus; min of {args.repeat}\n")  # fmt: skip
        sizes, samples = size_rows(logs, scratch)
        table(
            "1. bytes per record: the demo's decisions (+ fills), the legacy format (/1, text "
            "columns) against the compact one (/2)",
            ["strategy", "records", "JSON /1", "JSON /2", "disk /1", "disk /2", "ratio",
             "added /1", "added /2", "/2 table + indexes"],
            sizes,
        )  # fmt: skip
        table(
            "2. building one decision record from its evaluation, µs per record",
            ["records", "n", "/1 builder", "build_decision_record", "template", "/1 : template"],
            build_rows(samples, args.repeat),
        )
        table(
            "3. append_many in one transaction (seal + insert + commit), µs per record",
            ["records", "n", "/1 legacy log", "/2 compact log", "ratio"],
            append_rows(samples, logs, scratch, args.repeat),
        )
        records, _ = read_log(logs[0][1])
        table(
            "4. one append + commit (WAL, synchronous=FULL), µs",
            ["", "n", "p50", "p99"],
            commit_rows(records, scratch, 200),
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
