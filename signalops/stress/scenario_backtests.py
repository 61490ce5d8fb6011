"""Run a strategy through stress scenarios: each one a backtest of the same pipeline.

    report = run_stress(strategy, select([]), store=SnapshotStore("examples/replay"),
                        out_dir="reports/x/stress")

Each scenario is ``signalops.backtest.runner.run_backtest`` over its window, on the replay data
with its shocks applied (``signalops.stress.shocks``): the same evaluation, risk gate, paper
broker and audit log as every backtest, one log per scenario at ``out_dir/<name>/backtest.db``
(``signalops why ID --audit ...`` explains any of its decisions). The scenarios' folders are
written beside ``out_dir`` and moved into it when every scenario has run (``folders.staged``):
stopped half way, ``out_dir`` is as it was. Like every backtest, none reads the kill switch
file (``runner.backtest_config``): a file touched today does not deny the orders of 2020.

A scenario is *skipped*, with the reason, when it cannot say anything about the strategy:

- not covered by the data: the strategy's candles of some asset do not span the window (the
  bundled hourly BTC candles start in October 2020, so March 2020 is not covered for an hourly
  strategy; the daily candles go back to 2017);
- not applicable: every one of its shocks touches nothing the strategy reads (a gap of an asset
  it does not trade, a jump of a market it does not read, an outage of a source it does not
  use): its row would report a stress that did not happen.

A shock that touches nothing the strategy reads beside one that does is *not applied*: the
scenario runs with the others, and the report names the one left out and why. Applied, it would
have changed nothing the strategy reads, so the run is the scenario as written, as far as this
strategy can tell; skipping the whole scenario would throw away what the other shocks show (an
outage of the strategy's data is no less an outage because the scenario also gaps ETH). Naming
it still tells of a slip (``DOGE`` written for ``BTC``).

What each scenario reports is read from its audit log, so it is what ``why`` shows: the verdicts,
the orders filled, the risk gate's denials by code (a SELL with nothing to sell is counted
apart: ``sell_while_flat``), the venue's refusals by code, and the decisions that *failed
closed*: missing data decided them (a HOLD whose entry or exit rules were UNKNOWN, so that they
might have acted; a BLOCKED decision whose every blocking veto was UNKNOWN). Decisions with any
UNKNOWN leaf are counted apart, by the leaves' reason codes.

Circuit breakers are not run by backtests (they act between the cycles of ``signalops run``,
``signalops.pipeline.loop.Guard``), so no scenario is halted by one. When the config sets
breakers, the report says where they *would* have tripped, by feeding each decision time's
outcomes and the equity after it to ``signalops.breakers.observe``; the run goes on as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from signalops import breakers
from signalops.adapters import polymarket
from signalops.adapters.snapshots import SnapshotStore
from signalops.audit.expand import expanded
from signalops.audit.queries import records_of_kind
from signalops.audit.store import AuditLog
from signalops.backtest.folders import staged
from signalops.backtest.ledger import parse_time
from signalops.backtest.runner import (
    FAST,
    BacktestResult,
    OnProgress,
    candle_timeframe,
    decision_times,
    load_bars,
    run_backtest,
)
from signalops.canonical import iso
from signalops.catalogue.spec import format_duration
from signalops.codes import Code
from signalops.config import BreakersConfig, Config
from signalops.errors import DataNotFound
from signalops.evaluation.tree import Verdict
from signalops.observation import Request
from signalops.orders import ExecutionStatus
from signalops.pipeline.cycle import price_requests
from signalops.pipeline.summary import CycleSummary, Outcome
from signalops.strategy.model import Strategy
from signalops.stress.scenario import Gap, Outage, PredictionJump, Scenario, Shock, VenueRejects
from signalops.stress.shocks import (
    candle_keys,
    market_key,
    outcome_keys,
    refusal,
    shocked_store,
    with_outages,
)

UNKNOWN = "UNKNOWN"
NOT_COVERED = "not covered by the data"
NOT_APPLICABLE = "not applicable"

Progress = Callable[[str, int, int], None]
"""``(scenario name, periods done, periods in all)``."""


@dataclass(frozen=True)
class Breakers:
    """What the configured breakers would have done (backtests do not run them)."""

    configured: bool
    tripped: bool = False
    trigger: str | None = None
    at: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_in_backtests": False,
            "configured": self.configured,
            "would_trip": self.tripped,
            "trigger": self.trigger,
            "at": self.at,
            "message": self.message,
        }


FILLED, DENIED, REJECTED, BLOCKED = "filled", "denied", "rejected", "blocked"
FAILED_CLOSED = "failed_closed"


class Marked(NamedTuple):
    """A decision that did something a report points at, and what."""

    as_of: datetime
    decision_id: str
    kinds: frozenset[str]


@dataclass(frozen=True)
class Outcomes:
    """What a scenario's decisions came to, read from its audit log."""

    decisions: int
    verdicts: Mapping[str, int]
    filled: int
    denied: int  # orders the risk gate denied (not ``sells_while_flat``)
    denials: Mapping[str, int]  # their failed risk checks, by code
    rejected: int  # orders the venue (the paper broker) refused: FAILED
    rejections: Mapping[str, int]  # by reason code
    failed_closed: tuple[str, ...]  # decision ids, in log order
    with_unknown: int  # decisions with at least one UNKNOWN leaf
    unknown_leaves: Mapping[str, int]  # UNKNOWN leaves by reason code
    # each decision filled, denied, rejected, blocked or failed closed
    marked: tuple[Marked, ...] = ()
    sells_while_flat: int = 0  # SELLs with nothing to sell: exit rules passing while flat

    def first(self, kind: str, since: datetime | None = None) -> str | None:
        """The first decision of ``kind`` (``FILLED``...), at or after ``since``."""
        for mark in self.marked:
            if kind in mark.kinds and (since is None or mark.as_of >= since):
                return mark.decision_id
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decisions": self.decisions,
            "verdicts": dict(self.verdicts),
            "filled": self.filled,
            "denied_by_risk_gate": self.denied,
            "denials_by_code": dict(self.denials),
            "sells_while_flat": self.sells_while_flat,
            "rejected_by_venue": self.rejected,
            "rejections_by_code": dict(self.rejections),
            "failed_closed": len(self.failed_closed),
            "failed_closed_decisions": list(self.failed_closed),
            "decisions_with_unknown_data": self.with_unknown,
            "unknown_leaves_by_code": dict(self.unknown_leaves),
            "rejected_decisions": [m.decision_id for m in self.marked if REJECTED in m.kinds],
        }


