"""The exact commands that would provide replay data that is missing.

Every "no recorded ..." message names the command a trader can paste, built here so that the
hint and the command line never drift apart. The forms mirror ``signalops data download``:

    signalops data download --source technical --asset BTC/USDT --venue binance --timeframe 1h \
        --since 2023-03-01 --until 2023-03-12T09:00Z
    signalops data download --source technical --asset ETH --timeframe 1d ...  (ETH -> ETH-USD)
    signalops data download --source technical --asset AAPL --venue yfinance --timeframe 1d ...
    signalops data download --source fundamental --asset AAPL           (SEC EDGAR company facts)
    signalops data download --source onchain --asset stablecoin_supply/USDC/all
    signalops data download --source polymarket --asset <market slug>
    signalops data download --source news --asset <feed URL or configured feed name>

and ``signalops data import FILE`` with the same options but the window, offered only for the
sources it reads (``signalops.adapters.importing.SOURCES``: candles, Polymarket prices, EDGAR
company facts).
A snapshot folder other than the default is named with ``--to``, so the command writes where the
replay reads, and a candle download names the window the leaf looked at (``--since``/``--until``:
without them it would fetch the last 365 days, not an older moment being replayed).

An on-chain ``--asset`` is the series name itself (``chain_tvl/ethereum``,
``protocol_tvl/aave``, ``cex_net_flow/binance``), so the hint can quote what was looked for.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable
from datetime import UTC, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from signalops.catalogue.spec import format_duration

if TYPE_CHECKING:
    from signalops.venues import Venues

DAY = 86400

# ``signalops.adapters.bundled.DEFAULT_SNAPSHOT_DIR``, the folder both ``data`` commands write and
# every replay reads without ``--to``/``--data`` (a test holds them equal; importing bundled here
# would import every adapter).
DEFAULT_FOLDER = Path("examples/replay")


def _command(verb: str, source: str, asset: str, **options: object) -> str:
    words = ["signalops", "data", verb]
    if verb == "import":
        words.append("FILE")
    words += ["--source", source, "--asset", asset]
    for name, value in options.items():
        if value:
            words += [f"--{name}", str(value)]
    return " ".join(w if w == "FILE" else shlex.quote(w) for w in words)


def _folder(to: str | Path | None) -> str | None:
    """``--to``'s value: None for the default folder (the commands' own default)."""
    return None if to is None or Path(to) == DEFAULT_FOLDER else str(to)


def importable(source: str) -> bool:
    """Whether ``signalops data import FILE`` reads files of ``source``."""
    from signalops.adapters.importing import SOURCES

    return source in SOURCES


def _moment(seconds: float | None) -> str | None:
    """A ``--since``/``--until`` value: the UTC date at midnight, else the UTC time."""
    if seconds is None:
        return None
    moment = datetime.fromtimestamp(seconds, UTC)
    if moment.time() == time():
        return moment.date().isoformat()
    return moment.strftime("%Y-%m-%dT%H:%M" if moment.second == 0 else "%Y-%m-%dT%H:%M:%S") + "Z"


def provide(
    source: str,
    asset: str,
    *,
    venue: str | None = None,
    timeframe: str | None = None,
    to: str | Path | None = None,
    since: float | None = None,
    until: float | None = None,
) -> str:
    """The tail of a "no recorded ..." message: each way to get the data.

    ``since``/``until`` (Unix seconds) bound the download to what was looked for; without them a
    candle download fetches the last 365 days, which misses a replay of an older moment."""
    options = {"venue": venue, "timeframe": timeframe}
    window = {"since": _moment(since), "until": _moment(until)}
    folder = {"to": _folder(to)}
    download = _command("download", source, asset, **options, **window, **folder)
    if not importable(source):
        return f"download it with '{download}'"
    imported = _command("import", source, asset, **options, **folder)
    return f"download it with '{download}' or import a file with '{imported}'"


def candles(
    asset: str,
    symbol: str,
    exchange: str,
    *,
    configured: bool,
    timeframe: int,
    as_of: float,
    bars: int,
    to: str | Path | None = None,
) -> str:
    """``provide`` for the last ``bars`` candles at ``as_of`` of ``asset``, read as ``symbol``
    on ``exchange``; the download starts on the UTC day of the first of them.

    ``configured``: the configuration maps ``asset`` to ``symbol`` on its venue (``ETH`` ->
    ``ETH-USD`` on ``coinbaseexchange``). Then only the asset itself, routed by that same
    configuration, lands in the series the replay reads: ``--asset ETH-USD --venue
    coinbaseexchange`` would read ``ETH-USD`` as a base and write ``ETH-USD/USDT``. Otherwise the
    symbol is the plain pair or ticker, which ``--venue`` with the exchange id writes as is.
    """
    first = as_of - bars * timeframe
    options: dict[str, Any] = {"timeframe": format_duration(timeframe), "to": to}
    if math.isfinite(as_of):  # not a question about the whole history (as_of = inf)
        options["until"] = as_of
        if first >= 0:  # else as many bars as there are: no start to name
            options["since"] = first - first % DAY
    if configured:
        return provide("technical", asset, **options)
    return provide("technical", symbol, venue=exchange, **options)


def routed(
    asset: str,
    venues: Venues,
    timeframe: int,
    *,
    to: str | Path | None = None,
    since: float | None = None,
    until: float | None = None,
    index: bool = False,
) -> str:
    """``provide`` for ``asset``'s candles where ``venues`` route them (a backtest's prices): the
    same forms as ``candles`` gives the replay feed, worked out from the routing itself.

    ``index``: the asset is read beside stocks (a stock backtest's ``--benchmark``) and no
    ``assets:`` entry routes it, so it would be read as the default crypto venue's ``GSPC/USDT``:
    the hint teaches what the README does for an index or a stock, routing it to a yfinance
    venue in the config, then the commands for the asset as routed."""
    venue = venues.venue_of(asset)
    mapped = venues.assets.get(asset)
    options: dict[str, Any] = {"timeframe": format_duration(timeframe), "to": to}
    options.update(since=since, until=until)
    if index and mapped is None:
        return f"{_route_to_yahoo(asset, venues)}, then {provide('technical', asset, **options)}"
    if venue is None or (mapped is not None and mapped.symbol is not None):
        return provide("technical", asset, **options)
    return provide("technical", venues.symbol_of(asset), venue=venue.exchange, **options)


def _route_to_yahoo(asset: str, venues: Venues) -> str:
    """How the config routes an index or a stock to Yahoo (``examples/signalops.equities.yaml``):
    to its yfinance venue, or to one it adds."""
    from signalops.venues import VenueKind

    named = (v.name for v in venues.venues.values() if v.kind is VenueKind.YFINANCE)
    venue = next(named, None)
    route = f"assets: {{{asset}: {{venue: {venue or 'stocks'}}}}}"
    if venue is None:
        route = f"venues: {{stocks: {{exchange: yfinance, quote: USD}}}}, {route}"
    return (
        f"an index's or a stock's candles come from Yahoo: route {asset} to a yfinance venue "
        f"in the config ({route}, with symbol: its Yahoo ticker when another, as ^GSPC for the "
        "S&P 500)"
    )


def feeds(urls: Iterable[str], *, to: str | Path | None = None) -> str:
    """The download commands of the feeds a live run reads when none are configured."""
    commands = [_command("download", "news", url, to=_folder(to)) for url in urls]
    quoted = [f"'{c}'" for c in commands]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    return f"download the default feeds with {listed}"


def no_snapshot_folder(folder: object) -> str:
    """The message for a snapshot folder that does not exist, with the commands that make one;
    for a file (one of a folder's ``SOURCE.jsonl``), its folder."""
    given = Path(str(folder))
    if given.is_file():
        return f"{folder}: a file, not a snapshot folder: give the folder it is in ({given.parent})"
    to = shlex.quote(str(folder))
    return (
        f"{folder}: no snapshot folder: make it with 'signalops data import --to {to}' (the "
        f"bundled data) or 'signalops data download --source ... --asset ... --to {to}'"
    )
