"""What every page shares: the context of a run, the first-run message, the integrity banner."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import streamlit as st

from signalops.canonical import iso
from signalops.dashboard import state, tables
from signalops.dashboard.api import Settings
from signalops.dashboard.verification import Integrity, Status


@dataclass(frozen=True)
class Context:
    """One page run: the settings, the clock reading, the reader and who is logged in."""

    settings: Settings
    now: datetime
    reader: state.Reader | None
    operator: str | None

    @property
    def can_answer(self) -> bool:
        return self.operator is not None


def first_run(settings: Settings) -> None:
    """An empty or missing audit log: say what fills it, rather than show empty tables."""
    # A shared log is named on each run's command line, with that runner's id.
    shared = (
        ""
        if isinstance(settings.audit, Path)
        else f" \\\n    --audit '{settings.audit_name}' --runner ID"
    )
    st.info(
        f"**No decisions recorded yet** in `{settings.audit_name}`.\n\n"
        "The dashboard shows what `signalops run` records. To try it on the bundled real data:\n\n"
        "```\n"
        "signalops data import\n"
        "signalops run strategies/banking_crisis_dip.yaml --replay examples/replay \\\n"
        f"    --from 2023-03-01 --to 2023-03-31{shared}\n"
        "```\n\n"
        "Run a strategy with `--mode notify` to get trades waiting for your approval here. "
        "This page refreshes on its own."
    )


def recorded(context: Context) -> state.Reader | None:
    """The reader of a log with records in it; otherwise None, after the first-run message."""
    if context.reader is not None:
        with context.reader.use() as workspace:
            if tables.has_records(workspace.audit):
                return context.reader
    first_run(context.settings)
    return None


def clock_caption(context: Context) -> None:
    fixed = " (fixed clock)" if context.settings.fixed_now else ""
    st.caption(f"As of {iso(context.now)}{fixed} · audit log `{context.settings.audit_name}`")


def integrity_banner(settings: Settings) -> None:
    """On every page: a broken chain must not go unnoticed while someone approves trades.
    Never waits for a check: says one is running, with the last verified point."""
    status = state.verification(settings)
    if status is None:
        return
    shown = status.shown
    if shown is not None and not shown.ok and shown.error is None:
        st.error(
            f"**Audit log FAILED verification: {len(shown.problems):,} problem(s)** "
            f"({kinds_text(shown)}). "
            "Records were edited, deleted, inserted or forged — see Audit integrity. "
            "Do not trust what this log says until this is explained.",
            icon=":material/gpp_bad:",
        )
    st.caption(
        verification_line(status),
    )


def when(moment: datetime) -> str:
    """A check's wall-clock time, to the second (the page's clock may be fixed; checks run now)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def kinds_text(result: Integrity) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in result.by_kind().items())


def verification_line(status: Status) -> str:
    """One line: a check running (with the last verified point) or the last result."""
    verified = (
        f"last verified: seq {status.verified_seq} at {when(status.verified_at)}"
        if status.verified_seq is not None and status.verified_at is not None
        else "not verified yet"
    )
    if status.running:
        what = "full check" if status.running_full else "new records"
        return f"Audit log: verifying… ({what}; {verified})"
    shown = status.shown
    if shown is None:
        return f"Audit log: {verified}"
    if shown.error is not None:
        return f"Audit log: could not be verified ({shown.error})"
    if not shown.ok:
        return f"Audit log: FAILED verification at {when(shown.finished_at)} ({verified})"
    return f"Audit log: verified, chain intact to seq {shown.head_seq} at {when(shown.finished_at)}"


# Status words get the colours the terminal gives them (rich styles in explain/why/cli).
_GREEN, _RED, _AMBER, _BLUE, _MAGENTA = "#1a7f37", "#cf222e", "#9a6700", "#0969da", "#8250df"
_STATUS_COLOURS = {
    word: f"color: {colour}; font-weight: 600"
    for words, colour in (
        (("PASS", "FILLED", "BUY", "SUBMITTED", "APPROVED"), _GREEN),
        (("FAIL", "BLOCKS", "DENIED", "REJECTED", "FAILED", "SELL"), _RED),
        (("UNKNOWN", "EXPIRED", "PENDING_APPROVAL"), _AMBER),
        (("HOLD",), _BLUE),
        (("BLOCKED",), _MAGENTA),
    )
    for word in words
}
_STATUS_COLUMNS = ("status", "result", "state", "expires in", "verdict", "outcome")


def _styled(rows: Sequence[dict[str, Any]]) -> Any:
    frame = pd.DataFrame(list(rows))
    columns = [c for c in _STATUS_COLUMNS if c in frame.columns]
    if columns and not frame.empty:
        return frame.style.map(lambda v: _STATUS_COLOURS.get(str(v), ""), subset=columns)
    return frame


def table(
    rows: Sequence[dict[str, Any]], *, key: str, height: Literal["auto", "content"] = "auto"
) -> None:
    """A read-only table in a keyed container (tests and the browser find it by that key);
    ``height="content"``: every row in view, for short tables read as a whole."""
    with st.container(key=key):
        st.dataframe(_styled(rows), hide_index=True, height=height)


def picking_table(
    rows: Sequence[dict[str, Any]], ids: Sequence[str], *, key: str, selected_key: str
) -> None:
    """A table whose rows open what they show: a click on a row sets
    ``st.session_state[selected_key]`` to that row's id (the page's selectbox of the same
    key shows it, and the page opens it). The open row stays highlighted.

    The grid's own key names the rows it shows (and how often the selectbox moved): when a
    refresh brings new rows, or the selectbox picks another one, a new grid starts with the
    open row selected, so the highlight never points at a row that moved. A click is read
    against the ids of the rows as they were shown (bound when the grid was drawn).
    """
    shown = tuple(ids)
    chosen = st.session_state.get(selected_key)
    moves = st.session_state.get(_moves_key(selected_key), 0)
    digest = hashlib.blake2b("\n".join(shown).encode(), digest_size=6).hexdigest()
    opened = [shown.index(chosen)] if chosen in shown else []
    grid = f"{key}.grid.{digest}.{moves}"
    with st.container(key=key):
        st.dataframe(
            _styled(rows),
            hide_index=True,
            key=grid,
            on_select=partial(_clicked, grid, shown, selected_key),
            selection_mode=["single-row-required", "single-cell"],
            selection_default={"selection": {"rows": opened}},
        )


def picked_elsewhere(selected_key: str) -> None:
    """``on_change`` of the selectbox beside a ``picking_table``: the grid starts again with
    the new choice highlighted."""
    name = _moves_key(selected_key)
    st.session_state[name] = st.session_state.get(name, 0) + 1


def _moves_key(selected_key: str) -> str:
    return f"{selected_key}.moves"


def _clicked(grid_key: str, shown: tuple[str, ...], selected_key: str) -> None:
    """A click on a row's box or on any of its cells: open that row, and select the row (a
    click on a cell selects only the cell) so the highlight is on the open one."""
    selection = st.session_state[grid_key]["selection"]
    cells = selection.get("cells") or []
    rows = selection.get("rows") or []
    row = cells[0][0] if cells else (rows[0] if rows else None)
    if row is None or not 0 <= row < len(shown):
        return
    st.session_state[selected_key] = shown[row]
    st.session_state[grid_key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
