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

A run checks the file between cycles without reading it whole each time (it grows a line a
cycle: 200,000 lines took 2 s a check): ``CheckpointReading`` goes on from where an earlier
reading ended when this process can vouch that nothing but appends changed the file since. The
file's identity, size, mtime and ctime (``FileMark``) are taken after the earlier reading and
before and after each of this process's own appends (``write_checkpoint``); an unbroken run of
marks from that reading to the file as it is now (``_custody``) means that only this process
wrote it since, and only at its end. Anything else (another process's append, an edit, a cut,
a file put in its place, one that changed while it was read) breaks the run, and the next
reading reads the whole file again. ctime cannot be set by a process, and a write moves it: an
edit goes unseen only when it lands within the same instant as one of this process's own
appends (a few microseconds; on a file system whose timestamps are coarse, within that tick).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

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
    """Append one line and make it durable before the writer goes on.

    The file's marks before and after are kept (``_custody``): a reading of the file that
    ended before this append can go on from there (``CheckpointReading``), when the file was
    as that reading left it before the append and the append alone changed it."""
    line = checkpoint.line().encode("utf-8")
    with open(path, "ab") as file:
        descriptor = file.fileno()
        before = FileMark.of(descriptor)
        file.write(line)
        file.flush()
        written = FileMark.of(descriptor)
        os.fsync(descriptor)
        after = FileMark.of(descriptor)
    alone = after == written and after.size == before.size + len(line)
    _appended(before, after if alone else None)


@dataclass(frozen=True)
class FileMark:
    """What ``fstat`` says of a file that any write changes: which file it is, its size, and
    when its bytes (mtime) and its inode (ctime, which no process can set) last changed."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, descriptor: int) -> FileMark:
        stat = os.fstat(descriptor)
        return cls(stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@dataclass(frozen=True)
class Tail:
    """Where a reading of a checkpoint file ended: the file as it was then (``mark``), the
    bytes of the whole lines it read (``offset``) and how many lines they are (``lines``), and
    the run of this process's appends it belongs to (``custody``)."""

    mark: FileMark
    offset: int
    lines: int
    custody: int


# Per file (device, inode): its mark after the last reading or append of this process, and the
# run of marks that one belongs to: an append made onto the file as that mark left it goes on
# with the same run; any other change starts another (or drops the file), see the module doc.
_custody: dict[tuple[int, int], tuple[FileMark, int]] = {}
_custody_lock = threading.Lock()
_runs = itertools.count(1)


def _appended(before: FileMark, after: FileMark | None) -> None:
    """This process appended a line onto the file as ``before`` left it, and ``after`` is the
    file right after (None: something else wrote it meanwhile)."""
    file = (before.device, before.inode)
    with _custody_lock:
        kept = _custody.get(file)
        if after is None:
            _custody.pop(file, None)
        elif kept is not None and kept[0] == before:
            _custody[file] = (after, kept[1])
        else:
            _custody[file] = (after, next(_runs))


def _read_as(mark: FileMark) -> int:
    """A reading saw the whole file as ``mark`` says: the run of marks it goes on from."""
    file = (mark.device, mark.inode)
    with _custody_lock:
        kept = _custody.get(file)
        if kept is not None and kept[0] == mark:
            return kept[1]
        run = next(_runs)
        _custody[file] = (mark, run)
        return run


def _only_appended(tail: Tail, now: FileMark) -> bool:
    """Whether the file as ``now`` says is the one ``tail`` read with nothing but this
    process's appends after it (unchanged, or the same run of marks up to ``now``)."""
    if (now.device, now.inode) != (tail.mark.device, tail.mark.inode) or now.size < tail.offset:
        return False
    if now == tail.mark:
        return True
    with _custody_lock:
        return _custody.get((now.device, now.inode)) == (now, tail.custody)


class CheckpointReading:
    """One reading of a checkpoint file: ``(line number, checkpoint)`` for each line that
    ``since`` did not read (every line, numbered from 1, blank ones skipped, when ``since`` is
    None or the file changed otherwise than by this process's appends since: ``whole`` then
    says so), and, once read, where the next reading may start (``tail``; None when the file is
    missing or changed while it was read: the next reading reads it whole).

    A last line without its newline (an append under way in another process) is read but not
    counted in ``tail``: the next reading reads it again."""

    def __init__(self, path: Path, since: Tail | None = None) -> None:
        self.path = path
        self.since = since
        self.whole = True
        self.tail: Tail | None = None

    def __iter__(self) -> Iterator[tuple[int, Checkpoint | None]]:
        file = _open_if_there(self.path)
        if file is None:
            return
        with file:
            descriptor = file.fileno()
            first = FileMark.of(descriptor)
            since = self.since
            offset = lines = number = 0
            if since is not None and _only_appended(since, first):
                self.whole = False
                offset = since.offset
                lines = number = since.lines
                file.seek(offset)
            for raw in file:
                # As a text file reads it (UTF-8, bad bytes replaced, any newline a newline):
                # a newline byte is never part of another character.
                text = raw.decode("utf-8", errors="replace")
                for line in io.StringIO(text, newline=None) if "\r" in text else (text,):
                    number += 1
                    if line.strip():
                        yield number, _parse(line)
                if raw.endswith(b"\n"):
                    offset, lines = offset + len(raw), number
            last = FileMark.of(descriptor)
        if last == first:
            self.tail = Tail(last, offset, lines, _read_as(last))


def _parse(line: str) -> Checkpoint | None:
    try:
        data = json.loads(line)
        checkpoint = Checkpoint(
            int(data["seq"]), str(data["hash"]), str(data["at"]), str(data["key"]), str(data["mac"])
        )
    except (ValueError, KeyError, TypeError):
        return None
    return checkpoint


def _open_if_there(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None
