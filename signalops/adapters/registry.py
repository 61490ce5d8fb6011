"""Adapters by source name: the five built-ins plus any installed through entry points.

A third-party package adds a source by declaring, in its ``pyproject.toml``::

    [project.entry-points."signalops.adapters"]
    weather = "my_package.weather:WeatherAdapter"

The object the entry point names must have ``source`` and ``catalogue`` attributes (the catalogue
the compiler checks metric names against) and the ``live(...)`` / ``replay(store)`` constructors.

The venue configuration (``signalops.venues``) reaches the sources that read from venues: the
technical source builds each asset's candle feed from it. The SEC User-Agent of the configuration
(``fundamental: {sec_user_agent: ...}``) reaches the live fundamentals source's EDGAR client.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Protocol, cast

from signalops.adapters.base import Adapter
from signalops.adapters.snapshots import SnapshotStore
from signalops.catalogue.builtin import BUILTIN as BUILTIN_CATALOGUE
from signalops.catalogue.spec import Catalogue, SourceCatalogue
from signalops.codes import Code
from signalops.errors import AdapterError
from signalops.venues import Venues

ENTRY_POINT_GROUP = "signalops.adapters"

BUILTIN: Mapping[str, str] = {
    "fundamental": "signalops.adapters.fundamental:FundamentalAdapter",
    "polymarket": "signalops.adapters.polymarket:PolymarketAdapter",
    "onchain": "signalops.adapters.onchain:OnchainAdapter",
    "technical": "signalops.adapters.technical:TechnicalAdapter",
    "news": "signalops.adapters.news:NewsAdapter",
}


class AdapterClass(Protocol):
    """What a source's class offers: its catalogue and the two ways to build an adapter."""

    source: str
    catalogue: SourceCatalogue

    def live(self, *, record: SnapshotStore | None = None) -> Adapter: ...

    def replay(self, store: SnapshotStore) -> Adapter: ...


def _load(target: str) -> AdapterClass:
    module, _, name = target.partition(":")
    # Loaded by name (so that validating never imports ccxt): the type is declared, not inferred;
    # tests/adapters/test_registry.py checks each built-in class against it.
    return cast(AdapterClass, getattr(importlib.import_module(module), name))


def adapter_classes() -> dict[str, AdapterClass]:
    """Every adapter class by source: built-ins first, then entry points (which may not shadow)."""
    found = {name: _load(target) for name, target in BUILTIN.items()}
    found.update(plugin_classes())
    return found


def plugin_classes() -> dict[str, AdapterClass]:
    """Adapters installed through entry points (built-in names cannot be shadowed)."""
    found: dict[str, AdapterClass] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILTIN or entry.name in found:
            continue
        cls = entry.load()
        if not isinstance(getattr(cls, "catalogue", None), SourceCatalogue):
            raise AdapterError(
                f"entry point {entry.value} has no SourceCatalogue 'catalogue'",
                source=entry.name,
                reason=Code.BAD_ADAPTER,
            )
        found[entry.name] = cls
    return found


def catalogue() -> Catalogue:
    """Every installed source's metrics, for the compiler.

    Built-in catalogues come from ``signalops.catalogue.builtin`` so that validating a file never
    imports ccxt, yfinance or TA-Lib; plugins' catalogues come from their classes.
    """
    plugins = [cls.catalogue for cls in plugin_classes().values()]
    return Catalogue.of([*BUILTIN_CATALOGUE.sources.values(), *plugins])


# Sources whose constructors take ``venues=``.
VENUE_SOURCES = frozenset({"technical"})


def replay_adapters(store: SnapshotStore, venues: Venues | None = None) -> dict[str, Adapter]:
    """One replay adapter per source, all reading the same snapshot store; ``venues`` says
    which venue's series serve each asset (default: Binance, BASE/USDT)."""
    return {
        name: _venue_aware(cls).replay(store, venues=venues)
        if name in VENUE_SOURCES and venues is not None
        else cls.replay(store)
        for name, cls in adapter_classes().items()
    }


def live_adapters(
    record: SnapshotStore | None = None,
    venues: Venues | None = None,
    *,
    sec_user_agent: str | None = None,
) -> dict[str, Adapter]:
    """One live adapter per source with its defaults; ``record`` keeps what they fetch;
    ``venues`` says which venue serves each asset (default: Binance, BASE/USDT);
    ``sec_user_agent`` is what EDGAR requests send (None: ``$SIGNALOPS_SEC_USER_AGENT``)."""
    adapters: dict[str, Adapter] = {}
    for name, cls in adapter_classes().items():
        if name in VENUE_SOURCES and venues is not None:
            adapters[name] = _venue_aware(cls).live(record=record, venues=venues)
        elif name == "fundamental" and sec_user_agent is not None:
            adapters[name] = _fundamental_live(record, sec_user_agent)
        else:
            adapters[name] = cls.live(record=record)
    return adapters


def _fundamental_live(record: SnapshotStore | None, sec_user_agent: str) -> Adapter:
    # Imported here, as every built-in is loaded by name: validating never imports httpx.
    from signalops.adapters.edgar import EdgarClient
    from signalops.adapters.fundamental import FundamentalAdapter

    return FundamentalAdapter.live(record=record, edgar=EdgarClient(sec_user_agent))


class _VenueAware(Protocol):
    """The constructors of a source in ``VENUE_SOURCES``."""

    def live(self, *, record: SnapshotStore | None = None, venues: Venues | None) -> Adapter: ...

    def replay(self, store: SnapshotStore, *, venues: Venues | None) -> Adapter: ...


def _venue_aware(cls: AdapterClass) -> _VenueAware:
    return cast(_VenueAware, cls)
