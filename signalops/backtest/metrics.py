"""Performance metrics of an equity curve and its trades, each defined once, here.

Definitions (the report and ``metrics.json`` state the parameters they were computed with):

- period returns ``r_i = E_i / E_{i-1} - 1`` between consecutive points of the equity curve; the
  curve starts with the starting cash at the first decision time and has one point per period
  after it (the portfolio marked at the close that ends the period);
- total return ``E_last / E_first - 1``;
- CAGR ``(E_last / E_first) ** (1 / years) - 1`` with ``years`` = elapsed time / 365 days
  (crypto trades every day of the year); undefined for an empty period;
- max drawdown: the deepest fall ``E / running peak - 1`` (a number <= 0), with the mark of that
  peak, of the trough, and of the recovery (None if it never recovered). The peak is where the
  fall began: the last point at the running high before the trough (pyfolio's convention), not
  the first to reach it, so a curve flat at its high for weeks that falls in a day fell for a
  day; the recovery is the first point after the trough back at that high. They are dated as
  the closes they hold (``Drawdown.dates``): when every mark of the curve is at 00:00 UTC
  (daily periods, stock sessions), a mark is dated by the day that ended at it, the instant
  before it (a daily candle closing at 2020-02-20 00:00 is the 02-19 candle; a stock's 02-19
  session, closed at 21:00 UTC, is marked at 02-20 00:00), as monthly returns date them; the
  starting cash, which holds no close, by the day of the first decision time it is marked at
  (the run's first day; it is the peak only when no later point before the trough is back at
  it). Marks at other times (hourly periods) are dated by their own time, the close they hold
  being at or before it;
- Sharpe ``mean(x) / std(x) * sqrt(B)`` and Sortino ``mean(x) / downside(x) * sqrt(B)``, where
  ``x = r - rf`` are excess returns over the risk-free rate per period
  (``rf = (1 + annual rate) ** (1 / B) - 1``, default annual rate 0), ``std`` is the sample
  standard deviation (ddof 1), ``downside = sqrt(mean(min(x, 0) ** 2))`` over *all* periods, and
  ``B`` = periods per year = 365 days / period length (365 for daily bars, 8760 for hourly;
  for stocks, 252 sessions a year for as many periods as sessions opened: 252 deciding daily);
  undefined (None) when the denominator is zero or there are fewer than two periods;
- win rate: winning round trips (pnl > 0) / closed round trips, with the Wilson score 95%
  interval and an exact two-sided binomial test against 50% (the p-value sums the probabilities
  of every outcome no more likely than the one observed, as R's ``binom.test`` does);
- exposure: the fraction of periods during which a position was held;
- fees: every fee paid, in the quote currency.

Beyond the summary (``extended_metrics``; statistics in float, money in Decimal):

- against a benchmark valued at the curve's own times (period returns ``b``; excess returns
  ``x = r - rf`` and ``y = b - rf``): beta ``cov(x, y) / var(y)`` (both ddof 1); alpha, Jensen's
  per-period intercept ``a = mean(x) - beta mean(y)`` annualised arithmetically, ``a B`` (as the
  Sharpe ratio annualises a mean); tracking error ``std(r - b) * sqrt(B)`` (ddof 1);
  information ratio ``mean(r - b) / std(r - b) * sqrt(B)``. Each None when its denominator is
  zero or there are fewer than two periods. Sums here are ``math.fsum``;
- per closed round trip: profit factor (gross profit / gross loss; None without a losing
  trade), expectancy (mean PnL in the quote currency, and mean return);
- Calmar ``CAGR / |max drawdown|``; None when the CAGR is undefined, the run is shorter than a
  year (``ANNUALISED_FROM``: its CAGR would extrapolate, not average, what was earned) or the
  curve never fell (a zero drawdown makes the ratio unbounded, not large);
- turnover, annualised: the notional of every fill, buys and sells both, over the mean equity
  of the curve's points, per year (365 days): trading the whole equity in and out once a year
  is 2;
- monthly returns (UTC months; a mark at 00:00 on the 1st closes the month before) and each
  year's compounded total;
- VaR and CVaR of one period over the run's period returns (``signalops.risk.measures``),
  historical and parametric at 95% and 99%.

The curves can be long (a sweep marks 43,800 hourly points per combination), so returns,
drawdown and Sharpe run in numpy, computed exactly as the plain Python definitions would be:
the same IEEE operations in the same order (sums left to right, squares by the C library's
``pow`` as Python's ``x ** 2``), so every result is the same to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import islice, pairwise, repeat
from operator import attrgetter
from typing import Any

import numpy as np

from signalops.backtest.ledger import EquityPoint, Trade
from signalops.canonical import iso

# The Wilson score interval (and its z) is defined once, beside the Kelly sizing that also uses
# it; imported here under the names this module has always had.
from signalops.risk.kelly import Z_95 as Z_95
from signalops.risk.kelly import wilson_interval as wilson_interval
from signalops.risk.measures import Method, TailRisk, TailRiskModel, tail_risk

YEAR = timedelta(days=365)
# The shortest run whose return a ratio annualises (Calmar; walk-forward's Calmar objective too).
# Over a year or more the annual rate is the geometric mean of what was earned; under a year it
# extrapolates ((1 + r) ** (365 days / elapsed)): +10% in three weeks is +424% a year, and a
# ratio of it ranks a few weeks' luck. GIPS forbids annualising under a year for that reason.
ANNUALISED_FROM = YEAR
_INSTANT = timedelta(microseconds=1)
# Outcomes whose probability is within this relative distance of the observed one count as "as
# likely" (floating point would otherwise split ties); the tolerance R and SciPy use.
_TIE = 1 + 1e-7


# --- the arithmetic ------------------------------------------------------------------------------


Curve = Sequence[float] | np.ndarray


def period_returns(values: Curve) -> np.ndarray:
    """``r_i = E_i / E_{i-1} - 1`` (float64); a zero equity raises, as Python's division does."""
    curve = np.asarray(values, dtype=np.float64)
    if len(curve) > 1 and not curve[:-1].all():
        raise ZeroDivisionError("float division by zero")
    with np.errstate(all="ignore"):  # inf / inf is NaN without a word, as in Python
        return curve[1:] / curve[:-1] - 1


