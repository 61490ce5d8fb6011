"""COOLDOWN is measured per strategy book: another strategy's trade on the asset does not hold a
strategy back, and its details say whose last trade they measured.

Regression test: with two strategies on BTC signalling BUY together (banking_crisis_dip and
technical_baseline on 2023-03-10 and 03-11), the second one evaluated was always denied
COOLDOWN ``actual 0s`` by the first one's trade in the same cycle, and never traded: which of
them traded depended on the order they were listed in. ORDER_RATE still counts every
strategy's orders (account-wide), and a strategy alone on its account keeps its details.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run

BANKING = str(STRATEGIES / "banking_crisis_dip.yaml")
BASELINE = str(STRATEGIES / "technical_baseline.yaml")
DAYS = ("--from", "2023-03-08", "--to", "2023-03-12", "--every", "1d")
OWN_UNIT = "unit time since the last trade of this strategy on the asset"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cycles(
    replay_dir: Path, *strategies: str, config: str = "risk: {}\n", days: tuple[str, ...] = DAYS
) -> list[str]:
    Path("signalops.yaml").write_text(config, encoding="utf-8")
    result = run("run", *strategies, "--replay", str(replay_dir), *days, "--audit", "s.db")
    assert result.exit_code == 0, result.output
    return [line.split("  [")[0] for line in result.stdout.splitlines()]


def why(day: str, strategy: str) -> list[str]:
    result = run("why", "BTC", "--at", day, "--strategy", strategy, "--audit", "s.db")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def check(lines: list[str], code: str) -> str:
    (found,) = [line for line in lines if line.startswith(("  PASS    ", "  FAIL    ")) and
                line[10:].startswith(code + ":")]  # fmt: skip
    return found


def test_two_strategies_signalling_together_on_one_asset_both_trade(replay_dir: Path, folder: Path):
    assert cycles(replay_dir, BANKING, BASELINE)[2:4] == [
        "2023-03-10T00:00:00Z  2 decisions: 2 BUY (2 filled)",
        "2023-03-11T00:00:00Z  2 decisions: 2 BUY (2 filled)",
    ]
    first, second = why("2023-03-10", "Banking_Crisis_Dip"), why("2023-03-10", "Technical_Baseline")
    assert first[0] == second[0] == "BTC at 2023-03-10T00:00:00Z: BOUGHT"
    assert check(second, "COOLDOWN") == (
        "  PASS    COOLDOWN: actual no earlier trade, book Technical_Baseline, last trade none "
        f"yet, limit 1h, {OWN_UNIT}"
    )
    # The account's orders all count towards the rate: the other strategy's, this one's.
    assert check(second, "ORDER_RATE") == (
        "  PASS    ORDER_RATE: actual 2, limit 10, unit orders in the last hour, this one included"
    )
    assert check(why("2023-03-11", "Technical_Baseline"), "COOLDOWN") == (
        "  PASS    COOLDOWN: actual 1d, book Technical_Baseline, last trade "
        f"2023-03-10T00:00:00Z, limit 1h, {OWN_UNIT}"
    )


def test_the_order_the_strategies_are_listed_in_decides_nothing(replay_dir: Path, folder: Path):
    assert cycles(replay_dir, BASELINE, BANKING)[2:4] == [
        "2023-03-10T00:00:00Z  2 decisions: 2 BUY (2 filled)",
        "2023-03-11T00:00:00Z  2 decisions: 2 BUY (2 filled)",
    ]
    assert why("2023-03-10", "Banking_Crisis_Dip")[0] == "BTC at 2023-03-10T00:00:00Z: BOUGHT"


def test_a_strategy_is_still_held_back_by_its_own_last_trade(replay_dir: Path, folder: Path):
    lines = cycles(replay_dir, BANKING, BASELINE, config="risk: {cooldown: 3d}\n")
    assert lines[2:4] == [
        "2023-03-10T00:00:00Z  2 decisions: 2 BUY (2 filled)",
        "2023-03-11T00:00:00Z  2 decisions: 2 BUY (2 denied by risk)",
    ]
    for name in ("Banking_Crisis_Dip", "Technical_Baseline"):
        assert why("2023-03-11", name)[0] == (
            "BTC at 2023-03-11T00:00:00Z: DENIED by the risk gate: COOLDOWN (actual 1d, book "
            f"{name}, last trade 2023-03-10T00:00:00Z, limit 3d, {OWN_UNIT})"
        )


def test_alone_on_its_account_the_details_are_as_before_and_after_another_they_say_whose(
    replay_dir: Path, folder: Path
):
    until = ("--from", "2023-03-08", "--to", "2023-03-11", "--every", "1d")
    assert cycles(replay_dir, BANKING, days=until)[2:4] == [
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 filled)",
    ]
    assert check(why("2023-03-11", "Banking_Crisis_Dip"), "COOLDOWN") == (
        "  PASS    COOLDOWN: actual 1d, last trade 2023-03-10T00:00:00Z, limit 1h, unit time "
        "since the last trade on the asset"
    )
    # The same log, another strategy alone, going on from the other's last time (a replay
    # before a log's newest decision is refused): the account is shared now, and the other's
    # trade at the same moment holds it back no more than in one run together.
    after = ("--from", "2023-03-11", "--to", "2023-03-11", "--every", "1d")
    assert cycles(replay_dir, BASELINE, days=after) == [
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 filled)",
    ]
    assert check(why("2023-03-11", "Technical_Baseline"), "COOLDOWN") == (
        "  PASS    COOLDOWN: actual no earlier trade, book Technical_Baseline, last trade none "
        f"yet, limit 1h, {OWN_UNIT}"
    )


def test_an_approval_is_not_held_back_by_the_other_strategys_trade_and_counts_as_its_own(
    replay_dir: Path, folder: Path
):
    notify = Path("baseline_notify.yaml")
    text = Path(BASELINE).read_text(encoding="utf-8")
    notify.write_text(text.replace("action_mode: paper", "action_mode: notify"), encoding="utf-8")
    Path("signalops.yaml").write_text("risk: {}\n", encoding="utf-8")
    both = (BANKING, str(notify), "--replay", str(replay_dir), "--every", "1d", "--audit", "s.db")

    first = run("run", *both, "--from", "2023-03-10", "--to", "2023-03-10")
    assert first.stdout.splitlines()[0].split("  [")[0] == (
        "2023-03-10T00:00:00Z  2 decisions: 2 BUY (1 filled, 1 awaiting approval)"
    )
    (approval,) = [
        line.split()[0] for line in run("approvals", "--audit", "s.db").stdout.splitlines()
    ]
    approved = run(
        "approve", approval, "--replay", str(replay_dir), "--at", "2023-03-10T00:05:00Z",
        "--audit", "s.db",
    )  # fmt: skip
    assert approved.stdout.startswith(f"{approval}: FILLED"), approved.output

    # The next day each strategy's cooldown runs from its own last trade: the approved fill.
    run("run", *both, "--from", "2023-03-11", "--to", "2023-03-11")
    assert check(why("2023-03-11", "Banking_Crisis_Dip"), "COOLDOWN") == (
        "  PASS    COOLDOWN: actual 1d, book Banking_Crisis_Dip, last trade "
        f"2023-03-10T00:00:00Z, limit 1h, {OWN_UNIT}"
    )
    assert check(why("2023-03-11", "Technical_Baseline"), "COOLDOWN") == (
        "  PASS    COOLDOWN: actual 23h 55m, book Technical_Baseline, last trade "
        f"2023-03-10T00:05:00Z, limit 1h, {OWN_UNIT}"
    )
