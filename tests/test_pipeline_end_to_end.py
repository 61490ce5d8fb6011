"""A paper run over the March 2023 banking crisis on the bundled real data, then "why".

The fixture strategy buys BTC when daily RSI(14) < 35, sells when it is > 55, is vetoed by a
USDC outflow over 1B in two days, and has a three-day cooldown. On the real data that gives:
03-10 BUY filled, 03-11 BUY denied (COOLDOWN), 03-12 BUY blocked by the veto, 03-13 quiet,
03-14 SELL filled, 03-15/16 SELL denied (NO_POSITION). The explanations are compared exactly.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, cycle_between_checks

from signalops.audit.store import AuditLog
from signalops.cli import cli

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
GOLDEN = ROOT / "tests" / "golden"


# The run's cycle lines, without each one's duration ("  [0.01s]").
MARCH_CYCLES = [
    "2023-03-08T00:00:00Z  1 decision: 1 HOLD",
    "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
    "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
    "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
    "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
    "2023-03-13T00:00:00Z  1 decision: 1 HOLD",
    "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 filled)",
    "2023-03-15T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)",
    "2023-03-16T00:00:00Z  1 decision: 1 SELL (1 with nothing to sell)",
]


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def march_run(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The paper run of 2023-03-08..16, once; each test gets its own copy (see audit_db)."""
    db = tmp_path_factory.mktemp("march") / "audit.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the records cite the strategy by the path it was run with
        result = run(
            "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
            "2023-03-16", "--every", "1d", "--audit", str(db),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Each line ends with the cycle's duration ("[0.01s]"), the one part that is not fixed.
    assert [line.split("  [")[0] for line in result.stdout.splitlines()] == MARCH_CYCLES
    return db


@pytest.fixture
def audit_db(march_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    copy = tmp_path / "audit.db"
    # SQLite's backup API copies a WAL-mode database consistently (a file copy may not).
    with sqlite3.connect(march_run) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    return copy


def test_run_prints_one_summary_line_per_cycle_with_what_happened(audit_db: Path, replay_dir):
    again = run(
        "run", STRATEGY, "--replay", str(replay_dir), "--from", "2023-03-08", "--to",
        "2023-03-16", "--every", "1d", "--audit", str(audit_db),
    )  # fmt: skip
    # A restart over the same period finds every decision already recorded: nothing twice.
    assert [line.split("[")[0] for line in again.stdout.splitlines()] == [
        f"2023-03-{day:02d}T00:00:00Z  0 decisions: nothing new (1 already recorded)  "
        for day in range(8, 17)
    ]


def test_decisions_lists_every_evaluation_traded_or_not(audit_db: Path):
    result = run("decisions", "--audit", str(audit_db))
    rows = [line.split("  Banking")[0] for line in result.stdout.splitlines()]
    assert rows == [
        "2023-03-16T00:00:00Z  BTC  SELL     DENIED ",
        "2023-03-15T00:00:00Z  BTC  SELL     DENIED ",
        "2023-03-14T00:00:00Z  BTC  SELL     FILLED ",
        "2023-03-13T00:00:00Z  BTC  HOLD     HOLD   ",
        "2023-03-12T00:00:00Z  BTC  BLOCKED  BLOCKED",
        "2023-03-11T00:00:00Z  BTC  BUY      DENIED ",
        "2023-03-10T00:00:00Z  BTC  BUY      FILLED ",
        "2023-03-09T00:00:00Z  BTC  HOLD     HOLD   ",
        "2023-03-08T00:00:00Z  BTC  HOLD     HOLD   ",
    ]
    blocked = run("decisions", "--verdict", "blocked", "--audit", str(audit_db))
    assert len(blocked.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("day", "headline", "key_lines"),
    [
        (
            "2023-03-10",
            "BTC at 2023-03-10T00:00:00Z: BOUGHT",
            [
                "    └── PASS    rsi(14) < 35   technical",
                "RISK: approved",
                "EXECUTION: FILLED: paper BUY 0.02455527 BTC at 20,372.40 USDT (fee 0.50 USDT)",
            ],
        ),
        (
            "2023-03-11",
            "BTC at 2023-03-11T00:00:00Z: DENIED by the risk gate: COOLDOWN (actual 1d, "
            "last trade 2023-03-10T00:00:00Z, limit 3d, unit time since the last trade "
            "on the asset)",
            ["RISK: DENIED", "EXECUTION: NOT_EXECUTED: denied by the risk gate"],
        ),
        (
            "2023-03-12",
            "BTC at 2023-03-12T00:00:00Z: would have bought but BLOCKED by veto usdc_outflow",
            [
                "conflict: BUY signal conflicts with veto 'usdc_outflow'",
                "└── PASS    stablecoin_net_flow('USDC', 2d) < -1B   onchain",
                "        value -1.098B · threshold < -1B",
                "RISK: not checked (no order to check)",
            ],
        ),
        (
            "2023-03-13",
            "BTC at 2023-03-13T00:00:00Z: HOLD: no entry signal",
            [
                "    └── FAIL    rsi(14) < 35   technical",
                "            value 47.3422 · threshold < 35",
                "EXECUTION: NOT_EXECUTED: no entry or exit signal",
            ],
        ),
    ],
    ids=["traded", "denied_by_risk", "blocked_by_veto", "quiet"],
)
def test_why_explains_the_day_exactly(audit_db: Path, day: str, headline: str, key_lines):
    result = run("why", "BTC", "--at", day, "--audit", str(audit_db))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == headline
    for line in key_lines:
        assert line in lines
    assert result.stdout == (GOLDEN / f"why_BTC_{day}.txt").read_text()


def test_why_by_decision_id_and_json_come_from_the_record(audit_db: Path):
    listed = run("decisions", "--verdict", "BLOCKED", "--json", "--audit", str(audit_db))
    record = json.loads(listed.stdout)
    by_id = run("why", record["decision_id"], "--audit", str(audit_db))
    assert by_id.stdout == (GOLDEN / "why_BTC_2023-03-12.txt").read_text()
    as_json = json.loads(
        run("why", record["decision_id"], "--json", "--audit", str(audit_db)).stdout
    )
    assert as_json["headline"] == "would have bought but BLOCKED by veto usdc_outflow"
    assert as_json["blocked_by"] == ["usdc_outflow"]
    assert as_json["vetoes"][0]["status"] == "PASS"


def test_why_on_a_day_without_a_decision_says_so(audit_db: Path):
    result = run("why", "BTC", "--at", "2023-04-01", "--audit", str(audit_db))
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: no decision for BTC at 2023-04-01 in {audit_db}: the last is on 2023-03-16\n"
    )


def _tamper(db: Path, statement: str) -> None:
    connection = sqlite3.connect(db)
    # The store refuses UPDATE and DELETE with triggers; a tamperer would drop them first.
    for (name,) in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'records'"
    ).fetchall():
        connection.execute(f"DROP TRIGGER {name}")
    connection.execute(statement)
    connection.commit()
    connection.close()


