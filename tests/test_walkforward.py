"""``signalops walkforward``, sweeps over several assets and ``backtest --each-asset``, in this
process (``tests/test_ray_executor.py`` runs the same on Ray).

A walk-forward is sweeps composed: on each training window the grid is screened and the best set
by the objective chosen, and that set alone is screened on the test window. The tests hold it to
exactly that, against ``sweep()`` on the same windows of the bundled Binance data, and the
stitched record to the test windows' returns chained. The command's tables are golden files
(``tests/golden/*.txt``, byte for byte).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import STRATEGIES, invoke

from signalops.adapters import registry
from signalops.adapters.snapshots import SnapshotStore
from signalops.backtest.metrics import WinRate
from signalops.backtest.sweep import SweepRow, decision_times, sweep
from signalops.errors import InputError
from signalops.research.executors import LocalExecutor
from signalops.research.sweeps import run_sweep
from signalops.research.tasks import Settings
from signalops.research.walkforward import (
    OBJECTIVES,
    Span,
    choose,
    run_walkforward,
    windows,
)
from signalops.strategy import load

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
BASELINE = STRATEGIES / "technical_baseline.yaml"
DAY = timedelta(days=1)
FROM, TO = datetime(2022, 1, 1, tzinfo=UTC), datetime(2024, 12, 31, tzinfo=UTC)
GRID = {"oversold": [20, 25, 30, 35]}
ONE_YEAR, TWO_YEARS = Span(1.0, 365 * DAY), Span(2.0, 730 * DAY)

# The command lines the golden files hold (``--data`` is added: the session's import).
WALK_ROLLING = [
    "walkforward", str(BASELINE), "--grid", "oversold=20,25,30,35",
    "--from", "2022-01-01", "--to", "2024-12-31", "--train", "365d", "--test", "180d",
]  # fmt: skip
WALK_ANCHORED = [
    "walkforward", str(BASELINE), "--grid", "oversold=25,30,35",
    "--from", "2021-01-01", "--to", "2024-12-31", "--train", "365d", "--test", "365d",
    "--anchored", "--objective", "return", "--asset", "BTC", "--asset", "ETH",
]  # fmt: skip
SWEEP_TWO = [
    "sweep", str(BASELINE), "--grid", "oversold=25,30,35",
    "--from", "2022-01-01", "--to", "2024-12-31", "--asset", "BTC", "--asset", "ETH",
]  # fmt: skip
EACH_ASSET = [
    "backtest", str(STRATEGIES / "banking_crisis_dip.yaml"), "--from", "2023-01-01",
    "--to", "2023-06-30", "--asset", "BTC", "--asset", "ETH", "--each-asset",
]  # fmt: skip
GOLDEN_RUNS = {
    "walkforward_rolling_BTC.txt": WALK_ROLLING,
    "walkforward_anchored_return_BTC_ETH.txt": WALK_ANCHORED,
    "sweep_BTC_ETH.txt": SWEEP_TWO,
    "backtest_each_asset.txt": EACH_ASSET,
}


def golden_output(name: str, replay_dir: Path, report: Path, *extra: str) -> str:
    """The command's stdout, with the report folder named as the golden file names it."""
    args = [*GOLDEN_RUNS[name], "--data", str(replay_dir)]
    if "--each-asset" in args:
        args += ["--report", str(report)]
    result = invoke(*args, *extra)
    assert result.exit_code == 0, result.stderr
    return result.stdout.replace(str(report.resolve()), "<report>").replace(str(report), "<report>")


# --- windows -------------------------------------------------------------------------------------


def test_rolling_windows_follow_each_other_and_train_on_the_period_just_before():
    found = windows(FROM, TO, train=365 * DAY, test=180 * DAY, step=DAY)
    assert [(w.train_start.date(), w.test_start.date(), w.test_end.date()) for w in found] == [
        (datetime(2022, 1, 1).date(), datetime(2023, 1, 1).date(), datetime(2023, 6, 30).date()),
        (datetime(2022, 6, 30).date(), datetime(2023, 6, 30).date(), datetime(2023, 12, 27).date()),
        (
            datetime(2022, 12, 27).date(),
            datetime(2023, 12, 27).date(),
            datetime(2024, 6, 24).date(),
        ),
        (datetime(2023, 6, 25).date(), datetime(2024, 6, 24).date(), datetime(2024, 12, 21).date()),
    ]
    for w in found:
        train, test = decision_times(*w.train, DAY), decision_times(*w.test, DAY)
        assert len(train) == 365 and len(test) == 180
        assert train[-1] + DAY.total_seconds() == test[0]  # no decision time in both, no gap
    # A fifth would end on 2025-06-19, past --to.
    assert found[-1].test[1] <= TO + DAY