def total_return(values: Curve) -> float:
    return float(values[-1]) / float(values[0]) - 1


def cagr(first: float, last: float, elapsed: timedelta) -> float | None:
    years = elapsed / YEAR
    if years <= 0 or first <= 0 or last < 0:
        return None
    return (last / first) ** (1 / years) - 1


def periods_per_year(period: timedelta) -> float:
    return YEAR / period


def per_period_rate(annual: float, per_year: float) -> float:
    return (1 + annual) ** (1 / per_year) - 1


@dataclass(frozen=True)
class Drawdown:
    """The deepest fall; ``peak``, ``trough`` and ``recovered`` are the curve's marks (the
    moments its equity was valued at), ``dates`` what they are dated as (see the module)."""

    depth: float  # <= 0: the deepest fall from a running peak
    peak: datetime | None = None
    trough: datetime | None = None
    recovered: datetime | None = None
    daily: bool = False  # every mark of the curve at 00:00 UTC: dated by the day ending there
    from_start: bool = False  # the peak is the curve's first point (the starting cash)

    def dates(self) -> tuple[date | datetime | None, ...]:
        """(peak, trough, recovered) as dated for people: days, or times for intraday marks."""
        peak = dated_mark(self.peak, self.daily, start=self.from_start)
        return peak, dated_mark(self.trough, self.daily), dated_mark(self.recovered, self.daily)

    def to_dict(self) -> dict[str, Any]:
        peak, trough, recovered = map(_dated_text, self.dates())
        return {"depth": self.depth, "peak": peak, "trough": trough, "recovered": recovered}


def dated_mark(
    mark: datetime | None, daily: bool, *, start: bool = False
) -> date | datetime | None:
    """The day whose closes a daily mark holds: the day that ended at it (``start``: the
    starting cash, which holds none, the day it starts); an intraday mark is its own time.
    The report's charts draw each point of a curve where this dates it."""
    if mark is None or not daily:
        return mark
    return _utc(mark).date() if start else (_utc(mark) - _INSTANT).date()


