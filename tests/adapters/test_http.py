"""Tests for the shared HTTP client (signalops.adapters.http).

Every request goes through a real ``httpx.Client`` whose transport is an ``httpx.MockTransport``
serving a scripted sequence of answers (status codes, bodies, raised timeouts), so retries,
back-off, the cache and the rate limit are exercised exactly as they run live, without the
network. Time is a fake clock: ``sleep`` records the wait and advances the clock, so back-off and
rate-limit waits are asserted as numbers and nothing actually waits.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from signalops.adapters.http import (
    AnswerBounds,
    HttpClient,
    ReportingTransport,
    UnusableAnswer,
    bound_answers,
    field_of,
    json_shape,
    number,
    redact,
)
from signalops.errors import AdapterError

URL = "https://api.example.test/v1/prices"
# A real recorded CLOB order-book body (examples/data/polymarket/clob_book_..._from-ccxt-fixture)
# is the shape the adapters read; the tests only need a small valid JSON document.
BODY = {"market": "0xabc", "bids": [{"price": "0.52", "size": "100"}], "timestamp": "1700000000"}

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class FakeTime:
    """A monotonic clock that only moves when the code under test sleeps (or a test ticks it)."""

    def __init__(self, start: float = 10_000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def tick(self, seconds: float) -> None:
        self.now += seconds


class Script:
    """An httpx transport that answers requests from a list; the last answer repeats."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.seen: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def ok(body: Any = BODY) -> httpx.Response:
    return httpx.Response(200, json=body)


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, text=f"error {code}", headers=headers)


def client(script: Script, fake: FakeTime, **options: Any) -> HttpClient:
    return HttpClient(
        "test", transport=script.transport, clock=fake.clock, sleep=fake.sleep, **options
    )


def failure(call: Callable[[], Any]) -> AdapterError:
    with pytest.raises(AdapterError) as caught:
        call()
    return caught.value


# --- retries ----------------------------------------------------------------------------------


def test_429_with_retry_after_then_success_waits_retry_after_and_returns_body() -> None:
    script, fake = Script(status(429, **{"Retry-After": "2"}), ok()), FakeTime()
    http = client(script, fake)

    assert http.get_json(URL) == BODY
    assert fake.sleeps == [2.0]  # Retry-After (2 s) beats the 0.5 s back-off
    assert http.requests_sent == 2


def test_429_with_retry_after_shorter_than_backoff_waits_the_backoff() -> None:
    script, fake = Script(status(429, **{"Retry-After": "0.1"}), ok()), FakeTime()

    assert client(script, fake, backoff=1.5).get_json(URL) == BODY
    assert fake.sleeps == [1.5]


def test_429_with_retry_after_beyond_max_backoff_gives_up_at_once_rate_limited() -> None:
    script, fake = Script(status(429, **{"Retry-After": "120"}), ok()), FakeTime()
    http = client(script, fake, max_backoff=8.0)

    error = failure(lambda: http.get_json(URL))

    assert error.reason == "RATE_LIMITED"
    assert "Retry-After 120s" in error.message and "gave up after 1 attempts" in error.message
    assert fake.sleeps == [] and http.requests_sent == 1  # never retried before it was allowed


def test_429_storm_exhausts_retries_rate_limited() -> None:
    script, fake = Script(status(429)), FakeTime()
    http = client(script, fake, retries=2)

    error = failure(lambda: http.get_json(URL))

    assert error.reason == "RATE_LIMITED"
    assert "HTTP 429" in error.message and "gave up after 3 attempts" in error.message
    assert http.requests_sent == 3


def test_timeout_then_success_retries_after_backoff() -> None:
    script, fake = Script(httpx.ReadTimeout("read timed out"), ok()), FakeTime()
    http = client(script, fake, backoff=0.5)

    assert http.get_json(URL) == BODY
    assert fake.sleeps == [0.5]
    assert http.requests_sent == 2


