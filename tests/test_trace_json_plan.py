"""The trace JSON built from a tree's plan equals the JSON of the readable view, key for key.

``trace_to_dict`` fills per-tree templates (``trace_plan``) for speed; ``Trace.leaves()`` is the
plain readable view of the same evaluation. The reference below writes the JSON from that view
the simple way (the implementation the plan replaced), and the two must agree in values, types
and key order -- what audit record hashes and ``evaluate --json`` depend on -- for random trees
and for every kind of reading (fresh, stale, future, NaN, infinity, missing, adapter error, not
an observation, non-UTC and sub-second times).
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_evaluation_properties import specs

from signalops.canonical import canonical_json, iso, json_safe
from signalops.catalogue.spec import format_duration
from signalops.evaluation.nodes import AllOf, AtLeast, Not, Predicate, Status, Weighted
from signalops.evaluation.trace_json import metric_params, node_kind, trace_to_dict
from signalops.observation import DataError, Observation
from signalops.strategy import load, loads

ROOT = Path(__file__).resolve().parents[1]
ARITHMETIC = """
strategy:
  name: arithmetic
  assets: ["BTC"]
  defaults: {max_age: 2d}
  rules:
    - id: arith
      description: "arithmetic, negation, computed thresholds"
      conditions:
        - when: "close - open > 2 * atr(14)"
        - when: "-macd_hist > -1.5"
        - when: "(close - sma(20)) / sma(20) > 0"
        - when: "close / atr(14) > 1"
        - when: "rsi(14) between sma(20) and 70"
        - when: "close > polymarket('us-recession-in-2025').yes"
    - id: market
      source: polymarket
      conditions:
        - market: "us-recession-in-2025"
          operator: "<"
          threshold: 0.25
        - when: "technical.rsi(14) between 30 and 70"
  exit:
    rules:
      - id: out
        conditions:
          - when: "rsi(14) > 70 or not (close < sma(50))"
  vetoes:
    - id: guard
      blocks: [BUY]
      description: "guard"
      conditions:
        - when: "volume_z(20) > 2"
"""
TIMES = (
    datetime(2025, 3, 1, 12, tzinfo=UTC),
    datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2025, 3, 1, 14, tzinfo=timezone(timedelta(hours=2))),
)


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, tuple):
        return [_number(v) for v in value]
    return value


def reference_leaf(leaf: Any) -> dict[str, Any]:
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
    out["value"] = _number(value)
    out["data_timestamp"] = iso(first.data_time) if first else None
    out["age_seconds"] = first.age_seconds if first else None
    out["max_age_seconds"] = first.max_age if first else None
    out["operator"] = node.op
    out["threshold"] = node.threshold_text()
    out["threshold_value"] = _number(leaf.threshold_value)
    out["status"] = leaf.status.name
    out["reason"] = leaf.reason
    out["readings"] = [
        {
            "source": r.metric.source,
            "metric": r.metric.name,
            "params": metric_params(r.metric),
            "value": _number(r.value),
            "data_timestamp": iso(r.data_time),
            "age_seconds": r.age_seconds,
            "max_age_seconds": r.max_age,
            "error": r.error,
        }
        for r in leaf.readings
    ]
    if node.description:
        out["description"] = node.description
    return out


def reference_node(node: Any, trace: Any) -> dict[str, Any]:
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
    if isinstance(node, Weighted):
        out.update(reference_vote(node, trace))
    if node.children:
        out["children"] = [reference_node(child, trace) for child in node.children]
    return out


def whole(count: float | None) -> Any:
    """A count as JSON shows it: an int when whole."""
    return None if count is None else int(count) if count == math.floor(count) else count


def reference_vote(node: Weighted, trace: Any) -> dict[str, Any]:
    """A vote's fields the slow way: ``Trace.vote`` and ``Trace.weights``, not the plan."""
    out: dict[str, Any] = {"pass_at": node.pass_at}
    spec = node.hit_rate
    if spec is not None:
        out["hit_rate"] = {
            "window": format_duration(spec.window),
            "horizon": format_duration(spec.horizon),
            "step": format_duration(spec.step),
            "min_samples": spec.min_samples,
            "prior": spec.prior,
            "min_return": spec.min_return,
            "direction": spec.direction,
        }
    cast = trace.vote(node)
    out.update(vote=cast.low, vote_high=cast.high)
    weights = []
    for reading in trace.weights(node):
        if reading.source == "fixed":
            weights.append({"weight": reading.weight, "source": "fixed"})
            continue
        weights.append(
            {
                "weight": reading.weight,
                "source": reading.source,
                "hits": whole(reading.hits),
                "signals": whole(reading.signals),
                "data_timestamp": None
                if reading.data_time is None
                else iso(datetime.fromtimestamp(reading.data_time, UTC)),
                "reason": reading.reason,
                "error": reading.error,
                "detail": None if reading.detail is None else dict(reading.detail),
            }
        )
    out["weights"] = weights
    return out


def positive_leaves(node: Any, negated: bool = False) -> set[int]:
    if isinstance(node, Predicate):
        return set() if negated else {node.index}
    found: set[int] = set()
    for child in node.children:
        found |= positive_leaves(child, negated ^ isinstance(node, Not))
    return found