def _dated_text(when: date | datetime | None) -> str | None:
    """``2020-02-19`` for a day, the ISO time for a moment."""
    if isinstance(when, datetime):
        return iso(when)
    return None if when is None else when.isoformat()


def _utc(moment: datetime) -> datetime:
    """A naive time taken as UTC, an aware one converted."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC)


def _at_midnight(moment: datetime) -> bool:
    found = _utc(moment)
    return not (found.hour or found.minute or found.second or found.microsecond)


def max_drawdown(times: Sequence[datetime], values: Curve) -> Drawdown:
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times for {len(values)} values")
    curve = np.asarray(values, dtype=np.float64)
    running = _running_peak(curve)
    depths = _depths(curve, running)
    trough = _trough(depths)
    if trough is None:
        return Drawdown(0.0)
    # The peak of that fall: where it began, the last point at the running high before the
    # trough (pyfolio's convention), not the first time that high was reached: a curve flat at
    # its high for weeks that falls in a day fell for a day.
    peak = int(np.flatnonzero(curve[:trough] == running[:trough])[-1])
    top = curve[list(times).index(times[peak])]  # as the definition reads it: by time
    recovered = next(
        (times[i] for i in np.flatnonzero(curve >= top).tolist() if times[i] > times[trough]),
        None,
    )
    daily = all(map(_at_midnight, times))  # stops at an hourly curve's second mark
    return Drawdown(
        float(depths[trough]), times[peak], times[trough], recovered, daily, from_start=peak == 0
    )


def max_drawdown_depth(values: Curve) -> float:
    """``max_drawdown(times, values).depth`` without the times."""
    curve = np.asarray(values, dtype=np.float64)
    depths = _depths(curve, _running_peak(curve))
    trough = _trough(depths)
    return 0.0 if trough is None else float(depths[trough])


def _running_peak(curve: np.ndarray) -> np.ndarray:
    """The peak up to each point, as the definition keeps it: a value replaces it only when it
    is larger, so NaN never does; -inf before the first number."""
    if not len(curve):
        return curve
    running = np.fmax.accumulate(curve)  # skips NaN, except a run of NaN at the start
    if np.isnan(running[0]):
        running = np.where(np.isnan(running), -np.inf, running)
    return running


def _depths(curve: np.ndarray, running: np.ndarray) -> np.ndarray:
    """``E / peak - 1`` at each point, 0.0 while the peak is not above 0."""
    with np.errstate(all="ignore"):
        if len(running) and running[0] > 0:  # the peak never falls: above 0 everywhere
            return curve / running - 1
        return np.where(running > 0, curve / running - 1, 0.0)


def _trough(depths: np.ndarray) -> int | None:
    """The first point of the deepest fall below 0 (NaN falls never count), if any."""
    if not len(depths):
        return None
    trough = int(np.argmin(depths))  # the first NaN if there is one
    if np.isnan(depths[trough]):
        clean = np.where(np.isnan(depths), 0.0, depths)
        trough = int(np.argmin(clean))
    return trough if depths[trough] < 0 else None


def sharpe(returns: Curve, per_year: float, risk_free: float = 0.0) -> float | None:
    excess = _excess(returns, per_year, risk_free)
    n = len(excess)
    if n < 2:
        return None
    mean = _sum(excess) / n
    # Flat periods (r == 0) share one excess, hence one square: C's pow once for all of them.
    with np.errstate(all="ignore"):
        variance = _sum(_squares(excess - mean, np.asarray(returns) == 0)) / (n - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(per_year)


def _sum(values: np.ndarray) -> float:
    """Python's ``sum`` of floats: left to right from 0 (accumulate is sequential; the final
    ``+ 0.0`` turns a sum that is ``-0.0`` into ``0.0``, as Python's start at ``0`` does)."""
    if not len(values):
        return 0.0
    with np.errstate(all="ignore"):
        return float(np.add.accumulate(values)[-1]) + 0.0


