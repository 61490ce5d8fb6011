"""Book value per common share, and so P/B, from SEC EDGAR leaves out preferred stock.

Regression tests: book_value_per_share and price_to_book divided us-gaap:StockholdersEquity,
which holds the preferred stock, by the common shares. JPMorgan's 10-Q for Q3 2023 (accn
0000019617-23-000524, filed 2023-11-01, balance sheet 2023-09-30) reports StockholdersEquity
317,371,000,000 of which PreferredStockIncludingAdditionalPaidInCapitalNetOfDiscount
27,404,000,000, and 2,891,008,341 common shares on its cover: a book value of 109.78 a share
(317,371 / 2,891.008) where JPMorgan's own is 100.30 (289,967 / 2,891.0, its Q3 2023 earnings
supplement), and a P/B of 1.549 at the 2023-12-29 close of 170.10 where it is 1.696.

The store is ``signalops data import`` of examples/data (the ``replay_dir`` fixture); the
figures are read by hand from the companyfacts files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

from signalops.adapters._facts import EASTERN
from signalops.adapters.fundamental import FundamentalAdapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.codes import Code
from signalops.observation import DataError, Observation, Request

PREFERRED = "us-gaap:PreferredStockIncludingAdditionalPaidInCapitalNetOfDiscount"
EQUITIES = str(ROOT / "examples" / "signalops.equities.yaml")


def close_of(day: str) -> datetime:
    """16:00 New York on ``day``: the moment a daily close is known."""
    return datetime.fromisoformat(f"{day}T16:00").replace(tzinfo=EASTERN).astimezone(UTC)


def ask(store: SnapshotStore, metric: str, symbol: str, day: str) -> Observation | DataError:
    request = Request("fundamental", metric, (), symbol)
    return FundamentalAdapter.replay(store).fetch([request], close_of(day))[request]


def test_jpm_book_value_per_share_is_its_common_equity_over_its_common_shares(replay_dir: Path):
    store = SnapshotStore(replay_dir)
    book = ask(store, "book_value_per_share", "JPM", "2023-12-29")
    assert isinstance(book, Observation), book
    assert book.value == pytest.approx((317_371e6 - 27_404e6) / 2_891_008_341)
    assert round(book.value, 2) == 100.30  # JPMorgan's own book value per share, Q3 2023
    assert book.detail["equity"]["val"] == 317_371e6
    assert book.detail["common_equity"] == 289_967e6
    cited = book.detail["preferred"]
    assert (cited["concept"], cited["val"], cited["end"]) == (PREFERRED, 27_404e6, "2023-09-30")
    assert (cited["accn"], cited["form"], cited["filed"]) == (
        "0000019617-23-000524",
        "10-Q",
        "2023-11-01",
    )

    ratio = ask(store, "price_to_book", "JPM", "2023-12-29")
    assert isinstance(ratio, Observation), ratio
    assert ratio.value == pytest.approx(170.10 / book.value)
    assert round(ratio.value, 3) == 1.696
    assert ratio.detail["preferred"] == cited

    # The 10-K for 2023 (filed 2024-02-16): common stockholders' equity 300,474,000,000, as
    # JPMorgan's annual report states it (327,878 total less 27,404 preferred).
    year = ask(store, "book_value_per_share", "JPM", "2024-03-01")
    assert isinstance(year, Observation), year
    assert year.detail["common_equity"] == 300_474e6
    assert year.detail["preferred"]["filed"] == "2024-02-16"


@pytest.mark.parametrize(
    ("symbol", "equity", "shares", "later_splits"),
    [
        # Apple tags no preferred stock value at all (only PreferredStockSharesAuthorized).
        ("AAPL", 62_146e6, 15_552_752_000, 1),
        # NVIDIA tags PreferredStockValueOutstanding 0 on every balance sheet; per-share figures
        # are in the shares of the price file, after the 10:1 split of 2024-06-10.
        ("NVDA", 33_265e6, 2_470_000_000, 10),
    ],
)
def test_a_company_without_preferred_stock_keeps_its_book_value(
    replay_dir: Path, symbol: str, equity: float, shares: int, later_splits: int
):
    book = ask(SnapshotStore(replay_dir), "book_value_per_share", symbol, "2023-12-29")
    assert isinstance(book, Observation), book
    assert book.value == equity / shares / later_splits
    assert book.detail["equity"]["val"] == equity
    assert "preferred" not in book.detail and "common_equity" not in book.detail


def test_tesla_whose_preferred_stock_value_is_0_keeps_its_book_value(replay_dir: Path):
    """10-Q Q3 2021 (filed 2021-10-25): StockholdersEquity 27,053,000,000 and PreferredStockValue
    0 for 2021-09-30; 1,004,264,852 shares on the cover (2021-10-21), before the 3:1 split of
    2022-08-25, after which per-share figures are a third."""
    book = ask(SnapshotStore(replay_dir), "book_value_per_share", "TSLA", "2021-12-29")
    assert isinstance(book, Observation), book
    assert book.value == pytest.approx(27_053e6 / 1_004_264_852 / 3)
    assert "preferred" not in book.detail


def test_preferred_stock_filed_after_the_decision_is_never_read(replay_dir: Path):
    """JPMorgan's 10-K for 2009 (filed 2010-02-24) tags no preferred stock for 2009-12-31; that
    date's 8,152,000,000 is first filed as a comparative in the 10-Q of 2010-08-06. The last
    balance sheet before it that reported any, 2009-06-30 (PreferredStockValue 8,152,000,000,
    10-Q filed 2009-08-10), had some: its common equity is unknown on 2010-03-01, never read
    from the later filing, nor guessed from the total."""
    store = SnapshotStore(replay_dir)
    unknown = ask(store, "book_value_per_share", "JPM", "2010-03-01")
    assert isinstance(unknown, DataError), unknown
    assert unknown.reason == Code.NOT_REPORTED
    assert unknown.message == (
        "JPM reported preferred stock of 8,152,000,000 USD (us-gaap:PreferredStockValue) for "
        "its balance sheet of 2009-06-30 but none for that of 2009-12-31: its common equity "
        "then is unknown (its stockholders' equity of 165,365,000,000 includes any preferred)"
    )
    # Known from the evening of its filed day: the 10-Q of 2010-08-06 and its 2010-06-30.
    assert isinstance(ask(store, "book_value_per_share", "JPM", "2010-08-06"), DataError)
    later = ask(store, "book_value_per_share", "JPM", "2010-08-09")
    assert isinstance(later, Observation), later
    assert later.detail["preferred"]["end"] == "2010-06-30"
    assert later.detail["preferred"]["filed"] == "2010-08-06"
    # 2009-06-30's own preferred stock, filed with its equity, as PreferredStockValue.
    summer = ask(store, "book_value_per_share", "JPM", "2009-09-01")
    assert isinstance(summer, Observation), summer
    assert summer.detail["preferred"]["concept"] == "us-gaap:PreferredStockValue"
    assert summer.detail["common_equity"] == summer.detail["equity"]["val"] - 8_152e6


BANK_VALUE = """\
strategy:
  name: "Bank_Book"
  assets: ["JPM"]
  rules:
    - id: book
      source: fundamental
      conditions:
        - when: "price_to_book < 2"
