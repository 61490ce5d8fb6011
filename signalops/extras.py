"""Optional parts of SignalOps, each installed by a pip extra (see ``pyproject.toml``).

The core install evaluates, replays, backtests and audits. Live venues (exchanges and
Polymarket), Yahoo Finance, the dashboard and Parquet files need libraries that are large or
slow to install, so they come with extras; a feature whose library is missing stops with one line
naming the extra to install, not an ``ImportError`` traceback::

    require("ccxt", "live", "live venues")   # MissingExtra: live venues need the 'live' extra...
    import ccxt

The check finds the module without importing it: callers keep their own import (and its types).
"""

from __future__ import annotations

import importlib.util

from signalops.errors import MissingExtra

__all__ = ["EXTRAS", "installed", "require"]

# extra -> what it brings, as the README's table says.
EXTRAS = {
    "live": "live data and auto mode: exchanges through ccxt, Polymarket through its CLOB client",
    "equities": "Yahoo Finance prices and fundamentals through yfinance",
    "dashboard": "the Streamlit dashboard",
    "parquet": "data import of Parquet files through pyarrow",
    "ray": "sweeps, walk-forward and each-asset backtests on a Ray cluster (--ray)",
    "postgres": "an audit log in PostgreSQL that several runners share (--audit postgresql://)",
}


def installed(module: str) -> bool:
    """Whether the top-level ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder refusing it, or a broken half-install
        return False


def require(module: str, extra: str, feature: str) -> None:
    """``MissingExtra`` unless ``module`` (top-level name) is installed."""
    if not installed(module):
        raise MissingExtra(module, extra, feature)
