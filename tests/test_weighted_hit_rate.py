"""Hit-rate weights on a constructed history: known answers, the vote's three-valued semantics,
and no look-ahead.

The history is daily BTC candles written into a snapshot store and read by the real replay
technical adapter; the ``hit_rate`` source (``with_hit_rates``) evaluates each child of the vote
at earlier days through it. Closes are 100 except where a test needs otherwise:

- days 30, 33, ..., 57 close at 150 (``close between 140 and 160`` PASSes: 10 signals inside a
  30-day window at day 59 whose 2-day horizon has ended); two days later the close is 170 (a
  rise: a hit) for 7 of them and 60 (a fall) for days 33, 42 and 51;
- day 27 (a signal older than the window) and day 58 (younger than the horizon) close at 150
  too, each followed by a rise, and must not count;
- the falls to 60 on days 35, 44 and 53 make ``close < 80`` PASS three times, each followed by
  a rise back to 100 (3 hits of 3); ``close > 1000`` never passes (0 signals: the prior).

So at day 59, with min_samples 3: weights 7/10 = 0.7, prior 0.5, 3/3 = 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from signalops.adapters import registry
from signalops.adapters.gather import evaluate
from signalops.adapters.snapshots import SnapshotStore
from signalops.codes import Code
from signalops.evaluation.hit_rate import HitRateAdapter, price_request, with_hit_rates
from signalops.evaluation.nodes import HitRate, Weighted
from signalops.evaluation.vectorized import (
    SeriesInput,
    evaluate_series,
    hit_rate_inputs,
    inputs_from_adapters,
    screen,
)
from signalops.evaluation.weighted import vote
from signalops.explain import RECORD, tree_lines
from signalops.observation import DataError, Observation, Request
from signalops.strategy import loads

DAY = 86400
T0 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()  # day 0's close
AS_OF_DAY = 59
AS_OF = datetime.fromtimestamp(T0 + AS_OF_DAY * DAY, UTC)
KEY = "candles/binance/BTC/USDT/1d"

SIGNALS = range(30, 58, 3)  # 30, 33, ..., 57
MISSES = (33, 42, 51)


def base_closes() -> dict[int, float]:
    closes = dict.fromkeys(range(66), 100.0)
    for day in (*SIGNALS, 27, 58):
        closes[day] = 150.0
        closes[day + 2] = 60.0 if day in MISSES else 170.0
    return closes


def store_with(tmp_path: Path, closes: Mapping[int, float], name: str = "store") -> SnapshotStore:
    store = SnapshotStore(tmp_path / name)
    store.write(
        "technical",
        ((KEY, T0 + day * DAY, [c, c, c, c, 1000.0]) for day, c in sorted(closes.items())),
    )
    return store


STRATEGY = """\
strategy:
  name: known
  assets: [BTC]
  defaults: {params: {timeframe: 1d}}
  rules:
    - id: vote
      conditions:
        - weighted:
            pass_at: 0.5
            weights: hit_rate(window=30d, horizon=2d, min_samples=3, prior=0.5%s)
            of:
              - when: "close between 140 and 160"
              - when: "close > 1000"
              - when: "close < 80"
