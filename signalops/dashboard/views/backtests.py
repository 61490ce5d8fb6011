"""Backtests: the reports ``signalops backtest`` writes (``reports/<name>/``), with numbers as
the CLI prints them: whose figures they are, the headline figures as cards, the strategy beside
its vetoes-removed baseline and buy-and-hold (row for row the CLI's table), of several strategies
run together their account beside buy-and-hold and the account by strategy (the CLI's and
report.html's table and lines), the further measures (benchmark-relative, trade statistics,
VaR/CVaR, monthly returns), each asset of a universe, and the report's interactive charts
(``charts.json``; older reports' images otherwise)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from signalops.dashboard import documents, figures
from signalops.dashboard.formatting import (
    headline,
    keyed_rows,
    metric_rows,
    monthly_rows,
    tail_risk_rows,
)
from signalops.dashboard.views.common import Context, table

CARDS_PER_ROW = 4  # more and the numbers are cut off on a laptop screen


def render(context: Context) -> None:
    st.header("Backtests")
    folder = context.settings.reports
    st.caption(f"Reports in `{folder}`")
    reports = documents.backtest_reports(folder)
    if not reports:
        st.info(
            f"No backtest reports in `{folder}` yet. A backtest writes one folder per run with "
            "its `metrics.json` and charts, e.g.\n\n"
            "```\nsignalops backtest strategies/banking_crisis_dip.yaml "
            "--from 2023-03-01 --to 2023-03-31\n```",
            icon=":material/query_stats:",
        )
        return
    names = [r.name for r in reports]
    chosen = st.selectbox("Report", names, key="backtests.selected")
    report = reports[names.index(chosen)]
    st.subheader(report.name)
    if report.error:
        st.error(f"Cannot read this report: {report.error}", icon=":material/error:")
    whose = report.whose()
    if whose:
        st.markdown(whose)
    if report.quote_assumed:
        st.caption(
            f"The report names no currency (its metrics.json has no `quote`, and no paper "
            f"account is beside it): its money is shown in {report.quote}, the default, which "
            "it may not be in."
        )
    _headline(report)
    comparison = report.comparison()
    if comparison:
        table(comparison, key="backtests.comparison", height="content")
    _by_strategy(report)
    _further(report)
    run = report.run_rows()
    if run:
        with st.expander("The run: period, cash, timing", icon=":material/tune:"):
            table(run, key="backtests.metrics", height="content")
    _charts(report)
    if report.trades is not None:
        with st.expander("Trades (trades.csv)", icon=":material/receipt_long:"):
            st.dataframe(pd.read_csv(report.trades), hide_index=True)
    with st.expander("metrics.json as written", icon=":material/data_object:"):
        st.json(report.metrics, expanded=False)
    if report.html is not None:
        _html_download(report)


def _headline(report: documents.BacktestReport) -> None:
    lead = report.runs().get(report.lead)
    cards = headline(lead, report.quote) if lead else []
    if not cards:
        return
    with st.container(key="backtests.headline"):
        for start in range(0, len(cards), CARDS_PER_ROW):
            row = cards[start : start + CARDS_PER_ROW]
            for column, (label, text) in zip(st.columns(CARDS_PER_ROW), row, strict=False):
                column.metric(label, text)


def _by_strategy(report: documents.BacktestReport) -> None:
    """Of several strategies run together, their account taken apart by strategy, as the
    terminal printed it under ``account by strategy`` and report.html shows it."""
    if not report.together:
        return
    st.markdown("**Account by strategy**")
    account = report.account()
    if account is None:
        st.caption("metrics.json has no readable `books`: see it as written below.")
        return
    found = account.table()
    st.caption(found.summary)
    rows = [dict(zip(found.columns, row, strict=True)) for row in found.rows]
    table(rows, key="backtests.strategies", height="content")
    for line in account.lines():
        st.caption(line)


def _further(report: documents.BacktestReport) -> None:
    """The measures beyond the CLI's main table, when the report has them."""
    extended = report.section("extended")
    rows = [{"metric": label, report.lead: text} for label, text in metric_rows(extended)]
    if rows:
        st.markdown(f"**More measures of the {report.lead}**")
        table(rows, key="backtests.extended", height="content")
    tail = tail_risk_rows(extended.get("tail_risk"))
    if tail:
        st.markdown("**Value at risk** (a fraction of equity lost over the horizon)")
        table(tail, key="backtests.tail_risk", height="content")
    monthly = monthly_rows(extended.get("monthly_returns"))
    if monthly:
        st.markdown("**Monthly returns**")
        table(monthly, key="backtests.monthly", height="content")
    assets = report.section("universe").get("assets")
    if isinstance(assets, dict) and len(assets) > 1:
        st.markdown("**Each asset of the universe**")
        table(keyed_rows(assets, "asset", report.quote), key="backtests.assets", height="content")


def _charts(report: documents.BacktestReport) -> None:
    interactive = _interactive(str(report.folder), _stamp(report.folder / "charts.json"))
    for n, (title, figure, notes) in enumerate(interactive):
        st.markdown(f"**{title}**")
        # The report's own colours and sizes, not the dashboard theme's.
        st.plotly_chart(figure, theme=None, key=f"backtests.chart.{n}")
        for note in notes:
            st.caption(note)
    if interactive:
        return
    for image in report.charts:
        st.image(str(image), caption=image.name)
    if not report.charts:
        st.caption("No charts in this report.")


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_mtime_ns, found.st_size


# A resource: plotly validates a figure when it is made; made once per report file, not on
# every refresh. Nothing changes them.
@st.cache_resource(max_entries=16, show_spinner=False)
def _interactive(folder: str, stamp: tuple[int, int] | None) -> list[tuple[str, Any, list[str]]]:
    """(title, figure, notes) of each chart in ``charts.json`` (``stamp``: the file's
    version); none without plotly or the file."""
    if stamp is None or not figures.available():
        return []
    found = documents.BacktestReport(Path(folder)).interactive()
    return [
        (
            str(chart.get("title") or "Chart"),
            figures.from_json(chart["figure"]),
            [str(n) for n in chart.get("notes") or ()],
        )
        for chart in found
    ]


def _html_download(report: documents.BacktestReport) -> None:
    html = report.html
    assert html is not None
    st.caption(f"The full report, for a browser or an e-mail: `{html}`")
    st.download_button(
        "Download report.html",
        html.read_bytes,  # read on the click, not on every refresh (a report is megabytes)
        file_name=f"{report.name}.html",
        mime="text/html",
        on_click="ignore",
        icon=":material/download:",
        key="backtests.download",
    )
