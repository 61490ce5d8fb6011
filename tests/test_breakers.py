"""Circuit breakers: a drawdown, rejects in a row or an outage HALT trading until `resume`.

End to end through the CLI on the replayed real data of March 2023 (the banking-crisis dip buys
BTC on 2023-03-10; the next day it is below the fill) and on a live run with the network gone
(``test_run_data_errors.offline``). The counting rules are checked on ``observe`` directly.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import ROOT
from test_record import CRISIS_STRATEGY
from test_run_data_errors import lines_without_duration, offline

from signalops import breakers
from signalops.adapters.registry import Connections
from signalops.audit.schema import record_errors
from signalops.audit.store import AuditLog
from signalops.cli.main import cli
from signalops.cli.run import resume_command
from signalops.codes import Code
from signalops.config import BreakersConfig, loads_config
from signalops.errors import ConfigError, InputError
from signalops.evaluation.tree import Verdict
from signalops.orders import ExecutionStatus
from signalops.pipeline.summary import CycleSummary, Outcome

STRATEGY = "tests/fixtures/banking_crisis_pipeline.yaml"
AT = datetime(2023, 3, 11, tzinfo=UTC)
HALT_LINE = (
    "HALTED by the max_drawdown breaker at 2023-03-11T00:00:00Z: drawdown 0.06% from the peak "
    "equity 10,000.00 USDT (now 9,994.06 USDT) is beyond max_drawdown 0.05%; orders are denied "
    "until `signalops resume`"
)

if "resume" not in cli.commands:  # until signalops/cli/main.py registers it
    cli.add_command(resume_command)


def invoke(*args: str, connections: Connections | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=connections, prog_name="signalops")


def stdout_lines(result: Result) -> list[str]:
    """The summary lines without their durations; other lines (HALTED) as printed."""
    duration = r"  \[\d+\.\d\ds\]$"
    return [re.sub(duration, "", line) for line in result.stdout.splitlines()]


@pytest.fixture
def crisis(replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A run on replayed March 2023 with a 0.05% drawdown breaker; returns a run function."""
    monkeypatch.chdir(ROOT)
    config = tmp_path / "signalops.yaml"
    config.write_text("breakers: {max_drawdown: 0.05%}\n")
    db = tmp_path / "audit.db"

    def run(*dates: str) -> Result:
        span = ["--from", dates[0], *(["--to", dates[1]] if len(dates) > 1 else [])]
        return invoke(
            "run", STRATEGY, "--replay", str(replay_dir), *span, "--audit", str(db),
            "--config", str(config),
        )  # fmt: skip

    run.db = db  # type: ignore[attr-defined]
    run.config = config  # type: ignore[attr-defined]
    return run


def decision_at(db: Path, as_of: str) -> dict:
    (found,) = [
        r for r in AuditLog(db).records() if r["kind"] == "decision" and r["as_of"] == as_of
    ]
    return found


def failed_check(decision: dict) -> dict:
    (check,) = [c for c in decision["risk"]["checks"] if not c["passed"]]
    return check


# --- end to end ----------------------------------------------------------------------------------


def test_a_drawdown_beyond_the_limit_halts_and_later_orders_are_recorded_as_denied(crisis):
    result = crisis("2023-03-09", "2023-03-12")

    assert result.exit_code == 0, result.output
    assert stdout_lines(result) == [
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        HALT_LINE,
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
    ]
    assert re.fullmatch(
        r"\S+ WARNING signalops\.pipeline: trading HALTED by the max_drawdown breaker: drawdown "
        r"0\.06% from the peak equity 10,000\.00 USDT \(now 9,994\.06 USDT\) is beyond "
        r"max_drawdown 0\.05% "
        r"code=TRADING_STATE trigger=max_drawdown as_of=2023-03-11T00:00:00Z",
        result.stderr.strip(),
    ), result.stderr
    state = json.loads(breakers.state_path(crisis.db).read_text())
    assert (state["tripped"], state["trigger"], state["tripped_at"]) == (
        True,
        "max_drawdown",
        "2023-03-11T00:00:00Z",
    )
    assert [h["event"] for h in state["history"]] == ["trip"]


