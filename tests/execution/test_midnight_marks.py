"""The day's start (MAX_DAILY_LOSS) values what was held at 00:00 UTC at the market's price
then, not at its last fill before midnight (``PaperBroker.midnight_marks``), and says so
(``PortfolioView.day_start_marks``); ``signalops.execution.marks`` asks the pipeline's sources.

Regression tests: positions open at midnight were marked at their last fill price, weeks old
maybe, so the day's "change" was the move since that fill: a daily loss limit that denied
every BUY for months after a fall, and did not trip after a rise.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils
from conftest import STRATEGIES

from signalops.backtest.answers import ReplayAnswers
from signalops.backtest.fast import ColumnMarks
from signalops.execution.marks import MidnightMarks
from signalops.execution.paper import MarkSource, PaperBroker
from signalops.orders import (
    DayStartMark,
    Mode,
    OrderIntent,
    PortfolioView,
    Side,
    client_order_id,
    decision_id,
)
from signalops.workspace import build_pipeline, load_strategies, open_workspace

D = Decimal
WEEKS_AGO = datetime(2024, 10, 16, 0, tzinfo=UTC)
MIDNIGHT = datetime(2024, 11, 6, 0, tzinfo=UTC)
NOON = MIDNIGHT + timedelta(hours=12)


def intent(side: Side, quantity: str, price: str, at: datetime, *, asset: str = "BTC",
           strategy: str = "Dip") -> OrderIntent:  # fmt: skip
    decision = decision_id(f"hash-{strategy}", asset, at, "paper")
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy=strategy,
        asset=asset,
        side=side,
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(quantity) * D(price),
        as_of=at,
        mode=Mode.PAPER,
    )


class Closes:
    """A market: each (asset, midnight)'s close, and every question asked of it."""

    def __init__(self, closes: dict[str, tuple[Decimal, datetime] | None]) -> None:
        self.closes = closes
        self.asked: list[tuple[str, datetime]] = []

    def __call__(self, asset: str, midnight: datetime) -> tuple[Decimal, datetime] | None:
        self.asked.append((asset, midnight))
        return self.closes.get(asset)


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(tmp_path / "signalops.db")


def broker_with(db: sqlite_utils.Database, marks: MarkSource | None) -> PaperBroker:
    """No slippage, 10 bps fee; 2 BTC bought weeks ago at 100 (cash 99,799.80)."""
    broker = PaperBroker(db, fee_bps=10, slippage_bps=0, midnight_marks=marks)
    broker.execute(intent(Side.BUY, "2", "100", WEEKS_AGO), as_of=WEEKS_AGO)
    return broker


def test_a_position_held_over_midnight_starts_the_day_at_the_midnight_close(
    db: sqlite_utils.Database,
):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    view = broker_with(db, closes).portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_equity == D("99799.8") + 2 * D("80")
    assert view.equity - view.day_start_equity == D("-4")  # the day's move only: 80 -> 78
    assert view.day_start_marks == (DayStartMark("BTC", D("2"), D("80"), MIDNIGHT, "market"),)
    assert view.to_dict()["day_start_marks"] == {
        "BTC": {"price": "80", "at": "2024-11-06T00:00:00Z", "source": "market"}
    }


def test_without_marks_the_day_start_is_at_the_last_fill_and_the_view_reads_as_before(
    db: sqlite_utils.Database,
):
    view = broker_with(db, None).portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_equity == D("99999.8")  # 2 BTC at 100, weeks old
    assert view.day_start_marks == ()
    assert list(view.to_dict()) == [
        "cash", "equity", "exposure", "realised_pnl", "day_start_equity", "positions",
    ]  # fmt: skip


def test_no_price_at_midnight_falls_back_to_the_last_fill_and_says_so(
    db: sqlite_utils.Database,
):
    view = broker_with(db, Closes({})).portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_equity == D("99999.8")
    assert view.day_start_marks == (DayStartMark("BTC", D("2"), D("100"), WEEKS_AGO, "last fill"),)


@pytest.mark.parametrize(
    "found",
    [
        (D("NaN"), MIDNIGHT),
        (D("0"), MIDNIGHT),
        (D("-5"), MIDNIGHT),
        (D("80"), MIDNIGHT + timedelta(minutes=1)),  # after midnight: not its price
        (D("80"), WEEKS_AGO - timedelta(days=1)),  # older than the fill, which is newer news
    ],
)
def test_a_mark_that_is_no_price_at_midnight_is_not_used(
    db: sqlite_utils.Database, found: tuple[Decimal, datetime]
):
    view = broker_with(db, Closes({"BTC": found})).portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_equity == D("99999.8")
    assert [mark.source for mark in view.day_start_marks] == ["last fill"]


