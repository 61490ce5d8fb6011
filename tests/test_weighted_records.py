"""The example strategy (``strategies/weighted_sources.yaml``) backtested on the bundled data
through ``signalops backtest``, and ``signalops why`` on its compact records showing each weight.

A hit-rate weight is recorded like every other datum: the ``hit_rate`` source's two counts per
rule are observations of the decision, so a compact record's trace re-derives them from the
stored tree (``signalops/audit/trees.py`` stores the ``weighted`` node kind) and the replay and
live adapter sets serve the source (``registry``: ``with_hit_rates``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT

from signalops.adapters import registry
from signalops.adapters.gather import evaluate
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.expand import expanded, is_compact
from signalops.audit.store import AuditLog
from signalops.canonical import parse_iso
from signalops.cli import cli
from signalops.pipeline import records_of_kind
from signalops.strategy import load

EXAMPLE = ROOT / "strategies" / "weighted_sources.yaml"
FOLDER = Path("reports") / "weighted_sources"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def backtest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, replay_dir: Path) -> Any:
    monkeypatch.chdir(tmp_path)  # the report goes to reports/<file name>
    result = invoke(
        "backtest", str(EXAMPLE), "--from", "2024-01-01", "--to", "2024-03-31",
        "--data", str(replay_dir),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def decisions(path: Path) -> list[dict[str, Any]]:
    log = AuditLog(path)
    try:
        return [dict(r) for r in records_of_kind(log, "decision")]
    finally:
        log.close()


def why_shows_measured_weights(tmp_path: Path, replay_dir: Path) -> None:
    """The backtest's records are compact, and ``why`` on one shows every rule's weight and
    where it came from, equal to a fresh evaluation at the record's time."""
    db = tmp_path / FOLDER / "backtest.db"
    records = decisions(db)
    assert len(records) == 91 and all(is_compact(r) for r in records)
    assert {r["verdict"] for r in records} >= {"BUY", "HOLD"}
    record = next(r for r in records if r["as_of"] == "2024-02-10T00:00:00Z")
    output = invoke("why", record["decision_id"], "--audit", str(db)).output
    lines = output.splitlines()
    assert "PASS    BUY when the rules that pass carry 60% of the weight" in lines
    assert (
        "    weights: hit rate over 180d: a PASS then a rise of more than 0% within 5d (1d "
        "bars); under 10 signals: prior 0.5"
    ) in lines
    shown = [line.split("│", 1)[-1].strip() for line in lines if "weight " in line and "·" in line]
    assert shown == [
        "weight 0.571429 · hit rate 16 of 28 signals over 175 bars to 2024-02-10T00:00:00Z",
        "weight 0.561404 · hit rate 32 of 57 signals over 175 bars to 2024-02-10T00:00:00Z",
        "weight 0.517241 · hit rate 45 of 87 signals over 175 bars to 2024-02-10T00:00:00Z",
    ]
    log = AuditLog(db)
    try:
        trace = expanded(record, log)["trace"]
    finally:
        log.close()
    strategy = load(EXAMPLE)
    adapters = registry.replay_adapters(SnapshotStore(replay_dir))
    fresh = evaluate(strategy, "BTC", parse_iso(record["as_of"]), adapters).to_dict()
    assert trace["entry"]["weights"] == json.loads(json.dumps(fresh["entry"]["weights"]))
    assert trace["entry"]["vote"] == pytest.approx(fresh["entry"]["vote"])
    # The log verifies, and every decision re-evaluates from its record alone to the same verdict.
    verify = invoke("audit", "verify", "--audit", str(db))
    assert verify.exit_code == 0 and "chain intact" in verify.output
    replay = invoke("audit", "replay", "--all", "--audit", str(db))
    assert replay.exit_code == 0, replay.output


def test_the_example_backtests_and_why_shows_each_weight_it_measured(
    replay_dir, tmp_path, monkeypatch
):
    result = backtest(tmp_path, monkeypatch, replay_dir)
    assert result.stdout.splitlines()[0] == (
        "Weighted_Sources · BTC · 2024-01-01 → 2024-03-31 · 91 periods of 1d"
    )
    why_shows_measured_weights(tmp_path, replay_dir)


def test_both_backtest_engines_leave_the_same_log_for_the_weighted_example(replay_store, tmp_path):
    from test_backtest_fast_parity import assert_same_backtest, both_engines, utc

    fast, pipeline = both_engines(
        load(EXAMPLE), replay_store, tmp_path, start=utc("2024-01-01"), end=utc("2024-06-30")
    )
    assert_same_backtest(fast, pipeline)
    assert {d.verdict for d in fast.decisions} == {"BUY", "SELL", "HOLD"}
