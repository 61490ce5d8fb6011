"""The fast engine's equity curve, made a stretch at a time, is the broker's mark by mark.

Between two orders the account's cash and positions do not change, so the fast engine marks
the bars of such a stretch together (``fast._Span``): a flat account at its equity, a held one
at cash + each quantity x its close at the mark, from closes made Decimal once for the run
(``bars.MarkCloses``, shared with the buy-and-hold benchmark) and points made by ``map``
(``ledger.equity_points``). The pipeline engine values every bar through
``PaperBroker.portfolio``: the two curves must agree to the digit, Decimal exponents included,
on runs that hold one asset, two at once, and end holding. Below that, the pieces: the closes
at the marks against ``Bars.close_at`` at each, the points against the constructor, and
buy-and-hold from shared closes against its own lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, STRATEGIES

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.backtest.bars import Bars, MarkCloses, closes_at_marks
from signalops.backtest.clock import epoch_seconds
from signalops.backtest.ledger import EquityPoint, equity_points
from signalops.backtest.runner import BacktestResult, buy_and_hold
from signalops.canonical import iso
from signalops.config import PaperConfig
from signalops.strategy import load, loads

HOUR = 3600
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOURLY_RSI = (ROOT / "tests" / "fixtures" / "hourly_rsi.yaml").read_text(encoding="utf-8")
PAPER = PaperConfig(starting_cash=Decimal("10000"), fee_bps=Decimal(25), slippage_bps=Decimal(8))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def points(curve: Sequence[EquityPoint]) -> list[tuple[str, str, str, bool]]:
    """Each point as text: its time, its equity and cash with their exponents, whether held."""
    return [(iso(p.time), repr(p.equity), repr(p.cash), p.held) for p in curve]


def both_engines(strategy: Any, store: SnapshotStore, tmp_path: Path, **options: Any) -> Any:
    return tuple(
        run_backtest(strategy, store=store, out_dir=tmp_path / engine, engine=engine, **options)
        for engine in ("fast", "pipeline")
    )


def held_and_flat(result: BacktestResult) -> tuple[int, int]:
    held = sum(1 for p in result.equity[1:] if p.held)
    return held, result.periods - held


# --- the curve, engine against engine ---------------------------------------------------------


def test_an_hourly_curve_held_and_flat_by_turns_is_the_pipelines_to_the_digit(
    replay_store: SnapshotStore, tmp_path: Path
):
    # The benchmark's RSI strategy over an exchange outage: dozens of entries and exits, a
    # BUY that adds to a position, bars without candles (marks at the last close before).
    fast, pipeline = both_engines(
        loads(HOURLY_RSI, "bench.yaml"), replay_store, tmp_path, start=utc("2023-02-20"),
        end=utc("2023-05-15"), every=timedelta(hours=1),
    )  # fmt: skip
    assert points(fast.equity) == points(pipeline.equity)
    assert points(fast.buy_and_hold) == points(pipeline.buy_and_hold)
    held, flat = held_and_flat(fast)
    assert held > 100 and flat > 100 and len(fast.legs) >= 20


def test_a_curve_holding_two_assets_at_once_is_the_pipelines_to_the_digit(
    replay_store: SnapshotStore, tmp_path: Path
):
    # Each mark sums the positions in the broker's order, from Decimal(0), then adds the cash.
    strategy = load(STRATEGIES / "banking_crisis_dip.yaml", registry.catalogue())
    fast, pipeline = both_engines(
        strategy, replay_store, tmp_path, start=utc("2021-01-01"), end=utc("2022-12-31"),
        assets=["BTC", "ETH"],
    )  # fmt: skip
    assert points(fast.equity) == points(pipeline.equity)
    assert points(fast.buy_and_hold) == points(pipeline.buy_and_hold)
    assert {leg.asset for leg in fast.legs} == {"BTC", "ETH"}


def test_a_curve_that_ends_holding_marks_its_last_stretch_as_the_pipeline(
    replay_store: SnapshotStore, tmp_path: Path
):
    # The stretch after the last order is made once the bars are done.
    fast, pipeline = both_engines(
        loads(HOURLY_RSI, "bench.yaml"), replay_store, tmp_path, start=utc("2023-03-01"),
        end=utc("2023-03-10"), every=timedelta(hours=1),
    )  # fmt: skip
    assert fast.equity[-1].held and fast.trades[-1].closed is False
    assert points(fast.equity) == points(pipeline.equity)


# --- the closes at the marks ------------------------------------------------------------------


def hourly(closes: Sequence[float], missing: Sequence[int] = ()) -> Bars:
    kept = [k for k in range(len(closes)) if k not in set(missing)]
    close_time = np.array([T0.timestamp() + k * HOUR for k in kept], dtype=np.float64)
    close = np.array([closes[k] for k in kept], dtype=np.float64)
    return Bars("X", HOUR, close_time, close, close)


def by_close_at(bars: Bars, moments: Sequence[datetime]) -> list[str]:
    return [repr(None if (found := bars.close_at(m)) is None else found[0]) for m in moments]


@pytest.mark.parametrize("ordered", [True, False], ids=["in order", "in any order"])
def test_the_closes_at_marks_are_close_at_each_before_and_after_they_are_made(ordered: bool):
    bars = hourly([100.5 + k * 0.37 for k in range(30)] + [42.0, 1e22, 0.1 + 0.2], missing=(4, 9))
    moments = [T0 + timedelta(minutes=37 * k - 120) for k in range(60)]
    if not ordered:
        moments = moments[30:] + moments[:30]
    found = MarkCloses(bars, moments, epoch_seconds(moments))
    expected = by_close_at(bars, moments)
    assert [repr(found.at(i)) for i in range(len(moments))] == expected  # one by one
    assert [repr(close) for close in found.decimals()] == expected  # all at once
    assert [repr(found.at(i)) for i in range(len(moments))] == expected  # from those
    assert len(found) == len(moments)
    # From ``closed_from`` on, every mark has a close; the mark before it has none.
    assert all(found.at(i) is not None for i in range(found.closed_from, len(moments)))
    assert found.closed_from == (4 if ordered else 34)  # the first close at T0: 4 x 37 > 120
    assert found.at(found.closed_from - 1) is None


def test_the_closes_at_marks_of_bars_without_candles_or_of_no_marks_are_none():
    empty, bars = hourly([]), hourly([1.5, 2.5])
    moments = [T0 + timedelta(hours=k) for k in range(3)]
    found = closes_at_marks({"E": empty, "X": bars}, moments)
    assert found["E"].decimals() == [None] * 3 and found["E"].closed_from == 3
    assert [repr(c) for c in found["X"].decimals()] == by_close_at(bars, moments)
    assert MarkCloses(bars, [], epoch_seconds([])).decimals() == []


# --- the points ---------------------------------------------------------------------------------


def test_equity_points_made_together_are_the_constructors_own():
    times = [T0 + timedelta(hours=k) for k in range(5)]
    equities = [Decimal("10000"), Decimal("10012.50"), Decimal("9990.000001"), Decimal("-0"), 1]
    made = equity_points(times, equities, repeat(Decimal("9000")), [True, False] * 3)
    built = [
        EquityPoint(t, e, Decimal("9000"), held=h)  # type: ignore[arg-type]
        for t, e, h in zip(times, equities, [True, False] * 3, strict=False)
    ]
    assert made == built and list(map(hash, made)) == list(map(hash, built))
    assert list(map(repr, made)) == list(map(repr, built))
    assert equity_points([], repeat(Decimal(1)), repeat(Decimal(1)), repeat(False)) == []


# --- buy and hold from the curve's closes -------------------------------------------------------


def test_buy_and_hold_from_the_curves_closes_is_its_own_and_ignores_closes_of_other_marks():
    bars = hourly([100.0 + k * 0.37 for k in range(60)], missing=(5, 6, 30))
    prices = {"X": bars}
    step = timedelta(hours=1)
    times = [T0 + timedelta(minutes=30) + k * step for k in range(-3, 50)]
    ends = [moment + step for moment in times]
    alone = buy_and_hold(prices, times, step, PAPER, ends=ends)
    shared = closes_at_marks(prices, ends)
    assert points(buy_and_hold(prices, times, step, PAPER, ends=ends, closes=shared)) == (
        points(alone)
    )
    other = [moment + timedelta(minutes=1) for moment in ends]  # not the marks asked for
    found = buy_and_hold(
        prices, times, step, PAPER, ends=ends, closes=closes_at_marks(prices, other)
    )
    assert points(found) == points(alone) and len(alone) == len(times) + 1
