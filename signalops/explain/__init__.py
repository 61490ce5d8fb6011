"""Views over one tree: the JSON format and the one renderer that draws it for people.

    text.py     numbers, ages and UNKNOWN reasons in words (plain strings)
    figures.py  a decision record's risk details, order, fill and execution for people
    render.py   the renderer: rich Text lines from the tree or trace JSON (explain, evaluate, why)

The JSON format itself lives below the evaluator, in ``signalops.evaluation.trace_json``, so that
building an audit record never imports ``rich``; it is re-exported here with the renderer. The
entry points for commands: ``strategy_lines(tree_to_dict(strategy))`` for ``explain``,
``evaluation_lines(tree_to_dict(strategy), evaluation.to_dict())`` for ``evaluate``,
``tree_lines(record["trace"], RECORD)`` for a stored decision (``signalops.audit.why``), whose
trace ``signalops.audit.expand.expanded`` re-derives when the record is compact.
"""

from __future__ import annotations

from signalops.evaluation.trace_json import trace_to_dict, tree_json, tree_to_dict, with_trace
from signalops.explain.render import (
    RECORD,
    View,
    evaluation_lines,
    header_lines,
    strategy_lines,
    tree_lines,
)

__all__ = [
    "RECORD",
    "View",
    "evaluation_lines",
    "header_lines",
    "strategy_lines",
    "trace_to_dict",
    "tree_json",
    "tree_lines",
    "tree_to_dict",
    "with_trace",
]
