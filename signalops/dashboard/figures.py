"""A decision's chart (``signalops.dashboard.charts``) drawn with plotly: candles with the
price-level indicators over them, the decision time as a dashed line with the order's price
marked, and one pane per other indicator with its thresholds as dotted levels.

Every point sits at the close time of its candle (when it became known), so everything on or
left of the decision line is what the engine could see; candles after it (shaded) are what the
price did while the decision waited. Times are UTC.

plotly is imported when a figure is drawn, not with the dashboard: ``available()`` says
whether it is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
from datetime import datetime
from typing import Any

from signalops import numbers
from signalops.catalogue.spec import format_duration
from signalops.dashboard.charts import DecisionChart, Level, Line

# plotly ships no type information: its figures are ``Any`` here.
Figure = Any

# The colours the rest of the dashboard gives these words (views.common).
GREEN, RED, AMBER, BLUE, PURPLE, GREY = (
    "#1a7f37", "#cf222e", "#9a6700", "#0969da", "#8250df", "#6e7781",
)  # fmt: skip
_LINE_COLOURS = ("#0969da", "#bc4c00", "#8250df", "#1b7c83", "#bf3989", "#4d2d00")
PRICE_HEIGHT = 380
PANE_HEIGHT = 170


def available() -> bool:
    return importlib.util.find_spec("plotly") is not None


def _naive(moment: datetime) -> datetime:
    """plotly draws a zoned time in the browser's zone: give it UTC without a zone."""
    return moment.replace(tzinfo=None)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _plotly(module: str) -> Any:
    """``plotly.<module>``, imported on first use (the dashboard starts without it)."""
    return importlib.import_module(f"plotly.{module}")


def from_json(figure: dict[str, Any]) -> Figure:
    """A plotly figure from its JSON form (a backtest report's ``charts.json``), validated
    once here rather than by Streamlit on every page run."""
    return _plotly("graph_objects").Figure(
        {"data": figure.get("data", []), "layout": figure.get("layout", {})}
    )


def figure(chart: DecisionChart, quote: str | None = None) -> Figure:
    make_subplots = _plotly("subplots").make_subplots

    rows = 1 + len(chart.panes)
    frame = format_duration(chart.bars.timeframe)
    fig = make_subplots(
        rows=rows,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06 if rows > 1 else 0.0,
        row_heights=[PRICE_HEIGHT, *(PANE_HEIGHT for _ in chart.panes)],
        subplot_titles=[f"{chart.asset} · {frame} candles", *(p.title for p in chart.panes)],
    )
    _price(fig, chart, quote)
    for row, pane in enumerate(chart.panes, start=2):
        for n, line in enumerate(pane.lines):
            _line(fig, line, _LINE_COLOURS[n % len(_LINE_COLOURS)], row, pane.percent)
        for level in pane.levels:
            _level(fig, level, row, pane.percent)
        if pane.percent:
            fig.update_yaxes(tickformat=".0%", row=row, col=1)
    _decision(fig, chart)
    fig.update_xaxes(rangeslider_visible=False, showgrid=True)
    fig.update_xaxes(title_text="time (UTC)", row=rows, col=1)
    fig.update_layout(
        height=PRICE_HEIGHT + PANE_HEIGHT * len(chart.panes) + 90,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0},
        hovermode="x unified",
    )
    return fig


def _price(fig: Figure, chart: DecisionChart, quote: str | None) -> None:
    go = _plotly("graph_objects")

    bars = chart.bars
    fig.add_trace(
        go.Candlestick(
            x=[_naive(t) for t in bars.close_time],
            open=bars.open,
            high=bars.high,
            low=bars.low,
            close=bars.close,
            name=chart.asset,
            increasing_line_color=GREEN,
            decreasing_line_color=RED,
            hovertext=[f"closed {_when(t)}" for t in bars.close_time],
        ),
        row=1,
        col=1,
    )
    for n, line in enumerate(chart.overlays):
        _line(fig, line, _LINE_COLOURS[n % len(_LINE_COLOURS)], 1, percent=False)
    for level in chart.price_levels:
        _level(fig, level, 1, percent=False)
    fig.update_yaxes(title_text=f"{chart.asset} ({quote})" if quote else chart.asset, row=1, col=1)
    if chart.price is not None and chart.action in ("BUY", "SELL"):
        buy = chart.action == "BUY"
        fig.add_trace(
            go.Scatter(
                x=[_naive(chart.decided_at)],
                y=[chart.price],
                mode="markers",
                marker={
                    "symbol": "triangle-up" if buy else "triangle-down",
                    "size": 16,
                    "color": GREEN if buy else RED,
                    "line": {"width": 1, "color": "white"},
                },
                name=f"{chart.action} at {numbers.price(chart.price, quote)}",
            ),
            row=1,
            col=1,
        )


def _line(fig: Figure, line: Line, colour: str, row: int, percent: bool) -> None:
    go = _plotly("graph_objects")

    shown = ".2%" if percent else ",.4~f"
    fig.add_trace(
        go.Scatter(
            x=[_naive(t) for t in line.times],
            y=list(line.values),
            mode="lines",
            name=line.label,
            line={"width": 1.6, "color": colour},
            hovertemplate=f"%{{y:{shown}}}",
        ),
        row=row,
        col=1,
    )
    if line.recorded is not None and line.recorded_at is not None:
        value = numbers.percent(line.recorded) if percent else numbers.number(line.recorded)
        fig.add_trace(
            go.Scatter(
                x=[_naive(line.recorded_at)],
                y=[line.recorded],
                mode="markers",
                marker={"size": 10, "color": colour, "line": {"width": 2, "color": "white"}},
                name=f"{line.label} = {value} in the record",
                hovertemplate=f"in the record: %{{y:{shown}}}<extra></extra>",
            ),
            row=row,
            col=1,
        )


def _level(fig: Figure, level: Level, row: int, percent: bool) -> None:
    colour = {"PASS": GREEN, "FAIL": GREY}.get(level.status or "", AMBER)
    value = numbers.percent(level.value) if percent else numbers.number(level.value)
    fig.add_hline(
        y=level.value,
        line={"dash": "dot", "width": 1.4, "color": colour},
        annotation_text=f"{level.condition}: {level.status or '?'} ({value})",
        annotation_position="top left",
        annotation_font={"size": 11, "color": colour},
        row=row,
        col=1,
    )


def _decision(fig: Figure, chart: DecisionChart) -> None:
    """The dashed line at the decision time on every pane, and the shaded span after it."""
    at = _naive(chart.decided_at)
    later = [t for t in chart.bars.close_time if t > chart.decided_at]
    if later:
        fig.add_vrect(
            x0=at, x1=_naive(later[-1]), fillcolor=GREY, opacity=0.08, line_width=0, row="all"
        )
    # add_vline's own annotation cannot place a time axis position: the label goes apart.
    fig.add_vline(x=at, line={"dash": "dash", "width": 1.5, "color": PURPLE}, row="all")
    fig.add_annotation(
        **_top_of_price(),
        x=at,
        text=f"decision {_when(chart.decided_at)}",
        showarrow=False,
        xanchor="right",
        font={"color": PURPLE, "size": 11},
    )


def _top_of_price() -> dict[str, Any]:
    return {"xref": "x", "yref": "y domain", "y": 1.0, "yanchor": "bottom"}