def test_a_restart_stays_halted_until_resume_and_then_trades_again(crisis):
    crisis("2023-03-09", "2023-03-12")

    restarted = crisis("2023-03-14")
    assert stdout_lines(restarted) == [
        HALT_LINE,
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 denied by risk)",
    ]
    denied = failed_check(decision_at(crisis.db, "2023-03-14T00:00:00Z"))
    assert (denied["code"], denied["details"]["limit"], denied["details"]["allowed"]) == (
        "TRADING_STATE",
        "HALTED",
        [],
    )

    resumed = invoke(
        "resume", "--audit", str(crisis.db), "--config", str(crisis.config), "--by", "alice",
        "--note", "checked the book", "--at", "2023-03-14T12:00:00Z",
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout == (
        "resumed: the max_drawdown breaker (drawdown 0.06% from the peak equity 10,000.00 USDT "
        "(now 9,994.06 USDT) is beyond max_drawdown 0.05%) cleared by alice\n"
    )

    after = crisis("2023-03-15")
    assert stdout_lines(after) == ["2023-03-15T00:00:00Z  1 decision: 1 SELL (1 filled)"]
    state = json.loads(breakers.state_path(crisis.db).read_text())
    assert state["history"][-1] == {
        "event": "resume",
        "by": "alice",
        "note": "checked the book",
        "at": "2023-03-14T12:00:00Z",
        "cleared": "max_drawdown",
    }
    assert (state["tripped"], state["revision"]) == (False, 1)


def breaker_records(db: Path) -> list[tuple[str, dict]]:
    return [(r["id"], r["breaker"]) for r in AuditLog(db).records() if r["kind"] == "breaker"]


def test_a_trip_and_its_resume_are_records_in_the_verified_chain(crisis):
    crisis("2023-03-09", "2023-03-12")
    invoke(
        "resume", "--audit", str(crisis.db), "--config", str(crisis.config), "--by", "alice",
        "--note", "checked the book", "--at", "2023-03-14T12:00:00Z",
    )  # fmt: skip

    assert breaker_records(crisis.db) == [
        (
            "breaker-0-trip",
            {
                "event": "trip",
                "trigger": "max_drawdown",
                "message": "drawdown 0.06% from the peak equity 10,000.00 USDT (now 9,994.06 "
                "USDT) is beyond max_drawdown 0.05%",
                "at": "2023-03-11T00:00:00Z",
            },
        ),
        (
            "breaker-0-resume",
            {
                "event": "resume",
                "by": "alice",
                "note": "checked the book",
                "at": "2023-03-14T12:00:00Z",
                "cleared": "max_drawdown",
            },
        ),
    ]
    assert all(not record_errors(r) for r in AuditLog(crisis.db).records())
    verified = invoke("audit", "verify", "--audit", str(crisis.db))
    assert verified.exit_code == 0, verified.output


def test_a_deleted_breaker_file_does_not_resume_trading_the_log_still_says_halted(crisis):
    crisis("2023-03-09", "2023-03-12")
    breakers.state_path(crisis.db).unlink()  # by accident, or to trade past the breaker

    restarted = crisis("2023-03-14")

    assert stdout_lines(restarted) == [
        HALT_LINE,
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 denied by risk)",
    ]
    resumed = invoke(
        "resume", "--audit", str(crisis.db), "--config", str(crisis.config), "--by", "bob",
        "--note", "file restored", "--at", "2023-03-14T12:00:00Z",
    )  # fmt: skip
    assert resumed.exit_code == 0, resumed.output
    assert stdout_lines(crisis("2023-03-15")) == [
        "2023-03-15T00:00:00Z  1 decision: 1 SELL (1 filled)"
    ]
    assert [i for i, _ in breaker_records(crisis.db)] == ["breaker-0-trip", "breaker-0-resume"]


def test_resume_with_no_breaker_tripped_is_an_error(crisis):
    crisis("2023-03-09")

    result = invoke("resume", "--audit", str(crisis.db), "--note", "why not")

    assert result.exit_code == 1
    assert result.stderr == ("error: no breaker is tripped: trading is not halted by a breaker\n")


def test_a_resume_dated_before_the_trip_is_refused_and_nothing_recorded(crisis):
    """Regression test: ``resume --at`` two days before the trip was accepted and recorded (the
    history said trip 03-11, resume 03-09), as an approval answered before its decision was."""
    crisis("2023-03-09", "2023-03-12")

    def resume(at: str) -> Result:
        return invoke(
            "resume", "--audit", str(crisis.db), "--config", str(crisis.config), "--by", "bob",
            "--note", "x", "--at", at,
        )  # fmt: skip

    result = resume("2023-03-09T00:00:00Z")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: cannot resume at 2023-03-09T00:00:00Z, before the max_drawdown breaker tripped "
        "(2023-03-11T00:00:00Z)\n"
    )
    assert [i for i, _ in breaker_records(crisis.db)] == ["breaker-0-trip"]
    state = json.loads(breakers.state_path(crisis.db).read_text())
    assert (state["tripped"], [h["event"] for h in state["history"]]) == (True, ["trip"])
    # At the trip's own time it resumes.
    assert resume("2023-03-11T00:00:00Z").exit_code == 0
    assert [i for i, _ in breaker_records(crisis.db)] == ["breaker-0-trip", "breaker-0-resume"]


