"""``signalops data download`` of the other sources: EDGAR, DeFiLlama, Polymarket, RSS, yfinance.

Each goes through the live adapter's own client and parser, fed REAL recorded answers at the
library's transport boundary: an ``httpx.MockTransport`` for EDGAR (the AAPL companyfacts of
tests/fixtures/edgar, served gzip-encoded as SEC does), DeFiLlama (the March 2023 USDC
stablecoin chart of examples/data/defillama/derived_api_shape), Polymarket (the Gamma markets
response of examples/data/polymarket; the recorded CLOB prices-history of the MSTR YES token is
served as this market's YES history, an empty one as its NO history) and RSS (the CoinDesk feed
of examples/data/rss); a ``requests`` session for yfinance serving the recorded Yahoo chart of
AAPL (tests/fixtures/yahoo). Every download must land where the replay reads it, and a rerun
must add nothing.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
from click.testing import CliRunner
from yahoo_recorded import CHART, RecordedChart, hermetic

from signalops.adapters import edgar, onchain, polymarket
from signalops.adapters.download import Connections, download
from signalops.adapters.edgar import ReplayFactsFeed
from signalops.adapters.equities import EquityReplayFeed
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.news import ReplayItemFeed
from signalops.adapters.snapshots import SnapshotStore
from signalops.cli import cli
from signalops.config import loads_config
from signalops.errors import InputError
from signalops.observation import Observation, Request

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT / "examples" / "data"
UA = "SignalOps tests tests@example.com"
NOW = datetime(2026, 2, 7, 16, 10, tzinfo=UTC).timestamp()
NEW_YORK = ZoneInfo("America/New_York")

Handler = Callable[[httpx.Request], httpx.Response]


class Web:
    """An httpx transport answering (host, path) with recorded bodies; anything else is 404."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.seen: list[httpx.Request] = []

    def on(self, host: str, path: str, answer: Handler) -> Web:
        self.routes[(host, path)] = answer
        return self

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.routes.get((request.url.host, request.url.path))
        return answer(request) if answer else httpx.Response(404, text="not recorded")

    def connections(self) -> Connections:
        return Connections(http=httpx.MockTransport(self.handle))


def fetch(web: Web, folder: Path, source: str, asset: str, **options: Any) -> Any:
    options = {"until": NOW, "now": NOW, **options}
    return download(source, asset, to=folder, connections=web.connections(), **options)


# --- SEC EDGAR ---------------------------------------------------------------------------------

AAPL_FACTS = (FIXTURES / "edgar" / "CIK0000320193.json.gz").read_bytes()


def sec() -> Web:
    body = lambda request: httpx.Response(  # noqa: E731
        200, content=AAPL_FACTS, headers={"Content-Encoding": "gzip"}
    )
    return Web().on("data.sec.gov", "/api/xbrl/companyfacts/CIK0000320193.json", body)


def filing_days() -> set[str]:
    document = json.loads(gzip.decompress(AAPL_FACTS))
    return {
        fact["filed"]
        for taxonomy, concept in edgar.CONCEPTS
        for facts in document["facts"].get(taxonomy, {}).get(concept, {}).get("units", {}).values()
        for fact in facts
    }


def test_edgar_company_facts_land_by_filing_day_and_replay_as_the_live_facts(tmp_path: Path):
    web = sec()

    [result] = fetch(web, tmp_path, "fundamental", "aapl", sec_user_agent=UA)

    assert (result.series, result.new_points) == ("edgar/CIK0000320193", len(filing_days()))
    assert web.seen[0].headers["User-Agent"] == UA
    replay = ReplayFactsFeed(SnapshotStore(tmp_path))
    live = edgar.parse_facts(
        edgar._facts.raw_records(json.loads(gzip.decompress(AAPL_FACTS))), "AAPL"
    )
    facts, complete = replay.facts("AAPL", NOW)
    assert sorted(map(repr, facts)) == sorted(map(repr, live))
    assert complete == NOW  # the fetch mark: the record is complete up to the download


