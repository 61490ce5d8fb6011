"""Replay a stored decision from the log alone, and say whether it comes out the same.

What a replay uses: the strategy document stored once per content hash in the log's
``strategies`` table (compiled again with ``signalops.strategy.loads``), and the observations
the decision record kept (each turned back into the ``Observation`` or ``DataError`` an adapter
answered), evaluated at the record's ``as_of`` for its asset. Nothing is fetched, no file or
clock is read: a replay is a pure function of the log.

The decision is *identical* when the verdict and the trace hash (``content_hash`` of the trace
JSON) match what was recorded. A ``signalops.audit/1`` record stored its trace; a compact one
(``/2``) states its verdict, and its trace is the one its stored tree derives
(``signalops.audit.expand``): replaying it compiles the strategy document instead, so a tree
that is not the document's, or an evaluator that changed since, shows. A mismatch names the
leaves that differ. The one field not recomputed is each leaf's ``span`` (its line in the
original file): the stored document has no layout, so spans come from the recorded trace (see
``with_recorded_spans``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from signalops.audit.expand import answers as expand_answers
from signalops.audit.expand import expanded, is_compact
from signalops.audit.interface import AuditStore
from signalops.audit.queries import records_of_kind
from signalops.audit.record import DECISION, _finish
from signalops.canonical import canonical_json, content_hash, json_safe
from signalops.catalogue import installed
from signalops.catalogue.spec import Catalogue
from signalops.codes import Code
from signalops.errors import AuditError, InputError
from signalops.evaluation.trace_json import trace_to_dict
from signalops.observation import DataError, Observation, Request
from signalops.strategy import loads
from signalops.strategy.model import Strategy

if TYPE_CHECKING:
    from signalops.audit.verify import VerifyReport

Record = Mapping[str, Any]
Answers = dict[Request, Observation | DataError]
# The log being replayed, for expanding compact records with the tree it stores.
_LOG: ContextVar[AuditStore | None] = ContextVar("signalops_replay_log", default=None)


@dataclass(frozen=True, slots=True)
class LeafDifference:
    """One leaf whose stored trace differs from the replayed one: which fields, and both sides."""

    node: int
    text: str
    fields: tuple[str, ...]
    recorded: Mapping[str, Any] | None
    replayed: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """A stored decision against its replay: verdicts, trace hashes and the leaves that differ."""

    decision_id: str
    recorded_verdict: str
    replayed_verdict: str
    recorded_trace_hash: str
    replayed_trace_hash: str
    differing_leaves: tuple[LeafDifference, ...]
    seq: int | None = None
    # Why the record itself cannot be trusted (``verify``): an edited record replays as it now
    # reads, so "identical" says nothing of what was decided.
    problems: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return (
            self.recorded_verdict == self.replayed_verdict
            and self.recorded_trace_hash == self.replayed_trace_hash
        )


def replay(log: AuditStore, decision_id: str, catalogue: Catalogue | None = None) -> ReplayResult:
    """Re-evaluate decision ``decision_id`` of ``log`` from its record and stored strategy.

    ``catalogue`` compiles the stored document (default: the built-in and plugin catalogue).
    Raises ``InputError`` when the log has no such decision and ``AuditError`` when it lacks
    the strategy document the decision was made with.
    """
    from signalops.audit.verify import check_record

    record = log.get(decision_id)
    if record is None or record.get("kind") != DECISION:
        raise InputError(f"no decision {decision_id} in {log.path}")
    problems = tuple(check_record(log, record))
    strategy_hash = record["strategy"]["hash"]
    document = log.strategy_document(strategy_hash)
    if document is None:
        raise AuditError(f"{log.path}: no stored strategy document for {strategy_hash}")
    token = _LOG.set(log)
    try:
        return replace(replay_record(record, document, catalogue), problems=problems)
    finally:
        _LOG.reset(token)


def replay_all(
    log: AuditStore,
    catalogue: Catalogue | None = None,
    *,
    problems: Mapping[int, Sequence[str]] | None = None,
) -> Iterator[ReplayResult]:
    """Every decision of ``log`` in chain order; each stored strategy is compiled once.
    ``problems``: what a ``verify`` of the log found, by seq (``problems_by_seq``), given to
    the results of the decisions they are at."""
    compiled: dict[str, Strategy] = {}
    found = problems or {}
    for record in records_of_kind(log, DECISION):
        strategy_hash = record["strategy"]["hash"]
        if strategy_hash not in compiled:
            document = log.strategy_document(strategy_hash)
            if document is None:
                raise AuditError(f"{log.path}: no stored strategy document for {strategy_hash}")
            compiled[strategy_hash] = compile_document(record, document, catalogue)
        token = _LOG.set(log)
        try:
            result = _replay(record, compiled[strategy_hash])
        finally:
            _LOG.reset(token)
        wrong = found.get(record["seq"])
        yield result if not wrong else replace(result, problems=tuple(wrong))


def problems_by_seq(report: VerifyReport) -> dict[int, list[str]]:
    """A ``verify`` report's problems at records, by seq, as ``audit verify`` words them."""
    found: dict[int, list[str]] = {}
    for problem in report.problems:
        if problem.seq is not None:
            found.setdefault(problem.seq, []).append(f"{problem.kind.value}: {problem.message}")
    return found


