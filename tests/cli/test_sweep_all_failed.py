"""A sweep whose every parameter set failed: no table, and an error that says all failed.

Regression test: ``sweep --grid oversold=500`` (a threshold rsi cannot reach) printed a table
of no rows, then ``error: 1 of 1 combination failed; the rest are shown above``: there was no
rest to show.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT
from conftest import invoke as run

BASELINE = ROOT / "strategies" / "technical_baseline.yaml"
ALWAYS = (
    f"{BASELINE} with oversold=500: rules[0].conditions[0].threshold: rsi(14) < 500 is always "
    "true: rsi is from 0 to 100"
)
NEVER = (
    f"{BASELINE} with oversold=-5: rules[0].conditions[0].threshold: rsi(14) < -5 is never "
    "true: rsi is from 0 to 100"
)


def sweep(replay_dir: Path, *args: str):
    return run(
        "sweep", str(BASELINE), *args, "--from", "2023-01-01", "--to", "2023-03-31",
        "--data", str(replay_dir),
    )  # fmt: skip


def test_the_only_combination_failing_prints_no_table_and_says_it_failed(replay_dir: Path):
    result = sweep(replay_dir, "--grid", "oversold=500")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"failed: BTC oversold=500: {ALWAYS}",
        "error: the only combination failed",
    ]


def test_every_combination_failing_says_all_failed(replay_dir: Path):
    result = sweep(replay_dir, "--grid", "oversold=-5,500")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        f"failed: BTC oversold=-5: {NEVER}",
        f"failed: BTC oversold=500: {ALWAYS}",
        "error: all 2 combinations failed",
    ]
