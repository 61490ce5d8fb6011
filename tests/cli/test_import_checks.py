"""``data import FILE`` refuses impossible or conflicting rows, naming the line, writing nothing.

Regression tests: negative and zero prices, negative volumes and a high below the low were
stored as they were (the live adapters refuse them as BAD_RESPONSE); two rows at one time with
other values kept the last one unseen; a file merged into a snapshot folder overwrote stored
points while the summary said only "2 points in"; ``--timeframe 1h`` on daily rows landed each
daily candle at its open + 1h, its close known 23 hours early; a stray row an hour after
another turned a whole daily file into 1h candles; hourly candles with missing hours (exchanges
leave out empty ones) were refused with ``--timeframe 1h`` and without it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.snapshots import SnapshotStore

HEADER = "date,open,high,low,close,volume\n"
SOL_1D = "candles/binance/SOL/USDT/1d"
JAN_1 = "2024-01-01,100,110,95,105,1000"
JAN_2 = "2024-01-02,105,120,101,110,1200"
JAN_3 = "2024-01-03,110,120,101,115,1200"


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def write(folder: Path, name: str, *rows: str, header: str = HEADER) -> Path:
    path = folder / name
    path.write_text(header + "".join(f"{row}\n" for row in rows))
    return path


def sol(file: Path, out: Path, *args: str):
    return invoke("data", "import", str(file), "--source", "technical", "--asset", "SOL",
                  "--to", str(out), *args)  # fmt: skip


def closes(out: Path, key: str = SOL_1D) -> list[float]:
    series = SnapshotStore(out).series("technical", key)
    assert series is not None
    return [candle[3] for candle in series.values]


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("2024-01-02,105,110,95,-105,1000", "23: close: -105 is not above zero"),
        ("2024-01-02,0,0,0,0,-5", "12: open: 0 is not above zero"),
        ("2024-01-02,105,110,95,100,-5", "27: volume: -5 is negative"),
        ("2024-01-02,105,90,101,110,1200", "16: high: 90 is below low 101"),
    ],
)
def test_an_implausible_candle_is_refused_at_its_cell_and_nothing_is_written(
    tmp_path: Path, row: str, problem: str
):
    """At the line and column of the value the problem names first (``problem``: from the
    column on)."""
    prices = write(tmp_path, "prices.csv", JAN_1, row)
    result = sol(prices, tmp_path / "out")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {prices}:3:{problem}\n"
    assert not (tmp_path / "out").exists()


def test_an_implausible_candle_in_ccxt_arrays_names_its_item(tmp_path: Path):
    arrays = tmp_path / "sol.json"
    arrays.write_text(json.dumps([[1704067200000, 1, 2, 0.5, 1.5, 10],
                                  [1704153600000, 1, 2, 0.5, 1.5, -10]]))  # fmt: skip
    result = sol(arrays, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == f"error: {arrays}: item 2: volume: -10 is negative\n"


def test_two_candles_at_one_time_with_other_values_are_refused_with_both_lines(tmp_path: Path):
    prices = write(tmp_path, "prices.csv", JAN_1, JAN_2, "2024-01-01,200,210,195,205,1000")
    result = sol(prices, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {prices}:4: the same time as line 2, with other values "
        "(open 100 at line 2, 200 here)\n"
    )
    assert not (tmp_path / "out").exists()


def test_two_candles_at_one_time_are_told_with_their_values_as_the_file_writes_them(
    tmp_path: Path,
):
    """The values were shown as floats read back (``60.1`` for ``60,10``), not as a search of
    the file finds them. KO's 2022-03-16 row and a second one at that date, from a European
    spreadsheet (decimal commas). A value with float noise in the file (``60.377798989999995``)
    is shown as the file has it, noise included."""
    prices = write(
        tmp_path,
        "KO.csv",
        "2022-03-15;59,080002;59,889999;58,98;59,619999;54,1023;18605400",
        "2022-03-16;59,779999;59,939999;58,610001;59,459999;53,9571;17345500",
        "2022-03-16;60,10;60,53939899;59,19610101;60,05459899;54,496671;17345500",
        header="Date;Open;High;Low;Close;Adj Close;Volume\n",
    )
    result = invoke("data", "import", str(prices), "--source", "technical", "--asset", "KO",
                    "--venue", "yfinance", "--to", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {prices}:4: the same time as line 3, with other values "
        "(open 59,779999 at line 3, 60,10 here)\n"
    )


def test_a_repeated_row_is_left_out_with_a_note(tmp_path: Path):
    prices = write(tmp_path, "prices.csv", JAN_1, JAN_2, JAN_1)
    out = tmp_path / "out"
    result = sol(prices, out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"technical           2 points in {SOL_1D}  {out}/technical.jsonl\n"
    assert result.stderr == f"note: {prices}:4: repeats line 2, left out\n"
    assert closes(out) == [105.0, 110.0]


def test_a_merge_that_would_change_stored_points_needs_replace_and_then_says_how_many(
    tmp_path: Path,
):
    out = tmp_path / "out"
    first = write(tmp_path, "first.csv", JAN_1, JAN_2, "2024-01-03,110,120,101,100,1200")
    assert sol(first, out).exit_code == 0
    stored = (out / "technical.jsonl").read_bytes()
    again = sol(first, out)  # the same points again: nothing changes, nothing to say
    assert (again.exit_code, again.stderr) == (0, "")
    later = write(tmp_path, "later.csv", "2024-01-03,110,120,101,999,1200",
                  "2024-01-04,110,120,101,115,1200")  # fmt: skip

    refused = sol(later, out)

    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == (
        f"error: {later}:2: {SOL_1D} in {out}/technical.jsonl already holds other values at "
        "this time (close 100 stored, 999 here); 1 stored point would change: add --replace "
        "to replace it\n"
    )
    assert (out / "technical.jsonl").read_bytes() == stored

    replaced = sol(later, out, "--replace")

    assert replaced.exit_code == 0, replaced.stderr
    assert replaced.stdout == f"technical           2 points in {SOL_1D}  {out}/technical.jsonl\n"
    assert replaced.stderr == f"note: {SOL_1D}: 1 stored point replaced\n"
    assert closes(out) == [105.0, 110.0, 999.0, 115.0]


def test_replace_without_a_file_is_refused(tmp_path: Path):
    result = invoke("data", "import", "--to", str(tmp_path), "--replace")
    assert (result.exit_code, result.stderr) == (
        1,
        "error: --replace: only with a FILE to import\n",
    )


def test_a_timeframe_shorter_than_the_rows_spacing_is_refused_with_the_one_they_have(
    tmp_path: Path,
):
    daily = write(tmp_path, "daily.csv", JAN_1, JAN_2, JAN_3)
    result = sol(daily, tmp_path / "out", "--timeframe", "1h")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {daily}: --timeframe 1h does not match the rows: no step between them is 1h, "
        "the shortest is 1d: they look like 1d candles (read as 1h candles, each would be known "
        "23h before its close)\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_stray_row_does_not_make_a_daily_file_hourly(tmp_path: Path):
    stray = "2024-01-02 01:00,110,120,101,115,1200"
    daily = write(tmp_path, "daily.csv", JAN_1, JAN_2, stray, JAN_3, "2024-01-04,1,2,0.5,1.5,9")
    result = sol(daily, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {daily}:4: this candle opens 1h after the one at {daily}:3, less than the "
        "timeframe 1d\n"
    )


def test_rows_off_the_timeframes_grid_are_refused_but_an_hour_of_daylight_saving_is_not(
    tmp_path: Path,
):
    hourly = write(tmp_path, "hourly.csv", "2024-01-01 00:00,1,2,0.5,1.5,10",
                   "2024-01-01 01:00,1,2,0.5,1.5,10", "2024-01-01 02:30,1,2,0.5,1.5,10",
                   "2024-01-01 03:30,1,2,0.5,1.5,10")  # fmt: skip
    result = sol(hourly, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {hourly}:4: this candle opens 90m after the one at {hourly}:3, not a whole "
        "number of 1h candles: the rows are not aligned to the timeframe\n"
    )
    # yfinance's history() dates daily bars at New York midnight: 71h over a spring weekend.
    yahoo = write(tmp_path, "aapl.csv", "2023-03-09 00:00:00-05:00,1,2,0.5,1.5,10",
                  "2023-03-10 00:00:00-05:00,1,2,0.5,1.5,10",
                  "2023-03-13 00:00:00-04:00,1,2,0.5,1.5,10")  # fmt: skip
    out = tmp_path / "eq"
    ok = invoke("data", "import", str(yahoo), "--source", "technical", "--asset", "AAPL",
                "--venue", "yfinance", "--to", str(out))  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    assert (
        ok.stdout
        == f"technical           3 points in candles/yfinance/AAPL/1d  {out}/technical.jsonl\n"
    )


def test_two_splits_on_one_date_with_other_ratios_are_refused(tmp_path: Path):
    splits = write(tmp_path, "splits.csv", "AAPL,2020-08-31,4", "AAPL,2014-06-09,7",
                   "AAPL,2020-08-31,5", header="ticker,ex_date,ratio_new_per_old\n")  # fmt: skip
    result = invoke("data", "import", str(splits), "--source", "fundamental", "--asset", "AAPL",
                    "--to", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {splits}:4: the same time as line 2, with other values (4 at line 2, 5 here)\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_clob_history_with_two_prices_at_one_time_is_refused(tmp_path: Path):
    history = tmp_path / "history.json"
    points = [{"t": 1770394157, "p": 0.23}, {"t": 1770397757, "p": 0.24}]
    history.write_text(json.dumps({"history": [*points, {"t": 1770394157, "p": 0.5}]}))
    result = invoke("data", "import", str(history), "--source", "polymarket", "--asset", "mkt",
                    "--to", str(tmp_path / "out"))  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {history}: history item 3: the same time as history item 1, with other values "
        "(0.23 at history item 1, 0.5 here)\n"
    )
    assert not (tmp_path / "out").exists()


def hours(*opened: int) -> list[str]:
    return [f"2024-01-01 {hour:02d}:00,100,110,95,105,1000" for hour in opened]


@pytest.mark.parametrize("timeframe", [("--timeframe", "1h"), ()], ids=["given", "default"])
def test_hourly_candles_with_missing_hours_are_imported_as_hourly(
    tmp_path: Path, timeframe: tuple[str, ...]
):
    # Exchanges leave out empty candles (Coinbase, illiquid pairs): the longer steps are gaps,
    # which a backtest fills across late: the import names them.
    sparse = write(tmp_path, "sparse.csv", *hours(0, 1, 3, 5, 7, 8, 10))
    out = tmp_path / "out"
    result = sol(sparse, out, *timeframe)
    assert (result.exit_code, result.stderr) == (
        0,
        "warning: SOL 1h: 4 candles missing between 2024-01-01 00:00 and 2024-01-01 10:00: "
        "2024-01-01 02:00, 2024-01-01 04:00, 2024-01-01 06:00, 2024-01-01 09:00\n",
    )
    key = "candles/binance/SOL/USDT/1h"
    assert result.stdout == f"technical           7 points in {key}  {out}/technical.jsonl\n"
    series = SnapshotStore(out).series("technical", key)
    assert series is not None
    assert [(t - 1704067200) / 3600 for t in series.times] == [1, 2, 4, 6, 8, 9, 11]


def test_a_stray_row_between_two_hour_candles_is_refused_not_read_as_hourly(tmp_path: Path):
    two_hourly = write(tmp_path, "2h.csv", *hours(0, 2, 4, 5, 6, 8, 10))
    result = sol(two_hourly, tmp_path / "out")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {two_hourly}:5: this candle opens 1h after the one at {two_hourly}:4, less "
        "than the timeframe 2h\n"
    )
