"""The vectorised evaluator agrees with the scalar one on weighted votes, bar by bar.

The property of ``test_vectorized.py`` extended to votes:

1. Fixed weights: random strategies whose conditions may be ``weighted:`` groups (nested, with
   ``not``, in exits and vetoes) and whose entry may be ``execution.weighted``, over the random
   per-bar data of ``test_vectorized`` (missing values, errors, junk, NaN, stale and future
   points): every node's status, reason and the verdicts equal ``tree.evaluate_aligned``.
2. Hit-rate weights: random strategies with measured votes over a grid of hourly bars. The
   scalar side asks the real ``hit_rate`` source, which evaluates each child at earlier bars
   through a source serving the random cells; the vectorised side computes the counts with
   rolling windows (``hit_rate_inputs``). Statuses, reasons, verdicts and the counts themselves
   are equal, and cutting the grid at any bar changes nothing before it (no look-ahead).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import yaml
from hypothesis import given
from hypothesis import strategies as st
from test_vectorized import (
    CELLS,
    FRESH,
    PROPERTY_SETTINGS,
    T0,
    assert_matches_scalar,
    cell_observation,
    conditions,
    draw_bars,
    with_max_age,
)

from signalops.adapters.gather import gather
from signalops.evaluation.hit_rate import price_request, with_hit_rates
from signalops.evaluation.vectorized import Reason, SeriesInput, evaluate_series, hit_rate_inputs
from signalops.observation import Observation, Request
from signalops.strategy import loads

HOUR = 3600
WEIGHTS = st.sampled_from((0.0, 0.1, 0.25, 0.3, 0.5, 1.0, 2.0))
PASS_AT = st.sampled_from(("0.1", "0.25", "0.3333333333333333", "0.5", "0.6", "2/3", "0.75", "1"))


def pass_at(draw: st.DrawFn) -> float:
    text = draw(PASS_AT)
    return 2 / 3 if text == "2/3" else float(text)


def fixed_weights(draw: st.DrawFn, count: int) -> list[float]:
    weights = draw(st.lists(WEIGHTS, min_size=count, max_size=count))
    if sum(weights) == 0:
        weights[0] = 1.0
    return weights


@st.composite
def voting_conditions(draw: st.DrawFn, depth: int = 2) -> dict[str, Any]:
    """A condition of ``test_vectorized``, or a vote with fixed weights over such conditions."""
    if depth == 0 or draw(st.booleans()):
        return draw(conditions(depth=min(depth, 1)))
    items = draw(st.lists(voting_conditions(depth - 1), min_size=1, max_size=3))
    vote = {"of": items, "pass_at": pass_at(draw), "weights": fixed_weights(draw, len(items))}
    if draw(st.booleans()):
        return {"not": {"weighted": vote}}
    return {"weighted": vote}


def voting_rules(draw: st.DrawFn, prefix: str, count: int, measured: Any = None) -> list[dict]:
    out = []
    for i in range(count):
        items = draw(st.lists(voting_conditions(), min_size=1, max_size=2))
        if measured is not None and draw(st.booleans()):
            children = draw(st.lists(voting_conditions(1), min_size=1, max_size=3))
            vote = {"of": children, "pass_at": pass_at(draw), "weights": draw(measured)}
            items.append({"weighted": vote})
        out.append(with_max_age(draw, {"id": f"{prefix}{i}", "conditions": items}))
    return out


@st.composite
def voting_strategies(draw: st.DrawFn, measured: Any = None) -> str:
    entry = voting_rules(draw, "entry", draw(st.integers(1, 3)), measured)
    body: dict[str, Any] = {"name": "votes", "assets": ["BTC"], "rules": entry}
    if draw(st.booleans()):
        vote = {"pass_at": pass_at(draw), "weights": fixed_weights(draw, len(entry))}
        body["execution"] = {"weighted": vote}
    else:
        body["execution"] = {"require_confirmations": draw(st.integers(1, len(entry)))}
    if draw(st.booleans()):
        exits = voting_rules(draw, "exit", draw(st.integers(1, 2)), measured)
        body["exit"] = {"rules": exits}
        if draw(st.booleans()):
            weights = fixed_weights(draw, len(exits))
            body["exit"]["weighted"] = {"pass_at": pass_at(draw), "weights": weights}
    vetoes = voting_rules(draw, "veto", draw(st.integers(0, 2)), measured)
    blocks = st.sampled_from((["BUY"], ["SELL"], ["BUY", "SELL"]))
    body["vetoes"] = [{**veto, "blocks": draw(blocks)} for veto in vetoes]
    return yaml.safe_dump({"strategy": body}, sort_keys=False)


@PROPERTY_SETTINGS
@given(text=voting_strategies(), data=st.data())
def test_fixed_weight_votes_vectorised_equal_scalar_on_random_trees_and_data(text, data):
    tree = loads(text).tree
    times, rows, inputs = draw_bars(data, tree)
    result = evaluate_series(tree, inputs, times)
    assert_matches_scalar(tree, result, rows, times)


# --- hit-rate weights over an hourly grid -------------------------------------------------------


@st.composite
def hit_rates(draw: st.DrawFn) -> str:
    bars = draw(st.integers(2, 6))
    lead = draw(st.integers(1, bars - 1))
    return (
        f"hit_rate(window={bars}h, horizon={lead}h, step=1h, "
        f"min_samples={draw(st.integers(1, 3))}, prior={draw(st.sampled_from((0, 0.5, 1)))}, "
        f"min_return={draw(st.sampled_from((0, 0.01)))}, "
        f"direction={draw(st.sampled_from(('up', 'down')))})"
    )


# Closes: mostly usable and apart by a few percent (so that both min_returns and both directions
# decide), sometimes unusable: missing, an error, not positive, NaN, stale or from the future.
USABLE = st.tuples(
    st.just("ok"),
    st.sampled_from((99.0, 100.0, 100.5, 102.0, 150.0)),
    st.sampled_from((0, 1, 7200)),
)
PRICES = st.one_of(
    USABLE,
    USABLE,
    USABLE,
    USABLE,
    st.tuples(st.just("ok"), st.sampled_from((0.0, -5.0, float("nan"))), st.just(0)),
    st.tuples(st.just("ok"), st.just(100.0), st.sampled_from((7201, -1))),
    st.tuples(st.sampled_from(("missing", "error", "junk")), st.just(0.0), st.just(0)),
)


class Grid:
    """A source that answers, at each bar's time, what the random cells say for it."""

    source = "grid"

    def __init__(self, cells: Mapping[tuple[Request, float], Any]) -> None:
        self.cells = cells

    def fetch(self, requests: Sequence[Request], as_of: datetime) -> dict[Request, Any]:
        t = as_of.timestamp()
        return {r: self.cells[(r, t)] for r in requests if (r, t) in self.cells}


