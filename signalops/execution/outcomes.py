"""Helpers every executor uses to build its results, so reason codes look the same everywhere.

A refusal is a value, not an exception (see ``base.Executor``): ``failed`` builds the FAILED
result with a stable UPPER_SNAKE ``details["reason"]`` that audit queries can filter on, and a
``message`` for people.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from signalops.codes import Code
from signalops.orders import ExecutionResult, ExecutionStatus, OrderIntent


def failed(reason: Code, message: str, **details: Any) -> ExecutionResult:
    return ExecutionResult(
        ExecutionStatus.FAILED, message=message, details={"reason": reason, **details}
    )


def require_aware(moment: datetime, what: str = "as_of") -> None:
    """Naive datetimes are refused: ``iso()`` would read them as local time, silently."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {moment!r}")


def check_intent(intent: OrderIntent) -> ExecutionResult | None:
    """The checks every venue would make anyway; None when the intent is well-formed."""
    if not intent.quantity.is_finite() or intent.quantity <= 0:
        return failed(Code.INVALID_ORDER, f"quantity must be positive, got {intent.quantity}")
    if not intent.reference_price.is_finite() or intent.reference_price <= 0:
        return failed(
            Code.INVALID_ORDER, f"reference price must be positive, got {intent.reference_price}"
        )
    return None


def plain(value: Decimal) -> str:
    """A decimal for people: no exponent, no trailing zeros (``1E+1`` -> ``10``)."""
    return f"{value.normalize():f}"
