"""What a quiet bar's audit record cannot cost less than in CPython, beside the 10 µs a bar that
100,000 bars a second leaves (issue 13).

Each of a backtest's records needs at least: its decision id (``dec-`` and 24 hex digits of a
SHA-256 of the strategy, asset, time and mode), its time printed, its observations' JSON (a
float printed with its data time), and its seal (the record's canonical text with the previous
hash spliced in, and its SHA-256, which the next one quotes). This script does only that, for
43,500 hourly records, with plain lists and f-strings: no objects, no checks, no storage, no
decision or equity point. The record's fixed text is ~1.1 KB, as the benchmark backtest's.

Run:  .venv/bin/python bench/bench_record_floor.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

COUNT = 43_500  # the benchmark backtest's decisions (bench_backtest.py)
START = 1_601_510_400  # 2020-10-01 00:00 UTC
FIXED = "x" * 1_000  # a record's text around what is spliced in
BUDGET_US = 10.0  # a bar's time at 100,000 bars a second
_sha256 = hashlib.sha256


def stamps() -> list[str]:
    seconds = np.arange(COUNT, dtype=np.int64) * 3600 + START
    return list(np.datetime_as_string(seconds.astype("datetime64[s]"), timezone="UTC").tolist())


def ids(times: list[str]) -> list[str]:
    prefix = "0123456789abcdef" * 4 + "|BTC|"
    return [f"dec-{_sha256(f'{prefix}{t}|paper'.encode()).hexdigest()[:24]}" for t in times]


def observed(times: list[str], values: list[float]) -> list[str]:
    floats = orjson.dumps(values)[1:-1].decode().split(",")
    return [
        f'[{{"data_time":"{t}","fetched_at":"{t}","value":{v}}}]'
        for t, v in zip(times, floats, strict=True)
    ]


def sealed(times: list[str], idents: list[str], texts: list[str]) -> list[bytes]:
    prev, hashes = "0" * 64, []
    for seq, (t, ident, text) in enumerate(zip(times, idents, texts, strict=True), 1):
        digest = _sha256(f"{FIXED}{t}{ident}{ident}{text}{prev}{t}{seq}".encode()).digest()
        prev = digest.hex()
        hashes.append(digest)
    return hashes


def fastest(repeat: int, run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    values = np.random.default_rng(1).uniform(10, 90, COUNT).tolist()
    times = stamps()
    idents = ids(times)
    texts = observed(times, values)
    parts = [
        ("times printed (numpy)", stamps),
        ("decision ids (SHA-256)", lambda: ids(times)),
        ("observations' JSON", lambda: observed(times, values)),
        ("seal: text + SHA-256, chained", lambda: sealed(times, idents, texts)),
    ]
    print(f"{COUNT:,} records, min of {repeat} runs")
    print(f"{'part':<34}{'ms':>9}{'µs/record':>11}{'of 10 µs':>10}")
    print("-" * 64)
    total = 0.0
    for name, run in parts:
        took = fastest(repeat, run)
        total += took
        row(name, took)
    row("all: a record's floor", total)
    print(f"at 100,000 bars a second a bar has {BUDGET_US:.0f} µs for everything")


def row(name: str, seconds: float) -> None:
    per = seconds / COUNT * 1e6
    print(f"{name:<34}{seconds * 1000:>9.1f}{per:>11.2f}{per / BUDGET_US:>10.0%}")


if __name__ == "__main__":
    main()