def _squares(values: np.ndarray, same: np.ndarray) -> np.ndarray:
    """``x ** 2`` for each value as Python computes it: the C library's ``pow``, which is not
    always the correctly rounded ``x * x`` (glibc's differs about once in 1,000 values).
    ``same`` marks values known to share one square, computed once."""
    first = int(same.argmax())
    if not same[first]:
        return np.fromiter(map(math.pow, values.tolist(), repeat(2.0)), np.float64, len(values))
    out = np.full_like(values, math.pow(float(values[first]), 2.0))
    rest = np.flatnonzero(~same)
    out[rest] = np.fromiter(
        map(math.pow, values[rest].tolist(), repeat(2.0)), np.float64, len(rest)
    )
    return out


def sortino(returns: Curve, per_year: float, risk_free: float = 0.0) -> float | None:
    excess = _excess(returns, per_year, risk_free)
    if len(excess) < 2:
        return None
    # min(x, 0.0) is x unless x > 0.0 (NaN and -0.0 stay), and pow(x, 2) is x ** 2 itself: the
    # Python definition's terms, summed by the same builtin ``sum`` over them in order. The
    # terms of x >= 0 (most of a curve that stays flat) are +0.0, which leave a sum of squares
    # as it was: only the others are squared and added.
    with np.errstate(all="ignore"):
        below = excess[~(excess >= 0.0)].tolist()  # x < 0, and NaN
    downside = math.sqrt(sum(map(pow, below, repeat(2))) / len(excess))
    if downside <= 0:
        return None
    return sum(excess.tolist()) / len(excess) / downside * math.sqrt(per_year)


def _excess(returns: Curve, per_year: float, risk_free: float) -> np.ndarray:
    rf = per_period_rate(risk_free, per_year)
    with np.errstate(all="ignore"):
        return np.asarray(returns, dtype=np.float64) - rf


def binomial_p_value(successes: int, trials: int, p: float | Fraction = Fraction(1, 2)) -> float:
    """Exact two-sided binomial test: P(an outcome at most as likely as ``successes``)."""
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in 0..{trials}, got {successes}")
    if trials == 0:
        return 1.0
    q = Fraction(p) if isinstance(p, Fraction) else Fraction(str(p))
    # Exact rational probabilities, no rounding until the very end: with q = a/b each outcome's
    # probability is the integer weight C(n, k) a^k (b - a)^(n - k) over b^n, so the test
    # compares and sums integers.
    a, b = q.numerator, q.denominator
    weights = []
    comb = 1
    for k in range(trials + 1):
        weights.append(comb * a**k * (b - a) ** (trials - k))
        comb = comb * (trials - k) // (k + 1)
    tie = Fraction(_TIE)
    # weight <= observed * tie  <=>  weight * tie.denominator <= observed * tie.numerator
    limit = weights[successes] * tie.numerator
    total = sum(w for w in weights if w * tie.denominator <= limit)
    return min(1.0, float(Fraction(total, b**trials)))


def exposure(held: Sequence[bool] | np.ndarray) -> float:
    return int(np.count_nonzero(held)) / len(held) if len(held) else 0.0


# --- the summary ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WinRate:
    wins: int
    trades: int
    interval: tuple[float, float] | None  # Wilson 95%
    p_value: float  # exact two-sided binomial test against 50%

    @property
    def rate(self) -> float | None:
        return self.wins / self.trades if self.trades else None

    @classmethod
    def of(cls, wins: int, trades: int) -> WinRate:
        return cls(wins, trades, wilson_interval(wins, trades), binomial_p_value(wins, trades))

    def to_dict(self) -> dict[str, Any]:
        return {
            "wins": self.wins,
            "trades": self.trades,
            "rate": self.rate,
            "wilson_95": list(self.interval) if self.interval else None,
            "binomial_p_vs_50pct": self.p_value,
        }


@dataclass(frozen=True)
class Metrics:
    start_equity: Decimal
    end_equity: Decimal
    total_return: float
    cagr: float | None
    drawdown: Drawdown
    sharpe: float | None
    sortino: float | None
    risk_free: float  # annual
    periods_per_year: float
    periods: int
    trades: int  # closed round trips
    open_trades: int
    win_rate: WinRate
    exposure: float
    fees: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_equity": str(self.start_equity),
            "end_equity": str(self.end_equity),
            "total_return": self.total_return,
            "cagr": self.cagr,
            "max_drawdown": self.drawdown.to_dict(),
            "sharpe": self.sharpe,
            "sortino": self.sortino,
            "risk_free_rate": self.risk_free,
            "periods_per_year": self.periods_per_year,
            "periods": self.periods,
            "trades": self.trades,
            "open_trades": self.open_trades,
            "win_rate": self.win_rate.to_dict(),
            "exposure": self.exposure,
            "fees": str(self.fees),
        }


