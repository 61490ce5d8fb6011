"""A backtest beside its vetoes-removed baseline: the value ``run_study`` makes and reports read.

It sits below both ``study`` (which runs the two backtests) and ``report`` (which writes them
out), so neither has to import the other's module to know the shape of a study.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from signalops.backtest.filters import Accounting, Counterfactual, failed_closed
from signalops.backtest.ledger import Decision
from signalops.backtest.runner import BacktestResult, BenchmarkHold


@dataclass(frozen=True)
class Study:
    result: BacktestResult
    baseline: BacktestResult | None  # None: the strategy has no vetoes, or it was not asked for
    out_dir: Path
    benchmark: BenchmarkHold | None = None  # buy-and-hold of a benchmark index, when asked for

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
        return data


def _decision_dict(decision: Decision) -> dict[str, Any]:
    return {
        "decision_id": decision.decision_id,
        "verdict": decision.verdict,
        "status": decision.status,
        "denials": list(decision.denials),
    }
