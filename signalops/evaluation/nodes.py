"""The nodes of a compiled logic tree and the operands of its comparisons: frozen values only.

Both the evaluator (``tree``) and the code generator (``_codegen``) build on these, so they sit
below both: nothing here evaluates a whole tree or draws one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from signalops.catalogue.spec import MetricSpec
from signalops.codes import Code
from signalops.observation import Request


class Status(IntEnum):
    FAIL = 0
    PASS = 1
    UNKNOWN = 2


# Why a leaf is UNKNOWN: stable codes that audit records and filters rely on.
MISSING = Code.MISSING  # no observation for the request
STALE = Code.STALE  # observation older than the leaf's max_age
FUTURE = Code.FUTURE  # observation dated after as_of: would be look-ahead
NOT_A_NUMBER = Code.NOT_A_NUMBER  # NaN, infinity or not numeric
ADAPTER_ERROR = Code.ADAPTER_ERROR  # the adapter answered with a DataError
MATH_ERROR = Code.MATH_ERROR  # e.g. division by zero in the leaf's arithmetic


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node came from: file, 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


# --- operands: the value side of a comparison --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric with its normalised parameters, as the catalogue declared it."""

    source: str
    name: str
    params: tuple[tuple[str, Any], ...]
    asset_scoped: bool
    spec: MetricSpec | None = field(default=None, compare=False, repr=False)
    given: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def request(self, asset: str | None) -> Request:
        return Request(self.source, self.name, self.params, asset if self.asset_scoped else None)

    def render(self, *, full: bool = False) -> str:
        """``rsi(14)``: the parameters the author gave (all of them with ``full``).

        Leading parameters read positionally; once one is skipped the rest are named, so the
        rendering can be pasted back into a ``when:`` expression unchanged.
        """
        shown = []
        positional = True
        params = self.params
        prefix = ""
        if params and params[0][0] == "market":
            # Markets read as the expression language writes them: polymarket('slug').yes
            prefix = f"{self.source}({params[0][1]!r})."
            params = params[1:]
        for name, value in params:
            param = self.spec.param(name) if self.spec else None
            if not (full or name in self.given or param is None or param.required):
                positional = False
                continue
            text = param.render(value) if param else repr(value)
            shown.append(text if positional and not full else f"{name}={text}")
        if not shown:
            return prefix + self.name
        return f"{prefix}{self.name}({', '.join(shown)})"


@dataclass(frozen=True, slots=True)
class Const:
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Operand


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * /
    left: Operand
    right: Operand


Operand = Metric | Const | Neg | Arith

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def render_operand(operand: Operand, parent: int = 0) -> str:
    if isinstance(operand, Metric):
        return operand.render()
    if isinstance(operand, Const):
        return operand.text
    if isinstance(operand, Neg):
        return "-" + render_operand(operand.operand, 3)
    level = _PRECEDENCE[operand.op]
    text = (
        f"{render_operand(operand.left, level)} {operand.op} "
        f"{render_operand(operand.right, level + 1)}"
    )
    return f"({text})" if level < parent else text


def operand_value(operand: Operand, values: Mapping[Metric, Any]) -> float | None:
    """The operand's value given metric values; None when a value is missing or not computable."""
    if isinstance(operand, Const):
        return operand.value
    if isinstance(operand, Metric):
        value = values.get(operand)
        return value if is_number(value) else None
    if isinstance(operand, Neg):
        inner = operand_value(operand.operand, values)
        return None if inner is None else -inner
    left, right = operand_value(operand.left, values), operand_value(operand.right, values)
    if left is None or right is None:
        return None
    if operand.op == "/":
        result = left / right if right != 0 else math.nan
    else:
        result = {"+": left + right, "-": left - right, "*": left * right}[operand.op]
    return result if math.isfinite(result) else None


def operand_metrics(operand: Operand) -> Iterator[Metric]:
    if isinstance(operand, Metric):
        yield operand
    elif isinstance(operand, Neg):
        yield from operand_metrics(operand.operand)
    elif isinstance(operand, Arith):
        yield from operand_metrics(operand.left)
        yield from operand_metrics(operand.right)


# --- nodes -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Common to every node: its place in the flat status array, its YAML path and span.

    ``text`` is how a trader would read the node (the expression as written, the rule id).
    """

    index: int
    path: str
    span: Span
    text: str

    @property
    def children(self) -> tuple[Node, ...]:
        return ()

    def walk(self) -> Iterator[Node]:
        """Pre-order: the node, then its descendants."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True, slots=True, kw_only=True)
class Predicate(Node):
    """A comparison leaf: ``left op right`` or ``left between low and high``.

    ``metrics`` are the distinct metrics the leaf reads; ``max_ages`` (seconds) align with them.
    """

    left: Operand
    op: str
    right: tuple[Operand, ...]
    metrics: tuple[Metric, ...]
    max_ages: tuple[int, ...]
    rule: str | None = None
    description: str | None = None

    @property
    def source(self) -> str:
        return self.metrics[0].source if self.metrics else ""

    def threshold_text(self) -> str:
        """The comparison without its subject, e.g. ``< 1.5`` or ``between 30 and 70``."""
        if self.op == "between":
            low, high = (render_operand(r) for r in self.right)
            return f"between {low} and {high}"
        return f"{self.op} {render_operand(self.right[0])}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllOf(Node):
    items: tuple[Node, ...]
    label: str | None = None  # rule or veto id when the group is a whole rule
    source: str | None = None
    description: str | None = None

    @property
    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True, kw_only=True)
class AnyOf(Node):
    items: tuple[Node, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True, kw_only=True)
class AtLeast(Node):
    n: int
    items: tuple[Node, ...]

    @property
    def children(self) -> tuple[Node, ...]:
        return self.items


@dataclass(frozen=True, slots=True, kw_only=True)
class Not(Node):
    item: Node

    @property
    def children(self) -> tuple[Node, ...]:
        return (self.item,)


def is_number(value: Any) -> bool:
    return value.__class__ in (int, float) and math.isfinite(value)