def test_timeouts_exhausting_retries_fail_timeout_with_doubling_backoff() -> None:
    script, fake = Script(httpx.ConnectTimeout("connect timed out")), FakeTime()
    http = client(script, fake, retries=3, backoff=0.5, timeout=4.0)

    error = failure(lambda: http.get_json(URL))

    assert error.reason == "TIMEOUT"
    assert error.source == "test"
    assert "timed out after 4s" in error.message and "gave up after 4 attempts" in error.message
    assert fake.sleeps == [0.5, 1.0, 2.0]  # no sleep after the last attempt
    assert len(script.seen) == 4


def test_5xx_storm_exhausting_retries_fails_http_error_with_attempt_count() -> None:
    script, fake = Script(status(500), status(502), status(503), status(504)), FakeTime()
    http = client(script, fake, retries=5, backoff=0.5, max_backoff=2.0)

    error = failure(lambda: http.get_json(URL))

    assert error.reason == "HTTP_ERROR"
    assert error.message.startswith("HTTP 504 from https://api.example.test/v1/prices")
    assert "gave up after 6 attempts" in error.message
    assert fake.sleeps == [0.5, 1.0, 2.0, 2.0, 2.0]  # doubling, capped at max_backoff
    assert http.requests_sent == 6


def test_5xx_then_success_returns_body() -> None:
    script, fake = Script(status(503), status(502), ok()), FakeTime()

    assert client(script, fake).get_json(URL) == BODY
    assert fake.sleeps == [0.5, 1.0]


def test_connection_errors_exhausting_retries_fail_connection_error() -> None:
    script, fake = Script(httpx.ConnectError("connection refused")), FakeTime()

    error = failure(lambda: client(script, fake, retries=1).get_json(URL))

    assert error.reason == "CONNECTION_ERROR"
    assert "ConnectError" in error.message and "gave up after 2 attempts" in error.message


@pytest.mark.parametrize("code", [400, 401, 403, 404, 410])
def test_4xx_is_not_retried_and_fails_http_error(code: int) -> None:
    script, fake = Script(status(code), ok()), FakeTime()
    http = client(script, fake)

    error = failure(lambda: http.get_json(URL))

    assert error.reason == "HTTP_ERROR"
    assert error.message == f"HTTP {code} from {URL}"
    assert http.requests_sent == 1 and fake.sleeps == []


def test_zero_retries_sends_exactly_once() -> None:
    script, fake = Script(status(503), ok()), FakeTime()
    http = client(script, fake, retries=0)

    error = failure(lambda: http.get_json(URL))

    assert "gave up after 1 attempts" in error.message
    assert http.requests_sent == 1 and fake.sleeps == []


# --- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    ['{"price": 0.5', "<html>502 Bad Gateway</html>", "", '{"price": 0.5}}', "[1, 2,]"],
    ids=["truncated", "html", "empty", "trailing-brace", "trailing-comma"],
)
def test_malformed_json_fails_bad_response(body: str) -> None:
    script, fake = Script(httpx.Response(200, text=body)), FakeTime()

    error = failure(lambda: client(script, fake).get_json(URL))

    assert error.reason == "BAD_RESPONSE"
    assert error.message.startswith(f"malformed JSON from {URL}")


@pytest.mark.parametrize(
    "body",
    ['{"price": NaN}', '{"price": Infinity}', "[-Infinity]", '{"price": 1e999}', "[-1e400]"],
)
def test_non_finite_number_in_json_fails_bad_response(body: str) -> None:
    script, fake = Script(httpx.Response(200, text=body)), FakeTime()

    error = failure(lambda: client(script, fake).get_json(URL))

    assert error.reason == "BAD_RESPONSE"


def test_finite_numbers_in_json_parse_normally() -> None:
    script, fake = Script(httpx.Response(200, text='{"a": 1.5e3, "b": -0.25, "c": 7}')), FakeTime()

    assert client(script, fake).get_json(URL) == {"a": 1500.0, "b": -0.25, "c": 7}


