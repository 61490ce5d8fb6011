"""Backtests through the live pipeline, the fast parameter sweep and walk-forward.

``sweep``, ``walkforward`` and ``backtest --each-asset`` cut their work into tasks
(``signalops.research``): in this process by default, on a Ray cluster with ``--ray``. The
tables are the same either way; ``output.research`` draws them.

A backtest's report folder gets its new files all at once at the end (``folders.staged``), so
Ctrl-C stops each of these commands with ``interrupted: nothing written`` (and ``(FOLDER is as
it was)`` when it has a report folder) and exit status 130 (``output.interruptible``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from signalops.cli import output
from signalops.cli.output import research as research_output
from signalops.cli.params import (
    CONFIG_OPTION,
    DATA_OPTION,
    VENUE_OPTION,
    default_config,
    period_interval,
    period_time,
    report_folder,
    snapshots,
    wrong_length,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.adapters.snapshots import SnapshotStore
    from signalops.backtest.universe import Universe
    from signalops.catalogue.spec import Catalogue
    from signalops.config import Config
    from signalops.research.assets import EachAsset
    from signalops.research.executors import Executor
    from signalops.strategy.model import Strategy

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
@click.argument("strategies", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--from", "start", required=True, help="First decision time (e.g. 2023-03-01).")
@click.option("--to", "end", required=True, help="Last decision time, included.")
@DATA_OPTION
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Folder for the report and audit logs. Default: reports/<file name> (reports/"
    "banking_crisis_dip for strategies/banking_crisis_dip.yaml); several strategies: their "
    "names joined by + (past three, the first and how many more), a folder's name for a folder.",
)
@click.option(
    "--every",
    help="Decision interval. Default: the strategy's candle timeframe (1d; several "
    "strategies must then share one). Stocks: the last of these times before each session "
    "opens.",
)
@click.option(
    "--asset",
    "assets",
    multiple=True,
    help="Asset to run the strategy's rules on instead of its own (several strategies: each "
    "one's): any asset with data (repeatable: one book, shared cash; with --each-asset one "
    "each). Default: the strategy's assets.",
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
    default="3d",
    show_default=True,
    help="How long a blocked trade (and a filled entry, for 'false signals') is played out for "
    "the filter accounting: 36h, 3d, 1w. Shown in its largest whole unit (168h reads 7d).",
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
    strategies: tuple[Path, ...],
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
    """Backtest a strategy (or several together) on replayed history through the live
    pipeline, with a report.

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
      signalops backtest strategies/banking_crisis_dip.yaml \\
          --from 2023-01-01 --to 2023-06-30
      signalops backtest strategies/graham_value_event_filter.yaml \\
          --config examples/signalops.equities.yaml --from 2019-01-01 --to 2023-12-31 \\
          --benchmark GSPC

    The stock examples, here and below, need the repository's examples/ folder (US stocks with
    SEC EDGAR facts and the S&P 500); a folder made by 'signalops init' holds crypto data only.

    Several strategies (files, or folders of them, found as 'signalops run' finds them) are
    backtested together, as 'signalops run' runs them: one paper account in which each keeps
    its own book (the config's strategies: {NAME: {capital: ...}} allocations; each its own
    cooldowns), deciding at the same times (--every, else the candle timeframe they share),
    into one audit log ('signalops why ASSET --at TIME --strategy NAME' explains one
    strategy's decision). The table is the account's, against buy-and-hold of all their
    assets, and a table by strategy follows: each book's PnL, fees, trades, win rate,
    exposure, capital and BUYs denied. There is no vetoes-removed baseline; --universe and
    --each-asset take one strategy; --asset runs every strategy on those assets; two files
    that name one strategy are refused, as by 'run'. Default --report: reports/ and the
    files' names joined with + (or the folder's name).

    \b
      signalops backtest strategies/banking_crisis_dip.yaml \\
          strategies/technical_baseline.yaml --from 2023-01-01 --to 2023-06-30

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
    from signalops.catalogue import installed
    from signalops.strategy import load
    from signalops.strategy.check import strategy_files

    asked = BacktestAsked(
        start=period_time("--from", start), end=period_time("--to", end),
        every=period_interval("--every", every), horizon=period_interval("--horizon", horizon),
        data_dir=data_dir, report_dir=report_dir, assets=assets, benchmark=benchmark,
        config_file=config_file, venue=venue,
    )  # fmt: skip
    files = strategy_files(strategies)
    if len(files) > 1:  # together, in one account (``cli.together``)
        from signalops.cli.together import backtest_together

        return backtest_together(
            files, named=strategies, asked=asked, universe_spec=universe_spec,
            each_asset=each_asset, ray_address=ray_address,
        )  # fmt: skip
    (strategy,) = files
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
    ready = backtest_setup(asked, files, [compiled], universe, one_account=not each_asset)
    out_dir = report_dir or report_folder(strategy)
    if each_asset:
        return _each_asset(strategy, compiled, asked, ready, out_dir, ray_address)
    run_and_print([compiled], asked, ready, out_dir, baseline=not no_baseline)