@dataclass(frozen=True)
class NotApplied:
    """A shock of a scenario that ran without it: it touches nothing the strategy reads."""

    shock: Shock
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"shock": self.shock.to_dict(), "reason": self.reason}


@dataclass(frozen=True)
class ScenarioRun:
    """One scenario: its backtest and what it came to, or why it was skipped."""

    scenario: Scenario
    skipped: str | None = None
    result: BacktestResult | None = None
    outcomes: Outcomes | None = None
    breakers: Breakers = Breakers(configured=False)
    not_applied: tuple[NotApplied, ...] = ()

    @property
    def applied(self) -> tuple[Shock, ...]:
        """The scenario's shocks the run applied, in the scenario's order."""
        left_out = [n.shock for n in self.not_applied]
        return tuple(shock for shock in self.scenario.shocks if shock not in left_out)

    def example(self) -> str | None:
        """A decision the shocks touched, for ``why``: from the first shock applied on, the
        first order the venue rejected, else the first decision that failed closed, else the
        first blocked, else the first order filled, else the first denied. None for a historical
        scenario."""
        if self.outcomes is None or not self.applied:
            return None
        since = min(shock.when for shock in self.applied)
        for kind in (REJECTED, FAILED_CLOSED, BLOCKED, FILLED, DENIED):
            found = self.outcomes.first(kind, since)
            if found is not None:
                return found
        return None

    @property
    def pnl(self) -> Decimal | None:
        if self.result is None:
            return None
        return self.result.metrics.end_equity - self.result.paper.starting_cash

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"scenario": self.scenario.to_dict(), "skipped": self.skipped}
        result, outcomes = self.result, self.outcomes
        if result is None or outcomes is None:
            return data
        metrics = result.metrics
        data.update(
            {
                "every": format_duration(result.every.total_seconds()),
                "periods": result.periods,
                "starting_cash": str(result.paper.starting_cash),
                "end_equity": str(metrics.end_equity),
                "pnl": str(self.pnl),
                "total_return": metrics.total_return,
                "max_drawdown": metrics.drawdown.to_dict(),
                "trades": metrics.trades,
                "open_trades": metrics.open_trades,
                "shocks_not_applied": [n.to_dict() for n in self.not_applied],
                **outcomes.to_dict(),
                "breakers": self.breakers.to_dict(),
                "audit_log": str(result.audit_path),
            }
        )
        return data


