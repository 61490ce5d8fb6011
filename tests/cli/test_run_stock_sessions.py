"""``signalops run`` on stocks decides once before each session, as a backtest does: a time
with no session opening before the next one (a weekend's, a holiday's) decides nothing.

Regression test: ``run --replay ... --every 1d`` on stocks decided (and on paper filled, at
Friday's close) on Saturday and Sunday too, so a BUY that kept passing added to the position
on each weekend day; the backtest of the same strategy decided only before Monday's session.
"""

from __future__ import annotations

from pathlib import Path

from conftest import ROOT, STRATEGIES
from conftest import invoke as run

EQUITIES = str(ROOT / "examples" / "signalops.equities.yaml")


def decided_days(stdout: str) -> list[str]:
    return [line[:10] for line in stdout.splitlines() if line[:4].isdigit()]


def test_a_daily_stock_run_decides_before_sessions_only(in_tmp: Path, replay_dir: Path):
    strategy = str(STRATEGIES / "graham_value_event_filter.yaml")

    result = run(
        "run", strategy, "--config", EQUITIES, "--replay", str(replay_dir), "--from",
        "2022-04-07", "--to", "2022-04-19", "--every", "1d", "--audit", "a.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    # 2022-04-15 was Good Friday: the 04-15, 04-16 and 04-17 times come before Monday's session
    # like 04-18's, which decides for it.
    assert decided_days(result.stdout) == [
        "2022-04-07", "2022-04-08", "2022-04-11", "2022-04-12", "2022-04-13", "2022-04-14",
        "2022-04-18", "2022-04-19",
    ]  # fmt: skip


def test_a_crypto_run_decides_every_day(in_tmp: Path, replay_dir: Path):
    strategy = str(STRATEGIES / "technical_baseline.yaml")

    result = run(
        "run", strategy, "--replay", str(replay_dir), "--from", "2022-04-14", "--to",
        "2022-04-18", "--every", "1d", "--audit", "a.db",
    )  # fmt: skip

    assert result.exit_code == 0, result.stderr
    assert decided_days(result.stdout) == [
        "2022-04-14", "2022-04-15", "2022-04-16", "2022-04-17", "2022-04-18",
    ]  # fmt: skip
