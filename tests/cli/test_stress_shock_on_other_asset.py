"""A stress shock on an asset the strategy does not trade is not applied, the reason naming the
assets it trades: alone, the scenario is skipped; beside shocks that apply, the scenario runs
with those, and the report names the one left out and why.

Regression tests: ``gap: {asset: DOGE, ...}`` beside a shock that applies ran on a BTC-only
strategy and printed ``shock my_gap: DOGE gaps +20% at 2023-03-11T00:00:00Z`` (exit 0) as if the
strategy had been stressed by it. Then the whole scenario was skipped, the outage that did apply
with it: ``0 scenarios run, 1 skipped`` for a technical-data outage beside an ETH gap.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from conftest import STRATEGIES
from conftest import invoke as run

WINDOW = "name: my_gap\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
DOGE_GAP = "  - gap: {asset: DOGE, at: 2023-03-11, pct: 20}\n"
VENUE_REJECTS = "  - venue_rejects: {from: 2023-03-10, hours: 48}\n"
OUTAGE = "  - outage: {source: technical, from: 2023-03-10, hours: 24}\n"
ETH_GAP = "  - gap: {asset: ETH, at: 2023-03-11, pct: -20}\n"


def stress(*scenarios: str, data: Path) -> Result:
    args = []
    for i, scenario in enumerate(scenarios):
        Path(f"sc{i}.yaml").write_text(scenario, encoding="utf-8")
        args += ["--scenario", f"sc{i}.yaml"]
    return run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), *args,
        "--data", str(data), "--report", "r",
    )  # fmt: skip


def test_a_gap_of_an_asset_the_strategy_does_not_trade_is_skipped_naming_its_assets(
    in_tmp: Path, replay_dir: Path
):
    result = stress(WINDOW + DOGE_GAP, data=replay_dir)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: no scenario ran (1 skipped; nothing written to r)",
        "skipped my_gap: not applicable: Banking_Crisis_Dip does not trade DOGE (it trades BTC)",
    ]


def test_beside_a_shock_that_applies_the_scenario_runs_with_that_one_and_names_the_other(
    in_tmp: Path, replay_dir: Path
):
    result = stress(WINDOW + DOGE_GAP + VENUE_REJECTS, data=replay_dir)
    assert result.exit_code == 0, result.output
    shocks = [line for line in result.stdout.splitlines() if line.startswith("shock ")]
    assert shocks == [
        "shock my_gap: the venue rejects every order for 48h from 2023-03-10T00:00:00Z",
        "shock my_gap not applied: DOGE gaps +20% at 2023-03-11T00:00:00Z: Banking_Crisis_Dip "
        "does not trade DOGE (it trades BTC)",
    ]
    assert (in_tmp / "r" / "my_gap" / "backtest.db").is_file()


def test_an_outage_beside_a_gap_of_another_asset_is_the_outage_alone_and_says_so(
    in_tmp: Path, replay_dir: Path
):
    both = "name: outage_and_eth_gap\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
    alone = "name: outage_alone\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
    result = stress(both + OUTAGE + ETH_GAP, alone + OUTAGE, data=replay_dir)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Banking_Crisis_Dip · stress · 2 scenarios run · starting cash 10,000.00 USDT each"
    )
    # The same run: the ETH gap changes nothing Banking_Crisis_Dip (BTC) reads.
    row, same = lines[3], lines[4]
    assert row.split()[1:] == same.split()[1:]
    assert row.split()[:3] == ["outage_and_eth_gap", "2023-03-01", "→"]
    assert [line for line in lines if line.startswith("shock ")] == [
        "shock outage_and_eth_gap: technical data unreachable for 24h from 2023-03-10T00:00:00Z",
        "shock outage_and_eth_gap not applied: ETH gaps -20% at 2023-03-11T00:00:00Z: "
        "Banking_Crisis_Dip does not trade ETH (it trades BTC)",
        "shock outage_alone: technical data unreachable for 24h from 2023-03-10T00:00:00Z",
    ]


def test_json_lists_the_shocks_not_applied_with_why(in_tmp: Path, replay_dir: Path):
    Path("sc.yaml").write_text(WINDOW + OUTAGE + ETH_GAP, encoding="utf-8")
    result = run(
        "stress", str(STRATEGIES / "banking_crisis_dip.yaml"), "--scenario", "sc.yaml",
        "--data", str(replay_dir), "--report", "r", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (scenario,) = json.loads(result.stdout)["scenarios"]
    assert len(scenario["scenario"]["shocks"]) == 2  # the scenario as written
    assert scenario["shocks_not_applied"] == [
        {
            "shock": {"gap": {"asset": "ETH", "at": "2023-03-11T00:00:00Z", "pct": -20.0}},
            "reason": "Banking_Crisis_Dip does not trade ETH (it trades BTC)",
        }
    ]
    assert scenario["failed_closed"] == 1  # the outage was applied
