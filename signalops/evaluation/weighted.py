"""Weighted votes: each child's weight, the three-valued vote over them, a child rebuilt from JSON.

A ``Weighted`` node PASSes when the children that PASS carry at least ``pass_at`` of the total
weight. Weights are fixed numbers, or measured hit rates read from two ``hit_rate``
observations per child (``hits``, ``signals``: see ``signalops.evaluation.hit_rate``, which
answers them from history available at ``as_of``). Being observations, they are recorded with
every decision like any other data, so a decision's weights are re-derived from its record.

Weights (``weights_of``):

- fixed: the number written;
- hit rate: ``hits / signals``; with fewer than ``min_samples`` signals the stated ``prior``
  (the trace says ``prior (n < min)``);
- unknown: an observation that is missing, not a number, from the future, older than one step
  (the counts are recomputed at every step) or not a pair of whole counts with hits <= signals.

The vote, in Kleene's logic, fails closed:

- a weight that is unknown makes the vote UNKNOWN (what it would be is not known), unless every
  child FAILs: then no weight can make it pass, and it FAILs;
- ``low`` = weight of the PASS children / total weight (UNKNOWN children counted as FAIL),
  ``high`` = weight of the PASS and UNKNOWN children / total (UNKNOWN counted as PASS);
- PASS when ``low >= pass_at``, FAIL when ``high < pass_at``, else UNKNOWN: the vote passes only
  if it would whatever the UNKNOWN children turn out to be, and fails only if it would too;
- a total weight of 0 (no child has earned any) is a vote of 0: FAIL.

Sums run over the children in order, one addition each, so that the vectorised evaluator
(``signalops.evaluation.vectorized``) reaches the same floats bit for bit.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from signalops.codes import Code
from signalops.evaluation.nodes import (
    ADAPTER_ERROR,
    FUTURE,
    MISSING,
    NOT_A_NUMBER,
    STALE,
    AllOf,
    AnyOf,
    Arith,
    AtLeast,
    Const,
    HitRate,
    Metric,
    Neg,
    Node,
    Not,
    Operand,
    Predicate,
    Span,
    Weighted,
)
from signalops.observation import DataError, Observation

FIXED, HIT_RATE, PRIOR, UNKNOWN_WEIGHT = "fixed", "hit_rate", "prior", "unknown"
BAD_COUNTS = Code.BAD_DATA  # the counts are not whole numbers with hits <= signals

__all__ = [
    "FIXED",
    "HIT_RATE",
    "PRIOR",
    "UNKNOWN_WEIGHT",
    "Vote",
    "WeightReading",
    "condition_from_json",
    "hit_rate_weight",
    "vote",
    "vote_function",
    "weights_of",
]


class WeightReading(NamedTuple):
    """One child's weight and where it came from (``source``: fixed, hit_rate, prior, unknown).

    ``hits``/``signals`` are the counts read (None for a fixed weight or an unusable reading),
    ``data_time`` the counts' time (Unix seconds), ``reason`` why the weight is unknown (a data
    code, as a leaf's) and ``error`` what the source said when it answered with an error;
    ``detail`` is what it said about the window it counted (bars, evaluated, unpriced).
    """

    weight: float | None
    source: str
    hits: float | None = None
    signals: float | None = None
    data_time: float | None = None
    reason: str | None = None
    error: str | None = None
    detail: Any = None


class Vote(NamedTuple):
    """The vote's status and its share of the weight (None when a weight is unknown)."""

    status: int
    low: float | None
    high: float | None


def _reading(obs: Any, max_age: int, now: float) -> tuple[float | None, str | None]:
    """An observation's value when usable, else why not: the tests a leaf makes, in its order."""
    if obs.__class__ is Observation:
        value = obs.value
        if value - value != 0:  # NaN or an infinity
            return None, NOT_A_NUMBER
        age = now - obs.epoch
        if not age >= 0:
            return None, FUTURE
        if age > max_age:
            return None, STALE
        return value, None
    return None, MISSING if obs is None else ADAPTER_ERROR


def hit_rate_weight(spec: HitRate, hits: Any, signals: Any, now: float) -> WeightReading:
    """A child's weight from its ``hits`` and ``signals`` observations at ``now``."""
    k, why = _reading(hits, spec.step, now)
    n, why_n = _reading(signals, spec.step, now)
    detail = signals.detail if signals.__class__ is Observation else None
    if k is None or n is None:
        error = _error(hits) or _error(signals)
        return WeightReading(None, UNKNOWN_WEIGHT, k, n, None, why or why_n, error, detail)
    if not (0 <= k <= n and k == math.floor(k) and n == math.floor(n)):
        return WeightReading(None, UNKNOWN_WEIGHT, k, n, hits.epoch, BAD_COUNTS, None, detail)
    if n < spec.min_samples:
        return WeightReading(spec.prior, PRIOR, k, n, hits.epoch, None, None, detail)
    return WeightReading(k / n, HIT_RATE, k, n, hits.epoch, None, None, detail)


