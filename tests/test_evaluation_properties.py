"""Property tests: compiled trees agree with reference evaluators written here.

Hypothesis builds random condition trees (nested ``all`` / ``any`` / ``at_least`` / ``not`` over
leaves ``metric op threshold`` on a few technical and on-chain metrics), renders them as strategy
YAML (groups as YAML, leaves as ``when:`` or the structured ``metric:`` form, and some subtrees as
one ``when:`` expression with ``and`` / ``or`` / ``not``), compiles the text with ``loads`` and
evaluates it through the public mapping API. The references below know nothing of the library:
they evaluate the random tree they were given with plain Python booleans.

1. With all data known and fresh, every node's status equals the boolean reference.
2. With some metrics unusable (missing, stale, from the future, NaN, adapter error), every node's
   status equals a three-valued reference, and it is *sound*: a node that is PASS or FAIL has that
   value under every completion of its unknown leaves to True/False, and an UNKNOWN node really
   could go either way. (Each leaf occurs once in the tree, so for these read-once formulas
   Kleene's logic is exact: UNKNOWN iff the completions disagree.) In particular an unknown leaf
   never produces a PASS that forcing it to False would turn into a FAIL.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalops.evaluation.nodes import AllOf, AnyOf, AtLeast, Not, Predicate, Status
from signalops.observation import DataError, Observation
from signalops.strategy import loads

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
MAX_AGE = 86400  # the strategies set defaults.max_age: 1d
MAX_COMPLETION_UNKNOWNS = 6

# key -> (how a when: expression names it, the structured form, the catalogue's metric name)
METRICS: dict[str, tuple[str, dict[str, Any], str]] = {
    # Metrics without a declared range: a random threshold on rsi (0 to 100) could be one the
    # compiler refuses as never true.
    "macd": ("macd(12)", {"metric": "macd", "params": {"fast": 12}}, "macd"),
    "macd_hist": ("technical.macd_hist", {"metric": "macd_hist"}, "macd_hist"),
    "volume_z": ("volume_z(20)", {"metric": "volume_z_20"}, "volume_z"),
    "close": ("close", {"metric": "price"}, "close"),  # alias: the same request as close
    "usdc_flow": (
        "stablecoin_net_flow('USDC', 2d)",
        {"metric": "stablecoin_net_flow", "params": {"stablecoin": "USDC", "window": "2d"}},
        "stablecoin_net_flow",
    ),
    "cex_flow": (
        "onchain.exchange_net_flow_24h('binance-cex')",
        {
            "metric": "exchange_net_flow_24h",
            "source": "onchain",
            "params": {"exchange": "binance-cex"},
        },
        "exchange_net_flow_24h",
    ),
}
OPERATORS = ("<", "<=", ">", ">=", "==", "!=", "between")
# Values and thresholds share a small grid so that ties (the edge of every operator) are common.
GRID = (-1.0, 0.0, 0.5, 1.0, 30.0, 50.0)
NUMBERS = st.one_of(
    st.sampled_from(GRID),
    st.floats(-100, 100, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)


# --- the reference model -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Leaf:
    metric: str
    op: str
    thresholds: tuple[float, ...]  # (low, high) for between
    structured: bool  # rendered as metric:/operator:/threshold: when not inside an expression


@dataclass(frozen=True, eq=False)
class Group:
    kind: str  # all | any | at_least | not
    items: tuple[Leaf | Group, ...]
    n: int = 0
    expression: bool = False  # rendered as one when: expression


Tree = Leaf | Group


def compare(value: float, leaf: Leaf) -> bool:
    t = leaf.thresholds
    return {
        "<": lambda: value < t[0],
        "<=": lambda: value <= t[0],
        ">": lambda: value > t[0],
        ">=": lambda: value >= t[0],
        "==": lambda: value == t[0],
        "!=": lambda: value != t[0],
        "between": lambda: t[0] <= value <= t[1],
    }[leaf.op]()


def expressible(node: Tree) -> bool:
    """Whether ``node`` can be written as one when: expression with the same tree shape."""
    if isinstance(node, Leaf):
        return True
    if node.kind == "at_least" or (node.kind in ("all", "any") and len(node.items) < 2):
        return False
    return all(expressible(item) for item in node.items)


# --- rendering as YAML ---------------------------------------------------------------------------


def number_text(value: float) -> str:
    return repr(value)  # round-trips exactly; the expression grammar reads 1e-05 and -30.0


def leaf_expression(leaf: Leaf) -> str:
    name = METRICS[leaf.metric][0]
    if leaf.op == "between":
        low, high = leaf.thresholds
        return f"{name} between {number_text(low)} and {number_text(high)}"
    return f"{name} {leaf.op} {number_text(leaf.thresholds[0])}"


def expression(node: Tree) -> str:
    if isinstance(node, Leaf):
        return leaf_expression(node)
    if node.kind == "not":
        return f"not ({expression(node.items[0])})"
    word = " and " if node.kind == "all" else " or "
    return word.join(f"({expression(item)})" for item in node.items)


def condition(node: Tree) -> dict[str, Any]:
    if isinstance(node, Leaf):
        if not node.structured:
            return {"when": leaf_expression(node)}
        threshold: Any = list(node.thresholds) if node.op == "between" else node.thresholds[0]
        return {**METRICS[node.metric][1], "operator": node.op, "threshold": threshold}
    if node.expression:
        return {"when": expression(node)}
    if node.kind == "not":
        return {"not": condition(node.items[0])}
    items = [condition(item) for item in node.items]
    if node.kind == "at_least":
        return {"at_least": {"n": node.n, "of": items}}
    return {node.kind: items}


@dataclass(frozen=True)
class Spec:
    """A random strategy: entry rules, optional exit rules, vetoes (each rule is an ``all``)."""

    entry: Group  # at_least n of rules
    exit: Group | None
    vetoes: tuple[tuple[Group, tuple[str, ...]], ...]  # (rule, blocks)

    def yaml(self) -> str:
        def rules(group: Group, prefix: str) -> list[dict[str, Any]]:
            return [
                {"id": f"{prefix}{i}", "conditions": [condition(c) for c in rule.items]}
                for i, rule in enumerate(group.items)
            ]

        body: dict[str, Any] = {
            "name": "random",
            "assets": ["BTC"],
            "defaults": {"max_age": "1d"},
            "rules": rules(self.entry, "entry"),
            "execution": {"require_confirmations": self.entry.n},
        }
        if self.exit is not None:
            body["exit"] = {
                "rules": rules(self.exit, "exit"),
                "require_confirmations": self.exit.n,
            }
        if self.vetoes:
            body["vetoes"] = [
                {
                    "id": f"veto{i}",
                    "blocks": list(blocks),
                    "conditions": [condition(c) for c in rule.items],
                }
                for i, (rule, blocks) in enumerate(self.vetoes)
            ]
        return yaml.safe_dump({"strategy": body}, sort_keys=False)


# --- hypothesis strategies -----------------------------------------------------------------------


@st.composite
def leaves(draw: st.DrawFn) -> Leaf:
    op = draw(st.sampled_from(OPERATORS))
    if op == "between":
        thresholds = tuple(sorted((draw(NUMBERS), draw(NUMBERS))))
    else:
        thresholds = (draw(NUMBERS),)
    return Leaf(draw(st.sampled_from(sorted(METRICS))), op, thresholds, draw(st.booleans()))


@st.composite
def trees(draw: st.DrawFn, depth: int) -> Tree:
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(leaves())
    kind = draw(st.sampled_from(("all", "any", "at_least", "not")))
    if kind == "not":
        items: tuple[Tree, ...] = (draw(trees(depth - 1)),)
    else:
        items = tuple(draw(st.lists(trees(depth - 1), min_size=1, max_size=3)))
    n = draw(st.integers(1, len(items))) if kind == "at_least" else 0
    group = Group(kind, items, n)
    if expressible(group) and draw(st.booleans()):
        group = Group(kind, items, n, expression=True)
    return group


def rule() -> st.SearchStrategy[Group]:
    return st.lists(trees(3), min_size=1, max_size=2).map(lambda cs: Group("all", tuple(cs)))


@st.composite
def specs(draw: st.DrawFn) -> Spec:
    entry_rules = draw(st.lists(rule(), min_size=1, max_size=3))
    entry = Group("at_least", tuple(entry_rules), draw(st.integers(1, len(entry_rules))))
    exit_group = None
    if draw(st.booleans()):
        exit_rules = draw(st.lists(rule(), min_size=1, max_size=2))
        exit_group = Group("at_least", tuple(exit_rules), draw(st.integers(1, len(exit_rules))))
    blocks = st.sampled_from((("BUY",), ("SELL",), ("BUY", "SELL")))
    vetoes = draw(st.lists(st.tuples(rule(), blocks), max_size=2))
    return Spec(entry, exit_group, tuple(vetoes))


# Fresh: up to and including exactly max_age. Each unusable kind names the reason it must give.
FRESH_AGES = st.sampled_from((0, 1, 60, 3600, MAX_AGE))
UNUSABLE = ("MISSING", "STALE", "FUTURE", "NOT_A_NUMBER", "ADAPTER_ERROR")


# --- pairing the reference with the compiled tree ------------------------------------------------
# A paired node is (kind, index, payload): the compiled node's index identifies it (every node has
# its own), the kind and payload come from the reference tree.


def pair(ref: Tree, node: Any) -> tuple:
    if isinstance(ref, Leaf):
        assert isinstance(node, Predicate), node
        assert node.op == ref.op
        assert [m.name for m in node.metrics] == [METRICS[ref.metric][2]]
        assert node.max_ages == (MAX_AGE,)
        return ("leaf", node.index, ref)
    expected_type = {"all": AllOf, "any": AnyOf, "at_least": AtLeast, "not": Not}[ref.kind]
    assert type(node) is expected_type, (ref.kind, node)
    assert len(node.children) == len(ref.items)
    children = tuple(pair(r, c) for r, c in zip(ref.items, node.children, strict=True))
    if ref.kind == "at_least":
        assert node.n == ref.n
    return (ref.kind, node.index, ref.n, children)


def paired_roots(spec: Spec, tree: Any) -> tuple[tuple, tuple | None, list[tuple[tuple, set]]]:
    entry = pair(spec.entry, tree.entry)
    exit_ = pair(spec.exit, tree.exit) if spec.exit is not None else None
    assert (tree.exit is None) == (spec.exit is None)
    assert len(tree.vetoes) == len(spec.vetoes)
    vetoes = []
    for (group, blocks), veto in zip(spec.vetoes, tree.vetoes, strict=True):
        assert {a.value for a in veto.blocks} == set(blocks)
        vetoes.append((pair(group, veto.node), set(blocks)))
    return entry, exit_, vetoes


def walk(node: tuple):
    yield node
    if node[0] != "leaf":
        for child in node[3]:
            yield from walk(child)


# --- reference evaluators ------------------------------------------------------------------------


def boolean(node: tuple, leaf_truth: dict[int, bool]) -> bool:
    """Plain two-valued evaluation with each leaf's truth given."""
    kind, index = node[0], node[1]
    if kind == "leaf":
        return leaf_truth[index]
    values = [boolean(child, leaf_truth) for child in node[3]]
    if kind == "all":
        return all(values)
    if kind == "any":
        return any(values)
    if kind == "at_least":
        return sum(values) >= node[2]
    return not values[0]