def test_a_running_loop_says_once_when_a_resume_takes_effect(
    crisis, replay_dir: Path, caplog: pytest.LogCaptureFixture
):
    """Regression test: a run that printed HALTED said nothing when an operator resumed while
    it ran (the kill switch says ON and OFF). The resume is made between cycles, through the
    CLI, as an operator would while ``run --every`` runs."""
    from signalops.pipeline import loop

    printed: list[str] = []

    def after(summary: CycleSummary) -> None:
        printed.append(re.sub(r"  \[\d+\.\d\ds\]$", "", summary.line()))
        if summary.as_of.day == 12:
            resumed = invoke(
                "resume", "--audit", str(crisis.db), "--config", str(crisis.config), "--by",
                "bob", "--note", "checked", "--at", "2023-03-12T12:00:00Z",
            )  # fmt: skip
            assert resumed.exit_code == 0, resumed.output

    plan = loop.RunPlan(
        strategies=(Path(STRATEGY),),
        replay=replay_dir,
        start=datetime(2023, 3, 9, tzinfo=UTC),
        end=datetime(2023, 3, 14, tzinfo=UTC),
        every=timedelta(days=1),
        audit=crisis.db,
        config=crisis.config,
    )

    loop.run_plan(plan, on_cycle=after, on_notice=printed.append)

    resumed = "RESUMED by bob at 2023-03-12T12:00:00Z: checked; orders are allowed again"
    assert printed == [
        "2023-03-09T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)",
        "2023-03-11T00:00:00Z  1 decision: 1 BUY (1 denied by risk)",
        HALT_LINE,
        "2023-03-12T00:00:00Z  1 decision: 1 BLOCKED",
        resumed,
        "2023-03-13T00:00:00Z  1 decision: 1 HOLD",
        "2023-03-14T00:00:00Z  1 decision: 1 SELL (1 filled)",
    ]
    seen = [
        r for r in caplog.records if getattr(r, "signalops_event", None) == "breaker_resume_seen"
    ]
    assert [(r.levelname, r.getMessage()) for r in seen] == [("WARNING", resumed)]


def test_an_approval_while_halted_is_denied_by_the_trading_state(
    replay_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(ROOT)
    db = tmp_path / "audit.db"
    made = invoke(
        "run", STRATEGY, "--mode", "notify", "--replay", str(replay_dir), "--from",
        "2023-03-10", "--audit", str(db),
    )  # fmt: skip
    assert "1 awaiting approval" in made.stdout
    tripped = breakers.BreakerState(tripped=True, trigger="max_drawdown", message="test")
    breakers.save(breakers.state_path(db), tripped)
    approval_id = invoke("approvals", "--at", "2023-03-10T00:01:00Z", "--audit", str(db))
    approval_id_text = approval_id.stdout.split()[0]

    result = invoke(
        "approve", approval_id_text, "--replay", str(replay_dir), "--at",
        "2023-03-10T00:05:00Z", "--audit", str(db), "--by", "alice",
    )  # fmt: skip

    assert result.exit_code == 1
    assert result.stdout == f"{approval_id_text}: RECHECK_FAILED — re-check failed: TRADING_STATE\n"


def test_sources_unreachable_for_n_cycles_halt_across_restarts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "crisis.yaml").write_text(CRISIS_STRATEGY)
    (tmp_path / "signalops.yaml").write_text("breakers: {max_outage_cycles: 2}\n")

    def once(hour: int) -> Result:
        at = datetime(2023, 3, 11, hour, tzinfo=UTC)
        connections = replace(offline(), now=lambda: at)
        return invoke("run", "crisis.yaml", "--once", "--audit", "live.db", connections=connections)

    first, second, third = once(12), once(13), once(14)

    warning = "  WARNING data errors: CONNECTION_ERROR x6"
    assert lines_without_duration(first.stdout) == [
        f"2023-03-11T12:00:00Z  1 decision: 1 HOLD{warning}"
    ]
    assert stdout_lines(second) == [
        f"2023-03-11T13:00:00Z  1 decision: 1 HOLD{warning}",
        "HALTED by the max_outage_cycles breaker at 2023-03-11T13:00:00Z: 2 cycles in a row with "
        "sources unreachable; orders are denied until `signalops resume`",
    ]
    assert stdout_lines(third)[0].startswith("HALTED by the max_outage_cycles breaker")
    assert breakers.load(tmp_path / "live.db.breaker.json").outage_cycles == 3


def test_breakers_config_reads_percentages_and_fractions_and_refuses_nonsense():
    assert loads_config("breakers: {max_drawdown: 10%}").breakers.max_drawdown == Decimal("0.1")
    config = loads_config("breakers: {max_drawdown: 0.2, max_consecutive_rejects: 3}")
    assert config.breakers == BreakersConfig(Decimal("0.2"), 3, None)
    assert not loads_config("risk: {max_position: 0.1}").breakers.any
    with pytest.raises(ConfigError):
        loads_config("breakers: {max_drawdown: 150%}")
    with pytest.raises(ConfigError):
        loads_config("breakers: {max_outage_cycles: 0}")


