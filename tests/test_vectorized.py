"""The vectorised evaluator agrees with the scalar one, bar by bar.

1. Property: random strategies (groups, at_least, not, exits, vetoes with blocks, max_age at every
   level, ``when:`` expressions with arithmetic and ``between``) over random per-bar data with
   missing values, adapter errors, junk answers, NaN/infinities, stale and future-dated points,
   zero divisors and overflows: every node's status, every leaf's reason, the verdict, the action
   and the blocking vetoes equal ``tree.evaluate_aligned`` at that bar. The same holds when a
   ``SeriesEvaluator`` (a sweep's) evaluates the tree with other constants: equal to the scalar
   evaluation of the tree rebuilt with them.
2. Real data: the bundled BTC candles replayed through the technical adapter. The adapter path is
   exact; the fast TA-Lib path agrees on values within 1e-6 relative and on verdicts except
   where a value sits within 1e-6 of a threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_evaluation_properties import METRICS, NUMBERS, OPERATORS, number_text

from signalops.adapters import gather as engine
from signalops.adapters import onchain, technical
from signalops.adapters.registry import replay_adapters
from signalops.adapters.snapshots import SnapshotStore
from signalops.evaluation.nodes import MATH_ERROR, Arith, Const, Neg, Not, Predicate, Status
from signalops.evaluation.tree import DecisionTree, Verdict
from signalops.evaluation.vectorized import (
    REASONS,
    Reason,
    SeriesEvaluator,
    SeriesInput,
    decode_verdicts,
    evaluate_series,
    inputs_from_adapters,
    inputs_from_observations,
    leaf_constants,
    screen,
    technical_inputs,
)
from signalops.observation import DataError, Observation
from signalops.strategy import load, loads

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
T0 = 1_740_000_000  # 2025-02-19, whole seconds so that datetime round trips are exact

# --- random strategies as YAML ----------------------------------------------------------------

KEYS = sorted(METRICS)
MAX_AGES = st.sampled_from((None, None, "1h", "1d", "2d"))
ARITH = ("+", "-", "*", "/")


@st.composite
def operands(draw: st.DrawFn, depth: int = 2) -> tuple[str, float | None, bool]:
    """(text, value if the operand is a constant, whether it reads a metric)."""
    kind = draw(st.integers(0, 3 if depth else 1))
    if kind == 0:
        return METRICS[draw(st.sampled_from(KEYS))][0], None, True
    if kind == 1:
        value = draw(NUMBERS)
        return number_text(value), value, False
    if kind == 2:
        op = draw(st.sampled_from(ARITH))
        left, _, left_metric = draw(operands(depth - 1))
        right, constant, right_metric = draw(operands(depth - 1))
        if op == "/" and constant == 0:
            # A literal zero divisor is a compile error; a computed one is a runtime MATH_ERROR.
            right = f"({right} + 0.0)"
        return f"({left} {op} {right})", None, left_metric or right_metric
    inner, constant, metric = draw(operands(depth - 1))
    return f"-({inner})", None if constant is None else -constant, metric


@st.composite
def leaf_expressions(draw: st.DrawFn) -> str:
    left, _, left_metric = draw(operands())
    if not left_metric:
        left = METRICS[draw(st.sampled_from(KEYS))][0]  # a comparison must read a metric
    op = draw(st.sampled_from(OPERATORS))
    if op != "between":
        return f"{left} {op} {draw(operands())[0]}"
    (low, low_value, _), (high, high_value, _) = draw(operands()), draw(operands())
    if low_value is not None and high_value is not None and low_value > high_value:
        low, high = high, low  # two constant bounds must form a non-empty range
    return f"{left} between {low} and {high}"


@st.composite
def structured_leaves(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(OPERATORS))
    if op == "between":
        threshold: Any = sorted((draw(NUMBERS), draw(NUMBERS)))
    else:
        threshold = draw(NUMBERS)
    return {**METRICS[draw(st.sampled_from(KEYS))][1], "operator": op, "threshold": threshold}


@st.composite
def boolean_expressions(draw: st.DrawFn, depth: int) -> str:
    kind = draw(st.sampled_from(("leaf", "and", "or", "not") if depth else ("leaf",)))
    if kind == "leaf":
        return draw(leaf_expressions())
    if kind == "not":
        return f"not ({draw(boolean_expressions(depth - 1))})"
    items = draw(st.lists(boolean_expressions(depth - 1), min_size=2, max_size=3))
    return f" {kind} ".join(f"({item})" for item in items)


def with_max_age(draw: st.DrawFn, mapping: dict[str, Any]) -> dict[str, Any]:
    max_age = draw(MAX_AGES)
    return mapping if max_age is None else {**mapping, "max_age": max_age}


@st.composite
def conditions(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    kinds = ("metric", "when", "expression", "all", "any", "at_least", "not")
    kind = draw(st.sampled_from(kinds if depth else kinds[:2]))
    if kind == "metric":
        return with_max_age(draw, draw(structured_leaves()))
    if kind in ("when", "expression"):
        text = draw(leaf_expressions() if kind == "when" else boolean_expressions(2))
        return with_max_age(draw, {"when": text})
    if kind == "not":
        return {"not": draw(conditions(depth - 1))}
    items = draw(st.lists(conditions(depth - 1), min_size=1, max_size=3))
    if kind == "at_least":
        return {"at_least": {"n": draw(st.integers(1, len(items))), "of": items}}
    return {kind: items}


@st.composite
def rules(draw: st.DrawFn, prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        with_max_age(
            draw,
            {
                "id": f"{prefix}{i}",
                "conditions": draw(st.lists(conditions(), max_size=2, min_size=1)),
            },
        )
        for i in range(count)
    ]


@st.composite
def strategy_texts(draw: st.DrawFn) -> str:
    entry = draw(rules("entry", draw(st.integers(1, 3))))
    body: dict[str, Any] = {"name": "random", "assets": ["BTC"]}
    defaults = with_max_age(draw, {})
    if defaults:
        body["defaults"] = defaults
    body["rules"] = entry
    body["execution"] = {"require_confirmations": draw(st.integers(1, len(entry)))}
    if draw(st.booleans()):
        exit_rules = draw(rules("exit", draw(st.integers(1, 2))))
        n = draw(st.integers(1, len(exit_rules)))
        body["exit"] = {"rules": exit_rules, "require_confirmations": n}
    vetoes = draw(rules("veto", draw(st.integers(0, 2))))
    blocks = st.sampled_from((["BUY"], ["SELL"], ["BUY", "SELL"]))
    body["vetoes"] = [{**veto, "blocks": draw(blocks)} for veto in vetoes]
    return yaml.safe_dump({"strategy": body}, sort_keys=False)


# --- random per-bar data -------------------------------------------------------------------------

# Ages straddle every max_age the strategies use (1h, 1d, 2d and the metrics' defaults).
AGES = (0, 1, 3599, 3600, 3601, 86400, 86401, 172800, 172801, 10**7)
ZEROS = st.sampled_from((0.0, -0.0))
VALUES = st.one_of(NUMBERS, ZEROS, ZEROS, st.sampled_from((1e300, -1e300)))  # divisors, overflow
# (kind, value, age): mostly fresh observations, so that many leaves and verdicts are decided.
FRESH = st.tuples(st.just("ok"), VALUES, st.sampled_from(AGES[:4]))
CELLS = st.one_of(
    FRESH,
    FRESH,
    FRESH,
    st.tuples(st.just("ok"), VALUES, st.sampled_from(AGES)),
    st.tuples(st.just("ok"), st.sampled_from((math.nan, math.inf, -math.inf)), st.just(-1)),
    st.tuples(st.just("ok"), VALUES, st.sampled_from((-1, -3600))),  # from the future
    st.tuples(st.sampled_from(("missing", "error", "junk")), st.just(0.0), st.just(0)),
)


def cell_observation(kind: str, value: float, age: int, t: int) -> Any:
    if kind == "ok":
        return Observation(value, datetime.fromtimestamp(t - age, UTC), "test")
    if kind == "error":
        return DataError("HTTP_ERROR", "503", "test")
    return "junk" if kind == "junk" else None  # not an Observation: an adapter error


PROPERTY_SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def assert_matches_scalar(tree: Any, result: Any, rows: list[list[Any]], times: Any) -> None:
    for bar, t in enumerate(times):
        scalar = tree.evaluate_aligned(rows[bar], datetime.fromtimestamp(float(t), UTC), "BTC")
        assert tuple(int(s) for s in result.statuses[:, bar]) == scalar.statuses, bar
        assert result.reasons_at(bar) == scalar.reasons, bar
        assert result.verdict_at(bar) == scalar.verdict, bar
        assert result.action_at(bar) == scalar.action, bar
        assert result.blocked_by_at(bar) == scalar.blocked_by, bar


def draw_bars(data: st.DataObject, tree: Any) -> tuple[Any, list[list[Any]], list[SeriesInput]]:
    """Decision times, per-bar observation rows and the inputs built from the same cells."""
    n = data.draw(st.integers(1, 8), label="bars")
    steps = data.draw(st.lists(st.sampled_from((0, 1, 3600, 86400)), min_size=n, max_size=n))
    times = np.asarray(T0 + np.cumsum(steps), dtype=np.float64)
    # Some metrics are clean (fresh on every bar) so that leaves reading several metrics, and
    # the verdicts above them, are often decided too.
    clean = st.lists(FRESH, min_size=n, max_size=n)
    mixed = st.lists(CELLS, min_size=n, max_size=n)
    columns = [data.draw(st.one_of(clean, mixed), label=m.render()) for m in tree.metrics]
    rows = [
        [cell_observation(*column[bar], int(times[bar])) for column in columns] for bar in range(n)
    ]
    # The inputs are built here from the cells, independently of inputs_from_observations.
    inputs = []
    for column in columns:
        values, data_times, errors = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
        for bar, (kind, value, age) in enumerate(column):
            if kind == "ok":
                values[bar], data_times[bar] = value, times[bar] - age
            else:
                errors[bar] = Reason.MISSING if kind == "missing" else Reason.ADAPTER_ERROR
        inputs.append(SeriesInput(values, data_times, errors))
    return times, rows, inputs


@PROPERTY_SETTINGS
@given(text=strategy_texts(), data=st.data())
def test_vectorized_equals_scalar_on_random_trees_and_data(text, data):
    tree = loads(text).tree
    times, rows, inputs = draw_bars(data, tree)
    result = evaluate_series(tree, inputs, times)
    assert_matches_scalar(tree, result, rows, times)
    for encoded, built in zip(inputs_from_observations(rows), inputs, strict=True):
        np.testing.assert_array_equal(encoded.values, built.values)
        np.testing.assert_array_equal(encoded.data_times, built.data_times)
        np.testing.assert_array_equal(encoded.errors, built.errors)


def with_constants(tree: DecisionTree, constants: dict[int, list[float]]) -> DecisionTree:
    """``tree`` rebuilt with each leaf's constants replaced, in ``leaf_constants`` order."""

    def operand(o: Any, values: Iterator[float]) -> Any:
        if isinstance(o, Const):
            return Const(next(values), "c")
        if isinstance(o, Neg):
            return Neg(operand(o.operand, values))
        if isinstance(o, Arith):
            return Arith(o.op, operand(o.left, values), operand(o.right, values))
        return o

    def node(n: Any) -> Any:
        if isinstance(n, Predicate):
            values = iter(constants[n.index])
            left = operand(n.left, values)
            return replace(n, left=left, right=tuple(operand(r, values) for r in n.right))
        if isinstance(n, Not):
            return replace(n, item=node(n.item))
        return replace(n, items=tuple(node(child) for child in n.items))

    return DecisionTree(
        node(tree.entry),
        None if tree.exit is None else node(tree.exit),
        tuple(replace(v, node=node(v.node)) for v in tree.vetoes),
    )


