"""What an executor is, and the capabilities some executors add, as runtime-checkable protocols.

    Executor          execute(intent, as_of) -> ExecutionResult: every mode has it
    ReportsHoldings   portfolio(prices, as_of) -> PortfolioView: the venue's own account
                      (``CcxtExecutor``); the risk gate then sizes and checks against it
                      instead of the paper ledger
    Reconciles        reconcile(client_order_id, asset) -> ExecutionResult: what became of an
                      order sent before a crash (``CcxtExecutor``, ``ClobExecutor``)

The pipeline asks ``isinstance(executor, ReportsHoldings)`` rather than probing attributes, so
a new venue states what it can do by the methods it defines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from signalops.orders import ExecutionResult, Mode, OrderIntent, PortfolioView


@runtime_checkable
class Executor(Protocol):
    """Turns an approved intent into an outcome; never raises for a venue's refusal.

    A refused or failed order is ``ExecutionResult(FAILED, message=...)``: like risk denials,
    execution failures are values that get recorded, not exceptions that stop the loop.
    """

    mode: Mode

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult: ...


@runtime_checkable
class ReportsHoldings(Protocol):
    """An executor that can say what the account at its venue holds, valued at ``prices``.

    Raises ``PortfolioUnavailable`` when the venue cannot be asked.
    """

    def portfolio(self, prices: Mapping[str, Decimal], as_of: datetime) -> PortfolioView: ...


@runtime_checkable
class Reconciles(Protocol):
    """An executor that can find out what became of an order it may have sent; never raises."""

    def reconcile(self, client_order_id: str, asset: str) -> ExecutionResult: ...


@dataclass(frozen=True)
class VenuePortfolio(PortfolioView):
    """A venue's holdings; ``unpriced`` are currency -> quantity held that no price values."""

    unpriced: Mapping[str, Decimal] = field(default_factory=dict)


__all__ = ["Executor", "Reconciles", "ReportsHoldings", "VenuePortfolio"]
