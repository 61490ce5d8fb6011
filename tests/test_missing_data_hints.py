"""When replay data is missing, the message names a command that provides it, and it does.

Each test evaluates a strategy on an empty snapshot folder, reads the command out of the UNKNOWN
leaf exactly as a user sees it, runs that very command (``FILE`` replaced by a real file), and
evaluates again: the leaf now has its value. Downloads go through the live clients fed REAL
recorded answers at their transport boundary: ccxt's own ``coinbaseexchange`` class with the
recorded Coinbase candle (tests/fixtures/ccxt) at its ``requests`` session, DeFiLlama's March 2023
USDC chart and the CoinDesk feed (examples/data) through an ``httpx.MockTransport``.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import httpx
import pytest
import requests
from binance_recorded import response
from click.testing import CliRunner, Result
from conftest import DATA, ROOT

from signalops.adapters import hints
from signalops.adapters.bundled import DEFAULT_SNAPSHOT_DIR
from signalops.adapters.download import Connections
from signalops.adapters.importing import SOURCES as IMPORTED
from signalops.cli import cli
from signalops.config import load_config, loads_config
from signalops.venues import Venue
from signalops.workspace import with_venue

FIXTURES = ROOT / "tests" / "fixtures"
COINBASE = json.loads((FIXTURES / "ccxt" / "coinbaseexchange_fetchOHLCV.json").read_text())
ETH_DAILY = FIXTURES / "imports" / "freqtrade_ETHUSDT_1d_2023-Q1.parquet"
BTC_DAILY = FIXTURES / "imports" / "cryptodatadownload_BTCUSDT_d_2022-06_2023-03.csv"
USDC_CHART = (
    DATA
    / "defillama"
    / "derived_api_shape"
    / "stablecoincharts_all_stablecoin2_USDC_2023-03_PARTIAL.json"
).read_text()
FEED = "https://www.coindesk.com/arc/outboundfeeds/rss"
COINDESK = (DATA / "rss" / "coindesk_2026-09-25.xml").read_text()

CONFIG = """\
venues:
  coinbase: {exchange: coinbaseexchange, quote: USD}
assets:
  ETH: {venue: coinbase, symbol: ETH-USD}
  BTC: {venue: coinbase, symbol: BTC-USDT}
"""

# What ``load_markets`` would have found for BTC-USDT (its multi-megabyte answer is not recorded).
BTC_USDT = {
    "id": "BTC-USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC",
    "quoteId": "USDT", "type": "spot", "spot": True, "margin": False, "swap": False,
    "future": False, "option": False, "contract": False, "active": True,
    "precision": {"amount": 1e-08, "price": 0.01},
    "limits": {"amount": {"min": None, "max": None}, "cost": {"min": None, "max": None}},
}  # fmt: skip


def strategy(asset: str, condition: dict[str, Any], timeframe: str | None = None) -> str:
    """One rule of one condition (``source`` names the rule's source)."""
    condition = dict(condition)
    source = condition.pop("source")
    defaults = f"  defaults: {{params: {{timeframe: {timeframe}}}}}\n" if timeframe else ""
    return (
        f"strategy:\n  name: hinted\n  assets: [{asset}]\n{defaults}  rules:\n"
        f"    - id: seen\n      source: {source}\n"
        f"      conditions: [{json.dumps(condition)}]\n"
        "  execution: {position_size: 0.01, action_mode: paper}\n"
    )


PRICED = {"source": "technical", "metric": "close", "operator": ">", "threshold": 0}


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder: the config above as ./signalops.yaml and an empty ./replay."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIGNALOPS_CONFIG", raising=False)
    (tmp_path / "signalops.yaml").write_text(CONFIG)
    (tmp_path / "replay").mkdir()
    return tmp_path


def run(*args: str, connections: Connections | None = None) -> Result:
    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), obj=connections, prog_name="signalops")


