"""The metrics beyond the summary: against a benchmark (alpha, beta, tracking error,
information ratio), per trade (profit factor, expectancy), Calmar, turnover, monthly returns
and the run's tail risk, on series small enough to compute by hand.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalops.backtest.formatting import profit_factor
from signalops.backtest.ledger import EquityPoint, Leg, Trade
from signalops.backtest.metrics import (
    TAIL_MODELS,
    ExtendedMetrics,
    as_of_values,
    calmar,
    calmar_gap,
    extended_metrics,
    monthly_returns,
    period_returns,
    relative,
    summarize,
    trade_stats,
    traded_notional,
    turnover,
)
from signalops.codes import Code
from signalops.orders import Side

D = Decimal
DAY = timedelta(days=1)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- against a benchmark -----------------------------------------------------------------------


def test_alpha_beta_tracking_error_and_information_ratio_by_hand():
    r = [0.02, -0.01, 0.03, 0.0]
    b = [0.01, -0.01, 0.02, 0.0]
    # means 0.01 and 0.005; deviations r: .01 -.02 .02 -.01, b: .005 -.015 .015 -.005
    # cov = 0.0007 / 3, var(b) = 0.0005 / 3: beta 1.4; alpha 0.01 - 1.4 x 0.005 = 0.003 a day
    # active r - b: .01 0 .01 0, mean .005, sample std sqrt(0.0001 / 3)
    rel = relative(r, b, 365)
    assert rel.beta == pytest.approx(1.4, rel=1e-12)
    assert rel.alpha == pytest.approx(0.003 * 365, rel=1e-9)
    std = math.sqrt(0.0001 / 3)
    assert rel.tracking_error == pytest.approx(std * math.sqrt(365), rel=1e-12)
    assert rel.information_ratio == pytest.approx(0.005 / std * math.sqrt(365), rel=1e-12)
    assert rel.periods == 4


def test_beta_agrees_with_a_least_squares_fit():
    rng = np.random.default_rng(3)
    b = rng.normal(0.0005, 0.01, 200)
    r = 0.0002 + 1.3 * b + rng.normal(0, 0.003, 200)
    slope, intercept = np.polyfit(b, r, 1)
    rel = relative(r, b, 365)
    assert rel.beta == pytest.approx(slope, rel=1e-9)
    assert rel.alpha == pytest.approx(intercept * 365, rel=1e-6)


def test_a_risk_free_rate_moves_alpha_by_one_minus_beta_times_the_rate():
    r = [0.02, -0.01, 0.03, 0.0]
    b = [0.01, -0.01, 0.02, 0.0]
    rf = 1.05 ** (1 / 365) - 1
    with_rate = relative(r, b, 365, risk_free=0.05)
    assert with_rate.beta == pytest.approx(1.4, rel=1e-9)
    # mean(r - rf) - beta mean(b - rf) = 0.003 + (beta - 1) rf
    assert with_rate.alpha == pytest.approx((0.003 + 0.4 * rf) * 365, rel=1e-9)
    assert with_rate.tracking_error == relative(r, b, 365).tracking_error


def test_the_benchmark_itself_has_beta_one_alpha_zero_and_no_tracking_error():
    r = [0.01, -0.02, 0.005, 0.03]
    rel = relative(r, r, 365)
    assert rel.beta == pytest.approx(1.0) and rel.alpha == pytest.approx(0.0, abs=1e-15)
    assert (rel.tracking_error, rel.information_ratio) == (None, None)


def test_a_flat_benchmark_or_a_single_period_leaves_figures_undefined():
    flat = relative([0.01, -0.02, 0.03], [0.0, 0.0, 0.0], 365)
    assert (flat.beta, flat.alpha) == (None, None)
    assert flat.tracking_error is not None  # r - 0 still varies
    assert relative([0.01], [0.02], 365) == relative([0.01], [0.02], 365)
    assert relative([0.01], [0.02], 365).beta is None
    with pytest.raises(ValueError):
        relative([0.01, 0.02], [0.01], 365)


def test_as_of_values_take_the_last_value_at_or_before_each_time():
    series_times = [utc("2024-01-01"), utc("2024-01-03"), utc("2024-01-04")]
    times = [utc("2024-01-01"), utc("2024-01-02"), utc("2024-01-03"), utc("2024-01-05")]
    got = as_of_values(times, series_times, [10.0, 30.0, 40.0])
    assert got.tolist() == [10.0, 10.0, 30.0, 40.0]
    with pytest.raises(ValueError):
        as_of_values([utc("2023-12-31")], series_times, [10.0, 30.0, 40.0])


# --- per trade ---------------------------------------------------------------------------------


def trade(asset: str, buy: str, sell: str | None, quantity: str = "1", fee: str = "0") -> Trade:
    at = T0
    entry = Leg("dec-in", at, asset, Side.BUY, D(quantity), D(buy), D(fee), at)
    if sell is None:
        return Trade(asset, (entry,), (), closed=False)
    out = Leg("dec-out", at + DAY, asset, Side.SELL, D(quantity), D(sell), D(fee), at + DAY)
    return Trade(asset, (entry,), (out,), closed=True)


TRADES = (
    trade("BTC", "100", "110"),  # +10, +10%
    trade("BTC", "100", "95"),  # -5, -5%
    trade("ETH", "50", "52.5", quantity="2"),  # +5, +5%
    trade("ETH", "60", None),  # open: no PnL yet
)


def test_profit_factor_and_expectancy_of_closed_trades():
    stats = trade_stats(TRADES)
    assert (stats.trades, stats.gross_profit, stats.gross_loss) == (3, D("15.0"), D(5))
    assert stats.profit_factor == 3.0
    assert stats.expectancy == D(10) / 3
    assert stats.expectancy_return == pytest.approx((0.10 - 0.05 + 0.05) / 3)
    json.dumps(stats.to_dict())


def test_no_losing_trade_leaves_the_profit_factor_undefined_and_no_trade_everything():
    won = trade_stats(TRADES[:1])
    assert won.profit_factor is None
    empty = trade_stats(())
    assert (empty.trades, empty.profit_factor, empty.expectancy) == (0, None, None)
    # Shown: a run whose trades all won has an infinite factor, one without a trade none.
    assert profit_factor(won.profit_factor, won.gross_profit) == "∞ (no losing trade)"
    assert profit_factor(empty.profit_factor, empty.gross_profit) == "—"
    assert profit_factor(None, "0") == "—"  # trades that neither gained nor lost
    assert profit_factor(3.0, "15") == "3.00"
    json.dumps(won.to_dict(), allow_nan=False)


def test_calmar_and_its_zero_drawdown_case():
    year = 365 * DAY
    assert calmar(0.2, -0.1, year) == pytest.approx(2.0)
    assert calmar(-0.1, -0.25, year) == pytest.approx(-0.4)
    assert calmar(0.2, 0.0, year) is None  # never fell: unbounded, not a number
    assert calmar(None, -0.1, year) is None
    assert calmar(0.2, -0.1, 364 * DAY) is None  # under a year its CAGR extrapolates


def test_a_missing_calmar_says_why_and_a_figure_has_no_reason():
    year = 365 * DAY
    assert calmar_gap(0.2, -0.1, year) is None
    assert calmar_gap(0.2, 0.0, year) == "no drawdown"
    assert calmar_gap(None, -0.1, year) == "no annual rate"
    assert calmar_gap(0.2, -0.1, 364 * DAY) == "under a year"
    assert calmar_gap(0.2, 0.0, 21 * DAY) == "under a year"  # the first reason a trader can act on


def test_a_runs_calmar_needs_a_year_from_its_first_point_to_its_last():
    """+10% over 365 days with a 5% fall: a CAGR of 10% and a Calmar of 2. Over 21 days the same
    curve's CAGR is +424% a year (1.1 ** (365 / 21) - 1), which no Calmar is made of."""

    def over(days: int) -> ExtendedMetrics:
        values = [100.0, 95.0] + [95.0] * (days - 2) + [110.0]
        points = [EquityPoint(T0 + i * DAY, D(str(v)), D(0), True) for i, v in enumerate(values)]
        return extended_metrics(summarize(points, (), D(0), DAY), points, ())

    assert over(365).calmar == pytest.approx(0.10 / 0.05)
    assert over(364).calmar is None
    assert over(21).calmar is None


