"""What the dashboard needs from the library, without Streamlit: settings, access, answers.

The Streamlit app (``dashboard/``) runs in its own process, started by ``signalops dashboard``,
so everything it is told arrives through the environment:

    SIGNALOPS_AUDIT                the audit log: a SQLite file or a postgresql:// URL (else the
                                   config's audit.path or audit.url, else signalops.db)
    SIGNALOPS_CONFIG               the config file (else ./signalops.yaml if present)
    SIGNALOPS_STRATEGIES           the strategies folder shown on the Strategies page
    SIGNALOPS_REPORTS              the backtest reports folder (reports/<name>/metrics.json)
    SIGNALOPS_REPLAY               re-check approvals on this replay snapshot folder, not live
    SIGNALOPS_NOW                  a fixed clock (replays, demos and tests); else the wall clock
    SIGNALOPS_DASHBOARD_REFRESH    seconds between refreshes (default 5; 0 = never)

Operators log in with their own accounts, from the config's ``dashboard.operators`` (password
hashes: ``signalops.dashboard.accounts``); without any, the dashboard is read-only.
``SIGNALOPS_DASHBOARD_PASSWORD`` (one shared password, any name) is no longer read.

Approving and rejecting go through ``signalops.pipeline.approvals.answer``, as ``signalops
approve`` and ``signalops reject`` do (same workspace, same strategy lookup, same re-check), so
a click in the dashboard and a command in a terminal leave the same records.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

from signalops.audit.interface import redacted
from signalops.config import CONFIG_ENV, DEFAULT_CONFIG_FILE, load_config
from signalops.dashboard.books import Books, held_assets, market_prices, portfolio_books
from signalops.errors import ApprovalError, InputError
from signalops.pipeline import ApprovalOutcome
from signalops.pipeline.approvals import answer
from signalops.workspace import AUDIT_ENV, Workspace, audit_path
from signalops.workspace import open_workspace as _open_workspace

STRATEGIES_ENV = "SIGNALOPS_STRATEGIES"
REPORTS_ENV = "SIGNALOPS_REPORTS"
REPLAY_ENV = "SIGNALOPS_REPLAY"
NOW_ENV = "SIGNALOPS_NOW"
# No longer read (accounts replaced the shared password): `signalops dashboard` says so if set.
PASSWORD_ENV = "SIGNALOPS_DASHBOARD_PASSWORD"
REFRESH_ENV = "SIGNALOPS_DASHBOARD_REFRESH"

DEFAULT_STRATEGIES_DIR = "strategies"
DEFAULT_REPORTS_DIR = "reports"
DEFAULT_REFRESH_SECONDS = 5.0
DEFAULT_PORT = 8501
# Loopback only: the dashboard can approve trades, so it is never exposed by default.
BIND_ADDRESS = "127.0.0.1"


def parse_time(text: str) -> datetime:
    """``2023-03-12`` (midnight UTC) or an ISO-8601 time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{text}' is not a date or ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Settings:
    """Where the dashboard reads and writes, read once per page run from the environment.

    ``audit``: a SQLite file (``Path``) or a ``postgresql://`` URL (``str``), which may hold a
    password: kept out of repr; pages and messages show ``audit_name``.
    """

    audit: str | Path = field(repr=False)
    config: Path | None
    strategies: Path
    reports: Path
    replay: Path | None = None
    fixed_now: datetime | None = None
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS
    # name -> password hash. Kept out of repr: settings end up in logs and error messages.
    operators: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        config = env.get(CONFIG_ENV) or None
        if config is None and Path(DEFAULT_CONFIG_FILE).exists():
            config = DEFAULT_CONFIG_FILE
        # The audit path follows the CLI's rules (option > env > config > default).
        loaded = load_config(config)
        audit = audit_path(env.get(AUDIT_ENV) or None, loaded)
        now = env.get(NOW_ENV)
        refresh = env.get(REFRESH_ENV)
        try:
            seconds = DEFAULT_REFRESH_SECONDS if not refresh else float(refresh)
        except ValueError:
            raise InputError(f"{REFRESH_ENV}={refresh!r} is not a number of seconds") from None
        return cls(
            audit=audit,
            config=Path(config) if config else None,
            strategies=Path(env.get(STRATEGIES_ENV) or DEFAULT_STRATEGIES_DIR),
            reports=Path(env.get(REPORTS_ENV) or DEFAULT_REPORTS_DIR),
            replay=Path(env[REPLAY_ENV]) if env.get(REPLAY_ENV) else None,
            fixed_now=parse_time(now) if now else None,
            refresh_seconds=max(seconds, 0.0),
            operators=loaded.dashboard.operators,
        )

    @property
    def audit_name(self) -> str:
        """The audit log as pages and messages name it: the file, or the URL without its
        password."""
        return str(self.audit) if isinstance(self.audit, Path) else redacted(self.audit)

    def now(self) -> datetime:
        """The dashboard's clock: fixed for replays and tests, else the wall clock."""
        return self.fixed_now or datetime.now(UTC)

    @property
    def can_write(self) -> bool:
        """Without operator accounts in the config, nobody can approve: read-only."""
        return bool(self.operators)

    @property
    def accounts_source(self) -> str:
        """What names the set of accounts (for the login guard): the config file."""
        return str(self.config.resolve()) if self.config is not None else "<no config>"

    def environment(self) -> dict[str, str]:
        """These settings as the environment variables that recreate them (for the launcher)."""
        env = {
            AUDIT_ENV: str(self.audit),
            STRATEGIES_ENV: str(self.strategies),
            REPORTS_ENV: str(self.reports),
            REFRESH_ENV: str(self.refresh_seconds),
        }
        if self.config is not None:
            env[CONFIG_ENV] = str(self.config)
        if self.replay is not None:
            env[REPLAY_ENV] = str(self.replay)
        if self.fixed_now is not None:
            env[NOW_ENV] = self.fixed_now.isoformat()
        return env