def test_edgar_rerun_writes_no_filing_again(tmp_path: Path):
    fetch(sec(), tmp_path, "fundamental", "AAPL", sec_user_agent=UA)

    [again] = fetch(sec(), tmp_path, "fundamental", "AAPL", sec_user_agent=UA, now=NOW + 60)

    assert again.new_points == 0


# --- DeFiLlama ---------------------------------------------------------------------------------

USDC_CHART = (
    DATA
    / "defillama"
    / "derived_api_shape"
    / "stablecoincharts_all_stablecoin2_USDC_2023-03_PARTIAL.json"
).read_text()
MARCH_12 = datetime(2023, 3, 12, tzinfo=UTC).timestamp()
END_OF_MARCH_12 = MARCH_12 + 86400


def llama() -> Web:
    def chart(request: httpx.Request) -> httpx.Response:
        assert request.url.params["stablecoin"] == "2"  # DeFiLlama's id of USDC
        return httpx.Response(200, text=USDC_CHART)

    return Web().on("stablecoins.llama.fi", "/stablecoincharts/all", chart)


def test_a_defillama_series_lands_at_the_end_of_each_day_and_replays(tmp_path: Path):
    recorded = {
        int(p["date"]): p["totalCirculatingUSD"]["peggedUSD"] for p in json.loads(USDC_CHART)
    }
    until = datetime(2023, 4, 1, tzinfo=UTC).timestamp()

    [result] = fetch(llama(), tmp_path, "onchain", "stablecoin_supply/usdc/all", until=until)

    assert (result.series, result.new_points) == ("stablecoin_supply/USDC/all", len(recorded))
    series = onchain.ReplayFeed(SnapshotStore(tmp_path)).stablecoin_supply("USDC", "all", until)
    assert series.last_at_or_before(END_OF_MARCH_12) == (END_OF_MARCH_12, recorded[int(MARCH_12)])


def test_a_defillama_rerun_adds_nothing_and_since_keeps_later_points_only(tmp_path: Path):
    until = datetime(2023, 4, 1, tzinfo=UTC).timestamp()
    [later] = fetch(llama(), tmp_path, "onchain", "stablecoin_supply/USDC/all", until=until,
                    since=MARCH_12)  # fmt: skip
    [again] = fetch(llama(), tmp_path, "onchain", "stablecoin_supply/USDC/all", until=until)

    assert later.first == END_OF_MARCH_12
    assert again.new_points == len(json.loads(USDC_CHART)) - later.new_points  # the earlier days


# --- Polymarket --------------------------------------------------------------------------------

GAMMA = json.loads(
    (DATA / "polymarket" / "gamma_markets_trump-deportation_5mkts_2026-02-07.json").read_text()
)
DEPORT = GAMMA[0]
SLUG = DEPORT["slug"]
YES_TOKEN, NO_TOKEN = json.loads(DEPORT["clobTokenIds"])
HISTORY = json.loads(
    (DATA / "polymarket" / "clob_prices-history_MSTR-sells-BTC-2026_YES_1h.json").read_text()
)


