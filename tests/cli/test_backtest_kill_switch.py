"""A kill switch file in the working folder is a live control: ``backtest`` (one run, each
asset) and ``stress`` decide as if it were not there (``sweep`` and ``walkforward`` have no risk
gate), and the backtest's two engines still write the same log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import STRATEGIES, invoke
from log_contents import log_contents

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest import run_backtest
from signalops.config import Config, loads_config
from signalops.strategy import load

DIP = str(STRATEGIES / "banking_crisis_dip.yaml")
PERIOD = ("--from", "2023-01-01", "--to", "2023-06-30")


@pytest.fixture
def tour(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder whose config names a kill switch file, as ``signalops init`` writes it."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "signalops.yaml").write_text("kill_switch: KILL\n")
    return tmp_path


def _with_and_without_kill(tour: Path, *args: str) -> tuple[str, str]:
    """The output of ``signalops ARGS`` with the KILL file there, then without it."""
    (tour / "KILL").touch()
    killed = invoke(*args)
    assert killed.exit_code == 0, killed.stderr
    (tour / "KILL").unlink()
    live = invoke(*args)
    assert live.exit_code == 0, live.stderr
    return killed.stdout, live.stdout


def test_backtest_ignores_the_kill_switch_file(tour: Path, replay_dir: Path):
    killed, live = _with_and_without_kill(tour, "backtest", DIP, "--data", str(replay_dir), *PERIOD)

    assert killed == live
    lines = {line.split("  ")[0]: line.split() for line in killed.splitlines()}
    assert lines["total return"] == ["total", "return", "+1.87%", "+1.87%", "+83.94%"]
    assert lines["trades"] == ["trades", "1", "1", "—"]
    metrics = json.loads(Path("reports/banking_crisis_dip/metrics.json").read_text())
    assert metrics["decisions"] == {"BUY": 2, "SELL": 94, "HOLD": 85, "BLOCKED": 0}


def test_backtest_each_asset_ignores_the_kill_switch_file(tour: Path, replay_dir: Path):
    args = ("backtest", DIP, "--data", str(replay_dir), *PERIOD, "--each-asset")
    killed, live = _with_and_without_kill(tour, *args)

    assert killed == live
    (row,) = [line.split() for line in killed.splitlines() if line.startswith("BTC ")]
    assert row[:3] == ["BTC", "+1.87%", "+3.81%"]


def test_stress_ignores_the_kill_switch_file(tour: Path, replay_dir: Path):
    args = ("stress", DIP, "--data", str(replay_dir), "--scenario", "banking_crisis_2023-03",
            "--scenario", "venue_rejects_48h", "--json")  # fmt: skip
    killed, live = _with_and_without_kill(tour, *args)

    assert killed == live
    runs = {run["scenario"]["name"]: run for run in json.loads(killed)["scenarios"]}
    assert {name: run["denials_by_code"] for name, run in runs.items()} == {
        "banking_crisis_2023-03": {},
        "venue_rejects_48h": {},
    }
    assert {name: run["sells_while_flat"] for name, run in runs.items()} == {
        "banking_crisis_2023-03": 17,
        "venue_rejects_48h": 18,
    }
    assert runs["banking_crisis_2023-03"]["filled"] == 3


def test_both_engines_ignore_it_and_still_write_the_same_log(
    replay_store: SnapshotStore, tmp_path: Path
):
    (tmp_path / "KILL").touch()
    killed = loads_config("kill_switch: KILL\n", base=tmp_path)
    strategy = load(Path(DIP), registry.catalogue())
    period: dict[str, Any] = {
        "start": datetime(2023, 1, 1, tzinfo=UTC),
        "end": datetime(2023, 6, 30, tzinfo=UTC),
    }
    runs = {
        (engine, name): run_backtest(
            strategy, store=replay_store, out_dir=tmp_path / engine / name, engine=engine,
            config=config, **period,
        )
        for engine in ("fast", "pipeline")
        for name, config in (("killed", killed), ("none", Config()))
    }  # fmt: skip

    logs = {key: log_contents(run.audit_path) for key, run in runs.items()}
    assert logs[("fast", "killed")] == logs[("pipeline", "killed")] == logs[("fast", "none")]
    assert {run.metrics for run in runs.values()} == {runs[("fast", "none")].metrics}
    assert runs[("fast", "killed")].metrics.trades == 1
