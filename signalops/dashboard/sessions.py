"""Logins that survive a reload: a signed token the browser keeps in a cookie.

No Streamlit here. A login (a right password through the ``LoginGuard``) issues a token::

    v1.<operator name, base64url>.<expiry, Unix seconds>.<nonce>.<HMAC-SHA256, base64url>

The HMAC is over the set of accounts (the config file), the name, the expiry, a random nonce
(two logins in one second are two tokens: logging one out leaves the other) and the operator's
stored password hash, keyed with a random secret this process made at start
(``secrets.token_bytes``) and keeps only in memory. So a token:

- cannot be made or altered without the secret (compared in constant time);
- ends at its expiry (``LIFETIME_SECONDS``, 12 hours: a morning login lasts the trading day on
  a phone, and a phone lost or left unlocked holds a login for 12 hours at most);
- ends when the account is removed from the config or its password hash changes (a new
  password logs out every browser);
- ends when the operator logs out (``Logins.revoke``: kept until the token would have expired);
- ends for everyone when the dashboard restarts (a new secret): each operator logs in again.

The name is base64url-encoded, so any character a config's name holds (dots, semicolons,
quotes, newlines, any script) stays out of the token's and the cookie's syntax. A token is no
password: nothing in it gives the password, and it is only ever checked, never turned into a
login attempt (a bad or expired one is ignored: not counted by the guard, nothing logged).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

COOKIE = "signalops_session"
LIFETIME_SECONDS = 12 * 60 * 60
_VERSION = "v1"
_SECRET_BYTES = 32
_MAX_TOKEN = 4096  # what a browser keeps in one cookie: longer is not one of ours
_NONCE_BYTES = 12
_TOKEN = re.compile(
    r"v1\.([A-Za-z0-9_-]*)\.([0-9]{1,12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{43})"
)


@dataclass(frozen=True)
class _Signed:
    name: str
    expiry: int  # Unix seconds
    mac: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Logins:
    """Issues and checks login tokens with one secret; shared by every session (thread-safe)."""

    def __init__(
        self,
        secret: bytes | None = None,
        *,
        clock: Callable[[], float] = time.time,
        lifetime: int = LIFETIME_SECONDS,
    ) -> None:
        self._secret = secrets.token_bytes(_SECRET_BYTES) if secret is None else secret
        self.clock = clock
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._revoked: dict[str, int] = {}  # a logged-out token's MAC -> its expiry

    def __repr__(self) -> str:  # never the secret
        return f"Logins(lifetime={self.lifetime})"

    def issue(self, realm: str, operators: Mapping[str, str], name: str) -> str:
        """A token for ``name``, who just logged in to the accounts ``realm`` names."""
        encoded = _b64(name.encode("utf-8"))
        expiry = int(self.clock()) + self.lifetime
        nonce = _b64(secrets.token_bytes(_NONCE_BYTES))
        mac = self._mac(realm, encoded, expiry, nonce, operators[name])
        return f"{_VERSION}.{encoded}.{expiry}.{nonce}.{mac}"

    def operator(self, realm: str, operators: Mapping[str, str], token: str | None) -> str | None:
        """The operator ``token`` logs in, or None: malformed, altered, expired, logged out,
        or for an account that is gone or whose password changed."""
        signed = self._signed(realm, operators, token)
        if signed is None:
            return None
        with self._lock:
            if signed.mac in self._revoked:
                return None
        return signed.name

    def revoke(self, realm: str, operators: Mapping[str, str], token: str | None) -> None:
        """Log ``token`` out for good, in every tab that holds it (the browser may still
        send it: a reload right after logging out must not log back in). Only a token that
        still logs in is kept, and only until it would have expired."""
        signed = self._signed(realm, operators, token)
        now = self.clock()
        with self._lock:
            for mac in [m for m, until in self._revoked.items() if until <= now]:
                del self._revoked[mac]
            if signed is not None:
                self._revoked[signed.mac] = signed.expiry

    def _signed(
        self, realm: str, operators: Mapping[str, str], token: str | None
    ) -> _Signed | None:
        """What ``token`` says, if this process signed it, for this account as it is now, and
        it has not expired (logging out is the caller's to check)."""
        found = (
            _TOKEN.fullmatch(token) if isinstance(token, str) and len(token) <= _MAX_TOKEN else None
        )
        if found is None:
            return None
        encoded, expiry_text, nonce, given = found.groups()
        try:
            name = _unb64(encoded).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        stored = operators.get(name)
        expiry = int(expiry_text)
        # A name without an account is checked against "": no MAC over a config's hash
        # matches it, and a missing account costs what a present one does.
        expected = self._mac(realm, encoded, expiry, nonce, stored if stored is not None else "")
        if not hmac.compare_digest(given, expected) or stored is None:
            return None
        if self.clock() >= expiry:
            return None
        return _Signed(name, expiry, given)

    def _mac(
        self, realm: str, encoded_name: str, expiry: int, nonce: str, password_hash: str
    ) -> str:
        # Every field before the hash is base64url or digits (no "."), so the message reads
        # one way only.
        message = ".".join(
            (_VERSION, _b64(realm.encode("utf-8")), encoded_name, str(expiry), nonce, password_hash)
        )
        return _b64(hmac.new(self._secret, message.encode("utf-8"), hashlib.sha256).digest())


_logins: Logins | None = None
_logins_lock = threading.Lock()


def logins() -> Logins:
    """This process's tokens: one secret, made at the first use, gone at exit."""
    global _logins
    with _logins_lock:
        if _logins is None:
            _logins = Logins()
        return _logins
