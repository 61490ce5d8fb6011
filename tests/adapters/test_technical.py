"""Tests for the technical adapter (signalops.adapters.technical): candles + TA-Lib indicators.

Live path: the REAL ``ccxt.binance`` class runs end to end (URL building, response parsing, error
mapping); only its HTTP layer is replaced, at the ``requests.Session`` boundary, by a transport
adapter that serves recorded Binance answers. ccxt's sync ``Exchange.fetch`` calls
``self.session.request(...)``, so mounting an adapter on ``exchange.session`` is exactly the seam
a real network answer would pass through.

The recorded answers: Binance ``GET /api/v3/klines`` arrays built from the REAL rows of
``examples/data/ohlcv/BTCUSDT_1h_binance_2023-03.csv`` (Binance BTC/USDT hourly, March 2023, with
the real outage hour 2023-03-24 13:00 missing). The file holds open time and OHLCV only; the
fields it lacks are placeholders that ccxt ignores (quote volume approximated as volume x close,
trade count and taker volumes zero).

Replay path: the snapshot store built by ``import_bundled`` from the bundled Binance exports,
with known answers on known dates and a property test of the no-look-ahead rule.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt
import numpy as np
import pytest
import requests
import talib
from binance_recorded import response as _response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import (
    CcxtCandleFeed,
    ReplayCandleFeed,
    TechnicalAdapter,
    candle_time,
    ccxt_errors,
    import_bundled,
)
from signalops.catalogue.builtin import TECHNICAL
from signalops.errors import AdapterError
from signalops.observation import DataError, Observation, Request

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
MARCH_CSV = DATA / "ohlcv" / "BTCUSDT_1h_binance_2023-03.csv"
HOUR = 3600
DAY = 86400
MS = 1000


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def epoch(moment: datetime) -> float:
    return moment.timestamp()


# --- the recorded exchange --------------------------------------------------------------------


def _read_march() -> list[dict[str, Any]]:
    rows = []
    with MARCH_CSV.open(newline="") as handle:
        for row in csv.DictReader(handle):
            opened = datetime.fromisoformat(row["open_time"]).replace(tzinfo=UTC)
            rows.append({"open_ms": int(opened.timestamp()) * MS, **row})
    return rows


MARCH = _read_march()


def kline(row: dict[str, Any]) -> list[Any]:
    """One Binance spot kline, numbers as 8-decimal strings like the real API sends them."""

    def s(name: str) -> str:
        return f"{float(row[name]):.8f}"

    quote_volume = f"{float(row['volume']) * float(row['close']):.8f}"
    return [
        row["open_ms"], s("open"), s("high"), s("low"), s("close"), s("volume"),
        row["open_ms"] + HOUR * MS - 1, quote_volume, 0, "0.00000000", "0.00000000", "0",
    ]  # fmt: skip


KLINES = [kline(row) for row in MARCH]

# Step = what one request gets instead of the recorded klines: an HTTP status, "timeout", a raw
# body, or None (serve the recorded klines normally).
Step = int | str | None


class RecordedBinance(requests.adapters.BaseAdapter):
    """Serves ``GET /api/v3/klines`` from recorded klines, as Binance does.

    Honours ``startTime`` (klines opening at or after it), ``endTime`` and ``limit`` (default 500,
    at most 1000). ``now_ms`` is the server's clock: a kline that has opened by then is served,
    including the one still in progress, as the real API does. ``script`` lists what the first
    requests get instead (status codes, timeouts, raw bodies); later requests are served normally.
    """

    def __init__(
        self,
        klines: list[list[Any]] | None = None,
        *,
        script: Iterable[Step] = (),
        now_ms: int | None = None,
    ) -> None:
        super().__init__()
        self.klines = KLINES if klines is None else klines
        self.script = list(script)
        self.now_ms = now_ms
        self.queries: list[dict[str, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(request.url or "")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.queries.append(query)
        step = self.script.pop(0) if self.script else None
        if url.path != "/api/v3/klines":
            return _response(request, 404, "<html>no recording for this endpoint</html>")
        if step == "timeout":
            raise requests.Timeout("HTTPSConnectionPool(host='api.binance.com'): Read timed out.")
        if step == 429:
            body = '{"code":-1003,"msg":"Too many requests; current limit is 6000 weight."}'
            return _response(request, 429, body, {"Retry-After": "3"})
        if isinstance(step, int):
            page = f"<html><h1>{step} Server Error</h1></html>"
            return _response(request, step, page, content_type="text/html")
        if isinstance(step, str):
            return _response(request, 200, step)
        start = int(query.get("startTime", 0))
        end = int(query.get("endTime", 2**62))
        limit = min(int(query.get("limit", 500)), 1000)
        now = 2**62 if self.now_ms is None else self.now_ms
        served = [k for k in self.klines if start <= k[0] <= end and k[0] <= now][:limit]
        return _response(request, 200, json.dumps(served))

    def close(self) -> None:
        pass

    @property
    def kline_requests(self) -> int:
        return len(self.queries)


# The one market the tests need. ``fetch_ohlcv`` calls ``load_markets`` when no markets are set,
# which downloads /api/v3/exchangeInfo (and more); we have no recording of that multi-megabyte
# answer, so the exchange is primed with the market it would have found for BTC/USDT spot.
BTC_USDT = {
    "id": "BTCUSDT",
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
    "linear": None,
    "inverse": None,
    "active": True,
    "precision": {"amount": 1e-05, "price": 0.01},
    "limits": {"amount": {"min": 1e-05, "max": 9000.0}, "cost": {"min": 5.0, "max": None}},
}


def binance(stub: RecordedBinance) -> ccxt.binance:
    # No client-side throttle: the recorded server has no rate limit, and ccxt's throttle
    # would otherwise sleep between pages.
    exchange = ccxt.binance({"enableRateLimit": False})
    exchange.set_markets([BTC_USDT])
    exchange.session.mount("https://", stub)
    return exchange


def live(
    stub: RecordedBinance, *, page_size: int = 1000, record: SnapshotStore | None = None
) -> TechnicalAdapter:
    return TechnicalAdapter(CcxtCandleFeed(binance(stub), page_size=page_size, record=record))


# --- requests and references ------------------------------------------------------------------


def request(metric: str, asset: str = "BTC", **given: Any) -> Request:
    """A request as the compiler makes it: catalogue defaults, arguments coerced (``'1h'`` -> s)."""
    spec = TECHNICAL.get(metric)
    assert spec is not None, metric
    params = {}
    for param in spec.params:
        params[param.name] = (
            param.coerce(given[param.name]) if param.name in given else param.default
        )
    return Request("technical", spec.name, tuple(params.items()), asset)


HOURLY = {
    "rsi": request("rsi", n=14, timeframe="1h"),
    "sma": request("sma", n=20, timeframe="1h"),
    "ema": request("ema", n=20, timeframe="1h"),
    "macd": request("macd", timeframe="1h"),
    "macd_signal": request("macd_signal", timeframe="1h"),
    "macd_hist": request("macd_hist", timeframe="1h"),
    "atr": request("atr", n=14, timeframe="1h"),
    "bb_upper": request("bb_upper", timeframe="1h"),
    "bb_middle": request("bb_middle", timeframe="1h"),
    "bb_lower": request("bb_lower", timeframe="1h"),
    "volume_z": request("volume_z", n=20, timeframe="1h"),
    "return": request("return", window="24h", timeframe="1h"),
    "close": request("close", timeframe="1h"),
    "volume": request("volume", timeframe="1h"),
}


def raw_window(as_of: datetime, bars: int = 250) -> dict[str, np.ndarray]:
    """The last ``bars`` hourly candles of the raw file that closed at or before ``as_of``."""
    closed = [r for r in MARCH if r["open_ms"] / MS + HOUR <= epoch(as_of)][-bars:]
    window = {"close_time": np.array([r["open_ms"] / MS + HOUR for r in closed])}
    for name in ("open", "high", "low", "close", "volume"):
        window[name] = np.array([float(r[name]) for r in closed])
    return window


def expected_indicators(w: dict[str, np.ndarray]) -> dict[str, float]:
    """TA-Lib (and plain numpy) straight on the raw file's numbers; no adapter code involved."""
    close, volume = w["close"], w["volume"]
    macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    upper, middle, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2.0, nbdevdn=2.0)
    previous = volume[-21:-1]
    (day_ago,) = np.nonzero(w["close_time"] == w["close_time"][-1] - DAY)[0]
    return {
        "rsi": talib.RSI(close, timeperiod=14)[-1],
        "sma": talib.SMA(close, timeperiod=20)[-1],
        "ema": talib.EMA(close, timeperiod=20)[-1],
        "macd": macd[-1],
        "macd_signal": signal[-1],
        "macd_hist": hist[-1],
        "atr": talib.ATR(w["high"], w["low"], close, timeperiod=14)[-1],
        "bb_upper": upper[-1],
        "bb_middle": middle[-1],
        "bb_lower": lower[-1],
        "volume_z": (volume[-1] - previous.mean()) / previous.std(),
        "return": close[-1] / close[day_ago] - 1.0,
        "close": close[-1],
        "volume": volume[-1],
    }


