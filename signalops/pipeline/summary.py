"""What a cycle and an answered approval led to, as values the CLI and the dashboard render."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from signalops.canonical import iso
from signalops.codes import Code
from signalops.evaluation.tree import Verdict
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

    def line(self) -> str:
        done = [o for o in self.outcomes if not o.skipped]
        verdicts = Counter(o.verdict.value for o in done)
        parts = [f"{n} {v}" for v, n in sorted(verdicts.items())] or ["nothing new"]
        filled = sum(o.status is ExecutionStatus.FILLED for o in done)
        pending = sum(o.status is ExecutionStatus.PENDING_APPROVAL for o in done)
        denied = sum(bool(o.denials) for o in done)
        text = f"{iso(self.as_of)}  {len(done)} decisions: {', '.join(parts)}"
        extras = []
        if filled:
            extras.append(f"{filled} filled")
        if pending:
            extras.append(f"{pending} awaiting approval")
        if denied:
            extras.append(f"{denied} denied by risk")
        if self.expired:
            extras.append(f"{self.expired} approvals expired")
        if self.reconciled:
            extras.append(f"{self.reconciled} orders reconciled")
        skipped = sum(o.skipped for o in self.outcomes)
        if skipped:
            extras.append(f"{skipped} already recorded")
        if extras:
            text += " (" + ", ".join(extras) + ")"
        errors = self.data_errors_text()
        if errors:
            # Before the duration, so that the duration stays the line's one variable suffix.
            text += f"  WARNING data errors: {errors}"
        return f"{text}  [{self.seconds:.2f}s]"


@dataclass(frozen=True)
class ApprovalOutcome:
    """What answering an approval did: EXPIRED, REJECTED, RECHECK_FAILED or an execution status."""

    approval_id: str
    status: str
    message: str
    execution: ExecutionResult | None = None


__all__ = ["ApprovalOutcome", "CycleSummary", "Outcome"]
