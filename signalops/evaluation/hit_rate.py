"""The ``hit_rate`` source: how often a condition's PASS preceded a move, from history at ``as_of``.

A weighted vote measured by hit rate (``signalops.evaluation.weighted``) asks this source two
questions per child, ``hits`` and ``signals``, whose parameters carry the child itself (its
``condition_json``), the window, horizon, step, the return a move must beat and its direction.
The answer at ``as_of``, for the bars ``t = as_of - k * step`` with ``horizon <= k * step <
window`` (``lead <= k < bars``, ``lead = horizon / step``):

- the condition is evaluated at ``t`` on what the other sources answer at ``t`` (the same
  evaluator as every decision's; a leaf older than its max age is UNKNOWN, as always);
- a bar where it PASSes is a *signal* when the asset's close (``technical.close`` at the step's
  timeframe, fresh within two steps, above 0) is known at ``t`` and at ``t + horizon``;
- a signal is a *hit* when ``close(t + horizon) / close(t) - 1`` is above ``min_return``
  (direction ``up``), or below ``-min_return`` (``down``).

Nothing after ``as_of`` is read: every question to another source is asked at a ``t <= as_of``
(and sources never answer with data dated after the time they are asked at), and a signal
counts only once its horizon has ended, ``t + horizon <= as_of``. Both counts are observations
dated ``as_of``, so they are recorded with the decision and its trace re-derives from the record.
The ``signals`` observation's detail says how many bars the window held, at how many the
condition's status was known, and how many signals had no usable price (they are not counted).

``with_hit_rates(adapters)`` adds this source to a set of adapters (it asks the others). The
statuses and closes it works out are kept per time (bounded), so that a backtest, whose every
bar shares all but one of its window with the bar before, evaluates each past bar once.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from signalops.catalogue.spec import MetricSpec, Param, SourceCatalogue
from signalops.codes import Code
from signalops.evaluation.nodes import DOWN, HIT_RATE_SOURCE, HITS, SIGNALS, HitRate
from signalops.evaluation.tree import DecisionTree
from signalops.evaluation.weighted import condition_from_json
from signalops.observation import DataError, Observation, Request, utc

__all__ = [
    "CATALOGUE",
    "PRICE_MAX_AGE_STEPS",
    "SOURCE",
    "HitRateAdapter",
    "count",
    "price_request",
    "spec_of",
    "with_hit_rates",
]

log = logging.getLogger(__name__)

SOURCE = HIT_RATE_SOURCE
# A close is usable for a signal when it is at most two steps old (the close's own default).
PRICE_MAX_AGE_STEPS = 2
# Statuses and closes kept per adapter (first in, first out: a backtest asks in time order, so
# the oldest bars, which no window needs any more, go first); ~40 MB at most.
KEPT = 200_000

_PARAMS = (
    Param("condition", "string", description="the condition measured (its canonical JSON)"),
    Param("window", "duration", description="how far back signals are counted"),
    Param("horizon", "duration", description="how long after a signal the move is measured"),
    Param("step", "duration", description="the bar length: one candle of the close"),
    Param("min_return", "number", description="the move a signal must beat to be a hit"),
    Param("direction", "string", description="up: a rise is a hit; down: a fall", choices=(
        "up", "down")),
)  # fmt: skip
CATALOGUE = SourceCatalogue.of(
    SOURCE,
    [
        MetricSpec(HITS, _PARAMS, "bars", "signals followed by a move past min_return", True, 0),
        MetricSpec(SIGNALS, _PARAMS, "bars", "bars where the condition passed, priced", True, 0),
    ],
    "derived: a condition's hit rate over history, from the other sources",
)


def spec_of(request: Request) -> tuple[str, HitRate]:
    """The condition (JSON) and the measure a ``hit_rate`` request asks for (``ValueError`` when
    its parameters are not those of ``HitRate.params``)."""
    params = dict(request.params)
    spec = HitRate(
        window=int(params["window"]),
        horizon=int(params["horizon"]),
        step=int(params["step"]),
        min_samples=1,  # the vote's business, not the source's
        prior=0.0,
        min_return=float(params["min_return"]),
        direction=str(params["direction"]),
    )
    if spec.step <= 0 or spec.horizon % spec.step or spec.window % spec.step:
        raise ValueError("window and horizon must be whole numbers of a positive step")
    return str(params["condition"]), spec


def price_request(asset: str | None, step: int) -> Request:
    """The close a hit is measured on: the asset's candle close at the step's timeframe."""
    return Request("technical", "close", (("timeframe", step),), asset)


def usable_price(obs: Any, t: float, step: int) -> float | None:
    """A close a signal may be priced with: an observation, finite, above 0, not from after
    ``t`` and at most ``PRICE_MAX_AGE_STEPS`` steps old."""
    if obs.__class__ is not Observation:
        return None
    value = obs.value
    age = t - obs.epoch
    if value - value == 0 and value > 0 and 0 <= age <= PRICE_MAX_AGE_STEPS * step:
        return value
    return None


def is_hit(start: float, end: float, spec: HitRate) -> bool:
    """Whether a move from ``start`` to ``end`` is a hit (the vectorised twin computes the same
    floats: one division, one subtraction, one comparison)."""
    change = end / start - 1.0
    if spec.direction == DOWN:
        return change < -spec.min_return
    return change > spec.min_return


def count(
    spec: HitRate,
    now: float,
    status_at: Callable[[float], int],
    price_at: Callable[[float], float | None],
) -> tuple[int, int, dict[str, int]]:
    """(hits, signals, detail) at ``now`` given ``status_at(t)`` and ``price_at(t)`` (a usable
    close or None), asked only for ``t <= now``."""
    step, lead = spec.step, spec.lead
    hits = signals = known = unpriced = 0
    for k in range(lead, spec.bars):
        t = now - k * step
        status = status_at(t)
        if status != 2:
            known += 1
        if status != 1:
            continue
        start, end = price_at(t), price_at(now - (k - lead) * step)
        if start is None or end is None:
            unpriced += 1
            continue
        signals += 1
        hits += is_hit(start, end, spec)
    detail = {"bars": spec.bars - lead, "evaluated": known, "unpriced": unpriced}
    return hits, signals, detail


class _Kept:
    """A bounded map, safe to share between threads (the evaluation runs in several)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any, default: Any) -> Any:
        with self.lock:
            return self.items.get(key, default)

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.items[key] = value
            if len(self.items) > self.size:
                self.items.popitem(last=False)