def three_valued(node: tuple, leaf_truth: dict[int, bool | None]) -> bool | None:
    """Kleene's strong three-valued logic; None is unknown."""
    kind, index = node[0], node[1]
    if kind == "leaf":
        return leaf_truth[index]
    values = [three_valued(child, leaf_truth) for child in node[3]]
    if kind == "not":
        return None if values[0] is None else not values[0]
    passed, unknown = values.count(True), values.count(None)
    needed = {"all": len(values), "any": 1, "at_least": node[2]}[kind]
    if passed >= needed:
        return True
    if passed + unknown < needed:
        return False
    return None


def status_of(value: bool | None) -> Status:
    return Status.UNKNOWN if value is None else Status.PASS if value else Status.FAIL


NO_EXIT = "no exit rules"


def expected_verdict(
    entry: bool | None, exit_: bool | str | None, vetoes: list[tuple[bool | None, set]]
) -> tuple[str, str | None, tuple[int, ...], tuple[int, ...]]:
    """(verdict, action, blocking veto positions, conflicting veto positions).

    ``exit_`` is NO_EXIT when the strategy has no exit rules, None when they are UNKNOWN.
    """
    if entry is True and exit_ is not False and exit_ != NO_EXIT:
        return "HOLD", None, (), ()  # exit passes too, or might: never buy on unknown data
    if entry is True:
        action = "BUY"
    elif exit_ is True:
        action = "SELL"
    else:
        return "HOLD", None, (), ()
    guarding = [(i, value) for i, (value, blocks) in enumerate(vetoes) if action in blocks]
    blocking = tuple(i for i, value in guarding if value is not False)  # PASS or UNKNOWN
    conflicting = tuple(i for i, value in guarding if value is True)
    return ("BLOCKED" if blocking else action), action, blocking, conflicting


