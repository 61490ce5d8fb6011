"""The prepared audit log the dashboard tests look at, made by real runs on replayed real data.

- a paper run of ``tests/fixtures/banking_crisis_pipeline.yaml`` over 2023-03-08..16: HOLDs, a
  BTC BUY that fills, a BUY denied by the cooldown, a BUY BLOCKED by the USDC veto, a SELL that
  fills and SELLs denied (nothing left to sell);
- a notify run of ``fixtures/eth_crisis_pipeline.yaml`` at 2023-03-10: an ETH BUY awaiting
  approval, expiring at 00:15.

The dashboard's clock is fixed at 00:05 that day (``SIGNALOPS_NOW``) and approvals re-check on
the same replay (``SIGNALOPS_REPLAY``), so the re-check sees the data the decision saw.

Not a conftest.py: the top-level ``tests/conftest.py`` is imported by name (``from conftest
import ROOT``) and a second one would shadow it. Test modules import these fixtures.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from signalops.audit.store import AuditLog
from signalops.cli import cli
from signalops.dashboard.accounts import MIN_ITERATIONS, hash_password
from signalops.dashboard.api import parse_time
from signalops.dashboard.verification import verifier_for

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "signalops" / "dashboard" / "app.py"
PAPER_STRATEGY = ROOT / "tests" / "fixtures" / "banking_crisis_pipeline.yaml"
NOTIFY_STRATEGY = Path(__file__).resolve().parent / "fixtures" / "eth_crisis_pipeline.yaml"
NOW = "2023-03-10T00:05:00Z"
PASSWORD = "correct horse battery staple"
OPERATORS = ("alice", "carol")  # both with PASSWORD (the cheapest hash the config accepts)
PASSWORD_HASH = hash_password(PASSWORD, iterations=MIN_ITERATIONS, salt=b"dashboard-tests!")
OPERATORS_YAML = "dashboard:\n  operators:\n" + "".join(
    f'    {name}: {{password_hash: "{PASSWORD_HASH}"}}\n' for name in OPERATORS
)
BROKEN_STRATEGY = """\
strategy:
  name: "Broken"
  assets: ["BTC"]
  rules:
    - id: typo
      source: technical
      conditions:
        - when: "rsi(14) < 30"
          treshold: 3
"""


def settle(audit: Path) -> None:
    """Until the background verification of ``audit`` ends (pages never wait for it)."""
    verifier_for(audit).wait(timeout=60)


def run_cli(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="session")
def prepared_template(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit log described above, made once per session (tests copy it)."""
    db = tmp_path_factory.mktemp("dashboard-log") / "audit.db"
    paper = run_cli(
        "run", str(PAPER_STRATEGY), "--mode", "paper", "--replay", str(replay_dir),
        "--from", "2023-03-08", "--to", "2023-03-16", "--audit", str(db),
    )  # fmt: skip
    assert "2023-03-10T00:00:00Z  1 decision: 1 BUY (1 filled)" in paper.stdout
    assert notify_before_the_end(db, replay_dir) == "1 decision: 1 BUY (1 awaiting approval)"
    return db


def notify_before_the_end(db: Path, replay_dir: Path) -> str:
    """The notify run at 2023-03-10 into ``db``, built as ``signalops run`` builds it; its cycle
    line. The dashboard's clock is fixed inside the paper run (03-10 00:05, the approval still
    open), so this run comes after that run's later decisions, which ``run --replay`` refuses
    (its gate takes them as made already): the log is made as before that refusal."""
    from datetime import timedelta

    from signalops.orders import Mode
    from signalops.pipeline.loop import ReplayClock, run
    from signalops.workspace import build_pipeline, load_strategies, open_workspace

    strategies = load_strategies([NOTIFY_STRATEGY])
    start = parse_time("2023-03-10T00:00:00Z")
    clock = ReplayClock(start, start, timedelta(days=1))
    workspace = open_workspace(audit=db, trades=[a for s in strategies for a in s.assets])
    try:
        pipeline = build_pipeline(
            workspace, strategies, mode=Mode.NOTIFY, replay=replay_dir, clock=clock
        )
        (summary,) = run(pipeline, clock.times())
    finally:
        workspace.close()
    return summary.line().split("  ", 1)[1].split("  [")[0]


def copy_log(source: Path, target: Path) -> Path:
    """A consistent copy of a SQLite file in WAL mode (a plain file copy could miss the WAL)."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return target


@pytest.fixture
def audit_db(prepared_template: Path, tmp_path: Path) -> Path:
    return copy_log(prepared_template, tmp_path / "audit.db")


@pytest.fixture
def pending(audit_db: Path) -> tuple[str, str]:
    """(approval id, decision id) of the ETH BUY waiting in the prepared log."""
    with AuditLog(audit_db) as log:
        (item,) = log.pending_approvals(parse_time(NOW))
    assert item.approval_id is not None
    return item.approval_id, item.decision_id


@pytest.fixture
def strategies_dir(tmp_path: Path) -> Path:
    """The example strategies plus one broken file (for the validation status)."""
    folder = tmp_path / "strategies"
    shutil.copytree(ROOT / "strategies", folder)
    (folder / "zz_broken.yaml").write_text(BROKEN_STRATEGY, encoding="utf-8")
    return folder


@pytest.fixture
def dashboard_env(
    monkeypatch: pytest.MonkeyPatch,
    audit_db: Path,
    replay_dir: Path,
    strategies_dir: Path,
    tmp_path: Path,
) -> dict[str, str]:
    """The environment ``signalops dashboard`` would give the app, for the prepared log, with
    a config holding the operator accounts."""
    config = tmp_path / "signalops.yaml"
    config.write_text(OPERATORS_YAML, encoding="utf-8")
    env = {
        "SIGNALOPS_AUDIT": str(audit_db),
        "SIGNALOPS_REPLAY": str(replay_dir),
        "SIGNALOPS_NOW": NOW,
        "SIGNALOPS_STRATEGIES": str(strategies_dir),
        "SIGNALOPS_REPORTS": str(tmp_path / "reports"),
        "SIGNALOPS_CONFIG": str(config),
    }
    for name in ("SIGNALOPS_DASHBOARD_PASSWORD", "SIGNALOPS_DASHBOARD_REFRESH"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # No ./signalops.yaml may leak in from wherever pytest was started.
    monkeypatch.chdir(tmp_path)
    return env
