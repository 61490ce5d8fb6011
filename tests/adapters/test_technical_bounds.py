"""The live candle feed's bounds on what an exchange answers (issue 11, "Bounded inputs").

The REAL ``ccxt.binance`` class runs end to end; only its ``requests`` session's transport is
the recorded one of tests/adapters/test_technical.py (``RecordedBinance``: Binance klines built
from the real March 2023 hourly rows). Each fault is an answer a broken or hostile server (or
proxy) could send: nested a hundred thousand deep, a redirect to itself, a transport plugin
raising something ``requests`` has no class for, a page of 20,000 candles for a request of 1,000,
more bytes than any real answer has. Each must be an UNKNOWN with its own code, never an
INTERNAL_ERROR, and never a crash of the process -- also once py-clob-client is imported (its
py_ecc raises the recursion limit to 100,000, and the json module's C parser then overflows the C
stack instead of raising): that case runs in a subprocess.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import requests
from binance_recorded import response
from test_technical import AS_OF, HOURLY, KLINES, MS, RecordedBinance, binance, epoch, error, live

from signalops.adapters.http import MAX_RESPONSE_BYTES
from signalops.adapters.technical import (
    VALUES_PER_CANDLE,
    CcxtCandleFeed,
    TechnicalAdapter,
    bound_exchange,
    candle_page,
)
from signalops.observation import Observation

TESTS = Path(__file__).resolve().parents[1]
DEEP = "[" * 100_000 + "]" * 100_000


def recorded_page(count: int) -> str:
    """``count`` klines in Binance's shape: the recorded March rows, repeated an hour apart."""
    first = KLINES[0][0]
    rows = []
    for i in range(count):
        row = list(KLINES[i % len(KLINES)])
        row[0], row[6] = first + i * 3600 * MS, first + (i + 1) * 3600 * MS - 1
        rows.append(row)
    return json.dumps(rows)


