"""``data import FILE`` names the sessions (stocks) or candles a price file leaves out.

Regression tests: a trader's own price file with sessions missing imported silently; the first
sign was a backtest's note that fills came late across gaps (``gap_fill_notes``). Now the
import warns with the count and the first ones, on the exchange calendar for stocks (weekends
and NYSE holidays are not missing), candle by candle for markets trading around the clock.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA, invoke

AAPL_DAILY = DATA / "equities" / "prices" / "daily" / "AAPL.csv"
STOCK = ("--source", "technical", "--asset", "AAPL", "--venue", "yfinance")


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def aapl_2024(folder: Path, name: str, *, without: tuple[str, ...] = (), only=None) -> Path:
    """The bundled AAPL daily rows of 2024 (a real Yahoo export, every NYSE session), some
    left out, or only some kept."""
    lines = AAPL_DAILY.read_text(encoding="utf-8").splitlines()
    rows = [row for row in lines[1:] if row.startswith("2024-")]
    kept = [row for row in rows if row[:10] not in without and (only is None or row[:10] in only)]
    path = folder / name
    path.write_text("\n".join([lines[0], *kept]) + "\n", encoding="utf-8")
    return path


def test_a_stock_file_missing_sessions_warns_with_their_count_and_dates(tmp_path: Path):
    # 2024-03-29 (Good Friday), 07-04 and 11-28 (Thanksgiving) are holidays: not missing.
    gaps = ("2024-03-15", "2024-07-03", "2024-11-29")
    file = aapl_2024(tmp_path, "AAPL.csv", without=gaps)

    result = invoke("data", "import", str(file), *STOCK, "--to", str(tmp_path / "out"))

    assert result.exit_code == 0
    assert result.stdout == (
        "technical         249 points in candles/yfinance/AAPL/1d  "
        f"{tmp_path}/out/technical.jsonl\n"
    )
    assert result.stderr == (
        "warning: AAPL 1d: 3 sessions missing between 2024-01-02 and 2024-12-31: 2024-03-15, "
        "2024-07-03, 2024-11-29\n"
    )


def test_a_complete_stock_file_is_not_told_of_its_weekends_and_holidays(tmp_path: Path):
    file = aapl_2024(tmp_path, "AAPL.csv")

    result = invoke("data", "import", str(file), *STOCK, "--to", str(tmp_path / "out"))

    assert (result.exit_code, result.stderr) == (0, "")


def test_missing_sessions_in_a_row_are_one_run_and_past_five_runs_the_rest_is_counted(
    tmp_path: Path,
):
    # 07-01 to 07-03 are one run (07-04 is a holiday, 07-05 is in the file).
    gaps = ("2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-03", "2024-07-01",
            "2024-07-02", "2024-07-03", "2024-08-01", "2024-09-03", "2024-09-04")  # fmt: skip
    file = aapl_2024(tmp_path, "AAPL.csv", without=gaps)

    result = invoke("data", "import", str(file), *STOCK, "--to", str(tmp_path / "out"))

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: AAPL 1d: 11 sessions missing between 2024-01-02 and 2024-12-31: 2024-02-01, "
        "2024-03-01, 2024-04-01, 2024-05-01, 2024-06-03 and 6 more sessions\n"
    )


def test_a_file_filling_the_gaps_of_an_earlier_import_is_not_told_of_the_rows_it_lacks(
    tmp_path: Path,
):
    gaps = ("2024-03-15", "2024-07-03", "2024-11-29")
    most = aapl_2024(tmp_path, "most.csv", without=gaps)
    # The missing sessions, each beside one the store holds (a step of 1d shows the timeframe).
    patch = aapl_2024(tmp_path, "patch.csv", only=(*gaps, "2024-03-14", "2024-12-02"))
    out = str(tmp_path / "out")
    invoke("data", "import", str(most), *STOCK, "--to", out)

    result = invoke("data", "import", str(patch), *STOCK, "--to", out)

    assert result.exit_code == 0
    assert result.stdout == (
        f"technical           5 points in candles/yfinance/AAPL/1d  {out}/technical.jsonl\n"
    )
    assert result.stderr == ""


def test_daily_crypto_candles_missing_are_told_as_candles_by_their_open_day(tmp_path: Path):
    rows = [f"2024-01-{day:02d},100,110,95,105,1000" for day in (1, 2, 3, 6, 7, 9, 10)]
    file = tmp_path / "SOL_d.csv"
    file.write_text("date,open,high,low,close,volume\n" + "\n".join(rows) + "\n", encoding="utf-8")

    result = invoke("data", "import", str(file), "--source", "technical", "--asset", "SOL",
                    "--to", str(tmp_path / "out"))  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        "warning: SOL 1d: 3 candles missing between 2024-01-01 and 2024-01-10: "
        "2024-01-04 to 2024-01-05, 2024-01-08\n"
    )
