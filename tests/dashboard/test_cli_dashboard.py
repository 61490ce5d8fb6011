"""`signalops dashboard`: options become the app's environment; Streamlit runs as a child
process bound to 127.0.0.1 (the subprocess is replaced here; test_browser.py runs it for real).
It is a read command: the log must be there before a server starts (each test makes one)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dashboard_fixtures import OPERATORS_YAML, PASSWORD_HASH

from signalops.audit.store import AuditLog
from signalops.cli import cli
from signalops.cli import dashboard as dashboard_cli
from signalops.config import load_config
from signalops.dashboard.accounts import MIN_ITERATIONS, PasswordHash, hash_password
from signalops.dashboard.api import BIND_ADDRESS, app_path, launch_command


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_call(command: list[str], env: dict[str, str]) -> int:
        calls.append({"command": command, "env": env})
        return 0

    monkeypatch.setattr(dashboard_cli, "_until_interrupted", fake_call)
    for name in (
        "SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "SIGNALOPS_NOW", "SIGNALOPS_REPLAY",
        "SIGNALOPS_DASHBOARD_PASSWORD",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    AuditLog(tmp_path / "signalops.db").close()  # the default log, there to be read
    return calls


def test_the_options_reach_the_app_through_the_environment(launched, tmp_path: Path):
    (tmp_path / "replay").mkdir()
    (tmp_path / "state").mkdir()
    AuditLog(tmp_path / "state" / "audit.db").close()
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


def test_a_postgresql_url_is_opened_before_starting_and_shown_without_its_password(launched):
    # Port 1 on loopback: refused at once, and nothing leaves the machine.
    url = "postgresql://viewer:s3cret@127.0.0.1:1/signalops"
    result = CliRunner().invoke(cli, ["dashboard", "--audit", url])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: postgresql://viewer:***@127.0.0.1:1/signalops: cannot connect"
    )
    assert "s3cret" not in result.stdout + result.stderr
    assert not launched


def test_another_scheme_is_refused_before_starting(launched):
    result = CliRunner().invoke(cli, ["dashboard", "--audit", "mysql://me@db/signalops"])
    assert result.exit_code != 0
    assert "not a location SignalOps knows" in result.stderr
    assert not launched


def test_it_listens_on_loopback_only_headless_and_without_telemetry():
    command = launch_command(8501)
    assert command[1:5] == ["-m", "streamlit", "run", str(app_path())]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == BIND_ADDRESS == "127.0.0.1"
    assert options["--server.port"] == "8501"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"
    assert app_path().is_file()


def test_operator_accounts_in_the_config_turn_the_login_on(launched, tmp_path: Path):
    (tmp_path / "signalops.yaml").write_text(OPERATORS_YAML)
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "dashboard on http://127.0.0.1:8501 (operator login on, 2 accounts; audit log "
        "signalops.db)\n"
    )
    assert PASSWORD_HASH not in result.stderr
    assert launched[0]["env"]["SIGNALOPS_CONFIG"] == "signalops.yaml"


def test_the_old_shared_password_is_no_longer_read_and_it_says_so(launched, monkeypatch):
    monkeypatch.setenv("SIGNALOPS_DASHBOARD_PASSWORD", "hunter2")
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 0
    assert result.stderr == (
        "warning: SIGNALOPS_DASHBOARD_PASSWORD is no longer read: each operator logs in with "
        "an account in the config (dashboard.operators; see `signalops dashboard "
        "hash-password`)\n"
        "dashboard on http://127.0.0.1:8501 (read-only; audit log signalops.db)\n"
    )
    assert "hunter2" not in result.output + result.stderr


def test_hash_password_asks_twice_and_prints_a_hash_the_config_accepts(launched, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["dashboard", "hash-password", "--iterations", "200000"],
        input="tr0ub4dor&3\ntr0ub4dor&3\n",
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == "Password: \nRepeat for confirmation: \n"
    assert "tr0ub4dor" not in result.stdout + result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith("pbkdf2_sha256$200000$")
    assert PasswordHash.parse(line).matches("tr0ub4dor&3")
    assert not PasswordHash.parse(line).matches("tr0ub4dor&4")
    (tmp_path / "c.yaml").write_text(
        f'dashboard: {{operators: {{dave: {{password_hash: "{line}"}}}}}}'
    )
    assert set(load_config(tmp_path / "c.yaml").dashboard.operators) == {"dave"}
    assert not launched


def test_hash_password_refuses_a_short_password_and_takes_none_from_the_command_line(launched):
    short = CliRunner().invoke(cli, ["dashboard", "hash-password"], input="abc\nabc\n")
    assert short.exit_code == 1
    assert short.stderr.endswith("error: a password of at least 8 characters, please\n")
    argv = CliRunner().invoke(cli, ["dashboard", "hash-password", "s3cret-password"])
    assert argv.exit_code == 2
    assert "Got unexpected extra argument (s3cret-password)" in argv.stderr
    assert not launched


@pytest.mark.parametrize(
    ("password_hash", "message"),
    [
        (
            hash_password("whatever1", iterations=MIN_ITERATIONS).replace("$200000$", "$1000$"),
            "1,000 iterations is below the minimum of 200,000 "
            "(make one with `signalops dashboard hash-password`)",
        ),
        (
            "hunter2",
            "'hunter2' is not a password hash: make one with `signalops dashboard hash-password`",
        ),
        (
            "pbkdf2_sha256$300000$c2FsdA==$c2hvcnQ=",
            "the salt is empty or the hash is not 32 bytes "
            "(make one with `signalops dashboard hash-password`)",
        ),
    ],
)
def test_a_weak_or_malformed_password_hash_is_a_config_error(
    launched, tmp_path, password_hash: str, message: str
):
    (tmp_path / "signalops.yaml").write_text(
        f'dashboard:\n  operators:\n    eve: {{password_hash: "{password_hash}"}}\n'
    )
    result = CliRunner().invoke(cli, ["dashboard"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: signalops.yaml:3:26: dashboard.operators.eve.password_hash: {message}"
    )
    assert not launched


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
    assert result.stderr == (
        "error: the dashboard needs the 'dashboard' extra: pip install \"signalops[dashboard]\"\n"
    )
    assert not launched
