"""One cycle over 1,000 assets, end to end: gather -> evaluate -> risk -> paper -> audit records.

The universe is synthetic, made honestly from the bundled real data: the bundled daily candles
(Binance BTC/USDT and ETH/USDT, and the seven Yahoo equity and index series under
``examples/data/equities``) are imported into a temp replay store as ``signalops data import``
does, and then each synthetic asset ``U0001``..``U1000`` gets one of those nine real series,
unchanged (asset ``k`` takes series ``k mod 9``), re-keyed as its own daily series in a
second temp replay store: a crypto copy as ``candles/binance/U0001/USDT/1d``, an equity copy as
``candles/yfinance/U0003/1d``, routed to a ``yfinance`` venue in the config as a real equity
would be (trading-day sessions: weekends are no gaps). Only the last ``HISTORY_DAYS`` days
before the benchmark period are kept, as the strategy needs (its indicators read 250 closed
candles). So every asset's candles are real candles, but the 1,000 assets are 9 histories
repeated: the work per asset (a candle window, an RSI, an evaluation, a risk gate, a record) is
the real work, only the answers repeat. No asset has hourly candles, so the hourly close the
pipeline asks for every asset is a NO_DATA (or, for equities, NOT_APPLICABLE) answer, as for a
daily-only asset in a live run.

One strategy, ``strategies/technical_baseline.yaml`` (RSI(14) < 30 BUY, RSI > 55 SELL, paper
mode, 5 % of equity per order), runs over all 1,000 assets with the built-in config (default
risk limits, paper account of 10,000). Its cycles are at 00:00 UTC on each day of
2023-03-08..2023-03-14 (``--quick``: the first three), the days of the March 2023 dip, so that
cycles have BUYs that fill, risk denials (order rate, cash), SELL denials (nothing held) and
HOLDs. The audit log is a real SQLite file (WAL, synchronous=FULL) in a temp dir.

Timed, in one run, each over the same days (``--repeats`` passes, each on a fresh audit log
and paper account; a pass of the replay store's files is loaded once before timing):

  (a) baseline: the gather alone: ``engine.gather`` of exactly the requests ``Pipeline.cycle``
      makes (each asset's strategy requests and its 1h/1d closes) through the replay adapters;
  (b) info: the bare evaluation of the 1,000 assets on (a)'s answers (``strategy.evaluate``);
  (c) ``Pipeline.cycle(as_of)``: (a) + the recorded-decision check, evaluation, sizing, risk
      gate, paper fills and every audit record committed. Target: <= 1 s.

Each row is the minimum over all its timed cycles (every day of every pass) and the median; the
"vs (a)" column is the ratio to the gather. Checked on every pass: the cycle decided each asset
once, the audit chain verifies, and every pass ends with the same chain head hash (byte-identical
records, whichever pass made them).

Run:  .venv/bin/python bench/bench_universe.py [--quick] [--assets N] [--repeats N]
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from signalops.adapters import gather as engine
from signalops.adapters import registry
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.verify import verify
from signalops.observation import Request
from signalops.pipeline import Pipeline
from signalops.pipeline.cycle import price_requests
from signalops.strategy.model import Strategy
from signalops.venues import DEFAULT_VENUES, AssetVenue, Venue, Venues
from signalops.workspace import build_pipeline, load_strategies, open_workspace

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
STRATEGY_FILE = ROOT / "strategies" / "technical_baseline.yaml"
SOURCE = "technical"
# The real daily series the universe is made of (keys of the imported replay store).
REAL_SERIES = (
    "candles/binance/BTC/USDT/1d",
    "candles/binance/ETH/USDT/1d",
    "candles/yfinance/AAPL/1d",
    "candles/yfinance/GOOGL/1d",
    "candles/yfinance/^GSPC/1d",
    "candles/yfinance/JPM/1d",
    "candles/yfinance/MSFT/1d",
    "candles/yfinance/NVDA/1d",
    "candles/yfinance/TSLA/1d",
)
FIRST_DAY = datetime(2023, 3, 8, tzinfo=UTC)
DAYS, QUICK_DAYS = 7, 3
YFINANCE = Venue("yfinance", "yfinance", "USD")
HISTORY_DAYS = 400  # candles kept before the first cycle: 250 read + weekends + room


@dataclass(frozen=True)
class Timing:
    seconds: list[float]

    @property
    def low(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def asset_name(k: int) -> str:
    return f"U{k:04d}"


def build_universe(scratch: Path, assets: int) -> tuple[Path, dict[str, str], Venues]:
    """The synthetic replay store; returns its folder, which real series each asset copies and
    the venues that route the equity copies to yfinance."""
    real = SnapshotStore(scratch / "real")
    import_bundled(DATA, real.directory, sources=[SOURCE])
    cutoff = FIRST_DAY.timestamp() - HISTORY_DAYS * 86400
    last = FIRST_DAY.timestamp() + DAYS * 86400
    histories = []
    for key in REAL_SERIES:
        series = real.series(SOURCE, key)
        if series is None:
            raise SystemExit(f"the bundled data has no {key}: run from a full checkout")
        kept = [(t, v) for t, v in zip(series.times, series.values, strict=True) if cutoff <= t]
        histories.append((key, [(t, v) for t, v in kept if t <= last]))
    copies: dict[str, str] = {}
    equities: dict[str, AssetVenue] = {}
    records: list[tuple[str, float, Any]] = []
    for k in range(1, assets + 1):
        name = asset_name(k)
        key, points = histories[k % len(histories)]
        copies[name] = key
        if key.startswith("candles/yfinance/"):
            equities[name] = AssetVenue(YFINANCE.name)
            target = f"candles/yfinance/{name}/1d"
        else:
            target = f"candles/binance/{name}/USDT/1d"
        records.extend((target, t, v) for t, v in points)
    folder = scratch / "universe"
    SnapshotStore(folder).write(SOURCE, records)
    venues = replace(
        DEFAULT_VENUES, venues={**DEFAULT_VENUES.venues, YFINANCE.name: YFINANCE}, assets=equities
    )
    return folder, copies, venues


def cycle_requests(strategy: Strategy) -> list[Request]:
    """What ``Pipeline.cycle`` gathers for a strategy's assets (nothing recorded yet)."""
    requests: list[Request] = []
    for asset in strategy.assets:
        requests.extend(strategy.requests(asset))
        requests.extend(price_requests(asset))
    return requests