def test_anchored_windows_all_train_from_the_start():
    found = windows(FROM, TO, train=365 * DAY, test=180 * DAY, step=DAY, anchored=True)
    assert {w.train_start for w in found} == {FROM}
    assert [w.test_start for w in found] == [
        w.test_start for w in windows(FROM, TO, train=365 * DAY, test=180 * DAY, step=DAY)
    ]


def test_a_window_that_does_not_fit_or_holds_no_decision_is_an_input_error():
    with pytest.raises(InputError, match=r"no walk-forward window fits in 2022-01-01 \.\. 2022-12"):
        windows(FROM, datetime(2022, 12, 31, tzinfo=UTC), train=365 * DAY, test=DAY, step=DAY)
    with pytest.raises(InputError, match="must each hold at least one decision every 1d"):
        windows(FROM, TO, train=365 * DAY, test=timedelta(hours=12), step=DAY)


# --- choosing ------------------------------------------------------------------------------------


def row(total_return: float, sharpe: float | None, max_drawdown: float = -0.1) -> SweepRow:
    return SweepRow({}, total_return, max_drawdown, sharpe, WinRate.of(0, 0), 0.0, 0, 0.0, False)


def test_the_best_objective_wins_ties_go_to_the_grid_order_and_undefined_never_wins():
    sharpe = OBJECTIVES["sharpe"]
    rows = {0: row(0.1, None), 1: row(0.2, 1.5), 2: row(0.9, 1.5), 3: row(0.3, 0.2)}
    assert choose(rows, sharpe, ONE_YEAR) == 1
    assert choose({0: row(0.1, None), 1: row(0.2, math.nan)}, sharpe, ONE_YEAR) is None
    assert choose(rows, OBJECTIVES["return"], ONE_YEAR) == 2
    # Calmar: the annual rate over the drawdown's depth; a gain without any drawdown beats them
    # all (the higher rate first), while a flat or losing set is never chosen.
    calmar = {0: row(0.2, 1.0, -0.4), 1: row(0.1, 1.0, -0.1), 2: row(0.0, 1.0, 0.0)}
    assert choose(calmar, OBJECTIVES["calmar"], TWO_YEARS) == 1
    calmar |= {3: row(0.05, 1.0, 0.0), 4: row(0.3, 1.0, 0.0)}
    assert choose(calmar, OBJECTIVES["calmar"], TWO_YEARS) == 4
    assert OBJECTIVES["calmar"].value(calmar[4], TWO_YEARS) is None  # shown as "—": undefined
    assert OBJECTIVES["return"].value(row(0.21, None), TWO_YEARS) == pytest.approx(0.1)
    assert OBJECTIVES["return"].value(row(-1.0, None), TWO_YEARS) is None


# --- a walk is sweeps composed ------------------------------------------------------------------


@pytest.fixture(scope="module")
def walk(replay_dir: Path):
    return run_walkforward(
        load(BASELINE, registry.catalogue()),
        grid=GRID,
        store=SnapshotStore(replay_dir),
        start=FROM,
        end=TO,
        train=365 * DAY,
        test=180 * DAY,
        executor=LocalExecutor(),
        fee_bps=10,
        slippage_bps=5,
    )


def test_each_window_chooses_the_sweeps_best_in_sample_and_screens_it_out_of_sample(
    walk, replay_dir: Path
):
    store = SnapshotStore(replay_dir)
    text = BASELINE.read_text(encoding="utf-8")
    (btc,) = walk.assets
    assert len(btc.windows) == 4
    for result in btc.windows:
        trained = sweep(text, grid=GRID, store=store, start=result.window.train[0],
                        end=result.window.train[1], fee_bps=10, slippage_bps=5)  # fmt: skip
        best = max(
            (r for r in trained if r.sharpe is not None), key=lambda r: r.sharpe or -math.inf
        )
        assert result.params == best.params
        assert result.in_sample == best.row()
        (tested,) = sweep(text, grid={"oversold": [best.params["oversold"]]}, store=store,
                          start=result.window.test[0], end=result.window.test[1],
                          fee_bps=10, slippage_bps=5)  # fmt: skip
        assert result.out_of_sample == tested.row()
        assert result.curve is not None
        assert result.curve.equity.tolist() == tested.equity.tolist()