_ABSENT = object()


class HitRateAdapter:
    """Answers ``hit_rate`` requests by asking ``adapters`` (every other source) about the past."""

    source = SOURCE
    catalogue = CATALOGUE

    def __init__(self, adapters: Mapping[str, Any], kept: int = KEPT) -> None:
        self.adapters = {name: a for name, a in adapters.items() if name != SOURCE}
        self._trees: dict[str, DecisionTree] = {}
        self._statuses = _Kept(kept)
        self._prices = _Kept(kept)

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> dict[Request, Any]:
        as_of = utc(as_of)
        now = as_of.timestamp()
        counted: dict[tuple[Any, ...], Any] = {}
        answers: dict[Request, Any] = {}
        for request in requests:
            key = (request.params, request.asset)
            if key not in counted:
                counted[key] = self._count(request, now)
            found = counted[key]
            if isinstance(found, DataError):
                answers[request] = found
            elif request.metric == HITS:
                answers[request] = Observation(float(found[0]), as_of, SOURCE)
            elif request.metric == SIGNALS:
                answers[request] = Observation(float(found[1]), as_of, SOURCE, detail=found[2])
            else:
                message = f"{SOURCE} has no metric '{request.metric}'"
                answers[request] = DataError(Code.UNKNOWN_METRIC, message, SOURCE)
        return answers

    def _count(self, request: Request, now: float) -> Any:
        try:
            condition, spec = spec_of(request)
            tree = self._tree(condition)
        except (KeyError, TypeError, ValueError) as exc:
            message = f"not a hit_rate request ({type(exc).__name__}: {exc})"
            return DataError(Code.BAD_REQUEST, message, SOURCE)
        asset = request.asset
        requests = tree.requests(asset)
        price = price_request(asset, spec.step)

        def status_at(t: float) -> int:
            key = (condition, asset, t)
            found = self._statuses.get(key, _ABSENT)
            if found is _ABSENT:
                moment = datetime.fromtimestamp(t, UTC)
                answers = self.answers(requests, moment)
                row = tuple(answers.get(r) for r in requests)
                found = tree.evaluate_aligned(row, moment, asset).statuses[0]
                self._statuses.put(key, found)
            return found

        def price_at(t: float) -> float | None:
            key = (price, t)
            found = self._prices.get(key, _ABSENT)
            if found is _ABSENT:
                answer = self.answers([price], datetime.fromtimestamp(t, UTC)).get(price)
                found = usable_price(answer, t, spec.step)
                self._prices.put(key, found)
            return found

        try:
            return count(spec, now, status_at, price_at)
        except Exception as exc:  # a source that raised instead of answering: fail closed, loudly
            log.exception("hit_rate: counting %s for %s failed", condition[:80], asset)
            return DataError(Code.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", SOURCE)

    def _tree(self, condition: str) -> DecisionTree:
        tree = self._trees.get(condition)
        if tree is None:
            tree = DecisionTree(entry=condition_from_json(condition), exit=None, vetoes=())
            self._trees[condition] = tree
        return tree

    def answers(self, requests: Sequence[Request], moment: datetime) -> dict[Request, Any]:
        """What the other sources answer at ``moment`` (as ``gather``, without its log lines:
        a window of past bars would log each bar's missing data again)."""
        by_source: dict[str, list[Request]] = {}
        for request in requests:
            by_source.setdefault(request.source, []).append(request)
        found: dict[Request, Any] = {}
        for source, batch in by_source.items():
            adapter = self.adapters.get(source)
            if adapter is None:
                message = f"no adapter for source '{source}'"
                found.update({r: DataError(Code.NO_ADAPTER, message) for r in batch})
            else:
                found.update(adapter.fetch(batch, moment))
        return found


def with_hit_rates(adapters: Mapping[str, Any]) -> dict[str, Any]:
    """``adapters`` and a ``hit_rate`` source that asks them (the one the registry adds; a
    set that has one already gets it anew over the others)."""
    others = {name: adapter for name, adapter in adapters.items() if name != SOURCE}
    return {**others, SOURCE: HitRateAdapter(others)}
