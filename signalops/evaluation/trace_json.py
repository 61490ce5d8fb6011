"""The one JSON format of a tree and its trace: what audit records store and every view reads.

Two shapes of the same node JSON (``kind``, ``node``, ``text``, ``children``...):

- the compiled tree alone (``tree_to_dict``, what ``signalops explain --json`` prints): each node
  with its YAML path and span, each leaf with its metrics and their max ages;
- a trace (``trace_to_dict``, what every decision record holds: stored in a
  ``signalops.audit/1`` record, re-derived from the stored tree for a compact ``/2`` one by
  ``signalops.audit.expand``): each node with its ``status``, and a ``leaves`` list with what
  each leaf saw. It keeps the fields of the original SignalOps
  audit example (``timestamp``, ``asset``, ``decision``, ``triggers_met[]`` with ``source``,
  ``metric``/``market``, ``value``, ``threshold`` as text such as ``"< 1.5"``, ``status``) and
  adds everything needed to replay the decision.

``with_trace`` lays a trace over the tree JSON, which is what ``signalops evaluate`` draws. The
renderer (``signalops.explain.render``) reads only this JSON, so a record from last month is drawn
with last month's tree. Nothing here imports ``rich``: building a record must not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.evaluation.nodes import (
    AllOf,
    AnyOf,
    AtLeast,
    Const,
    Metric,
    Node,
    Not,
    Operand,
    Predicate,
    Status,
    Weighted,
    is_number,
    operand_value,
)
from signalops.evaluation.weighted import FIXED, vote, weights_of
from signalops.observation import DataError, Observation

if TYPE_CHECKING:
    from signalops.evaluation.tree import DecisionTree, Evaluation, Trace
    from signalops.strategy.model import Strategy

_KINDS: dict[type[Node], str] = {
    Predicate: "predicate",
    AllOf: "all_of",
    AnyOf: "any_of",
    AtLeast: "at_least",
    Not: "not",
    Weighted: "weighted",
}


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # NaN/inf are not JSON; keep them visible as text
    if isinstance(value, tuple):
        return [_json_number(v) for v in value]
    return value


def metric_params(metric: Metric) -> dict[str, Any]:
    out = {}
    for name, value in metric.params:
        param = metric.spec.param(name) if metric.spec else None
        out[name] = format_duration(value) if param and param.type == "duration" else value
    return out


def node_kind(node: Node) -> str:
    return _KINDS[type(node)]


# --- a trace, as records store it --------------------------------------------------------------
#
# A record is built for every evaluation, so the trace JSON is built from a plan made once per
# tree (``trace_plan``, kept by ``DecisionTree.trace_plan``): whatever depends only on the tree --
# texts, spans, rendered thresholds, parameters, which metric each leaf reads, which leaves are
# triggers -- is worked out there, and an evaluation fills in only its values, times and statuses.
# Each metric of the tree is converted once per evaluation however many leaves read it. Every
# container in the output is new (templates are copied), so callers may edit what they get.

_STATUS_NAMES = tuple(status.name for status in Status)  # indexed by the int status
_NO_READING: tuple[Any, ...] = (None, None, None, None, None)

# One metric as an evaluation saw it: (raw value, JSON value, data timestamp, age, error).
_Seen = tuple[Any, Any, str | None, float | None, str | None]

# A datetime's isoformat() costs about a microsecond, most of it for the "+00:00" the record
# replaces with a Z; formatting a UTC datetime's fields from a table of two-digit strings gives
# the same text in a third of the time. The last one is remembered because the same object
# repeats: one as_of for every asset of a cycle.
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))
_last_iso: tuple[datetime | None, str | None] = (None, None)


def _iso(moment: datetime) -> str | None:
    """``iso(moment)``, faster for UTC datetimes."""
    global _last_iso
    last, text = _last_iso
    if moment is last:
        return text
    # Exact datetimes only (pandas' Timestamp formats its own way), years of four digits.
    if moment.__class__ is datetime and moment.tzinfo is UTC and moment.year >= 1000:
        two = _TWO_DIGITS
        micro = moment.microsecond
        tail = f".{micro:06d}Z" if micro else "Z"
        text = (
            f"{moment.year}-{two[moment.month]}-{two[moment.day]}"
            f"T{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}{tail}"
        )
    else:
        text = iso(moment)
    _last_iso = (moment, text)
    return text


def _seen(observations: Iterable[Any], now: float) -> list[_Seen]:
    """Each tree metric's reading, in ``tree.metrics`` order (the ``MetricReading`` rules)."""
    out: list[_Seen] = []
    append = out.append
    for obs in observations:
        if obs.__class__ is Observation:
            value = obs.value
            finite = value.__class__ is float and value - value == 0
            shown = value if finite else _json_number(value)
            append((value, shown, _iso(obs.as_of), now - obs.epoch, None))
        elif isinstance(obs, DataError):
            append((None, None, None, None, f"{obs.reason}: {obs.message}"))
        elif obs is not None:
            # Anything else made the leaf ADAPTER_ERROR; say so rather than look missing.
            error = f"not an Observation or DataError: {type(obs).__name__}"
            append((None, None, None, None, error))
        else:
            append(_NO_READING)
    return out


