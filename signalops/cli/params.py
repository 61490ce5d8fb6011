"""Options several commands share, and the parsing of times, durations and folders.

A value that click should answer with usage help raises ``click.BadParameter``; a value the
backtest commands report as ``error: --from: ...`` raises ``InputError``, which the one error
boundary (``signalops.cli.main``) prints.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from signalops.errors import DataNotFound, InputError

if TYPE_CHECKING:
    from signalops.adapters.snapshots import SnapshotStore

F = TypeVar("F", bound=Callable[..., object])

# The same values as ``signalops.adapters.bundled.DEFAULT_DATA_DIR``/``DEFAULT_SNAPSHOT_DIR`` and
# ``signalops.config.CONFIG_ENV`` (a test holds them equal): options need them when the command
# is declared, and importing those modules (numpy, the strategy compiler, jsonschema) would
# slow every command's start, ``--help`` included.
DEFAULT_DATA_DIR = Path("examples/data")
DEFAULT_SNAPSHOT_DIR = Path("examples/replay")
CONFIG_ENV = "SIGNALOPS_CONFIG"

# A string, not a click.Path: a URL's "//" must survive (pathlib would fold it to one slash).
AUDIT_OPTION = click.option(
    "--audit",
    "audit_file",
    metavar="PATH|URL",
    help="Audit log: a SQLite file, or postgresql://USER@HOST/DB (one log several runners "
    "share). Default: $SIGNALOPS_AUDIT, the config's audit.path or audit.url, signalops.db.",
)
RUNNER_OPTION = click.option(
    "--runner",
    metavar="ID",
    help="This runner's id in a shared (PostgreSQL) log, kept with every record it writes. "
    "Default: $SIGNALOPS_RUNNER, the config's audit.runner, the host name.",
)
# The replay snapshots read by ``backtest``, ``sweep`` and ``evaluate``.
DATA_OPTION = click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Replay snapshot folder (made by 'signalops data import').",
)
CONFIG_OPTION = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    help="Config file (risk limits, paper, notify). Default: $SIGNALOPS_CONFIG, else "
    "./signalops.yaml if present.",
)

VENUE_OPTION = click.option(
    "--venue",
    help="Every asset (and auto mode) on this venue: a name under the config's venues: or a "
    "ccxt exchange id. Default: the config's assets:/default_venue (binance).",
)


def with_options(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_time(text: str) -> datetime:
    """``2023-03-12`` (midnight UTC) or an ISO-8601 time; naive times are UTC."""
    moment = _time(text)
    if moment is None:
        raise click.BadParameter(f"'{text}' is not a date or ISO-8601 time")
    return moment


def parse_bound(text: str | None) -> datetime | date | None:
    """A date (that whole UTC day) or a time, for ``--since``/``--until``/``--at`` filters."""
    if text is None:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise click.BadParameter(f"'{text}' is not a date") from None
    return parse_time(text)


def parse_interval(text: str | None) -> timedelta | None:
    from signalops.catalogue.spec import parse_duration

    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        raise click.BadParameter(f"'{text}' is not a duration such as 30s, 5m, 1h or 1d")
    return timedelta(seconds=seconds)


def period_time(option: str, text: str) -> datetime:
    """A backtest's ``--from``/``--to``: a wrong value is an error naming the option."""
    moment = _time(text)
    if moment is None:
        raise InputError(f"{option}: '{text}' is not a date or ISO-8601 time (e.g. 2023-03-01)")
    return moment


def period_interval(option: str, text: str | None) -> timedelta | None:
    """A backtest's ``--every``/``--horizon``: a wrong value is an error naming the option."""
    from signalops.catalogue.spec import parse_duration

    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        raise InputError(f"{option}: '{text}' is not a duration such as 1h or 1d")
    return timedelta(seconds=seconds)


def snapshots(folder: Path) -> SnapshotStore:
    """The replay snapshots in ``folder``; ``DataNotFound`` says how to make them."""
    from signalops.adapters import hints
    from signalops.adapters.snapshots import SnapshotStore

    if not folder.is_dir():
        raise DataNotFound(hints.no_snapshot_folder(folder))
    return SnapshotStore(folder)


def default_config() -> str | None:
    """The config a command reads without --config: $SIGNALOPS_CONFIG (a missing file is an
    error, not a silent fallback), else ./signalops.yaml when present, else none (defaults)."""
    from signalops.config import DEFAULT_CONFIG_FILE

    named = os.environ.get(CONFIG_ENV)
    if named:
        return named
    return DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None


def folder_name(name: str) -> str:
    """A strategy name as a folder name: anything but letters, digits, . _ - becomes _."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "strategy"