"""


def strategy(extra: str = ""):
    return loads(STRATEGY % extra, "known.yaml")


def vote_node(compiled: Any) -> Weighted:
    return next(n for n in compiled.tree.nodes if isinstance(n, Weighted))


def weights_at(compiled: Any, store: SnapshotStore, as_of: datetime = AS_OF) -> list[Any]:
    evaluation = evaluate(compiled, "BTC", as_of, with_hit_rates(registry.replay_adapters(store)))
    return list(evaluation.trace.weights(vote_node(compiled)))


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return store_with(tmp_path, base_closes())


# --- known answers --------------------------------------------------------------------------------


def test_a_child_that_passed_10_times_7_followed_by_gains_weighs_0_7(store):
    compiled = strategy()
    evaluation = evaluate(compiled, "BTC", AS_OF, with_hit_rates(registry.replay_adapters(store)))
    a, b, c = evaluation.trace.weights(vote_node(compiled))
    assert (a.weight, a.source, a.hits, a.signals) == (0.7, "hit_rate", 7.0, 10.0)
    assert a.detail == {"bars": 28, "evaluated": 28, "unpriced": 0}
    assert a.data_time == AS_OF.timestamp()
    assert (b.weight, b.source, b.signals) == (0.5, "prior", 0.0)  # prior (n < min)
    assert (c.weight, c.source, c.hits, c.signals) == (1.0, "hit_rate", 3.0, 3.0)
    # At day 59 the close is 170 (day 57's rise): only 'close between ...' could pass, and fails.
    cast = evaluation.trace.vote(vote_node(compiled))
    assert (cast.status, cast.low, cast.high) == (0, 0.0, 0.0)
    # The trace JSON says each weight and where it came from.
    node = evaluation.to_dict()["entry"]["children"][0]["children"][0]
    assert node["kind"] == "weighted" and node["pass_at"] == 0.5
    assert node["hit_rate"] == {
        "window": "30d", "horizon": "2d", "step": "1d", "min_samples": 3, "prior": 0.5,
        "min_return": 0.0, "direction": "up",
    }  # fmt: skip
    assert node["weights"][0] == {
        "weight": 0.7, "source": "hit_rate", "hits": 7, "signals": 10,
        "data_timestamp": "2024-02-29T00:00:00Z", "reason": None, "error": None,
        "detail": {"bars": 28, "evaluated": 28, "unpriced": 0},
    }  # fmt: skip
    assert node["weights"][1]["source"] == "prior"


def test_min_return_and_direction_change_what_counts_as_a_hit(store):
    # +13% (150 -> 170) is no gain above 50%; +67% (60 -> 100) is.
    demanding = weights_at(strategy(", min_return=50%"), store)
    assert [(w.hits, w.signals) for w in demanding] == [(0, 10), (0, 0), (3, 3)]
    assert [w.weight for w in demanding] == [0.0, 0.5, 1.0]
    # Counting falls: three of the ten 150s were followed by 60.
    falls = weights_at(strategy(", direction=down"), store)
    assert [(w.hits, w.signals) for w in falls] == [(3, 10), (0, 0), (0, 3)]
    assert falls[0].weight == 0.3


def test_a_signal_without_a_usable_price_is_not_counted(tmp_path):
    closes = base_closes()
    closes[38] = 0.0  # day 36's outcome: a close no return can be measured from
    a, _, c = weights_at(strategy(), store_with(tmp_path, closes))
    assert (a.hits, a.signals) == (6, 9)
    assert a.detail == {"bars": 28, "evaluated": 28, "unpriced": 1}
    # 'close < 80' passes at day 38 too, and cannot be priced there either.
    assert (c.hits, c.signals, c.detail["unpriced"]) == (3, 3, 1)


# --- the vote -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "weights", "expected"),
    [
        ((1, 1, 0), (0.5, 0.3, 0.2), (1, 0.8, 0.8)),
        ((1, 0, 0), (0.5, 0.3, 0.2), (0, 0.5, 0.5)),  # 0.5 < 0.6
        ((1, 2, 0), (0.5, 0.3, 0.2), (2, 0.5, 0.8)),  # passes only if the unknown passes
        ((1, 2, 0), (0.5, 0.05, 0.45), (0, 0.5, 0.55)),  # fails whatever the unknown is
        ((1, 2, 0), (0.6, 0.3, 0.1), (1, 0.6, 0.9)),  # passes whatever the unknown is
        ((2, 2, 2), (1.0, 1.0, 1.0), (2, 0.0, 1.0)),
        ((1, 0, 0), (0.0, 0.0, 0.0), (0, 0.0, 0.0)),  # no weight earned: a vote of 0
        ((1, 1, 1), (0.5, None, 0.2), (2, None, None)),  # a weight unknown: the vote is
        ((0, 2, 0), (0.5, None, 0.2), (2, None, None)),
        ((0, 0, 0), (None, None, 0.2), (0, 0.0, 0.0)),  # ... unless every child fails
    ],
)
def test_the_vote_fails_closed_on_unknown_children_and_weights(statuses, weights, expected):
    cast = vote(statuses, weights, 0.6)
    assert (cast.status, cast.low, cast.high) == pytest.approx(expected)


def test_an_unusable_count_makes_its_weight_and_the_vote_unknown(store):
    compiled = strategy()
    tree = compiled.tree
    node = vote_node(compiled)
    adapters = with_hit_rates(registry.replay_adapters(store))
    moment = datetime.fromtimestamp(T0 + 57 * DAY, UTC)  # the first child passes
    row = list(evaluate(compiled, "BTC", moment, adapters).observations)
    slots = [tree.metrics.index(m) for m in node.metrics]
    now = moment.timestamp()
    cases = {
        Code.MISSING: None,
        Code.ADAPTER_ERROR: DataError(Code.NO_ADAPTER, "no adapter for source 'hit_rate'"),
        Code.STALE: Observation(7.0, datetime.fromtimestamp(now - DAY - 1, UTC), "x"),
        Code.FUTURE: Observation(7.0, datetime.fromtimestamp(now + 1, UTC), "x"),
        Code.NOT_A_NUMBER: Observation(math.nan, moment, "x"),
        Code.BAD_DATA: Observation(11.0, moment, "x"),  # 11 hits of 10 signals
    }
    known = tree.evaluate_aligned(row, moment, "BTC")
    assert known.statuses[node.items[0].index] == 1  # so no weight is beside the point
    assert known.statuses[node.index] == 0  # 0.667 of a total weight 2.167 < 0.5
    for reason, answer in cases.items():
        changed = list(row)
        changed[slots[0]] = answer  # the first child's hits
        evaluation = tree.evaluate_aligned(changed, moment, "BTC")
        first = evaluation.trace.weights(node)[0]
        assert (first.weight, first.source, first.reason) == (None, "unknown", reason)
        assert evaluation.statuses[node.index] == 2, reason


def test_without_the_hit_rate_source_the_vote_is_unknown_and_says_why(store):
    compiled = strategy()
    adapters = dict(registry.replay_adapters(store))
    del adapters["hit_rate"]  # an adapter set without the derived source
    # Day 57 closes at 150: 'close between 140 and 160' passes, and its weight is unknown.
    day_57 = datetime.fromtimestamp(T0 + 57 * DAY, UTC)
    evaluation = evaluate(compiled, "BTC", day_57, adapters)
    node = evaluation.to_dict()["entry"]["children"][0]["children"][0]
    assert node["status"] == "UNKNOWN"
    assert {w["reason"] for w in node["weights"]} == {"ADAPTER_ERROR"}
    assert {w["error"] for w in node["weights"]} == {"NO_ADAPTER: no adapter for source 'hit_rate'"}
    lines = [str(line).strip(" │") for line in tree_lines(evaluation.to_dict(), RECORD)]
    assert (
        "weight unknown: the hit-rate counts: the data source reported an error "
        "(NO_ADAPTER: no adapter for source 'hit_rate')"
    ) in lines
    assert "vote unknown: a weight is unknown" in lines
    # At day 59 every child fails: no weight could make the vote pass.
    failing = evaluate(compiled, "BTC", AS_OF, adapters).to_dict()["entry"]["children"][0]
    assert failing["children"][0]["status"] == "FAIL"
    assert (failing["children"][0]["vote"], failing["children"][0]["vote_high"]) == (0.0, 0.0)


# --- no look-ahead --------------------------------------------------------------------------------


class Spy:
    """A source that answers like ``inner`` and remembers when it was asked."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.source = inner.source
        self.catalogue = inner.catalogue
        self.asked: list[float] = []

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> Mapping[Request, Any]:
        self.asked.append(as_of.timestamp())
        return self.inner.fetch(requests, as_of)


