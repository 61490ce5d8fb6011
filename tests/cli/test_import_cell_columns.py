"""``data import FILE`` names the cell a bad value is in: ``FILE:LINE:COLUMN: NAME: ...``.

The column is the 1-based column of the cell's first character on its line, as a strategy
error's is, and NAME the column's name in the file's header, so an editor opens at the value.

Regression tests: the errors said ``prices.csv:14: close is '12,5', not a number``: the line,
but neither the column nor the header's name, which in a wide export left the cell to be
counted by hand (and a header's ``Close`` was called ``close``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke

HEADER = "date,open,high,low,close,volume\n"
DAY = "2024-01-{day:02d},100,110,95,105,1000\n"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def imported(name: str, text: str, *args: str):
    Path(name).write_text(text, encoding="utf-8")
    return invoke("data", "import", name, "--to", "out", *args)


def candles(name: str, text: str):
    return imported(name, text, "--source", "technical", "--asset", "SOL")


def refused(result) -> str:
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert not Path("out").exists()
    return str(result.stderr)


def test_a_bad_number_is_named_at_its_line_and_column_with_its_header(in_tmp: Path):
    days = "".join(DAY.format(day=day) for day in range(1, 13))
    result = candles("prices.csv", HEADER + days + '2024-01-13,100,110,95,"12,5",1000\n')

    assert refused(result) == (
        "error: prices.csv:14:23: close: '12,5' is not a number (decimal commas are read in "
        "files separated by ';' or tabs)\n"
    )


def test_the_header_names_the_column_as_the_file_writes_it(in_tmp: Path):
    yahoo = "Date\tOpen\tHigh\tLow\tClose\tVolume\n2024-01-01\t100\t110\t95\tn/a\t1000\n"

    result = candles("AAPL.tsv", yahoo)

    assert refused(result) == "error: AAPL.tsv:2:23: Close: 'n/a' is not a number\n"


def test_quoted_cells_and_a_record_over_two_lines_are_counted_as_written(in_tmp: Path):
    quotes = candles("quotes.csv", HEADER + '2024-01-01,"1""0",110,95,105,1000\n')
    lines = candles("lines.csv", HEADER + DAY.format(day=1) + '"2024-01-02\n",105,110,95,x,4\n')

    assert refused(quotes) == "error: quotes.csv:2:12: open: '1\"0' is not a number\n"
    assert refused(lines) == "error: lines.csv:4:14: close: 'x' is not a number\n"


def test_a_bad_time_and_a_missing_cell_are_named_at_their_place(in_tmp: Path):
    time = candles("time.csv", HEADER + DAY.format(day=1) + "yesterday,105,110,95,110,4\n")
    short = candles("short.csv", HEADER + DAY.format(day=1) + "2024-01-02,105,110,95,110\n")

    assert refused(time) == (
        "error: time.csv:3:1: date: 'yesterday' is neither a Unix time nor an ISO date\n"
    )
    assert refused(short) == "error: short.csv:3:26: volume: missing (the row has 5 cells)\n"


def test_an_implausible_candle_is_named_at_the_value_its_problem_names(in_tmp: Path):
    result = candles("prices.csv", HEADER + DAY.format(day=1) + "2024-01-02,105,90,101,110,1\n")

    assert refused(result) == "error: prices.csv:3:16: high: 90 is below low 101\n"


def test_two_decimal_marks_are_named_at_both_cells(in_tmp: Path):
    mixed = "date;open;high;low;close;volume\n2024-01-01;100,5;110;95;105;1000\n"
    mixed += "2024-01-02;105;110;95;110;4.5\n"

    result = candles("mixed.csv", mixed)

    assert refused(result) == (
        "error: mixed.csv:2:12: open: '100,5' and mixed.csv:3:27: volume: '4.5': numbers with "
        "a '.' and with a ',' in one file (a thousands separator, or two decimal marks); save "
        "the numbers with one decimal mark and no thousands separators\n"
    )


def test_prices_and_splits_are_named_at_their_cells(in_tmp: Path):
    odds = imported("odds.csv", "t,p\n2024-01-01,0.5\n2024-01-02,1.5\n",
                    "--source", "polymarket", "--asset", "some-market/yes")  # fmt: skip
    ratio = imported("splits.csv", "ticker,ex_date,ratio\nAAPL,2020-08-31,4\nAAPL,2014-06-09,x\n",
                     "--source", "fundamental", "--asset", "AAPL")  # fmt: skip
    day = imported("days.csv", "ticker,ex_date,ratio\nAAPL,31/08/2020,4\n",
                   "--source", "fundamental", "--asset", "AAPL")  # fmt: skip

    assert refused(odds) == "error: odds.csv:3:12: p: 1.5 is not a probability between 0 and 1\n"
    assert refused(ratio) == (
        "error: splits.csv:3:17: ratio: 'x' is not new shares per old share (4, 4:1, 0.125, 1:8)\n"
    )
    assert refused(day) == "error: days.csv:2:6: ex_date: '31/08/2020' is not an ISO date\n"


def test_a_file_without_lines_names_the_item_and_the_column(in_tmp: Path):
    objects = [{"time": 1704067200000, "open": 1, "high": 2, "low": 0.5, "close": "?", "vol": 1}]

    result = candles("sol.json", json.dumps(objects))

    assert refused(result) == "error: sol.json: item 1: close: '?' is not a number\n"


def test_help_says_where_a_bad_value_is_named():
    shown = " ".join(invoke("data", "import", "--help").stdout.split())

    assert "a bad value named at FILE:LINE:COLUMN with its header's name" in shown
