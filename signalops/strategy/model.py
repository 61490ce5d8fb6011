"""The compiled strategy: what the engine, the risk gate and the audit log work with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from signalops.errors import StrategyError
from signalops.evaluation.tree import DecisionTree, Evaluation
from signalops.observation import DataError, Observation, Request

DEFAULT_POSITION_SIZE = 0.01
DEFAULT_ACTION_MODE = "paper"


@dataclass(frozen=True, slots=True)
class Execution:
    """How a verdict turns into an order. Defaults are the cautious ones: 1% size, paper mode."""

    require_confirmations: int
    position_size: float = DEFAULT_POSITION_SIZE
    action_mode: str = DEFAULT_ACTION_MODE


@dataclass(frozen=True, slots=True)
class Strategy:
    """A validated, compiled strategy file.

    ``content_hash`` is the sha256 of the canonical JSON of the file's content (comments and
    formatting do not change it; any value does), which audit records cite. ``document`` is that
    content, kept so a decision can be replayed from the record alone. ``risk`` is the file's
    schema-valid ``risk:`` section as written (empty when absent); ``signalops.config.limits_for``
    turns it into the limits that apply, which can only be tighter than the global ones.
    ``warnings`` are what the compiler found odd but not wrong (a threshold that looks written in
    another unit), with their file:line:column, for ``signalops validate`` to show.
    """

    name: str
    description: str | None
    assets: tuple[str, ...]
    params: Mapping[str, Any]
    tree: DecisionTree
    execution: Execution
    exit_confirmations: int | None
    content_hash: str
    file: str
    document: Mapping[str, Any]
    risk: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    warnings: tuple[StrategyError, ...] = field(default=(), compare=False)

    def evaluate(
        self,
        observations: Mapping[Request, Observation | DataError],
        as_of: datetime,
        asset: str,
    ) -> Evaluation:
        return self.tree.evaluate(observations, as_of, asset)

    def requests(self, asset: str) -> tuple[Request, ...]:
        return self.tree.requests(asset)
