"""Answering a pending approval (notify mode): the one flow behind ``signalops approve/reject``
and the dashboard's buttons.

A rejection is recorded as it is. An approval re-evaluates the signal with fresh data at
``now`` and checks the risk gate again (current portfolio, data freshness, kill switch): only
then does it execute, through the auto executor when the pipeline is live, else on paper, in
the write order of ``signalops.pipeline.records``. A failed re-check is recorded in the
approval record and nothing is executed, and the decision is closed (one answer per decision).
An approval past its expiry is recorded as expired; an answer dated before its decision (its
``as_of``) is refused, and nothing is recorded.

The re-check runs exactly the strategy that decided: the one with the recorded content hash,
found by ``find_strategy``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from signalops.adapters import gather as engine
from signalops.alerts import Alerts, fill_text
from signalops.audit.interface import AuditStore
from signalops.audit.store import PendingApproval
from signalops.audit.why import failed_recheck, recheck_text
from signalops.canonical import canonical_json, iso, parse_iso
from signalops.catalogue import installed
from signalops.codes import Code
from signalops.errors import ApprovalError, DuplicateRecordError, StrategyError
from signalops.explain.figures import execution_message
from signalops.orders import ExecutionStatus, Mode, OrderIntent, client_order_id
from signalops.pipeline.cycle import Pipeline
from signalops.pipeline.summary import ApprovalOutcome
from signalops.risk import RiskDecision
from signalops.strategy import find_strategy_files, loads
from signalops.strategy.model import Strategy
from signalops.workspace import Workspace, build_pipeline, load_strategies


def answer(
    workspace: Workspace,
    approval_id: str,
    *,
    approve: bool,
    by: str,
    now: datetime,
    note: str | None = None,
    live: bool = False,
    replay: str | Path | None = None,
    strategies_dir: Path | None = None,
    alerts: Alerts | None = None,
) -> ApprovalOutcome:
    """Approve or reject the pending decision ``approval_id`` (or its decision id) at ``now``.

    The CLI and the dashboard both call this: the same strategy lookup (``find_strategy``),
    the same re-check, the same records. ``live`` executes an approval through the auto
    executor; ``replay`` re-checks on a snapshot folder instead of live sources. Raises
    ``ApprovalError`` when the approval is not pending (unknown, already answered), ``now`` is
    before its decision's ``as_of``, or the strategy that decided cannot be found. An
    approved order that fills is alerted like the loop's fills (``alerts: on: [fill]``);
    ``alerts`` defaults to the workspace config's.
    """
    pending = _pending(workspace.audit, approval_id, now)
    strategies: list[Strategy] = []
    if approve and not pending.expired:
        strategies = [find_strategy(pending.record, audit=workspace.audit, folder=strategies_dir)]
    pipeline = build_pipeline(workspace, strategies, live=live, replay=replay, clock=lambda: now)
    # Two answers racing (two terminals, the dashboard and Telegram) may both find the approval
    # pending; the log takes one approval record per decision, so the loser's append is refused
    # and it reads what the winner did, as a late answer would.
    try:
        outcome = _answer_on(pipeline, approval_id, approve=approve, by=by, note=note, now=now)
    except DuplicateRecordError:
        raise ApprovalError(_not_pending(workspace.audit, approval_id)) from None
    if outcome.status == ExecutionStatus.FILLED.value:
        _alert_fill(workspace, pending, alerts)
    return outcome


def _alert_fill(workspace: Workspace, pending: PendingApproval, alerts: Alerts | None) -> None:
    config = workspace.config
    own = alerts is None
    sender = Alerts(config.alerts, config.notify.webhooks) if alerts is None else alerts
    try:
        if not sender.wants("fill"):
            return
        strategy = str((pending.record.get("strategy") or {}).get("name"))
        for record in workspace.audit.followups(pending.decision_id):
            if record["kind"] == "fill":
                text = fill_text(record["fill"], strategy)
                sender.send("fill", text, decision_id=pending.decision_id)
    finally:
        if own:
            sender.close()


def _answer_on(
    pipeline: Pipeline,
    approval_id: str,
    *,
    approve: bool,
    by: str,
    now: datetime,
    note: str | None = None,
) -> ApprovalOutcome:
    """Answer on ``pipeline``, whose strategies include the one that decided."""
    pending = _pending(pipeline.audit, approval_id, now)
    records = pipeline.records
    if pending.expired:
        records.expire(now)
        return ApprovalOutcome(approval_id, "EXPIRED", f"expired at {iso(pending.expires_at)}")
    fields: dict[str, Any] = {"approval_id": pending.approval_id, "approved": approve, "by": by}
    if note:
        fields["note"] = note
    if not approve:
        records.append(records.approval_record(pending.decision_id, now, **fields))
        return ApprovalOutcome(approval_id, "REJECTED", note or "rejected")

    decision = pending.record
    intent, recheck = _recheck(pipeline, decision, pending.decision_id, now)
    if intent is None or not recheck["risk"].approved:
        return _record_failed_recheck(pipeline, pending, fields, recheck, now)
    recheck = {**recheck, "risk": recheck["risk"].to_dict()}
    if pipeline.auto_executor is None:
        result = records.paper(
            intent,
            now,
            lambda result: records.approval_record(
                pending.decision_id, now, recheck=recheck, outcome=result.to_dict(), **fields
            ),
        )
    else:
        first = records.approval_record(pending.decision_id, now, recheck=recheck, **fields)
        result = records.send(pipeline.auto_executor, intent, now, first)
    # Said for people (``20,372.40 USDT (fee 0.50 USDT)``); the records keep the exact figures.
    message = execution_message(result.to_dict())
    return ApprovalOutcome(approval_id, result.status.value, message, result)


def _recheck(
    pipeline: Pipeline, decision: Mapping[str, Any], did: str, now: datetime
) -> tuple[OrderIntent | None, dict[str, Any]]:
    """The signal evaluated again at ``now`` and the order through the gate again."""
    strategy = _loaded(pipeline.strategies, decision)
    asset = decision["asset"]
    mode = Mode.AUTO if pipeline.auto_executor is not None else Mode.PAPER
    requests = [*strategy.requests(asset), *pipeline.price_requests_of(asset)]
    asked = [*requests, *pipeline.venue_price_requests(), *pipeline.held_price_requests(now)]
    answers = engine.gather(asked, pipeline.adapters, now)
    evaluation = strategy.evaluate(answers, now, asset)
    wanted = decision["action"]
    recheck: dict[str, Any] = {"as_of": iso(now), "verdict": evaluation.verdict.value}
    if evaluation.verdict.value != wanted:
        details = {"decided": wanted, "now": evaluation.verdict.value}
        return None, {**recheck, "risk": RiskDecision.denied(Code.SIGNAL_CHANGED, details)}
    intent, gate = pipeline.gate(strategy, asset, now, evaluation, answers, did, mode)
    recheck["risk"] = gate
    return (None if intent is None else _same_order_ids(intent, decision)), recheck


def _record_failed_recheck(
    pipeline: Pipeline,
    pending: PendingApproval,
    fields: dict[str, Any],
    recheck: dict[str, Any],
    now: datetime,
) -> ApprovalOutcome:
    gate: RiskDecision = recheck["risk"]
    records = pipeline.records
    records.append(
        records.approval_record(
            pending.decision_id,
            now,
            recheck={**recheck, "risk": gate.to_dict()},
            outcome={"status": ExecutionStatus.NOT_EXECUTED.value},
            **fields,
        )
    )
    message = "re-check failed: " + ", ".join(gate.codes)
    return ApprovalOutcome(pending.approval_id or pending.decision_id, "RECHECK_FAILED", message)


def find_strategy(
    record: Mapping[str, Any], *, audit: AuditStore | None = None, folder: Path | None = None
) -> Strategy:
    """The strategy with the content hash ``record`` (a decision) was made with.

    In order: the file the decision was loaded from, if its content is unchanged; a file with
    that content in ``folder``; the strategy document the audit log stored under that hash. A
    re-check never runs a *different* strategy than the one that decided.
    """
    wanted = record["strategy"]["hash"]
    recorded = record["strategy"].get("file")
    candidates: list[Path] = [Path(recorded)] if recorded else []
    if folder is not None and folder.is_dir():
        candidates += [p for p in find_strategy_files([folder]) if p not in candidates]
    for path in candidates:
        found = _load_if(path, wanted)
        if found is not None:
            return found
    document = audit.strategy_document(wanted) if audit is not None else None
    if document is not None:
        stored = loads(canonical_json(document), recorded or wanted, installed.catalogue())
        if stored.content_hash == wanted:
            return stored
    name = record["strategy"].get("name")
    raise ApprovalError(
        f"the decision was made by strategy '{name}' ({wanted[:19]}…) from {recorded}, and no "
        "file with that content was found (the file changed?): approve it with 'signalops "
        "approve' and the original file, or reject it"
    )


def _load_if(path: Path, wanted: str) -> Strategy | None:
    if not path.is_file():
        return None
    try:
        (strategy,) = load_strategies([path])
    except StrategyError:
        return None  # an invalid file cannot be the one that decided
    return strategy if strategy.content_hash == wanted else None


def _loaded(strategies: Sequence[Strategy], decision: Mapping[str, Any]) -> Strategy:
    wanted = decision["strategy"]["hash"]
    for strategy in strategies:
        if strategy.content_hash == wanted:
            return strategy
    name = decision["strategy"]["name"]
    raise ApprovalError(
        f"the decision was made by strategy '{name}' ({wanted[:19]}…), which is not loaded "
        "with that content; pass its file (unchanged) to re-check the signal"
    )


def _pending(audit: AuditStore, approval_id: str, now: datetime) -> PendingApproval:
    """The pending approval ``approval_id`` (or its decision id), answerable at ``now``."""
    for pending in audit.pending_approvals(now):
        if approval_id in (pending.approval_id, pending.decision_id):
            _not_before_decision(pending, approval_id, now)
            return pending
    raise ApprovalError(_not_pending(audit, approval_id))


def _not_before_decision(pending: PendingApproval, approval_id: str, now: datetime) -> None:
    """An answer dated before its decision would re-check, and fill, on data from before the
    decision existed (``--at`` in the past, a dashboard's fixed clock). Its time is the
    decision's ``as_of`` (the cycle's), not when the runner wrote it: an approver whose clock
    runs a few seconds behind the runner's is not refused."""
    decided = pending.as_of
    if now < parse_iso(decided):
        raise ApprovalError(
            f"approval {approval_id} cannot be answered at {iso(now)}, before its decision "
            f"was made ({decided})"
        )


