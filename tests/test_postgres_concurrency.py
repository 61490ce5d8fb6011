"""Several ``signalops`` processes on one PostgreSQL log at once, as machines would run them.

Every process here is the real CLI in its own interpreter (``python -m signalops``), connected
as the writer role to a database of the module's throw-away server (the fixtures and helpers of
``tests/test_postgres_e2e.py``). The runs are the hourly replay of
``tests/fixtures/slow_feed_pipeline.yaml`` (2023-03-04 18:00 -> 03-05 18:00: BTC bought in the
evening dip, sold in the 02:00 bounce; ETH has no hourly candles and holds), whose slow plugin
source (``tests/fixtures/slow_feed_plugin``) makes each cycle last long enough for another
process to act in the middle of a run; and a second strategy on the same feed for a second
runner. What must hold (issue 14): one chain that verifies, each decision exactly once, each
record under the runner that wrote it, no order twice, and approvals answered exactly once.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import ROOT, invoke
from run_process import SLOW_STRATEGY, STRATEGY_NAME, RunProcess, plugin_env
from test_postgres_e2e import (  # noqa: F401  (fixtures)
    STRATEGY,
    Database,
    Postgres,
    _no_inherited_log,
    clean_env,
    ok,
    serve,
    signalops,
    unsealed,
)

from signalops.audit.interface import AuditStore
from signalops.audit.postgres import PostgresAuditLog
from signalops.audit.store import AuditLog
from signalops.execution.paper import PaperBroker

START, END = "2023-03-04T18:00:00Z", "2023-03-05T18:00:00Z"
FIRST = datetime(2023, 3, 4, 18, tzinfo=UTC)
AS_OFS = tuple(f"{FIRST + timedelta(hours=i):%Y-%m-%dT%H:%M:%SZ}" for i in range(25))
DELAY = 0.1  # seconds the slow plugin takes per fetch: a run lasts a few seconds
SECOND_NAME = "Slow_Feed_Second"
# The second runner's strategy: another entry level on the same feed, BTC only.
SECOND = f"""\
strategy:
  name: "{SECOND_NAME}"
  assets: ["BTC"]
  defaults:
    params:
      timeframe: 1h
  rules:
    - id: rsi_low
      source: technical
      conditions:
        - when: "rsi(14) < 40"
    - id: feed_has_a_price
      source: slow_feed
      conditions:
        - metric: last_price
          operator: ">"
          threshold: 1000
  exit:
    rules:
      - id: rsi_high
        source: technical
        conditions:
          - when: "rsi(14) > 60"
  execution:
    position_size: 0.02
    action_mode: paper