_TIME, _EQUITY, _HELD = attrgetter("time"), attrgetter("equity"), attrgetter("held")
_UNSET = object()


def equity_values(curve: Iterable[EquityPoint]) -> list[float]:
    """``[float(p.equity) for p in curve]``."""
    return _floats(map(_EQUITY, curve))


def _floats(equities: Iterable[Decimal]) -> list[float]:
    """``[float(e) for e in equities]``. A Decimal's float is parsed from its text, most of a
    summary's time: equities that are one object, as a flat account's marks are one after the
    other, share its float."""
    values: list[float] = []
    append = values.append
    last: object = _UNSET
    value = 0.0
    for equity in equities:
        if equity is not last:
            last, value = equity, float(equity)
        append(value)
    return values


def summarize(
    curve: Sequence[EquityPoint],
    trades: Sequence[Trade],
    fees: Decimal,
    period: timedelta,
    *,
    risk_free: float = 0.0,
    per_year: float | None = None,
) -> Metrics:
    """Every metric of one equity curve (at least one point: the starting cash). Its returns
    are annualised with ``per_year`` periods (default: ``periods_per_year(period)``)."""
    if not curve:
        raise ValueError("an equity curve needs at least its starting point")
    held = np.fromiter(map(_HELD, islice(curve, 1, None)), bool, len(curve) - 1)
    return _summary(
        list(map(_TIME, curve)),
        equity_values(curve),
        held,
        (curve[0].equity, curve[-1].equity),
        trades,
        fees,
        period,
        risk_free,
        per_year,
    )


def summarize_columns(
    times: Sequence[datetime],
    equities: Sequence[Decimal],
    held: Sequence[bool] | np.ndarray,
    trades: Sequence[Trade],
    fees: Decimal,
    period: timedelta,
    *,
    risk_free: float = 0.0,
    per_year: float | None = None,
) -> Metrics:
    """``summarize`` of the curve whose points have these ``times`` and ``equities``, and
    ``held`` of each point after the first (one fewer), for a caller that makes its points of
    such columns (the buy-and-hold benchmark): the same metrics, without reading every point
    back (three passes over tens of thousands of points just made)."""
    if not times:
        raise ValueError("an equity curve needs at least its starting point")
    if not len(times) == len(equities) == len(held) + 1:
        raise ValueError(
            f"{len(times)} times, {len(equities)} equities and {len(held)} held flags: "
            "a curve has one of each per point (held: but the first)"
        )
    # Each equity's own float: a column's are seldom one object after another (buy-and-hold's
    # are each a sum of their own), which ``_floats`` would look for at every one.
    return _summary(
        times,
        list(map(float, equities)),
        np.asarray(held, dtype=bool),
        (equities[0], equities[-1]),
        trades,
        fees,
        period,
        risk_free,
        per_year,
    )


def _summary(
    times: Sequence[datetime],
    values: list[float],
    held: np.ndarray,
    ends: tuple[Decimal, Decimal],
    trades: Sequence[Trade],
    fees: Decimal,
    period: timedelta,
    risk_free: float,
    per_year: float | None,
) -> Metrics:
    """The metrics of a curve's times, floats of its equities, held flags (after the first
    point) and (first, last) equities."""
    # One array for the returns and the drawdown: each made its own of the list (a long
    # curve's floats copied twice); the scalars below stay the list's Python floats.
    array = np.asarray(values, dtype=np.float64)
    returns = period_returns(array)
    per_year = periods_per_year(period) if per_year is None else per_year
    closed = [t for t in trades if t.closed]
    wins = sum(1 for t in closed if (t.pnl or 0) > 0)
    return Metrics(
        start_equity=ends[0],
        end_equity=ends[1],
        total_return=total_return(values),
        cagr=cagr(values[0], values[-1], times[-1] - times[0]),
        drawdown=max_drawdown(times, array),
        sharpe=sharpe(returns, per_year, risk_free),
        sortino=sortino(returns, per_year, risk_free),
        risk_free=risk_free,
        periods_per_year=per_year,
        periods=len(returns),
        trades=len(closed),
        open_trades=len(trades) - len(closed),
        win_rate=WinRate.of(wins, len(closed)),
        exposure=exposure(held),
        fees=fees,
    )


