"""Value-at-Risk and CVaR (expected shortfall): of a return series, and of a portfolio after a
proposed order.

    model = TailRiskModel(Method.HISTORICAL, confidence=0.99, window=250, horizon=1)
    risk = tail_risk(returns, model)                   # risk.var, risk.cvar: RiskEstimate
    risk = portfolio_tail_risk(model, holdings=..., prices=..., cash=..., history=...,
                               as_of=now, order=ProposedOrder("BTC", "BUY", q, price))
    risk.var.exceeds(Decimal("0.05"))                  # True also when it could not be estimated
    risk.cvar.details()                                # plain JSON for a check's details

Statistics are float64 (returns, quantiles, moments); money (the loss in the quote currency,
equity, holdings, prices of the proposed order) is Decimal. The definitions:

- a loss is a fall in value, reported as a positive number: a 95% VaR of 0.04 says that a
  loss of more than 4% of equity is expected in at most 5% of the periods. A VaR is negative
  when even the tail of the distribution is a gain;
- ``window``: the last ``window`` one-period returns (fewer when fewer exist; the estimate
  says how many it used in ``observations``);
- ``horizon`` h periods. Historical: the *overlapping* h-period returns in the window,
  compounded, ``prod(1 + r_{t-h+1} .. 1 + r_t) - 1`` for each of the ``window - h + 1`` end
  points (consecutive ones share h - 1 periods, so they are not independent; the alternative,
  non-overlapping blocks, would leave ``window / h`` observations). Parametric: the mean and
  standard deviation of the one-period returns scaled by h and sqrt(h) (i.i.d. returns);
- historical VaR at confidence c of n observations: the empirical c-quantile of the losses,
  the smallest loss l with at least c x n of the losses <= l (numpy's ``inverted_cdf``). That
  is the k-th largest loss with ``k = floor(n (1 - c)) + 1``: of 20 returns, the second worst
  at 95% and the worst at 99%; of 250, the 13th worst at 95% and the 3rd at 99%. Historical
  CVaR: the mean of those k largest losses (the VaR's own included), so CVaR >= VaR;
- parametric (Gaussian): ``VaR = -mu_h + sigma_h z_c`` and ``CVaR = -mu_h + sigma_h
  phi(z_c) / (1 - c)``, with the sample mean, the sample standard deviation (ddof 1), the
  standard normal's quantile ``z_c`` and density ``phi`` (``statistics.NormalDist``);
- too few observations (``TailRiskModel.required``: by default ``ceil(1 / (1 - c))``, 20 at
  95% and 100 at 99%, below which the quantile is the single worst observation; at least 2 for
  a standard deviation) give an estimate with ``reason`` INSUFFICIENT_HISTORY and no figure,
  not an exception, so a risk check can fail closed with a code.

A portfolio after a proposed order: the holdings and cash after the order fills at the
order's price (fees ignored), each position valued at ``prices`` (the ordered asset at the
order's price, as the gate marks it), and the positions held fixed in units over the horizon.
The scenarios are the assets' returns at the close times every held asset has in its price
history at or before ``as_of`` (later points are ignored: no look-ahead; a time missing from
one asset is left out for all, so a return may span a gap): scenario loss ``-sum(V_a R_a)``,
as a fraction of equity after the order. The parametric estimate is the Gaussian one of the
portfolio's one-period returns ``sum(w_a r_a)``, which is the covariance form ``w' S w`` (the
sample variance of a fixed combination is that quadratic form). Sums are ``math.fsum`` and
elementwise numpy operations only (no BLAS), so an estimate is the same on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from fractions import Fraction
from statistics import NormalDist
from typing import Any

import numpy as np

from signalops.canonical import json_safe
from signalops.codes import Code
from signalops.observation import utc
from signalops.orders import OrderIntent, to_decimal
from signalops.side import Side

_SHOWN = Decimal("0.000001")  # the fraction in details: 6 decimal places, rounded up
_MONEY = Decimal("0.00000001")  # the loss in the quote currency: 8 decimal places, rounded up
_NORMAL = NormalDist()
_ZERO = Decimal(0)


class Method(StrEnum):
    HISTORICAL = "historical"
    PARAMETRIC = "parametric"


class Measure(StrEnum):
    VAR = "VAR"
    CVAR = "CVAR"


@dataclass(frozen=True, slots=True)
class TailRiskModel:
    """How to estimate: method, confidence (0 < c < 1), window and horizon (in periods), and
    the fewest observations an estimate may rest on (None: ``ceil(1 / (1 - c))``)."""

    method: Method = Method.HISTORICAL
    confidence: float = 0.95  # a Decimal is taken as the float of its digits
    window: int = 250
    horizon: int = 1
    min_observations: int | None = None
    # Derived once (every estimate reads them): 1 - c exactly, and the fewest observations.
    tail: Fraction = field(init=False, repr=False, compare=False)
    required: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "method", Method(self.method))
        c = self.confidence
        if isinstance(c, Decimal):  # as a config file's fractions arrive
            c = float(c)
            object.__setattr__(self, "confidence", c)
        if not isinstance(c, float) or not 0 < c < 1:
            raise ValueError(f"confidence must be between 0 and 1 (exclusive), got {c!r}")
        for name in ("window", "horizon"):
            _whole(name, getattr(self, name))
        if self.min_observations is not None:
            _whole("min_observations", self.min_observations)
        # 1 - c exactly as written: 0.95 is 19/20, not the binary float's neighbour.
        tail = 1 - Fraction(repr(c))
        least = 2 if self.method is Method.PARAMETRIC else 1
        wanted = self.min_observations
        object.__setattr__(self, "tail", tail)
        object.__setattr__(self, "required", max(wanted or math.ceil(1 / tail), least))


def _whole(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


@dataclass(frozen=True, slots=True)
class RiskEstimate:
    """One VaR or CVaR: the model it was made with, how many observations it used, the loss
    as a fraction (of equity for a portfolio, of one unit for a bare return series) and, for
    a portfolio, in the quote currency. ``reason`` (a ``Code``) and ``note`` say why there is
    no figure: too few observations, no price, no price history, unusable data."""

    measure: Measure
    method: Method
    confidence: float
    window: int
    horizon: int
    observations: int
    required: int
    fraction: float | None
    value: Decimal | None = None  # quote currency (portfolio), rounded up to 8 places
    equity: Decimal | None = None  # after the order (portfolio)
    reason: Code | None = None
    note: str | None = None
    portfolio: bool = False  # of a portfolio (fraction of equity), not of a bare series

    @property
    def ok(self) -> bool:
        return self.reason is None and self.fraction is not None

    def exceeds(self, limit: Decimal) -> bool:
        """True when the loss fraction is above ``limit``, or when there is no estimate: a
        check that cannot know the risk fails closed."""
        if self.fraction is None or self.reason is not None:
            return True
        return Decimal(repr(self.fraction)) > limit

    def details(self) -> dict[str, Any]:
        """Plain JSON with the keys every risk check records (the check adds ``limit``):
        ``actual`` is the fraction rounded *up* to 6 places, so that against a limit with at
        most 6 decimals it compares as the exact one does."""
        portfolio = self.portfolio
        shown = None
        if self.ok and self.fraction is not None:
            exact = Decimal(repr(self.fraction))
            shown = exact.quantize(_SHOWN, rounding=ROUND_CEILING)
        details = {
            "actual": shown,
            "unit": "fraction of equity" if portfolio else "fraction of value (return)",
            "measure": self.measure.value,
            "method": self.method.value,
            "confidence": self.confidence,
            "window": self.window,
            "horizon": self.horizon,
            "observations": self.observations,
            "required": self.required,
        }
        if portfolio:
            details["value"] = self.value
            details["equity"] = self.equity
        if self.reason is not None:
            details["error"] = self.reason.value
            details["note"] = self.note
        result: dict[str, Any] = json_safe(details)
        return result


@dataclass(frozen=True, slots=True)
class TailRisk:
    """The VaR and the CVaR of one model, from one set of observations."""

    var: RiskEstimate
    cvar: RiskEstimate

    def of(self, measure: Measure | str) -> RiskEstimate:
        return self.var if Measure(measure) is Measure.VAR else self.cvar


# --- a return series -----------------------------------------------------------------------------


def tail_risk(returns: Sequence[float] | np.ndarray, model: TailRiskModel) -> TailRisk:
    """VaR and CVaR of the last ``model.window`` one-period ``returns`` (oldest first)."""
    series = np.asarray(returns, dtype=np.float64)[-model.window :]
    if not np.isfinite(series).all():
        return _none(model, len(series), Code.NOT_A_NUMBER, "a return in the window is not finite")
    if model.method is Method.PARAMETRIC:
        return _estimated(model, len(series), _parametric(series, model))
    if model.horizon > 1:
        series = _compounded(series, model.horizon)
    return _estimated(model, len(series), _historical(-series, model))


def value_at_risk(returns: Sequence[float] | np.ndarray, model: TailRiskModel) -> RiskEstimate:
    return tail_risk(returns, model).var


def expected_shortfall(returns: Sequence[float] | np.ndarray, model: TailRiskModel) -> RiskEstimate:
    return tail_risk(returns, model).cvar


def _compounded(returns: np.ndarray, h: int) -> np.ndarray:
    """The overlapping h-period returns ``prod(1 + r) - 1``, multiplied left to right."""
    count = len(returns) - h + 1
    if count <= 0:
        return returns[:0]
    growth = 1 + returns
    total = growth[:count]
    for lag in range(1, h):
        total = total * growth[lag : lag + count]
    return total - 1


Figures = tuple[float, float] | None  # (VaR, CVaR) as fractions; None: too few observations


def _historical(losses: np.ndarray, model: TailRiskModel) -> Figures:
    n = len(losses)
    if n < model.required:
        return None
    k = math.floor(n * model.tail) + 1  # < n + 1 since the tail is below 1
    worst = np.sort(losses)[n - k :].tolist()  # ascending: the VaR first
    return worst[0], math.fsum(worst) / k


def _parametric(returns: np.ndarray, model: TailRiskModel) -> Figures:
    n = len(returns)
    if n < model.required:
        return None
    mean = math.fsum(returns.tolist()) / n
    deviations = returns - mean
    sigma = math.sqrt(math.fsum((deviations * deviations).tolist()) / (n - 1))
    h = model.horizon
    mu_h, sigma_h = mean * h, sigma * math.sqrt(h)
    c = float(model.confidence)
    z = _NORMAL.inv_cdf(c)
    return -mu_h + sigma_h * z, -mu_h + sigma_h * _NORMAL.pdf(z) / float(model.tail)


@dataclass(frozen=True, slots=True)
class _Of:
    """What an estimate is of: a portfolio (with its equity after the order, when known)."""

    equity: Decimal | None = None


Scope = _Of | None  # None: a bare return series


def _estimated(
    model: TailRiskModel, observations: int, figures: Figures, scope: Scope = None
) -> TailRisk:
    if figures is None:
        note = f"{observations} observations, fewer than the {model.required} needed"
        return _none(model, observations, Code.INSUFFICIENT_HISTORY, note, scope)
    if not all(math.isfinite(f) for f in figures):
        return _none(model, observations, Code.NOT_COMPUTABLE, "the estimate is not finite", scope)
    var, cvar = figures
    return TailRisk(
        _estimate(model, Measure.VAR, observations, var, scope),
        _estimate(model, Measure.CVAR, observations, cvar, scope),
    )


def _estimate(
    model: TailRiskModel,
    measure: Measure,
    observations: int,
    fraction: float | None,
    scope: Scope,
    reason: Code | None = None,
    note: str | None = None,
) -> RiskEstimate:
    equity = None if scope is None else scope.equity
    value = None
    if fraction is not None and equity is not None:
        value = (equity * Decimal(repr(fraction))).quantize(_MONEY, rounding=ROUND_CEILING)
    return RiskEstimate(
        measure,
        model.method,
        model.confidence,
        model.window,
        model.horizon,
        observations,
        model.required,
        fraction,
        value,
        equity,
        reason,
        note,
        portfolio=scope is not None,
    )


def _none(
    model: TailRiskModel, observations: int, reason: Code, note: str, scope: Scope = None
) -> TailRisk:
    return TailRisk(
        *(_estimate(model, m, observations, None, scope, reason, note) for m in Measure)
    )


# --- a portfolio after a proposed order ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposedOrder:
    """The order the gate is asked about: it fills whole, at ``price``, without fees."""

    asset: str
    side: Side
    quantity: Decimal
    price: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "quantity", to_decimal(self.quantity))
        object.__setattr__(self, "price", to_decimal(self.price))
        if not (self.quantity.is_finite() and self.quantity >= 0):
            raise ValueError(f"order quantity must be a finite number >= 0, got {self.quantity}")
        if not (self.price.is_finite() and self.price > 0):
            raise ValueError(f"order price must be a finite number > 0, got {self.price}")

    @classmethod
    def of(cls, intent: OrderIntent) -> ProposedOrder:
        return cls(intent.asset, intent.side, intent.quantity, intent.reference_price)

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side is Side.BUY else -self.quantity


@dataclass(frozen=True, eq=False)
class PriceHistory:
    """One asset's prices (closes) at increasing times in Unix seconds, oldest first: the
    arrays of ``backtest.bars.Bars`` (``close_time``, ``close``) fit as they are."""

    times: np.ndarray
    prices: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=np.float64)
        prices = np.asarray(self.prices, dtype=np.float64)
        if times.shape != prices.shape or times.ndim != 1:
            raise ValueError(f"{times.shape} times for {prices.shape} prices")
        if len(times) > 1 and not (np.diff(times) > 0).all():
            raise ValueError("price history times must be strictly increasing")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "prices", prices)

    @classmethod
    def of(cls, points: Iterable[tuple[datetime, float | Decimal]]) -> PriceHistory:
        pairs = [(utc(t).timestamp(), float(p)) for t, p in points]
        return cls(np.array([t for t, _ in pairs]), np.array([p for _, p in pairs]))

    def __len__(self) -> int:
        return len(self.times)


def portfolio_tail_risk(
    model: TailRiskModel,
    *,
    holdings: Mapping[str, Decimal],
    prices: Mapping[str, Decimal],
    cash: Decimal,
    history: Mapping[str, PriceHistory],
    as_of: datetime,
    order: ProposedOrder | None = None,
) -> TailRisk:
    """VaR and CVaR, in the quote currency and as a fraction of equity, of the portfolio as it
    would be after ``order`` (see the module). Only history at or before ``as_of`` is read."""
    after = dict(holdings)
    marks = dict(prices)
    portfolio = _Of()
    unvalued = [a for a, q in sorted(after.items()) if not _finite(q)]
    if unvalued or not _finite(cash):
        note = "not a finite quantity: " + ", ".join(unvalued or ["cash"])
        return _none(model, 0, Code.PORTFOLIO_UNVALUED, note, portfolio)
    if order is not None:
        after[order.asset] = after.get(order.asset, _ZERO) + order.signed_quantity
        marks[order.asset] = order.price
        cash = cash - order.signed_quantity * order.price
    held = sorted(asset for asset, quantity in after.items() if quantity != 0)
    unpriced = [a for a in held if not _usable_price(marks.get(a))]
    if unpriced:
        note = "no usable price for " + ", ".join(unpriced)
        return _none(model, 0, Code.NO_PRICE, note, portfolio)
    values = [after[a] * marks[a] for a in held]
    equity = cash + sum(values, _ZERO)
    if not equity > 0:
        note = f"equity after the order is {equity}"
        return _none(model, 0, Code.NOT_COMPUTABLE, note, portfolio)
    portfolio = _Of(equity)
    if not held:  # all cash: nothing can fall
        return _estimated(model, 0, (0.0, 0.0), portfolio)
    missing = [a for a in held if a not in history]
    if missing:
        note = "no price history for " + ", ".join(missing)
        return _none(model, 0, Code.MISSING, note, portfolio)
    needed = model.window + 1  # prices for ``window`` one-period returns
    path = _aligned([history[a] for a in held], utc(as_of).timestamp(), needed)
    if not (np.isfinite(path).all() and (path > 0).all()):
        note = "a price in the window is not a positive number"
        return _none(model, 0, Code.BAD_DATA, note, portfolio)
    weights = [float(v / equity) for v in values]
    if model.method is Method.PARAMETRIC:
        returns = _weighted(path[1:] / path[:-1] - 1, weights)
        return _estimated(model, len(returns), _parametric(returns, model), portfolio)
    h = model.horizon
    scenarios = _weighted(path[h:] / path[:-h] - 1, weights) if len(path) > h else path[:0, 0]
    return _estimated(model, len(scenarios), _historical(-scenarios, model), portfolio)


def _finite(amount: object) -> bool:
    """A Decimal or int that is a number (a float or a NaN cannot be valued exactly)."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        return False
    return not isinstance(amount, Decimal) or amount.is_finite()


