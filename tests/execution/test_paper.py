"""The paper broker: fills, average-cost accounting, refusals, idempotency, the SQLite ledger.

Every expected number is written out by hand in Decimal, so a float creeping into the
arithmetic shows up as an inequality rather than a rounding difference hidden by approx.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils
from conftest import ROOT, cycle_between_checks
from conftest import invoke as run

from signalops.audit.store import AuditLog
from signalops.errors import SignalOpsError
from signalops.execution.base import Executor
from signalops.execution.paper import PaperBroker
from signalops.orders import (
    ExecutionStatus,
    FillCosts,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)
from signalops.risk import RiskLimits, size_order

T0 = datetime(2024, 11, 6, 14, 0, tzinfo=UTC)
D = Decimal


def intent(
    side: Side,
    quantity: str,
    price: str,
    *,
    asset: str = "BTC",
    at: datetime = T0,
    tag: str = "",
) -> OrderIntent:
    """An intent with a decision id unique to (asset, at, tag), as the pipeline derives it."""
    decision = decision_id(f"strategy-hash{tag}", asset, at, "paper")
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy="Multi_Source_Momentum",
        asset=asset,
        side=side,
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(quantity) * D(price),
        as_of=at,
        mode=Mode.PAPER,
    )


def fills_in(db: sqlite_utils.Database) -> int:
    return db.conn.execute("SELECT count(*) FROM paper_fills").fetchone()[0]


@pytest.fixture
def db(tmp_path: Path) -> sqlite_utils.Database:
    return sqlite_utils.Database(tmp_path / "signalops.db")


@pytest.fixture
def broker(db: sqlite_utils.Database) -> PaperBroker:
    """No slippage, 10 bps fee: the accounting tests read more easily at round prices."""
    return PaperBroker(db, fee_bps=10, slippage_bps=0)


# --- fills: slippage and fee ------------------------------------------------------------------


def test_paper_broker_is_an_executor_in_paper_mode(broker: PaperBroker) -> None:
    assert isinstance(broker, Executor)
    assert broker.mode is Mode.PAPER


def test_buy_fills_above_the_price_by_the_slippage_and_pays_the_fee_in_decimal(
    db: sqlite_utils.Database,
) -> None:
    broker = PaperBroker(db, fee_bps=10, slippage_bps=5)

    result = broker.execute(intent(Side.BUY, "0.5", "20000"), as_of=T0)

    assert result.status is ExecutionStatus.FILLED
    fill = result.fill
    assert fill is not None
    assert fill.price == D("20010.0000")  # 20000 x 1.0005
    assert fill.notional == D("10005.00000")  # 0.5 x 20010
    assert fill.fee == D("10.005")  # 10005 x 10 / 10000
    assert fill.venue == "paper" and fill.venue_order_id == "paper-1"
    assert fill.at == T0  # the default price is the intent's reference price, at as_of
    assert result.details["cash_after"] == D("89984.995")  # 100000 - 10005 - 10.005
    view = broker.portfolio({"BTC": D("20000")}, T0)
    assert view.cash == D("89984.995")


def test_sell_fills_below_the_price_by_the_slippage(db: sqlite_utils.Database) -> None:
    broker = PaperBroker(db, fee_bps=10, slippage_bps=5)
    broker.execute(intent(Side.BUY, "1", "20000"), as_of=T0)

    later = T0 + timedelta(hours=1)
    result = broker.execute(intent(Side.SELL, "1", "21000", at=later), as_of=later)

    assert result.fill is not None
    assert result.fill.price == D("20989.5000")  # 21000 x 0.9995
    assert result.fill.fee == D("20.98950000")  # 20989.5 x 10 / 10000


def test_price_source_sets_the_fill_price_and_time_like_a_next_bar_open(
    db: sqlite_utils.Database,
) -> None:
    next_open = T0 + timedelta(hours=1)
    asked: list[tuple[str, datetime]] = []

    def next_bar_open(asset: str, as_of: datetime) -> tuple[Decimal, datetime]:
        asked.append((asset, as_of))
        return D("20100"), next_open

    broker = PaperBroker(db, fee_bps=0, slippage_bps=0, price=next_bar_open)

    result = broker.execute(intent(Side.BUY, "1", "20000"), as_of=T0)

    assert asked == [("BTC", T0)]
    assert result.fill is not None
    assert (result.fill.price, result.fill.at) == (D("20100"), next_open)
    assert result.details["base_price"] == D("20100")


def test_price_source_without_a_price_is_a_failed_no_price(db: sqlite_utils.Database) -> None:
    def end_of_data(asset: str, as_of: datetime) -> tuple[Decimal, datetime]:
        raise LookupError("no bar after 2024-11-06T14:00:00Z")

    broker = PaperBroker(db, price=end_of_data)

    result = broker.execute(intent(Side.BUY, "1", "20000"), as_of=T0)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "NO_PRICE"
    assert "no bar after" in result.message
    assert fills_in(db) == 0


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_non_positive_quantity_is_refused_as_invalid_order(
    broker: PaperBroker, db: sqlite_utils.Database, quantity: str
) -> None:
    result = broker.execute(intent(Side.BUY, quantity, "20000"), as_of=T0)

    assert result.details["reason"] == "INVALID_ORDER"
    assert fills_in(db) == 0


def test_naive_as_of_is_a_programming_error(broker: PaperBroker) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        broker.execute(intent(Side.BUY, "1", "100"), as_of=T0.replace(tzinfo=None))


# --- average-cost accounting ------------------------------------------------------------------


def _buy_buy_sell(broker: PaperBroker) -> None:
    broker.execute(intent(Side.BUY, "1", "100", tag="a"), as_of=T0)
    broker.execute(intent(Side.BUY, "3", "200", tag="b"), as_of=T0 + timedelta(hours=1))
    broker.execute(intent(Side.SELL, "2", "250", tag="c"), as_of=T0 + timedelta(hours=2))


def test_buy_buy_sell_keeps_the_average_cost_and_realises_the_difference(
    broker: PaperBroker,
) -> None:
    _buy_buy_sell(broker)

    view = broker.portfolio({"BTC": D("300")}, T0 + timedelta(hours=3))

    # cost basis: 1 x 100 + 0.1 fee, then 3 x 200 + 0.6 fee = 700.7 for 4 -> 175.175 each
    position = view.positions["BTC"]
    assert position.quantity == D("2")
    assert position.average_price == D("175.175")  # selling does not change the average
    # the sale: 2 x 250 = 500, fee 0.5, cost removed 2 x 175.175 = 350.35
    assert view.realised_pnl == D("149.15")
    assert position.unrealised_pnl == D("249.650")  # (300 - 175.175) x 2
    assert view.cash == D("99798.8")  # 100000 - 100.1 - 600.6 + 499.5


def test_equity_is_starting_cash_plus_realised_plus_unrealised(broker: PaperBroker) -> None:
    _buy_buy_sell(broker)

    view = broker.portfolio({"BTC": D("300")}, T0 + timedelta(hours=3))

    unrealised = sum(p.unrealised_pnl for p in view.positions.values())
    assert view.equity == D("100398.8")
    assert view.equity == broker.starting_cash + view.realised_pnl + unrealised


def test_selling_everything_closes_the_position_and_realises_all_of_it(
    broker: PaperBroker,
) -> None:
    _buy_buy_sell(broker)
    broker.execute(
        intent(Side.SELL, "2", "150", tag="d"), as_of=T0 + timedelta(hours=4)
    )  # 300 - 0.3 fee - 350.35 cost = -50.65

    view = broker.portfolio({"BTC": D("1000")}, T0 + timedelta(hours=5))

    assert view.positions == {}
    assert view.realised_pnl == D("98.50")  # 149.15 - 50.65
    assert view.equity == view.cash == D("100098.50")


def test_positions_are_kept_per_asset(broker: PaperBroker) -> None:
    broker.execute(intent(Side.BUY, "1", "20000", asset="BTC"), as_of=T0)
    broker.execute(intent(Side.BUY, "10", "1500", asset="ETH"), as_of=T0)

    view = broker.portfolio({"BTC": D("21000"), "ETH": D("1400")}, T0)

    assert sorted(view.positions) == ["BTC", "ETH"]
    assert view.positions["ETH"].average_price == D("1501.5")  # (15000 + 15 fee) / 10
    assert view.exposure == D("21000") + D("14000")


def test_asset_without_a_price_is_marked_at_its_last_fill(broker: PaperBroker) -> None:
    broker.execute(intent(Side.BUY, "1", "20000"), as_of=T0)

    view = broker.portfolio({}, T0)

    assert view.positions["BTC"].last_price == D("20000")


def test_portfolio_as_of_ignores_fills_placed_later(broker: PaperBroker) -> None:
    _buy_buy_sell(broker)

    view = broker.portfolio({"BTC": D("300")}, T0 + timedelta(minutes=30))

    assert view.positions["BTC"].quantity == D("1")
    assert view.realised_pnl == 0


def test_day_start_equity_marks_overnight_positions_at_their_last_fill_before_midnight(
    broker: PaperBroker,
) -> None:
    yesterday = T0 - timedelta(days=1)  # 2024-11-05 14:00
    broker.execute(intent(Side.BUY, "2", "100", at=yesterday), as_of=yesterday)
    broker.execute(intent(Side.BUY, "1", "200", at=T0), as_of=T0)

    view = broker.portfolio({"BTC": D("150")}, T0 + timedelta(hours=1))

    # at 2024-11-06 00:00: cash 100000 - 200.2, plus 2 BTC at their last fill price, 100
    assert view.day_start_equity == D("99999.8")
    # the day's change: the overnight 2 BTC 100 -> 150 (+100), today's BTC 200 -> 150 (-50),
    # today's fee (-0.2)
    assert view.equity - view.day_start_equity == D("49.8")


def test_day_start_equity_of_a_fresh_ledger_is_the_starting_cash(broker: PaperBroker) -> None:
    broker.execute(intent(Side.BUY, "1", "100"), as_of=T0)

    assert broker.portfolio({}, T0).day_start_equity == D("100000")


def _day_starts(broker: PaperBroker, days: list[datetime]) -> list[Decimal]:
    return [broker.portfolio({"BTC": D("150")}, day).day_start_equity for day in days]


def test_day_start_equity_walked_day_by_day_equals_a_cold_readers_on_every_day(
    db: sqlite_utils.Database,
) -> None:
    # A backtest asks for each day's start in turn: the broker continues yesterday's replay.
    walker = PaperBroker(db, fee_bps=10, slippage_bps=0)
    days = [T0 + timedelta(days=n) for n in range(6)]
    walked = []
    for n, day in enumerate(days):
        side = Side.BUY if n % 2 == 0 else Side.SELL
        walker.execute(intent(side, "1", str(100 + 10 * n), at=day), as_of=day)
        walked.append(walker.portfolio({"BTC": D("150")}, day).day_start_equity)

    cold = _day_starts(PaperBroker(db, fee_bps=10, slippage_bps=0), days)

    assert walked == cold
    assert walked[0] == D("100000") and walked[1] == D("99999.9") and walked[2] != walked[1]


def test_an_earlier_day_asked_after_a_later_one_gets_its_own_day_start(
    broker: PaperBroker,
) -> None:
    days = [T0 + timedelta(days=n) for n in range(3)]
    for day in days:
        broker.execute(intent(Side.BUY, "1", "100", at=day), as_of=day)
    later_first = _day_starts(broker, list(reversed(days)))

    assert list(reversed(later_first)) == [D("100000"), D("99999.9"), D("99999.8")]


def test_a_fill_placed_out_of_time_order_still_counts_in_later_day_starts(
    broker: PaperBroker,
) -> None:
    # Runners that share a ledger can write a fill placed before the last one already written.
    day2, day4 = T0 + timedelta(days=2), T0 + timedelta(days=4)
    broker.execute(intent(Side.BUY, "1", "100", at=day4), as_of=day4)
    assert _day_starts(broker, [day2]) == [D("100000")]
    broker.execute(intent(Side.BUY, "1", "100", at=T0), as_of=T0)  # placed before the first

    assert _day_starts(broker, [day2, day4 + timedelta(days=1)]) == [
        D("99999.9"),
        D("99999.8"),
    ]


# --- refusals -------------------------------------------------------------------------------


def test_selling_without_a_position_is_refused_and_writes_nothing(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    result = broker.execute(intent(Side.SELL, "1", "20000"), as_of=T0)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "INSUFFICIENT_POSITION"
    assert "0 held" in result.message and "never goes short" in result.message
    assert fills_in(db) == 0


def test_selling_more_than_held_is_refused_and_the_position_is_unchanged(
    broker: PaperBroker,
) -> None:
    broker.execute(intent(Side.BUY, "0.5", "20000"), as_of=T0)

    later = T0 + timedelta(hours=1)
    result = broker.execute(intent(Side.SELL, "0.6", "20000", at=later), as_of=later)

    assert result.details["reason"] == "INSUFFICIENT_POSITION"
    assert result.details["held"] == D("0.5")
    assert broker.portfolio({}, later).positions["BTC"].quantity == D("0.5")


def test_buying_for_more_than_the_cash_is_refused(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    result = broker.execute(intent(Side.BUY, "5", "20000"), as_of=T0)  # 100000 + 100 fee

    assert result.details["reason"] == "INSUFFICIENT_FUNDS"
    assert result.details["cost"] == D("100100.0")
    assert result.message == "buying 5 BTC costs 100,100.00 USDT with fee; cash is 100,000.00 USDT"
    assert fills_in(db) == 0


def test_a_refusal_by_less_than_a_cent_shows_the_digits_that_tell_cost_and_cash_apart(
    db: sqlite_utils.Database,
) -> None:
    broker = PaperBroker(db, starting_cash="100.004", fee_bps=0, slippage_bps=0)

    result = broker.execute(intent(Side.BUY, "1", "100.005"), as_of=T0)

    assert result.message == "buying 1 BTC costs 100.005 USDT with fee; cash is 100.004 USDT"


def test_an_all_in_buy_sized_with_the_brokers_costs_fills_and_spends_no_more_than_the_cash(
    db: sqlite_utils.Database,
) -> None:
    """position_size 1.0 sized 0.2 BTC at 50,000: 10,015.00 with slippage and fee, refused
    INSUFFICIENT_FUNDS. Sized with the broker's costs, it fills with a dust of cash left."""
    broker = PaperBroker(db, starting_cash=10000, fee_bps=10, slippage_bps=5)
    assert broker.costs == FillCosts(D(10), D(5))
    order = size_order(
        decision_id=decision_id("strategy-hash", "BTC", T0, "paper"), strategy="s", asset="BTC",
        side=Side.BUY, reference_price=D(50000), position_size=D(1),
        portfolio=broker.portfolio({}, T0), limits=RiskLimits(max_position=D(1)), as_of=T0,
        mode=Mode.PAPER, costs=broker.costs, cash=broker.spendable("s", D(10000), D(10000)),
    )  # fmt: skip
    assert order is not None

    result = broker.execute(order, as_of=T0)

    assert result.status is ExecutionStatus.FILLED, result.message
    assert result.fill is not None and result.fill.quantity == D("0.19970034")
    assert result.details["cash_after"] == D("0.000481991500")


