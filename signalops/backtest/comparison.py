"""A backtest beside its vetoes-removed baseline: the value ``run_study`` makes and reports read.

It sits below both ``study`` (which runs the two backtests) and ``report`` (which writes them
out), so neither has to import the other's module to know the shape of a study.

Beyond the runs themselves a study derives, on first use:

- ``extended``: the metrics beyond the summary (``metrics.extended_metrics``), relative to the
  ``--benchmark`` asset's buy-and-hold when there is one, else to the equal-weight buy-and-hold
  of the backtest's own assets (``relative_to`` says which), both valued at the equity curve's
  own times (``as_of_values``);
- ``parts``: the portfolio by asset and by sector (``universe.breakdown``), whose assets' net
  PnL adds up to the equity change exactly;
- ``books``: of several strategies run together, the account by strategy
  (``together.strategy_books``), whose net PnL adds up to the equity change the same way.

``to_dict`` (``metrics.json``) carries them, as ``extended``, ``universe`` and (several
strategies) ``books``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from signalops.backtest.filters import Accounting, Counterfactual, failed_closed
from signalops.backtest.ledger import Decision, EquityPoint
from signalops.backtest.metrics import ExtendedMetrics, as_of_values, extended_metrics
from signalops.backtest.runner import BacktestResult, BenchmarkHold
from signalops.backtest.together import StrategyBook, strategy_books
from signalops.backtest.universe import Breakdown, Universe, breakdown
from signalops.risk.limits import RiskLimits

# ``relative_to`` without a benchmark asset: the equal-weight buy-and-hold of the run's assets.
BUY_AND_HOLD = "buy_and_hold"


@dataclass(frozen=True)
class Study:
    result: BacktestResult
    baseline: BacktestResult | None  # None: the strategy has no vetoes, or it was not asked for
    out_dir: Path
    benchmark: BenchmarkHold | None = None  # buy-and-hold of a benchmark index, when asked for
    universe: Universe | None = None  # the --universe the assets came from, if any
    sectors: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    limits: RiskLimits | None = None  # the limits the strategy ran under (for the report)
    quote: str | None = None  # the quote currency of every asset's venue (None: they differ)
    # Of several strategies run together: the limits each ran under (``limits`` is None then).
    book_limits: Mapping[str, RiskLimits] = field(default_factory=lambda: MappingProxyType({}))
    # What the report and the terminal tell from the logs (``report.notes``,
    # ``report.sizing_lines``), read before the files moved (``run_study``; None: not read yet).
    notes: tuple[str, ...] | None = None
    sizing: tuple[str, ...] | None = None

    @cached_property
    def extended(self) -> ExtendedMetrics:
        """The strategy's metrics beyond the summary, against ``relative_to``."""
        r = self.result
        return extended_metrics(r.metrics, r.equity, r.trades, benchmark=self._against)

    @property
    def relative_to(self) -> str | None:
        """What ``extended.relative`` compares with: the benchmark asset, ``BUY_AND_HOLD``, or
        None when neither could buy (no price at the first fill)."""
        if self.benchmark is not None and self.benchmark.equity:
            return self.benchmark.asset
        return BUY_AND_HOLD if self.result.buy_and_hold else None

    @cached_property
    def _against(self) -> np.ndarray | None:
        if self.benchmark is not None and self.benchmark.equity:
            return _on_times(self.result.equity, self.benchmark.equity)
        if self.result.buy_and_hold:
            return _on_times(self.result.equity, self.result.buy_and_hold)
        return None

    @cached_property
    def parts(self) -> Breakdown:
        """The portfolio by asset and by sector."""
        return breakdown(self.result, self.sectors)

    @cached_property
    def books(self) -> tuple[StrategyBook, ...]:
        """Each strategy's book (one, the account's, when the strategy ran alone)."""
        return strategy_books(self.result)

    def baseline_decision(self, blocked: Counterfactual) -> Decision | None:
        """What the vetoes-removed strategy decided at the blocked decision's time."""
        if self.baseline is None:
            return None
        return self.baseline.decision(blocked.as_of, blocked.asset)

    @cached_property
    def failed_closed(self) -> frozenset[str]:
        """The blocked decisions whose every blocking veto had no data (UNKNOWN: fail closed)."""
        if not self.result.blocked.items:
            return frozenset()
        return failed_closed(self.result.audit_path)

    @property
    def blocked_by_kind(self) -> tuple[Accounting, Accounting]:
        """(blocks by a passing veto, blocks that failed closed): see ``filters``."""
        return self.result.blocked.by_kind(self.failed_closed)

    @property
    def blocks_that_mattered(self) -> int:
        """Blocks at times when the baseline actually traded (its order filled)."""
        found = (self.baseline_decision(item) for item in self.result.blocked.items)
        return sum(1 for d in found if d is not None and d.status == "FILLED")

    def to_dict(self) -> dict[str, Any]:
        data = self.result.to_dict()
        data["buy_and_hold"] = self.result.benchmark.to_dict() if self.result.benchmark else None
        data["baseline"] = None if self.baseline is None else self.baseline.to_dict()
        data["benchmark"] = None if self.benchmark is None else self.benchmark.to_dict()
        blocked = data["blocked"]
        for item, shown in zip(self.result.blocked.items, blocked["decisions"], strict=True):
            match = self.baseline_decision(item)  # in the baseline's own audit log
            shown["without_vetoes"] = None if match is None else _decision_dict(match)
            shown["failed_closed"] = item.decision_id in self.failed_closed
        passing, closed = self.blocked_by_kind
        blocked["by_passing_veto"] = passing.counts(blocked=True)
        blocked["failed_closed"] = closed.counts(blocked=True)
        mattered = None if self.baseline is None else self.blocks_that_mattered
        blocked["blocks_that_mattered"] = mattered
        data["extended"] = {**self.extended.to_dict(), "relative_to": self.relative_to}
        source = None if self.universe is None else self.universe.source
        data["universe"] = {"source": source, **self.parts.to_dict()}
        if self.result.others:
            data["books"] = {book.name: book.to_dict() for book in self.books}
        return data


def _on_times(curve: Sequence[EquityPoint], series: Sequence[EquityPoint]) -> np.ndarray:
    """``series``' equity at each of ``curve``'s times (the last value at or before it)."""
    return as_of_values(
        [p.time for p in curve], [p.time for p in series], [float(p.equity) for p in series]
    )


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "verdict": decision.verdict,
        "status": decision.status,
        "denials": list(decision.denials),
    }