def test_turnover_counts_both_sides_over_mean_equity_per_year():
    # 110 + 100 + 95 + 100 + 105 + 100 + 60 = 670 of fills
    assert traded_notional(TRADES) == D("670.0")
    assert turnover(D(2000), [1000, 1000, 1000], timedelta(days=365)) == 2.0
    assert turnover(D(2000), [900, 1100], timedelta(days=730)) == 1.0
    assert turnover(D(2000), [1000], timedelta(0)) is None
    assert turnover(D(10), [0, 0], timedelta(days=1)) is None


# --- monthly returns ---------------------------------------------------------------------------


def test_monthly_returns_close_a_month_at_midnight_on_the_first():
    times = [
        utc("2023-12-31"),  # the start: 100
        utc("2024-01-01"),  # the close of Dec 31: 101
        utc("2024-01-15"),
        utc("2024-02-01"),  # January's close: 110
        utc("2024-03-10"),  # no February mark: March's return spans it, 99
        utc("2025-01-01"),  # the close of 2024: 121
        utc("2025-01-02"),  # 120
    ]
    values = [100, 101, 105, 110, 99, 121, 120]
    table = monthly_returns(times, values)
    years = {row.year: row for row in table.years}
    assert list(years) == [2023, 2024, 2025]
    assert years[2023].months[11] == pytest.approx(0.01)
    assert years[2023].total == pytest.approx(0.01)
    jan, feb, mar, *_, dec = years[2024].months
    assert jan == pytest.approx(110 / 101 - 1)
    assert feb is None
    assert mar == pytest.approx(99 / 110 - 1)
    assert dec == pytest.approx(121 / 99 - 1)
    assert years[2024].months[3:11] == (None,) * 8
    assert years[2024].total == pytest.approx(121 / 101 - 1)
    assert years[2025].months[0] == pytest.approx(120 / 121 - 1)
    assert years[2025].total == pytest.approx(120 / 121 - 1)
    assert json.loads(json.dumps(table.to_dict()))["2024"]["year"] == pytest.approx(0.198019801)


