"""Replaying a stored decision from its record alone: the strategy stored under its content hash
and the observations the record kept, evaluated again at the record's time."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from audit_scenarios import SCENARIOS, STRATEGY
from conftest import STRATEGIES

from signalops.adapters import registry
from signalops.adapters.store import SnapshotStore
from signalops.audit.replay import replay, replay_record
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.codes import Code
from signalops.errors import InputError
from signalops.observation import DataError
from signalops.pipeline import records_of_kind
from signalops.strategy import load


@pytest.fixture(scope="module")
def march_2023(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit log of a daily backtest of banking_crisis_dip over March 2023."""
    strategy = load(STRATEGIES / "banking_crisis_dip.yaml", registry.catalogue())
    result = run_backtest(
        strategy,
        store=SnapshotStore(replay_dir),
        start=datetime(2023, 3, 1, tzinfo=UTC),
        end=datetime(2023, 3, 31, tzinfo=UTC),
        out_dir=tmp_path_factory.mktemp("march"),
    )
    return result.audit_path


def decisions(path: Path) -> list[dict[str, Any]]:
    with AuditLog(path) as log:
        return list(records_of_kind(log, "decision"))


def test_every_decision_of_a_march_2023_backtest_replays_identically(march_2023: Path):
    records = decisions(march_2023)

    with AuditLog(march_2023) as log:
        results = [replay(log, record["decision_id"]) for record in records]

    assert len(results) == 31
    assert {r.recorded_verdict for r in results} == {"BUY", "SELL", "HOLD"}
    assert [r.decision_id for r in results if not r.identical] == []
    assert all(r.differing_leaves == () for r in results)
    assert all(r.replayed_trace_hash.startswith("sha256:") for r in results)


def test_an_edited_observation_value_replays_to_a_mismatch_naming_its_leaves(march_2023: Path):
    with AuditLog(march_2023) as log:
        record = next(r for r in decisions(march_2023) if r["verdict"] == "BUY")
        document = log.strategy_document(record["strategy"]["hash"])
        edited = copy.deepcopy(record)
        rsi = next(o for o in edited["observations"] if o["metric"] == "rsi")
        rsi["value"] = 45.0  # was oversold: neither the entry nor the exit passes now
        result = replay_record(edited, document)
        untouched = replay(log, record["decision_id"])

    assert not result.identical
    assert (result.recorded_verdict, result.replayed_verdict) == ("BUY", "HOLD")
    assert result.recorded_trace_hash != result.replayed_trace_hash
    changed = {d.text: d.fields for d in result.differing_leaves}
    assert all("rsi" in text for text in changed)
    assert all("value" in fields for fields in changed.values())
    assert any("status" in fields for fields in changed.values())  # the entry leaf flipped
    assert untouched.identical  # the log itself was not edited


def replay_alone(path: Path, record: dict[str, Any]):
    with AuditLog(path) as log:
        log.remember_strategy(STRATEGY)
        log.append(record)
        return replay(log, record["decision_id"])


def test_a_blocked_decision_replays_blocked_by_the_same_veto(tmp_path: Path):
    record = SCENARIOS.record("blocked")

    result = replay_alone(tmp_path / "audit.db", record)

    assert (result.recorded_verdict, result.replayed_verdict) == ("BLOCKED", "BLOCKED")
    assert result.identical


def test_nan_data_errors_and_missing_data_replay_to_the_same_unknown_leaves(tmp_path: Path):
    error = DataError(Code.HTTP_ERROR, "upstream said 503 (api_key=secret123)", "onchain")
    record = SCENARIOS.record("hold", values=(math.nan, None, error))

    result = replay_alone(tmp_path / "audit.db", record)

    reasons = [leaf["reason"] for leaf in record["trace"]["leaves"]]
    assert {Code.NOT_A_NUMBER, Code.MISSING, Code.ADAPTER_ERROR} <= set(reasons)
    assert result.identical
    assert result.replayed_trace_hash == result.recorded_trace_hash


def test_replaying_an_id_that_is_not_a_decision_is_an_input_error(march_2023: Path):
    with AuditLog(march_2023) as log, pytest.raises(InputError, match="no decision dec-nope"):
        replay(log, "dec-nope")
