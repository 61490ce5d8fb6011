"""Strategies: each file in the strategies folder, whether it loads, and its compiled tree."""

from __future__ import annotations

import streamlit as st

from signalops.dashboard import documents
from signalops.dashboard.views.common import Context, table


def render(context: Context) -> None:
    st.header("Strategies")
    folder = context.settings.strategies
    st.caption(f"Files in `{folder}`, loaded as `signalops validate` loads them")
    if not folder.is_dir():
        st.info(
            f"No strategies folder at `{folder}`. Start the dashboard with "
            "`signalops dashboard --strategies DIR`."
        )
        return
    found = documents.strategy_files(folder)
    if not found:
        st.info(f"No strategy files (*.yaml, *.yml) in `{folder}`.")
        return
    invalid = sum(not f.ok for f in found)
    if invalid:
        st.error(
            f"{invalid} of {len(found)} strategy files do not load: see below.",
            icon=":material/error:",
        )
    else:
        st.success(f"All {len(found)} strategy files are valid.", icon=":material/check_circle:")
    table(
        [
            {
                "file": str(f.path),
                "strategy": f.name or "",
                "status": "valid" if f.ok else f"INVALID ({len(f.errors)} errors)",
                "tree": f.summary,
            }
            for f in found
        ],
        key="strategies.table",
    )
    for item in found:
        # Streamlit's own icons: emoji render as boxes where the system has no emoji font.
        title = f"{item.path}" + (f" — {item.name}" if item.name else "")
        icon = ":material/check_circle:" if item.ok else ":material/error:"
        with st.expander(title, expanded=not item.ok, icon=icon):
            if item.ok:
                st.code(item.header + "\n\n" + item.tree, language=None)
                continue
            for error, excerpt in zip(item.errors, item.excerpts, strict=True):
                st.error(error)
                if excerpt:
                    st.code(excerpt, language=None)
