"""The nodes of a compiled logic tree and the operands of its comparisons: frozen values only.

Both the evaluator (``tree``) and the code generator (``_codegen``) build on these, so they sit
below both: nothing here evaluates a whole tree or draws one.
"""

from __future__ import annotations

import json
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


# --- weighted votes ----------------------------------------------------------------------------

# The derived source that answers how often a condition's PASS preceded a move
# (``signalops.evaluation.hit_rate``): two metrics per weighted child, computed together.
HIT_RATE_SOURCE = "hit_rate"
HITS, SIGNALS = "hits", "signals"
UP, DOWN = "up", "down"


@dataclass(frozen=True, slots=True)
class HitRate:
    """Where a weighted vote's weights come from when they are measured, not fixed.

    Each child's weight is its hit rate: of the bars ``t = as_of - k * step`` in the last
    ``window`` whose ``horizon`` has ended by ``as_of`` (``horizon <= k * step < window``), those
    where the child PASSed are its signals, and a signal is a hit when the asset's close
    ``horizon`` later had risen by more than ``min_return`` (``direction`` up) or fallen by more
    than it (down). A child with fewer than ``min_samples`` signals weighs ``prior``. Durations
    are seconds; ``window`` and ``horizon`` are whole numbers of ``step``.
    """

    window: int
    horizon: int
    step: int
    min_samples: int
    prior: float
    min_return: float
    direction: str

    @property
    def bars(self) -> int:
        """How many bars the window holds (``window / step``)."""
        return self.window // self.step

    @property
    def lead(self) -> int:
        """The horizon in bars: a signal's outcome is known this many bars after it."""
        return self.horizon // self.step

    def params(self, condition: str) -> tuple[tuple[str, Any], ...]:
        """The parameters of the ``hit_rate`` requests for the child ``condition`` (its
        ``condition_json``): what the source needs, not how the vote uses the counts."""
        return (
            ("condition", condition),
            ("window", self.window),
            ("horizon", self.horizon),
            ("step", self.step),
            ("min_return", self.min_return),
            ("direction", self.direction),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Weighted(Node):
    """A weighted vote: PASS when the children that PASS carry at least ``pass_at`` of the weight.

    Weights are ``weights`` (fixed, aligned with ``items``) or, with ``hit_rate``, each child's
    measured hit rate, read from two ``hit_rate`` observations per child (``hits``, ``signals``,
    derived here from the child's structure so that a rebuilt node asks the same questions).
    """

    items: tuple[Node, ...]
    pass_at: float
    weights: tuple[float, ...] = ()
    hit_rate: HitRate | None = None
    label: str | None = None  # "rules" when the node votes over a rule list
    hits: tuple[Metric, ...] = field(init=False, repr=False, compare=False)
    signals: tuple[Metric, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hits: tuple[Metric, ...] = ()
        signals: tuple[Metric, ...] = ()
        spec = self.hit_rate
        if spec is not None:
            params = [spec.params(condition_json(item)) for item in self.items]
            hits = tuple(Metric(HIT_RATE_SOURCE, HITS, p, True) for p in params)
            signals = tuple(Metric(HIT_RATE_SOURCE, SIGNALS, p, True) for p in params)
        object.__setattr__(self, "hits", hits)
        object.__setattr__(self, "signals", signals)

    @property
    def children(self) -> tuple[Node, ...]:
        return self.items

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The observations the weights read: each child's hits, then its signals."""
        return tuple(m for pair in zip(self.hits, self.signals, strict=True) for m in pair)


def weighted_document(node: Weighted) -> dict[str, Any]:
    """A weighted vote's own fields as JSON (its children aside): what a stored tree keeps of it
    (``signalops.audit.trees``); ``weighted_from_document`` reads it back."""
    spec = node.hit_rate
    return {
        "pass_at": node.pass_at,
        "weights": list(node.weights),
        "hit_rate": None
        if spec is None
        else {
            "window": spec.window,
            "horizon": spec.horizon,
            "step": spec.step,
            "min_samples": spec.min_samples,
            "prior": spec.prior,
            "min_return": spec.min_return,
            "direction": spec.direction,
        },
        "label": node.label,
    }


def weighted_from_document(
    doc: Mapping[str, Any], *, items: tuple[Node, ...], **common: Any
) -> Weighted:
    """The vote ``weighted_document`` wrote, with its ``items`` and the common node fields
    (``index``, ``path``, ``span``, ``text``); numbers typed as the compiler types them, so the
    rebuilt node asks the same ``hit_rate`` questions."""
    spec = doc.get("hit_rate")
    hit_rate = None
    if spec is not None:
        hit_rate = HitRate(
            window=int(spec["window"]),
            horizon=int(spec["horizon"]),
            step=int(spec["step"]),
            min_samples=int(spec["min_samples"]),
            prior=float(spec["prior"]),
            min_return=float(spec["min_return"]),
            direction=str(spec["direction"]),
        )
    return Weighted(
        **common,
        items=items,
        pass_at=float(doc["pass_at"]),
        weights=tuple(float(w) for w in doc["weights"]),
        hit_rate=hit_rate,
        label=doc.get("label"),
    )


def condition_json(node: Node) -> str:
    """What ``node`` tests, as compact canonical JSON: operators, operands, metrics and max ages,
    without paths, spans or texts (where it was written does not change what it asks).

    The ``hit_rate`` source receives a child this way and evaluates it at earlier times
    (``signalops.evaluation.weighted.condition_from_json``).
    """
    return json.dumps(_condition(node), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _condition(node: Node) -> dict[str, Any]:
    if isinstance(node, Predicate):
        metrics = list(node.metrics)
        return {
            "kind": "predicate",
            "left": _operand_json(node.left, metrics),
            "op": node.op,
            "right": [_operand_json(r, metrics) for r in node.right],
            "metrics": [
                [m.source, m.name, [list(p) for p in m.params], m.asset_scoped] for m in metrics
            ],
            "max_ages": list(node.max_ages),
        }
    out: dict[str, Any] = {"items": [_condition(child) for child in node.children]}
    if isinstance(node, AllOf):
        out["kind"] = "all_of"
    elif isinstance(node, AnyOf):
        out["kind"] = "any_of"
    elif isinstance(node, AtLeast):
        out.update(kind="at_least", n=node.n)
    elif isinstance(node, Not):
        out = {"kind": "not", "item": _condition(node.item)}
    elif isinstance(node, Weighted) and node.hit_rate is None:
        out.update(kind="weighted", pass_at=node.pass_at, weights=list(node.weights))
    else:  # the compiler refuses a hit-rate vote inside another's child
        raise ValueError(f"{type(node).__name__} {node.path} cannot be measured by a hit rate")
    return out


def _operand_json(operand: Operand, metrics: list[Metric]) -> dict[str, Any]:
    if isinstance(operand, Metric):
        return {"metric": metrics.index(operand)}
    if isinstance(operand, Const):
        return {"const": operand.value}
    if isinstance(operand, Neg):
        return {"neg": _operand_json(operand.operand, metrics)}
    return {
        "arith": operand.op,
        "left": _operand_json(operand.left, metrics),
        "right": _operand_json(operand.right, metrics),
    }


def is_number(value: Any) -> bool:
    return value.__class__ in (int, float) and math.isfinite(value)
