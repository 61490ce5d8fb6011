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
    return [line[:10] for line in stdout.splitlines() if line[:4].isdigit() and "decision" in line]


def passed_over(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if "passed over" in line]


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
    said = "T00:00:00Z  passed over: no US equity session opens before the next time"
    assert passed_over(result.stdout) == [
        f"2022-04-{day}{said}" for day in ("09", "10", "15", "16", "17")
    ]


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


def test_a_live_runs_first_cycle_decides_and_a_reload_to_crypto_decides_every_time(
    in_tmp: Path, replay_dir: Path
):
    """Which times decide is asked of the strategies running at each time (a reload may change
    them), and a live run's first cycle, at its start, decides whatever the day."""
    from datetime import UTC, datetime, timedelta

    from signalops.pipeline.loop import session_times
    from signalops.workspace import build_pipeline, load_strategies, open_workspace

    stocks = load_strategies([STRATEGIES / "graham_value_event_filter.yaml"])
    crypto = load_strategies([STRATEGIES / "technical_baseline.yaml"])
    workspace = open_workspace(audit=in_tmp / "a.db", config=EQUITIES)
    pipeline = build_pipeline(workspace, stocks, replay=replay_dir)
    said: list[str] = []
    decides = session_times(pipeline, timedelta(days=1), said.append, first_decides=True)
    assert decides is not None
    friday_afternoon = datetime(2022, 4, 8, 15, 0, tzinfo=UTC)  # after the day's opening
    saturday = datetime(2022, 4, 9, tzinfo=UTC)

    assert decides(friday_afternoon)  # the first cycle
    assert not decides(saturday)
    pipeline.strategies = crypto
    assert decides(saturday)
    workspace.close()
    assert said == [
        "2022-04-09T00:00:00Z  passed over: no US equity session opens before the next time"
    ]
