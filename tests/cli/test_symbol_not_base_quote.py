"""A venue symbol written as an exchange's own id (``BTCEUR``) is warned of by ``validate``, and
the backtest that cannot find its candles says the symbol is the matter, not the currency.

Regression: with ``BTC: {venue: kraken, symbol: BTCEUR}`` (a EUR venue) ``validate`` said ok,
and ``backtest``, whose data held ``candles/kraken/BTC/EUR/1d``, said they were "in another
quote currency than the venue's ... in the venue's": both are EUR, and the sentence stopped
there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES, invoke

from signalops.adapters.snapshots import SnapshotStore

CONFIG = """\
venues:
  kraken: {{exchange: kraken, quote: EUR}}
assets:
  BTC: {{venue: kraken, symbol: {symbol}}}
default_venue: null
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(symbol: str) -> str:
    Path("signalops.yaml").write_text(CONFIG.format(symbol=symbol), encoding="utf-8")
    return "signalops.yaml"


def test_validate_warns_of_a_symbol_written_as_the_exchanges_id_with_base_quote(folder: Path):
    result = invoke("validate", config("BTCEUR"))

    assert result.exit_code == 0  # it may be the exchange's id: a warning
    assert result.stderr == (
        "warning: signalops.yaml:4:32: assets.BTC.symbol: 'BTCEUR' is not written BASE/QUOTE: "
        "it is taken as kraken's own market id, which only kraken can confirm, and its candles "
        "are read as candles/kraken/BTCEUR/<timeframe> (write BTC/EUR, ccxt's unified symbol)\n"
        "    BTC: {venue: kraken, symbol: BTCEUR}\n"
        "                                 ^\n"
    )


def test_validate_of_a_strategy_with_the_config_says_it_too(folder: Path):
    result = invoke(
        "validate", str(STRATEGIES / "technical_baseline.yaml"), "--config", config("BTC-EUR")
    )

    assert result.exit_code == 0
    assert result.stderr.startswith(
        "warning: signalops.yaml:4:32: assets.BTC.symbol: 'BTC-EUR' is not written BASE/QUOTE"
    )
    assert "(write BTC/EUR, ccxt's unified symbol)\n" in result.stderr


def test_validate_warns_of_a_base_quote_symbol_in_another_quote_than_its_venues(folder: Path):
    result = invoke("validate", config("BTC/USD"))

    assert result.exit_code == 0
    assert result.stderr.splitlines()[0] == (
        "warning: signalops.yaml:4:32: assets.BTC.symbol: 'BTC/USD' is quoted in USD, not in "
        "venue kraken's quote EUR: its prices would be booked as EUR (give the venue quote: "
        "USD, or write BTC/EUR)"
    )


@pytest.mark.parametrize("symbol", ["BTC/EUR", "BTC/EUR:EUR"])
def test_a_unified_symbol_in_the_venues_quote_is_not_warned_of(folder: Path, symbol: str):
    result = invoke("validate", config(symbol))

    assert result.exit_code == 0
    assert result.stderr == ""


def test_the_backtest_says_the_data_holds_them_under_base_quote_not_another_currency(
    folder: Path,
):
    SnapshotStore(folder / "data").write(
        "technical",
        [("candles/kraken/BTC/EUR/1d", 1_672_531_200 + day * 86_400, [1, 2, 1, 2, 3])
         for day in range(60)],
    )  # fmt: skip

    result = invoke(
        "backtest", str(STRATEGIES / "technical_baseline.yaml"), "--config", config("BTCEUR"),
        "--data", "data", "--from", "2023-01-10", "--to", "2023-02-10", "--report", "out",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == (
        "error: no recorded 1d candles for BTC in data (series "
        "candles/kraken/BTCEUR/1d): the data has them as series candles/kraken/BTC/EUR/1d, "
        "under the symbol BTC/EUR, not BTCEUR as the config writes it: write BTC: {venue: "
        "kraken, symbol: BTC/EUR} under the config's assets (or leave the symbol out: BTC/EUR "
        "is its default)\n"
    )
