"""Yahoo's cryptocurrencies on a yfinance venue trade around the clock, not in NYSE sessions.

Regression tests: ``BTC: {venue: yahoo, symbol: BTC-USD}`` on a ``yfinance`` venue was taken
for a US stock. Its imported daily bars were stored at 16:00 New York on their date, though
Yahoo's crypto bar covers the UTC day and closes at the next 00:00 UTC (each close was visible
four or five hours early); a backtest kept only the times before an NYSE session (462
"sessions" in two years of daily bars, weekends and holidays dropped) and annualised with 252.
Yahoo names a coin ``COIN-CCY`` (``BTC-USD``, ``ETH-EUR``; its quote is exchange CCC, time zone
UTC, as tests/fixtures/yahoo/quoteSummary_BTC-USD_2021-02-26.json shows): such a symbol is now
crypto, with a bar every day closing at 00:00 UTC and 365 periods a year.

The prices are the bundled Binance BTCUSDT daily candles (examples/data/ohlcv), written in the
layout of Yahoo's download; Yahoo's BTC-USD bars cover the same UTC days.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, invoke

from signalops import venues as routing
from signalops.adapters import equities
from signalops.adapters.snapshots import SnapshotStore
from signalops.config import load_config, loads_config

BINANCE_DAILY = DATA / "ohlcv" / "Binance_BTCUSDT_d.csv"
CONFIG = """\
venues:
  yahoo: {exchange: yfinance, quote: USD}
assets:
  BTC: {venue: yahoo, symbol: BTC-USD}
  AAPL: {venue: yahoo}
default_venue: null
"""
STRATEGY = """\
strategy:
  name: "Dip"
  assets: ["BTC"]
  rules:
    - id: oversold
      source: technical
      conditions:
        - when: "rsi(14) < 30"
  exit:
    rules:
      - id: recovered
        source: technical
        conditions:
          - when: "rsi(14) > 55"
  execution:
    position_size: 0.05
    action_mode: paper
