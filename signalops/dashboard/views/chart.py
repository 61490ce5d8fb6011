"""A decision's price and indicator chart on a page (the Approval queue's first sight, and
the Decisions detail): ``signalops.dashboard.charts`` computes it, ``figures`` draws it.

Candles come from the replay snapshots when the dashboard replays (``SIGNALOPS_REPLAY``), else
from the asset's venue, as the Portfolio page's prices do. A chart is kept a minute per
decision and clock minute: candles up to a decision never change, and a live venue is not
asked on every refresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import streamlit as st

from signalops.adapters.snapshots import SnapshotStore
from signalops.adapters.technical import Candles, TechnicalAdapter, VenueFeeds
from signalops.dashboard import charts, figures
from signalops.dashboard.views.common import Context
from signalops.venues import Venues


class _Feeds:
    """One candle source per replay folder (or live) and config, shared by every session;
    asked by one page run at a time (a venue's client is not meant for concurrent use)."""

    def __init__(self, feeds: VenueFeeds) -> None:
        self.feeds = feeds
        self.lock = threading.Lock()

    def candles(self, asset: str, timeframe: int, until: float, bars: int) -> Candles:
        with self.lock:
            return self.feeds.feed_for(asset).candles(asset, timeframe, until, bars)


@st.cache_resource(max_entries=4, show_spinner=False)
def _feeds(replay: str | None, config: str | None, _venues: Venues) -> _Feeds:
    if replay is not None:
        return _Feeds(TechnicalAdapter.replay(SnapshotStore(Path(replay)), venues=_venues).feeds)
    return _Feeds(TechnicalAdapter.live(venues=_venues).feeds)


@dataclass(frozen=True)
class _Drawn:
    """A decision's chart and its plotly figure, or why there is none."""

    chart: charts.DecisionChart | None
    figure: Any = None
    why_not: str = ""


# A resource, not data: the figure is handed to Streamlit as the object it is (a pickled copy
# would be validated again by plotly, some 50 ms on every refresh). Nothing changes it.
@st.cache_resource(ttl=60, max_entries=64, show_spinner=False)
def _drawn(
    decision_id: str,
    until: datetime,
    replay: str | None,
    config: str | None,
    quote: str | None,
    _record: Any,
    _venues: Venues,
) -> _Drawn:
    """Keyed by the decision (its record never changes), the clock's minute and the candle
    source."""
    plan = charts.plan(_record)
    feeds = _feeds(replay, config, _venues)
    try:
        chart = charts.build(plan, charts.fetch(plan, feeds.candles, until), until)
    except LookupError as exc:
        return _Drawn(None, why_not=str(exc.args[0]) if exc.args else str(exc))
    return _Drawn(chart, figures.figure(chart, quote))


def decision_chart(context: Context, record: dict[str, Any], quote: str | None, key: str) -> None:
    """The chart of ``record`` in a container keyed ``key``, or a line saying why not."""
    with st.container(key=key):
        if not figures.available():
            st.info(
                "The price chart needs plotly: `pip install plotly`.", icon=":material/show_chart:"
            )
            return
        settings = context.settings
        assert context.reader is not None
        with context.reader.use() as workspace:
            venues = workspace.config.venues
        replay = str(settings.replay) if settings.replay is not None else None
        config = str(settings.config) if settings.config is not None else None
        until = context.now.replace(second=0, microsecond=0)
        try:
            drawn = _drawn(record["decision_id"], until, replay, config, quote, record, venues)
        except Exception as exc:  # a venue's client failing its own way: not the page's end
            # The chart helps a trader decide; the tree, the risk checks and the answer
            # buttons below must stay reachable whatever went wrong in drawing it.
            drawn = _Drawn(None, why_not=f"{type(exc).__name__}: {exc}")
        if drawn.chart is None:
            st.info(
                f"No price chart for {record['asset']}: {drawn.why_not}",
                icon=":material/show_chart:",
            )
            return
        st.plotly_chart(
            drawn.figure,
            key=f"{key}.figure",
            config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]},
        )
        source = "replayed snapshots" if replay else "the asset's venue"
        st.caption(_caption(drawn.chart, source))


def _caption(chart: charts.DecisionChart, source: str) -> str:
    lines = [line.label for pane in chart.panes for line in pane.lines]
    lines += [line.label for line in chart.overlays]
    text = f"Candles from {source}, each at its close; the dashed line is the decision."
    if lines:
        them = "it" if len(lines) == 1 else "them"
        text += (
            f" {', '.join(lines)} as the engine computes {them} at each candle; the dot is the "
            "value in the record."
        )
    else:
        text += " The decision read no technical indicator of this asset."
    if chart.problems:
        text += " Not drawn: " + "; ".join(chart.problems) + "."
    return text
