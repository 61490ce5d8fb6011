"""Portfolio: the paper account (cash, positions, PnL, equity over time) and any live fills."""

from __future__ import annotations

from decimal import Decimal

import altair as alt
import pandas as pd
import streamlit as st

from signalops.dashboard import tables
from signalops.dashboard.views.common import Context, clock_caption, recorded, table


def _money(value: Decimal, quote: str | None = None) -> str:
    return f"{value:,.2f}" + (f" {quote}" if quote else "")


def _equity_chart(points: list[dict], quote: str) -> alt.Chart:
    # Not from zero: a 1% move on a 10,000 account must be visible.
    return (
        alt.Chart(pd.DataFrame(points))
        .mark_line(interpolate="step-after", point=True)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y("equity:Q", title=f"equity ({quote})", scale=alt.Scale(zero=False)),
            tooltip=["time:T", alt.Tooltip("equity:Q", format=",.2f")],
        )
    )


def render(context: Context) -> None:
    st.header("Portfolio")
    clock_caption(context)
    reader = recorded(context)
    if reader is None:
        return
    with reader.use() as workspace:
        broker = workspace.broker
        # No market feed here: positions are marked at their latest fill price.
        view = broker.portfolio({}, context.now)
        fills = broker.fills()
        starting, quote = broker.starting_cash, broker.quote
        live = tables.live_fill_rows(workspace.audit)
    total_pnl = view.equity - starting
    unrealised = sum((p.unrealised_pnl for p in view.positions.values()), Decimal(0))
    cols = st.columns(5)
    cols[0].metric(f"Equity ({quote})", _money(view.equity))
    cols[1].metric(f"Cash ({quote})", _money(view.cash))
    cols[2].metric(f"PnL ({quote})", _money(total_pnl), f"{total_pnl / starting:+.2%}")
    cols[3].metric(f"Realised ({quote})", _money(view.realised_pnl))
    cols[4].metric(f"Unrealised ({quote})", _money(unrealised))
    st.caption(
        f"Paper account (starting cash {_money(starting, quote)}), from the ledger in the audit "
        "file. Positions are marked at their latest fill price."
    )

    st.subheader("Positions")
    if view.positions:
        table(
            [
                {
                    "asset": p.asset,
                    "quantity": tables.plain_number(p.quantity),
                    "average price": f"{p.average_price:,.2f}",
                    "last price": f"{p.last_price:,.2f}",
                    "market value": f"{p.market_value:,.2f}",
                    "unrealised PnL": f"{p.unrealised_pnl:,.2f}",
                }
                for p in view.positions.values()
            ],
            key="portfolio.positions",
        )
    else:
        st.write("No open positions.")

    st.subheader("Equity")
    points = tables.equity_points(fills, starting, context.now)
    if points:
        st.altair_chart(_equity_chart(points, quote))
    else:
        st.write("No fills yet: the equity line starts with the first trade.")

    st.subheader("Fills")
    rows = tables.fill_rows(fills, context.now)
    if rows:
        table(rows, key="portfolio.fills")
    else:
        st.write("No paper fills yet.")
    if live:
        st.subheader("Live fills (auto mode, from the audit log)")
        table(live, key="portfolio.live")