def test_a_curve_of_one_point_has_no_month_and_times_out_of_order_are_refused():
    assert monthly_returns([T0], [100]).years == ()
    with pytest.raises(ValueError):
        monthly_returns([T0, T0 - DAY], [100, 101])
    with pytest.raises(ValueError):
        monthly_returns([T0], [100, 101])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(1, 20 * 24), min_size=1, max_size=80),
    st.lists(st.floats(0.5, 1.5), min_size=80, max_size=80),
)
def test_each_year_compounds_its_months_and_the_years_compound_the_curve(steps, growth):
    times, values = [T0], [1000.0]
    for step, g in zip(steps, growth, strict=False):
        times.append(times[-1] + timedelta(hours=step))
        values.append(values[-1] * g)
    table = monthly_returns(times, values)
    for row in table.years:
        months = math.prod(1 + m for m in row.months if m is not None)
        assert months - 1 == pytest.approx(row.total, rel=1e-9, abs=1e-12)
    whole = math.prod(1 + row.total for row in table.years)
    assert whole == pytest.approx(values[-1] / values[0], rel=1e-9)


# --- all of them for one curve -----------------------------------------------------------------


def curve(values: list[float], held: list[bool] | None = None) -> list[EquityPoint]:
    held = held or [False] + [True] * (len(values) - 1)
    return [
        EquityPoint(T0 + i * DAY, D(str(v)), D(0), h)
        for i, (v, h) in enumerate(zip(values, held, strict=True))
    ]


def test_extended_metrics_of_a_small_curve_against_a_benchmark():
    points = curve([100, 102, 100.98, 104.0094, 104.0094])  # +2%, -1%, +3%, 0
    benchmark = [100, 101, 99.99, 101.9898, 101.9898]  # +1%, -1%, +2%, 0
    metrics = summarize(points, TRADES, D(0), DAY)
    ext = extended_metrics(metrics, points, TRADES, benchmark=benchmark)
    assert ext.relative is not None
    assert ext.relative.beta == pytest.approx(1.4, rel=1e-6)
    assert ext.calmar is None  # four days: under a year
    assert ext.exposure == metrics.exposure == 1.0
    assert ext.traded == D("670.0")
    mean_equity = (100 + 102 + 100.98 + 104.0094 + 104.0094) / 5
    assert ext.turnover == pytest.approx(670 / mean_equity / (4 / 365))
    assert ext.trades.profit_factor == 3.0
    assert ext.monthly.years[0].months[0] == pytest.approx(0.040094)
    assert [(r.var.method, r.var.confidence) for r in ext.tail_risk] == list(TAIL_MODELS)
    assert all(r.var.reason is Code.INSUFFICIENT_HISTORY for r in ext.tail_risk)
    data = json.loads(json.dumps(ext.to_dict()))
    assert data["relative"]["beta"] == pytest.approx(1.4, rel=1e-6)
    assert data["tail_risk"][0]["error"] == "INSUFFICIENT_HISTORY"


def test_extended_metrics_tail_risk_over_the_runs_returns():
    rng = np.random.default_rng(11)
    values = list(1000 * np.cumprod(1 + rng.normal(0, 0.01, 120)))
    points = curve([1000.0, *values])
    metrics = summarize(points, (), D(0), DAY)
    ext = extended_metrics(metrics, points, ())
    assert ext.relative is None
    returns = period_returns([float(p.equity) for p in points])
    historical_95 = ext.tail_risk[0]
    losses = np.sort(-returns)[::-1]
    assert historical_95.var.fraction == losses[math.floor(120 * 0.05)]  # the 7th largest
    assert historical_95.var.observations == 120
    historical_99 = ext.tail_risk[1]  # 120 returns: enough for 99% (100 needed)
    assert historical_99.var.fraction == losses[math.floor(120 * 0.01)]  # the 2nd largest
    parametric_95 = ext.tail_risk[2]
    assert parametric_95.var.method == "parametric" and parametric_95.var.ok
