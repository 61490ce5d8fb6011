"""Shared fixtures: the bundled real data imported once into a replay snapshot store."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signalops.adapters import registry
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import SnapshotStore
from signalops.pipeline import loop
from signalops.workspace import build_pipeline, load_strategies, open_workspace

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"
STRATEGIES = ROOT / "strategies"


def invoke(*args: str) -> Result:
    """``signalops ARGS`` in process, stdout and stderr kept apart (as a terminal shows them)."""
    from signalops.cli import cli

    try:
        runner = CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        runner = CliRunner()
    return runner.invoke(cli, list(args), prog_name="signalops")


@pytest.fixture(scope="session")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``signalops data import`` of the bundled data, done once per test session."""
    out = tmp_path_factory.mktemp("replay")
    import_bundled(DATA, out)
    return out


@pytest.fixture(scope="session")
def replay_store(replay_dir: Path) -> SnapshotStore:
    return SnapshotStore(replay_dir)


@pytest.fixture(scope="session")
def replay_adapters(replay_store: SnapshotStore) -> dict:
    return registry.replay_adapters(replay_store)


def cycle_between_checks(db: Path, replay_dir: Path, strategy: str, day: datetime) -> str:
    """The line of a run's cycle at ``day`` on a ledger forged since the run last checked the
    log (``signalops run`` refuses to start on a ledger that does not verify)."""
    workspace = open_workspace(audit=db, create=True)
    try:
        clock = loop.ReplayClock(day, day, timedelta(days=1))
        strategies = load_strategies([Path(strategy)])
        pipeline = build_pipeline(workspace, strategies, replay=replay_dir, clock=clock)
        (summary,) = loop.run(pipeline, clock.times())
    finally:
        workspace.close()
    return summary.line().split("  [")[0]


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder, and none of the environment that would change what the CLI
    reads or how it prints (a test file may define its own ``in_tmp`` that also writes files)."""
    for name in ("SIGNALOPS_AUDIT", "SIGNALOPS_CONFIG", "NO_COLOR", "FORCE_COLOR", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
