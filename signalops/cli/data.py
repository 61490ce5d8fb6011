"""``signalops data``: replay snapshots made from the bundled real data."""

from __future__ import annotations

from pathlib import Path

import click

from signalops.adapters.bundled import DEFAULT_DATA_DIR, DEFAULT_SNAPSHOT_DIR, import_bundled
from signalops.cli import output


@click.group()
def data() -> None:
    """Manage replay data: snapshots of recorded real data that backtests replay."""


@data.command("import")
@click.option(
    "--from",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help="Folder of bundled real data.",
)
@click.option(
    "--to",
    "out_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Snapshot folder to write (one <source>.jsonl per source).",
)
@click.option("--source", "sources", multiple=True, help="Only these sources (repeatable).")
def data_import(data_dir: Path, out_dir: Path, sources: tuple[str, ...]) -> None:
    """Turn the bundled real data into replay snapshots.

    \b
    Example:
      signalops data import --from examples/data --to examples/replay
    """
    with output.console(stderr=True).status("importing...") as status:
        results = import_bundled(
            data_dir,
            out_dir,
            sources=sources or None,
            on_source=lambda s: status.update(f"importing {s}..."),
        )
    output.data_imported(results)
