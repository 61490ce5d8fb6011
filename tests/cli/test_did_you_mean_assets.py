"""``validate``'s warning of an asset no configured venue serves says which configured asset it
most likely means: one equal but for case first (``aapl`` -> ``AAPL``), else the nearest by one
or two edits (``APPL`` -> ``AAPL``).

Regression test: with a config mapping AAPL, ``assets: ["APPL", "MSFT", "aapl"]`` warned only
``no configured venue serves asset APPL`` (and ``aapl``), with no word of AAPL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import DATA
from conftest import invoke as run

CONFIG = """\
venues:
  stocks: {exchange: yfinance, quote: USD}
assets:
  AAPL: {venue: stocks}
  MSFT: {venue: stocks}
  JPM: {venue: stocks}
  GSPC: {venue: stocks, symbol: "^GSPC"}
default_venue: null
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def strategy(assets: str) -> str:
    return f"""\
strategy:
  name: T
  assets: {assets}
  defaults: {{max_age: 4d}}
  rules:
    - id: up
      source: technical
      conditions:
        - when: "rsi(14) < 30"
"""


def test_a_misspelt_and_a_lowercase_ticker_are_told_the_configured_one(in_tmp: Path):
    (in_tmp / "t.yaml").write_text(strategy('["APPL", "MSFT", "aapl"]'), encoding="utf-8")

    result = run("validate", "t.yaml")

    assert result.exit_code == 0  # warnings: the strategy itself is valid
    assert result.stdout.endswith("1 file: 1 valid\n")
    assert result.stderr == (
        "warning: t.yaml: no configured venue serves asset APPL (did you mean 'AAPL'?)\n"
        "warning: t.yaml: no configured venue serves asset aapl (did you mean 'AAPL'?)\n"
    )


def test_an_asset_near_no_configured_one_gets_no_guess(in_tmp: Path):
    (in_tmp / "t.yaml").write_text(strategy('["BTC", "gspc", "JMP"]'), encoding="utf-8")

    result = run("validate", "t.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: t.yaml: no configured venue serves asset BTC\n"
        "warning: t.yaml: no configured venue serves asset gspc (did you mean 'GSPC'?)\n"
        "warning: t.yaml: no configured venue serves asset JMP (did you mean 'JPM'?)\n"
    )


def test_a_lowercase_ticker_the_default_venue_would_take_is_told_the_configured_one(
    in_tmp: Path,
):
    """It passed without a word: aapl went to binance aapl/USDT, not to AAPL's venue."""
    config = CONFIG.replace("default_venue: null\n", "")  # binance takes unmapped assets
    (in_tmp / "signalops.yaml").write_text(config, encoding="utf-8")
    (in_tmp / "t.yaml").write_text(strategy('["aapl", "MSFT"]'), encoding="utf-8")

    result = run("validate", "t.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: t.yaml: asset aapl is not the configured AAPL (asset names are "
        "case-sensitive): it goes to binance aapl/USDT; write AAPL\n"
    )


def test_data_import_takes_a_lowercase_ticker_as_the_config_spells_it(in_tmp: Path):
    """It stored candles/binance/aapl/USDT/1d, which no strategy of AAPL reads."""
    daily = DATA / "equities" / "prices" / "daily" / "AAPL.csv"

    result = run(
        "data", "import", str(daily), "--source", "technical", "--asset", "aapl", "--to", "R"
    )

    assert result.exit_code == 0, result.stderr
    assert result.stderr == "note: --asset aapl: imported as AAPL, as the config spells it\n"
    assert "candles/yfinance/AAPL/1d" in result.stdout


def test_a_misspelt_stock_the_default_crypto_exchange_would_take_is_told_the_configured_one(
    in_tmp: Path,
):
    """It passed without a word: APPL went to binance APPL/USDT (no such market, NO_DATA at
    every decision) while AAPL is configured on the stock venue. A near name of the same kind
    of venue (ETH beside a configured ETC) is its own asset, and is not told anything."""
    config = CONFIG.replace("default_venue: null\n", "  ETC: {venue: binance}\n")
    (in_tmp / "signalops.yaml").write_text(config, encoding="utf-8")
    (in_tmp / "t.yaml").write_text(strategy('["APPL", "ETH"]'), encoding="utf-8")

    result = run("validate", "t.yaml")

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: t.yaml: asset APPL is not among the configured assets (did you mean 'AAPL', "
        "on stocks?): it goes to binance APPL/USDT\n"
    )


def test_a_three_letter_crypto_ticker_one_letter_from_a_stock_is_its_own_asset(in_tmp: Path):
    """ARB (Arbitrum) beside a configured ARM (a stock) was told 'did you mean ARM?'."""
    config = CONFIG.replace("default_venue: null\n", "  ARM: {venue: stocks}\n")
    (in_tmp / "signalops.yaml").write_text(config, encoding="utf-8")
    (in_tmp / "t.yaml").write_text(strategy('["ARB"]'), encoding="utf-8")

    result = run("validate", "t.yaml")

    assert (result.exit_code, result.stderr) == (0, "")