def observation(answer: Observation | DataError) -> Observation:
    assert isinstance(answer, Observation), answer
    return answer


def error(answer: Observation | DataError) -> DataError:
    assert isinstance(answer, DataError), answer
    return answer


# --- live: values -----------------------------------------------------------------------------

AS_OF = utc(2023, 3, 28)  # the 250-candle window reaches back past the 03-24 13:00 outage


def test_live_indicators_equal_talib_on_the_raw_file() -> None:
    stub = RecordedBinance()
    answers = live(stub).fetch(list(HOURLY.values()), AS_OF)

    expected = expected_indicators(raw_window(AS_OF))
    got = {name: observation(answers[req]).value for name, req in HOURLY.items()}
    assert got == expected  # same candles, same TA-Lib: bit for bit
    assert stub.kline_requests == 1  # fourteen indicators, one download


def test_live_observation_is_dated_at_the_last_close_with_gap_in_detail() -> None:
    obs = observation(live(RecordedBinance()).fetch([HOURLY["rsi"]], AS_OF)[HOURLY["rsi"]])

    assert obs.as_of == AS_OF  # the 23:00 candle closes exactly at as_of
    assert obs.fetched_at == AS_OF
    assert obs.source == "technical"
    assert obs.detail == {
        "exchange": "binance",
        "candles": 250,
        "gaps": [{"first_missing_close": "2023-03-24T14:00:00Z", "missing": 1}],
    }


