"""The one error hierarchy of SignalOps.

::

    SignalOpsError
     ├── StrategyError           a strategy file is wrong: file, line, column, path, hint
     │    └── StrategyErrors     several StrategyErrors found in one pass, reported together
     ├── AdapterError            a data source failed for one request (the leaf becomes UNKNOWN)
     └── AuditIntegrityError     the audit hash chain does not verify

A risk denial is deliberately *not* here: denials are values (a reason code with details) that get
recorded like any other outcome, never exceptions.

Every ``StrategyError`` points at a place a trader can open in an editor, so its ``str()`` is the
compiler-style ``file:line:column: path: message (hint)``; ``excerpt`` adds the source line and a
caret.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "AdapterError",
    "AuditIntegrityError",
    "SignalOpsError",
    "StrategyError",
    "StrategyErrors",
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
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.hint = hint
        self.source_line = source_line
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
        super().__init__(
            first.message,
            file=first.file,
            line=first.line,
            column=first.column,
            path=first.path,
            hint=first.hint,
            source_line=first.source_line,
            expected=first.expected,
        )

    @property
    def errors(self) -> tuple[StrategyError, ...]:
        return self._errors

    def __str__(self) -> str:
        # While __init__ runs, _errors is set but the base fields are not yet.
        return "\n".join(StrategyError.__str__(e) for e in self._errors)


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

    def __init__(self, message: str, *, source: str = "", reason: str = "ADAPTER_ERROR") -> None:
        self.message = message
        self.source = source
        self.reason = reason
        super().__init__(f"{source}: {message}" if source else message)


class AuditIntegrityError(SignalOpsError):
    """The audit log's hash chain is broken: a record was edited, deleted or reordered."""
