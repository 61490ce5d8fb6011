"""What ``signalops stress`` prints: one row per scenario, then what the columns mean.

Money and percentages are formatted as the backtest's table formats them
(``signalops.backtest.report``); nothing here decides anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from signalops.cli import output
from signalops.numbers import money

if TYPE_CHECKING:
    from signalops.stress.scenario_backtests import ScenarioRun, StressReport

COLUMNS = (
    "scenario",
    "window",
    "PnL",
    "return",
    "max DD",
    "decisions",
    "filled",
    "risk denied",
    "venue rejected",
    "failed closed",
    "breakers",
)
DASH = "—"


def stress(report: StressReport) -> None:
    """The table, the skipped scenarios with their reasons, and where the audit logs are."""
    out = output.console()
    ran = [run for run in report.runs if run.result is not None]
    skipped = [run for run in report.runs if run.result is None]
    heading = f"{report.strategy.name} · stress · {output.count(len(ran), 'scenario')} run"
    if skipped:
        heading += f", {len(skipped)} skipped"
    if ran:
        first = ran[0].result
        assert first is not None
        heading += f" · starting cash {money(first.paper.starting_cash, report.quote)} each"
    out.print(Text(heading, style="bold"))
    if ran:
        output.plain_table(_columns(report.quote), [_row(run) for run in ran], left=2)
    for run in skipped:
        out.print(Text(f"skipped {run.scenario.name}: ", style="yellow") + Text(str(run.skipped)))
    for line in _notes(report, ran):
        out.print(line)


def _columns(quote: str | None) -> tuple[str, ...]:
    """The table's headings, the money's currency named when the assets' venues share one."""
    return tuple(f"PnL ({quote})" if c == "PnL" and quote else c for c in COLUMNS)


def _row(run: ScenarioRun) -> list[str]:
    from signalops.backtest.report import day, pct

    result, outcomes = run.result, run.outcomes
    assert result is not None and outcomes is not None and run.pnl is not None
    metrics = result.metrics
    return [
        run.scenario.name,
        f"{day(run.scenario.start)} → {day(run.scenario.end)}",
        f"{run.pnl:+,.2f}",
        pct(metrics.total_return, signed=True),
        pct(metrics.drawdown.depth),
        str(outcomes.decisions),
        str(outcomes.filled),
        _by_code(outcomes.denied, outcomes.denials),
        _by_code(outcomes.rejected, outcomes.rejections),
        str(len(outcomes.failed_closed)),
        _breakers(run),
    ]


def _by_code(total: int, codes: Mapping[str, int]) -> str:
    """``17 NO_POSITION``; ``3 (NO_POSITION 2, COOLDOWN 1)`` when several codes share the total:
    the orders, then by check in brackets (an order may fail several checks, so one denied
    order failing two reads ``1 (COOLDOWN 1, MAX_POSITION 1)``, not as two denials)."""
    if not total:
        return "0"
    if len(codes) == 1 and next(iter(codes.values())) == total:
        return f"{total} {next(iter(codes))}"
    return f"{total} (" + ", ".join(f"{code} {n}" for code, n in codes.items()) + ")"


def _breakers(run: ScenarioRun) -> str:
    from signalops.backtest.ledger import parse_time
    from signalops.backtest.report import day

    found = run.breakers
    if not found.configured:
        return "n/a"
    if not found.tripped or found.at is None:
        return "would not trip"
    return f"would trip: {found.trigger} {day(parse_time(found.at))}"


def _notes(report: StressReport, ran: Sequence[ScenarioRun]) -> list[str | Text]:
    if not ran:
        return []
    outcomes = any(
        bars.points for run in ran if run.result is not None for bars in run.result.prices.values()
    )
    marked = "the last close or recorded price" if outcomes else "the last close"
    lines: list[str | Text] = [
        f"PnL: end equity (positions marked at {marked}) minus the starting cash; risk "
        "denied: orders the risk gate denied, by failed check (an order may fail several; not "
        "SELLs with nothing to sell: exit rules passing while flat); venue rejected: orders the "
        "venue refused, by code",
        "failed closed: decisions that missing data decided (a HOLD whose entry or exit rules "
        "were UNKNOWN, a BLOCKED decision whose every blocking veto was UNKNOWN)",
    ]
    if report.breakers_configured:
        lines.append(
            "breakers: backtests do not run them (they halt 'signalops run' between cycles); "
            "shown is where the configured ones would have tripped, the run going on as it was"
        )
    else:
        lines.append(
            "breakers: n/a: backtests do not run them (they halt 'signalops run' between "
            "cycles) and the config sets none"
        )
    for run in ran:
        name = run.scenario.name
        lines.extend(f"shock {name}: {shock.describe()}" for shock in run.applied)
        lines.extend(
            Text(f"shock {name} not applied: ", style="yellow")
            + Text(f"{n.shock.describe()}: {n.reason}")
            for n in run.not_applied
        )
    lines.append(f"audit logs: {report.out_dir}/<scenario>/backtest.db")
    for run in ran:
        assert run.result is not None
        decision = run.example()
        if decision is not None:
            lines.append(
                f"why {run.scenario.name}: signalops why {decision} --audit {run.result.audit_path}"
            )
    return lines


__all__ = ["stress"]
