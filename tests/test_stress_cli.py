"""``signalops stress``: the table on the bundled data (a golden file, byte for byte), JSON,
errors at a scenario file's line and column, and ``why`` on a stressed decision's audit log."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from conftest import ROOT, STRATEGIES, invoke

GOLDEN = ROOT / "tests" / "golden"
BANKING = str(STRATEGIES / "banking_crisis_dip.yaml")


def stress(replay_dir: Path, report: Path, *args: str) -> tuple[int, str, str]:
    result = invoke("stress", BANKING, "--data", str(replay_dir), "--report", str(report), *args)
    return result.exit_code, result.stdout, result.stderr


def test_stress_on_the_bundled_data_prints_its_golden_table(replay_dir: Path, tmp_path: Path):
    report = tmp_path / "reports"
    code, out, err = stress(replay_dir, report)
    assert code == 0, err
    shown = out.replace(str(report.resolve()), "<report>").replace(str(report), "<report>")
    assert shown == (GOLDEN / "stress_banking_crisis_dip.txt").read_text(encoding="utf-8")
    # Each scenario that ran left its audit log where the table says.
    for line in shown.splitlines():
        match = re.match(r"why (\S+): signalops why (\S+) --audit (\S+)$", line)
        if match:
            assert match.group(3) == f"<report>/{match.group(1)}/backtest.db"
    assert (report / "venue_rejects_48h" / "backtest.db").is_file()
    assert not (report / "election_odds_collapse").exists()  # skipped: not applicable


def test_why_explains_a_decision_that_failed_closed_in_a_stressed_run(
    replay_dir: Path, tmp_path: Path
):
    code, out, err = stress(replay_dir, tmp_path, "--scenario", "onchain_outage_48h")
    assert code == 0, err
    (line,) = [x for x in out.splitlines() if x.startswith("why onchain_outage_48h: ")]
    decision, audit = line.split("signalops why ")[1].split(" --audit ")
    explained = invoke("why", decision, "--audit", audit)
    assert explained.exit_code == 0, explained.stderr
    assert explained.stdout.startswith(
        "BTC at 2023-03-10T00:00:00Z: would have bought but BLOCKED by veto usdc_outflow "
        "(data unknown)\n"
    )
    assert "onchain could not be reached (stress scenario: outage from 2023-03-10T00:00:00Z" in (
        explained.stdout
    )


def test_json_has_each_chosen_scenario_with_its_counts_or_why_it_was_skipped(
    replay_dir: Path, tmp_path: Path
):
    own = tmp_path / "own.yaml"
    own.write_text(
        "name: own_gap\nfrom: 2023-03-01\nto: 2023-03-20\nshocks:\n"
        "  - gap: {asset: ETH, at: 2023-03-11, pct: -30}\n",
        encoding="utf-8",
    )
    code, out, err = stress(
        replay_dir, tmp_path / "r", "--scenario", "venue_rejects_48h", "--scenario", str(own),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    rejects, mine = report["scenarios"]
    assert report["breakers_run_in_backtests"] is False and report["quote"] == "USDT"
    assert rejects["scenario"]["shocks"] == [
        {"venue_rejects": {"from": "2023-03-10T00:00:00Z", "hours": 48.0}}
    ]
    assert (rejects["rejected_by_venue"], rejects["rejections_by_code"]) == (
        2,
        {"ORDER_REJECTED": 2},
    )
    assert rejects["filled"] == 0 and rejects["pnl"] == "0"
    assert rejects["audit_log"] == str(tmp_path / "r" / "venue_rejects_48h" / "backtest.db")
    assert mine["skipped"] == (
        "not applicable: Banking_Crisis_Dip does not trade ETH (it trades BTC)"
    )


def test_a_bad_scenario_file_is_an_error_at_its_line_and_column_and_exit_1(
    replay_dir: Path, tmp_path: Path
):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nfrom: 2023-03-01\nto: 2023-03-31\nshocks:\n"
        "  - gap: {asset: BTC, at: 2023-03-11, pct: -120}\n",
        encoding="utf-8",
    )
    code, out, err = stress(replay_dir, tmp_path / "r", "--scenario", str(bad))
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: {bad}:5:44: shocks[0].gap.pct: must be > -100, got -120",
        "    - gap: {asset: BTC, at: 2023-03-11, pct: -120}",
        "                                             ^",
    ]
    assert not (tmp_path / "r").exists()


def test_an_unknown_scenario_name_is_an_error_with_a_hint(replay_dir: Path, tmp_path: Path):
    code, _, err = stress(replay_dir, tmp_path, "--scenario", "ftx_colapse_2022-11")
    assert code == 1
    assert err.strip() == (
        "error: no bundled scenario 'ftx_colapse_2022-11' (did you mean 'ftx_collapse_2022-11'?)"
    )


def test_the_wheel_carries_the_bundled_scenarios():
    # The installed package reads them from signalops/_bundled/scenarios (stress.loader).
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    included = project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    assert included["scenarios"] == "signalops/_bundled/scenarios"
    assert included["schemas"] == "signalops/schemas"  # stress.schema.json among them


def test_stocks_on_a_dollar_venue_are_stressed_in_dollars(replay_dir: Path, tmp_path: Path):
    result = invoke(
        "stress", str(STRATEGIES / "graham_value_event_filter.yaml"), "--data", str(replay_dir),
        "--report", str(tmp_path), "--config", str(ROOT / "examples" / "signalops.equities.yaml"),
        "--scenario", "covid_crash_2020-03",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    heading, columns = result.stdout.splitlines()[:2]
    assert heading == (
        "Graham_Value_Event_Filter · stress · 1 scenario run · starting cash 10,000.00 USD each"
    )
    assert columns.split()[:5] == ["scenario", "window", "PnL", "(USD)", "return"]


def test_in_a_folder_init_wrote_the_sample_skips_the_windows_the_readme_says(in_tmp: Path):
    assert invoke("init", ".").exit_code == 0
    assert invoke("data", "import").exit_code == 0
    result = invoke("stress", "strategies/banking_crisis_dip.yaml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Banking_Crisis_Dip · stress · 6 scenarios run, 3 skipped · "
        "starting cash 10,000.00 USDT each"
    )
    skipped = [line.split(":")[0] for line in lines if line.startswith("skipped ")]
    assert skipped == [
        "skipped covid_crash_2020-03",
        "skipped terra_luna_2022-05",
        "skipped election_odds_collapse",
    ]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = " ".join(readme[readme.index("### Stress scenarios") :].split("```")[0].split())
    assert (
        "in a tour folder the March 2020 and May 2022 windows and `election_odds_collapse` "
        "(November 2024) are skipped as not covered by the data (`6 scenarios run, 3 skipped`)"
    ) in section
