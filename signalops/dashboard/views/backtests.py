"""Backtests: the reports ``signalops backtest`` writes (``reports/<name>/metrics.json`` and
charts beside it). The format of metrics.json belongs to the backtest: shown as it is."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from signalops.dashboard import files
from signalops.dashboard.views.common import Context, table


def render(context: Context) -> None:
    st.header("Backtests")
    folder = context.settings.reports
    st.caption(f"Reports in `{folder}`")
    reports = files.backtest_reports(folder)
    if not reports:
        st.info(
            f"No backtest reports in `{folder}` yet. A backtest writes one folder per run with "
            "its `metrics.json` and charts, e.g.\n\n"
            "```\nsignalops backtest strategies/banking_crisis_dip.yaml "
            "--from 2023-03-01 --to 2023-03-31\n```"
        )
        return
    names = [r.name for r in reports]
    chosen = st.selectbox("Report", names, key="backtests.selected")
    report = reports[names.index(chosen)]
    st.subheader(report.name)
    if report.error:
        st.error(f"Cannot read this report: {report.error}")
    scalars = report.scalar_metrics()
    if scalars:
        rows = [{"metric": k, "value": str(v)} for k, v in scalars.items()]
        table(rows, key="backtests.metrics")
    comparison = report.comparison()
    if comparison:
        table(comparison, key="backtests.comparison")
    for chart in report.charts:
        st.image(str(chart), caption=chart.name)
    if not report.charts:
        st.caption("No charts in this report.")
    if report.trades is not None:
        with st.expander("Trades (trades.csv)"):
            st.dataframe(pd.read_csv(report.trades), hide_index=True)
    with st.expander("metrics.json as written"):
        st.json(report.metrics, expanded=False)
    if report.html is not None:
        st.caption(f"The full report, for a browser or an e-mail: `{report.html}`")