"""


def test_why_names_the_preferred_stock_a_price_to_book_left_out(in_tmp: Path, replay_dir: Path):
    strategy = in_tmp / "bank.yaml"
    strategy.write_text(BANK_VALUE, encoding="utf-8")
    made = run(
        "backtest", str(strategy), "--config", EQUITIES, "--data", str(replay_dir),
        "--asset", "JPM", "--from", "2023-12-29", "--to", "2023-12-29", "--no-baseline",
        "--report", str(in_tmp / "report"),
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    audit = str(in_tmp / "report" / "backtest.db")

    told = run("why", "JPM", "--at", "2023-12-29", "--audit", audit, "--json")

    assert told.exit_code == 0, told.stderr
    (leaf,) = json.loads(told.stdout)["leaves"]
    (reading,) = leaf["readings"]
    # Decided at 00:00 UTC on 2023-12-29: the close of the 28th, 170.30.
    assert reading["value"] == pytest.approx(170.30 / ((317_371e6 - 27_404e6) / 2_891_008_341))
    concepts = {fact["concept"]: fact["val"] for fact in reading["facts"]}
    assert concepts == {
        "dei:EntityCommonStockSharesOutstanding": 2_891_008_341.0,
        "us-gaap:StockholdersEquity": 317_371e6,
        PREFERRED: 27_404e6,
    }
    # The text names the filing: the equity, its preferred stock and the shares are one 10-Q's.
    lines = run("why", "JPM", "--at", "2023-12-29", "--audit", audit).stdout.splitlines()
    start = lines.index("    └── PASS    price_to_book < 2   fundamental")
    assert lines[start + 3] == "              10-Q filed 2023-11-01, period ended 2023-09-30"
