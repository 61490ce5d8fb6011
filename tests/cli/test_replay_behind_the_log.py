"""``signalops run --replay`` refuses a log that holds decisions later than its replay would
decide at.

Regression test: a replay of 2022-08-20..09-15 into a log holding March 2023 ran, and its risk
gate took the 2023 orders as made already: the 2022-08-29 BUY was denied COOLDOWN "actual 0s,
last trade 2023-03-14" and ORDER_RATE counted the 2023 orders, where a fresh log filled it.
A restart of a range already recorded (its times are skipped) and a run going on after the
log's newest time still run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, STRATEGIES
from conftest import invoke as run
from test_postgres_e2e import Postgres, serve

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
BASELINE = str(STRATEGIES / "technical_baseline.yaml")
EQUITIES = str(ROOT / "examples" / "signalops.equities.yaml")


def replay(replay_dir: Path, start: str, end: str, *strategies: str, log: str = "t.db"):
    return run(
        "run", *(strategies or (DIP,)), "--replay", str(replay_dir), "--from", start, "--to",
        end, "--every", "1d", "--audit", log,
    )  # fmt: skip


def refusal(newest: str, start: str, first: str = "") -> str:
    return (
        f"error: t.db holds decisions up to {newest}T00:00:00Z, and a replay from "
        f"{start}T00:00:00Z would decide{first} before them: the risk gate would take the later "
        "orders as made already (COOLDOWN, ORDER_RATE, the paper account): replay into "
        f"another --audit, or from {newest}T00:00:00Z on\n"
    )


def test_an_earlier_replay_into_a_later_log_is_refused_and_writes_nothing(
    in_tmp: Path, replay_dir: Path
):
    assert replay(replay_dir, "2023-03-01", "2023-03-31").exit_code == 0
    files = {path.name: path.read_bytes() for path in in_tmp.iterdir()}

    result = replay(replay_dir, "2022-08-20", "2022-09-15")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == refusal("2023-03-31", "2022-08-20")
    assert {path.name: path.read_bytes() for path in in_tmp.iterdir()} == files


def test_another_strategy_decided_later_counts_too(in_tmp: Path, replay_dir: Path):
    """The gate reads the account's orders, every strategy's: a later decision of another
    strategy in the log makes an earlier replay of this one wrong as well."""
    assert replay(replay_dir, "2023-03-01", "2023-03-31", BASELINE).exit_code == 0

    result = replay(replay_dir, "2023-03-10", "2023-03-20", DIP)

    assert result.exit_code == 1
    assert result.stderr == refusal("2023-03-31", "2023-03-10")


def test_a_restart_of_a_recorded_range_runs_on_after_it(in_tmp: Path, replay_dir: Path):
    assert replay(replay_dir, "2023-03-01", "2023-03-10").exit_code == 0

    result = replay(replay_dir, "2023-03-01", "2023-03-12")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    skipped = "0 decisions: nothing new (1 already recorded)  ["
    assert lines[0].startswith(f"2023-03-01T00:00:00Z  {skipped}")
    assert [line[:10] for line in lines if "nothing new" not in line] == [
        "2023-03-11", "2023-03-12",
    ]  # fmt: skip
    # And from the log's newest time on.
    assert replay(replay_dir, "2023-03-12", "2023-03-14").exit_code == 0


def test_the_first_time_not_recorded_is_the_one_compared(in_tmp: Path, replay_dir: Path):
    """Both strategies decided 03-01..03-05, then one alone to 03-31: a restart of both from
    03-01 skips to 03-06, where the other would decide before the log's newest."""
    assert replay(replay_dir, "2023-03-01", "2023-03-05", DIP, BASELINE).exit_code == 0
    assert replay(replay_dir, "2023-03-06", "2023-03-31", BASELINE).exit_code == 0

    result = replay(replay_dir, "2023-03-01", "2023-03-31", DIP, BASELINE)

    assert result.exit_code == 1
    assert result.stderr == refusal("2023-03-31", "2023-03-01", " first at 2023-03-06T00:00:00Z,")


def test_a_fill_later_than_the_newest_decision_counts_too(in_tmp: Path, replay_dir: Path):
    """A notify decision approved ten minutes on fills then: a replay from between them would
    decide before that fill, the gate taking it as made already (COOLDOWN "actual 0s, last
    trade 2023-03-10T00:10:00Z"), though no decision is later."""
    notify = run(
        "run", DIP, "--mode", "notify", "--replay", str(replay_dir), "--from", "2023-03-10",
        "--to", "2023-03-10", "--audit", "t.db",
    )  # fmt: skip
    assert notify.exit_code == 0, notify.stderr
    waiting = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", "t.db")
    approval = waiting.stdout.split()[0]
    approved = run(
        "approve", approval, "--by", "bob", "--replay", str(replay_dir), "--at",
        "2023-03-10T00:10:00Z", "--audit", "t.db",
    )  # fmt: skip
    assert approved.exit_code == 0, approved.stderr
    # (Not the WAL's shared-memory index, which a reader's open may touch.)
    files = {path.name: path.read_bytes() for path in in_tmp.iterdir() if path.suffix != ".db-shm"}

    def every_5m(start: str):
        return run(
            "run", DIP, "--replay", str(replay_dir), "--from", start, "--to",
            "2023-03-10T00:10:00Z", "--every", "5m", "--audit", "t.db",
        )  # fmt: skip

    result = every_5m("2023-03-10T00:05:00Z")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: t.db holds a fill at 2023-03-10T00:10:00Z, after its newest decision "
        "(2023-03-10T00:00:00Z), and a replay from 2023-03-10T00:05:00Z would decide before "
        "it: the risk gate would take the later orders as made already (COOLDOWN, ORDER_RATE, "
        "the paper account): replay into another --audit, or from 2023-03-10T00:10:00Z on\n"
    )
    assert {p.name: p.read_bytes() for p in in_tmp.iterdir() if p.suffix != ".db-shm"} == files
    # From the fill's time on, it runs.
    assert every_5m("2023-03-10T00:10:00Z").exit_code == 0


