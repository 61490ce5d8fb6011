"""The metric catalogue: what each data source can answer, with parameter types and units.

The compiler checks every metric a strategy names against this catalogue, so a typo is a
``StrategyError`` at validate time rather than an UNKNOWN leaf at three in the morning. Adapters
declare their catalogue here; third-party adapters bring their own ``SourceCatalogue``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

ParamType = Literal["int", "number", "string", "duration"]
# The largest whole-number parameter (an indicator's period): a million bars is more history
# than any source keeps, and a bigger one overflowed numpy's integers in a backtest.
MAX_WHOLE = 1_000_000

_REQUIRED: Any = type("_Required", (), {"__repr__": lambda self: "REQUIRED"})()

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> int | None:
    """``'24h'`` -> 86400 seconds; None when ``text`` is not a duration."""
    match = _DURATION.match(text.strip())
    if not match:
        return None
    seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    return int(seconds) if seconds == int(seconds) and seconds > 0 else None


def format_duration(seconds: float) -> str:
    """86400 -> ``'1d'``; the largest unit that divides evenly, so round trips are exact."""
    for unit in ("d", "h", "m"):  # days, not weeks: "7d" reads as written
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# What a value of these units is, said where a threshold is refused for its range.
_KINDS = {"probability": "a probability", "fraction": "a fraction"}

# Units whose values are already multiplied by 100 (rsi 0-100, debt_to_equity in percent): a
# threshold written with % (30% = 0.3) on one of them is a slip. How a value of each reads.
SCALED_UNITS = {"0-100": "on a 0-100 scale", "percent": "in percent"}


def scaled_value(unit: str, value: float) -> str:
    """How ``value`` reads on a scaled unit: ``'0.3'`` on 0-100, ``'0.3%'`` in percent."""
    return f"{value:g}%" if unit == "percent" else f"{value:g}"


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a metric. ``default`` of REQUIRED means the author must give it."""

    name: str
    type: ParamType
    default: Any = _REQUIRED
    description: str = ""
    minimum: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], None] | None = None  # a further check; raises ValueError

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED

    def coerce(self, value: Any) -> Any:
        """Check and normalise an argument; raises ``ValueError`` with a readable message.

        Durations are kept as whole seconds so that ``'24h'`` and ``'1d'`` are the same request.
        """
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                raise ValueError(f"parameter '{self.name}' must be a whole number, got {value!r}")
            value = int(value)
            if abs(value) > MAX_WHOLE:  # no series is that long; numpy's C integers overflow
                raise ValueError(
                    f"parameter '{self.name}' must be at most {MAX_WHOLE:,}, got {value:,}"
                )
        elif self.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"parameter '{self.name}' must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"parameter '{self.name}' must be finite, got {value!r}")
            value = float(value)
        elif self.type == "string":
            if isinstance(value, int | float) and not isinstance(value, bool):
                # polymarket(511754): an id that looks like a number is read as one
                whole = math.isfinite(value) and value == int(value)
                shown = str(int(value)) if whole else repr(value)
                raise ValueError(
                    f"parameter '{self.name}' must be a string, got the number {shown}: "
                    f'write it in quotes ("{shown}")'
                )
            if not isinstance(value, str) or not value:
                raise ValueError(
                    f"parameter '{self.name}' must be a non-empty string, got {value!r}"
                )
        elif self.type == "duration":
            seconds = parse_duration(value) if isinstance(value, str) else None
            if seconds is None:
                raise ValueError(
                    f"parameter '{self.name}' must be a duration such as '24h' or '7d', "
                    f"got {value!r}"
                )
            value = seconds
        if self.minimum is not None and value < self.minimum:
            got = self.render(value) if self.type == "duration" else repr(value)
            raise ValueError(f"parameter '{self.name}' must be >= {self.minimum:g}, got {got}")
        if self.choices is not None and value not in self.choices:
            shown = ", ".join(self.render(c) for c in self.choices)
            got = self.render(value) if self.type == "duration" else repr(value)  # 90m, not 5400
            raise ValueError(f"parameter '{self.name}' must be one of {shown}, got {got}")
        if self.check is not None:
            try:
                self.check(value)
            except ValueError as exc:
                raise ValueError(f"parameter '{self.name}': {exc}") from None
        return value

    def render(self, value: Any) -> str:
        if self.type == "duration":
            return format_duration(value)
        if self.type == "string":
            return repr(value)
        return f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric a source can answer.

    ``asset_scoped`` metrics are asked per asset (RSI of BTC); the others are global (the odds of a
    Polymarket market, USDC supply) and are fetched once per cycle whatever the asset.
    ``max_age`` is the default staleness limit in seconds; ``max_age_bars`` instead scales it with
    the metric's ``timeframe`` parameter (two daily bars are two days, two hourly bars two hours).
    ``live_from``/``replay_from`` name the provider behind the metric in each mode when the
    source has more than one (fundamentals: yfinance snapshots or EDGAR point-in-time facts).
    ``low``/``high`` bound the values the metric can take (rsi 0 to 100, a price of a Polymarket
    outcome 0 to 1; None: no bound), so that the compiler can refuse a threshold it could never
    meet; a bound is declared only where no data can break it. ``window_step`` is how far apart
    the points a window of the metric is measured between are, where the source has one spacing
    (DeFiLlama's daily points; a metric with a ``timeframe`` is measured between its candles):
    the compiler refuses a window that is not a whole number of them, which would read as the
    next whole one.
    """

    name: str
    params: tuple[Param, ...] = ()
    unit: str = ""
    description: str = ""
    asset_scoped: bool = True
    max_age: int | None = None
    max_age_bars: int | None = None
    aliases: tuple[str, ...] = ()
    live_from: str = ""  # which provider answers a live run (when a source has several)
    replay_from: str = ""  # which provider answers a replay or backtest
    low: float | None = None
    high: float | None = None
    window_step: int | None = None

    def param(self, name: str) -> Param | None:
        for param in self.params:
            if param.name == name:
                return param
        return None

    def default_max_age(self, params: Mapping[str, Any]) -> int:
        if self.max_age_bars is not None and "timeframe" in params:
            return self.max_age_bars * int(params["timeframe"])
        if self.max_age is None:  # pragma: no cover - every declaration sets one
            raise ValueError(f"metric {self.name} declares no max_age")
        return self.max_age

    def providers(self) -> str:
        """``live: X · replay: Y`` for a metric with several possible providers, else ``''``."""
        modes = (("live", self.live_from), ("replay", self.replay_from))
        return " · ".join(f"{mode}: {who}" for mode, who in modes if who)

    def range_text(self) -> str:
        """``'a probability, from 0 to 1'``, ``'never below 0'``; ``''`` when unbounded."""
        kind = _KINDS.get(self.unit, "")
        if self.unit == "probability" and self.low != 0:
            kind = ""  # a change of probability (-1 to 1) is not one
        if self.low is not None and self.high is not None:
            bounds = f"from {self.low:g} to {self.high:g}"
        elif self.low is not None:
            bounds = f"never below {self.low:g}"
        elif self.high is not None:
            bounds = f"never above {self.high:g}"
        else:
            return ""
        return f"{kind}, {bounds}" if kind else bounds

    def signature(self) -> str:
        parts = []
        for p in self.params:
            parts.append(p.name if p.required else f"{p.name}={p.render(p.default)}")
        return f"{self.name}({', '.join(parts)})" if parts else self.name


@dataclass(frozen=True, slots=True)
class SourceCatalogue:
    """The metrics one source declares, by name and by alias."""

    source: str
    metrics: Mapping[str, MetricSpec]
    description: str = ""
    _by_alias: Mapping[str, MetricSpec] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(
        cls, source: str, metrics: Iterable[MetricSpec], description: str = ""
    ) -> SourceCatalogue:
        by_name = {m.name: m for m in metrics}
        by_alias = {alias: m for m in by_name.values() for alias in m.aliases}
        return cls(source, MappingProxyType(by_name), description, MappingProxyType(by_alias))

    def get(self, name: str) -> MetricSpec | None:
        return self.metrics.get(name) or self._by_alias.get(name)

    def names(self) -> list[str]:
        return [*self.metrics, *self._by_alias]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Every source the compiler knows, by name."""

    sources: Mapping[str, SourceCatalogue]

    @classmethod
    def of(cls, catalogues: Iterable[SourceCatalogue]) -> Catalogue:
        return cls(MappingProxyType({c.source: c for c in catalogues}))

    def find(self, name: str) -> list[tuple[SourceCatalogue, MetricSpec]]:
        """Every source declaring ``name`` (as a name or alias), in catalogue order."""
        found = []
        for source in self.sources.values():
            spec = source.get(name)
            if spec is not None:
                found.append((source, spec))
        return found

    def all_names(self) -> list[str]:
        return sorted({n for s in self.sources.values() for n in s.names()})