def new_pipeline(
    replay: Path, venues: Venues, audit: Path, strategy: Strategy, clock: list[datetime]
) -> Pipeline:
    workspace = open_workspace(audit=audit)
    workspace.config = replace(workspace.config, venues=venues)
    # The records' recorded_at is the cycle's as_of, as a replay run stamps them.
    return build_pipeline(workspace, [strategy], replay=replay, clock=lambda: clock[0])


def time_cycles(
    replay: Path, venues: Venues, audit: Path, strategy: Strategy, days: Sequence[datetime]
) -> tuple[list[float], Counter[str], str]:
    clock = [days[0]]
    pipeline = new_pipeline(replay, venues, audit, strategy, clock)
    engine.gather(cycle_requests(strategy)[:4], pipeline.adapters, days[0])  # the store loads
    seconds: list[float] = []
    kinds: Counter[str] = Counter()
    try:
        for day in days:
            clock[0] = day
            gc.collect()
            start = time.perf_counter()
            summary = pipeline.cycle(day)
            seconds.append(time.perf_counter() - start)
            decided = [o for o in summary.outcomes if not o.skipped]
            if sorted(o.asset for o in decided) != sorted(strategy.assets):
                raise SystemExit(f"{day:%Y-%m-%d}: the cycle did not decide every asset once")
            for outcome in decided:
                denied = f" denied {outcome.denials[0]}" if outcome.denials else ""
                kinds[f"{outcome.verdict.value} {outcome.status.value}{denied}"] += 1
        report = verify(pipeline.audit)
        if not report.ok:
            raise SystemExit(f"the audit chain does not verify: {report}")
        head = pipeline.audit.head()
    finally:
        pipeline.audit.close()
    return seconds, kinds, head[1] if head else ""


