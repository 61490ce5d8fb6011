"""Commands about strategy files: validate, explain, metrics, adapters, schema, evaluate."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from signalops.cli import output
from signalops.cli.params import (
    CONFIG_OPTION,
    DATA_OPTION,
    DEFAULT_DATA_DIR,
    VENUE_OPTION,
    default_config,
    parse_time,
    snapshots,
)
from signalops.errors import InputError

if TYPE_CHECKING:
    from signalops.catalogue.spec import SourceCatalogue
    from signalops.config import Config
    from signalops.errors import StrategyError
    from signalops.evaluation.nodes import Metric, Predicate
    from signalops.strategy._yaml import Document, Mark
    from signalops.strategy._yaml import Path as Key
    from signalops.strategy.check import FileCheck
    from signalops.venues import Venues


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@CONFIG_OPTION
@VENUE_OPTION
@DATA_OPTION
def validate(
    paths: tuple[Path, ...], config_file: Path | None, venue: str | None, data_dir: Path
) -> None:
    """Check strategy files (or every *.yaml/*.yml under folders), and the config.

    A config file among them (signalops*.yaml, or only config sections) is checked against the
    config schema, and the strategies against it.

    Every problem is printed as FILE:LINE:COLUMN: PATH: MESSAGE (HINT). Exits 0 when every file
    is valid, 1 otherwise. A threshold a metric can never meet (rsi(14) > 150, a Polymarket
    price > 60) or written in a unit the metric does not use (rsi(14) < 30%) is an error, and so
    is a window that is not a whole number of the metric's candles (return(36h) on daily
    candles); a threshold that only looks like another unit (rsi(14) < 0.3) is a warning, and so
    are two comparisons of one metric that must pass together but never can (rsi(14) < 30 and
    rsi(14) > 70), a stablecoin or chain an on-chain condition names that most likely misspells
    one DeFiLlama lists ('USCD': did you mean 'USDC'?), and a Polymarket market no data is
    recorded of, in --data or the bundled data (a replay finds it UNKNOWN; a live run may know
    it), with the recorded market it most likely means, and fundamental conditions in a strategy
    whose assets are all crypto (fundamentals exist for stocks only: they can never pass), and
    assets that look like stocks (read by fundamentals, or stocks in the bundled data) but go
    to a crypto exchange, with the config entries that put them on a yfinance venue. A
    strategy asset that no configured
    venue serves is a warning, with the configured asset it most likely means (an asset on a
    Polymarket venue is served when its symbol is the CLOB token id of the outcome it trades),
    and so are assets whose venues quote different currencies, or another than paper.quote
    (one account cannot hold them: run and backtest refuse them; of a config alone, its listed
    assets), a news feed a condition names that the config does not (a replay may have
    recorded it), a notify-mode strategy when the config has no notify webhooks (nobody would be
    told), and a strategy on stocks
    (a yfinance venue) whose leaves read daily candles with a max age under 4d (Friday's close is
    older than that on Mondays and after holidays: those leaves would be UNKNOWN). An invalid
    config is reported with the files; the strategies are still checked, but not against it.
    The warnings follow the errors; a file with errors in its conditions has the warnings of
    the others told too.

    \b
    Example:
      signalops validate strategies/ my_strategy.yaml
    """
    from signalops.adapters import registry
    from signalops.strategy.check import check_files
    from signalops.workspace import with_venue

    checks = check_files(paths, registry.catalogue(), config_file)
    checks, settings, config_name = _config_of(checks, config_file)
    if settings is not None:
        settings = with_venue(settings, venue)
    status = output.validated(checks)
    output.warnings(_threshold_warnings(checks))
    if settings is not None and not any(check.is_config for check in checks):
        # The config named by --config (or found) is not among the files: its own warnings.
        output.warnings(_excerpted(settings.warnings))
    output.warnings(_onchain_warnings(checks))
    output.warnings(_market_warnings(checks, data_dir))
    output.warnings(
        _crypto_fundamentals_warnings(checks, None if settings is None else settings.venues)
    )
    if settings is None:
        skipped = "venues and news feeds of the strategies not checked"
        output.warnings([f"{skipped}: the config {config_name} is invalid"])
    else:
        stocks = _stocks_on_crypto(checks, settings.venues)
        output.warnings(_venue_warnings(checks, settings.venues))
        output.warnings(_stock_warnings(stocks, settings.venues))
        output.warnings(_quote_warnings(checks, settings, stocks))
        output.warnings(_weekend_warnings(checks, settings.venues))
        output.warnings(_loose_limit_warnings(checks, settings))
        output.warnings(_setup_warnings(checks, settings))
        output.warnings(_feed_warnings(checks, settings.news.feeds))
        if not settings.notify.webhooks:
            output.warnings(_unheard_warnings(checks))
    sys.exit(status)


def _config_of(
    checks: list[FileCheck], config_file: Path | None
) -> tuple[list[FileCheck], Config | None, str]:
    """The checks to report, the config the strategies are checked against (None when it is
    invalid) and its name.

    A config file among the checked ones (without --config) is that config; else --config,
    $SIGNALOPS_CONFIG or ./signalops.yaml. The strategies do not depend on it (only the venue
    and feed warnings do), so an invalid one is reported as one more invalid file rather than
    in the place of the files' report.
    """
    from signalops.config import load_config
    from signalops.errors import ConfigError
    from signalops.strategy.check import FileCheck

    named = [check for check in checks if check.is_config]
    if config_file is None and named:
        return checks, named[0].config, str(named[0].file)
    file = config_file or default_config()
    try:
        return checks, load_config(file), str(file)
    except ConfigError as error:
        if not any(_same_file(check.file, file) for check in named):
            checks = [FileCheck(Path(str(file)), error=error, is_config=True), *checks]
        return checks, None, str(file)


def _same_file(a: Path, b: str | Path | None) -> bool:
    return b is not None and a.resolve() == Path(b).resolve()


def _threshold_warnings(checks: Sequence[FileCheck]) -> Iterator[str]:
    """What the compiler found odd in strategies (rsi(14) < 0.3), and what a config file says
    that most likely is not meant (a symbol not written BASE/QUOTE), each with its source line
    and caret: a file with errors too has them told (after the errors)."""
    for check in checks:
        yield from _excerpted(check.warnings)


def _excerpted(warnings: Iterable[StrategyError]) -> Iterator[str]:
    for warning in warnings:
        yield f"{warning}\n{warning.excerpt}" if warning.excerpt else str(warning)


def _onchain_warnings(checks: Sequence[FileCheck]) -> Iterator[str]:
    """The stablecoins and chains on-chain conditions name that most likely misspell one
    DeFiLlama lists (``signalops.adapters.defillama_names.misspelling``), each at the argument that
    names it. A warning, not an error: a coin listed since the bundled list may be real. The
    adapter is imported only when some strategy reads on-chain data. The conditions that
    compiled are checked, in a file with errors too."""
    from signalops.catalogue.builtin import ONCHAIN

    for check in checks:
        leaves = [
            (leaf, metric)
            for leaf in check.leaves
            for metric in leaf.metrics
            if metric.source == ONCHAIN.source
        ]
        found = list(_misspelt(check.file, leaves)) if leaves else []
        for warning in sorted(found, key=lambda w: (w.line, w.column)):
            yield f"{warning}\n{warning.excerpt}"


def _misspelt(file: Path, leaves: list[tuple[Predicate, Metric]]) -> Iterator[StrategyError]:
    from signalops.adapters.defillama_names import misspelling
    from signalops.strategy._yaml import load_yaml, read_source

    doc = load_yaml(read_source(file, "strategy"), str(file))  # the compiler read it: it reads
    told: set[tuple[int, int]] = set()  # a defaults.params entry once, whatever leaves use it
    for leaf, metric in leaves:
        for param, value in metric.params:
            problem = misspelling(param, value) if isinstance(value, str) else None
            if problem is None:
                continue
            path, mark = _written_at(doc, leaf, metric, param)
            if (mark.line, mark.column) not in told:
                told.add((mark.line, mark.column))
                yield doc.error(problem[0], path, at=mark, hint=problem[1])


def _market_warnings(checks: Sequence[FileCheck], data_dir: Path) -> Iterator[str]:
    """The Polymarket markets conditions name that no data is recorded of, in ``data_dir`` or
    the bundled data, each at the place that names it, with the recorded market it most likely
    means (else how to record it). A warning, not an error: a live run asks Polymarket, which
    knows markets nothing recorded yet; a replay or backtest finds such a leaf UNKNOWN at every
    bar. Nothing is asked of the network; the adapter is imported only when some strategy reads
    Polymarket."""
    named = [(check.file, _market_leaves(check)) for check in checks]
    if not any(leaves for _, leaves in named):
        return
    from signalops.errors import AdapterError

    wanted = {str(dict(m.params)["market"]) for _, leaves in named for _, m in leaves}
    try:
        known = _recorded_markets(data_dir, wanted)
    except AdapterError as error:  # a damaged snapshot: said once, nothing checked
        yield f"the Polymarket markets of the strategies are not checked: {error.message}"
        return
    for file, leaves in named:
        found = list(_unrecorded(file, leaves, known, data_dir)) if leaves else []
        for warning in sorted(found, key=lambda w: (w.line, w.column)):
            yield f"{warning}\n{warning.excerpt}"


def _market_leaves(check: FileCheck) -> list[tuple[Predicate, Metric]]:
    from signalops.catalogue.builtin import POLYMARKET

    return [
        (leaf, metric)
        for leaf in check.leaves
        for metric in leaf.metrics
        if metric.source == POLYMARKET.source and "market" in dict(metric.params)
    ]


def _recorded_markets(data_dir: Path, wanted: set[str]) -> set[str]:
    """The names of the markets recorded in ``data_dir`` (read without their points), and when
    ``wanted`` is not all among them, in the bundled data too (what ``signalops data import``
    records there: examples/data, else the sample signalops carries; the adapter parses it)."""
    from signalops.adapters.market_names import names_in, recorded_names

    known = names_in(data_dir)
    if wanted <= known:
        return known
    from signalops.adapters.polymarket import import_bundled

    bundled = _bundled_data()
    return known | recorded_names((key, value) for key, _, value in import_bundled(bundled))


def _bundled_data() -> Path:
    """The bundled real data: examples/data in a checkout, else the sample signalops carries."""
    from signalops.starter import sample_dir

    return DEFAULT_DATA_DIR if DEFAULT_DATA_DIR.is_dir() else sample_dir()


def _unrecorded(
    file: Path, leaves: list[tuple[Predicate, Metric]], known: set[str], data_dir: Path
) -> Iterator[StrategyError]:
    from signalops.strategy._yaml import load_yaml, read_source

    doc = load_yaml(read_source(file, "strategy"), str(file))
    told: set[tuple[int, int]] = set()  # a $param once, however many conditions use it
    for leaf, metric in leaves:
        market = str(dict(metric.params)["market"])
        if market in known:
            continue
        path, mark = _written_at(doc, leaf, metric, "market")
        if (mark.line, mark.column) in told:
            continue
        told.add((mark.line, mark.column))
        message, hint = _unrecorded_market(market, known, data_dir)
        yield doc.error(message, path, at=mark, hint=hint)


def _unrecorded_market(market: str, known: set[str], data_dir: Path) -> tuple[str, str]:
    """The warning of a Polymarket market not among the ``known`` recorded ones, and its hint:
    the recorded market it most likely means, else how to record it."""
    import difflib

    from signalops.adapters import hints

    folded = {name.casefold(): name for name in sorted(known)}
    # Above the schema's 0.6: market ids are 6-digit numbers much alike, and at 0.6 any id
    # would be told of a recorded one sharing three digits.
    close = difflib.get_close_matches(market.casefold(), list(folded), n=1, cutoff=0.8)
    hint = (
        f"did you mean '{folded[close[0]]}'?"
        if close
        else hints.provide("polymarket", market, to=data_dir)
    )
    return (
        f"no data of Polymarket market '{market}' is recorded in {data_dir}: its conditions "
        "are UNKNOWN at every bar of a replay or backtest, though a live run may find it",
        hint,
    )


def unrecorded_markets(markets: Iterable[str], data_dir: Path) -> dict[str, str]:
    """``validate``'s warning of each of ``markets`` that no data is recorded of, in
    ``data_dir`` or the bundled data: market -> ``PROBLEM (HINT)``. A snapshot that does not
    read is not checked (what reads it says why)."""
    from signalops.errors import AdapterError

    wanted = set(markets)
    try:
        known = _recorded_markets(data_dir, wanted)
    except AdapterError:
        return {}
    found = {}
    for market in sorted(wanted - known):
        message, hint = _unrecorded_market(market, known, data_dir)
        found[market] = f"{message} ({hint})"
    return found


def _crypto_fundamentals_warnings(
    checks: Sequence[FileCheck], venues: Venues | None
) -> Iterator[str]:
    """A strategy trading only crypto assets (``KNOWN_CRYPTO``) whose conditions read
    fundamentals: the fundamental adapter answers those NOT_APPLICABLE for every asset, so they
    can never pass. One warning a file, at the first such metric, counting the others; none when
    some asset may be a stock (one ``venues`` trades on a yfinance venue is one: SUI is Sun
    Communities there). The conditions that compiled are checked, in a file with errors too."""
    from signalops.catalogue.builtin import FUNDAMENTAL

    for check in checks:
        leaves = [
            (leaf, metric)
            for leaf in check.leaves
            for metric in leaf.metrics
            if metric.source == FUNDAMENTAL.source
        ]
        if leaves:
            warning = _fundamentals_of_crypto(check.file, leaves, venues)
            if warning is not None:
                yield f"{warning}\n{warning.excerpt}"


def _fundamentals_of_crypto(
    file: Path, leaves: list[tuple[Predicate, Metric]], venues: Venues | None
) -> StrategyError | None:
    from signalops.catalogue.builtin import KNOWN_CRYPTO, base_symbol
    from signalops.numbers import counted, listed
    from signalops.strategy._yaml import load_yaml, read_source

    doc = load_yaml(read_source(file, "strategy"), str(file))  # it compiled: it reads again
    assets = [str(asset) for asset in doc.data["strategy"].get("assets") or ()]
    stocks = frozenset() if venues is None else venues.on_stock_venues(assets)
    crypto = [a for a in assets if base_symbol(a) in KNOWN_CRYPTO and a not in stocks]
    if not assets or len(crypto) < len(assets):
        return None
    places: dict[tuple[int, int], tuple[Key, Mark, Metric]] = {}
    for leaf, metric in leaves:  # a $param or a repeated leaf is one place
        path, mark = _metric_written_at(doc, leaf, metric)
        places.setdefault((mark.line, mark.column), (path, mark, metric))
    path, mark, metric = places[min(places)]
    more = len(places) - 1
    what = (
        f"the conditions on {metric.name} and {counted(more, 'more fundamental metric')}"
        if more
        else f"the condition on {metric.name}"
    )
    kind = "crypto assets" if len(assets) > 1 else "a crypto asset"
    return doc.error(
        f"{what} can never pass: {listed(assets)} "
        f"{'are' if len(assets) > 1 else 'is'} {kind}, and fundamentals exist for stocks only "
        "(NOT_APPLICABLE at every decision)",
        path,
        at=mark,
    )


def _metric_written_at(doc: Document, leaf: Predicate, metric: Metric) -> tuple[Key, Mark]:
    """Where ``leaf`` names ``metric``: a condition's ``metric:`` value, or the reference in its
    ``when:`` expression (by name or alias); else the leaf itself."""
    from signalops.strategy import expression as ex
    from signalops.strategy._yaml import Mark, format_path

    names = {metric.name, *(metric.spec.aliases if metric.spec else ())}
    for path in (p for p in doc.values if format_path(p) == leaf.path):
        condition = doc.data
        for step in path:
            condition = condition[step]
        if not isinstance(condition, dict):
            continue
        if (*path, "metric") in doc.values:
            return (*path, "metric"), doc.mark((*path, "metric"))
        if isinstance(condition.get("when"), str):
            nodes: list[ex.Node] = [ex.parse(condition["when"])]
            refs: list[ex.Ref] = []
            while nodes:
                node = nodes.pop()
                nodes.extend(ex.children(node))
                if isinstance(node, ex.Ref) and node.segments[-1].name in names:
                    head = node.segments[:-1]
                    if not head or head[0].name == metric.source:
                        refs.append(node)
            if refs:
                first = min(refs, key=lambda ref: ref.start)
                return (*path, "when"), doc.offset_mark((*path, "when"), first.start)
    return (), Mark(leaf.span.line, leaf.span.column, 0)


def _written_at(doc: Document, leaf: Predicate, metric: Metric, param: str) -> tuple[Key, Mark]:
    """Where the file gives ``metric``'s ``param`` in ``leaf``: the argument of its ``when:``
    expression (or the strategy param a ``$name`` there refers to), its ``params:`` entry, a
    market condition's own key (``market:``, or the strategy param its ``$name`` refers to), or
    ``defaults.params``; else the leaf itself."""
    from signalops.strategy._yaml import Mark, format_path

    for path in (p for p in doc.values if format_path(p) == leaf.path):
        condition = doc.data
        for step in path:
            condition = condition[step]
        if not isinstance(condition, dict):
            continue
        entry = (*path, "params", param)
        if entry in doc.values:
            return entry, doc.mark(entry)
        own = (*path, param)
        if own in doc.values:
            value = condition[param]
            named: Key = ("strategy", "params", str(value)[1:])
            if isinstance(value, str) and value.startswith("$") and named in doc.values:
                return named, doc.mark(named)
            return own, doc.mark(own)
        if isinstance(condition.get("when"), str):
            found = _argument(doc, (*path, "when"), condition["when"], metric, param)
            if found is not None:
                return found
    default = ("strategy", "defaults", "params", param)
    if default in doc.values:
        return default, doc.mark(default)
    return (), Mark(leaf.span.line, leaf.span.column, 0)


def _argument(
    doc: Document, path: Key, text: str, metric: Metric, param: str
) -> tuple[Key, Mark] | None:
    """Where the ``when:`` expression ``text`` at ``path`` writes ``param`` of a call of
    ``metric``: the quoted name, or the strategy param a ``$name`` refers to."""
    from signalops.strategy import expression as ex

    value = dict(metric.params)[param]
    names = [p.name for p in metric.spec.params] if metric.spec else []
    nodes: list[ex.Node] = [ex.parse(text)]
    while nodes:
        node = nodes.pop()
        nodes.extend(ex.children(node))
        if not isinstance(node, ex.Ref) or node.segments[-1].name != metric.name:
            continue
        # As the compiler reads a call: polymarket('x').yes gives its source's arguments too.
        *head, tail = node.segments
        if head and (len(head) > 1 or head[0].name != metric.source):
            continue
        args = [*(head[0].args or () if head else ()), *(tail.args or ())]
        for index, arg in enumerate(args):
            if (arg.name or (names[index] if index < len(names) else None)) != param:
                continue
            if isinstance(arg.value, ex.Str) and arg.value.value == value:
                return path, doc.offset_mark(path, arg.value.start)
            if isinstance(arg.value, ex.Param) and _param_value(doc, arg.value.name) == value:
                named: Key = ("strategy", "params", arg.value.name)
                return named, doc.mark(named)
    return None


def _param_value(doc: Document, name: str) -> object:
    params = doc.data["strategy"].get("params")
    return params.get(name) if isinstance(params, dict) else None


def _venue_warnings(checks: Sequence[FileCheck], venues: Venues) -> Iterator[str]:
    """The strategy assets no configured venue serves, or serves under a name most likely
    meant as another (``_venue_problem``), one warning each."""
    for check in checks:
        for asset in check.strategy.assets if check.strategy is not None else ():
            problem = _venue_problem(check.file, asset, venues)
            if problem is not None:
                yield problem


def _venue_problem(file: Path, asset: str, venues: Venues) -> str | None:
    """Why ``asset`` of the strategy in ``file`` is not where it is meant to trade; None when
    nothing says so. An asset on a Polymarket venue is served (its price is its outcome
    token's) when it trades as a CLOB token id, which is a number; one mapped there under
    another symbol is told to give the token. An asset the config maps under another spelling
    gets a did-you-mean (``APPL``, ``aapl`` -> ``AAPL``)."""
    from signalops.textmatch import closest, spelled
    from signalops.venues import VenueKind

    venue = venues.venue_of(asset)
    if venue is not None and venue.kind is VenueKind.POLYMARKET:
        from signalops.adapters.polymarket import asset_token

        token = asset_token(venues, asset)
        if token.isdigit():
            return None
        if asset in venues.assets:
            return (
                f"{file}: asset {asset} is on Polymarket venue '{venue.name}' but "
                f"'{token}' is not a CLOB token id: give the token of the outcome it "
                f"trades as its symbol (assets: {{{asset}: {{venue: {venue.name}, "
                "symbol: TOKEN_ID}})"
            )
    same = spelled(asset, venues.assets)
    if same != asset and venue is not None:
        # 'mrvl' beside a configured MRVL: the default venue takes it, silently.
        return (
            f"{file}: asset {asset} is not the configured {same} (asset names are "
            f"case-sensitive): it goes to {venue.name} {venues.symbol_of(asset)}; "
            f"write {same}"
        )
    if not venues.serves(asset):
        meant = closest(asset, venues.assets)
        hint = f" (did you mean '{meant}'?)" if meant else ""
        return f"{file}: no configured venue serves asset {asset}{hint}"
    # Three-letter tickers one letter apart are often both real (ARB, ARM): not those.
    near = asset not in venues.assets and len(asset) >= 4
    meant = closest(asset, venues.assets) if near else None
    other = None if meant is None else venues.venue_of(meant)
    if venue is not None and other is not None and other.kind is not venue.kind:
        # 'APPL' beside a configured AAPL on a stock venue: the default crypto exchange
        # takes it and finds no market. A near name of the same kind (ETH beside a
        # configured ETC) is most likely its own asset.
        return (
            f"{file}: asset {asset} is not among the configured assets (did you "
            f"mean '{meant}', on {other.name}?): it goes to {venue.name} "
            f"{venues.symbol_of(asset)}"
        )
    return None


def _quote_warnings(
    checks: Sequence[FileCheck], config: Config, stocks: Mapping[Path, Stocks]
) -> Iterator[str]:
    """Money in different currencies that one paper account would add up (``run`` and
    ``backtest`` refuse it: ``Config.check_quotes``): each strategy's assets against the
    config; without a strategy, the assets the config lists, whose runs share its audit log."""
    strategies = [check for check in checks if check.strategy is not None]
    for check in strategies:
        assert check.strategy is not None
        # An asset already warned of goes elsewhere than meant ('aapl' to Binance beside
        # the configured AAPL, KO to Binance as a coin): its venue's quote is not the
        # strategy's mistake to repeat.
        misrouted = stocks[check.file].assets if check.file in stocks else ()
        routed = [
            asset
            for asset in check.strategy.assets
            if asset not in misrouted and _venue_problem(check.file, asset, config.venues) is None
        ]
        problem = config.quote_problem(routed)
        if problem is not None:
            yield f"{check.file}: {problem} (backtest and run refuse it)"
    if not strategies:
        problem = config.quote_problem(list(config.venues.assets))
        if problem is not None:
            where = config.file or "the config"
            yield f"{where}: {problem} (backtest and run refuse them together)"


@dataclass(frozen=True)
class Stocks:
    """A strategy's assets that look like stocks but go to a crypto exchange, and why they
    look so."""

    assets: tuple[str, ...]
    fundamentals: bool  # the strategy reads fundamentals; else the bundled data lists them


def _stocks_on_crypto(checks: Sequence[FileCheck], venues: Venues) -> dict[Path, Stocks]:
    """By strategy file, its assets a crypto exchange (a ccxt venue) takes though they look like
    stocks: not a known coin (``KNOWN_CRYPTO``), and read by fundamental conditions (which
    exist for stocks only: the other side of ``_crypto_fundamentals_warnings``) or a stock
    the bundled data has prices or fundamentals of. An asset with a venue warning of its own
    (``_venue_problem``) is left to it."""
    from signalops.catalogue.builtin import FUNDAMENTAL, KNOWN_CRYPTO, base_symbol
    from signalops.venues import VenueKind

    found: dict[Path, Stocks] = {}
    bundled: frozenset[str] | None = None  # read once, when a strategy needs it
    for check in checks:
        if check.strategy is None:
            continue
        crypto_venue = [
            asset
            for asset in check.strategy.assets
            for venue in [venues.venue_of(asset)]
            if venue is not None
            and venue.kind is VenueKind.CCXT
            and base_symbol(asset) not in KNOWN_CRYPTO
            and _venue_problem(check.file, asset, venues) is None
        ]
        if not crypto_venue:
            continue
        if any(m.source == FUNDAMENTAL.source for leaf in check.leaves for m in leaf.metrics):
            found[check.file] = Stocks(tuple(crypto_venue), fundamentals=True)
            continue
        bundled = _bundled_stocks() if bundled is None else bundled
        known = tuple(asset for asset in crypto_venue if base_symbol(asset) in bundled)
        if known:
            found[check.file] = Stocks(known, fundamentals=False)
    return found


def _bundled_stocks() -> frozenset[str]:
    """The stocks the bundled data knows (examples/data, else the sample signalops carries)."""
    from signalops.adapters.bundled import stock_tickers

    return stock_tickers(_bundled_data())


def _stock_warnings(stocks: Mapping[Path, Stocks], venues: Venues) -> Iterator[str]:
    """One line a strategy: its stocks on a crypto exchange, and how to put them on a yfinance
    venue (the config's own, when it has one)."""
    from signalops.numbers import listed
    from signalops.venues import VenueKind

    on_stocks = next((v for v in venues.venues.values() if v.kind is VenueKind.YFINANCE), None)
    name = "stocks" if on_stocks is None else on_stocks.name
    for file, found in stocks.items():
        assets = list(found.assets)
        routed = (venues.venue_of(asset) for asset in assets)
        places = listed(list(dict.fromkeys(v.name for v in routed if v is not None)))
        symbols = listed([venues.symbol_of(asset) for asset in assets], most=3)
        shown = assets if len(assets) <= 3 else assets[:2]
        mapped = ", ".join(f"{asset}: {{venue: {name}}}" for asset in shown)
        add = (
            f"assets: {{{mapped}}}"
            if shown == assets
            else f"assets: {{{mapped}, ...}} (all {len(assets)})"
        )
        if on_stocks is None:
            add = f"venues: {{{name}: {{exchange: yfinance, quote: USD}}}} and {add}"
        one = len(assets) == 1
        why = (
            "the strategy reads fundamentals, which only stocks have"
            if found.fundamentals
            else f"listed as {'a stock' if one else 'stocks'} in the bundled data"
        )
        yield (
            f"{file}: {listed(assets, most=5)} "
            f"{'looks like a stock' if one else 'look like stocks'} ({why}) but "
            f"{'goes' if one else 'go'} to {places}, a crypto exchange, as {symbols}: add "
            f"{add} to the config"
        )


def _weekend_warnings(checks: Sequence[FileCheck], venues: Venues) -> Iterator[str]:
    """The strategies whose stock leaves are UNKNOWN every Monday (``signalops.sessions``)."""
    from signalops.sessions import weekend_warning

    for check in checks:
        found = weekend_warning(str(check.file), check.strategy, venues) if check.strategy else None
        if found is not None:
            yield found


def _setup_warnings(checks: Sequence[FileCheck], config: Config) -> Iterator[str]:
    """The config's allocations and alerts against the strategies, and two files of one
    strategy name (``setup_warnings``)."""
    from signalops.setup_warnings import config_warnings, duplicate_names

    strategies = [check.strategy for check in checks if check.strategy is not None]
    duplicate = duplicate_names(strategies)
    if duplicate is not None:
        yield f"{duplicate}; run refuses them together"
    yield from config_warnings(config, [strategy.name for strategy in strategies])


def _loose_limit_warnings(checks: Sequence[FileCheck], config: Config) -> Iterator[str]:
    """The strategies' ``risk:`` values the config's limits override (``loose_limits``)."""
    from signalops.loose_limits import loose_limit_warnings

    for check in checks:
        if check.strategy is not None:
            for warning in loose_limit_warnings(str(check.file), check.strategy, config):
                yield f"{warning}\n{warning.excerpt}"


def _unheard_warnings(checks: Sequence[FileCheck]) -> Iterator[str]:
    """The notify-mode strategies, for a config without webhooks: their approvals are asked of
    no one."""
    for check in checks:
        if check.strategy is not None and check.strategy.execution.action_mode == "notify":
            yield (
                f"{check.file}: notify mode with no webhooks in the config: approvals wait in "
                "'signalops approvals', nobody is told"
            )


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


def _own_asset(file: Path, assets: Sequence[str], asset: str) -> str:
    """``asset`` as the strategy spells it (``btc`` is its ``BTC``); ``InputError`` when it is
    not one of the strategy's: every leaf of another asset would only be NO_DATA."""
    if asset in assets:
        return asset
    same = [own for own in assets if own.casefold() == asset.casefold()]
    if len(same) == 1:
        return same[0]
    raise InputError(
        f"--asset: {asset} is not one of {file}'s assets ({', '.join(assets)}); "
        "leave --asset out to evaluate each of them"
    )


@click.command("evaluate")
@click.argument("strategy", type=click.Path(path_type=Path))
@click.option("--at", "at", required=True, help="Decision time: 2023-03-12 or 2023-03-12T09:00Z.")
@click.option(
    "--asset",
    help="One of the strategy's assets, in any case (default: every asset of the strategy).",
)
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
    assets = [_own_asset(strategy, compiled.assets, asset)] if asset else compiled.assets
    adapters = registry.replay_adapters(
        snapshots(data_dir), venues=settings.venues, news_feeds=settings.news.feeds
    )
    doc = tree_to_dict(compiled)
    for name in assets:
        evaluation = gather.evaluate(compiled, name, as_of, adapters)
        if as_json:
            output.json_out(evaluation.to_dict())
            continue
        output.lines(evaluation_lines(doc, evaluation.to_dict()))
