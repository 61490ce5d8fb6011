"""The acting decisions' cheaper paths give what the plain paths gave: a follow-up encoded once
is the builder's record to the byte, and reading a strategy's book (not a copy of it) leaves the
book the broker keeps as it was."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlite_utils

from signalops.audit.prepared import PreparedRecord, prepare
from signalops.audit.record import build_followup, prepare_followup
from signalops.execution.paper import PaperBroker
from signalops.orders import (
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)

T0 = datetime(2024, 11, 6, 14, 0, tzinfo=UTC)
D = Decimal


def _intent(side: Side, quantity: str, price: str, *, tag: str = "") -> OrderIntent:
    decision = decision_id(f"strategy-hash{tag}", "BTC", T0, "paper")
    return OrderIntent(
        decision_id=decision,
        client_order_id=client_order_id(decision),
        strategy="Momentum",
        asset="BTC",
        side=side,
        quantity=D(quantity),
        reference_price=D(price),
        notional=D(quantity) * D(price),
        as_of=T0,
        mode=Mode.PAPER,
    )


def _fill() -> Fill:
    return Fill(
        client_order_id="coid-1",
        asset="BTC",
        side=Side.BUY,
        quantity=D("0.12345678"),
        price=D("65001.5"),
        fee=D("8.02"),
        at=T0,
        venue="paper",
        venue_order_id="paper-1",
    )


def _same(prepared: PreparedRecord, built: dict[str, object]) -> None:
    expected = prepare(built)
    assert prepared.text == expected.text
    assert prepared.keys == expected.keys
    assert list(prepared.texts) == list(expected.texts)
    assert prepared.record == built
    for name in ("kind", "id", "schema", "decision_id", "recorded_at", "context", "status"):
        assert getattr(prepared, name) == getattr(expected, name), name


def test_a_fill_record_prepared_at_once_is_the_built_record_to_the_byte() -> None:
    fields = {"client_order_id": "coid-1", "fill": _fill().to_dict()}
    prepared = prepare_followup("fill", decision_id="dec-ab12", recorded_at=T0, **fields)
    _same(prepared, build_followup("fill", decision_id="dec-ab12", recorded_at=T0, **fields))


def test_a_prepared_order_result_keeps_its_status_as_the_built_one_does() -> None:
    execution = {"status": ExecutionStatus.FILLED.value, "message": "ok", "details": {}}
    fields = {"client_order_id": "coid-1", "execution": execution}
    prepared = prepare_followup("order_result", decision_id="dec-ab12", recorded_at=T0, **fields)
    built = build_followup("order_result", decision_id="dec-ab12", recorded_at=T0, **fields)
    _same(prepared, built)
    assert prepared.status == ExecutionStatus.FILLED.value


def test_a_prepared_follow_up_holding_a_secret_is_scrubbed_as_the_built_one_is() -> None:
    environ = {"BINANCE_API_SECRET": "s3cr3t-value-123"}
    execution = {"status": "FAILED", "message": "refused: key s3cr3t-value-123", "details": {}}
    fields = {"client_order_id": "coid-1", "execution": execution}
    prepared = prepare_followup(
        "order_result", decision_id="dec-ab12", recorded_at=T0, environ=environ, **fields
    )
    built = build_followup(
        "order_result", decision_id="dec-ab12", recorded_at=T0, environ=environ, **fields
    )
    _same(prepared, built)
    assert "s3cr3t-value-123" not in prepared.text


def test_a_book_read_leaves_the_strategys_kept_book_unchanged(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "ledger.db")
    broker = PaperBroker(db, fee_bps=10, slippage_bps=0)
    broker.execute(_intent(Side.BUY, "0.5", "60000", tag="a"), as_of=T0)
    prices = {"BTC": D("70000")}
    before = broker.book("Momentum", prices, T0)
    broker.execute(_intent(Side.SELL, "0.5", "70000", tag="b"), as_of=T0)
    assert before.positions["BTC"].quantity == D("0.5")
    after = broker.book("Momentum", prices, T0)
    assert after.positions == {}
    assert after == PaperBroker(db).book("Momentum", prices, T0)
