"""Where a pipeline runs: the config, the audit log, the paper ledger, and how to assemble them.

The CLI and the dashboard both open a workspace from the same few options, so the rules for
"which audit file" and "which config" live here once:

- config: ``--config FILE``, else ``signalops.yaml`` in the current folder if present, else the
  built-in defaults;
- audit log: ``--audit PATH|URL``, else ``$SIGNALOPS_AUDIT``, else the config's ``audit.path``
  (or ``audit.url``), else ``signalops.db`` in the current folder: a SQLite file, or a
  ``postgresql://`` database that several runners share (``signalops.audit.interface``). The
  paper ledger lives in the same log, so a simulated fill and its audit record commit together;
- runner id (a shared log's writer): ``--runner``, else ``$SIGNALOPS_RUNNER``, else the config's
  ``audit.runner``, else the host name;
- venue: ``--venue NAME`` puts every asset (and auto mode) on that venue, else the config's
  ``venues:``/``assets:`` decide (``signalops.venues``).
- SEC User-Agent of live EDGAR requests: the config's ``fundamental.sec_user_agent``, else
  ``$SIGNALOPS_SEC_USER_AGENT``.
- news feeds: the config's ``news.feeds`` (live and replayed), else the news source's defaults.
- recording: ``build_pipeline(record=DIR)`` (``signalops run --record DIR``) appends everything
  the live sources fetch to the snapshot folder ``DIR``, which ``--replay DIR`` then reads.
- the day's start: ``build_pipeline`` gives the paper broker the market price of each asset at
  00:00 UTC through the pipeline's own sources (``signalops.execution.marks``).

``open_audit`` opens only the audit log, for commands that read nothing else (``why``,
``decisions``, ``audit ...``): the config is read only when it is what names the log.

What each function needs is imported inside it: the config (the strategy compiler, jsonschema),
the paper broker (sqlite-utils, which imports pandas), the adapters (numpy) and the pipeline
take most of a command's start-up, and ``with_venue`` or ``open_audit`` need none of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops.errors import DataNotFound, ExecutionError, InputError

if TYPE_CHECKING:
    from signalops.adapters.registry import Connections
    from signalops.audit.interface import AuditStore
    from signalops.audit.paper_ledger import PaperLedger
    from signalops.config import Config
    from signalops.execution.paper import PaperBroker
    from signalops.orders import Mode
    from signalops.pipeline import Pipeline
    from signalops.strategy.model import Strategy

DEFAULT_AUDIT_FILE = "signalops.db"
AUDIT_ENV = "SIGNALOPS_AUDIT"
RUNNER_ENV = "SIGNALOPS_RUNNER"
# = signalops.config.CONFIG_ENV and DEFAULT_CONFIG_FILE (a test holds them equal).
CONFIG_ENV = "SIGNALOPS_CONFIG"
DEFAULT_CONFIG_FILE = "signalops.yaml"


@dataclass
class Workspace:
    config: Config
    audit: AuditStore
    broker: PaperBroker
    # No account yet and nothing said its currency (a log without one, opened without assets):
    # ``build_pipeline`` makes it from its strategies' assets (see ``open_workspace``).
    undecided: bool = False

    def close(self) -> None:
        self.audit.close()


def audit_path(option: str | Path | None, config: Config) -> str | Path:
    """Where the log is: a file ``Path``, or a ``postgresql://`` URL as given."""
    return _location(option or os.environ.get(AUDIT_ENV) or config.audit.path)


def _location(named: str | Path | None) -> str | Path:
    from signalops.audit.interface import is_postgres_url, sqlite_file

    if is_postgres_url(named):
        return str(named)
    return sqlite_file(named or DEFAULT_AUDIT_FILE)


def runner_id(option: str | None, config: Config | None) -> str | None:
    """The runner id (None: the store's default, the host name)."""
    return option or os.environ.get(RUNNER_ENV) or (config.audit.runner if config else None)


def with_venue(settings: Config, venue: str | None) -> Config:
    """``settings`` with every asset on ``venue`` (the CLI's ``--venue``); None: unchanged."""
    if venue is None:
        return settings
    from signalops.venues import venue_for_option

    chosen = venue_for_option(settings.venues, venue)
    return replace(settings, venues=settings.venues.only(chosen))