def test_get_text_returns_body_as_is() -> None:
    script, fake = Script(httpx.Response(200, text="<rss>feed</rss>")), FakeTime()

    assert client(script, fake).get_text(URL) == "<rss>feed</rss>"


def test_params_and_headers_are_sent() -> None:
    script, fake = Script(ok()), FakeTime()

    client(script, fake, headers={"Accept": "application/json"}).get_json(URL, {"limit": 5})

    sent = script.seen[0]
    assert sent.url.params["limit"] == "5"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["User-Agent"] == "signalops"


# --- cache ------------------------------------------------------------------------------------


def test_cache_hit_within_ttl_sends_no_request() -> None:
    script, fake = Script(ok({"n": 1}), ok({"n": 2})), FakeTime()
    http = client(script, fake, cache_ttl=60)

    first = http.get_json(URL, {"a": 1})
    fake.tick(59.9)
    second = http.get_json(URL, {"a": 1})

    assert first == second == {"n": 1}
    assert http.requests_sent == 1


def test_cache_miss_after_ttl_fetches_again() -> None:
    script, fake = Script(ok({"n": 1}), ok({"n": 2})), FakeTime()
    http = client(script, fake, cache_ttl=60)

    http.get_json(URL)
    fake.tick(60)

    assert http.get_json(URL) == {"n": 2}
    assert http.requests_sent == 2


def test_cache_entry_older_than_a_day_is_stale_although_timedelta_seconds_says_fresh() -> None:
    # The original system compared ``timedelta.seconds`` with the TTL: that field wraps at one
    # day, so an entry a day and a minute old looked one minute old and was served as fresh.
    age = 86_400 + 60
    assert timedelta(seconds=age).seconds == 60 < 3600  # the trap the client must not fall into
    script, fake = Script(ok({"day": 1}), ok({"day": 2})), FakeTime()
    http = client(script, fake, cache_ttl=3600)

    http.get_json(URL)
    fake.tick(age)

    assert http.get_json(URL) == {"day": 2}
    assert http.requests_sent == 2


def test_cache_keys_on_params_in_any_order() -> None:
    script, fake = Script(ok({"n": 1}), ok({"n": 2}), ok({"n": 3})), FakeTime()
    http = client(script, fake)

    assert http.get_json(URL, {"a": 1, "b": 2}) == {"n": 1}
    assert http.get_json(URL, {"b": 2, "a": 1}) == {"n": 1}  # same query, other order
    assert http.get_json(URL, {"a": 1, "b": 3}) == {"n": 2}  # different query
    assert http.get_json(URL + "/other", {"a": 1, "b": 2}) == {"n": 3}  # different URL
    assert http.requests_sent == 3


def test_per_call_ttl_overrides_client_ttl() -> None:
    script, fake = Script(ok({"n": 1}), ok({"n": 2})), FakeTime()
    http = client(script, fake, cache_ttl=3600)

    http.get_json(URL)
    fake.tick(10)

    assert http.get_json(URL, ttl=5) == {"n": 2}  # 10 s old is stale for a 5 s TTL
    assert http.get_json(URL) == {"n": 2}  # and the refreshed entry serves the 1 h TTL
    assert http.requests_sent == 2


def test_failed_request_is_not_cached() -> None:
    script, fake = Script(status(404), ok()), FakeTime()
    http = client(script, fake)

    assert failure(lambda: http.get_json(URL)).reason == "HTTP_ERROR"
    assert http.get_json(URL) == BODY


# --- rate limit -------------------------------------------------------------------------------


def test_rate_limit_spaces_requests_by_min_interval() -> None:
    script, fake = Script(ok()), FakeTime()
    http = client(script, fake, min_interval=1.0, cache_ttl=0)

    http.get_json(URL)  # first request: no wait
    fake.tick(0.25)
    http.get_json(URL)  # 0.25 s later: waits the remaining 0.75 s
    http.get_json(URL)  # straight after: waits a full interval
    fake.tick(5)
    http.get_json(URL)  # long after: no wait

    assert fake.sleeps == [0.75, 1.0]
    assert http.requests_sent == 4