def _each_asset(
    strategy: Path,
    compiled: Strategy,
    asked: BacktestAsked,
    ready: BacktestSetup,
    out_dir: Path,
    ray_address: str | None,
) -> None:
    """``--each-asset``: each asset backtested alone, one task per asset, and a row each."""
    from signalops.research.assets import run_each_asset
    from signalops.research.tasks import Settings

    text = strategy.read_text(encoding="utf-8")
    with (
        _asset_folders(out_dir, ray_address) as work,
        _executor(ray_address) as executor,
        research_output.progress() as progress,
    ):
        runs = run_each_asset(
            compiled,
            text,
            store=ready.store,
            start=asked.start,
            end=asked.end,
            out_dir=work,
            executor=executor,
            assets=ready.run_assets or None,
            every=asked.every,
            horizon=asked.horizon or timedelta(hours=72),
            settings=Settings.read(asked.config_file or default_config(), asked.venue),
            progress=progress,
        )
        runs = _published_as(runs, work, out_dir)
    research_output.each_asset_notes(runs)
    research_output.each_asset_table(runs, ready.settings)
    research_output.failures(runs.failed, len(runs.runs) + len(runs.failed), "asset")


@dataclass(frozen=True)
class BacktestAsked:
    """What ``signalops backtest`` was asked for, its times and durations read: one strategy's
    backtest and several strategies' together read it alike (``backtest_setup``,
    ``run_and_print``)."""

    start: datetime
    end: datetime
    every: timedelta | None
    horizon: timedelta | None
    data_dir: Path
    report_dir: Path | None
    assets: tuple[str, ...]
    benchmark: str | None
    config_file: Path | None
    venue: str | None


@dataclass(frozen=True)
class BacktestSetup:
    """What a backtest reads before it runs: the config (with --venue), the replay data, and
    --asset, --benchmark and a --universe as the data spell them."""

    settings: Config
    store: SnapshotStore
    assets: tuple[str, ...]
    benchmark: str | None
    universe: Universe | None = None

    @property
    def run_assets(self) -> tuple[str, ...]:
        """The assets it runs on: the universe's, else --asset's (none: each strategy's own)."""
        return self.universe.assets if self.universe is not None else self.assets


