"""One event-driven backtest per asset, as tasks: ``signalops backtest --each-asset``.

    runs = run_each_asset(strategy, text, store=store, start=..., end=..., out_dir="reports/x",
                          executor=connect(None))

Each asset is backtested alone through ``run_backtest`` (the live pipeline, its own starting
cash and book), one task per asset, and writes its audit log and ``metrics.json`` into
``out_dir/<asset>/``. On a Ray cluster of several machines that folder is on the machine that
ran the task (the same path on each): give ``--report`` a folder they share to collect them. An
asset whose backtest fails (no candles, say) is reported with its error; the others are kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from signalops.adapters.snapshots import SnapshotStore
from signalops.research.executors import Executor
from signalops.research.sweeps import Progress, share_market
from signalops.research.tasks import AssetJob, AssetRun, Failed, Settings, backtest_asset
from signalops.strategy.model import Strategy

__all__ = ["EachAsset", "run_each_asset"]


@dataclass(frozen=True)
class EachAsset:
    strategy: str
    start: datetime
    end: datetime
    runs: tuple[AssetRun, ...]  # in the order the assets were given
    failed: tuple[Failed, ...]
    out_dir: Path


def run_each_asset(
    strategy: Strategy,
    text: str,
    *,
    store: SnapshotStore,
    start: datetime,
    end: datetime,
    out_dir: str | Path,
    executor: Executor,
    assets: Sequence[str] | None = None,
    every: timedelta | None = None,
    horizon: timedelta,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> EachAsset:
    """Backtest ``strategy`` (compiled from ``text``) on each of ``assets`` (default: all of
    the strategy's) on its own."""
    settings = settings or Settings()
    root = Path(out_dir).resolve()  # workers may not share this process's working folder
    jobs = [
        AssetJob(
            text,
            strategy.file,
            asset,
            start,
            end,
            every,
            horizon,
            str(root / _folder(asset)),
            settings,
        )
        for asset in dict.fromkeys(assets or strategy.assets)
    ]
    shared = share_market(executor, store, [strategy])
    runs: dict[str, AssetRun] = {}
    failed: dict[str, Failed] = {}
    for done, finished in enumerate(executor.run(backtest_asset, shared, jobs), 1):
        asset = finished.item.asset
        if finished.value is not None:
            runs[asset] = finished.value
        else:
            failed[asset] = Failed(asset, finished.error or "failed")
        if progress is not None:
            progress("backtest", done, len(jobs))
    order = [job.asset for job in jobs]
    return EachAsset(
        strategy.name,
        start,
        end,
        tuple(runs[a] for a in order if a in runs),
        tuple(failed[a] for a in order if a in failed),
        Path(out_dir),
    )


def _folder(asset: str) -> str:
    """An asset as a folder name (``BRK/B`` -> ``BRK_B``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", asset).strip("._") or "asset"
