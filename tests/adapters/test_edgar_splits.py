"""EDGAR per-share figures in the units of the split-adjusted close, and where splits come from.

Data: AAPL's real daily prices (examples/data/equities/prices/daily/AAPL.csv, split-adjusted as
Yahoo serves them), its real SEC company facts (tests/fixtures/edgar) and the split table of the
equity data (tests/fixtures/edgar/splits.csv: the 4:1 of 2020-08-31), put into a snapshot store
as ``data import`` puts them. Live split histories come through the REAL yfinance code
(``Ticker.splits``) from a ``requests`` session serving the recorded Yahoo chart of AAPL
(tests/fixtures/yahoo, with the 4:1 split event of 2020-08-31), and SEC's answers through an
``httpx.MockTransport`` serving the recorded company facts.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yahoo_recorded import RecordedChart, hermetic

from signalops.adapters import edgar, registry
from signalops.adapters._facts import EASTERN
from signalops.adapters.bundled import EQUITY_VENUES
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.gather import evaluate
from signalops.adapters.importing import import_file
from signalops.adapters.snapshots import SnapshotStore
from signalops.codes import Code
from signalops.observation import DataError, Observation, Request
from signalops.strategy import load, loads

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
AAPL_PRICES = ROOT / "examples" / "data" / "equities" / "prices" / "daily" / "AAPL.csv"
AAPL_FACTS = FIXTURES / "edgar" / "CIK0000320193.json.gz"
GRAHAM = ROOT / "strategies" / "graham_value_event_filter.yaml"
CANDLES = "candles/yfinance/AAPL/1d"
UA = "SignalOps tests tests@example.com"


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN).astimezone(UTC)


def table_splits() -> dict[str, list[edgar.Split]]:
    with (FIXTURES / "edgar" / "splits.csv").open(encoding="utf-8") as handle:
        return edgar.splits_from_csv_rows(csv.DictReader(handle))


@cache
def _base_folder(root: Path) -> Path:
    folder = root / "aapl"
    import_file(AAPL_PRICES, source="technical", asset="AAPL", out_dir=folder, venues=EQUITY_VENUES)
    facts = root / "CIK0000320193.json"
    facts.write_bytes(gzip.decompress(AAPL_FACTS.read_bytes()))
    import_file(facts, source="fundamental", asset="AAPL", out_dir=folder)
    SnapshotStore(folder).append("fundamental", edgar.split_records(table_splits()))
    return folder


@pytest.fixture(scope="module")
def aapl(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    """AAPL's prices, facts and splits, as ``data import`` writes them."""
    return SnapshotStore(_base_folder(tmp_path_factory.mktemp("aapl")))


def ask(adapter: Any, metric: str, as_of: datetime, symbol: str = "AAPL") -> Any:
    request = Request("fundamental", metric, (), symbol)
    return adapter.fetch([request], as_of)[request]


def value(answer: Observation | DataError) -> float:
    assert isinstance(answer, Observation), answer
    return answer.value


def stored_close(store: SnapshotStore, as_of: datetime) -> float:
    series = store.series("technical", CANDLES)
    assert series is not None
    point = series.last_at_or_before(as_of.timestamp())
    assert point is not None
    return float(point[1][3])


# --- the close and the per-share figures in one unit -------------------------------------------


@pytest.mark.parametrize(
    ("day", "pb"),
    [
        # Before the 4:1 split: 73.41 split-adjusted (293.65 as traded) over 20.3652 per share
        # as filed (90,488M / 4,443.265M shares, 10-K FY2019) = 14.42; 73.41 / (20.3652 / 4) too.
        ("2019-12-31", 14.42),
        # After it: 192.53 over 3.99582 (62,146M / 15,552.752M shares, 10-K FY2023) = 48.18.
        ("2023-12-29", 48.18),
    ],
)
def test_the_stored_close_over_book_value_per_share_is_price_to_book_across_the_split(
    aapl: SnapshotStore, day: str, pb: float
) -> None:
    adapter = FundamentalAdapter.replay(aapl)
    when = close_of(day)
    close = stored_close(aapl, when)
    book = value(ask(adapter, "book_value_per_share", when))
    assert round(value(ask(adapter, "price_to_book", when)), 2) == pb
    assert close / book == pytest.approx(value(ask(adapter, "price_to_book", when)))