def backtest_setup(
    asked: BacktestAsked,
    files: Sequence[Path],
    strategies: Sequence[Strategy],
    universe: Universe | None = None,
    *,
    one_account: bool = True,
) -> BacktestSetup:
    """Before anything runs, for one strategy or several (``files``, compiled as
    ``strategies``): the config, the data, the assets as recorded, and each strategy's weekend
    warning for the assets it runs on. ``universe`` (one strategy's --universe) is read onto
    the data at the strategy's candle timeframe. ``one_account``: the assets share one paper
    account, refused when their money is in different currencies (``Config.check_quotes``;
    not --each-asset, which backtests each alone)."""
    from signalops.config import load_config
    from signalops.workspace import with_venue

    settings = with_venue(load_config(asked.config_file or default_config()), asked.venue)
    store = snapshots(asked.data_dir)
    if universe is not None:
        from signalops.pipeline.cycle import candle_timeframe

        universe = universe.on_record(store, candle_timeframe(strategies[0]), settings.venues)
    assets = as_recorded(asked.assets, store, settings)
    benchmark = asked.benchmark
    if benchmark is not None:
        (benchmark,) = as_recorded((benchmark,), store, settings)
    ready = BacktestSetup(settings, store, assets, benchmark, universe)
    if one_account:
        traded = ready.run_assets or [a for strategy in strategies for a in strategy.assets]
        settings.check_quotes(traded)
        par = settings.par_note(traded)
        if par is not None:
            output.warnings([par])
    for file, compiled in zip(files, strategies, strict=True):
        warn_weekends(file, compiled, ready.run_assets, settings)
    return ready


