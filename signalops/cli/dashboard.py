"""``signalops dashboard``: the Streamlit app in its own process, told everything through the
environment (``signalops.dashboard.api.Settings``); ``signalops dashboard hash-password`` makes
the password hash of an operator account."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import click

from signalops.cli import output
from signalops.cli.params import AUDIT_OPTION, CONFIG_OPTION
from signalops.extras import require
from signalops.signals import STOP_SIGNALS, handled
from signalops.workspace import open_audit


@click.group("dashboard", invoke_without_command=True)
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
@click.pass_context
def dashboard_command(
    ctx: click.Context,
    audit_file: str | None,
    config_file: Path | None,
    port: int,
    strategies_dir: Path | None,
    reports_dir: Path | None,
    replay_dir: Path | None,
    at: str | None,
) -> None:
    """Open the dashboard: approval queue, decisions, portfolio, strategies, backtests, audit.

    It listens on 127.0.0.1 only. Approving and rejecting need an operator account in the
    config (dashboard.operators, with a hash from `signalops dashboard hash-password`); without
    one the dashboard is read-only. Ctrl-C (or SIGTERM, SIGHUP) stops it, app and all. A
    shared log (--audit postgresql://...) shows the decisions of every runner, with a runner
    column and filter.

    \b
    Examples:
      signalops dashboard --config signalops.yaml --audit signalops.db --port 8501
      signalops dashboard --audit postgresql://viewer@db.example/signalops
    """
    if ctx.invoked_subcommand is not None:
        return
    from signalops.dashboard import api as dashboard_api

    # Streamlit runs in its own process (and is only imported by dashboard/): check it is
    # installed without importing it here.
    require("streamlit", "dashboard", "the dashboard")
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
    # A read command: the log must be there and be a SignalOps log (one line and exit 1
    # otherwise, as for `decisions`), never created by looking.
    open_audit(settings.audit).close()
    if os.environ.get(dashboard_api.PASSWORD_ENV):
        output.warnings(
            [
                f"{dashboard_api.PASSWORD_ENV} is no longer read: each operator logs in with an "
                "account in the config (dashboard.operators; see `signalops dashboard "
                "hash-password`)"
            ]
        )
    count = len(settings.operators)
    accounts = f"{count} account{'s' if count != 1 else ''}"
    mode = f"operator login on, {accounts}" if count else "read-only"
    url = f"http://{dashboard_api.BIND_ADDRESS}:{port}"
    output.dashboard_started(url, mode, settings.audit_name)  # never a password
    command = dashboard_api.launch_command(port)
    sys.exit(_until_interrupted(command, {**environ, **settings.environment()}))


GRACE_SECONDS = 5.0  # from SIGTERM to SIGKILL: Streamlit closes its sessions in well under one


class _Stop(Exception):
    """A stop signal arrived (raised by its handler, in the main thread)."""


def _until_interrupted(command: list[str], env: dict[str, str]) -> int:
    """The app's exit status; a stop signal stops it, which is the normal way to close it (0)."""
    try:
        with _raising_on_stop():
            app = subprocess.Popen(command, env=env)
            try:
                return app.wait()
            finally:
                _end(app)  # still under the handler: a second signal cannot cut this short
    except (_Stop, KeyboardInterrupt):
        return 0


def _raising_on_stop() -> AbstractContextManager[None]:
    """Each stop signal (``STOP_SIGNALS``: Ctrl-C, `kill`, a closed terminal) stops the app
    with this command, or it would be left serving, a child of init, on a port nobody watches:
    the first raises ``_Stop``, later ones are ignored while the app is ended (``_end`` bounds
    that)."""

    def stop(signum: int, _frame: object) -> None:
        for sig in STOP_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        raise _Stop(signum)

    return handled(STOP_SIGNALS, stop)


def _end(app: subprocess.Popen[bytes]) -> None:
    """Ask the app to stop (SIGTERM), and kill it if it has not within the grace period."""
    if app.poll() is not None:
        return
    app.terminate()
    try:
        app.wait(timeout=GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


@dashboard_command.command("hash-password")
@click.option(
    "--iterations",
    type=click.IntRange(200_000),  # = accounts.MIN_ITERATIONS
    default=600_000,  # = accounts.DEFAULT_ITERATIONS
    show_default=True,
    help="PBKDF2 iterations (more is slower to check and to guess).",
)
def hash_password_command(iterations: int) -> None:
    """Print the password hash of an operator account, for the config file.

    The password is asked twice at a prompt (never an argument: arguments end up in the shell
    history and the process list). Put the line printed under the operator's name:

    \b
      dashboard:
        operators:
          alice: {password_hash: "pbkdf2_sha256$600000$..."}
    """
    from signalops.dashboard.accounts import MIN_PASSWORD_LENGTH, hash_password

    password = click.prompt(
        "Password", hide_input=True, confirmation_prompt=True, err=True, show_default=False
    )
    if len(password) < MIN_PASSWORD_LENGTH:
        output.fail(f"a password of at least {MIN_PASSWORD_LENGTH} characters, please")
    click.echo(hash_password(password, iterations=iterations))