@PROPERTY_SETTINGS
@given(text=strategy_texts(), data=st.data())
def test_replaced_constants_evaluate_as_the_tree_compiled_with_them(text, data):
    """What a sweep does with thresholds: one evaluator, other constants per combination."""
    tree = loads(text).tree
    times, rows, inputs = draw_bars(data, tree)
    evaluator = SeriesEvaluator(tree, inputs, times)
    leaves = [n for n in tree.nodes if isinstance(n, Predicate)]
    for round_ in range(2):
        constants = {
            leaf.index: [data.draw(VALUES, label=f"c{round_}") for _ in leaf_constants(leaf)]
            for leaf in leaves
        }
        changed = with_constants(tree, constants)
        result = evaluator.evaluate(constants)
        assert_matches_scalar(changed, result, rows, times)
        expected = evaluate_series(changed, inputs, times)
        np.testing.assert_array_equal(result.statuses, expected.statuses)
        np.testing.assert_array_equal(result.reasons, expected.reasons)
    # Leaves computed for other constants are kept apart: the tree's own ones come back.
    again = evaluator.evaluate()
    np.testing.assert_array_equal(again.statuses, evaluate_series(tree, inputs, times).statuses)


# --- table tests: each reason, arithmetic edge cases, inputs -----------------------------------