def check_verdict(evaluation: Any, entry, exit_, vetoes) -> None:
    verdict, action, blocking, conflicting = expected_verdict(entry, exit_, vetoes)
    assert evaluation.verdict.value == verdict
    assert (evaluation.action.value if evaluation.action else None) == action
    assert evaluation.blocked_by == tuple(f"veto{i}" for i in blocking)
    if verdict == "HOLD" and entry is True:
        assert len(evaluation.conflicts) == 1  # the note on the exit passing or being unknown
    else:
        assert evaluation.conflicts == tuple(
            f"{action} signal conflicts with veto 'veto{i}'" for i in conflicting
        )


def observation(value: float, age: int, source: str) -> Observation:
    return Observation(value, NOW - timedelta(seconds=age), source)


PROPERTY_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


# --- property 1: everything known --------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=specs(), data=st.data())
def test_every_node_matches_the_boolean_reference_when_all_data_is_fresh(spec, data):
    strategy = loads(spec.yaml())
    tree = strategy.tree
    entry, exit_, vetoes = paired_roots(spec, tree)
    requests = dict(zip((m.name for m in tree.metrics), strategy.requests("BTC"), strict=True))
    values = {name: data.draw(NUMBERS, label=name) for name in requests}
    mapping = {
        request: observation(values[name], data.draw(FRESH_AGES), request.source)
        for name, request in requests.items()
    }
    evaluation = strategy.evaluate(mapping, NOW, "BTC")

    roots = [entry, *([exit_] if exit_ else []), *(v for v, _ in vetoes)]
    nodes = [node for root in roots for node in walk(root)]
    assert sorted(node[1] for node in nodes) == list(range(len(tree.nodes)))
    by_metric = {key: spec_[2] for key, spec_ in METRICS.items()}
    truth = {
        node[1]: compare(values[by_metric[node[2].metric]], node[2])
        for node in nodes
        if node[0] == "leaf"
    }
    for node in nodes:
        expected = status_of(boolean(node, truth))
        assert evaluation.statuses[node[1]] == expected, (node[0], node[1])
        if node[0] == "leaf":
            assert evaluation.reasons[node[1]] is None
    check_verdict(
        evaluation,
        boolean(entry, truth),
        boolean(exit_, truth) if exit_ else NO_EXIT,
        [(boolean(v, truth), blocks) for v, blocks in vetoes],
    )


