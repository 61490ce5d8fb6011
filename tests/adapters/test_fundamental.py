"""Tests for the fundamentals adapter (signalops.adapters.fundamental).

The REAL yfinance code runs in every live test: ``yfinance.Ticker(symbol, session=...)`` gets a
real ``requests.Session`` whose transport adapter (``RecordedYahoo``) answers the URLs yfinance's
``YfData`` requests:

- the cookie/crumb dance: ``https://fc.yahoo.com`` (404, as Yahoo answers it), the ``getcrumb``
  endpoints (a made-up crumb: Yahoo's is a random per-session token, nothing to record) and the
  consent pages of yfinance's fallback strategy (an empty page, so that strategy finds no form);
- ``https://query2.finance.yahoo.com/v10/finance/quoteSummary/<SYM>?modules=...``: the bundled
  real module bodies (``examples/data/fundamentals``, recorded 2025-02-24 09:35 UTC) wrapped into
  Yahoo's real envelope ``{"quoteSummary": {"result": [{modules...}], "error": null}}``, keeping
  only the modules yfinance asked for;
- ``/v7/finance/quote`` (not recorded: an empty ``quoteResponse`` result, which yfinance skips)
  and the ``trailingPegRatio`` timeseries (not recorded: an empty ``timeseries`` result);
- the balance-sheet timeseries: a real recorded AAPL response (2025-02-21), trimmed to the
  series used (``tests/fixtures/yahoo/``, provenance inside).

Failure cases script that transport (status codes, raised timeouts, bodies). Retries use a fake
``sleep`` that records the back-off instead of waiting.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yfinance
import yfinance.cache
from requests.adapters import BaseAdapter as RequestsTransport
from yfinance.data import YfData

from signalops.adapters import fundamental
from signalops.adapters.fundamental import FundamentalAdapter, import_bundled
from signalops.adapters.snapshots import SnapshotStore
from signalops.observation import DataError, Observation, Request

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "examples" / "data"
FIXTURES = ROOT / "tests" / "fixtures" / "yahoo"
RECORDED_AT = datetime(2025, 2, 24, 9, 35, tzinfo=UTC)
AS_OF = RECORDED_AT + timedelta(seconds=30)

Answer = tuple[int, Any] | Exception  # (status, JSON body or raw text) or an exception to raise


def modules_of(symbol: str) -> dict[str, Any]:
    path = DATA / "fundamentals" / f"yahoo_quoteSummary_{symbol}.json"
    return json.loads(path.read_text())["modules"]


def envelope(modules: dict[str, Any]) -> dict[str, Any]:
    # The bundled files hold the module bodies; Yahoo sends them in this envelope.
    return {"quoteSummary": {"result": [modules], "error": None}}


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())["body"]


AAPL_BALANCE = "timeseries_AAPL_balance-sheet_quarterly_2025-02-21.json"
BTC_SUMMARY = "quoteSummary_BTC-USD_2021-02-26.json"


class RecordedYahoo(RequestsTransport):
    """A requests transport adapter serving recorded Yahoo answers; the session boundary.

    ``summary[symbol]`` / ``balance[symbol]`` are lists of answers used in order (the last one
    repeats); a summary answer that is a dict of modules is wrapped in Yahoo's envelope and cut
    down to the modules requested.
    """

    def __init__(self) -> None:
        super().__init__()
        self.summary: dict[str, list[Any]] = {}
        self.balance: dict[str, list[Answer]] = {}
        self.seen: list[str] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = str(request.url)
        self.seen.append(url)
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        path = parts.path
        if parts.hostname == "fc.yahoo.com":
            return self._response(request, 404, "")
        if path.endswith("/v1/test/getcrumb"):
            return self._response(request, 200, "recorded-test-crumb")
        if parts.hostname and "consent" in parts.hostname:
            return self._response(request, 200, "<html><body></body></html>")
        if "/v10/finance/quoteSummary/" in path:
            symbol = path.rsplit("/", 1)[-1]
            answer = self._next(self.summary, symbol, (404, NOT_FOUND))
            if isinstance(answer, dict):
                wanted = query["modules"][0].split(",")
                answer = (200, envelope({m: answer[m] for m in wanted if m in answer}))
            return self._answer(request, answer)
        if path.endswith("/v7/finance/quote"):
            return self._response(request, 200, {"quoteResponse": {"result": [], "error": None}})
        if "/fundamentals-timeseries/" in path:
            symbol = path.rsplit("/", 1)[-1]
            types = query.get("type", [""])[0]
            if types == "trailingPegRatio":
                return self._response(request, 200, {"timeseries": {"result": [], "error": None}})
            return self._answer(request, self._next(self.balance, symbol, (200, EMPTY_SERIES)))
        return self._response(request, 404, "")

    @staticmethod
    def _next(table: dict[str, list[Any]], symbol: str, default: Any) -> Any:
        answers = table.get(symbol)
        if not answers:
            return default
        return answers.pop(0) if len(answers) > 1 else answers[0]

    def _answer(self, request: requests.PreparedRequest, answer: Answer) -> requests.Response:
        if isinstance(answer, Exception):
            raise answer
        return self._response(request, *answer)

    @staticmethod
    def _response(request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
        text = body if isinstance(body, str) else json.dumps(body)
        response = requests.Response()
        response.status_code = status
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        response.raw = io.BytesIO(text.encode())
        response.headers["Content-Type"] = "application/json" if text[:1] in "{[" else "text/html"
        return response

    def close(self) -> None:
        pass

    def requests_to(self, fragment: str) -> int:
        return sum(fragment in url for url in self.seen)


# Yahoo's answer for an unknown symbol (its documented not-found body shape).
NOT_FOUND = {
    "quoteSummary": {
        "result": None,
        "error": {"code": "Not Found", "description": "Quote not found for symbol: ZZZZ"},
    }
}
EMPTY_SERIES = {"timeseries": {"result": [], "error": None}}


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(autouse=True)
def hermetic_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    # yfinance persists Yahoo cookies in an on-disk cache and keeps a process-wide response
    # cache; neither may leak between tests or touch the user's cache directory.
    monkeypatch.setattr(
        yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy()
    )
    YfData.cache_get.cache_clear()


@pytest.fixture
def yahoo() -> RecordedYahoo:
    return RecordedYahoo()


def session_for(transport: RecordedYahoo) -> requests.Session:
    session = requests.Session()
    session.mount("https://", transport)
    session.mount("http://", transport)
    return session


def live(
    transport: RecordedYahoo,
    *,
    sleeps: Sleeps | None = None,
    record: SnapshotStore | None = None,
    now: datetime = RECORDED_AT,
    **options: Any,
) -> FundamentalAdapter:
    return FundamentalAdapter.live(
        session_for(transport),
        record=record,
        sleep=sleeps or Sleeps(),
        now=lambda: now,
        **options,
    )


def req(metric: str, asset: str = "AAPL") -> Request:
    return Request("fundamental", metric, (), asset)


def ask(adapter: FundamentalAdapter, metric: str, asset: str = "AAPL", as_of: datetime = AS_OF):
    return adapter.fetch([req(metric, asset)], as_of)[req(metric, asset)]


def value(answer: Observation | DataError) -> float:
    assert isinstance(answer, Observation), answer
    return answer.value


def reason(answer: Observation | DataError) -> str:
    assert isinstance(answer, DataError), answer
    return answer.reason


# --- real values ---------------------------------------------------------------------------------


def test_real_aapl_quote_summary_through_yfinance_gives_the_recorded_ratios(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    adapter = live(yahoo)
    metrics = ["trailing_pe", "price_to_book", "forward_pe", "price_to_sales", "debt_to_equity",
               "current_ratio", "market_cap"]  # fmt: skip
    answers = adapter.fetch([req(m) for m in metrics], AS_OF)
    got = {m: value(answers[req(m)]) for m in metrics}
    assert got["trailing_pe"] == pytest.approx(38.91442)
    assert got["price_to_book"] == pytest.approx(55.328976)
    assert got["forward_pe"] == pytest.approx(29.548735)  # summaryDetail's, as yfinance flattens
    assert got["price_to_sales"] == pytest.approx(9.320489)
    assert got["debt_to_equity"] == 145.0  # Yahoo's percent: 145 means debt = 1.45 x equity
    assert got["current_ratio"] == pytest.approx(0.923)
    assert got["market_cap"] == 3688676720640.0
    # One quoteSummary request answered all seven metrics.
    assert yahoo.requests_to("/quoteSummary/AAPL") == 1


def test_observation_is_dated_at_the_fetch_time_with_its_currency_in_detail(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    answer = ask(live(yahoo), "trailing_pe")
    assert isinstance(answer, Observation)
    assert answer.as_of == RECORDED_AT
    assert answer.fetched_at == AS_OF
    assert answer.detail["field"] == "trailingPE"
    assert answer.detail["currency"] == "USD"
    assert answer.detail["financial_currency"] == "USD"


@pytest.mark.parametrize(
    ("symbol", "trailing_pe", "price_to_book"),
    [("AMZN", 39.235508, 8.02267), ("CRM", 51.037888, 5.06052), ("GOOG", 22.584578, 6.820675)],
)
def test_other_bundled_companies_give_their_recorded_ratios(
    yahoo, symbol, trailing_pe, price_to_book
):
    yahoo.summary[symbol] = [modules_of(symbol)]
    adapter = live(yahoo)
    assert value(ask(adapter, "trailing_pe", symbol)) == pytest.approx(trailing_pe)
    assert value(ask(adapter, "price_to_book", symbol)) == pytest.approx(price_to_book)


def test_raw_fmt_shaped_values_are_read_as_their_raw_number(yahoo):
    # formatted=true shape, built from the real AAPL values: {"raw": 38.91442, "fmt": "38.91"}.
    modules = modules_of("AAPL")
    for module in ("summaryDetail", "defaultKeyStatistics", "financialData"):
        for key, raw in list(modules[module].items()):
            if isinstance(raw, int | float) and not isinstance(raw, bool):
                modules[module][key] = {"raw": raw, "fmt": f"{raw:.2f}"}
    yahoo.summary["AAPL"] = [modules]
    adapter = live(yahoo)
    assert value(ask(adapter, "trailing_pe")) == pytest.approx(38.91442)
    assert value(ask(adapter, "debt_to_equity")) == 145.0


def test_a_negative_ratio_from_yahoo_is_not_applicable_not_the_cheapest(yahoo):
    """Yahoo gives a negative priceToBook (and debtToEquity, forwardPE) for a company with
    negative equity (or expected losses): each passed a screen's ``< threshold`` as the
    cheapest or soundest. AAPL's real modules with those fields made negative."""
    modules = modules_of("AAPL")
    for module in ("summaryDetail", "defaultKeyStatistics", "financialData"):
        for key in ("priceToBook", "debtToEquity", "forwardPE"):
            if key in modules[module]:
                modules[module][key] = -abs(modules[module][key])
    yahoo.summary["AAPL"] = [modules]
    adapter = live(yahoo)
    book = ask(adapter, "price_to_book")
    assert reason(book) == "NOT_APPLICABLE"
    assert book.message == (
        "Yahoo's priceToBook of AAPL is -55.33: a price-to-book of a negative book is not a "
        "valuation"
    )
    assert reason(ask(adapter, "debt_to_equity")) == "NOT_APPLICABLE"
    assert reason(ask(adapter, "forward_pe")) == "NOT_APPLICABLE"
    assert value(ask(adapter, "trailing_pe")) == pytest.approx(38.91442)  # left as it was