# One operand's value (``operand_value``) as a function of the ``_seen`` list.
_Value = Callable[[list[_Seen]], Any]


def _operand(operand: Operand, node: Predicate, slots: Mapping[Metric, int]) -> _Value:
    if isinstance(operand, Const):
        constant = operand.value
        return lambda seen: constant
    if isinstance(operand, Metric):
        if operand not in node.metrics:
            return lambda seen: None
        slot = slots[operand]
        return lambda seen: seen[slot][0] if is_number(seen[slot][0]) else None
    # Arithmetic is rare and subtle (division by zero, overflow): its one definition decides.
    pairs = tuple((metric, slots[metric]) for metric in node.metrics)
    return lambda seen: operand_value(operand, {m: seen[slot][0] for m, slot in pairs})


class _LeafPlan(NamedTuple):
    node: int  # its index
    template: dict[str, Any]  # every key in output order, the static values filled in
    params: dict[str, Any]
    first: int  # slot of the leaf's first metric, -1 when it reads none
    readings: tuple[tuple[int, str, str, dict[str, Any], int], ...]  # slot, source, name, ...
    # The leaf's "value" is its left operand's, else its first metric's raw value: when the left
    # operand *is* the first metric, that is simply the first metric's JSON value (left is None).
    left: _Value | None
    # "threshold_value" of a single constant never changes (``rights`` is then empty).
    threshold: Any
    rights: tuple[_Value, ...]


# A node tree in post-order: (node index, template, number of children), children before parents.
_Steps = tuple[tuple[int, dict[str, Any], int], ...]


class TracePlan(NamedTuple):
    """What the trace JSON of one tree needs that no evaluation changes (see ``trace_plan``)."""

    leaves: tuple[_LeafPlan, ...]
    entry: _Steps
    exit: _Steps | None
    vetoes: tuple[tuple[dict[str, Any], tuple[str, ...], int, _Steps], ...]
    entry_triggers: frozenset[int]
    exit_triggers: frozenset[int]
    # Each weighted vote with its observations' slots: its weights are worked out per trace.
    votes: tuple[tuple[Weighted, tuple[int, ...]], ...] = ()


def _leaf_plan(node: Predicate, slots: Mapping[Metric, int]) -> _LeafPlan:
    metric = node.metrics[0] if node.metrics else None
    template: dict[str, Any] = {
        "node": node.index,
        "rule": node.rule,
        "path": node.path,
        "span": str(node.span),
        "text": node.text,
        "source": node.source,
    }
    if metric is not None and metric.params and metric.params[0][0] == "market":
        template["market"] = metric.params[0][1]
    template.update(
        {
            "metric": metric.name if metric else None,
            "params": None,
            "value": None,
            "data_timestamp": None,
            "age_seconds": None,
            "max_age_seconds": node.max_ages[0] if metric else None,
            "operator": node.op,
            "threshold": node.threshold_text(),
            "threshold_value": None,
            "status": None,
            "reason": None,
            "readings": None,
        }
    )
    if node.description:
        template["description"] = node.description
    readings = tuple(
        (slots[m], m.source, m.name, metric_params(m), age)
        for m, age in zip(node.metrics, node.max_ages, strict=True)
    )
    left_is_first = isinstance(node.left, Metric) and node.left == metric
    rights: tuple[_Value, ...] = tuple(_operand(r, node, slots) for r in node.right)
    threshold = None
    if len(node.right) == 1 and isinstance(node.right[0], Const):
        threshold, rights = _json_number(node.right[0].value), ()
    return _LeafPlan(
        node.index,
        template,
        metric_params(metric) if metric else {},
        slots[metric] if metric is not None else -1,
        readings,
        None if left_is_first else _operand(node.left, node, slots),
        threshold,
        rights,
    )


