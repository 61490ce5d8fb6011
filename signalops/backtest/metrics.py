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
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from signalops.backtest.ledger import EquityPoint, Trade
from signalops.canonical import iso

YEAR = timedelta(days=365)
Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile
# Outcomes whose probability is within this relative distance of the observed one count as "as
# likely" (floating point would otherwise split ties); the tolerance R and SciPy use.
_TIE = 1 + 1e-7


# --- the arithmetic ------------------------------------------------------------------------------


def period_returns(values: Sequence[float]) -> list[float]:
    return [b / a - 1 for a, b in itertools.pairwise(values)]


def total_return(values: Sequence[float]) -> float:
    return values[-1] / values[0] - 1


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


def max_drawdown(times: Sequence[datetime], values: Sequence[float]) -> Drawdown:
    worst = Drawdown(0.0)
    peak_value, peak_time = -math.inf, None
    for time, value in zip(times, values, strict=True):
        if value > peak_value:
            peak_value, peak_time = value, time
        depth = value / peak_value - 1 if peak_value > 0 else 0.0
        if depth < worst.depth:
            worst = Drawdown(depth, peak_time, time)
    trough = worst.trough
    if worst.peak is None or trough is None:
        return worst
    top = values[list(times).index(worst.peak)]
    after = [t for t, v in zip(times, values, strict=True) if t > trough and v >= top]
    return Drawdown(worst.depth, worst.peak, worst.trough, after[0] if after else None)


def sharpe(returns: Sequence[float], per_year: float, risk_free: float = 0.0) -> float | None:
    excess = _excess(returns, per_year, risk_free)
    if len(excess) < 2:
        return None
    mean = sum(excess) / len(excess)
    variance = sum((x - mean) ** 2 for x in excess) / (len(excess) - 1)
    if variance <= 0:
        return None
    return mean / math.sqrt(variance) * math.sqrt(per_year)


def sortino(returns: Sequence[float], per_year: float, risk_free: float = 0.0) -> float | None:
    excess = _excess(returns, per_year, risk_free)
    if len(excess) < 2:
        return None
    downside = math.sqrt(sum(min(x, 0.0) ** 2 for x in excess) / len(excess))
    if downside <= 0:
        return None
    return sum(excess) / len(excess) / downside * math.sqrt(per_year)


def _excess(returns: Sequence[float], per_year: float, risk_free: float) -> list[float]:
    rf = per_period_rate(risk_free, per_year)
    return [r - rf for r in returns]


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
    # Exact rational probabilities: no rounding until the very end.
    probability = [math.comb(trials, k) * q**k * (1 - q) ** (trials - k) for k in range(trials + 1)]
    observed = probability[successes]
    total = sum((pk for pk in probability if pk <= observed * Fraction(_TIE)), Fraction(0))
    return min(1.0, float(total))


def exposure(held: Sequence[bool]) -> float:
    return sum(held) / len(held) if held else 0.0


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
