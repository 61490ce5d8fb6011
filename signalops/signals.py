"""Signal handlers set for a block and put back after it.

Python runs handlers in the main thread only, and only there may they be set: elsewhere the
block runs as it was. A handler found set outside Python (``signal.getsignal`` gives None)
cannot be put back as it was; the default takes its place.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

# Ctrl-C, `kill` (a service manager's or `timeout`'s stop) and a closed terminal.
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)

Handler = Callable[[int, FrameType | None], Any] | int


@contextmanager
def handled(signals: Iterable[int], handler: Handler) -> Iterator[None]:
    """``handler`` for each of ``signals`` in the block; the handlers before it after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in signals}
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, signal.SIG_DFL if before is None else before)


# The stops whose ``KeyboardInterrupt`` a finalizer dropped (``note_dropped``): process-wide, as
# signals are. Python drops an exception raised in a weakref's callback or a ``__del__``, and a
# run's objects are freed together (thousands of callbacks), so under load a Ctrl-C can land
# there: the block goes on as if nothing had been pressed, unless it asks (``raise_dropped``).
_DROPPED: list[int] = []


def note_dropped(signum: int) -> None:
    """A stop's ``KeyboardInterrupt`` was dropped in a finalizer: ``raise_dropped`` raises it."""
    _DROPPED.append(signum)


def raise_dropped() -> None:
    """``KeyboardInterrupt`` for a stop a finalizer dropped since the last call (none: nothing).
    Asked where a block would otherwise go on to what cannot be undone (publishing a folder)."""
    if _DROPPED:
        _DROPPED.clear()
        raise KeyboardInterrupt


def forget_dropped() -> None:
    """Forget the stops noted: the block that kept them ended (by an error, say)."""
    _DROPPED.clear()


__all__ = ["STOP_SIGNALS", "forget_dropped", "handled", "note_dropped", "raise_dropped"]
