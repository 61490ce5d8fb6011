"""``signalops init DIR``: a working folder with a config, the example strategies and a sample
of real data, from which the README's tour runs without the source checkout."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from signalops.cli import output


@click.command("init")
@click.argument("folder", required=False, default=".", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace files init would write that exist already.")
def init_command(folder: Path, force: bool) -> None:
    """Write a working folder: signalops.yaml, strategies/ and a sample of real data.

    Files that exist are never replaced without --force; other files in FOLDER are left alone.
    The commands to run next are printed at the end.

    \b
    Example:
      signalops init tour && cd tour && signalops data import
    """
    from signalops.starter import NEXT_STEPS, SAMPLE_DIR, init_folder

    written = init_folder(folder, force=force)
    console = output.console()
    console.print(f"wrote {folder / 'signalops.yaml'} (commented: risk, paper, audit, venues)")
    console.print(
        f"wrote {output.count(written.strategies, 'strategy', 'strategies')} "
        f"to {folder / 'strategies'}"
    )
    for example in written.examples:
        console.print(f"wrote {folder / example} (the README's example config)")
    console.print(
        f"wrote {output.count(written.sample_files, 'file')} of sample data "
        f"({written.sample_bytes / 1000:,.0f} kB) to {folder / SAMPLE_DIR} (see its README.md)"
    )
    console.print("next:")
    steps = list(NEXT_STEPS)
    if folder.resolve() != Path.cwd().resolve():
        steps.insert(0, f"cd {shlex.quote(str(folder))}")
    for step in steps:
        console.print(f"  {step}", highlight=False, markup=False)
