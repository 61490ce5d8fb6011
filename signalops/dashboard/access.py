"""Who may approve: the operator logs in with the password from the environment.

Without ``SIGNALOPS_DASHBOARD_PASSWORD`` nobody can approve or reject and the dashboard says
so. The password is checked in constant time (``Settings.password_ok``) and never kept in the
session; only the operator's name is, because it is recorded with every answer.
"""

from __future__ import annotations

import streamlit as st

from signalops.dashboard.api import PASSWORD_ENV, Settings

OPERATOR_KEY = "access.operator"


def operator(settings: Settings) -> str | None:
    """The logged-in operator's name; None when read-only (also if the password was unset
    after logging in: the environment is the authority, not the session)."""
    if not settings.can_write:
        return None
    return st.session_state.get(OPERATOR_KEY)


def sidebar(settings: Settings) -> str | None:
    """The login box (or the read-only notice) in the sidebar; returns the operator."""
    st.subheader("Operator")
    if not settings.can_write:
        st.info(
            f"Read-only: no operator password is set ({PASSWORD_ENV}). "
            "Approving and rejecting are disabled."
        )
        return None
    name = operator(settings)
    if name:
        st.success(f"Logged in as **{name}**: you can approve and reject.")
        if st.button("Log out", key="access.logout"):
            del st.session_state[OPERATOR_KEY]
            st.rerun()
        return name
    st.warning("Read-only until you log in.")
    with st.form("access.login", clear_on_submit=True):
        given_name = st.text_input("Operator name", key="access.name")
        password = st.text_input("Password", type="password", key="access.password")
        submitted = st.form_submit_button("Log in", key="access.submit")
    if submitted:
        if not given_name.strip():
            st.error("Enter your name: it is recorded with every approval.")
        elif settings.password_ok(password):
            st.session_state[OPERATOR_KEY] = given_name.strip()
            st.rerun()
        else:
            st.error("Wrong password.")
    return None
