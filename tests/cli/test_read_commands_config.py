"""``decisions`` and ``why`` take ``--config``, as ``run``, ``approvals`` and ``resume`` do: the
config names the log they read (its ``audit.path``).

Regression test: a trader running with ``--config run1.yaml`` (whose ``audit.path`` is
``run1.db``) got ``No such option '--config'`` from both, and had to pass ``--audit`` by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import STRATEGIES
from conftest import invoke as run


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_decisions_and_why_read_the_log_the_config_names(in_tmp: Path, replay_dir: Path):
    (in_tmp / "run1.yaml").write_text("audit: {path: run1.db}\n", encoding="utf-8")
    strategy = str(STRATEGIES / "technical_baseline.yaml")
    made = run(
        "run", strategy, "--replay", str(replay_dir), "--from", "2023-03-10", "--config",
        "run1.yaml",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert (in_tmp / "run1.db").exists()

    listed = run("decisions", "--config", "run1.yaml")
    told = run("why", "BTC", "--at", "2023-03-10", "--config", "run1.yaml")

    assert listed.exit_code == 0, listed.output
    assert "2023-03-10T00:00:00Z" in listed.stdout and "BTC" in listed.stdout
    assert told.exit_code == 0, told.output
    assert told.stdout.startswith("BTC at 2023-03-10T00:00:00Z: ")
