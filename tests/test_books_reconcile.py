"""Auto mode: the venue's holdings against the sum of the strategies' venue books.

Through the same recorded Binance spot venue as ``test_auto_mode`` (ccxt's own client, its HTTP
session answered by ``BinanceSpot``): a BUY fills, then BTC leaves the account behind
SignalOps' back; the next order on BTC is a recorded RECONCILE_MISMATCH denial, never sent.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

from test_auto_mode import (  # noqa: F401
    AS_OF,
    SELL_DAY,
    STRATEGY,
    BinanceSpot,
    auto_pipeline,
    env,
)

from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.verify import verify
from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionStatus
from signalops.workspace import load_strategies


def test_a_venue_holding_less_than_the_books_is_a_recorded_reconcile_denial(
    env: None,  # noqa: F811
    replay_store: SnapshotStore,
    tmp_path: Path,
) -> None:
    venue = BinanceSpot()
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)
    (bought,) = pipeline.cycle(AS_OF).outcomes
    assert bought.status is ExecutionStatus.FILLED
    book = venue.balances["BTC"]  # what filled, less the fee Binance took in BTC
    venue.balances["BTC"] = Decimal("0.01")  # the rest was sold elsewhere

    (sell,) = pipeline.cycle(SELL_DAY).outcomes

    assert (sell.verdict, sell.denials) == (Verdict.SELL, ("RECONCILE_MISMATCH",))
    assert len(venue.sent("POST")) == 1  # only the BUY
    checks = pipeline.audit.get(sell.decision_id)["risk"]["checks"]
    (mismatch,) = [c for c in checks if not c["passed"]]
    assert mismatch["details"] == {
        "asset": "BTC",
        "limit": str(book),
        "actual": "0.01",
        "unit": "asset units held at the venue vs the books' sum",
        "books": {"Technical_Baseline": str(book)},
    }
    assert verify(pipeline.audit).ok
    pipeline.audit.close()


def test_a_venue_holding_what_the_books_say_trades_on(
    env: None,  # noqa: F811
    replay_store: SnapshotStore,
    tmp_path: Path,
) -> None:
    venue = BinanceSpot(balances={"USDT": Decimal("10000"), "BTC": Decimal("0.5")})
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)
    assert pipeline.reconcile_books("BTC", pipeline.auto_executor.portfolio({}, AS_OF)) is None
    pipeline.audit.close()


def test_in_auto_mode_a_strategy_sells_only_what_it_bought_at_the_venue(
    env: None,  # noqa: F811
    replay_store: SnapshotStore,
    tmp_path: Path,
) -> None:
    # "Never_Bought" exits on the same RSI as the baseline but never enters (RSI below 1; below 0
    # would be refused as never true); it comes first, so before books it would have sold the BTC
    # the baseline had just bought.
    never = tmp_path / "never_bought.yaml"
    never.write_text(
        STRATEGY.read_text(encoding="utf-8")
        .replace('"Technical_Baseline"', '"Never_Bought"')
        .replace("oversold: 30", "oversold: 1"),
        encoding="utf-8",
    )
    venue = BinanceSpot()
    pipeline = auto_pipeline(tmp_path / "audit.db", venue, replay_store, AS_OF)
    pipeline = replace(pipeline, strategies=load_strategies([never, STRATEGY]))
    outcomes = pipeline.cycle(AS_OF).outcomes
    assert [(o.strategy, o.verdict.value, o.status.value) for o in outcomes] == [
        ("Never_Bought", "HOLD", "NOT_EXECUTED"),
        ("Technical_Baseline", "BUY", "FILLED"),
    ]
    book = venue.balances["BTC"]

    never_sells, baseline_sells = pipeline.cycle(SELL_DAY).outcomes

    assert (never_sells.verdict, never_sells.denials) == (Verdict.SELL, ("NO_POSITION",))
    details = pipeline.audit.get(never_sells.decision_id)["risk"]["checks"][0]["details"]
    assert details == {
        "asset": "BTC",
        "side": "SELL",
        "book": "Never_Bought",
        "actual": "0",
        "unit": "asset units",
    }
    assert baseline_sells.status is ExecutionStatus.FILLED
    sent = venue.sent("POST")
    assert len(sent) == 2  # the BUY and the baseline's SELL, of what it bought
    assert Decimal(sent[1]["quantity"]) == book.quantize(Decimal("0.00001"), ROUND_DOWN)  # lot
    assert verify(pipeline.audit).ok
    pipeline.audit.close()
