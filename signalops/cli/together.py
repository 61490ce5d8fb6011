"""``signalops backtest`` of several strategies together: what it refuses, runs and prints.

The command (``cli.backtest``) hands its strategy files here when there are several (files, or
folders of them found as ``run`` and ``validate`` find them). They run as ``signalops run``
runs them: one pipeline, one paper account in which each keeps its own book under the config's
allocations (``strategies: {NAME: {capital: ...}}``), at the same decision times, into one
audit log; the report is the account's, with a table by strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text

from signalops.cli import output
from signalops.cli.params import folder_name, report_folder
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.backtest.comparison import Study
    from signalops.cli.backtest import BacktestAsked


def backtest_together(
    files: Sequence[Path],
    *,
    named: Sequence[Path],
    asked: BacktestAsked,
    universe_spec: str | None,
    each_asset: bool,
    ray_address: str | None,
) -> None:
    """Backtest the strategies of ``files`` together and print the account's report;
    ``named``: the files and folders as the command line gave them (the report's folder). The
    setup, run and print are one strategy's (``cli.backtest``), with the checks of several."""
    from signalops.catalogue import installed
    from signalops.cli.backtest import backtest_setup, run_and_print
    from signalops.setup_warnings import config_warnings, duplicate_names
    from signalops.strategy import load

    _refuse(each_asset, universe_spec, ray_address)
    strategies = [load(file, installed.catalogue()) for file in files]
    duplicate = duplicate_names(strategies)
    if duplicate is not None:
        raise InputError(duplicate)
    ready = backtest_setup(asked, files, strategies)
    output.warnings(config_warnings(ready.settings, [s.name for s in strategies]))
    out_dir = asked.report_dir or together_folder(named)
    run_and_print(strategies, asked, ready, out_dir, baseline=False)


def _refuse(each_asset: bool, universe_spec: str | None, ray_address: str | None) -> None:
    """The options that take one strategy, refused in one line before anything runs."""
    if each_asset:
        raise InputError(
            "--each-asset backtests one strategy asset by asset: give one strategy file "
            "(several run together in one account)"
        )
    if universe_spec is not None:
        raise InputError(
            "--universe runs one strategy over many assets: give one strategy file, or "
            "--asset to run every strategy on the same assets"
        )
    if ray_address is not None:
        raise InputError("--ray runs --each-asset's tasks, which take one strategy file")


def together_folder(paths: Sequence[Path]) -> Path:
    """Where a backtest of several strategies reports without --report: one folder named
    after what the command line named: ``reports/strategies`` for ``strategies/``,
    ``reports/banking_crisis_dip+technical_baseline`` for two files."""
    if len(paths) == 1:
        return report_folder(paths[0])
    names = [folder_name(path.resolve().stem if path.is_dir() else path.stem) for path in paths]
    # A shell's glob may name dozens of files: the first and how many more, not every name
    # (a folder name past the file system's 255 bytes fails the run at its end).
    shown = "+".join(names) if len(names) <= 3 else f"{names[0]}+{len(names) - 1}_more"
    return Path("reports") / shown[:120]


def strategies_table(study: Study) -> None:
    """The account by strategy (``report.strategy_table``, the page's table too)."""
    from signalops.backtest.report import strategy_lines, strategy_table

    found = strategy_table(study)
    if found is None:
        return
    out = output.console()
    out.print()
    out.print(Text(f"account by strategy · {found.summary}", style="bold"))
    output.plain_table(found.columns, found.rows, left=found.left)
    for line in strategy_lines(study):
        out.print(line, markup=False, highlight=False)