@pytest.mark.parametrize(
    "as_of, last_open",
    [
        (utc(2023, 3, 15, 12, 30), utc(2023, 3, 15, 11)),  # 12:00 candle still open: unused
        (utc(2023, 3, 15, 12), utc(2023, 3, 15, 11)),  # as_of exactly at a close: included
        (utc(2023, 3, 15, 12) - timedelta(milliseconds=1), utc(2023, 3, 15, 10)),
    ],
    ids=["mid-candle", "exactly-at-close", "a-millisecond-before-close"],
)
def test_live_uses_only_candles_closed_at_as_of(as_of: datetime, last_open: datetime) -> None:
    # The server's clock is as_of, so it serves the in-progress candle too, as Binance does.
    stub = RecordedBinance(now_ms=int(epoch(as_of) * MS))
    close = request("close", timeframe="1h")

    obs = observation(live(stub).fetch([close], as_of)[close])

    (row,) = [r for r in MARCH if r["open_ms"] == epoch(last_open) * MS]
    assert obs.value == float(row["close"])
    assert obs.as_of == last_open + timedelta(hours=1)
    assert obs.as_of <= as_of


def test_live_paginates_across_pages_with_start_time_and_limit() -> None:
    stub = RecordedBinance()
    answers = live(stub, page_size=100).fetch(list(HOURLY.values()), AS_OF)

    starts = [int(q["startTime"]) for q in stub.queries]
    assert [q["limit"] for q in stub.queries] == ["100"] * len(starts)
    assert len(starts) == 3  # ~276 candles before as_of, then the page that passes it
    for previous, start in itertools.pairwise(starts):
        served = [k[0] for k in KLINES if k[0] >= previous][:100]
        assert start == served[-1] + HOUR * MS  # the next page starts after the last candle
    expected = expected_indicators(raw_window(AS_OF))
    for name, req in HOURLY.items():
        assert observation(answers[req]).value == expected[name]


def test_live_pagination_gives_the_same_values_as_one_big_page() -> None:
    requests_ = list(HOURLY.values())
    paged = live(RecordedBinance(), page_size=37).fetch(requests_, AS_OF)
    single = live(RecordedBinance(), page_size=1000).fetch(requests_, AS_OF)

    assert paged == single


def test_live_window_with_a_gap_still_has_the_last_250_candles_like_replay() -> None:
    # as_of mid-candle with the outage inside the window: the feed must fetch far enough back
    # to return 250 candles that exist, not 250 hours' worth (249 candles).
    as_of = utc(2023, 3, 28, 0, 30)
    rsi = HOURLY["rsi"]

    obs = observation(live(RecordedBinance()).fetch([rsi], as_of)[rsi])

    assert obs.detail["candles"] == 250
    assert obs.value == talib.RSI(raw_window(as_of)["close"], timeperiod=14)[-1]


def test_live_value_does_not_depend_on_other_requests_in_the_batch() -> None:
    # sma(300) makes the batch download 300 candles; rsi(14) must still use its own 250.
    as_of = utc(2023, 4, 1)
    rsi, long_sma = HOURLY["rsi"], request("sma", n=300, timeframe="1h")

    alone = live(RecordedBinance()).fetch([rsi], as_of)[rsi]
    together = live(RecordedBinance()).fetch([long_sma, rsi], as_of)

    assert observation(together[rsi]) == observation(alone)
    assert observation(together[long_sma]).value == pytest.approx(
        talib.SMA(raw_window(as_of, 300)["close"], timeperiod=300)[-1], rel=1e-12
    )


