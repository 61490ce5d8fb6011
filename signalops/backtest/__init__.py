"""Backtests: the live decision pipeline replayed over recorded history, measured and reported.

    result = run_backtest(strategy, store=store, start=..., end=..., out_dir="reports/x")
    study = run_study(strategy, ...)        # + the vetoes-removed baseline + the report files
    study = run_study([a, b], ...)          # several together in one account, by strategy

Modules: ``bars`` (prices by time, no look-ahead), ``runner`` (the pipeline on a simulated
clock), ``ledger`` (equity points, fills, round trips), ``metrics`` (returns, drawdown, ratios,
win-rate statistics), ``filters`` (what blocked trades would have done; vetoes removed),
``study`` (strategy vs baseline vs buy-and-hold), ``together`` (several strategies' account by
strategy) and ``report`` (JSON, CSV, HTML with charts).
"""

from signalops.backtest.filters import DEFAULT_HORIZON, Accounting, Counterfactual, without_vetoes
from signalops.backtest.metrics import Metrics
from signalops.backtest.runner import BacktestResult, run_backtest
from signalops.backtest.study import Study, run_study

__all__ = [
    "DEFAULT_HORIZON",
    "Accounting",
    "BacktestResult",
    "Counterfactual",
    "Metrics",
    "Study",
    "run_backtest",
    "run_study",
    "without_vetoes",
]
