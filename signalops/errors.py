"""The one error hierarchy of SignalOps.

::

    SignalOpsError
     ├── StrategyError             a strategy file is wrong: file, line, column, path, hint
     │    ├── StrategyErrors       several StrategyErrors found in one pass, reported together
     │    └── ConfigError          the config file (signalops.yaml) is wrong, with the same position
     │         └── ConfigErrors     several ConfigErrors found in one pass, reported together
     ├── ExpressionSyntaxError     a ``when:`` expression does not parse: an offset inside it; the
     │                             compiler reports it as a StrategyError at file:line:column
     ├── InputError                a value given on the command line or to a library call is wrong
     │                             (a time, a duration, a grid, a period, an unknown source or rule)
     ├── DataNotFound              a snapshot or data folder the caller named, or a file the
     │                             bundled data should hold, does not exist
     ├── DiskFull                  the disk filled while a file was written (nothing half-written)
     ├── MissingExtra              an optional part is not installed: names the pip extra with it
     ├── AdapterError              a data source failed for one request (the leaf becomes UNKNOWN)
     ├── ExecutionError            an executor cannot be built or used: no --live, no credentials,
     │    │                        a bad webhook, a bad paper-broker setting
     │    └── PortfolioUnavailable the venue could not say what the account holds
     ├── ApprovalError             an approval cannot be answered: not pending, already answered,
     │                             expired, or its strategy is not available
     └── AuditError                the audit log cannot be used as asked
          ├── AuditNotFound        a read command named a log that does not exist
          ├── AuditUnreadable      the file is not a SignalOps audit log (or is corrupt)
          ├── AuditIntegrityError  the hash chain does not verify
          ├── Undecodable          a stored row does not give back a record (verify: EDITED)
          ├── AuditLogHeld         another runner holds the log (its pid, host and start time)
          ├── DuplicateRecordError a record with this id is already in the log
          └── TransactionEndedError a transaction was committed by something else before its end

Module-private exceptions (``_Fail``, ``_GiveUp``, ``_TooDeep`` ...) are control flow inside one
module (a parser backing out of an alternative) and never leave it: what leaves is one of these.

A risk denial is deliberately *not* here: denials are values (a reason code with details) that get
recorded like any other outcome, never exceptions.

Every ``StrategyError`` points at a place a trader can open in an editor, so its ``str()`` is the
compiler-style ``file:line:column: path: message (hint)``; ``excerpt`` adds the source line and a
caret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from signalops.codes import Code
from signalops.secretlike import masked

__all__ = [
    "AdapterError",
    "ApprovalError",
    "AuditError",
    "AuditIntegrityError",
    "AuditLogHeld",
    "AuditNotFound",
    "AuditUnreadable",
    "ConfigError",
    "ConfigErrors",
    "DataNotFound",
    "DiskFull",
    "DuplicateRecordError",
    "ExecutionError",
    "ExpressionSyntaxError",
    "InputError",
    "MissingExtra",
    "PortfolioUnavailable",
    "SignalOpsError",
    "StrategyError",
    "StrategyErrors",
    "TransactionEndedError",
    "Undecodable",
]


class SignalOpsError(Exception):
    """Base of every error SignalOps raises on purpose."""


class StrategyError(SignalOpsError):
    """A problem in a strategy file, with the position a trader needs to fix it.

    ``line`` and ``column`` are 1-based; 0 means "unknown" (e.g. a file that could not be read).
    ``path`` is the JSON path inside the ``strategy`` mapping, e.g. ``rules[1].conditions[0]``.
    ``expected`` lists the tokens a parser would have accepted, for syntax errors.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str = "<string>",
        line: int = 0,
        column: int = 0,
        path: str = "",
        hint: str | None = None,
        source_line: str | None = None,
        expected: Sequence[str] = (),
    ) -> None:
        # A secret pasted into the file is not printed back (``signalops.secretlike``).
        shown, quoted = masked(message), None if source_line is None else masked(source_line)
        if shown != message or quoted != source_line:
            shown += " (what looks like a secret is not shown)"
        self.message = shown
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint
        self.source_line = quoted
        self.expected = tuple(expected)
        super().__init__(str(self))

    @property
    def errors(self) -> tuple[StrategyError, ...]:
        """Every individual error; a single error is a group of one."""
        return (self,)

    @property
    def location(self) -> str:
        if self.line <= 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        parts = [self.location]
        if self.path:
            parts.append(self.path)
        text = ": ".join(parts) + ": " + self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    @property
    def excerpt(self) -> str:
        """The offending source line with a caret under the column, then the expected tokens."""
        lines: list[str] = []
        if self.source_line is not None and self.column > 0:
            shown = self.source_line.rstrip("\n").expandtabs(1)
            lines.append(f"  {shown}")
            lines.append("  " + " " * (self.column - 1) + "^")
        if self.expected:
            lines.append("  expected one of: " + ", ".join(self.expected))
        return "\n".join(lines)

    def __reduce__(self):  # keep keyword-only fields across pickling (e.g. multiprocessing)
        return (_rebuild_strategy_error, (type(self), self.__dict__.copy()))


def _rebuild_strategy_error(cls: type[StrategyError], state: dict) -> StrategyError:
    error = cls.__new__(cls)
    error.__dict__.update(state)
    Exception.__init__(error, str(error))
    return error