def open_workspace(
    *,
    audit: str | Path | None = None,
    config: str | Path | None = None,
    create: bool = True,
    existing: bool = False,
    venue: str | None = None,
    runner: str | None = None,
    trades: Sequence[str] = (),
) -> Workspace:
    """The config, the audit log and the paper ledger these options name.

    ``create=True`` is for commands that write (run, backtest): the audit log and the ledger
    are made when missing. ``create=False`` is for commands that only read: the log must exist
    (``AuditNotFound``) and be a SignalOps log (``AuditUnreadable``), and it is opened
    read-only, so looking never writes. ``existing=True`` (with ``create=True``) is for
    commands that write to a log a run made (approve, reject, resume, telegram): it is
    refused as a reader refuses it (``require_log``), so a mistyped ``--audit`` is not a new,
    empty log in which nothing is pending.

    A paper account made earlier keeps its currency (``paper.quote`` written in the file must
    be it: ``ExecutionError``). Without one, ``paper.quote`` makes it now; else it is left
    ``undecided`` until ``build_pipeline`` knows what the strategies trade. ``trades``: the
    assets the run will trade, refused before the log is opened when their money is in
    different currencies (``Config.check_quotes``: ``InputError``), and before anything is
    appended when it is not the account's currency (``refuse_other_currency``).
    """
    from signalops.audit.interface import open_log
    from signalops.config import load_config

    if config is None:
        config = _config_file()
    settings = with_venue(load_config(config), venue)
    settings.check_quotes(trades)
    if existing:
        require_log(audit, settings)
    log = open_log(audit_path(audit, settings), create=create, runner=runner_id(runner, settings))
    try:
        broker, undecided = _paper_broker(log, settings, ())
        if not undecided:
            refuse_other_currency(settings, broker, trades)
    except BaseException:
        log.close()
        raise
    return Workspace(settings, log, broker, undecided)


def require_log(audit: str | Path | None, settings: Config) -> None:
    """Refuse the log ``audit`` and ``settings`` name when it is missing (``AuditNotFound``:
    ``typo.db: no such audit log``) or not a SignalOps log (``AuditUnreadable``), making
    nothing: it is opened read-only and closed."""
    from signalops.audit.interface import open_log

    open_log(audit_path(audit, settings), create=False).close()


def open_audit(
    audit: str | Path | None = None, *, create: bool = False, config: str | Path | None = None
) -> AuditStore:
    """The audit log ``open_workspace`` would open, alone (read-only unless ``create``).

    The config (``config``, else the default one) is read only when it is what names the log
    (no ``audit`` and no ``$SIGNALOPS_AUDIT``, and a config file to read): a command that only
    reads the log does not compile the config's schema to find a path it was given.
    """
    from signalops.audit.interface import open_log

    named = audit or os.environ.get(AUDIT_ENV)
    settings = None
    if not named:
        config = config or _config_file()
        if config is not None:
            from signalops.config import load_config

            settings = load_config(config)
            named = settings.audit.path
    return open_log(_location(named), create=create, runner=runner_id(None, settings))


def refuse_other_currency(settings: Config, broker: PaperBroker, assets: Sequence[str]) -> None:
    """Refuse (``ExecutionError``) to trade ``assets`` in ``broker``'s account when their
    venues quote another currency than the one it was made in, dollars at par aside
    (``Config.account_problem``): a run routing BTC to Kraken in EUR into a log whose account a
    Binance run made in USDT would book euros as USDT."""
    quote = settings.venues.quote_of(assets)  # None: several currencies (``check_quotes``)
    why = None if quote is None else settings.account_problem(assets, broker.quote)
    if quote is not None and why is not None:
        raise broker.other_currency(quote, why)


def _config_file() -> str | None:
    """As every command without --config: $SIGNALOPS_CONFIG, else ./signalops.yaml if there."""
    return os.environ.get(CONFIG_ENV) or (
        DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None
    )


def _paper_broker(
    log: AuditStore, settings: Config, assets: Sequence[str]
) -> tuple[PaperBroker, bool]:
    """The paper broker, and whether its account is undecided (held in memory, refusing fills)."""
    import sqlite_utils

    from signalops.audit.paper_ledger import SQLiteLedger
    from signalops.execution.paper import PaperBroker

    ledger: PaperLedger = log.paper_ledger()
    made = ledger.exists() and ledger.account() is not None
    # A command that trades nothing on a log without an account (an answer on a log no run
    # has traded in) makes none: the first run makes it, in its assets' quote. (Records
    # without an account, which no run leaves, say nothing of its currency either.)
    undecided = not assets and settings.paper.quote is None
    if (log.readonly or undecided) and not made:
        # No ledger in the file means no paper fill yet: an empty account in memory says
        # exactly that, without making tables in a file that was opened only to be read.
        memory = sqlite_utils.Database(memory=True)
        ledger = SQLiteLedger(memory) if log.readonly else _undecided_ledger(memory)
    # Only the file's own word is held against an account made earlier: the venues' quote
    # names the currency of a new one (a ledger made before it was inferred stays as made).
    quote = settings.paper.quote if made else settings.account_quote(assets)
    broker = PaperBroker(
        ledger,
        starting_cash=settings.paper.starting_cash,
        fee_bps=settings.paper.fee_bps,
        slippage_bps=settings.paper.slippage_bps,
        quote=quote,
        log=log.path,
    )
    return broker, undecided and not log.readonly and not made


UNDECIDED_ACCOUNT = (
    "no paper account to fill in: the workspace was opened on a log without one and without "
    "the assets it trades, so nothing said the account's currency (build_pipeline with its "
    "strategies, or paper.quote, says it)"
)