def time_gather(
    replay: Path, venues: Venues, strategy: Strategy, days: Sequence[datetime]
) -> tuple[list[float], list[dict[Request, Any]]]:
    adapters = registry.replay_adapters(SnapshotStore(replay), venues=venues)
    requests = cycle_requests(strategy)
    engine.gather(requests[:4], adapters, days[0])
    seconds, answers = [], []
    for day in days:
        gc.collect()
        start = time.perf_counter()
        answers.append(engine.gather(requests, adapters, day))
        seconds.append(time.perf_counter() - start)
    return seconds, answers


def time_evaluate(
    strategy: Strategy, days: Sequence[datetime], answers: Sequence[dict[Request, Any]]
) -> list[float]:
    seconds = []
    for day, answered in zip(days, answers, strict=True):
        gc.collect()
        start = time.perf_counter()
        for asset in strategy.assets:
            strategy.evaluate(answered, day, asset)
        seconds.append(time.perf_counter() - start)
    return seconds


def print_table(assets: int, rows: list[tuple[str, Timing]]) -> None:
    base = rows[0][1].low
    width = max(len(name) for name, _ in rows)
    header = (
        f"{'path':<{width}}  {'min ms/cycle':>12}  {'median':>8}  {'µs/asset':>9}  {'vs (a)':>7}"
    )
    print(header)
    print("-" * len(header))
    for name, timing in rows:
        print(
            f"{name:<{width}}  {timing.low * 1e3:>12,.1f}  {timing.median * 1e3:>8,.1f}  "
            f"{timing.low / assets * 1e6:>9,.1f}  {timing.low / base:>6,.1f}x"
        )


def busy() -> None:
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > cpus * 0.75:
        print(f"note: load average {load:.1f} on {cpus} CPUs: timings include waiting for a CPU")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="three days instead of seven")
    parser.add_argument("--assets", type=int, default=1_000, help="assets in the universe")
    parser.add_argument("--repeats", type=int, default=3, help="passes, each on a fresh log")
    args = parser.parse_args(argv)
    days = [FIRST_DAY + timedelta(days=i) for i in range(QUICK_DAYS if args.quick else DAYS)]
    started = time.perf_counter()
    print(
        f"Python {platform.python_version()} on {platform.machine()}; {args.assets:,} assets, "
        f"{len(days)} daily cycles {days[0]:%Y-%m-%d}..{days[-1]:%Y-%m-%d}, "
        f"{args.repeats} passes"
    )
    busy()
    with tempfile.TemporaryDirectory(prefix="bench-universe-") as tmp:
        scratch = Path(tmp)
        replay, copies, venues = build_universe(scratch, args.assets)
        (loaded,) = load_strategies([STRATEGY_FILE])
        strategy = replace(loaded, assets=tuple(copies))
        print(
            f"universe: {args.assets:,} assets copying {len(set(copies.values()))} real daily "
            f"series ({', '.join(k.split('/')[2] for k in REAL_SERIES)}), strategy "
            f"{strategy.name}"
        )
        gathers: list[float] = []
        evaluations: list[float] = []
        cycles: list[float] = []
        heads: set[str] = set()
        kinds: Counter[str] = Counter()
        for n in range(args.repeats):
            seconds, answers = time_gather(replay, venues, strategy, days)
            gathers += seconds
            evaluations += time_evaluate(strategy, days, answers)
            audit = scratch / f"audit-{n}.db"
            seconds, kinds, head = time_cycles(replay, venues, audit, strategy, days)
            cycles += seconds
            heads.add(head)
        if len(heads) != 1:
            raise SystemExit("the passes ended with different audit chains")
        print("decisions per pass: " + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()))
        print(f"audit chain verifies on every pass; same head on every pass: {heads.pop()[:16]}…")
        print()
        print(f"One cycle over {args.assets:,} assets, min and median of {len(cycles)} cycles")
        print_table(
            args.assets,
            [
                ("(a) baseline: engine.gather (replay adapters)", Timing(gathers)),
                ("(b) info: bare evaluation of every asset", Timing(evaluations)),
                ("(c) Pipeline.cycle(as_of), audit committed", Timing(cycles)),
            ],
        )
    print()
    print("(c) - (a) - (b) is what the pipeline adds per cycle: the recorded check, the risk gate,")
    print("paper fills and the audit records committed to the file. Target: (c) <= 1 s.")
    busy()
    print(f"total {time.perf_counter() - started:,.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
