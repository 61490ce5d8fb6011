"""The event-driven backtest with an audit record per bar, against backtrader, backtesting.py and
vectorbt on the same bars and strategy, and the vectorised screen (issue 13's table).

Data: Binance BTC/USDT hourly candles 2020-10 .. 2025-10 (the bundled file, 43,780 bars; see
``bench/_peers.py``), imported into a replay snapshot store as ``signalops data import`` does.
Strategy, the same in every engine: RSI(14) < 30 entry, RSI > 55 exit, decided at each hourly
close from bar 300 on, filled at the next bar's open, 10 bps fee on each side, no slippage,
10,000 of cash. SignalOps decides at every hour of that span (43,480 bars and the 20 hours the
exchange had no candle), so its rate is decisions per second.

Measured in one run, each the fastest of ``--repeat`` runs:

- SignalOps event-driven backtest, fast engine (``run_backtest``, the default): every decision
  evaluated, gated and recorded, one hash-chained audit record per bar (a fill adds its own),
  end to end (data, records, fills, equity curve, metrics, filter accounting), on all bars;
- the same backtest on the pipeline engine (``engine="pipeline"``: ``Pipeline.cycle`` at each
  time), on the last ``--pipeline-bars`` bars: its log is first checked to be the fast
  engine's, record for record, hash for hash;
- the peers (``bench/_peers.py``; they keep no record of anything), when installed (the
  ``bench`` extra), and the numpy reference;
- the vectorised screen (``vectorized.screen``: verdicts only, no records, no fills).

Every engine must take the same entries (the open times of the bars whose open filled a BUY
from flat); the script says where they differ and exits 1.

Run:  .venv/bin/python bench/bench_backtest.py [--repeat 3] [--pipeline-bars 2000] [--no-peers]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from signalops.adapters import technical
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest.runner import BacktestResult, run_backtest
from signalops.config import Config, PaperConfig
from signalops.evaluation import vectorized
from signalops.strategy import loads

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600
WARM_UP = 300  # the first decision is at the close of this bar (as in bench/_peers.py)
SERIES = technical.series_key("binance", "BTC/USDT", HOUR)

STRATEGY = textwrap.dedent(
    """
    strategy:
      name: "Hourly_RSI_Bench"
      assets: ["BTC"]
      defaults:
        params:
          timeframe: 1h
      rules:
        - id: oversold
          source: technical
          conditions:
            - when: "rsi(14) < 30"
      exit:
        rules:
          - id: recovered
            source: technical
            conditions:
              - when: "rsi(14) > 55"
      execution:
        position_size: 0.05
        action_mode: paper
    """
)
CONFIG = Config(
    paper=PaperConfig(starting_cash=Decimal(10_000), fee_bps=Decimal(10), slippage_bps=Decimal(0))
)


@dataclass(frozen=True)
class Row:
    engine: str
    bars: int
    seconds: float
    entries: int | None = None
    note: str = ""

    @property
    def rate(self) -> float:
        return self.bars / self.seconds


def fastest(repeat: int, run: Callable[[], Any]) -> tuple[float, Any]:
    best, result = math.inf, None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    return best, result


def entries_of(result: BacktestResult) -> tuple[Any, ...]:
    """The open times of the bars whose open filled each round trip's first BUY (UTC)."""
    import pandas as pd

    return tuple(pd.Timestamp(trade.entries[0].filled_at) for trade in result.trades)


def log_records(path: Path) -> list[dict[str, Any]]:
    """Every record of a log as the store gives it back (the fast engine's log keeps most in
    runs, the pipeline's each in a row: ``signalops.audit.runs``)."""
    with AuditLog.open_readonly(path) as log:
        return list(log.records())


def same_log(one: Path, other: Path) -> int:
    """How many records two logs share, raising when they differ anywhere."""
    first, second = log_records(one), log_records(other)
    for a, b in zip(first, second, strict=True):
        if a != b:
            raise SystemExit(f"the fast engine's log differs from the pipeline's at seq {a['seq']}")
    return len(first)


def peers_or_reason() -> tuple[Any, str | None]:
    try:
        from bench import _peers
    except Exception as exc:  # any import failure means: no peers today
        return None, f"bench/_peers.py does not import ({type(exc).__name__}: {exc})"
    return _peers, None


