"""Crash recovery: ``signalops run`` killed in the middle of a cycle, then restarted.

The acceptance test runs the real CLI in a subprocess on an hourly replay whose strategy
(``tests/fixtures/slow_feed_pipeline.yaml``) trades BTC on paper and reads a SLOW plugin source
(``tests/fixtures/slow_feed_plugin``, installed through an entry point), kills it with SIGKILL
at random points three times, restarting each time over the same period, then lets it finish.
A clean, uninterrupted run of the same period runs alongside as the reference.

What must hold afterwards (DESIGN.md invariants 2 and 4): the hash chain verifies; every
(strategy, asset, as_of) of the period has exactly one decision record (none lost, none
duplicated); no client order id is filled twice, and the audit's ``fill`` records and the
paper ledger agree one to one; the paper portfolio equals the clean run's. Replays use the
simulated clock for every timestamp, so the crashed-and-restarted log must even be the clean
run's record for record: the two chain heads are equal.

The in-process tests below pin down the two crash points a random SIGKILL rarely hits: between
two decisions of one cycle, and inside the paper fill's transaction.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from run_process import (
    ASSETS,
    PLUGIN_DIR,
    SLOW_STRATEGY,
    STRATEGY_NAME,
    RunProcess,
    run_args,
)

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.canonical import iso
from signalops.execution.paper import PaperBroker
from signalops.orders import ExecutionResult, OrderIntent
from signalops.pipeline import CycleSummary, Pipeline
from signalops.workspace import load_strategies, open_workspace

# 2023-03-04 18:00 -> 2023-03-05 18:00, hourly: BTC's hourly RSI dips under 35 at 20:00-22:00
# (BUY filled, BUY denied by the one-hour cooldown, BUY filled) and tops 65 at 02:00 (SELL).
START = "2023-03-04T18:00:00Z"
END = "2023-03-05T18:00:00Z"
FIRST = datetime(2023, 3, 4, 18, tzinfo=UTC)
AS_OFS = tuple(FIRST + timedelta(hours=i) for i in range(25))
DELAY = 0.1  # seconds the slow plugin takes per cycle
# Each kill comes after this many finished cycles (a restart replays the recorded ones, so the
# ranges grow), plus a random part of the next cycle.
KILL_AFTER = ((2, 6), (9, 13), (16, 21))


def _key(decision: dict[str, Any]) -> tuple[str, str, str]:
    return decision["strategy"]["name"], decision["asset"], decision["as_of"]


def _expected_keys() -> Counter[tuple[str, str, str]]:
    return Counter((STRATEGY_NAME, asset, iso(t)) for t in AS_OFS for asset in ASSETS)


def _kinds(log: AuditLog, kind: str) -> list[dict[str, Any]]:
    return [r for r in log.records() if r["kind"] == kind]


def _portfolio(log: AuditLog) -> dict[str, Any]:
    """Cash, realised PnL and positions, derived from the paper ledger in the audit file."""
    view = PaperBroker(log.db).portfolio({}, AS_OFS[-1])
    positions = {a: (p.quantity, p.average_price) for a, p in view.positions.items() if p.quantity}
    return {"cash": view.cash, "realised": view.realised_pnl, "positions": positions}


def _state(path: Path) -> tuple[int, int]:
    """(decisions, fills) recorded so far in the audit file."""
    if not path.exists():
        return 0, 0
    with AuditLog(path) as log:
        return len(log.decisions(limit=None)), len(_kinds(log, "fill"))


def _assert_fills_match_the_ledger(log: AuditLog) -> list[str]:
    """Audit ``fill`` records and ``paper_fills`` rows, one to one; returns the order ids."""
    recorded = _kinds(log, "fill")
    ids = [r["client_order_id"] for r in recorded]
    assert len(ids) == len(set(ids)), f"a client order id was filled twice: {Counter(ids)}"
    ledger = PaperBroker(log.db).fills()
    assert [f.client_order_id for f in ledger] == ids
    assert [r["fill"] for r in recorded] == [f.to_dict() for f in ledger]
    for record in recorded:
        decision = log.get(record["decision_id"])
        assert decision is not None and decision["execution"]["status"] == "FILLED"
    return ids


@pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform: cannot kill uncatchably"
)
def test_sigkill_mid_cycle_three_times_then_restart_loses_no_record_and_repeats_no_order(
    replay_dir: Path, tmp_path: Path
) -> None:
    seed = int(os.environ.get("SIGNALOPS_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    clean_dir, crash_dir = tmp_path / "clean", tmp_path / "crash"
    clean_dir.mkdir()
    crash_dir.mkdir()
    clean_audit, crash_audit = clean_dir / "audit.db", crash_dir / "audit.db"
    kills: list[dict[str, Any]] = []

    # The reference run goes alongside the crashing ones (the test stays well under a minute).
    clean = RunProcess(run_args(replay_dir, clean_audit, START, END), cwd=clean_dir, delay=DELAY)
    try:
        for low, high in KILL_AFTER:
            after, pause = rng.randint(low, high), rng.uniform(0, 1.5 * DELAY)
            run = RunProcess(
                run_args(replay_dir, crash_audit, START, END), cwd=crash_dir, delay=DELAY
            )
            try:
                run.wait_for_lines(after, timeout=30)
                time.sleep(pause)
                run.send(signal.SIGKILL)
                code = run.finish(timeout=10)
            finally:
                run.stop()
            decisions, fills = _state(crash_audit)
            kills.append(
                {"after": after, "pause": round(pause, 3), "decisions": decisions, "fills": fills}
            )
            context = f"seed {seed}, kills {kills}"
            assert code == -signal.SIGKILL, context
            assert run.stderr() == "", context  # killed, not crashed on its own
            assert decisions < 2 * len(AS_OFS), f"the run finished before the kill: {context}"

        final = RunProcess(
            run_args(replay_dir, crash_audit, START, END), cwd=crash_dir, delay=DELAY
        )
        try:
            assert final.finish(timeout=40) == 0, final.stderr()
        finally:
            final.stop()
        assert clean.finish(timeout=40) == 0, clean.stderr()
    finally:
        clean.stop()

    context = f"seed {seed}, kills {kills}"
    print(context)  # shown with -s or on failure: which kill points this run exercised
    # The last restart replayed the recorded cycles without recording them again.
    assert len(final.cycle_lines()) == len(AS_OFS)
    assert "(2 already recorded)" in final.cycle_lines()[0], context
    progress = [k["decisions"] for k in kills]
    assert progress == sorted(progress), context

    with AuditLog(crash_audit) as log, AuditLog(clean_audit) as reference:
        report = verify(log)
        assert report.ok, f"{context}\n{report}"
        assert Counter(_key(d) for d in log.decisions(limit=None)) == _expected_keys(), context
        crash_ids = _assert_fills_match_the_ledger(log)
        clean_ids = _assert_fills_match_the_ledger(reference)
        assert crash_ids == clean_ids, context
        sides = [r["fill"]["side"] for r in _kinds(reference, "fill")]
        assert "BUY" in sides and "SELL" in sides  # the period really trades both ways
        assert _portfolio(log) == _portfolio(reference), context
        # Same records, same order, same hashes: nothing lost, doubled or reordered.
        assert log.head() == reference.head(), context
        assert verify(reference).ok


# --- the same crash points, placed exactly, in process --------------------------------------


class Killed(BaseException):
    """The process dies here: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def slow_feed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The test plugin installed in this process (its entry point on sys.path), with no delay."""
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    monkeypatch.syspath_prepend(str(PLUGIN_DIR))
    monkeypatch.setenv("SLOW_FEED_DELAY", "0")
    monkeypatch.delenv("SIGNALOPS_AUDIT", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./signalops.yaml: the built-in config
    yield
    sys.modules.pop("slow_feed", None)


def _run(
    audit: Path,
    store: SnapshotStore,
    *,
    broker: Callable[..., PaperBroker] = PaperBroker,
    on_progress: Callable[[datetime, int], None] | None = None,
) -> list[CycleSummary]:
    """What ``signalops run --replay`` does, in process: workspace, pipeline, simulated clock."""
    workspace = open_workspace(audit=audit)
    paper = workspace.config.paper
    workspace.broker = broker(
        workspace.audit.db,
        starting_cash=paper.starting_cash,
        fee_bps=paper.fee_bps,
        slippage_bps=paper.slippage_bps,
    )
    now = {"as_of": AS_OFS[0]}
    pipeline = Pipeline(
        strategies=load_strategies([SLOW_STRATEGY]),
        adapters=registry.replay_adapters(store),
        audit=workspace.audit,
        broker=workspace.broker,
        config=workspace.config,
        clock=lambda: now["as_of"],
    )
    if on_progress is not None:
        pipeline.on_progress = lambda done, _total: on_progress(now["as_of"], done)
    summaries = []
    try:
        for as_of in AS_OFS:
            now["as_of"] = as_of
            summaries.append(pipeline.cycle(as_of))
    finally:
        workspace.close()
    return summaries


BUY_HOUR = datetime(2023, 3, 4, 20, tzinfo=UTC)  # BTC's first BUY, filled


def _assert_same_as_clean_run(audit: Path, clean: Path) -> None:
    with AuditLog(audit) as log, AuditLog(clean) as reference:
        assert verify(log).ok
        assert Counter(_key(d) for d in log.decisions(limit=None)) == _expected_keys()
        assert _assert_fills_match_the_ledger(log) == _assert_fills_match_the_ledger(reference)
        assert _portfolio(log) == _portfolio(reference)
        assert log.head() == reference.head()


def test_crash_between_two_decisions_of_a_cycle_restart_records_only_the_missing_one(
    slow_feed: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    _run(tmp_path / "clean.db", replay_store)
    audit = tmp_path / "audit.db"

    def die_after_btc(as_of: datetime, done: int) -> None:
        if as_of == BUY_HOUR and done == 1:  # BTC decided, bought and recorded; ETH not yet
            raise Killed

    with pytest.raises(Killed):
        _run(audit, replay_store, on_progress=die_after_btc)
    with AuditLog(audit) as log:
        at_crash = [(d["asset"], d["verdict"]) for d in log.decisions(since=BUY_HOUR)]
        assert at_crash == [("BTC", "BUY")]
        assert len(_kinds(log, "fill")) == 1

    summaries = _run(audit, replay_store)

    restarted = summaries[AS_OFS.index(BUY_HOUR)]
    assert [(o.asset, o.skipped) for o in restarted.outcomes] == [("BTC", True), ("ETH", False)]
    _assert_same_as_clean_run(audit, tmp_path / "clean.db")


class DiesBeforeCommit(PaperBroker):
    """Fills, then the process dies before the transaction holding the fill commits."""

    def execute(self, intent: OrderIntent, *, as_of: datetime) -> ExecutionResult:
        result = super().execute(intent, as_of=as_of)
        if as_of == BUY_HOUR:
            raise Killed
        return result


def test_crash_inside_the_paper_fill_transaction_leaves_nothing_and_restart_fills_once(
    slow_feed: None, replay_store: SnapshotStore, tmp_path: Path
) -> None:
    _run(tmp_path / "clean.db", replay_store)
    audit = tmp_path / "audit.db"

    with pytest.raises(Killed):
        _run(audit, replay_store, broker=DiesBeforeCommit)
    with AuditLog(audit) as log:
        # Neither the decision, nor its fill record, nor the ledger row: all or nothing.
        assert log.decisions(since=BUY_HOUR) == []
        assert _kinds(log, "fill") == []
        assert PaperBroker(log.db).fills() == []
        assert PaperBroker(log.db).starting_cash == Decimal("10000")

    summaries = _run(audit, replay_store)

    restarted = summaries[AS_OFS.index(BUY_HOUR)]
    assert [o.status.value for o in restarted.outcomes if not o.skipped] == [
        "FILLED",
        "NOT_EXECUTED",
    ]
    _assert_same_as_clean_run(audit, tmp_path / "clean.db")