def replay_record(
    record: Record, document: Mapping[str, Any], catalogue: Catalogue | None = None
) -> ReplayResult:
    """Re-evaluate one decision ``record`` with the strategy ``document`` it names by hash."""
    return _replay(record, compile_document(record, document, catalogue))


def _replay(record: Record, strategy: Strategy) -> ReplayResult:
    asset = record["asset"]
    as_of = datetime.fromisoformat(record["as_of"])
    requests = strategy.tree.requests(asset)
    if is_compact(record):
        recorded_trace = record["trace"] if "trace" in record else _expanded_trace(record)
        given = expand_answers(record["observations"], requests)
        evaluation = strategy.tree.evaluate_aligned(given, as_of, asset)
        replayed_trace = _plain(trace_to_dict(evaluation, evaluation, strategy))
    else:
        recorded_trace = record["trace"]
        evaluation = strategy.tree.evaluate(answers(record["observations"], requests), as_of, asset)
        # Like the stored record was built (JSON-safe, scrubbed), so the two traces compare byte
        # for byte. No environment: stored strings are scrubbed already, and scrubbing is
        # idempotent.
        trace = trace_to_dict(evaluation.trace, evaluation, strategy)
        replayed_trace = _finish({"trace": trace}, {})["trace"]
    replayed_trace = with_recorded_spans(replayed_trace, recorded_trace)
    return ReplayResult(
        seq=record.get("seq"),
        decision_id=record["decision_id"],
        recorded_verdict=record["verdict"],
        replayed_verdict=evaluation.verdict.value,
        recorded_trace_hash=content_hash(recorded_trace),
        replayed_trace_hash=content_hash(replayed_trace),
        differing_leaves=leaf_differences(
            recorded_trace.get("leaves", []), replayed_trace["leaves"]
        ),
    )


def _expanded_trace(record: Record) -> dict[str, Any]:
    """The trace a compact record's stored tree derives (the tree from this process, else the
    log being replayed); an empty one when it cannot be had, so that every leaf differs."""
    trace = expanded(record, _LOG.get()).get("trace")
    return trace if isinstance(trace, dict) else {"leaves": [], "triggers_met": []}


def _plain(value: Any) -> Any:
    """As a stored record holds it: canonical JSON read back (sorted keys, JSON types)."""
    return json.loads(canonical_json(json_safe(value)))


def with_recorded_spans(trace: Record, recorded: Record) -> dict[str, Any]:
    """``trace`` with each leaf's ``span`` (file:line:column) taken from the recorded trace.

    A span locates a leaf in the *formatting* of the original file, which the stored document
    does not keep (like the content hash, it is the file's content without layout): compiled
    again, every leaf sits on line 1. Spans do not take part in any decision, so they are the one
    field a replay copies instead of recomputing; a leaf the record does not have keeps its own.
    """
    spans = {leaf["node"]: leaf["span"] for leaf in recorded.get("leaves", []) if "span" in leaf}

    def respan(leaf: Record) -> dict[str, Any]:
        return {**leaf, "span": spans.get(leaf["node"], leaf["span"])}

    return {
        **trace,
        "leaves": [respan(leaf) for leaf in trace["leaves"]],
        "triggers_met": [respan(leaf) for leaf in trace["triggers_met"]],
    }