@dataclass(frozen=True)
class StressReport:
    """Every chosen scenario's run, in the order chosen; the audit logs are under ``out_dir``."""

    strategy: Strategy
    runs: tuple[ScenarioRun, ...]
    out_dir: Path
    breakers_configured: bool
    quote: str | None = None  # the currency its money is in (its assets' venues' quote)

    def nothing_ran(self) -> str | None:
        """Why no scenario ran, a line for each skipped one (None: one ran). A stress test of
        nothing is a failure to report, not a table of zero rows: the scenarios chosen say
        nothing about this strategy on this data."""
        if any(run.result is not None for run in self.runs):
            return None
        lines = [
            f"no scenario ran ({len(self.runs)} skipped; nothing written to {self.out_dir})"
            if self.runs
            else "no scenario was chosen"
        ]
        lines.extend(f"skipped {run.scenario.name}: {run.skipped}" for run in self.runs)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": {
                "name": self.strategy.name,
                "file": self.strategy.file,
                "hash": self.strategy.content_hash,
            },
            "report": str(self.out_dir),
            "quote": self.quote,
            "breakers_run_in_backtests": False,
            "breakers_configured": self.breakers_configured,
            "scenarios": [run.to_dict() for run in self.runs],
        }


def run_stress(
    strategy: Strategy,
    scenarios: Sequence[Scenario],
    *,
    store: SnapshotStore,
    out_dir: str | Path,
    config: Config | None = None,
    progress: Progress | None = None,
) -> StressReport:
    """Each scenario's backtest of ``strategy`` (``out_dir/<scenario>/backtest.db``), in order;
    the folders of the scenarios run appear in ``out_dir`` together, at the end. When every
    scenario is skipped nothing is written, not even ``out_dir`` (``StressReport.nothing_ran``
    says why)."""
    config = config or Config()
    runs = [ScenarioRun(s, skipped=skip_reason(strategy, s, store, config)) for s in scenarios]
    if any(run.skipped is None for run in runs):
        # Only then: a run of nothing would publish an empty folder.
        with staged(Path(out_dir)) as work:
            for i, scenario in enumerate(scenarios):
                if runs[i].skipped is None:
                    left_out = not_applied(strategy, scenario, store, config)
                    run = run_scenario(
                        strategy, scenario, store=store, out_dir=work, config=config,
                        progress=progress, not_applied=left_out,
                    )  # fmt: skip
                    runs[i] = _published_in(run, Path(out_dir))
    configured = _breakers_set(config.breakers)
    quote = config.account_quote(strategy.assets)
    return StressReport(strategy, tuple(runs), Path(out_dir), configured, quote)


def run_scenario(
    strategy: Strategy,
    scenario: Scenario,
    *,
    store: SnapshotStore,
    out_dir: str | Path,
    config: Config | None = None,
    progress: Progress | None = None,
    engine: str = FAST,
    not_applied: Sequence[NotApplied] = (),
) -> ScenarioRun:
    """One scenario's backtest (whatever ``skip_reason`` would say) and its outcomes, with
    every shock but those ``not_applied`` names; ``engine`` as for ``run_backtest``."""
    config = config or Config()
    left_out = [n.shock for n in not_applied]
    shocks = tuple(shock for shock in scenario.shocks if shock not in left_out)
    outages = [s for s in shocks if isinstance(s, Outage)]
    rejects = [s for s in shocks if isinstance(s, VenueRejects)]
    result = run_backtest(
        strategy,
        store=shocked_store(store, shocks, config.venues),
        start=scenario.start,
        end=scenario.end,
        out_dir=Path(out_dir) / scenario.name,
        every=scenario.every,
        config=config,
        progress=_labelled(progress, scenario.name),
        engine=engine,
        wrap_adapters=with_outages(outages) if outages else None,
        refuse=refusal(rejects) if rejects else None,
    )
    outcomes, cycles = read_outcomes(result.audit_path)
    return ScenarioRun(
        scenario,
        result=result,
        outcomes=outcomes,
        breakers=would_trip(cycles, result, config.breakers),
        not_applied=tuple(not_applied),
    )


