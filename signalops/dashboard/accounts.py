"""Operator accounts: hashed passwords, and a guard against guessing them.

No Streamlit here. Each operator has an account in the config file, under a name that is
recorded with every answer they give::

    dashboard:
      operators:
        alice: {password_hash: "pbkdf2_sha256$600000$<salt, base64>$<hash, base64>"}

``signalops dashboard hash-password`` makes the hash (PBKDF2-HMAC-SHA256, a random 16-byte salt;
the file holds no password). A login is checked in constant time, and an unknown name costs as
much as a known one, so timing tells nothing about which names exist.

``LoginGuard`` slows and stops guessing: after each failure, the operator name and the client
(the browser session) must wait longer before their next attempt (1 s, 2 s, 4 s, ... up to a
cap); ``max_failures`` failures for one name within ``window`` lock that account (a correct
password is refused too). The first lockout is short (``lockout``, 1 min: a trader who mistypes
on a phone still answers an approval that waits 15 min) and each one after it doubles, up to
``max_lockout`` (1 h), until the name logs in or has gone ``lockout_memory`` (a day) without a
lockout: a guesser gets 5 tries per lockout, so 5 an hour from the seventh on. Every failure
is logged (logger ``signalops.dashboard``) with the name tried, never the password. Its clock
is injectable, so tests advance time instead of sleeping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger("signalops.dashboard")

SCHEME = "pbkdf2_sha256"
MIN_ITERATIONS = 200_000
DEFAULT_ITERATIONS = 600_000  # OWASP's 2023 figure for PBKDF2-HMAC-SHA256
MIN_PASSWORD_LENGTH = 8
_SALT_BYTES = 16
# Checked against when the name is unknown, so that a miss costs what a hit costs.
_DUMMY = f"{SCHEME}${DEFAULT_ITERATIONS}${'A' * 22}==${'A' * 43}="
_MAX_NAME_SHOWN = 64
_MAX_TRACKED = 10_000  # failure histories kept (names and clients), oldest dropped first


@dataclass(frozen=True)
class PasswordHash:
    iterations: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> PasswordHash:
        """``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``; ValueError says what is wrong."""
        parts = text.split("$")
        if len(parts) != 4 or parts[0] != SCHEME:
            raise ValueError(f"not a {SCHEME}$<iterations>$<salt>$<hash> password hash")
        if not parts[1].isdigit():
            raise ValueError("the iteration count is not a number")
        try:
            salt = base64.b64decode(parts[2], validate=True)
            digest = base64.b64decode(parts[3], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the salt or the hash is not base64") from None
        if not salt or len(digest) != hashlib.sha256().digest_size:
            raise ValueError("the salt is empty or the hash is not 32 bytes")
        return cls(int(parts[1]), salt, digest)

    def matches(self, password: str) -> bool:
        given = _derive(password, self.salt, self.iterations)
        return hmac.compare_digest(given, self.digest)

    def __str__(self) -> str:
        salt, digest = (base64.b64encode(b).decode("ascii") for b in (self.salt, self.digest))
        return f"{SCHEME}${self.iterations}${salt}${digest}"


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def hash_password(
    password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None
) -> str:
    """The text for ``password_hash:`` in the config."""
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"at least {MIN_ITERATIONS:,} iterations")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    return str(PasswordHash(iterations, salt, _derive(password, salt, iterations)))


def hash_problem(text: str) -> str | None:
    """What is wrong with a configured hash, or None (for the config check)."""
    try:
        parsed = PasswordHash.parse(text)
    except ValueError as exc:
        return str(exc)
    if parsed.iterations < MIN_ITERATIONS:
        return f"{parsed.iterations:,} iterations is below the minimum of {MIN_ITERATIONS:,}"
    return None


def check_password(operators: Mapping[str, str], name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; as slow for an unknown name as for a known one."""
    stored = operators.get(name)
    try:
        hashed = PasswordHash.parse(stored if stored is not None else _DUMMY)
    except ValueError:  # the config check refuses these; never a way in
        return False
    return hashed.matches(password) and stored is not None


class Outcome(StrEnum):
    OK = "OK"
    WRONG = "WRONG"  # wrong name or password: counted
    THROTTLED = "THROTTLED"  # too soon after a failure: not checked, not counted
    LOCKED = "LOCKED"  # the account is locked: not checked


@dataclass(frozen=True)
class Attempt:
    outcome: Outcome
    wait_seconds: float = 0.0  # THROTTLED/LOCKED: how long until the next attempt may be made

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int = 5  # failures of one name within ``window`` that lock it
    window: float = 15 * 60.0
    lockout: float = 60.0  # the first lockout of a name; doubles with each one after
    max_lockout: float = 60 * 60.0
    # A name's lockouts are forgotten at its next login, or this long after the last one ends.
    lockout_memory: float = 24 * 60 * 60.0
    first_delay: float = 1.0  # after the first failure; doubles with each one after
    max_delay: float = 30.0

    def lockout_for(self, strikes: int) -> float:
        """How long a name's ``strikes``-th lockout in a row lasts (1 for the first)."""
        return min(self.lockout * 2 ** (strikes - 1), self.max_lockout)