def evaluate(at: str, asset: str, text: str) -> Result:
    Path("s.yaml").write_text(text)
    result = run("evaluate", "s.yaml", "--at", at, "--asset", asset, "--data", "replay")
    assert result.exit_code == 0, result.output
    return result


def leaf(result: Result) -> str:
    """The first leaf line that says why data is missing, as printed."""
    return next(line for line in result.stdout.splitlines() if "NO_DATA" in line).strip()


def commands(message: str, file: Path | None = None) -> list[list[str]]:
    """Every quoted command of ``message``, split as a shell would, with FILE filled in."""
    found = re.findall(r"'(signalops data (?:download|import) [^']*)'", message)
    return [
        [str(file) if word == "FILE" else word for word in shlex.split(cmd)[1:]] for cmd in found
    ]


# --- candles -----------------------------------------------------------------------------------


def test_a_configured_symbol_is_imported_under_its_asset_so_the_replay_reads_the_file(folder):
    text = strategy("ETH", PRICED)
    before = evaluate("2023-04-01", "ETH", text)

    assert leaf(before) == (
        "close: NO_DATA: no recorded 1d candles for ETH-USD on coinbaseexchange: download it "
        "with 'signalops data download --source technical --asset ETH --timeframe 1d "
        "--since 2022-07-25 --until 2023-04-01 --to replay' or import a file with "
        "'signalops data import FILE --source technical --asset ETH --timeframe 1d --to replay'"
    )
    _, imported = commands(leaf(before), ETH_DAILY)
    done = run(*imported)
    assert (done.exit_code, done.stdout) == (
        0,
        "technical          90 points in candles/coinbaseexchange/ETH-USD/1d  "
        "replay/technical.jsonl\n",
    )
    after = evaluate("2023-04-01", "ETH", text)
    assert "NO_DATA" not in after.stdout
    assert "close = 1,821.52 at 2023-04-01T00:00:00Z" in after.stdout
    # A backtest looks for every timeframe's whole history (as_of = inf); hourly ones are missing
    backtest = run("backtest", "s.yaml", "--data", "replay", "--from", "2023-03-01", "--to",
                   "2023-03-31", "--report", "report")  # fmt: skip
    assert backtest.exit_code == 0, backtest.output