def test_rate_limit_applies_to_retries_too() -> None:
    script, fake = Script(status(503), ok()), FakeTime()
    http = client(script, fake, min_interval=2.0, backoff=0.5)

    assert http.get_json(URL) == BODY
    # 0.5 s back-off, then 1.5 s more to keep 2 s between the two attempts
    assert fake.sleeps == [0.5, 1.5]


def test_cache_hits_do_not_wait_for_the_rate_limit() -> None:
    script, fake = Script(ok()), FakeTime()
    http = client(script, fake, min_interval=10.0, cache_ttl=60)

    http.get_json(URL)
    http.get_json(URL)

    assert fake.sleeps == []


# --- secrets ----------------------------------------------------------------------------------

KEY = "sk_live_9f8e7d6c5b4a"


@pytest.mark.parametrize(
    "answer, reason",
    [
        (status(404), "HTTP_ERROR"),
        (status(503), "HTTP_ERROR"),
        (httpx.ReadTimeout("timed out"), "TIMEOUT"),
        (httpx.ConnectError(f"cannot reach host for {KEY}"), "CONNECTION_ERROR"),
        (httpx.Response(200, text="{not json"), "BAD_RESPONSE"),
    ],
    ids=["404", "5xx-storm", "timeouts", "connect", "malformed"],
)
def test_secret_in_url_path_and_apikey_param_never_reach_error_messages(
    answer: Answer, reason: str
) -> None:
    script, fake = Script(answer), FakeTime()
    http = client(script, fake, secrets=(KEY,), retries=1)
    url = f"https://pro-api.example.test/{KEY}/v2/flows?apikey={KEY}&chain=ethereum"

    error = failure(lambda: http.get_json(url, {"api_key": KEY}))

    assert error.reason == reason
    assert KEY not in error.message and KEY not in str(error)
    assert "apikey=***" in error.message and "/***/v2/flows" in error.message
    assert "chain=ethereum" in error.message  # only the secret goes, not the whole URL


def test_apikey_style_params_are_redacted_without_being_declared_secret() -> None:
    text = "GET https://x.test/a?apikey=abc123&api_key=def&API-KEY=g&token=t0k&signature=s1g&q=btc"

    assert redact(text) == (
        "GET https://x.test/a?apikey=***&api_key=***&API-KEY=***&token=***&signature=***&q=btc"
    )


def test_redact_replaces_every_declared_secret_and_ignores_empty_ones() -> None:
    assert redact("a=SECRET b=SECRET c=OTHER", ("SECRET", "", "OTHER")) == "a=*** b=*** c=***"


# --- response validation ----------------------------------------------------------------------


def test_field_of_follows_a_path_of_keys_and_indexes() -> None:
    assert field_of("test", BODY, "bids", 0, "price") == "0.52"


@pytest.mark.parametrize(
    "path, named",
    [
        (("asks",), "asks"),
        (("bids", 3, "price"), "bids.3"),
        (("bids", 0, "volume"), "bids.0.volume"),
        (("market", "id"), "market.id"),  # a string where an object was expected
        (("bids", "first"), "bids.first"),  # a key into a list
    ],
)
def test_field_of_missing_field_fails_bad_response_naming_it(
    path: tuple[str | int, ...], named: str
) -> None:
    error = failure(lambda: field_of("test", BODY, *path))

    assert error.reason == "BAD_RESPONSE"
    assert error.message == f"response has no field '{named}'"


def test_field_of_on_null_body_fails_bad_response() -> None:
    assert failure(lambda: field_of("test", None, "data")).reason == "BAD_RESPONSE"


