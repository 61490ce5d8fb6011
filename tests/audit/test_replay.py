"""Replaying a stored decision from its record alone: the strategy stored under its content hash
and the observations the record kept, evaluated again at the record's time.

A compact record's trace is derived from the same observations by its stored tree, so an edited
observation shows as a verdict that differs (and a record that no longer matches its hash); a
``signalops.audit/1`` record stored its trace, and a replay names the leaves that differ.
"""

from __future__ import annotations

import copy
import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from attacks import attacker, edit_body
from audit_scenarios import SCENARIOS, STRATEGY, tamper
from click.testing import CliRunner
from conftest import STRATEGIES
from legacy import restore_legacy
from rich.text import Text

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit import verify as verify_module
from signalops.audit.expand import expanded
from signalops.audit.replay import replay, replay_record
from signalops.audit.store import AuditLog
from signalops.audit.verify import verify
from signalops.backtest import run_backtest
from signalops.cli import cli
from signalops.codes import Code
from signalops.errors import InputError
from signalops.observation import DataError
from signalops.pipeline import records_of_kind
from signalops.strategy import load

# The BUY of 2023-03-10 in the signalops.audit/1 fixture log.
V1_BUY = "dec-06b9f3bcf8279e462f0c49f6"


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


def entry(record: dict[str, Any], metric: str) -> dict[str, Any]:
    """The record's observation of ``metric`` (compact entries follow the tree's requests)."""
    requests = STRATEGY.tree.requests(record["asset"])
    return next(
        e for r, e in zip(requests, record["observations"], strict=True) if r.metric == metric
    )


def test_an_edited_observation_value_replays_to_another_verdict(march_2023: Path):
    with AuditLog(march_2023) as log:
        record = next(r for r in decisions(march_2023) if r["verdict"] == "BUY")
        document = log.strategy_document(record["strategy"]["hash"])
        edited = copy.deepcopy(record)
        entry(edited, "rsi")["value"] = 45.0  # was oversold: neither entry nor exit passes now
        result = replay_record(edited, document)
        untouched = replay(log, record["decision_id"])

    assert not result.identical
    assert (result.recorded_verdict, result.replayed_verdict) == ("BUY", "HOLD")
    assert untouched.identical  # the log itself was not edited


def test_an_edited_observation_of_a_v1_record_replays_to_a_mismatch_naming_its_leaves(
    tmp_path: Path,
):
    with AuditLog.open_readonly(restore_legacy(tmp_path / "v1.db")) as log:
        record = log.get(V1_BUY)
        assert record is not None and record["schema"] == "signalops.audit/1"
        document = log.strategy_document(record["strategy"]["hash"])
        edited = copy.deepcopy(record)
        rsi = next(o for o in edited["observations"] if o["metric"] == "rsi")
        rsi["value"] = 45.0
        result = replay_record(edited, document)
        untouched = replay(log, V1_BUY)

    assert not result.identical
    assert (result.recorded_verdict, result.replayed_verdict) == ("BUY", "HOLD")
    assert result.recorded_trace_hash != result.replayed_trace_hash
    changed = {d.text: d.fields for d in result.differing_leaves}
    assert all("rsi" in text for text in changed)
    assert all("value" in fields for fields in changed.values())
    assert any("status" in fields for fields in changed.values())  # the entry leaf flipped
    assert untouched.identical


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

    reasons = [leaf["reason"] for leaf in expanded(record, strategy=STRATEGY)["trace"]["leaves"]]
    assert {Code.NOT_A_NUMBER, Code.MISSING, Code.ADAPTER_ERROR} <= set(reasons)
    assert result.identical
    assert result.replayed_trace_hash == result.recorded_trace_hash


def test_replaying_an_id_that_is_not_a_decision_is_an_input_error(march_2023: Path):
    with AuditLog(march_2023) as log, pytest.raises(InputError, match="no decision dec-nope"):
        replay(log, "dec-nope")