EDGES = """
strategy:
  name: edges
  assets: [BTC]
  defaults: {max_age: 1d}
  rules:
    - id: r
      conditions:
        - any:
            - when: "rsi(14) / (close - 100) > 1"
            - when: "1 / (1 / (close - 100)) > 0"
            - when: "rsi(14) * close * 1e300 > 0"
            - when: "close between rsi(14) and 100"
            - when: "volume_z(20) != 0"
              max_age: 1h
"""


def test_every_reason_and_arithmetic_edge_matches_scalar():
    tree = loads(EDGES).tree
    assert [m.name for m in tree.metrics] == ["rsi", "close", "volume_z"]
    t = float(T0)
    cells = [  # (rsi, close, volume_z) per bar
        (50.0, 100.0, 1.0),  # close - 100 == 0: both divisions are MATH_ERROR, even the "healed"
        (1e10, 10.0, 1.0),  # 1e10 * 10 * 1e300 overflows to inf: MATH_ERROR
        (100.0, 100.0, 0.0),  # between is inclusive at both ends
        (None, 100.0, math.nan),  # MISSING, NOT_A_NUMBER
        (DataError("X", "y"), 100.0, 1.0),  # ADAPTER_ERROR
    ]
    fresh = datetime.fromtimestamp(t - 60, UTC)
    rows = [
        [Observation(v, fresh, "test") if isinstance(v, float) else v for v in c] for c in cells
    ]
    stale = Observation(1.0, datetime.fromtimestamp(t - 7200, UTC), "test")
    future = Observation(1.0, datetime.fromtimestamp(t + 1, UTC), "test")
    rows.append([rows[0][0], future, stale])  # FUTURE, STALE (volume_z is older than 1h)
    times = np.full(len(rows), t)
    result = evaluate_series(tree, inputs_from_observations(rows), times)
    assert_matches_scalar(tree, result, rows, times)
    seen = {REASONS[c] for c in np.unique(result.reasons)}
    assert seen == set(REASONS)  # None and all six reasons occur
    leaves = [n for n in tree.nodes if isinstance(n, Predicate)]
    assert result.reasons_at(0)[leaves[1].index] == MATH_ERROR  # 1 / (1 / 0) stays an error
    assert result.status(leaves[3])[2] == Status.PASS


