"""The interactive charts of a backtest report: plotly figures, as plain JSON data.

    equity     the strategy's equity against its vetoes-removed baseline, buy-and-hold of its
               assets and of the --benchmark, with the drawdown from the running peak below
               (one time axis: zooming one zooms both)
    price-N    each asset's closes with the fills (BUY and SELL markers) and the blocked
               signals (the decisions a veto blocked), the strategy's price-scale indicators
               over them and its other indicators in panes below, with each leaf's threshold
               drawn as a line (``signalops.backtest.indicators``)

Each figure is a dict that plotly.js draws as it is (``Plotly.newPlot(id, data, layout)``): no
plotly object is built, so writing a report costs no validation pass over every point, and the
page is the same bytes for the same backtest (fixed element ids, times as UTC text, floats as
Python writes them). Markers of decisions carry the decision id (``customdata``): the hover
shows it and a click puts the ``signalops why`` command under the chart.

Points are dated as the report's tables date them. A decision or a fill is drawn at its own time
(a daily decision at 2024-11-06 00:00 UTC on 2024-11-06, at the price the tables give it). A line
whose every point is at 00:00 UTC (daily candles' closes and the indicators over them, the equity
marked after each day or session) holds at each point the close of the day that ended there,
and is drawn on that day, as an exchange's daily chart draws a candle and as
``metrics.Drawdown.dates`` dates a drawdown: BTC's 2023-02-20 candle closes at 02-21 00:00 and is
drawn on 02-20, the S&P 500's Friday session is marked at Saturday 00:00 and drawn on Friday. The
starting cash, which holds no close, is drawn at the first decision it is valued at, on that
decision's day, as the tables date a drawdown that begins there: a run from 2023-03-10 that fell
on its first day fell from 03-10's start to 03-10's close, both drawn on 03-10. Other lines
(hourly closes, a stock session's 21:00 close) are drawn at their own times.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from itertools import cycle
from typing import Any

from signalops.backtest.bars import Bars
from signalops.backtest.comparison import Study
from signalops.backtest.filters import LOSS, PROFIT, UNRESOLVED, Counterfactual
from signalops.backtest.formatting import day, horizon, pct
from signalops.backtest.indicators import (
    ENTRY,
    EXIT,
    PRICE,
    CandleSource,
    Layout,
    Line,
    Pane,
    Threshold,
    bars_candles,
    layout,
    merged,
    needs_candles,
    values,
)
from signalops.backtest.ledger import EquityPoint, Leg
from signalops.backtest.metrics import dated_mark

STRATEGY, BASELINE, HOLD, BENCHMARK = "#1f77b4", "#ff7f0e", "#7f7f7f", "#8c564b"
BUY, SELL, BLOCKED = "#2ca02c", "#d62728", "#9467bd"
ROLE_COLORS = {ENTRY: BUY, EXIT: SELL}  # a veto's threshold: BLOCKED
PALETTE = ("#17becf", "#bcbd22", "#e377c2", "#1f77b4", "#ff7f0e", "#8c564b")
CONFIG = {"responsive": True, "displaylogo": False}
FONT = {"family": "system-ui, sans-serif", "size": 12}
_PRICE_HEIGHT, _PANE_HEIGHT = 340, 150


@dataclass(frozen=True)
class Chart:
    id: str  # the element id: fixed, so that the page is the same bytes every time
    title: str
    figure: dict[str, Any]
    notes: tuple[str, ...] = ()  # what the chart leaves out, and why
    decisions: bool = False  # its markers carry decision ids (a click shows `signalops why`)

    def to_dict(self) -> dict[str, Any]:
        notes = list(self.notes)
        return {"id": self.id, "title": self.title, "figure": self.figure, "notes": notes}


def charts(study: Study, candles: CandleSource | None = None) -> list[Chart]:
    """The report's charts. ``candles``: every recorded candle by asset and timeframe (the
    replay store's); without them the indicators come from the backtest's own bars, which
    serve every indicator of closes at the backtest's timeframe."""
    result = study.result
    panes = layout(result.strategy.tree, result.timeframe)
    source = candles or bars_candles(result.prices)
    full = candles is not None
    found = [equity_chart(study)]
    for i, asset in enumerate(result.assets):
        if result.others:  # several strategies: the indicators of those trading the asset
            panes = merged(
                [
                    (s.name, layout(s.tree, result.timeframe))
                    for s in result.strategies
                    if asset in s.assets
                ]
            )
        found.append(price_chart(study, asset, f"price-{i}", panes, source, full=full))
    return found