def test_a_buy_the_price_rose_out_of_the_cashs_reach_buys_what_the_cash_allows(
    db: sqlite_utils.Database,
) -> None:
    """An all-in BUY sized at 50,000 fills at the next open, 51,000: 0.19970034 BTC would cost
    10,194.77 with the fee, over the 10,000 of cash. It buys what the cash allows at that price,
    and says what was ordered; executed again, it is the same fill."""
    opened = T0 + timedelta(hours=1)
    broker = PaperBroker(
        db, starting_cash=10000, fee_bps=10, slippage_bps=0, price=lambda _a, _t: (D(51000), opened)
    )
    order = intent(Side.BUY, "0.19970034", "50000")

    result = broker.execute(order, as_of=T0)

    assert result.status is ExecutionStatus.FILLED, result.message
    assert result.fill is not None and result.fill.quantity == D("0.19588254")
    assert result.details["ordered"] == D("0.19970034")
    assert result.details["cash_after"] == D("0.00045046000")  # a step more would not fit
    assert result.message == (
        "paper BUY 0.19588254 BTC at 51000 USDT (fee 9.99000954); 0.19970034 ordered: the price "
        "rose from 50000 to 51000 before it filled, and the cash allowed less"
    )
    again = broker.execute(order, as_of=T0)
    assert again.details.get("already_filled") is True and fills_in(db) == 1
    # Retried after a restart with the slippage set otherwise: still the same fill.
    restarted = PaperBroker(
        db, fee_bps=10, slippage_bps=500, price=lambda _a, _t: (D(51000), opened)
    )
    assert restarted.execute(order, as_of=T0).details.get("already_filled") is True
    assert fills_in(db) == 1


