"""``why`` shows a risk check the order's side is exempt from as not applying to that side, without
the figures it did not judge; the record keeps them (``why --json``).

Regression test: a BUY's line read ``PASS NO_POSITION: actual 0.02479829, exempt BUY, limit
0.02455527``, a quantity against a "limit" for a check that only a SELL can fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from conftest import invoke as run

STRATEGY = str(ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml")


@pytest.fixture(scope="module")
def march(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pipeline fixture from the BUY that fills (2023-03-10) to the SELL (2023-03-14)."""
    db = tmp_path_factory.mktemp("exempt") / "audit.db"
    ran = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-10", "--to",
        "2023-03-14", "--every", "1d", "--audit", str(db),
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    return db


def risk_lines(db: Path, day: str) -> list[str]:
    result = run("why", "BTC", "--at", day, "--audit", str(db))
    assert result.exit_code == 0, result.output
    return [line for line in result.stdout.splitlines() if line.startswith("  PASS")]


def test_a_buy_is_told_no_position_does_not_apply_to_it_and_the_record_keeps_the_figures(
    march: Path,
):
    assert "  PASS    NO_POSITION: does not apply to this BUY" in risk_lines(march, "2023-03-10")
    shown = run("why", "BTC", "--at", "2023-03-10", "--audit", str(march), "--json")
    checks = {check["code"]: check for check in json.loads(shown.stdout)["risk"]["checks"]}
    assert checks["NO_POSITION"]["details"] == {
        "actual": "0.02455527",
        "exempt": "BUY",
        "limit": "0",
        "unit": "asset units",
    }


def test_a_sell_is_told_which_checks_do_not_apply_to_it_and_no_position_judged(march: Path):
    assert risk_lines(march, "2023-03-14")[4:] == [
        "  PASS    NO_POSITION: actual 0.02455527, limit 0.02455527, unit asset units",
        "  PASS    MAX_POSITION: does not apply to this SELL",
        "  PASS    MAX_EXPOSURE: does not apply to this SELL",
        "  PASS    MAX_DAILY_LOSS: does not apply to this SELL",
        "  PASS    ORDER_RATE: does not apply to this SELL",
        "  PASS    COOLDOWN: does not apply to this SELL",
        "  PASS    MIN_NOTIONAL: does not apply to this SELL",
        "  PASS    MAX_NOTIONAL: does not apply to this SELL",
    ]
