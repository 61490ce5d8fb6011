"""Views over one tree: the JSON format and the one renderer that draws it for people.

    text.py     numbers, ages and UNKNOWN reasons in words (plain strings)
    render.py   the renderer: rich Text lines from the tree or trace JSON (explain, evaluate, why)

The JSON format itself lives below the evaluator, in ``signalops.evaluation.trace_json``, so that
building an audit record never imports ``rich``; it is re-exported here with the renderer. The
entry points for commands: ``strategy_lines(tree_to_dict(strategy))`` for ``explain``,
``evaluation_lines(tree_to_dict(strategy), evaluation.to_dict())`` for ``evaluate``,
``tree_lines(record["trace"], RECORD)`` for a stored decision (``signalops.audit.why``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from rich.text import Text

from signalops.canonical import iso
from signalops.evaluation.trace_json import (
    leaf_to_dict,
    metric_params,
    node_kind,
    trace_to_dict,
    tree_json,
    tree_to_dict,
    with_trace,
)
from signalops.explain.render import (
    LIVE,
    RECORD,
    View,
    evaluation_lines,
    header_lines,
    strategy_lines,
    tree_lines,
)
from signalops.explain.text import describe_reason, format_age, format_value

if TYPE_CHECKING:
    from signalops.evaluation.tree import DecisionTree, Trace
    from signalops.strategy.model import Strategy

__all__ = [
    "LIVE",
    "RECORD",
    "View",
    "describe_reason",
    "draw_tree",
    "evaluation_lines",
    "format_age",
    "format_value",
    "header_lines",
    "iso",
    "leaf_to_dict",
    "metric_params",
    "node_kind",
    "strategy_header",
    "strategy_lines",
    "trace_to_dict",
    "tree_json",
    "tree_lines",
    "tree_to_dict",
    "with_trace",
]


def draw_tree(
    tree: DecisionTree, trace: Trace | None = None, file_name: str | None = None
) -> Iterator[Text]:
    """The entry, exit and veto trees as lines of styled text (with statuses when traced).

    The compiled tree and its trace are turned into their JSON and drawn by ``tree_lines``.
    """
    doc = tree_json(tree)
    if trace is not None:
        doc = with_trace(doc, trace_to_dict(trace))
    return tree_lines(doc, View(file_lines=file_name is not None))


def strategy_header(strategy: Strategy) -> list[Text]:
    """Name, file, hash, assets, mode and position size: the lines above ``explain``'s tree."""
    return header_lines(tree_to_dict(strategy))