# --- equity and drawdown -----------------------------------------------------------------------


def equity_chart(study: Study) -> Chart:
    result = study.result
    name = "account" if result.others else result.strategy.name  # several strategies: theirs
    curves: list[tuple[str, Sequence[EquityPoint], str, str]] = [
        (name, result.equity, STRATEGY, "solid")
    ]
    if study.baseline is not None:  # dashed: it may lie on the strategy's line
        curves.append(("vetoes removed", study.baseline.equity, BASELINE, "dash"))
    if result.buy_and_hold:
        curves.append(("buy & hold", result.buy_and_hold, HOLD, "solid"))
    held = study.benchmark
    if held is not None and held.equity:
        curves.append((f"buy & hold {held.asset}", held.equity, BENCHMARK, "solid"))
    days = _whole_days(p.time for _, curve, _, _ in curves for p in curve)
    unit = _unit(study.quote)
    data: list[dict[str, Any]] = []
    for name, curve, color, dash in curves:
        # The first point is the starting cash (metrics.Drawdown.from_start).
        times = [_closed(p.time, days, start=i == 0) for i, p in enumerate(curve)]
        line: dict[str, Any] = {"color": color, "width": 1.6, "dash": dash}
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": name,
                "legendgroup": name,
                "x": times,
                "y": [round(float(p.equity), 2) for p in curve],
                "line": line,
                "hovertemplate": f"%{{y:,.2f}}{unit}",
            }
        )
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"{name} drawdown",
                "legendgroup": name,
                "showlegend": False,
                "x": times,
                "y": drawdowns(curve),
                "yaxis": "y2",
                "line": line,
                "hovertemplate": "%{y:.2%}",
            }
        )
    figure = {
        "data": data,
        "layout": _layout(
            height=480,
            hovermode="x unified",
            xaxis={"type": "date", "anchor": "y2", **_GRID, **_SPIKES},
            yaxis={
                "domain": [0.36, 1],
                "title": {"text": study.quote or "equity"},
                "tickformat": ",.0f",
                **_GRID,
            },
            yaxis2={
                "domain": [0, 0.28],
                "title": {"text": "drawdown"},
                "tickformat": ".0%",
                "rangemode": "tozero",
                **_GRID,
            },
        ),
    }
    return Chart("equity", "Equity and drawdown from the running peak", figure)


def drawdowns(curve: Sequence[EquityPoint]) -> list[float]:
    """Each point's fall below the running peak (<= 0), to 1e-6."""
    peak = 0.0
    found = []
    for point in curve:
        value = float(point.equity)
        peak = max(peak, value)
        found.append(round(value / peak - 1, 6) if peak > 0 else 0.0)
    return found


# --- price, fills, blocked signals and indicators ----------------------------------------------