def polymarket_web() -> Web:
    def markets(request: httpx.Request) -> httpx.Response:
        slug = request.url.params["slug"]
        return httpx.Response(200, json=[m for m in GAMMA if m["slug"] == slug])

    def history(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        assert (params["interval"], params["fidelity"]) == ("max", "60")
        body = HISTORY if params["market"] == YES_TOKEN else {"history": []}
        return httpx.Response(200, json=body)

    return (
        Web()
        .on("gamma-api.polymarket.com", "/markets", markets)
        .on("clob.polymarket.com", "/prices-history", history)
    )


def test_a_polymarket_market_lands_with_its_record_and_each_outcomes_history(tmp_path: Path):
    results = fetch(polymarket_web(), tmp_path, "polymarket", SLUG)

    assert [(r.series, r.new_points) for r in results] == [
        (f"markets/{SLUG}", 1),
        # 62 recorded points, two of them at the same second: one point per time.
        (f"prices/{SLUG}/yes", len({p["t"] for p in HISTORY["history"]})),
        (f"prices/{SLUG}/no", 0),
    ]
    replay = polymarket.ReplayFeed(SnapshotStore(tmp_path))
    last = HISTORY["history"][-1]
    point = replay.price(SLUG, "Yes", NOW, "yes")
    assert (point.value, point.t) == (last["p"], last["t"])
    market = replay.market(SLUG, NOW)
    assert market is not None and market.token_ids == (YES_TOKEN, NO_TOKEN)


def test_a_polymarket_rerun_adds_nothing(tmp_path: Path):
    fetch(polymarket_web(), tmp_path, "polymarket", SLUG)

    again = fetch(polymarket_web(), tmp_path, "polymarket", SLUG, now=NOW + 60)

    assert [r.new_points for r in again] == [0, 0, 0]


# --- RSS ---------------------------------------------------------------------------------------

FEED_URL = "https://www.coindesk.com/arc/outboundfeeds/rss"
COINDESK = (DATA / "rss" / "coindesk_2026-09-25.xml").read_text()


def rss() -> Web:
    body = lambda request: httpx.Response(200, text=COINDESK)  # noqa: E731
    return Web().on("www.coindesk.com", "/arc/outboundfeeds/rss", body)


def test_a_feeds_items_land_under_its_url_and_a_rerun_adds_nothing(tmp_path: Path):
    now = datetime(2026, 9, 25, 16, 30, tzinfo=UTC).timestamp()

    [first] = fetch(rss(), tmp_path, "news", FEED_URL, now=now, until=now)
    [again] = fetch(rss(), tmp_path, "news", FEED_URL, now=now + 60, until=now + 60)

    assert (first.series, first.new_points, again.new_points) == (f"items/{FEED_URL}", 3, 0)
    [items] = ReplayItemFeed(SnapshotStore(tmp_path)).load(now)
    assert items.end == 3


# --- yfinance ----------------------------------------------------------------------------------

VENUES = loads_config("venues: {stocks: {exchange: yfinance, quote: USD}}\n"
                      "assets: {AAPL: {venue: stocks}}\n").venues  # fmt: skip


@pytest.fixture
def hermetic_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    hermetic(monkeypatch)


def yahoo(transport: RecordedChart) -> Connections:
    session = requests.Session()
    session.mount("https://", transport)
    return Connections(yahoo_session=session)


def test_equity_bars_land_at_the_new_york_close_with_no_gap_over_labor_day_and_replay(
    tmp_path: Path, hermetic_yfinance: None
):
    result = CHART["chart"]["result"][0]
    closes = result["indicators"]["quote"][0]["close"]
    until = datetime(2020, 11, 7, tzinfo=UTC).timestamp()
    since = datetime(2020, 8, 31, tzinfo=UTC).timestamp()
    transport = RecordedChart()

    [first, _] = download("technical", "AAPL", to=tmp_path, venues=VENUES, since=since,
                          until=until, now=until, connections=yahoo(transport))  # fmt: skip
    asked = len(transport.charts)
    [again] = download("technical", "AAPL", to=tmp_path, venues=VENUES, until=until, now=until,
                       connections=yahoo(transport))  # fmt: skip

    assert (first.series, first.new_points, first.gaps) == (
        "candles/yfinance/AAPL/1d",
        len(closes),
        (),
    )
    assert first.first == datetime(2020, 8, 31, 16, tzinfo=NEW_YORK).timestamp()
    assert (again.new_points, len(transport.charts)) == (0, asked)  # nothing new to ask for
    candles = EquityReplayFeed(SnapshotStore(tmp_path)).candles("AAPL", 86400, until, 500)
    assert list(candles.close) == pytest.approx(closes, rel=0, abs=0)
    assert date(2020, 9, 7) not in {
        datetime.fromtimestamp(t, NEW_YORK).date() for t in candles.close_time
    }


def test_equity_bars_bring_yahoos_split_history_which_the_edgar_share_counts_then_use(
    tmp_path: Path, hermetic_yfinance: None
):
    """The chart's events list AAPL's 4:1 split of 2020-08-31; the 10-Q filed 2020-07-31 counts
    4,275,634,000 shares before it, 17,102,536,000 in the shares of the downloaded closes."""
    until = datetime(2020, 11, 7, tzinfo=UTC).timestamp()
    since = datetime(2020, 8, 31, tzinfo=UTC).timestamp()

    connections = yahoo(RecordedChart())
    [_, splits] = download("technical", "AAPL", to=tmp_path, venues=VENUES, since=since,
                           until=until, now=until, connections=connections)  # fmt: skip
    fetch(sec(), tmp_path, "fundamental", "AAPL", sec_user_agent=UA)

    split_day = datetime(2020, 8, 31, tzinfo=NEW_YORK).timestamp()
    assert (splits.source, splits.series, splits.new_points) == ("fundamental", "splits/AAPL", 1)
    assert (splits.first, splits.last) == (split_day, split_day)
    store = SnapshotStore(tmp_path)
    listed = store.series("fundamental", "splits/AAPL/listed")
    assert listed is not None and (listed.times, listed.values) == ([until], [1])
    request = Request("fundamental", "shares_outstanding", (), "AAPL")
    when = datetime(2020, 9, 15, 16, tzinfo=NEW_YORK)
    answer = FundamentalAdapter.replay(store).fetch([request], when)[request]
    assert isinstance(answer, Observation) and answer.value == 4_275_634_000 * 4
    assert edgar.split_history_warnings(tmp_path, "AAPL") == []


def test_company_facts_downloaded_without_a_split_history_warn_with_the_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(edgar.USER_AGENT_ENV, UA)
    args = ["data", "download", "--source", "fundamental", "--asset", "AAPL", "--to",
            str(tmp_path)]  # fmt: skip

    result = CliRunner().invoke(cli, args, obj=sec().connections())

    assert result.exit_code == 0, result.output
    warning = " ".join(result.stderr.split())
    assert warning.startswith(
        f"warning: {tmp_path} holds SEC EDGAR facts of AAPL but no split history"
    )
    assert (
        f"'signalops data download --source technical --asset AAPL --venue yfinance "
        f"--timeframe 1d --to {tmp_path}'" in warning
    )
    assert f"'signalops data import FILE --source fundamental --asset AAPL --to {tmp_path}'" in (
        warning
    )


def test_a_configured_feed_is_downloaded_by_its_name_and_filed_under_it(tmp_path: Path):
    now = datetime(2026, 9, 25, 16, 30, tzinfo=UTC).timestamp()
    feeds = {"coindesk": FEED_URL}

    [by_name] = fetch(rss(), tmp_path, "news", "coindesk", now=now, until=now, news_feeds=feeds)
    [by_url] = fetch(rss(), tmp_path, "news", FEED_URL, now=now, until=now, news_feeds=feeds)

    assert (by_name.series, by_name.new_points) == ("items/coindesk", 3)
    assert (by_url.series, by_url.new_points) == ("items/coindesk", 0)


def test_a_feed_that_is_neither_url_nor_configured_is_refused(tmp_path: Path):
    with pytest.raises(InputError) as refused:
        fetch(rss(), tmp_path, "news", "coindsk", news_feeds={"coindesk": FEED_URL})

    assert str(refused.value) == (
        "--asset: 'coindsk' is neither a feed URL nor a configured feed (configured: coindesk)"
    )


# --- the command -------------------------------------------------------------------------------


def test_the_command_lists_each_series_of_a_polymarket_download(tmp_path: Path):
    args = ["data", "download", "--source", "polymarket", "--asset", SLUG, "--until",
            "2026-02-07T16:10", "--to", str(tmp_path)]  # fmt: skip

    minute = lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731
    before = minute()
    result = CliRunner().invoke(cli, args, obj=polymarket_web().connections())
    after = minute()

    assert result.exit_code == 0, result.output
    # The Gamma record is dated when it was read: now.
    assert result.stdout in {
        f"polymarket markets/{SLUG}: 1 new point ({stamp} → {stamp})\n"
        f"polymarket prices/{SLUG}/yes: 61 new points (2026-02-07 15:08 → 2026-02-07 16:08)\n"
        f"polymarket prices/{SLUG}/no: 0 new points\n"
        for stamp in (before, after)
    }