def _error(obs: Any) -> str | None:
    """What a source said instead of answering (the trace's wording for a leaf's reading)."""
    if isinstance(obs, DataError):
        return f"{obs.reason}: {obs.message}"
    if obs is not None and obs.__class__ is not Observation:
        return f"not an Observation or DataError: {type(obs).__name__}"
    return None


def weights_of(
    node: Weighted, observations: Sequence[Any], now: float
) -> tuple[WeightReading, ...]:
    """Each child's weight; ``observations`` are ``node.metrics``' (hits, signals per child)."""
    spec = node.hit_rate
    if spec is None:
        return tuple(WeightReading(w, FIXED) for w in node.weights)
    return tuple(
        hit_rate_weight(spec, observations[2 * i], observations[2 * i + 1], now)
        for i in range(len(node.items))
    )


def vote(statuses: Sequence[int], weights: Sequence[float | None], pass_at: float) -> Vote:
    """The vote of children with these statuses and weights (see the module docstring)."""
    if any(w is None for w in weights):
        if all(status == 0 for status in statuses):
            return Vote(0, 0.0, 0.0)  # nothing passes or might: 0 of any weight
        return Vote(2, None, None)
    total = low = high = 0.0
    for status, weight in zip(statuses, weights, strict=True):
        assert weight is not None
        total += weight
        low += weight if status == 1 else 0.0
        high += weight if status != 0 else 0.0
    if total > 0:
        low, high = low / total, high / total
    else:
        low = high = 0.0
    return Vote(1 if low >= pass_at else (0 if high < pass_at else 2), low, high)


def vote_function(node: Weighted, slots: Sequence[int]) -> Callable[[tuple, Sequence, float], int]:
    """``run(children_statuses, observations, now) -> status`` for the generated evaluator;
    ``slots`` are ``node.metrics``' places in the tree's observations."""
    pass_at = node.pass_at
    spec = node.hit_rate
    if spec is None:
        weights = node.weights

        def fixed(statuses: tuple, observations: Sequence, now: float) -> int:
            return vote(statuses, weights, pass_at).status

        return fixed
    pairs = tuple(zip(slots[0::2], slots[1::2], strict=True))

    def measured(statuses: tuple, observations: Sequence, now: float) -> int:
        weights = [
            hit_rate_weight(spec, observations[h], observations[s], now).weight for h, s in pairs
        ]
        return vote(statuses, weights, pass_at).status

    return measured


# --- a child as the hit_rate source receives it ---------------------------------------------------

_SPAN = Span("<hit_rate>", 0, 0)


def condition_from_json(text: str) -> Node:
    """The condition ``condition_json`` wrote, as nodes numbered 0..n-1 in pre-order (a tree of
    its own: ``DecisionTree(entry=node, exit=None, vetoes=())`` evaluates it)."""
    counter = itertools.count()

    def build(doc: dict[str, Any]) -> Node:
        common: dict[str, Any] = {"index": next(counter), "path": "", "span": _SPAN, "text": ""}
        kind = doc["kind"]
        if kind == "predicate":
            metrics = tuple(
                Metric(str(source), str(name), tuple((str(k), v) for k, v in params), bool(scoped))
                for source, name, params, scoped in doc["metrics"]
            )
            return Predicate(
                **common,
                left=_operand(doc["left"], metrics),
                op=str(doc["op"]),
                right=tuple(_operand(r, metrics) for r in doc["right"]),
                metrics=metrics,
                max_ages=tuple(int(age) for age in doc["max_ages"]),
            )
        if kind == "not":
            return Not(**common, item=build(doc["item"]))
        items = tuple(build(child) for child in doc["items"])
        if kind == "all_of":
            return AllOf(**common, items=items)
        if kind == "any_of":
            return AnyOf(**common, items=items)
        if kind == "at_least":
            return AtLeast(**common, n=int(doc["n"]), items=items)
        if kind == "weighted":
            weights = tuple(float(w) for w in doc["weights"])
            return Weighted(**common, items=items, pass_at=float(doc["pass_at"]), weights=weights)
        raise ValueError(f"unknown condition kind {kind!r}")

    return build(json.loads(text))


def _operand(doc: dict[str, Any], metrics: tuple[Metric, ...]) -> Operand:
    if "metric" in doc:
        return metrics[int(doc["metric"])]
    if "const" in doc:
        value = float(doc["const"])
        return Const(value, repr(value))
    if "neg" in doc:
        return Neg(_operand(doc["neg"], metrics))
    return Arith(str(doc["arith"]), _operand(doc["left"], metrics), _operand(doc["right"], metrics))
