"""Every live adapter fed mutated real recordings at its transport boundary (issue 11).

The recordings are the ones the adapters' own tests serve (see each test module): Binance klines
built from the real March 2023 hourly file (``RecordedBinance``, through the real ccxt class's
``requests`` session); Polymarket's recorded Gamma market, CLOB midpoint and book shapes and the
MSTR price history (through ``HttpClient`` and through py-clob-client's own httpx client);
DeFiLlama's Ethereum TVL and USDC supply slices; the CoinDesk RSS feed; Apple's SEC
companyfacts document, cut down to the concepts the EDGAR metrics read (gzip-encoded as SEC
serves it).

Each example damages one recording the way a broken server, proxy or CDN can: a value replaced
by null, a string, a date string, NaN, infinity, a negative or 400-digit number; a key or an
element deleted; a number given as a string; a value nested 513 to 100,000 deep; the body cut
short. Whatever arrives, each request's answer is an observation with a plausible value (no
negative price or TVL, a probability within [0, 1]) or an UNKNOWN with a specific reason code:
never INTERNAL_ERROR, never an exception out of ``fetch``, never a crash of the process. The
pytest process runs with py_ecc's recursion limit of 100,000 (py-clob-client is imported), so a
deep answer reaching the json module's C parser would end the run.

Bounded to fit CI: ``FUZZ`` examples per adapter, no deadline (the machine is shared).
"""

from __future__ import annotations

import copy
import gzip
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import py_clob_client.client  # noqa: F401  (what a live Polymarket run imports: limit 100,000)
import pytest
import test_edgar
import test_news
import test_onchain
import test_polymarket
import test_technical
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from signalops.adapters import edgar
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.polymarket import clob_transport
from signalops.codes import Code
from signalops.observation import DataError, Observation, Request

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

POISON: list[Any] = [
    None, "", "abc", "n/a", "NaN", "-1", "1e999", "2023-03-27T20:00:00Z", True, [], {}, 0, -1,
    -5.5, 1e308, -1e308, 10**400, math.nan, math.inf, -math.inf,
]  # fmt: skip
DEEP = "\x00deep\x00"  # a marker json.dumps keeps as one string, replaced by deep brackets
DEPTHS = [513, 5_000, 100_000]


