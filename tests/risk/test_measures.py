"""VaR and CVaR: known answers on hand-made series and portfolios, the parametric figures
against SciPy's normal distribution, and properties (CVaR >= VaR, monotone in confidence, the
order statistic the definition names, no look-ahead after ``as_of``).

Every historical figure below is an order statistic of a series small enough to sort by eye:
the expected numbers are written from the definition (k-th largest loss with
k = floor(n (1 - c)) + 1), not from the code under test.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.codes import Code
from signalops.orders import Mode, OrderIntent, Side
from signalops.risk.measures import (
    Measure,
    Method,
    PriceHistory,
    ProposedOrder,
    TailRiskModel,
    expected_shortfall,
    portfolio_tail_risk,
    tail_risk,
    value_at_risk,
)

D = Decimal
ZERO = Decimal(0)
T0 = datetime(2024, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PROPERTY = settings(max_examples=200, deadline=None)

# 20 daily returns in percent, out of order. Sorted by loss: 8.0, 5.0, 3.0, 2.2, 1.5, 1.0, ...
TWENTY = [
    1.2, -3.0, 0.5, -8.0, 2.1, -1.0, 0.3, -5.0, 1.7, -0.4,
    0.9, -2.2, 3.3, -0.1, 0.0, 1.1, -1.5, 2.6, -0.7, 0.8,
]  # fmt: skip
RETURNS = [r / 100 for r in TWENTY]


def historical(confidence: float, window: int = 250, **kw: int) -> TailRiskModel:
    return TailRiskModel(Method.HISTORICAL, confidence, window, **kw)


def parametric(confidence: float, window: int = 250, **kw: int) -> TailRiskModel:
    return TailRiskModel(Method.PARAMETRIC, confidence, window, **kw)


# --- a return series: historical ----------------------------------------------------------------


def test_historical_95_of_20_returns_is_the_second_worst_loss_and_cvar_the_mean_of_two():
    risk = tail_risk(RETURNS, historical(0.95))
    # k = floor(20 x 0.05) + 1 = 2: VaR the 2nd largest loss (5%), CVaR mean(8%, 5%)
    assert risk.var.fraction == 0.05
    assert risk.cvar.fraction == pytest.approx(0.065, rel=1e-12)
    assert (risk.var.observations, risk.var.required, risk.var.reason) == (20, 20, None)
    assert risk.var.measure is Measure.VAR and risk.cvar.measure is Measure.CVAR


def test_historical_estimate_equals_numpys_inverted_cdf_quantile_of_the_losses():
    losses = -np.array(RETURNS)
    for confidence in (0.9, 0.95):
        expected = np.quantile(losses, confidence, method="inverted_cdf")
        assert value_at_risk(RETURNS, historical(confidence)).fraction == expected


def test_historical_90_of_20_returns_is_the_third_worst_loss():
    risk = tail_risk(RETURNS, historical(0.9))  # k = floor(2) + 1 = 3
    assert risk.var.fraction == 0.03
    assert risk.cvar.fraction == pytest.approx((0.08 + 0.05 + 0.03) / 3, rel=1e-12)
    assert risk.var.required == 10  # ceil(1 / 0.1)


def test_99_percent_of_20_returns_is_too_few_by_default_and_the_worst_loss_when_allowed():
    short = tail_risk(RETURNS, historical(0.99))
    for estimate in (short.var, short.cvar):
        assert (estimate.fraction, estimate.reason) == (None, Code.INSUFFICIENT_HISTORY)
        assert (estimate.observations, estimate.required) == (20, 100)
        assert not estimate.ok
    allowed = tail_risk(RETURNS, historical(0.99, min_observations=20))
    assert allowed.var.fraction == allowed.cvar.fraction == 0.08  # k = floor(0.2) + 1 = 1


def test_window_uses_only_the_last_returns():
    # The last 10: 0.9, -2.2, 3.3, -0.1, 0.0, 1.1, -1.5, 2.6, -0.7, 0.8 (the -8% is outside).
    risk = tail_risk(RETURNS, historical(0.9, window=10))  # k = floor(1) + 1 = 2
    assert risk.var.fraction == 0.015
    assert risk.cvar.fraction == pytest.approx((0.022 + 0.015) / 2, rel=1e-12)
    assert risk.var.observations == 10


def test_window_longer_than_the_series_uses_what_there_is_and_says_how_many():
    assert value_at_risk(RETURNS[:12], historical(0.9, window=250)).observations == 12


def test_historical_horizon_uses_overlapping_compounded_returns():
    # 2-period returns: 0.9 x 1.2 - 1 = 0.08, 1.2 x 0.5 - 1 = -0.4, 0.5 x 1.1 - 1 = -0.45.
    # Losses 0.45, 0.40, -0.08; at 50%: k = floor(3 x 0.5) + 1 = 2.
    risk = tail_risk([-0.1, 0.2, -0.5, 0.1], historical(0.5, horizon=2))
    assert risk.var.observations == 3
    assert risk.var.fraction == pytest.approx(0.40, rel=1e-12)
    assert risk.cvar.fraction == pytest.approx(0.425, rel=1e-12)
    assert risk.var.horizon == 2


def test_horizon_longer_than_the_window_has_no_observation():
    risk = tail_risk(RETURNS, historical(0.5, window=3, horizon=4))
    assert (risk.var.observations, risk.var.reason) == (0, Code.INSUFFICIENT_HISTORY)


def test_a_nan_return_in_the_window_gives_no_estimate_with_a_code():
    risk = tail_risk([0.01, float("nan"), -0.02], historical(0.5))
    assert (risk.var.fraction, risk.var.reason) == (None, Code.NOT_A_NUMBER)
    assert risk.var.exceeds(D("1")) is True  # unknown risk fails a limit


def test_a_var_can_be_negative_when_even_the_tail_is_a_gain():
    assert value_at_risk([0.01, 0.02, 0.03], historical(0.5)).fraction == -0.02


# --- a return series: parametric ---------------------------------------------------------------


def test_parametric_var_and_cvar_from_the_sample_moments():
    returns = [0.01, -0.02, 0.03, 0.0]
    mu, sigma = 0.005, math.sqrt(0.0013 / 3)  # sample std: squared deviations 0.0013, ddof 1
    z = 1.6448536269514722  # the 95% quantile of the standard normal
    phi = math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    risk = tail_risk(returns, parametric(0.95, min_observations=2))
    assert risk.var.fraction == pytest.approx(-mu + sigma * z, rel=1e-12)
    assert risk.cvar.fraction == pytest.approx(-mu + sigma * phi / 0.05, rel=1e-12)
    assert risk.var.fraction == pytest.approx(0.029240, abs=1e-6)


def test_parametric_horizon_scales_the_mean_by_h_and_the_deviation_by_its_root():
    returns = [0.01, -0.02, 0.03, 0.0]
    one = tail_risk(returns, parametric(0.99, min_observations=2))
    four = tail_risk(returns, parametric(0.99, min_observations=2, horizon=4))
    mu, sigma = 0.005, math.sqrt(0.0013 / 3)
    # VaR_h + mu h = (VaR_1 + mu) sqrt(h): the sigma part grows with sqrt(4) = 2
    assert four.var.fraction == pytest.approx((one.var.fraction + mu) * 2 - 4 * mu, rel=1e-12)
    assert four.cvar.fraction == pytest.approx((one.cvar.fraction + mu) * 2 - 4 * mu, rel=1e-12)
    assert four.var.observations == 4  # one-period returns, not h-period ones
    assert sigma > 0


def test_parametric_agrees_with_scipys_normal_distribution():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(7)
    returns = rng.normal(0.001, 0.02, 300)
    mu, sigma = returns.mean(), returns.std(ddof=1)
    for confidence in (0.95, 0.99):
        for h in (1, 10):
            risk = tail_risk(returns, parametric(confidence, window=300, horizon=h))
            loc, scale = mu * h, sigma * math.sqrt(h)
            var = -stats.norm.ppf(1 - confidence, loc=loc, scale=scale)
            cvar = -stats.norm.expect(lambda x: x, loc=loc, scale=scale, ub=-var, conditional=True)
            assert risk.var.fraction == pytest.approx(var, rel=1e-9)
            assert risk.cvar.fraction == pytest.approx(cvar, rel=1e-6)


def test_parametric_needs_two_observations_whatever_the_minimum_says():
    risk = tail_risk([0.01], parametric(0.5, min_observations=1))
    assert (risk.var.reason, risk.var.required) == (Code.INSUFFICIENT_HISTORY, 2)


def test_expected_shortfall_and_value_at_risk_are_the_two_halves_of_tail_risk():
    model = historical(0.95)
    assert value_at_risk(RETURNS, model) == tail_risk(RETURNS, model).var
    assert expected_shortfall(RETURNS, model) == tail_risk(RETURNS, model).cvar
    assert tail_risk(RETURNS, model).of("CVAR") == tail_risk(RETURNS, model).cvar


@pytest.mark.parametrize(
    "kwargs",
    [
        {"confidence": 1.0},
        {"confidence": 0.0},
        {"confidence": "0.95"},
        {"window": 0},
        {"horizon": 0},
        {"window": 2.5},
        {"min_observations": 0},
        {"method": "monte-carlo"},
    ],
)
def test_a_model_out_of_range_is_refused(kwargs):
    with pytest.raises(ValueError):
        TailRiskModel(**kwargs)


# --- details and the limit ---------------------------------------------------------------------


def test_details_are_plain_json_with_the_figures_a_check_records():
    details = value_at_risk(RETURNS, historical(0.95, window=20)).details()
    assert details == {
        "actual": "0.050000",
        "unit": "fraction of value (return)",
        "measure": "VAR",
        "method": "historical",
        "confidence": 0.95,
        "window": 20,
        "horizon": 1,
        "observations": 20,
        "required": 20,
    }
    assert json.loads(json.dumps(details)) == details


def test_details_of_a_missing_estimate_carry_the_code_and_why():
    details = value_at_risk(RETURNS, historical(0.99)).details()
    assert details["actual"] is None
    assert details["error"] == "INSUFFICIENT_HISTORY"
    assert details["note"] == "20 observations, fewer than the 100 needed"
    json.dumps(details)


def test_shown_actual_is_rounded_up_and_exceeds_compares_the_exact_fraction():
    cvar = expected_shortfall(RETURNS, historical(0.9))  # 0.16 / 3 = 0.05333...
    assert cvar.details()["actual"] == "0.053334"
    assert cvar.exceeds(D("0.053333")) and not cvar.exceeds(D("0.053334"))
    var = value_at_risk(RETURNS, historical(0.95))  # 0.05 exactly
    assert not var.exceeds(D("0.05")) and var.exceeds(D("0.049999"))


# --- properties --------------------------------------------------------------------------------

returns_lists = st.lists(
    st.floats(min_value=-0.5, max_value=0.5, allow_nan=False, allow_subnormal=False),
    min_size=2,
    max_size=60,
)
confidences = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995])
methods = st.sampled_from(list(Method))


@PROPERTY
@given(returns_lists, confidences, methods, st.integers(1, 5))
def test_cvar_is_at_least_var(returns, confidence, method, horizon):
    model = TailRiskModel(method, confidence, 250, horizon, min_observations=1)
    risk = tail_risk(returns, model)
    if risk.var.ok:
        assert risk.cvar.fraction >= risk.var.fraction - 1e-12 * (1 + abs(risk.var.fraction))


@PROPERTY
@given(returns_lists, confidences, confidences, methods)
def test_var_and_cvar_grow_with_the_confidence(returns, a, b, method):
    low, high = sorted((a, b))
    first = tail_risk(returns, TailRiskModel(method, low, 250, min_observations=1))
    second = tail_risk(returns, TailRiskModel(method, high, 250, min_observations=1))
    slack = 1e-12 * (1 + abs(first.cvar.fraction))
    assert first.var.fraction <= second.var.fraction + slack
    assert first.cvar.fraction <= second.cvar.fraction + slack


@PROPERTY
@given(returns_lists, confidences)
def test_historical_var_is_the_smallest_loss_with_at_least_c_of_the_losses_at_or_below(
    returns, confidence
):
    losses = sorted(-r for r in returns)
    n = len(losses)
    # the c-quantile by the empirical distribution function, in exact arithmetic
    rank = math.ceil(n * Fraction(str(confidence)))
    risk = tail_risk(returns, TailRiskModel(Method.HISTORICAL, confidence, 250, min_observations=1))
    assert risk.var.fraction == losses[rank - 1]
    assert risk.cvar.fraction == pytest.approx(sum(losses[rank - 1 :]) / (n - rank + 1))


# --- a portfolio after a proposed order ----------------------------------------------------------

# Five daily returns of two assets, written as prices: A +10%, -20%, +5%, -10%, 0%;
# B -10%, 0%, -30%, +10%, +20%.
A_PRICES = [100, 110, 88, 92.4, 83.16, 83.16]
B_PRICES = [200, 180, 180, 126, 138.6, 166.32]
TIMES = [T0 + i * DAY for i in range(6)]
AS_OF = TIMES[-1]


def history(prices, times=TIMES):
    return PriceHistory.of(zip(times, prices, strict=True))


HISTORY = {"A": history(A_PRICES), "B": history(B_PRICES)}
MODEL = historical(0.8, window=5)  # k = floor(5 x 0.2) + 1 = 2 of 5 scenarios; required 5


def risk_of(order=None, *, holdings=None, cash=ZERO, model=MODEL, history=HISTORY, as_of=AS_OF):
    return portfolio_tail_risk(
        model,
        holdings={"A": D(10), "B": D(5)} if holdings is None else holdings,
        prices={"A": D(100), "B": D(200)},
        cash=cash,
        history=history,
        as_of=as_of,
        order=order,
    )


def test_portfolio_of_two_equal_positions_known_answer():
    # Equity 2,000 = 10 A at 100 + 5 B at 200, weights 1/2 each: portfolio returns
    # 0, -10%, -12.5%, 0, +10%; losses sorted 12.5%, 10%, ...: VaR 10% = 200, CVaR 11.25% = 225.
    risk = risk_of()
    assert risk.var.fraction == pytest.approx(0.10, rel=1e-9)
    assert risk.cvar.fraction == pytest.approx(0.1125, rel=1e-9)
    assert risk.var.equity == D(2000)
    assert risk.var.value == pytest.approx(D(200), abs=D("0.0000001"))
    assert risk.cvar.value == pytest.approx(D(225), abs=D("0.0000001"))
    assert risk.var.observations == 5 and risk.var.ok


def test_a_buy_adds_its_risk_to_the_portfolio_before_it_fills():
    # 1,000 of cash: before the order weights 1/3, 1/3 and cash; returns (rA + rB) / 3.
    before = risk_of(cash=D(1000))
    assert before.var.fraction == pytest.approx(0.2 / 3, rel=1e-9)  # losses .25/3, .2/3, ...
    assert before.cvar.fraction == pytest.approx(0.075, rel=1e-9)
    assert before.cvar.value == pytest.approx(D(225), abs=D("0.0000001"))
    # BUY 5 B at 200 spends the cash: weights 1/3 A, 2/3 B; returns (rA + 2 rB) / 3, losses
    # 0.55/3, 0.2/3, 0.1/3, ...: VaR 0.2/3 (200 of 3,000), CVaR 0.75/6 = 12.5% (375).
    after = risk_of(ProposedOrder("B", Side.BUY, D(5), D(200)), cash=D(1000))
    assert after.var.equity == D(3000)
    assert after.var.fraction == pytest.approx(0.2 / 3, rel=1e-9)
    assert after.cvar.fraction == pytest.approx(0.125, rel=1e-9)
    assert after.cvar.value == pytest.approx(D(375), abs=D("0.0000001"))


def test_a_sell_that_closes_a_position_leaves_only_the_other_assets_risk():
    # SELL all 10 A at 100: 1,000 cash and 1,000 of B; returns rB / 2, losses 15%, 5%, 0, ...
    risk = risk_of(ProposedOrder("A", Side.SELL, D(10), D(100)))
    assert risk.var.fraction == pytest.approx(0.05, rel=1e-9)
    assert risk.cvar.fraction == pytest.approx(0.10, rel=1e-9)


def test_a_fully_invested_single_asset_has_the_assets_own_var():
    order = ProposedOrder("A", Side.BUY, D(10), D(100))
    risk = risk_of(order, holdings={}, cash=D(1000), model=historical(0.8, window=5))
    prices = np.array(A_PRICES)
    own = tail_risk(prices[1:] / prices[:-1] - 1, historical(0.8, window=5))
    assert (risk.var.fraction, risk.cvar.fraction) == (own.var.fraction, own.cvar.fraction)
    assert risk.var.equity == D(1000)


def test_the_ordered_asset_is_valued_at_the_orders_price():
    order = ProposedOrder("A", Side.BUY, D(10), D(50))  # 500 of A, although prices say 100
    risk = risk_of(order, holdings={}, cash=D(500))
    assert risk.var.equity == D(500)
    assert risk.var.value == (risk.var.equity * D(repr(risk.var.fraction))).quantize(
        D("0.00000001"), rounding=ROUND_CEILING
    )


def test_all_cash_has_no_market_risk_and_needs_no_history():
    risk = risk_of(holdings={}, cash=D(500), history={})
    assert (risk.var.fraction, risk.cvar.fraction, risk.var.value) == (0.0, 0.0, D(0))
    assert risk.var.ok


def test_parametric_portfolio_equals_the_gaussian_of_its_weighted_returns():
    model = parametric(0.95, window=5, min_observations=2)
    risk = risk_of(model=model)
    weighted = [0.0, -0.10, -0.125, 0.0, 0.10]
    own = tail_risk(weighted, model)
    assert risk.var.fraction == pytest.approx(own.var.fraction, rel=1e-9)
    assert risk.cvar.fraction == pytest.approx(own.cvar.fraction, rel=1e-9)
    # and the covariance form w' S w gives the same deviation
    a = np.diff(A_PRICES) / A_PRICES[:-1]
    b = np.diff(B_PRICES) / B_PRICES[:-1]
    w = np.array([0.5, 0.5])
    sigma = math.sqrt(w @ np.cov(np.vstack([a, b]), ddof=1) @ w)
    z = 1.6448536269514722
    assert risk.var.fraction == pytest.approx(-np.mean(weighted) + sigma * z, rel=1e-9)


def test_portfolio_horizon_uses_overlapping_price_ratios():
    # 2-day returns of the 50/50 portfolio: A 88/100, 92.4/110, 83.16/88, 83.16/92.4 and B
    # 180/200, 126/180, 138.6/180, 166.32/126, each minus 1, averaged.
    model = historical(0.5, window=5, horizon=2)
    risk = risk_of(model=model)
    a = [88 / 100, 92.4 / 110, 83.16 / 88, 83.16 / 92.4]
    b = [180 / 200, 126 / 180, 138.6 / 180, 166.32 / 126]
    losses = sorted((-(x - 1) / 2 - (y - 1) / 2 for x, y in zip(a, b, strict=True)), reverse=True)
    assert risk.var.observations == 4
    assert risk.var.fraction == pytest.approx(losses[2], rel=1e-9)  # k = floor(2) + 1 = 3
    assert risk.cvar.fraction == pytest.approx(sum(losses[:3]) / 3, rel=1e-9)


def test_only_history_at_or_before_as_of_is_used():
    risk = risk_of(model=historical(0.5, window=5), as_of=TIMES[3])  # prices 0..3: 3 returns
    assert risk.var.observations == 3
    # returns to TIMES[3]: portfolio 0, -10%, -12.5%; k = floor(1.5) + 1 = 2 -> 10%
    assert risk.var.fraction == pytest.approx(0.10, rel=1e-9)
    assert risk.cvar.fraction == pytest.approx(0.1125, rel=1e-9)


@PROPERTY
@given(
    st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=10),
    st.lists(st.floats(1.0, 1000.0), min_size=1, max_size=10),
    st.sampled_from(list(Method)),
)
def test_prices_after_as_of_change_nothing(later_a, later_b, method):
    model = TailRiskModel(method, 0.8, 5, min_observations=2)
    known = risk_of(model=model, as_of=TIMES[4])
    future_a = [T0 + (5 + i) * DAY for i in range(len(later_a))]
    future_b = [T0 + (5 + i) * DAY + timedelta(hours=1) for i in range(len(later_b))]
    extended = {
        "A": history(A_PRICES[:5] + later_a, TIMES[:5] + future_a),
        "B": history(B_PRICES[:5] + later_b, TIMES[:5] + future_b),
    }
    assert risk_of(model=model, history=extended, as_of=TIMES[4]) == known


def test_times_one_asset_lacks_are_left_out_for_both():
    # B has no price at TIMES[2]: the common calendar is 0, 1, 3, 4, 5 (4 returns; the one
    # from TIMES[1] to TIMES[3] spans two days).
    gappy = {
        "A": HISTORY["A"],
        "B": history([p for i, p in enumerate(B_PRICES) if i != 2], TIMES[:2] + TIMES[3:]),
    }
    risk = risk_of(model=historical(0.5, window=5), history=gappy)
    assert risk.var.observations == 4
    a = [110 / 100, 92.4 / 110, 83.16 / 92.4, 1.0]
    b = [180 / 200, 126 / 180, 138.6 / 126, 166.32 / 138.6]
    losses = sorted((-(x - 1) / 2 - (y - 1) / 2 for x, y in zip(a, b, strict=True)), reverse=True)
    assert risk.var.fraction == pytest.approx(losses[2], rel=1e-9)  # k = floor(2) + 1 = 3


def test_a_long_common_calendar_behind_a_ragged_tail_is_found():
    # A trades hourly, B daily: the daily times are the common calendar, far behind A's tail.
    hours = [T0 + i * timedelta(hours=1) for i in range(24 * 30 + 1)]
    a_prices = [100 + (i % 7) for i in range(len(hours))]
    days = hours[::24]
    b_prices = [200 + (i % 5) for i in range(len(days))]
    risk = risk_of(
        model=historical(0.95, window=25),
        history={"A": history(a_prices, hours), "B": history(b_prices, days)},
        as_of=hours[-1],
    )
    assert risk.var.observations == 25 and risk.var.ok


def test_too_little_history_fails_with_insufficient_history_and_the_counts():
    risk = risk_of(model=historical(0.95, window=250))
    assert (risk.var.reason, risk.var.observations, risk.var.required) == (
        Code.INSUFFICIENT_HISTORY,
        5,
        20,
    )
    details = risk.cvar.details()
    assert details["error"] == "INSUFFICIENT_HISTORY" and details["actual"] is None
    assert details["unit"] == "fraction of equity" and details["equity"] == "2000"
    assert risk.cvar.exceeds(D("0.99"))


def test_a_held_asset_without_history_or_price_is_named():
    missing = risk_of(history={"A": HISTORY["A"]})
    assert (missing.var.reason, missing.var.note) == (Code.MISSING, "no price history for B")
    unpriced = portfolio_tail_risk(
        MODEL,
        holdings={"A": D(1), "C": D(2)},
        prices={"A": D(100)},
        cash=D(0),
        history=HISTORY,
        as_of=AS_OF,
    )
    assert (unpriced.var.reason, unpriced.var.note) == (Code.NO_PRICE, "no usable price for C")
    assert unpriced.var.details()["unit"] == "fraction of equity"


def test_unusable_portfolio_figures_fail_with_a_code_instead_of_raising():
    nan = risk_of(holdings={"A": D("NaN")})
    assert nan.var.reason is Code.PORTFOLIO_UNVALUED
    broke = risk_of(holdings={"A": D(1)}, cash=D(-1000))
    assert broke.var.reason is Code.NOT_COMPUTABLE
    bad = {"A": history([100, 110, 0, 92.4, 83.16, 83.16]), "B": HISTORY["B"]}
    assert risk_of(history=bad).var.reason is Code.BAD_DATA


def test_proposed_order_from_an_intent_and_its_checks():
    intent = OrderIntent(
        "dec-1", "so-1", "s", "BTC", Side.SELL, D("0.5"), D("60000"), D("30000"), T0, Mode.PAPER
    )
    order = ProposedOrder.of(intent)
    assert (order.asset, order.side, order.quantity, order.price) == (
        "BTC",
        Side.SELL,
        D("0.5"),
        D("60000"),
    )
    assert order.signed_quantity == D("-0.5")
    with pytest.raises(ValueError):
        ProposedOrder("BTC", Side.BUY, D(1), D(0))
    with pytest.raises(ValueError):
        ProposedOrder("BTC", Side.BUY, D(-1), D(1))


def test_price_history_refuses_times_out_of_order():
    with pytest.raises(ValueError):
        PriceHistory.of([(T0 + DAY, 1.0), (T0, 2.0)])
    with pytest.raises(ValueError):
        PriceHistory(np.array([1.0, 2.0]), np.array([1.0]))
