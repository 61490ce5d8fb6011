"""The logic tree a strategy compiles into, its three-valued evaluation, and the trace.

Nodes (defined in ``nodes``) are frozen values, each remembering where in the
YAML it came from. Statuses follow Kleene's three-valued logic so that missing data can never make
a condition pass:

    all_of: FAIL if any child FAILs, else UNKNOWN if any is UNKNOWN, else PASS
    any_of: PASS if any child PASSes, else UNKNOWN if any is UNKNOWN, else FAIL
    at_least n: PASS if >= n PASS; FAIL if < n even counting UNKNOWNs as PASS; else UNKNOWN
    not: swaps PASS and FAIL, keeps UNKNOWN
    weighted: PASS if the PASS children carry >= pass_at of the weight; FAIL if even counting
        UNKNOWNs as PASS they carry less; else UNKNOWN, and UNKNOWN when a weight is unknown
        unless every child FAILs (``signalops.evaluation.weighted``)

A veto that is PASS *or UNKNOWN* blocks the action it guards (fail closed).

Every node is evaluated on every call — no short-circuit — so the trace is complete. The evaluation
itself runs as one Python function generated for each tree (see ``_codegen``): walking the nodes
one call at a time would cost the 100x-1000x that tracing engines usually pay; the generated code
records every status and value at close to the cost of a hand-written rule. The trace stores flat
tuples; the readable views (``leaves()``, ``to_dict()``) are built from them on demand, and the
JSON format of the trace is ``trace_json``'s.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from signalops.evaluation._codegen import generate
from signalops.evaluation.nodes import Metric, Node, Predicate, Status, Weighted, operand_value
from signalops.evaluation.trace_json import TracePlan, trace_plan, trace_to_dict
from signalops.evaluation.weighted import Vote, WeightReading, vote, weights_of
from signalops.observation import DataError, Observation, Request, utc
from signalops.side import Side

__all__ = [
    "DecisionTree",
    "Evaluation",
    "LeafTrace",
    "MetricReading",
    "Trace",
    "Verdict",
    "Veto",
    "confirmation_text",
    "epoch_to_utc",
]


class Verdict(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"
    BLOCKED = "BLOCKED"


def confirmation_text(action: str, n: int, count: int) -> str:
    """How many of the rules must pass, in words: ``BUY when both rules pass``."""
    if count == 1:
        return f"{action} when this rule passes"
    if n == count:
        return f"{action} when {'both' if count == 2 else f'all {count}'} rules pass"
    if n == 1:
        return f"{action} when any of {count} rules passes"
    return f"{action} when at least {n} of {count} rules pass"


@dataclass(frozen=True, slots=True)
class Veto:
    """A guard: when ``node`` is PASS or UNKNOWN, the actions in ``blocks`` may not happen."""

    id: str
    node: Node
    blocks: frozenset[Side]
    description: str | None = None


# --- the whole tree ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionTree:
    """Entry (BUY) and exit (SELL) conditions plus vetoes, ready to evaluate.

    ``metrics`` lists every distinct metric in the tree once: the engine fetches each once per
    asset and cycle, however many leaves read it.
    """

    entry: Node
    exit: Node | None
    vetoes: tuple[Veto, ...]
    nodes: tuple[Node, ...] = field(init=False, repr=False)
    metrics: tuple[Metric, ...] = field(init=False, repr=False)
    _run: Any = field(init=False, repr=False, compare=False)
    _plan: Any = field(init=False, repr=False, compare=False)
    _requests: dict[str | None, tuple[Request, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # Each metric's place in ``metrics``, and each leaf's (and weighted vote's) metrics as those
    # places: a trace finds a node's observations by index instead of searching ``metrics`` with
    # dataclass equality.
    _slots: dict[Metric, int] = field(init=False, repr=False, compare=False)
    _leaf_slots: dict[int, tuple[int, ...]] = field(init=False, repr=False, compare=False)
    _trace_plan: TracePlan | None = field(init=False, repr=False, compare=False, default=None)
    _under: dict[int, tuple[Predicate, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        roots = [self.entry, *([self.exit] if self.exit else []), *(v.node for v in self.vetoes)]
        nodes = sorted((n for root in roots for n in root.walk()), key=lambda n: n.index)
        if [n.index for n in nodes] != list(range(len(nodes))):
            raise ValueError("node indexes must be 0..n-1, each used once")
        metrics: dict[Metric, None] = {}
        for node in nodes:
            if isinstance(node, Predicate | Weighted):
                # A weighted vote reads its weights' observations (none when they are fixed).
                metrics.update(dict.fromkeys(node.metrics))
        slots = {metric: i for i, metric in enumerate(metrics)}
        leaf_slots = {
            node.index: tuple(slots[m] for m in node.metrics)
            for node in nodes
            if isinstance(node, Predicate | Weighted)
        }
        object.__setattr__(self, "nodes", tuple(nodes))
        object.__setattr__(self, "metrics", tuple(metrics))
        object.__setattr__(self, "_slots", slots)
        object.__setattr__(self, "_leaf_slots", leaf_slots)
        object.__setattr__(self, "_run", generate(self))
        plan = _Plan(
            self.entry.index,
            self.exit.index if self.exit is not None else -1,
            tuple((v.node.index, v.id) for v in self.vetoes if Side.BUY in v.blocks),
            tuple((v.node.index, v.id) for v in self.vetoes if Side.SELL in v.blocks),
        )
        object.__setattr__(self, "_plan", plan)

    @property
    def source_code(self) -> str:
        """The generated evaluation function, for anyone who wants to audit it."""
        return self._run.source

    def leaves(self) -> tuple[Predicate, ...]:
        return tuple(n for n in self.nodes if isinstance(n, Predicate))

    def leaves_under(self, node: Node) -> tuple[Predicate, ...]:
        """The leaves under ``node`` (one of this tree's), in walk order; found once per node
        (the gate asks for the acting side's at every decision)."""
        found = self._under.get(node.index)
        if found is None:
            found = tuple(n for n in node.walk() if isinstance(n, Predicate))
            self._under[node.index] = found
        return found

    def trace_plan(self) -> TracePlan:
        """What the trace JSON needs from this tree, worked out on first use and kept."""
        plan = self._trace_plan
        if plan is None:
            plan = trace_plan(self)
            object.__setattr__(self, "_trace_plan", plan)
        return plan

    def requests(self, asset: str | None) -> tuple[Request, ...]:
        """The requests this tree needs for ``asset``, aligned with ``metrics``."""
        cached = self._requests.get(asset)
        if cached is None:
            cached = tuple(m.request(asset) for m in self.metrics)
            self._requests[asset] = cached
        return cached

    def evaluate(
        self,
        observations: Mapping[Request, Observation | DataError],
        as_of: datetime,
        asset: str | None = None,
    ) -> Evaluation:
        """Evaluate every node at ``as_of`` with what the adapters returned."""
        requests = self.requests(asset)
        return self.evaluate_aligned(tuple(map(observations.get, requests)), as_of, asset)

    def evaluate_aligned(
        self,
        observations: Sequence[Observation | DataError | None],
        as_of: datetime,
        asset: str | None = None,
    ) -> Evaluation:
        """Like ``evaluate`` with observations already in ``metrics`` order (the fast path)."""
        if as_of.tzinfo is None:
            utc(as_of)  # raises with a clear message
        statuses, reasons = self._run(observations, as_of.timestamp())
        return _decide(self, statuses, (self, asset, as_of, observations, statuses, reasons))


_tuple_new = tuple.__new__
_BUY, _SELL = Side.BUY, Side.SELL
_HOLD, _BLOCKED = Verdict.HOLD, Verdict.BLOCKED
_BUY_VERDICT, _SELL_VERDICT = Verdict.BUY, Verdict.SELL
_BOTH_PASS = ("entry and exit rules both pass: holding",)
_EXIT_UNKNOWN = ("entry rules pass but the exit rules cannot be evaluated: not buying",)


def _decide(tree: DecisionTree, statuses: tuple[int, ...], traced: tuple) -> Evaluation:
    # tuple.__new__ skips NamedTuple's Python-level __new__: this runs once per evaluation.
    entry_index, exit_index, buy_vetoes, sell_vetoes = tree._plan
    entry = statuses[entry_index]
    exit_ = statuses[exit_index] if exit_index >= 0 else 0
    if entry == 1:
        if exit_ == 1:
            return _tuple_new(Evaluation, (_HOLD, None, (), _BOTH_PASS, *traced))
        if exit_ == 2:
            # The exit might be passing too; unknown data must never add risk, so no BUY. (An
            # unknown entry does not stop a SELL below: selling reduces risk.)
            return _tuple_new(Evaluation, (_HOLD, None, (), _EXIT_UNKNOWN, *traced))
        action, verdict, vetoes = _BUY, _BUY_VERDICT, buy_vetoes
    elif exit_ == 1:
        action, verdict, vetoes = _SELL, _SELL_VERDICT, sell_vetoes
    else:
        return _tuple_new(Evaluation, (_HOLD, None, (), (), *traced))
    if vetoes:
        blocked_by = tuple(veto_id for index, veto_id in vetoes if statuses[index])
        if blocked_by:  # a veto that PASSes blocks; one that is UNKNOWN blocks too (fail closed)
            conflicts = tuple(
                f"{action} signal conflicts with veto '{veto_id}'"
                for index, veto_id in vetoes
                if statuses[index] == 1
            )
            return _tuple_new(Evaluation, (_BLOCKED, action, blocked_by, conflicts, *traced))
    return _tuple_new(Evaluation, (verdict, action, (), (), *traced))


class _Plan(NamedTuple):
    """Node indexes the verdict needs, computed once per tree."""

    entry: int
    exit: int
    buy_vetoes: tuple[tuple[int, str], ...]
    sell_vetoes: tuple[tuple[int, str], ...]


# --- results -----------------------------------------------------------------------------------


class Evaluation(NamedTuple):
    """The outcome of one evaluation: the verdict, what it would have done, and the full trace.

    ``action`` is the signal before vetoes (BUY or SELL), so a BLOCKED verdict still says what was
    blocked; ``blocked_by`` names the vetoes that stopped it (PASS or UNKNOWN). The remaining
    fields are the trace's, stored flat so one evaluation allocates one object; ``trace`` gives
    the readable view.
    """

    verdict: Verdict
    action: Side | None
    blocked_by: tuple[str, ...]
    conflicts: tuple[str, ...]
    tree: DecisionTree
    asset: str | None
    as_of: datetime
    observations: Sequence[Observation | DataError | None]
    statuses: tuple[int, ...]
    reasons: tuple[str | None, ...]

    @property
    def trace(self) -> Trace:
        return Trace(self.tree, self.asset, self.as_of, *self[7:])

    def to_dict(self) -> dict[str, Any]:
        """The trace JSON (``Trace.to_dict``), read straight from these fields."""
        return trace_to_dict(self, self)


class Trace(NamedTuple):
    """Every node's status for one evaluation, with the observations that produced them.

    ``statuses`` and ``reasons`` (why a leaf is UNKNOWN) are indexed by node index;
    ``observations`` align with ``tree.metrics``. Operand values are recomputed from the
    observations on demand: they are a pure function of them.
    """

    tree: DecisionTree
    asset: str | None
    as_of: datetime
    observations: Sequence[Observation | DataError | None]
    statuses: tuple[int, ...]
    reasons: tuple[str | None, ...]

    def status(self, node: Node) -> Status:
        return Status(self.statuses[node.index])

    def observation(self, metric: Metric) -> Observation | DataError | None:
        """What the tree's ``metric`` was answered with (ValueError if the tree has no such)."""
        slot = self.tree._slots.get(metric)
        if slot is None:
            raise ValueError(f"{metric!r} is not a metric of this tree")
        return self.observations[slot]

    def leaf(self, node: Predicate) -> LeafTrace:
        now = self.as_of.timestamp()
        observations = self.observations
        seen = [
            MetricReading.of(metric, observations[slot], max_age, now)
            for metric, max_age, slot in zip(
                node.metrics, node.max_ages, self.tree._leaf_slots[node.index], strict=True
            )
        ]
        values = {m: r.value for m, r in zip(node.metrics, seen, strict=True)}
        left = operand_value(node.left, values)
        rights = tuple(operand_value(r, values) for r in node.right)
        return LeafTrace(
            node=node,
            status=Status(self.statuses[node.index]),
            reason=self.reasons[node.index],
            value=left,
            threshold_value=rights[0] if len(rights) == 1 else rights,
            readings=tuple(seen),
        )

    def data_times(self, node: Predicate) -> tuple[datetime | None, ...]:
        """``reading.data_time`` of each of ``leaf(node).readings``, without building the view.

        When the data the leaf read is from (UTC; None where no Observation answered): what a
        decision needs to know how old its data is, on every traded decision.
        """
        observations = self.observations
        return tuple(
            utc(obs.as_of) if obs.__class__ is Observation else None
            for obs in (observations[slot] for slot in self.tree._leaf_slots[node.index])
        )

    def weights(self, node: Weighted) -> tuple[WeightReading, ...]:
        """Each child's weight in the vote ``node`` and where it came from."""
        observations = self.observations
        seen = [observations[slot] for slot in self.tree._leaf_slots[node.index]]
        return weights_of(node, seen, self.as_of.timestamp())

    def vote(self, node: Weighted) -> Vote:
        """The vote ``node`` cast: its status and the share of the weight that passed."""
        statuses = [self.statuses[child.index] for child in node.items]
        return vote(statuses, [w.weight for w in self.weights(node)], node.pass_at)

    def leaves(self) -> Iterator[LeafTrace]:
        for node in self.tree.nodes:
            if isinstance(node, Predicate):
                yield self.leaf(node)

    def to_dict(self, evaluation: Evaluation | None = None) -> dict[str, Any]:
        """JSON-ready trace; a superset of the original SignalOps audit example's fields."""
        return trace_to_dict(self, evaluation)


@dataclass(frozen=True, slots=True)
class MetricReading:
    """One metric as a leaf saw it: the request, the value, its timestamp and age."""

    metric: Metric
    value: Any
    data_time: datetime | None
    age_seconds: float | None
    max_age: int
    error: str | None

    @classmethod
    def of(
        cls, metric: Metric, obs: Observation | DataError | None, max_age: int, now: float
    ) -> MetricReading:
        # The same test as the generated code (exact class), so the trace shows what was used.
        if obs.__class__ is Observation:
            return cls(metric, obs.value, utc(obs.as_of), now - obs.epoch, max_age, None)
        if isinstance(obs, DataError):
            return cls(metric, None, None, None, max_age, f"{obs.reason}: {obs.message}")
        if obs is not None:
            # Anything else made the leaf ADAPTER_ERROR; without this the reading looked missing.
            error = f"not an Observation or DataError: {type(obs).__name__}"
            return cls(metric, None, None, None, max_age, error)
        return cls(metric, None, None, None, max_age, None)


@dataclass(frozen=True, slots=True)
class LeafTrace:
    """A readable view of one leaf's evaluation."""

    node: Predicate
    status: Status
    reason: str | None
    value: Any
    threshold_value: Any
    readings: tuple[MetricReading, ...]


def epoch_to_utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
