"""Shared fixtures: the bundled real data imported once into a replay snapshot store."""

from __future__ import annotations

import shutil
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


# A coin quoted in USD beside the stocks, for one paper account holds one currency: BTC on a
# Kraken venue in USD, its candles the bundled Binance BTC/USDT ones (``usd_coin_dir``), for
# tests of a stock and a coin in one book (sessions, fills), not of BTC's price.
USD_COIN_VENUE = "kraken: {exchange: kraken, quote: USD}"


def with_usd_coin(config: str) -> str:
    """``config`` (with ``venues:`` and ``assets:`` sections) with BTC on ``USD_COIN_VENUE``."""
    return config.replace("venues:\n", f"venues:\n  {USD_COIN_VENUE}\n", 1).replace(
        "assets:\n", "assets:\n  BTC: {venue: kraken}\n", 1
    )


@pytest.fixture(scope="session")
def usd_coin_dir(replay_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``replay_dir``'s candles, with BTC's also as Kraken's BTC/USD (``with_usd_coin``)."""
    out = tmp_path_factory.mktemp("usd-coin")
    shutil.copy(replay_dir / "technical.jsonl", out / "technical.jsonl")
    store = SnapshotStore(out)
    prefix = "candles/binance/BTC/USDT/"
    points = [
        (f"candles/kraken/BTC/USD/{key.removeprefix(prefix)}", t, value)
        for key in store.keys("technical")
        if key.startswith(prefix)
        for series in [store.series("technical", key)]
        if series is not None
        for t, value in zip(series.times, series.values, strict=True)
    ]
    store.append("technical", points)
    return out


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
