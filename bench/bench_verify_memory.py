"""``signalops audit verify`` stays flat in memory as the log grows (issue 11).

Builds logs of N and 10×N small decision records (``AuditLog.append_many``, signed with a key,
so MACs and checkpoints are checked too), then runs ``signalops audit verify`` on each as its own
process and reports its peak resident memory (GNU ``time``'s %M) and wall time, minimum of
``--repeat`` runs. The baseline is the smaller log, measured in the same run: flat means the
ratio of peak memory stays near 1 while the records grow tenfold.

Run:  .venv/bin/python bench/bench_verify_memory.py [--records 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_dashboard_biglog import slim_records  # noqa: E402
from signalops.audit.signing import KEY_ENV, SigningKey  # noqa: E402
from signalops.audit.store import AuditLog  # noqa: E402

KEY = "bench-verify-memory-key-0123456789abcdef0123456789"


def build(path: Path, records: int) -> None:
    with AuditLog(path, key=SigningKey.from_secret(KEY)) as log:
        log.append_many(slim_records(0, records))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in (args.records, 10 * args.records):
            path = Path(folder) / f"log-{n}.db"
            build(path, n)
            runs = [verify_once(path) for _ in range(args.repeat)]
            rows.append((n, min(r[0] for r in runs), min(r[1] for r in runs)))
    base_kib = rows[0][2]
    print(f"{'records':>10}  {'verify s':>9}  {'peak RSS MiB':>12}  {'vs smaller':>10}")
    for n, seconds, kib in rows:
        print(f"{n:>10,}  {seconds:>9.1f}  {kib / 1024:>12.0f}  {kib / base_kib:>9.2f}x")


if __name__ == "__main__":
    main()