def run_and_print(
    strategies: Sequence[Strategy],
    asked: BacktestAsked,
    ready: BacktestSetup,
    out_dir: Path,
    *,
    baseline: bool,
) -> None:
    """Backtest ``strategies`` (one, or several together in one account) into ``out_dir``'s
    report and print it: the side-by-side table and its notes, the Kelly sizing that stopped
    BUYs (said, not just counted), of several the account by strategy, then the portfolio."""
    from signalops.backtest.report import sizing_told
    from signalops.backtest.study import run_study
    from signalops.cli.together import strategies_table

    with output.interruptible(out_dir), output.progress(output.console(stderr=True)) as progress:
        study = run_study(
            strategies,
            store=ready.store,
            start=asked.start,
            end=asked.end,
            out_dir=out_dir,
            every=asked.every,
            assets=ready.assets or None,
            config=ready.settings,
            horizon=asked.horizon or timedelta(hours=72),
            baseline=baseline,
            progress=progress,
            benchmark=ready.benchmark,
            universe=ready.universe,
        )
    output.backtest(study, out_dir)
    for line in sizing_told(study):
        output.console().print(line, markup=False, highlight=False)
    strategies_table(study)  # one strategy: none
    research_output.portfolio(study)


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
@click.option(
    "--every",
    help="Decision interval. Default: the strategy's candle timeframe (1d). Stocks: the last "
    "of these times before each session opens.",
)
@RAY_OPTION
@CHUNK_OPTION
@CONFIG_OPTION
@VENUE_OPTION
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
    venue: str | None,
) -> None:
    """Screen a grid of parameter values with the vectorised evaluator, best return first.

    Every combination of the --grid values replaces the strategy's params, is compiled again and
    evaluated over all decision times at once; a long-only position then makes one all-in entry
    per signal: the first BUY while flat puts all the cash in at the next bar's open, later BUYs
    add nothing, and a SELL sells it all, with the config's fee and slippage. The backtest buys
    position_size at every BUY, up to max_position, so its trades and win rate differ. A fast
    screen: no risk gate, confirmations or audit log, so its numbers are not the backtest's.

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
    from signalops.workspace import with_venue

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    grid = parse_grid(grid_specs)
    compiled = load(strategy, installed.catalogue())
    _check_values(compiled, grid, installed.catalogue(), str(strategy), data_dir)
    settings = with_venue(load_config(config_file or default_config()), venue)
    store = snapshots(data_dir)
    assets = as_recorded(assets, store, settings)
    warn_weekends(strategy, compiled, assets, settings)
    paper = settings.paper
    with (
        output.interruptible(None),
        _executor(ray_address) as executor,
        research_output.progress() as progress,
    ):
        report = run_sweep(
            compiled,
            grid=grid,
            store=store,
            start=first,
            end=last,
            executor=executor,
            assets=assets or None,
            every=interval,
            fee_bps=paper.fee_bps,
            slippage_bps=paper.slippage_bps,
            settings=Settings.read(config_file or default_config(), venue),
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
        output.sweep(heading, grid, rows, swept.notes)
    research_output.failures(report.failed, report.combinations * len(report.assets), "combination")


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
    "rate); or Calmar (annual rate over max drawdown; it needs --train of a year or more, and a "
    "test window under a year shows no Calmar: an annual rate of a shorter span extrapolates).",
)
@click.option(
    "--asset",
    "assets",
    multiple=True,
    help="Asset to walk (repeatable: a table each). Default: the strategy's first.",
)
@DATA_OPTION
@click.option(
    "--every",
    help="Decision interval. Default: the strategy's candle timeframe (1d). Stocks: the last "
    "of these times before each session opens.",
)
@RAY_OPTION
@CHUNK_OPTION
@CONFIG_OPTION
@VENUE_OPTION
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
    venue: str | None,
) -> None:
    """Walk-forward: pick params on each training window, judge them on the window after it.

    The first test window starts --train after --from; each next one starts where the last
    ended. On each training window the whole --grid is screened (the fast screen of 'signalops
    sweep') and the set with the best --objective is chosen (ties: the first in grid order);
    that set alone is then screened on the test window, which starts flat with the starting
    cash. The table shows each window's chosen set, its objective in-sample (IS) and
    out-of-sample (OOS) and the test window's metrics; 'stitched' chains the test windows into
    one out-of-sample record. Below it: how often each value was chosen, how often the chosen
    set changed, and how much of the in-sample objective survived out-of-sample. A set the
    compiler refuses is left out of every window and listed once after the table (exit status
    1); a grid of nothing else is refused before anything runs.

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
    from signalops.workspace import with_venue

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    train_span = _window("--train", train, "365d")
    test_span = _window("--test", test, "90d")
    grid = parse_grid(grid_specs)
    compiled = load(strategy, installed.catalogue())
    _check_values(compiled, grid, installed.catalogue(), str(strategy), data_dir)
    settings = with_venue(load_config(config_file or default_config()), venue)
    store = snapshots(data_dir)
    assets = as_recorded(assets, store, settings)
    warn_weekends(strategy, compiled, assets, settings)
    paper = settings.paper
    with (
        output.interruptible(None),
        _executor(ray_address) as executor,
        research_output.progress() as progress,
    ):
        walk = run_walkforward(
            compiled,
            grid=grid,
            store=store,
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
            settings=Settings.read(config_file or default_config(), venue),
            chunk=chunk,
            progress=progress,
        )
    fees = f"fee {paper.fee_bps} bps, slippage {paper.slippage_bps} bps"
    for i, asset in enumerate(walk.assets):
        if i:
            output.console().print()
        research_output.walk_table(walk, asset, fees)
    research_output.walk_failures(walk)


def _window(option: str, text: str, example: str) -> timedelta:
    """A walk-forward window's ``--train``/``--test``: a duration longer than 0 (``example``
    is one that would do)."""
    from signalops.catalogue.spec import parse_duration

    seconds = parse_duration(text)
    if seconds is None:
        raise InputError(f"{option}: '{text}' {wrong_length(text, example)}")
    return timedelta(seconds=seconds)


def as_recorded(assets: tuple[str, ...], store: SnapshotStore, settings: Config) -> tuple[str, ...]:
    """The assets a command line names as the config or the data spell them (``eth``: the
    data's ``ETH``, ``bars.as_recorded``), before anything runs: every command here reads them
    through this (a universe through ``Universe.on_record``), so each is that name everywhere."""
    if not assets:
        return assets
    from signalops.backtest.bars import as_recorded

    return as_recorded(assets, store, settings.venues)


def warn_weekends(file: Path, compiled: Strategy, assets: Sequence[str], settings: Config) -> None:
    """As ``validate`` and ``run`` warn: a stock's leaves UNKNOWN every Monday, for the assets
    this command runs (``assets`` given on the command line, else the strategy's)."""
    from signalops.sessions import weekend_warning

    shown = replace(compiled, assets=tuple(assets)) if assets else compiled
    output.warnings(w for w in [weekend_warning(str(file), shown, settings.venues)] if w)


# --- running tasks ---------------------------------------------------------------------------


def _check_values(
    compiled: Strategy,
    grid: Mapping[str, Sequence[Any]],
    catalogue: Catalogue,
    file: str,
    data_dir: Path,
) -> None:
    """Before anything runs: refuse a word the param cannot take, warn of a value that looks
    written in another unit or names a Polymarket market ``data_dir`` has no data of (as
    ``validate`` warns of the same value in the file)."""
    from signalops.backtest.sweep import grid_warnings
    from signalops.cli.strategy import unrecorded_markets

    _refuse_words(compiled, grid, catalogue, file)

    def unrecorded(markets: set[str]) -> dict[str, str]:
        return unrecorded_markets(markets, data_dir)

    problems = grid_warnings(compiled, grid, catalogue, file, unrecorded)
    output.warnings(f"--grid {problem}" for problem in problems)


def _refuse_words(
    compiled: Strategy, grid: Mapping[str, Sequence[Any]], catalogue: Catalogue, file: str
) -> None:
    """``InputError`` naming --grid and the value, before anything runs, for a value that is not
    a number (``oversold=a``) and that the param cannot take: each word is compiled alone
    with the strategy's other params (a few ms each; a word such as ``4h`` may be right). The
    numbers (a percent too, kept as its text ``30%``) are left to the sweep, which checks them
    without compiling each and lists those the compiler refuses."""
    from signalops.backtest.sweep import format_value, with_params
    from signalops.strategy.literals import parse_number

    for name, values in grid.items():
        if name not in compiled.params:  # the sweep names the strategy's params
            continue
        for value in (v for v in values if isinstance(v, str) and parse_number(v) is None):
            try:
                with_params(compiled.document, {name: value}, catalogue, file)
            except InputError as error:
                # with_params says "FILE with NAME=VALUE: PROBLEM"; the option names them here.
                problem = str(error).removeprefix(f"{file} with {name}={format_value(value)}: ")
                raise InputError(f"--grid {name}={value}: {file}: {problem}") from None


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


@contextmanager
def _asset_folders(out_dir: Path, ray_address: str | None) -> Iterator[Path]:
    """Where ``--each-asset`` writes its ``<asset>/`` folders: beside ``out_dir``, moved into
    it at the end (``folders.staged``; Ctrl-C: ``output.interruptible``), when the tasks run on
    this machine. A cluster's tasks write on the machine that runs them, into ``out_dir``
    itself, as before (and Ctrl-C is click's ``Aborted!``: some assets may be written)."""
    from signalops.backtest.folders import staged
    from signalops.research.executors import LOCAL_RAY

    if ray_address is not None and ray_address != LOCAL_RAY:
        yield out_dir
        return
    with output.interruptible(out_dir), staged(out_dir) as work:
        yield work


def _published_as(runs: EachAsset, work: Path, out_dir: Path) -> EachAsset:
    """``runs`` with its logs where they are published: each ``metrics.json``'s ``audit_log``
    (and the summary's, and the notes' ``why`` commands) under ``out_dir`` instead of the
    staging folder ``work``."""
    staging, final = work.resolve(), out_dir.resolve()  # ``run_each_asset``'s paths are resolved
    if staging == final:
        return runs
    moved = []
    for run in runs.runs:
        written = Path(run.summary["audit_log"])
        audit = final / written.relative_to(staging)
        metrics = written.parent / "metrics.json"
        data = json.loads(metrics.read_text(encoding="utf-8"))
        data["audit_log"] = str(audit)
        metrics.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        notes = tuple(note.replace(str(written), str(audit)) for note in run.notes)
        moved.append(replace(run, summary={**run.summary, "audit_log": str(audit)}, notes=notes))
    return replace(runs, runs=tuple(moved), out_dir=out_dir)
