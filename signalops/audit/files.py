"""The files of a SQLite audit log, and how a new log gets its name only once it is whole.

A log is the database file, its WAL and shared-memory files while open, and its signed
checkpoints (``signalops.audit.signing``). Commands that write a whole log at once (a backtest,
``audit copy``) write it as ``<name>.partial`` and ``publish`` it when every record is committed
and the file closed (SQLite has then folded its WAL into the file): one killed half way leaves
the ``.partial`` file, which no command reads as the log, and never a log that is part of one.
"""

from __future__ import annotations

import os
from pathlib import Path

from signalops.audit.signing import CHECKPOINT_SUFFIX, checkpoint_path

PARTIAL = ".partial"  # a log's name while it is written


def files_of(path: Path) -> tuple[Path, ...]:
    """The database, its WAL and shared-memory files, and its signed checkpoints (if any)."""
    return (
        path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
        checkpoint_path(path),
    )


def file_of_log(path: Path, target: str | Path, *, descriptor: int | None = None) -> Path | None:
    """The file of the log at ``path`` (itself, its WAL, shared memory, checkpoints or runner
    lock) that ``target`` is, by name, symlink or hard link; with ``descriptor``, the one that
    open file is (stdout redirected into the log). None when it is none of them: writing
    onto one would destroy the log."""
    from signalops.audit.runner_lock import lock_path

    for file in (*files_of(path), lock_path(path)):
        try:
            if descriptor is not None:
                if os.path.samestat(os.fstat(descriptor), os.stat(file)):
                    return file
            elif os.path.realpath(target) == os.path.realpath(file) or os.path.samefile(
                target, file
            ):
                return file
        except (OSError, ValueError):  # either is not there (or no such descriptor)
            continue
    return None


def partial_of(path: Path) -> Path:
    return path.with_name(path.name + PARTIAL)


def remove(path: Path) -> None:
    """The log at ``path`` and every file of it, if there."""
    for file in files_of(path):
        file.unlink(missing_ok=True)


def publish(writing: Path, target: Path) -> None:
    """Give the finished (closed) log at ``writing`` the name ``target``, with its files."""
    for stale in files_of(target)[1:3]:  # the old log's WAL would replay onto the new file
        stale.unlink(missing_ok=True)
    for source, destination in zip(files_of(writing), files_of(target), strict=True):
        if source.exists():
            source.replace(destination)
        elif destination.name.endswith(CHECKPOINT_SUFFIX):
            destination.unlink(missing_ok=True)  # a previous run's, of another log


__all__ = ["PARTIAL", "files_of", "partial_of", "publish", "remove"]
