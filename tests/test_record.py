"""Recording a live run (``signalops run --record DIR``) and replaying the same moment from it.

A live cycle runs through the real adapters and the real client libraries, offline: every
request leaves through the libraries' own transport boundary (``registry.Connections``) and is
answered from real recorded payloads:

- ccxt: the REAL ``ccxt.binance`` class builds and parses ``GET /api/v3/klines``; only its
  ``requests`` session is served, by ``RecordedBinance`` below, from real Binance BTC/USDT
  candles: hourly, March 2023 (``examples/data/ohlcv/BTCUSDT_1h_binance_2023-03.csv``,
  CasArt1/Proyecto_2 @3775001f, MIT) and daily (``examples/data/ohlcv/Binance_BTCUSDT_d.csv``,
  CryptoDataDownload via mschindler779/CausCrypto @4e767698, Unlicense), both copied from
  ../shared/data/ohlcv, shaped as Binance sends them (numbers as strings; fields the files lack
  are placeholders ccxt ignores, as in tests/adapters/test_technical.py);
- DeFiLlama: ``httpx.MockTransport`` serving the March 2023 ``/v2/historicalChainTvl/Ethereum``
  and ``/stablecoincharts/all?stablecoin=2`` bodies of ``examples/data/defillama/
  derived_api_shape`` (real DeFiLlama numbers in the API's shape, see examples/data/README.md);
- Polymarket Gamma: the real ``GET /markets`` answer recorded 2026-02-07
  (``examples/data/polymarket/gamma_markets_trump-deportation_5mkts_2026-02-07.json``), the one
  market whose slug is asked;
- RSS: the real CoinDesk feed (``examples/data/rss/coindesk_2026-09-25.xml``, 3 items).

The live run's wall clock is the recorded data's moment (``Connections.now``), so the live
sources stamp their fetches as they did then. The same moment is then replayed through the CLI
(``signalops run --replay DIR --from <moment> --once``) from nothing but the recorded folder, and
both audit logs must hold the same decision: the same action, the same trace (every leaf's
value, data time and status) and the same observations.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import httpx
import pytest
import requests
from binance_recorded import BTC_USDT
from binance_recorded import response as _response
from click.testing import CliRunner, Result

from signalops.adapters.registry import Connections
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.expand import expanded
from signalops.audit.store import AuditLog
from signalops.cli import cli
from signalops.errors import InputError
from signalops.pipeline.loop import RunPlan, run_plan
from signalops.venues import Venue
from signalops.workspace import build_pipeline, open_workspace

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
HOUR_MS = 3_600_000

CRISIS = datetime(2023, 3, 11, 12, tzinfo=UTC)  # the banking crisis: candles and DeFiLlama
FEED_BUILT = datetime(2026, 9, 25, 16, 22, 9, tzinfo=UTC)  # the CoinDesk feed's lastBuildDate
COINDESK = "https://www.coindesk.com/arc/outboundfeeds/rss"
MARKET = "will-trump-deport-less-than-250000"  # liquidityNum 14945.68799 in the recording


# --- the recorded services ----------------------------------------------------------------------


def _kline(ms: int, length_ms: int, ohlcv: list[str]) -> list[Any]:
    """One Binance kline, numbers as 8-decimal strings like the real API sends them."""
    o, h, low, c, v = (f"{float(x):.8f}" for x in ohlcv)
    quote_volume = f"{float(v) * float(c):.8f}"
    return [ms, o, h, low, c, v, ms + length_ms - 1, quote_volume, 0, "0.00000000", "0.00000000",
            "0"]  # fmt: skip


def _hourly() -> list[list[Any]]:
    rows = []
    with (DATA / "ohlcv" / "BTCUSDT_1h_binance_2023-03.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            opened = datetime.fromisoformat(row["open_time"]).replace(tzinfo=UTC)
            ohlcv = [row[k] for k in ("open", "high", "low", "close", "volume")]
            rows.append(_kline(int(opened.timestamp()) * 1000, HOUR_MS, ohlcv))
    return rows


def _daily() -> list[list[Any]]:
    with (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").open(newline="") as handle:
        next(handle)  # the CryptoDataDownload banner line
        rows = [
            _kline(int(row["Unix"]), 24 * HOUR_MS, [row[k] for k in OHLCV_DAILY])
            for row in csv.DictReader(handle)
        ]
    return sorted(rows)  # the export is newest first


OHLCV_DAILY = ("Open", "High", "Low", "Close", "Volume BTC")


class RecordedBinance(requests.adapters.BaseAdapter):
    """``GET /api/v3/klines`` as Binance answers it (``interval``, ``startTime``, ``endTime``,
    ``limit``); intervals with no recording get an empty list."""

    def __init__(self) -> None:
        super().__init__()
        self.klines = {"1h": _hourly(), "1d": _daily()}
        self.requests = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests += 1
        url = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path != "/api/v3/klines":
            return _response(request, 404, "<html>no recording for this endpoint</html>")
        start, end = int(query.get("startTime", 0)), int(query.get("endTime", 2**62))
        limit = min(int(query.get("limit", 500)), 1000)
        klines = self.klines.get(query.get("interval", ""), [])
        served = [k for k in klines if start <= k[0] <= end][:limit]
        return _response(request, 200, json.dumps(served))

    def close(self) -> None:
        pass


def recorded_exchange(stub: RecordedBinance) -> Any:
    """``Connections.exchange``: ccxt's own class for the venue, served by ``stub``."""

    def build(venue: Venue) -> Any:
        exchange = getattr(ccxt, venue.exchange)(venue.ccxt_options())
        exchange.enableRateLimit = False  # the recorded server has no rate limit
        exchange.set_markets([BTC_USDT])
        exchange.session.mount("https://", stub)
        return exchange

    return build


