"""Equities in the technical source: daily candles from yfinance, live and replayed.

Data: one real recorded Yahoo v8 chart response, AAPL daily bars 2020-08-31 .. 2020-11-06
(``tests/fixtures/yahoo/chart_AAPL_1d_2020-08-31_2020-11-06.json``, provenance inside). It spans
a weekend followed by a holiday (Labor Day, Monday 2020-09-07) and starts on the day of the 4:1
split, whose prices Yahoo already reports split-adjusted.

Replay tests write those bars into a snapshot store as ``data import`` does (``t`` = 16:00 New
York on the bar's date). Live tests run the REAL yfinance code: ``yfinance.Ticker(symbol,
session=...)`` gets a ``requests.Session`` whose transport answers the chart URL with the recorded
body (and the cookie/crumb requests yfinance makes first), as tests/adapters/test_fundamental.py
does for the fundamentals endpoints.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import requests
import talib
import yfinance.cache
from requests.adapters import BaseAdapter as RequestsTransport
from yahoo_recorded import response as yahoo_response
from yfinance.data import YfData

from signalops.adapters import calendar
from signalops.adapters.equities import EquityReplayFeed
from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import TechnicalAdapter
from signalops.catalogue.builtin import TECHNICAL
from signalops.codes import Code
from signalops.config import loads_config
from signalops.observation import DataError, Observation, Request

NEW_YORK = ZoneInfo("America/New_York")
CHART = (
    Path(__file__).parents[1] / "fixtures" / "yahoo" / "chart_AAPL_1d_2020-08-31_2020-11-06.json"
)
KEY = "candles/yfinance/AAPL/1d"
VENUES = loads_config(
    "venues: {stocks: {exchange: yfinance, quote: USD}}\nassets: {AAPL: {venue: stocks}}\n"
).venues


def chart() -> dict[str, Any]:
    body: dict[str, Any] = json.loads(CHART.read_text())["body"]
    return body


def recorded_bars() -> list[tuple[date, list[float]]]:
    """The fixture's bars: (date in New York, [open, high, low, close, volume])."""
    result = chart()["chart"]["result"][0]
    quote = result["indicators"]["quote"][0]
    bars = []
    for i, stamp in enumerate(result["timestamp"]):
        day = datetime.fromtimestamp(stamp, UTC).astimezone(NEW_YORK).date()
        bars.append((day, [float(quote[c][i]) for c in ("open", "high", "low", "close", "volume")]))
    return bars


def store_with(tmp_path: Path, skip: frozenset[date] = frozenset()) -> SnapshotStore:
    store = SnapshotStore(tmp_path)
    store.write(
        "technical",
        ((KEY, calendar.session_close(d), v) for d, v in recorded_bars() if d not in skip),
    )
    return store


