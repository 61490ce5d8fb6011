"""Evaluation semantics, exercised through real strategies compiled from YAML.

Every table row states a situation and its outcome: operators and arithmetic, Kleene logic with
UNKNOWN children, each reason a leaf can be UNKNOWN, verdicts with vetoes, the completeness of the
trace, the trace's JSON, requests per asset, and the invariants of ``Observation``.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from signalops.evaluation.nodes import (
    ADAPTER_ERROR,
    FUTURE,
    MATH_ERROR,
    MISSING,
    NOT_A_NUMBER,
    STALE,
    AllOf,
    AnyOf,
    AtLeast,
    Not,
    Predicate,
    Status,
)
from signalops.evaluation.tree import Verdict
from signalops.explain import tree_json, tree_lines, with_trace
from signalops.observation import DataError, Observation, Request
from signalops.side import Side
from signalops.strategy import Strategy, load, loads

PASS, FAIL, UNKNOWN = Status.PASS, Status.FAIL, Status.UNKNOWN
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
FRESH = timedelta(minutes=5)
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "strategies").glob("*.yaml"))
README_FIXTURE = REPO / "tests" / "fixtures" / "original_readme.yaml"

RECESSION = "polymarket('us-recession-in-2025').yes"


# --- helpers -------------------------------------------------------------------------------------


def strategy_text(
    rules: list[dict[str, Any]],
    *,
    exit_rules: list[dict[str, Any]] | None = None,
    vetoes: list[dict[str, Any]] | None = None,
    assets: tuple[str, ...] = ("BTC",),
    **extra: Any,
) -> str:
    """A strategy document as YAML text (dumped from Python data so tables stay compact)."""
    body: dict[str, Any] = {"name": "test", "assets": list(assets), **extra, "rules": rules}
    if exit_rules is not None:
        body["exit"] = {"rules": exit_rules}
    if vetoes is not None:
        body["vetoes"] = vetoes
    return yaml.safe_dump({"strategy": body}, sort_keys=False)


def one_condition(condition: dict[str, Any] | str, source: str | None = None) -> Strategy:
    """A strategy whose single entry rule has the single ``condition`` (a string is a when:)."""
    if isinstance(condition, str):
        condition = {"when": condition}
    rule: dict[str, Any] = {"id": "r", "conditions": [condition]}
    if source is not None:
        rule["source"] = source
    return loads(strategy_text([rule]))


def observations(
    strategy: Strategy, values: Mapping[str, Any], asset: str = "BTC"
) -> dict[Request, Observation | DataError]:
    """The mapping the engine would pass, keyed by each metric as rendered (``'rsi(14)'``).

    A number is a fresh observation; an ``Observation`` or ``DataError`` is used as given;
    ``None`` (or leaving the metric out) means the adapter had no answer.
    """
    names = [m.render() for m in strategy.tree.metrics]
    requests = dict(zip(names, strategy.requests(asset), strict=True))
    unknown = set(values) - set(requests)
    assert not unknown, f"not metrics of this strategy: {unknown}; it reads {list(requests)}"
    out: dict[Request, Observation | DataError] = {}
    for name, value in values.items():
        request = requests[name]
        if value is None:
            continue
        if not isinstance(value, Observation | DataError):
            value = Observation(value, NOW - FRESH, request.source)
        out[request] = value
    return out


def evaluate(strategy: Strategy, values: Mapping[str, Any], asset: str = "BTC"):
    return strategy.evaluate(observations(strategy, values, asset), NOW, asset)


def only_leaf(strategy: Strategy) -> Predicate:
    (leaf,) = strategy.tree.leaves()
    return leaf


def aged(value: float, age: timedelta, source: str = "technical") -> Observation:
    return Observation(value, NOW - age, source)


# --- operators -----------------------------------------------------------------------------------

OPERATOR_CASES = [
    # condition, values, expected status of the leaf
    ("rsi(14) < 30", {"rsi(14)": 29.9}, PASS),
    ("rsi(14) < 30", {"rsi(14)": 30}, FAIL),
    ("rsi(14) <= 30", {"rsi(14)": 30}, PASS),
    ("rsi(14) <= 30", {"rsi(14)": 30.1}, FAIL),
    ("rsi(14) > 70", {"rsi(14)": 70.1}, PASS),
    ("rsi(14) > 70", {"rsi(14)": 70}, FAIL),
    ("rsi(14) >= 70", {"rsi(14)": 70}, PASS),
    ("rsi(14) >= 70", {"rsi(14)": 69.9}, FAIL),
    ("rsi(14) == 50", {"rsi(14)": 50}, PASS),
    ("rsi(14) == 50", {"rsi(14)": 50.5}, FAIL),
    ("rsi(14) != 50", {"rsi(14)": 50.5}, PASS),
    ("rsi(14) != 50", {"rsi(14)": 50}, FAIL),
    # between includes both bounds
    ("rsi(14) between 30 and 70", {"rsi(14)": 30}, PASS),
    ("rsi(14) between 30 and 70", {"rsi(14)": 50}, PASS),
    ("rsi(14) between 30 and 70", {"rsi(14)": 70}, PASS),
    ("rsi(14) between 30 and 70", {"rsi(14)": 29.99}, FAIL),
    ("rsi(14) between 30 and 70", {"rsi(14)": 70.01}, FAIL),
    # metric against metric
    ("close > sma(200)", {"close": 101, "sma(200)": 100}, PASS),
    ("close > sma(200)", {"close": 100, "sma(200)": 100}, FAIL),
    ("close >= sma(200)", {"close": 100, "sma(200)": 100}, PASS),
    (
        "close between bb_lower(20, 2) and bb_upper(20, 2)",
        {"close": 95, "bb_lower(20, 2)": 95, "bb_upper(20, 2)": 105},
        PASS,
    ),
    (
        "close between bb_lower(20, 2) and bb_upper(20, 2)",
        {"close": 106, "bb_lower(20, 2)": 95, "bb_upper(20, 2)": 105},
        FAIL,
    ),
    # arithmetic
    ("close > sma(200) * 0.9", {"close": 91, "sma(200)": 100}, PASS),
    ("close > sma(200) * 0.9", {"close": 89, "sma(200)": 100}, FAIL),
    ("(close - sma(20)) / atr(14) > 2", {"close": 130, "sma(20)": 100, "atr(14)": 10}, PASS),
    ("(close - sma(20)) / atr(14) > 2", {"close": 115, "sma(20)": 100, "atr(14)": 10}, FAIL),
    ("close / sma(20) - 1 < -5%", {"close": 94, "sma(20)": 100}, PASS),
    ("close / sma(20) - 1 < -5%", {"close": 96, "sma(20)": 100}, FAIL),
    ("-macd_hist > 1", {"macd_hist": -2}, PASS),
    ("-macd_hist > 1", {"macd_hist": 0}, FAIL),
    ("close + 10 >= 2 * sma(20)", {"close": 190, "sma(20)": 100}, PASS),
    ("close + 10 >= 2 * sma(20)", {"close": 189, "sma(20)": 100}, FAIL),
    # suffixed numbers and global metrics
    ("stablecoin_net_flow('USDC', 2d) < -1B", {"stablecoin_net_flow('USDC', 2d)": -1.5e9}, PASS),
    ("stablecoin_net_flow('USDC', 2d) < -1B", {"stablecoin_net_flow('USDC', 2d)": -5e8}, FAIL),
    (f"{RECESSION} >= 60%", {RECESSION: 0.6}, PASS),
    (f"{RECESSION} >= 60%", {RECESSION: 0.59}, FAIL),
]


@pytest.mark.parametrize(("condition", "values", "expected"), OPERATOR_CASES)
def test_comparison_leaf_passes_exactly_when_the_comparison_holds(condition, values, expected):
    strategy = one_condition(condition)
    evaluation = evaluate(strategy, values)
    leaf = only_leaf(strategy)
    assert evaluation.trace.status(leaf) is expected
    assert evaluation.reasons[leaf.index] is None
    assert evaluation.verdict is (Verdict.BUY if expected is PASS else Verdict.HOLD)


STRUCTURED_CASES = [
    # condition in the original README's structured form, rule source, values, expected
    (
        {"metric": "price_to_book", "operator": "<", "threshold": 1.5},
        "fundamental",
        {"price_to_book": 1.4},
        PASS,
    ),
    (
        {"metric": "price_to_book", "operator": "<", "threshold": 1.5},
        "fundamental",
        {"price_to_book": 1.5},
        FAIL,
    ),
    (
        {"metric": "rsi_14", "operator": "between", "threshold": [30, 70]},
        None,
        {"rsi(14)": 30},
        PASS,
    ),
    (
        {"metric": "rsi_14", "operator": "between", "threshold": [30, 70]},
        None,
        {"rsi(14)": 71},
        FAIL,
    ),
    (
        {"market": "us-recession-in-2025", "operator": "<", "threshold": 0.25},
        "polymarket",
        {RECESSION: 0.2},
        PASS,
    ),
    (
        {"market": "us-recession-in-2025", "operator": "<", "threshold": 0.25},
        "polymarket",
        {RECESSION: 0.25},
        FAIL,
    ),
    (
        {
            "metric": "stablecoin_net_flow",
            "params": {"stablecoin": "USDC", "window": "2d"},
            "operator": ">",
            "threshold": "500M",
        },
        "onchain",
        {"stablecoin_net_flow('USDC', 2d)": 6e8},
        PASS,
    ),
    (
        {"metric": "debt_to_equity", "operator": "<=", "threshold": "150"},
        "fundamental",
        {"debt_to_equity": 150},
        PASS,
    ),
]


@pytest.mark.parametrize(("condition", "source", "values", "expected"), STRUCTURED_CASES)
def test_structured_condition_passes_exactly_when_its_comparison_holds(
    condition, source, values, expected
):
    strategy = one_condition(condition, source)
    evaluation = evaluate(strategy, values)
    assert evaluation.trace.status(only_leaf(strategy)) is expected


# --- Kleene logic --------------------------------------------------------------------------------

# Three leaves on three metrics; each is driven to PASS, FAIL or UNKNOWN (no data) by its value.
LEAVES = ("rsi(14) > 50", "macd_hist > 0", "volume_z(20) > 0")
LEAF_VALUES = {
    "rsi(14)": {PASS: 60, FAIL: 40, UNKNOWN: None},
    "macd_hist": {PASS: 1, FAIL: -1, UNKNOWN: None},
    "volume_z(20)": {PASS: 1, FAIL: -1, UNKNOWN: None},
}


def leaf_values(*statuses: Status) -> dict[str, Any]:
    return {
        metric: LEAF_VALUES[metric][status]
        for metric, status in zip(LEAF_VALUES, statuses, strict=False)
    }


def group_condition(kind: str, form: str, count: int, n: int = 0) -> dict[str, Any]:
    """``kind`` over the first ``count`` leaves, as YAML groups or as one ``when:`` expression."""
    leaves = LEAVES[:count]
    if form == "when":
        word = {"all": " and ", "any": " or "}.get(kind)
        if kind == "not":
            return {"when": f"not ({leaves[0]})"}
        assert word is not None, "at_least has no expression form"
        return {"when": word.join(f"({leaf})" for leaf in leaves)}
    items = [{"when": leaf} for leaf in leaves]
    if kind == "not":
        return {"not": items[0]}
    if kind == "at_least":
        return {"at_least": {"n": n, "of": items}}
    return {kind: items}


ALL_CASES = [
    ((PASS, PASS), PASS),
    ((PASS, FAIL), FAIL),
    ((FAIL, PASS), FAIL),
    ((FAIL, FAIL), FAIL),
    ((PASS, UNKNOWN), UNKNOWN),
    ((UNKNOWN, PASS), UNKNOWN),
    ((FAIL, UNKNOWN), FAIL),  # one FAIL decides, whatever the unknown would have been
    ((UNKNOWN, FAIL), FAIL),
    ((UNKNOWN, UNKNOWN), UNKNOWN),
]
ANY_CASES = [
    ((PASS, PASS), PASS),
    ((PASS, FAIL), PASS),
    ((FAIL, PASS), PASS),
    ((FAIL, FAIL), FAIL),
    ((PASS, UNKNOWN), PASS),  # one PASS decides
    ((UNKNOWN, PASS), PASS),
    ((FAIL, UNKNOWN), UNKNOWN),
    ((UNKNOWN, FAIL), UNKNOWN),
    ((UNKNOWN, UNKNOWN), UNKNOWN),
]
NOT_CASES = [((PASS,), FAIL), ((FAIL,), PASS), ((UNKNOWN,), UNKNOWN)]
AT_LEAST_2_OF_3_CASES = [
    ((PASS, PASS, PASS), PASS),
    ((PASS, PASS, FAIL), PASS),
    ((PASS, PASS, UNKNOWN), PASS),  # already 2: the unknown cannot change it
    ((PASS, FAIL, FAIL), FAIL),
    ((FAIL, FAIL, UNKNOWN), FAIL),  # even if the unknown passed, only 1
    ((PASS, FAIL, UNKNOWN), UNKNOWN),  # 1 pass; the unknown could make it 2
    ((PASS, UNKNOWN, UNKNOWN), UNKNOWN),
    ((UNKNOWN, UNKNOWN, UNKNOWN), UNKNOWN),
    ((FAIL, UNKNOWN, UNKNOWN), UNKNOWN),
    ((FAIL, FAIL, FAIL), FAIL),
]
KLEENE_CASES = [
    *[
        ("all", form, children, expected)
        for form in ("yaml", "when")
        for children, expected in ALL_CASES
    ],
    *[
        ("any", form, children, expected)
        for form in ("yaml", "when")
        for children, expected in ANY_CASES
    ],
    *[
        ("not", form, children, expected)
        for form in ("yaml", "when")
        for children, expected in NOT_CASES
    ],
    *[("at_least", "yaml", children, expected) for children, expected in AT_LEAST_2_OF_3_CASES],
]


@pytest.mark.parametrize(("kind", "form", "children", "expected"), KLEENE_CASES)
def test_group_status_follows_kleene_logic(kind, form, children, expected):
    strategy = one_condition(group_condition(kind, form, len(children), n=2))
    evaluation = evaluate(strategy, leaf_values(*children))
    rule = strategy.tree.entry.children[0]
    (group,) = rule.children
    expected_type = {"all": AllOf, "any": AnyOf, "not": Not, "at_least": AtLeast}[kind]
    assert type(group) is expected_type
    leaves = strategy.tree.leaves()
    assert [evaluation.trace.status(leaf) for leaf in leaves] == list(children)
    assert evaluation.trace.status(group) is expected
    # The rule and the entry have a single child here: they carry its status up unchanged.
    assert evaluation.trace.status(rule) is expected
    assert evaluation.trace.status(strategy.tree.entry) is expected


ENTRY_CONFIRMATION_CASES = [
    # require_confirmations, statuses of three single-leaf rules, entry status
    (2, (PASS, PASS, UNKNOWN), PASS),
    (2, (PASS, FAIL, UNKNOWN), UNKNOWN),
    (2, (FAIL, FAIL, UNKNOWN), FAIL),
    (3, (PASS, PASS, UNKNOWN), UNKNOWN),
    (1, (FAIL, FAIL, UNKNOWN), UNKNOWN),
    (1, (FAIL, UNKNOWN, PASS), PASS),
]


@pytest.mark.parametrize(("required", "children", "expected"), ENTRY_CONFIRMATION_CASES)
def test_require_confirmations_is_an_at_least_over_the_rules(required, children, expected):
    rules = [{"id": f"r{i}", "conditions": [{"when": leaf}]} for i, leaf in enumerate(LEAVES)]
    text = strategy_text(rules, execution={"require_confirmations": required})
    strategy = loads(text)
    evaluation = evaluate(strategy, leaf_values(*children))
    assert evaluation.trace.status(strategy.tree.entry) is expected
    assert evaluation.verdict is (Verdict.BUY if expected is PASS else Verdict.HOLD)


# --- why a leaf is UNKNOWN -----------------------------------------------------------------------

# rsi(14) on daily candles with max_age 1h written on the condition.
HOUR = timedelta(hours=1)
REASON_CASES = [
    # what the adapter returned for rsi(14), expected status, expected reason
    ("missing", None, UNKNOWN, MISSING),
    ("one second too old", aged(20, HOUR + timedelta(seconds=1)), UNKNOWN, STALE),
    ("a day too old", aged(20, timedelta(days=1)), UNKNOWN, STALE),
    ("exactly max_age old is fresh", aged(20, HOUR), PASS, None),
    ("dated exactly as_of is fresh", aged(20, timedelta(0)), PASS, None),
    ("dated one second after as_of", aged(20, -timedelta(seconds=1)), UNKNOWN, FUTURE),
    ("dated a day after as_of", aged(20, -timedelta(days=1)), UNKNOWN, FUTURE),
    ("NaN", aged(math.nan, FRESH), UNKNOWN, NOT_A_NUMBER),
    ("+inf", aged(math.inf, FRESH), UNKNOWN, NOT_A_NUMBER),
    ("-inf", aged(-math.inf, FRESH), UNKNOWN, NOT_A_NUMBER),
    (
        "adapter error",
        DataError("HTTP_ERROR", "503 from exchange", "technical"),
        UNKNOWN,
        ADAPTER_ERROR,
    ),
    (
        "stale NaN: the value is checked first",
        aged(math.nan, timedelta(days=1)),
        UNKNOWN,
        NOT_A_NUMBER,
    ),
]


@pytest.mark.parametrize(
    ("given", "expected", "reason"),
    [case[1:] for case in REASON_CASES],
    ids=[case[0] for case in REASON_CASES],
)
def test_unusable_data_makes_the_leaf_unknown_with_its_reason(given, expected, reason):
    strategy = one_condition({"when": "rsi(14) < 30", "max_age": "1h"})
    evaluation = evaluate(strategy, {"rsi(14)": given})
    leaf = only_leaf(strategy)
    assert evaluation.trace.status(leaf) is expected
    assert evaluation.reasons[leaf.index] == reason
    assert evaluation.trace.leaf(leaf).reason == reason
    # fail closed: nothing unknown ever reaches a BUY
    assert evaluation.verdict is (Verdict.BUY if expected is PASS else Verdict.HOLD)


@pytest.mark.parametrize(
    ("condition", "values"),
    [
        ("close / atr(14) > 1", {"close": 100, "atr(14)": 0}),
        ("close / (sma(20) - sma(50)) > 1", {"close": 100, "sma(20)": 90, "sma(50)": 90}),
        ("close * volume > 1", {"close": 1e200, "volume": 1e200}),  # overflows to infinity
        ("close between 0 and volume / atr(14)", {"close": 1, "volume": 5, "atr(14)": 0}),
    ],
)
def test_arithmetic_without_a_finite_result_is_unknown_math_error(condition, values):
    strategy = one_condition(condition)
    evaluation = evaluate(strategy, values)
    leaf = only_leaf(strategy)
    assert evaluation.trace.status(leaf) is UNKNOWN
    assert evaluation.reasons[leaf.index] == MATH_ERROR
    assert evaluation.verdict is Verdict.HOLD


def test_leaf_reading_two_metrics_reports_the_reason_of_the_unusable_one():
    strategy = one_condition("close > sma(200)")
    error = DataError("NOT_APPLICABLE", "no candles", "technical")
    missing = evaluate(strategy, {"close": 100})
    failed = evaluate(strategy, {"close": 100, "sma(200)": error})
    stale = evaluate(strategy, {"close": 100, "sma(200)": aged(90, timedelta(days=3))})
    leaf = only_leaf(strategy)
    assert [e.reasons[leaf.index] for e in (missing, failed, stale)] == [
        MISSING,
        ADAPTER_ERROR,
        STALE,
    ]


UNKNOWN_NEVER_PASSES_CASES = [
    # NaN compares unequal to everything and "not (NaN < 30)" is True in plain Python: the
    # engine must not let either turn missing data into a PASS.
    ("rsi(14) != 50", math.nan),
    ("not (rsi(14) < 30)", math.nan),
    ("not (rsi(14) < 30)", None),
    ("rsi(14) < 30 or not (rsi(14) < 30)", None),  # Kleene: no excluded middle for unknowns
]


@pytest.mark.parametrize(("condition", "value"), UNKNOWN_NEVER_PASSES_CASES)
def test_unknown_data_never_makes_a_condition_pass(condition, value):
    strategy = one_condition(condition)
    evaluation = evaluate(strategy, {"rsi(14)": None if value is None else aged(value, FRESH)})
    assert evaluation.trace.status(strategy.tree.entry) is UNKNOWN
    assert evaluation.verdict is Verdict.HOLD
    assert evaluation.action is None


def test_each_leaf_uses_its_own_max_age_for_a_shared_metric():
    strategy = one_condition(
        {
            "all": [
                {"when": "rsi(14) < 30", "max_age": "1h"},
                {"when": "rsi(14) < 40", "max_age": "4h"},
            ]
        }
    )
    assert len(strategy.tree.metrics) == 1  # fetched once, read by both leaves
    evaluation = evaluate(strategy, {"rsi(14)": aged(20, timedelta(hours=2))})
    tight, loose = strategy.tree.leaves()
    assert (evaluation.trace.status(tight), evaluation.reasons[tight.index]) == (UNKNOWN, STALE)
    assert (evaluation.trace.status(loose), evaluation.reasons[loose.index]) == (PASS, None)


def test_daily_technical_without_max_age_goes_stale_after_two_bars():
    strategy = one_condition("rsi(14) < 30")
    assert only_leaf(strategy).max_ages == (2 * 86400,)
    fresh = evaluate(strategy, {"rsi(14)": aged(20, timedelta(days=2))})
    stale = evaluate(strategy, {"rsi(14)": aged(20, timedelta(days=2, seconds=1))})
    assert fresh.verdict is Verdict.BUY
    assert (stale.verdict, stale.reasons[only_leaf(strategy).index]) == (Verdict.HOLD, STALE)


# --- verdicts ------------------------------------------------------------------------------------

VERDICT_STRATEGY = strategy_text(
    [{"id": "oversold", "source": "technical", "conditions": [{"when": "rsi(14) < 30"}]}],
    exit_rules=[
        {"id": "momentum_lost", "source": "technical", "conditions": [{"when": "macd_hist < 0"}]}
    ],
    vetoes=[
        {
            "id": "crisis",
            "description": "BLOCK BUY, flag conflict",
            "conditions": [{"when": f"{RECESSION} >= 0.6", "max_age": "1h"}],
        },
        {"id": "sell_guard", "blocks": ["SELL"], "conditions": [{"when": "volume_z(20) > 3"}]},
    ],
)
ENTRY_PASS, ENTRY_FAIL, ENTRY_UNKNOWN = {"rsi(14)": 20}, {"rsi(14)": 50}, {}
EXIT_PASS, EXIT_FAIL, EXIT_UNKNOWN = {"macd_hist": -1}, {"macd_hist": 1}, {}
CRISIS_PASS, CRISIS_FAIL, CRISIS_UNKNOWN = {RECESSION: 0.7}, {RECESSION: 0.1}, {RECESSION: None}
GUARD_PASS, GUARD_FAIL, GUARD_UNKNOWN = {"volume_z(20)": 4}, {"volume_z(20)": 0}, {}
BOTH = "entry and exit rules both pass: holding"
EXIT_UNKNOWN_NOTE = "entry rules pass but the exit rules cannot be evaluated: not buying"

VERDICT_CASES = [
    # situation, values, verdict, action, blocked_by, conflicts
    (
        "entry passes, veto clear",
        {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.BUY,
        Side.BUY,
        (),
        (),
    ),
    (
        "entry passes, veto passes: blocked with a conflict",
        {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_PASS, **GUARD_FAIL},
        Verdict.BLOCKED,
        Side.BUY,
        ("crisis",),
        ("BUY signal conflicts with veto 'crisis'",),
    ),
    (
        "entry passes, veto unknown: blocked, fail closed, no conflict",
        {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_UNKNOWN, **GUARD_FAIL},
        Verdict.BLOCKED,
        Side.BUY,
        ("crisis",),
        (),
    ),
    (
        "entry passes, veto stale: blocked",
        {
            **ENTRY_PASS,
            **EXIT_FAIL,
            RECESSION: aged(0.1, timedelta(hours=2), "polymarket"),
            **GUARD_FAIL,
        },
        Verdict.BLOCKED,
        Side.BUY,
        ("crisis",),
        (),
    ),
    (
        "a SELL-only veto that passes does not block a BUY",
        {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_FAIL, **GUARD_PASS},
        Verdict.BUY,
        Side.BUY,
        (),
        (),
    ),
    (
        "a SELL-only veto that is unknown does not block a BUY",
        {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_FAIL, **GUARD_UNKNOWN},
        Verdict.BUY,
        Side.BUY,
        (),
        (),
    ),
    (
        "exit passes, veto clear",
        {**ENTRY_FAIL, **EXIT_PASS, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.SELL,
        Side.SELL,
        (),
        (),
    ),
    (
        "a BUY-only veto does not block a SELL",
        {**ENTRY_FAIL, **EXIT_PASS, **CRISIS_PASS, **GUARD_FAIL},
        Verdict.SELL,
        Side.SELL,
        (),
        (),
    ),
    (
        "exit passes, SELL veto passes",
        {**ENTRY_FAIL, **EXIT_PASS, **CRISIS_FAIL, **GUARD_PASS},
        Verdict.BLOCKED,
        Side.SELL,
        ("sell_guard",),
        ("SELL signal conflicts with veto 'sell_guard'",),
    ),
    (
        "exit passes, SELL veto unknown",
        {**ENTRY_FAIL, **EXIT_PASS, **CRISIS_FAIL, **GUARD_UNKNOWN},
        Verdict.BLOCKED,
        Side.SELL,
        ("sell_guard",),
        (),
    ),
    (
        "entry and exit both pass: hold with a note",
        {**ENTRY_PASS, **EXIT_PASS, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.HOLD,
        None,
        (),
        (BOTH,),
    ),
    (
        "entry passes, exit unknown: hold, since unknown data never adds risk",
        {**ENTRY_PASS, **EXIT_UNKNOWN, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.HOLD,
        None,
        (),
        (EXIT_UNKNOWN_NOTE,),
    ),
    (
        "exit passes, entry unknown: sell, since selling reduces risk",
        {**ENTRY_UNKNOWN, **EXIT_PASS, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.SELL,
        Side.SELL,
        (),
        (),
    ),
    (
        "both pass and vetoes pass: still hold",
        {**ENTRY_PASS, **EXIT_PASS, **CRISIS_PASS, **GUARD_PASS},
        Verdict.HOLD,
        None,
        (),
        (BOTH,),
    ),
    (
        "nothing passes",
        {**ENTRY_FAIL, **EXIT_FAIL, **CRISIS_PASS, **GUARD_PASS},
        Verdict.HOLD,
        None,
        (),
        (),
    ),
    ("entry unknown: hold", {**EXIT_FAIL, **CRISIS_FAIL, **GUARD_FAIL}, Verdict.HOLD, None, (), ()),
    (
        "entry unknown, exit passes: sell",
        {**EXIT_PASS, **CRISIS_FAIL, **GUARD_FAIL},
        Verdict.SELL,
        Side.SELL,
        (),
        (),
    ),
    ("no data at all: hold", {}, Verdict.HOLD, None, (), ()),
]


@pytest.mark.parametrize(
    ("values", "verdict", "action", "blocked_by", "conflicts"),
    [case[1:] for case in VERDICT_CASES],
    ids=[case[0] for case in VERDICT_CASES],
)
def test_entry_exit_and_veto_statuses_decide_the_verdict_and_keep_the_action(
    values, verdict, action, blocked_by, conflicts
):
    strategy = loads(VERDICT_STRATEGY)
    evaluation = evaluate(strategy, values)
    assert evaluation.verdict is verdict
    assert evaluation.action is action
    assert evaluation.blocked_by == blocked_by
    assert evaluation.conflicts == conflicts


def test_veto_blocking_both_actions_blocks_buy_and_sell():
    text = strategy_text(
        [{"id": "entry", "conditions": [{"when": "rsi(14) < 30"}]}],
        exit_rules=[{"id": "exit", "conditions": [{"when": "macd_hist < 0"}]}],
        vetoes=[
            {"id": "halt", "blocks": ["buy", "SELL"], "conditions": [{"when": "volume_z(20) > 3"}]}
        ],
    )
    strategy = loads(text)
    buy = evaluate(strategy, {**ENTRY_PASS, **EXIT_FAIL, **GUARD_PASS})
    sell = evaluate(strategy, {**ENTRY_FAIL, **EXIT_PASS, **GUARD_UNKNOWN})
    assert (buy.verdict, buy.action, buy.blocked_by) == (Verdict.BLOCKED, Side.BUY, ("halt",))
    assert (sell.verdict, sell.action, sell.blocked_by) == (Verdict.BLOCKED, Side.SELL, ("halt",))
    assert buy.conflicts == ("BUY signal conflicts with veto 'halt'",)
    assert sell.conflicts == ()


def test_several_vetoes_each_named_when_they_block():
    text = strategy_text(
        [{"id": "entry", "conditions": [{"when": "rsi(14) < 30"}]}],
        vetoes=[
            {"id": "first", "conditions": [{"when": "macd_hist < 0"}]},
            {"id": "second", "conditions": [{"when": "volume_z(20) > 3"}]},
            {"id": "third", "conditions": [{"when": "close < 100"}]},
        ],
    )
    strategy = loads(text)
    evaluation = evaluate(strategy, {**ENTRY_PASS, "macd_hist": -1, "close": 200})
    assert evaluation.verdict is Verdict.BLOCKED
    assert evaluation.blocked_by == ("first", "second")  # PASS, UNKNOWN; FAIL does not block
    assert evaluation.conflicts == ("BUY signal conflicts with veto 'first'",)


def test_event_filter_example_blocks_buy_and_flags_the_conflict():
    strategy = load(REPO / "strategies" / "event_filter.yaml")
    values = {
        "rsi(14)": 55,
        "macd_hist": 1.2,
        "volume_z(20)": 0.3,
        "close": 100,
        "bb_lower(20, 2)": 90,
        "polymarket('microstrategy-sells-any-bitcoin-by-december-31-2026').yes": 0.65,
        "polymarket('microstrategy-sells-any-bitcoin-by-december-31-2026').change(1d)": 0.02,
    }
    evaluation = evaluate(strategy, values)
    assert (evaluation.verdict, evaluation.action) == (Verdict.BLOCKED, Side.BUY)
    assert evaluation.blocked_by == ("crisis_odds",)
    assert evaluation.conflicts == ("BUY signal conflicts with veto 'crisis_odds'",)
    record = evaluation.to_dict()
    assert record["decision"] == "BLOCKED"
    assert record["action"] == "BUY"
    assert [v["status"] for v in record["vetoes"]] == ["PASS", "FAIL"]


@pytest.mark.parametrize("path", [*EXAMPLES, README_FIXTURE], ids=lambda p: p.name)
def test_example_strategy_without_any_data_never_trades(path):
    strategy = load(path)
    for asset in strategy.assets:
        evaluation = strategy.evaluate({}, NOW, asset)
        assert evaluation.verdict is Verdict.HOLD
        assert set(evaluation.statuses) == {UNKNOWN}
        assert {evaluation.reasons[leaf.index] for leaf in strategy.tree.leaves()} == {MISSING}


# --- the trace is complete -----------------------------------------------------------------------

COMPLETE_TRACE_STRATEGY = strategy_text(
    [
        {"id": "first", "conditions": [{"when": "rsi(14) < 30"}]},
        {
            "id": "second",
            "conditions": [
                {
                    "any": [
                        {"when": "macd_hist > 0"},
                        {"when": "volume_z(20) > 2"},
                        {"when": "close > 1"},
                    ]
                },
                {"all": [{"when": "sma(20) > 1"}, {"when": "sma(50) > 1"}]},
            ],
        },
    ],
    execution={"require_confirmations": 1},
    vetoes=[{"id": "v", "conditions": [{"when": "atr(14) > 5"}]}],
)


def test_trace_has_every_leaf_status_even_when_the_verdict_was_decided_early():
    strategy = loads(COMPLETE_TRACE_STRATEGY)
    # rule 'first' already decides the entry; 'any' is decided by its first child and 'all' by
    # its first: a short-circuiting evaluator would leave the rest unevaluated.
    values = {
        "rsi(14)": 20,
        "macd_hist": 1,
        "volume_z(20)": 0,
        "close": None,
        "sma(20)": -1,
        "sma(50)": DataError("HTTP_ERROR", "timeout"),
        "atr(14)": 1,
    }
    evaluation = evaluate(strategy, values)
    trace = evaluation.trace
    assert evaluation.verdict is Verdict.BUY
    assert len(evaluation.statuses) == len(strategy.tree.nodes)
    by_text = {leaf.node.text: (leaf.status, leaf.reason) for leaf in trace.leaves()}
    assert by_text == {
        "rsi(14) < 30": (PASS, None),
        "macd_hist > 0": (PASS, None),
        "volume_z(20) > 2": (FAIL, None),
        "close > 1": (UNKNOWN, MISSING),
        "sma(20) > 1": (FAIL, None),
        "sma(50) > 1": (UNKNOWN, ADAPTER_ERROR),
        "atr(14) > 5": (FAIL, None),
    }
    second = strategy.tree.entry.children[1]
    assert trace.status(second) is FAIL
    leaves_json = evaluation.to_dict()["leaves"]
    assert len(leaves_json) == len(strategy.tree.leaves())
    assert all(leaf["status"] in {"PASS", "FAIL", "UNKNOWN"} for leaf in leaves_json)


def test_mapping_and_aligned_evaluation_give_the_same_result():
    strategy = loads(COMPLETE_TRACE_STRATEGY)
    mapping = observations(strategy, {"rsi(14)": 20, "macd_hist": -1, "close": 5, "atr(14)": 7})
    aligned = tuple(mapping.get(r) for r in strategy.requests("BTC"))
    a = strategy.evaluate(mapping, NOW, "BTC")
    b = strategy.tree.evaluate_aligned(aligned, NOW, "BTC")
    assert a[:4] == b[:4]
    assert (a.statuses, a.reasons) == (b.statuses, b.reasons)
    assert a.to_dict() == b.to_dict()


# --- the trace as JSON ---------------------------------------------------------------------------


def test_trace_json_keeps_the_original_readme_audit_fields():
    strategy = loads(
        strategy_text(
            [
                {
                    "id": "value_screen",
                    "source": "fundamental",
                    "conditions": [{"metric": "price_to_book", "operator": "<", "threshold": 1.5}],
                },
                {
                    "id": "event_filter",
                    "source": "polymarket",
                    "conditions": [
                        {
                            "market": "crypto_regulation_crackdown_2025",
                            "operator": "<",
                            "threshold": 0.20,
                        }
                    ],
                },
            ],
            assets=("BTC", "ETH"),
        )
    )
    market = "polymarket('crypto_regulation_crackdown_2025').yes"
    book_time = NOW - timedelta(days=1)
    values = {"price_to_book": aged(1.2, timedelta(days=1), "fundamental"), market: 0.1}
    evaluation = evaluate(strategy, values, "ETH")
    record = evaluation.to_dict()

    assert record["timestamp"] == "2025-03-01T12:00:00Z"
    assert record["asset"] == "ETH"
    assert record["decision"] == "BUY"
    triggers = {t["source"]: t for t in record["triggers_met"]}
    assert set(triggers) == {"fundamental", "polymarket"}
    fundamental, polymarket = triggers["fundamental"], triggers["polymarket"]
    assert fundamental["metric"] == "price_to_book"
    assert fundamental["value"] == 1.2
    assert fundamental["threshold"] == "< 1.5"
    assert fundamental["status"] == "PASS"
    assert fundamental["data_timestamp"] == book_time.isoformat().replace("+00:00", "Z")
    assert fundamental["age_seconds"] == 86400
    assert fundamental["max_age_seconds"] == 7 * 86400
    assert fundamental["reason"] is None
    assert polymarket["market"] == "crypto_regulation_crackdown_2025"
    assert polymarket["value"] == 0.1
    assert polymarket["threshold"] == "< 0.2"
    assert polymarket["status"] == "PASS"
    assert record == evaluation.trace.to_dict(evaluation)
    json.dumps(record, allow_nan=False)


def test_trace_json_explains_unknown_leaves_and_stays_valid_json():
    strategy = loads(COMPLETE_TRACE_STRATEGY)
    values = {
        "rsi(14)": aged(math.nan, FRESH),
        "macd_hist": aged(1, -timedelta(hours=1)),
        "volume_z(20)": aged(3, timedelta(days=5)),
        "sma(20)": DataError("NO_API_KEY", "set EXCHANGE_KEY", "technical"),
        "sma(50)": aged(math.inf, FRESH),
    }
    evaluation = evaluate(strategy, values)
    record = evaluation.to_dict()
    text = json.dumps(record, allow_nan=False)  # NaN and infinity must not leak into the JSON
    leaves = {leaf["text"]: leaf for leaf in json.loads(text)["leaves"]}
    assert leaves["rsi(14) < 30"]["reason"] == NOT_A_NUMBER
    assert leaves["rsi(14) < 30"]["value"] == "nan"
    assert leaves["macd_hist > 0"]["reason"] == FUTURE
    assert leaves["macd_hist > 0"]["age_seconds"] == -3600
    assert leaves["volume_z(20) > 2"]["reason"] == STALE
    assert leaves["volume_z(20) > 2"]["age_seconds"] == 5 * 86400
    assert leaves["volume_z(20) > 2"]["max_age_seconds"] == 2 * 86400
    assert leaves["sma(20) > 1"]["reason"] == ADAPTER_ERROR
    assert leaves["sma(20) > 1"]["readings"][0]["error"] == "NO_API_KEY: set EXCHANGE_KEY"
    assert leaves["close > 1"]["reason"] == MISSING
    assert leaves["close > 1"]["data_timestamp"] is None
    assert all(
        leaf["status"] == "UNKNOWN" for text, leaf in leaves.items() if text != "atr(14) > 5"
    )
    assert record["decision"] == "HOLD"
    assert record["triggers_met"] == []


def test_trace_json_of_a_math_error_leaf_keeps_its_readings():
    strategy = one_condition("close / atr(14) > 1")
    record = evaluate(strategy, {"close": 100, "atr(14)": 0}).to_dict()
    (leaf,) = record["leaves"]
    assert (leaf["status"], leaf["reason"]) == ("UNKNOWN", MATH_ERROR)
    assert [r["value"] for r in leaf["readings"]] == [100.0, 0.0]
    json.dumps(record, allow_nan=False)


def test_vetoed_leaves_are_not_listed_as_triggers():
    strategy = loads(VERDICT_STRATEGY)
    record = evaluate(strategy, {**ENTRY_PASS, **EXIT_FAIL, **CRISIS_PASS, **GUARD_FAIL}).to_dict()
    assert [t["text"] for t in record["triggers_met"]] == ["rsi(14) < 30"]
    assert record["blocked_by"] == ["crisis"]
    assert record["conflicts"] == ["BUY signal conflicts with veto 'crisis'"]


def test_drawn_tree_shows_statuses_values_and_reasons():
    strategy = loads(COMPLETE_TRACE_STRATEGY)
    evaluation = evaluate(strategy, {"rsi(14)": 20, "macd_hist": 1})
    traced = with_trace(tree_json(strategy.tree), evaluation.to_dict())
    lines = [line.plain for line in tree_lines(traced)]
    text = "\n".join(lines)
    assert "PASS    rsi(14) < 30" in text
    assert "rsi(14) = 20" in text
    assert "UNKNOWN: no data for this metric" in text
    assert "BLOCKS  VETO v" in text  # atr(14) has no data: the veto blocks (fail closed)


# --- requests ------------------------------------------------------------------------------------


def test_global_requests_are_shared_across_assets_and_technical_ones_are_not():
    strategy = loads(
        strategy_text(
            [
                {"id": "t", "conditions": [{"when": "rsi(14) < 30 and close > sma(200)"}]},
                {"id": "o", "conditions": [{"when": "stablecoin_net_flow('USDC', 7d) > 0"}]},
            ],
            vetoes=[{"id": "p", "conditions": [{"when": f"{RECESSION} > 0.5"}]}],
            assets=("BTC", "ETH"),
        )
    )
    btc, eth = strategy.requests("BTC"), strategy.requests("ETH")
    assert len(btc) == len(eth) == len(strategy.tree.metrics) == 5
    by_source: dict[str, list[tuple[Request, Request]]] = {}
    for b, e in zip(btc, eth, strict=True):
        by_source.setdefault(b.source, []).append((b, e))
    assert set(by_source) == {"technical", "onchain", "polymarket"}
    for b, e in by_source["technical"]:
        assert (b.asset, e.asset) == ("BTC", "ETH")
        assert b != e
        assert b._replace(asset="ETH") == e
    for source in ("onchain", "polymarket"):
        for b, e in by_source[source]:
            assert b == e
            assert b.asset is None
    assert Request("polymarket", "yes", (("market", "us-recession-in-2025"),)) in btc
    assert Request("technical", "rsi", (("n", 14), ("timeframe", 86400)), "ETH") in eth


def test_one_global_observation_serves_every_asset():
    strategy = load(REPO / "strategies" / "event_filter.yaml")
    (poll,) = [r for r in strategy.requests("BTC") if r.metric == "yes"]
    mapping = {poll: Observation(0.9, NOW - FRESH, "polymarket")}
    for asset in ("BTC", "ETH"):
        evaluation = strategy.evaluate(mapping, NOW, asset)
        crisis = strategy.tree.vetoes[0].node
        assert evaluation.trace.status(crisis) is PASS


def test_equal_requests_from_different_spellings_are_fetched_once():
    strategy = one_condition(
        {
            "all": [
                {"metric": "rsi_14", "operator": "<", "threshold": 30},
                {"metric": "rsi", "params": {"n": 14}, "operator": ">", "threshold": 10},
                {"when": "rsi(14, 1d) != 20"},
                {"when": "price > 1 and close < 1000"},
            ]
        },
        source="technical",
    )
    assert [m.name for m in strategy.tree.metrics] == ["rsi", "close"]
    evaluation = evaluate(strategy, {"rsi(14)": 25, "close": 50})
    assert evaluation.verdict is Verdict.BUY


# --- input checks --------------------------------------------------------------------------------


def test_naive_as_of_is_refused():
    strategy = one_condition("rsi(14) < 30")
    naive = datetime(2025, 3, 1, 12)
    with pytest.raises(ValueError, match="no time zone"):
        strategy.evaluate({}, naive, "BTC")
    with pytest.raises(ValueError, match="no time zone"):
        strategy.tree.evaluate_aligned((None,), naive, "BTC")


def test_as_of_in_another_time_zone_is_the_same_instant():
    strategy = one_condition({"when": "rsi(14) < 30", "max_age": "1h"})
    mapping = observations(strategy, {"rsi(14)": aged(20, HOUR)})
    paris = NOW.astimezone(ZoneInfo("Europe/Paris"))
    assert strategy.evaluate(mapping, paris, "BTC").verdict is Verdict.BUY
    assert strategy.evaluate(mapping, paris, "BTC").to_dict()["timestamp"] == "2025-03-01T12:00:00Z"


def test_observation_converts_an_int_value_to_float():
    observation = Observation(42, NOW, "technical")
    assert observation.value == 42.0
    assert type(observation.value) is float


@pytest.mark.parametrize("value", [True, False, "42", None, b"1", [1.0]])
def test_observation_rejects_a_value_that_is_not_a_real_number(value):
    with pytest.raises(TypeError, match="real number"):
        Observation(value, NOW, "technical")


def test_observation_of_an_int_beyond_float_range_is_infinite_and_the_leaf_unknown():
    assert Observation(10**400, NOW, "onchain").value == math.inf
    assert Observation(-(10**400), NOW, "onchain").value == -math.inf
    strategy = one_condition("stablecoin_net_flow('USDC', 2d) < -1B")
    huge = Observation(-(10**400), NOW - FRESH, "onchain")
    evaluation = evaluate(strategy, {"stablecoin_net_flow('USDC', 2d)": huge})
    assert evaluation.reasons[only_leaf(strategy).index] == NOT_A_NUMBER
    assert evaluation.verdict is Verdict.HOLD


def test_something_other_than_an_observation_in_the_mapping_is_an_adapter_error():
    strategy = one_condition("rsi(14) < 30")
    (request,) = strategy.requests("BTC")
    evaluation = strategy.evaluate({request: 20.0}, NOW, "BTC")  # a bare float, not an Observation
    leaf = only_leaf(strategy)
    assert (evaluation.trace.status(leaf), evaluation.reasons[leaf.index]) == (
        UNKNOWN,
        ADAPTER_ERROR,
    )
    (reading,) = evaluation.to_dict()["leaves"][0]["readings"]
    assert reading["error"] == "not an Observation or DataError: float"
    assert reading["value"] is None


def test_observation_refuses_a_naive_timestamp():
    with pytest.raises(ValueError, match="no time zone"):
        Observation(1.0, datetime(2025, 3, 1), "technical")


def test_observation_keeps_nan_for_the_leaf_to_report():
    assert math.isnan(Observation(math.nan, NOW, "technical").value)


# --- generated code ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*EXAMPLES, README_FIXTURE], ids=lambda p: p.name)
def test_generated_source_code_is_valid_python(path):
    tree = load(path).tree
    source = tree.source_code
    module = ast.parse(source)
    (function,) = module.body
    assert isinstance(function, ast.FunctionDef)
    assert function.name == "run"
    compile(source, "<check>", "exec")


def test_generated_source_code_of_arithmetic_and_groups_is_valid_python():
    strategy = loads(COMPLETE_TRACE_STRATEGY)
    ast.parse(strategy.tree.source_code)
    arithmetic = one_condition("-(close - sma(20)) / atr(14) between -1 and volume * 2")
    ast.parse(arithmetic.tree.source_code)
    assert "ZeroDivisionError" in arithmetic.tree.source_code
