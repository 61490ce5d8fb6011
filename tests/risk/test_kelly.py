"""Kelly sizing from closed trades: the Wilson lower bound as the win rate, the payoff ratio,
the floor, the multiplier and the cap, and what happens with too few trades.

Expected Wilson bounds are written from the score-interval formula, and checked against the
published values of the 95% Wilson interval (e.g. 60 of 100: 0.5020 to 0.6906).
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.backtest import metrics
from signalops.risk.kelly import (
    MIN_TRADES,
    Z_95,
    Z_ONE_SIDED_95,
    KellyEstimate,
    kelly,
    kelly_from_trades,
    wilson_interval,
)

D = Decimal


def wilson_lower(wins: int, n: int, z: float) -> float:
    p = wins / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half


def test_sixty_wins_of_a_hundred_at_two_to_one_sizes_by_the_lower_bound():
    trades = [0.10] * 60 + [-0.05] * 40  # payoff b = 0.10 / 0.05 = 2
    estimate = kelly_from_trades(trades)
    lower = wilson_lower(60, 100, Z_95)
    assert lower == pytest.approx(0.5020, abs=1e-4)  # the published Wilson 95% bound
    assert (estimate.trades, estimate.wins, estimate.losses) == (100, 60, 40)
    assert estimate.win_rate == 0.6
    assert estimate.win_rate_lower == pytest.approx(lower, rel=1e-12)
    assert estimate.payoff == pytest.approx(2.0, rel=1e-12)
    assert estimate.kelly_point == pytest.approx(0.6 - 0.4 / 2, rel=1e-12)  # 0.4
    # lower = 0.5020026: 1.5 x 0.5020026 - 0.5 = 0.2530039, rounded down to 6 places
    assert estimate.kelly_lower == pytest.approx(lower - (1 - lower) / 2, rel=1e-12)
    assert estimate.fraction == D("0.253003")
    assert estimate.reason is None and not estimate.capped


def test_fractional_kelly_and_a_cap():
    trades = [0.10] * 60 + [-0.05] * 40
    half = kelly_from_trades(trades, multiplier=D("0.5"))
    assert half.fraction == D("0.126501")  # 0.5 x 0.2530039, rounded down
    capped = kelly_from_trades(trades, multiplier="0.5", cap="0.1")
    assert capped.fraction == D("0.100000") and capped.capped
    assert kelly_from_trades(trades, cap=D("0.3")).capped is False


def test_the_lower_bound_can_remove_an_edge_the_point_estimate_shows():
    # 6 of 10 at 2:1: point Kelly 0.4, but the Wilson lower bound 0.3127 gives
    # 0.3127 - 0.6873 / 2 < 0: no bet.
    estimate = kelly_from_trades([0.10] * 6 + [-0.05] * 4, min_trades=10)
    assert estimate.win_rate_lower == pytest.approx(0.3127, abs=1e-4)
    assert estimate.kelly_point == pytest.approx(0.4)
    assert estimate.kelly_lower < 0
    assert estimate.fraction == D(0)


def test_too_few_trades_give_no_fraction_and_say_why():
    estimate = kelly_from_trades([0.1, -0.05, 0.2])
    assert estimate.fraction is None
    assert estimate.reason == f"3 closed trades, fewer than the {MIN_TRADES} needed"
    assert estimate.win_rate is None and estimate.payoff is None
    assert (estimate.trades, estimate.wins, estimate.losses) == (3, 2, 1)


def test_without_a_loss_the_payoff_is_infinite_and_kelly_is_the_win_rate():
    estimate = kelly_from_trades([0.02] * 30)
    assert estimate.payoff is None
    assert (
        estimate.kelly_lower
        == estimate.win_rate_lower
        == pytest.approx(wilson_lower(30, 30, Z_95), rel=1e-12)
    )
    assert estimate.fraction == D(repr(estimate.win_rate_lower)).quantize(
        D("0.000001"), rounding=ROUND_DOWN
    )


def test_without_a_win_there_is_no_edge():
    estimate = kelly_from_trades([-0.02] * 20 + [0.0] * 10)
    assert estimate.fraction == D(0)
    assert (estimate.mean_win, estimate.payoff, estimate.kelly_lower) == (None, None, None)
    assert estimate.mean_loss == pytest.approx(0.02)


def test_a_breakeven_trade_counts_among_the_trades_but_in_neither_mean():
    estimate = kelly_from_trades([0.10] * 15 + [-0.05] * 10 + [0.0] * 5)
    assert (estimate.trades, estimate.wins, estimate.losses) == (30, 15, 10)
    assert estimate.win_rate == 0.5
    assert estimate.mean_win == pytest.approx(0.10) and estimate.mean_loss == pytest.approx(0.05)


def test_pnl_decimals_give_the_payoff_in_money():
    pnls = [D("30")] * 18 + [D("-10")] * 12
    estimate = kelly_from_trades(pnls)
    assert estimate.payoff == pytest.approx(3.0)
    assert estimate.win_rate == 0.6


def test_a_one_sided_95_bound_is_less_cautious_than_the_default():
    trades = [0.10] * 60 + [-0.05] * 40
    one_sided = kelly_from_trades(trades, z=Z_ONE_SIDED_95)
    assert one_sided.win_rate_lower == pytest.approx(wilson_lower(60, 100, Z_ONE_SIDED_95))
    assert one_sided.fraction > kelly_from_trades(trades).fraction


def test_details_are_plain_json_for_why():
    details = kelly_from_trades([0.10] * 60 + [-0.05] * 40, multiplier="0.5", cap="0.1").details()
    assert json.loads(json.dumps(details)) == details
    assert details["fraction"] == "0.100000" and details["capped"] is True
    assert details["cap"] == "0.1" and details["multiplier"] == "0.5"
    assert details["trades"] == 100 and details["wins"] == 60 and details["interval"] == "wilson"
    assert details["win_rate"] == 0.6 and details["z"] == Z_95
    none = kelly_from_trades([]).details()
    assert none["fraction"] is None and none["reason"].startswith("0 closed trades")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_trades": 0},
        {"min_trades": True},
        {"z": 0.0},
        {"z": float("nan")},
        {"multiplier": "0"},
        {"multiplier": "1.5"},
        {"cap": "0"},
        {"cap": "NaN"},
    ],
)
def test_settings_out_of_range_are_refused(kwargs):
    with pytest.raises(ValueError):
        kelly_from_trades([0.1] * 40, **kwargs)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), D("NaN"), "0.1", None, True])
def test_a_trade_result_that_is_not_a_finite_number_is_refused(bad):
    with pytest.raises(ValueError):
        kelly_from_trades([0.1] * 40 + [bad])


def test_the_backtests_wilson_interval_is_this_one():
    assert metrics.wilson_interval is wilson_interval and metrics.Z_95 == Z_95
    assert wilson_interval(9, 10) == pytest.approx((0.59585, 0.98212), abs=1e-5)


def test_kelly_formula():
    assert kelly(0.6, 2.0) == pytest.approx(0.4)
    assert kelly(0.5, 1.0) == 0.0
    assert kelly(0.7, None) == 0.7


trade_results = st.lists(
    st.floats(min_value=-1.0, max_value=5.0, allow_nan=False, allow_subnormal=False),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(
    trade_results,
    st.sampled_from([Z_ONE_SIDED_95, Z_95, 2.5758]),
    st.sampled_from(["1", "0.5", "0.25"]),
    st.sampled_from([None, "0.2", "0.05"]),
)
def test_the_lower_bound_never_bets_more_than_the_point_estimate(results, z, multiplier, cap):
    estimate: KellyEstimate = kelly_from_trades(
        results, min_trades=1, z=z, multiplier=multiplier, cap=cap
    )
    assert estimate.fraction is not None and estimate.fraction >= 0
    assert estimate.win_rate_lower <= estimate.win_rate
    if estimate.kelly_lower is not None:
        assert estimate.kelly_lower <= estimate.kelly_point
        point = D(repr(max(estimate.kelly_point, 0.0))) * D(multiplier)
        assert estimate.fraction <= point
    if cap is not None:
        assert estimate.fraction <= D(cap)