def _steps(root: Node) -> _Steps:
    steps = []

    def visit(node: Node) -> None:
        for child in node.children:
            visit(child)
        template: dict[str, Any] = {
            "node": node.index,
            "kind": node_kind(node),
            "text": node.text,
            "status": None,
        }
        if isinstance(node, AtLeast):
            template["n"] = node.n
        if isinstance(node, AllOf) and node.label:
            template["rule"] = node.label
        if isinstance(node, Weighted):
            # The vote's threshold and how its weights are measured, then what this trace saw.
            template["pass_at"] = node.pass_at
            if node.hit_rate is not None:
                template["hit_rate"] = vote_fields(node)["hit_rate"]
            template.update(vote=None, vote_high=None, weights=None)
        if node.children:
            template["children"] = None
        steps.append((node.index, template, len(node.children)))

    visit(root)
    return tuple(steps)


def trace_plan(tree: DecisionTree) -> TracePlan:
    """Work out the trace JSON plan of ``tree`` (``DecisionTree.trace_plan`` keeps it)."""
    slots = {metric: i for i, metric in enumerate(tree.metrics)}
    vetoes = tuple(
        (
            {"id": veto.id, "blocks": None, "status": None, "description": veto.description},
            tuple(sorted(a.value for a in veto.blocks)),
            veto.node.index,
            _steps(veto.node),
        )
        for veto in tree.vetoes
    )
    return TracePlan(
        tuple(_leaf_plan(n, slots) for n in tree.nodes if isinstance(n, Predicate)),
        _steps(tree.entry),
        _steps(tree.exit) if tree.exit is not None else None,
        vetoes,
        frozenset(_positive_leaves(tree.entry)),
        frozenset(_positive_leaves(tree.exit)) if tree.exit is not None else frozenset(),
        tuple(
            (n, tuple(slots[m] for m in n.metrics)) for n in tree.nodes if isinstance(n, Weighted)
        ),
    )


# --- weighted votes ------------------------------------------------------------------------------


def vote_fields(node: Weighted) -> dict[str, Any]:
    """What a weighted vote's JSON says of it whatever the data: its threshold, and its weights
    when they are fixed (``weights``, as a trace lists them) or how they are measured
    (``hit_rate``)."""
    out: dict[str, Any] = {"pass_at": node.pass_at}
    spec = node.hit_rate
    if spec is None:
        out["weights"] = [{"weight": w, "source": FIXED} for w in node.weights]
    else:
        out["hit_rate"] = {
            "window": format_duration(spec.window),
            "horizon": format_duration(spec.horizon),
            "step": format_duration(spec.step),
            "min_samples": spec.min_samples,
            "prior": spec.prior,
            "min_return": spec.min_return,
            "direction": spec.direction,
        }
    return out


def _count(value: float | None) -> Any:
    if value is None:
        return None
    return int(value) if value == math.floor(value) else value


def _votes(
    plan: TracePlan, observations: Sequence[Any], statuses: Sequence[int], now: float
) -> dict[int, dict[str, Any]]:
    """Each weighted vote's weights and share of the weight, by node index."""
    out = {}
    for node, slots in plan.votes:
        readings = weights_of(node, [observations[slot] for slot in slots], now)
        cast = vote(
            [statuses[child.index] for child in node.items],
            [r.weight for r in readings],
            node.pass_at,
        )
        weights: list[dict[str, Any]] = []
        for reading in readings:
            if reading.source == FIXED:
                weights.append({"weight": reading.weight, "source": FIXED})
                continue
            weights.append(
                {
                    "weight": reading.weight,
                    "source": reading.source,
                    "hits": _count(reading.hits),
                    "signals": _count(reading.signals),
                    "data_timestamp": (
                        _iso(datetime.fromtimestamp(reading.data_time, UTC))
                        if reading.data_time is not None
                        else None
                    ),
                    "reason": reading.reason,
                    "error": reading.error,
                    "detail": dict(reading.detail)
                    if isinstance(reading.detail, Mapping)
                    else reading.detail,
                }
            )
        out[node.index] = {"vote": cast.low, "vote_high": cast.high, "weights": weights}
    return out