@pytest.mark.parametrize(
    "value, expected",
    [("0.52", 0.52), (" 17 ", 17.0), ("-3.5e2", -350.0), (42, 42.0), (0.25, 0.25), (0, 0.0)],
)
def test_number_accepts_json_numbers_and_numeric_strings(value: Any, expected: float) -> None:
    result = number("test", value, "price")

    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "",
        "0.5.1",
        "12,5",
        "NaN",
        "inf",
        "-Infinity",
        "1e999",
        True,
        False,
        None,
        float("nan"),
        float("inf"),
        10**400,
        [1.0],
        {"raw": 1.0},
    ],
    ids=lambda value: repr(value)[:20],
)
def test_number_rejects_garbage_bools_and_non_finite_values(value: Any) -> None:
    error = failure(lambda: number("test", value, "price"))

    assert error.reason == "BAD_RESPONSE"
    assert error.message.startswith("price is ")


def test_number_error_names_the_field_and_the_value() -> None:
    assert failure(lambda: number("src", "n/a", "bids.0.price")).message == (
        "bids.0.price is 'n/a', not a number"
    )


def test_json_numbers_from_a_response_validate_end_to_end() -> None:
    payload = json.dumps({"data": [{"price": "0.61"}, {"price": "oops"}]})
    script, fake = Script(httpx.Response(200, text=payload)), FakeTime()
    body = client(script, fake).get_json(URL)

    assert number("test", field_of("test", body, "data", 0, "price"), "price") == 0.61
    bad = failure(lambda: number("test", field_of("test", body, "data", 1, "price"), "price"))
    assert bad.reason == "BAD_RESPONSE"


# --- faults with their own codes (issue 11) ----------------------------------------------------


def test_json_nested_a_hundred_thousand_deep_is_too_deep_not_an_internal_error() -> None:
    # py_ecc (imported with py-clob-client) raises the recursion limit to 100,000: the json
    # module's C parser would then overflow the C stack (a segfault) instead of raising.
    deep = "[" * 100_000 + "]" * 100_000
    script, fake = Script(httpx.Response(200, text=deep)), FakeTime()
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    try:
        error = failure(lambda: client(script, fake).get_json(URL))
    finally:
        sys.setrecursionlimit(limit)

    assert error.reason == "RESPONSE_TOO_DEEP"
    assert str(error) == f"test: JSON from {URL} is nested too deeply to read"


def test_a_redirect_loop_is_its_own_code_and_is_not_retried() -> None:
    loop = httpx.Response(302, headers={"Location": URL})
    script, fake = Script(loop), FakeTime()

    error = failure(lambda: client(script, fake).get_json(URL))

    assert error.reason == "REDIRECT_LOOP"
    assert str(error) == f"test: {URL} redirects in a loop"
    assert fake.sleeps == []


def test_a_transport_failing_in_a_way_httpx_does_not_name_is_a_transport_error() -> None:
    script, fake = Script(RuntimeError("proxy plugin crashed")), FakeTime()

    error = failure(lambda: client(script, fake).get_json(URL))

    assert error.reason == "TRANSPORT_ERROR"
    assert str(error) == f"test: request to {URL} failed (RuntimeError: proxy plugin crashed)"


def test_an_answer_over_the_byte_limit_is_refused_while_it_is_read() -> None:
    big = json.dumps([0.5] * 5_000)
    script, fake = Script(httpx.Response(200, text=big)), FakeTime()

    error = failure(lambda: client(script, fake, max_bytes=10_000).get_json(URL))

    assert error.reason == "RESPONSE_TOO_LARGE"
    assert str(error) == f"test: {URL} answered more than 10,000 bytes"


def test_an_answer_within_the_byte_limit_is_read_whole() -> None:
    body = [0.5] * 1_000
    script, fake = Script(ok(body)), FakeTime()

    assert client(script, fake, max_bytes=10_000).get_json(URL) == body


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = {"title": "[" * 2_000 + '\\" {{{', "values": [[1, 2], [3]]}
    script, fake = Script(ok(body)), FakeTime()

    assert client(script, fake).get_json(URL) == body