# --- live: failures ---------------------------------------------------------------------------


def test_live_429_is_rate_limited_without_retry_then_next_cycle_succeeds() -> None:
    # Decision: the feed does not retry a 429. Binance bans IPs that keep calling after a 429
    # (HTTP 418), and the next evaluation cycle is the retry; until then the leaves are UNKNOWN.
    stub = RecordedBinance(script=[429])
    adapter = live(stub)
    batch = [HOURLY["rsi"], HOURLY["sma"], HOURLY["close"]]

    first = adapter.fetch(batch, AS_OF)

    assert {error(a).reason for a in first.values()} == {"RATE_LIMITED"}
    assert error(first[HOURLY["rsi"]]).source == "technical"
    assert stub.kline_requests == 1  # one failed download answers the whole batch

    second = adapter.fetch(batch, AS_OF)

    expected = expected_indicators(raw_window(AS_OF))
    assert observation(second[HOURLY["rsi"]]).value == expected["rsi"]
    assert observation(second[HOURLY["close"]]).value == expected["close"]
    assert stub.kline_requests == 2


def test_live_read_timeout_fails_the_batch_with_timeout() -> None:
    # requests.Timeout -> ccxt RequestTimeout -> TIMEOUT
    stub = RecordedBinance(script=["timeout"])

    answers = live(stub).fetch([HOURLY["rsi"], HOURLY["atr"]], AS_OF)

    assert [error(a).reason for a in answers.values()] == ["TIMEOUT", "TIMEOUT"]
    assert stub.kline_requests == 1


@pytest.mark.parametrize(
    "status, reason",
    [(500, "HTTP_ERROR"), (502, "HTTP_ERROR"), (503, "HTTP_ERROR"), (504, "TIMEOUT")],
)
def test_live_5xx_storm_fails_every_cycle_then_recovers(status: int, reason: str) -> None:
    # ccxt maps 500/502/503 to ExchangeNotAvailable (the server answered: HTTP_ERROR) and 504
    # (gateway timeout) to RequestTimeout. Each cycle makes one request, not one per indicator.
    stub = RecordedBinance(script=[status] * 3)
    adapter = live(stub)
    batch = list(HOURLY.values())

    for cycle in range(3):
        answers = adapter.fetch(batch, AS_OF)
        assert {error(a).reason for a in answers.values()} == {reason}
        assert stub.kline_requests == cycle + 1

    answers = adapter.fetch(batch, AS_OF)
    assert all(isinstance(a, Observation) for a in answers.values())


@pytest.mark.parametrize(
    "body",
    [
        '[[1677628800000,"23141.57000000","23219.99',  # truncated mid-array
        "<html><body>502 Bad Gateway</body></html>",  # a proxy's error page with status 200
        "",
    ],
    ids=["truncated", "html", "empty-body"],
)
def test_live_malformed_json_is_bad_response_not_an_empty_history(body: str) -> None:
    # ccxt swallows the JSON error and parses the text into [] - indistinguishable from "no
    # candles" unless the feed looks at the body.
    answers = live(RecordedBinance(script=[body])).fetch([HOURLY["rsi"]], AS_OF)

    assert error(answers[HOURLY["rsi"]]).reason == "BAD_RESPONSE"


def _corrupt(index: int, value: Any, when: datetime) -> list[list[Any]]:
    klines = [list(k) for k in KLINES]
    (target,) = [k for k in klines if k[0] == epoch(when) * MS]
    target[index] = value
    return klines


@pytest.mark.parametrize(
    "index, value",
    [(4, "abc"), (4, "NaN"), (2, None), (5, "1,234.5"), (1, "")],
    ids=["close-abc", "close-NaN", "high-null", "volume-comma", "open-empty"],
)
def test_live_non_number_in_a_candle_is_bad_response(index: int, value: Any) -> None:
    stub = RecordedBinance(_corrupt(index, value, utc(2023, 3, 20, 5)))

    answers = live(stub).fetch([HOURLY["rsi"], HOURLY["close"]], AS_OF)

    for answer in answers.values():
        assert error(answer).reason == "BAD_RESPONSE"
        assert error(answer).message.startswith("BTC/USDT: candle field")


def test_live_candle_time_given_as_a_date_string_is_a_reported_gap_not_an_internal_error():
    # ccxt's parser cannot date the row and leaves it out: the window reports it missing.
    page = [list(k) for k in KLINES if k[0] <= epoch(AS_OF) * MS][-300:]
    page[-5][0] = "2023-03-27T20:00:00Z"
    stub = RecordedBinance(script=[json.dumps(page)])

    answer = live(stub).fetch([HOURLY["close"]], AS_OF)[HOURLY["close"]]

    assert isinstance(answer, Observation)
    assert {"first_missing_close": "2023-03-27T21:00:00Z", "missing": 1} in answer.detail["gaps"]


