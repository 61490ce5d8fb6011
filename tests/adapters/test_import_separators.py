"""``data import FILE`` reads files separated by ``;`` or tabs, and decimal commas where they
cannot be anything else.

Regression tests: a spreadsheet saved in a European locale (``Date;Open;...`` then
``2015-01-02;92,25;...``) was read with ``,`` as the separator; its one-field header line was
then taken for a CryptoDataDownload banner and the first data row presented as "the header",
with or without ``--columns``; a ``.tsv`` file was refused as an unknown format.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.snapshots import SnapshotStore

AAPL_1D = "candles/yfinance/AAPL/1d"
# The first three rows of tests/fixtures/imports/yahoo_AAPL_2023-03.csv (Adj Close left out).
ROWS = [
    ("2023-03-01", "146.83", "147.23", "145.01", "145.31", "55479000"),
    ("2023-03-02", "144.38", "146.71", "143.9", "145.91", "52238100"),
    ("2023-03-03", "148.04", "151.11", "147.33", "151.03", "70732300"),
]
HEADER = ("Date", "Open", "High", "Low", "Close", "Volume")


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def write(path: Path, separator: str, rows: list[tuple[str, ...]], comma: bool = False) -> Path:
    def shown(cell: str) -> str:
        return cell.replace(".", ",") if comma else cell

    lines = [separator.join(HEADER)] + [separator.join(map(shown, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def aapl(file: Path, out: Path, *args: str):
    return invoke("data", "import", str(file), "--source", "technical", "--asset", "AAPL",
                  "--venue", "yfinance", "--to", str(out), *args)  # fmt: skip


def imported_line(out: Path, points: int = 3) -> str:
    return f"technical           {points} points in {AAPL_1D}  {out}/technical.jsonl\n"


def test_a_semicolon_file_with_decimal_commas_gives_the_store_of_the_same_rows_in_a_csv(
    tmp_path: Path,
):
    european = write(tmp_path / "aapl_eu.csv", ";", ROWS, comma=True)
    plain = write(tmp_path / "aapl.csv", ",", ROWS)

    result = aapl(european, tmp_path / "eu")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == imported_line(tmp_path / "eu")
    assert aapl(plain, tmp_path / "ref").exit_code == 0
    expected = (tmp_path / "ref" / "technical.jsonl").read_bytes()
    assert (tmp_path / "eu" / "technical.jsonl").read_bytes() == expected
    series = SnapshotStore(tmp_path / "eu").series("technical", AAPL_1D)
    assert series is not None and series.values[0] == [146.83, 147.23, 145.01, 145.31, 55479000.0]


def test_columns_name_the_header_of_a_semicolon_file(tmp_path: Path):
    european = write(tmp_path / "aapl_eu.csv", ";", ROWS, comma=True)
    mapping = "time=Date,open=Open,high=High,low=Low,close=Close,volume=Volume"

    result = aapl(european, tmp_path / "out", "--columns", mapping)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == imported_line(tmp_path / "out")


def test_a_tsv_file_imports(tmp_path: Path):
    tabs = write(tmp_path / "aapl.tsv", "\t", ROWS)
    plain = write(tmp_path / "aapl.csv", ",", ROWS)

    result = aapl(tabs, tmp_path / "tsv")

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == imported_line(tmp_path / "tsv")
    assert aapl(plain, tmp_path / "ref").exit_code == 0
    expected = (tmp_path / "ref" / "technical.jsonl").read_bytes()
    assert (tmp_path / "tsv" / "technical.jsonl").read_bytes() == expected


def test_a_semicolon_file_with_decimal_points_imports_as_written(tmp_path: Path):
    dotted = write(tmp_path / "aapl.csv", ";", ROWS)
    result = aapl(dotted, tmp_path / "out")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == imported_line(tmp_path / "out")


def test_a_dot_in_a_file_of_decimal_commas_is_refused_naming_both_cells(tmp_path: Path):
    """``52.238`` may be 52,238 shares written with a thousands separator, or 52.238."""
    mixed = write(tmp_path / "mixed.csv", ";", ROWS, comma=True)
    mixed.write_text(mixed.read_text().replace("52238100", "52.238"))

    result = aapl(mixed, tmp_path / "out")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {mixed}:2:12: Open: '146,83' and {mixed}:3:39: Volume: '52.238': numbers with "
        "a '.' and with a "
        "',' in one file (a thousands separator, or two decimal marks); save the numbers with "
        "one decimal mark and no thousands separators\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_quoted_decimal_comma_in_a_comma_separated_file_says_why_it_is_not_a_number(
    tmp_path: Path,
):
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('Date,Open,High,Low,Close,Volume\n2023-03-01,"146,83",147,145,145,100\n')

    result = aapl(quoted, tmp_path / "out")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {quoted}:2:12: Open: '146,83' is not a number (decimal commas are read in "
        "files separated by ';' or tabs)\n"
    )


def test_the_cryptodatadownload_banner_is_still_skipped(tmp_path: Path):
    """The banner is one field (a URL) above a wider header; the separator is the header's."""
    banner = tmp_path / "Binance_BTCUSDT_d.csv"
    banner.write_text(
        "https://www.CryptoDataDownload.com\n"
        "Unix;Date;Symbol;Open;High;Low;Close;Volume BTC\n"
        "1680220800000;2023-03-31;BTCUSDT;28028,53;28656,69;27511,71;28465,36;78198,12139\n"
        "1680134400000;2023-03-30;BTCUSDT;28348,6;29184,68;27686;28028,53;98865,43256\n"
    )
    out = tmp_path / "out"

    result = invoke("data", "import", str(banner), "--source", "technical", "--asset", "BTC",
                    "--to", str(out))  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"technical           2 points in candles/binance/BTC/USDT/1d  {out}/technical.jsonl\n"
    )
    series = SnapshotStore(out).series("technical", "candles/binance/BTC/USDT/1d")
    assert series is not None and series.values[-1][3] == 28465.36


