"""The compiled trees kept in the process, read from threads, and what they may not answer.

A long-running reader (the dashboard, the Telegram poller) reads records from several threads
at once: the trees kept by hash (``signalops.audit.expand``) and the tree hash kept per strategy
object (``signalops.audit.trees``) must be filled and evicted safely, whatever the threads do.
And a tree kept in the process may spare rebuilding it, never the question whether the log
still stores it: the one-record check (``verify.check_record``, what ``why`` checks the record
it shows with) must name a deleted ``trees`` row although this process has the tree.
"""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from attacks import attacker
from audit_scenarios import AS_OF, SCENARIOS, STRATEGY

from signalops.audit import expand, trees
from signalops.audit.expand import PROBLEMS
from signalops.audit.store import AuditLog
from signalops.audit.verify import check_record
from signalops.audit.why import find_decision
from signalops.errors import AuditError

STRATEGIES = [replace(STRATEGY, file=f"copy_{n}.yaml") for n in range(400)]  # 400 distinct trees


@pytest.fixture
def busy_threads() -> Iterator[None]:
    """Threads switched as often as the interpreter can: a race shows in a few seconds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_the_kept_trees_and_tree_hashes_are_safe_to_fill_and_read_from_many_threads(
    busy_threads: None,
) -> None:
    hashes = [trees.tree_hash(strategy) for strategy in STRATEGIES]
    errors: list[BaseException] = []

    def read(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(20_000):
                if errors:
                    return
                n = rng.randrange(len(STRATEGIES))
                assert trees.tree_hash(STRATEGIES[n]) == hashes[n]
                expand.remember(STRATEGIES[n])  # more trees than are kept: evictions all along
                cited = rng.choice(hashes)
                try:
                    tree = expand.tree_of({"strategy": {"tree": cited}})
                except AuditError:
                    continue  # evicted already: not known here, and said so
                assert tree is STRATEGY.tree
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


@pytest.fixture
def compact_log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.db"
    with AuditLog(path) as log:
        log.remember_strategy(STRATEGY)
        for day, situation in enumerate(("hold", "blocked", "buy", "denied")):
            log.append(SCENARIOS.record(situation, as_of=AS_OF + timedelta(days=day)))
    return path


def test_the_one_record_check_names_a_deleted_tree_row_although_the_process_has_the_tree(
    compact_log: Path,
) -> None:
    expand.remember(STRATEGY)  # this process has the tree the records cite
    with AuditLog.open_readonly(compact_log) as log:
        shown = find_decision(log, "BTC", AS_OF)
        assert shown is not None and PROBLEMS not in shown
        assert check_record(log, shown) == []

    db = attacker(compact_log)
    db.execute("DELETE FROM trees")
    db.commit()
    db.close()

    with AuditLog.open_readonly(compact_log) as log:
        shown = find_decision(log, "BTC", AS_OF)
        assert shown is not None
        problems = check_record(log, shown)
        assert any("does not store the tree" in problem for problem in problems), problems
        stored = log.get(shown["decision_id"])
        assert stored is not None
        problems = check_record(log, stored)  # the record as stored: the same answer
        assert any("does not store the tree" in problem for problem in problems), problems