def open_workspace(settings: Settings) -> Workspace:
    """The workspace these settings name, for writing (creates the audit log if it does not
    exist). On a shared (PostgreSQL) log the answers are recorded under the runner id
    ``signalops approve`` would use: ``$SIGNALOPS_RUNNER``, the config's, else the host name."""
    return _open_workspace(audit=settings.audit, config=settings.config)


def answer_approval(
    settings: Settings,
    approval_id: str,
    *,
    approve: bool,
    by: str,
    note: str | None = None,
) -> ApprovalOutcome:
    """Approve or reject as ``signalops approve/reject`` would; the click is recorded.

    A fresh workspace per answer (its own connection and write transaction), closed after:
    the dashboard's read connection never holds the write lock.
    """
    if not by.strip():
        raise ApprovalError("say who you are: the operator name is recorded with the answer")
    if by not in settings.operators:  # the name comes from a login, never from a text field
        raise ApprovalError(f"{by!r} is not an operator account: log in to answer")
    workspace = open_workspace(settings)
    from signalops import breakers

    # A tripped breaker halts approvals here as it does in the CLI and on Telegram.
    workspace.config = breakers.applied(workspace.config, workspace.audit)
    try:
        return answer(
            workspace,
            approval_id,
            approve=approve,
            by=by.strip(),
            note=note or None,
            now=settings.now(),
            replay=settings.replay,
            strategies_dir=settings.strategies,
        )
    finally:
        workspace.close()


def portfolio(
    settings: Settings,
    workspace: Workspace,
    now: datetime,
    prices: Mapping[str, tuple[Decimal, datetime]] | None = None,
) -> Books:
    """The account and each strategy's book at ``now``, priced at market (the replay's closes
    with ``SIGNALOPS_REPLAY``, else the live venue's; the last fill where there is none).
    ``prices``: market prices already fetched (the page caches them for a minute)."""
    if prices is None:
        prices = portfolio_prices(settings, workspace, now)
    return portfolio_books(workspace.broker, workspace.config, prices, now)


def portfolio_prices(
    settings: Settings, workspace: Workspace, now: datetime
) -> dict[str, tuple[Decimal, datetime]]:
    """The market price of every asset the account holds at ``now``."""
    held = held_assets(workspace.broker, now)
    return market_prices(workspace.config, held, now, replay=settings.replay)


def app_path() -> Path:
    """``app.py`` of this package: the wheel carries the dashboard with the library."""
    return Path(__file__).resolve().parent / "app.py"


def launch_command(port: int, *, address: str = BIND_ADDRESS) -> list[str]:
    """The ``streamlit run`` command line: headless, no telemetry, loopback unless told."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path()),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        # Usage statistics would be network traffic nobody asked for.
        "--browser.gatherUsageStats",
        "false",
        # The dashboard is an installed tool, not a script being edited: no file watching.
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        # An operator's tool: no "Deploy" button or developer menu.
        "--client.toolbarMode",
        "viewer",
    ]


__all__ = [
    "AUDIT_ENV",
    "BIND_ADDRESS",
    "CONFIG_ENV",
    "DEFAULT_PORT",
    "NOW_ENV",
    "PASSWORD_ENV",
    "REPLAY_ENV",
    "REPORTS_ENV",
    "STRATEGIES_ENV",
    "Settings",
    "answer_approval",
    "app_path",
    "launch_command",
    "open_workspace",
    "parse_time",
    "portfolio",
    "portfolio_prices",
]