# --- thousands separators ------------------------------------------------------------------------
# Regression tests: a copy of Yahoo's web table writes volumes as "20,187,300" (quoted in a
# comma-separated file), which was refused as "not a number".


def grouped(volume: str) -> str:
    """``55479000`` -> ``55,479,000``."""
    return f"{int(volume):,}"


def test_quoted_volumes_with_thousands_separators_read_as_the_plain_file(tmp_path: Path):
    rows = [(*row[:5], f'"{grouped(row[5])}"') for row in ROWS]
    web = write(tmp_path / "aapl_web.csv", ",", rows)
    plain = write(tmp_path / "aapl.csv", ",", ROWS)

    result = aapl(web, tmp_path / "web")

    assert (result.exit_code, result.stderr) == (0, "")
    assert aapl(plain, tmp_path / "ref").exit_code == 0
    expected = (tmp_path / "ref" / "technical.jsonl").read_bytes()
    assert (tmp_path / "web" / "technical.jsonl").read_bytes() == expected


def test_a_price_with_thousands_separators_and_decimals_is_read(tmp_path: Path):
    """The S&P 500 as Yahoo's web table writes it (the bundled GSPC.csv's rows of 2023-03-01
    and 03-02, grouped so): "3,951.39"."""
    gspc = tmp_path / "gspc.csv"
    gspc.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        '2023-03-01,"3,963.34","3,971.73","3,939.05","3,951.39","2,234,879,789"\n'
        '2023-03-02,"3,938.68","3,990.84","3,928.16","3,981.35","2,252,768,227"\n'
    )

    result = invoke("data", "import", str(gspc), "--source", "technical", "--asset", "^GSPC",
                    "--venue", "yfinance", "--to", str(tmp_path / "out"))  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", "candles/yfinance/^GSPC/1d")
    assert series is not None
    assert series.values == [
        [3963.34, 3971.73, 3939.05, 3951.39, 2234879789.0],
        [3938.68, 3990.84, 3928.16, 3981.35, 2252768227.0],
    ]


def test_a_semicolon_file_with_decimal_points_reads_thousands_separators(tmp_path: Path):
    rows = [(*row[:5], grouped(row[5])) for row in ROWS]
    dotted = write(tmp_path / "aapl.csv", ";", rows)

    result = aapl(dotted, tmp_path / "out")

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", AAPL_1D)
    assert series is not None and series.values[0][4] == 55479000.0


def test_one_group_of_three_in_a_semicolon_file_of_decimal_points_stays_refused(tmp_path: Path):
    """``52,238`` there is 52,238 shares or a decimal comma: refused, both cells named."""
    mixed = write(tmp_path / "mixed.csv", ";", ROWS)
    mixed.write_text(mixed.read_text().replace("52238100", "52,238"))

    result = aapl(mixed, tmp_path / "out")

    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"error: {mixed}:2:12: Open: '146.83' and {mixed}:3:39: Volume: '52,238': numbers with "
        "a '.' and with a ','"
    )


def test_help_says_numbers_grouped_by_commas_are_read():
    text = " ".join(invoke("data", "import", "--help").stdout.split())
    assert "numbers grouped by commas such as \"20,187,300\" where the decimal mark is '.'" in text


def test_one_group_of_three_in_a_comma_file_without_a_decimal_point_is_refused(tmp_path: Path):
    """Regression: ``"1,085"`` in a comma-separated file (EUR/USD with decimal commas, the
    reviewer's eu.csv) was read as 1085, a thousand times the price; a ``;`` file reads 1.085."""
    eu = tmp_path / "eu.csv"
    eu.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        '2023-03-01,"1,085","1,092","1,081","1,090",1000\n'
        '2023-03-02,"1,090","1,095","1,088","1,093",1000\n'
    )

    result = invoke("data", "import", str(eu), "--source", "technical", "--asset", "BTC",
                    "--to", str(tmp_path / "out"))  # fmt: skip

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {eu}:2:12: Open: '1,085' is 1085 with a thousands separator or 1.085 with a "
        "decimal comma, and no number in the file has a '.' to tell which; save the numbers "
        "without thousands separators\n"
    )
    assert not (tmp_path / "out").exists()


def test_one_group_of_three_in_a_comma_file_with_decimal_points_is_a_thousand(tmp_path: Path):
    rows = [(*row[:5], '"1,085"') for row in ROWS]
    web = write(tmp_path / "aapl_web.csv", ",", rows)

    result = aapl(web, tmp_path / "out")

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", AAPL_1D)
    assert series is not None and series.values[0][4] == 1085.0
