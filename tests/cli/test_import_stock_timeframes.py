"""``data import FILE`` refuses a stock's candles of any timeframe but daily.

Regression tests: weekly and hourly KO files imported cleanly into ``candles/yfinance/KO/7d``
and ``.../1h``, where nothing reads them: evaluate then said ``NOT_APPLICABLE: KO is an equity
with daily candles only`` at every leaf. (Naive intraday times, read as UTC, are moot with
them refused.) Rows are real: KO's first weeks of 2022 from Yahoo's weekly export, and its
hours of 2023-03-06 with New York offsets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke

KO_WEEKLY = """Date,Open,High,Low,Close,Adj Close,Volume
2022-01-03,58.82,61.200001,58.380001,60.330002,54.3307,99045900
2022-01-10,60.549999,61.450001,59.84,61.389999,55.2853,90122300
2022-01-17,61.060001,61.439999,60.400002,60.450001,54.4388,90275300
"""
KO_HOURLY = """Datetime,Open,High,Low,Close,Volume
2023-03-06T09:30:00-05:00,59.50,59.56,59.45,59.51,1507468
2023-03-06T10:30:00-05:00,59.51,59.56,59.46,59.51,1170196
2023-03-06T11:30:00-05:00,59.51,59.74,59.46,59.69,1102334
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("name", "text", "timeframe"),
    [("KO_weekly.csv", KO_WEEKLY, "7d"), ("KO_1h.csv", KO_HOURLY, "1h")],
    ids=["weekly", "hourly"],
)
def test_a_stock_file_of_other_than_daily_candles_is_refused(tmp_path: Path, name, text, timeframe):
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")

    result = invoke("data", "import", str(file), "--source", "technical", "--asset", "KO",
                    "--venue", "yfinance", "--to", str(tmp_path / "out"))  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}: KO is an equity with daily candles only: these rows are {timeframe} "
        "candles, which no strategy can read; import its daily candles\n"
    )
    assert not (tmp_path / "out").exists()


# Regression: a stock's daily bars a weekend apart (Friday and Monday, the reviewer's two.csv)
# were refused as "3d candles", and --timeframe 1d then as "known 2d before its close": the
# step was measured in calendar days, not in NYSE sessions.
FRIDAY_MONDAY = """Date,Open,High,Low,Close,Adj Close,Volume
2023-03-10,100,101,99,100,99,1000
2023-03-13,100,102,99,101,100,1000
"""


@pytest.mark.parametrize("args", [(), ("--timeframe", "1d")], ids=["default", "1d"])
def test_daily_stock_bars_a_weekend_apart_are_consecutive_sessions(tmp_path: Path, args):
    file = tmp_path / "two.csv"
    file.write_text(FRIDAY_MONDAY, encoding="utf-8")

    result = invoke("data", "import", str(file), "--source", "technical", "--asset", "KO",
                    "--venue", "yfinance", "--to", str(tmp_path / "out"), *args)  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"technical           2 points in candles/yfinance/KO/1d  {tmp_path}/out/technical.jsonl\n"
    )
