"""Held records (decisions that do not act) whose commit meets a record already in the log.

A cycle holds its HOLD/BLOCKED/denied decisions and commits them together
(``signalops.pipeline.records``). When one of them is already in the log by the time they are
committed (a restart after a crash, another connection that decided it, an append by another
path), the commit must leave that one out and write the others, never wedge the runner on the
same ``DuplicateRecordError`` for ever, and never lose a held record the log does not have.
When the commit happens while another error propagates and fails itself, the error the caller
sees must stay the first one.

On the bundled data (hourly BTC from 2023-03-04 18:00; ETH has no hourly candles and holds
every hour, ahead of BTC), as ``test_pipeline_speed_paths`` runs it.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest
from test_pipeline_speed_paths import (  # noqa: F401
    AS_OFS,
    BUY_HOUR,
    FIRST,
    _cycles,
    _decisions,
    _pipeline,
    _same_log,
    strategy,
)

from signalops.adapters import gather as engine
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.pipeline.cycle import price_requests
from signalops.strategy.model import Strategy


def _decide_elsewhere(
    path: Path, store: SnapshotStore, loaded: Strategy, at: datetime, asset: str = "ETH"
) -> None:
    """Another runner (its own connection) decides ``asset`` at ``at`` and commits it at once."""
    with AuditLog(path) as other:
        pipeline, now = _pipeline(other, store, loaded)
        now["as_of"] = at
        requests = [*loaded.requests(asset), *price_requests(asset)]
        answers = engine.gather(requests, pipeline.adapters, at)
        pipeline.decide(loaded, asset, at, answers)


@pytest.mark.parametrize(
    ("at", "when"),
    [
        (FIRST, "at the end of the cycle (BTC holds too)"),
        (BUY_HOUR, "first in the transaction of BTC's paper fill"),
    ],
)
def test_a_held_record_already_in_the_log_is_left_out_and_the_others_are_written(
    replay_store: SnapshotStore,
    strategy: Strategy,  # noqa: F811
    tmp_path: Path,
    at: datetime,
    when: str,
) -> None:
    _cycles(tmp_path / "clean.db", replay_store, strategy)
    path = tmp_path / "audit.db"

    def eth_decided_elsewhere_while_held(as_of: datetime, done: int) -> None:
        if as_of == at and done == 1:  # this runner holds ETH's HOLD, not yet committed
            _decide_elsewhere(path, replay_store, strategy, at)

    # Every cycle runs: the held ETH is found in the log and left out, BTC's records written.
    _cycles(path, replay_store, strategy, eth_decided_elsewhere_while_held)

    # The same log as one runner alone writes: nothing lost, nothing twice, same chain.
    _same_log(path, tmp_path / "clean.db")


def test_after_every_held_record_was_found_in_the_log_none_stays_held_and_recording_goes_on(
    replay_store: SnapshotStore,
    strategy: Strategy,  # noqa: F811
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        pipeline, now = _pipeline(audit, replay_store, strategy)

        def both_decided_elsewhere_while_held(done: int, _total: int) -> None:
            if now["as_of"] == FIRST:  # every record this cycle holds is in the log by its end
                asset = ("ETH", "BTC")[done - 1]
                _decide_elsewhere(path, replay_store, strategy, now["as_of"], asset)

        pipeline.on_progress = both_decided_elsewhere_while_held
        for as_of in AS_OFS[:3]:
            now["as_of"] = as_of
            summary = pipeline.cycle(as_of)
            assert [o.asset for o in summary.outcomes] == ["ETH", "BTC"]
            assert pipeline._held.records == []  # nothing left behind to fail again
        assert len([r for r in audit.records() if r["kind"] == "decision"]) == 6
        assert verify(audit).ok


def test_a_cycle_whose_error_path_commit_fails_raises_its_own_error_and_keeps_the_record(
    replay_store: SnapshotStore,
    strategy: Strategy,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "audit.db"
    with AuditLog(path, timeout=0.05) as audit, closing(sqlite3.connect(path)) as blocker:
        pipeline, _ = _pipeline(audit, replay_store, strategy)

        def bug_while_the_log_is_locked(done: int, _total: int) -> None:
            if done == 1:  # ETH's HOLD is held
                blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
                raise RuntimeError("a bug after ETH was decided")

        pipeline.on_progress = bug_while_the_log_is_locked
        with (
            caplog.at_level(logging.ERROR, logger="signalops"),
            pytest.raises(RuntimeError, match="a bug after ETH"),
        ):
            pipeline.cycle(FIRST)
        assert "could not be committed" in caplog.text
        assert "database is locked" in caplog.text

        blocker.rollback()
        pipeline.on_progress = None
        pipeline.records.flush()  # the held HOLD was kept, not lost: it is committed now
        assert _decisions(path, FIRST) == [("ETH", "HOLD")]
        assert verify(audit).ok
