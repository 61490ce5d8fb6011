"""`signalops dashboard`: options become the app's environment; Streamlit runs as a child
process bound to 127.0.0.1 (the subprocess is replaced here; test_browser.py runs it for real)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from signalops.cli import cli
from signalops.cli import dashboard as dashboard_cli
from signalops.dashboard.api import BIND_ADDRESS, app_path, launch_command


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_call(command: list[str], env: dict[str, str]) -> int:
        calls.append({"command": command, "env": env})
        return 0

    monkeypatch.setattr(dashboard_cli.subprocess, "call", fake_call)
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "SIGNALOPS_NOW", "SIGNALOPS_REPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return calls


def test_the_options_reach_the_app_through_the_environment(launched, tmp_path: Path):
    (tmp_path / "replay").mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "dashboard", "--audit", "state/audit.db", "--port", "8600", "--strategies", "mine",
            "--reports", "out", "--replay", "replay", "--at", "2023-03-10T00:05:00Z",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "dashboard on http://127.0.0.1:8600 (read-only; audit log state/audit.db)" in (
        result.stderr
    )
    (call,) = launched
    assert call["command"] == launch_command(8600)
    env = call["env"]
    assert env["SIGNALOPS_AUDIT"] == "state/audit.db"
    assert env["SIGNALOPS_STRATEGIES"] == "mine"
    assert env["SIGNALOPS_REPORTS"] == "out"
    assert env["SIGNALOPS_REPLAY"] == "replay"
    assert env["SIGNALOPS_NOW"] == "2023-03-10T00:05:00+00:00"
    assert not (tmp_path / "state").exists()  # looking never creates the audit log


def test_it_listens_on_loopback_only_headless_and_without_telemetry():
    command = launch_command(8501)
    assert command[1:5] == ["-m", "streamlit", "run", str(app_path())]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == BIND_ADDRESS == "127.0.0.1"
    assert options["--server.port"] == "8501"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert app_path().is_file()


def test_the_password_is_passed_on_but_never_printed(launched, monkeypatch):
    monkeypatch.setenv("SIGNALOPS_DASHBOARD_PASSWORD", "hunter2")
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 0
    assert "operator login on" in result.stderr
    assert "hunter2" not in result.output + result.stderr
    assert launched[0]["env"]["SIGNALOPS_DASHBOARD_PASSWORD"] == "hunter2"
    assert launched[0]["env"]["SIGNALOPS_AUDIT"] == "signalops.db"


def test_a_bad_config_is_reported_like_a_strategy_error_before_starting(launched, tmp_path):
    (tmp_path / "bad.yaml").write_text("risk:\n  max_positon: 0.1\n")
    result = CliRunner().invoke(cli, ["dashboard", "--config", "bad.yaml"])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bad.yaml:2:3: ")
    assert "max_position" in result.stderr  # the "did you mean"
    assert not launched


def test_without_streamlit_it_says_what_to_install(launched, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "streamlit" else real(name)
    )
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 1
    assert result.stderr == "error: the dashboard needs Streamlit: pip install streamlit\n"
    assert not launched
