"""The Portfolio page's market prices: where the gate would price each held asset.

An asset the config puts on a Polymarket venue is an outcome token, which no exchange serves
candles of: it is priced from the token's recorded price (market 511754, "Will Donald Trump be
inaugurated?", whose YES price labelled 2024-11-08 is 0.9595 in the bundled data), and BTC
beside it from the replay's hourly close, as ``Pipeline.gate`` would.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from signalops.config import loads_config
from signalops.dashboard.books import market_prices

YES_TOKEN = "45714870634090908403813747458214625542376052548606303175331201110938821302832"
NOON = datetime(2024, 11, 8, 12, tzinfo=UTC)
MIDNIGHT = datetime(2024, 11, 8, tzinfo=UTC)
VENUES = f"""\
venues:
  pm: {{exchange: polymarket, sandbox: false}}
assets:
  TRUMP_YES: {{venue: pm, symbol: "{YES_TOKEN}"}}
"""


def test_an_outcome_token_held_is_priced_at_its_recorded_price_and_btc_at_its_close(
    replay_dir: Path,
):
    prices = market_prices(loads_config(VENUES), ["TRUMP_YES", "BTC"], NOON, replay=replay_dir)

    assert prices == {
        "TRUMP_YES": (Decimal("0.9595"), MIDNIGHT),
        "BTC": (Decimal("75934.46"), NOON),
    }


def test_an_asset_on_no_polymarket_venue_is_not_priced_from_a_token_of_its_name(
    replay_dir: Path,
):
    # Without the venue, TRUMP_YES is an exchange asset: no candles of it, so no price (the
    # page then marks it at its last fill and says so).
    prices = market_prices(loads_config("{}"), ["TRUMP_YES", "BTC"], NOON, replay=replay_dir)

    assert prices == {"BTC": (Decimal("75934.46"), NOON)}
