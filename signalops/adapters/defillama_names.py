"""DeFiLlama's names SignalOps knows offline: its spelling of common chains, its stablecoins (the
bundled export's list), and which name a misspelt one most likely means. Kept apart from the
adapter (``signalops.adapters.onchain``), which imports httpx and numpy: ``validate`` checks a
strategy's on-chain names with this module alone."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from signalops.textmatch import closest

# DeFiLlama's spelling of common chains in URL paths; other chains are sent as written.
CHAIN_NAMES: dict[str, str] = {
    "ethereum": "Ethereum",
    "bsc": "BSC",
    "arbitrum": "Arbitrum",
    "optimism": "Optimism",
    "polygon": "Polygon",
    "avalanche": "Avalanche",
    "base": "Base",
    "solana": "Solana",
    "tron": "Tron",
}

# DeFiLlama's stablecoins as of August 2025 (see the file's header), to tell a misspelling offline.
STABLECOIN_LIST = Path(__file__).with_name("data") / "defillama_stablecoins.txt"
# Chain names this short are too near one another to call one a misspelling of another ('ton' is
# a chain of its own, one letter from 'tron'); longer ones are far apart, and SignalOps knows only
# the chains of CHAIN_NAMES, not DeFiLlama's hundreds.
SHORTEST_CHAIN_TYPO = 5


def chain_name(chain: str) -> str:
    """DeFiLlama's spelling of a chain in URLs (``bsc`` -> ``BSC``)."""
    return CHAIN_NAMES.get(chain.lower(), chain)


@cache
def listed_stablecoins() -> tuple[str, ...]:
    """DeFiLlama's stablecoins (symbols, or names), oldest listing first: ``STABLECOIN_LIST``."""
    lines = STABLECOIN_LIST.read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


# What a misspelt name of each parameter is not, for the message.
_UNLISTED = {
    "stablecoin": "is not a stablecoin DeFiLlama lists",
    "chain": "is not a DeFiLlama chain SignalOps knows",
}


def _known(param: str) -> tuple[str, ...]:
    """The DeFiLlama names of ``param`` SignalOps knows offline (none of a protocol's)."""
    if param == "stablecoin":
        return listed_stablecoins()
    return tuple(CHAIN_NAMES) if param == "chain" else ()


@cache
def _folded(param: str) -> frozenset[str]:
    return frozenset(known.casefold() for known in _known(param))


def is_listed(param: str, name: str) -> bool:
    """Whether ``name`` is a DeFiLlama name of ``param`` SignalOps knows, in any case (DeFiLlama
    resolves ``usdc``), or ``all``."""
    folded = name.casefold()
    return folded == "all" or folded in _folded(param)


def likely_meant(param: str, name: str) -> str | None:
    """The DeFiLlama name that ``name``, given as ``param`` (``stablecoin`` or ``chain``), most
    likely misspells (``USCD`` -> ``USDC``, ``etherium`` -> ``ethereum``); None for a listed name,
    a short chain name (see ``SHORTEST_CHAIN_TYPO``) or one near none."""
    if is_listed(param, name) or (param == "chain" and len(name) < SHORTEST_CHAIN_TYPO):
        return None
    return closest(name, _known(param))


def misspelling(param: str, name: str) -> tuple[str, str] | None:
    """``(message, hint)`` when ``name`` is most likely a misspelling (:func:`likely_meant`):
    ``'USCD' is not a stablecoin DeFiLlama lists``, ``did you mean 'USDC'?``."""
    meant = likely_meant(param, name)
    if meant is None:
        return None
    return f"'{name}' {_UNLISTED[param]}", f"did you mean '{meant}'?"
