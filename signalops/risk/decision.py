"""What the risk gate answers: every check's outcome, a value the pipeline records as it is.

A ``RiskDecision`` is frozen: the pipeline's own denials (no price, nothing to sell, a venue that
cannot report holdings...) are ``RiskDecision.denied(code, details)`` or ``with_check(...)``
values too, never a dict edited after the fact. ``to_dict()`` is the JSON the audit record
keeps, unchanged since records were first written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from signalops.canonical import json_safe
from signalops.codes import Code


def _frozen(details: Mapping[str, Any]) -> Mapping[str, Any]:
    return details if isinstance(details, MappingProxyType) else MappingProxyType(dict(details))


@dataclass(frozen=True, slots=True)
class RiskReason:
    """Why a check denied an order: a stable code and JSON-ready-able details."""

    code: Code
    details: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's outcome, passed or not, with the limit and the actual value it compared."""

    code: Code
    passed: bool
    details: Mapping[str, Any]

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", Code(self.code))
        object.__setattr__(self, "details", _frozen(self.details))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "passed": self.passed, "details": json_safe(self.details)}


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """Every check, in order; approved iff none failed."""

    approved: bool
    checks: tuple[CheckResult, ...]

    @classmethod
    def denied(cls, code: Code, details: Mapping[str, Any]) -> RiskDecision:
        """A decision of one failed check: the order never reached the gate's own checks."""
        return cls(False, (CheckResult(code, False, details),))

    def with_check(self, check: CheckResult) -> RiskDecision:
        """This decision with one more check after the others (approved only if it passed)."""
        return RiskDecision(self.approved and check.passed, (*self.checks, check))

    @property
    def denials(self) -> tuple[RiskReason, ...]:
        return tuple(RiskReason(c.code, c.details) for c in self.checks if not c.passed)

    @property
    def codes(self) -> tuple[Code, ...]:
        """The codes of the failed checks, in check order."""
        return tuple(c.code for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {"approved": self.approved, "checks": [c.to_dict() for c in self.checks]}


__all__ = ["CheckResult", "RiskDecision", "RiskReason"]
