"""``unread_metrics``: which metrics an evaluation had no usable value of, and why.

A backtest counts them per asset (its notes and ``metrics.json``'s ``unknown_data``); each row
here is one reason a leaf can be UNKNOWN for its data, and the cases that are not about data.
"""

from __future__ import annotations

from datetime import timedelta

from test_evaluation import NOW, evaluate, one_condition

from signalops.codes import Code
from signalops.evaluation.unread import UnreadMetric, unread_metrics
from signalops.observation import DataError, Observation


def unread(condition: str, values: dict[str, object]) -> list[tuple[str, str, str]]:
    strategy = one_condition(condition, source="technical")
    found = unread_metrics(evaluate(strategy, values))
    assert all(isinstance(u, UnreadMetric) for u in found)
    return [(u.metric.render(), u.reason, u.message) for u in found]


def test_every_metric_answered_fresh_leaves_nothing_unread():
    assert unread("rsi(14) < 30", {"rsi(14)": 25.0}) == []


def test_a_source_error_is_unread_with_the_sources_own_code_and_message():
    error = DataError(Code.INSUFFICIENT_HISTORY, "rsi needs 43 closed 1h candles, 12 available")
    assert unread("rsi(14) < 30", {"rsi(14)": error}) == [
        ("rsi(14)", "INSUFFICIENT_HISTORY", "rsi needs 43 closed 1h candles, 12 available")
    ]


def test_no_answer_at_all_is_missing():
    assert unread("rsi(14) < 30", {}) == [("rsi(14)", "MISSING", "the source gave no answer")]


def test_a_value_older_than_the_leafs_max_age_is_stale_with_its_data_time_and_age():
    old = Observation(25.0, NOW - timedelta(hours=54), "technical")  # the default max is 2d
    assert unread("rsi(14) < 30", {"rsi(14)": old}) == [
        (
            "rsi(14)",
            "STALE",
            "the data is from 2025-02-27T06:00:00Z (2.2d old, max 2d)",
        )
    ]


def test_a_value_that_is_not_a_number_is_unread():
    assert unread("rsi(14) < 30", {"rsi(14)": float("nan")}) == [
        ("rsi(14)", "NOT_A_NUMBER", "the value was nan")
    ]


def test_only_the_missing_metric_of_a_leaf_reading_two_is_unread():
    values = {"close": 100.0, "sma(50)": DataError(Code.NO_DATA, "no candles")}
    assert unread("close > sma(50)", values) == [("sma(50)", "NO_DATA", "no candles")]


def test_a_leaf_unknown_for_its_own_arithmetic_read_its_data():
    """Division by zero makes the leaf UNKNOWN (MATH_ERROR), but every metric had a value."""
    values = {"close": 100.0, "sma(50)": 0.0}
    strategy = one_condition("close / sma(50) > 1", source="technical")
    evaluation = evaluate(strategy, values)
    assert Code.MATH_ERROR in evaluation.reasons
    assert unread_metrics(evaluation) == ()