# --- against a benchmark, per trade, per month, tail risk ---------------------------------------


@dataclass(frozen=True)
class Relative:
    """The curve against a benchmark on the same times (see the module for the definitions)."""

    alpha: float | None  # annualised: per-period Jensen alpha x periods per year
    beta: float | None
    tracking_error: float | None  # annualised
    information_ratio: float | None
    periods: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "beta": self.beta,
            "tracking_error": self.tracking_error,
            "information_ratio": self.information_ratio,
            "periods": self.periods,
        }


def relative(returns: Curve, benchmark: Curve, per_year: float, risk_free: float = 0.0) -> Relative:
    """Alpha, beta, tracking error and information ratio of ``returns`` against ``benchmark``
    (period returns of the same periods); each None when its denominator is zero or there are
    fewer than two periods."""
    x = _excess(returns, per_year, risk_free)
    y = _excess(benchmark, per_year, risk_free)
    if x.shape != y.shape:
        raise ValueError(f"{len(x)} returns for {len(y)} benchmark returns")
    n = len(x)
    if n < 2:
        return Relative(None, None, None, None, n)
    mean_x, mean_y = _fsum(x) / n, _fsum(y) / n
    variance_y = _fsum((y - mean_y) * (y - mean_y)) / (n - 1)
    beta = alpha = None
    if variance_y > 0:
        beta = _fsum((x - mean_x) * (y - mean_y)) / (n - 1) / variance_y
        alpha = (mean_x - beta * mean_y) * per_year
    active = np.asarray(returns, dtype=np.float64) - np.asarray(benchmark, dtype=np.float64)
    mean_active = _fsum(active) / n
    deviation = math.sqrt(_fsum((active - mean_active) * (active - mean_active)) / (n - 1))
    if not deviation > 0:
        return Relative(alpha, beta, None, None, n)
    ratio = mean_active / deviation * math.sqrt(per_year)
    return Relative(alpha, beta, deviation * math.sqrt(per_year), ratio, n)


def _fsum(values: np.ndarray) -> float:
    """The correctly rounded sum: the same on every machine, in any order."""
    return math.fsum(values.tolist())


def as_of_values(
    times: Sequence[datetime], series_times: Sequence[datetime], series_values: Curve
) -> np.ndarray:
    """``series_values`` at ``times``: the last value at or before each time (never a later
    one), to put a benchmark priced on another calendar on the curve's times. Raises
    ValueError when the series starts after the first time."""
    if len(series_times) != len(series_values):
        raise ValueError(f"{len(series_times)} times for {len(series_values)} values")
    at = np.array([t.timestamp() for t in times])
    known = np.array([t.timestamp() for t in series_times])
    if len(known) > 1 and not (np.diff(known) > 0).all():
        raise ValueError("the series' times must be strictly increasing")
    index = np.searchsorted(known, at, side="right") - 1
    if len(index) and index[0] < 0:
        raise ValueError(f"the series has no value at or before {iso(times[0])}")
    return np.asarray(series_values, dtype=np.float64)[index]


@dataclass(frozen=True)
class TradeStats:
    """Closed round trips' profit factor and expectancy (open trades have no PnL yet)."""

    trades: int
    gross_profit: Decimal  # the sum of winning trades' PnL
    gross_loss: Decimal  # the sum of losing trades' PnL, as a positive amount
    profit_factor: float | None  # gross profit / gross loss; None without a losing trade
    expectancy: Decimal | None  # mean PnL per closed trade, quote currency; None without one
    expectancy_return: float | None  # mean return per closed trade

    def to_dict(self) -> dict[str, Any]:
        return {
            "trades": self.trades,
            "gross_profit": str(self.gross_profit),
            "gross_loss": str(self.gross_loss),
            "profit_factor": self.profit_factor,
            "expectancy": None if self.expectancy is None else str(self.expectancy),
            "expectancy_return": self.expectancy_return,
        }


