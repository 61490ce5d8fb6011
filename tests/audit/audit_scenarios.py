"""Shared by the audit tests: plain objects and helpers, imported by name.

Not a conftest.py: a second ``conftest`` module would shadow the root one that other tests
import from (``from conftest import DATA``). Decision records are built the real way: a real
strategy file, hand-made observations, real orders and execution results; logs are real SQLite
files in ``tmp_path``.

The strategy is ``strategies/banking_crisis_dip.yaml``: BUY when daily RSI(14) < 30, SELL when
RSI > 55 or the 7-day return < -15%, and a veto that blocks BUY while USDC's supply falls by more
than 1B over two days.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from signalops.audit.expand import remember
from signalops.audit.record import build_decision_record
from signalops.audit.schema import record_errors
from signalops.audit.store import AuditLog
from signalops.evaluation.tree import Evaluation
from signalops.observation import DataError, Observation
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Fill,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
)
from signalops.strategy import Strategy, load

REPO = Path(__file__).resolve().parents[2]
STRATEGY_FILE = "strategies/banking_crisis_dip.yaml"
AS_OF = datetime(2023, 3, 13, tzinfo=UTC)
DATA_AGE = timedelta(hours=1)

# (rsi, 7-day return, USDC 2-day net flow) for each situation; None = no observation.
VALUES = {
    "buy": (25.0, -0.02, -5e8),  # oversold, no outflow: BUY
    "blocked": (25.0, -0.02, -4.1e9),  # oversold, but USDC is fleeing: BLOCKED
    "hold": (45.0, -0.02, -5e8),  # not oversold: HOLD
}

RISK_APPROVED = {
    "approved": True,
    "checks": [
        {
            "code": "MAX_POSITION",
            "passed": True,
            "details": {"limit": "10% of equity", "would_be": "5%"},
        },
        {"code": "DAILY_LOSS", "passed": True, "details": {}},
    ],
}
RISK_DENIED = {
    "approved": False,
    "checks": [
        {
            "code": "MAX_POSITION",
            "passed": False,
            "details": {"limit": "10% of equity", "would_be": "14.2%"},
        },
        {"code": "DAILY_LOSS", "passed": True, "details": {}},
    ],
}


def load_strategy() -> Strategy:
    # Loaded by its repository-relative name, as the CLI would: records cite that name.
    with contextlib.chdir(REPO):
        return load(STRATEGY_FILE)


@dataclass(frozen=True)
class Scenarios:
    """Builds evaluations and decision records for the situations the tests talk about."""

    strategy: Strategy

    def evaluate(
        self,
        values: tuple[Any, Any, Any],
        *,
        as_of: datetime = AS_OF,
        asset: str = "BTC",
        age: timedelta = DATA_AGE,
    ) -> Evaluation:
        observations = {}
        for request, value in zip(self.strategy.requests(asset), values, strict=True):
            if value is None:
                continue
            if isinstance(value, DataError):
                observations[request] = value
            else:
                observations[request] = Observation(
                    value, as_of - age, request.source, fetched_at=as_of
                )
        return self.strategy.evaluate(observations, as_of, asset)

    def intent(self, *, as_of: datetime = AS_OF, asset: str = "BTC", mode: str = "paper"):
        ident = decision_id(self.strategy.content_hash, asset, as_of, mode)
        return OrderIntent(
            decision_id=ident,
            client_order_id=client_order_id(ident),
            strategy=self.strategy.name,
            asset=asset,
            side=Side.BUY,
            quantity=Decimal("0.05"),
            reference_price=Decimal("20000"),
            notional=Decimal("1000.00"),
            as_of=as_of,
            mode=Mode(mode),
        )

    def fill(self, intent: OrderIntent, *, price: str = "20010", at: datetime = AS_OF) -> Fill:
        return Fill(
            client_order_id=intent.client_order_id,
            asset=intent.asset,
            side=intent.side,
            quantity=intent.quantity,
            price=Decimal(price),
            fee=Decimal("1.0005"),
            at=at,
            venue="paper",
        )

    def record(
        self,
        situation: str,
        *,
        as_of: datetime = AS_OF,
        asset: str = "BTC",
        recorded_at: datetime | None = None,
        values: tuple[Any, Any, Any] | None = None,
    ) -> dict[str, Any]:
        """``buy`` (paper fill), ``blocked``, ``denied`` (risk gate), ``hold``, or ``pending``
        (notify mode, waiting for approval for one hour)."""
        mode = "notify" if situation == "pending" else "paper"
        key = situation if situation in VALUES else "buy"
        evaluation = self.evaluate(values or VALUES[key], as_of=as_of, asset=asset)
        intent = risk = execution = None
        if situation in ("buy", "denied", "pending"):
            intent = self.intent(as_of=as_of, asset=asset, mode=mode)
        if situation == "buy":
            risk = RISK_APPROVED
            execution = ExecutionResult(
                ExecutionStatus.FILLED, "paper fill", fill=self.fill(intent, at=as_of)
            )
        elif situation == "denied":
            risk = RISK_DENIED
            execution = ExecutionResult(
                ExecutionStatus.NOT_EXECUTED, "denied by the risk gate: MAX_POSITION"
            )
        elif situation == "pending":
            risk = RISK_APPROVED
            execution = ExecutionResult(
                ExecutionStatus.PENDING_APPROVAL,
                "waiting for approval",
                approval_id=f"apr-{intent.decision_id.removeprefix('dec-')[:12]}",
                expires_at=as_of + timedelta(hours=1),
            )
        return build_decision_record(
            strategy=self.strategy,
            evaluation=evaluation,
            mode=mode,
            intent=intent,
            risk=risk,
            execution=execution,
            recorded_at=recorded_at or as_of + timedelta(seconds=5),
            environ={},
        )


STRATEGY = load_strategy()
SCENARIOS = Scenarios(STRATEGY)
# Its tree is known to the tests' process, so that a compact record built here expands (and
# ``why`` draws it) without a log, whatever order the tests run in.
remember(STRATEGY)


@contextlib.contextmanager
def schema_checked_log(path: Path) -> Iterator[AuditLog]:
    """An audit log; when the block ends, every record in it must satisfy the JSON Schema.

    Records of the same shape are validated once (jsonschema takes milliseconds per record, and
    some tests append thousands of clones).
    """
    with AuditLog(path) as opened:
        yield opened
        seen = set()
        for record in opened.records():
            shape = shape_of(record)
            if shape not in seen:
                seen.add(shape)
                assert record_errors(record) == [], record["id"]


def shape_of(record: dict[str, Any]) -> str:
    """What varies between record shapes: kind, verdict, execution, risk, values' types."""
    execution = record.get("execution") or {}
    return repr(
        (
            record["kind"],
            record.get("verdict"),
            record.get("strategy", {}).get("name"),
            execution.get("status"),
            (record.get("risk") or {}).get("approved"),
            [type(o["value"]).__name__ for o in record.get("observations", [])],
        )
    )


def tamper(path: Path, *statements: tuple[str, tuple[Any, ...]] | str) -> None:
    """Change the file behind the log's back, as someone with the file and sqlite3 could."""
    conn = sqlite3.connect(path)
    try:
        for trigger in ("records_no_update", "records_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for statement in statements:
            sql, params = (statement, ()) if isinstance(statement, str) else statement
            conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
