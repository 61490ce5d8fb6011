"""What the risk gate answers: every check's outcome, a value the pipeline records as it is.

A ``RiskDecision`` is frozen: the pipeline's own denials (no price, nothing to sell, a venue that
cannot report holdings...) are ``RiskDecision.denied(code, details)`` or ``with_check(...)``
values too, never a dict edited after the fact. ``to_dict()`` is the JSON the audit record
keeps, unchanged since records were first written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from signalops.canonical import (
    all_text,
    canonical_json_of_plain,
    iso,
    json_ready,
    json_safe,
    ready_json,
)
from signalops.codes import Code
from signalops.observation import utc


def _frozen(details: Mapping[str, Any]) -> Mapping[str, Any]:
    return details if type(details) is MappingProxyType else MappingProxyType(dict(details))


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    """``json_safe(details)``, with the values a check records (text, numbers, Decimals, times,
    str enums) converted inline as ``json_safe`` converts them, in a copy of its own (lists
    too): the caller's to change. ``RiskDecision.to_json`` encodes from ``json_ready``."""
    out = {}
    for key, value in details.items():
        kind = type(value)
        if kind is str or kind is int or kind is bool or value is None:
            plain = value
        elif kind is Decimal:
            plain = str(value)
        elif kind is datetime:
            plain = iso(value if value.tzinfo is UTC else utc(value))
        elif isinstance(value, str):  # a StrEnum member stays itself, as in json_safe
            plain = value
        elif kind is list and all_text(value):  # json_safe's copy: each item stays itself
            plain = list(value)
        else:
            plain = json_safe(value)
        out[key if type(key) is str else str(key)] = plain
    return out


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
        # The gate passes a Code and a read-only view: skip the conversions (12 per decision).
        if type(self.code) is not Code:
            object.__setattr__(self, "code", Code(self.code))
        if type(self.details) is not MappingProxyType:
            object.__setattr__(self, "details", _frozen(self.details))

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "passed": self.passed, "details": _plain(self.details)}


# The slots' own setters: what the frozen dataclass's __init__ does, without the call overhead.
_SET_CODE = vars(CheckResult)["code"].__set__
_SET_PASSED = vars(CheckResult)["passed"].__set__
_SET_DETAILS = vars(CheckResult)["details"].__set__


def checked(code: Code, passed: bool, details: MappingProxyType[str, Any]) -> CheckResult:
    """``CheckResult(code, passed, details)`` for values that already have their types.

    The gate makes twelve per decision; a frozen dataclass's ``__init__`` (a generic
    ``object.__setattr__`` per field, then ``__post_init__``) costs three times this.
    """
    result = object.__new__(CheckResult)
    _SET_CODE(result, code)
    _SET_PASSED(result, passed)
    _SET_DETAILS(result, details)
    return result


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

    def to_json(self) -> str:
        """``canonical_json_of_plain(self.to_dict())``: the details walked once, and orjson's
        bytes taken as they are when nothing in them can differ from the stdlib's (no float, no
        odd enum): the audit record of every gated decision holds it. Only what JSON cannot
        write as it is gets converted (``json_ready``), in a copy nobody else sees; a key that
        is not text (which ``to_dict`` turns to text) sends it the general way."""
        checks = []
        sure = self.approved.__class__ is bool
        for check in self.checks:
            details, plain_sure = json_ready(check.details)
            passed = check.passed
            # ``_value_`` is what ``Enum.value`` reads, without the property's call.
            checks.append({"code": check.code._value_, "details": details, "passed": passed})
            sure = sure and plain_sure and passed.__class__ is bool
        value = {"approved": self.approved, "checks": checks}
        text = ready_json(value, sure)
        if text is None:  # a key that is not text, an int beyond 64 bits: the general way
            return canonical_json_of_plain(self.to_dict())
        return text


__all__ = ["CheckResult", "RiskDecision", "RiskReason"]
