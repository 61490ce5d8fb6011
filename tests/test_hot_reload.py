"""Hot reload: a running loop takes changed strategy and config files at a cycle boundary.

Through the library's run loop on the replayed real data of March 2023: the strategy file (or
the config) is edited after the first cycle, as a trader would while ``run --every`` runs.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT

from signalops.audit.store import AuditLog
from signalops.pipeline.cycle import CycleSummary
from signalops.pipeline.loop import RunPlan, run_plan
from signalops.strategy import load

STRATEGY = ROOT / "tests/fixtures/banking_crisis_pipeline.yaml"
CONFIG = "breakers: {max_drawdown: 5%}\n"


def hash_of(path: Path) -> str:
    return load(path).content_hash


def replay(
    replay_dir: Path,
    tmp_path: Path,
    edit: tuple[str, str],
    last: int = 10,
    config_text: str = CONFIG,
) -> tuple[Path, list[str], Path]:
    """Daily cycles from 2023-03-08 to March ``last``; ``edit`` (file, new text) is written
    after the first.

    Returns the strategy file, the notices the run printed and the audit log.
    """
    tmp_path.mkdir(exist_ok=True)
    strategy = tmp_path / "dip.yaml"
    strategy.write_text(STRATEGY.read_text())
    config = tmp_path / "signalops.yaml"
    config.write_text(config_text)
    db = tmp_path / "audit.db"
    notices: list[str] = []
    cycles = 0

    def after(_summary: CycleSummary) -> None:
        nonlocal cycles
        cycles += 1
        if cycles == 1:
            file, text = edit
            (tmp_path / file).write_text(text)

    plan = RunPlan(
        strategies=(strategy,),
        replay=replay_dir,
        start=datetime(2023, 3, 8, tzinfo=UTC),
        end=datetime(2023, 3, last, tzinfo=UTC),
        every=timedelta(days=1),
        audit=db,
        config=config,
    )
    result = run_plan(plan, on_cycle=after, on_notice=notices.append)
    assert len(result.summaries) == last - 7
    return strategy, notices, db


def cited_hashes(db: Path) -> list[tuple[str, str]]:
    """(as_of, strategy hash) of each decision, in order."""
    log = AuditLog(db)
    try:
        return [
            (r["as_of"], r["strategy"]["hash"]) for r in log.records() if r["kind"] == "decision"
        ]
    finally:
        log.close()


def test_edited_threshold_is_picked_up_and_later_decisions_cite_the_new_hash(
    replay_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = hash_of(STRATEGY)
    edited = STRATEGY.read_text().replace("oversold: 35", "oversold: 40")
    caplog.set_level(logging.INFO, logger="signalops.pipeline")

    strategy, notices, db = replay(replay_dir, tmp_path, ("dip.yaml", edited))

    new = hash_of(strategy)
    assert new != old
    line = f"reloaded {strategy} ({old} -> {new})"
    assert notices == [line]
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if "reload" in r.getMessage()]
    assert logged == [("INFO", line)]
    assert cited_hashes(db) == [
        ("2023-03-08T00:00:00Z", old),
        ("2023-03-09T00:00:00Z", new),
        ("2023-03-10T00:00:00Z", new),
    ]
    log = AuditLog(db)
    try:  # the new version is stored, so its decisions can be replayed from the log alone
        assert log.strategy_document(new)["strategy"]["params"] == {"oversold": 40}
    finally:
        log.close()


def test_broken_edit_is_refused_with_a_warning_and_decisions_keep_the_old_hash(
    replay_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = hash_of(STRATEGY)
    broken = STRATEGY.read_text().replace('"rsi(14) < $oversold"', '"rsi(14) < < $oversold"')
    caplog.set_level(logging.INFO, logger="signalops.pipeline")

    strategy, notices, db = replay(replay_dir, tmp_path, ("dip.yaml", broken))

    assert len(notices) == 1
    assert notices[0].startswith(f"WARNING reload refused, keeping {old}: {strategy}:13:")
    assert "\n" not in notices[0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [notices[0].removeprefix("WARNING ")]
    assert [h for _, h in cited_hashes(db)] == [old, old, old]


def test_config_edit_that_validates_is_applied_and_one_needing_a_restart_is_refused(
    replay_dir: Path, tmp_path: Path
) -> None:
    # The dip buys BTC on 03-10 and is 0.06% under water on 03-11: only the new limit trips.
    tighter = ("signalops.yaml", "breakers: {max_drawdown: 0.05%}\n")
    _, applied, _ = replay(replay_dir, tmp_path / "a", tighter, last=11)
    assert len(applied) == 2
    assert applied[0].startswith(f"reloaded {tmp_path / 'a/signalops.yaml'} (sha256:")
    assert applied[1].startswith("HALTED by the max_drawdown breaker at 2023-03-11T00:00:00Z")

    _, refused, _ = replay(
        replay_dir, tmp_path / "b", ("signalops.yaml", CONFIG + "paper: {starting_cash: 5}\n")
    )
    assert len(refused) == 1
    assert refused[0].endswith(
        f"{tmp_path / 'b/signalops.yaml'}: paper changed: that takes a restart"
    )


def test_a_config_edit_that_would_lift_the_kill_switch_while_it_is_on_is_refused(
    replay_dir: Path, tmp_path: Path
) -> None:
    """Removing (or renaming) ``kill_switch:`` while its file was there printed "KILL SWITCH
    OFF (file None removed)" and orders went out again, the file still on disk."""
    tmp_path.mkdir(exist_ok=True)
    stop = tmp_path / "KILL"
    stop.touch()
    lifted = ("signalops.yaml", "breakers: {}\n")
    _, notices, _ = replay(replay_dir, tmp_path, lifted, config_text=f"kill_switch: {stop}\n")

    assert notices[0] == f"KILL SWITCH ON (file {stop}): orders are denied"
    assert len(notices) == 2
    assert notices[1].endswith(
        f"kill_switch changed while the kill switch is ON ({stop} is there): remove that file "
        "to lift it, then change the config"
    )
    assert not any("KILL SWITCH OFF" in notice for notice in notices)
