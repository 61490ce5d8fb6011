"""Wrong times, durations and periods: one line ``error: --OPTION: ...``, exit 1, nothing made.

Regression tests: ``run`` with a period that ends before it starts did nothing, exit 0, and left
a new log and its lock behind; with a missing replay folder it said so but left them too.
``decisions --since X --until Y`` with Y before X answered "no decisions match". A wrong date or
duration was ``error: --to: ...`` (exit 1) in backtest but a click usage block without the
option's name (exit 2) in run, evaluate, approvals, resume, decisions and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

STRATEGY = str(STRATEGIES / "banking_crisis_dip.yaml")
NOT_A_DATE = "'2023-13-01' is not a date or ISO-8601 time (e.g. 2023-03-01)"


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_run_over_a_reversed_period_is_refused_before_the_log_is_made(
    in_tmp: Path, replay_dir: Path
):
    result = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-31",
        "--to", "2023-03-01", "--every", "1d", "--audit", "rv.db",
    )  # fmt: skip

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        "error: the period ends (2023-03-01T00:00:00Z) before it starts (2023-03-31T00:00:00Z)\n"
    )
    assert files(in_tmp) == []


def test_backtest_says_the_same_of_a_reversed_period(replay_dir: Path):
    result = run(
        "backtest", STRATEGY, "--data", str(replay_dir), "--from", "2023-03-31",
        "--to", "2023-03-01",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stderr == (
        "error: the period ends (2023-03-01T00:00:00Z) before it starts (2023-03-31T00:00:00Z)\n"
    )


def test_run_on_a_missing_replay_folder_leaves_no_log_or_lock(in_tmp: Path):
    missing = in_tmp / "nostore"

    result = run(
        "run", STRATEGY, "--replay", str(missing), "--from", "2023-03-01", "--audit", "e3.db"
    )

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"error: {missing}: no snapshot folder: make it with 'signalops data import --to "
        f"{missing}' (the bundled data) or 'signalops data download --source ... --asset ... "
        f"--to {missing}'\n"
    )
    assert files(in_tmp) == []


def test_a_run_over_one_day_of_the_period_still_runs(in_tmp: Path, replay_dir: Path):
    result = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-10",
        "--to", "2023-03-10", "--audit", "one.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    assert files(in_tmp) == ["one.db", "one.db.lock", "one.db.verified.json"]  # checked at its end


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        pytest.param(
            "2023-03-31",
            "2023-03-01",
            "the period ends (2023-03-01) before it starts (2023-03-31)",
            id="dates",
        ),
        pytest.param(
            "2023-03-31T12:00",
            "2023-03-31T11:00",
            "the period ends (2023-03-31T11:00:00Z) before it starts (2023-03-31T12:00:00Z)",
            id="times",
        ),
        pytest.param(
            "2023-03-31T12:00",
            "2023-03-30",
            "the period ends (2023-03-30) before it starts (2023-03-31T12:00:00Z)",
            id="a_day_before_a_time",
        ),
    ],
)
def test_decisions_over_a_reversed_period_is_an_error(
    in_tmp: Path, since: str, until: str, message: str
):
    result = run("decisions", "--since", since, "--until", until, "--audit", "any.db")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {message}\n"
    assert files(in_tmp) == []


@pytest.mark.parametrize(
    ("since", "until"),
    [
        pytest.param("2023-03-10", "2023-03-10", id="one_day"),
        pytest.param("2023-03-10T12:00", "2023-03-10", id="a_time_then_its_day"),
        pytest.param("2023-03-10", "2023-03-10T00:00", id="a_day_then_its_first_moment"),
    ],
)
def test_decisions_over_one_day_is_not_reversed(in_tmp: Path, since: str, until: str):
    result = run("decisions", "--since", since, "--until", until, "--audit", "any.db")

    assert result.stderr == "error: any.db: no such audit log\n"  # the period passed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["run", STRATEGY, "--replay", "REPLAY", "--from", "2023-13-01"],
            f"--from: {NOT_A_DATE}",
            id="run_from",
        ),
        pytest.param(
            ["run", STRATEGY, "--replay", "REPLAY", "--from", "2023-03-01", "--to", "2023-13-01"],
            f"--to: {NOT_A_DATE}",
            id="run_to",
        ),
        pytest.param(
            [
                "run",
                STRATEGY,
                "--replay",
                "REPLAY",
                "--from",
                "2023-03-01",
                "--to",
                "2023-03-02",
                "--every",
                "1x",
            ],
            "--every: '1x' is not a duration such as 1h or 1d",
            id="run_every",
        ),
        pytest.param(
            ["run", STRATEGY, "--every", "0s"],
            "--every: '0s' must be longer than 0 (e.g. 1h or 1d)",
            id="run_every_live",
        ),
        pytest.param(
            ["evaluate", STRATEGY, "--at", "2023-13-01", "--data", "REPLAY"],
            f"--at: {NOT_A_DATE}",
            id="evaluate",
        ),
        pytest.param(["approvals", "--at", "2023-13-01"], f"--at: {NOT_A_DATE}", id="approvals"),
        pytest.param(
            ["approve", "apv-0", "--at", "2023-13-01"], f"--at: {NOT_A_DATE}", id="approve"
        ),
        pytest.param(
            ["resume", "--note", "ok", "--at", "2023-13-01"], f"--at: {NOT_A_DATE}", id="resume"
        ),
        pytest.param(["decisions", "--since", "2023-13-01"], f"--since: {NOT_A_DATE}", id="since"),
        pytest.param(
            ["decisions", "--until", "2023-03-01T25:00"],
            "--until: '2023-03-01T25:00' is not a date or ISO-8601 time (e.g. 2023-03-01)",
            id="until",
        ),
        pytest.param(["why", "BTC", "--at", "2023-13-01"], f"--at: {NOT_A_DATE}", id="why"),
        pytest.param(
            [
                "data",
                "download",
                "--source",
                "technical",
                "--asset",
                "BTC",
                "--until",
                "2023-13-01",
            ],
            f"--until: {NOT_A_DATE}",
            id="data_download",
        ),
        pytest.param(
            ["backtest", STRATEGY, "--from", "2023-03-01", "--to", "2023-13-01"],
            f"--to: {NOT_A_DATE}",
            id="backtest",
        ),
    ],
)
def test_a_wrong_time_or_duration_is_one_line_naming_the_option(
    in_tmp: Path, replay_dir: Path, args: list[str], message: str
):
    given = [str(replay_dir) if a == "REPLAY" else a for a in args]

    result = run(*given)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: {message}\n"
    assert files(in_tmp) == []
