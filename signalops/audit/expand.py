"""A stored decision in its full shape: the one function every reader of records goes through.

A compact decision record (``signalops.audit/2``) stores what cannot be computed again; its trace
is a pure function of the compiled tree it cites, its observations, its ``as_of`` and its asset.
``expanded(record, log)`` evaluates the tree once more and gives the record as a
``signalops.audit/1`` decision held it: with ``trace`` (``signalops.evaluation.trace_json``) and
each observation with its request (source, metric, parameters, asset, status). Every other
record (follow-ups, breakers, ``/1`` decisions) comes back as it is.

The tree is the one the log stores under the record's ``strategy.tree`` hash
(``signalops.audit.trees``), rebuilt once per hash and kept (a hash names one tree, whichever log
it came from). The re-evaluation must agree with what the record states (verdict, action,
blocked_by, conflicts); when it does not, or when the tree cannot be had, the expanded record
says so in ``derivation_problems`` (absent when there is none), ``why`` prints it as a warning
and ``verify.check_record`` reports it: a different tree is never shown silently. With a log,
``expanded`` and ``derive`` ask it for the stored tree every time (a tree kept in the process
spares rebuilding it, never the question whether the log still stores it, or stores it
unedited); only the bulk readers (``with_trace``, ``veto_statuses``) take a kept tree as it is.
The kept trees are read and filled from several threads (the dashboard's, the Telegram
poller's), under a lock.

The expanded record goes through canonical JSON once, so its keys are sorted and its values are
what a stored ``/1`` record read back held: ``why`` draws the same lines from either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from signalops.audit.record import DECISION, DECISION_SCHEMA, canonical_json_of_plain, loads_record
from signalops.audit.trees import tree_from_document, tree_hash
from signalops.canonical import content_hash, parse_iso
from signalops.codes import Code
from signalops.errors import AuditError
from signalops.evaluation.nodes import Status
from signalops.evaluation.trace_json import trace_to_dict
from signalops.observation import DataError, Observation, Request

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore
    from signalops.evaluation.tree import DecisionTree, Evaluation
    from signalops.strategy.model import Strategy

Record = Mapping[str, Any]
PROBLEMS = "derivation_problems"

# Rebuilt trees by content hash: a hash names one tree whichever log stored it. Each with the
# stored document it was checked against (None: known from a strategy object), so that a log
# whose stored document is that very one needs neither hashing it nor rebuilding the tree.
_TREES: OrderedDict[str, tuple[dict[str, Any] | None, DecisionTree]] = OrderedDict()
_TREES_KEPT = 128
_TREES_LOCK = threading.Lock()


class Derivation(NamedTuple):
    """A compact record's tree and its re-evaluation (``evaluation`` is None when the tree could
    not be had), and what disagrees with the record."""

    tree: DecisionTree | None
    evaluation: Evaluation | None
    problems: tuple[str, ...]


def is_compact(record: Record) -> bool:
    """Whether ``record`` is a compact decision (its trace is derived, not stored)."""
    return record.get("schema") == DECISION_SCHEMA and record.get("kind") == DECISION


def expanded(
    record: Record,
    log: AuditStore | None = None,
    *,
    strategy: Strategy | None = None,
    tree: DecisionTree | None = None,
) -> dict[str, Any]:
    """``record`` in the full shape (see the module docstring); any other record as it is.

    The tree comes from ``strategy`` when given (it must be the one the record cites), else from
    those already rebuilt in this process, else from ``log`` (``tree``: the one the record
    cites, already at hand).
    """
    if not is_compact(record) or "trace" in record:
        return dict(record)
    derivation = derive(record, log, strategy=strategy, tree=tree)
    out = dict(record)
    if derivation.evaluation is None or derivation.tree is None:
        out["trace"] = None
    else:
        evaluation = derivation.evaluation
        named = _Named(record["strategy"]["name"], record["strategy"]["hash"])
        out["trace"] = trace_to_dict(evaluation, evaluation, named)  # type: ignore[arg-type]
        requests = derivation.tree.requests(record["asset"])
        out["observations"] = [
            full_observation(request, entry)
            for request, entry in zip(requests, record["observations"], strict=True)
        ]
    if derivation.problems:
        out[PROBLEMS] = list(derivation.problems)
    # Sorted keys and JSON types, as a stored /1 record read back had them.
    return loads_record(canonical_json_of_plain(out))


def derive(
    record: Record,
    log: AuditStore | None = None,
    *,
    strategy: Strategy | None = None,
    tree: DecisionTree | None = None,
) -> Derivation:
    """The tree a compact ``record`` cites and its evaluation on the record's observations."""
    try:
        if tree is None:
            tree = tree_of(record, log, strategy=strategy)
        requests = tree.requests(record["asset"])
        entries = record["observations"]
        if len(entries) != len(requests):
            raise AuditError(
                f"the record holds {len(entries)} observations for the tree's {len(requests)} "
                "requests"
            )
        moment = parse_iso(str(record["as_of"]))
        evaluation = tree.evaluate_aligned(answers(entries, requests), moment, record["asset"])
    except (AuditError, KeyError, TypeError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, AuditError) else f"{type(exc).__name__}: {exc}"
        return Derivation(None, None, (f"its tree cannot be derived: {reason}",))
    return Derivation(tree, evaluation, disagreements(record, evaluation))