"""


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from serve()


needs_sigkill = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL"), reason="no SIGKILL on this platform: cannot kill uncatchably"
)


# --- helpers --------------------------------------------------------------------------------------


def run_args(replay_dir: Path, strategy: Path, audit: str, runner: str, *extra: str) -> list[str]:
    # -q: ETH has no hourly candles, so each cycle also warns of data errors on stderr.
    return [
        sys.executable, "-m", "signalops", "-q", "run", str(strategy),
        "--replay", str(replay_dir), "--from", START, "--to", END, "--every", "1h",
        "--audit", audit, "--runner", runner, *extra,
    ]  # fmt: skip


def runner_process(
    replay_dir: Path,
    strategy: Path,
    audit: str,
    runner: str,
    cwd: Path,
    *extra: str,
    delay: float = DELAY,
) -> RunProcess:
    """``signalops run`` of the hourly replay as ``runner``, started now."""
    folder = cwd / runner
    folder.mkdir(exist_ok=True)  # each in a folder of its own, as on its own machine
    return RunProcess(
        run_args(replay_dir, strategy, audit, runner, *extra), cwd=folder, delay=delay
    )


def second_strategy(tmp_path: Path) -> Path:
    path = tmp_path / "slow_feed_second.yaml"
    path.write_text(SECOND, encoding="utf-8")
    return path


def finished(*runs: RunProcess, timeout: float = 90) -> None:
    """Each run ended by itself, cleanly, with nothing on stderr (all are stopped, whatever
    happens)."""
    try:
        codes = [run.finish(timeout=timeout) for run in runs]
    finally:
        for run in runs:
            run.stop()
    for run, code in zip(runs, codes, strict=True):
        assert (code, run.stderr()) == (0, ""), (run.lines, run.stderr())


def outputs(processes: dict[str, subprocess.Popen[str]]) -> dict[str, tuple[int, str, str]]:
    """(exit status, stdout, stderr) of each process, once all have ended (all are killed on
    the way out, whatever happens)."""
    try:
        done = {}
        for name, process in processes.items():
            stdout, stderr = process.communicate(timeout=120)
            done[name] = (process.returncode, stdout, stderr)
        return done
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def keys(decisions: Iterable[dict[str, Any]]) -> Counter[tuple[str, str, str]]:
    """How often each (strategy, asset, as_of) was decided."""
    return Counter((d["strategy"]["name"], d["asset"], d["as_of"]) for d in decisions)


def expected(name: str, assets: Sequence[str]) -> Counter[tuple[str, str, str]]:
    return Counter((name, asset, as_of) for as_of in AS_OFS for asset in assets)


def fills_match_the_ledger(log: AuditStore) -> list[dict[str, Any]]:
    """The ``fill`` records and the paper ledger's rows, one to one and in order, no client order
    id twice, each fill of a decision that filled (paper) or was approved (notify); returns the
    fill records."""
    recorded = [r for _, r in log.records_of_kind("fill")]
    ids = [r["client_order_id"] for r in recorded]
    assert len(ids) == len(set(ids)), f"a client order id was filled twice: {Counter(ids)}"
    ledger = PaperBroker(log.paper_ledger()).fills()
    assert [f.client_order_id for f in ledger] == ids
    assert [r["fill"] for r in recorded] == [f.to_dict() for f in ledger]
    for record in recorded:
        decision = log.get(record["decision_id"])
        assert decision is not None
        if decision["execution"]["status"] != "FILLED":
            answers = log.followups(record["decision_id"])
            assert [a["approved"] for a in answers if a["kind"] == "approval"] == [True]
    return recorded


def verified(url: str) -> None:
    result = signalops("audit", "verify", "--audit", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")


def switches(runners: Sequence[str]) -> int:
    """How often the runner changes along the chain (0: one ran after the other)."""
    return sum(a != b for a, b in itertools.pairwise(runners))


def chain_runners(url: str) -> list[str]:
    with PostgresAuditLog.open_readonly(url) as log:
        return [row["runner"] for row in log.raw_rows()]


# --- 2. two runners at once ---------------------------------------------------------------------


def test_two_runners_at_once_write_one_chain_each_decision_once_under_its_runner(
    postgres: Postgres, replay_dir: Path, tmp_path: Path
):
    url = postgres.log().writer_url
    second = second_strategy(tmp_path)
    first = runner_process(replay_dir, SLOW_STRATEGY, url, "desk-1", tmp_path)
    other = runner_process(replay_dir, second, url, "desk-2", tmp_path)
    finished(first, other)
    assert len(first.cycle_lines()) == len(other.cycle_lines()) == len(AS_OFS)

    verified(url)
    with PostgresAuditLog.open_readonly(url) as log:
        assert log.runners() == ["desk-1", "desk-2"]
        desk_1 = log.decisions(runner="desk-1", limit=None)
        desk_2 = log.decisions(runner="desk-2", limit=None)
        assert keys(desk_1) == expected(STRATEGY_NAME, ("BTC", "ETH"))
        assert keys(desk_2) == expected(SECOND_NAME, ("BTC",))
        assert keys(log.decisions(limit=None)) == keys(desk_1) + keys(desk_2)
        fills = fills_match_the_ledger(log)
        assert {f["fill"]["side"] for f in fills} == {"BUY", "SELL"}
        by_runner = {row["id"]: row["runner"] for row in log.raw_rows()}
        strategy_of = {d["decision_id"]: d["strategy"]["name"] for d in desk_1 + desk_2}
        runner_of = {STRATEGY_NAME: "desk-1", SECOND_NAME: "desk-2"}
        for fill in fills:  # a follow-up is written by the runner of its decision
            assert by_runner[fill["id"]] == runner_of[strategy_of[fill["decision_id"]]]
    # They really ran at once: their records alternate along the one chain.
    assert switches(chain_runners(url)) >= 4, chain_runners(url)


# --- 3. one runner killed mid-run, restarted --------------------------------------------------


def _state(url: str, runner: str) -> int:
    with PostgresAuditLog.open_readonly(url) as log:
        return len(log.decisions(runner=runner, limit=None))


def _own_records(log: AuditStore, names: set[str]) -> list[dict[str, Any]]:
    """The decisions of strategies ``names`` and their follow-ups, unsealed, in chain order."""
    decisions = (r for r in log.records() if r["kind"] == "decision")
    decided = {r["decision_id"] for r in decisions if r["strategy"]["name"] in names}
    return [unsealed(r) for r in log.records() if r.get("decision_id") in decided]


@needs_sigkill
def test_a_runner_killed_mid_run_and_restarted_loses_no_decision_and_repeats_no_order(
    postgres: Postgres, replay_dir: Path, tmp_path: Path
):
    seed = int(os.environ.get("SIGNALOPS_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    url = postgres.log().writer_url
    after, pause = rng.randint(3, 12), rng.uniform(0, 1.5 * DELAY)
    context = f"seed {seed}: killed after {after} cycles and {pause:.3f}s"
    # The reference: the same run alone into a SQLite file, alongside.
    reference = tmp_path / "reference.db"
    clean = runner_process(replay_dir, SLOW_STRATEGY, str(reference), "alone", tmp_path)
    # The other runner asks for approvals (notify): it shares the account but never fills, so
    # desk-1's orders are sized as in the reference run.
    second = second_strategy(tmp_path)
    other = runner_process(replay_dir, second, url, "desk-2", tmp_path, "--mode", "notify")
    killed = runner_process(replay_dir, SLOW_STRATEGY, url, "desk-1", tmp_path)
    try:
        killed.wait_for_lines(after, timeout=60)
        time.sleep(pause)
        killed.send(signal.SIGKILL)
        assert killed.finish(timeout=10) == -signal.SIGKILL, context
        assert killed.stderr() == "", context  # killed, not crashed on its own
        at_kill = _state(url, "desk-1")
        assert 2 * after <= at_kill < 2 * len(AS_OFS), context
        restarted = runner_process(replay_dir, SLOW_STRATEGY, url, "desk-1", tmp_path)
        finished(restarted, clean)
        # Notify mode and no webhooks: warned once as it started, and ended cleanly.
        assert (other.finish(timeout=90), other.stderr()) == (
            0,
            "warning: notify mode with no webhooks: approvals wait in 'signalops approvals', "
            "nobody is told\n",
        ), other.lines
    finally:
        for run in (killed, other, clean):
            run.stop()
    lines = restarted.cycle_lines()
    assert len(lines) == len(AS_OFS), context
    assert "(2 already recorded)" in lines[0], context

    verified(url)
    with PostgresAuditLog.open_readonly(url) as log, AuditLog(reference) as alone:
        assert keys(log.decisions(runner="desk-1", limit=None)) == expected(
            STRATEGY_NAME, ("BTC", "ETH")
        ), context
        assert keys(log.decisions(runner="desk-2", limit=None)) == expected(SECOND_NAME, ("BTC",))
        assert keys(log.decisions(limit=None)).most_common(1)[0][1] == 1
        fills = fills_match_the_ledger(log)
        assert [f["fill"]["side"] for f in fills] == ["BUY", "BUY", "SELL"], context
        # Record for record what the run alone wrote: nothing lost, doubled or changed.
        assert _own_records(log, {STRATEGY_NAME}) == _own_records(alone, {STRATEGY_NAME}), context
        assert [unsealed(f) for f in fills_match_the_ledger(alone)] == [unsealed(f) for f in fills]


# --- 4. one process per runner id -------------------------------------------------------------


_HELD = re.compile(
    r"error: (?P<log>\S+): runner 'desk-1' is already running \(connected from 127\.0\.0\.1 "
    r"since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); give this one another --runner, or pass --wait\n"
)


def _waiting_for_a_runner(url: str, timeout: float = 30) -> None:
    """Block until some session waits for a runner's advisory lock (the --wait run)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError(f"no session waited for a runner lock within {timeout}s")