def reference(trace: Any, evaluation: Any = None, strategy: Any = None) -> dict[str, Any]:
    tree = trace.tree
    leaves = [reference_leaf(leaf) for leaf in trace.leaves()]
    out: dict[str, Any] = {"timestamp": iso(trace.as_of), "asset": trace.asset}
    if strategy is not None:
        out["strategy"] = {"name": strategy.name, "hash": strategy.content_hash}
    if evaluation is not None:
        out["decision"] = evaluation.verdict.value
        out["action"] = evaluation.action.value if evaluation.action else None
        out["blocked_by"] = list(evaluation.blocked_by)
        out["conflicts"] = list(evaluation.conflicts)
    side = tree.exit if evaluation is not None and evaluation.action == "SELL" else tree.entry
    triggers = positive_leaves(side) if side is not None else set()
    out["triggers_met"] = [x for x in leaves if x["status"] == "PASS" and x["node"] in triggers]
    out["leaves"] = leaves
    out["entry"] = reference_node(tree.entry, trace)
    out["exit"] = reference_node(tree.exit, trace) if tree.exit else None
    out["vetoes"] = [
        {
            "id": veto.id,
            "blocks": sorted(a.value for a in veto.blocks),
            "status": Status(trace.statuses[veto.node.index]).name,
            "description": veto.description,
            "tree": reference_node(veto.node, trace),
        }
        for veto in tree.vetoes
    ]
    return out


def assert_identical(got: Any, expected: Any, path: str = "$") -> None:
    assert type(got) is type(expected), (path, got, expected)
    if isinstance(got, dict):
        assert list(got) == list(expected), path  # key order: evaluate --json prints it
        for key in got:
            assert_identical(got[key], expected[key], f"{path}.{key}")
    elif isinstance(got, list):
        assert len(got) == len(expected), path
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_identical(a, b, f"{path}[{i}]")
    else:
        assert got == expected, (path, got, expected)


def containers(value: Any) -> list[int]:
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return [id(value), *(i for item in items for i in containers(item))]
    return []


def reading(rng: random.Random, source: str, as_of: datetime) -> Any:
    kind = rng.choice(("fresh", "fresh", "none", "error", "nan", "inf", "stale", "future", "odd"))
    if kind == "none":
        return None
    if kind == "error":
        return DataError("HTTP_ERROR", "503 é", source)
    if kind == "odd":
        return ("not", "an observation")
    value = {"nan": math.nan, "inf": -math.inf}.get(kind, rng.choice((0.0, 1e-05, 30.0, 1e20)))
    age = {"stale": 10**7, "future": -3600}.get(kind, rng.randrange(0, 3600))
    moment = as_of - timedelta(seconds=age, microseconds=rng.choice((0, 0, 17)))
    if rng.random() < 0.2:
        moment = moment.astimezone(timezone(timedelta(hours=-5)))
    return Observation(value, moment, source)


def check(strategy: Any, rng: random.Random) -> None:
    asset = strategy.assets[0]
    as_of = rng.choice(TIMES)
    mapping = {r: reading(rng, r.source, as_of) for r in strategy.requests(asset)}
    evaluation = strategy.evaluate(
        {r: o for r, o in mapping.items() if o is not None}, as_of, asset
    )
    trace = evaluation.trace
    for args in ((evaluation, strategy), (evaluation, None), (None, None)):
        got, expected = trace_to_dict(trace, *args), reference(trace, *args)
        assert_identical(got, expected)
        assert canonical_json(got) == canonical_json(expected)
        assert_identical(json_safe(got), got)  # already plain JSON data
        assert all(any(t is x for x in got["leaves"]) for t in got["triggers_met"])
        again = trace_to_dict(trace, *args)
        assert not set(containers(got)) & set(containers(again))  # nothing shared
    assert_identical(evaluation.to_dict(), reference(trace, evaluation))


def test_every_bundled_strategy_gives_the_reference_json_for_every_kind_of_reading():
    rng = random.Random(13)
    for path in sorted((ROOT / "strategies").glob("*.yaml")):
        strategy = load(path)
        for _ in range(40):
            check(strategy, rng)


def test_arithmetic_markets_and_computed_thresholds_give_the_reference_json():
    strategy = loads(ARITHMETIC, "arithmetic.yaml")
    rng = random.Random(7)
    for _ in range(300):
        check(strategy, rng)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), seed=st.integers(0, 2**32))
def test_random_trees_give_the_reference_json(spec, seed):
    strategy = loads(spec.yaml())
    rng = random.Random(seed)
    for _ in range(3):
        check(strategy, rng)


def test_the_trace_json_is_valid_json_without_nan():
    strategy = loads(ARITHMETIC, "arithmetic.yaml")
    rng = random.Random(3)
    for _ in range(50):
        as_of = TIMES[0]
        mapping = {r: reading(rng, r.source, as_of) for r in strategy.requests("BTC")}
        evaluation = strategy.evaluate(
            {r: o for r, o in mapping.items() if o is not None}, as_of, "BTC"
        )
        json.dumps(evaluation.to_dict(), allow_nan=False)