def test_the_hit_rate_source_asks_nothing_after_as_of(store):
    spy = Spy(registry.replay_adapters(store)["technical"])
    source = HitRateAdapter({"technical": spy})
    compiled = strategy()
    evaluation = evaluate(compiled, "BTC", AS_OF, {"technical": spy, "hit_rate": source})
    assert evaluation.trace.weights(vote_node(compiled))[0].weight == 0.7
    assert max(spy.asked) == AS_OF.timestamp()
    assert min(spy.asked) == AS_OF.timestamp() - 29 * DAY  # the window's oldest bar


def test_changing_anything_after_as_of_changes_nothing_at_as_of(tmp_path, store):
    compiled = strategy()
    adapters = with_hit_rates(registry.replay_adapters(store))
    before = evaluate(compiled, "BTC", AS_OF, adapters).to_dict()
    rng = np.random.default_rng(15)
    for attempt in range(5):
        closes = base_closes()
        for day in range(AS_OF_DAY + 1, 66):
            closes[day] = float(rng.choice([1.0, 60.0, 150.0, 170.0, 1e6]))
        changed = store_with(tmp_path, closes, f"later{attempt}")
        after = evaluate(compiled, "BTC", AS_OF, with_hit_rates(registry.replay_adapters(changed)))
        assert after.to_dict() == before