def places(value: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON document, the root included."""
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from places(item, (*at, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from places(item, (*at, i))


def _apply(doc: Any, path: tuple[Any, ...], change: Callable[[Any, Any], None]) -> Any:
    """``change(parent, key)`` at ``path``; a path an earlier change removed is skipped."""
    if not path:
        holder = [doc]
        change(holder, 0)
        return holder[0] if holder else None
    parent = doc
    for key in path[:-1]:
        if not isinstance(parent, dict | list) or _missing(parent, key):
            return doc
        parent = parent[key]
    if not isinstance(parent, dict | list) or _missing(parent, path[-1]):
        return doc
    change(parent, path[-1])
    return doc


def _missing(container: dict[Any, Any] | list[Any], key: Any) -> bool:
    if isinstance(container, dict):
        return key not in container
    return not isinstance(key, int) or key >= len(container)


@st.composite
def damaged(draw: st.DrawFn, payload: Any, paths: list[tuple[Any, ...]]) -> bytes:
    """``payload`` with one to three of the damages above, serialized (NaN as NaN), maybe cut."""
    doc = copy.deepcopy(payload)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["poison", "delete", "as-string", "deep"]))
        if how == "poison":
            poison = draw(st.sampled_from(POISON))
            doc = _apply(doc, path, lambda parent, key, v=poison: parent.__setitem__(key, v))
        elif how == "delete":
            doc = _apply(doc, path, lambda parent, key: parent.__delitem__(key))
        elif how == "as-string":
            doc = _apply(doc, path, lambda parent, key: parent.__setitem__(key, str(parent[key])))
        else:
            doc = _apply(doc, path, lambda parent, key: parent.__setitem__(key, DEEP))
    depth = draw(st.sampled_from(DEPTHS))
    text = json.dumps(doc, allow_nan=True).replace(json.dumps(DEEP), "[" * depth + "]" * depth)
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


def check(answers: dict[Request, Observation | DataError], plausible: dict[str, Any]) -> None:
    """Each answer is a plausible value or an UNKNOWN with its own code."""
    for request, answer in answers.items():
        if isinstance(answer, DataError):
            assert answer.reason in Code.__members__.values(), answer
            assert answer.reason != Code.INTERNAL_ERROR, answer
            continue
        assert isinstance(answer, Observation), answer
        assert math.isfinite(answer.value), (request, answer)
        assert plausible[request.metric](answer.value), (request, answer)


def positive(value: float) -> bool:
    return value > 0


def not_negative(value: float) -> bool:
    return value >= 0


def probability(value: float) -> bool:
    return 0 <= value <= 1


# --- technical: ccxt's requests session ---------------------------------------------------------

KLINE_PAGE = [k for k in test_technical.KLINES if k[0] <= test_technical.AS_OF.timestamp() * 1000][
    -300:
]
KLINE_PLACES = list(places(KLINE_PAGE))
CANDLES = [test_technical.HOURLY[m] for m in ("close", "volume", "rsi", "atr")] + [
    test_technical.request(m, timeframe="1h") for m in ("open", "high", "low")
]
CANDLE_VALUES = {
    "open": positive, "high": positive, "low": positive, "close": positive,
    "volume": not_negative, "rsi": lambda v: 0 <= v <= 100, "atr": not_negative,
}  # fmt: skip


@FUZZ
@given(body=damaged(KLINE_PAGE, KLINE_PLACES))
def test_a_damaged_kline_page_is_a_plausible_candle_or_a_coded_unknown(body: bytes) -> None:
    stub = test_technical.RecordedBinance(script=[body.decode()])

    check(test_technical.live(stub).fetch(CANDLES, test_technical.AS_OF), CANDLE_VALUES)


# --- polymarket: Gamma and prices-history through HttpClient, the CLOB through py-clob-client --

POLY = test_polymarket
BOOK = POLY.derived_book(POLY.YES_TOKEN, "0.05", "0.058", POLY.NOW)
POLY_PAYLOADS = {
    (POLY.GAMMA, "/markets"): [POLY.DEPORT],
    (POLY.CLOB, "/midpoint"): POLY.MID_YES,
    (POLY.CLOB, "/book"): BOOK,
    (POLY.CLOB, "/prices-history"): POLY.MSTR_HISTORY,
}
POLY_PLACES = {route: list(places(payload)) for route, payload in POLY_PAYLOADS.items()}
POLY_REQUESTS = [
    POLY.req("yes"), POLY.req("no"), POLY.req("spread"), POLY.req("liquidity"),
    POLY.req("volume_24h"), POLY.req("change"), POLY.req("outcome", name="Yes"),
]  # fmt: skip
POLY_VALUES = {
    "yes": probability, "no": probability, "outcome": probability, "spread": probability,
    "liquidity": not_negative, "volume_24h": not_negative, "change": lambda v: -1 <= v <= 1,
}  # fmt: skip


@st.composite
def polymarket_answers(draw: st.DrawFn) -> tuple[tuple[str, str], bytes]:
    route = draw(st.sampled_from(sorted(POLY_PAYLOADS)))
    return route, draw(damaged(POLY_PAYLOADS[route], POLY_PLACES[route]))


@FUZZ
@given(damage=polymarket_answers())
def test_a_damaged_polymarket_answer_is_a_plausible_value_or_a_coded_unknown(
    damage: tuple[tuple[str, str], bytes],
) -> None:
    (host, path), body = damage
    api = POLY.Api()
    api.on(POLY.GAMMA, "/markets", [POLY.DEPORT], key=POLY.SLUG)
    api.on(POLY.CLOB, "/midpoint", POLY.MID_YES, key=POLY.YES_TOKEN)
    api.on(POLY.CLOB, "/midpoint", POLY.MID_NO, key=POLY.NO_TOKEN)
    api.on(POLY.CLOB, "/book", BOOK, key=POLY.YES_TOKEN)
    api.on(POLY.CLOB, "/prices-history", POLY.MSTR_HISTORY)
    served = httpx.Response(200, content=body, headers={"Content-Type": "application/json"})
    api.routes[next(k for k in api.routes if k[:2] == (host, path))] = [served]

    with clob_transport(httpx.MockTransport(api.handler)):
        answers = POLY.live(api).fetch(POLY_REQUESTS, POLY.NOW)

    check(answers, POLY_VALUES)


# --- onchain: DeFiLlama through HttpClient -------------------------------------------------------

LLAMA_PAYLOADS = {
    "/v2/historicalChainTvl/Ethereum": test_onchain.ETH_TVL,
    "/stablecoincharts/all": test_onchain.USDC_CHART,
}
LLAMA_PLACES = {path: list(places(payload)) for path, payload in LLAMA_PAYLOADS.items()}
LLAMA_REQUESTS = [
    test_onchain.request("chain_tvl", chain="Ethereum"),
    test_onchain.eth_tvl_change(),
    test_onchain.request("stablecoin_supply", stablecoin="USDC"),
    test_onchain.usdc_net_flow(),
]
LLAMA_VALUES = {
    "chain_tvl": not_negative, "stablecoin_supply": not_negative,
    "chain_tvl_change": lambda v: v >= -1, "stablecoin_net_flow": lambda v: True,
}  # fmt: skip


@st.composite
def llama_answers(draw: st.DrawFn) -> tuple[str, bytes]:
    path = draw(st.sampled_from(sorted(LLAMA_PAYLOADS)))
    return path, draw(damaged(LLAMA_PAYLOADS[path], LLAMA_PLACES[path]))


@FUZZ
@given(damage=llama_answers())
def test_a_damaged_defillama_answer_is_a_plausible_amount_or_a_coded_unknown(
    damage: tuple[str, bytes],
) -> None:
    path, body = damage
    routes: dict[str, Any] = dict(LLAMA_PAYLOADS)
    routes[path] = httpx.Response(200, content=body)
    adapter, _ = test_onchain.live(routes, retries=0)

    check(adapter.fetch(LLAMA_REQUESTS, test_onchain.END_OF_2023_03_12), LLAMA_VALUES)


# --- news: the CoinDesk feed through HttpClient and feedparser ------------------------------------

FEED = test_news.FEED_TEXT
BAD_DATES = ["", "abc", "2026-09-25T14:40:00Z", "Fri, 99 Sep 2026 99:99:99 +0000",
             "Fri, 25 Sep 2126 14:41:53 +0000", "-1", "NaN"]  # fmt: skip


TAGS = [i for i, char in enumerate(FEED) if char == "<"]
# feedparser reads nested elements without recursing, but slowly (100,000 took 2.5 s): fewer.
XML_DEPTHS = [513, 5_000, 20_000]


@st.composite
def damaged_feed(draw: st.DrawFn) -> bytes:
    """The recorded feed with a date replaced, an element's tag cut out, nesting or garbage
    inserted before a tag, or cut short."""
    text, at = FEED, draw(st.sampled_from(TAGS))
    how = draw(st.sampled_from(["date", "cut-tag", "deep", "garbage"]))
    if how == "date":
        dates = [i for i in TAGS if FEED.startswith("<pubDate>", i)]
        start = draw(st.sampled_from(dates)) + len("<pubDate>")
        end = FEED.index("</pubDate>", start)
        text = FEED[:start] + draw(st.sampled_from(BAD_DATES)) + FEED[end:]
    elif how == "cut-tag":
        text = FEED[:at] + FEED[FEED.index(">", at) + 1 :]
    elif how == "deep":
        depth = draw(st.sampled_from(XML_DEPTHS))
        text = FEED[:at] + "<x>" * depth + "</x>" * depth + FEED[at:]
    else:
        garbage = draw(st.sampled_from(["&bogus;", "]]>", "\x00", "<<", "&#0;", "<![CDATA["]))
        text = FEED[:at] + garbage + FEED[at:]
    if draw(st.integers(0, 4)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode()


@FUZZ
@given(body=damaged_feed())
def test_a_damaged_rss_feed_is_a_count_or_a_coded_unknown(body: bytes) -> None:
    served = httpx.Response(200, content=body, headers={"Content-Type": "application/rss+xml"})
    feeds = test_news.Feeds().serve(test_news.COINDESK, served)
    adapter = test_news.live(feeds, retries=0)

    answers = adapter.fetch([test_news.req("tether")], test_news.BUILT)

    check(answers, {"news_count": lambda v: v >= 0 and v == int(v)})


# --- EDGAR: SEC companyfacts through HttpClient ---------------------------------------------------


def _facts_used(document: dict[str, Any]) -> dict[str, Any]:
    """The companyfacts document with only the concepts the EDGAR metrics read and the facts
    filed in 2022 and 2023 (those a 2023-12-29 answer can use)."""
    facts = {
        taxonomy: {
            concept: {
                **body,
                "units": {
                    unit: [f for f in entries if "2022-01-01" <= f["filed"] <= "2023-12-29"]
                    for unit, entries in body["units"].items()
                },
            }
            for concept, body in concepts.items()
            if (taxonomy, concept) in edgar.CONCEPTS
        }
        for taxonomy, concepts in document["facts"].items()
    }
    return {**document, "facts": facts}


AAPL_FACTS = _facts_used(test_edgar.document(test_edgar.AAPL))
AAPL_PLACES = list(places(AAPL_FACTS))
EDGAR_REQUESTS = [
    Request("fundamental", metric, (), "AAPL")
    for metric in ("book_value_per_share", "ncav_per_share", "shares_outstanding")
]
EDGAR_VALUES = {
    "book_value_per_share": lambda v: True, "ncav_per_share": lambda v: True,
    "shares_outstanding": positive,
}  # fmt: skip


@pytest.fixture(scope="module")
def closes(tmp_path_factory: pytest.TempPathFactory) -> edgar.StoreCloses:
    return edgar.StoreCloses(test_edgar.price_store(tmp_path_factory.mktemp("closes")))


def _with_fact(value: Any) -> bytes:
    """The cut-down document with its first StockholdersEquity fact replaced by ``value``."""
    doc = copy.deepcopy(AAPL_FACTS)
    doc["facts"]["us-gaap"]["StockholdersEquity"]["units"]["USD"][0] = value
    return json.dumps(doc).encode()


def _with_val(value: Any) -> bytes:
    """The cut-down document with the value of its first StockholdersEquity fact replaced."""
    doc = copy.deepcopy(AAPL_FACTS)
    doc["facts"]["us-gaap"]["StockholdersEquity"]["units"]["USD"][0]["val"] = value
    return json.dumps(doc).encode()


@FUZZ
@example(body=_with_fact(None))
@example(body=_with_val(10**400))  # more digits than a float holds (found by this fuzz)
@given(body=damaged(AAPL_FACTS, AAPL_PLACES))
def test_damaged_companyfacts_are_a_plausible_figure_or_a_coded_unknown(
    closes: edgar.StoreCloses, body: bytes
) -> None:
    transport = test_edgar.sec({test_edgar.AAPL: gzip.compress(body)}, [])
    client = edgar.EdgarClient(test_edgar.UA, transport=transport, sleep=lambda s: None)
    adapter = FundamentalAdapter.live(
        edgar=client, prices=closes, splits=test_edgar.splits(), point_in_time=True
    )

    check(adapter.fetch(EDGAR_REQUESTS, test_edgar.close_of("2023-12-29")), EDGAR_VALUES)


def test_the_recordings_themselves_answer_plausible_values(closes: edgar.StoreCloses) -> None:
    # The undamaged baseline: the same checks pass, on values, for every adapter above.
    stub = test_technical.RecordedBinance(script=[json.dumps(KLINE_PAGE)])
    candles = test_technical.live(stub).fetch(CANDLES, test_technical.AS_OF)
    tvl, _ = test_onchain.live(dict(LLAMA_PAYLOADS))
    transport = test_edgar.sec(
        {test_edgar.AAPL: gzip.compress(json.dumps(AAPL_FACTS).encode())}, []
    )
    client = edgar.EdgarClient(test_edgar.UA, transport=transport, sleep=lambda s: None)
    facts = FundamentalAdapter.live(
        edgar=client, prices=closes, splits=test_edgar.splits(), point_in_time=True
    )
    feeds = test_news.Feeds().serve(test_news.COINDESK, test_news.rss())
    api = POLY.Api()
    for (host, path), payload in POLY_PAYLOADS.items():
        key = POLY.SLUG if path == "/markets" else None
        api.on(host, path, payload, key=key)
    api.on(POLY.CLOB, "/midpoint", POLY.MID_NO, key=POLY.NO_TOKEN)
    with clob_transport(httpx.MockTransport(api.handler)):
        odds = POLY.live(api).fetch(POLY_REQUESTS, POLY.NOW)

    for answers, plausible in [
        (odds, POLY_VALUES),
        (candles, CANDLE_VALUES),
        (tvl.fetch(LLAMA_REQUESTS, test_onchain.END_OF_2023_03_12), LLAMA_VALUES),
        (facts.fetch(EDGAR_REQUESTS, test_edgar.close_of("2023-12-29")), EDGAR_VALUES),
        (test_news.live(feeds).fetch([test_news.req("tether")], test_news.BUILT), {}),
    ]:
        assert all(isinstance(a, Observation) for a in answers.values()), answers
        if plausible:
            check(answers, plausible)
