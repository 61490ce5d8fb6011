"""MAX_DAILY_LOSS measures the day's move: its day start is the cash at 00:00 UTC plus each
position held then at the market's price at 00:00 (the last close at or before midnight).

Regression test (operations walkthrough): the day start marked positions open at midnight at
their last fill price, weeks old, so a dip buyer whose last fill was on 2022-10-16 had every
BUY denied for months: on 2022-11-10 ``MAX_DAILY_LOSS (actual -7.677%, day start equity
10,009.82, equity 9,241.36 ...)``, on 2022-11-22 the same day start. After a rise it failed
open: on 2022-11-08 a -3.1% day read -0.2% (the position was still above its October fill).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import invoke as run

DIP_BUYER = """\
strategy:
  name: "Dip_Buyer"
  assets: ["BTC"]
  defaults: {params: {timeframe: 1d}}
  rules:
    - {id: weak, source: technical, conditions: [{when: "rsi(14) < 45"}]}
  exit:
    rules:
      - {id: strong, source: technical, conditions: [{when: "rsi(14) > 70"}]}
  execution: {position_size: 0.09, action_mode: paper}
"""
# Buys at once, then holds: every later decision is a BUY the gate checks (and MAX_POSITION
# denies), so each shows MAX_DAILY_LOSS's figures.
ALWAYS_IN = """\
strategy:
  name: "Always_In"
  assets: ["BTC"]
  defaults: {params: {timeframe: 1d}}
  rules:
    - {id: any, source: technical, conditions: [{when: "rsi(14) < 100"}]}
  execution: {position_size: 0.25, action_mode: paper}
"""
CONFIG = "risk:\n  max_position: 0.5\n  max_exposure: 0.9\n"
UNIT = "limit 3%, unit fraction of day-start equity (change)"


def marked(day: str, close: str) -> str:
    """What the day start says it valued BTC at: the market price (close) at that day's 00:00."""
    return f"day start marks (BTC (at {day}T00:00:00Z, price {close}, source market))"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


def replayed(folder: Path, replay_dir: Path, strategy: str, *period: str) -> None:
    (folder / "strategy.yaml").write_text(strategy, encoding="utf-8")
    made = run("run", "strategy.yaml", "--replay", str(replay_dir), *period)
    assert made.exit_code == 0, made.stderr


def why(at: str) -> list[str]:
    """The first line of ``why BTC --at AT`` and its MAX_DAILY_LOSS line."""
    result = run("why", "BTC", "--at", at)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    return [lines[0], *(line for line in lines if "MAX_DAILY_LOSS:" in line)]


def test_a_dip_buyer_holding_since_october_buys_again_on_a_day_that_has_not_fallen(
    folder: Path, replay_dir: Path
):
    replayed(
        folder, replay_dir, DIP_BUYER, "--from", "2022-10-01", "--to", "2022-12-31",
        "--every", "1d",
    )  # fmt: skip

    # At 00:00 the day has not moved yet: its start is the position at the 00:00 close.
    assert why("2022-11-10") == [
        "BTC at 2022-11-10T00:00:00Z: BOUGHT",
        "  PASS    MAX_DAILY_LOSS: actual 0%, day start equity 9,241.36, "
        f"{marked('2022-11-10', '15,922.81')}, equity 9,241.36, {UNIT}",
    ]
    assert why("2022-11-22") == [
        "BTC at 2022-11-22T00:00:00Z: DENIED by the risk gate: MAX_POSITION (actual 58.3527%, "
        "equity 9,199.40, limit 50%, position value 5,368.09, unit fraction of equity)",
        "  PASS    MAX_DAILY_LOSS: actual 0%, day start equity 9,199.40, "
        f"{marked('2022-11-22', '15,781.29')}, equity 9,199.40, {UNIT}",
    ]


def test_within_a_day_the_loss_is_measured_from_midnight_and_trips_on_the_days_own_fall(
    folder: Path, replay_dir: Path
):
    """Bought on 2022-10-10 at ~19,400; BTC stood at 20,570 at 00:00 on 2022-11-08 and fell
    ~6% by 18:00: a 3.1% loss of the day's equity, which the limit stops."""
    replayed(
        folder, replay_dir, ALWAYS_IN, "--from", "2022-10-10", "--to", "2022-11-08T18:00:00Z",
        "--every", "6h",
    )  # fmt: skip

    midnight = marked("2022-11-08", "20,591.13")
    assert why("2022-11-08T06:00:00Z")[1] == (
        "  PASS    MAX_DAILY_LOSS: actual -2.2167%, day start equity 10,292.49, "
        f"{midnight}, equity 10,064.33, {UNIT}"
    )
    assert why("2022-11-08T18:00:00Z") == [
        "BTC at 2022-11-08T18:00:00Z: DENIED by the risk gate: MAX_POSITION (actual 74.9128%, "
        "equity 9,971.26, limit 50%, position value 7,469.75, unit fraction of equity); "
        f"MAX_DAILY_LOSS (actual -3.121%, day start equity 10,292.49, {midnight}, "
        f"equity 9,971.26, {UNIT})",
        "  FAIL    MAX_DAILY_LOSS: actual -3.121%, day start equity 10,292.49, "
        f"{midnight}, equity 9,971.26, {UNIT}",
    ]
    # At 00:00 the day starts: no move yet.
    assert why("2022-11-08T00:00:00Z")[1] == (
        "  PASS    MAX_DAILY_LOSS: actual 0%, day start equity 10,292.49, "
        f"{midnight}, equity 10,292.49, {UNIT}"
    )
