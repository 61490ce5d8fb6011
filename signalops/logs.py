"""Log lines of the ``signalops`` command: how many, where to, in which shape, and no secrets.

The CLI configures this once per command (``signalops -v/-q --log-file --log-format``):

- level: WARNING by default, ``-v`` INFO (every adapter error, risk denial, order and approval),
  ``-vv`` DEBUG (each decision, and other libraries' debug lines), ``-q`` errors only;
- where: stderr, or the file ``--log-file`` names instead (appended to, never truncated);
- shape: ``text`` (``<time> <LEVEL> <logger>: <message> key=value ...``) or ``json`` (one
  object per line: ``time`` (UTC ISO), ``level``, ``logger``, ``event``, ``message`` and the
  event's fields, e.g. ``code``, ``strategy``, ``asset``, ``decision_id``).

The library logs events through ``event(...)``: a short message plus structured fields, so the
JSON line carries the reason code as a field and the text line shows it as ``code=...``.

Secrets: every handler scrubs each line before it is written, with the audit record's own rule
(``signalops.audit.record.scrub_secrets``: the values of secret-looking environment variables
and ``api_key=...`` style parameters) plus every secret the HTTP clients and executors declared
(``signalops.adapters.http.protect_logs``). A handler's filter sees the lines propagated from
every logger, so third-party libraries' lines (httpx, ccxt) are covered too.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from signalops.errors import InputError

LOGGER = "signalops"
Format = Literal["text", "json"]
FORMATS: tuple[Format, ...] = ("text", "json")

# Attribute names ``event`` stores on a record (``extra=``), read back by the formatters.
_EVENT, _FIELDS = "signalops_event", "signalops_fields"
# A field that long is a response body or a traceback, not something to read in a log line.
_MAX_FIELD = 500


def event(logger: logging.Logger, level: int, name: str, message: str, **fields: Any) -> None:
    """One structured line: ``name`` is the event (``denial``, ``order_filled``...), ``fields``
    its values (None values are left out)."""
    if logger.isEnabledFor(level):
        kept = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, message, extra={_EVENT: name, _FIELDS: kept})


@dataclass(frozen=True)
class LogSettings:
    """What the command line asked: ``verbose`` counts ``-v``; ``quiet`` wins over it."""

    verbose: int = 0
    quiet: bool = False
    file: Path | None = None
    format: Format = "text"

    @property
    def level(self) -> int:
        if self.quiet:
            return logging.ERROR
        return {0: logging.WARNING, 1: logging.INFO}.get(self.verbose, logging.DEBUG)


# Libraries that warn of what SignalOps reports itself, as one line with its reason: yfinance's
# "Cookie/crumb fetch failed (DNSError), continuing without crumb" came before the error that said
# the connection failed. Their warnings show from -v on.
_CHATTY = ("yfinance",)


def configure(settings: LogSettings) -> Callable[[], None]:
    """Install the handler ``settings`` ask for; returns the function that removes it again.

    Only the ``signalops`` logger's level is raised (third-party INFO lines stay out at ``-v``);
    ``-vv`` opens the root logger to DEBUG too. Below ``-v``, the libraries in ``_CHATTY`` log
    errors only. The handler's own level does the filtering, so
    a caller that lowered the root logger (pytest's caplog) keeps its lines.
    """
    handler = _handler(settings)
    handler.setLevel(settings.level)
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    handler.addFilter(SecretFilter())
    root, ours = logging.getLogger(), logging.getLogger(LOGGER)
    chatty = [logging.getLogger(name) for name in _CHATTY]
    saved = root.level, ours.level, [logger.level for logger in chatty]
    if settings.level < logging.WARNING:
        ours.setLevel(settings.level)
    else:
        for logger in chatty:
            logger.setLevel(logging.ERROR)
    if settings.level <= logging.DEBUG:
        root.setLevel(logging.DEBUG)
    root.addHandler(handler)

    def undo() -> None:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(saved[0])
        ours.setLevel(saved[1])
        for logger, level in zip(chatty, saved[2], strict=True):
            logger.setLevel(level)

    return undo


def _handler(settings: LogSettings) -> logging.Handler:
    if settings.file is None:
        return logging.StreamHandler(sys.stderr)  # the stderr of this command (CliRunner's too)
    try:
        return logging.FileHandler(settings.file, mode="a", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot open log file {settings.file}: {exc.strerror or exc}") from None


class SecretFilter(logging.Filter):
    """Scrubs a record's message, fields and traceback before any formatter sees them.

    ``environment_secrets``: the secret values of the environment; None (what ``configure``
    gives) reads them when the first line is logged, so that a command which logs nothing never
    imports the audit record module for them (start-up time).
    """

    def __init__(self, environment_secrets: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self._environment_secrets = environment_secrets

    @property
    def environment_secrets(self) -> tuple[str, ...]:
        if self._environment_secrets is None:
            from signalops.audit.record import secret_values

            self._environment_secrets = secret_values()
        return self._environment_secrets

    def secrets(self) -> tuple[str, ...]:
        # Read each time: clients built after the handler (a venue's executor) add theirs. Looked
        # up, not imported: a command that never made a request does not import httpx for this.
        http = sys.modules.get("signalops.adapters.http")
        declared = http.declared_secrets() if http is not None else frozenset()
        if not declared:
            return self.environment_secrets
        found = {*self.environment_secrets, *declared}
        return tuple(sorted(found, key=len, reverse=True))  # longest first: none hides another

    def filter(self, record: logging.LogRecord) -> bool:
        from signalops.audit.record import scrub_secrets
        from signalops.canonical import json_safe

        secrets = self.secrets()
        try:
            message = record.getMessage()
        except Exception:  # a broken record is logging's problem; it reports it itself
            return True
        record.msg, record.args = scrub_secrets(message, secrets), ()
        fields = getattr(record, _FIELDS, None)
        if fields:
            setattr(record, _FIELDS, scrub_secrets(json_safe(fields), secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub_secrets(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = scrub_secrets(record.stack_info, secrets)
        return True


def _time(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    return getattr(record, _FIELDS, None) or {}


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_FIELD:
        return value[: _MAX_FIELD - 1] + "…"
    return value


def _trailer(record: logging.LogRecord) -> str:
    """The traceback and stack of a record, already scrubbed by ``SecretFilter``."""
    parts = [text for text in (record.exc_text, record.stack_info) if text]
    return "\n".join(parts)


class TextFormatter(logging.Formatter):
    """``2024-05-01T12:00:00.123Z INFO signalops.pipeline: risk gate denied BTC code=COOLDOWN``"""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        for name, value in _fields(record).items():
            line += f" {name}={_text_value(_short(value))}"
        trailer = _trailer(record)
        return f"{line}\n{trailer}" if trailer else line


def _text_value(value: Any) -> str:
    if isinstance(value, str) and value and not any(c.isspace() or c in '"=' for c in value):
        return value
    if isinstance(value, bool | int | float) and not isinstance(value, str):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; a line from another library has event ``log``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "event": getattr(record, _EVENT, "log"),
            "message": record.getMessage(),
        }
        for name, value in _fields(record).items():
            line.setdefault(name, _short(value))
        trailer = _trailer(record)
        if trailer:
            line["exception"] = trailer
        return json.dumps(line, ensure_ascii=False, default=str, separators=(",", ":"))


__all__ = [
    "FORMATS",
    "LOGGER",
    "JsonFormatter",
    "LogSettings",
    "SecretFilter",
    "TextFormatter",
    "configure",
    "event",
]
