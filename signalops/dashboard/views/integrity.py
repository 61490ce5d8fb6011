"""Audit integrity: the hash-chain verification, loud when it fails."""

from __future__ import annotations

import streamlit as st

from signalops.dashboard import state
from signalops.dashboard.views.common import Context, first_run, table


def render(context: Context) -> None:
    st.header("Audit integrity")
    st.caption(f"Audit log `{context.settings.audit}`")
    force = st.button("Verify now", key="integrity.verify")
    result = state.integrity(context.settings, force=force)
    if result is None or result.checked == 0:
        first_run(context.settings)
        return
    if result.ok:
        st.success(
            f"**Chain intact**: {result.checked} records verified; every hash and link checks out."
        )
    else:
        st.error(
            f"## Audit log FAILED verification\n\n{len(result.problems)} problem(s) in "
            f"{result.checked} records: records were edited, deleted, inserted or reordered "
            "after they were written. `signalops audit verify` shows the same."
        )
        table(
            [
                {"problem": kind, "seq": seq, "record": ident or "", "what": message}
                for kind, seq, ident, message in result.problems
            ],
            key="integrity.problems",
        )
    st.caption(
        f"Chain head: seq {result.head_seq}, hash `{result.head_hash}` — keep a copy elsewhere "
        "(a notification, a signed export) to prove later that the whole file was not rewritten."
    )
