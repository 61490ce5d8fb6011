"""EDGAR point-in-time fundamentals (signalops.adapters.edgar) over REAL company facts.

The live path runs the real ``EdgarClient`` -> shared ``HttpClient`` -> ``httpx`` with an
``httpx.MockTransport`` serving the recorded companyfacts documents (tests/fixtures/edgar,
provenance in its README) gzip-encoded as SEC serves them. Prices are real daily closes put into
a snapshot store as the technical source's ``candles/yfinance/<SYMBOL>/1d`` series.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.adapters import _facts, edgar, fundamental
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.canonical import content_hash, json_safe
from signalops.codes import Code
from signalops.observation import DataError, Observation, Request

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edgar"
YAHOO_AAPL = (  # Yahoo's quoteSummary of AAPL recorded 2025-02-24 09:35 UTC (its README)
    Path(__file__).resolve().parents[2] / "examples" / "data" / "fundamentals"
) / "yahoo_quoteSummary_AAPL.json"
AAPL, MSFT, JPM, WM = "0000320193", "0000789019", "0000019617", "0000823768"
MRVL = "0001835632"  # Marvell Technology, Inc.: its first filing is a 10-Q of 2021-06-09
UA = "SignalOps tests tests@example.com"
CLOSES = {  # real daily closes (split-adjusted), prices/daily/{AAPL,MSFT}.csv
    ("AAPL", "2020-09-15"): 115.54,
    ("AAPL", "2023-11-03"): 176.65,
    ("AAPL", "2023-11-06"): 179.23,
    ("AAPL", "2023-12-29"): 192.53,
    ("AAPL", "2025-02-21"): 245.55,
    ("MSFT", "2023-07-28"): 338.37,
}


def raw(cik: str) -> bytes:
    return (FIXTURES / f"CIK{cik}.json.gz").read_bytes()


_DOCS: dict[str, dict[str, Any]] = {}


def document(cik: str) -> dict[str, Any]:
    if cik not in _DOCS:
        _DOCS[cik] = json.loads(gzip.decompress(raw(cik)))
    return _DOCS[cik]


def splits() -> dict[str, list[edgar.Split]]:
    with (FIXTURES / "splits.csv").open(encoding="utf-8") as handle:
        return edgar.splits_from_csv_rows(csv.DictReader(handle))


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=_facts.EASTERN).astimezone(UTC)


def sec(documents: dict[str, bytes], seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        name = request.url.path.rsplit("/", 1)[-1]
        cik = name.removeprefix("CIK").removesuffix(".json")
        if cik in documents:
            return httpx.Response(200, content=documents[cik], headers={"Content-Encoding": "gzip"})
        return httpx.Response(404, text="Not Found")

    return httpx.MockTransport(handle)


def price_store(path: Path) -> SnapshotStore:
    store = SnapshotStore(path)
    store.append(
        "technical",
        (
            (f"candles/yfinance/{symbol}/1d", close_of(day).timestamp(), [c, c, c, c, 0.0])
            for (symbol, day), c in CLOSES.items()
        ),
    )
    return store


def live(tmp_path: Path, documents: dict[str, bytes] | None = None, **kw: Any) -> Any:
    seen: list[httpx.Request] = []
    transport = sec(documents or {c: raw(c) for c in (AAPL, MSFT, JPM)}, seen)
    client = edgar.EdgarClient(UA, transport=transport, sleep=lambda s: None)
    adapter = FundamentalAdapter.live(
        edgar=client,
        prices=edgar.StoreCloses(price_store(tmp_path / "prices")),
        splits=splits(),
        point_in_time=True,
        **kw,
    )
    return adapter, seen


def ask(adapter: Any, metric: str, symbol: str, as_of: datetime) -> Observation | DataError:
    request = Request("fundamental", metric, (), symbol)
    return adapter.fetch([request], as_of)[request]


def answers_hash(answers: dict[Request, Observation | DataError]) -> str:
    """What a decision hashes of its inputs: each request with its full answer."""
    return content_hash(
        [[list(r), json_safe(dataclasses.asdict(a))] for r, a in sorted(answers.items(), key=str)]
    )


def value(answer: Observation | DataError) -> float:
    assert isinstance(answer, Observation), answer
    return answer.value


# --- known answers ------------------------------------------------------------------------------


def test_aapl_book_value_and_ncav_per_share_at_two_dates_match_the_filings(tmp_path):
    """By hand from the 10-K filings (values in the companyfacts file, README section 6), in the
    shares of the split-adjusted close (every AAPL split of the table, the 4:1 of 2020-08-31 the
    last, is behind the 2023 date and ahead of the 2019 one):

    2019-12-31, 10-K FY2019 accn 0000320193-19-000119 filed 2019-10-31, balance sheet 2019-09-28:
      StockholdersEquity 90,488,000,000; AssetsCurrent 162,819,000,000; Liabilities
      248,028,000,000; dei shares 4,443,265,000 (2019-10-18, before the 4:1 split of 2020-08-31).
      As filed: book/share = 90,488 / 4,443.265 = 20.3652; NCAV/share = (162,819 - 248,028) /
      4,443.265 = -19.1771. In today's shares (x4 = 17,773,060,000): book/share = 20.3652 / 4
      = 5.0913; NCAV/share = -19.1771 / 4 = -4.79428.
    2023-12-29, 10-K FY2023 accn 0000320193-23-000106 filed 2023-11-03, balance sheet 2023-09-30:
      StockholdersEquity 62,146,000,000; AssetsCurrent 143,566,000,000; Liabilities
      290,437,000,000; dei shares 15,552,752,000 (2023-10-20), after the split: as filed.
      book/share = 62,146 / 15,552.752 = 3.99582; NCAV/share = (143,566 - 290,437) / 15,552.752
      = -9.44341.
    """
    adapter, _ = live(tmp_path)
    for day, later, bvps, ncav in (
        ("2019-12-31", 4, 90_488e6 / 4_443_265_000, (162_819e6 - 248_028e6) / 4_443_265_000),
        ("2023-12-29", 1, 62_146e6 / 15_552_752_000, (143_566e6 - 290_437e6) / 15_552_752_000),
    ):
        when = close_of(day)
        book = ask(adapter, "book_value_per_share", "AAPL", when)
        assert value(book) == pytest.approx(bvps / later)
        assert value(ask(adapter, "ncav_per_share", "AAPL", when)) == pytest.approx(ncav / later)
        assert isinstance(book, Observation) and book.detail["later_split_factor"] == later
    book = ask(adapter, "book_value_per_share", "AAPL", close_of("2019-12-31"))
    assert round(value(book), 4) == 5.0913
    assert round(value(ask(adapter, "ncav_per_share", "AAPL", close_of("2023-12-29"))), 2) == -9.44


def test_the_as_filed_figure_is_the_answer_times_the_later_splits_and_the_count_cited(tmp_path):
    """AAPL at 2019-12-31 (10-K FY2019): 4,443,265,000 shares as filed (dei, 2019-10-18) and a
    book value of 20.3652 per share as filed; the 4:1 split of 2020-08-31 makes them
    17,773,060,000 shares and 5.0913 per share in the units of the split-adjusted close."""
    adapter, _ = live(tmp_path)
    when = close_of("2019-12-31")
    shares = ask(adapter, "shares_outstanding", "AAPL", when)
    book = ask(adapter, "book_value_per_share", "AAPL", when)
    assert isinstance(shares, Observation) and isinstance(book, Observation)
    assert shares.value == 4_443_265_000 * 4
    assert shares.detail["shares"]["val"] == 4_443_265_000  # the filing's figure, cited
    assert (shares.detail["split_factor"], shares.detail["later_split_factor"]) == (1.0, 4.0)
    as_filed = book.value * book.detail["later_split_factor"] * book.detail["split_factor"]
    assert round(as_filed, 4) == 20.3652  # 90,488,000,000 / 4,443,265,000, the 10-K's figures


def test_msft_book_value_and_ncav_per_share_at_two_dates_match_the_filings(tmp_path):
    """By hand from the filings:

    2019-12-31: 10-Q Q1 FY2020 accn 0001564590-19-037549 filed 2019-10-23, balance sheet
      2019-09-30: StockholdersEquity 106,061,000,000; AssetsCurrent 165,896,000,000;
      Liabilities 172,894,000,000; dei shares
      7,628,805,618 (2019-10-18). book/share = 106,061 / 7,628.805618 = 13.9027;
      NCAV/share = (165,896 - 172,894) / 7,628.805618 = -0.91731.
    2023-07-28 (the day after 10-K FY2023 accn 0000950170-23-035122 filed 2023-07-27), balance
      sheet 2023-06-30: StockholdersEquity 206,223,000,000; AssetsCurrent 184,257,000,000;
      Liabilities 205,753,000,000; dei shares 7,429,763,722 (2023-07-24).
      book/share = 206,223 / 7,429.763722 = 27.7563; NCAV/share = (184,257 - 205,753) /
      7,429.763722 = -2.89323.
    """
    adapter, _ = live(tmp_path)
    for day, bvps, ncav in (
        ("2019-12-31", 106_061e6 / 7_628_805_618, (165_896e6 - 172_894e6) / 7_628_805_618),
        ("2023-07-28", 206_223e6 / 7_429_763_722, (184_257e6 - 205_753e6) / 7_429_763_722),
    ):
        when = close_of(day)
        assert value(ask(adapter, "book_value_per_share", "MSFT", when)) == pytest.approx(bvps)
        assert value(ask(adapter, "ncav_per_share", "MSFT", when)) == pytest.approx(ncav)


def test_a_fact_is_unknown_on_its_filed_day_and_known_from_that_evening(tmp_path):
    """MSFT 10-K FY2023 was filed 2023-07-27: at 16:00 that day the 10-Q equity still stands."""
    adapter, _ = live(tmp_path)
    during = ask(adapter, "book_value_per_share", "MSFT", close_of("2023-07-27"))
    after = ask(adapter, "book_value_per_share", "MSFT", close_of("2023-07-28"))
    assert isinstance(during, Observation) and isinstance(after, Observation)
    assert during.detail["equity"]["filed"] < "2023-07-27"
    assert after.detail["equity"]["accn"] == "0000950170-23-035122"


def test_restatement_replaces_a_value_only_from_its_own_filed_date():
    """MSFT StockholdersEquity at 2016-06-30: 71,997M in the FY2016 10-K (filed 2016-07-28) and
    its comparatives through the FY2017 10-K (filed 2017-08-02); restated to 83,090M (ASC 606) in
    the FY2018 10-K, accn 0001564590-18-019062, filed 2018-08-03."""
    facts = edgar.parse_facts(_facts.raw_records(document(MSFT)), "MSFT")

    def equity_2016(day: str) -> float:
        book = _facts.FactBook(facts, close_of(day).timestamp())
        found = book.value_at("us-gaap", "StockholdersEquity", "USD", date(2016, 6, 30))
        assert found is not None
        return found.val

    assert equity_2016("2018-08-02") == 71_997_000_000
    assert equity_2016("2018-08-03") == 71_997_000_000  # filed that day: known only at its end
    assert equity_2016("2018-08-06") == 83_090_000_000


def test_price_to_book_and_pe_use_the_price_in_todays_shares_across_a_split(tmp_path):
    """AAPL on 2020-09-15, after the 4:1 split (ex 2020-08-31) and before the next 10-K: the last
    filing (10-Q filed 2020-07-31) counts 4,275,634,000 pre-split shares = 17,102,536,000 today.
    The close file is split-adjusted and no split follows within it until today's basis, so
    price = 115.54. Equity 72,282,000,000 (2020-06-27): book/share = 72,282 / 17,102.536 =
    4.22639, P/B = 115.54 / 4.22639 = 27.338."""
    adapter, _ = live(tmp_path)
    when = close_of("2020-09-15")
    shares = ask(adapter, "shares_outstanding", "AAPL", when)
    assert value(shares) == 4_275_634_000 * 4
    pb = ask(adapter, "price_to_book", "AAPL", when)
    assert value(pb) == pytest.approx(115.54 / (72_282e6 / 17_102_536_000))
    pe = ask(adapter, "trailing_pe", "AAPL", when)
    assert isinstance(pe, Observation)
    # Four quarters, each in post-split shares: every fact was filed before the split, / 4.
    assert {f["split_factor"] for q in pe.detail["ttm_quarters"] for f in q["facts"]} == {4.0}
    assert pe.value == pytest.approx(115.54 / pe.detail["ttm_eps"])


def test_aapl_worked_example_of_the_data_readme(tmp_path):
    """README: at 2023-12-29, P/B 48.2 (192.53 / 3.996), P/E 31.4 (192.53 / 6.13)."""
    adapter, _ = live(tmp_path)
    when = close_of("2023-12-29")
    assert round(value(ask(adapter, "price_to_book", "AAPL", when)), 1) == 48.2
    pe = ask(adapter, "trailing_pe", "AAPL", when)
    assert round(value(pe), 1) == 31.4
    assert isinstance(pe, Observation) and round(pe.detail["ttm_eps"], 2) == 6.13


def test_market_cap_and_price_to_sales_of_aapl_match_the_10k_by_hand(tmp_path):
    """At 2023-12-29, from the 10-K FY2023 (accn 0000320193-23-000106, filed 2023-11-03):
    dei shares 15,552,752,000 (2023-10-20) x close 192.53 = 2,994,371,342,560; revenue of the
    fiscal year 2022-09-25..2023-09-30 (RevenueFromContractWithCustomerExcludingAssessedTax)
    383,285,000,000, the twelve months to the latest period filed: P/S = 7.8124."""
    adapter, _ = live(tmp_path)
    when = close_of("2023-12-29")
    assert value(ask(adapter, "market_cap", "AAPL", when)) == 192.53 * 15_552_752_000
    ps = ask(adapter, "price_to_sales", "AAPL", when)
    assert value(ps) == pytest.approx(192.53 * 15_552_752_000 / 383_285_000_000)
    assert isinstance(ps, Observation) and round(ps.value, 4) == 7.8124
    (year,) = ps.detail["ttm_periods"]
    assert (year["start"], year["end"], year["revenue"]) == ("2022-09-25", "2023-09-30", 383_285e6)
    assert year["facts"][0]["accn"] == "0000320193-23-000106"


def test_market_cap_and_price_to_sales_count_shares_as_traded_across_a_split(tmp_path):
    """AAPL on 2020-09-15, after the 4:1 split: 4,275,634,000 shares filed before it are
    17,102,536,000 today, at the split-adjusted close 115.54: 1,976,027,009,440. Revenue of the
    four quarters to 2020-06-27 as filed: 64,040 + 91,819 + 58,313 + 59,685 = 273,857 million
    (Apple's own TTM at its fiscal Q3 2020); P/S = 7.2155."""
    adapter, _ = live(tmp_path)
    when = close_of("2020-09-15")
    assert value(ask(adapter, "market_cap", "AAPL", when)) == 115.54 * 17_102_536_000
    ps = ask(adapter, "price_to_sales", "AAPL", when)
    assert isinstance(ps, Observation) and ps.detail["ttm_revenue"] == 273_857e6
    assert [q["revenue"] for q in ps.detail["ttm_periods"]] == [64_040e6, 91_819e6, 58_313e6,
                                                                59_685e6]  # fmt: skip
    assert round(ps.value, 4) == 7.2155


def test_market_cap_and_price_to_sales_agree_with_yahoos_own_of_the_same_moment(tmp_path):
    """Yahoo's live figures when its quoteSummary of AAPL was recorded (2025-02-24 09:35 UTC:
    marketCap 3,688,676,720,640, priceToSalesTrailing12Months 9.320489) against EDGAR's at that
    moment: the 2025-02-21 close 245.55 x the 10-Q's 15,022,073,000 shares (2025-01-17) =
    3,688,670,025,150, over the four quarters to 2024-12-28 (395,760 million) = 9.320472."""
    modules = json.loads(YAHOO_AAPL.read_text(encoding="utf-8"))["modules"]
    yahoo = fundamental.info_fields(fundamental.flatten_modules(modules))
    adapter, _ = live(tmp_path)
    when = datetime(2025, 2, 24, 9, 35, tzinfo=UTC)
    cap = value(ask(adapter, "market_cap", "AAPL", when))
    assert cap == 245.55 * 15_022_073_000
    assert cap == pytest.approx(yahoo["marketCap"], rel=1e-5)
    ps = ask(adapter, "price_to_sales", "AAPL", when)
    assert isinstance(ps, Observation) and ps.detail["ttm_revenue"] == 395_760e6
    assert ps.value == pytest.approx(yahoo["priceToSalesTrailing12Months"], rel=1e-5)


def test_a_10k_changes_price_to_sales_only_from_the_evening_of_its_filed_day(tmp_path):
    """AAPL's 10-K FY2023 was filed 2023-11-03. At that day's close the 10-Qs still stand: four
    quarters to 2023-07-01, Q4 FY2022 derived (394,328 - 123,945 - 97,278 - 82,959 = 90,146
    million) + 117,154 + 94,836 + 81,797 = 383,933 million, with the 10-Q's 15,634,232,000
    shares; on the next session, the fiscal year's 383,285 million and the 10-K's shares."""
    adapter, _ = live(tmp_path)
    filed_day = ask(adapter, "price_to_sales", "AAPL", close_of("2023-11-03"))
    assert isinstance(filed_day, Observation)
    assert filed_day.detail["ttm_revenue"] == 383_933e6
    assert filed_day.detail["ttm_periods"][0]["revenue"] == 90_146e6
    assert filed_day.detail["ttm_periods"][0]["derived"] is True
    assert max(f["filed"] for q in filed_day.detail["ttm_periods"] for f in q["facts"]) == (
        "2023-08-04"
    )
    assert filed_day.value == pytest.approx(176.65 * 15_634_232_000 / 383_933e6)
    next_session = ask(adapter, "price_to_sales", "AAPL", close_of("2023-11-06"))
    assert value(next_session) == pytest.approx(179.23 * 15_552_752_000 / 383_285e6)


def test_debt_tagged_only_as_debt_and_lease_obligations_gives_debt_to_equity(tmp_path):
    """Waste Management tags no LongTermDebt(Noncurrent): its debt is
    DebtAndCapitalLeaseObligations (= LongTermDebtAndCapitalLeaseObligations + DebtCurrent).
    10-K FY2023 (accn 0001558370-24-001049, filed 2024-02-13), 2023-12-31: 16,229 / 6,903
    million = 235.10%; the day it was filed, the Q3 10-Q's 15,430 / 6,950 = 222.01%."""
    adapter, _ = live(tmp_path, {WM: raw(WM)})
    before = ask(adapter, "debt_to_equity", "WM", close_of("2024-02-13"))
    after = ask(adapter, "debt_to_equity", "WM", close_of("2024-02-14"))
    assert value(before) == pytest.approx(100 * 15_430 / 6_950)
    assert value(after) == pytest.approx(100 * 16_229 / 6_903)
    assert isinstance(after, Observation) and after.detail["debt"] == [
        {"concept": "us-gaap:DebtAndCapitalLeaseObligations", "val": 16_229e6,
         "end": "2023-12-31", "accn": "0001558370-24-001049", "form": "10-K",
         "filed": "2024-02-13"}
    ]  # fmt: skip


def test_long_term_debt_stays_preferred_to_debt_and_lease_obligations(tmp_path):
    """A filer that tags both keeps the long-term debt figure: AAPL's 2023-09-30 balance sheet
    with a lease-inclusive total added beside its LongTermDebt reads as before."""
    doc = document(AAPL)
    gaap = doc["facts"]["us-gaap"]
    filed = [dict(f) for f in gaap["LongTermDebt"]["units"]["USD"] if f["end"] == "2023-09-30"]
    assert filed  # the 10-K's and later 10-Qs' figure of that date
    added = {"units": {"USD": [{**f, "val": f["val"] * 2} for f in filed]}}
    leases = {**gaap, "DebtAndCapitalLeaseObligations": added}
    both = {**doc, "facts": {**doc["facts"], "us-gaap": leases}}
    original, _ = live(tmp_path / "a")
    altered, _ = live(tmp_path / "b", {AAPL: gzip.compress(json.dumps(both).encode())})
    when = close_of("2023-12-29")
    kept = ask(altered, "debt_to_equity", "AAPL", when)
    assert kept == ask(original, "debt_to_equity", "AAPL", when)
    assert isinstance(kept, Observation)
    assert [d["concept"] for d in kept.detail["debt"]] == ["us-gaap:LongTermDebt"]


def test_ncav_per_share_leaves_out_preferred_stock_as_graham_counts_it(tmp_path):
    """Graham's net current asset value is what the common shareholders keep once every
    liability and the preferred stock are paid out of the current assets; NCAV subtracted only
    the liabilities. AAPL's 2023-09-30 balance sheet with 5,000,000,000 of PreferredStockValue
    added (filed with its 10-K): (143,566 - 290,437 - 5,000) / 15,552.752 a share. A preferred
    amount filed after the decision is not read; a later balance sheet that drops the tag
    leaves the figure unknown."""
    doc = document(AAPL)
    gaap = doc["facts"]["us-gaap"]
    (filed,) = [
        f for f in gaap["AssetsCurrent"]["units"]["USD"]
        if f["end"] == "2023-09-30" and f["accn"] == "0000320193-23-000106"  # 10-K FY2023
    ]  # fmt: skip
    preferred = {"units": {"USD": [{**filed, "val": 5_000e6}]}}
    altered = {
        **doc,
        "facts": {**doc["facts"], "us-gaap": {**gaap, "PreferredStockValue": preferred}},
    }
    adapter, _ = live(tmp_path, {AAPL: gzip.compress(json.dumps(altered).encode())})
    ncav = ask(adapter, "ncav_per_share", "AAPL", close_of("2023-12-29"))
    assert value(ncav) == pytest.approx((143_566e6 - 290_437e6 - 5_000e6) / 15_552_752_000)
    assert isinstance(ncav, Observation)
    assert (ncav.detail["preferred"]["concept"], ncav.detail["preferred"]["val"]) == (
        "us-gaap:PreferredStockValue",
        5_000e6,
    )
    before = ask(adapter, "ncav_per_share", "AAPL", close_of(filed["filed"]))  # filed that day
    assert isinstance(before, Observation) and "preferred" not in before.detail
    # The next 10-Q's balance sheet (2023-12-30) reports no preferred: NOT_REPORTED, not a guess.
    later = ask(adapter, "ncav_per_share", "AAPL", close_of("2024-03-01"))
    assert isinstance(later, DataError) and later.reason is Code.NOT_REPORTED, later
    assert later.message.endswith(
        "for its balance sheet of 2023-09-30 but none for that of 2023-12-30: its net current "
        "asset value for common shareholders then is unknown"
    )
    # A year of balance sheets without the line (2024-09-28's, filed 2024-11-01): redeemed,
    # not left out; the figure is known again, with nothing subtracted.
    redeemed = ask(adapter, "ncav_per_share", "AAPL", close_of("2024-12-02"))
    assert isinstance(redeemed, Observation) and "preferred" not in redeemed.detail, redeemed
    assert redeemed.detail["current_assets"]["end"] == "2024-09-28"


def test_negative_equity_makes_price_to_book_and_debt_to_equity_not_applicable(tmp_path):
    """A company whose liabilities exceed its assets had a negative P/B and debt to equity,
    which pass a value screen's ``price_to_book < 3`` and ``debt_to_equity < 150``: the most
    indebted company looked the cheapest and soundest. AAPL's 2023-09-30 10-K equity made
    -5,000,000,000: both are NOT_APPLICABLE; its book value per share is still the (negative)
    fact."""
    doc = document(AAPL)
    gaap = doc["facts"]["us-gaap"]
    equity = [
        {**f, "val": -5_000e6} if f["end"] == "2023-09-30" else f
        for f in gaap["StockholdersEquity"]["units"]["USD"]
    ]
    altered = {**gaap, "StockholdersEquity": {"units": {"USD": equity}}}
    adapter, _ = live(
        tmp_path,
        {
            AAPL: gzip.compress(
                json.dumps({**doc, "facts": {**doc["facts"], "us-gaap": altered}}).encode()
            )
        },
    )
    when = close_of("2023-12-29")
    for metric, said in (
        ("price_to_book", "AAPL's common equity on 2023-09-30 is -5,000,000,000 USD: a "
         "price-to-book of a book that is not positive is not a valuation"),
        ("debt_to_equity", "AAPL's stockholders' equity on 2023-09-30 is -5,000,000,000 USD: "
         "debt to equity has no meaning when the equity is not positive (its liabilities "
         "exceed its assets)"),
    ):  # fmt: skip
        answer = ask(adapter, metric, "AAPL", when)
        assert isinstance(answer, DataError) and answer.reason is Code.NOT_APPLICABLE, answer
        assert answer.message == said
    assert value(ask(adapter, "book_value_per_share", "AAPL", when)) == pytest.approx(
        -5_000e6 / 15_552_752_000
    )


def test_bank_without_current_assets_is_not_reported_never_a_guess(tmp_path):
    adapter, _ = live(tmp_path)
    when = close_of("2023-12-29")
    for metric in ("ncav_per_share", "current_ratio"):
        answer = ask(adapter, metric, "JPM", when)
        assert isinstance(answer, DataError) and answer.reason == Code.NOT_REPORTED
        assert "AssetsCurrent" in answer.message
    # JPM 10-Q filed 2023-11-01: equity 317,371,000,000 (README known answer).
    bvps = ask(adapter, "book_value_per_share", "JPM", when)
    assert isinstance(bvps, Observation) and bvps.detail["equity"]["val"] == 317_371_000_000


def test_statements_in_another_currency_are_a_currency_mismatch(tmp_path):
    doc = document(AAPL)
    in_euros = {
        taxonomy: {
            concept: {
                **body,
                "units": {u.replace("USD", "EUR"): v for u, v in body["units"].items()},
            }
            for concept, body in concepts.items()
        }
        for taxonomy, concepts in doc["facts"].items()
    }
    foreign = {**doc, "facts": in_euros}
    adapter, _ = live(tmp_path, {AAPL: gzip.compress(json.dumps(foreign).encode())})
    when = close_of("2023-12-29")
    mixed = ("book_value_per_share", "ncav_per_share", "price_to_book", "trailing_pe",
             "price_to_sales")  # fmt: skip
    for metric in mixed:
        answer = ask(adapter, metric, "AAPL", when)
        assert isinstance(answer, DataError) and answer.reason == Code.CURRENCY_MISMATCH, metric
    assert value(ask(adapter, "current_ratio", "AAPL", when)) == pytest.approx(143_566 / 145_308)


# --- the client ---------------------------------------------------------------------------------


def test_client_sends_sec_user_agent_and_spaces_requests_a_tenth_of_a_second(tmp_path):
    seen: list[httpx.Request] = []
    waits: list[float] = []
    client = edgar.EdgarClient(
        UA, transport=sec({AAPL: raw(AAPL)}, seen), sleep=waits.append, clock=lambda: 0.0
    )
    client.companyfacts(client.cik("aapl"))
    client.companyfacts(AAPL)
    assert [str(r.url) for r in seen] == [edgar.COMPANYFACTS_URL.format(cik=AAPL)] * 2
    assert all(r.headers["User-Agent"] == UA for r in seen)
    assert waits == [pytest.approx(0.1)]


def test_without_a_user_agent_nothing_is_sent_and_the_answer_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv(edgar.USER_AGENT_ENV, raising=False)
    seen: list[httpx.Request] = []
    client = edgar.EdgarClient(transport=sec({}, seen))
    adapter = FundamentalAdapter.live(edgar=client)
    answer = ask(adapter, "book_value_per_share", "AAPL", close_of("2023-12-29"))
    assert isinstance(answer, DataError) and answer.reason == Code.NO_USER_AGENT
    assert seen == []


def test_user_agent_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(edgar.USER_AGENT_ENV, UA)
    assert edgar.EdgarClient().user_agent == UA


def test_unknown_ticker_is_looked_up_in_secs_live_file_then_unknown_symbol():
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"0": {"cik_str": 1, "ticker": "NEWCO", "title": "N"}})

    client = edgar.EdgarClient(UA, transport=httpx.MockTransport(handle))
    assert client.cik("NEWCO") == "0000000001"
    with pytest.raises(Exception) as raised:
        client.cik("NOSUCHCO")
    assert getattr(raised.value, "reason", None) == Code.UNKNOWN_SYMBOL
    assert [str(r.url) for r in seen] == [edgar.TICKERS_URL]