def test_audit_verify_passes_then_names_an_edited_row(audit_db: Path):
    assert run("audit", "verify", "--audit", str(audit_db)).stdout.startswith(
        "ok 11 records, chain intact\nhead seq 11 "
    )
    _tamper(audit_db, "UPDATE records SET verdict = 'BUY' WHERE seq = 6")
    result = run("audit", "verify", "--audit", str(audit_db))
    assert result.exit_code == 1
    assert result.stderr == (
        "EDITED seq 6: indexed column verdict says 'BUY', the record says 'BLOCKED'\n"
        "audit log FAILED verification: 1 problem\n"
    )


def test_audit_verify_names_a_deleted_row(audit_db: Path):
    _tamper(audit_db, "DELETE FROM records WHERE seq = 6")
    result = run("audit", "verify", "--audit", str(audit_db))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("DELETED seq 6: ")


def test_audit_export_writes_every_record_as_a_line(audit_db: Path, tmp_path: Path):
    target = tmp_path / "audit.jsonl"
    result = run("audit", "export", str(target), "--audit", str(audit_db))
    assert result.stdout == f"11 records written to {target}\n"
    assert len(target.read_text().splitlines()) == 11


@pytest.mark.parametrize("quantity", ["NaN", "sNaN"])
def test_a_ledger_that_cannot_be_valued_is_a_recorded_denial_not_a_crash(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quantity
):
    monkeypatch.chdir(ROOT)
    db = tmp_path / "audit.db"
    common = ("--replay", str(replay_dir), "--audit", str(db), "--once")
    assert run("run", STRATEGY, "--from", "2023-03-08", *common).exit_code == 0
    with sqlite3.connect(db) as conn:  # rows can be added, not edited: a tampered fill
        conn.execute(
            "INSERT INTO paper_fills (client_order_id, decision_id, strategy, asset, side, "
            "quantity, price, fee, reference_price, fee_bps, slippage_bps, placed_at, filled_at) "
            "VALUES ('so-x', 'dec-x', 'Banking_Crisis_Pipeline', 'BTC', 'BUY', ?, '20000', '0', "
            "'20000', '10', '5', '2023-03-09T00:00:00Z', '2023-03-09T00:00:00Z')",
            (quantity,),
        )
    line = cycle_between_checks(db, replay_dir, STRATEGY, datetime(2023, 3, 10, tzinfo=UTC))
    assert line == "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 denied by risk)"
    with AuditLog.open_readonly(db) as log:
        (record,) = log.decisions(since=date(2023, 3, 10), until=date(2023, 3, 10))
    checks = record["risk"]["checks"]
    assert checks == [
        {
            "code": "PORTFOLIO_UNVALUED",
            "passed": False,
            # The fill's NaN runs through the cash and the day-start equity it was bought with.
            "details": {
                "asset": "BTC",
                "unvalued": ["cash: NaN", "day_start_equity: NaN", "BTC quantity: NaN"],
            },
        }
    ]