def test_series_input_rejects_inconsistent_arrays():
    with pytest.raises(ValueError, match="one length"):
        SeriesInput(np.zeros(2), np.zeros(3), np.zeros(2))
    with pytest.raises(ValueError, match=r"Reason\.OK"):
        SeriesInput(np.zeros(1), np.zeros(1), np.array([Reason.STALE]))
    with pytest.raises(ValueError, match="finite data time"):
        SeriesInput(np.zeros(1), np.array([np.nan]), np.zeros(1))
    tree = loads(EDGES).tree
    with pytest.raises(ValueError, match="3 metrics"):
        evaluate_series(tree, [SeriesInput.failed(1)], np.zeros(1))


# --- real data: the bundled BTC candles ----------------------------------------------------------


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> SnapshotStore:
    store = SnapshotStore(tmp_path_factory.mktemp("vectorized"))
    store.write("technical", technical.import_bundled(DATA))
    return store


def daily_times(store: SnapshotStore) -> np.ndarray:
    """Every daily close, mid-day too, plus days before the data and after it ends (stale)."""
    closes = store.series("technical", "candles/binance/BTC/USDT/1d").time_array
    before = closes[0] - 86400 * np.arange(3, 0, -1)
    after = closes[-1] + 86400 * np.arange(1, 5)
    return np.concatenate([before, closes, closes[::7] + 43200, after])


def scalar_verdicts(strategy: Any, times: np.ndarray, adapters: Any) -> list[Any]:
    return [
        engine.evaluate(strategy, "BTC", datetime.fromtimestamp(float(t), UTC), adapters)
        for t in times
    ]


def test_baseline_adapter_path_is_exact_on_btc_daily(store):
    strategy = load(ROOT / "strategies" / "technical_baseline.yaml")
    times = daily_times(store)
    adapters = {"technical": technical.TechnicalAdapter.replay(store)}
    inputs = inputs_from_adapters(strategy, "BTC", times, adapters)
    result = evaluate_series(strategy.tree, inputs, times)
    scalars = scalar_verdicts(strategy, times, adapters)
    for bar, scalar in enumerate(scalars):
        assert tuple(int(s) for s in result.statuses[:, bar]) == scalar.statuses, bar
        assert result.reasons_at(bar) == scalar.reasons, bar
    assert decode_verdicts(result.verdicts) == [s.verdict for s in scalars]
    # The history exercises buys, sells, holds and unknowns (no data yet, too short, stale).
    assert {Verdict.BUY, Verdict.SELL, Verdict.HOLD} <= set(decode_verdicts(result.verdicts))
    assert {"ADAPTER_ERROR", "STALE"} <= {r for s in scalars for r in s.reasons if r}


