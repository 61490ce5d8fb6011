"""What makes the log unforgeable: a MAC on every record, and signed checkpoints kept elsewhere.

The hash chain shows that records were not changed *by accident*; anyone who can write the file
can also append a correctly chained record, re-seal everything after an edit, or cut the tail
and move the chain head. A secret closes that gap, in the spirit of Certificate Transparency's
signed tree heads:

- **Record MACs.** With ``SIGNALOPS_AUDIT_KEY`` set, every record appended gets
  ``HMAC-SHA256(key, "record:<seq>:<hash>")`` in the ``seals`` table (append-only, like
  ``records``). A forged append, or an edit re-sealed after the fact, has no valid MAC without
  the key: ``verify`` reports it as FORGED.
- **Checkpoints.** A MAC'd ``(seq, hash, at)`` of the chain head is appended to a file *outside*
  the log, ``<log>.checkpoints`` (JSON Lines, fsynced), at most once a second while a writer
  appends and whenever it closes, and POSTed to ``SIGNALOPS_AUDIT_WITNESS_URL`` when that is set
  (a witness on another machine that the attacker cannot rewrite; a failed post is logged, never
  fatal). Cutting the tail of the log (and rewriting its head) leaves a
  checkpoint that names a record which is no longer there: TRUNCATED. Replacing the records a
  checkpoint names: REWRITTEN. Keep a copy of the file (or its last line) somewhere else too;
  ``audit verify`` prints the head to make that easy.

The key never enters the log, a record or a message: only its id (a MAC of a fixed text) does, so
a log written under one key refuses appends under another. A crash can lose at most the last
second's checkpoint: those records are still covered by their MACs, only a truncation of exactly
them would go unseen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from signalops.errors import InputError

if TYPE_CHECKING:
    import httpx

KEY_ENV = "SIGNALOPS_AUDIT_KEY"
WITNESS_ENV = "SIGNALOPS_AUDIT_WITNESS_URL"  # optional: where each checkpoint is also posted
MIN_KEY_LENGTH = 32
CHECKPOINT_SUFFIX = ".checkpoints"


@dataclass(frozen=True)
class SigningKey:
    """The secret (never printed: ``repr`` shows the id only) and its public id."""

    secret: bytes
    id: str

    def __repr__(self) -> str:
        return f"SigningKey(id={self.id!r})"

    @classmethod
    def from_secret(cls, secret: str | bytes) -> SigningKey:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if len(raw) < MIN_KEY_LENGTH:
            raise InputError(
                f"{KEY_ENV} is too short: use at least {MIN_KEY_LENGTH} random characters "
                '(e.g. python -c "import secrets; print(secrets.token_hex(32))")'
            )
        return cls(raw, _mac(raw, "signalops-audit-key-id")[:16])

    def record_mac(self, seq: int, hash: str) -> str:
        return _mac(self.secret, f"record:{seq}:{hash}")

    def checkpoint_mac(self, seq: int, hash: str, at: str) -> str:
        return _mac(self.secret, f"checkpoint:{seq}:{hash}:{at}")


def key_from_env(env: Mapping[str, str] | None = None) -> SigningKey | None:
    """The key in ``SIGNALOPS_AUDIT_KEY``, or None when it is unset or empty."""
    value = (os.environ if env is None else env).get(KEY_ENV, "")
    return SigningKey.from_secret(value) if value else None


def _mac(secret: bytes, text: str) -> str:
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def mac_matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement "the log ended at ``seq`` with ``hash``", made at ``at``."""

    seq: int
    hash: str
    at: str
    key_id: str
    mac: str

    @classmethod
    def make(cls, key: SigningKey, seq: int, hash: str, at: str) -> Checkpoint:
        return cls(seq, hash, at, key.id, key.checkpoint_mac(seq, hash, at))

    def valid_under(self, key: SigningKey) -> bool:
        return self.key_id == key.id and mac_matches(
            key.checkpoint_mac(self.seq, self.hash, self.at), self.mac
        )

    def line(self) -> str:
        fields = {"seq": self.seq, "hash": self.hash, "at": self.at, "key": self.key_id}
        return json.dumps({**fields, "mac": self.mac}, separators=(",", ":")) + "\n"


def post_checkpoint(
    url: str, checkpoint: Checkpoint, *, transport: httpx.BaseTransport | None = None
) -> str | None:
    """POST the checkpoint line as JSON to ``url`` (a witness outside this machine); returns
    why it failed, or None. Never raises: a witness that is down must not stop trading, and
    the file on disk keeps the checkpoint either way."""
    import httpx  # only runs with a witness configured; read commands never pay for the import

    try:
        with httpx.Client(transport=transport, timeout=5.0) as client:
            response = client.post(
                url,
                content=checkpoint.line().encode("utf-8"),
                headers={"Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    return None if response.status_code < 400 else f"HTTP {response.status_code}"


def checkpoint_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + CHECKPOINT_SUFFIX)


def write_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Append one line and make it durable before the writer goes on."""
    with open(path, "a", encoding="utf-8") as file:
        file.write(checkpoint.line())
        file.flush()
        os.fsync(file.fileno())


def read_checkpoints(path: Path) -> Iterator[tuple[int, Checkpoint | None]]:
    """``(line number, checkpoint)`` for each line; None for a line that is not one."""
    if not path.exists():
        return
    with open(path, encoding="utf-8", errors="replace") as file:
        for number, line in enumerate(file, 1):
            if line.strip():
                yield number, _parse(line)


def _parse(line: str) -> Checkpoint | None:
    try:
        data = json.loads(line)
        checkpoint = Checkpoint(
            int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["key"]), str(data["mac"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    return checkpoint
