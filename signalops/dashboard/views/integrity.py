"""Audit integrity: the verification of the audit log, loud when it fails.

Checks run in the background (``signalops.dashboard.verification``): this page shows where they
stand and never waits for one. A full check (every record, from seq 0) needs a logged-in
operator: on a large log it keeps the process busy for minutes.
"""

from __future__ import annotations

import streamlit as st

from signalops.dashboard import state
from signalops.dashboard.verification import Integrity, Status
from signalops.dashboard.views.common import (
    Context,
    first_run,
    kinds_text,
    recorded,
    table,
    verification_line,
    when,
)

FULL_KEY = "integrity.verify"


def render(context: Context) -> None:
    st.header("Audit integrity")
    st.caption(f"Audit log `{context.settings.audit_name}`")
    if recorded(context) is None:
        return
    status = state.verification(context.settings)
    if status is None:  # pragma: no cover - the file was there a moment ago
        first_run(context.settings)
        return
    _full_check(context, status)
    status = state.verification(context.settings) or status
    st.markdown(verification_line(status))
    shown = status.shown
    if shown is None:
        st.info(
            "The first check is running: this page shows its result when it ends.",
            icon=":material/hourglass_top:",
        )
        return
    if shown.error is not None:
        st.error(f"The audit log could not be verified: {shown.error}", icon=":material/error:")
        return
    _signing(shown)
    if shown.ok:
        st.success(
            f"**Chain intact**: {shown.head_seq:,} records verified; every hash and link checks "
            "out.",
            icon=":material/verified:",
        )
    else:
        _failure(shown)
    _last_check(status)
    st.caption(
        f"Chain head: seq {shown.head_seq}, hash `{shown.head_hash}` — keep a copy elsewhere "
        "(a notification, a signed export) to prove later that the whole file was not rewritten."
    )


def _full_check(context: Context, status: Status) -> None:
    """The button for a full check: an operator's, since it re-reads every record."""
    busy = status.running_full
    clicked = st.button(
        "Verify every record now",
        key=FULL_KEY,
        disabled=not context.can_answer or busy,
        help="Re-reads the whole log from seq 1 (minutes on a large log).",
    )
    if not context.can_answer:
        st.caption(
            "Checks of the new records run on their own. A full check re-reads every record: "
            "log in as operator (sidebar) to start one."
        )
    elif (
        clicked
        and context.operator is not None
        and state.request_full_check(context.settings, context.operator)
    ):
        st.toast("Full check started: it runs in the background.")


def _signing(shown: Integrity) -> None:
    if shown.macs_checked:
        st.markdown(f"Signed log (key id `{shown.signed_by}`): MACs and checkpoints checked.")
    elif shown.signed_by is not None:
        st.warning(
            f"Signed log (key id `{shown.signed_by}`): set SIGNALOPS_AUDIT_KEY for the dashboard "
            "to check its MACs and checkpoints.",
            icon=":material/key:",
        )


def _failure(shown: Integrity) -> None:
    st.error(
        f"## Audit log FAILED verification\n\n{len(shown.problems):,} problem(s) "
        f"({kinds_text(shown)}): records were edited, deleted, inserted, forged or reordered "
        "after they were written, or the ledger or a strategy document disagrees with them. "
        "`signalops audit verify` shows the same.",
        icon=":material/gpp_bad:",
    )
    table(
        [
            {"problem": kind, "seq": seq, "record": ident or "", "what": message}
            for kind, seq, ident, message in shown.problems
        ],
        key="integrity.problems",
    )
    if not shown.full:
        st.caption("Found by a check of the new records; it stays shown until a full check passes.")


def _last_check(status: Status) -> None:
    last = status.last
    if last is None:
        return
    scope = "full check" if last.full else "new records"
    # The comparison of every ledger row with every paper fill is what a check of a few new
    # records would otherwise spend its time on: say when it was spared.
    ledger = "" if last.ledger_compared else " Ledger and fills unchanged: not compared again."
    st.caption(
        f"Last check ({scope}): {last.checked:,} records read in {last.seconds:.2f}s, "
        f"ended {when(last.finished_at)}.{ledger}"
    )
