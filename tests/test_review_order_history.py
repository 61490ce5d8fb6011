"""Auto mode's per-cycle reads of past orders stay flat as the log grows, and say what the log says.

Each cycle an auto runner looks for orders sent but never answered (``reconcile``), the risk
gate counts the orders of the rate window (ORDER_RATE) and the venue books add up what each
strategy's fills left it. Each must read only the order records appended since it last looked
(a high-water mark on ``seq``), keep only what it still needs (the order times of the rate
window), and answer as a fresh read of the whole log would.

The executor is the real ``ccxt.binance`` class served by ``BinanceSpot`` (``test_auto_mode``);
the past orders are records as ``Recorder`` writes them (order_submitted, order_result, fill).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from binance_recorded import BTC_USDT
from test_auto_mode import (  # noqa: F401
    AS_OF,
    BinanceSpot,
    Killed,
    _trail,
    auto_pipeline,
    env,
)

from signalops import risk
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.record import build_followup
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.config import Config
from signalops.execution.auto import CcxtExecutor, build_auto_executor
from signalops.execution.base import VenuePortfolio
from signalops.execution.paper import PaperBroker
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    Position,
    client_order_id,
)
from signalops.pipeline import Pipeline
from signalops.side import Side

START = datetime(2024, 1, 1, tzinfo=UTC)
EVERY = timedelta(minutes=10)
WINDOW = timedelta(seconds=risk.ORDER_RATE_WINDOW)


class CountingLog(AuditLog):
    """An audit log that counts the records its ``records_since`` reads give back."""

    read = 0

    def records_since(self, *kinds: str, after_seq: int = 0) -> list[tuple[int, dict[str, Any]]]:
        found = super().records_since(*kinds, after_seq=after_seq)
        self.read += len(found)
        return found


def _order(
    n: int,
    *,
    side: Side = Side.BUY,
    quantity: str = "0.001",
    partial: bool = False,
    result_n: int = 1,
) -> list[dict[str, Any]]:
    """Order ``n``'s records as ``Recorder.send`` and ``Recorder.result`` write them."""
    did = f"dec-{n:024d}"
    at = START + n * EVERY
    intent = OrderIntent(
        did,
        client_order_id(did),
        "S",
        "BTC",
        side,
        Decimal(quantity),
        Decimal(20000),
        Decimal(quantity) * 20000,
        at,
        Mode.AUTO,
    )
    fill = Fill(
        intent.client_order_id, "BTC", side, Decimal(quantity), Decimal(20000), Decimal(0), at, "x"
    )
    details = {"partial": True} if partial else {}
    result = ExecutionResult(ExecutionStatus.FILLED, "filled", fill=fill, details=details)
    common = {"decision_id": did, "recorded_at": at, "client_order_id": intent.client_order_id}
    answer = build_followup("order_result", n=result_n, execution=result.to_dict(), **common)
    if result_n > 1:  # a later answer about an order already answered
        return [answer]
    return [
        build_followup("order_submitted", order=intent.to_dict(), **common),
        answer,
        build_followup("fill", fill=fill.to_dict(), **common),
    ]


def _executor(venue: BinanceSpot) -> CcxtExecutor:
    executor = build_auto_executor(live=True)  # credentials from the environment (``env``)
    assert isinstance(executor, CcxtExecutor)
    executor.exchange.enableRateLimit = False
    executor.exchange.set_markets([BTC_USDT])
    executor.exchange.session.mount("https://", venue)
    return executor


def _pipeline(audit: AuditLog, venue: BinanceSpot) -> Pipeline:
    return Pipeline(
        strategies=[],
        adapters={},
        audit=audit,
        broker=PaperBroker(audit.db),
        config=Config(),
        mode=Mode.AUTO,
        auto_executor=_executor(venue),
    )


def _venue(quantity: str = "1000") -> VenuePortfolio:
    position = Position("BTC", Decimal(quantity), Decimal(20000), Decimal(20000))
    return VenuePortfolio(Decimal(0), {"BTC": position}, Decimal(0), Decimal(0))


