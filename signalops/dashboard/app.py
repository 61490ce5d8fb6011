"""The SignalOps dashboard: ``signalops dashboard`` runs this file with Streamlit.

Pages: Approval queue, Decisions, Portfolio, Strategies, Backtests, Audit integrity. The page
body is a fragment that reruns every few seconds (``SIGNALOPS_DASHBOARD_REFRESH``); widgets
keep their keys, so a refresh never loses the page, the filters or the open approval.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

# `streamlit run` puts this file's folder on sys.path, not the checkout: make `dashboard`
# importable as a package (and prefer this checkout's `signalops`).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import streamlit as st  # noqa: E402

from signalops.dashboard import access, phone, state  # noqa: E402
from signalops.dashboard.api import Settings  # noqa: E402
from signalops.dashboard.views import (  # noqa: E402
    approvals,
    backtests,
    decisions,
    integrity,
    portfolio,
    strategies,
)
from signalops.dashboard.views.common import Context, integrity_banner  # noqa: E402
from signalops.errors import AuditNotFound, SignalOpsError  # noqa: E402

PAGES = {
    "Approval queue": approvals.render,
    "Decisions": decisions.render,
    "Portfolio": portfolio.render,
    "Strategies": strategies.render,
    "Backtests": backtests.render,
    "Audit integrity": integrity.render,
}
PAGE_KEY = "nav.page"


def _page(name: str, settings: Settings, operator: str | None, badge: Any) -> None:
    """One page, rerun on its own every few seconds (a fragment): fresh clock, fresh reads.

    ``badge`` is a sidebar placeholder made outside the fragment, refreshed with it.
    """
    if access.operator(settings) != operator:
        # Logged out in another tab, or the login's lifetime ended: redraw the sidebar too,
        # and answer nothing as the operator this page was drawn for.
        st.rerun()
    try:
        reader = state.reader(settings)
    except SignalOpsError as exc:  # a file that is not an audit log: say which and why, stop
        st.error(str(exc))
        return
    if reader is None:  # nothing recorded yet: the page says how to fill it
        st.warning(str(AuditNotFound(settings.audit_name)))
    context = Context(settings=settings, now=settings.now(), reader=reader, operator=operator)
    waiting = _pending_count(context)
    if waiting:
        badge.warning(f"{waiting} trade(s) waiting for approval", icon=":material/pending:")
    else:
        badge.empty()
    integrity_banner(settings)
    PAGES[name](context)


def _pending_count(context: Context) -> int:
    if context.reader is None:
        return 0
    with context.reader.use() as workspace:
        return sum(not p.expired for p in workspace.audit.pending_approvals(context.now))


def main() -> None:
    st.set_page_config(page_title="SignalOps", page_icon=":material/account_tree:", layout="wide")
    phone.style()
    try:
        settings = Settings.from_env()
    except SignalOpsError as exc:  # a bad config file or variable: say which, stop
        st.error(f"SignalOps dashboard cannot start: {exc}")
        st.stop()
    with st.sidebar:
        st.title("SignalOps")
        page = st.radio("Page", list(PAGES), key=PAGE_KEY)
        badge = st.empty()
        operator = access.sidebar(settings)
        refresh = settings.refresh_seconds
        st.caption(f"Refreshes every {refresh:g}s" if refresh else "Auto-refresh is off")
    body = st.fragment(_page, run_every=settings.refresh_seconds or None)
    body(page, settings, operator, badge)


main()