@pytest.mark.parametrize("stamp", ["2023-03-20T05:00:00Z", "1679288400000", None, True])
def test_a_candle_time_that_is_not_milliseconds_is_bad_response(stamp: Any) -> None:
    with pytest.raises(AdapterError) as refused:
        candle_time([stamp, 1, 2, 0.5, 1.5, 10], "BTC/USDT")

    assert refused.value.reason == "BAD_RESPONSE"
    assert str(refused.value).endswith(
        f"BTC/USDT: candle time {stamp!r} is not a number of milliseconds"
    )


@pytest.mark.parametrize(
    "index, value, problem",
    [
        (1, "-5", "open -5 is not above zero"),
        (3, "0", "low 0 is not above zero"),
        (2, "1", "high 1 is below low"),
        (5, "-3", "volume -3 is negative"),
    ],
    ids=["negative-open", "zero-low", "high-below-low", "negative-volume"],
)
def test_live_implausible_candle_is_bad_response(index: int, value: str, problem: str) -> None:
    stub = RecordedBinance(_corrupt(index, value, utc(2023, 3, 20, 5)))

    answers = live(stub).fetch([HOURLY["close"]], AS_OF)

    message = error(answers[HOURLY["close"]]).message
    assert error(answers[HOURLY["close"]]).reason == "BAD_RESPONSE"
    assert message.startswith(f"BTC/USDT: implausible candle ({problem}")


def test_live_empty_history_is_insufficient_history() -> None:
    answers = live(RecordedBinance(klines=[])).fetch([HOURLY["close"], HOURLY["rsi"]], AS_OF)

    for answer in answers.values():
        assert error(answer).reason == "INSUFFICIENT_HISTORY"
    assert "0 available" in error(answers[HOURLY["close"]]).message


def test_live_as_of_before_the_first_candle_is_insufficient_history() -> None:
    answers = live(RecordedBinance()).fetch([HOURLY["close"]], utc(2023, 2, 1))

    assert error(answers[HOURLY["close"]]).reason == "INSUFFICIENT_HISTORY"


def test_live_sma200_on_four_days_of_hours_is_insufficient_but_rsi_still_answers() -> None:
    as_of = utc(2023, 3, 5)  # 96 hourly candles exist
    sma200 = request("sma", n=200, timeframe="1h")

    answers = live(RecordedBinance()).fetch([sma200, HOURLY["rsi"]], as_of)

    failed = error(answers[sma200])
    assert failed.reason == "INSUFFICIENT_HISTORY"
    assert failed.message == "sma needs 200 closed 1h candles, 96 available"
    rsi = observation(answers[HOURLY["rsi"]])
    assert rsi.value == talib.RSI(raw_window(as_of)["close"], timeperiod=14)[-1]


def test_live_unsupported_timeframe_is_bad_request_without_any_http() -> None:
    # The compiler only lets catalogue timeframes through; a request built by hand (or by a
    # plugin) can still ask for 2h candles, which the feed has no ccxt code for.
    stub = RecordedBinance()
    two_hours = Request("technical", "rsi", (("n", 14), ("timeframe", 7200)), "BTC")

    answer = error(live(stub).fetch([two_hours], AS_OF)[two_hours])

    assert answer.reason == "BAD_REQUEST"
    assert "2h" in answer.message
    assert stub.kline_requests == 0


def test_live_unknown_market_is_unknown_symbol_without_any_http() -> None:
    stub = RecordedBinance()
    doge = request("close", asset="DOGE", timeframe="1h")

    answer = error(live(stub).fetch([doge], AS_OF)[doge])

    assert answer.reason == "UNKNOWN_SYMBOL"
    assert stub.kline_requests == 0


def test_live_request_without_asset_is_bad_request() -> None:
    no_asset = HOURLY["close"]._replace(asset=None)

    assert error(live(RecordedBinance()).fetch([no_asset], AS_OF)[no_asset]).reason == (
        "BAD_REQUEST"
    )


# --- recording and replay parity --------------------------------------------------------------


@pytest.mark.parametrize("as_of", [AS_OF, utc(2023, 3, 24, 15, 30), utc(2023, 3, 31, 9)])
def test_live_recording_replays_identical_indicators(tmp_path: Path, as_of: datetime) -> None:
    store = SnapshotStore(tmp_path)
    batch = list(HOURLY.values())

    live_answers = live(RecordedBinance(), page_size=100, record=store).fetch(batch, as_of)
    replayed = TechnicalAdapter.replay(SnapshotStore(tmp_path)).fetch(batch, as_of)

    assert store.keys("technical") == ["candles/binance/BTC/USDT/1h"]
    assert all(isinstance(a, Observation) for a in live_answers.values())
    assert replayed == live_answers  # values, data times and details, exactly


