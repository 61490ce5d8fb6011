"""A leaf UNKNOWN because the source has no data for the time (``NO_DATA``) says so under its
reading, in ``evaluate`` and in ``why``; the record keeps what it stored (the leaf's reason
``ADAPTER_ERROR``, the reading's ``NO_DATA: ...``): only the words changed.

Regression test: ``UNKNOWN: the data source reported an error`` stood under ``NO_DATA: no
recorded price of market '511754' ...`` (the demo's ``why BTC --at 2024-10-15``), as if the
source had failed.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import STRATEGIES
from conftest import invoke as run

STRATEGY = str(STRATEGIES / "election_odds_gate.yaml")
DAY = "2024-10-15"
READING = (
    "        polymarket('511754').yes: NO_DATA: no recorded price of market '511754' yes at or "
    "before 2024-10-15T00:00:00Z (the first is from 2024-11-03T00:00:00Z)"
)
SAID = "        UNKNOWN: the source has no data for this time"
VETO = (
    "BLOCKS  VETO election_odds: blocks BUY when this passes or is unknown — the market doubts "
    "the outcome the trade is betting on"
)


def test_evaluate_says_the_source_has_no_data_for_the_time(in_tmp: Path, replay_dir: Path):
    result = run("evaluate", STRATEGY, "--at", DAY, "--data", str(replay_dir))

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-4:] == [
        VETO,
        "└── UNKNOWN polymarket('511754').yes < 0.5   polymarket · max age 2d · line 34",
        READING,
        SAID,
    ]


def test_why_says_it_of_the_recorded_decision_which_keeps_its_stored_reason(
    in_tmp: Path, replay_dir: Path
):
    ran = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", DAY, "--to", DAY,
        "--every", "1d", "--audit", "audit.db",
    )  # fmt: skip
    assert "1 BLOCKED" in ran.stdout, ran.output

    why = run("why", "BTC", "--at", DAY, "--audit", "audit.db")

    assert why.exit_code == 0, why.output
    lines = why.stdout.splitlines()
    at = lines.index(VETO)
    assert lines[at : at + 5] == [
        VETO,
        "└── UNKNOWN polymarket('511754').yes < 0.5   polymarket",
        "        value unknown · threshold < 0.5",
        READING,
        SAID,
    ]
    stored = json.loads(run("why", "BTC", "--at", DAY, "--audit", "audit.db", "--json").stdout)
    (leaf,) = [leaf for leaf in stored["leaves"] if leaf.get("reason")]
    assert leaf["reason"] == "ADAPTER_ERROR"
    assert [r["error"].split(":")[0] for r in leaf["readings"]] == ["NO_DATA"]
