"""The signed login token a dashboard login leaves in the browser's cookie
(``signalops.dashboard.sessions``): what it logs in, and everything that ends it."""

from __future__ import annotations

import re

import pytest

from signalops.dashboard.access import same_origin
from signalops.dashboard.accounts import MIN_ITERATIONS, hash_password
from signalops.dashboard.sessions import LIFETIME_SECONDS, Logins

REALM = "/desk/signalops.yaml"
HASH = hash_password("correct horse battery staple", iterations=MIN_ITERATIONS, salt=b"s" * 16)
NEW_HASH = hash_password("a new password, typed", iterations=MIN_ITERATIONS, salt=b"t" * 16)
# What a cookie value may hold without quoting (RFC 6265's cookie-octet, less what we never use).
COOKIE_SAFE = re.compile(r"[A-Za-z0-9._-]+")
ODD_NAMES = [
    "alice",
    "a.b.c",
    "semi;colon=equals",
    "quote\" and ' and \\",
    "new\nline\ttab",
    "émile",
    "名前",
    "👩‍💻 ops",
    "  spaces  ",
    "v1.YWxpY2U.1.x",
    "=",
    "x" * 500,
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def logins(clock: Clock) -> Logins:
    return Logins(clock=clock)


def test_a_token_logs_in_its_operator_until_it_expires_12_hours_later(logins: Logins, clock: Clock):
    operators = {"alice": HASH, "carol": HASH}
    token = logins.issue(REALM, operators, "alice")
    assert logins.operator(REALM, operators, token) == "alice"
    clock.now += LIFETIME_SECONDS - 1
    assert logins.operator(REALM, operators, token) == "alice"
    clock.now += 1
    assert logins.operator(REALM, operators, token) is None
    assert LIFETIME_SECONDS == 12 * 60 * 60


@pytest.mark.parametrize("name", ODD_NAMES)
def test_any_name_round_trips_and_the_token_is_cookie_safe(logins: Logins, name: str):
    operators = {name: HASH, "alice": HASH}
    token = logins.issue(REALM, operators, name)
    assert COOKIE_SAFE.fullmatch(token), token
    assert logins.operator(REALM, operators, token) == name


def test_every_altered_character_is_refused(logins: Logins):
    operators = {"alice": HASH, "alicf": HASH}
    token = logins.issue(REALM, operators, "alice")
    for i, char in enumerate(token):
        for other in {"A", "0", "_", "."} - {char}:
            altered = token[:i] + other + token[i + 1 :]
            assert logins.operator(REALM, operators, altered) is None, (i, altered)


def test_a_longer_expiry_or_another_name_under_the_same_mac_is_refused(logins: Logins):
    operators = {"alice": HASH, "carol": HASH}
    version, name, expiry, nonce, mac = logins.issue(REALM, operators, "alice").split(".")
    carol = logins.issue(REALM, operators, "carol").split(".")
    later = str(int(expiry) + 3600)
    assert logins.operator(REALM, operators, f"{version}.{name}.{later}.{nonce}.{mac}") is None
    assert logins.operator(REALM, operators, f"{version}.{carol[1]}.{expiry}.{nonce}.{mac}") is None
    assert logins.operator(REALM, operators, f"{version}.{name}.{expiry}.{carol[3]}.{mac}") is None


def test_two_logins_in_one_second_are_two_tokens_and_logging_one_out_keeps_the_other(
    logins: Logins,
):
    """Made of the name and the expiry second alone, they were one token: logging out one
    browser logged out the other, and a login again within the second was read-only."""
    operators = {"alice": HASH}
    phone, desk = (logins.issue(REALM, operators, "alice") for _ in range(2))
    assert phone != desk
    logins.revoke(REALM, operators, phone)
    assert logins.operator(REALM, operators, phone) is None
    assert logins.operator(REALM, operators, desk) == "alice"
    again = logins.issue(REALM, operators, "alice")
    assert logins.operator(REALM, operators, again) == "alice"


def test_a_new_password_or_a_removed_account_ends_the_login(logins: Logins):
    operators = {"alice": HASH, "carol": HASH}
    token = logins.issue(REALM, operators, "alice")
    assert logins.operator(REALM, {"alice": NEW_HASH, "carol": HASH}, token) is None
    assert logins.operator(REALM, {"carol": HASH}, token) is None
    assert logins.operator(REALM, {}, token) is None
    assert logins.operator(REALM, operators, token) == "alice"  # the same hash again: valid


def test_a_restart_or_another_config_ends_the_login(logins: Logins, clock: Clock):
    operators = {"alice": HASH}
    token = logins.issue(REALM, operators, "alice")
    assert Logins(clock=clock).operator(REALM, operators, token) is None  # a new secret
    assert logins.operator("/other/signalops.yaml", operators, token) is None


def test_logging_out_revokes_that_token_only_until_it_would_have_expired(
    logins: Logins, clock: Clock
):
    operators = {"alice": HASH}
    token = logins.issue(REALM, operators, "alice")
    clock.now += 1
    other_browser = logins.issue(REALM, operators, "alice")
    logins.revoke(REALM, operators, token)
    assert logins.operator(REALM, operators, token) is None
    assert logins.operator(REALM, operators, other_browser) == "alice"
    clock.now += LIFETIME_SECONDS
    logins.revoke(REALM, operators, None)  # nothing to revoke; the table is pruned
    assert logins._revoked == {}
    assert logins.operator(REALM, operators, token) is None  # expired by now


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "v1",
        "v1...",
        "v2.YWxpY2U.1700043200." + "A" * 43,
        "v1.YWxpY2U.1700043200." + "A" * 42,
        "v1.YWxpY2U.-1." + "A" * 43,
        "v1.Y.1700043200." + "A" * 43,  # not base64
        "v1.__8.1700043200." + "A" * 43,  # not UTF-8
        "v1.YWxpY2U=.1700043200." + "A" * 43,
        "v1." + "A" * 5000 + ".1700043200." + "A" * 43,
        "v1.YWxpY2U.1700043200." + "A" * 43 + "\n",
    ],
)
def test_garbage_is_refused_and_revoking_it_does_nothing(logins: Logins, token: str | None):
    operators = {"alice": HASH}
    assert logins.operator(REALM, operators, token) is None
    logins.revoke(REALM, operators, token)
    assert logins._revoked == {}