def _published_in(run: ScenarioRun, out_dir: Path) -> ScenarioRun:
    """``run`` with its log where it is published: ``out_dir/<scenario>/``."""
    if run.result is None:
        return run
    audit_path = out_dir / run.scenario.name / run.result.audit_path.name
    return replace(run, result=replace(run.result, audit_path=audit_path))


def _labelled(progress: Progress | None, name: str) -> OnProgress | None:
    if progress is None:
        return None

    def report(done: int, total: int) -> None:
        progress(name, done, total)

    return report


# --- whether a scenario can say anything ----------------------------------------------------


def skip_reason(
    strategy: Strategy, scenario: Scenario, store: SnapshotStore, config: Config
) -> str | None:
    """Why ``scenario`` says nothing about ``strategy`` on ``store`` (None: it runs): the data
    does not cover its window, or every one of its shocks touches nothing the strategy reads
    (some only: those are ``not_applied``, the scenario runs with the others)."""
    timeframe = candle_timeframe(strategy)
    for asset in strategy.assets:
        try:
            bars = load_bars(store, asset, timeframe, config.venues)
        except DataNotFound as exc:
            return f"{NOT_COVERED}: {exc}"
        if bars.first_close > scenario.start or bars.last_close < scenario.end:
            return (
                f"{NOT_COVERED}: the {bars.label} run from {_day(bars.first_close)} "
                f"to {_day(bars.last_close)}, the window is {_day(scenario.start)} to "
                f"{_day(scenario.end)}"
            )
    every = scenario.every or timedelta(seconds=timeframe)
    sessions = config.venues.in_sessions(strategy.assets)
    if sessions and not decision_times(scenario.start, scenario.end, every, sessions):
        return (
            f"{NOT_COVERED}: no US equity session opens from {_day(scenario.start)} to "
            f"{_day(scenario.end + every)}: {', '.join(strategy.assets)} cannot be traded in it"
        )
    missed = not_applied(strategy, scenario, store, config)
    if not missed or len(missed) < len(scenario.shocks):
        return None
    return f"{NOT_APPLICABLE}: " + "; ".join(n.reason for n in missed)


def not_applied(
    strategy: Strategy, scenario: Scenario, store: SnapshotStore, config: Config
) -> tuple[NotApplied, ...]:
    """The shocks of ``scenario`` that touch nothing ``strategy`` reads, each with why."""
    found = []
    for shock in scenario.shocks:
        reason = not_applicable(strategy, shock, store, config)
        if reason is not None:
            found.append(NotApplied(shock, reason))
    return tuple(found)


def not_applicable(
    strategy: Strategy, shock: Shock, store: SnapshotStore, config: Config
) -> str | None:
    """Why ``shock`` changes nothing ``strategy`` reads (None: it may)."""
    name = strategy.name
    if isinstance(shock, Gap):
        if shock.asset not in strategy.assets:
            return f"{name} does not trade {shock.asset} (it trades {', '.join(strategy.assets)})"
        if not candle_keys(store, shock.asset, config.venues):
            if config.venues.trades_outcome(shock.asset):
                return (
                    f"{shock.asset} is a Polymarket outcome, without candles to gap "
                    "(a prediction_jump shock moves its prices)"
                )
            return f"no recorded {shock.asset} candles to gap"
        return None
    if isinstance(shock, PredictionJump):
        # What the strategy reads first: a strategy on no market at all is not concerned by this
        # one whether or not the replay recorded it.
        reads = [r for r in _requests(strategy) if r.source == polymarket.SOURCE]
        if not reads:
            return f"{name} reads no {polymarket.SOURCE} data"
        market = market_key(store, shock.market)
        if market is None:
            return f"no recorded market '{shock.market}'"
        if polymarket.prices_key(market, shock.outcome) not in outcome_keys(store, market):
            return f"no recorded {shock.outcome} prices of market '{shock.market}'"
        read = {market_key(store, str(r.param_dict.get("market"))) for r in reads}
        return None if market in read else f"{name} reads no market '{shock.market}'"
    if isinstance(shock, Outage):
        sources = {r.source for r in _requests(strategy)}
        return None if shock.source in sources else f"{name} reads no {shock.source} data"
    return None  # a venue rejecting orders concerns every strategy