# --- replay -------------------------------------------------------------------------------------


METRICS = sorted(edgar.EDGAR_METRICS)


def test_recorded_facts_replay_to_the_live_values(tmp_path):
    store = price_store(tmp_path / "store")
    adapter, _ = live(tmp_path, record=store)
    store.append("fundamental", edgar.split_records(splits()))
    when = close_of("2023-12-29")
    requests = [Request("fundamental", m, (), s) for m in METRICS for s in ("AAPL", "JPM")]
    live_answers = adapter.fetch(requests, when)
    replayed = FundamentalAdapter.replay(SnapshotStore(tmp_path / "store")).fetch(requests, when)
    assert answers_hash(live_answers) == answers_hash(replayed)
    assert sum(isinstance(a, Observation) for a in replayed.values()) >= 9


def test_replay_of_a_symbol_without_edgar_facts_says_how_to_get_them(tmp_path):
    adapter = FundamentalAdapter.replay(SnapshotStore(tmp_path))
    answer = ask(adapter, "book_value_per_share", "AAPL", close_of("2023-12-29"))
    assert isinstance(answer, DataError) and answer.reason == Code.NO_DATA
    assert "signalops data download --source fundamental --asset AAPL" in answer.message


def _later_filings_changed(doc: dict[str, Any], cut: date, seed: int, drop: bool) -> dict[str, Any]:
    rng = random.Random(seed)
    facts: dict[str, Any] = {}
    for taxonomy, concepts in doc["facts"].items():
        facts[taxonomy] = {}
        for concept, body in concepts.items():
            units = {}
            for unit, rows in body["units"].items():
                rows = [r for r in rows if not (drop and date.fromisoformat(r["filed"]) > cut)]
                rows = rows[:]
                rng.shuffle(rows)
                units[unit] = rows
            facts[taxonomy][concept] = {**body, "units": units}
    return {**doc, "facts": facts}


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    day=st.sampled_from(["2020-09-15", "2023-07-28", "2023-12-29"]),
    seed=st.integers(0, 2**16),
    drop=st.booleans(),
)
def test_shuffling_or_dropping_later_filings_never_changes_an_answer(tmp_path, day, seed, drop):
    when = close_of(day)
    changed = {
        cik: gzip.compress(
            json.dumps(_later_filings_changed(document(cik), when.date(), seed, drop)).encode()
        )
        for cik in (AAPL, MSFT)
    }
    requests = [Request("fundamental", m, (), s) for m in METRICS for s in ("AAPL", "MSFT")]
    original, _ = live(tmp_path / f"a{seed}")
    altered, _ = live(tmp_path / f"b{seed}", changed)
    assert answers_hash(original.fetch(requests, when)) == answers_hash(
        altered.fetch(requests, when)
    )


