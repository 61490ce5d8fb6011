"""Decisions per second of the Graham Value + Event Filter backtest on US stocks.

One run measures, on the same machine state, the event-driven backtest of
``strategies/graham_value_event_filter.yaml`` (six stocks, SEC EDGAR point-in-time fundamentals,
daily RSI, a Polymarket veto) with ``examples/signalops.equities.yaml``:

- graham: as ``signalops backtest`` runs it (one run, no vetoes-removed twin, no report);
- graham, facts re-indexed per decision: the same backtest with the EDGAR point-in-time view
  rebuilt from every fact at every decision and metric (``FactBook(facts, as_of)``), which is
  what each decision did before the facts were indexed once per filing set: the same-run
  baseline of that speed-up;
- technical baseline: ``strategies/technical_baseline.yaml`` (BTC, RSI only, no fundamentals)
  over the same number of daily periods, as a reference for a strategy without EDGAR.

Each row is the minimum of ``--repeats`` runs (default 3). The decisions of the two Graham
variants are checked to be identical (same decision ids and verdicts) before the table prints.
Needs ``signalops data import`` first (examples/replay).
Run:  .venv/bin/python bench/bench_graham.py [--from 2023-01-01] [--to 2023-12-31] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from signalops.adapters import _facts, registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.runner import BacktestResult, run_backtest
from signalops.config import Config, load_config
from signalops.strategy import load

ROOT = Path(__file__).resolve().parents[1]
REPLAY = ROOT / "examples" / "replay"


@contextmanager
def facts_reindexed_per_decision() -> Iterator[None]:
    """Every point-in-time view built from all the facts, as before the per-filing-set index."""
    indexed = _facts.FactSet.book
    _facts.FactSet.book = lambda self, as_of: _facts.FactBook(self, as_of)  # type: ignore[method-assign]
    try:
        yield
    finally:
        _facts.FactSet.book = indexed  # type: ignore[method-assign]


def timed(run: Callable[[], BacktestResult], repeats: int) -> tuple[float, BacktestResult]:
    best, result = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - began)
    assert result is not None
    return best, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="start", default="2023-01-01")
    parser.add_argument("--to", dest="end", default="2023-12-31")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if not REPLAY.is_dir():
        print("examples/replay is missing: run 'signalops data import' first", file=sys.stderr)
        return 1
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC)
    end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    catalogue = registry.catalogue()
    graham = load(ROOT / "strategies" / "graham_value_event_filter.yaml", catalogue)
    baseline = load(ROOT / "strategies" / "technical_baseline.yaml", catalogue)
    equities = load_config(ROOT / "examples" / "signalops.equities.yaml")

    with tempfile.TemporaryDirectory() as tmp:

        def backtest(strategy: object, config: Config, name: str) -> Callable[[], BacktestResult]:
            # A fresh store each run: nothing parsed by an earlier run is reused.
            return lambda: run_backtest(
                strategy,  # type: ignore[arg-type]
                store=SnapshotStore(REPLAY),
                start=start,
                end=end,
                out_dir=Path(tmp) / name,
                config=config,
            )

        rows = []
        fast_s, fast = timed(backtest(graham, equities, "graham"), args.repeats)
        rows.append(("graham (facts indexed per filing set)", fast_s, fast))
        with facts_reindexed_per_decision():
            slow_s, slow = timed(backtest(graham, equities, "graham_slow"), args.repeats)
        rows.append(("graham, facts re-indexed per decision", slow_s, slow))
        ref_s, ref = timed(backtest(baseline, Config(), "technical"), args.repeats)
        rows.append(("technical baseline (BTC, no EDGAR)", ref_s, ref))

    same = [(d.decision_id, d.verdict) for d in fast.decisions] == [
        (d.decision_id, d.verdict) for d in slow.decisions
    ]
    if not same:
        print("the two Graham runs decided differently", file=sys.stderr)
        return 1
    print(
        f"Graham Value + Event Filter backtest, {args.start} .. {args.end}, "
        f"min of {args.repeats} runs (decisions identical in both Graham runs: {same})"
    )
    print(f"{'run':<40} {'periods':>8} {'decisions':>10} {'seconds':>8} {'decisions/s':>12}")
    for name, seconds, result in rows:
        n = len(result.decisions)
        print(f"{name:<40} {result.periods:>8,} {n:>10,} {seconds:>8.2f} {n / seconds:>12,.0f}")
    print(f"speed-up of the facts index: {slow_s / fast_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
