"""A walk-forward's parameter sets the compiler refuses: a grid of nothing else is refused before
anything is screened, in one line; otherwise they are left out of every window and each is
reported once.

Regression test (a trader walkthrough): ``walkforward --grid oversold=150`` (a threshold rsi
cannot reach) printed a table of "cash" windows, stitched +0.00% and "no set has a Sharpe
in-sample", with the compile error once per window; ``--grid oversold=30,500`` listed
oversold=500's error once per window too, and its "held cash" note counted the failed sets as
sets without a Sharpe.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

BASELINE = STRATEGIES / "technical_baseline.yaml"
WINDOWS = ("--from", "2022-01-01", "--to", "2024-12-31", "--train", "365d", "--test", "180d")


def always(value: int) -> str:
    return (
        f"{BASELINE} with oversold={value}: rules[0].conditions[0].threshold: rsi(14) < {value} "
        "is always true: rsi is from 0 to 100"
    )


def walk(replay_dir: Path, grid: str):
    return run(
        "walkforward", str(BASELINE), "--grid", grid, *WINDOWS, "--data", str(replay_dir)
    )  # fmt: skip


def test_the_only_set_failing_is_refused_in_one_line(replay_dir: Path):
    result = walk(replay_dir, "oversold=150")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: the only combination failed: {always(150)}\n"


def test_every_set_failing_is_refused_naming_the_first(replay_dir: Path):
    result = walk(replay_dir, "oversold=150,500")

    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"error: all 2 combinations failed; the first: {always(150)}\n"


def test_a_failing_set_is_left_out_of_every_window_and_reported_once(replay_dir: Path):
    result = walk(replay_dir, "oversold=30,500")
    alone = walk(replay_dir, "oversold=30")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"failed: oversold=500: {always(500)}",
        "error: 1 of 2 combinations failed and was left out of every window; the rest are shown "
        "above",
    ]
    # The walk of the set that compiles, as it walks alone; the heading counts the grid's.
    assert alone.exit_code == 0, alone.output
    assert result.stdout == alone.stdout.replace("· 1 combination ·", "· 2 combinations ·", 1)


def test_the_held_cash_note_speaks_of_the_sets_that_compiled(replay_dir: Path):
    # rsi(14) < 1 never passes: no trade, so no Sharpe, in any window.
    result = walk(replay_dir, "oversold=1,500")

    assert result.exit_code == 1
    assert (
        "4 windows without a choice (no set that compiled has a Sharpe in-sample) held cash"
        in result.stdout.splitlines()
    )
    assert result.stderr.splitlines()[-1] == (
        "error: 1 of 2 combinations failed and was left out of every window; the rest are shown "
        "above"
    )
