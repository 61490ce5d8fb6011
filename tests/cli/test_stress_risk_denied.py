"""The stress table's "risk denied" counts the orders the risk gate denied, not the SELLs with
nothing to sell (NO_POSITION: an exit rule passing while the strategy holds nothing), as the
backtest's "BUYs denied" leaves them out; JSON counts those apart.

Regression test: banking_crisis_2023-03 showed ``17 NO_POSITION`` under "risk denied", as if the
gate had blocked 17 trades, where the strategy was flat and its exit rule held.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from conftest import STRATEGIES
from conftest import invoke as run

from signalops.stress.scenario_backtests import sell_while_flat


def stress(data: Path, *args: str) -> Result:
    return run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--data", str(data),
        "--scenario", "banking_crisis_2023-03", "--report", "r", *args,
    )  # fmt: skip


def test_exit_signals_while_flat_are_not_counted_as_denied(in_tmp: Path, replay_dir: Path):
    result = stress(replay_dir)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:4] == [
        "scenario                 window                    PnL (USDT)   return   max DD   "
        "decisions   filled   risk denied   venue rejected   failed closed   breakers",
        "─" * 158,
        "banking_crisis_2023-03   2023-03-01 → 2023-03-31      +187.04   +1.87%   -0.06%   "
        "       31        3             0                0               0        n/a",
    ]
    assert (
        "risk denied: orders the risk gate denied, by failed check (an order may fail several; "
        "not SELLs with nothing to sell: exit rules passing while flat)" in result.stdout
    )
    shown = stress(replay_dir, "--json")
    (scenario,) = json.loads(shown.stdout)["scenarios"]
    assert (scenario["denied_by_risk_gate"], scenario["denials_by_code"]) == (0, {})
    assert scenario["sells_while_flat"] == 17


def test_buys_the_gate_denies_are_counted(in_tmp: Path, replay_dir: Path):
    Path("c.yaml").write_text("risk:\n  max_notional: 100\n", encoding="utf-8")
    result = stress(replay_dir, "--config", "c.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[3] == (
        "banking_crisis_2023-03   2023-03-01 → 2023-03-31        +0.00   +0.00%    0.00%   "
        "       31        0   2 MAX_NOTIONAL                0               0        n/a"
    )


def test_an_order_failing_two_checks_reads_as_one_denial(in_tmp: Path, replay_dir: Path):
    # One BUY, denied both COOLDOWN and MAX_POSITION, read "1 COOLDOWN 1, MAX_POSITION 1":
    # as if two denials; the checks are now in brackets after the orders.
    Path("c.yaml").write_text("risk:\n  max_position: 0.06\n  cooldown: 2d\n", encoding="utf-8")
    result = stress(replay_dir, "--config", "c.yaml")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[3] == (
        "banking_crisis_2023-03   2023-03-01 → 2023-03-31       +90.45   +0.90%   -0.06%   "
        "       31        2   1 (COOLDOWN 1, MAX_POSITION 1)                0               0"
        "        n/a"
    )


def test_only_a_sell_with_nothing_to_sell_is_a_sell_while_flat():
    assert sell_while_flat("SELL", ["NO_POSITION"])
    assert sell_while_flat("SELL", ["DATA_STALE", "NO_POSITION"])
    assert not sell_while_flat("SELL", ["DATA_STALE"])  # a stale exit of a held position
    assert not sell_while_flat("BUY", ["MAX_NOTIONAL"])
    assert not sell_while_flat("SELL", [])
