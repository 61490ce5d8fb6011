"""``data import FILE`` reads files without a header row: Binance Vision's kline files as they
are, any other one with its columns named by position (``--columns time=1,open=2,...``).

Regression tests: a Binance Vision file (``open_time,open,...,close_time,...`` with no header
row, times in ms) was refused with its first row shown as "the header", and the hint to name
the columns with ``--columns`` could not work: a column could be named by its header only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import invoke

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
REORDERED_HOURLY = FIXTURES / "BTCUSDT_1h_2023-03-01_reordered.csv"
BTC_1H = "candles/binance/BTC/USDT/1h"
BTC_1D = "candles/binance/BTC/USDT/1d"
MARCH_1_MS = 1677628800000
HOUR_MS = 3600000


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def kline_rows(unit: int = 1) -> list[list[str]]:
    """The fixture's 48 hours in Binance's kline layout: open time, open, high, low, close,
    volume, close time (``unit``: 1 for ms, 1000 for µs), then quote volume, trades, taker buy
    base and quote volumes and the ignored field, written as 0 here (no column read)."""
    with REORDERED_HOURLY.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        [
            str((MARCH_1_MS + i * HOUR_MS) * unit),
            row["open"],
            row["high"],
            row["low"],
            row["close"],
            row["volume"],
            str((MARCH_1_MS + (i + 1) * HOUR_MS) * unit - 1),
            *["0"] * 5,
        ]
        for i, row in enumerate(rows)
    ]


def write(path: Path, rows: list[list[str]]) -> Path:
    path.write_text("".join(",".join(row) + "\n" for row in rows))
    return path


def btc(file: Path, out: Path, *args: str):
    return invoke("data", "import", str(file), "--source", "technical", "--asset", "BTC",
                  "--to", str(out), *args)  # fmt: skip


def reference(tmp_path: Path) -> bytes:
    assert btc(REORDERED_HOURLY, tmp_path / "ref").exit_code == 0
    return (tmp_path / "ref" / "technical.jsonl").read_bytes()


@pytest.mark.parametrize("unit", [1, 1000], ids=["ms", "µs"])
def test_a_binance_vision_kline_file_imports_as_the_same_candles_with_a_header(
    tmp_path: Path, unit: int
):
    klines = write(tmp_path / "BTCUSDT-1h-2023-03.csv", kline_rows(unit))

    result = btc(klines, tmp_path / "out")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"technical          48 points in {BTC_1H}  {tmp_path}/out/technical.jsonl\n"
    )
    assert (tmp_path / "out" / "technical.jsonl").read_bytes() == reference(tmp_path)


def test_columns_name_the_columns_of_a_headerless_file_by_position(tmp_path: Path):
    six = write(tmp_path / "six.csv", [row[:6] for row in kline_rows()])

    result = btc(six, tmp_path / "out", "--columns", "time=1,open=2,high=3,low=4,close=5,volume=6")

    assert (result.exit_code, result.stderr) == (0, "")
    assert (tmp_path / "out" / "technical.jsonl").read_bytes() == reference(tmp_path)


def test_positions_also_name_the_columns_of_a_file_with_a_header(tmp_path: Path):
    mapping = "time=6,open=5,high=4,low=3,close=2,volume=1"  # volume,close,low,high,open,open_time

    result = btc(REORDERED_HOURLY, tmp_path / "out", "--columns", mapping)

    assert (result.exit_code, result.stderr) == (0, "")
    assert (tmp_path / "out" / "technical.jsonl").read_bytes() == reference(tmp_path)


def test_a_headerless_file_in_another_layout_says_to_name_the_columns_by_position(
    tmp_path: Path,
):
    six = write(tmp_path / "six.csv", [row[:6] for row in kline_rows()])

    result = btc(six, tmp_path / "out")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {six}: no header row: name the columns by position, e.g. "
        "--columns time=1,open=2,high=3,low=4,close=5,volume=6 (volume=none: a file without "
        "volume)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("columns", "said"),
    [
        ("time=open_time", "--columns time=open_time: no header row names it: name the columns "
         "by position, e.g. --columns time=1,open=2,high=3,low=4,close=5,volume=6"),
        ("time=1,open=2", "no header row: high, low, close, volume not named: name the columns "
         "by position, e.g. --columns time=1,open=2,high=3,low=4,close=5,volume=6 "
         "(volume=none: a file without volume)"),
        ("time=7", "--columns time=7: the file has 6 columns"),
        ("time=0", "--columns time=0: columns are counted from 1"),
    ],
)  # fmt: skip
def test_columns_a_headerless_file_cannot_have_are_refused(tmp_path: Path, columns: str, said: str):
    six = write(tmp_path / "six.csv", [row[:6] for row in kline_rows()])

    result = btc(six, tmp_path / "out", "--columns", columns)

    assert (result.exit_code, result.stderr) == (1, f"error: {six}: {said}\n")


def test_a_bad_value_in_a_headerless_file_is_named_by_its_field(tmp_path: Path):
    rows = kline_rows()
    rows[2][5] = "-5"
    klines = write(tmp_path / "BTCUSDT-1h-2023-03.csv", rows)

    result = btc(klines, tmp_path / "out")

    assert result.exit_code == 1
    assert result.stderr == f"error: {klines}:3:50: volume: -5 is negative\n"


def test_help_says_columns_may_be_named_by_position():
    result = invoke("data", "import", "--help")
    assert "its position from 1" in " ".join(result.stdout.split())
    assert "Binance Vision klines (no header row" in " ".join(result.stdout.split())


# A headerless export with US dates (the reviewer's us.csv): its first row is data.
US_DATES = (
    "03/01/2023,100,101,99,100.5,1000\n"
    "03/02/2023,100.5,102,100,101,1100\n"
    "03/03/2023,101,103,100,102,900\n"
)
POSITIONS = "time=1,open=2,high=3,low=4,close=5,volume=6"


@pytest.mark.parametrize(
    ("text", "date_format"),
    [(US_DATES, "%m/%d/%Y"), (US_DATES.replace("03/0", "Mar "), "%b %d/%Y")],
    ids=["digits", "words"],
)
def test_a_first_row_with_written_dates_is_data_not_a_header(
    tmp_path: Path, text: str, date_format: str
):
    """Regression: only ISO dates made a first row data; ``03/01/2023,100,...`` became the
    header, and with positional --columns the file imported without its first candle."""
    file = tmp_path / "us.csv"
    file.write_text(text)

    result = btc(file, tmp_path / "out", "--columns", POSITIONS, "--date-format", date_format)

    assert result.exit_code == 0, result.stderr
    assert (
        result.stdout
        == f"technical           3 points in {BTC_1D}  {tmp_path}/out/technical.jsonl\n"
    )


def test_a_header_of_numbers_with_every_column_named_by_position_is_refused(tmp_path: Path):
    """A date no rule knows as one (``Mar 1/2023`` without --date-format): the first row is
    read as a header, but its prices are numbers, so it is a row that would be lost."""
    file = tmp_path / "words.csv"
    file.write_text(US_DATES.replace("03/0", "Mar "))

    result = btc(file, tmp_path / "out", "--columns", POSITIONS)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {file}: the first row (Mar 1/2023, 100, 101, 99, 100.5, 1000) would be read "
        "as a header, but its open, high, low, close are numbers: it is a row of data; name "
        "the format of its dates with --date-format, or add a header row\n"
    )