def test_an_old_close_is_still_the_price_at_midnight_when_nothing_newer_is_known(
    db: sqlite_utils.Database,
):
    # A stock's Friday close is its price at Monday's 00:00: no age bound.
    friday = MIDNIGHT - timedelta(days=3, hours=3)
    view = broker_with(db, Closes({"BTC": (D("90"), friday)})).portfolio({"BTC": D("91")}, NOON)

    assert view.day_start_equity == D("99799.8") + 2 * D("90")
    assert view.day_start_marks[0].at == friday


def test_a_holding_the_view_marks_at_its_last_fill_starts_the_day_there_too(
    db: sqlite_utils.Database,
):
    # ETH has no price in this view (the gate prices the traded asset): its equity term is at
    # its last fill, so its day-start term is too, and its unknown move is in neither.
    closes = Closes({"BTC": (D("80"), MIDNIGHT), "ETH": (D("40"), MIDNIGHT)})
    broker = broker_with(db, closes)
    broker.execute(intent(Side.BUY, "1", "50", WEEKS_AGO, asset="ETH"), as_of=WEEKS_AGO)

    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert [(m.asset, m.price, m.source) for m in view.day_start_marks] == [
        ("BTC", D("80"), "market"),
        ("ETH", D("50"), "last fill"),
    ]
    assert view.equity - view.day_start_equity == D("-4")


def test_a_position_sold_today_starts_the_day_at_the_close_whatever_the_view_prices(
    db: sqlite_utils.Database,
):
    broker = broker_with(db, Closes({"BTC": (D("80"), MIDNIGHT)}))
    sold = MIDNIGHT + timedelta(hours=3)
    broker.execute(intent(Side.SELL, "2", "79", sold), as_of=sold)

    views = [broker.portfolio(prices, NOON) for prices in ({}, {"ETH": D("40")})]

    for view in views:
        assert not view.positions
        assert view.day_start_equity == D("99799.8") + 2 * D("80")
        assert view.equity - view.day_start_equity == D("-2.158")  # sold 2 at 79, fee 0.158


def test_each_asset_and_midnight_is_asked_once(db: sqlite_utils.Database):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = broker_with(db, closes)
    for minutes in range(5):
        broker.portfolio({"BTC": D(78 + minutes)}, NOON + timedelta(minutes=minutes))
    broker.portfolio({"BTC": D("77")}, NOON + timedelta(days=1))

    assert closes.asked == [("BTC", MIDNIGHT), ("BTC", MIDNIGHT + timedelta(days=1))]


def test_nothing_held_at_midnight_asks_nothing(db: sqlite_utils.Database):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = PaperBroker(db, fee_bps=10, slippage_bps=0, midnight_marks=closes)
    bought = MIDNIGHT + timedelta(hours=2)
    broker.execute(intent(Side.BUY, "1", "79", bought), as_of=bought)

    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_equity == D("100000") and view.day_start_marks == ()
    assert closes.asked == []


def test_an_allocated_book_starts_its_day_at_the_midnight_close_too(db: sqlite_utils.Database):
    broker = broker_with(db, Closes({"BTC": (D("80"), MIDNIGHT)}))
    broker.allocate({"Dip": D("1000")})

    book = broker.book("Dip", {"BTC": D("78")}, NOON)

    # 1000 of capital, -200.2 spent weeks ago, 2 BTC at 80 at midnight
    assert book.day_start_equity == D("1000") - D("200.2") + 2 * D("80")
    assert [mark.source for mark in book.day_start_marks] == ["market"]


def test_a_shared_book_has_the_accounts_day_start(db: sqlite_utils.Database):
    broker = broker_with(db, Closes({"BTC": (D("80"), MIDNIGHT)}))

    book = broker.book("Dip", {"BTC": D("78")}, NOON)
    account = broker.portfolio({"BTC": D("78")}, NOON)

    assert (book.day_start_equity, book.day_start_marks) == (
        account.day_start_equity,
        account.day_start_marks,
    )


def test_a_view_made_by_hand_has_no_marks_and_reads_as_before():
    view = PortfolioView(D("10"), {}, D("0"), D("10"))

    assert view.day_start_marks == () and "day_start_marks" not in view.to_dict()


# --- the pipeline's marks ---------------------------------------------------------------------


# A decision at 00:00 UTC gives the broker the day's mark from its own answers
# (``PaperBroker.note_midnight_price``): the gate's reference-price answers at that very time are
# what ``midnight_marks`` would ask the same sources for, so they are not asked again.


def test_a_price_noted_at_midnight_is_the_days_mark_and_the_source_is_not_asked(
    db: sqlite_utils.Database,
):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = broker_with(db, closes)

    broker.note_midnight_price("BTC", MIDNIGHT, lambda: (D("80"), MIDNIGHT))
    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_marks == (DayStartMark("BTC", D("2"), D("80"), MIDNIGHT, "market"),)
    assert closes.asked == []


