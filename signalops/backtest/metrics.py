"""Performance metrics of an equity curve and its trades, each defined once, here.

Definitions (the report and ``metrics.json`` state the parameters they were computed with):

- period returns ``r_i = E_i / E_{i-1} - 1`` between consecutive points of the equity curve; the
  curve starts with the starting cash at the first decision time and has one point per period
  after it (the portfolio marked at the close that ends the period);
- total return ``E_last / E_first - 1``;
- CAGR ``(E_last / E_first) ** (1 / years) - 1`` with ``years`` = elapsed time / 365 days
  (crypto trades every day of the year); undefined for an empty period;
- max drawdown: the deepest fall ``E / running peak - 1`` (a number <= 0), with the time of that
  peak, of the trough, and of the recovery to the peak (None if it never recovered);
- Sharpe ``mean(x) / std(x) * sqrt(B)`` and Sortino ``mean(x) / downside(x) * sqrt(B)``, where
  ``x = r - rf`` are excess returns over the risk-free rate per period
  (``rf = (1 + annual rate) ** (1 / B) - 1``, default annual rate 0), ``std`` is the sample
  standard deviation (ddof 1), ``downside = sqrt(mean(min(x, 0) ** 2))`` over *all* periods, and
  ``B`` = periods per year = 365 days / period length (365 for daily bars, 8760 for hourly);
  undefined (None) when the denominator is zero or there are fewer than two periods;
- win rate: winning round trips (pnl > 0) / closed round trips, with the Wilson score 95%
  interval and an exact two-sided binomial test against 50% (the p-value sums the probabilities
  of every outcome no more likely than the one observed, as R's ``binom.test`` does);
- exposure: the fraction of periods during which a position was held;
- fees: every fee paid, in the quote currency.

The curves can be long (a sweep marks 43,800 hourly points per combination), so returns,
drawdown and Sharpe run in numpy, computed exactly as the plain Python definitions would be:
the same IEEE operations in the same order (sums left to right, squares by the C library's
``pow`` as Python's ``x ** 2``), so every result is the same to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import repeat
from typing import Any

import numpy as np

from signalops.backtest.ledger import EquityPoint, Trade
from signalops.canonical import iso

YEAR = timedelta(days=365)
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
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
    depth: float  # <= 0: the deepest fall from a running peak
    peak: datetime | None = None
    trough: datetime | None = None
    recovered: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "peak": iso(self.peak),
            "trough": iso(self.trough),
            "recovered": iso(self.recovered),
        }


def max_drawdown(times: Sequence[datetime], values: Curve) -> Drawdown:
    if len(times) != len(values):
        raise ValueError(f"{len(times)} times for {len(values)} values")
    curve = np.asarray(values, dtype=np.float64)
    running = _running_peak(curve)
    depths = _depths(curve, running)
    trough = _trough(depths)
    if trough is None:
        return Drawdown(0.0)
    # The peak of that fall: the last new high (a value above the peak before it) up to it.
    before = np.concatenate(([-np.inf], running[:trough]))
    peak = int(np.flatnonzero(curve[: trough + 1] > before)[-1])
    top = curve[list(times).index(times[peak])]  # as the definition reads it: by time
    recovered = next(
        (times[i] for i in np.flatnonzero(curve >= top).tolist() if times[i] > times[trough]),
        None,
    )
    return Drawdown(float(depths[trough]), times[peak], times[trough], recovered)


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
    excess = _excess(returns, per_year, risk_free).tolist()
    if len(excess) < 2:
        return None
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in excess) / len(excess))
    if downside <= 0:
        return None
    return sum(excess) / len(excess) / downside * math.sqrt(per_year)


def _excess(returns: Curve, per_year: float, risk_free: float) -> np.ndarray:
    rf = per_period_rate(risk_free, per_year)
    with np.errstate(all="ignore"):
        return np.asarray(returns, dtype=np.float64) - rf


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


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


def summarize(
    curve: Sequence[EquityPoint],
    trades: Sequence[Trade],
    fees: Decimal,
    period: timedelta,
    *,
    risk_free: float = 0.0,
) -> Metrics:
    """Every metric of one equity curve (at least one point: the starting cash)."""
    if not curve:
        raise ValueError("an equity curve needs at least its starting point")
    times = [p.time for p in curve]
    values = [float(p.equity) for p in curve]
    returns = period_returns(values)
    per_year = periods_per_year(period)
    closed = [t for t in trades if t.closed]
    wins = sum(1 for t in closed if (t.pnl or 0) > 0)
    return Metrics(
        start_equity=curve[0].equity,
        end_equity=curve[-1].equity,
        total_return=total_return(values),
        cagr=cagr(values[0], values[-1], times[-1] - times[0]),
        drawdown=max_drawdown(times, values),
        sharpe=sharpe(returns, per_year, risk_free),
        sortino=sortino(returns, per_year, risk_free),
        risk_free=risk_free,
        periods_per_year=per_year,
        periods=len(returns),
        trades=len(closed),
        open_trades=len(trades) - len(closed),
        win_rate=WinRate.of(wins, len(closed)),
        exposure=exposure([p.held for p in curve[1:]]),
        fees=fees,
    )
