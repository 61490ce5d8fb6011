"""Sweeps, walk-forward and each-asset backtests on a real local Ray give what they give here.

One Ray for the session's Ray tests (``ray.init(num_cpus=2)``, no dashboard, bound to
127.0.0.1, no usage report), shut down after them. The commands run with ``--ray`` against it
and must print the very golden tables ``tests/test_walkforward.py`` holds the in-process runs
to; the library's rows must be equal value for value, with every parameter set its own task.
The market data goes into Ray's object store once: a counting executor sees one ``put``, and
every task item is a few kilobytes next to megabytes of snapshots.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import STRATEGIES, invoke
from test_walkforward import GOLDEN, GOLDEN_RUNS, golden_output

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.research.executors import LocalExecutor, RayExecutor, Shared
from signalops.research.sweeps import run_sweep
from signalops.research.walkforward import run_walkforward
from signalops.strategy import load

ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")

BASELINE = STRATEGIES / "technical_baseline.yaml"
FROM, TO = datetime(2021, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
GRID = {"oversold": [20, 25, 30, 35], "exit": [50, 55, 60]}
DAY = timedelta(days=1)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """A Ray of two CPUs on this machine, started once (every Ray test is in this module) and
    shut down after them, so the rest of the session does not carry its processes."""
    quiet = {"RAY_USAGE_STATS_ENABLED": "0"}
    before = {key: os.environ.get(key) for key in quiet}
    os.environ.update(quiet)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.WARNING,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield
    finally:
        ray.shutdown()
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class CountingRay(RayExecutor):
    """The Ray executor, counting what it puts into the object store."""

    def __init__(self) -> None:
        super().__init__()
        self.puts: list[int] = []
        self.largest_item = 0

    def put(self, value: Any) -> Shared[Any]:
        self.puts.append(len(pickle.dumps(value)))
        return super().put(value)

    def run(self, task: Any, shared: Shared[Any], items: Any) -> Any:
        sizes = [len(pickle.dumps(item)) for item in items]
        self.largest_item = max([self.largest_item, *sizes])
        return super().run(task, shared, items)


EXIT_PARAM = (
    BASELINE.read_text(encoding="utf-8")
    .replace("threshold: 55", "threshold: $exit")
    .replace("oversold: 30", "oversold: 30\n    exit: 55")
)


@pytest.fixture(scope="module")
def strategy(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("strategy") / "baseline_exit.yaml"
    path.write_text(EXIT_PARAM, encoding="utf-8")
    return load(path, registry.catalogue())


@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_the_commands_on_ray_print_the_local_golden_tables(
    name: str, replay_dir: Path, tmp_path: Path
):
    expected = (GOLDEN / name).read_text(encoding="utf-8")
    assert golden_output(name, replay_dir, tmp_path / "reports", "--ray") == expected


def test_a_sweep_of_one_set_per_task_equals_the_local_sweep(replay_dir: Path, strategy):
    common: dict[str, Any] = dict(
        grid=GRID,
        store=SnapshotStore(replay_dir),
        start=FROM,
        end=TO,
        assets=["BTC", "ETH"],
        fee_bps=10,
        slippage_bps=5,
    )
    here = run_sweep(strategy, executor=LocalExecutor(), **common)
    executor = CountingRay()
    there = run_sweep(strategy, executor=executor, chunk=1, **common)
    assert (here.tasks, there.tasks) == (2, 2 * 12)  # one task per parameter set x asset
    assert there.assets == here.assets  # every row, value for value, in grid order
    assert len({row.total_return for a in there.assets for row in a.rows}) > 12
    (packed,) = executor.puts  # the market data, once
    assert packed > 1_000_000 and executor.largest_item < 20_000


def test_a_walk_forward_on_ray_equals_the_local_one_and_puts_the_data_once(
    replay_dir: Path, strategy
):
    common: dict[str, Any] = dict(
        grid=GRID,
        store=SnapshotStore(replay_dir),
        start=FROM,
        end=TO,
        train=365 * DAY,
        test=180 * DAY,
        assets=["BTC", "ETH"],
        objective="calmar",
        fee_bps=10,
        slippage_bps=5,
    )
    here = run_walkforward(strategy, executor=LocalExecutor(), **common)
    executor = CountingRay()
    there = run_walkforward(strategy, executor=executor, chunk=5, **common)
    assert len(executor.puts) == 1 and executor.largest_item < 20_000
    assert there.tasks > here.tasks
    for mine, theirs in zip(here.assets, there.assets, strict=True):
        assert mine.stitched == theirs.stitched
        for a, b in zip(mine.windows, theirs.windows, strict=True):
            assert (a.window, a.params, a.in_sample, a.out_of_sample) == (
                b.window,
                b.params,
                b.in_sample,
                b.out_of_sample,
            )
            assert (a.in_sample_value, a.out_of_sample_value) == (
                b.in_sample_value,
                b.out_of_sample_value,
            )
            assert a.curve is not None and b.curve is not None
            assert a.curve.equity.tolist() == b.curve.equity.tolist()


def test_a_task_gets_the_stored_pack_from_its_reference(replay_dir: Path, strategy):
    from signalops.research.market import pack, sources_read
    from signalops.research.sweeps import share_market

    store = SnapshotStore(replay_dir)
    executor = CountingRay()
    shared = share_market(executor, store, [strategy])
    assert isinstance(shared.handle, ray.ObjectRef)
    # A lambda travels by value (a test module is not importable on the workers).
    digest = lambda market, item: f"{item}:{type(market).__name__}:{market.digest}"  # noqa: E731
    seen = list(executor.run(digest, shared, ["a", "b", "c"]))
    expected = pack(store, sources_read([strategy], store)).digest
    assert sorted(d.value for d in seen) == [f"{x}:PackedMarket:{expected}" for x in "abc"]


def test_a_failing_set_is_reported_with_its_parameters_and_the_sweep_goes_on(replay_dir: Path):
    result = invoke(
        "sweep", str(BASELINE), "--grid", "oversold=25,500,35", "--from", "2022-01-01",
        "--to", "2024-12-31", "--asset", "BTC", "--asset", "ETH", "--data", str(replay_dir),
        "--ray", "--chunk", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.count("fast screen") == 2  # both tables, of the sets that screened
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert [line.split(": ")[1] for line in failed] == ["BTC oversold=500", "ETH oversold=500"]
    assert "rsi(14) < 500 is always true" in failed[0]
    assert result.stderr.endswith("error: 2 of 6 combinations failed; the rest are shown above\n")


def test_a_task_that_raises_is_reported_with_its_item_and_the_others_finish(
    replay_dir: Path, tmp_path: Path
):
    result = invoke(
        "backtest", str(STRATEGIES / "banking_crisis_dip.yaml"), "--from", "2023-01-01",
        "--to", "2023-03-31", "--asset", "SOL", "--asset", "BTC", "--each-asset",
        "--data", str(replay_dir), "--report", str(tmp_path), "--ray",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout.splitlines()[3].startswith("BTC ")
    assert result.stderr.startswith("failed: SOL: no recorded 1d candles for SOL in ")


BLOCK_RAY = textwrap.dedent(
    """
    import importlib.abc, sys
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == "ray":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, Missing())
    sys.argv = ["signalops", *sys.argv[1:]]
    from signalops.cli.main import main
    main()
    """
)


def test_without_the_ray_extra_ray_is_a_one_line_error_naming_it(replay_dir: Path):
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_RAY, "sweep", str(BASELINE), "--grid", "oversold=30",
         "--from", "2022-01-01", "--to", "2022-12-31", "--data", str(replay_dir), "--ray"],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        "error: running on Ray (--ray) needs the 'ray' extra: pip install \"signalops[ray]\"\n"
    )
