"""One decision cycle: gather -> evaluate -> size -> risk gate -> execute -> record.

The same ``Pipeline`` runs live (``signalops run``), on replayed history, and inside backtests:
only the adapters, the clock and the executors differ. Every evaluation becomes exactly one
``decision`` record, whatever happens to it; what follows (fills, approvals, expiries, orders)
are further records that reference it.

Why the order of writes matters (crash safety):

- paper: the decision record, the simulated fill and the fill record are written in ONE SQLite
  transaction, so a crash leaves either all of them or none (and a restart redoes the cycle);
- auto: the decision record and an ``order_submitted`` record are committed BEFORE the order is
  sent (write-ahead). A crash between sending and recording leaves an ``order_submitted`` with no
  ``order_result``; ``reconcile()`` asks the venue by client order id and records what it says,
  so no decision is ever sent twice;
- a decision id is derived from (strategy hash, asset, as_of, mode), so a restart that replays a
  cycle finds its decisions already recorded and skips them, before fetching any data for them.

What orders are sized and checked against: the paper ledger, except in auto mode with an
executor that reports the venue's holdings (``portfolio(prices, as_of)``, e.g. ``CcxtExecutor``):
real fills never reach the ledger, so the venue's account is the only one that knows what can be
sold. A venue that cannot be asked is a PORTFOLIO_UNAVAILABLE denial (recorded, no order), and
a holding nothing prices blocks BUYs (UNPRICED_HOLDINGS): the limits cannot be verified.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from signalops import risk
from signalops.adapters import gather as engine
from signalops.adapters.base import Adapter
from signalops.audit.record import build_decision_record, build_followup, loads_record
from signalops.audit.store import AuditLog
from signalops.config import Config, limits_for
from signalops.errors import SignalOpsError
from signalops.evaluation.tree import Evaluation, Predicate, Status, Verdict
from signalops.execution.base import Executor
from signalops.execution.paper import PaperBroker
from signalops.explain import iso
from signalops.observation import Observation, Request
from signalops.orders import (
    ExecutionResult,
    ExecutionStatus,
    Mode,
    OrderIntent,
    Side,
    client_order_id,
    decision_id,
    to_decimal,
)
from signalops.strategy.model import Strategy

# Sizing and paper fills need a price even when a strategy never reads one: the pipeline asks
# the technical source for the latest closes and uses the freshest that is not stale.
PRICE_TIMEFRAMES = (3600, 86400)


@dataclass(frozen=True)
class Outcome:
    """What one strategy x asset evaluation led to, as recorded."""

    decision_id: str
    strategy: str
    asset: str
    verdict: Verdict
    status: ExecutionStatus
    denials: tuple[str, ...] = ()
    skipped: bool = False


@dataclass(frozen=True)
class CycleSummary:
    as_of: datetime
    outcomes: tuple[Outcome, ...]
    expired: int
    reconciled: int
    seconds: float

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
        return f"{text}  [{self.seconds:.2f}s]"


@dataclass(frozen=True)
class ApprovalOutcome:
    """What answering an approval did: EXPIRED, REJECTED, RECHECK_FAILED or an execution status."""

    approval_id: str
    status: str
    message: str
    execution: ExecutionResult | None = None


@dataclass
class Pipeline:
    """Strategies x assets through the gate to an executor, every step recorded.

    ``mode`` overrides each strategy's ``action_mode`` (the CLI's ``--mode``). ``auto`` needs
    ``auto_executor`` (built only with ``--live``); without it auto decisions are denied with
    AUTO_NOT_ENABLED rather than silently paper-traded.
    """

    strategies: Sequence[Strategy]
    adapters: Mapping[str, Adapter]
    audit: AuditLog
    broker: PaperBroker
    config: Config
    mode: Mode | None = None
    notifier: Executor | None = None
    auto_executor: Executor | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_progress: Callable[[int, int], None] | None = None
    _orders: _OrdersSeen = field(default_factory=lambda: _OrdersSeen(), init=False, repr=False)

    def __post_init__(self) -> None:
        for strategy in self.strategies:
            self.audit.remember_strategy(strategy)

    # --- the cycle ---

    def cycle(self, as_of: datetime) -> CycleSummary:
        started = time.perf_counter()
        reconciled = self.reconcile()
        expired = self.expire_approvals(as_of)
        work = [(s, a) for s in self.strategies for a in s.assets]
        # Recorded decisions first: a restart replaying a cycle fetches no data for them.
        recorded = [self.recorded(strategy, asset, as_of) for strategy, asset in work]
        requests: list[Request] = []
        for (strategy, asset), outcome in zip(work, recorded, strict=True):
            if outcome is None:
                requests.extend(strategy.requests(asset))
                requests.extend(_price_requests(asset))
        if requests:
            requests.extend(self._venue_price_requests())
        answers = engine.gather(requests, self.adapters, as_of)
        outcomes = []
        for done, ((strategy, asset), outcome) in enumerate(zip(work, recorded, strict=True), 1):
            outcomes.append(outcome or self.decide(strategy, asset, as_of, answers))
            if self.on_progress is not None:
                self.on_progress(done, len(work))
        return CycleSummary(
            as_of, tuple(outcomes), expired, reconciled, time.perf_counter() - started
        )

    def decide(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        answers: Mapping[Request, Any],
    ) -> Outcome:
        skipped = self.recorded(strategy, asset, as_of)
        if skipped is not None:
            return skipped
        mode = self.mode or Mode(strategy.execution.action_mode)
        did = decision_id(strategy.content_hash, asset, as_of, mode.value)
        evaluation = strategy.evaluate(answers, as_of, asset)

        intent: OrderIntent | None = None
        gate: dict[str, Any] | None = None
        execution: ExecutionResult | None = None
        if evaluation.verdict in (Verdict.BUY, Verdict.SELL):
            intent, gate = self.gate(strategy, asset, as_of, evaluation, answers, did, mode)
            if intent is not None and gate["approved"]:
                # Executors record as they go: paper atomically with its fill, auto write-ahead.
                execution = self._execute(intent, mode, as_of, strategy, evaluation, gate)
            else:
                execution = ExecutionResult(ExecutionStatus.NOT_EXECUTED, "denied by the risk gate")
                self._record(strategy, evaluation, mode, intent, gate, execution)
        else:
            execution = ExecutionResult(ExecutionStatus.NOT_EXECUTED, _why_not(evaluation))
            self._record(strategy, evaluation, mode, None, None, execution)
        denials = tuple(c["code"] for c in (gate or {}).get("checks", []) if not c["passed"])
        return Outcome(did, strategy.name, asset, evaluation.verdict, execution.status, denials)

    def recorded(self, strategy: Strategy, asset: str, as_of: datetime) -> Outcome | None:
        """The skipped outcome of a decision already in the audit log (its recorded verdict)."""
        mode = self.mode or Mode(strategy.execution.action_mode)
        did = decision_id(strategy.content_hash, asset, as_of, mode.value)
        if not self.audit.has_decision(did):
            return None
        verdict = Verdict(self.audit.get(did)["verdict"])
        return Outcome(
            did, strategy.name, asset, verdict, ExecutionStatus.NOT_EXECUTED, skipped=True
        )

    # --- sizing and the gate ---

    def gate(
        self,
        strategy: Strategy,
        asset: str,
        as_of: datetime,
        evaluation: Evaluation,
        answers: Mapping[Request, Any],
        did: str,
        mode: Mode,
    ) -> tuple[OrderIntent | None, dict[str, Any]]:
        limits = limits_for(strategy, self.config)
        price = reference_price(asset, answers, as_of, limits.max_data_age)
        side = Side.BUY if evaluation.verdict is Verdict.BUY else Side.SELL
        if price is None:
            return None, _single_denial("NO_PRICE", {"asset": asset, "timeframes": ["1h", "1d"]})
        prices = {asset: price[0]}
        venue = self._venue_portfolio(mode)
        if venue is None:
            portfolio = self.broker.portfolio(prices, as_of)
        else:
            # Every asset priced this cycle: the venue's other holdings are valued, not unknown.
            prices = {**self._known_prices(answers, as_of, limits.max_data_age), **prices}
            try:
                portfolio = venue(prices, as_of)
            except SignalOpsError as exc:  # no holdings, nothing to size or check against
                details = {"asset": asset, "error": str(exc)}
                return None, _single_denial("PORTFOLIO_UNAVAILABLE", details)
        intent = risk.size_order(
            decision_id=did,
            strategy=strategy.name,
            asset=asset,
            side=side,
            reference_price=price[0],
            position_size=Decimal(str(strategy.execution.position_size)),
            portfolio=portfolio,
            limits=limits,
            as_of=as_of,
            mode=mode,
        )
        if intent is None:
            if side is Side.SELL:
                return None, _single_denial("NO_POSITION", {"asset": asset, "side": side.value})
            equity = str(portfolio.equity)
            return None, _single_denial("ZERO_SIZE", {"asset": asset, "equity": equity})
        state = self.risk_state(portfolio, as_of, limits)
        data_time = decision_data_time(evaluation, price[1])
        decision = risk.check(intent, state, limits, as_of=as_of, data_time=data_time).to_dict()
        unpriced = getattr(portfolio, "unpriced", None)  # a venue's holdings nothing prices
        if side is Side.BUY and unpriced:
            # Equity and exposure are unknown, so no BUY limit can be verified: fail closed. A
            # SELL only reduces risk and stays allowed.
            held = {currency: str(quantity) for currency, quantity in sorted(unpriced.items())}
            details = {"asset": asset, "holdings": held}
            decision["checks"].append(
                {"code": "UNPRICED_HOLDINGS", "passed": False, "details": details}
            )
            decision["approved"] = False
        return intent, decision

    def _venue_portfolio(self, mode: Mode) -> Callable[..., Any] | None:
        """The auto executor's ``portfolio`` when it reports a venue's holdings, else None.

        Without one (Polymarket's executor: see ``execution/clob.py``) the gate stays on the
        paper ledger.
        """
        if mode is not Mode.AUTO:
            return None
        return getattr(self.auto_executor, "portfolio", None)

    def _assets(self) -> list[str]:
        return list(dict.fromkeys(a for s in self.strategies for a in s.assets))

    def _venue_price_requests(self) -> list[Request]:
        """Every loaded asset's price, when a venue's holdings will be valued with them."""
        if getattr(self.auto_executor, "portfolio", None) is None:
            return []
        return [r for asset in self._assets() for r in _price_requests(asset)]

    def _known_prices(
        self, answers: Mapping[Request, Any], as_of: datetime, max_age: float | None
    ) -> dict[str, Decimal]:
        known = {}
        for asset in self._assets():
            found = reference_price(asset, answers, as_of, max_age)
            if found is not None:
                known[asset] = found[0]
        return known

    def risk_state(self, portfolio: Any, as_of: datetime, limits: risk.RiskLimits) -> Any:
        """Order rate, cooldowns and executed decisions, read from the audit log itself.

        An order counts when it was placed (a paper fill, or an order sent to a venue); times
        are the decisions' ``as_of`` so that replays and backtests see their simulated clock.
        """
        # Incremental: only records appended since the last call are read, so a gated decision
        # costs the same on a log of a million records as on a fresh one. Another process may
        # append too (a CLI approval); reading by seq picks its records up as well.
        known = self._orders
        for seq, record in records_since(
            self.audit, "fill", "order_submitted", after_seq=known.seq
        ):
            known.seq = seq
            order = record.get("order") or {}
            fill = record.get("fill") or {}
            asset = fill.get("asset") or order.get("asset")
            placed = _time(order.get("as_of") or fill.get("placed_at") or fill.get("at"))
            if record["kind"] == "fill" and record["decision_id"] in known.executed:
                continue  # an auto order's fill after its order_submitted: one order
            known.executed.add(record["decision_id"])
            known.times.append(placed)
            if asset is not None and placed > known.last_trade.get(asset, placed - _EPSILON):
                known.last_trade[asset] = placed
        return risk.RiskState(
            portfolio=portfolio,
            order_times=tuple(known.times),
            last_trade=dict(known.last_trade),
            executed_decisions=frozenset(known.executed),
            kill_switch=risk.kill_switch_active(limits),
        )

    # --- execution and recording ---

    def _execute(
        self,
        intent: OrderIntent,
        mode: Mode,
        as_of: datetime,
        strategy: Strategy,
        evaluation: Evaluation,
        gate: dict[str, Any],
    ) -> ExecutionResult:
        if mode is Mode.PAPER:
            with self.audit.transaction():
                result = self.broker.execute(intent, as_of=as_of)
                self._record(strategy, evaluation, mode, intent, gate, result)
                self._append_fill(intent, result, self.clock())
            return result
        if mode is Mode.NOTIFY:
            if self.notifier is None:
                result = ExecutionResult(
                    ExecutionStatus.FAILED, "notify mode has no notifier configured"
                )
            else:
                result = self.notifier.execute(intent, as_of=as_of)
            self._record(strategy, evaluation, mode, intent, gate, result)
            return result
        # auto: write-ahead, then send, then record the venue's answer.
        if self.auto_executor is None:
            result = ExecutionResult(
                ExecutionStatus.NOT_EXECUTED,
                "auto mode is not enabled: run with --mode auto --live and exchange credentials",
                details={"reason": "AUTO_NOT_ENABLED"},
            )
            self._record(strategy, evaluation, mode, intent, gate, result)
            return result
        submitted = ExecutionResult(ExecutionStatus.SUBMITTED, "sending to the venue")
        with self.audit.transaction():
            self._record(strategy, evaluation, mode, intent, gate, submitted)
            self._append_submitted(intent, self.clock())
        result = self.auto_executor.execute(intent, as_of=as_of)
        self._record_result(intent, result)
        return result

    def _record(self, strategy, evaluation, mode, intent, gate, result) -> None:
        self.audit.append(
            build_decision_record(
                strategy=strategy,
                evaluation=evaluation,
                mode=mode.value,
                intent=intent,
                risk=gate,
                execution=result,
                recorded_at=self.clock(),
            )
        )

    def _record_result(self, intent: OrderIntent, result: ExecutionResult) -> None:
        with self.audit.transaction():
            self.audit.append(
                build_followup(
                    "order_result",
                    decision_id=intent.decision_id,
                    recorded_at=self.clock(),
                    client_order_id=intent.client_order_id,
                    execution=result.to_dict(),
                )
            )
            self._append_fill(intent, result, self.clock())

    def _append_fill(self, intent: OrderIntent, result: ExecutionResult, at: datetime) -> None:
        if result.fill is not None:
            self.audit.append(
                build_followup(
                    "fill",
                    decision_id=intent.decision_id,
                    recorded_at=at,
                    client_order_id=intent.client_order_id,
                    fill=result.fill.to_dict(),
                )
            )

    def _append_submitted(self, intent: OrderIntent, at: datetime) -> None:
        """Written before the order is sent (write-ahead): see the module docstring."""
        self.audit.append(
            build_followup(
                "order_submitted",
                decision_id=intent.decision_id,
                recorded_at=at,
                client_order_id=intent.client_order_id,
                order=intent.to_dict(),
            )
        )

    # --- approvals (notify mode) ---

    def answer_approval(
        self,
        approval_id: str,
        *,
        approve: bool,
        by: str,
        note: str | None = None,
        now: datetime | None = None,
    ) -> ApprovalOutcome:
        """Approve or reject a pending decision; the click itself is recorded.

        On approval the signal is re-evaluated with fresh data at ``now`` and the risk gate is
        checked again (current portfolio, data freshness, kill switch): only then does it
        execute, through the auto executor when this pipeline is live, else on paper. A failed
        re-check is recorded in the approval record and nothing is executed.
        """
        now = now or self.clock()
        pending = self._pending(approval_id, now)
        decision = pending.record
        if pending.expired:
            self.expire_approvals(now)
            return ApprovalOutcome(approval_id, "EXPIRED", f"expired at {iso(pending.expires_at)}")
        fields: dict[str, Any] = {"approval_id": pending.approval_id, "approved": approve, "by": by}
        if note:
            fields["note"] = note
        if not approve:
            self.audit.append(
                build_followup(
                    "approval", decision_id=pending.decision_id, recorded_at=now, **fields
                )
            )
            return ApprovalOutcome(approval_id, "REJECTED", note or "rejected")

        strategy = self._strategy_of(decision)
        asset = decision["asset"]
        mode = Mode.AUTO if self.auto_executor is not None else Mode.PAPER
        requests = [*strategy.requests(asset), *_price_requests(asset)]
        answers = engine.gather([*requests, *self._venue_price_requests()], self.adapters, now)
        evaluation = strategy.evaluate(answers, now, asset)
        wanted = decision["action"]
        recheck: dict[str, Any] = {"as_of": iso(now), "verdict": evaluation.verdict.value}
        if evaluation.verdict.value != wanted:
            recheck["risk"] = _single_denial(
                "SIGNAL_CHANGED", {"decided": wanted, "now": evaluation.verdict.value}
            )
            return self._record_failed_recheck(pending, fields, recheck, now)
        intent, gate = self.gate(
            strategy, asset, now, evaluation, answers, pending.decision_id, mode
        )
        recheck["risk"] = gate
        if intent is None or not gate["approved"]:
            return self._record_failed_recheck(pending, fields, recheck, now)
        intent = _same_order_ids(intent, decision)
        if mode is Mode.PAPER:
            with self.audit.transaction():
                result = self.broker.execute(intent, as_of=now)
                self.audit.append(
                    build_followup(
                        "approval",
                        decision_id=pending.decision_id,
                        recorded_at=now,
                        recheck=recheck,
                        outcome=result.to_dict(),
                        **fields,
                    )
                )
                self._append_fill(intent, result, now)
        else:
            with self.audit.transaction():
                self.audit.append(
                    build_followup(
                        "approval",
                        decision_id=pending.decision_id,
                        recorded_at=now,
                        recheck=recheck,
                        **fields,
                    )
                )
                self._append_submitted(intent, now)
            result = self.auto_executor.execute(intent, as_of=now)
            self._record_result(intent, result)
        return ApprovalOutcome(approval_id, result.status.value, result.message, result)

    def _pending(self, approval_id: str, now: datetime) -> Any:
        for pending in self.audit.pending_approvals(now):
            if approval_id in (pending.approval_id, pending.decision_id):
                return pending
        raise SignalOpsError(_not_pending(self.audit, approval_id))

    def _strategy_of(self, decision: Mapping[str, Any]) -> Strategy:
        wanted = decision["strategy"]["hash"]
        for strategy in self.strategies:
            if strategy.content_hash == wanted:
                return strategy
        name = decision["strategy"]["name"]
        raise SignalOpsError(
            f"the decision was made by strategy '{name}' ({wanted[:19]}…), which is not loaded "
            "with that content; pass its file (unchanged) to re-check the signal"
        )

    def _record_failed_recheck(
        self, pending: Any, fields: dict[str, Any], recheck: dict[str, Any], now: datetime
    ) -> ApprovalOutcome:
        self.audit.append(
            build_followup(
                "approval",
                decision_id=pending.decision_id,
                recorded_at=now,
                recheck=recheck,
                outcome={"status": ExecutionStatus.NOT_EXECUTED.value},
                **fields,
            )
        )
        denied = [c["code"] for c in recheck["risk"]["checks"] if not c["passed"]]
        return ApprovalOutcome(
            pending.approval_id, "RECHECK_FAILED", "re-check failed: " + ", ".join(denied)
        )

    # --- housekeeping ---

    def expire_approvals(self, now: datetime) -> int:
        expired = 0
        for pending in self.audit.pending_approvals(now):
            if pending.expired:
                self.audit.append(
                    build_followup(
                        "expiry",
                        decision_id=pending.decision_id,
                        recorded_at=self.clock(),
                        approval_id=pending.approval_id,
                        expires_at=iso(pending.expires_at),
                    )
                )
                expired += 1
        return expired

    def reconcile(self) -> int:
        """Record the venue's answer for orders sent but not recorded (a crash in between)."""
        if self.auto_executor is None:
            return 0
        results = {r["decision_id"] for r in records_of_kind(self.audit, "order_result")}
        fixed = 0
        for record in records_of_kind(self.audit, "order_submitted"):
            if record["decision_id"] in results:
                continue
            order = record["order"]
            found = self.auto_executor.reconcile(order["client_order_id"], order["asset"])
            intent = _intent_from_dict(order)
            self._record_result(intent, found)
            fixed += 1
        return fixed


_EPSILON = timedelta(microseconds=1)


def records_of_kind(audit: AuditLog, *kinds: str) -> list[dict[str, Any]]:
    """Records of these kinds in chain order, through the ``kind`` index (not a full scan)."""
    return [record for _, record in records_since(audit, *kinds)]


def records_since(
    audit: AuditLog, *kinds: str, after_seq: int = 0
) -> list[tuple[int, dict[str, Any]]]:
    """(seq, record) of these kinds after ``after_seq``, in chain order, through the index."""
    marks = ", ".join("?" for _ in kinds)
    rows = audit.db.execute(
        f"SELECT seq, body FROM records WHERE kind IN ({marks}) AND seq > ? ORDER BY seq",
        (*kinds, after_seq),
    ).fetchall()
    return [(seq, loads_record(body)) for seq, body in rows]


@dataclass
class _OrdersSeen:
    """What the risk gate needs from past orders, kept up to date from the audit log."""

    seq: int = 0
    times: list[datetime] = field(default_factory=list)
    last_trade: dict[str, datetime] = field(default_factory=dict)
    executed: set[str] = field(default_factory=set)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _price_requests(asset: str) -> list[Request]:
    return [Request("technical", "close", (("timeframe", tf),), asset) for tf in PRICE_TIMEFRAMES]


def reference_price(
    asset: str, answers: Mapping[Request, Any], as_of: datetime, max_age: float | None
) -> tuple[Decimal, datetime] | None:
    """The freshest close of ``asset`` that is not older than ``max_age``."""
    best: tuple[Decimal, datetime] | None = None
    for request in _price_requests(asset):
        answer = answers.get(request)
        if not isinstance(answer, Observation):
            continue
        age = (as_of - answer.as_of).total_seconds()
        if max_age is not None and age > max_age:
            continue
        if best is None or answer.as_of > best[1]:
            best = (to_decimal(answer.value), answer.as_of)
    return best


def decision_data_time(evaluation: Evaluation, price_time: datetime) -> datetime:
    """The oldest data the decision relied on: the passing leaves of the acting side + price."""
    tree = evaluation.tree
    side = tree.entry if evaluation.action is None or evaluation.action == "BUY" else tree.exit
    oldest = price_time
    trace = evaluation.trace
    for node in side.walk() if side is not None else ():
        if isinstance(node, Predicate) and trace.status(node) is Status.PASS:
            for reading in trace.leaf(node).readings:
                if reading.data_time is not None and reading.data_time < oldest:
                    oldest = reading.data_time
    return oldest


def _why_not(evaluation: Evaluation) -> str:
    if evaluation.verdict is Verdict.BLOCKED:
        return f"{evaluation.action} blocked by veto {', '.join(evaluation.blocked_by)}"
    if evaluation.conflicts:
        return evaluation.conflicts[0]
    return "no entry or exit signal"


def _same_order_ids(intent: OrderIntent, decision: Mapping[str, Any]) -> OrderIntent:
    """An approved order keeps the ids of the decision it came from (idempotency)."""
    return replace(
        intent,
        decision_id=decision["decision_id"],
        client_order_id=client_order_id(decision["decision_id"]),
    )


def _not_pending(audit: AuditLog, approval_id: str) -> str:
    decision_id = "dec-" + approval_id.removeprefix("apv-").removeprefix("dec-")
    followups = audit.followups(decision_id)
    for record in reversed(followups):
        if record["kind"] == "approval":
            word = "approved" if record["approved"] else "rejected"
            who, when = record["by"], record["recorded_at"]
            return f"approval {approval_id} was already {word} by {who} at {when}"
        if record["kind"] == "expiry":
            return f"approval {approval_id} expired at {record['expires_at']}"
    return f"no pending approval '{approval_id}' (see 'signalops approvals')"


def _single_denial(code: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"approved": False, "checks": [{"code": code, "passed": False, "details": details}]}


def _intent_from_dict(order: Mapping[str, Any]) -> OrderIntent:
    return OrderIntent(
        decision_id=order["decision_id"],
        client_order_id=order["client_order_id"],
        strategy=order["strategy"],
        asset=order["asset"],
        side=Side(order["side"]),
        quantity=Decimal(order["quantity"]),
        reference_price=Decimal(order["reference_price"]),
        notional=Decimal(order["notional"]),
        as_of=datetime.fromisoformat(order["as_of"].replace("Z", "+00:00")),
        mode=Mode(order["mode"]),
    )


__all__ = [
    "ApprovalOutcome",
    "CycleSummary",
    "Outcome",
    "Pipeline",
    "decision_data_time",
    "reference_price",
]
