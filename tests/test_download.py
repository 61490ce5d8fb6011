"""``signalops data download`` of candles: pages, resume, gaps, idempotence, and the CLI.

Live path: the REAL ``ccxt.binance`` class pages through the history; only its HTTP layer is
replaced, at the ``requests.Session`` boundary (the seam ccxt's sync ``fetch`` calls), by a
transport that serves the recorded klines of tests/fixtures/download (real Binance BTC/USDT
hours, 2023-03-20 .. 03-26, with the real outage hour 2023-03-24 13:00 missing) the way Binance
does: klines opening at or after ``startTime``, at most ``limit`` of them, none opened after
the server's clock. ccxt builds the URLs and parameters and parses the answers itself.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import pytest
import requests
import urllib3
from binance_recorded import BTC_USDT
from binance_recorded import response as _response
from click.testing import CliRunner

from signalops.adapters.download import Connections, Gap
from signalops.adapters.download.candles import download_ccxt
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import ReplayCandleFeed
from signalops.cli import cli
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.venues import Venue

KLINES = json.loads(
    (
        Path(__file__).parent / "fixtures/download/binance_klines_BTCUSDT_1h_2023-03-20_26.json"
    ).read_text()
)
KEY = "candles/binance/BTC/USDT/1h"
HOUR = 3600


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


SINCE, UNTIL = utc(2023, 3, 20), utc(2023, 3, 27)


class RecordedBinance(requests.adapters.BaseAdapter):
    """``GET /api/v3/klines`` from the recorded klines; request number ``fail_at`` (1-based)
    fails as a dropped connection would."""

    def __init__(
        self,
        *,
        fail_at: int | None = None,
        failure: BaseException | None = None,
        now_ms: int | None = None,
    ) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.failure = failure or requests.ConnectionError("Connection aborted: RemoteDisconnected")
        self.now_ms = now_ms
        self.queries: list[dict[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.queries.append(query)
        if len(self.queries) == self.fail_at:
            raise self.failure
        if url.path != "/api/v3/klines":
            return _response(request, 404, "<html>no recording for this endpoint</html>")
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**62))
        limit = min(int(query.get("limit", 500)), 1000)
        now = 2**62 if self.now_ms is None else self.now_ms
        served = [k for k in KLINES if start <= k[0] <= end and k[0] <= now][:limit]
        return _response(request, 200, json.dumps(served))

    def close(self) -> None:
        pass

    def starts(self) -> list[str]:
        return [
            datetime.fromtimestamp(int(q["startTime"]) / 1000, UTC).strftime("%m-%d %H:%M")
            for q in self.queries
        ]


def binance(stub: RecordedBinance) -> ccxt.binance:
    exchange = ccxt.binance({"enableRateLimit": False})  # the recording has no rate limit
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", stub)
    return exchange


def fetch(stub: RecordedBinance, folder: Path, *, since: float | None = SINCE, **options: Any):
    options = {"until": UNTIL, "page_size": 50, **options}
    return download_ccxt(
        binance(stub), "BTC/USDT", HOUR, SnapshotStore(folder), since=since, **options
    )


def closes(folder: Path) -> list[tuple[float, list[float]]]:
    series = SnapshotStore(folder).series("technical", KEY)
    assert series is not None
    return list(zip(series.times, series.values, strict=True))


# --- the library -------------------------------------------------------------------------------


def test_a_week_of_hours_comes_in_four_pages_through_ccxts_binance_class_with_the_outage_as_gap(
    tmp_path: Path,
):
    stub = RecordedBinance()

    result = fetch(stub, tmp_path)

    assert stub.starts() == ["03-20 00:00", "03-22 02:00", "03-24 04:00", "03-26 07:00"]
    assert {q["limit"] for q in stub.queries} == {"50"}
    assert (result.series, result.new_points) == (KEY, 167)
    assert (result.first, result.last) == (utc(2023, 3, 20, 1), utc(2023, 3, 27))
    assert result.gaps == (Gap(utc(2023, 3, 24, 14), 1),)
    first_kline = KLINES[0]
    assert closes(tmp_path)[0] == (
        utc(2023, 3, 20, 1),
        [float(first_kline[i]) for i in range(1, 6)],
    )


@pytest.mark.parametrize(
    "failure, raised",
    [
        (requests.ConnectionError("Connection aborted"), AdapterError),
        (KeyboardInterrupt(), KeyboardInterrupt),
    ],
    ids=["network error", "ctrl-c"],
)
def test_an_interrupted_download_keeps_its_pages_and_the_rerun_fetches_only_the_rest(
    tmp_path: Path, failure: BaseException, raised: type[BaseException]
):
    interrupted, whole = tmp_path / "interrupted", tmp_path / "whole"
    with pytest.raises(raised):
        fetch(RecordedBinance(fail_at=3, failure=failure), interrupted)
    kept = closes(interrupted)
    rerun = RecordedBinance()

    result = fetch(rerun, interrupted)
    fetch(RecordedBinance(), whole)

    assert len(kept) == 100 and kept[-1][0] == utc(2023, 3, 24, 4)  # pages 1 and 2, whole
    assert rerun.starts() == ["03-24 04:00", "03-26 07:00"]
    assert result.new_points == 67
    path = "technical.jsonl"
    assert (interrupted / path).read_bytes() == (whole / path).read_bytes()


def test_a_dropped_connection_is_a_connection_error(tmp_path: Path):
    with pytest.raises(AdapterError) as failed:
        fetch(RecordedBinance(fail_at=1), tmp_path)

    assert failed.value.reason == Code.CONNECTION_ERROR
    assert failed.value.message == "connection to binance failed (ConnectionError)"
    assert not (tmp_path / "technical.jsonl").exists()


def test_an_offline_machine_is_told_the_host_name_did_not_resolve(tmp_path: Path):
    # It said "binance network error: NetworkError", which names no cause to fix.
    lookup = socket.gaierror(-2, "Name or service not known")
    unresolved = urllib3.exceptions.NameResolutionError("api.binance.com", None, lookup)  # type: ignore[arg-type]
    retries = urllib3.exceptions.MaxRetryError(None, "/api/v3/klines", reason=unresolved)  # type: ignore[arg-type]
    with pytest.raises(AdapterError) as failed:
        fetch(RecordedBinance(fail_at=1, failure=requests.ConnectionError(retries)), tmp_path)

    assert failed.value.reason == Code.CONNECTION_ERROR
    assert failed.value.message == (
        "connection to binance failed (the exchange's host name did not resolve: no network or "
        "DNS?)"
    )


def test_rerunning_a_finished_download_asks_nothing_and_writes_nothing(tmp_path: Path):
    fetch(RecordedBinance(), tmp_path)
    before = (tmp_path / "technical.jsonl").read_bytes()
    rerun = RecordedBinance()

    continued = fetch(rerun, tmp_path, since=None)
    again = fetch(RecordedBinance(), tmp_path)

    assert (continued.new_points, again.new_points) == (0, 0)
    assert rerun.queries == []
    assert (tmp_path / "technical.jsonl").read_bytes() == before


def test_the_candle_still_open_at_until_is_not_stored(tmp_path: Path):
    now = utc(2023, 3, 26, 12, 30)
    stub = RecordedBinance(now_ms=int(now * 1000))  # serves the 12:00 candle, still open

    result = fetch(stub, tmp_path, since=utc(2023, 3, 26), until=now)

    assert result.last == utc(2023, 3, 26, 12)  # the 11:00 candle, closed at 12:00
    assert result.new_points == 12


def test_downloaded_candles_replay_through_the_replay_feed_to_the_recorded_values(
    tmp_path: Path,
):
    fetch(RecordedBinance(), tmp_path)

    candles = ReplayCandleFeed(SnapshotStore(tmp_path)).candles("BTC", HOUR, UNTIL, 500)

    assert list(candles.close) == [float(k[4]) for k in KLINES]
    assert list(candles.close_time) == [k[0] / 1000 + HOUR for k in KLINES]
    assert candles.gaps() == [{"first_missing_close": "2023-03-24T14:00:00Z", "missing": 1}]


# --- the command -------------------------------------------------------------------------------


def run(connections: Connections, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), obj=connections)


def recorded(stub: RecordedBinance) -> Connections:
    def exchange(venue: Venue) -> ccxt.binance:
        assert venue.exchange == "binance"
        return binance(stub)

    return Connections(exchange=exchange)


def test_the_command_reports_new_points_their_span_and_the_gap(tmp_path: Path):
    args = ("data", "download", "--source", "technical", "--asset", "BTC/USDT", "--venue",
            "binance", "--timeframe", "1h", "--since", "2023-03-20", "--until", "2023-03-27",
            "--to", str(tmp_path))  # fmt: skip

    first = run(recorded(RecordedBinance()), *args)
    again = run(recorded(RecordedBinance()), *args)

    assert first.exit_code == 0, first.output
    assert first.stdout == (
        "technical candles/binance/BTC/USDT/1h: 167 new points (2023-03-20 01:00 → 2023-03-27 "
        "00:00), 1 gap: 2023-03-24 14:00 (1 bar)\n"
    )
    assert again.stdout == "technical candles/binance/BTC/USDT/1h: 0 new points\n"


def test_the_command_routes_a_bare_asset_through_the_config_to_its_pair(tmp_path: Path):
    result = run(
        recorded(RecordedBinance()),
        *("data", "download", "--source", "technical", "--asset", "BTC", "--timeframe", "1h"),
        *("--since", "2023-03-26T20:00", "--until", "2023-03-27", "--to", str(tmp_path)),
    )

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "technical candles/binance/BTC/USDT/1h: 4 new points "
        "(2023-03-26 21:00 → 2023-03-27 00:00)\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("--source", "onchain", "--asset", "usdc"),
         "error: --asset: 'usdc' names no on-chain series; use one of stablecoin_supply/<SYMBOL>/"
         "<chain or all>, chain_tvl/<chain>, protocol_tvl/<slug>, cex_net_flow/<slug>\n"),
        (("--source", "news", "--asset", "https://x.test/rss", "--since", "2024-01-01"),
         "error: --since: not for --source news\n"),
        (("--source", "polymarket", "--asset", "x", "--venue", "binance"),
         "error: --venue: not for --source polymarket\n"),
        (("--source", "prices", "--asset", "BTC"),
         "error: --source: cannot download 'prices' (one of: technical, fundamental, onchain, "
         "polymarket, news)\n"),
        (("--source", "technical", "--asset", "BTC", "--timeframe", "2h"),
         "error: --timeframe: 2h is not one of 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w\n"),
    ],
)  # fmt: skip
def test_a_wrong_request_is_one_error_line_and_writes_nothing(
    tmp_path: Path, args: Iterable[str], message: str
):
    stub = RecordedBinance()
    result = run(recorded(stub), "data", "download", *args, "--to", str(tmp_path / "out"))

    assert (result.exit_code, result.stderr) == (1, message)
    assert stub.queries == [] and not (tmp_path / "out").exists()


def test_help_shows_a_download_of_every_source():
    result = CliRunner().invoke(cli, ["data", "download", "--help"])

    for source in ("technical", "fundamental", "onchain", "polymarket", "news"):
        assert f"signalops data download --source {source} --asset" in result.stdout
