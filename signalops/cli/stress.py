"""``signalops stress``: a strategy through historical crises and synthetic shocks."""

from __future__ import annotations

from pathlib import Path

import click

from signalops.cli import output
from signalops.cli.params import (
    CONFIG_OPTION,
    DATA_OPTION,
    VENUE_OPTION,
    default_config,
    report_folder,
    snapshots,
)


@click.command("stress")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME|FILE",
    help="A bundled scenario by name, or a scenario file (repeatable). Default: every bundled "
    "scenario.",
)
@DATA_OPTION
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Folder for each scenario's audit log, <report>/<scenario>/backtest.db. Default: "
    "reports/<file name>/stress, beside the file's backtest report.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@CONFIG_OPTION
@VENUE_OPTION
def stress_command(
    strategy: Path,
    scenarios: tuple[str, ...],
    data_dir: Path,
    report_dir: Path | None,
    as_json: bool,
    config_file: Path | None,
    venue: str | None,
) -> None:
    """Replay a strategy through stress scenarios: crises and synthetic shocks.

    Each scenario is a backtest through the same pipeline, risk gate, paper broker and audit
    log as 'signalops backtest', over the scenario's window of the replay data. Historical
    scenarios replay a window as recorded (March 2020, May 2022, November 2022, March 2023);
    synthetic ones apply shocks to the replayed data: a price gap, a prediction-market jump, a
    data source out for some hours, a venue rejecting orders. A shock that touches nothing the
    strategy reads (a gap of an asset it does not trade) is not applied: the scenario runs with
    its other shocks, and a note says which one was left out and why. A scenario the data does
    not cover, or none of whose shocks apply, is skipped with the reason. When every scenario is
    skipped, nothing is written and the command fails (exit status 1), a line for each saying
    why.

    Per scenario: PnL, max drawdown, decisions, orders filled, denied by the risk gate (not
    SELLs with nothing to sell: an exit rule passing while flat) and rejected by the venue (by
    code), breakers, and the decisions that failed closed.

    A scenario is a small YAML file (schema: schemas/stress.schema.json), e.g.:

    \b
      name: btc_gap_down_20pct
      from: 2023-03-01
      to: 2023-03-31
      shocks:
        - gap: {asset: BTC, at: 2023-03-11, pct: -20}

    \b
    Example:
      signalops stress strategies/banking_crisis_dip.yaml
      signalops stress strategies/banking_crisis_dip.yaml --scenario venue_rejects_48h \\
          --scenario my_scenario.yaml
    """
    # Imported here: the backtest machinery is only needed by this command.
    from signalops.adapters import registry
    from signalops.cli.output import stress as stress_output
    from signalops.config import load_config
    from signalops.errors import InputError
    from signalops.strategy import load
    from signalops.stress import run_stress, select
    from signalops.workspace import with_venue

    compiled = load(strategy, registry.catalogue())
    chosen = select(scenarios)
    settings = with_venue(load_config(config_file or default_config()), venue)
    store = snapshots(data_dir)
    out_dir = report_dir or report_folder(strategy) / "stress"
    with output.interruptible(out_dir), output.progress(output.console(stderr=True)) as progress:
        report = run_stress(
            compiled, chosen, store=store, out_dir=out_dir, config=settings, progress=progress
        )
    nothing = report.nothing_ran()
    if nothing is not None:
        raise InputError(nothing)
    if as_json:
        output.json_out(report.to_dict())
        return
    stress_output.stress(report)