def compile_document(
    record: Record, document: Mapping[str, Any], catalogue: Catalogue | None = None
) -> Strategy:
    """The stored strategy compiled again, under the file name the record gives it."""
    stated = record["strategy"]
    # JSON is YAML: the compiler reads the stored document exactly as it read the file.
    strategy = loads(
        canonical_json(document),
        stated.get("file") or "<stored>",
        catalogue or installed.catalogue(),
    )
    if strategy.content_hash != stated["hash"]:
        raise AuditError(
            f"the stored document hashes to {strategy.content_hash}, "
            f"not {stated['hash']} as decision {record['decision_id']} says"
        )
    return strategy


def answers(observations: Sequence[Record], requests: Sequence[Request]) -> Answers:
    """The record's observations as the adapters answered ``requests``: ``Request`` -> answer.

    Entries are matched to requests by source, metric, parameters and asset (a stored record's
    keys are sorted, so parameter order is not kept). A MISSING entry is left out, as it was
    missing from the answers then.
    """
    stored = {
        _key(entry["source"], entry["metric"], entry["params"], entry.get("asset")): entry
        for entry in observations
    }
    loose = {
        _loose_key(e["source"], e["metric"], e["params"], e.get("asset")): e for e in observations
    }
    found: Answers = {}
    for request in requests:
        entry = stored.get(
            _key(request.source, request.metric, dict(request.params), request.asset)
        ) or loose.get(_loose_key(request.source, request.metric, request.params, request.asset))
        answer = _answer(entry) if entry is not None else None
        if answer is not None:
            found[request] = answer
    return found


def _loose_key(source: str, metric: str, params: Any, asset: str | None) -> str:
    """The key without parameters at their default: a record written before a metric gained
    a parameter (e.g. ``news_count``'s ``feeds``) stored its leaves without it."""
    given = dict(params)
    catalogue = installed.catalogue().sources.get(source)
    spec = catalogue.get(metric) if catalogue is not None else None
    if spec is not None:
        given = {
            name: value
            for name, value in given.items()
            if (param := spec.param(name)) is None or param.required or param.default != value
        }
    return _key(source, metric, given, asset)


def _key(source: str, metric: str, params: Mapping[str, Any], asset: str | None) -> str:
    return canonical_json([source, metric, json_safe(params), asset])


def _answer(entry: Record) -> Observation | DataError | None:
    status = entry["status"]
    if status == "OK":
        value = entry["value"]
        return Observation(
            # NaN and infinity were stored as text ("nan", "inf"): JSON has neither.
            value=float(value) if isinstance(value, str) else value,
            as_of=datetime.fromisoformat(entry["data_time"]),
            source=entry["source"],
            fetched_at=_time(entry.get("fetched_at")),
            detail=entry.get("detail"),
        )
    if status == "ERROR":
        error = entry["error"]
        reason = error["reason"]
        code = Code(reason) if reason in Code.__members__ else reason
        return DataError(code, error["message"], entry["source"])
    return None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def leaf_differences(
    recorded: Sequence[Record], replayed: Sequence[Record]
) -> tuple[LeafDifference, ...]:
    """The leaves (by node index) whose JSON differs, with the names of the differing fields."""
    before = {leaf["node"]: leaf for leaf in recorded}
    after = {leaf["node"]: leaf for leaf in replayed}
    found = []
    for node in sorted(before.keys() | after.keys()):
        old, new = before.get(node), after.get(node)
        if old is not None and new is not None and canonical_json(old) == canonical_json(new):
            continue
        keys = sorted((old or {}).keys() | (new or {}).keys())
        fields = tuple(k for k in keys if _differs((old or {}).get(k), (new or {}).get(k)))
        text = (old or new or {}).get("text", "")
        found.append(LeafDifference(node, text, fields, old, new))
    return tuple(found)


def _differs(a: Any, b: Any) -> bool:
    # Canonical JSON, not ==: 1 and 1.0 are equal in Python but hash differently in a record.
    return canonical_json(a) != canonical_json(b)
