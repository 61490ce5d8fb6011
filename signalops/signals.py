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


__all__ = ["STOP_SIGNALS", "handled"]
