"""The compiled logic tree as JSON: stored once per strategy version, read back without compiling.

A compact decision record (``signalops.audit/2``) keeps only what an evaluation cannot compute
again: the observations' values, data times and errors, the verdict, the risk checks, the order
and the execution. Its trace (every node's status, every leaf's value against its threshold, the
line of the file each leaf came from) is re-derived on read by evaluating the tree once more.

The log keeps that tree as this document, in its ``trees`` table under its content hash, and each
record cites the hash (``strategy.tree``). Why the compiled tree and not only the strategy
document (which the ``strategies`` table also keeps):

- spans: the document is the file's content without its layout, so compiling it again puts
  every leaf on line 1; the tree keeps each node's ``file:line:column``;
- cost: compiling needs the YAML loader, the JSON Schema and the expression grammar, which
  ``signalops why`` never imports; rebuilding a tree from this JSON takes the catalogue only.

``signalops audit verify`` checks that each stored tree hashes to its key and is what compiling
the stored document it names gives (spans aside: they are the file's layout), so the tree a
record is explained with is the strategy's.

Format (``signalops.tree/1``), every node with its index, YAML path, span and text::

    {"format": "signalops.tree/1", "strategy": "sha256:...", "file": "strategies/x.yaml",
     "entry": NODE, "exit": NODE | null,
     "vetoes": [{"id", "blocks": ["BUY"], "description", "node": NODE}]}
    NODE     = {"kind": "predicate" | "all_of" | "any_of" | "at_least" | "not" | "weighted",
                "index", "path",
                "span": [line, column] (or [file, line, column] off the tree's file), "text", ...}
    predicate: "left": OPERAND, "op", "right": [OPERAND], "metrics": [METRIC], "max_ages",
               "rule", "description"
    all_of: "items", "label", "source", "description"; any_of: "items";
    at_least: "n", "items"; not: "item";
    weighted: "items", "pass_at", "weights", "hit_rate" {window, horizon, step (seconds),
              min_samples, prior, min_return, direction} | null, "label"
    OPERAND  = {"metric": METRIC} | {"const": value, "text"} | {"neg": OPERAND}
               | {"arith": "+" | "-" | "*" | "/", "left": OPERAND, "right": OPERAND}
    METRIC   = {"source", "name", "params": [[name, value]], "asset_scoped", "given": [names],
                "spec": whether the catalogue declared it}
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from signalops.canonical import content_hash
from signalops.catalogue import installed
from signalops.errors import AuditError
from signalops.evaluation.nodes import (
    AllOf,
    AnyOf,
    Arith,
    AtLeast,
    Const,
    Metric,
    Neg,
    Node,
    Not,
    Operand,
    Predicate,
    Span,
    Weighted,
    weighted_document,
    weighted_from_document,
)
from signalops.evaluation.tree import DecisionTree, Veto
from signalops.side import Side

if TYPE_CHECKING:
    from signalops.catalogue.spec import Catalogue
    from signalops.strategy.model import Strategy

TREE_FORMAT = "signalops.tree/1"


# --- the tree as JSON ----------------------------------------------------------------------------


def tree_document(strategy: Strategy) -> dict[str, Any]:
    """The compiled tree of ``strategy`` as JSON (see the module docstring)."""
    tree, file = strategy.tree, strategy.file
    return {
        "format": TREE_FORMAT,
        "strategy": strategy.content_hash,
        "file": file,
        "entry": _node(tree.entry, file),
        "exit": _node(tree.exit, file) if tree.exit is not None else None,
        "vetoes": [
            {
                "id": veto.id,
                "blocks": sorted(side.value for side in veto.blocks),
                "description": veto.description,
                "node": _node(veto.node, file),
            }
            for veto in tree.vetoes
        ],
    }


def _node(node: Node, file: str) -> dict[str, Any]:
    span = node.span
    where = [span.line, span.column] if span.file == file else [span.file, span.line, span.column]
    out: dict[str, Any] = {"index": node.index, "path": node.path, "span": where, "text": node.text}
    if isinstance(node, Predicate):
        out.update(
            kind="predicate",
            left=_operand(node.left),
            op=node.op,
            right=[_operand(r) for r in node.right],
            metrics=[_metric(m) for m in node.metrics],
            max_ages=list(node.max_ages),
            rule=node.rule,
            description=node.description,
        )
    elif isinstance(node, AllOf):
        out.update(
            kind="all_of",
            items=[_node(child, file) for child in node.items],
            label=node.label,
            source=node.source,
            description=node.description,
        )
    elif isinstance(node, AnyOf):
        out.update(kind="any_of", items=[_node(child, file) for child in node.items])
    elif isinstance(node, AtLeast):
        out.update(kind="at_least", n=node.n, items=[_node(child, file) for child in node.items])
    elif isinstance(node, Not):
        out.update(kind="not", item=_node(node.item, file))
    elif isinstance(node, Weighted):
        items = [_node(child, file) for child in node.items]
        out.update(kind="weighted", items=items, **weighted_document(node))
    else:  # pragma: no cover - the compiler makes no other node
        raise TypeError(f"no JSON form for node {type(node).__name__}")
    return out


def _operand(operand: Operand) -> dict[str, Any]:
    if isinstance(operand, Metric):
        return {"metric": _metric(operand)}
    if isinstance(operand, Const):
        return {"const": operand.value, "text": operand.text}
    if isinstance(operand, Neg):
        return {"neg": _operand(operand.operand)}
    return {"arith": operand.op, "left": _operand(operand.left), "right": _operand(operand.right)}


def _metric(metric: Metric) -> dict[str, Any]:
    return {
        "source": metric.source,
        "name": metric.name,
        "params": [[name, value] for name, value in metric.params],
        "asset_scoped": metric.asset_scoped,
        "given": sorted(metric.given),
        "spec": metric.spec is not None,
    }


# --- a stored document back into a tree ----------------------------------------------------------


def tree_from_document(
    document: Mapping[str, Any], catalogue: Catalogue | None = None
) -> DecisionTree:
    """The ``DecisionTree`` a tree document describes, its metrics' specs from ``catalogue``
    (default: the built-in and plugin catalogue). Raises ``AuditError`` for a document of
    another format, or one naming a metric this installation's catalogue does not declare."""
    if document.get("format") != TREE_FORMAT:
        raise AuditError(f"not a {TREE_FORMAT} document: format {document.get('format')!r}")
    if catalogue is None:
        catalogue = installed.catalogue()
    reader = _Reader(str(document["file"]), catalogue)
    try:
        return DecisionTree(
            entry=reader.node(document["entry"]),
            exit=reader.node(document["exit"]) if document.get("exit") is not None else None,
            vetoes=tuple(
                Veto(
                    str(veto["id"]),
                    reader.node(veto["node"]),
                    frozenset(Side(side) for side in veto["blocks"]),
                    veto.get("description"),
                )
                for veto in document["vetoes"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditError(f"the stored tree is malformed ({type(exc).__name__}: {exc})") from None


class _Reader:
    def __init__(self, file: str, catalogue: Catalogue) -> None:
        self.file = file
        self.catalogue = catalogue

    def span(self, where: list[Any]) -> Span:
        if len(where) == 2:
            return Span(self.file, int(where[0]), int(where[1]))
        return Span(str(where[0]), int(where[1]), int(where[2]))

    def node(self, doc: Mapping[str, Any]) -> Node:
        common: dict[str, Any] = {
            "index": int(doc["index"]),
            "path": str(doc["path"]),
            "span": self.span(doc["span"]),
            "text": str(doc["text"]),
        }
        kind = doc["kind"]
        if kind == "predicate":
            return Predicate(
                **common,
                left=self.operand(doc["left"]),
                op=str(doc["op"]),
                right=tuple(self.operand(r) for r in doc["right"]),
                metrics=tuple(self.metric(m) for m in doc["metrics"]),
                max_ages=tuple(int(age) for age in doc["max_ages"]),
                rule=doc.get("rule"),
                description=doc.get("description"),
            )
        if kind == "all_of":
            return AllOf(
                **common,
                items=tuple(self.node(child) for child in doc["items"]),
                label=doc.get("label"),
                source=doc.get("source"),
                description=doc.get("description"),
            )
        if kind == "any_of":
            return AnyOf(**common, items=tuple(self.node(child) for child in doc["items"]))
        if kind == "at_least":
            items = tuple(self.node(child) for child in doc["items"])
            return AtLeast(**common, n=int(doc["n"]), items=items)
        if kind == "not":
            return Not(**common, item=self.node(doc["item"]))
        if kind == "weighted":
            items = tuple(self.node(child) for child in doc["items"])
            return weighted_from_document(doc, items=items, **common)
        raise ValueError(f"unknown node kind {kind!r}")

    def operand(self, doc: Mapping[str, Any]) -> Operand:
        if "metric" in doc:
            return self.metric(doc["metric"])
        if "const" in doc:
            return Const(doc["const"], str(doc["text"]))
        if "neg" in doc:
            return Neg(self.operand(doc["neg"]))
        return Arith(str(doc["arith"]), self.operand(doc["left"]), self.operand(doc["right"]))

    def metric(self, doc: Mapping[str, Any]) -> Metric:
        source, name = str(doc["source"]), str(doc["name"])
        spec = None
        if doc.get("spec"):
            declared = self.catalogue.sources.get(source)
            spec = declared.get(name) if declared is not None else None
            if spec is None:
                raise AuditError(
                    f"metric {source}.{name} is not in this installation's catalogue (a plugin "
                    "that is not installed?): its tree cannot be drawn as it was recorded"
                )
        params = tuple((str(k), v) for k, v in doc["params"])
        return Metric(
            source, name, params, bool(doc["asset_scoped"]), spec, frozenset(doc["given"])
        )


# --- the hash a record cites ---------------------------------------------------------------------

# Strategy objects are frozen and hashed by content elsewhere; this keeps each one's tree document
# hash (a strategy's records all cite it) without serialising its tree for every record. The
# object itself is kept with its entry, so its id cannot be reused while the entry lives.
# Threads read it at once (the dashboard's, the Telegram poller's): every look and change of the
# order is under the lock (a look, then a move or an eviction by another thread in between, was
# a KeyError); the hash is worked out outside it, and two threads that both do keep one value.
_HASHES: OrderedDict[int, tuple[Any, str]] = OrderedDict()
_HASHES_KEPT = 256
_HASHES_LOCK = threading.Lock()


def tree_hash(strategy: Strategy) -> str:
    """``content_hash`` of ``tree_document(strategy)``, worked out once per strategy object."""
    key = id(strategy)
    with _HASHES_LOCK:
        found = _HASHES.get(key)
        if found is not None and found[0] is strategy:
            _HASHES.move_to_end(key)
            return found[1]
    value = content_hash(tree_document(strategy))
    with _HASHES_LOCK:
        _HASHES[key] = (strategy, value)
        _HASHES.move_to_end(key)
        while len(_HASHES) > _HASHES_KEPT:
            _HASHES.popitem(last=False)
    return value


__all__ = ["TREE_FORMAT", "tree_document", "tree_from_document", "tree_hash"]
