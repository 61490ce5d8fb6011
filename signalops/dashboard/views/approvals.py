"""Approval queue: what waits for a human, why the engine wants it, and the answer buttons.

An open approval shows first the price and the strategy's indicators up to the decision (the
first thing a trader checks), then the logic tree, the vetoes and the risk checks. A click on
a row of the queue opens it, as the selectbox below it does.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from signalops.audit import why
from signalops.audit.expand import expanded
from signalops.dashboard import richhtml, tables
from signalops.dashboard.api import answer_approval
from signalops.dashboard.views.chart import decision_chart
from signalops.dashboard.views.common import (
    Context,
    clock_caption,
    picked_elsewhere,
    picking_table,
    recorded,
    table,
)
from signalops.errors import SignalOpsError

SELECTED_KEY = "approvals.selected"
OUTCOME_KEY = "approvals.outcome"
SHOWN_KEY = "approvals.shown"  # the approval whose answer form the last run drew
# Outcomes that did what the operator asked; anything else is shown as an error.
_GOOD = {"FILLED": "success", "SUBMITTED": "success", "REJECTED": "warning", "EXPIRED": "warning"}
_ICONS = {
    "success": ":material/check_circle:",
    "warning": ":material/block:",
    "error": ":material/error:",
}


def render(context: Context) -> None:
    st.header("Approval queue")
    clock_caption(context)
    _last_outcome()
    reader = recorded(context)
    if reader is None:
        return
    with reader.use() as workspace:
        pending = workspace.audit.pending_approvals(context.now)
        quote_of = tables.quotes(workspace.config)
    rows = tables.pending_rows(pending, context.now, quote_of)
    if not rows:
        st.success(
            "No approvals pending. Trades from strategies in notify mode wait here.",
            icon=":material/task_alt:",
        )
        return
    # Counted as the sidebar counts them: an expired one waits for nothing (answering it only
    # records the expiry), so it is said apart.
    expired = sum(row.expired for row in rows)
    lapsed = f", {expired} expired" if expired else ""
    st.write(
        f"**{len(rows) - expired} waiting**{lapsed} (soonest expiry first) · click a row to open it"
    )
    by_id = {row.approval_id: row for row in rows}
    # Keep the operator's place across refreshes; if the one they had open was answered
    # (here or elsewhere), fall back to the first one still waiting, and say so.
    if st.session_state.get(SELECTED_KEY) not in by_id:
        _gone(st.session_state.get(SHOWN_KEY))
        st.session_state[SELECTED_KEY] = rows[0].approval_id
    picking_table(
        [row.table_row() for row in rows],
        list(by_id),
        key="approvals.table",
        selected_key=SELECTED_KEY,
    )
    chosen = st.selectbox(
        "Open approval",
        list(by_id),
        format_func=lambda i: by_id[i].label(),
        key=SELECTED_KEY,
        on_change=picked_elsewhere,
        args=(SELECTED_KEY,),
    )
    row = by_id[chosen]
    item = next(p for p in pending if (p.approval_id or p.decision_id) == chosen)
    with reader.use() as workspace:
        # A compact record's trace is re-derived from the tree the log stores for it.
        record = expanded(item.record, workspace.audit)
        gap = tables.tree_gap(record, workspace.audit)
    _detail(context, row, record, quote_of(row.asset), gap)


def answer_key(part: str, approval_id: str) -> str:
    """The key of a part of one approval's answer form (``form``, ``note``, ``approve``,
    ``reject``): a press sent for an approval no longer shown (a second tap, an answer that
    crossed another's) matches no widget of the next run, so it answers nothing, rather than
    the approval shown in its place."""
    return f"approvals.{part}.{approval_id}"


def _gone(shown: str | None) -> None:
    """Say that the approval open until now is no longer waiting, unless this operator's own
    answer to it is the outcome shown above."""
    outcome = st.session_state.get(OUTCOME_KEY) or {}
    if shown is None or outcome.get("approval_id") == shown:
        return
    st.info(
        f"**{shown}**, which you had open, is no longer waiting (answered elsewhere, or "
        "expired): check the one below before you answer.",
        icon=":material/info:",
    )


def _last_outcome() -> None:
    outcome: dict[str, Any] | None = st.session_state.get(OUTCOME_KEY)
    if not outcome:
        return
    text = f"**{outcome['approval_id']}: {outcome['status']}** — {outcome['message']}"
    kind = _GOOD.get(outcome["status"], "error")
    getattr(st, kind)(text, icon=_ICONS[kind])


def _detail(
    context: Context,
    row: tables.PendingRow,
    record: dict[str, Any],
    quote: str | None,
    gap: str | None,
) -> None:
    """``gap``: why the record has no logic tree to draw (``tables.tree_gap``), or None."""
    st.subheader(f"{row.side} {row.quantity} {row.asset}")
    st.write(why.headline(record))
    expiry = "**EXPIRED**" if row.expired else f"in **{row.expires_in}**"
    price = f" at **{row.price}**" if row.price else ""
    st.markdown(
        f"Notional **{row.notional}**{price} · decided {row.decided_at} (**{row.age}** ago) · "
        f"expires {expiry} ({row.expires_at}) · strategy **{row.strategy}** · "
        f"decision `{row.decision_id}`"
    )
    if row.expired:
        st.warning(
            f"This approval expired at {row.expires_at}: answering it records the expiry and "
            "executes nothing.",
            icon=":material/timer_off:",
        )
    decision_chart(context, record, quote, key="approvals.chart")
    st.markdown("**The logic tree**: every condition with the value the engine saw")
    if gap is not None:
        # The rest of the decision (verdict, risk checks, the record) still reads; only what
        # the tree gives (conditions, vetoes) cannot be shown, and "no vetoes" would be a guess.
        st.warning(
            f"**No logic tree to show**: {gap}. Its conditions and vetoes cannot be drawn; "
            "the verdict, the risk checks and the record below are as stored.",
            icon=":material/account_tree:",
        )
    else:
        _tree(record)
    risk_rows = tables.risk_rows(record.get("risk"), quote)
    failed = [r for r in risk_rows if r["result"] != "PASS"]
    verdict = ":material/gpp_bad: DENIED" if failed else ":material/verified_user: approved"
    st.markdown(
        f"**Risk gate at decision time:** {verdict} — "
        f"{len(risk_rows) - len(failed)} of {len(risk_rows)} checks passed"
    )
    if failed:
        table(failed, key="approvals.risk_failed")
    # Every check with its numbers, folded while they all pass (the answer stays in view).
    with st.expander("All risk checks", expanded=bool(failed)):
        table(risk_rows, key="approvals.risk")
    with st.expander("The whole decision, as `signalops why` prints it", expanded=False):
        with context.reader.use() as workspace:  # type: ignore[union-attr]
            followups = workspace.audit.followups(record["decision_id"])
        st.code(tables.why_text(record, followups), language=None)
    _answer_form(context, row)


def _tree(record: dict[str, Any]) -> None:
    tree_tab, leaves_tab = st.tabs(["Tree", "Conditions"])
    with tree_tab, st.container(key="approvals.tree"):
        st.html(richhtml.text_html(why.trees(record["trace"])))
    with leaves_tab:
        table(tables.leaf_rows(record), key="approvals.leaves")
    vetoes = tables.veto_rows(record)
    st.markdown("**Vetoes**" if vetoes else "**Vetoes:** none")
    if vetoes:
        table(vetoes, key="approvals.vetoes")


def _answer_form(context: Context, row: tables.PendingRow) -> None:
    trade = f"{row.side} {row.quantity} {row.asset}"
    st.markdown(f"**Your answer to {trade}** (`{row.approval_id}`)")
    if not context.can_answer:
        st.info(
            "Read-only: log in as operator (sidebar) to approve or reject. Approving re-checks "
            "the signal on fresh data and the risk gate before anything executes.",
            icon=":material/lock:",
        )
    st.session_state[SHOWN_KEY] = row.approval_id
    with st.form(answer_key("form", row.approval_id), clear_on_submit=True):
        note = st.text_area(
            "Note (kept in the audit record; required to reject)",
            key=answer_key("note", row.approval_id),
            disabled=not context.can_answer,
        )
        left, right = st.columns(2)
        approve = left.form_submit_button(
            f"Approve {trade}",
            type="primary",
            icon=":material/check:",
            key=answer_key("approve", row.approval_id),
            disabled=not context.can_answer,
        )
        reject = right.form_submit_button(
            "Reject",
            icon=":material/close:",
            key=answer_key("reject", row.approval_id),
            disabled=not context.can_answer,
        )
    if not (approve or reject):
        return
    if not context.can_answer or context.operator is None:
        st.error("Read-only: log in as operator to answer.", icon=":material/lock:")  # forged
        return
    if reject and not (note or "").strip():
        # Kept until the next answer: a refresh a second later would wipe a plain message.
        st.session_state[OUTCOME_KEY] = {
            "approval_id": row.approval_id,
            "status": "NOT REJECTED",
            "message": "say why you reject it: the note is kept in the audit record",
        }
        st.rerun()
    with st.spinner("Re-checking data and risk..." if approve else "Recording..."):
        try:
            outcome = answer_approval(
                context.settings,
                row.approval_id,
                approve=bool(approve),
                by=context.operator,
                note=(note or "").strip() or None,
            )
        except SignalOpsError as exc:
            result = {"approval_id": row.approval_id, "status": "ERROR", "message": str(exc)}
        else:
            result = {
                "approval_id": outcome.approval_id,
                "status": outcome.status,
                "message": outcome.message,
            }
    st.session_state[OUTCOME_KEY] = result
    st.rerun()  # the whole app: the queue, the sidebar count and the outcome at once
