"""The one interface every execution mode implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from signalops.orders import ExecutionResult, Mode, OrderIntent


@runtime_checkable
class Executor(Protocol):
    """Turns an approved intent into an outcome; never raises for a venue's refusal.

    A refused or failed order is ``ExecutionResult(FAILED, message=...)``: like risk denials,
    execution failures are values that get recorded, not exceptions that stop the loop.
    """

    mode: Mode

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult: ...