def test_the_secret_is_random_per_process_and_never_shown(clock: Clock):
    logins = Logins(clock=clock)
    assert logins.issue(REALM, {"alice": HASH}, "alice") != Logins(clock=clock).issue(
        REALM, {"alice": HASH}, "alice"
    )
    assert repr(logins) == "Logins(lifetime=43200)"


@pytest.mark.parametrize(
    ("origin", "host", "restored"),
    [
        ("http://127.0.0.1:8501", "127.0.0.1:8501", True),
        ("https://Desk.example:8443", "desk.example:8443", True),
        # A page on another port of the same machine: the browser sends it the cookie too.
        ("http://127.0.0.1:9999", "127.0.0.1:8501", False),
        ("http://localhost:3000", "localhost:8501", False),
        ("http://evil.example", "127.0.0.1:8501", False),
        (None, "127.0.0.1:8501", False),  # no browser opened it
        ("null", "127.0.0.1:8501", False),  # a sandboxed frame or a file: page
    ],
)
def test_only_the_dashboards_own_page_restores_a_login_from_the_cookie(
    origin: str | None, host: str, restored: bool
):
    """Streamlit takes a connection from any page served on the machine, and the cookie goes
    to every port of the host: a dev server's page could open a logged-in session."""
    headers = {"Host": host} if origin is None else {"Origin": origin, "Host": host}
    assert same_origin(headers) is restored