@dataclass(frozen=True)
class _Lockout:
    until: float
    strikes: int  # this name's lockouts in a row, this one included


class LoginGuard:
    """Throttling and lockout for one set of accounts; shared by every session (thread-safe)."""

    def __init__(
        self, policy: LoginPolicy = LoginPolicy(), clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.policy = policy
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[float]] = {}  # ("name"|"client", key) -> times
        # name -> its last lockout, kept after it ends for the next one's length
        self._locked: dict[str, _Lockout] = {}

    def attempt(
        self, operators: Mapping[str, str], name: str, password: str, *, client: str
    ) -> Attempt:
        """Check one login (the password is only looked at when the guard lets it through)."""
        shown = shown_name(name)
        with self._lock:
            refused = self._refusal(name, client)
        if refused is not None:
            log.warning(
                "login refused for operator %s from client %s: %s (next attempt in %.0fs)",
                shown, client, refused.outcome.value.lower(), refused.wait_seconds,
            )  # fmt: skip
            return refused
        if check_password(operators, name, password):  # outside the lock: it takes a while
            with self._lock:
                self._failures.pop(("name", name), None)
                self._locked.pop(name, None)  # the next lockout is a first one again
            log.info("operator %s logged in (client %s)", shown, client)
            return Attempt(Outcome.OK)
        with self._lock:
            count = self._fail(name, client)
            lockout = self._lock_out(name) if count >= self.policy.max_failures else None
        log.warning(
            "login failed for operator %s from client %s (%d failure(s) in %.0f min)",
            shown, client, count, self.policy.window / 60,
        )  # fmt: skip
        if lockout is not None:
            seconds = self.policy.lockout_for(lockout.strikes)
            log.warning(
                "operator %s locked out for %.0f min after %d failed logins (lockout %d in a row)",
                shown, seconds / 60, count, lockout.strikes,
            )  # fmt: skip
            return Attempt(Outcome.LOCKED, seconds)
        return Attempt(Outcome.WRONG)

    def _refusal(self, name: str, client: str) -> Attempt | None:
        now = self.clock()
        lockout = self._locked.get(name)
        if lockout is not None and now < lockout.until:
            return Attempt(Outcome.LOCKED, lockout.until - now)
        wait = max(self._wait(("name", name), now), self._wait(("client", client), now))
        return Attempt(Outcome.THROTTLED, wait) if wait > 0 else None

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, ()) if now - t < self.policy.window]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def _wait(self, key: tuple[str, str], now: float) -> float:
        times = self._recent(key, now)
        if not times:
            return 0.0
        delay = min(self.policy.first_delay * 2 ** (len(times) - 1), self.policy.max_delay)
        return max(0.0, times[-1] + delay - now)

    def _fail(self, name: str, client: str) -> int:
        now = self.clock()
        for key in (("name", name), ("client", client)):
            times = self._recent(key, now)
            self._failures[key] = [*times, now]
        count = len(self._failures[("name", name)])
        while len(self._failures) > _MAX_TRACKED:  # a flood of made-up names stays bounded
            del self._failures[next(iter(self._failures))]
        return count

    def _lock_out(self, name: str) -> _Lockout:
        """With the lock held: lock ``name`` for one lockout longer than its last, unless that
        one is forgotten. Its failures so far are spent: after the lockout it has
        ``max_failures`` tries again."""
        now = self.clock()
        memory = self.policy.lockout_memory
        # Lockouts long forgotten go (made-up names included), so the table stays small.
        for other in [n for n, old in self._locked.items() if now - old.until >= memory]:
            del self._locked[other]
        last = self._locked.get(name)
        strikes = 1 if last is None else last.strikes + 1
        lockout = _Lockout(now + self.policy.lockout_for(strikes), strikes)
        self._locked[name] = lockout
        self._failures.pop(("name", name), None)
        return lockout


def shown_name(name: str) -> str:
    """The name tried, safe for a log line (quoted, no newlines, bounded)."""
    clipped = name if len(name) <= _MAX_NAME_SHOWN else name[:_MAX_NAME_SHOWN] + "…"
    return repr(clipped)


_guards: dict[str, LoginGuard] = {}
_guards_lock = threading.Lock()


def guard_for(accounts_source: str) -> LoginGuard:
    """The process's guard of one set of accounts (named by its config file): every session
    shares it, so opening a new tab does not reset an operator name's failures."""
    with _guards_lock:
        found = _guards.get(accounts_source)
        if found is None:
            found = _guards[accounts_source] = LoginGuard()
        return found


def install_guard(accounts_source: str, guard: LoginGuard) -> None:
    """Use ``guard`` for these accounts (tests give one with a clock they move)."""
    with _guards_lock:
        _guards[accounts_source] = guard