def test_the_share_count_is_in_todays_shares_so_that_market_value_is_close_times_shares(
    aapl: SnapshotStore,
) -> None:
    """2019-12-31: 4,443,265,000 shares as filed x 4 = 17,773,060,000 today; x 73.41 = $1.305T,
    AAPL's market value that day (293.65 x 4,443,265,000 as traded)."""
    when = close_of("2019-12-31")
    shares = value(ask(FundamentalAdapter.replay(aapl), "shares_outstanding", when))
    assert shares == 4_443_265_000 * 4
    assert stored_close(aapl, when) * shares == pytest.approx(293.65 * 4_443_265_000, rel=1e-4)


# --- a split after as_of changes the unit of both sides, never a decision ----------------------

BOOK_MULTIPLE = """
strategy:
  name: close_against_book
  assets: [AAPL]
  params: {k: 10}
  defaults: {max_age: 7d, params: {timeframe: 1d}}
  rules:
    - id: cheap_to_book
      source: fundamental
      conditions:
        - when: "technical.close < $k * book_value_per_share"
        - when: "technical.close > 0.01 * ncav_per_share"
  exit:
    rules:
      - id: reached_ncav
        source: technical
        conditions:
          - when: "close >= fundamental.ncav_per_share"
  execution: {position_size: 0.05, action_mode: paper}
"""
DAYS = ["2019-06-28", "2019-12-31", "2020-03-20", "2020-08-28", "2021-06-30", "2023-12-29"]


@cache
def _resplit_folder(root: Path, ratio: float) -> Path:
    """The same data as if AAPL had split ``ratio``:1 on 2025-01-02, after every decision day:
    Yahoo's prices then come divided by the ratio (volumes multiplied), and the split table
    lists it."""
    base = SnapshotStore(_base_folder(root))
    folder = root / f"resplit-{ratio}"
    store = SnapshotStore(folder)
    for source in ("technical", "fundamental"):
        store.write(source, _points(base, source))
    series = base.series("technical", CANDLES)
    assert series is not None
    store.write(
        "technical",
        (
            (CANDLES, t, [*(price / ratio for price in candle[:4]), candle[4] * ratio])
            for t, candle in zip(series.times, series.values, strict=True)
        ),
    )
    later = {"AAPL": [*table_splits()["AAPL"], edgar.Split(date(2025, 1, 2), ratio)]}
    store.append("fundamental", edgar.split_records(later))
    return folder


def _points(store: SnapshotStore, source: str) -> Iterator[tuple[str, float, Any]]:
    for key in store.keys(source):
        series = store.series(source, key)
        assert series is not None
        yield from ((key, t, v) for t, v in zip(series.times, series.values, strict=True))


def _decisions(store: SnapshotStore, text: str | None, day: str) -> tuple[Any, ...]:
    strategy = load(GRAHAM) if text is None else loads(text)
    found = evaluate(strategy, "AAPL", close_of(day), registry.replay_adapters(store))
    return (found.verdict, found.action, found.blocked_by, found.statuses)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ratio=st.sampled_from([2.0, 3.0, 4.0, 20.0, 0.125, 1.054]),
    day=st.sampled_from(DAYS),
    k=st.sampled_from([5, 10, 14, 15, 30, 50]),
)
def test_a_split_after_as_of_never_changes_a_decision_or_a_comparison_with_the_close(
    tmp_path_factory: pytest.TempPathFactory, ratio: float, day: str, k: int
) -> None:
    root = _shared_root(tmp_path_factory)
    before = SnapshotStore(_base_folder(root))
    after = SnapshotStore(_resplit_folder(root, ratio))
    book = BOOK_MULTIPLE.replace("{k: 10}", f"{{k: {k}}}")
    assert _decisions(before, book, day) == _decisions(after, book, day)
    assert _decisions(before, None, day) == _decisions(after, None, day)  # Graham, as shipped
    when = close_of(day)
    for metric in ("book_value_per_share", "ncav_per_share"):
        old, new = (value(ask(FundamentalAdapter.replay(s), metric, when)) for s in (before, after))
        assert new == pytest.approx(old / ratio)  # the unit changed, with the close's
    for metric in ("price_to_book", "trailing_pe"):
        old, new = (value(ask(FundamentalAdapter.replay(s), metric, when)) for s in (before, after))
        assert new == pytest.approx(old)


_ROOTS: dict[int, Path] = {}