def test_baseline_fast_path_matches_except_within_1e6_of_a_threshold(store):
    strategy = load(ROOT / "strategies" / "technical_baseline.yaml")
    times = daily_times(store)
    scalars = scalar_verdicts(
        strategy, times, {"technical": technical.TechnicalAdapter.replay(store)}
    )
    result = screen(strategy, "BTC", store, times)
    (rsi,) = technical_inputs(store, strategy, "BTC", times)
    near = np.zeros(len(times), dtype=bool)
    for threshold in (30.0, 55.0):
        near |= np.abs(rsi.values - threshold) <= 1e-6 * threshold
    differing = [bar for bar, s in enumerate(scalars) if result.verdict_at(bar) != s.verdict]
    assert all(near[bar] for bar in differing), differing  # measured: 0 bars differ


# Each metric the fast path must reproduce within 1e-6 relative, as written in a strategy.
FAST_METRICS = (
    "rsi(14)", "sma(20)", "sma(50)", "ema(20)", "atr(14)", "bb_upper(20, 2)", "bb_middle(20)",
    "bb_lower(20)", "volume_z(20)", "return(1d)", "return(7d)", "return(30d)", "close",
)  # fmt: skip


def test_fast_technical_values_match_the_replay_adapter(store):
    conditions = "".join(f'            - when: "{m} > 0"\n' for m in FAST_METRICS)
    strategy = loads(
        "strategy:\n  name: all\n  assets: [BTC]\n  rules:\n    - id: r\n      conditions:\n"
        f"        - any:\n{conditions}"
    )
    closes = store.series("technical", "candles/binance/BTC/USDT/1d").time_array
    rng = np.random.default_rng(5)
    sample = rng.choice(closes, 300, replace=False) + rng.choice((0, 3600, 86399), 300)
    times = np.concatenate([closes[:60], np.sort(sample)])  # the start: too short a history
    adapters = {"technical": technical.TechnicalAdapter.replay(store)}
    reference = inputs_from_adapters(strategy, "BTC", times, adapters)
    fast = technical_inputs(store, strategy, "BTC", times)
    for metric, ref, got in zip(strategy.tree.metrics, reference, fast, strict=True):
        name = metric.render()
        np.testing.assert_array_equal(got.errors, ref.errors, err_msg=name)
        assert (ref.errors == Reason.OK).sum() > 200, name
        np.testing.assert_array_equal(got.data_times, ref.data_times, err_msg=name)
        np.testing.assert_allclose(got.values, ref.values, rtol=1e-6, atol=0, err_msg=name)


def test_mixed_sources_screen_and_fast_path_equal_scalar(store):
    """An on-chain veto: screen() replays every source; technical_inputs mixes the two paths."""
    store.write("onchain", onchain.import_bundled(DATA))  # the last test of the module to use it
    strategy = load(ROOT / "strategies" / "banking_crisis_dip.yaml")
    closes = store.series("technical", "candles/binance/BTC/USDT/1d").time_array
    # From June 2025: the on-chain data ends in August, then the stale veto blocks every BUY.
    times = closes[closes >= datetime(2025, 6, 1, tzinfo=UTC).timestamp()] + 3600
    adapters = replay_adapters(store)
    scalars = scalar_verdicts(strategy, times, adapters)
    exact = screen(strategy, "BTC", store, times)
    assert_statuses = [tuple(int(s) for s in exact.statuses[:, b]) for b in range(len(times))]
    assert assert_statuses == [s.statuses for s in scalars]
    assert [exact.blocked_by_at(b) for b in range(len(times))] == [s.blocked_by for s in scalars]
    mixed = evaluate_series(
        strategy.tree, technical_inputs(store, strategy, "BTC", times, adapters=adapters), times
    )
    assert decode_verdicts(mixed.verdicts) == [s.verdict for s in scalars]
    assert Verdict.BLOCKED in decode_verdicts(exact.verdicts)
    assert Verdict.BUY not in decode_verdicts(exact.verdicts)