def test_the_stitched_record_chains_the_test_windows(walk):
    (btc,) = walk.assets
    growth = math.prod(1 + w.out_of_sample.total_return for w in btc.windows)
    stitched = btc.stitched.row
    assert stitched.total_return == pytest.approx(growth - 1, rel=1e-12)
    assert stitched.closed_trades == sum(w.out_of_sample.closed_trades for w in btc.windows)
    assert btc.stitched.periods == sum(w.periods for w in btc.windows) == 4 * 180
    assert stitched.max_drawdown <= min(w.out_of_sample.max_drawdown for w in btc.windows)


def test_stability_counts_each_chosen_value_and_the_changes(walk):
    (btc,) = walk.assets
    chosen = [w.params["oversold"] for w in btc.windows]
    counts = btc.stability()["oversold"]
    assert sum(n for _, n in counts) == 4
    assert dict(counts) == {v: chosen.count(v) for v in chosen}
    assert [n for _, n in counts] == sorted((n for _, n in counts), reverse=True)
    assert btc.changes == sum(1 for a, b in pairwise(chosen) if a != b)
    inside, outside = btc.degradation()
    both = [w for w in btc.windows if w.out_of_sample_value is not None]
    assert inside == pytest.approx(sum(w.in_sample_value for w in both) / len(both))
    assert outside == pytest.approx(sum(w.out_of_sample_value for w in both) / len(both))


def test_a_multi_asset_sweep_gives_each_asset_the_single_asset_sweeps_rows(replay_dir: Path):
    store = SnapshotStore(replay_dir)
    report = run_sweep(load(BASELINE, registry.catalogue()), grid=GRID, store=store,
                       start=FROM, end=TO, executor=LocalExecutor(), assets=["BTC", "ETH"],
                       fee_bps=10, slippage_bps=5, chunk=3)  # fmt: skip
    assert report.tasks == 4  # two chunks of the four sets, for each asset
    for swept in report.assets:
        alone = sweep(
            BASELINE.read_text(encoding="utf-8"),
            grid=GRID,
            store=store,
            asset=swept.asset,
            start=FROM,
            end=TO,
            fee_bps=10,
            slippage_bps=5,
        )
        assert list(swept.rows) == [r.row() for r in alone]


# --- the commands --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN_RUNS))
def test_the_commands_print_their_golden_tables(name: str, replay_dir: Path, tmp_path: Path):
    assert golden_output(name, replay_dir, tmp_path / "reports") == (GOLDEN / name).read_text(
        encoding="utf-8"
    )


def test_each_asset_writes_its_audit_log_and_metrics_into_its_own_folder(
    replay_dir: Path, tmp_path: Path
):
    golden_output("backtest_each_asset.txt", replay_dir, tmp_path)
    for asset in ("BTC", "ETH"):
        assert (tmp_path / asset / "backtest.db").is_file()
        assert '"assets": [\n    "' + asset in (tmp_path / asset / "metrics.json").read_text()


