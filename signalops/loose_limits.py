"""The warning ``validate`` and ``run`` give for a strategy's ``risk:`` value the config's limits
override.

A strategy's ``risk:`` section can only tighten the config's limits (``config.limits_for``): a
looser value is not an error, which would stop a running loop on a reload, but it is ignored.
A trader who wrote ``max_position: 0.5`` in their strategy ran with the config's 10 % and was
told nothing. This says, at the value, what the strategy runs with instead and where to change it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from signalops.catalogue.spec import format_duration
from signalops.config import Config, looser_than_global
from signalops.errors import StrategyError
from signalops.strategy.model import Strategy

__all__ = ["loose_limit_warnings"]

_DURATIONS = frozenset({"max_data_age", "cooldown"})


def loose_limit_warnings(file: str, strategy: Strategy, config: Config) -> Iterator[StrategyError]:
    """A warning at each of ``strategy``'s ``risk:`` values (read from ``file``) the config's
    limits override, in file order."""
    keys = looser_than_global(strategy, config)
    if not keys:
        return
    found = sorted(_warnings(file, strategy, config, keys), key=lambda w: (w.line, w.column))
    yield from found


def _warnings(
    file: str, strategy: Strategy, config: Config, keys: tuple[str, ...]
) -> Iterator[StrategyError]:
    from signalops.strategy._yaml import load_yaml, read_source

    try:
        doc = load_yaml(read_source(file, "strategy"), file)
    except (StrategyError, OSError):  # a strategy given as text, or its file gone since
        doc = None
    for key in keys:
        runs = _shown(key, getattr(config.limits, key))
        remedy = (
            "remove it: without it the limit follows the max_age of the leaves"
            if key == "max_data_age" and "max_data_age" not in config.risk
            else f"to allow more, set risk.{key} in the config"
        )
        message = (
            f"{key} {_written(strategy.risk[key])} is looser than the config's {runs} and is "
            f"ignored: a strategy's risk section only tightens the config's limits, so this "
            f"strategy runs with {runs}"
        )
        if doc is None:
            yield StrategyError(message, file=file, path=f"risk.{key}", hint=remedy)
        else:
            yield doc.error(message, ("strategy", "risk", key), hint=remedy)


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "none"
    if key in _DURATIONS and isinstance(value, int):
        return format_duration(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(getattr(value, "value", value))


def _written(value: Any) -> str:
    """A value as the file gives it (a mapping, Kelly's or VaR's, as its keys)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
