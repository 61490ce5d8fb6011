"""The order in which a decision and what follows it are written: the crash-safety contract.

Every evaluation becomes exactly one ``decision`` record, whatever happens to it; what follows
(fills, approvals, expiries, orders) are further records that reference it. Why the order of
writes matters:

- paper: the decision record (or, for an approved decision, the approval record), the simulated
  fill and the fill record are written in ONE SQLite transaction, so a crash leaves either all
  of them or none (and a restart redoes the cycle);
- auto: the decision record (or the approval record) and an ``order_submitted`` record are
  committed BEFORE the order is sent (write-ahead). A crash between sending and recording leaves
  an ``order_submitted`` with no ``order_result``; ``reconcile()`` asks the venue by client
  order id and records what it says, so no decision is ever sent twice;
- a decision id is derived from (strategy hash, asset, as_of, mode), so a restart that replays a
  cycle finds its decisions already recorded and skips them, before fetching any data for them.

``Recorder`` is the only writer of these records in the pipeline; each method is one of the
steps above and opens the transaction it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from signalops.audit.queries import records_of_kind
from signalops.audit.record import build_decision_record, build_followup
from signalops.audit.store import AuditLog
from signalops.canonical import iso
from signalops.evaluation.tree import Evaluation
from signalops.execution.base import Executor, Reconciles
from signalops.execution.paper import PaperBroker
from signalops.orders import ExecutionResult, Mode, OrderIntent
from signalops.risk import RiskDecision
from signalops.side import Side
from signalops.strategy.model import Strategy

# What a paper fill is recorded with, once its result is known (in the same transaction).
FirstRecord = Callable[[ExecutionResult], Mapping[str, Any]]


@dataclass
class Recorder:
    """Writes a pipeline's records to ``audit`` in the contract's order; ``clock`` dates them."""

    audit: AuditLog
    broker: PaperBroker
    clock: Callable[[], datetime]

    def decision_record(
        self,
        strategy: Strategy,
        evaluation: Evaluation,
        mode: Mode,
        intent: OrderIntent | None,
        risk: RiskDecision | None,
        result: ExecutionResult,
    ) -> dict[str, Any]:
        return build_decision_record(
            strategy=strategy,
            evaluation=evaluation,
            mode=mode.value,
            intent=intent,
            risk=None if risk is None else risk.to_dict(),
            execution=result,
            recorded_at=self.clock(),
        )

    def approval_record(self, decision_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
        return build_followup("approval", decision_id=decision_id, recorded_at=at, **fields)

    def append(self, record: Mapping[str, Any]) -> None:
        """A record with nothing to keep in step with it (a HOLD, a denial, a rejection)."""
        self.audit.append(record)

    def paper(self, intent: OrderIntent, as_of: datetime, first: FirstRecord) -> ExecutionResult:
        """Fill on paper; the fill, ``first(result)`` and the fill record in one transaction."""
        with self.audit.transaction():
            result = self.broker.execute(intent, as_of=as_of)
            self.audit.append(first(result))
            self._append_fill(intent, result, self.clock())
        return result

    def send(
        self, executor: Executor, intent: OrderIntent, as_of: datetime, first: Mapping[str, Any]
    ) -> ExecutionResult:
        """Write-ahead: ``first`` and ``order_submitted`` committed, then send, then the answer."""
        with self.audit.transaction():
            self.audit.append(first)
            self.audit.append(
                _order_record("order_submitted", intent, self.clock(), order=intent.to_dict())
            )
        result = executor.execute(intent, as_of=as_of)
        self.result(intent, result)
        return result

    def result(self, intent: OrderIntent, result: ExecutionResult) -> None:
        """The venue's answer to a sent order, and its fill if any, together."""
        with self.audit.transaction():
            self.audit.append(
                _order_record("order_result", intent, self.clock(), execution=result.to_dict())
            )
            self._append_fill(intent, result, self.clock())

    def _append_fill(self, intent: OrderIntent, result: ExecutionResult, at: datetime) -> None:
        if result.fill is not None:
            self.audit.append(_order_record("fill", intent, at, fill=result.fill.to_dict()))

    def expire(self, now: datetime) -> int:
        """An ``expiry`` record for each pending approval past its expiry at ``now``."""
        expired = 0
        for pending in self.audit.pending_approvals(now):
            if pending.expired:
                self.audit.append(
                    build_followup(
                        "expiry",
                        decision_id=pending.decision_id,
                        recorded_at=self.clock(),
                        approval_id=pending.approval_id,
                        expires_at=iso(pending.expires_at),
                    )
                )
                expired += 1
        return expired

    def reconcile(self, executor: Reconciles) -> int:
        """Record the venue's answer for orders sent but not recorded (a crash in between)."""
        results = {r["decision_id"] for r in records_of_kind(self.audit, "order_result")}
        fixed = 0
        for record in records_of_kind(self.audit, "order_submitted"):
            if record["decision_id"] in results:
                continue
            order = record["order"]
            found = executor.reconcile(order["client_order_id"], order["asset"])
            self.result(_intent_from_dict(order), found)
            fixed += 1
        return fixed


def _order_record(kind: str, intent: OrderIntent, at: datetime, **fields: Any) -> dict[str, Any]:
    """A follow-up about ``intent``'s order, which names its decision and client order id."""
    return build_followup(
        kind,
        decision_id=intent.decision_id,
        recorded_at=at,
        client_order_id=intent.client_order_id,
        **fields,
    )


def _intent_from_dict(order: Mapping[str, Any]) -> OrderIntent:
    return OrderIntent(
        decision_id=order["decision_id"],
        client_order_id=order["client_order_id"],
        strategy=order["strategy"],
        asset=order["asset"],
        side=Side(order["side"]),
        quantity=Decimal(order["quantity"]),
        reference_price=Decimal(order["reference_price"]),
        notional=Decimal(order["notional"]),
        as_of=datetime.fromisoformat(order["as_of"].replace("Z", "+00:00")),
        mode=Mode(order["mode"]),
    )


__all__ = ["FirstRecord", "Recorder"]
