"""``data import FILE --date-format FORMAT`` reads a time column written in a format ISO is not
(``03/09/2023``, ``09.03.2023``): such dates are ambiguous (March 9 or 3 September?), so they
are refused without it, and the refusal says how to name their format.

Regression tests: a US (``%m/%d/%Y``) or European (``%d.%m.%Y``) export was refused with
"is neither a Unix time nor an ISO date" and no way to say how its dates are written.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from conftest import invoke

FIXTURES = Path(__file__).parent.parent / "fixtures" / "imports"
YAHOO = FIXTURES / "yahoo_AAPL_2023-03.csv"
REORDERED_HOURLY = FIXTURES / "BTCUSDT_1h_2023-03-01_reordered.csv"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def aapl(file: str | Path, out: str, *args: str):
    return invoke("data", "import", str(file), "--source", "technical", "--asset", "AAPL",
                  "--venue", "yfinance", "--to", out, *args)  # fmt: skip


def rewritten(name: str, source: Path, column: str, pattern: str, separator: str = ",") -> Path:
    """``source`` with its ``column`` of ISO times written as ``pattern`` (strftime), the
    cells separated by ``separator`` (decimal commas with ';', as a European locale saves)."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    lines = [separator.join(rows[0])]
    for row in rows:
        row[column] = datetime.fromisoformat(row[column]).strftime(pattern)
        cells = [c.replace(".", ",") if separator == ";" and k != column else c
                 for k, c in row.items()]  # fmt: skip
        lines.append(separator.join(cells))
    Path(name).write_text("\ufeff" * (separator == ";") + "\n".join(lines) + "\n")
    return Path(name)


def same_store(out: str, reference: str) -> bool:
    return (
        Path(out, "technical.jsonl").read_bytes() == Path(reference, "technical.jsonl").read_bytes()
    )


def test_a_us_file_imports_with_its_date_format_as_the_iso_file(in_tmp: Path):
    us = rewritten("AAPL_us.csv", YAHOO, "Date", "%m/%d/%Y")

    result = aapl(us, "out", "--date-format", "%m/%d/%Y")

    assert (result.exit_code, result.stderr) == (0, "")
    assert aapl(YAHOO, "ref").exit_code == 0
    assert same_store("out", "ref")


def test_a_european_file_with_decimal_commas_imports_with_its_date_format(in_tmp: Path):
    eu = rewritten("AAPL_eu.csv", YAHOO, "Date", "%d.%m.%Y", separator=";")

    result = aapl(eu, "out", "--date-format", "%d.%m.%Y")

    assert (result.exit_code, result.stderr) == (0, "")
    assert aapl(YAHOO, "ref").exit_code == 0
    assert same_store("out", "ref")


def test_hours_are_read_with_the_format_too(in_tmp: Path):
    hourly = rewritten("btc.csv", REORDERED_HOURLY, "open_time", "%d/%m/%Y %H:%M")
    btc = ("--source", "technical", "--asset", "BTC")

    result = invoke("data", "import", str(hourly), *btc, "--to", "out", "--date-format",
                    "%d/%m/%Y %H:%M")  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert invoke("data", "import", str(REORDERED_HOURLY), *btc, "--to", "ref").exit_code == 0
    assert same_store("out", "ref")


@pytest.mark.parametrize(
    ("pattern", "separator", "said"),
    [
        ("%m/%d/%Y", ",", "'03/01/2023' is neither a Unix time nor an ISO date: name its format "
         "with --date-format, e.g. %m/%d/%Y or %d/%m/%Y"),
        ("%d.%m.%Y", ";", "'01.03.2023' is neither a Unix time nor an ISO date: name its format "
         "with --date-format, e.g. %d.%m.%Y or %m.%d.%Y"),
    ],
)  # fmt: skip
def test_a_date_iso_does_not_write_is_refused_with_how_to_name_its_format(
    in_tmp: Path, pattern: str, separator: str, said: str
):
    written = rewritten("AAPL.csv", YAHOO, "Date", pattern, separator)

    result = aapl(written, "out")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: AAPL.csv:2:1: Date: {said}\n"
    assert not Path("out").exists()


def test_a_date_that_says_which_is_the_day_suggests_that_format_only(in_tmp: Path):
    written = rewritten("AAPL.csv", YAHOO, "Date", "%d/%m/%Y")
    lines = written.read_text().splitlines(keepends=True)
    written.write_text(lines[0] + "".join(lines[13:]))  # from March 17: 17/03/2023

    result = aapl(written, "out")

    assert result.stderr == (
        "error: AAPL.csv:2:1: Date: '17/03/2023' is neither a Unix time nor an ISO date: name "
        "its format with --date-format, e.g. %d/%m/%Y\n"
    )


def test_a_row_that_does_not_match_the_format_is_named_at_its_cell(in_tmp: Path):
    """Day-first dates read as US ones: the 13th of a month is no month."""
    written = rewritten("AAPL.csv", YAHOO, "Date", "%d/%m/%Y")

    result = aapl(written, "out", "--date-format", "%m/%d/%Y")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: AAPL.csv:10:1: Date: '13/03/2023' does not match --date-format %m/%d/%Y\n"
    )


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("%Q", "--date-format %Q: 'Q' is a bad directive in format '%Q'"),
        ("", "--date-format: empty (strptime's codes, e.g. %m/%d/%Y)"),
    ],
)
def test_a_format_strptime_cannot_use_is_refused_before_any_row(
    in_tmp: Path, given: str, said: str
):
    assert aapl(YAHOO, "out", "--date-format", given).stderr == f"error: {said}\n"


def test_a_price_table_reads_its_time_column_with_the_format(in_tmp: Path):
    Path("prices.csv").write_text("time,price\n03/01/2023,0.5\n03/02/2023,0.55\n")
    Path("iso.csv").write_text("time,price\n2023-03-01,0.5\n2023-03-02,0.55\n")
    market = ("--source", "polymarket", "--asset", "some-market/yes")

    result = invoke("data", "import", "prices.csv", *market, "--to", "out",
                    "--date-format", "%m/%d/%Y")  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert invoke("data", "import", "iso.csv", *market, "--to", "ref").exit_code == 0
    out, ref = Path("out/polymarket.jsonl"), Path("ref/polymarket.jsonl")
    assert out.read_bytes() == ref.read_bytes()


def test_date_format_is_for_a_time_column(in_tmp: Path):
    Path("splits.csv").write_text("ticker,ex_date,ratio_new_per_old\nAAPL,08/31/2020,4\n")

    result = invoke("data", "import", "splits.csv", "--source", "fundamental", "--asset", "AAPL",
                    "--to", "out", "--date-format", "%m/%d/%Y")  # fmt: skip

    assert result.stderr == (
        "error: --date-format is for a time column (--source technical or polymarket)\n"
    )


def test_help_teaches_the_date_format():
    text = " ".join(invoke("data", "import", "--help").stdout.split())
    assert "--date-format TEXT With FILE: how its time column writes dates ISO does not" in text
    assert "--date-format %m/%d/%Y" in text