def _leaf(
    plan: _LeafPlan, seen: list[_Seen], statuses: Sequence[int], reasons: Sequence[Any]
) -> dict[str, Any]:
    out = plan.template.copy()
    out["params"] = plan.params.copy()
    first = seen[plan.first] if plan.first >= 0 else _NO_READING
    if plan.left is None:
        out["value"] = first[1]
    else:
        left = plan.left(seen)
        out["value"] = first[1] if left is None else _json_number(left)
    out["data_timestamp"] = first[2]
    out["age_seconds"] = first[3]
    rights = plan.rights
    if not rights:
        out["threshold_value"] = plan.threshold
    elif len(rights) == 1:
        out["threshold_value"] = _json_number(rights[0](seen))
    else:
        out["threshold_value"] = [_json_number(right(seen)) for right in rights]
    index = plan.node
    out["status"] = _STATUS_NAMES[statuses[index]]
    out["reason"] = reasons[index]
    readings = []
    for slot, source, name, params, max_age in plan.readings:
        _, value, data_timestamp, age, error = seen[slot]
        readings.append(
            {
                "source": source,
                "metric": name,
                "params": params.copy(),
                "value": value,
                "data_timestamp": data_timestamp,
                "age_seconds": age,
                "max_age_seconds": max_age,
                "error": error,
            }
        )
    out["readings"] = readings
    return out


def _tree(steps: _Steps, statuses: Sequence[int]) -> dict[str, Any]:
    """The node JSON of one root with its statuses, built bottom-up without recursion."""
    stack: list[dict[str, Any]] = []
    for index, template, count in steps:
        out = template.copy()
        out["status"] = _STATUS_NAMES[statuses[index]]
        if count:
            out["children"] = stack[-count:]
            del stack[-count:]
        stack.append(out)
    return stack[0]


def _voting_tree(
    steps: _Steps, statuses: Sequence[int], votes: Mapping[int, dict[str, Any]]
) -> dict[str, Any]:
    """``_tree`` with each weighted vote's weights (by node index): a loop of its own, so that
    the trees without a vote, nearly all of them, pay nothing for it."""
    stack: list[dict[str, Any]] = []
    for index, template, count in steps:
        out = template.copy()
        out["status"] = _STATUS_NAMES[statuses[index]]
        if index in votes:
            out.update(votes[index])
            if "hit_rate" in out:  # the template's own dict: each trace gets a copy to keep
                out["hit_rate"] = dict(out["hit_rate"])
        if count:
            out["children"] = stack[-count:]
            del stack[-count:]
        stack.append(out)
    return stack[0]


def _positive_leaves(node: Node, negated: bool = False) -> Iterator[int]:
    if isinstance(node, Predicate):
        if not negated:
            yield node.index
        return
    for child in node.children:
        yield from _positive_leaves(child, negated ^ isinstance(node, Not))


def trace_to_dict(
    trace: Trace | Evaluation,
    evaluation: Evaluation | None = None,
    strategy: Strategy | None = None,
) -> dict[str, Any]:
    """The trace JSON; ``trace`` may be the evaluation itself (it has the trace's fields)."""
    plan = trace.tree.trace_plan()
    statuses, reasons = trace.statuses, trace.reasons
    seen = _seen(trace.observations, trace.as_of.timestamp())
    leaves = [_leaf(leaf, seen, statuses, reasons) for leaf in plan.leaves]
    out: dict[str, Any] = {
        "timestamp": _iso(trace.as_of),
        "asset": trace.asset,
    }
    if strategy is not None:
        out["strategy"] = {"name": strategy.name, "hash": strategy.content_hash}
    if evaluation is not None:
        # ``_value_`` is what ``.value`` returns, without the enum property's cost.
        out["decision"] = evaluation.verdict._value_
        out["action"] = evaluation.action._value_ if evaluation.action else None
        out["blocked_by"] = list(evaluation.blocked_by)
        out["conflicts"] = list(evaluation.conflicts)
    # The original README's "triggers_met": the passing conditions that argue *for* the action.
    # A leaf under a `not` passing argues against it, so it is not a trigger.
    selling = evaluation is not None and evaluation.action == "SELL"
    triggers = plan.exit_triggers if selling else plan.entry_triggers
    out["triggers_met"] = [
        leaf
        for leaf_plan, leaf in zip(plan.leaves, leaves, strict=True)
        if statuses[leaf_plan.node] == 1 and leaf_plan.node in triggers  # PASS
    ]
    out["leaves"] = leaves
    tree: Callable[[_Steps, Sequence[int]], dict[str, Any]] = _tree
    if plan.votes:
        votes = _votes(plan, trace.observations, statuses, trace.as_of.timestamp())
        tree = partial(_voting_tree, votes=votes)
    out["entry"] = tree(plan.entry, statuses)
    out["exit"] = tree(plan.exit, statuses) if plan.exit is not None else None
    vetoes = []
    for template, blocks, index, steps in plan.vetoes:
        veto = template.copy()
        veto["blocks"] = list(blocks)
        veto["status"] = _STATUS_NAMES[statuses[index]]
        veto["tree"] = tree(steps, statuses)
        vetoes.append(veto)
    out["vetoes"] = vetoes
    return out


