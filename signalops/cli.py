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


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


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
      signalops validate strategies/           check every strategy file, with line:column errors
      signalops explain strategies/x.yaml      draw the logic tree a file compiles into
      signalops metrics                        list every metric a strategy may use
      signalops schema > strategy.schema.json  the JSON Schema, for editor completion
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
        where = ", ".join(str(p) for p in paths)
        err.print(
            Text("error: ", style="bold red")
            + Text(f"no strategy files (*.yaml, *.yml) found in {where}")
        )
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
        summary = ", ".join(
            (
                _count(len(tree.entry.children), "entry rule"),
                _count(len(tree.exit.children) if tree.exit else 0, "exit rule"),
                _count(len(tree.vetoes), "veto", "vetoes"),
                _count(len(tree.leaves()), "condition"),
            )
        )
        line = Text("ok ", style="bold green")
        line.append(f"{file}")
        line.append(f"  {strategy.name}: {summary}", style="dim")
        out.print(line)
    total = len(files)
    verdict = f"{_count(total, 'file')}: {total - invalid} valid"
    if invalid:
        verdict += f", {invalid} invalid ({_count(problems, 'error')})"
    out.print(Text(verdict, style="bold"))
    sys.exit(1 if invalid else 0)


@cli.command()
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the compiled tree as JSON.")
def explain(strategy: Path, as_json: bool) -> None:
    """Draw the logic tree a strategy file compiles into.

    Each condition shows its source, its staleness limit (max age) and its line in the file;
    the headings say how many rules must pass and what each veto blocks.

    \b
    Example:
      signalops explain strategies/event_filter.yaml
      signalops explain --json strategies/event_filter.yaml
    """
    try:
        compiled = load(strategy)
    except StrategyError as exc:
        _print_strategy_error(exc, _console(stderr=True))
        sys.exit(1)
    out = _console()
    if as_json:
        from signalops.explain import tree_to_dict

        # Plain text, never styled: this output is for jq and other programs.
        click.echo(json.dumps(tree_to_dict(compiled), indent=2, ensure_ascii=False))
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
    shown = {n: c for n, c in sources.items() if source is None or n == source}
    specs = [spec for c in shown.values() for spec in c.metrics.values()]
    width = max(len(spec.signature()) for spec in specs)
    unit_width = max(len(spec.unit) for spec in specs)
    for name, catalogue in shown.items():
        out.print(Text(f"{name}", style="bold") + Text(f"  {catalogue.description}", style="dim"))
        for spec in catalogue.metrics.values():
            line = Text(f"  {spec.signature():<{width}}", style="cyan")
            line.append(f"  {spec.unit:<{unit_width}}  ")
            line.append(spec.description, style="dim")
            if spec.aliases:
                line.append(f" (also: {', '.join(spec.aliases)})", style="dim")
            out.print(line)


@cli.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) of strategy files, e.g. for editor validation.

    \b
    Example:
      signalops schema > strategy.schema.json
    """
    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


def main() -> None:
    # A console that cannot encode the tree characters (e.g. a legacy Windows code page when
    # piping, or PYTHONIOENCODING=ascii) gets '?' instead of a UnicodeEncodeError traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    cli(prog_name="signalops")
