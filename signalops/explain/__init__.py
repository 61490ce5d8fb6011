"""Views over one trace: JSON for records and tools, and a drawn tree for people.

Both are filters over the same ``Trace``; nothing here evaluates anything. The JSON keeps the
fields of the original SignalOps audit example (``timestamp``, ``asset``, ``decision``,
``triggers_met[]`` with ``source``, ``metric``/``market``, ``value``, ``threshold`` as text such as
``"< 1.5"``, ``status``) and adds everything needed to replay the decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.text import Text

from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.evaluation.tree import (
    AllOf,
    AnyOf,
    AtLeast,
    DecisionTree,
    LeafTrace,
    Metric,
    Node,
    Not,
    Predicate,
    Status,
    confirmation_text,
)

if TYPE_CHECKING:
    from signalops.evaluation.tree import Evaluation, Trace
    from signalops.strategy.model import Strategy


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


def node_kind(node: Node) -> str:
    return {
        Predicate: "predicate",
        AllOf: "all_of",
        AnyOf: "any_of",
        AtLeast: "at_least",
        Not: "not",
    }[type(node)]


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


# --- drawing ----------------------------------------------------------------------------------

_STATUS_STYLE = {Status.PASS: "green", Status.FAIL: "red", Status.UNKNOWN: "yellow"}
_STATUS_MARK = {Status.PASS: "PASS", Status.FAIL: "FAIL", Status.UNKNOWN: "UNKNOWN"}


def _label(node: Node, trace: Trace | None, file_name: str | None) -> Text:
    text = Text()
    if trace is not None:
        status = Status(trace.statuses[node.index])
        text.append(f"{_STATUS_MARK[status]:<7} ", style=f"bold {_STATUS_STYLE[status]}")
    if isinstance(node, Predicate):
        text.append(node.text, style="bold")
        details = [node.source]
        if node.metrics:
            ages = dict.fromkeys(format_duration(a) for a in node.max_ages)
            details.append("max age " + "/".join(ages))
        if file_name is not None:
            details.append(f"line {node.span.line}")
        text.append("   " + " · ".join(details), style="dim")
        if trace is not None:
            text.append_text(_leaf_values(trace.leaf(node)))
        return text
    if isinstance(node, AllOf) and node.label:
        text.append(f"rule {node.label}", style="bold cyan")
        if node.source:
            text.append(f" [{node.source}]", style="cyan")
        text.append(": all of", style="")
        if node.description:
            text.append(f" — {node.description}", style="dim")
        return text
    if isinstance(node, AtLeast):
        text.append(node.text if node.path in ("rules", "exit.rules") else f"at least {node.n} of")
        return text
    if isinstance(node, AllOf):
        text.append(f"all of: {node.text}" if node.text != "all of" else "all of")
        return text
    if isinstance(node, AnyOf):
        text.append(f"any of: {node.text}" if node.text != "any of" else "any of")
        return text
    if isinstance(node, Not):
        text.append("not")
        return text
    raise TypeError(type(node).__name__)  # pragma: no cover


def _leaf_values(leaf: LeafTrace) -> Text:
    text = Text()
    for reading in leaf.readings:
        text.append("\n")
        name = reading.metric.render()
        if reading.error:
            text.append(f"{name}: {reading.error}", style="yellow")
            continue
        if reading.data_time is None:
            text.append(f"{name}: no data", style="yellow")
            continue
        age = reading.age_seconds or 0.0
        text.append(f"{name} = {format_value(reading.value)}")
        limit = format_duration(reading.max_age)
        text.append(
            f" at {iso(reading.data_time)} ({format_age(age)} old, max {limit})", style="dim"
        )
    if leaf.reason:
        text.append(f"\nUNKNOWN: {describe_reason(leaf.reason)}", style="yellow")
    elif (
        leaf.threshold_value is not None
        and leaf.node.right
        and not all(type(r).__name__ == "Const" for r in leaf.node.right)
    ):
        shown = leaf.threshold_value
        if isinstance(shown, tuple):
            text.append(
                f"\nrange = {format_value(shown[0])} .. {format_value(shown[1])}", style="dim"
            )
        else:
            text.append(f"\nthreshold = {format_value(shown)}", style="dim")
    return text


def describe_reason(reason: str) -> str:
    return {
        "MISSING": "no data for this metric",
        "STALE": "data older than max age",
        "FUTURE": "data dated after the decision time (refused: look-ahead)",
        "NOT_A_NUMBER": "the value is not a finite number",
        "ADAPTER_ERROR": "the data source reported an error",
        "MATH_ERROR": "the arithmetic has no finite result (e.g. division by zero)",
    }.get(reason, reason)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M")):
            if abs(value) >= size:
                return f"{value / size:.4g}{suffix}"
        return f"{value:.6g}"
    return str(value)


def format_age(seconds: float) -> str:
    seconds = max(seconds, 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}".replace(".0" + unit, unit)
    return f"{seconds:.0f}s"


def _draw(node: Node, trace: Trace | None, file_name: str | None, prefix: str, last: bool):
    guide = "└── " if last else "├── "
    label = _label(node, trace, file_name)
    lines = label.split("\n")
    first = Text(prefix + guide)
    first.append_text(lines[0])
    yield first
    continuation = prefix + ("    " if last else "│   ")
    for extra in lines[1:]:
        line = Text(continuation + "    ")
        line.append_text(extra)
        yield line
    children = node.children
    for i, child in enumerate(children):
        yield from _draw(child, trace, file_name, continuation, i == len(children) - 1)


def draw_tree(
    tree: DecisionTree, trace: Trace | None = None, file_name: str | None = None
) -> Iterator[Text]:
    """The entry, exit and veto trees as lines of styled text (with statuses when traced)."""
    yield _heading("BUY", tree.entry, trace)
    for i, child in enumerate(tree.entry.children):
        yield from _draw(child, trace, file_name, "", i == len(tree.entry.children) - 1)
    if tree.exit is None:
        yield Text("SELL: no exit rules", style="bold")
    else:
        yield _heading("SELL", tree.exit, trace)
        for i, child in enumerate(tree.exit.children):
            yield from _draw(child, trace, file_name, "", i == len(tree.exit.children) - 1)
    if not tree.vetoes:
        yield Text("VETOES: none", style="bold")
    for veto in tree.vetoes:
        blocks = "/".join(sorted(a.value for a in veto.blocks))
        line = Text()
        if trace is not None:
            status = Status(trace.statuses[veto.node.index])
            word = {Status.PASS: "BLOCKS", Status.UNKNOWN: "BLOCKS", Status.FAIL: "clear"}[status]
            line.append(f"{word:<7} ", style=f"bold {_STATUS_STYLE[status]}")
        line.append(f"VETO {veto.id}", style="bold magenta")
        one = len(veto.node.children) == 1
        these = "this passes or is unknown" if one else "all of these pass or are unknown"
        line.append(f": blocks {blocks} when {these}")
        if veto.description:
            line.append(f" — {veto.description}", style="dim")
        yield line
        children = veto.node.children
        for i, child in enumerate(children):
            yield from _draw(child, trace, file_name, "", i == len(children) - 1)


def _heading(action: str, node: Node, trace: Trace | None) -> Text:
    text = Text()
    if trace is not None:
        status = Status(trace.statuses[node.index])
        text.append(f"{_STATUS_MARK[status]:<7} ", style=f"bold {_STATUS_STYLE[status]}")
    assert isinstance(node, AtLeast)
    text.append(confirmation_text(action, node.n, len(node.children)), style="bold")
    return text


def strategy_header(strategy: Strategy) -> list[Text]:
    ex = strategy.execution
    head = Text()
    head.append(strategy.name, style="bold")
    head.append(f"  ({strategy.file})", style="dim")
    facts = Text(style="dim")
    facts.append(f"hash {strategy.content_hash[:19]}…  ")
    facts.append(f"assets {', '.join(strategy.assets)}  ")
    facts.append(f"mode {ex.action_mode}  ")
    facts.append(f"position {ex.position_size * 100:g}% of portfolio")
    lines = [head, facts]
    if strategy.description:
        lines.append(Text(strategy.description, style="italic"))
    return lines


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
    if isinstance(node, AtLeast):
        out["n"] = node.n
    if isinstance(node, AllOf) and node.label:
        out["rule"] = node.label
    if node.children:
        out["children"] = [_static_node(child) for child in node.children]
    return out


def tree_to_dict(strategy: Strategy) -> dict[str, Any]:
    """The compiled strategy as JSON: what ``signalops explain --json`` prints."""
    tree = strategy.tree
    ex = strategy.execution
    return {
        "name": strategy.name,
        "file": strategy.file,
        "hash": strategy.content_hash,
        "assets": list(strategy.assets),
        "execution": {
            "require_confirmations": ex.require_confirmations,
            "position_size": ex.position_size,
            "action_mode": ex.action_mode,
            "exit_confirmations": strategy.exit_confirmations,
        },
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