def _requests(strategy: Strategy) -> list[Request]:
    found: list[Request] = []
    for asset in strategy.assets:
        found.extend(strategy.requests(asset))
        found.extend(price_requests(asset))  # the gate's reference price: technical closes
    return found


# --- what the decisions came to -------------------------------------------------------------


def read_outcomes(audit_path: Path) -> tuple[Outcomes, list[CycleSummary]]:
    """A scenario's outcomes from its audit log, and each decision time's cycle summary."""
    tally = _Tally()
    log = AuditLog.open_readonly(audit_path)
    try:
        for stored in records_of_kind(log, "decision"):
            tally.add(expanded(stored, log))
    finally:
        log.close()
    return tally.outcomes(), tally.summaries()


class _Tally:
    """Counts over decision records (full shape: with their trace), in log order."""

    def __init__(self) -> None:
        self.verdicts: Counter[str] = Counter()
        self.denials: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.unknown: Counter[str] = Counter()
        self.filled = self.denied = self.rejected = self.with_unknown = self.sells_while_flat = 0
        self.closed: list[str] = []
        self.marked: list[Marked] = []
        self.cycles: dict[str, list[Outcome]] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        execution = record.get("execution") or {}
        status = execution.get("status", "")
        checks = (record.get("risk") or {}).get("checks") or []
        denials = [check["code"] for check in checks if not check["passed"]]
        trace = record.get("trace") or {}
        self.verdicts[record["verdict"]] += 1
        kinds = set()
        if status == ExecutionStatus.FILLED:
            self.filled += 1
            kinds.add(FILLED)
        if sell_while_flat(record["verdict"], denials):
            self.sells_while_flat += 1
        elif denials:
            self.denied += 1
            self.denials.update(denials)
            kinds.add(DENIED)
        if status == ExecutionStatus.FAILED:
            self.rejected += 1
            self.rejections[str((execution.get("details") or {}).get("reason", "FAILED"))] += 1
            kinds.add(REJECTED)
        if record["verdict"] == Verdict.BLOCKED:
            kinds.add(BLOCKED)
        reasons = _unknown_reasons(trace)
        if reasons:
            self.with_unknown += 1
            self.unknown.update(reasons)
        if failed_closed(record, trace):
            self.closed.append(record["decision_id"])
            kinds.add(FAILED_CLOSED)
        if kinds:
            moment = parse_time(record["as_of"])
            self.marked.append(Marked(moment, record["decision_id"], frozenset(kinds)))
        outcome = _outcome(record, status, denials, _source_errors(record))
        self.cycles.setdefault(record["as_of"], []).append(outcome)

    def outcomes(self) -> Outcomes:
        return Outcomes(
            decisions=sum(self.verdicts.values()),
            verdicts={v: self.verdicts[v] for v in Verdict if self.verdicts[v]},
            filled=self.filled,
            denied=self.denied,
            denials=_sorted(self.denials),
            rejected=self.rejected,
            rejections=_sorted(self.rejections),
            failed_closed=tuple(self.closed),
            with_unknown=self.with_unknown,
            unknown_leaves=_sorted(self.unknown),
            marked=tuple(self.marked),
            sells_while_flat=self.sells_while_flat,
        )

    def summaries(self) -> list[CycleSummary]:
        """One ``CycleSummary`` per decision time, as a run's cycle would have made it."""
        return [
            CycleSummary(parse_time(at), tuple(done), expired=0, reconciled=0, seconds=0.0)
            for at, done in self.cycles.items()
        ]


def sell_while_flat(verdict: str, denials: Sequence[str]) -> bool:
    """Whether a denied decision is a SELL with nothing to sell (NO_POSITION): an exit rule
    passing while nothing is held, as every flat day of a strategy whose exit holds does. No
    order would have traded whatever the gate said, so it is not the gate blocking a trade: the
    backtest's "BUYs denied" and a universe's denials leave it out alike."""
    return verdict == Verdict.SELL and Code.NO_POSITION in denials


