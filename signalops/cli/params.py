"""Options several commands share, and the parsing of times, durations and folders.

A wrong time or duration raises ``InputError`` naming the option (``--to: '2023-13-01' is not
a date or ISO-8601 time (e.g. 2023-03-01)``), which the one error boundary
(``signalops.cli.main``) prints as one line, exit 1, whichever command it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
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


def _refused(option: str | None, text: str, wrong: str) -> Exception:
    """``--to: '2023-13-01' is not a date ...``: the one format of a wrong time or duration;
    ``wrong`` says what is wrong with ``text`` (``is not a date ...``).

    ``option`` None: the running command's option that was given ``text`` is named, so a
    command that calls ``parse_time(value)`` in its body gets the option named without passing it.
    """
    named = option or _option_given(text)
    if named is None:
        # Only in a click callback (the value is not in ``ctx.params`` yet): click's own
        # usage error names the option there, which a line without it would not.
        return click.BadParameter(f"'{text}' {wrong}")
    return InputError(f"{named}: '{text}' {wrong}")


def _option_given(text: str) -> str | None:
    context = click.get_current_context(silent=True)
    if context is None:
        return None
    for param in context.command.params:
        if isinstance(param, click.Option) and context.params.get(param.name or "") == text:
            return max(param.opts, key=len)
    return None


TIME_EXPECTED = "a date or ISO-8601 time (e.g. 2023-03-01)"
DURATION_EXPECTED = "a duration such as 1h or 1d"


def parse_time(text: str, option: str | None = None) -> datetime:
    """``2023-03-12`` (midnight UTC) or an ISO-8601 time; naive times are UTC.

    A wrong value is an ``InputError`` naming ``option`` (default: the option given ``text``).
    """
    moment = _time(text)
    if moment is None:
        raise _refused(option, text, f"is not {TIME_EXPECTED}")
    try:  # every reader takes it to UTC: 9999-12-31T23:00-05:00 is past its last day
        moment.astimezone(UTC)
    except OverflowError:
        raise _refused(option, text, "is not a time UTC has (0001-01-01 to 9999-12-31)") from None
    return moment


def time_value(_ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    """A click callback: the option's time (None when not given), a wrong one named."""
    return None if value is None else parse_time(value, param.opts[0])


def parse_bound(text: str | None, option: str | None = None) -> datetime | date | None:
    """A date (that whole UTC day) or a time, for ``--since``/``--until``/``--at`` filters."""
    if text is None:
        return None
    if len(text) == 10:
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise _refused(option, text, f"is not {TIME_EXPECTED}") from None
    return parse_time(text, option)


def parse_bounds(
    since: str | None, until: str | None
) -> tuple[datetime | date | None, datetime | date | None]:
    """``--since``/``--until``, parsed; a period that ends before it starts is an ``InputError``.

    A date is its whole UTC day, so ``--since 2023-03-01 --until 2023-03-01`` is one day.
    """
    first, last = parse_bound(since, "--since"), parse_bound(until, "--until")
    if first is not None and last is not None and _last_moment(last) < _first_moment(first):
        raise _reversed(_shown(first), _shown(last))
    return first, last


def check_period(start: datetime, end: datetime) -> None:
    """Refuse a period that ends before it starts, in the words of ``backtest``."""
    if end < start:
        raise _reversed(_shown(start), _shown(end))


def _reversed(start: str, end: str) -> InputError:
    return InputError(f"the period ends ({end}) before it starts ({start})")


def _first_moment(bound: datetime | date) -> datetime:
    if isinstance(bound, datetime):
        return bound
    return datetime.combine(bound, time.min, UTC)


def _last_moment(bound: datetime | date) -> datetime:
    if isinstance(bound, datetime):
        return bound
    return datetime.combine(bound, time.max, UTC)


def _shown(bound: datetime | date) -> str:
    if isinstance(bound, datetime):
        from signalops.canonical import iso

        return str(iso(bound))
    return bound.isoformat()


def parse_interval(text: str | None, option: str | None = None) -> timedelta | None:
    """``30s``, ``5m``, ``1h``, ``1d``...; a wrong value is an ``InputError`` naming ``option``
    and saying what is wrong with it (``wrong_length``)."""
    from signalops.catalogue.spec import parse_duration

    if text is None:
        return None
    seconds = parse_duration(text)
    if seconds is None:
        raise _refused(option, text, wrong_length(text))
    return timedelta(seconds=seconds)


# A length the duration parser refuses, read only to say why: NUMBER UNIT.
_LENGTH = re.compile(r"([+-]?\d+(?:\.\d+)?)\s*([A-Za-z]+)")


def wrong_length(text: str, example: str = "1h or 1d") -> str:
    """What is wrong with a length the duration parser refuses, where it only says "not a
    duration": 0 or less (``0d`` is a duration, of no length: ``example`` is one that would do),
    or a unit it does not have. Years and months are not units: neither has one length (365 or
    366 days; 28 to 31) and the parser is the strategy language's too, where ``m`` is a minute.
    Days and weeks say exactly how long: the hint's."""
    from signalops.catalogue.spec import parse_duration

    match = _LENGTH.fullmatch(text.strip())
    if match is not None and float(match[1]) <= 0 and parse_duration(f"1{match[2]}") is not None:
        return f"must be longer than 0 (e.g. {example})"
    return f"is not {DURATION_EXPECTED}{slip_hint(text)}"


def slip_hint(text: str) -> str:
    """`` (write 4h)`` for a length written in a unit durations do not spell so (``4hours``,
    ``3y``: ``strategy.expression.duration_slip``, the strategy files' words too); else ``""``."""
    from signalops.strategy.expression import duration_slip

    slip = duration_slip(text.strip())
    return f" ({slip})" if slip else ""


def period_time(option: str, text: str) -> datetime:
    """A backtest's ``--from``/``--to``: a wrong value is an error naming the option."""
    return parse_time(text, option)


def period_interval(option: str, text: str | None) -> timedelta | None:
    """A backtest's ``--every``/``--horizon``: a wrong value is an error naming the option."""
    return parse_interval(text, option)


def snapshot_folder(folder: Path) -> Path:
    """``folder`` when it is a folder; else ``DataNotFound`` says how to make the snapshots."""
    from signalops.adapters import hints

    if not folder.is_dir():
        raise DataNotFound(hints.no_snapshot_folder(folder))
    return folder


def snapshots(folder: Path) -> SnapshotStore:
    """The replay snapshots in ``folder``; ``DataNotFound`` says how to make them."""
    from signalops.adapters.snapshots import SnapshotStore

    return SnapshotStore(snapshot_folder(folder))


def default_config() -> str | None:
    """The config a command reads without --config: $SIGNALOPS_CONFIG (a missing file is an
    error, not a silent fallback), else ./signalops.yaml when present, else none (defaults)."""
    from signalops.config import DEFAULT_CONFIG_FILE

    named = os.environ.get(CONFIG_ENV)
    if named:
        return named
    return DEFAULT_CONFIG_FILE if Path(DEFAULT_CONFIG_FILE).exists() else None


def report_folder(strategy: Path) -> Path:
    """Where a backtest of the file ``strategy`` reports without --report: ``reports/`` and the
    file's name (``reports/banking_crisis_dip``), the folder ``make demo``, the README and the
    help examples name. Not the strategy's own name (``Banking_Crisis_Dip``): one file, one
    folder, whatever its ``name:`` says (two such folders clash on a case-insensitive disk)."""
    return Path("reports") / folder_name(strategy.stem)


def folder_name(name: str) -> str:
    """A name as a folder name: anything but letters, digits, . _ - becomes _."""
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "strategy"