# --- signalops audit replay --------------------------------------------------------------------


def test_cli_replay_all_of_a_backtest_prints_only_the_count_when_all_are_identical(
    march_2023: Path,
):
    result = CliRunner().invoke(cli, ["audit", "replay", "--all", "--audit", str(march_2023)])

    assert result.exit_code == 0, result.output
    assert result.output == "31 decisions replayed: 31 identical\n"


def test_cli_replay_all_on_a_terminal_shows_how_far_verify_and_replay_got(
    march_2023: Path, monkeypatch: pytest.MonkeyPatch
):
    """It showed nothing until the end: a million-record log ran for minutes in silence. The
    bars go to stderr (a terminal only, as FORCE_COLOR makes one); stdout is unchanged."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    with AuditLog(march_2023) as log:
        head = log.count()

    result = CliRunner().invoke(cli, ["audit", "replay", "--all", "--audit", str(march_2023)])

    assert result.exit_code == 0, result.output
    # Printed once the bars are gone, as a terminal shows stdout and stderr together: printed
    # under a live bar, the next redraw erased it.
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", result.output)
    assert shown.endswith("31 identical\n"), shown[-300:]
    assert shown.rsplit("\n", 2)[-2] == "31 decisions replayed: 31 identical"
    bars = Text.from_ansi(result.stderr).plain
    assert re.search(rf"verify +━+ {head}/{head}", bars), bars
    assert re.search(rf"replay +━+ {head}/{head}", bars), bars


def test_verify_tells_its_progress_every_so_many_records_and_once_at_the_end(
    march_2023: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(verify_module, "PROGRESS_EVERY", 10)
    told: list[tuple[int, int]] = []
    with AuditLog(march_2023) as log:
        report = verify(log, progress=lambda done, total: told.append((done, total)))
    head = report.head_seq
    assert report.ok and head > 20
    assert told == [*((seq, head) for seq in range(10, head + 1, 10)), (head, head)]


def test_cli_replays_one_decision_with_its_verdict_and_trace_hash(march_2023: Path):
    record = next(r for r in decisions(march_2023) if r["verdict"] == "BUY")
    with AuditLog(march_2023) as log:
        expected = replay(log, record["decision_id"]).replayed_trace_hash

    result = CliRunner().invoke(
        cli, ["audit", "replay", record["decision_id"], "--audit", str(march_2023)]
    )

    assert result.exit_code == 0, result.output
    assert result.output == f"identical {record['decision_id']}  BUY  trace {expected[:19]}…\n"


def test_cli_replay_of_an_edited_observation_says_differs_and_exits_1(
    march_2023: Path, tmp_path: Path
):
    copied = tmp_path / "edited.db"
    copied.write_bytes(march_2023.read_bytes())
    record = next(r for r in decisions(copied) if r["verdict"] == "BUY")
    index = [r.metric for r in STRATEGY.tree.requests("BTC")].index("rsi")
    db = attacker(copied)
    edit_body(db, record["seq"], lambda body: body["observations"][index].update(value=45.0))
    db.commit()
    db.close()

    result = CliRunner().invoke(
        cli, ["audit", "replay", record["decision_id"], "--audit", str(copied)]
    )
    why = CliRunner().invoke(cli, ["why", record["decision_id"], "--audit", str(copied)])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == (
        f"NOT VERIFIED {record['decision_id']}  seq {record['seq']}: the record does not match "
        "its hash: it was edited"
    )
    assert lines[1].startswith(f"DIFFERS {record['decision_id']}  recorded BUY, replayed HOLD; ")
    assert why.exit_code == 1  # the record no longer matches its hash, and its tree disagrees
    assert "the record does not match its hash: it was edited" in why.output


def test_cli_replay_of_an_edited_v1_observation_names_the_leaves(tmp_path: Path):
    path = restore_legacy(tmp_path / "v1.db")
    with AuditLog.open_readonly(path) as log:
        record = log.get(V1_BUY)
    assert record is not None
    edited = copy.deepcopy(record)
    rsi = next(o for o in edited["observations"] if o["metric"] == "rsi")
    old = rsi["value"]
    rsi["value"] = 45.0
    body = json.dumps(edited, sort_keys=True, separators=(",", ":"))
    tamper(path, ("UPDATE records SET body = ? WHERE id = ?", (body, V1_BUY)))

    result = CliRunner().invoke(cli, ["audit", "replay", V1_BUY, "--audit", str(path)])

    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert lines[0].startswith(f"NOT VERIFIED {V1_BUY}  seq ")
    assert lines[0].endswith(": the record does not match its hash: it was edited")
    assert lines[1].startswith(f"DIFFERS {V1_BUY}  recorded BUY, replayed HOLD; ")
    assert any(f"value {old} -> 45.0" in line for line in lines[2:])
    assert all(line.startswith("  node ") for line in lines[2:])


def test_cli_replay_all_calls_an_edited_record_not_verified_though_it_replays_the_same(
    march_2023: Path, tmp_path: Path
):
    """It said "identical" of every decision: the edited record replays as it now reads."""
    copied = tmp_path / "edited.db"
    copied.write_bytes(march_2023.read_bytes())
    record = next(r for r in decisions(copied) if r["verdict"] == "HOLD")
    index = [r.metric for r in STRATEGY.tree.requests("BTC")].index("rsi")
    rsi = record["observations"][index]["value"]
    db = attacker(copied)
    # A small edit that keeps the verdict: a replay alone cannot see it.
    edit_body(db, record["seq"], lambda body: body["observations"][index].update(value=rsi + 1))
    db.commit()
    db.close()
    total = len(decisions(copied))

    result = CliRunner().invoke(cli, ["audit", "replay", "--all", "--audit", str(copied)])

    assert result.exit_code == 1
    assert result.stdout == (
        f"NOT VERIFIED {record['decision_id']}  seq {record['seq']}: EDITED: the record does "
        "not match its hash\n"
        f"{total} decisions replayed: {total - 1} identical, 1 not verified\n"
    )
    assert result.stderr == (
        "WARNING: the log does not verify (1 problem); run 'signalops audit verify'\n"
    )


def test_cli_replay_needs_ids_or_all_but_not_both(march_2023: Path):
    neither = CliRunner().invoke(cli, ["audit", "replay", "--audit", str(march_2023)])
    both = CliRunner().invoke(cli, ["audit", "replay", "dec-x", "--all", "--audit", "x.db"])

    assert neither.exit_code == both.exit_code == 1
    assert neither.output == both.output == "error: give decision ids, or --all (not both)\n"


def test_cli_replay_of_a_missing_log_creates_nothing(tmp_path: Path):
    missing = tmp_path / "typo" / "nope.db"

    result = CliRunner().invoke(cli, ["audit", "replay", "--all", "--audit", str(missing)])

    assert result.exit_code == 1
    assert result.output == f"error: {missing}: no such audit log\n"
    assert not missing.parent.exists()


def test_a_leaf_recorded_before_its_metric_gained_a_defaulted_parameter_still_replays():
    from signalops.audit.replay import answers
    from signalops.observation import Request

    recorded = {
        "source": "news",
        "metric": "news_count",
        "params": {"query": "hack", "window": 86400},  # written before ``feeds`` existed
        "asset": None,
        "status": "OK",
        "value": 3,
        "data_time": "2023-03-10T00:00:00+00:00",
        "fetched_at": None,
        "detail": None,
    }
    today = Request("news", "news_count", (("query", "hack"), ("window", 86400), ("feeds", "all")))
    narrowed = Request(
        "news", "news_count", (("query", "hack"), ("window", 86400), ("feeds", "sec"))
    )

    found = answers([recorded], [today, narrowed])

    assert [r.param_dict["feeds"] for r in found] == ["all"]  # only the default means "as then"
    assert found[today].value == 3