class Scripted(RecordedBinance):
    """The recorded exchange, except that every klines request gets ``answer(request)``."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.queries.append({})
        return self.answer(request)


def close_of(stub: RecordedBinance) -> Any:
    return live(stub).fetch([HOURLY["close"]], AS_OF)[HOURLY["close"]]


def test_a_candle_answer_nested_a_hundred_thousand_deep_is_response_too_deep() -> None:
    found = error(close_of(RecordedBinance(script=[DEEP])))

    assert found.reason == "RESPONSE_TOO_DEEP"
    assert found.message.startswith("binance: JSON from https://api.binance.com/api/v3/klines?")
    assert found.message.endswith("is nested too deeply to read")


def test_with_py_clob_client_imported_a_deep_candle_answer_is_one_unknown_not_a_crash() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(TESTS / "adapters")!r}, {str(TESTS)!r}]
        import py_clob_client.client  # a run with a Polymarket source or auto mode imports it
        import test_technical as t
        answer = t.live(t.RecordedBinance(script=["[" * 100_000 + "]" * 100_000])).fetch(
            [t.HOURLY["close"]], t.AS_OF
        )[t.HOURLY["close"]]
        print(sys.getrecursionlimit(), "UNKNOWN", answer.reason)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-2000:]  # a segmentation fault is -11
    assert done.stdout == "100000 UNKNOWN RESPONSE_TOO_DEEP\n"


def test_a_redirect_loop_is_redirect_loop_not_an_http_error() -> None:
    stub = Scripted(lambda request: response(request, 302, "", {"Location": request.url}))

    found = error(close_of(stub))

    assert (found.reason, found.message) == ("REDIRECT_LOOP", "binance redirects in a loop")
    assert stub.kline_requests == 31  # requests gives up after 30 redirects; nothing retries


def test_a_transport_raising_what_requests_has_no_class_for_is_transport_error() -> None:
    def crash(request: requests.PreparedRequest) -> requests.Response:
        raise RuntimeError("proxy plugin crashed")

    found = error(close_of(Scripted(crash)))

    assert found.reason == "TRANSPORT_ERROR"
    assert found.message.startswith("binance: request to https://api.binance.com/api/v3/klines")
    assert found.message.endswith("failed (RuntimeError: proxy plugin crashed)")


def test_a_transport_timeout_keeps_ccxts_own_code() -> None:
    assert error(close_of(RecordedBinance(script=["timeout"]))).reason == "TIMEOUT"


def test_a_page_of_twenty_thousand_candles_for_one_thousand_is_refused_before_parsing() -> None:
    # ccxt trims every page to ``limit`` after parsing it: a 600,000-candle answer took 8.8 s and
    # 550 MB and came back as 1,000 good-looking candles. The page is counted before parsing.
    found = error(close_of(RecordedBinance(script=[recorded_page(20_000)])))

    assert found.reason == "RESPONSE_TOO_LARGE"
    assert found.message == (
        f"binance answered about 260,000 values for a page of 1,000 candles "
        f"(at most {1000 * VALUES_PER_CANDLE:,})"
    )


def test_a_full_page_of_real_candles_is_well_within_the_bound() -> None:
    answer = close_of(RecordedBinance(script=[recorded_page(1000)]))

    assert isinstance(answer, Observation)


def test_the_page_bound_holds_only_while_a_candle_page_is_fetched() -> None:
    # Market listings (load_markets) are far larger than a candle page and must still load.
    page = recorded_page(20_000)
    exchange = binance(Scripted(lambda request: response(request, 200, page)))
    bound_exchange(exchange)

    outside = exchange.fetch_ohlcv("BTC/USDT", "1h", limit=1000)
    try:
        with candle_page(exchange, 1000):
            exchange.fetch_ohlcv("BTC/USDT", "1h", limit=1000)
    except Exception as refused:
        inside = refused
    else:
        inside = None

    assert len(outside) == 1000
    assert getattr(inside, "reason", None) == "RESPONSE_TOO_LARGE"


def test_an_answer_declaring_more_than_the_byte_limit_is_refused_unread() -> None:
    declared = {"Content-Length": str(MAX_RESPONSE_BYTES + 1)}
    stub = Scripted(lambda request: response(request, 200, "[]", declared))

    found = error(close_of(stub))

    assert found.reason == "RESPONSE_TOO_LARGE"
    assert found.message.endswith(f"answered more than {MAX_RESPONSE_BYTES:,} bytes")


class Wire(io.BytesIO):
    """A body still on the wire: counts what was read of it."""

    served = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.served += len(chunk)
        return chunk


def test_a_streamed_answer_is_read_no_further_than_the_byte_limit() -> None:
    row = json.dumps(KLINES[0]).encode() + b","
    body = Wire(b"[" + row * (MAX_RESPONSE_BYTES // len(row) + 10) + b"[]]")

    def stream(request: requests.PreparedRequest) -> requests.Response:
        answer = response(request, 200, "")
        answer._content, answer.raw = False, body  # a body still on the wire
        return answer

    found = error(close_of(Scripted(stream)))

    assert found.reason == "RESPONSE_TOO_LARGE"
    assert body.served <= MAX_RESPONSE_BYTES + 64 * 1024  # one chunk past the limit at most
    assert body.closed


def test_a_streamed_answer_within_the_limits_reaches_ccxt_whole() -> None:
    page = json.dumps([k for k in KLINES if k[0] <= epoch(AS_OF) * MS][-300:]).encode()

    def stream(request: requests.PreparedRequest) -> requests.Response:
        answer = response(request, 200, "")
        answer._content, answer.raw = False, Wire(page)
        return answer

    streamed = close_of(Scripted(stream))

    assert isinstance(streamed, Observation)
    assert streamed == close_of(RecordedBinance())


def test_a_feed_bounds_the_exchange_it_is_given_and_stubs_mounted_later() -> None:
    exchange = binance(RecordedBinance())
    feed = CcxtCandleFeed(exchange)
    exchange.session.mount("https://", Scripted(lambda request: response(request, 200, DEEP)))

    found = error(TechnicalAdapter(feed).fetch([HOURLY["close"]], AS_OF)[HOURLY["close"]])

    assert found.reason == "RESPONSE_TOO_DEEP"
