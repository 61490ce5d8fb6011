"""The ``signalops`` command: parse arguments, call one library function, render the result.

No decision logic lives here. Library errors become ``error: ...`` on stderr and exit status 1;
a traceback only ever means a bug in SignalOps.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from signalops import __version__, engine
from signalops.adapters import registry
from signalops.adapters.bundled import DEFAULT_DATA_DIR, DEFAULT_SNAPSHOT_DIR, import_bundled
from signalops.adapters.store import SnapshotStore
from signalops.errors import SignalOpsError, StrategyError
from signalops.explain import draw_tree, iso, strategy_header
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
            strategy = load(file, registry.catalogue())
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
        compiled = load(strategy, registry.catalogue())
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


def _print_catalogue(source: str | None, *, with_adapters: bool) -> None:
    out = _console()
    sources = registry.catalogue().sources
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
        head = Text(f"{name}", style="bold")
        if with_adapters:
            head.append(f"  {registry.BUILTIN.get(name, 'plugin')}", style="magenta")
        out.print(head + Text(f"  {catalogue.description}", style="dim"))
        for spec in catalogue.metrics.values():
            line = Text(f"  {spec.signature():<{width}}", style="cyan")
            line.append(f"  {spec.unit:<{unit_width}}  ")
            line.append(spec.description, style="dim")
            if spec.aliases:
                line.append(f" (also: {', '.join(spec.aliases)})", style="dim")
            out.print(line)


@cli.command()
@click.argument("source", required=False)
def metrics(source: str | None) -> None:
    """List the metrics strategies may use, with parameters, unit and description.

    \b
    Example:
      signalops metrics technical
    """
    _print_catalogue(source, with_adapters=False)


@cli.command()
@click.argument("source", required=False)
def adapters(source: str | None) -> None:
    """List every data adapter (built-in and plugins) with its metrics.

    Plugins register under the entry-point group 'signalops.adapters'.

    \b
    Example:
      signalops adapters onchain
    """
    _print_catalogue(source, with_adapters=True)


def _parse_time(text: str) -> datetime:
    """``2023-03-12`` (midnight UTC) or an ISO-8601 time; naive times are UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a date or ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@cli.command("evaluate")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--at", "at", required=True, help="Decision time: 2023-03-12 or 2023-03-12T09:00Z.")
@click.option("--asset", help="Asset to evaluate (default: every asset of the strategy).")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=DEFAULT_SNAPSHOT_DIR,
    show_default=True,
    help="Replay snapshot folder (made by 'signalops data import').",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full trace as JSON.")
def evaluate_command(
    strategy: Path, at: str, asset: str | None, data_dir: Path, as_json: bool
) -> None:
    """Evaluate a strategy at a past time on replayed real data, and show the traced tree.

    Each condition shows PASS, FAIL or UNKNOWN with the value it saw, the data's timestamp and
    age; vetoes show whether they block. Nothing is traded.

    \b
    Example:
      signalops data import
      signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-12
    """
    as_of = _parse_time(at)
    err = _console(stderr=True)
    try:
        compiled = load(strategy, registry.catalogue())
    except StrategyError as exc:
        _print_strategy_error(exc, err)
        sys.exit(1)
    if not data_dir.is_dir():
        err.print(
            Text("error: ", style="bold red")
            + Text(f"{data_dir}: no snapshot folder (run 'signalops data import' first)")
        )
        sys.exit(1)
    adapters = registry.replay_adapters(SnapshotStore(data_dir))
    out = _console()
    assets = [asset] if asset else list(compiled.assets)
    for name in assets:
        evaluation = engine.evaluate(compiled, name, as_of, adapters)
        if as_json:
            click.echo(json.dumps(evaluation.trace.to_dict(evaluation), indent=2))
            continue
        head = Text(f"{compiled.name} · {name} · {iso(as_of)}: ", style="bold")
        head.append(str(evaluation.verdict), style=f"bold {_VERDICT_STYLE[evaluation.verdict]}")
        if evaluation.blocked_by:
            head.append(f" ({evaluation.action} blocked by {', '.join(evaluation.blocked_by)})")
        out.print(head)
        for note in evaluation.conflicts:
            out.print(Text(f"conflict: {note}", style="magenta"))
        for line in draw_tree(compiled.tree, evaluation.trace, file_name=str(strategy)):
            out.print(line)


_VERDICT_STYLE = {"BUY": "green", "SELL": "red", "HOLD": "blue", "BLOCKED": "magenta"}


@cli.group()
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
    out, err = _console(), _console(stderr=True)
    try:
        with err.status("importing...") as status:
            results = import_bundled(
                data_dir,
                out_dir,
                sources=sources or None,
                on_source=lambda s: status.update(f"importing {s}..."),
            )
    except SignalOpsError as exc:
        err.print(Text("error: ", style="bold red") + Text(str(exc)))
        sys.exit(1)
    for result in results:
        line = Text(f"{result.source:<12}", style="bold")
        line.append(f"{result.records:>9,} points in {result.series:>4} series  ")
        line.append(str(result.path), style="dim")
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
