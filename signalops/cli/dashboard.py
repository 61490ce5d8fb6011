"""``signalops dashboard``: the Streamlit app in its own process, told everything through the
environment (``signalops.dashboard.api.Settings``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import click

from signalops.cli import output
from signalops.cli.params import AUDIT_OPTION, CONFIG_OPTION


@click.command("dashboard")
@AUDIT_OPTION
@CONFIG_OPTION
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8501,  # = signalops.dashboard.api.DEFAULT_PORT; importing it here slows start-up
    show_default=True,
    help="Local port.",
)
@click.option(
    "--strategies",
    "strategies_dir",
    type=click.Path(path_type=Path),
    help="Strategies folder shown on the Strategies page and searched to re-check approvals. "
    "Default: $SIGNALOPS_STRATEGIES, else ./strategies.",
)
@click.option(
    "--reports",
    "reports_dir",
    type=click.Path(path_type=Path),
    help="Backtest reports folder. Default: $SIGNALOPS_REPORTS, else ./reports.",
)
@click.option(
    "--replay",
    "replay_dir",
    type=click.Path(path_type=Path),
    help="Re-check approvals on replayed data from this snapshot folder (replays, demos).",
)
@click.option("--at", help="Freeze the dashboard's clock at this time (for replayed decisions).")
def dashboard_command(
    audit_file: Path | None,
    config_file: Path | None,
    port: int,
    strategies_dir: Path | None,
    reports_dir: Path | None,
    replay_dir: Path | None,
    at: str | None,
) -> None:
    """Open the dashboard: approval queue, decisions, portfolio, strategies, backtests, audit.

    It listens on 127.0.0.1 only. Approving and rejecting need the operator password in
    $SIGNALOPS_DASHBOARD_PASSWORD; without it the dashboard is read-only. Ctrl-C stops it.

    \b
    Example:
      SIGNALOPS_DASHBOARD_PASSWORD=... signalops dashboard --audit signalops.db --port 8501
    """
    from signalops.dashboard import api as dashboard_api

    # Streamlit runs in its own process (and is only imported by dashboard/): check it is
    # installed without importing it here.
    if importlib.util.find_spec("streamlit") is None:
        output.fail("the dashboard needs Streamlit: pip install streamlit")
    if not dashboard_api.app_path().is_file():
        output.fail(f"{dashboard_api.app_path()}: the dashboard app ships with the source checkout")
    # The options become the environment the app reads (Settings.from_env), over the caller's.
    # Paths stay as given: the app runs in this same working directory, and shows them.
    environ = dict(os.environ)
    options = {
        dashboard_api.AUDIT_ENV: audit_file,
        dashboard_api.CONFIG_ENV: config_file,
        dashboard_api.STRATEGIES_ENV: strategies_dir,
        dashboard_api.REPORTS_ENV: reports_dir,
        dashboard_api.REPLAY_ENV: replay_dir,
    }
    environ.update({name: str(path) for name, path in options.items() if path})
    if at:
        environ[dashboard_api.NOW_ENV] = at
    settings = dashboard_api.Settings.from_env(environ)  # fail here, not in the browser
    mode = "read-only" if not os.environ.get(dashboard_api.PASSWORD_ENV) else "operator login on"
    url = f"http://{dashboard_api.BIND_ADDRESS}:{port}"
    output.dashboard_started(url, mode, settings.audit)
    command = dashboard_api.launch_command(port)
    sys.exit(_until_interrupted(command, {**environ, **settings.environment()}))


def _until_interrupted(command: list[str], env: dict[str, str]) -> int:
    """The app's exit status; Ctrl-C stops it, which is the normal way to close it."""
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