def test_a_buy_short_of_the_cash_at_its_own_price_is_refused_whatever_the_fill_price(
    db: sqlite_utils.Database,
) -> None:
    """Sizing leaves a BUY over the cash to the broker (the audit names the cash): only a rise
    of the price after sizing makes the broker buy less instead."""
    opened = T0 + timedelta(hours=1)
    broker = PaperBroker(
        db, starting_cash=10000, fee_bps=10, slippage_bps=0, price=lambda _a, _t: (D(51000), opened)
    )

    result = broker.execute(intent(Side.BUY, "0.25", "50000"), as_of=T0)

    assert result.status is ExecutionStatus.FAILED
    assert result.details["reason"] == "INSUFFICIENT_FUNDS"
    assert fills_in(db) == 0


def test_a_strategy_may_spend_the_accounts_cash_and_no_more_than_its_allocations(
    broker: PaperBroker,
) -> None:
    broker.allocate({"Own": D(4000)})
    assert broker.spendable("Own", D(10000), D(4000)) == D(4000)
    assert broker.spendable("Own", D(3000), D(4000)) == D(3000)  # the others spent the rest
    # Without an allocation its book's cash counts the others' holdings: the account's counts.
    assert broker.spendable("Shared", D(10000), D(13000)) == D(10000)


