"""Kelly sizing from a strategy's own closed trades, estimated on the cautious side.

    estimate = kelly_from_trades(returns, multiplier=Decimal("0.5"), cap=Decimal("0.2"))
    estimate.fraction        # a Decimal fraction of equity, or None: too few trades to size by
    estimate.details()       # plain JSON: what ``why`` shows when the estimate capped a BUY

The estimate (statistics in float; the fraction that sizes an order is a Decimal):

- the input is one number per *closed* trade: its return, or its PnL (a Decimal); a trade is a
  win when the number is > 0 and a loss when it is < 0. A trade at exactly 0 counts among the
  trades (so in the win rate's denominator, as the backtest's win rate counts it) but in
  neither mean;
- the win rate p is the *lower* bound of the Wilson score interval of wins / trades, not the
  point estimate: full Kelly on an estimated edge overbets, and the bound shrinks the bet most
  when there are few trades. The default ``z`` is ``Z_95`` (1.96): the lower end of the
  two-sided 95% interval the backtest report prints beside the win rate, i.e. a one-sided
  97.5% bound (pass ``z=Z_ONE_SIDED_95`` for a one-sided 95% bound, 1.645);
- the payoff ratio b = mean win / mean loss (both as positive magnitudes);
- f* = p - (1 - p) / b, floored at 0 (no edge: no bet). Without a losing trade b is infinite
  and f* = p (the limit); without a winning trade there is no edge and f* = 0;
- the fraction = min(cap, multiplier x f*), rounded *down* to 6 decimal places (sizing never
  bets more than the estimate says);
- fewer than ``min_trades`` closed trades (default 30): no estimate, ``fraction`` is None and
  ``reason`` says why. The caller decides what an unsized strategy does.

The Wilson score interval is defined here and only here; the backtest's metrics import it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

from signalops.canonical import json_safe
from signalops.orders import to_decimal

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval
Z_ONE_SIDED_95 = 1.6448536269514722  # the standard normal's 95% quantile
MIN_TRADES = 30
FRACTION_STEP = Decimal("0.000001")  # the fraction is rounded down to 6 decimal places

_ONE = Decimal(1)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None without trials)."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def kelly(win_rate: float, payoff: float | None) -> float:
    """Full Kelly ``p - (1 - p) / b`` (not floored); ``payoff`` None is an infinite payoff."""
    if payoff is None:
        return win_rate
    return win_rate - (1 - win_rate) / payoff


@dataclass(frozen=True, slots=True)
class KellyEstimate:
    """What the estimate used and found; ``fraction`` None means: do not size by Kelly.

    ``kelly_point`` and ``kelly_lower`` are full Kelly (not floored, not scaled) at the point
    estimate and at the Wilson lower bound, so a reader sees how much the bound cut; both are
    None without a winning trade (no edge to size) or without an estimate.
    """

    trades: int
    wins: int
    losses: int
    min_trades: int
    z: float
    multiplier: Decimal
    cap: Decimal | None
    win_rate: float | None = None  # the point estimate, wins / trades
    win_rate_lower: float | None = None  # the Wilson lower bound: the p Kelly uses
    mean_win: float | None = None
    mean_loss: float | None = None  # a positive magnitude
    payoff: float | None = None  # mean win / mean loss; None without a win or without a loss
    kelly_point: float | None = None
    kelly_lower: float | None = None
    fraction: Decimal | None = None
    capped: bool = False  # the cap, not the estimate, set the fraction
    reason: str | None = None

    def details(self) -> dict[str, Any]:
        """Plain JSON (Decimals as text), for the audit record and ``why``."""
        result: dict[str, Any] = json_safe(
            {
                "trades": self.trades,
                "wins": self.wins,
                "losses": self.losses,
                "min_trades": self.min_trades,
                "win_rate": self.win_rate,
                "win_rate_lower": self.win_rate_lower,
                "interval": "wilson",
                "z": self.z,
                "mean_win": self.mean_win,
                "mean_loss": self.mean_loss,
                "payoff": self.payoff,
                "kelly_point": self.kelly_point,
                "kelly_lower": self.kelly_lower,
                "multiplier": self.multiplier,
                "cap": self.cap,
                "fraction": self.fraction,
                "capped": self.capped,
                "reason": self.reason,
            }
        )
        return result


def kelly_from_trades(
    results: Sequence[float | Decimal | int],
    *,
    min_trades: int = MIN_TRADES,
    z: float = Z_95,
    multiplier: Decimal | float | str = _ONE,
    cap: Decimal | float | str | None = None,
) -> KellyEstimate:
    """The Kelly fraction of equity from closed trades' returns (or PnLs); see the module.

    Raises ValueError for settings out of range (``min_trades`` < 1, ``z`` <= 0, a multiplier
    or cap outside (0, 1]) and for a result that is not a finite number: a NaN PnL is a broken
    ledger, not a trade to size by.
    """
    scale = _setting("multiplier", multiplier)
    limit = None if cap is None else _setting("cap", cap)
    if isinstance(min_trades, bool) or not isinstance(min_trades, int) or min_trades < 1:
        raise ValueError(f"min_trades must be a whole number >= 1, got {min_trades!r}")
    if not (math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive number, got {z!r}")
    values = [_number(value) for value in results]
    wins = [v for v in values if v > 0]
    losses = [-v for v in values if v < 0]
    base = KellyEstimate(len(values), len(wins), len(losses), min_trades, z, scale, limit)
    if len(values) < min_trades:
        reason = f"{len(values)} closed trades, fewer than the {min_trades} needed"
        return replace(base, reason=reason)
    point = len(wins) / len(values)
    interval = wilson_interval(len(wins), len(values), z)
    assert interval is not None  # there are trades
    lower = min(interval[0], point)  # the score interval holds the point: no rounding past it
    mean_win = math.fsum(wins) / len(wins) if wins else None
    mean_loss = math.fsum(losses) / len(losses) if losses else None
    estimate = replace(
        base, win_rate=point, win_rate_lower=lower, mean_win=mean_win, mean_loss=mean_loss
    )
    if mean_win is None:  # nothing ever won: no edge to bet on
        return replace(estimate, fraction=Decimal(0).quantize(FRACTION_STEP))
    payoff = None if mean_loss is None else mean_win / mean_loss
    full = kelly(lower, payoff)
    fraction = Decimal(repr(max(full, 0.0))) * scale
    capped = limit is not None and fraction > limit
    if limit is not None and capped:
        fraction = limit
    return replace(
        estimate,
        payoff=payoff,
        kelly_point=kelly(point, payoff),
        kelly_lower=full,
        fraction=fraction.quantize(FRACTION_STEP, rounding=ROUND_DOWN),
        capped=capped,
    )


def _setting(name: str, value: Decimal | float | str) -> Decimal:
    number = to_decimal(value)
    if not (number.is_finite() and 0 < number <= 1):
        raise ValueError(f"kelly {name} must be in (0, 1], got {value}")
    return number


def _number(value: float | Decimal | int) -> float:
    if isinstance(value, bool) or not isinstance(value, float | Decimal | int):
        raise ValueError(f"a trade result must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"a trade result must be a finite number, got {value!r}")
    return number


__all__ = [
    "FRACTION_STEP",
    "MIN_TRADES",
    "Z_95",
    "Z_ONE_SIDED_95",
    "KellyEstimate",
    "kelly",
    "kelly_from_trades",
    "wilson_interval",
]