def tree_of(
    record: Record,
    log: AuditStore | None = None,
    *,
    strategy: Strategy | None = None,
    kept: bool = False,
) -> DecisionTree:
    """The compiled tree a compact ``record`` cites (``strategy.tree``); ``AuditError`` when
    neither ``strategy``, this process nor ``log`` has it.

    With ``log`` (and no ``strategy``), the log is asked for the stored tree each time: one it
    no longer stores, or stores edited, is an ``AuditError`` although this process keeps the
    tree (which spares only rebuilding it). ``kept``: a tree this process keeps is taken as it
    is, the log asked only for the others (the bulk readers, which check nothing).
    """
    cited = _cited(record)
    if strategy is not None:
        if tree_hash(strategy) != cited:
            raise AuditError(f"strategy {strategy.name} is not the tree {cited[:19]}… it cites")
        _keep(cited, None, strategy.tree)
        return strategy.tree
    entry = _kept(cited)
    if entry is not None and (kept or log is None):
        return entry[1]
    if log is None:
        raise AuditError(f"tree {cited[:19]}… is not known here: read the record with its log")
    document = log.tree_document(cited)
    if document is None:
        raise AuditError(f"the log does not store the tree {cited[:19]}… the record cites")
    if entry is not None and entry[0] is not None and entry[0] == document:
        return entry[1]  # the very document it was rebuilt from (and hashed) before
    if content_hash(document) != cited:
        raise AuditError(f"the stored tree {cited[:19]}… does not hash to its key: it was edited")
    tree = entry[1] if entry is not None else tree_from_document(document)
    _keep(cited, document, tree)
    return tree


def _cited(record: Record) -> str:
    reference = record.get("strategy")
    cited = reference.get("tree") if isinstance(reference, Mapping) else None
    if not isinstance(cited, str):
        raise AuditError("the record cites no tree (strategy.tree)")
    return cited


def remember(strategy: Strategy) -> None:
    """Make ``strategy``'s tree known to this process (records citing it expand without a log)."""
    _keep(tree_hash(strategy), None, strategy.tree)


def _kept(key: str) -> tuple[dict[str, Any] | None, DecisionTree] | None:
    with _TREES_LOCK:
        entry = _TREES.get(key)
        if entry is not None:
            _TREES.move_to_end(key)
        return entry


def _keep(key: str, document: dict[str, Any] | None, tree: DecisionTree) -> None:
    """Keep ``tree`` under ``key`` (one value whichever thread keeps it: a hash names one tree);
    the document it was checked against stays known once one was."""
    with _TREES_LOCK:
        before = _TREES.get(key)
        if document is None and before is not None:
            document = before[0]
        _TREES[key] = (document, tree)
        _TREES.move_to_end(key)
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)


def disagreements(record: Record, evaluation: Evaluation) -> tuple[str, ...]:
    """Where the re-evaluation differs from what the record states."""
    found = []
    derived = {
        "verdict": evaluation.verdict.value,
        "action": evaluation.action.value if evaluation.action else None,
        "blocked_by": list(evaluation.blocked_by),
        "conflicts": list(evaluation.conflicts),
    }
    for name, value in derived.items():
        if record.get(name) != value:
            found.append(
                f"re-evaluating its tree gives {name} {value!r}, the record says "
                f"{record.get(name)!r}: the tree shown is not the one that decided"
            )
    return tuple(found)


# --- observations --------------------------------------------------------------------------------


class _Named(NamedTuple):
    """What ``trace_to_dict`` reads of a strategy."""

    name: str
    content_hash: str