def price_chart(
    study: Study, asset: str, chart_id: str, panes: Layout, candles: CandleSource, *, full: bool
) -> Chart:
    result = study.result
    bars = result.prices[asset]
    first, last = result.equity[0].time, result.equity[-1].time
    times, closes = bars.window(first, last)
    days = _whole_days(times)
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "close",
            "x": [_closed(t, days) for t in times],
            "y": closes,
            "line": {"color": "#444444", "width": 1.2},
            "hovertemplate": "close %{y:,.2f}<extra></extra>",
        }
    ]
    notes: list[str] = []
    colors = cycle(PALETTE)  # a strategy may draw any number of lines: the colours repeat
    below = panes.below
    axes = {PRICE: "y", **{pane.key: f"y{k}" for k, pane in enumerate(below, 2)}}
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for pane in panes.panes:
        axis = axes[pane.key]
        for line in pane.lines:
            if line.label == "close":  # the closes are the price line itself
                continue
            trace = _indicator(line, asset, candles, first, last, full=full, notes=notes)
            if trace is not None:
                trace.update(yaxis=axis, line={"color": next(colors), "width": 1.2})
                data.append(trace)
        for threshold in pane.thresholds:
            shape, note = _threshold(threshold, axis)
            shapes.append(shape)
            annotations.append(note)
    data += _fills(result.legs, asset, study.quote)
    blocked = [item for item in result.blocked.items if item.asset == asset]
    data += _blocked(study, blocked, bars)
    if panes.left_out:
        notes.append(
            "Not drawn, as they read other sources' data (each decision's trace has their "
            "values: signalops why): " + "; ".join(panes.left_out)
        )
    figure = {
        "data": data,
        "layout": _layout(
            height=_PRICE_HEIGHT + _PANE_HEIGHT * len(below),
            # One box per time: the close, each indicator, and the decisions of that bar (a
            # marker under a line would lose a "closest" hover to the line).
            hovermode="x unified",
            hoverdistance=10,
            shapes=shapes,
            annotations=annotations,
            # From the close the first decision saw to the last; on a day axis, the days.
            **_price_axes(below, _closed(first, days), _closed(last, days)),
        ),
    }
    title = f"{asset}: closes, fills and blocked signals"
    if below:
        title += ", with " + ", ".join(pane.title for pane in below)
    return Chart(chart_id, title, figure, tuple(notes), decisions=True)


def _price_axes(below: Sequence[Pane], first: str, last: str) -> dict[str, Any]:
    """The price on top, each pane under it, all on one time axis at the bottom."""
    gap = 0.04
    weights = [_PRICE_HEIGHT - 40, *(_PANE_HEIGHT for _ in below)]
    total = sum(weights) / (1 - gap * len(below))
    top = 1.0
    axes: dict[str, Any] = {}
    for k, weight in enumerate(weights, 1):
        bottom = max(0.0, top - weight / total)
        name = "yaxis" if k == 1 else f"yaxis{k}"
        axis: dict[str, Any] = {"domain": [round(bottom, 4), round(top, 4)], **_GRID}
        if k > 1:
            pane = below[k - 2]
            axis["title"] = {"text": pane.title, "font": {"size": 11}}
            if pane.percent:
                axis["tickformat"] = ".0%"
        else:
            axis["title"] = {"text": "price"}
            axis["tickformat"] = ",.0f"
        axes[name] = axis
        top = bottom - gap
    axes["xaxis"] = {
        "type": "date",
        "anchor": f"y{len(weights)}" if len(weights) > 1 else "y",
        "range": [first, last],
        **_GRID,
        **_SPIKES,
    }
    return axes


def _indicator(
    line: Line,
    asset: str,
    candles: CandleSource,
    first: datetime,
    last: datetime,
    *,
    full: bool,
    notes: list[str],
) -> dict[str, Any] | None:
    if needs_candles(line) and not full:
        notes.append(f"{line.label}: not drawn (it needs the candles' highs, lows or volumes)")
        return None
    found = candles(asset, line.timeframe)
    if found is None:
        notes.append(f"{line.label}: not drawn (no recorded candles of its timeframe)")
        return None
    times, ys = values(line, found, first, last)
    days = _whole_days(times)  # its own candles: another timeframe's may not be daily
    return {
        "type": "scatter",
        "mode": "lines",
        "name": line.label,
        "x": [_closed(t, days) for t in times],
        "y": ys,
        "connectgaps": False,
        "hovertemplate": f"{_escape(line.label)} %{{y:,.4g}}<extra></extra>",
    }


