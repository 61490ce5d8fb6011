"""Filter on vs off: a strategy, the same strategy with its vetoes removed, and buy-and-hold.

``run_study`` is what ``signalops backtest`` calls: the backtest, its vetoes-removed baseline
through the same backtest (same data, period, fills, risk limits; its own audit log), then the
report files. For each block it also says what the baseline did at that same decision time: a
block only changed the outcome if, without the veto, the order would have passed the risk gate
(a BUY blocked during a cooldown would have been denied anyway).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from signalops.adapters.store import SnapshotStore
from signalops.backtest.bars import NEXT_OPEN
from signalops.backtest.filters import DEFAULT_HORIZON, Counterfactual, without_vetoes
from signalops.backtest.ledger import Decision
from signalops.backtest.runner import BacktestResult, run_backtest
from signalops.config import Config
from signalops.strategy.model import Strategy

BASELINE_AUDIT_FILE = "baseline.db"

StudyProgress = Callable[[str, int, int], None]
"""``(which run: "strategy" or "baseline", periods done, periods in all)``."""


@dataclass(frozen=True)
class Study:
    result: BacktestResult
    baseline: BacktestResult | None  # None: the strategy has no vetoes, or it was not asked for
    out_dir: Path

    def baseline_decision(self, blocked: Counterfactual) -> Decision | None:
        """What the vetoes-removed strategy decided at the blocked decision's time."""
        if self.baseline is None:
            return None
        return self.baseline.decision(blocked.as_of, blocked.asset)

    @property
    def blocks_that_mattered(self) -> int:
        """Blocks at times when the baseline actually traded (its order filled)."""
        found = (self.baseline_decision(item) for item in self.result.blocked.items)
        return sum(1 for d in found if d is not None and d.status == "FILLED")

    def to_dict(self) -> dict[str, Any]:
        data = self.result.to_dict()
        data["buy_and_hold"] = self.result.benchmark.to_dict() if self.result.benchmark else None
        data["baseline"] = None if self.baseline is None else self.baseline.to_dict()
        blocked = data["blocked"]
        for item, shown in zip(self.result.blocked.items, blocked["decisions"], strict=True):
            match = self.baseline_decision(item)  # in the baseline's own audit log
            shown["without_vetoes"] = None if match is None else _decision_dict(match)
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


def run_study(
    strategy: Strategy,
    *,
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    out_dir: str | Path,
    every: timedelta | None = None,
    assets: Sequence[str] | None = None,
    config: Config | None = None,
    fill: str = NEXT_OPEN,
    horizon: timedelta = DEFAULT_HORIZON,
    risk_free: float = 0.0,
    baseline: bool = True,
    progress: StudyProgress | None = None,
    report: bool = True,
) -> Study:
    """Backtest ``strategy`` and (if it has vetoes and ``baseline``) its vetoes-removed twin,
    then write the report into ``out_dir``."""
    out = Path(out_dir)
    common: dict[str, Any] = dict(
        store=store,
        start=start,
        end=end,
        out_dir=out,
        every=every,
        assets=assets,
        config=config,
        fill=fill,
        horizon=horizon,
        risk_free=risk_free,
    )
    result = run_backtest(strategy, progress=_labelled(progress, "strategy"), **common)
    twin = without_vetoes(strategy) if baseline else None
    other = None
    if twin is not None:
        other = run_backtest(
            twin,
            progress=_labelled(progress, "baseline"),
            audit_file=BASELINE_AUDIT_FILE,
            **common,
        )
    study = Study(result, other, out)
    if report:
        from signalops.backtest.report import write_report

        write_report(study)
    return study


def _labelled(progress: StudyProgress | None, label: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(label, done, total)