class RecordedHttp:
    """Every httpx request of the live sources, answered from the recordings (404 otherwise)."""

    def __init__(self, feeds: dict[str, str] | None = None) -> None:
        shape = DATA / "defillama" / "derived_api_shape"
        self.bodies = {
            ("api.llama.fi", "/v2/historicalChainTvl/Ethereum"): (
                shape / "historicalChainTvl_Ethereum_2023-03.json"
            ).read_text(),
            ("stablecoins.llama.fi", "/stablecoincharts/all"): (
                shape / "stablecoincharts_all_stablecoin2_USDC_2023-03_PARTIAL.json"
            ).read_text(),
        }
        self.gamma = json.loads(
            (DATA / "polymarket" / "gamma_markets_trump-deportation_5mkts_2026-02-07.json")
            .read_text()
        )  # fmt: skip
        self.feeds = feeds or {}
        self.unserved: list[str] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if str(url) in self.feeds:
            return httpx.Response(200, text=self.feeds[str(url)])
        if url.host == "gamma-api.polymarket.com" and url.path == "/markets":
            slug = url.params.get("slug")
            return httpx.Response(200, json=[m for m in self.gamma if m["slug"] == slug])
        if url.host == "stablecoins.llama.fi" and url.params.get("stablecoin") != "2":
            return self.missing(request)
        body = self.bodies.get((url.host, url.path))
        if body is None:
            return self.missing(request)
        return httpx.Response(200, text=body, headers={"Content-Type": "application/json"})

    def missing(self, request: httpx.Request) -> httpx.Response:
        self.unserved.append(str(request.url))
        return httpx.Response(404, text="no recording")


def coindesk_feed() -> str:
    return (DATA / "rss" / "coindesk_2026-09-25.xml").read_text(encoding="utf-8")


# --- running ------------------------------------------------------------------------------------


def cli_run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="signalops")


def live_run(
    folder: Path, strategy: Path, moment: datetime, http: RecordedHttp, **plan: Any
) -> RecordedBinance:
    """One live cycle at ``moment`` recorded into ``folder/recorded``; audit in live.db."""
    stub = RecordedBinance()
    connections = Connections(
        http=http.transport,
        exchange=recorded_exchange(stub),
        now=lambda: moment,
        sleep=lambda seconds: None,
    )
    result = run_plan(
        RunPlan(
            strategies=(strategy,),
            once=True,
            audit=folder / "live.db",
            record=folder / "recorded",
            connections=connections,
            **plan,
        )
    )
    assert len(result.summaries) == 1
    return stub


