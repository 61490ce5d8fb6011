"""Who may approve: each operator logs in with their own account (``dashboard.operators`` in the
config; ``signalops.dashboard.accounts``).

Without accounts nobody can approve or reject and the dashboard says so. The name recorded with
an answer is the account that logged in: there is no other field to type it in. Attempts go
through the process's ``LoginGuard`` (growing delays per name and per browser session, a
lockout after repeated failures, longer each time, a log line for each failure). The password
is never kept in the session; only the operator's name is.
"""

from __future__ import annotations

import uuid

import streamlit as st

from signalops.dashboard.accounts import Outcome, guard_for
from signalops.dashboard.api import Settings
from signalops.textmatch import spelled

OPERATOR_KEY = "access.operator"
CLIENT_KEY = "access.client"


def operator(settings: Settings) -> str | None:
    """The logged-in operator's name; None when read-only (also if the account was removed
    from the config after logging in: the config is the authority, not the session)."""
    name = st.session_state.get(OPERATOR_KEY)
    return name if name in settings.operators else None


def _client() -> str:
    """This browser session, for throttling (the dashboard listens on loopback only, so the
    address would be the same for everyone)."""
    if CLIENT_KEY not in st.session_state:
        st.session_state[CLIENT_KEY] = uuid.uuid4().hex[:12]
    return str(st.session_state[CLIENT_KEY])


def sidebar(settings: Settings) -> str | None:
    """The login box (or the read-only notice) in the sidebar; returns the operator."""
    st.subheader("Operator")
    if not settings.can_write:
        st.info(
            "Read-only: no operator accounts in the config (dashboard.operators). "
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
        _log_in(settings, given_name.strip(), password)
    return None


def _log_in(settings: Settings, name: str, password: str) -> None:
    if not name:
        st.error("Enter your operator name.")
        return
    # As the config spells it: a phone's keyboard writes "Alice" for alice (and a lockout
    # counts both spellings as one name).
    name = spelled(name, settings.operators)
    guard = guard_for(settings.accounts_source)
    attempt = guard.attempt(settings.operators, name, password, client=_client())
    if attempt.ok:
        st.session_state[OPERATOR_KEY] = name
        st.rerun()
    elif attempt.outcome is Outcome.LOCKED:
        st.error(
            f"Too many failed logins for {name}: locked for {_duration(attempt.wait_seconds)}."
        )
    elif attempt.outcome is Outcome.THROTTLED:
        st.error(f"Too many failed logins: wait {_duration(attempt.wait_seconds)} and try again.")
    else:
        st.error("Wrong operator name or password.")


def _duration(seconds: float) -> str:
    whole = max(1, round(seconds))
    return f"{whole}s" if whole < 60 else f"{-(-whole // 60)} min"