def _usable_price(price: object) -> bool:
    return _finite(price) and price > 0  # type: ignore[operator]


def _weighted(returns: np.ndarray, weights: Sequence[float]) -> np.ndarray:
    """``sum(w_a r_a)`` per row, asset by asset in order (elementwise: no BLAS)."""
    total = np.zeros(len(returns))
    for column, weight in enumerate(weights):
        total = total + returns[:, column] * weight
    return total


def _aligned(histories: Sequence[PriceHistory], until: float, needed: int) -> np.ndarray:
    """Prices (rows: times, oldest first; columns: assets) at the last ``needed`` times that
    every history has at or before ``until``; fewer rows when there are fewer such times."""
    ends = [int(np.searchsorted(h.times, until, side="right")) for h in histories]
    length = needed
    while True:
        tails = [
            h.times[max(0, end - length) : end] for h, end in zip(histories, ends, strict=True)
        ]
        first = tails[0]
        if all(len(t) == len(first) and np.array_equal(t, first) for t in tails[1:]):
            common = first  # the usual case: one calendar
        else:
            common = tails[0]
            for other in tails[1:]:
                common = np.intersect1d(common, other, assume_unique=True)
        if len(common) >= needed or all(end <= length for end in ends):
            break
        length *= 2  # a time missing from one asset: look further back
    common = common[-needed:]
    columns = [h.prices[np.searchsorted(h.times, common)] for h in histories]
    return np.column_stack(columns)


__all__ = [
    "Measure",
    "Method",
    "PriceHistory",
    "ProposedOrder",
    "RiskEstimate",
    "TailRisk",
    "TailRiskModel",
    "expected_shortfall",
    "portfolio_tail_risk",
    "tail_risk",
    "value_at_risk",
]