def test_a_company_with_no_revenue_filed_says_when_and_what_an_older_recording_lacks(tmp_path):
    """The message said 'in any filing known at as_of', the word itself, and nothing of company
    facts recorded before SignalOps read revenue (they hold none: re-importing fixes that)."""
    doc = document(AAPL)
    revenue = set(edgar.REVENUE_CONCEPTS)
    gaap = {k: v for k, v in doc["facts"]["us-gaap"].items() if k not in revenue}
    stripped = {**doc, "facts": {**doc["facts"], "us-gaap": gaap}}
    adapter, _ = live(tmp_path, {AAPL: gzip.compress(json.dumps(stripped).encode())})

    answer = ask(adapter, "price_to_sales", "AAPL", close_of("2023-12-29"))

    assert isinstance(answer, DataError) and answer.reason == Code.NOT_REPORTED
    assert answer.message == (
        "AAPL has reported no revenue (us-gaap:Revenues, RevenuesNetOfInterestExpense, "
        "RevenueFromContractWithCustomerExcludingAssessedTax, SalesRevenueNet) in any filing "
        "known at 2023-12-29T21:00:00Z (company facts recorded before SignalOps read "
        "revenue hold none: import or download them again)"
    )


@pytest.mark.parametrize("metric", ["price_to_sales", "shares_outstanding", "debt_to_equity"])
def test_before_the_first_filing_nothing_is_known_and_no_reimport_is_suggested(tmp_path, metric):
    """A backtest of MRVL from 2000 was UNKNOWN at 5,268 of 6,063 decisions as NOT_REPORTED,
    with the hint to import its facts again (they were imported a minute earlier): the CIK it
    files under made its first filing on 2021-06-09. Live and replayed alike."""
    store = SnapshotStore(tmp_path / "store")
    adapter, _ = live(tmp_path, {MRVL: raw(MRVL)}, record=store)
    ask(adapter, "shares_outstanding", "MRVL", close_of("2024-06-03"))  # records the facts
    replayed = FundamentalAdapter.replay(SnapshotStore(tmp_path / "store"), splits={})

    for source in (adapter, replayed):
        answer = ask(source, metric, "MRVL", close_of("2000-07-03"))

        assert isinstance(answer, DataError) and answer.reason == Code.NO_DATA
        assert answer.message == (
            "no filing of MRVL is known at 2000-07-03T20:00:00Z: the first in its company facts "
            "was filed on 2021-06-09"
        )


def test_the_evening_of_the_first_filing_its_figures_are_known(tmp_path):
    adapter, _ = live(tmp_path, {MRVL: raw(MRVL)})

    on_the_day = ask(adapter, "shares_outstanding", "MRVL", close_of("2021-06-09"))
    next_day = ask(adapter, "shares_outstanding", "MRVL", close_of("2021-06-10"))

    assert isinstance(on_the_day, DataError) and on_the_day.reason == Code.NO_DATA
    assert "the first in its company facts was filed on 2021-06-09" in on_the_day.message
    assert value(next_day) > 800e6
