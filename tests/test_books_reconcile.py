"""Auto mode: the venue's holdings against the sum of the strategies' venue books.

Through the same recorded Binance spot venue as ``test_auto_mode`` (ccxt's own client, its HTTP
session answered by ``BinanceSpot``): a BUY fills, then BTC leaves the account behind
SignalOps' back; the next order on BTC is a recorded RECONCILE_MISMATCH denial, never sent.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from test_auto_mode import AS_OF, SELL_DAY, BinanceSpot, auto_pipeline, env  # noqa: F401

from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.verify import verify
from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionStatus


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
