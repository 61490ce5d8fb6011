"""Decisions: every evaluation, traded or not, filterable, with the ``why`` of each. A click on
a row opens it (as the "Explain decision" selectbox does): its chart, conditions and ``why``.

A shared (PostgreSQL) log has named runners: the feed then says which one decided each, and
filters by runner. A SQLite log (one unnamed writer) has neither.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from signalops.audit import why
from signalops.audit.expand import expanded
from signalops.dashboard import tables
from signalops.dashboard.state import Reader
from signalops.dashboard.views.chart import decision_chart
from signalops.dashboard.views.common import (
    Context,
    clock_caption,
    picked_elsewhere,
    picking_table,
    recorded,
    table,
)

ALL = "(all)"
VERDICTS = (ALL, "BUY", "SELL", "HOLD", "BLOCKED")
SELECTED_KEY = "decisions.selected"


def render(context: Context) -> None:
    st.header("Decisions")
    clock_caption(context)
    reader = recorded(context)
    if reader is None:
        return
    with reader.use() as workspace:
        strategies = tables.distinct_values(workspace.audit, "strategy")
        assets = tables.distinct_values(workspace.audit, "asset")
        runners = tables.runners(workspace.audit)
        quote_of = tables.quotes(workspace.config)
    cols = iter(st.columns([3, 2, 2, 2, 2, 2, 1] if runners else [3, 2, 2, 2, 2, 1]))
    strategy = next(cols).selectbox("Strategy", (ALL, *strategies), key="decisions.strategy")
    asset = next(cols).selectbox("Asset", (ALL, *assets), key="decisions.asset")
    runner = ALL
    if runners:
        runner = next(cols).selectbox("Runner", (ALL, *runners), key="decisions.runner")
    verdict = next(cols).selectbox("Verdict", VERDICTS, key="decisions.verdict")
    since = next(cols).date_input("From", value=None, key="decisions.since")
    until = next(cols).date_input("To", value=None, key="decisions.until")
    limit = int(next(cols).number_input("Show", 10, 5000, 200, step=50, key="decisions.limit"))
    with reader.use() as workspace:
        # One more than shown: whether Show cut the list, for one more row's read.
        rows = tables.decision_rows(
            workspace.audit,
            strategy=None if strategy == ALL else strategy,
            asset=None if asset == ALL else asset,
            verdict=None if verdict == ALL else verdict,
            since=since,
            until=until,
            limit=limit + 1,
            runner=None if runner == ALL else runner,
            runners=runners,
            quote_of=quote_of,
        )
    if not rows:
        st.info("No decisions match these filters.", icon=":material/filter_alt_off:")
        return
    more = len(rows) > limit
    rows = rows[:limit]
    st.write(f"{shown(len(rows), more)} · click a row to explain it")
    ids = [row["decision"] for row in rows]
    labels = {row["decision"]: _label(row) for row in rows}
    if st.session_state.get(SELECTED_KEY) not in labels:
        st.session_state[SELECTED_KEY] = ids[0]
    picking_table(rows, ids, key="decisions.table", selected_key=SELECTED_KEY)
    chosen = st.selectbox(
        "Explain decision",
        ids,
        format_func=labels.__getitem__,
        key=SELECTED_KEY,
        on_change=picked_elsewhere,
        args=(SELECTED_KEY,),
    )
    _detail(context, reader, chosen, quote_of)


def shown(count: int, more: bool) -> str:
    """What the feed lists: all the decisions that match, or (``more``: Show cut it) the
    newest of more that match.

    Not "200 of 362": the log has no count of the decisions a filter matches (``count()`` is
    every record, fills and approvals too), and counting them by reading them costs a pass
    over the log (8.8 s at 1,000,000 records), where this costs one more row."""
    noun = "decision" if count == 1 else "decisions"
    if not more:
        return f"**{count:,} {noun}** (newest first)"
    return f"**the newest {count:,} {noun}** of more that match (raise Show to list more)"


def _label(row: dict[str, Any]) -> str:
    label = f"{row['as of']} · {row['asset']} · {row['verdict']} · {row['outcome']}"
    return f"{label} · {row['runner']}" if "runner" in row else label


def _detail(context: Context, reader: Reader, decision_id: str, quote_of: tables.QuoteOf) -> None:
    with reader.use() as workspace:
        stored = workspace.audit.get(decision_id)
        followups = workspace.audit.followups(decision_id)
        # A compact record's trace is re-derived from the tree the log stores for it.
        record = expanded(stored, workspace.audit) if stored is not None else None
    if record is None:  # pragma: no cover - ids come from the same log
        st.error(f"{decision_id} is not in the audit log")
        return
    st.subheader(f"{record['asset']} at {record['as_of']}: {why.outcome(record, followups)}")
    decision_chart(context, record, quote_of(record["asset"]), key="decisions.chart")
    st.markdown("**Conditions**")
    table(tables.leaf_rows(record), key="decisions.leaves")
    st.markdown(f"**Why** — the same as `signalops why {decision_id}`")
    st.code(tables.why_text(record, followups), language=None)
    st.download_button(
        "Download as JSON (signalops why --json)",
        json.dumps(why.why_json(record, followups), indent=2),
        file_name=f"{decision_id}.json",
        mime="application/json",
        icon=":material/download:",
        key="decisions.download",
    )