def test_an_in_sample_sharpe_that_rounds_to_nothing_reads_0_00_not_minus_0_00(replay_dir: Path):
    """The dip strategy's best training Sharpe from 2023-03-22 was a hair below zero: the
    table said 'IS Sharpe -0.00', a sign on no digit."""
    result = invoke(
        "walkforward", str(STRATEGIES / "banking_crisis_dip.yaml"), "--grid", "oversold=25,30,35",
        "--from", "2023-03-22", "--to", "2023-12-16", "--train", "180d", "--test", "90d",
        "--data", str(replay_dir),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[3] == (
        "1          2023-03-22 .. 2023-09-17   2023-09-18 .. 2023-12-16         25        0.00"
        "            —   +0.00%    0.00%        0          —       0.0%"
    )


def test_a_bad_value_is_left_out_of_every_window_and_the_rest_is_shown(replay_dir: Path):
    result = invoke(
        "walkforward", str(BASELINE), "--grid", "oversold=30,500", "--from", "2022-01-01",
        "--to", "2024-12-31", "--train", "365d", "--test", "180d", "--data", str(replay_dir),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "stitched" in result.stdout  # the table of what could be screened
    failed = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1  # oversold=500, once: it fails alike in every window
    assert (
        failed[0].startswith("failed: oversold=500: ")
        and "rsi(14) < 500 is always true" in failed[0]
    )
    assert result.stderr.splitlines()[-1] == (
        "error: 1 of 2 combinations failed and was left out of every window; the rest are "
        "shown above"
    )


def test_an_asset_without_data_fails_alone_in_each_asset_backtests(
    replay_dir: Path, tmp_path: Path
):
    result = invoke(*EACH_ASSET, "--asset", "SOL", "--data", str(replay_dir),
                    "--report", str(tmp_path))  # fmt: skip
    assert result.exit_code == 1
    assert [line.split()[0] for line in result.stdout.splitlines()[3:5]] == ["BTC", "ETH"]
    assert result.stderr.startswith(
        "failed: SOL: no recorded 1d candles for SOL in "
    ) and result.stderr.endswith("error: 1 of 3 assets failed; the rest are shown above\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--train", "1095d", "--test", "365d"],
            "error: no walk-forward window fits in 2022-01-01 ..",
        ),
        (["--train", "365d", "--test", "soon"], "error: --test: 'soon' is not a duration"),
        (["--train", "365d", "--test", "365d", "--grid", "nope=1"], "unknown parameter 'nope'"),
    ],
)
def test_walkforward_input_errors_are_one_line(replay_dir: Path, args: list[str], message: str):
    grid = [] if "--grid" in args else ["--grid", "oversold=30"]
    result = invoke("walkforward", str(BASELINE), *grid, "--from", "2022-01-01",
                    "--to", "2024-12-31", "--data", str(replay_dir), *args)  # fmt: skip
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_ray_without_each_asset_is_refused_before_anything_runs(replay_dir: Path):
    result = invoke(*EACH_ASSET[:-1], "--ray", "--data", str(replay_dir))
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --ray runs one task per asset: add --each-asset (several assets in one "
        "portfolio share one book, so they run as one backtest)\n"
    )


def test_walkforward_help_teaches_with_an_example():
    result = invoke("walkforward", "--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "signalops walkforward strategies/technical_baseline.yaml --grid" in text
    for option in ("--train", "--test", "--anchored", "--objective", "--ray", "--chunk"):
        assert option in text


def test_the_readme_shows_the_walk_forward_as_the_command_prints_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert (GOLDEN / "walkforward_rolling_BTC.txt").read_text(encoding="utf-8") in readme


def test_a_stocks_walk_forward_counts_its_sessions_and_annualises_by_them(replay_dir: Path):
    equities = ROOT / "examples" / "signalops.equities.yaml"
    aapl = ROOT / "tests" / "fixtures" / "aapl_trend.yaml"
    walked = run_walkforward(
        load(aapl, registry.catalogue()),
        grid={"fast": [10, 20]},
        store=SnapshotStore(replay_dir),
        start=datetime(2021, 1, 1, tzinfo=UTC),
        end=datetime(2023, 12, 31, tzinfo=UTC),
        train=365 * DAY,
        test=180 * DAY,
        executor=LocalExecutor(),
        fee_bps=10,
        slippage_bps=5,
        settings=Settings.read(equities),
    )
    (stock,) = walked.assets
    prices = ROOT / "examples" / "data" / "equities" / "prices" / "daily" / "AAPL.csv"
    dates = [line.split(",", 1)[0] for line in prices.read_text("utf-8").splitlines()[1:]]
    for result in stock.windows:
        first, last = (moment.date().isoformat() for moment in result.window.test)
        # One decision (00:00 UTC of its date) before each session of the price file.
        assert result.periods == len([day for day in dates if first <= day <= last])
        assert result.curve is None or len(result.curve.equity) == result.periods
    stitched = stock.stitched
    assert stitched.periods == sum(w.periods for w in stock.windows)
    assert stitched.years == stitched.periods / 252