# --- counting ------------------------------------------------------------------------------------


def outcome(status: ExecutionStatus, errors: tuple[Code, ...] = (), skipped: bool = False):
    return Outcome("dec-1", "S", "BTC", Verdict.BUY, status, data_errors=errors, skipped=skipped)


def cycle(*outcomes: Outcome) -> CycleSummary:
    return CycleSummary(AT, tuple(outcomes), 0, 0, 0.0)


REJECTS = BreakersConfig(max_consecutive_rejects=3)


def test_three_failed_orders_in_a_row_trip_and_a_fill_in_between_resets_the_count():
    state = breakers.BreakerState()
    state = breakers.observe(state, cycle(outcome(ExecutionStatus.FAILED)), None, REJECTS)
    state = breakers.observe(state, cycle(outcome(ExecutionStatus.FAILED)), None, REJECTS)
    reset = breakers.observe(state, cycle(outcome(ExecutionStatus.FILLED)), None, REJECTS)
    assert (state.consecutive_rejects, reset.consecutive_rejects) == (2, 0)

    hold = cycle(outcome(ExecutionStatus.NOT_EXECUTED))
    tripped = breakers.observe(
        breakers.observe(state, hold, None, REJECTS),
        cycle(outcome(ExecutionStatus.FAILED)),
        None,
        REJECTS,
    )
    assert (tripped.tripped, tripped.trigger, tripped.message) == (
        True,
        "max_consecutive_rejects",
        "3 orders in a row failed or were rejected",
    )


def test_no_data_is_not_an_outage_and_a_cycle_of_skipped_decisions_changes_nothing():
    limits = BreakersConfig(max_outage_cycles=1)
    no_data = cycle(outcome(ExecutionStatus.NOT_EXECUTED, (Code.NO_DATA,)))
    assert breakers.observe(breakers.BreakerState(), no_data, None, limits).outage_cycles == 0
    skipped = cycle(outcome(ExecutionStatus.NOT_EXECUTED, (Code.TIMEOUT,), skipped=True))
    state = breakers.BreakerState(outage_cycles=4)
    assert breakers.observe(state, skipped, None, BreakersConfig()).outage_cycles == 4


def test_the_drawdown_is_measured_from_the_highest_equity_seen():
    limits = BreakersConfig(max_drawdown=Decimal("0.10"))
    hold = cycle(outcome(ExecutionStatus.NOT_EXECUTED))
    state = breakers.BreakerState()
    for equity in ("10000", "12000", "10900"):
        state = breakers.observe(state, hold, Decimal(equity), limits, "USDT")
    assert (state.peak_equity, state.tripped) == (Decimal("12000"), False)
    state = breakers.observe(state, hold, Decimal("10700"), limits, "USDT")
    assert state.tripped
    assert state.message == (
        "drawdown 10.83% from the peak equity 12,000.00 USDT (now 10,700.00 USDT) is beyond "
        "max_drawdown 10%"
    )


def test_a_tripped_breaker_keeps_counting_but_only_resume_clears_it():
    limits = BreakersConfig(max_consecutive_rejects=1)
    state = breakers.observe(
        breakers.BreakerState(), cycle(outcome(ExecutionStatus.FAILED)), None, limits
    )
    after = breakers.observe(state, cycle(outcome(ExecutionStatus.FILLED)), None, limits)
    assert after.tripped and after.consecutive_rejects == 0
    resumed = breakers.resume(after, by="bob", note="ok", at=AT)
    assert (resumed.tripped, resumed.revision, len(resumed.history)) == (False, 1, 2)
    with pytest.raises(InputError):
        breakers.resume(resumed, by="bob", note="again", at=AT)


def test_the_loop_never_overwrites_a_resume_written_during_its_cycle(tmp_path: Path):
    path = tmp_path / "audit.db.breaker.json"
    tripped = breakers.BreakerState(tripped=True, trigger="max_outage_cycles", message="x")
    breakers.save(path, tripped)
    read_by_loop = breakers.load(path)
    breakers.save(path, breakers.resume(tripped, by="alice", note="ok", at=AT))

    log = AuditLog.open(tmp_path / "audit.db", create=True)

    kept = breakers.save_unless_resumed(path, replace(read_by_loop, outage_cycles=9), log)

    assert (kept.tripped, breakers.load(path).tripped) == (False, False)
    log.close()


def test_an_unreadable_breaker_file_is_an_error_not_a_silent_reset(tmp_path: Path):
    path = tmp_path / "audit.db.breaker.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="unreadable breaker state"):
        breakers.load(path)
