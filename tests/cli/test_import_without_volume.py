"""``data import FILE`` reads candles without volume: an index's (^GSPC, ^VIX) or an exchange
rate's export has no volume column, and such a file imports with volume 0, said in a note.

Regression tests: a file of ``time,open,high,low,close`` (a TradingView export of an index)
was refused for its missing volume column, and ``--columns volume=`` was refused too, so an
index could not be imported at all. The volume metrics on such candles are NOT_APPLICABLE
(tests/adapters/test_technical_without_volume.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.snapshots import SnapshotStore

KO_1D = "candles/yfinance/KO/1d"
# The first rows of the reviewer's TradingView export of KO with its volume column left out
# (Unix time of the 09:30 New York open), as an index's export is written.
NO_VOLUME = (
    "time,open,high,low,close\n"
    "1641220200,58.82,59.310001,58.380001,59.299999\n"
    "1641306600,59.73,60.540001,59.59,60.290001\n"
    "1641393000,60.09,61.200001,60.049999,60.790001\n"
)
NOTE = (
    f"note: {KO_1D}: no candle has a volume (stored as 0): volume and volume_z read "
    "NOT_APPLICABLE on these candles\n"
)


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ko(name: str, text: str, *args: str):
    Path(name).write_text(text, encoding="utf-8")
    return invoke("data", "import", name, "--source", "technical", "--asset", "KO",
                  "--venue", "yfinance", "--to", "out", *args)  # fmt: skip


def with_column(name: str, cells: list[str]) -> str:
    """``NO_VOLUME`` with a column ``name`` of ``cells`` added after close."""
    header, *rows = NO_VOLUME.splitlines()
    lines = [f"{header},{name}", *(f"{row},{cell}" for row, cell in zip(rows, cells, strict=True))]
    return "\n".join(lines) + "\n"


def stored(out: str = "out") -> list[list[float]]:
    series = SnapshotStore(Path(out)).series("technical", KO_1D)
    assert series is not None
    return [list(v) for v in series.values]


def test_a_file_without_a_volume_column_imports_with_volume_0_and_says_so(in_tmp: Path):
    result = ko("index.csv", NO_VOLUME)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"technical           3 points in {KO_1D}  out/technical.jsonl\n"
    assert result.stderr == NOTE
    assert stored()[0] == [58.82, 59.310001, 58.380001, 59.299999, 0.0]
    # The same store as the rows with a volume column of zeros, as Yahoo writes an index's.
    zeros = with_column("volume", ["0", "0", "0"])
    assert ko("zeros.csv", zeros, "--to", "ref").exit_code == 0
    assert Path("out/technical.jsonl").read_bytes() == Path("ref/technical.jsonl").read_bytes()


def test_columns_volume_none_leaves_a_files_volume_column_unread(in_tmp: Path):
    with_volume = with_column("Volume USD", ["1000", "1000", "1000"])

    result = ko("quoted_volume.csv", with_volume, "--columns", "volume=none")

    assert (result.exit_code, result.stderr) == (0, NOTE)
    assert [candle[4] for candle in stored()] == [0.0, 0.0, 0.0]


def test_a_column_that_speaks_of_volume_but_is_not_read_as_it_is_refused(in_tmp: Path):
    """``Vol.`` may be the volume under a name no layout uses: it is not taken for none."""
    odd = with_column("Vol.", ["5", "5", "5"])

    result = ko("odd.csv", odd)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: odd.csv: 0 points read: no column matched volume (the header is: time, open, "
        "high, low, close, Vol.); name them with --columns volume=COLUMN\n"
    )


def test_an_empty_volume_column_name_says_how_to_import_without_volume(in_tmp: Path):
    result = ko("index.csv", NO_VOLUME, "--columns", "volume=")

    assert result.exit_code == 1
    assert result.stderr == (
        "error: --columns: 'volume=' names no column (volume=none: candles without volume)\n"
    )


def test_a_headerless_file_without_volume_names_it_none(in_tmp: Path):
    rows = "".join(NO_VOLUME.splitlines(keepends=True)[1:])
    mapping = "time=1,open=2,high=3,low=4,close=5,volume=none"

    result = ko("headerless.csv", rows, "--columns", mapping)

    assert (result.exit_code, result.stderr) == (0, NOTE)
    assert ko("index.csv", NO_VOLUME, "--to", "ref").exit_code == 0
    assert Path("out/technical.jsonl").read_bytes() == Path("ref/technical.jsonl").read_bytes()


def test_candles_with_volume_give_no_note(in_tmp: Path):
    with_volume = with_column("volume", ["0", "0", "7"])  # one candle has a volume

    result = ko("some.csv", with_volume)

    assert (result.exit_code, result.stderr) == (0, "")
    assert json.loads(Path("out/technical.jsonl").read_text().splitlines()[-1])["v"][4] == 7


def test_help_says_how_a_file_without_volume_is_read():
    text = " ".join(invoke("data", "import", "--help").stdout.split())
    assert "volume=none: candles without volume" in text
    assert "volume and volume_z are NOT_APPLICABLE on candles without any" in text


# Three later sessions of KO, with a volume column (2022-01-06..10).
LATER = (
    "time,open,high,low,close,volume\n"
    "2022-01-06,60.5,61,60.2,60.8,1000\n"
    "2022-01-07,60.8,61.2,60.5,61,1100\n"
    "2022-01-10,61,61.5,60.9,61.2,900\n"
)


def test_a_file_without_volume_into_a_series_stored_with_volume_is_refused(in_tmp: Path):
    """The window of ``volume(1d) < 1000`` would mix the file's 0s with stored volumes and
    read them as volumes: the condition would pass on candles that have no volume."""
    assert ko("later.csv", LATER).exit_code == 0
    before = Path("out/technical.jsonl").read_bytes()

    result = ko("index.csv", NO_VOLUME)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: index.csv: {KO_1D} is stored with volume and this file has none (volume and "
        "volume_z would read the 0s of a window mixing them as volumes): import it into "
        "another folder (--to) or as another asset, or with its volume\n"
    )
    assert Path("out/technical.jsonl").read_bytes() == before


def test_a_file_with_volume_into_a_series_stored_without_any_is_refused(in_tmp: Path):
    assert ko("index.csv", NO_VOLUME).exit_code == 0

    result = ko("later.csv", LATER)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: later.csv: {KO_1D} is stored without volume (all 0) and this file has volume "
        "(volume and volume_z would read the 0s of a window mixing them as volumes): import it "
        "into another folder (--to), or with --columns volume=none\n"
    )
    again = ko("later.csv", LATER, "--columns", "volume=none")
    assert (again.exit_code, again.stderr) == (0, NOTE)


def test_replacing_every_stored_candle_mixes_nothing(in_tmp: Path):
    assert ko("index.csv", NO_VOLUME).exit_code == 0
    with_volume = with_column("volume", ["5", "5", "5"])

    result = ko("volume.csv", with_volume, "--replace")

    assert result.exit_code == 0, result.stderr
    assert [candle[4] for candle in stored()] == [5.0, 5.0, 5.0]
