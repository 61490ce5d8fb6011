"""The optional gate checks and Kelly from measured trades, through the real pipeline: a
backtest on the bundled BTC data with the config asking for them records MAX_VAR, MAX_CVAR,
MAX_SECTOR and KELLY_SIZE with their figures, and `why` shows them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from conftest import ROOT

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.store import AuditLog
from signalops.backtest import run_backtest
from signalops.cli import cli
from signalops.config import loads_config
from signalops.pipeline import records_of_kind
from signalops.strategy import load

STRATEGY = ROOT / "strategies" / "banking_crisis_dip.yaml"
CONFIG = """
risk:
  max_position: 0.5
  max_exposure: 0.9
  max_sector: 0.6
  max_var: {limit: 0.2, confidence: 0.95, window: 60}
  max_cvar: {limit: 0.25, confidence: 0.95, window: 60, method: parametric}
  kelly_from_trades: {fraction: 0.5, min_trades: 1}
sectors: {BTC: crypto}
"""


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_a_backtest_with_tail_limits_sectors_and_measured_kelly_records_each_check(
    replay_dir: Path, tmp_path: Path
):
    strategy = load(STRATEGY, registry.catalogue())
    config = loads_config(CONFIG, "signalops.yaml")
    result = run_backtest(
        strategy,
        store=SnapshotStore(replay_dir),
        start=utc("2023-01-01"),
        end=utc("2023-06-30"),
        out_dir=tmp_path,
        config=config,
    )
    with AuditLog.open_readonly(result.audit_path) as log:
        decisions = [r for r in records_of_kind(log, "decision") if r.get("risk")]
    gated = [r for r in decisions if r["risk"].get("checks")]
    assert gated, "some decisions reached the gate"
    buys = [r for r in gated if r["verdict"] == "BUY"]
    assert buys
    for record in buys:
        checks = {c["code"]: c for c in record["risk"]["checks"]}
        var, cvar, sector = checks["MAX_VAR"], checks["MAX_CVAR"], checks["MAX_SECTOR"]
        # The history reached the gate: 60 daily returns of BTC before the decision.
        assert var["details"]["observations"] == 60 and var["details"]["method"] == "historical"
        assert cvar["details"]["method"] == "parametric"
        assert Decimal(var["details"]["actual"]) > 0
        assert sector["details"]["sector"] == "crypto"
        kelly = checks["KELLY_SIZE"]
        assert kelly["passed"] and "win_rate_lower" in kelly["details"]
    # The first BUY had no closed trade yet: Kelly did not size it (position_size alone).
    first = {c["code"]: c for c in buys[0]["risk"]["checks"]}["KELLY_SIZE"]["details"]
    assert first["limit"] is None and first["capped"] is False and first["trades"] == 0


def test_why_shows_the_kelly_and_tail_risk_figures_of_a_gated_buy(replay_dir: Path, tmp_path):
    config = tmp_path / "signalops.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    runner = CliRunner()
    period = ["--from", "2023-01-01", "--to", "2023-06-30", "--data", str(replay_dir)]
    where = ["--report", str(tmp_path / "r"), "--config", str(config), "--no-baseline"]
    ran = runner.invoke(cli, ["backtest", str(STRATEGY), *period, *where])
    assert ran.exit_code == 0, ran.output
    audit = tmp_path / "r" / "backtest.db"
    listed = runner.invoke(cli, ["decisions", "--verdict", "BUY", "--audit", str(audit)])
    decision_id = listed.output.split()[-1]
    why = runner.invoke(cli, ["why", decision_id, "--audit", str(audit)])
    assert why.exit_code == 0, why.output
    for code in ("MAX_SECTOR", "MAX_VAR", "MAX_CVAR", "KELLY_SIZE"):
        assert code in why.output