def new_york(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def request(metric: str, **given: Any) -> Request:
    spec = TECHNICAL.get(metric)
    assert spec is not None
    params = {
        p.name: p.coerce(given[p.name]) if p.name in given else p.default for p in spec.params
    }
    return Request("technical", spec.name, tuple(params.items()), "AAPL")


def observe(adapter: TechnicalAdapter, wanted: Request, at: datetime) -> Observation | DataError:
    return adapter.fetch([wanted], at)[wanted]


def close_of(day: date) -> float:
    return dict(recorded_bars())[day][3]


# --- the market calendar ------------------------------------------------------------------------


def test_nyse_holidays_of_2020_are_the_nine_the_exchange_published():
    assert sorted(calendar.holidays(2020)) == [
        date(2020, 1, 1), date(2020, 1, 20), date(2020, 2, 17), date(2020, 4, 10),
        date(2020, 5, 25), date(2020, 7, 3), date(2020, 9, 7), date(2020, 11, 26),
        date(2020, 12, 25),
    ]  # fmt: skip


def test_observance_rules_juneteenth_from_2022_and_a_saturday_new_year_is_not_moved_back():
    assert date(2022, 6, 20) in calendar.holidays(2022)  # Sunday the 19th, observed Monday
    assert not any(d.month == 6 for d in calendar.holidays(2021))
    assert calendar.is_session(date(2021, 12, 31))  # New Year's Day 2022 was a Saturday
    assert not calendar.is_session(date(2024, 3, 29))  # Good Friday
    assert not calendar.is_session(date(2025, 1, 9))  # national day of mourning, President Carter


def test_a_daily_bar_is_known_at_16_00_new_york_in_summer_and_in_winter():
    assert (
        calendar.session_close(date(2020, 9, 8)) == datetime(2020, 9, 8, 20, tzinfo=UTC).timestamp()
    )
    assert (
        calendar.session_close(date(2020, 11, 2))
        == datetime(2020, 11, 2, 21, tzinfo=UTC).timestamp()
    )


# --- replay -------------------------------------------------------------------------------------


def test_the_days_close_is_not_visible_at_15_59_new_york_and_is_at_16_00(tmp_path):
    adapter = TechnicalAdapter.replay(store_with(tmp_path), venues=VENUES)
    close = request("close")

    before = observe(adapter, close, new_york(2020, 9, 8, 15, 59))
    at_close = observe(adapter, close, new_york(2020, 9, 8, 16, 0))

    assert isinstance(before, Observation) and isinstance(at_close, Observation)
    assert (before.value, before.as_of) == (close_of(date(2020, 9, 4)), new_york(2020, 9, 4, 16))
    assert (at_close.value, at_close.as_of) == (
        close_of(date(2020, 9, 8)),
        new_york(2020, 9, 8, 16),
    )


def test_over_a_weekend_and_a_holiday_fridays_close_stays_latest_with_its_own_time_and_no_gap(
    tmp_path,
):
    adapter = TechnicalAdapter.replay(store_with(tmp_path), venues=VENUES)

    on_labor_day = observe(adapter, request("close"), new_york(2020, 9, 7, 12, 0))
    after = observe(adapter, request("close"), new_york(2020, 9, 8, 16, 0))

    assert isinstance(on_labor_day, Observation) and isinstance(after, Observation)
    assert on_labor_day.as_of == new_york(2020, 9, 4, 16)  # three days old: max_age sees it
    assert on_labor_day.value == close_of(date(2020, 9, 4))
    assert "gaps" not in on_labor_day.detail and "gaps" not in after.detail


def test_a_missing_trading_day_is_reported_as_a_gap_at_its_close(tmp_path):
    store = store_with(tmp_path, skip=frozenset({date(2020, 10, 14)}))
    adapter = TechnicalAdapter.replay(store, venues=VENUES)

    answer = observe(adapter, request("close"), new_york(2020, 10, 20, 17, 0))

    assert isinstance(answer, Observation)
    assert answer.detail["gaps"] == [{"first_missing_close": "2020-10-14T20:00:00Z", "missing": 1}]


def test_rsi_of_an_equity_is_ta_libs_rsi_over_the_split_adjusted_closes_as_stored(tmp_path):
    adapter = TechnicalAdapter.replay(store_with(tmp_path), venues=VENUES)

    answer = observe(adapter, request("rsi", n=14), new_york(2020, 11, 6, 16, 0))

    closes = np.array([bar[3] for _, bar in recorded_bars()])
    assert isinstance(answer, Observation)
    assert answer.value == pytest.approx(float(talib.RSI(closes, timeperiod=14)[-1]))
    assert answer.detail == {"exchange": "yfinance", "candles": len(closes)}
    # 2020-08-31 is the split's ex-date: its close is already in post-split shares.
    assert closes[0] == pytest.approx(129.04, abs=0.01)


def test_an_intraday_timeframe_of_an_equity_is_not_applicable_and_names_the_daily_one(tmp_path):
    adapter = TechnicalAdapter.replay(store_with(tmp_path), venues=VENUES)

    answer = observe(adapter, request("rsi", timeframe="1h"), new_york(2020, 11, 6, 16, 0))

    assert isinstance(answer, DataError)
    assert answer.reason == Code.NOT_APPLICABLE
    assert "daily candles only" in answer.message and "1d" in answer.message


def test_a_configured_yahoo_symbol_names_the_series_read(tmp_path):
    store = SnapshotStore(tmp_path)
    bar = [1.0, 2.0, 0.5, 1.5, 10.0]
    store.write(
        "technical", [("candles/yfinance/BRK-B/1d", calendar.session_close(date(2020, 9, 8)), bar)]
    )
    feed = EquityReplayFeed(store, symbols={"BRK.B": "BRK-B"})

    candles = feed.candles("BRK.B", 86400, new_york(2020, 9, 9).timestamp(), 5)

    assert list(candles.close) == [1.5]


# --- live through yfinance ----------------------------------------------------------------------


class RecordedChart(RequestsTransport):
    """A requests transport serving the recorded chart for AAPL; the session boundary."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[dict[str, list[str]]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        parts = urlsplit(str(request.url))
        if parts.hostname == "fc.yahoo.com":
            return self._response(request, 404, "")
        if parts.path.endswith("/v1/test/getcrumb"):
            return self._response(request, 200, "recorded-test-crumb")
        if parts.hostname and "consent" in parts.hostname:
            return self._response(request, 200, "<html><body></body></html>")
        if parts.path.endswith("/v8/finance/chart/AAPL"):
            self.charts.append(parse_qs(parts.query))
            return self._response(request, 200, json.dumps(chart()))
        return self._response(request, 404, "")

    _response = staticmethod(yahoo_response)

    def close(self) -> None:
        pass


@pytest.fixture(autouse=True)
def hermetic_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    # yfinance keeps cookies and time zones in on-disk caches and responses in a process-wide
    # one; none may leak between tests or touch the user's cache directory.
    monkeypatch.setattr(
        yfinance.cache._CookieCacheManager, "_Cookie_cache", yfinance.cache._CookieCacheDummy()
    )
    monkeypatch.setattr(yfinance.cache._TzCacheManager, "_tz_cache", yfinance.cache._TzCacheDummy())
    YfData.cache_get.cache_clear()


def live(transport: RecordedChart, record: SnapshotStore | None = None) -> TechnicalAdapter:
    session = requests.Session()
    session.mount("https://", transport)
    return TechnicalAdapter.live(venues=VENUES, record=record, yahoo_session=session)


def test_live_daily_candles_come_through_yfinance_history_and_respect_the_16_00_close():
    transport = RecordedChart()
    adapter = live(transport)

    before = observe(adapter, request("close"), new_york(2020, 11, 6, 15, 59))
    at_close = observe(live(transport), request("close"), new_york(2020, 11, 6, 16, 0))

    assert isinstance(before, Observation) and isinstance(at_close, Observation)
    assert (before.value, before.as_of) == (close_of(date(2020, 11, 5)), new_york(2020, 11, 5, 16))
    assert (at_close.value, at_close.as_of) == (
        close_of(date(2020, 11, 6)),
        new_york(2020, 11, 6, 16),
    )
    history = [q for q in transport.charts if "period1" in q]
    assert history and history[-1]["interval"] == ["1d"]
    assert int(history[-1]["period2"][0]) > new_york(2020, 11, 6, 16).timestamp()


def test_a_live_run_recorded_replays_to_the_same_indicator_values(tmp_path):
    store = SnapshotStore(tmp_path)
    rsi = request("rsi", n=14)
    at = new_york(2020, 11, 6, 16, 30)

    recorded = observe(live(RecordedChart(), record=store), rsi, at)
    replayed = observe(TechnicalAdapter.replay(SnapshotStore(tmp_path), venues=VENUES), rsi, at)

    assert isinstance(recorded, Observation) and isinstance(replayed, Observation)
    assert (replayed.value, replayed.as_of) == (recorded.value, recorded.as_of)
    series = store.series("technical", KEY)
    assert series is not None and len(series.times) == len(recorded_bars())