def test_a_pass_younger_than_the_horizon_does_not_count(tmp_path, store):
    # Day 58 closes at 150 (a PASS) and day 60 at 170: its 2-day horizon ends after as_of.
    compiled = strategy()
    closes = base_closes()
    closes[58] = 100.0
    without = weights_at(compiled, store_with(tmp_path, closes, "no58"))
    assert weights_at(compiled, store) == without
    # The same PASS counts one day later, once its horizon has ended at day 60 (a rise).
    moment = datetime.fromtimestamp(T0 + 60 * DAY, UTC)
    a = weights_at(compiled, store, moment)[0]
    assert (a.hits, a.signals) == (7, 10)  # day 30 (a rise) left the window, day 58 came in
    assert weights_at(compiled, store_with(tmp_path, closes, "no58b"), moment)[0].signals == 9


def test_the_vectorised_counts_equal_the_sources_and_read_no_later_bar(store):
    compiled = strategy()
    tree = compiled.tree
    times = T0 + DAY * np.arange(0, 66, dtype=np.float64)
    adapters = with_hit_rates(registry.replay_adapters(store))
    exact = inputs_from_adapters(compiled, "BTC", times, adapters)  # the source, bar by bar
    plain = [
        None if m.source == "hit_rate" else s for m, s in zip(tree.metrics, exact, strict=True)
    ]
    closes_only = loads(
        "strategy: {name: c, assets: [BTC], rules: [{id: r, conditions: [{when: 'close > 0'}]}]}"
    )
    (close,) = inputs_from_adapters(closes_only, "BTC", times, adapters)
    rolled = hit_rate_inputs(tree, plain, times, {DAY: close})
    for metric, got, want in zip(tree.metrics, rolled, exact, strict=True):
        if metric.source == "hit_rate":
            np.testing.assert_array_equal(got.values, want.values, err_msg=metric.name)
    # Cutting the grid at any bar leaves every earlier bar's counts as they were.
    for bars in (1, 5, 31, 60):
        short = hit_rate_inputs(
            tree, [head(p, bars) for p in plain], times[:bars], {DAY: head(close, bars)}
        )
        for got, full in zip(short, rolled, strict=True):
            np.testing.assert_array_equal(got.values, full.values[:bars])
    result = evaluate_series(tree, rolled, times)
    scalar = [evaluate(compiled, "BTC", datetime.fromtimestamp(t, UTC), adapters) for t in times]
    assert [tuple(int(s) for s in result.statuses[:, b]) for b in range(66)] == [
        e.statuses for e in scalar
    ]


def head(series: SeriesInput | None, bars: int) -> SeriesInput | None:
    if series is None:
        return None
    return SeriesInput(series.values[:bars], series.data_times[:bars], series.errors[:bars])


def test_screen_counts_the_history_before_its_first_bar(store):
    compiled = strategy()
    times = T0 + DAY * np.arange(AS_OF_DAY, 63, dtype=np.float64)  # starts at as_of
    adapters = with_hit_rates(registry.replay_adapters(store))
    result = screen(compiled, "BTC", store, times)
    for bar, t in enumerate(times):
        scalar = evaluate(compiled, "BTC", datetime.fromtimestamp(t, UTC), adapters)
        assert tuple(int(s) for s in result.statuses[:, bar]) == scalar.statuses
    with pytest.raises(ValueError, match="every 86400 seconds"):
        screen(compiled, "BTC", store, times + np.array([0, 0, 1, 1]))


def test_a_request_the_source_cannot_read_is_an_error_not_a_count(store):
    source = HitRateAdapter(registry.replay_adapters(store))
    spec = HitRate(30 * DAY, 2 * DAY, DAY, 1, 0.5, 0.0, "up")
    bad = Request("hit_rate", "hits", spec.params("{not json"), "BTC")
    unknown = Request("hit_rate", "rate", spec.params("{}"), "BTC")
    answers = source.fetch([bad, unknown], AS_OF)
    assert answers[bad].reason == Code.BAD_REQUEST
    assert isinstance(answers[unknown], DataError)
    assert price_request("BTC", DAY) == Request("technical", "close", (("timeframe", DAY),), "BTC")


class Raising:
    """A source that raises instead of answering (a plugin's bug)."""

    source = "technical"

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> Mapping[Request, Any]:
        raise RuntimeError("boom")


def test_a_source_that_raises_makes_the_counts_an_error_not_a_crash():
    compiled = strategy()
    adapters = with_hit_rates({"technical": Raising()})
    answers = adapters["hit_rate"].fetch(compiled.tree.requests("BTC")[:2], AS_OF)
    assert {a.reason for a in answers.values()} == {Code.INTERNAL_ERROR}
    assert all("RuntimeError: boom" in a.message for a in answers.values())
