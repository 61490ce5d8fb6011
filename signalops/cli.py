"""The ``signalops`` command: parse arguments, call one library function, render the result.

No decision logic lives here. Library errors become ``error: ...`` on stderr and exit status 1;
a traceback only ever means a bug in SignalOps.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from signalops import __version__
from signalops.adapters.metrics import BUILTIN
from signalops.errors import StrategyError
from signalops.explain import draw_tree, strategy_header
from signalops.strategy import find_strategy_files, load, schema_path


def _console(stderr: bool = False) -> Console:
    # Lines never wrap: error messages and tree lines stay greppable and testable.
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def _print_strategy_error(error: StrategyError, console: Console) -> None:
    for item in error.errors:
        console.print(Text("error: ", style="bold red") + Text(str(item)))
        if item.excerpt:
            console.print(Text(item.excerpt, style="dim"))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="signalops")
def cli() -> None:
    """SignalOps: trading strategies written in YAML, compiled into explicit, auditable logic trees.

    \b
    Typical session:
      signalops validate strategies/          check every strategy file, with line:column errors
      signalops explain strategies/x.yaml     draw the logic tree a file compiles into
      signalops metrics                       list every metric a strategy may use
      signalops schema > strategy.schema.json the JSON Schema, for editor completion
    """


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check strategy files (or every *.yaml/*.yml under folders).

    Every problem is printed as FILE:LINE:COLUMN: PATH: MESSAGE (HINT). Exits 0 when every file
    is valid, 1 otherwise.

    \b
    Example:
      signalops validate strategies/ my_strategy.yaml
    """
    out, err = _console(), _console(stderr=True)
    files = list(find_strategy_files(paths))
    if not files:
        err.print(Text("error: ", style="bold red") + Text("no strategy files found"))
        sys.exit(1)
    invalid = 0
    problems = 0
    for file in files:
        try:
            strategy = load(file)
        except StrategyError as exc:
            invalid += 1
            problems += len(exc.errors)
            _print_strategy_error(exc, err)
            continue
        tree = strategy.tree
        summary = (
            f"{len(tree.entry.children)} entry rule{'s' if len(tree.entry.children) != 1 else ''}"
            f", {len(tree.exit.children) if tree.exit else 0} exit"
            f", {len(tree.vetoes)} veto{'es' if len(tree.vetoes) != 1 else ''}"
            f", {len(tree.leaves())} conditions"
        )
        line = Text("ok ", style="bold green")
        line.append(f"{file}")
        line.append(f"  {strategy.name}: {summary}", style="dim")
        out.print(line)
    total = len(files)
    verdict = f"{total} file{'s' if total != 1 else ''}: {total - invalid} valid"
    if invalid:
        verdict += f", {invalid} invalid ({problems} error{'s' if problems != 1 else ''})"
    out.print(Text(verdict, style="bold"))
    sys.exit(1 if invalid else 0)


@cli.command()
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the compiled tree as JSON.")
def explain(strategy: Path, as_json: bool) -> None:
    """Draw the logic tree a strategy file compiles into.

    Each condition shows its source, its staleness limit (max age) and its line in the file;
    the headings say how many rules must pass and what each veto blocks.
    """
    try:
        compiled = load(strategy)
    except StrategyError as exc:
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)
    out = _console()
    if as_json:
        from signalops.explain import tree_to_dict

        out.print_json(json.dumps(tree_to_dict(compiled)))
        return
    for line in strategy_header(compiled):
        out.print(line)
    for line in draw_tree(compiled.tree, file_name=str(strategy)):
        out.print(line)


@cli.command()
@click.argument("source", required=False)
def metrics(source: str | None) -> None:
    """List the metrics strategies may use, with parameters, unit and description.

    \b
    Example:
      signalops metrics technical
    """
    out = _console()
    sources = BUILTIN.sources
    if source is not None and source not in sources:
        _console(stderr=True).print(
            Text("error: ", style="bold red")
            + Text(f"unknown source '{source}' (one of: {', '.join(sources)})")
        )
        sys.exit(1)
    for name, catalogue in sources.items():
        if source is not None and name != source:
            continue
        out.print(Text(f"{name}", style="bold") + Text(f"  {catalogue.description}", style="dim"))
        for spec in catalogue.metrics.values():
            line = Text(f"  {spec.signature():<42}", style="cyan")
            line.append(f" {spec.unit:<15} ")
            line.append(spec.description, style="dim")
            if spec.aliases:
                line.append(f" (also: {', '.join(spec.aliases)})", style="dim")
            out.print(line)


@cli.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) of strategy files, e.g. for editor validation."""
    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


def main() -> None:
    cli(prog_name="signalops")
