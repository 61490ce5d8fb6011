"""The warning ``validate`` and ``run`` give when a stock's weekend makes a strategy's leaves
UNKNOWN.

A leaf refuses data older than its ``max_age``: ``now - data_time``, in wall-clock seconds, the
same in every engine. A stock's daily candle closes at 16:00 New York on session days only, so
on a Monday its last close is Friday's, two to three days old, and after a long weekend (a
Monday or Friday holiday) three to four. The default ``max_age`` of a candle metric is two
candles (``MetricSpec.default_max_age``): 2d on daily candles, which makes every Monday's and
every post-holiday decision UNKNOWN, entry and exit alike, without an error anywhere. Measuring
ages in sessions instead would change every engine's ages at once; this says it instead.

Trading in sessions means being a stock on a yfinance venue (``Venues.in_sessions``): the only
candles that stop for nights, weekends and holidays (US equities and ETFs); Yahoo's crypto
(``BTC-USD``) and a ccxt exchange's markets trade around the clock and a Polymarket venue serves
no candles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from signalops.catalogue.builtin import DAY, TECHNICAL
from signalops.catalogue.spec import format_duration
from signalops.evaluation.nodes import Predicate
from signalops.numbers import counted, listed
from signalops.strategy.model import Strategy
from signalops.venues import Venue, VenueKind, Venues

__all__ = ["LONG_WEEKEND", "weekend_warning"]

# How old the last close gets: from Friday's close (16:00 New York, 20:00 or 21:00 UTC) to just
# before the close of the Tuesday after a Monday holiday, which is under 4 days.
LONG_WEEKEND = 4 * DAY
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def weekend_warning(file: str, strategy: Strategy, venues: Venues) -> str | None:
    """The warning for ``strategy`` (read from ``file``) when some of its assets trade in
    sessions on ``venues`` and some of its leaves read their daily (or longer) candles with a
    max age under ``LONG_WEEKEND``; None otherwise. One line for the file, however many leaves
    and assets."""
    routed = [(asset, _session_venue(venues, asset)) for asset in strategy.assets]
    in_sessions = [(asset, venue) for asset, venue in routed if venue is not None]
    if not in_sessions:
        return None
    short = [(leaf, age) for leaf in strategy.tree.leaves() if (age := _short_age(leaf))]
    if not short:
        return None
    first, age = min(short, key=lambda pair: pair[1])  # of the shortest, the first in the file
    assets = listed([asset for asset, _ in in_sessions])
    trade, their = ("trades", "its") if len(in_sessions) == 1 else ("trade", "their")
    more = len(short) - 1
    others = f" and {counted(more, 'more leaf', 'more leaves')}" if more else ""
    which = "which are" if more else "which is"
    return (
        f"{file}: {assets} {trade} in sessions ({_venues_text([v for _, v in in_sessions])}): "
        f"{their} last close is 2 to 3 days old on Mondays and 3 to 4 after a long weekend, "
        f"past the {format_duration(age)} max age of {' '.join(first.text.split())}{others}, "
        f"{which} then UNKNOWN; {_advice(strategy.document, [leaf for leaf, _ in short])}"
    )


def _session_venue(venues: Venues, asset: str) -> Venue | None:
    return venues.venue_of(asset) if venues.trades_stock(asset) else None


def _short_age(leaf: Predicate) -> int | None:
    """The shortest max age under ``LONG_WEEKEND`` with which ``leaf`` reads daily (or longer)
    candles of its asset; None when it reads none that way."""
    ages = [
        max_age
        for metric, max_age in zip(leaf.metrics, leaf.max_ages, strict=False)
        if metric.source == TECHNICAL.source
        and metric.asset_scoped
        and int(dict(metric.params).get("timeframe", 0)) >= DAY
        and max_age < LONG_WEEKEND
    ]
    return min(ages, default=None)


def _advice(document: Mapping[str, Any], short: Sequence[Predicate]) -> str:
    """What gives the ``short`` leaves a long weekend's max age: the strategy's defaults for
    those whose rule and condition set none, their own max_age for the others (the compiler
    takes a condition's, else its rule's, else the defaults')."""
    spec = document.get("strategy", {})
    written = [_sets_max_age(spec, leaf.path) for leaf in short]
    wanted = format_duration(LONG_WEEKEND)
    advice = []
    if not all(written):
        defaults = spec.get("defaults")
        if defaults is None:
            advice.append(f"add defaults: {{max_age: {wanted}}} to the strategy")
        elif "max_age" in defaults:
            advice.append(f"raise the max_age of the strategy's defaults to {wanted}")
        else:
            advice.append(f"add max_age: {wanted} to the strategy's defaults")
    if any(written):
        advice.append(f"raise max_age to {wanted} where their rules or conditions set it")
    return " and ".join(advice)


def _sets_max_age(spec: Mapping[str, Any], path: str) -> bool:
    """Whether a mapping on the way to the node at ``path`` (``rules[0].conditions[1]``, as
    ``Node.path`` writes it from the strategy mapping) sets ``max_age``: its rule or its
    condition."""
    here: Any = spec
    for name, index in _SEGMENT.findall(path):
        try:
            here = here[int(index)] if index else here[name]
        except (LookupError, TypeError):
            return True  # not where the compiler found it: advise the explicit way
        if isinstance(here, Mapping) and "max_age" in here:
            return True
    return False


def _venues_text(venues: Sequence[Venue]) -> str:
    """``venue stocks, yfinance``; ``venues stocks and etfs, yfinance``; ``venue yfinance``
    (a venue named as its exchange)."""
    names = list(dict.fromkeys(venue.name for venue in venues))
    word = "venue" if len(names) == 1 else "venues"
    exchange = VenueKind.YFINANCE.value
    return f"{word} {listed(names)}" + ("" if names == [exchange] else f", {exchange}")
