"""How much a data lookup costs: replayed hourly candles, and a cached live lookup.

Measured in one run, next to the cheapest possible lookup (a plain dict keyed by the hour):

- store lookup:   ``Series.last_at_or_before(t)`` on a year of hourly BTC candles (bisect)
- replay close:   ``TechnicalAdapter.fetch([close 1h])`` through the replay feed — the whole
                  adapter path: request, window slice, Observation with data time and detail
- replay rsi(14): the same with TA-Lib computing RSI over the candle window
- replay supply:  ``OnchainAdapter.fetch([stablecoin_supply('USDC')])`` on the daily series
- cached live:    ``OnchainAdapter`` live path (httpx + DeFiLlama parsing) answered from the
                  HttpClient's TTL cache after one real round trip through a recorded response

Read the ratio column as "how many dict lookups one of these costs". Run:
    .venv/bin/python bench/bench_adapters.py
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from signalops.adapters import onchain, technical
from signalops.adapters.http import HttpClient
from signalops.adapters.snapshots import SnapshotStore
from signalops.observation import Observation, Request

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
YEAR_START = datetime(2023, 1, 1, tzinfo=UTC).timestamp()
YEAR_END = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
HOUR = 3600


def best_of(repeats: int, count: int, run: Callable[[], None]) -> float:
    """Best wall time per call in ns over ``repeats`` runs of ``count`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        run()
        best = min(best, (time.perf_counter_ns() - start) / count)
    return best


def main() -> None:
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = SnapshotStore(tmp)
        store.write("technical", technical.import_bundled(DATA))
        store.write("onchain", onchain.import_bundled(DATA))
        series = store.series("technical", "candles/binance/BTC/USDT/1h")
        assert series is not None
        year = [t for t in series.times if YEAR_START < t <= YEAR_END]
        closes = {t: v[3] for t, v in zip(series.times, series.values, strict=True)}
        hourly = {t: closes[t] for t in year}

        # Random decision times inside 2023, not aligned to the hour (as a live loop would be).
        times = [rng.uniform(YEAR_START + 300 * HOUR, YEAR_END) for _ in range(5_000)]
        aligned = [t - t % HOUR for t in times]
        moments = [datetime.fromtimestamp(t, UTC) for t in times]

        replay_tech = technical.TechnicalAdapter.replay(store)
        replay_chain = onchain.OnchainAdapter.replay(store)
        close = Request("technical", "close", (("timeframe", HOUR),), "BTC")
        rsi = Request("technical", "rsi", (("n", 14), ("timeframe", HOUR)), "BTC")
        supply = Request("onchain", "stablecoin_supply", (("stablecoin", "USDC"), ("chain", "all")))

        # Every replayed answer is checked once before timing: never after as_of, and equal to
        # the dict's answer for the last closed hour.
        for t, moment, hour in zip(times, moments, aligned, strict=True):
            answer = replay_tech.fetch([close], moment)[close]
            assert isinstance(answer, Observation), answer
            assert answer.epoch <= t
            assert answer.value == hourly.get(hour, answer.value)

        live_feed = _recorded_chain_tvl_transport()
        live = onchain.OnchainAdapter.live(
            HttpClient("onchain", transport=live_feed, cache_ttl=3600.0, retries=0)
        )
        tvl = Request("onchain", "chain_tvl", (("chain", "Ethereum"),))
        live_at = datetime(2023, 3, 20, tzinfo=UTC)
        first = live.fetch([tvl], live_at)[tvl]
        assert isinstance(first, Observation), first

        n = len(times)
        rows = [
            (
                "plain dict lookup (baseline)",
                best_of(5, n, lambda: [hourly.get(h) for h in aligned]),
            ),
            (
                "store: Series.last_at_or_before",
                best_of(5, n, lambda: [series.last_at_or_before(t) for t in times]),
            ),
            (
                "replay adapter: close (1h)",
                best_of(3, n, lambda: [replay_tech.fetch([close], m) for m in moments]),
            ),
            (
                "replay adapter: rsi(14) (1h)",
                best_of(3, n, lambda: [replay_tech.fetch([rsi], m) for m in moments]),
            ),
            (
                "replay adapter: stablecoin_supply",
                best_of(3, n, lambda: [replay_chain.fetch([supply], m) for m in moments]),
            ),
            (
                "cached live: chain_tvl (HttpClient cache)",
                best_of(3, 2_000, lambda: [live.fetch([tvl], live_at) for _ in range(2_000)]),
            ),
        ]
        sent = live.feed.http.requests_sent

    base = rows[0][1]
    print(f"Python {sys.version.split()[0]}; {len(year):,} hourly candles in 2023; {n:,} lookups")
    print(f"checked: {n:,} replayed closes never after as_of and equal to the dict's answer")
    print(f"cached live: {sent} HTTP request(s) sent for {2_000 * 3 + 1:,} lookups\n")
    print(f"{'path':<44}{'ns/lookup':>12}{'lookups/s':>14}{'vs dict':>10}")
    print("-" * 80)
    for name, ns in rows:
        print(f"{name:<44}{ns:>12,.0f}{1e9 / ns:>14,.0f}{ns / base:>9,.0f}x")


def _recorded_chain_tvl_transport() -> httpx.MockTransport:
    """DeFiLlama's historicalChainTvl/Ethereum, as recorded (March 2023 slice)."""
    body = DATA / "defillama" / "derived_api_shape" / "historicalChainTvl_Ethereum_2023-03.json"
    payload = json.loads(body.read_text())

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v2/historicalChainTvl/Ethereum"):
            return httpx.Response(200, json=payload)
        return httpx.Response(404)

    return httpx.MockTransport(handle)


if __name__ == "__main__":
    main()