@pytest.mark.parametrize(
    "text, shape",
    [
        ("[1, [2, [3]]]", (3, 5)),
        ('{"a": "\\\\", "b": [[[]]]}', (4, 5)),  # an escaped backslash ends its string
        ('["a\\n", "[[[", "]]"]', (1, 3)),  # an escape just before a closing quote
        ('["\\"[[[", [[]]]', (3, 4)),  # an escaped quote does not close the string
        ('"[[["', (0, 0)),
        ("", (0, 0)),
    ],
)
def test_json_shape_counts_nesting_and_values_outside_strings(text: str, shape: Any) -> None:
    assert json_shape(text) == shape


def test_an_escape_before_a_closing_quote_cannot_hide_deep_nesting() -> None:
    # Scanned after the other characters were dropped, "a\n" read as an escaped quote: the
    # nesting after it looked like the inside of a string and reached the parser.
    deep = '["a\\n", "x", ' + "[" * 100_000 + "]" * 100_000 + ', "y"]'
    script, fake = Script(httpx.Response(200, text=deep)), FakeTime()

    assert failure(lambda: client(script, fake).get_json(URL)).reason == "RESPONSE_TOO_DEEP"


# --- bounds for clients that libraries drive (py-clob-client) -----------------------------------


def bounded(*answers: Answer, max_bytes: int = 10_000) -> httpx.Client:
    transport = ReportingTransport(Script(*answers).transport)
    return bound_answers(httpx.Client(transport=transport), max_bytes)


def refusal(client: httpx.Client) -> UnusableAnswer:
    with pytest.raises(UnusableAnswer) as refused:
        client.get(URL)
    return refused.value


def test_a_bounded_client_refuses_a_deep_answer_before_anyone_parses_it() -> None:
    found = refusal(bounded(httpx.Response(200, text="[" * 5_000 + "]" * 5_000)))

    assert (found.reason, str(found)) == (
        "RESPONSE_TOO_DEEP",
        f"JSON from {URL} is nested too deeply to read",
    )


def test_a_bounded_client_stops_reading_at_its_byte_limit() -> None:
    chunks: list[bytes] = []

    def endless() -> Any:
        while True:
            chunks.append(b"[0.5, 0.5, 0.5],")
            yield chunks[-1]

    found = refusal(bounded(lambda request: httpx.Response(200, content=endless())))

    assert (found.reason, str(found)) == (
        "RESPONSE_TOO_LARGE",
        f"{URL} answered more than 10,000 bytes",
    )
    assert sum(map(len, chunks)) < 10_100


def test_a_bounded_client_reads_an_answer_within_its_limits_whole() -> None:
    answer = bounded(ok()).get(URL)

    assert answer.json() == BODY


def test_a_bounded_client_refuses_a_redirect_to_the_same_url() -> None:
    found = refusal(bounded(httpx.Response(302, headers={"Location": URL})))

    assert (found.reason, str(found)) == ("REDIRECT_LOOP", f"{URL} redirects in a loop")


def test_a_bounded_client_passes_a_redirect_elsewhere_to_its_caller() -> None:
    answer = bounded(httpx.Response(302, headers={"Location": URL + "/v2"})).get(URL)

    assert answer.status_code == 302


def test_a_transport_failing_in_a_way_httpx_does_not_name_is_reported_with_its_type() -> None:
    found = refusal(bounded(RuntimeError("proxy plugin crashed")))

    assert (found.reason, str(found)) == (
        "TRANSPORT_ERROR",
        f"request to {URL} failed (RuntimeError: proxy plugin crashed)",
    )


def test_httpx_s_own_transport_errors_pass_the_reporting_transport_unchanged() -> None:
    with pytest.raises(httpx.ConnectTimeout):
        bounded(httpx.ConnectTimeout("slow")).get(URL)


def test_bounding_a_client_twice_adds_one_hook() -> None:
    client = bounded(ok())
    bound_answers(client)

    assert [type(h) for h in client.event_hooks["response"]] == [AnswerBounds]
