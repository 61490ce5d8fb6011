"""The technical source on the venues of a configuration (signalops.venues, signalops.config).

Live path: the venue names ``coinbaseexchange``; the adapter builds ccxt's own
``ccxt.coinbaseexchange`` for it, and only that instance's HTTP layer is replaced, at the
``requests.Session`` boundary, by a transport serving a REAL recorded Coinbase answer (ccxt's own
static test fixture, see tests/fixtures/ccxt/README.md). URL building, the market-id symbol
(``BTC-USDT``) and the response parsing are ccxt's.

Replay path: the bundled Binance snapshots must answer exactly as before under the default
venues, and an equity venue (yfinance) must be UNKNOWN with a reason, never a Binance question.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest
import requests
from binance_recorded import response as _response

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import CcxtCandleFeed, TechnicalAdapter, page_limit
from signalops.catalogue.builtin import TECHNICAL
from signalops.codes import Code
from signalops.config import loads_config
from signalops.observation import DataError, Observation, Request
from signalops.venues import DEFAULT_VENUES

RECORDED = json.loads(
    (
        Path(__file__).parents[1] / "fixtures" / "ccxt" / "coinbaseexchange_fetchOHLCV.json"
    ).read_text()
)
CANDLE_OPEN = datetime(2024, 3, 13, 11, tzinfo=UTC)  # the recorded candle
CANDLE_CLOSE = datetime(2024, 3, 13, 12, tzinfo=UTC)

COINBASE_CONFIG = """
venues:
  coinbase: {exchange: coinbaseexchange, quote: USD}
assets:
  BTC: {venue: coinbase, symbol: BTC-USDT}
default_venue: coinbase
"""

# What ``load_markets`` would have found for BTC-USDT (its multi-megabyte answer is not recorded).
BTC_USDT = {
    "id": "BTC-USDT",
    "symbol": "BTC/USDT",
    "base": "BTC",
    "quote": "USDT",
    "baseId": "BTC",
    "quoteId": "USDT",
    "type": "spot",
    "spot": True,
    "margin": False,
    "swap": False,
    "future": False,
    "option": False,
    "contract": False,
    "active": True,
    "precision": {"amount": 1e-08, "price": 0.01},
    "limits": {"amount": {"min": None, "max": None}, "cost": {"min": None, "max": None}},
}


class RecordedCoinbase(requests.adapters.BaseAdapter):
    """Serves ``GET /products/<id>/candles`` from the recorded body, as Coinbase does: only the
    candles opening within the request's ``start``..``end``."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append((url.netloc, url.path, query))
        if url.path != "/products/BTC-USDT/candles":
            return _response(request, 404, '{"message":"NotFound"}')
        start = _epoch(query["start"]) if "start" in query else 0
        end = _epoch(query["end"]) if "end" in query else 2**62
        rows = [row for row in RECORDED["httpResponse"] if start <= row[0] <= end]
        return _response(request, 200, json.dumps(rows))

    def close(self) -> None:
        pass


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def request(metric: str, asset: str, **given: Any) -> Request:
    spec = TECHNICAL.get(metric)
    assert spec is not None
    params = {
        p.name: p.coerce(given[p.name]) if p.name in given else p.default for p in spec.params
    }
    return Request("technical", spec.name, tuple(params.items()), asset)


def served(adapter: TechnicalAdapter, asset: str, stub: RecordedCoinbase) -> ccxt.Exchange:
    """The ccxt exchange the adapter built for ``asset``'s venue, on the recorded transport."""
    feed = adapter.feeds.feed_for(asset)
    assert isinstance(feed, CcxtCandleFeed)
    exchange = feed.exchange
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", stub)
    exchange.enableRateLimit = False  # the recorded server has no rate limit to respect
    return exchange


def test_configured_coinbase_venue_reads_the_recorded_candle_through_ccxts_own_class(tmp_path):
    venues = loads_config(COINBASE_CONFIG).venues
    stub = RecordedCoinbase()
    adapter = TechnicalAdapter.live(venues=venues, record=SnapshotStore(tmp_path))
    exchange = served(adapter, "BTC", stub)
    close = request("close", "BTC", timeframe="1h")

    answer = adapter.fetch([close], CANDLE_CLOSE)[close]

    assert type(exchange) is ccxt.coinbaseexchange
    assert isinstance(answer, Observation)
    assert answer.value == 73370.65  # the recorded close
    assert answer.as_of == CANDLE_CLOSE
    assert answer.detail == {"exchange": "coinbaseexchange", "candles": 1}
    [(host, path, query)] = stub.requests
    assert (host, path, query["granularity"]) == (
        "api.exchange.coinbase.com",
        "/products/BTC-USDT/candles",
        "3600",
    )


