"""``data import FILE`` refuses a stock's prices that yfinance adjusted for dividends.

Regression test: ``yf.download(...).to_csv()`` with yfinance's default ``auto_adjust=True``
(no ``Adj Close`` column: ``Close`` is already dividend-adjusted) imported as raw closes,
though equity candles are split-adjusted and not dividend-adjusted, as the live feed records
them (``history(auto_adjust=False)``): per-share fundamentals ratios came out off by the
adjustment. ``Ticker.history()`` has the same default. Rows are real MSFT and KO daily bars of
2023-03-06..08: the adjusted ones as ``download()`` wrote them, the raw ones (with Yahoo's
Adj Close) from the site's export.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.calendar import session_close
from signalops.adapters.snapshots import SnapshotStore

DOWNLOAD_ADJUSTED = """Price,Close,High,Low,Open,Volume
Ticker,MSFT,MSFT,MSFT,MSFT,MSFT
Date,,,,,
2023-03-06,252.3852,255.5785,251.5108,251.9529,24109800
2023-03-07,249.7127,253.1909,248.9660,251.8251,21473200
2023-03-08,249.2706,250.0959,246.4310,249.6046,17340200
"""
DOWNLOAD_RAW = """Price,Adj Close,Close,High,Low,Open,Volume
Ticker,MSFT,MSFT,MSFT,MSFT,MSFT,MSFT
Date,,,,,,
2023-03-06,250.93,256.87,260.12,255.98,256.43,24109800
2023-03-07,248.27,254.15,257.69,253.39,256.3,21473200
2023-03-08,247.83,253.7,254.54,250.81,254.04,17340200
"""
HISTORY_ADJUSTED = """Date,Open,High,Low,Close,Volume,Dividends,Stock Splits
2023-03-06 00:00:00-05:00,59.259998,60.380001,59.220001,60.360001,16277200,0.0,0.0
2023-03-07 00:00:00-05:00,60.490002,60.57,59.75,60.009998,13800927,0.0,0.0
2023-03-08 00:00:00-05:00,60.040001,60.330002,59.73,60.040001,10831200,0.0,0.0
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def imported(folder: Path, name: str, text: str, asset: str):
    file = folder / name
    file.write_text(text, encoding="utf-8")
    out = folder / "out"
    return file, invoke("data", "import", str(file), "--source", "technical", "--asset", asset,
                        "--venue", "yfinance", "--to", str(out))  # fmt: skip


def test_a_yfinance_download_with_its_default_adjusted_closes_is_refused(tmp_path: Path):
    file, result = imported(tmp_path, "MSFT_yf_download.csv", DOWNLOAD_ADJUSTED, "MSFT")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}: yfinance wrote these prices with auto_adjust=True, its default (there "
        "is no Adj Close column): they are adjusted for dividends, which would put per-share "
        "fundamentals ratios (price_to_book, trailing_pe...) off by the adjustment; export raw "
        "closes with yf.download(..., auto_adjust=False).to_csv(FILE)\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_yfinance_history_with_its_default_adjusted_closes_is_refused(tmp_path: Path):
    file, result = imported(tmp_path, "KO_yf_history.csv", HISTORY_ADJUSTED, "KO")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {file}: yfinance wrote these prices with ")
    assert result.stderr.endswith("Ticker.history(..., auto_adjust=False).to_csv(FILE)\n")
    assert not (tmp_path / "out").exists()


def test_a_yfinance_download_with_raw_closes_imports_its_close_not_adj_close(tmp_path: Path):
    _, result = imported(tmp_path, "MSFT_yf_download.csv", DOWNLOAD_RAW, "MSFT")

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", "candles/yfinance/MSFT/1d")
    assert series is not None
    assert series.times[0] == session_close(date(2023, 3, 6))
    assert series.values[0] == [256.43, 260.12, 255.98, 256.87, 24109800.0]


# Regression tests: the refusal tested the venue (yfinance), so a coin's download (BTC-USD pays
# no dividends) and an index's were refused with a message about P/E ratios; and the one-line
# header of download(..., multi_level_index=False) was not known as yfinance's at all.
BTC_DOWNLOAD = """Price,Close,High,Low,Open,Volume
Ticker,BTC-USD,BTC-USD,BTC-USD,BTC-USD,BTC-USD
Date,,,,,
2024-01-01,44179.55,44184.1,42180.77,42283.58,27174
2024-01-02,44946.91,45879.63,44148.34,44179.55,65146
"""


@pytest.mark.parametrize(
    ("asset", "text"),
    [("BTC-USD", BTC_DOWNLOAD), ("^GSPC", BTC_DOWNLOAD.replace("BTC-USD", "^GSPC"))],
    ids=["coin", "index"],
)
def test_a_download_of_what_pays_no_dividends_imports(tmp_path: Path, asset: str, text: str):
    _, result = imported(tmp_path, "download.csv", text, asset)

    assert result.exit_code == 0, result.stderr
    series = SnapshotStore(tmp_path / "out").series("technical", f"candles/yfinance/{asset}/1d")
    assert series is not None and series.values[0][3] == 44179.55


def test_a_flat_yfinance_download_with_its_default_adjusted_closes_is_refused(tmp_path: Path):
    flat = DOWNLOAD_ADJUSTED.replace("Price,", "Date,").replace(
        "Ticker,MSFT,MSFT,MSFT,MSFT,MSFT\nDate,,,,,\n", ""
    )
    file, result = imported(tmp_path, "MSFT_flat.csv", flat, "MSFT")

    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {file}: yfinance wrote these prices with ")
    assert result.stderr.endswith("yf.download(..., auto_adjust=False).to_csv(FILE)\n")
    assert not (tmp_path / "out").exists()