def _threshold(threshold: Threshold, yref: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A horizontal line (a band for ``between``) across the pane, labelled at its right end
    with the leaf as written (``return(7d) < -15%``)."""
    color = ROLE_COLORS.get(threshold.role, BLOCKED)
    shape: dict[str, Any] = {
        "type": "line" if threshold.low == threshold.high else "rect",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": yref,
        "y0": threshold.low,
        "y1": threshold.high,
        "line": {"color": color, "width": 1, "dash": "dot"},
    }
    if shape["type"] == "rect":
        shape.update(fillcolor=color, opacity=0.08)
    note = {
        "xref": "paper",
        "x": 1,
        "xanchor": "right",
        "yref": yref,
        "y": threshold.high,
        "yanchor": "bottom",
        "showarrow": False,
        "text": _escape(threshold.label),
        "font": {"color": color, "size": 10},
    }
    return shape, note


def _unit(quote: str | None) -> str:
    """`` USD`` after a figure in the account's currency; nothing when the assets' venues
    quote in different ones (``Study.quote`` None: the account's may be any of them)."""
    return f" {quote}" if quote else ""


def _fills(legs: Sequence[Leg], asset: str, quote: str | None) -> list[dict[str, Any]]:
    data = []
    for side, symbol, color in (("BUY", "triangle-up", BUY), ("SELL", "triangle-down", SELL)):
        mine = [leg for leg in legs if leg.asset == asset and leg.side.value == side]
        if not mine:
            continue
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": f"{side.lower()} (fill)",
                "x": [_x(leg.filled_at) for leg in mine],
                "y": [float(leg.price) for leg in mine],
                "customdata": [leg.decision_id for leg in mine],
                "text": [
                    f"{side} {leg.quantity} at {leg.price:,.2f} on {day(leg.filled_at)} "
                    f"(fee {leg.fee:,.2f}{_unit(quote)})"
                    for leg in mine
                ],
                "marker": {
                    "symbol": symbol,
                    "size": 12,
                    "color": color,
                    "line": {"color": "white", "width": 1},
                },
                "hovertemplate": "%{text}<br>decision %{customdata}<extra></extra>",
            }
        )
    return data


def _blocked(study: Study, items: Sequence[Counterfactual], bars: Bars) -> list[dict[str, Any]]:
    """Blocked signals at their decisions' times and the closes they saw (the entries the
    report's table gives them)."""
    marks = []
    for item in items:
        found = bars.close_at(item.as_of)
        if found is not None:
            marks.append((item, float(found[0])))
    if not marks:
        return []
    actions = ", ".join(sorted({item.action for item, _ in marks}))
    return [
        {
            "type": "scatter",
            "mode": "markers",
            "name": f"blocked {actions} signal",
            "x": [_x(item.as_of) for item, _ in marks],
            "y": [close for _, close in marks],
            "customdata": [item.decision_id for item, _ in marks],
            "text": [_blocked_text(study, item) for item, _ in marks],
            "marker": {"symbol": "x", "size": 11, "color": BLOCKED},
            "hovertemplate": "%{text}<br>decision %{customdata}<extra></extra>",
        }
    ]


def _blocked_text(study: Study, item: Counterfactual) -> str:
    kind = "failed closed" if item.decision_id in study.failed_closed else "veto held"
    outcome = {LOSS: "loss avoided", PROFIT: "profit missed"}.get(item.outcome, item.outcome)
    if item.outcome != UNRESOLVED:
        span = horizon(study.result.blocked.horizon)
        outcome += f" ({pct(item.net_return, signed=True)} over {span})"
    return _escape(
        f"{item.action} blocked by {', '.join(item.blocked_by)} ({kind}) on {day(item.as_of)}: "
        f"{outcome}"
    )


