"""One runner per SQLite log: ``signalops run`` holds ``<log>.lock`` while it runs.

Two runs on one log do not corrupt it (SQLite serialises their appends) but they decide against
one paper ledger at once: each sizes and sells from a book the other is changing, and the same
decision can reach the log twice. Every command defaults to ``./signalops.db``, so two runs in
one folder are enough. So a runner takes an exclusive ``flock`` on a lock file next to the log
and writes who it is into it; a second runner is refused at once with that holder's pid, host
and start time, or waits for it with ``--wait``.

Approvals (``approve``/``reject``, the dashboard, Telegram) do not take the lock: answering a
pending trade while the runner runs is the point of notify mode, and SQLite's write lock already
serialises those appends with the runner's.

The kernel drops a ``flock`` when its holder dies (SIGKILL included), so a stale lock file never
blocks anyone: its contents are only the last holder's name tag.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from signalops.errors import AuditLogHeld

LOCK_SUFFIX = ".lock"


def lock_path(log_path: Path) -> Path:
    """The lock file beside the log's real file: a log reached through a symlink (or another
    relative path) has the same lock as the file itself, so it cannot get a second runner."""
    real = Path(os.path.realpath(log_path))
    return real.with_name(real.name + LOCK_SUFFIX)


@contextmanager
def hold(log_path: Path, *, wait: bool = False, command: str = "signalops run") -> Iterator[None]:
    """Hold the log's runner lock for the block; ``AuditLogHeld`` at once unless ``wait``."""
    path = lock_path(log_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            message = f"{log_path}: {_holder(fd)}; wait for it to stop, or pass --wait"
            raise AuditLogHeld(message) from None
        _tag(fd, command)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _tag(fd: int, command: str) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    tag = {"pid": os.getpid(), "host": socket.gethostname(), "since": since, "command": command}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(tag).encode("utf-8"), 0)


def _holder(fd: int) -> str:
    try:
        tag = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"held by {tag['command']} (pid {tag['pid']} on {tag['host']}, since {tag['since']})"
    except (ValueError, KeyError, TypeError):
        return "held by another runner"