def test_a_price_noted_after_midnight_is_not_taken(db: sqlite_utils.Database):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = broker_with(db, closes)
    asked = []

    broker.note_midnight_price("BTC", NOON, lambda: asked.append(1) or (D("81"), NOON))
    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert asked == []  # not even worked out
    assert view.day_start_marks[0].price == D("80")
    assert closes.asked == [("BTC", MIDNIGHT)]


def test_no_price_at_midnight_leaves_the_source_to_be_asked(db: sqlite_utils.Database):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = broker_with(db, closes)

    broker.note_midnight_price("BTC", MIDNIGHT, lambda: None)
    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_marks[0].price == D("80")
    assert closes.asked == [("BTC", MIDNIGHT)]


def test_a_mark_known_already_is_kept(db: sqlite_utils.Database):
    closes = Closes({"BTC": (D("80"), MIDNIGHT)})
    broker = broker_with(db, closes)
    broker.portfolio({"BTC": D("78")}, NOON)

    broker.note_midnight_price("BTC", MIDNIGHT, lambda: (D("99"), MIDNIGHT))
    view = broker.portfolio({"BTC": D("78")}, NOON + timedelta(minutes=1))

    assert view.day_start_marks[0].price == D("80")


def test_a_noted_price_that_is_no_price_is_no_mark(db: sqlite_utils.Database):
    broker = broker_with(db, Closes({"BTC": (D("80"), MIDNIGHT)}))

    broker.note_midnight_price("BTC", MIDNIGHT, lambda: (D("0"), MIDNIGHT))
    view = broker.portfolio({"BTC": D("78")}, NOON)

    assert view.day_start_marks == (DayStartMark("BTC", D("2"), D("100"), WEEKS_AGO, "last fill"),)


# --- the day's start kept while the ledger, the day and the source are the same --------------
#
# A gate asks for the views at every decision of the day with new prices: the day's start and
# its marks are worked out once per book's figures, midnight and positions valued at their last
# fill (``PaperBroker._day_start_marked``), and the cuts of the ledger once per time asked
# (``_cuts``). Each test holds the broker that kept them to a fresh one reading the same ledger.


def _fresh(db: sqlite_utils.Database, marks: MarkSource | None) -> PaperBroker:
    return PaperBroker(db, fee_bps=10, slippage_bps=0, midnight_marks=marks)


def test_a_new_source_of_marks_values_the_day_start_at_its_prices(db: sqlite_utils.Database):
    broker = broker_with(db, Closes({"BTC": (D("80"), MIDNIGHT)}))
    assert broker.portfolio({"BTC": D("78")}, NOON).day_start_equity == D("99799.8") + 2 * D("80")

    other = Closes({"BTC": (D("90"), MIDNIGHT)})
    broker.midnight_marks = other
    view = broker.portfolio({"BTC": D("78")}, NOON + timedelta(minutes=1))

    assert view.day_start_equity == D("99799.8") + 2 * D("90")
    assert view == _fresh(db, other).portfolio({"BTC": D("78")}, NOON + timedelta(minutes=1))


def test_a_holding_priced_in_one_view_and_not_the_next_is_marked_as_each_view_values_it(
    db: sqlite_utils.Database,
):
    closes = Closes({"BTC": (D("80"), MIDNIGHT), "ETH": (D("40"), MIDNIGHT)})
    broker = broker_with(db, closes)
    broker.execute(intent(Side.BUY, "1", "50", WEEKS_AGO, asset="ETH"), as_of=WEEKS_AGO)

    priced = broker.portfolio({"BTC": D("78"), "ETH": D("41")}, NOON)
    unpriced = broker.portfolio({"BTC": D("78")}, NOON + timedelta(minutes=1))
    again = broker.portfolio({"BTC": D("78"), "ETH": D("41")}, NOON + timedelta(minutes=2))

    assert [m.source for m in priced.day_start_marks] == ["market", "market"]
    assert [m.source for m in unpriced.day_start_marks] == ["market", "last fill"]
    assert again.day_start_marks == priced.day_start_marks
    assert unpriced == _fresh(db, closes).portfolio({"BTC": D("78")}, NOON + timedelta(minutes=1))