def decisions(audit: Path) -> list[dict[str, Any]]:
    """The log's decisions in their full shape (trace, observations with their requests)."""
    log = AuditLog.open(audit, create=False)
    try:
        return [expanded(r, log) for r in log.records() if r["kind"] == "decision"]
    finally:
        log.close()


# Detail fields that name who answered: on-chain ``feed`` ("defillama" live, "replay"
# replayed), Polymarket ``via`` ("Gamma", "recorded Gamma"): the one thing that may differ.
PROVENANCE = ("feed", "via")


def without_provenance(observations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kept = []
    for observation in observations:
        detail = observation["detail"] or {}
        kept.append(
            {**observation, "detail": {k: v for k, v in detail.items() if k not in PROVENANCE}}
        )
    return kept


def assert_same_decision(live: dict[str, Any], replayed: dict[str, Any]) -> None:
    assert replayed["as_of"] == live["as_of"]
    assert replayed["action"] == live["action"]
    assert replayed["verdict"] == live["verdict"]
    assert replayed["trace"] == live["trace"]
    assert without_provenance(replayed["observations"]) == without_provenance(live["observations"])


CRISIS_STRATEGY = """\
strategy:
  name: "Recorded_Crisis"
  assets: ["BTC"]
  defaults:
    params:
      timeframe: 1h
  rules:
    - id: dip
      source: technical
      conditions:
        - when: "rsi(14) < 50"
        - when: "close < sma(24)"
    - id: defi_holding_up
      source: onchain
      conditions:
        - when: "chain_tvl('Ethereum') > 20B"
    - id: market_liquid
      source: polymarket
      conditions:
        - when: "liquidity('{market}') > 10000"
  vetoes:
    - id: usdc_outflow
      source: onchain
      blocks: [BUY]
      conditions:
        - when: "stablecoin_net_flow('USDC', 2d) < -1B"
  execution:
    require_confirmations: 2
    position_size: 0.05
    action_mode: paper
""".replace("{market}", MARKET)


# --- tests --------------------------------------------------------------------------------------


def test_a_recorded_live_cycle_replays_to_the_same_decision_leaf_for_leaf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    strategy = tmp_path / "crisis.yaml"
    strategy.write_text(CRISIS_STRATEGY)
    http = RecordedHttp()

    stub = live_run(tmp_path, strategy, CRISIS, http)
    replay = cli_run(
        "run", str(strategy), "--replay", "recorded", "--from", "2023-03-11T12:00:00Z",
        "--once", "--audit", "replayed.db",
    )  # fmt: skip

    assert replay.exit_code == 0, replay.output
    assert http.unserved == [] and stub.requests >= 1
    (live,) = decisions(tmp_path / "live.db")
    (replayed,) = decisions(tmp_path / "replayed.db")
    assert_same_decision(live, replayed)
    # Real values, not a run of UNKNOWNs that would agree trivially.
    values = {(o["source"], o["metric"]): o["value"] for o in live["observations"]}
    assert values == {
        ("technical", "rsi"): pytest.approx(46.4198552),
        ("technical", "close"): 20086.07,  # the 11:00 candle's close
        ("technical", "sma"): pytest.approx(20120.875),
        ("onchain", "chain_tvl"): 26_106_907_540.0,  # Ethereum TVL of 2023-03-10
        ("polymarket", "liquidity"): 14945.68799,
        # USDC 03-10 minus 03-08: what the bundled DeFiLlama export replays too.
        ("onchain", "stablecoin_net_flow"): -51_395_040.0,
    }
    assert all(o["status"] == "OK" for o in live["observations"])
    assert (live["verdict"], live["action"], live["blocked_by"]) == ("BUY", "BUY", [])
    assert replayed["execution"]["fill"] == live["execution"]["fill"]


def test_the_recording_holds_exactly_the_keys_the_replay_adapters_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    strategy = tmp_path / "crisis.yaml"
    strategy.write_text(CRISIS_STRATEGY)

    live_run(tmp_path, strategy, CRISIS, RecordedHttp())

    store = SnapshotStore(tmp_path / "recorded")
    assert store.sources() == ["onchain", "polymarket", "technical"]
    # The strategy's hourly candles, and the daily ones the paper broker prices the order with.
    assert store.keys("technical") == ["candles/binance/BTC/USDT/1d", "candles/binance/BTC/USDT/1h"]
    assert store.keys("onchain") == ["chain_tvl/ethereum", "stablecoin_supply/USDC/all"]
    assert store.keys("polymarket") == [f"markets/{MARKET}"]
    candles = store.series("technical", "candles/binance/BTC/USDT/1h")
    assert candles is not None
    # Every candle closed by 12:00 on 2023-03-11 since the file's first (2023-03-01 00:00 open),
    # keyed by its close time; none that closed later.
    assert len(candles) == 252 and candles.times[-1] == CRISIS.timestamp()
    markets = store.series("polymarket", f"markets/{MARKET}")
    assert markets is not None and markets.times == [CRISIS.timestamp()]


NEWS_CONFIG = f"""\
news:
  feeds:
    coindesk: {COINDESK}
"""

NEWS_STRATEGY = """\
strategy:
  name: "Recorded_News"
  assets: ["BTC"]
  rules:
    - id: stablecoin_news
      source: news
      conditions:
        - when: "news_count('/tether|circle/', 105m, feeds='coindesk') >= 1"
        - when: "news_count('tokenization', 105m) >= 1"
  execution:
    position_size: 0.05
    action_mode: paper
"""


def test_a_recorded_configured_news_feed_replays_under_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text(NEWS_CONFIG)
    strategy = tmp_path / "news.yaml"
    strategy.write_text(NEWS_STRATEGY)
    http = RecordedHttp(feeds={COINDESK: coindesk_feed()})

    live_run(tmp_path, strategy, FEED_BUILT, http)
    replay = cli_run(
        "run", str(strategy), "--replay", "recorded", "--from", "2026-09-25T16:22:09Z",
        "--once", "--audit", "replayed.db",
    )  # fmt: skip

    assert replay.exit_code == 0, replay.output
    assert SnapshotStore(tmp_path / "recorded").keys("news") == [
        "items/coindesk",
        "polled/coindesk",
    ]
    (live,) = decisions(tmp_path / "live.db")
    (replayed,) = decisions(tmp_path / "replayed.db")
    assert_same_decision(live, replayed)
    counts = [(o["params"]["feeds"], o["value"], o["data_time"]) for o in live["observations"]]
    # Both dated at the live fetch (the poll mark), not at the newest item (14:41:53).
    assert sorted(counts) == [
        ("all", 1.0, "2026-09-25T16:22:09Z"),
        ("coindesk", 1.0, "2026-09-25T16:22:09Z"),
    ]
    assert live["verdict"] == "BUY"


def test_record_with_replay_is_a_one_line_usage_error(tmp_path: Path) -> None:
    strategy = tmp_path / "news.yaml"
    strategy.write_text(NEWS_STRATEGY)

    result = cli_run(
        "run", str(strategy), "--replay", str(tmp_path), "--from", "2026-09-25",
        "--record", str(tmp_path / "rec"),
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == "error: --record records a live run; it cannot be used with --replay\n"


def test_build_pipeline_refuses_record_with_replay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = open_workspace(audit=tmp_path / "a.db")
    try:
        with pytest.raises(InputError) as raised:
            build_pipeline(workspace, [], replay=tmp_path, record=tmp_path / "rec")
        assert str(raised.value) == "--record records a live run; it cannot be used with --replay"
    finally:
        workspace.close()


def test_run_help_documents_record() -> None:
    result = cli_run("run", "--help")

    assert "--record DIRECTORY" in result.stdout
    assert "Append everything the live sources fetch to this" in result.stdout
