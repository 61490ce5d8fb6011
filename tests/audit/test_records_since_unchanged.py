"""``AuditLog.records_since`` for follow-up kinds answers "none since" without reading the log
while nothing can have added one; whatever may have added one is read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from signalops.audit.record import build_followup
from signalops.audit.store import AuditLog
from signalops.orders import Fill
from signalops.side import Side

START = datetime(2024, 3, 1, tzinfo=UTC)


def _fill(n: int) -> dict[str, Any]:
    at = START + timedelta(hours=n)
    order = f"so-{n:06d}"
    fill = Fill(order, "BTC", Side.BUY, Decimal("0.01"), Decimal(60000), Decimal(0), at, "x")
    return build_followup(
        "fill",
        decision_id=f"dec-{n:024d}",
        recorded_at=at,
        client_order_id=order,
        fill=fill.to_dict(),
    )


def _ids(found: list[tuple[int, dict[str, Any]]]) -> list[str]:
    return [record["id"] for _, record in found]


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    opened = AuditLog(tmp_path / "audit.db")
    opened.append(_fill(1))
    return opened


def _statements(log: AuditLog) -> list[str]:
    issued: list[str] = []
    log.conn.set_trace_callback(issued.append)
    return issued


def test_asking_again_with_nothing_appended_reads_no_record_row(log: AuditLog) -> None:
    assert _ids(log.records_since("fill", "order_submitted")) == [_fill(1)["id"]]
    issued = _statements(log)
    assert log.records_since("fill", "order_submitted", after_seq=1) == []
    assert [sql for sql in issued if "FROM records" in sql] == []


def test_a_fill_appended_through_the_same_log_is_read(log: AuditLog) -> None:
    assert log.records_since("fill", after_seq=1) == []
    log.append(_fill(2))
    assert _ids(log.records_since("fill", after_seq=1)) == [_fill(2)["id"]]


def test_a_fill_another_connection_committed_is_read(log: AuditLog, tmp_path: Path) -> None:
    assert log.records_since("fill", after_seq=1) == []
    with AuditLog(tmp_path / "audit.db") as other:
        other.append(_fill(2))
    assert _ids(log.records_since("fill", after_seq=1)) == [_fill(2)["id"]]


def test_a_rolled_back_fill_then_another_at_its_seq_is_read(log: AuditLog) -> None:
    with pytest.raises(RuntimeError), log.transaction():
        log.append(_fill(2))
        assert _ids(log.records_since("fill", after_seq=1)) == [_fill(2)["id"]]
        raise RuntimeError("the fill's transaction fails")
    assert log.records_since("fill", after_seq=1) == []
    log.append(_fill(3))  # the seq the rolled-back fill had
    assert _ids(log.records_since("fill", after_seq=1)) == [_fill(3)["id"]]


def test_an_earlier_seq_than_the_one_last_asked_is_read_again(log: AuditLog) -> None:
    assert log.records_since("fill", after_seq=1) == []
    assert _ids(log.records_since("fill", after_seq=0)) == [_fill(1)["id"]]
