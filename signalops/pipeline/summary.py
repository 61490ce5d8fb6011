"""What a cycle and an answered approval led to, as values the CLI and the dashboard render."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from signalops import numbers
from signalops.canonical import iso
from signalops.codes import Code
from signalops.evaluation.tree import Verdict
from signalops.evaluation.unread import UnreadMetric
from signalops.orders import ExecutionResult, ExecutionStatus


@dataclass(frozen=True)
class Outcome:
    """What one strategy x asset evaluation led to, as recorded."""

    decision_id: str
    strategy: str
    asset: str
    verdict: Verdict
    status: ExecutionStatus
    denials: tuple[Code, ...] = ()
    skipped: bool = False
    # The reason of each metric a source could not answer: those leaves were UNKNOWN.
    data_errors: tuple[Code, ...] = ()
    # When the data is from, for each metric a leaf refused as STALE (UNKNOWN too, though the
    # source answered): a feed that stopped, a recording that ended.
    stale: tuple[datetime, ...] = ()
    # Of those, the data that stopped updating (not a stock's night or weekend): the stale alert.
    stalled: tuple[datetime, ...] = ()
    # Every metric its UNKNOWN leaves had no usable value of, and why (a backtest counts them).
    unread: tuple[UnreadMetric, ...] = ()


@dataclass(frozen=True)
class CycleSummary:
    as_of: datetime
    outcomes: tuple[Outcome, ...]
    expired: int
    reconciled: int
    seconds: float

    @property
    def data_errors(self) -> Counter[Code]:
        """How many metrics the cycle's decisions were missing, by reason code.

        Counted per strategy x asset x metric: the leaves a source left UNKNOWN, decided
        fail-closed. Decisions skipped as already recorded fetched nothing and count none.
        """
        return Counter(code for o in self.outcomes if not o.skipped for code in o.data_errors)

    def data_errors_text(self) -> str:
        """``CONNECTION_ERROR x3, NO_DATA x1``: most frequent first, then by name ('' if none)."""
        counts = sorted(self.data_errors.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{code} x{n}" for code, n in counts)

    @property
    def stale(self) -> tuple[datetime, ...]:
        """When the data is from, for each metric a leaf refused as STALE (older than its
        max age), counted as ``data_errors`` are: per strategy x asset x metric."""
        return tuple(time for o in self.outcomes if not o.skipped for time in o.stale)

    @property
    def stalled(self) -> tuple[datetime, ...]:
        """``stale`` without the data a stock's night, weekend or holiday explains: what
        stopped updating (``cycle._stalled``)."""
        return tuple(time for o in self.outcomes if not o.skipped for time in o.stalled)

    def stale_text(self) -> str:
        """``STALE x3 (newest 2,376 days old)`` ('' if none): the newest says how long the
        freshest of that data has not moved."""
        return self._stale_words(self.stale)

    def stalled_text(self) -> str:
        """``stale_text`` of ``stalled``."""
        return self._stale_words(self.stalled)

    def _stale_words(self, times: tuple[datetime, ...]) -> str:
        if not times:
            return ""
        return f"STALE x{len(times)} (newest {_age(self.as_of - max(times))} old)"

    def line(self) -> str:
        done = [o for o in self.outcomes if not o.skipped]
        verdicts = Counter(o.verdict.value for o in done)
        parts = [f"{n} {v}" for v, n in sorted(verdicts.items())] or ["nothing new"]
        filled = sum(o.status is ExecutionStatus.FILLED for o in done)
        pending = sum(o.status is ExecutionStatus.PENDING_APPROVAL for o in done)
        flat = sum(o.verdict == Verdict.SELL and Code.NO_POSITION in o.denials for o in done)
        # A SELL with nothing held is an exit rule passing while flat, not the gate blocking a
        # trade: named apart, as a backtest's "BUYs denied" and stress's "risk denied" leave
        # it out (``scenario_backtests.sell_while_flat``).
        denied = sum(bool(o.denials) for o in done) - flat
        # Whole seconds, as every later cycle of a live run is on the grid: a run's first cycle
        # is at its start, with microseconds its records keep (``as_of``) and a line need not.
        stamp = iso(self.as_of.replace(microsecond=0))
        text = f"{stamp}  {numbers.counted(len(done), 'decision')}: {', '.join(parts)}"
        extras = []
        if filled:
            extras.append(f"{filled} filled")
        if pending:
            extras.append(f"{pending} awaiting approval")
        if denied:
            extras.append(f"{denied} denied by risk")
        if flat:
            extras.append(f"{flat} with nothing to sell")
        if self.expired:
            extras.append(f"{numbers.counted(self.expired, 'approval')} expired")
        if self.reconciled:
            extras.append(f"{numbers.counted(self.reconciled, 'order')} reconciled")
        skipped = sum(o.skipped for o in self.outcomes)
        if skipped:
            extras.append(f"{skipped} already recorded")
        if extras:
            text += " (" + ", ".join(extras) + ")"
        errors = self.data_errors_text()
        if errors:
            # Before the duration, so that the duration stays the line's one variable suffix.
            text += f"  WARNING data errors: {errors}"
        refused = self.stale_text()
        if refused:
            text += f"  WARNING stale data: {refused}"
        return f"{text}  [{self.seconds:.2f}s]"


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _age(age: timedelta) -> str:
    """``2,376 days``, ``2 days 3 hours``, ``1 day``, ``5 hours``, ``12 minutes``, ``0 seconds``.

    The next unit too when it is not zero: against a ``2d`` limit, ``2 days`` alone would read
    as within it."""
    seconds = int(max(age.total_seconds(), 0.0))
    at = next((i for i, (_, size) in enumerate(_UNITS) if seconds >= size), len(_UNITS) - 1)
    unit, size = _UNITS[at]
    whole, rest = divmod(seconds, size)
    text = numbers.counted(whole, unit)
    if at + 1 < len(_UNITS):
        smaller, smaller_size = _UNITS[at + 1]
        if rest // smaller_size:
            text += " " + numbers.counted(rest // smaller_size, smaller)
    return text


@dataclass(frozen=True)
class ApprovalOutcome:
    """What answering an approval did: EXPIRED, REJECTED, RECHECK_FAILED or an execution status."""

    approval_id: str
    status: str
    message: str
    execution: ExecutionResult | None = None


__all__ = ["ApprovalOutcome", "CycleSummary", "Outcome"]
