"""A report folder published whole: a run writes into a staging folder beside it, and its
entries are moved in together at the end, under a lock, so that the folder never holds parts
of two runs (an interrupted one, or two writing at once)."""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from signalops.audit.files import publish, remove
from signalops.errors import InputError
from signalops.signals import STOP_SIGNALS, handled, raise_dropped


@contextmanager
def staged(folder: Path, *, replaces: Iterable[str] = ()) -> Iterator[Path]:
    """A new empty folder beside ``folder`` (``.<name>.<pid>-<random>.staging``) to write a
    report into, published into ``folder`` when the block ends.

    Publishing moves each of its entries into ``folder`` in place of the one of that name (an
    audit log with its files; a folder whole) and removes the entries named in ``replaces``
    that this run did not make, all while holding a lock on the parent folder: two runs into
    one folder publish one after the other, the last one's files are the folder's. Entries of
    other names (another command's report in a subfolder) are left as they are. When the block
    raises (an error, Ctrl-C) the staging folder is removed, and ``folder`` is as it was.

    Ctrl-C is held back while the files move (``_held_interrupts``): one pressed then comes too
    late to stop anything, and is dropped.
    """
    given, folder = folder, Path(os.path.realpath(folder))  # beside the real one: its disk
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{given} is a file, not a folder for the report")
    missing = [parent for parent in folder.parents if not parent.exists()]
    staging = _staging_folder(folder, given)
    try:
        yield staging
        raise_dropped()  # a Ctrl-C a finalizer dropped in the block: not published
    except BaseException:
        with _held_interrupts():
            shutil.rmtree(staging, ignore_errors=True)
            for parent in missing:  # deepest first: the folders made for it, if still empty
                with suppress(OSError):
                    parent.rmdir()
        raise
    with _held_interrupts(), _locked(folder.parent):
        try:
            _move_entries(staging, folder, tuple(replaces))
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _staging_folder(folder: Path, given: Path) -> Path:
    """A new staging folder beside ``folder``, after removing those of runs no longer alive (a
    run killed outright leaves its own). A path that cannot be made is the CLI's to name (the
    part of ``given`` to fix), never the staging folder's hidden name."""
    given.parent.mkdir(parents=True, exist_ok=True)  # as given: an error names its part
    _remove_abandoned(folder)
    try:
        return Path(
            tempfile.mkdtemp(
                prefix=f".{folder.name}.{os.getpid()}-", suffix=".staging", dir=folder.parent
            )
        )
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise  # the CLI's "disk full"
        raise OSError(exc.errno, exc.strerror, str(given)) from None


def _remove_abandoned(folder: Path) -> None:
    """Remove ``.<name>.<pid>-*.staging`` folders beside ``folder`` whose process is gone."""
    for staging in folder.parent.glob(f".{folder.name}.*-*.staging"):
        pid = staging.name.removeprefix(f".{folder.name}.").partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(staging, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _move_entries(staging: Path, folder: Path, replaces: tuple[str, ...]) -> None:
    """``staging``'s entries into ``folder``; what they replace goes into ``staging`` (removed
    with it). An empty folder is nothing written (an asset whose backtest failed): it replaces
    nothing."""
    folder.mkdir(exist_ok=True)
    for entry in staging.iterdir():
        if entry.is_dir() and not any(entry.iterdir()):
            entry.rmdir()
    made = {entry.name for entry in staging.iterdir()}
    replaced = staging / ".replaced"
    replaced.mkdir()
    for log in sorted(staging.glob("*.db")):
        publish(log, folder / log.name)  # its WAL and checkpoint too; the old log's are removed
    for entry in sorted(staging.iterdir()):
        if entry != replaced:
            _replace(entry, folder / entry.name, replaced)
    for name in replaces:
        target = folder / name
        if name not in made and (target.exists() or target.is_symlink()):
            if target.suffix == ".db":
                remove(target)
            else:
                _replace(None, target, replaced)


def _replace(entry: Path | None, target: Path, replaced: Path) -> None:
    """``target`` becomes ``entry`` (None: goes); a folder is moved aside first, whole."""
    if target.is_dir() and not target.is_symlink():
        target.rename(replaced / target.name)
    elif entry is None:
        target.unlink(missing_ok=True)
    if entry is not None:
        entry.replace(target)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` for the block (released when its holder dies)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _held_interrupts() -> AbstractContextManager[None]:
    """Ctrl-C (and SIGTERM, SIGHUP) does not stop the block: files are moved or removed whole.
    A handler not set from Python (None) is left as it is."""
    held = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not None]
    return handled(held, signal.SIG_IGN)


__all__ = ["staged"]
