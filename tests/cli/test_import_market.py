"""``data import FILE`` refuses candles whose file names another market than they would land in.

Regression tests: CryptoDataDownload's Kraken BTC/EUR file (``Symbol`` column ``BTCEUR``,
``Volume EUR``) imported with ``--asset BTC`` was stored as binance's BTC/USDT, and a Yahoo
export of KO without ``--venue`` as ``candles/binance/KO/USDT``, said only by "227 candles
missing"; a replay then read those prices as binance's. Rows are real: the last three days of
2023 of CryptoDataDownload's ``Kraken_BTCEUR_d.csv``, the first three of 2022 of a Yahoo KO
export, MSFT's 2023-03-06..08 from yfinance.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke

from signalops.adapters.snapshots import SnapshotStore

KRAKEN_BTCEUR = """https://www.CryptoDataDownload.com
Unix,Date,Symbol,Open,High,Low,Close,Volume BTC,Volume EUR,tradecount
1703980800000,2023-12-31,BTCEUR,39190.47,39896.07,39028.23,39323.73,23585.91603,931412894.65,1016484
1703894400000,2023-12-30,BTCEUR,39122.25,39629.46,38613.88,39190.46,22906.57818,897334485.62,936545
1703808000000,2023-12-29,BTCEUR,39584.30,40093.23,38409.00,39122.26,42597.18912,1676870245.28,1571137
"""
KO_YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2022-01-03,58.82,59.310001,58.380001,59.299999,53.4031,20187300
2022-01-04,59.73,60.540001,59.59,60.290001,54.2947,26141600
2022-01-05,60.09,61.200001,60.049999,60.790001,54.7450,22507300
"""
MSFT_DOWNLOAD = """Price,Adj Close,Close,High,Low,Open,Volume
Ticker,MSFT,MSFT,MSFT,MSFT,MSFT,MSFT
Date,,,,,,
2023-03-06,250.93,256.87,260.12,255.98,256.43,24109800
2023-03-07,248.27,254.15,257.69,253.39,256.3,21473200
2023-03-08,247.83,253.7,254.54,250.81,254.04,17340200
"""
# Both venues configured, BTC routed to neither: it goes to the default, binance.
TWO_VENUES = """venues:
  binance: {exchange: binance, quote: USDT}
  kraken: {exchange: kraken, quote: EUR}
default_venue: binance
"""
BTC_ON_KRAKEN = TWO_VENUES + "assets:\n  BTC: {venue: kraken}\n"


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def imported(file: Path, out: Path, *options: str):
    return invoke("data", "import", str(file), "--source", "technical", "--to", str(out), *options)


def test_a_kraken_btc_eur_file_is_refused_as_binance_btc_usdt_with_the_fix(tmp_path: Path):
    file = write(tmp_path, "Kraken_BTCEUR_d.csv", KRAKEN_BTCEUR)
    config = write(tmp_path, "signalops.yaml", TWO_VENUES)

    result = imported(file, tmp_path / "out", "--asset", "BTC", "--config", str(config))

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}:3:26: Symbol: 'BTCEUR' is not BTC/USDT on binance, where these candles "
        "would be stored: import them with --asset BTC/EUR --venue kraken, or route BTC to a "
        "venue quoted in EUR in the config\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("config", "options", "key"),
    [
        (BTC_ON_KRAKEN, ("--asset", "BTC"), "candles/kraken/BTC/EUR/1d"),
        (TWO_VENUES, ("--asset", "BTC/EUR", "--venue", "kraken"), "candles/kraken/BTC/EUR/1d"),
        # A symbol without a separator: its base is what precedes the venue's quote (its
        # Volume BTC column was not found: "no column matched volume").
        (
            TWO_VENUES + "assets:\n  BTC: {venue: kraken, symbol: BTCEUR}\n",
            ("--asset", "BTC"),
            "candles/kraken/BTCEUR/1d",
        ),
    ],
    ids=["routed-by-the-config", "as-the-refusal-says", "configured-symbol"],
)
def test_the_kraken_file_imports_where_its_symbol_says(tmp_path: Path, config, options, key):
    file = write(tmp_path, "Kraken_BTCEUR_d.csv", KRAKEN_BTCEUR)
    settings = write(tmp_path, "signalops.yaml", config)

    result = imported(file, tmp_path / "out", *options, "--config", str(settings))

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", key)
    assert series is not None
    assert series.values[-1] == [39190.47, 39896.07, 39028.23, 39323.73, 23585.91603]


def test_a_file_without_a_symbol_says_its_quote_in_its_volume_column(tmp_path: Path):
    unnamed = "\n".join(
        ",".join(cells[:2] + cells[3:])
        for cells in (line.split(",") for line in KRAKEN_BTCEUR.splitlines()[1:])
    )
    file = write(tmp_path, "btc.csv", unnamed + "\n")

    result = imported(file, tmp_path / "out", "--asset", "BTC")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}: its column 'Volume EUR' is in EUR, so the file is not BTC/USDT on "
        "binance, where these candles would be stored: import them with --asset BTC/EUR and the "
        "--venue they come from, or route BTC to a venue quoted in EUR in the config\n"
    )


def test_a_yahoo_stock_export_without_venue_is_refused_from_the_crypto_default(tmp_path: Path):
    file = write(tmp_path, "KO_yahoo.csv", KO_YAHOO)

    result = imported(file, tmp_path / "out", "--asset", "KO")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}: a Yahoo export (its Adj Close column) is not candles of binance, a "
        "crypto exchange, where it would be stored as KO/USDT: import a stock's prices with "
        "--venue yfinance (or a config venue with exchange: yfinance), a coin's from its "
        "exchange's own export\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("adjusted", ["adj_close", "adjclose", "Adj-Close", "ADJ_CLOSE"])
def test_every_spelling_of_adj_close_is_a_yahoo_export(tmp_path: Path, adjusted: str):
    # The shared data's prices/daily/*.csv write ``date,...,adj_close,volume``: such a file was
    # stored as binance's KO/USDT, said only by its weekends "missing".
    header = f"date,open,high,low,close,{adjusted},volume"
    file = write(tmp_path, "KO.csv", KO_YAHOO.replace(KO_YAHOO.splitlines()[0], header, 1))

    result = imported(file, tmp_path / "out", "--asset", "KO")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}: a Yahoo export (its {adjusted} column) is not candles of binance, a "
        "crypto exchange, where it would be stored as KO/USDT: import a stock's prices with "
        "--venue yfinance (or a config venue with exchange: yfinance), a coin's from its "
        "exchange's own export\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_file_with_adj_close_imports_its_close_on_yfinance(tmp_path: Path):
    header = "date,open,high,low,close,adj_close,volume"
    file = write(tmp_path, "KO.csv", KO_YAHOO.replace(KO_YAHOO.splitlines()[0], header, 1))

    result = imported(file, tmp_path / "out", "--asset", "KO", "--venue", "yfinance")

    assert (result.exit_code, result.stderr) == (0, "")
    series = SnapshotStore(tmp_path / "out").series("technical", "candles/yfinance/KO/1d")
    assert series is not None
    assert series.values[0] == [58.82, 59.310001, 58.380001, 59.299999, 20187300]


def test_a_yfinance_download_of_another_ticker_is_refused(tmp_path: Path):
    file = write(tmp_path, "MSFT_yf_download.csv", MSFT_DOWNLOAD)

    result = imported(file, tmp_path / "out", "--asset", "KO", "--venue", "yfinance")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {file}:2: Ticker: 'MSFT' is not KO on yfinance, where these candles would be "
        "stored: import them with --asset MSFT\n"
    )
