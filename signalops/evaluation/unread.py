"""Which metrics an evaluation could not read: the data behind its UNKNOWN leaves.

A leaf is UNKNOWN when a metric it reads had no usable value: the source answered with a
``DataError`` (NO_DATA, NOT_APPLICABLE, INSUFFICIENT_HISTORY...), gave nothing, or gave a value
the leaf refused (STALE, FUTURE, NOT_A_NUMBER). A backtest counts these per asset and metric
(``signalops.backtest.unknowns``): a rule that never passes because its data never was there
shows as 0 trades, and the trace of one decision is the only other place that says why.

A leaf UNKNOWN for its own arithmetic (MATH_ERROR, a division by zero) read its data and is not
listed here: its trace says so.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.evaluation.nodes import Metric
from signalops.evaluation.tree import Evaluation, MetricReading
from signalops.explain.text import format_age
from signalops.observation import DataError


class UnreadMetric(NamedTuple):
    """A metric an evaluation had no usable value of: why (a stable code) and the details."""

    metric: Metric
    reason: str  # the DataError's code, or the leaf's (STALE, FUTURE, NOT_A_NUMBER, MISSING)
    message: str


def unread_metrics(evaluation: Evaluation) -> tuple[UnreadMetric, ...]:
    """Each metric of ``evaluation``'s UNKNOWN leaves that had no usable value, once (in the
    order of the tree's leaves), with the first reason a leaf gave for it."""
    reasons = evaluation.reasons
    if not any(reasons):  # every decision asks: one scan of a short tuple
        return ()
    trace = evaluation.trace
    found: dict[Metric, UnreadMetric] = {}
    for node in evaluation.tree.leaves():
        reason = reasons[node.index]
        if reason is None or reason == Code.MATH_ERROR:
            continue
        for reading in trace.leaf(node).readings:
            if reading.metric not in found:
                unread = _unread(reading, trace.observation(reading.metric), reason)
                if unread is not None:
                    found[reading.metric] = unread
    return tuple(found.values())


def _unread(reading: MetricReading, answer: object, reason: str) -> UnreadMetric | None:
    """Why ``reading`` (of a leaf UNKNOWN for ``reason``) had no usable value; None when it had
    one (another metric of the leaf was the one missing)."""
    metric = reading.metric
    if isinstance(answer, DataError):
        return UnreadMetric(metric, str(answer.reason), answer.message)
    if reading.error is not None:  # an answer that is neither
        return UnreadMetric(metric, str(Code.ADAPTER_ERROR), reading.error)
    if answer is None or reading.data_time is None or reading.age_seconds is None:
        return UnreadMetric(metric, str(Code.MISSING), "the source gave no answer")
    value = reading.value
    if not isinstance(value, int | float) or not math.isfinite(value):
        return UnreadMetric(metric, str(Code.NOT_A_NUMBER), f"the value was {value!r}")
    age = reading.age_seconds
    when = iso(reading.data_time)
    if reason == Code.FUTURE and age < 0:
        after = f"the data is from {when}, after the decision"
        return UnreadMetric(metric, str(Code.FUTURE), after)
    if reason == Code.STALE and age > reading.max_age:
        old = f"{format_age(age)} old, max {format_duration(reading.max_age)}"
        return UnreadMetric(metric, str(Code.STALE), f"the data is from {when} ({old})")
    return None


__all__ = ["UnreadMetric", "unread_metrics"]
