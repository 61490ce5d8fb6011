"""Benchmark helper for the audit store: bulk-load N decisions, then time the lookups.

Not a test: ``bench/`` scripts call ``bench_store`` and print the timings, e.g.::

    from bench.audit_records import bench_store
    print(bench_store("/tmp/audit-bench.db", 1_000_000))

The records are real decision records (a small inline strategy evaluated on made-up
observations), cloned with distinct ids, assets and times, so row sizes and index keys look
like production ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signalops.audit.record import build_decision_record
from signalops.audit.store import AuditLog
from signalops.canonical import iso
from signalops.observation import Observation
from signalops.orders import decision_id

_STRATEGY = """
strategy:
  name: bench
  assets: [BTC, ETH, SOL]
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 30"
  vetoes:
    - id: outflow
      source: onchain
      blocks: [BUY]
      conditions:
        - when: "stablecoin_net_flow('USDC', 2d) < -1B"
"""
START = datetime(2020, 1, 1, tzinfo=UTC)


def template_record() -> dict[str, Any]:
    """One real decision record (HOLD, nothing traded) to clone."""
    from signalops.strategy import loads

    strategy = loads(_STRATEGY, "bench.yaml")
    observations = {
        request: Observation(value, START - timedelta(hours=1), request.source, fetched_at=START)
        for request, value in zip(strategy.requests("BTC"), (45.0, -2e8), strict=True)
    }
    evaluation = strategy.evaluate(observations, START, "BTC")
    return build_decision_record(
        strategy=strategy,
        evaluation=evaluation,
        mode="paper",
        intent=None,
        risk=None,
        execution=None,
        recorded_at=START,
    )


def synthetic_records(
    n: int,
    template: dict[str, Any] | None = None,
    *,
    assets: tuple[str, ...] = ("BTC", "ETH", "SOL"),
    start: datetime = START,
    step: timedelta = timedelta(minutes=5),
) -> Iterator[dict[str, Any]]:
    """``n`` decision records: the template with its own id, asset and as_of each."""
    base = template if template is not None else template_record()
    strategy_hash = base["strategy"]["hash"]
    for i in range(n):
        asset = assets[i % len(assets)]
        moment = start + step * (i // len(assets))
        ident = decision_id(strategy_hash, asset, moment, base["mode"])
        stamp = iso(moment)
        yield {**base, "id": ident, "decision_id": ident, "asset": asset, "as_of": stamp}


def _timed(fn: Callable[[], Any], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def bench_store(
    path: str | Path, n: int = 1_000_000, *, verify_too: bool = False
) -> dict[str, float]:
    """Seconds for: one bulk ``append_many`` of ``n`` records, then single lookups (means).

    ``path`` must not exist yet. ``verify_too`` adds a full ``verify`` (minutes at 1M).
    """
    if Path(path).exists():
        raise FileExistsError(f"{path}: use a fresh file, the benchmark appends to it")
    results: dict[str, float] = {"records": float(n)}
    with AuditLog(path) as log:
        template = template_record()
        results["append_many"] = _timed(lambda: log.append_many(synthetic_records(n, template)))
        later = next(synthetic_records(1, template, start=START + timedelta(days=36500)))
        results["append_one"] = _timed(lambda: log.append(later))
        middle = START + timedelta(minutes=5) * (n // 6)
        some_id = log.decision_at("ETH", middle)["id"]  # type: ignore[index]
        results["get"] = _timed(lambda: log.get(some_id), 100)
        results["decision_at"] = _timed(lambda: log.decision_at("ETH", middle), 100)
        results["decision_at_day"] = _timed(lambda: log.decision_at("SOL", middle.date()), 100)
        results["decisions_50"] = _timed(lambda: log.decisions(asset="BTC", limit=50), 20)
        results["pending_approvals"] = _timed(lambda: log.pending_approvals(middle), 20)
        results["count"] = _timed(log.count)
        if verify_too:
            from signalops.audit.verify import verify

            results["verify"] = _timed(lambda: verify(log))
    results["file_mb"] = Path(path).stat().st_size / 1e6
    return results
