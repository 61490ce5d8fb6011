"""A backtest says when its ``max_daily_loss`` cannot bind: every decision at 00:00 UTC.

Regression test: ``max_daily_loss: 0.0001`` changed nothing in a daily backtest, silently. The
limit compares the equity with the day's start at 00:00 UTC, so a decision taken at midnight has
lost nothing yet that day (MAX_DAILY_LOSS's change is 0); only ``--every 6h`` made it deny BUYs.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

SAID = (
    "note: max_daily_loss {} cannot bind: every decision of the run is at 00:00 UTC, where the "
    "day's loss is measured from, so none has lost anything yet that day; decide within the day "
    "(--every 6h, say) for it to deny BUYs after a loss"
)


def backtest(replay_dir: Path, risk: str, *args: str) -> list[str]:
    Path("c.yaml").write_text(f"risk: {{{risk}}}\n", encoding="utf-8")
    made = run(
        "backtest", str(STRATEGIES / "technical_baseline.yaml"), "--config", "c.yaml",
        "--data", str(replay_dir), "--from", "2022-01-01", "--to", "2022-12-31",
        "--report", "r", *args,
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return made.stderr.splitlines()


def test_a_daily_run_says_its_max_daily_loss_cannot_bind(in_tmp: Path, replay_dir: Path):
    assert backtest(replay_dir, "max_daily_loss: 0.0001") == [SAID.format("0.01%")]


def test_a_run_deciding_within_the_day_says_nothing_of_it(in_tmp: Path, replay_dir: Path):
    told = backtest(replay_dir, "max_daily_loss: 0.0001", "--every", "6h")
    assert not any("max_daily_loss" in line for line in told)


def test_the_default_limit_is_not_told_at_every_daily_run(in_tmp: Path, replay_dir: Path):
    assert backtest(replay_dir, "max_position: 0.2") == []


def test_a_strategy_s_own_limit_is_told_too(in_tmp: Path, replay_dir: Path):
    text = (STRATEGIES / "technical_baseline.yaml").read_text(encoding="utf-8")
    Path("s.yaml").write_text(text + "  risk:\n    max_daily_loss: 0.02\n", encoding="utf-8")
    made = run(
        "backtest", "s.yaml", "--data", str(replay_dir), "--from", "2022-01-01",
        "--to", "2022-12-31", "--report", "r",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    assert made.stderr.splitlines() == [SAID.format("2%")]