def _undecided_ledger(db: Any) -> PaperLedger:
    """The in-memory ledger of a workspace opened to trade nothing (no assets, no
    ``paper.quote``, no account in the log): it reads as an empty account and refuses a fill,
    which would otherwise vanish with the memory while the chain records it. (Made here, not
    at import: the ledger module is not imported by commands that never open one.)"""
    from signalops.audit.paper_ledger import SQLiteLedger

    class Undecided(SQLiteLedger):
        def insert_fill(self, values: Any) -> int:
            raise ExecutionError(UNDECIDED_ACCOUNT)

    return Undecided(db)


def load_strategies(paths: Sequence[str | Path]) -> list[Strategy]:
    from signalops.adapters import registry
    from signalops.strategy import load

    catalogue = registry.catalogue()
    return [load(path, catalogue) for path in paths]


def refuse_unbuildable(
    strategies: Sequence[Strategy],
    *,
    mode: Mode | None = None,
    live: bool = False,
    replay: str | Path | None = None,
    record: str | Path | None = None,
) -> None:
    """What ``build_pipeline`` refuses whatever the workspace: auto mode without ``live``, a
    missing replay folder, ``record`` with ``replay``. A caller that opens the workspace first
    asks this before, so that a refused run leaves no log behind."""
    from signalops.adapters import hints
    from signalops.orders import Mode

    if record is not None and replay is not None:
        raise InputError("--record records a live run; it cannot be used with --replay")
    wants_auto = mode is Mode.AUTO or (
        mode is None and any(s.execution.action_mode == "auto" for s in strategies)
    )
    if wants_auto and not live:
        raise ExecutionError(
            "auto mode places real orders; pass --live to confirm "
            "(or run with --mode paper or --mode notify)"
        )
    if replay is not None and not Path(replay).is_dir():
        raise DataNotFound(hints.no_snapshot_folder(replay))


def build_pipeline(
    workspace: Workspace,
    strategies: Sequence[Strategy],
    *,
    mode: Mode | None = None,
    live: bool = False,
    replay: str | Path | None = None,
    clock: Callable[[], datetime] | None = None,
    record: str | Path | None = None,
    connections: Connections | None = None,
) -> Pipeline:
    """Adapters (replayed from ``replay`` or live), executors and the audit log, together.

    ``auto`` mode places real orders and needs ``live=True`` (the CLI's ``--live``) and
    credentials in the environment; anything less is refused here, before a cycle runs.
    ``record``: a snapshot folder the live sources append what they fetch to (made if missing;
    not with ``replay``). ``connections``: where live requests go (tests; None: the network).
    """
    from signalops.adapters import registry
    from signalops.adapters.snapshots import SnapshotStore
    from signalops.execution import marks
    from signalops.execution.notify import NotifyExecutor
    from signalops.pipeline import Pipeline

    refuse_unbuildable(strategies, mode=mode, live=live, replay=replay, record=record)
    traded = [asset for strategy in strategies for asset in strategy.assets]
    workspace.config.check_quotes(traded)
    if not workspace.undecided:  # an approval trades here too, in the account made earlier
        refuse_other_currency(workspace.config, workspace.broker, traded)
    auto = None
    venues = workspace.config.venues
    if live:
        # Imported here: ccxt and py-clob-client take seconds to import and only --live
        # needs them, so every other command (and the dashboard) starts without them.
        from signalops.execution.auto import build_auto_executor

        venue = venues.executor_venue()
        symbols = venues.symbols_on(venue) if venue is not None else {}
        auto = build_auto_executor(live=True, venue=venue, symbols=symbols)
    if replay is not None:
        adapters = registry.replay_adapters(
            SnapshotStore(replay), venues=venues, news_feeds=workspace.config.news.feeds
        )
    else:
        adapters = registry.live_adapters(
            record=None if record is None else SnapshotStore(record),
            venues=venues,
            sec_user_agent=workspace.config.fundamental.sec_user_agent,
            news_feeds=workspace.config.news.feeds,
            connections=connections,
        )
    notify = workspace.config.notify
    notifier = NotifyExecutor(notify.webhooks, approval_ttl=notify.approval_ttl)
    if workspace.undecided and strategies:
        # The assets are known now (and nothing above refused the run): the account is made
        # in their quote, in the log's file.
        assets = [asset for strategy in strategies for asset in strategy.assets]
        workspace.broker, workspace.undecided = _paper_broker(
            workspace.audit, workspace.config, assets
        )
    pipeline = Pipeline(
        strategies=strategies,
        adapters=adapters,
        audit=workspace.audit,
        broker=workspace.broker,
        config=workspace.config,
        mode=mode,
        notifier=notifier,
        auto_executor=auto,
        clock=clock or _wall_clock(connections),
    )
    # The day's start (MAX_DAILY_LOSS) values what was held at midnight at the market's price
    # then, through the run's own sources, live or replayed (``execution.marks``).
    marks.attach(pipeline)
    return pipeline


def _wall_clock(connections: Connections | None) -> Callable[[], datetime]:
    """The live sources' clock when a test set one, so the run's as_of agrees with it."""
    if connections is not None and connections.now is not None:
        return connections.now
    return lambda: datetime.now(UTC)
