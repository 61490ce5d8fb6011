"""``signalops audit verify`` stays flat in memory as the log grows (issue 11).

Two kinds of log, each at N and 10×N (signed with a key, so MACs and checkpoints are checked
too; built with ``AuditLog.append_many``):

  decisions  N small decision records, no paper fills;
  fills      N paper fills, each a decision that states the fill and the account's cash after
             it, its ``fill`` record and its paper-ledger row (2 records per fill): what a
             paper runner writes, so verify pairs every ledger row with the chain and replays
             the account's cash.

Each log is checked by ``signalops audit verify`` in its own process; the table gives its peak
resident memory (GNU ``time``'s %M) and wall time, minimum of ``--repeat`` runs. The baseline of
each kind is its smaller log, measured in the same run: flat means the ratio of peak memory
stays near 1 while the log grows tenfold.

Run:  .venv/bin/python bench/bench_verify_memory.py [--records 100000] [--fills 10000]
      [--repeat 3] [--only decisions|fills]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_dashboard_biglog import slim_records  # noqa: E402
from signalops.audit.paper_ledger import SQLiteLedger  # noqa: E402
from signalops.audit.record import SCHEMA  # noqa: E402
from signalops.audit.signing import KEY_ENV, SigningKey  # noqa: E402
from signalops.audit.store import AuditLog  # noqa: E402

KEY = "bench-verify-memory-key-0123456789abcdef0123456789"
STARTING_CASH = Decimal("1000000000")
_CHUNK = 20_000  # fills per transaction while building


def build(path: Path, records: int) -> None:
    with AuditLog(path, key=SigningKey.from_secret(KEY)) as log:
        log.append_many(slim_records(0, records))


def _fill(i: int) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The paper fill of the i-th decision, and its ledger row (every column but ``seq``)."""
    side = "BUY" if i % 2 == 0 else "SELL"  # a buy, then its sale: the position stays small
    at = f"2024-01-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
    fill = {
        "client_order_id": f"so-{i:024x}", "asset": "SOL", "side": side, "quantity": "1.5",
        "price": "101.25", "fee": "0.1518750", "at": at, "venue": "paper",
        "venue_order_id": f"paper-{i + 1}", "notional": "151.875",
    }  # fmt: skip
    row = (
        fill["client_order_id"], f"dec-{i:024x}", "Bench", "SOL", side, "1.5", "101.25",
        "0.1518750", "101.25", "10", "5", at, at,
    )  # fmt: skip
    return fill, row


def fill_records(fills: int) -> Iterator[tuple[dict[str, Any], tuple[str, ...] | None]]:
    """Each fill's decision (stating the account's cash after it) and fill record, in chain
    order, with the ledger row to insert alongside (None for the fill record)."""
    cash = STARTING_CASH
    for i in range(fills):
        fill, row = _fill(i)
        notional = Decimal(fill["quantity"]) * Decimal(fill["price"])
        fee = Decimal(fill["fee"])
        cash = cash - (notional + fee) if fill["side"] == "BUY" else cash + (notional - fee)
        ident = f"dec-{i:024x}"
        execution = {
            "status": "FILLED", "message": "paper fill", "fill": fill,
            "details": {"venue": "paper", "cash_after": str(cash), "quote": "USDT"},
        }  # fmt: skip
        yield {
            "schema": SCHEMA, "kind": "decision", "id": ident, "decision_id": ident,
            "recorded_at": fill["at"], "as_of": fill["at"], "asset": "SOL",
            "verdict": fill["side"], "mode": "paper", "execution": execution,
        }, row  # fmt: skip
        yield {
            "schema": SCHEMA, "kind": "fill", "id": f"fill-{i:024x}-1", "decision_id": ident,
            "recorded_at": fill["at"], "client_order_id": fill["client_order_id"], "fill": fill,
        }, None  # fmt: skip


def build_fills(path: Path, fills: int) -> None:
    with AuditLog(path, key=SigningKey.from_secret(KEY)) as log:
        ledger = SQLiteLedger(log.db)
        with log.transaction():
            ledger.create()
            ledger.open_account(str(STARTING_CASH), "USDT", "2024-01-01T00:00:00Z")
        records: list[dict[str, Any]] = []
        rows: list[tuple[str, ...]] = []
        for record, row in fill_records(fills):
            records.append(record)
            if row is not None:
                rows.append(row)
            if len(records) >= 2 * _CHUNK:
                _commit(log, ledger, records, rows)
                records, rows = [], []
        if records:
            _commit(log, ledger, records, rows)


def _commit(
    log: AuditLog, ledger: SQLiteLedger, records: list[dict[str, Any]], rows: list[tuple[str, ...]]
) -> None:
    with log.transaction():
        log.append_many(records)
        for row in rows:
            ledger.insert_fill(row)


def verify_once(path: Path) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of one ``signalops audit verify`` process (GNU time's %M)."""
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", sys.executable, "-m", "signalops", "audit", "verify",
         "--audit", str(path)],
        env={**os.environ, KEY_ENV: KEY},
        capture_output=True,
        text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"verify failed on {path}: {done.stderr}")
    return seconds, int(done.stderr.strip().splitlines()[-1])


def _count(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        fills = conn.execute("SELECT count(*) FROM paper_fills").fetchone()[0] if (
            "paper_fills" in tables
        ) else 0  # fmt: skip
    return records, fills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--fills", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("decisions", "fills"))
    args = parser.parse_args()
    cases = []
    if args.only != "fills":
        cases += [("decisions", build, n) for n in (args.records, 10 * args.records)]
    if args.only != "decisions":
        cases += [("fills", build_fills, n) for n in (args.fills, 10 * args.fills)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for kind, make, n in cases:
            path = Path(folder) / f"{kind}-{n}.db"
            make(path, n)
            runs = [verify_once(path) for _ in range(args.repeat)]
            rows.append((kind, *_count(path), min(r[0] for r in runs), min(r[1] for r in runs)))
            path.unlink()
    print(
        f"{'log':<10}  {'records':>10}  {'fills':>9}  {'verify s':>9}  {'peak RSS MiB':>12}  "
        f"{'vs smaller':>10}"
    )
    base: dict[str, int] = {}
    for kind, records, fills, seconds, kib in rows:
        base.setdefault(kind, kib)
        print(
            f"{kind:<10}  {records:>10,}  {fills:>9,}  {seconds:>9.1f}  {kib / 1024:>12.0f}  "
            f"{kib / base[kind]:>9.2f}x"
        )


if __name__ == "__main__":
    main()