class RecordedCoinbase(requests.adapters.BaseAdapter):
    """``GET /products/BTC-USDT/candles`` from the recorded body: the candles opening within the
    request's ``start``..``end``, as Coinbase serves them."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path != "/products/BTC-USDT/candles":
            return response(request, 404, '{"message":"NotFound"}')
        start, end = (
            _epoch(query[k]) if k in query else d for k, d in (("start", 0), ("end", 2**62))
        )
        rows = [row for row in COINBASE["httpResponse"] if start <= row[0] <= end]
        return response(request, 200, json.dumps(rows))

    def close(self) -> None:
        pass


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def coinbase(venue: Venue) -> ccxt.Exchange:
    exchange = getattr(ccxt, venue.exchange)({"enableRateLimit": False})
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", RecordedCoinbase())
    return exchange


def test_a_configured_symbol_is_downloaded_from_its_venue_for_the_window_the_leaf_needs(folder):
    text = strategy("BTC", PRICED, timeframe="1h")
    before = evaluate("2024-03-13T12:00Z", "BTC", text)

    assert leaf(before) == (
        "close: NO_DATA: no recorded 1h candles for BTC-USDT on coinbaseexchange: download "
        "it with 'signalops data download --source technical --asset BTC --timeframe 1h "
        "--since 2024-03-03 --until 2024-03-13T12:00Z --to replay' or import a file with "
        "'signalops data import FILE --source technical --asset BTC --timeframe 1h --to replay'"
    )
    download, _ = commands(leaf(before))
    done = run(*download, connections=Connections(exchange=coinbase))
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith(
        "technical candles/coinbaseexchange/BTC-USDT/1h: 1 new point "
        "(2024-03-13 12:00 → 2024-03-13 12:00)"
    )
    after = evaluate("2024-03-13T12:00Z", "BTC", text)
    assert "NO_DATA" not in after.stdout
    assert "close = 73,370.65 at 2024-03-13T12:00:00Z" in after.stdout


def test_a_pair_on_a_venue_given_by_option_is_imported_with_that_venue(folder):
    Path("s.yaml").write_text(strategy("BTC", PRICED))
    args = ("evaluate", "s.yaml", "--at", "2023-03-12", "--data", "replay", "--venue", "kraken")
    before = run(*args)

    assert leaf(before) == (
        "close: NO_DATA: no recorded 1d candles for BTC/USDT on kraken: download it with "
        "'signalops data download --source technical --asset BTC/USDT --venue kraken "
        "--timeframe 1d --since 2022-07-05 --until 2023-03-12 --to replay' or import a file "
        "with 'signalops data import FILE --source technical --asset BTC/USDT --venue kraken "
        "--timeframe 1d --to replay'"
    )
    _, imported = commands(leaf(before), BTC_DAILY)
    assert run(*imported).exit_code == 0
    after = run(*args)
    assert "NO_DATA" not in after.stdout
    assert "close = 20,455.73 at 2023-03-12T00:00:00Z" in after.stdout


# --- sources that cannot be imported from a file -----------------------------------------------


def llama_and_feeds() -> Connections:
    def handle(request: httpx.Request) -> httpx.Response:
        if (request.url.host, request.url.path) == (
            "stablecoins.llama.fi",
            "/stablecoincharts/all",
        ):
            return httpx.Response(200, text=USDC_CHART)
        if str(request.url) == FEED:
            return httpx.Response(200, text=COINDESK)
        return httpx.Response(404, text="not recorded")

    return Connections(http=httpx.MockTransport(handle))


def test_an_onchain_series_is_offered_as_a_download_only_and_the_download_provides_it(folder):
    usdc = {"source": "onchain", "metric": "stablecoin_supply", "params": {"stablecoin": "USDC"},
            "operator": ">", "threshold": 0}  # fmt: skip
    text = strategy("BTC", usdc)
    before = evaluate("2023-03-13", "BTC", text)

    assert leaf(before) == (
        "stablecoin_supply('USDC'): NO_DATA: no recorded series stablecoin_supply/USDC/all: "
        "download it with 'signalops data download --source onchain --asset "
        "stablecoin_supply/USDC/all --to replay'"
    )
    [download] = commands(leaf(before))
    assert run(*download, connections=llama_and_feeds()).exit_code == 0
    after = evaluate("2023-03-13", "BTC", text)
    assert "NO_DATA" not in after.stdout
    # DeFiLlama's point dated 2023-03-12 (39,077,959,674 USD), known at the end of that day
    assert "stablecoin_supply('USDC') = 39.08B at 2023-03-13T00:00:00Z" in after.stdout


NEWS = {"source": "news", "metric": "news_count", "params": {"query": "Tether", "window": "10m"},
        "operator": ">=", "threshold": 0}  # fmt: skip


def test_without_news_feeds_configured_the_message_names_the_default_feeds_downloads(folder):
    text = strategy("BTC", NEWS)
    before = evaluate("2026-09-25T14:45Z", "BTC", text)

    assert leaf(before) == (
        "news_count('Tether', 10m): NO_DATA: no news feed was recorded: download the "
        "default feeds with 'signalops data download --source news --asset "
        "https://www.coindesk.com/arc/outboundfeeds/rss --to replay', 'signalops data download "
        "--source news --asset https://cointelegraph.com/rss --to replay' and 'signalops data "
        "download --source news --asset https://decrypt.co/feed --to replay'"
    )
    first = commands(leaf(before))[0]  # the one feed recorded here
    assert run(*first, connections=llama_and_feeds()).exit_code == 0
    after = evaluate("2026-09-25T14:45Z", "BTC", text)
    assert "NO_DATA" not in after.stdout
    assert "news_count('Tether', 10m) = 1 at 2026-09-25T14:41:53Z" in after.stdout


def test_a_configured_feed_not_recorded_is_offered_as_a_download_by_its_name(folder):
    Path("signalops.yaml").write_text(CONFIG + f"news:\n  feeds:\n    coindesk: {FEED}\n")
    text = strategy("BTC", NEWS)
    before = evaluate("2026-09-25T14:45Z", "BTC", text)

    assert leaf(before) == (
        "news_count('Tether', 10m): NO_DATA: no recorded items for feed coindesk: "
        "download it with 'signalops data download --source news --asset coindesk --to replay'"
    )
    [download] = commands(leaf(before))
    assert run(*download, connections=llama_and_feeds()).exit_code == 0
    after = evaluate("2026-09-25T14:45Z", "BTC", text)
    assert "NO_DATA" not in after.stdout
    assert "news_count('Tether', 10m) = 1 at 2026-09-25T14:41:53Z" in after.stdout


# --- the hint builder --------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["technical", "fundamental", "onchain", "polymarket", "news"])
def test_the_import_form_is_offered_exactly_for_the_sources_data_import_reads(source):
    said = hints.provide(source, "x")

    assert ("signalops data import FILE" in said) == (source in IMPORTED)
    assert said.startswith(f"download it with 'signalops data download --source {source} ")


def test_the_default_snapshot_folder_is_left_out_of_the_commands():
    assert hints.DEFAULT_FOLDER == DEFAULT_SNAPSHOT_DIR
    assert "--to" not in hints.provide("onchain", "chain_tvl/ethereum", to=DEFAULT_SNAPSHOT_DIR)
    assert hints.provide("onchain", "chain_tvl/ethereum", to="data/mine").endswith(
        "--to data/mine'"
    )


def test_a_backtests_price_hint_from_the_routing_names_what_the_replay_feed_names():
    venues = loads_config(CONFIG).venues
    kraken = with_venue(load_config(), "kraken").venues

    assert hints.routed("ETH", venues, 86400, to="replay") == (
        "download it with 'signalops data download --source technical --asset ETH --timeframe 1d "
        "--to replay' or import a file with 'signalops data import FILE --source technical "
        "--asset ETH --timeframe 1d --to replay'"
    )
    assert hints.routed("BTC", kraken, 86400) == (
        "download it with 'signalops data download --source technical --asset BTC/USDT --venue "
        "kraken --timeframe 1d' or import a file with 'signalops data import FILE --source "
        "technical --asset BTC/USDT --venue kraken --timeframe 1d'"
    )


def test_an_index_hint_routes_it_to_a_yfinance_venue_the_config_may_lack():
    """``routed(..., index=True)``: a stock backtest's unrouted benchmark; without a yfinance
    venue in the config the hint adds one, as ``examples/signalops.equities.yaml`` has it."""
    assert hints.routed("GSPC", load_config().venues, 86400, index=True) == (
        "an index's or a stock's candles come from Yahoo: route GSPC to a yfinance venue in the "
        "config (venues: {stocks: {exchange: yfinance, quote: USD}}, assets: {GSPC: {venue: "
        "stocks}}, with symbol: its Yahoo ticker when another, as ^GSPC for the S&P 500), then "
        "download it with 'signalops data download --source technical --asset GSPC --timeframe "
        "1d' or import a file with 'signalops data import FILE --source technical --asset GSPC "
        "--timeframe 1d'"
    )


def test_a_question_about_the_whole_history_names_no_window():
    whole = hints.candles(
        "ETH", "ETH-USD", "coinbaseexchange", configured=True, timeframe=3600,
        as_of=math.inf, bars=2**62,
    )  # fmt: skip
    early = hints.candles(
        "ETH", "ETH-USD", "coinbaseexchange", configured=True, timeframe=86400,
        as_of=86400 * 10, bars=250,
    )  # fmt: skip

    assert whole.startswith(
        "download it with 'signalops data download --source technical --asset ETH --timeframe 1h' "
    )
    assert "--since" not in early and "--until 1970-01-11'" in early
