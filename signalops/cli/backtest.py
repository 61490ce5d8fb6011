"""Backtests through the live pipeline, the fast parameter sweep and walk-forward.

``sweep``, ``walkforward`` and ``backtest --each-asset`` cut their work into tasks
(``signalops.research``): in this process by default, on a Ray cluster with ``--ray``. The
tables are the same either way. Their tables are drawn here (``output`` draws the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.text import Text

from signalops.cli import output
from signalops.cli.params import (
    CONFIG_OPTION,
    DATA_OPTION,
    VENUE_OPTION,
    default_config,
    folder_name,
    period_interval,
    period_time,
    snapshots,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.backtest.comparison import Study
    from signalops.backtest.metrics import ExtendedMetrics
    from signalops.backtest.sweep import SweepRow
    from signalops.backtest.universe import Breakdown
    from signalops.research.assets import EachAsset
    from signalops.research.executors import Executor
    from signalops.research.tasks import Failed
    from signalops.research.walkforward import AssetWalk, WalkForward

RAY_OPTION = click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Run the tasks on Ray: alone, a Ray started here on every core; 'auto', the cluster "
    "running on this machine; or a cluster's address (ray://HOST:10001). Default: in this "
    "process. Needs the 'ray' extra. Give it after STRATEGY (or as --ray=ADDRESS).",
)
CHUNK_OPTION = click.option(
    "--chunk",
    type=click.IntRange(min=1),
    metavar="N",
    help="Parameter sets per task. Default: all of an asset's in this process; on Ray, about "
    "4 tasks per worker.",
)


@click.command("backtest")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--from", "start", required=True, help="First decision time (e.g. 2023-03-01).")
@click.option("--to", "end", required=True, help="Last decision time, included.")
@DATA_OPTION
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Folder for the report and audit logs. Default: reports/<strategy name>.",
)
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@click.option(
    "--asset", "assets", multiple=True, help="Only this asset (repeatable). Default: all."
)
@click.option(
    "--universe",
    "universe_spec",
    metavar="FILE|LIST",
    help="Run over these assets instead of the strategy's, in one book (shared cash): a comma "
    "list (AAPL,MSFT,JPM) or a file: CSV with an asset (or ticker) column and an optional "
    "sector column, YAML (a list, or asset: sector), or one asset a line. Its sectors join the "
    "config's sectors: for the risk gate's max_sector.",
)
@click.option(
    "--horizon",
    default="72h",
    show_default=True,
    help="How long a blocked trade is played out for the filter accounting.",
)
@click.option("--no-baseline", is_flag=True, help="Skip the run with the vetoes removed.")
@click.option(
    "--benchmark",
    metavar="ASSET",
    help="Also show buy-and-hold of this asset (e.g. GSPC, the S&P 500 in the equities config), "
    "read from the same replay data.",
)
@click.option(
    "--each-asset",
    is_flag=True,
    help="Backtest each asset on its own (its own cash and book), one task per asset, into "
    "<report>/<asset>/, and print one row per asset.",
)
@RAY_OPTION
@CONFIG_OPTION
@VENUE_OPTION
def backtest_command(
    strategy: Path,
    start: str,
    end: str,
    data_dir: Path,
    report_dir: Path | None,
    every: str | None,
    assets: tuple[str, ...],
    universe_spec: str | None,
    horizon: str,
    no_baseline: bool,
    benchmark: str | None,
    each_asset: bool,
    ray_address: str | None,
    config_file: Path | None,
    venue: str | None,
) -> None:
    """Backtest a strategy on replayed history through the live pipeline, with a report.

    Each decision time from --from to --to runs the same evaluate -> risk gate -> paper
    execution -> audit path as 'signalops run'; orders fill at the next bar's open with the
    configured fee and slippage. Prints the strategy next to the same strategy with its vetoes
    removed and to buy-and-hold (of its assets, and of --benchmark), says what the blocked
    trades would have done, and writes metrics.json, trades.csv, report.html (with charts) and
    the audit logs. Below that: each asset's part of the portfolio (when there are several),
    alpha, beta, tracking error and information ratio against --benchmark (else against
    buy-and-hold of the assets), trade statistics, VaR/CVaR and a table of monthly returns.

    \b
    Example:
      signalops data import
      signalops backtest tests/fixtures/banking_crisis_pipeline.yaml \\
          --from 2023-03-01 --to 2023-03-31
      signalops backtest strategies/graham_value_event_filter.yaml \\
          --config examples/signalops.equities.yaml --from 2019-01-01 --to 2023-12-31 \\
          --benchmark GSPC

    With --universe one strategy runs over many assets sharing one cash balance, under the
    config's per-asset (max_position) and per-sector (max_sector) limits:

    \b
      signalops backtest strategies/banking_crisis_dip.yaml --universe BTC,ETH \\
          --from 2021-01-01 --to 2024-12-31
      signalops backtest strategies/graham_value_event_filter.yaml \\
          --config examples/signalops.equities.yaml \\
          --universe examples/data/equities/universe.csv \\
          --from 2019-01-01 --to 2023-12-31 --benchmark GSPC

    With --each-asset every asset is backtested alone, one task per asset (no baseline or
    HTML report: each asset's folder gets its audit log and metrics.json), on Ray with --ray:

    \b
      signalops backtest strategies/graham_value_event_filter.yaml \\
          --config examples/signalops.equities.yaml --from 2019-01-01 --to 2023-12-31 \\
          --each-asset --ray
    """
    # Imported here: the backtest package (and its report's plotly) is only needed by this
    # command, so other commands start as fast as before.
    from signalops.backtest.study import run_study
    from signalops.catalogue import installed
    from signalops.config import load_config
    from signalops.strategy import load
    from signalops.workspace import with_venue

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    span = period_interval("--horizon", horizon)
    if ray_address is not None and not each_asset:
        raise InputError(
            "--ray runs one task per asset: add --each-asset (several assets in one "
            "portfolio share one book, so they run as one backtest)"
        )
    if each_asset and benchmark is not None:
        raise InputError("--benchmark is shown beside one backtest: drop it or --each-asset")
    universe = None
    if universe_spec is not None:
        from signalops.backtest.universe import read_universe

        if assets:
            raise InputError("--universe and --asset both name the assets: give one of them")
        universe = read_universe(universe_spec)
    compiled = load(strategy, installed.catalogue())
    settings = with_venue(load_config(config_file or default_config()), venue)
    store = snapshots(data_dir)
    out_dir = report_dir or Path("reports") / folder_name(compiled.name)
    if each_asset:
        from signalops.research.assets import run_each_asset
        from signalops.research.tasks import Settings

        text = strategy.read_text(encoding="utf-8")
        with _executor(ray_address) as executor, _progress() as progress:
            runs = run_each_asset(
                compiled,
                text,
                store=store,
                start=first,
                end=last,
                out_dir=out_dir,
                executor=executor,
                assets=(universe.assets if universe is not None else assets) or None,
                every=interval,
                horizon=span or timedelta(hours=72),
                settings=Settings.read(config_file or default_config(), venue),
                progress=progress,
            )
        _each_asset_table(runs)
        _failures(runs.failed, len(runs.runs) + len(runs.failed), "asset")
        return
    with output.progress(output.console(stderr=True)) as progress:
        study = run_study(
            compiled,
            store=store,
            start=first,
            end=last,
            out_dir=out_dir,
            every=interval,
            assets=assets or None,
            config=settings,
            horizon=span or timedelta(hours=72),
            baseline=not no_baseline,
            progress=progress,
            benchmark=benchmark,
            universe=universe,
        )
    output.backtest(study, out_dir)
    _portfolio(study)


@click.command("sweep")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2,...",
    help="A strategy param and the values to try (repeatable). Values read like thresholds: "
    "30, 5%, 1.5k, -1B.",
)
@click.option("--from", "start", required=True, help="First decision time (e.g. 2022-01-01).")
@click.option("--to", "end", required=True, help="Last decision time, included.")
@click.option(
    "--asset",
    "assets",
    multiple=True,
    help="Asset to screen (repeatable: a table each). Default: the strategy's first.",
)
@DATA_OPTION
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@RAY_OPTION
@CHUNK_OPTION
@CONFIG_OPTION
def sweep_command(
    strategy: Path,
    grid_specs: tuple[str, ...],
    start: str,
    end: str,
    assets: tuple[str, ...],
    data_dir: Path,
    every: str | None,
    ray_address: str | None,
    chunk: int | None,
    config_file: Path | None,
) -> None:
    """Screen a grid of parameter values with the vectorised evaluator, best return first.

    Every combination of the --grid values replaces the strategy's params, is compiled again and
    evaluated over all decision times at once; a long-only, all-in position then buys on BUY and
    sells on SELL at the next bar's open, with the config's fee and slippage. A fast screen: no
    risk gate, sizing, confirmations or audit log, so its numbers are not the backtest's.

    The work is one task per parameter set and asset (in chunks): in this process, or on a Ray
    cluster with --ray, with the same table. A combination that fails is listed with its
    parameters after the table (exit status 1); the others are shown.

    \b
    Example:
      signalops sweep strategies/technical_baseline.yaml --grid oversold=25,30,35 \\
          --from 2022-01-01 --to 2024-12-31
      signalops sweep strategies/technical_baseline.yaml --grid oversold=20,25,30,35 \\
          --from 2020-01-01 --to 2024-12-31 --asset BTC --asset ETH --ray
    """
    # Imported here: numpy, TA-Lib and the compiler are only needed by this command.
    from signalops.backtest.sweep import describe_period, parse_grid
    from signalops.catalogue import installed
    from signalops.config import load_config
    from signalops.research.sweeps import run_sweep
    from signalops.research.tasks import Settings
    from signalops.strategy import load

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    grid = parse_grid(grid_specs)
    compiled = load(strategy, installed.catalogue())
    settings = load_config(config_file or default_config())
    paper = settings.paper
    with _executor(ray_address) as executor, _progress() as progress:
        report = run_sweep(
            compiled,
            grid=grid,
            store=snapshots(data_dir),
            start=first,
            end=last,
            executor=executor,
            assets=assets or None,
            every=interval,
            fee_bps=paper.fee_bps,
            slippage_bps=paper.slippage_bps,
            settings=Settings.read(config_file or default_config()),
            chunk=chunk,
            progress=progress,
        )
    for i, swept in enumerate(report.assets):
        if i:
            output.console().print()
        rows = sorted(swept.rows, key=lambda row: row.total_return, reverse=True)
        heading = (
            f"{compiled.name} · {swept.asset} · "
            f"{describe_period(report.start, report.end, report.step)} · "
            f"{output.count(report.combinations, 'combination')} · "
            f"fee {paper.fee_bps} bps, slippage {paper.slippage_bps} bps"
        )
        output.sweep(heading, grid, rows)
    _failures(report.failed, report.combinations * len(report.assets), "combination")


@click.command("walkforward")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    required=True,
    metavar="NAME=V1,V2,...",
    help="A strategy param and the values to try (repeatable), as for 'signalops sweep'.",
)
@click.option("--from", "start", required=True, help="Start of the first training window.")
@click.option("--to", "end", required=True, help="Last decision time a test window may have.")
@click.option(
    "--train",
    required=True,
    metavar="DURATION",
    help="Length of a training (in-sample) window, e.g. 365d or 52w.",
)
@click.option(
    "--test",
    required=True,
    metavar="DURATION",
    help="Length of a test (out-of-sample) window, e.g. 90d; windows advance by it.",
)
@click.option(
    "--anchored",
    is_flag=True,
    help="Every training window starts at --from (it grows). Default: rolling, the --train "
    "before each test window.",
)
@click.option(
    "--objective",
    type=click.Choice(["sharpe", "return", "calmar"]),
    default="sharpe",
    show_default=True,
    help="What the best parameter set maximises in-sample: Sharpe ratio; return (as an annual "
    "rate); or Calmar (annual rate over max drawdown).",
)
@click.option(
    "--asset",
    "assets",
    multiple=True,
    help="Asset to walk (repeatable: a table each). Default: the strategy's first.",
)
@DATA_OPTION
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@RAY_OPTION
@CHUNK_OPTION
@CONFIG_OPTION
def walkforward_command(
    strategy: Path,
    grid_specs: tuple[str, ...],
    start: str,
    end: str,
    train: str,
    test: str,
    anchored: bool,
    objective: str,
    assets: tuple[str, ...],
    data_dir: Path,
    every: str | None,
    ray_address: str | None,
    chunk: int | None,
    config_file: Path | None,
) -> None:
    """Walk-forward: pick params on each training window, judge them on the window after it.

    The first test window starts --train after --from; each next one starts where the last
    ended. On each training window the whole --grid is screened (the fast screen of 'signalops
    sweep') and the set with the best --objective is chosen (ties: the first in grid order);
    that set alone is then screened on the test window, which starts flat with the starting
    cash. The table shows each window's chosen set, its objective in-sample (IS) and
    out-of-sample (OOS) and the test window's metrics; 'stitched' chains the test windows into
    one out-of-sample record. Below it: how often each value was chosen, how often the chosen
    set changed, and how much of the in-sample objective survived out-of-sample.

    \b
    Example: a year to choose the RSI entry, the next quarter to judge it, 2020 to 2024:
      signalops walkforward strategies/technical_baseline.yaml --grid oversold=20,25,30,35 \\
          --from 2020-01-01 --to 2024-12-31 --train 365d --test 90d
    The same, training on all history so far, choosing by return, on BTC and ETH, on Ray:
      signalops walkforward strategies/technical_baseline.yaml --grid oversold=20,25,30,35 \\
          --from 2020-01-01 --to 2024-12-31 --train 365d --test 90d --anchored \\
          --objective return --asset BTC --asset ETH --ray
    """
    from signalops.backtest.sweep import parse_grid
    from signalops.catalogue import installed
    from signalops.config import load_config
    from signalops.research.tasks import Settings
    from signalops.research.walkforward import run_walkforward
    from signalops.strategy import load

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    train_span = period_interval("--train", train)
    test_span = period_interval("--test", test)
    assert train_span is not None and test_span is not None
    grid = parse_grid(grid_specs)
    compiled = load(strategy, installed.catalogue())
    settings = load_config(config_file or default_config())
    paper = settings.paper
    with _executor(ray_address) as executor, _progress() as progress:
        walk = run_walkforward(
            compiled,
            grid=grid,
            store=snapshots(data_dir),
            start=first,
            end=last,
            train=train_span,
            test=test_span,
            executor=executor,
            assets=assets or None,
            anchored=anchored,
            objective=objective,
            every=interval,
            fee_bps=paper.fee_bps,
            slippage_bps=paper.slippage_bps,
            settings=Settings.read(config_file or default_config()),
            chunk=chunk,
            progress=progress,
        )
    fees = f"fee {paper.fee_bps} bps, slippage {paper.slippage_bps} bps"
    for i, asset in enumerate(walk.assets):
        if i:
            output.console().print()
        _walk_table(walk, asset, fees)
    sets = walk.combinations * len(walk.assets) * len(walk.assets[0].windows)
    _failures(walk.failed, sets, "in-sample or out-of-sample screen")


# --- running tasks ---------------------------------------------------------------------------


class _executor:
    """``with _executor(address) as executor``: in this process, or on Ray (closed after)."""

    def __init__(self, ray_address: str | None) -> None:
        self.address = ray_address

    def __enter__(self) -> Executor:
        from signalops.research.executors import connect

        self.executor = connect(self.address)
        return self.executor

    def __exit__(self, *exc: object) -> None:
        self.executor.close()


def _progress() -> Any:
    """A bar of tasks done on stderr (on a terminal; nothing when piped)."""
    return output.progress(output.console(stderr=True))


def _failures(failed: Sequence[Failed], total: int, what: str) -> None:
    """Each failed task on stderr with what it was; exit status 1 when there is one."""
    if not failed:
        return
    err = output.console(stderr=True)
    shown: dict[str, int] = {}  # error -> lines printed with it
    for item in failed:
        seen = shown.get(item.error, 0)
        shown[item.error] = seen + 1
        if seen < _SAME_ERROR_SHOWN:
            err.print(Text("failed: ", style="bold red") + Text(f"{item.what}: {item.error}"))
    for error, times in shown.items():
        if times > _SAME_ERROR_SHOWN:
            more = times - _SAME_ERROR_SHOWN
            err.print(Text(f"failed: {more} more with the same error: {error}"))
    output.fail(f"{len(failed)} of {output.count(total, what)} failed; the rest are shown above")


# A whole task that fails (no data for a window) fails each of its parameter sets alike.
_SAME_ERROR_SHOWN = 3


# --- tables --------------------------------------------------------------------------------------


def _percent(value: float | None, sign: bool = True) -> str:
    if value is None:
        return "—"
    return f"{value:+.2%}" if sign else f"{value:.2%}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _trades(row: SweepRow) -> str:
    return str(row.closed_trades) + (" +1 open" if row.open_trade else "")


def _win_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def _days(first: datetime, last: datetime) -> str:
    return f"{first:%Y-%m-%d} .. {last:%Y-%m-%d}"


def _objective_cell(name: str, value: float | None) -> str:
    return _percent(value) if name == "return" else _ratio(value)


def _walk_table(walk: WalkForward, asset: AssetWalk, fees: str) -> None:
    from signalops.backtest.sweep import format_value
    from signalops.catalogue.spec import format_duration

    names = list(walk.grid)
    goal = walk.objective
    windows = asset.windows
    tested = (windows[0].window.test[0], windows[-1].window.test[1])
    kind = "anchored" if walk.anchored else "rolling"
    heading = (
        f"{walk.strategy} · {asset.asset} · walk-forward, {kind}: train "
        f"{format_duration(walk.train.total_seconds())}, test "
        f"{format_duration(walk.test.total_seconds())} · "
        f"{output.count(len(windows), 'window')} tested {_days(*tested)} every "
        f"{format_duration(walk.step.total_seconds())} · "
        f"{output.count(walk.combinations, 'combination')} · objective {goal.title} · {fees}"
    )
    output.console().print(Text(heading, style="bold"))
    columns = [
        "window",
        "in-sample",
        "out-of-sample",
        *names,
        f"IS {goal.title}",
        f"OOS {goal.title}",
        *_metric_columns(goal.name),
    ]
    rows = []
    for result in windows:
        w, oos = result.window, result.out_of_sample
        chosen = result.params or {}
        rows.append(
            [
                str(w.number),
                _days(*w.train),
                _days(*w.test),
                *(format_value(chosen[n]) if n in chosen else "—" for n in names),
                _objective_cell(goal.name, result.in_sample_value),
                _objective_cell(goal.name, result.out_of_sample_value),
                *(_metrics(oos, goal.name) if oos is not None else _cash_cells(goal.name)),
            ]
        )
    stitched = asset.stitched
    rows.append(
        [
            "stitched",
            "",
            _days(*tested),
            *("" for _ in names),
            "",
            _objective_cell(goal.name, goal.value(stitched.row, stitched.years)),
            *_metrics(stitched.row, goal.name),
        ]
    )
    output.plain_table(columns, rows, left=3)
    out = output.console()
    for line in _walk_lines(walk, asset):
        out.print(line)


def _metric_columns(objective: str) -> list[str]:
    """The test window's metrics (its Sharpe only when it is not the objective already)."""
    sharpe = [] if objective == "sharpe" else ["Sharpe"]
    return ["return", "max DD", *sharpe, "trades", "win rate", "exposure"]


def _metrics(row: SweepRow, objective: str) -> list[str]:
    sharpe = [] if objective == "sharpe" else [_ratio(row.sharpe)]
    return [
        _percent(row.total_return),
        _percent(row.max_drawdown, sign=False),
        *sharpe,
        _trades(row),
        _win_rate(row.win_rate.rate),
        f"{row.exposure:.1%}",
    ]


def _cash_cells(objective: str) -> list[str]:
    """A window whose test was not screened (no set chosen, or it failed): cash."""
    return ["cash", *("" for _ in _metric_columns(objective)[1:])]


def _walk_lines(walk: WalkForward, asset: AssetWalk) -> list[str]:
    from signalops.backtest.sweep import format_value

    windows = len(asset.windows)
    chosen = asset.chosen
    lines = []
    for name, counts in asset.stability().items():
        (top, most), rest = counts[0], counts[1:]
        parts = [f"{format_value(top)} in {most} of {windows} windows ({most / windows:.0%})"]
        parts += [f"{format_value(value)} in {n} ({n / windows:.0%})" for value, n in rest]
        lines.append(f"{name} chosen: {', '.join(parts)}")
    if len(chosen) > 1:
        lines.append(
            f"the chosen set changed {output.count(asset.changes, 'time')} in "
            f"{len(chosen) - 1} steps"
        )
    if len(chosen) < windows:
        lines.append(
            f"{output.count(windows - len(chosen), 'window')} without a choice "
            f"(no set has a {walk.objective.title} in-sample) held cash"
        )
    lines.append(_degradation(walk, asset))
    lines.append(
        "each test window starts flat with the starting cash; stitched chains them; "
        "fast screen: no risk gate or sizing; confirm with signalops backtest"
    )
    return lines


def _degradation(walk: WalkForward, asset: AssetWalk) -> str:
    goal = walk.objective
    both = sum(
        1
        for w in asset.windows
        if w.in_sample_value is not None and w.out_of_sample_value is not None
    )
    inside, outside = asset.degradation()
    if inside is None or outside is None:
        return f"in-sample vs out-of-sample {goal.title}: no window has both"
    ratio = f", out/in {outside / inside:.0%}" if inside > 0 else ""
    return (
        f"in-sample → out-of-sample {goal.title} (mean of the "
        f"{output.count(both, 'window')} with both): {_objective_cell(goal.name, inside)} → "
        f"{_objective_cell(goal.name, outside)}{ratio}"
    )


def _each_asset_table(runs: EachAsset) -> None:
    if not runs.runs:
        return
    first = runs.runs[0].summary
    every = first["every"]
    out = output.console()
    out.print(
        Text(
            f"{runs.strategy} · each asset on its own · {runs.start:%Y-%m-%d} → "
            f"{runs.end:%Y-%m-%d} · {output.count(first['periods'], 'period')} of {every}",
            style="bold",
        )
    )
    columns = [
        "asset",
        "return",
        "CAGR",
        "max DD",
        "Sharpe",
        "trades",
        "win rate",
        "exposure",
        "blocked",
        "buy & hold",
    ]
    rows = []
    for run in runs.runs:
        metrics = run.summary["metrics"]
        held = run.buy_and_hold
        trades = str(metrics["trades"]) + (
            f" +{metrics['open_trades']} open" if metrics["open_trades"] else ""
        )
        rows.append(
            [
                run.asset,
                _percent(metrics["total_return"]),
                _percent(metrics["cagr"]),
                _percent(metrics["max_drawdown"]["depth"], sign=False),
                _ratio(metrics["sharpe"]),
                trades,
                _win_rate(metrics["win_rate"]["rate"]),
                f"{metrics['exposure']:.1%}",
                str(run.summary["decisions"]["BLOCKED"]),
                "—" if held is None else _percent(held["total_return"]),
            ]
        )
    output.plain_table(columns, rows, left=1)
    fill = first["fill"]
    out.print(
        f"each asset alone: starting cash {_cash(first['starting_cash'])}; fills at the next "
        f"bar's open, fee {fill['fee_bps']} bps, slippage {fill['slippage_bps']} bps"
    )
    out.print(
        f"audit logs and metrics.json: {runs.out_dir}/<asset>/ "
        f"(signalops backtest --asset X for one asset's full report)"
    )


# --- a backtest's portfolio, beyond the side-by-side table -------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _portfolio(study: Study) -> None:
    """Each asset's part (several assets), the extended metrics and the monthly returns."""
    out = output.console()
    if len(study.result.assets) > 1 or study.universe is not None:
        out.print()
        _assets_table(study)
    out.print()
    for line in _extended_lines(study):
        out.print(line)
    out.print()
    _monthly_table(study)


def _assets_table(study: Study) -> None:
    from signalops.backtest.universe import COMMAND_LINE

    r, parts = study.result, study.parts
    out = output.console()
    quote = f" {study.quote}" if study.quote else ""
    universe = study.universe
    source = ""
    if universe is not None and universe.source != COMMAND_LINE:
        source = f" · universe from {universe.source}"
    out.print(
        Text(
            f"portfolio by asset · {output.count(len(r.assets), 'asset')} in one book, sharing "
            f"{_money(r.paper.starting_cash)}{quote} of starting cash{source}",
            style="bold",
        )
    )
    named = bool(parts.sectors)
    columns = [
        "asset",
        *(["sector"] if named else []),
        "realised",
        "unrealised",
        "fees",
        "net PnL",
        "of start",
        "trades",
        "win rate",
        "exposure",
        "max weight",
        "BUYs denied",
        "buy & hold",
    ]
    start = parts.start_equity
    metrics = r.metrics
    rows = [
        [
            "portfolio",
            *([""] if named else []),
            _signed_money(sum((p.realised for p in parts.assets), Decimal(0))),
            _signed_money(sum((p.unrealised for p in parts.assets), Decimal(0))),
            _money(parts.fees),
            _signed_money(parts.equity_change),
            _pct(float(parts.equity_change / start)),
            _count_trades(metrics.trades, metrics.open_trades),
            _win_rate(metrics.win_rate.rate),
            f"{metrics.exposure:.1%}",
            f"{parts.max_weight:.1%}",
            str(sum(p.denied for p in parts.assets)),
            "—" if r.benchmark is None else _pct(r.benchmark.total_return),
        ]
    ]
    for p in parts.assets:
        rows.append(
            [
                p.asset,
                *([p.sector or "—"] if named else []),
                _signed_money(p.realised),
                _signed_money(p.unrealised),
                _money(p.fees),
                _signed_money(p.net),
                _pct(float(p.net / start)),
                _count_trades(p.trades, p.open_trades),
                _win_rate(p.wins / p.trades if p.trades else None),
                f"{p.exposure:.1%}",
                f"{p.max_weight:.1%}",
                str(p.denied),
                _pct(p.buy_and_hold),
            ]
        )
    output.plain_table(columns, rows, left=2 if named else 1)
    if named:
        out.print()
        _sectors_table(study, parts)
    for line in _assets_lines(study, parts):
        out.print(line)


def _sectors_table(study: Study, parts: Breakdown) -> None:
    start = parts.start_equity
    rows = [
        [
            s.sector,
            ", ".join(s.assets),
            _signed_money(s.net),
            _pct(float(s.net / start)),
            str(s.trades),
            f"{s.max_weight:.1%}",
        ]
        for s in parts.sectors
    ]
    columns = ["sector", "assets", "net PnL", "of start", "trades", "max weight"]
    output.plain_table(columns, rows, left=2)


def _assets_lines(study: Study, parts: Breakdown) -> list[str]:
    lines = []
    alone = [p.asset for p in parts.assets if p.sector is None]
    if parts.sectors and alone:
        lines.append(f"without a sector (each its own for max_sector): {', '.join(alone)}")
    if parts.net == parts.equity_change:
        lines.append(
            f"the assets' net PnL adds up to the equity change: "
            f"{_signed_money(parts.equity_change)} = {_money(parts.end_equity)} - "
            f"{_money(parts.start_equity)}"
        )
    else:  # the ledger's own arithmetic rounded (28 digits): say by how much
        lines.append(
            f"the assets' net PnL {_signed_money(parts.net)} differs from the equity change "
            f"{_signed_money(parts.equity_change)} by {parts.net - parts.equity_change:.2E}"
        )
    limits = study.limits
    if limits is not None:
        sector = (
            "no max_sector limit"
            if limits.max_sector is None
            else f"max_sector {limits.max_sector:.0%} of equity per sector"
        )
        lines.append(
            f"limits: max_position {limits.max_position:.0%} of equity per asset, {sector}, "
            f"max_exposure {limits.max_exposure:.0%} in all; max weight: the largest value at "
            f"a period's mark over the equity then"
        )
    denials: dict[str, dict[str, int]] = {}
    for p in parts.assets:
        for code, n in p.denials.items():
            denials.setdefault(code, {})[p.asset] = n
    if denials:
        shown = "; ".join(
            f"{code} {sum(by.values())} ({', '.join(f'{a} {n}' for a, n in by.items())})"
            for code, by in sorted(denials.items(), key=lambda kv: -sum(kv[1].values()))
        )
        lines.append(f"risk gate denials of BUYs, by check: {shown}")
    return lines


def _extended_lines(study: Study) -> list[str]:
    ext: ExtendedMetrics = study.extended
    quote = f" {study.quote}" if study.quote else ""
    against = study.relative_to
    if against is None:
        relative = "against buy & hold: — (it could not buy at the first fill)"
    else:
        label = (
            "buy & hold of the assets in equal parts"
            if against == "buy_and_hold"
            else f"buy & hold {against}"
        )
        rel = ext.relative
        assert rel is not None
        relative = (
            f"against {label}: alpha {_pct(rel.alpha)} a year, beta {_ratio(rel.beta)}, "
            f"tracking error {_pct(rel.tracking_error, sign=False)} a year, information "
            f"ratio {_ratio(rel.information_ratio)}"
        )
    stats = ext.trades
    expectancy = "—"
    if stats.expectancy is not None:
        expectancy = f"{_signed_money(stats.expectancy)}{quote} ({_pct(stats.expectancy_return)})"
    turnover = "—" if ext.turnover is None else f"{ext.turnover:.2f}"
    return [
        relative,
        f"closed trades: {stats.trades}, profit factor {_ratio(stats.profit_factor)}, "
        f"expectancy {expectancy} a trade; Calmar {_ratio(ext.calmar)}; exposure "
        f"{ext.exposure:.1%}; turnover {turnover} a year ({_money(ext.traded)}{quote} traded)",
        _tail_line(study, ext),
    ]


def _tail_line(study: Study, ext: ExtendedMetrics) -> str:
    from signalops.catalogue.spec import format_duration

    by_method: dict[str, list[str]] = {}
    for risk in ext.tail_risk:
        var, cvar = risk.var, risk.cvar
        figures = f"{_pct(var.fraction, sign=False)} / {_pct(cvar.fraction, sign=False)}"
        by_method.setdefault(var.method.value, []).append(f"{var.confidence:.0%} {figures}")
    period = format_duration(study.result.every.total_seconds())
    shown = "; ".join(f"{method} {', '.join(cells)}" for method, cells in by_method.items())
    return f"VaR / CVaR of one {period} period (over the run's returns): {shown}"


def _monthly_table(study: Study) -> None:
    years = study.extended.monthly.years
    if not years:
        return
    output.console().print(Text("monthly returns (strategy, UTC months)", style="bold"))
    rows = [[str(y.year), *(_month(v) for v in y.months), _month(y.total)] for y in years]
    output.plain_table(["year", *_MONTHS, "total"], rows, left=1)


def _month(value: float | None) -> str:
    if value is None:
        return ""
    return "0.0%" if value == 0 else f"{value:+.1%}"


def _pct(value: float | None, sign: bool = True) -> str:
    """A percentage as the backtest table shows one: thousands separated (``+1,412.10%``)."""
    if value is None:
        return "—"
    value += 0.0  # -0.0 (a flat curve's VaR) shows as 0.00%
    return f"{value:+,.2%}" if sign else f"{value:,.2%}"


def _count_trades(closed: int, still_open: int) -> str:
    return str(closed) + (f" +{still_open} open" if still_open else "")


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _signed_money(value: Decimal) -> str:
    return f"{value:+,.2f}"


def _cash(text: str) -> str:
    return f"{Decimal(text):,.2f}"