def ratio(ours: float, theirs: float) -> str:
    if theirs <= 0:
        return "-"
    if ours >= theirs:
        return f"{ours / theirs:,.1f}x faster"
    return f"{theirs / ours:,.1f}x slower"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pipeline-bars", type=int, default=2_000)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TQDM_DISABLE", "1")
    strategy = loads(STRATEGY, "bench.yaml")

    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(Path(tmp) / "replay")
        store.write("technical", technical.import_bundled(ROOT / "examples" / "data"))
        series = store.series("technical", SERIES)
        assert series is not None
        candles = len(series)
        start = datetime.fromtimestamp(float(series.times[WARM_UP]), UTC)
        end = datetime.fromtimestamp(float(series.times[-1]), UTC)
        every = timedelta(hours=1)

        def backtest(since: datetime, engine: str, out: str) -> BacktestResult:
            return run_backtest(
                strategy,
                store=store,
                start=since,
                end=end,
                every=every,
                config=CONFIG,
                out_dir=Path(tmp) / out,
                engine=engine,
            )

        # The pipeline engine on a slice, and the fast engine's log of the same slice.
        since = end - every * (args.pipeline_bars - 1)
        slow_s, slow = fastest(args.repeat, lambda: backtest(since, "pipeline", "slow"))
        sliced = backtest(since, "fast", "sliced")
        checked = same_log(slow.audit_path, sliced.audit_path)

        fast_s, fast = fastest(args.repeat, lambda: backtest(start, "fast", "fast"))
        decisions = len(fast.decisions)
        entries = entries_of(fast)

        times = np.array([d.as_of.timestamp() for d in fast.decisions], dtype=np.float64)
        screen_s, screened = fastest(
            args.repeat, lambda: vectorized.screen(strategy, "BTC", store, times)
        )
        screened_verdicts = [v.value for v in vectorized.decode_verdicts(screened.verdicts)]
        differ = sum(a != d.verdict for a, d in zip(screened_verdicts, fast.decisions, strict=True))

    rows = [
        Row("SignalOps event-driven, fast engine", decisions, fast_s, len(entries),
            f"{len(fast.decisions):,} records + {len(fast.legs)} fills"),
        Row("SignalOps event-driven, pipeline engine", len(slow.decisions), slow_s, None,
            f"last {len(slow.decisions):,} bars"),
    ]  # fmt: skip
    peers, missing = (None, "--no-peers") if args.no_peers else peers_or_reason()
    peer_results: Sequence[Any] = ()
    if peers is not None:
        frame = peers.load_btc_1h()
        for name, peer in peers.available().items():
            if not peer.ok:
                print(f"skipped {name}: {peer.reason}")
        peer_results = peers.run_all(frame, warm_up=WARM_UP, repeat=args.repeat)
        for result in peer_results:
            label = f"{result.engine} {result.version}".strip()
            rows.append(Row(label, result.bars, result.seconds, len(result.entries), "no records"))
    rows.append(Row("SignalOps vectorised screen", len(times), screen_s, None, "verdicts only"))

    machine = peers.machine() if peers is not None else f"{os.cpu_count()} cores"
    print(f"{machine}; load {os.getloadavg()[0]:.2f}; min of {args.repeat} runs")
    print(
        f"BTC/USDT 1h, {candles:,} bars; RSI(14) < 30 entry, > 55 exit from bar {WARM_UP}, "
        "next-bar-open fills, 10 bps fee"
    )
    print(
        f"checked: fast engine's log == pipeline engine's on the last {args.pipeline_bars:,} "
        f"bars ({checked:,} records, hashes included); the screen's verdicts differ from the "
        f"backtest's on {differ:,} bars (it warms RSI over the whole history, the adapter over "
        "250 candles)"
    )
    if missing:
        print(f"peers skipped: {missing}")
    print()
    fast_rate = rows[0].rate
    print(f"| {'engine':<44} | {'bars':>7} | {'bars/s':>11} | {'entries':>7} | "
          f"{'SignalOps fast engine is':>24} | note")  # fmt: skip
    print(f"|{'-' * 46}|{'-' * 8}:|{'-' * 12}:|{'-' * 8}:|{'-' * 25}:|------")
    for row in rows:
        shown = "" if row.entries is None else f"{row.entries:,}"
        versus = "1x" if row is rows[0] else ratio(fast_rate, row.rate)
        print(f"| {row.engine:<44} | {row.bars:>7,} | {row.rate:>11,.0f} | {shown:>7} | "
              f"{versus:>24} | {row.note}")  # fmt: skip

    problems = []
    for result in peer_results:
        ours, theirs = set(entries), set(result.entries)
        if ours != theirs:
            only_ours = ", ".join(str(t) for t in sorted(ours - theirs)[:3]) or "none"
            only_theirs = ", ".join(str(t) for t in sorted(theirs - ours)[:3]) or "none"
            problems.append(
                f"{result.engine}: {len(theirs)} vs SignalOps' {len(ours)} "
                f"(only SignalOps: {only_ours}; only {result.engine}: {only_theirs})"
            )
    if peer_results:
        print("\nentries: " + ("the same in every engine" if not problems else "; ".join(problems)))
    print(
        f"\nmachine: rate={fast_rate:.0f} pipeline={rows[1].rate:.0f} "
        f"speedup={fast_rate / rows[1].rate:.1f} decisions={decisions} "
        f"same_entries={'yes' if not problems else 'no'} same_log=yes"
    )
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
