"""The peers of bench/bench_backtest.py trade the same RSI strategy as the numpy reference.

On a 3,000-bar slice of the bundled hourly BTC candles, every installed peer (the ``bench``
extra: backtrader, backtesting.py, vectorbt) buys and sells on the same bars as the reference;
a peer that does not import is skipped with its reason. No timings here: bench/_peers.py measures.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench import _peers

SLICE = 3_000


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return _peers.load_btc_1h()


@pytest.fixture(scope="module")
def recent(candles: pd.DataFrame) -> pd.DataFrame:
    return candles.iloc[-SLICE:]


@pytest.fixture(scope="module")
def reference(recent: pd.DataFrame) -> _peers.PeerResult:
    return _peers.run_reference(recent)


def _peer(engine: str, frame: pd.DataFrame) -> _peers.PeerResult:
    peer = _peers.available()[engine]
    if not peer.ok:
        pytest.skip(f"{engine}: {peer.reason}")
    _, run = _peers.PEERS[engine]
    return run(frame)


def test_bundled_hourly_candles_load_as_the_bars_signalops_replays_indexed_by_open_time(
    candles: pd.DataFrame,
):
    assert len(candles) == 43_780
    assert str(candles.index.tz) == "UTC" and candles.index.is_monotonic_increasing
    assert candles.index[0] == pd.Timestamp("2020-10-07 18:00", tz="UTC")
    assert candles.index[-1] == pd.Timestamp("2025-10-06 17:00", tz="UTC")
    first = candles.iloc[0]  # the file's first row: 10639.01,10667.43,10631.44,10664.11,1483.03011
    assert (first.Open, first.High, first.Low, first.Close) == (
        10639.01,
        10667.43,
        10631.44,
        10664.11,
    )
    assert "CasArt1/Proyecto_2" in candles.attrs["provenance"]


def test_reference_enters_on_the_open_after_a_close_below_30_and_exits_after_one_above_55(
    recent: pd.DataFrame, reference: _peers.PeerResult
):
    import talib

    rsi = pd.Series(talib.RSI(recent["Close"].to_numpy(), 14), index=recent.index)
    assert len(reference.entries) >= 5 and len(reference.exits) >= len(reference.entries) - 1
    for entry in reference.entries:
        signal = recent.index.get_loc(entry) - 1
        assert signal >= _peers.WARM_UP and rsi.iloc[signal] < 30
    for exit_ in reference.exits:
        assert rsi.iloc[recent.index.get_loc(exit_) - 1] > 55


@pytest.mark.parametrize("engine", list(_peers.PEERS))
def test_every_installed_peer_takes_the_references_entries_and_exits(
    engine: str, recent: pd.DataFrame, reference: _peers.PeerResult
):
    result = _peer(engine, recent)

    assert _peers.same_entries([reference, result]), _peers.entry_mismatches([reference, result])
    assert result.exits == reference.exits
    assert result.engine == engine and result.version == _peers.available()[engine].version


def test_vectorbt_and_backtestingpy_end_with_the_references_money(
    recent: pd.DataFrame, reference: _peers.PeerResult
):
    # Both buy all-in at the same price: vectorbt to float rounding, backtesting.py to a satoshi.
    vectorbt = _peer("vectorbt", recent)
    assert math.isclose(vectorbt.total_return, reference.total_return, rel_tol=1e-12)
    backtesting = _peer("backtesting.py", recent)
    assert math.isclose(backtesting.total_return, reference.total_return, rel_tol=1e-6)


def test_a_shifted_entry_is_reported_with_the_bars_that_differ(reference: _peers.PeerResult):
    late = _peers.PeerResult(
        "late",
        "0",
        (*reference.entries[:-1], reference.entries[-1] + pd.Timedelta(hours=1)),
        reference.exits,
        1.0,
        0.0,
        SLICE,
    )

    assert not _peers.same_entries([reference, late])
    (problem,) = _peers.entry_mismatches([reference, late])
    assert str(reference.entries[-1] + pd.Timedelta(hours=1)) in problem