# --- idempotency ----------------------------------------------------------------------------


def test_executing_the_same_client_order_id_twice_returns_the_first_fill_without_a_second_row(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    order = intent(Side.BUY, "1", "20000")
    first = broker.execute(order, as_of=T0)

    again = broker.execute(order, as_of=T0 + timedelta(minutes=5))

    assert again.status is ExecutionStatus.FILLED
    assert again.fill == first.fill
    assert again.details["already_filled"] is True
    assert fills_in(db) == 1
    assert broker.portfolio({}, T0).positions["BTC"].quantity == D("1")


def test_a_filled_sell_re_executed_is_not_refused_for_lack_of_position(
    broker: PaperBroker,
) -> None:
    broker.execute(intent(Side.BUY, "1", "100", tag="buy"), as_of=T0)
    sell = intent(Side.SELL, "1", "110", tag="sell")
    broker.execute(sell, as_of=T0)

    again = broker.execute(sell, as_of=T0)

    assert again.status is ExecutionStatus.FILLED  # not INSUFFICIENT_POSITION
    assert again.details["already_filled"] is True


def test_reusing_a_client_order_id_for_a_different_order_is_refused(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    order = intent(Side.BUY, "1", "20000")
    broker.execute(order, as_of=T0)
    other = OrderIntent(**{**order.__dict__, "quantity": D("2")})

    result = broker.execute(other, as_of=T0)

    assert result.details["reason"] == "CLIENT_ORDER_ID_REUSED"
    assert fills_in(db) == 1


# --- the SQLite ledger ----------------------------------------------------------------------


def test_ledger_survives_a_reopen_of_the_file_and_a_restart_does_not_fill_twice(
    tmp_path: Path,
) -> None:
    path = tmp_path / "paper.db"
    broker = PaperBroker(path, starting_cash="50000", fee_bps=10, slippage_bps=0)
    _buy_buy_sell(broker)
    before = broker.portfolio({"BTC": D("300")}, T0 + timedelta(hours=3))
    broker.close()

    reopened = PaperBroker(path, fee_bps=10, slippage_bps=0)
    replay = reopened.execute(intent(Side.SELL, "2", "250", tag="c"), as_of=T0)

    assert reopened.starting_cash == D("50000")
    assert reopened.portfolio({"BTC": D("300")}, T0 + timedelta(hours=3)) == before
    assert replay.details["already_filled"] is True
    assert len(reopened.fills()) == 3
    reopened.close()


def test_reopening_with_a_different_starting_cash_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "paper.db"
    PaperBroker(path, starting_cash="50000").close()

    with pytest.raises(SignalOpsError) as refused:
        PaperBroker(path, starting_cash="100000")
    assert str(refused.value) == (
        f"paper ledger {path} was created with starting cash 50,000.00 USDT, not 100,000.00 "
        "USDT; use a new ledger file to start over"
    )


def test_ledger_rows_cannot_be_updated_or_deleted(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    broker.execute(intent(Side.BUY, "1", "100"), as_of=T0)

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("UPDATE paper_fills SET quantity = '2'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("DELETE FROM paper_fills")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.conn.execute("UPDATE paper_account SET starting_cash = '1'")


def test_ledger_stores_money_as_exact_decimal_text(
    db: sqlite_utils.Database,
) -> None:
    PaperBroker(db, fee_bps=10, slippage_bps=5).execute(intent(Side.BUY, "0.1", "0.3"), as_of=T0)

    quantity, price, fee, placed_at = db.conn.execute(
        "SELECT quantity, price, fee, placed_at FROM paper_fills"
    ).fetchone()

    assert all(isinstance(v, str) for v in (quantity, price, fee))
    assert (D(quantity), D(price), D(fee)) == (D("0.1"), D("0.30015"), D("0.000030015"))
    assert placed_at == "2024-11-06T14:00:00Z"


# --- inside the caller's transaction --------------------------------------------------------


def _audit_table(db: sqlite_utils.Database) -> None:
    db.conn.execute("CREATE TABLE audit (decision_id TEXT)")


def test_inside_an_open_transaction_the_fill_is_not_committed_by_the_broker(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shared.db"
    db = sqlite_utils.Database(path)
    _audit_table(db)
    broker = PaperBroker(db)
    order = intent(Side.BUY, "1", "100")

    db.conn.execute("BEGIN")
    db.conn.execute("INSERT INTO audit VALUES (?)", (order.decision_id,))
    result = broker.execute(order, as_of=T0)

    assert result.status is ExecutionStatus.FILLED
    assert db.conn.in_transaction  # still the caller's, still open
    outsider = sqlite3.connect(path)
    assert outsider.execute("SELECT count(*) FROM paper_fills").fetchone() == (0,)
    db.conn.execute("COMMIT")
    assert outsider.execute("SELECT count(*) FROM paper_fills").fetchone() == (1,)
    assert outsider.execute("SELECT count(*) FROM audit").fetchone() == (1,)


def test_rolling_back_the_callers_transaction_removes_the_fill_with_the_audit_record(
    db: sqlite_utils.Database,
) -> None:
    _audit_table(db)
    broker = PaperBroker(db)
    order = intent(Side.BUY, "1", "100")

    db.conn.execute("BEGIN")
    db.conn.execute("INSERT INTO audit VALUES (?)", (order.decision_id,))
    broker.execute(order, as_of=T0)
    db.conn.execute("ROLLBACK")

    assert fills_in(db) == 0
    assert db.conn.execute("SELECT count(*) FROM audit").fetchone() == (0,)
    # and the decision can then be executed for real
    assert broker.execute(order, as_of=T0).details.get("already_filled") is None
    assert fills_in(db) == 1


def test_a_refusal_inside_an_open_transaction_leaves_the_callers_writes_alone(
    db: sqlite_utils.Database,
) -> None:
    _audit_table(db)
    broker = PaperBroker(db)

    db.conn.execute("BEGIN")
    db.conn.execute("INSERT INTO audit VALUES ('dec-1')")
    result = broker.execute(intent(Side.SELL, "1", "100"), as_of=T0)
    db.conn.execute("COMMIT")

    assert result.details["reason"] == "INSUFFICIENT_POSITION"
    assert db.conn.execute("SELECT count(*) FROM audit").fetchone() == (1,)
    assert fills_in(db) == 0


def test_a_different_fill_in_a_rolled_back_ledger_slot_is_seen_not_the_cached_one(
    db: sqlite_utils.Database,
) -> None:
    broker = PaperBroker(db, fee_bps=0, slippage_bps=0)
    broker.execute(intent(Side.BUY, "1", "100", tag="kept"), as_of=T0)
    db.conn.execute("BEGIN")
    broker.execute(intent(Side.BUY, "1", "100", tag="undone"), as_of=T0)
    assert broker.portfolio({}, T0).positions["BTC"].quantity == D("2")
    db.conn.execute("ROLLBACK")

    # Another broker on the ledger fills next; SQLite hands it the rolled-back row's seq.
    PaperBroker(db, fee_bps=0, slippage_bps=0).execute(
        intent(Side.BUY, "3", "50", tag="other"), as_of=T0
    )

    view = broker.portfolio({}, T0)
    assert [f.venue_order_id for f in broker.fills()] == ["paper-1", "paper-2"]
    assert view.positions["BTC"].quantity == D("4")
    assert view.cash == D("99750")  # 100000 - 100 - 150


def test_a_fill_rolled_back_before_any_read_leaves_the_kept_books_without_it(
    db: sqlite_utils.Database,
) -> None:
    # A fill is applied to the kept books as it is written (not to a copy, and again at the
    # next read): a rollback must still undo it there, read or not.
    broker = PaperBroker(db, fee_bps=0, slippage_bps=0)
    broker.execute(intent(Side.BUY, "1", "100", tag="kept"), as_of=T0)
    assert broker.portfolio({}, T0).cash == D("99900")  # the books are kept from here on
    db.conn.execute("BEGIN")
    undone = broker.execute(intent(Side.SELL, "1", "150", tag="undone"), as_of=T0)
    db.conn.execute("ROLLBACK")

    assert undone.details["cash_after"] == D("100050")
    assert undone.details["position_after"] == D("0")
    view = broker.portfolio({}, T0)
    assert view == PaperBroker(db).portfolio({}, T0)
    assert view.positions["BTC"].quantity == D("1")
    assert broker.book("Multi_Source_Momentum", {}, T0).positions["BTC"].quantity == D("1")


def test_the_books_kept_through_fills_are_a_fresh_readers_of_the_ledger(
    db: sqlite_utils.Database,
) -> None:
    # Two strategies (one with an allocation), two assets, buys and sells, inside one
    # transaction whose only writer is the broker (a backtest's batch): each fill's account
    # figures and every view after it are what a broker reading the ledger afresh finds.
    broker = PaperBroker(db, fee_bps=10, slippage_bps=5)
    broker.allocate({"Own": D(20_000)})
    steps = [
        ("Multi_Source_Momentum", Side.BUY, "0.3", "BTC", "60000"),
        ("Own", Side.BUY, "2", "ETH", "3000"),
        ("Multi_Source_Momentum", Side.BUY, "4", "ETH", "3100"),
        ("Own", Side.SELL, "0.5", "ETH", "3200"),
        ("Multi_Source_Momentum", Side.SELL, "0.3", "BTC", "61000"),
        ("Own", Side.BUY, "0.1", "BTC", "59000"),
    ]
    db.conn.execute("BEGIN")
    with broker.sole_writer():
        for n, (strategy, side, quantity, asset, price) in enumerate(steps):
            at = T0 + timedelta(hours=n)
            order = replace(
                intent(side, quantity, price, asset=asset, at=at, tag=strategy),
                strategy=strategy,
            )
            result = broker.execute(order, as_of=at)
            assert result.status is ExecutionStatus.FILLED, result.message
            fresh = PaperBroker(db, fee_bps=10, slippage_bps=5)
            fresh.allocate({"Own": D(20_000)})
            marks = {"BTC": D(price) if asset == "BTC" else D(60_000), "ETH": D(3_000)}
            account = fresh.portfolio(marks, at)
            assert result.details["cash_after"] == account.cash
            held = account.positions.get(asset)  # none: sold out
            assert result.details["position_after"] == (D(0) if held is None else held.quantity)
            assert broker.portfolio(marks, at) == account
            for name in ("Multi_Source_Momentum", "Own"):
                assert broker.book(name, marks, at) == fresh.book(name, marks, at)
    db.conn.execute("COMMIT")


@pytest.mark.parametrize(
    "at",
    [
        T0.replace(microsecond=250),
        T0.astimezone(timezone(timedelta(hours=-5))),  # stored in UTC, read back so
        T0.replace(fold=1),
    ],
)
@pytest.mark.parametrize(
    ("quantity", "reference"), [("0.50", "100"), ("1E-120", "100"), ("2", "1E+120")]
)
def test_a_fill_kept_as_written_is_the_row_a_fresh_reader_parses(
    db: sqlite_utils.Database, at: datetime, quantity: str, reference: str
) -> None:
    # The broker keeps the row it wrote made of the very amounts and times it printed into it:
    # they must be what parsing the stored text gives (an amount of no sane size reads as NaN).
    broker = PaperBroker(db, price=lambda _, when: (D("100.10"), when + timedelta(hours=1)))
    order = replace(intent(Side.BUY, quantity, "100", at=at), reference_price=D(reference))
    assert broker.execute(order, as_of=at).status is ExecutionStatus.FILLED

    fresh = PaperBroker(db)
    assert repr(broker._rows()) == repr(fresh._rows())  # every field, NaNs and zones alike
    assert repr(broker.portfolio({}, at)) == repr(fresh.portfolio({}, at))


def test_two_brokers_on_one_ledger_see_each_others_fills(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    first = PaperBroker(path, fee_bps=0, slippage_bps=0)
    second = PaperBroker(path, fee_bps=0, slippage_bps=0)
    first.portfolio({}, T0)  # both have read the (empty) ledger before

    first.execute(intent(Side.BUY, "1", "100", tag="a"), as_of=T0)
    second.execute(intent(Side.BUY, "1", "200", tag="b"), as_of=T0)

    assert first.portfolio({}, T0) == second.portfolio({}, T0)
    assert first.portfolio({}, T0).positions["BTC"].quantity == D("2")
    first.close()
    second.close()


def test_without_an_open_transaction_the_fill_is_committed_at_once(tmp_path: Path) -> None:
    path = tmp_path / "own.db"
    broker = PaperBroker(sqlite_utils.Database(path))

    broker.execute(intent(Side.BUY, "1", "100"), as_of=T0)

    assert not broker.ledger.in_transaction()
    assert sqlite3.connect(path).execute("SELECT count(*) FROM paper_fills").fetchone() == (1,)


def test_a_fills_dict_is_the_callers_to_change(broker: PaperBroker) -> None:
    # Made once per fill (its decision's record and the fill record both hold it): each call
    # still gives a dict of its own.
    fill = broker.execute(intent(Side.BUY, "1", "100"), as_of=T0).fill
    assert fill is not None
    first = fill.to_dict()
    first["price"] = "changed"
    first["extra"] = True

    again = fill.to_dict()

    assert again["price"] == "100"
    assert "extra" not in again
    assert list(again) == [
        "client_order_id", "asset", "side", "quantity", "price", "fee", "at", "venue",
        "venue_order_id", "notional",
    ]  # fmt: skip
    assert again["notional"] == "100"


def test_an_error_inside_the_ledgers_write_undoes_its_rows_and_nothing_else(
    db: sqlite_utils.Database,
) -> None:
    _audit_table(db)
    ledger = PaperBroker(db).ledger
    row = ("c-1", "dec-1", "s", "BTC", "BUY", "1", "100", "0", "100", "0", "0", "t", "t")

    db.conn.execute("BEGIN")
    db.conn.execute("INSERT INTO audit VALUES ('dec-1')")
    with pytest.raises(RuntimeError), ledger.write():
        ledger.insert_fill(row)
        raise RuntimeError("after the insert")
    assert db.conn.in_transaction  # the caller's, still open: only the savepoint was undone
    db.conn.execute("COMMIT")
    assert fills_in(db) == 0
    assert db.conn.execute("SELECT count(*) FROM audit").fetchone() == (1,)

    with pytest.raises(RuntimeError), ledger.write():  # a transaction of its own
        ledger.insert_fill(row)
        raise RuntimeError("after the insert")
    assert not db.conn.in_transaction
    assert fills_in(db) == 0
    with ledger.write():
        ledger.insert_fill(row)
    assert not db.conn.in_transaction
    assert fills_in(db) == 1


def test_result_is_json_ready_for_the_audit_record(broker: PaperBroker) -> None:
    result = broker.execute(intent(Side.BUY, "1", "100"), as_of=T0)

    record = result.to_dict()

    assert record["status"] == "FILLED"
    assert record["fill"]["price"] == "100"
    assert record["fill"]["fee"] == "0.1"
    assert record["details"]["price_time"] == "2024-11-06T14:00:00Z"


def test_a_ledger_with_a_sale_of_nothing_still_values_and_never_divides_zero_by_zero(
    db: sqlite_utils.Database, broker: PaperBroker
) -> None:
    # What two racing writers left behind (issue 11): a SELL filled with no position, which
    # the broker itself refuses, inserted into the ledger as the race did.
    broker.execute(intent(Side.BUY, "1", "100", tag="a"), as_of=T0)
    row = list(db.conn.execute("SELECT * FROM paper_fills").fetchone())
    row[0], row[1], row[2], row[5] = None, "so-raced", "dec-raced", "SELL"
    for _ in range(2):  # the second sale sells what is no longer there
        row[1] = row[1] + "x"
        db.conn.execute(f"INSERT INTO paper_fills VALUES ({', '.join('?' * len(row))})", row)
    db.conn.commit()

    view = PaperBroker(db, fee_bps=10, slippage_bps=0).portfolio({"BTC": D("100")}, T0)

    assert view.positions.get("BTC") is None or view.positions["BTC"].quantity <= 0
    assert view.cash.is_finite() and view.realised_pnl.is_finite()


@pytest.mark.parametrize(
    ("column", "value"),
    [("quantity", "Infinity"), ("price", "abc"), ("fee", "1E+999999"), ("quantity", "sNaN")],
)
def test_an_amount_no_ledger_holds_reads_as_nan_and_never_raises(
    db: sqlite_utils.Database, broker: PaperBroker, column: str, value: str
) -> None:
    broker.execute(intent(Side.BUY, "1", "100", tag="a"), as_of=T0)
    forged = {"quantity": "1", "price": "100", "fee": "0.1", column: value}
    db.conn.execute(  # rows can be added, not edited: a second, forged BUY
        "INSERT INTO paper_fills (client_order_id, decision_id, strategy, asset, side, quantity, "
        "price, fee, reference_price, fee_bps, slippage_bps, placed_at, filled_at) VALUES "
        "('so-forged', 'dec-forged', 'Multi_Source_Momentum', 'BTC', 'BUY', ?, ?, ?, '100', "
        "'10', '0', ?, ?)",
        (forged["quantity"], forged["price"], forged["fee"], T0.isoformat(), T0.isoformat()),
    )
    db.conn.commit()

    view = PaperBroker(db, fee_bps=10, slippage_bps=0).portfolio({"BTC": D("100")}, T0)

    assert view.cash.is_nan()
    position = view.positions["BTC"]
    assert position.average_price.is_nan()
    assert position.quantity.is_nan() == (column == "quantity")


@pytest.mark.parametrize(
    ("column", "value", "unvalued"),
    [
        ("quantity", "Infinity", ["cash: NaN", "day_start_equity: NaN", "BTC quantity: NaN"]),
        ("price", "abc", ["cash: NaN", "day_start_equity: NaN"]),
        ("fee", "1E+999999", ["cash: NaN", "day_start_equity: NaN"]),
    ],
)
def test_a_forged_ledger_amount_is_a_recorded_denial_naming_what_it_cannot_value(
    replay_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    value: str,
    unvalued: list[str],
) -> None:
    # Not an arithmetic error caught on the way (the record said "InvalidOperation: ..." or
    # "Overflow: ..." before): the figures are NaN and the risk gate names them.
    monkeypatch.chdir(ROOT)
    audit = tmp_path / "audit.db"
    common = ("--replay", str(replay_dir), "--audit", str(audit), "--once")
    strategy = "tests/fixtures/banking_crisis_pipeline.yaml"
    assert run("run", strategy, "--from", "2023-03-08", *common).exit_code == 0
    amounts = {"quantity": "0.1", "price": "20000", "fee": "0", column: value}
    with sqlite3.connect(audit) as conn:  # rows can be added, not edited: a forged fill
        conn.execute(
            "INSERT INTO paper_fills (client_order_id, decision_id, strategy, asset, side, "
            "quantity, price, fee, reference_price, fee_bps, slippage_bps, placed_at, filled_at) "
            "VALUES ('so-x', 'dec-x', 'Banking_Crisis_Pipeline', 'BTC', 'BUY', ?, ?, ?, "
            "'20000', '10', '5', '2023-03-09T00:00:00Z', '2023-03-09T00:00:00Z')",
            (amounts["quantity"], amounts["price"], amounts["fee"]),
        )

    line = cycle_between_checks(audit, replay_dir, strategy, datetime(2023, 3, 10, tzinfo=UTC))

    assert line == "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 denied by risk)"
    with AuditLog.open_readonly(audit) as log:
        (record,) = log.decisions(since=date(2023, 3, 10), until=date(2023, 3, 10))
    assert record["risk"]["checks"] == [
        {
            "code": "PORTFOLIO_UNVALUED",
            "passed": False,
            "details": {"asset": "BTC", "unvalued": unvalued},
        }
    ]


def test_a_book_read_leaves_the_strategys_kept_book_unchanged(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "ledger.db")
    broker = PaperBroker(db, fee_bps=10, slippage_bps=0)
    broker.execute(intent(Side.BUY, "0.5", "60000", tag="a"), as_of=T0)
    prices = {"BTC": D("70000")}
    before = broker.book("Multi_Source_Momentum", prices, T0)
    broker.execute(intent(Side.SELL, "0.5", "70000", tag="b"), as_of=T0)
    assert before.positions["BTC"].quantity == D("0.5")
    after = broker.book("Multi_Source_Momentum", prices, T0)
    assert after.positions == {}
    assert after == PaperBroker(db).book("Multi_Source_Momentum", prices, T0)


def test_a_book_asked_again_at_the_same_time_after_a_fill_counts_the_fill(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    # The rows grow in place at each fill (a copy per fill made a long ledger's fills
    # quadratic): the figures kept for the earlier look must not be given again.
    prices = {"BTC": D(20_000)}
    strategy = "Multi_Source_Momentum"
    db.conn.execute("BEGIN")
    with broker.sole_writer():
        assert broker.book(strategy, prices, T0).positions == {}
        broker.execute(intent(Side.BUY, "0.1", "20000"), as_of=T0)
        after = broker.book(strategy, prices, T0)
        account = broker.portfolio(prices, T0)
    db.conn.execute("COMMIT")
    assert after.positions["BTC"].quantity == account.positions["BTC"].quantity == D("0.1")
    assert account.cash == broker.starting_cash - D("0.1") * D(20_000) * D("1.001")
    fresh = PaperBroker(db)  # the ledger alone
    assert fresh.book(strategy, prices, T0) == after
    assert fresh.portfolio(prices, T0) == account


def test_a_fill_rolled_back_after_the_books_were_read_leaves_them_without_it(
    broker: PaperBroker, db: sqlite_utils.Database
) -> None:
    prices = {"BTC": D(20_000)}
    strategy = "Multi_Source_Momentum"
    broker.execute(intent(Side.BUY, "0.1", "20000", tag="kept"), as_of=T0)
    held = broker.book(strategy, prices, T0)
    later = T0 + timedelta(hours=1)
    db.conn.execute("BEGIN")
    broker.execute(intent(Side.BUY, "0.2", "20000", at=later, tag="undone"), as_of=later)
    inside = broker.book(strategy, prices, later)
    db.conn.execute("ROLLBACK")
    assert inside.positions["BTC"].quantity == D("0.3")
    assert broker.book(strategy, prices, later).positions["BTC"].quantity == D("0.1")
    assert held.positions["BTC"].quantity == D("0.1")
    assert fills_in(db) == 1