# --- property 2: some data unusable ------------------------------------------------------------


@PROPERTY_SETTINGS
@given(spec=specs(), data=st.data())
def test_unknown_leaves_follow_kleene_logic_and_never_decide_a_node(spec, data):
    strategy = loads(spec.yaml())
    tree = strategy.tree
    entry, exit_, vetoes = paired_roots(spec, tree)
    requests = dict(zip((m.name for m in tree.metrics), strategy.requests("BTC"), strict=True))
    states = {
        name: data.draw(st.sampled_from(("known", "known", *UNUSABLE)), label=f"{name} state")
        for name in requests
    }
    values = {name: data.draw(NUMBERS, label=name) for name in requests}
    mapping: dict[Any, Any] = {}
    for name, request in requests.items():
        state, value, source = states[name], values[name], request.source
        if state == "known":
            mapping[request] = observation(value, data.draw(FRESH_AGES), source)
        elif state == "STALE":
            age = data.draw(st.sampled_from((MAX_AGE + 1, 3 * MAX_AGE)), label="stale age")
            mapping[request] = observation(value, age, source)
        elif state == "FUTURE":
            mapping[request] = observation(value, -data.draw(st.sampled_from((1, 3600))), source)
        elif state == "NOT_A_NUMBER":
            bad = data.draw(st.sampled_from((math.nan, math.inf, -math.inf)), label="bad")
            mapping[request] = observation(bad, 60, source)
        elif state == "ADAPTER_ERROR":
            mapping[request] = DataError("HTTP_ERROR", "503", source)
    evaluation = strategy.evaluate(mapping, NOW, "BTC")

    roots = [entry, *([exit_] if exit_ else []), *(v for v, _ in vetoes)]
    nodes = [node for root in roots for node in walk(root)]
    by_metric = {key: spec_[2] for key, spec_ in METRICS.items()}
    truth: dict[int, bool | None] = {}
    for node in nodes:
        if node[0] != "leaf":
            continue
        name = by_metric[node[2].metric]
        known = states[name] == "known"
        truth[node[1]] = compare(values[name], node[2]) if known else None
        assert evaluation.reasons[node[1]] == (None if known else states[name])

    for node in nodes:
        status = Status(evaluation.statuses[node[1]])
        assert status == status_of(three_valued(node, truth)), (node[0], node[1])
        unknown = [n[1] for n in walk(node) if n[0] == "leaf" and truth[n[1]] is None]
        if len(unknown) > MAX_COMPLETION_UNKNOWNS:
            continue
        outcomes = set()
        for completion in itertools.product((False, True), repeat=len(unknown)):
            outcomes.add(boolean(node, {**truth, **dict(zip(unknown, completion, strict=True))}))
        if status is Status.UNKNOWN:
            assert outcomes == {False, True}  # it really could go either way
        else:
            # decided: no completion of the unknowns, e.g. all forced to False, changes it
            assert outcomes == {status is Status.PASS}

    check_verdict(
        evaluation,
        three_valued(entry, truth),
        three_valued(exit_, truth) if exit_ else NO_EXIT,
        [(three_valued(v, truth), blocks) for v, blocks in vetoes],
    )
    # The trace of any evaluation is valid JSON (NaN and infinity do not leak into it).
    record = json.loads(json.dumps(evaluation.to_dict(), allow_nan=False))
    assert len(record["leaves"]) == sum(1 for node in nodes if node[0] == "leaf")