def _shared_root(factory: pytest.TempPathFactory) -> Path:
    """One folder per session for the examples of the property (each store is built once)."""
    return _ROOTS.setdefault(id(factory), factory.mktemp("splits"))


# --- live: Yahoo's split history --------------------------------------------------------------


@pytest.fixture
def hermetic_yfinance(monkeypatch: pytest.MonkeyPatch) -> None:
    hermetic(monkeypatch)


def sec() -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/CIK0000320193.json"):
            content = AAPL_FACTS.read_bytes()
            return httpx.Response(200, content=content, headers={"Content-Encoding": "gzip"})
        return httpx.Response(404, text="Not Found")

    return httpx.MockTransport(handle)


def live_adapter(chart: RecordedChart, record: SnapshotStore | None = None) -> FundamentalAdapter:
    session = requests.Session()
    session.mount("https://", chart)
    client = edgar.EdgarClient(UA, transport=sec(), sleep=lambda s: None)
    now = close_of("2020-09-15")
    return FundamentalAdapter.live(
        session, edgar=client, record=record, now=lambda: now, sleep=lambda s: None
    )


def test_live_share_counts_use_yahoos_split_history_and_a_recording_replays_them(
    tmp_path: Path, hermetic_yfinance: None
) -> None:
    """AAPL on 2020-09-15: the last filing (10-Q filed 2020-07-31) counts 4,275,634,000 shares
    before the 4:1 split of 2020-08-31, which only Yahoo's split history tells: 17,102,536,000."""
    chart = RecordedChart()
    store = SnapshotStore(tmp_path)
    when = close_of("2020-09-15")
    metrics = [Request("fundamental", m, (), "AAPL") for m in ("shares_outstanding",
               "book_value_per_share")]  # fmt: skip

    answers = live_adapter(chart, record=store).fetch(metrics, when)
    replayed = FundamentalAdapter.replay(SnapshotStore(tmp_path)).fetch(metrics, when)

    assert value(answers[metrics[0]]) == 4_275_634_000 * 4
    assert [q for q in chart.charts if "events=div%2Csplits" in q]  # Yahoo asked for split events
    assert edgar.stored_splits(store, "AAPL") == [edgar.Split(date(2020, 8, 31), 4.0)]
    listed = store.series("fundamental", "splits/AAPL/listed")
    assert listed is not None and listed.values == [1]
    for request in metrics:
        assert value(replayed[request]) == value(answers[request])


def test_a_failed_split_history_makes_live_per_share_answers_unknown_never_a_guess(
    hermetic_yfinance: None,
) -> None:
    answer = ask(live_adapter(RecordedChart(status=500)), "book_value_per_share",
                 close_of("2020-09-15"))  # fmt: skip
    # yfinance reads the error page as the chart: BAD_RESPONSE (HTTP_ERROR where it raises).
    assert isinstance(answer, DataError)
    assert answer.reason in (Code.BAD_RESPONSE, Code.HTTP_ERROR)
    assert "split history of AAPL" in answer.message


def test_a_symbol_the_split_table_does_not_list_never_split(aapl: SnapshotStore) -> None:
    """A given table is the whole truth: MSFT, not listed, is read with no split (and no
    request for Yahoo's history), as the bundled table is read."""
    adapter = FundamentalAdapter.replay(aapl, splits={"MSFT": []})
    answer = ask(adapter, "shares_outstanding", close_of("2019-12-31"))
    assert value(answer) == 4_443_265_000  # AAPL's 4:1 is not in this table


def test_a_price_based_answer_without_closes_names_the_download_of_the_daily_candles(
    tmp_path: Path,
) -> None:
    facts = tmp_path / "CIK0000320193.json"
    facts.write_bytes(gzip.decompress(AAPL_FACTS.read_bytes()))
    import_file(facts, source="fundamental", asset="AAPL", out_dir=tmp_path / "store")
    # With its splits: without them AAPL's share counts make it NO_SPLIT_HISTORY first.
    splits = FIXTURES / "edgar" / "splits.csv"
    import_file(splits, source="fundamental", asset="AAPL", out_dir=tmp_path / "store")
    adapter = FundamentalAdapter.replay(SnapshotStore(tmp_path / "store"))
    answer = ask(adapter, "price_to_book", close_of("2023-12-29"))
    assert isinstance(answer, DataError) and answer.reason == Code.NO_PRICE
    assert (
        "'signalops data download --source technical --asset AAPL --venue yfinance "
        "--timeframe 1d'" in answer.message
    )