def test_a_fill_dated_before_midnight_written_after_the_days_view_counts_in_its_start(
    db: sqlite_utils.Database,
):
    # An approval answered late, a second process: a fill placed yesterday, written today.
    closes = Closes({"BTC": (D("80"), MIDNIGHT), "ETH": (D("40"), MIDNIGHT)})
    broker = broker_with(db, closes)
    broker.portfolio({"BTC": D("78")}, NOON)
    yesterday = MIDNIGHT - timedelta(hours=2)
    broker.execute(intent(Side.BUY, "1", "50", yesterday, asset="ETH"), as_of=yesterday)

    view = broker.portfolio({"BTC": D("78"), "ETH": D("41")}, NOON + timedelta(minutes=1))

    assert [m.asset for m in view.day_start_marks] == ["BTC", "ETH"]
    fresh = _fresh(db, closes).portfolio({"BTC": D("78"), "ETH": D("41")}, NOON)
    assert (view.day_start_equity, view.day_start_marks) == (
        fresh.day_start_equity,
        fresh.day_start_marks,
    )


def test_a_fill_at_the_time_just_asked_starts_the_next_days_views_with_it(
    db: sqlite_utils.Database,
):
    # The ledger's cuts at a time asked again are kept: a fill placed at that very time must
    # move the day's cut, or the next day's view would take today's start for its own.
    broker = broker_with(db, None)
    broker.portfolio({"BTC": D("78")}, NOON)
    broker.execute(intent(Side.BUY, "1", "78", NOON), as_of=NOON)
    broker.portfolio({"BTC": D("78")}, NOON)

    tomorrow = NOON + timedelta(days=1)
    view = broker.portfolio({"BTC": D("77")}, tomorrow)

    assert view.day_start_equity == D("99799.8") - D("78.078") + 3 * D("78")  # all at last fill
    assert view == _fresh(db, None).portfolio({"BTC": D("77")}, tomorrow)


@pytest.fixture
def pipeline_marks(tmp_path: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    workspace = open_workspace(audit=tmp_path / "signalops.db", create=True)
    strategies = load_strategies([STRATEGIES / "technical_baseline.yaml"])
    pipeline = build_pipeline(workspace, strategies, replay=replay_dir)
    yield pipeline.broker.midnight_marks
    workspace.close()


def test_a_pipeline_gives_its_broker_the_close_at_midnight_from_its_own_sources(
    pipeline_marks: MidnightMarks,
):
    assert isinstance(pipeline_marks, MidnightMarks)
    midnight = datetime(2022, 11, 8, tzinfo=UTC)
    # BTC's 1h and 1d candles that closed at 00:00 (Binance, bundled data)
    assert pipeline_marks("BTC", midnight) == (D("20591.13"), midnight)


def test_an_asset_no_source_prices_has_no_mark(pipeline_marks: MidnightMarks):
    assert pipeline_marks("NOSUCHCOIN", datetime(2022, 11, 8, tzinfo=UTC)) is None


def test_a_fast_backtests_column_marks_are_the_sources_own_at_every_midnight(
    pipeline_marks: MidnightMarks,
):
    # ``fast.ColumnMarks`` reads the replay's columns where the midnight is a decision time
    # and each price request (BTC's 1h and 1d closes) a clean reading there; any other
    # midnight is asked of the source it stands in for.
    pipeline = pipeline_marks.pipeline
    sources = pipeline.price_requests_of("BTC")
    # Hourly from 2020-10-03, before the first hourly candle (2020-10-07 19:00: no 1h reading,
    # the 1d close alone prices BTC), and from 2021-04-10 through Binance's outages of
    # 2021-04-25 and 2021-08-13; days 20 and 21 of each month are left out, so their
    # midnights are not decision times.
    early, later = datetime(2020, 10, 3, tzinfo=UTC), datetime(2021, 4, 10, tzinfo=UTC)
    hours = [early + timedelta(hours=h) for h in range(10 * 24)]
    hours += [later + timedelta(hours=h) for h in range(144 * 24)]
    moments = [moment for moment in hours if moment.day not in (20, 21)]
    answers = ReplayAnswers(list(sources), pipeline.adapters, moments)
    asked: list[datetime] = []

    def fallback(asset: str, midnight: datetime) -> tuple[Decimal, datetime] | None:
        asked.append(midnight)
        return pipeline_marks(asset, midnight)

    marks = ColumnMarks(pipeline, answers, fallback)
    midnights = [early + timedelta(days=d) for d in range(10)]
    midnights += [later + timedelta(days=d) for d in range(145)]
    for midnight in midnights:
        assert marks("BTC", midnight) == pipeline_marks("BTC", midnight), midnight
    assert marks("NOSUCHCOIN", later) is None
    not_decided = {m for m in midnights if m.day in (20, 21) or m > moments[-1]}
    unread = {m for m in midnights if m < datetime(2020, 10, 7, 19, tzinfo=UTC)}
    assert len(unread) == 5 and not_decided
    assert sorted(asked) == sorted([*not_decided, *unread, later])  # later: NOSUCHCOIN's