def trade_stats(trades: Sequence[Trade]) -> TradeStats:
    pnls = [t.pnl for t in trades if t.closed and t.pnl is not None]
    returns = [t.ret for t in trades if t.closed and t.ret is not None]
    profit = sum((p for p in pnls if p > 0), Decimal(0))
    loss = -sum((p for p in pnls if p < 0), Decimal(0))
    return TradeStats(
        trades=len(pnls),
        gross_profit=profit,
        gross_loss=loss,
        profit_factor=float(profit / loss) if loss > 0 else None,
        expectancy=sum(pnls, Decimal(0)) / len(pnls) if pnls else None,
        expectancy_return=math.fsum(returns) / len(returns) if returns else None,
    )


def annualisable(elapsed: timedelta) -> bool:
    """Whether a ratio may annualise a return earned over ``elapsed`` (``ANNUALISED_FROM``)."""
    return elapsed >= ANNUALISED_FROM


def calmar(cagr: float | None, drawdown: float, elapsed: timedelta) -> float | None:
    """CAGR / |max drawdown| of a run of ``elapsed``. None when the CAGR is undefined, the run
    is shorter than a year (its CAGR extrapolates: see ``ANNUALISED_FROM``) or there was no
    drawdown (depth 0): the ratio is then unbounded, not a number to rank strategies by."""
    if cagr is None or not annualisable(elapsed) or not drawdown < 0:
        return None
    return cagr / -drawdown


def calmar_gap(cagr: float | None, drawdown: float, elapsed: timedelta) -> str | None:
    """Why ``calmar`` has no figure, in a few words for a table beside its "—"; None when it
    has one."""
    if not annualisable(elapsed):
        return "under a year"
    if cagr is None:
        return "no annual rate"
    if not drawdown < 0:
        return "no drawdown"
    return None


def traded_notional(trades: Sequence[Trade]) -> Decimal:
    """Every fill's notional, buys and sells, of closed and open trades alike."""
    return sum((leg.notional for t in trades for leg in (*t.entries, *t.exits)), Decimal(0))


def turnover(traded: Decimal, values: Curve, elapsed: timedelta) -> float | None:
    """Annualised turnover: traded notional (both sides) / mean equity / years. Buying with
    the whole equity and selling it again within a year is a turnover of 2. None for an empty
    period or a mean equity that is not above 0."""
    years = elapsed / YEAR
    if years <= 0 or not len(values):
        return None
    mean = math.fsum(float(v) for v in values) / len(values)
    if not mean > 0:
        return None
    return float(traded) / mean / years


@dataclass(frozen=True)
class YearReturns:
    year: int
    months: tuple[float | None, ...]  # January to December; None: no point in that month
    total: float  # the year's compounded return, from its first month's start to its end


@dataclass(frozen=True)
class MonthlyReturns:
    """The returns of each calendar month (UTC) and year of an equity curve."""

    years: tuple[YearReturns, ...]

    def to_dict(self) -> dict[str, Any]:
        return {str(y.year): {"months": list(y.months), "year": y.total} for y in self.years}


def monthly_returns(times: Sequence[datetime], values: Curve) -> MonthlyReturns:
    """Month m's return: the last equity marked in m over the last one before m, minus 1 (the
    curve's first point is the base of its first month). A point is in the month of the
    instant just before it: a mark at 00:00 on the 1st is the close of the month before
    (daily bars close at midnight). A month without a point is None, and the next month's
    return spans it. The year total: its last mark over the base of its first month, minus
    1 (the months compounded)."""
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times for {len(values)} values")
    if any(b < a for a, b in pairwise(times)):
        raise ValueError("the curve's times must be in order")
    curve = [float(v) for v in values]
    ends: dict[tuple[int, int], float] = {}  # (year, month) -> the month's last mark
    for moment, value in zip(times[1:], curve[1:], strict=True):
        before = moment.astimezone(UTC) - _INSTANT
        ends[(before.year, before.month)] = value
    rows: list[YearReturns] = []
    base = curve[0] if curve else 0.0
    year: int | None = None
    months: list[float | None] = []
    year_base = base
    for (when, month), end in ends.items():  # in time order: dicts keep insertion order
        if when != year:
            if year is not None:
                rows.append(YearReturns(year, tuple(months), base / year_base - 1))
            year, months, year_base = when, [None] * 12, base
        months[month - 1] = end / base - 1
        base = end
    if year is not None:
        rows.append(YearReturns(year, tuple(months), base / year_base - 1))
    return MonthlyReturns(tuple(rows))