def answers(entries: Sequence[Any], requests: Sequence[Request]) -> list[Any]:
    """A compact record's observations as the adapters answered them, aligned with ``requests``
    (the order ``DecisionTree.evaluate_aligned`` takes)."""
    return [_answer(entry, request) for entry, request in zip(entries, requests, strict=True)]


def _answer(entry: Any, request: Request) -> Any:
    if entry is None:
        return None
    if "invalid" in entry:
        # An answer of another type: the leaf was ADAPTER_ERROR and the trace names the type.
        return type(str(entry["invalid"]), (), {})()
    if "error" in entry:
        error = entry["error"]
        reason = error["reason"]
        code = Code(reason) if reason in Code.__members__ else reason
        return DataError(code, error["message"], request.source)
    value = entry["value"]
    fetched = entry.get("fetched_at")
    return Observation(
        # NaN and infinity were stored as text ("nan", "inf"): JSON has neither.
        value=float(value) if isinstance(value, str) else value,
        as_of=parse_iso(entry["data_time"]),
        source=request.source,
        fetched_at=parse_iso(fetched) if fetched else None,
        detail=entry.get("detail"),
    )


def full_observation(request: Request, entry: Any) -> dict[str, Any]:
    """One observation as a ``/1`` record held it: the request, then what was answered."""
    out: dict[str, Any] = {
        "source": request.source,
        "metric": request.metric,
        "params": dict(request.params),
        "asset": request.asset,
        "status": Code.MISSING.value,
        "value": None,
        "data_time": None,
        "fetched_at": None,
        "error": None,
    }
    if entry is None:
        return out
    if "error" in entry:
        out.update(status="ERROR", error=dict(entry["error"]))
        return out
    out.update(
        status="OK",
        value=entry["value"],
        data_time=entry["data_time"],
        fetched_at=entry.get("fetched_at"),
    )
    if "detail" in entry:
        out["detail"] = entry["detail"]
    return out


class StoredDecision(dict[str, Any]):
    """A compact decision as stored, whose ``record["trace"]`` (and ``.get("trace")``) is the
    derived trace, worked out on first use: what ``queries.records_of_kind`` gives, so that code
    written against ``/1`` records reads a trace while code that never asks pays nothing. The
    trace is not a key (equality and iteration see the stored record); its observations stay
    compact: ``expanded`` gives the whole ``/1`` shape."""

    __slots__ = ("_trace", "_tree")

    def __init__(self, record: Record, tree: DecisionTree | None) -> None:
        super().__init__(record)
        self._tree = tree
        self._trace: Any = None

    def __missing__(self, key: str) -> Any:
        if key != "trace":
            raise KeyError(key)
        if self._trace is None:
            self._trace = expanded(dict(self), tree=self._tree).get("trace")
        return self._trace

    def get(self, key: str, default: Any = None) -> Any:
        if key == "trace" and not dict.__contains__(self, key):
            return self["trace"]
        return dict.get(self, key, default)


def with_trace(record: dict[str, Any], log: AuditStore | None) -> dict[str, Any]:
    """A compact decision as a ``StoredDecision`` (its tree resolved from ``log`` now, while it
    is open); any other record as it is."""
    if not is_compact(record) or "trace" in record:
        return record
    try:
        # Now: the trace may be asked for after the log closed.
        tree = tree_of(record, log, kept=True)
    except AuditError:
        tree = None  # the trace is then None, and ``expanded`` says why
    return StoredDecision(record, tree)


def veto_statuses(record: Record, log: AuditStore | None = None) -> dict[str, str]:
    """Each veto's status (PASS, FAIL, UNKNOWN) in a decision, by veto id; empty when it cannot
    be had. Reads a ``/1`` record's trace, and re-evaluates a compact one."""
    if not is_compact(record) or "trace" in record:
        trace = record.get("trace") or {}
        return {veto["id"]: veto["status"] for veto in trace.get("vetoes", [])}
    try:
        tree = tree_of(record, log, kept=True)  # a bulk reader (a backtest's blocked decisions)
    except AuditError:
        return {}
    derivation = derive(record, log, tree=tree)
    if derivation.tree is None or derivation.evaluation is None:
        return {}
    statuses = derivation.evaluation.statuses
    return {veto.id: Status(statuses[veto.node.index]).name for veto in derivation.tree.vetoes}


__all__ = [
    "PROBLEMS",
    "Derivation",
    "StoredDecision",
    "answers",
    "derive",
    "disagreements",
    "expanded",
    "full_observation",
    "is_compact",
    "remember",
    "tree_of",
    "veto_statuses",
    "with_trace",
]
