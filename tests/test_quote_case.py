"""A quote currency written in lower case is read in upper case, as symbols and ledgers spell it.

Regression: ``venues: {kraken: {exchange: kraken, quote: eur}}`` was accepted and routed BTC to
``BTC/eur``: ``data import --asset BTC`` stored ``candles/kraken/BTC/eur/1d``, which no
``BTC/EUR`` download fills, and the account was made in ``eur``.
"""

from __future__ import annotations

from pathlib import Path

from conftest import invoke

from signalops.config import loads_config

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
# ccxt's candle arrays name no market (a CryptoDataDownload file names BTCUSDT, refused on a
# EUR venue): the venue's pair is the one they land under.
CCXT_HOURLY = FIXTURES / "ccxt_BTCUSDT_1h_2023-03-01.json"
CONFIG = "venues:\n  kraken: {exchange: kraken, quote: eur}\nassets:\n  BTC: {venue: kraken}\n"


def test_a_lower_case_quote_is_read_in_upper_case_for_the_venue_and_the_paper_account():
    config = loads_config(CONFIG + "paper: {quote: eur}\n")

    venue = config.venues.named("kraken")
    assert venue is not None and venue.quote == "EUR"
    assert config.venues.symbol_of("BTC") == "BTC/EUR"
    assert config.paper.quote == "EUR"
    assert config.quote_problem(["BTC"]) is None
    assert config.account_quote(["BTC"]) == "EUR"


def test_candles_imported_for_it_land_under_the_upper_case_pair(tmp_path: Path):
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    out = tmp_path / "out"

    result = invoke(
        "data", "import", str(CCXT_HOURLY), "--source", "technical", "--asset", "BTC",
        "--config", str(tmp_path / "signalops.yaml"), "--to", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert " points in candles/kraken/BTC/EUR/1h " in result.stdout