def failed_closed(record: Mapping[str, Any], trace: Mapping[str, Any]) -> bool:
    """Whether missing data decided ``record``: a HOLD whose entry or exit rules were UNKNOWN,
    or a BLOCKED decision whose every blocking veto was UNKNOWN."""
    verdict = record["verdict"]
    if verdict == Verdict.BLOCKED:
        statuses = {veto["id"]: veto["status"] for veto in trace.get("vetoes", [])}
        blockers = record.get("blocked_by") or []
        return bool(blockers) and all(statuses.get(veto) == UNKNOWN for veto in blockers)
    if verdict == Verdict.HOLD:
        entry = (trace.get("entry") or {}).get("status")
        exit_ = (trace.get("exit") or {}).get("status")
        return UNKNOWN in (entry, exit_)
    return False


def _unknown_reasons(trace: Mapping[str, Any]) -> list[str]:
    """The reason of each UNKNOWN leaf: the code of the first error a source answered it with
    (``CONNECTION_ERROR``), else the evaluator's own (``STALE``, ``MISSING``)."""
    found = []
    for leaf in trace.get("leaves", []):
        if leaf.get("status") != UNKNOWN:
            continue
        codes = [_code_of(r.get("error")) for r in leaf.get("readings", [])]
        named = [code for code in codes if code is not None]
        found.append(named[0] if named else str(leaf.get("reason") or UNKNOWN))
    return found


def _code_of(error: Any) -> str | None:
    """``CONNECTION_ERROR`` of a reading's ``"CONNECTION_ERROR: message"``."""
    if not isinstance(error, str):
        return None
    code = error.split(":", 1)[0]
    return code if code in Code.__members__ else None


def _source_errors(record: Mapping[str, Any]) -> tuple[Code, ...]:
    """The reason of each metric a source could not answer (``Outcome.data_errors``)."""
    found = []
    for observation in record.get("observations") or []:
        error = observation.get("error") if isinstance(observation, dict) else None
        reason = error.get("reason") if isinstance(error, dict) else None
        if isinstance(reason, str) and reason in Code.__members__:
            found.append(Code(reason))
    return tuple(found)


def _outcome(
    record: Mapping[str, Any], status: str, denials: Sequence[str], errors: tuple[Code, ...]
) -> Outcome:
    return Outcome(
        decision_id=record["decision_id"],
        strategy=record["strategy"]["name"],
        asset=record["asset"],
        verdict=Verdict(record["verdict"]),
        status=ExecutionStatus(status) if status in ExecutionStatus.__members__ else _NOT,
        denials=tuple(Code(c) for c in denials if c in Code.__members__),
        data_errors=errors,
    )


_NOT = ExecutionStatus.NOT_EXECUTED


def _sorted(counts: Counter[str]) -> dict[str, int]:
    """Most frequent first, then by name."""
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# --- the breakers ---------------------------------------------------------------------------


def _breakers_set(limits: BreakersConfig) -> bool:
    return any(
        value is not None
        for value in (
            limits.max_drawdown,
            limits.max_consecutive_rejects,
            limits.max_outage_cycles,
        )
    )


def would_trip(
    cycles: Sequence[CycleSummary], result: BacktestResult, limits: BreakersConfig
) -> Breakers:
    """Where the configured breakers would have tripped on this run (the first trip), with the
    equity after each decision time marked as the backtest marks it."""
    if not _breakers_set(limits):
        return Breakers(configured=False)
    # Each decision time's point: the one at its period's end (the last period may be cut).
    equity = {t: point.equity for t, point in zip(result.times, result.equity[1:], strict=True)}
    state = breakers.BreakerState()
    for summary in cycles:
        state = breakers.observe(state, summary, equity.get(summary.as_of), limits)
        if state.tripped:
            return Breakers(True, True, state.trigger, state.tripped_at, state.message)
    return Breakers(configured=True)


def _day(moment: datetime) -> str:
    text = iso(moment) or ""
    return text[:10] if text.endswith("T00:00:00Z") else text[:16].replace("T", " ")


__all__ = [
    "NOT_APPLICABLE",
    "NOT_COVERED",
    "Breakers",
    "Marked",
    "NotApplied",
    "Outcomes",
    "ScenarioRun",
    "StressReport",
    "failed_closed",
    "not_applicable",
    "not_applied",
    "read_outcomes",
    "run_scenario",
    "run_stress",
    "sell_while_flat",
    "skip_reason",
    "would_trip",
]