def test_a_stock_restart_is_not_refused_for_the_weekends_it_passed_over(
    in_tmp: Path, replay_dir: Path
):
    """Saturday's and Sunday's times decide nothing on stocks (no session before the next
    time), so the log has none for them: they are no times a restart would decide again."""
    strategy = str(STRATEGIES / "graham_value_event_filter.yaml")
    args = ("--config", EQUITIES, "--replay", str(replay_dir), "--every", "1d", "--audit", "a.db")
    first = run("run", strategy, *args, "--from", "2022-04-07", "--to", "2022-04-12")
    assert first.exit_code == 0, first.stderr

    result = run("run", strategy, *args, "--from", "2022-04-08", "--to", "2022-04-13")

    assert result.exit_code == 0, result.stderr
    decided = [line[:10] for line in result.stdout.splitlines() if "decisions:" in line]
    assert decided == ["2022-04-08", "2022-04-11", "2022-04-12", "2022-04-13"]
    assert "nothing new" in result.stdout.splitlines()[0]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    yield from serve()


def test_on_a_shared_log_the_runners_own_decisions_count(
    postgres: Postgres, in_tmp: Path, replay_dir: Path
):
    """Runners share a PostgreSQL log at once, each ahead of the others in turn: another
    runner's later decisions do not refuse a replay (one restarted after a crash finds them),
    its own do."""
    url = postgres.log().writer_url

    def on(runner: str, start: str, end: str):
        return run(
            "run", DIP, "--replay", str(replay_dir), "--from", start, "--to", end, "--every",
            "1d", "--audit", url, "--runner", runner,
        )  # fmt: skip

    assert on("desk-1", "2023-03-20", "2023-03-31").exit_code == 0
    other = on("desk-2", "2023-03-01", "2023-03-05")
    assert other.exit_code == 0, other.stderr

    # (Not 03-01..03-05: desk-2 took those decisions, of the same strategy, for both.)
    result = on("desk-1", "2023-03-06", "2023-03-10")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {url} holds runner desk-1's decisions up to 2023-03-31T00:00:00Z, and a "
        "replay from 2023-03-06T00:00:00Z would decide before them: the risk gate would take "
        "the later orders as made already (COOLDOWN, ORDER_RATE, the paper account): replay "
        "into another --audit, or from 2023-03-31T00:00:00Z on\n"
    )


def test_on_a_shared_log_the_runners_own_fills_count(
    postgres: Postgres, in_tmp: Path, replay_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    """desk-1's approval fills ten minutes after its decision: a replay of desk-1 from between
    them is refused, one of desk-2 is not (runners are each ahead of the others in turn)."""
    url = postgres.log().writer_url
    monkeypatch.setenv("SIGNALOPS_RUNNER", "desk-1")  # ``approve`` has no --runner
    notify = run(
        "run", DIP, "--mode", "notify", "--replay", str(replay_dir), "--from", "2023-03-10",
        "--to", "2023-03-10", "--audit", url,
    )  # fmt: skip
    assert notify.exit_code == 0, notify.stderr
    approval = run("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", url).stdout.split()[0]
    approved = run(
        "approve", approval, "--by", "bob", "--replay", str(replay_dir), "--at",
        "2023-03-10T00:10:00Z", "--audit", url,
    )  # fmt: skip
    assert approved.exit_code == 0, approved.stderr

    def on(runner: str):
        return run(
            "run", DIP, "--replay", str(replay_dir), "--from", "2023-03-10T00:05:00Z", "--to",
            "2023-03-10T00:05:00Z", "--every", "5m", "--audit", url, "--runner", runner,
        )  # fmt: skip

    result = on("desk-1")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {url} holds runner desk-1's fill at 2023-03-10T00:10:00Z, after its newest "
        "decision (2023-03-10T00:00:00Z), and a replay from 2023-03-10T00:05:00Z would decide "
        "before it: the risk gate would take the later orders as made already (COOLDOWN, "
        "ORDER_RATE, the paper account): replay into another --audit, or from "
        "2023-03-10T00:10:00Z on\n"
    )
    other = on("desk-2")
    assert other.exit_code == 0, other.stderr
