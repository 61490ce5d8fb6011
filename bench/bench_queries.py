"""Audit-log reads on logs of 10k, 100k and 1M records: every ``decisions`` filter, ``why``'s
lookups, follow-ups, reads by kind and the approval queue. Each should cost the same whatever
the log's size: an index range scan in the order the answer is given, never a scan or a sort of
everything that matches.

Issue 13 measured ``decisions --verdict`` at 1.4 ms on 10k records and 70 ms on 1M (only a
single-column index on verdict: every match was read and sorted). The logs here are realistic:
a real decision record (``bench/audit_records.py``'s template, ~3 KB) cloned per decision with
its own id, asset, as_of, strategy and verdict; 5 strategies (two versions each, so two content
hashes per name) on 8 of 20 assets each, an hourly cycle, verdicts ~86 % HOLD, 5 % BUY, 5 %
SELL, 4 % BLOCKED; paper fills follow BUYs and SELLs, a notify-mode strategy's trades wait for
approval (90 % are approved, the rest expire: the queue is short, its history long); and a
strategy retired after the first 2 % of the log (a day at least), so that "its SELLs" are all
far back (what an index that only narrows by one column, then filters, reads the whole log
for). Logs are built with ``AuditLog.append_many`` in one transaction; the strategies table
holds every content hash, as the pipeline stores each strategy it runs.

A content hash is found through the contexts citing it (one range per context and verdict,
merged; the targets pick both versions of a strategy, so an old version's decisions lie behind
the newer one's). The approval queue's first look on a connection reads every decision that
ever waited for approval (whether one still waits is written later, by another record); later
looks start from the first one still waiting, which the timed calls (after the warm-up) show.
``limit 1000`` grows with the log only while fewer than 1,000 decisions match, and the retired
strategy's SELLs with the log (it decides for its first 2 %, a day at least: 2 SELLs on the 10k
and 100k logs, 21 on the 1M one; the answer grows, not the search).

Each query runs on 300 random targets (asset, strategy, day, decision) per log, after a warm-up
(or for ``--budget`` seconds, at least 5 calls: a query that reads the whole log would take
hours); the table shows p50 and p99 in µs per call, the 1M/10k ratio (flat: ~1), and p50 /
the p50 of ``get(id)`` (a primary-key read, the baseline) on the same log.

``--old-indexes``: also time each log with only the indexes a log written before issue 13 has
(the new ones dropped; how an old log reads, opened read-only), then put them back (a write
open creates them, as ``AuditLog`` does on every write open).

``--runs``: build the logs as a backtest fills its own (``start_bulk_load(private=True)``): the
decisions that placed nothing kept in runs (``signalops.audit.runs``), the rest in rows.

Run:  .venv/bin/python bench/bench_queries.py [--sizes 10000,100000,1000000] [--keep DIR]
      [--old-indexes] [--runs] [--repeat 300]
      (--keep DIR: build each log in DIR once, later runs reuse it; 1M records take a few
      minutes and ~4 GB)
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rich.console import Console  # noqa: E402

from bench.audit_records import template_record  # noqa: E402
from signalops.audit import queries, why  # noqa: E402
from signalops.audit.record import followup_id  # noqa: E402
from signalops.audit.store import AuditLog  # noqa: E402
from signalops.audit.verify import check_record  # noqa: E402
from signalops.canonical import canonical_json, content_hash, iso  # noqa: E402
from signalops.orders import client_order_id, decision_id  # noqa: E402
from signalops.pipeline.cycle import NO_SIGNAL, not_executed  # noqa: E402

ASSETS = ("BTC", "ETH", "SOL", "XRP", "ADA", "DOGE", "AVAX", "DOT", "LINK", "MATIC", "LTC", "BCH",
          "UNI", "ATOM", "XLM", "ETC", "FIL", "APT", "ARB", "OP")  # fmt: skip
START = datetime(2021, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=1)
VERDICTS = (("HOLD", 86), ("BUY", 5), ("SELL", 5), ("BLOCKED", 4))
RETIRED = "Retired_Screen"
LIMIT = 50  # the CLI's default --limit
# The indexes of a log written before issue 13 (``--old-indexes`` keeps only these).
OLD_INDEXES = {
    "records_id",
    "records_asset_as_of",
    "records_strategy_as_of",
    "records_verdict",
    "records_kind_as_of",
    "records_decision_id",
    "records_status",
}
OLD_VERDICT_INDEX = "CREATE INDEX IF NOT EXISTS records_verdict ON records (verdict)"


@dataclass(frozen=True)
class Strategy:
    name: str
    mode: str
    assets: tuple[str, ...]

    def document(self, version: int) -> dict[str, Any]:
        """A stand-in for the strategy document (the log stores it under its content hash)."""
        return {"strategy": {"name": self.name, "version": version}}

    def hash(self, version: int) -> str:
        return content_hash(self.document(version))


NAMES = (
    "Banking_Crisis_Dip",
    "Technical_Baseline",
    "Event_Filter",
    "Value_Screen",
    "News_Risk_Off",
)
STRATEGIES = tuple(
    Strategy(
        name, "notify" if i == 4 else "paper", tuple(ASSETS[(3 * i + k) % 20] for k in range(8))
    )
    for i, name in enumerate(NAMES)
)


RETIRED_STRATEGY = Strategy(RETIRED, "paper", ())


def decisions_per_cycle(cycle: int, cycles: int) -> Iterator[tuple[Strategy, str, int]]:
    """(strategy, asset, version) deciding in this cycle."""
    version = 1 if cycle < cycles // 2 else 2
    for strategy in STRATEGIES:
        for asset in strategy.assets:
            yield strategy, asset, version
    if cycle < max(cycles // 50, 24):
        yield RETIRED_STRATEGY, ASSETS[cycle % 20], 1


def records(n: int) -> Iterator[dict[str, Any]]:
    """``n`` records (decisions and their follow-ups), hour by hour."""
    base = template_record()
    rng = random.Random(13)
    names, weights = zip(*VERDICTS, strict=True)
    cycles = n // 44 + 1  # ~44 records a cycle (40 decisions, their follow-ups)
    emitted = 0
    for cycle in range(cycles * 2):
        moment = START + STEP * cycle
        stamp = iso(moment)
        for strategy, asset, version in decisions_per_cycle(cycle, cycles):
            verdict = rng.choices(names, weights)[0]
            for record in _decision(base, strategy, asset, version, verdict, moment, stamp, rng):
                yield record
                emitted += 1
                if emitted == n:
                    return


def _decision(
    base: dict[str, Any],
    strategy: Strategy,
    asset: str,
    version: int,
    verdict: str,
    moment: datetime,
    stamp: str,
    rng: random.Random,
) -> Iterator[dict[str, Any]]:
    strategy_hash = strategy.hash(version)
    ident = decision_id(strategy_hash, asset, moment, strategy.mode)
    trades = verdict in ("BUY", "SELL")
    status = None
    if trades:
        status = "PENDING_APPROVAL" if strategy.mode == "notify" else "FILLED"
    yield {
        **base,
        "id": ident,
        "decision_id": ident,
        "asset": asset,
        "as_of": stamp,
        "recorded_at": stamp,
        "strategy": {"name": strategy.name, "hash": strategy_hash, "file": "x.yaml"},
        "mode": strategy.mode,
        "verdict": verdict,
        "action": verdict if trades else None,
        "execution": {"status": status, "client_order_id": client_order_id(ident)}
        if trades
        else None,
    }
    if status == "FILLED":
        yield _followup("fill", ident, stamp, client_order_id=client_order_id(ident),
                        fill={"asset": asset, "side": verdict, "quantity": "0.01",
                              "price": "20000", "fee": "0.2", "at": stamp})  # fmt: skip
    elif status == "PENDING_APPROVAL" and rng.random() < 0.9:
        yield _followup("approval", ident, stamp, approval_id=f"ap-{ident[4:]}",
                        approved=True, by="alice")  # fmt: skip
    elif status == "PENDING_APPROVAL":
        yield _followup("expiry", ident, stamp, approval_id=f"ap-{ident[4:]}",
                        expires_at=stamp)  # fmt: skip


def _followup(kind: str, ident: str, stamp: str, **fields: Any) -> dict[str, Any]:
    return {
        "schema": "signalops.audit/1",
        "kind": kind,
        "id": followup_id(kind, ident),
        "decision_id": ident,
        "recorded_at": stamp,
        **fields,
    }


def build(path: Path, n: int, *, runs: bool = False) -> None:
    if path.exists():
        return
    began = time.perf_counter()
    partial = path.with_name(path.name + ".building")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    with AuditLog(partial) as log:
        if runs:  # as a backtest fills its own log: decisions that placed nothing in runs
            log.start_bulk_load(private=True)
        log.append_many(backtest_records(records(n)) if runs else records(n))
        if runs:
            log.finish_bulk_load()
    remember_strategies(partial)
    partial.rename(path)
    mb = path.stat().st_size / 1e6
    print(f"built {path.name}: {n:,} records in {time.perf_counter() - began:.0f} s, {mb:,.0f} MB")


def backtest_records(found: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """``found`` as a backtest records them: a decision that placed nothing says so
    (``NOT_EXECUTED``, as ``Pipeline.cycle`` writes it), which is what a run keeps."""
    nothing = not_executed(NO_SIGNAL).to_dict()
    for record in found:
        if record["kind"] == "decision" and record["execution"] is None:
            record = {**record, "execution": nothing}
        yield record


def remember_strategies(path: Path) -> None:
    """A row in ``strategies`` per content hash, as the pipeline stores each strategy it runs
    (``AuditLog.remember_strategy``); the documents here are stand-ins."""
    rows = [
        (s.hash(v), s.name, canonical_json(s.document(v)))
        for s in (*STRATEGIES, RETIRED_STRATEGY)
        for v in (1, 2)
    ]
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT OR IGNORE INTO strategies (hash, name, file, document) VALUES (?, ?, 'x.yaml', ?)",
        rows,
    )
    conn.commit()
    conn.close()


def drop_new_indexes(path: Path) -> list[str]:
    """Leave only the indexes of an old log; returns the names dropped."""
    conn = sqlite3.connect(path)
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
    dropped = [n for n in names if n.startswith("records_") and n not in OLD_INDEXES]
    for name in dropped:
        conn.execute(f"DROP INDEX {name}")
    conn.execute(OLD_VERDICT_INDEX)
    conn.commit()
    conn.close()
    return dropped


# --- the queries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    decision: str
    asset: str
    strategy: str
    strategy_hash: str
    day: date
    moment: datetime
    seq: int


def targets(log: AuditLog, count: int, rng: random.Random) -> list[Target]:
    found = []
    top = log.head()
    assert top is not None
    while len(found) < count:
        body = log.body_at(rng.randint(1, top[0]))
        record = None if body is None else _json(body)
        if record is None or record["kind"] != "decision" or record["strategy"]["name"] == RETIRED:
            continue
        moment = datetime.fromisoformat(record["as_of"].replace("Z", "+00:00"))
        found.append(
            Target(record["id"], record["asset"], record["strategy"]["name"],
                   record["strategy"]["hash"], moment.date(), moment, record["seq"])
        )  # fmt: skip
    return found


def _json(body: str) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(body)
    return value


def _why(log: AuditLog, t: Target) -> str:
    """``signalops why ASSET --at DAY`` without process start: find, follow-ups, check, render."""
    found = why.find_decisions(log, t.asset, t.day)
    stories = [(record, log.followups(record["decision_id"])) for record in found]
    for record in found:
        check_record(log, record)
    out = Console(file=io.StringIO(), width=120, soft_wrap=True, highlight=False)
    for line in why.why_grouped(stories):
        out.print(line)
    return out.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def query_list(log: AuditLog) -> list[tuple[str, Callable[[Target], Any]]]:
    top = (log.head() or (0, ""))[0]
    return [
        ("get(id)  [baseline]", lambda t: log.get(t.decision)),
        ("decisions()", lambda t: log.decisions(limit=LIMIT)),
        ("decisions(asset)", lambda t: log.decisions(asset=t.asset, limit=LIMIT)),
        ("decisions(strategy)", lambda t: log.decisions(strategy=t.strategy, limit=LIMIT)),
        ("decisions(strategy hash)",
         lambda t: log.decisions(strategy=t.strategy_hash, limit=LIMIT)),
        ("decisions(verdict BUY)", lambda t: log.decisions(verdict="BUY", limit=LIMIT)),
        ("decisions(verdict BLOCKED)", lambda t: log.decisions(verdict="BLOCKED", limit=LIMIT)),
        ("decisions(since day, until day)",
         lambda t: log.decisions(since=t.day, until=t.day, limit=LIMIT)),
        ("decisions(until time)", lambda t: log.decisions(until=t.moment, limit=LIMIT)),
        ("decisions(asset, verdict BLOCKED)",
         lambda t: log.decisions(asset=t.asset, verdict="BLOCKED", limit=LIMIT)),
        ("decisions(asset, verdict, since)",
         lambda t: log.decisions(asset=t.asset, verdict="BUY", since=t.day, limit=LIMIT)),
        ("decisions(strategy, verdict SELL)",
         lambda t: log.decisions(strategy=t.strategy, verdict="SELL", limit=LIMIT)),
        ("decisions(asset, strategy)",
         lambda t: log.decisions(asset=t.asset, strategy=t.strategy, limit=LIMIT)),
        ("decisions(asset, strategy, verdict)",
         lambda t: log.decisions(asset=t.asset, strategy=t.strategy, verdict="BUY", limit=LIMIT)),
        ("decisions(asset, strategy hash)",
         lambda t: log.decisions(asset=t.asset, strategy=t.strategy_hash, limit=LIMIT)),
        ("decisions(asset, strategy, until day)",
         lambda t: log.decisions(asset=t.asset, strategy=t.strategy, until=t.day, limit=LIMIT)),
        ("decisions(retired strategy, SELL)",
         lambda t: log.decisions(strategy=RETIRED, verdict="SELL", limit=LIMIT)),
        ("decisions(asset, verdict, limit 1000)",
         lambda t: log.decisions(asset=t.asset, verdict="BUY", limit=1000)),
        ("decision_at(asset, time)", lambda t: log.decision_at(t.asset, t.moment)),
        ("decision_at(asset, day, strategy)",
         lambda t: log.decision_at(t.asset, t.day, strategy=t.strategy)),
        ("decision_values(strategy)", lambda t: queries.decision_values(log, "strategy")),
        ("why: find_decisions(asset, day)", lambda t: why.find_decisions(log, t.asset, t.day)),
        ("why: followups(decision)", lambda t: log.followups(t.decision)),
        ("why ASSET --at DAY (all, rendered)", lambda t: _why(log, t)),
        ("kind: records_since(fill, ...)",
         lambda t: queries.records_since(log, "fill", "order_submitted", after_seq=top - 500)),
        ("status: pending_approvals(now)",
         lambda t: log.pending_approvals(START + STEP * 10**6)),
    ]  # fmt: skip


def time_queries(path: Path, repeat: int, budget: float) -> dict[str, list[float]]:
    """Seconds per call of each query, over ``repeat`` targets (after a warm-up pass), or as
    many as ``budget`` seconds allow (at least 5: a query that reads the whole log)."""
    rng = random.Random(7)
    with AuditLog.open_readonly(path) as log:
        chosen = targets(log, repeat, rng)
        timings: dict[str, list[float]] = {}
        for name, fn in query_list(log):
            for t in chosen[:5]:
                fn(t)  # warm the page cache
            took: list[float] = []
            for t in chosen:
                began = time.perf_counter()
                fn(t)
                took.append(time.perf_counter() - began)
                if sum(took) > budget and len(took) >= 5:
                    break
            timings[name] = took
    return timings


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def print_table(title: str, sizes: list[int], results: dict[int, dict[str, list[float]]]) -> None:
    print(f"\n{title}  (µs per call; ratio = 1M p50 / 10k p50; x get = p50 / get(id) p50)")
    head = f"{'query':<38}" + "".join(f" {_label(n) + ' p50':>10} {'p99':>8}" for n in sizes)
    head += f" {'ratio':>6} {'x get':>7}"
    print(head)
    print("-" * len(head))
    first, last = results[sizes[0]], results[sizes[-1]]
    base = statistics.median(last["get(id)  [baseline]"])
    for name in first:
        line = f"{name:<38}"
        for n in sizes:
            values = results[n][name]
            line += f" {statistics.median(values) * 1e6:10.0f} {pct(values, 99) * 1e6:8.0f}"
        ratio = statistics.median(last[name]) / statistics.median(first[name])
        line += f" {ratio:6.2f} {statistics.median(last[name]) / base:7.1f}"
        print(line)


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1000}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--keep", type=Path, help="Build the logs in this folder once, reuse.")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--old-indexes", action="store_true")
    parser.add_argument("--budget", type=float, default=10.0, help="Seconds per query and log.")
    parser.add_argument(
        "--runs",
        action="store_true",
        help="Build the logs as a backtest does: decisions that placed nothing in runs.",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="signalops-queries-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        kind = "runs-" if args.runs else ""
        paths = {n: folder / f"queries-{kind}{n}.db" for n in sizes}
        for n, path in paths.items():
            build(path, n, runs=args.runs)
        print(f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}")  # fmt: skip
        if args.old_indexes:
            for path in paths.values():
                drop_new_indexes(path)
            old = {n: time_queries(path, args.repeat, args.budget) for n, path in paths.items()}
            print_table("a log written before issue 13 (old indexes), read-only", sizes, old)
            for n, path in paths.items():
                began = time.perf_counter()
                AuditLog(path).close()  # a write open makes the missing indexes
                took = time.perf_counter() - began
                print(f"\nwrite open of the old {_label(n)} log (adds the indexes): {took:.1f} s")
        new = {n: time_queries(path, args.repeat, args.budget) for n, path in paths.items()}
        title = "a backtest's log (runs)" if args.runs else "the log as this version writes it"
        print_table(title, sizes, new)


if __name__ == "__main__":
    main()