def test_ccxt_still_parses_the_recorded_payload_as_recorded():
    exchange = ccxt.coinbaseexchange({"enableRateLimit": False})
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", RecordedCoinbase())

    parsed = exchange.fetch_ohlcv("BTC/USDT", "1h", since=int(CANDLE_OPEN.timestamp() * 1000))

    assert parsed == RECORDED["parsedResponse"]


def test_a_recorded_venue_candle_replays_under_the_same_venue_with_the_same_value(tmp_path):
    venues = loads_config(COINBASE_CONFIG).venues
    store = SnapshotStore(tmp_path)
    live = TechnicalAdapter.live(venues=venues, record=store)
    served(live, "BTC", RecordedCoinbase())
    close = request("close", "BTC", timeframe="1h")
    recorded = live.fetch([close], CANDLE_CLOSE)[close]

    replayed = TechnicalAdapter.replay(SnapshotStore(tmp_path), venues=venues).fetch(
        [close], CANDLE_CLOSE
    )[close]

    assert store.series("technical", "candles/coinbaseexchange/BTC-USDT/1h") is not None
    assert isinstance(replayed, Observation) and isinstance(recorded, Observation)
    assert (replayed.value, replayed.as_of) == (recorded.value, recorded.as_of)


def test_coinbase_pages_hold_300_candles_so_a_full_page_is_not_mistaken_for_the_last():
    assert page_limit(ccxt.coinbaseexchange()) == 300
    assert page_limit(ccxt.binance()) == 1000


def test_equity_without_recorded_daily_candles_is_no_data_naming_the_import(tmp_path):
    venues = loads_config("venues: {stocks: {exchange: yfinance, quote: USD}}\n"
                          "assets: {AAPL: {venue: stocks}}\n").venues  # fmt: skip
    close = request("close", "AAPL", timeframe="1d")

    answer = TechnicalAdapter.replay(SnapshotStore(tmp_path), venues=venues).fetch(
        [close], datetime(2024, 6, 3, tzinfo=UTC)
    )[close]

    assert isinstance(answer, DataError)
    assert answer.reason == Code.NO_DATA
    assert "candles/yfinance/AAPL/1d" in answer.message
    assert "signalops data import" in answer.message


def test_an_asset_routed_to_polymarket_has_no_candles_and_is_no_adapter(replay_store):
    venues = loads_config("assets: {AAPL: {venue: polymarket}}\n").venues
    close = request("close", "AAPL")

    answer = TechnicalAdapter.replay(replay_store, venues=venues).fetch(
        [close], datetime(2024, 6, 3, tzinfo=UTC)
    )[close]

    assert isinstance(answer, DataError) and answer.reason == Code.NO_ADAPTER
    assert "which has no candles" in answer.message


def test_an_asset_no_venue_serves_is_unknown_when_default_venue_is_null(replay_store):
    venues = loads_config("default_venue: null\n").venues
    close = request("close", "BTC")

    answer = TechnicalAdapter.replay(replay_store, venues=venues).fetch(
        [close], datetime(2024, 6, 3, tzinfo=UTC)
    )[close]

    assert isinstance(answer, DataError) and answer.reason == Code.NO_ADAPTER


@pytest.mark.parametrize(
    "metric, timeframe", [("close", "1d"), ("rsi", "1d"), ("ema", "1h"), ("macd", "1h")]
)
def test_default_venues_replay_the_bundled_binance_series_exactly_as_before(
    replay_store, metric, timeframe
):
    as_of = datetime(2023, 3, 12, tzinfo=UTC)
    asked = request(metric, "BTC", timeframe=timeframe)

    before = TechnicalAdapter.replay(replay_store).fetch([asked], as_of)[asked]
    now = registry.replay_adapters(replay_store, venues=DEFAULT_VENUES)["technical"].fetch(
        [asked], as_of
    )[asked]

    assert now == before
