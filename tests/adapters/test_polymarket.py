"""The Polymarket adapter: Gamma metadata, CLOB prices/books/history, record and replay.

No network: Gamma and prices-history go through ``HttpClient`` with an ``httpx.MockTransport``;
CLOB midpoints and books go through the real py-clob-client code, whose module-level httpx
client is swapped for one on the same MockTransport (``clob_transport``).

Payloads are the real recordings in ``examples/data/polymarket``. Where a response shape was not
recorded (midpoint, a book for the Gamma markets), it is built from real recorded values and a
comment says which.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import invoke

from signalops.adapters.http import AnswerBounds, HttpClient
from signalops.adapters.polymarket import (
    MSTR_SLUG,
    Clob,
    History,
    Market,
    Point,
    PolymarketAdapter,
    clob_transport,
    guard_clob_client,
    import_bundled,
    price_change,
    restore_clob_client,
    token_price_request,
    use_clob_transport,
)
from signalops.adapters.snapshots import SnapshotStore
from signalops.errors import AdapterError
from signalops.observation import DataError, Observation, Request
from signalops.strategy import load

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
POLY = DATA / "polymarket"

GAMMA_RESPONSE = json.loads(
    (POLY / "gamma_markets_trump-deportation_5mkts_2026-02-07.json").read_text()
)
DEPORT = GAMMA_RESPONSE[0]  # 517310 "Will Trump deport less than 250,000?", open
SLUG = DEPORT["slug"]
YES_TOKEN, NO_TOKEN = json.loads(DEPORT["clobTokenIds"])
VANCE_BOOK = json.loads((POLY / "clob_book_JD-Vance-2028-YES_from-ccxt-fixture.json").read_text())
MSTR_HISTORY = json.loads(
    (POLY / "clob_prices-history_MSTR-sells-BTC-2026_YES_max.json").read_text()
)

GAMMA = "gamma-api.polymarket.com"
CLOB = "clob.polymarket.com"
NOW = datetime(2026, 2, 7, 16, 10, tzinfo=UTC)  # the Gamma and MSTR recordings are from this day

# Midpoints were not recorded; built from the recorded Gamma top of book (bestBid 0.05,
# bestAsk 0.058 -> 0.054, which is also Gamma's outcomePrices). The NO book mirrors the YES one.
MID_YES = {"mid": "0.054"}
MID_NO = {"mid": "0.946"}


def derived_book(token: str, bid: str, ask: str, at: datetime) -> dict[str, Any]:
    """A /book payload in the recorded shape (string numbers, ms timestamp) from Gamma's
    recorded bestBid/bestAsk. Sizes are placeholders (not recorded); the second levels are one
    tick away, listed in the CLOB's order (bids ascending, asks descending)."""
    tick = 0.001
    return {
        **{k: VANCE_BOOK[k] for k in ("market", "hash", "min_order_size", "tick_size")},
        "asset_id": token,
        "timestamp": str(int(at.timestamp() * 1000)),
        "bids": [
            {"price": f"{float(bid) - tick:.3f}", "size": "100"},
            {"price": bid, "size": "100"},
        ],
        "asks": [
            {"price": f"{float(ask) + tick:.3f}", "size": "100"},
            {"price": ask, "size": "100"},
        ],
        "neg_risk": True,
        "last_trade_price": "0.05",
    }


