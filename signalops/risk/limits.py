"""The limits the risk gate enforces, the trading states, fractional Kelly, and the kill switch.

All of them are configuration: ``signalops.config`` builds ``RiskLimits`` from the config file
and a strategy's ``risk:`` section (which can only tighten them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops.canonical import json_safe
from signalops.orders import to_decimal

if TYPE_CHECKING:  # numpy and the estimators are imported only when a limit is used
    from signalops.risk.kelly import KellyEstimate
    from signalops.risk.measures import TailRiskModel


class TradingState(StrEnum):
    """NautilusTrader's trading states, in increasing strictness."""

    ACTIVE = "ACTIVE"  # everything the other checks allow
    REDUCING = "REDUCING"  # only SELLs that reduce a position
    HALTED = "HALTED"  # nothing, not even SELLs

    @property
    def strictness(self) -> int:
        return list(TradingState).index(self)


@dataclass(frozen=True, slots=True)
class Kelly:
    """A fractional-Kelly cap on the BUY size: ``fraction x max(0, p - (1 - p) / b)`` of equity.

    ``win_rate`` (p) and ``payoff`` (b, average win / average loss) are the strategy's own
    estimates, e.g. from a backtest; ``fraction`` scales the full Kelly bet down (0.25-0.5 is
    usual, since full Kelly on estimated odds overbets).
    """

    fraction: Decimal
    win_rate: Decimal
    payoff: Decimal

    def __post_init__(self) -> None:
        for name in ("fraction", "win_rate", "payoff"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        if not (0 < self.fraction <= 1):
            raise ValueError(f"kelly fraction must be in (0, 1], got {self.fraction}")
        if not (0 <= self.win_rate <= 1):
            raise ValueError(f"kelly win_rate must be in [0, 1], got {self.win_rate}")
        if not self.payoff > 0:
            raise ValueError(f"kelly payoff must be > 0, got {self.payoff}")

    @property
    def full(self) -> Decimal:
        """Full Kelly f* = p - (1 - p) / b; negative when the edge is negative."""
        return self.win_rate - (1 - self.win_rate) / self.payoff

    @property
    def cap(self) -> Decimal:
        """The largest fraction of equity a BUY may use: never negative."""
        return max(self.full, Decimal(0)) * self.fraction


@dataclass(frozen=True, slots=True)
class KellyFromTrades:
    """Kelly sizing from the strategy's own closed trades (``signalops.risk.kelly``): the win
    rate's lower Wilson bound at ``z`` and the payoff of its SELLs so far, once it has
    ``min_trades`` of them; ``fraction`` of the full bet, at most ``cap`` of equity. Before
    ``min_trades``, sizing is ``position_size`` alone (a new strategy could never trade else)."""

    fraction: Decimal = Decimal("0.5")
    min_trades: int = 30
    z: Decimal = Decimal("1.96")
    cap: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("fraction", "z", "cap"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_decimal(value))
        if not (0 < self.fraction <= 1):
            raise ValueError(f"kelly fraction must be in (0, 1], got {self.fraction}")

    def estimate(self, results: Sequence[float | Decimal | int]) -> KellyEstimate:
        """The ``KellyEstimate`` of these closed-trade PnLs."""
        from signalops.risk.kelly import kelly_from_trades

        return kelly_from_trades(
            results,
            min_trades=self.min_trades,
            z=float(self.z),
            multiplier=self.fraction,
            cap=self.cap,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"fraction": self.fraction, "min_trades": self.min_trades, "z": self.z,
                "cap": self.cap}  # fmt: skip

    def stricter_than(self, other: KellyFromTrades) -> bool:
        """Bets less: a smaller share of the full bet (then the lower cap)."""
        mine = (self.fraction, self.cap if self.cap is not None else _ONE)
        theirs = (other.fraction, other.cap if other.cap is not None else _ONE)
        return mine < theirs


@dataclass(frozen=True, slots=True)
class TailLimit:
    """A VaR or CVaR limit: the largest loss allowed (a fraction of equity) at ``confidence``
    over ``horizon`` periods of the strategy's candles, estimated (``signalops.risk.measures``,
    ``historical`` or ``parametric``) from the last ``window`` of them."""

    limit: Decimal
    method: str = "historical"
    confidence: Decimal = Decimal("0.95")
    window: int = 250
    horizon: int = 1

    def __post_init__(self) -> None:
        for name in ("limit", "confidence"):
            object.__setattr__(self, name, to_decimal(getattr(self, name)))
        if not (0 < self.limit <= 1):
            raise ValueError(f"a VaR/CVaR limit must be a fraction in (0, 1], got {self.limit}")
        if self.method not in ("historical", "parametric"):
            raise ValueError(f"method must be historical or parametric, got {self.method!r}")

    def model(self) -> TailRiskModel:
        """The estimate's model (``TailRiskModel``; numpy is imported only when asked)."""
        from signalops.risk.measures import Method, TailRiskModel

        return TailRiskModel(Method(self.method), float(self.confidence), self.window, self.horizon)

    def to_dict(self) -> dict[str, Any]:
        return {
            "limit": self.limit,
            "method": self.method,
            "confidence": self.confidence,
            "window": self.window,
            "horizon": self.horizon,
        }

    def stricter_than(self, other: TailLimit) -> bool:
        """Allows less: a lower limit (the estimate's settings are the stricter one's)."""
        return self.limit < other.limit


_ZERO, _ONE = Decimal(0), Decimal(1)
_DECIMALS = ("max_position", "max_exposure", "max_daily_loss", "min_notional")
_FRACTIONS = ("max_position", "max_exposure", "max_daily_loss")
_WHOLE = ("max_data_age", "max_orders_per_hour", "cooldown")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits the gate enforces. Money is ``Decimal`` in the quote currency; durations are
    whole seconds; fractions are of equity. The defaults are the cautious ones:

    - ``kill_switch_file`` None: no file is watched until the config names one;
    - ``trading_state`` ACTIVE;
    - ``max_data_age`` 15 minutes: a decision acted on later than that (a late approval) is
      re-evaluated instead; equal to the default approval expiry. Unless a config sets it, the
      pipeline raises it to the strategy's own staleness (``following_timeframe``);
    - ``max_position`` 10% of equity per asset, ``max_exposure`` 50% of equity in positions:
      at least half the portfolio stays in cash;
    - ``max_daily_loss`` 3% of the day's starting equity: after that, no new BUYs that day;
    - ``max_orders_per_hour`` 10: a strategy on candles trades a few times a day, so more is a
      runaway loop;
    - ``cooldown`` 1 hour per asset and strategy: no buying back what was just sold (whipsaw);
    - ``min_notional`` 10: below typical exchange minimums, and fees eat it;
    - ``max_notional`` 10,000: an absolute per-order cap that holds even if equity is miscounted
      (None: no absolute cap);
    - ``kelly`` None: sizing follows ``position_size`` alone;
    - ``max_sector`` None: no limit on one sector's share of equity (sectors come from the
      config's ``sectors:``; an asset without one is its own sector);
    - ``max_var``/``max_cvar`` None: no tail-risk limit (``TailLimit``);
    - ``kelly_from_trades`` None: no Kelly sizing from measured trades (``KellyFromTrades``).

    The last four are recorded (``to_dict``) only when set, so the records of a config without
    them are those of a version that did not have them.
    """

    kill_switch_file: str | None = None
    trading_state: TradingState = TradingState.ACTIVE
    max_data_age: int = 900
    max_position: Decimal = Decimal("0.10")
    max_exposure: Decimal = Decimal("0.50")
    max_daily_loss: Decimal = Decimal("0.03")
    max_orders_per_hour: int = 10
    cooldown: int = 3600
    min_notional: Decimal = Decimal("10")
    max_notional: Decimal | None = Decimal("10000")
    kelly: Kelly | None = None
    max_sector: Decimal | None = None
    max_var: TailLimit | None = None
    max_cvar: TailLimit | None = None
    kelly_from_trades: KellyFromTrades | None = None

    def __post_init__(self) -> None:
        # Built for every decision (a strategy's ``risk:`` and the timeframe each replace one
        # field): values that already have their type are not converted again.
        set_ = object.__setattr__
        if type(self.trading_state) is not TradingState:
            set_(self, "trading_state", TradingState(self.trading_state))
        for name in _DECIMALS:
            value = getattr(self, name)
            if type(value) is not Decimal:
                set_(self, name, to_decimal(value))
        if self.max_notional is not None and type(self.max_notional) is not Decimal:
            set_(self, "max_notional", to_decimal(self.max_notional))
        if isinstance(self.kelly, Mapping):
            set_(self, "kelly", Kelly(**self.kelly))
        if self.max_sector is not None and type(self.max_sector) is not Decimal:
            set_(self, "max_sector", to_decimal(self.max_sector))
        if self.max_sector is not None and not (_ZERO <= self.max_sector <= _ONE):
            raise ValueError(f"max_sector must be a fraction from 0 to 1, got {self.max_sector}")
        for name in ("max_var", "max_cvar"):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                set_(self, name, TailLimit(**value))
        if isinstance(self.kelly_from_trades, Mapping):
            set_(self, "kelly_from_trades", KellyFromTrades(**self.kelly_from_trades))
        for name in _FRACTIONS:
            value = getattr(self, name)
            if not (_ZERO <= value <= _ONE):
                raise ValueError(f"{name} must be a fraction from 0 to 1, got {value}")
        for name in _WHOLE:
            value = getattr(self, name)
            whole = type(value) is int or (isinstance(value, int) and not isinstance(value, bool))
            if not whole or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
        if self.min_notional < 0:
            raise ValueError(f"min_notional must be >= 0, got {self.min_notional}")
        if self.max_notional is not None and self.max_notional <= 0:
            raise ValueError(f"max_notional must be > 0, got {self.max_notional}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the audit record of the limits a decision was checked against."""
        kelly = self.kelly
        return json_safe(
            {
                "kill_switch_file": self.kill_switch_file,
                "trading_state": self.trading_state,
                "max_data_age": self.max_data_age,
                "max_position": self.max_position,
                "max_exposure": self.max_exposure,
                "max_daily_loss": self.max_daily_loss,
                "max_orders_per_hour": self.max_orders_per_hour,
                "cooldown": self.cooldown,
                "min_notional": self.min_notional,
                "max_notional": self.max_notional,
                "kelly": None
                if kelly is None
                else {
                    "fraction": kelly.fraction,
                    "win_rate": kelly.win_rate,
                    "payoff": kelly.payoff,
                },
                **self._optional(),
            }
        )

    def _optional(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.max_sector is not None:
            found["max_sector"] = self.max_sector
        for name in ("max_var", "max_cvar", "kelly_from_trades"):
            value = getattr(self, name)
            if value is not None:
                found[name] = value.to_dict()
        return found


DEFAULT_LIMITS = RiskLimits()


def following_timeframe(limits: RiskLimits, max_ages: Iterable[int]) -> RiskLimits:
    """``limits`` with ``max_data_age`` raised to the largest of the leaves' ``max_age``s.

    For a ``max_data_age`` no config set: a daily strategy's data is a day old most of the day,
    and each leaf already refused data older than its own ``max_age`` (two bars of its candle
    timeframe by default), so 15 minutes would deny DATA_STALE every cycle but the one just
    after midnight. Never lowered below the limits' own value (15 minutes by default).
    """
    longest = max(max_ages, default=0)
    if longest <= limits.max_data_age:
        return limits
    return replace(limits, max_data_age=longest)


def kill_switch_active(limits: RiskLimits) -> bool:
    """True when the kill switch file exists (a dangling symlink counts); a path that cannot be
    checked (e.g. a folder without permission) counts as on: fail closed.

    Kept out of ``check`` so that the checks are pure functions of their arguments (replayable);
    the caller looks once per cycle and passes the answer in ``RiskState``.
    """
    if limits.kill_switch_file is None:
        return False
    try:
        Path(limits.kill_switch_file).expanduser().lstat()
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, ValueError, RuntimeError):
        return True
    return True


__all__ = [
    "DEFAULT_LIMITS",
    "Kelly",
    "KellyFromTrades",
    "RiskLimits",
    "TailLimit",
    "TradingState",
    "following_timeframe",
    "kill_switch_active",
]
