"""Issue 13: the fast ways of reading replay snapshots give exactly what the stdlib reading gave.

Snapshot files are parsed with orjson (the standard library for any line orjson refuses or might
misread) and a file of 256 KiB or more gets a binary sidecar keyed by the SHA-256 of its bytes.
The oracle here is the loader of before, written out below: ``json.loads`` per line, later lines
winning a time, series sorted. Values are compared with their types (``1 == 1.0 == True`` is not
enough), on the bundled real data and on lines made to hit every difference between the parsers.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import STRATEGIES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.adapters import gather as engine
from signalops.adapters import registry, snapshots
from signalops.adapters.snapshots import Series, SnapshotStore
from signalops.errors import AdapterError
from signalops.strategy import load

BTC_HOURLY = "candles/binance/BTC/USDT/1h"


# --- the oracle ----------------------------------------------------------------------------------


def stdlib_read(path: Path) -> dict[str, tuple[list[float], list[Any]]]:
    """The snapshot loader before issue 13 (whole files: no torn final line)."""
    points: dict[str, dict[float, Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                points.setdefault(record["series"], {})[float(record["t"])] = record["v"]
    return {key: (sorted(p), [p[t] for t in sorted(p)]) for key, p in points.items()}


class StdlibStore(SnapshotStore):
    """A store reading through the oracle, for comparing whole evaluations."""

    def _load(self, source: str) -> dict[str, Series]:
        if source not in self._loaded:
            path = self.path(source)
            read = stdlib_read(path) if path.exists() else {}
            self._loaded[source] = {k: Series(k, t, v) for k, (t, v) in read.items()}
        return self._loaded[source]


def same(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down; NaN equals NaN, -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (a == b and math.copysign(1, a) == math.copysign(1, b)) or (a != a and b != b)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def assert_reads_as_oracle(loaded: dict[str, Series], path: Path) -> None:
    expected = stdlib_read(path)
    assert sorted(loaded) == sorted(expected)
    for key, (times, values) in expected.items():
        series = loaded[key]
        assert len(series) == len(times), key
        assert same(series.times, times), key
        assert same(series.values, values), key
        assert np.array_equal(series.time_array, np.asarray(times, dtype=float)), key
        if all(type(v) is list and len(v) == 5 for v in values):  # candles: the five columns
            for i in range(5):
                column = np.asarray([v[i] for v in values], dtype=float)
                assert np.array_equal(series.column(i), column, equal_nan=True), (key, i)
                assert series.column(i).flags.c_contiguous, (key, i)  # TA-Lib needs it


def fresh_store(folder: Path) -> SnapshotStore:
    """A store as a new process opens it (the in-process cache of parsed files emptied)."""
    snapshots._PARSED.clear()
    return SnapshotStore(folder)


def loaded_by_store(folder: Path, source: str) -> dict[str, Series]:
    store = fresh_store(folder)
    return {key: store.series(source, key) for key in store.keys(source)}


def sidecar_stamp(path: Path) -> tuple[int, int]:
    info = snapshots.sidecar_path(path).stat()
    return info.st_ino, info.st_mtime_ns


@pytest.fixture
def technical(tmp_path: Path, replay_dir: Path) -> Path:
    """A copy of the bundled technical.jsonl (7 MB: 5 years of hourly BTC and daily candles)."""
    path = tmp_path / "technical.jsonl"
    shutil.copyfile(replay_dir / "technical.jsonl", path)
    return path


# --- the bundled real data -----------------------------------------------------------------------


@pytest.mark.parametrize("source", ["technical", "onchain", "polymarket", "fundamental", "news"])
def test_every_bundled_series_reads_as_the_stdlib_read_it_on_first_read_and_from_the_sidecar(
    tmp_path: Path, replay_dir: Path, source: str
):
    path = tmp_path / f"{source}.jsonl"
    shutil.copyfile(replay_dir / path.name, path)

    first = loaded_by_store(tmp_path, source)
    assert_reads_as_oracle(first, path)
    again = loaded_by_store(tmp_path, source)
    assert_reads_as_oracle(again, path)

    has_sidecar = path.stat().st_size >= snapshots.SIDECAR_MIN_BYTES
    assert snapshots.sidecar_path(path).exists() == has_sidecar


def test_every_bundled_strategy_evaluates_the_same_from_the_sidecars_as_from_the_stdlib_reading(
    tmp_path: Path, replay_dir: Path
):
    folder = tmp_path / "replay"
    shutil.copytree(replay_dir, folder)
    for source in fresh_store(folder).sources():
        fresh_store(folder).keys(source)  # the first read writes the sidecars
    fast = registry.replay_adapters(fresh_store(folder))
    oracle = registry.replay_adapters(StdlibStore(folder))
    moments = ["2023-03-11", "2023-03-13", "2024-11-08", "2025-06-02"]
    compared = 0
    for file in sorted(STRATEGIES.glob("*.yaml")):
        strategy = load(file)
        for asset in strategy.assets:
            for day in moments:
                at = datetime.fromisoformat(day).replace(tzinfo=UTC)
                mine = engine.evaluate(strategy, asset, at, fast)
                theirs = engine.evaluate(strategy, asset, at, oracle)
                assert json.dumps(mine.to_dict(), default=str) == json.dumps(
                    theirs.to_dict(), default=str
                ), (file.name, asset, day)
                compared += 1
    assert compared >= 40
    assert snapshots.sidecar_path(folder / "technical.jsonl").exists()


def test_a_series_from_the_sidecar_answers_cut_offs_like_a_parsed_one(technical: Path):
    fresh_store(technical.parent).keys("technical")
    series = fresh_store(technical.parent).series("technical", BTC_HOURLY)
    parsed = snapshots.parse("technical", technical, technical.read_bytes())[BTC_HOURLY]
    assert series is not None
    for t in (parsed.times[0] - 1, parsed.times[100], parsed.times[100] + 0.5, 2e9):
        assert series.end(t) == parsed.end(t)
        assert series.last_at_or_before(t) == parsed.last_at_or_before(t)
    assert series == parsed and len(series) == len(parsed) == 43_780


# --- the sidecar: stale, damaged, concurrent ---------------------------------------------------


def test_a_second_read_uses_the_sidecar_and_leaves_it_in_place(technical: Path):
    fresh_store(technical.parent).keys("technical")
    before = sidecar_stamp(technical)

    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)

    assert sidecar_stamp(technical) == before
    assert [p.name for p in technical.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_sidecar_of_other_bytes_is_ignored_even_with_the_same_size_and_mtime(technical: Path):
    fresh_store(technical.parent).keys("technical")
    info = technical.stat()
    text = technical.read_text()
    changed = text.replace('"t": 1', '"t": 2', 1)  # one digit of one time, same size
    assert len(changed) == len(text) and changed != text
    technical.write_text(changed)
    os.utime(technical, ns=(info.st_atime_ns, info.st_mtime_ns))

    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)


def test_a_sidecar_copied_next_to_another_file_is_ignored(technical: Path, tmp_path: Path):
    fresh_store(technical.parent).keys("technical")
    other = tmp_path / "other"
    other.mkdir()
    lines = technical.read_text().splitlines(keepends=True)
    (other / "technical.jsonl").write_text("".join(lines[:-1000]))
    shutil.copyfile(snapshots.sidecar_path(technical), snapshots.sidecar_path(other / "x.jsonl"))
    snapshots.sidecar_path(other / "x.jsonl").rename(
        snapshots.sidecar_path(other / "technical.jsonl")
    )

    assert_reads_as_oracle(loaded_by_store(other, "technical"), other / "technical.jsonl")


def test_appended_points_are_read_although_a_sidecar_of_the_earlier_file_exists(technical: Path):
    store = fresh_store(technical.parent)
    hourly = store.series("technical", BTC_HOURLY)
    assert hourly is not None
    last = hourly.times[-1]
    store.append("technical", [(BTC_HOURLY, last + 3600, [1.0, 2.0, 0.5, 1.5, 10.0])])

    loaded = loaded_by_store(technical.parent, "technical")

    assert loaded[BTC_HOURLY].times[-1] == last + 3600
    assert loaded[BTC_HOURLY].values[-1] == [1.0, 2.0, 0.5, 1.5, 10.0]
    assert_reads_as_oracle(loaded, technical)


def damaged(content: bytes) -> dict[str, bytes]:
    middle = len(content) // 2
    flipped = bytes([content[middle] ^ 0x01])
    return {
        "empty": b"",
        "truncated": content[: len(content) - 100],
        "a flipped byte in the arrays": content[:middle] + flipped + content[middle + 1 :],
        "a flipped byte in the source hash": content[:20] + bytes([content[20] ^ 1]) + content[21:],
        "garbage": os.urandom(4096),
        "another format version": content[:7] + b"\x09" + content[8:],
    }


@pytest.mark.parametrize("damage", list(damaged(b"x" * 200)))
def test_a_damaged_sidecar_is_ignored_and_replaced_by_a_good_one(technical: Path, damage: str):
    fresh_store(technical.parent).keys("technical")
    sidecar = snapshots.sidecar_path(technical)
    good = sidecar.read_bytes()
    sidecar.write_bytes(damaged(good)[damage])

    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)

    assert sidecar.read_bytes() == good


def test_a_sidecar_that_cannot_be_written_leaves_reading_as_it_was(technical: Path):
    snapshots.sidecar_path(technical).mkdir()  # its name taken: the rename into place fails

    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)
    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)

    assert sorted(p.name for p in technical.parent.iterdir()) == [
        ".technical.jsonl.cache",
        "technical.jsonl",
    ]


READER = """
import hashlib, json, sys
from pathlib import Path
from signalops.adapters.snapshots import read_file
loaded = read_file("technical", Path(sys.argv[1]))
text = json.dumps([[k, s.times, s.values] for k, s in sorted(loaded.items())])
print(hashlib.sha256(text.encode()).hexdigest())
"""


def test_processes_reading_a_file_at_once_all_read_it_whole_and_leave_one_good_sidecar(
    technical: Path,
):
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(technical)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    digests = {reader.communicate(timeout=120)[0].strip() for reader in readers}
    assert all(reader.returncode == 0 for reader in readers)

    expected = stdlib_read(technical)
    text = json.dumps([[k, t, v] for k, (t, v) in sorted(expected.items())])
    assert digests == {hashlib.sha256(text.encode()).hexdigest()}
    before = sidecar_stamp(technical)
    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)
    assert sidecar_stamp(technical) == before  # the one left in place is good: kept
    assert sorted(p.name for p in technical.parent.iterdir()) == [
        ".technical.jsonl.cache",
        "technical.jsonl",
    ]


# --- where orjson and the standard library differ ----------------------------------------------

# Each value as the line's JSON text: what orjson refuses (NaN, an overflowing float, a lone
# surrogate), misreads (integers past 64 bits), or reads differently typed than a float column.
EDGE_VALUES = {
    "edge/nan": "NaN",
    "edge/overflow": "1e400",
    "edge/big-integer": str(2**70),
    "edge/below-int64": str(-(2**63) - 1),
    "edge/nineteen-digits": "1234567890123456789",
    "edge/lone-surrogate": '"\\ud800 alone"',
    "edge/negative-zero": "-0.0",
    "edge/integer": "5",
    "edge/bool": "true",
    "edge/mixed-row": "[1.0, 2, 3.5, 4.0, 5.0]",
    "edge/nested": '{"a": [1, 2.5, null, "x", {"b": 1e-7}], "c": "\\u00e9t\\u00e9"}',
    "edge/digit-string": '"12345678901234567890123"',
    "edge/raw-utf8": '"été 😀"',
}


def edge_lines() -> str:
    lines = []
    for i, (key, text) in enumerate(EDGE_VALUES.items()):
        for t in (1_700_000_000 + i, 1_600_000_000 + i, 1_700_000_000 + i):  # unsorted, a repeat
            lines.append(f'{{"series": "{key}", "t": {t}, "v": {text}}}\n')
    return "".join(lines)


@pytest.mark.parametrize("big", [False, True], ids=["small file, orjson", "big file, sidecar"])
def test_values_orjson_refuses_or_misreads_read_as_the_stdlib_read_them(
    tmp_path: Path, replay_dir: Path, big: bool
):
    path = tmp_path / "technical.jsonl"
    base = (replay_dir / "technical.jsonl").read_text() if big else ""
    path.write_text(base + edge_lines() + "\n\n", encoding="utf-8")
    assert (path.stat().st_size >= snapshots.SIDECAR_MIN_BYTES) == big

    for _ in range(2):  # the first read, then the one from the sidecar (if big)
        loaded = loaded_by_store(tmp_path, "technical")
        assert_reads_as_oracle(loaded, path)
    assert type(loaded["edge/big-integer"].values[0]) is int
    assert loaded["edge/lone-surrogate"].values[0] == "\ud800 alone"
    assert snapshots.sidecar_path(path).exists() == big


def test_windows_line_ends_read_as_the_text_reader_read_them(tmp_path: Path):
    path = tmp_path / "technical.jsonl"
    path.write_bytes(edge_lines().replace("\n", "\r\n").encode())

    assert_reads_as_oracle(loaded_by_store(tmp_path, "technical"), path)


def test_a_torn_final_line_of_a_big_file_is_ignored_and_the_next_append_is_read(
    technical: Path,
):
    whole = technical.read_bytes()
    technical.write_bytes(whole + b'{"series": "' + BTC_HOURLY.encode() + b'", "t": 2000000')
    torn = loaded_by_store(technical.parent, "technical")
    expected = stdlib_read_bytes(whole, technical)
    assert same(torn[BTC_HOURLY].values, expected[BTC_HOURLY][1])

    SnapshotStore(technical.parent).append("technical", [(BTC_HOURLY, 2e9, [1.0] * 5)])

    assert_reads_as_oracle(loaded_by_store(technical.parent, "technical"), technical)


def stdlib_read_bytes(data: bytes, near: Path) -> dict[str, tuple[list[float], list[Any]]]:
    with tempfile.NamedTemporaryFile("wb", dir=near.parent, suffix=".txt", delete=False) as f:
        f.write(data)
    try:
        return stdlib_read(Path(f.name))
    finally:
        os.unlink(f.name)


def test_a_bad_line_in_a_big_file_is_still_a_bad_snapshot_naming_its_line(technical: Path):
    lines = technical.read_text().splitlines(keepends=True)
    lines[500] = lines[500].replace('"v": [', '"v": [,')
    technical.write_text("".join(lines))

    with pytest.raises(AdapterError) as bad:
        fresh_store(technical.parent).keys("technical")

    assert "technical.jsonl:501: not a snapshot line (Expecting value" in bad.value.message
    assert not snapshots.sidecar_path(technical).exists()


# --- any JSON value -------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
RECORDS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b/c", "é"]),
        st.integers(-(2**40), 2**40) | st.floats(allow_nan=False, allow_infinity=False),
        JSON_VALUES | st.lists(st.floats(), min_size=3, max_size=3),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS)
def test_any_json_lines_read_as_the_stdlib_reads_them_parsed_and_through_a_sidecar(records):
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshots, "SIDECAR_MIN_BYTES", 0)  # every file gets a sidecar
        path = Path(tmp) / "technical.jsonl"
        lines = [
            json.dumps({"series": k, "t": t, "v": v}, ensure_ascii=ascii) + "\n"
            for k, t, v, ascii in records
        ]
        path.write_text("".join(lines), encoding="utf-8")
        for _ in range(2):
            assert_reads_as_oracle(loaded_by_store(Path(tmp), "technical"), path)
        assert snapshots.sidecar_path(path).exists()
