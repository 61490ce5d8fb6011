"""Commands about strategy files: validate, explain, metrics, adapters, schema, evaluate."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signalops.cli import output
from signalops.cli.params import (
    CONFIG_OPTION,
    DATA_OPTION,
    VENUE_OPTION,
    default_config,
    parse_time,
    snapshots,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.catalogue.spec import SourceCatalogue
    from signalops.strategy.check import FileCheck
    from signalops.venues import Venues


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@CONFIG_OPTION
@VENUE_OPTION
def validate(paths: tuple[Path, ...], config_file: Path | None, venue: str | None) -> None:
    """Check strategy files (or every *.yaml/*.yml under folders), and the config.

    A config file among them (signalops*.yaml, or only config sections) is checked against the
    config schema, and the strategies against it.

    Every problem is printed as FILE:LINE:COLUMN: PATH: MESSAGE (HINT). Exits 0 when every file
    is valid, 1 otherwise. A strategy asset that no configured venue serves is a warning (an
    asset on a Polymarket venue is served when its symbol is the CLOB token id of the outcome it
    trades), and so is a news feed a condition names that the config does not (a replay may have
    recorded it).

    \b
    Example:
      signalops validate strategies/ my_strategy.yaml
    """
    from signalops.adapters import registry
    from signalops.config import load_config
    from signalops.strategy.check import check_files
    from signalops.workspace import with_venue

    checks = check_files(paths, registry.catalogue())
    # A config file checked here (without --config) is the one the strategies are checked against.
    checked = [check.config for check in checks if check.config is not None]
    if config_file is None and checked:
        settings = with_venue(checked[0], venue)
    else:
        settings = with_venue(load_config(config_file or default_config()), venue)
    status = output.validated(checks)
    output.warnings(_venue_warnings(checks, settings.venues))
    output.warnings(_feed_warnings(checks, settings.news.feeds))
    sys.exit(status)


def _venue_warnings(checks: Sequence[FileCheck], venues: Venues) -> Iterator[str]:
    """The strategy assets no configured venue serves. An asset on a Polymarket venue is served
    (its price is its outcome token's) when it trades as a CLOB token id, which is a number;
    one mapped there under another symbol is told to give the token."""
    from signalops.venues import VenueKind

    for check in checks:
        for asset in check.strategy.assets if check.strategy is not None else ():
            venue = venues.venue_of(asset)
            if venue is not None and venue.kind is VenueKind.POLYMARKET:
                from signalops.adapters.polymarket import asset_token

                token = asset_token(venues, asset)
                if token.isdigit():
                    continue
                if asset in venues.assets:
                    yield (
                        f"{check.file}: asset {asset} is on Polymarket venue '{venue.name}' but "
                        f"'{token}' is not a CLOB token id: give the token of the outcome it "
                        f"trades as its symbol (assets: {{{asset}: {{venue: {venue.name}, "
                        "symbol: TOKEN_ID}})"
                    )
                    continue
            if not venues.serves(asset):
                yield f"{check.file}: no configured venue serves asset {asset}"


def _feed_warnings(checks: Sequence[FileCheck], feeds: Mapping[str, str] | None) -> Iterator[str]:
    """The news feeds conditions name that ``feeds`` does not have. The news adapter (feedparser,
    httpx) is imported only when some strategy has a news condition."""
    from signalops.catalogue.builtin import NEWS

    wanted = [
        (check.file, requests)
        for check in checks
        if check.strategy is not None and check.strategy.assets
        for requests in [check.strategy.requests(check.strategy.assets[0])]
        if any(request.source == NEWS.source for request in requests)
    ]
    if not wanted:
        return
    from signalops.adapters.news import feed_problems

    for file, requests in wanted:
        for problem in feed_problems(requests, feeds):
            yield f"{file}: {problem}"


@click.command()
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
    from signalops.adapters import registry
    from signalops.explain import strategy_lines, tree_to_dict
    from signalops.strategy import load

    compiled = load(strategy, registry.catalogue())
    if as_json:
        output.json_out(tree_to_dict(compiled), ascii_only=False)
        return
    output.lines(strategy_lines(tree_to_dict(compiled)))


def _sources(source: str | None) -> dict[str, SourceCatalogue]:
    from signalops.adapters import registry

    sources = registry.catalogue().sources
    if source is not None and source not in sources:
        raise InputError(f"unknown source '{source}' (one of: {', '.join(sources)})")
    return {n: c for n, c in sources.items() if source is None or n == source}


@click.command()
@click.argument("source", required=False)
def metrics(source: str | None) -> None:
    """List the metrics strategies may use, with parameters, unit and description.

    Where a source has several providers (fundamentals: yfinance snapshots and SEC EDGAR facts),
    a line under the metric says which one answers live and which in a replay (backtest,
    evaluate).

    \b
    Example:
      signalops metrics technical
      signalops metrics fundamental
    """
    output.catalogue(_sources(source))


@click.command()
@click.argument("source", required=False)
def adapters(source: str | None) -> None:
    """List every data adapter (built-in and plugins) with its metrics, and for a metric with
    several providers which one answers live and which in a replay.

    Plugins register under the entry-point group 'signalops.adapters'.

    \b
    Example:
      signalops adapters onchain
    """
    from signalops.adapters import registry

    output.catalogue(_sources(source), kinds=registry.BUILTIN)


@click.command()
def schema() -> None:
    """Print the JSON Schema (2020-12) of strategy files, e.g. for editor validation.

    \b
    Example:
      signalops schema > strategy.schema.json
    """
    from signalops.strategy import schema_path

    click.echo(schema_path().read_text(encoding="utf-8"), nl=False)


@click.command("evaluate")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--at", "at", required=True, help="Decision time: 2023-03-12 or 2023-03-12T09:00Z.")
@click.option("--asset", help="Asset to evaluate (default: every asset of the strategy).")
@DATA_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the full trace as JSON.")
@CONFIG_OPTION
@VENUE_OPTION
def evaluate_command(
    strategy: Path,
    at: str,
    asset: str | None,
    data_dir: Path,
    as_json: bool,
    config_file: Path | None,
    venue: str | None,
) -> None:
    """Evaluate a strategy at a past time on replayed real data, and show the traced tree.

    Each condition shows PASS, FAIL or UNKNOWN with the value it saw, the data's timestamp and
    age; vetoes show whether they block. Nothing is traded.

    \b
    Example:
      signalops data import
      signalops evaluate strategies/banking_crisis_dip.yaml --at 2023-03-12
    """
    from signalops.adapters import gather, registry
    from signalops.config import load_config
    from signalops.explain import evaluation_lines, tree_to_dict
    from signalops.strategy import load
    from signalops.workspace import with_venue

    as_of = parse_time(at)
    settings = with_venue(load_config(config_file or default_config()), venue)
    compiled = load(strategy, registry.catalogue())
    adapters = registry.replay_adapters(
        snapshots(data_dir), venues=settings.venues, news_feeds=settings.news.feeds
    )
    doc = tree_to_dict(compiled)
    for name in [asset] if asset else list(compiled.assets):
        evaluation = gather.evaluate(compiled, name, as_of, adapters)
        if as_json:
            output.json_out(evaluation.to_dict())
            continue
        output.lines(evaluation_lines(doc, evaluation.to_dict()))
