"""A follow-up prepared at once (``prepare_followup``: the pipeline's order and fill records,
which the store then seals without encoding them again) is the builder's record to the byte."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from signalops.audit.prepared import PreparedRecord, prepare
from signalops.audit.record import build_followup, prepare_fill, prepare_followup
from signalops.orders import (
    ExecutionStatus,
    Fill,
    Side,
)

T0 = datetime(2024, 11, 6, 14, 0, tzinfo=UTC)
D = Decimal


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
    for name in PreparedRecord.__slots__:
        if name not in ("_record", "_texts"):
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


@dataclass(frozen=True)
class _OwnFill(Fill):
    """A fill of another class: its ``to_dict`` is not known to be plain already."""


def _prepared_fill(fill: Fill, at: datetime = T0, coid: str = "coid-1") -> PreparedRecord:
    return prepare_fill(decision_id="dec-ab12", client_order_id=coid, fill=fill, recorded_at=at)


def _built_fill(fill: Fill, at: datetime = T0, coid: str = "coid-1") -> dict[str, object]:
    fields = {"client_order_id": coid, "fill": fill.to_dict()}
    return build_followup("fill", decision_id="dec-ab12", recorded_at=at, **fields)


@pytest.mark.parametrize(
    ("fill", "at", "coid"),
    [
        (_fill(), T0, "coid-1"),
        (_fill(), T0 + timedelta(microseconds=250), "coid-1"),  # a fraction of a second
        (_fill(), T0.astimezone(timezone(timedelta(hours=-5))), "coid-1"),  # another zone
        (Fill("so-1", 'ÄBC "x"', Side.SELL, D("1E+2"), D("NaN"), D("0"), T0, "p"), T0, "c\n"),
        (_OwnFill(**_fill().__dict__), T0, "coid-1"),  # the general way
    ],
)
def test_a_fill_record_written_from_the_fill_is_the_built_record_to_the_byte(
    fill: Fill, at: datetime, coid: str
) -> None:
    _same(_prepared_fill(fill, at, coid), _built_fill(fill, at, coid))


def test_a_fill_record_holding_a_secret_is_scrubbed_as_the_built_one_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PAPER_VENUE_TOKEN", "venue-secret-42")
    fill = Fill("coid-1", "BTC", Side.BUY, D("1"), D("2"), D("0"), T0, "venue-secret-42")
    prepared = _prepared_fill(fill)
    _same(prepared, _built_fill(fill))
    assert "venue-secret-42" not in prepared.text
