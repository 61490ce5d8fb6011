"""``signalops run`` as a real process, for the crash and shutdown tests.

The process is the real CLI (``python -m signalops run``) with the slow test plugin
(``tests/fixtures/slow_feed_plugin``: a dist-info folder declaring a ``signalops.adapters``
entry point) on its ``PYTHONPATH``, so that each cycle waits on a slow third-party source and
can be interrupted in the middle. Its stdout is read line by line on a thread, so that a test
can wait for "the N-th cycle finished" with a deadline instead of blocking forever.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PLUGIN_DIR = FIXTURES / "slow_feed_plugin"
SLOW_STRATEGY = FIXTURES / "slow_feed_pipeline.yaml"
STRATEGY_NAME = "Slow_Feed_Pipeline"
ASSETS = ("BTC", "ETH")


def run_args(replay_dir: Path, audit: Path, start: str, end: str) -> list[str]:
    # -q: ETH has no hourly candles, so every cycle also logs a data-errors WARNING on stderr;
    # errors only, so that an empty stderr still means the run did not crash on its own.
    return [
        sys.executable,
        "-m",
        "signalops",
        "-q",
        "run",
        str(SLOW_STRATEGY),
        "--replay",
        str(replay_dir),
        "--from",
        start,
        "--to",
        end,
        "--every",
        "1h",
        "--audit",
        str(audit),
    ]


def plugin_env(delay: float) -> dict[str, str]:
    """The environment of a run: the plugin installed, ``delay`` seconds per slow fetch."""
    env = {k: v for k, v in os.environ.items() if k != "SIGNALOPS_AUDIT"}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PLUGIN_DIR), os.environ.get("PYTHONPATH")) if p
    )
    env["SLOW_FEED_DELAY"] = str(delay)
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written into tests/fixtures
    return env


class RunProcess:
    """A running ``signalops run``: stdout lines as they come, stderr in a file."""

    def __init__(self, args: Sequence[str], *, cwd: Path, delay: float) -> None:
        self.stderr_path = cwd / f"stderr-{time.monotonic_ns()}.txt"
        self._stderr = self.stderr_path.open("w")
        # cwd: a folder without signalops.yaml, so the built-in config applies.
        self.proc = subprocess.Popen(
            list(args),
            cwd=cwd,
            env=plugin_env(delay),
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def next_line(self, timeout: float) -> str | None:
        """The next stdout line; None once the process closed its stdout."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"no output for {timeout}s; so far: {self.lines}\n{self.stderr()}"
            ) from None
        if line is not None:
            self.lines.append(line)
        return line

    def wait_for_lines(self, count: int, timeout: float) -> None:
        """Block until ``count`` lines have been printed (the run must not end before)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            line = self.next_line(max(0.0, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(
                    f"the run ended after {len(self.lines)} lines, before {count}: "
                    f"{self.lines}\n{self.stderr()}"
                )

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float) -> int:
        """Wait for the exit; every remaining stdout line is read into ``lines``."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"still running after {timeout}s: {self.lines}") from None
        self._reader.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        self._stderr.close()
        return code

    def stop(self) -> None:
        """Kill the process if it still runs (test teardown)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if hasattr(signal, "SIGKILL") else signal.SIGTERM)
            self.proc.wait(timeout=10)
        if not self._stderr.closed:
            self._stderr.close()

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text()

    def cycle_lines(self) -> list[str]:
        """Summary lines: one per finished cycle (``<as_of>  N decisions: ...``, ``1 decision``)."""
        return [line for line in self.lines if " decisions: " in line or " decision: " in line]
