"""Shared fixtures: the bundled real data imported once into a replay snapshot store."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from signalops.adapters import registry
from signalops.adapters.bundled import import_bundled
from signalops.adapters.snapshots import SnapshotStore

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
