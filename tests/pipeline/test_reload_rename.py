"""Hot reload of a strategy renamed while its book holds something: refused, and it waits.

Regression tests: a reload that renamed a strategy was taken at once (``reloaded FILE (OLD ->
NEW)``), so the renamed strategy started from an empty book: its SELLs were denied NO_POSITION
and the position the old name held stayed in the ledger with nothing to sell it, for ever (a
restart under the new name too). Through the library's run loop on the replayed real data of
March 2023, the file edited between cycles as ``tests/test_hot_reload.py`` does.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

from conftest import ROOT

from signalops.pipeline.cycle import CycleSummary
from signalops.pipeline.loop import RunPlan, run_plan
from signalops.strategy import load

# Buys 0.02455527 BTC on 03-10 and sells it on 03-14 (its exit: rsi(14) > 55).
STRATEGY = ROOT / "tests/fixtures/banking_crisis_pipeline.yaml"
OLD_NAME = 'name: "Banking_Crisis_Pipeline"'
NEW_NAME = 'name: "Banking_Crisis_v2"'


def replay(
    replay_dir: Path, tmp_path: Path, edits: dict[int, Callable[[str], str]]
) -> tuple[Path, list[str], Path]:
    """Daily cycles from 2023-03-08 to 03-15; after the cycle of day ``d`` the strategy file is
    rewritten with ``edits[d]`` of its text. Returns the file, what the run printed (its cycle
    lines without their timings, and its notices) and the audit log."""
    strategy = tmp_path / "dip.yaml"
    strategy.write_text(STRATEGY.read_text())
    db = tmp_path / "audit.db"
    printed: list[str] = []

    def after(summary: CycleSummary) -> None:
        printed.append(re.sub(r"  \[\d+\.\d+s\]$", "", summary.line()))
        edit = edits.get(summary.as_of.day)
        if edit is not None:
            strategy.write_text(edit(strategy.read_text()))

    plan = RunPlan(
        strategies=(strategy,),
        replay=replay_dir,
        start=datetime(2023, 3, 8, tzinfo=UTC),
        end=datetime(2023, 3, 15, tzinfo=UTC),
        every=timedelta(days=1),
        audit=db,
    )
    run_plan(plan, on_cycle=after, on_notice=printed.append)
    return strategy, printed, db


def renamed(text: str) -> str:
    return text.replace(OLD_NAME, NEW_NAME)


def back(text: str) -> str:
    """The old name again, and a lower exit."""
    return text.replace(NEW_NAME, OLD_NAME).replace("> 55", "> 50")


def held(db: Path) -> list[tuple[str, str, str]]:
    """(strategy, side, quantity) of each paper fill, in order."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(
            "SELECT strategy, side, quantity FROM paper_fills ORDER BY seq"
        ).fetchall()


def test_a_rename_while_the_old_name_holds_waits_until_it_holds_nothing(
    replay_dir: Path, tmp_path: Path
) -> None:
    old = load(STRATEGY).content_hash

    strategy, printed, db = replay(replay_dir, tmp_path, {10: renamed})

    new = load(strategy).content_hash
    assert printed == [
        "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        f"WARNING reload refused, keeping {old}: {strategy}: renaming Banking_Crisis_Pipeline to "
        "Banking_Crisis_v2 would leave the 0.02455527 BTC Banking_Crisis_Pipeline holds "
        "unmanaged; the new version takes over once Banking_Crisis_Pipeline holds nothing",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
        "2023-03-13T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 filled)",  # the old name sold it
        f"reloaded {strategy} ({old} -> {new})",
        "2023-03-15T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)",  # nothing to sell
    ]
    assert held(db) == [
        ("Banking_Crisis_Pipeline", "BUY", "0.02455527"),
        ("Banking_Crisis_Pipeline", "SELL", "0.02455527"),
    ]


def test_a_waiting_rename_is_dropped_when_the_file_changes_again(
    replay_dir: Path, tmp_path: Path
) -> None:
    """Renamed back (with a new threshold) before the old name was flat: that version is taken
    at once, and the rename never is."""
    old = load(STRATEGY).content_hash

    strategy, printed, _ = replay(replay_dir, tmp_path, {10: renamed, 11: back})

    new = load(strategy).content_hash
    assert printed == [
        "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        f"WARNING reload refused, keeping {old}: {strategy}: renaming Banking_Crisis_Pipeline to "
        "Banking_Crisis_v2 would leave the 0.02455527 BTC Banking_Crisis_Pipeline holds "
        "unmanaged; the new version takes over once Banking_Crisis_Pipeline holds nothing",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        f"reloaded {strategy} ({old} -> {new})",
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
        "2023-03-13T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 filled)",
        "2023-03-15T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)",
    ]
