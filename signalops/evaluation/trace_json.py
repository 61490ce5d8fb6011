"""The one JSON format of a tree and its trace: what audit records store and every view reads.

Two shapes of the same node JSON (``kind``, ``node``, ``text``, ``children``...):

- the compiled tree alone (``tree_to_dict``, what ``signalops explain --json`` prints): each node
  with its YAML path and span, each leaf with its metrics and their max ages;
- a trace (``trace_to_dict``, stored in every decision record): each node with its ``status``,
  and a ``leaves`` list with what each leaf saw. It keeps the fields of the original SignalOps
  audit example (``timestamp``, ``asset``, ``decision``, ``triggers_met[]`` with ``source``,
  ``metric``/``market``, ``value``, ``threshold`` as text such as ``"< 1.5"``, ``status``) and
  adds everything needed to replay the decision.

``with_trace`` lays a trace over the tree JSON, which is what ``signalops evaluate`` draws. The
renderer (``signalops.explain.render``) reads only this JSON, so a record from last month is drawn
with last month's tree. Nothing here imports ``rich``: building a record must not pay for it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

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
    Predicate,
    Status,
)

if TYPE_CHECKING:
    from signalops.evaluation.tree import DecisionTree, Evaluation, LeafTrace, Trace
    from signalops.strategy.model import Strategy

_KINDS: dict[type[Node], str] = {
    Predicate: "predicate",
    AllOf: "all_of",
    AnyOf: "any_of",
    AtLeast: "at_least",
    Not: "not",
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


def leaf_to_dict(leaf: LeafTrace) -> dict[str, Any]:
    node = leaf.node
    first = leaf.readings[0] if leaf.readings else None
    metric = node.metrics[0] if node.metrics else None
    value = leaf.value if leaf.value is not None else (first.value if first else None)
    out: dict[str, Any] = {
        "node": node.index,
        "rule": node.rule,
        "path": node.path,
        "span": str(node.span),
        "text": node.text,
        "source": node.source,
    }
    if metric is not None and metric.params and metric.params[0][0] == "market":
        out["market"] = metric.params[0][1]
    out["metric"] = metric.name if metric else None
    out["params"] = metric_params(metric) if metric else {}
    out.update(
        {
            "value": _json_number(value),
            "data_timestamp": iso(first.data_time) if first else None,
            "age_seconds": first.age_seconds if first else None,
            "max_age_seconds": first.max_age if first else None,
            "operator": node.op,
            "threshold": node.threshold_text(),
            "threshold_value": _json_number(leaf.threshold_value),
            "status": leaf.status.name,
            "reason": leaf.reason,
            "readings": [
                {
                    "source": r.metric.source,
                    "metric": r.metric.name,
                    "params": metric_params(r.metric),
                    "value": _json_number(r.value),
                    "data_timestamp": iso(r.data_time),
                    "age_seconds": r.age_seconds,
                    "max_age_seconds": r.max_age,
                    "error": r.error,
                }
                for r in leaf.readings
            ],
        }
    )
    if node.description:
        out["description"] = node.description
    return out


def _node_to_dict(node: Node, trace: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "node": node.index,
        "kind": node_kind(node),
        "text": node.text,
        "status": Status(trace.statuses[node.index]).name,
    }
    if isinstance(node, AtLeast):
        out["n"] = node.n
    if isinstance(node, AllOf) and node.label:
        out["rule"] = node.label
    if node.children:
        out["children"] = [_node_to_dict(child, trace) for child in node.children]
    return out


def _positive_leaves(node: Node, negated: bool = False) -> Iterator[int]:
    if isinstance(node, Predicate):
        if not negated:
            yield node.index
        return
    for child in node.children:
        yield from _positive_leaves(child, negated ^ isinstance(node, Not))


def trace_to_dict(
    trace: Trace, evaluation: Evaluation | None = None, strategy: Strategy | None = None
) -> dict[str, Any]:
    tree = trace.tree
    leaves = [leaf_to_dict(leaf) for leaf in trace.leaves()]
    out: dict[str, Any] = {
        "timestamp": iso(trace.as_of),
        "asset": trace.asset,
    }
    if strategy is not None:
        out["strategy"] = {"name": strategy.name, "hash": strategy.content_hash}
    if evaluation is not None:
        out["decision"] = evaluation.verdict.value
        out["action"] = evaluation.action.value if evaluation.action else None
        out["blocked_by"] = list(evaluation.blocked_by)
        out["conflicts"] = list(evaluation.conflicts)
    # The original README's "triggers_met": the passing conditions that argue *for* the action.
    # A leaf under a `not` passing argues against it, so it is not a trigger.
    side = tree.exit if evaluation is not None and evaluation.action == "SELL" else tree.entry
    triggers = set(_positive_leaves(side)) if side is not None else set()
    out["triggers_met"] = [
        leaf for leaf in leaves if leaf["status"] == "PASS" and leaf["node"] in triggers
    ]
    out["leaves"] = leaves
    out["entry"] = _node_to_dict(tree.entry, trace)
    out["exit"] = _node_to_dict(tree.exit, trace) if tree.exit else None
    out["vetoes"] = [
        {
            "id": veto.id,
            "blocks": sorted(a.value for a in veto.blocks),
            "status": Status(trace.statuses[veto.node.index]).name,
            "description": veto.description,
            "tree": _node_to_dict(veto.node, trace),
        }
        for veto in tree.vetoes
    ]
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


def _statuses(node: Mapping[str, Any], into: dict[int, str]) -> dict[int, str]:
    into[node["node"]] = node["status"]
    for child in node.get("children", ()):
        _statuses(child, into)
    return into


def _with_statuses(node: Mapping[str, Any], statuses: Mapping[int, str]) -> dict[str, Any]:
    out = {**node, "status": statuses[node["node"]]}
    if "children" in node:
        out["children"] = [_with_statuses(child, statuses) for child in node["children"]]
    return out


def with_trace(tree: Mapping[str, Any], trace: Mapping[str, Any]) -> dict[str, Any]:
    """The tree JSON (``tree_json``) with each node's status and the leaves of a trace JSON."""
    statuses: dict[int, str] = {}
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
                "status": statuses[veto["tree"]["node"]],
                "tree": _with_statuses(veto["tree"], statuses),
            }
            for veto in tree["vetoes"]
        ],
        "leaves": trace["leaves"],
    }