def series(column: list[tuple[str, float, int]], times: np.ndarray) -> SeriesInput:
    n = len(times)
    values, data_times, errors = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n)
    for bar, (kind, value, age) in enumerate(column):
        if kind == "ok":
            values[bar], data_times[bar] = value, times[bar] - age
        else:
            errors[bar] = Reason.MISSING if kind == "missing" else Reason.ADAPTER_ERROR
    return SeriesInput(values, data_times, errors)


def cut(inputs: Sequence[SeriesInput | None], bars: int) -> list[SeriesInput | None]:
    return [
        None if s is None else SeriesInput(s.values[:bars], s.data_times[:bars], s.errors[:bars])
        for s in inputs
    ]


@PROPERTY_SETTINGS
@given(text=voting_strategies(measured=hit_rates()), data=st.data())
def test_hit_rate_votes_vectorised_equal_the_hit_rate_source_bar_by_bar(text, data):
    tree = loads(text).tree
    n = data.draw(st.integers(1, 12), label="bars")
    times = T0 + HOUR * np.arange(n, dtype=np.float64)
    requests = tree.requests("BTC")
    price = price_request("BTC", HOUR)
    asked = list(dict.fromkeys([*(r for r in requests if r.source != "hit_rate"), price]))
    clean = st.lists(FRESH, min_size=n, max_size=n)
    columns = {
        r: data.draw(
            st.one_of(
                st.lists(USABLE, min_size=n, max_size=n), st.lists(PRICES, min_size=n, max_size=n)
            )
            if r == price
            else st.one_of(clean, clean, st.lists(CELLS, min_size=n, max_size=n)),
            label=f"{r.source}.{r.metric}",
        )
        for r in asked
    }
    cells = {
        (r, float(t)): cell_observation(*column[bar], int(t))
        for r, column in columns.items()
        for bar, t in enumerate(times)
    }
    grid = Grid(cells)
    adapters = with_hit_rates({"technical": grid, "onchain": grid})
    rows = []
    for t in times:
        answers = gather(requests, adapters, datetime.fromtimestamp(float(t), UTC))
        rows.append([answers.get(r) for r in requests])

    inputs = [None if r.source == "hit_rate" else series(columns[r], times) for r in requests]
    closes = {HOUR: series(columns[price], times)}
    full = hit_rate_inputs(tree, inputs, times, closes)
    result = evaluate_series(tree, full, times)
    assert_matches_scalar(tree, result, rows, times)
    for slot, request in enumerate(requests):
        if request.source != "hit_rate":
            continue
        for bar, answer in enumerate(row[slot] for row in rows):
            assert isinstance(answer, Observation), answer
            assert answer.value == full[slot].values[bar], (request.metric, bar)
    # No look-ahead: the grid cut after any bar gives every earlier bar the same counts.
    bars = data.draw(st.integers(1, n), label="cut")
    short_closes = {HOUR: cut([closes[HOUR]], bars)[0]}
    short = hit_rate_inputs(tree, cut(inputs, bars), times[:bars], short_closes)
    for got, whole in zip(short, full, strict=True):
        np.testing.assert_array_equal(got.values, whole.values[:bars])
