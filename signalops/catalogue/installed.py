"""The installed catalogue: the built-in sources' metrics plus those of plugin sources.

A plugin source is a class named by an entry point of the ``signalops.adapters`` group (see
``signalops.adapters.registry``) with a ``catalogue`` attribute. Reading its catalogue loads that
class, never a built-in adapter: the compiler, ``why``, replay and the backtest get every
installed metric from here without importing ``signalops.adapters`` (ccxt, yfinance, TA-Lib).
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, cast

from signalops.catalogue.builtin import BUILTIN
from signalops.catalogue.spec import Catalogue, SourceCatalogue
from signalops.codes import Code
from signalops.errors import AdapterError

ENTRY_POINT_GROUP = "signalops.adapters"


class HasCatalogue(Protocol):
    """What this module reads of a plugin source's class (the adapter registry uses the rest)."""

    catalogue: SourceCatalogue


def plugin_classes() -> dict[str, HasCatalogue]:
    """The classes installed through entry points, by source (built-in names cannot be
    shadowed); each has a ``SourceCatalogue`` named ``catalogue``."""
    found: dict[str, HasCatalogue] = {}
    for entry in _entry_points():
        if entry.name in BUILTIN.sources or entry.name in found:
            continue
        cls = entry.load()
        if not isinstance(getattr(cls, "catalogue", None), SourceCatalogue):
            raise AdapterError(
                f"entry point {entry.value} has no SourceCatalogue 'catalogue'",
                source=entry.name,
                reason=Code.BAD_ADAPTER,
            )
        found[entry.name] = cast(HasCatalogue, cls)
    return found


def _entry_points() -> tuple[EntryPoint, ...]:
    """The group's entry points, scanned again only when the import path or one of its
    folders changed (installing or removing a distribution adds or removes a folder in it).

    A scan reads every installed distribution's metadata (~10 ms), and a backtest, a sweep's
    every run and the compiler each ask. ``importlib.metadata`` keeps each folder's listing by
    its modification time the same way, but reads the files in it again: a distribution's
    ``entry_points.txt`` rewritten in place (not reinstalled, which makes its folder anew) is
    seen by the next process, not by this one."""
    key = tuple((folder, _modified(folder)) for folder in map(_folder, sys.path))
    cached = _scanned.get(key)
    if cached is None:
        _scanned.clear()
        cached = _scanned[key] = tuple(entry_points(group=ENTRY_POINT_GROUP))
    return cached


def _folder(entry: str) -> str:
    """An import path entry's folder: "" is the working folder (which may be gone)."""
    if entry:
        return entry
    try:
        return os.getcwd()
    except OSError:
        return entry


def _modified(folder: str) -> int | None:
    try:
        return os.stat(folder).st_mtime_ns
    except OSError:
        return None


_scanned: dict[tuple[tuple[str, int | None], ...], tuple[EntryPoint, ...]] = {}


def catalogue() -> Catalogue:
    """Every installed source's metrics, for the compiler.

    Built-in catalogues come from ``signalops.catalogue.builtin`` so that validating a file never
    imports ccxt, yfinance or TA-Lib; plugins' catalogues come from their classes.
    """
    plugins = [cls.catalogue for cls in plugin_classes().values()]
    return Catalogue.of([*BUILTIN.sources.values(), *plugins])


__all__ = ["ENTRY_POINT_GROUP", "HasCatalogue", "catalogue", "plugin_classes"]