def test_recorded_candles_are_the_closed_raw_candles(tmp_path: Path) -> None:
    as_of = utc(2023, 3, 10, 6, 30)
    store = SnapshotStore(tmp_path)
    stub = RecordedBinance(now_ms=int(epoch(as_of) * MS))

    live(stub, record=store).fetch([HOURLY["close"]], as_of)

    series = store.series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None
    assert series.times[-1] == epoch(utc(2023, 3, 10, 6))  # not the open 06:00 candle
    (row,) = [r for r in MARCH if r["open_ms"] == epoch(utc(2023, 3, 10, 5)) * MS]
    assert series.values[-1] == [float(row[k]) for k in ("open", "high", "low", "close", "volume")]


# --- import_bundled ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def records() -> list[tuple[str, float, Any]]:
    return list(import_bundled(DATA))


@pytest.fixture(scope="module")
def bundled_store(
    tmp_path_factory: pytest.TempPathFactory, records: list[tuple[str, float, Any]]
) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("replay"))
    store.write("technical", records)
    return SnapshotStore(store.directory)


def _by_key(records: list[tuple[str, float, Any]], key: str) -> dict[float, Any]:
    return {t: v for k, t, v in records if k == key}


def test_import_bundled_writes_three_candle_series(records: list[tuple[str, float, Any]]) -> None:
    counts: dict[str, int] = {}
    for key, _, _ in records:
        counts[key] = counts.get(key, 0) + 1

    assert counts == {
        "candles/binance/BTC/USDT/1d": 3142,
        "candles/binance/ETH/USDT/1d": 3142,
        "candles/binance/BTC/USDT/1h": 43780,  # the 2023-03 subset is not imported twice
    }
    assert len({(k, t) for k, t, _ in records}) == len(records)


def test_import_bundled_btc_daily_2023_03_10_known_answer(
    records: list[tuple[str, float, Any]],
) -> None:
    daily = _by_key(records, "candles/binance/BTC/USDT/1d")

    # Binance BTC/USDT on 2023-03-10 (SVB week): low 19549.09, close 20150.69; t = its close
    o, h, low, c, v = daily[epoch(utc(2023, 3, 11))]
    assert (o, h, low, c, v) == (20362.21, 20367.78, 19549.09, 20150.69, 618456.4671)
    assert min(daily) == epoch(utc(2017, 8, 18))  # first candle opened 2017-08-17
    assert max(daily) == epoch(utc(2026, 3, 31))  # last candle opened 2026-03-30


def test_import_bundled_eth_daily_uses_eth_volume(records: list[tuple[str, float, Any]]) -> None:
    daily = _by_key(records, "candles/binance/ETH/USDT/1d")

    assert daily[epoch(utc(2023, 3, 11))] == [1437.32, 1439.43, 1368.39, 1426.44, 960262.4509]


def test_import_bundled_hourly_has_the_real_gap(records: list[tuple[str, float, Any]]) -> None:
    hourly = _by_key(records, "candles/binance/BTC/USDT/1h")

    assert epoch(utc(2023, 3, 24, 14)) not in hourly  # the 13:00 hour (closing 14:00) is missing
    assert epoch(utc(2023, 3, 24, 13)) in hourly and epoch(utc(2023, 3, 24, 15)) in hourly
    assert min(hourly) == epoch(utc(2020, 10, 7, 19))  # opened 2020-10-07 18:00
    assert max(hourly) == epoch(utc(2025, 10, 6, 18))  # opened 2025-10-06 17:00
    first = [10639.01, 10667.43, 10631.44, 10664.11, 1483.03011]
    assert hourly[epoch(utc(2020, 10, 7, 19))] == first
    times = sorted(hourly)
    missing = sum(round((b - a) / HOUR) - 1 for a, b in itertools.pairwise(times))
    assert missing == 20  # the 20 real outage hours of the README


def test_import_bundled_hourly_agrees_with_the_march_file(
    records: list[tuple[str, float, Any]],
) -> None:
    hourly = _by_key(records, "candles/binance/BTC/USDT/1h")

    for row in MARCH:
        candle = [float(row[k]) for k in ("open", "high", "low", "close", "volume")]
        assert hourly[row["open_ms"] / MS + HOUR] == candle