class StrategyErrors(StrategyError):
    """Several problems found in one file, in source order; behaves as the first one."""

    def __init__(self, errors: Iterable[StrategyError]) -> None:
        self._errors = tuple(errors)
        if not self._errors:
            raise ValueError("StrategyErrors needs at least one error")
        first = self._errors[0]
        super().__init__(first.message, **_position(first))

    @property
    def errors(self) -> tuple[StrategyError, ...]:
        return self._errors

    def __str__(self) -> str:
        # While __init__ runs, _errors is set but the base fields are not yet.
        return "\n".join(StrategyError.__str__(e) for e in self._errors)


def _position(error: StrategyError) -> dict[str, Any]:
    """Everything but the message, to state the same problem as another error."""
    return {
        "file": error.file,
        "line": error.line,
        "column": error.column,
        "path": error.path,
        "hint": error.hint,
        "source_line": error.source_line,
        "expected": error.expected,
    }


def raise_collected(errors: Sequence[StrategyError]) -> None:
    """Raise nothing, the single error, or all of them together."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise StrategyErrors(errors)


class AdapterError(SignalOpsError):
    """A data source could not answer one request; the leaf it feeds becomes UNKNOWN.

    ``reason`` is a stable UPPER_SNAKE code (e.g. ``HTTP_ERROR``, ``NOT_APPLICABLE``) so that audit
    records can be filtered on it; ``message`` is for people.
    """

    def __init__(
        self, message: str, *, source: str = "", reason: Code = Code.ADAPTER_ERROR
    ) -> None:
        self.message = message
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {message}" if source else message)


class ExpressionSyntaxError(SignalOpsError):
    """An expression that cannot be parsed, or that mixes conditions and values.

    Only the facts are kept here; the caller owns the presentation (source line, caret and the
    "expected one of" list), since it knows where the expression sits in the YAML file.
    """

    def __init__(self, message: str, offset: int, expected: Iterable[str] = ()) -> None:
        expected = tuple(sorted(set(expected)))
        # All three go to Exception so that the error survives pickling (e.g. process pools).
        super().__init__(message, offset, expected)
        self.message = message
        self.offset = offset
        self.expected = expected

    def __str__(self) -> str:
        return self.message


class ConfigError(StrategyError):
    """A problem in the config file, with file, line, column and path like a strategy error."""

    @classmethod
    def from_strategy_error(cls, error: StrategyError) -> ConfigError:
        """The same problem (or problems), found while reading a config file."""
        if isinstance(error, ConfigError):
            return error
        if len(error.errors) > 1:
            return ConfigErrors(cls.from_strategy_error(e) for e in error.errors)
        return cls(error.message, **_position(error))


class ConfigErrors(StrategyErrors, ConfigError):
    """Several problems found in one config file, in source order; behaves as the first one."""


class InputError(SignalOpsError):
    """A value given by the caller is wrong: a time, a duration, a grid, a period, a name."""


class DataNotFound(SignalOpsError):
    """A data or snapshot folder the caller named, or a file the bundled data should hold, does
    not exist (run ``signalops data import``)."""


class DiskFull(SignalOpsError):
    """The disk (or a size limit) filled while ``path`` was written; what was being written was
    rolled back or removed, so nothing is half-written. ``what`` says what was lost, if anything."""

    def __init__(self, path: object, what: str = "") -> None:
        self.path = str(path)
        super().__init__(f"disk full writing {self.path}" + (f": {what}" if what else ""))


class MissingExtra(SignalOpsError):
    """A feature needs a library that only an extra installs (``signalops.extras.require``)."""

    def __init__(self, module: str, extra: str, feature: str) -> None:
        self.module = module
        self.extra = extra
        self.feature = feature
        # "live venues need", "the dashboard needs": the feature is the subject of the sentence.
        verb = "need" if feature.endswith("s") and not feature.endswith("ss") else "needs"
        install = f'pip install "signalops[{extra}]"'
        super().__init__(f"{feature} {verb} the '{extra}' extra: {install}")


class ExecutionError(SignalOpsError):
    """An executor cannot be built or used as configured (no --live, credentials, webhooks)."""


class PortfolioUnavailable(ExecutionError):
    """The venue could not say what the account holds: nothing can be sized or checked."""


class ApprovalError(SignalOpsError):
    """An approval cannot be answered: not pending, already answered, or no strategy for it."""


class AuditError(SignalOpsError):
    """The audit log cannot be used as asked."""


class AuditNotFound(AuditError):
    """A command that only reads named an audit log that does not exist (nothing is created)."""

    def __init__(self, path: object) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: no such audit log")


class AuditUnreadable(AuditError):
    """The file exists but is not a SignalOps audit log (another file, truncated or corrupt)."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: not a SignalOps audit log ({reason})")


class AuditIntegrityError(AuditError):
    """The audit log's hash chain is broken: a record was edited, deleted or reordered."""


class AuditLogHeld(AuditError):
    """Another ``signalops run`` holds the log's runner lock (``signalops.audit.runner_lock``)."""


class Undecodable(AuditError, ValueError):
    """A stored row that does not give back a record (``verify`` reports it as EDITED)."""


class DuplicateRecordError(AuditError, ValueError):
    """A record with this id is already in the log: the same decision or event, twice."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.ids = tuple(ids)
        shown = ", ".join(self.ids[:5]) + (" ..." if len(self.ids) > 5 else "")
        super().__init__(f"already in the audit log: {shown}")


class TransactionEndedError(AuditError, RuntimeError):
    """A ``transaction()`` block's transaction was committed by something else before its end."""