# --- shared ------------------------------------------------------------------------------------

_GRID = {"gridcolor": "#e6e6e6", "zeroline": False, "linecolor": "#999999", "showline": True}
_SPIKES = {"showspikes": True, "spikemode": "across", "spikethickness": 1, "spikedash": "dot",
           "spikecolor": "#999999"}  # fmt: skip


def _layout(*, height: int, hovermode: str, **more: Any) -> dict[str, Any]:
    return {
        "height": height,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 40},
        "font": FONT,
        "hovermode": hovermode,
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        **more,
    }


def _x(moment: datetime) -> str:
    """A time as plotly reads a date (it ignores zones: these are UTC)."""
    return moment.isoformat(sep=" ")[:19]


def _whole_days(times: Iterable[datetime]) -> bool:
    """Every time at 00:00 UTC: a line of daily closes (or of the periods of a daily equity
    curve), each the close of the day that ended there."""
    return all(_midnight(t) for t in times)


def _midnight(moment: datetime) -> bool:
    found = moment if moment.tzinfo is None else moment.astimezone(UTC)
    return found.time() == datetime.min.time()


def _closed(moment: datetime, days: bool, *, start: bool = False) -> str:
    """Where a point of a line marked at ``moment`` is drawn: with ``days``, on the day that
    ended at it (``2023-02-21 00:00`` holds 02-20's close: ``2023-02-20``), and the starting
    cash (``start``) on the day it is valued, as the tables date them
    (``metrics.dated_mark``); else at its own time."""
    day = dated_mark(moment, days, start=start)
    return day.isoformat() if days and day is not None else _x(moment)


def _escape(text: str) -> str:
    """Plotly renders labels as a little HTML: user-written names must stay text."""
    return html.escape(text, quote=False)


# --- the page ----------------------------------------------------------------------------------


@cache
def plotly_js() -> str:
    """plotly.js itself, to inline once in the page (the report opens offline); read once."""
    # plotly's Python package is imported only for its bundled plotly.js (~4.8 MB of text).
    from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

    return str(get_plotlyjs())


def embed(chart: Chart, why: str | None = None) -> str:
    """The chart's element and the call that draws it (plotly.js must be on the page first).

    ``why``: the audit log the decisions are in; a click on a decision marker then writes
    ``signalops why ID --audit LOG`` into the box under the chart, selected for copying."""
    data = _json(chart.figure["data"])
    drawn = (
        f'<div id="{chart.id}" class="chart"></div>\n'
        f'<script>Plotly.newPlot("{chart.id}", {data}, {_json(chart.figure["layout"])}, '
        f"{_json(CONFIG)});</script>"
    )
    parts = [f"<h2>{html.escape(chart.title)}</h2>", drawn]
    if chart.decisions and why is not None:
        parts.append(
            f'<p class="why">Click a marker for its decision: <input id="{chart.id}-why" '
            f'class="why" readonly data-audit="{html.escape(why)}" '
            'placeholder="signalops why DECISION_ID" aria-label="signalops why command"></p>'
        )
    parts += [f'<p class="note">{html.escape(note)}</p>' for note in chart.notes]
    return "\n".join(parts)


def _json(value: Any) -> str:
    """JSON safe inside a <script> element: ``</`` cannot close it."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("</", "<\\/")


# Wires each decision chart's clicks to its box: `signalops why ID --audit LOG`, selected.
CLICK_SCRIPT = """
document.querySelectorAll("input.why").forEach(function (box) {
  var chart = document.getElementById(box.id.slice(0, -4));
  chart.on("plotly_click", function (event) {
    var marked = event.points.filter(function (point) { return point.customdata; });
    if (!marked.length) { return; }
    var id = marked[0].customdata;
    box.value = "signalops why " + id + " --audit " + box.dataset.audit;
    box.select();
  });
});
""".strip()
