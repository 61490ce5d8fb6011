"""Who may approve: each operator logs in with their own account (``dashboard.operators`` in the
config; ``signalops.dashboard.accounts``).

Without accounts nobody can approve or reject and the dashboard says so. The name recorded with
an answer is the account that logged in: there is no other field to type it in. Attempts go
through the process's ``LoginGuard`` (growing delays per name and per browser session, a
lockout after repeated failures, longer each time, a log line for each failure).

A login lasts 12 hours in that browser, reloads included (a phone's pull-to-refresh, a tab the
phone restores): it issues a signed token (``signalops.dashboard.sessions``) that the page writes
into a cookie (``signalops_session``: path /, SameSite=Strict, Secure over https, Max-Age the
token's lifetime), and a new session (a reload, a new tab) reads it from ``st.context.cookies``
once, at its start, when the page that opened it is the dashboard's own (``same_origin``: the
cookie reaches every port of the host). Restoring a login so is not a login attempt: the guard
never sees it, and a token that is expired, altered, logged out or for an account whose password
changed or that is gone is ignored (read-only, the login box). Every page run checks the session's
token again, so those also end a login already open in a tab. Logging out revokes the token in the
process (in every tab, even if the browser still sends the cookie) and clears the cookie;
restarting the dashboard ends every login.

The session keeps the token, never the secret that signs it; the password is checked, and is in
no token, cookie, page or log line, and out of the session state as soon as the form that
carried it is submitted (checked from the value that run read). The token is on the page only
inside the script that sets the cookie, which removes itself once run.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from urllib.parse import urlsplit

import streamlit as st

from signalops.dashboard import sessions
from signalops.dashboard.accounts import Outcome, guard_for, shown_name
from signalops.dashboard.api import Settings
from signalops.textmatch import spelled

log = logging.getLogger("signalops.dashboard")

TOKEN_KEY = "access.token"
CLIENT_KEY = "access.client"
RESUMED_KEY = "access.resumed"  # this session has looked at its cookie (read once, at its start)
COOKIE_KEY = "access.cookie"  # the cookie change the next page run makes in the browser
PASSWORD_KEY = "access.password"  # the login form's field: out of the session once read
_COOKIE_BOX = "access-cookie"
# The script that writes the cookie shows nothing: its box takes no room in the sidebar
# (Streamlit spaces every element, even an empty one).
_HIDE_COOKIE_BOX = (
    f"<style>[data-testid=stLayoutWrapper]:has(> .st-key-{_COOKIE_BOX}) "
    "{ display: none; }</style>"
)


def operator(settings: Settings) -> str | None:
    """The logged-in operator's name; None when read-only. The session's token is checked on
    every run: an account removed from the config or given a new password, a logout in
    another tab, or a login past its lifetime is read-only at once (the config is the
    authority, not the session)."""
    token = st.session_state.get(TOKEN_KEY)
    return sessions.logins().operator(settings.accounts_source, settings.operators, token)


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
    _resume(settings)
    _write_cookie()
    name = operator(settings)
    if name:
        st.success(f"Logged in as **{name}**: you can approve and reject.")
        if st.button("Log out", key="access.logout"):
            _log_out(settings)
            st.rerun()
        return name
    st.warning("Read-only until you log in.")
    with st.form("access.login", clear_on_submit=True):
        given_name = st.text_input("Operator name", key="access.name")
        password = st.text_input("Password", type="password", key=PASSWORD_KEY)
        submitted = st.form_submit_button("Log in", key="access.submit")
    if submitted:
        _forget_password()
        _log_in(settings, given_name.strip(), password)
    return None


def _forget_password() -> None:
    """Take the typed password out of the session state, where the form's field would keep
    it until the next rerun (a failed login makes none, so it stayed there while the page
    sat idle): the attempt is checked from the value this run read, which nothing keeps."""
    if PASSWORD_KEY in st.session_state:
        del st.session_state[PASSWORD_KEY]


def _resume(settings: Settings) -> None:
    """A new session (a reload, a new tab) picks up the login its browser's cookie holds.
    Not a login attempt: a token that does not check out is ignored, and the guard never
    hears of it."""
    if st.session_state.get(RESUMED_KEY):
        return
    st.session_state[RESUMED_KEY] = True
    if not same_origin(st.context.headers):
        return
    token = st.context.cookies.get(sessions.COOKIE)
    name = sessions.logins().operator(settings.accounts_source, settings.operators, token)
    if name is not None:
        st.session_state[TOKEN_KEY] = token
        log.info("operator %s resumed a login (client %s)", shown_name(name), _client())


def same_origin(headers: Mapping[str, str]) -> bool:
    """Whether the page that opened this session is the dashboard's own: its ``Origin`` is the
    host and port the connection was made to (``Host``). A browser sends a cookie to every port
    of its host, and Streamlit takes connections from any page served on this machine (a dev
    server, a notebook on another port): such a page must not open a session the cookie logs
    in. A connection without an ``Origin`` (no browser made it) restores nothing either."""
    origin, host = headers.get("Origin"), headers.get("Host")
    if not origin or not host:
        return False
    return urlsplit(origin).netloc.lower() == host.lower()


def _write_cookie() -> None:
    """Make the cookie change a login or logout asked for, once, in the browser."""
    st.html(_HIDE_COOKIE_BOX)
    with st.container(key=_COOKIE_BOX):
        script = st.session_state.pop(COOKIE_KEY, None)
        if script:
            st.html(script, unsafe_allow_javascript=True)


def _cookie_script(value: str, max_age: int) -> str:
    """A script that sets the login cookie, then takes itself (and the token) off the page.
    ``value`` is a token or empty: base64url, digits and dots, nothing to escape in a cookie."""
    cookie = f"{sessions.COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Strict"
    return (
        f"<script>document.cookie = {json.dumps(cookie)}"
        ' + (location.protocol === "https:" ? "; Secure" : "");'
        " document.currentScript.remove();</script>"
    )


def _log_out(settings: Settings) -> None:
    """Revoke the token (any tab or reload presenting it is read-only) and clear the cookie."""
    token = st.session_state.pop(TOKEN_KEY, None)
    sessions.logins().revoke(settings.accounts_source, settings.operators, token)
    st.session_state[COOKIE_KEY] = _cookie_script("", 0)


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
        logins = sessions.logins()
        token = logins.issue(settings.accounts_source, settings.operators, name)
        st.session_state[TOKEN_KEY] = token
        st.session_state[COOKIE_KEY] = _cookie_script(token, logins.lifetime)
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