def _not_pending(audit: AuditStore, approval_id: str) -> str:
    decision_id = "dec-" + approval_id.removeprefix("apv-").removeprefix("dec-")
    for record in reversed(audit.followups(decision_id)):
        if record["kind"] == "approval":
            word = "approved" if record["approved"] else "rejected"
            who, when = record["by"], record["recorded_at"]
            said = f"approval {approval_id} was already {word} by {who} at {when}"
            return said + _closed_by_recheck(record)
        if record["kind"] == "expiry":
            return f"approval {approval_id} expired at {record['expires_at']}"
    return f"no pending approval '{approval_id}' (see 'signalops approvals')"


def _closed_by_recheck(approval: Mapping[str, Any]) -> str:
    """What the error adds for an approval whose re-check failed: the log takes one answer per
    decision (the guard against two answers racing), so a new signal is a new decision."""
    codes = failed_recheck(approval)
    if codes is None:
        return ""
    return f"; its {recheck_text(codes)}: not executed, and the decision is closed"


def _same_order_ids(intent: OrderIntent, decision: Mapping[str, Any]) -> OrderIntent:
    """An approved order keeps the ids of the decision it came from (idempotency)."""
    return replace(
        intent,
        decision_id=decision["decision_id"],
        client_order_id=client_order_id(decision["decision_id"]),
    )


__all__ = ["answer", "find_strategy"]
