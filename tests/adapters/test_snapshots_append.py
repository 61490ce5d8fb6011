"""Appending to the snapshot store when a write can be cut short (a download stopped mid-way).

An append is whole lines in one write; a final line without its newline that does not read is a
torn append: reading ignores it and the next append cuts it off. Anywhere else a bad line is
still BAD_SNAPSHOT.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from signalops.adapters.snapshots import SnapshotStore
from signalops.codes import Code
from signalops.errors import AdapterError

KEY = "candles/binance/BTC/USDT/1h"
# Real Binance BTC/USDT hours of 2023-03-20 (examples/data/ohlcv/BTCUSDT_1h_binance_2023-03.csv).
FIRST = (1679274000, [27972.87, 28057.44, 27779.65, 27825.47, 16809.29216])
SECOND = (1679277600, [27824.83, 27878.89, 27566.0, 27675.84, 17060.126])


def stored(folder: Path) -> list[tuple[float, list[float]]]:
    series = SnapshotStore(folder).series("technical", KEY)
    assert series is not None
    return list(zip(series.times, series.values, strict=True))


def torn(folder: Path) -> Path:
    """A file whose second line was cut short by an interrupted append."""
    SnapshotStore(folder).append("technical", [(KEY, *FIRST), (KEY, *SECOND)])
    path = folder / "technical.jsonl"
    path.write_bytes(path.read_bytes()[:-25])
    return path


def test_a_torn_final_line_is_ignored_when_reading(tmp_path: Path):
    torn(tmp_path)

    assert stored(tmp_path) == [FIRST]


def test_the_next_append_cuts_the_torn_line_off_and_lands_whole(tmp_path: Path):
    path = torn(tmp_path)

    SnapshotStore(tmp_path, durable=True).append("technical", [(KEY, *SECOND)])

    assert stored(tmp_path) == [FIRST, SECOND]
    assert path.read_text().count("\n") == 2 and path.read_text().endswith("\n")


def test_a_whole_final_line_written_without_newline_is_kept_and_the_append_follows_it(
    tmp_path: Path,
):
    SnapshotStore(tmp_path).append("technical", [(KEY, *FIRST)])
    path = tmp_path / "technical.jsonl"
    path.write_text(path.read_text().rstrip("\n"))

    SnapshotStore(tmp_path).append("technical", [(KEY, *SECOND)])

    assert stored(tmp_path) == [FIRST, SECOND]


def test_a_bad_line_before_the_last_is_still_a_bad_snapshot(tmp_path: Path):
    path = torn(tmp_path)
    path.write_text(path.read_text() + "\n" + path.read_text().splitlines()[0] + "\n")

    with pytest.raises(AdapterError) as bad:
        SnapshotStore(tmp_path).series("technical", KEY)

    assert bad.value.reason == Code.BAD_SNAPSHOT
    assert "technical.jsonl:2: not a snapshot line" in bad.value.message


def test_an_append_that_fails_on_one_point_writes_none_of_them(tmp_path: Path):
    SnapshotStore(tmp_path).append("technical", [(KEY, *FIRST)])
    before = (tmp_path / "technical.jsonl").read_bytes()

    with pytest.raises(ValueError):
        SnapshotStore(tmp_path).append("technical", [(KEY, *SECOND), (KEY, math.nan, [1.0])])

    assert (tmp_path / "technical.jsonl").read_bytes() == before