@needs_sigkill
def test_a_second_process_with_the_same_runner_id_is_refused_at_once_or_waits_its_turn(
    postgres: Postgres, replay_dir: Path, tmp_path: Path
):
    database = postgres.log()
    url = database.writer_url
    # Slow enough to be still running when the others come (it is killed, not waited for).
    first = runner_process(replay_dir, SLOW_STRATEGY, url, "desk-1", tmp_path, delay=2.0)
    waiter: RunProcess | None = None
    try:
        first.wait_for_lines(2, timeout=60)
        refused = subprocess.run(
            run_args(replay_dir, SLOW_STRATEGY, url, "desk-1"),
            cwd=tmp_path,
            env=plugin_env(DELAY),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.proc.poll() is None  # refused while the first still runs: it did not wait
        assert (refused.returncode, refused.stdout) == (1, "")
        held = _HELD.fullmatch(refused.stderr)
        assert held is not None, refused.stderr
        assert held["log"] == url

        waiter = runner_process(replay_dir, SLOW_STRATEGY, url, "desk-1", tmp_path, "--wait")
        _waiting_for_a_runner(database.owner_url)
        assert waiter.proc.poll() is None and waiter.lines == []
        # The holder dies without a word: the server drops its session and its runner lock.
        first.send(signal.SIGKILL)
        assert first.finish(timeout=10) == -signal.SIGKILL
        finished(waiter)
    finally:
        first.stop()
        if waiter is not None:
            waiter.stop()

    lines = waiter.cycle_lines()
    assert len(lines) == len(AS_OFS)
    assert "(2 already recorded)" in lines[0]  # it took over where the first was killed
    verified(url)
    with PostgresAuditLog.open_readonly(url) as log:
        assert keys(log.decisions(limit=None)) == expected(STRATEGY_NAME, ("BTC", "ETH"))
        assert log.runners() == ["desk-1"]
        fills_match_the_ledger(log)


# --- 5. approvals racing across processes --------------------------------------------------------


def _pending(database: Database, replay_dir: Path) -> str:
    """A notify-mode BUY of BTC on 2023-03-10 awaiting approval in ``database``; its id."""
    here = Path.cwd()
    os.chdir(ROOT)  # the record cites the strategy by the path it was run with
    try:
        made = ok(invoke(
            "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir),
            "--from", "2023-03-10", "--audit", database.writer_url, "--runner", "desk-1",
        ))  # fmt: skip
    finally:
        os.chdir(here)
    assert made.startswith("2023-03-10T00:00:00Z  1 decision: 1 BUY (1 awaiting approval)")
    listed = ok(invoke("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", database.writer_url))
    approval_id = listed.split()[0]
    assert approval_id.startswith("apv-")
    return approval_id


def approve_args(approval_id: str, by: str, replay_dir: Path, url: str, at: str) -> list[str]:
    return [
        sys.executable, "-m", "signalops", "approve", approval_id, "--by", by,
        "--replay", str(replay_dir), "--at", at, "--audit", url,
    ]  # fmt: skip


def test_four_processes_approving_one_trade_at_once_record_one_approval_and_one_fill(
    postgres: Postgres, replay_dir: Path, tmp_path: Path
):
    database = postgres.log()
    url = database.writer_url
    approval_id = _pending(database, replay_dir)
    # From a folder without the strategy file (another machine): the re-check runs the
    # strategy document the log stored under the decision's content hash.
    answering = {
        by: subprocess.Popen(
            approve_args(approval_id, by, replay_dir, url, "2023-03-10T00:05:00Z"),
            cwd=tmp_path,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for by in ("ana", "ben", "cleo", "dev")
    }
    done = outputs(answering)

    winners = [by for by, (code, _, _) in done.items() if code == 0]
    assert len(winners) == 1, done
    (winner,) = winners
    assert done[winner][1].startswith(f"{approval_id}: FILLED — paper BUY 0.02455527 BTC at ")
    for by, (code, stdout, stderr) in done.items():
        if by != winner:
            assert (code, stdout) == (1, ""), done
            assert stderr == (
                f"error: approval {approval_id} was already approved by {winner} "
                "at 2023-03-10T00:05:00Z\n"
            ), done

    verified(url)
    with PostgresAuditLog.open_readonly(url) as log:
        kinds = [r["kind"] for r in log.records()]
        assert kinds == ["decision", "approval", "fill"]
        approval = next(r for _, r in log.records_of_kind("approval"))
        assert (approval["by"], approval["approved"]) == (winner, True)
        assert len(fills_match_the_ledger(log)) == 1
        assert log.pending_approvals(datetime(2023, 3, 10, 0, 6, tzinfo=UTC)) == []
    again = signalops(
        "approve", approval_id, "--by", "eve", "--replay", str(replay_dir),
        "--at", "2023-03-10T00:07:00Z", "--audit", url, cwd=tmp_path,
    )  # fmt: skip
    assert again.returncode == 1
    assert again.stderr == (
        f"error: approval {approval_id} was already approved by {winner} at 2023-03-10T00:05:00Z\n"
    )