"""


@pytest.fixture(autouse=True)
def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


def yahoo_csv(path: Path, first: str, last: str) -> Path:
    """The bundled daily BTC candles from ``first`` to ``last`` as Yahoo's download writes them."""
    with BINANCE_DAILY.open(encoding="utf-8") as handle:
        next(handle)  # CryptoDataDownload's banner line
        rows = [r for r in csv.DictReader(handle) if first <= r["Date"] <= last]
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for r in sorted(rows, key=lambda r: r["Date"]):
        o, h, low, c = r["Open"], r["High"], r["Low"], r["Close"]
        lines.append(f"{r['Date']},{o},{h},{low},{c},{c},{round(float(r['Volume USDT']))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def imported(tmp_path: Path, first: str, last: str) -> tuple[Path, Path]:
    config = tmp_path / "signalops.yaml"
    config.write_text(CONFIG)
    prices = yahoo_csv(tmp_path / "BTC-USD.csv", first, last)
    out = tmp_path / "store"
    result = invoke("data", "import", str(prices), "--source", "technical", "--asset", "BTC",
                    "--config", str(config), "--to", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert (result.stdout, result.stderr) == (
        f"technical          90 points in candles/yfinance/BTC-USD/1d  {out}/technical.jsonl\n",
        "",
    )
    return config, out


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_yahoos_crypto_symbols_are_coin_dash_currency_and_share_classes_are_not():
    crypto = routing.yahoo_crypto
    assert [crypto(s) for s in ("BTC-USD", "eth-eur", "SOL-USD", "ETH-BTC")] == [True] * 4
    assert [crypto(s) for s in ("AAPL", "BRK-B", "BAC-PB", "7203.T", "BTC")] == [False] * 5


def test_btc_usd_on_a_yfinance_venue_trades_around_the_clock_and_aapl_in_sessions(
    tmp_path: Path,
):
    config = tmp_path / "signalops.yaml"
    config.write_text(CONFIG)
    venues = load_config(config).venues

    assert (venues.in_sessions(["BTC"]), venues.in_sessions(["AAPL"])) == (False, True)
    assert venues.in_sessions(["AAPL", "BTC"]) is False
    # The fundamentals answer BTC NOT_APPLICABLE: it is not among the stocks of the config.
    assert venues.on_stock_venues(["BTC", "AAPL"]) == frozenset({"AAPL"})


def test_an_imported_daily_bar_closes_at_the_next_utc_midnight_weekends_included(tmp_path: Path):
    _, out = imported(tmp_path, "2023-01-01", "2023-03-31")

    series = SnapshotStore(out).series("technical", "candles/yfinance/BTC-USD/1d")

    assert series is not None
    # 2023-01-01 was a Sunday: its bar closes at Monday's 00:00 UTC, not at 16:00 New York.
    assert series.times[:3] == [utc("2023-01-02"), utc("2023-01-03"), utc("2023-01-04")]
    assert series.times[-1] == utc("2023-04-01")


def test_evaluate_on_a_saturday_reads_fridays_bar_closed_at_midnight_utc(tmp_path: Path):
    config, out = imported(tmp_path, "2023-01-01", "2023-03-31")
    strategy = tmp_path / "dip.yaml"
    strategy.write_text(STRATEGY)

    result = invoke("evaluate", str(strategy), "--at", "2023-03-11T12:00Z", "--data", str(out),
                    "--config", str(config))  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert "rsi(14) = 28.4027 at 2023-03-11T00:00:00Z (12h old, max 2d)" in result.stdout


def test_a_backtest_decides_every_day_and_annualises_with_365(tmp_path: Path):
    config, out = imported(tmp_path, "2023-01-01", "2023-03-31")
    strategy = tmp_path / "dip.yaml"
    strategy.write_text(STRATEGY)

    result = invoke("backtest", str(strategy), "--data", str(out), "--config", str(config),
                    "--from", "2023-02-01", "--to", "2023-03-31",
                    "--report", str(tmp_path / "report"))  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert "trade in sessions" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Dip · BTC · 2023-02-01 → 2023-03-31 · 59 periods of 1d"
    assert (
        "Sharpe/Sortino: risk-free rate 0.00% a year; annualised with 365 periods a year "
        "(1d periods, 365-day year)"
    ) in lines


def test_the_live_feed_dates_a_crypto_bar_at_the_end_of_its_utc_day():
    """yfinance dates a crypto bar at 00:00 UTC of its day (exchange CCC, time zone UTC); it
    was read as the New York date before it (the evening of the day before), at 16:00 there:
    27 hours before the bar closed."""
    stamp = pd.Timestamp("2023-03-10", tz="UTC")

    assert equities._crypto_close(stamp) == utc("2023-03-11")
    assert equities._session_close(pd.Timestamp("2023-03-10", tz="America/New_York")) == (
        utc("2023-03-10T21:00")
    )


def test_btc_on_yahoo_has_no_company_fundamentals(tmp_path: Path):
    """It was taken for a stock named BTC, and its fundamentals looked for (NO_DATA)."""
    config, out = imported(tmp_path, "2023-01-01", "2023-03-31")
    strategy = tmp_path / "value.yaml"
    strategy.write_text(
        STRATEGY.replace("source: technical", "source: fundamental", 1).replace(
            'when: "rsi(14) < 30"', 'when: "market_cap > 1B"'
        )
    )

    result = invoke("evaluate", str(strategy), "--at", "2023-03-11T12:00Z", "--data", str(out),
                    "--config", str(config))  # fmt: skip

    assert (result.exit_code, result.stderr) == (0, "")
    assert "market_cap: NOT_APPLICABLE: BTC is a crypto asset: it has no company fundamentals" in [
        line.strip(" │├└─") for line in result.stdout.splitlines()
    ]
    venues = load_config(config).venues
    assert venues.yahoo_crypto_assets() == frozenset({"BTC"})


EUR_CONFIG = """\
venues:
  yahoo: {exchange: yfinance, quote: USD}
assets:
  ETH: {venue: yahoo, symbol: ETH-EUR}
  AAPL: {venue: yahoo}
default_venue: null
"""
EUROS_AND_DOLLARS = (
    "ETH is quoted in EUR (venue yahoo) and AAPL in USD (venue yahoo), and SignalOps converts "
    "no currency: one paper account cannot hold them; backtest or run the assets of each "
    "currency apart, one account per currency"
)


def test_a_yahoo_coin_priced_in_euros_is_money_in_euros_not_in_its_venues_dollars():
    """Regression: ``ETH-EUR`` on a USD yfinance venue was counted in USD: beside AAPL nothing
    was refused, and its EUR closes went into a USD account (``account_quote`` was USD)."""
    config = loads_config(EUR_CONFIG)
    assert config.account_quote(["ETH"]) == "EUR"
    assert config.quote_problem(["ETH"]) is None
    assert config.quote_problem(["ETH", "AAPL"]) == EUROS_AND_DOLLARS
    tether = loads_config(EUR_CONFIG.replace("ETH-EUR", "ETH-USDT"))
    assert tether.quote_problem(["ETH", "AAPL"]) is None  # dollars at par
    assert tether.par_note(["ETH", "AAPL"]) is not None


def test_validate_warns_of_a_yahoo_coin_priced_in_another_currency_than_its_venue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    Path("signalops.yaml").write_text(EUR_CONFIG, encoding="utf-8")

    result = invoke("validate", "signalops.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: signalops.yaml:4:31: assets.ETH.symbol: 'ETH-EUR' is priced in EUR, not in "
        "venue yahoo's quote USD: ETH's money is in EUR, which one paper account cannot hold "
        "beside the venue's USD (give ETH a yfinance venue with quote: EUR, or write ETH-USD)\n"
        "    ETH: {venue: yahoo, symbol: ETH-EUR}\n"
        "                                ^\n"
        f"warning: signalops.yaml: {EUROS_AND_DOLLARS} (backtest and run refuse them together)\n"
    )


def test_a_yahoo_coin_in_a_dollar_stablecoin_on_a_usd_venue_is_not_warned_of(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Dollars at par: one account holds ETH-USDT beside the venue's USD stocks (a run says so)."""
    monkeypatch.chdir(tmp_path)
    Path("signalops.yaml").write_text(EUR_CONFIG.replace("ETH-EUR", "ETH-USDT"), encoding="utf-8")

    result = invoke("validate", "signalops.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
