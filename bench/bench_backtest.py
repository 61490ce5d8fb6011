"""Bar-evaluations per second: the event-driven backtest vs the vectorised evaluator.

Five years of hourly BTC candles (Binance, 2020-10..2025-10, ~43,780 bars), one strategy
(daily-RSI style entry and exit, on hourly candles), measured in one run:

- event-driven backtest: ``run_backtest`` — every bar goes through the live pipeline (replay
  adapters, evaluate, size, risk gate, paper broker, hash-chained audit record). It is timed on a
  slice (``--event-bars``, default 1,000 bars) because the whole history would take minutes;
  the rate is per bar, so it compares directly.
- scalar evaluation only: ``engine.evaluate`` with the replay adapters (no risk, no audit), on a
  slice, to show where the event-driven time goes.
- vectorised: ``vectorized.screen`` over ALL bars (TA-Lib over the whole series once, then one
  numpy pass per node of the tree).

Before timing, the vectorised verdicts are checked against the scalar ones on the slice.
Run:  .venv/bin/python bench/bench_backtest.py [--event-bars N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from signalops.adapters import gather as engine
from signalops.adapters import registry, technical
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.runner import run_backtest
from signalops.evaluation import vectorized
from signalops.strategy import loads

ROOT = Path(__file__).resolve().parents[1]
HOUR = 3600

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
            - when: "rsi(14) < 30 and close > sma(200) * 0.9"
      exit:
        rules:
          - id: recovered
            source: technical
            conditions:
              - when: "rsi(14) > 70"
      execution:
        position_size: 0.05
        action_mode: paper
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-bars", type=int, default=1_000)
    args = parser.parse_args()

    strategy = loads(STRATEGY, "bench.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(Path(tmp) / "replay")
        store.write("technical", technical.import_bundled(ROOT / "examples" / "data"))
        series = store.series("technical", "candles/binance/BTC/USDT/1h")
        assert series is not None
        # Decide at every candle close from the 300th on (enough history for sma(200)).
        times = np.asarray(series.times[300:], dtype=np.float64)
        n_all = len(times)
        adapters = registry.replay_adapters(store)

        # Correctness first: vectorised verdicts equal the scalar ones on a slice.
        check = times[-2_000:]
        fast = vectorized.screen(strategy, "BTC", store, check)
        verdicts = vectorized.decode_verdicts(fast.verdicts)
        for i, t in enumerate(check):
            moment = datetime.fromtimestamp(float(t), UTC)
            scalar = engine.evaluate(strategy, "BTC", moment, adapters)
            assert scalar.verdict == verdicts[i], (moment, scalar.verdict, verdicts[i])
        kinds = sorted({v.value for v in verdicts})

        started = time.perf_counter()
        vectorized.screen(strategy, "BTC", store, times)
        vector_s = time.perf_counter() - started

        scalar_bars = times[-args.event_bars :]
        started = time.perf_counter()
        for t in scalar_bars:
            engine.evaluate(strategy, "BTC", datetime.fromtimestamp(float(t), UTC), adapters)
        scalar_s = time.perf_counter() - started

        first = datetime.fromtimestamp(float(times[-args.event_bars]), UTC)
        last = datetime.fromtimestamp(float(times[-1]), UTC)
        started = time.perf_counter()
        result = run_backtest(
            strategy,
            store=store,
            start=first,
            end=last,
            every=timedelta(hours=1),
            out_dir=Path(tmp) / "out",
        )
        event_s = time.perf_counter() - started
        trades = len(result.trades) if hasattr(result, "trades") else "?"

    event_rate = args.event_bars / event_s
    scalar_rate = args.event_bars / scalar_s
    vector_rate = n_all / vector_s
    print(f"Python {sys.version.split()[0]}; BTC/USDT 1h, {n_all:,} decision bars (5 years)")
    print(f"checked: vectorised == scalar verdicts on 2,000 bars ({', '.join(kinds)})")
    print(f"event-driven slice: {args.event_bars:,} bars, {trades} round trips\n")
    print(f"{'path':<46}{'bars':>9}{'seconds':>10}{'bars/s':>12}{'vs event':>10}")
    print("-" * 87)
    rows = [
        ("event-driven backtest (pipeline + audit)", args.event_bars, event_s, event_rate),
        ("scalar evaluation only (replay adapters)", args.event_bars, scalar_s, scalar_rate),
        ("vectorised screen (all bars)", n_all, vector_s, vector_rate),
    ]
    for name, bars, seconds, rate in rows:
        print(f"{name:<46}{bars:>9,}{seconds:>10.2f}{rate:>12,.0f}{rate / event_rate:>9,.0f}x")
    speedup = vector_rate / event_rate
    print(f"\nspeed-up of the vectorised path over the event-driven one: {speedup:,.0f}x")


if __name__ == "__main__":
    main()
