"""Backtests through the live pipeline, and the fast parameter sweep."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

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
    horizon: str,
    no_baseline: bool,
    benchmark: str | None,
    config_file: Path | None,
    venue: str | None,
) -> None:
    """Backtest a strategy on replayed history through the live pipeline, with a report.

    Each decision time from --from to --to runs the same evaluate -> risk gate -> paper
    execution -> audit path as 'signalops run'; orders fill at the next bar's open with the
    configured fee and slippage. Prints the strategy next to the same strategy with its vetoes
    removed and to buy-and-hold (of its assets, and of --benchmark), says what the blocked
    trades would have done, and writes metrics.json, trades.csv, report.html (with charts) and
    the audit logs.

    \b
    Example:
      signalops data import
      signalops backtest tests/fixtures/banking_crisis_pipeline.yaml \\
          --from 2023-03-01 --to 2023-03-31
      signalops backtest strategies/graham_value_event_filter.yaml \\
          --config examples/signalops.equities.yaml --from 2019-01-01 --to 2023-12-31 \\
          --benchmark GSPC
    """
    # Imported here: the backtest package (and its report's matplotlib) is only needed by this
    # command, so other commands start as fast as before.
    from signalops.adapters import registry
    from signalops.backtest.study import run_study
    from signalops.config import load_config
    from signalops.strategy import load
    from signalops.workspace import with_venue

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    span = period_interval("--horizon", horizon)
    compiled = load(strategy, registry.catalogue())
    settings = with_venue(load_config(config_file or default_config()), venue)
    store = snapshots(data_dir)
    out_dir = report_dir or Path("reports") / folder_name(compiled.name)
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
        )
    output.backtest(study, out_dir)


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
@click.option("--asset", help="Asset to screen. Default: the strategy's first.")
@DATA_OPTION
@click.option("--every", help="Decision interval. Default: the strategy's candle timeframe (1d).")
@CONFIG_OPTION
def sweep_command(
    strategy: Path,
    grid_specs: tuple[str, ...],
    start: str,
    end: str,
    asset: str | None,
    data_dir: Path,
    every: str | None,
    config_file: Path | None,
) -> None:
    """Screen a grid of parameter values with the vectorised evaluator, best return first.

    Every combination of the --grid values replaces the strategy's params, is compiled again and
    evaluated over all decision times at once; a long-only, all-in position then buys on BUY and
    sells on SELL at the next bar's open, with the config's fee and slippage. A fast screen: no
    risk gate, sizing, confirmations or audit log, so its numbers are not the backtest's.

    \b
    Example:
      signalops sweep strategies/technical_baseline.yaml --grid oversold=25,30,35 \\
          --from 2022-01-01 --to 2024-12-31
    """
    # Imported here: numpy, TA-Lib and the compiler are only needed by this command.
    from signalops.adapters import registry
    from signalops.backtest.runner import candle_timeframe
    from signalops.backtest.sweep import describe_period, parse_grid, sweep
    from signalops.config import load_config
    from signalops.strategy import load

    first, last = period_time("--from", start), period_time("--to", end)
    interval = period_interval("--every", every)
    grid = parse_grid(grid_specs)
    compiled = load(strategy, registry.catalogue())
    settings = load_config(config_file or default_config())
    paper = settings.paper
    rows = sweep(
        compiled,
        grid=grid,
        store=snapshots(data_dir),
        asset=asset,
        start=first,
        end=last,
        every=interval,
        fee_bps=paper.fee_bps,
        slippage_bps=paper.slippage_bps,
        venues=settings.venues,
    )
    rows.sort(key=lambda row: row.total_return, reverse=True)
    step = interval or timedelta(seconds=candle_timeframe(compiled))
    heading = (
        f"{compiled.name} · {asset or compiled.assets[0]} · "
        f"{describe_period(first, last, step)} · {output.count(len(rows), 'combination')} · "
        f"fee {paper.fee_bps} bps, slippage {paper.slippage_bps} bps"
    )
    output.sweep(heading, grid, rows)
