"""Each strategy owns its book: two strategies on BTC over the March 2023 replay.

``banking_crisis_pipeline.yaml`` (capital 50% of the 10,000 account) buys on 03-10 and sells on
03-14; ``books_second.yaml`` (capital 2,000) signals SELL on 03-10 and 03-11 while holding
nothing -- right after the first one bought -- then buys on 03-13 and sells on 03-15. Before
books, its 03-10 SELL sold the first strategy's BTC (NO_POSITION looked at the account).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import ROOT

from signalops.cli import cli
from signalops.codes import Code
from signalops.config import capital_by_strategy, loads_config
from signalops.errors import ConfigError
from signalops.execution.paper import PaperBroker
from signalops.orders import ExecutionStatus, Mode, OrderIntent, Side, client_order_id

FIRST = "tests/fixtures/banking_crisis_pipeline.yaml"
SECOND = "tests/fixtures/books_second.yaml"
D = Decimal
CONFIG = """\
strategies:
  Banking_Crisis_Pipeline: {capital: 50%}
  Second_Book: {capital: 2000}
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def two_books(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("books")
    config, db = folder / "signalops.yaml", folder / "audit.db"
    config.write_text(CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        result = run(
            "run", FIRST, SECOND, "--config", str(config), "--replay", str(replay_dir),
            "--from", "2023-03-08", "--to", "2023-03-16", "--every", "1d", "--audit", str(db),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [line.split("  [")[0] for line in result.stdout.splitlines()] == [
        "2023-03-08T00:00:00Z  2 decisions: 2 HOLD",
        "2023-03-09T00:00:00Z  2 decisions: 2 HOLD",
        "2023-03-10T00:00:00Z  2 decisions: 1 BUY, 1 SELL (1 filled, 1 with nothing to sell)",
        "2023-03-11T00:00:00Z  2 decisions: 1 BUY, 1 SELL "
        "(1 denied by risk, 1 with nothing to sell)",
        "2023-03-12T00:00:00Z  2 decisions: 1 BLOCKED, 1 HOLD",
        "2023-03-13T00:00:00Z  2 decisions: 1 BUY, 1 HOLD (1 filled)",
        "2023-03-14T00:00:00Z  2 decisions: 1 HOLD, 1 SELL (1 filled)",
        "2023-03-15T00:00:00Z  2 decisions: 2 SELL (1 filled, 1 with nothing to sell)",
        "2023-03-16T00:00:00Z  2 decisions: 1 HOLD, 1 SELL (1 with nothing to sell)",
    ]
    return db


@pytest.fixture
def audit_db(two_books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    copy = tmp_path / "audit.db"
    with sqlite3.connect(two_books) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def fills(db: Path) -> list[tuple[str, str, str, D, D, D]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT strategy, side, placed_at, quantity, price, fee FROM paper_fills ORDER BY seq"
        ).fetchall()
    return [(s, side, at[:10], D(q), D(p), D(f)) for s, side, at, q, p, f in rows]


def test_each_strategy_sells_only_what_it_bought(audit_db: Path):
    ledger = fills(audit_db)
    assert [row[:3] for row in ledger] == [
        ("Banking_Crisis_Pipeline", "BUY", "2023-03-10"),
        ("Second_Book", "BUY", "2023-03-13"),
        ("Banking_Crisis_Pipeline", "SELL", "2023-03-14"),
        ("Second_Book", "SELL", "2023-03-15"),
    ]
    first_buy, second_buy, first_sell, second_sell = ledger
    assert first_sell[3] == first_buy[3] == D("0.01227763")  # 0.05 x 5,000 / 20,362.22
    assert second_sell[3] == second_buy[3]
    assert second_buy[3] != first_buy[3]


def test_a_sell_with_an_empty_book_is_denied_no_position_with_that_books_zero(audit_db: Path):
    for day in ("2023-03-10", "2023-03-11"):
        result = run(
            "why", "BTC", "--at", day, "--strategy", "Second_Book", "--audit", str(audit_db)
        )
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == (
            f"BTC at {day}T00:00:00Z: DENIED by the risk gate: NO_POSITION (actual 0, asset BTC, "
            "book Second_Book, side SELL, unit asset units)"
        )
        denial = "NO_POSITION: actual 0, asset BTC, book Second_Book, side SELL, unit asset units"
        assert f"  FAIL    {denial}" in lines


def test_why_lists_both_decisions_of_the_day_grouped_by_strategy(audit_db: Path):
    result = run("why", "BTC", "--at", "2023-03-10", "--audit", str(audit_db))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "BTC at 2023-03-10T00:00:00Z: 2 decisions, by strategy",
        "",
        "== Banking_Crisis_Pipeline ==",
        "BTC at 2023-03-10T00:00:00Z: BOUGHT",
    ]
    second = lines.index("== Second_Book ==")
    assert lines[second - 1] == ""
    assert lines[second + 1].startswith(
        "BTC at 2023-03-10T00:00:00Z: DENIED by the risk gate: NO_POSITION"
    )
    # The first book's order was sized on its own 5,000, not on the 10,000 account.
    assert (
        "  PASS    MAX_POSITION: actual 5%, equity 5,000.00, limit 10%, position value "
        "250.00, unit fraction of equity"
    ) in lines
    assert (
        "  PASS    MAX_EXPOSURE: actual 2.5%, equity 10,000.00, exposure 250.00, "
        "limit 50%, unit fraction of equity"
    ) in lines


def test_why_strategy_narrows_to_one_decision_told_as_before(audit_db: Path):
    result = run("why", "BTC", "--at", "2023-03-10", "--strategy", "Banking_Crisis_Pipeline",
                 "--audit", str(audit_db))  # fmt: skip
    lines = result.stdout.splitlines()
    assert lines[0] == "BTC at 2023-03-10T00:00:00Z: BOUGHT"
    assert not any(line.startswith("== ") for line in lines)
    missing = run(
        "why", "BTC", "--at", "2023-03-10", "--strategy", "Nobody", "--audit", str(audit_db)
    )
    assert missing.exit_code != 0
    assert "no decision for BTC at 2023-03-10 by Nobody" in missing.output


def test_why_json_of_several_decisions_lists_each_with_its_strategy(audit_db: Path):
    import json

    result = run("why", "BTC", "--at", "2023-03-10", "--json", "--audit", str(audit_db))
    shown = json.loads(result.stdout)
    assert shown["asset"] == "BTC"
    assert [(d["strategy"]["name"], d["outcome"]) for d in shown["decisions"]] == [
        ("Banking_Crisis_Pipeline", "FILLED"),
        ("Second_Book", "DENIED"),
    ]


def test_each_book_has_its_own_cash_and_realised_pnl(audit_db: Path):
    first_buy, second_buy, first_sell, second_sell = fills(audit_db)

    def realised(buy, sell) -> D:
        return (sell[3] * sell[4] - sell[5]) - (buy[3] * buy[4] + buy[5])

    broker = PaperBroker(audit_db)
    broker.allocate(capital_by_strategy(loads_config(CONFIG), broker.starting_cash))
    end = datetime(2023, 3, 16, tzinfo=UTC)
    first = broker.book("Banking_Crisis_Pipeline", {}, end)
    second = broker.book("Second_Book", {}, end)
    account = broker.portfolio({}, end)
    broker.close()
    assert first.positions == {} and second.positions == {} and account.positions == {}
    assert first.realised_pnl == realised(first_buy, first_sell)
    assert second.realised_pnl == realised(second_buy, second_sell)
    assert first.equity == D(5000) + first.realised_pnl
    assert second.equity == D(2000) + second.realised_pnl
    assert account.realised_pnl == first.realised_pnl + second.realised_pnl
    assert account.equity == D(10000) + account.realised_pnl


def test_books_mark_open_positions_at_the_given_market_price(audit_db: Path):
    first_buy, second_buy, *_ = fills(audit_db)
    broker = PaperBroker(audit_db)
    broker.allocate({"Banking_Crisis_Pipeline": D(5000), "Second_Book": D(2000)})
    noon = datetime(2023, 3, 13, 12, tzinfo=UTC)  # both hold BTC
    first = broker.book("Banking_Crisis_Pipeline", {"BTC": D(25000)}, noon)
    second = broker.book("Second_Book", {"BTC": D(25000)}, noon)
    broker.close()
    for book, buy in ((first, first_buy), (second, second_buy)):
        position = book.positions["BTC"]
        assert position.quantity == buy[3]
        assert position.unrealised_pnl == buy[3] * D(25000) - (buy[3] * buy[4] + buy[5])


# --- the broker and the config, directly ------------------------------------------------------

T0 = datetime(2024, 11, 6, 14, tzinfo=UTC)


def order(strategy: str, side: Side, quantity: str, tag: str) -> OrderIntent:
    decision = f"dec-{tag}"
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy=strategy,
        asset="BTC",
        side=side,
        quantity=D(quantity),
        reference_price=D(20000),
        notional=D(quantity) * D(20000),
        as_of=T0,
        mode=Mode.PAPER,
    )


def test_the_broker_refuses_to_sell_another_strategys_holding(tmp_path: Path):
    broker = PaperBroker(sqlite_utils.Database(tmp_path / "l.db"), fee_bps=0, slippage_bps=0)
    assert (
        broker.execute(order("A", Side.BUY, "0.1", "1"), as_of=T0).status is ExecutionStatus.FILLED
    )
    refused = broker.execute(order("B", Side.SELL, "0.1", "2"), as_of=T0)
    assert refused.status is ExecutionStatus.FAILED
    assert refused.details["reason"] is Code.INSUFFICIENT_POSITION
    assert "0 held by B" in refused.message
    assert (
        broker.execute(order("A", Side.SELL, "0.1", "3"), as_of=T0).status is ExecutionStatus.FILLED
    )


def test_a_strategy_with_capital_cannot_spend_more_than_its_allocation(tmp_path: Path):
    broker = PaperBroker(sqlite_utils.Database(tmp_path / "l.db"), fee_bps=0, slippage_bps=0)
    broker.allocate({"A": D(1000)})
    refused = broker.execute(order("A", Side.BUY, "0.06", "1"), as_of=T0)  # 1,200 > 1,000
    assert refused.status is ExecutionStatus.FAILED
    assert refused.details["reason"] is Code.INSUFFICIENT_FUNDS
    assert (
        broker.execute(order("A", Side.BUY, "0.05", "2"), as_of=T0).status is ExecutionStatus.FILLED
    )
    # A strategy without an allocation shares the account's cash.
    assert (
        broker.execute(order("B", Side.BUY, "0.4", "3"), as_of=T0).status is ExecutionStatus.FILLED
    )


def test_a_shared_book_is_the_account_when_it_holds_everything(tmp_path: Path):
    broker = PaperBroker(sqlite_utils.Database(tmp_path / "l.db"), fee_bps=10, slippage_bps=5)
    broker.execute(order("A", Side.BUY, "0.0123", "1"), as_of=T0)
    prices = {"BTC": D("20123.45")}
    assert broker.book("A", prices, T0) == broker.portfolio(prices, T0)
    other = broker.book("B", prices, T0)
    assert other.positions == {} and other.equity == broker.portfolio(prices, T0).equity


def test_capital_is_an_amount_or_a_share_of_the_account():
    config = loads_config("strategies: {A: {capital: 5000}, B: {capital: 25%}, C: {}}")
    assert capital_by_strategy(config, D(10000)) == {"A": D(5000), "B": D(2500)}
    for bad in ("0", "-5", "0%", "101%", "lots"):
        with pytest.raises(ConfigError):
            loads_config(f"strategies: {{A: {{capital: {bad}}}}}")


def test_without_capital_the_books_share_the_account_but_not_their_positions(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    db = tmp_path / "audit.db"
    result = run(
        "run", FIRST, SECOND, "--replay", str(replay_dir), "--from", "2023-03-10",
        "--to", "2023-03-11", "--every", "1d", "--audit", str(db),
    )  # fmt: skip
    assert [line.split("  [")[0] for line in result.stdout.splitlines()] == [
        "2023-03-10T00:00:00Z  2 decisions: 1 BUY, 1 SELL (1 filled, 1 with nothing to sell)",
        "2023-03-11T00:00:00Z  2 decisions: 1 BUY, 1 SELL "
        "(1 denied by risk, 1 with nothing to sell)",
    ]
    # Sized on the whole 10,000 account, exactly as when it runs alone; nothing sold it.
    assert [row[:4] for row in fills(db)] == [
        ("Banking_Crisis_Pipeline", "BUY", "2023-03-10", D("0.02455527"))
    ]