# Tail risk of the period returns in the report: both methods at both usual confidences.
TAIL_MODELS = tuple(
    (method, confidence)
    for method in (Method.HISTORICAL, Method.PARAMETRIC)
    for confidence in (0.95, 0.99)
)


def period_tail_risk(returns: Curve) -> tuple[TailRisk, ...]:
    """VaR and CVaR of one period, over every period return of the run (the window is the
    whole run), for each of ``TAIL_MODELS``; too few periods leave an estimate without a
    figure (INSUFFICIENT_HISTORY) rather than a number resting on one observation."""
    window = max(1, len(returns))
    return tuple(
        tail_risk(returns, TailRiskModel(method, confidence, window))
        for method, confidence in TAIL_MODELS
    )


@dataclass(frozen=True)
class ExtendedMetrics:
    """The metrics beyond ``Metrics``: against a benchmark, per trade, per month, tail risk."""

    relative: Relative | None  # None without a benchmark
    trades: TradeStats
    calmar: float | None
    calmar_gap: str | None  # why ``calmar`` is None (``calmar_gap``)
    exposure: float
    traded: Decimal  # every fill's notional, both sides
    turnover: float | None  # annualised
    monthly: MonthlyReturns
    tail_risk: tuple[TailRisk, ...]
    elapsed: timedelta  # the run, from its curve's first point to its last (see ``calmar``)

    def to_dict(self) -> dict[str, Any]:
        return {
            "relative": None if self.relative is None else self.relative.to_dict(),
            "trades": self.trades.to_dict(),
            "calmar": self.calmar,
            "calmar_gap": self.calmar_gap,
            "exposure": self.exposure,
            "traded_notional": str(self.traded),
            "turnover": self.turnover,
            "monthly_returns": self.monthly.to_dict(),
            "tail_risk": [_tail_dict(risk) for risk in self.tail_risk],
        }


def _tail_dict(risk: TailRisk) -> dict[str, Any]:
    var, cvar = risk.var, risk.cvar
    return {
        "method": var.method.value,
        "confidence": var.confidence,
        "horizon": var.horizon,
        "observations": var.observations,
        "var": var.fraction,
        "cvar": cvar.fraction,
        "error": None if var.reason is None else var.reason.value,
    }


def extended_metrics(
    metrics: Metrics,
    curve: Sequence[EquityPoint],
    trades: Sequence[Trade],
    *,
    benchmark: Curve | None = None,
) -> ExtendedMetrics:
    """The extended metrics of the curve ``metrics`` summarised (same periods per year and
    risk-free rate). ``benchmark``: the benchmark's value at each of the curve's times (e.g.
    buy-and-hold's equity, or an index through ``as_of_values``)."""
    if not curve:
        raise ValueError("an equity curve needs at least its starting point")
    times = list(map(_TIME, curve))
    values = equity_values(curve)
    returns = period_returns(values)
    against = None
    if benchmark is not None:
        if len(benchmark) != len(curve):
            raise ValueError(f"{len(benchmark)} benchmark values for {len(curve)} curve points")
        against = relative(
            returns, period_returns(benchmark), metrics.periods_per_year, metrics.risk_free
        )
    traded = traded_notional(trades)
    elapsed = times[-1] - times[0]
    return ExtendedMetrics(
        relative=against,
        trades=trade_stats(trades),
        calmar=calmar(metrics.cagr, metrics.drawdown.depth, elapsed),
        calmar_gap=calmar_gap(metrics.cagr, metrics.drawdown.depth, elapsed),
        exposure=metrics.exposure,
        traded=traded,
        turnover=turnover(traded, values, elapsed),
        monthly=monthly_returns(times, values),
        tail_risk=period_tail_risk(returns),
        elapsed=elapsed,
    )