# --- the compiled tree alone -------------------------------------------------------------------


def _static_node(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "node": node.index,
        "kind": node_kind(node),
        "text": node.text,
        "path": node.path,
        "span": str(node.span),
    }
    if isinstance(node, Predicate):
        out["rule"] = node.rule
        out["operator"] = node.op
        out["threshold"] = node.threshold_text()
        out["metrics"] = [
            {"source": m.source, "metric": m.name, "params": metric_params(m), "max_age": age}
            for m, age in zip(node.metrics, node.max_ages, strict=True)
        ]
        # How a trader wrote each metric (``rsi(14)``), aligned with ``metrics``; and whether
        # the threshold reads data, so the number compared with is worth showing.
        out["metric_names"] = [m.render() for m in node.metrics]
        out["computed_threshold"] = not all(isinstance(r, Const) for r in node.right)
    if isinstance(node, AtLeast):
        out["n"] = node.n
    if isinstance(node, AllOf) and node.label:
        out["rule"] = node.label
        out["source"] = node.source
        out["description"] = node.description
    if isinstance(node, Weighted):
        out.update(vote_fields(node))
    if node.children:
        out["children"] = [_static_node(child) for child in node.children]
    return out


def tree_json(tree: DecisionTree) -> dict[str, Any]:
    """The entry, exit and veto trees of ``tree`` as node JSON, without statuses."""
    return {
        "entry": _static_node(tree.entry),
        "exit": _static_node(tree.exit) if tree.exit else None,
        "vetoes": [
            {
                "id": v.id,
                "blocks": sorted(a.value for a in v.blocks),
                "description": v.description,
                "tree": _static_node(v.node),
            }
            for v in tree.vetoes
        ],
    }


def tree_to_dict(strategy: Strategy) -> dict[str, Any]:
    """The compiled strategy as JSON: what ``signalops explain --json`` prints."""
    ex = strategy.execution
    return {
        "name": strategy.name,
        "file": strategy.file,
        "hash": strategy.content_hash,
        "assets": list(strategy.assets),
        "description": strategy.description,
        "execution": {
            "require_confirmations": ex.require_confirmations,
            "position_size": ex.position_size,
            "action_mode": ex.action_mode,
            "exit_confirmations": strategy.exit_confirmations,
        },
        **tree_json(strategy.tree),
    }


# --- the tree with a trace laid over it ---------------------------------------------------------


# What a trace's node adds to the tree's: its status, and a vote's weights.
_TRACED = ("vote", "vote_high", "weights")


def _statuses(node: Mapping[str, Any], into: dict[int, Any]) -> dict[int, Any]:
    traced = {key: node[key] for key in _TRACED if key in node}
    into[node["node"]] = {"status": node["status"], **traced} if traced else node["status"]
    for child in node.get("children", ()):
        _statuses(child, into)
    return into


def _with_statuses(node: Mapping[str, Any], statuses: Mapping[int, Any]) -> dict[str, Any]:
    found = statuses[node["node"]]
    out = {**node, **found} if isinstance(found, dict) else {**node, "status": found}
    if "children" in node:
        out["children"] = [_with_statuses(child, statuses) for child in node["children"]]
    return out


def with_trace(tree: Mapping[str, Any], trace: Mapping[str, Any]) -> dict[str, Any]:
    """The tree JSON (``tree_json``) with each node's status and the leaves of a trace JSON."""
    statuses: dict[int, Any] = {}
    for root in (trace["entry"], trace.get("exit"), *(v["tree"] for v in trace["vetoes"])):
        if root is not None:
            _statuses(root, statuses)
    return {
        **tree,
        "entry": _with_statuses(tree["entry"], statuses),
        "exit": _with_statuses(tree["exit"], statuses) if tree.get("exit") else None,
        "vetoes": [
            {
                **veto,
                "status": _status_of(statuses[veto["tree"]["node"]]),
                "tree": _with_statuses(veto["tree"], statuses),
            }
            for veto in tree["vetoes"]
        ],
        "leaves": trace["leaves"],
    }


def _status_of(found: Any) -> str:
    return found["status"] if isinstance(found, dict) else found
