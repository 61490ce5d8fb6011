"""What ``run``, ``decisions`` and ``audit export`` print for the README's paper run of March 2023.

Regression tests: a cycle of one decision said ``1 decisions: 1 HOLD`` and an export of one
record ``1 records written to stdout``; ``decisions`` did not pad its outcome column (``HOLD
Banking...`` beside ``DENIED  Banking...``, the strategy column drifting), printed ``no
decisions match`` for ``--limit 0`` and listed everything for ``--limit -1``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run
from test_pipeline_end_to_end import MARCH_CYCLES

STRATEGY = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")
NAME = "Banking_Crisis_Pipeline"


@pytest.fixture(scope="module")
def ran(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The README's run of 2023-03-08..16 (one decision a day): its output and audit log."""
    db = str(tmp_path_factory.mktemp("march") / "audit.db")
    made = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-16", "--every", "1d", "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return {"stdout": made.stdout, "db": db}


@pytest.fixture
def march(ran: dict[str, str]) -> str:
    return ran["db"]


def test_a_cycle_of_one_decision_says_one_decision(ran: dict[str, str]):
    # Each line ends with the cycle's duration ("[0.01s]"), the one part that is not fixed.
    assert [line.split("  [")[0] for line in ran["stdout"].splitlines()] == MARCH_CYCLES


def test_decisions_pads_every_column_to_the_widest_cell_of_the_listing(march: str):
    result = run("decisions", "--audit", march)

    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        f"2023-03-16T00:00:00Z  BTC  SELL     DENIED   {NAME}  dec-6926ef107cdec4aa93eca225\n"
        f"2023-03-15T00:00:00Z  BTC  SELL     DENIED   {NAME}  dec-9a00c5978ad09ee03c5ee44c\n"
        f"2023-03-14T00:00:00Z  BTC  SELL     FILLED   {NAME}  dec-c5a63af9d676781c2adba9d0\n"
        f"2023-03-13T00:00:00Z  BTC  HOLD     HOLD     {NAME}  dec-899cb2ea2c3b651899cbd246\n"
        f"2023-03-12T00:00:00Z  BTC  BLOCKED  BLOCKED  {NAME}  dec-577a2a3dd466211a7caa24cd\n"
        f"2023-03-11T00:00:00Z  BTC  BUY      DENIED   {NAME}  dec-6cc30d4426d77859c901ae6a\n"
        f"2023-03-10T00:00:00Z  BTC  BUY      FILLED   {NAME}  dec-06b9f3bcf8279e462f0c49f6\n"
        f"2023-03-09T00:00:00Z  BTC  HOLD     HOLD     {NAME}  dec-58098eb13f677b4ecdba53ca\n"
        f"2023-03-08T00:00:00Z  BTC  HOLD     HOLD     {NAME}  dec-6f81476c3c07fa37b1d6d0ba\n"
    )


def test_decisions_of_one_verdict_are_as_wide_as_that_listing_needs(march: str):
    result = run("decisions", "--verdict", "buy", "--audit", march)

    assert result.stdout == (
        f"2023-03-11T00:00:00Z  BTC  BUY  DENIED  {NAME}  dec-6cc30d4426d77859c901ae6a\n"
        f"2023-03-10T00:00:00Z  BTC  BUY  FILLED  {NAME}  dec-06b9f3bcf8279e462f0c49f6\n"
    )


def test_a_listing_cut_by_its_limit_says_more_match_and_one_that_is_whole_does_not(march: str):
    # It stopped at 50 without a word: on a backtest log, 50 of 1,096 read as the whole log.
    cut = run("decisions", "--limit", "2", "--audit", march)
    assert cut.stdout == (
        f"2023-03-16T00:00:00Z  BTC  SELL  DENIED  {NAME}  dec-6926ef107cdec4aa93eca225\n"
        f"2023-03-15T00:00:00Z  BTC  SELL  DENIED  {NAME}  dec-9a00c5978ad09ee03c5ee44c\n"
        "the newest 2 shown; more match (--limit N shows N; --since, --until, --verdict, "
        "--asset or --strategy narrow them)\n"
    )
    whole = run("decisions", "--limit", "9", "--audit", march)  # the log's nine decisions
    assert len(whole.stdout.splitlines()) == 9
    assert "more match" not in whole.stdout
    # As JSON lines, stdout stays records only: the note goes to stderr.
    as_json = run("decisions", "--limit", "2", "--json", "--audit", march)
    assert [json.loads(line)["decision_id"] for line in as_json.stdout.splitlines()] == [
        "dec-6926ef107cdec4aa93eca225",
        "dec-9a00c5978ad09ee03c5ee44c",
    ]
    assert as_json.stderr == (
        "note: the newest 2 shown; more match (--limit N shows N; --since, --until, --verdict, "
        "--asset or --strategy narrow them)\n"
    )


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_refused(march: str, limit: str):
    result = run("decisions", "--limit", limit, "--audit", march)

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: --limit: {limit} is not in the range x>=1\n"


def test_an_export_of_one_record_says_one_record(replay_dir: Path, tmp_path: Path):
    db = str(tmp_path / "one.db")
    made = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-08", "--audit", db,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr

    result = run("audit", "export", "-", "--audit", db)

    assert (result.exit_code, result.stderr) == (0, "1 record written to stdout\n")
    assert len(result.stdout.splitlines()) == 1
