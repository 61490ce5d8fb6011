"""The exact commands that would provide replay data that is missing.

Every "no recorded ..." message names the command a trader can paste, built here so that the
hint and the command line never drift apart. The forms mirror ``signalops data import FILE``:

    signalops data download --source technical --asset BTC/USDT --venue binance --timeframe 1h
    signalops data download --source technical --asset AAPL --venue yfinance --timeframe 1d
    signalops data download --source fundamental --asset AAPL           (SEC EDGAR company facts)
    signalops data download --source onchain --asset stablecoin_supply/USDC/all
    signalops data download --source polymarket --asset <market slug>
    signalops data download --source news --asset <feed URL or configured feed name>

An on-chain ``--asset`` is the series name itself (``chain_tvl/ethereum``,
``protocol_tvl/aave``, ``cex_net_flow/binance``), so the hint can quote what was looked for.
"""

from __future__ import annotations

import shlex


def _command(verb: str, source: str, asset: str, **options: str | None) -> str:
    words = ["signalops", "data", verb]
    if verb == "import":
        words.append("FILE")
    words += ["--source", source, "--asset", asset]
    for name, value in options.items():
        if value:
            words += [f"--{name}", value]
    return " ".join(w if w == "FILE" else shlex.quote(w) for w in words)


def provide(
    source: str,
    asset: str,
    *,
    venue: str | None = None,
    timeframe: str | None = None,
) -> str:
    """The tail of a "no recorded ..." message: both ways to get the data."""
    options = {"venue": venue, "timeframe": timeframe}
    return (
        f"download it with '{_command('download', source, asset, **options)}'"
        f" or import a file with '{_command('import', source, asset, **options)}'"
    )


def no_snapshot_folder(folder: object) -> str:
    """The message for a snapshot folder that does not exist, with the commands that make one."""
    to = shlex.quote(str(folder))
    return (
        f"{folder}: no snapshot folder: make it with 'signalops data import --to {to}' (the "
        f"bundled data) or 'signalops data download --source ... --asset ... --to {to}'"
    )
