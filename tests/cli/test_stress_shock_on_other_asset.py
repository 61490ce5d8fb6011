"""A stress scenario with a shock on an asset the strategy does not trade is skipped, the reason
naming the assets it trades, whether or not the scenario's other shocks apply.

Regression test: ``gap: {asset: DOGE, ...}`` beside a shock that applies ran on a BTC-only
strategy and printed ``shock my_gap: DOGE gaps +20% at 2023-03-11T00:00:00Z`` (exit 0) as if the
strategy had been stressed by it; alone, the reason did not say what the strategy trades.
"""

from __future__ import annotations

from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

WINDOW = "name: my_gap\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
DOGE_GAP = "  - gap: {asset: DOGE, at: 2023-03-11, pct: 20}\n"
VENUE_REJECTS = "  - venue_rejects: {from: 2023-03-10, hours: 48}\n"
HEADING = "error: no scenario ran (1 skipped; nothing written to r)"


def stress(scenario: str, data: Path) -> list[str]:
    Path("sc.yaml").write_text(scenario, encoding="utf-8")
    result = run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--scenario", "sc.yaml",
        "--data", str(data), "--report", "r",
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    return result.stderr.splitlines()


def test_a_gap_of_an_asset_the_strategy_does_not_trade_is_skipped_naming_its_assets(
    in_tmp: Path, replay_dir: Path
):
    assert stress(WINDOW + DOGE_GAP, replay_dir) == [
        HEADING,
        "skipped my_gap: not applicable: Banking_Crisis_Dip does not trade DOGE (it trades BTC)",
    ]


def test_beside_a_shock_that_applies_the_scenario_is_skipped_not_run_without_it(
    in_tmp: Path, replay_dir: Path
):
    assert stress(WINDOW + DOGE_GAP + VENUE_REJECTS, replay_dir) == [
        HEADING,
        "skipped my_gap: not applicable: Banking_Crisis_Dip does not trade DOGE (it trades BTC); "
        "each shock of a scenario must touch what the strategy reads",
    ]
    assert not (in_tmp / "r" / "my_gap").exists()