def test_import_bundled_bad_row_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "ohlcv"
    folder.mkdir()
    for name in ("Binance_BTCUSDT_d.csv", "Binance_ETHUSDT_d.csv"):
        banner = (DATA / "ohlcv" / name).read_text().splitlines()[0]
        (folder / name).write_text(f"{banner}\nUnix,Date,Symbol,Open,High,Low,Close,Volume BTC\n")
    (folder / "BTCUSDT_1h_binance_2020-10_2025-10.csv").write_text(
        "open_time,open,high,low,close,volume\n"
        "2023-03-01 00:00:00,23141.57,23219.99,23020.03,23101.0,12736.94918\n"
        "2023-03-01 01:00:00,23101.0,23296.94,n/a,23245.96,11574.1772\n"
    )
    with pytest.raises(AdapterError) as caught:
        list(import_bundled(tmp_path))

    assert caught.value.reason == "BAD_DATA"
    assert "BTCUSDT_1h_binance_2020-10_2025-10.csv:3:" in caught.value.message


# --- replay -----------------------------------------------------------------------------------


def test_replay_btc_daily_rsi_on_2023_03_11_known_answer(bundled_store: SnapshotStore) -> None:
    as_of = utc(2023, 3, 11)
    rsi = request("rsi", n=14, timeframe="1d")

    obs = observation(TechnicalAdapter.replay(bundled_store).fetch([rsi], as_of)[rsi])

    # TA-Lib straight on the CSV's last 250 daily closes up to 2023-03-10 (the candle closing at
    # as_of); over the whole history since 2017 it is 28.2420486, the same to 7 digits.
    with (DATA / "ohlcv" / "Binance_BTCUSDT_d.csv").open(newline="") as handle:
        next(handle)  # the URL banner
        rows = sorted(csv.DictReader(handle), key=lambda r: int(r["Unix"]))
    closes = np.array(
        [float(r["Close"]) for r in rows if int(r["Unix"]) / MS + DAY <= epoch(as_of)]
    )
    assert obs.value == talib.RSI(closes[-250:], timeperiod=14)[-1]
    assert obs.value == pytest.approx(28.24, abs=0.005)
    assert obs.as_of == as_of
    assert obs.detail == {"exchange": "binance", "candles": 250}


def test_replay_btc_daily_low_and_close_of_2023_03_10(bundled_store: SnapshotStore) -> None:
    adapter = TechnicalAdapter.replay(bundled_store)
    low, close = request("low"), request("close")  # timeframe defaults to 1d

    answers = adapter.fetch([low, close], utc(2023, 3, 11, 8))

    assert observation(answers[low]).value == 19549.09
    assert observation(answers[close]).value == 20150.69
    assert observation(answers[close]).as_of == utc(2023, 3, 11)


def test_replay_a_second_before_the_close_uses_the_previous_day(
    bundled_store: SnapshotStore,
) -> None:
    close = request("close", asset="ETH")

    as_of = utc(2023, 3, 10, 23, 59, 59)

    obs = observation(TechnicalAdapter.replay(bundled_store).fetch([close], as_of)[close])

    assert obs.as_of == utc(2023, 3, 10)  # the 03-09 candle; 03-10's closes a second later
    assert obs.value == 1437.32


def test_replay_hourly_outage_shows_as_staleness_then_as_a_gap(
    bundled_store: SnapshotStore,
) -> None:
    adapter = TechnicalAdapter.replay(bundled_store)
    close = HOURLY["close"]

    during = observation(adapter.fetch([close], utc(2023, 3, 24, 14, 30))[close])
    after = observation(adapter.fetch([close], utc(2023, 3, 24, 16))[close])

    assert during.as_of == utc(2023, 3, 24, 13)  # the 13:00 hour never closed: data is stale
    assert "gaps" not in during.detail
    assert after.as_of == utc(2023, 3, 24, 16)
    assert after.detail["gaps"] == [{"first_missing_close": "2023-03-24T14:00:00Z", "missing": 1}]


def test_replay_hourly_matches_live_on_the_same_window(bundled_store: SnapshotStore) -> None:
    # The full 2020-2025 hourly import and the live feed over the March recording agree.
    batch = list(HOURLY.values())

    replayed = TechnicalAdapter.replay(bundled_store).fetch(batch, AS_OF)
    live_answers = live(RecordedBinance()).fetch(batch, AS_OF)

    assert replayed == live_answers


@pytest.mark.parametrize(
    "req, reason",
    [
        (request("close", asset="SOL"), "NO_DATA"),
        (request("close", asset="ETH", timeframe="1h"), "NO_DATA"),
        (request("close", timeframe="4h"), "NO_DATA"),
    ],
    ids=["unknown-asset", "eth-hourly-not-recorded", "btc-4h-not-recorded"],
)
def test_replay_unrecorded_series_is_no_data(
    bundled_store: SnapshotStore, req: Request, reason: str
) -> None:
    assert error(TechnicalAdapter.replay(bundled_store).fetch([req], AS_OF)[req]).reason == reason