class Api:
    """Recorded responses by (host, path, identifying parameter); counts what was asked.

    A response is JSON-able data (200), a ``str`` (a 200 body as is), an ``int`` (that status),
    an ``httpx.Response`` (sent as is) or an exception (raised, like a timeout). The last
    response of a route repeats.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str, str | None], list[Any]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, host: str, path: str, *responses: Any, key: str | None = None) -> Api:
        self.routes[(host, path, key)] = list(responses)
        return self

    def count(self, host: str, path: str | None = None) -> int:
        return sum(
            1 for r in self.requests if r.url.host == host and (path is None or r.url.path == path)
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        params = request.url.params
        key = params.get("token_id") or params.get("market") or params.get("slug")
        queue = self.routes.get((request.url.host, request.url.path, key))
        if queue is None:
            queue = self.routes.get((request.url.host, request.url.path, None))
        if queue is None:
            return httpx.Response(404, json={"error": "not found"})
        response = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(response, Exception):
            raise response
        if isinstance(response, httpx.Response):
            return response
        if isinstance(response, int):
            return httpx.Response(response, json={"error": f"status {response}"})
        if isinstance(response, str):
            return httpx.Response(200, text=response)
        return httpx.Response(200, json=response)


@pytest.fixture
def api():
    api = Api()
    api.on(GAMMA, "/markets", [DEPORT], key=SLUG)
    api.on(GAMMA, f"/markets/{DEPORT['id']}", DEPORT)
    api.on(CLOB, "/midpoint", MID_YES, key=YES_TOKEN)
    api.on(CLOB, "/midpoint", MID_NO, key=NO_TOKEN)
    with clob_transport(httpx.MockTransport(api.handler)):
        yield api


def live(api: Api, *, clock: datetime = NOW, **options: Any) -> PolymarketAdapter:
    return PolymarketAdapter.live(
        transport=httpx.MockTransport(api.handler),
        clock=lambda: clock.timestamp(),
        sleep=lambda seconds: None,
        **options,
    )


def req(metric: str, market: str = SLUG, **params: Any) -> Request:
    defaults = {"spread": {"outcome": "yes"}, "change": {"window": 86400, "outcome": "yes"}}
    merged = {"market": market, **defaults.get(metric, {}), **params}
    return Request("polymarket", metric, tuple(merged.items()))


def answer(adapter: PolymarketAdapter, request: Request, as_of: datetime = NOW):
    return adapter.fetch([request], as_of)[request]


def value(adapter: PolymarketAdapter, request: Request, as_of: datetime = NOW) -> Observation:
    found = answer(adapter, request, as_of)
    assert isinstance(found, Observation), found
    return found


def error(adapter: PolymarketAdapter, request: Request, as_of: datetime = NOW) -> DataError:
    found = answer(adapter, request, as_of)
    assert isinstance(found, DataError), found
    return found


# --- live: prices --------------------------------------------------------------------------


def test_yes_is_the_clob_midpoint_of_the_yes_token_dated_at_fetch_time(api):
    fetched = NOW - timedelta(seconds=3)
    observation = value(live(api, clock=fetched), req("yes"))

    assert observation.value == 0.054
    assert observation.as_of == fetched
    assert observation.detail["token_id"] == YES_TOKEN
    assert observation.detail["gamma_price"] == 0.054
    assert observation.detail["question"] == "Will Trump deport less than 250,000?"
    assert api.count(CLOB, "/midpoint") == 1


def test_no_is_the_midpoint_of_the_no_token(api):
    assert value(live(api), req("no")).value == 0.946


def test_outcome_names_match_case_insensitively(api):
    adapter = live(api)
    assert value(adapter, req("outcome", name="YES")).value == 0.054
    assert value(adapter, req("outcome", name=" no ")).value == 0.946


def test_negative_liquidity_from_gamma_is_an_implausible_bad_response():
    with pytest.raises(AdapterError) as refused:
        Market.from_gamma({**DEPORT, "liquidityNum": -3.5}, SLUG, NOW.timestamp())

    assert refused.value.reason == "BAD_RESPONSE"
    assert str(refused.value).endswith("Gamma 'liquidityNum' is -3.5: cannot be negative")


def test_a_change_whose_only_earlier_price_is_300_days_old_is_insufficient_history():
    as_of = NOW.timestamp()
    old = as_of - 300 * 86400
    history = History([old, as_of - 3600], [0.40, 0.55])

    with pytest.raises(AdapterError) as refused:
        price_change(Point(0.56, as_of), history, as_of, 86400)

    assert refused.value.reason == "INSUFFICIENT_HISTORY"
    assert "no price within 12h before as_of - 1d" in str(refused.value)


def test_a_change_with_a_price_shortly_before_the_window_start_is_answered():
    as_of = NOW.timestamp()
    history = History([as_of - 86400 - 1800, as_of - 3600], [0.40, 0.55])

    change, detail = price_change(Point(0.56, as_of), history, as_of, 86400)

    assert change == pytest.approx(0.16)
    assert detail["then"]["price"] == 0.40


def test_unknown_outcome_is_an_error_listing_the_valid_outcomes(api):
    found = error(live(api), req("outcome", name="Maybe"))
    assert found.reason == "UNKNOWN_OUTCOME"
    assert "'Maybe'" in found.message and "'Yes', 'No'" in found.message


def test_gamma_json_encoded_string_fields_are_decoded():
    market = Market.from_gamma(DEPORT, SLUG, NOW.timestamp())

    assert market.outcomes == ("Yes", "No")
    assert market.token_ids == (YES_TOKEN, NO_TOKEN)
    assert market.gamma_prices == (0.054, 0.946)
    assert (market.liquidity, market.volume_24h) == (14945.68799, 8381.351130000001)
    assert market.closed is False and market.id == "517310"


def test_liquidity_and_volume_24h_are_gammas_recorded_numbers(api):
    adapter = live(api)
    assert value(adapter, req("liquidity")).value == 14945.68799
    assert value(adapter, req("volume_24h")).value == 8381.351130000001


def test_metadata_is_read_once_within_its_ttl_and_keeps_its_fetch_time(api):
    times = iter([NOW.timestamp() - 30, NOW.timestamp()])
    adapter = PolymarketAdapter.live(
        transport=httpx.MockTransport(api.handler),
        clock=lambda: next(times),
        sleep=lambda seconds: None,
    )
    first = value(adapter, req("liquidity"))
    second = adapter.fetch([req("volume_24h"), req("liquidity")], NOW)

    assert api.count(GAMMA) == 1
    # The cached answer is 30 s old, and says so: its data time is when Gamma was asked.
    assert first.as_of == second[req("liquidity")].as_of == NOW - timedelta(seconds=30)


def test_numeric_market_id_is_looked_up_by_id(api):
    observation = value(live(api), req("yes", market="517310"))

    assert observation.value == 0.054
    assert [r.url.path for r in api.requests if r.url.host == GAMMA] == ["/markets/517310"]


def test_seed_slug_unknown_to_gamma_is_unknown_market_with_a_hint(api):
    api.on(GAMMA, "/markets", [], key="crypto_regulation_crackdown_2025")
    adapter = live(api)
    requests = [req("yes", market="crypto_regulation_crackdown_2025"), req("yes")]
    answers = adapter.fetch(requests, NOW)

    unknown = answers[requests[0]]
    assert isinstance(unknown, DataError) and unknown.reason == "UNKNOWN_MARKET"
    assert "crypto_regulation_crackdown_2025" in unknown.message
    assert "hyphens" in unknown.message
    # One unknown market never discards the others.
    assert answers[requests[1]].value == 0.054


def test_unknown_market_id_is_unknown_market(api):
    api.on(GAMMA, "/markets/999999999", 404)
    found = error(live(api), req("yes", market="999999999"))
    assert found.reason == "UNKNOWN_MARKET" and "999999999" in found.message


def test_closed_market_is_market_closed_for_every_live_read(api):
    # The recorded market with Gamma's ``closed`` flag set, as Gamma sends it after resolution.
    api.on(GAMMA, "/markets", [{**DEPORT, "closed": True}], key=SLUG)
    adapter = live(api)
    answers = adapter.fetch([req("yes"), req("spread"), req("liquidity"), req("change")], NOW)

    assert {a.reason for a in answers.values()} == {"MARKET_CLOSED"}
    assert "replay" in answers[req("yes")].message
    assert api.count(CLOB) == 0


def test_a_failure_is_asked_once_per_fetch(api):
    api.on(GAMMA, "/markets", [], key="no-such-market")
    adapter = live(api)
    requests = [req(m, market="no-such-market") for m in ("yes", "no", "liquidity")]
    answers = adapter.fetch(requests, NOW)

    assert {a.reason for a in answers.values()} == {"UNKNOWN_MARKET"}
    assert api.count(GAMMA) == 1


# --- live: Gamma failures (HttpClient) -----------------------------------------------------


def test_gamma_429_then_success_answers_after_one_retry(api):
    api.on(GAMMA, "/markets", 429, [DEPORT], key=SLUG)
    assert value(live(api), req("liquidity")).value == 14945.68799
    assert api.count(GAMMA) == 2


def test_gamma_timeout_is_timeout_after_the_retries(api):
    api.on(GAMMA, "/markets", httpx.ReadTimeout("slow"), key=SLUG)
    found = error(live(api), req("yes"))
    assert found.reason == "TIMEOUT"
    assert api.count(GAMMA) == 4  # first attempt + 3 retries


def test_gamma_5xx_storm_exhausts_the_retries_and_is_http_error(api):
    api.on(GAMMA, "/markets", 503, key=SLUG)
    found = error(live(api), req("yes"))
    assert found.reason == "HTTP_ERROR" and "gave up after 4 attempts" in found.message


def test_gamma_malformed_json_is_bad_response(api):
    api.on(GAMMA, "/markets", '[{"id": "517310", "outcomes": ', key=SLUG)
    assert error(live(api), req("yes")).reason == "BAD_RESPONSE"


def test_gamma_market_without_outcomes_is_bad_response_naming_the_field(api):
    broken = {k: v for k, v in DEPORT.items() if k != "outcomes"}
    api.on(GAMMA, "/markets", [broken], key=SLUG)
    found = error(live(api), req("yes"))
    assert found.reason == "BAD_RESPONSE" and "'outcomes'" in found.message


def test_gamma_liquidity_that_is_not_a_number_is_bad_response(api):
    api.on(GAMMA, "/markets", [{**DEPORT, "liquidityNum": "plenty"}], key=SLUG)
    found = error(live(api), req("liquidity"))
    assert found.reason == "BAD_RESPONSE" and "'plenty'" in found.message


def test_gamma_outcomes_that_are_not_a_json_list_are_bad_response(api):
    api.on(GAMMA, "/markets", [{**DEPORT, "outcomes": "Yes, No"}], key=SLUG)
    assert error(live(api), req("yes")).reason == "BAD_RESPONSE"


# --- live: CLOB through py-clob-client ------------------------------------------------------


def test_clob_429_then_success_returns_the_midpoint(api):
    api.on(CLOB, "/midpoint", 429, MID_YES, key=YES_TOKEN)
    assert value(live(api), req("yes")).value == 0.054
    assert api.count(CLOB, "/midpoint") == 2


def test_clob_timeout_is_timeout(api):
    api.on(CLOB, "/midpoint", httpx.ConnectTimeout("slow"), key=YES_TOKEN)
    found = error(live(api), req("yes"))
    assert found.reason == "TIMEOUT" and "gave up after 3 attempts" in found.message


def test_clob_connection_failure_is_connection_error(api):
    api.on(CLOB, "/midpoint", httpx.ConnectError("refused"), key=YES_TOKEN)
    assert error(live(api), req("yes")).reason == "CONNECTION_ERROR"


def test_clob_5xx_storm_exhausts_the_retries_and_is_http_error(api):
    api.on(CLOB, "/midpoint", 502, key=YES_TOKEN)
    found = error(live(api), req("yes"))
    assert found.reason == "HTTP_ERROR" and "HTTP 502" in found.message
    assert api.count(CLOB, "/midpoint") == 3


def test_clob_malformed_midpoint_json_is_bad_response(api):
    api.on(CLOB, "/midpoint", '{"mid": "0.05', key=YES_TOKEN)
    assert error(live(api), req("yes")).reason == "BAD_RESPONSE"


def test_clob_midpoint_that_is_not_a_number_is_bad_response(api):
    api.on(CLOB, "/midpoint", {"mid": "n/a"}, key=YES_TOKEN)
    found = error(live(api), req("yes"))
    assert found.reason == "BAD_RESPONSE" and "'n/a'" in found.message


def test_clob_midpoint_outside_zero_to_one_is_bad_response(api):
    api.on(CLOB, "/midpoint", {"mid": "1.7"}, key=YES_TOKEN)
    assert error(live(api), req("yes")).reason == "BAD_RESPONSE"


def test_clob_without_an_order_book_for_the_token_is_no_data(api):
    api.on(CLOB, "/midpoint", 404, key=YES_TOKEN)
    assert error(live(api), req("yes")).reason == "NO_DATA"


def test_recorded_book_is_sorted_best_first_whatever_the_wire_order(api):
    token = VANCE_BOOK["asset_id"]
    api.on(CLOB, "/book", VANCE_BOOK, key=token)
    book = Clob().order_book(token)

    # On the wire: bids ascending (best last), asks descending (best last).
    assert [b[0] for b in book.bids] == [0.005, 0.004, 0.003, 0.002, 0.001]
    assert [a[0] for a in book.asks] == [0.995, 0.996, 0.997, 0.998, 0.999]
    assert (book.best_bid, book.best_ask) == (0.005, 0.995)
    assert book.bids[0][1] == 1000.0
    assert book.timestamp == 1781289337.944


def test_book_without_asks_is_bad_response(api):
    token = VANCE_BOOK["asset_id"]
    api.on(CLOB, "/book", {k: v for k, v in VANCE_BOOK.items() if k != "asks"}, key=token)
    with pytest.raises(Exception) as raised:
        Clob().order_book(token)
    assert getattr(raised.value, "reason", None) == "BAD_RESPONSE"
    assert "asks" in str(raised.value)


def test_book_of_another_token_is_bad_response(api):
    api.on(CLOB, "/book", VANCE_BOOK, key=YES_TOKEN)
    found = error(live(api), req("spread"))
    assert found.reason == "BAD_RESPONSE" and "not" in found.message


def test_spread_is_best_ask_minus_best_bid_dated_at_the_books_time(api):
    at = NOW - timedelta(seconds=20)
    api.on(CLOB, "/book", derived_book(YES_TOKEN, "0.05", "0.058", at), key=YES_TOKEN)
    observation = value(live(api), req("spread"))

    assert math.isclose(observation.value, DEPORT["spread"])  # Gamma's recorded 0.008
    assert observation.as_of == at
    assert (observation.detail["best_bid"], observation.detail["best_ask"]) == (0.05, 0.058)


def test_book_with_an_empty_side_is_no_data(api):
    book = {**derived_book(YES_TOKEN, "0.05", "0.058", NOW), "asks": []}
    api.on(CLOB, "/book", book, key=YES_TOKEN)
    found = error(live(api), req("spread"))
    assert found.reason == "NO_DATA" and "no asks" in found.message


def test_clob_price_and_spread_read_through_py_clob_client(api):
    # /price and /spread were not recorded: values from the recorded Gamma bestBid and spread.
    api.on(CLOB, "/price", {"price": "0.05"}, key=YES_TOKEN)
    api.on(CLOB, "/spread", {"spread": "0.008"}, key=YES_TOKEN)
    clob = Clob()
    assert clob.price(YES_TOKEN, "BUY") == 0.05
    assert clob.spread(YES_TOKEN) == 0.008
    assert api.requests[-2].url.params["side"] == "BUY"


def test_clob_transport_swap_is_process_global_and_restorable():
    from py_clob_client.http_helpers import helpers

    original = helpers._http_client
    api = Api().on(CLOB, "/midpoint", MID_YES)
    try:
        PolymarketAdapter.live(clob_transport=httpx.MockTransport(api.handler))
        assert helpers._http_client is not original
        # Any ClobClient in the process now goes through the injected transport.
        assert Clob().midpoint(YES_TOKEN) == 0.054
    finally:
        restore_clob_client(original)
    assert helpers._http_client is original

    previous = use_clob_transport(httpx.MockTransport(api.handler))
    restore_clob_client(previous)
    assert helpers._http_client is original


# --- live: CLOB answers nobody may parse (issue 11) -------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
MIDPOINT_URL = f"https://{CLOB}/midpoint?token_id={YES_TOKEN}"


def test_clob_answer_nested_a_hundred_thousand_deep_is_response_too_deep_and_not_retried(api):
    api.on(CLOB, "/midpoint", DEEP, key=YES_TOKEN)

    found = error(live(api), req("yes"))

    assert found.reason == "RESPONSE_TOO_DEEP"
    assert found.message == f"CLOB midpoint: JSON from {MIDPOINT_URL} is nested too deeply to read"
    assert api.count(CLOB, "/midpoint") == 1


def test_with_py_ecc_s_recursion_limit_a_deep_clob_answer_is_one_unknown_not_a_crash():
    # py-clob-client imports py_ecc, which raises the recursion limit to 100,000: the json
    # module's C parser would then overflow the C stack (exit -11) instead of raising.
    tests = Path(__file__).resolve().parents[1]
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(tests / "adapters")!r}, {str(tests)!r}]
        import httpx
        import test_polymarket as t
        api = t.Api().on(t.GAMMA, "/markets", [t.DEPORT], key=t.SLUG)
        api.on(t.CLOB, "/midpoint", "[" * 100_000 + "]" * 100_000)
        with t.clob_transport(httpx.MockTransport(api.handler)):
            found = t.error(t.live(api), t.req("yes"))
        print(sys.getrecursionlimit(), "UNKNOWN", found.reason)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "100000 UNKNOWN RESPONSE_TOO_DEEP\n"


def test_clob_redirect_to_itself_is_a_redirect_loop(api):
    loop = httpx.Response(302, headers={"Location": MIDPOINT_URL})
    api.on(CLOB, "/midpoint", loop, key=YES_TOKEN)

    found = error(live(api), req("yes"))

    assert (found.reason, found.message) == (
        "REDIRECT_LOOP",
        f"CLOB midpoint: {MIDPOINT_URL} redirects in a loop",
    )
    assert api.count(CLOB, "/midpoint") == 1


def test_clob_redirect_elsewhere_is_not_followed_and_is_an_http_error(api):
    # The client that signs orders never follows a redirect: a POST /order (and its API-key
    # headers) would go wherever the redirect points.
    moved = httpx.Response(302, headers={"Location": "https://elsewhere.example/midpoint"})
    api.on(CLOB, "/midpoint", moved, key=YES_TOKEN)

    found = error(live(api), req("yes"))

    assert found.reason == "HTTP_ERROR" and "HTTP 302" in found.message
    assert api.count("elsewhere.example") == 0


def test_clob_transport_raising_what_httpx_has_no_class_for_is_transport_error(api):
    api.on(CLOB, "/midpoint", RuntimeError("proxy plugin crashed"), key=YES_TOKEN)

    found = error(live(api), req("yes"))

    assert (found.reason, found.message) == (
        "TRANSPORT_ERROR",
        f"CLOB midpoint: request to {MIDPOINT_URL} failed (RuntimeError: proxy plugin crashed)",
    )
    assert api.count(CLOB, "/midpoint") == 1


def test_clob_answer_declaring_more_than_the_byte_limit_is_refused_unread(api):
    huge = httpx.Response(200, content=b"{}", headers={"Content-Length": str(10**9)})
    api.on(CLOB, "/midpoint", huge, key=YES_TOKEN)

    found = error(live(api), req("yes"))

    assert found.reason == "RESPONSE_TOO_LARGE"
    assert found.message.endswith("answered more than 50,331,648 bytes")


def test_every_clob_client_is_bounded_once_however_often_it_is_guarded():
    from py_clob_client.http_helpers import helpers

    original = helpers._http_client
    Clob()
    Clob()
    guard_clob_client()

    hooks = original.event_hooks["response"]
    assert helpers._http_client is original
    assert [type(h) for h in hooks if isinstance(h, AnswerBounds)] == [AnswerBounds]


# --- live: time ----------------------------------------------------------------------------


def test_live_value_fetched_just_after_as_of_is_stamped_as_of(api):
    fetched = NOW + timedelta(seconds=2)
    observation = value(live(api, clock=fetched), req("yes"))
    assert observation.as_of == NOW
    assert observation.fetched_at == fetched


def test_live_midpoint_for_an_as_of_in_the_past_is_look_ahead(api):
    found = error(live(api, clock=NOW + timedelta(hours=2)), req("yes"))
    assert found.reason == "LOOK_AHEAD" and "replay" in found.message


# --- live: history ---------------------------------------------------------------------------

# The prices-history payload recorded for the MSTR YES token, served for this market's YES token
# (the adapter cannot tell), with a midpoint equal to its last recorded price (0.225); the known
# answers are the MSTR ones.
MID_MSTR = {"mid": "0.225"}


def test_change_is_the_current_price_minus_the_price_in_force_a_window_ago(api):
    api.on(CLOB, "/prices-history", MSTR_HISTORY, key=YES_TOKEN)
    api.on(CLOB, "/midpoint", MID_MSTR, key=YES_TOKEN)
    adapter = live(api)
    day, week, yes = adapter.fetch(
        [req("change"), req("change", window=7 * 86400), req("yes")], NOW
    ).values()

    assert math.isclose(day.value, 0.225 - 0.23)
    assert day.as_of == NOW  # the current price's time
    assert day.detail["then"] == {"t": "2026-02-06T16:00:23Z", "price": 0.23}
    assert math.isclose(week.value, 0.225 - 0.265)
    assert yes.value == 0.225
    assert api.count(CLOB, "/midpoint") == 1  # yes and change share the current price
    history = next(r for r in api.requests if r.url.path == "/prices-history")
    assert dict(history.url.params) == {"market": YES_TOKEN, "interval": "max", "fidelity": "10"}


def test_change_never_uses_history_points_after_as_of(api):
    api.on(CLOB, "/prices-history", MSTR_HISTORY, key=YES_TOKEN)
    as_of = datetime(2026, 2, 2, 12, tzinfo=UTC)
    observation = value(live(api, clock=as_of), req("change"), as_of)
    then = datetime.fromisoformat(observation.detail["then"]["t"])
    assert then <= as_of - timedelta(days=1)
    assert observation.detail["then"] == {"t": "2026-02-01T11:50:41Z", "price": 0.29}


def test_empty_history_is_no_data(api):
    api.on(CLOB, "/prices-history", {"history": []}, key=YES_TOKEN)
    found = error(live(api), req("change"))
    assert found.reason == "NO_DATA" and "history" in found.message


def test_history_price_that_is_not_a_number_is_bad_response(api):
    api.on(CLOB, "/prices-history", {"history": [{"t": 1770480499, "p": "n/a"}]}, key=YES_TOKEN)
    assert error(live(api), req("change")).reason == "BAD_RESPONSE"


def test_history_shorter_than_the_window_is_insufficient_history(api):
    api.on(CLOB, "/prices-history", MSTR_HISTORY, key=YES_TOKEN)
    found = error(live(api), req("change", window=60 * 86400))
    assert found.reason == "INSUFFICIENT_HISTORY" and "2026-01-07" in found.message


# --- recording and replay ------------------------------------------------------------------


def test_recorded_live_reads_replay_to_the_same_observations(api, tmp_path):
    api.on(CLOB, "/prices-history", MSTR_HISTORY, key=YES_TOKEN)
    api.on(CLOB, "/book", derived_book(YES_TOKEN, "0.05", "0.058", NOW), key=YES_TOKEN)
    store = SnapshotStore(tmp_path)
    requests = [req(m) for m in ("yes", "no", "spread", "liquidity", "volume_24h", "change")]
    recorded = live(api, clock=NOW + timedelta(seconds=1), record=store).fetch(requests, NOW)
    replayed = PolymarketAdapter.replay(SnapshotStore(tmp_path)).fetch(requests, NOW)

    for request in requests:
        assert isinstance(recorded[request], Observation), recorded[request]
        assert (replayed[request].value, replayed[request].as_of) == (
            recorded[request].value,
            recorded[request].as_of,
        ), request.metric
    # The replay also finds the market by the id in its recorded metadata.
    assert value(PolymarketAdapter.replay(store), req("yes", market="517310")).value == 0.054


@pytest.fixture(scope="module")
def bundled(tmp_path_factory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("replay"))
    store.write("polymarket", import_bundled(DATA))
    return store


def test_import_bundled_keys_election_markets_by_id_at_the_end_of_each_day():
    records = list(import_bundled(DATA))
    points = {(k, t): v for k, t, v in records}
    end_of_election_day = datetime(2024, 11, 6, tzinfo=UTC).timestamp()

    assert points[("prices/511754/yes", end_of_election_day)] == 0.5735
    assert points[("prices/511754/no", end_of_election_day)] == 0.4265
    keys = {k for k, _, _ in records}
    assert len([k for k in keys if k.startswith("prices/")]) == 41  # 20 markets x 2 + MSTR YES
    assert f"prices/{MSTR_SLUG}/yes" in keys and f"prices/{MSTR_SLUG}/no" not in keys
    assert sum(1 for k, _, _ in records if k == f"prices/{MSTR_SLUG}/yes") == 4456
    meta = [v for k, _, v in records if k == "markets/511754"]
    assert [m["closed"] for m in meta] == [False, True]
    assert meta[0]["question"] == "Will Donald Trump be inaugurated?"


def test_import_accepts_python_style_list_strings_for_tokens(tmp_path):
    folder = tmp_path / "polymarket"
    folder.mkdir()
    markets = json.loads((POLY / "election_top20_markets.json").read_text())
    for market in markets:  # as in election_top20_markets.csv: "['451...', '819...']"
        market["clob_token_ids"] = str(market["clob_token_ids"])
        market["outcomes"] = str(market["outcomes"])
    (folder / "election_top20_markets.json").write_text(json.dumps(markets))
    name = "election_top20_daily_price_history_2024-08_2025-06.json"
    (folder / name).write_text((POLY / name).read_text())

    records = list(import_bundled(tmp_path))
    assert ("prices/511754/yes", datetime(2024, 11, 6, tzinfo=UTC).timestamp(), 0.5735) in records


def test_import_of_a_folder_without_polymarket_files_yields_nothing(tmp_path):
    assert list(import_bundled(tmp_path)) == []


def test_trump_inauguration_odds_replay_known_prices_around_the_election(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    yes = req("yes", market="511754")

    on_election_day = value(adapter, yes, datetime(2024, 11, 6, 12, tzinfo=UTC))
    assert on_election_day.value == 0.5735  # the price labelled 2024-11-05
    assert on_election_day.as_of == datetime(2024, 11, 6, tzinfo=UTC)
    assert value(adapter, yes, datetime(2024, 11, 7, 23, 59, 59, tzinfo=UTC)).value == 0.5765
    assert value(adapter, yes, datetime(2024, 11, 8, tzinfo=UTC)).value == 0.9595
    assert value(adapter, req("no", market="511754"), datetime(2024, 11, 8, tzinfo=UTC)).value == (
        0.0405
    )


def test_replay_never_serves_a_point_dated_after_as_of(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    points = MSTR_HISTORY["history"]
    t = points[100]["t"]
    just_before = datetime.fromtimestamp(t - 1, UTC)

    observation = value(adapter, req("yes", market=MSTR_SLUG), just_before)
    assert observation.as_of == datetime.fromtimestamp(points[99]["t"], UTC)
    assert observation.value == points[99]["p"]
    first = datetime.fromtimestamp(points[0]["t"], UTC)
    assert error(adapter, req("yes", market=MSTR_SLUG), first - timedelta(seconds=1)).reason == (
        "NO_DATA"
    )


def test_replay_change_uses_the_price_in_force_a_window_ago(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    observation = value(adapter, req("change", market="511754"), datetime(2024, 11, 8, tzinfo=UTC))
    assert math.isclose(observation.value, 0.9595 - 0.5765)
    mstr = value(adapter, req("change", market=MSTR_SLUG), NOW)
    assert math.isclose(mstr.value, 0.225 - 0.23)  # the same answer as the live history read


def test_replay_of_a_closed_market_still_serves_its_recorded_prices(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    after_close = datetime(2025, 1, 22, tzinfo=UTC)  # 511754 closed 2025-01-20 22:51 UTC
    observation = value(adapter, req("yes", market="511754"), after_close)
    assert observation.as_of == datetime(2025, 1, 21, tzinfo=UTC)  # the 2025-01-20 price


def test_replay_unknown_outcome_lists_the_recorded_markets_outcomes(bundled):
    as_of = datetime(2024, 11, 8, tzinfo=UTC)
    found = error(PolymarketAdapter.replay(bundled), req("outcome", "511754", name="Maybe"), as_of)
    assert found.reason == "UNKNOWN_OUTCOME" and "'Yes', 'No'" in found.message
    named = value(PolymarketAdapter.replay(bundled), req("outcome", "511754", name="YES"), as_of)
    assert named.value == 0.9595


def test_replay_without_book_or_gamma_snapshots_is_no_data(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    as_of = datetime(2024, 11, 8, tzinfo=UTC)
    answers = adapter.fetch([req(m, market="511754") for m in ("spread", "liquidity")], as_of)
    assert {a.reason for a in answers.values()} == {"NO_DATA"}


def test_replay_of_an_outcome_that_was_not_recorded_names_the_recorded_ones(bundled):
    found = error(PolymarketAdapter.replay(bundled), req("no", market=MSTR_SLUG))
    assert found.reason == "NO_DATA" and "'yes'" in found.message


def test_a_missing_outcome_names_the_download_and_the_import_of_that_outcome(bundled):
    found = error(PolymarketAdapter.replay(bundled), req("no", market=MSTR_SLUG))

    to = f"--to {bundled.directory}"
    assert found.message.endswith(
        "(recorded outcomes: 'yes'): download it with 'signalops data download --source "
        f"polymarket --asset {MSTR_SLUG} {to}' or import a file with 'signalops data import "
        f"FILE --source polymarket --asset {MSTR_SLUG}/no {to}'"
    )


def test_the_import_a_missing_outcome_names_provides_it(tmp_path):
    """The command of the message, run as written on the real NO-token history of 511754 (in
    the CLOB's prices-history shape), makes the read that failed succeed."""
    store = SnapshotStore(tmp_path / "replay")
    meta = [(k, t, v) for k, t, v in import_bundled(DATA) if k == "markets/511754"]
    yes = [(k, t, v) for k, t, v in import_bundled(DATA) if k == "prices/511754/yes"]
    store.write("polymarket", [*meta, *yes])
    as_of = datetime(2024, 11, 10, tzinfo=UTC)
    found = error(PolymarketAdapter.replay(store), req("no", market="511754"), as_of)
    command = found.message.split("import a file with '")[1].rstrip("'")
    assert command == (
        f"signalops data import FILE --source polymarket --asset 511754/No --to {store.directory}"
    )
    no = [(t, v) for k, t, v in import_bundled(DATA) if k == "prices/511754/no"]
    history = tmp_path / "no.json"
    history.write_text(json.dumps({"history": [{"t": t, "p": p} for t, p in no]}))

    done = invoke(*command.replace("FILE", str(history)).split()[1:])

    assert done.exit_code == 0, done.stderr
    replayed = PolymarketAdapter.replay(SnapshotStore(store.directory))
    assert value(replayed, req("no", "511754"), as_of).value == 0.047  # labelled 2024-11-09


# --- a token's price: the reference price of an asset on a Polymarket venue -------------------

TRUMP_YES_TOKEN = "45714870634090908403813747458214625542376052548606303175331201110938821302832"


def test_replay_price_of_a_token_is_its_outcomes_recorded_price_at_as_of(bundled):
    adapter = PolymarketAdapter.replay(bundled)
    request = token_price_request(TRUMP_YES_TOKEN)

    before = value(adapter, request, datetime(2024, 11, 7, 23, 59, 59, tzinfo=UTC))
    after = value(adapter, request, datetime(2024, 11, 8, tzinfo=UTC))

    assert (before.value, before.as_of) == (0.5765, datetime(2024, 11, 7, tzinfo=UTC))
    assert (after.value, after.as_of) == (0.9595, datetime(2024, 11, 8, tzinfo=UTC))
    assert after.detail["market"] == "511754" and after.detail["outcome"] == "Yes"
    assert after.detail["token_id"] == TRUMP_YES_TOKEN


def test_replay_price_of_a_token_no_recorded_market_lists_is_no_data_naming_the_download(bundled):
    found = error(PolymarketAdapter.replay(bundled), token_price_request("123456"))

    assert found.reason == "NO_DATA"
    download = "signalops data download --source polymarket --asset MARKET"
    assert found.message.startswith(
        "no recorded Polymarket market lists CLOB token 123456: download the market that trades "
        f"it with '{download} --to {bundled.directory}'"
    )


def test_live_price_of_a_token_is_its_midpoint_and_records_what_replays_it(api, tmp_path):
    api.on(GAMMA, "/markets", [DEPORT])  # Gamma's answer to ?clob_token_ids=<the NO token>
    store = SnapshotStore(tmp_path)
    request = token_price_request(NO_TOKEN)

    observation = value(live(api, record=store), request)

    (asked,) = [r for r in api.requests if r.url.host == GAMMA]
    assert asked.url.params["clob_token_ids"] == NO_TOKEN
    assert (observation.value, observation.as_of) == (0.946, NOW)
    assert observation.detail["market"] == SLUG and observation.detail["outcome"] == "No"
    replayed = value(PolymarketAdapter.replay(SnapshotStore(tmp_path)), request)
    assert (replayed.value, replayed.as_of) == (0.946, NOW)
    assert value(PolymarketAdapter.replay(store), req("no")).value == 0.946


def test_live_price_of_a_token_gamma_does_not_know_is_unknown_market(api):
    api.on(GAMMA, "/markets", [])

    found = error(live(api), token_price_request("123456"))

    assert found.reason == "UNKNOWN_MARKET" and "CLOB token 123456" in found.message


def test_replay_of_an_unrecorded_market_is_no_data(bundled):
    found = error(PolymarketAdapter.replay(bundled), req("yes", "crypto_regulation_crackdown_2025"))
    assert found.reason == "NO_DATA" and "crypto_regulation_crackdown_2025" in found.message


def test_yes_on_a_market_whose_outcomes_are_not_yes_no_is_not_applicable(tmp_path):
    # A two-team market in the recorded-metadata shape (outcome names as Gamma lists them).
    store = SnapshotStore(tmp_path)
    meta = {"question": "Who wins?", "outcomes": ["Celtics", "Lakers"], "closed": False}
    store.write(
        "polymarket",
        [("markets/finals", 100.0, meta), ("prices/finals/celtics", 200.0, 0.61)],
    )
    adapter = PolymarketAdapter.replay(store)
    as_of = datetime.fromtimestamp(300, UTC)
    found = error(adapter, req("yes", market="finals"), as_of)
    assert found.reason == "NOT_APPLICABLE" and "'Celtics', 'Lakers'" in found.message
    assert value(adapter, req("outcome", market="finals", name="celtics"), as_of).value == 0.61


def test_election_strategy_veto_reads_the_market_through_the_replay(bundled):
    strategy = load(ROOT / "strategies" / "election_odds_gate.yaml")
    requests = [r for r in strategy.requests("BTC") if r.source == "polymarket"]
    answers = PolymarketAdapter.replay(bundled).fetch(requests, datetime(2024, 11, 6, tzinfo=UTC))
    assert [a.value for a in answers.values()] == [0.5735]


def test_live_http_client_can_be_shared_and_injected(api):
    http = HttpClient("polymarket", transport=httpx.MockTransport(api.handler))
    adapter = PolymarketAdapter.live(http, clock=lambda: NOW.timestamp())
    assert value(adapter, req("liquidity")).value == 14945.68799
    assert http.requests_sent == 1
