"""Candles without volume (an index's, an exchange rate's, a file imported without volume, all
stored with volume 0) give ``volume`` and ``volume_z`` NOT_APPLICABLE, never a volume of 0.

Regression tests: a volume of 0 read from such candles passed ``volume < 1000000`` (and failed
``volume > 0``) as if it were data, and ``volume_z`` was UNKNOWN as INSUFFICIENT_HISTORY
("undefined on the available candles"), which more candles would never cure. The fast
backtest (``ReplayAnswers``) and the vectorised screen (``technical_inputs``) answer as the
adapter does at every bar.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from signalops.adapters.gather import gather
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import TechnicalAdapter
from signalops.backtest.answers import ReplayAnswers
from signalops.codes import Code
from signalops.evaluation.vectorized import inputs_from_adapters, technical_inputs
from signalops.observation import DataError, Observation, Request
from signalops.strategy import loads

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
KEY = "candles/binance/BTC/USDT/1h"
HOUR = 3600
MARCH_1 = datetime(2023, 3, 1, tzinfo=UTC)
VOLUME = Request("technical", "volume", (("timeframe", HOUR),), "BTC")
VOLUME_Z = Request("technical", "volume_z", (("n", 5), ("timeframe", HOUR)), "BTC")
CLOSE = Request("technical", "close", (("timeframe", HOUR),), "BTC")


def candles(without_volume: int) -> list[tuple[str, float, list[float]]]:
    """The fixture's 48 hourly candles, the first ``without_volume`` of them with volume 0."""
    with (FIXTURES / "BTCUSDT_1h_2023-03-01_reordered.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        (KEY, (MARCH_1 + timedelta(hours=i + 1)).timestamp(),
         [float(row[f]) for f in ("open", "high", "low", "close")]
         + [0.0 if i < without_volume else float(row["volume"])])
        for i, row in enumerate(rows)
    ]  # fmt: skip


def store_of(tmp_path: Path, without_volume: int) -> SnapshotStore:
    store = SnapshotStore(tmp_path)
    store.write("technical", candles(without_volume))
    return store


def test_volume_metrics_on_candles_without_volume_are_not_applicable(tmp_path: Path):
    adapters = {"technical": TechnicalAdapter.replay(store_of(tmp_path, 48))}

    answers = gather([VOLUME, VOLUME_Z, CLOSE], adapters, MARCH_1 + timedelta(hours=48))

    for request in (VOLUME, VOLUME_Z):
        assert answers[request] == DataError(
            Code.NOT_APPLICABLE,
            "no volume on any of the 48 1h candles read (an index or exchange rate, or "
            "candles imported without volume)",
            "technical",
        )
    assert isinstance(answers[CLOSE], Observation) and answers[CLOSE].value == 23465.32


def test_a_candle_of_volume_0_among_candles_with_volume_reads_0(tmp_path: Path):
    store = SnapshotStore(tmp_path)
    rows = candles(0)
    rows[-1][2][4] = 0.0  # no trade in the last hour: a real volume of 0
    store.write("technical", rows)

    answers = gather(
        [VOLUME], {"technical": TechnicalAdapter.replay(store)}, MARCH_1 + timedelta(hours=48)
    )

    assert isinstance(answers[VOLUME], Observation) and answers[VOLUME].value == 0.0


@pytest.fixture
def half(tmp_path: Path) -> SnapshotStore:
    """24 candles without volume, then 24 with: the volume metrics apply from the 25th."""
    return store_of(tmp_path, 24)


def moments() -> list[datetime]:
    return [MARCH_1 + timedelta(minutes=30 * k) for k in range(100)]


def test_the_fast_backtest_answers_as_the_adapter_at_every_bar(half: SnapshotStore):
    adapters = {"technical": TechnicalAdapter.replay(half)}
    requests = [VOLUME, VOLUME_Z, CLOSE]

    answers = ReplayAnswers(requests, adapters, moments())

    codes = set()
    for i, moment in enumerate(moments()):
        expected = gather(requests, adapters, moment)
        for request in requests:
            assert answers.answer(request, i) == expected[request], (moment, request)
            codes.add(getattr(expected[request], "reason", None))
    assert {Code.NOT_APPLICABLE, None} <= codes


def test_the_vectorised_screen_answers_as_the_adapter_at_every_bar(half: SnapshotStore):
    strategy = loads(
        "strategy:\n  name: v\n  assets: [BTC]\n  defaults:\n    params:\n      timeframe: 1h\n"
        "  rules:\n    - id: r\n      conditions:\n        - any:\n"
        '            - when: "volume > 0"\n            - when: "volume_z(5) > 0"\n'
    )
    times = np.array([m.timestamp() for m in moments()])
    adapters = {"technical": TechnicalAdapter.replay(half)}

    reference = inputs_from_adapters(strategy, "BTC", times, adapters)
    fast = technical_inputs(half, strategy, "BTC", times)

    for ref, got in zip(reference, fast, strict=True):
        np.testing.assert_array_equal(got.errors, ref.errors)
        np.testing.assert_array_equal(got.values, ref.values)
    volume = reference[0]
    assert (volume.errors != 0).any() and (volume.errors == 0).any()
