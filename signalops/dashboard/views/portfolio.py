"""Portfolio: the paper account (cash, positions, PnL, equity over time), each strategy's book,
and any live fills; open positions are valued at market (``signalops.dashboard.books``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import altair as alt
import pandas as pd
import streamlit as st

from signalops import numbers
from signalops.canonical import iso
from signalops.dashboard import tables
from signalops.dashboard.api import Settings, portfolio, portfolio_prices
from signalops.dashboard.books import MARKET, Book, Books, held_assets
from signalops.dashboard.views.common import Context, clock_caption, recorded, table
from signalops.workspace import Workspace


def _equity_chart(points: list[dict], quote: str) -> alt.Chart:
    # Not from zero: a 1% move on a 10,000 account must be visible.
    return (
        alt.Chart(pd.DataFrame(points))
        .mark_line(interpolate="step-after", point=True)
        .encode(
            # In UTC, as every time on the page is (the browser's own zone, in 12-hour form,
            # read 07 PM beside fills at 00:00:00Z).
            x=alt.X(
                "time:T",
                title="UTC",
                scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%Y-%m-%d %H:%M"),
            ),
            y=alt.Y("equity:Q", title=f"equity ({quote})", scale=alt.Scale(zero=False)),
            tooltip=[
                alt.Tooltip("utcyearmonthdatehoursminutes(time):T", title="time (UTC)"),
                alt.Tooltip("equity:Q", format=",.2f"),
            ],
        )
    )


@st.cache_data(ttl=60, show_spinner=False, max_entries=16)
def _cached_prices(
    _settings: Settings, _workspace: Workspace, key: tuple[str, ...]
) -> dict[str, tuple[Decimal, datetime]]:
    now = datetime.fromisoformat(key[0])
    return portfolio_prices(_settings, _workspace, now)


def _prices(context: Context, workspace: Workspace) -> dict[str, tuple[Decimal, datetime]]:
    """Market prices, fetched at most once a minute per clock and holdings (the page refreshes
    every few seconds; a live venue need not be asked each time)."""
    held = held_assets(workspace.broker, context.now)
    key = (
        context.now.isoformat(),
        context.settings.audit_name,
        str(context.settings.replay),
        *held,
    )
    return _cached_prices(context.settings, workspace, key)


def _marks_text(found: Books) -> str:
    if not found.marks:
        return ""
    parts = []
    for mark in found.marks:
        if mark.source == MARKET and mark.at is not None:
            parts.append(
                f"{mark.asset} at market {numbers.price(mark.price)} (close of {iso(mark.at)})"
            )
        else:
            parts.append(
                f"{mark.asset} at its last fill price {numbers.price(mark.price)} (no market price)"
            )
    return "Positions are valued " + "; ".join(parts) + "."


def _book_row(book: Book, quote: str) -> dict[str, str]:
    view = book.view
    held = ", ".join(f"{numbers.quantity(p.quantity)} {p.asset}" for p in view.positions.values())
    return {
        "strategy": book.strategy,
        f"capital ({quote})": "shared" if book.capital is None else numbers.money(book.capital),
        "positions": held or "none",
        f"cash ({quote})": numbers.money(view.cash),
        f"equity ({quote})": numbers.money(view.equity),
        f"realised PnL ({quote})": numbers.money(view.realised_pnl, signed=True),
        f"unrealised PnL ({quote})": numbers.money(book.unrealised, signed=True),
    }


def render(context: Context) -> None:
    st.header("Portfolio")
    clock_caption(context)
    reader = recorded(context)
    if reader is None:
        return
    with reader.use() as workspace:
        broker = workspace.broker
        prices = _prices(context, workspace)
        found = portfolio(context.settings, workspace, context.now, prices)
        fills = broker.fills()
        starting, quote = broker.starting_cash, broker.quote
        live = tables.live_fill_rows(workspace.audit)
    view = found.account
    total_pnl = view.equity - starting
    unrealised = sum((p.unrealised_pnl for p in view.positions.values()), Decimal(0))
    cols = st.columns(5)
    cols[0].metric(f"Equity ({quote})", numbers.money(view.equity))
    cols[1].metric(f"Cash ({quote})", numbers.money(view.cash))
    change = numbers.percent(total_pnl / starting, signed=True) if starting else None
    cols[2].metric(f"PnL ({quote})", numbers.money(total_pnl), change)
    cols[3].metric(f"Realised ({quote})", numbers.money(view.realised_pnl))
    cols[4].metric(f"Unrealised ({quote})", numbers.money(unrealised))
    st.caption(
        f"Paper account (starting cash {numbers.money(starting, quote)}), from the ledger in the "
        f"audit file. {_marks_text(found)}"
    )

    st.subheader("Positions")
    if view.positions:
        table(
            [
                {
                    "asset": p.asset,
                    "quantity": numbers.quantity(p.quantity),
                    f"average price ({quote})": numbers.price(p.average_price),
                    f"last price ({quote})": numbers.price(p.last_price),
                    f"market value ({quote})": numbers.money(p.market_value),
                    f"unrealised PnL ({quote})": numbers.money(p.unrealised_pnl, signed=True),
                }
                for p in view.positions.values()
            ],
            key="portfolio.positions",
        )
    else:
        st.write("No open positions.")

    st.subheader("Books")
    if found.books:
        table([_book_row(book, quote) for book in found.books], key="portfolio.books")
        st.caption(
            'Each strategy\'s own book: it sells only what it bought. Capital "shared": it '
            "sizes on the whole account (its cash column is then the account's equity beyond "
            "its own positions)."
        )
    else:
        st.write("No strategy has traded on paper yet.")

    st.subheader("Equity")
    points = tables.equity_points(fills, starting, context.now)
    if points:
        st.altair_chart(_equity_chart(points, quote))
    else:
        st.write("No fills yet: the equity line starts with the first trade.")

    st.subheader("Fills")
    rows = tables.fill_rows(fills, context.now, quote)
    if rows:
        table(rows, key="portfolio.fills")
    else:
        st.write("No paper fills yet.")
    if live:
        st.subheader("Live fills (auto mode, from the audit log)")
        table(live, key="portfolio.live")