def test_each_cycle_reads_only_the_order_records_appended_since_the_last_one(
    env: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    with CountingLog(tmp_path / "audit.db") as audit:
        audit.append_many(record for n in range(40) for record in _order(n))
        pipeline, venue = _pipeline(audit, BinanceSpot()), _venue()
        for n in range(40, 43):
            as_of = START + n * EVERY
            audit.append_many(_order(n))
            audit.read = 0
            assert pipeline.reconcile() == 0
            state = pipeline.risk_state(venue, as_of, risk.DEFAULT_LIMITS)
            assert pipeline.reconcile_books("BTC", venue) is None
            # The first cycle reads the log once; later ones its new order's records only
            # (order_submitted + order_result to reconcile, fill + order_submitted for the gate,
            # order_result for the books).
            assert audit.read <= (5 if n > 40 else 5 * (n + 1)), n
            assert len(state.order_times) == 6  # an order every 10 minutes, this hour's
        assert pipeline.reconcile_books("BTC", _venue("0.001")) is not None


def test_an_order_another_process_left_unanswered_after_the_first_cycle_is_reconciled(
    env: None,  # noqa: F811
    replay_store: SnapshotStore,
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.db"
    venue = BinanceSpot()
    runner = auto_pipeline(audit, venue, replay_store, AS_OF)
    assert runner.reconcile() == 0  # nothing to answer: its high-water mark moves on
    dying = BinanceSpot(die="after-placing", orders=venue.orders)  # the same venue's memory
    crashed = auto_pipeline(audit, dying, replay_store, AS_OF)
    with pytest.raises(Killed):  # another process dies after the venue filled its order
        crashed.cycle(AS_OF)
    crashed.audit.close()
    (coid,) = venue.orders

    assert runner.reconcile() == 1
    did = "dec-" + coid.removeprefix("so-")
    assert _trail(runner.audit, did) == ["decision", "order_submitted", "order_result", "fill"]
    assert runner.reconcile() == 0
    assert verify(runner.audit).ok
    runner.audit.close()


def test_the_gates_order_history_keeps_the_rate_window_only_and_reads_back_for_an_older_time(
    env: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    placed = [START + n * EVERY for n in range(200)]
    with AuditLog(tmp_path / "audit.db") as audit:
        audit.append_many(record for n in range(200) for record in _order(n))
        pipeline, venue = _pipeline(audit, BinanceSpot()), _venue()
        for as_of in (placed[100], placed[-1], placed[-1] + WINDOW / 2):
            state = pipeline.risk_state(venue, as_of, risk.DEFAULT_LIMITS)
            assert list(state.order_times) == [t for t in placed if t > as_of - WINDOW]
            # What is kept is the window of the newest time asked about, not every order.
            assert len(pipeline._orders.times) == len(state.order_times)
            assert f"dec-{0:024d}" in state.executed_decisions  # idempotency: every order
            assert len(state.executed_decisions) == 200
            assert dict(state.last_trade) == {"BTC": placed[-1]}
        # An earlier time than the history kept (an approval dated back): read again, exact.
        state = pipeline.risk_state(venue, placed[50], risk.DEFAULT_LIMITS)
        assert list(state.order_times) == [t for t in placed if t > placed[50] - WINDOW]


def _reference_books(audit: AuditLog) -> dict[str, Decimal]:
    """The venue books from a fresh read of the whole log: each order's last answer with a
    fill counts, in the order of its first one (a SELL without ``partial`` closes)."""
    orders: dict[str, tuple[str, Decimal | None]] = {}
    for record in audit.records():
        if record["kind"] != "order_result" or not record["execution"]["fill"]:
            continue
        fill = record["execution"]["fill"]
        decision = audit.get(record["decision_id"]) or {}  # whose: the decision's strategy
        name = str((decision.get("strategy") or {}).get("name"))
        quantity = Decimal(fill["quantity"])
        partial = record["execution"]["details"].get("partial")
        change = quantity if fill["side"] == "BUY" else (-quantity if partial else None)
        orders[record["client_order_id"]] = (name, change)
    books: dict[str, Decimal] = {}
    for name, change in orders.values():
        books[name] = Decimal(0) if change is None else books.get(name, Decimal(0)) + change
    return {name: quantity for name, quantity in books.items() if quantity}


def test_the_venue_books_kept_from_cycle_to_cycle_are_a_fresh_read_of_the_log(
    env: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    with AuditLog(tmp_path / "audit.db") as audit:
        pipeline = _pipeline(audit, BinanceSpot())
        for n in range(120):
            kind = rng.random()
            if kind < 0.55:
                records = _order(n, quantity=f"0.{rng.randint(1, 9)}")
            elif kind < 0.75:
                records = _order(n, side=Side.SELL, quantity="0.1", partial=True)
            elif kind < 0.85:
                records = _order(n, side=Side.SELL)
            else:  # a later answer about an earlier order (another fill of it)
                earlier = rng.randrange(n) if n else 0
                records = _order(earlier, quantity="0.5", result_n=n + 2) if n else []
            for record in records:
                audit.append(record)
            if n % 7 == 0 or n > 110:
                expected = _reference_books(audit)
                assert pipeline._venue_books.update(audit).held("BTC") == expected, n
