"""``validate`` warns of assets that look like stocks but go to a crypto exchange, one line a
strategy, with the config entries that put them on a yfinance venue.

Regression: under the config ``signalops init`` writes (crypto venues only), a strategy of MSFT,
NVDA and KO with EDGAR/Yahoo fundamental rules validated clean, though every one of them would
be read as a Binance coin (``evaluate`` then suggested downloading ``MSFT/USDT`` from Binance).
The other way round of ``test_validate_fundamentals_on_crypto``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import invoke as run

QUALITY_DIP = """\
strategy:
  name: Quality_Dip
  assets: ["MSFT", "NVDA", "KO"]
  defaults: {max_age: 4d}
  rules:
    - id: value
      source: fundamental
      conditions:
        - when: "trailing_pe < 40"
    - id: dip
      source: technical
      conditions:
        - when: "rsi(14) < 35"
"""
TREND = """\
strategy:
  name: Trend
  assets: [ASSETS]
  defaults: {max_age: 4d}
  rules:
    - id: up
      source: technical
      conditions:
        - when: "rsi(14) < 30"
"""
INIT_CONFIG = "audit:\n  path: signalops.db\nkill_switch: KILL\n"  # what init leaves uncommented


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


def test_a_stock_strategy_under_a_crypto_only_config_is_told_how_to_map_its_stocks(in_tmp: Path):
    config = write("signalops.yaml", INIT_CONFIG)

    result = run("validate", write("q.yaml", QUALITY_DIP), "--config", config)

    assert result.exit_code == 0  # a warning: the config may mean it
    assert result.stderr == (
        "warning: q.yaml: MSFT, NVDA and KO look like stocks (the strategy reads fundamentals, "
        "which only stocks have) but go to binance, a crypto exchange, as MSFT/USDT, NVDA/USDT "
        "and KO/USDT: add venues: {stocks: {exchange: yfinance, quote: USD}} and assets: "
        "{MSFT: {venue: stocks}, NVDA: {venue: stocks}, KO: {venue: stocks}} to the config\n"
    )


def test_the_configs_own_stock_venue_is_named_for_the_one_it_does_not_map(in_tmp: Path):
    config = write(
        "signalops.yaml",
        "venues:\n  equities: {exchange: yfinance, quote: USD}\n"
        "assets:\n  MSFT: {venue: equities}\n  NVDA: {venue: equities}\n",
    )

    result = run("validate", write("q.yaml", QUALITY_DIP), "--config", config)

    assert result.exit_code == 0
    # KO alone: its quote (USDT, beside the others' USD) is not warned of again.
    assert result.stderr == (
        "warning: q.yaml: KO looks like a stock (the strategy reads fundamentals, which only "
        "stocks have) but goes to binance, a crypto exchange, as KO/USDT: add assets: "
        "{KO: {venue: equities}} to the config\n"
    )


def test_a_technical_strategy_of_a_stock_the_bundled_data_lists_is_told_too(in_tmp: Path):
    result = run("validate", write("t.yaml", TREND.replace("ASSETS", "AAPL, BTC")))

    assert result.exit_code == 0
    assert result.stderr == (
        "warning: t.yaml: AAPL looks like a stock (listed as a stock in the bundled data) but "
        "goes to binance, a crypto exchange, as AAPL/USDT: add venues: {stocks: {exchange: "
        "yfinance, quote: USD}} and assets: {AAPL: {venue: stocks}} to the config\n"
    )


def test_coins_and_unknown_tickers_of_a_technical_strategy_are_not(in_tmp: Path):
    result = run("validate", write("t.yaml", TREND.replace("ASSETS", "BTC, ETH, KO")))

    assert (result.exit_code, result.stderr) == (0, "")