def test_replay_before_the_first_candle_is_insufficient_history(
    bundled_store: SnapshotStore,
) -> None:
    close = request("close")

    answer = TechnicalAdapter.replay(bundled_store).fetch([close], utc(2017, 8, 17, 12))[close]

    assert error(answer).reason == "INSUFFICIENT_HISTORY"


# --- property: replay never looks ahead -------------------------------------------------------

FIRST_DAILY = epoch(utc(2017, 8, 18))
LAST_HOURLY = epoch(utc(2025, 10, 6, 18))
LAST_DAILY = epoch(utc(2026, 3, 31))


@st.composite
def metric_requests(draw: st.DrawFn) -> Request:
    spec = TECHNICAL.metrics[draw(st.sampled_from(sorted(TECHNICAL.metrics)))]
    given: dict[str, Any] = {}
    for param in spec.params:
        if param.name == "timeframe":
            given["timeframe"] = draw(st.sampled_from(["1h", "1d"]))
        elif param.name == "window":
            given["window"] = draw(st.sampled_from(["1h", "4h", "24h", "3d", "7d"]))
        elif param.type == "int":
            given[param.name] = draw(st.integers(2, 60))
        elif param.type == "number":
            given[param.name] = draw(st.sampled_from([1.0, 2.0, 2.5]))
    asset = draw(st.sampled_from(["BTC", "BTC", "ETH"]))
    return request(spec.name, asset=asset, **given)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    when=st.floats(FIRST_DAILY - 3 * DAY, LAST_DAILY + 3 * DAY),
    batch=st.lists(metric_requests(), min_size=1, max_size=4),
)
def test_replay_never_dates_an_observation_after_as_of(
    bundled_store: SnapshotStore, when: float, batch: list[Request]
) -> None:
    as_of = datetime.fromtimestamp(when, UTC)

    answers = TechnicalAdapter.replay(bundled_store).fetch(batch, as_of)

    for req, answer in answers.items():
        timeframe = dict(req.params)["timeframe"]
        key = f"candles/binance/{req.asset}/USDT/{'1h' if timeframe == HOUR else '1d'}"
        series = bundled_store.series("technical", key)
        if isinstance(answer, DataError):
            # never LOOK_AHEAD (the base class's last line of defence) nor a crash
            assert answer.reason in {"NO_DATA", "INSUFFICIENT_HISTORY"}, answer
            assert (series is None) == (answer.reason == "NO_DATA")
            continue
        assert series is not None
        latest = series.last_at_or_before(epoch(as_of))
        assert latest is not None
        assert answer.as_of <= as_of
        assert epoch(answer.as_of) == latest[0]  # the latest close at or before as_of
        assert not math.isnan(answer.value)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(when=st.floats(FIRST_DAILY, LAST_HOURLY), bars=st.integers(1, 400))
def test_replay_feed_returns_only_the_last_closed_candles(
    bundled_store: SnapshotStore, when: float, bars: int
) -> None:
    candles = ReplayCandleFeed(bundled_store).candles("BTC", HOUR, when, bars)
    series = bundled_store.series("technical", "candles/binance/BTC/USDT/1h")
    assert series is not None

    end = series.end(when)
    assert len(candles) == min(bars, end)
    if len(candles):
        assert candles.close_time[-1] <= when
        assert candles.close_time[-1] == series.times[end - 1]
        assert list(candles.close_time) == series.times[end - len(candles) : end]


@pytest.mark.parametrize(
    ("raised", "reason", "message"),
    [
        (ccxt.RateLimitExceeded("kraken {\"error\":[\"EAPI:Rate limit exceeded\"]}"),
         "RATE_LIMITED", "technical: kraken rate limited the request"),
        (ccxt.InvalidNonce("kraken {\"error\":[\"EAPI:Invalid nonce\"]}"),
         "CLOCK_SKEW", "technical: kraken refused the request's nonce (is this machine's clock "
         "right?): kraken {\"error\":[\"EAPI:Invalid nonce\"]}"),
    ],
    ids=["429", "nonce"],
)  # fmt: skip
def test_an_answer_ccxt_files_under_network_errors_is_not_called_a_failed_connection(
    raised: Exception, reason: str, message: str
):
    # ccxt's RateLimitExceeded and InvalidNonce are NetworkErrors: both read "connection to
    # kraken failed", and a 429 was not RATE_LIMITED.
    with pytest.raises(AdapterError) as failed, ccxt_errors("kraken", "BTC/EUR"):
        raise raised
    assert (failed.value.reason, str(failed.value)) == (reason, message)
