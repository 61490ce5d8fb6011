"""Circuit breakers: trading HALTED on a drawdown, on rejected orders in a row, on an outage.

    breakers: {max_drawdown: 10%, max_consecutive_rejects: 3, max_outage_cycles: 5}

At each cycle boundary the run loop feeds the cycle's summary (and the paper equity, marked at
market) to ``observe``. A breaker that trips sets the risk gate's trading state to HALTED: every
decision is still evaluated and recorded, and every BUY or SELL is denied TRADING_STATE. Only an
operator resumes (``signalops resume``): a breaker never resets itself, since the condition that
tripped it (a venue refusing orders, a data outage) is what a human has to look at.

Every trip and every resume is a ``breaker`` record in the audit log's hash chain (``record``),
written before anything else knows of it: the log is the authority on whether trading is halted.
The counts (the equity's peak, rejects and outage cycles in a row) change every cycle and live in
a small JSON file next to the log (``<log>.breaker.json``), written atomically (a temporary file,
fsync, rename), with the history of trips and resumes. A file that was deleted, or lost the last
trip in a crash, does not resume trading: ``effective`` takes the trip from the log (fail
closed). What a trip did is also in the decision records it denied (TRADING_STATE, ``limit:
HALTED``).

Counting, per cycle, over the decisions the cycle made (skipped ones count for nothing):

- rejects: an order the venue refused or that failed (``FAILED``) adds one; a fill resets the
  count; other outcomes (HOLDs, denials, pending approvals) leave it as it is;
- outage: a cycle with any leaf UNKNOWN because a source could not be reached (connection
  errors, timeouts, 5xx, rate limits: ``OUTAGE_CODES``) adds one; a cycle with decisions and no
  such leaf resets it; NO_DATA and other answers a source gave are not an outage;
- drawdown: ``(peak - equity) / peak`` with the peak the highest equity seen since the last
  resume (a resume starts from the equity of the next cycle).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops import numbers
from signalops.audit.record import BREAKER, build_breaker
from signalops.canonical import iso, parse_iso
from signalops.codes import Code
from signalops.config import BreakersConfig, Config
from signalops.errors import DuplicateRecordError, InputError
from signalops.orders import ExecutionStatus
from signalops.pipeline.summary import CycleSummary
from signalops.risk import TradingState

if TYPE_CHECKING:
    from signalops.audit.interface import AuditStore

SUFFIX = ".breaker.json"

# A source that could not be reached, as opposed to one that answered "nothing" (NO_DATA).
OUTAGE_CODES = frozenset(
    {
        Code.CONNECTION_ERROR,
        Code.NETWORK_ERROR,
        Code.TIMEOUT,
        Code.REQUEST_TIMEOUT,
        Code.HTTP_ERROR,
        Code.RATE_LIMITED,
        Code.TRANSPORT_ERROR,
        Code.ADAPTER_ERROR,
        Code.EXCHANGE_UNAVAILABLE,
    }
)

DRAWDOWN = "max_drawdown"
REJECTS = "max_consecutive_rejects"
OUTAGE = "max_outage_cycles"


@dataclass(frozen=True)
class BreakerState:
    """What the breakers have counted, and whether one has tripped (and why)."""

    tripped: bool = False
    trigger: str | None = None  # the breakers: key that tripped
    message: str | None = None
    tripped_at: str | None = None
    peak_equity: Decimal | None = None
    consecutive_rejects: int = 0
    outage_cycles: int = 0
    revision: int = 0  # bumped by every resume, so a running loop never undoes one
    history: tuple[Mapping[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "tripped": self.tripped,
            "trigger": self.trigger,
            "message": self.message,
            "tripped_at": self.tripped_at,
            "peak_equity": None if self.peak_equity is None else str(self.peak_equity),
            "consecutive_rejects": self.consecutive_rejects,
            "outage_cycles": self.outage_cycles,
            "revision": self.revision,
            "history": [dict(h) for h in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BreakerState:
        peak = data.get("peak_equity")
        return cls(
            tripped=bool(data["tripped"]),
            trigger=data.get("trigger"),
            message=data.get("message"),
            tripped_at=data.get("tripped_at"),
            peak_equity=None if peak is None else Decimal(peak),
            consecutive_rejects=int(data.get("consecutive_rejects", 0)),
            outage_cycles=int(data.get("outage_cycles", 0)),
            revision=int(data.get("revision", 0)),
            history=tuple(data.get("history", ())),
        )


def state_path(audit: str | Path) -> Path:
    """The breaker file of the audit log at ``audit``: ``audit.db`` -> ``audit.db.breaker.json``."""
    audit = Path(audit)
    return audit.with_name(audit.name + SUFFIX)


def state_file(audit: AuditStore) -> Path:
    """The breaker file of an open log (beside a SQLite file; ``.signalops/`` for a shared
    log's runner: ``AuditStore.local_file``)."""
    return audit.local_file(SUFFIX)


def load(path: Path) -> BreakerState:
    """The recorded state; a missing file is a fresh one. A file nobody can read is an error,
    not a silent reset: it may be the record of a trip."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return BreakerState()
    try:
        return BreakerState.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise InputError(
            f"{path}: unreadable breaker state ({type(exc).__name__}); fix or remove it"
        ) from None


def save(path: Path, state: BreakerState) -> None:
    """Atomically: a reader (or a crash) sees the old file or the new one, never half of one."""
    text = json.dumps(state.to_dict(), indent=2, sort_keys=True) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)  # a shared log's runner: .signalops/
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_unless_resumed(path: Path, state: BreakerState, audit: AuditStore) -> BreakerState:
    """Save the loop's ``state`` unless an operator resumed since it was read; return what holds.

    The loop reads the state at each cycle boundary; a resume during the cycle bumps the
    revision, and the operator's word wins over the loop's counts.
    """
    current = effective(load(path), audit)
    if current.revision != state.revision:
        return current
    save(path, state)
    return state


def outage_in(summary: CycleSummary) -> bool:
    return any(code in OUTAGE_CODES for code in summary.data_errors)


def observe(
    state: BreakerState,
    summary: CycleSummary,
    equity: Decimal | None,
    limits: BreakersConfig,
    quote: str | None = None,
) -> BreakerState:
    """The state after one cycle: counts updated, and tripped if a limit was passed.

    ``equity`` None: not known this cycle (drawdown not checked). A tripped state only counts:
    it stays tripped until ``resume``. ``quote``: the account's currency, for the message.
    """
    done = [o for o in summary.outcomes if not o.skipped]
    rejects = state.consecutive_rejects
    for outcome in done:
        if outcome.status is ExecutionStatus.FAILED:
            rejects += 1
        elif outcome.status is ExecutionStatus.FILLED:
            rejects = 0
    outage = state.outage_cycles
    if done:
        outage = outage + 1 if outage_in(summary) else 0
    peak = state.peak_equity
    if equity is not None and (peak is None or equity > peak):
        peak = equity
    counted = replace(state, consecutive_rejects=rejects, outage_cycles=outage, peak_equity=peak)
    if state.tripped:
        return counted
    trip = _trip(counted, equity, limits, quote)
    if trip is None:
        return counted
    trigger, message = trip
    at = iso(summary.as_of)
    event = {"event": "trip", "trigger": trigger, "message": message, "at": at}
    return replace(
        counted,
        tripped=True,
        trigger=trigger,
        message=message,
        tripped_at=at,
        history=(*counted.history, event),
    )


def _trip(
    state: BreakerState, equity: Decimal | None, limits: BreakersConfig, quote: str | None
) -> tuple[str, str] | None:
    peak = state.peak_equity
    if limits.max_drawdown is not None and equity is not None and peak is not None and peak > 0:
        drawdown = (peak - equity) / peak
        if drawdown > limits.max_drawdown:
            return DRAWDOWN, (
                f"drawdown {_percent(drawdown)} from the peak equity "
                f"{numbers.money(peak, quote)} (now {numbers.money(equity, quote)}) is beyond "
                f"max_drawdown {_percent(limits.max_drawdown)}"
            )
    n = limits.max_consecutive_rejects
    if n is not None and state.consecutive_rejects >= n:
        return REJECTS, f"{state.consecutive_rejects} orders in a row failed or were rejected"
    n = limits.max_outage_cycles
    if n is not None and state.outage_cycles >= n:
        return OUTAGE, f"{state.outage_cycles} cycles in a row with sources unreachable"
    return None


def resume(state: BreakerState, *, by: str, note: str, at: datetime) -> BreakerState:
    """Cleared by an operator: counts reset, the peak re-based on the next cycle's equity.

    A resume dated before the trip it clears (``--at`` in the past) is refused, as an approval
    answered before its decision is: the history would say trading resumed before it halted.
    """
    if not state.tripped:
        raise InputError("no breaker is tripped: trading is not halted by a breaker")
    if state.tripped_at is not None and at < parse_iso(state.tripped_at):
        raise InputError(
            f"cannot resume at {iso(at)}, before the {state.trigger} breaker tripped "
            f"({state.tripped_at})"
        )
    event = {
        "event": "resume",
        "by": by,
        "note": note,
        "at": iso(at),
        "cleared": state.trigger,
    }
    return BreakerState(revision=state.revision + 1, history=(*state.history, event))


def record(audit: AuditStore, state: BreakerState) -> None:
    """Append ``state``'s latest event (a trip, or a resume) to the audit log's chain.

    Idempotent: the record's id is the event and the state's revision, so recording the same
    event again (a restart after a crash between the log and the file) is a no-op.
    """
    event = state.history[-1]
    revision = state.revision if event["event"] == "trip" else state.revision - 1
    at = datetime.fromisoformat(str(event["at"]).replace("Z", "+00:00"))
    with contextlib.suppress(DuplicateRecordError):
        audit.append(build_breaker(event, revision=revision, recorded_at=at))


def last_event(audit: AuditStore) -> tuple[int, Mapping[str, Any]] | None:
    """The log's latest breaker event (``trip`` or ``resume``) and the revision it was recorded
    at, or None when the log holds none."""
    found = None
    for _seq, body in audit.records_of_kind(BREAKER):
        found = body
    if found is None or not isinstance(found.get("breaker"), Mapping):
        return None
    revision = int(str(found["id"]).split("-")[1])
    return revision, found["breaker"]


def effective(state: BreakerState, audit: AuditStore) -> BreakerState:
    """``state`` (from the file), tripped when the log's latest breaker event is a trip: a
    deleted, stale or edited file never resumes trading; only ``resume`` (which records its own
    event in the log first) does. Revisions continue from the log's, so the next resume's
    record is a new one."""
    last = last_event(audit)
    if last is None:
        return state
    revision, event = last
    counted = max(state.revision, revision if event.get("event") == "trip" else revision + 1)
    state = replace(state, revision=counted)
    if state.tripped or event.get("event") != "trip":
        return state
    return replace(
        state,
        tripped=True,
        trigger=event.get("trigger"),
        message=event.get("message"),
        tripped_at=event.get("at"),
        history=(*state.history, dict(event)),
    )


def halted(config: Config) -> Config:
    """``config`` with the risk gate's trading state HALTED: every BUY and SELL is denied."""
    return replace(config, limits=replace(config.limits, trading_state=TradingState.HALTED))


def applied(config: Config, audit: AuditStore) -> Config:
    """``config`` as a tripped breaker of ``audit`` leaves it (for approvals too)."""
    return halted(config) if effective(load(state_file(audit)), audit).tripped else config


def _percent(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.01')).normalize():f}%"


__all__ = [
    "OUTAGE_CODES",
    "BreakerState",
    "applied",
    "effective",
    "halted",
    "last_event",
    "load",
    "observe",
    "record",
    "resume",
    "save",
    "save_unless_resumed",
    "state_file",
    "state_path",
]
