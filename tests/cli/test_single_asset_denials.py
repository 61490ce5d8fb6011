"""A backtest of one strategy on one asset says its risk gate denials by check, as a universe's
table does.

Regression test: ``max_exposure: 0.05`` took Technical_Baseline's 2022-2024 BTC return from
+4.16% to +2.05% with its 8 trades unchanged, and nothing said why: the gate had denied 38 BUYs
adding to a position held (a limit denies an order, never cuts it), which only
``--universe BTC`` printed ("risk gate denials of BUYs, by check"); the note of denied BUYs
counts the entries alone.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

BY_CHECK = "risk gate denials of BUYs, by check (a denied BUY may fail several): "


def backtest(replay_dir: Path, risk: str) -> list[str]:
    Path("c.yaml").write_text(f"risk:\n  {risk}\n", encoding="utf-8")
    made = run(
        "backtest", str(STRATEGIES / "technical_baseline.yaml"), "--config", "c.yaml",
        "--data", str(replay_dir), "--from", "2022-01-01", "--to", "2024-12-31",
        "--report", "r",
    )  # fmt: skip
    assert made.exit_code == 0, made.stderr
    return made.stdout.splitlines()


def test_a_tighter_max_exposure_says_the_buys_it_denied(in_tmp: Path, replay_dir: Path):
    lines = backtest(replay_dir, "max_exposure: 0.05")
    assert lines[1:4] == [
        "metric                     strategy   buy & hold",
        "─" * 48,
        "total return                 +2.05%     +102.17%",
    ]
    at = lines.index("audit log: r/backtest.db")
    assert lines[at + 1 : at + 3] == [
        BY_CHECK + "MAX_EXPOSURE 38, MAX_POSITION 2; 38 BUYs denied, 38 of them adding to a "
        "position held",
        "",
    ]


def test_a_run_without_denials_has_no_such_line(in_tmp: Path, replay_dir: Path):
    lines = backtest(replay_dir, "max_position: 1.0\n  max_exposure: 1.0")
    at = lines.index("audit log: r/backtest.db")
    assert lines[at + 1] == ""
    assert not any(line.startswith(BY_CHECK) for line in lines)