def test_ncav_per_share_from_the_recorded_quarterly_balance_sheet(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    yahoo.balance["AAPL"] = [(200, fixture(AAPL_BALANCE))]
    answer = ask(live(yahoo), "ncav_per_share")
    # 2024-12-31: (133.240B current assets - 277.327B total liabilities) / 15.037874B shares
    assert value(answer) == pytest.approx((133240000000 - 277327000000) / 15037874000)
    assert value(answer) == pytest.approx(-9.5816, abs=1e-4)
    assert answer.detail["period_end"] == "2024-12-31"
    assert answer.detail["shares_source"] == "balance_sheet"
    assert answer.as_of == RECORDED_AT


def test_ncav_uses_info_shares_outstanding_when_the_statement_has_no_share_count(yahoo):
    body = fixture(AAPL_BALANCE)
    body["timeseries"]["result"] = [
        s
        for s in body["timeseries"]["result"]
        if s["meta"]["type"][0] != "quarterlyOrdinarySharesNumber"
    ]
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    yahoo.balance["AAPL"] = [(200, body)]
    answer = ask(live(yahoo), "ncav_per_share")
    assert value(answer) == pytest.approx((133240000000 - 277327000000) / 15022100480)
    assert answer.detail["shares_source"] == "info.sharesOutstanding"


def test_empty_balance_sheet_makes_ncav_no_data_and_leaves_the_ratios_alone(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    yahoo.balance["AAPL"] = [(200, EMPTY_SERIES)]
    answers = live(yahoo).fetch([req("ncav_per_share"), req("trailing_pe")], AS_OF)
    assert reason(answers[req("ncav_per_share")]) == "NO_DATA"
    assert value(answers[req("trailing_pe")]) == pytest.approx(38.91442)


# --- not applicable ------------------------------------------------------------------------------


@pytest.mark.parametrize("asset", ["BTC", "ETH", "SOL", "btc", "BTC-USD", "ETH/USDT"])
def test_crypto_assets_are_not_applicable_without_asking_yahoo(yahoo, asset):
    adapter = live(yahoo)
    answers = adapter.fetch([req(m, asset) for m in ("price_to_sales", "ncav_per_share")], AS_OF)
    assert {reason(a) for a in answers.values()} == {"NOT_APPLICABLE"}
    assert yahoo.seen == []


def test_yahoo_quote_type_cryptocurrency_is_not_applicable(yahoo):
    # The real recorded BTC-USD quoteSummary; the crypto list is emptied so Yahoo is asked.
    yahoo.summary["BTC-USD"] = [(200, fixture(BTC_SUMMARY))]
    adapter = FundamentalAdapter.live(session_for(yahoo), crypto=(), sleep=Sleeps())
    answers = adapter.fetch([req("price_to_sales", "BTC-USD"), req("market_cap", "BTC-USD")], AS_OF)
    assert {reason(a) for a in answers.values()} == {"NOT_APPLICABLE"}
    assert "CRYPTOCURRENCY" in answers[req("market_cap", "BTC-USD")].message
    assert yahoo.requests_to("/quoteSummary/BTC-USD") == 1


# --- currencies ----------------------------------------------------------------------------------


def with_currencies(price: str | None, statements: str | None) -> dict[str, Any]:
    # Built from the real AAPL modules with the currencies changed (no mismatched company was
    # recorded): an ADR-like case priced in one currency, reporting in another.
    modules = copy.deepcopy(modules_of("AAPL"))
    for module in ("summaryDetail", "price"):
        if price is None:
            modules[module].pop("currency", None)
        else:
            modules[module]["currency"] = price
    if statements is None:
        modules["financialData"].pop("financialCurrency")
    else:
        modules["financialData"]["financialCurrency"] = statements
    return modules


MIXED = ["price_to_book", "trailing_pe", "forward_pe", "price_to_sales", "ncav_per_share"]
STATEMENT_ONLY = {"debt_to_equity": 145.0, "current_ratio": 0.923, "market_cap": 3688676720640.0}


@pytest.mark.parametrize(("price", "statements"), [("USD", "CNY"), ("GBp", "GBP")])
def test_currency_mismatch_refuses_price_over_statement_ratios_only(yahoo, price, statements):
    yahoo.summary["AAPL"] = [with_currencies(price, statements)]
    yahoo.balance["AAPL"] = [(200, fixture(AAPL_BALANCE))]
    adapter = live(yahoo)
    answers = adapter.fetch([req(m) for m in [*MIXED, *STATEMENT_ONLY]], AS_OF)
    for metric in MIXED:
        assert reason(answers[req(metric)]) == "CURRENCY_MISMATCH", metric
        assert price in answers[req(metric)].message and statements in answers[req(metric)].message
    for metric, expected in STATEMENT_ONLY.items():
        assert value(answers[req(metric)]) == pytest.approx(expected), metric
    # Refused before the balance sheet was even fetched.
    assert yahoo.requests_to("quarterlyCurrentAssets") == 0


def test_unknown_statement_currency_cannot_rule_out_a_mix_so_mixed_ratios_are_no_data(yahoo):
    yahoo.summary["AAPL"] = [with_currencies("USD", None)]
    answers = live(yahoo).fetch([req("price_to_book"), req("current_ratio")], AS_OF)
    assert reason(answers[req("price_to_book")]) == "NO_DATA"
    assert "currencies" in answers[req("price_to_book")].message
    assert value(answers[req("current_ratio")]) == pytest.approx(0.923)


# --- failures ------------------------------------------------------------------------------------


def test_a_single_429_is_absorbed_by_yfinance_own_retry(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [(429, "Too Many Requests"), modules_of("AAPL")]
    assert value(ask(live(yahoo, sleeps=sleeps), "trailing_pe")) == pytest.approx(38.91442)
    assert yahoo.requests_to("/quoteSummary/AAPL") == 2
    assert sleeps.waits == []


def test_429_twice_then_success_retries_after_a_back_off(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [
        (429, "Too Many Requests"),
        (429, "Too Many Requests"),
        modules_of("AAPL"),
    ]
    assert value(ask(live(yahoo, sleeps=sleeps), "trailing_pe")) == pytest.approx(38.91442)
    assert sleeps.waits == [0.5]
    assert yahoo.requests_to("/quoteSummary/AAPL") == 3


def test_rate_limit_that_never_lifts_is_rate_limited_after_the_retries(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [(429, "Too Many Requests")]
    answer = ask(live(yahoo, sleeps=sleeps, retries=2), "trailing_pe")
    assert reason(answer) == "RATE_LIMITED"
    assert "gave up after 3 attempts" in answer.message
    assert sleeps.waits == [0.5, 1.0]


def test_timeout_is_retried_then_reported_as_timeout(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [requests.exceptions.ReadTimeout("read timed out")]
    answer = ask(live(yahoo, sleeps=sleeps, retries=2), "trailing_pe")
    assert reason(answer) == "TIMEOUT"
    assert sleeps.waits == [0.5, 1.0]
    assert yahoo.requests_to("/quoteSummary/AAPL") == 3


def test_timeout_then_success_gives_the_value(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [
        requests.exceptions.ConnectTimeout("connect timed out"),
        modules_of("AAPL"),
    ]
    assert value(ask(live(yahoo, sleeps=sleeps), "current_ratio")) == pytest.approx(0.923)
    assert sleeps.waits == [0.5]


def test_5xx_storm_exhausts_the_retries_and_is_an_http_error(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [(503, "Service Unavailable")]
    answer = ask(live(yahoo, sleeps=sleeps, retries=3, max_backoff=1.0), "trailing_pe")
    assert reason(answer) == "HTTP_ERROR"
    assert "503" in answer.message
    assert sleeps.waits == [0.5, 1.0, 1.0]  # doubling, capped at max_backoff
    # yfinance retries each attempt once itself: 4 attempts x 2 requests.
    assert yahoo.requests_to("/quoteSummary/AAPL") == 8


def test_connection_error_is_retried_then_reported(yahoo):
    yahoo.summary["AAPL"] = [requests.exceptions.ConnectionError("connection refused")]
    assert reason(ask(live(yahoo, retries=1), "trailing_pe")) == "CONNECTION_ERROR"


def test_malformed_json_is_a_bad_response_and_not_retried(yahoo):
    sleeps = Sleeps()
    yahoo.summary["AAPL"] = [
        (200, '{"quoteSummary": {"result": [{"summaryDetail": {"trailingPE": 38.9')
    ]
    answer = ask(live(yahoo, sleeps=sleeps), "trailing_pe")
    assert reason(answer) == "BAD_RESPONSE"
    assert sleeps.waits == []


def test_unknown_symbol_is_unknown_symbol_and_other_symbols_still_answer(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    yahoo.summary["ZZZZ"] = [(404, NOT_FOUND)]
    answers = live(yahoo).fetch([req("trailing_pe", "ZZZZ"), req("trailing_pe", "AAPL")], AS_OF)
    assert reason(answers[req("trailing_pe", "ZZZZ")]) == "UNKNOWN_SYMBOL"
    assert value(answers[req("trailing_pe", "AAPL")]) == pytest.approx(38.91442)


def test_a_failed_fetch_is_not_repeated_for_every_metric_of_the_symbol(yahoo):
    yahoo.summary["AAPL"] = [(503, "Service Unavailable")]
    answers = live(yahoo, retries=0).fetch(
        [req("trailing_pe"), req("forward_pe"), req("market_cap")], AS_OF
    )
    assert {reason(a) for a in answers.values()} == {"HTTP_ERROR"}
    assert yahoo.requests_to("/quoteSummary/AAPL") == 2  # one attempt (yfinance's own retry)


def test_missing_field_is_no_data_naming_the_field(yahoo):
    # A loss-making company has no trailing P/E: the real AAPL body without trailingPE.
    modules = modules_of("AAPL")
    del modules["summaryDetail"]["trailingPE"]
    yahoo.summary["AAPL"] = [modules]
    answers = live(yahoo).fetch([req("trailing_pe"), req("forward_pe")], AS_OF)
    assert reason(answers[req("trailing_pe")]) == "NO_DATA"
    assert "trailingPE" in answers[req("trailing_pe")].message
    assert value(answers[req("forward_pe")]) == pytest.approx(29.548735)


@pytest.mark.parametrize("text", ["Infinity", "n/a", ""])
def test_string_where_a_number_belongs_is_a_bad_response(yahoo, text):
    # Yahoo really sends trailingPE "Infinity" for near-zero earnings.
    modules = modules_of("AAPL")
    modules["summaryDetail"]["trailingPE"] = text
    yahoo.summary["AAPL"] = [modules]
    answer = ask(live(yahoo), "trailing_pe")
    assert reason(answer) == "BAD_RESPONSE"


def test_empty_quote_summary_result_is_no_data(yahoo):
    yahoo.summary["AAPL"] = [(200, {"quoteSummary": {"result": [], "error": None}})]
    answer = ask(live(yahoo), "trailing_pe")
    assert reason(answer) == "NO_DATA"


def test_hide_exceptions_setting_of_yfinance_is_restored(yahoo):
    yahoo.summary["AAPL"] = [(503, "Service Unavailable")]
    before = yfinance.config.debug.hide_exceptions
    ask(live(yahoo, retries=0), "trailing_pe")
    assert yfinance.config.debug.hide_exceptions == before


def test_live_fetch_for_an_as_of_long_past_is_refused_as_look_ahead(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    answer = ask(live(yahoo), "trailing_pe", as_of=RECORDED_AT - timedelta(days=30))
    assert reason(answer) == "LOOK_AHEAD"


def test_fetch_just_after_as_of_is_stamped_as_of(yahoo):
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    answer = ask(live(yahoo, now=AS_OF + timedelta(seconds=2)), "trailing_pe")
    assert answer.as_of == AS_OF


def test_cache_serves_a_second_cycle_within_the_ttl_with_the_original_fetch_time(yahoo):
    ticks = iter([0.0, 0.0, 10.0, 10.0])
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    adapter = live(yahoo, clock=lambda: next(ticks), cache_ttl=60.0)
    first = ask(adapter, "trailing_pe")
    second = ask(adapter, "trailing_pe", as_of=AS_OF + timedelta(minutes=5))
    assert yahoo.requests_to("/quoteSummary/AAPL") == 1
    assert second.as_of == first.as_of == RECORDED_AT


# --- recording and replay ------------------------------------------------------------------------


def test_live_recording_replays_to_the_same_values(yahoo, tmp_path):
    store = SnapshotStore(tmp_path)
    yahoo.summary["AAPL"] = [modules_of("AAPL")]
    yahoo.balance["AAPL"] = [(200, fixture(AAPL_BALANCE))]
    metrics = [*INFO_METRICS, "ncav_per_share"]
    live_answers = live(yahoo, record=store).fetch([req(m) for m in metrics], AS_OF)
    replayed = FundamentalAdapter.replay(SnapshotStore(tmp_path)).fetch(
        [req(m) for m in metrics], AS_OF
    )
    for metric in metrics:
        assert value(replayed[req(metric)]) == value(live_answers[req(metric)]), metric
        assert replayed[req(metric)].as_of == live_answers[req(metric)].as_of
    recorded = SnapshotStore(tmp_path).series("fundamental", "balance/AAPL").values[0]
    assert recorded["period_end"] == "2024-12-31" and recorded["freq"] == "quarterly"


INFO_METRICS = list(fundamental.INFO_FIELDS)


def test_replay_never_uses_a_snapshot_recorded_after_as_of(tmp_path):
    store = SnapshotStore(tmp_path)
    first = fundamental.info_fields(fundamental.flatten_modules(modules_of("AAPL")))
    later = dict(first, trailingPE=41.0)  # a later snapshot, built from the real one
    t0 = RECORDED_AT.timestamp()
    store.append("fundamental", [("info/AAPL", t0, first), ("info/AAPL", t0 + 86400, later)])
    adapter = FundamentalAdapter.replay(store)
    assert value(
        ask(adapter, "trailing_pe", as_of=RECORDED_AT + timedelta(hours=23))
    ) == pytest.approx(38.91442)
    assert value(ask(adapter, "trailing_pe", as_of=RECORDED_AT + timedelta(days=1))) == 41.0
    assert (
        reason(ask(adapter, "trailing_pe", as_of=RECORDED_AT - timedelta(seconds=1))) == "NO_DATA"
    )


def test_a_missing_snapshot_names_the_command_that_provides_the_metric(tmp_path):
    """EDGAR's company facts answer the metrics they can in replay: the hint downloads them.
    Yahoo's snapshots have no history to download: only a recorded live run holds them."""
    adapter = FundamentalAdapter.replay(SnapshotStore(tmp_path))
    when = "2025-02-24T09:35:30+00:00"
    for metric in ("price_to_book", "ncav_per_share"):
        answer = ask(adapter, metric)
        assert isinstance(answer, DataError) and answer.reason == "NO_DATA"
        assert answer.message == (
            f"no recorded fundamentals snapshot for AAPL at or before {when}: download it with "
            "'signalops data download --source fundamental --asset AAPL' or import a file with "
            "'signalops data import FILE --source fundamental --asset AAPL' (SEC EDGAR company "
            f"facts answer {metric} in replay)"
        )
    answer = ask(adapter, "forward_pe")
    assert isinstance(answer, DataError) and answer.message == (
        f"no recorded fundamentals snapshot for AAPL at or before {when}: Yahoo's forward_pe has "
        "no history to download: record it with 'signalops run STRATEGY --record DIR' (a live "
        "run keeps every snapshot it fetches) and replay DIR ('run --replay DIR', 'backtest "
        "--data DIR')"
    )


def test_replayed_string_infinity_is_a_bad_response_like_live(tmp_path):
    store = SnapshotStore(tmp_path)
    info = {"quoteType": "EQUITY", "currency": "USD", "financialCurrency": "USD"}
    fields = fundamental.info_fields({**info, "trailingPE": float("inf")})
    assert fields["trailingPE"] == "Infinity"
    store.append("fundamental", [("info/AAPL", RECORDED_AT.timestamp(), fields)])
    assert reason(ask(FundamentalAdapter.replay(store), "trailing_pe")) == "BAD_RESPONSE"


# --- bundled data --------------------------------------------------------------------------------


def test_import_bundled_turns_the_four_recorded_files_into_info_snapshots():
    records = list(import_bundled(DATA))
    assert [key for key, _, _ in records] == ["info/AAPL", "info/AMZN", "info/CRM", "info/GOOG"]
    assert {t for _, t, _ in records} == {RECORDED_AT.timestamp()}
    aapl = records[0][2]
    assert aapl["trailingPE"] == pytest.approx(38.91442)
    assert aapl["priceToBook"] == pytest.approx(55.328976)
    assert aapl["forwardPE"] == pytest.approx(29.548735)
    assert aapl["quoteType"] == "EQUITY"
    assert aapl["currency"] == aapl["financialCurrency"] == "USD"
    assert set(aapl) <= set(fundamental.INFO_KEYS)


def test_import_bundled_reads_raw_fmt_module_bodies(tmp_path):
    document = json.loads((DATA / "fundamentals" / "yahoo_quoteSummary_AAPL.json").read_text())
    document["modules"]["summaryDetail"]["trailingPE"] = {"raw": 38.91442, "fmt": "38.91"}
    folder = tmp_path / "fundamentals"
    folder.mkdir()
    (folder / "yahoo_quoteSummary_AAPL.json").write_text(json.dumps(document))
    [(_, _, fields)] = list(import_bundled(tmp_path))
    assert fields["trailingPE"] == 38.91442


def test_bundled_snapshots_replay_the_known_answers(tmp_path):
    store = SnapshotStore(tmp_path)
    store.write("fundamental", import_bundled(DATA))
    adapter = FundamentalAdapter.replay(store)
    answers = adapter.fetch([req("trailing_pe"), req("price_to_book"), req("ncav_per_share"),
                             req("price_to_sales", "SOL")], AS_OF)  # fmt: skip
    assert value(answers[req("trailing_pe")]) == pytest.approx(38.91442)
    assert answers[req("trailing_pe")].as_of == RECORDED_AT
    assert value(answers[req("price_to_book")]) == pytest.approx(55.328976)
    assert reason(answers[req("ncav_per_share")]) == "NO_DATA"  # no statements were bundled
    assert reason(answers[req("price_to_sales", "SOL")]) == "NOT_APPLICABLE"


def test_request_without_an_asset_is_a_bad_request(tmp_path):
    adapter = FundamentalAdapter.replay(SnapshotStore(tmp_path))
    request = Request("fundamental", "trailing_pe", (), None)
    assert reason(adapter.fetch([request], AS_OF)[request]) == "BAD_REQUEST"
